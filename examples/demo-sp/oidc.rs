//! CIE over OpenID Connect in the demo: with the local test IdP on, a local test
//! federation (trust anchor, OP, trust-mark issuer; **TEST ONLY, not CIE**) under
//! `/test-federation`, and the relying party wired into `SpidAuth` (`/spid/oidc/login`,
//! `/spid/oidc/callback`, `/.well-known/openid-federation`).
//!
//! With `SPID_DEMO_OIDC_TRUST_ANCHOR` set, the relying party joins an **external**
//! federation instead (tests/oidc-interop.sh: Italy's reference `spid-cie-oidc` trust
//! anchor and OP on loopback), over the production back channel
//! ([`spid_sp::axum::HttpBackChannel`], plain http allowed to loopback only):
//! - `SPID_DEMO_OIDC_TRUST_ANCHOR`: the anchor's entity ID;
//! - `SPID_DEMO_OIDC_TRUST_ANCHOR_JWKS`: a file with its federation JWKS, pinned;
//! - `SPID_DEMO_OIDC_PROVIDER`: the OP's entity ID;
//! - `SPID_DEMO_OIDC_KEY_DIR`: `federation.key.pem`, `core-sig.key.pem`,
//!   `core-enc.key.pem` (RSA, PEM);
//! - `SPID_DEMO_OIDC_TRUST_MARK` (optional): a file, the trust mark id on the first
//!   line and the JWT on the second.

use std::sync::Arc;

use axum::Router;
use spid_sp::axum::{HttpBackChannel, OidcSetup};
use spid_sp::oidc::{Jwks, RelyingParty, RpConfig, RpKey, TrustAnchor};
use spid_sp::test_idp::oidc::{self as fed, FederationKnobs, TestFederation, TEST_TRUST_MARK_ID};
use spid_sp::{Clock as _, SystemClock};

/// The relying party and the test federation's routes, or why not.
pub fn start(base_url: &str) -> Result<(OidcSetup, Router), String> {
    if let Ok(anchor) = std::env::var("SPID_DEMO_OIDC_TRUST_ANCHOR") {
        return external(base_url, &anchor).map(|setup| (setup, Router::new()));
    }
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

/// The relying party in an external federation (see the module documentation).
fn external(base_url: &str, anchor: &str) -> Result<OidcSetup, String> {
    let var = |name: &str| std::env::var(name).map_err(|_| format!("{name} is not set"));
    let read = |path: &std::path::Path| {
        std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))
    };
    let jwks_file = var("SPID_DEMO_OIDC_TRUST_ANCHOR_JWKS")?;
    let jwks: serde_json::Value = serde_json::from_slice(&read(jwks_file.as_ref())?)
        .map_err(|e| format!("{jwks_file}: {e}"))?;
    let jwks = Jwks::from_value(&jwks).map_err(|e| format!("{jwks_file}: {e}"))?;
    let provider = var("SPID_DEMO_OIDC_PROVIDER")?;
    let dir = std::path::PathBuf::from(var("SPID_DEMO_OIDC_KEY_DIR")?);
    let key =
        |name: &str| RpKey::from_pem(&read(&dir.join(name))?).map_err(|e| format!("{name}: {e}"));
    let mut config = RpConfig::new(
        base_url,
        &format!("{base_url}/spid/oidc/callback"),
        key("federation.key.pem")?,
        key("core-sig.key.pem")?,
        key("core-enc.key.pem")?,
    )
    .map_err(|e| e.to_string())?
    .names("Demo spid-sp", "Demo spid-sp")
    .authority_hint(anchor);
    if let Some(file) = std::env::var("SPID_DEMO_OIDC_TRUST_MARK")
        .ok()
        .filter(|f| !f.is_empty())
    {
        let text = String::from_utf8(read(file.as_ref())?).map_err(|e| e.to_string())?;
        let mut lines = text.lines();
        if let (Some(id), Some(jwt)) = (lines.next(), lines.next()) {
            config = config.trust_mark(id.trim(), jwt.trim());
        }
    }
    let back = HttpBackChannel::new(std::time::Duration::from_secs(10)).allow_plain_http_loopback();
    let anchor = TrustAnchor {
        entity_id: anchor.to_owned(),
        jwks,
    };
    Ok(OidcSetup::new(RelyingParty::new(config), vec![anchor], Arc::new(back)).provider(&provider))
}
