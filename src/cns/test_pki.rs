//! **TEST ONLY — never for production.** A complete throw-away PKI for CNS logins: a test
//! CA, card certificates good and bad, CRLs, and a synthetic trusted list (TS 119 612,
//! XAdES-signed by a test TSL signer) naming the test CA as an IdV service. Every name
//! says `TEST` and `NOT FOR PRODUCTION`; the keys are generated fresh, in memory.
//!
//! ```
//! use spid_sp::cns::test_pki::{TestCard, TestPki};
//! use spid_sp::cns::{CnsPolicy, CnsVerifier, Crl, TrustList};
//! use spid_sp::{FixedClock, Timestamp};
//!
//! let now = Timestamp::parse("2026-12-05T12:00:00Z").unwrap();
//! let pki = TestPki::generate(now).unwrap();
//! let trust = TrustList::from_ca_certificates(&pki.ca_pem()).unwrap();
//! let crl = Crl::parse(&pki.crl_pem()).unwrap();
//! let login = CnsVerifier::new(CnsPolicy::default())
//!     .verify(&pki.card_pem(TestCard::Valid), &trust, &[crl], &FixedClock(now))
//!     .unwrap();
//! assert_eq!(login.identity().fiscal_code().unwrap().as_str(), "RSSMRA80A01H501U");
//! ```

use openssl::asn1::{Asn1Integer, Asn1Object, Asn1OctetString, Asn1Time};
use openssl::bn::BigNum;
use openssl::error::ErrorStack;
use openssl::hash::MessageDigest;
use openssl::pkcs12::Pkcs12;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::x509::extension::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectKeyIdentifier,
};
use openssl::x509::{X509Crl, X509CrlBuilder, X509Extension, X509Name, X509RevokedBuilder, X509};

use crate::certificates::der;
use crate::dsig::{DsigError, SignatureAlgorithm, SigningKey};
use crate::time::Timestamp;

/// The fiscal code of every test card (a valid, invented code).
pub const TEST_FISCAL_CODE: &str = "RSSMRA80A01H501U";
/// The common name of the test cards, in the CNS layout `<CF>/<card id>.<hash>`.
pub const TEST_CARD_CN: &str = "RSSMRA80A01H501U/6000000012345671.Vt29+2ftdCo626anJTmB7xkUAac=";
/// The CRL distribution point every test card names.
pub const TEST_CRL_URI: &str = "http://crl.cns-test.invalid/ca.crl";
/// The password of the PKCS#12 files [`TestPki::files`] writes (for browsers and curl).
pub const TEST_P12_PASSWORD: &str = "test";
const DAY: i64 = 86_400;

/// The test cards [`TestPki`] issues, one per rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TestCard {
    /// A good CNS card: policy 1.3.76.16.2.1, digitalSignature, clientAuth.
    Valid,
    /// notAfter ten days before `now`.
    Expired,
    /// notBefore ten days after `now`.
    NotYetValid,
    /// On the test CA's CRL.
    Revoked,
    /// A certificate policy that is not the CNS one.
    WrongPolicy,
    /// keyUsage nonRepudiation only (a signing certificate).
    WrongKeyUsage,
    /// extendedKeyUsage emailProtection only.
    NoClientAuth,
    /// Issued by a CA that is not in the trust list.
    UnknownCa,
    /// A CIE card certificate (policy 1.3.76.47.4).
    Cie,
    /// A good CNS card whose subject carries no fiscal code.
    NoFiscalCode,
    /// Issued by a certificate that is not a CA (basicConstraints cA false), which
    /// [`TestPki::not_a_ca_pem`] gives to pin beside the CA.
    IssuerNotCa,
}

impl TestCard {
    /// Every test card.
    pub const ALL: [TestCard; 11] = [
        TestCard::Valid,
        TestCard::Expired,
        TestCard::NotYetValid,
        TestCard::Revoked,
        TestCard::WrongPolicy,
        TestCard::WrongKeyUsage,
        TestCard::NoClientAuth,
        TestCard::UnknownCa,
        TestCard::Cie,
        TestCard::NoFiscalCode,
        TestCard::IssuerNotCa,
    ];

