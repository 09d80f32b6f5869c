//! Trust chains (OpenID Federation 1.0 §4, §10): discovery from a leaf up its
//! `authority_hints` to a configured trust anchor, then validation top-down from the
//! anchor's pinned keys: every statement is verified with the keys its superior asserts
//! (never with keys the subject asserts about itself), `iss`/`sub` link, times hold, the
//! chain expires at the earliest `exp`. Then the metadata policy and the trust marks.
//!
//! The core does no I/O: statements come through [`FederationFetcher`].

use std::cell::Cell;

use serde_json::{Map, Value};

use super::jwk::Jwks;
use super::policy::{apply_policy, combine_policies};
use super::statement::{EntityStatement, WELL_KNOWN_FEDERATION};
use super::trust_mark::{peek_issuer, verify_trust_mark, TrustMark};
use super::OidcError;
use crate::time::Timestamp;

/// A trust anchor the relying party trusts: its entity identifier and pinned JWKS.
#[derive(Clone, Debug)]
pub struct TrustAnchor {
    /// The anchor's entity identifier.
    pub entity_id: String,
    /// Its federation keys, pinned out of band (the federation's published JWKS).
    pub jwks: Jwks,
}

/// Fetches a federation document (an entity configuration or a subordinate statement)
/// and returns its body, a compact JWT. The application implements it (with the
/// `refresh` feature, `HttpFederationFetcher` does it over HTTPS); tests serve a map.
pub trait FederationFetcher {
    /// The body at `url`, or why it could not be obtained (no body in the reason).
    fn fetch(&self, url: &str) -> Result<String, String>;
}

/// Which trust marks a chain must show.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum TrustMarkRequirement {
    /// None (not the SPID/CIE profile: for tests and other federations).
    None,
    /// At least one valid trust mark whose id the anchor lists in `trust_mark_issuers`
    /// (the SPID/CIE profile: trust marks are mandatory).
    #[default]
    AnyListedByAnchor,
    /// At least one valid trust mark with one of these ids.
    AnyOf(Vec<String>),
}

/// Bounds and tolerances of discovery and validation.
#[derive(Clone, Debug)]
pub struct ChainOptions {
    /// Most superiors between the leaf and the anchor, the anchor included.
    pub max_depth: usize,
    /// Most documents fetched for one resolution (trust-mark issuers' chains included).
    pub max_fetches: usize,
    /// Most authority hints followed per entity.
    pub max_authority_hints: usize,
    /// Clock skew tolerated on `iat`/`exp` (seconds).
    pub skew_seconds: i64,
    /// The trust marks required of the leaf.
    pub trust_marks: TrustMarkRequirement,
}

impl Default for ChainOptions {
    fn default() -> ChainOptions {
        ChainOptions {
            max_depth: 4,
            max_fetches: 32,
            max_authority_hints: 4,
            skew_seconds: 60,
            trust_marks: TrustMarkRequirement::AnyListedByAnchor,
        }
    }
}

/// A validated trust chain.
#[derive(Clone, Debug)]
pub struct TrustChain {
    /// The leaf's entity configuration, then the subordinate statements up to the one the
    /// anchor issued.
    pub statements: Vec<EntityStatement>,
    /// The anchor's entity configuration (verified with the pinned keys).
    pub anchor: EntityStatement,
    /// The earliest `exp` of the chain (seconds).
    pub exp: i64,
    /// The entity type resolved (`openid_provider`...).
    pub entity_type: String,
    /// The leaf's metadata for that type, with the policy applied.
    pub metadata: Map<String, Value>,
    /// The leaf's valid trust marks.
    pub trust_marks: Vec<TrustMark>,
}

impl TrustChain {
    /// The leaf's entity configuration.
    pub fn leaf(&self) -> Option<&EntityStatement> {
        self.statements.first()
    }

    /// The leaf's entity identifier.
    pub fn entity_id(&self) -> &str {
        self.statements.first().map_or("", |s| s.sub.as_str())
    }

