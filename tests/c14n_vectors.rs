//! Canonical bytes of every signed vector, ours against xmlsec1's (issue 19, item 3).
//!
//! For every XML file under `tests/data` (SAML Responses with their Assertions, SP
//! metadata, IdP metadata, broken and tampered vectors) and every `ds:Signature` in it:
//!
//! - `xmlsec1 --verify --store-references --store-signatures` on that Signature (selected
//!   by `--node-xpath`, the k-th Signature in document order), with the vector's trusted
//!   certificate (`--pubkey-cert-pem`: `keys/idp.crt.pem`, `keys/idp2.crt.pem` for the
//!   idp2 vectors, `metadata/test-only-sp.crt.pem` for SP metadata) and an `--id-attr:ID`
//!   for every element type carrying an `ID`, prints the bytes it digests for each
//!   Reference ("PreDigest") and the bytes it signs ("PreSigned", the canonical
//!   SignedInfo), whether or not the signature then verifies;
//! - we compute the same bytes with the SDK's reader and canonicalization (the hidden
//!   `spid_sp::fuzzing::tree` layer, read-only: the public `xml::canonicalize_document`
//!   only canonicalizes whole documents): the element the Reference's `#ID` names (the
//!   whole document for `URI=""`), without the Signature (enveloped-signature
//!   transform), in exclusive c14n with the transform's `InclusiveNamespaces PrefixList`;
//!   SignedInfo with its CanonicalizationMethod's list;
//! - the two must be byte-identical.
//!
//! Each signature is classified: `compared` (xmlsec1 verified it: `verified`, or not:
//! `tampered or wrong key`), or not compared, for a reason the SDK refuses anyway and
//! that the test names (our reader refuses the document, transforms or canonicalization
//! other than [enveloped, exc-c14n], xmlsec1 computes no reference, ...). Files without
//! any signature are counted as `unsigned`. Every vector the manifest expects to be
//! accepted must have all its signatures compared and verified by xmlsec1.
//!
//! Skipped with a notice when `xmlsec1` is not installed, except under CI (`CI` set),
//! where it fails (`apt-get install xmlsec1`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use spid_sp::dsig::{DSIG_NS, ENVELOPED, EXC_C14N};
use spid_sp::fuzzing::tree::{self, C14nOptions, Node};
use spid_sp::xml::Limits;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");

fn xmlsec1_available() -> bool {
    if Command::new("xmlsec1")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "xmlsec1 required under CI (apt-get install xmlsec1)"
    );
    eprintln!("NOTICE: xmlsec1 not installed; c14n_vectors skipped (apt-get install xmlsec1)");
    false
}

fn xml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            xml_files(&path, out);
        } else if path.extension().is_some_and(|x| x == "xml") {
            out.push(path);
        }
    }
}

/// `file` → (expect, options) from `responses/manifest.tsv`.
fn manifest() -> BTreeMap<String, (String, String)> {
    let text = std::fs::read_to_string(format!("{DATA}/responses/manifest.tsv")).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            (
                cols[0].to_string(),
                (
                    cols[1].to_string(),
                    cols.get(3).copied().unwrap_or("").to_string(),
                ),
            )
        })
        .collect()
}

/// The certificate the vector's signatures are expected to verify with.
fn trusted_cert(path: &Path, options: Option<&str>) -> PathBuf {
    let rel = path.strip_prefix(DATA).unwrap();
    if rel.starts_with("metadata") {
        return Path::new(DATA).join("metadata/test-only-sp.crt.pem");
    }
    let idp2 = options.is_some_and(|o| o.contains("idp2.test.example"));
    Path::new(DATA)
        .join("keys")
        .join(if idp2 { "idp2.crt.pem" } else { "idp.crt.pem" })
}

/// What xmlsec1 printed for one Signature.
struct Theirs {
    verified: bool,
    /// (URI, PreDigest bytes) of each Reference it processed, in order.
    references: Vec<(String, Vec<u8>)>,
    /// The canonical SignedInfo.
    signed_info: Option<Vec<u8>>,
    stderr: String,
}

