//! The SP's own metadata: a signed `md:EntityDescriptor` for SPID (public or private SP),
//! CIE ID, and SPID + eIDAS (the Italian node's AttributeConsumingServices 99 and 100),
//! and [`check_sp_metadata`], our own rules applied to any SP metadata file.

mod check;

use std::fmt::{self, Write as _};
use std::str::FromStr;

use crate::config::{AttributeService, SpConfig};
use crate::dsig::{self, DsigError, SignatureAlgorithm, SignatureAnchor};
use crate::identity::SPID_ATTRIBUTE_NAMES;
use crate::saml::{Binding, CIE_NS, FPA_NS, METADATA_NS, NAMEID_TRANSIENT, PROTOCOL_NS, SPID_NS};
use crate::time::{Clock, SystemClock, Timestamp};
use crate::xml::writer::{attr, text};

pub use check::{check_sp_metadata, check_sp_metadata_at, MetadataProblem, Severity};

/// The attributes CIE ID releases (and the only ones a CIE SP may request).
pub const CIE_ATTRIBUTE_NAMES: [&str; 4] = ["name", "familyName", "dateOfBirth", "fiscalNumber"];

/// AttributeConsumingService index of the eIDAS natural-person minimum set.
pub const EIDAS_MINIMUM_INDEX: u16 = 99;
/// AttributeConsumingService index of the eIDAS natural-person full set.
pub const EIDAS_FULL_INDEX: u16 = 100;
/// `ServiceName` of service 99.
pub const EIDAS_MINIMUM_SERVICE_NAME: &str = "eIDAS Natural Person Minimum Attribute Set";
/// `ServiceName` of service 100.
pub const EIDAS_FULL_SERVICE_NAME: &str = "eIDAS Natural Person Full Attribute Set";
/// What service 99 requests by default (AgID's eIDAS node examples). `fiscalNumber` is
/// not released for foreign users: their key is `spidCode`.
pub const EIDAS_MINIMUM_ATTRIBUTES: [&str; 4] = ["spidCode", "name", "familyName", "dateOfBirth"];
/// What service 100 requests by default.
pub const EIDAS_FULL_ATTRIBUTES: [&str; 7] = [
    "spidCode",
    "name",
    "familyName",
    "dateOfBirth",
    "placeOfBirth",
    "address",
    "gender",
];
/// Attributes allowed in service 99 (AgID's spid-sp-test also tolerates `fiscalNumber`).
const EIDAS_MINIMUM_ALLOWED: [&str; 5] = [
    "fiscalNumber",
    "spidCode",
    "name",
    "familyName",
    "dateOfBirth",
];
/// Attributes allowed in service 100.
const EIDAS_FULL_ALLOWED: [&str; 8] = [
    "fiscalNumber",
    "spidCode",
    "name",
    "familyName",
    "dateOfBirth",
    "placeOfBirth",
    "address",
    "gender",
];

const NAME_FORMAT_BASIC: &str = "urn:oasis:names:tc:SAML:2.0:attrname-format:basic";
const NAME_FORMAT_URI: &str = "urn:oasis:names:tc:SAML:2.0:attrname-format:uri";
const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";

/// Which federation rules the metadata follows. One metadata document (and one entityID)
/// per profile: a portal offering SPID and CIE publishes two.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum SpProfile {
    /// SPID, public administration (`spid:Public`, `spid:IPACode`).
    SpidPublic,
    /// SPID, private SP (`spid:Private`, VAT number or fiscal code, billing contact).
    SpidPrivate,
    /// CIE ID, public administration (`cie:Public`, `cie:IPACode`, `cie:Municipality`).
    CiePublic,
    /// CIE ID, private SP (`cie:Private`, VAT number, fiscal code, NACE2 codes).
    CiePrivate,
    /// A public SPID SP that also accepts eIDAS users through the Italian node: the SPID
    /// public metadata plus AttributeConsumingService 99 (minimum set) and 100 (full set).
    Eidas,
}

impl SpProfile {
    /// Every profile.
    pub const ALL: [SpProfile; 5] = [
        SpProfile::SpidPublic,
        SpProfile::SpidPrivate,
        SpProfile::CiePublic,
        SpProfile::CiePrivate,
        SpProfile::Eidas,
    ];

