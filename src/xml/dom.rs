//! The tree [`super::parser`] builds: an arena of nodes in document order, with the byte
//! range of every node and attribute, namespace URIs interned once per document, and text
//! borrowed from the input unless a reference or a line end had to be rewritten.
//!
//! The API mirrors the subset of `roxmltree`'s the crate uses (same names, same
//! semantics: `descendants` and `ancestors` include the node itself, `text` of an element
//! is its first child's if that is a text node, `namespaces` lists the declarations in
//! scope, innermost first, without the implicit `xml` prefix), so code written against one
//! reads the other.

use std::borrow::Cow;
use std::num::NonZeroU32;
use std::ops::Range;

/// The namespace bound to the `xml` prefix.
pub(crate) const NS_XML: &str = "http://www.w3.org/XML/1998/namespace";

/// A node's index in its document (the root is 0).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub struct NodeId(NonZeroU32);

impl NodeId {
    /// The id of the `id`-th node in document order.
    pub fn new(id: u32) -> Self {
        NodeId(NonZeroU32::MIN.saturating_add(id))
    }
    /// The index as a `u32`.
    pub fn get(self) -> u32 {
        self.0.get() - 1
    }
    /// The index as a `usize`.
    pub fn get_usize(self) -> usize {
        self.get() as usize
    }
}

/// What a node is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum NodeType {
    /// The document node (parent of the root element).
    Root,
    /// An element.
    Element,
    /// A processing instruction.
    PI,
    /// A comment.
    Comment,
    /// Character data (text and CDATA sections, merged).
    Text,
}

/// A processing instruction: its target and its value (without the leading whitespace).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct PI<'a> {
    /// The target name.
    pub target: &'a str,
    /// The value, if not empty.
    pub value: Option<&'a str>,
}

/// An element or attribute name: namespace URI and local name.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ExpandedName<'a, 'b> {
    ns: Option<&'a str>,
    name: &'b str,
}

impl<'a, 'b> ExpandedName<'a, 'b> {
    /// The namespace URI, if any.
    pub fn namespace(&self) -> Option<&'a str> {
        self.ns
    }
    /// The local name.
    pub fn name(&self) -> &'b str {
        self.name
    }
}

impl<'b> From<&'b str> for ExpandedName<'_, 'b> {
    fn from(name: &'b str) -> Self {
        ExpandedName { ns: None, name }
    }
}

impl<'a, 'b> From<(&'a str, &'b str)> for ExpandedName<'a, 'b> {
    fn from((ns, name): (&'a str, &'b str)) -> Self {
        ExpandedName { ns: Some(ns), name }
    }
}

/// A namespace declaration in scope: prefix (`None` for the default namespace) and URI.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Namespace<'a> {
    name: Option<&'a str>,
    uri: &'a str,
}

impl<'a> Namespace<'a> {
    /// The prefix, `None` for the default namespace.
    pub fn name(&self) -> Option<&'a str> {
        self.name
    }
    /// The URI (empty for `xmlns=""`).
    pub fn uri(&self) -> &'a str {
        self.uri
    }
}

pub(crate) const NO_NS: u32 = u32::MAX;

pub(crate) struct NodeData<'i> {
    pub(crate) kind: NodeKind<'i>,
    pub(crate) parent: Option<NodeId>,
    pub(crate) prev_sibling: Option<NodeId>,
    pub(crate) next_sibling: Option<NodeId>,
    pub(crate) last_child: Option<NodeId>,
    /// One past the last node of the subtree (document order).
    pub(crate) subtree_end: u32,
    pub(crate) range: Range<usize>,
}

