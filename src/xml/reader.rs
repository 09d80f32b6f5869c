//! The one entry point for untrusted XML: size, encoding, DTD, depth, node and attribute
//! limits, and (optionally) a ban on comments and processing instructions.

use std::borrow::Cow;

use roxmltree::{Document, Node, NodeType, ParsingOptions};

/// Limits applied to every document before and while it is parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Maximum document size in bytes.
    pub max_bytes: usize,
    /// Maximum element nesting depth (the root element is depth 1).
    pub max_depth: usize,
    /// Maximum number of nodes (elements, text, comments, PIs).
    pub max_nodes: u32,
    /// Maximum number of attributes on one element, namespace declarations included.
    pub max_attributes: usize,
    /// Maximum number of namespace declarations (`xmlns`, `xmlns:p`) in the document.
    ///
    /// The tree builder copies the in-scope namespaces of every element that declares one,
    /// so without this bound a few hundred kilobytes of nested declarations cost gigabytes.
    pub max_namespace_declarations: usize,
    /// Maximum number of namespace declarations in scope at one element (its own and its
    /// ancestors', counted even when they re-bind a prefix).
    ///
    /// The tree builder resolves every prefixed name by a linear search of the in-scope
    /// declarations; real documents have at most about ten in scope.
    pub max_namespaces_in_scope: usize,
    /// Refuse comments and processing instructions anywhere in the document.
    ///
    /// On for protocol messages: no IdP emits them and they are the vehicle of comment
    /// injection (a signature that still verifies while a naive reader truncates the value).
    pub forbid_comments: bool,
}

impl Limits {
    /// Limits for SAML protocol messages (Responses, Logout messages): 256 KiB, depth 32,
    /// 10,000 nodes, 32 attributes per element, 512 namespace declarations (64 in scope),
    /// no comments or PIs.
    pub const MESSAGE: Limits = Limits {
        max_bytes: 256 * 1024,
        max_depth: 32,
        max_nodes: 10_000,
        max_attributes: 32,
        max_namespace_declarations: 512,
        max_namespaces_in_scope: 64,
        forbid_comments: true,
    };

    /// Limits for metadata documents (an IdP registry aggregate is ~120 KB today, with 236
    /// namespace declarations, at most 10 in scope): 8 MiB, depth 32, 500,000 nodes, 64
    /// attributes per element, 2,048 namespace declarations (64 in scope); comments
    /// allowed.
    pub const METADATA: Limits = Limits {
        max_bytes: 8 * 1024 * 1024,
        max_depth: 32,
        max_nodes: 500_000,
        max_attributes: 64,
        max_namespace_declarations: 2048,
        max_namespaces_in_scope: 64,
        forbid_comments: false,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::MESSAGE
    }
}

/// Why a document was refused before any of its content was looked at.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum XmlError {
    /// Larger than [`Limits::max_bytes`].
    #[error("document larger than {limit} bytes")]
    TooLarge {
        /// The limit in force.
        limit: usize,
    },
    /// Not UTF-8, or an XML declaration naming another encoding.
    #[error("document is not UTF-8")]
    Encoding,
    /// A DOCTYPE declaration (DTDs and entity declarations are never processed).
    #[error("DOCTYPE declarations are refused")]
    Dtd,
    /// Not well-formed XML.
    #[error("malformed XML: {0}")]
    Malformed(String),
    /// Deeper than [`Limits::max_depth`].
    #[error("elements nested deeper than {limit}")]
    TooDeep {
        /// The limit in force.
        limit: usize,
    },
    /// More nodes than [`Limits::max_nodes`].
    #[error("more than {limit} nodes")]
    TooManyNodes {
        /// The limit in force.
        limit: u32,
    },
    /// An element with more attributes than [`Limits::max_attributes`].
    #[error("an element has more than {limit} attributes")]
    TooManyAttributes {
        /// The limit in force.
        limit: usize,
    },
    /// More namespace declarations than [`Limits::max_namespace_declarations`] in the
    /// document, or than [`Limits::max_namespaces_in_scope`] in scope at one element.
    #[error("more than {limit} namespace declarations")]
    TooManyNamespaces {
        /// The limit in force.
        limit: usize,
    },
    /// A comment or processing instruction where [`Limits::forbid_comments`] is set.
    #[error("comments and processing instructions are refused")]
    CommentOrPi,
}

