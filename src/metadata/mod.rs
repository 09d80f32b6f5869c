//! Metadata: IdP metadata in (one entity or a federation aggregate), the trusted IdP
//! registry, and the SP's own signed metadata out.

pub(crate) mod idp;
mod registry;
mod sp;

#[cfg(feature = "test-idp")]
pub(crate) use idp::signing_keys;
pub use idp::{Endpoint, IdentityProvider, MetadataError, TEST_IDP_MARKER_NS};
pub use registry::*;
pub use sp::*;