pub(crate) enum NodeKind<'i> {
    Root,
    Element(ElementData<'i>),
    Text(Cow<'i, str>),
    Comment(Cow<'i, str>),
    PI(&'i str, Option<Cow<'i, str>>),
}

pub(crate) struct ElementData<'i> {
    /// Index into `Document::uris`, or [`NO_NS`].
    pub(crate) ns: u32,
    pub(crate) local: &'i str,
    /// The length of the qualified name as written, after the `<`.
    pub(crate) qname_len: u32,
    pub(crate) attrs: Range<u32>,
    /// The element's own declarations (`xmlns:xml` excluded), in `Document::decls`.
    pub(crate) decls: Range<u32>,
    /// The nearest element, this one or an ancestor, that declares a namespace.
    pub(crate) scope: Option<NodeId>,
}

pub(crate) struct AttrData<'i> {
    pub(crate) ns: u32,
    /// The value as written, `"`-quoted, with nothing normalized: no byte of it needs
    /// escaping in a canonical attribute value (no `&`, `<`, `"`, tab, LF, CR).
    pub(crate) c14n_plain: bool,
    pub(crate) local: &'i str,
    pub(crate) value: Cow<'i, str>,
    pub(crate) range: Range<usize>,
    pub(crate) qname_end: usize,
    pub(crate) value_range: Range<usize>,
}

pub(crate) struct Decl<'i> {
    pub(crate) prefix: Option<&'i str>,
    pub(crate) uri: u32,
}

/// A parsed document: the arena and the text it borrows from.
pub struct Document<'i> {
    pub(crate) text: &'i str,
    pub(crate) nodes: Vec<NodeData<'i>>,
    pub(crate) attrs: Vec<AttrData<'i>>,
    pub(crate) decls: Vec<Decl<'i>>,
    pub(crate) uris: Vec<Cow<'i, str>>,
}

impl std::fmt::Debug for Document<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Document({} nodes)", self.nodes.len())
    }
}

impl<'i> Document<'i> {
    /// The document node.
    pub fn root<'a>(&'a self) -> Node<'a, 'i> {
        Node {
            id: NodeId::new(0),
            doc: self,
        }
    }

    /// The node with this id, if the document has it.
    pub fn get_node<'a>(&'a self, id: NodeId) -> Option<Node<'a, 'i>> {
        (id.get_usize() < self.nodes.len()).then_some(Node { id, doc: self })
    }

    /// The root element (a parsed document always has one).
    pub fn root_element<'a>(&'a self) -> Node<'a, 'i> {
        self.root()
            .children()
            .find(|n| n.is_element())
            .unwrap_or(self.root())
    }

    /// Every node in document order, the document node first.
    pub fn descendants<'a>(&'a self) -> Descendants<'a, 'i> {
        self.root().descendants()
    }

    /// The text the document was parsed from.
    pub fn input_text(&self) -> &'i str {
        self.text
    }

    fn uri(&self, index: u32) -> Option<&str> {
        self.uris.get(index as usize).map(|u| u.as_ref())
    }
}

/// A node of a [`Document`].
#[derive(Clone, Copy)]
pub struct Node<'a, 'i> {
    id: NodeId,
    doc: &'a Document<'i>,
}

impl PartialEq for Node<'_, '_> {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id && std::ptr::eq(self.doc, other.doc)
    }
}

impl Eq for Node<'_, '_> {}

impl std::fmt::Debug for Node<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = self.tag_name();
        write!(f, "{:?}({}, {:?})", self.node_type(), self.id.get(), name)
    }
}

/// An attribute of an element (namespace declarations are not attributes).
#[derive(Clone, Copy)]
pub struct Attribute<'a, 'i> {
    doc: &'a Document<'i>,
    data: &'a AttrData<'i>,
}

impl<'a, 'i> Attribute<'a, 'i> {
    /// The namespace URI, if the name is prefixed.
    pub fn namespace(&self) -> Option<&'a str> {
        self.doc.uri(self.data.ns)
    }
    /// The local name.
    pub fn name(&self) -> &'i str {
        self.data.local
    }
    /// The normalized value.
    pub fn value(&self) -> &'a str {
        &self.data.value
    }
    /// The byte range of `name="value"`.
    pub fn range(&self) -> Range<usize> {
        self.data.range.clone()
    }
    /// Whether the value needs no escaping in canonical form (see `AttrData`).
    pub(crate) fn is_c14n_plain(&self) -> bool {
        self.data.c14n_plain
    }
    /// The byte range of the qualified name.
    pub fn range_qname(&self) -> Range<usize> {
        self.data.range.start..self.data.qname_end
    }
    /// The byte range of the raw value, between the quotes.
    pub fn range_value(&self) -> Range<usize> {
        self.data.value_range.clone()
    }
}

