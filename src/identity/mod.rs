//! Who logged in: the [`Identity`] built from SPID/CIE/eIDAS attributes or from a CNS
//! smart-card certificate, and the [`IdentityKey`] portals key permissions on.
//!
//! The key is the codice fiscale whenever there is one (SPID, CIE, CNS all yield the same
//! bare code), otherwise — for a login through the Italian eIDAS node only — the eIDAS
//! person identifier that the node sends in `spidCode` (`CC/IT/<id>`). An eIDAS identifier
//! is never turned into a codice fiscale, and a SPID or CIE IdP cannot produce an eIDAS
//! identity (whatever its `spidCode` looks like).

mod attributes;
mod cns;
mod fiscal_code;

use std::fmt;

pub use attributes::*;
pub use cns::CnsError;
pub use fiscal_code::*;

use crate::federation::Federation;
use crate::time::Date;

/// An eIDAS `PersonIdentifier`: `XX/YY/<id>`, XX the issuing country, YY the destination
/// country (`IT` through the Italian node), e.g. `DE/IT/1234abcd`.
///
/// `Debug` shows the two country codes only (the identifier is personal data).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct EidasPersonId {
    id: String,
}

impl fmt::Debug for EidasPersonId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let countries: String = self.id.chars().take(6).collect();
        write!(f, "EidasPersonId({countries}{Redacted:?})")
    }
}

/// What `Debug` prints in place of personal data.
pub(crate) struct Redacted;

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// The text is not an eIDAS person identifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("malformed eIDAS person identifier")]
pub struct EidasIdError;

/// Longest accepted unique part of an eIDAS identifier.
const MAX_EIDAS_ID_LEN: usize = 256;

impl EidasPersonId {
    /// Parses `XX/YY/<id>` (surrounding whitespace trimmed): two upper-case two-letter country
    /// codes, then a non-empty id of at most 256 printable ASCII characters without spaces.
    pub fn parse(s: &str) -> Result<EidasPersonId, EidasIdError> {
        let s = s.trim();
        let mut parts = s.splitn(3, '/');
        let is_country = |c: &str| c.len() == 2 && c.bytes().all(|b| b.is_ascii_uppercase());
        let (Some(from), Some(to), Some(id)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(EidasIdError);
        };
        let id_ok = !id.is_empty()
            && id.len() <= MAX_EIDAS_ID_LEN
            && id.bytes().all(|b| b.is_ascii_graphic());
        if is_country(from) && is_country(to) && id_ok {
            Ok(EidasPersonId { id: s.to_owned() })
        } else {
            Err(EidasIdError)
        }
    }

    /// The country that issued the identifier (`XX`).
    pub fn issuing_country(&self) -> &str {
        self.id.get(..2).unwrap_or_default()
    }

    /// The country the identifier was issued for (`YY`).
    pub fn destination_country(&self) -> &str {
        self.id.get(3..5).unwrap_or_default()
    }

    /// The whole identifier, as received.
    pub fn as_str(&self) -> &str {
        &self.id
    }
}

impl fmt::Display for EidasPersonId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.id)
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for EidasPersonId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.id)
    }
}

/// Deserialises with [`EidasPersonId::parse`].
#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for EidasPersonId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <String as serde::Deserialize>::deserialize(d)?;
        EidasPersonId::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// The one value portals key accounts and permissions on.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum IdentityKey {
    /// A codice fiscale (SPID, CIE, CNS). It may have failed strict validation when it came
    /// from an IdP: see [`FiscalCode::check`].
    FiscalCode(FiscalCode),
    /// An eIDAS person identifier (foreign users via the Italian eIDAS node).
    Eidas(EidasPersonId),
}

impl IdentityKey {
    /// The key as text, what [`Display`](fmt::Display) prints: the bare codice fiscale (no
    /// `TINIT-`) or the eIDAS identifier as received. The value to store an account under.
    pub fn as_str(&self) -> &str {
        match self {
            IdentityKey::FiscalCode(cf) => cf.as_str(),
            IdentityKey::Eidas(id) => id.as_str(),
        }
    }
}

