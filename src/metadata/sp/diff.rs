//! A semantic comparison of two SP metadata documents ([`diff_sp_metadata`]): what an IdP
//! or AgID would see differently, not how the bytes differ (signature, order, whitespace
//! and prefixes are ignored).

use std::collections::BTreeSet;
use std::fmt;

use crate::dsig::{VerificationKey, DSIG_NS};
use crate::metadata::MetadataError;
use crate::saml::{self, METADATA_NS};
use crate::xml::{self, Limits, Node};

/// The part of the SP metadata a fact belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SpMetadataSection {
    /// The entityID.
    EntityId,
    /// `KeyDescriptor`s (use, certificate fingerprint, subject, notAfter).
    Keys,
    /// SingleLogoutService and AssertionConsumerService.
    Endpoints,
    /// AttributeConsumingService (index, name, requested attributes).
    AttributeServices,
    /// ContactPerson (type, extensions, e-mail, phone, company).
    Contacts,
    /// Organization, NameIDFormat, the SPSSODescriptor flags, `validUntil`.
    Other,
}

impl SpMetadataSection {
    /// `entity-id`, `keys`, `endpoints`, `attribute-services`, `contacts` or `other`.
    pub fn as_str(self) -> &'static str {
        match self {
            SpMetadataSection::EntityId => "entity-id",
            SpMetadataSection::Keys => "keys",
            SpMetadataSection::Endpoints => "endpoints",
            SpMetadataSection::AttributeServices => "attribute-services",
            SpMetadataSection::Contacts => "contacts",
            SpMetadataSection::Other => "other",
        }
    }
}

/// One fact present in one document and not in the other.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct SpMetadataChange {
    /// Where.
    pub section: SpMetadataSection,
    /// `true`: only in the second document; `false`: only in the first.
    pub added: bool,
    /// The fact, one line (`acs 0 HTTP-POST https://… default`, `key signing sha256=…`).
    pub fact: String,
}

impl fmt::Display for SpMetadataChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.added { '+' } else { '-' };
        write!(f, "{sign} {:<18} {}", self.section.as_str(), self.fact)
    }
}

type Facts = BTreeSet<(SpMetadataSection, String)>;

