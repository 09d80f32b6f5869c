//! The SPID / CIE ID / eIDAS gateway (feature `gateway`, `spid-sp gateway`): the SP's
//! endpoints of the axum integration in front of any application, which gets the verified
//! identity in headers and a signed JWT. Two ways to protect an application:
//!
//! - **reverse proxy**: every request outside the gateway's routes is checked against the
//!   per-path policy and forwarded to its upstream (streaming bodies, WebSocket upgrades);
//! - **`auth_request`** (nginx; Caddy `forward_auth`, Traefik `ForwardAuth`):
//!   `GET /spid/auth` answers 200 with the identity headers, or 401 with the login URL in
//!   `X-Spid-Login-Url`.
//!
//! Every incoming header under the reserved prefix (default `X-Spid-`), and the JWT
//! header, is removed before forwarding: a client can never spoof the identity.
//! docs/gateway.md is the reference (config file, routes, header contract, recipes).

mod cns;
mod config;
mod identity;
mod jwt;
mod oidc;
mod ops;
mod pages;
mod policy;
mod private_file;
mod proxy;
mod setup;
mod tenants;

pub use cns::CnsSettings;
pub use config::{
    AuditSettings, GatewayConfig, GatewaySettings, HeaderSettings, JwtSettings, Overrides,
    PathSettings, Plan, RegistrySettings, SessionSettings, Upstream, UpstreamSettings,
    DEFAULT_BIND, DEFAULT_HEADER_PREFIX, DEFAULT_JWT_HEADER,
};
use identity::{IdentityCache, IdentityHeaders, Prepared as PreparedIdentity};
use jwt::JwtSigner;
pub use oidc::OidcSettings;
use pages::Problem;
pub use policy::{Access, IdentityKind, PathRule};
use policy::{AmbiguousPath, Decision, Policy};
use setup::Common;
pub use setup::Prepared;
pub use tenants::TenantsSettings;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::connect_info::ConnectInfo;
use axum::extract::{Query, Request, State};
use axum::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::Router;

use crate::axum::{Language, Session, SpidAuth};
use crate::level::{Comparison, SpidLevel};
use crate::metadata::IdentityProvider;
use crate::saml::Binding;
use crate::sp::ServiceProvider;
use crate::LoginOptions;

/// The routes the gateway serves itself (everything else goes to an upstream).
pub const ROUTES: [&str; 15] = [
    "GET  /spid/metadata       SP metadata",
    "GET  /spid/select         IdP chooser (?next=/path&level=N)",
    "GET  /spid/login          start a login (?idp=&level=&next=)",
    "POST /spid/acs            assertion consumer service",
    "GET  /spid/complete       end of login (browser binding)",
    "POST /spid/logout         logout + SP-initiated SLO (same-origin forms only)",
    "GET  /spid/slo            single logout (IdP side), also POST",
    "GET  /spid/button.css     login button stylesheet",
    "GET  /spid/cns            Entra con CNS: one-time state, then the card endpoint ([gateway.cns])",
    "GET  /spid/cns/certificate  the card (CNS TLS listener, or the proxy's header from its address)",
    "ANY  /spid/auth           auth_request / forward_auth: 200 + identity headers, 401 + X-Spid-Login-Url, 403",
    "GET  /spid/jwks.json      public keys of the JWT",
    "GET  /healthz             process up",
    "GET  /readyz              store, transaction registry, IdP registry",
    "*    /...                 policy, then the upstream (reverse proxy)",
];

/// The header of a 401 from `/spid/auth`: where to send the browser.
pub const LOGIN_URL_HEADER: &str = "x-spid-login-url";

