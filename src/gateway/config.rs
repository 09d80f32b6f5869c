//! The gateway file (`gateway.toml`): the SP description ([`SpDescription`]) at the top
//! level, and a `[gateway]` table with everything the gateway adds (docs/gateway.md is the
//! reference). Unknown keys are refused in both parts.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::policy::{Access, IdentityKind, PathRule};
use super::GatewayError;
use crate::description::SpDescription;
use crate::level::SpidLevel;

/// Default listen address.
pub const DEFAULT_BIND: &str = "127.0.0.1:8080";
/// Default reserved header prefix.
pub const DEFAULT_HEADER_PREFIX: &str = "X-Spid-";
/// Default JWT header.
pub const DEFAULT_JWT_HEADER: &str = "X-Spid-Jwt";

/// A whole gateway file: the SP and the gateway settings.
#[derive(Clone, Debug)]
pub struct GatewayConfig {
    /// The SP description (top-level keys); relative key paths resolved against the file.
    pub sp: SpDescription,
    /// The `[gateway]` table; relative paths resolved against the file.
    pub gateway: GatewaySettings,
}

/// The `[gateway]` table.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewaySettings {
    /// Listen address (default `127.0.0.1:8080`; `--bind`).
    #[serde(default)]
    pub bind: Option<String>,
    /// The public base URL (`https://portal.example.it`; `--base-url`). `{base_url}` in the
    /// SP description's URLs is replaced by it. Default `http://<bind>`.
    #[serde(default)]
    pub base_url: Option<String>,
    /// IdP metadata files to trust (registry snapshots; `--idp-metadata` adds more).
    #[serde(default)]
    pub idp_metadata: Vec<PathBuf>,
    /// The minimum level of every login (1, 2 or 3; default 2).
    #[serde(default = "default_level")]
    pub level: u8,
    /// AuthnRequest binding: `post` (default) or `redirect`.
    #[serde(default = "default_binding")]
    pub binding: String,
    /// `memory` (default) or a Redis URL (`redis://…`, passed through to the store).
    #[serde(default = "default_store")]
    pub store: String,
    /// Where generated keys are kept (SP key when the description has none, JWT key,
    /// audit checkpoint key); created when missing. Default: keys generated in memory.
    #[serde(default)]
    pub key_dir: Option<PathBuf>,
    /// A header set by a trusted reverse proxy in front of the gateway
    /// (e.g. `x-forwarded-for`): names the client, and keeps incoming `X-Forwarded-*`.
    #[serde(default)]
    pub trusted_proxy_header: Option<String>,
    /// Access of paths no `[[gateway.paths]]` rule matches: `login` (default) or `public`.
    #[serde(default = "default_access")]
    pub default_access: String,
    /// A separate listener for `/metrics` (Prometheus), e.g. `127.0.0.1:9100`.
    #[serde(default)]
    pub metrics_bind: Option<String>,
    /// Session timeouts.
    #[serde(default)]
    pub session: SessionSettings,
    /// The transaction registry (required unless `enabled = false`).
    #[serde(default)]
    pub audit: Option<AuditSettings>,
    /// Reloading the IdP metadata files.
    #[serde(default)]
    pub registry: RegistrySettings,
    /// Identity headers.
    #[serde(default)]
    pub headers: HeaderSettings,
    /// The signed JWT.
    #[serde(default)]
    pub jwt: JwtSettings,
    /// The upstream applications.
    #[serde(default)]
    pub upstreams: Vec<UpstreamSettings>,
    /// Per-path access rules (longest prefix wins).
    #[serde(default)]
    pub paths: Vec<PathSettings>,
    /// "Entra con CNS" (smart-card login; docs/cns.md).
    #[serde(default)]
    pub cns: Option<super::cns::CnsSettings>,
    /// "Entra con CIE (OpenID Connect)": the relying party in an OIDC federation.
    #[serde(default)]
    pub oidc: Option<super::oidc::OidcSettings>,
    /// A header set by a trusted proxy with the request ID (e.g. `x-request-id`): the ID
    /// of the gateway's logs and of the `x-request-id` sent upstream (default: generated).
    #[serde(default)]
    pub request_id_header: Option<String>,
    /// One INFO line per request the gateway proxies or answers (request ID, tenant,
    /// outcome, status; no personal data). Default `true`; `false` keeps refusals,
    /// upstream errors and every WARN, like nginx's `access_log off`.
    #[serde(default = "yes")]
    pub access_log: bool,
    /// `spid:Purpose` of every SPID login (`P`, `LP`, `PG`, `PF`, `PX`): admits
    /// professional / legal-person identities, and no longer plain citizens (SPID's
    /// rule). Default none. Not sent to CIE or eIDAS.
    #[serde(default)]
    pub purpose: Option<String>,
    /// The AttributeConsumingService index of SPID and CIE logins (default: the first
    /// `attribute_services` entry; eIDAS logins use 99 or 100).
    #[serde(default)]
    pub attribute_service: Option<u16>,
    /// A tenant table to serve (aggregators: many SPs behind one gateway).
    #[serde(default)]
    pub tenants: Option<super::TenantsSettings>,
}

