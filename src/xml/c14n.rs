//! Exclusive XML Canonicalization 1.0, without comments
//! (<http://www.w3.org/2001/10/xml-exc-c14n#>), with the `InclusiveNamespaces PrefixList`
//! parameter and the enveloped-signature transform (one excluded subtree).
//!
//! Works on the reader's tree ([`super::dom`]), whose data model already is the XPath one c14n is defined
//! on: line ends normalised, attribute values normalised, character and predefined entity
//! references expanded, CDATA merged into text. Prefixes are read back from the source
//! text because the tree keeps only expanded names.

use std::ops::Range;

use super::dom::{Attribute, Node, NodeId, NodeType};

/// Parameters of one canonicalization.
#[derive(Clone, Copy, Debug, Default)]
pub struct C14nOptions<'a> {
    /// A node omitted together with its subtree (the enveloped `ds:Signature`).
    pub exclude: Option<NodeId>,
    /// The `InclusiveNamespaces PrefixList`: prefixes handled as in inclusive c14n;
    /// `#default` names the default namespace.
    pub inclusive_prefixes: &'a [&'a str],
}

/// Appends the exclusive canonical form of `apex` (an element, or the document root for a
/// whole-document reference) to `out`.
pub fn canonicalize(apex: Node<'_, '_>, options: &C14nOptions<'_>, out: &mut Vec<u8>) {
    let _ = canonicalize_watching(apex, options, None, out);
}

/// An element inside the apex whose own canonical form (as its own apex, with its child
/// `excluded` left out) another reference digests too: the Assertion inside a signed
/// Response, and the Assertion's enveloped signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Watch {
    /// The enclosed element.
    pub(crate) element: NodeId,
    /// Its child the enclosed element's own reference leaves out.
    pub(crate) excluded: NodeId,
}

/// What a canonicalization saw of a [`Watch`]ed element: output byte ranges, and whether
/// its rendering in context provably equals its rendering as its own apex.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Watched {
    /// The output range of the watched element, start tag to end tag.
    element: Option<Range<usize>>,
    /// The output range of its excluded child (rendered as a direct child of it).
    excluded: Option<Range<usize>>,
    /// Whether the rendering may depend on the context: an output ancestor's declaration
    /// was looked up for a namespace used inside the element, the element or its child was
    /// met twice, or this pass had an `InclusiveNamespaces` list.
    context_dependent: bool,
}

impl Watched {
    /// The two output ranges whose concatenation is, byte for byte, the watched element's
    /// exclusive canonical form as its own apex with the excluded child left out and the
    /// `InclusiveNamespaces` list `apex_prefixes`; `None` unless that is proven: both
    /// ranges seen once, nested, no namespace decision inside the element taken from an
    /// output ancestor, and no `InclusiveNamespaces` list in either pass.
    ///
    /// Why it holds: exclusive c14n renders a start tag from the namespaces it visibly
    /// uses, each declared unless the nearest output ancestor already declares it with the
    /// same value. Inside the element, a lookup that stops at a declaration rendered inside
    /// the element finds the same one in both renderings (by induction, everything rendered
    /// inside so far is identical); a lookup that finds nothing finds nothing in both. Only
    /// a lookup that finds a declaration of an output ancestor outside the element can
    /// differ, and any such lookup marks the pass context-dependent. The excluded child is
    /// rendered in context exactly where the apex rendering omits it, and the namespace
    /// stack is restored after it, so cutting its range out leaves the apex form.
    pub(crate) fn apex_ranges(&self, apex_prefixes: &[&str]) -> Option<[Range<usize>; 2]> {
        let (element, excluded) = (self.element.as_ref()?, self.excluded.as_ref()?);
        let nested = element.start <= excluded.start
            && excluded.start <= excluded.end
            && excluded.end <= element.end;
        (nested && !self.context_dependent && apex_prefixes.is_empty())
            .then_some([element.start..excluded.start, excluded.end..element.end])
    }

    /// The ranges seen, whether or not they may be shared (tests).
    #[cfg(test)]
    pub(crate) fn ranges(&self) -> (Option<Range<usize>>, Option<Range<usize>>) {
        (self.element.clone(), self.excluded.clone())
    }
}

