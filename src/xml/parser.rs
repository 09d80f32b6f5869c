//! The one-pass reader: XML 1.0 (fifth edition) and Namespaces in XML 1.0 well-formedness
//! and every bound of [`Limits`], checked while the [`Document`] is built, in time linear
//! in the input (each byte is looked at a bounded number of times; per-element work is
//! bounded by the attribute and in-scope namespace limits, and duplicate attributes are
//! found by sorting past a handful).
//!
//! Refused: anything not UTF-8 or declared otherwise, XML 1.1, a DOCTYPE (so no entity
//! but the five predefined ones), characters outside `Char` (literal or referenced), `]]>`
//! in text, `--` in comments, names that are not QNames, unbound prefixes, the reserved
//! `xml`/`xmlns` prefixes and URIs misused, `xmlns:p=""`, elements in the `xml`
//! namespace, duplicate attributes (also after namespace expansion), more than one root,
//! anything but comments, PIs and whitespace outside it, PI targets named `xml` or with a
//! colon. Line ends are normalized everywhere (also in comments and PIs, and next to
//! references), attribute values as XML says.

use std::borrow::Cow;
use std::collections::HashMap;

use super::dom::{
    AttrData, Decl, Document, ElementData, NodeData, NodeId, NodeKind, NO_NS, NS_XML,
};
use super::lexical::{
    char_data, check_chars, end_tag_name, has_duplicates, is_name, is_name_char, line_ends, lookup,
    malformed, qname_at, quoted_value, same, to_u32,
};
use super::lexical::{find, is_space, BAD_DECLARATION, BAD_NAMESPACE, PI_COLON, RESERVED_PI};
use super::reader::{Limits, XmlError};

/// The message for a PI target not followed by whitespace or `?>` (roxmltree accepts
/// `<?a#b?>` as target `a`, value `#b`; XML and libxml2 do not).
pub(crate) const PI_TARGET: &str = "processing instruction target not followed by whitespace";

/// The message for an end tag whose name differs from its start tag's.
pub(crate) const END_TAG: &str = "end tag does not match the start tag";

/// The message for a prefix no declaration in scope binds.
pub(crate) const UNBOUND: &str = "unbound namespace prefix";

/// The same attribute name twice in one start tag, before or after namespace expansion.
pub(crate) const DUPLICATE_ATTRIBUTE: &str = "duplicate attribute";

const NS_XMLNS: &str = "http://www.w3.org/2000/xmlns/";

/// Parses `text` under `limits` into a [`Document`].
pub(crate) fn parse<'i>(text: &'i str, limits: &Limits) -> Result<Document<'i>, XmlError> {
    if text.len() > limits.max_bytes {
        return Err(XmlError::TooLarge {
            limit: limits.max_bytes,
        });
    }
    let mut p = Parser {
        text,
        b: text.as_bytes(),
        limits,
        doc: Document {
            text,
            nodes: Vec::with_capacity(text.len() / 48 + 4),
            attrs: Vec::with_capacity(text.len() / 96 + 4),
            // A SAML message declares a handful of namespaces: no growth for those.
            decls: Vec::with_capacity(16),
            uris: Vec::with_capacity(8),
        },
        interned: HashMap::new(),
        open: Vec::with_capacity(16),
        bindings: Vec::with_capacity(16),
        declarations: 0,
        raw: Vec::with_capacity(16),
        keys: Vec::with_capacity(16),
        text_open: false,
    };
    p.doc.nodes.push(NodeData {
        kind: NodeKind::Root,
        parent: None,
        prev_sibling: None,
        next_sibling: None,
        last_child: None,
        subtree_end: 0,
        range: 0..text.len(),
    });
    p.document()?;
    // Characters outside `Char` anywhere (text, values, comments, PIs, markup): one
    // vectorized pass, after the structure so that a limit crossed early stops early; no
    // tree is returned before it.
    check_chars(text.as_bytes())?;
    let end = u32::try_from(p.doc.nodes.len()).unwrap_or(u32::MAX);
    if let Some(root) = p.doc.nodes.first_mut() {
        root.subtree_end = end;
    }
    Ok(p.doc)
}