/// Displays the bare codice fiscale (no `TINIT-`) or the eIDAS identifier as received.
impl fmt::Display for IdentityKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdentityKey::FiscalCode(cf) => cf.fmt(f),
            IdentityKey::Eidas(id) => id.fmt(f),
        }
    }
}

/// Where an [`Identity`] came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum IdentitySource {
    /// SAML attributes (SPID, CIE ID, eIDAS through the Italian node).
    Saml,
    /// A CNS / TS-CNS smart-card client certificate.
    Cns,
    /// OpenID Connect claims (CIE ID or SPID over the OIDC Federation, feature `oidc`).
    Oidc,
}

/// A logged-in person (or a person acting for a legal person): typed SPID attributes plus the
/// raw set. Values are trimmed; empty values count as absent.
///
/// `Debug` is redacted: the kind of key, the source and the attribute names, no values.
#[derive(Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Identity {
    key: Option<IdentityKey>,
    source: IdentitySource,
    name: Option<String>,
    family_name: Option<String>,
    date_of_birth: Option<Date>,
    gender: Option<Gender>,
    place_of_birth: Option<String>,
    county_of_birth: Option<String>,
    email: Option<String>,
    mobile_phone: Option<String>,
    digital_address: Option<String>,
    spid_code: Option<String>,
    vat_number: Option<VatNumber>,
    company_name: Option<String>,
    company_fiscal_number: Option<FiscalCode>,
    registered_office: Option<String>,
    address: Option<String>,
    expiration_date: Option<Date>,
    id_card: Option<IdCard>,
    domicile: Option<Domicile>,
    attributes: Attributes,
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let key = match &self.key {
            Some(IdentityKey::FiscalCode(_)) => "fiscal-code",
            Some(IdentityKey::Eidas(_)) => "eidas",
            None => "none",
        };
        f.debug_struct("Identity")
            .field("key", &key)
            .field("source", &self.source)
            .field("attributes", &self.attributes)
            .finish_non_exhaustive()
    }
}

impl Identity {
    /// Builds the identity from the attribute set an IdP of `federation` sent; never fails,
    /// malformed values become `None` (or are kept flagged, for codes: see
    /// [`FiscalCode::from_idp`]).
    ///
    /// Key: `fiscalNumber` whenever that attribute is present, even if it fails strict
    /// validation (if it is not even code-shaped there is no key). Otherwise, only for
    /// [`Federation::Eidas`] (the Italian eIDAS node), the eIDAS identifier in `spidCode`
    /// when it has the `XX/YY/<id>` shape. Otherwise none: a SPID or CIE IdP yields a
    /// fiscal-code key or no key, never an eIDAS one.
    pub fn from_attributes(attrs: Attributes, federation: Federation) -> Identity {
        // Values only parsed are read borrowed (no copy made just to be parsed).
        let raw = |name: &str| attrs.get(name).map(str::trim).filter(|v| !v.is_empty());
        let text = |name: &str| raw(name).map(str::to_owned);
        let date = |name: &str| raw(name).and_then(|v| Date::parse(v).ok());
        let spid_code = text("spidCode");
        let key = match (raw("fiscalNumber"), federation) {
            (Some(cf), _) => FiscalCode::from_idp(cf).map(IdentityKey::FiscalCode),
            (None, Federation::Eidas) => spid_code
                .as_deref()
                .and_then(|s| EidasPersonId::parse(s).ok())
                .map(IdentityKey::Eidas),
            (None, Federation::Spid | Federation::Cie) => None,
        };
        let domicile = Domicile {
            street_address: text("domicileStreetAddress"),
            postal_code: text("domicilePostalCode"),
            municipality: text("domicileMunicipality"),
            province: text("domicileProvince"),
            nation: text("domicileNation"),
        };
        Identity {
            key,
            source: IdentitySource::Saml,
            name: text("name"),
            family_name: text("familyName"),
            date_of_birth: date("dateOfBirth"),
            gender: raw("gender").and_then(Gender::parse),
            place_of_birth: text("placeOfBirth"),
            county_of_birth: text("countyOfBirth"),
            email: text("email"),
            mobile_phone: text("mobilePhone"),
            digital_address: text("digitalAddress"),
            spid_code,
            vat_number: raw("ivaCode").and_then(VatNumber::from_idp),
            company_name: text("companyName"),
            company_fiscal_number: raw("companyFiscalNumber").and_then(FiscalCode::from_idp),
            registered_office: text("registeredOffice"),
            address: text("address"),
            expiration_date: date("expirationDate"),
            id_card: raw("idCard").and_then(IdCard::parse),
            domicile: (!domicile.is_empty()).then_some(domicile),
            attributes: attrs,
        }
    }

