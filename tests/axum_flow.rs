//! The axum integration over a real TCP socket: login through the ACS without cookies (as
//! a cross-site POST arrives), the browser-bound hand-off, the Session extractor, the
//! level guard's step-up, refusals, forged RelayState, open-redirect attempts, and single
//! logout in both directions.
#![cfg(feature = "axum")]

mod common;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

use axum::routing::get;
use axum::Router;
use base64::Engine as _;
use common::keypair;
use spid_sp::axum::{AtLeast, Session, SpidAuth};
use spid_sp::dsig::{self, redirect, SignatureAlgorithm, SignatureAnchor};
use spid_sp::metadata::IdentityProvider;
use spid_sp::saml::{ASSERTION_NS, PROTOCOL_NS};
use spid_sp::test_idp::{ResponseSpec, TestIdp};
use spid_sp::xml::{self, Limits};
use spid_sp::{Binding, FixedClock, LoginOptions, ServiceProvider, SpConfig, SpidLevel};

const IDP: &str = "https://idp.flow.test";

struct Harness {
    addr: std::net::SocketAddr,
    base: String,
    idp: TestIdp,
    now: spid_sp::Timestamp,
}

#[derive(Debug)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    /// `name=value` of each Set-Cookie.
    fn cookies(&self) -> HashMap<String, String> {
        self.headers
            .iter()
            .filter(|(k, _)| k == "set-cookie")
            .filter_map(|(_, v)| {
                let (kv, _) = v.split_once(';').unwrap_or((v, ""));
                let (k, v) = kv.split_once('=')?;
                Some((k.to_owned(), v.to_owned()))
            })
            .collect()
    }
    /// Hidden inputs of the form in the page.
    fn form_field(&self, name: &str) -> Option<String> {
        let marker = format!("name=\"{name}\" value=\"");
        let start = self.body.find(&marker)? + marker.len();
        let end = self.body[start..].find('"')? + start;
        Some(self.body[start..end].to_owned())
    }
}

async fn start(level_for_guard: SpidLevel) -> Harness {
    start_with(level_for_guard, false).await
}

async fn start_with(level_for_guard: SpidLevel, secure_cookies: bool) -> Harness {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let base = format!("http://{addr}");
    let now = common::now();
    let idp = TestIdp::new(IDP, keypair("idp", 2048));
    let config = SpConfig::builder(base.clone(), keypair("sp", 2048))
        .assertion_consumer_service(format!("{base}/spid/acs"))
        .attribute_service(0, "Servizi", &["fiscalNumber", "name", "familyName"])
        .logout_service(Binding::Redirect, format!("{base}/spid/slo"))
        .logout_service(Binding::Post, format!("{base}/spid/slo"))
        .build()
        .unwrap();
    let idps = IdentityProvider::from_metadata(&idp.metadata(IDP)).unwrap();
    let sp = ServiceProvider::new(config, idps).with_clock(Arc::new(FixedClock(now)));
    let auth = SpidAuth::builder(sp)
        .metadata_xml("<md:EntityDescriptor/>")
        .secure_cookies(secure_cookies)
        .login_options(LoginOptions {
            level: SpidLevel::L1,
            ..LoginOptions::default()
        })
        .login_page("/")
        .after_login("/me")
        .build();
    async fn me(session: Session) -> String {
        format!(
            "cf={} level={}",
            session.identity().fiscal_code().unwrap().as_str(),
            session.level().number()
        )
    }
    async fn home(session: Option<Session>) -> String {
        format!("home logged_in={}", session.is_some())
    }
    async fn l2(AtLeast(s): AtLeast<2>) -> String {
        format!("l2 ok level={}", s.level().number())
    }
    let guarded = Router::new()
        .route(
            "/mw",
            get(|axum::Extension(s): axum::Extension<Session>| async move {
                format!("mw ok level={}", s.level().number())
            }),
        )
        .route_layer(axum::middleware::from_fn_with_state(
            level_for_guard,
            spid_sp::axum::require_level,
        ));
    let app = Router::new()
        .route("/", get(home))
        .route("/me", get(me))
        .route("/l2", get(l2))
        .merge(guarded)
        .merge(auth.routes())
        .layer(auth.layer());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Harness {
        addr,
        base,
        idp,
        now,
    }
}

