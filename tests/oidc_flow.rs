//! The SPID/CIE OIDC relying party against the local test federation (trust anchor, OP,
//! trust-mark issuer): a full login, and every refusal the RP owes (chain, trust mark,
//! signature, audience, nonce, state, issuer, level, encryption, replayed code/callback).

use spid_sp::oidc::{
    resolve_provider, Callback, ChainOptions, OidcError, Provider, RelyingParty, RpConfig, RpError,
    RpKey, TrustAnchor,
};
use spid_sp::store::{MemorySessionStore, SessionStore};

/// The pending login kept single use in a session store, keyed by its `state` (what the
/// axum integration does, with the browser binding on top).
fn put_pending(s: &MemorySessionStore, p: &spid_sp::oidc::PendingOidcLogin, now: Timestamp) {
    let json = serde_json::to_string(p).unwrap();
    s.put(&format!("oidc:{}", p.state()), &json, p.expires(), now)
        .unwrap();
}

fn take_pending(
    s: &MemorySessionStore,
    state: &str,
    now: Timestamp,
) -> Result<spid_sp::oidc::PendingOidcLogin, RpError> {
    s.take(&format!("oidc:{state}"), now)
        .unwrap()
        .map(|j| serde_json::from_str(&j).unwrap())
        .ok_or(RpError::UnknownState)
}
use spid_sp::test_idp::oidc::{FederationKnobs, TestFederation, TestFetcher, TEST_TRUST_MARK_ID};
use spid_sp::{IdentitySource, SpidLevel, Timestamp};

const RP: &str = "http://127.0.0.1:8700/oidc";
const CALLBACK: &str = "http://127.0.0.1:8700/oidc/callback";

fn now() -> Timestamp {
    Timestamp::from_unix_seconds(1_800_000_000)
}

struct World {
    fed: TestFederation,
    rp: RelyingParty,
}

fn world(knobs: FederationKnobs) -> World {
    let fed = TestFederation::new("http://127.0.0.1:8600", knobs).unwrap();
    let mark = fed.trust_mark(TEST_TRUST_MARK_ID, RP, now());
    let cfg = RpConfig::new(
        RP,
        CALLBACK,
        RpKey::generate().unwrap(),
        RpKey::generate().unwrap(),
        RpKey::generate().unwrap(),
    )
    .unwrap()
    .authority_hint(&fed.anchor_id())
    .trust_mark(TEST_TRUST_MARK_ID, &mark)
    .names("Comune di Prova", "Comune di Prova")
    .contact("ops@example.it");
    let rp = RelyingParty::new(cfg);
    World { fed, rp }
}

fn resolve(w: &World) -> Result<Provider, RpError> {
    let fetcher = TestFetcher {
        federation: &w.fed,
        now: now(),
    };
    resolve_provider(
        &w.fed.op_id(),
        &[w.fed.trust_anchor()],
        &fetcher,
        now(),
        &ChainOptions::default(),
    )
}

fn after_q(url: &str) -> &str {
    url.split_once('?').unwrap().1
}

/// Registers the RP at the federation, then resolves the OP through the trust chain.
fn register_and_resolve(w: &World) -> Provider {
    w.fed
        .register_rp(&w.rp.entity_configuration(now()).unwrap(), now())
        .unwrap();
    resolve(w).unwrap()
}

/// Runs the flow up to the callback: (provider, pending, callback).
fn to_callback(w: &World) -> (Provider, spid_sp::oidc::PendingOidcLogin, Callback) {
    let op = register_and_resolve(w);
    let store = MemorySessionStore::default();
    let (url, pending) = w.rp.start_login(&op, SpidLevel::L2, now()).unwrap();
    put_pending(&store, &pending, now());
    let redirect = w.fed.authorize(after_q(&url), now()).unwrap();
    assert!(redirect.starts_with(CALLBACK));
    let cb = Callback::from_query(after_q(&redirect)).unwrap();
    let taken = take_pending(&store, cb.state().unwrap(), now()).unwrap();
    assert_eq!(taken, pending);
    assert_eq!(
        take_pending(&store, cb.state().unwrap(), now()).unwrap_err(),
        RpError::UnknownState,
        "a replayed callback finds no pending login"
    );
    (op, taken, cb)
}

