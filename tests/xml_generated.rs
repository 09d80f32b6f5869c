//! Well-formedness equivalence with libxml2 on generated documents (issue 19, item 3).
//!
//! Every document of [`xmlgen::generate`] (`tests/common/xmlgen.rs`: XML 1.0 +
//! Namespaces, well-formed and near misses, UTF-8, UTF-16, Latin-1 and broken bytes) is
//! checked three ways:
//!
//! 1. `spid_sp::xml::check` under [`PERMISSIVE`] limits (processing instructions and
//!    comments in text allowed, bounds far above any generated document), so that only
//!    well-formedness decides; bytes that are not UTF-8 count as our `Encoding` refusal
//!    (the SDK's only entry takes text);
//! 2. `xmllint --noout --nonet` (libxml2), hundreds of files per process: a document is
//!    refused when libxml2 reports an error for it (parser or namespace error; warnings
//!    do not count);
//! 3. [`other_readers`], the hook for the readers being compared with this one.
//!
//! The agreement rule:
//! - a document libxml2 refuses, we refuse (no exception);
//! - a document libxml2 accepts, we accept, unless it falls in one of the documented
//!   deliberate refusals below (each recognised from our error and the document itself);
//! - under `Limits::MESSAGE`, a document accepted under [`PERMISSIVE`] is accepted or
//!   refused for a bound only (size, depth, nodes, attributes, namespace declarations,
//!   a PI, a comment in a text value); one refused under [`PERMISSIVE`] stays refused.
//!
//! Deliberate refusals (libxml2 accepts, we refuse):
//!
//! | category | recognised by | why |
//! |---|---|---|
//! | `dtd` | `XmlError::Dtd` | no DTD of any kind: no entities, no default attributes, no XXE (threat model, input handling) |
//! | `bytes-not-utf-8` | `XmlError::Encoding` on bytes that are not UTF-8 (UTF-16 with a BOM, Latin-1) | the SDK reads UTF-8 only |
//! | `declared-encoding-not-utf-8` | `XmlError::Encoding` on UTF-8 bytes whose declaration names another encoding | same: a declaration naming Latin-1 over UTF-8 bytes means another text to libxml2 |
//! | `limits` | `TooLarge`, `TooDeep`, `TooManyNodes`, `TooManyAttributes`, `TooManyNamespaces` | resource bounds (none expected under [`PERMISSIVE`]) |
//! | `cr-next-to-reference` | `Malformed` "carriage return next to a character reference…" | the reader before issue 19 (roxmltree 0.21 keeps a CR that XML normalizes to LF, `tests/differential/README.md`); today's reader normalizes and accepts |
//! | `xml-version-not-1.0` | `Malformed` "malformed XML declaration…" on a declaration `version="1.x"`, x digits other than `0`, or none | XML 1.1 has other rules; libxml2 parses 1.x as 1.0 with a warning, and takes `1.` (not a `VersionNum`) silently |
//! | `declaration-tab-or-newline` | `Malformed` "processing instruction target xml is reserved" on a document starting with `<?xml` + tab, CR or LF | roxmltree needs a space after `<?xml` and reads the rest as a PI named `xml` |
//! | `nul-after-root` | `Malformed` on a document whose text up to its first NUL byte is one we accept (or refuse for one of these reasons) | a NUL is not an XML `Char`; libxml2 2.9 stops reading at a NUL after the root element (`<r/>\0<x/>` is accepted) |
//! | `element-in-xml-namespace` | `Malformed` "element name with a reserved prefix" (before issue 19: roxmltree's "unknown namespace prefix 'xml'…") on an element named `xml:…` | kept from roxmltree: the reserved prefix names attributes (`xml:lang`), and no SAML element uses it |
//! | `duplicate-xml-prefix-declaration` | `Malformed` "duplicate attribute" on a start tag with `xmlns:xml` twice | the same attribute name twice in one start tag (XML 1.0, WFC: Unique Att Spec); libxml2 skips declarations of the `xml` prefix and does not see the duplicate |
//!
//! Anything else where the two disagree fails the test; the document is saved under
//! `target/tmp/xml_generated/failures/` (`NAME.xml` and `NAME.txt` with both verdicts and
//! the generator's notes).
//!
//! `XMLGEN_DOCS` (default 3,000) and `XMLGEN_SEED` (default 1) set the run (`XMLGEN_FIRST`:
//! the first document's index, to replay one: `XMLGEN_SEED=2 XMLGEN_FIRST=98292
//! XMLGEN_DOCS=1`; `XMLGEN_STRICT=1`: the known bugs fail too);
//! `XMLGEN_DOCS=100000 cargo test --release --test xml_generated -- --nocapture` is the full
//! run. Without `xmllint` the test is skipped with a notice, except under CI (`CI=true`),
//! where it fails (`apt-get install libxml2-utils`).

