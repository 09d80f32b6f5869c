//! One metadata document verified against its source's trust: [`verify_metadata`], and
//! the order between two verified copies ([`check_not_older`]).

use std::collections::HashSet;

use super::{MetadataSource, RegistryError, RegistryTrust, RollbackReason};
use crate::dsig::{self, VerificationKey, VerifyPolicy};
use crate::metadata::{IdentityProvider, MetadataError};
use crate::saml::{self, METADATA_NS};
use crate::time::Timestamp;
use crate::xml::{self, Limits};

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
    pub(super) source: MetadataSource,
    pub(super) idps: Vec<IdentityProvider>,
    pub(super) signer: Option<VerificationKey>,
    pub(super) valid_until: Option<Timestamp>,
    pub(super) published: Option<Timestamp>,
    pub(super) sha256: [u8; 32],
    pub(super) verified_at: Timestamp,
    pub(super) dropped: Vec<DroppedEntity>,
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

pub(super) fn short(s: &str) -> String {
    crate::printable::printable(s, 200)
}