    /// The name AgID's spid-sp-test uses for this profile (`--profile`).
    pub const fn spid_sp_test_profile(self) -> &'static str {
        match self {
            SpProfile::SpidPublic => "spid-sp-public",
            SpProfile::SpidPrivate => "spid-sp-private",
            SpProfile::CiePublic => "cie-sp-public",
            SpProfile::CiePrivate => "cie-sp-private",
            SpProfile::Eidas => "ficep-eidas-sp",
        }
    }

    /// A public-sector SP (public administration or public-service operator).
    pub const fn is_public(self) -> bool {
        !matches!(self, SpProfile::SpidPrivate | SpProfile::CiePrivate)
    }

    /// A CIE ID profile (`cie:` extensions, `administrative` contact).
    pub const fn is_cie(self) -> bool {
        matches!(self, SpProfile::CiePublic | SpProfile::CiePrivate)
    }

    /// The attribute names this profile allows in the AttributeConsumingService `index`.
    pub fn allowed_attributes(self, index: u16) -> &'static [&'static str] {
        match self {
            SpProfile::CiePublic | SpProfile::CiePrivate => &CIE_ATTRIBUTE_NAMES,
            SpProfile::Eidas if index == EIDAS_MINIMUM_INDEX => &EIDAS_MINIMUM_ALLOWED,
            SpProfile::Eidas if index == EIDAS_FULL_INDEX => &EIDAS_FULL_ALLOWED,
            _ => &SPID_ATTRIBUTE_NAMES,
        }
    }
}

impl fmt::Display for SpProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.spid_sp_test_profile())
    }
}

/// A profile name that is not one of spid-sp-test's (`spid-sp-public`, `spid-sp-private`,
/// `cie-sp-public`, `cie-sp-private`, `ficep-eidas-sp`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown sp metadata profile (expected spid-sp-public, spid-sp-private, cie-sp-public, cie-sp-private or ficep-eidas-sp)")]
pub struct UnknownProfile;

impl FromStr for SpProfile {
    type Err = UnknownProfile;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SpProfile::ALL
            .into_iter()
            .find(|p| p.spid_sp_test_profile() == s)
            .ok_or(UnknownProfile)
    }
}

/// The organization running the SP (`md:Organization`). Italian values are required;
/// the English ones are all given or all absent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Organization {
    /// Full legal name, with correct case and accents (= certificate `organizationName`).
    pub name: String,
    /// Short name shown by the IdP (= certificate `commonName`).
    pub display_name: String,
    /// Page about the service.
    pub url: String,
    /// English legal name.
    pub name_en: Option<String>,
    /// English short name.
    pub display_name_en: Option<String>,
    /// English page about the service.
    pub url_en: Option<String>,
}

/// The SP's contact (`md:ContactPerson`, `other` for SPID, `administrative` for CIE) and
/// its identifiers. Fields a profile does not use are ignored, so one value can describe
/// the SP in every profile.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Contact {
    /// Institutional (not personal) mailbox.
    pub email: String,
    /// International format without spaces (`+39...`).
    pub phone: Option<String>,
    /// IPA code (public SPs, required for SPID public and CIE public).
    pub ipa_code: Option<String>,
    /// VAT number with the country prefix (`IT12345678901`): SPID private (or the fiscal
    /// code), CIE private.
    pub vat_number: Option<String>,
    /// The legal person's fiscal code: SPID private without VAT, CIE private.
    pub fiscal_code: Option<String>,
    /// CIE: cadastral (Belfiore) code of the registered office, upper case (`H501`).
    pub municipality: Option<String>,
    /// CIE: province abbreviation, upper case (`RM`).
    pub province: Option<String>,
    /// CIE private: ATECO/NACE rev.2 codes (at least one).
    pub nace2_codes: Vec<String>,
    /// CIE public: IPA category (`L6` municipalities, ...).
    pub ipa_category: Option<String>,
}

/// Invoicing data of a private SPID SP: the `fpa:CessionarioCommittente` of the `billing`
/// contact (the party AgID invoices).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Billing {
    /// VAT country code (`IT`).
    pub vat_country: String,
    /// VAT number without the country prefix; empty when the party has no VAT number
    /// (then `fiscal_code` is required).
    pub vat_code: String,
    /// Fiscal code (11 to 16 upper-case letters and digits).
    pub fiscal_code: Option<String>,
    /// Company name (`fpa:Denominazione`, at most 80 Latin-1 characters).
    pub company_name: String,
    /// Street address (at most 60 Latin-1 characters).
    pub address: String,
    /// Street number.
    pub number: Option<String>,
    /// Postal code (5 digits).
    pub postal_code: String,
    /// Municipality name.
    pub municipality: String,
    /// Province abbreviation (`RM`).
    pub province: Option<String>,
    /// Country code (`IT`).
    pub country: String,
    /// Billing mailbox (PEC allowed).
    pub email: String,
}

