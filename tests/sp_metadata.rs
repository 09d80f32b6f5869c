//! SP metadata generation and checking.
//!
//! - The five profiles' metadata, generated from the committed test-only key, must equal
//!   the golden files in `tests/data/metadata/` (the output is deterministic), verify with
//!   our verifier and with the `xmlsec1` CLI (as AgID's spid-sp-test runs it), and pass
//!   `check_sp_metadata` with no problem. Copies go to `target/sp-metadata/` for
//!   `tests/conformance-metadata.sh`.
//! - Broken files in `tests/data/metadata/broken/` give exactly the expected problems.
//!
//! `SPID_SP_BLESS=1 cargo test --test sp_metadata` rewrites the committed files.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use spid_sp::dsig::{self, SignatureAlgorithm, SignatureAnchor, VerifyPolicy};
use spid_sp::fuzzing::tree;
use spid_sp::metadata::{
    check_sp_metadata, check_sp_metadata_at, Billing, Contact, MetadataBuildError, Organization,
    Severity, SpMetadata, SpProfile, EIDAS_FULL_ATTRIBUTES, EIDAS_FULL_INDEX,
    EIDAS_FULL_SERVICE_NAME, EIDAS_MINIMUM_ATTRIBUTES, EIDAS_MINIMUM_INDEX,
    EIDAS_MINIMUM_SERVICE_NAME,
};
use spid_sp::{Binding, SigningKey, SpConfig, Timestamp};

const PUBLIC_SP: &str = "https://sp.example.it/spid";
const PUBLIC_CIE_SP: &str = "https://sp.example.it/cie";
const PRIVATE_SP: &str = "https://www.esempio-srl.it/spid";
const PRIVATE_CIE_SP: &str = "https://www.esempio-srl.it/cie";

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/metadata")
}

/// `target/sp-metadata` (honouring `CARGO_TARGET_DIR`).
fn out_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    let dir = target.join("sp-metadata");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn bless() -> bool {
    std::env::var_os("SPID_SP_BLESS").is_some_and(|v| v == "1")
}

fn now() -> Timestamp {
    Timestamp::parse("2027-01-01T00:00:00Z").unwrap()
}

fn key(name: &str) -> SigningKey {
    let dir = data_dir();
    SigningKey::from_pem(
        &std::fs::read(dir.join(format!("test-only-{name}.key.pem"))).unwrap(),
        &std::fs::read(dir.join(format!("test-only-{name}.crt.pem"))).unwrap(),
    )
    .unwrap()
}

fn sp_key() -> SigningKey {
    key("sp")
}

fn public_org() -> Organization {
    Organization {
        name: "Comune di Esempio".into(),
        display_name: "Comune di Esempio".into(),
        url: "https://www.comune.esempio.it".into(),
        name_en: Some("Municipality of Esempio".into()),
        display_name_en: Some("Esempio".into()),
        url_en: Some("https://www.comune.esempio.it/en".into()),
    }
}

fn public_contact() -> Contact {
    Contact {
        email: "protocollo@comune.esempio.it".into(),
        phone: Some("+390612345678".into()),
        ipa_code: Some("c_x000".into()),
        municipality: Some("H501".into()),
        province: Some("RM".into()),
        ipa_category: Some("L6".into()),
        ..Default::default()
    }
}

fn private_org() -> Organization {
    Organization {
        name: "Esempio S.r.l.".into(),
        display_name: "Esempio".into(),
        url: "https://www.esempio-srl.it".into(),
        ..Default::default()
    }
}

fn private_contact() -> Contact {
    Contact {
        email: "spid@esempio-srl.it".into(),
        phone: Some("+390612345679".into()),
        vat_number: Some("IT12345678901".into()),
        fiscal_code: Some("12345678901".into()),
        municipality: Some("H501".into()),
        province: Some("RM".into()),
        nace2_codes: vec!["62.01.00".into()],
        ..Default::default()
    }
}

fn billing() -> Billing {
    Billing {
        vat_country: "IT".into(),
        vat_code: "12345678901".into(),
        fiscal_code: None,
        company_name: "Esempio S.r.l.".into(),
        address: "Via Roma".into(),
        number: Some("1".into()),
        postal_code: "00100".into(),
        municipality: "Roma".into(),
        province: Some("RM".into()),
        country: "IT".into(),
        email: "fatture@pec.esempio-srl.it".into(),
    }
}

