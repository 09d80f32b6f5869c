//! Proof obligations of the shared canonicalization ([`super::SharedC14n`]): the shared
//! bytes are the separate canonicalization's on every vector whenever they are used, and
//! documents where they must not be used fall back and still verify.

use std::path::Path;

use super::*;
use crate::dsig::{sign_element, SignatureAnchor, SigningKey};
use crate::xml::{self, c14n::Watch, Limits};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");

fn xml_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            xml_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "xml") {
            out.push(path);
        }
    }
}

/// The reference's InclusiveNamespaces list, when the signature's shape can be read.
fn reference_prefixes<'a>(signature: Node<'a, '_>) -> Option<Vec<&'a str>> {
    let parts = signature_parts(signature).ok()?;
    let si = parse_signed_info(parts.signed_info).ok()?;
    Some(parse_reference(si.reference).ok()?.prefixes)
}

fn separate(element: Node<'_, '_>, exclude: NodeId, prefixes: &[&str]) -> Vec<u8> {
    let mut out = Vec::new();
    c14n::canonicalize(
        element,
        &C14nOptions {
            exclude: Some(exclude),
            inclusive_prefixes: prefixes,
        },
        &mut out,
    );
    out
}

/// For every XML file under tests/data (every Response vector of the manifest, the c14n
/// and metadata vectors) and every element E inside the document element: the document
/// element is canonicalized watching E (its ds:Signature left out, or else its first
/// element child), without its own signature, with its reference's list if any; whenever
/// `apex_ranges` gives ranges, their bytes must be E's separate canonical form. Counts
/// are printed (`--nocapture`).
#[test]
fn shared_bytes_equal_the_separate_c14n_on_every_vector() {
    let mut files = Vec::new();
    xml_files(Path::new(DATA), &mut files);
    files.sort();
    let limits = Limits {
        max_bytes: 16 * 1024 * 1024,
        max_nodes: u32::MAX,
        ..Limits::METADATA
    };
    let (mut docs, mut taken, mut refused, mut refused_equal) = (0, 0, 0, 0);
    let (mut sig_taken, mut sig_refused) = (0, 0);
    for path in &files {
        let Ok(text) = std::fs::read_to_string(path) else {
            continue;
        };
        let Ok(doc) = xml::parse(&text, &limits) else {
            continue;
        };
        docs += 1;
        let root = doc.root_element();
        let root_sig = find_signature(root).ok().flatten();
        let root_prefixes = root_sig.and_then(reference_prefixes).unwrap_or_default();
        let mut walked = 0;
        for element in doc.descendants().filter(|n| n.is_element() && *n != root) {
            if element.ancestors().any(|a| Some(a) == root_sig) {
                continue; // inside the document element's own signature (or it)
            }
            let own_sig = find_signature(element).ok().flatten();
            let Some(excluded) = own_sig.or_else(|| element_children(element).next()) else {
                continue;
            };
            walked += 1;
            if own_sig.is_none() && walked > 60 {
                continue; // bounded work per document for the generic elements
            }
            let element_prefixes = own_sig.and_then(reference_prefixes).unwrap_or_default();
            for (outer, inner) in [
                (&root_prefixes[..], &element_prefixes[..]),
                (&[][..], &[][..]),
            ] {
                let mut out = Vec::new();
                let seen = c14n::canonicalize_watching(
                    root,
                    &C14nOptions {
                        exclude: root_sig.map(|s| s.id()),
                        inclusive_prefixes: outer,
                    },
                    Some(Watch {
                        element: element.id(),
                        excluded: excluded.id(),
                    }),
                    &mut out,
                );
                // The watching pass writes exactly what the plain one does.
                let mut plain = Vec::new();
                c14n::canonicalize(
                    root,
                    &C14nOptions {
                        exclude: root_sig.map(|s| s.id()),
                        inclusive_prefixes: outer,
                    },
                    &mut plain,
                );
                assert_eq!(out, plain, "{}", path.display());
                let expected = separate(element, excluded.id(), inner);
                match seen.apex_ranges(inner) {
                    Some([a, b]) => {
                        let shared = [&out[a], &out[b]].concat();
                        assert_eq!(
                            String::from_utf8_lossy(&shared),
                            String::from_utf8_lossy(&expected),
                            "{} element {:?}",
                            path.display(),
                            element.tag_name()
                        );
                        taken += 1;
                        sig_taken += usize::from(own_sig.is_some());
                    }
                    None => {
                        refused += 1;
                        sig_refused += usize::from(own_sig.is_some());
                        // Information only: how conservative the condition is.
                        if let (Some(r), Some(x)) = seen.ranges() {
                            let cut = [&out[r.start..x.start], &out[x.end..r.end]].concat();
                            refused_equal += usize::from(cut == expected);
                        }
                    }
                }
            }
        }
    }
    eprintln!(
        "shared c14n: {docs} documents; element/pass pairs: {taken} shared (equal), \
         {refused} refused ({refused_equal} of them would have been equal); \
         signed enclosed elements: {sig_taken} shared, {sig_refused} refused"
    );
    assert!(docs > 250, "tests/data not found or unreadable");
    assert!(sig_taken > 100, "the shared path is almost never taken");
}

