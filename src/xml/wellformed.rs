//! The reader the one-pass parser ([`super::parser`]) replaced, kept as its test and
//! fuzzing oracle (roxmltree behind a pre-scan): well-formedness the tree builder does not check, in one linear pass over the raw text
//! before any tree is built ([`prescan`]): the limits it would blow up on, character
//! references, XML declarations and namespace declarations as libxml2 checks them.

use roxmltree::{Document, Node, NodeType, ParsingOptions};

use super::lexical::{
    find, is_space, BAD_CHAR_REFERENCE, BAD_DECLARATION, BAD_NAMESPACE, BAD_QNAME,
    CR_AFTER_REFERENCE, PI_COLON, RESERVED_PI,
};
use super::reader::{check_declared_encoding, Limits, XmlError};

/// One pass over the raw text before any tree is built: element depth, attributes per
/// element (namespace declarations included), namespace declarations in the document and
/// in scope.
///
/// The tree builder checks duplicate attributes and resolves inherited namespaces with
/// loops that are quadratic in these counts (26,000 attributes on one element took 1.8 s
/// and 13,000 nested declarations did not finish in a minute, both within 256 KiB), so the
/// bounds must hold before it runs. This scan only counts, in linear time, allocating at
/// most one entry per namespace declaration in scope; it refuses early what the parser
/// would refuse anyway (a DOCTYPE, a tag it cannot follow), and what the parser lets
/// through but XML forbids in the raw text (character references to non-characters,
/// names starting with a colon, `xmlns:p=""`, binding `xmlns`, two default namespace
/// declarations on one element, see [`check_references`] and [`check_attribute`]). Every
/// other well-formedness rule is left to the parser and [`check_tree`].
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
        let text = b.get(i..lt).unwrap_or_default();
        check_line_ends(text)?;
        check_references(text)?;
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
            if b.get(j) == Some(&b':') {
                return Err(XmlError::Malformed(BAD_QNAME.into()));
            }
            while b
                .get(j)
                .is_some_and(|&c| !is_space(c) && c != b'/' && c != b'>')
            {
                j += 1;
            }
            let mut attributes = 0usize;
            let mut own = 0usize;
            let mut default_namespace = false;
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
                        let end = find(b, j + 1, &[quote]).ok_or_else(unterminated)?;
                        let value = b.get(j + 1..end).unwrap_or_default();
                        check_attribute(name, value, &mut default_namespace)?;
                        j = end + 1;
                    }
                }
            }
            i = j;
        }
    }
    Ok(())
}

/// Whether `error` is one of the refusals of documents the parser alone accepts: the
/// well-formedness rules it is more lenient about than XML (and libxml2), and the CR it
/// does not normalize.
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) fn stricter_than_parser(error: &XmlError) -> bool {
    let XmlError::Malformed(message) = error else {
        return false;
    };
    [
        CR_AFTER_REFERENCE,
        RESERVED_PI,
        BAD_DECLARATION,
        BAD_CHAR_REFERENCE,
        BAD_QNAME,
        BAD_NAMESPACE,
        PI_COLON,
        super::parser::PI_TARGET,
    ]
    .contains(&message.as_str())
}

