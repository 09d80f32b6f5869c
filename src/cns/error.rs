//! Why a card certificate or a trust list was refused: typed, with stable codes, without
//! personal data (no subject, no fiscal code, no serial number in any message).

use crate::dsig::DsigError;
use crate::identity::CnsError;

/// Why a client certificate was not accepted as a CNS login. [`CnsRejection::code`] is a
/// stable short name for logs, metrics and tests.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CnsRejection {
    /// Not a DER or PEM certificate, or larger than the input limit.
    #[error("client certificate is not a readable X.509 certificate")]
    Malformed,
    /// The certificate is a CA certificate (basicConstraints cA), not a card certificate.
    #[error("client certificate is a CA certificate")]
    NotEndEntity,
    /// The trust list holds no CA active at this instant (a configuration problem).
    #[error("no trusted CNS certification authority is active")]
    NoTrustAnchor,
    /// No chain to a CA of the trust list that is active at this instant.
    #[error("client certificate was not issued by a trusted CNS certification authority")]
    UntrustedIssuer,
    /// The chain does not verify (signature, names, CA constraints, path length).
    #[error("certificate chain does not verify ({0})")]
    Chain(&'static str),
    /// The certificate is not yet valid at the injected clock.
    #[error("client certificate is not yet valid")]
    NotYetValid,
    /// The certificate has expired at the injected clock.
    #[error("client certificate has expired")]
    Expired,
    /// A CA certificate of the chain is outside its validity at the injected clock.
    #[error("a certification authority of the chain is not valid at this time")]
    IssuerExpired,
    /// keyUsage missing, without digitalSignature, or with nonRepudiation (a signing
    /// certificate, not an authentication one).
    #[error("client certificate key usage is not the one of an authentication certificate")]
    KeyUsage,
    /// extendedKeyUsage present without clientAuth.
    #[error("client certificate extended key usage does not allow client authentication")]
    ExtendedKeyUsage,
    /// None of the accepted certificate policies (CNS, and CIE when enabled).
    #[error("client certificate does not carry an accepted certificate policy")]
    Policy,
    /// The certificate is on its issuer's CRL.
    #[error("client certificate is revoked")]
    Revoked,
    /// The policy requires a CRL and none from the certificate's issuer was given.
    #[error("no certificate revocation list for the issuer")]
    CrlMissing,
    /// A CRL of the issuer does not verify with the issuer's key.
    #[error("certificate revocation list signature does not verify")]
    CrlSignature,
    /// The issuer's CRL is past its nextUpdate (or has none) at the injected clock.
    #[error("certificate revocation list has expired")]
    CrlExpired,
    /// A CRL given by the application is not a readable DER or PEM CRL.
    #[error("certificate revocation list is not readable")]
    CrlMalformed,
    /// The issuer's CRL has a thisUpdate in the future of the injected clock.
    #[error("certificate revocation list is not yet valid")]
    CrlNotYetValid,
    /// No fiscal code could be read from the subject.
    #[error("{0}")]
    Subject(CnsError),
    /// The cryptographic library failed.
    #[error("cryptographic error")]
    Crypto,
}

impl CnsRejection {
    /// A stable short name: `cns-` and the rule.
    pub fn code(&self) -> &'static str {
        use CnsRejection::*;
        match self {
            Malformed => "cns-certificate-malformed",
            NotEndEntity => "cns-not-end-entity",
            NoTrustAnchor => "cns-no-trust-anchor",
            UntrustedIssuer => "cns-untrusted-issuer",
            Chain(_) => "cns-chain-invalid",
            NotYetValid => "cns-not-yet-valid",
            Expired => "cns-expired",
            IssuerExpired => "cns-issuer-expired",
            KeyUsage => "cns-key-usage",
            ExtendedKeyUsage => "cns-extended-key-usage",
            Policy => "cns-policy",
            Revoked => "cns-revoked",
            CrlMissing => "cns-crl-missing",
            CrlSignature => "cns-crl-signature",
            CrlExpired => "cns-crl-expired",
            CrlNotYetValid => "cns-crl-not-yet-valid",
            CrlMalformed => "cns-crl-malformed",
            Subject(CnsError::InvalidFiscalCode(_)) => "cns-fiscal-code",
            Subject(_) => "cns-subject",
            Crypto => "cns-crypto",
        }
    }
}

impl From<openssl::error::ErrorStack> for CnsRejection {
    fn from(_: openssl::error::ErrorStack) -> Self {
        CnsRejection::Crypto
    }
}

/// Why a trust list (or a set of pinned CA certificates) was not loaded. The application
/// keeps its last good [`TrustList`](super::TrustList).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TslError {
    /// The XML reader refused the document (size, depth, DTD, well-formedness).
    #[error("trust list refused by the XML reader")]
    Xml,
    /// The signature does not verify with the pinned signer certificates.
    #[error("trust list signature: {0}")]
    Signature(DsigError),
    /// Not a `TrustServiceStatusList` of the expected shape (ETSI TS 119 612).
    #[error("trust list structure: {0}")]
    Structure(&'static str),
    /// A sequence number not greater than the one of the list in use (rollback).
    #[error("trust list sequence number {new} is not newer than {current}")]
    Rollback {
        /// The sequence number of the list offered.
        new: u64,
        /// The sequence number of the list in use.
        current: u64,
    },
    /// A CA certificate in the list (or given to pin) could not be read.
    #[error("unreadable CA certificate in the trust list")]
    Certificate,
    /// No CA certificate at all.
    #[error("the trust list holds no CNS certification authority")]
    Empty,
}

impl TslError {
    /// A stable short name: `tsl-` and the rule.
    pub fn code(&self) -> &'static str {
        match self {
            TslError::Xml => "tsl-xml",
            TslError::Signature(_) => "tsl-signature",
            TslError::Structure(_) => "tsl-structure",
            TslError::Rollback { .. } => "tsl-rollback",
            TslError::Certificate => "tsl-certificate",
            TslError::Empty => "tsl-empty",
        }
    }
}
