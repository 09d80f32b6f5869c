//! The test IdP: its guards (loopback only, explicit mode, marked metadata refused by the
//! axum integration unless the application opts in), its verification of SP messages
//! against the SP metadata (both bindings), and a whole login, refusal and single logout
//! through its HTTP server and the axum integration over a real socket.

mod common;

use std::sync::Arc;

use common::{keypair, now};
use spid_sp::metadata::{Contact, IdentityProvider, Organization, SpMetadata, SpProfile};
use spid_sp::test_idp::{
    is_loopback_url, ResponseSpec, TestIdp, TestIdpError, TestIdpMode, TrustedSp, TEST_USERS,
};
use spid_sp::{
    Binding, Delivery, FixedClock, Incoming, LoginOptions, Purpose, ServiceProvider, SigningKey,
    SpConfig, SpidLevel,
};

/// An SP at `base` (ACS `/spid/acs`, SLO `/spid/slo`) and its signed metadata.
fn sp_config(base: &str, key: SigningKey) -> (SpConfig, String) {
    let config = SpConfig::builder(base, key)
        .assertion_consumer_service(format!("{base}/spid/acs"))
        .attribute_service(0, "Servizi", &["fiscalNumber", "name", "familyName"])
        .logout_service(Binding::Redirect, format!("{base}/spid/slo"))
        .logout_service(Binding::Post, format!("{base}/spid/slo"))
        .build()
        .unwrap();
    let organization = Organization {
        name: "Prova".into(),
        display_name: "Prova".into(),
        url: format!("{base}/"),
        ..Default::default()
    };
    let contact = Contact {
        email: "prova@example.it".into(),
        phone: Some("+390612345678".into()),
        ipa_code: Some("c_h501".into()),
        ..Default::default()
    };
    let xml = SpMetadata::new(SpProfile::SpidPublic, organization, contact)
        .to_xml_at(&config, now())
        .unwrap();
    (config, xml)
}

#[test]
fn loopback_urls() {
    for ok in [
        "http://127.0.0.1:8000/test-idp",
        "http://localhost/x",
        "https://LOCALHOST:8443",
        "http://demo.localhost:1/",
        "http://127.9.9.9",
        "http://[::1]:9000/idp",
    ] {
        assert!(is_loopback_url(ok), "{ok}");
    }
    for bad in [
        "https://idp.example.it",
        "http://127.0.0.1@evil.example/",
        "http://evil.example#@127.0.0.1",
        "http://localhost.evil.example/",
        "http://10.0.0.1/",
        "http://[::2]/",
        "http://127.0.0.1:80x/",
        "ftp://127.0.0.1/",
        "127.0.0.1",
        "",
    ] {
        assert!(!is_loopback_url(bad), "{bad}");
    }
}

#[cfg(feature = "axum")]
#[test]
fn the_http_test_idp_only_runs_on_loopback() {
    use spid_sp::test_idp::server::TestIdpServer;
    let mode = TestIdpMode::IKnowThisIsNotAnAccreditedIdp;
    let key = keypair("idp", 2048);
    let public = TestIdp::new("https://idp.example.it", key.clone());
    assert_eq!(
        TestIdpServer::new(mode, public, "http://127.0.0.1:8000/test-idp").unwrap_err(),
        TestIdpError::NotLoopback("entityID")
    );
    let local = TestIdp::new("http://127.0.0.1:8000/test-idp", key.clone());
    assert_eq!(
        TestIdpServer::new(mode, local.clone(), "https://idp.example.it/test-idp").unwrap_err(),
        TestIdpError::NotLoopback("base url")
    );
    let server = TestIdpServer::new(mode, local, "http://127.0.0.1:8000/test-idp/").unwrap();
    assert_eq!(server.base_url(), "http://127.0.0.1:8000/test-idp");
    // What it publishes says what it is.
    let idps = IdentityProvider::from_metadata(&server.metadata()).unwrap();
    assert!(idps[0].is_test_idp());
}