// --- End to end: verify_enclosing then verify_enclosed on documents signed here. ---

fn key() -> SigningKey {
    SigningKey::from_pem(
        &std::fs::read(format!("{DATA}/keys/idp.key.pem")).unwrap(),
        &std::fs::read(format!("{DATA}/keys/idp.crt.pem")).unwrap(),
    )
    .unwrap()
}

const SP: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
const SA: &str = "urn:oasis:names:tc:SAML:2.0:assertion";

/// A Response/Assertion pair; `response_attrs` and `assertion_attrs` go on the start tags.
fn message(response_open: &str, assertion_open: &str) -> String {
    format!(
        "{response_open}<saml:Issuer xmlns:saml=\"{SA}\">https://idp</saml:Issuer>\
         <samlp:Status xmlns:samlp=\"{SP}\"><samlp:StatusCode Value=\"ok\"/></samlp:Status>\
         {assertion_open}<saml:Issuer>https://idp</saml:Issuer>\
         <saml:Subject><saml:NameID>x</saml:NameID></saml:Subject>\
         <saml:AttributeStatement><saml:Attribute Name=\"n\">\
         <saml:AttributeValue xmlns:xs=\"http://www.w3.org/2001/XMLSchema\" \
         xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"xs:string\">v\
         </saml:AttributeValue></saml:Attribute></saml:AttributeStatement>\
         </saml:Assertion></samlp:Response>"
    )
}

const RESPONSE: &str =
    "<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" ID=\"r1\">";
const ASSERTION: &str =
    "<saml:Assertion xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"a1\">";

