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
//! registry.load(MetadataSource::SpidRegistry, include_bytes!("../../metadata/spid-entities-idps.xml"), now)?;
//! registry.load(MetadataSource::Cie, include_bytes!("../../metadata/cie-idp-production.xml"), now)?;
//! let poste = registry.idp("https://posteid.poste.it").ok_or("missing")?;
//! assert!(poste.sso(spid_sp::Binding::Post).is_some());
//! for warning in registry.warnings(now, spid_sp::metadata::EXPIRY_HORIZON_SECS) {
//!     eprintln!("{warning}");
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt;

use crate::dsig::{self, KeyError, VerificationKey, VerifyPolicy};
use crate::federation::Federation;
use crate::metadata::{IdentityProvider, MetadataError};
use crate::saml::{self, METADATA_NS};
use crate::time::Timestamp;
use crate::xml::{self, Limits};

/// The default warning horizon: certificates and documents expiring within 30 days.
pub const EXPIRY_HORIZON_SECS: i64 = 30 * 86_400;

/// The certificate that signed the committed SPID registry snapshot
/// (`CN=agid.gov.it, OU=AgID TEST`). Its private key is public (it ships with AgID's
/// spid-sp-test): a test pin, never a production trust anchor.
const SPID_SNAPSHOT_PIN: &[u8] = include_bytes!("../../metadata/spid-registry-agid-test.pem");
/// The certificate that signed the committed eIDAS-node (FICEP) metadata snapshot.
const EIDAS_SNAPSHOT_PIN: &[u8] = include_bytes!("../../metadata/eidas-node-signer.pem");

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

/// An entity left out of a verified document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DroppedEntity {
    /// The entityID.
    pub entity_id: String,
    /// Its `validUntil`, which has passed; `None` when it could not be read (not a UTC
    /// `xs:dateTime`).
    pub valid_until: Option<Timestamp>,
}

/// A metadata document that passed its source's trust check: only
/// [`verify_metadata`] makes one.
#[derive(Clone, Debug)]
pub struct VerifiedMetadata {
    source: MetadataSource,
    idps: Vec<IdentityProvider>,
    signer: Option<VerificationKey>,
    valid_until: Option<Timestamp>,
    published: Option<Timestamp>,
    sha256: [u8; 32],
    verified_at: Timestamp,
    dropped: Vec<DroppedEntity>,
}

impl VerifiedMetadata {
    /// The source.
    pub fn source(&self) -> MetadataSource {
        self.source
    }
    /// The IdPs it lists (every signing key of each kept).
    pub fn idps(&self) -> &[IdentityProvider] {
        &self.idps
    }
    /// The pin that verified the document (`None` for CIE).
    pub fn signer(&self) -> Option<&VerificationKey> {
        self.signer.as_ref()
    }
    /// The document's `validUntil`, if any.
    pub fn valid_until(&self) -> Option<Timestamp> {
        self.valid_until
    }
    /// The document's publication instant (`md:Extensions/mdrpi:PublicationInfo/
    /// @creationInstant` on the document element), if any.
    pub fn published(&self) -> Option<Timestamp> {
        self.published
    }
    /// SHA-256 of the bytes verified.
    pub fn sha256(&self) -> &[u8; 32] {
        &self.sha256
    }
    /// SHA-256 of the bytes verified, lower-case hex.
    pub fn sha256_hex(&self) -> String {
        self.sha256.iter().map(|b| format!("{b:02x}")).collect()
    }
    /// When it was verified (the `now` given).
    pub fn verified_at(&self) -> Timestamp {
        self.verified_at
    }
    /// Entities left out because their `validUntil` had passed.
    pub fn dropped(&self) -> &[DroppedEntity] {
        &self.dropped
    }
}

