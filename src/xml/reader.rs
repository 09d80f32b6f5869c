//! The one entry point for untrusted XML: size, encoding, DTD, depth, node and attribute
//! limits, the well-formedness rules the parser is more lenient about than libxml2, and
//! (for protocol messages) no processing instructions and no comment inside a text value.

use std::borrow::Cow;

use super::dom::{Document, Node, NodeType};
#[cfg(test)]
use super::lexical::*;
use super::lexical::{find, is_space};
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) use super::wellformed::{prescan, stricter_than_parser};

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
    /// Refuse processing instructions anywhere in the document.
    ///
    /// On for protocol messages: no IdP emits them, and canonicalization keeps them (unlike
    /// comments), so they have no business in a signed message.
    pub forbid_processing_instructions: bool,
    /// Refuse a comment inside a text value: an element with both a comment child and a
    /// text child that is not only whitespace (`<NameID>victim<!---->.evil</NameID>`).
    ///
    /// On for protocol messages: that is the shape of comment injection (the signature,
    /// over a canonical form without comments, still verifies while a naive reader
    /// truncates the value). Comments between elements, before or after the root element
    /// are legal XML, dropped by canonicalization, and accepted.
    pub forbid_comments_in_text: bool,
}

impl Limits {
    /// Limits for SAML protocol messages (Responses, Logout messages): 256 KiB, depth 32,
    /// 10,000 nodes, 32 attributes per element, 512 namespace declarations (64 in scope),
    /// no processing instructions, no comment inside a text value (comments between
    /// elements are allowed).
    pub const MESSAGE: Limits = Limits {
        max_bytes: 256 * 1024,
        max_depth: 32,
        max_nodes: 10_000,
        max_attributes: 32,
        max_namespace_declarations: 512,
        max_namespaces_in_scope: 64,
        forbid_processing_instructions: true,
        forbid_comments_in_text: true,
    };

