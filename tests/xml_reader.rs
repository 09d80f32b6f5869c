//! The one-pass XML reader against the reader it replaces and against libxml2, on every
//! document the repository has: `tests/data` (XML files, and base64 files decoded), the
//! fuzz corpus and the fuzz artifacts of every target.
//!
//! - `readers_agree_on_every_vector`: `spid_sp::fuzzing::compare_readers` (same tree or
//!   same refusal, under the message, metadata and permissive limits, except the
//!   deliberate differences it documents);
//! - `libxml2_agrees_on_well_formedness`: `xmllint --noout --nonet` (batched) accepts
//!   exactly what the new reader accepts under permissive limits, except the deliberate
//!   refusals (DTD, other encodings, XML 1.1, an `xml` declaration not followed by a
//!   space, elements in the `xml` namespace).
#![cfg(feature = "fuzzing")]

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine as _;

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// (name, text) of every document: XML files as they are, base64 files decoded.
fn documents() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    walk(&root.join("tests/data"), &mut files);
    walk(&root.join("tests/differential"), &mut files);
    walk(&root.join("fuzz/corpus"), &mut files);
    walk(&root.join("fuzz/artifacts"), &mut files);
    files.sort();
    let mut out = Vec::new();
    for path in files {
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        let name = path.strip_prefix(root).unwrap().display().to_string();
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        if matches!(
            ext,
            "md" | "py" | "pem" | "json" | "tsv" | "gitattributes" | "rs"
        ) {
            continue;
        }
        let Ok(text) = String::from_utf8(bytes) else {
            continue;
        };
        let trimmed: String = text.split_whitespace().collect();
        if !text.trim_start().starts_with('<') && !trimmed.is_empty() {
            if let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(&trimmed) {
                if let Ok(xml) = String::from_utf8(decoded) {
                    if xml.trim_start().starts_with('<') {
                        out.push((format!("{name} (base64)"), xml));
                    }
                }
            }
        }
        out.push((name, text));
    }
    out
}

