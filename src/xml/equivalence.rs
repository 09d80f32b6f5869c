//! The equivalence oracle between the one-pass reader ([`super::parser`]) and the
//! reader it replaced (roxmltree behind the pre-scan, `wellformed::parse_with_roxmltree`): both trees
//! dumped as text and compared, or both refusals. Test and fuzzing code only.
//!
//! Deliberate differences (the new reader follows XML 1.0 and libxml2 where roxmltree
//! 0.21 does not), not reported:
//!
//! 1. A literal CR next to a reference in character data: the old reader refuses it
//!    (roxmltree would keep the CR, `CR_AFTER_REFERENCE`); the new one normalizes it to LF
//!    as XML says and libxml2 does, and accepts.
//! 2. Line ends inside comments and processing instructions: roxmltree keeps a CR, the new
//!    reader normalizes CRLF and CR to LF (XML 1.0 §2.11 applies to the whole input); the
//!    old side's values are normalized before comparing.
//! 3. A processing instruction target followed by neither whitespace nor `?>`
//!    (`<?a#b?>`): roxmltree reads target `a` and value `#b`; XML requires whitespace
//!    there and libxml2 refuses, so does the new reader ([`PI_TARGET`]).
//! 4. A prefixed attribute whose local name is `xmlns` (`p:xmlns="u"`): roxmltree reads
//!    it as a default namespace declaration whatever the prefix (even an unbound one);
//!    Namespaces in XML makes it an ordinary attribute in the prefix's namespace, as
//!    libxml2 and the new reader do (an unbound prefix is refused). Documents with one
//!    are not compared.
//! 5. An end tag whose name starts with a colon (`<s></:s>`): roxmltree reads `:s` as
//!    `s`; the new reader and libxml2 refuse (the old pre-scan checked start tags only).
//!
//! 6. Depth: the old reader counted a text, comment or PI child of an element at
//!    `max_depth` as one level deeper and refused; the new one counts elements only, as
//!    [`Limits::max_depth`] documents (the root element is depth 1). Reported unless the
//!    new tree's deepest element is exactly at the limit.
//! 7. The `xml` prefix declared twice on one element (`xmlns:xml="…" xmlns:xml="…"`): the
//!    old reader and libxml2 accept it, but it is the same attribute name twice in one
//!    start tag, which XML 1.0 (WFC: Unique Att Spec) forbids; the new reader refuses.
//! 8. A processing instruction whose target only starts with `xml` (`<?xmlfoo …?>`) at
//!    the very start of the document: the old pre-scan took it for an XML declaration and
//!    refused its pseudo-attributes (`encoding="…"` → not UTF-8); it is an ordinary PI
//!    (XML 1.0 reserves such targets but they are well-formed, as libxml2 agrees), which
//!    the new reader reads as one (and `Limits::MESSAGE` refuses, as every PI).
//!
//! Byte ranges are compared for elements, attributes (qualified name and value),
//! comments and PIs; not for text nodes, where roxmltree keeps the range of the first
//! piece of a text merged with CDATA sections.

use std::fmt::Write as _;

use super::lexical::CR_AFTER_REFERENCE;
use super::parser::{DUPLICATE_ATTRIBUTE, END_TAG, PI_TARGET, UNBOUND};
use super::reader::{Limits, XmlError};

/// Limits under which both readers accept anything a test sends, but as deep as libxml2
/// goes by default (256) and with the old reader's quadratic paths bounded.
pub(crate) const PERMISSIVE: Limits = Limits {
    max_bytes: usize::MAX,
    max_depth: 256,
    max_nodes: u32::MAX,
    max_attributes: 1024,
    max_namespace_declarations: 1 << 20,
    max_namespaces_in_scope: 1024,
    forbid_processing_instructions: false,
    forbid_comments_in_text: false,
};

fn crlf(s: &str) -> String {
    s.replace("\r\n", "\n").replace('\r', "\n")
}

