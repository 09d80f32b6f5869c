//! The OpenID Connect login through the axum integration, over a real TCP socket: the
//! Entity Configuration route, `/spid/oidc/login` → the test OP → `/spid/oidc/callback`
//! → `/spid/complete`, the same `Session` (fiscal code, level, source OIDC) and level
//! guard as SAML, refusals (replayed callback, other browser, wrong audience) and logout
//! with token revocation.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::routing::get;
use axum::Router;
use common::{keypair, Reply};
use spid_sp::audit::{MemoryAuditLog, Outcome, RecordKind};
use spid_sp::axum::{AtLeast, OidcSetup, Session, SpidAuth};
use spid_sp::metadata::IdentityProvider;
use spid_sp::oidc::{RelyingParty, RpConfig, RpKey};
use spid_sp::test_idp::oidc::{FederationKnobs, TestFederation, TEST_TRUST_MARK_ID};
use spid_sp::test_idp::TestIdp;
use spid_sp::{Binding, FixedClock, ServiceProvider, SpConfig};

struct Harness {
    addr: SocketAddr,
    base: String,
    fed: Arc<TestFederation>,
    registry: Arc<MemoryAuditLog>,
}

async fn start(knobs: FederationKnobs) -> Harness {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let base = format!("http://{addr}");
    let now = common::now();
    let idp = TestIdp::new("https://idp.flow.test", keypair("idp", 2048));
    let config = SpConfig::builder(base.clone(), keypair("sp", 2048))
        .assertion_consumer_service(format!("{base}/spid/acs"))
        .attribute_service(0, "Servizi", &["fiscalNumber", "name", "familyName"])
        .logout_service(Binding::Redirect, format!("{base}/spid/slo"))
        .build()
        .unwrap();
    let idps = IdentityProvider::from_metadata(&idp.metadata("https://idp.flow.test")).unwrap();
    let sp = ServiceProvider::new(config, idps)
        .unwrap()
        .with_clock(Arc::new(FixedClock(now)));
    let fed = Arc::new(
        TestFederation::new("http://127.0.0.1:8600", knobs)
            .unwrap()
            .at(now),
    );
    let rp = RelyingParty::new(
        RpConfig::new(
            &base,
            &format!("{base}/spid/oidc/callback"),
            RpKey::generate().unwrap(),
            RpKey::generate().unwrap(),
            RpKey::generate().unwrap(),
        )
        .unwrap()
        .authority_hint(&fed.anchor_id())
        .trust_mark(
            TEST_TRUST_MARK_ID,
            &fed.trust_mark(TEST_TRUST_MARK_ID, &base, now),
        ),
    );
    fed.register_rp(&rp.entity_configuration(now).unwrap(), now)
        .unwrap();
    let setup = OidcSetup::new(rp, vec![fed.trust_anchor()], fed.clone()).provider(&fed.op_id());
    let registry = Arc::new(MemoryAuditLog::default());
    let auth = SpidAuth::builder(sp)
        .audit_log(registry.clone())
        .secure_cookies(false)
        .after_login("/me")
        .oidc(setup)
        .build();
    async fn me(session: Session) -> String {
        format!(
            "cf={} level={} source={:?} name={}",
            session.identity().fiscal_code().unwrap().as_str(),
            session.level().number(),
            session.identity().source(),
            session.identity().name().unwrap_or("-"),
        )
    }
    async fn l3(AtLeast(s): AtLeast<3>) -> String {
        format!("l3 ok level={}", s.level().number())
    }
    let app = Router::new()
        .route("/me", get(me))
        .route("/l3", get(l3))
        .merge(auth.routes())
        .layer(auth.layer())
        .into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Harness {
        addr,
        base,
        fed,
        registry,
    }
}

impl Harness {
    async fn get(&self, path: &str, cookies: &[(&str, &str)]) -> Reply {
        common::request(self.addr, "GET", path, cookies, None)
            .send_async()
            .await
    }

    /// `/spid/oidc/login` → the OP: (browser cookie, callback path with query).
    async fn to_callback(&self) -> (String, String) {
        let r = self.get("/spid/oidc/login", &[]).await;
        assert_eq!(r.status, 303, "{}", r.body);
        let browser = r.cookie("spid_browser").unwrap();
        let location = r.header("location").unwrap();
        let (endpoint, query) = location.split_once('?').unwrap();
        assert_eq!(endpoint, format!("{}/authorization", self.fed.op_id()));
        let back = self.fed.authorize(query, common::now()).unwrap();
        let path = back.strip_prefix(&self.base).unwrap().to_owned();
        assert!(path.starts_with("/spid/oidc/callback?"));
        (browser, path)
    }
}