/// Verifies a metadata document from `source` at `now` and reads its IdPs.
///
/// Signed sources: the document element must carry exactly one enveloped signature
/// (exc-c14n, RSA-SHA256/512, RSA ≥ 2048, reference `#ID` or `""`) that verifies with one
/// of the pins; everything read afterwards is inside that element. Then: `validUntil` of
/// the document (refused when past), every IdP with every signing key, no entityID twice.
pub fn verify_metadata(
    source: MetadataSource,
    bytes: &[u8],
    trust: &RegistryTrust,
    now: Timestamp,
) -> Result<VerifiedMetadata, RegistryError> {
    let text = xml::reader::decode_utf8(bytes).map_err(MetadataError::Xml)?;
    let doc = xml::parse(text, &Limits::METADATA).map_err(MetadataError::Xml)?;
    let root = doc.root_element();
    if !saml::is(&root, METADATA_NS, "EntitiesDescriptor")
        && !saml::is(&root, METADATA_NS, "EntityDescriptor")
    {
        return Err(MetadataError::NotMetadata.into());
    }

    let signer = if source.is_signed() {
        let signature = dsig::find_signature(root)
            .map_err(MetadataError::Signature)?
            .ok_or(MetadataError::Unsigned)?;
        let pins = trust.pins(source);
        let policy = VerifyPolicy {
            allow_whole_document: true,
            ..VerifyPolicy::default()
        };
        let info = dsig::verify_enveloped(root, signature, pins, &policy, &mut Vec::new())
            .map_err(MetadataError::Signature)?
            .info();
        pins.get(info.key_index).cloned()
    } else {
        None
    };

    let valid_until = match root.attribute("validUntil") {
        Some(v) => Some(Timestamp::parse(v).map_err(|_| MetadataError::BadInstant("validUntil"))?),
        None => None,
    };
    // Only from inside the verified element; an unreadable one is no order at all.
    let published = saml::children(root, METADATA_NS, "Extensions")
        .flat_map(|e| saml::children(e, MDRPI_NS, "PublicationInfo"))
        .next()
        .and_then(|p| p.attribute("creationInstant"))
        .map(|v| Timestamp::parse(v).map_err(|_| MetadataError::BadInstant("creationInstant")))
        .transpose()?;
    if valid_until.is_some_and(|v| v <= now) {
        return Err(MetadataError::Expired.into());
    }

    let mut idps = Vec::new();
    let mut dropped = Vec::new();
    let mut seen = HashSet::new();
    for idp in IdentityProvider::from_document_element(root)? {
        if !seen.insert(idp.entity_id().as_str().to_owned()) {
            return Err(RegistryError::DuplicateEntity(short(
                idp.entity_id().as_str(),
            )));
        }
        match idp.valid_until() {
            _ if idp.valid_until_unreadable() => dropped.push(DroppedEntity {
                entity_id: idp.entity_id().as_str().to_owned(),
                valid_until: None,
            }),
            Some(until) if until <= now => dropped.push(DroppedEntity {
                entity_id: idp.entity_id().as_str().to_owned(),
                valid_until: Some(until),
            }),
            _ => idps.push(idp.with_federation(source.federation())),
        }
    }
    if idps.is_empty() {
        return Err(MetadataError::NoIdp.into());
    }

    let digest = openssl::hash::hash(openssl::hash::MessageDigest::sha256(), bytes)
        .map_err(|_| MetadataError::Signature(dsig::DsigError::Crypto))?;
    let mut sha256 = [0u8; 32];
    sha256.copy_from_slice(&digest);
    Ok(VerifiedMetadata {
        source,
        idps,
        signer,
        valid_until,
        published,
        sha256,
        verified_at: now,
        dropped,
    })
}

/// The SAML metadata extension for registration and publication information.
const MDRPI_NS: &str = "urn:oasis:names:tc:SAML:metadata:rpi";

