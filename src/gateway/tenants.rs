//! Tenants behind the gateway (`[gateway.tenants]`): every tenant of a
//! [`TenantTable`] served by the gateway, through the axum integration's
//! [`SpidTenants`] (the same routing, per-tenant `SpidAuth`, namespaced stores and
//! tenant-bound sessions; nothing re-implemented here). A request that reaches a tenant
//! gets that tenant's SP endpoints, or the shared policy and upstreams with the tenant's
//! session, and the tenant's ID in `<prefix>Tenant` and in the JWT's `tenant` claim.
//! Requests of no tenant are the gateway's own SP's, as without tenants.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::extract::{Query, Request, State};
use axum::http::header;
use axum::response::Response;
use axum::Router;
use serde::Deserialize;

use super::config::GatewayConfig;
use super::setup::{self, Registry, Stores};
use super::GatewayError;
use crate::audit::AuditLog;
use crate::axum::Language;
use crate::axum::{SpidAuth, SpidAuthBuilder, SpidTenants};
use crate::level::SpidLevel;
use crate::sp::ServiceProvider;
use crate::tenants::{ReloadReport, ServedTenant, TenantTable};

/// `[gateway.tenants]`: the tenant table the gateway serves (docs/tenants.md: one SP
/// description per tenant).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantsSettings {
    /// A directory of tenant files (`<tenant ID>.toml` / `.json`).
    #[serde(default)]
    pub dir: Option<PathBuf>,
    /// A PostgreSQL table of tenants (`spid_tenants`; feature `postgres`; loopback or
    /// Unix socket only).
    #[serde(default)]
    pub postgres: Option<String>,
    /// Re-read the sources this often (seconds, default 30; 0: only on SIGHUP).
    #[serde(default = "default_reload")]
    pub reload_secs: u64,
}

fn default_reload() -> u64 {
    30
}

/// The tenants part of a running gateway.
pub(crate) struct Tenants {
    web: SpidTenants,
    routes: Router,
    pub(crate) reload_secs: u64,
    /// The tenants' registries opened so far (checkpointed with the gateway's).
    pub(crate) registries: Arc<Mutex<Vec<Arc<Registry>>>>,
}

impl std::fmt::Debug for Tenants {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tenants")
            .field("tenants", &self.web.table().len())
            .finish_non_exhaustive()
    }
}

/// The endpoints of a tenant the gateway answers with the tenant's SP (the chooser
/// page `/select` is the gateway's, the rest the axum integration's).
const ENDPOINTS: [&str; 8] = [
    "/select",
    "/metadata",
    "/login",
    "/acs",
    "/complete",
    "/logout",
    "/slo",
    "/button.css",
];

impl Tenants {
    /// Loads the table: the gateway's IdP set (reloads reach every tenant), its stores
    /// (keys namespaced per tenant), its SP key for tenants without their own, one
    /// registry stream per tenant; each tenant's `SpidAuth` gets the gateway's settings
    /// from `configure`.
    pub(crate) fn open(
        settings: &TenantsSettings,
        config: &GatewayConfig,
        sp: &ServiceProvider,
        stores: Option<&Stores>,
        test_idp: bool,
        configure: impl Fn(SpidAuthBuilder) -> SpidAuthBuilder + Send + Sync + 'static,
    ) -> Result<Tenants, GatewayError> {
        let invalid = |reason: &str| GatewayError::Invalid {
            field: "gateway.tenants".into(),
            reason: reason.into(),
        };
        let mut b = TenantTable::builder()
            .idps(sp.idp_set().clone())
            .shared_key(sp.config().signing_key().clone());
        match (&settings.dir, &settings.postgres) {
            (None, None) => return Err(invalid("set dir and/or postgres")),
            (dir, pg) => {
                if let Some(d) = dir {
                    b = b.directory(d);
                }
                if let Some(_url) = pg {
                    #[cfg(feature = "postgres")]
                    {
                        b = b.postgres(crate::tenants::PostgresTenants::new(_url.clone()));
                    }
                    #[cfg(not(feature = "postgres"))]
                    return Err(invalid("postgres needs the `postgres` feature"));
                }
            }
        }
        if let Some(s) = stores {
            b = b
                .pending_store(s.pending.clone())
                .session_store(s.sessions.clone())
                .replay_cache(s.replay.clone());
        }
        #[cfg(feature = "test-idp")]
        if test_idp {
            b = b.allow_test_idp(crate::metadata::idp::TestIdpMode::IKnowThisIsNotAnAccreditedIdp);
        }
        #[cfg(not(feature = "test-idp"))]
        let _ = test_idp;
        let registries: Arc<Mutex<Vec<Arc<Registry>>>> = Arc::default();
        if config.gateway.audit.as_ref().is_some_and(|a| a.enabled) {
            let (config, opened) = (config.clone(), registries.clone());
            b = b.audit(move |id| {
                let r = setup::registry_for(&config, Some(id.as_str()))
                    .map_err(|e| crate::audit::AuditError(e.to_string()))?
                    .ok_or_else(|| crate::audit::AuditError("registry disabled".into()))?;
                if let Ok(mut o) = opened.lock() {
                    o.push(r.clone());
                }
                Ok(r as Arc<dyn AuditLog>)
            });
        }
        let (table, report) = b.build();
        log_report(&report);
        let web = SpidTenants::builder(table)
            .each(move |b, t: &ServedTenant| {
                let select = format!("{}/select", t.endpoints_prefix());
                configure(b).login_page(select)
            })
            .build();
        Ok(Tenants {
            routes: web.routes(),
            web,
            reload_secs: settings.reload_secs,
            registries,
        })
    }