    /// The same identity, recorded as coming from `source` (the OIDC relying party maps
    /// its claims to the attribute names, then marks the source).
    #[cfg_attr(not(feature = "oidc"), allow(dead_code))]
    pub(crate) fn with_source(mut self, source: IdentitySource) -> Identity {
        self.source = source;
        self
    }

    /// An identity with nothing but its source (the starting point of other constructors).
    fn empty(source: IdentitySource) -> Identity {
        Identity {
            key: None,
            source,
            name: None,
            family_name: None,
            date_of_birth: None,
            gender: None,
            place_of_birth: None,
            county_of_birth: None,
            email: None,
            mobile_phone: None,
            digital_address: None,
            spid_code: None,
            vat_number: None,
            company_name: None,
            company_fiscal_number: None,
            registered_office: None,
            address: None,
            expiration_date: None,
            id_card: None,
            domicile: None,
            attributes: Attributes::new(),
        }
    }

    /// The key to look the account up by; `None` when the IdP sent neither a usable
    /// `fiscalNumber` nor an eIDAS `spidCode` (request those attributes).
    pub fn key(&self) -> Option<&IdentityKey> {
        self.key.as_ref()
    }

    /// The person's codice fiscale (the key, when it is one).
    pub fn fiscal_code(&self) -> Option<&FiscalCode> {
        match &self.key {
            Some(IdentityKey::FiscalCode(cf)) => Some(cf),
            _ => None,
        }
    }

    /// The eIDAS person identifier (the key, when it is one).
    pub fn eidas_id(&self) -> Option<&EidasPersonId> {
        match &self.key {
            Some(IdentityKey::Eidas(id)) => Some(id),
            _ => None,
        }
    }

    /// `name`: given name(s).
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// `familyName`: surname(s).
    pub fn family_name(&self) -> Option<&str> {
        self.family_name.as_deref()
    }

    /// `dateOfBirth`, if well-formed.
    pub fn date_of_birth(&self) -> Option<Date> {
        self.date_of_birth
    }

    /// `gender`, if `M` or `F`.
    pub fn gender(&self) -> Option<Gender> {
        self.gender
    }

    /// `placeOfBirth`: Belfiore code of the municipality or foreign country (free text for
    /// some eIDAS users).
    pub fn place_of_birth(&self) -> Option<&str> {
        self.place_of_birth.as_deref()
    }

    /// `countyOfBirth`: province abbreviation.
    pub fn county_of_birth(&self) -> Option<&str> {
        self.county_of_birth.as_deref()
    }

    /// `email`.
    pub fn email(&self) -> Option<&str> {
        self.email.as_deref()
    }

    /// `mobilePhone`.
    pub fn mobile_phone(&self) -> Option<&str> {
        self.mobile_phone.as_deref()
    }

    /// `digitalAddress`: PEC address.
    pub fn digital_address(&self) -> Option<&str> {
        self.digital_address.as_deref()
    }

    /// `spidCode`, as sent (the eIDAS identifier for eIDAS users).
    pub fn spid_code(&self) -> Option<&str> {
        self.spid_code.as_deref()
    }

    /// `ivaCode` without `VATIT-` (kept even if it fails validation: see
    /// [`VatNumber::is_valid`]).
    pub fn vat_number(&self) -> Option<&VatNumber> {
        self.vat_number.as_ref()
    }

