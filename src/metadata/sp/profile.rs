//! The per-profile rules of SP metadata, in one table: the writer ([`super::SpMetadata`])
//! produces what it says and the checker ([`super::check_sp_metadata`]) enforces it, so
//! the two cannot drift apart.
//!
//! A *family* (SPID or CIE) fixes the contact extension namespace, the contact types and
//! the structural leniencies of its federation; a *profile* adds the sector (public or
//! private), the extension elements the SP contact carries and which are mandatory, the
//! billing contact, and the AttributeConsumingServices the federation prescribes.

use super::{
    AggregatorKind, SpProfile, CIE_ATTRIBUTE_NAMES, EIDAS_FULL_ATTRIBUTES, EIDAS_FULL_INDEX,
    EIDAS_FULL_SERVICE_NAME, EIDAS_MINIMUM_ATTRIBUTES, EIDAS_MINIMUM_INDEX,
    EIDAS_MINIMUM_SERVICE_NAME,
};
use crate::identity::SPID_ATTRIBUTE_NAMES;
use crate::saml::{CIE_NS, SPID_NS};

/// The [`super::Contact`] field an extension element carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ContactField {
    /// `ipa_code`.
    IpaCode,
    /// `ipa_category`.
    IpaCategory,
    /// `vat_number`.
    VatNumber,
    /// `fiscal_code`.
    FiscalCode,
    /// `nace2_codes` (one element per code).
    Nace2Codes,
    /// `municipality`.
    Municipality,
    /// `province`.
    Province,
}

impl ContactField {
    /// The legal person's identifiers (VAT number, fiscal code): their shape is checked
    /// before anything else the contact lacks.
    pub(crate) const fn is_identifier(self) -> bool {
        matches!(self, ContactField::VatNumber | ContactField::FiscalCode)
    }
}

/// An element of the family's contact `md:Extensions`.
#[derive(Debug)]
pub(crate) struct ExtensionElement {
    /// Local name in the family namespace.
    pub local: &'static str,
    /// The contact field it carries (`None`: the writer never writes it).
    pub field: Option<ContactField>,
    /// An empty sector marker (`Public`, `Private`).
    pub marker: bool,
    /// Position in the schema sequence (equal ranks may come in any order; only the SPID
    /// XSD fixes the order).
    pub rank: u8,
    /// May appear more than once.
    pub repeatable: bool,
}

const fn element(
    local: &'static str,
    field: Option<ContactField>,
    rank: u8,
    repeatable: bool,
) -> ExtensionElement {
    ExtensionElement {
        local,
        field,
        marker: false,
        rank,
        repeatable,
    }
}

const fn marker(local: &'static str, rank: u8) -> ExtensionElement {
    ExtensionElement {
        local,
        field: None,
        marker: true,
        rank,
        repeatable: false,
    }
}

/// How many AssertionConsumerServices may say `isDefault="true"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DefaultAcs {
    /// Exactly one, and it has index 0 (SPID).
    ExactlyOneAtIndexZero,
    /// At most one (CIE).
    AtMostOne,
}

/// SPID or CIE.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FamilyId {
    /// SPID (and eIDAS through the Italian node).
    Spid,
    /// CIE ID.
    Cie,
}

/// The rules a federation applies to every profile of its own.
#[derive(Debug)]
pub(crate) struct Family {
    /// Which federation.
    pub id: FamilyId,
    /// Namespace prefix of the contact extensions (`spid`, `cie`).
    pub prefix: &'static str,
    /// Namespace URI of the contact extensions.
    pub ns: &'static str,
    /// `contactType` of the SP's own contact.
    pub main_contact: &'static str,
    /// Every `contactType` allowed.
    pub contact_types: &'static [&'static str],
    /// Every contact extension element the family defines.
    pub elements: &'static [ExtensionElement],
    /// Whether every ContactPerson needs a Company.
    pub company_required: bool,
    /// Whether a ContactPerson may carry several EmailAddress / TelephoneNumber.
    pub repeated_email_phone: bool,
    /// Whether an AssertionConsumerService may use HTTP-Redirect (else HTTP-POST only).
    pub acs_redirect_allowed: bool,
    /// The `isDefault` rule of the AssertionConsumerServices.
    pub default_acs: DefaultAcs,
    /// At most this many NameIDFormat elements (`None`: no limit).
    pub max_nameid_formats: Option<usize>,
    /// Whether every KeyDescriptor needs `use` (else it may be omitted).
    pub key_use_required: bool,
    /// Whether a SingleLogoutService with the HTTP-Redirect binding is required.
    pub slo_redirect_required: bool,
}