/// Refuses `new` when it is older than `current` (two verified copies of the same
/// source): by publication instant when both have one, else by `validUntil` when both
/// have one; a dated `current` and an undated `new` is refused; two undated copies pass.
/// See the module documentation for why.
pub fn check_not_older(
    current: &VerifiedMetadata,
    new: &VerifiedMetadata,
) -> Result<(), RegistryError> {
    let refuse = |r| Err(RegistryError::Rollback(r));
    match (current.published, new.published) {
        (Some(c), Some(n)) if n < c => {
            return refuse(RollbackReason::OlderPublication { current: c, new: n })
        }
        (Some(_), Some(_)) => return Ok(()),
        (Some(_), None) => return refuse(RollbackReason::Undated("publication instant")),
        _ => {}
    }
    match (current.valid_until, new.valid_until) {
        (Some(c), Some(n)) if n < c => {
            refuse(RollbackReason::OlderValidUntil { current: c, new: n })
        }
        (Some(_), None) => refuse(RollbackReason::Undated("validUntil")),
        _ => Ok(()),
    }
}

fn short(s: &str) -> String {
    crate::printable::printable(s, 200)
}

/// What changed when a document was loaded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoadOutcome {
    /// The source was not loaded before.
    Added,
    /// A different document replaced the previous one.
    Replaced,
    /// The same bytes as the copy in use.
    Unchanged,
}

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

/// The trusted IdPs of every loaded source, looked up by entityID.
#[derive(Clone, Debug)]
pub struct Registry {
    trust: RegistryTrust,
    sources: Vec<VerifiedMetadata>,
    /// SHA-256 fingerprints of signing keys a later copy of the source removed.
    retired: BTreeMap<MetadataSource, BTreeSet<[u8; 32]>>,
}

impl Registry {
    /// An empty registry trusting `trust`'s pins.
    pub fn new(trust: RegistryTrust) -> Registry {
        Registry {
            trust,
            sources: Vec::new(),
            retired: BTreeMap::new(),
        }
    }

    /// The SHA-256 fingerprints of the signing keys that a copy of `source` removed after
    /// an earlier copy listed them: a document listing one again is refused. Persist
    /// them to keep that memory across restarts ([`Registry::retire_keys`]).
    pub fn retired_keys(&self, source: MetadataSource) -> Vec<[u8; 32]> {
        self.retired
            .get(&source)
            .map(|s| s.iter().copied().collect())
            .unwrap_or_default()
    }

    /// Marks keys (SHA-256 fingerprints of their certificates) as rotated out of
    /// `source`: restores what [`Registry::retired_keys`] returned before a restart, or
    /// retires a key the operator knows to be compromised.
    pub fn retire_keys(
        &mut self,
        source: MetadataSource,
        fingerprints: impl IntoIterator<Item = [u8; 32]>,
    ) {
        self.retired.entry(source).or_default().extend(fingerprints);
    }

    /// The pins in use.
    pub fn trust(&self) -> &RegistryTrust {
        &self.trust
    }

    /// Verifies `bytes` as `source` metadata at `now` and, only if they pass, installs
    /// them in place of that source's previous copy. On error nothing changes.
    pub fn load(
        &mut self,
        source: MetadataSource,
        bytes: &[u8],
        now: Timestamp,
    ) -> Result<LoadOutcome, RegistryError> {
        let verified = verify_metadata(source, bytes, &self.trust, now)?;
        self.install(verified)
    }

