//! The trusted IdP registry: the committed snapshots against their pins, tampering,
//! rotation, expiry warnings, validUntil, duplicates, the last-good-copy rule, refresh
//! from a local HTTP server (feature `refresh`), and the snapshots' recorded SHA-256.

mod common;

use common::keypair;
use spid_sp::dsig::{sign_enveloped, DsigError, SignatureAlgorithm, SignatureAnchor};
use spid_sp::metadata::{
    check_not_older, verify_metadata, IdentityProvider, LoadOutcome, MetadataError,
    MetadataSource as Src, Registry, RegistryError, RegistryTrust, RegistryWarning, RollbackReason,
    EXPIRY_HORIZON_SECS,
};
use spid_sp::test_idp::TestIdp;
use spid_sp::{Binding, Federation, SigningKey, Timestamp, VerificationKey};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/metadata/");

fn file(name: &str) -> Vec<u8> {
    std::fs::read(format!("{DIR}{name}")).unwrap()
}

fn at(s: &str) -> Timestamp {
    Timestamp::parse(s).unwrap()
}

fn snapshot_trust() -> RegistryTrust {
    RegistryTrust::committed_snapshots().unwrap()
}

/// The snapshots' time: every IdP certificate still valid except PosteID's.
fn t2024() -> Timestamp {
    at("2024-06-01T00:00:00Z")
}

#[test]
fn committed_spid_aggregate_verifies_against_its_pin() {
    let v = verify_metadata(
        Src::SpidRegistry,
        &file("spid-entities-idps.xml"),
        &snapshot_trust(),
        t2024(),
    )
    .unwrap();
    assert_eq!(v.idps().len(), 12);
    assert!(v.signer().unwrap().subject().contains("AgID TEST"));
    assert_eq!(
        v.sha256_hex(),
        "789dc769d3096b2ad737981f396ad31f5539c3293db460cf9aeb63d0c11e0e7e"
    );
    assert!(v.idps().iter().all(|i| i.federation() == Federation::Spid));

    // The pin file is the certificate in the signature's KeyInfo.
    let pin = VerificationKey::from_certificate_pem(&file("spid-registry-agid-test.pem")).unwrap();
    let trust = RegistryTrust::new().with_spid_pin(pin);
    verify_metadata(
        Src::SpidRegistry,
        &file("spid-entities-idps.xml"),
        &trust,
        t2024(),
    )
    .unwrap();
}

#[test]
fn tampered_aggregate_is_rejected() {
    let good = String::from_utf8(file("spid-entities-idps.xml")).unwrap();
    let trust = snapshot_trust();
    let check = |doc: &str| verify_metadata(Src::SpidRegistry, doc.as_bytes(), &trust, t2024());

    // An IdP endpoint redirected: the digest no longer matches.
    let endpoint = good.replacen(
        "https://posteid.poste.it/jod-fs/ssoservicepost",
        "https://evil.example/jod-fs/ssoservicepost",
        1,
    );
    assert_ne!(endpoint, good);
    assert_eq!(
        check(&endpoint).unwrap_err(),
        RegistryError::Metadata(MetadataError::Signature(DsigError::DigestMismatch))
    );

    // A key swapped in an IdP's KeyDescriptor (one base64 character changed).
    let kd = good.find("<md:KeyDescriptor").unwrap();
    let pos = kd + good[kd..].find("<ds:X509Certificate>").unwrap() + 40;
    let mut key = good.clone().into_bytes();
    key[pos] = if key[pos] == b'A' { b'B' } else { b'A' };
    assert!(check(&String::from_utf8(key).unwrap()).is_err());

    // The signature value altered.
    let sv = good.find("<ds:SignatureValue>").unwrap() + "<ds:SignatureValue>".len() + 10;
    let mut sig = good.clone().into_bytes();
    sig[sv] = if sig[sv] == b'A' { b'B' } else { b'A' };
    assert_eq!(
        check(&String::from_utf8(sig).unwrap()).unwrap_err(),
        RegistryError::Metadata(MetadataError::Signature(DsigError::Invalid))
    );

    // The signature removed.
    let start = good.find("<ds:Signature ").unwrap();
    let end = good.find("</ds:Signature>").unwrap() + "</ds:Signature>".len();
    let unsigned = format!("{}{}", &good[..start], &good[end..]);
    assert_eq!(
        check(&unsigned).unwrap_err(),
        RegistryError::Metadata(MetadataError::Unsigned)
    );

    // No pin, or the wrong pin: refused, never trusted by default.
    assert_eq!(
        verify_metadata(
            Src::SpidRegistry,
            good.as_bytes(),
            &RegistryTrust::new(),
            t2024()
        )
        .unwrap_err(),
        RegistryError::Metadata(MetadataError::Signature(DsigError::NoKey))
    );
    let other =
        RegistryTrust::new().with_spid_pin(keypair("other", 2048).verification_key().unwrap());
    assert_eq!(
        verify_metadata(Src::SpidRegistry, good.as_bytes(), &other, t2024()).unwrap_err(),
        RegistryError::Metadata(MetadataError::Signature(DsigError::Invalid))
    );
    // Several pins (rotation): the right one among them is enough.
    let rotated = snapshot_trust().with_spid_pin(keypair("next", 2048).verification_key().unwrap());
    verify_metadata(Src::SpidRegistry, good.as_bytes(), &rotated, t2024()).unwrap();

    // Not UTF-8 / not XML / a DTD.
    assert!(check("\u{0}garbage").is_err());
    assert!(verify_metadata(Src::SpidRegistry, &[0xff, 0xfe, 0x00], &trust, t2024()).is_err());
    let dtd = format!(
        "<!DOCTYPE x [<!ENTITY a \"b\">]>{}",
        good.trim_start_matches(|c| c != '>')
            .trim_start_matches('>')
    );
    assert!(check(&dtd).is_err());
}

