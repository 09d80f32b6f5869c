//! The axum integration over a real TCP socket: login through the ACS without cookies (as
//! a cross-site POST arrives), the browser-bound hand-off, the Session extractor, the
//! level guard's step-up, refusals, forged RelayState, open-redirect attempts, and single
//! logout in both directions.
#![cfg(feature = "axum")]

mod common;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::routing::get;
use axum::Router;
use base64::Engine as _;
use common::{enc, form, keypair, Reply};
use spid_sp::axum::{AtLeast, Session, SpidAuth, SpidAuthBuilder};
use spid_sp::binding::redirect;
use spid_sp::dsig::{self, SignatureAlgorithm, SignatureAnchor};
use spid_sp::fuzzing::tree;
use spid_sp::metadata::IdentityProvider;
use spid_sp::saml::{ASSERTION_NS, PROTOCOL_NS};
use spid_sp::store::{MemoryPendingStore, PendingStore};
use spid_sp::test_idp::{ResponseSpec, TestIdp};
use spid_sp::xml::Limits;
use spid_sp::{
    Binding, Comparison, FixedClock, LoginOptions, ServiceProvider, SpConfig, SpidLevel,
};

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
    start_opts(Opts {
        guard: level_for_guard,
        secure_cookies,
        ..Opts::default()
    })
    .await
}

/// What a harness is built with.
struct Opts {
    /// The level of the `/mw` middleware guard.
    guard: SpidLevel,
    secure_cookies: bool,
    /// The SP's configured login options (level L1 by default here).
    login: LoginOptions,
    /// An `options_for_idp` hook.
    hook: Option<fn(&IdentityProvider, &mut LoginOptions)>,
    /// The pending store (default: the in-memory default).
    pending: Option<Arc<dyn PendingStore>>,
    /// Extra builder steps.
    builder: Option<fn(SpidAuthBuilder) -> SpidAuthBuilder>,
    /// Serve with the peer address (`ConnectInfo`), as applications must.
    connect_info: bool,
}

impl Default for Opts {
    fn default() -> Self {
        Opts {
            guard: SpidLevel::L2,
            secure_cookies: false,
            login: LoginOptions {
                level: SpidLevel::L1,
                ..LoginOptions::default()
            },
            hook: None,
            pending: None,
            builder: None,
            connect_info: true,
        }
    }
}

