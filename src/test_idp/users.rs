//! The test IdP's users: made-up people with complete SPID attribute sets.

use crate::authn_request::Purpose;

/// The identity types of SPID's Avviso 18 v2 (what `spid:Purpose` admits).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IdentityType {
    /// 1: a natural person.
    NaturalPerson,
    /// 2: a legal person.
    LegalPerson,
    /// 3: a natural person for professional use.
    Professional,
    /// 4: professional use for a legal person.
    LegalPersonProfessional,
}

impl IdentityType {
    /// Whether a request with this `spid:Purpose` (or none) admits the type (the table
    /// of the SPID SAML profile: absent → 1, 3; `P` → 3, 4; `LP` → 2, 4; `PG` → 4;
    /// `PF` → 3; `PX` → 2, 3, 4). A mismatch is answered with `ErrorCode nr30`.
    pub fn admitted_by(self, purpose: Option<Purpose>) -> bool {
        use IdentityType as T;
        match purpose {
            None => matches!(self, T::NaturalPerson | T::Professional),
            Some(Purpose::Professional) => {
                matches!(self, T::Professional | T::LegalPersonProfessional)
            }
            Some(Purpose::LegalPerson) => {
                matches!(self, T::LegalPerson | T::LegalPersonProfessional)
            }
            Some(Purpose::LegalPersonProfessional) => matches!(self, T::LegalPersonProfessional),
            Some(Purpose::NaturalPersonProfessional) => matches!(self, T::Professional),
            Some(Purpose::AnyProfessional) => !matches!(self, T::NaturalPerson),
        }
    }

    /// A short Italian label.
    pub fn label(self) -> &'static str {
        match self {
            IdentityType::NaturalPerson => "persona fisica",
            IdentityType::LegalPerson => "persona giuridica",
            IdentityType::Professional => "persona fisica per uso professionale",
            IdentityType::LegalPersonProfessional => "uso professionale per persona giuridica",
        }
    }
}

/// A made-up user of the test IdP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TestUser {
    /// A short stable identifier (`citizen`, `professional`, `company`, `eidas`).
    pub id: &'static str,
    /// What the tester sees.
    pub label: &'static str,
    /// The identity type (checked against the request's `spid:Purpose`).
    pub identity_type: IdentityType,
    /// Every attribute the IdP holds, SPID names and SPID value formats; a Response
    /// carries the requested ones.
    pub attributes: &'static [(&'static str, &'static str)],
}

impl TestUser {
    /// The value of one attribute, if the user has it.
    pub fn attribute(&self, name: &str) -> Option<&'static str> {
        self.attributes
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| *v)
    }

    /// A user by [`TestUser::id`].
    pub fn by_id(id: &str) -> Option<&'static TestUser> {
        TEST_USERS.iter().find(|u| u.id == id)
    }
}

