//! SP certificates as AgID's *Avviso SPID n.29 v3* wants them: generate a key with a
//! self-signed certificate (public-sector SPs) or with a certificate signing request
//! (private-sector SPs, whose certificate AgID's CA issues), and check an existing
//! certificate, listing every non-compliance.
//!
//! What a compliant certificate carries:
//!
//! - an RSA key of 2048, 3072 or 4096 bits, signed with SHA-256 or SHA-512;
//! - subject `commonName` (the short name, = metadata `OrganizationDisplayName`),
//!   `organizationName` (the full name, = metadata `OrganizationName`), `uri` (2.5.4.83,
//!   the SP entityID), `organizationIdentifier` (2.5.4.97: `PA:IT-<IPA code>` for public
//!   SPs, `VATIT-<11 digits>` or `CF:IT-<16 characters>` for private SPs), `countryName`
//!   and `localityName`; never `name`, `surname`, `givenName`, `initials` or `pseudonym`;
//! - `keyUsage` critical with `digitalSignature` and `nonRepudiation` only;
//! - `basicConstraints` non-critical with `CA:FALSE`;
//! - `certificatePolicies` non-critical with `1.3.76.16.6` (agIDcert) and
//!   `1.3.76.16.4.2.1` (public SP) or `1.3.76.16.4.3.1` (private SP), each with a
//!   `userNotice` whose `explicitText` is `agIDcert`, `cert_SP_Pub` or `cert_SP_Priv`.
//!
//! The checks are those of AgID's `spid-compliant-certificates` validator plus the
//! `explicitText` values, which the Avviso requires and the validator no longer checks.
//!
//! ```
//! use spid_sp::certificates::{check_certificate, generate_self_signed, CertificateRequest, Sector};
//!
//! let req = CertificateRequest::new(
//!     Sector::Public,
//!     "AgID",
//!     "Agenzia per l'Italia Digitale",
//!     "https://sp.example.gov.it/spid",
//!     "PA:IT-agid",
//!     "Roma",
//! );
//! let (_key, cert) = generate_self_signed(&req)?;
//! assert!(check_certificate(&cert, Sector::Public).is_empty());
//! # Ok::<(), spid_sp::certificates::CertificateError>(())
//! ```

mod check;
pub(crate) mod der;
mod generate;

use std::fmt;
use std::str::FromStr;

pub use check::{
    check_certificate, check_certificate_at, check_csr, subject_of, CertificateProblem, SpSubject,
};
pub use generate::{
    csr_for_key, generate_csr, generate_self_signed, generate_self_signed_at, self_signed_for_key,
};

/// The agIDcert policy, required in every SP certificate.
pub const POLICY_AGID_CERT: &str = "1.3.76.16.6";
/// The public-sector SP policy (spid-publicsector-SP).
pub const POLICY_PUBLIC_SP: &str = "1.3.76.16.4.2.1";
/// The private-sector SP policy (spid-privatesector-SP).
pub const POLICY_PRIVATE_SP: &str = "1.3.76.16.4.3.1";

const OID_URI: &str = "2.5.4.83";
const OID_ORGANIZATION_IDENTIFIER: &str = "2.5.4.97";
const OID_USER_NOTICE: &str = "1.3.6.1.5.5.7.2.2";
const OID_KEY_USAGE: &str = "2.5.29.15";
const OID_BASIC_CONSTRAINTS: &str = "2.5.29.19";
const OID_CERTIFICATE_POLICIES: &str = "2.5.29.32";
const OID_EXTENSION_REQUEST: &str = "1.2.840.113549.1.9.14";

/// The RSA key sizes the SPID certificate profile accepts.
pub const KEY_SIZES: [u32; 3] = [2048, 3072, 4096];

/// Whether the SP is a public administration or a private body.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
pub enum Sector {
    /// A public administration (self-signed certificate allowed).
    Public,
    /// A private body (certificate issued by AgID's CA from a CSR).
    Private,
}

