//! Tenants (feature `tenants`): one process serving many service providers — the
//! aggregated entities of a SPID aggregator, each with its own entityID, metadata,
//! endpoints, pending logins, sessions and transaction-registry stream. See
//! `docs/tenants.md`.
//!
//! A tenant is one SP description file ([`SpDescription`](crate::SpDescription), TOML or
//! JSON) named `<tenant ID>.toml` (or `.json`) in a directory, or one row of a PostgreSQL
//! table (feature `postgres`). A [`TenantTable`] loads them all; [`TenantTable::reload`]
//! applies additions, changes and removals without a restart, swapping the table
//! atomically. A file that does not load is reported ([`ReloadError`]) and never takes
//! the others down: the tenant keeps its last good version, if it had one.
//!
//! What is shared, not copied per tenant: the trusted IdPs (one [`IdpSet`]), the replay
//! cache, the store backends (keys namespaced per tenant), the metrics, the clock and,
//! for tenants whose description names no key, the aggregator's signing key.
//!
//! ```no_run
//! # fn demo(idps: spid_sp::IdpSet, key: spid_sp::SigningKey) {
//! use spid_sp::tenants::TenantTable;
//!
//! let (table, report) = TenantTable::builder()
//!     .directory("/etc/spid/tenants")
//!     .idps(idps)                 // one IdP set for every tenant
//!     .shared_key(key)            // the aggregator's key, for tenants without their own
//!     .build();
//! for e in report.errors() {
//!     eprintln!("{e}");           // the others are served
//! }
//! // Later, on SIGHUP or a timer: additions, changes and removals take effect.
//! let report = table.reload();
//! # let _ = report;
//! # }
//! ```
//!
//! # Routing
//!
//! [`TenantTable::resolve`] finds the tenant of a request: first by `Host` (tenants with
//! `[tenant] route = "host"`: every path of that host), then by path (the others: the
//! requests under their base path: the path of their ACS URL without `/acs`, or the
//! parent of it that `[tenant] path` names). The SP endpoints of a tenant are under the path of its ACS URL
//! (`…/acs`, `…/slo`, `…/login`, `…/metadata`), which must lie on its route.

mod build;
mod load;
#[cfg(feature = "postgres")]
mod postgres;
mod store;

pub use load::{ReloadError, ReloadReport};
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use postgres::{PostgresTenants, TENANTS_TABLE_SQL};
pub use store::{NamespacedPendingStore, NamespacedSessionStore};

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};

use crate::audit::{AuditError, AuditLog};
use crate::dsig::SigningKey;
use crate::idp_set::IdpSet;
use crate::metadata::{Aggregator, SpMetadata};
use crate::metrics::Metrics;
use crate::sp::ServiceProvider;
use crate::store::{
    MemoryPendingStore, MemoryReplayCache, MemorySessionStore, PendingStore, ReplayCache,
    SessionStore,
};
use crate::time::{Clock, SystemClock, Timestamp};

/// Longest tenant ID.
pub const MAX_TENANT_ID: usize = 40;

/// Makes the transaction-registry log of one tenant (its own writer / stream), called
/// once per tenant ID, at the tenant's first record.
pub type AuditFactory = dyn Fn(&TenantId) -> Result<Arc<dyn AuditLog>, AuditError> + Send + Sync;

/// A tenant's ID: 1 to 40 of `a-z 0-9 -`, starting with a letter or digit (the file name
/// without its extension). It scopes cookie names, store keys and the audit writer.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TenantId(String);

impl TenantId {
    /// The ID, if `id` is a valid one.
    pub fn new(id: &str) -> Option<TenantId> {
        let ok = (1..=MAX_TENANT_ID).contains(&id.len())
            && id
                .bytes()
                .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'-'))
            && !id.starts_with('-');
        ok.then(|| TenantId(id.to_owned()))
    }
    /// The ID as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for TenantId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// How requests reach a tenant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TenantRoute {
    /// Every request whose `Host` (without port, lower case) is this.
    Host(String),
    /// Every request under this base path (the ACS URL's path without `/acs`, or the
    /// parent `[tenant] path` names).
    Path(String),
}

/// Where a tenant was loaded from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TenantOrigin {
    /// A file of the tenants directory.
    File(PathBuf),
    /// A row of the PostgreSQL table.
    Postgres,
}