impl Harness {
    async fn request(
        &self,
        method: &str,
        path: &str,
        cookies: &[(&str, &str)],
        form: Option<&str>,
    ) -> Reply {
        let mut req = format!("{method} {path} HTTP/1.0\r\nHost: {}\r\n", self.addr);
        if !cookies.is_empty() {
            let c: Vec<String> = cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let _ = write!(req, "Cookie: {}\r\n", c.join("; "));
        }
        if let Some(body) = form {
            let _ = write!(
                req,
                "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
                body.len()
            );
        }
        req.push_str("\r\n");
        if let Some(body) = form {
            req.push_str(body);
        }
        // A plain blocking socket on a blocking thread: the server runs on the runtime.
        let addr = self.addr;
        let raw = tokio::task::spawn_blocking(move || {
            use std::io::{Read, Write};
            let mut s = std::net::TcpStream::connect(addr).unwrap();
            s.write_all(req.as_bytes()).unwrap();
            let mut raw = Vec::new();
            s.read_to_end(&mut raw).unwrap();
            String::from_utf8(raw).unwrap()
        })
        .await
        .unwrap();
        let (head, body) = raw.split_once("\r\n\r\n").unwrap();
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .unwrap()
            .split(' ')
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        Reply {
            status,
            headers,
            body: body.to_owned(),
        }
    }

    async fn get(&self, path: &str, cookies: &[(&str, &str)]) -> Reply {
        self.request("GET", path, cookies, None).await
    }

    async fn post(&self, path: &str, cookies: &[(&str, &str)], form: &str) -> Reply {
        self.request("POST", path, cookies, Some(form)).await
    }

    fn acs(&self) -> String {
        format!("{}/spid/acs", self.base)
    }