impl Family {
    /// The element named `local`, if the family defines it.
    pub(crate) fn element(&self, local: &str) -> Option<&'static ExtensionElement> {
        self.elements.iter().find(|e| e.local == local)
    }
}

/// SPID (SPID technical rules, Avviso 29 §4, AgID's spid-sp-test).
pub(crate) static SPID: Family = Family {
    id: FamilyId::Spid,
    prefix: "spid",
    ns: SPID_NS,
    main_contact: "other",
    contact_types: &["other", "billing"],
    elements: &[
        element("IPACode", Some(ContactField::IpaCode), 0, false),
        element("VATNumber", Some(ContactField::VatNumber), 1, false),
        element("FiscalCode", Some(ContactField::FiscalCode), 2, false),
        marker("Public", 3),
        marker("Private", 3),
        marker("PublicServicesFullAggregator", 3),
        marker("PublicServicesLightAggregator", 3),
        marker("PrivateServicesFullAggregator", 3),
        marker("PrivateServicesLightAggregator", 3),
        marker("PublicServicesFullOperator", 3),
        marker("PublicServicesLightOperator", 3),
        marker("PublicOperator", 3),
        element(VALIDATION_KEY_ELEMENT, None, 4, false),
    ],
    company_required: false,
    repeated_email_phone: false,
    acs_redirect_allowed: false,
    default_acs: DefaultAcs::ExactlyOneAtIndexZero,
    max_nameid_formats: None,
    key_use_required: false,
    slo_redirect_required: false,
};

/// CIE ID (the CIE federation manual).
pub(crate) static CIE: Family = Family {
    id: FamilyId::Cie,
    prefix: "cie",
    ns: CIE_NS,
    main_contact: "administrative",
    contact_types: &["administrative", "technical"],
    elements: &[
        marker("Public", 0),
        marker("Private", 0),
        element("IPACode", Some(ContactField::IpaCode), 0, false),
        element("IPACategory", Some(ContactField::IpaCategory), 0, false),
        element("FiscalCode", Some(ContactField::FiscalCode), 0, false),
        element("VATNumber", Some(ContactField::VatNumber), 0, false),
        element("NACE2Code", Some(ContactField::Nace2Codes), 0, true),
        element("Municipality", Some(ContactField::Municipality), 0, false),
        element("Province", Some(ContactField::Province), 0, false),
        element("Country", None, 0, false),
    ],
    company_required: true,
    repeated_email_phone: true,
    acs_redirect_allowed: true,
    default_acs: DefaultAcs::AtMostOne,
    max_nameid_formats: Some(1),
    key_use_required: true,
    slo_redirect_required: true,
};

/// Contact extensions of which at least one must be present.
#[derive(Debug)]
pub(crate) struct Requirement {
    /// Local names; one of them is enough.
    pub any_of: &'static [&'static str],
    /// Also required in a CIE `technical` contact (the SP's own contact always needs it).
    pub technical_too: bool,
    /// The checker's problem code when none is present.
    pub code: &'static str,
    /// The checker's message.
    pub problem: &'static str,
    /// The writer's [`super::MetadataBuildError::Missing`] text.
    pub missing: &'static str,
}

/// A contact extension the profile forbids.
#[derive(Debug)]
pub(crate) struct Forbidden {
    /// Local name.
    pub local: &'static str,
    /// The checker's problem code.
    pub code: &'static str,
    /// The checker's message.
    pub problem: &'static str,
}

/// The `billing` ContactPerson (`fpa:CessionarioCommittente`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BillingContact {
    /// Exactly one (private SPID SPs: AgID invoices them).
    Required,
    /// None (public SPID SPs).
    Forbidden,
    /// Not a contact type of the family (CIE).
    NotApplicable,
}

/// An AttributeConsumingService whose index the federation reserves.
#[derive(Debug)]
pub(crate) struct ReservedService {
    /// The index.
    pub index: u16,
    /// The `ServiceName` the writer gives it when the configuration lacks it.
    pub name: &'static str,
    /// The attributes the writer requests when the configuration lacks it.
    pub defaults: &'static [&'static str],
    /// The attributes allowed in it.
    pub allowed: &'static [&'static str],
    /// Which set it is (for messages: `minimum`, `full`).
    pub set: &'static str,
    /// Why another attribute is refused (checker message).
    pub refusal: &'static str,
}

