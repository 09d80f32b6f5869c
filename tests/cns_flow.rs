//! "Entra con CNS" end to end over real sockets: the one-time state at `/spid/cns`, the
//! certificate from a configured reverse proxy (header accepted from the proxy's address
//! only) and from the dedicated TLS listener (real OpenSSL handshake with the card's
//! client certificate), the browser-bound single-use hand-off to `/complete`, the CNS
//! session (fiscal code, source Cns), every refusal as a typed error page, and the
//! registry's `cns-login` records.
#![cfg(all(
    feature = "axum",
    feature = "cns-tls",
    feature = "test-idp",
    feature = "audit"
))]

mod common;

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, OnceLock};

use axum::http::HeaderName;
use axum::routing::get;
use axum::Router;
use common::{keypair, Reply};
use spid_sp::audit::{MemoryAuditLog, Outcome, RecordKind};
use spid_sp::axum::{AtLeast, CnsConfig, CnsTlsListener, CnsTrust, Session, SpidAuth};
use spid_sp::cns::test_pki::{TestCard, TestPki, TEST_FISCAL_CODE};
use spid_sp::cns::{CardKind, Crl, TrustList};
use spid_sp::metadata::IdentityProvider;
use spid_sp::test_idp::TestIdp;
use spid_sp::{Binding, Clock, IdentitySource, ServiceProvider, SpConfig, Timestamp};

const HEADER: &str = "x-ssl-client-cert";
const PROXY: [u8; 4] = [127, 0, 0, 2];

fn now() -> Timestamp {
    common::now()
}

fn pki() -> &'static TestPki {
    static PKI: OnceLock<TestPki> = OnceLock::new();
    PKI.get_or_init(|| TestPki::generate(now()).unwrap())
}

/// A clock the test moves forward.
struct StepClock(Mutex<Timestamp>);
impl Clock for StepClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().unwrap()
    }
}

struct Harness {
    addr: SocketAddr,
    tls: SocketAddr,
    audit: Arc<MemoryAuditLog>,
    clock: Arc<StepClock>,
    trust: CnsTrust,
    /// What the `on_session` hook saw: (source, fiscal code, card) per completed login.
    sessions: Arc<Mutex<Vec<SeenSession>>>,
}

/// A session as the `on_session` hook saw it: source, fiscal code, card.
type SeenSession = (IdentitySource, String, Option<CardKind>);

async fn start() -> Harness {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let tls_tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let tls = tls_tcp.local_addr().unwrap();
    let base = format!("http://{addr}");
    let idp = TestIdp::new("https://idp.cns.test", keypair("idp", 2048));
    let config = SpConfig::builder(base.clone(), keypair("sp", 2048))
        .assertion_consumer_service(format!("{base}/spid/acs"))
        .attribute_service(0, "Servizi", &["fiscalNumber"])
        .logout_service(Binding::Redirect, format!("{base}/spid/slo"))
        .build()
        .unwrap();
    let idps = IdentityProvider::from_metadata(&idp.metadata("https://idp.cns.test")).unwrap();
    let clock = Arc::new(StepClock(Mutex::new(now())));
    let audit = Arc::new(MemoryAuditLog::default());
    let sp = ServiceProvider::new(config, idps)
        .unwrap()
        .with_clock(clock.clone());
    let trust = CnsTrust::new(TrustList::from_ca_certificates(&pki().ca_pem()).unwrap());
    trust.set_crls(vec![Crl::parse(&pki().crl_pem()).unwrap()]);
    let cns = CnsConfig::new(trust.clone(), format!("https://{tls}/spid/cns/certificate"))
        .trusted_proxy(HeaderName::from_static(HEADER), &[IpAddr::from(PROXY)]);
    let sessions = Arc::new(Mutex::new(Vec::new()));
    let seen = sessions.clone();
    let auth = SpidAuth::builder(sp)
        .secure_cookies(false)
        .after_login("/me")
        .audit_log(audit.clone())
        .cns(cns)
        .on_session(move |s: &Session| {
            seen.lock().unwrap().push((
                s.identity().source(),
                s.identity()
                    .fiscal_code()
                    .map(|c| c.as_str().to_owned())
                    .unwrap_or_default(),
                s.card(),
            ));
        })
        .build();
    async fn me(session: Session) -> String {
        format!(
            "cf={} level={} source={:?} card={:?} idp={}",
            session.identity().fiscal_code().unwrap().as_str(),
            session.level().number(),
            session.identity().source(),
            session.card(),
            session.idp().as_str()
        )
    }
    async fn l3(AtLeast(s): AtLeast<3>) -> String {
        format!("l3 {}", s.level().number())
    }
    let app = Router::new()
        .route("/me", get(me))
        .route("/l3", get(l3))
        .merge(auth.routes())
        .layer(auth.layer())
        .into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let acceptor = {
        let key = keypair("cns-tls", 2048);
        CnsTlsListener::acceptor(
            &key.certificate().to_pem().unwrap(),
            &key.private_key().private_key_to_pem_pkcs8().unwrap(),
        )
        .unwrap()
    };
    let tls_listener = CnsTlsListener::new(tls_tcp, acceptor).unwrap();
    let a = auth.clone();
    tokio::spawn(async move { tls_listener.serve(&a).await.unwrap() });
    Harness {
        addr,
        tls,
        audit,
        clock,
        trust,
        sessions,
    }
}