    /// A file-name friendly name (`valid`, `expired`, …).
    pub fn name(self) -> &'static str {
        match self {
            TestCard::Valid => "valid",
            TestCard::Expired => "expired",
            TestCard::NotYetValid => "not-yet-valid",
            TestCard::Revoked => "revoked",
            TestCard::WrongPolicy => "wrong-policy",
            TestCard::WrongKeyUsage => "wrong-key-usage",
            TestCard::NoClientAuth => "no-client-auth",
            TestCard::UnknownCa => "unknown-ca",
            TestCard::Cie => "cie",
            TestCard::NoFiscalCode => "no-fiscal-code",
            TestCard::IssuerNotCa => "issuer-not-a-ca",
        }
    }
}

/// A generated test PKI (keys in memory). Test only.
pub struct TestPki {
    now: Timestamp,
    ca_key: PKey<Private>,
    ca: X509,
    other_ca_key: PKey<Private>,
    other_ca: X509,
    not_a_ca_key: PKey<Private>,
    not_a_ca: X509,
    card_key: PKey<Private>,
    cards: Vec<(TestCard, X509)>,
    tsl_signer: SigningKey,
}

impl TestPki {
    /// Generates the PKI around `now`: the CA valid from a year before to ten years after,
    /// cards valid from thirty days before to a year after (except the dated ones).
    pub fn generate(now: Timestamp) -> Result<TestPki, ErrorStack> {
        let ca_key = rsa_key()?;
        let ca = ca_certificate(&ca_key, "SPID-SP TEST CNS CA - NOT FOR PRODUCTION", now, 1)?;
        let other_ca_key = rsa_key()?;
        let other_ca = ca_certificate(
            &other_ca_key,
            "SPID-SP TEST UNLISTED CA - NOT FOR PRODUCTION",
            now,
            2,
        )?;
        let not_a_ca_key = rsa_key()?;
        let not_a_ca = issuer_certificate(
            &not_a_ca_key,
            "SPID-SP TEST NOT-A-CA ISSUER - NOT FOR PRODUCTION",
            now,
            4,
            false,
        )?;
        let card_key = rsa_key()?;
        let tsl_key = rsa_key()?;
        let tsl_cert = ca_certificate(
            &tsl_key,
            "SPID-SP TEST TSL SIGNER - NOT FOR PRODUCTION",
            now,
            3,
        )?;
        let tsl_signer = SigningKey::new(tsl_key, tsl_cert).map_err(|_| ErrorStack::get())?;
        let mut pki = TestPki {
            now,
            ca_key,
            ca,
            other_ca_key,
            other_ca,
            not_a_ca_key,
            not_a_ca,
            card_key,
            cards: Vec::new(),
            tsl_signer,
        };
        for (serial, card) in (0x1000u32..).zip(TestCard::ALL) {
            let cert = pki.card(card, serial)?;
            pki.cards.push((card, cert));
        }
        Ok(pki)
    }