/// One attribute of the start tag being read.
struct RawAttr<'i> {
    prefix: &'i str,
    local: &'i str,
    value: Cow<'i, str>,
    c14n_plain: bool,
    start: usize,
    qname_end: usize,
    value_range: std::ops::Range<usize>,
}

struct Open<'i> {
    id: NodeId,
    qname: &'i str,
    bindings: usize,
    comment: bool,
    text: bool,
}

struct Parser<'i, 'l> {
    text: &'i str,
    b: &'i [u8],
    limits: &'l Limits,
    doc: Document<'i>,
    interned: HashMap<Cow<'i, str>, u32>,
    open: Vec<Open<'i>>,
    /// Declarations in scope, innermost last: (prefix, URI index). As in roxmltree, an
    /// element under `xmlns=""` has the namespace `Some("")`.
    bindings: Vec<(Option<&'i str>, u32)>,
    declarations: usize,
    raw: Vec<RawAttr<'i>>,
    keys: Vec<(u32, &'i str)>,
    /// Whether the last node appended is a text node that more text may extend.
    text_open: bool,
}

impl<'i> Parser<'i, '_> {
    fn at(&self, i: usize) -> Option<u8> {
        self.b.get(i).copied()
    }
    fn starts(&self, i: usize, s: &[u8]) -> bool {
        self.b.get(i..).is_some_and(|r| r.starts_with(s))
    }
    fn skip_space(&self, mut i: usize) -> usize {
        while self.at(i).is_some_and(is_space) {
            i += 1;
        }
        i
    }
    fn slice(&self, r: std::ops::Range<usize>) -> &'i str {
        self.text.get(r).unwrap_or_default()
    }
    fn document(&mut self) -> Result<(), XmlError> {
        let mut i = if self.starts(0, "\u{feff}".as_bytes()) {
            3
        } else {
            0
        };
        // As roxmltree: `<?xml` and a space (a tab or a line end after `<?xml` makes a PI
        // named xml, refused as reserved).
        if self.starts(i, b"<?xml ") {
            i = self.declaration(i + 5)?;
        }
        let mut root_seen = false;
        loop {
            i = self.skip_space(i);
            if i >= self.b.len() {
                break;
            }
            if self.starts(i, b"<!--") {
                i = self.comment(i)?;
            } else if self.starts(i, b"<?") {
                i = self.pi(i)?;
            } else if self.starts(i, b"<!DOCTYPE") && !root_seen {
                return Err(XmlError::Dtd);
            } else if !root_seen && self.at(i) == Some(b'<') {
                i = self.content(i)?;
                root_seen = true;
            } else {
                return Err(malformed(if root_seen {
                    "content after the root element"
                } else {
                    "content before the root element"
                }));
            }
        }
        if !root_seen {
            return Err(malformed("no root element"));
        }
        Ok(())
    }

