//! The gateway serving a tenant table (`[gateway.tenants]`, docs/gateway.md "Tenants"):
//! a login at tenant A is proxied with `X-Spid-Tenant: a` and the JWT's `tenant` claim,
//! A's session cookie is worthless at B, and a reload adds a tenant without a restart.
//! Real sockets: an in-process echo upstream, the local test IdP at `/test-idp`.

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use common::gateway::{self, data, echo_upstream, scratch, serve, test_idp};
use common::{enc, request, Reply};
use spid_sp::gateway::{Extras, Gateway, GatewayConfig, Prepared};
use spid_sp::metadata::IdentityProvider;
use spid_sp::tenants::TenantTable;
use spid_sp::test_idp::TestIdpMode;

/// A path-routed tenant `id` under `/t/<id>`, with its own (test-only) key.
fn tenant(base: &str, id: &str) -> String {
    format!(
        r#"entity_id = "{base}/t/{id}"
key_file = "{key}"
certificate_file = "{crt}"
assertion_consumer_services = ["{base}/t/{id}/spid/acs"]
single_logout_services = [{{ binding = "redirect", url = "{base}/t/{id}/spid/slo" }}]
attribute_services = [{{ index = 0, name = "Servizi", attributes = ["fiscalNumber", "name", "familyName"] }}]

[metadata]
profile = "spid-sp-public"
organization = {{ name = "Ente {id}", display_name = "Ente {id}", url = "https://www.example.it" }}
contact = {{ email = "spid@example.it", phone = "+390543712111", ipa_code = "c_d704" }}

[tenant]
path = "/t/{id}"
"#,
        key = data("metadata/test-only-sp.key.pem"),
        crt = data("metadata/test-only-sp.crt.pem"),
    )
}

fn config_text(base: &str, upstream: &str, dir: &str, tenants: &str) -> String {
    format!(
        r#"
entity_id = "{{base_url}}"
key_file = "{key}"
certificate_file = "{crt}"
assertion_consumer_services = ["{{base_url}}/spid/acs"]
single_logout_services = [{{ binding = "redirect", url = "{{base_url}}/spid/slo" }}]
attribute_services = [{{ index = 0, name = "Servizi", attributes = ["fiscalNumber"] }}]

[metadata]
profile = "spid-sp-public"
organization = {{ name = "Aggregatore", display_name = "Aggregatore", url = "{{base_url}}/" }}
contact = {{ email = "gw@example.it", ipa_code = "c_h501", municipality = "H501" }}

[gateway]
base_url = "{base}"

[gateway.audit]
dir = "{dir}/audit"

[gateway.tenants]
dir = "{tenants}"
reload_secs = 0

[[gateway.upstreams]]
url = "{upstream}"
"#,
        key = data("metadata/test-only-sp.key.pem"),
        crt = data("metadata/test-only-sp.crt.pem"),
    )
}

struct Running {
    addr: SocketAddr,
    idp: String,
    gateway: Gateway,
    tenants: PathBuf,
}

/// The gateway with tenants `a` and `b`; the test IdP trusts `a`, `b` and `c`.
async fn start(name: &str) -> Running {
    let up = echo_upstream().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let base = format!("http://{addr}");
    let dir = scratch("gateway-tenants", name);
    let tenants = dir.join("tenants");
    std::fs::create_dir_all(&tenants).unwrap();
    // Every tenant's metadata, for the test IdP to trust (c is added later).
    let all = dir.join("all");
    std::fs::create_dir_all(&all).unwrap();
    for id in ["a", "b", "c"] {
        std::fs::write(all.join(format!("{id}.toml")), tenant(&base, id)).unwrap();
    }
    for id in ["a", "b"] {
        std::fs::write(tenants.join(format!("{id}.toml")), tenant(&base, id)).unwrap();
    }
    let (everyone, report) = TenantTable::builder().directory(&all).build();
    assert!(report.errors().is_empty(), "{:?}", report.errors());

    let text = config_text(
        &base,
        &format!("http://{up}"),
        dir.to_str().unwrap(),
        tenants.to_str().unwrap(),
    );
    let config = GatewayConfig::from_toml_str(&text, std::path::Path::new(".")).unwrap();
    let prepared = Prepared::new(config).unwrap();
    let idp_url = format!("{base}/test-idp");
    let tenant_metadata: Vec<std::sync::Arc<str>> = everyone
        .tenants()
        .iter()
        .map(|t| t.metadata_xml().unwrap())
        .collect();
    let mut trusted = vec![prepared.metadata_xml.as_str()];
    trusted.extend(tenant_metadata.iter().map(|m| &**m));
    let server = test_idp(&idp_url, &trusted);
    let extras = Extras {
        routes: Some(server.routes()),
        idps: IdentityProvider::from_metadata(&server.metadata()).unwrap(),
        allow_test_idp: Some(TestIdpMode::IKnowThisIsNotAnAccreditedIdp),
    };
    let (gateway, router) = Gateway::new(prepared, extras).unwrap();
    assert_eq!(gateway.tenant_table().unwrap().len(), 2);
    serve(listener, router);
    Running {
        addr,
        idp: idp_url,
        gateway,
        tenants,
    }
}

