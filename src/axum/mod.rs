//! axum integration (feature `axum`): the SP's endpoints as a [`Router`], a [`Session`]
//! extractor that gives a handler the verified identity, and a level guard
//! ([`AtLeast`], [`require_level`]) that sends users with a lower-level session to
//! re-authenticate (step-up).
//!
//! ```no_run
//! # async fn demo(sp: spid_sp::ServiceProvider, metadata_xml: String) -> std::io::Result<()> {
//! use std::net::SocketAddr;
//! use axum::{routing::get, Router};
//! use spid_sp::axum::{AtLeast, Session, SpidAuth};
//!
//! let auth = SpidAuth::builder(sp)
//!     .metadata_xml(metadata_xml)     // the signed SP metadata, served at /spid/metadata
//!     .secure_cookies(true)           // https in production
//!     .login_page("/")                // where users without a session are sent (IdP chooser)
//!     .build();
//!
//! async fn me(session: Session) -> String {
//!     // The fiscal code (or eIDAS identifier) as text; `None` only for SPs that turned
//!     // off `require_identity_key`.
//!     let key = session.key().map_or("(no key)", |k| k.as_str());
//!     format!("{key} at {}", session.level())
//! }
//! async fn payments(AtLeast(session): AtLeast<2>) -> String {
//!     format!("level {}", session.level())
//! }
//! let app: Router = Router::new()
//!     .route("/me", get(me))
//!     .route("/payments", get(payments))
//!     .merge(auth.routes())
//!     .layer(auth.layer());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8000").await?;
//! // With the peer address: pending logins are bounded per client (see "Operations").
//! axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await
//! # }
//! ```
//!
//! # Endpoints (under the prefix, default `/spid`)
//!
//! | path | method | what |
//! |---|---|---|
//! | `/metadata` | GET | the SP metadata given to the builder |
//! | `/login?idp=ENTITYID[&level=1\|2\|3][&binding=post\|redirect][&next=/path]` | GET, POST | signs an AuthnRequest: 200 auto-submitting form (HTTP-POST) or 302 (HTTP-Redirect); a `level` below the configured one is refused (400) |
//! | `/acs` | POST | verifies the Response; 303 to `/complete` on success, an error page with a 4xx/5xx status otherwise |
//! | `/complete?handoff=TOKEN` | GET | binds the login to the browser that started it, creates the session, 303 to `next` |
//! | `/logout` | POST | closes the session and starts SP-initiated single logout; only from the SP's own pages (`Sec-Fetch-Site: same-origin` or the SP's `Origin`), 403 otherwise |
//! | `/slo` | GET, POST | IdP-initiated LogoutRequest, and the LogoutResponse to ours (both bindings) |
//! | `/button.css` | GET | the stylesheet of the login buttons ([`SpidAuth::login_buttons`]) |
//!
//! # Login buttons
//!
//! [`SpidAuth::login_buttons`] renders the IdP chooser for the application's login page:
//! "Entra con SPID" with the IdPs trusted right now in random order and by name, "Entra
//! con CIE" and "Login with eIDAS" beside it when such IdPs are trusted; no JavaScript,
//! nothing fetched from another site (see [`LoginButtons`]).
//!
//! # Languages
//!
//! Error and courtesy pages are in Italian or English, never both: English when the
//! request's `Accept-Language` weighs English above Italian, Italian otherwise (missing
//! or malformed headers included), with `Content-Language` and `Vary: Accept-Language`
//! ([`Language::from_headers`], [`Pages::error_in`]). The login buttons take a
//! [`Language`] too (default Italian): `.language(Language::from_headers(&headers))`.
//!
//! # Why the return from the IdP works in today's browsers
//!
//! The IdP returns the user with a cross-site POST, which carries no `SameSite=Lax`
//! cookie. So nothing at the ACS depends on a cookie: the pending request is looked up
//! server-side by the Response's `InResponseTo` (then verified against it by
//! [`ServiceProvider::finish_login`]), and the RelayState must be the opaque token sent
//! with that request. The ACS then answers `303` to `/complete`, a same-site top-level
//! GET that does carry the `SameSite=Lax` browser cookie set at `/login`: only the
//! browser that started the login can finish it (no login CSRF), and the session cookie
//! is set there.
//!
//! # Where users go afterwards
//!
//! `next` is kept server-side and must be a local path (`/...`, not `//host` or
//! `/\host`, printable ASCII): anything else is replaced by the default landing page.
//! The RelayState is never a URL, so a forged one is refused and cannot redirect.
//!
//! # Levels
//!
//! The level of [`SpidAuthBuilder::login_options`] is the SP's minimum: `/login` only
//! raises it, the `options_for_idp` hook cannot lower it, and the [`Session`] extractor
//! (and `Option<Session>`) never gives a session below it. [`AtLeast`] and
//! [`require_level`] are a route's explicit minimum, and apply as written.
//!
//! # Logout
//!
//! `POST /logout` is accepted only from the SP's own pages: `Sec-Fetch-Site:
//! same-origin`, or an `Origin` equal to the origin of an ACS URL (or one given to
//! [`SpidAuthBuilder::trusted_origin`]). A form on another site or a sibling subdomain,
//! and a POST with neither header, get 403 and the session stays.
//!
//! # Operations
//!
//! Every hit of `/login` signs a request (RSA) and stores a pending login: put a rate
//! limit in front of it. Pending logins are bounded per client
//! ([`SpidAuthBuilder::pending_per_client`], default 32): past it the client's oldest are
//! evicted, so one source flooding `/login` only evicts its own. The client is the peer
//! address (IPv6: its /64), so **serve the app with
//! `into_make_service_with_connect_info::<SocketAddr>()`** as above; without it, every
//! client shares one bucket, the store's global bound (when it is full, new logins fail
//! with 503 until pending ones expire: one flood denies logins to everyone). Behind a
//! reverse proxy, name the client with [`SpidAuthBuilder::trusted_proxy_header`] or
//! [`SpidAuthBuilder::client_key`]. The in-memory stores are bounded and fail closed when full; for
//! several instances, give the builder shared [`PendingStore`] and [`SessionStore`]
//! implementations (e.g. `spid_sp::store::RedisStore`, feature `redis`). Their calls are
//! synchronous: every handler that makes them (and signs or verifies) runs on tokio's
//! blocking pool, so the async workers never wait on a store. The ACS answers 303 on
//! success; refusals and rejections get an error page with [`AuthError::status`] (what
//! AgID's spid-sp-test expects: 200 only for an accepted login, 400/401/403 otherwise,
//! 503 when a store is down).