/// Everything the SP metadata needs beyond the [`SpConfig`].
///
/// ```no_run
/// use spid_sp::metadata::{Contact, Organization, SpMetadata, SpProfile};
/// # fn demo(config: &spid_sp::SpConfig) -> Result<(), spid_sp::metadata::MetadataBuildError> {
/// let metadata = SpMetadata {
///     profile: SpProfile::SpidPublic,
///     organization: Organization {
///         name: "Comune di Forlì".into(),
///         display_name: "Comune di Forlì".into(),
///         url: "https://www.comune.forli.fc.it".into(),
///         ..Default::default()
///     },
///     contact: Contact {
///         email: "spid@comune.forli.fc.it".into(),
///         phone: Some("+390543712111".into()),
///         ipa_code: Some("c_d704".into()),
///         ..Default::default()
///     },
///     billing: None,
///     valid_for_days: None,
/// };
/// let xml = metadata.to_xml(config)?; // serve it at the metadata URL, send it to AgID
/// # let _ = xml; Ok(()) }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct SpMetadata {
    /// The federation rules to follow.
    pub profile: SpProfile,
    /// `md:Organization`.
    pub organization: Organization,
    /// The SP contact.
    pub contact: Contact,
    /// Invoicing data (required for [`SpProfile::SpidPrivate`], ignored otherwise).
    pub billing: Option<Billing>,
    /// Adds `validUntil` = now + this many days. Federations refresh SP metadata out of
    /// band, so the default (`None`) leaves it out.
    pub valid_for_days: Option<u32>,
}

