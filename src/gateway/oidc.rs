//! `[gateway.oidc]`: "Entra con CIE (OpenID Connect)" in the gateway (docs/gateway.md,
//! docs/oidc.md). The relying party joins one external federation: the trust anchor
//! (entity ID and its federation JWKS, pinned from a file), the OP users log in at, the
//! RP's three RSA keys (files, or generated once in `key_dir` like the SAML key) and the
//! trust mark(s) it holds. The RP's entity ID (`client_id`) is the gateway's base URL;
//! its callback is `{base_url}/spid/oidc/callback`. The back channel is the production
//! one ([`HttpBackChannel`]): HTTPS only, plain http to loopback only when
//! `allow_http_loopback` says so (local test federations).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;

use super::GatewayError;
use crate::axum::{HttpBackChannel, OidcSetup};
use crate::oidc::{Jwks, RelyingParty, RpConfig, RpKey, TrustAnchor};

/// The key files of the RP in `key_dir` (and the names of the explicit files' roles).
const KEY_FILES: [&str; 3] = ["federation.key.pem", "core-sig.key.pem", "core-enc.key.pem"];

/// `[gateway.oidc]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcSettings {
    /// The trust anchor's entity ID (its authority hint in the RP's Entity Configuration).
    pub trust_anchor: String,
    /// A file with the trust anchor's federation JWKS (JSON), pinned.
    pub trust_anchor_jwks: PathBuf,
    /// The OP's entity ID (e.g. the CIE identity server's).
    pub provider: String,
    /// Where the RP's keys are: `federation.key.pem`, `core-sig.key.pem`,
    /// `core-enc.key.pem` (RSA, PEM), created when missing. Default `<gateway.key_dir>/oidc`.
    #[serde(default)]
    pub key_dir: Option<PathBuf>,
    /// Or the three key files (federation, core signing, core encryption), all three.
    #[serde(default)]
    pub key_files: Vec<PathBuf>,
    /// Trust mark files the RP holds: the trust mark id on the first line, the JWT on the
    /// second (issued at onboarding).
    #[serde(default)]
    pub trust_marks: Vec<PathBuf>,
    /// `client_name` and `organization_name` of the Entity Configuration (default: the
    /// base URL).
    #[serde(default)]
    pub name: Option<String>,
    /// Plain http to loopback addresses on the back channel (local test federations
    /// only; default false).
    #[serde(default)]
    pub allow_http_loopback: bool,
    /// Timeout of each back-channel request, in seconds (default 10).
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
}

fn default_timeout() -> u64 {
    10
}

fn invalid(field: &str, reason: impl std::fmt::Display) -> GatewayError {
    GatewayError::Invalid {
        field: format!("gateway.oidc.{field}"),
        reason: reason.to_string(),
    }
}

fn setup(reason: impl std::fmt::Display) -> GatewayError {
    GatewayError::Setup(reason.to_string())
}