    /// Installs a verified document in place of its source's previous copy. Refused (and
    /// nothing changes) when one of its entityIDs belongs to another loaded source, when
    /// it is older than the copy in use ([`check_not_older`]), or when it lists a retired
    /// key ([`Registry::retired_keys`]).
    pub fn install(&mut self, verified: VerifiedMetadata) -> Result<LoadOutcome, RegistryError> {
        if let Some(retired) = self.retired.get(&verified.source) {
            for idp in verified.idps() {
                if idp.keys().iter().any(|k| retired.contains(k.fingerprint())) {
                    return Err(RegistryError::Rollback(RollbackReason::RetiredKey {
                        entity_id: short(idp.entity_id().as_str()),
                    }));
                }
            }
        }
        if let Some(current) = self.source(verified.source) {
            check_not_older(current, &verified)?;
        }
        for other in self.sources.iter().filter(|s| s.source != verified.source) {
            for idp in verified.idps() {
                if other
                    .idps()
                    .iter()
                    .any(|o| o.entity_id() == idp.entity_id())
                {
                    return Err(RegistryError::DuplicateEntity(short(
                        idp.entity_id().as_str(),
                    )));
                }
            }
        }
        match self
            .sources
            .iter_mut()
            .find(|s| s.source == verified.source)
        {
            Some(slot) => {
                let outcome = if slot.sha256 == verified.sha256 {
                    LoadOutcome::Unchanged
                } else {
                    LoadOutcome::Replaced
                };
                let kept: HashSet<[u8; 32]> = verified
                    .idps()
                    .iter()
                    .flat_map(|i| i.keys().iter().map(|k| *k.fingerprint()))
                    .collect();
                let gone: Vec<[u8; 32]> = slot
                    .idps()
                    .iter()
                    .flat_map(|i| i.keys().iter().map(|k| *k.fingerprint()))
                    .filter(|f| !kept.contains(f))
                    .collect();
                let source = verified.source;
                *slot = verified;
                self.retire_keys(source, gone);
                Ok(outcome)
            }
            None => {
                self.sources.push(verified);
                self.sources.sort_by_key(|s| s.source);
                Ok(LoadOutcome::Added)
            }
        }
    }

    /// Removes a source.
    pub fn remove(&mut self, source: MetadataSource) {
        self.sources.retain(|s| s.source != source);
    }

    /// The loaded copy of `source`.
    pub fn source(&self, source: MetadataSource) -> Option<&VerifiedMetadata> {
        self.sources.iter().find(|s| s.source == source)
    }

    /// The loaded sources.
    pub fn sources(&self) -> &[VerifiedMetadata] {
        &self.sources
    }

    /// The IdP with this entityID.
    pub fn idp(&self, entity_id: &str) -> Option<&IdentityProvider> {
        self.idps().find(|i| i.entity_id().as_str() == entity_id)
    }

    /// Every IdP of every loaded source (pass them to
    /// [`ServiceProvider::new`](crate::ServiceProvider::new)).
    pub fn idps(&self) -> impl Iterator<Item = &IdentityProvider> {
        self.sources.iter().flat_map(|s| s.idps.iter())
    }

    /// What needs attention at `now`: IdP certificates and pins that expired or expire
    /// within `horizon_secs` ([`EXPIRY_HORIZON_SECS`] is a sensible default), documents
    /// past or near `validUntil`, entities left out.
    pub fn warnings(&self, now: Timestamp, horizon_secs: i64) -> Vec<RegistryWarning> {
        let soon = now.plus_seconds(horizon_secs);
        let mut out = Vec::new();
        for s in &self.sources {
            if let Some(valid_until) = s.valid_until {
                if valid_until <= now {
                    out.push(RegistryWarning::MetadataExpired {
                        origin: s.source,
                        valid_until,
                    });
                } else if valid_until <= soon {
                    out.push(RegistryWarning::MetadataExpiresSoon {
                        origin: s.source,
                        valid_until,
                    });
                }
            }
            if let Some(signer) = &s.signer {
                if let Some(not_after) = signer.not_after() {
                    let subject = signer.subject().to_owned();
                    if not_after <= now {
                        out.push(RegistryWarning::SignerExpired {
                            origin: s.source,
                            subject,
                            not_after,
                        });
                    } else if not_after <= soon {
                        out.push(RegistryWarning::SignerExpiresSoon {
                            origin: s.source,
                            subject,
                            not_after,
                        });
                    }
                }
            }
            for d in &s.dropped {
                out.push(RegistryWarning::EntityDropped {
                    origin: s.source,
                    entity_id: d.entity_id.clone(),
                    valid_until: d.valid_until,
                });
            }
            for idp in &s.idps {
                out.extend(idp_warnings(idp, now, horizon_secs));
            }
        }
        out
    }
}