#[test]
fn marked_metadata_is_recognised_and_only_it() {
    let idp = TestIdp::new("http://127.0.0.1:1/test-idp", keypair("idp", 2048));
    let marked = IdentityProvider::from_metadata(&idp.marked_metadata("http://127.0.0.1:1/x"));
    assert!(marked.unwrap()[0].is_test_idp());
    let plain = IdentityProvider::from_metadata(&idp.metadata("http://127.0.0.1:1/x")).unwrap();
    assert!(!plain[0].is_test_idp());
    let registry = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("metadata/spid-entities-idps.xml"),
    )
    .unwrap();
    let all = IdentityProvider::from_metadata(&registry).unwrap();
    assert!(!all.is_empty() && all.iter().all(|i| !i.is_test_idp()));
}

/// An SP trusting a (marked) test IdP, with the IdP's view of the SP.
struct Pair {
    sp: ServiceProvider,
    idp: TestIdp,
    trusted: Vec<TrustedSp>,
    base: String,
}

fn pair() -> Pair {
    let base = "http://127.0.0.1:8000".to_owned();
    let idp_url = format!("{base}/test-idp");
    let idp = TestIdp::new(idp_url.clone(), keypair("idp", 2048));
    let (config, metadata) = sp_config(&base, keypair("sp", 2048));
    let idps = IdentityProvider::from_metadata(&idp.marked_metadata(&idp_url)).unwrap();
    // The core refuses a marked test IdP until the SP opts in (not only the axum layer).
    let closed = ServiceProvider::new(config.clone(), idps.clone())
        .expect("service provider")
        .with_clock(Arc::new(FixedClock(now())));
    assert!(!closed.allows_test_idp());
    let e = closed
        .start_login(&idp_url, &LoginOptions::default())
        .unwrap_err();
    assert_eq!(e, spid_sp::StartError::TestIdpRefused);
    let sp = ServiceProvider::new(config, idps)
        .expect("service provider")
        .with_clock(Arc::new(FixedClock(now())))
        .allow_test_idp(TestIdpMode::IKnowThisIsNotAnAccreditedIdp);
    // A login started with the opt-in cannot be finished by an SP without it.
    let (_, pending) = sp.start_login(&idp_url, &LoginOptions::default()).unwrap();
    let spec = ResponseSpec::new(
        pending.request_id().as_str(),
        pending.acs_url(),
        sp.config().entity_id().as_str(),
        SpidLevel::L2,
        now(),
    );
    let xml = idp.response(&spec).unwrap();
    let incoming = Incoming::Post {
        message: base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &xml),
        relay_state: Some(pending.relay_state().as_str().to_owned()),
    };
    match closed.finish_login(&incoming, pending) {
        Err(spid_sp::LoginError::Rejected(r)) => assert_eq!(r.code(), "test-idp-refused"),
        other => panic!("{other:?}"),
    }
    let trusted = vec![TrustedSp::from_metadata(&metadata).unwrap()];
    Pair {
        sp,
        idp,
        trusted,
        base,
    }
}

fn incoming(out: &spid_sp::Outgoing) -> Incoming {
    match out.delivery() {
        Delivery::Redirect { url } => Incoming::Redirect {
            query: url.split_once('?').unwrap().1.to_owned(),
        },
        Delivery::Post {
            value, relay_state, ..
        } => Incoming::Post {
            message: value.clone(),
            relay_state: relay_state.clone(),
        },
    }
}