fn config(entity_id: &str, profile: SpProfile, key: SigningKey) -> SpConfig {
    let mut b = SpConfig::builder(entity_id, key)
        .assertion_consumer_service(format!("{entity_id}/acs"))
        .logout_service(Binding::Redirect, format!("{entity_id}/slo"))
        .logout_service(Binding::Post, format!("{entity_id}/slo"));
    b = match profile {
        SpProfile::CiePublic | SpProfile::CiePrivate => b.attribute_service(
            0,
            "Servizi online",
            &["name", "familyName", "dateOfBirth", "fiscalNumber"],
        ),
        _ => b
            .assertion_consumer_service(format!("{entity_id}/acs/app"))
            .attribute_service(
                0,
                "Servizi online",
                &["fiscalNumber", "name", "familyName", "dateOfBirth", "email"],
            )
            .attribute_service(
                1,
                "Servizi per le imprese",
                &["fiscalNumber", "companyName", "ivaCode", "digitalAddress"],
            ),
    };
    if profile == SpProfile::Eidas {
        b = b
            .attribute_service(
                EIDAS_MINIMUM_INDEX,
                EIDAS_MINIMUM_SERVICE_NAME,
                &EIDAS_MINIMUM_ATTRIBUTES,
            )
            .attribute_service(
                EIDAS_FULL_INDEX,
                EIDAS_FULL_SERVICE_NAME,
                &EIDAS_FULL_ATTRIBUTES,
            );
    }
    b.build().unwrap()
}

/// The sample SP of each profile.
fn sample(profile: SpProfile) -> (SpConfig, SpMetadata) {
    let (entity_id, org, contact, billing) = match profile {
        SpProfile::SpidPublic | SpProfile::Eidas => {
            (PUBLIC_SP, public_org(), public_contact(), None)
        }
        SpProfile::CiePublic => (PUBLIC_CIE_SP, public_org(), public_contact(), None),
        SpProfile::SpidPrivate => (
            PRIVATE_SP,
            private_org(),
            private_contact(),
            Some(billing()),
        ),
        SpProfile::CiePrivate => (PRIVATE_CIE_SP, private_org(), private_contact(), None),
        SpProfile::Aggregated(_) => unreachable!("aggregator profiles: tests/tenants.rs"),
    };
    let metadata = SpMetadata {
        billing,
        ..SpMetadata::new(profile, org, contact)
    };
    (config(entity_id, profile, sp_key()), metadata)
}

fn generate(profile: SpProfile) -> String {
    let (config, metadata) = sample(profile);
    metadata.to_xml(&config).unwrap()
}

