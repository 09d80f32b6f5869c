//! Operations: `/healthz`, `/readyz`, the IdP registry reload, the policy events.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use axum::extract::State;
use axum::http::header::{self, HeaderValue};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::config::GatewayConfig;
use super::policy::Decision;
use super::setup::{self, Registry};
use super::{Gateway, GatewayError};
use crate::metadata::IdentityProvider;
use crate::sp::ServiceProvider;
use crate::store::SessionStore;

/// What `/readyz` looks at, and what a reload re-reads.
pub(crate) struct Probes {
    store: Option<Arc<dyn SessionStore>>,
    audit_dir: Option<PathBuf>,
    /// The PostgreSQL registry's URL (probed with a fresh connection).
    audit_postgres: Option<String>,
    registry: Option<Arc<Registry>>,
    files: Vec<PathBuf>,
    extra: Vec<IdentityProvider>,
    seen: Mutex<Vec<Option<SystemTime>>>,
}

impl std::fmt::Debug for Probes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Probes")
            .field("files", &self.files)
            .finish_non_exhaustive()
    }
}

fn mtimes(files: &[PathBuf]) -> Vec<Option<SystemTime>> {
    files
        .iter()
        .map(|f| std::fs::metadata(f).and_then(|m| m.modified()).ok())
        .collect()
}

impl Probes {
    pub(crate) fn new(
        config: &GatewayConfig,
        store: Option<Arc<dyn SessionStore>>,
        registry: Option<Arc<Registry>>,
        files: Vec<PathBuf>,
        extra: Vec<IdentityProvider>,
    ) -> Probes {
        let audit_dir = config
            .gateway
            .audit
            .as_ref()
            .filter(|a| a.enabled && a.postgres.is_none())
            .and_then(|a| a.dir.clone());
        let audit_postgres = config
            .gateway
            .audit
            .as_ref()
            .filter(|a| a.enabled)
            .and_then(|a| a.postgres.clone());
        Probes {
            store,
            audit_dir,
            audit_postgres,
            registry,
            seen: Mutex::new(mtimes(&files)),
            files,
            extra,
        }
    }

    /// Re-reads the files when one changed (or `force`) and swaps the set.
    pub(crate) fn reload(&self, sp: &ServiceProvider, force: bool) -> Result<bool, GatewayError> {
        let now = mtimes(&self.files);
        {
            let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
            if !force && *seen == now {
                return Ok(false);
            }
        }
        let mut idps = setup::read_idps(&self.files)?;
        idps.extend(self.extra.iter().cloned());
        sp.idp_set()
            .replace(idps)
            .map_err(|e| GatewayError::Setup(format!("idp set: {e}")))?;
        *self.seen.lock().unwrap_or_else(|p| p.into_inner()) = now;
        Ok(true)
    }

    /// `(check, ok)` of each readiness check.
    fn checks(&self, sp: &ServiceProvider) -> Vec<(&'static str, bool)> {
        let now = sp.now();
        let store = match &self.store {
            Some(s) => s.get("readyz-probe", now).is_ok(),
            None => true,
        };
        let audit = match (&self.registry, &self.audit_dir, &self.audit_postgres) {
            (None, _, _) => true,
            (Some(_), Some(dir), _) => {
                std::fs::metadata(dir).is_ok_and(|m| m.is_dir() && !m.permissions().readonly())
            }
            (Some(_), None, Some(url)) => postgres_ready(url),
            (Some(_), None, None) => true,
        };
        let idps = sp.idps();
        let fresh = !idps.is_empty()
            && idps
                .iter()
                .all(|i| i.valid_until().is_none_or(|until| until > now));
        vec![("store", store), ("audit", audit), ("idp_registry", fresh)]
    }
}

/// Whether the PostgreSQL registry answers: a fresh connection (2 s timeout, on this
/// blocking thread, dropped here) and a `SELECT 1` within 2 s.
fn postgres_ready(url: &str) -> bool {
    let Ok(mut config) = crate::audit::parse_postgres_config(url) else {
        return false;
    };
    config.connect_timeout(std::time::Duration::from_secs(2));
    match config.connect(postgres::NoTls) {
        Ok(mut client) => client.is_valid(std::time::Duration::from_secs(2)).is_ok(),
        Err(_) => false,
    }
}

