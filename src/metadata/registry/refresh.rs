//! Download over HTTP(S) with timeouts and a size cap; verification before use (feature
//! `refresh`).

use std::io::Read as _;
use std::time::Duration;

use super::{
    LoadOutcome, MetadataSource, Registry, RegistryError, RegistryTrust, VerifiedMetadata,
};
use crate::time::Timestamp;
use crate::xml::Limits;

/// A download failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// Only `http://` and `https://` URLs are fetched.
    #[error("only http and https URLs can be fetched")]
    Scheme,
    /// Unsigned metadata (CIE) is trusted because of where it comes from: only over
    /// https, redirects included.
    #[error("unsigned metadata is only fetched over https")]
    InsecureUnsigned,
    /// A plain-http URL: metadata is fetched over https only (signed sources too),
    /// unless [`Fetcher::allow_plain_http`] was set for a loopback test server.
    #[error("metadata is only fetched over https")]
    PlainHttp,
    /// The server answered with an error status.
    #[error("server answered HTTP {0}")]
    Status(u16),
    /// Larger than the metadata size limit.
    #[error("document larger than {0} bytes")]
    TooLarge(usize),
    /// A redirect without a usable `Location` (missing, relative, or not http(s)).
    #[error("unusable redirect")]
    BadRedirect,
    /// More than [`MAX_REDIRECTS`] redirects.
    #[error("too many redirects")]
    TooManyRedirects,
    /// Connection, TLS, timeout or protocol failure.
    #[error("download failed: {0}")]
    Transport(String),
}

/// A refresh did not replace the copy in use.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RefreshError {
    /// The download failed.
    #[error(transparent)]
    Fetch(#[from] FetchError),
    /// The document was refused (bad signature, expired, malformed...).
    #[error(transparent)]
    Rejected(#[from] RegistryError),
}

/// A blocking HTTP(S) client for metadata: a global timeout per download, redirects
/// limited, the body capped at [`Limits::METADATA`]'s size, TLS verified against the
/// system's roots (through the system OpenSSL).
#[derive(Clone, Debug)]
pub struct Fetcher {
    agent: ureq::Agent,
    max_bytes: usize,
    plain_http_loopback: bool,
}

/// The explicit acknowledgement that plain http is for a test server on loopback
/// ([`Fetcher::allow_plain_http`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlainHttp {
    /// Tests serving metadata from `127.0.0.0/8`, `[::1]` or `localhost` only.
    OnlyForLoopbackTests,
}

/// The HTTPS client of every download the SDK makes (metadata, CRLs, the OpenID Connect
/// back channel): platform TLS roots, one global `timeout` per call, no redirect followed
/// by the client (callers check each hop themselves), statuses returned, not errors.
pub(crate) fn agent_without_redirects(timeout: Duration) -> ureq::Agent {
    let tls = ureq::tls::TlsConfig::builder()
        .provider(ureq::tls::TlsProvider::NativeTls)
        .root_certs(ureq::tls::RootCerts::PlatformVerifier)
        .build();
    ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .max_redirects(0)
        .http_status_as_error(false)
        .tls_config(tls)
        .user_agent(concat!("spid-sp/", env!("CARGO_PKG_VERSION")))
        .build()
        .new_agent()
}

impl Fetcher {
    /// A client whose every download must complete within `timeout`.
    pub fn new(timeout: Duration) -> Fetcher {
        Fetcher {
            // Redirects are followed by `fetch_located`, which checks every hop.
            agent: agent_without_redirects(timeout),
            max_bytes: Limits::METADATA.max_bytes,
            plain_http_loopback: false,
        }
    }

    /// Lets signed sources be downloaded over plain http from a loopback host (a test
    /// server). Other hosts stay https-only, and unsigned sources (CIE) always are.
    #[must_use]
    pub fn allow_plain_http(mut self, mode: PlainHttp) -> Fetcher {
        let PlainHttp::OnlyForLoopbackTests = mode;
        self.plain_http_loopback = true;
        self
    }

    /// Downloads `url` over https (plain http only from a loopback host, and only
    /// with [`Fetcher::allow_plain_http`]). Redirects are followed (at most 3), each hop
    /// under the same rule.
    pub fn fetch(&self, url: &str) -> Result<Vec<u8>, FetchError> {
        self.fetch_located(url, false).map(|(body, _)| body)
    }

    /// Downloads `url` over https only (redirects included).
    pub fn fetch_https(&self, url: &str) -> Result<Vec<u8>, FetchError> {
        self.fetch_located(url, true).map(|(body, _)| body)
    }

    /// Whether `url` may be requested: https always; plain http only from a loopback
    /// host with [`Fetcher::allow_plain_http`], and never when `https_only`.
    fn check_url(&self, url: &str, https_only: bool) -> Result<(), FetchError> {
        if url.starts_with("https://") {
            return Ok(());
        }
        if !url.starts_with("http://") {
            return Err(if https_only {
                FetchError::InsecureUnsigned
            } else {
                FetchError::Scheme
            });
        }
        if https_only {
            return Err(FetchError::InsecureUnsigned);
        }
        if !self.plain_http_loopback || !is_loopback_http(url) {
            return Err(FetchError::PlainHttp);
        }
        Ok(())
    }