#[path = "common/xmlgen.rs"]
mod xmlgen;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use spid_sp::xml::{self, Limits, XmlError};

/// Limits under which only well-formedness refuses a generated document.
const PERMISSIVE: Limits = Limits {
    max_bytes: 16 * 1024 * 1024,
    // libxml2 refuses more than 256 levels without XML_PARSE_HUGE; the generator stays
    // well below either.
    max_depth: 200,
    max_nodes: 1_000_000,
    max_attributes: 10_000,
    max_namespace_declarations: 100_000,
    max_namespaces_in_scope: 10_000,
    forbid_processing_instructions: false,
    forbid_comments_in_text: false,
};

/// Files per `xmllint` process.
const BATCH: usize = 500;

// The messages of `src/xml/wellformed.rs` that mark a deliberate refusal.
const CR_AFTER_REFERENCE: &str = "carriage return next to a character reference is not supported";
const BAD_DECLARATION: &str =
    "malformed XML declaration (version 1.0, then optional encoding and standalone yes|no)";
const RESERVED_PI: &str = "processing instruction target xml is reserved";

/// The other XML reader, run on every generated document: the reader the SDK used before
/// issue 19 (roxmltree behind the pre-scan) must give the same tree or the same refusal as
/// ours, except the documented deliberate differences (`spid_sp::fuzzing::compare_readers`,
/// feature `fuzzing`; without it only libxml2 is compared).
fn other_readers(doc: &[u8]) -> Result<(), String> {
    #[cfg(feature = "fuzzing")]
    if let Ok(text) = std::str::from_utf8(doc) {
        return spid_sp::fuzzing::compare_readers(text);
    }
    let _ = doc;
    Ok(())
}

/// Our verdict: the SDK's reader under [`PERMISSIVE`] or `limits`.
fn ours(doc: &[u8], limits: &Limits) -> Result<(), XmlError> {
    let text = std::str::from_utf8(doc).map_err(|_| XmlError::Encoding)?;
    xml::check(text, limits)
}

/// The documented deliberate refusal `error` on `doc` falls in, if any.
fn deliberate(doc: &[u8], error: &XmlError) -> Option<&'static str> {
    let body = doc.strip_prefix("\u{feff}".as_bytes()).unwrap_or(doc);
    match error {
        XmlError::Dtd => Some("dtd"),
        XmlError::Encoding if std::str::from_utf8(doc).is_err() => Some("bytes-not-utf-8"),
        XmlError::Encoding => Some("declared-encoding-not-utf-8"),
        XmlError::TooLarge { .. }
        | XmlError::TooDeep { .. }
        | XmlError::TooManyNodes { .. }
        | XmlError::TooManyAttributes { .. }
        | XmlError::TooManyNamespaces { .. } => Some("limits"),
        XmlError::Malformed(m) if m == CR_AFTER_REFERENCE => Some("cr-next-to-reference"),
        XmlError::Malformed(m) if m == BAD_DECLARATION && version_1x(body) => {
            Some("xml-version-not-1.0")
        }
        XmlError::Malformed(m)
            if m == RESERVED_PI
                && body.starts_with(b"<?xml")
                && matches!(body.get(5), Some(b'\t' | b'\r' | b'\n')) =>
        {
            Some("declaration-tab-or-newline")
        }
        XmlError::Malformed(m)
            if (m.contains("unknown namespace prefix 'xml'")
                || m == "element name with a reserved prefix")
                && has_xml_prefixed_element(body) =>
        {
            Some("element-in-xml-namespace")
        }
        XmlError::Malformed(m)
            if m == "duplicate attribute"
                && String::from_utf8_lossy(body).matches("xmlns:xml").count() > 1 =>
        {
            Some("duplicate-xml-prefix-declaration")
        }
        XmlError::Malformed(_) if nul_ends_the_document(doc) => Some("nul-after-root"),
        _ => None,
    }
}

