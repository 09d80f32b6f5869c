//! CNS (Carta Nazionale dei Servizi, TS-CNS) smart-card logins: the trust list of the
//! CNS-issuing certification authorities and the verification of a TLS client certificate
//! into the same [`Identity`](crate::Identity) as SPID and CIE (docs/cns.md).
//!
//! Two halves, no I/O:
//!
//! - **Trust** ([`TrustList`]): the CAs a card certificate may chain to. Either AgID's
//!   trusted list (TSL-IT, ETSI TS 119 612), whose XML signature is verified with the
//!   crate's own [`dsig`](crate::dsig) under its own explicit policy
//!   ([`dsig::verify_trusted_list`](crate::dsig::verify_trusted_list)) against a pinned
//!   signer certificate, then parsed with the crate's XML reader under
//!   [`TSL_LIMITS`](tsl::TSL_LIMITS); or a set of CA certificates the application pins
//!   itself ([`TrustList::from_ca_certificates`]). A `TrustList` is an immutable value: the
//!   application keeps the last good one and swaps in a new one only when it verified
//!   ([`TrustList::refresh`]); [`TrustList::warnings`] says when it is getting old.
//! - **Verification** ([`CnsVerifier`]): chain to a trusted CA active at the injected
//!   clock, validity, key usage, certificate policy, revocation through the CRLs the
//!   application supplies ([`Crl`]), then the fiscal code from the subject. Every refusal
//!   is a [`CnsRejection`] with a stable [`code`](CnsRejection::code).
//!
//! With feature `refresh`, [`fetch_trust_list`] downloads a newer list over https and
//! verifies it as [`TrustList::refresh`] does. With feature `test-idp`, [`test_pki`] makes a complete test PKI (CA, cards good and bad,
//! CRL, a signed synthetic trust list). Never for production.

mod error;
mod ext;
#[cfg(feature = "refresh")]
#[cfg_attr(docsrs, doc(cfg(feature = "refresh")))]
mod fetch;
mod header;
#[cfg(feature = "test-idp")]
#[cfg_attr(docsrs, doc(cfg(feature = "test-idp")))]
pub mod test_pki;
pub mod tsl;
mod verify;

pub use error::{CnsRejection, TslError};
#[cfg(feature = "refresh")]
#[cfg_attr(docsrs, doc(cfg(feature = "refresh")))]
pub use fetch::{fetch_crl, fetch_trust_list, CrlFetchError, TslRefreshError};
pub use header::certificate_from_header;
pub use tsl::{ServicePeriod, TrustList, TrustedCa, TslInfo, TslWarning};
pub use verify::{CardKind, CnsLogin, CnsPolicy, CnsVerifier, Crl};

/// Where AgID publishes the Italian trusted list.
pub const TSL_IT_URL: &str = "https://eidas.agid.gov.it/TL/TSL-IT.xml";

/// The certificate policy of CNS authentication certificates (AgID, "Struttura del
/// certificato di autenticazione CNS": "Identifies X.509 authentication certificates issued
/// for the italian National Service Card (CNS) project").
pub const POLICY_CNS: &str = "1.3.76.16.2.1";
/// The certificate policy of the authentication certificate of the electronic identity
/// card (CIE). Accepted only when [`CnsPolicy::accept_cie`] is set.
pub const POLICY_CIE: &str = "1.3.76.47.4";
/// Extended key usage `id-kp-clientAuth`.
pub const EKU_CLIENT_AUTH: &str = "1.3.6.1.5.5.7.3.2";