impl Harness {
    async fn get(&self, path: &str, browser: Option<&str>) -> Reply {
        let cookies: Vec<(&str, &str)> = browser.map(|b| ("spid_browser", b)).into_iter().collect();
        common::request(self.addr, "GET", path, &cookies, None)
            .send_async()
            .await
    }

    /// `/spid/cns?next=/me`: (state, browser cookie).
    async fn begin(&self) -> (String, String) {
        let r = self.get("/spid/cns?next=/me", None).await;
        assert_eq!(r.status, 303, "{r:?}");
        let loc = r.header("location").unwrap();
        let prefix = format!("https://{}/spid/cns/certificate?state=", self.tls);
        assert!(loc.starts_with(&prefix), "{loc}");
        let state = loc[prefix.len()..].to_owned();
        (state, r.cookie("spid_browser").unwrap())
    }

    /// The certificate endpoint reached through the "proxy" (from `from`, with the header).
    async fn via_proxy(&self, state: &str, from: IpAddr, header: Option<&str>) -> Reply {
        let mut req = common::request(
            self.addr,
            "GET",
            &format!("/spid/cns/certificate?state={state}"),
            &[],
            None,
        )
        .source_ip(from);
        if let Some(h) = header {
            req = req.header(HEADER, h);
        }
        req.send_async().await
    }

    /// The certificate endpoint on the TLS listener, with `card` as client certificate
    /// (or none), and optionally a header that must be ignored there.
    async fn via_tls(&self, state: &str, card: Option<TestCard>, header: Option<String>) -> Reply {
        let addr = self.tls;
        let state = state.to_owned();
        tokio::task::spawn_blocking(move || {
            let header = header.as_deref().map(|h| (HEADER, h));
            Reply::parse(common::cns_certificate_over_tls(
                addr,
                pki(),
                &state,
                card,
                header,
            ))
        })
        .await
        .unwrap()
    }

    /// `/spid/complete` of a hand-off URL with `browser`'s cookie.
    async fn complete(&self, location: &str, browser: &str) -> Reply {
        let path = location
            .strip_prefix(&format!("http://{}", self.addr))
            .unwrap_or_else(|| panic!("{location}"));
        assert!(path.starts_with("/spid/complete?handoff="), "{path}");
        self.get(path, Some(browser)).await
    }

    async fn me(&self, session: &str) -> Reply {
        common::request(self.addr, "GET", "/me", &[("spid_session", session)], None)
            .send_async()
            .await
    }
}

fn valid_header() -> String {
    common::percent_escaped(&pki().card_pem(TestCard::Valid))
}

async fn logged_in(h: &Harness, r: Reply, browser: &str) {
    assert_eq!(r.status, 303, "{}", r.body);
    let done = h.complete(r.header("location").unwrap(), browser).await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(done.header("location"), Some("/me"));
    let session = done.cookie("spid_session").unwrap();
    let me = h.me(&session).await;
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(
        me.body,
        format!(
            "cf={TEST_FISCAL_CODE} level=2 source={:?} card={:?} idp=urn:spid-sp:cns",
            IdentitySource::Cns,
            Some(CardKind::Cns)
        )
    );
}