async fn start_opts(opts: Opts) -> Harness {
    let (level_for_guard, secure_cookies) = (opts.guard, opts.secure_cookies);
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
    let mut builder = SpidAuth::builder(sp)
        .metadata_xml("<md:EntityDescriptor/>")
        .secure_cookies(secure_cookies)
        .login_options(opts.login)
        .login_page("/")
        .after_login("/me");
    if let Some(hook) = opts.hook {
        builder = builder.options_for_idp(hook);
    }
    if let Some(store) = opts.pending {
        builder = builder.pending_store(store);
    }
    if let Some(f) = opts.builder {
        builder = f(builder);
    }
    let auth = builder.build();
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
    async fn l1(AtLeast(s): AtLeast<1>) -> String {
        format!("l1 ok level={}", s.level().number())
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
        .route("/l1", get(l1))
        .merge(guarded)
        .merge(auth.routes())
        .layer(auth.layer());
    if opts.connect_info {
        let app = app.into_make_service_with_connect_info::<SocketAddr>();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    } else {
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    }
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

    /// `POST /spid/logout` as the SP's own page posts it (with its `Origin`).
    async fn logout(&self, session: &str) -> Reply {
        common::request(
            self.addr,
            "POST",
            "/spid/logout",
            &[("spid_session", session)],
            Some(""),
        )
        .header("Origin", &self.base)
        .send_async()
        .await
    }

    fn acs(&self) -> String {
        format!("{}/spid/acs", self.base)
    }

    /// GET /spid/login from the client at `ip`: (status, request ID, RelayState, browser).
    async fn begin_from(&self, ip: IpAddr, query: &str) -> (u16, String, String, String) {
        let r = common::request(self.addr, "GET", &format!("/spid/login?{query}"), &[], None)
            .source_ip(ip)
            .send_async()
            .await;
        if r.status != 200 {
            return (r.status, String::new(), String::new(), String::new());
        }
        let browser = r.cookies().get("spid_browser").cloned().unwrap();
        (
            r.status,
            request_id(&r),
            r.form_field("RelayState").unwrap(),
            browser,
        )
    }

    /// Returns a Response to a started login, then follows the hand-off: the ACS status,
    /// and the status of `/complete` (0 when the ACS refused).
    async fn finish(&self, id: &str, relay: &str, browser: &str) -> (u16, u16) {
        let f = form(&[
            ("SAMLResponse", &self.response(id, SpidLevel::L2)),
            ("RelayState", relay),
        ]);
        let r = self.post("/spid/acs", &[], &f).await;
        if r.status != 303 {
            return (r.status, 0);
        }
        let next = r.header("location").unwrap().to_owned();
        let r = self.get(&next, &[("spid_browser", browser)]).await;
        (303, r.status)
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
    let doc = tree::parse(&xml, &Limits::MESSAGE).unwrap();
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
    assert!(r.body.contains("browser-mismatch"), "{}", r.body);
    assert!(!r.cookies().contains_key("spid_session"));
    let r = h.get(&next, &[]).await;
    assert_eq!(r.status, 403);
    assert!(!r.cookies().contains_key("spid_session"));
    // ... nor burn it: the browser that started the login still finishes it...
    let r = h.get(&next, &[("spid_browser", &browser)]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let session = r.cookies().get("spid_session").cloned().unwrap();
    assert_eq!(
        h.get("/me", &[("spid_session", &session)]).await.status,
        200
    );
    // ... and the hand-off is single use.
    let r = h.get(&next, &[("spid_browser", &browser)]).await;
    assert_eq!(r.status, 403);
    assert!(!r.cookies().contains_key("spid_session"));
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

/// The courtesy and error pages come in one language, chosen by `Accept-Language`
/// (Italian by default, English only when the user weighs it above Italian), and say so
/// with `Content-Language` and `Vary: Accept-Language`.
#[tokio::test]
async fn pages_are_in_the_language_of_accept_language() {
    const IT: &str = "Senza il consenso";
    const EN: &str = "Without your consent";
    let h = start(SpidLevel::L2).await;
    for (accept, english) in [
        (None, false),
        (Some("en"), true),
        (Some("en-GB"), true),
        (Some("en-US,en;q=0.9"), true),
        (Some("it-IT;q=0.5, en;q=0.8"), true),
        (Some("de, en;q=0.5"), true),
        (Some("it"), false),
        (Some("en;q=0.3, it"), false),
        (Some("en;q=0"), false),
        (Some("fr-CH, fr;q=0.9"), false),
        (Some("*"), false),
        // Malformed: Italian.
        (Some("en;q=abc"), false),
        (Some("en;q=2"), false),
        (Some("en_GB"), false),
        (Some("en;level=1"), false),
        (Some("<script>alert(1)</script>"), false),
        (Some(""), false),
    ] {
        let (id, relay, _) = h.begin(&format!("idp={}", enc(IDP)), None).await;
        let refusal = h.idp.refusal(&id, &h.acs(), 22, h.now).unwrap();
        let body = form(&[("SAMLResponse", &b64(&refusal)), ("RelayState", &relay)]);
        let mut req = common::request(h.addr, "POST", "/spid/acs", &[], Some(&body));
        if let Some(a) = accept {
            req = req.header("Accept-Language", a);
        }
        let r = req.send_async().await;
        assert_eq!(r.status, 401, "{accept:?}");
        let (want, other, tag) = if english {
            (EN, IT, "en")
        } else {
            (IT, EN, "it")
        };
        assert!(r.body.contains(want), "{accept:?}: {}", r.body);
        assert!(
            !r.body.contains(other),
            "{accept:?}: one language only: {}",
            r.body
        );
        assert!(
            r.body.contains(&format!("<html lang=\"{tag}\">")),
            "{accept:?}: {}",
            r.body
        );
        assert_eq!(r.header("content-language"), Some(tag), "{accept:?}");
        assert!(
            r.headers
                .iter()
                .any(|(k, v)| k == "vary" && v.to_ascii_lowercase().contains("accept-language")),
            "{accept:?}: {:?}",
            r.headers
        );
    }

    // Pages made by the integration itself (not an IdP's courtesy text) too, and two
    // `Accept-Language` lines are one list.
    let r = common::request(
        h.addr,
        "GET",
        "/spid/login?idp=https%3A%2F%2Fnowhere.test",
        &[],
        None,
    )
    // Each line alone is Italian; together, English (0.5) above Italian (0.2).
    .header("Accept-Language", "it;q=0.2")
    .header("Accept-Language", "en;q=0.5, *;q=0.9")
    .send_async()
    .await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("Unknown identity provider."), "{}", r.body);
    assert!(!r.body.contains("Gestore dell"), "{}", r.body);
    assert_eq!(r.header("content-language"), Some("en"));
    let r = h
        .get("/spid/login?idp=https%3A%2F%2Fnowhere.test", &[])
        .await;
    assert!(r.body.contains("Gestore dell"), "{}", r.body);
    assert!(!r.body.contains("Unknown identity provider."), "{}", r.body);
    assert_eq!(r.header("content-language"), Some("it"));
}

/// An application's own [`spid_sp::axum::Pages`] written before `error_in` existed keeps
/// working: its page is sent as it is, without a `Content-Language` it did not declare.
#[tokio::test]
async fn pages_without_languages_keep_working() {
    struct Mine;
    impl spid_sp::axum::Pages for Mine {
        fn error(&self, error: &spid_sp::axum::AuthError) -> String {
            format!("<p>mine: {}</p>", error.code())
        }
    }
    let h = start_opts(Opts {
        builder: Some(|b| b.pages(Arc::new(Mine))),
        ..Opts::default()
    })
    .await;
    let r = common::request(
        h.addr,
        "GET",
        "/spid/login?idp=https%3A%2F%2Fnowhere.test",
        &[],
        None,
    )
    .header("Accept-Language", "en")
    .send_async()
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body, "<p>mine: start-failed</p>");
    assert_eq!(r.header("content-language"), None);
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
    let r = h.logout(&session).await;
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
    let doc = tree::parse(&request, &Limits::MESSAGE).unwrap();
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

// ---------------------------------------------------------------------------------------
// The configured level is a floor
// ---------------------------------------------------------------------------------------

/// The `SpidLN` class an AuthnRequest (in a login page's form) asks for.
fn requested_level(page: &Reply) -> u8 {
    let xml = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(page.form_field("SAMLRequest").unwrap())
            .unwrap(),
    )
    .unwrap();
    let at =
        xml.find("https://www.spid.gov.it/SpidL").unwrap() + "https://www.spid.gov.it/SpidL".len();
    xml[at..at + 1].parse().unwrap()
}

fn at_l2() -> LoginOptions {
    LoginOptions {
        level: SpidLevel::L2,
        ..LoginOptions::default()
    }
}

#[tokio::test]
async fn login_level_may_be_raised_never_lowered() {
    let h = start_opts(Opts {
        login: at_l2(),
        ..Opts::default()
    })
    .await;
    // A tampered link asking for less than the configured level: refused, visibly.
    let r = h
        .get(&format!("/spid/login?idp={}&level=1", enc(IDP)), &[])
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("level-below-minimum"), "{}", r.body);
    assert!(!r.body.contains("SAMLRequest"));
    for (query, level) in [("", 2), ("&level=2", 2), ("&level=3", 3)] {
        let r = h
            .get(&format!("/spid/login?idp={}{query}", enc(IDP)), &[])
            .await;
        assert_eq!(r.status, 200, "{query}: {}", r.body);
        assert_eq!(requested_level(&r), level, "{query}");
    }
}

#[tokio::test]
async fn the_options_hook_cannot_lower_the_level() {
    let h = start_opts(Opts {
        login: at_l2(),
        hook: Some(|_, o| o.level = SpidLevel::L1),
        ..Opts::default()
    })
    .await;
    let r = h.get(&format!("/spid/login?idp={}", enc(IDP)), &[]).await;
    assert_eq!(requested_level(&r), 2, "configured level re-applied");
    let r = h
        .get(&format!("/spid/login?idp={}&level=3", enc(IDP)), &[])
        .await;
    assert_eq!(requested_level(&r), 3, "the step-up level re-applied");
    // Raising is still the hook's to do.
    let h = start_opts(Opts {
        login: at_l2(),
        hook: Some(|_, o| o.level = SpidLevel::L3),
        ..Opts::default()
    })
    .await;
    let r = h.get(&format!("/spid/login?idp={}", enc(IDP)), &[]).await;
    assert_eq!(requested_level(&r), 3);
}

#[tokio::test]
async fn sessions_below_the_configured_level_are_not_sessions() {
    // `maximum` lets the IdP answer below the requested level: an L1 session at an SP
    // configured at L2.
    let h = start_opts(Opts {
        login: LoginOptions {
            comparison: Comparison::Maximum,
            ..at_l2()
        },
        ..Opts::default()
    })
    .await;
    let (l1, _, _) = h.login(&format!("idp={}", enc(IDP)), SpidLevel::L1).await;
    // `Session`: a step-up at the same IdP at the configured level, back here after.
    let r = h.get("/me?x=1", &[("spid_session", &l1)]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let expected = format!(
        "/spid/login?idp={}&level=2&next={}",
        enc(IDP),
        enc("/me?x=1")
    );
    assert_eq!(r.header("location"), Some(expected.as_str()));
    // `Option<Session>`: none.
    assert_eq!(
        h.get("/", &[("spid_session", &l1)]).await.body,
        "home logged_in=false"
    );
    // An explicit per-route minimum below the configured one is the application's call.
    let r = h.get("/l1", &[("spid_session", &l1)]).await;
    assert_eq!((r.status, r.body.as_str()), (200, "l1 ok level=1"));
    // At the configured level, the session is one.
    let (l2, _, _) = h.login(&format!("idp={}", enc(IDP)), SpidLevel::L2).await;
    let r = h.get("/me", &[("spid_session", &l2)]).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (200, "cf=RSSMRA80A01H501U level=2")
    );
}

// ---------------------------------------------------------------------------------------
// Pending logins are bounded per client
// ---------------------------------------------------------------------------------------

const FLOOD: usize = 2_000;

/// One client (127.0.0.1) starts `FLOOD` logins; another (127.0.0.2) started one before
/// and starts one after. The store holds 1,000 in all: without a per-client bound the
/// flood fills it and nobody else can log in.
#[tokio::test]
async fn one_client_flooding_login_only_evicts_its_own_pending_logins() {
    let h = Arc::new(
        start_opts(Opts {
            pending: Some(Arc::new(MemoryPendingStore::new(1_000))),
            ..Opts::default()
        })
        .await,
    );
    let query = format!("idp={}", enc(IDP));
    let flooder: IpAddr = [127, 0, 0, 1].into();
    let other: IpAddr = [127, 0, 0, 2].into();

    let before = h.begin_from(other, &query).await;
    assert_eq!(before.0, 200);
    let first = h.begin_from(flooder, &query).await;
    assert_eq!(first.0, 200);
    // The rest of the flood, 8 connections at a time.
    let mut refused = 0;
    for _ in 0..(FLOOD - 2) / 8 {
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let (h, q) = (h.clone(), query.clone());
            tasks.push(tokio::spawn(
                async move { h.begin_from(flooder, &q).await.0 },
            ));
        }
        for t in tasks {
            if t.await.unwrap() != 200 {
                refused += 1;
            }
        }
    }
    let last = h.begin_from(flooder, &query).await;
    let after = h.begin_from(other, &query).await;
    assert_eq!(after.0, 200, "the other client can still start a login");
    assert_eq!(
        refused, 0,
        "the flooding client is not refused, it evicts its own"
    );
    assert_eq!(last.0, 200);

    // The other client's logins, started before and after the flood, both complete.
    assert_eq!(h.finish(&before.1, &before.2, &before.3).await, (303, 303));
    assert_eq!(h.finish(&after.1, &after.2, &after.3).await, (303, 303));
    // The flooding client's oldest was evicted, its newest still completes.
    assert_eq!(h.finish(&first.1, &first.2, &first.3).await, (403, 0));
    assert_eq!(h.finish(&last.1, &last.2, &last.3).await, (303, 303));
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_forwarded_address_is_the_client() {
    let h = start_opts(Opts {
        builder: Some(|b| {
            b.pending_per_client(2)
                .trusted_proxy_header(axum::http::HeaderName::from_static("x-forwarded-for"))
        }),
        ..Opts::default()
    })
    .await;
    let begin = |xff: &'static str| {
        let r = common::request(
            h.addr,
            "GET",
            &format!("/spid/login?idp={}", enc(IDP)),
            &[],
            None,
        )
        .header("X-Forwarded-For", xff);
        async move {
            let r = r.send_async().await;
            assert_eq!(r.status, 200);
            (
                request_id(&r),
                r.form_field("RelayState").unwrap(),
                r.cookies().get("spid_browser").cloned().unwrap(),
            )
        }
    };
    // The last entry counts (what the proxy appended), not what the client sent first.
    let a = begin("192.0.2.1, 198.51.100.7").await;
    let b = begin("192.0.2.1, 198.51.100.8").await;
    for _ in 0..3 {
        begin("192.0.2.2, 198.51.100.7").await;
    }
    assert_eq!(
        h.finish(&a.0, &a.1, &a.2).await.0,
        403,
        "evicted by its own client"
    );
    assert_eq!(
        h.finish(&b.0, &b.1, &b.2).await,
        (303, 303),
        "another client"
    );

    // Without the setting, the header is ignored: every request here is 127.0.0.1.
    let h = start_opts(Opts {
        builder: Some(|b| b.pending_per_client(2)),
        ..Opts::default()
    })
    .await;
    let mut started = Vec::new();
    for xff in ["203.0.113.1", "203.0.113.2", "203.0.113.3"] {
        let r = common::request(
            h.addr,
            "GET",
            &format!("/spid/login?idp={}", enc(IDP)),
            &[],
            None,
        )
        .header("X-Forwarded-For", xff)
        .send_async()
        .await;
        started.push((
            request_id(&r),
            r.form_field("RelayState").unwrap(),
            r.cookies().get("spid_browser").cloned().unwrap(),
        ));
    }
    let a = &started[0];
    assert_eq!(
        h.finish(&a.0, &a.1, &a.2).await.0,
        403,
        "one client: evicted"
    );
}