/// Everything that differs between two profiles.
#[derive(Debug)]
pub(crate) struct ProfileRules {
    /// SPID or CIE.
    pub family: &'static Family,
    /// The empty marker the SP's contact carries (`Public` or `Private`).
    pub sector_marker: &'static str,
    /// The marker that contradicts the profile.
    pub other_marker: &'static str,
    /// The SP contact's extension elements, in document order: what the writer writes
    /// (each when the contact has a value).
    pub contact_extensions: &'static [&'static str],
    /// The extensions the SP's contact must carry (the checker reports them in this
    /// order; the writer checks each at its place in `contact_extensions`).
    pub requirements: &'static [Requirement],
    /// The extensions the SP's contact must not carry.
    pub forbidden: &'static [Forbidden],
    /// The billing contact.
    pub billing: BillingContact,
    /// The reserved AttributeConsumingServices: required, added by the writer when
    /// missing, each with its own attribute set.
    pub reserved_services: &'static [ReservedService],
    /// The attributes allowed in any other AttributeConsumingService.
    pub attributes: &'static [&'static str],
    /// Why another attribute is refused (checker message).
    pub attribute_refusal: &'static str,
    /// The aggregator rules (Avviso SPID n.19 v4), for the six aggregator profiles.
    pub aggregator: Option<&'static AggregatorRules>,
}

/// `spid:KeyDescriptor use="spid:validation"`: the local name in the aggregator contact.
pub(crate) const VALIDATION_KEY_ELEMENT: &str = "KeyDescriptor";
/// Its `use` attribute value.
pub(crate) const VALIDATION_KEY_USE: &str = "spid:validation";
/// `spid:entityType` of the aggregator's ContactPerson.
pub(crate) const ENTITY_TYPE_AGGREGATOR: &str = "spid:aggregator";
/// `spid:entityType` of the aggregated entity's ContactPerson.
pub(crate) const ENTITY_TYPE_AGGREGATED: &str = "spid:aggregated";

/// The sector markers of the SPID contact extensions that only aggregator contacts carry
/// (plus `PublicOperator`, which the schema defines and no profile uses).
pub(crate) const AGGREGATOR_MARKERS: [&str; 7] = [
    "PublicServicesFullAggregator",
    "PublicServicesLightAggregator",
    "PrivateServicesFullAggregator",
    "PrivateServicesLightAggregator",
    "PublicServicesFullOperator",
    "PublicServicesLightOperator",
    "PublicOperator",
];

/// What an aggregator profile adds (Avviso SPID n.19 v4 and AgID's spid-sp-test
/// profiles): a second `other` ContactPerson for the aggregator, told apart by
/// `spid:entityType`, its type element, the activity code in the entityID and, for the
/// "lite" variants, the aggregator's validation key. The aggregated entity's contact
/// follows the rest of the [`ProfileRules`] (sector marker, requirements, billing).
#[derive(Debug)]
pub(crate) struct AggregatorRules {
    /// Which variant.
    pub kind: AggregatorKind,
    /// The aggregator contact's empty type element (`PublicServicesFullAggregator`, ...).
    pub type_element: &'static str,
    /// The activity code the entityID contains (`pub-ag-full`, ...).
    pub activity_code: &'static str,
    /// "Lite": the aggregator contact carries `spid:KeyDescriptor use="spid:validation"`
    /// (and a "full" one must not).
    pub validation_key: bool,
    /// Whether the metadata has the aggregated entity's contact (every variant but
    /// `pub-op-full`, where the operator is the organization itself).
    pub aggregated_contact: bool,
    /// Whether the aggregator contact's Company must equal the OrganizationName (the
    /// operators: the organization is the operator itself; the aggregated entity of
    /// `pub-op-lite` is identified by its IPA code, its Company is not compared).
    pub aggregator_company_is_organization: bool,
    /// The identifiers the aggregator contact needs: each entry is "one of these".
    pub aggregator_identifiers: &'static [Requirement],
}