fn token_body(w: &World, body: &str) -> String {
    match w.fed.token(body, now()) {
        Ok(json) => json,
        Err(r) => format!(r#"{{"error":"{}"}}"#, r.error),
    }
}

/// The whole flow; returns the first refusal.
fn login(knobs: FederationKnobs) -> Result<spid_sp::oidc::OidcLogin, RpError> {
    let w = world(knobs);
    let (op, pending, cb) = to_callback(&w);
    let req = w.rp.token_request(&op, &pending, &cb, now())?;
    let tokens =
        w.rp.verify_token_response(&op, &pending, &req, &token_body(&w, &req.body()), now())?;
    let (_, auth) = w.rp.userinfo_request(&op, &tokens);
    let info = w.fed.userinfo(&auth, now()).unwrap();
    w.rp.finish_login(&op, &tokens, &info)
}

#[test]
fn oidc_login_maps_the_same_identity_as_saml() {
    let login = login(FederationKnobs::default()).unwrap();
    let id = login.identity();
    assert_eq!(id.source(), IdentitySource::Oidc);
    assert_eq!(id.fiscal_code().unwrap().as_str(), "RSSMRA80A01H501U");
    assert!(id.fiscal_code().unwrap().check().is_ok());
    assert_eq!(id.name(), Some("Mario"));
    assert_eq!(id.family_name(), Some("Rossi"));
    assert_eq!(id.date_of_birth().unwrap().to_string(), "1980-01-01");
    assert_eq!(id.email(), Some("mario.rossi@example.it"));
    assert_eq!(login.level(), SpidLevel::L2);
    let r = login.record();
    assert_eq!(r.client_id, RP);
    assert_eq!(r.iss, "http://127.0.0.1:8600/op");
    assert!(r.code.starts_with("code-") && !r.jti.is_empty() && !r.sub.is_empty());
    assert_eq!((r.iat, r.exp), (1_800_000_000, 1_800_000_600));
    assert!(
        !format!("{login:?}").contains("RSSMRA"),
        "Debug is redacted"
    );
}

#[test]
fn oidc_entity_configuration_has_the_profile_fields() {
    let w = world(FederationKnobs::default());
    let c = w.rp.entity_configuration_claims(now());
    assert_eq!(c["iss"], RP);
    assert_eq!(c["sub"], RP);
    assert_eq!(c["authority_hints"][0], w.fed.anchor_id());
    assert_eq!(c["trust_marks"][0]["id"], TEST_TRUST_MARK_ID);
    let md = &c["metadata"]["openid_relying_party"];
    assert_eq!(md["client_id"], RP);
    assert_eq!(md["redirect_uris"][0], CALLBACK);
    assert_eq!(md["response_types"][0], "code");
    assert_eq!(md["token_endpoint_auth_method"], "private_key_jwt");
    assert_eq!(md["client_registration_types"][0], "automatic");
    let fed_kid = c["jwks"]["keys"][0]["kid"].as_str().unwrap();
    let core: Vec<&str> = md["jwks"]["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(core.len(), 2, "core signing + encryption");
    assert!(
        !core.contains(&fed_kid),
        "core keys are not the federation key"
    );
    // Self-signed with the federation key: the OP's automatic registration accepts it.
    let jwt = w.rp.entity_configuration(now()).unwrap();
    assert_eq!(w.fed.register_rp(&jwt, now()).unwrap(), RP);
}

#[test]
fn oidc_rp_without_trust_mark_is_not_registered() {
    let fed = TestFederation::new("http://127.0.0.1:8600", FederationKnobs::default()).unwrap();
    let cfg = RpConfig::new(
        RP,
        CALLBACK,
        RpKey::generate().unwrap(),
        RpKey::generate().unwrap(),
        RpKey::generate().unwrap(),
    )
    .unwrap();
    let rp = RelyingParty::new(cfg);
    let err = fed
        .register_rp(&rp.entity_configuration(now()).unwrap(), now())
        .unwrap_err();
    assert_eq!(err.error, "invalid_client");
}

#[test]
fn oidc_config_refuses_a_shared_key() {
    let k = RpKey::generate().unwrap();
    let e = RpConfig::new(RP, CALLBACK, k.clone(), k, RpKey::generate().unwrap()).unwrap_err();
    assert_eq!(e.code(), "oidc_config");
}

fn chain_error(knobs: FederationKnobs) -> OidcError {
    match resolve(&world(knobs)).unwrap_err() {
        RpError::TrustChain(e) => e,
        other => panic!("not a chain refusal: {other:?}"),
    }
}

#[test]
fn oidc_expired_chain_is_refused() {
    let e = chain_error(FederationKnobs {
        expired_chain: true,
        ..Default::default()
    });
    assert_eq!(e, OidcError::Expired);
}

#[test]
fn oidc_broken_chain_is_refused() {
    let e = chain_error(FederationKnobs {
        broken_chain: true,
        ..Default::default()
    });
    assert!(
        matches!(e, OidcError::UnknownKey | OidcError::BadSignature),
        "{e:?}"
    );
    let w = world(FederationKnobs {
        broken_chain: true,
        ..Default::default()
    });
    assert_eq!(resolve(&w).unwrap_err().code(), "oidc_trust_chain");
}

#[test]
fn oidc_wrong_trust_mark_is_refused() {
    let e = chain_error(FederationKnobs {
        wrong_trust_mark: true,
        ..Default::default()
    });
    assert!(matches!(e, OidcError::InvalidTrustMark { .. }), "{e:?}");
}

#[test]
fn oidc_anchor_with_other_keys_is_refused() {
    let w = world(FederationKnobs::default());
    let other = TestFederation::new("http://127.0.0.1:8601", FederationKnobs::default()).unwrap();
    let pinned = TrustAnchor {
        entity_id: w.fed.anchor_id(),
        jwks: other.trust_anchor().jwks,
    };
    let fetcher = TestFetcher {
        federation: &w.fed,
        now: now(),
    };
    let e = resolve_provider(
        &w.fed.op_id(),
        &[pinned],
        &fetcher,
        now(),
        &ChainOptions::default(),
    )
    .unwrap_err();
    assert_eq!(e.code(), "oidc_trust_chain");
}

/// Each broken answer of the OP (one `FederationKnobs` flag) is refused with its own
/// error and code: `test name: knob => error, code;`.
macro_rules! refused {
    ($($name:ident: $knob:ident => $err:expr, $code:literal;)*) => {$(
        #[test]
        fn $name() {
            let e = login(FederationKnobs {
                $knob: true,
                ..Default::default()
            })
            .unwrap_err();
            assert_eq!(e, $err);
            assert_eq!(e.code(), $code);
        }
    )*};
}

refused! {
    oidc_bad_id_token_signature_is_refused: bad_signature => RpError::BadSignature, "oidc_bad_signature";
    oidc_wrong_audience_is_refused: wrong_audience => RpError::WrongAudience, "oidc_wrong_audience";
    oidc_nonce_mismatch_is_refused: wrong_nonce => RpError::NonceMismatch, "oidc_nonce_mismatch";
    oidc_level_below_requested_is_refused: low_acr => RpError::LevelTooLow, "oidc_level_too_low";
    oidc_unencrypted_userinfo_is_refused: plain_userinfo => RpError::NotEncrypted, "oidc_not_encrypted";
}

/// The reference spid-cie-oidc OP (1.6.3) sends userinfo with `sub` and the claims only:
/// accepted, because it is signed by the OP, encrypted to us and its `sub` is the ID
/// token's (docs/oidc.md §7; tests/oidc-interop.sh logs in against that OP).
#[test]
fn oidc_userinfo_without_iss_and_aud_is_accepted() {
    let login = login(FederationKnobs {
        userinfo_without_iss_aud: true,
        ..Default::default()
    })
    .unwrap();
    assert_eq!(
        login.identity().fiscal_code().map(|c| c.as_str()),
        Some("RSSMRA80A01H501U")
    );
}

#[test]
fn oidc_replayed_code_is_refused() {
    let w = world(FederationKnobs::default());
    let (op, pending, cb) = to_callback(&w);
    let first = w.rp.token_request(&op, &pending, &cb, now()).unwrap();
    w.rp.verify_token_response(&op, &pending, &first, &token_body(&w, &first.body()), now())
        .unwrap();
    let again = w.rp.token_request(&op, &pending, &cb, now()).unwrap();
    assert_ne!(
        first.jti(),
        again.jti(),
        "each client assertion has its own jti"
    );
    let e =
        w.rp.verify_token_response(&op, &pending, &again, &token_body(&w, &again.body()), now())
            .unwrap_err();
    assert_eq!(e, RpError::TokenRefused("invalid_grant".into()));
}

#[test]
fn oidc_state_mismatch_is_refused() {
    let w = world(FederationKnobs::default());
    let (op, pending, _) = to_callback(&w);
    let forged = Callback::from_query(&format!(
        "code=code-x&state={}&iss={}",
        "A".repeat(43),
        op.issuer()
    ))
    .unwrap();
    assert_eq!(
        w.rp.token_request(&op, &pending, &forged, now())
            .unwrap_err(),
        RpError::StateMismatch
    );
}

#[test]
fn oidc_callback_from_another_issuer_is_refused() {
    let w = world(FederationKnobs::default());
    let (op, pending, _) = to_callback(&w);
    let q = format!(
        "code=c&state={}&iss=https%3A%2F%2Fevil.example",
        pending.state()
    );
    let cb = Callback::from_query(&q).unwrap();
    assert_eq!(
        w.rp.token_request(&op, &pending, &cb, now()).unwrap_err(),
        RpError::IssuerMismatch
    );
    let missing = Callback::from_query(&format!("code=c&state={}", pending.state())).unwrap();
    assert_eq!(
        w.rp.token_request(&op, &pending, &missing, now())
            .unwrap_err(),
        RpError::IssuerMismatch,
        "CIE sends iss: its absence is refused"
    );
}

#[test]
fn oidc_error_answer_and_expired_pending_are_refused() {
    let w = world(FederationKnobs::default());
    let (op, pending, _) = to_callback(&w);
    let cb = Callback::from_query(&format!(
        "error=access_denied&state={}&iss={}",
        pending.state(),
        op.issuer()
    ))
    .unwrap();
    assert_eq!(
        w.rp.token_request(&op, &pending, &cb, now()).unwrap_err(),
        RpError::OpError("access_denied".into())
    );
    let late = now().plus_seconds(601);
    assert_eq!(
        w.rp.token_request(&op, &pending, &cb, late).unwrap_err(),
        RpError::Expired
    );
    let dup = Callback::from_query("state=a&state=b").unwrap_err();
    assert_eq!(dup.code(), "oidc_malformed");
}

#[test]
fn oidc_pending_login_expires_in_the_store() {
    let w = world(FederationKnobs::default());
    let op = register_and_resolve(&w);
    let store = MemorySessionStore::default();
    let (_, pending) = w.rp.start_login(&op, SpidLevel::L2, now()).unwrap();
    put_pending(&store, &pending, now());
    assert_eq!(
        take_pending(&store, pending.state(), now().plus_seconds(600)).unwrap_err(),
        RpError::UnknownState
    );
}

#[test]
fn oidc_request_object_signed_by_another_key_is_refused_by_the_op() {
    let w = world(FederationKnobs::default());
    let op = register_and_resolve(&w);
    // Another RP with the same entity ID but other keys, not registered.
    let impostor = world(FederationKnobs::default());
    let (url, _) = impostor.rp.start_login(&op, SpidLevel::L2, now()).unwrap();
    let e = w.fed.authorize(after_q(&url), now()).unwrap_err();
    assert_eq!(e.error, "invalid_request_object");
}

#[test]
fn oidc_logout_revokes_the_access_token() {
    let w = world(FederationKnobs::default());
    let (op, pending, cb) = to_callback(&w);
    let req = w.rp.token_request(&op, &pending, &cb, now()).unwrap();
    let tokens =
        w.rp.verify_token_response(&op, &pending, &req, &token_body(&w, &req.body()), now())
            .unwrap();
    assert_eq!(w.fed.live_tokens(), 1);
    let revoke =
        w.rp.revocation_request(&op, tokens.access_token(), now())
            .unwrap()
            .unwrap();
    assert_eq!(revoke.url(), "http://127.0.0.1:8600/op/revocation");
    assert!(w.fed.revoke(&revoke.body()));
    assert_eq!(w.fed.live_tokens(), 0);
}

#[test]
fn oidc_authorization_request_carries_the_profile_parameters() {
    let w = world(FederationKnobs::default());
    let op = register_and_resolve(&w);
    let (url, _) = w.rp.start_login(&op, SpidLevel::L2, now()).unwrap();
    assert!(url.starts_with("http://127.0.0.1:8600/op/authorization?client_id="));
    for p in [
        "code_challenge_method=S256",
        "response_type=code",
        "request=ey",
    ] {
        assert!(url.contains(p), "{p}");
    }
}