#[tokio::test]
async fn without_connect_info_every_client_shares_the_global_bound() {
    let h = start_opts(Opts {
        connect_info: false,
        builder: Some(|b| b.pending_per_client(2)),
        ..Opts::default()
    })
    .await;
    // No peer address: no per-client eviction (one bucket, the store's global bound).
    let query = format!("idp={}", enc(IDP));
    let first = h.begin_from([127, 0, 0, 1].into(), &query).await;
    for _ in 0..3 {
        assert_eq!(h.begin_from([127, 0, 0, 1].into(), &query).await.0, 200);
    }
    assert_eq!(h.finish(&first.1, &first.2, &first.3).await, (303, 303));
}

// ---------------------------------------------------------------------------------------
// Logout only from the SP's own pages
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn logout_is_refused_unless_posted_from_the_sp_origin() {
    let h = start(SpidLevel::L2).await;
    let (session, _, _) = h.login(&format!("idp={}", enc(IDP)), SpidLevel::L1).await;
    let port = h.addr.port();
    let sibling = format!("http://other.localhost:{port}");
    let other_port = "http://127.0.0.1:1".to_owned();
    let refused: Vec<Vec<(&str, &str)>> = vec![
        // No Origin, no Sec-Fetch-Site: refused (every browser sends Origin on a POST).
        vec![],
        vec![("Origin", "https://evil.example")],
        vec![("Origin", "null")],
        vec![("Origin", &sibling), ("Sec-Fetch-Site", "same-site")],
        vec![("Origin", &other_port)],
        vec![("Sec-Fetch-Site", "cross-site")],
        vec![("Sec-Fetch-Site", "same-site")],
        vec![("Sec-Fetch-Site", "none")],
    ];
    for headers in &refused {
        let mut req = common::request(
            h.addr,
            "POST",
            "/spid/logout",
            &[("spid_session", &session)],
            Some(""),
        );
        for (k, v) in headers {
            req = req.header(k, v);
        }
        let r = req.send_async().await;
        assert_eq!(r.status, 403, "{headers:?}: {}", r.body);
        assert!(r.body.contains("cross-origin-logout"), "{}", r.body);
        assert!(r.body.contains("Uscita non riuscita"), "{}", r.body);
        assert!(
            !r.headers.iter().any(|(k, _)| k == "set-cookie"),
            "{headers:?}"
        );
        assert_eq!(
            h.get("/me", &[("spid_session", &session)]).await.status,
            200,
            "{headers:?}: the session stays"
        );
    }
    // The SP's own page: Sec-Fetch-Site: same-origin (even without Origin)...
    let r = common::request(
        h.addr,
        "POST",
        "/spid/logout",
        &[("spid_session", &session)],
        Some(""),
    )
    .header("Sec-Fetch-Site", "same-origin")
    .send_async()
    .await;
    assert_eq!(r.status, 302, "{}", r.body);
    assert_eq!(
        h.get("/me", &[("spid_session", &session)]).await.status,
        303
    );
    // ... or its Origin (the scheme, host and port of the ACS URL).
    let (session, _, _) = h.login(&format!("idp={}", enc(IDP)), SpidLevel::L1).await;
    let r = h.logout(&session).await;
    assert_eq!(r.status, 302, "{}", r.body);
    assert_eq!(
        h.get("/me", &[("spid_session", &session)]).await.status,
        303
    );
}