/// SP metadata that cannot be produced as asked.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MetadataBuildError {
    /// Data the profile requires is missing.
    #[error("sp metadata: missing {0}")]
    Missing(&'static str),
    /// A value has the wrong shape.
    #[error("sp metadata: invalid {0}")]
    Invalid(&'static str),
    /// An attribute the profile does not allow in that AttributeConsumingService.
    #[error("sp metadata: attribute {name} is not allowed in attribute service {index} for this profile")]
    AttributeNotAllowed {
        /// The AttributeConsumingService index.
        index: u16,
        /// The attribute name.
        name: String,
    },
    /// The same attribute twice in one AttributeConsumingService.
    #[error("sp metadata: attribute {name} requested twice in attribute service {index}")]
    DuplicateAttribute {
        /// The AttributeConsumingService index.
        index: u16,
        /// The attribute name.
        name: String,
    },
    /// Signing failed.
    #[error("sp metadata: cannot sign: {0}")]
    Signing(#[from] DsigError),
}

type BuildResult<T> = Result<T, MetadataBuildError>;

impl SpMetadata {
    /// Metadata for `profile` with no billing data and no `validUntil`.
    pub fn new(profile: SpProfile, organization: Organization, contact: Contact) -> SpMetadata {
        SpMetadata {
            profile,
            organization,
            contact,
            billing: None,
            valid_for_days: None,
        }
    }

    /// Signed metadata for the SP described by `config`: entityID, signing certificate in
    /// `KeyDescriptor use="signing"` and in the signature's `KeyInfo`, every
    /// SingleLogoutService, every AssertionConsumerService (HTTP-POST, index 0 is the
    /// default), every AttributeConsumingService (for [`SpProfile::Eidas`], 99 and 100 are
    /// added with the default sets when the configuration lacks them: add them to the
    /// configuration too, or logins through the eIDAS node cannot start), Organization and
    /// ContactPerson(s) as the profile requires. The signature is RSA-SHA256, exc-c14n,
    /// enveloped, first child of the EntityDescriptor.
    ///
    /// The output is deterministic (the ID derives from the entityID and the profile),
    /// except `validUntil`, which reads the system clock; see [`SpMetadata::to_xml_at`].
    pub fn to_xml(&self, config: &SpConfig) -> Result<String, MetadataBuildError> {
        self.to_xml_at(config, SystemClock.now())
    }

    /// [`SpMetadata::to_xml`] with an explicit "now" (only used for `validUntil`).
    pub fn to_xml_at(
        &self,
        config: &SpConfig,
        now: Timestamp,
    ) -> Result<String, MetadataBuildError> {
        let unsigned = self.unsigned_xml(config, now)?;
        Ok(dsig::sign_enveloped(
            &unsigned,
            config.signing_key(),
            SignatureAlgorithm::RsaSha256,
            SignatureAnchor::First,
        )?)
    }

    fn unsigned_xml(&self, config: &SpConfig, now: Timestamp) -> BuildResult<String> {
        let profile = self.profile;
        let entity_id = config.entity_id().as_str();
        if entity_id.trim().is_empty() {
            return Err(MetadataBuildError::Missing("entity id"));
        }
        if entity_id.len() > 1024 || entity_id.trim() != entity_id {
            return Err(MetadataBuildError::Invalid(
                "entity id (at most 1024 characters, no surrounding spaces)",
            ));
        }
        validate_organization(&self.organization)?;
        validate_contact(profile, &self.contact)?;
        let billing = match (profile, &self.billing) {
            (SpProfile::SpidPrivate, Some(b)) => {
                validate_billing(b)?;
                Some(b)
            }
            (SpProfile::SpidPrivate, None) => {
                return Err(MetadataBuildError::Missing(
                    "billing data (required for a private spid sp)",
                ))
            }
            _ => None,
        };
        let services = attribute_services(profile, config)?;
        let slo = config.logout_services();
        if slo.is_empty() {
            return Err(MetadataBuildError::Missing("a single logout service"));
        }
        if profile.is_cie() && !slo.iter().any(|s| s.binding == Binding::Redirect) {
            return Err(MetadataBuildError::Missing(
                "an http-redirect single logout service (required by cie)",
            ));
        }
        let acs = config.assertion_consumer_services();
        if !acs.iter().any(|a| a.index == 0) {
            return Err(MetadataBuildError::Missing(
                "the assertion consumer service with index 0 (the default)",
            ));
        }
        let mut acs_indexes: Vec<u16> = acs.iter().map(|a| a.index).collect();
        acs_indexes.sort_unstable();
        acs_indexes.dedup();
        if acs_indexes.len() != acs.len() {
            return Err(MetadataBuildError::Invalid(
                "assertion consumer service indexes (must be unique)",
            ));
        }
        if acs.iter().any(|a| a.url.trim().is_empty())
            || slo.iter().any(|s| s.url.trim().is_empty())
        {
            return Err(MetadataBuildError::Invalid("endpoint url (empty)"));
        }

        let mut w = Writer::default();
        w.raw("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let mut root = format!(
            "<md:EntityDescriptor xmlns:md=\"{METADATA_NS}\" xmlns:ds=\"{}\"",
            dsig::DSIG_NS
        );
        if profile.is_cie() {
            let _ = write!(root, " xmlns:cie=\"{CIE_NS}\"");
        } else {
            let _ = write!(root, " xmlns:spid=\"{SPID_NS}\"");
        }
        if billing.is_some() {
            let _ = write!(root, " xmlns:fpa=\"{FPA_NS}\"");
        }
        let _ = write!(
            root,
            " entityID=\"{}\" ID=\"{}\"",
            attr(entity_id),
            document_id(entity_id, profile)
        );
        if let Some(days) = self.valid_for_days {
            let until = now.plus_seconds(i64::from(days).saturating_mul(86_400));
            let _ = write!(root, " validUntil=\"{until}\"");
        }
        root.push('>');
        w.raw(&root);
        w.depth = 1;

        // SPSSODescriptor, children in XSD order.
        w.open(
            "md:SPSSODescriptor",
            &[
                ("protocolSupportEnumeration", PROTOCOL_NS),
                ("AuthnRequestsSigned", "true"),
                ("WantAssertionsSigned", "true"),
            ],
        );
        w.open("md:KeyDescriptor", &[("use", "signing")]);
        w.open("ds:KeyInfo", &[]);
        w.open("ds:X509Data", &[]);
        w.leaf(
            "ds:X509Certificate",
            &[],
            config.signing_key().certificate_base64(),
        );
        w.close("ds:X509Data");
        w.close("ds:KeyInfo");
        w.close("md:KeyDescriptor");
        for s in slo {
            w.empty(
                "md:SingleLogoutService",
                &[("Binding", s.binding.uri()), ("Location", &s.url)],
            );
        }
        w.leaf("md:NameIDFormat", &[], NAMEID_TRANSIENT);
        let mut sorted_acs: Vec<_> = acs.iter().collect();
        sorted_acs.sort_by_key(|a| a.index);
        for a in sorted_acs {
            let index = a.index.to_string();
            let mut attrs = vec![
                ("Binding", Binding::Post.uri()),
                ("Location", a.url.as_str()),
                ("index", index.as_str()),
            ];
            if a.index == 0 {
                attrs.push(("isDefault", "true"));
            }
            w.empty("md:AssertionConsumerService", &attrs);
        }
        for s in &services {
            let index = s.index.to_string();
            w.open("md:AttributeConsumingService", &[("index", &index)]);
            w.leaf("md:ServiceName", &[("xml:lang", "it")], &s.name);
            for a in &s.attributes {
                w.empty(
                    "md:RequestedAttribute",
                    &[("Name", a.as_str()), ("NameFormat", NAME_FORMAT_BASIC)],
                );
            }
            w.close("md:AttributeConsumingService");
        }
        w.close("md:SPSSODescriptor");

        // Organization: all names, then all display names, then all URLs.
        let org = &self.organization;
        let mut langs: Vec<(&str, &str, &str, &str)> =
            vec![("it", &org.name, &org.display_name, &org.url)];
        if let (Some(n), Some(d), Some(u)) = (&org.name_en, &org.display_name_en, &org.url_en) {
            langs.push(("en", n, d, u));
        }
        w.open("md:Organization", &[]);
        for (lang, name, _, _) in &langs {
            w.leaf("md:OrganizationName", &[("xml:lang", lang)], name);
        }
        for (lang, _, display, _) in &langs {
            w.leaf("md:OrganizationDisplayName", &[("xml:lang", lang)], display);
        }
        for (lang, _, _, url) in &langs {
            w.leaf("md:OrganizationURL", &[("xml:lang", lang)], url);
        }
        w.close("md:Organization");

        if profile.is_cie() {
            write_cie_contact(&mut w, profile, &self.contact, &org.name);
        } else {
            write_spid_contact(&mut w, profile, &self.contact, &org.name);
        }
        if let Some(b) = billing {
            write_billing_contact(&mut w, b);
        }
        w.depth = 0;
        w.raw("\n</md:EntityDescriptor>\n");
        Ok(w.out)
    }
}

/// The EntityDescriptor ID: `_` + 128 bits of SHA-256(entityID, profile), so the same
/// configuration always yields the same document.
fn document_id(entity_id: &str, profile: SpProfile) -> String {
    let mut input = Vec::with_capacity(entity_id.len() + 20);
    input.extend_from_slice(entity_id.as_bytes());
    input.push(0);
    input.extend_from_slice(profile.spid_sp_test_profile().as_bytes());
    let mut id = String::with_capacity(33);
    id.push('_');
    if let Ok(digest) = openssl::hash::hash(openssl::hash::MessageDigest::sha256(), &input) {
        for b in digest.iter().take(16) {
            let _ = write!(id, "{b:02x}");
        }
    } else {
        // Deterministic by design (reproducible metadata): FNV-1a when SHA-256 is missing.
        let fnv = input.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
        });
        let _ = write!(id, "{fnv:016x}{:016x}", fnv.rotate_left(32));
    }
    id
}