mod builder;
mod button;
mod cns;
#[cfg(feature = "cns-tls")]
mod cns_tls;
mod error;
mod guard;
mod http;
mod lang;
mod login;
mod logout;
mod observe;
#[cfg(feature = "oidc")]
mod oidc;
#[cfg(all(feature = "oidc", feature = "refresh"))]
mod oidc_http;
mod session;
#[cfg(test)]
pub(crate) use session::oidc_session_for_test;
mod session_cache;
#[cfg(feature = "tenants")]
mod tenants;

pub(crate) use crate::store::{MemorySessionStore, SessionStore};
pub use button::{ButtonLanguage, ButtonSize, LoginButtons, BUTTON_CSS};
pub use cns::{CnsConfig, CnsTrust, CNS_ENTITY_ID};
#[cfg(feature = "cns-tls")]
#[cfg_attr(docsrs, doc(cfg(feature = "cns-tls")))]
pub use cns_tls::{CnsTlsListener, CnsTlsPeer};
pub use error::{AuthError, DefaultPages, Pages};
pub use guard::{require_level, AtLeast, SessionRejection};
pub use http::safe_next;
pub use lang::Language;
#[cfg(feature = "oidc")]
#[cfg_attr(docsrs, doc(cfg(all(feature = "axum", feature = "oidc"))))]
pub use oidc::{OidcBackChannel, OidcSetup};
#[cfg(all(feature = "oidc", feature = "refresh"))]
#[cfg_attr(
    docsrs,
    doc(cfg(all(feature = "axum", feature = "oidc", feature = "refresh")))
)]
pub use oidc_http::{HttpBackChannel, MAX_BACK_CHANNEL_BODY};
pub use session::Session;
#[cfg(feature = "tenants")]
#[cfg_attr(docsrs, doc(cfg(feature = "tenants")))]
pub use tenants::{SpidTenants, SpidTenantsBuilder, TenantConfigure};

