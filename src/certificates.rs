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

use std::fmt;
use std::str::FromStr;

use openssl::asn1::{Asn1Integer, Asn1Object, Asn1OctetString, Asn1Time};
use openssl::bn::{BigNum, MsbOption};
use openssl::hash::MessageDigest;
use openssl::pkey::{Id, PKey, PKeyRef, Private, Public};
use openssl::rsa::Rsa;
use openssl::stack::Stack;
use openssl::x509::extension::{BasicConstraints, KeyUsage, SubjectKeyIdentifier};
use openssl::x509::{X509Extension, X509Name, X509NameBuilder, X509Ref, X509Req, X509ReqRef, X509};

use crate::dsig::keys::asn1_to_timestamp;
use crate::time::{Clock, SystemClock, Timestamp};

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

/// A fresh RSA key and a self-signed certificate valid from now for `req.days` days.
pub fn generate_self_signed(
    req: &CertificateRequest,
) -> Result<(PKey<Private>, X509), CertificateError> {
    generate_self_signed_at(req, SystemClock.now())
}

/// As [`generate_self_signed`], valid from `not_before` (tests, reproducible builds).
pub fn generate_self_signed_at(
    req: &CertificateRequest,
    not_before: Timestamp,
) -> Result<(PKey<Private>, X509), CertificateError> {
    req.validate()?;
    let key = new_key(req.key_bits)?;
    let cert = self_signed_for_key(req, &key, not_before)?;
    Ok((key, cert))
}

/// A fresh RSA key and a certificate signing request to send to AgID's CA (private SPs).
pub fn generate_csr(
    req: &CertificateRequest,
) -> Result<(PKey<Private>, X509Req), CertificateError> {
    req.validate()?;
    let key = new_key(req.key_bits)?;
    let csr = csr_for_key(req, &key)?;
    Ok((key, csr))
}

/// A self-signed certificate for an existing key (renewing a certificate while keeping
/// the key the federation already knows). `req.key_bits` is ignored: the key decides.
pub fn self_signed_for_key(
    req: &CertificateRequest,
    key: &PKeyRef<Private>,
    not_before: Timestamp,
) -> Result<X509, CertificateError> {
    req.validate()?;
    check_key(key)?;
    let name = subject_name(req)?;
    let mut b = X509::builder()?;
    b.set_version(2)?;
    let serial = random_serial()?;
    b.set_serial_number(&serial)?;
    b.set_subject_name(&name)?;
    b.set_issuer_name(&name)?;
    b.set_pubkey(key)?;
    let start = not_before.unix_seconds();
    let end = start.saturating_add(i64::from(req.days).saturating_mul(86_400));
    let (start, end) = (asn1_time(start)?, asn1_time(end)?);
    b.set_not_before(&start)?;
    b.set_not_after(&end)?;
    for ext in base_extensions(req.sector)? {
        b.append_extension(ext)?;
    }
    let ski = SubjectKeyIdentifier::new().build(&b.x509v3_context(None, None))?;
    b.append_extension(ski)?;
    b.sign(key, MessageDigest::sha256())?;
    Ok(b.build())
}

/// A certificate signing request for an existing key. `req.key_bits` and `req.days` are
/// ignored.
pub fn csr_for_key(
    req: &CertificateRequest,
    key: &PKeyRef<Private>,
) -> Result<X509Req, CertificateError> {
    req.validate()?;
    check_key(key)?;
    let mut b = X509Req::builder()?;
    b.set_version(0)?;
    let name = subject_name(req)?;
    b.set_subject_name(&name)?;
    b.set_pubkey(key)?;
    let mut exts = Stack::new()?;
    for ext in base_extensions(req.sector)? {
        exts.push(ext)?;
    }
    b.add_extensions(&exts)?;
    b.sign(key, MessageDigest::sha256())?;
    Ok(b.build())
}

fn new_key(bits: u32) -> Result<PKey<Private>, CertificateError> {
    if !KEY_SIZES.contains(&bits) {
        return Err(CertificateError::Key);
    }
    Ok(PKey::from_rsa(Rsa::generate(bits)?)?)
}

fn check_key(key: &PKeyRef<Private>) -> Result<(), CertificateError> {
    if key.id() != Id::RSA || !KEY_SIZES.contains(&key.bits()) {
        return Err(CertificateError::Key);
    }
    Ok(())
}

