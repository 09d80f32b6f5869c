//! `[gateway.cns]`: "Entra con CNS" in the gateway (docs/cns.md "Login flow",
//! docs/gateway.md). The trust (AgID's signed list with its pinned signers, or pinned CA
//! certificates), the CRLs, the card policy, and where the card is read: the gateway's
//! own TLS listener (`listen`) and/or a reverse proxy's header (`proxy_header` from
//! `proxies` only). The header is removed from every request forwarded upstream. The
//! trust and the CRLs are re-read while running ([`CnsRuntime::reload`]): CRLs are
//! reissued every few days, and a card is refused against a CRL past its nextUpdate.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use axum::http::HeaderName;
use serde::Deserialize;

use super::GatewayError;
use crate::axum::{CnsConfig, CnsTlsListener, CnsTrust, SpidAuth};
use crate::cns::{CnsPolicy, Crl, TrustList};
use crate::dsig::VerificationKey;
use crate::level::SpidLevel;

/// `[gateway.cns]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CnsSettings {
    /// AgID's trusted list (TSL-IT.xml), verified against `trust_list_signers`.
    #[serde(default)]
    pub trust_list: Option<PathBuf>,
    /// The pinned signer certificates of the trusted list (PEM files).
    #[serde(default)]
    pub trust_list_signers: Vec<PathBuf>,
    /// Or: CA certificates pinned by the deployment (one PEM bundle).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// CRLs (PEM or DER), read at start and re-read when changed (`reload_secs`, SIGHUP).
    #[serde(default)]
    pub crl_files: Vec<PathBuf>,
    /// Refuse a card whose CA has no current CRL here (default false).
    #[serde(default)]
    pub require_crl: bool,
    /// Accept the CIE card's certificate on the same path (default false).
    #[serde(default)]
    pub accept_cie: bool,
    /// The level of a card login (default 2).
    #[serde(default = "default_level")]
    pub level: u8,
    /// The gateway's own TLS listener for the card (e.g. `0.0.0.0:8443`).
    #[serde(default)]
    pub listen: Option<String>,
    /// Its server certificate chain and key (PEM).
    #[serde(default)]
    pub tls_certificate: Option<PathBuf>,
    /// The key of `tls_certificate`.
    #[serde(default)]
    pub tls_key: Option<PathBuf>,
    /// The public URL of `/spid/cns/certificate` (default: on `listen`, the base URL's host).
    #[serde(default)]
    pub endpoint: Option<String>,
    /// Reverse-proxy mode: the header with the card (nginx `$ssl_client_escaped_cert`).
    #[serde(default)]
    pub proxy_header: Option<String>,
    /// The proxies' addresses: the header is read from these peers only.
    #[serde(default)]
    pub proxies: Vec<String>,
}

fn default_level() -> u8 {
    2
}

fn invalid(field: &str, reason: impl Into<String>) -> GatewayError {
    GatewayError::Invalid {
        field: format!("gateway.cns.{field}"),
        reason: reason.into(),
    }
}

fn read(path: &Path) -> Result<Vec<u8>, GatewayError> {
    std::fs::read(path).map_err(|e| GatewayError::Read {
        path: path.to_owned(),
        reason: e.to_string(),
    })
}