/// Whether the document starts with a declaration whose version is `1.` and digits other
/// than `0` (none included: libxml2 2.9 takes `1.` for a version).
fn version_1x(body: &[u8]) -> bool {
    let Some(decl) = body.strip_prefix(b"<?xml") else {
        return false;
    };
    let decl = &decl[..decl
        .windows(2)
        .position(|w| w == b"?>")
        .unwrap_or(decl.len())];
    let Some(at) = decl.windows(7).position(|w| w == b"version") else {
        return false;
    };
    let rest: Vec<u8> = decl[at + 7..]
        .iter()
        .copied()
        .skip_while(|c| matches!(c, b' ' | b'\t' | b'\r' | b'\n' | b'='))
        .collect();
    let Some((&q, rest)) = rest.split_first() else {
        return false;
    };
    let Some(end) = rest.iter().position(|&c| c == q) else {
        return false;
    };
    let v = &rest[..end];
    v.starts_with(b"1.") && v[2..].iter().all(u8::is_ascii_digit) && &v[2..] != b"0"
}

/// Whether `doc` has a NUL byte and what comes before the first one is a document we
/// accept, or refuse deliberately: libxml2 2.9 stops reading there.
fn nul_ends_the_document(doc: &[u8]) -> bool {
    doc.iter()
        .position(|&b| b == 0)
        .is_some_and(|nul| match ours(&doc[..nul], &PERMISSIVE) {
            Ok(()) => true,
            Err(e) => deliberate(&doc[..nul], &e).is_some(),
        })
}

fn has_xml_prefixed_element(body: &[u8]) -> bool {
    body.windows(5).any(|w| w == b"<xml:")
}

fn has_doctype(doc: &[u8]) -> bool {
    doc.windows(9).any(|w| w.eq_ignore_ascii_case(b"<!DOCTYPE"))
}

/// Known bugs of the reader: documents libxml2 refuses and the reader accepts, recognised
/// by libxml2's error. Counted and printed, not failed (`XMLGEN_STRICT=1` fails on them).
/// None today: the one found by this test (a PI target not followed by whitespace,
/// `<?pi=x?>`, accepted by roxmltree) is refused by the reader of issue 19; see
/// [`pi_targets_not_followed_by_whitespace_are_refused_like_libxml2`].
const KNOWN_BUGS: &[(&str, &str)] = &[];

fn known_bug(libxml2_error: &str) -> Option<&'static str> {
    KNOWN_BUGS
        .iter()
        .find(|(_, says)| {
            libxml2_error.starts_with("parser: ParsePI: PI ") && libxml2_error.ends_with(says)
        })
        .map(|(name, _)| *name)
}

/// Whether `error` is one of the bounds `Limits::MESSAGE` adds to [`PERMISSIVE`].
fn limit_kind(error: &XmlError) -> Option<&'static str> {
    Some(match error {
        XmlError::TooLarge { .. } => "too-large",
        XmlError::TooDeep { .. } => "too-deep",
        XmlError::TooManyNodes { .. } => "too-many-nodes",
        XmlError::TooManyAttributes { .. } => "too-many-attributes",
        XmlError::TooManyNamespaces { .. } => "too-many-namespaces",
        XmlError::ProcessingInstruction => "processing-instruction",
        XmlError::CommentInText => "comment-in-text",
        _ => return None,
    })
}

/// A short stable name for an error kind (counts of joint refusals).
fn error_kind(error: &XmlError) -> String {
    match error {
        XmlError::Malformed(_) => "malformed".into(),
        XmlError::Dtd => "dtd".into(),
        XmlError::Encoding => "encoding".into(),
        other => limit_kind(other).unwrap_or("other").into(),
    }
}

fn xmllint_available() -> bool {
    if Command::new("xmllint")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "xmllint required under CI (apt-get install libxml2-utils)"
    );
    eprintln!(
        "NOTICE: xmllint not installed; xml_generated skipped (apt-get install libxml2-utils)"
    );
    false
}

/// libxml2's verdict on one document.
#[derive(Clone, Default)]
struct Verdict {
    /// Its first well-formedness error (parser error, or a namespace error of Namespaces
    /// in XML 1.0): the document is refused.
    error: Option<String>,
    /// Its first diagnostic that is not a well-formedness error (see [`non_fatal`]).
    complaint: Option<String>,
}

