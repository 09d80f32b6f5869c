//! [`SpidTenants`] (feature `tenants`): the SP endpoints of every tenant of a
//! [`TenantTable`] on one router, each tenant served by its own [`SpidAuth`] (the same
//! handlers as a single SP: login, ACS, complete, logout, SLO), made at its first request
//! and made again when the tenant changes.
//!
//! ```no_run
//! # async fn demo(table: spid_sp::tenants::TenantTable) -> std::io::Result<()> {
//! use std::net::SocketAddr;
//! use axum::{routing::get, Router};
//! use spid_sp::axum::{Session, SpidTenants};
//!
//! let tenants = SpidTenants::builder(table)
//!     .each(|auth, _tenant| auth.secure_cookies(true).login_page("/"))
//!     .build();
//! async fn me(session: Session) -> String {
//!     format!("level {}", session.level())
//! }
//! // Host-routed tenants: /me on their host; path-routed ones: /t/<id>/me.
//! let app: Router = tenants.attach(
//!     Router::new()
//!         .route("/me", get(me))
//!         .route("/t/{tenant}/me", get(me))
//!         .merge(tenants.routes()),
//! );
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8000").await?;
//! axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await
//! # }
//! ```
//!
//! A request that reaches no tenant, or no endpoint of its tenant, gets the same plain
//! `404 Not Found` whatever the host or path: which tenants exist is not told.

#[allow(unused_imports)]
use super::*;

use std::collections::HashMap;
use std::sync::RwLock;

use ::axum::extract::{Request, State};
use ::axum::middleware::Next;

use crate::tenants::{ServedTenant, TenantId, TenantTable};

/// Adjusts the [`SpidAuthBuilder`] of each tenant (cookies, pages, login options, hooks)
/// before [`SpidTenants`] sets what is the tenant's own: prefix, stores, tenant ID.
pub type TenantConfigure = dyn Fn(SpidAuthBuilder, &ServedTenant) -> SpidAuthBuilder + Send + Sync;

/// The SPID/CIE/eIDAS login of every tenant of a [`TenantTable`]. Cheap to clone.
#[derive(Clone)]
pub struct SpidTenants {
    inner: Arc<TenantsInner>,
}

struct TenantsInner {
    table: TenantTable,
    configure: Option<Arc<TenantConfigure>>,
    /// Each tenant's integration, with the tenant version it was made for.
    web: RwLock<HashMap<TenantId, Web>>,
}

#[derive(Clone)]
struct Web {
    tenant: Arc<ServedTenant>,
    auth: SpidAuth,
    router: Router,
}

impl std::fmt::Debug for SpidTenants {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpidTenants")
            .field("table", &self.inner.table)
            .finish_non_exhaustive()
    }
}

/// Builder of [`SpidTenants`].
#[must_use]
pub struct SpidTenantsBuilder {
    table: TenantTable,
    configure: Option<Arc<TenantConfigure>>,
}

impl std::fmt::Debug for SpidTenantsBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpidTenantsBuilder").finish_non_exhaustive()
    }
}

impl SpidTenantsBuilder {
    /// Settings applied to each tenant's [`SpidAuthBuilder`] (default: its defaults).
    /// The prefix, the stores and the metadata are then set from the tenant: the values
    /// given here for them do not count. An `audit_log` set here replaces the table's
    /// per-tenant logs.
    pub fn each(
        mut self,
        configure: impl Fn(SpidAuthBuilder, &ServedTenant) -> SpidAuthBuilder + Send + Sync + 'static,
    ) -> Self {
        self.configure = Some(Arc::new(configure));
        self
    }
    /// The integration.
    pub fn build(self) -> SpidTenants {
        SpidTenants {
            inner: Arc::new(TenantsInner {
                table: self.table,
                configure: self.configure,
                web: RwLock::new(HashMap::new()),
            }),
        }
    }
}

/// The endpoints the dispatcher forwards to a tenant's router (`/metadata` it answers
/// itself, from the tenant's cached signed metadata).
const ENDPOINTS: &[&str] = &[
    "/login",
    "/acs",
    "/complete",
    "/logout",
    "/slo",
    "/button.css",
];

impl SpidTenants {
    /// Starts the integration of `table`.
    pub fn builder(table: TenantTable) -> SpidTenantsBuilder {
        SpidTenantsBuilder {
            table,
            configure: None,
        }
    }

    /// The tenant table.
    pub fn table(&self) -> &TenantTable {
        &self.inner.table
    }