/// Compares `actual` with the committed file (or rewrites it in bless mode).
fn golden(path: &Path, actual: &str) {
    if bless() {
        std::fs::write(path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(path)
        .unwrap_or_else(|_| panic!("{} missing: run with SPID_SP_BLESS=1", path.display()));
    assert!(
        expected == actual,
        "{} differs from the generated document (intended? rerun with SPID_SP_BLESS=1)",
        path.display()
    );
}

fn codes(xml: &str, profile: SpProfile) -> BTreeSet<&'static str> {
    check_sp_metadata_at(xml, profile, now())
        .into_iter()
        .map(|p| p.code)
        .collect()
}

fn set(codes: &[&'static str]) -> BTreeSet<&'static str> {
    codes.iter().copied().collect()
}

#[test]
fn golden_samples_for_every_profile() {
    let out = out_dir();
    for profile in SpProfile::ALL {
        let xml = generate(profile);
        assert!(xml.starts_with("<?xml"), "no leading whitespace");
        golden(&data_dir().join(format!("{profile}.xml")), &xml);
        std::fs::write(out.join(format!("{profile}.xml")), &xml).unwrap();
        // Same input, same bytes.
        assert_eq!(generate(profile), xml);
    }
}

#[test]
fn samples_pass_our_checks() {
    for profile in SpProfile::ALL {
        let xml = generate(profile);
        let problems = check_sp_metadata_at(&xml, profile, now());
        assert!(problems.is_empty(), "{profile}: {problems:#?}");
        assert!(check_sp_metadata(&xml, profile).is_empty());
    }
}

#[test]
fn signature_verifies_with_our_verifier() {
    let key = sp_key().verification_key().unwrap();
    let policy = VerifyPolicy::default();
    for profile in SpProfile::ALL {
        let xml = generate(profile);
        let doc = tree::parse(&xml, &spid_sp::xml::Limits::METADATA).unwrap();
        let root = doc.root_element();
        let sig = tree::find_signature(root).unwrap().expect("signed");
        // First child, embedded certificate = the signing key's.
        assert_eq!(root.first_element_child(), Some(sig));
        assert!(xml.contains(&format!(
            "<ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></ds:Signature>",
            sp_key().certificate_base64()
        )));
        let info = tree::verify_enveloped(
            root,
            sig,
            std::slice::from_ref(&key),
            &policy,
            &mut Vec::new(),
        )
        .unwrap()
        .info();
        assert_eq!(info.algorithm, SignatureAlgorithm::RsaSha256);

        // One changed character breaks it.
        let tampered = xml.replacen("Servizi online", "Servizi 0nline", 1);
        let doc = tree::parse(&tampered, &spid_sp::xml::Limits::METADATA).unwrap();
        let root = doc.root_element();
        let sig = tree::find_signature(root).unwrap().unwrap();
        let keys = std::slice::from_ref(&key);
        assert!(tree::verify_enveloped(root, sig, keys, &policy, &mut Vec::new()).is_err());
    }
}

fn xmlsec1() -> Option<PathBuf> {
    let found = ["/usr/bin/xmlsec1", "/usr/local/bin/xmlsec1"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .or_else(|| {
            Command::new("xmlsec1")
                .arg("--version")
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|_| PathBuf::from("xmlsec1"))
        });
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "xmlsec1 is required when CI is set (apt-get install xmlsec1)"
        );
        eprintln!("NOTICE: xmlsec1 not installed, skipping the xmlsec1 cross-check (apt-get install xmlsec1)");
    }
    found
}

fn xmlsec1_verify(bin: &Path, file: &Path, extra: &[&str]) -> bool {
    let out = Command::new(bin)
        .arg("--verify")
        .args(extra)
        .args([
            "--id-attr:ID",
            "urn:oasis:names:tc:SAML:2.0:metadata:EntityDescriptor",
        ])
        .arg(file)
        .output()
        .unwrap();
    out.status.success()
}

#[test]
fn xmlsec1_verifies_the_samples() {
    let Some(bin) = xmlsec1() else { return };
    let dir = out_dir().join("xmlsec1");
    std::fs::create_dir_all(&dir).unwrap();
    let cert = data_dir().join("test-only-sp.crt.pem");
    let cert = cert.to_str().unwrap();
    for profile in SpProfile::ALL {
        let xml = generate(profile);
        let file = dir.join(format!("{profile}.xml"));
        std::fs::write(&file, &xml).unwrap();
        // As spid-sp-test runs it: the key from the embedded certificate only.
        assert!(
            xmlsec1_verify(&bin, &file, &["--insecure"]),
            "{profile}: xmlsec1 --insecure"
        );
        // With the expected certificate as the trusted key.
        assert!(
            xmlsec1_verify(&bin, &file, &["--pubkey-cert-pem", cert]),
            "{profile}: xmlsec1 --pubkey-cert-pem"
        );
        let tampered = dir.join(format!("{profile}-tampered.xml"));
        std::fs::write(
            &tampered,
            xml.replacen("Servizi online", "Servizi 0nline", 1),
        )
        .unwrap();
        assert!(
            !xmlsec1_verify(&bin, &tampered, &["--insecure"]),
            "{profile}: tampered accepted"
        );
    }
}

// ---- broken documents ----

fn strip_signature(xml: &str) -> String {
    let start = xml.find("<ds:Signature").unwrap();
    let end = xml.find("</ds:Signature>").unwrap() + "</ds:Signature>".len();
    format!("{}{}", &xml[..start], &xml[end..])
}

fn resign(unsigned: &str, key: &SigningKey) -> String {
    dsig::sign_enveloped(
        unsigned,
        key,
        SignatureAlgorithm::RsaSha256,
        SignatureAnchor::First,
    )
    .unwrap()
}

/// `xml` unsigned, edited, then signed again with `key`.
fn edit(xml: &str, key: &SigningKey, f: impl FnOnce(String) -> String) -> String {
    resign(&f(strip_signature(xml)), key)
}

fn replace(s: String, from: &str, to: &str) -> String {
    assert!(s.contains(from), "{from:?} not in the document");
    s.replacen(from, to, 1)
}

fn cut(s: String, start: &str, end: &str) -> (String, String) {
    let a = s.find(start).unwrap();
    let b = a + s[a..].find(end).unwrap() + end.len();
    (format!("{}{}", &s[..a], &s[b..]), s[a..b].to_owned())
}

struct Broken {
    name: &'static str,
    profile: SpProfile,
    expected: &'static [&'static str],
    make: fn() -> String,
}