/// Refuses an XML declaration that XML 1.0 forbids and the parser lets through: the
/// declaration, if the document starts with one (after an optional BOM), must be
/// `<?xml` S `version` Eq `'1.0'`, then optionally S `encoding` Eq EncName, then
/// optionally S `standalone` Eq (`yes` | `no`), S? `?>`, in that order, each once.
///
/// Only version 1.0 is accepted: XML 1.1 (which libxml2 parses with a warning) has other
/// rules (un-declaring prefixes, other line ends and characters) that nothing else in the
/// SDK follows. A declaration anywhere else is refused by the parser (`<?xml `) or as a
/// reserved processing instruction target (`check_tree`).
pub(super) fn check_declaration(text: &str) -> Result<(), XmlError> {
    let b = text.as_bytes();
    let b = b.strip_prefix("\u{feff}".as_bytes()).unwrap_or(b);
    let Some(rest) = b.strip_prefix(b"<?xml") else {
        return Ok(());
    };
    if !rest.first().copied().is_some_and(is_space) {
        return Ok(()); // `<?xml-stylesheet`, or `<?xml?>`: refused in check_tree
    }
    let bad = || XmlError::Malformed(BAD_DECLARATION.into());
    let mut i = 0;
    let spaces = |i: &mut usize| {
        let start = *i;
        while rest.get(*i).copied().is_some_and(is_space) {
            *i += 1;
        }
        *i > start
    };
    // `name` Eq quoted value; returns the value.
    let pseudo = |i: &mut usize, name: &[u8]| -> Option<&[u8]> {
        if !rest.get(*i..)?.starts_with(name) {
            return None;
        }
        *i += name.len();
        spaces(i);
        if rest.get(*i) != Some(&b'=') {
            return None;
        }
        *i += 1;
        spaces(i);
        let quote = *rest.get(*i).filter(|q| matches!(q, b'"' | b'\''))?;
        let end = find(rest, *i + 1, &[quote])?;
        let value = rest.get(*i + 1..end)?;
        *i = end + 1;
        Some(value)
    };
    spaces(&mut i);
    if pseudo(&mut i, b"version").ok_or_else(bad)? != b"1.0" {
        return Err(bad());
    }
    let mut space = spaces(&mut i);
    if space && rest.get(i..).is_some_and(|r| r.starts_with(b"encoding")) {
        let name = pseudo(&mut i, b"encoding").ok_or_else(bad)?;
        let enc_name = name.first().is_some_and(u8::is_ascii_alphabetic)
            && name
                .iter()
                .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'));
        if !enc_name {
            return Err(bad());
        }
        space = spaces(&mut i);
    }
    if space && rest.get(i..).is_some_and(|r| r.starts_with(b"standalone")) {
        let value = pseudo(&mut i, b"standalone").ok_or_else(bad)?;
        if value != b"yes" && value != b"no" {
            return Err(bad());
        }
        spaces(&mut i);
    }
    if rest.get(i..).is_some_and(|r| r.starts_with(b"?>")) {
        Ok(())
    } else {
        Err(bad())
    }
}

/// Refuses character references (in text or an attribute value) to code points outside
/// XML's `Char` production: U+0000 and the other C0 controls but tab, LF and CR,
/// surrogates, U+FFFE, U+FFFF, and anything beyond U+10FFFF. The parser turns a surrogate
/// or an out-of-range reference into U+FFFD instead of refusing the document. Malformed
/// references (no digits, no `;`) are left to the parser, which refuses them.
fn check_references(text: &[u8]) -> Result<(), XmlError> {
    let mut from = 0;
    while let Some(amp) = find(text, from, b"&") {
        from = amp + 1;
        if text.get(amp + 1) != Some(&b'#') {
            continue;
        }
        let mut j = amp + 2;
        let hex = text.get(j) == Some(&b'x');
        if hex {
            j += 1;
        }
        let start = j;
        let mut value = 0u32;
        while let Some(digit) = text
            .get(j)
            .and_then(|&c| char::from(c).to_digit(if hex { 16 } else { 10 }))
        {
            value = value
                .saturating_mul(if hex { 16 } else { 10 })
                .saturating_add(digit);
            j += 1;
        }
        if j > start && text.get(j) == Some(&b';') && !is_xml_char(value) {
            return Err(XmlError::Malformed(BAD_CHAR_REFERENCE.into()));
        }
        from = j;
    }
    Ok(())
}

/// XML 1.0's `Char`: tab, LF, CR, U+0020–U+D7FF, U+E000–U+FFFD, U+10000–U+10FFFF.
fn is_xml_char(c: u32) -> bool {
    matches!(c, 0x9 | 0xA | 0xD | 0x20..=0xD7FF | 0xE000..=0xFFFD | 0x10000..=0x10FFFF)
}