/// Why the gateway cannot start or its file is refused. Messages name fields and files,
/// never personal data.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GatewayError {
    /// A file cannot be read.
    #[error("cannot read {path}: {reason}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// Not valid TOML.
    #[error("invalid toml at line {line}: {message}")]
    Syntax {
        /// 1-based line.
        line: usize,
        /// What the parser says.
        message: String,
    },
    /// A value cannot be used.
    #[error("`{field}`: {reason}")]
    Invalid {
        /// The key (`gateway.upstreams[0]`, ...).
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// The SP description is refused.
    #[error(transparent)]
    Description(#[from] crate::DescriptionError),
    /// A part could not be made (keys, stores, registry, metadata).
    #[error("{0}")]
    Setup(String),
}

/// What the command line adds: routes mounted beside the gateway's own (e.g. the local
/// test IdP) and the IdPs they bring.
#[derive(Default)]
pub struct Extras {
    /// Routes merged into the gateway's router (before the proxy fallback).
    pub routes: Option<Router>,
    /// IdPs trusted besides the metadata files (kept across reloads).
    pub idps: Vec<IdentityProvider>,
    /// Trust IdPs marked as test IdPs (`spid_sp::test_idp`): never in production.
    #[cfg(feature = "test-idp")]
    pub allow_test_idp: Option<crate::metadata::idp::TestIdpMode>,
}

impl std::fmt::Debug for Extras {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Extras")
            .field("idps", &self.idps.len())
            .finish_non_exhaustive()
    }
}

/// The running gateway. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Gateway {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    auth: SpidAuth,
    policy: Policy,
    upstreams: Vec<(Upstream, proxy::UpstreamClient)>,
    identity: IdentityHeaders,
    prepared: IdentityCache,
    jwt: Option<(JwtSigner, HeaderName, bool)>,
    forwarded: proxy::Forwarded,
    ops: ops::Probes,
    /// `[gateway.cns]`: its settings, its certificate header (removed before
    /// forwarding), the trust and CRLs it reloads.
    cns: Option<cns::CnsRuntime>,
    tenants: Option<tenants::Tenants>,
    access_log: bool, // `[gateway] access_log`: an INFO line per request
}

pub(crate) use private_file::write_private;
pub use private_file::write_private_file;