const AGGREGATOR_VAT_OR_FC: Requirement = Requirement {
    any_of: &["VATNumber", "FiscalCode"],
    technical_too: false,
    code: "aggregator-identifier-missing",
    problem: "the aggregator contact needs spid:VATNumber or spid:FiscalCode",
    missing: "aggregator vat number or fiscal code",
};
const OPERATOR_VAT: Requirement = Requirement {
    any_of: &["VATNumber"],
    technical_too: false,
    code: "aggregator-vat-number-missing",
    problem: "an operator's aggregator contact needs spid:VATNumber",
    missing: "aggregator vat number (required for an operator)",
};
const OPERATOR_FC: Requirement = Requirement {
    any_of: &["FiscalCode"],
    technical_too: false,
    code: "aggregator-fiscal-code-missing",
    problem: "an operator's aggregator contact needs spid:FiscalCode",
    missing: "aggregator fiscal code (required for an operator)",
};

const fn aggregator_rules(kind: AggregatorKind) -> AggregatorRules {
    let operator = matches!(
        kind,
        AggregatorKind::OperatorPublicFull | AggregatorKind::OperatorPublicLite
    );
    AggregatorRules {
        kind,
        type_element: kind.type_element(),
        activity_code: kind.activity_code(),
        validation_key: kind.is_lite(),
        aggregated_contact: !matches!(kind, AggregatorKind::OperatorPublicFull),
        aggregator_company_is_organization: operator,
        aggregator_identifiers: if operator {
            &[OPERATOR_VAT, OPERATOR_FC]
        } else {
            &[AGGREGATOR_VAT_OR_FC]
        },
    }
}

static AG_PUBLIC_FULL: AggregatorRules = aggregator_rules(AggregatorKind::PublicFull);
static AG_PUBLIC_LITE: AggregatorRules = aggregator_rules(AggregatorKind::PublicLite);
static AG_PRIVATE_FULL: AggregatorRules = aggregator_rules(AggregatorKind::PrivateFull);
static AG_PRIVATE_LITE: AggregatorRules = aggregator_rules(AggregatorKind::PrivateLite);
static OP_PUBLIC_FULL: AggregatorRules = aggregator_rules(AggregatorKind::OperatorPublicFull);
static OP_PUBLIC_LITE: AggregatorRules = aggregator_rules(AggregatorKind::OperatorPublicLite);

impl ProfileRules {
    /// The attributes allowed in the AttributeConsumingService `index`.
    pub(crate) fn allowed_attributes(&self, index: u16) -> &'static [&'static str] {
        self.reserved(index).map_or(self.attributes, |s| s.allowed)
    }

    /// Why an attribute outside [`ProfileRules::allowed_attributes`] is refused.
    pub(crate) fn attribute_refusal(&self, index: Option<u16>) -> &'static str {
        index
            .and_then(|i| self.reserved(i))
            .map_or(self.attribute_refusal, |s| s.refusal)
    }

    fn reserved(&self, index: u16) -> Option<&'static ReservedService> {
        self.reserved_services.iter().find(|s| s.index == index)
    }
}

const SPID_ATTRIBUTES_REFUSAL: &str = "not a spid attribute name";
const CIE_ATTRIBUTES_REFUSAL: &str =
    "cie releases only name, familyName, dateOfBirth and fiscalNumber";

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

const SPID_IPA_CODE: Requirement = Requirement {
    any_of: &["IPACode"],
    technical_too: false,
    code: "ipa-code-missing",
    problem: "a public sp needs spid:IPACode in its contact",
    missing: "contact ipa code (required for a public sp)",
};

const CIE_MUNICIPALITY: Requirement = Requirement {
    any_of: &["Municipality"],
    technical_too: true,
    code: "cie-municipality-missing",
    problem: "the contact Extensions need cie:Municipality",
    missing: "contact municipality (cadastral code, required by cie)",
};

static SPID_PUBLIC: ProfileRules = ProfileRules {
    family: &SPID,
    sector_marker: "Public",
    other_marker: "Private",
    contact_extensions: &["IPACode", "VATNumber", "FiscalCode", "Public"],
    requirements: &[SPID_IPA_CODE],
    forbidden: &[],
    billing: BillingContact::Forbidden,
    reserved_services: &[],
    attributes: &SPID_ATTRIBUTE_NAMES,
    attribute_refusal: SPID_ATTRIBUTES_REFUSAL,
    aggregator: None,
};