    fn card(&self, card: TestCard, serial: u32) -> Result<X509, ErrorStack> {
        let now = self.now.unix_seconds();
        let (from, to) = match card {
            TestCard::Expired => (now - 400 * DAY, now - 10 * DAY),
            TestCard::NotYetValid => (now + 10 * DAY, now + 400 * DAY),
            _ => (now - 30 * DAY, now + 365 * DAY),
        };
        let (issuer, issuer_key) = match card {
            TestCard::UnknownCa => (&self.other_ca, &self.other_ca_key),
            TestCard::IssuerNotCa => (&self.not_a_ca, &self.not_a_ca_key),
            _ => (&self.ca, &self.ca_key),
        };
        let policy = match card {
            TestCard::WrongPolicy => "1.2.3.4.5.6",
            TestCard::Cie => super::POLICY_CIE,
            _ => super::POLICY_CNS,
        };
        let mut name = X509Name::builder()?;
        name.append_entry_by_text("C", "IT")?;
        name.append_entry_by_text("O", "spid-sp TEST PKI - NOT FOR PRODUCTION")?;
        name.append_entry_by_text("OU", "Test CNS issuer")?;
        match card {
            TestCard::NoFiscalCode => name.append_entry_by_text("CN", "TEST CARD WITHOUT CF")?,
            _ => name.append_entry_by_text("CN", TEST_CARD_CN)?,
        }
        let name = name.build();
        let mut b = X509::builder()?;
        b.set_version(2)?;
        b.set_serial_number((serial_number(serial)?).as_ref())?;
        b.set_subject_name(&name)?;
        b.set_issuer_name(issuer.subject_name())?;
        b.set_not_before((Asn1Time::from_unix(from)?).as_ref())?;
        b.set_not_after((Asn1Time::from_unix(to)?).as_ref())?;
        b.set_pubkey(&self.card_key)?;
        b.append_extension(BasicConstraints::new().critical().build()?)?;
        let ku = match card {
            TestCard::WrongKeyUsage => KeyUsage::new().critical().non_repudiation().build()?,
            _ => KeyUsage::new()
                .critical()
                .digital_signature()
                .key_encipherment()
                .build()?,
        };
        b.append_extension(ku)?;
        let eku = match card {
            TestCard::NoClientAuth => ExtendedKeyUsage::new().email_protection().build()?,
            _ => ExtendedKeyUsage::new()
                .client_auth()
                .email_protection()
                .build()?,
        };
        b.append_extension(eku)?;
        b.append_extension(policies(policy)?)?;
        let uri = der::tlv(0x86, TEST_CRL_URI.as_bytes());
        let full_name = der::tlv(0xA0, &der::tlv(0xA0, &uri));
        let crldp = der::tlv(der::SEQUENCE, &der::tlv(der::SEQUENCE, &full_name));
        b.append_extension(extension("2.5.29.31", &crldp, false)?)?;
        let ctx = b.x509v3_context(Some(issuer), None);
        let ski = SubjectKeyIdentifier::new().build(&ctx)?;
        let aki = AuthorityKeyIdentifier::new().keyid(true).build(&ctx)?;
        b.append_extension(ski)?;
        b.append_extension(aki)?;
        b.sign(issuer_key, MessageDigest::sha256())?;
        Ok(b.build())
    }

    /// The test CA certificate (PEM): what
    /// [`TrustList::from_ca_certificates`](super::TrustList::from_ca_certificates) pins.
    pub fn ca_pem(&self) -> Vec<u8> {
        self.ca.to_pem().unwrap_or_default()
    }

    /// The CA that is in no trust list (PEM).
    pub fn unlisted_ca_pem(&self) -> Vec<u8> {
        self.other_ca.to_pem().unwrap_or_default()
    }

    /// The issuer of [`TestCard::IssuerNotCa`], an end-entity certificate (PEM).
    pub fn not_a_ca_pem(&self) -> Vec<u8> {
        self.not_a_ca.to_pem().unwrap_or_default()
    }

    /// The test TSL signer's certificate (PEM): the pin for [`TestPki::trust_list_xml`].
    pub fn tsl_signer_pem(&self) -> Vec<u8> {
        self.tsl_signer.certificate().to_pem().unwrap_or_default()
    }

    /// The test TSL signer's key.
    pub fn tsl_signer(&self) -> &SigningKey {
        &self.tsl_signer
    }

    /// A card's certificate.
    pub fn card_certificate(&self, card: TestCard) -> Option<&X509> {
        self.cards.iter().find(|(c, _)| *c == card).map(|(_, x)| x)
    }

    /// A card's certificate in PEM.
    pub fn card_pem(&self, card: TestCard) -> Vec<u8> {
        self.card_certificate(card)
            .and_then(|c| c.to_pem().ok())
            .unwrap_or_default()
    }

    /// A card's certificate in DER.
    pub fn card_der(&self, card: TestCard) -> Vec<u8> {
        self.card_certificate(card)
            .and_then(|c| c.to_der().ok())
            .unwrap_or_default()
    }

    /// The private key of every card (PKCS#8 PEM, unencrypted).
    pub fn card_key_pem(&self) -> Vec<u8> {
        self.card_key.private_key_to_pem_pkcs8().unwrap_or_default()
    }