    /// GET /spid/login: the request ID, the RelayState and the browser cookie.
    async fn begin(&self, query: &str, browser: Option<&str>) -> (String, String, String) {
        let cookies: Vec<(&str, &str)> = browser.map(|b| ("spid_browser", b)).into_iter().collect();
        let r = self.get(&format!("/spid/login?{query}"), &cookies).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let xml = String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(r.form_field("SAMLRequest").unwrap())
                .unwrap(),
        )
        .unwrap();
        let doc = xml::parse(&xml, &Limits::MESSAGE).unwrap();
        let id = doc.root_element().attribute("ID").unwrap().to_owned();
        let relay = r.form_field("RelayState").unwrap();
        let browser = browser
            .map(str::to_owned)
            .or_else(|| r.cookies().get("spid_browser").cloned())
            .unwrap();
        (id, relay, browser)
    }

    fn response(&self, id: &str, level: SpidLevel) -> String {
        let spec = ResponseSpec::new(id, &self.acs(), &self.base, level, self.now)
            .attribute("fiscalNumber", "TINIT-RSSMRA80A01H501U")
            .attribute("name", "Mario")
            .attribute("familyName", "Rossi");
        b64(&self.idp.response(&spec).unwrap())
    }

    /// A full login: the session cookie.
    async fn login(&self, query: &str, level: SpidLevel) -> (String, String, Reply) {
        let (id, relay, browser) = self.begin(query, None).await;
        let form = form(&[
            ("SAMLResponse", &self.response(&id, level)),
            ("RelayState", &relay),
        ]);
        // The IdP's cross-site POST carries no SameSite=Lax cookie: none is sent here.
        let r = self.post("/spid/acs", &[], &form).await;
        assert_eq!(r.status, 303, "{}", r.body);
        let next = r.header("location").unwrap().to_owned();
        assert!(next.starts_with("/spid/complete?handoff="), "{next}");
        let r = self.get(&next, &[("spid_browser", &browser)]).await;
        assert_eq!(r.status, 303, "{}", r.body);
        let session = r.cookies().get("spid_session").cloned().unwrap();
        (session, browser, r)
    }
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn form(fields: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (k, v) in fields {
        if !out.is_empty() {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        redirect::quote_plus(v, &mut out);
    }
    out
}

fn q(s: &str) -> String {
    let mut out = String::new();
    redirect::quote_plus(s, &mut out);
    out
}

#[tokio::test]
async fn login_round_trip_without_cookies_at_the_acs() {
    let h = start(SpidLevel::L2).await;
    assert_eq!(h.get("/spid/metadata", &[]).await.status, 200);
    let r = h.get("/", &[]).await;
    assert_eq!(r.body, "home logged_in=false");

    let (session, _, r) = h
        .login(&format!("idp={}&next=%2Fme", q(IDP)), SpidLevel::L1)
        .await;
    assert_eq!(r.header("location"), Some("/me"));
    let cookie = r
        .headers
        .iter()
        .find(|(k, v)| k == "set-cookie" && v.starts_with("spid_session"))
        .unwrap();
    assert!(cookie.1.contains("HttpOnly") && cookie.1.contains("SameSite=Lax"));
    assert!(!cookie.1.contains("Secure"), "plain http: no Secure cookie");

    let r = h.get("/me", &[("spid_session", &session)]).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (200, "cf=RSSMRA80A01H501U level=1")
    );
    let r = h.get("/", &[("spid_session", &session)]).await;
    assert_eq!(r.body, "home logged_in=true");

    // Without a session: to the login page, with the way back.
    let r = h.get("/me?x=1", &[]).await;
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some("/?next=%2Fme%3Fx%3D1"));
}

#[tokio::test]
async fn acs_refuses_replays_unknown_requests_and_forged_relay_state() {
    let h = start(SpidLevel::L2).await;
    let (id, relay, _) = h.begin(&format!("idp={}", q(IDP)), None).await;
    let response = h.response(&id, SpidLevel::L1);

    // A forged RelayState (a URL) is refused, and nothing redirects anywhere.
    let forged = form(&[
        ("SAMLResponse", &response),
        ("RelayState", "https://evil.example/"),
    ]);
    let r = h.post("/spid/acs", &[], &forged).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(r.header("location"), None);
    assert!(r.body.contains("relay-state"), "{}", r.body);

    // The pending login was consumed by that attempt: the genuine post now finds nothing.
    let genuine = form(&[("SAMLResponse", &response), ("RelayState", &relay)]);
    let r = h.post("/spid/acs", &[], &genuine).await;
    assert_eq!(r.status, 403);
    assert!(r.body.contains("unknown-request"), "{}", r.body);

    // Garbage and a missing message.
    assert_eq!(
        h.post("/spid/acs", &[], "SAMLResponse=%%%").await.status,
        400
    );
    assert_eq!(h.post("/spid/acs", &[], "RelayState=x").await.status, 400);
    let unsolicited = form(&[("SAMLResponse", &h.response("_nosuchrequest", SpidLevel::L1))]);
    assert_eq!(h.post("/spid/acs", &[], &unsolicited).await.status, 403);
}

#[tokio::test]
async fn hand_off_needs_the_browser_that_started_the_login() {
    let h = start(SpidLevel::L2).await;
    let (id, relay, browser) = h.begin(&format!("idp={}", q(IDP)), None).await;
    let f = form(&[
        ("SAMLResponse", &h.response(&id, SpidLevel::L1)),
        ("RelayState", &relay),
    ]);
    let r = h.post("/spid/acs", &[], &f).await;
    let next = r.header("location").unwrap().to_owned();
    // Another browser (another cookie, or none) cannot use the hand-off...
    let other = "0".repeat(64);
    let r = h.get(&next, &[("spid_browser", &other)]).await;
    assert_eq!(r.status, 403);
    assert!(!r.cookies().contains_key("spid_session"));
    // ... and the hand-off is single use.
    let r = h.get(&next, &[("spid_browser", &browser)]).await;
    assert_eq!(r.status, 403);
}

