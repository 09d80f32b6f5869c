//! Interoperability of the XML-DSig code with signatures made by others: the real SPID
//! registry aggregate and the eIDAS-node metadata (signed by AgID's and the node's
//! tooling), documents signed by the `xmlsec1` CLI, and our signatures checked by `xmlsec1`.

use spid_sp::dsig::{self, SignatureAlgorithm, SignatureAnchor, VerifyPolicy};
use spid_sp::fuzzing::tree;
use spid_sp::xml::Limits;
use spid_sp::{SigningKey, VerificationKey};

fn embedded_key(signature: tree::Node<'_, '_>) -> VerificationKey {
    let cert = signature
        .descendants()
        .find(|n| n.has_tag_name((dsig::DSIG_NS, "X509Certificate")))
        .expect("embedded certificate");
    VerificationKey::from_certificate_base64(&tree::text(cert).unwrap()).unwrap()
}

/// Every signature in a metadata file, verified with the certificate it embeds (this
/// tests canonicalization and digests against real-world signers, not trust).
fn verify_all_signatures(path: &str) -> usize {
    let text = std::fs::read_to_string(path).unwrap();
    let doc = tree::parse(&text, &Limits::METADATA).unwrap();
    let policy = VerifyPolicy {
        allow_whole_document: true,
        ..VerifyPolicy::default()
    };
    let mut scratch = Vec::new();
    let mut n = 0;
    for sig in doc
        .descendants()
        .filter(|n| n.has_tag_name((dsig::DSIG_NS, "Signature")))
    {
        let signed = sig.parent_element().unwrap();
        let key = embedded_key(sig);
        let mut policy = policy;
        // Inner entity signatures using URI="" refer to the whole document in XML-DSig;
        // only the document element may use it under our policy.
        if signed.parent().map(|p| p.is_root()) != Some(true) {
            policy.allow_whole_document = false;
        }
        match tree::verify_enveloped(signed, sig, &[key], &policy, &mut scratch) {
            Ok(_) => n += 1,
            Err(dsig::DsigError::Reference) if !policy.allow_whole_document => {
                // A non-root URI="" signature: refused by policy (Intesi's inner signature).
                eprintln!(
                    "{path}: refused URI=\"\" on {}",
                    signed.attribute("entityID").unwrap_or("?")
                );
            }
            Err(e) => panic!(
                "{path}: signature on {:?} failed: {e}",
                signed.attribute("entityID")
            ),
        }
    }
    n
}

#[test]
fn registry_aggregate_signatures_verify() {
    let n = verify_all_signatures("metadata/spid-entities-idps.xml");
    assert!(n >= 12, "only {n} signatures verified");
}

#[test]
fn eidas_node_metadata_signature_verifies() {
    assert_eq!(
        verify_all_signatures("metadata/eidas-ficep-idp-production.xml"),
        1
    );
}

#[test]
fn sign_then_verify_round_trip() {
    let key = test_key();
    let xml = r#"<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_abc" Version="2.0"><saml:Issuer>https://sp.example</saml:Issuer><samlp:NameIDPolicy Format="x"/></samlp:AuthnRequest>"#;
    let signed = dsig::sign_enveloped(
        xml,
        &key,
        SignatureAlgorithm::RsaSha256,
        SignatureAnchor::After("urn:oasis:names:tc:SAML:2.0:assertion", "Issuer"),
    )
    .unwrap();
    let doc = tree::parse(&signed, &Limits::MESSAGE).unwrap();
    let root = doc.root_element();
    let sig = tree::find_signature(root).unwrap().unwrap();
    let vk = key.verification_key().unwrap();
    tree::verify_enveloped(
        root,
        sig,
        std::slice::from_ref(&vk),
        &VerifyPolicy::default(),
        &mut Vec::new(),
    )
    .unwrap();
    // Tampering anywhere in the signed element breaks it.
    let tampered = signed.replace("https://sp.example", "https://sp.evil");
    let doc = tree::parse(&tampered, &Limits::MESSAGE).unwrap();
    let root = doc.root_element();
    let sig = tree::find_signature(root).unwrap().unwrap();
    assert_eq!(
        tree::verify_enveloped(root, sig, &[vk], &VerifyPolicy::default(), &mut Vec::new()),
        Err(dsig::DsigError::DigestMismatch)
    );
}

fn test_key() -> SigningKey {
    SigningKey::from_pem(
        &std::fs::read("tests/data/keys/sp.key.pem").unwrap(),
        &std::fs::read("tests/data/keys/sp.crt.pem").unwrap(),
    )
    .unwrap()
}