    /// The test CA's CRL (PEM): thisUpdate a day before `now`, nextUpdate a week after,
    /// [`TestCard::Revoked`] on it.
    pub fn crl_pem(&self) -> Vec<u8> {
        let now = self.now.unix_seconds();
        self.crl(now - DAY, now + 7 * DAY, &self.ca_key)
            .and_then(|c| c.to_pem())
            .unwrap_or_default()
    }

    /// The test CA's CRL, expired: nextUpdate a day before `now`.
    pub fn expired_crl_pem(&self) -> Vec<u8> {
        let now = self.now.unix_seconds();
        self.crl(now - 30 * DAY, now - DAY, &self.ca_key)
            .and_then(|c| c.to_pem())
            .unwrap_or_default()
    }

    /// A CRL in the test CA's name signed by another key.
    pub fn forged_crl_pem(&self) -> Vec<u8> {
        let now = self.now.unix_seconds();
        self.crl(now - DAY, now + 7 * DAY, &self.other_ca_key)
            .and_then(|c| c.to_pem())
            .unwrap_or_default()
    }

    /// A delta CRL of the test CA listing [`TestCard::Revoked`] (never complete on its own).
    pub fn delta_crl_pem(&self) -> Vec<u8> {
        let now = self.now.unix_seconds();
        extension("2.5.29.27", &der::tlv(der::INTEGER, &[1]), true)
            .and_then(|d| self.crl_with(now - DAY, now + 7 * DAY, &self.ca_key, vec![d]))
            .and_then(|c| c.to_pem())
            .unwrap_or_default()
    }

    /// A CRL of the test CA restricted (issuingDistributionPoint) to the partition `uri`,
    /// listing [`TestCard::Revoked`]: it covers the test cards only when `uri` is
    /// [`TEST_CRL_URI`].
    pub fn partition_crl_pem(&self, uri: &str) -> Vec<u8> {
        let now = self.now.unix_seconds();
        let name = der::tlv(0xA0, &der::tlv(0xA0, &der::tlv(0x86, uri.as_bytes())));
        extension("2.5.29.28", &der::tlv(der::SEQUENCE, &name), true)
            .and_then(|i| self.crl_with(now - DAY, now + 7 * DAY, &self.ca_key, vec![i]))
            .and_then(|c| c.to_pem())
            .unwrap_or_default()
    }

    fn crl(&self, this: i64, next: i64, key: &PKey<Private>) -> Result<X509Crl, ErrorStack> {
        self.crl_with(this, next, key, Vec::new())
    }

    fn crl_with(
        &self,
        this: i64,
        next: i64,
        key: &PKey<Private>,
        extra: Vec<X509Extension>,
    ) -> Result<X509Crl, ErrorStack> {
        let mut b = X509CrlBuilder::new()?;
        b.set_issuer_name(self.ca.subject_name())?;
        b.set_last_update((Asn1Time::from_unix(this)?).as_ref())?;
        b.set_next_update((Asn1Time::from_unix(next)?).as_ref())?;
        if let Some(revoked) = self.card_certificate(TestCard::Revoked) {
            let mut r = X509RevokedBuilder::new()?;
            r.set_serial_number(revoked.serial_number())?;
            r.set_revocation_date((Asn1Time::from_unix(this)?).as_ref())?;
            b.add_revoked(r.build())?;
        }
        // RFC 5280 5.2: authorityKeyIdentifier (the CA's key id) and cRLNumber.
        let ski = self
            .ca
            .subject_key_id()
            .map(|k| k.as_slice().to_vec())
            .unwrap_or_default();
        let aki = der::tlv(der::SEQUENCE, &der::tlv(0x80, &ski));
        b.append_extension(extension("2.5.29.35", &aki, false)?)?;
        b.append_extension(extension(
            "2.5.29.20",
            &der::tlv(der::INTEGER, &[1]),
            false,
        )?)?;
        for e in extra {
            b.append_extension(e)?;
        }
        b.sign(key, MessageDigest::sha256())?;
        b.build()
    }

