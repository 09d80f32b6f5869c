//! IdP metadata: `md:EntityDescriptor` with an `md:IDPSSODescriptor`, alone or inside an
//! `md:EntitiesDescriptor` aggregate.

use crate::dsig::{self, DsigError, VerificationKey};
use crate::federation::Federation;
use crate::ids::EntityId;
use crate::saml::{self, Binding, METADATA_NS};
use crate::time::Timestamp;
use crate::xml::{self, Limits, Node, XmlError};

/// At most this many signing keys per IdP (rollover needs two or three).
const MAX_KEYS: usize = 8;

/// The namespace of the marker that the SDK's local test IdP puts in its metadata
/// (`md:Extensions/tidp:TestIdentityProvider`, see [`IdentityProvider::is_test_idp`]).
pub const TEST_IDP_MARKER_NS: &str = "urn:x-spid-sp:test-idp";

/// IdP metadata could not be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MetadataError {
    /// The XML reader refused the document.
    #[error("metadata xml refused: {0}")]
    Xml(#[from] XmlError),
    /// Not `md:EntityDescriptor` or `md:EntitiesDescriptor`.
    #[error("not a SAML metadata document")]
    NotMetadata,
    /// An EntityDescriptor without entityID.
    #[error("entity without entityID")]
    MissingEntityId,
    /// No IDPSSODescriptor supporting SAML 2.0 in the document.
    #[error("no SAML 2.0 identity provider in the metadata")]
    NoIdp,
    /// An IdP with no usable signing key: it could never be verified, so it is refused
    /// (never "trusted without a signature check").
    #[error("identity provider {0} has no usable signing key")]
    NoSigningKey(String),
    /// The document's signature failed, or it is unsigned where a signature is required.
    #[error("metadata signature: {0}")]
    Signature(DsigError),
    /// The document is unsigned where a signature is required.
    #[error("metadata is not signed")]
    Unsigned,
    /// `validUntil` has passed.
    #[error("metadata expired (validUntil)")]
    Expired,
    /// The document's `validUntil` (or publication instant) is not a UTC `xs:dateTime` (a
    /// non-zero offset, a bare date, garbage): what it says cannot be known, so it is
    /// refused.
    #[error("metadata {0} is not a UTC xs:dateTime")]
    BadInstant(&'static str),
}

/// The explicit acknowledgement that what is being enabled is a test IdP: required to
/// build the HTTP test IdP and to let a service provider (or the axum integration) trust
/// one. Public as `spid_sp::test_idp::TestIdpMode`; defined beside
/// [`IdentityProvider::is_test_idp`] so that the layers below the test IdP can name it.
#[cfg(feature = "test-idp")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TestIdpMode {
    /// Logins through it prove nothing about anyone: for development and tests only.
    IKnowThisIsNotAnAccreditedIdp,
}

/// A protocol endpoint of an IdP.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// The binding.
    pub binding: Binding,
    /// Where to send messages.
    pub location: String,
    /// Where to send responses, if different (SLO).
    pub response_location: Option<String>,
}

/// A trusted IdP: what requests are addressed to and what responses are verified with.
#[derive(Clone, Debug)]
pub struct IdentityProvider {
    entity_id: EntityId,
    federation: Federation,
    display_name: Option<String>,
    sso: Vec<Endpoint>,
    slo: Vec<Endpoint>,
    keys: Vec<VerificationKey>,
    want_authn_requests_signed: bool,
    valid_until: Option<Timestamp>,
    valid_until_unreadable: bool,
    test_idp: bool,
}

impl IdentityProvider {
    /// A hand-built IdP (tests, or trust configured without metadata).
    pub fn new(entity_id: impl Into<String>, keys: Vec<VerificationKey>) -> IdentityProvider {
        let entity_id = EntityId::new(entity_id);
        IdentityProvider {
            federation: Federation::of_entity_id(entity_id.as_str()),
            entity_id,
            display_name: None,
            sso: Vec::new(),
            slo: Vec::new(),
            keys,
            want_authn_requests_signed: true,
            valid_until: None,
            valid_until_unreadable: false,
            test_idp: false,
        }
    }

    /// Adds a SingleSignOnService endpoint.
    pub fn with_sso(mut self, binding: Binding, location: impl Into<String>) -> Self {
        self.sso.push(Endpoint {
            binding,
            location: location.into(),
            response_location: None,
        });
        self
    }