#[test]
fn eidas_node_verifies_whole_document_signature() {
    let bytes = file("eidas-ficep-idp-production.xml");
    let v = verify_metadata(Src::EidasNode, &bytes, &snapshot_trust(), t2024()).unwrap();
    assert_eq!(v.idps().len(), 1);
    let idp = &v.idps()[0];
    assert_eq!(
        idp.entity_id().as_str(),
        "https://sp-proxy.eid.gov.it/spproxy/idpit"
    );
    assert_eq!(idp.federation(), Federation::Eidas);
    assert!(v.signer().unwrap().subject().contains("SP PROXY"));
    // The SPID pin does not verify it; a tampered copy is refused.
    let spid_only = RegistryTrust::new().with_spid_pin(
        VerificationKey::from_certificate_pem(&file("spid-registry-agid-test.pem")).unwrap(),
    );
    assert!(verify_metadata(Src::EidasNode, &bytes, &spid_only, t2024()).is_err());
    let text = String::from_utf8(bytes).unwrap();
    let tampered = text.replacen("samlsso", "samlssx", 1);
    assert_ne!(tampered, text);
    assert_eq!(
        verify_metadata(
            Src::EidasNode,
            tampered.as_bytes(),
            &snapshot_trust(),
            t2024()
        )
        .unwrap_err(),
        RegistryError::Metadata(MetadataError::Signature(DsigError::DigestMismatch))
    );
}

#[test]
fn full_registry_lookup_endpoints_and_rotation() {
    let mut r = Registry::new(snapshot_trust());
    assert_eq!(
        r.load(Src::SpidRegistry, &file("spid-entities-idps.xml"), t2024())
            .unwrap(),
        LoadOutcome::Added
    );
    assert_eq!(
        r.load(Src::Cie, &file("cie-idp-production.xml"), t2024())
            .unwrap(),
        LoadOutcome::Added
    );
    assert_eq!(
        r.load(
            Src::EidasNode,
            &file("eidas-ficep-idp-production.xml"),
            t2024()
        )
        .unwrap(),
        LoadOutcome::Added
    );
    assert_eq!(r.idps().count(), 14);
    assert!(r.source(Src::Cie).unwrap().signer().is_none());

    // Poste uses a different Location per binding.
    let poste = r.idp("https://posteid.poste.it").unwrap();
    assert_eq!(
        poste.sso(Binding::Post).unwrap().location,
        "https://posteid.poste.it/jod-fs/ssoservicepost"
    );
    assert_eq!(
        poste.sso(Binding::Redirect).unwrap().location,
        "https://posteid.poste.it/jod-fs/ssoserviceredirect"
    );
    assert_eq!(
        poste.slo(Binding::Redirect).unwrap().location,
        "https://posteid.poste.it/jod-fs/sloserviceredirect"
    );
    // Every signing key of an IdP is kept (rotation): Aruba lists two; Sielte lists the
    // same certificate twice, kept once.
    assert_eq!(r.idp("https://loginspid.aruba.it").unwrap().keys().len(), 2);
    assert_eq!(
        r.idp("https://identity.sieltecloud.it")
            .unwrap()
            .keys()
            .len(),
        1
    );
    // CIE is known as CIE.
    let cie = r
        .idp("https://idserver.servizicie.interno.gov.it/idp/profile/SAML2/POST/SSO")
        .unwrap();
    assert_eq!(cie.federation(), Federation::Cie);
    assert!(cie.sso(Binding::Post).is_some());
    assert!(r.idp("https://unknown.example").is_none());

    // The same bytes again: unchanged. A CIE document with another IdP: replaced.
    assert_eq!(
        r.load(Src::SpidRegistry, &file("spid-entities-idps.xml"), t2024())
            .unwrap(),
        LoadOutcome::Unchanged
    );
    assert_eq!(
        r.load(Src::Cie, &file("cie-idp-preproduction.xml"), t2024())
            .unwrap(),
        LoadOutcome::Replaced
    );
    assert!(r
        .idp("https://idserver.servizicie.interno.gov.it/idp/profile/SAML2/POST/SSO")
        .is_none());
    assert_eq!(r.idps().count(), 14);

    // The IdPs go straight into a ServiceProvider.
    let sp_key = keypair("sp", 2048);
    let config = spid_sp::SpConfig::builder("https://sp.example.it", sp_key)
        .assertion_consumer_service("https://sp.example.it/acs")
        .attribute_service(0, "Servizi", &["fiscalNumber"])
        .build()
        .unwrap();
    let sp = spid_sp::ServiceProvider::new(config, r.idps().cloned()).expect("service provider");
    assert!(sp.idp("https://spid.register.it").is_some());
}

