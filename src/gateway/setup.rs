//! From a checked [`GatewayConfig`] to the running parts: SP key and configuration, SP
//! metadata, trusted IdPs, stores, transaction registry.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::config::{GatewayConfig, Plan};
use super::GatewayError;
use crate::audit::{
    AuditLog, ChainedLog, CheckpointKey, CheckpointPolicy, EntryStore, FileStore, StoredEntry,
};
use crate::axum::SpidAuthBuilder;
use crate::config::SpConfig;
use crate::description::SpDescription;
use crate::dsig::SigningKey;
use crate::federation::Federation;
use crate::level::{Comparison, SpidLevel};
use crate::metadata::IdentityProvider;
use crate::store::{PendingStore, ReplayCache, SessionStore};
use crate::time::SystemClock;
use crate::LoginOptions;
use axum::http::HeaderName;

fn setup(reason: impl std::fmt::Display) -> GatewayError {
    GatewayError::Setup(reason.to_string())
}

/// The SP's key: the description's files, else `<key_dir>/sp.key.pem` + `sp.crt.pem`
/// (a self-signed certificate created when missing: development only).
pub(crate) fn sp_key(
    d: &SpDescription,
    key_dir: Option<&Path>,
    base_url: &str,
) -> Result<SigningKey, GatewayError> {
    if d.key_file.is_some() || d.certificate_file.is_some() {
        return d.signing_key().map_err(GatewayError::Description);
    }
    let dir = key_dir.ok_or_else(|| GatewayError::Invalid {
        field: "key_file".into(),
        reason: "no key_file/certificate_file and no gateway.key_dir to create one in".into(),
    })?;
    let (key_path, cert_path) = (dir.join("sp.key.pem"), dir.join("sp.crt.pem"));
    if let (Ok(k), Ok(c)) = (std::fs::read(&key_path), std::fs::read(&cert_path)) {
        return SigningKey::from_pem(&k, &c)
            .map_err(|e| setup(format!("{}: {e}", key_path.display())));
    }
    let (k, c) = self_signed(base_url).map_err(|_| setup("cannot create the SP key"))?;
    std::fs::create_dir_all(dir).map_err(|e| setup(format!("{}: {e}", dir.display())))?;
    super::write_private(&key_path, &k)
        .map_err(|e| setup(format!("{}: {e}", key_path.display())))?;
    std::fs::write(&cert_path, &c).map_err(|e| setup(format!("{}: {e}", cert_path.display())))?;
    tracing::warn!(target: "spid_sp::gateway", dir = %dir.display(), "created a self-signed SP key (development only)");
    SigningKey::from_pem(&k, &c).map_err(setup)
}

/// A self-signed RSA-2048 / SHA-256 certificate valid for two years.
fn self_signed(base_url: &str) -> Result<(Vec<u8>, Vec<u8>), openssl::error::ErrorStack> {
    use openssl::asn1::Asn1Time;
    use openssl::bn::{BigNum, MsbOption};
    use openssl::hash::MessageDigest;
    use openssl::pkey::PKey;
    use openssl::rsa::Rsa;
    use openssl::x509::{X509Builder, X509NameBuilder};

    let key = PKey::from_rsa(Rsa::generate(2048)?)?;
    let mut name = X509NameBuilder::new()?;
    name.append_entry_by_text("C", "IT")?;
    name.append_entry_by_text("O", "spid-sp gateway (development key)")?;
    let host = base_url
        .split("://")
        .nth(1)
        .and_then(|r| r.split(['/', ':']).next())
        .unwrap_or("localhost");
    name.append_entry_by_text("CN", host)?;
    let name = name.build();
    let mut serial = BigNum::new()?;
    serial.rand(127, MsbOption::MAYBE_ZERO, false)?;
    let mut b = X509Builder::new()?;
    b.set_version(2)?;
    let serial = serial.to_asn1_integer()?;
    b.set_serial_number(&serial)?;
    b.set_subject_name(&name)?;
    b.set_issuer_name(&name)?;
    b.set_pubkey(&key)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let (from, until) = (
        Asn1Time::from_unix(now - 86_400)?,
        Asn1Time::from_unix(now + 730 * 86_400)?,
    );
    b.set_not_before(&from)?;
    b.set_not_after(&until)?;
    b.sign(&key, MessageDigest::sha256())?;
    Ok((key.private_key_to_pem_pkcs8()?, b.build().to_pem()?))
}

/// The SP, checked: what the running gateway and `check` both need.
#[derive(Debug)]
pub struct Prepared {
    /// The plan.
    pub plan: Plan,
    /// The whole file, overrides applied.
    pub config: GatewayConfig,
    /// The SP description, `{base_url}` replaced.
    pub description: SpDescription,
    /// The SP configuration.
    pub sp_config: SpConfig,
    /// The signed SP metadata.
    pub metadata_xml: String,
}