/// The facts of an SP metadata document (signature not checked: this compares what two
/// documents say, use [`super::check_sp_metadata`] to judge one).
fn facts(text: &str) -> Result<Facts, MetadataError> {
    let doc = xml::parse(text, &Limits::METADATA)?;
    let root = doc.root_element();
    if !saml::is(&root, METADATA_NS, "EntityDescriptor") {
        return Err(MetadataError::NotMetadata);
    }
    let mut out = Facts::new();
    let mut add = |s: SpMetadataSection, f: String| {
        out.insert((s, crate::printable::printable(&f, 400)));
    };
    let entity_id = root
        .attribute("entityID")
        .ok_or(MetadataError::MissingEntityId)?;
    add(SpMetadataSection::EntityId, entity_id.to_owned());
    if let Some(v) = root.attribute("validUntil") {
        add(SpMetadataSection::Other, format!("validUntil {v}"));
    }
    for sso in saml::children(root, METADATA_NS, "SPSSODescriptor") {
        for attr in ["AuthnRequestsSigned", "WantAssertionsSigned"] {
            if let Some(v) = sso.attribute(attr) {
                add(SpMetadataSection::Other, format!("{attr} {v}"));
            }
        }
        for kd in saml::children(sso, METADATA_NS, "KeyDescriptor") {
            let usage = kd.attribute("use").unwrap_or("(any)");
            for cert in certificates(kd) {
                let fact = match VerificationKey::from_certificate_base64(&cert) {
                    Ok(k) => {
                        let sha: String =
                            k.fingerprint().iter().map(|b| format!("{b:02x}")).collect();
                        let until = k.not_after().map(|t| t.to_string()).unwrap_or_default();
                        format!("{usage} sha256={sha} {} until {until}", k.subject())
                    }
                    Err(_) => format!("{usage} unreadable certificate"),
                };
                add(SpMetadataSection::Keys, fact);
            }
        }
        for e in saml::children(sso, METADATA_NS, "SingleLogoutService") {
            add(
                SpMetadataSection::Endpoints,
                format!(
                    "slo {} {}{}",
                    binding_name(e.attribute("Binding").unwrap_or("")),
                    e.attribute("Location").unwrap_or(""),
                    e.attribute("ResponseLocation")
                        .map(|r| format!(" response {r}"))
                        .unwrap_or_default()
                ),
            );
        }
        for e in saml::children(sso, METADATA_NS, "AssertionConsumerService") {
            add(
                SpMetadataSection::Endpoints,
                format!(
                    "acs {} {} {}{}",
                    e.attribute("index").unwrap_or("?"),
                    binding_name(e.attribute("Binding").unwrap_or("")),
                    e.attribute("Location").unwrap_or(""),
                    if matches!(e.attribute("isDefault"), Some("true" | "1")) {
                        " default"
                    } else {
                        ""
                    }
                ),
            );
        }
        for n in saml::children(sso, METADATA_NS, "NameIDFormat") {
            add(
                SpMetadataSection::Other,
                format!("NameIDFormat {}", leaf(n)),
            );
        }
        for s in saml::children(sso, METADATA_NS, "AttributeConsumingService") {
            let index = s.attribute("index").unwrap_or("?");
            for n in saml::children(s, METADATA_NS, "ServiceName") {
                add(
                    SpMetadataSection::AttributeServices,
                    format!("{index} name {}", leaf(n)),
                );
            }
            for r in saml::children(s, METADATA_NS, "RequestedAttribute") {
                add(
                    SpMetadataSection::AttributeServices,
                    format!("{index} requests {}", r.attribute("Name").unwrap_or("?")),
                );
            }
        }
    }
    for org in saml::children(root, METADATA_NS, "Organization") {
        for c in org.children().filter(|c| c.is_element()) {
            add(
                SpMetadataSection::Other,
                format!("Organization {} {}", c.tag_name().name(), leaf(c)),
            );
        }
    }
    for contact in saml::children(root, METADATA_NS, "ContactPerson") {
        let kind = contact.attribute("contactType").unwrap_or("?");
        for c in contact
            .descendants()
            .filter(|c| c.is_element() && *c != contact)
        {
            if c.children().any(|x| x.is_element()) {
                continue;
            }
            add(
                SpMetadataSection::Contacts,
                format!("{kind} {} {}", c.tag_name().name(), leaf(c)),
            );
        }
    }
    Ok(out)
}

fn certificates(kd: Node<'_, '_>) -> Vec<String> {
    kd.descendants()
        .filter(|n| saml::is(n, DSIG_NS, "X509Certificate"))
        .map(|n| leaf(n).split_whitespace().collect())
        .collect()
}

fn leaf(n: Node<'_, '_>) -> String {
    xml::text(n)
        .map(|t| t.trim().to_owned())
        .unwrap_or_default()
}

fn binding_name(uri: &str) -> &str {
    uri.rsplit(':').next().unwrap_or(uri)
}

/// What differs between two SP metadata documents, by meaning: entityID, keys,
/// endpoints, attribute services, contacts, organization and flags. Empty when they say
/// the same thing (even if the bytes differ: another signature, another order).
pub fn diff_sp_metadata(old: &str, new: &str) -> Result<Vec<SpMetadataChange>, MetadataError> {
    let a = facts(old)?;
    let b = facts(new)?;
    let mut out: Vec<SpMetadataChange> = a
        .difference(&b)
        .map(|(s, f)| SpMetadataChange {
            section: *s,
            added: false,
            fact: f.clone(),
        })
        .chain(b.difference(&a).map(|(s, f)| SpMetadataChange {
            section: *s,
            added: true,
            fact: f.clone(),
        }))
        .collect();
    out.sort_by(|x, y| (x.section, x.added, &x.fact).cmp(&(y.section, y.added, &y.fact)));
    Ok(out)
}