type Jar = HashMap<String, String>;

async fn send(addr: SocketAddr, method: &str, path: &str, jar: &Jar, form: Option<&str>) -> Reply {
    let cookies: Vec<(&str, &str)> = jar.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    request(addr, method, path, &cookies, form)
        .send_async()
        .await
}

fn keep(jar: &mut Jar, r: &Reply) {
    jar.extend(r.cookies());
}

/// Posts the page's auto-submitting form.
async fn submit(addr: SocketAddr, page: &Reply, jar: &Jar) -> Reply {
    let cookies: Vec<(&str, &str)> = jar.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    gateway::submit(addr, page, &cookies).await
}

/// A whole login at the test IdP from `login_path`: the jar and where the browser lands.
async fn login(gw: &Running, login_path: &str, user: &str) -> (Jar, String) {
    let addr = gw.addr;
    let mut jar = Jar::new();
    let r = send(addr, "GET", login_path, &jar, None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    keep(&mut jar, &r);
    let form = submit(addr, &r, &jar).await;
    assert_eq!(form.status, 200, "{}", form.body);
    let token = form.field("token").unwrap();
    let back = send(
        addr,
        "POST",
        "/test-idp/login",
        &jar,
        Some(&format!("token={token}&user={user}&level=2&outcome=login")),
    )
    .await;
    assert_eq!(back.status, 200, "{}", back.body);
    let acs = submit(addr, &back, &jar).await;
    assert_eq!(acs.status, 303, "{}", acs.body);
    keep(&mut jar, &acs);
    let complete = send(addr, "GET", acs.header("location").unwrap(), &jar, None).await;
    assert_eq!(complete.status, 303, "{}", complete.body);
    keep(&mut jar, &complete);
    (jar, complete.header("location").unwrap().to_owned())
}

fn echoed<'a>(body: &'a str, name: &str) -> Option<&'a str> {
    body.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_at_tenant_a_reaches_the_app_as_a_and_is_worthless_at_b() {
    let gw = start("login").await;
    let addr = gw.addr;
    let none = Jar::new();

    // No session at A: to A's chooser, which offers A's login.
    let r = send(addr, "GET", "/t/a/private?x=1", &none, None).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let to = r.header("location").unwrap();
    assert_eq!(
        to,
        format!("/t/a/spid/select?next={}", enc("/t/a/private?x=1"))
    );
    let chooser = send(addr, "GET", to, &none, None).await;
    assert_eq!(chooser.status, 200);
    assert!(
        chooser.body.contains("/t/a/spid/login?idp="),
        "{}",
        chooser.body
    );
    // A's metadata is A's.
    let md = send(addr, "GET", "/t/a/spid/metadata", &none, None).await;
    assert_eq!(md.status, 200);
    assert!(md.body.contains(&format!("entityID=\"http://{addr}/t/a\"")));

    let path = format!(
        "/t/a/spid/login?idp={}&next={}",
        enc(&gw.idp),
        enc("/t/a/private?x=1")
    );
    let (jar, landing) = login(&gw, &path, "citizen").await;
    assert_eq!(landing, "/t/a/private?x=1");
    assert!(jar.contains_key("spid_session-a"), "{jar:?}");

    // Proxied with the tenant's ID; a spoofed one never arrives.
    let r = request(
        addr,
        "GET",
        &landing,
        &jar.iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect::<Vec<_>>(),
        None,
    )
    .header("X-Spid-Tenant", "b")
    .send_async()
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(echoed(&r.body, "x-spid-tenant"), Some("a"), "{}", r.body);
    assert_eq!(r.body.matches("x-spid-tenant").count(), 1, "{}", r.body);
    assert_eq!(
        echoed(&r.body, "x-spid-fiscal-code"),
        Some("RSSMRA80A01H501U")
    );
    assert!(!r.body.contains("spid_session"), "{}", r.body);
    let jwt = echoed(&r.body, "x-spid-jwt").unwrap();
    let claims: serde_json::Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(jwt.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["tenant"], "a");

    // A's cookie at B: no session there (as it is, and renamed to B's cookie).
    let at_b = send(addr, "GET", "/t/b/private", &jar, None).await;
    assert_eq!(at_b.status, 303, "{}", at_b.body);
    assert!(at_b
        .header("location")
        .unwrap()
        .starts_with("/t/b/spid/select"));
    let mut renamed = Jar::new();
    renamed.insert("spid_session-b".into(), jar["spid_session-a"].clone());
    let at_b = send(addr, "GET", "/t/b/private", &renamed, None).await;
    assert_eq!(at_b.status, 303, "{}", at_b.body);
    // Nor at the gateway's own SP.
    let mut own = Jar::new();
    own.insert("spid_session".into(), jar["spid_session-a"].clone());
    let at_own = send(addr, "GET", "/private", &own, None).await;
    assert_eq!(at_own.status, 303, "{}", at_own.body);
    assert!(at_own
        .header("location")
        .unwrap()
        .starts_with("/spid/select"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_adds_a_tenant_without_a_restart() {
    let gw = start("reload").await;
    let addr = gw.addr;
    let none = Jar::new();
    let before = send(addr, "GET", "/t/c/spid/metadata", &none, None).await;
    assert_ne!(before.status, 200, "c is not served yet");
    let r = send(addr, "GET", "/t/c/page", &none, None).await;
    assert!(
        r.header("location").unwrap().starts_with("/spid/select"),
        "the gateway's own SP"
    );

    std::fs::write(
        gw.tenants.join("c.toml"),
        tenant(&format!("http://{addr}"), "c"),
    )
    .unwrap();
    let g = gw.gateway.clone();
    let report = tokio::task::spawn_blocking(move || g.reload_tenants().unwrap())
        .await
        .unwrap();
    assert_eq!(report.added().len(), 1, "{report:?}");
    let md = send(addr, "GET", "/t/c/spid/metadata", &none, None).await;
    assert_eq!(md.status, 200);
    assert!(md.body.contains(&format!("entityID=\"http://{addr}/t/c\"")));
    let r = send(addr, "GET", "/t/c/page", &none, None).await;
    assert_eq!(r.status, 303);
    assert!(r
        .header("location")
        .unwrap()
        .starts_with("/t/c/spid/select"));
    // And a login there works.
    let path = format!(
        "/t/c/spid/login?idp={}&next={}",
        enc(&gw.idp),
        enc("/t/c/page")
    );
    let (jar, landing) = login(&gw, &path, "citizen").await;
    let r = send(addr, "GET", &landing, &jar, None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(echoed(&r.body, "x-spid-tenant"), Some("c"));
}

/// `/spid/auth` for the original request (`X-Original-URI`): at tenant A with A's
/// session, 200 with A's identity and `X-Spid-Tenant: a`; without a session, 401 to A's
/// chooser; A's cookie asking about B or about the gateway's own SP, 401 to theirs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_request_answers_for_the_tenant_of_the_original_uri() {
    let gw = start("authreq").await;
    let addr = gw.addr;
    let path = format!(
        "/t/a/spid/login?idp={}&next={}",
        enc(&gw.idp),
        enc("/t/a/private")
    );
    let (jar, _) = login(&gw, &path, "citizen").await;
    let cookies: Vec<(&str, &str)> = jar.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    let ask = |original: &'static str, with_session: bool| {
        let c: &[(&str, &str)] = if with_session { &cookies } else { &[] };
        request(addr, "GET", "/spid/auth", c, None)
            .header("X-Original-URI", original)
            .header("X-Spid-Tenant", "b")
            .send_async()
    };

    let r = ask("/t/a/private?x=1", true).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("x-spid-tenant"), Some("a"));
    assert_eq!(r.header("x-spid-fiscal-code"), Some("RSSMRA80A01H501U"));
    assert!(r.header("x-spid-jwt").is_some());

    let r = ask("/t/a/private?x=1", false).await;
    assert_eq!(r.status, 401, "{}", r.body);
    assert_eq!(
        r.header("x-spid-login-url"),
        Some(format!("/t/a/spid/select?next={}", enc("/t/a/private?x=1")).as_str())
    );
    assert_eq!(r.header("x-spid-fiscal-code"), None);

    let r = ask("/t/b/private", true).await;
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(r
        .header("x-spid-login-url")
        .unwrap()
        .starts_with("/t/b/spid/select"));
    assert_eq!(r.header("x-spid-fiscal-code"), None);

    let r = ask("/private", true).await;
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(r
        .header("x-spid-login-url")
        .unwrap()
        .starts_with("/spid/select"));
}
