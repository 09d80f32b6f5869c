//! [`RegistryEvent`]: what changed between two IdP sets, and what expires within a
//! horizon — typed, for the application to act on (alerts, audit, the login button).

use std::collections::BTreeMap;
use std::fmt;

use super::{MetadataSource, Registry};
use crate::dsig::VerificationKey;
use crate::federation::Federation;
use crate::metadata::IdentityProvider;
use crate::time::Timestamp;

/// Something that changed in the trusted IdP set, or needs attention soon. Messages
/// carry no personal data (entityIDs, certificate subjects and fingerprints only).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RegistryEvent {
    /// An IdP is trusted that was not before.
    IdpAdded {
        /// The IdP.
        entity_id: String,
        /// Its federation.
        federation: Federation,
    },
    /// An IdP is no longer trusted: new logins are refused, and so are Responses of
    /// logins in flight.
    IdpRemoved {
        /// The IdP.
        entity_id: String,
        /// Its federation.
        federation: Federation,
    },
    /// An IdP lists a signing key it did not list before.
    KeyAdded {
        /// The IdP.
        entity_id: String,
        /// The key's certificate.
        key: KeySummary,
    },
    /// An IdP no longer lists a signing key (Responses signed with it are refused).
    KeyRemoved {
        /// The IdP.
        entity_id: String,
        /// The key's certificate.
        key: KeySummary,
    },
    /// An IdP's SingleSignOn or SingleLogout endpoints changed.
    EndpointsChanged {
        /// The IdP.
        entity_id: String,
    },
    /// An IdP signing certificate expires within the horizon (or has expired:
    /// `days_left` ≤ 0).
    IdpCertificateExpiring {
        /// The IdP.
        entity_id: String,
        /// The certificate.
        key: KeySummary,
        /// Whole days from now to its `notAfter` (rounded down; negative once past).
        days_left: i64,
    },
    /// The pinned certificate that verified a registry source expires within the horizon
    /// (or has expired): obtain AgID's (or the node's) next certificate and pin it beside.
    RegistrySignerExpiring {
        /// The source.
        origin: MetadataSource,
        /// The certificate.
        key: KeySummary,
        /// Whole days from now to its `notAfter`.
        days_left: i64,
    },
    /// The SP's own certificate (the signing one, or one published for a rollover)
    /// expires within the horizon: roll the key over and re-submit the metadata.
    SpCertificateExpiring {
        /// The certificate.
        key: KeySummary,
        /// Whole days from now to its `notAfter`.
        days_left: i64,
    },
    /// A source could not be refreshed from any of its URLs: the last good copy stays
    /// in use.
    RefreshFailed {
        /// The source (`None`: the JSON IdP list).
        origin: Option<MetadataSource>,
        /// Why, for each URL tried (no personal data: URLs and error texts).
        reason: String,
    },
    /// A source URL answered with a redirect that was followed (over https): the
    /// endpoint moved; update the configured URL.
    SourceRedirected {
        /// The source (`None`: the JSON IdP list).
        origin: Option<MetadataSource>,
        /// The URL configured.
        from: String,
        /// Where the document finally came from.
        to: String,
    },
    /// The registry's JSON list names an entity that no signed metadata lists: it is
    /// **not** trusted (the JSON carries no signature), only reported.
    ListedButNotVerified {
        /// The entityID in the JSON list.
        entity_id: String,
    },
    /// A SPID IdP of the signed aggregate is missing from the registry's JSON list.
    VerifiedButNotListed {
        /// The IdP.
        entity_id: String,
    },
}

/// A certificate, as events name it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeySummary {
    /// The subject (printable).
    pub subject: String,
    /// SHA-256 of the DER certificate, lower-case hex.
    pub sha256: String,
    /// Its `notAfter`, when readable.
    pub not_after: Option<Timestamp>,
}

impl KeySummary {
    /// The summary of `key`.
    pub fn of(key: &VerificationKey) -> KeySummary {
        KeySummary {
            subject: key.subject().to_owned(),
            sha256: hex(key.fingerprint()),
            not_after: key.not_after(),
        }
    }
}

use crate::printable::hex;

impl fmt::Display for KeySummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let short = self.sha256.get(..16).unwrap_or(&self.sha256);
        write!(f, "{} (sha256 {short}…", self.subject)?;
        if let Some(t) = self.not_after {
            write!(f, ", until {t}")?;
        }
        f.write_str(")")
    }
}