    /// A synthetic trusted list (TS 119 612 v5) naming the test CA as an IdV service
    /// recognised at national level since a year before `now` (and the unlisted CA as a
    /// CA/QC service, which a CNS login must ignore), XAdES-signed by the test TSL signer
    /// with the two references of the real list.
    pub fn trust_list_xml(
        &self,
        sequence: u64,
        issued: Timestamp,
        next_update: Timestamp,
    ) -> Result<String, DsigError> {
        let ca = b64(&self.ca.to_der()?);
        let other = b64(&self.other_ca.to_der()?);
        let since = Timestamp::from_unix_seconds(self.now.unix_seconds() - 365 * DAY);
        let body = format!(
            "<TrustServiceStatusList xmlns=\"http://uri.etsi.org/02231/v2#\" Id=\"tsl\" \
             TSLTag=\"http://uri.etsi.org/19612/TSLTag\"><SchemeInformation>\
             <TSLVersionIdentifier>5</TSLVersionIdentifier>\
             <TSLSequenceNumber>{sequence}</TSLSequenceNumber>\
             <TSLType>http://uri.etsi.org/TrstSvc/TrustedList/TSLType/EUgeneric</TSLType>\
             <SchemeOperatorName><Name xml:lang=\"en\">spid-sp TEST scheme operator - NOT FOR \
             PRODUCTION</Name></SchemeOperatorName>\
             <SchemeTerritory>IT</SchemeTerritory>\
             <ListIssueDateTime>{issued}</ListIssueDateTime>\
             <NextUpdate><dateTime>{next_update}</dateTime></NextUpdate></SchemeInformation>\
             <TrustServiceProviderList><TrustServiceProvider><TSPInformation><TSPName>\
             <Name xml:lang=\"en\">spid-sp TEST provider</Name></TSPName></TSPInformation>\
             <TSPServices>{idv}{qc}</TSPServices></TrustServiceProvider>\
             </TrustServiceProviderList>",
            issued = issued,
            next_update = next_update,
            idv = service(
                super::tsl::SERVICE_TYPE_IDV,
                "SPID-SP TEST CNS CA",
                &ca,
                since
            ),
            qc = service(
                "http://uri.etsi.org/TrstSvc/Svctype/CA/QC",
                "SPID-SP TEST UNLISTED CA",
                &other,
                since
            ),
        );
        sign_tsl(&body, &self.tsl_signer, self.now)
    }

    /// Every artefact as `(file name, bytes)`, for a directory the shell suites and the
    /// demo read: `ca.pem`, `unlisted-ca.pem`, `tsl-signer.pem`, `trust-list.xml`,
    /// `crl.pem`, `crl-expired.pem`, `crl-forged.pem`, `card.key.pem`, and per card
    /// `card-<name>.pem` and `card-<name>.p12` (password [`TEST_P12_PASSWORD`]).
    pub fn files(&self) -> Result<Vec<(String, Vec<u8>)>, DsigError> {
        let now = self.now.unix_seconds();
        let tsl = self.trust_list_xml(
            1,
            Timestamp::from_unix_seconds(now - DAY),
            Timestamp::from_unix_seconds(now + 180 * DAY),
        )?;
        let mut out = vec![
            ("ca.pem".to_owned(), self.ca_pem()),
            ("unlisted-ca.pem".to_owned(), self.unlisted_ca_pem()),
            ("tsl-signer.pem".to_owned(), self.tsl_signer_pem()),
            ("trust-list.xml".to_owned(), tsl.into_bytes()),
            ("crl.pem".to_owned(), self.crl_pem()),
            ("crl-expired.pem".to_owned(), self.expired_crl_pem()),
            ("crl-forged.pem".to_owned(), self.forged_crl_pem()),
            ("crl-delta.pem".to_owned(), self.delta_crl_pem()),
            ("card.key.pem".to_owned(), self.card_key_pem()),
        ];
        for (card, cert) in &self.cards {
            out.push((format!("card-{}.pem", card.name()), cert.to_pem()?));
            let p12 = Pkcs12::builder()
                .name(card.name())
                .pkey(&self.card_key)
                .cert(cert)
                .build2(TEST_P12_PASSWORD)?;
            out.push((format!("card-{}.p12", card.name()), p12.to_der()?));
        }
        Ok(out)
    }
}