#[tokio::test]
async fn a_valid_card_through_the_proxy_logs_in_with_the_fiscal_code() {
    let h = start().await;
    let (state, browser) = h.begin().await;
    let r = h
        .via_proxy(&state, IpAddr::from(PROXY), Some(&valid_header()))
        .await;
    logged_in(&h, r, &browser).await;
    let records = h.audit.records();
    let last = records.last().unwrap();
    assert_eq!(last.kind, RecordKind::CnsLogin);
    assert_eq!(last.outcome, Outcome::Accepted);
    assert_eq!(last.fiscal_code.as_deref(), Some(TEST_FISCAL_CODE));
    assert_eq!(last.level, Some(2));
    assert!(last.verified);
    // The application's `on_session` hook saw the card login once.
    assert_eq!(
        *h.sessions.lock().unwrap(),
        vec![(
            IdentitySource::Cns,
            TEST_FISCAL_CODE.to_owned(),
            Some(CardKind::Cns)
        )]
    );
}

#[tokio::test]
async fn a_valid_card_through_the_tls_listener_logs_in_with_the_fiscal_code() {
    let h = start().await;
    let (state, browser) = h.begin().await;
    let r = h.via_tls(&state, Some(TestCard::Valid), None).await;
    logged_in(&h, r, &browser).await;
}

#[tokio::test]
async fn a_cns_session_is_below_level_3_and_steps_up_like_any_other() {
    let h = start().await;
    let (state, browser) = h.begin().await;
    let r = h.via_tls(&state, Some(TestCard::Valid), None).await;
    let done = h.complete(r.header("location").unwrap(), &browser).await;
    let session = done.cookie("spid_session").unwrap();
    let l3 = common::request(h.addr, "GET", "/l3", &[("spid_session", &session)], None)
        .send_async()
        .await;
    assert_eq!(
        l3.status, 303,
        "L2 card session sent to log in again: {l3:?}"
    );
    assert!(
        l3.header("location").unwrap().starts_with("/?next="),
        "{l3:?}"
    );
}

#[tokio::test]
async fn every_bad_card_is_refused_with_a_typed_error_page() {
    let h = start().await;
    let cases = [
        (TestCard::Expired, "cns-expired"),
        (TestCard::NotYetValid, "cns-not-yet-valid"),
        (TestCard::Revoked, "cns-revoked"),
        (TestCard::WrongPolicy, "cns-policy"),
        (TestCard::WrongKeyUsage, "cns-key-usage"),
        (TestCard::NoClientAuth, "cns-extended-key-usage"),
        (TestCard::UnknownCa, "cns-untrusted-issuer"),
        (TestCard::Cie, "cns-policy"),
        (TestCard::NoFiscalCode, "cns-subject"),
    ];
    for (card, code) in cases {
        for tls in [false, true] {
            let (state, _) = h.begin().await;
            let r = if tls {
                h.via_tls(&state, Some(card), None).await
            } else {
                h.via_proxy(
                    &state,
                    IpAddr::from(PROXY),
                    Some(&common::percent_escaped(&pki().card_pem(card))),
                )
                .await
            };
            assert_eq!(r.status, 403, "{card:?} tls={tls}: {}", r.body);
            assert!(
                r.body.contains(&format!("Codice: {code}")),
                "{card:?}: {}",
                r.body
            );
            assert!(!r.body.contains(TEST_FISCAL_CODE));
            assert!(r.header("set-cookie").is_none());
        }
    }
    let rejected = h
        .audit
        .records()
        .iter()
        .filter(|r| r.kind == RecordKind::CnsLogin && matches!(r.outcome, Outcome::Rejected { .. }))
        .count();
    assert_eq!(rejected, cases.len() * 2);
    // A garbage header from the proxy: malformed.
    let (state, _) = h.begin().await;
    let r = h
        .via_proxy(&state, IpAddr::from(PROXY), Some("not%20a%20certificate"))
        .await;
    assert_eq!(r.status, 403);
    assert!(
        r.body.contains("Codice: cns-certificate-malformed"),
        "{}",
        r.body
    );
}