/// The raw-text checks of one attribute (`name`, and `value` between its quotes) that the
/// parser does not make: its references ([`check_references`]), a name starting with a
/// colon, and the namespace declarations Namespaces in XML 1.0 forbids: `xmlns:p=""`
/// (un-declaring a prefix is XML 1.1 only), binding the `xmlns` prefix, and two default
/// namespace declarations on one element (`default_namespace` tracks the element's).
fn check_attribute(
    name: &[u8],
    value: &[u8],
    default_namespace: &mut bool,
) -> Result<(), XmlError> {
    check_references(value)?;
    if name.first() == Some(&b':') {
        return Err(XmlError::Malformed(BAD_QNAME.into()));
    }
    let bad = match name.strip_prefix(b"xmlns") {
        Some(b"") => std::mem::replace(default_namespace, true),
        Some(b":xmlns") => true,
        Some(prefix) if prefix.starts_with(b":") => value.is_empty(),
        _ => false,
    };
    if bad {
        return Err(XmlError::Malformed(BAD_NAMESPACE.into()));
    }
    Ok(())
}

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

/// The reader the one-pass parser replaced (kept as its oracle): parses `text` under
/// `limits` with roxmltree behind the pre-scan: no DTD, well-formed (XML 1.0 and Namespaces in XML 1.0,
/// at least as strictly as libxml2), bounded size, depth, nodes and attributes, and (if
/// asked) no processing instructions and no comment inside a text value.
pub(crate) fn parse_with_roxmltree<'i>(
    text: &'i str,
    limits: &Limits,
) -> Result<Document<'i>, XmlError> {
    if text.len() > limits.max_bytes {
        return Err(XmlError::TooLarge {
            limit: limits.max_bytes,
        });
    }
    check_declared_encoding(text)?;
    check_declaration(text)?;
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
        // The parser's message may quote names from the input: escaped (log injection).
        other => XmlError::Malformed(crate::printable::printable(&other.to_string(), 200)),
    })?;
    check_tree(&doc, limits)?;
    Ok(doc)
}

/// One pass over the tree: depth, attributes per element, processing instructions
/// (targets, and whether they are allowed) and comments inside text values.
fn check_tree(doc: &Document<'_>, limits: &Limits) -> Result<(), XmlError> {
    let mut depth = 0usize;
    let mut node = doc.root();
    loop {
        match node.node_type() {
            NodeType::Element => {
                if node.attributes().len() > limits.max_attributes {
                    return Err(XmlError::TooManyAttributes {
                        limit: limits.max_attributes,
                    });
                }
                if limits.forbid_comments_in_text && comment_in_text(node) {
                    return Err(XmlError::CommentInText);
                }
            }
            NodeType::PI => {
                let target = node.pi().map(|pi| pi.target).unwrap_or_default();
                // `xml` (any case) is reserved: roxmltree takes a malformed declaration such
                // as `<?xml"1.0"?>` for a processing instruction that canonicalization would
                // then write out as a declaration nobody can parse.
                if target.eq_ignore_ascii_case("xml") {
                    return Err(XmlError::Malformed(RESERVED_PI.into()));
                }
                // Namespaces in XML 1.0: no colon in a PI target.
                if target.contains(':') {
                    return Err(XmlError::Malformed(PI_COLON.into()));
                }
                if limits.forbid_processing_instructions {
                    return Err(XmlError::ProcessingInstruction);
                }
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

/// Whether `element` has both a comment child and a text child that is not only XML
/// whitespace. Looks at the element's children only, so the whole tree pass stays linear.
fn comment_in_text(element: Node<'_, '_>) -> bool {
    let (mut comment, mut text) = (false, false);
    for child in element.children() {
        match child.node_type() {
            NodeType::Comment => comment = true,
            NodeType::Text if !text => {
                text = child.text().is_some_and(|t| !t.bytes().all(is_space));
            }
            _ => {}
        }
        if comment && text {
            return true;
        }
    }
    false
}
