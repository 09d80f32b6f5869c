//! CNS smart-card logins (docs/cns.md): every refusal of a card certificate with a test
//! PKI, the trusted list (the real TSL-IT snapshot and a synthetic one) verified with our
//! dsig and with xmlsec1, and the SAML signature policy left as strict as it was.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use spid_sp::cns::test_pki::{TestCard, TestPki, TEST_FISCAL_CODE};
use spid_sp::cns::tsl::{SERVICE_TYPE_IDV, TSL_LIMITS};
use spid_sp::cns::{
    CardKind, CnsPolicy, CnsRejection, CnsVerifier, Crl, TrustList, TslError, TslWarning,
};
use spid_sp::dsig::{self, DsigError, VerifyPolicy};
use spid_sp::xml::Limits;
use spid_sp::{FixedClock, IdentitySource, SpidLevel, Timestamp, VerificationKey};

#[path = "common/mod.rs"]
mod common;

const SNAPSHOT: &str = "metadata/tsl-it-seq141.xml";
const SNAPSHOT_SIGNER: &str = "metadata/agid-tsl-signer-2016.pem";

fn now() -> Timestamp {
    Timestamp::parse("2026-12-05T12:00:00Z").unwrap()
}

/// One PKI for the whole file (RSA key generation is the slow part).
fn pki() -> &'static TestPki {
    static PKI: OnceLock<TestPki> = OnceLock::new();
    PKI.get_or_init(|| TestPki::generate(now()).unwrap())
}

fn trust() -> TrustList {
    TrustList::from_ca_certificates(&pki().ca_pem()).unwrap()
}

fn crl() -> Crl {
    Crl::parse(&pki().crl_pem()).unwrap()
}

fn verify_with(card: TestCard, policy: CnsPolicy, crls: &[Crl]) -> Result<SpidLevel, CnsRejection> {
    CnsVerifier::new(policy)
        .verify(&pki().card_pem(card), &trust(), crls, &FixedClock(now()))
        .map(|l| l.level())
}

fn refused(card: TestCard) -> CnsRejection {
    verify_with(card, CnsPolicy::default(), &[crl()]).unwrap_err()
}

#[test]
fn a_valid_card_yields_the_fiscal_code_identity_at_level_2() {
    for input in [
        pki().card_pem(TestCard::Valid),
        pki().card_der(TestCard::Valid),
    ] {
        let login = CnsVerifier::default()
            .verify(&input, &trust(), &[crl()], &FixedClock(now()))
            .unwrap();
        assert_eq!(login.identity().source(), IdentitySource::Cns);
        assert_eq!(
            login.identity().fiscal_code().unwrap().as_str(),
            TEST_FISCAL_CODE
        );
        assert_eq!(login.level(), SpidLevel::L2);
        assert_eq!(login.kind(), CardKind::Cns);
        assert!(login.crl_checked());
        assert!(login.issuer().contains("TEST CNS CA"));
        // Debug carries no personal data.
        assert!(!format!("{login:?}").contains(TEST_FISCAL_CODE));
    }
}

#[test]
fn the_level_is_the_applications_choice() {
    assert_eq!(
        verify_with(
            TestCard::Valid,
            CnsPolicy::default().level(SpidLevel::L1),
            &[]
        ),
        Ok(SpidLevel::L1)
    );
}

#[test]
fn every_bad_card_is_refused_with_its_code() {
    let cases = [
        (TestCard::Expired, "cns-expired"),
        (TestCard::NotYetValid, "cns-not-yet-valid"),
        (TestCard::Revoked, "cns-revoked"),
        (TestCard::WrongPolicy, "cns-policy"),
        (TestCard::WrongKeyUsage, "cns-key-usage"),
        (TestCard::NoClientAuth, "cns-extended-key-usage"),
        (TestCard::UnknownCa, "cns-untrusted-issuer"),
        (TestCard::Cie, "cns-policy"),
        (TestCard::NoFiscalCode, "cns-subject"),
    ];
    for (card, code) in cases {
        let e = refused(card);
        assert_eq!(e.code(), code, "{card:?}: {e}");
        assert!(!e.to_string().contains(TEST_FISCAL_CODE));
    }
}