    /// The table.
    pub(crate) fn table(&self) -> &TenantTable {
        self.web.table()
    }

    /// The tenant of a request (the axum integration's routing).
    pub(crate) fn of(&self, req: &Request) -> Option<Arc<ServedTenant>> {
        self.web.tenant_of(req)
    }

    /// The integration of `tenant`.
    pub(crate) fn auth(&self, tenant: &ServedTenant) -> Option<SpidAuth> {
        self.web.auth(tenant.id().as_str())
    }

    /// Which endpoint of `tenant` `path` is, if any.
    pub(crate) fn endpoint<'p>(tenant: &ServedTenant, path: &'p str) -> Option<&'p str> {
        let rest = path.strip_prefix(tenant.endpoints_prefix())?;
        ENDPOINTS.contains(&rest).then_some(rest)
    }

    /// Serves an SP endpoint of a tenant (everything but `/select`).
    pub(crate) async fn serve(&self, req: Request) -> Response {
        let mut router = self.routes.clone();
        match tower_service::Service::call(&mut router, req).await {
            Ok(res) => res,
            Err(never) => match never {},
        }
    }

    /// Re-reads the sources (blocking).
    pub(crate) fn reload(&self) -> ReloadReport {
        let report = self.table().reload();
        log_report(&report);
        report
    }
}

fn log_report(report: &ReloadReport) {
    for e in report.errors() {
        tracing::warn!(target: "spid_sp::gateway", code = e.code(), error = %e, "tenant not loaded");
    }
}

/// With `[gateway.tenants]`, before anything else: a request that reaches a tenant is
/// the tenant's (its SP endpoints, or the policy and upstreams with its session);
/// others go on to the gateway's own routes. `/healthz` and `/readyz` stay the gateway's.
pub(crate) async fn tenant_first(
    State(gw): State<super::Gateway>,
    req: Request,
    next: axum::middleware::Next,
) -> Response {
    let Some(t) = gw.inner.tenants.as_ref() else {
        return next.run(req).await;
    };
    let path = req.uri().path();
    if path == "/healthz" || path == "/readyz" {
        return next.run(req).await;
    }
    if path == "/spid/auth" {
        // auth_request / forward_auth: the tenant of the original request (its Host and
        // X-Original-URI / X-Forwarded-Uri), else the gateway's own SP.
        let Some(auth) = auth_request_tenant(t, &req) else {
            return next.run(req).await;
        };
        return super::auth_answer(&gw, &super::Site { auth }, req.headers()).await;
    }
    let Some(tenant) = t.of(&req) else {
        return next.run(req).await;
    };
    let Some(auth) = t.auth(&tenant) else {
        return next.run(req).await;
    };
    match Tenants::endpoint(&tenant, path) {
        Some("/select") => {
            let lang = Language::from_headers(req.headers());
            let q: std::collections::HashMap<String, String> =
                Query::try_from_uri(req.uri()).map_or_else(|_| Default::default(), |q| q.0);
            let next = q.get("next").map_or("/", String::as_str);
            let level = q
                .get("level")
                .and_then(|l| l.parse().ok())
                .and_then(SpidLevel::from_number);
            super::pages::select(&auth, lang, next, level)
        }
        Some(_) => t.serve(req).await,
        None => super::proxy_for(&gw, &super::Site { auth }, req).await,
    }
}

/// The tenant a forward-auth subrequest asks about: resolved as the original request
/// would be, from the subrequest's `Host` and the original URI's path.
fn auth_request_tenant(t: &Tenants, req: &Request) -> Option<SpidAuth> {
    let (uri, _) = super::original(req.headers());
    let mut probe = Request::new(axum::body::Body::empty());
    if let Ok(u) = uri.parse::<axum::http::Uri>() {
        *probe.uri_mut() = u;
    }
    for v in req.headers().get_all(header::HOST) {
        probe.headers_mut().append(header::HOST, v.clone());
    }
    let tenant = t.of(&probe)?;
    t.auth(&tenant)
}

/// Whether the request carries a session cookie of the gateway or of a tenant.
pub(crate) fn has_session_cookie(headers: &header::HeaderMap) -> bool {
    headers
        .get_all(header::COOKIE)
        .iter()
        .any(|v| v.as_bytes().windows(12).any(|w| w == b"spid_session"))
}
