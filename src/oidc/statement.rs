//! Entity statements (OpenID Federation 1.0 §3): the self-signed entity configuration
//! served at `/.well-known/openid-federation` and the subordinate statements a superior
//! serves from its fetch endpoint. `typ` `entity-statement+jwt`.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::json::{opt_str, req_i64, req_str};
use super::jwk::{Jwks, PrivateJwk};
use super::jws::{self, JwsAlg, JwsPolicy};
use super::OidcError;
use crate::time::Timestamp;

/// The `typ` of entity statements.
pub const ENTITY_STATEMENT_TYP: &str = "entity-statement+jwt";
/// Where an entity serves its entity configuration (appended to its entity identifier).
pub const WELL_KNOWN_FEDERATION: &str = "/.well-known/openid-federation";
/// Most authority hints, trust marks or policy parameters read from one statement.
pub(crate) const MAX_LIST: usize = 16;
/// Longest entity identifier accepted.
const MAX_ENTITY_ID: usize = 2048;

/// A trust mark an entity configuration carries (`trust_marks` entry).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustMarkRef {
    /// The trust mark identifier (`id`, or `trust_mark_type` in later drafts).
    pub id: String,
    /// The signed trust mark JWT.
    pub trust_mark: String,
}

/// A decoded entity statement (verified or not, depending on how it was obtained).
#[derive(Clone, Debug)]
pub struct EntityStatement {
    /// Issuer.
    pub iss: String,
    /// Subject.
    pub sub: String,
    /// Issued at (seconds).
    pub iat: i64,
    /// Expiry (seconds).
    pub exp: i64,
    /// The subject's federation keys.
    pub jwks: Jwks,
    /// Superiors of the subject (entity configurations only).
    pub authority_hints: Vec<String>,
    /// Metadata by entity type.
    pub metadata: Map<String, Value>,
    /// Metadata policy by entity type (subordinate statements).
    pub metadata_policy: Map<String, Value>,
    /// Policy operators that must be understood.
    pub metadata_policy_crit: Vec<String>,
    /// Trust marks the subject holds (entity configurations).
    pub trust_marks: Vec<TrustMarkRef>,
    /// Trust mark id → the issuers allowed to issue it (trust anchor configurations).
    pub trust_mark_issuers: BTreeMap<String, Vec<String>>,
    /// Every claim.
    pub claims: Map<String, Value>,
    /// The JWT it was decoded from.
    pub jwt: String,
}

fn entity_id(map: &Map<String, Value>, name: &'static str) -> Result<String, OidcError> {
    let v = req_str(map, name)?;
    if v.len() > MAX_ENTITY_ID || !(v.starts_with("https://") || v.starts_with("http://")) {
        return Err(OidcError::InvalidClaim {
            claim: name,
            reason: "not an http(s) entity identifier",
        });
    }
    Ok(v.to_owned())
}

fn string_list(map: &Map<String, Value>, name: &'static str) -> Result<Vec<String>, OidcError> {
    let Some(v) = map.get(name) else {
        return Ok(Vec::new());
    };
    let arr = v.as_array().ok_or(OidcError::InvalidClaim {
        claim: name,
        reason: "not an array",
    })?;
    if arr.len() > MAX_LIST {
        return Err(OidcError::TooLarge { what: name });
    }
    arr.iter()
        .map(|x| {
            x.as_str()
                .map(str::to_owned)
                .ok_or(OidcError::InvalidClaim {
                    claim: name,
                    reason: "not a string",
                })
        })
        .collect()
}

fn object_member(
    map: &Map<String, Value>,
    name: &'static str,
) -> Result<Map<String, Value>, OidcError> {
    match map.get(name) {
        None => Ok(Map::new()),
        Some(Value::Object(o)) => Ok(o.clone()),
        Some(_) => Err(OidcError::InvalidClaim {
            claim: name,
            reason: "not an object",
        }),
    }
}

/// Checks `iat`/`exp` against `now` with `skew` seconds of tolerance.
pub(crate) fn check_times(
    iat: i64,
    exp: Option<i64>,
    now: Timestamp,
    skew: i64,
) -> Result<(), OidcError> {
    let now = now.unix_seconds();
    if iat > now.saturating_add(skew) {
        return Err(OidcError::IssuedInFuture);
    }
    if let Some(exp) = exp {
        if exp < iat {
            return Err(OidcError::InvalidClaim {
                claim: "exp",
                reason: "before iat",
            });
        }
        if exp.saturating_add(skew) <= now {
            return Err(OidcError::Expired);
        }
    }
    Ok(())
}