/// The AttributeConsumingServices to publish, checked against the profile.
fn attribute_services(profile: SpProfile, config: &SpConfig) -> BuildResult<Vec<AttributeService>> {
    let mut services: Vec<AttributeService> = config.attribute_services().to_vec();
    if profile == SpProfile::Eidas {
        for (index, name, attributes) in [
            (
                EIDAS_MINIMUM_INDEX,
                EIDAS_MINIMUM_SERVICE_NAME,
                &EIDAS_MINIMUM_ATTRIBUTES[..],
            ),
            (
                EIDAS_FULL_INDEX,
                EIDAS_FULL_SERVICE_NAME,
                &EIDAS_FULL_ATTRIBUTES[..],
            ),
        ] {
            if !services.iter().any(|s| s.index == index) {
                services.push(AttributeService {
                    index,
                    name: name.to_owned(),
                    attributes: attributes.iter().map(|a| (*a).to_owned()).collect(),
                });
            }
        }
    }
    services.sort_by_key(|s| s.index);
    if services.is_empty() {
        return Err(MetadataBuildError::Missing(
            "an attribute consuming service",
        ));
    }
    for pair in services.windows(2) {
        if let [a, b] = pair {
            if a.index == b.index {
                return Err(MetadataBuildError::Invalid(
                    "attribute consuming service indexes (must be unique)",
                ));
            }
        }
    }
    for s in &services {
        if s.name.trim().is_empty() {
            return Err(MetadataBuildError::Missing(
                "an attribute consuming service name",
            ));
        }
        if s.attributes.is_empty() {
            return Err(MetadataBuildError::Missing(
                "requested attributes in an attribute consuming service",
            ));
        }
        let allowed = profile.allowed_attributes(s.index);
        for (i, a) in s.attributes.iter().enumerate() {
            if !allowed.contains(&a.as_str()) {
                return Err(MetadataBuildError::AttributeNotAllowed {
                    index: s.index,
                    name: truncate(a, 64),
                });
            }
            if s.attributes.iter().take(i).any(|b| b == a) {
                return Err(MetadataBuildError::DuplicateAttribute {
                    index: s.index,
                    name: truncate(a, 64),
                });
            }
        }
    }
    Ok(services)
}

pub(crate) fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}...", s.get(..i).unwrap_or_default()),
        None => s.to_owned(),
    }
}

fn validate_organization(org: &Organization) -> BuildResult<()> {
    if org.name.trim().is_empty() {
        return Err(MetadataBuildError::Missing("organization name"));
    }
    if org.display_name.trim().is_empty() {
        return Err(MetadataBuildError::Missing("organization display name"));
    }
    if !is_http_url(&org.url) {
        return Err(MetadataBuildError::Invalid(
            "organization url (an http(s) url)",
        ));
    }
    match (&org.name_en, &org.display_name_en, &org.url_en) {
        (None, None, None) => Ok(()),
        (Some(n), Some(d), Some(u)) => {
            if n.trim().is_empty() || d.trim().is_empty() || !is_http_url(u) {
                Err(MetadataBuildError::Invalid(
                    "english organization data (name, display name and an http(s) url)",
                ))
            } else {
                Ok(())
            }
        }
        _ => Err(MetadataBuildError::Invalid(
            "english organization data (give name, display name and url together)",
        )),
    }
}