/// The diagnostics libxml2 prints as errors although the document is well-formed and
/// namespace-well-formed (libxml2 builds the same tree and goes on, `xmllint` exits 0):
/// - `validity error : xml:id : attribute value … is not an NCName`: the xml:id
///   Recommendation, a validity constraint;
/// - `namespace error : xmlns:p: '…' is not a valid URI`: libxml2's `XML_WAR_NS_URI`
///   (a warning code) for a namespace name that is not an RFC 3986 URI reference (a
///   space, a non-ASCII IRI); Namespaces in XML 1.0 lists no such constraint among its
///   namespace constraints, and names are compared as strings.
fn non_fatal(kind: &str, message: &str) -> bool {
    // The URI may hold a line break, cutting the message: `xmlns: '…` or `xmlns:p: '…`.
    kind.ends_with("validity")
        || (kind.ends_with("namespace")
            && (message.starts_with("xmlns: '")
                || (message.starts_with("xmlns:") && message.contains(": '"))))
}

/// libxml2's verdict on `names` (files in `dir`), from `xmllint --noout --nonet` (one
/// process per batch). Diagnostics are attributed by the `FILE:LINE:` prefix of
/// xmllint's messages; when a batch prints an error it cannot attribute (libxml2
/// reports errors inside entity expansions as `Entity: line N`), the files it accepted
/// are run again one by one.
struct Xmllint {
    processes: usize,
}

impl Xmllint {
    fn run(&mut self, dir: &Path, names: &[String]) -> (Vec<Verdict>, bool) {
        self.processes += 1;
        let out = Command::new("xmllint")
            .args(["--noout", "--nonet"])
            .args(names)
            .current_dir(dir)
            .output()
            .expect("xmllint runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let index: HashMap<&str, usize> = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.as_str(), i))
            .collect();
        let mut verdicts = vec![Verdict::default(); names.len()];
        let mut unattributed = false;
        for line in stderr.lines() {
            let Some((head, message)) = line.split_once(" error : ") else {
                continue;
            };
            let file = line.split_once(':').and_then(|(file, rest)| {
                let line_no = rest.split_once(':')?.0;
                (!line_no.is_empty() && line_no.bytes().all(|c| c.is_ascii_digit())).then_some(file)
            });
            match file.and_then(|f| index.get(f)) {
                Some(&i) => {
                    let slot = if non_fatal(head, message) {
                        &mut verdicts[i].complaint
                    } else {
                        &mut verdicts[i].error
                    };
                    slot.get_or_insert_with(|| {
                        format!("{}: {message}", head.rsplit(' ').next().unwrap_or(""))
                    });
                }
                None => unattributed = true,
            }
        }
        (verdicts, unattributed)
    }

    fn verdicts(&mut self, dir: &Path, names: &[String]) -> Vec<Verdict> {
        let (mut verdicts, unattributed) = self.run(dir, names);
        if unattributed {
            for (i, name) in names.iter().enumerate() {
                if verdicts[i].error.is_none() {
                    let (alone, unattributed) = self.run(dir, std::slice::from_ref(name));
                    verdicts[i] = alone.into_iter().next().unwrap_or_default();
                    if unattributed && verdicts[i].error.is_none() {
                        verdicts[i].error = Some("error inside an entity".into());
                    }
                }
            }
        }
        verdicts
    }
}

#[derive(Default)]
struct Tally {
    both_accept: usize,
    both_refuse: BTreeMap<String, usize>,
    deliberate: BTreeMap<&'static str, usize>,
    message_limits: BTreeMap<&'static str, usize>,
    message_accept: usize,
    notes: BTreeMap<String, usize>,
    complaints: BTreeMap<String, usize>,
    known_bugs: BTreeMap<&'static str, usize>,
    bytes: usize,
    failures: Vec<String>,
}

fn failure_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("xml_generated/failures")
}

/// Saves a disagreeing document for inspection; returns the line for the report.
fn save_failure(seed: u64, index: u64, doc: &[u8], notes: &[String], what: &str) -> String {
    let dir = failure_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let name = format!("seed{seed}-doc{index}");
    std::fs::write(dir.join(format!("{name}.xml")), doc).unwrap();
    std::fs::write(
        dir.join(format!("{name}.txt")),
        format!("{what}\nnotes: {notes:?}\nreproduce: xmlgen::generate({seed}, {index})\n"),
    )
    .unwrap();
    format!(
        "{}: {what}\n    {:?}",
        dir.join(format!("{name}.xml")).display(),
        String::from_utf8_lossy(&doc[..doc.len().min(600)])
    )
}