    /// `companyName`.
    pub fn company_name(&self) -> Option<&str> {
        self.company_name.as_deref()
    }

    /// `companyFiscalNumber` without `TINIT-` (possibly flagged invalid).
    pub fn company_fiscal_number(&self) -> Option<&FiscalCode> {
        self.company_fiscal_number.as_ref()
    }

    /// `registeredOffice`: the legal person's registered office, one string.
    pub fn registered_office(&self) -> Option<&str> {
        self.registered_office.as_deref()
    }

    /// `address`: the physical domicile as one string (superseded by [`domicile`](Self::domicile)).
    pub fn address(&self) -> Option<&str> {
        self.address.as_deref()
    }

    /// `expirationDate`: expiry of the digital identity, if well-formed.
    pub fn expiration_date(&self) -> Option<Date> {
        self.expiration_date
    }

    /// `idCard`, parsed leniently.
    pub fn id_card(&self) -> Option<&IdCard> {
        self.id_card.as_ref()
    }

    /// The `domicile*` attributes; `None` when all are absent.
    pub fn domicile(&self) -> Option<&Domicile> {
        self.domicile.as_ref()
    }

    /// Whether this is a legal-person identity: `companyName`, `ivaCode` or
    /// `companyFiscalNumber` present (non-empty).
    pub fn is_legal_person(&self) -> bool {
        ["companyName", "ivaCode", "companyFiscalNumber"]
            .iter()
            .any(|n| self.attributes.get(n).is_some_and(|v| !v.trim().is_empty()))
    }

    /// Where the identity came from.
    pub fn source(&self) -> IdentitySource {
        self.source
    }