#[test]
fn expired_idp_certificates_give_warnings() {
    let mut r = Registry::new(snapshot_trust());
    r.load(Src::SpidRegistry, &file("spid-entities-idps.xml"), t2024())
        .unwrap();
    r.load(
        Src::EidasNode,
        &file("eidas-ficep-idp-production.xml"),
        t2024(),
    )
    .unwrap();

    // Mid 2024: PosteID's only certificate expired (2024-02-19); nothing else.
    let w = r.warnings(t2024(), EXPIRY_HORIZON_SECS);
    let poste = w
        .iter()
        .find(|w| matches!(w, RegistryWarning::KeyExpired { entity_id, .. } if entity_id == "https://posteid.poste.it"))
        .expect("PosteID expiry reported");
    assert!(matches!(
        poste,
        RegistryWarning::KeyExpired {
            all_expired: true,
            ..
        }
    ));
    assert!(
        poste.to_string().contains("no unexpired key left"),
        "{poste}"
    );
    assert_eq!(
        w.iter()
            .filter(|w| matches!(w, RegistryWarning::KeyExpired { .. }))
            .count(),
        2, // PosteID and ArubaPEC's 2020 certificate
        "{w:#?}"
    );
    let aruba_old = w
        .iter()
        .find(|w| matches!(w, RegistryWarning::KeyExpired { entity_id, .. } if entity_id == "https://loginspid.aruba.it"))
        .unwrap();
    assert!(matches!(
        aruba_old,
        RegistryWarning::KeyExpired {
            all_expired: false,
            ..
        }
    ));

    // Mid December 2024: InfoCert (2025-01-05) and the eIDAS signer are near or past.
    let dec = at("2024-12-15T00:00:00Z");
    let w = r.warnings(dec, EXPIRY_HORIZON_SECS);
    assert!(w.iter().any(|w| matches!(w, RegistryWarning::KeyExpiresSoon { entity_id, .. } if entity_id == "https://identity.infocert.it")));
    assert!(w.iter().any(|w| matches!(
        w,
        RegistryWarning::SignerExpired {
            origin: Src::EidasNode,
            ..
        }
    )));

    // In 2026: the SPID pin, five SPID IdPs and the eIDAS node have expired certificates.
    let w = r.warnings(at("2026-01-01T00:00:00Z"), EXPIRY_HORIZON_SECS);
    assert!(w.iter().any(|w| matches!(
        w,
        RegistryWarning::SignerExpired {
            origin: Src::SpidRegistry,
            ..
        }
    )));
    let mut expired: Vec<&str> = w
        .iter()
        .filter_map(|w| match w {
            RegistryWarning::KeyExpired {
                entity_id,
                all_expired: true,
                ..
            } => Some(entity_id.as_str()),
            _ => None,
        })
        .collect();
    expired.sort_unstable();
    expired.dedup();
    assert_eq!(
        expired,
        [
            "https://identity.infocert.it",
            "https://identity.sieltecloud.it",
            "https://login.id.tim.it/affwebservices/public/saml2sso",
            "https://loginspid.aruba.it",
            "https://posteid.poste.it",
            "https://sp-proxy.eid.gov.it/spproxy/idpit",
        ]
    );
    // The keys stay usable: the warning is the signal, not a silent drop.
    assert!(!r.idp("https://posteid.poste.it").unwrap().keys().is_empty());
    // Messages are lower-case and name the IdP.
    let msg = w.first().unwrap().to_string();
    assert!(
        msg.starts_with(char::is_lowercase)
            || msg.starts_with("spid")
            || msg.starts_with("identity"),
        "{msg}"
    );
}