fn broken_cases() -> Vec<Broken> {
    vec![
        Broken {
            name: "unsigned",
            profile: SpProfile::SpidPublic,
            expected: &["signature-missing"],
            make: || strip_signature(&generate(SpProfile::SpidPublic)),
        },
        Broken {
            name: "tampered",
            profile: SpProfile::SpidPublic,
            expected: &["signature-invalid"],
            make: || {
                generate(SpProfile::SpidPublic).replacen("Servizi online", "Servizi 0nline", 1)
            },
        },
        Broken {
            name: "signature-without-keyinfo",
            profile: SpProfile::SpidPublic,
            expected: &["signature-no-certificate"],
            make: || {
                let xml = generate(SpProfile::SpidPublic);
                let start = xml.find("<ds:KeyInfo><ds:X509Data>").unwrap();
                let end = xml.find("</ds:Signature>").unwrap();
                format!("{}{}", &xml[..start], &xml[end..])
            },
        },
        Broken {
            name: "default-acs-not-index-0",
            profile: SpProfile::SpidPublic,
            expected: &["acs-default-index"],
            make: || {
                edit(&generate(SpProfile::SpidPublic), &sp_key(), |s| {
                    let s = replace(s, "index=\"0\" isDefault=\"true\"", "index=\"0\"");
                    replace(s, "index=\"1\"/>", "index=\"1\" isDefault=\"true\"/>")
                })
            },
        },
        Broken {
            name: "two-default-acs",
            profile: SpProfile::SpidPublic,
            expected: &["acs-default"],
            make: || {
                edit(&generate(SpProfile::SpidPublic), &sp_key(), |s| {
                    replace(s, "index=\"1\"/>", "index=\"1\" isDefault=\"true\"/>")
                })
            },
        },
        Broken {
            name: "unknown-attribute",
            profile: SpProfile::SpidPublic,
            expected: &["requested-attribute-not-allowed"],
            make: || {
                edit(&generate(SpProfile::SpidPublic), &sp_key(), |s| {
                    replace(s, "Name=\"email\"", "Name=\"codiceFiscale\"")
                })
            },
        },
        Broken {
            name: "duplicate-attribute",
            profile: SpProfile::SpidPublic,
            expected: &["requested-attribute-duplicate"],
            make: || {
                edit(&generate(SpProfile::SpidPublic), &sp_key(), |s| {
                    replace(s, "Name=\"email\"", "Name=\"name\"")
                })
            },
        },
        Broken {
            name: "cie-spidcode",
            profile: SpProfile::CiePublic,
            expected: &["requested-attribute-not-allowed"],
            make: || {
                edit(&generate(SpProfile::CiePublic), &sp_key(), |s| {
                    replace(s, "Name=\"name\"", "Name=\"spidCode\"")
                })
            },
        },
        Broken {
            name: "no-italian-organization-name",
            profile: SpProfile::SpidPublic,
            expected: &["organization-lang-count"],
            make: || {
                edit(&generate(SpProfile::SpidPublic), &sp_key(), |s| {
                    replace(
                        s,
                        "<md:OrganizationName xml:lang=\"it\">",
                        "<md:OrganizationName xml:lang=\"fr\">",
                    )
                })
            },
        },
        Broken {
            name: "organization-after-contact",
            profile: SpProfile::SpidPublic,
            expected: &["element-order"],
            make: || {
                edit(&generate(SpProfile::SpidPublic), &sp_key(), |s| {
                    let (s, org) = cut(s, "<md:Organization>", "</md:Organization>");
                    replace(
                        s,
                        "</md:EntityDescriptor>",
                        &format!("{org}</md:EntityDescriptor>"),
                    )
                })
            },
        },
        Broken {
            name: "public-without-ipa-code",
            profile: SpProfile::SpidPublic,
            expected: &["ipa-code-missing"],
            make: || {
                edit(&generate(SpProfile::SpidPublic), &sp_key(), |s| {
                    cut(s, "<spid:IPACode>", "</spid:IPACode>").0
                })
            },
        },
        Broken {
            name: "public-declared-private",
            profile: SpProfile::SpidPublic,
            expected: &["spid-public-private-mismatch"],
            make: || {
                edit(&generate(SpProfile::SpidPublic), &sp_key(), |s| {
                    replace(s, "<spid:Public/>", "<spid:Private/>")
                })
            },
        },
        Broken {
            name: "company-not-organization-name",
            profile: SpProfile::SpidPublic,
            expected: &["contact-company-mismatch"],
            make: || {
                edit(&generate(SpProfile::SpidPublic), &sp_key(), |s| {
                    replace(
                        s,
                        "<md:Company>Comune di Esempio",
                        "<md:Company>COMUNE DI ESEMPIO",
                    )
                })
            },
        },
        Broken {
            name: "phone-with-spaces",
            profile: SpProfile::SpidPublic,
            expected: &["contact-phone-invalid"],
            make: || {
                edit(&generate(SpProfile::SpidPublic), &sp_key(), |s| {
                    replace(s, "+390612345678", "+39 06 12345678")
                })
            },
        },
        Broken {
            name: "private-without-billing",
            profile: SpProfile::SpidPrivate,
            expected: &["billing-missing"],
            make: || {
                edit(&generate(SpProfile::SpidPrivate), &sp_key(), |s| {
                    cut(
                        s,
                        "<md:ContactPerson contactType=\"billing\">",
                        "</md:ContactPerson>",
                    )
                    .0
                })
            },
        },
        Broken {
            name: "private-billing-without-sede",
            profile: SpProfile::SpidPrivate,
            expected: &["billing-cessionario-incomplete"],
            make: || {
                edit(&generate(SpProfile::SpidPrivate), &sp_key(), |s| {
                    cut(s, "<fpa:Sede>", "</fpa:Sede>").0
                })
            },
        },
        Broken {
            name: "cie-without-municipality",
            profile: SpProfile::CiePrivate,
            expected: &["cie-municipality-missing"],
            make: || {
                edit(&generate(SpProfile::CiePrivate), &sp_key(), |s| {
                    cut(s, "<cie:Municipality>", "</cie:Municipality>").0
                })
            },
        },
        Broken {
            name: "eidas-without-full-set",
            profile: SpProfile::Eidas,
            expected: &["eidas-service-missing"],
            make: || {
                edit(&generate(SpProfile::Eidas), &sp_key(), |s| {
                    cut(
                        s,
                        "<md:AttributeConsumingService index=\"100\">",
                        "</md:AttributeConsumingService>",
                    )
                    .0
                })
            },
        },
        Broken {
            name: "eidas-minimum-set-with-email",
            profile: SpProfile::Eidas,
            expected: &["requested-attribute-not-allowed"],
            make: || {
                edit(&generate(SpProfile::Eidas), &sp_key(), |s| {
                    let (head, tail) = s.split_at(s.find("index=\"99\"").unwrap());
                    format!(
                        "{head}{}",
                        replace(tail.to_owned(), "Name=\"dateOfBirth\"", "Name=\"email\"")
                    )
                })
            },
        },
        Broken {
            name: "want-assertions-signed-false",
            profile: SpProfile::SpidPublic,
            expected: &["want-assertions-signed"],
            make: || {
                edit(&generate(SpProfile::SpidPublic), &sp_key(), |s| {
                    replace(
                        s,
                        "WantAssertionsSigned=\"true\"",
                        "WantAssertionsSigned=\"false\"",
                    )
                })
            },
        },
        Broken {
            name: "rsa-1024",
            profile: SpProfile::SpidPublic,
            expected: &["certificate-weak-key"],
            make: || {
                let weak = key("rsa1024");
                edit(&generate(SpProfile::SpidPublic), &weak, |s| {
                    replace(s, sp_key().certificate_base64(), weak.certificate_base64())
                })
            },
        },
        Broken {
            name: "sha1-certificate",
            profile: SpProfile::SpidPublic,
            expected: &["certificate-weak-hash"],
            make: || {
                let sha1 = key("sha1");
                edit(&generate(SpProfile::SpidPublic), &sha1, |s| {
                    replace(s, sp_key().certificate_base64(), sha1.certificate_base64())
                })
            },
        },
        Broken {
            name: "signed-with-another-key",
            profile: SpProfile::SpidPublic,
            expected: &["signature-certificate-not-listed", "certificate-weak-hash"],
            make: || {
                resign(
                    &strip_signature(&generate(SpProfile::SpidPublic)),
                    &key("sha1"),
                )
            },
        },
        Broken {
            name: "entities-descriptor",
            profile: SpProfile::SpidPublic,
            expected: &["not-entity-descriptor"],
            make: || {
                let xml = generate(SpProfile::SpidPublic);
                let body = xml.split_once("?>\n").unwrap().1;
                format!("<md:EntitiesDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\">{body}</md:EntitiesDescriptor>")
            },
        },
        Broken {
            name: "leading-newline",
            profile: SpProfile::SpidPublic,
            expected: &["leading-whitespace"],
            // (Without the XML declaration, which must come first.)
            make: || {
                format!(
                    "\n{}",
                    generate(SpProfile::SpidPublic)
                        .split_once("?>\n")
                        .unwrap()
                        .1
                )
            },
        },
    ]
}