    /// The XML declaration after `<?xml` S: version 1.0, then optional encoding (UTF-8)
    /// and standalone (yes|no), in that order. Returns the index after `?>`.
    fn declaration(&mut self, mut i: usize) -> Result<usize, XmlError> {
        let bad = || malformed(BAD_DECLARATION);
        let pseudo = |i: &mut usize, name: &[u8]| -> Option<&'i [u8]> {
            if !self.starts(*i, name) {
                return None;
            }
            *i = self.skip_space(*i + name.len());
            if self.at(*i) != Some(b'=') {
                return None;
            }
            *i = self.skip_space(*i + 1);
            let quote = self.at(*i).filter(|q| matches!(q, b'"' | b'\''))?;
            let end = find(self.b, *i + 1, &[quote])?;
            let value = self.b.get(*i + 1..end)?;
            *i = end + 1;
            Some(value)
        };
        i = self.skip_space(i);
        if pseudo(&mut i, b"version").ok_or_else(bad)? != b"1.0" {
            return Err(bad());
        }
        let mut space = self.at(i).is_some_and(is_space);
        i = self.skip_space(i);
        if space && self.starts(i, b"encoding") {
            let name = pseudo(&mut i, b"encoding").ok_or_else(bad)?;
            let enc_name = name.first().is_some_and(u8::is_ascii_alphabetic)
                && name
                    .iter()
                    .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'));
            if !enc_name {
                // Checked before: an unknown encoding is refused as such.
                if !name.eq_ignore_ascii_case(b"utf-8") && !name.eq_ignore_ascii_case(b"utf8") {
                    return Err(XmlError::Encoding);
                }
                return Err(bad());
            }
            if !name.eq_ignore_ascii_case(b"utf-8") && !name.eq_ignore_ascii_case(b"utf8") {
                return Err(XmlError::Encoding);
            }
            space = self.at(i).is_some_and(is_space);
            i = self.skip_space(i);
        }
        if space && self.starts(i, b"standalone") {
            let value = pseudo(&mut i, b"standalone").ok_or_else(bad)?;
            if value != b"yes" && value != b"no" {
                return Err(bad());
            }
            i = self.skip_space(i);
        }
        if self.starts(i, b"?>") {
            Ok(i + 2)
        } else {
            Err(bad())
        }
    }

    /// Appends a node under the innermost open element (or the document node).
    fn push(
        &mut self,
        kind: NodeKind<'i>,
        range: std::ops::Range<usize>,
    ) -> Result<NodeId, XmlError> {
        let len = self.doc.nodes.len();
        if len >= self.limits.max_nodes as usize {
            return Err(XmlError::TooManyNodes {
                limit: self.limits.max_nodes,
            });
        }
        let id = NodeId::new(u32::try_from(len).unwrap_or(u32::MAX));
        let parent = self.open.last().map_or(NodeId::new(0), |o| o.id);
        let prev = self
            .doc
            .nodes
            .get_mut(parent.get_usize())
            .and_then(|p| p.last_child.replace(id));
        if let Some(prev) = prev.and_then(|p| self.doc.nodes.get_mut(p.get_usize())) {
            prev.next_sibling = Some(id);
        }
        let leaf = !matches!(kind, NodeKind::Element(_));
        self.doc.nodes.push(NodeData {
            kind,
            parent: Some(parent),
            prev_sibling: prev,
            next_sibling: None,
            last_child: None,
            subtree_end: if leaf { id.get() + 1 } else { id.get() },
            range,
        });
        self.text_open = false;
        Ok(id)
    }

    fn comment(&mut self, start: usize) -> Result<usize, XmlError> {
        let dashes =
            find(self.b, start + 4, b"--").ok_or_else(|| malformed("unterminated comment"))?;
        if self.at(dashes + 2) != Some(b'>') {
            return Err(malformed("-- inside a comment"));
        }
        let value = line_ends(self.slice(start + 4..dashes));
        if let Some(open) = self.open.last_mut() {
            open.comment = true;
            if open.text && self.limits.forbid_comments_in_text {
                return Err(XmlError::CommentInText);
            }
        }
        self.push(NodeKind::Comment(value), start..dashes + 3)?;
        Ok(dashes + 3)
    }

    fn pi(&mut self, start: usize) -> Result<usize, XmlError> {
        let rest = self.text.get(start + 2..).unwrap_or_default();
        let len = rest
            .char_indices()
            .find(|&(_, c)| !is_name_char(c))
            .map_or(rest.len(), |(i, _)| i);
        let name_end = start + 2 + len;
        let target = self.slice(start + 2..name_end);
        if !is_name(target) {
            return Err(malformed("invalid processing instruction target"));
        }
        let end = find(self.b, name_end, b"?>")
            .ok_or_else(|| malformed("unterminated processing instruction"))?;
        if end > name_end && !self.at(name_end).is_some_and(is_space) {
            return Err(malformed(PI_TARGET));
        }
        if target.eq_ignore_ascii_case("xml") {
            return Err(malformed(RESERVED_PI));
        }
        if target.contains(':') {
            return Err(malformed(PI_COLON));
        }
        if self.limits.forbid_processing_instructions {
            return Err(XmlError::ProcessingInstruction);
        }
        let value_start = self.skip_space(name_end).min(end);
        let value = self.slice(value_start..end);
        let value = (!value.is_empty()).then(|| line_ends(value));
        self.push(NodeKind::PI(target, value), start..end + 2)?;
        Ok(end + 2)
    }

    /// Text (or a CDATA section's content) appended to the open text node, if any.
    fn text_node(
        &mut self,
        value: Cow<'i, str>,
        range: std::ops::Range<usize>,
    ) -> Result<(), XmlError> {
        let Some(open) = self.open.last_mut() else {
            return Err(malformed("content outside the root element"));
        };
        if !open.text && !value.bytes().all(is_space) {
            open.text = true;
            if open.comment && self.limits.forbid_comments_in_text {
                return Err(XmlError::CommentInText);
            }
        }
        if self.text_open {
            if let Some(last) = self.doc.nodes.last_mut() {
                if let NodeKind::Text(t) = &mut last.kind {
                    t.to_mut().push_str(&value);
                    last.range.end = range.end;
                    return Ok(());
                }
            }
        }
        self.push(NodeKind::Text(value), range)?;
        self.text_open = true;
        Ok(())
    }

    /// The root element and everything in it; returns the index after its end tag.
    fn content(&mut self, mut i: usize) -> Result<usize, XmlError> {
        loop {
            // At a `<`: a start tag unless `/`, `!` or `?` follows.
            if !matches!(self.at(i + 1), Some(b'/' | b'!' | b'?')) {
                i = self.start_tag(i)?;
                if self.open.is_empty() {
                    return Ok(i);
                }
            } else if self.starts(i, b"</") {
                i = self.end_tag(i)?;
                if self.open.is_empty() {
                    return Ok(i);
                }
            } else if self.starts(i, b"<!--") {
                i = self.comment(i)?;
            } else if self.starts(i, b"<![CDATA[") {
                let end = find(self.b, i + 9, b"]]>")
                    .ok_or_else(|| malformed("unterminated CDATA section"))?;
                let value = line_ends(self.slice(i + 9..end));
                self.text_node(value, i..end + 3)?;
                i = end + 3;
            } else if self.starts(i, b"<?") {
                i = self.pi(i)?;
            } else if self.starts(i, b"<!DOCTYPE") {
                return Err(XmlError::Dtd);
            } else if self.starts(i, b"<!") {
                return Err(malformed("unknown markup"));
            } else {
                i = self.start_tag(i)?;
                if self.open.is_empty() {
                    return Ok(i);
                }
            }
            // Character data up to the next `<`.
            // (Between two tags, most often none: no search.)
            let lt = if self.at(i) == Some(b'<') {
                i
            } else {
                find(self.b, i, b"<").ok_or_else(|| malformed("unclosed element"))?
            };
            if lt > i {
                let raw = self.slice(i..lt);
                if memchr::memchr(b'>', raw.as_bytes()).is_some()
                    && find(raw.as_bytes(), 0, b"]]>").is_some()
                {
                    return Err(malformed("]]> in character data"));
                }
                let value = char_data(raw)?;
                self.text_node(value, i..lt)?;
            }
            i = lt;
        }
    }

    fn end_tag(&mut self, start: usize) -> Result<usize, XmlError> {
        let name_end = end_tag_name(self.b, start + 2, self.open.last().map(|o| o.qname))?;
        let name = self.slice(start + 2..name_end);
        let close = self.skip_space(name_end);
        if self.at(close) != Some(b'>') {
            return Err(malformed("malformed end tag"));
        }
        let open = self
            .open
            .pop()
            .ok_or_else(|| malformed("end tag without start tag"))?;
        if open.qname != name {
            return Err(malformed(END_TAG));
        }
        self.bindings.truncate(open.bindings);
        let end = u32::try_from(self.doc.nodes.len()).unwrap_or(u32::MAX);
        if let Some(node) = self.doc.nodes.get_mut(open.id.get_usize()) {
            node.range.end = close + 1;
            node.subtree_end = end;
        }
        self.text_open = false;
        Ok(close + 1)
    }

    fn intern(&mut self, uri: Cow<'i, str>) -> u32 {
        // A few distinct URIs in real documents: a linear search; a map past 16.
        if self.doc.uris.len() <= 16 {
            if let Some(i) = self.doc.uris.iter().position(|u| *u == uri) {
                return to_u32(i);
            }
        } else if let Some(&i) = self.interned.get(&uri) {
            return i;
        }
        let i = to_u32(self.doc.uris.len());
        if self.doc.uris.len() == 16 {
            for (j, u) in self.doc.uris.iter().enumerate() {
                self.interned.insert(u.clone(), to_u32(j));
            }
        }
        if self.doc.uris.len() >= 16 {
            self.interned.insert(uri.clone(), i);
        }
        self.doc.uris.push(uri);
        i
    }

    fn resolve(&self, prefix: &str) -> Result<u32, XmlError> {
        if same(prefix, "xml") {
            return Ok(NO_NS); // resolved by the caller
        }
        match lookup(&self.bindings, prefix) {
            Some(uri) => Ok(uri),
            None if prefix.is_empty() => Ok(NO_NS),
            None => Err(malformed(UNBOUND)),
        }
    }

    fn start_tag(&mut self, start: usize) -> Result<usize, XmlError> {
        if self.open.len() >= self.limits.max_depth {
            return Err(XmlError::TooDeep {
                limit: self.limits.max_depth,
            });
        }
        let (name_end, prefix, local) = qname_at(self.text, start + 1)?;
        let tag = self.slice(start + 1..name_end);
        self.raw.clear();
        let mut i = name_end;
        let empty;
        loop {
            let spaced = self.at(i).is_some_and(is_space);
            i = self.skip_space(i);
            match self.at(i) {
                None => return Err(malformed("unterminated start tag")),
                Some(b'>') => {
                    empty = false;
                    i += 1;
                    break;
                }
                Some(b'/') => {
                    if self.at(i + 1) != Some(b'>') {
                        return Err(malformed("malformed start tag"));
                    }
                    empty = true;
                    i += 2;
                    break;
                }
                Some(_) if !spaced => {
                    return Err(malformed("attributes must be separated by whitespace"))
                }
                Some(_) => {}
            }
            if self.raw.len() >= self.limits.max_attributes {
                return Err(XmlError::TooManyAttributes {
                    limit: self.limits.max_attributes,
                });
            }
            let attr_start = i;
            let (qname_end, ap, al) = qname_at(self.text, i)?;
            i = self.skip_space(qname_end);
            if self.at(i) != Some(b'=') {
                return Err(malformed("attribute without value"));
            }
            i = self.skip_space(i + 1);
            let quote = match self.at(i) {
                Some(q @ (b'"' | b'\'')) => q,
                _ => return Err(malformed("unquoted attribute value")),
            };
            let (end, value) = quoted_value(self.text, i + 1, quote)?;
            self.raw.push(RawAttr {
                prefix: ap,
                local: al,
                c14n_plain: quote == b'"' && matches!(value, Cow::Borrowed(_)),
                value,
                start: attr_start,
                qname_end,
                value_range: i + 1..end,
            });
            i = end + 1;
        }
        self.element(start, i, tag, prefix, local, empty)?;
        Ok(i)
    }

    /// Namespace declarations, names resolved, duplicates refused, the element appended.
    fn element(
        &mut self,
        start: usize,
        end: usize,
        tag: &'i str,
        prefix: &'i str,
        local: &'i str,
        empty: bool,
    ) -> Result<(), XmlError> {
        let scope_start = self.bindings.len();
        let decls_start = self.doc.decls.len();
        let mut raw = std::mem::take(&mut self.raw);
        let result = self.declare(&raw);
        let result = result.and_then(|()| {
            if prefix == "xmlns" || prefix == "xml" {
                return Err(malformed("element name with a reserved prefix"));
            }
            let ns = self.resolve(prefix)?;
            let parent_scope = match self.open.last() {
                Some(o) => match self.doc.nodes.get(o.id.get_usize()).map(|n| &n.kind) {
                    Some(NodeKind::Element(e)) => e.scope,
                    _ => None,
                },
                None => None,
            };
            let own = self.doc.decls.len() > decls_start;
            let attrs_start = self.doc.attrs.len();
            self.keys.clear();
            // (The values are taken, the list is cleared by the next start tag.)
            for a in raw.iter_mut() {
                if a.prefix == "xmlns" || (a.prefix.is_empty() && a.local == "xmlns") {
                    continue;
                }
                let ns = match a.prefix {
                    "" => NO_NS,
                    "xml" => self.intern(Cow::Borrowed(NS_XML)),
                    p => self.resolve(p)?,
                };
                self.keys.push((ns, a.local));
                self.doc.attrs.push(AttrData {
                    ns,
                    c14n_plain: a.c14n_plain,
                    local: a.local,
                    value: std::mem::take(&mut a.value),
                    range: a.start..a.value_range.end + 1,
                    qname_end: a.qname_end,
                    value_range: a.value_range.clone(),
                });
            }
            if has_duplicates(&mut self.keys) {
                return Err(malformed(DUPLICATE_ATTRIBUTE));
            }
            let id = NodeId::new(u32::try_from(self.doc.nodes.len()).unwrap_or(u32::MAX));
            let data = ElementData {
                ns,
                local,
                qname_len: to_u32(tag.len()),
                attrs: to_u32(attrs_start)..to_u32(self.doc.attrs.len()),
                decls: to_u32(decls_start)..to_u32(self.doc.decls.len()),
                scope: if own { Some(id) } else { parent_scope },
            };
            self.push(NodeKind::Element(data), start..end)?;
            if empty {
                self.bindings.truncate(scope_start);
                if let Some(n) = self.doc.nodes.get_mut(id.get_usize()) {
                    n.subtree_end = id.get() + 1;
                }
            } else {
                self.open.push(Open {
                    id,
                    qname: tag,
                    bindings: scope_start,
                    comment: false,
                    text: false,
                });
            }
            Ok(())
        });
        self.raw = raw;
        result
    }

    /// The namespace declarations among `raw`: checked, counted, bound.
    fn declare(&mut self, raw: &[RawAttr<'i>]) -> Result<(), XmlError> {
        // Raw names must be unique (this also catches two `xmlns` or `xmlns:p`); one
        // attribute or none cannot repeat.
        self.keys.clear();
        if raw.len() >= 2 {
            for a in raw {
                self.keys.push((
                    if a.prefix.is_empty() { NO_NS } else { 0 },
                    if a.prefix.is_empty() {
                        a.local
                    } else {
                        self.slice(a.start..a.qname_end)
                    },
                ));
            }
        }
        if has_duplicates(&mut self.keys) {
            let default_twice = raw
                .iter()
                .filter(|a| a.prefix.is_empty() && a.local == "xmlns")
                .count()
                > 1;
            return Err(malformed(if default_twice {
                BAD_NAMESPACE
            } else {
                "duplicate attribute"
            }));
        }
        for a in raw {
            let prefix = match (a.prefix, a.local) {
                ("xmlns", p) => Some(p),
                ("", "xmlns") => None,
                _ => continue,
            };
            self.declarations += 1;
            if self.declarations > self.limits.max_namespace_declarations {
                return Err(XmlError::TooManyNamespaces {
                    limit: self.limits.max_namespace_declarations,
                });
            }
            if self.bindings.len() >= self.limits.max_namespaces_in_scope {
                return Err(XmlError::TooManyNamespaces {
                    limit: self.limits.max_namespaces_in_scope,
                });
            }
            let uri = a.value.as_ref();
            match prefix {
                Some("xmlns") => return Err(malformed(BAD_NAMESPACE)),
                Some("xml") if uri != NS_XML => {
                    return Err(malformed("the xml prefix bound to another namespace"))
                }
                Some("xml") => {
                    // Bound already: counted, not listed.
                    self.bindings.push((Some("xml"), NO_NS));
                    continue;
                }
                Some(_) if uri.is_empty() => return Err(malformed(BAD_NAMESPACE)),
                _ if uri == NS_XML => {
                    return Err(malformed("the xml namespace bound to another prefix"))
                }
                _ if uri == NS_XMLNS => return Err(malformed("the xmlns namespace declared")),
                _ => {}
            }
            let index = self.intern(a.value.clone());
            self.bindings.push((prefix, index));
            self.doc.decls.push(Decl { prefix, uri: index });
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "parser_tests.rs"]
mod tests;