    /// Every tenant's endpoints (`{prefix}/metadata`, `/login`, `/acs`, `/complete`,
    /// `/logout`, `/slo`, `/button.css`, the prefix being the path of the tenant's ACS
    /// URL): a router whose fallback finds the tenant of each request, to merge with
    /// the application's routes (which win: only one merged router may have a
    /// fallback). Anything else gets a plain 404.
    pub fn routes<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        Router::new()
            .fallback(dispatch)
            .layer(DefaultBodyLimit::max(MAX_BODY))
            .with_state(self.clone())
    }

    /// Gives the application's handlers their tenant: a middleware on `router` that
    /// finds the tenant of each request and adds its [`SpidAuth`] (so [`Session`],
    /// [`AtLeast`] and [`require_level`] work) and its `Arc<ServedTenant>` as extensions.
    /// Requests of no tenant get the plain 404: merge the pages that belong to no
    /// tenant (health checks, an index) outside the attached router.
    pub fn attach<S: Clone + Send + Sync + 'static>(&self, router: Router<S>) -> Router<S> {
        router.layer(::axum::middleware::from_fn_with_state(self.clone(), attach))
    }

    /// The integration of tenant `id`, if it is served (e.g. for its login buttons).
    pub fn auth(&self, id: &str) -> Option<SpidAuth> {
        self.inner.table.get(id).map(|t| self.web(&t).auth)
    }

    /// The tenant of a request, if any (see [`TenantTable::resolve`]).
    pub(crate) fn tenant_of(&self, req: &Request) -> Option<Arc<ServedTenant>> {
        let host = {
            let mut values = req.headers().get_all(header::HOST).iter();
            match (values.next(), values.next()) {
                (Some(v), None) => v.to_str().ok(),
                (None, _) => req.uri().authority().map(|a| a.as_str()),
                _ => return None,
            }
        };
        self.inner.table.resolve(host, req.uri().path())
    }

    /// The integration of a tenant, made at its first request and again when the table
    /// holds a new version of it.
    fn web(&self, tenant: &Arc<ServedTenant>) -> Web {
        let inner = &self.inner;
        if let Ok(cache) = inner.web.read() {
            if let Some(w) = cache.get(tenant.id()) {
                if Arc::ptr_eq(&w.tenant, tenant) {
                    return w.clone();
                }
            }
        }
        let mut builder = SpidAuth::builder(tenant.service_provider().clone());
        if let Some(configure) = &inner.configure {
            builder = configure(builder, tenant);
        }
        let auth = builder
            .prefix(tenant.endpoints_prefix())
            .pending_store(tenant.pending_store().clone())
            .session_store(tenant.session_store().clone())
            .tenant(tenant.id().as_str())
            .build();
        let web = Web {
            tenant: tenant.clone(),
            router: auth.routes(),
            auth,
        };
        if let Ok(mut cache) = inner.web.write() {
            if cache.len() > 2 * inner.table.len() + 16 {
                // Drop the integrations of removed tenants.
                let table = &inner.table;
                cache.retain(|id, _| table.get(id.as_str()).is_some());
            }
            cache.insert(tenant.id().clone(), web.clone());
        }
        web
    }
}

/// The same answer for every request that reaches no tenant or no endpoint.
fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "Not Found").into_response()
}

async fn dispatch(State(tenants): State<SpidTenants>, req: Request) -> Response {
    let Some(tenant) = tenants.tenant_of(&req) else {
        tracing::debug!(target: HTTP, result = "refused", code = "no-tenant", "no tenant");
        return not_found();
    };
    let rest = req
        .uri()
        .path()
        .strip_prefix(tenant.endpoints_prefix())
        .unwrap_or_default()
        .to_owned();
    if rest == "/metadata" && req.method() == Method::GET {
        return tenant_metadata(tenant).await;
    }
    if !ENDPOINTS.contains(&rest.as_str()) {
        tracing::debug!(target: HTTP, result = "refused", code = "no-endpoint", tenant = %tenant.id(), "no such endpoint");
        return not_found();
    }
    let mut router = tenants.web(&tenant).router;
    match tower_service::Service::call(&mut router, req).await {
        Ok(res) => res,
        Err(never) => match never {},
    }
}

/// The tenant's signed metadata (rendered once, on the blocking pool).
async fn tenant_metadata(tenant: Arc<ServedTenant>) -> Response {
    let id = tenant.id().clone();
    match tokio::task::spawn_blocking(move || tenant.metadata_xml()).await {
        Ok(Ok(xml)) => {
            let mut res = (StatusCode::OK, xml.to_string()).into_response();
            res.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/samlmetadata+xml"),
            );
            res
        }
        Ok(Err(e)) => {
            tracing::error!(target: HTTP, result = "failed", code = e.code(), tenant = %id, error = %e, "tenant metadata not rendered");
            (StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable").into_response()
        }
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable").into_response(),
    }
}

async fn attach(State(tenants): State<SpidTenants>, mut req: Request, next: Next) -> Response {
    let Some(tenant) = tenants.tenant_of(&req) else {
        tracing::debug!(target: HTTP, result = "refused", code = "no-tenant", "no tenant");
        return not_found();
    };
    let web = tenants.web(&tenant);
    req.extensions_mut().insert(web.auth);
    req.extensions_mut().insert(tenant);
    next.run(req).await
}