/// Checks that `bytes` are UTF-8 text whose XML declaration (if any) names UTF-8.
pub fn decode_utf8(bytes: &[u8]) -> Result<&str, XmlError> {
    let text = std::str::from_utf8(bytes).map_err(|_| XmlError::Encoding)?;
    check_declared_encoding(text)?;
    Ok(text)
}

fn check_declared_encoding(text: &str) -> Result<(), XmlError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let Some(rest) = text.strip_prefix("<?xml") else {
        return Ok(());
    };
    let decl = rest.split("?>").next().unwrap_or("");
    if let Some(pos) = decl.find("encoding") {
        let after = decl.get(pos + "encoding".len()..).unwrap_or("");
        let after = after
            .trim_start()
            .strip_prefix('=')
            .unwrap_or("")
            .trim_start();
        let value: String = after
            .chars()
            .skip(1)
            .take_while(|c| *c != '"' && *c != '\'')
            .collect();
        if !value.eq_ignore_ascii_case("utf-8") && !value.eq_ignore_ascii_case("utf8") {
            return Err(XmlError::Encoding);
        }
    }
    Ok(())
}

/// Parses `text` under `limits`: no DTD, well-formed, bounded size, depth, nodes and
/// attributes, and (if asked) no comments or PIs.
pub fn parse<'i>(text: &'i str, limits: &Limits) -> Result<Document<'i>, XmlError> {
    if text.len() > limits.max_bytes {
        return Err(XmlError::TooLarge {
            limit: limits.max_bytes,
        });
    }
    check_declared_encoding(text)?;
    prescan(text, limits)?;
    let options = ParsingOptions {
        allow_dtd: false,
        nodes_limit: limits.max_nodes,
        ..ParsingOptions::default()
    };
    let doc = Document::parse_with_options(text, options).map_err(|e| match e {
        roxmltree::Error::DtdDetected => XmlError::Dtd,
        roxmltree::Error::NodesLimitReached => XmlError::TooManyNodes {
            limit: limits.max_nodes,
        },
        other => XmlError::Malformed(other.to_string()),
    })?;
    check_tree(&doc, limits)?;
    Ok(doc)
}