#[tokio::test]
async fn oidc_axum_login_gives_the_same_session_as_saml_and_logout_revokes() {
    let h = start(FederationKnobs::default()).await;

    let ec = h.get("/.well-known/openid-federation", &[]).await;
    assert_eq!(ec.status, 200);
    assert_eq!(
        ec.header("content-type"),
        Some("application/entity-statement+jwt")
    );
    assert_eq!(
        h.fed.register_rp(ec.body.trim(), common::now()).unwrap(),
        h.base
    );

    let (browser, callback) = h.to_callback().await;
    // Another browser cannot finish it: the state is bound to the one that started it.
    let other = h.get(&callback, &[("spid_browser", &"b".repeat(64))]).await;
    assert_eq!(other.status, 403);
    assert!(other.body.contains("browser-mismatch"), "{}", other.body);

    let (browser, callback) = {
        let _ = browser;
        h.to_callback().await
    };
    let r = h.get(&callback, &[("spid_browser", &browser)]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let complete = r.header("location").unwrap().to_owned();
    assert!(complete.starts_with("/spid/complete?handoff="));
    // The callback is single use.
    let again = h.get(&callback, &[("spid_browser", &browser)]).await;
    assert_eq!(again.status, 403);
    assert!(again.body.contains("oidc_unknown_state"), "{}", again.body);

    let done = h.get(&complete, &[("spid_browser", &browser)]).await;
    assert_eq!(done.status, 303);
    assert_eq!(done.header("location"), Some("/me"));
    let session = done.cookie("spid_session").unwrap();
    let me = h.get("/me", &[("spid_session", &session)]).await;
    assert_eq!(me.status, 200);
    assert_eq!(
        me.body,
        "cf=RSSMRA80A01H501U level=2 source=Oidc name=Mario"
    );
    // The registry: one accepted OIDC login with its index (code, client_id, jti, iss,
    // sub, iat, exp), no token; the other browser's attempt never reached verification.
    let records: Vec<_> = h
        .registry
        .records()
        .into_iter()
        .filter(|r| r.kind == RecordKind::OidcLogin)
        .collect();
    assert_eq!(records.len(), 1);
    let r = &records[0];
    assert_eq!(r.outcome, Outcome::Accepted);
    assert!(r.verified);
    assert_eq!(r.fiscal_code.as_deref(), Some("RSSMRA80A01H501U"));
    let idx = r.oidc.as_ref().unwrap();
    assert_eq!(idx.client_id, h.base);
    assert_eq!(idx.iss, h.fed.op_id());
    assert!(idx.code.starts_with("code-") && !idx.jti.is_empty() && !idx.sub.is_empty());
    assert_eq!(idx.exp - idx.iat, 600);
    assert!(r.payload.is_none(), "no token kept");
    // The level guard works unchanged: L3 sends the user to step up.
    let l3 = h.get("/l3", &[("spid_session", &session)]).await;
    assert_ne!(l3.status, 200);

    assert_eq!(h.fed.live_tokens(), 1);
    let out = common::request(
        h.addr,
        "POST",
        "/spid/logout",
        &[("spid_session", &session)],
        Some(""),
    )
    .header("Origin", &h.base)
    .send_async()
    .await;
    assert_eq!(out.status, 303);
    assert_eq!(
        h.fed.live_tokens(),
        0,
        "the access token is revoked at logout"
    );
    let me = h.get("/me", &[("spid_session", &session)]).await;
    assert_ne!(me.status, 200);
}

#[tokio::test]
async fn oidc_axum_wrong_audience_is_refused_with_its_code() {
    let h = start(FederationKnobs {
        wrong_audience: true,
        ..Default::default()
    })
    .await;
    let (browser, callback) = h.to_callback().await;
    let r = h.get(&callback, &[("spid_browser", &browser)]).await;
    assert_eq!(r.status, 403);
    assert!(r.body.contains("oidc_wrong_audience"), "{}", r.body);
    let rec = h.registry.records().pop().unwrap();
    assert_eq!(rec.kind, RecordKind::OidcLogin);
    assert_eq!(
        rec.outcome,
        Outcome::Rejected {
            code: "oidc_wrong_audience".into()
        }
    );
    // idp and level come from the RP's own pending login: no unverified field.
    assert!(rec.oidc.is_none() && rec.fiscal_code.is_none());
}

#[tokio::test]
async fn oidc_axum_broken_chain_refuses_the_login_start() {
    let h = start(FederationKnobs {
        broken_chain: true,
        ..Default::default()
    })
    .await;
    let r = h.get("/spid/oidc/login", &[]).await;
    assert_eq!(r.status, 403);
    assert!(r.body.contains("oidc_trust_chain"), "{}", r.body);
}