fn validate_contact(profile: SpProfile, c: &Contact) -> BuildResult<()> {
    if c.email.trim().is_empty() {
        return Err(MetadataBuildError::Missing("contact email address"));
    }
    if !is_email(&c.email) {
        return Err(MetadataBuildError::Invalid("contact email address"));
    }
    if let Some(phone) = &c.phone {
        if !is_phone(phone) {
            return Err(MetadataBuildError::Invalid(
                "contact telephone number (international format without spaces, +39...)",
            ));
        }
    }
    let present = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.trim().is_empty());
    let check_token = |v: &Option<String>, what: &'static str| match v {
        Some(s) if !is_token(s) => Err(MetadataBuildError::Invalid(what)),
        _ => Ok(()),
    };
    // CIE public contacts carry no VAT number or fiscal code.
    if profile != SpProfile::CiePublic {
        if let Some(vat) = &c.vat_number {
            if !is_vat_number(vat) {
                return Err(MetadataBuildError::Invalid(
                    "contact vat number (country code then number, no spaces: IT12345678901)",
                ));
            }
        }
        check_token(&c.fiscal_code, "contact fiscal code (no spaces)")?;
    }
    match profile {
        SpProfile::SpidPublic | SpProfile::Eidas => {
            if !present(&c.ipa_code) {
                return Err(MetadataBuildError::Missing(
                    "contact ipa code (required for a public sp)",
                ));
            }
            check_token(&c.ipa_code, "contact ipa code (no spaces)")?;
        }
        SpProfile::SpidPrivate => {
            if !present(&c.vat_number) && !present(&c.fiscal_code) {
                return Err(MetadataBuildError::Missing(
                    "contact vat number or fiscal code (required for a private sp)",
                ));
            }
        }
        SpProfile::CiePublic => {
            if !present(&c.ipa_code) {
                return Err(MetadataBuildError::Missing(
                    "contact ipa code (required for a public sp)",
                ));
            }
            check_token(&c.ipa_code, "contact ipa code (no spaces)")?;
            check_token(&c.ipa_category, "contact ipa category (no spaces)")?;
        }
        SpProfile::CiePrivate => {
            if !present(&c.vat_number) {
                return Err(MetadataBuildError::Missing(
                    "contact vat number (required for a private cie sp)",
                ));
            }
            if !present(&c.fiscal_code) {
                return Err(MetadataBuildError::Missing(
                    "contact fiscal code (required for a private cie sp)",
                ));
            }
            if c.nace2_codes.is_empty() {
                return Err(MetadataBuildError::Missing(
                    "contact nace2 codes (required for a private cie sp)",
                ));
            }
            if c.nace2_codes.iter().any(|n| !is_token(n)) {
                return Err(MetadataBuildError::Invalid(
                    "contact nace2 code (no spaces)",
                ));
            }
        }
    }
    if profile.is_cie() {
        if !present(&c.municipality) {
            return Err(MetadataBuildError::Missing(
                "contact municipality (cadastral code, required by cie)",
            ));
        }
        check_token(
            &c.municipality,
            "contact municipality (cadastral code, no spaces)",
        )?;
        if let Some(p) = &c.province {
            if !is_upper_code(p, 2) {
                return Err(MetadataBuildError::Invalid(
                    "contact province (two upper-case letters)",
                ));
            }
        }
    }
    Ok(())
}

fn validate_billing(b: &Billing) -> BuildResult<()> {
    let has_vat = !b.vat_code.trim().is_empty();
    if has_vat {
        if !is_upper_code(&b.vat_country, 2) {
            return Err(MetadataBuildError::Invalid(
                "billing vat country (two upper-case letters)",
            ));
        }
        if b.vat_code.chars().count() > 28 || !is_token(&b.vat_code) {
            return Err(MetadataBuildError::Invalid(
                "billing vat code (1 to 28 characters, no spaces)",
            ));
        }
    }
    match &b.fiscal_code {
        Some(fc) => {
            let n = fc.chars().count();
            if !(11..=16).contains(&n)
                || !fc
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
            {
                return Err(MetadataBuildError::Invalid(
                    "billing fiscal code (11 to 16 upper-case letters and digits)",
                ));
            }
        }
        None if !has_vat => {
            return Err(MetadataBuildError::Missing(
                "billing vat code or fiscal code",
            ))
        }
        None => {}
    }
    if !is_latin(&b.company_name, 80) {
        return Err(MetadataBuildError::Invalid(
            "billing company name (1 to 80 latin-1 characters)",
        ));
    }
    if !is_latin(&b.address, 60) {
        return Err(MetadataBuildError::Invalid(
            "billing address (1 to 60 latin-1 characters)",
        ));
    }
    if let Some(n) = &b.number {
        if n.is_empty() || n.len() > 8 || !n.chars().all(|c| c.is_ascii() && c != '\n') {
            return Err(MetadataBuildError::Invalid(
                "billing street number (1 to 8 ascii characters)",
            ));
        }
    }
    if b.postal_code.len() != 5 || !b.postal_code.chars().all(|c| c.is_ascii_digit()) {
        return Err(MetadataBuildError::Invalid(
            "billing postal code (5 digits)",
        ));
    }
    if !is_latin(&b.municipality, 60) {
        return Err(MetadataBuildError::Invalid(
            "billing municipality (1 to 60 latin-1 characters)",
        ));
    }
    if let Some(p) = &b.province {
        if !is_upper_code(p, 2) {
            return Err(MetadataBuildError::Invalid(
                "billing province (two upper-case letters)",
            ));
        }
    }
    if !is_upper_code(&b.country, 2) {
        return Err(MetadataBuildError::Invalid(
            "billing country (two upper-case letters)",
        ));
    }
    if !is_email(&b.email) {
        return Err(MetadataBuildError::Invalid("billing email address"));
    }
    Ok(())
}

