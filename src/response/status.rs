//! IdP refusals: a non-Success `samlp:Status` (the types live in the error home,
//! [`crate::error`]).

pub use crate::error::{IdpRefusal, SUCCESS};