#[test]
fn broken_documents_give_the_expected_problems() {
    let dir = data_dir().join("broken");
    for case in broken_cases() {
        let xml = (case.make)();
        let path = dir.join(format!("{}.xml", case.name));
        golden(&path, &xml);
        let committed = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            codes(&committed, case.profile),
            set(case.expected),
            "{}: {:#?}",
            case.name,
            check_sp_metadata_at(&committed, case.profile, now())
        );
    }
}

#[test]
fn metadata_of_one_profile_fails_another() {
    let spid = generate(SpProfile::SpidPublic);
    assert_eq!(
        codes(&spid, SpProfile::CiePublic),
        set(&[
            "requested-attribute-not-allowed",
            "contact-type",
            "contact-main-count"
        ])
    );
    assert_eq!(
        codes(&spid, SpProfile::SpidPrivate),
        set(&[
            "spid-public-private-mismatch",
            "ipa-code-forbidden",
            "vat-or-fiscal-code-missing",
            "billing-missing"
        ])
    );
    // eIDAS = SPID public + 99/100: the SPID public file lacks both services.
    assert_eq!(
        codes(&spid, SpProfile::Eidas),
        set(&["eidas-service-missing"])
    );
    // The eIDAS file is a valid SPID public file.
    assert!(codes(&generate(SpProfile::Eidas), SpProfile::SpidPublic).is_empty());
}

#[test]
fn development_endpoints_are_warnings() {
    let config = SpConfig::builder("http://127.0.0.1:8000/metadata", sp_key())
        .assertion_consumer_service("http://127.0.0.1:8000/acs")
        .attribute_service(0, "Servizi", &["fiscalNumber"])
        .logout_service(Binding::Redirect, "http://127.0.0.1:8000/slo")
        .build()
        .unwrap();
    let xml = SpMetadata::new(SpProfile::SpidPublic, public_org(), public_contact())
        .to_xml(&config)
        .unwrap();
    let problems = check_sp_metadata(&xml, SpProfile::SpidPublic);
    assert!(
        problems.iter().all(|p| p.severity == Severity::Warning),
        "{problems:#?}"
    );
    assert_eq!(
        codes(&xml, SpProfile::SpidPublic),
        set(&["entity-id-not-https", "url-not-https", "url-port"])
    );
}