#[test]
fn a_card_issued_by_a_non_ca_is_refused_even_if_pinned() {
    let mut pins = pki().ca_pem();
    pins.extend(pki().not_a_ca_pem());
    let trust = TrustList::from_ca_certificates(&pins).unwrap();
    let e = CnsVerifier::default()
        .verify(
            &pki().card_pem(TestCard::IssuerNotCa),
            &trust,
            &[],
            &FixedClock(now()),
        )
        .unwrap_err();
    assert_eq!(e.code(), "cns-chain-invalid", "{e}");
}

#[test]
fn a_cie_card_is_accepted_only_when_the_application_opts_in() {
    let login = CnsVerifier::new(CnsPolicy::default().accept_cie(true))
        .verify(
            &pki().card_pem(TestCard::Cie),
            &trust(),
            &[crl()],
            &FixedClock(now()),
        )
        .unwrap();
    assert_eq!(login.kind(), CardKind::Cie);
    // An extra policy OID the application names is accepted as CNS.
    let policy = CnsPolicy::default().also_accept_policy("1.2.3.4.5.6");
    assert_eq!(
        verify_with(TestCard::WrongPolicy, policy, &[crl()]),
        Ok(SpidLevel::L2)
    );
}

#[test]
fn a_ca_certificate_or_garbage_is_not_a_card() {
    let v = CnsVerifier::default();
    let clock = FixedClock(now());
    let e = v
        .verify(&pki().ca_pem(), &trust(), &[], &clock)
        .unwrap_err();
    assert_eq!(e, CnsRejection::NotEndEntity);
    for junk in [
        &b""[..],
        b"not a certificate",
        b"-----BEGIN CERTIFICATE-----\nAAAA\n",
    ] {
        let e = v.verify(junk, &trust(), &[], &clock).unwrap_err();
        assert_eq!(e.code(), "cns-certificate-malformed");
    }
    let huge = vec![b'A'; 70_000];
    assert_eq!(
        v.verify(&huge, &trust(), &[], &clock).unwrap_err(),
        CnsRejection::Malformed
    );
}

#[test]
fn crl_rules() {
    let valid = TestCard::Valid;
    let expired = Crl::parse(&pki().expired_crl_pem()).unwrap();
    let forged = Crl::parse(&pki().forged_crl_pem()).unwrap();
    let d = CnsPolicy::default();
    assert_eq!(
        verify_with(valid, d.clone(), &[expired]),
        Err(CnsRejection::CrlExpired)
    );
    assert_eq!(
        verify_with(valid, d.clone(), &[forged]),
        Err(CnsRejection::CrlSignature)
    );
    // No CRL: accepted by default, refused when the application requires one.
    assert_eq!(verify_with(valid, d.clone(), &[]), Ok(SpidLevel::L2));
    assert_eq!(
        verify_with(valid, d.clone().require_crl(true), &[]),
        Err(CnsRejection::CrlMissing)
    );
    // A CRL of another issuer does not count.
    let other = Crl::parse(&pki().crl_pem()).unwrap();
    let unrelated = TrustList::from_ca_certificates(&pki().unlisted_ca_pem()).unwrap();
    let _ = unrelated;
    assert_eq!(
        verify_with(valid, d.clone().require_crl(true), &[other]),
        Ok(SpidLevel::L2)
    );
    // A CRL not yet valid at the clock.
    let early = CnsVerifier::default().verify(
        &pki().card_pem(valid),
        &trust(),
        &[crl()],
        &FixedClock(Timestamp::from_unix_seconds(
            now().unix_seconds() - 2 * 86_400,
        )),
    );
    assert_eq!(early.unwrap_err(), CnsRejection::CrlNotYetValid);
    assert_eq!(Crl::parse(b"junk").unwrap_err().code(), "cns-crl-malformed");
    // Several CRLs of the issuer: the newest current one decides; a forged one beside a
    // genuine one is ignored.
    let both = [
        Crl::parse(&pki().expired_crl_pem()).unwrap(),
        Crl::parse(&pki().forged_crl_pem()).unwrap(),
        crl(),
    ];
    assert_eq!(verify_with(valid, d.clone(), &both), Ok(SpidLevel::L2));
    assert_eq!(
        verify_with(TestCard::Revoked, d, &both),
        Err(CnsRejection::Revoked)
    );
}

