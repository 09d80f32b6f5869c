//! Trust marks (OpenID Federation 1.0 §7, mandatory in the SPID/CIE profile): a JWT by a
//! trust-mark issuer the trust anchor lists in `trust_mark_issuers` for that id, about
//! the entity (`sub`), not expired.

use serde_json::{Map, Value};

use super::json::{opt_i64, opt_str, req_i64, req_str};
use super::jwk::{Jwks, PrivateJwk};
use super::jws::{self, JwsAlg, JwsPolicy};
use super::statement::{check_times, EntityStatement};
use super::OidcError;
use crate::time::Timestamp;

/// The `typ` of trust marks (required only when present: the Italian trust marks of
/// the earlier drafts carry none).
pub const TRUST_MARK_TYP: &str = "trust-mark+jwt";

/// A verified trust mark.
#[derive(Clone, Debug, PartialEq)]
pub struct TrustMark {
    /// The trust mark identifier (`id`, or `trust_mark_type`).
    pub id: String,
    /// The issuer.
    pub iss: String,
    /// The entity it is about.
    pub sub: String,
    /// Issued at.
    pub iat: i64,
    /// Expiry (none: until revoked).
    pub exp: Option<i64>,
    /// Every claim.
    pub claims: Map<String, Value>,
}

fn invalid(reason: &'static str) -> OidcError {
    OidcError::InvalidTrustMark { reason }
}

/// The issuer and id a trust mark claims, read without verification (to pick the keys).
pub(crate) fn peek_issuer(jwt: &str) -> Result<(String, String), OidcError> {
    let (_, claims) = jws::decode_unverified(jwt).map_err(|_| invalid("malformed"))?;
    let iss = req_str(&claims, "iss").map_err(|_| invalid("iss missing"))?;
    let id = match opt_str(&claims, "id").map_err(|_| invalid("id"))? {
        Some(id) => id,
        None => req_str(&claims, "trust_mark_type").map_err(|_| invalid("id missing"))?,
    };
    Ok((iss.to_owned(), id.to_owned()))
}

/// Verifies `jwt` as the trust mark `expected_id` about `subject`: the issuer must be
/// listed by the trust anchor's configuration for that id (an empty list means any
/// issuer the anchor trusts, as §7.1 says; we refuse it: listed issuers only), the
/// signature must verify with `issuer_keys`, and it must not be expired.
pub fn verify_trust_mark(
    jwt: &str,
    expected_id: &str,
    subject: &str,
    anchor: &EntityStatement,
    issuer_keys: &Jwks,
    now: Timestamp,
    skew_seconds: i64,
) -> Result<TrustMark, OidcError> {
    let (iss, id) = peek_issuer(jwt)?;
    if id != expected_id {
        return Err(invalid("id differs from the trust_marks entry"));
    }
    let listed = anchor
        .trust_mark_issuers
        .get(&id)
        .is_some_and(|issuers| issuers.contains(&iss));
    if !listed {
        return Err(OidcError::TrustMarkIssuerNotListed);
    }
    let verified = jws::verify(jwt, issuer_keys, &JwsPolicy::default()).map_err(|e| match e {
        OidcError::BadSignature => invalid("bad signature"),
        OidcError::UnknownKey => invalid("unknown issuer key"),
        other => other,
    })?;
    if let Some(t) = &verified.header.typ {
        if !jws::typ_matches(t, TRUST_MARK_TYP) && !jws::typ_matches(t, "JWT") {
            return Err(OidcError::WrongType {
                expected: TRUST_MARK_TYP,
            });
        }
    }
    let claims = verified.claims()?;
    let sub = req_str(&claims, "sub").map_err(|_| invalid("sub missing"))?;
    if sub != subject {
        return Err(invalid("sub is another entity"));
    }
    let iat = req_i64(&claims, "iat").map_err(|_| invalid("iat missing"))?;
    let exp = opt_i64(&claims, "exp").map_err(|_| invalid("exp"))?;
    check_times(iat, exp, now, skew_seconds).map_err(|e| match e {
        OidcError::Expired => invalid("expired"),
        OidcError::IssuedInFuture => invalid("issued in the future"),
        OidcError::InvalidClaim { .. } => invalid("exp before iat"),
        other => other,
    })?;
    Ok(TrustMark {
        id,
        iss,
        sub: sub.to_owned(),
        iat,
        exp,
        claims,
    })
}

/// A trust mark to sign (the test federation's trust-mark issuer).
#[derive(Clone, Debug)]
pub struct TrustMarkDraft {
    /// The trust mark identifier.
    pub id: String,
    /// The issuer.
    pub iss: String,
    /// The entity it is about.
    pub sub: String,
    /// Issued at.
    pub iat: i64,
    /// Expiry.
    pub exp: Option<i64>,
    /// Further claims (`logo_uri`, `ref`, ...).
    pub extra: Map<String, Value>,
}

impl TrustMarkDraft {
    /// Signs it (`typ` `trust-mark+jwt`, RS256 or ES256 by key type).
    pub fn sign(&self, key: &PrivateJwk) -> Result<String, OidcError> {
        let mut c = self.extra.clone();
        c.insert("id".into(), Value::String(self.id.clone()));
        c.insert("iss".into(), Value::String(self.iss.clone()));
        c.insert("sub".into(), Value::String(self.sub.clone()));
        c.insert("iat".into(), Value::from(self.iat));
        if let Some(exp) = self.exp {
            c.insert("exp".into(), Value::from(exp));
        }
        jws::sign_claims(
            &Value::Object(c),
            key,
            JwsAlg::default_for(key.key_type()),
            Some(TRUST_MARK_TYP),
        )
    }
}