/// A signed aggregate of test IdPs, with optional validUntil on the document and on the
/// second entity.
fn signed_aggregate(
    signer: &SigningKey,
    idps: &[&TestIdp],
    valid_until: Option<&str>,
    second_valid_until: Option<&str>,
) -> String {
    aggregate(signer, idps, valid_until, second_valid_until, None)
}

/// A signed aggregate of test IdPs: optional `validUntil` on the document and on the
/// second entity, optional publication instant (`mdrpi:PublicationInfo`).
fn aggregate(
    signer: &SigningKey,
    idps: &[&TestIdp],
    valid_until: Option<&str>,
    second_valid_until: Option<&str>,
    published: Option<&str>,
) -> String {
    let mut body = String::new();
    for (i, idp) in idps.iter().enumerate() {
        let mut md = idp.metadata(idp.entity_id());
        if let (1, Some(v)) = (i, second_valid_until) {
            md = md.replacen("entityID=", &format!("validUntil=\"{v}\" entityID="), 1);
        }
        body.push_str(&md);
    }
    let vu = valid_until
        .map(|v| format!(" validUntil=\"{v}\""))
        .unwrap_or_default();
    let ext = published
        .map(|p| {
            format!(
                "<md:Extensions><mdrpi:PublicationInfo xmlns:mdrpi=\"urn:oasis:names:tc:SAML:metadata:rpi\" creationInstant=\"{p}\" publisher=\"https://registry.test\"/></md:Extensions>"
            )
        })
        .unwrap_or_default();
    let xml = format!(
        "<md:EntitiesDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" ID=\"_agg1\"{vu}>{ext}{body}</md:EntitiesDescriptor>"
    );
    sign_enveloped(
        &xml,
        signer,
        SignatureAlgorithm::RsaSha256,
        SignatureAnchor::First,
    )
    .unwrap()
}

#[test]
fn valid_until_refuses_documents_and_drops_entities() {
    let registry_key = keypair("registry", 2048);
    let trust = RegistryTrust::new().with_spid_pin(registry_key.verification_key().unwrap());
    let a = TestIdp::new("https://a.idp.test", keypair("a", 2048));
    let b = TestIdp::new("https://b.idp.test", keypair("b", 2048));
    let now = at("2026-01-15T10:00:00Z");

    // Document past validUntil: refused.
    let old = signed_aggregate(&registry_key, &[&a, &b], Some("2026-01-01T00:00:00Z"), None);
    assert_eq!(
        verify_metadata(Src::SpidRegistry, old.as_bytes(), &trust, now).unwrap_err(),
        RegistryError::Metadata(MetadataError::Expired)
    );
    // Near validUntil: loaded, with a warning; past it later: another warning.
    let near = signed_aggregate(&registry_key, &[&a, &b], Some("2026-01-20T00:00:00Z"), None);
    let mut r = Registry::new(trust.clone());
    r.load(Src::SpidRegistry, near.as_bytes(), now).unwrap();
    assert!(r
        .warnings(now, EXPIRY_HORIZON_SECS)
        .iter()
        .any(|w| matches!(w, RegistryWarning::MetadataExpiresSoon { .. })));
    assert!(r
        .warnings(at("2026-02-01T00:00:00Z"), EXPIRY_HORIZON_SECS)
        .iter()
        .any(|w| matches!(w, RegistryWarning::MetadataExpired { .. })));

    // An entity past its own validUntil is left out and reported.
    let partial = signed_aggregate(&registry_key, &[&a, &b], None, Some("2026-01-01T00:00:00Z"));
    let mut r = Registry::new(trust.clone());
    r.load(Src::SpidRegistry, partial.as_bytes(), now).unwrap();
    assert!(r.idp("https://a.idp.test").is_some());
    assert!(r.idp("https://b.idp.test").is_none());
    assert_eq!(r.source(Src::SpidRegistry).unwrap().dropped().len(), 1);
    assert!(r
        .warnings(now, EXPIRY_HORIZON_SECS)
        .iter()
        .any(|w| matches!(w, RegistryWarning::EntityDropped { entity_id, .. } if entity_id == "https://b.idp.test")));
}