#[test]
fn expiry_needs_a_clock() {
    let (config, mut metadata) = sample(SpProfile::SpidPublic);
    metadata.valid_for_days = Some(30);
    let xml = metadata.to_xml_at(&config, now()).unwrap();
    assert!(xml.contains("validUntil=\"2027-01-31T00:00:00.000Z\""));
    assert!(codes(&xml, SpProfile::SpidPublic).is_empty());
    let later = now().plus_seconds(31 * 86_400);
    let problems: BTreeSet<_> = check_sp_metadata_at(&xml, SpProfile::SpidPublic, later)
        .into_iter()
        .map(|p| p.code)
        .collect();
    assert_eq!(problems, set(&["metadata-expired"]));
    // The certificate expires in 2051.
    let far = Timestamp::parse("2052-01-01T00:00:00Z").unwrap();
    let problems: BTreeSet<_> =
        check_sp_metadata_at(&generate(SpProfile::SpidPublic), SpProfile::SpidPublic, far)
            .into_iter()
            .map(|p| p.code)
            .collect();
    assert_eq!(problems, set(&["certificate-expired"]));
}

#[test]
fn eidas_services_are_added_when_missing() {
    let config = SpConfig::builder(PUBLIC_SP, sp_key())
        .assertion_consumer_service(format!("{PUBLIC_SP}/acs"))
        .attribute_service(0, "Servizi online", &["fiscalNumber", "name"])
        .logout_service(Binding::Redirect, format!("{PUBLIC_SP}/slo"))
        .build()
        .unwrap();
    let xml = SpMetadata::new(SpProfile::Eidas, public_org(), public_contact())
        .to_xml(&config)
        .unwrap();
    assert!(xml.contains(&format!(
        "<md:AttributeConsumingService index=\"99\">\n      <md:ServiceName xml:lang=\"it\">{EIDAS_MINIMUM_SERVICE_NAME}</md:ServiceName>"
    )));
    assert!(xml.contains("<md:AttributeConsumingService index=\"100\">"));
    assert!(codes(&xml, SpProfile::Eidas).is_empty());
}

#[test]
fn build_errors_are_clear() {
    let build = |profile: SpProfile, edit: &dyn Fn(&mut SpMetadata)| {
        let (config, mut metadata) = sample(profile);
        edit(&mut metadata);
        metadata.to_xml(&config).unwrap_err()
    };
    let e = build(SpProfile::SpidPublic, &|m| m.contact.ipa_code = None);
    assert_eq!(
        e,
        MetadataBuildError::Missing("contact ipa code (required for a public sp)")
    );
    assert_eq!(
        e.to_string(),
        "sp metadata: missing contact ipa code (required for a public sp)"
    );
    assert!(matches!(
        build(SpProfile::SpidPrivate, &|m| m.billing = None),
        MetadataBuildError::Missing(_)
    ));
    assert!(matches!(
        build(SpProfile::SpidPrivate, &|m| {
            m.contact.vat_number = None;
            m.contact.fiscal_code = None;
        }),
        MetadataBuildError::Missing(_)
    ));
    assert!(matches!(
        build(SpProfile::CiePrivate, &|m| m.contact.nace2_codes.clear()),
        MetadataBuildError::Missing(_)
    ));
    assert!(matches!(
        build(SpProfile::CiePublic, &|m| m.contact.municipality = None),
        MetadataBuildError::Missing(_)
    ));
    assert!(matches!(
        build(SpProfile::SpidPublic, &|m| m.contact.phone =
            Some("06 1234567".into())),
        MetadataBuildError::Invalid(_)
    ));
    assert!(matches!(
        build(SpProfile::SpidPublic, &|m| m.contact.email =
            "spid+x@comune.it".into()),
        MetadataBuildError::Invalid(_)
    ));
    assert!(matches!(
        build(SpProfile::SpidPublic, &|m| m.organization.url_en = None),
        MetadataBuildError::Invalid(_)
    ));
    assert!(matches!(
        build(SpProfile::SpidPrivate, &|m| {
            if let Some(b) = &mut m.billing {
                b.postal_code = "100".into();
            }
        }),
        MetadataBuildError::Invalid(_)
    ));

    // Attributes the profile does not allow.
    let cie_config = config(PUBLIC_CIE_SP, SpProfile::SpidPublic, sp_key()); // requests email
    let e = SpMetadata::new(SpProfile::CiePublic, public_org(), public_contact())
        .to_xml(&cie_config)
        .unwrap_err();
    assert_eq!(
        e,
        MetadataBuildError::AttributeNotAllowed {
            index: 0,
            name: "email".into()
        }
    );
    let bad = SpConfig::builder(PUBLIC_SP, sp_key())
        .assertion_consumer_service(format!("{PUBLIC_SP}/acs"))
        .attribute_service(99, "eIDAS", &["spidCode", "email"])
        .logout_service(Binding::Redirect, format!("{PUBLIC_SP}/slo"))
        .build()
        .unwrap();
    assert!(matches!(
        SpMetadata::new(SpProfile::Eidas, public_org(), public_contact()).to_xml(&bad),
        Err(MetadataBuildError::AttributeNotAllowed { index: 99, .. })
    ));
    let no_slo = SpConfig::builder(PUBLIC_SP, sp_key())
        .assertion_consumer_service(format!("{PUBLIC_SP}/acs"))
        .attribute_service(0, "Servizi", &["fiscalNumber"])
        .build()
        .unwrap();
    assert_eq!(
        SpMetadata::new(SpProfile::SpidPublic, public_org(), public_contact()).to_xml(&no_slo),
        Err(MetadataBuildError::Missing("a single logout service"))
    );
}