    /// Adds a SingleLogoutService endpoint.
    pub fn with_slo(mut self, binding: Binding, location: impl Into<String>) -> Self {
        self.slo.push(Endpoint {
            binding,
            location: location.into(),
            response_location: None,
        });
        self
    }

    /// Overrides the federation guessed from the entityID.
    pub fn with_federation(mut self, federation: Federation) -> Self {
        self.federation = federation;
        self
    }

    /// Sets the name shown to users.
    pub fn with_display_name(mut self, name: impl Into<String>) -> Self {
        self.display_name = Some(name.into());
        self
    }

    /// Every IdP in a metadata document (an EntityDescriptor or an EntitiesDescriptor),
    /// **without** checking the document's signature: use this for metadata obtained
    /// out of band (CIE publishes unsigned metadata), and the registry for aggregates.
    /// Entities that are not SAML 2.0 IdPs are skipped; an IdP without signing key is an
    /// error.
    pub fn from_metadata(text: &str) -> Result<Vec<IdentityProvider>, MetadataError> {
        let doc = xml::parse(text, &Limits::METADATA)?;
        Self::from_document_element(doc.root_element())
    }

    pub(crate) fn from_document_element(
        root: Node<'_, '_>,
    ) -> Result<Vec<IdentityProvider>, MetadataError> {
        let mut out = Vec::new();
        if saml::is(&root, METADATA_NS, "EntityDescriptor") {
            if let Some(idp) = Self::from_entity(root)? {
                out.push(idp);
            }
        } else if saml::is(&root, METADATA_NS, "EntitiesDescriptor") {
            collect(root, &mut out, 0)?;
        } else {
            return Err(MetadataError::NotMetadata);
        }
        if out.is_empty() {
            return Err(MetadataError::NoIdp);
        }
        Ok(out)
    }

    /// One `md:EntityDescriptor`; `None` if it has no SAML 2.0 IDPSSODescriptor.
    pub(crate) fn from_entity(
        entity: Node<'_, '_>,
    ) -> Result<Option<IdentityProvider>, MetadataError> {
        let entity_id = entity
            .attribute("entityID")
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .ok_or(MetadataError::MissingEntityId)?;
        let Some(desc) = saml::children(entity, METADATA_NS, "IDPSSODescriptor").find(|d| {
            d.attribute("protocolSupportEnumeration")
                .is_some_and(|p| p.split_ascii_whitespace().any(|s| s == saml::PROTOCOL_NS))
        }) else {
            return Ok(None);
        };
        let keys = signing_keys(desc);
        if keys.is_empty() {
            return Err(MetadataError::NoSigningKey(crate::printable::printable(
                entity_id, 200,
            )));
        }
        let endpoints = |name: &'static str| -> Vec<Endpoint> {
            saml::children(desc, METADATA_NS, name)
                .filter_map(|e| {
                    Some(Endpoint {
                        binding: Binding::from_uri(e.attribute("Binding")?)?,
                        location: e.attribute("Location")?.trim().to_owned(),
                        response_location: e
                            .attribute("ResponseLocation")
                            .map(|s| s.trim().to_owned()),
                    })
                })
                .collect()
        };
        let display_name = saml::children(entity, METADATA_NS, "Organization")
            .next()
            .and_then(|org| {
                let names: Vec<_> =
                    saml::children(org, METADATA_NS, "OrganizationDisplayName").collect();
                names
                    .iter()
                    .find(|n| n.attribute((xml_ns(), "lang")) == Some("it"))
                    .or(names.first())
                    .and_then(|n| xml::text(*n))
                    .map(|t| t.trim().to_owned())
            });
        // A validUntil that is not a UTC xs:dateTime (an offset, a bare date, garbage) is
        // kept as "unreadable": the registry leaves such an entity out, as it refuses a
        // document whose validUntil it cannot read.
        let raw_valid_until = entity.attribute("validUntil");
        let valid_until = raw_valid_until.and_then(|v| Timestamp::parse(v).ok());
        let valid_until_unreadable = raw_valid_until.is_some() && valid_until.is_none();
        Ok(Some(IdentityProvider {
            federation: Federation::of_entity_id(entity_id),
            entity_id: EntityId::new(entity_id),
            display_name,
            sso: endpoints("SingleSignOnService"),
            slo: endpoints("SingleLogoutService"),
            keys,
            want_authn_requests_signed: desc.attribute("WantAuthnRequestsSigned") != Some("false"),
            valid_until,
            valid_until_unreadable,
            test_idp: [entity, desc].into_iter().any(has_test_marker),
        }))
    }

    /// The entityID.
    pub fn entity_id(&self) -> &EntityId {
        &self.entity_id
    }

    /// The federation (SPID, CIE, eIDAS node).
    pub fn federation(&self) -> Federation {
        self.federation
    }

    /// The OrganizationDisplayName (Italian if present).
    pub fn display_name(&self) -> Option<&str> {
        self.display_name.as_deref()
    }

    /// The trusted signing keys (several during a key rollover).
    pub fn keys(&self) -> &[VerificationKey] {
        &self.keys
    }

    /// The SingleSignOnService for a binding.
    pub fn sso(&self, binding: Binding) -> Option<&Endpoint> {
        self.sso.iter().find(|e| e.binding == binding)
    }

    /// The SingleLogoutService for a binding.
    pub fn slo(&self, binding: Binding) -> Option<&Endpoint> {
        self.slo.iter().find(|e| e.binding == binding)
    }

    /// All SingleSignOnService endpoints.
    pub fn sso_endpoints(&self) -> &[Endpoint] {
        &self.sso
    }

    /// All SingleLogoutService endpoints.
    pub fn slo_endpoints(&self) -> &[Endpoint] {
        &self.slo
    }

    /// `WantAuthnRequestsSigned` (true when absent: the SDK always signs anyway).
    pub fn want_authn_requests_signed(&self) -> bool {
        self.want_authn_requests_signed
    }

    /// The entity's `validUntil`, if any (and readable).
    pub fn valid_until(&self) -> Option<Timestamp> {
        self.valid_until
    }

    /// Whether the entity carries a `validUntil` that is not a UTC `xs:dateTime` (a
    /// non-zero offset, a bare date, garbage): [`crate::metadata::Registry`] leaves such an
    /// entity out.
    pub fn valid_until_unreadable(&self) -> bool {
        self.valid_until_unreadable
    }

    /// Whether the metadata says this is a local test IdP (the SDK's `test_idp`): an
    /// element in the [`TEST_IDP_MARKER_NS`] namespace in `md:Extensions`. Never an
    /// accredited identity provider; the axum integration refuses it unless told
    /// otherwise.
    pub fn is_test_idp(&self) -> bool {
        self.test_idp
    }
}

