//! The axum integration over a real TCP socket: login through the ACS without cookies (as
//! a cross-site POST arrives), the browser-bound hand-off, the Session extractor, the
//! level guard's step-up, refusals, forged RelayState, open-redirect attempts, and single
//! logout in both directions.
#![cfg(feature = "axum")]

mod common;

use std::sync::Arc;

use axum::routing::get;
use axum::Router;
use base64::Engine as _;
use common::{enc, form, keypair, Reply};
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
    let sp = ServiceProvider::new(config, idps)
        .expect("service provider")
        .with_clock(Arc::new(FixedClock(now)));
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
    async fn get(&self, path: &str, cookies: &[(&str, &str)]) -> Reply {
        common::request(self.addr, "GET", path, cookies, None)
            .send_async()
            .await
    }

    async fn post(&self, path: &str, cookies: &[(&str, &str)], form: &str) -> Reply {
        common::request(self.addr, "POST", path, cookies, Some(form))
            .send_async()
            .await
    }

    fn acs(&self) -> String {
        format!("{}/spid/acs", self.base)
    }

    /// GET /spid/login: the request ID, the RelayState and the browser cookie.
    async fn begin(&self, query: &str, browser: Option<&str>) -> (String, String, String) {
        let cookies: Vec<(&str, &str)> = browser.map(|b| ("spid_browser", b)).into_iter().collect();
        let r = self.get(&format!("/spid/login?{query}"), &cookies).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let id = request_id(&r);
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

/// The ID of the AuthnRequest in a login page's form.
fn request_id(page: &Reply) -> String {
    let xml = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(page.form_field("SAMLRequest").unwrap())
            .unwrap(),
    )
    .unwrap();
    let doc = xml::parse(&xml, &Limits::MESSAGE).unwrap();
    doc.root_element().attribute("ID").unwrap().to_owned()
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[tokio::test]
async fn login_round_trip_without_cookies_at_the_acs() {
    let h = start(SpidLevel::L2).await;
    assert_eq!(h.get("/spid/metadata", &[]).await.status, 200);
    let r = h.get("/", &[]).await;
    assert_eq!(r.body, "home logged_in=false");

    let (session, _, r) = h
        .login(&format!("idp={}&next=%2Fme", enc(IDP)), SpidLevel::L1)
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
    let (id, relay, _) = h.begin(&format!("idp={}", enc(IDP)), None).await;
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
    let (id, relay, browser) = h.begin(&format!("idp={}", enc(IDP)), None).await;
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
            .login(
                &format!("idp={}&next={}", enc(IDP), enc(evil)),
                SpidLevel::L1,
            )
            .await;
        assert_eq!(r.header("location"), Some("/me"), "{evil}");
    }
    let (_, _, r) = h
        .login(
            &format!("idp={}&next=%2Fl2%3Fa%3Db", enc(IDP)),
            SpidLevel::L2,
        )
        .await;
    assert_eq!(r.header("location"), Some("/l2?a=b"));
}

#[tokio::test]
async fn refusals_get_the_courtesy_page_and_its_status() {
    let h = start(SpidLevel::L2).await;
    let (id, relay, _) = h.begin(&format!("idp={}", enc(IDP)), None).await;
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
        h.get(&format!("/spid/login?idp={}&level=7", enc(IDP)), &[])
            .await
            .status,
        400
    );
    let r = h
        .get(
            &format!("/spid/login?idp={}&binding=redirect&level=3", enc(IDP)),
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
    let (l1, browser, _) = h.login(&format!("idp={}", enc(IDP)), SpidLevel::L1).await;

    for path in ["/l2", "/mw"] {
        let r = h.get(path, &[("spid_session", &l1)]).await;
        assert_eq!(r.status, 303, "{path}");
        let expected = format!("/spid/login?idp={}&level=2&next={}", enc(IDP), enc(path));
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
            &format!("idp={}&level=2&next=%2Fl2", enc(IDP)),
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
    let (session, _, _) = h.login(&format!("idp={}", enc(IDP)), SpidLevel::L1).await;
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
    let (id, relay, browser) = h.begin(&format!("idp={}", enc(IDP)), None).await;
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
    let r = h.get(&format!("/spid/login?idp={}", enc(IDP)), &[]).await;
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
    let id = request_id(&r);
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