impl Prepared {
    /// Checks the file and makes the SP configuration and metadata (reads or creates
    /// the SP key).
    pub fn new(config: GatewayConfig) -> Result<Prepared, GatewayError> {
        let plan = config.plan()?;
        let description = config.sp.clone().with_base_url(&plan.base_url);
        let key = sp_key(
            &description,
            config.gateway.key_dir.as_deref(),
            &plan.base_url,
        )?;
        let sp_config = description
            .sp_config(key)
            .map_err(GatewayError::Description)?;
        let metadata = description
            .sp_metadata()
            .map_err(GatewayError::Description)?;
        let metadata_xml = metadata
            .to_xml(&sp_config)
            .map_err(|e| setup(format!("metadata: {e}")))?;
        Ok(Prepared {
            plan,
            config,
            description,
            sp_config,
            metadata_xml,
        })
    }
}

impl Prepared {
    /// What `spid-sp gateway check` verifies beyond the plan, without creating anything:
    /// the SP description makes metadata, its key files (when named) make a signing key,
    /// every IdP metadata file reads, and `[gateway.oidc]` (JWKS, entity IDs, trust marks,
    /// RP keys; missing keys reported, not generated). Returns a one-line summary.
    pub fn check_description(config: &GatewayConfig, plan: &Plan) -> Result<String, GatewayError> {
        let d = config.sp.clone().with_base_url(&plan.base_url);
        let metadata = d.sp_metadata().map_err(GatewayError::Description)?;
        let key = if d.key_file.is_some() || d.certificate_file.is_some() {
            d.signing_key().map_err(GatewayError::Description)?;
            "key files ok"
        } else if config.gateway.key_dir.is_some() {
            "development key in key_dir"
        } else {
            return Err(GatewayError::Invalid {
                field: "key_file".into(),
                reason: "no key_file/certificate_file and no gateway.key_dir".into(),
            });
        };
        let idps = read_idps(&config.gateway.idp_metadata)?;
        let oidc = match &config.gateway.oidc {
            Some(o) => format!(
                "; OpenID Connect: {}",
                o.check(config.gateway.key_dir.as_deref())?
            ),
            None => String::new(),
        };
        Ok(format!(
            "{} ({:?}), {key}, {} trusted IdPs from files{oidc}",
            d.entity_id.as_deref().unwrap_or("(no entity_id)"),
            metadata.profile,
            idps.len()
        ))
    }
}

/// Every IdP of the metadata files.
pub(crate) fn read_idps(files: &[PathBuf]) -> Result<Vec<IdentityProvider>, GatewayError> {
    let mut idps: Vec<IdentityProvider> = Vec::new();
    for path in files {
        let xml = std::fs::read_to_string(path).map_err(|e| GatewayError::Read {
            path: path.clone(),
            reason: e.kind().to_string(),
        })?;
        let list = IdentityProvider::from_metadata(&xml)
            .map_err(|e| setup(format!("{}: {e}", path.display())))?;
        for idp in list {
            idps.retain(|i| i.entity_id() != idp.entity_id());
            idps.push(idp);
        }
    }
    Ok(idps)
}

/// The shared stores of a Redis `store` URL.
pub(crate) struct Stores {
    pub pending: Arc<dyn PendingStore>,
    pub sessions: Arc<dyn SessionStore>,
    pub replay: Arc<dyn ReplayCache>,
}

/// The stores of `store` (`None`: in memory).
pub(crate) fn stores(store: &str, entity_id: &str) -> Result<Option<Stores>, GatewayError> {
    if store == "memory" {
        return Ok(None);
    }
    let s = crate::store::RedisStore::for_sp(store, entity_id)
        .map_err(|e| setup(format!("gateway.store: {e}")))?;
    if let Err(e) = s.ping() {
        // Not fatal: logins answer 503 (and /readyz fails) until Redis is back.
        tracing::warn!(target: "spid_sp::gateway", error = %e, "session store not reachable at start");
    }
    let s = Arc::new(s);
    Ok(Some(Stores {
        pending: s.clone(),
        sessions: s.clone(),
        replay: s,
    }))
}

/// Where registry entries go.
#[derive(Debug)]
pub(crate) enum Backend {
    File(FileStore),
    Postgres(crate::audit::PostgresStore),
}

impl EntryStore for Backend {
    fn store(&self, entries: &[StoredEntry]) -> Result<(), crate::audit::AuditError> {
        match self {
            Backend::File(s) => s.store(entries),
            Backend::Postgres(s) => s.store(entries),
        }
    }
    fn sealed(&self, checkpoint: &StoredEntry) {
        match self {
            Backend::File(s) => s.sealed(checkpoint),
            Backend::Postgres(s) => s.sealed(checkpoint),
        }
    }
}

/// The running registry.
pub(crate) type Registry = ChainedLog<Backend>;

/// Opens the transaction registry of `[gateway.audit]` (`None` when disabled).
pub(crate) fn registry(config: &GatewayConfig) -> Result<Option<Arc<Registry>>, GatewayError> {
    registry_for(config, None)
}