impl<'a, 'i: 'a> Node<'a, 'i> {
    fn data(&self) -> &'a NodeData<'i> {
        // The id came from this document: always in range.
        let nodes: &'a [NodeData<'i>] = &self.doc.nodes;
        match nodes.get(self.id.get_usize()) {
            Some(d) => d,
            None => &EMPTY,
        }
    }

    /// An element's qualified name and prefix as written in its start tag (from the
    /// lengths the reader recorded: no scan); `None` for other nodes.
    pub(crate) fn qname_as_written(&self) -> Option<(&'a str, &'a str)> {
        let e = self.element()?;
        let start = self.data().range.start + 1;
        let qname = self.doc.text.get(start..start + e.qname_len as usize)?;
        let prefix = match qname.len().checked_sub(e.local.len() + 1) {
            Some(len) => qname.get(..len)?,
            None => "",
        };
        Some((qname, prefix))
    }

    fn element(&self) -> Option<&'a ElementData<'i>> {
        match &self.data().kind {
            NodeKind::Element(e) => Some(e),
            _ => None,
        }
    }

    fn at(&self, id: Option<NodeId>) -> Option<Self> {
        id.map(|id| Node { id, doc: self.doc })
    }

    /// What the node is.
    pub fn node_type(&self) -> NodeType {
        match self.data().kind {
            NodeKind::Root => NodeType::Root,
            NodeKind::Element(_) => NodeType::Element,
            NodeKind::Text(_) => NodeType::Text,
            NodeKind::Comment(_) => NodeType::Comment,
            NodeKind::PI(..) => NodeType::PI,
        }
    }
    /// Whether it is the document node.
    pub fn is_root(&self) -> bool {
        self.node_type() == NodeType::Root
    }
    /// Whether it is an element.
    pub fn is_element(&self) -> bool {
        self.node_type() == NodeType::Element
    }
    /// Whether it is a text node.
    pub fn is_text(&self) -> bool {
        self.node_type() == NodeType::Text
    }
    /// Whether it is a comment.
    pub fn is_comment(&self) -> bool {
        self.node_type() == NodeType::Comment
    }
    /// Whether it is a processing instruction.
    pub fn is_pi(&self) -> bool {
        self.node_type() == NodeType::PI
    }
    /// The document the node belongs to.
    pub fn document(&self) -> &'a Document<'i> {
        self.doc
    }
    /// The node's id.
    pub fn id(&self) -> NodeId {
        self.id
    }
    /// The byte range of the node in the input (an element: from `<` to the end of its
    /// end tag).
    pub fn range(&self) -> Range<usize> {
        self.data().range.clone()
    }

    /// The element's expanded name (empty for other nodes).
    pub fn tag_name(&self) -> ExpandedName<'a, 'i> {
        match self.element() {
            Some(e) => ExpandedName {
                ns: self.doc.uri(e.ns),
                name: e.local,
            },
            None => ExpandedName { ns: None, name: "" },
        }
    }

    /// Whether the node is an element named `name`: `(namespace, local)` compares both,
    /// a bare local name only the local name.
    pub fn has_tag_name<'n, 'm>(&self, name: impl Into<ExpandedName<'n, 'm>>) -> bool {
        let name = name.into();
        self.element().is_some_and(|e| {
            e.local == name.name && (name.ns.is_none() || self.doc.uri(e.ns) == name.ns)
        })
    }

    /// The element's attributes, in document order.
    pub fn attributes(&self) -> Attributes<'a, 'i> {
        let range = self.element().map_or(0..0, |e| e.attrs.clone());
        let slice = self
            .doc
            .attrs
            .get(range.start as usize..range.end as usize)
            .unwrap_or_default();
        Attributes {
            doc: self.doc,
            iter: slice.iter(),
        }
    }

    /// The value of the attribute named `name` (a local name, or `(namespace, local)`).
    pub fn attribute<'n, 'm>(&self, name: impl Into<ExpandedName<'n, 'm>>) -> Option<&'a str> {
        let name = name.into();
        self.attributes()
            .find(|a| a.name() == name.name && a.namespace() == name.ns)
            .map(|a| a.value())
    }

    /// Whether the element has the attribute `name`.
    pub fn has_attribute<'n, 'm>(&self, name: impl Into<ExpandedName<'n, 'm>>) -> bool {
        self.attribute(name).is_some()
    }

    /// The namespace declarations in scope (innermost first, a re-bound prefix once, the
    /// implicit `xml` prefix not listed).
    pub fn namespaces(&self) -> std::vec::IntoIter<Namespace<'a>> {
        let mut out: Vec<Namespace<'a>> = Vec::new();
        let mut scope = self.element().and_then(|e| e.scope);
        while let Some(node) = self.at(scope) {
            let Some(e) = node.element() else { break };
            let decls = self
                .doc
                .decls
                .get(e.decls.start as usize..e.decls.end as usize)
                .unwrap_or_default();
            let inner = out.len();
            for d in decls {
                if out
                    .get(..inner)
                    .unwrap_or_default()
                    .iter()
                    .all(|n| n.name != d.prefix)
                {
                    out.push(Namespace {
                        name: d.prefix,
                        uri: self.doc.uri(d.uri).unwrap_or(""),
                    });
                }
            }
            scope = node
                .parent()
                .and_then(|p| p.element())
                .and_then(|p| p.scope);
        }
        out.into_iter()
    }

    /// The URI bound to `prefix` (`None`: the default namespace) here.
    pub fn lookup_namespace_uri(&self, prefix: Option<&str>) -> Option<&'a str> {
        let mut scope = self.element().and_then(|e| e.scope);
        while let Some(node) = self.at(scope) {
            let e = node.element()?;
            let decls = self
                .doc
                .decls
                .get(e.decls.start as usize..e.decls.end as usize)
                .unwrap_or_default();
            if let Some(d) = decls.iter().find(|d| d.prefix == prefix) {
                return self.doc.uri(d.uri);
            }
            scope = node.parent()?.element()?.scope;
        }
        None
    }

    /// A prefix bound to `uri` here (`xml` for the XML namespace).
    pub fn lookup_prefix(&self, uri: &str) -> Option<&'a str> {
        if uri == NS_XML {
            return Some("xml");
        }
        self.namespaces()
            .find(|n| n.uri == uri)
            .and_then(|n| n.name)
    }

    /// The default namespace in scope, if any.
    pub fn default_namespace(&self) -> Option<&'a str> {
        self.lookup_namespace_uri(None)
    }

    /// A text or comment node's value; an element's first child's if that is text.
    pub fn text(&self) -> Option<&'a str> {
        match &self.data().kind {
            NodeKind::Element(_) => match self.first_child().map(|c| &c.data().kind) {
                Some(NodeKind::Text(t)) => Some(t),
                _ => None,
            },
            NodeKind::Text(t) | NodeKind::Comment(t) => Some(t),
            _ => None,
        }
    }

    /// The processing instruction, if the node is one.
    pub fn pi(&self) -> Option<PI<'a>> {
        match &self.data().kind {
            NodeKind::PI(target, value) => Some(PI {
                target,
                value: value.as_deref(),
            }),
            _ => None,
        }
    }

    /// The parent node.
    pub fn parent(&self) -> Option<Self> {
        self.at(self.data().parent)
    }
    /// The nearest ancestor element.
    pub fn parent_element(&self) -> Option<Self> {
        self.ancestors().skip(1).find(|n| n.is_element())
    }
    /// The previous sibling.
    pub fn prev_sibling(&self) -> Option<Self> {
        self.at(self.data().prev_sibling)
    }
    /// The next sibling.
    pub fn next_sibling(&self) -> Option<Self> {
        self.at(self.data().next_sibling)
    }
    /// The first child.
    pub fn first_child(&self) -> Option<Self> {
        self.data()
            .last_child
            .map(|_| NodeId::new(self.id.get().saturating_add(1)))
            .and_then(|id| self.doc.get_node(id))
    }
    /// The last child.
    pub fn last_child(&self) -> Option<Self> {
        self.at(self.data().last_child)
    }
    /// The first child that is an element.
    pub fn first_element_child(&self) -> Option<Self> {
        self.children().find(|n| n.is_element())
    }
    /// Whether the node has children.
    pub fn has_children(&self) -> bool {
        self.data().last_child.is_some()
    }
    /// The children, in document order.
    pub fn children(&self) -> Children<'a, 'i> {
        Children {
            next: self.first_child(),
        }
    }
    /// The node and its ancestors, up to the document node.
    pub fn ancestors(&self) -> Ancestors<'a, 'i> {
        Ancestors { next: Some(*self) }
    }
    /// The node and its descendants, in document order.
    pub fn descendants(&self) -> Descendants<'a, 'i> {
        Descendants {
            doc: self.doc,
            next: self.id.get(),
            end: self.data().subtree_end,
        }
    }
}