use cns::*;
pub(crate) use http::peer_addr;
use http::*;
/// Reused by the test IdP's HTTP server (`crate::test_idp::server`).
#[cfg(feature = "test-idp")]
pub(crate) use http::{append_header, html_response, no_store, redirect};
use login::*;
use logout::*;
use observe::*;

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use ::axum::extract::connect_info::{ConnectInfo, MockConnectInfo};
use ::axum::extract::{DefaultBodyLimit, Extension, FromRequestParts, OptionalFromRequestParts};
use ::axum::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use ::axum::http::request::Parts;
use ::axum::http::{Method, StatusCode};
use ::axum::response::{IntoResponse, Response};
use ::axum::routing::{get, post};
use ::axum::Router;

use crate::binding::{Delivery, Incoming, Outgoing};
use crate::error::IdpRefusal;
use crate::error::{LoginError, RejectReason, StartError};
use crate::ids::RequestId;
use crate::level::SpidLevel;
use crate::logout::PendingLogout;
use crate::metadata::IdentityProvider;
use crate::saml::Binding;
use crate::sp::{ServiceProvider, VerifiedLogin};
use crate::store::{MemoryPendingStore, PendingStore, StoreError};
use crate::time::Timestamp;
use crate::xml::writer;
use crate::{authn_request::LoginOptions, xml};

use session::SessionData;

/// Largest request body accepted on the POST endpoints (the SAML message limit is
/// enforced again after base64 decoding).
const MAX_BODY: usize = 1024 * 1024;
/// How long the ACS → browser hand-off token lives.
const HANDOFF_SECS: i64 = 120;
/// Longest `next` path kept.
const MAX_NEXT: usize = 1024;
/// Default idle timeout of a session ([`SpidAuthBuilder::session_idle_timeout_secs`]).
pub const DEFAULT_SESSION_IDLE_SECS: i64 = 30 * 60;
/// A session's last use is written back at most this often (bounds store writes).
const IDLE_TOUCH_SECS: i64 = 60;
/// Default bound on the pending logins of one client
/// ([`SpidAuthBuilder::pending_per_client`]).
pub const DEFAULT_PENDING_PER_CLIENT: usize = 32;

/// Adjusts the options of one login for the IdP it goes to (e.g. the eIDAS node's
/// attribute set, CIE's comparison).
pub type OptionsHook = dyn Fn(&IdentityProvider, &mut LoginOptions) + Send + Sync;
/// Called with every verified login before the session is created (the 24-month
/// transaction log AgID requires: [`VerifiedLogin::response_xml`]).
pub type LoginHook = dyn Fn(&VerifiedLogin) + Send + Sync;
/// Called with the session of every completed login, whatever the credential (SPID, CIE
/// and eIDAS over SAML, "Entra con CNS", CIE over OpenID Connect), when it is created.
pub type SessionHook = dyn Fn(&Session) + Send + Sync;
/// Names the client of a request for the per-client bound on pending logins
/// ([`SpidAuthBuilder::client_key`]); `None` falls back to the default.
pub type ClientKeyHook = dyn Fn(&Parts) -> Option<String> + Send + Sync;

/// The SPID/CIE/eIDAS login of an axum application. Cheap to clone (one `Arc`).
#[derive(Clone)]
pub struct SpidAuth {
    inner: Arc<Inner>,
}

struct Inner {
    sp: ServiceProvider,
    pending: Arc<dyn PendingStore>,
    sessions: Arc<dyn SessionStore>,
    metadata_xml: Option<String>,
    prefix: String,
    secure_cookies: bool,
    login_options: LoginOptions,
    options_hook: Option<Arc<OptionsHook>>,
    login_hook: Option<Arc<LoginHook>>,
    session_hook: Option<Arc<SessionHook>>,
    login_page: String,
    after_login: String,
    after_logout: String,
    session_secs: i64,
    /// Idle timeout: a session unused this long ends (besides `session_secs`).
    idle_secs: i64,
    logout_binding: Binding,
    pages: Arc<dyn Pages>,
    allow_test_idp: bool,
    per_client_cap: usize,
    client_key: Option<Arc<ClientKeyHook>>,
    proxy_header: Option<HeaderName>,
    /// Extra origins accepted on `POST /logout` (normalised), besides the ACS URLs' own.
    extra_origins: Vec<String>,
    /// Every origin accepted on `POST /logout` (set by `build`).
    origins: Vec<String>,
    /// A trusted header with the request ID ([`SpidAuthBuilder::request_id_header`]).
    request_id_header: Option<HeaderName>,
    /// The tenant this integration serves (`crate::tenants`): its ID scopes the cookie
    /// names and is written into, and checked on, every session record.
    tenant: Option<String>,
    /// The CNS smart-card login ([`SpidAuthBuilder::cns`]).
    cns: Option<CnsConfig>,
    /// The OpenID Connect relying party ([`SpidAuthBuilder::oidc`]).
    #[cfg(feature = "oidc")]
    oidc: Option<Arc<oidc::OidcSetup>>,
    /// Parsed sessions per token, reused while the stored record is unchanged.
    parsed: session_cache::ParsedSessions,
}