impl Sector {
    /// The sector's certificate policy OID.
    pub const fn policy_oid(self) -> &'static str {
        match self {
            Sector::Public => POLICY_PUBLIC_SP,
            Sector::Private => POLICY_PRIVATE_SP,
        }
    }

    /// The `explicitText` of the sector policy's user notice.
    pub const fn policy_text(self) -> &'static str {
        match self {
            Sector::Public => "cert_SP_Pub",
            Sector::Private => "cert_SP_Priv",
        }
    }

    /// `public` or `private`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Sector::Public => "public",
            Sector::Private => "private",
        }
    }

    /// Whether `value` is a valid `organizationIdentifier` for this sector:
    /// `PA:IT-<1 to 16 non-space characters>` (public),
    /// `VATIT-<11 digits>` or `CF:IT-<16 letters or digits>` (private).
    pub fn accepts_organization_identifier(self, value: &str) -> bool {
        match self {
            Sector::Public => value.strip_prefix("PA:IT-").is_some_and(|code| {
                (1..=16).contains(&code.chars().count()) && !code.chars().any(char::is_whitespace)
            }),
            Sector::Private => {
                if let Some(vat) = value.strip_prefix("VATIT-") {
                    vat.len() == 11 && vat.bytes().all(|b| b.is_ascii_digit())
                } else if let Some(cf) = value.strip_prefix("CF:IT-") {
                    cf.len() == 16 && cf.bytes().all(|b| b.is_ascii_alphanumeric())
                } else {
                    false
                }
            }
        }
    }
}

impl fmt::Display for Sector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Sector {
    type Err = CertificateError;

    fn from_str(s: &str) -> Result<Sector, CertificateError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "public" => Ok(Sector::Public),
            "private" => Ok(Sector::Private),
            _ => Err(CertificateError::Invalid {
                field: "sector",
                reason: "must be public or private",
            }),
        }
    }
}

/// What to put in a new SP certificate or CSR.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct CertificateRequest {
    /// Public or private sector (selects the policy and the organizationIdentifier form).
    pub sector: Sector,
    /// `commonName`: the short name, as the metadata `OrganizationDisplayName` (≤ 64).
    pub common_name: String,
    /// `organizationName`: the full legal name, as the metadata `OrganizationName` (≤ 64).
    pub organization_name: String,
    /// `uri`: the SP entityID (an http(s) URL, ≤ 1024).
    pub entity_id: String,
    /// `organizationIdentifier`: `PA:IT-<IPA code>`, `VATIT-<VAT number>` or
    /// `CF:IT-<fiscal code>`.
    pub organization_identifier: String,
    /// `countryName`: ISO 3166-1 alpha-2 code of the registered office (`IT`).
    pub country: String,
    /// `localityName`: the city of the registered office, with accents (`Forlì`).
    pub locality: String,
    /// RSA key size: 2048, 3072 or 4096.
    pub key_bits: u32,
    /// Validity of a self-signed certificate, in days (1 to 3650).
    pub days: u32,
}

impl CertificateRequest {
    /// A request with country `IT`, a 3072-bit key and 730 days of validity (the defaults
    /// of AgID's tools); change the public fields to override them.
    pub fn new(
        sector: Sector,
        common_name: impl Into<String>,
        organization_name: impl Into<String>,
        entity_id: impl Into<String>,
        organization_identifier: impl Into<String>,
        locality: impl Into<String>,
    ) -> CertificateRequest {
        CertificateRequest {
            sector,
            common_name: common_name.into(),
            organization_name: organization_name.into(),
            entity_id: entity_id.into(),
            organization_identifier: organization_identifier.into(),
            country: "IT".to_owned(),
            locality: locality.into(),
            key_bits: 3072,
            days: 730,
        }
    }