/// One pass over the raw text before any tree is built: element depth, attributes per
/// element (namespace declarations included), namespace declarations in the document and
/// in scope.
///
/// The tree builder checks duplicate attributes and resolves inherited namespaces with
/// loops that are quadratic in these counts (26,000 attributes on one element took 1.8 s
/// and 13,000 nested declarations did not finish in a minute, both within 256 KiB), so the
/// bounds must hold before it runs. This scan only counts, in linear time, allocating at
/// most one entry per namespace declaration in scope; it refuses early what the parser would refuse anyway (a DOCTYPE, a tag it
/// cannot follow) and leaves every other well-formedness rule to the parser.
pub(crate) fn prescan(text: &str, limits: &Limits) -> Result<(), XmlError> {
    let b = text.as_bytes();
    let unterminated = || XmlError::Malformed("unterminated markup".into());
    let mut i = 0usize;
    let mut depth = 0usize;
    let mut declarations = 0usize;
    // (depth, count) of each open element that declares namespaces: at most
    // max_namespaces_in_scope entries, since each holds at least one.
    let mut scopes: Vec<(usize, usize)> = Vec::new();
    let mut in_scope = 0usize;
    while let Some(lt) = find(b, i, b"<") {
        check_line_ends(b.get(i..lt).unwrap_or_default())?;
        let rest = b.get(lt + 1..).unwrap_or_default();
        if rest.starts_with(b"!--") {
            i = find(b, lt + 4, b"-->").ok_or_else(unterminated)? + 3;
        } else if rest.starts_with(b"![CDATA[") {
            i = find(b, lt + 9, b"]]>").ok_or_else(unterminated)? + 3;
        } else if rest.starts_with(b"!DOCTYPE") {
            return Err(XmlError::Dtd);
        } else if rest.starts_with(b"?") {
            i = find(b, lt + 2, b"?>").ok_or_else(unterminated)? + 2;
        } else if rest.starts_with(b"/") {
            if let Some(&(d, count)) = scopes.last() {
                if d == depth {
                    scopes.pop();
                    in_scope = in_scope.saturating_sub(count);
                }
            }
            depth = depth.saturating_sub(1);
            i = find(b, lt + 2, b">").ok_or_else(unterminated)? + 1;
        } else {
            // A start tag: its name, then `name = "value"` pairs up to `>` or `/>`.
            let mut j = lt + 1;
            while b
                .get(j)
                .is_some_and(|&c| !is_space(c) && c != b'/' && c != b'>')
            {
                j += 1;
            }
            let mut attributes = 0usize;
            let mut own = 0usize;
            loop {
                while b.get(j).copied().is_some_and(is_space) {
                    j += 1;
                }
                match b.get(j) {
                    None => return Err(unterminated()),
                    Some(b'>') | Some(b'/') => {
                        let empty = b.get(j) == Some(&b'/');
                        if depth >= limits.max_depth {
                            return Err(XmlError::TooDeep {
                                limit: limits.max_depth,
                            });
                        }
                        if !empty {
                            depth += 1;
                            if own > 0 {
                                scopes.push((depth, own));
                                in_scope += own;
                            }
                        }
                        j += 1;
                        break;
                    }
                    Some(_) => {
                        let name_start = j;
                        while b
                            .get(j)
                            .is_some_and(|&c| !is_space(c) && !matches!(c, b'=' | b'/' | b'>'))
                        {
                            j += 1;
                        }
                        let name = b.get(name_start..j).unwrap_or_default();
                        attributes += 1;
                        if attributes > limits.max_attributes {
                            return Err(XmlError::TooManyAttributes {
                                limit: limits.max_attributes,
                            });
                        }
                        if name == b"xmlns" || name.starts_with(b"xmlns:") {
                            declarations += 1;
                            own += 1;
                            if declarations > limits.max_namespace_declarations {
                                return Err(XmlError::TooManyNamespaces {
                                    limit: limits.max_namespace_declarations,
                                });
                            }
                            if in_scope + own > limits.max_namespaces_in_scope {
                                return Err(XmlError::TooManyNamespaces {
                                    limit: limits.max_namespaces_in_scope,
                                });
                            }
                        }
                        while b.get(j).copied().is_some_and(is_space) {
                            j += 1;
                        }
                        if b.get(j) != Some(&b'=') {
                            return Err(XmlError::Malformed("attribute without value".into()));
                        }
                        j += 1;
                        while b.get(j).copied().is_some_and(is_space) {
                            j += 1;
                        }
                        let quote = match b.get(j) {
                            Some(&q @ (b'"' | b'\'')) => q,
                            _ => {
                                return Err(XmlError::Malformed("unquoted attribute value".into()))
                            }
                        };
                        j = find(b, j + 1, &[quote]).ok_or_else(unterminated)? + 1;
                    }
                }
            }
            i = j;
        }
    }
    Ok(())
}

/// What [`root_attribute`] found in the start tag of a document's root element.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RootAttribute<'a> {
    /// The attribute's raw value (no references in it).
    Found(&'a str),
    /// The start tag ends without it, or the text is not a document this scan follows.
    Absent,
    /// The text ends inside the prolog or the start tag.
    Incomplete,
}