fn asn1_time(unix: i64) -> Result<Asn1Time, CertificateError> {
    let t = libc_time(unix).ok_or(CertificateError::Invalid {
        field: "validity",
        reason: "out of range",
    })?;
    Ok(Asn1Time::from_unix(t)?)
}

fn libc_time(unix: i64) -> Option<i64> {
    // `time_t` is 64-bit on every platform OpenSSL 3 supports; keep to 9999-12-31.
    (0..=253_402_300_799).contains(&unix).then_some(unix)
}

fn random_serial() -> Result<Asn1Integer, CertificateError> {
    // 159 random bits: positive, at most 20 octets (RFC 5280 §4.1.2.2).
    let mut bn = BigNum::new()?;
    bn.rand(159, MsbOption::MAYBE_ZERO, false)?;
    Ok(bn.to_asn1_integer()?)
}

fn subject_name(req: &CertificateRequest) -> Result<X509Name, CertificateError> {
    let mut name = X509NameBuilder::new()?;
    name.append_entry_by_text("C", &req.country)?;
    name.append_entry_by_text("L", &req.locality)?;
    name.append_entry_by_text("O", &req.organization_name)?;
    name.append_entry_by_text(OID_ORGANIZATION_IDENTIFIER, &req.organization_identifier)?;
    name.append_entry_by_text("CN", &req.common_name)?;
    name.append_entry_by_text(OID_URI, &req.entity_id)?;
    Ok(name.build())
}

/// keyUsage, basicConstraints and certificatePolicies, as the profile wants them.
fn base_extensions(sector: Sector) -> Result<Vec<X509Extension>, CertificateError> {
    let key_usage = KeyUsage::new()
        .critical()
        .digital_signature()
        .non_repudiation()
        .build()?;
    let basic = BasicConstraints::new().build()?;
    let mut policies = Vec::new();
    policies.extend(policy_information(POLICY_AGID_CERT, "agIDcert"));
    policies.extend(policy_information(
        sector.policy_oid(),
        sector.policy_text(),
    ));
    let value = der::tlv(der::SEQUENCE, &policies);
    let oid = Asn1Object::from_str(OID_CERTIFICATE_POLICIES)?;
    let value = Asn1OctetString::new_from_bytes(&value)?;
    let policies = X509Extension::new_from_der(&oid, false, &value)?;
    Ok(vec![basic, key_usage, policies])
}

/// `PolicyInformation ::= SEQUENCE { policyIdentifier, SEQUENCE { PolicyQualifierInfo
/// { id-qt-unotice, UserNotice { explicitText UTF8String } } } }`.
fn policy_information(oid: &str, text: &str) -> Vec<u8> {
    let notice = der::tlv(der::SEQUENCE, &der::tlv(der::UTF8_STRING, text.as_bytes()));
    let mut qualifier = der::oid(OID_USER_NOTICE);
    qualifier.extend(notice);
    let qualifiers = der::tlv(der::SEQUENCE, &der::tlv(der::SEQUENCE, &qualifier));
    let mut info = der::oid(oid);
    info.extend(qualifiers);
    der::tlv(der::SEQUENCE, &info)
}