/// One tenant: an SP with its own configuration, route, stores and audit stream, over
/// the table's shared parts. Cheap to share (`Arc<ServedTenant>` in the table).
pub struct ServedTenant {
    id: TenantId,
    route: TenantRoute,
    endpoints: String,
    sp: ServiceProvider,
    pending: Arc<dyn PendingStore>,
    sessions: Arc<dyn SessionStore>,
    metadata: SpMetadata,
    /// The aggregator, for the aggregated-entity profiles (`crate::tenant`).
    aggregator: Option<Aggregator>,
    /// The signed metadata, rendered at first request and again after a day.
    rendered: RwLock<Option<(Timestamp, Arc<str>)>>,
    origin: TenantOrigin,
    /// SHA-256 of the source text: what `reload` compares.
    version: String,
}

impl std::fmt::Debug for ServedTenant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServedTenant")
            .field("id", &self.id)
            .field("route", &self.route)
            .field("entity_id", self.sp.config().entity_id())
            .finish_non_exhaustive()
    }
}

/// Signed metadata is rendered again after this long (its `validUntil` moves on).
const RERENDER_SECS: i64 = 24 * 3600;

impl ServedTenant {
    /// The tenant's ID.
    pub fn id(&self) -> &TenantId {
        &self.id
    }
    /// How requests reach it.
    pub fn route(&self) -> &TenantRoute {
        &self.route
    }
    /// The path prefix of its SP endpoints (its ACS URL's path without `/acs`): the
    /// metadata is at `{prefix}/metadata`.
    pub fn endpoints_prefix(&self) -> &str {
        &self.endpoints
    }
    /// Its service provider (own configuration; shared IdPs, replay cache, metrics).
    pub fn service_provider(&self) -> &ServiceProvider {
        &self.sp
    }
    /// Its pending logins: the shared backend, keys namespaced by the tenant ID.
    pub fn pending_store(&self) -> &Arc<dyn PendingStore> {
        &self.pending
    }
    /// Its sessions, hand-offs and pending logouts: the shared backend, namespaced.
    pub fn session_store(&self) -> &Arc<dyn SessionStore> {
        &self.sessions
    }
    /// Where it was loaded from.
    pub fn origin(&self) -> &TenantOrigin {
        &self.origin
    }
    /// The SHA-256 (hex) of its source text.
    pub fn version(&self) -> &str {
        &self.version
    }
    /// Its signed metadata, rendered at the first call (and again after a day, so that
    /// `validUntil` moves on). One RSA signature per render.
    pub fn metadata_xml(&self) -> Result<Arc<str>, ReloadError> {
        let now = self.sp.now();
        if let Ok(guard) = self.rendered.read() {
            if let Some((at, xml)) = guard.as_ref() {
                if now < at.plus_seconds(RERENDER_SECS) {
                    return Ok(xml.clone());
                }
            }
        }
        let config = self.sp.config();
        let xml: Arc<str> = match &self.aggregator {
            Some(a) => self.metadata.to_xml_aggregated_at(config, a, now),
            None => self.metadata.to_xml_at(config, now),
        }
        .map_err(|e| ReloadError::Metadata {
            id: self.id.to_string(),
            reason: e.to_string(),
        })?
        .into();
        if let Ok(mut guard) = self.rendered.write() {
            *guard = Some((now, xml.clone()));
        }
        Ok(xml)
    }
}

/// The parts every tenant shares (set on the [`TenantTableBuilder`]).
pub(crate) struct Shared {
    pub idps: IdpSet,
    pub replay: Arc<dyn ReplayCache>,
    pub pending: Arc<dyn PendingStore>,
    pub sessions: Arc<dyn SessionStore>,
    pub metrics: Arc<Metrics>,
    pub clock: Arc<dyn Clock>,
    pub shared_key: Option<SigningKey>,
    pub audit: Option<Arc<AuditFactory>>,
    pub allow_test_idp: bool,
    pub directory: Option<PathBuf>,
    #[cfg(feature = "postgres")]
    pub postgres: Option<PostgresTenants>,
}

/// The table as it is at one instant (swapped whole by `reload`).
#[derive(Default)]
pub(crate) struct Snapshot {
    pub tenants: BTreeMap<TenantId, Arc<ServedTenant>>,
    pub by_host: HashMap<String, Arc<ServedTenant>>,
    pub by_path: HashMap<String, Arc<ServedTenant>>,
}

struct TableInner {
    shared: Shared,
    current: RwLock<Arc<Snapshot>>,
    /// One reload at a time.
    reloading: Mutex<()>,
    /// Each tenant's audit log, kept across reloads (a writer is never reopened).
    audits: Mutex<HashMap<TenantId, Arc<store::LazyAudit>>>,
}