impl EntityStatement {
    /// Decodes an entity statement **without verifying its signature** (header rules,
    /// `typ` and claim shapes are checked). Use [`EntityStatement::verify_with`].
    pub fn decode_unverified(jwt: &str) -> Result<EntityStatement, OidcError> {
        let (header, claims) = jws::decode_unverified(jwt)?;
        match &header.typ {
            Some(t) if jws::typ_matches(t, ENTITY_STATEMENT_TYP) => {}
            _ => {
                return Err(OidcError::WrongType {
                    expected: ENTITY_STATEMENT_TYP,
                })
            }
        }
        EntityStatement::from_claims(claims, jwt)
    }

    fn from_claims(claims: Map<String, Value>, jwt: &str) -> Result<EntityStatement, OidcError> {
        let iss = entity_id(&claims, "iss")?;
        let sub = entity_id(&claims, "sub")?;
        let iat = req_i64(&claims, "iat")?;
        let exp = req_i64(&claims, "exp")?;
        let jwks = match claims.get("jwks") {
            Some(v) => Jwks::from_value(v)?,
            None => {
                return Err(OidcError::InvalidClaim {
                    claim: "jwks",
                    reason: "missing",
                })
            }
        };
        if jwks.is_empty() {
            return Err(OidcError::InvalidClaim {
                claim: "jwks",
                reason: "no usable key",
            });
        }
        let authority_hints = string_list(&claims, "authority_hints")?;
        let metadata = object_member(&claims, "metadata")?;
        let metadata_policy = object_member(&claims, "metadata_policy")?;
        let metadata_policy_crit = string_list(&claims, "metadata_policy_crit")?;
        let mut trust_marks = Vec::new();
        if let Some(v) = claims.get("trust_marks") {
            let arr = v.as_array().ok_or(OidcError::InvalidClaim {
                claim: "trust_marks",
                reason: "not an array",
            })?;
            if arr.len() > MAX_LIST {
                return Err(OidcError::TooLarge {
                    what: "trust_marks",
                });
            }
            for tm in arr {
                let o = tm.as_object().ok_or(OidcError::InvalidClaim {
                    claim: "trust_marks",
                    reason: "entry not an object",
                })?;
                let id = match opt_str(o, "id")? {
                    Some(id) => id,
                    None => req_str(o, "trust_mark_type")?,
                };
                trust_marks.push(TrustMarkRef {
                    id: id.to_owned(),
                    trust_mark: req_str(o, "trust_mark")?.to_owned(),
                });
            }
        }
        let mut trust_mark_issuers = BTreeMap::new();
        for (id, list) in object_member(&claims, "trust_mark_issuers")? {
            let arr = list.as_array().ok_or(OidcError::InvalidClaim {
                claim: "trust_mark_issuers",
                reason: "not an array",
            })?;
            let issuers = arr
                .iter()
                .take(MAX_LIST)
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect();
            trust_mark_issuers.insert(id, issuers);
        }
        Ok(EntityStatement {
            iss,
            sub,
            iat,
            exp,
            jwks,
            authority_hints,
            metadata,
            metadata_policy,
            metadata_policy_crit,
            trust_marks,
            trust_mark_issuers,
            claims,
            jwt: jwt.to_owned(),
        })
    }

    /// Verifies `jwt` with the trusted `keys` and checks `typ`, claims and times.
    pub fn verify_with(
        jwt: &str,
        keys: &Jwks,
        now: Timestamp,
        skew_seconds: i64,
    ) -> Result<EntityStatement, OidcError> {
        let verified = jws::verify(jwt, keys, &JwsPolicy::with_typ(ENTITY_STATEMENT_TYP))?;
        let st = EntityStatement::from_claims(verified.claims()?, jwt)?;
        check_times(st.iat, Some(st.exp), now, skew_seconds)?;
        Ok(st)
    }

    /// Verifies an entity configuration (`iss` = `sub`) with the keys it carries. Proves
    /// only self-consistency: trust comes from the superior's statement about it.
    pub fn verify_self_signed(
        jwt: &str,
        now: Timestamp,
        skew_seconds: i64,
    ) -> Result<EntityStatement, OidcError> {
        let unverified = EntityStatement::decode_unverified(jwt)?;
        if !unverified.is_configuration() {
            return Err(OidcError::BrokenLink {
                reason: "entity configuration with iss != sub",
            });
        }
        EntityStatement::verify_with(jwt, &unverified.jwks, now, skew_seconds)
    }