#[test]
fn readers_agree_on_every_vector() {
    let docs = documents();
    assert!(docs.len() > 900, "{} documents", docs.len());
    let mut failures = Vec::new();
    for (name, text) in &docs {
        if let Err(e) = spid_sp::fuzzing::compare_readers(text) {
            failures.push(format!("{name}: {e}"));
        }
    }
    eprintln!(
        "compare_readers: {} documents, {} disagreements",
        docs.len(),
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Whether a refusal of ours is a deliberate one libxml2 does not make.
fn deliberate(error: &str) -> bool {
    [
        "DOCTYPE",
        "not UTF-8",
        "malformed XML declaration",
        "processing instruction target xml is reserved",
        "element name with a reserved prefix",
        // Limits (permissive, but bounded).
        "more than",
        "nested deeper than",
    ]
    .iter()
    .any(|d| error.contains(d))
}

/// libxml2 reports a namespace name that is not a URI reference (`xmlns:p='a b'`) as a
/// namespace error; Namespaces in XML compares names as strings and so do we (and
/// roxmltree): not a refusal. The report quotes the value, which may span lines (an
/// unclosed quote on the reported line).
fn invalid_uri_report(line: &str) -> bool {
    let Some((_, message)) = line.split_once("namespace error : xmlns") else {
        return false;
    };
    message.contains("is not a valid URI") || message.matches('\'').count() % 2 == 1
}

#[test]
fn libxml2_agrees_on_well_formedness() {
    if Command::new("xmllint").arg("--version").output().is_err() {
        assert!(std::env::var("CI").is_err(), "xmllint is missing");
        eprintln!("xmllint missing: skipped");
        return;
    }
    let dir = std::env::temp_dir().join(format!("xml_reader_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let docs = documents();
    let (mut agree, mut deliberate_refusals, mut failures) = (0, 0, Vec::new());
    for (batch_no, batch) in docs.chunks(200).enumerate() {
        let names: Vec<String> = (0..batch.len())
            .map(|i| format!("d{batch_no}-{i}.xml"))
            .collect();
        for (n, (_, text)) in names.iter().zip(batch) {
            std::fs::write(dir.join(n), text).unwrap();
        }
        let out = Command::new("xmllint")
            .args(["--noout", "--nonet"])
            .args(&names)
            .current_dir(&dir)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let rejected: std::collections::HashSet<&str> = stderr
            .lines()
            .filter(|l| l.contains(" error : ") && !invalid_uri_report(l))
            .filter_map(|l| l.split_once(':').map(|(f, _)| f))
            .collect();
        for (n, (name, text)) in names.iter().zip(batch) {
            let ours = spid_sp::fuzzing::reader_verdict(text);
            let libxml2_rejects = rejected.contains(n.as_str());
            match (&ours, libxml2_rejects) {
                (Ok(()), false) | (Err(_), true) => agree += 1,
                (Err(e), false) if deliberate(e) => deliberate_refusals += 1,
                _ => failures.push(format!(
                    "{name}: ours {ours:?}, libxml2 rejects: {libxml2_rejects}"
                )),
            }
            let _ = std::fs::remove_file(dir.join(n));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    eprintln!(
        "libxml2: {} documents, {agree} agree, {deliberate_refusals} deliberate refusals, {} disagreements",
        docs.len(),
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A mutation run (the fuzz target's differential half, on stable and in the same
/// target dir): every document, mutated `XML_READER_MUTATIONS` times in total (default
/// 5,000; byte flips, insertions of XML-significant snippets, deletions, splices), through
/// `compare_readers`. Deterministic (xorshift, seed `XML_READER_SEED`, default 1).
#[test]
fn readers_agree_on_mutated_vectors() {
    let env = |k: &str, d: u64| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let total = env("XML_READER_MUTATIONS", 5_000);
    let mut state = env("XML_READER_SEED", 1).max(1);
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let docs: Vec<String> = documents()
        .into_iter()
        .map(|(_, t)| t)
        .filter(|t| t.len() <= 16 * 1024)
        .collect();
    const SNIPPETS: &[&str] = &[
        "<",
        ">",
        "&",
        ";",
        "\r",
        "\r\n",
        "\n",
        "'",
        "\"",
        "=",
        ":",
        "/",
        "?",
        "!",
        "-",
        "]]>",
        "<!--",
        "-->",
        "<?",
        "?>",
        "<![CDATA[",
        "&amp;",
        "&#13;",
        "&#x10FFFF;",
        "&#xD800;",
        "xmlns",
        "xmlns:",
        "xmlns=''",
        " xmlns:p='u'",
        " p:a='1'",
        "xml:",
        "<e>",
        "</e>",
        "<e/>",
        " a='1'",
        "\t",
        "\u{e8}",
        "\u{feff}",
        "<?xml version='1.0'?>",
        "#",
        "\u{1}",
    ];
    let (mut runs, mut failures) = (0u64, Vec::new());
    while runs < total && !docs.is_empty() {
        let doc = &docs[(next() % docs.len() as u64) as usize];
        let mut bytes = doc.as_bytes().to_vec();
        for _ in 0..1 + next() % 4 {
            let at = (next() % (bytes.len() as u64 + 1)) as usize;
            match next() % 4 {
                0 if at < bytes.len() => {
                    bytes.remove(at);
                }
                1 => {
                    let s = SNIPPETS[(next() % SNIPPETS.len() as u64) as usize];
                    bytes.splice(at..at, s.bytes());
                }
                2 if at < bytes.len() => {
                    let len = (next() % 16) as usize;
                    let end = (at + len).min(bytes.len());
                    let piece = bytes[at..end].to_vec();
                    let to = (next() % (bytes.len() as u64 + 1)) as usize;
                    bytes.splice(to..to, piece);
                }
                _ if at < bytes.len() => bytes[at] = b"<>&;'\"=: \r\nax"[(next() % 13) as usize],
                _ => {}
            }
        }
        let Ok(text) = String::from_utf8(bytes) else {
            continue;
        };
        runs += 1;
        if let Err(e) = spid_sp::fuzzing::compare_readers(&text) {
            failures.push(format!("{text:?}\n{e}"));
            if failures.len() >= 5 {
                break;
            }
        }
    }
    eprintln!(
        "mutations: {runs} documents, {} disagreements",
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
