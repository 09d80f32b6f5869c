//! Tenants over a real TCP socket: three SPs (two routed by path, one by host) from a
//! directory of description files, one test IdP, shared in-memory stores. A login at
//! tenant A completes only at A; A's session cookie is worthless at B; A's Response at
//! B's ACS is refused; reload adds, changes and removes tenants; a broken file keeps the
//! others serving; each tenant writes its own audit stream.
#![cfg(all(feature = "tenants", feature = "axum", feature = "test-idp"))]

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::routing::get;
use axum::{Extension, Router};
use base64::Engine as _;
use common::{enc, form, keypair, Reply};
use spid_sp::audit::{AuditLog, MemoryAuditLog};
use spid_sp::axum::{Session, SpidAuth, SpidTenants};
use spid_sp::metadata::IdentityProvider;
use spid_sp::store::{MemorySessionStore, SessionStore};
use spid_sp::tenants::{ServedTenant, TenantTable};
use spid_sp::test_idp::{ResponseSpec, TestIdp};
use spid_sp::{FixedClock, IdpSet, SpidLevel};

const IDP: &str = "https://idp.tenants.test";

type Audits = Arc<Mutex<HashMap<String, Arc<MemoryAuditLog>>>>;

struct Harness {
    addr: SocketAddr,
    base: String,
    port: u16,
    dir: PathBuf,
    idp: TestIdp,
    now: spid_sp::Timestamp,
    table: TenantTable,
    sessions: Arc<MemorySessionStore>,
    audits: Audits,
}