/// `Some` trimmed value, `None` when absent or blank.
fn nonempty(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// An `md:ContactPerson` of `contact_type`: `md:Extensions` with what `extensions` writes,
/// then Company, EmailAddress and, when given, TelephoneNumber.
fn write_contact_person(
    w: &mut Writer,
    contact_type: &str,
    company: &str,
    email: &str,
    phone: Option<&str>,
    extensions: impl FnOnce(&mut Writer),
) {
    w.open("md:ContactPerson", &[("contactType", contact_type)]);
    w.open("md:Extensions", &[]);
    extensions(w);
    w.close("md:Extensions");
    w.leaf("md:Company", &[], company);
    w.leaf("md:EmailAddress", &[], email);
    w.leaf_if("md:TelephoneNumber", phone);
    w.close("md:ContactPerson");
}

fn write_spid_contact(w: &mut Writer, profile: SpProfile, c: &Contact, company: &str) {
    let phone = c.phone.as_deref();
    write_contact_person(w, "other", company, c.email.trim(), phone, |w| {
        if profile.is_public() {
            w.leaf_if("spid:IPACode", nonempty(&c.ipa_code));
        }
        w.leaf_if("spid:VATNumber", nonempty(&c.vat_number));
        w.leaf_if("spid:FiscalCode", nonempty(&c.fiscal_code));
        w.empty(
            if profile.is_public() {
                "spid:Public"
            } else {
                "spid:Private"
            },
            &[],
        );
    });
}

fn write_cie_contact(w: &mut Writer, profile: SpProfile, c: &Contact, company: &str) {
    let phone = c.phone.as_deref();
    write_contact_person(w, "administrative", company, c.email.trim(), phone, |w| {
        if profile.is_public() {
            w.empty("cie:Public", &[]);
            w.leaf_if("cie:IPACode", nonempty(&c.ipa_code));
            w.leaf_if("cie:IPACategory", nonempty(&c.ipa_category));
        } else {
            w.empty("cie:Private", &[]);
            w.leaf_if("cie:VATNumber", nonempty(&c.vat_number));
            w.leaf_if("cie:FiscalCode", nonempty(&c.fiscal_code));
            for code in &c.nace2_codes {
                w.leaf("cie:NACE2Code", &[], code.trim());
            }
        }
        w.leaf_if("cie:Municipality", nonempty(&c.municipality));
        w.leaf_if("cie:Province", nonempty(&c.province));
    });
}

fn write_billing_contact(w: &mut Writer, b: &Billing) {
    write_contact_person(w, "billing", &b.company_name, b.email.trim(), None, |w| {
        w.open("fpa:CessionarioCommittente", &[]);
        w.open("fpa:DatiAnagrafici", &[]);
        if !b.vat_code.trim().is_empty() {
            w.open("fpa:IdFiscaleIVA", &[]);
            w.leaf("fpa:IdPaese", &[], &b.vat_country);
            w.leaf("fpa:IdCodice", &[], b.vat_code.trim());
            w.close("fpa:IdFiscaleIVA");
        }
        w.leaf_if("fpa:CodiceFiscale", b.fiscal_code.as_deref());
        w.open("fpa:Anagrafica", &[]);
        w.leaf("fpa:Denominazione", &[], &b.company_name);
        w.close("fpa:Anagrafica");
        w.close("fpa:DatiAnagrafici");
        w.open("fpa:Sede", &[]);
        w.leaf("fpa:Indirizzo", &[], &b.address);
        w.leaf_if("fpa:NumeroCivico", b.number.as_deref());
        w.leaf("fpa:CAP", &[], &b.postal_code);
        w.leaf("fpa:Comune", &[], &b.municipality);
        w.leaf_if("fpa:Provincia", b.province.as_deref());
        w.leaf("fpa:Nazione", &[], &b.country);
        w.close("fpa:Sede");
        w.close("fpa:CessionarioCommittente");
    });
}

// ---- value shapes (shared with the checker) ----

/// An http(s) URL with a host and no whitespace.
pub(crate) fn is_http_url(s: &str) -> bool {
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"));
    match rest {
        Some(r) => {
            let host = r.split(['/', '?', '#']).next().unwrap_or_default();
            !host.is_empty() && !s.chars().any(char::is_whitespace)
        }
        None => false,
    }
}

/// The e-mail shape spid-sp-test accepts: `[\w.-]+@[\w.-]+\.\w{2,8}`.
pub(crate) fn is_email(s: &str) -> bool {
    let word = |c: char| c.is_alphanumeric() || c == '_';
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    let Some((_, tld)) = domain.rsplit_once('.') else {
        return false;
    };
    !local.is_empty()
        && local.chars().all(|c| word(c) || c == '.' || c == '-')
        && domain.chars().all(|c| word(c) || c == '.' || c == '-')
        && domain.len() > tld.len() + 1
        && (2..=8).contains(&tld.chars().count())
        && tld.chars().all(word)
}

/// `+` then 6 to 20 digits.
pub(crate) fn is_phone(s: &str) -> bool {
    s.strip_prefix('+')
        .is_some_and(|d| (6..=20).contains(&d.len()) && d.chars().all(|c| c.is_ascii_digit()))
}

/// Two upper-case letters (ISO 3166) then at least one letter or digit, no spaces.
pub(crate) fn is_vat_number(s: &str) -> bool {
    s.get(..2).is_some_and(|p| is_upper_code(p, 2))
        && s.len() > 2
        && s.len() <= 30
        && s.chars().all(|c| c.is_ascii_alphanumeric())
}

/// Exactly `n` upper-case ASCII letters.
pub(crate) fn is_upper_code(s: &str, n: usize) -> bool {
    s.len() == n && s.chars().all(|c| c.is_ascii_uppercase())
}

/// Non-empty, at most 64 characters, no whitespace.
pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty() && s.chars().count() <= 64 && !s.chars().any(char::is_whitespace)
}