#[tokio::test]
async fn extra_logout_origins_can_be_trusted() {
    let h = start_opts(Opts {
        builder: Some(|b| b.trusted_origin("https://WWW.example.it:443/")),
        ..Opts::default()
    })
    .await;
    let (session, _, _) = h.login(&format!("idp={}", enc(IDP)), SpidLevel::L1).await;
    let post = |origin: &'static str| {
        common::request(
            h.addr,
            "POST",
            "/spid/logout",
            &[("spid_session", &session)],
            Some(""),
        )
        .header("Origin", origin)
        .send_async()
    };
    assert_eq!(post("https://evil.example.it").await.status, 403);
    assert_eq!(post("https://www.example.it").await.status, 302);
}

// ---------------------------------------------------------------------------------------
// The test IdP answers loopback clients only
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn the_test_idp_answers_loopback_peers_only() {
    use axum::extract::connect_info::MockConnectInfo;
    use spid_sp::test_idp::server::TestIdpServer;
    use spid_sp::test_idp::TestIdpMode;

    async fn serve(peer: Option<Option<SocketAddr>>) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let url = format!("http://{addr}/test-idp");
        let server = TestIdpServer::new(
            TestIdpMode::IKnowThisIsNotAnAccreditedIdp,
            TestIdp::new(url.clone(), keypair("idp", 2048)),
            url,
        )
        .unwrap();
        let app: Router = server.routes();
        match peer {
            // The real peer address (127.0.0.1 here).
            None => {
                let app = app.into_make_service_with_connect_info::<SocketAddr>();
                tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
            }
            // A peer address from elsewhere (as with `--bind 0.0.0.0`).
            Some(Some(peer)) => {
                let app = app.layer(MockConnectInfo(peer));
                tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
            }
            // Served without ConnectInfo: no peer address at all.
            Some(None) => {
                tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
            }
        }
        addr
    }
    let get = |addr: SocketAddr, path: &'static str| {
        common::request(addr, "GET", path, &[], None).send_async()
    };

    let addr = serve(None).await;
    assert_eq!(get(addr, "/test-idp/metadata").await.status, 200);
    for peer in ["192.0.2.10:5555", "[2001:db8::1]:5555", "10.0.0.1:1"] {
        let addr = serve(Some(Some(peer.parse().unwrap()))).await;
        for path in ["/test-idp/metadata", "/test-idp/", "/test-idp/sso"] {
            let r = get(addr, path).await;
            assert_eq!(r.status, 403, "{peer} {path}");
            assert!(r.body.contains("loopback"), "{}", r.body);
        }
    }
    for peer in ["127.0.0.1:5555", "[::1]:5555", "[::ffff:127.0.0.1]:5555"] {
        let addr = serve(Some(Some(peer.parse().unwrap()))).await;
        assert_eq!(get(addr, "/test-idp/metadata").await.status, 200, "{peer}");
    }
    let addr = serve(Some(None)).await;
    assert_eq!(
        get(addr, "/test-idp/metadata").await.status,
        403,
        "fail closed"
    );
}