impl std::fmt::Debug for SpidAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpidAuth")
            .field("sp", &self.inner.sp)
            .field("prefix", &self.inner.prefix)
            .finish_non_exhaustive()
    }
}

/// Builder for [`SpidAuth`]; every setting has a safe default.
#[must_use]
pub struct SpidAuthBuilder {
    inner: Inner,
}

impl std::fmt::Debug for SpidAuthBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpidAuthBuilder").finish_non_exhaustive()
    }
}

impl SpidAuth {
    /// Starts the integration of a configured service provider.
    pub fn builder(sp: ServiceProvider) -> SpidAuthBuilder {
        SpidAuthBuilder {
            inner: Inner {
                sp,
                pending: Arc::new(MemoryPendingStore::default()),
                sessions: Arc::new(MemorySessionStore::default()),
                metadata_xml: None,
                prefix: "/spid".into(),
                secure_cookies: true,
                login_options: LoginOptions::default(),
                options_hook: None,
                login_hook: None,
                session_hook: None,
                login_page: "/".into(),
                after_login: "/".into(),
                after_logout: "/".into(),
                session_secs: 8 * 3600,
                idle_secs: DEFAULT_SESSION_IDLE_SECS,
                logout_binding: Binding::Redirect,
                pages: Arc::new(DefaultPages),
                allow_test_idp: false,
                per_client_cap: DEFAULT_PENDING_PER_CLIENT,
                client_key: None,
                proxy_header: None,
                extra_origins: Vec::new(),
                origins: Vec::new(),
                request_id_header: None,
                tenant: None,
                cns: None,
                #[cfg(feature = "oidc")]
                oidc: None,
                parsed: session_cache::ParsedSessions::default(),
            },
        }
    }

    /// The service provider.
    pub fn service_provider(&self) -> &ServiceProvider {
        &self.inner.sp
    }

    /// The path prefix of the endpoints (default `/spid`).
    pub fn prefix(&self) -> &str {
        &self.inner.prefix
    }