/// [`canonicalize`], watching `watch` (see [`Watched::apex_ranges`]). The ranges are
/// offsets into `out`.
pub(crate) fn canonicalize_watching(
    apex: Node<'_, '_>,
    options: &C14nOptions<'_>,
    watch: Option<Watch>,
    out: &mut Vec<u8>,
) -> Watched {
    let mut c = Canonicalizer {
        options,
        rendered: Vec::with_capacity(8),
        decls: Vec::with_capacity(4),
        attrs: Vec::with_capacity(8),
        out,
        watch,
        floor: 0,
        inside: false,
        watched: Watched {
            context_dependent: !options.inclusive_prefixes.is_empty(),
            ..Watched::default()
        },
    };
    if apex.node_type() == NodeType::Root {
        let mut seen_element = false;
        for child in apex.children() {
            if Some(child.id()) == options.exclude {
                continue;
            }
            match child.node_type() {
                NodeType::Element => {
                    c.element(child);
                    seen_element = true;
                }
                NodeType::PI => {
                    if seen_element {
                        c.out.push(b'\n');
                    }
                    pi(child, c.out);
                    if !seen_element {
                        c.out.push(b'\n');
                    }
                }
                _ => {}
            }
        }
    } else {
        c.element(apex);
    }
    c.watched
}

/// One canonicalization. The declaration and attribute lists are only needed while a start
/// tag is written, so they are reused by every element (no allocation per element).
struct Canonicalizer<'a, 'o> {
    options: &'o C14nOptions<'a>,
    /// Namespace declarations in scope in the output: (prefix, URI), innermost last.
    rendered: Vec<(&'a str, &'a str)>,
    /// The declarations the current start tag renders: (prefix, URI).
    decls: Vec<(&'a str, &'a str)>,
    /// The current start tag's attributes: (namespace URI, local name, qname, value).
    attrs: Vec<(&'a str, &'a str, &'a str, &'a str, bool)>,
    out: &'o mut Vec<u8>,
    /// The element watched for the other reference, if any.
    watch: Option<Watch>,
    /// Inside the watched element: the length of `rendered` at its start tag (the
    /// declarations of its output ancestors lie below); 0 elsewhere.
    floor: usize,
    /// Whether the walk is inside the watched element.
    inside: bool,
    watched: Watched,
}