impl CnsSettings {
    /// Resolves relative paths against the config file's directory.
    pub(super) fn join(&mut self, dir: &Path) {
        let join = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = dir.join(&*p);
            }
        };
        for p in [
            &mut self.trust_list,
            &mut self.ca_file,
            &mut self.tls_certificate,
            &mut self.tls_key,
        ]
        .into_iter()
        .flatten()
        {
            join(p);
        }
        self.trust_list_signers.iter_mut().for_each(join);
        self.crl_files.iter_mut().for_each(join);
    }

    /// The header removed from every request forwarded upstream.
    pub(super) fn header(&self) -> Result<Option<HeaderName>, GatewayError> {
        self.proxy_header
            .as_deref()
            .map(|h| {
                HeaderName::try_from(h).map_err(|_| invalid("proxy_header", "not a header name"))
            })
            .transpose()
    }

    fn listen_addr(&self) -> Result<Option<SocketAddr>, GatewayError> {
        self.listen
            .as_deref()
            .map(|l| l.parse().map_err(|_| invalid("listen", "not an address")))
            .transpose()
    }

    /// The trust the cards are checked against: AgID's list (its signature verified
    /// against the pinned signers) or the pinned CA certificates.
    fn load_trust(&self) -> Result<TrustList, GatewayError> {
        Ok(match (&self.trust_list, &self.ca_file) {
            (Some(tsl), None) => {
                if self.trust_list_signers.is_empty() {
                    return Err(invalid(
                        "trust_list_signers",
                        "a trusted list needs its pinned signers",
                    ));
                }
                let signers = self
                    .trust_list_signers
                    .iter()
                    .map(|p| {
                        VerificationKey::from_certificate_pem(&read(p)?)
                            .map_err(|e| invalid("trust_list_signers", e.to_string()))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let xml = String::from_utf8(read(tsl)?)
                    .map_err(|_| invalid("trust_list", "not UTF-8"))?;
                TrustList::from_tsl(&xml, &signers)
                    .map_err(|e| invalid("trust_list", e.to_string()))?
            }
            (None, Some(ca)) => TrustList::from_ca_certificates(&read(ca)?)
                .map_err(|e| invalid("ca_file", e.to_string()))?,
            _ => {
                return Err(invalid(
                    "trust_list",
                    "give exactly one of trust_list and ca_file",
                ))
            }
        })
    }

    fn load_crls(&self) -> Result<Vec<Crl>, GatewayError> {
        self.crl_files
            .iter()
            .map(|p| Crl::parse(&read(p)?).map_err(|e| invalid("crl_files", e.to_string())))
            .collect()
    }

    /// SHA-256 over every trust and CRL file (name, length, bytes): what a reload compares.
    fn fingerprint(&self) -> Result<[u8; 32], GatewayError> {
        let mut h = openssl::sha::Sha256::new();
        let files = [&self.trust_list, &self.ca_file]
            .into_iter()
            .flatten()
            .chain(&self.trust_list_signers)
            .chain(&self.crl_files);
        for p in files {
            let bytes = read(p)?;
            h.update(p.as_os_str().as_encoded_bytes());
            h.update(&(bytes.len() as u64).to_be_bytes());
            h.update(&bytes);
        }
        Ok(h.finish())
    }

    /// The integration's CNS settings (files read, list verified) and the handle that
    /// reloads them.
    pub(super) fn start(&self, base_url: &str) -> Result<(CnsConfig, CnsRuntime), GatewayError> {
        let fingerprint = self.fingerprint()?;
        let trust = CnsTrust::new(self.load_trust()?);
        trust.set_crls(self.load_crls()?);
        let runtime = CnsRuntime {
            settings: self.clone(),
            header: self.header()?,
            trust: trust.clone(),
            loaded: Mutex::new(fingerprint),
        };
        Ok((self.config(trust, base_url)?, runtime))
    }

    fn config(&self, trust: CnsTrust, base_url: &str) -> Result<CnsConfig, GatewayError> {
        let level =
            SpidLevel::from_number(self.level).ok_or_else(|| invalid("level", "1, 2 or 3"))?;
        let policy = CnsPolicy::default()
            .level(level)
            .accept_cie(self.accept_cie)
            .require_crl(self.require_crl);
        let endpoint = match (&self.endpoint, self.listen_addr()?) {
            (Some(e), _) => e.clone(),
            (None, Some(addr)) => {
                let host = base_url
                    .split_once("://")
                    .map_or("", |(_, r)| r)
                    .split(['/', ':'])
                    .next()
                    .unwrap_or("");
                format!("https://{host}:{}/spid/cns/certificate", addr.port())
            }
            (None, None) => return Err(invalid("endpoint", "give listen or endpoint")),
        };
        if !endpoint.starts_with("https://") {
            return Err(invalid(
                "endpoint",
                "must be an https URL (the card is asked over TLS)",
            ));
        }
        let mut config = CnsConfig::new(trust, endpoint)
            .policy(policy)
            .return_origin(base_url);
        if let Some(h) = self.header()? {
            if self.proxies.is_empty() {
                return Err(invalid(
                    "proxies",
                    "proxy_header needs the proxies' addresses",
                ));
            }
            let ips = self
                .proxies
                .iter()
                .map(|p| {
                    p.parse::<IpAddr>()
                        .map_err(|_| invalid("proxies", "not an IP address"))
                })
                .collect::<Result<Vec<_>, _>>()?;
            config = config.trusted_proxy(h, &ips);
        }
        Ok(config)
    }

    /// Starts the TLS listener (when `listen` is set); must run inside the runtime.
    pub(super) async fn spawn_listener(
        &self,
        auth: &SpidAuth,
    ) -> Result<Option<SocketAddr>, GatewayError> {
        let Some(addr) = self.listen_addr()? else {
            return Ok(None);
        };
        let (Some(cert), Some(key)) = (&self.tls_certificate, &self.tls_key) else {
            return Err(invalid(
                "tls_certificate",
                "listen needs tls_certificate and tls_key",
            ));
        };
        let acceptor = CnsTlsListener::acceptor(&read(cert)?, &read(key)?)
            .map_err(|e| invalid("tls_certificate", e.to_string()))?;
        let tcp = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| GatewayError::Setup(format!("cannot listen on {addr}: {e}")))?;
        let local = tcp
            .local_addr()
            .map_err(|e| GatewayError::Setup(e.to_string()))?;
        let listener =
            CnsTlsListener::new(tcp, acceptor).map_err(|e| GatewayError::Setup(e.to_string()))?;
        let auth = auth.clone();
        tokio::spawn(async move {
            if let Err(e) = listener.serve(&auth).await {
                tracing::error!(target: "spid_sp::gateway", error = %e, "CNS TLS listener stopped");
            }
        });
        Ok(Some(local))
    }
}

/// `[gateway.cns]` while the gateway runs: its settings, the card header, and the trust
/// and CRLs the integration checks cards against.
#[derive(Debug)]
pub(super) struct CnsRuntime {
    pub(super) settings: CnsSettings,
    /// The card header, removed from every request forwarded upstream.
    pub(super) header: Option<HeaderName>,
    trust: CnsTrust,
    /// [`CnsSettings::fingerprint`] of what is loaded.
    loaded: Mutex<[u8; 32]>,
}

impl CnsRuntime {
    /// Re-reads the trust (list or CA file) and the CRL files; when any of them changed
    /// and all of them load, swaps both in at once (`Ok(true)`). When one cannot be read
    /// or does not load, the current trust and CRLs stay (`Err`). Blocking.
    pub(super) fn reload(&self) -> Result<bool, GatewayError> {
        let s = &self.settings;
        let fingerprint = s.fingerprint()?;
        let mut loaded = self
            .loaded
            .lock()
            .map_err(|_| GatewayError::Setup("CNS reload lock poisoned".into()))?;
        if *loaded == fingerprint {
            return Ok(false);
        }
        let (trust, crls) = (s.load_trust()?, s.load_crls()?);
        let count = crls.len();
        self.trust.set_trust_list(trust);
        self.trust.set_crls(crls);
        *loaded = fingerprint;
        tracing::info!(target: "spid_sp::gateway", crls = count, "CNS trust and CRLs reloaded");
        Ok(true)
    }
}