/// Signs the element `id` as `sign_element` does, with an InclusiveNamespaces list on
/// the reference's exc-c14n transform (`None`: `sign_element` itself).
fn sign(xml: &str, id: &str, prefixes: Option<&str>) -> String {
    let key = key();
    let anchor = SignatureAnchor::After(SA, "Issuer");
    let Some(list) = prefixes else {
        return sign_element(xml, Some(id), &key, SignatureAlgorithm::RsaSha256, anchor).unwrap();
    };
    let doc = xml::parse(xml, &Limits::METADATA).unwrap();
    let node = doc
        .descendants()
        .find(|n| n.attribute("ID") == Some(id))
        .unwrap();
    let list_vec: Vec<&str> = list.split_ascii_whitespace().collect();
    let mut canonical = Vec::new();
    c14n::canonicalize(
        node,
        &C14nOptions {
            exclude: None,
            inclusive_prefixes: &list_vec,
        },
        &mut canonical,
    );
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let digest = b64.encode(&*DigestAlgorithm::Sha256.digest(&canonical));
    let issuer_end = node
        .children()
        .find(|c| c.is_element())
        .unwrap()
        .range()
        .end;
    let signature = format!(
        "<ds:Signature xmlns:ds=\"{DSIG_NS}\"><ds:SignedInfo>\
         <ds:CanonicalizationMethod Algorithm=\"{EXC_C14N}\"/>\
         <ds:SignatureMethod Algorithm=\"{}\"/>\
         <ds:Reference URI=\"#{id}\"><ds:Transforms>\
         <ds:Transform Algorithm=\"{ENVELOPED}\"/>\
         <ds:Transform Algorithm=\"{EXC_C14N}\"><ec:InclusiveNamespaces \
         xmlns:ec=\"{EXC_C14N}\" PrefixList=\"{list}\"/></ds:Transform></ds:Transforms>\
         <ds:DigestMethod Algorithm=\"{}\"/><ds:DigestValue>{digest}</ds:DigestValue>\
         </ds:Reference></ds:SignedInfo><ds:SignatureValue>SIGNATURE</ds:SignatureValue>\
         </ds:Signature>",
        SignatureAlgorithm::RsaSha256.uri(),
        DigestAlgorithm::Sha256.uri(),
    );
    let unsigned = format!("{}{signature}{}", &xml[..issuer_end], &xml[issuer_end..]);
    let doc = xml::parse(&unsigned, &Limits::METADATA).unwrap();
    let si = doc.descendants().find(|n| is_ds(n, "SignedInfo")).unwrap();
    let mut canonical = Vec::new();
    c14n::canonicalize(si, &C14nOptions::default(), &mut canonical);
    let value = b64.encode(key.sign(SignatureAlgorithm::RsaSha256, &canonical).unwrap());
    unsigned.replace("SIGNATURE", &value)
}

/// Verifies the Response then its Assertion through the shared path; returns the
/// Assertion's outcome and whether its digest used the shared bytes.
fn verify_both(text: &str) -> (Result<(), DsigError>, Option<bool>) {
    let doc = xml::parse(text, &Limits::MESSAGE).unwrap();
    let root = doc.root_element();
    let assertion = element_children(root)
        .find(|n| n.tag_name().name() == "Assertion")
        .unwrap();
    let keys = [key().verification_key().unwrap()];
    let policy = VerifyPolicy::default();
    let mut shared = SharedC14n::with_capacity(text.len());
    let response_sig = find_signature(root).unwrap().unwrap();
    verify_enclosing(
        root,
        response_sig,
        Some(assertion),
        &keys,
        &policy,
        &mut shared,
    )
    .expect("the Response verifies");
    let sig = find_signature(assertion).unwrap().unwrap();
    let outcome = verify_enclosed(assertion, sig, &keys, &policy, &mut shared).map(|_| ());
    // The plain path gives the same outcome.
    let plain = verify_enveloped(assertion, sig, &keys, &policy, &mut Vec::new()).map(|_| ());
    assert_eq!(outcome, plain);
    (outcome, shared.used_shared())
}

fn both_signed(response_open: &str, assertion_open: &str, prefixes: [Option<&str>; 2]) -> String {
    let xml = message(response_open, assertion_open);
    let xml = sign(&xml, "a1", prefixes[1]);
    sign(&xml, "r1", prefixes[0])
}

#[test]
fn a_plain_both_signed_response_shares_the_bytes() {
    let text = both_signed(RESPONSE, ASSERTION, [None, None]);
    assert_eq!(verify_both(&text), (Ok(()), Some(true)));
}

#[test]
fn a_namespace_the_response_already_rendered_is_not_shared() {
    // The Response renders xmlns:saml (it uses it on itself); inside it the Assertion's
    // start tag omits it, while the Assertion as its own apex declares it.
    let response = "<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" \
        xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" saml:x=\"1\" ID=\"r1\">";
    let assertion = "<saml:Assertion ID=\"a1\">";
    let text = both_signed(response, assertion, [None, None]);
    assert_eq!(verify_both(&text), (Ok(()), Some(false)));
}