/// A body the ACS cannot read (not UTF-8, or over the 1 MiB limit) gets the HTML error
/// page with a 4xx status, like any other malformed message, not axum's plain text.
#[tokio::test]
async fn unreadable_acs_bodies_get_the_error_page() {
    let h = start(SpidLevel::L2).await;
    let addr = h.addr;
    let raw = |body: Vec<u8>| {
        tokio::task::spawn_blocking(move || {
            use std::io::{Read as _, Write as _};
            let mut s = std::net::TcpStream::connect(addr).unwrap();
            let head = format!(
                "POST /spid/acs HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            s.write_all(head.as_bytes()).unwrap();
            // The server may answer (and close) before reading a body over the limit.
            let _ = s.write_all(&body);
            let mut reply = Vec::new();
            let _ = s.read_to_end(&mut reply);
            String::from_utf8_lossy(&reply).into_owned()
        })
    };
    for (body, code) in [
        (b"SAMLResponse=\xff\xfe\xfd".to_vec(), "input-encoding"),
        (vec![b'a'; 2 * 1024 * 1024], "input-too-large"),
    ] {
        let reply = raw(body).await.unwrap();
        let status = reply.split(' ').nth(1).unwrap_or("");
        assert_eq!(status, "400", "{reply:.300}");
        assert!(
            reply
                .to_ascii_lowercase()
                .contains("content-type: text/html"),
            "{reply:.300}"
        );
        assert!(
            reply.contains("<!DOCTYPE html>") && reply.contains(code),
            "{reply:.600}"
        );
    }
}

/// The registry of [`a_registry_that_cannot_write_stops_the_login_with_503`].
static AUDIT: std::sync::OnceLock<Arc<spid_sp::audit::MemoryAuditLog>> = std::sync::OnceLock::new();

#[tokio::test]
async fn a_registry_that_cannot_write_stops_the_login_with_503() {
    let audit = AUDIT.get_or_init(Default::default).clone();
    let h = start_opts(Opts {
        builder: Some(|b| b.audit_log(AUDIT.get_or_init(Default::default).clone())),
        ..Opts::default()
    })
    .await;
    let (id, relay, _) = h.begin(&format!("idp={}", enc(IDP)), None).await;
    let response = h.response(&id, SpidLevel::L1);
    audit.set_failing(true);
    let acs = form(&[("SAMLResponse", &response), ("RelayState", &relay)]);
    let r = h.post("/spid/acs", &[], &acs).await;
    assert_eq!(r.status, 503, "{}", r.body);
    assert!(r.body.contains("temporaneamente") && r.body.contains("audit-unavailable"));
    assert!(r.header("set-cookie").is_none() && r.header("location").is_none());
    // No request leaves either.
    let r = h.get(&format!("/spid/login?idp={}", enc(IDP)), &[]).await;
    assert_eq!(r.status, 503, "{}", r.body);
    // Recovery without restart: the registry works again, a new login completes.
    audit.set_failing(false);
    let (session, _, _) = h.login(&format!("idp={}", enc(IDP)), SpidLevel::L1).await;
    assert!(!session.is_empty());
    let kinds: Vec<_> = audit.records().iter().map(|r| r.outcome.name()).collect();
    assert_eq!(kinds, ["sent", "sent", "accepted"]);
}

/// A file-less backend whose syncs the test can hold (then release with a result); while
/// not held they return at once.
#[cfg(feature = "audit")]
#[derive(Default)]
struct HeldStore {
    state: std::sync::Mutex<Held>,
    changed: std::sync::Condvar,
}

#[cfg(feature = "audit")]
#[derive(Default)]
struct Held {
    holding: bool,
    /// Syncs waiting for a release.
    waiting: usize,
    release: Option<Result<(), spid_sp::audit::AuditError>>,
}

#[cfg(feature = "audit")]
impl HeldStore {
    fn hold(&self) {
        let mut s = self.state.lock().unwrap();
        s.holding = true;
        s.release = None;
    }
    fn release(&self, r: Result<(), spid_sp::audit::AuditError>) {
        let mut s = self.state.lock().unwrap();
        s.holding = false;
        s.release = Some(r);
        self.changed.notify_all();
    }
    fn waiting(&self) -> usize {
        self.state.lock().unwrap().waiting
    }
}

#[cfg(feature = "audit")]
impl spid_sp::audit::EntryStore for HeldStore {
    fn store(&self, _: &[spid_sp::audit::StoredEntry]) -> Result<(), spid_sp::audit::AuditError> {
        Ok(())
    }
    fn sync(&self) -> Result<(), spid_sp::audit::AuditError> {
        let mut s = self.state.lock().unwrap();
        if !s.holding && s.release.is_none() {
            return Ok(());
        }
        s.waiting += 1;
        self.changed.notify_all();
        while s.release.is_none() {
            s = self.changed.wait(s).unwrap();
        }
        s.waiting -= 1;
        let r = s.release.clone().unwrap();
        if s.waiting == 0 {
            s.release = None;
        }
        r
    }
}

#[cfg(feature = "audit")]
type HeldLog = spid_sp::audit::ChainedLog<HeldStore>;

/// The registry of [`the_acs_awaits_the_registry_without_holding_a_blocking_thread`].
#[cfg(feature = "audit")]
static HELD: std::sync::OnceLock<Arc<HeldLog>> = std::sync::OnceLock::new();
/// Logins the `on_login` hook saw (it runs only after the record is durable).
#[cfg(feature = "audit")]
static HOOKED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Waits (bounded: a hang is a failure, not a timing) until `f` holds.
#[cfg(feature = "audit")]
async fn until(what: &str, f: impl Fn() -> bool) {
    for _ in 0..6000 {
        if f() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("never: {what}");
}

/// The ACS awaits a slow group commit off the blocking pool (it waits on its thread for
/// 10 ms at most, `DURABLE_WAIT`): with a blocking pool of ONE thread, while a login's
/// record waits for its sync, another request that needs the pool is served; no session hand-off exists (the `on_login` hook has not run, no
/// redirect) until the sync returns; a failed sync refuses the login with 503.
#[cfg(feature = "audit")]
#[tokio::test]
async fn the_acs_awaits_the_registry_without_holding_a_blocking_thread() {
    held_acs(&HELD, |b| {
        b.audit_log(HELD.get().unwrap().clone()).on_login(|_| {
            HOOKED.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        })
    })
    .await;
}

/// The same without an `on_login` hook (the hand-off into the in-memory store is then
/// made on the request's task once the record is durable).
#[cfg(feature = "audit")]
#[tokio::test]
async fn without_a_login_hook_the_acs_also_hands_off_only_after_durability() {
    held_acs(&HELD_NO_HOOK, |b| {
        b.audit_log(HELD_NO_HOOK.get().unwrap().clone())
    })
    .await;
}

/// The registry of [`without_a_login_hook_the_acs_also_hands_off_only_after_durability`].
#[cfg(feature = "audit")]
static HELD_NO_HOOK: std::sync::OnceLock<Arc<HeldLog>> = std::sync::OnceLock::new();

#[cfg(feature = "audit")]
async fn held_acs(
    held: &'static std::sync::OnceLock<Arc<HeldLog>>,
    builder: fn(SpidAuthBuilder) -> SpidAuthBuilder,
) {
    use std::sync::atomic::Ordering;
    let log = held.get_or_init(|| {
        Arc::new(
            spid_sp::audit::ChainedLog::new(
                HeldStore::default(),
                "held",
                spid_sp::audit::CheckpointKey::generate().unwrap(),
                Arc::new(FixedClock(common::now())),
            )
            .unwrap(),
        )
    });
    // The SP in a runtime of its own whose blocking pool has one thread.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .max_blocking_threads(1)
            .build()
            .unwrap();
        rt.block_on(async move {
            let h = start_opts(Opts {
                builder: Some(builder),
                ..Opts::default()
            })
            .await;
            tx.send(h).unwrap();
            std::future::pending::<()>().await
        });
    });
    let h = Arc::new(rx.recv().unwrap());
    let store = log.store();
    let with_hook = std::ptr::eq(held, &HELD);
    for outcome in [Ok(()), Err(spid_sp::audit::AuditError("disk gone".into()))] {
        let failing = outcome.is_err();
        let (id, relay, browser) = h.begin(&format!("idp={}", enc(IDP)), None).await;
        let acs = form(&[
            ("SAMLResponse", &h.response(&id, SpidLevel::L1)),
            ("RelayState", &relay),
        ]);
        let hooked = HOOKED.load(Ordering::SeqCst);
        store.hold();
        let h2 = h.clone();
        let posted = tokio::spawn(async move { h2.post("/spid/acs", &[], &acs).await });
        until("the response record's sync", || store.waiting() > 0).await;
        // The only blocking thread is free: a request that needs it is answered.
        let other = h
            .get(&format!("/spid/complete?handoff={}", "0".repeat(64)), &[])
            .await;
        assert_eq!(other.status, 403, "{}", other.body);
        assert!(
            !posted.is_finished(),
            "answered before the record was durable"
        );
        assert_eq!(
            HOOKED.load(Ordering::SeqCst),
            hooked,
            "login hook before durability"
        );
        store.release(outcome);
        let r = posted.await.unwrap();
        if failing {
            assert_eq!(r.status, 503, "{}", r.body);
            assert!(r.body.contains("audit-unavailable"), "{}", r.body);
            assert!(r.header("location").is_none() && r.header("set-cookie").is_none());
            assert_eq!(HOOKED.load(Ordering::SeqCst), hooked);
        } else {
            assert_eq!(r.status, 303, "{}", r.body);
            if with_hook {
                assert_eq!(HOOKED.load(Ordering::SeqCst), hooked + 1);
            }
            let next = r.header("location").unwrap().to_owned();
            assert!(next.starts_with("/spid/complete?handoff="), "{next}");
            let r = h.get(&next, &[("spid_browser", &browser)]).await;
            assert_eq!(r.status, 303, "{}", r.body);
            assert!(r.cookies().contains_key("spid_session"));
        }
    }
}