impl Gateway {
    /// Builds the gateway (opens stores and registry, reads the IdP files, makes keys).
    pub fn new(prepared: Prepared, extras: Extras) -> Result<(Gateway, Router), GatewayError> {
        let Prepared {
            plan,
            config,
            description: _,
            sp_config,
            metadata_xml,
        } = prepared;
        let g = &config.gateway;
        let mut idps = setup::read_idps(&g.idp_metadata)?;
        idps.extend(extras.idps.iter().cloned());
        let entity_id = sp_config.entity_id().as_str().to_owned();
        let stores = setup::stores(&g.store, &entity_id)?;
        let store_probe = stores.as_ref().map(|s| s.sessions.clone());
        let registry = setup::registry(&config)?;
        let mut sp = ServiceProvider::new(sp_config, idps.clone())
            .map_err(|e| GatewayError::Setup(format!("service provider: {e}")))?;
        if let Some(s) = &stores {
            sp = sp.with_replay_cache(s.replay.clone());
        }
        let options = LoginOptions {
            level: plan.level,
            comparison: Comparison::Minimum,
            binding: if g.binding == "redirect" {
                Binding::Redirect
            } else {
                Binding::Post
            },
            purpose: g.purpose.as_deref().and_then(crate::Purpose::parse),
            attribute_service: g.attribute_service,
            ..LoginOptions::default()
        };
        let common = Common {
            secure: plan.base_url.starts_with("https://"),
            options,
            lifetime: g.session.lifetime_secs,
            idle: g.session.idle_timeout_secs,
            proxy_header: g
                .trusted_proxy_header
                .as_deref()
                .and_then(|h| HeaderName::try_from(h).ok()),
            request_id_header: g
                .request_id_header
                .as_deref()
                .and_then(|h| HeaderName::try_from(h).ok()),
            #[cfg(feature = "test-idp")]
            test_idp: extras.allow_test_idp,
        };
        let tenants = match &g.tenants {
            Some(t) => {
                let c = common.clone();
                #[cfg(feature = "test-idp")]
                let test_idp = extras.allow_test_idp.is_some();
                #[cfg(not(feature = "test-idp"))]
                let test_idp = false;
                Some(tenants::Tenants::open(
                    t,
                    &config,
                    &sp,
                    stores.as_ref(),
                    test_idp,
                    move |b| c.apply(b),
                )?)
            }
            None => None,
        };
        let mut b = common
            .apply(SpidAuth::builder(sp))
            .metadata_xml(metadata_xml)
            .login_page("/spid/select")
            .after_login("/")
            .after_logout("/")
            .trusted_origin(&plan.base_url);
        if let Some(s) = stores {
            b = b.pending_store(s.pending).session_store(s.sessions);
        }
        if let Some(r) = &registry {
            b = b.audit_log(setup::as_log(r));
        }
        let cns = match &g.cns {
            Some(c) => {
                let (config, runtime) = c.start(&plan.base_url)?;
                b = b.cns(config);
                Some(runtime)
            }
            None => None,
        };
        if let Some(o) = &g.oidc {
            b = b.oidc(o.setup(&plan.base_url, g.key_dir.as_deref())?);
        }
        let auth = b.build();
        let jwt = jwt::from_settings(&g.jwt, g.key_dir.as_deref(), &plan.base_url)?;
        let identity = IdentityHeaders::new(
            &g.headers.prefix,
            &g.headers.send,
            g.jwt.enabled.then_some(g.jwt.header.as_str()),
        )?;
        let (scheme, host) = plan.base_url.split_once("://").unwrap_or(("http", ""));
        let forwarded = proxy::Forwarded {
            proto: HeaderValue::from_str(scheme).unwrap_or(HeaderValue::from_static("http")),
            host: HeaderValue::from_str(host).unwrap_or(HeaderValue::from_static("")),
            trust_incoming: g.trusted_proxy_header.is_some(),
        };
        let upstreams = plan
            .upstreams
            .iter()
            .map(|u| (u.clone(), proxy::client(u)))
            .collect();
        let ops = ops::Probes::new(
            &config,
            store_probe,
            registry.clone(),
            g.idp_metadata.clone(),
            extras.idps,
        );
        let gateway = Gateway {
            inner: Arc::new(Inner {
                policy: Policy::new(plan.rules.clone(), plan.default_access, plan.level),
                auth,
                upstreams,
                identity,
                prepared: IdentityCache::default(),
                jwt,
                forwarded,
                ops,
                cns,
                tenants,
                access_log: g.access_log,
            }),
        };
        let mut router = gateway.router();
        if let Some(extra) = extras.routes {
            router = router.merge(extra);
        }
        Ok((gateway.clone(), router))
    }

    /// Starts the CNS TLS listener of `[gateway.cns] listen`, if any (inside the
    /// runtime): its local address.
    pub async fn spawn_cns_listener(&self) -> Result<Option<SocketAddr>, GatewayError> {
        match &self.inner.cns {
            Some(c) => c.settings.spawn_listener(&self.inner.auth).await,
            None => Ok(None),
        }
    }

    /// The axum integration underneath.
    pub fn auth(&self) -> &SpidAuth {
        &self.inner.auth
    }

    /// The Prometheus router (`/metrics`) for a separate listener.
    pub fn metrics_router(&self) -> Router {
        self.inner.auth.metrics_router("/metrics")
    }

    /// Re-reads the IdP metadata files and swaps the trusted set (`force`: even when no
    /// file changed). Blocking: call from a blocking thread.
    pub fn reload_idps(&self, force: bool) -> Result<bool, GatewayError> {
        self.inner
            .ops
            .reload(self.inner.auth.service_provider(), force)
    }

    /// Re-reads `[gateway.cns]`'s trust and CRL files and swaps them in when one changed
    /// and all load (`Ok(true)`); on error the current ones stay. `Ok(false)` without
    /// `[gateway.cns]`. Blocking: call from a blocking thread.
    pub fn reload_cns(&self) -> Result<bool, GatewayError> {
        self.inner
            .cns
            .as_ref()
            .map_or(Ok(false), cns::CnsRuntime::reload)
    }

    /// Re-reads the tenant sources (`[gateway.tenants]`), when configured: additions,
    /// changes and removals take effect at once. Blocking: call from a blocking thread.
    pub fn reload_tenants(&self) -> Option<crate::tenants::ReloadReport> {
        self.inner.tenants.as_ref().map(tenants::Tenants::reload)
    }