    /// Whether this is an entity configuration (`iss` = `sub`).
    pub fn is_configuration(&self) -> bool {
        self.iss == self.sub
    }

    /// `metadata.federation_entity.federation_fetch_endpoint`.
    pub fn fetch_endpoint(&self) -> Option<&str> {
        self.metadata
            .get("federation_entity")?
            .get("federation_fetch_endpoint")?
            .as_str()
    }

    /// The expiry as a timestamp.
    pub fn expires_at(&self) -> Timestamp {
        Timestamp::from_unix_seconds(self.exp)
    }
}

/// An entity statement to sign (our own entity configuration, the test federation's).
#[derive(Clone, Debug)]
pub struct StatementDraft {
    /// Issuer.
    pub iss: String,
    /// Subject (= `iss` for an entity configuration).
    pub sub: String,
    /// Issued at (seconds).
    pub iat: i64,
    /// Expiry (seconds).
    pub exp: i64,
    /// The subject's federation keys.
    pub jwks: Jwks,
    /// Superiors (entity configurations).
    pub authority_hints: Vec<String>,
    /// Metadata by entity type.
    pub metadata: Map<String, Value>,
    /// Metadata policy by entity type (subordinate statements).
    pub metadata_policy: Map<String, Value>,
    /// Trust marks held (entity configurations).
    pub trust_marks: Vec<TrustMarkRef>,
    /// Trust mark issuers (trust anchor configuration).
    pub trust_mark_issuers: BTreeMap<String, Vec<String>>,
    /// Further claims (added last; they do not replace the ones above).
    pub extra: Map<String, Value>,
}

impl StatementDraft {
    /// A statement by `iss` about `sub`, valid from `now` for `lifetime_seconds`.
    pub fn new(
        iss: impl Into<String>,
        sub: impl Into<String>,
        now: Timestamp,
        lifetime_seconds: i64,
        jwks: Jwks,
    ) -> StatementDraft {
        let iat = now.unix_seconds();
        StatementDraft {
            iss: iss.into(),
            sub: sub.into(),
            iat,
            exp: iat.saturating_add(lifetime_seconds),
            jwks,
            authority_hints: Vec::new(),
            metadata: Map::new(),
            metadata_policy: Map::new(),
            trust_marks: Vec::new(),
            trust_mark_issuers: BTreeMap::new(),
            extra: Map::new(),
        }
    }

    /// The claims set.
    pub fn to_claims(&self) -> Value {
        let mut c = self.extra.clone();
        c.insert("iss".into(), Value::String(self.iss.clone()));
        c.insert("sub".into(), Value::String(self.sub.clone()));
        c.insert("iat".into(), Value::from(self.iat));
        c.insert("exp".into(), Value::from(self.exp));
        c.insert("jwks".into(), self.jwks.to_value());
        if !self.authority_hints.is_empty() {
            c.insert(
                "authority_hints".into(),
                Value::from(self.authority_hints.clone()),
            );
        }
        if !self.metadata.is_empty() {
            c.insert("metadata".into(), Value::Object(self.metadata.clone()));
        }
        if !self.metadata_policy.is_empty() {
            c.insert(
                "metadata_policy".into(),
                Value::Object(self.metadata_policy.clone()),
            );
        }
        if !self.trust_marks.is_empty() {
            let tms = self
                .trust_marks
                .iter()
                .map(|t| {
                    let mut o = Map::new();
                    o.insert("id".into(), Value::String(t.id.clone()));
                    o.insert("trust_mark".into(), Value::String(t.trust_mark.clone()));
                    Value::Object(o)
                })
                .collect();
            c.insert("trust_marks".into(), Value::Array(tms));
        }
        if !self.trust_mark_issuers.is_empty() {
            let o = self
                .trust_mark_issuers
                .iter()
                .map(|(k, v)| (k.clone(), Value::from(v.clone())))
                .collect();
            c.insert("trust_mark_issuers".into(), Value::Object(o));
        }
        Value::Object(c)
    }

    /// Signs the statement (`typ` `entity-statement+jwt`, RS256 or ES256 by key type).
    pub fn sign(&self, key: &PrivateJwk) -> Result<String, OidcError> {
        jws::sign_claims(
            &self.to_claims(),
            key,
            JwsAlg::default_for(key.key_type()),
            Some(ENTITY_STATEMENT_TYP),
        )
    }
}
