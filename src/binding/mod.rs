//! The SAML HTTP bindings, in one place: what the SP sends through the browser
//! ([`crate::Outgoing`], delivered as a [`crate::Delivery`]) and what comes back
//! ([`crate::Incoming`]). Those message types and [`crate::Binding`] are public at the
//! crate root; this module is the namespace of the two bindings' functions.
//!
//! - [`post`]: HTTP-POST. Form bodies, the auto-submitting HTML form, the bounded decoding of
//!   the posted field, the unverified `InResponseTo` lookup key.
//! - [`redirect`]: HTTP-Redirect. DEFLATE (output capped), the query string encoded as
//!   Python's `quote_plus` does, and the query signature over the raw octets as received.
//!
//! The signature primitives (RSA over bytes, the XML-DSig enveloped signature, the algorithm
//! allow-list) are [`crate::dsig`]'s; this module only calls them.

pub(crate) mod message;
pub mod post;
pub mod redirect;

#[cfg(feature = "axum")]
pub(crate) use message::{message_kind, MessageKind};
pub(crate) use message::{Delivery, Incoming, Outgoing};