/// A CRL only counts when it is complete for the card: a delta CRL, or one restricted to
/// another distribution point, says nothing about it.
#[test]
fn crls_that_do_not_cover_the_card_do_not_count() {
    use spid_sp::cns::test_pki::TEST_CRL_URI;
    let required = CnsPolicy::default().require_crl(true);
    let delta = Crl::parse(&pki().delta_crl_pem()).unwrap();
    let other =
        Crl::parse(&pki().partition_crl_pem("http://crl.cns-test.invalid/other.crl")).unwrap();
    let ours = Crl::parse(&pki().partition_crl_pem(TEST_CRL_URI)).unwrap();
    assert_eq!(
        verify_with(TestCard::Revoked, required.clone(), &[delta]),
        Err(CnsRejection::CrlMissing)
    );
    assert_eq!(
        verify_with(TestCard::Revoked, required.clone(), &[other]),
        Err(CnsRejection::CrlMissing)
    );
    assert_eq!(
        verify_with(TestCard::Revoked, required.clone(), &[ours]),
        Err(CnsRejection::Revoked)
    );
    let ours = Crl::parse(&pki().partition_crl_pem(TEST_CRL_URI)).unwrap();
    assert_eq!(
        verify_with(TestCard::Valid, required, &[ours]),
        Ok(SpidLevel::L2)
    );
}

/// What reverse proxies forward, decoded back to a certificate the verifier reads.
#[test]
fn proxy_header_forms_are_decoded() {
    use spid_sp::cns::certificate_from_header;
    let pem = String::from_utf8(pki().card_pem(TestCard::Valid)).unwrap();
    let b64 = {
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        body
    };
    // nginx $ssl_client_escaped_cert: URL-encoded PEM.
    let escaped: String = pem
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    // nginx $ssl_client_cert: continuation lines start with a tab.
    let tabbed = pem.trim_end().replace('\n', "\n\t");
    // Apache forwarded with spaces for newlines.
    let spaced = pem.trim_end().replace('\n', " ");
    let v = CnsVerifier::default();
    let clock = FixedClock(now());
    for form in [escaped, tabbed, spaced, pem.clone(), b64] {
        let bytes = certificate_from_header(form.as_bytes()).unwrap();
        let login = v.verify(&bytes, &trust(), &[crl()], &clock).unwrap();
        assert_eq!(
            login.identity().fiscal_code().unwrap().as_str(),
            TEST_FISCAL_CODE
        );
    }
    for junk in [
        &b""[..],
        b"%zz",
        b"-----BEGIN CERTIFICATE----- AAAA",
        b"not base64 !",
        b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\ntrailing",
    ] {
        assert_eq!(
            certificate_from_header(junk).unwrap_err(),
            CnsRejection::Malformed
        );
    }
}

#[test]
fn an_empty_or_unreadable_pin_set_is_refused() {
    assert_eq!(
        TrustList::from_ca_certificates(b"").unwrap_err(),
        TslError::Empty
    );
    assert_eq!(
        TrustList::from_ca_certificates(
            b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
        )
        .unwrap_err(),
        TslError::Certificate
    );
}

fn synthetic(sequence: u64) -> String {
    let day = 86_400;
    pki()
        .trust_list_xml(
            sequence,
            Timestamp::from_unix_seconds(now().unix_seconds() - day),
            Timestamp::from_unix_seconds(now().unix_seconds() + 180 * day),
        )
        .unwrap()
}

fn signer() -> Vec<VerificationKey> {
    vec![VerificationKey::from_certificate_pem(&pki().tsl_signer_pem()).unwrap()]
}

#[test]
fn the_synthetic_trust_list_verifies_and_selects_only_idv_services() {
    let list = TrustList::from_tsl(&synthetic(7), &signer()).unwrap();
    assert_eq!(list.info().unwrap().sequence_number, 7);
    assert_eq!(list.cas().len(), 1, "the CA/QC service is not a CNS issuer");
    assert!(list.cas()[0].service_name().contains("TEST CNS CA"));
    // A card of the listed CA logs in; one of the CA/QC-listed CA does not.
    let v = CnsVerifier::default();
    let clock = FixedClock(now());
    v.verify(&pki().card_pem(TestCard::Valid), &list, &[crl()], &clock)
        .unwrap();
    assert_eq!(
        v.verify(&pki().card_pem(TestCard::UnknownCa), &list, &[], &clock)
            .unwrap_err(),
        CnsRejection::UntrustedIssuer
    );
    // Before the service's status started, no CA is active.
    let before = FixedClock(Timestamp::from_unix_seconds(
        now().unix_seconds() - 400 * 86_400,
    ));
    assert_eq!(
        v.verify(&pki().card_pem(TestCard::Valid), &list, &[], &before)
            .unwrap_err(),
        CnsRejection::NoTrustAnchor
    );
}