impl<'a> Canonicalizer<'a, '_> {
    /// Adds `(p, uri)` to the current start tag's declarations unless the output already
    /// has it in scope (or it is the `xml` prefix, never declared).
    fn consider(&mut self, p: &'a str, uri: &'a str) {
        if p == "xml" || self.decls.iter().any(|(q, _)| same(q, p)) {
            return;
        }
        let found = self.rendered.iter().rposition(|(q, _)| same(q, p));
        if found.is_some_and(|at| at < self.floor) {
            // Decided by an output ancestor of the watched element: its apex rendering
            // may differ.
            self.watched.context_dependent = true;
        }
        let current = found.and_then(|at| self.rendered.get(at)).map(|(_, u)| *u);
        let needed = if p.is_empty() && uri.is_empty() {
            current.is_some_and(|c| !c.is_empty())
        } else {
            !current.is_some_and(|c| same(c, uri))
        };
        if needed {
            self.decls.push((p, uri));
        }
    }

    fn element(&mut self, node: Node<'a, '_>) {
        match self.watch {
            Some(w) if w.element == node.id() => {
                let start = self.out.len();
                if self.watched.element.is_some() {
                    self.watched.context_dependent = true;
                }
                // Every lookup that reaches below this marks the pass context-dependent
                // (with nothing below, nothing needs marking).
                self.floor = self.rendered.len();
                self.inside = true;
                self.element_inner(node);
                self.inside = false;
                self.floor = 0;
                self.watched.element = Some(start..self.out.len());
            }
            Some(w) if w.excluded == node.id() => {
                let start = self.out.len();
                let child_of_watched = node.parent().map(|p| p.id()) == Some(w.element);
                if self.watched.excluded.is_some() || !child_of_watched {
                    self.watched.context_dependent = true;
                }
                self.element_inner(node);
                self.watched.excluded = Some(start..self.out.len());
            }
            _ => self.element_inner(node),
        }
    }

    fn element_inner(&mut self, node: Node<'a, '_>) {
        let (qname, prefix) = node
            .qname_as_written()
            .unwrap_or_else(|| (element_qname(node), prefix_of(element_qname(node))));
        let scope = self.rendered.len();

        // Namespace declarations to render: the visibly utilized ones, plus the inclusive
        // list.
        self.decls.clear();
        self.attrs.clear();
        self.consider(prefix, node.tag_name().namespace().unwrap_or(""));
        for attr in node.attributes() {
            let aq = attr_qname(node, &attr);
            if let Some(ns) = attr.namespace() {
                let ap = prefix_of(aq);
                if !ap.is_empty() {
                    self.consider(ap, ns);
                }
            }
            self.attrs.push((
                attr.namespace().unwrap_or(""),
                attr.name(),
                aq,
                attr.value(),
                attr.is_c14n_plain(),
            ));
        }
        for &inc in self.options.inclusive_prefixes {
            if inc == "#default" {
                self.consider("", node.default_namespace().unwrap_or(""));
            } else if let Some(uri) = node.lookup_namespace_uri(Some(inc)) {
                self.consider(inc, uri);
            }
        }
        if self.decls.len() > 1 {
            self.decls.sort_unstable_by(|a, b| order(a.0, b.0));
        }
        if self.attrs.len() > 1 {
            self.attrs
                .sort_unstable_by(|a, b| order(a.0, b.0).then_with(|| order(a.1, b.1)));
        }

        let out = &mut *self.out;
        out.push(b'<');
        out.extend_from_slice(qname.as_bytes());
        for &(p, uri) in &self.decls {
            if p.is_empty() {
                out.extend_from_slice(b" xmlns=\"");
            } else {
                out.extend_from_slice(b" xmlns:");
                out.extend_from_slice(p.as_bytes());
                out.extend_from_slice(b"=\"");
            }
            escape_attr(uri, out);
            out.push(b'"');
            self.rendered.push((p, uri));
        }
        for &(_, _, aq, value, plain) in &self.attrs {
            out.push(b' ');
            out.extend_from_slice(aq.as_bytes());
            out.extend_from_slice(b"=\"");
            if plain {
                out.extend_from_slice(value.as_bytes());
            } else {
                escape_attr(value, out);
            }
            out.push(b'"');
        }
        out.push(b'>');

        for child in node.children() {
            if Some(child.id()) == self.options.exclude {
                // A subtree this pass leaves out inside the watched element would be in
                // its apex rendering.
                self.watched.context_dependent |= self.inside;
                continue;
            }
            match child.node_type() {
                NodeType::Element => self.element(child),
                NodeType::Text => escape_text(child.text().unwrap_or(""), self.out),
                NodeType::PI => pi(child, self.out),
                _ => {}
            }
        }
        self.rendered.truncate(scope);

        self.out.extend_from_slice(b"</");
        self.out.extend_from_slice(qname.as_bytes());
        self.out.push(b'>');
    }
}

/// String equality for the short names and interned URIs c14n compares: the same slice
/// (interned URIs, names read from one source) answers at once; otherwise the bytes,
/// compared inline (a `memcmp` call costs more than these strings).
#[inline(always)]
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && (a.as_ptr() == b.as_ptr() || a.bytes().zip(b.bytes()).all(|(x, y)| x == y))
}

/// The order of `str` (bytes, lexicographically: the code-point order c14n sorts by),
/// inline for the same reason as [`same`].
#[inline(always)]
fn order(a: &str, b: &str) -> std::cmp::Ordering {
    if a.len() == b.len() && a.as_ptr() == b.as_ptr() {
        return std::cmp::Ordering::Equal;
    }
    for (x, y) in a.bytes().zip(b.bytes()) {
        if x != y {
            return x.cmp(&y);
        }
    }
    a.len().cmp(&b.len())
}

