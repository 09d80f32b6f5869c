//! Generation: a fresh (or existing) RSA key with a self-signed certificate or a CSR,
//! carrying the subject and extensions the profile requires.
use openssl::asn1::{Asn1Integer, Asn1Object, Asn1OctetString, Asn1Time};
use openssl::bn::{BigNum, MsbOption};
use openssl::hash::MessageDigest;
use openssl::pkey::{Id, PKey, PKeyRef, Private};
use openssl::rsa::Rsa;
use openssl::stack::Stack;
use openssl::x509::extension::{BasicConstraints, KeyUsage, SubjectKeyIdentifier};
use openssl::x509::{X509Extension, X509Name, X509NameBuilder, X509Req, X509};

use super::der;
use super::{
    CertificateError, CertificateRequest, Sector, KEY_SIZES, OID_CERTIFICATE_POLICIES,
    OID_ORGANIZATION_IDENTIFIER, OID_URI, OID_USER_NOTICE, POLICY_AGID_CERT,
};
use crate::time::{Clock, SystemClock, Timestamp};

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