#[test]
fn a_namespace_used_deep_inside_and_rendered_by_the_response_is_not_shared() {
    // The Response renders xmlns:xs; only an AttributeValue deep in the Assertion uses
    // it (the start tags agree, the descendant does not).
    let response = "<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" \
        xmlns:xs=\"http://www.w3.org/2001/XMLSchema\" xs:x=\"1\" ID=\"r1\">";
    let xml = message(response, ASSERTION).replace(
        " xmlns:xs=\"http://www.w3.org/2001/XMLSchema\" xmlns:xsi",
        " xs:y=\"2\" xmlns:xsi",
    );
    let text = sign(&sign(&xml, "a1", None), "r1", None);
    assert_eq!(verify_both(&text), (Ok(()), Some(false)));
}

#[test]
fn a_default_namespace_of_the_response_is_not_shared() {
    let response = "<Response xmlns=\"urn:oasis:names:tc:SAML:2.0:protocol\" ID=\"r1\">";
    let xml = message(response, ASSERTION)
        .replace("</samlp:Response>", "</Response>")
        .replace(
            "<saml:NameID>x</saml:NameID>",
            "<NameID xmlns=\"\">x</NameID>",
        );
    let text = sign(&sign(&xml, "a1", None), "r1", None);
    assert_eq!(verify_both(&text), (Ok(()), Some(false)));
}

#[test]
fn an_inclusive_namespaces_list_on_either_reference_is_not_shared() {
    for prefixes in [
        [None, Some("xs")],
        [Some("xs"), None],
        [Some("xs"), Some("xs")],
        [None, Some("saml")],
    ] {
        let text = both_signed(RESPONSE, ASSERTION, prefixes);
        assert_eq!(verify_both(&text), (Ok(()), Some(false)), "{prefixes:?}");
    }
}

#[test]
fn an_assertion_altered_before_the_response_was_signed_is_caught_on_the_shared_path() {
    // The Response's digest covers the altered Assertion; the Assertion's does not.
    let xml = sign(&message(RESPONSE, ASSERTION), "a1", None)
        .replace(">x</saml:NameID>", ">y</saml:NameID>");
    let text = sign(&xml, "r1", None);
    assert_eq!(
        verify_both(&text),
        (Err(DsigError::DigestMismatch), Some(true))
    );
}

#[test]
fn another_signature_or_element_than_the_watched_one_falls_back() {
    let text = both_signed(RESPONSE, ASSERTION, [None, None]);
    let doc = xml::parse(&text, &Limits::MESSAGE).unwrap();
    let root = doc.root_element();
    let assertion = element_children(root)
        .find(|n| n.tag_name().name() == "Assertion")
        .unwrap();
    let keys = [key().verification_key().unwrap()];
    let policy = VerifyPolicy::default();
    let response_sig = find_signature(root).unwrap().unwrap();
    // Watching nothing: the enclosed verification canonicalizes on its own.
    let mut shared = SharedC14n::with_capacity(text.len());
    verify_enclosing(root, response_sig, None, &keys, &policy, &mut shared).unwrap();
    let sig = find_signature(assertion).unwrap().unwrap();
    verify_enclosed(assertion, sig, &keys, &policy, &mut shared).unwrap();
    assert_eq!(shared.used_shared(), Some(false));
    // Watching a grandchild (not a child of the signed element): not watched.
    let subject = element_children(assertion)
        .find(|n| n.tag_name().name() == "Subject")
        .unwrap();
    let mut shared = SharedC14n::with_capacity(text.len());
    verify_enclosing(
        root,
        response_sig,
        Some(subject),
        &keys,
        &policy,
        &mut shared,
    )
    .unwrap();
    assert!(shared.watched.is_none());
}