    /// The attributes as received (empty for a CNS certificate).
    pub fn attributes(&self) -> &Attributes {
        &self.attributes
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn attrs(pairs: &[(&str, &str)]) -> Attributes {
        pairs
            .iter()
            .map(|(n, v)| (*n, vec![v.to_string()]))
            .collect()
    }

    /// The full SPID set, values as spid-saml-check / spid-sp-test send them (padded here).
    fn full_set() -> Attributes {
        attrs(&[
            ("spidCode", "SPID-002"),
            ("name", " Mario "),
            ("familyName", "Rossi"),
            ("placeOfBirth", "H501"),
            ("countyOfBirth", "RM"),
            ("dateOfBirth", "1980-01-01"),
            ("gender", "M"),
            ("companyName", "Agenzia per l'Italia Digitale"),
            ("companyFiscalNumber", "TINIT-97735020584"),
            ("registeredOffice", "via Listz 21 00144 Roma"),
            ("fiscalNumber", "TINIT-RSSMRA80A01H501U"),
            ("ivaCode", "VATIT-97735020584"),
            (
                "idCard",
                "cartaIdentita AA00000000 comuneRoma 2018-01-01 2028-01-01",
            ),
            ("mobilePhone", "+393331234567"),
            ("email", "mario.rossi@example.org"),
            ("address", "Via Listz 21 00144 Roma RM"),
            ("domicileStreetAddress", "Via Listz 21"),
            ("domicilePostalCode", "00144"),
            ("domicileMunicipality", "Roma"),
            ("domicileProvince", "RM"),
            ("domicileNation", "IT"),
            ("expirationDate", "2030-12-31"),
            ("digitalAddress", "mario.rossi@pec.example.org"),
        ])
    }

    fn spid(pairs: &[(&str, &str)]) -> Identity {
        Identity::from_attributes(attrs(pairs), Federation::Spid)
    }

    #[test]
    fn full_spid_attribute_set() {
        let id = Identity::from_attributes(full_set(), Federation::Spid);
        assert_eq!(id.source(), IdentitySource::Saml);
        assert_eq!(id.attributes().len(), 23);
        assert_eq!(id.attributes().get("name"), Some(" Mario "));
        let cf = id.fiscal_code().unwrap();
        assert_eq!(cf.as_str(), "RSSMRA80A01H501U");
        assert!(cf.is_valid());
        assert_eq!(id.key().unwrap().to_string(), "RSSMRA80A01H501U");
        assert_eq!(id.eidas_id(), None);
        assert_eq!(id.name(), Some("Mario"));
        assert_eq!(id.family_name(), Some("Rossi"));
        assert_eq!(id.place_of_birth(), Some("H501"));
        assert_eq!(id.county_of_birth(), Some("RM"));
        assert_eq!(id.date_of_birth(), Date::new(1980, 1, 1));
        assert_eq!(id.gender(), Some(Gender::Male));
        assert_eq!(id.email(), Some("mario.rossi@example.org"));
        assert_eq!(id.mobile_phone(), Some("+393331234567"));
        assert_eq!(id.digital_address(), Some("mario.rossi@pec.example.org"));
        assert_eq!(id.spid_code(), Some("SPID-002"));
        assert_eq!(id.vat_number().unwrap().as_str(), "97735020584");
        assert_eq!(id.company_name(), Some("Agenzia per l'Italia Digitale"));
        assert_eq!(id.company_fiscal_number().unwrap().as_str(), "97735020584");
        assert_eq!(id.registered_office(), Some("via Listz 21 00144 Roma"));
        assert_eq!(id.address(), Some("Via Listz 21 00144 Roma RM"));
        assert_eq!(id.expiration_date(), Date::new(2030, 12, 31));
        let card = id.id_card().unwrap();
        assert_eq!(
            (card.kind.as_str(), card.number.as_str()),
            ("cartaIdentita", "AA00000000")
        );
        assert_eq!(card.expires, Date::new(2028, 1, 1));
        let dom = id.domicile().unwrap();
        assert_eq!(dom.street_address.as_deref(), Some("Via Listz 21"));
        assert_eq!(dom.postal_code.as_deref(), Some("00144"));
        assert_eq!(dom.municipality.as_deref(), Some("Roma"));
        assert_eq!(dom.province.as_deref(), Some("RM"));
        assert_eq!(dom.nation.as_deref(), Some("IT"));
        assert!(id.is_legal_person());
    }

    #[test]
    fn minimal_natural_person() {
        let id = spid(&[
            ("fiscalNumber", "tinit-lvldaa85t50g702b"),
            ("name", "Ada"),
            ("dateOfBirth", "1985-13-10"),
            ("gender", "X"),
            ("domicileStreetAddress", "  "),
            ("ivaCode", ""),
        ]);
        assert_eq!(id.fiscal_code().unwrap().as_str(), "LVLDAA85T50G702B");
        assert_eq!(id.date_of_birth(), None);
        assert_eq!(id.gender(), None);
        assert_eq!(id.domicile(), None);
        assert_eq!(id.vat_number(), None);
        assert_eq!(id.family_name(), None);
        assert!(!id.is_legal_person());
    }

    #[test]
    fn invalid_fiscal_number_is_still_the_key() {
        let id = Identity::from_attributes(
            attrs(&[
                ("fiscalNumber", "TINIT-CLMCST42R12D969Z"),
                ("spidCode", "DE/IT/1234abcd"),
                ("ivaCode", "13747520544"),
            ]),
            Federation::Eidas,
        );
        let Some(IdentityKey::FiscalCode(cf)) = id.key() else {
            panic!("expected a fiscal-code key");
        };
        assert_eq!(cf.as_str(), "CLMCST42R12D969Z");
        assert_eq!(cf.check(), Err(FiscalCodeError::Checksum));
        assert!(!id.vat_number().unwrap().is_valid());
        assert!(id.is_legal_person());

        // A present but unusable fiscalNumber gives no key (no fallback to spidCode), in
        // any federation.
        for federation in [Federation::Spid, Federation::Cie, Federation::Eidas] {
            let id = Identity::from_attributes(
                attrs(&[
                    ("fiscalNumber", "TINIT-???"),
                    ("spidCode", "DE/IT/1234abcd"),
                ]),
                federation,
            );
            assert_eq!(id.key(), None, "{federation:?}");
        }
    }

    #[test]
    fn eidas_key_from_spid_code() {
        let erika = attrs(&[
            ("spidCode", " DE/IT/1234abcd "),
            ("name", "Erika"),
            ("familyName", "Mustermann"),
            ("dateOfBirth", "1964-08-12"),
        ]);
        let id = Identity::from_attributes(erika.clone(), Federation::Eidas);
        let eidas = id.eidas_id().unwrap();
        assert_eq!(eidas.as_str(), "DE/IT/1234abcd");
        assert_eq!(eidas.issuing_country(), "DE");
        assert_eq!(eidas.destination_country(), "IT");
        assert_eq!(id.fiscal_code(), None);
        assert_eq!(id.key().unwrap().to_string(), "DE/IT/1234abcd");
        assert_eq!(id.spid_code(), Some("DE/IT/1234abcd"));

        let id =
            Identity::from_attributes(attrs(&[("spidCode", "ABCD123456789A")]), Federation::Eidas);
        assert_eq!(id.key(), None);
        assert_eq!(
            Identity::from_attributes(Attributes::new(), Federation::Eidas).key(),
            None
        );

        // The same attributes from a SPID or CIE IdP: an eIDAS-shaped spidCode makes no
        // eIDAS identity (only the eIDAS node vouches for one); the value stays readable.
        for federation in [Federation::Spid, Federation::Cie] {
            let id = Identity::from_attributes(erika.clone(), federation);
            assert_eq!(id.key(), None, "{federation:?}");
            assert_eq!(id.eidas_id(), None);
            assert_eq!(id.spid_code(), Some("DE/IT/1234abcd"));
            assert_eq!(id.name(), Some("Erika"));
        }
    }

    #[test]
    fn fiscal_code_key_in_every_federation() {
        for federation in [Federation::Spid, Federation::Cie, Federation::Eidas] {
            let id = Identity::from_attributes(
                attrs(&[
                    ("fiscalNumber", "TINIT-RSSMRA80A01H501U"),
                    ("spidCode", "DE/IT/1234abcd"),
                ]),
                federation,
            );
            assert_eq!(
                id.fiscal_code().map(FiscalCode::as_str),
                Some("RSSMRA80A01H501U"),
                "{federation:?}"
            );
        }
    }

    #[test]
    fn eidas_id_shapes() {
        for ok in ["ES/AT/02635542Y", "DE/IT/a/b+c=", "SE/IT/x"] {
            assert_eq!(EidasPersonId::parse(ok).unwrap().as_str(), ok);
        }
        let long = format!("DE/IT/{}", "a".repeat(256));
        assert!(EidasPersonId::parse(&long).is_ok());
        let too_long = format!("DE/IT/{}", "a".repeat(257));
        for bad in [
            "",
            "DE/IT/",
            "DE/IT",
            "de/IT/123",
            "DEU/IT/123",
            "D/IT/123",
            "DE/I1/123",
            "DE//123",
            "DE/IT/12 34",
            "DE/IT/12\u{0}",
            "DE/IT/àè",
            "SPID-001",
            too_long.as_str(),
        ] {
            assert_eq!(EidasPersonId::parse(bad), Err(EidasIdError), "{bad:?}");
        }
    }

    #[cfg(feature = "serde")]
    #[test]
    fn key_types_deserialise_from_strings() {
        use serde::de::{value::StrDeserializer, IntoDeserializer};
        use serde::Deserialize;
        let de = |s: &'static str| -> StrDeserializer<'static, serde::de::value::Error> {
            s.into_deserializer()
        };
        let cf = FiscalCode::deserialize(de("CLMCST42R12D969Z")).unwrap();
        assert_eq!(cf.check(), Err(FiscalCodeError::Checksum));
        assert!(FiscalCode::deserialize(de("nonsense")).is_err());
        assert!(VatNumber::deserialize(de("97735020584"))
            .unwrap()
            .is_valid());
        let id = EidasPersonId::deserialize(de("DE/IT/1234abcd")).unwrap();
        assert_eq!(id.issuing_country(), "DE");
        assert!(EidasPersonId::deserialize(de("DE-IT-1")).is_err());
    }
}
