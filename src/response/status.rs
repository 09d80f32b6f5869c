//! IdP refusals: a non-Success `samlp:Status` (the types live in the crate's error module).

pub use crate::error::{IdpRefusal, SUCCESS};