impl RegistryEvent {
    /// A stable, short code for logs and metrics (`idp-added`, `key-removed`, ...).
    pub fn code(&self) -> &'static str {
        match self {
            RegistryEvent::IdpAdded { .. } => "idp-added",
            RegistryEvent::IdpRemoved { .. } => "idp-removed",
            RegistryEvent::KeyAdded { .. } => "key-added",
            RegistryEvent::KeyRemoved { .. } => "key-removed",
            RegistryEvent::EndpointsChanged { .. } => "endpoints-changed",
            RegistryEvent::IdpCertificateExpiring { .. } => "idp-certificate-expiring",
            RegistryEvent::RegistrySignerExpiring { .. } => "registry-signer-expiring",
            RegistryEvent::SpCertificateExpiring { .. } => "sp-certificate-expiring",
            RegistryEvent::RefreshFailed { .. } => "refresh-failed",
            RegistryEvent::SourceRedirected { .. } => "source-redirected",
            RegistryEvent::ListedButNotVerified { .. } => "listed-but-not-verified",
            RegistryEvent::VerifiedButNotListed { .. } => "verified-but-not-listed",
        }
    }

    /// Whether an operator should act (expiry, a failed refresh, a list mismatch), as
    /// opposed to a change that already took effect.
    pub fn needs_attention(&self) -> bool {
        !matches!(
            self,
            RegistryEvent::IdpAdded { .. }
                | RegistryEvent::IdpRemoved { .. }
                | RegistryEvent::KeyAdded { .. }
                | RegistryEvent::KeyRemoved { .. }
                | RegistryEvent::EndpointsChanged { .. }
        )
    }
}

impl fmt::Display for RegistryEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = |s: &str| crate::printable::printable(s, 200);
        match self {
            RegistryEvent::IdpAdded {
                entity_id,
                federation,
            } => write!(
                f,
                "identity provider added: {} ({federation:?})",
                p(entity_id)
            ),
            RegistryEvent::IdpRemoved {
                entity_id,
                federation,
            } => write!(
                f,
                "identity provider removed: {} ({federation:?})",
                p(entity_id)
            ),
            RegistryEvent::KeyAdded { entity_id, key } => {
                write!(f, "identity provider {}: key added {key}", p(entity_id))
            }
            RegistryEvent::KeyRemoved { entity_id, key } => {
                write!(f, "identity provider {}: key removed {key}", p(entity_id))
            }
            RegistryEvent::EndpointsChanged { entity_id } => {
                write!(f, "identity provider {}: endpoints changed", p(entity_id))
            }
            RegistryEvent::IdpCertificateExpiring {
                entity_id,
                key,
                days_left,
            } => write!(
                f,
                "identity provider {}: signing certificate {key} {}",
                p(entity_id),
                days(*days_left)
            ),
            RegistryEvent::RegistrySignerExpiring {
                origin,
                key,
                days_left,
            } => write!(
                f,
                "{origin} metadata signer {key} {}: pin its successor",
                days(*days_left)
            ),
            RegistryEvent::SpCertificateExpiring { key, days_left } => write!(
                f,
                "SP certificate {key} {}: roll the key over and re-submit the metadata",
                days(*days_left)
            ),
            RegistryEvent::RefreshFailed { origin, reason } => match origin {
                Some(o) => write!(
                    f,
                    "{o} metadata refresh failed, last good copy kept: {reason}"
                ),
                None => write!(f, "IdP list refresh failed: {reason}"),
            },
            RegistryEvent::SourceRedirected { origin, from, to } => write!(
                f,
                "{} moved: {} redirects to {}; update the configured URL",
                origin.map_or("IdP list", MetadataSource::as_str),
                p(from),
                p(to)
            ),
            RegistryEvent::ListedButNotVerified { entity_id } => write!(
                f,
                "IdP list names {} but no signed metadata lists it: not trusted",
                p(entity_id)
            ),
            RegistryEvent::VerifiedButNotListed { entity_id } => write!(
                f,
                "identity provider {} is in the signed aggregate but not in the IdP list",
                p(entity_id)
            ),
        }
    }
}