/// The prefix of a QName as written (`""` when it has none). A byte scan: the names are
/// short and `:` is ASCII, so the split is on a character boundary.
#[inline(always)]
fn prefix_of(qname: &str) -> &str {
    match qname.bytes().position(|b| b == b':') {
        Some(at) => qname.get(..at).unwrap_or(""),
        None => "",
    }
}

/// The element's qualified name as written in the source (`<qname ...`).
fn element_qname<'a>(node: Node<'a, '_>) -> &'a str {
    let src = node.document().input_text();
    let rest = src.get(node.range().start + 1..).unwrap_or("");
    // The delimiters are ASCII, so a byte scan ends on a character boundary.
    let end = rest
        .bytes()
        .position(|b| b.is_ascii_whitespace() || b == b'/' || b == b'>')
        .unwrap_or(rest.len());
    rest.get(..end).unwrap_or(node.tag_name().name())
}

fn attr_qname<'a>(node: Node<'a, '_>, attr: &Attribute<'a, '_>) -> &'a str {
    node.document()
        .input_text()
        .get(attr.range_qname())
        .unwrap_or(attr.name())
}

fn pi(node: Node<'_, '_>, out: &mut Vec<u8>) {
    if let Some(pi) = node.pi() {
        out.extend_from_slice(b"<?");
        out.extend_from_slice(pi.target.as_bytes());
        if let Some(value) = pi.value {
            if !value.is_empty() {
                out.push(b' ');
                out.extend_from_slice(value.as_bytes());
            }
        }
        out.extend_from_slice(b"?>");
    }
}

/// Appends `s` with each byte for which `special` holds replaced by `replace(byte)`.
///
/// Almost every byte of a SAML message is plain, so 16-byte blocks are tested at once
/// (the comparisons of a whole block compile to a few vector instructions) and copied
/// whole; only a block holding a special byte is walked byte by byte.
///
/// `maybe` must hold for every byte for which `special` holds (it may hold for more): the
/// whole value is tested with it first, eight bytes at a time ([`maybe_special`]).
#[inline(always)]
fn escape(
    s: &str,
    maybe: ([u8; 4], u8),
    special: impl Fn(u8) -> bool,
    replace: impl Fn(u8) -> &'static [u8],
    out: &mut Vec<u8>,
) {
    let bytes = s.as_bytes();
    // Most values (every ID, instant, URI and name) hold no special byte at all: one
    // SWAR test over the whole value, one copy.
    if !maybe_special(bytes, maybe.0, maybe.1) {
        out.extend_from_slice(bytes);
        return;
    }
    let mut plain_from = 0;
    let mut at = 0;
    while at < bytes.len() {
        if let Some(block) = bytes.get(at..).and_then(|r| r.first_chunk::<16>()) {
            if !block.iter().fold(false, |any, &b| any | special(b)) {
                at += 16;
                continue;
            }
        }
        let end = bytes.len().min(at + 16);
        for (i, &b) in bytes.iter().enumerate().take(end).skip(at) {
            if special(b) {
                out.extend_from_slice(bytes.get(plain_from..i).unwrap_or_default());
                out.extend_from_slice(replace(b));
                plain_from = i + 1;
            }
        }
        at = end;
    }
    out.extend_from_slice(bytes.get(plain_from..).unwrap_or_default());
}

/// Whether some byte of `bytes` is one of `eq` or below `below` (at most 0x80): the
/// classic SWAR tests, eight bytes at a time (the last block overlaps the one before; a
/// value shorter than eight bytes is padded with spaces, which no caller looks for). A
/// block with no such byte is never flagged; a flagged value may hold none (the caller's
/// exact walk then decides).
#[inline(always)]
fn maybe_special(bytes: &[u8], eq: [u8; 4], below: u8) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let under = |x: u64, n: u8| x.wrapping_sub(ONES * u64::from(n)) & !x & HIGH;
    let [a, b, c, d] = eq.map(|e| ONES * u64::from(e));
    let hit = |block: &[u8; 8]| {
        let x = u64::from_le_bytes(*block);
        under(x ^ a, 1) | under(x ^ b, 1) | under(x ^ c, 1) | under(x ^ d, 1) | under(x, below)
    };
    if let Some(last) = bytes.last_chunk::<8>() {
        let blocks = bytes.chunks_exact(8);
        blocks.fold(hit(last), |acc, block| {
            acc | block.first_chunk::<8>().map_or(HIGH, hit)
        }) != 0
    } else {
        let mut block = [b' '; 8];
        if let Some(head) = block.get_mut(..bytes.len()) {
            head.copy_from_slice(bytes);
        }
        hit(&block) != 0
    }
}

