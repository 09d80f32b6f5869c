//! Hardened XML: a reader behind limits, exclusive canonicalization, and escaping for the
//! writer side.
//!
//! Nothing here knows about SAML or SPID: the module turns text into a checked tree and a
//! tree into canonical bytes. Documents are parsed by our own one-pass reader (strict, no DTD, exact
//! namespaces) behind the checks of [`Limits`]; the parser's types stay inside the crate,
//! so the public functions here take and return text and bytes:
//!
//! - [`check`]: whether a document passes the reader (limits, encoding, well-formedness)
//!   — the same gate every message and metadata document goes through;
//! - [`canonicalize_document`]: its exclusive canonical form (Exclusive XML
//!   Canonicalization 1.0, without comments), as a signature's digest covers it;
//! - [`writer`]: the escaping every value written into XML goes through.
//!
//! ```
//! use spid_sp::xml::{self, Limits, XmlError};
//!
//! assert_eq!(xml::check("<a><b/></a>", &Limits::MESSAGE), Ok(()));
//! assert_eq!(
//!     xml::check("<!DOCTYPE a []><a/>", &Limits::MESSAGE),
//!     Err(XmlError::Dtd)
//! );
//! let c14n = xml::canonicalize_document("<a  x='1' ><b/></a>", &Limits::MESSAGE, &[])?;
//! assert_eq!(c14n, b"<a x=\"1\"><b></b></a>");
//! # Ok::<(), XmlError>(())
//! ```

pub(crate) mod c14n;
// The tree mirrors the roxmltree API the crate was written against; not every method is
// used by every build.
#[allow(dead_code)]
pub(crate) mod dom;
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) mod equivalence;
pub(crate) mod lexical;
pub(crate) mod parser;
pub(crate) mod reader;
#[cfg(any(test, feature = "fuzzing"))]
mod wellformed;
pub mod writer;

pub(crate) use c14n::{canonicalize, C14nOptions};
pub(crate) use dom::{Document, Node, NodeId, NodeType};
pub(crate) use reader::{parse, text};
pub use reader::{Limits, XmlError};

/// Checks `text` the way every document the SDK reads is checked before anything is
/// looked at: UTF-8 (a declared encoding must be UTF-8), no DTD, well-formed XML with
/// namespaces, and the bounds of `limits` (size, depth, nodes, attributes, namespace
/// declarations; for [`Limits::MESSAGE`], no processing instruction and no comment inside a
/// text value).
pub fn check(text: &str, limits: &Limits) -> Result<(), XmlError> {
    parse(text, limits).map(|_| ())
}

/// The exclusive canonical form (Exclusive XML Canonicalization 1.0, without comments) of
/// the whole document `text`, after [`check`]ing it under `limits`.
///
/// `inclusive_prefixes` is the `InclusiveNamespaces PrefixList` of the transform: prefixes
/// rendered as in inclusive canonicalization (`#default` names the default namespace);
/// usually empty.
pub fn canonicalize_document(
    text: &str,
    limits: &Limits,
    inclusive_prefixes: &[&str],
) -> Result<Vec<u8>, XmlError> {
    let doc = parse(text, limits)?;
    let options = C14nOptions {
        exclude: None,
        inclusive_prefixes,
    };
    let mut out = Vec::with_capacity(text.len());
    canonicalize(doc.root(), &options, &mut out);
    Ok(out)
}