fn days(days_left: i64) -> String {
    if days_left < 0 {
        format!("expired {} day(s) ago", -days_left)
    } else {
        format!("expires in {days_left} day(s)")
    }
}

/// Whole days from `now` to `t` (rounded towards minus infinity).
fn days_until(now: Timestamp, t: Timestamp) -> i64 {
    t.unix_seconds()
        .saturating_sub(now.unix_seconds())
        .div_euclid(86_400)
}

/// What changed from `old` to `new` (two IdP sets, e.g. before and after a refresh):
/// IdPs added or removed, signing keys added or removed, endpoints changed. Sorted by
/// entityID; empty when the sets trust the same keys at the same endpoints.
pub fn diff_idps<'a>(
    old: impl IntoIterator<Item = &'a IdentityProvider>,
    new: impl IntoIterator<Item = &'a IdentityProvider>,
) -> Vec<RegistryEvent> {
    let old: BTreeMap<&str, &IdentityProvider> = old
        .into_iter()
        .map(|i| (i.entity_id().as_str(), i))
        .collect();
    let new: BTreeMap<&str, &IdentityProvider> = new
        .into_iter()
        .map(|i| (i.entity_id().as_str(), i))
        .collect();
    let mut out = Vec::new();
    for (id, idp) in &old {
        if !new.contains_key(id) {
            out.push(RegistryEvent::IdpRemoved {
                entity_id: (*id).to_owned(),
                federation: idp.federation(),
            });
        }
    }
    for (id, n) in &new {
        let Some(o) = old.get(id) else {
            out.push(RegistryEvent::IdpAdded {
                entity_id: (*id).to_owned(),
                federation: n.federation(),
            });
            continue;
        };
        for k in o.keys() {
            if !n.keys().iter().any(|x| x.fingerprint() == k.fingerprint()) {
                out.push(RegistryEvent::KeyRemoved {
                    entity_id: (*id).to_owned(),
                    key: KeySummary::of(k),
                });
            }
        }
        for k in n.keys() {
            if !o.keys().iter().any(|x| x.fingerprint() == k.fingerprint()) {
                out.push(RegistryEvent::KeyAdded {
                    entity_id: (*id).to_owned(),
                    key: KeySummary::of(k),
                });
            }
        }
        if o.sso_endpoints() != n.sso_endpoints() || o.slo_endpoints() != n.slo_endpoints() {
            out.push(RegistryEvent::EndpointsChanged {
                entity_id: (*id).to_owned(),
            });
        }
    }
    out
}

/// The certificates of `registry` that expire within `horizon_secs` of `now` (or have
/// expired): every IdP signing key, and the pin that verified each signed source.
pub fn expiry_events(registry: &Registry, now: Timestamp, horizon_secs: i64) -> Vec<RegistryEvent> {
    let soon = now.plus_seconds(horizon_secs);
    let mut out = Vec::new();
    for s in registry.sources() {
        if let Some(signer) = s.signer() {
            if let Some(t) = signer.not_after().filter(|t| *t <= soon) {
                out.push(RegistryEvent::RegistrySignerExpiring {
                    origin: s.source(),
                    key: KeySummary::of(signer),
                    days_left: days_until(now, t),
                });
            }
        }
        for idp in s.idps() {
            for k in idp.keys() {
                if let Some(t) = k.not_after().filter(|t| *t <= soon) {
                    out.push(RegistryEvent::IdpCertificateExpiring {
                        entity_id: idp.entity_id().as_str().to_owned(),
                        key: KeySummary::of(k),
                        days_left: days_until(now, t),
                    });
                }
            }
        }
    }
    out
}

/// [`RegistryEvent::SpCertificateExpiring`] for each of `keys` (the SP's signing
/// certificate, and those published for a rollover) that expires within `horizon_secs`
/// of `now`, or has expired.
pub fn sp_certificate_events<'a>(
    keys: impl IntoIterator<Item = &'a VerificationKey>,
    now: Timestamp,
    horizon_secs: i64,
) -> Vec<RegistryEvent> {
    let soon = now.plus_seconds(horizon_secs);
    keys.into_iter()
        .filter_map(|k| {
            let t = k.not_after().filter(|t| *t <= soon)?;
            Some(RegistryEvent::SpCertificateExpiring {
                key: KeySummary::of(k),
                days_left: days_until(now, t),
            })
        })
        .collect()
}