/// The users every test IdP knows (all data made up; the codes are well formed).
pub const TEST_USERS: [TestUser; 4] = [
    TestUser {
        id: "citizen",
        label: "Mario Rossi — cittadino",
        identity_type: IdentityType::NaturalPerson,
        attributes: &[
            ("spidCode", "TIDP0000000001"),
            ("fiscalNumber", "TINIT-RSSMRA80A01H501U"),
            ("name", "Mario"),
            ("familyName", "Rossi"),
            ("gender", "M"),
            ("dateOfBirth", "1980-01-01"),
            ("placeOfBirth", "H501"),
            ("countyOfBirth", "RM"),
            ("email", "mario.rossi@example.it"),
            ("mobilePhone", "+393331234567"),
            ("digitalAddress", "mario.rossi@pec.example.it"),
            ("address", "Via Roma 1 00100 Roma RM"),
            (
                "idCard",
                "cartaIdentita CA00000AA ComuneRoma 2021-01-01 2031-01-01",
            ),
            ("expirationDate", "2031-01-01"),
            ("domicileStreetAddress", "Via Roma 1"),
            ("domicilePostalCode", "00100"),
            ("domicileMunicipality", "Roma"),
            ("domicileProvince", "RM"),
            ("domicileNation", "IT"),
        ],
    },
    TestUser {
        id: "professional",
        label: "Laura Bianchi — professionista (spid:Purpose P, PF, PX)",
        identity_type: IdentityType::Professional,
        attributes: &[
            ("spidCode", "TIDP0000000002"),
            ("fiscalNumber", "TINIT-BNCLRA85M41F205C"),
            ("name", "Laura"),
            ("familyName", "Bianchi"),
            ("gender", "F"),
            ("dateOfBirth", "1985-08-01"),
            ("placeOfBirth", "F205"),
            ("countyOfBirth", "MI"),
            ("email", "studio.bianchi@example.it"),
            ("mobilePhone", "+393471234567"),
            ("digitalAddress", "laura.bianchi@pec.example.it"),
            ("ivaCode", "VATIT-01234567897"),
            ("address", "Corso Magenta 10 20123 Milano MI"),
            ("expirationDate", "2030-06-30"),
            ("domicileStreetAddress", "Corso Magenta 10"),
            ("domicilePostalCode", "20123"),
            ("domicileMunicipality", "Milano"),
            ("domicileProvince", "MI"),
            ("domicileNation", "IT"),
        ],
    },
    TestUser {
        id: "company",
        label: "Giuseppe Verdi per Esempio S.r.l. — persona giuridica (spid:Purpose P, LP, PG, PX)",
        identity_type: IdentityType::LegalPersonProfessional,
        attributes: &[
            ("spidCode", "TIDP0000000003"),
            ("fiscalNumber", "TINIT-VRDGPP70C15L219C"),
            ("name", "Giuseppe"),
            ("familyName", "Verdi"),
            ("gender", "M"),
            ("dateOfBirth", "1970-03-15"),
            ("placeOfBirth", "L219"),
            ("countyOfBirth", "TO"),
            ("email", "amministrazione@esempio.example.it"),
            ("digitalAddress", "esempio.srl@pec.example.it"),
            ("companyName", "Esempio S.r.l."),
            ("companyFiscalNumber", "TINIT-07654321988"),
            ("ivaCode", "VATIT-07654321988"),
            ("registeredOffice", "Via Po 5 10124 Torino TO"),
            ("expirationDate", "2029-12-31"),
        ],
    },
    TestUser {
        id: "eidas",
        label: "Erika Mustermann — utente eIDAS (DE), senza codice fiscale",
        identity_type: IdentityType::NaturalPerson,
        attributes: &[
            ("spidCode", "DE/IT/a1b2c3d4e5f6"),
            ("name", "Erika"),
            ("familyName", "Mustermann"),
            ("dateOfBirth", "1964-08-12"),
            ("placeOfBirth", "Berlin"),
            ("gender", "F"),
            ("address", "Heidestrasse 17 51147 Koeln DE"),
        ],
    },
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::{FiscalCode, Identity};

    #[test]
    fn users_have_well_formed_codes() {
        for u in &TEST_USERS {
            let mut attrs = crate::identity::Attributes::new();
            for (n, v) in u.attributes {
                attrs.push(*n, vec![(*v).to_owned()]);
            }
            let federation = if u.id == "eidas" {
                crate::federation::Federation::Eidas
            } else {
                crate::federation::Federation::Spid
            };
            let id = Identity::from_attributes(attrs, federation);
            assert!(id.key().is_some(), "{} has an identity key", u.id);
            if let Some(cf) = u.attribute("fiscalNumber") {
                let cf = FiscalCode::from_idp(cf).unwrap();
                assert!(cf.check().is_ok(), "{} fiscal code", u.id);
            }
        }
        assert!(TestUser::by_id("eidas")
            .unwrap()
            .attribute("fiscalNumber")
            .is_none());
    }

    #[test]
    fn purpose_table() {
        use IdentityType as T;
        assert!(T::NaturalPerson.admitted_by(None));
        assert!(!T::NaturalPerson.admitted_by(Some(Purpose::Professional)));
        assert!(T::LegalPersonProfessional.admitted_by(Some(Purpose::LegalPersonProfessional)));
        assert!(!T::Professional.admitted_by(Some(Purpose::LegalPersonProfessional)));
        assert!(T::LegalPerson.admitted_by(Some(Purpose::AnyProfessional)));
        assert!(!T::LegalPerson.admitted_by(None));
    }
}