fn buffer(out: &[u8], from: usize, name: &str) -> Option<(usize, Vec<u8>)> {
    let start = format!("== {name} data - start buffer:\n");
    let end = format!("\n== {name} data - end buffer");
    let s = find(&out[from..], start.as_bytes())? + from + start.len();
    let e = find(&out[s..], end.as_bytes())? + s;
    Some((e, out[s..e].to_vec()))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn xmlsec_verify(file: &Path, cert: &Path, index: usize, id_attrs: &[String]) -> Theirs {
    let mut cmd = Command::new("xmlsec1");
    cmd.args([
        "--verify",
        "--store-references",
        "--store-signatures",
        "--enabled-key-data",
        "rsa,x509",
        "--pubkey-cert-pem",
    ])
    .arg(cert);
    for a in id_attrs {
        cmd.args(["--id-attr:ID", a]);
    }
    let xpath = format!(
        "(//*[local-name()='Signature' and namespace-uri()='{DSIG_NS}'])[{}]",
        index + 1
    );
    let out = cmd
        .args(["--node-xpath", &xpath])
        .arg(file)
        .output()
        .unwrap();
    let stdout = out.stdout;
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let verified = out.status.success() && stderr.starts_with("OK");
    let mut references = Vec::new();
    let mut at = 0;
    let uri_mark = b"== URI: \"";
    while let Some(u) = find(&stdout[at..], uri_mark) {
        let u = at + u + uri_mark.len();
        let q = find(&stdout[u..], b"\"\n").map(|q| u + q).unwrap_or(u);
        let uri = String::from_utf8_lossy(&stdout[u..q]).into_owned();
        at = q;
        let next_uri = find(&stdout[at..], uri_mark).map(|n| at + n);
        match buffer(&stdout, at, "PreDigest") {
            Some((end, bytes)) if next_uri.is_none_or(|n| end < n) => {
                references.push((uri, bytes));
                at = end;
            }
            _ => {}
        }
    }
    let signed_info = buffer(&stdout, 0, "PreSigned").map(|(_, b)| b);
    Theirs {
        verified,
        references,
        signed_info,
        stderr,
    }
}

fn ds<'a, 'i>(node: Node<'a, 'i>, local: &str) -> Option<Node<'a, 'i>> {
    node.children().find(|c| c.has_tag_name((DSIG_NS, local)))
}

/// The `PrefixList` of an `InclusiveNamespaces` child of `node`.
fn prefix_list<'a>(node: Node<'a, '_>) -> Vec<&'a str> {
    node.children()
        .find(|c| {
            c.tag_name().name() == "InclusiveNamespaces"
                && c.tag_name().namespace() == Some(EXC_C14N)
        })
        .and_then(|c| c.attribute("PrefixList"))
        .map(|p| p.split_whitespace().collect())
        .unwrap_or_default()
}

#[derive(Default)]
struct Tally {
    files: usize,
    unsigned: Vec<String>,
    reader_refuses: Vec<String>,
    /// classification → signatures
    signatures: BTreeMap<String, usize>,
    references_compared: usize,
    signed_info_compared: usize,
    mismatches: Vec<String>,
}

#[test]
fn signed_vectors_canonicalize_exactly_as_xmlsec1() {
    if !xmlsec1_available() {
        return;
    }
    let manifest = manifest();
    let mut files = Vec::new();
    xml_files(Path::new(DATA), &mut files);
    let mut t = Tally::default();
    let mut accepted_checked = 0;
    for path in &files {
        t.files += 1;
        let rel = path.strip_prefix(DATA).unwrap().display().to_string();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let entry = rel
            .starts_with("responses/")
            .then(|| manifest.get(&name))
            .flatten();
        let expect_accept = entry.is_some_and(|(e, _)| e == "accept");
        let bytes = std::fs::read(path).unwrap();
        let text = match tree::decode_utf8(&bytes) {
            Ok(text) => text,
            Err(e) => {
                t.reader_refuses.push(format!("{rel}: {e}"));
                assert!(!expect_accept, "{rel}: refused ({e}) but expected accepted");
                continue;
            }
        };
        let doc = match tree::parse(text, &Limits::METADATA) {
            Ok(doc) => doc,
            Err(e) => {
                t.reader_refuses.push(format!("{rel}: {e}"));
                assert!(!expect_accept, "{rel}: refused ({e}) but expected accepted");
                continue;
            }
        };
        let signatures: Vec<Node> = doc
            .descendants()
            .filter(|n| n.has_tag_name((DSIG_NS, "Signature")))
            .collect();
        if signatures.is_empty() {
            t.unsigned.push(rel.clone());
            assert!(
                !expect_accept,
                "{rel}: an accepted vector without a signature"
            );
            continue;
        }
        let mut id_attrs: Vec<String> = doc
            .descendants()
            .filter(|n| n.is_element() && n.attribute("ID").is_some())
            .map(|n| match n.tag_name().namespace() {
                Some(ns) => format!("{ns}:{}", n.tag_name().name()),
                None => n.tag_name().name().to_string(),
            })
            .collect();
        id_attrs.sort();
        id_attrs.dedup();
        let cert = trusted_cert(path, entry.map(|(_, o)| o.as_str()));
        for (k, sig) in signatures.iter().enumerate() {
            let theirs = xmlsec_verify(path, &cert, k, &id_attrs);
            let mut class = classify(&rel, &doc, *sig, &theirs, &mut t);
            if class.ends_with("(tampered or wrong key)") {
                // Which tampered vector: the manifest's expectation, or the broken case.
                let why = match entry {
                    Some((expect, _)) => expect.clone(),
                    None => rel.clone(),
                };
                class = format!("compared: xmlsec1 does not verify: {why}");
            }
            if expect_accept {
                assert_eq!(class, "compared: verified", "{rel}: signature {k}");
                accepted_checked += 1;
            }
            *t.signatures.entry(class).or_default() += 1;
        }
    }
    eprintln!(
        "c14n_vectors: {} files under tests/data: {} unsigned, {} refused by our reader, {} signatures: {} References and {} SignedInfo compared byte for byte with xmlsec1, {} mismatches",
        t.files,
        t.unsigned.len(),
        t.reader_refuses.len(),
        t.signatures.values().sum::<usize>(),
        t.references_compared,
        t.signed_info_compared,
        t.mismatches.len()
    );
    for (class, n) in &t.signatures {
        eprintln!("  {n:4}  {class}");
    }
    eprintln!(
        "  refused by our reader (not compared): {:?}",
        t.reader_refuses
    );
    eprintln!("  unsigned: {:?}", t.unsigned);
    assert!(
        t.mismatches.is_empty(),
        "canonical bytes differ from xmlsec1's:\n{}",
        t.mismatches.join("\n")
    );
    assert!(
        accepted_checked >= 45,
        "only {accepted_checked} signatures of accepted vectors"
    );
    assert!(
        t.references_compared >= 250,
        "only {} References compared",
        t.references_compared
    );
}

/// Compares one signature's References and SignedInfo; returns its classification.
fn classify(
    rel: &str,
    doc: &tree::Document<'_>,
    sig: Node<'_, '_>,
    theirs: &Theirs,
    t: &mut Tally,
) -> String {
    let Some(signed_info) = ds(sig, "SignedInfo") else {
        return "not compared: no SignedInfo".into();
    };
    let c14n_method = ds(signed_info, "CanonicalizationMethod");
    let mut compared_any = false;
    let mut not_compared: Option<String> = None;
    // SignedInfo.
    match (&theirs.signed_info, c14n_method) {
        (Some(bytes), Some(m)) if m.attribute("Algorithm") == Some(EXC_C14N) => {
            let prefixes = prefix_list(m);
            let mut ours = Vec::new();
            tree::canonicalize(
                signed_info,
                &C14nOptions {
                    exclude: None,
                    inclusive_prefixes: &prefixes,
                },
                &mut ours,
            );
            t.signed_info_compared += 1;
            if &ours != bytes {
                t.mismatches.push(mismatch(rel, "SignedInfo", &ours, bytes));
            }
        }
        (Some(_), _) => not_compared = Some("SignedInfo not in exc-c14n".into()),
        (None, _) => {}
    }
    let references: Vec<Node> = signed_info
        .children()
        .filter(|c| c.has_tag_name((DSIG_NS, "Reference")))
        .collect();
    if references.is_empty() {
        return "not compared: no Reference".into();
    }
    for (r, reference) in references.iter().enumerate() {
        let uri = reference.attribute("URI").unwrap_or("");
        let Some((_, bytes)) = theirs
            .references
            .get(r)
            .filter(|(u, _)| u == uri || (uri.is_empty() && u.is_empty()))
        else {
            let why = theirs
                .stderr
                .lines()
                .find_map(|l| l.split_once("error=").map(|(_, e)| e.to_string()))
                .unwrap_or_else(|| theirs.stderr.lines().next().unwrap_or("").to_string());
            not_compared.get_or_insert(format!("xmlsec1 computes no reference: {}", reason(&why)));
            continue;
        };
        let transforms: Vec<Node> = ds(*reference, "Transforms")
            .map(|ts| {
                ts.children()
                    .filter(|c| c.has_tag_name((DSIG_NS, "Transform")))
                    .collect()
            })
            .unwrap_or_default();
        let algorithms: Vec<&str> = transforms
            .iter()
            .map(|t| t.attribute("Algorithm").unwrap_or(""))
            .collect();
        if algorithms.iter().any(|a| *a != ENVELOPED && *a != EXC_C14N)
            || !algorithms.contains(&EXC_C14N)
        {
            not_compared.get_or_insert(format!("transforms {algorithms:?}"));
            continue;
        }
        let prefixes = transforms
            .iter()
            .find(|t| t.attribute("Algorithm") == Some(EXC_C14N))
            .map(|t| prefix_list(*t))
            .unwrap_or_default();
        let apex = if uri.is_empty() {
            doc.root()
        } else if let Some(id) = uri.strip_prefix('#') {
            // libxml2 keeps the first element registered with an ID.
            match doc
                .descendants()
                .find(|n| n.is_element() && n.attribute("ID") == Some(id))
            {
                Some(node) => node,
                None => {
                    not_compared.get_or_insert("reference to no element".into());
                    continue;
                }
            }
        } else {
            not_compared.get_or_insert(format!("URI {uri:?}"));
            continue;
        };
        let exclude = algorithms.contains(&ENVELOPED).then(|| sig.id());
        let mut ours = Vec::new();
        tree::canonicalize(
            apex,
            &C14nOptions {
                exclude,
                inclusive_prefixes: &prefixes,
            },
            &mut ours,
        );
        t.references_compared += 1;
        compared_any = true;
        if &ours != bytes {
            t.mismatches.push(mismatch(rel, uri, &ours, bytes));
        }
    }
    match (compared_any, not_compared) {
        (true, None) if theirs.verified => "compared: verified".into(),
        (true, None) => "compared: xmlsec1 does not verify (tampered or wrong key)".into(),
        (true, Some(why)) => format!("partly compared: {why}"),
        (false, Some(why)) => format!("not compared: {why}"),
        (false, None) => "not compared".into(),
    }
}

/// xmlsec1's error, without the IDs and sizes that make every line different.
fn reason(error: &str) -> String {
    if error.contains("duplicate ID attribute") {
        return "duplicate ID attribute (wrapping vector)".into();
    }
    if error.contains("xpointer(id(") {
        return "the referenced ID is not registered (xpointer(id(...)) failed)".into();
    }
    if error.contains("Document is empty") {
        return "a transform's output is empty (XSLT/XPath)".into();
    }
    error
        .split_once(':')
        .map(|(_, e)| e)
        .unwrap_or(error)
        .chars()
        .take(80)
        .collect()
}

fn mismatch(rel: &str, what: &str, ours: &[u8], theirs: &[u8]) -> String {
    format!(
        "{rel} {what}:\n  ours:   {:?}\n  theirs: {:?}",
        String::from_utf8_lossy(ours),
        String::from_utf8_lossy(theirs)
    )
}