/// 1 to `max` Basic Latin / Latin-1 characters, no control characters (fpa XSD).
fn is_latin(s: &str, max: usize) -> bool {
    let n = s.chars().count();
    (1..=max).contains(&n)
        && s.chars()
            .all(|c| (' '..='\u{ff}').contains(&c) && !c.is_control())
}

/// An indenting writer for the few element shapes metadata needs; every value is escaped.
#[derive(Default)]
struct Writer {
    out: String,
    depth: usize,
}

impl Writer {
    fn raw(&mut self, s: &str) {
        self.out.push_str(s);
    }

    fn start(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.out.push('\n');
        for _ in 0..self.depth {
            self.out.push_str("  ");
        }
        self.out.push('<');
        self.out.push_str(name);
        for (k, v) in attrs {
            let _ = write!(self.out, " {k}=\"{}\"", attr(v));
        }
    }

    fn open(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.start(name, attrs);
        self.out.push('>');
        self.depth += 1;
    }

    fn close(&mut self, name: &str) {
        self.depth = self.depth.saturating_sub(1);
        self.out.push('\n');
        for _ in 0..self.depth {
            self.out.push_str("  ");
        }
        let _ = write!(self.out, "</{name}>");
    }

    fn leaf(&mut self, name: &str, attrs: &[(&str, &str)], value: &str) {
        self.start(name, attrs);
        let _ = write!(self.out, ">{}</{name}>", text(value));
    }

    /// A [`Writer::leaf`] without attributes, when there is a value.
    fn leaf_if(&mut self, name: &str, value: Option<&str>) {
        if let Some(v) = value {
            self.leaf(name, &[], v);
        }
    }

    fn empty(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.start(name, attrs);
        self.out.push_str("/>");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_shapes() {
        assert!(is_email("spid@comune.forli.fc.it"));
        assert!(is_email("a.b-c_d@x-y.it"));
        assert!(!is_email("spid+x@comune.it"));
        assert!(!is_email("no-at.it"));
        assert!(!is_email("a@it"));
        assert!(!is_email("a @b.it"));
        assert!(is_phone("+390612345678"));
        assert!(!is_phone("+39 06 1234"));
        assert!(!is_phone("0612345678"));
        assert!(is_vat_number("IT12345678901"));
        assert!(!is_vat_number("12345678901"));
        assert!(!is_vat_number("IT 1234"));
        assert!(is_http_url("https://sp.example.it/spid"));
        assert!(!is_http_url("https:///x"));
        assert!(!is_http_url("ftp://x"));
        assert_eq!(truncate("abcdef", 3), "abc...");
        assert_eq!(truncate("abc", 3), "abc");
    }

    #[test]
    fn profile_names_round_trip() {
        for p in SpProfile::ALL {
            assert_eq!(p.to_string().parse::<SpProfile>(), Ok(p));
        }
        assert!("spid".parse::<SpProfile>().is_err());
    }
}