/// `[gateway.session]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionSettings {
    /// Idle timeout in seconds (default 1800, at least 60).
    #[serde(default = "default_idle")]
    pub idle_timeout_secs: i64,
    /// Absolute lifetime in seconds (default 28800, at least 60).
    #[serde(default = "default_lifetime")]
    pub lifetime_secs: i64,
}

impl Default for SessionSettings {
    fn default() -> Self {
        SessionSettings {
            idle_timeout_secs: default_idle(),
            lifetime_secs: default_lifetime(),
        }
    }
}

/// `[gateway.audit]`: the 24-month transaction registry.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditSettings {
    /// `false` runs without a registry (tests only: AgID requires one).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// The file backend's directory.
    #[serde(default)]
    pub dir: Option<PathBuf>,
    /// The PostgreSQL backend's URL (instead of `dir`).
    #[serde(default)]
    pub postgres: Option<String>,
    /// The checkpoint signing key (PEM); created when missing. Default
    /// `<key_dir or dir>/audit-checkpoint.key.pem`.
    #[serde(default)]
    pub checkpoint_key: Option<PathBuf>,
}

/// `[gateway.registry]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistrySettings {
    /// Re-read the IdP metadata files this often when they changed (seconds, default
    /// 300; 0: only on SIGHUP).
    #[serde(default = "default_reload")]
    pub reload_secs: u64,
}

impl Default for RegistrySettings {
    fn default() -> Self {
        RegistrySettings {
            reload_secs: default_reload(),
        }
    }
}

/// `[gateway.headers]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeaderSettings {
    /// The reserved prefix (default `X-Spid-`): every incoming header starting with it is
    /// removed before forwarding.
    #[serde(default = "default_prefix")]
    pub prefix: String,
    /// Which identity headers to send (default all): `fiscal-code`, `eidas-id`, `level`,
    /// `idp`, `name`, `family-name`, `email`, `company-name`, `vat-number`,
    /// `company-fiscal-number`, `session`.
    #[serde(default = "super::identity::all_fields")]
    pub send: Vec<String>,
}

impl Default for HeaderSettings {
    fn default() -> Self {
        HeaderSettings {
            prefix: default_prefix(),
            send: super::identity::all_fields(),
        }
    }
}

/// `[gateway.jwt]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwtSettings {
    /// Send a JWT (default true).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// `ES256` (default) or `RS256`.
    #[serde(default = "default_alg")]
    pub alg: String,
    /// The private key (PEM). Default: `<key_dir>/gateway-jwt-<alg>.key.pem`, created when
    /// missing, or a key in memory without `key_dir` (one instance only).
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    /// Lifetime in seconds (default 60).
    #[serde(default = "default_jwt_lifetime")]
    pub lifetime_secs: i64,
    /// `aud` (default: the base URL).
    #[serde(default)]
    pub audience: Option<String>,
    /// `X-Spid-Jwt` (default) or `Authorization` (then `Bearer <jwt>`).
    #[serde(default = "default_jwt_header")]
    pub header: String,
}

