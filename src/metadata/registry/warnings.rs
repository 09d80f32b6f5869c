//! What an operator should act on: expiring keys, pins and documents, entities left out.

use super::MetadataSource;
use crate::metadata::IdentityProvider;
use crate::time::Timestamp;

/// Something an operator should act on. Messages carry no personal data.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryWarning {
    /// An IdP signing certificate has expired (its key is still trusted: metadata is the
    /// trust anchor, but the IdP should have rotated it).
    #[error("identity provider {entity_id}: signing certificate {subject} expired at {not_after}{}", if *.all_expired { " (no unexpired key left)" } else { "" })]
    KeyExpired {
        /// The IdP.
        entity_id: String,
        /// The certificate subject.
        subject: String,
        /// Its notAfter.
        not_after: Timestamp,
        /// Whether every signing key of the IdP has expired.
        all_expired: bool,
    },
    /// An IdP signing certificate expires within the horizon.
    #[error("identity provider {entity_id}: signing certificate {subject} expires at {not_after}")]
    KeyExpiresSoon {
        /// The IdP.
        entity_id: String,
        /// The certificate subject.
        subject: String,
        /// Its notAfter.
        not_after: Timestamp,
    },
    /// The pin that verified a source has expired.
    #[error("{origin} metadata: signing certificate {subject} expired at {not_after}")]
    SignerExpired {
        /// The source.
        origin: MetadataSource,
        /// The certificate subject.
        subject: String,
        /// Its notAfter.
        not_after: Timestamp,
    },
    /// The pin that verified a source expires within the horizon.
    #[error("{origin} metadata: signing certificate {subject} expires at {not_after}")]
    SignerExpiresSoon {
        /// The source.
        origin: MetadataSource,
        /// The certificate subject.
        subject: String,
        /// Its notAfter.
        not_after: Timestamp,
    },
    /// A loaded document has reached its `validUntil`: refresh it.
    #[error("{origin} metadata: validUntil {valid_until} has passed; refresh it")]
    MetadataExpired {
        /// The source.
        origin: MetadataSource,
        /// Its validUntil.
        valid_until: Timestamp,
    },
    /// A loaded document reaches its `validUntil` within the horizon.
    #[error("{origin} metadata: validUntil {valid_until} is near; refresh it")]
    MetadataExpiresSoon {
        /// The source.
        origin: MetadataSource,
        /// Its validUntil.
        valid_until: Timestamp,
    },
    /// An entity was left out because its `validUntil` had passed or could not be read.
    #[error("{origin} metadata: entity {entity_id} left out ({})", match .valid_until { Some(v) => format!("validUntil {v} passed"), None => "validUntil unreadable".to_owned() })]
    EntityDropped {
        /// The source.
        origin: MetadataSource,
        /// The entity.
        entity_id: String,
        /// Its validUntil (`None`: unreadable).
        valid_until: Option<Timestamp>,
    },
}

/// The signing-certificate warnings of one IdP at `now`.
pub fn idp_warnings(
    idp: &IdentityProvider,
    now: Timestamp,
    horizon_secs: i64,
) -> Vec<RegistryWarning> {
    let all_expired = !idp.keys().is_empty()
        && idp
            .keys()
            .iter()
            .all(|k| k.not_after().is_some_and(|t| t <= now));
    let mut out = Vec::new();
    for key in idp.keys() {
        let Some(not_after) = key.not_after() else {
            continue;
        };
        let entity_id = idp.entity_id().as_str().to_owned();
        let subject = key.subject().to_owned();
        if not_after <= now {
            out.push(RegistryWarning::KeyExpired {
                entity_id,
                subject,
                not_after,
                all_expired,
            });
        } else if not_after <= now.plus_seconds(horizon_secs) {
            out.push(RegistryWarning::KeyExpiresSoon {
                entity_id,
                subject,
                not_after,
            });
        }
    }
    out
}