    /// Downloads `url`, following at most [`MAX_REDIRECTS`] redirects itself so that
    /// every hop is checked ([`Fetcher::check_url`]) before it is requested; returns the
    /// body and the URL it finally came from.
    pub(crate) fn fetch_located(
        &self,
        url: &str,
        https_only: bool,
    ) -> Result<(Vec<u8>, String), FetchError> {
        let mut current = url.to_owned();
        for _ in 0..=MAX_REDIRECTS {
            self.check_url(&current, https_only)?;
            let response = self.agent.get(current.as_str()).call().map_err(|e| {
                FetchError::Transport(crate::printable::printable(&e.to_string(), 300))
            })?;
            let status = response.status().as_u16();
            if matches!(status, 301 | 302 | 303 | 307 | 308) {
                let location = response
                    .headers()
                    .get("location")
                    .and_then(|v| v.to_str().ok())
                    .ok_or(FetchError::BadRedirect)?;
                current = resolve_location(&current, location).ok_or(FetchError::BadRedirect)?;
                continue;
            }
            if status != 200 {
                return Err(FetchError::Status(status));
            }
            let mut body = Vec::new();
            let limit = u64::try_from(self.max_bytes).unwrap_or(u64::MAX);
            response
                .into_body()
                .into_reader()
                .take(limit.saturating_add(1))
                .read_to_end(&mut body)
                .map_err(|e| {
                    FetchError::Transport(crate::printable::printable(&e.to_string(), 300))
                })?;
            if body.len() > self.max_bytes {
                return Err(FetchError::TooLarge(self.max_bytes));
            }
            return Ok((body, current));
        }
        Err(FetchError::TooManyRedirects)
    }
}

/// At most this many redirects per download.
pub const MAX_REDIRECTS: usize = 3;

/// The absolute URL a `Location` header points to from `base`: an absolute http(s) URL,
/// or an absolute path on the same origin. Anything else (relative paths,
/// scheme-relative `//host`, control characters) is refused.
pub(crate) fn resolve_location(base: &str, location: &str) -> Option<String> {
    let location = location.trim();
    if location.is_empty() || location.len() > 2048 || location.chars().any(char::is_control) {
        return None;
    }
    if location.starts_with("https://") || location.starts_with("http://") {
        return Some(location.to_owned());
    }
    if location.starts_with('/') && !location.starts_with("//") {
        let scheme_end = base.find("://")?.checked_add(3)?;
        let rest = base.get(scheme_end..)?;
        let authority_len = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let origin = base.get(..scheme_end.checked_add(authority_len)?)?;
        return Some(format!("{origin}{location}"));
    }
    None
}

/// `http://HOST[:PORT]/...` with HOST `localhost`, `127.x.y.z` or `[::1]`.
fn is_loopback_http(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.contains('@') {
        return false;
    }
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => authority.split(':').next().unwrap_or(""),
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl Default for Fetcher {
    /// A 30-second timeout.
    fn default() -> Self {
        Fetcher::new(Duration::from_secs(30))
    }
}

/// Downloads `url` and verifies it as `source` metadata; returns the bytes and the
/// verified document (write the bytes to disk only after this succeeds). Unsigned
/// sources (CIE) are only fetched over https.
pub fn fetch_verified(
    source: MetadataSource,
    url: &str,
    trust: &RegistryTrust,
    fetcher: &Fetcher,
    now: Timestamp,
) -> Result<(Vec<u8>, VerifiedMetadata), RefreshError> {
    let (bytes, _) = fetcher.fetch_located(url, !source.is_signed())?;
    let verified = super::verify_metadata(source, &bytes, trust, now)?;
    Ok((bytes, verified))
}

impl Registry {
    /// Downloads `url`, verifies it as `source` metadata and replaces the copy in use.
    /// On any failure (network, status, size, XML, signature, `validUntil`) the last
    /// good copy stays in use and the error says why.
    pub fn refresh(
        &mut self,
        source: MetadataSource,
        url: &str,
        fetcher: &Fetcher,
        now: Timestamp,
    ) -> Result<LoadOutcome, RefreshError> {
        let span = tracing::info_span!(
            target: super::set::TARGET,
            "registry_refresh",
            source = source.as_str()
        );
        let _entered = span.enter();
        let result = fetch_verified(source, url, &self.trust, fetcher, now)
            .and_then(|(_, verified)| Ok(self.install_verified(verified)?));
        let code = |e: &RefreshError| match e {
            RefreshError::Fetch(_) => "fetch-failed",
            RefreshError::Rejected(r) => super::set::registry_code(r),
        };
        self.installed_event(source, result.as_ref().map_err(|e| (code(e), e as _)));
        result
    }
}