#[test]
fn hostile_input_gives_problems_not_panics() {
    for junk in [
        "",
        "<",
        "not xml",
        "<a/>",
        "<!DOCTYPE x [<!ENTITY e \"e\">]><x>&e;</x>",
        "<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\"/>",
        "<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" entityID=\"x\"><md:SPSSODescriptor/><md:ContactPerson/></md:EntityDescriptor>",
    ] {
        for profile in SpProfile::ALL {
            let problems = check_sp_metadata(junk, profile);
            assert!(
                problems.iter().any(|p| p.severity == Severity::Error),
                "{junk:?}"
            );
            for p in &problems {
                assert!(
                    p.message.starts_with(|c: char| !c.is_uppercase()),
                    "message starts lower-case: {p}"
                );
            }
        }
    }
}

#[test]
fn foreign_extensions_are_allowed_anywhere() {
    let xml = edit(&generate(SpProfile::SpidPublic), &sp_key(), |s| {
        replace(
            s,
            "<spid:Public/>",
            "<spid:Public/><x:Note xmlns:x=\"urn:example:note\">n</x:Note>",
        )
    });
    assert!(codes(&xml, SpProfile::SpidPublic).is_empty());
}

/// The SP description files (`SpDescription`) of two sample SPs, in JSON and in TOML:
/// loaded from disk (key files relative to the description), they give byte-identical
/// metadata, equal to the golden files.
#[cfg(feature = "config")]
#[test]
fn description_files_in_json_and_toml_give_the_golden_metadata() {
    use spid_sp::SpDescription;

    const SPID_PRIVATE_JSON: &str = r#"{
  "entity_id": "https://www.esempio-srl.it/spid",
  "key_file": "keys/sp.key.pem",
  "certificate_file": "keys/sp.crt.pem",
  "assertion_consumer_services": [
    "https://www.esempio-srl.it/spid/acs",
    "https://www.esempio-srl.it/spid/acs/app"
  ],
  "single_logout_services": [
    {"binding": "redirect", "url": "https://www.esempio-srl.it/spid/slo"},
    {"binding": "post", "url": "https://www.esempio-srl.it/spid/slo"}
  ],
  "attribute_services": [
    {"index": 0, "name": "Servizi online",
     "attributes": ["fiscalNumber", "name", "familyName", "dateOfBirth", "email"]},
    {"index": 1, "name": "Servizi per le imprese",
     "attributes": ["fiscalNumber", "companyName", "ivaCode", "digitalAddress"]}
  ],
  "metadata": {
    "profile": "spid-sp-private",
    "organization": {"name": "Esempio S.r.l.", "display_name": "Esempio",
                     "url": "https://www.esempio-srl.it"},
    "contact": {"email": "spid@esempio-srl.it", "phone": "+390612345679",
                "vat_number": "IT12345678901", "fiscal_code": "12345678901"},
    "billing": {"vat_country": "IT", "vat_code": "12345678901",
                "company_name": "Esempio S.r.l.", "address": "Via Roma", "number": "1",
                "postal_code": "00100", "municipality": "Roma", "province": "RM",
                "country": "IT", "email": "fatture@pec.esempio-srl.it"}
  }
}"#;
    const SPID_PRIVATE_TOML: &str = r#"
entity_id = "https://www.esempio-srl.it/spid"
key_file = "keys/sp.key.pem"
certificate_file = "keys/sp.crt.pem"
assertion_consumer_services = [
  "https://www.esempio-srl.it/spid/acs",
  "https://www.esempio-srl.it/spid/acs/app",
]

[[single_logout_services]]
binding = "redirect"
url = "https://www.esempio-srl.it/spid/slo"

[[single_logout_services]]
binding = "post"
url = "https://www.esempio-srl.it/spid/slo"