/// Sessions the `on_session` hook of [`the_session_hook_sees_every_saml_login_once`] saw.
static SESSIONS_SEEN: std::sync::Mutex<Vec<(String, u8)>> = std::sync::Mutex::new(Vec::new());

/// `on_session` is called once per completed login with the session the application will
/// get (here a SAML login; the CNS path in tests/cns_flow.rs), and a replayed Response
/// creates no session and no call.
#[tokio::test]
async fn the_session_hook_sees_every_saml_login_once() {
    let h = start_opts(Opts {
        builder: Some(|b| {
            b.on_session(|s| {
                SESSIONS_SEEN.lock().unwrap().push((
                    s.identity()
                        .fiscal_code()
                        .map(|c| c.as_str().to_owned())
                        .unwrap_or_default(),
                    s.level().number(),
                ))
            })
        }),
        ..Opts::default()
    })
    .await;
    let (id, relay, browser) = h.begin(&format!("idp={}", enc(IDP)), None).await;
    let response = h.response(&id, SpidLevel::L2);
    let acs = form(&[("SAMLResponse", &response), ("RelayState", &relay)]);
    let r = h.post("/spid/acs", &[], &acs).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let next = r.header("location").unwrap().to_owned();
    assert_eq!(
        h.get(&next, &[("spid_browser", &browser)]).await.status,
        303
    );
    // The same Response again: refused, no second session.
    assert_eq!(h.post("/spid/acs", &[], &acs).await.status, 403);
    let seen = SESSIONS_SEEN.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].1, 2);
    assert!(!seen[0].0.is_empty(), "the session carries the fiscal code");
}