static SPID_PRIVATE: ProfileRules = ProfileRules {
    family: &SPID,
    sector_marker: "Private",
    other_marker: "Public",
    contact_extensions: &["VATNumber", "FiscalCode", "Private"],
    requirements: &[Requirement {
        any_of: &["VATNumber", "FiscalCode"],
        technical_too: false,
        code: "vat-or-fiscal-code-missing",
        problem: "a private sp needs spid:VATNumber or spid:FiscalCode in its contact",
        missing: "contact vat number or fiscal code (required for a private sp)",
    }],
    forbidden: &[Forbidden {
        local: "IPACode",
        code: "ipa-code-forbidden",
        problem: "a private sp must not carry spid:IPACode",
    }],
    billing: BillingContact::Required,
    reserved_services: &[],
    attributes: &SPID_ATTRIBUTE_NAMES,
    attribute_refusal: SPID_ATTRIBUTES_REFUSAL,
    aggregator: None,
};

/// A public SPID SP with the two reserved eIDAS services.
static EIDAS: ProfileRules = ProfileRules {
    reserved_services: &[
        ReservedService {
            index: EIDAS_MINIMUM_INDEX,
            name: EIDAS_MINIMUM_SERVICE_NAME,
            defaults: &EIDAS_MINIMUM_ATTRIBUTES,
            allowed: &EIDAS_MINIMUM_ALLOWED,
            set: "minimum",
            refusal: "not in the eidas minimum attribute set",
        },
        ReservedService {
            index: EIDAS_FULL_INDEX,
            name: EIDAS_FULL_SERVICE_NAME,
            defaults: &EIDAS_FULL_ATTRIBUTES,
            allowed: &EIDAS_FULL_ALLOWED,
            set: "full",
            refusal: "not in the eidas full attribute set",
        },
    ],
    ..SPID_PUBLIC
};

static CIE_PUBLIC: ProfileRules = ProfileRules {
    family: &CIE,
    sector_marker: "Public",
    other_marker: "Private",
    contact_extensions: &[
        "Public",
        "IPACode",
        "IPACategory",
        "Municipality",
        "Province",
    ],
    requirements: &[
        CIE_MUNICIPALITY,
        Requirement {
            any_of: &["IPACode"],
            technical_too: false,
            code: "cie-ipa-code-missing",
            problem: "the contact Extensions need cie:IPACode",
            missing: "contact ipa code (required for a public sp)",
        },
    ],
    forbidden: &[],
    billing: BillingContact::NotApplicable,
    reserved_services: &[],
    attributes: &CIE_ATTRIBUTE_NAMES,
    attribute_refusal: CIE_ATTRIBUTES_REFUSAL,
    aggregator: None,
};

static CIE_PRIVATE: ProfileRules = ProfileRules {
    family: &CIE,
    sector_marker: "Private",
    other_marker: "Public",
    contact_extensions: &[
        "Private",
        "VATNumber",
        "FiscalCode",
        "NACE2Code",
        "Municipality",
        "Province",
    ],
    requirements: &[
        CIE_MUNICIPALITY,
        Requirement {
            any_of: &["VATNumber"],
            technical_too: true,
            code: "cie-vat-number-missing",
            problem: "the contact Extensions need cie:VATNumber",
            missing: "contact vat number (required for a private cie sp)",
        },
        Requirement {
            any_of: &["FiscalCode"],
            technical_too: true,
            code: "cie-fiscal-code-missing",
            problem: "the contact Extensions need cie:FiscalCode",
            missing: "contact fiscal code (required for a private cie sp)",
        },
        Requirement {
            any_of: &["NACE2Code"],
            technical_too: true,
            code: "cie-nace2-code-missing",
            problem: "the contact Extensions need cie:NACE2Code",
            missing: "contact nace2 codes (required for a private cie sp)",
        },
    ],
    forbidden: &[],
    billing: BillingContact::NotApplicable,
    reserved_services: &[],
    attributes: &CIE_ATTRIBUTE_NAMES,
    attribute_refusal: CIE_ATTRIBUTES_REFUSAL,
    aggregator: None,
};

/// A public aggregated entity (a public administration): `spid:Public`, `spid:IPACode`.
static AGGREGATED_PUBLIC: ProfileRules = ProfileRules {
    contact_extensions: &["IPACode", "Public"],
    ..SPID_PUBLIC
};

