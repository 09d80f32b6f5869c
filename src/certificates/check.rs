//! Checking: every departure of a certificate or CSR from the profile, and the subject
//! attributes for cross-checks with the metadata.

use openssl::pkey::{Id, PKeyRef, Public};
use openssl::x509::{X509Ref, X509ReqRef};

use super::der::{self, Extension};
use super::{
    is_country_code, Sector, KEY_SIZES, OID_BASIC_CONSTRAINTS, OID_CERTIFICATE_POLICIES,
    OID_EXTENSION_REQUEST, OID_KEY_USAGE, OID_ORGANIZATION_IDENTIFIER, OID_URI, POLICY_AGID_CERT,
};
use crate::dsig::keys::asn1_to_timestamp;
use crate::time::Timestamp;

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
    if asn1_to_timestamp(cert.not_after()).is_none_or(|t| t <= now) {
        problems.push(CertificateProblem::Expired);
    }
    if asn1_to_timestamp(cert.not_before()).is_none_or(|t| t > now) {
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
