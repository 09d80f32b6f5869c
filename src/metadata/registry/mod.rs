//! The trusted IdP registry: SPID's registry aggregate, CIE ID and the eIDAS node, each
//! loaded from bytes the caller fetched and trusted the way its source requires.
//!
//! | MetadataSource | Trust |
//! |---|---|
//! | [`MetadataSource::SpidRegistry`] | the document element's enveloped signature must verify with a pinned registry certificate |
//! | [`MetadataSource::EidasNode`] | the same, with the node's pinned metadata certificate (it signs with `Reference URI=""`) |
//! | [`MetadataSource::Cie`] | none in the document: CIE publishes unsigned metadata, trusted because the operator obtained it out of band (a file reviewed and deployed with the application, or an HTTPS download from the Ministry's host) |
//!
//! Pins are [`VerificationKey`]s; give several during a rotation. Certificate validity
//! dates are not enforced (SAML metadata trust is the key itself) but reported by
//! [`Registry::warnings`], together with IdP signing certificates that expired or expire
//! soon.
//!
//! **`validUntil`**: a document whose `validUntil` has passed is refused
//! ([`MetadataError::Expired`]); an entity whose own `validUntil` has passed is left out
//! (listed by [`VerifiedMetadata::dropped`] and reported as a warning). A loaded copy
//! that reaches its `validUntil` later is reported by [`Registry::warnings`]: refresh it.
//!
//! An entity whose `validUntil` cannot be read (not a UTC `xs:dateTime`) is left out too,
//! and a document whose `validUntil` cannot be read is refused.
//!
//! **No rollback.** A verified document that is *older* than the copy in use does not
//! replace it ([`RegistryError::Rollback`]): an attacker who kept an old signed copy
//! (one that still lists a key the IdP has since rotated out) cannot serve it again.
//! "Older" is decided by [`check_not_older`], in this order:
//! 1. both copies carry `mdrpi:PublicationInfo/@creationInstant`: the new one must not be
//!    earlier;
//! 2. otherwise both carry `validUntil`: the new one must not be earlier (each issue of a
//!    registry extends its validity);
//! 3. the copy in use carries one of these and the new one does not (or not the same
//!    one): the new copy's freshness cannot be established, so it is refused;
//! 4. neither carries either (the SPID aggregate today): nothing to compare, accepted.
//!
//! `ID` and `cacheDuration` carry no order (an opaque identifier, a duration) and are
//! not used. Whatever the fields, a key that a later copy of the same source removed
//! stays **retired** for the life of the [`Registry`]: a document that lists it again is
//! refused ([`RollbackReason::RetiredKey`]). Persist [`Registry::retired_keys`] and restore
//! them with [`Registry::retire_keys`] to keep that memory across restarts.
//!
//! **Refresh** (feature `refresh`): [`Registry::refresh`] downloads a source, verifies it
//! and only then replaces the copy in use; on any failure the last good copy stays.
//! Every source is downloaded over https only, redirects included (signed metadata too:
//! a plain-http download would leak which registry is used and invite downgrade games);
//! [`Fetcher::allow_plain_http`] lifts that for loopback test servers only.
//!
//! The core does no I/O: the application reads files or calls `refresh`, then builds its
//! [`ServiceProvider`](crate::ServiceProvider) from [`Registry::idps`] (rebuild it after
//! a refresh that returned [`LoadOutcome::Replaced`]).
//!
//! ```
//! use spid_sp::metadata::{Registry, RegistryTrust, MetadataSource};
//! use spid_sp::Timestamp;
//!
//! let now = Timestamp::parse("2024-01-10T00:00:00Z")?;
//! // The committed snapshots' own pins: for tests only (see RegistryTrust::committed_snapshots).
//! let mut registry = Registry::new(RegistryTrust::committed_snapshots()?);
//! registry.load(MetadataSource::SpidRegistry, include_bytes!("../../../metadata/spid-entities-idps.xml"), now)?;
//! registry.load(MetadataSource::Cie, include_bytes!("../../../metadata/cie-idp-production.xml"), now)?;
//! let poste = registry.idp("https://posteid.poste.it").ok_or("missing")?;
//! assert!(poste.sso(spid_sp::Binding::Post).is_some());
//! for warning in registry.warnings(now, spid_sp::metadata::EXPIRY_HORIZON_SECS) {
//!     eprintln!("{warning}");
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;