fn rsa_key() -> Result<PKey<Private>, ErrorStack> {
    PKey::from_rsa(Rsa::generate(2048)?)
}

fn serial_number(n: u32) -> Result<Asn1Integer, ErrorStack> {
    BigNum::from_u32(n)?.to_asn1_integer()
}

fn ca_certificate(
    key: &PKey<Private>,
    cn: &str,
    now: Timestamp,
    serial: u32,
) -> Result<X509, ErrorStack> {
    issuer_certificate(key, cn, now, serial, true)
}

/// A self-signed issuer; `ca` false makes an end-entity certificate that still signs.
fn issuer_certificate(
    key: &PKey<Private>,
    cn: &str,
    now: Timestamp,
    serial: u32,
    ca: bool,
) -> Result<X509, ErrorStack> {
    let now = now.unix_seconds();
    let mut name = X509Name::builder()?;
    name.append_entry_by_text("C", "IT")?;
    name.append_entry_by_text("O", "spid-sp TEST PKI - NOT FOR PRODUCTION")?;
    name.append_entry_by_text("CN", cn)?;
    let name = name.build();
    let mut b = X509::builder()?;
    b.set_version(2)?;
    b.set_serial_number((serial_number(serial)?).as_ref())?;
    b.set_subject_name(&name)?;
    b.set_issuer_name(&name)?;
    b.set_not_before((Asn1Time::from_unix(now - 365 * DAY)?).as_ref())?;
    b.set_not_after((Asn1Time::from_unix(now + 3650 * DAY)?).as_ref())?;
    b.set_pubkey(key)?;
    let mut constraints = BasicConstraints::new();
    constraints.critical();
    if ca {
        constraints.ca();
    }
    b.append_extension(constraints.build()?)?;
    b.append_extension(
        KeyUsage::new()
            .critical()
            .key_cert_sign()
            .crl_sign()
            .digital_signature()
            .build()?,
    )?;
    let ski = SubjectKeyIdentifier::new().build(&b.x509v3_context(None, None))?;
    b.append_extension(ski)?;
    b.sign(key, MessageDigest::sha256())?;
    Ok(b.build())
}

/// certificatePolicies with one policy and the CNS-style user notice.
fn policies(oid: &str) -> Result<X509Extension, ErrorStack> {
    let notice = der::tlv(
        der::SEQUENCE,
        &der::tlv(der::UTF8_STRING, b"TEST certificate - NOT FOR PRODUCTION"),
    );
    let mut qualifier = der::oid("1.3.6.1.5.5.7.2.2");
    qualifier.extend(notice);
    let qualifiers = der::tlv(der::SEQUENCE, &der::tlv(der::SEQUENCE, &qualifier));
    let mut info = der::oid(oid);
    info.extend(qualifiers);
    let value = der::tlv(der::SEQUENCE, &der::tlv(der::SEQUENCE, &info));
    extension("2.5.29.32", &value, false)
}

/// An extension from its DER value.
fn extension(oid: &str, value: &[u8], critical: bool) -> Result<X509Extension, ErrorStack> {
    let oid = Asn1Object::from_str(oid)?;
    let value = Asn1OctetString::new_from_bytes(value)?;
    X509Extension::new_from_der(&oid, critical, &value)
}

fn b64(der: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(der)
}

fn service(kind: &str, name: &str, cert_b64: &str, since: Timestamp) -> String {
    format!(
        "<TSPService><ServiceInformation><ServiceTypeIdentifier>{kind}</ServiceTypeIdentifier>\
         <ServiceName><Name xml:lang=\"en\">{name}</Name></ServiceName>\
         <ServiceDigitalIdentity><DigitalId><X509Certificate>{cert_b64}</X509Certificate>\
         </DigitalId></ServiceDigitalIdentity>\
         <ServiceStatus>http://uri.etsi.org/TrstSvc/TrustedList/Svcstatus/recognisedatnationallevel\
         </ServiceStatus><StatusStartingTime>{since}</StatusStartingTime>\
         </ServiceInformation></TSPService>",
        since = since
    )
}

