//! CIE over OpenID Connect in the demo: with the local test IdP on, a local test
//! federation (trust anchor, OP, trust-mark issuer; **TEST ONLY, not CIE**) under
//! `/test-federation`, and the relying party wired into `SpidAuth` (`/spid/oidc/login`,
//! `/spid/oidc/callback`, `/.well-known/openid-federation`).

use std::sync::Arc;

use axum::Router;
use spid_sp::axum::OidcSetup;
use spid_sp::oidc::{RelyingParty, RpConfig, RpKey};
use spid_sp::test_idp::oidc::{self as fed, FederationKnobs, TestFederation, TEST_TRUST_MARK_ID};
use spid_sp::{Clock as _, SystemClock};

/// The relying party and the test federation's routes, or why not.
pub fn start(base_url: &str) -> Result<(OidcSetup, Router), String> {
    let federation = TestFederation::new(
        &format!("{base_url}/test-federation"),
        FederationKnobs::default(),
    )
    .ok_or("the test federation needs a loopback http base URL")?;
    let federation = Arc::new(federation);
    let now = SystemClock.now();
    // Fresh keys per run: the test federation forgets them too (production keys come
    // from files, docs/oidc.md §6).
    let key = || RpKey::generate().map_err(|e| e.to_string());
    let config = RpConfig::new(
        base_url,
        &format!("{base_url}/spid/oidc/callback"),
        key()?,
        key()?,
        key()?,
    )
    .map_err(|e| e.to_string())?
    .names("Demo spid-sp", "Demo spid-sp")
    .authority_hint(&federation.anchor_id())
    .trust_mark(
        TEST_TRUST_MARK_ID,
        &federation.trust_mark(TEST_TRUST_MARK_ID, base_url, now),
    );
    let rp = RelyingParty::new(config);
    let for_op = rp.clone();
    let routes = Router::new().nest(
        "/test-federation",
        fed::router(federation.clone(), move || {
            for_op
                .entity_configuration(SystemClock.now())
                .unwrap_or_default()
        }),
    );
    let setup = OidcSetup::new(rp, vec![federation.trust_anchor()], federation.clone())
        .provider(&federation.op_id());
    Ok((setup, routes))
}
