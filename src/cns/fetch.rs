//! Downloading the trusted list (feature `refresh`): the metadata [`Fetcher`]'s https
//! client, then [`TrustList::refresh`]. The caller keeps its current list on any error.

use super::error::TslError;
use super::tsl::TrustList;
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