/// The registry of `[gateway.audit]`, or a tenant's own stream in it: writer
/// `gw-<random>-<tenant ID>`, and with `dir` the sub-directory `tenants/<tenant ID>`.
pub(crate) fn registry_for(
    config: &GatewayConfig,
    tenant: Option<&str>,
) -> Result<Option<Arc<Registry>>, GatewayError> {
    let Some(a) = config.gateway.audit.as_ref().filter(|a| a.enabled) else {
        return Ok(None);
    };
    let key_path = match (&a.checkpoint_key, &config.gateway.key_dir, &a.dir) {
        (Some(p), _, _) => p.clone(),
        (None, Some(d), _) | (None, None, Some(d)) => d.join("audit-checkpoint.key.pem"),
        (None, None, None) => {
            return Err(GatewayError::Invalid {
                field: "gateway.audit.checkpoint_key".into(),
                reason: "needed with postgres when there is no key_dir".into(),
            })
        }
    };
    let key = match std::fs::read(&key_path) {
        Ok(pem) => CheckpointKey::from_pem(&pem)
            .map_err(|e| setup(format!("{}: {e}", key_path.display())))?,
        Err(_) => {
            let key = CheckpointKey::generate().map_err(setup)?;
            let pem = key.private_pem().map_err(setup)?;
            if let Some(parent) = key_path.parent() {
                let _ = std::fs::create_dir_all(parent);
            }
            super::write_private(&key_path, pem.as_ref())
                .map_err(|e| setup(format!("{}: {e}", key_path.display())))?;
            key
        }
    };
    let writer = match tenant {
        None => crate::audit::process_writer_id("gateway").map_err(setup)?,
        Some(id) => format!(
            "gw-{}-{id}",
            crate::ids::random_token("", 4).map_err(setup)?
        ),
    };
    let tenant_dir = a.dir.as_ref().map(|d| match tenant {
        Some(id) => d.join("tenants").join(id),
        None => d.clone(),
    });
    let backend = match (&a.postgres, &tenant_dir) {
        (Some(url), _) => Backend::Postgres(
            crate::audit::PostgresStore::connect(url, &writer)
                .map_err(|e| setup(format!("gateway.audit.postgres: {e}")))?,
        ),
        (None, Some(dir)) => {
            std::fs::create_dir_all(dir).map_err(|e| setup(format!("{}: {e}", dir.display())))?;
            if let Ok(public) = key.public_pem() {
                let _ = std::fs::write(dir.join("checkpoint.pub.pem"), public);
            }
            Backend::File(
                FileStore::open(dir, &writer)
                    .map_err(|e| setup(format!("{}: {e}", dir.display())))?,
            )
        }
        (None, None) => return Err(setup("gateway.audit: set dir or postgres")),
    };
    let log = ChainedLog::new(backend, &writer, key, Arc::new(SystemClock))
        .map_err(setup)?
        .with_policy(CheckpointPolicy {
            every_records: 1000,
            every_secs: 10,
        });
    Ok(Some(Arc::new(log)))
}

/// The registry as the core sees it.
pub(crate) fn as_log(r: &Arc<Registry>) -> Arc<dyn AuditLog> {
    Arc::clone(r) as Arc<dyn AuditLog>
}

/// The settings every `SpidAuth` of the gateway gets (its own SP's and each tenant's).
#[derive(Clone)]
pub(crate) struct Common {
    pub(crate) secure: bool,
    pub(crate) options: LoginOptions,
    pub(crate) lifetime: i64,
    pub(crate) idle: i64,
    pub(crate) proxy_header: Option<HeaderName>,
    pub(crate) request_id_header: Option<HeaderName>,
    #[cfg(feature = "test-idp")]
    pub(crate) test_idp: Option<crate::metadata::idp::TestIdpMode>,
}

impl Common {
    pub(crate) fn apply(&self, b: SpidAuthBuilder) -> SpidAuthBuilder {
        let mut b = b
            .secure_cookies(self.secure)
            .login_options(self.options.clone())
            .options_for_idp(|idp, o| match idp.federation() {
                Federation::Cie => {
                    o.comparison = Comparison::Minimum;
                    o.purpose = None;
                }
                Federation::Eidas => {
                    o.level = o.level.max(SpidLevel::L2);
                    o.purpose = None;
                    o.attribute_service = None;
                }
                Federation::Spid => {}
            })
            .session_lifetime_secs(self.lifetime)
            .session_idle_timeout_secs(self.idle);
        if let Some(n) = &self.proxy_header {
            b = b.trusted_proxy_header(n.clone());
        }
        if let Some(n) = &self.request_id_header {
            b = b.request_id_header(n.clone());
        }
        #[cfg(feature = "test-idp")]
        if let Some(mode) = self.test_idp {
            b = b.allow_test_idp(mode);
        }
        b
    }
}