    /// The tenant table, when `[gateway.tenants]` is configured.
    pub fn tenant_table(&self) -> Option<&crate::tenants::TenantTable> {
        self.inner.tenants.as_ref().map(tenants::Tenants::table)
    }

    fn router(&self) -> Router {
        let auth = &self.inner.auth;
        let router = Router::new()
            .route("/spid/select", get(select))
            .route("/spid/auth", any(auth_request))
            .route("/spid/jwks.json", get(jwks))
            .route("/healthz", get(ops::healthz))
            .route("/readyz", get(ops::readyz))
            .fallback(proxy_request)
            .with_state(self.clone())
            .merge(auth.routes())
            .layer(auth.layer());
        if self.inner.tenants.is_some() {
            router.layer(axum::middleware::from_fn_with_state(
                self.clone(),
                tenants::tenant_first,
            ))
        } else {
            router
        }
    }

    /// The session of a request (none without the session cookie: no store call).
    async fn session(
        &self,
        site: &Site,
        headers: &HeaderMap,
    ) -> Result<Option<Arc<Session>>, Problem> {
        if !tenants::has_session_cookie(headers) {
            return Ok(None);
        }
        let auth = &site.auth;
        match auth.session_of_request(headers).await {
            Ok(s) => Ok(s.filter(|s| s.level() >= auth.minimum_level())),
            Err(_) => {
                tracing::warn!(target: "spid_sp::gateway", code = "store_unavailable", "session store unavailable");
                Err(Problem::Unavailable)
            }
        }
    }

    /// The login URL for `decision` on a request for `next`.
    fn login_url(
        site: &Site,
        decision: &Decision,
        session: Option<&Session>,
        next: &str,
    ) -> Option<String> {
        let next = crate::axum::safe_next(next).unwrap_or_else(|| "/".into());
        match (decision, session) {
            (Decision::StepUp(level), Some(s)) => Some(site.auth.login_url(
                s.idp().as_str(),
                Some(*level),
                Some(&next),
            )),
            (Decision::Login, _) => {
                let mut url = format!("{}/select?next=", site.auth.prefix());
                crate::binding::redirect::quote_plus(&next, &mut url);
                Some(url)
            }
            _ => None,
        }
    }

    /// Adds the identity headers and the JWT, prepared once per login
    /// ([`IdentityCache`]; the JWT re-signed after a third of its lifetime).
    fn add_identity(&self, site: &Site, headers: &mut HeaderMap, session: &Session) {
        let inner = &self.inner;
        let tenant = site.auth.tenant();
        let key = IdentityCache::key(session, tenant);
        let cached = inner.prepared.get(&key);
        let now = inner.auth.service_provider().now().unix_seconds();
        let mut changed = cached.is_none();
        let fixed = match &cached {
            Some(p) => p.headers.clone(),
            None => {
                let mut v = inner.identity.values(session);
                v.extend(tenant.and_then(|t| inner.identity.tenant_value(t)));
                v.into()
            }
        };
        let jwt = match &inner.jwt {
            None => None,
            Some((signer, _, bearer)) => match cached.and_then(|p| p.jwt) {
                Some((iat, v)) if signer.fresh(iat, now) => Some((iat, v)),
                _ => {
                    changed = true;
                    signer.token(session, now, tenant).and_then(|t| {
                        let v = if *bearer { format!("Bearer {t}") } else { t };
                        HeaderValue::from_str(&v).ok().map(|v| (now, v))
                    })
                }
            },
        };
        for (name, value) in fixed.iter() {
            headers.insert(name.clone(), value.clone());
        }
        if let (Some((_, name, _)), Some((_, v))) = (&inner.jwt, &jwt) {
            headers.insert(name.clone(), v.clone());
        }
        if changed {
            inner.prepared.put(
                key,
                PreparedIdentity {
                    headers: fixed,
                    jwt,
                },
            );
        }
    }
}

