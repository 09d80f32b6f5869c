//! Hardened XML: a reader behind limits, exclusive canonicalization, and escaping for the
//! writer side.
//!
//! Nothing here knows about SAML or SPID: the module turns bytes into a checked tree and a
//! tree into canonical bytes. Documents are parsed with [`roxmltree`] (strict, no DTD, exact
//! namespaces); the checks added on top are in [`reader`].

pub mod c14n;
pub mod reader;
mod wellformed;
pub mod writer;

pub use c14n::{canonicalize, C14nOptions};
pub use reader::{parse, text, Limits, XmlError};
pub use roxmltree::{Document, Node, NodeId};