/// One way a certificate (or CSR) departs from the SPID certificate profile. Messages
/// name the rule, never the subject's values.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CertificateProblem {
    /// The DER structure could not be read.
    #[error("the certificate structure could not be read")]
    Unreadable,
    /// Not an X.509 v3 certificate.
    #[error("the certificate is not X.509 version 3")]
    Version,
    /// The public key is not RSA.
    #[error("the key is not RSA")]
    KeyNotRsa,
    /// The RSA key size is not 2048, 3072 or 4096.
    #[error("the key size is {bits} bits, not 2048, 3072 or 4096")]
    KeySize {
        /// The key size found.
        bits: u32,
    },
    /// Signed with something other than RSA with SHA-256 or SHA-512.
    #[error("the signature algorithm is {found}, not sha256WithRSAEncryption or sha512WithRSAEncryption")]
    SignatureAlgorithm {
        /// The algorithm OID found.
        found: String,
    },
    /// A mandatory subject attribute is missing.
    #[error("the subject has no {0}")]
    MissingAttribute(&'static str),
    /// A subject attribute appears more than once.
    #[error("the subject has more than one {0}")]
    RepeatedAttribute(&'static str),
    /// A subject attribute is empty.
    #[error("the subject {0} is empty")]
    EmptyAttribute(&'static str),
    /// A subject attribute the profile forbids (it would identify a person).
    #[error("the subject must not contain {0}")]
    ForbiddenAttribute(&'static str),
    /// organizationIdentifier does not have the sector's form.
    #[error("organizationIdentifier is not valid for a {sector} sector SP ({expected})")]
    OrganizationIdentifier {
        /// The sector checked against.
        sector: Sector,
        /// The expected form.
        expected: &'static str,
    },
    /// countryName is not an ISO 3166-1 alpha-2 code.
    #[error("countryName is not an ISO 3166-1 alpha-2 code")]
    Country,
    /// keyUsage is missing.
    #[error("keyUsage extension missing")]
    KeyUsageMissing,
    /// keyUsage is not critical.
    #[error("keyUsage must be critical")]
    KeyUsageNotCritical,
    /// A required keyUsage bit is not set.
    #[error("keyUsage {0} must be set")]
    KeyUsageBitMissing(&'static str),
    /// A keyUsage bit the profile forbids is set.
    #[error("keyUsage {0} must not be set")]
    KeyUsageBitForbidden(&'static str),
    /// basicConstraints is missing.
    #[error("basicConstraints extension missing")]
    BasicConstraintsMissing,
    /// basicConstraints is critical.
    #[error("basicConstraints must not be critical")]
    BasicConstraintsCritical,
    /// basicConstraints says CA:TRUE.
    #[error("basicConstraints must say CA:FALSE")]
    BasicConstraintsCa,
    /// certificatePolicies is missing.
    #[error("certificatePolicies extension missing")]
    PoliciesMissing,
    /// certificatePolicies is critical.
    #[error("certificatePolicies must not be critical")]
    PoliciesCritical,
    /// A required policy OID is missing.
    #[error("certificate policy {0} missing")]
    PolicyMissing(&'static str),
    /// A required policy lacks its userNotice explicitText.
    #[error("certificate policy {oid} must carry a userNotice with explicitText {expected}")]
    PolicyNotice {
        /// The policy.
        oid: &'static str,
        /// The required text.
        expected: &'static str,
    },
    /// The certificate has expired.
    #[error("the certificate expired")]
    Expired,
    /// The certificate is not valid yet.
    #[error("the certificate is not valid yet")]
    NotYetValid,
    /// An extension appears twice.
    #[error("extension {0} appears more than once")]
    RepeatedExtension(&'static str),
}

/// Every departure of `cert` from the SPID certificate profile for `sector` (empty when
/// compliant). Dates are not checked: use [`check_certificate_at`] for that.
pub fn check_certificate(cert: &X509Ref, sector: Sector) -> Vec<CertificateProblem> {
    let mut problems = Vec::new();
    match cert.public_key() {
        Ok(key) => check_public_key(&key, &mut problems),
        Err(_) => problems.push(CertificateProblem::Unreadable),
    }
    let Ok(der) = cert.to_der() else {
        problems.push(CertificateProblem::Unreadable);
        return problems;
    };
    match parse_certificate(&der) {
        Some(parsed) => {
            if parsed.version != 2 {
                problems.push(CertificateProblem::Version);
            }
            check_parsed(&parsed, sector, &mut problems);
        }
        None => problems.push(CertificateProblem::Unreadable),
    }
    problems
}

/// [`check_certificate`] plus the validity period at `now`.
pub fn check_certificate_at(
    cert: &X509Ref,
    sector: Sector,
    now: Timestamp,
) -> Vec<CertificateProblem> {
    let mut problems = check_certificate(cert, sector);
    if asn1_to_timestamp(cert.not_after()).map_or(true, |t| t <= now) {
        problems.push(CertificateProblem::Expired);
    }
    if asn1_to_timestamp(cert.not_before()).map_or(true, |t| t > now) {
        problems.push(CertificateProblem::NotYetValid);
    }
    problems
}

/// Every departure of a certificate signing request from the profile: the same subject,
/// key, algorithm and (requested) extension rules as [`check_certificate`].
pub fn check_csr(csr: &X509ReqRef, sector: Sector) -> Vec<CertificateProblem> {
    let mut problems = Vec::new();
    match csr.public_key() {
        Ok(key) => check_public_key(&key, &mut problems),
        Err(_) => problems.push(CertificateProblem::Unreadable),
    }
    let Ok(der) = csr.to_der() else {
        problems.push(CertificateProblem::Unreadable);
        return problems;
    };
    match parse_csr(&der) {
        Some(parsed) => check_parsed(&parsed, sector, &mut problems),
        None => problems.push(CertificateProblem::Unreadable),
    }
    problems
}

/// The SPID-relevant subject attributes of a certificate (for cross-checks with the
/// metadata: `uri` = entityID, `commonName` = OrganizationDisplayName, `organizationName`
/// = OrganizationName).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SpSubject {
    /// commonName.
    pub common_name: Option<String>,
    /// organizationName.
    pub organization_name: Option<String>,
    /// uri (2.5.4.83).
    pub uri: Option<String>,
    /// organizationIdentifier (2.5.4.97).
    pub organization_identifier: Option<String>,
    /// countryName.
    pub country: Option<String>,
    /// localityName.
    pub locality: Option<String>,
}

/// Reads the SPID subject attributes of `cert` (the first of each; `None` when the
/// certificate cannot be read or lacks the attribute).
pub fn subject_of(cert: &X509Ref) -> SpSubject {
    let Some(parsed) = cert.to_der().ok().and_then(|d| parse_certificate(&d)) else {
        return SpSubject::default();
    };
    let get = |oid: &str| {
        parsed
            .subject
            .iter()
            .find(|(o, _)| o == oid)
            .and_then(|(_, v)| v.clone())
    };
    SpSubject {
        common_name: get("2.5.4.3"),
        organization_name: get("2.5.4.10"),
        uri: get(OID_URI),
        organization_identifier: get(OID_ORGANIZATION_IDENTIFIER),
        country: get("2.5.4.6"),
        locality: get("2.5.4.7"),
    }
}

fn check_public_key(key: &PKeyRef<Public>, problems: &mut Vec<CertificateProblem>) {
    if key.id() != Id::RSA {
        problems.push(CertificateProblem::KeyNotRsa);
    } else if !KEY_SIZES.contains(&key.bits()) {
        problems.push(CertificateProblem::KeySize { bits: key.bits() });
    }
}

/// The parts of a certificate or CSR the profile rules look at.
struct Parsed {
    version: u32,
    signature_algorithm: String,
    /// (OID, decoded string value if it is a string type).
    subject: Vec<(String, Option<String>)>,
    extensions: Vec<Extension>,
}

struct Extension {
    oid: String,
    critical: bool,
    value: Vec<u8>,
}

const MANDATORY: [(&str, &str); 6] = [
    ("2.5.4.3", "commonName"),
    ("2.5.4.10", "organizationName"),
    (OID_URI, "uri"),
    (OID_ORGANIZATION_IDENTIFIER, "organizationIdentifier"),
    ("2.5.4.6", "countryName"),
    ("2.5.4.7", "localityName"),
];

const FORBIDDEN: [(&str, &str); 5] = [
    ("2.5.4.41", "name"),
    ("2.5.4.4", "surname"),
    ("2.5.4.42", "givenName"),
    ("2.5.4.43", "initials"),
    ("2.5.4.65", "pseudonym"),
];

const KEY_USAGE_BITS: [&str; 9] = [
    "digitalSignature",
    "nonRepudiation",
    "keyEncipherment",
    "dataEncipherment",
    "keyAgreement",
    "keyCertSign",
    "cRLSign",
    "encipherOnly",
    "decipherOnly",
];

fn check_parsed(parsed: &Parsed, sector: Sector, problems: &mut Vec<CertificateProblem>) {
    // Signature algorithm: RSA PKCS#1 v1.5 with SHA-256 or SHA-512.
    if !matches!(
        parsed.signature_algorithm.as_str(),
        "1.2.840.113549.1.1.11" | "1.2.840.113549.1.1.13"
    ) {
        problems.push(CertificateProblem::SignatureAlgorithm {
            found: algorithm_name(&parsed.signature_algorithm),
        });
    }

    // Subject.
    for (oid, name) in FORBIDDEN {
        if parsed.subject.iter().any(|(o, _)| o == oid) {
            problems.push(CertificateProblem::ForbiddenAttribute(name));
        }
    }
    for (oid, name) in MANDATORY {
        let values: Vec<&Option<String>> = parsed
            .subject
            .iter()
            .filter(|(o, _)| o == oid)
            .map(|(_, v)| v)
            .collect();
        let Some(first) = values.first() else {
            problems.push(CertificateProblem::MissingAttribute(name));
            continue;
        };
        if values.len() > 1 {
            problems.push(CertificateProblem::RepeatedAttribute(name));
        }
        let value = first.as_deref().map(str::trim).unwrap_or("");
        if value.is_empty() {
            problems.push(CertificateProblem::EmptyAttribute(name));
            continue;
        }
        if oid == OID_ORGANIZATION_IDENTIFIER && !sector.accepts_organization_identifier(value) {
            problems.push(CertificateProblem::OrganizationIdentifier {
                sector,
                expected: match sector {
                    Sector::Public => "PA:IT-<IPA code>",
                    Sector::Private => "VATIT-<11 digits> or CF:IT-<16 characters>",
                },
            });
        }
        if oid == "2.5.4.6" && !is_country_code(value) {
            problems.push(CertificateProblem::Country);
        }
    }

    // Extensions.
    let find = |oid: &str, name: &'static str, problems: &mut Vec<CertificateProblem>| {
        let mut found = parsed.extensions.iter().filter(|e| e.oid == oid);
        let first = found.next();
        if found.next().is_some() {
            problems.push(CertificateProblem::RepeatedExtension(name));
        }
        first
    };

    match find(OID_KEY_USAGE, "keyUsage", problems) {
        None => problems.push(CertificateProblem::KeyUsageMissing),
        Some(ext) => {
            if !ext.critical {
                problems.push(CertificateProblem::KeyUsageNotCritical);
            }
            match der::key_usage_bits(&ext.value) {
                None => problems.push(CertificateProblem::Unreadable),
                Some(bits) => {
                    for (i, name) in KEY_USAGE_BITS.iter().enumerate() {
                        let set = bits & (1 << i) != 0;
                        match (i, set) {
                            (0 | 1, false) => {
                                problems.push(CertificateProblem::KeyUsageBitMissing(name))
                            }
                            (2..=6, true) => {
                                problems.push(CertificateProblem::KeyUsageBitForbidden(name))
                            }
                            _ => {}
                        }
                    }
                }
            }
        }
    }

    match find(OID_BASIC_CONSTRAINTS, "basicConstraints", problems) {
        None => problems.push(CertificateProblem::BasicConstraintsMissing),
        Some(ext) => {
            if ext.critical {
                problems.push(CertificateProblem::BasicConstraintsCritical);
            }
            match der::basic_constraints_ca(&ext.value) {
                None => problems.push(CertificateProblem::Unreadable),
                Some(true) => problems.push(CertificateProblem::BasicConstraintsCa),
                Some(false) => {}
            }
        }
    }

    match find(OID_CERTIFICATE_POLICIES, "certificatePolicies", problems) {
        None => problems.push(CertificateProblem::PoliciesMissing),
        Some(ext) => {
            if ext.critical {
                problems.push(CertificateProblem::PoliciesCritical);
            }
            match der::policies(&ext.value) {
                None => problems.push(CertificateProblem::Unreadable),
                Some(policies) => {
                    for (oid, text) in [
                        (POLICY_AGID_CERT, "agIDcert"),
                        (sector.policy_oid(), sector.policy_text()),
                    ] {
                        match policies.iter().find(|p| p.0 == oid) {
                            None => problems.push(CertificateProblem::PolicyMissing(oid)),
                            Some((_, texts)) => {
                                if !texts.iter().any(|t| t == text) {
                                    problems.push(CertificateProblem::PolicyNotice {
                                        oid,
                                        expected: text,
                                    });
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn algorithm_name(oid: &str) -> String {
    match oid {
        "1.2.840.113549.1.1.4" => "md5WithRSAEncryption".to_owned(),
        "1.2.840.113549.1.1.5" => "sha1WithRSAEncryption".to_owned(),
        "1.2.840.113549.1.1.10" => "rsassaPss".to_owned(),
        "1.2.840.113549.1.1.12" => "sha384WithRSAEncryption".to_owned(),
        "1.2.840.113549.1.1.14" => "sha224WithRSAEncryption".to_owned(),
        "1.2.840.10045.4.3.2" => "ecdsa-with-SHA256".to_owned(),
        other => other.chars().take(64).collect(),
    }
}

/// `Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue }`.
fn parse_certificate(der: &[u8]) -> Option<Parsed> {
    let (cert, rest) = der::read(der)?;
    if cert.tag != der::SEQUENCE || !rest.is_empty() {
        return None;
    }
    let mut parts = der::Reader::new(cert.value);
    let tbs = parts.expect(der::SEQUENCE)?;
    let outer_alg = parts.expect(der::SEQUENCE)?;
    let signature_algorithm = der::Reader::new(outer_alg.value).oid()?;

    let mut tbs = der::Reader::new(tbs.value);
    let mut version = 0;
    if tbs.peek_tag() == Some(0xA0) {
        let v = tbs.next()?;
        let int = der::Reader::new(v.value).expect(der::INTEGER)?;
        version = match int.value {
            [v] => u32::from(*v),
            _ => return None,
        };
    }
    tbs.expect(der::INTEGER)?; // serialNumber
    tbs.expect(der::SEQUENCE)?; // signature
    tbs.expect(der::SEQUENCE)?; // issuer
    tbs.expect(der::SEQUENCE)?; // validity
    let subject = der::name(tbs.expect(der::SEQUENCE)?.value)?;
    tbs.expect(der::SEQUENCE)?; // subjectPublicKeyInfo
    let mut extensions = Vec::new();
    for item in tbs.by_ref() {
        if item.tag == 0xA3 {
            let seq = der::Reader::new(item.value).expect(der::SEQUENCE)?;
            extensions = der::extensions(seq.value)?;
        }
    }
    if !tbs.is_done() {
        return None;
    }
    Some(Parsed {
        version,
        signature_algorithm,
        subject,
        extensions,
    })
}

/// `CertificationRequest ::= SEQUENCE { certificationRequestInfo, signatureAlgorithm,
/// signature }`; the extensions are those of the `extensionRequest` attribute.
fn parse_csr(der: &[u8]) -> Option<Parsed> {
    let (req, rest) = der::read(der)?;
    if req.tag != der::SEQUENCE || !rest.is_empty() {
        return None;
    }
    let mut parts = der::Reader::new(req.value);
    let info = parts.expect(der::SEQUENCE)?;
    let alg = parts.expect(der::SEQUENCE)?;
    let signature_algorithm = der::Reader::new(alg.value).oid()?;
    let mut info = der::Reader::new(info.value);
    info.expect(der::INTEGER)?;
    let subject = der::name(info.expect(der::SEQUENCE)?.value)?;
    info.expect(der::SEQUENCE)?; // subjectPKInfo
    let mut extensions = Vec::new();
    if let Some(attrs) = info.next() {
        if attrs.tag != 0xA0 {
            return None;
        }
        let mut attrs = der::Reader::new(attrs.value);
        for attr in attrs.by_ref() {
            let mut a = der::Reader::new(attr.value);
            if a.oid()? == OID_EXTENSION_REQUEST {
                let set = a.expect(der::SET)?;
                let seq = der::Reader::new(set.value).expect(der::SEQUENCE)?;
                extensions = der::extensions(seq.value)?;
            }
        }
        if !attrs.is_done() {
            return None;
        }
    }
    Some(Parsed {
        version: 0,
        signature_algorithm,
        subject,
        extensions,
    })
}

/// ISO 3166-1 alpha-2 codes (officially assigned).
const COUNTRIES: &str = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW";

fn is_country_code(code: &str) -> bool {
    code.len() == 2 && COUNTRIES.split(' ').any(|c| c == code)
}

/// A minimal, bounds-checked DER reader and writer: only what the profile checks need.
mod der {
    pub const INTEGER: u8 = 0x02;
    pub const BIT_STRING: u8 = 0x03;
    pub const OCTET_STRING: u8 = 0x04;
    pub const OID: u8 = 0x06;
    pub const BOOLEAN: u8 = 0x01;
    pub const UTF8_STRING: u8 = 0x0C;
    pub const SEQUENCE: u8 = 0x30;
    pub const SET: u8 = 0x31;

    /// One element: its (single-octet) tag and content octets.
    #[derive(Clone, Copy)]
    pub struct Tlv<'a> {
        pub tag: u8,
        pub value: &'a [u8],
    }

    /// Reads one element from the front of `input`.
    pub fn read(input: &[u8]) -> Option<(Tlv<'_>, &[u8])> {
        let (&tag, rest) = input.split_first()?;
        if tag & 0x1F == 0x1F {
            return None; // multi-octet tags never occur in what we read
        }
        let (&first, rest) = rest.split_first()?;
        let (len, rest) = if first < 0x80 {
            (usize::from(first), rest)
        } else {
            let n = usize::from(first & 0x7F);
            if n == 0 || n > 4 {
                return None; // indefinite length is BER, not DER; and 4 GiB is plenty
            }
            let bytes = rest.get(..n)?;
            let len = bytes
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
            (len, rest.get(n..)?)
        };
        let value = rest.get(..len)?;
        Some((Tlv { tag, value }, rest.get(len..)?))
    }

    /// Reads the elements of a constructed value in turn.
    pub struct Reader<'a> {
        rest: &'a [u8],
        failed: bool,
    }

    impl<'a> Reader<'a> {
        pub fn new(content: &'a [u8]) -> Reader<'a> {
            Reader {
                rest: content,
                failed: false,
            }
        }

        pub fn peek_tag(&self) -> Option<u8> {
            self.rest.first().copied()
        }

        /// The next element, which must have `tag`.
        pub fn expect(&mut self, tag: u8) -> Option<Tlv<'a>> {
            self.next().filter(|t| t.tag == tag)
        }

        /// The next element, which must be an OID, as dotted text.
        pub fn oid(&mut self) -> Option<String> {
            oid_text(self.expect(OID)?.value)
        }

        /// Whether everything was read without a malformed element.
        pub fn is_done(&self) -> bool {
            !self.failed && self.rest.is_empty()
        }
    }

    impl<'a> Iterator for Reader<'a> {
        type Item = Tlv<'a>;

        fn next(&mut self) -> Option<Tlv<'a>> {
            if self.rest.is_empty() || self.failed {
                return None;
            }
            match read(self.rest) {
                Some((tlv, rest)) => {
                    self.rest = rest;
                    Some(tlv)
                }
                None => {
                    self.failed = true;
                    None
                }
            }
        }
    }

    /// Dotted text of OID content octets.
    pub fn oid_text(bytes: &[u8]) -> Option<String> {
        if bytes.is_empty() || bytes.len() > 64 {
            return None;
        }
        let mut arcs: Vec<u64> = Vec::new();
        let mut acc: u64 = 0;
        for (i, b) in bytes.iter().enumerate() {
            if acc > (u64::MAX >> 7) {
                return None;
            }
            acc = (acc << 7) | u64::from(b & 0x7F);
            if b & 0x80 == 0 {
                if arcs.is_empty() {
                    let (first, second) = match acc {
                        0..=39 => (0, acc),
                        40..=79 => (1, acc - 40),
                        _ => (2, acc - 80),
                    };
                    arcs.push(first);
                    arcs.push(second);
                } else {
                    arcs.push(acc);
                }
                acc = 0;
            } else if i + 1 == bytes.len() {
                return None;
            }
        }
        Some(
            arcs.iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join("."),
        )
    }

    /// `Name ::= SEQUENCE OF SET OF SEQUENCE { type OID, value ANY }`.
    #[allow(clippy::type_complexity)]
    pub fn name(content: &[u8]) -> Option<Vec<(String, Option<String>)>> {
        let mut out = Vec::new();
        let mut rdns = Reader::new(content);
        for rdn in rdns.by_ref() {
            if rdn.tag != SET {
                return None;
            }
            let mut atvs = Reader::new(rdn.value);
            for atv in atvs.by_ref() {
                let mut parts = Reader::new(atv.value);
                let oid = parts.oid()?;
                let value = parts.next()?;
                out.push((oid, string_value(value)));
                if out.len() > 64 {
                    return None;
                }
            }
            if !atvs.is_done() {
                return None;
            }
        }
        rdns.is_done().then_some(out)
    }

    /// A DirectoryString / DisplayText value as text.
    pub fn string_value(tlv: Tlv<'_>) -> Option<String> {
        match tlv.tag {
            // UTF8String, PrintableString, IA5String, VisibleString
            0x0C | 0x13 | 0x16 | 0x1A => String::from_utf8(tlv.value.to_vec()).ok(),
            // TeletexString: treat as Latin-1
            0x14 => Some(tlv.value.iter().map(|b| char::from(*b)).collect()),
            // BMPString
            0x1E => {
                let units: Vec<u16> = tlv
                    .value
                    .chunks_exact(2)
                    .map(|c| {
                        u16::from_be_bytes([
                            c.first().copied().unwrap_or(0),
                            c.get(1).copied().unwrap_or(0),
                        ])
                    })
                    .collect();
                String::from_utf16(&units).ok()
            }
            _ => None,
        }
    }

    /// `Extensions ::= SEQUENCE OF Extension`; `Extension ::= SEQUENCE { extnID,
    /// critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }`.
    pub fn extensions(content: &[u8]) -> Option<Vec<super::Extension>> {
        let mut out = Vec::new();
        let mut exts = Reader::new(content);
        for ext in exts.by_ref() {
            if ext.tag != SEQUENCE {
                return None;
            }
            let mut parts = Reader::new(ext.value);
            let oid = parts.oid()?;
            let mut next = parts.next()?;
            let mut critical = false;
            if next.tag == BOOLEAN {
                critical = next.value.first().is_some_and(|b| *b != 0);
                next = parts.next()?;
            }
            if next.tag != OCTET_STRING || !parts.is_done() {
                return None;
            }
            out.push(super::Extension {
                oid,
                critical,
                value: next.value.to_vec(),
            });
            if out.len() > 64 {
                return None;
            }
        }
        exts.is_done().then_some(out)
    }

    /// KeyUsage bits, bit 0 = digitalSignature.
    pub fn key_usage_bits(value: &[u8]) -> Option<u16> {
        let (bits, rest) = read(value)?;
        if bits.tag != BIT_STRING || !rest.is_empty() {
            return None;
        }
        let (_unused, octets) = bits.value.split_first()?;
        let mut out = 0u16;
        for (i, octet) in octets.iter().take(2).enumerate() {
            for bit in 0..8 {
                if octet & (0x80 >> bit) != 0 {
                    out |= 1 << (i * 8 + bit);
                }
            }
        }
        Some(out)
    }

    /// The cA flag of BasicConstraints.
    pub fn basic_constraints_ca(value: &[u8]) -> Option<bool> {
        let (seq, rest) = read(value)?;
        if seq.tag != SEQUENCE || !rest.is_empty() {
            return None;
        }
        let mut parts = Reader::new(seq.value);
        Some(match parts.next() {
            Some(b) if b.tag == BOOLEAN => b.value.first().is_some_and(|v| *v != 0),
            Some(i) if i.tag == INTEGER => false,
            Some(_) => return None,
            None => false,
        })
    }

    /// Each policy OID with the explicitText of its userNotice qualifiers.
    #[allow(clippy::type_complexity)]
    pub fn policies(value: &[u8]) -> Option<Vec<(String, Vec<String>)>> {
        let (seq, rest) = read(value)?;
        if seq.tag != SEQUENCE || !rest.is_empty() {
            return None;
        }
        let mut out = Vec::new();
        let mut infos = Reader::new(seq.value);
        for info in infos.by_ref() {
            let mut parts = Reader::new(info.value);
            let oid = parts.oid()?;
            let mut texts = Vec::new();
            if let Some(quals) = parts.next() {
                let mut quals = Reader::new(quals.value);
                for q in quals.by_ref() {
                    let mut qp = Reader::new(q.value);
                    if qp.oid()? != super::OID_USER_NOTICE {
                        continue;
                    }
                    let Some(notice) = qp.next() else { continue };
                    for item in Reader::new(notice.value) {
                        if item.tag != SEQUENCE {
                            if let Some(t) = string_value(item) {
                                texts.push(t);
                            }
                        }
                    }
                }
            }
            out.push((oid, texts));
            if out.len() > 32 {
                return None;
            }
        }
        infos.is_done().then_some(out)
    }

    /// Encodes one element.
    pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        let len = content.len();
        if len < 0x80 {
            out.push(len as u8);
        } else {
            let bytes = len.to_be_bytes();
            let skip = bytes.iter().take_while(|b| **b == 0).count();
            let significant = bytes.get(skip..).unwrap_or(&[]);
            out.push(0x80 | significant.len() as u8);
            out.extend_from_slice(significant);
        }
        out.extend_from_slice(content);
        out
    }

    /// Encodes a dotted OID (our own constants only).
    pub fn oid(dotted: &str) -> Vec<u8> {
        let arcs: Vec<u64> = dotted.split('.').filter_map(|a| a.parse().ok()).collect();
        let mut content = Vec::new();
        let mut iter = arcs.iter();
        let first = iter.next().copied().unwrap_or(0);
        let second = iter.next().copied().unwrap_or(0);
        let mut push = |mut v: u64| {
            let mut tmp = vec![(v & 0x7F) as u8];
            v >>= 7;
            while v > 0 {
                tmp.push(0x80 | (v & 0x7F) as u8);
                v >>= 7;
            }
            tmp.reverse();
            content.extend(tmp);
        };
        push(first * 40 + second);
        for a in iter {
            push(*a);
        }
        tlv(OID, &content)
    }
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