#[test]
fn authn_requests_are_verified_against_the_sp_metadata() {
    let p = pair();
    let sso = format!("{}/test-idp/sso", p.base);
    for binding in [Binding::Post, Binding::Redirect] {
        let options = LoginOptions {
            binding,
            level: SpidLevel::L3,
            purpose: Some(Purpose::Professional),
            ..LoginOptions::default()
        };
        let (out, pending) = p.sp.start_login(p.idp.entity_id(), &options).unwrap();
        let req = p
            .idp
            .verify_authn_request(&p.trusted, &incoming(&out), &sso, now())
            .unwrap();
        assert_eq!(req.id, pending.request_id().as_str());
        assert_eq!(req.sp, p.base);
        assert_eq!(req.binding, binding);
        assert_eq!(req.acs_url, format!("{}/spid/acs", p.base));
        assert_eq!(req.level, SpidLevel::L3);
        assert_eq!(req.purpose, Some(Purpose::Professional));
        assert_eq!(
            req.requested_attributes,
            ["fiscalNumber", "name", "familyName"]
        );
        assert_eq!(
            req.relay_state.as_deref(),
            Some(pending.relay_state().as_str())
        );

        // The Response the login form would send: accepted by the SP.
        let citizen = &TEST_USERS[0];
        let mut spec = ResponseSpec::new(&req.id, &req.acs_url, &req.sp, SpidLevel::L3, now());
        for name in &req.requested_attributes {
            spec = spec.attribute(name, citizen.attribute(name).unwrap());
        }
        let xml = p.idp.response(&spec).unwrap();
        let login =
            p.sp.finish_login(&common::post(&xml, req.relay_state.as_deref()), pending)
                .unwrap();
        assert_eq!(
            login.identity().fiscal_code().unwrap().as_str(),
            "RSSMRA80A01H501U"
        );

        // Wrong endpoint: nr14; the IdP's entityID is accepted as Destination (Avviso 11).
        let e = p
            .idp
            .verify_authn_request(
                &p.trusted,
                &incoming(&out),
                "http://127.0.0.1:8000/x",
                now(),
            )
            .unwrap_err();
        assert_eq!(e.code, Some(14), "{e}");
        // Too old: nr13.
        let e = p
            .idp
            .verify_authn_request(&p.trusted, &incoming(&out), &sso, now().plus_seconds(3600))
            .unwrap_err();
        assert_eq!(e.code, Some(13), "{e}");
        // An SP it does not know.
        let e = p
            .idp
            .verify_authn_request(&[], &incoming(&out), &sso, now())
            .unwrap_err();
        assert_eq!(e.code, None);
    }
}

#[test]
fn forged_authn_requests_are_refused() {
    let p = pair();
    let sso = format!("{}/test-idp/sso", p.base);
    // Signed by another key than the SP metadata's.
    let (config, _) = sp_config(&p.base, keypair("intruder", 2048));
    let idps = IdentityProvider::from_metadata(&p.idp.marked_metadata(p.idp.entity_id())).unwrap();
    let intruder = ServiceProvider::new(config, idps)
        .expect("service provider")
        .with_clock(Arc::new(FixedClock(now())))
        .allow_test_idp(TestIdpMode::IKnowThisIsNotAnAccreditedIdp);
    for (binding, code) in [(Binding::Post, 7), (Binding::Redirect, 5)] {
        let options = LoginOptions {
            binding,
            ..LoginOptions::default()
        };
        let (out, _) = intruder.start_login(p.idp.entity_id(), &options).unwrap();
        let e = p
            .idp
            .verify_authn_request(&p.trusted, &incoming(&out), &sso, now())
            .unwrap_err();
        assert_eq!(e.code, Some(code), "{binding:?}: {e}");
    }
    // A POSTed request whose signed content was changed afterwards.
    let (out, _) =
        p.sp.start_login(p.idp.entity_id(), &LoginOptions::default())
            .unwrap();
    let xml = out.xml().replace("SpidL2", "SpidL1");
    use base64::Engine as _;
    let tampered = Incoming::Post {
        message: base64::engine::general_purpose::STANDARD.encode(xml),
        relay_state: None,
    };
    let e = p
        .idp
        .verify_authn_request(&p.trusted, &tampered, &sso, now())
        .unwrap_err();
    assert_eq!(e.code, Some(7), "{e}");
}