#[test]
fn generated_documents_agree_with_libxml2() {
    if !xmllint_available() {
        return;
    }
    let env = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let docs = env("XMLGEN_DOCS", 3_000);
    let seed = env("XMLGEN_SEED", 1);
    let strict = std::env::var_os("XMLGEN_STRICT").is_some();
    let started = Instant::now();
    let scratch = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("xml_generated")
        .join(format!("batch-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).unwrap();
    let mut xmllint = Xmllint { processes: 0 };
    let mut t = Tally::default();
    let first = env("XMLGEN_FIRST", 0);
    let indices: Vec<u64> = (first..first + docs).collect();
    for batch in indices.chunks(BATCH) {
        let generated: Vec<(Vec<u8>, Vec<String>)> = batch
            .iter()
            .map(|&i| xmlgen::generate_with_notes(seed, i))
            .collect();
        let names: Vec<String> = batch.iter().map(|i| format!("d{i}.xml")).collect();
        for (name, (doc, _)) in names.iter().zip(&generated) {
            std::fs::write(scratch.join(name), doc).unwrap();
        }
        // Documents with a DTD or another encoding in their own xmllint run: libxml2
        // reports errors inside entity expansions and encoding errors without the file
        // name, and those documents are run again one by one.
        let (dtd, plain): (Vec<usize>, Vec<usize>) = (0..batch.len()).partition(|&i| {
            let doc = &generated[i].0;
            has_doctype(doc) || matches!(ours(doc, &PERMISSIVE), Err(XmlError::Encoding))
        });
        let mut verdicts = vec![Verdict::default(); batch.len()];
        for part in [plain, dtd] {
            if part.is_empty() {
                continue;
            }
            let part_names: Vec<String> = part.iter().map(|&i| names[i].clone()).collect();
            for (&i, v) in part.iter().zip(xmllint.verdicts(&scratch, &part_names)) {
                verdicts[i] = v;
            }
        }
        for ((&index, (doc, notes)), libxml2) in batch.iter().zip(&generated).zip(verdicts) {
            t.bytes += doc.len();
            for note in notes {
                let key = note.split('=').next().unwrap_or(note).to_string();
                *t.notes.entry(key).or_default() += 1;
            }
            let fail = |what: String| save_failure(seed, index, doc, notes, &what);
            let permissive = ours(doc, &PERMISSIVE);
            if let Some(complaint) = &libxml2.complaint {
                let kind = complaint.split(':').take(2).collect::<Vec<_>>().join(":");
                *t.complaints.entry(kind).or_default() += 1;
            }
            match (&libxml2.error, &permissive) {
                (Some(why), Ok(())) => match known_bug(why) {
                    Some(bug) if !strict => *t.known_bugs.entry(bug).or_default() += 1,
                    _ => t
                        .failures
                        .push(fail(format!("libxml2 refuses ({why}), we accept"))),
                },
                (Some(_), Err(e)) => *t.both_refuse.entry(error_kind(e)).or_default() += 1,
                (None, Ok(())) => t.both_accept += 1,
                (None, Err(e)) => match deliberate(doc, e) {
                    Some(category) => *t.deliberate.entry(category).or_default() += 1,
                    None => t.failures.push(fail(format!(
                        "libxml2 accepts, we refuse ({e}): not a documented deliberate refusal"
                    ))),
                },
            }
            match (&permissive, ours(doc, &Limits::MESSAGE)) {
                (Ok(()), Ok(())) => t.message_accept += 1,
                (Ok(()), Err(e)) => match limit_kind(&e) {
                    Some(kind) => *t.message_limits.entry(kind).or_default() += 1,
                    None => t.failures.push(fail(format!(
                        "accepted under permissive limits, refused under MESSAGE for a non-limit reason: {e}"
                    ))),
                },
                (Err(_), Err(_)) => {}
                (Err(e), Ok(())) => t.failures.push(fail(format!(
                    "refused under permissive limits ({e}), accepted under MESSAGE"
                ))),
            }
            if let Err(e) = other_readers(doc) {
                t.failures.push(fail(format!("other reader: {e}")));
            }
        }
        for name in &names {
            let _ = std::fs::remove_file(scratch.join(name));
        }
    }
    let _ = std::fs::remove_dir(&scratch);
    let deliberate: usize = t.deliberate.values().sum();
    let both_refuse: usize = t.both_refuse.values().sum();
    eprintln!(
        "xml_generated: {docs} documents (seed {seed}, {} KB, {} xmllint processes, {:.1} s): \
         both accept {}, both refuse {both_refuse}, deliberate refusals {deliberate}, disagreements {}",
        t.bytes / 1024,
        xmllint.processes,
        started.elapsed().as_secs_f64(),
        t.both_accept,
        t.failures.len()
    );
    eprintln!("  both refuse, by our error: {:?}", t.both_refuse);
    eprintln!(
        "  deliberate refusals (libxml2 accepts): {:?}",
        t.deliberate
    );
    eprintln!(
        "  under Limits::MESSAGE: {} accepted, refused for a bound: {:?}",
        t.message_accept, t.message_limits
    );
    eprintln!(
        "  KNOWN READER BUGS (libxml2 refuses, we accept; see KNOWN_BUGS): {:?}",
        t.known_bugs
    );
    eprintln!(
        "  libxml2 non-fatal diagnostics (not refusals): {:?}",
        t.complaints
    );
    eprintln!("  generator notes (documents): {:?}", t.notes);
    assert!(
        t.failures.is_empty(),
        "{} disagreements (documents in {}):\n{}",
        t.failures.len(),
        failure_dir().display(),
        t.failures.join("\n")
    );
    let n = docs as usize;
    assert!(
        n < 1_000 || (t.both_accept * 5 > n && both_refuse * 5 > n),
        "the generator should make both well-formed documents and near misses"
    );
}

#[test]
fn the_generator_is_deterministic_and_varied() {
    for i in 0..200 {
        assert_eq!(xmlgen::generate(7, i), xmlgen::generate(7, i));
    }
    assert_ne!(xmlgen::generate(7, 0), xmlgen::generate(8, 0));
    let docs: Vec<Vec<u8>> = (0..2_000).map(|i| xmlgen::generate(1, i)).collect();
    let distinct: std::collections::HashSet<&Vec<u8>> = docs.iter().collect();
    assert!(distinct.len() > 1_900, "{} distinct", distinct.len());
    let small = docs.iter().filter(|d| d.len() < 2048).count();
    assert!(small > 1_800, "{small} documents under 2 KB");
    let not_utf8 = docs
        .iter()
        .filter(|d| std::str::from_utf8(d).is_err())
        .count();
    let bom = docs
        .iter()
        .filter(|d| d.starts_with(&[0xEF, 0xBB, 0xBF]))
        .count();
    assert!(
        not_utf8 > 20 && bom > 20,
        "{not_utf8} not UTF-8, {bom} with a BOM"
    );
}

/// A processing-instruction target followed by something other than whitespace or `?>`
/// (XML 1.0 [16]): roxmltree accepted these (a bug this test found), the reader of issue 19
/// refuses them, and so does libxml2 ("PI … space expected").
#[test]
fn pi_targets_not_followed_by_whitespace_are_refused_like_libxml2() {
    let docs: [&[u8]; 5] = [
        b"<?pi=x?><r/>",
        b"<r><?a&b?></r>",
        b"<?xmlversion=\"1.0\"?><r/>",
        b"<r><?pi?x?></r>",
        "<r/><?pi\u{a0}x?>".as_bytes(),
    ];
    for doc in docs {
        assert!(
            ours(doc, &PERMISSIVE).is_err(),
            "{:?} is accepted",
            String::from_utf8_lossy(doc)
        );
    }
    if !xmllint_available() {
        return;
    }
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("xml_generated")
        .join(format!("known-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let names: Vec<String> = (0..docs.len()).map(|i| format!("k{i}.xml")).collect();
    for (name, doc) in names.iter().zip(docs) {
        std::fs::write(dir.join(name), doc).unwrap();
    }
    let verdicts = Xmllint { processes: 0 }.verdicts(&dir, &names);
    let _ = std::fs::remove_dir_all(&dir);
    for (doc, verdict) in docs.iter().zip(verdicts) {
        let error = verdict.error.unwrap_or_default();
        assert!(
            error.starts_with("parser: ParsePI: PI ") && error.ends_with("space expected"),
            "{:?}: libxml2 says {error:?}",
            String::from_utf8_lossy(doc)
        );
    }
}