static PUB_AG_FULL: ProfileRules = ProfileRules {
    aggregator: Some(&AG_PUBLIC_FULL),
    ..AGGREGATED_PUBLIC
};
static PUB_AG_LITE: ProfileRules = ProfileRules {
    aggregator: Some(&AG_PUBLIC_LITE),
    ..AGGREGATED_PUBLIC
};
static PRI_AG_FULL: ProfileRules = ProfileRules {
    aggregator: Some(&AG_PRIVATE_FULL),
    ..SPID_PRIVATE
};
static PRI_AG_LITE: ProfileRules = ProfileRules {
    aggregator: Some(&AG_PRIVATE_LITE),
    ..SPID_PRIVATE
};
/// The operator is the organization: no aggregated contact, so no requirement on it.
static PUB_OP_FULL: ProfileRules = ProfileRules {
    requirements: &[],
    aggregator: Some(&OP_PUBLIC_FULL),
    ..AGGREGATED_PUBLIC
};
static PUB_OP_LITE: ProfileRules = ProfileRules {
    aggregator: Some(&OP_PUBLIC_LITE),
    ..AGGREGATED_PUBLIC
};

impl SpProfile {
    /// The rules of this profile.
    pub(crate) fn rules(self) -> &'static ProfileRules {
        match self {
            SpProfile::SpidPublic => &SPID_PUBLIC,
            SpProfile::SpidPrivate => &SPID_PRIVATE,
            SpProfile::CiePublic => &CIE_PUBLIC,
            SpProfile::CiePrivate => &CIE_PRIVATE,
            SpProfile::Eidas => &EIDAS,
            SpProfile::Aggregated(kind) => match kind {
                AggregatorKind::PublicFull => &PUB_AG_FULL,
                AggregatorKind::PublicLite => &PUB_AG_LITE,
                AggregatorKind::PrivateFull => &PRI_AG_FULL,
                AggregatorKind::PrivateLite => &PRI_AG_LITE,
                AggregatorKind::OperatorPublicFull => &PUB_OP_FULL,
                AggregatorKind::OperatorPublicLite => &PUB_OP_LITE,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table is consistent: what a profile writes is defined by its family, in schema
    /// order; what it requires it writes; what it forbids it does not write.
    #[test]
    fn every_profile_is_consistent() {
        let every = SpProfile::ALL
            .into_iter()
            .chain(AggregatorKind::ALL.map(SpProfile::Aggregated));
        for profile in every {
            let r = profile.rules();
            if let Some(ag) = r.aggregator {
                assert_eq!(SpProfile::Aggregated(ag.kind), profile);
                assert!(r.family.element(ag.type_element).is_some_and(|e| e.marker));
                assert!(AGGREGATOR_MARKERS.contains(&ag.type_element));
                assert_eq!(ag.validation_key, ag.activity_code.ends_with("-lite"));
            }
            assert_eq!(r.family.main_contact, r.family.contact_types[0]);
            assert_eq!(profile.is_cie(), r.family.id == FamilyId::Cie, "{profile}");
            assert_eq!(
                r.sector_marker,
                if profile.is_public() {
                    "Public"
                } else {
                    "Private"
                }
            );
            assert!(r.family.element(r.sector_marker).is_some_and(|e| e.marker));
            assert!(r.family.element(r.other_marker).is_some_and(|e| e.marker));
            let mut last = 0;
            for local in r.contact_extensions {
                assert!(!AGGREGATOR_MARKERS.contains(local), "{profile}");
                let e = r.family.element(local).expect(local);
                assert!(e.rank >= last, "{profile}: {local} out of order");
                last = e.rank;
                assert!(e.field.is_some() || (e.marker && *local == r.sector_marker));
            }
            assert!(r.contact_extensions.contains(&r.sector_marker));
            assert!(!r.contact_extensions.contains(&r.other_marker));
            for req in r.requirements {
                for local in req.any_of {
                    assert!(r.contact_extensions.contains(local), "{profile}: {local}");
                }
            }
            for f in r.forbidden {
                assert!(r.family.element(f.local).is_some());
                assert!(!r.contact_extensions.contains(&f.local), "{profile}");
            }
            for s in r.reserved_services {
                for a in s.defaults {
                    assert!(s.allowed.contains(a), "{profile}: {a}");
                }
            }
        }
    }
}