/// A signed aggregate with optional document `validUntil` and publication instant.
fn dated_aggregate(
    signer: &SigningKey,
    idps: &[&TestIdp],
    valid_until: Option<&str>,
    published: Option<&str>,
) -> String {
    aggregate(signer, idps, valid_until, None, published)
}

#[test]
fn an_older_signed_copy_does_not_replace_the_one_in_use() {
    let registry_key = keypair("registry", 2048);
    let trust = RegistryTrust::new().with_spid_pin(registry_key.verification_key().unwrap());
    let a = TestIdp::new("https://a.idp.test", keypair("a", 2048));
    let now = at("2026-01-15T10:00:00Z");
    let doc = |vu: Option<&str>, published: Option<&str>| {
        dated_aggregate(&registry_key, &[&a], vu, published)
    };
    let rollback =
        |r: &mut Registry, xml: &str| match r.load(Src::SpidRegistry, xml.as_bytes(), now) {
            Err(RegistryError::Rollback(reason)) => reason,
            other => panic!("expected a rollback refusal, got {other:?}"),
        };

    // By validUntil: an earlier one is refused, the copy in use stays.
    let mut r = Registry::new(trust.clone());
    let march = doc(Some("2026-03-01T00:00:00Z"), None);
    r.load(Src::SpidRegistry, march.as_bytes(), now).unwrap();
    let sha = *r.source(Src::SpidRegistry).unwrap().sha256();
    let feb = doc(Some("2026-02-01T00:00:00Z"), None);
    assert!(matches!(
        rollback(&mut r, &feb),
        RollbackReason::OlderValidUntil { .. }
    ));
    assert_eq!(r.source(Src::SpidRegistry).unwrap().sha256(), &sha);
    // Undated after dated: its freshness cannot be established.
    assert_eq!(
        rollback(&mut r, &doc(None, None)),
        RollbackReason::Undated("validUntil")
    );
    // A later one replaces it; the same one again is unchanged.
    let april = doc(Some("2026-04-01T00:00:00Z"), None);
    assert_eq!(
        r.load(Src::SpidRegistry, april.as_bytes(), now).unwrap(),
        LoadOutcome::Replaced
    );
    assert_eq!(
        r.load(Src::SpidRegistry, april.as_bytes(), now).unwrap(),
        LoadOutcome::Unchanged
    );

    // By publication instant first: an earlier publication is refused even with a later
    // validUntil; then an undated-publication copy is refused too.
    let mut r = Registry::new(trust.clone());
    let jan10 = doc(Some("2026-03-01T00:00:00Z"), Some("2026-01-10T00:00:00Z"));
    r.load(Src::SpidRegistry, jan10.as_bytes(), now).unwrap();
    let jan05 = doc(Some("2026-09-01T00:00:00Z"), Some("2026-01-05T00:00:00Z"));
    assert!(matches!(
        rollback(&mut r, &jan05),
        RollbackReason::OlderPublication { .. }
    ));
    assert_eq!(
        rollback(&mut r, &doc(Some("2026-09-01T00:00:00Z"), None)),
        RollbackReason::Undated("publication instant")
    );
    let jan12 = doc(Some("2026-02-01T00:00:00Z"), Some("2026-01-12T00:00:00Z"));
    assert_eq!(
        r.load(Src::SpidRegistry, jan12.as_bytes(), now).unwrap(),
        LoadOutcome::Replaced
    );
    // The comparison is public (the CLI's `registry fetch` uses it on the file it replaces).
    let v = |xml: &str| verify_metadata(Src::SpidRegistry, xml.as_bytes(), &trust, now).unwrap();
    assert!(check_not_older(&v(&jan10), &v(&jan12)).is_ok());
    assert!(check_not_older(&v(&jan12), &v(&jan10)).is_err());
    // Two undated copies: nothing to compare, accepted.
    assert!(check_not_older(&v(&doc(None, None)), &v(&doc(None, None))).is_ok());
}