fn redirect(to: &str) -> Response {
    match HeaderValue::from_str(to) {
        Ok(v) => {
            let mut res = StatusCode::SEE_OTHER.into_response();
            res.headers_mut().insert(header::LOCATION, v);
            res.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            res
        }
        Err(_) => pages::problem(Problem::BadRequest, Language::Italian),
    }
}

/// `GET /spid/select?next=/path&level=N`: the IdP chooser.
async fn select(
    State(gw): State<Gateway>,
    Query(q): Query<std::collections::HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let lang = Language::from_headers(&headers);
    let next = q.get("next").map_or("/", String::as_str);
    let level = q
        .get("level")
        .and_then(|l| l.parse().ok())
        .and_then(SpidLevel::from_number);
    pages::select(&gw.inner.auth, lang, next, level)
}

/// `GET /spid/jwks.json`.
async fn jwks(State(gw): State<Gateway>) -> Response {
    match &gw.inner.jwt {
        Some((signer, _, _)) => {
            let mut res = signer.jwks().to_owned().into_response();
            res.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            res.headers_mut().insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("max-age=300"),
            );
            res
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The original URI and method of a forward-auth subrequest: `X-Forwarded-Uri` (Caddy,
/// Traefik) or `X-Original-URI` (the nginx recipe), `X-Forwarded-Method` /
/// `X-Original-Method`; else the request's own.
pub(crate) fn original(headers: &HeaderMap) -> (String, Method) {
    let one = |names: [&str; 2]| {
        names.iter().find_map(|n| {
            headers
                .get(*n)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        })
    };
    let uri = one(["x-forwarded-uri", "x-original-uri"]).unwrap_or_else(|| "/".into());
    let method = one(["x-forwarded-method", "x-original-method"])
        .and_then(|m| Method::from_bytes(m.as_bytes()).ok())
        .unwrap_or(Method::GET);
    (uri, method)
}

/// `/spid/auth`: the forward-auth contract. 200 (+ identity headers when there is a
/// session), 401 + `X-Spid-Login-Url` (login or step-up), 403 (identity kind refused),
/// 400 (ambiguous path), 503 (store down).
async fn auth_request(State(gw): State<Gateway>, headers: HeaderMap) -> Response {
    let site = gw.own_site();
    auth_answer(&gw, &site, &headers).await
}

/// The forward-auth answer for the SP of `site` (the gateway's own, or the tenant the
/// original request belongs to: `tenants::tenant_first`).
pub(crate) async fn auth_answer(gw: &Gateway, site: &Site, headers: &HeaderMap) -> Response {
    let (uri, _method) = original(headers);
    let path = uri.split(['?', '#']).next().unwrap_or("/");
    let requirement = match gw.inner.policy.requirement(path) {
        Ok(r) => r,
        Err(AmbiguousPath) => return StatusCode::BAD_REQUEST.into_response(),
    };
    let session = match gw.session(site, headers).await {
        Ok(s) => s,
        Err(p) => return p.status().into_response(),
    };
    let decision = requirement.decide(session.as_deref());
    let mut res = match &decision {
        Decision::Allow => {
            let mut res = StatusCode::OK.into_response();
            if let Some(s) = &session {
                gw.add_identity(site, res.headers_mut(), s);
            }
            // The application's Cookie without the gateway's (for `auth_request_set`):
            // always answered, empty when nothing is left.
            if let Some(name) = gw.inner.identity.cookie_header() {
                res.headers_mut()
                    .insert(name, identity::app_cookie(headers));
            }
            res
        }
        Decision::Forbidden => StatusCode::FORBIDDEN.into_response(),
        Decision::Login | Decision::StepUp(_) => {
            let lang = Language::from_headers(headers);
            match Gateway::login_url(site, &decision, session.as_deref(), &uri) {
                Some(url) => {
                    let mut res = pages::login_required(lang, &url);
                    if let Ok(v) = HeaderValue::from_str(&url) {
                        res.headers_mut().insert(LOGIN_URL_HEADER, v);
                    }
                    res
                }
                None => StatusCode::UNAUTHORIZED.into_response(),
            }
        }
    };
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    ops::count(&decision);
    res
}

/// Everything else: policy, then the upstream.
async fn proxy_request(State(gw): State<Gateway>, req: Request) -> Response {
    let site = gw.own_site();
    proxy_for(&gw, &site, req).await
}

/// A proxied request in its own span (its request ID: the trusted header's or generated, sent
/// upstream and echoed as `x-request-id`); unless `access_log = false`, one INFO event: the
/// outcome and the upstream's status (no personal data).
pub(crate) async fn proxy_for(gw: &Gateway, site: &Site, mut req: Request) -> Response {
    use tracing::Instrument as _;
    let id = site.auth.request_id_of(req.headers());
    let value = HeaderValue::from_str(&id).ok();
    if let Some(v) = &value {
        req.headers_mut().insert(proxy::X_REQUEST_ID, v.clone());
    }
    let span = tracing::info_span!(target: "spid_sp::gateway", "proxy", request_id = %id, tenant = site.auth.tenant().unwrap_or("-"));
    let mut res = policy_then_upstream(gw, site, req)
        .instrument(span.clone())
        .await;
    if gw.inner.access_log {
        let status = res.status().as_u16();
        span.in_scope(|| {
            if res.extensions().get::<proxy::FromUpstream>().is_some() {
                tracing::info!(target: "spid_sp::gateway", outcome = "proxied", upstream_status = status, "request proxied");
            } else {
                tracing::info!(target: "spid_sp::gateway", outcome = "answered", status, "request answered by the gateway");
            }
        });
    }
    if let Some(v) = value {
        res.headers_mut().insert(proxy::X_REQUEST_ID, v);
    }
    res
}

/// Who answers a request: the gateway's own SP, or a tenant's.
pub(crate) struct Site {
    pub(crate) auth: SpidAuth,
}

impl Gateway {
    fn own_site(&self) -> Site {
        Site {
            auth: self.inner.auth.clone(),
        }
    }
}

/// The policy, then the upstream, for the SP of `site`.
async fn policy_then_upstream(gw: &Gateway, site: &Site, mut req: Request) -> Response {
    let lang = Language::from_headers(req.headers());
    let path = req.uri().path().to_owned();
    let here = req
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    let requirement = match gw.inner.policy.requirement(&path) {
        Ok(r) => r,
        Err(AmbiguousPath) => {
            tracing::info!(target: "spid_sp::gateway", code = "ambiguous_path", "request refused");
            return pages::problem(Problem::BadRequest, lang);
        }
    };
    let session = match gw.session(site, req.headers()).await {
        Ok(s) => s,
        Err(p) => return pages::problem(p, lang),
    };
    let decision = requirement.decide(session.as_deref());
    ops::count(&decision);
    let navigable = req.method() == Method::GET || req.method() == Method::HEAD;
    match &decision {
        Decision::Allow => {}
        Decision::Forbidden => return pages::problem(Problem::Forbidden, lang),
        Decision::Login if !navigable => return pages::problem(Problem::LoginRequired, lang),
        Decision::StepUp(_) if !navigable => return pages::problem(Problem::Forbidden, lang),
        Decision::Login | Decision::StepUp(_) => {
            return match Gateway::login_url(site, &decision, session.as_deref(), &here) {
                Some(url) => redirect(&url),
                None => pages::problem(Problem::LoginRequired, lang),
            };
        }
    }
    let Some((upstream, client)) = gw
        .inner
        .upstreams
        .iter()
        .find(|(u, _)| policy::under(&u.prefix, &path))
    else {
        return pages::problem(Problem::BadGateway, lang);
    };
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    let headers = req.headers_mut();
    headers.reserve(16); // the X-Forwarded-*, identity and JWT headers: one growth at most
    let upgrade = proxy::remove_hop_by_hop(headers);
    gw.inner.identity.strip(headers);
    if let Some(h) = gw.inner.cns.as_ref().and_then(|c| c.header.as_ref()) {
        // The card header is the gateway's alone: never passed to an application.
        headers.remove(h);
    }
    gw.inner.forwarded.apply(headers, peer);
    if let Some(s) = &session {
        gw.add_identity(site, headers, s);
    }
    proxy::forward(client, upstream, req, upgrade).await
}
