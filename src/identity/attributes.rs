//! SAML attributes as received, and the structured SPID attribute values (`idCard`, the
//! `domicile*` set).

use crate::time::Date;

/// The `Name`s of the SPID attribute set (SPID technical rules; SPT accepts exactly these
/// in `RequestedAttribute`).
pub const SPID_ATTRIBUTE_NAMES: [&str; 23] = [
    "spidCode",
    "name",
    "familyName",
    "placeOfBirth",
    "countyOfBirth",
    "dateOfBirth",
    "gender",
    "companyName",
    "companyFiscalNumber",
    "registeredOffice",
    "fiscalNumber",
    "ivaCode",
    "idCard",
    "mobilePhone",
    "email",
    "address",
    "domicileStreetAddress",
    "domicilePostalCode",
    "domicileMunicipality",
    "domicileProvince",
    "domicileNation",
    "expirationDate",
    "digitalAddress",
];

/// Attributes as received, in order: `(Name, values)` pairs, names being SPID attribute
/// `Name`s (`FriendlyName` is informational and not kept). `Debug` shows the names only.
#[derive(Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Attributes {
    entries: Vec<(String, Vec<String>)>,
}

impl Attributes {
    /// No attributes.
    pub fn new() -> Self {
        Self::default()
    }

    /// No attributes, room for `n` (a SPID Response carries a dozen or so).
    pub(crate) fn with_capacity(n: usize) -> Self {
        Attributes {
            entries: Vec::with_capacity(n),
        }
    }

    /// Appends an attribute with its values (an existing one with the same name is kept).
    pub fn push(&mut self, name: impl Into<String>, values: Vec<String>) {
        self.entries.push((name.into(), values));
    }

    /// The first value of the first attribute called `name`, untrimmed.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values(name).first().map(String::as_str)
    }

    /// All values of the first attribute called `name` (empty when absent).
    pub fn values(&self, name: &str) -> &[String] {
        self.entries
            .iter()
            .find(|(n, _)| n == name)
            .map_or(&[], |(_, v)| v.as_slice())
    }

    /// The attributes in the order received.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.entries.iter().map(|(n, v)| (n.as_str(), v.as_slice()))
    }

    /// Number of attributes.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no attributes.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl<N: Into<String>> FromIterator<(N, Vec<String>)> for Attributes {
    fn from_iter<I: IntoIterator<Item = (N, Vec<String>)>>(iter: I) -> Self {
        let mut attrs = Attributes::new();
        for (name, values) in iter {
            attrs.push(name, values);
        }
        attrs
    }
}

/// The SPID `idCard` attribute: `<type> <number> <issuer> <issue date> <expiry date>`.
/// `Debug` is redacted.
#[derive(Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct IdCard {
    /// Document type, e.g. `cartaIdentita`, `passaporto` (as sent).
    pub kind: String,
    /// Document number.
    pub number: String,
    /// Issuer, e.g. `comuneRoma` (words joined by a space if the IdP split them; may be empty).
    pub issuer: String,
    /// Issue date, if present and well-formed.
    pub issued: Option<Date>,
    /// Expiry date, if present and well-formed.
    pub expires: Option<Date>,
}

impl IdCard {
    /// Lenient parsing: the first two tokens are type and number; of the rest, tokens that are
    /// `YYYY-MM-DD` dates give issue then expiry date, the others form the issuer.
    /// `None` with fewer than two tokens.
    pub fn parse(s: &str) -> Option<IdCard> {
        let mut tokens = s.split_whitespace();
        let kind = tokens.next()?.to_owned();
        let number = tokens.next()?.to_owned();
        let mut issuer = Vec::new();
        let mut dates = Vec::new();
        for token in tokens {
            match Date::parse(token) {
                Ok(date) => dates.push(date),
                Err(_) => issuer.push(token),
            }
        }
        Some(IdCard {
            kind,
            number,
            issuer: issuer.join(" "),
            issued: dates.first().copied(),
            expires: dates.get(1).copied(),
        })
    }
}

/// The physical domicile, from the `domicile*` attributes (Avviso 25). `Debug` is redacted.
#[derive(Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Domicile {
    /// `domicileStreetAddress`: street type, name and number (`Via Listz 21`).
    pub street_address: Option<String>,
    /// `domicilePostalCode`: CAP (`00144`).
    pub postal_code: Option<String>,
    /// `domicileMunicipality` (`Roma`).
    pub municipality: Option<String>,
    /// `domicileProvince` (`RM`).
    pub province: Option<String>,
    /// `domicileNation` (`IT`).
    pub nation: Option<String>,
}

impl Domicile {
    /// Whether every part is absent.
    pub fn is_empty(&self) -> bool {
        *self == Domicile::default()
    }
}

impl std::fmt::Debug for Attributes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attributes")
            .field(
                "names",
                &self.entries.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for IdCard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdCard").finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Domicile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Domicile").finish_non_exhaustive()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn attributes_keep_order_and_first_values() {
        let mut attrs = Attributes::new();
        assert!(attrs.is_empty());
        attrs.push("name", strings(&["Mario", "Ignored"]));
        attrs.push("email", vec![]);
        attrs.push("name", strings(&["Second"]));
        assert_eq!(attrs.len(), 3);
        assert_eq!(attrs.get("name"), Some("Mario"));
        assert_eq!(attrs.values("name"), ["Mario", "Ignored"]);
        assert_eq!(attrs.get("email"), None);
        assert_eq!(attrs.values("missing"), [] as [String; 0]);
        let names: Vec<&str> = attrs.iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["name", "email", "name"]);
    }

    #[test]
    fn id_card_variants() {
        let card =
            IdCard::parse("cartaIdentita AA00000000 comuneRoma 2018-01-01 2028-01-01").unwrap();
        assert_eq!(card.kind, "cartaIdentita");
        assert_eq!(card.number, "AA00000000");
        assert_eq!(card.issuer, "comuneRoma");
        assert_eq!(card.issued, Date::new(2018, 1, 1));
        assert_eq!(card.expires, Date::new(2028, 1, 1));

        let card =
            IdCard::parse("  CartaIdentità  AA00000000 Comune di Roma 2018-01-01 bad").unwrap();
        assert_eq!(card.kind, "CartaIdentità");
        assert_eq!(card.issuer, "Comune di Roma bad");
        assert_eq!(card.issued, Date::new(2018, 1, 1));
        assert_eq!(card.expires, None);

        let card = IdCard::parse("passaporto YA1234567").unwrap();
        assert_eq!(card.issuer, "");
        assert_eq!((card.issued, card.expires), (None, None));

        assert_eq!(IdCard::parse("passaporto"), None);
        assert_eq!(IdCard::parse("   "), None);
    }

    #[test]
    fn domicile_emptiness() {
        assert!(Domicile::default().is_empty());
        let d = Domicile {
            nation: Some("IT".into()),
            ..Domicile::default()
        };
        assert!(!d.is_empty());
    }

    #[test]
    fn attribute_names_are_unique() {
        let mut names = SPID_ATTRIBUTE_NAMES.to_vec();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), SPID_ATTRIBUTE_NAMES.len());
    }
}
