//! Downloading the trusted list (feature `refresh`): the metadata [`Fetcher`]'s https
//! client, then [`TrustList::refresh`]. The caller keeps its current list on any error.

use super::error::{CnsRejection, TslError};
use super::tsl::TrustList;
use super::verify::Crl;
use crate::dsig::VerificationKey;
use crate::metadata::{FetchError, Fetcher};

/// Why a downloaded trusted list did not replace the one in use.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TslRefreshError {
    /// The download failed.
    #[error(transparent)]
    Fetch(#[from] FetchError),
    /// The list was refused (signature, structure, rollback...).
    #[error(transparent)]
    Rejected(#[from] TslError),
}

impl TslRefreshError {
    /// A stable short name: `tsl-fetch`, or the [`TslError`] code.
    pub fn code(&self) -> &'static str {
        match self {
            TslRefreshError::Fetch(_) => "tsl-fetch",
            TslRefreshError::Rejected(e) => e.code(),
        }
    }
}

/// Downloads the trusted list at `url` (e.g. [`TSL_IT_URL`](super::TSL_IT_URL); https,
/// or plain http from loopback only when the fetcher allows it for tests; redirects
/// checked; body capped by the fetcher at 8 MiB) and verifies it against `signers` as a
/// successor of `current` ([`TrustList::refresh`]: no rollback). On error keep `current`.
/// Logs the outcome once (code only).
pub fn fetch_trust_list(
    fetcher: &Fetcher,
    url: &str,
    current: &TrustList,
    signers: &[VerificationKey],
) -> Result<TrustList, TslRefreshError> {
    let result = fetcher
        .fetch(url)
        .map_err(TslRefreshError::from)
        .and_then(|body| String::from_utf8(body).map_err(|_| TslError::Xml.into()))
        .and_then(|xml| {
            current
                .refresh(&xml, signers)
                .map_err(TslRefreshError::from)
        });
    // Verification outcomes are logged by `TrustList::refresh`; the download's here.
    if let Err(TslRefreshError::Fetch(_)) = &result {
        tracing::warn!(
            target: "spid_sp::cns",
            outcome = "tsl-fetch",
            "trusted list download failed; the current list is kept"
        );
    }
    result
}

/// Why a downloaded CRL cannot be used (the caller keeps the one it has).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CrlFetchError {
    /// The download failed.
    #[error(transparent)]
    Fetch(#[from] FetchError),
    /// The bytes are not a CRL ([`CnsRejection::CrlMalformed`]).
    #[error(transparent)]
    Rejected(#[from] CnsRejection),
}

impl CrlFetchError {
    /// A stable short name: `crl-fetch`, or the [`CnsRejection`] code.
    pub fn code(&self) -> &'static str {
        match self {
            CrlFetchError::Fetch(_) => "crl-fetch",
            CrlFetchError::Rejected(e) => e.code(),
        }
    }
}

/// Downloads a CRL (PEM or DER) from `url` — a CA's CRL distribution point — with the
/// metadata [`Fetcher`] (https, or plain http from loopback only when the fetcher allows
/// it for tests; body capped by the fetcher) and parses it. Its signature, issuer and dates
/// are checked at each use by [`CnsVerifier`](super::CnsVerifier), never here: a forged or
/// stale CRL downloaded here is refused when a card is checked against it. The caller keeps
/// its current CRL on error and refreshes before [`Crl::next_update`]. Logs failures once
/// (code only).
pub fn fetch_crl(fetcher: &Fetcher, url: &str) -> Result<Crl, CrlFetchError> {
    let result = fetcher
        .fetch(url)
        .map_err(CrlFetchError::from)
        .and_then(|body| Crl::parse(&body).map_err(CrlFetchError::from));
    if let Err(e) = &result {
        tracing::warn!(
            target: "spid_sp::cns",
            outcome = e.code(),
            "CRL download failed; the current CRL is kept"
        );
    }
    result
}