use crate::dsig::{KeyError, VerificationKey};
use crate::federation::Federation;
use crate::metadata::MetadataError;
use crate::time::Timestamp;

mod events;
#[cfg(feature = "refresh")]
mod list;
#[cfg(feature = "refresh")]
mod refresh;
#[cfg(feature = "refresh")]
mod refresher;
mod set;
mod verify;
mod warnings;

pub use events::{diff_idps, expiry_events, sp_certificate_events, KeySummary, RegistryEvent};
#[cfg(feature = "refresh")]
pub use list::{IdpList, IdpListEntry, IdpListError};
#[cfg(all(feature = "refresh", feature = "oidc", feature = "axum"))]
pub(crate) use refresh::{agent_without_redirects, resolve_location};
#[cfg(feature = "refresh")]
pub use refresh::{fetch_verified, FetchError, Fetcher, PlainHttp, RefreshError, MAX_REDIRECTS};
#[cfg(feature = "refresh")]
pub use refresher::{IdpSink, RefreshReport, Refresher, RefresherHandle};
pub use set::{LoadOutcome, Registry};
pub use verify::{check_not_older, verify_metadata, DroppedEntity, VerifiedMetadata};
pub use warnings::{idp_warnings, RegistryWarning};

/// The SPID registry's signed SAML aggregate of the accredited IdPs (the endpoint since
/// 2024; the older `/metadata/idp/spid-entities-idps.xml` answers with a redirect).
/// Verify it against AgID's registry certificate, pinned
/// ([`RegistryTrust::with_spid_pin`]).
pub const SPID_REGISTRY_AGGREGATE_URL: &str = "https://registry.spid.gov.it/entities-idp";
/// The registry's former aggregate URL, which redirects (followed over https only).
pub const SPID_REGISTRY_LEGACY_AGGREGATE_URL: &str =
    "https://registry.spid.gov.it/metadata/idp/spid-entities-idps.xml";
/// The registry's JSON list of IdPs named by AgID's Avviso SPID n.42 (the login button's
/// source): unsigned, so read as names and a cross-check only (`IdpList`, feature
/// `refresh`).
pub const SPID_REGISTRY_JSON_URL: &str = "https://registry.spid.gov.it/entities-idp?&output=json";

/// The default warning horizon: certificates and documents expiring within 30 days.
pub const EXPIRY_HORIZON_SECS: i64 = 30 * 86_400;

/// The certificate that signed the committed SPID registry snapshot
/// (`CN=agid.gov.it, OU=AgID TEST`). Its private key is public (it ships with AgID's
/// spid-sp-test): a test pin, never a production trust anchor.
const SPID_SNAPSHOT_PIN: &[u8] = include_bytes!("../../../metadata/spid-registry-agid-test.pem");
/// The certificate that signed the committed eIDAS-node (FICEP) metadata snapshot.
const EIDAS_SNAPSHOT_PIN: &[u8] = include_bytes!("../../../metadata/eidas-node-signer.pem");

/// Where a metadata document comes from: it decides the federation of its IdPs and how
/// the document is trusted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "kebab-case"))]
pub enum MetadataSource {
    /// The SPID registry aggregate (`md:EntitiesDescriptor`), signed by AgID.
    SpidRegistry,
    /// CIE ID metadata (unsigned, trusted out of band).
    Cie,
    /// The Italian eIDAS node (FICEP) metadata, signed by the node.
    EidasNode,
}

impl MetadataSource {
    /// All sources.
    pub const ALL: [MetadataSource; 3] = [
        MetadataSource::SpidRegistry,
        MetadataSource::Cie,
        MetadataSource::EidasNode,
    ];

    /// The federation of the IdPs this source lists.
    pub const fn federation(self) -> Federation {
        match self {
            MetadataSource::SpidRegistry => Federation::Spid,
            MetadataSource::Cie => Federation::Cie,
            MetadataSource::EidasNode => Federation::Eidas,
        }
    }

    /// Whether the document must carry a signature by a pinned key.
    pub const fn is_signed(self) -> bool {
        !matches!(self, MetadataSource::Cie)
    }

    /// `spid`, `cie` or `eidas`.
    pub const fn as_str(self) -> &'static str {
        match self {
            MetadataSource::SpidRegistry => "spid",
            MetadataSource::Cie => "cie",
            MetadataSource::EidasNode => "eidas",
        }
    }
}

impl fmt::Display for MetadataSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for MetadataSource {
    type Err = RegistryError;

