//! SP certificates (Avviso SPID n.29 v3): generation and the compliance check.
//! AgID's own validator runs on the CLI's output in `tests/cert-validator.sh`.

use openssl::asn1::Asn1Time;
use openssl::bn::BigNum;
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::rsa::Rsa;
use openssl::x509::extension::{BasicConstraints, KeyUsage};
use openssl::x509::{X509Builder, X509NameBuilder, X509};
use spid_sp::certificates::{
    check_certificate, check_certificate_at, check_csr, csr_for_key, generate_csr,
    generate_self_signed, generate_self_signed_at, self_signed_for_key, subject_of,
    CertificateError, CertificateProblem as P, CertificateRequest, Sector,
};
use spid_sp::{SigningKey, Timestamp};

fn public_request() -> CertificateRequest {
    let mut req = CertificateRequest::new(
        Sector::Public,
        "Comune di Forlì",
        "Comune di Forlì",
        "https://servizi.comune.forli.fc.it/spid",
        "PA:IT-c_d704",
        "Forlì",
    );
    req.key_bits = 2048;
    req
}

fn private_request() -> CertificateRequest {
    let mut req = CertificateRequest::new(
        Sector::Private,
        "ACME",
        "A Company Making Everything S.p.A.",
        "https://spid.acme.example/sp",
        "VATIT-12345678901",
        "Milano",
    );
    req.key_bits = 2048;
    req
}

fn at(s: &str) -> Timestamp {
    Timestamp::parse(s).unwrap()
}

#[test]
fn public_self_signed_is_compliant() {
    let req = public_request();
    let (key, cert) = generate_self_signed_at(&req, at("2026-01-01T00:00:00Z")).unwrap();
    assert_eq!(check_certificate(&cert, Sector::Public), vec![]);
    assert_eq!(
        check_certificate_at(&cert, Sector::Public, at("2026-06-01T00:00:00Z")),
        vec![]
    );
    // Self-signed, with the key returned, and usable as the SP signing key.
    assert!(cert.verify(&key).unwrap());
    let signing = SigningKey::new(key, cert.clone()).unwrap();
    assert_eq!(signing.bits(), 2048);
    // Validity: exactly `days` days from not_before.
    let expected_end = Asn1Time::from_unix(
        at("2026-01-01T00:00:00Z").unix_seconds() + i64::from(req.days) * 86_400,
    )
    .unwrap();
    assert_eq!(
        cert.not_after().compare(&expected_end).unwrap(),
        std::cmp::Ordering::Equal
    );
    // The subject carries what the metadata must repeat.
    let subject = subject_of(&cert);
    assert_eq!(subject.common_name.as_deref(), Some("Comune di Forlì"));
    assert_eq!(
        subject.organization_name.as_deref(),
        Some("Comune di Forlì")
    );
    assert_eq!(
        subject.uri.as_deref(),
        Some("https://servizi.comune.forli.fc.it/spid")
    );
    assert_eq!(
        subject.organization_identifier.as_deref(),
        Some("PA:IT-c_d704")
    );
    assert_eq!(subject.country.as_deref(), Some("IT"));
    assert_eq!(subject.locality.as_deref(), Some("Forlì"));
    // The wrong sector is reported: organizationIdentifier form and policy.
    let problems = check_certificate(&cert, Sector::Private);
    assert!(problems.contains(&P::PolicyMissing("1.3.76.16.4.3.1")));
    assert!(problems.iter().any(|p| matches!(
        p,
        P::OrganizationIdentifier {
            sector: Sector::Private,
            ..
        }
    )));
}

#[test]
fn private_csr_is_compliant_and_self_signed_private_too() {
    let req = private_request();
    let (key, csr) = generate_csr(&req).unwrap();
    assert!(csr.verify(&key).unwrap());
    assert_eq!(check_csr(&csr, Sector::Private), vec![]);
    assert!(check_csr(&csr, Sector::Public).contains(&P::PolicyMissing("1.3.76.16.4.2.1")));
    // A CSR for an existing key (renewal) uses that key.
    let again = csr_for_key(&req, &key).unwrap();
    assert!(again.public_key().unwrap().public_eq(&key));
    // Self-signed private certificates (test environments) are compliant too.
    let (_, cert) = generate_self_signed(&req).unwrap();
    assert_eq!(check_certificate(&cert, Sector::Private), vec![]);
    // Fiscal-code form of organizationIdentifier.
    let mut cf = private_request();
    cf.organization_identifier = "CF:IT-RSSMRA80A01H501U".into();
    let (_, csr) = generate_csr(&cf).unwrap();
    assert_eq!(check_csr(&csr, Sector::Private), vec![]);
}

#[test]
fn renewal_keeps_the_key() {
    let req = public_request();
    let (key, first) = generate_self_signed(&req).unwrap();
    let renewed = self_signed_for_key(&req, &key, at("2027-01-01T00:00:00Z")).unwrap();
    assert!(renewed
        .public_key()
        .unwrap()
        .public_eq(&first.public_key().unwrap()));
    assert_ne!(
        renewed.serial_number().to_bn().unwrap(),
        first.serial_number().to_bn().unwrap()
    );
    assert_eq!(check_certificate(&renewed, Sector::Public), vec![]);
}

#[test]
fn expired_and_not_yet_valid() {
    let mut req = public_request();
    req.days = 1;
    let (_, cert) = generate_self_signed_at(&req, at("2020-01-01T00:00:00Z")).unwrap();
    assert_eq!(
        check_certificate_at(&cert, Sector::Public, at("2026-01-01T00:00:00Z")),
        vec![P::Expired]
    );
    assert_eq!(
        check_certificate_at(&cert, Sector::Public, at("2019-12-31T00:00:00Z")),
        vec![P::NotYetValid]
    );
}

