//! A two-statement trust chain (OP → trust anchor), enough for the relying party to
//! trust an OP registered directly under its trust anchor, with the trust mark the
//! SPID/CIE profile makes mandatory.
//!
//! Stop-gap, like `rp_jose`: the general chain (intermediates, metadata policy, key
//! rollover, the bounded cache) is the `wip-oidc` branch's; when it lands,
//! [`resolve_provider`] delegates to it and keeps its signature.

use serde_json::{Map, Value};

use super::rp::Provider;
use super::rp_error::RpError;
use super::rp_jose as jose;
use super::Jwks;
use crate::time::Timestamp;

fn fresh(claims: &Map<String, Value>, now: Timestamp) -> Result<(), RpError> {
    let exp = claims
        .get("exp")
        .and_then(Value::as_i64)
        .ok_or(RpError::TrustChain("exp"))?;
    let iat = claims
        .get("iat")
        .and_then(Value::as_i64)
        .ok_or(RpError::TrustChain("iat"))?;
    let n = now.unix_seconds();
    if exp <= n {
        return Err(RpError::TrustChain("statement expired"));
    }
    if iat > n.saturating_add(super::rp::CLOCK_SKEW_SECONDS) {
        return Err(RpError::TrustChain("statement issued in the future"));
    }
    Ok(())
}

fn claim<'a>(c: &'a Map<String, Value>, k: &str) -> Option<&'a str> {
    c.get(k).and_then(Value::as_str)
}

fn verified(token: &str, keys: &Jwks, what: &'static str) -> Result<Map<String, Value>, RpError> {
    match jose::verify(token, keys) {
        Ok(v) => Ok(v.claims),
        Err(jose::JoseFault::Signature | jose::JoseFault::UnknownKey) => {
            Err(RpError::TrustChain(what))
        }
        Err(f) => Err(RpError::jose(f, what)),
    }
}

/// Validates the chain `op_configuration` (the OP's self-signed Entity Configuration)
/// → `anchor_statement` (the trust anchor's subordinate statement about the OP, from its
/// fetch endpoint) → `anchor`, checks expiry of both, requires a trust mark with id
/// `trust_mark_id` for the OP, issued by an issuer the anchor's `trust_mark_issuers`
/// allows (`anchor_configuration` is the anchor's own Entity Configuration), signed with
/// that issuer's key (`issuer_jwks`) and unexpired. Returns the OP's `openid_provider`
/// metadata as a [`Provider`]. The anchor is pinned: `anchor_id` and its JWKS
/// (`anchor_jwks`) come from configuration, never from the network.
#[allow(clippy::too_many_arguments)]
pub fn resolve_provider(
    anchor_id: &str,
    anchor_jwks: &Value,
    anchor_configuration: &str,
    op_configuration: &str,
    anchor_statement: &str,
    trust_mark_id: &str,
    issuer_jwks: &Value,
    now: Timestamp,
) -> Result<Provider, RpError> {
    let anchor_keys = jose::parse_jwks(anchor_jwks).map_err(|f| RpError::jose(f, "anchor jwks"))?;
    let ta = verified(anchor_configuration, &anchor_keys, "trust anchor signature")?;
    if claim(&ta, "iss") != Some(anchor_id) {
        return Err(RpError::TrustChain("trust anchor issuer"));
    }
    fresh(&ta, now)?;
    let st = verified(
        anchor_statement,
        &anchor_keys,
        "subordinate statement signature",
    )?;
    fresh(&st, now)?;
    let op_id = claim(&st, "sub").ok_or(RpError::TrustChain("statement subject"))?;
    if claim(&st, "iss") != Some(anchor_id) {
        return Err(RpError::TrustChain("statement issuer"));
    }
    let op_keys = st
        .get("jwks")
        .ok_or(RpError::TrustChain("statement jwks"))
        .and_then(|j| jose::parse_jwks(j).map_err(|f| RpError::jose(f, "statement jwks")))?;
    let ec = verified(op_configuration, &op_keys, "OP configuration signature")?;
    fresh(&ec, now)?;
    if claim(&ec, "iss") != Some(op_id) || claim(&ec, "sub") != Some(op_id) {
        return Err(RpError::TrustChain("OP configuration subject"));
    }
    let hints = ec.get("authority_hints").and_then(Value::as_array);
    if !hints.is_some_and(|h| h.iter().any(|v| v.as_str() == Some(anchor_id))) {
        return Err(RpError::TrustChain("OP authority hints"));
    }
    check_trust_mark(&ta, &ec, op_id, trust_mark_id, issuer_jwks, now)?;
    let md = ec
        .get("metadata")
        .and_then(|m| m.get("openid_provider"))
        .ok_or(RpError::TrustChain("no openid_provider metadata"))?;
    Provider::from_trusted_metadata(op_id, md)
}

fn check_trust_mark(
    ta: &Map<String, Value>,
    ec: &Map<String, Value>,
    op_id: &str,
    id: &str,
    issuer_jwks: &Value,
    now: Timestamp,
) -> Result<(), RpError> {
    let allowed: Vec<&str> = ta
        .get("trust_mark_issuers")
        .and_then(|t| t.get(id))
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let keys = jose::parse_jwks(issuer_jwks).map_err(|f| RpError::jose(f, "issuer jwks"))?;
    let marks = ec.get("trust_marks").and_then(Value::as_array);
    for m in marks.into_iter().flatten().take(16) {
        if m.get("id").and_then(Value::as_str) != Some(id) {
            continue;
        }
        let Some(jwt) = m.get("trust_mark").and_then(Value::as_str) else {
            continue;
        };
        let Ok(v) = jose::verify(jwt, &keys) else {
            continue;
        };
        let c = v.claims;
        let issuer_ok = claim(&c, "iss").is_some_and(|i| allowed.contains(&i));
        let exp_ok = c
            .get("exp")
            .and_then(Value::as_i64)
            .is_none_or(|e| e > now.unix_seconds());
        if issuer_ok && exp_ok && claim(&c, "sub") == Some(op_id) && claim(&c, "id") == Some(id) {
            return Ok(());
        }
    }
    Err(RpError::TrustChain("no valid trust mark"))
}
