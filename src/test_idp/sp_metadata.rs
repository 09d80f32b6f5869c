//! What the test IdP needs from an SP's metadata: its signing keys, ACS and SLO
//! endpoints, and the attributes of each AttributeConsumingService.

use crate::dsig::{self, VerificationKey, VerifyPolicy};
use crate::metadata::Endpoint;
use crate::saml::{self, Binding, METADATA_NS, PROTOCOL_NS};
use crate::xml::{self, Limits, Node};

use super::TestIdpError;

/// At most this many of each endpoint kind and attribute service are read.
const MAX_ENTRIES: usize = 64;

/// One `md:AssertionConsumerService`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpAcs {
    /// `index`.
    pub index: u16,
    /// The binding (SPID: HTTP-POST).
    pub binding: Binding,
    /// `Location`.
    pub location: String,
    /// `isDefault="true"`.
    pub is_default: bool,
}

/// An SP the test IdP accepts requests from, read from its metadata.
#[derive(Clone, Debug)]
pub struct TrustedSp {
    entity_id: String,
    keys: Vec<VerificationKey>,
    acs: Vec<SpAcs>,
    slo: Vec<Endpoint>,
    attribute_services: Vec<(u16, Vec<String>)>,
}

impl TrustedSp {
    /// Reads SP metadata (`md:EntityDescriptor` with an `md:SPSSODescriptor`). The
    /// `KeyDescriptor` signing certificates are the keys requests are verified with; when
    /// the document is signed, its signature must verify with one of them.
    pub fn from_metadata(text: &str) -> Result<TrustedSp, TestIdpError> {
        let bad = TestIdpError::SpMetadata;
        let doc = xml::parse(text, &Limits::METADATA).map_err(|_| bad("unreadable xml"))?;
        let root = doc.root_element();
        if !saml::is(&root, METADATA_NS, "EntityDescriptor") {
            return Err(bad("not an EntityDescriptor"));
        }
        let entity_id = root
            .attribute("entityID")
            .map(str::trim)
            .filter(|e| !e.is_empty() && e.len() <= 1024)
            .ok_or(bad("no entityID"))?
            .to_owned();
        let desc = saml::children(root, METADATA_NS, "SPSSODescriptor")
            .find(|d| {
                d.attribute("protocolSupportEnumeration")
                    .is_some_and(|p| p.split_ascii_whitespace().any(|s| s == PROTOCOL_NS))
            })
            .ok_or(bad("no SAML 2.0 SPSSODescriptor"))?;

        let keys = crate::metadata::signing_keys(desc);
        if keys.is_empty() {
            return Err(bad("no signing certificate"));
        }
        if let Some(sig) = dsig::find_signature(root).map_err(|_| bad("malformed signature"))? {
            let policy = VerifyPolicy {
                allow_whole_document: true,
                ..VerifyPolicy::default()
            };
            dsig::verify_enveloped(root, sig, &keys, &policy, &mut Vec::new())
                .map_err(|_| bad("signature does not verify with its own signing certificate"))?;
        }

        let mut acs = Vec::new();
        for e in saml::children(desc, METADATA_NS, "AssertionConsumerService").take(MAX_ENTRIES) {
            let (Some(index), Some(binding), Some(location)) = (
                e.attribute("index")
                    .and_then(|i| i.trim().parse::<u16>().ok()),
                e.attribute("Binding").and_then(Binding::from_uri),
                e.attribute("Location").map(str::trim),
            ) else {
                return Err(bad("malformed AssertionConsumerService"));
            };
            acs.push(SpAcs {
                index,
                binding,
                location: location.to_owned(),
                is_default: matches!(e.attribute("isDefault"), Some("true" | "1")),
            });
        }
        if acs.is_empty() {
            return Err(bad("no AssertionConsumerService"));
        }
        let slo = saml::children(desc, METADATA_NS, "SingleLogoutService")
            .take(MAX_ENTRIES)
            .filter_map(|e| {
                Some(Endpoint {
                    binding: Binding::from_uri(e.attribute("Binding")?)?,
                    location: e.attribute("Location")?.trim().to_owned(),
                    response_location: e.attribute("ResponseLocation").map(|s| s.trim().to_owned()),
                })
            })
            .collect();
        let mut attribute_services = Vec::new();
        for s in saml::children(desc, METADATA_NS, "AttributeConsumingService").take(MAX_ENTRIES) {
            let index = s
                .attribute("index")
                .and_then(|i| i.trim().parse::<u16>().ok())
                .ok_or(bad("malformed AttributeConsumingService"))?;
            let names = saml::children(s, METADATA_NS, "RequestedAttribute")
                .take(MAX_ENTRIES)
                .filter_map(|a| a.attribute("Name").map(|n| n.trim().to_owned()))
                .collect();
            attribute_services.push((index, names));
        }
        Ok(TrustedSp {
            entity_id,
            keys,
            acs,
            slo,
            attribute_services,
        })
    }

    /// The entityID.
    pub fn entity_id(&self) -> &str {
        &self.entity_id
    }

    /// The signing keys requests are verified with.
    pub fn keys(&self) -> &[VerificationKey] {
        &self.keys
    }

    /// The AssertionConsumerServices.
    pub fn assertion_consumer_services(&self) -> &[SpAcs] {
        &self.acs
    }

    /// The ACS used when a request names none: `isDefault`, else the lowest index.
    pub fn default_acs(&self) -> Option<&SpAcs> {
        self.acs
            .iter()
            .find(|a| a.is_default)
            .or_else(|| self.acs.iter().min_by_key(|a| a.index))
    }

    /// The SingleLogoutServices.
    pub fn single_logout_services(&self) -> &[Endpoint] {
        &self.slo
    }

    /// The SingleLogoutService for `binding`, or the other binding's if there is none.
    pub(crate) fn slo_for(&self, binding: Binding) -> Option<(&Endpoint, Binding)> {
        let other = match binding {
            Binding::Redirect => Binding::Post,
            _ => Binding::Redirect,
        };
        [binding, other]
            .into_iter()
            .find_map(|b| self.slo.iter().find(|e| e.binding == b).map(|e| (e, b)))
    }

    /// The attribute names of the AttributeConsumingService `index`.
    pub fn requested_attributes(&self, index: u16) -> Option<&[String]> {
        self.attribute_services
            .iter()
            .find(|(i, _)| *i == index)
            .map(|(_, names)| names.as_slice())
    }

    /// The attribute services, `(index, names)`.
    pub fn attribute_services(&self) -> &[(u16, Vec<String>)] {
        &self.attribute_services
    }
}

/// Whether `node` is a `ds:Signature`.
pub(crate) fn is_signature(node: &Node<'_, '_>) -> bool {
    saml::is(node, dsig::DSIG_NS, "Signature")
}