/// A fresh directory under target/ (removed when the harness is dropped).
fn scratch_dir() -> PathBuf {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("tenants-flow-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

impl Drop for Harness {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The description of a path-routed tenant `id` (under `/t/<id>`).
fn path_tenant(base: &str, id: &str, name: &str, own_key: bool) -> String {
    let key = if own_key {
        let data = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/keys");
        format!("key_file = \"{data}/sp.key.pem\"\ncertificate_file = \"{data}/sp.crt.pem\"\n")
    } else {
        String::new()
    };
    format!(
        r#"entity_id = "{base}/t/{id}"
{key}assertion_consumer_services = ["{base}/t/{id}/spid/acs"]
single_logout_services = [{{ binding = "redirect", url = "{base}/t/{id}/spid/slo" }}]
attribute_services = [{{ index = 0, name = "Servizi", attributes = ["fiscalNumber", "name", "familyName"] }}]

[metadata]
profile = "spid-sp-public"
organization = {{ name = "{name}", display_name = "{name}", url = "https://www.example.it" }}
contact = {{ email = "spid@example.it", phone = "+390543712111", ipa_code = "c_d704" }}

[tenant]
path = "/t/{id}"
"#
    )
}

/// The description of a host-routed tenant at `host`.
fn host_tenant(host: &str, port: u16) -> String {
    let base = format!("http://{host}:{port}");
    format!(
        r#"entity_id = "{base}/spid"
assertion_consumer_services = ["{base}/spid/acs"]
single_logout_services = [{{ binding = "post", url = "{base}/spid/slo" }}]
attribute_services = [{{ index = 0, name = "Servizi", attributes = ["fiscalNumber"] }}]

[metadata]
profile = "spid-sp-public"
organization = {{ name = "Liceo", display_name = "Liceo", url = "https://www.example.it" }}
contact = {{ email = "spid@example.it", phone = "+390543712111", ipa_code = "istsc_x" }}

[tenant]
route = "host"
"#
    )
}

async fn start() -> Harness {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let base = format!("http://{addr}");
    let dir = scratch_dir();
    std::fs::write(
        dir.join("comune.toml"),
        path_tenant(&base, "comune", "Comune", false),
    )
    .unwrap();
    std::fs::write(
        dir.join("azienda.toml"),
        path_tenant(&base, "azienda", "Azienda", true),
    )
    .unwrap();
    std::fs::write(
        dir.join("scuola.toml"),
        host_tenant("scuola.localhost", addr.port()),
    )
    .unwrap();
    let now = common::now();
    let idp = TestIdp::new(IDP, keypair("idp", 2048));
    let idps = IdpSet::new(IdentityProvider::from_metadata(&idp.metadata(IDP)).unwrap()).unwrap();
    let sessions = Arc::new(MemorySessionStore::default());
    let audits: Audits = Arc::default();
    let a = audits.clone();
    let (table, report) = TenantTable::builder()
        .directory(&dir)
        .idps(idps)
        .shared_key(keypair("aggregator", 2048))
        .session_store(sessions.clone())
        .clock(Arc::new(FixedClock(now)))
        .audit(move |id| {
            let log = Arc::new(MemoryAuditLog::default());
            a.lock().unwrap().insert(id.to_string(), log.clone());
            Ok(log as Arc<dyn AuditLog>)
        })
        .build();
    assert!(report.errors().is_empty(), "{:?}", report.errors());
    assert_eq!(report.added().len(), 3);

    let tenants = SpidTenants::builder(table.clone())
        .each(|b, t: &ServedTenant| {
            let home = match t.route() {
                spid_sp::tenants::TenantRoute::Path(p) => p.clone(),
                spid_sp::tenants::TenantRoute::Host(_) => String::new(),
            };
            b.secure_cookies(false)
                .login_page(format!("{home}/"))
                .after_login(format!("{home}/me"))
        })
        .build();
    async fn me(session: Session, Extension(t): Extension<Arc<ServedTenant>>) -> String {
        format!(
            "{} cf={}",
            t.id(),
            session.identity().fiscal_code().unwrap().as_str()
        )
    }
    async fn who(Extension(auth): Extension<SpidAuth>) -> String {
        auth.tenant().unwrap_or("-").to_owned()
    }
    let app = tenants.attach(
        Router::new()
            .route("/me", get(me))
            .route("/t/{tenant}/me", get(me))
            .route("/t/{tenant}/who", get(who))
            .merge(tenants.routes()),
    );
    let app = app.into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Harness {
        addr,
        base,
        port: addr.port(),
        dir,
        idp,
        now,
        table,
        sessions,
        audits,
    }
}

impl Harness {
    /// A request with this `Host` (default: the address), cookies and form.
    async fn send(
        &self,
        method: &str,
        host: Option<&str>,
        path: &str,
        cookies: &[(&str, &str)],
        form: Option<&str>,
    ) -> Reply {
        let mut text = format!(
            "{method} {path} HTTP/1.0\r\nHost: {}\r\n",
            host.map_or_else(|| self.addr.to_string(), str::to_owned)
        );
        if !cookies.is_empty() {
            let c: Vec<String> = cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
            text.push_str(&format!("Cookie: {}\r\n", c.join("; ")));
        }
        if let Some(body) = form {
            text.push_str(&format!(
                "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
                body.len()
            ));
        }
        text.push_str("\r\n");
        text.push_str(form.unwrap_or_default());
        let addr = self.addr;
        let raw = tokio::task::spawn_blocking(move || {
            use std::io::{Read, Write};
            let mut s = std::net::TcpStream::connect(addr).unwrap();
            s.write_all(text.as_bytes()).unwrap();
            let mut raw = Vec::new();
            s.read_to_end(&mut raw).unwrap();
            raw
        })
        .await
        .unwrap();
        Reply::parse(raw)
    }

    async fn get(&self, path: &str, cookies: &[(&str, &str)]) -> Reply {
        self.send("GET", None, path, cookies, None).await
    }

    /// Starts a login at the tenant whose endpoints are at `prefix` (on `host`): the
    /// request ID, the RelayState and the browser cookie (its name and value).
    async fn begin(&self, host: Option<&str>, prefix: &str) -> (String, String, String) {
        let r = self
            .send(
                "GET",
                host,
                &format!("{prefix}/login?idp={}", enc(IDP)),
                &[],
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let xml = String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(r.form_field("SAMLRequest").unwrap())
                .unwrap(),
        )
        .unwrap();
        let id = common::attr_value(&xml, " ID=\"").unwrap();
        let browser = r
            .cookies()
            .into_iter()
            .find(|(k, _)| k.starts_with("spid_browser"))
            .unwrap();
        (id, r.form_field("RelayState").unwrap(), browser.1)
    }

    /// A signed Response to request `id` for the SP `entity_id` at `acs`.
    fn response(&self, id: &str, acs: &str, entity_id: &str) -> String {
        let spec = ResponseSpec::new(id, acs, entity_id, SpidLevel::L2, self.now)
            .attribute("fiscalNumber", "TINIT-RSSMRA80A01H501U")
            .attribute("name", "Mario")
            .attribute("familyName", "Rossi");
        base64::engine::general_purpose::STANDARD.encode(self.idp.response(&spec).unwrap())
    }

    /// A full login at path tenant `t`: the session cookie value.
    async fn login(&self, t: &str) -> String {
        let prefix = format!("/t/{t}/spid");
        let (id, relay, browser) = self.begin(None, &prefix).await;
        let acs = format!("{}{prefix}/acs", self.base);
        let entity = format!("{}/t/{t}", self.base);
        let f = form(&[
            ("SAMLResponse", &self.response(&id, &acs, &entity)),
            ("RelayState", &relay),
        ]);
        let r = self
            .send("POST", None, &format!("{prefix}/acs"), &[], Some(&f))
            .await;
        assert_eq!(r.status, 303, "{}", r.body);
        let next = r.header("location").unwrap().to_owned();
        assert!(
            next.starts_with(&format!("{prefix}/complete?handoff=")),
            "{next}"
        );
        let r = self
            .get(&next, &[(&format!("spid_browser-{t}"), &browser)])
            .await;
        assert_eq!(r.status, 303, "{}", r.body);
        assert_eq!(r.header("location"), Some(format!("/t/{t}/me").as_str()));
        r.cookie(&format!("spid_session-{t}")).unwrap()
    }
}

fn sha256_hex(s: &str) -> String {
    openssl::sha::sha256(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test]
async fn a_login_at_a_completes_only_at_a() {
    let h = start().await;
    let session = h.login("comune").await;
    let r = h
        .get("/t/comune/me", &[("spid_session-comune", &session)])
        .await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (200, "comune cf=RSSMRA80A01H501U")
    );

    // A hand-off of A taken to B's /complete, with B's browser cookie set to A's value.
    let (id, relay, browser) = h.begin(None, "/t/comune/spid").await;
    let acs = format!("{}/t/comune/spid/acs", h.base);
    let f = form(&[
        (
            "SAMLResponse",
            &h.response(&id, &acs, &format!("{}/t/comune", h.base)),
        ),
        ("RelayState", &relay),
    ]);
    let r = h
        .send("POST", None, "/t/comune/spid/acs", &[], Some(&f))
        .await;
    assert_eq!(r.status, 303);
    let next = r.header("location").unwrap().to_owned();
    let at_b = next.replace("/t/comune/", "/t/azienda/");
    let r = h.get(&at_b, &[("spid_browser-azienda", &browser)]).await;
    assert_eq!(r.status, 403, "B knows nothing of A's hand-off: {}", r.body);
    assert!(r.cookie("spid_session-azienda").is_none());
    // ...and it was not burnt: A completes it.
    let r = h.get(&next, &[("spid_browser-comune", &browser)]).await;
    assert_eq!(r.status, 303, "{}", r.body);
}

#[tokio::test]
async fn a_session_cookie_of_a_is_worthless_at_b() {
    let h = start().await;
    let session = h.login("comune").await;
    // A's token under B's cookie name, and under A's name at B: no session at B.
    for name in ["spid_session-azienda", "spid_session-comune"] {
        let r = h.get("/t/azienda/me", &[(name, &session)]).await;
        assert_eq!(r.status, 303, "{name}: {}", r.body);
        assert!(r
            .header("location")
            .unwrap()
            .starts_with("/t/azienda/?next="));
    }
    // At the host-routed tenant too.
    let r = h
        .send(
            "GET",
            Some("scuola.localhost"),
            "/me",
            &[("spid_session-scuola", &session)],
            None,
        )
        .await;
    assert_eq!(r.status, 303);

    // Second lock: even with the record copied into B's namespace (a store shared without
    // namespaces), the record names tenant A and B refuses it.
    let hash = sha256_hex(&session);
    let now = h.now;
    let record = h
        .sessions
        .get(&format!("t/comune/sess:{hash}"), now)
        .unwrap()
        .expect("A's session is in A's namespace");
    assert!(record.contains("\"tenant\":\"comune\""), "{record}");
    h.sessions
        .put(
            &format!("t/azienda/sess:{hash}"),
            &record,
            now.plus_seconds(3600),
            now,
        )
        .unwrap();
    let r = h
        .get("/t/azienda/me", &[("spid_session-azienda", &session)])
        .await;
    assert_eq!(r.status, 303, "the copied record is not a session at B");
    // A's session still works at A.
    let r = h
        .get("/t/comune/me", &[("spid_session-comune", &session)])
        .await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn a_response_for_a_posted_to_b_is_refused() {
    let h = start().await;
    let (id, relay, _) = h.begin(None, "/t/comune/spid").await;
    let acs_a = format!("{}/t/comune/spid/acs", h.base);
    let entity_a = format!("{}/t/comune", h.base);
    let f = form(&[
        ("SAMLResponse", &h.response(&id, &acs_a, &entity_a)),
        ("RelayState", &relay),
    ]);
    // B's pending store (namespaced) knows nothing of A's request.
    let r = h
        .send("POST", None, "/t/azienda/spid/acs", &[], Some(&f))
        .await;
    assert!((400..500).contains(&r.status), "{} {}", r.status, r.body);
    // The host-routed tenant neither.
    let r = h
        .send("POST", Some("scuola.localhost"), "/spid/acs", &[], Some(&f))
        .await;
    assert!((400..500).contains(&r.status), "{} {}", r.status, r.body);
    // A's pending login was not consumed: A still completes.
    let r = h
        .send("POST", None, "/t/comune/spid/acs", &[], Some(&f))
        .await;
    assert_eq!(r.status, 303, "{}", r.body);

    // A Response made for A (audience, destination) answering a request of B: B refuses.
    let (id_b, relay_b, _) = h.begin(None, "/t/azienda/spid").await;
    let f = form(&[
        ("SAMLResponse", &h.response(&id_b, &acs_a, &entity_a)),
        ("RelayState", &relay_b),
    ]);
    let r = h
        .send("POST", None, "/t/azienda/spid/acs", &[], Some(&f))
        .await;
    assert!((400..500).contains(&r.status), "{} {}", r.status, r.body);
}

#[tokio::test]
async fn routing_by_host_and_path_and_plain_404s() {
    let h = start().await;
    let r = h.get("/t/comune/spid/metadata", &[]).await;
    assert_eq!(r.status, 200);
    assert!(
        r.body
            .contains(&format!("entityID=\"{}/t/comune\"", h.base)),
        "{}",
        r.body
    );
    assert!(r.body.contains("<ds:Signature"), "signed");
    let r = h
        .send(
            "GET",
            Some(&format!("scuola.localhost:{}", h.port)),
            "/spid/metadata",
            &[],
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains(&format!(
        "entityID=\"http://scuola.localhost:{}/spid\"",
        h.port
    )));
    // A login at the host-routed tenant.
    let (id, relay, browser) = h.begin(Some("scuola.localhost"), "/spid").await;
    let base = format!("http://scuola.localhost:{}", h.port);
    let f = form(&[
        (
            "SAMLResponse",
            &h.response(&id, &format!("{base}/spid/acs"), &format!("{base}/spid")),
        ),
        ("RelayState", &relay),
    ]);
    let r = h
        .send("POST", Some("scuola.localhost"), "/spid/acs", &[], Some(&f))
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let next = r.header("location").unwrap().to_owned();
    let r = h
        .send(
            "GET",
            Some("scuola.localhost"),
            &next,
            &[("spid_browser-scuola", &browser)],
            None,
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let s = r.cookie("spid_session-scuola").unwrap();
    let r = h
        .send(
            "GET",
            Some("scuola.localhost"),
            "/me",
            &[("spid_session-scuola", &s)],
            None,
        )
        .await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (200, "scuola cf=RSSMRA80A01H501U")
    );

    // The application's pages get their tenant.
    assert_eq!(h.get("/t/azienda/who", &[]).await.body, "azienda");

    // Unknown tenant, unknown endpoint, unknown host: the same plain 404.
    for (host, path) in [
        (None, "/t/nessuno/spid/metadata"),
        (None, "/t/comune/spid/nothing"),
        (None, "/t/comune"),
        (None, "/spid/metadata"),
        (Some("altro.localhost"), "/spid/metadata"),
        (Some("scuola.localhost"), "/t/comune/spid/metadata"),
    ] {
        let r = h.send("GET", host, path, &[], None).await;
        assert_eq!(
            (r.status, r.body.as_str()),
            (404, "Not Found"),
            "{host:?} {path}"
        );
    }
}

#[tokio::test]
async fn reload_adds_changes_and_removes_tenants() {
    let h = start().await;
    assert_eq!(h.get("/t/ente/spid/metadata", &[]).await.status, 404);
    std::fs::write(
        h.dir.join("ente.toml"),
        path_tenant(&h.base, "ente", "Ente", false),
    )
    .unwrap();
    let report = h.table.reload();
    assert_eq!(report.added().len(), 1, "{report:?}");
    assert_eq!(report.unchanged(), 3);
    assert_eq!(h.get("/t/ente/spid/metadata", &[]).await.status, 200);
    let session = h.login("ente").await;

    // Changed: the new version serves (its organisation in the metadata).
    std::fs::write(
        h.dir.join("ente.toml"),
        path_tenant(&h.base, "ente", "Ente Nuovo", false),
    )
    .unwrap();
    let report = h.table.reload();
    assert_eq!(report.changed().len(), 1, "{report:?}");
    let r = h.get("/t/ente/spid/metadata", &[]).await;
    assert!(r.body.contains("Ente Nuovo"));
    // Same entityID and stores: the session survives a change of the tenant's file.
    let r = h
        .get("/t/ente/me", &[("spid_session-ente", &session)])
        .await;
    assert_eq!(r.status, 200);

    std::fs::remove_file(h.dir.join("ente.toml")).unwrap();
    let report = h.table.reload();
    assert_eq!(report.removed().len(), 1, "{report:?}");
    assert_eq!(h.get("/t/ente/spid/metadata", &[]).await.status, 404);
    assert_eq!(
        h.get("/t/ente/me", &[("spid_session-ente", &session)])
            .await
            .status,
        404
    );
    assert_eq!(h.table.len(), 3);
}

#[tokio::test]
async fn a_broken_tenant_file_keeps_the_others_serving() {
    let h = start().await;
    // A broken new file, a broken change of an existing one, a conflicting one, a bad name.
    std::fs::write(h.dir.join("rotto.toml"), "entity_id = [").unwrap();
    std::fs::write(h.dir.join("azienda.toml"), "entity_id = \"x\"\nnope = 1\n").unwrap();
    std::fs::write(
        h.dir.join("copia.toml"),
        path_tenant(&h.base, "comune", "Copia", false)
            .replace("/t/comune/", "/t/copia/")
            .replace("path = \"/t/comune\"", "path = \"/t/copia\""),
    )
    .unwrap();
    std::fs::write(h.dir.join("Bad_Name.toml"), "").unwrap();
    let report = h.table.reload();
    let codes: Vec<&str> = report.errors().iter().map(|e| e.code()).collect();
    assert_eq!(codes.len(), 4, "{report:?}");
    for code in ["tenant-description", "tenant-conflict", "tenant-id"] {
        assert!(codes.contains(&code), "{codes:?}");
    }
    // No personal data, no values: names of tenants and fields only.
    assert!(report
        .errors()
        .iter()
        .all(|e| !e.to_string().contains("RSSMRA")));
    assert_eq!(
        report.kept().len(),
        1,
        "azienda keeps its last good version"
    );
    assert_eq!(h.table.len(), 3);
    for path in ["/t/comune/spid/metadata", "/t/azienda/spid/metadata"] {
        assert_eq!(h.get(path, &[]).await.status, 200, "{path}");
    }
    h.login("azienda").await;
    assert_eq!(h.get("/t/rotto/spid/metadata", &[]).await.status, 404);
    assert_eq!(h.get("/t/copia/spid/metadata", &[]).await.status, 404);

    // A whole directory gone: every tenant is kept as it was.
    let moved = h.dir.with_extension("moved");
    std::fs::rename(&h.dir, &moved).unwrap();
    let report = h.table.reload();
    std::fs::rename(&moved, &h.dir).unwrap();
    assert_eq!(report.errors()[0].code(), "tenant-source");
    assert_eq!(h.table.len(), 3);
}

#[tokio::test]
async fn each_tenant_writes_its_own_audit_stream() {
    let h = start().await;
    h.login("comune").await;
    let audits = h.audits.lock().unwrap().clone();
    assert_eq!(
        audits.len(),
        1,
        "only the tenant that logged someone in opened a stream"
    );
    let records = audits["comune"].records();
    assert!(records.len() >= 2, "the AuthnRequest and the Response");
    drop(audits);
    h.login("azienda").await;
    let audits = h.audits.lock().unwrap().clone();
    assert_eq!(audits["comune"].records().len(), records.len());
    assert!(audits["azienda"].records().len() >= 2);
}

/// The aggregator examples of examples/tenants/ (every variant, a shared aggregator file
/// and key) load as they are, routed by their ACS paths, and render their metadata.
#[test]
fn the_aggregator_examples_load_and_render() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/tenants");
    let (table, report) = TenantTable::builder().directory(dir).build();
    assert!(report.errors().is_empty(), "{:?}", report.errors());
    let tenant_files = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".toml") && !n.ends_with(".aggregator.toml"))
        .count();
    assert_eq!(table.len(), tenant_files);
    let t = table
        .resolve(
            Some("spid.acme-servizi.example.it"),
            "/pub-ag-full/c_d704/acs",
        )
        .unwrap();
    assert_eq!(t.id().as_str(), "comune-forli");
    assert_eq!(t.endpoints_prefix(), "/pub-ag-full/c_d704");
    for t in table.tenants() {
        let xml = t.metadata_xml().unwrap();
        assert!(xml.contains("<ds:Signature"), "{}", t.id());
    }
    let lite = table.get("studio-rossi").unwrap().metadata_xml().unwrap();
    assert!(
        lite.contains("spid:validation"),
        "the lite variant's validation key"
    );
}