#[test]
fn a_rotated_out_key_cannot_come_back() {
    // The SPID aggregate carries no date: rollback protection is the retired-key rule.
    let registry_key = keypair("registry", 2048);
    let trust = RegistryTrust::new().with_spid_pin(registry_key.verification_key().unwrap());
    let old_key = keypair("a-2025", 2048);
    let new_key = keypair("a-2026", 2048);
    let old = TestIdp::new("https://a.idp.test", old_key.clone());
    let new = TestIdp::new("https://a.idp.test", new_key.clone());
    let b = TestIdp::new("https://b.idp.test", keypair("b", 2048));
    let now = at("2026-01-15T10:00:00Z");
    let before = dated_aggregate(&registry_key, &[&old, &b], None, None);
    let after = dated_aggregate(&registry_key, &[&new, &b], None, None);

    let mut r = Registry::new(trust.clone());
    r.load(Src::SpidRegistry, before.as_bytes(), now).unwrap();
    r.load(Src::SpidRegistry, after.as_bytes(), now).unwrap();
    let old_fp = *old_key.verification_key().unwrap().fingerprint();
    assert_eq!(r.retired_keys(Src::SpidRegistry), vec![old_fp]);
    let sha = *r.source(Src::SpidRegistry).unwrap().sha256();
    // The old signed copy verifies, but it lists the rotated-out key: refused.
    assert!(verify_metadata(Src::SpidRegistry, before.as_bytes(), &trust, now).is_ok());
    assert_eq!(
        r.load(Src::SpidRegistry, before.as_bytes(), now)
            .unwrap_err(),
        RegistryError::Rollback(RollbackReason::RetiredKey {
            entity_id: "https://a.idp.test".into()
        })
    );
    assert_eq!(r.source(Src::SpidRegistry).unwrap().sha256(), &sha);
    let keys = r.idp("https://a.idp.test").unwrap().keys();
    assert_eq!(keys.len(), 1);
    assert_eq!(
        keys[0].fingerprint(),
        new_key.verification_key().unwrap().fingerprint()
    );
    // The memory survives a restart when the application persists it.
    let mut restarted = Registry::new(trust);
    restarted.retire_keys(Src::SpidRegistry, r.retired_keys(Src::SpidRegistry));
    assert!(matches!(
        restarted.load(Src::SpidRegistry, before.as_bytes(), now),
        Err(RegistryError::Rollback(RollbackReason::RetiredKey { .. }))
    ));
    restarted
        .load(Src::SpidRegistry, after.as_bytes(), now)
        .unwrap();
}

#[test]
fn unreadable_valid_until_removes_the_entity_or_refuses_the_document() {
    let registry_key = keypair("registry", 2048);
    let trust = RegistryTrust::new().with_spid_pin(registry_key.verification_key().unwrap());
    let a = TestIdp::new("https://a.idp.test", keypair("a", 2048));
    let b = TestIdp::new("https://b.idp.test", keypair("b", 2048));
    let now = at("2026-01-15T10:00:00Z");
    for bad in [
        "2027-01-01T00:00:00+01:00",
        "2027-01-01",
        "garbage",
        "2027-13-01T00:00:00Z",
        "",
    ] {
        let xml = signed_aggregate(&registry_key, &[&a, &b], None, Some(bad));
        let mut r = Registry::new(trust.clone());
        r.load(Src::SpidRegistry, xml.as_bytes(), now).unwrap();
        assert!(r.idp("https://a.idp.test").is_some(), "{bad}");
        assert!(r.idp("https://b.idp.test").is_none(), "{bad}");
        let dropped = r.source(Src::SpidRegistry).unwrap().dropped();
        assert_eq!(dropped.len(), 1);
        assert_eq!(dropped[0].valid_until, None);
        assert!(r
            .warnings(now, EXPIRY_HORIZON_SECS)
            .iter()
            .any(|w| w.to_string().contains("validUntil unreadable")));
        // The same on the document: refused with a clear reason.
        let xml = signed_aggregate(&registry_key, &[&a, &b], Some(bad), None);
        assert_eq!(
            verify_metadata(Src::SpidRegistry, xml.as_bytes(), &trust, now).unwrap_err(),
            RegistryError::Metadata(MetadataError::BadInstant("validUntil")),
            "{bad}"
        );
    }
    // A zero UTC offset is UTC: readable.
    let xml = signed_aggregate(
        &registry_key,
        &[&a, &b],
        None,
        Some("2027-01-01T00:00:00+00:00"),
    );
    let mut r = Registry::new(trust);
    r.load(Src::SpidRegistry, xml.as_bytes(), now).unwrap();
    assert!(r.idp("https://b.idp.test").is_some());
}