#[tokio::test]
async fn a_spoofed_header_from_another_address_is_ignored() {
    let h = start().await;
    let (state, _) = h.begin().await;
    // The application's own address, not the configured proxy.
    let r = h
        .via_proxy(&state, IpAddr::from([127, 0, 0, 1]), Some(&valid_header()))
        .await;
    assert_eq!(r.status, 403);
    assert!(r.body.contains("Codice: cns-no-certificate"), "{}", r.body);
    // On the TLS listener the header never counts, from any address.
    let (state, _) = h.begin().await;
    let r = h.via_tls(&state, None, Some(valid_header())).await;
    assert_eq!(r.status, 403);
    assert!(r.body.contains("Codice: cns-no-certificate"), "{}", r.body);
    // The proxy without a certificate (nginx sends an empty value).
    let (state, _) = h.begin().await;
    let r = h.via_proxy(&state, IpAddr::from(PROXY), None).await;
    assert!(r.body.contains("Codice: cns-no-certificate"), "{}", r.body);
}

#[tokio::test]
async fn the_state_and_the_handoff_are_single_use_short_lived_and_bound_to_the_browser() {
    let h = start().await;
    // The state is single-use, even when the card was refused.
    let (state, _) = h.begin().await;
    let r = h.via_tls(&state, Some(TestCard::Expired), None).await;
    assert_eq!(r.status, 403);
    let again = h.via_tls(&state, Some(TestCard::Valid), None).await;
    assert_eq!(again.status, 403);
    assert!(
        again.body.contains("Codice: unknown-request"),
        "{}",
        again.body
    );
    // A made-up state, and none at all.
    let r = h
        .via_tls(&"ab".repeat(32), Some(TestCard::Valid), None)
        .await;
    assert!(r.body.contains("Codice: unknown-request"), "{}", r.body);
    let r = h.via_tls("", Some(TestCard::Valid), None).await;
    assert!(r.body.contains("Codice: bad-request"), "{}", r.body);

    // The hand-off: another browser cannot use it (and does not burn it)...
    let (state, browser) = h.begin().await;
    let r = h.via_tls(&state, Some(TestCard::Valid), None).await;
    let loc = r.header("location").unwrap().to_owned();
    let other = h.complete(&loc, &"cd".repeat(32)).await;
    assert_eq!(other.status, 403);
    assert!(other.body.contains("Codice: browser-mismatch"));
    assert!(other.cookie("spid_session").is_none());
    // ...the right one can, once.
    let ok = h.complete(&loc, &browser).await;
    assert_eq!(ok.status, 303);
    assert!(ok.cookie("spid_session").is_some());
    let twice = h.complete(&loc, &browser).await;
    assert_eq!(twice.status, 403);
    assert!(twice.body.contains("Codice: browser-mismatch"));

    // An expired hand-off (two minutes) and an expired state (five minutes).
    let (state, browser) = h.begin().await;
    let r = h.via_tls(&state, Some(TestCard::Valid), None).await;
    let loc = r.header("location").unwrap().to_owned();
    let (late_state, _) = h.begin().await;
    {
        let mut t = h.clock.0.lock().unwrap();
        *t = t.plus_seconds(301);
    }
    let late = h.complete(&loc, &browser).await;
    assert_eq!(late.status, 403);
    assert!(late.body.contains("Codice: browser-mismatch"));
    let r = h.via_tls(&late_state, Some(TestCard::Valid), None).await;
    assert!(r.body.contains("Codice: unknown-request"), "{}", r.body);
}

#[tokio::test]
async fn the_trust_list_is_swappable_and_an_unwritable_registry_stops_the_login() {
    let h = start().await;
    // A trust list without the test CA: the valid card is now untrusted.
    h.trust
        .set_trust_list(TrustList::from_ca_certificates(&pki().unlisted_ca_pem()).unwrap());
    let (state, _) = h.begin().await;
    let r = h.via_tls(&state, Some(TestCard::Valid), None).await;
    assert!(
        r.body.contains("Codice: cns-untrusted-issuer"),
        "{}",
        r.body
    );
    h.trust
        .set_trust_list(TrustList::from_ca_certificates(&pki().ca_pem()).unwrap());
    h.audit.set_failing(true);
    let (state, _) = h.begin().await;
    let r = h.via_tls(&state, Some(TestCard::Valid), None).await;
    assert_eq!(r.status, 503, "{}", r.body);
    assert!(r.header("location").is_none());
}