impl Default for JwtSettings {
    fn default() -> Self {
        JwtSettings {
            enabled: true,
            alg: default_alg(),
            key_file: None,
            lifetime_secs: default_jwt_lifetime(),
            audience: None,
            header: default_jwt_header(),
        }
    }
}

/// `[[gateway.upstreams]]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamSettings {
    /// Requests under this path prefix go here (default `/`; longest prefix wins).
    #[serde(default = "default_root")]
    pub prefix: String,
    /// `http://host:port` (no path, no TLS).
    pub url: String,
    /// Connect timeout in milliseconds (default 5000).
    #[serde(default = "default_connect_ms")]
    pub connect_timeout_ms: u64,
    /// Time to the response headers in milliseconds (default 30000).
    #[serde(default = "default_response_ms")]
    pub response_timeout_ms: u64,
    /// Longest silence while the response body streams, in milliseconds (default none):
    /// past it the upstream connection is closed and the response cut.
    #[serde(default)]
    pub idle_timeout_ms: Option<u64>,
}

/// `[[gateway.paths]]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathSettings {
    /// The path prefix (`/public`, `/admin/`).
    pub prefix: String,
    /// `public` or `login` (default `login`).
    #[serde(default)]
    pub access: Option<String>,
    /// Minimum level (1, 2, 3): implies `login`.
    #[serde(default)]
    pub level: Option<u8>,
    /// Allowed identities: `fiscal_code`, `eidas`, `legal_person` (default any).
    #[serde(default)]
    pub identities: Vec<String>,
}

#[path = "config_defaults.rs"]
mod defaults;
use defaults::*;

/// The command-line overrides (`--bind`, `--base-url`, `--idp-metadata`, `--upstream`).
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    /// `--bind ADDR`.
    pub bind: Option<String>,
    /// `--base-url URL`.
    pub base_url: Option<String>,
    /// `--idp-metadata FILE` (added to the file's list).
    pub idp_metadata: Vec<PathBuf>,
    /// `--upstream URL`: replaces every upstream by this one at `/`.
    pub upstream: Option<String>,
}

/// An upstream, checked.
#[derive(Clone, Debug)]
pub struct Upstream {
    /// Path prefix.
    pub prefix: String,
    /// `http://host:port`, no trailing slash.
    pub url: String,
    /// `host:port` (the `Host` header sent).
    pub authority: String,
    /// Connect timeout.
    pub connect_timeout: std::time::Duration,
    /// Time to the response headers.
    pub response_timeout: std::time::Duration,
    /// Longest silence of the response body.
    pub idle_timeout: Option<std::time::Duration>,
}

/// Everything checked: what the gateway serves.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Listen address.
    pub bind: SocketAddr,
    /// Public base URL, no trailing slash.
    pub base_url: String,
    /// Minimum level.
    pub level: SpidLevel,
    /// Upstreams, longest prefix first.
    pub upstreams: Vec<Upstream>,
    /// Rules, longest prefix first.
    pub rules: Vec<PathRule>,
    /// Access of unmatched paths.
    pub default_access: Access,
    /// Metrics listener.
    pub metrics_bind: Option<SocketAddr>,
}

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> GatewayError {
    GatewayError::Invalid {
        field: field.into(),
        reason: reason.into(),
    }
}

impl GatewayConfig {
    /// Reads a gateway file (TOML, at most 1 MiB).
    pub fn load(path: &Path) -> Result<GatewayConfig, GatewayError> {
        let meta = std::fs::metadata(path).map_err(|e| GatewayError::Read {
            path: path.to_path_buf(),
            reason: e.kind().to_string(),
        })?;
        if meta.len() > 1024 * 1024 {
            return Err(GatewayError::Read {
                path: path.to_path_buf(),
                reason: "larger than 1 MiB".into(),
            });
        }
        let text = std::fs::read_to_string(path).map_err(|e| GatewayError::Read {
            path: path.to_path_buf(),
            reason: e.kind().to_string(),
        })?;
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        GatewayConfig::from_toml_str(&text, &dir)
    }

