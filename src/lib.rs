//! # spid-sp
//!
//! A SAML 2.0 service provider for Italy's SPID, CIE ID and eIDAS (through the Italian
//! node): signed AuthnRequests, verified Responses, and one identity keyed on the fiscal
//! code whatever the login method.
//!
//! ```no_run
//! use spid_sp::{ServiceProvider, SpConfig, LoginOptions, Incoming, LoginError, SigningKey};
//! use spid_sp::metadata::IdentityProvider;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let key = SigningKey::from_pem(&std::fs::read("sp.key.pem")?, &std::fs::read("sp.crt.pem")?)?;
//! let config = SpConfig::builder("https://sp.example.it/spid", key)
//!     .assertion_consumer_service("https://sp.example.it/spid/acs")
//!     .attribute_service(0, "Servizi online", &["fiscalNumber", "name", "familyName"])
//!     .build()?;
//! let idps = IdentityProvider::from_metadata(&std::fs::read_to_string("metadata/spid-entities-idps.xml")?)?;
//! let sp = ServiceProvider::new(config, idps)?;
//!
//! // 1. Send the user to the IdP; keep `pending` server-side.
//! let (outgoing, pending) = sp.start_login("https://posteid.poste.it", &LoginOptions::default())?;
//! let page = outgoing.html_form(None); // HTTP-POST binding: an auto-submitting form
//!
//! // 2. At the ACS, verify what came back.
//! let incoming = Incoming::from_form("SAMLResponse=...&RelayState=...").ok_or("bad form")?;
//! match sp.finish_login(&incoming, pending) {
//!     Ok(login) => println!("fiscal code {:?} at {}", login.identity().fiscal_code(), login.level()),
//!     Err(LoginError::Refused(refusal)) => println!("{}", refusal.message_it()),
//!     Err(LoginError::Rejected(reason)) => eprintln!("rejected: {} ({reason})", reason.code()),
//! }
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

pub mod audit;
mod authn_request;
#[cfg(feature = "axum")]
pub mod axum;
mod b64;
pub mod binding;
pub mod certificates;
mod config;
pub mod danger;
pub mod dsig;
mod error;
pub mod federation;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
pub mod identity;
mod idp_set;
pub mod ids;
pub mod level;
pub mod logout;
pub mod metadata;
mod pending;
mod printable;
pub mod response;
pub mod saml;
mod sp;
pub mod store;
#[cfg(feature = "test-idp")]
pub mod test_idp;
pub mod time;
pub mod xml;

pub use authn_request::{AcsChoice, LoginOptions, Purpose};
pub use binding::{Binding, Delivery, Incoming, Outgoing};
pub use config::{
    AssertionConsumerService, AttributeService, ConfigError, LogoutService, SpConfig,
    SpConfigBuilder,
};
#[cfg(feature = "config")]
pub use config::{
    AttributeServiceDescription, CertificateDescription, DescriptionError,
    LogoutServiceDescription, MetadataDescription, SpDescription,
};
pub use dsig::{SigningKey, VerificationKey};
pub use error::IdpRefusal;
pub use error::{LoginError, RejectReason, Signed, StartError};
pub use federation::Federation;
pub use identity::{FiscalCode, Identity, IdentityKey};
pub use idp_set::IdpSet;
pub use ids::{EntityId, RelayState, RequestId};
pub use level::{Comparison, SpidLevel};
pub use logout::{LogoutOutcome, LogoutRequestInfo, PendingLogout};
pub use pending::PendingLogin;
pub use sp::{ServiceProvider, SessionInfo, VerifiedLogin};
pub use time::{Clock, FixedClock, SystemClock, Timestamp};
