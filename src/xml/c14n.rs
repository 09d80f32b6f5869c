//! Exclusive XML Canonicalization 1.0, without comments
//! (<http://www.w3.org/2001/10/xml-exc-c14n#>), with the `InclusiveNamespaces PrefixList`
//! parameter and the enveloped-signature transform (one excluded subtree).
//!
//! Works on a [`roxmltree`] tree, whose data model already is the XPath one c14n is defined
//! on: line ends normalised, attribute values normalised, character and predefined entity
//! references expanded, CDATA merged into text. Prefixes are read back from the source
//! text because the tree keeps only expanded names.

use roxmltree::{Node, NodeId, NodeType};

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
    let mut rendered: Vec<(&str, &str)> = Vec::with_capacity(8);
    if apex.node_type() == NodeType::Root {
        let mut seen_element = false;
        for child in apex.children() {
            if Some(child.id()) == options.exclude {
                continue;
            }
            match child.node_type() {
                NodeType::Element => {
                    element(child, options, &mut rendered, out);
                    seen_element = true;
                }
                NodeType::PI => {
                    if seen_element {
                        out.push(b'\n');
                    }
                    pi(child, out);
                    if !seen_element {
                        out.push(b'\n');
                    }
                }
                _ => {}
            }
        }
    } else {
        element(apex, options, &mut rendered, out);
    }
}

fn element<'a>(
    node: Node<'a, '_>,
    options: &C14nOptions<'a>,
    rendered: &mut Vec<(&'a str, &'a str)>,
    out: &mut Vec<u8>,
) {
    let qname = element_qname(node);
    let prefix = qname.split_once(':').map_or("", |(p, _)| p);
    let scope = rendered.len();

    // Namespace declarations to render: the visibly utilized ones, plus the inclusive list.
    let mut decls: Vec<(&'a str, &'a str)> = Vec::new();
    let mut consider = |p: &'a str, uri: &'a str, rendered: &Vec<(&'a str, &'a str)>| {
        if p == "xml" || decls.iter().any(|(q, _)| *q == p) {
            return;
        }
        let current = rendered
            .iter()
            .rev()
            .find(|(q, _)| *q == p)
            .map(|(_, u)| *u);
        let needed = if p.is_empty() && uri.is_empty() {
            current.is_some_and(|c| !c.is_empty())
        } else {
            current != Some(uri)
        };
        if needed {
            decls.push((p, uri));
        }
    };
    consider(prefix, node.tag_name().namespace().unwrap_or(""), rendered);
    let mut attrs: Vec<(&'a str, &'a str, &'a str, &'a str)> = Vec::new();
    for attr in node.attributes() {
        let aq = attr_qname(node, &attr);
        if let Some(ns) = attr.namespace() {
            let ap = aq.split_once(':').map_or("", |(p, _)| p);
            if !ap.is_empty() {
                consider(ap, ns, rendered);
            }
        }
        attrs.push((
            attr.namespace().unwrap_or(""),
            attr.name(),
            aq,
            attr.value(),
        ));
    }
    for &inc in options.inclusive_prefixes {
        if inc == "#default" {
            consider("", node.default_namespace().unwrap_or(""), rendered);
        } else if let Some(uri) = node.lookup_namespace_uri(Some(inc)) {
            consider(inc, uri, rendered);
        }
    }
    decls.sort_unstable_by(|a, b| a.0.cmp(b.0));
    attrs.sort_unstable_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));

    out.push(b'<');
    out.extend_from_slice(qname.as_bytes());
    for &(p, uri) in &decls {
        if p.is_empty() {
            out.extend_from_slice(b" xmlns=\"");
        } else {
            out.extend_from_slice(b" xmlns:");
            out.extend_from_slice(p.as_bytes());
            out.extend_from_slice(b"=\"");
        }
        escape_attr(uri, out);
        out.push(b'"');
        rendered.push((p, uri));
    }
    for &(_, _, aq, value) in &attrs {
        out.push(b' ');
        out.extend_from_slice(aq.as_bytes());
        out.extend_from_slice(b"=\"");
        escape_attr(value, out);
        out.push(b'"');
    }
    out.push(b'>');

    for child in node.children() {
        if Some(child.id()) == options.exclude {
            continue;
        }
        match child.node_type() {
            NodeType::Element => element(child, options, rendered, out),
            NodeType::Text => escape_text(child.text().unwrap_or(""), out),
            NodeType::PI => pi(child, out),
            _ => {}
        }
    }
    rendered.truncate(scope);

    out.extend_from_slice(b"</");
    out.extend_from_slice(qname.as_bytes());
    out.push(b'>');
}

/// The element's qualified name as written in the source (`<qname ...`).
fn element_qname<'a>(node: Node<'a, '_>) -> &'a str {
    let src = node.document().input_text();
    let rest = src.get(node.range().start + 1..).unwrap_or("");
    let end = rest
        .find(|c: char| c.is_ascii_whitespace() || c == '/' || c == '>')
        .unwrap_or(rest.len());
    rest.get(..end).unwrap_or(node.tag_name().name())
}

fn attr_qname<'a>(node: Node<'a, '_>, attr: &roxmltree::Attribute<'a, '_>) -> &'a str {
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

fn escape_text(s: &str, out: &mut Vec<u8>) {
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let rep: &[u8] = match b {
            b'&' => b"&amp;",
            b'<' => b"&lt;",
            b'>' => b"&gt;",
            b'\r' => b"&#xD;",
            _ => continue,
        };
        out.extend_from_slice(bytes.get(start..i).unwrap_or_default());
        out.extend_from_slice(rep);
        start = i + 1;
    }
    out.extend_from_slice(bytes.get(start..).unwrap_or_default());
}

fn escape_attr(s: &str, out: &mut Vec<u8>) {
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let rep: &[u8] = match b {
            b'&' => b"&amp;",
            b'<' => b"&lt;",
            b'"' => b"&quot;",
            b'\t' => b"&#x9;",
            b'\n' => b"&#xA;",
            b'\r' => b"&#xD;",
            _ => continue,
        };
        out.extend_from_slice(bytes.get(start..i).unwrap_or_default());
        out.extend_from_slice(rep);
        start = i + 1;
    }
    out.extend_from_slice(bytes.get(start..).unwrap_or_default());
}

#[cfg(test)]
mod tests {
    use super::*;
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
    fn sorts_attributes_by_namespace_uri_then_name() {
        let x = r#"<r xmlns:z="urn:a" xmlns:a="urn:z" a:x="1" z:y="2" b="3" xml:lang="it"/>"#;
        assert_eq!(
            c14n(x, &[]),
            r#"<r xmlns:a="urn:z" xmlns:z="urn:a" b="3" xml:lang="it" z:y="2" a:x="1"></r>"#
        );
    }
}