#[cfg(feature = "refresh")]
pub use refresh::{FetchError, Fetcher, PlainHttp, RefreshError};

#[cfg(feature = "refresh")]
mod refresh {
    //! Download over HTTP(S) with timeouts and a size cap; verification before use.

    use std::io::Read as _;
    use std::time::Duration;

    use super::{
        LoadOutcome, MetadataSource, Registry, RegistryError, RegistryTrust, VerifiedMetadata,
    };
    use crate::time::Timestamp;
    use crate::xml::Limits;

    /// A download failed.
    #[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
    #[non_exhaustive]
    pub enum FetchError {
        /// Only `http://` and `https://` URLs are fetched.
        #[error("only http and https URLs can be fetched")]
        Scheme,
        /// Unsigned metadata (CIE) is trusted because of where it comes from: only over
        /// https, redirects included.
        #[error("unsigned metadata is only fetched over https")]
        InsecureUnsigned,
        /// A plain-http URL: metadata is fetched over https only (signed sources too),
        /// unless [`Fetcher::allow_plain_http`] was set for a loopback test server.
        #[error("metadata is only fetched over https")]
        PlainHttp,
        /// The server answered with an error status.
        #[error("server answered HTTP {0}")]
        Status(u16),
        /// Larger than the metadata size limit.
        #[error("document larger than {0} bytes")]
        TooLarge(usize),
        /// Connection, TLS, timeout or protocol failure.
        #[error("download failed: {0}")]
        Transport(String),
    }

    /// A refresh did not replace the copy in use.
    #[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
    #[non_exhaustive]
    pub enum RefreshError {
        /// The download failed.
        #[error(transparent)]
        Fetch(#[from] FetchError),
        /// The document was refused (bad signature, expired, malformed...).
        #[error(transparent)]
        Rejected(#[from] RegistryError),
    }

    /// A blocking HTTP(S) client for metadata: a global timeout per download, redirects
    /// limited, the body capped at [`Limits::METADATA`]'s size, TLS verified against the
    /// system's roots (through the system OpenSSL).
    #[derive(Clone, Debug)]
    pub struct Fetcher {
        agent: ureq::Agent,
        max_bytes: usize,
        plain_http_loopback: bool,
    }

    /// The explicit acknowledgement that plain http is for a test server on loopback
    /// ([`Fetcher::allow_plain_http`]).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum PlainHttp {
        /// Tests serving metadata from `127.0.0.0/8`, `[::1]` or `localhost` only.
        OnlyForLoopbackTests,
    }

    impl Fetcher {
        /// A client whose every download must complete within `timeout`.
        pub fn new(timeout: Duration) -> Fetcher {
            let tls = ureq::tls::TlsConfig::builder()
                .provider(ureq::tls::TlsProvider::NativeTls)
                .root_certs(ureq::tls::RootCerts::PlatformVerifier)
                .build();
            let agent = ureq::Agent::config_builder()
                .timeout_global(Some(timeout))
                .max_redirects(3)
                .http_status_as_error(false)
                .tls_config(tls)
                .user_agent(concat!("spid-sp/", env!("CARGO_PKG_VERSION")))
                .build()
                .new_agent();
            Fetcher {
                agent,
                max_bytes: Limits::METADATA.max_bytes,
                plain_http_loopback: false,
            }
        }

        /// Lets signed sources be downloaded over plain http from a loopback host (a test
        /// server). Other hosts stay https-only, and unsigned sources (CIE) always are.
        #[must_use]
        pub fn allow_plain_http(mut self, mode: PlainHttp) -> Fetcher {
            let PlainHttp::OnlyForLoopbackTests = mode;
            self.plain_http_loopback = true;
            self
        }

