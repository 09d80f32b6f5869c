//! The HTTPS implementation of [`FederationFetcher`] (feature `refresh`): the registry's
//! blocking client (global timeout, redirects checked hop by hop, TLS verified against
//! the system roots), https only unless plain http to loopback is allowed for tests,
//! bodies above 64 KiB refused.

use std::time::Duration;

use super::chain::FederationFetcher;
use super::jws::MAX_TOKEN_BYTES;
use crate::metadata::{Fetcher, PlainHttp};

/// Fetches entity configurations and subordinate statements over HTTPS.
#[derive(Clone, Debug)]
pub struct HttpFederationFetcher {
    inner: Fetcher,
}

impl HttpFederationFetcher {
    /// A fetcher whose every download completes within `timeout`.
    pub fn new(timeout: Duration) -> HttpFederationFetcher {
        HttpFederationFetcher {
            inner: Fetcher::new(timeout),
        }
    }

    /// Lets plain http reach loopback hosts (a local test federation), nothing else.
    #[must_use]
    pub fn allow_plain_http_loopback(self) -> HttpFederationFetcher {
        HttpFederationFetcher {
            inner: self.inner.allow_plain_http(PlainHttp::OnlyForLoopbackTests),
        }
    }
}

impl FederationFetcher for HttpFederationFetcher {
    fn fetch(&self, url: &str) -> Result<String, String> {
        let body = self.inner.fetch(url).map_err(|e| e.to_string())?;
        if body.len() > MAX_TOKEN_BYTES {
            return Err("body larger than 64 KiB".into());
        }
        let text = String::from_utf8(body).map_err(|_| "body not UTF-8".to_owned())?;
        Ok(text.trim().to_owned())
    }
}