#[test]
fn a_tampered_or_foreign_trust_list_is_refused() {
    let xml = synthetic(7);
    let tampered = xml.replace("spid-sp TEST provider", "spid-sp TEST provideR");
    assert_eq!(
        TrustList::from_tsl(&tampered, &signer()).unwrap_err(),
        TslError::Signature(DsigError::DigestMismatch)
    );
    let props = xml.replace("<xades:SigningTime>", "<xades:SigningTime>1");
    assert_eq!(
        TrustList::from_tsl(&props, &signer()).unwrap_err().code(),
        "tsl-signature"
    );
    let other = VerificationKey::from_certificate_pem(&pki().ca_pem()).unwrap();
    assert_eq!(
        TrustList::from_tsl(&xml, &[other]).unwrap_err(),
        TslError::Signature(DsigError::Invalid)
    );
    assert_eq!(
        TrustList::from_tsl(&xml, &[]).unwrap_err(),
        TslError::Signature(DsigError::NoKey)
    );
}

#[test]
fn refresh_keeps_the_last_good_copy_and_refuses_a_rollback() {
    let current = TrustList::from_tsl(&synthetic(7), &signer()).unwrap();
    let older = current.refresh(&synthetic(6), &signer()).unwrap_err();
    assert_eq!(older, TslError::Rollback { new: 6, current: 7 });
    assert_eq!(older.code(), "tsl-rollback");
    let newer = current.refresh(&synthetic(8), &signer()).unwrap();
    assert_eq!(newer.info().unwrap().sequence_number, 8);
    assert!(current.refresh("<x/>", &signer()).is_err());
    assert_eq!(current.info().unwrap().sequence_number, 7);
}

#[test]
fn expiry_warnings() {
    let list = TrustList::from_tsl(&synthetic(7), &signer()).unwrap();
    let next = list.info().unwrap().next_update.unwrap();
    assert!(list.warnings(now()).is_empty());
    let soon = Timestamp::from_unix_seconds(next.unix_seconds() - 86_400);
    assert_eq!(
        list.warnings(soon),
        vec![TslWarning::ExpiresSoon { next_update: next }]
    );
    assert_eq!(list.warnings(next)[0].code(), "tsl-expired");
}

fn snapshot() -> (String, Vec<VerificationKey>) {
    let xml = std::fs::read_to_string(SNAPSHOT).unwrap();
    let pem = std::fs::read(SNAPSHOT_SIGNER).unwrap();
    (
        xml,
        vec![VerificationKey::from_certificate_pem(&pem).unwrap()],
    )
}

#[test]
fn the_real_tsl_it_snapshot_verifies_with_our_dsig_and_lists_the_cns_cas() {
    let (xml, keys) = snapshot();
    let info = dsig::verify_trusted_list(&xml, &TSL_LIMITS, &keys).unwrap();
    assert_eq!(info.key_index, 0);
    let list = TrustList::from_tsl(&xml, &keys).unwrap();
    let tsl = list.info().unwrap();
    assert_eq!(tsl.sequence_number, 141);
    assert_eq!(tsl.territory, "IT");
    assert_eq!(
        tsl.issued,
        Timestamp::parse("2019-09-04T08:00:00Z").unwrap()
    );
    // 119 IdV services; each carries one certificate.
    assert_eq!(list.cas().len(), 119);
    assert!(list.cas().iter().any(|ca| ca
        .service_name()
        .contains("Actalis CA per Autenticazione CNS 2")));
    // Inside its validity (clock injected in September 2019): no warning, CAs active.
    let in_2019 = Timestamp::parse("2019-09-10T00:00:00Z").unwrap();
    assert!(list.warnings(in_2019).is_empty());
    assert!(list.active_at(in_2019).count() > 100);
    // Today it is long expired: NextUpdate was 2020-02-27.
    let next = Timestamp::parse("2020-02-27T00:00:00Z").unwrap();
    assert_eq!(
        list.warnings(now()),
        vec![TslWarning::Expired { next_update: next }]
    );
    // The service type the selection uses is the one AgID lists CNS CAs under.
    assert_eq!(SERVICE_TYPE_IDV, "http://uri.etsi.org/TrstSvc/Svctype/IdV");
}