    /// The endpoints, to merge into the application's router (any state type).
    pub fn routes<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        let p = &self.inner.prefix;
        let router = Router::new();
        #[cfg(feature = "oidc")]
        let router = oidc::routes(self, router);
        router
            .route(&format!("{p}/metadata"), get(metadata))
            .route(&format!("{p}/login"), get(login_get).post(login_post))
            .route(&format!("{p}/acs"), post(acs))
            .route(&format!("{p}/complete"), get(complete))
            .route(&format!("{p}/logout"), post(logout))
            .route(&format!("{p}/slo"), get(slo_get).post(slo_post))
            .route(&format!("{p}/button.css"), get(button::stylesheet))
            .route(&format!("{p}/cns"), get(cns_start))
            .route(&format!("{p}/cns/certificate"), get(cns_certificate))
            .layer(DefaultBodyLimit::max(MAX_BODY))
            .layer(::axum::middleware::from_fn_with_state(
                self.clone(),
                trace_request,
            ))
            .layer(Extension(self.clone()))
    }

    /// Only the CNS certificate endpoint (`{prefix}/cns/certificate`): what the dedicated
    /// TLS listener serves ([`SpidAuthBuilder::cns`]; docs/cns.md "Login flow").
    pub fn cns_routes<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        let p = &self.inner.prefix;
        Router::new()
            .route(&format!("{p}/cns/certificate"), get(cns_certificate))
            .layer(::axum::middleware::from_fn_with_state(
                self.clone(),
                trace_request,
            ))
            .layer(Extension(self.clone()))
    }

    /// The URL of "Entra con CNS" (`{prefix}/cns?next=`), or `None` when the CNS login
    /// is not configured.
    pub fn cns_login_url(&self, next: Option<&str>) -> Option<String> {
        self.inner.cns.as_ref()?;
        let mut url = format!("{}/cns", self.inner.prefix);
        if let Some(n) = next.and_then(safe_next) {
            url.push_str("?next=");
            crate::binding::redirect::quote_plus(&n, &mut url);
        }
        Some(url)
    }

    /// The layer that makes [`Session`], [`AtLeast`] and [`require_level`] work on the
    /// application's routes: `app.layer(auth.layer())`.
    pub fn layer(&self) -> Extension<SpidAuth> {
        Extension(self.clone())
    }

    /// The URL that starts a login at `idp` (an entityID) and returns to `next` (a local
    /// path; anything else is replaced by the default landing page). A `level` below the
    /// configured one ([`SpidAuthBuilder::login_options`]) is raised to it: `/login`
    /// refuses to lower the level.
    pub fn login_url(&self, idp: &str, level: Option<SpidLevel>, next: Option<&str>) -> String {
        let mut url = format!("{}/login?idp=", self.inner.prefix);
        crate::binding::redirect::quote_plus(idp, &mut url);
        if let Some(l) = level {
            let l = l.max(self.minimum_level());
            let _ = write!(url, "&level={}", l.number());
        }
        if let Some(n) = next.and_then(safe_next) {
            url.push_str("&next=");
            crate::binding::redirect::quote_plus(&n, &mut url);
        }
        url
    }

    /// The level every login is requested at, at least: `login_options.level`
    /// ([`SpidAuthBuilder::login_options`]). [`Session`] (and `Option<Session>`) never
    /// give a session below it; [`AtLeast`] and [`require_level`] set a route's minimum
    /// explicitly.
    pub fn minimum_level(&self) -> SpidLevel {
        self.inner.login_options.level
    }

    /// The session of a request, from its cookie: `None` when not logged in, or when the
    /// session is below [`SpidAuth::minimum_level`] (as the [`Session`] extractor).
    pub fn session(&self, headers: &HeaderMap) -> Result<Option<Session>, AuthError> {
        Ok(self
            .session_at_any_level(headers)?
            .filter(|s| s.level() >= self.minimum_level()))
    }

    /// The session of a request whatever its level (for the explicit guards).
    fn session_at_any_level(&self, headers: &HeaderMap) -> Result<Option<Session>, AuthError> {
        Ok(self
            .shared_session_at_any_level(headers)?
            .map(|s| Session::clone(&s)))
    }

    /// [`SpidAuth::session_at_any_level`], shared: the store is read and every check runs
    /// on each call; the parse of an unchanged record is reused (`session_cache`).
    pub(crate) fn shared_session_at_any_level(
        &self,
        headers: &HeaderMap,
    ) -> Result<Option<Arc<Session>>, AuthError> {
        let Some(token) = cookie(headers, &self.cookie_name(SESSION_COOKIE)) else {
            return Ok(None);
        };
        let now = self.inner.sp.now();
        let token_hash = hash(&token);
        let Some(json) = self
            .inner
            .sessions
            .get(&["sess:", &token_hash].concat(), now)?
        else {
            self.inner.parsed.forget(&token_hash);
            return Ok(None);
        };
        let session = self
            .inner
            .parsed
            .get_or_parse(&token_hash, json, now, |j| serde_json::from_str(j).ok())
            .ok_or_else(|| AuthError::Store(corrupt()))?;
        let data = session.data();
        // A session is only good at the tenant that created it (the stores are namespaced
        // too: this is the second lock).
        if data.tenant != self.inner.tenant {
            log_foreign_session();
            return Ok(None);
        }
        if data.expires <= now || !self.touch(&token_hash, data, now)? {
            return Ok(None);
        }
        Ok(Some(session))
    }

    /// The idle timeout: whether the session was used within the last `idle_secs`, and
    /// if so records this use. The last use is kept under its own key (`seen:`), whose
    /// expiry is the idle deadline: a use racing a logout can only write that key, never
    /// bring the removed session back. A session idle too long is removed.
    fn touch(
        &self,
        token_hash: &str,
        data: &SessionData,
        now: Timestamp,
    ) -> Result<bool, AuthError> {
        let inner = &self.inner;
        let key = ["seen:", token_hash].concat();
        let last = match inner.sessions.get(&key, now)? {
            Some(t) => Timestamp::parse(&t).map_err(|_| AuthError::Store(corrupt()))?,
            // Not used since the login (or the mark expired: then `created` is old too).
            None => data.created,
        };
        if now >= last.plus_seconds(inner.idle_secs) {
            self.drop_session(token_hash, data)?;
            inner.sessions.remove(&key)?;
            return Ok(false);
        }
        if now >= last.plus_seconds(IDLE_TOUCH_SECS) {
            let until = now.plus_seconds(inner.idle_secs).min(data.expires);
            inner.sessions.put(&key, &now.to_string(), until, now)?;
        }
        Ok(true)
    }

    fn cookie_name(&self, base: &str) -> String {
        let host = if self.inner.secure_cookies {
            "__Host-"
        } else {
            ""
        };
        // Tenant IDs are `[a-z0-9-]`: valid in a cookie name. Built without `format!`: this
        // runs on every request with a cookie.
        let tenant = self.inner.tenant.as_deref();
        let mut name =
            String::with_capacity(host.len() + base.len() + 1 + tenant.map_or(0, str::len));
        name.push_str(host);
        name.push_str(base);
        if let Some(t) = tenant {
            name.push('-');
            name.push_str(t);
        }
        name
    }

    /// The tenant this integration serves, if it is one of a tenant table's.
    pub fn tenant(&self) -> Option<&str> {
        self.inner.tenant.as_deref()
    }

    fn set_cookie(&self, name: &str, value: &str, max_age: i64) -> String {
        format!(
            "{}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{}",
            self.cookie_name(name),
            if self.inner.secure_cookies {
                "; Secure"
            } else {
                ""
            }
        )
    }

    /// The error page of `err` in `language` (the request's: [`Language::from_headers`]).
    fn error_response(&self, err: &AuthError, language: Language) -> Response {
        log_auth_error(self, err);
        let pages = &self.inner.pages;
        let localized = pages.error_in(err, language);
        let mut res = match localized {
            Some(page) => {
                let mut res = html_response(err.status(), page);
                let headers = res.headers_mut();
                headers.insert(
                    header::CONTENT_LANGUAGE,
                    HeaderValue::from_static(language.tag()),
                );
                headers.append(header::VARY, HeaderValue::from_static("accept-language"));
                res
            }
            None => html_response(err.status(), pages.error(err)),
        };
        no_store(&mut res);
        res
    }

    fn now(&self) -> Timestamp {
        self.inner.sp.now()
    }

    /// Refuses an IdP whose metadata marks it as a test IdP, unless the builder opted in.
    fn check_idp(&self, idp: &IdentityProvider) -> Result<(), AuthError> {
        if idp.is_test_idp() && !self.inner.allow_test_idp {
            return Err(AuthError::TestIdpRefused);
        }
        Ok(())
    }

    /// Whether IdPs marked as test IdPs are trusted ([`SpidAuthBuilder::allow_test_idp`]).
    pub fn allows_test_idp(&self) -> bool {
        self.inner.allow_test_idp
    }

    /// The key of the request's client for the per-client bound on pending logins: the
    /// [`SpidAuthBuilder::client_key`] hook, else the address in the
    /// [`SpidAuthBuilder::trusted_proxy_header`], else the peer address from
    /// [`ConnectInfo`]; `None` when there is none of them (every client then shares the
    /// store's global bound). IPv6 addresses count by their /64. Hashed: stores never
    /// see an address (a pseudonym, not a secret).
    fn client_of(&self, parts: &Parts) -> Option<String> {
        let inner = &self.inner;
        let raw = inner
            .client_key
            .as_ref()
            .and_then(|hook| hook(parts))
            .map(|k| format!("key:{k}"))
            .or_else(|| {
                let name = inner.proxy_header.as_ref()?;
                forwarded_ip(&parts.headers, name).map(ip_bucket)
            })
            .or_else(|| peer_addr(&parts.extensions).map(|a| ip_bucket(a.ip())))?;
        let mut h = hash(&raw);
        h.truncate(32);
        Some(h)
    }

    /// Whether a `POST /logout` comes from the SP's own pages: `Sec-Fetch-Site:
    /// same-origin`, or an `Origin` among the SP's origins (those of its ACS URLs and
    /// [`SpidAuthBuilder::trusted_origin`]). Everything else is refused, requests without
    /// either header included (every current browser sends `Origin` on a POST).
    fn same_origin(&self, headers: &HeaderMap) -> bool {
        let site = headers
            .get_all("sec-fetch-site")
            .iter()
            .any(|v| v.as_bytes() == b"same-origin");
        let mut origins = headers.get_all(header::ORIGIN).iter();
        let origin = match (origins.next(), origins.next()) {
            (Some(o), None) => o.to_str().ok().and_then(normalize_origin),
            _ => None,
        };
        site || origin.is_some_and(|o| self.inner.origins.contains(&o))
    }

    /// Removes a session and its NameID index entry.
    fn drop_session(&self, token_hash: &str, data: &SessionData) -> Result<(), StoreError> {
        self.inner.parsed.forget(token_hash);
        self.inner.sessions.remove(&format!("sess:{token_hash}"))?;
        self.inner.sessions.remove(&name_id_key(
            data.info.idp.as_str(),
            data.info.name_id.as_str(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_paths() {
        for ok in ["/", "/me", "/a/b?c=d&e=%2F%2Fx", "/x//y"] {
            assert_eq!(safe_next(ok).as_deref(), Some(ok));
        }
        for bad in [
            "",
            "me",
            "//evil.example",
            "/\\evil.example",
            "https://evil.example/",
            "/a b",
            "/\u{e8}",
            "javascript:alert(1)",
            "/\r\nLocation: x",
        ] {
            assert_eq!(safe_next(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn origins_addresses_and_client_buckets() {
        for (url, origin) in [
            (
                "https://sp.example.it/spid/acs",
                Some("https://sp.example.it"),
            ),
            (
                "HTTPS://SP.Example.IT:443/acs",
                Some("https://sp.example.it"),
            ),
            (
                "http://127.0.0.1:8000/spid/acs",
                Some("http://127.0.0.1:8000"),
            ),
            ("http://[::1]:8000/x", Some("http://[::1]:8000")),
            ("http://[::1]", Some("http://[::1]")),
            ("http://sp.example.it:80", Some("http://sp.example.it")),
            ("null", None),
            ("ftp://sp.example.it", None),
            ("https://user@sp.example.it", None),
            ("https://sp.example.it:", None),
            ("https://sp.example.it:8a", None),
            ("https://", None),
        ] {
            assert_eq!(normalize_origin(url).as_deref(), origin, "{url}");
        }

        let name = HeaderName::from_static("x-forwarded-for");
        let mut h = HeaderMap::new();
        assert_eq!(forwarded_ip(&h, &name), None);
        h.append(&name, HeaderValue::from_static("203.0.113.9, 192.0.2.1"));
        assert_eq!(forwarded_ip(&h, &name), Some([192, 0, 2, 1].into()));
        h.append(&name, HeaderValue::from_static("[2001:db8::5]:443"));
        assert_eq!(
            forwarded_ip(&h, &name),
            Some("2001:db8::5".parse().unwrap()),
            "the last header line, with a port"
        );
        h.append(&name, HeaderValue::from_static("192.0.2.1, unknown"));
        assert_eq!(forwarded_ip(&h, &name), None, "not an address: ignored");

        let v6 = |s: &str| ip_bucket(s.parse().unwrap());
        assert_eq!(v6("2001:db8:1:2:aaaa::1"), v6("2001:db8:1:2:bbbb::2"));
        assert_ne!(v6("2001:db8:1:2::1"), v6("2001:db8:1:3::1"));
        assert_eq!(v6("::ffff:192.0.2.1"), v6("192.0.2.1"));
        assert_ne!(v6("192.0.2.1"), v6("192.0.2.2"));
    }

    #[test]
    fn cookies_and_kinds() {
        let mut h = HeaderMap::new();
        let t = "a".repeat(64);
        h.append(
            header::COOKIE,
            HeaderValue::from_str(&format!("x=1; spid_session=short; spid_session={t}")).unwrap(),
        );
        assert_eq!(cookie(&h, "spid_session").as_deref(), Some(t.as_str()));
        assert_eq!(cookie(&h, "x"), None, "not a token");
        assert!(message_kind("SAMLRequest=a&RelayState=b") == MessageKind::Request);
        assert!(message_kind("SAMLResponse=a") == MessageKind::Response);
        assert!(message_kind("SAMLResponse=a&SAMLRequest=b") == MessageKind::Unknown);
        assert_eq!(hash("x").len(), 64);
    }
}