/// An `md:Extensions` child of `node` carries the test-IdP marker.
/// The distinct RSA keys of a role descriptor's signing certificates (`KeyDescriptor`
/// with `use="signing"` or no `use`), at most [`MAX_KEYS`]; certificates that do not
/// decode to an acceptable key are skipped.
pub(crate) fn signing_keys(desc: Node<'_, '_>) -> Vec<VerificationKey> {
    let mut keys = Vec::new();
    for kd in saml::children(desc, METADATA_NS, "KeyDescriptor") {
        if !matches!(kd.attribute("use"), None | Some("signing")) {
            continue;
        }
        for cert in kd
            .descendants()
            .filter(|n| saml::is(n, dsig::DSIG_NS, "X509Certificate"))
        {
            let key =
                xml::text(cert).and_then(|t| VerificationKey::from_certificate_base64(&t).ok());
            if let Some(key) = key {
                if keys.len() < MAX_KEYS && !keys.contains(&key) {
                    keys.push(key);
                }
            }
        }
    }
    keys
}

fn has_test_marker(node: Node<'_, '_>) -> bool {
    saml::children(node, METADATA_NS, "Extensions").any(|ext| {
        ext.children()
            .any(|c| c.is_element() && c.tag_name().namespace() == Some(TEST_IDP_MARKER_NS))
    })
}

fn xml_ns() -> &'static str {
    "http://www.w3.org/XML/1998/namespace"
}

fn collect(
    node: Node<'_, '_>,
    out: &mut Vec<IdentityProvider>,
    depth: usize,
) -> Result<(), MetadataError> {
    for child in node.children().filter(|c| c.is_element()) {
        if saml::is(&child, METADATA_NS, "EntityDescriptor") {
            if let Some(idp) = IdentityProvider::from_entity(child)? {
                out.push(idp);
            }
        } else if saml::is(&child, METADATA_NS, "EntitiesDescriptor") && depth < 4 {
            collect(child, out, depth + 1)?;
        }
    }
    Ok(())
}