#[test]
fn the_real_snapshot_tampered_is_refused() {
    let (xml, keys) = snapshot();
    let tampered = xml.replacen(
        "Actalis CA per Autenticazione CNS 2",
        "Actalis CA per Autenticazione CNS 3",
        1,
    );
    assert_eq!(
        TrustList::from_tsl(&tampered, &keys).unwrap_err(),
        TslError::Signature(DsigError::DigestMismatch)
    );
}

/// The SAML path is not loosened: the same signatures, with the most permissive SAML
/// policy, are refused — the real list (it has a ds:Object), and the synthetic list
/// without its ds:Object (two References).
#[test]
fn the_saml_policy_still_refuses_two_references_and_objects() {
    let permissive = VerifyPolicy {
        id_attribute: "Id",
        allow_whole_document: true,
        ..VerifyPolicy::default()
    };
    let (xml, keys) = snapshot();
    assert!(dsig::verify_document(&xml, &Limits::METADATA, &keys, &permissive).is_err());
    // SAML's message limits refuse a 2 MB list outright.
    assert!(spid_sp::xml::check(&xml, &Limits::MESSAGE).is_err());
    let synthetic = synthetic(7);
    let start = synthetic.find("<ds:Object>").unwrap();
    let end = synthetic.find("</ds:Object>").unwrap() + "</ds:Object>".len();
    let no_object = format!("{}{}", &synthetic[..start], &synthetic[end..]);
    assert_eq!(
        dsig::verify_document(&no_object, &Limits::METADATA, &signer(), &permissive),
        Err(DsigError::Reference)
    );
    // And the trusted-list path refuses a single-reference (SAML-shaped) signature.
    let key = pki().tsl_signer();
    let saml_style = dsig::sign_enveloped(
        "<TrustServiceStatusList xmlns=\"http://uri.etsi.org/02231/v2#\" ID=\"x\"><a/></TrustServiceStatusList>",
        key,
        dsig::SignatureAlgorithm::RsaSha256,
        dsig::SignatureAnchor::First,
    )
    .unwrap();
    assert!(dsig::verify_trusted_list(&saml_style, &TSL_LIMITS, &signer()).is_err());
}

fn xmlsec1_verifies(file: &Path, cert: &Path) -> Result<(), String> {
    let out = Command::new("xmlsec1")
        .args([
            "--verify",
            "--enabled-key-data",
            "rsa",
            "--id-attr:Id",
            "TrustServiceStatusList",
            "--id-attr:Id",
            "http://uri.etsi.org/01903/v1.3.2#:SignedProperties",
            "--pubkey-cert-pem",
        ])
        .arg(cert)
        .arg(file)
        .output()
        .map_err(|e| e.to_string())?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.success() && stderr.starts_with("OK") {
        Ok(())
    } else {
        Err(stderr.into_owned())
    }
}

fn tmp(name: &str, content: &[u8]) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cns");
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, content).unwrap();
    p
}

#[test]
fn xmlsec1_oracle_verifies_the_real_snapshot_and_the_synthetic_list() {
    if !common::tools_available(&["xmlsec1"], "xmlsec1", "CNS oracle tests") {
        return;
    }
    xmlsec1_verifies(Path::new(SNAPSHOT), Path::new(SNAPSHOT_SIGNER)).unwrap();
    let xml = tmp("synthetic-tsl.xml", synthetic(7).as_bytes());
    let cert = tmp("tsl-signer.pem", &pki().tsl_signer_pem());
    xmlsec1_verifies(&xml, &cert).unwrap();
    // The oracle refuses what we refuse.
    let bad = tmp(
        "synthetic-tampered.xml",
        synthetic(7)
            .replace("spid-sp TEST provider", "x")
            .as_bytes(),
    );
    assert!(xmlsec1_verifies(&bad, &cert).is_err());
}