        /// Downloads `url` over https (plain http only from a loopback host, and only
        /// with [`Fetcher::allow_plain_http`]).
        pub fn fetch(&self, url: &str) -> Result<Vec<u8>, FetchError> {
            if url.starts_with("http://") {
                if !self.plain_http_loopback {
                    return Err(FetchError::PlainHttp);
                }
                if !is_loopback_http(url) {
                    return Err(FetchError::PlainHttp);
                }
                return self.fetch_inner(url, false);
            }
            self.fetch_inner(url, true)
        }

        /// Downloads `url` over https only (redirects included).
        pub fn fetch_https(&self, url: &str) -> Result<Vec<u8>, FetchError> {
            if !url.starts_with("https://") {
                return Err(FetchError::InsecureUnsigned);
            }
            self.fetch_inner(url, true)
        }

        fn fetch_inner(&self, url: &str, https_only: bool) -> Result<Vec<u8>, FetchError> {
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err(FetchError::Scheme);
            }
            let response = self
                .agent
                .get(url)
                .config()
                .https_only(https_only)
                .build()
                .call()
                .map_err(|e| {
                    FetchError::Transport(crate::printable::printable(&e.to_string(), 300))
                })?;
            let status = response.status().as_u16();
            if status != 200 {
                return Err(FetchError::Status(status));
            }
            let mut body = Vec::new();
            let limit = u64::try_from(self.max_bytes).unwrap_or(u64::MAX);
            response
                .into_body()
                .into_reader()
                .take(limit.saturating_add(1))
                .read_to_end(&mut body)
                .map_err(|e| {
                    FetchError::Transport(crate::printable::printable(&e.to_string(), 300))
                })?;
            if body.len() > self.max_bytes {
                return Err(FetchError::TooLarge(self.max_bytes));
            }
            Ok(body)
        }
    }

    /// `http://HOST[:PORT]/...` with HOST `localhost`, `127.x.y.z` or `[::1]`.
    fn is_loopback_http(url: &str) -> bool {
        let Some(rest) = url.strip_prefix("http://") else {
            return false;
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        if authority.contains('@') {
            return false;
        }
        let host = match authority.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or(""),
            None => authority.split(':').next().unwrap_or(""),
        };
        host.eq_ignore_ascii_case("localhost")
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    }

    impl Default for Fetcher {
        /// A 30-second timeout.
        fn default() -> Self {
            Fetcher::new(Duration::from_secs(30))
        }
    }

    /// Downloads `url` and verifies it as `source` metadata; returns the bytes and the
    /// verified document (write the bytes to disk only after this succeeds). Unsigned
    /// sources (CIE) are only fetched over https.
    pub fn fetch_verified(
        source: MetadataSource,
        url: &str,
        trust: &RegistryTrust,
        fetcher: &Fetcher,
        now: Timestamp,
    ) -> Result<(Vec<u8>, VerifiedMetadata), RefreshError> {
        let bytes = if source.is_signed() {
            fetcher.fetch(url)?
        } else {
            fetcher.fetch_https(url)?
        };
        let verified = super::verify_metadata(source, &bytes, trust, now)?;
        Ok((bytes, verified))
    }

    impl Registry {
        /// Downloads `url`, verifies it as `source` metadata and replaces the copy in use.
        /// On any failure (network, status, size, XML, signature, `validUntil`) the last
        /// good copy stays in use and the error says why.
        pub fn refresh(
            &mut self,
            source: MetadataSource,
            url: &str,
            fetcher: &Fetcher,
            now: Timestamp,
        ) -> Result<LoadOutcome, RefreshError> {
            let (_, verified) = fetch_verified(source, url, &self.trust, fetcher, now)?;
            Ok(self.install(verified)?)
        }
    }
}

#[cfg(feature = "refresh")]
pub use refresh::fetch_verified;