/// Reads one unprefixed attribute of the root element without parsing the document: an
/// optional BOM, XML declaration and whitespace, then the root's start tag. For lookup
/// keys only (the `InResponseTo` of a message before it is verified): nothing read here
/// is trusted, the full parse and the signature checks decide. A value holding a
/// reference (`&`) or a `<` is reported as absent.
pub(crate) fn root_attribute<'a>(text: &'a str, name: &str) -> RootAttribute<'a> {
    let b = text.as_bytes();
    let mut i = if b.starts_with("\u{feff}".as_bytes()) {
        3
    } else {
        0
    };
    let skip_space = |mut j: usize| {
        while b.get(j).copied().is_some_and(is_space) {
            j += 1;
        }
        j
    };
    i = skip_space(i);
    if b.get(i..).is_some_and(|r| r.starts_with(b"<?")) {
        match find(b, i + 2, b"?>") {
            Some(end) => i = skip_space(end + 2),
            None => return RootAttribute::Incomplete,
        }
    }
    match b.get(i) {
        None => return RootAttribute::Incomplete,
        Some(b'<') => {}
        Some(_) => return RootAttribute::Absent,
    }
    if matches!(b.get(i + 1), Some(b'!' | b'?' | b'/')) {
        return RootAttribute::Absent;
    }
    let mut j = i + 1;
    while b
        .get(j)
        .is_some_and(|&c| !is_space(c) && c != b'/' && c != b'>')
    {
        j += 1;
    }
    loop {
        j = skip_space(j);
        match b.get(j) {
            None => return RootAttribute::Incomplete,
            Some(b'>' | b'/') => return RootAttribute::Absent,
            Some(_) => {}
        }
        let start = j;
        while b
            .get(j)
            .is_some_and(|&c| !is_space(c) && !matches!(c, b'=' | b'/' | b'>'))
        {
            j += 1;
        }
        let attribute = b.get(start..j).unwrap_or_default();
        j = skip_space(j);
        match b.get(j) {
            None => return RootAttribute::Incomplete,
            Some(b'=') => j = skip_space(j + 1),
            Some(_) => return RootAttribute::Absent,
        }
        let quote = match b.get(j) {
            None => return RootAttribute::Incomplete,
            Some(&q @ (b'"' | b'\'')) => q,
            Some(_) => return RootAttribute::Absent,
        };
        let Some(end) = find(b, j + 1, &[quote]) else {
            return RootAttribute::Incomplete;
        };
        if attribute == name.as_bytes() {
            return match text.get(j + 1..end) {
                Some(v) if !v.contains(['&', '<']) => RootAttribute::Found(v),
                _ => RootAttribute::Absent,
            };
        }
        j = end + 1;
    }
}

/// The message for a processing instruction named `xml` (refused in `check_tree`).
pub(crate) const RESERVED_PI: &str = "processing instruction target xml is reserved";

/// The message for [`check_line_ends`]'s refusal.
pub(crate) const CR_AFTER_REFERENCE: &str =
    "carriage return next to a character reference is not supported";

