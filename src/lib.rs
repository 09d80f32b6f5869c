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
//!     .logout_service(spid_sp::Binding::Redirect, "https://sp.example.it/spid/slo") // metadata needs one
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
// docs.rs (`--cfg docsrs`, nightly): every item behind a cargo feature is labelled with it.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

// One public name per type. The core vocabulary lives in private modules and is
// re-exported here, once; the public modules below are namespaces whose items are not
// re-exported at the root. No type of the XML parser (roxmltree) is part of the API: the
// node-level functions are crate-visible, reachable by tests and fuzz targets through the
// hidden `fuzzing` module only.

mod authn_request;
/// xorshift64: the deterministic generator of the randomised unit tests (no dependency).
#[cfg(test)]
pub(crate) fn test_rng(mut state: u64) -> impl FnMut() -> u64 {
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    }
}
mod b64;
mod binding_kind;
mod config;
#[cfg(feature = "config")]
mod description;
mod error;
mod federation;
mod identity;
mod idp_set;
mod ids;
mod level;
mod logout;
mod metrics;
mod observe;
mod pending;
mod printable;
mod response;
mod sp;
mod time;

pub mod audit;
#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub mod axum;
pub mod binding;
pub mod certificates;
pub mod cns;
pub mod danger;
pub mod dsig;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
#[cfg(feature = "gateway")]
#[cfg_attr(docsrs, doc(cfg(feature = "gateway")))]
pub mod gateway;
pub mod metadata;
#[cfg(feature = "oidc")]
#[cfg_attr(docsrs, doc(cfg(feature = "oidc")))]
pub mod oidc;
pub mod saml;
pub mod store;
#[cfg(feature = "config")]
#[cfg_attr(docsrs, doc(cfg(feature = "config")))]
pub mod tenant;
#[cfg(feature = "tenants")]
#[cfg_attr(docsrs, doc(cfg(feature = "tenants")))]
pub mod tenants;
#[cfg(feature = "test-idp")]
#[cfg_attr(docsrs, doc(cfg(feature = "test-idp")))]
pub mod test_idp;
pub mod xml;

pub use authn_request::{AcsChoice, LoginOptions, Purpose};
pub use binding::message::{Delivery, Incoming, Outgoing};
pub use binding_kind::Binding;
pub use config::{
    AssertionConsumerService, AttributeService, ConfigError, LogoutService, PublishedCertificate,
    SpConfig, SpConfigBuilder,
};
#[cfg(feature = "config")]
#[cfg_attr(docsrs, doc(cfg(feature = "config")))]
pub use description::{
    AggregatorDescription, AttributeServiceDescription, CertificateDescription, DescriptionError,
    LogoutServiceDescription, MetadataDescription, SpDescription, TenantDescription,
};
pub use dsig::keys::{KeyError, SigningKey, VerificationKey};
pub use error::{IdpRefusal, LoginError, RejectReason, Signed, StartError};
pub use federation::{Federation, FederationRules};
pub use identity::{
    Attributes, CnsError, Domicile, EidasIdError, EidasPersonId, FiscalCode, FiscalCodeError,
    FiscalCodeKind, Gender, IdCard, Identity, IdentityKey, IdentitySource, VatNumber,
    SPID_ATTRIBUTE_NAMES,
};
pub use idp_set::IdpSet;
pub use ids::{AssertionId, EntityId, NameId, RandomError, RelayState, RequestId};
pub use level::{Comparison, SpidLevel};
pub use logout::{LogoutOutcome, LogoutRequestInfo, PendingLogout};
pub use metrics::Metrics;
pub use pending::PendingLogin;
pub use sp::{DeferredLogin, DeferredRecord, ServiceProvider, SessionInfo, VerifiedLogin};
pub use time::{Clock, Date, FixedClock, SystemClock, TimeFormatError, Timestamp};

/// The former duplicate paths are gone (one public name per type); each is a compile
/// error, e.g. the module paths of root types:
///
/// ```compile_fail,E0603
/// use spid_sp::level::SpidLevel;
/// ```
///
/// ```compile_fail,E0603
/// use spid_sp::identity::Identity;
/// ```
///
/// ```compile_fail,E0603
/// use spid_sp::binding::Incoming;
/// ```
///
/// ```compile_fail,E0603
/// use spid_sp::dsig::SigningKey;
/// ```
///
/// ```compile_fail,E0603
/// use spid_sp::axum::SessionStore;
/// ```
///
/// ```compile_fail,E0603
/// use spid_sp::store::memory::MemoryPendingStore;
/// ```
///
/// ```compile_fail,E0603
/// use spid_sp::response::status::IdpRefusal;
/// ```
///
/// ```compile_fail,E0603
/// use spid_sp::saml::Binding;
/// ```
///
/// and no type of the XML parser is public:
///
/// ```compile_fail,E0603
/// use spid_sp::xml::Node;
/// ```
///
/// ```compile_fail,E0603
/// let _ = spid_sp::xml::parse("<a/>", &spid_sp::xml::Limits::MESSAGE);
/// ```
///
/// ```compile_fail,E0603
/// use spid_sp::dsig::Verified;
/// ```
///
/// while the root names compile:
///
/// ```
/// use spid_sp::{Identity, Incoming, SigningKey, SpidLevel};
/// use spid_sp::store::{MemoryPendingStore, SessionStore};
/// use spid_sp::xml::{Limits, XmlError};
/// ```
#[cfg(doctest)]
pub struct FormerPaths;