    /// Limits for metadata documents (an IdP registry aggregate is ~120 KB today, with 236
    /// namespace declarations, at most 10 in scope): 8 MiB, depth 32, 500,000 nodes, 64
    /// attributes per element, 2,048 namespace declarations (64 in scope); comments and
    /// processing instructions allowed.
    pub const METADATA: Limits = Limits {
        max_bytes: 8 * 1024 * 1024,
        max_depth: 32,
        max_nodes: 500_000,
        max_attributes: 64,
        max_namespace_declarations: 2048,
        max_namespaces_in_scope: 64,
        forbid_processing_instructions: false,
        forbid_comments_in_text: false,
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
    /// A processing instruction where [`Limits::forbid_processing_instructions`] is set.
    #[error("processing instructions are refused")]
    ProcessingInstruction,
    /// A comment inside a text value (an element with a comment and non-whitespace text)
    /// where [`Limits::forbid_comments_in_text`] is set.
    #[error("a comment inside a text value is refused")]
    CommentInText,
}

/// Checks that `bytes` are UTF-8 text whose XML declaration (if any) names UTF-8.
pub fn decode_utf8(bytes: &[u8]) -> Result<&str, XmlError> {
    let text = std::str::from_utf8(bytes).map_err(|_| XmlError::Encoding)?;
    check_declared_encoding(text)?;
    Ok(text)
}

pub(super) fn check_declared_encoding(text: &str) -> Result<(), XmlError> {
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

/// Parses `text` under `limits` in one pass (`src/xml/parser.rs`): no DTD, well-formed
/// (XML 1.0 and Namespaces in XML 1.0, at least as strictly as libxml2), bounded size,
/// depth, nodes, attributes and namespace declarations, and (if asked) no processing
/// instructions and no comment inside a text value.
pub fn parse<'i>(text: &'i str, limits: &Limits) -> Result<Document<'i>, XmlError> {
    super::parser::parse(text, limits)
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
            parse("<a>x<!--x--></a>", &Limits::MESSAGE).unwrap_err(),
            XmlError::CommentInText
        );
        assert!(parse("<a>x<!--x--></a>", &Limits::METADATA).is_ok());
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
    fn carriage_return_next_to_a_reference_is_normalized() {
        // What roxmltree 0.21 kept as CR (so the reader it replaced refused these): XML
        // and libxml2 have LF, and so does the one-pass reader.
        for (doc, value) in [
            ("<r>&amp;\r</r>", "&\n"),
            ("<r>&#13;\r<a/></r>", ""),
            ("<r>&#xE8;\r&lt;</r>", "\u{e8}\n<"),
            ("<r>&quot;\r<![CDATA[x]]></r>", "\"\nx"),
            ("<r> \r&amp;</r>", " \n&"),
            ("<r>\r&#10;</r>", "\n\n"),
            ("<r>&amp;\r\n</r>", "&\n"),
            ("<r>&amp;\rx</r>", "&\nx"),
            ("<r>a;\r</r>", "a;\n"),
            ("<r>&#13;</r>", "\r"),
            ("<r>x\r</r>", "x\n"),
            ("<r>x\r\n&amp;</r>", "x\n&"),
        ] {
            let doc_ = parse(doc, &Limits::MESSAGE).unwrap();
            let root = doc_.root_element();
            match text(root) {
                Some(t) => assert_eq!(t, value, "{doc:?}"),
                None => assert_eq!(root.first_child().unwrap().text(), Some("\r\n"), "{doc:?}"),
            }
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
    fn comments_are_refused_only_inside_text_values_of_messages() {
        // Between elements, before and after the root, next to whitespace: accepted.
        for good in [
            "<!-- before --><r><!-- a --><e>v</e>\n  <!-- b -->\n  <e/><!----></r><!-- after -->",
            "<r><e> <!-- only whitespace around -->\r\n\t</e><e><!----></e></r>",
            "<r><e><![CDATA[ ]]><!---->&#32;</e></r>",
        ] {
            parse(good, &Limits::MESSAGE).unwrap();
        }
        // A comment and a text value in the same element: refused, wherever they are.
        for bad in [
            "<r><NameID>victim<!---->.evil</NameID></r>",
            "<r><e><!-- c -->value</e></r>",
            "<r><e>value<!-- c --></e></r>",
            "<r><e>x<f/><!-- c --></e></r>",
            "<r><e><![CDATA[x]]><!----></e></r>",
            "<r><e>&#65;<!----></e></r>",
            "<r><e>\u{a0}<!----></e></r>",
        ] {
            assert_eq!(
                parse(bad, &Limits::MESSAGE).unwrap_err(),
                XmlError::CommentInText,
                "{bad:?}"
            );
            parse(bad, &Limits::METADATA).unwrap();
        }
        // Processing instructions: refused in messages wherever they are.
        for bad in [
            "<?pi?><r/>",
            "<r><?pi x?></r>",
            "<r>a<?pi?>b</r>",
            "<r/><?pi?>",
        ] {
            assert_eq!(
                parse(bad, &Limits::MESSAGE).unwrap_err(),
                XmlError::ProcessingInstruction,
                "{bad:?}"
            );
            parse(bad, &Limits::METADATA).unwrap();
        }
        // Linear: one element with thousands of comments and text nodes.
        let many = format!("<r>{}</r>", " <!---->".repeat(4_000));
        parse(&many, &Limits::MESSAGE).unwrap();
        let many = format!("<r>{}x</r>", " <!---->".repeat(4_000));
        assert_eq!(
            parse(&many, &Limits::MESSAGE).unwrap_err(),
            XmlError::CommentInText
        );
    }

    #[test]
    fn xml_declaration_is_checked() {
        for good in [
            "<?xml version=\"1.0\"?><r/>",
            "\u{feff}<?xml version='1.0' encoding='UTF-8'?><r/>",
            "<?xml version=\"1.0\" standalone=\"no\" ?>\n<r/>",
            "<?xml  version = \"1.0\"\tencoding = 'utf-8'\r\nstandalone='yes'?><r/>",
            "<?xml-stylesheet href='a'?><r/>",
            "<r/>",
        ] {
            parse(good, &Limits::METADATA).unwrap();
        }
        for bad in [
            "<?xml version=\"1.1\"?><r/>",
            "<?xml version=\"1.00\"?><r/>",
            "<?xml version=\"2.0\"?><r/>",
            "<?xml version=\"1.0 \"?><r/>",
            "<?xml version=\"1.0'?><r/>",
            "<?xml encoding=\"UTF-8\"?><r/>",
            "<?xml ?><r/>",
            "<?xml version=\"1.0\" standalone=\"maybe\"?><r/>",
            "<?xml version=\"1.0\" standalone=\"\"?><r/>",
            "<?xml version=\"1.0\" standalone=\"yes\" encoding=\"UTF-8\"?><r/>",
            "<?xml version=\"1.0\" version=\"1.0\"?><r/>",
            "<?xml version=\"1.0\" encoding=\"UTF-8\" encoding=\"UTF-8\"?><r/>",
            "<?xml version=\"1.0\"encoding=\"UTF-8\"?><r/>",
            "<?xml version=\"1.0\" foo=\"bar\"?><r/>",
            "<?xml version=\"1.0\"? ><r/>",
            "<?xml version=\"&#49;.0\"?><r/>",
            "<?xml version=\"1.0\"",
        ] {
            assert_eq!(
                parse(bad, &Limits::METADATA).unwrap_err(),
                XmlError::Malformed(BAD_DECLARATION.into()),
                "{bad:?}"
            );
        }
        assert_eq!(
            parse(
                "<?xml version='1.0' encoding='utf-8 '?><r/>",
                &Limits::METADATA
            )
            .unwrap_err(),
            XmlError::Encoding
        );
        // Not at the start: the parser refuses it, or it is a reserved PI target.
        for bad in [
            " <?xml version=\"1.0\"?><r/>",
            "<!----><?xml version=\"1.0\"?><r/>",
            "<?xml\tversion=\"1.0\"?><r/>",
        ] {
            assert!(
                matches!(parse(bad, &Limits::METADATA), Err(XmlError::Malformed(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn character_references_to_non_characters_are_refused() {
        for reference in [
            "&#0;",
            "&#x0;",
            "&#1;",
            "&#x1F;",
            "&#xB;",
            "&#xD800;",
            "&#55296;",
            "&#xDFFF;",
            "&#xDBFF;&#xDC00;",
            "&#xFFFE;",
            "&#xFFFF;",
            "&#x110000;",
            "&#1114112;",
            "&#x7FFFFFFF;",
            "&#x100000041;",
            "&#99999999999999999999999;",
        ] {
            for doc in [
                format!("<r>{reference}</r>"),
                format!("<r a='{reference}'/>"),
                format!("<r xmlns:p=\"urn:{reference}\"/>"),
            ] {
                assert_eq!(
                    parse(&doc, &Limits::METADATA).unwrap_err(),
                    XmlError::Malformed(BAD_CHAR_REFERENCE.into()),
                    "{doc:?}"
                );
            }
        }
        let doc = parse(
            "<r a='&#x9;&#xD7FF;'>&#xA;&#xD;&#x20;&#xE000;&#xFFFD;&#x10000;&#x10FFFF;&#x0000041;&#x85;</r>",
            &Limits::METADATA,
        )
        .unwrap();
        assert_eq!(
            text(doc.root_element()).unwrap(),
            "\n\r \u{e000}\u{fffd}\u{10000}\u{10ffff}A\u{85}"
        );
        // Literal, in a comment, a PI or CDATA: not a reference.
        parse(
            "<r><!--&#0;--><?pi &#xD800;?><![CDATA[&#xFFFF;]]></r>",
            &Limits::METADATA,
        )
        .unwrap();
    }

    #[test]
    fn namespace_rules_the_parser_misses_are_enforced() {
        for (bad, message) in [
            ("<r xmlns:p=\"\"/>", BAD_NAMESPACE),
            ("<r xmlns:p=''><p:e/></r>", BAD_NAMESPACE),
            ("<r xmlns:p='u'><e xmlns:p=''/></r>", BAD_NAMESPACE),
            ("<r xmlns:xmlns=\"urn:x\"/>", BAD_NAMESPACE),
            (
                "<r xmlns:xmlns=\"http://www.w3.org/2000/xmlns/\"/>",
                BAD_NAMESPACE,
            ),
            ("<r xmlns=\"u\" xmlns=\"u\"/>", BAD_NAMESPACE),
            ("<r xmlns='' xmlns=\"\"/>", BAD_NAMESPACE),
            ("<:r/>", BAD_QNAME),
            ("<r :a=\"1\"/>", BAD_QNAME),
            ("<r><?p:i x?></r>", PI_COLON),
            ("<?p:?><r/>", PI_COLON),
        ] {
            assert_eq!(
                parse(bad, &Limits::METADATA).unwrap_err(),
                XmlError::Malformed(message.into()),
                "{bad:?}"
            );
            assert!(stricter_than_parser(
                &parse(bad, &Limits::METADATA).unwrap_err()
            ));
        }
        // Already refused by the parser.
        for bad in [
            "<r xmlns:xml=\"urn:x\"/>",
            "<r xmlns:x=\"http://www.w3.org/XML/1998/namespace\"/>",
            "<r xmlns=\"http://www.w3.org/XML/1998/namespace\"/>",
            "<r xmlns:x=\"http://www.w3.org/2000/xmlns/\"/>",
            "<r xmlns:a=\"u\" xmlns:b=\"u\" a:x=\"1\" b:x=\"2\"/>",
            "<r xmlns:a=\"u\" xmlns:b=\"u\"><e a:x=\"1\" b:x=\"2\"/></r>",
            "<r xmlns:a=\"u\"><e xmlns:b=\"u\" b:x=\"1\" a:x=\"2\"/></r>",
            "<a:b:c xmlns:a=\"u\"/>",
            "<r:/>",
            "<r xmlns:=\"u\"/>",
        ] {
            assert!(
                matches!(parse(bad, &Limits::METADATA), Err(XmlError::Malformed(_))),
                "{bad:?}"
            );
        }
        for good in [
            "<r xmlns=\"\"/>",
            "<r xmlns=\"u\"><e xmlns=\"\"/></r>",
            "<r xmlns:xml=\"http://www.w3.org/XML/1998/namespace\" xml:lang=\"it\"/>",
            "<r xmlns:a=\"u\" a:xmlns=\"v\" xmlns=\"w\"/>",
            "<r xmlns=\"u\" xmlns:a=\"u\" x=\"1\" a:x=\"1\"/>",
            "<r xmlns:a=\"u\" xmlns:b=\"v\" a:x=\"1\" b:x=\"2\"/>",
        ] {
            parse(good, &Limits::METADATA).unwrap();
        }
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