/// The tenants of a process: find one by request ([`TenantTable::resolve`]) or ID, and
/// reload them all ([`TenantTable::reload`]). Cheap to clone (one `Arc`); clones see the
/// same table.
#[derive(Clone)]
pub struct TenantTable {
    inner: Arc<TableInner>,
}

impl std::fmt::Debug for TenantTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantTable")
            .field("tenants", &self.len())
            .finish_non_exhaustive()
    }
}

/// Builder of a [`TenantTable`]; every shared part has an in-memory default.
#[must_use]
pub struct TenantTableBuilder {
    shared: Shared,
}

impl std::fmt::Debug for TenantTableBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantTableBuilder").finish_non_exhaustive()
    }
}

impl TenantTableBuilder {
    /// The directory of tenant files (`<tenant ID>.toml` or `.json`; other files are
    /// ignored). Key and certificate paths in a file are relative to it.
    pub fn directory(mut self, dir: impl Into<PathBuf>) -> Self {
        self.shared.directory = Some(dir.into());
        self
    }
    /// Tenants from a PostgreSQL table too (see [`PostgresTenants`]). A tenant ID in both
    /// the directory and the table is refused from the table.
    #[cfg(feature = "postgres")]
    #[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
    pub fn postgres(mut self, source: PostgresTenants) -> Self {
        self.shared.postgres = Some(source);
        self
    }
    /// The IdPs every tenant trusts: one set, shared (a registry refresh that replaces
    /// it reaches every tenant).
    pub fn idps(mut self, idps: IdpSet) -> Self {
        self.shared.idps = idps;
        self
    }
    /// The replay cache of every tenant (shared, not namespaced: an assertion seen by
    /// one tenant is refused by all).
    pub fn replay_cache(mut self, cache: Arc<dyn ReplayCache>) -> Self {
        self.shared.replay = cache;
        self
    }
    /// The backend of every tenant's pending logins (keys namespaced per tenant; the
    /// per-client bound counts a client's pending logins at every tenant together).
    pub fn pending_store(mut self, store: Arc<dyn PendingStore>) -> Self {
        self.shared.pending = store;
        self
    }
    /// The backend of every tenant's sessions (keys namespaced per tenant).
    pub fn session_store(mut self, store: Arc<dyn SessionStore>) -> Self {
        self.shared.sessions = store;
        self
    }
    /// One set of counters for every tenant.
    pub fn metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.shared.metrics = metrics;
        self
    }
    /// The clock of every tenant (tests).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.shared.clock = clock;
        self
    }
    /// The aggregator's signing key, used by the tenants whose description names no
    /// `key_file` / `certificate_file` (those that do use their own).
    pub fn shared_key(mut self, key: SigningKey) -> Self {
        self.shared.shared_key = Some(key);
        self
    }
    /// Each tenant's transaction-registry log: `factory` is called once per tenant ID,
    /// at its first record (its own writer, e.g. `FileStore::open(dir, "agg-<id>")`).
    /// When it fails, that tenant's logins fail closed (503) and it is called again at
    /// the next record.
    pub fn audit(
        mut self,
        factory: impl Fn(&TenantId) -> Result<Arc<dyn AuditLog>, AuditError> + Send + Sync + 'static,
    ) -> Self {
        self.shared.audit = Some(Arc::new(factory));
        self
    }
    /// Trusts IdPs marked as test IdPs at every tenant (only with feature `test-idp`).
    #[cfg(feature = "test-idp")]
    #[cfg_attr(docsrs, doc(cfg(feature = "test-idp")))]
    pub fn allow_test_idp(mut self, mode: crate::metadata::idp::TestIdpMode) -> Self {
        let crate::metadata::idp::TestIdpMode::IKnowThisIsNotAnAccreditedIdp = mode;
        self.shared.allow_test_idp = true;
        self
    }
    /// Loads the tenants: the table (possibly empty) and what did not load.
    pub fn build(self) -> (TenantTable, ReloadReport) {
        let table = TenantTable {
            inner: Arc::new(TableInner {
                shared: self.shared,
                current: RwLock::new(Arc::new(Snapshot::default())),
                reloading: Mutex::new(()),
                audits: Mutex::new(HashMap::new()),
            }),
        };
        let report = table.reload();
        (table, report)
    }
}

impl TenantTable {
    /// A builder with in-memory shared parts and no source.
    pub fn builder() -> TenantTableBuilder {
        TenantTableBuilder {
            shared: Shared {
                idps: IdpSet::default(),
                replay: Arc::new(MemoryReplayCache::default()),
                pending: Arc::new(MemoryPendingStore::default()),
                sessions: Arc::new(MemorySessionStore::default()),
                metrics: Arc::new(Metrics::new()),
                clock: Arc::new(SystemClock),
                shared_key: None,
                audit: None,
                allow_test_idp: false,
                directory: None,
                #[cfg(feature = "postgres")]
                postgres: None,
            },
        }
    }