    /// Checks every field; the first invalid one is reported.
    pub fn validate(&self) -> Result<(), CertificateError> {
        let invalid = |field, reason| Err(CertificateError::Invalid { field, reason });
        for (field, value, max) in [
            ("common name", &self.common_name, 64),
            ("organization name", &self.organization_name, 64),
            ("locality", &self.locality, 128),
            ("entity ID", &self.entity_id, 1024),
        ] {
            if value.trim().is_empty() {
                return invalid(field, "must not be empty");
            }
            if value.trim() != value.as_str() {
                return invalid(field, "must not start or end with spaces");
            }
            if value.chars().any(char::is_control) {
                return invalid(field, "must not contain control characters");
            }
            if value.chars().count() > max {
                return invalid(field, "too long");
            }
        }
        if !(self.entity_id.starts_with("https://") || self.entity_id.starts_with("http://"))
            || self.entity_id.contains(char::is_whitespace)
        {
            return invalid("entity ID", "must be an http(s) URL");
        }
        if !self
            .sector
            .accepts_organization_identifier(&self.organization_identifier)
        {
            return invalid(
                "organization identifier",
                match self.sector {
                    Sector::Public => "must be PA:IT-<IPA code>",
                    Sector::Private => "must be VATIT-<11 digits> or CF:IT-<16 characters>",
                },
            );
        }
        if !is_country_code(&self.country) {
            return invalid("country", "must be an ISO 3166-1 alpha-2 code such as IT");
        }
        if !KEY_SIZES.contains(&self.key_bits) {
            return invalid("key size", "must be 2048, 3072 or 4096 bits");
        }
        if !(1..=3650).contains(&self.days) {
            return invalid("validity", "must be between 1 and 3650 days");
        }
        Ok(())
    }
}

/// A certificate or CSR could not be made.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CertificateError {
    /// A request field is not acceptable.
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The key is not an RSA key of an accepted size.
    #[error("the key must be RSA with 2048, 3072 or 4096 bits")]
    Key,
    /// The cryptographic library failed.
    #[error("cryptographic error while building the certificate")]
    Crypto,
}

impl From<openssl::error::ErrorStack> for CertificateError {
    fn from(_: openssl::error::ErrorStack) -> Self {
        CertificateError::Crypto
    }
}

/// ISO 3166-1 alpha-2 codes (officially assigned).
const COUNTRIES: &str = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW";

fn is_country_code(code: &str) -> bool {
    code.len() == 2 && COUNTRIES.split(' ').any(|c| c == code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oid_round_trip() {
        for oid in [
            "1.3.76.16.6",
            "1.3.76.16.4.2.1",
            "2.5.4.97",
            "1.2.840.113549.1.9.14",
            "2.5.29.32",
        ] {
            let enc = der::oid(oid);
            let (tlv, rest) = der::read(&enc).unwrap();
            assert!(rest.is_empty());
            assert_eq!(der::oid_text(tlv.value).unwrap(), oid);
        }
    }

    #[test]
    fn organization_identifiers() {
        assert!(Sector::Public.accepts_organization_identifier("PA:IT-c_h501"));
        assert!(!Sector::Public.accepts_organization_identifier("PA:IT-"));
        assert!(!Sector::Public.accepts_organization_identifier("PA:IT-a b"));
        assert!(!Sector::Public.accepts_organization_identifier("VATIT-12345678901"));
        assert!(Sector::Private.accepts_organization_identifier("VATIT-12345678901"));
        assert!(Sector::Private.accepts_organization_identifier("CF:IT-RSSMRA80A01H501U"));
        assert!(!Sector::Private.accepts_organization_identifier("VATIT-1234567890"));
        assert!(!Sector::Private.accepts_organization_identifier("CF:IT-RSSMRA80A01H501"));
    }

    #[test]
    fn der_reader_refuses_truncation() {
        assert!(der::read(&[0x30, 0x05, 0x01]).is_none());
        assert!(der::read(&[0x30, 0x85, 0, 0, 0, 0, 1]).is_none());
        assert!(der::read(&[0x30, 0x80]).is_none());
        assert!(der::oid_text(&[0x2B, 0x80]).is_none());
    }

    #[test]
    fn countries() {
        assert!(is_country_code("IT"));
        assert!(!is_country_code("it"));
        assert!(!is_country_code("XX"));
        assert!(!is_country_code("ITA"));
    }
}