/// Text nodes escape `&`, `<`, `>` and CR.
fn escape_text(s: &str, out: &mut Vec<u8>) {
    escape(
        s,
        ([b'&', b'<', b'>', b'\r'], 0),
        |b| matches!(b, b'&' | b'<' | b'>' | b'\r'),
        |b| match b {
            b'&' => b"&amp;",
            b'<' => b"&lt;",
            b'>' => b"&gt;",
            _ => b"&#xD;",
        },
        out,
    );
}

/// Attribute values escape `&`, `<`, `"`, TAB, LF and CR.
fn escape_attr(s: &str, out: &mut Vec<u8>) {
    escape(
        s,
        // TAB, LF and CR are below 0x0E (so are a few controls a parsed document never
        // holds: flagged, then found plain by the exact walk).
        ([b'&', b'<', b'"', b'"'], 0x0e),
        |b| matches!(b, b'&' | b'<' | b'"' | b'\t' | b'\n' | b'\r'),
        |b| match b {
            b'&' => b"&amp;",
            b'<' => b"&lt;",
            b'"' => b"&quot;",
            b'\t' => b"&#x9;",
            b'\n' => b"&#xA;",
            _ => b"&#xD;",
        },
        out,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `s` escaped as an attribute value (`attr`) or as text.
    fn escaped(s: &str, attr: bool) -> Vec<u8> {
        let mut out = Vec::new();
        if attr {
            escape_attr(s, &mut out);
        } else {
            escape_text(s, &mut out);
        }
        out
    }
    use crate::xml::{parse, Limits};

    fn c14n(xml: &str, inclusive: &[&str]) -> String {
        let doc = parse(xml, &Limits::METADATA).unwrap();
        let mut out = Vec::new();
        let opts = C14nOptions {
            exclude: None,
            inclusive_prefixes: inclusive,
        };
        canonicalize(doc.root_element(), &opts, &mut out);
        String::from_utf8(out).unwrap()
    }

    /// The escaping (its SWAR pre-test included) against a byte-by-byte reference, on
    /// random values of every length around the eight-byte blocks.
    #[test]
    fn escaping_agrees_with_a_character_by_character_reference() {
        let reference = |s: &str, attr: bool| -> String {
            s.chars()
                .map(|c| match (c, attr) {
                    ('&', _) => "&amp;".to_owned(),
                    ('<', _) => "&lt;".to_owned(),
                    ('>', false) => "&gt;".to_owned(),
                    ('"', true) => "&quot;".to_owned(),
                    ('\t', true) => "&#x9;".to_owned(),
                    ('\n', true) => "&#xA;".to_owned(),
                    ('\r', _) => "&#xD;".to_owned(),
                    (c, _) => c.to_string(),
                })
                .collect()
        };
        let pieces = [
            "a",
            "&",
            "<",
            ">",
            "\"",
            "'",
            "\t",
            "\n",
            "\r",
            " ",
            "é",
            "\u{1}",
            "\u{e}",
            "\u{1f}",
            "xyz",
            "0123456789",
        ];
        let mut next = crate::test_rng(0x9E37_79B9_7F4A_7C15u64);
        for round in 0..30_000 {
            let len = (next() % if round % 3 == 0 { 24 } else { 6 }) as usize;
            let s: String = (0..len)
                .map(|_| pieces[(next() as usize) % pieces.len()])
                .collect();
            for attr in [false, true] {
                assert_eq!(
                    String::from_utf8(escaped(&s, attr)).unwrap(),
                    reference(&s, attr),
                    "{s:?}"
                );
            }
        }
    }

    /// The qualified name and prefix the reader recorded agree with a scan of the source,
    /// for every element of documents with prefixes, non-ASCII names, whitespace and
    /// empty tags, and of every XML file under tests/data.
    #[test]
    fn recorded_qnames_agree_with_the_source() {
        let mut docs: Vec<String> = [
            "<r/>",
            "<a:b xmlns:a='u'\n x='1'><a:c/><d\t/><e\r\n>t</e><é:ü xmlns:é='v'>x</é:ü></a:b>",
            "<averyveryverylongname.with-dots_and:colon xmlns:averyveryverylongname.with-dots_and='w'/>",
        ]
        .iter()
        .map(|d| d.to_string())
        .collect();
        let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
        let mut stack = vec![data];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "xml") {
                    docs.extend(std::fs::read_to_string(&path).ok());
                }
            }
        }
        let mut checked = 0;
        for text in &docs {
            let Ok(doc) = parse(text, &Limits::METADATA) else {
                continue;
            };
            for node in doc.root().descendants().filter(|n| n.is_element()) {
                let scanned = element_qname(node);
                assert_eq!(
                    node.qname_as_written(),
                    Some((scanned, prefix_of(scanned))),
                    "{text:?}"
                );
                checked += 1;
            }
        }
        assert!(checked > 1000, "{checked}");
    }

    /// An attribute the reader marks plain needs no escaping: random values, both
    /// quotes, references, tabs and line ends.
    #[test]
    fn values_marked_plain_need_no_escaping() {
        let pieces = [
            "a",
            "&amp;",
            "&lt;",
            "&quot;",
            "&#9;",
            "&#10;",
            "&#13;",
            "&#x22;",
            "'",
            "\"",
            "\t",
            "\n",
            "\r",
            " ",
            "é",
            ">",
            "0123456789",
        ];
        let mut next = crate::test_rng(0x2545_F491_4F6C_DD1Du64);
        let (mut plain, mut escaped) = (0, 0);
        for _ in 0..20_000 {
            let len = (next() % 12) as usize;
            let v: String = (0..len)
                .map(|_| pieces[(next() as usize) % pieces.len()])
                .collect();
            for q in ['"', '\''] {
                let doc = format!("<r a={q}{v}{q}/>");
                let Ok(doc) = parse(&doc, &Limits::METADATA) else {
                    continue;
                };
                let attr = doc.root_element().attributes().next().unwrap();
                let mut out = Vec::new();
                escape_attr(attr.value(), &mut out);
                if attr.is_c14n_plain() {
                    assert_eq!(out, attr.value().as_bytes(), "{q}{v}{q}");
                    plain += 1;
                } else {
                    escaped += 1;
                }
            }
        }
        assert!(plain > 1000 && escaped > 1000, "{plain} {escaped}");
    }

    #[test]
    fn drops_comments() {
        // Exclusive c14n *without comments*: a comment between elements, inside a text
        // value or around the root leaves no trace, so signatures survive added comments.
        let x = "<!-- a --><r><!-- b --><e>x<!-- c -->y</e>\n<!---->z</r><!-- d -->";
        assert_eq!(c14n(x, &[]), "<r><e>xy</e>\nz</r>");
        let doc = parse(x, &Limits::METADATA).unwrap();
        let mut out = Vec::new();
        canonicalize(doc.root(), &C14nOptions::default(), &mut out);
        assert_eq!(String::from_utf8(out).unwrap(), "<r><e>xy</e>\nz</r>");
    }

    #[test]
    fn renders_only_visibly_utilized_namespaces() {
        let x =
            r#"<a:r xmlns:a="urn:a" xmlns:b="urn:b" xmlns="urn:d"><b:c x="1" a:y="2"/><d/></a:r>"#;
        assert_eq!(
            c14n(x, &[]),
            r#"<a:r xmlns:a="urn:a"><b:c xmlns:b="urn:b" x="1" a:y="2"></b:c><d xmlns="urn:d"></d></a:r>"#
        );
        assert_eq!(
            c14n(x, &["b", "#default"]),
            r#"<a:r xmlns="urn:d" xmlns:a="urn:a" xmlns:b="urn:b"><b:c x="1" a:y="2"></b:c><d></d></a:r>"#
        );
    }

    #[test]
    fn undeclares_default_namespace_when_needed() {
        let x = r#"<r xmlns="urn:d"><e xmlns=""><f/></e></r>"#;
        assert_eq!(
            c14n(x, &[]),
            r#"<r xmlns="urn:d"><e xmlns=""><f></f></e></r>"#
        );
    }

    #[test]
    fn escapes_and_sorts() {
        let x = "<r b=\"&#9;&#10;&#13;&quot;&lt;&gt;\" a='x'>a&amp;b&lt;c&gt;d&#13;\r\n<![CDATA[<x>]]><?pi  data?><!--c--></r>";
        assert_eq!(
            c14n(x, &[]),
            "<r a=\"x\" b=\"&#x9;&#xA;&#xD;&quot;&lt;>\">a&amp;b&lt;c&gt;d&#xD;\n&lt;x&gt;<?pi data?></r>"
        );
    }

    #[test]
    fn block_escaping_matches_byte_by_byte() {
        fn naive(s: &str, attr: bool) -> Vec<u8> {
            let mut out = Vec::new();
            for b in s.bytes() {
                match (b, attr) {
                    (b'&', _) => out.extend_from_slice(b"&amp;"),
                    (b'<', _) => out.extend_from_slice(b"&lt;"),
                    (b'>', false) => out.extend_from_slice(b"&gt;"),
                    (b'"', true) => out.extend_from_slice(b"&quot;"),
                    (b'\t', true) => out.extend_from_slice(b"&#x9;"),
                    (b'\n', true) => out.extend_from_slice(b"&#xA;"),
                    (b'\r', _) => out.extend_from_slice(b"&#xD;"),
                    _ => out.push(b),
                }
            }
            out
        }
        let specials = ['&', '<', '>', '"', '\t', '\n', '\r', 'è'];
        for len in [0, 1, 15, 16, 17, 31, 32, 33, 70] {
            for pos in 0..len {
                for c in specials {
                    let mut s: String = "abcdefghijklmnopqrstuvwxyz0123456789".repeat(2);
                    s.truncate(len);
                    s.replace_range(pos..pos + 1, &c.to_string());
                    for attr in [false, true] {
                        assert_eq!(escaped(&s, attr), naive(&s, attr), "{s:?} attr={attr}");
                    }
                }
            }
        }
    }

    #[test]
    fn inline_comparisons_match_str() {
        let words = [
            "",
            "a",
            "b",
            "ab",
            "aa",
            "ID",
            "Id",
            "IssueInstant",
            "urn:a",
            "urn:ab",
            "urn:b",
            "è",
            "é",
            "e",
            "zz",
            "\u{10000}",
            "\u{ffff}",
        ];
        for a in words {
            for b in words {
                // Different slices with the same bytes, and the same slice.
                let (a2, b2) = (a.to_owned(), b.to_owned());
                assert_eq!(order(&a2, &b2), a.cmp(b), "{a:?} {b:?}");
                assert_eq!(same(&a2, &b2), a == b, "{a:?} {b:?}");
                assert_eq!(order(a, a), std::cmp::Ordering::Equal);
                assert!(same(a, a));
            }
        }
        for q in [
            "",
            "a",
            "ds:Signature",
            "saml2p:Response",
            "xml:lang",
            "é:x",
            "a:b:c",
        ] {
            assert_eq!(
                prefix_of(q),
                q.split_once(':').map_or("", |(p, _)| p),
                "{q:?}"
            );
        }
    }

    #[test]
    fn sorts_attributes_by_namespace_uri_then_name() {
        let x = r#"<r xmlns:z="urn:a" xmlns:a="urn:z" a:x="1" z:y="2" b="3" xml:lang="it"/>"#;
        assert_eq!(
            c14n(x, &[]),
            r#"<r xmlns:a="urn:z" xmlns:z="urn:a" b="3" xml:lang="it" z:y="2" a:x="1"></r>"#
        );
    }
}