    fn from_str(s: &str) -> Result<MetadataSource, RegistryError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "spid" | "spid-registry" => Ok(MetadataSource::SpidRegistry),
            "cie" => Ok(MetadataSource::Cie),
            "eidas" | "eidas-node" | "ficep" => Ok(MetadataSource::EidasNode),
            _ => Err(RegistryError::UnknownSource),
        }
    }
}

/// The pinned certificates that signed metadata must verify with.
#[derive(Clone, Debug, Default)]
pub struct RegistryTrust {
    spid: Vec<VerificationKey>,
    eidas: Vec<VerificationKey>,
}

impl RegistryTrust {
    /// No pins: signed sources are refused until a pin is added (fail closed).
    pub fn new() -> RegistryTrust {
        RegistryTrust::default()
    }

    /// The pins of the snapshots committed under `metadata/`: the AgID **TEST** key that
    /// signed the SPID registry snapshot and the FICEP key that signed the eIDAS-node
    /// snapshot.
    ///
    /// For tests and offline development only. The SPID pin's private key is published
    /// with AgID's spid-sp-test, so anyone can sign an aggregate it accepts: production
    /// code must pin the certificate AgID publishes for the registry
    /// ([`RegistryTrust::with_spid_pin`]).
    pub fn committed_snapshots() -> Result<RegistryTrust, KeyError> {
        Ok(RegistryTrust {
            spid: vec![VerificationKey::from_certificate_pem(SPID_SNAPSHOT_PIN)?],
            eidas: vec![VerificationKey::from_certificate_pem(EIDAS_SNAPSHOT_PIN)?],
        })
    }

    /// Adds a pin for the SPID registry aggregate (several during a rotation).
    #[must_use]
    pub fn with_spid_pin(mut self, key: VerificationKey) -> RegistryTrust {
        self.spid.push(key);
        self
    }

    /// Adds a pin for the eIDAS-node metadata.
    #[must_use]
    pub fn with_eidas_pin(mut self, key: VerificationKey) -> RegistryTrust {
        self.eidas.push(key);
        self
    }

    /// Adds a pin for `source` (ignored for CIE, which is unsigned).
    #[must_use]
    pub fn with_pin(self, source: MetadataSource, key: VerificationKey) -> RegistryTrust {
        match source {
            MetadataSource::SpidRegistry => self.with_spid_pin(key),
            MetadataSource::EidasNode => self.with_eidas_pin(key),
            MetadataSource::Cie => self,
        }
    }

    /// The pins for `source` (empty for CIE).
    pub fn pins(&self, source: MetadataSource) -> &[VerificationKey] {
        match source {
            MetadataSource::SpidRegistry => &self.spid,
            MetadataSource::EidasNode => &self.eidas,
            MetadataSource::Cie => &[],
        }
    }
}

/// A registry document was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// The metadata itself was refused (XML, signature, `validUntil`, IdP without key).
    #[error(transparent)]
    Metadata(#[from] MetadataError),
    /// The same entityID twice (in one document, or in two sources).
    #[error("entity {0} listed more than once")]
    DuplicateEntity(String),
    /// Not `spid`, `cie` or `eidas`.
    #[error("unknown metadata source (expected spid, cie or eidas)")]
    UnknownSource,
    /// The document verified but is older than the copy in use: it does not replace it.
    #[error("metadata rollback refused: {0}")]
    Rollback(RollbackReason),
}

/// Why a verified document was taken for an older one than the copy in use
/// (see [`check_not_older`]).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RollbackReason {
    /// Its `mdrpi:PublicationInfo/@creationInstant` is earlier than the copy in use.
    #[error("published {new}, the copy in use was published {current}")]
    OlderPublication {
        /// The copy in use.
        current: Timestamp,
        /// The refused document.
        new: Timestamp,
    },
    /// Its `validUntil` is earlier than the copy in use.
    #[error("validUntil {new} is earlier than the copy in use ({current})")]
    OlderValidUntil {
        /// The copy in use.
        current: Timestamp,
        /// The refused document.
        new: Timestamp,
    },
    /// The copy in use carries a publication instant or `validUntil` and the new one
    /// does not: its freshness cannot be established.
    #[error("the copy in use is dated ({0}) and the new document is not")]
    Undated(&'static str),
    /// It lists a signing key that a later copy of the same source had removed.
    #[error("entity {entity_id} lists a signing key that was rotated out")]
    RetiredKey {
        /// The entity.
        entity_id: String,
    },
}