static EMPTY: NodeData<'static> = NodeData {
    kind: NodeKind::Root,
    parent: None,
    prev_sibling: None,
    next_sibling: None,
    last_child: None,
    subtree_end: 0,
    range: 0..0,
};

/// The attributes of an element.
#[derive(Clone)]
pub struct Attributes<'a, 'i> {
    doc: &'a Document<'i>,
    iter: std::slice::Iter<'a, AttrData<'i>>,
}

impl<'a, 'i> Iterator for Attributes<'a, 'i> {
    type Item = Attribute<'a, 'i>;
    fn next(&mut self) -> Option<Self::Item> {
        let doc = self.doc;
        self.iter.next().map(|data| Attribute { doc, data })
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.iter.size_hint()
    }
}

impl ExactSizeIterator for Attributes<'_, '_> {}

/// The children of a node.
#[derive(Clone)]
pub struct Children<'a, 'i> {
    next: Option<Node<'a, 'i>>,
}

impl<'a, 'i> Iterator for Children<'a, 'i> {
    type Item = Node<'a, 'i>;
    fn next(&mut self) -> Option<Self::Item> {
        let node = self.next?;
        self.next = node.next_sibling();
        Some(node)
    }
}

/// A node and its ancestors.
#[derive(Clone)]
pub struct Ancestors<'a, 'i> {
    next: Option<Node<'a, 'i>>,
}

impl<'a, 'i> Iterator for Ancestors<'a, 'i> {
    type Item = Node<'a, 'i>;
    fn next(&mut self) -> Option<Self::Item> {
        let node = self.next?;
        self.next = node.parent();
        Some(node)
    }
}

/// A node and its descendants.
#[derive(Clone)]
pub struct Descendants<'a, 'i> {
    doc: &'a Document<'i>,
    next: u32,
    end: u32,
}

impl<'a, 'i> Iterator for Descendants<'a, 'i> {
    type Item = Node<'a, 'i>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.next >= self.end {
            return None;
        }
        let id = NodeId::new(self.next);
        self.next += 1;
        Some(Node { id, doc: self.doc })
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.end.saturating_sub(self.next) as usize;
        (n, Some(n))
    }
}

impl DoubleEndedIterator for Descendants<'_, '_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.next >= self.end {
            return None;
        }
        self.end -= 1;
        Some(Node {
            id: NodeId::new(self.end),
            doc: self.doc,
        })
    }
}

impl ExactSizeIterator for Descendants<'_, '_> {}