    fn snapshot(&self) -> Arc<Snapshot> {
        match self.inner.current.read() {
            Ok(s) => s.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The tenant of a request: by `host` (the `Host` header or URI authority; the port
    /// and case do not matter) among the host-routed tenants, else by `path` among the
    /// path-routed ones. `None`: no tenant (answer 404 and say nothing more).
    pub fn resolve(&self, host: Option<&str>, path: &str) -> Option<Arc<ServedTenant>> {
        let snap = self.snapshot();
        if let Some(h) = host.and_then(normalize_host) {
            if let Some(t) = snap.by_host.get(&h) {
                return Some(t.clone());
            }
        }
        if snap.by_path.is_empty() {
            return None;
        }
        // The base paths do not nest (refused at load): the first segment prefix that is
        // one is the only one.
        if path.len() > 1024 {
            return None;
        }
        for (i, b) in path.bytes().enumerate().skip(1) {
            if b == b'/' {
                if let Some(t) = path.get(..i).and_then(|p| snap.by_path.get(p)) {
                    return Some(t.clone());
                }
            }
        }
        snap.by_path.get(path).cloned()
    }

    /// A tenant by ID.
    pub fn get(&self, id: &str) -> Option<Arc<ServedTenant>> {
        let id = TenantId::new(id)?;
        self.snapshot().tenants.get(&id).cloned()
    }

    /// Every tenant, by ID.
    pub fn tenants(&self) -> Vec<Arc<ServedTenant>> {
        self.snapshot().tenants.values().cloned().collect()
    }

    /// How many tenants are served.
    pub fn len(&self) -> usize {
        self.snapshot().tenants.len()
    }

    /// Whether no tenant is served.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The shared IdP set (replace it after a registry refresh: every tenant sees it).
    pub fn idp_set(&self) -> &IdpSet {
        &self.inner.shared.idps
    }

    /// Reads every source again and swaps the table atomically: new tenants are added,
    /// changed ones replaced, removed ones dropped (their sessions stay in the store
    /// until they expire, unusable: no route reaches them). A tenant whose new version
    /// does not load keeps its last good version; a source that cannot be read at all
    /// keeps all its tenants. Requests in flight finish with the table they started
    /// with.
    pub fn reload(&self) -> ReloadReport {
        let _one = self
            .inner
            .reloading
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let old = self.snapshot();
        let (snapshot, report) = load::reload(self, &old);
        match self.inner.current.write() {
            Ok(mut cur) => *cur = Arc::new(snapshot),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(snapshot),
        }
        report.log();
        report
    }

    pub(crate) fn shared(&self) -> &Shared {
        &self.inner.shared
    }

    /// The audit log of tenant `id`, kept across reloads.
    pub(crate) fn audit_of(&self, id: &TenantId) -> Option<Arc<dyn AuditLog>> {
        let factory = self.inner.shared.audit.as_ref()?;
        let mut audits = self
            .inner
            .audits
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let log = audits
            .entry(id.clone())
            .or_insert_with(|| Arc::new(store::LazyAudit::new(id.clone(), factory.clone())));
        Some(log.clone() as Arc<dyn AuditLog>)
    }
}

/// A `Host` value without port, in lower case; `None` when it is not a plain host name
/// or address.
pub(crate) fn normalize_host(host: &str) -> Option<String> {
    let host = host.trim();
    let name = if let Some(rest) = host.strip_prefix('[') {
        // [v6]:port
        let end = rest.find(']')?;
        rest.get(..end)?
    } else {
        host.split(':').next()?
    };
    let ok = !name.is_empty()
        && name.len() <= 253
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':'));
    ok.then(|| name.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_hosts() {
        for ok in ["a", "comune-forli", "c-d704", &"x".repeat(40)] {
            assert!(TenantId::new(ok).is_some(), "{ok}");
        }
        for bad in ["", "-a", "A", "a_b", "a/b", "a.b", &"x".repeat(41), "à"] {
            assert!(TenantId::new(bad).is_none(), "{bad}");
        }
        assert_eq!(
            normalize_host("Comune.LOCALHOST:8000").unwrap(),
            "comune.localhost"
        );
        assert_eq!(normalize_host("[::1]:8000").unwrap(), "::1");
        assert_eq!(normalize_host("a b"), None);
        assert_eq!(normalize_host(""), None);
    }
}