#[test]
fn the_test_pki_files_are_complete() {
    let files = pki().files().unwrap();
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    for needed in [
        "ca.pem",
        "trust-list.xml",
        "crl.pem",
        "card-valid.pem",
        "card-valid.p12",
        "card.key.pem",
        "tsl-signer.pem",
    ] {
        assert!(names.contains(&needed), "{needed}");
    }
    // The cards carry the CNS policy and key usage, as openssl itself reads them.
    let text = Command::new("openssl")
        .args(["x509", "-noout", "-text"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin
                .take()
                .unwrap()
                .write_all(&pki().card_pem(TestCard::Valid))?;
            c.wait_with_output()
        })
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("Policy: 1.3.76.16.2.1"), "{text}");
    assert!(text.contains("TLS Web Client Authentication"));
    assert!(text.contains("Digital Signature"));
}

/// The `refresh` feature's download: served by a one-shot loopback server, verified,
/// a rollback refused with the current list kept.
#[cfg(feature = "refresh")]
#[test]
fn fetch_trust_list_downloads_and_verifies() {
    use spid_sp::cns::{fetch_trust_list, TslRefreshError};
    use spid_sp::metadata::{Fetcher, PlainHttp};
    use std::io::{Read, Write};
    use std::net::TcpListener;

    fn serve(body: String) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/TSL-IT.xml", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            s.write_all(head.as_bytes()).unwrap();
            s.write_all(body.as_bytes()).unwrap();
        });
        url
    }

    let fetcher = Fetcher::new(std::time::Duration::from_secs(10))
        .allow_plain_http(PlainHttp::OnlyForLoopbackTests);
    let current = TrustList::from_tsl(&synthetic(7), &signer()).unwrap();
    let newer = fetch_trust_list(&fetcher, &serve(synthetic(8)), &current, &signer()).unwrap();
    assert_eq!(newer.info().unwrap().sequence_number, 8);
    let e = fetch_trust_list(&fetcher, &serve(synthetic(5)), &current, &signer()).unwrap_err();
    assert_eq!(
        e,
        TslRefreshError::Rejected(TslError::Rollback { new: 5, current: 7 })
    );
    // Plain http from a non-loopback host is refused before any request.
    let strict = Fetcher::new(std::time::Duration::from_secs(1));
    let e = fetch_trust_list(&strict, "http://127.0.0.1:9/x", &current, &signer()).unwrap_err();
    assert_eq!(e.code(), "tsl-fetch");
}

/// The `refresh` feature's CRL download: a CRL served by a loopback server is parsed and
/// then revokes the revoked card; garbage and a refused URL are typed errors.
#[cfg(all(feature = "refresh", feature = "test-idp"))]
#[test]
fn fetch_crl_downloads_a_crl_that_then_revokes() {
    use spid_sp::cns::test_pki::{TestCard, TestPki};
    use spid_sp::cns::{fetch_crl, CnsPolicy, CnsVerifier, CrlFetchError};
    use spid_sp::metadata::{Fetcher, PlainHttp};
    use spid_sp::{Clock, SystemClock};
    use std::io::{Read, Write};
    use std::net::TcpListener;

    fn serve(body: Vec<u8>) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/ca.crl", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/pkix-crl\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            s.write_all(head.as_bytes()).unwrap();
            s.write_all(&body).unwrap();
        });
        url
    }

    let now = SystemClock.now();
    let pki = TestPki::generate(now).unwrap();
    let trust = TrustList::from_ca_certificates(&pki.ca_pem()).unwrap();
    let fetcher = Fetcher::new(std::time::Duration::from_secs(10))
        .allow_plain_http(PlainHttp::OnlyForLoopbackTests);
    let crl = fetch_crl(&fetcher, &serve(pki.crl_pem())).unwrap();
    let verifier = CnsVerifier::new(CnsPolicy::default().require_crl(true));
    let e = verifier
        .verify(
            &pki.card_pem(TestCard::Revoked),
            &trust,
            &[crl],
            &SystemClock,
        )
        .unwrap_err();
    assert_eq!(e.code(), "cns-revoked");

    let e = fetch_crl(&fetcher, &serve(b"not a crl".to_vec())).unwrap_err();
    assert!(matches!(e, CrlFetchError::Rejected(_)), "{e:?}");
    let strict = Fetcher::new(std::time::Duration::from_secs(1));
    let e = fetch_crl(&strict, "http://127.0.0.1:9/x").unwrap_err();
    assert_eq!(e.code(), "crl-fetch");
}