    /// Parses a gateway file's text; relative paths are resolved against `dir`.
    pub fn from_toml_str(text: &str, dir: &Path) -> Result<GatewayConfig, GatewayError> {
        let mut table: toml::Table = toml::from_str(text).map_err(|e| {
            let offset = e.span().map_or(0, |s| s.start);
            let before = text.get(..offset).unwrap_or(text);
            GatewayError::Syntax {
                line: before.matches('\n').count() + 1,
                message: e.message().trim().to_owned(),
            }
        })?;
        let gateway = table
            .remove("gateway")
            .ok_or_else(|| invalid("gateway", "no [gateway] table"))?;
        let mut gateway: GatewaySettings = gateway
            .try_into()
            .map_err(|e: toml::de::Error| invalid("gateway", e.message().trim()))?;
        let mut sp: SpDescription = toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| invalid("SP description", e.message().trim()))?;
        let join = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = dir.join(&*p);
            }
        };
        for f in [&mut sp.key_file, &mut sp.certificate_file] {
            if let Some(f) = f.as_mut() {
                join(f);
            }
        }
        sp.published_certificate_files.iter_mut().for_each(join);
        gateway.idp_metadata.iter_mut().for_each(join);
        if let Some(d) = gateway.key_dir.as_mut() {
            join(d);
        }
        if let Some(k) = gateway.jwt.key_file.as_mut() {
            join(k);
        }
        if let Some(c) = gateway.cns.as_mut() {
            c.join(dir);
        }
        if let Some(o) = gateway.oidc.as_mut() {
            o.join(dir);
        }
        if let Some(d) = gateway.tenants.as_mut().and_then(|t| t.dir.as_mut()) {
            join(d);
        }
        if let Some(a) = gateway.audit.as_mut() {
            for p in [&mut a.dir, &mut a.checkpoint_key] {
                if let Some(p) = p.as_mut() {
                    join(p);
                }
            }
        }
        Ok(GatewayConfig { sp, gateway })
    }

    /// Applies the command-line overrides.
    pub fn apply(&mut self, o: Overrides) {
        let g = &mut self.gateway;
        if o.bind.is_some() {
            g.bind = o.bind;
        }
        if o.base_url.is_some() {
            g.base_url = o.base_url;
        }
        g.idp_metadata.extend(o.idp_metadata);
        if let Some(url) = o.upstream {
            g.upstreams = vec![UpstreamSettings {
                prefix: "/".into(),
                url,
                connect_timeout_ms: default_connect_ms(),
                response_timeout_ms: default_response_ms(),
                idle_timeout_ms: None,
            }];
        }
    }

    /// Checks everything that does not need the network or key files.
    pub fn plan(&self) -> Result<Plan, GatewayError> {
        let g = &self.gateway;
        let bind_text = g.bind.as_deref().unwrap_or(DEFAULT_BIND);
        let bind: SocketAddr = bind_text
            .parse()
            .map_err(|_| invalid("gateway.bind", "not an address (HOST:PORT)"))?;
        let base_url = match &g.base_url {
            Some(u) => u.trim_end_matches('/').to_owned(),
            None => format!("http://{bind}"),
        };
        if !(base_url.starts_with("http://") || base_url.starts_with("https://"))
            || base_url.split("://").nth(1).is_none_or(|r| r.contains('/'))
        {
            return Err(invalid(
                "gateway.base_url",
                "not an http(s) origin (scheme://host[:port], no path)",
            ));
        }
        let level = SpidLevel::from_number(g.level)
            .ok_or_else(|| invalid("gateway.level", "must be 1, 2 or 3"))?;
        if !matches!(g.binding.as_str(), "post" | "redirect") {
            return Err(invalid("gateway.binding", "must be post or redirect"));
        }
        if g.store != "memory" && !g.store.starts_with("redis") {
            return Err(invalid(
                "gateway.store",
                "must be memory or a redis URL (redis://, rediss://, redis+sentinel://)",
            ));
        }
        if g.session.idle_timeout_secs < 60 || g.session.lifetime_secs < 60 {
            return Err(invalid(
                "gateway.session",
                "timeouts are at least 60 seconds",
            ));
        }
        match &g.audit {
            None => {
                return Err(invalid(
                    "gateway.audit",
                    "no transaction registry: set dir or postgres (enabled = false for tests only)",
                ))
            }
            Some(a) if a.enabled && a.dir.is_none() && a.postgres.is_none() => {
                return Err(invalid("gateway.audit", "set dir or postgres"))
            }
            Some(_) => {}
        }
        super::identity::check_prefix(&g.headers.prefix)?;
        for f in &g.headers.send {
            if !super::identity::all_fields().contains(f) {
                return Err(invalid(
                    "gateway.headers.send",
                    format!("unknown field {f}"),
                ));
            }
        }
        if g.jwt.enabled {
            if !matches!(g.jwt.alg.as_str(), "ES256" | "RS256") {
                return Err(invalid("gateway.jwt.alg", "must be ES256 or RS256"));
            }
            if !(10..=3600).contains(&g.jwt.lifetime_secs) {
                return Err(invalid("gateway.jwt.lifetime_secs", "between 10 and 3600"));
            }
            if axum::http::HeaderName::try_from(g.jwt.header.as_str()).is_err() {
                return Err(invalid("gateway.jwt.header", "not a header name"));
            }
        }
        if let Some(h) = &g.trusted_proxy_header {
            if axum::http::HeaderName::try_from(h.as_str()).is_err() {
                return Err(invalid("gateway.trusted_proxy_header", "not a header name"));
            }
        }
        if let Some(p) = &g.purpose {
            if crate::Purpose::parse(p).is_none() {
                return Err(invalid("gateway.purpose", "must be P, LP, PG, PF or PX"));
            }
        }
        if let Some(i) = g.attribute_service {
            if !self.sp.attribute_services.iter().any(|s| s.index == i) {
                return Err(invalid(
                    "gateway.attribute_service",
                    "no attribute_services entry has that index",
                ));
            }
        }
        let default_access = Access::parse(&g.default_access)
            .ok_or_else(|| invalid("gateway.default_access", "must be public or login"))?;
        if g.upstreams.is_empty() {
            return Err(invalid(
                "gateway.upstreams",
                "no upstream (add [[gateway.upstreams]] or --upstream URL)",
            ));
        }
        let mut upstreams = Vec::new();
        for (i, u) in g.upstreams.iter().enumerate() {
            let field = format!("gateway.upstreams[{i}]");
            let authority = u
                .url
                .strip_prefix("http://")
                .map(|a| a.trim_end_matches('/'))
                .filter(|a| !a.is_empty() && !a.contains(['/', '@', '?', '#']))
                .ok_or_else(|| invalid(&field, "url must be http://host:port (no path)"))?;
            if !u.prefix.starts_with('/') {
                return Err(invalid(&field, "prefix must start with /"));
            }
            if u.connect_timeout_ms == 0
                || u.response_timeout_ms == 0
                || u.idle_timeout_ms == Some(0)
            {
                return Err(invalid(&field, "timeouts must be positive"));
            }
            upstreams.push(Upstream {
                prefix: u.prefix.clone(),
                url: format!("http://{authority}"),
                authority: authority.to_owned(),
                connect_timeout: std::time::Duration::from_millis(u.connect_timeout_ms),
                response_timeout: std::time::Duration::from_millis(u.response_timeout_ms),
                idle_timeout: u.idle_timeout_ms.map(std::time::Duration::from_millis),
            });
        }
        upstreams.sort_by_key(|u| std::cmp::Reverse(u.prefix.len()));
        let mut rules = Vec::new();
        for (i, p) in g.paths.iter().enumerate() {
            let field = format!("gateway.paths[{i}]");
            if !p.prefix.starts_with('/') {
                return Err(invalid(&field, "prefix must start with /"));
            }
            let mut access = match &p.access {
                Some(a) => Access::parse(a)
                    .ok_or_else(|| invalid(&field, "access must be public or login"))?,
                None => Access::Login,
            };
            let min = match p.level {
                Some(n) => {
                    let l = SpidLevel::from_number(n)
                        .ok_or_else(|| invalid(&field, "level must be 1, 2 or 3"))?;
                    if access == Access::Public {
                        return Err(invalid(&field, "a public path has no level"));
                    }
                    access = Access::Login;
                    Some(l.max(level))
                }
                None => None,
            };
            let mut kinds = Vec::new();
            for k in &p.identities {
                kinds.push(IdentityKind::parse(k).ok_or_else(|| {
                    invalid(&field, "identities: fiscal_code, eidas or legal_person")
                })?);
            }
            if access == Access::Public && !kinds.is_empty() {
                return Err(invalid(&field, "a public path has no identities"));
            }
            rules.push(PathRule::new(&p.prefix, access, min, kinds));
        }
        rules.sort_by_key(|r| std::cmp::Reverse(r.prefix().len()));
        let metrics_bind = match &g.metrics_bind {
            Some(m) => Some(
                m.parse()
                    .map_err(|_| invalid("gateway.metrics_bind", "not an address"))?,
            ),
            None => None,
        };
        Ok(Plan {
            bind,
            base_url,
            level,
            upstreams,
            rules,
            default_access,
            metrics_bind,
        })
    }
}