#[test]
fn single_logout_both_ways_both_bindings() {
    let p = pair();
    let slo = format!("{}/test-idp/slo", p.base);
    let (out, pending) =
        p.sp.start_login(p.idp.entity_id(), &LoginOptions::default())
            .unwrap();
    let req = p
        .idp
        .verify_authn_request(
            &p.trusted,
            &incoming(&out),
            &format!("{}/test-idp/sso", p.base),
            now(),
        )
        .unwrap();
    let spec = ResponseSpec::new(&req.id, &req.acs_url, &req.sp, SpidLevel::L2, now())
        .attribute("fiscalNumber", "TINIT-RSSMRA80A01H501U");
    let xml = p.idp.response(&spec).unwrap();
    let login =
        p.sp.finish_login(&common::post(&xml, req.relay_state.as_deref()), pending)
            .unwrap();

    for binding in [Binding::Redirect, Binding::Post] {
        // SP-initiated: the IdP verifies the LogoutRequest and answers; the SP accepts.
        let (out, pending) = p.sp.start_logout(login.session(), binding).unwrap();
        let lr = p
            .idp
            .verify_logout_request(&p.trusted, &incoming(&out), &slo, now())
            .unwrap();
        assert_eq!(lr.name_id, spec.name_id);
        assert_eq!(lr.binding, binding);
        let answer = p.idp.logout_response(&p.trusted[0], &lr, now()).unwrap();
        assert_eq!(
            p.sp.finish_logout(&incoming(&answer), pending).unwrap(),
            spid_sp::LogoutOutcome::Complete
        );

        // IdP-initiated: the SP verifies the LogoutRequest and answers; the IdP accepts.
        let (out, id) = p
            .idp
            .logout_request(&p.trusted[0], &spec.name_id, None, binding, now())
            .unwrap();
        let (info, answer) =
            p.sp.handle_logout_request(&incoming(&out), binding)
                .unwrap();
        assert_eq!(info.name_id.as_str(), spec.name_id);
        let resp = p
            .idp
            .verify_logout_response(&p.trusted, &incoming(&answer), &slo, now())
            .unwrap();
        assert_eq!(resp.in_response_to, id);
        assert!(resp.success);
    }
}

#[test]
fn sp_metadata_is_checked() {
    let (_, xml) = sp_config("http://127.0.0.1:8000", keypair("sp", 2048));
    let sp = TrustedSp::from_metadata(&xml).unwrap();
    assert_eq!(sp.default_acs().unwrap().index, 0);
    // A signature that does not verify with the metadata's own certificate.
    let tampered = xml.replace("Servizi", "Servizj");
    assert!(matches!(
        TrustedSp::from_metadata(&tampered),
        Err(TestIdpError::SpMetadata(_))
    ));
    assert!(TrustedSp::from_metadata("<x/>").is_err());
    assert!(TrustedSp::from_metadata("not xml").is_err());
}

#[cfg(feature = "axum")]
mod http {
    //! The test IdP server and the axum integration in one app on a real socket.

    use std::sync::Arc;

    use axum::Router;
    use spid_sp::axum::{Session, SpidAuth};
    use spid_sp::metadata::IdentityProvider;
    use spid_sp::store::MemoryPendingStore;
    use spid_sp::test_idp::server::TestIdpServer;
    use spid_sp::test_idp::{TestIdp, TestIdpMode};
    use spid_sp::{FixedClock, ServiceProvider};

    use super::common::{self, enc, form, Reply};
    use super::{keypair, now, sp_config};

    /// `target`: a path, or a URL on this server (as a Location header may hold).
    async fn request(
        addr: std::net::SocketAddr,
        method: &str,
        target: &str,
        cookies: &[(&str, &str)],
        form: Option<&str>,
    ) -> Reply {
        let path = target
            .strip_prefix(&format!("http://{addr}"))
            .unwrap_or(target);
        common::request(addr, method, path, cookies, form)
            .send_async()
            .await
    }

    /// `GET /spid/login?idp=…`: the SP's form to the IdP, or its refusal.
    async fn login_page(addr: std::net::SocketAddr, idp: &str, cookies: &[(&str, &str)]) -> Reply {
        let path = format!("/spid/login?idp={}", enc(idp));
        request(addr, "GET", &path, cookies, None).await
    }

    /// Posts the page's auto-submitting form as a browser would.
    async fn submit(addr: std::net::SocketAddr, page: &Reply, cookies: &[(&str, &str)]) -> Reply {
        let action = page.form_action().expect("a form");
        let fields: Vec<(&str, String)> = ["SAMLRequest", "SAMLResponse", "RelayState"]
            .into_iter()
            .filter_map(|name| Some((name, page.field(name)?)))
            .collect();
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        request(addr, "POST", &action, cookies, Some(&form(&fields))).await
    }