macro_rules! dump {
    ($doc:expr, $normalize:expr) => {{
        let doc = $doc;
        let normalize: fn(&str) -> String = $normalize;
        let mut out = String::new();
        for node in doc.root().descendants() {
            let depth = node.ancestors().count();
            let _ = write!(out, "{depth} ");
            if node.is_element() {
                let name = node.tag_name();
                let _ = writeln!(
                    out,
                    "<{{{}}}{} {:?}",
                    name.namespace().unwrap_or("-"),
                    name.name(),
                    node.range()
                );
                for a in node.attributes() {
                    let _ = writeln!(
                        out,
                        "  @{{{}}}{}={:?} {:?} {:?}",
                        a.namespace().unwrap_or("-"),
                        a.name(),
                        a.value(),
                        a.range_qname(),
                        a.range_value()
                    );
                }
                let mut ns: Vec<(Option<&str>, &str)> =
                    node.namespaces().map(|n| (n.name(), n.uri())).collect();
                ns.sort();
                for (p, u) in ns {
                    let _ = writeln!(out, "  xmlns:{}={u:?}", p.unwrap_or("#default"));
                }
                let _ = writeln!(out, "  default={:?}", node.default_namespace());
            } else if node.is_text() {
                let _ = writeln!(out, "text {:?}", node.text().unwrap_or(""));
            } else if node.is_comment() {
                let v = normalize(node.text().unwrap_or(""));
                let _ = writeln!(out, "comment {v:?} {:?}", node.range());
            } else if let Some(pi) = node.pi() {
                let v = pi.value.map(normalize);
                let _ = writeln!(out, "pi {} {v:?} {:?}", pi.target, node.range());
            } else {
                let _ = writeln!(out, "root");
            }
        }
        out
    }};
}

/// The new reader's tree as text.
pub(crate) fn dump_new(doc: &super::dom::Document<'_>) -> String {
    dump!(doc, |s| s.to_owned())
}

/// roxmltree's tree as text (line ends of comments and PIs normalized).
pub(crate) fn dump_old(doc: &roxmltree::Document<'_>) -> String {
    dump!(doc, crlf)
}

/// Whether the new reader's refusal `error` of `text`, which roxmltree (alone or behind
/// the pre-scan) accepts, is one of the deliberate differences 3, 4, 5 and 7.
pub(crate) fn deliberately_stricter(text: &str, error: &XmlError) -> bool {
    let XmlError::Malformed(m) = error else {
        return false;
    };
    m == PI_TARGET
        || (m == END_TAG && text.contains("</:"))
        || (m == UNBOUND && prefixed_xmlns(text))
        || (m == DUPLICATE_ATTRIBUTE && text.matches("xmlns:xml").count() > 1)
}

/// Whether `text` starts with a PI whose target starts with `xml` and is longer
/// (difference 8).
fn pi_named_like_a_declaration(text: &str) -> bool {
    text.strip_prefix("<?xml")
        .and_then(|rest| rest.chars().next())
        .is_some_and(|c| !matches!(c, ' ' | '\t' | '\r' | '\n' | '?'))
}

/// The depth of the deepest element (the root element is depth 1; difference 6).
fn deepest_element(doc: &super::dom::Document<'_>) -> usize {
    doc.root()
        .descendants()
        .filter(|n| n.is_element())
        .map(|n| n.ancestors().filter(|a| a.is_element()).count())
        .max()
        .unwrap_or(0)
}

/// Whether `text` may hold an attribute `p:xmlns` (difference 4).
fn prefixed_xmlns(text: &str) -> bool {
    text.match_indices(":xmlns").any(|(at, _)| {
        let rest = text.get(at + 6..).unwrap_or("");
        rest.trim_start_matches([' ', '\t', '\r', '\n'])
            .starts_with('=')
    })
}

/// Parses `text` with both readers under the message, metadata and permissive limits;
/// `Err` describes the first disagreement that is not a deliberate difference.
pub(crate) fn compare_readers(text: &str) -> Result<(), String> {
    for (name, limits) in [
        ("MESSAGE", Limits::MESSAGE),
        ("METADATA", Limits::METADATA),
        ("PERMISSIVE", PERMISSIVE),
    ] {
        let old = super::wellformed::parse_with_roxmltree(text, &limits);
        let new = super::parser::parse(text, &limits);
        match (old, new) {
            (Ok(_), Ok(_)) if prefixed_xmlns(text) => {}
            (Ok(old), Ok(new)) => {
                let (a, b) = (dump_old(&old), dump_new(&new));
                if a != b {
                    let line = a
                        .lines()
                        .zip(b.lines())
                        .find(|(x, y)| x != y)
                        .map(|(x, y)| format!("old: {x}\nnew: {y}"))
                        .unwrap_or_else(|| "one tree is longer".into());
                    return Err(format!("{name}: trees differ\n{line}"));
                }
            }
            (Err(_), Err(_)) => {}
            (Err(XmlError::Malformed(m)), Ok(_)) if m == CR_AFTER_REFERENCE => {}
            (Err(XmlError::Encoding | XmlError::Malformed(_)), Ok(_))
                if pi_named_like_a_declaration(text) => {}
            (Err(XmlError::TooDeep { limit }), Ok(new)) if deepest_element(&new) == limit => {}
            (Ok(_), Err(e)) if deliberately_stricter(text, &e) => {}
            (Ok(_), Err(e)) => return Err(format!("{name}: only the new reader refuses: {e}")),
            (Err(e), Ok(_)) => return Err(format!("{name}: only the old reader refuses: {e}")),
        }
    }
    Ok(())
}
