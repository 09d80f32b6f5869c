//! A tenant's view of the shared backends: keys namespaced by tenant ID, so one tenant
//! never reads, takes or overwrites another's pending logins, sessions, hand-offs or
//! pending logouts; and its audit log, made at its first record.

use std::sync::{Arc, Mutex};

use super::{AuditFactory, TenantId};
use crate::audit::{AuditError, AuditLog, TransactionRecord};
use crate::ids::RequestId;
use crate::pending::PendingLogin;
use crate::store::{PendingStore, SessionStore, StoreError};
use crate::time::Timestamp;

fn namespace(id: &TenantId) -> String {
    format!("t/{id}/")
}

/// A [`PendingStore`] whose keys (request IDs) are prefixed with `t/<tenant ID>/` in the
/// backend: a Response posted to another tenant's ACS finds nothing there (and does not
/// consume the pending login of the tenant it was meant for).
pub struct NamespacedPendingStore {
    inner: Arc<dyn PendingStore>,
    ns: String,
}

impl std::fmt::Debug for NamespacedPendingStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NamespacedPendingStore")
            .field("ns", &self.ns)
            .finish_non_exhaustive()
    }
}

impl NamespacedPendingStore {
    /// ServedTenant `id`'s view of `inner`.
    pub fn new(inner: Arc<dyn PendingStore>, id: &TenantId) -> Self {
        NamespacedPendingStore {
            inner,
            ns: namespace(id),
        }
    }

    fn key(&self, id: &RequestId) -> RequestId {
        RequestId::new(format!("{}{}", self.ns, id.as_str()))
    }

    fn outer(&self, mut pending: PendingLogin) -> PendingLogin {
        pending.request_id = self.key(&pending.request_id);
        pending
    }
}

impl PendingStore for NamespacedPendingStore {
    fn put(&self, pending: PendingLogin) -> Result<(), StoreError> {
        self.inner.put(self.outer(pending))
    }

    fn put_for_client(
        &self,
        pending: PendingLogin,
        client: &str,
        per_client_cap: usize,
    ) -> Result<(), StoreError> {
        // The client key is not namespaced: a client's pending logins count together at
        // every tenant, so a flood spread over many tenants still costs only its source.
        self.inner
            .put_for_client(self.outer(pending), client, per_client_cap)
    }

    fn take(&self, id: &RequestId, now: Timestamp) -> Result<Option<PendingLogin>, StoreError> {
        Ok(self.inner.take(&self.key(id), now)?.map(|mut p| {
            p.request_id = id.clone();
            p
        }))
    }
}

/// A [`SessionStore`] whose keys are prefixed with `t/<tenant ID>/` in the backend.
pub struct NamespacedSessionStore {
    inner: Arc<dyn SessionStore>,
    ns: String,
}

impl std::fmt::Debug for NamespacedSessionStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NamespacedSessionStore")
            .field("ns", &self.ns)
            .finish_non_exhaustive()
    }
}

impl NamespacedSessionStore {
    /// ServedTenant `id`'s view of `inner`.
    pub fn new(inner: Arc<dyn SessionStore>, id: &TenantId) -> Self {
        NamespacedSessionStore {
            inner,
            ns: namespace(id),
        }
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.ns)
    }
}

impl SessionStore for NamespacedSessionStore {
    fn put(
        &self,
        key: &str,
        value: &str,
        expires: Timestamp,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.inner.put(&self.key(key), value, expires, now)
    }
    fn get(&self, key: &str, now: Timestamp) -> Result<Option<String>, StoreError> {
        self.inner.get(&self.key(key), now)
    }
    fn take(&self, key: &str, now: Timestamp) -> Result<Option<String>, StoreError> {
        self.inner.take(&self.key(key), now)
    }
    fn remove(&self, key: &str) -> Result<(), StoreError> {
        self.inner.remove(&self.key(key))
    }
    fn may_block(&self) -> bool {
        self.inner.may_block()
    }
}

/// A tenant's audit log, made by the factory at the first record (3,000 tenants do not
/// open 3,000 writers at startup) and kept across reloads.
pub(crate) struct LazyAudit {
    id: TenantId,
    factory: Arc<AuditFactory>,
    log: Mutex<Option<Arc<dyn AuditLog>>>,
}

impl LazyAudit {
    pub(crate) fn new(id: TenantId, factory: Arc<AuditFactory>) -> Self {
        LazyAudit {
            id,
            factory,
            log: Mutex::new(None),
        }
    }

    fn log(&self) -> Result<Arc<dyn AuditLog>, AuditError> {
        let mut slot = self
            .log
            .lock()
            .map_err(|_| AuditError("tenant audit slot poisoned".into()))?;
        if let Some(log) = slot.as_ref() {
            return Ok(log.clone());
        }
        let log = (self.factory)(&self.id)?;
        *slot = Some(log.clone());
        Ok(log)
    }
}

impl AuditLog for LazyAudit {
    fn append(&self, record: TransactionRecord) -> Result<(), AuditError> {
        self.log()?.append(record)
    }
    fn submit(&self, record: TransactionRecord) -> crate::audit::AuditTicket {
        match self.log() {
            Ok(log) => log.submit(record),
            Err(e) => crate::audit::AuditTicket::ready(Err(e)),
        }
    }
}