    /// The leaf's federation keys as its superior asserts them.
    pub fn leaf_federation_jwks(&self) -> Option<&Jwks> {
        self.statements.get(1).map(|s| &s.jwks)
    }

    /// When the chain expires.
    pub fn expires_at(&self) -> Timestamp {
        Timestamp::from_unix_seconds(self.exp)
    }

    /// The chain as JWTs (leaf configuration first, then the anchor's configuration
    /// last), as the `trust_chain` parameter carries it.
    pub fn jwts(&self) -> Vec<String> {
        let mut out: Vec<String> = self.statements.iter().map(|s| s.jwt.clone()).collect();
        out.push(self.anchor.jwt.clone());
        out
    }
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// What a complete candidate path is handed to.
type Accept<'a> = dyn Fn(&[EntityStatement], EntityStatement) -> Result<TrustChain, OidcError> + 'a;

struct Resolver<'a> {
    anchors: &'a [TrustAnchor],
    fetcher: &'a dyn FederationFetcher,
    now: Timestamp,
    opts: &'a ChainOptions,
    fetches: Cell<usize>,
}

impl Resolver<'_> {
    fn fetch(&self, url: &str) -> Result<String, OidcError> {
        let n = self.fetches.get().saturating_add(1);
        if n > self.opts.max_fetches {
            return Err(OidcError::TooDeep);
        }
        self.fetches.set(n);
        self.fetcher.fetch(url).map_err(|reason| OidcError::Fetch {
            url: url.chars().take(256).collect(),
            reason: reason.chars().take(256).collect(),
        })
    }

    fn anchor(&self, entity_id: &str) -> Option<&TrustAnchor> {
        self.anchors.iter().find(|a| a.entity_id == entity_id)
    }

    fn configuration(&self, entity_id: &str) -> Result<EntityStatement, OidcError> {
        let url = format!("{}{WELL_KNOWN_FEDERATION}", entity_id.trim_end_matches('/'));
        let jwt = self.fetch(&url)?;
        let ec = match self.anchor(entity_id) {
            // The anchor's configuration must verify with the pinned keys.
            Some(ta) => {
                EntityStatement::verify_with(&jwt, &ta.jwks, self.now, self.opts.skew_seconds)?
            }
            None => EntityStatement::verify_self_signed(&jwt, self.now, self.opts.skew_seconds)?,
        };
        if ec.sub != entity_id || ec.iss != entity_id {
            return Err(OidcError::BrokenLink {
                reason: "entity configuration about another entity",
            });
        }
        Ok(ec)
    }

    fn subordinate(
        &self,
        superior: &EntityStatement,
        sub: &str,
    ) -> Result<EntityStatement, OidcError> {
        let endpoint = superior.fetch_endpoint().ok_or(OidcError::BrokenLink {
            reason: "superior without federation_fetch_endpoint",
        })?;
        let sep = if endpoint.contains('?') { '&' } else { '?' };
        let url = format!("{endpoint}{sep}sub={}", percent_encode(sub));
        let jwt = self.fetch(&url)?;
        let st = EntityStatement::decode_unverified(&jwt)?;
        if st.iss != superior.sub {
            return Err(OidcError::BrokenLink {
                reason: "subordinate statement from another issuer",
            });
        }
        if st.sub != sub {
            return Err(OidcError::BrokenLink {
                reason: "subordinate statement about another entity",
            });
        }
        Ok(st)
    }

    /// Climbs from `ec` (the last of `prefix`) through its authority hints; at a
    /// configured anchor, hands the whole candidate path to `accept` (validation, policy,
    /// trust marks). The first accepted path wins; otherwise the last error is returned.
    fn discover(
        &self,
        ec: &EntityStatement,
        path: &mut Vec<String>,
        prefix: &mut Vec<EntityStatement>,
        accept: &Accept<'_>,
    ) -> Result<TrustChain, OidcError> {
        if path.len() >= self.opts.max_depth {
            return Err(OidcError::TooDeep);
        }
        let mut last = OidcError::UnknownTrustAnchor {
            entity: ec.sub.chars().take(256).collect(),
        };
        for hint in ec
            .authority_hints
            .iter()
            .take(self.opts.max_authority_hints)
        {
            if path.iter().any(|p| p == hint) || *hint == ec.sub {
                last = OidcError::Loop {
                    entity: hint.chars().take(256).collect(),
                };
                continue;
            }
            let step = (|| -> Result<TrustChain, OidcError> {
                let superior = self.configuration(hint)?;
                let st = self.subordinate(&superior, &ec.sub)?;
                prefix.push(st);
                let found = if self.anchor(hint).is_some() {
                    accept(prefix, superior)
                } else {
                    path.push(hint.clone());
                    let up = self.discover(&superior, path, prefix, accept);
                    path.pop();
                    up
                };
                prefix.pop();
                found
            })();
            match step {
                Ok(found) => return Ok(found),
                Err(e @ OidcError::TooDeep) => return Err(e),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// Validates top-down: statements[0] is the leaf configuration, then subordinate
    /// statements, the last issued by `anchor`.
    fn validate(
        &self,
        statements: &[EntityStatement],
        anchor: &TrustAnchor,
    ) -> Result<i64, OidcError> {
        let skew = self.opts.skew_seconds;
        let mut keys = anchor.jwks.clone();
        let mut issuer = anchor.entity_id.clone();
        let mut exp = i64::MAX;
        for st in statements.iter().rev() {
            if st.iss != issuer {
                return Err(OidcError::BrokenLink {
                    reason: "statement not issued by the next entity up",
                });
            }
            let verified = EntityStatement::verify_with(&st.jwt, &keys, self.now, skew)?;
            exp = exp.min(verified.exp);
            keys = verified.jwks;
            issuer = verified.sub;
        }
        Ok(exp)
    }

    fn resolve(
        &self,
        entity_id: &str,
        entity_type: Option<&str>,
        marks: &TrustMarkRequirement,
    ) -> Result<TrustChain, OidcError> {
        let leaf = self.configuration(entity_id)?;
        let mut path = vec![entity_id.to_owned()];
        let mut prefix = vec![leaf.clone()];
        let accept = |statements: &[EntityStatement], anchor_ec: EntityStatement| {
            self.accept(statements, anchor_ec, entity_type, marks)
        };
        self.discover(&leaf, &mut path, &mut prefix, &accept)
    }

    /// A candidate path (leaf configuration, then subordinate statements up to the one
    /// the anchor issued) validated into a chain.
    fn accept(
        &self,
        statements: &[EntityStatement],
        anchor_ec: EntityStatement,
        entity_type: Option<&str>,
        marks: &TrustMarkRequirement,
    ) -> Result<TrustChain, OidcError> {
        let anchor = self
            .anchor(&anchor_ec.sub)
            .ok_or(OidcError::UnknownTrustAnchor {
                entity: anchor_ec.sub.chars().take(256).collect(),
            })?;
        let exp = self.validate(statements, anchor)?.min(anchor_ec.exp);
        let metadata = match entity_type {
            Some(t) => resolve_metadata(statements, t)?,
            None => Map::new(),
        };
        let mut chain = TrustChain {
            statements: statements.to_vec(),
            anchor: anchor_ec,
            exp,
            entity_type: entity_type.unwrap_or("federation_entity").to_owned(),
            metadata,
            trust_marks: Vec::new(),
        };
        chain.trust_marks = self.trust_marks(&chain, anchor, marks)?;
        Ok(chain)
    }

    fn trust_marks(
        &self,
        chain: &TrustChain,
        anchor: &TrustAnchor,
        marks: &TrustMarkRequirement,
    ) -> Result<Vec<TrustMark>, OidcError> {
        let Some(leaf) = chain.leaf() else {
            return Ok(Vec::new());
        };
        let mut valid = Vec::new();
        let mut last = OidcError::TrustMarkMissing;
        if *marks == TrustMarkRequirement::None {
            return Ok(valid);
        }
        for tm in &leaf.trust_marks {
            let result = (|| -> Result<TrustMark, OidcError> {
                let (iss, _) = peek_issuer(&tm.trust_mark)?;
                if !chain
                    .anchor
                    .trust_mark_issuers
                    .get(&tm.id)
                    .is_some_and(|l| l.contains(&iss))
                {
                    return Err(OidcError::TrustMarkIssuerNotListed);
                }
                let keys = if iss == anchor.entity_id {
                    anchor.jwks.clone()
                } else {
                    // The issuer's keys through its own chain to the same anchor.
                    let issuer_chain = self.resolve(&iss, None, &TrustMarkRequirement::None)?;
                    issuer_chain
                        .leaf_federation_jwks()
                        .cloned()
                        .ok_or(OidcError::TrustMarkMissing)?
                };
                verify_trust_mark(
                    &tm.trust_mark,
                    &tm.id,
                    &leaf.sub,
                    &chain.anchor,
                    &keys,
                    self.now,
                    self.opts.skew_seconds,
                )
            })();
            match result {
                Ok(m) => valid.push(m),
                Err(e @ OidcError::TooDeep) => return Err(e),
                Err(e) => last = e,
            }
        }
        let satisfied = match marks {
            TrustMarkRequirement::None => true,
            TrustMarkRequirement::AnyListedByAnchor => !valid.is_empty(),
            TrustMarkRequirement::AnyOf(ids) => valid.iter().any(|m| ids.contains(&m.id)),
        };
        if satisfied {
            Ok(valid)
        } else {
            Err(last)
        }
    }
}

/// The leaf's metadata for `entity_type`: its own, overridden by what its immediate
/// superior states, then the policies merged from the anchor down, applied.
fn resolve_metadata(
    statements: &[EntityStatement],
    entity_type: &str,
) -> Result<Map<String, Value>, OidcError> {
    let no_metadata = || OidcError::NoMetadata {
        entity_type: entity_type.chars().take(64).collect(),
    };
    let leaf = statements.first().ok_or_else(no_metadata)?;
    let mut metadata = leaf
        .metadata
        .get(entity_type)
        .and_then(Value::as_object)
        .cloned()
        .ok_or_else(no_metadata)?;
    if let Some(Value::Object(over)) = statements.get(1).and_then(|s| s.metadata.get(entity_type)) {
        for (k, v) in over {
            metadata.insert(k.clone(), v.clone());
        }
    }
    let mut policy = Map::new();
    let mut crit: Vec<String> = Vec::new();
    for st in statements.iter().skip(1).rev() {
        if let Some(p) = st.metadata_policy.get(entity_type) {
            let p = p.as_object().ok_or(OidcError::PolicyConflict {
                parameter: entity_type.chars().take(64).collect(),
                reason: "policy not an object",
            })?;
            policy = combine_policies(&policy, p)?;
        }
        crit.extend(st.metadata_policy_crit.iter().cloned());
    }
    apply_policy(&metadata, &policy, &crit)
}

/// Discovers and validates the trust chain of `entity_id` to one of `anchors`, resolves
/// its `entity_type` metadata (`openid_provider` for an OP) under the chain's policy, and
/// checks its trust marks.
pub fn resolve_trust_chain(
    entity_id: &str,
    entity_type: &str,
    anchors: &[TrustAnchor],
    fetcher: &dyn FederationFetcher,
    now: Timestamp,
    opts: &ChainOptions,
) -> Result<TrustChain, OidcError> {
    let resolver = Resolver {
        anchors,
        fetcher,
        now,
        opts,
        fetches: Cell::new(0),
    };
    let result = resolver.resolve(entity_id, Some(entity_type), &opts.trust_marks);
    match &result {
        Ok(chain) => tracing::debug!(
            entity = entity_id,
            anchor = chain.anchor.sub.as_str(),
            exp = chain.exp,
            "oidc trust chain resolved"
        ),
        Err(e) => tracing::info!(
            entity = entity_id,
            outcome = e.code(),
            "oidc trust chain refused"
        ),
    }
    result
}