[[attribute_services]]
index = 0
name = "Servizi online"
attributes = ["fiscalNumber", "name", "familyName", "dateOfBirth", "email"]

[[attribute_services]]
index = 1
name = "Servizi per le imprese"
attributes = ["fiscalNumber", "companyName", "ivaCode", "digitalAddress"]

[metadata]
profile = "spid-sp-private"

[metadata.organization]
name = "Esempio S.r.l."
display_name = "Esempio"
url = "https://www.esempio-srl.it"

[metadata.contact]
email = "spid@esempio-srl.it"
phone = "+390612345679"
vat_number = "IT12345678901"
fiscal_code = "12345678901"

[metadata.billing]
vat_country = "IT"
vat_code = "12345678901"
company_name = "Esempio S.r.l."
address = "Via Roma"
number = "1"
postal_code = "00100"
municipality = "Roma"
province = "RM"
country = "IT"
email = "fatture@pec.esempio-srl.it"
"#;
    const CIE_PUBLIC_JSON: &str = r#"{
  "entity_id": "https://sp.example.it/cie",
  "key_file": "keys/sp.key.pem",
  "certificate_file": "keys/sp.crt.pem",
  "assertion_consumer_services": ["https://sp.example.it/cie/acs"],
  "single_logout_services": [
    {"binding": "http-redirect", "url": "https://sp.example.it/cie/slo"},
    {"binding": "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST", "url": "https://sp.example.it/cie/slo"}
  ],
  "attribute_services": [
    {"index": 0, "name": "Servizi online",
     "attributes": ["name", "familyName", "dateOfBirth", "fiscalNumber"]}
  ],
  "metadata": {
    "profile": "cie-sp-public",
    "organization": {"name": "Comune di Esempio", "display_name": "Comune di Esempio",
                     "url": "https://www.comune.esempio.it",
                     "name_en": "Municipality of Esempio", "display_name_en": "Esempio",
                     "url_en": "https://www.comune.esempio.it/en"},
    "contact": {"email": "protocollo@comune.esempio.it", "phone": "+390612345678",
                "ipa_code": "c_x000", "municipality": "H501", "province": "RM",
                "ipa_category": "L6"}
  }
}"#;
    const CIE_PUBLIC_TOML: &str = r#"
entity_id = "https://sp.example.it/cie"
key_file = "keys/sp.key.pem"
certificate_file = "keys/sp.crt.pem"
assertion_consumer_services = ["https://sp.example.it/cie/acs"]
single_logout_services = [
  { binding = "http-redirect", url = "https://sp.example.it/cie/slo" },
  { binding = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST", url = "https://sp.example.it/cie/slo" },
]
attribute_services = [
  { index = 0, name = "Servizi online", attributes = ["name", "familyName", "dateOfBirth", "fiscalNumber"] },
]

[metadata]
profile = "cie-sp-public"
organization = { name = "Comune di Esempio", display_name = "Comune di Esempio", url = "https://www.comune.esempio.it", name_en = "Municipality of Esempio", display_name_en = "Esempio", url_en = "https://www.comune.esempio.it/en" }
contact = { email = "protocollo@comune.esempio.it", phone = "+390612345678", ipa_code = "c_x000", municipality = "H501", province = "RM", ipa_category = "L6" }
"#;

    let dir = out_dir().join("descriptions");
    std::fs::create_dir_all(dir.join("keys")).unwrap();
    for part in ["key", "crt"] {
        std::fs::copy(
            data_dir().join(format!("test-only-sp.{part}.pem")),
            dir.join(format!("keys/sp.{part}.pem")),
        )
        .unwrap();
    }
    for (profile, json, toml) in [
        (SpProfile::SpidPrivate, SPID_PRIVATE_JSON, SPID_PRIVATE_TOML),
        (SpProfile::CiePublic, CIE_PUBLIC_JSON, CIE_PUBLIC_TOML),
    ] {
        let mut outputs = Vec::new();
        for (ext, text) in [("json", json), ("toml", toml)] {
            let path = dir.join(format!("{profile}.{ext}"));
            std::fs::write(&path, text).unwrap();
            let description = SpDescription::load(&path).unwrap();
            let config = description
                .sp_config(description.signing_key().unwrap())
                .unwrap();
            let metadata = description.sp_metadata().unwrap();
            assert_eq!(metadata.profile, profile);
            outputs.push(metadata.to_xml_at(&config, now()).unwrap());
        }
        assert_eq!(outputs[0], outputs[1], "{profile}: json and toml differ");
        let golden = std::fs::read_to_string(data_dir().join(format!("{profile}.xml"))).unwrap();
        assert_eq!(outputs[0], golden, "{profile}: not the golden metadata");
        // The parsed descriptions are equal too (paths resolved the same way).
        let a = SpDescription::load(dir.join(format!("{profile}.json"))).unwrap();
        let b = SpDescription::load(dir.join(format!("{profile}.toml"))).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.key_file, Some(dir.join("keys/sp.key.pem")));
    }
}