    /// The demo's shape: SP routes (`allow` or not) and the test IdP on one server.
    async fn serve(allow: bool) -> (std::net::SocketAddr, String) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let base = format!("http://{addr}");
        let idp_url = format!("{base}/test-idp");
        let (config, metadata) = sp_config(&base, keypair("sp", 2048));
        let clock = Arc::new(FixedClock(now()));
        let server = TestIdpServer::new(
            TestIdpMode::IKnowThisIsNotAnAccreditedIdp,
            TestIdp::new(idp_url.clone(), keypair("idp", 2048)),
            idp_url.clone(),
        )
        .unwrap()
        .trust_sp_metadata(&metadata)
        .unwrap()
        .with_clock(clock.clone());
        let idps = IdentityProvider::from_metadata(&server.metadata()).unwrap();
        let sp = ServiceProvider::new(config, idps)
            .expect("service provider")
            .with_clock(clock);
        let mut builder = SpidAuth::builder(sp)
            .secure_cookies(false)
            .after_login("/me");
        if allow {
            builder = builder.allow_test_idp(TestIdpMode::IKnowThisIsNotAnAccreditedIdp);
        }
        let auth = builder.build();
        async fn me(s: Session) -> String {
            format!(
                "cf={} level={}",
                s.identity()
                    .fiscal_code()
                    .map(|c| c.as_str().to_owned())
                    .unwrap_or_default(),
                s.level().number()
            )
        }
        let app = Router::new()
            .route("/me", axum::routing::get(me))
            .merge(auth.routes())
            .merge(server.routes())
            .layer(auth.layer())
            // The test IdP answers loopback peers only: it needs the peer address.
            .into_make_service_with_connect_info::<std::net::SocketAddr>();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (addr, idp_url)
    }

    #[tokio::test]
    async fn a_test_idp_is_refused_unless_the_application_opted_in() {
        let (addr, idp) = serve(false).await;
        let r = login_page(addr, &idp, &[]).await;
        assert_eq!(r.status, 403);
        assert!(r.body.contains("test-idp-refused"), "{}", r.body);

        let (addr, idp) = serve(true).await;
        let r = login_page(addr, &idp, &[]).await;
        assert_eq!(r.status, 200);
        assert!(r.field("SAMLRequest").is_some());
    }

    #[tokio::test]
    async fn the_acs_refuses_a_test_idp_login_without_opt_in() {
        // Two integrations of one SP sharing their stores: one opted in (starts the login),
        // one did not (receives the Response): the ACS refuses before verifying anything.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let base = format!("http://{addr}");
        let idp_url = format!("{base}/test-idp");
        let sp_key = keypair("sp", 2048);
        let idp = TestIdp::new(idp_url.clone(), keypair("idp", 2048));
        let idps = IdentityProvider::from_metadata(&idp.marked_metadata(&idp_url)).unwrap();
        let pending = Arc::new(MemoryPendingStore::default());
        let sessions = Arc::new(spid_sp::store::MemorySessionStore::default());
        let make = |prefix: &str, allow: bool| {
            let (config, _) = sp_config(&base, sp_key.clone());
            let sp = ServiceProvider::new(config, idps.clone())
                .expect("service provider")
                .with_clock(Arc::new(FixedClock(now())));
            let mut b = SpidAuth::builder(sp)
                .prefix(prefix)
                .secure_cookies(false)
                .pending_store(pending.clone())
                .session_store(sessions.clone());
            if allow {
                b = b.allow_test_idp(TestIdpMode::IKnowThisIsNotAnAccreditedIdp);
            }
            b.build()
        };
        let (a, b) = (make("/a", true), make("/b", false));
        let app: Router = Router::new().merge(a.routes()).merge(b.routes());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

        let r = request(
            addr,
            "GET",
            &format!("/a/login?idp={}", enc(&idp_url)),
            &[],
            None,
        )
        .await;
        assert_eq!(r.status, 200);
        let xml = String::from_utf8(
            base64::Engine::decode(
                &base64::engine::general_purpose::STANDARD,
                r.field("SAMLRequest").unwrap(),
            )
            .unwrap(),
        )
        .unwrap();
        let id_start = xml.find(" ID=\"").unwrap() + 5;
        let id = &xml[id_start..id_start + xml[id_start..].find('"').unwrap()];
        let spec = spid_sp::test_idp::ResponseSpec::new(
            id,
            &format!("{base}/spid/acs"),
            &base,
            spid_sp::SpidLevel::L2,
            now(),
        )
        .attribute("fiscalNumber", "TINIT-RSSMRA80A01H501U");
        let response = idp.response(&spec).unwrap();
        let body = form(&[
            (
                "SAMLResponse",
                &base64::Engine::encode(&base64::engine::general_purpose::STANDARD, response),
            ),
            ("RelayState", &r.field("RelayState").unwrap()),
        ]);
        let r = request(addr, "POST", "/b/acs", &[], Some(&body)).await;
        assert_eq!(r.status, 403);
        assert!(r.body.contains("test-idp-refused"), "{}", r.body);
    }

    #[tokio::test]
    async fn login_refusal_and_logout_through_the_http_test_idp() {
        let (addr, idp) = serve(true).await;
        // Login: SP form → IdP /sso → login form → Response to the ACS → hand-off → /me.
        let r = login_page(addr, &idp, &[]).await;
        let browser = r.cookie("spid_browser").unwrap();
        let cookies = [("spid_browser", browser.as_str())];
        let form = submit(addr, &r, &cookies).await;
        assert_eq!(form.status, 200, "{}", form.body);
        assert!(form
            .body
            .contains("TEST — not an accredited identity provider"));
        assert_eq!(
            form.header("x-test-idp"),
            Some("not an accredited identity provider")
        );
        let token = form.field("token").unwrap();
        let back = request(
            addr,
            "POST",
            "/test-idp/login",
            &cookies,
            Some(&format!("token={token}&user=citizen&level=2&outcome=login")),
        )
        .await;
        assert_eq!(back.status, 200);
        let acs = submit(addr, &back, &cookies).await;
        assert_eq!(acs.status, 303, "{}", acs.body);
        let complete = request(addr, "GET", acs.header("location").unwrap(), &cookies, None).await;
        assert_eq!(complete.status, 303);
        let session = complete.cookie("spid_session").unwrap();
        let logged_in = [
            ("spid_browser", browser.as_str()),
            ("spid_session", session.as_str()),
        ];
        let me = request(addr, "GET", "/me", &logged_in, None).await;
        assert_eq!(me.body, "cf=RSSMRA80A01H501U level=2");
        // A form token is single use.
        let again = request(
            addr,
            "POST",
            "/test-idp/login",
            &cookies,
            Some(&format!("token={token}&user=citizen&level=2&outcome=login")),
        )
        .await;
        assert_eq!(again.status, 400);

        // SP-initiated logout (HTTP-Redirect): to the IdP's /slo, answered, back to /spid/slo.
        // As the SP's own page posts it: with its Origin.
        let out = common::request(addr, "POST", "/spid/logout", &logged_in, Some(""))
            .header("Origin", &format!("http://{addr}"))
            .send_async()
            .await;
        let to_idp = out.header("location").unwrap().to_owned();
        assert!(
            to_idp.starts_with(&format!("{idp}/slo?SAMLRequest=")),
            "{to_idp}"
        );
        let answer = request(addr, "GET", &to_idp, &[], None).await;
        assert_eq!(answer.status, 302, "{}", answer.body);
        let to_sp = answer.header("location").unwrap().to_owned();
        assert!(to_sp.contains("/spid/slo?SAMLResponse="), "{to_sp}");
        let done = request(addr, "GET", &to_sp, &[], None).await;
        assert_eq!(done.status, 303, "{}", done.body);
        let me = request(addr, "GET", "/me", &logged_in, None).await;
        assert_eq!(
            me.status, 303,
            "session closed: /me sends to the login page"
        );

        // A refusal: nr22 → the ACS answers 401 with the courtesy text.
        let r = login_page(addr, &idp, &cookies).await;
        let form = submit(addr, &r, &cookies).await;
        let token = form.field("token").unwrap();
        let back = request(
            addr,
            "POST",
            "/test-idp/login",
            &cookies,
            Some(&format!("token={token}&outcome=refuse&code=22")),
        )
        .await;
        let acs = submit(addr, &back, &cookies).await;
        assert_eq!(acs.status, 401);
        assert!(acs.body.contains("consenso"), "{}", acs.body);

        // Metadata and index pages carry what they are.
        let md = request(addr, "GET", &format!("{idp}/metadata"), &[], None).await;
        assert!(md.body.contains(spid_sp::metadata::TEST_IDP_MARKER_NS));
        let index = request(addr, "GET", &format!("{idp}/"), &[], None).await;
        assert!(index
            .body
            .contains("TEST — not an accredited identity provider"));
    }
}