impl OidcSettings {
    /// Resolves relative paths against `dir` (the config file's).
    pub(crate) fn join(&mut self, dir: &Path) {
        let join = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = dir.join(&*p);
            }
        };
        join(&mut self.trust_anchor_jwks);
        if let Some(d) = self.key_dir.as_mut() {
            join(d);
        }
        self.key_files.iter_mut().for_each(join);
        self.trust_marks.iter_mut().for_each(join);
    }

    /// The relying party's keys: the files, else `key_dir` (created when missing).
    fn keys(&self, gateway_key_dir: Option<&Path>) -> Result<Vec<RpKey>, GatewayError> {
        let read = |path: &Path| read_key(path);
        if !self.key_files.is_empty() {
            if self.key_files.len() != KEY_FILES.len() {
                return Err(invalid(
                    "key_files",
                    "three files: federation, core signing, core encryption",
                ));
            }
            return self.key_files.iter().map(|p| read(p)).collect();
        }
        let dir = self.key_dir_of(gateway_key_dir)?;
        let mut keys = Vec::with_capacity(KEY_FILES.len());
        for name in KEY_FILES {
            let path = dir.join(name);
            if path.exists() {
                keys.push(read(&path)?);
                continue;
            }
            let pem = generate_pem().map_err(|_| setup("cannot create an RP key"))?;
            std::fs::create_dir_all(&dir).map_err(|e| setup(format!("{}: {e}", dir.display())))?;
            super::write_private(&path, &pem)
                .map_err(|e| setup(format!("{}: {e}", path.display())))?;
            tracing::warn!(target: "spid_sp::gateway", file = %path.display(), "created an OpenID Connect RP key");
            keys.push(read(&path)?);
        }
        Ok(keys)
    }

    /// The pinned JWKS of the trust anchor, the entity IDs checked, and the trust marks
    /// (id, JWT) read: everything of the section but the keys.
    fn anchor_and_marks(&self) -> Result<(Jwks, Vec<(String, String)>), GatewayError> {
        let text = std::fs::read(&self.trust_anchor_jwks).map_err(|e| GatewayError::Read {
            path: self.trust_anchor_jwks.clone(),
            reason: e.kind().to_string(),
        })?;
        let jwks = serde_json::from_slice::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| Jwks::from_value(&v).ok())
            .ok_or_else(|| invalid("trust_anchor_jwks", "not a JWKS (JSON)"))?;
        for (field, id) in [
            ("trust_anchor", &self.trust_anchor),
            ("provider", &self.provider),
        ] {
            if !(id.starts_with("https://") || id.starts_with("http://")) {
                return Err(invalid(field, "an entity ID (URL)"));
            }
        }
        let mut marks = Vec::with_capacity(self.trust_marks.len());
        for path in &self.trust_marks {
            let text = std::fs::read_to_string(path).map_err(|e| GatewayError::Read {
                path: path.clone(),
                reason: e.kind().to_string(),
            })?;
            let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
            match (lines.next(), lines.next()) {
                (Some(id), Some(jwt)) => marks.push((id.to_owned(), jwt.to_owned())),
                _ => {
                    return Err(invalid(
                        "trust_marks",
                        "id on the first line, JWT on the second",
                    ))
                }
            }
        }
        Ok((jwks, marks))
    }

    /// What `spid-sp gateway check` verifies of the section, creating nothing: the trust
    /// anchor's JWKS, the entity IDs, the trust mark files, and the RP's keys — explicit
    /// files must read, existing files in `key_dir` must read, missing ones are reported
    /// as created at the first start. Returns a one-line summary.
    pub(crate) fn check(&self, gateway_key_dir: Option<&Path>) -> Result<String, GatewayError> {
        let (jwks, marks) = self.anchor_and_marks()?;
        let keys = if self.key_files.is_empty() {
            let dir = self.key_dir_of(gateway_key_dir)?;
            let missing = KEY_FILES
                .iter()
                .filter(|name| !dir.join(name).exists())
                .count();
            for name in KEY_FILES {
                let path = dir.join(name);
                if path.exists() {
                    read_key(&path)?;
                }
            }
            match missing {
                0 => format!("RP keys in {}", dir.display()),
                n => format!(
                    "RP keys in {} ({n} created at the first start)",
                    dir.display()
                ),
            }
        } else {
            self.keys(gateway_key_dir)?;
            "RP key files ok".to_owned()
        };
        Ok(format!(
            "provider {}, trust anchor {} ({} pinned keys), {} trust marks, {keys}",
            self.provider,
            self.trust_anchor,
            jwks.keys().len(),
            marks.len()
        ))
    }

    /// The directory of the RP's keys when no explicit files are given.
    fn key_dir_of(&self, gateway_key_dir: Option<&Path>) -> Result<PathBuf, GatewayError> {
        match (&self.key_dir, gateway_key_dir) {
            (Some(d), _) => Ok(d.clone()),
            (None, Some(d)) => Ok(d.join("oidc")),
            (None, None) => Err(invalid(
                "key_dir",
                "set key_files, key_dir or gateway.key_dir",
            )),
        }
    }

    /// The relying party and its federation, for `SpidAuthBuilder::oidc`.
    pub(crate) fn setup(
        &self,
        base_url: &str,
        gateway_key_dir: Option<&Path>,
    ) -> Result<OidcSetup, GatewayError> {
        let (jwks, marks) = self.anchor_and_marks()?;
        let mut keys = self.keys(gateway_key_dir)?.into_iter();
        let (Some(fed), Some(sig), Some(enc)) = (keys.next(), keys.next(), keys.next()) else {
            return Err(setup("the RP needs three keys"));
        };
        let name = self.name.as_deref().unwrap_or(base_url);
        let mut config = RpConfig::new(
            base_url,
            &format!("{base_url}/spid/oidc/callback"),
            fed,
            sig,
            enc,
        )
        .map_err(|e| setup(format!("gateway.oidc: {e}")))?
        .names(name, name)
        .authority_hint(&self.trust_anchor);
        for (id, jwt) in &marks {
            config = config.trust_mark(id, jwt);
        }
        let mut back =
            HttpBackChannel::new(std::time::Duration::from_secs(self.timeout_secs.max(1)));
        if self.allow_http_loopback {
            back = back.allow_plain_http_loopback();
        }
        let anchor = TrustAnchor {
            entity_id: self.trust_anchor.clone(),
            jwks,
        };
        Ok(
            OidcSetup::new(RelyingParty::new(config), vec![anchor], Arc::new(back))
                .provider(&self.provider),
        )
    }
}

/// One RP key file (RSA, PEM).
fn read_key(path: &Path) -> Result<RpKey, GatewayError> {
    let pem = std::fs::read(path).map_err(|e| GatewayError::Read {
        path: path.to_owned(),
        reason: e.kind().to_string(),
    })?;
    RpKey::from_pem(&pem).map_err(|e| setup(format!("{}: {e}", path.display())))
}

/// A fresh RSA-2048 private key, PKCS#8 PEM.
fn generate_pem() -> Result<Vec<u8>, openssl::error::ErrorStack> {
    let key = openssl::pkey::PKey::from_rsa(openssl::rsa::Rsa::generate(2048)?)?;
    key.private_key_to_pem_pkcs8()
}