#[test]
fn invalid_requests_are_refused_with_the_field() {
    type Mutation = fn(&mut CertificateRequest);
    let cases: Vec<(Mutation, &str)> = vec![
        (
            |r| r.organization_identifier = "VATIT-12345678901".into(),
            "organization identifier",
        ),
        (
            |r| r.organization_identifier = "PA:IT-".into(),
            "organization identifier",
        ),
        (|r| r.country = "it".into(), "country"),
        (|r| r.country = "XX".into(), "country"),
        (|r| r.key_bits = 1024, "key size"),
        (|r| r.key_bits = 2047, "key size"),
        (|r| r.common_name = String::new(), "common name"),
        (|r| r.common_name = " AgID".into(), "common name"),
        (
            |r| r.organization_name = "x".repeat(65),
            "organization name",
        ),
        (|r| r.locality = "Roma\n".into(), "locality"),
        (|r| r.entity_id = "spid.example.it".into(), "entity ID"),
        (|r| r.days = 0, "validity"),
    ];
    for (mutate, field) in cases {
        let mut req = public_request();
        mutate(&mut req);
        match generate_self_signed(&req) {
            Err(CertificateError::Invalid { field: f, .. }) => assert_eq!(f, field),
            other => panic!("{field}: expected invalid, got {other:?}"),
        }
        assert!(generate_csr(&req).is_err());
    }
    assert_eq!("PUBLIC".parse::<Sector>().unwrap(), Sector::Public);
    assert!("semi-public".parse::<Sector>().is_err());
}

/// A certificate breaking many rules at once: every one is listed.
#[test]
fn every_problem_is_listed() {
    let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", "Mario Rossi").unwrap();
    name.append_entry_by_text("SN", "Rossi").unwrap();
    name.append_entry_by_text("GN", "Mario").unwrap();
    name.append_entry_by_text("C", "IT").unwrap();
    name.append_entry_by_text("O", "").ok(); // refused by OpenSSL: stays absent
    name.append_entry_by_text("2.5.4.97", "IT-12345").unwrap();
    let name = name.build();
    let mut b = X509Builder::new().unwrap();
    b.set_version(2).unwrap();
    b.set_serial_number(&BigNum::from_u32(7).unwrap().to_asn1_integer().unwrap())
        .unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_issuer_name(&name).unwrap();
    b.set_pubkey(&key).unwrap();
    b.set_not_before(&Asn1Time::from_unix(1_600_000_000).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::from_unix(1_700_000_000).unwrap())
        .unwrap();
    b.append_extension(BasicConstraints::new().critical().ca().build().unwrap())
        .unwrap();
    b.append_extension(
        KeyUsage::new()
            .digital_signature()
            .key_encipherment()
            .key_cert_sign()
            .build()
            .unwrap(),
    )
    .unwrap();
    b.sign(&key, MessageDigest::sha384()).unwrap();
    let cert = b.build();
    let problems = check_certificate_at(&cert, Sector::Public, at("2026-01-01T00:00:00Z"));
    let expected = [
        P::SignatureAlgorithm {
            found: "sha384WithRSAEncryption".into(),
        },
        P::ForbiddenAttribute("surname"),
        P::ForbiddenAttribute("givenName"),
        P::MissingAttribute("organizationName"),
        P::MissingAttribute("uri"),
        P::MissingAttribute("localityName"),
        P::OrganizationIdentifier {
            sector: Sector::Public,
            expected: "PA:IT-<IPA code>",
        },
        P::KeyUsageNotCritical,
        P::KeyUsageBitMissing("nonRepudiation"),
        P::KeyUsageBitForbidden("keyEncipherment"),
        P::KeyUsageBitForbidden("keyCertSign"),
        P::BasicConstraintsCritical,
        P::BasicConstraintsCa,
        P::PoliciesMissing,
        P::Expired,
    ];
    for e in &expected {
        assert!(problems.contains(e), "missing {e:?} in {problems:?}");
    }
    assert_eq!(problems.len(), expected.len(), "{problems:?}");
    // Messages are lower-case rules, with no subject values in them.
    for p in &problems {
        let msg = p.to_string();
        assert!(!msg.contains("Rossi") && !msg.contains("Mario"), "{msg}");
    }
}

/// A real certificate from the field: spid-sp-test's IdP certificate is not an SP
/// certificate, and the check says why.
#[test]
fn spid_sp_test_idp_certificate_is_not_an_sp_certificate() {
    let pem = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/metadata/testing/spid-sp-test-idp.crt"
    ))
    .unwrap();
    let cert = X509::from_pem(&pem).unwrap();
    let problems = check_certificate_at(&cert, Sector::Public, at("2026-01-01T00:00:00Z"));
    for e in [
        P::MissingAttribute("uri"),
        P::MissingAttribute("organizationIdentifier"),
        P::KeyUsageMissing,
        P::PoliciesMissing,
        P::Expired,
    ] {
        assert!(problems.contains(&e), "missing {e:?} in {problems:?}");
    }
}

#[test]
fn key_sizes_and_garbage() {
    for bits in [3072, 4096] {
        let mut req = private_request();
        req.key_bits = bits;
        let (key, csr) = generate_csr(&req).unwrap();
        assert_eq!(key.bits(), bits);
        assert_eq!(check_csr(&csr, Sector::Private), vec![]);
    }
    // A 1024-bit key is refused for renewal and reported in a certificate.
    let small = PKey::from_rsa(Rsa::generate(1024).unwrap()).unwrap();
    assert_eq!(
        self_signed_for_key(&public_request(), &small, at("2026-01-01T00:00:00Z")).unwrap_err(),
        CertificateError::Key
    );
}