/// `GET /healthz`: the process answers.
pub(crate) async fn healthz() -> Response {
    let mut res = "ok\n".into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// `GET /readyz`: 200 when the store answers, the registry directory is writable and no
/// trusted IdP's metadata has expired; 503 otherwise. The body names each check.
pub(crate) async fn readyz(State(gw): State<Gateway>) -> Response {
    let g = gw.clone();
    let checks =
        tokio::task::spawn_blocking(move || g.inner.ops.checks(g.inner.auth.service_provider()))
            .await
            .unwrap_or_else(|_| vec![("worker", false)]);
    let ok = checks.iter().all(|(_, ok)| *ok);
    let body: String = checks
        .iter()
        .map(|(name, ok)| format!("{name} {}\n", if *ok { "ok" } else { "fail" }))
        .collect();
    if !ok {
        tracing::warn!(target: "spid_sp::gateway", code = "not_ready", "readiness check failed");
    }
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let mut res = (status, body).into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// One DEBUG event per policy decision (no personal data: the outcome only).
pub(crate) fn count(decision: &Decision) {
    let outcome = match decision {
        Decision::Allow => "allow",
        Decision::Login => "login",
        Decision::StepUp(_) => "step_up",
        Decision::Forbidden => "forbidden",
    };
    if *decision == Decision::Forbidden {
        // A refusal: once at INFO, with the outcome only.
        tracing::info!(target: "spid_sp::gateway", outcome, code = "identity_not_admitted", "request refused by the path policy");
    } else {
        tracing::debug!(target: "spid_sp::gateway", outcome, "policy decision");
    }
}

impl Gateway {
    /// Starts the background work on the current tokio runtime: the registry's checkpoint
    /// every 10 seconds, and the IdP files and `[gateway.cns]`'s trust and CRL files
    /// re-read every `reload_secs` (0: never) when they changed.
    pub fn spawn_maintenance(&self, reload_secs: u64) {
        if self.inner.ops.registry.is_some() {
            let gw = self.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(std::time::Duration::from_secs(10));
                loop {
                    tick.tick().await;
                    let g = gw.clone();
                    let _ = tokio::task::spawn_blocking(move || g.checkpoint_all(false)).await;
                }
            });
        }
        if let Some(secs) = self.inner.tenants.as_ref().map(|t| t.reload_secs) {
            let gw = self.clone();
            tokio::spawn(async move {
                if secs == 0 {
                    return;
                }
                let mut tick = tokio::time::interval(std::time::Duration::from_secs(secs));
                tick.tick().await;
                loop {
                    tick.tick().await;
                    let g = gw.clone();
                    let _ = tokio::task::spawn_blocking(move || g.reload_tenants()).await;
                }
            });
        }
        if reload_secs > 0 {
            let gw = self.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(std::time::Duration::from_secs(reload_secs));
                tick.tick().await;
                loop {
                    tick.tick().await;
                    let g = gw.clone();
                    match tokio::task::spawn_blocking(move || g.reload_idps(false)).await {
                        Ok(Err(e)) => {
                            tracing::error!(target: "spid_sp::gateway", error = %e, "IdP metadata reload failed; the previous set stays")
                        }
                        Ok(Ok(true)) => {
                            tracing::info!(target: "spid_sp::gateway", "IdP metadata reloaded")
                        }
                        _ => {}
                    }
                    let g = gw.clone();
                    if let Ok(Err(e)) = tokio::task::spawn_blocking(move || g.reload_cns()).await {
                        tracing::error!(target: "spid_sp::gateway", error = %e, "CNS trust reload failed; the current trust and CRLs stay");
                    }
                }
            });
        }
    }

    /// Seals the registry's tail (at shutdown). Blocking.
    pub fn checkpoint(&self) {
        self.checkpoint_all(true);
    }

    /// Checkpoints the registry and every tenant's stream opened so far.
    fn checkpoint_all(&self, last: bool) {
        let mut all: Vec<Arc<Registry>> = self.inner.ops.registry.iter().cloned().collect();
        if let Some(t) = &self.inner.tenants {
            if let Ok(r) = t.registries.lock() {
                all.extend(r.iter().cloned());
            }
        }
        for r in all {
            if let Err(e) = r.checkpoint() {
                if last {
                    tracing::error!(target: "spid_sp::gateway", error = %e, "final audit checkpoint failed");
                } else {
                    tracing::error!(target: "spid_sp::gateway", error = %e, "audit checkpoint failed");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_postgres_registry_that_does_not_answer_is_not_ready() {
        // A closed loopback port: refused at once.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap_or(1);
        assert!(!postgres_ready(&format!(
            "postgresql://spid@127.0.0.1:{port}/spid"
        )));
        // Off loopback: refused without connecting (as the registry itself is).
        assert!(!postgres_ready("postgresql://spid@192.0.2.1:5432/spid"));
        assert!(!postgres_ready("not a url"));
    }
}