/// Appends an enveloped XAdES signature with the two references of a real trusted list
/// (`URI=""` and the SignedProperties) to `body` (the list without its closing tag).
fn sign_tsl(body: &str, key: &SigningKey, now: Timestamp) -> Result<String, DsigError> {
    use crate::xml::{self, C14nOptions, Limits};
    const END: &str = "</TrustServiceStatusList>";
    let limits = Limits {
        forbid_processing_instructions: false,
        ..super::tsl::TSL_LIMITS
    };
    let canonical = |text: &str, pick: &dyn Fn(xml::Node<'_, '_>) -> bool| {
        let doc = xml::parse(text, &limits).map_err(|_| DsigError::Sign("unparsable list"))?;
        let node = doc
            .descendants()
            .find(|n| pick(*n))
            .ok_or(DsigError::Sign("element not found"))?;
        let mut out = Vec::new();
        let options = C14nOptions {
            exclude: None,
            inclusive_prefixes: &[],
        };
        xml::canonicalize(node, &options, &mut out);
        Ok::<Vec<u8>, DsigError>(out)
    };
    let digest = |bytes: &[u8]| b64(&crate::dsig::sha256(bytes));
    // Reference 1: the whole document without the signature (enveloped transform).
    let unsigned = format!("{body}{END}");
    let whole = digest(&canonical(&unsigned, &|n| n.is_root())?);
    let cert = b64(&key.certificate().to_der()?);
    let properties = format!(
        "<ds:Object><xades:QualifyingProperties xmlns:xades=\"http://uri.etsi.org/01903/v1.3.2#\" \
         Target=\"#sig\"><xades:SignedProperties Id=\"xades-sig\"><xades:SignedSignatureProperties>\
         <xades:SigningTime>{}</xades:SigningTime></xades:SignedSignatureProperties>\
         </xades:SignedProperties></xades:QualifyingProperties></ds:Object>",
        now
    );
    let signed_info = |props_digest: &str| {
        format!(
            "<ds:SignedInfo><ds:CanonicalizationMethod Algorithm=\"{c14n}\"/>\
             <ds:SignatureMethod Algorithm=\"{alg}\"/>\
             <ds:Reference Id=\"tl\" URI=\"\"><ds:Transforms>\
             <ds:Transform Algorithm=\"{env}\"/><ds:Transform Algorithm=\"{c14n}\"/>\
             </ds:Transforms><ds:DigestMethod Algorithm=\"{sha}\"/>\
             <ds:DigestValue>{whole}</ds:DigestValue></ds:Reference>\
             <ds:Reference Type=\"{typ}\" URI=\"#xades-sig\"><ds:Transforms>\
             <ds:Transform Algorithm=\"{c14n}\"/></ds:Transforms>\
             <ds:DigestMethod Algorithm=\"{sha}\"/><ds:DigestValue>{props_digest}</ds:DigestValue>\
             </ds:Reference></ds:SignedInfo>",
            c14n = crate::dsig::EXC_C14N,
            alg = SignatureAlgorithm::RsaSha256.uri(),
            env = crate::dsig::ENVELOPED,
            sha = crate::dsig::DigestAlgorithm::Sha256.uri(),
            typ = crate::dsig::SIGNED_PROPERTIES_TYPE,
        )
    };
    let assemble = |si: &str, value: &str| {
        format!(
            "{body}<ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" Id=\"sig\">{si}\
             <ds:SignatureValue>{value}</ds:SignatureValue><ds:KeyInfo><ds:X509Data>\
             <ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>\
             {properties}</ds:Signature>{END}"
        )
    };
    // Reference 2: the SignedProperties subtree (it does not depend on the digests).
    let draft = assemble(&signed_info(""), "");
    let props = digest(&canonical(&draft, &|n| {
        n.tag_name().name() == "SignedProperties"
    })?);
    let si = signed_info(&props);
    let draft = assemble(&si, "");
    let canonical_si = canonical(&draft, &|n| n.tag_name().name() == "SignedInfo")?;
    let value = b64(&key.sign(SignatureAlgorithm::RsaSha256, &canonical_si)?);
    Ok(assemble(&si, &value))
}