/// Refuses character data where a literal carriage return (not part of CRLF) comes right
/// before a character or entity reference, or right after one at the end of the text.
///
/// XML normalizes every literal CR (alone or in CRLF) to LF before parsing; roxmltree 0.21
/// keeps those CRs, so the text it reports (and the canonical form signed over it) would
/// differ from what libxml2, xmlsec1 and every other signer see. Lone CRs are unheard of
/// in SAML traffic; refusing the pattern removes the parser differential.
fn check_line_ends(text: &[u8]) -> Result<(), XmlError> {
    let refused = || Err(XmlError::Malformed(CR_AFTER_REFERENCE.into()));
    let mut from = 0;
    while let Some(cr) = find(text, from, b"\r") {
        from = cr + 1;
        match text.get(cr + 1) {
            Some(b'&') => return refused(),
            None => {}
            Some(_) => continue, // CRLF, or a byte the parser normalizes the CR before
        }
        // The CR ends the text: wrong only right after a reference.
        let before = text.get(..cr).unwrap_or_default();
        let Some(amp) = before.iter().rposition(|&c| c == b'&') else {
            continue;
        };
        let is_reference = match before.get(amp..).unwrap_or_default() {
            b"&amp;" | b"&lt;" | b"&gt;" | b"&quot;" | b"&apos;" => true,
            [b'&', b'#', b'x', hex @ .., b';'] => {
                !hex.is_empty() && hex.iter().all(u8::is_ascii_hexdigit)
            }
            [b'&', b'#', dec @ .., b';'] => !dec.is_empty() && dec.iter().all(u8::is_ascii_digit),
            _ => false,
        };
        if is_reference {
            return refused();
        }
    }
    Ok(())
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

/// The position of `needle` in `haystack` at or after `from`.
fn find(haystack: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    let hay = haystack.get(from..)?;
    match needle {
        [one] => memchr::memchr(*one, hay),
        _ => memchr::memmem::find(hay, needle),
    }
    .map(|p| p + from)
}

/// One pass over the tree: depth, attributes per element, comments and PIs.
fn check_tree(doc: &Document<'_>, limits: &Limits) -> Result<(), XmlError> {
    let mut depth = 0usize;
    let mut node = doc.root();
    loop {
        match node.node_type() {
            NodeType::Element if node.attributes().len() > limits.max_attributes => {
                return Err(XmlError::TooManyAttributes {
                    limit: limits.max_attributes,
                });
            }
            NodeType::Comment | NodeType::PI if limits.forbid_comments => {
                return Err(XmlError::CommentOrPi);
            }
            // `xml` (any case) is reserved: roxmltree takes a malformed declaration such as
            // `<?xml"1.0"?>` for a processing instruction that canonicalization would then
            // write out as a declaration nobody can parse.
            NodeType::PI
                if node
                    .pi()
                    .is_some_and(|pi| pi.target.eq_ignore_ascii_case("xml")) =>
            {
                return Err(XmlError::Malformed(RESERVED_PI.into()));
            }
            _ => {}
        }
        if let Some(child) = node.first_child() {
            depth += 1;
            if depth > limits.max_depth {
                return Err(XmlError::TooDeep {
                    limit: limits.max_depth,
                });
            }
            node = child;
            continue;
        }
        loop {
            if let Some(next) = node.next_sibling() {
                node = next;
                break;
            }
            match node.parent() {
                Some(parent) => {
                    node = parent;
                    depth = depth.saturating_sub(1);
                }
                None => return Ok(()),
            }
        }
    }
}

/// The text content of a leaf element: all its text nodes concatenated.
///
/// Returns `None` if the element has element children. Comments and processing
/// instructions never split the value: their surrounding text is joined, so the value read
/// is exactly what a signature over the canonical form covered. This is the only way the
/// SDK reads element text.
pub fn text<'a>(node: Node<'a, '_>) -> Option<Cow<'a, str>> {
    let mut out: Option<Cow<'a, str>> = None;
    for child in node.children() {
        match child.node_type() {
            NodeType::Element => return None,
            NodeType::Text => {
                let t = child.text().unwrap_or("");
                out = Some(match out {
                    None => Cow::Borrowed(t),
                    Some(prev) => Cow::Owned(prev.into_owned() + t),
                });
            }
            _ => {}
        }
    }
    Some(out.unwrap_or(Cow::Borrowed("")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_attribute_agrees_with_the_parser() {
        use RootAttribute::*;
        let cases = [
            ("<r InResponseTo='a'/>", Found("a")),
            ("\u{feff}<?xml version=\"1.0\"?>\n<p:R xmlns:p='u' ID=\"x\" InResponseTo = \" b \">", Found(" b ")),
            ("<r x:InResponseTo='a' xmlns:x='u'/>", Absent),
            ("<r InResponseToo='a'/>", Absent),
            ("<r/><x InResponseTo='a'/>", Absent),
            ("<r InResponseTo='&amp;'/>", Absent),
            ("<!DOCTYPE r><r InResponseTo='a'/>", Absent),
            ("<!-- c --><r InResponseTo='a'/>", Absent),
            ("x<r InResponseTo='a'/>", Absent),
            ("<r a=b InResponseTo='a'/>", Absent),
            ("", Incomplete),
            ("<?xml ", Incomplete),
            ("<r ID='1' InResponseTo='a", Incomplete),
            ("<r ID='1' InResponseTo", Incomplete),
        ];
        for (text, want) in cases {
            assert_eq!(root_attribute(text, "InResponseTo"), want, "{text:?}");
        }
        // Every response vector: the parser's answer, and a cut text never gives another.
        let mut seen = 0;
        for entry in std::fs::read_dir("tests/data/responses").unwrap() {
            let path = entry.unwrap().path();
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            let Ok(doc) = roxmltree::Document::parse(&text) else {
                continue;
            };
            let want = match doc.root_element().attribute("InResponseTo") {
                Some(v) => Found(v),
                None => Absent,
            };
            if !text.contains("<!") {
                assert_eq!(root_attribute(&text, "InResponseTo"), want, "{path:?}");
            }
            let full = root_attribute(&text, "InResponseTo");
            // Cuts up to the end of the root's start tag (the first `>` not closing a PI).
            let tag_end = text
                .match_indices('>')
                .map(|(i, _)| i)
                .find(|&i| !text[..i].ends_with('?'))
                .unwrap_or(0);
            for cut in 0..=tag_end + 1 {
                if let Some(part) = text.get(..cut) {
                    let got = root_attribute(part, "InResponseTo");
                    assert!(
                        got == full || got == Incomplete,
                        "{path:?} at {cut}: {got:?}"
                    );
                }
            }
            seen += 1;
        }
        assert!(seen > 100, "{seen} vectors");
    }

    #[test]
    fn refuses_dtd_and_entities() {
        let xxe = r#"<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>"#;
        assert_eq!(parse(xxe, &Limits::MESSAGE).unwrap_err(), XmlError::Dtd);
        let laughs = r#"<!DOCTYPE r [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><r>&b;</r>"#;
        assert_eq!(parse(laughs, &Limits::MESSAGE).unwrap_err(), XmlError::Dtd);
        assert!(matches!(
            parse("<r>&unknown;</r>", &Limits::MESSAGE),
            Err(XmlError::Malformed(_))
        ));
    }

    #[test]
    fn limits() {
        let deep = "<a>".repeat(40) + &"</a>".repeat(40);
        assert!(matches!(
            parse(&deep, &Limits::MESSAGE),
            Err(XmlError::TooDeep { .. })
        ));
        let big = format!("<a>{}</a>", "x".repeat(300_000));
        assert!(matches!(
            parse(&big, &Limits::MESSAGE),
            Err(XmlError::TooLarge { .. })
        ));
        let many = format!("<a>{}</a>", "<b/>".repeat(20_000));
        assert!(matches!(
            parse(&many, &Limits::MESSAGE),
            Err(XmlError::TooManyNodes { .. })
        ));
        let attrs: String = (0..40).map(|i| format!(" a{i}='1'")).collect();
        assert!(matches!(
            parse(&format!("<a{attrs}/>"), &Limits::MESSAGE),
            Err(XmlError::TooManyAttributes { .. })
        ));
        assert_eq!(
            parse("<a><!--x--></a>", &Limits::MESSAGE).unwrap_err(),
            XmlError::CommentOrPi
        );
        assert!(parse("<a><!--x--></a>", &Limits::METADATA).is_ok());
        assert_eq!(
            parse(
                "<?xml version='1.0' encoding='ISO-8859-1'?><a/>",
                &Limits::MESSAGE
            )
            .unwrap_err(),
            XmlError::Encoding
        );
        assert!(matches!(
            parse("<a/><b/>", &Limits::MESSAGE),
            Err(XmlError::Malformed(_))
        ));
        assert!(matches!(
            parse("<a/>junk", &Limits::MESSAGE),
            Err(XmlError::Malformed(_))
        ));
    }

    #[test]
    fn prescan_follows_well_formed_markup() {
        let tricky = "\u{feff}<?xml version='1.0' encoding=\"UTF-8\"?><?pi <a><b>?>\
            <!-- <a><a><a> --><r a = '>' b=\"<!--\" xmlns:p\t=\r\n'urn:p'>\
            <![CDATA[<a><a><a>]]><p:e/><e\n/><e></e ><!----></r><!-- tail -->";
        let one = Limits {
            max_depth: 2,
            max_attributes: 3,
            max_namespace_declarations: 1,
            max_namespaces_in_scope: 1,
            ..Limits::METADATA
        };
        assert!(parse(tricky, &one).is_err()); // attribute value with '<' is malformed
        let tricky = tricky.replace("b=\"<!--\"", "b='--'");
        assert!(parse(&tricky, &one).is_ok());
        for path in [
            "metadata/spid-entities-idps.xml",
            "metadata/cie-idp-production.xml",
            "metadata/eidas-ficep-idp-production.xml",
        ] {
            let text = std::fs::read_to_string(path).unwrap();
            prescan(&text, &Limits::METADATA).unwrap();
        }
    }

    #[test]
    fn prescan_bounds_what_the_tree_builder_does_in_quadratic_time() {
        let decls: String = (0..600).map(|i| format!(" xmlns:p{i}='u'")).collect();
        let wide = format!("<r{decls}/>");
        assert!(matches!(
            parse(&wide, &Limits::MESSAGE),
            Err(XmlError::TooManyAttributes { .. })
        ));
        let nested: String = (0..600).map(|i| format!("<a xmlns:p{i}='u'>")).collect();
        let nested = nested + &"</a>".repeat(600);
        let flat = Limits {
            max_depth: 1000,
            ..Limits::MESSAGE
        };
        assert_eq!(
            parse(&nested, &flat).unwrap_err(),
            XmlError::TooManyNamespaces { limit: 64 }
        );
        let siblings: String = (0..600).map(|i| format!("<a xmlns:p{i}='u'/>")).collect();
        assert_eq!(
            parse(&format!("<r>{siblings}</r>"), &flat).unwrap_err(),
            XmlError::TooManyNamespaces { limit: 512 }
        );
        // In scope: 3 levels of 30 declarations each exceed 64; siblings do not add up.
        let level: String = (0..30).map(|i| format!(" xmlns:q{i}='u'")).collect();
        let chain = format!("<a{level}><b{level}><c{level}/></b></a>");
        assert_eq!(
            parse(&chain, &Limits::MESSAGE).unwrap_err(),
            XmlError::TooManyNamespaces { limit: 64 }
        );
        let siblings = format!("<a{level}><b{level}/><b{level}></b><b{level}/></a>");
        assert!(parse(&siblings, &Limits::MESSAGE).is_ok());
        let deep = "<a>".repeat(100_000) + &"</a>".repeat(100_000);
        assert_eq!(
            parse(&deep, &Limits::METADATA).unwrap_err(),
            XmlError::TooDeep { limit: 32 }
        );
        assert_eq!(
            parse("<!DOCTYPE r><r/>", &Limits::MESSAGE).unwrap_err(),
            XmlError::Dtd
        );
        for bad in [
            "<r", "<r a", "<r a=", "<r a='", "<!--", "<?x", "<r></r", "<r a=b/>",
        ] {
            assert!(
                matches!(parse(bad, &Limits::MESSAGE), Err(XmlError::Malformed(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn carriage_return_after_a_reference_is_refused() {
        // What roxmltree 0.21 would keep as CR where XML (and libxml2) has LF.
        for bad in [
            "<r>&amp;\r</r>",
            "<r>&#13;\r<a/></r>",
            "<r>&#xE8;\r&lt;</r>",
            "<r>&quot;\r<![CDATA[x]]></r>",
            "<r> \r&amp;</r>",
            "<r>\r&#10;</r>",
        ] {
            assert_eq!(
                parse(bad, &Limits::MESSAGE).unwrap_err(),
                XmlError::Malformed(CR_AFTER_REFERENCE.into()),
                "{bad:?}"
            );
        }
        // Correctly normalized by the parser: accepted, with LF.
        for (good, value) in [
            ("<r>&amp;\r\n</r>", "&\n"),
            ("<r>&amp;\rx</r>", "&\nx"),
            ("<r>a;\r</r>", "a;\n"),
            ("<r>&#13;</r>", "\r"),
            ("<r>x\r</r>", "x\n"),
            ("<r>x\r\n&amp;</r>", "x\n&"),
        ] {
            let doc = parse(good, &Limits::MESSAGE).unwrap();
            assert_eq!(text(doc.root_element()).unwrap(), value, "{good:?}");
        }
    }

    #[test]
    fn reserved_pi_target_is_refused() {
        // Found by the c14n fuzz target (fuzz/artifacts/c14n/crash-f52cfe09...).
        for bad in [
            "<?xml\"1.0\" encoding=\"UTF-8\"?><r/>",
            "<r><?xml version='1.0'?></r>",
            "<!----><?XmL x?><r/>",
        ] {
            assert!(
                matches!(parse(bad, &Limits::METADATA), Err(XmlError::Malformed(_))),
                "{bad}"
            );
        }
        assert!(parse(
            "<?xml version='1.0'?><?xml-stylesheet x?><r/>",
            &Limits::METADATA
        )
        .is_ok());
    }

    #[test]
    fn text_joins_around_comments() {
        let doc = parse("<a>victim<!---->.evil</a>", &Limits::METADATA).unwrap();
        assert_eq!(text(doc.root_element()).unwrap(), "victim.evil");
        let doc = parse("<a><b/>x</a>", &Limits::METADATA).unwrap();
        assert!(text(doc.root_element()).is_none());
        let doc = parse("<a/>", &Limits::METADATA).unwrap();
        assert_eq!(text(doc.root_element()).unwrap(), "");
    }
}