#[tokio::test]
async fn next_must_be_a_local_path() {
    let h = start(SpidLevel::L2).await;
    for evil in [
        "https://evil.example/",
        "//evil.example/x",
        "/\\evil.example",
    ] {
        let (_, _, r) = h
            .login(&format!("idp={}&next={}", q(IDP), q(evil)), SpidLevel::L1)
            .await;
        assert_eq!(r.header("location"), Some("/me"), "{evil}");
    }
    let (_, _, r) = h
        .login(&format!("idp={}&next=%2Fl2%3Fa%3Db", q(IDP)), SpidLevel::L2)
        .await;
    assert_eq!(r.header("location"), Some("/l2?a=b"));
}

#[tokio::test]
async fn refusals_get_the_courtesy_page_and_its_status() {
    let h = start(SpidLevel::L2).await;
    let (id, relay, _) = h.begin(&format!("idp={}", q(IDP)), None).await;
    let refusal = h.idp.refusal(&id, &h.acs(), 22, h.now).unwrap();
    let r = h
        .post(
            "/spid/acs",
            &[],
            &form(&[("SAMLResponse", &b64(&refusal)), ("RelayState", &relay)]),
        )
        .await;
    assert_eq!(r.status, 401);
    assert!(r.body.contains("consenso"), "{}", r.body);
}

