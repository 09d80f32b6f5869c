//! `xmlsec1` (libxmlsec1 + libxml2) as an independent oracle:
//! - for every accepted vector and each of its signatures, the bytes xmlsec1 digests
//!   (its "PreDigest" buffer) equal our exclusive canonicalization, and xmlsec1 verifies;
//! - signatures we make (AuthnRequest, LogoutRequest, test-IdP Responses) verify with xmlsec1.
//!
//! Skipped with a notice when `xmlsec1` is not installed, except under CI (`CI` set), where a
//! missing oracle is a failure.

use std::path::{Path, PathBuf};
use std::process::Command;

use spid_sp::dsig::{self, DSIG_NS};
use spid_sp::fuzzing::tree::{self, C14nOptions};
use spid_sp::xml::Limits;

const DATA: &str = "tests/data";
const ID_ATTRS: [&str; 6] = [
    "--id-attr:ID",
    "urn:oasis:names:tc:SAML:2.0:protocol:Response",
    "--id-attr:ID",
    "urn:oasis:names:tc:SAML:2.0:assertion:Assertion",
    "--id-attr:ID",
    "urn:oasis:names:tc:SAML:2.0:protocol:AuthnRequest",
];

fn xmlsec1_available() -> bool {
    common::tools_available(&["xmlsec1"], "xmlsec1", "oracle tests")
}

/// Runs `xmlsec1 --verify` on the signature of the element with `id`; returns the
/// PreDigest buffer if it verified.
fn xmlsec_verify(
    file: &Path,
    cert: &Path,
    id: &str,
    extra_id_attr: Option<&str>,
) -> Result<Vec<u8>, String> {
    let mut cmd = Command::new("xmlsec1");
    cmd.args([
        "--verify",
        "--store-references",
        "--enabled-key-data",
        "rsa",
        "--pubkey-cert-pem",
    ])
    .arg(cert)
    .args(ID_ATTRS);
    if let Some(a) = extra_id_attr {
        cmd.args(["--id-attr:ID", a]);
    }
    let out = cmd
        .args(["--node-id", id])
        .arg(file)
        .output()
        .map_err(|e| e.to_string())?;
    let stdout = out.stdout;
    let status = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() || !status.starts_with("OK") {
        return Err(format!(
            "xmlsec1 failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let start = b"== PreDigest data - start buffer:\n";
    let end = b"\n== PreDigest data - end buffer";
    let s = find(&stdout, start).ok_or("no PreDigest buffer")? + start.len();
    let e = find(&stdout[s..], end).ok_or("no buffer end")? + s;
    Ok(stdout[s..e].to_vec())
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Checks every signature in `file` against xmlsec1; returns how many were compared.
fn compare_all_signatures(file: &Path, cert: &Path, extra_id_attr: Option<&str>) -> usize {
    let text = std::fs::read_to_string(file).unwrap();
    let doc = tree::parse(&text, &Limits::METADATA).unwrap();
    let mut n = 0;
    for sig in doc
        .descendants()
        .filter(|n| n.has_tag_name((DSIG_NS, "Signature")))
    {
        let signed = sig.parent_element().unwrap();
        let id = signed.attribute("ID").unwrap();
        let theirs = xmlsec_verify(file, cert, id, extra_id_attr)
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let prefixes: Vec<&str> = sig
            .descendants()
            .find(|t| {
                t.attribute("Algorithm") == Some(dsig::EXC_C14N)
                    && t.has_tag_name((DSIG_NS, "Transform"))
            })
            .and_then(|t| t.first_element_child())
            .and_then(|inc| inc.attribute("PrefixList"))
            .map(|p| p.split_whitespace().collect())
            .unwrap_or_default();
        let mut ours = Vec::new();
        tree::canonicalize(
            signed,
            &C14nOptions {
                exclude: Some(sig.id()),
                inclusive_prefixes: &prefixes,
            },
            &mut ours,
        );
        assert!(
            ours == theirs,
            "{}: canonical form of #{id} differs from xmlsec1's\nours:   {}\ntheirs: {}",
            file.display(),
            String::from_utf8_lossy(&ours),
            String::from_utf8_lossy(&theirs)
        );
        n += 1;
    }
    n
}

#[test]
fn accepted_vectors_canonicalize_exactly_as_xmlsec1() {
    if !xmlsec1_available() {
        return;
    }
    let manifest = std::fs::read_to_string(format!("{DATA}/responses/manifest.tsv")).unwrap();
    let mut files = 0;
    let mut signatures = 0;
    for line in manifest
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let cols: Vec<&str> = line.split('\t').collect();
        if cols.get(1) != Some(&"accept") {
            continue;
        }
        let cert = if cols.get(3).is_some_and(|o| o.contains("idp2.test.example")) {
            "idp2.crt.pem"
        } else {
            "idp.crt.pem"
        };
        signatures += compare_all_signatures(
            &Path::new(DATA).join("responses").join(cols[0]),
            &Path::new(DATA).join("keys").join(cert),
            None,
        );
        files += 1;
    }
    assert!(files >= 30, "only {files} accepted vectors");
    eprintln!("{files} vectors, {signatures} signatures: canonical bytes identical to xmlsec1's");
}

fn tmp(name: &str, content: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("xmlsec-oracle");
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, content).unwrap();
    p
}

#[path = "common/mod.rs"]
mod common;

#[test]
fn our_signatures_verify_with_xmlsec1() {
    if !xmlsec1_available() {
        return;
    }
    use spid_sp::{Binding, LoginOptions};
    let w = common::world_at(common::now());
    let sp_cert = tmp(
        "sp.crt.pem",
        &String::from_utf8(w.sp_key.certificate().to_pem().unwrap()).unwrap(),
    );
    let idp_cert = tmp(
        "idp.crt.pem",
        &String::from_utf8(w.idp.key().certificate().to_pem().unwrap()).unwrap(),
    );

    // A POST AuthnRequest (with and without spid:Purpose).
    for (i, purpose) in [None, Some(spid_sp::Purpose::LegalPerson)]
        .into_iter()
        .enumerate()
    {
        let opts = LoginOptions {
            purpose,
            ..LoginOptions::default()
        };
        let (out, _) = w.sp.start_login(common::IDP, &opts).unwrap();
        let f = tmp(&format!("authn-{i}.xml"), out.xml());
        compare_all_signatures(&f, &sp_cert, None);
    }

    // A POST LogoutRequest.
    let (_, pending) =
        w.sp.start_login(common::IDP, &LoginOptions::default())
            .unwrap();
    let spec = common::spec_for(&pending)
        .attribute("fiscalNumber", "TINIT-RSSMRA80A01H501U")
        .attribute("name", "Mario & <Maria> \"Rossi\"");
    let response = w.idp.response(&spec).unwrap();
    let f = tmp("response.xml", &response);
    assert_eq!(compare_all_signatures(&f, &idp_cert, None), 2);
    let login =
        w.sp.finish_login(&common::answer(&response, &pending), pending)
            .unwrap();
    let (out, _) = w.sp.start_logout(login.session(), Binding::Post).unwrap();
    let f = tmp("logout.xml", out.xml());
    compare_all_signatures(
        &f,
        &sp_cert,
        Some("urn:oasis:names:tc:SAML:2.0:protocol:LogoutRequest"),
    );
}