#[test]
fn duplicates_and_last_good_copy() {
    let registry_key = keypair("registry", 2048);
    let trust = RegistryTrust::new().with_spid_pin(registry_key.verification_key().unwrap());
    let a = TestIdp::new("https://a.idp.test", keypair("a", 2048));
    let b = TestIdp::new("https://b.idp.test", keypair("b", 2048));
    let now = at("2026-01-15T10:00:00Z");

    // The same entity twice in one document.
    let twice = signed_aggregate(&registry_key, &[&a, &a], None, None);
    assert_eq!(
        verify_metadata(Src::SpidRegistry, twice.as_bytes(), &trust, now).unwrap_err(),
        RegistryError::DuplicateEntity("https://a.idp.test".into())
    );

    let mut r = Registry::new(trust);
    let good = signed_aggregate(&registry_key, &[&a, &b], None, None);
    r.load(Src::SpidRegistry, good.as_bytes(), now).unwrap();
    let sha = *r.source(Src::SpidRegistry).unwrap().sha256();

    // A SPID IdP's entityID in the CIE source: refused, nothing changes.
    let cie_clash = a.metadata("https://a.idp.test");
    assert_eq!(
        r.load(Src::Cie, cie_clash.as_bytes(), now).unwrap_err(),
        RegistryError::DuplicateEntity("https://a.idp.test".into())
    );
    assert!(r.source(Src::Cie).is_none());

    // A tampered or unsigned refresh keeps the last good copy.
    let tampered = good.replacen("https://b.idp.test/sso", "https://evil.test/sso", 1);
    assert!(r.load(Src::SpidRegistry, tampered.as_bytes(), now).is_err());
    assert!(r
        .load(Src::SpidRegistry, a.metadata("x").as_bytes(), now)
        .is_err());
    assert!(r.load(Src::SpidRegistry, b"<not-xml", now).is_err());
    assert_eq!(r.source(Src::SpidRegistry).unwrap().sha256(), &sha);
    assert_eq!(
        r.idp("https://b.idp.test")
            .unwrap()
            .sso(Binding::Post)
            .unwrap()
            .location,
        "https://b.idp.test/sso"
    );
    // An IdP without a signing key is never trusted.
    let keyless = IdentityProvider::from_metadata(
        &a.metadata("x")
            .replace("use=\"signing\"", "use=\"encryption\""),
    );
    assert!(keyless.is_err());
}

/// `metadata/SOURCES.md` records the SHA-256 of every committed file; they must match.
#[test]
fn committed_snapshots_match_sources_md() {
    let sources = String::from_utf8(file("SOURCES.md")).unwrap();
    let mut checked = 0;
    for line in sources.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let name = cells[1].trim_matches('`');
        let recorded = cells[cells.len() - 2].trim_matches('`');
        let actual = openssl::hash::hash(openssl::hash::MessageDigest::sha256(), &file(name))
            .unwrap()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>();
        assert_eq!(
            actual, recorded,
            "{name}: SHA-256 differs from metadata/SOURCES.md"
        );
        checked += 1;
    }
    assert_eq!(checked, 10, "every committed snapshot and pin is listed");
    // And every file under metadata/ is listed.
    let mut files = Vec::new();
    for entry in std::fs::read_dir(DIR).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            for inner in std::fs::read_dir(entry.path()).unwrap() {
                files.push(format!(
                    "{}/{}",
                    entry.file_name().to_string_lossy(),
                    inner.unwrap().file_name().to_string_lossy()
                ));
            }
        } else {
            files.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    for f in files.iter().filter(|f| *f != "SOURCES.md") {
        assert!(
            sources.contains(&format!("| `{f}` |")),
            "{f} is not listed in SOURCES.md"
        );
    }
}

#[cfg(feature = "refresh")]
mod refresh {
    use super::*;
    use spid_sp::metadata::{FetchError, Fetcher, PlainHttp, RefreshError};
    use std::io::{Read, Write};
    use std::net::TcpListener;
    use std::time::Duration;