impl Plan {
    /// What `spid-sp gateway check` prints: routes, upstreams, policies.
    pub fn summary(&self, config: &GatewayConfig) -> String {
        let mut s = String::new();
        let g = &config.gateway;
        let _ = writeln!(s, "listen     {}", self.bind);
        let _ = writeln!(s, "base url   {}", self.base_url);
        let _ = writeln!(s, "level      SpidL{} (minimum)", self.level.number());
        let store = if g.store == "memory" {
            "memory"
        } else {
            "redis"
        };
        let _ = writeln!(s, "store      {store}");
        let audit = match &g.audit {
            Some(a) if !a.enabled => "DISABLED (tests only)".to_owned(),
            Some(a) if a.postgres.is_some() => "postgres".to_owned(),
            Some(a) => a
                .dir
                .as_ref()
                .map_or(String::new(), |d| format!("dir {}", d.display())),
            None => String::new(),
        };
        let _ = writeln!(s, "audit      {audit}");
        let _ = writeln!(s, "idp files  {}", g.idp_metadata.len());
        let _ = writeln!(
            s,
            "session    idle {}s, lifetime {}s",
            g.session.idle_timeout_secs, g.session.lifetime_secs
        );
        let _ = writeln!(s, "headers    prefix {}", g.headers.prefix);
        let access = if g.access_log {
            "a line per request (INFO)"
        } else {
            "off (refusals and warnings only)"
        };
        let _ = writeln!(s, "access log {access}");
        if g.jwt.enabled {
            let _ = writeln!(
                s,
                "jwt        {} in {}, {}s",
                g.jwt.alg, g.jwt.header, g.jwt.lifetime_secs
            );
        } else {
            let _ = writeln!(s, "jwt        off");
        }
        let _ = writeln!(s, "routes");
        for r in super::ROUTES {
            let _ = writeln!(s, "  {r}");
        }
        if let Some(m) = self.metrics_bind {
            let _ = writeln!(s, "  GET  /metrics on {m}");
        }
        let _ = writeln!(s, "upstreams");
        for u in &self.upstreams {
            let _ = writeln!(s, "  {:<20} -> {}", u.prefix, u.url);
        }
        let _ = writeln!(s, "policies");
        for r in &self.rules {
            let _ = writeln!(s, "  {:<20} {}", r.prefix(), r.describe());
        }
        let _ = writeln!(s, "  {:<20} {:?} (default)", "*", self.default_access);
        s
    }
}
