//! The SP's own metadata: a signed `md:EntityDescriptor` for SPID (public or private SP),
//! CIE ID, and SPID + eIDAS (the Italian node's AttributeConsumingServices 99 and 100),
//! and [`check_sp_metadata`], our own rules applied to any SP metadata file.

mod aggregator;
mod check;
mod diff;
mod profile;
mod validate;
mod writer;

use std::fmt;
use std::str::FromStr;

use crate::config::SpConfig;
use crate::dsig::{self, DsigError, SignatureAlgorithm, SignatureAnchor};
use crate::time::{Clock, SystemClock, Timestamp};

pub use aggregator::{Aggregator, AggregatorKind};
pub use check::{check_sp_metadata, check_sp_metadata_at, MetadataProblem, Severity};
pub use diff::{diff_sp_metadata, SpMetadataChange, SpMetadataSection};

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
    /// An entity reached through a SPID aggregator or public-service operator (Avviso
    /// SPID n.19 v4): one metadata per aggregated entity, written with
    /// [`SpMetadata::to_xml_aggregated`].
    Aggregated(AggregatorKind),
}

impl SpProfile {
    /// Every profile of an SP that connects to the federation itself (the aggregator
    /// profiles are [`AggregatorKind::ALL`], through [`SpProfile::Aggregated`]).
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
            SpProfile::Aggregated(kind) => kind.spid_sp_test_profile(),
        }
    }

    /// A public-sector SP (public administration or public-service operator).
    pub const fn is_public(self) -> bool {
        match self {
            SpProfile::SpidPrivate | SpProfile::CiePrivate => false,
            SpProfile::Aggregated(kind) => kind.is_public(),
            _ => true,
        }
    }

    /// The aggregator variant, for the aggregator profiles.
    pub const fn aggregator_kind(self) -> Option<AggregatorKind> {
        match self {
            SpProfile::Aggregated(kind) => Some(kind),
            _ => None,
        }
    }

    /// A CIE ID profile (`cie:` extensions, `administrative` contact).
    pub const fn is_cie(self) -> bool {
        matches!(self, SpProfile::CiePublic | SpProfile::CiePrivate)
    }

    /// The attribute names this profile allows in the AttributeConsumingService `index`.
    pub fn allowed_attributes(self, index: u16) -> &'static [&'static str] {
        self.rules().allowed_attributes(index)
    }
}

impl fmt::Display for SpProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.spid_sp_test_profile())
    }
}

/// A profile name that is not one of spid-sp-test's (`spid-sp-public`, `spid-sp-private`,
/// `cie-sp-public`, `cie-sp-private`, `ficep-eidas-sp`, and the aggregator profiles
/// `spid-sp-ag-public-full`, `spid-sp-ag-public-lite`, `spid-sp-ag-private-full`,
/// `spid-sp-ag-private-lite`, `spid-sp-op-public-full`, `spid-sp-op-public-lite`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown sp metadata profile (expected spid-sp-public, spid-sp-private, cie-sp-public, cie-sp-private, ficep-eidas-sp or an aggregator profile: spid-sp-ag-public-full, spid-sp-ag-public-lite, spid-sp-ag-private-full, spid-sp-ag-private-lite, spid-sp-op-public-full, spid-sp-op-public-lite)")]
pub struct UnknownProfile;

impl FromStr for SpProfile {
    type Err = UnknownProfile;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SpProfile::ALL
            .into_iter()
            .chain(AggregatorKind::ALL.map(SpProfile::Aggregated))
            .find(|p| p.spid_sp_test_profile() == s)
            .ok_or(UnknownProfile)
    }
}

/// The organization running the SP (`md:Organization`). Italian values are required;
/// the English ones are all given or all absent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
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
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
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
    /// CIE private: ATECO/NACE rev.2 codes (at least one). May be left out when
    /// deserializing (empty).
    #[cfg_attr(feature = "serde", serde(default))]
    pub nace2_codes: Vec<String>,
    /// CIE public: IPA category (`L6` municipalities, ...).
    pub ipa_category: Option<String>,
}

/// Invoicing data of a private SPID SP: the `fpa:CessionarioCommittente` of the `billing`
/// contact (the party AgID invoices).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
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
    /// An aggregator profile written without the aggregator, or aggregator data given
    /// for a profile that is not an aggregator's.
    #[error("sp metadata: {0}")]
    Aggregator(&'static str),
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
    /// `KeyDescriptor use="signing"` and in the signature's `KeyInfo` (then one more
    /// `KeyDescriptor use="signing"` per certificate of
    /// [`SpConfig::published_certificates`], for a key rollover), every
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
        let unsigned = self.unsigned_xml(config, now, None)?;
        Ok(dsig::sign_enveloped(
            &unsigned,
            config.signing_key(),
            SignatureAlgorithm::RsaSha256,
            SignatureAnchor::First,
        )?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_names_round_trip() {
        for p in SpProfile::ALL
            .into_iter()
            .chain(AggregatorKind::ALL.map(SpProfile::Aggregated))
        {
            assert_eq!(p.to_string().parse::<SpProfile>(), Ok(p));
        }
        assert_eq!(
            "spid-sp-op-public-lite".parse::<SpProfile>(),
            Ok(SpProfile::Aggregated(AggregatorKind::OperatorPublicLite))
        );
        assert!("spid".parse::<SpProfile>().is_err());
    }
}