#[tokio::test]
async fn login_parameters_are_checked() {
    let h = start(SpidLevel::L2).await;
    assert_eq!(h.get("/spid/login", &[]).await.status, 400);
    assert_eq!(
        h.get("/spid/login?idp=https%3A%2F%2Fnobody.example", &[])
            .await
            .status,
        400
    );
    assert_eq!(
        h.get(&format!("/spid/login?idp={}&level=7", q(IDP)), &[])
            .await
            .status,
        400
    );
    let r = h
        .get(
            &format!("/spid/login?idp={}&binding=redirect&level=3", q(IDP)),
            &[],
        )
        .await;
    assert_eq!(r.status, 302);
    let loc = r.header("location").unwrap();
    assert!(
        loc.starts_with("https://idp.flow.test/sso?SAMLRequest="),
        "{loc}"
    );
    assert!(
        loc.contains("&RelayState=") && loc.contains("&SigAlg=") && loc.contains("&Signature=")
    );
    // POST works too (a form with the IdP buttons).
    let r = h.post("/spid/login", &[], &form(&[("idp", IDP)])).await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn level_guard_steps_up_at_the_same_idp() {
    let h = start(SpidLevel::L2).await;
    let (l1, browser, _) = h.login(&format!("idp={}", q(IDP)), SpidLevel::L1).await;

    for path in ["/l2", "/mw"] {
        let r = h.get(path, &[("spid_session", &l1)]).await;
        assert_eq!(r.status, 303, "{path}");
        let expected = format!("/spid/login?idp={}&level=2&next={}", q(IDP), q(path));
        assert_eq!(r.header("location"), Some(expected.as_str()));
    }
    // Without a session the guard sends to the login page.
    assert_eq!(
        h.get("/l2", &[]).await.header("location"),
        Some("/?next=%2Fl2")
    );

    // The step-up login (the old session cookie is sent along) replaces the L1 session.
    let (id, relay, _) = h
        .begin(
            &format!("idp={}&level=2&next=%2Fl2", q(IDP)),
            Some(&browser),
        )
        .await;
    let f = form(&[
        ("SAMLResponse", &h.response(&id, SpidLevel::L2)),
        ("RelayState", &relay),
    ]);
    let r = h.post("/spid/acs", &[], &f).await;
    let next = r.header("location").unwrap().to_owned();
    let r = h
        .get(&next, &[("spid_browser", &browser), ("spid_session", &l1)])
        .await;
    assert_eq!(r.header("location"), Some("/l2"));
    let l2 = r.cookies().get("spid_session").cloned().unwrap();
    let r = h.get("/l2", &[("spid_session", &l2)]).await;
    assert_eq!((r.status, r.body.as_str()), (200, "l2 ok level=2"));
    assert_eq!(
        h.get("/mw", &[("spid_session", &l2)]).await.body,
        "mw ok level=2"
    );
    assert_eq!(
        h.get("/me", &[("spid_session", &l1)]).await.status,
        303,
        "old session closed"
    );
}

/// Signs a logout message the way an IdP posts it.
fn idp_signed(h: &Harness, xml: &str) -> String {
    b64(&dsig::sign_enveloped(
        xml,
        h.idp.key(),
        SignatureAlgorithm::RsaSha256,
        SignatureAnchor::After(ASSERTION_NS, "Issuer"),
    )
    .unwrap())
}

#[tokio::test]
async fn sp_initiated_logout_and_the_idp_answer() {
    let h = start(SpidLevel::L2).await;
    let (session, _, _) = h.login(&format!("idp={}", q(IDP)), SpidLevel::L1).await;
    let r = h
        .post("/spid/logout", &[("spid_session", &session)], "")
        .await;
    assert_eq!(r.status, 302, "{}", r.body);
    let loc = r.header("location").unwrap().to_owned();
    assert!(
        loc.starts_with("https://idp.flow.test/slo?SAMLRequest="),
        "{loc}"
    );
    assert!(r
        .headers
        .iter()
        .any(|(k, v)| k == "set-cookie" && v.starts_with("spid_session=;")));
    assert_eq!(
        h.get("/me", &[("spid_session", &session)]).await.status,
        303,
        "closed"
    );

    let (_, query) = loc.split_once('?').unwrap();
    let request = redirect::decode_unverified(query).unwrap().xml;
    let doc = xml::parse(&request, &Limits::MESSAGE).unwrap();
    let request_id = doc.root_element().attribute("ID").unwrap();
    let answer = format!(
        "<samlp:LogoutResponse xmlns:samlp=\"{PROTOCOL_NS}\" xmlns:saml=\"{ASSERTION_NS}\" ID=\"_lr1\" Version=\"2.0\" IssueInstant=\"{}\" Destination=\"{}/spid/slo\" InResponseTo=\"{request_id}\">\
         <saml:Issuer Format=\"urn:oasis:names:tc:SAML:2.0:nameid-format:entity\">{IDP}</saml:Issuer>\
         <samlp:Status><samlp:StatusCode Value=\"urn:oasis:names:tc:SAML:2.0:status:Success\"/></samlp:Status></samlp:LogoutResponse>",
        h.now, h.base
    );
    let r = h
        .post(
            "/spid/slo",
            &[],
            &form(&[("SAMLResponse", &idp_signed(&h, &answer))]),
        )
        .await;
    assert_eq!(
        (r.status, r.header("location")),
        (303, Some("/")),
        "{}",
        r.body
    );
    // The same answer again finds no pending logout.
    let r = h
        .post(
            "/spid/slo",
            &[],
            &form(&[("SAMLResponse", &idp_signed(&h, &answer))]),
        )
        .await;
    assert_eq!(r.status, 403);
}

#[tokio::test]
async fn idp_initiated_logout_closes_the_session() {
    let h = start(SpidLevel::L2).await;
    let (id, relay, browser) = h.begin(&format!("idp={}", q(IDP)), None).await;
    let mut spec = ResponseSpec::new(&id, &h.acs(), &h.base, SpidLevel::L1, h.now)
        .attribute("fiscalNumber", "TINIT-RSSMRA80A01H501U");
    spec.name_id = "_transient-abc".into();
    let f = form(&[
        ("SAMLResponse", &b64(&h.idp.response(&spec).unwrap())),
        ("RelayState", &relay),
    ]);
    let next = h
        .post("/spid/acs", &[], &f)
        .await
        .header("location")
        .unwrap()
        .to_owned();
    let session = h
        .get(&next, &[("spid_browser", &browser)])
        .await
        .cookies()
        .get("spid_session")
        .cloned()
        .unwrap();
    assert_eq!(
        h.get("/me", &[("spid_session", &session)]).await.status,
        200
    );

    let request = format!(
        "<samlp:LogoutRequest xmlns:samlp=\"{PROTOCOL_NS}\" xmlns:saml=\"{ASSERTION_NS}\" ID=\"_idplr1\" Version=\"2.0\" IssueInstant=\"{}\" Destination=\"{}/spid/slo\">\
         <saml:Issuer Format=\"urn:oasis:names:tc:SAML:2.0:nameid-format:entity\">{IDP}</saml:Issuer>\
         <saml:NameID Format=\"urn:oasis:names:tc:SAML:2.0:nameid-format:transient\" NameQualifier=\"{IDP}\">_transient-abc</saml:NameID></samlp:LogoutRequest>",
        h.now, h.base
    );
    let r = h
        .post(
            "/spid/slo",
            &[],
            &form(&[
                ("SAMLRequest", &idp_signed(&h, &request)),
                ("RelayState", "r1"),
            ]),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let answer = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(r.form_field("SAMLResponse").unwrap())
            .unwrap(),
    )
    .unwrap();
    assert!(answer.contains("InResponseTo=\"_idplr1\"") && answer.contains("status:Success"));
    assert_eq!(r.form_field("RelayState").as_deref(), Some("r1"));
    assert_eq!(
        h.get("/me", &[("spid_session", &session)]).await.status,
        303,
        "closed"
    );

    // Unsigned, or both fields at once: refused.
    let r = h
        .post("/spid/slo", &[], &form(&[("SAMLRequest", &b64(&request))]))
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(
        h.post("/spid/slo", &[], "SAMLRequest=a&SAMLResponse=b")
            .await
            .status,
        400
    );
}

#[tokio::test]
async fn secure_cookies_use_the_host_prefix() {
    let h = start_with(SpidLevel::L2, true).await;
    let r = h.get(&format!("/spid/login?idp={}", q(IDP)), &[]).await;
    let set = r
        .headers
        .iter()
        .find(|(k, _)| k == "set-cookie")
        .map(|(_, v)| v.clone())
        .unwrap();
    assert!(set.starts_with("__Host-spid_browser="), "{set}");
    assert!(
        set.contains("; Path=/;") && set.ends_with("; Secure"),
        "{set}"
    );
    assert!(!set.contains("Domain"), "{set}");
    // The unprefixed name is not accepted in its place (no cookie tossing from a sibling).
    let browser = r.cookies().get("__Host-spid_browser").cloned().unwrap();
    let xml = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(r.form_field("SAMLRequest").unwrap())
            .unwrap(),
    )
    .unwrap();
    let doc = xml::parse(&xml, &Limits::MESSAGE).unwrap();
    let id = doc.root_element().attribute("ID").unwrap().to_owned();
    let relay = r.form_field("RelayState").unwrap();
    let f = form(&[
        ("SAMLResponse", &h.response(&id, SpidLevel::L2)),
        ("RelayState", &relay),
    ]);
    let next = h
        .post("/spid/acs", &[], &f)
        .await
        .header("location")
        .unwrap()
        .to_owned();
    assert_eq!(
        h.get(&next, &[("spid_browser", &browser)]).await.status,
        403
    );
}