    type Route = (&'static str, u16, Vec<u8>, u64);

    /// A tiny HTTP/1.1 server on 127.0.0.1 serving fixed routes (path, status, body, delay
    /// in ms), one thread per connection.
    fn serve(routes: Vec<Route>) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let routes = std::sync::Arc::new(routes);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let routes = routes.clone();
                std::thread::spawn(move || {
                    let mut buf = [0u8; 4096];
                    let n = stream.read(&mut buf).unwrap_or(0);
                    let req = String::from_utf8_lossy(&buf[..n]);
                    let path = req.split_whitespace().nth(1).unwrap_or("/").to_owned();
                    let (status, body, delay) = match routes.iter().find(|r| r.0 == path) {
                        Some((_, s, b, d)) => (*s, b.as_slice(), *d),
                        None => (404, &b"not found"[..], 0),
                    };
                    std::thread::sleep(Duration::from_millis(delay));
                    let head = format!(
                        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nContent-Type: application/samlmetadata+xml\r\nConnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = stream.write_all(head.as_bytes());
                    let _ = stream.write_all(body);
                });
            }
        });
        base
    }

    #[test]
    fn refresh_keeps_the_last_good_copy() {
        let good = file("spid-entities-idps.xml");
        let tampered = String::from_utf8(good.clone())
            .unwrap()
            .replacen(
                "https://spid.register.it/login/sso",
                "https://evil.example/sso",
                1,
            )
            .into_bytes();
        let truncated = good[..good.len() / 2].to_vec();
        let huge = vec![b' '; 8 * 1024 * 1024 + 10];
        let base = serve(vec![
            ("/good", 200, good.clone(), 0),
            ("/tampered", 200, tampered, 0),
            ("/truncated", 200, truncated, 0),
            ("/error", 500, b"oops".to_vec(), 0),
            ("/huge", 200, huge, 0),
            ("/slow", 200, good.clone(), 3000),
        ]);
        // Metadata is fetched over https only; a loopback test server needs the switch.
        let https_only = Fetcher::new(Duration::from_secs(1));
        assert_eq!(
            https_only.fetch(&format!("{base}/good")).unwrap_err(),
            FetchError::PlainHttp
        );
        let mut r = Registry::new(snapshot_trust());
        assert_eq!(
            r.refresh(
                Src::SpidRegistry,
                &format!("{base}/good"),
                &https_only,
                t2024()
            )
            .unwrap_err(),
            RefreshError::Fetch(FetchError::PlainHttp)
        );
        assert!(r.source(Src::SpidRegistry).is_none());
        let fetcher =
            Fetcher::new(Duration::from_secs(1)).allow_plain_http(PlainHttp::OnlyForLoopbackTests);
        // ... and only for loopback hosts (no connection is attempted elsewhere).
        for url in [
            "http://example.org/md.xml",
            "http://127.0.0.1.example.org/x",
            "http://user@127.0.0.1/x",
            "http://10.0.0.1/x",
        ] {
            assert_eq!(
                fetcher.fetch(url).unwrap_err(),
                FetchError::PlainHttp,
                "{url}"
            );
        }

        assert_eq!(
            r.refresh(
                Src::SpidRegistry,
                &format!("{base}/good"),
                &fetcher,
                t2024()
            )
            .unwrap(),
            LoadOutcome::Added
        );
        let sha = *r.source(Src::SpidRegistry).unwrap().sha256();
        let register_sso = || {
            r.idp("https://spid.register.it")
                .unwrap()
                .sso(Binding::Post)
                .unwrap()
                .location
                .clone()
        };
        assert_eq!(register_sso(), "https://spid.register.it/login/sso");

        let mut r2 = r.clone();
        for (path, expect) in [
            ("/tampered", "signature"),
            ("/truncated", "xml"),
            ("/error", "500"),
            ("/missing", "404"),
            ("/huge", "larger"),
            ("/slow", "download failed"),
        ] {
            let err = r2
                .refresh(
                    Src::SpidRegistry,
                    &format!("{base}{path}"),
                    &fetcher,
                    t2024(),
                )
                .unwrap_err();
            assert!(err.to_string().contains(expect), "{path}: {err}");
            match path {
                "/tampered" | "/truncated" => assert!(matches!(err, RefreshError::Rejected(_))),
                "/error" => assert_eq!(err, RefreshError::Fetch(FetchError::Status(500))),
                _ => assert!(matches!(err, RefreshError::Fetch(_))),
            }
            // The copy in use is still the good one.
            assert_eq!(r2.source(Src::SpidRegistry).unwrap().sha256(), &sha);
        }
        assert_eq!(
            r2.idp("https://spid.register.it")
                .unwrap()
                .sso(Binding::Post)
                .unwrap()
                .location,
            "https://spid.register.it/login/sso"
        );
        assert_eq!(
            r.refresh(
                Src::SpidRegistry,
                &format!("{base}/good"),
                &fetcher,
                t2024()
            )
            .unwrap(),
            LoadOutcome::Unchanged
        );
        assert_eq!(
            fetcher.fetch("ftp://127.0.0.1/x").unwrap_err(),
            FetchError::Scheme
        );
        // CIE metadata is unsigned: trusted for where it comes from, so https only.
        assert_eq!(
            r.refresh(Src::Cie, &format!("{base}/good"), &fetcher, t2024())
                .unwrap_err(),
            RefreshError::Fetch(FetchError::InsecureUnsigned)
        );
        // Nothing listens here: a transport error, not a panic.
        let closed = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        assert!(matches!(
            fetcher.fetch(&format!("http://{closed}/x")).unwrap_err(),
            FetchError::Transport(_)
        ));
    }
}
