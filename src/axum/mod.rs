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
//!     format!("{:?} at {}", session.key(), session.level())
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

mod session;

pub use session::{MemorySessionStore, Session, SessionStore};

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

use crate::binding::{Delivery, Outgoing};
use crate::error::{LoginError, RejectReason, StartError};
use crate::ids::RequestId;
use crate::level::SpidLevel;
use crate::logout::PendingLogout;
use crate::metadata::IdentityProvider;
use crate::response::status::IdpRefusal;
use crate::saml::Binding;
use crate::sp::{Incoming, ServiceProvider, VerifiedLogin};
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
/// Default bound on the pending logins of one client
/// ([`SpidAuthBuilder::pending_per_client`]).
pub const DEFAULT_PENDING_PER_CLIENT: usize = 32;

/// Adjusts the options of one login for the IdP it goes to (e.g. the eIDAS node's
/// attribute set, CIE's comparison).
pub type OptionsHook = dyn Fn(&IdentityProvider, &mut LoginOptions) + Send + Sync;
/// Called with every verified login before the session is created (the 24-month
/// transaction log AgID requires: [`VerifiedLogin::response_xml`]).
pub type LoginHook = dyn Fn(&VerifiedLogin) + Send + Sync;
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
    login_page: String,
    after_login: String,
    after_logout: String,
    session_secs: i64,
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
                login_page: "/".into(),
                after_login: "/".into(),
                after_logout: "/".into(),
                session_secs: 8 * 3600,
                logout_binding: Binding::Redirect,
                pages: Arc::new(DefaultPages),
                allow_test_idp: false,
                per_client_cap: DEFAULT_PENDING_PER_CLIENT,
                client_key: None,
                proxy_header: None,
                extra_origins: Vec::new(),
                origins: Vec::new(),
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
        Router::new()
            .route(&format!("{p}/metadata"), get(metadata))
            .route(&format!("{p}/login"), get(login_get).post(login_post))
            .route(&format!("{p}/acs"), post(acs))
            .route(&format!("{p}/complete"), get(complete))
            .route(&format!("{p}/logout"), post(logout))
            .route(&format!("{p}/slo"), get(slo_get).post(slo_post))
            .layer(DefaultBodyLimit::max(MAX_BODY))
            .layer(Extension(self.clone()))
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
        crate::dsig::redirect::quote_plus(idp, &mut url);
        if let Some(l) = level {
            let l = l.max(self.minimum_level());
            let _ = write!(url, "&level={}", l.number());
        }
        if let Some(n) = next.and_then(safe_next) {
            url.push_str("&next=");
            crate::dsig::redirect::quote_plus(&n, &mut url);
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
        let Some(token) = cookie(headers, &self.cookie_name(SESSION_COOKIE)) else {
            return Ok(None);
        };
        let now = self.inner.sp.now();
        let Some(json) = self
            .inner
            .sessions
            .get(&format!("sess:{}", hash(&token)), now)?
        else {
            return Ok(None);
        };
        let data: SessionData =
            serde_json::from_str(&json).map_err(|_| AuthError::Store(corrupt()))?;
        Ok((data.expires > now).then(|| Session::from_data(data)))
    }

    fn cookie_name(&self, base: &str) -> String {
        if self.inner.secure_cookies {
            format!("__Host-{base}")
        } else {
            base.to_owned()
        }
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

    fn error_response(&self, err: &AuthError) -> Response {
        let mut res = html_response(err.status(), self.inner.pages.error(err));
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
        self.inner.sessions.remove(&format!("sess:{token_hash}"))?;
        self.inner
            .sessions
            .remove(&name_id_key(data.info.idp.as_str(), &data.info.name_id))
    }
}

impl SpidAuthBuilder {
    /// The signed SP metadata to serve at `{prefix}/metadata`
    /// (see `spid_sp::metadata::SpMetadata`).
    pub fn metadata_xml(mut self, xml: impl Into<String>) -> Self {
        self.inner.metadata_xml = Some(xml.into());
        self
    }
    /// The path prefix of the endpoints (default `/spid`); must match the ACS and SLO
    /// URLs of the configuration.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.inner.prefix = prefix.into().trim_end_matches('/').to_owned();
        self
    }
    /// Mark cookies `Secure` and give them the `__Host-` prefix (default true). Only turn
    /// it off for plain-http development on loopback.
    pub fn secure_cookies(mut self, yes: bool) -> Self {
        self.inner.secure_cookies = yes;
        self
    }
    /// The default options of every login (level, comparison, binding...); `/login`'s
    /// `binding` parameter overrides them, its `level` parameter may only raise the
    /// level (a lower one is refused with 400). `level` is also the minimum of every
    /// session the [`Session`] extractor gives ([`SpidAuth::minimum_level`]).
    pub fn login_options(mut self, options: LoginOptions) -> Self {
        self.inner.login_options = options;
        self
    }
    /// A last adjustment of each login's options for the IdP it goes to. It may raise the
    /// level, not lower it: the level asked for before the hook (the configured one, or
    /// `/login`'s higher `level`) is applied again after it.
    pub fn options_for_idp(
        mut self,
        hook: impl Fn(&IdentityProvider, &mut LoginOptions) + Send + Sync + 'static,
    ) -> Self {
        self.inner.options_hook = Some(Arc::new(hook));
        self
    }
    /// Called with every verified login (e.g. to keep AgID's transaction log).
    pub fn on_login(mut self, hook: impl Fn(&VerifiedLogin) + Send + Sync + 'static) -> Self {
        self.inner.login_hook = Some(Arc::new(hook));
        self
    }
    /// Where users without a session are sent, with `?next=`: the page with the login
    /// buttons (default `/`).
    pub fn login_page(mut self, path: impl Into<String>) -> Self {
        self.inner.login_page = path.into();
        self
    }
    /// Where a login lands when it has no valid `next` (default `/`).
    pub fn after_login(mut self, path: impl Into<String>) -> Self {
        self.inner.after_login = path.into();
        self
    }
    /// Where a logout lands (default `/`).
    pub fn after_logout(mut self, path: impl Into<String>) -> Self {
        self.inner.after_logout = path.into();
        self
    }
    /// The absolute lifetime of a session, in seconds (default 8 hours).
    pub fn session_lifetime_secs(mut self, secs: i64) -> Self {
        self.inner.session_secs = secs.max(60);
        self
    }
    /// The binding of SP-initiated LogoutRequests (default HTTP-Redirect; the other one
    /// is used when the IdP has no endpoint for it).
    pub fn logout_binding(mut self, binding: Binding) -> Self {
        self.inner.logout_binding = binding;
        self
    }
    /// Where pending logins are kept (default in memory).
    pub fn pending_store(mut self, store: Arc<dyn PendingStore>) -> Self {
        self.inner.pending = store;
        self
    }
    /// Where sessions, hand-offs and pending logouts are kept (default in memory).
    pub fn session_store(mut self, store: Arc<dyn SessionStore>) -> Self {
        self.inner.sessions = store;
        self
    }
    /// The error pages.
    pub fn pages(mut self, pages: Arc<dyn Pages>) -> Self {
        self.inner.pages = pages;
        self
    }
    /// Trusts IdPs whose metadata marks them as test IdPs
    /// ([`IdentityProvider::is_test_idp`], e.g. the SDK's `test_idp`). Without this they
    /// are refused at `/login`, at the ACS and at `/slo`, so test-IdP metadata loaded
    /// into a production SP by mistake logs no one in. Only with the `test-idp` feature.
    #[cfg(feature = "test-idp")]
    pub fn allow_test_idp(mut self, mode: crate::test_idp::TestIdpMode) -> Self {
        let crate::test_idp::TestIdpMode::IKnowThisIsNotAnAccreditedIdp = mode;
        self.inner.allow_test_idp = true;
        self.inner.sp = self.inner.sp.allow_test_idp(mode);
        self
    }
    /// At most this many pending logins per client (default
    /// [`DEFAULT_PENDING_PER_CLIENT`], 32; at least 1): past it, the client's oldest
    /// pending logins are evicted ([`PendingStore::put_for_client`]), so one client that
    /// floods `/login` cannot fill the store for everyone. A client is the peer address
    /// (IPv6: its /64), which needs the server to be run with
    /// `app.into_make_service_with_connect_info::<SocketAddr>()`; without it every
    /// client shares one bucket, the store's global bound. Behind a reverse proxy, see
    /// [`SpidAuthBuilder::trusted_proxy_header`] or [`SpidAuthBuilder::client_key`].
    pub fn pending_per_client(mut self, cap: usize) -> Self {
        self.inner.per_client_cap = cap.max(1);
        self
    }
    /// Behind a trusted reverse proxy: the client is the **last** address of this header
    /// (e.g. `x-forwarded-for`, the entry the proxy appended; `x-real-ip`). Only set it
    /// when every request comes through a proxy that sets the header: anyone reaching the
    /// application directly could choose their client key. Without the header, or when it
    /// does not end with an IP address, the peer address counts.
    pub fn trusted_proxy_header(mut self, name: HeaderName) -> Self {
        self.inner.proxy_header = Some(name);
        self
    }
    /// Names the client of a request (for the per-client bound on pending logins) with
    /// the application's own rule; `None` falls back to
    /// [`SpidAuthBuilder::trusted_proxy_header`] and the peer address. The key is hashed
    /// before it reaches a store.
    pub fn client_key(
        mut self,
        hook: impl Fn(&Parts) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.inner.client_key = Some(Arc::new(hook));
        self
    }
    /// One more origin (`https://host[:port]`) accepted on `POST /logout`, besides the
    /// origins of the SP's ACS URLs (e.g. the application's pages on another host that
    /// show the logout button). Not a valid origin: ignored.
    pub fn trusted_origin(mut self, origin: &str) -> Self {
        if let Some(o) = normalize_origin(origin) {
            self.inner.extra_origins.push(o);
        }
        self
    }
    /// The integration.
    pub fn build(mut self) -> SpidAuth {
        let mut origins: Vec<String> = self
            .inner
            .sp
            .config()
            .assertion_consumer_services()
            .iter()
            .filter_map(|acs| normalize_origin(&acs.url))
            .collect();
        origins.append(&mut self.inner.extra_origins);
        origins.sort();
        origins.dedup();
        self.inner.origins = origins;
        SpidAuth {
            inner: Arc::new(self.inner),
        }
    }
}

/// Why a login or logout step did not complete. Shown to the user through [`Pages`] with
/// [`AuthError::status`]; [`AuthError::code`] is for logs. No personal data inside.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The IdP refused the login (cancelled, wrong credentials, `ErrorCode nrNN`): show
    /// its courtesy text.
    #[error("the identity provider refused: {0}")]
    Refused(IdpRefusal),
    /// The Response failed verification.
    #[error("response rejected: {0}")]
    Rejected(RejectReason),
    /// A logout message failed verification.
    #[error("logout message rejected: {0}")]
    Logout(RejectReason),
    /// No pending request matches the message (expired, already used, or never sent).
    #[error("no pending request for this message")]
    UnknownRequest,
    /// The login was finished by another browser than the one that started it, or its
    /// hand-off expired.
    #[error("the login was not started in this browser")]
    BrowserMismatch,
    /// A malformed request to an endpoint.
    #[error("bad request: {0}")]
    BadRequest(&'static str),
    /// The login could not be started.
    #[error("login not started: {0}")]
    Start(StartError),
    /// A store could not be reached.
    #[error("store unavailable: {0}")]
    Store(StoreError),
    /// The SP metadata is not configured.
    #[error("metadata not configured")]
    NoMetadata,
    /// A handler needs the [`SpidAuth::layer`] extension and it is missing.
    #[error("spid auth layer missing")]
    MissingLayer,
    /// The IdP's metadata marks it as a test IdP and the application did not opt in
    /// ([`SpidAuthBuilder::allow_test_idp`]).
    #[error("test identity provider not enabled")]
    TestIdpRefused,
    /// `/login` was asked for a level below the configured one (a tampered link: the
    /// level may only be raised).
    #[error("level below the service's minimum")]
    LevelBelowMinimum,
    /// A `POST /logout` that does not come from the SP's own pages (another site, a
    /// sibling subdomain, or no `Origin` / `Sec-Fetch-Site` at all): the session stays.
    #[error("logout from another origin refused")]
    CrossOriginLogout,
}

impl From<StoreError> for AuthError {
    fn from(e: StoreError) -> Self {
        AuthError::Store(e)
    }
}

impl AuthError {
    /// The HTTP status to answer with: the refusal's status for IdP refusals, 400 for
    /// malformed input, 403 for messages that fail verification, 503 when a store or the
    /// SP itself is at fault.
    pub fn status(&self) -> StatusCode {
        use RejectReason as R;
        match self {
            AuthError::Refused(r) => {
                StatusCode::from_u16(r.http_status()).unwrap_or(StatusCode::FORBIDDEN)
            }
            AuthError::Rejected(r) | AuthError::Logout(r) => {
                if r.is_internal() {
                    StatusCode::SERVICE_UNAVAILABLE
                } else if matches!(
                    r,
                    R::InputEncoding
                        | R::InputTooLarge
                        | R::Xml(_)
                        | R::NotAMessage(_)
                        | R::Redirect(_)
                ) {
                    StatusCode::BAD_REQUEST
                } else {
                    StatusCode::FORBIDDEN
                }
            }
            AuthError::UnknownRequest | AuthError::BrowserMismatch => StatusCode::FORBIDDEN,
            AuthError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AuthError::Start(StartError::Signing(_)) => StatusCode::INTERNAL_SERVER_ERROR,
            AuthError::Start(_) => StatusCode::BAD_REQUEST,
            AuthError::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
            AuthError::NoMetadata => StatusCode::NOT_FOUND,
            AuthError::MissingLayer => StatusCode::INTERNAL_SERVER_ERROR,
            AuthError::TestIdpRefused => StatusCode::FORBIDDEN,
            AuthError::LevelBelowMinimum => StatusCode::BAD_REQUEST,
            AuthError::CrossOriginLogout => StatusCode::FORBIDDEN,
        }
    }

    /// A stable short code for logs (the reject reason's code for rejections).
    pub fn code(&self) -> &'static str {
        match self {
            AuthError::Refused(_) => "idp-refused",
            AuthError::Rejected(r) | AuthError::Logout(r) => r.code(),
            AuthError::UnknownRequest => "unknown-request",
            AuthError::BrowserMismatch => "browser-mismatch",
            AuthError::BadRequest(_) => "bad-request",
            AuthError::Start(_) => "start-failed",
            AuthError::Store(_) => "store-unavailable",
            AuthError::NoMetadata => "no-metadata",
            AuthError::MissingLayer => "missing-layer",
            AuthError::TestIdpRefused => "test-idp-refused",
            AuthError::LevelBelowMinimum => "level-below-minimum",
            AuthError::CrossOriginLogout => "cross-origin-logout",
        }
    }

    /// What to tell the user, in Italian (the IdP's courtesy text for refusals).
    pub fn message_it(&self) -> &'static str {
        match self {
            AuthError::Refused(r) => r.message_it(),
            AuthError::Rejected(_) => "La risposta del gestore dell'identità non è valida: l'accesso non è stato effettuato. Riprova.",
            AuthError::Logout(_) => "La richiesta di uscita non è valida.",
            AuthError::UnknownRequest => "La richiesta di accesso è scaduta o è già stata usata. Riprova ad accedere.",
            AuthError::BrowserMismatch => "L'accesso è stato avviato da un altro browser o è scaduto. Riprova ad accedere da questo browser.",
            AuthError::BadRequest(_) => "Richiesta non valida.",
            AuthError::Start(StartError::UnknownIdp) => "Gestore dell'identità sconosciuto.",
            AuthError::Start(_) => "Non è stato possibile avviare l'accesso con questo gestore dell'identità.",
            AuthError::Store(_) | AuthError::MissingLayer => "Servizio temporaneamente non disponibile. Riprova tra poco.",
            AuthError::NoMetadata => "Metadati non disponibili.",
            AuthError::TestIdpRefused => "Questo gestore dell'identità è solo di prova e non è abilitato su questo servizio.",
            AuthError::LevelBelowMinimum => "Il livello di autenticazione richiesto è inferiore a quello minimo del servizio: il collegamento non è valido.",
            AuthError::CrossOriginLogout => "La richiesta di uscita non proviene da questo servizio ed è stata ignorata: la sessione resta aperta. Per uscire usa il pulsante «Esci» del servizio.",
        }
    }

    /// What to tell the user, in English.
    pub fn message_en(&self) -> &'static str {
        match self {
            AuthError::Refused(r) => r.message_en(),
            AuthError::Rejected(_) => "The identity provider's response is not valid: you are not signed in. Please try again.",
            AuthError::Logout(_) => "The logout request is not valid.",
            AuthError::UnknownRequest => "The sign-in request has expired or was already used. Please sign in again.",
            AuthError::BrowserMismatch => "The sign-in was started in another browser or has expired. Please sign in again from this browser.",
            AuthError::BadRequest(_) => "Bad request.",
            AuthError::Start(StartError::UnknownIdp) => "Unknown identity provider.",
            AuthError::Start(_) => "The sign-in with this identity provider could not be started.",
            AuthError::Store(_) | AuthError::MissingLayer => "Service temporarily unavailable. Please try again shortly.",
            AuthError::NoMetadata => "Metadata not available.",
            AuthError::TestIdpRefused => "This identity provider is for testing only and is not enabled on this service.",
            AuthError::LevelBelowMinimum => "The authentication level asked for is below this service's minimum: the link is not valid.",
            AuthError::CrossOriginLogout => "The logout request did not come from this service and was ignored: you are still signed in. To sign out, use the service's own logout button.",
        }
    }
}

/// Renders the error pages (the status is decided by [`AuthError::status`]).
pub trait Pages: Send + Sync {
    /// A complete HTML document for the error.
    fn error(&self, error: &AuthError) -> String;
}

/// Plain, accessible error pages in Italian and English.
#[derive(Clone, Copy, Debug, Default)]
pub struct DefaultPages;

impl Pages for DefaultPages {
    fn error(&self, error: &AuthError) -> String {
        let title = match error {
            AuthError::Logout(_) | AuthError::CrossOriginLogout => "Uscita non riuscita",
            _ => "Accesso non riuscito",
        };
        format!(
            "<!DOCTYPE html>\n<html lang=\"it\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>{title}</title></head><body><main>\
             <h1>{title}</h1><p>{}</p><p lang=\"en\">{}</p>\
             <p><small>Codice: {}</small></p><p><a href=\"/\">Torna alla pagina iniziale</a></p>\
             </main></body></html>",
            writer::text(error.message_it()),
            writer::text(error.message_en()),
            writer::text(error.code()),
        )
    }
}

// ---------------------------------------------------------------------------------------
// Handlers
// ---------------------------------------------------------------------------------------

const SESSION_COOKIE: &str = "spid_session";
const BROWSER_COOKIE: &str = "spid_browser";

/// Query or form of `/login`.
#[derive(Debug, serde::Deserialize)]
struct LoginParams {
    idp: Option<String>,
    level: Option<String>,
    binding: Option<String>,
    next: Option<String>,
}

/// Kept inside the pending login ([`PendingLogin::with_data`]): one store operation saves and
/// takes both.
#[derive(serde::Serialize, serde::Deserialize)]
struct LoginAux {
    browser: String,
    next: String,
    /// The session this login steps up, if any (token hash): replaced when it completes.
    replaces: Option<String>,
}

/// Kept under `handoff:<token hash>` between the ACS and `/complete`.
#[derive(serde::Serialize, serde::Deserialize)]
struct Handoff {
    browser: String,
    next: String,
    replaces: Option<String>,
    session: SessionData,
}

/// Kept under `logout:<request id>` during SP-initiated logout.
#[derive(serde::Serialize, serde::Deserialize)]
struct LogoutAux {
    pending: PendingLogout,
    next: String,
}

async fn metadata(Extension(auth): Extension<SpidAuth>) -> Response {
    match &auth.inner.metadata_xml {
        Some(xml) => {
            let mut res = (StatusCode::OK, xml.clone()).into_response();
            res.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/samlmetadata+xml"),
            );
            res
        }
        None => auth.error_response(&AuthError::NoMetadata),
    }
}

async fn login_get(
    Extension(auth): Extension<SpidAuth>,
    parts: Parts,
    params: Result<::axum::extract::Query<LoginParams>, ::axum::extract::rejection::QueryRejection>,
) -> Response {
    match params {
        Ok(p) => {
            let client = auth.client_of(&parts);
            let headers = parts.headers;
            blocking(auth, move |a| start(a, &headers, client.as_deref(), p.0)).await
        }
        Err(_) => auth.error_response(&AuthError::BadRequest("malformed login parameters")),
    }
}

async fn login_post(
    Extension(auth): Extension<SpidAuth>,
    parts: Parts,
    params: Result<::axum::extract::Form<LoginParams>, ::axum::extract::rejection::FormRejection>,
) -> Response {
    match params {
        Ok(p) => {
            let client = auth.client_of(&parts);
            let headers = parts.headers;
            blocking(auth, move |a| start(a, &headers, client.as_deref(), p.0)).await
        }
        Err(_) => auth.error_response(&AuthError::BadRequest("malformed login parameters")),
    }
}

fn start(auth: &SpidAuth, headers: &HeaderMap, client: Option<&str>, p: LoginParams) -> Response {
    match try_start(auth, headers, client, p) {
        Ok(res) => res,
        Err(e) => auth.error_response(&e),
    }
}

fn try_start(
    auth: &SpidAuth,
    headers: &HeaderMap,
    client: Option<&str>,
    p: LoginParams,
) -> Result<Response, AuthError> {
    let inner = &auth.inner;
    let idp_id = p
        .idp
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or(AuthError::BadRequest("missing idp parameter"))?;
    let idp = inner
        .sp
        .idp(idp_id)
        .ok_or(AuthError::Start(StartError::UnknownIdp))?;
    auth.check_idp(idp)?;
    let mut options = inner.login_options.clone();
    if let Some(level) = p.level.as_deref().filter(|s| !s.is_empty()) {
        let level = level
            .parse::<u8>()
            .ok()
            .and_then(SpidLevel::from_number)
            .ok_or(AuthError::BadRequest("level must be 1, 2 or 3"))?;
        // The level may be raised (step-up), never lowered: a lower one is a tampered
        // link, refused so that it shows.
        if level < auth.minimum_level() {
            return Err(AuthError::LevelBelowMinimum);
        }
        options.level = level;
    }
    let asked = options.level;
    if let Some(binding) = p.binding.as_deref().filter(|s| !s.is_empty()) {
        options.binding = match binding.to_ascii_lowercase().as_str() {
            "post" | "http-post" => Binding::Post,
            "redirect" | "http-redirect" => Binding::Redirect,
            _ => return Err(AuthError::BadRequest("binding must be post or redirect")),
        };
    }
    if let Some(hook) = &inner.options_hook {
        hook(idp, &mut options);
        // The hook may raise the level for an IdP, not lower it.
        options.level = options.level.max(asked);
    }
    let (outgoing, pending) = inner
        .sp
        .start_login(idp.entity_id().as_str(), &options)
        .map_err(AuthError::Start)?;

    // The browser cookie binds the login to this browser (checked at /complete).
    let browser_name = auth.cookie_name(BROWSER_COOKIE);
    let (browser, new_browser) = match cookie(headers, &browser_name) {
        Some(b) => (b, false),
        None => (token_string()?, true),
    };
    let replaces = cookie(headers, &auth.cookie_name(SESSION_COOKIE)).map(|t| hash(&t));
    let next = p
        .next
        .as_deref()
        .and_then(safe_next)
        .unwrap_or_else(|| inner.after_login.clone());
    let aux = LoginAux {
        browser: hash(&browser),
        next,
        replaces,
    };
    let aux = serde_json::to_string(&aux).map_err(|_| AuthError::Store(corrupt()))?;
    let pending = pending.with_data(aux);
    match client {
        Some(c) => inner
            .pending
            .put_for_client(pending, c, inner.per_client_cap)?,
        // No peer address (served without ConnectInfo): only the global bound.
        None => inner.pending.put(pending)?,
    }

    let mut res = deliver(&outgoing)?;
    if new_browser {
        // The browser cookie outlives one login so that parallel logins share it.
        append_header(
            &mut res,
            header::SET_COOKIE,
            &auth.set_cookie(BROWSER_COOKIE, &browser, 24 * 3600),
        );
    }
    no_store(&mut res);
    Ok(res)
}

async fn acs(Extension(auth): Extension<SpidAuth>, body: String) -> Response {
    blocking(auth, move |a| match try_acs(a, &body) {
        Ok(res) => res,
        Err(e) => a.error_response(&e),
    })
    .await
}

fn try_acs(auth: &SpidAuth, body: &str) -> Result<Response, AuthError> {
    let inner = &auth.inner;
    let incoming = Incoming::from_form(body).ok_or(AuthError::BadRequest(
        "expected a form with one SAMLResponse",
    ))?;
    let max = inner.sp.config().limits.max_bytes;
    let request_id = incoming
        .in_response_to_hint(max)
        .ok_or(AuthError::UnknownRequest)?;
    let now = auth.now();
    let pending = inner
        .pending
        .take(&request_id, now)?
        .ok_or(AuthError::UnknownRequest)?;
    let aux = pending
        .data()
        .and_then(|j| serde_json::from_str::<LoginAux>(j).ok())
        .ok_or(AuthError::UnknownRequest)?;
    if let Some(idp) = inner.sp.idp(pending.idp().as_str()) {
        auth.check_idp(idp)?;
    }
    let login = inner
        .sp
        .finish_login(&incoming, pending)
        .map_err(|e| match e {
            LoginError::Refused(r) => AuthError::Refused(r),
            LoginError::Rejected(r) => AuthError::Rejected(r),
        })?;
    if let Some(hook) = &inner.login_hook {
        hook(&login);
    }
    let idp_name = inner
        .sp
        .idp(login.idp().as_str())
        .and_then(|i| i.display_name())
        .map(str::to_owned);
    let expires = now.plus_seconds(inner.session_secs);
    let session = Session::from_login(&login, idp_name, now, expires);
    let handoff = Handoff {
        browser: aux.browser,
        next: aux.next,
        replaces: aux.replaces,
        session: session.data().clone(),
    };
    let handoff = serde_json::to_string(&handoff).map_err(|_| AuthError::Store(corrupt()))?;
    let token = token_string()?;
    inner.sessions.put(
        &format!("handoff:{}", hash(&token)),
        &handoff,
        now.plus_seconds(HANDOFF_SECS),
        now,
    )?;
    let mut res = redirect(
        StatusCode::SEE_OTHER,
        &format!("{}/complete?handoff={token}", inner.prefix),
    )?;
    no_store(&mut res);
    Ok(res)
}

#[derive(Debug, serde::Deserialize)]
struct CompleteParams {
    handoff: Option<String>,
}

async fn complete(
    Extension(auth): Extension<SpidAuth>,
    headers: HeaderMap,
    params: Result<
        ::axum::extract::Query<CompleteParams>,
        ::axum::extract::rejection::QueryRejection,
    >,
) -> Response {
    let token = params
        .ok()
        .and_then(|p| p.0.handoff)
        .filter(|t| is_token(t));
    blocking(auth, move |a| {
        let result = match token {
            Some(t) => try_complete(a, &headers, &t),
            None => Err(AuthError::BadRequest("missing hand-off")),
        };
        match result {
            Ok(res) => res,
            Err(e) => a.error_response(&e),
        }
    })
    .await
}

fn try_complete(auth: &SpidAuth, headers: &HeaderMap, token: &str) -> Result<Response, AuthError> {
    let inner = &auth.inner;
    let now = auth.now();
    let key = format!("handoff:{}", hash(token));
    // Read, check the browser, and only then consume: a request from another browser
    // (anyone who saw the URL) must not burn the hand-off of the right one.
    let browser = cookie(headers, &auth.cookie_name(BROWSER_COOKIE))
        .map(|b| hash(&b))
        .ok_or(AuthError::BrowserMismatch)?;
    let seen = inner
        .sessions
        .get(&key, now)?
        .ok_or(AuthError::BrowserMismatch)?;
    let handoff: Handoff = serde_json::from_str(&seen).map_err(|_| AuthError::BrowserMismatch)?;
    if !constant_time_eq(browser.as_bytes(), handoff.browser.as_bytes()) {
        return Err(AuthError::BrowserMismatch);
    }
    // Atomic: of two requests of this browser, one wins; and what is consumed must be
    // what was checked.
    let taken = inner.sessions.take(&key, now)?;
    if !taken.is_some_and(|t| constant_time_eq(t.as_bytes(), seen.as_bytes())) {
        return Err(AuthError::BrowserMismatch);
    }
    // A step-up replaces the session it upgrades (and a fresh login any previous one).
    let current = cookie(headers, &auth.cookie_name(SESSION_COOKIE)).map(|t| hash(&t));
    for old in [handoff.replaces.as_deref(), current.as_deref()]
        .into_iter()
        .flatten()
    {
        if let Some(data) = inner
            .sessions
            .take(&format!("sess:{old}"), now)?
            .and_then(|j| serde_json::from_str::<SessionData>(&j).ok())
        {
            auth.drop_session(old, &data)?;
        }
    }
    let session_token = token_string()?;
    let session_hash = hash(&session_token);
    let data = handoff.session;
    let json = serde_json::to_string(&data).map_err(|_| AuthError::Store(corrupt()))?;
    inner
        .sessions
        .put(&format!("sess:{session_hash}"), &json, data.expires, now)?;
    inner.sessions.put(
        &name_id_key(data.info.idp.as_str(), &data.info.name_id),
        &session_hash,
        data.expires,
        now,
    )?;
    let mut res = redirect(StatusCode::SEE_OTHER, &handoff.next)?;
    let max_age = data
        .expires
        .unix_seconds()
        .saturating_sub(now.unix_seconds());
    append_header(
        &mut res,
        header::SET_COOKIE,
        &auth.set_cookie(SESSION_COOKIE, &session_token, max_age),
    );
    no_store(&mut res);
    Ok(res)
}

async fn logout(Extension(auth): Extension<SpidAuth>, headers: HeaderMap) -> Response {
    blocking(auth, move |a| match try_logout(a, &headers) {
        Ok(res) => res,
        Err(e) => a.error_response(&e),
    })
    .await
}

fn try_logout(auth: &SpidAuth, headers: &HeaderMap) -> Result<Response, AuthError> {
    let inner = &auth.inner;
    // A logout form posted from anywhere but the SP's own pages is refused (logout
    // CSRF, sibling subdomains included), and so is a POST that says nothing.
    if !auth.same_origin(headers) {
        return Err(AuthError::CrossOriginLogout);
    }
    let now = auth.now();
    let session = match cookie(headers, &auth.cookie_name(SESSION_COOKIE)) {
        Some(t) => {
            let h = hash(&t);
            let data = inner
                .sessions
                .take(&format!("sess:{h}"), now)?
                .and_then(|j| serde_json::from_str::<SessionData>(&j).ok());
            if let Some(d) = &data {
                auth.drop_session(&h, d)?;
            }
            data
        }
        None => None,
    };
    let mut res = match session.and_then(|d| start_slo(auth, &d, now).transpose()) {
        Some(r) => r?,
        None => redirect(StatusCode::SEE_OTHER, &inner.after_logout)?,
    };
    append_header(
        &mut res,
        header::SET_COOKIE,
        &auth.set_cookie(SESSION_COOKIE, "", 0),
    );
    no_store(&mut res);
    Ok(res)
}

/// The LogoutRequest for a closed session, if its IdP does single logout.
fn start_slo(
    auth: &SpidAuth,
    data: &SessionData,
    now: Timestamp,
) -> Result<Option<Response>, AuthError> {
    let inner = &auth.inner;
    let Some(idp) = inner.sp.idp(data.info.idp.as_str()) else {
        return Ok(None);
    };
    if !idp.federation().rules().single_logout {
        // CIE: no SAML logout; the IdP's logout page is reached with a plain GET.
        return Ok(match idp.slo(Binding::Redirect) {
            Some(e) => Some(redirect(StatusCode::SEE_OTHER, &e.location)?),
            None => None,
        });
    }
    let other = match inner.logout_binding {
        Binding::Redirect => Binding::Post,
        _ => Binding::Redirect,
    };
    let Some(binding) = [inner.logout_binding, other]
        .into_iter()
        .find(|b| idp.slo(*b).is_some())
    else {
        return Ok(None);
    };
    let (outgoing, pending) = inner
        .sp
        .start_logout(&data.info, binding)
        .map_err(AuthError::Start)?;
    let expires = now.plus_seconds(inner.sp.config().request_lifetime_secs());
    let key = format!("logout:{}", pending.request_id());
    let aux = LogoutAux {
        pending,
        next: inner.after_logout.clone(),
    };
    let aux = serde_json::to_string(&aux).map_err(|_| AuthError::Store(corrupt()))?;
    inner.sessions.put(&key, &aux, expires, now)?;
    deliver(&outgoing).map(Some)
}

async fn slo_get(Extension(auth): Extension<SpidAuth>, uri: ::axum::http::Uri) -> Response {
    let query = uri.query().unwrap_or_default().to_owned();
    let kind = message_kind(&query);
    let incoming = Incoming::Redirect { query };
    blocking(auth, move |a| slo(a, kind, &incoming, Binding::Redirect)).await
}

async fn slo_post(Extension(auth): Extension<SpidAuth>, body: String) -> Response {
    let kind = message_kind(&body);
    match Incoming::from_form(&body) {
        Some(incoming) => blocking(auth, move |a| slo(a, kind, &incoming, Binding::Post)).await,
        None => auth.error_response(&AuthError::BadRequest("expected one SAML message")),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Request,
    Response,
    Unknown,
}

/// Which SAML field a query string or form body carries (exactly one of the two).
fn message_kind(params: &str) -> Kind {
    let mut request = false;
    let mut response = false;
    for pair in params.split('&') {
        match pair.split_once('=').map_or(pair, |(k, _)| k) {
            "SAMLRequest" => request = true,
            "SAMLResponse" => response = true,
            _ => {}
        }
    }
    match (request, response) {
        (true, false) => Kind::Request,
        (false, true) => Kind::Response,
        _ => Kind::Unknown,
    }
}

fn slo(auth: &SpidAuth, kind: Kind, incoming: &Incoming, binding: Binding) -> Response {
    let result = match kind {
        Kind::Request => idp_logout(auth, incoming, binding),
        Kind::Response => logout_response(auth, incoming),
        Kind::Unknown => Err(AuthError::BadRequest(
            "expected one SAMLRequest or SAMLResponse",
        )),
    };
    match result {
        Ok(mut res) => {
            no_store(&mut res);
            res
        }
        Err(e) => auth.error_response(&e),
    }
}

/// IdP-initiated logout: close the sessions of the NameID, answer Success.
fn idp_logout(
    auth: &SpidAuth,
    incoming: &Incoming,
    binding: Binding,
) -> Result<Response, AuthError> {
    let inner = &auth.inner;
    let (info, outgoing) = inner
        .sp
        .handle_logout_request(incoming, binding)
        .map_err(AuthError::Logout)?;
    if let Some(idp) = inner.sp.idp(info.idp.as_str()) {
        auth.check_idp(idp)?;
    }
    let now = auth.now();
    if let Some(h) = inner
        .sessions
        .take(&name_id_key(info.idp.as_str(), &info.name_id), now)?
    {
        inner.sessions.remove(&format!("sess:{h}"))?;
    }
    deliver(&outgoing)
}

/// The IdP's answer to our LogoutRequest.
fn logout_response(auth: &SpidAuth, incoming: &Incoming) -> Result<Response, AuthError> {
    let inner = &auth.inner;
    let max = inner.sp.config().limits.max_bytes;
    let request_id = match incoming {
        Incoming::Post { .. } => incoming.in_response_to_hint(max),
        Incoming::Redirect { query } => crate::dsig::redirect::decode_unverified(query)
            .ok()
            .and_then(|m| {
                let doc = xml::parse(&m.xml, &xml::Limits::MESSAGE).ok()?;
                let id = doc.root_element().attribute("InResponseTo")?.trim();
                (!id.is_empty() && id.len() <= 256).then(|| RequestId::new(id))
            }),
    }
    .ok_or(AuthError::UnknownRequest)?;
    let now = auth.now();
    let aux: LogoutAux = inner
        .sessions
        .take(&format!("logout:{request_id}"), now)?
        .and_then(|j| serde_json::from_str(&j).ok())
        .ok_or(AuthError::UnknownRequest)?;
    // The local session is already closed; a partial logout still ends here.
    inner
        .sp
        .finish_logout(incoming, aux.pending)
        .map_err(AuthError::Logout)?;
    redirect(StatusCode::SEE_OTHER, &aux.next)
}

// ---------------------------------------------------------------------------------------
// Extractors and the level guard
// ---------------------------------------------------------------------------------------

/// Why a [`Session`] or [`AtLeast`] extractor did not run the handler: a redirect to the
/// login page, a step-up login, or an error page.
#[derive(Debug)]
pub struct SessionRejection(Box<Response>);

impl SessionRejection {
    fn new(response: Response) -> Self {
        SessionRejection(Box::new(response))
    }
}

impl IntoResponse for SessionRejection {
    fn into_response(self) -> Response {
        *self.0
    }
}

fn auth_of(parts: &Parts) -> Result<SpidAuth, SessionRejection> {
    parts.extensions.get::<SpidAuth>().cloned().ok_or_else(|| {
        let e = AuthError::MissingLayer;
        SessionRejection::new(
            (e.status(), format!("{e}: add .layer(auth.layer())")).into_response(),
        )
    })
}

/// The request's path and query, if it can be returned to.
fn here(parts: &Parts) -> Option<String> {
    parts
        .uri
        .path_and_query()
        .map(|pq| pq.as_str())
        .and_then(safe_next)
}

fn to_login_page(auth: &SpidAuth, parts: &Parts) -> SessionRejection {
    if parts.method != Method::GET && parts.method != Method::HEAD {
        return SessionRejection::new((StatusCode::UNAUTHORIZED, "login required").into_response());
    }
    let mut url = auth.inner.login_page.clone();
    if let Some(next) = here(parts) {
        url.push(if url.contains('?') { '&' } else { '?' });
        url.push_str("next=");
        crate::dsig::redirect::quote_plus(&next, &mut url);
    }
    SessionRejection::new(
        redirect(StatusCode::SEE_OTHER, &url).unwrap_or_else(|e| auth.error_response(&e)),
    )
}

async fn session_of(auth: &SpidAuth, parts: &Parts) -> Result<Option<Session>, SessionRejection> {
    if cookie(&parts.headers, &auth.cookie_name(SESSION_COOKIE)).is_none() {
        return Ok(None);
    }
    let (a, headers) = (auth.clone(), parts.headers.clone());
    ::tokio::task::spawn_blocking(move || a.session_at_any_level(&headers))
        .await
        .unwrap_or_else(|_| Err(AuthError::Store(worker_failed())))
        .map_err(|e| SessionRejection::new(auth.error_response(&e)))
}

/// The session, if at least at the SP's configured level ([`SpidAuth::minimum_level`]):
/// without a session, to the login page; below the level (a session from before the
/// configuration was raised), a step-up at the same IdP.
impl<S: Send + Sync> FromRequestParts<S> for Session {
    type Rejection = SessionRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let auth = auth_of(parts)?;
        let session = session_of(&auth, parts)
            .await?
            .ok_or_else(|| to_login_page(&auth, parts))?;
        let minimum = auth.minimum_level();
        if session.level() >= minimum {
            Ok(session)
        } else {
            Err(step_up(&auth, parts, &session, minimum))
        }
    }
}

/// `Option<Session>`: `None` without a session, and for a session below the SP's
/// configured level ([`SpidAuth::minimum_level`]).
impl<S: Send + Sync> OptionalFromRequestParts<S> for Session {
    type Rejection = SessionRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        let auth = auth_of(parts)?;
        let minimum = auth.minimum_level();
        Ok(session_of(&auth, parts)
            .await?
            .filter(|s| s.level() >= minimum))
    }
}

/// A guard for handlers: the session, if its level is at least `N` (1, 2 or 3). Without
/// a session the user goes to the login page; with a lower level, to a new login at the
/// same IdP at level `N` (step-up), back to this page afterwards. `N` is the route's
/// explicit minimum: it applies instead of the configured one ([`SpidAuth::minimum_level`]),
/// even when lower.
#[derive(Clone, Debug)]
pub struct AtLeast<const N: u8>(pub Session);

impl<const N: u8, S: Send + Sync> FromRequestParts<S> for AtLeast<N> {
    type Rejection = SessionRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let auth = auth_of(parts)?;
        let level = SpidLevel::from_number(N).unwrap_or(SpidLevel::L3);
        let session = session_of(&auth, parts)
            .await?
            .ok_or_else(|| to_login_page(&auth, parts))?;
        if session.level() >= level {
            Ok(AtLeast(session))
        } else {
            Err(step_up(&auth, parts, &session, level))
        }
    }
}

fn step_up(
    auth: &SpidAuth,
    parts: &Parts,
    session: &Session,
    level: SpidLevel,
) -> SessionRejection {
    if parts.method != Method::GET && parts.method != Method::HEAD {
        return SessionRejection::new(
            (
                StatusCode::FORBIDDEN,
                "a higher authentication level is required",
            )
                .into_response(),
        );
    }
    let url = auth.login_url(session.idp().as_str(), Some(level), here(parts).as_deref());
    SessionRejection::new(
        redirect(StatusCode::SEE_OTHER, &url).unwrap_or_else(|e| auth.error_response(&e)),
    )
}

/// The level guard as middleware, for a whole group of routes (same redirects as
/// [`AtLeast`]; the handlers find the [`Session`] in the request extensions,
/// `Extension<Session>`):
///
/// ```no_run
/// # fn f(auth: spid_sp::axum::SpidAuth) -> axum::Router {
/// use axum::{middleware, routing::get, Router};
/// use spid_sp::{axum::require_level, SpidLevel};
/// Router::new()
///     .route("/payments", get(|| async { "ok" }))
///     .route_layer(middleware::from_fn_with_state(SpidLevel::L2, require_level))
///     .layer(auth.layer())
/// # }
/// ```
pub async fn require_level(
    ::axum::extract::State(level): ::axum::extract::State<SpidLevel>,
    request: ::axum::extract::Request,
    next: ::axum::middleware::Next,
) -> Response {
    let (parts, body) = request.into_parts();
    let checked = match auth_of(&parts) {
        Ok(auth) => match session_of(&auth, &parts).await {
            Ok(Some(session)) if session.level() >= level => Ok(session),
            Ok(Some(session)) => Err(step_up(&auth, &parts, &session, level)),
            Ok(None) => Err(to_login_page(&auth, &parts)),
            Err(rejection) => Err(rejection),
        },
        Err(rejection) => Err(rejection),
    };
    match checked {
        Ok(session) => {
            let mut request = ::axum::extract::Request::from_parts(parts, body);
            request.extensions_mut().insert(session);
            next.run(request).await
        }
        Err(rejection) => rejection.into_response(),
    }
}

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// A local path to return to: `/...`, not `//host` or `/\host`, printable ASCII without
/// backslashes, bounded. Anything else (absolute URLs included) gives `None`.
pub fn safe_next(next: &str) -> Option<String> {
    let ok = next.len() <= MAX_NEXT
        && next.starts_with('/')
        && !next.starts_with("//")
        && next.bytes().all(|b| b.is_ascii_graphic() && b != b'\\');
    ok.then(|| next.to_owned())
}

/// Runs a handler's synchronous part (store calls, RSA signing and verification) on
/// tokio's blocking pool: a store over the network (Redis) or a burst of logins never
/// stalls the async workers. See docs/scale-out.md for the measurements.
async fn blocking(
    auth: SpidAuth,
    f: impl FnOnce(&SpidAuth) -> Response + Send + 'static,
) -> Response {
    let a = auth.clone();
    match ::tokio::task::spawn_blocking(move || f(&a)).await {
        Ok(res) => res,
        Err(_) => auth.error_response(&AuthError::Store(worker_failed())),
    }
}

fn worker_failed() -> StoreError {
    StoreError("request worker failed".into())
}

/// The answer that delivers a signed message: a 302 or an auto-submitting form.
fn deliver(outgoing: &Outgoing) -> Result<Response, AuthError> {
    match outgoing.delivery() {
        Delivery::Redirect { url } => redirect(StatusCode::FOUND, url),
        Delivery::Post { .. } => {
            let nonce = token_string()?;
            let page = outgoing
                .html_form(Some(&nonce))
                .ok_or(AuthError::BadRequest("no form for this binding"))?;
            let mut res = html_response(StatusCode::OK, page);
            let csp = format!(
                "default-src 'none'; script-src 'nonce-{nonce}'; base-uri 'none'; frame-ancestors 'none'"
            );
            append_header(&mut res, header::CONTENT_SECURITY_POLICY, &csp);
            Ok(res)
        }
    }
}

fn html_response(status: StatusCode, html: String) -> Response {
    let mut res = (status, html).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    res
}

fn redirect(status: StatusCode, location: &str) -> Result<Response, AuthError> {
    let value = HeaderValue::from_str(location)
        .map_err(|_| AuthError::BadRequest("redirect target not encodable"))?;
    let mut res = status.into_response();
    res.headers_mut().insert(header::LOCATION, value);
    Ok(res)
}

fn append_header(res: &mut Response, name: HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        res.headers_mut().append(name, v);
    }
}

fn no_store(res: &mut Response) {
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res.headers_mut().insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
}

/// The peer address of the connection: [`ConnectInfo`] (the server must be run with
/// `into_make_service_with_connect_info::<SocketAddr>()`), or axum's [`MockConnectInfo`]
/// in tests.
pub(crate) fn peer_addr(extensions: &::axum::http::Extensions) -> Option<SocketAddr> {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0)
        .or_else(|| extensions.get::<MockConnectInfo<SocketAddr>>().map(|m| m.0))
}

/// The bucket of an address: IPv4 as is (IPv4-mapped IPv6 too), IPv6 by its /64 (what
/// one subscriber usually gets).
fn ip_bucket(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => format!("ip4:{v4}"),
        IpAddr::V6(v6) => {
            let [a, b, c, d, ..] = v6.segments();
            format!("ip6:{a:x}:{b:x}:{c:x}:{d:x}::/64")
        }
    }
}

/// The last address of a forwarding header (the one the trusted proxy appended): a bare
/// IP, or `IP:port` / `[IPv6]:port`.
fn forwarded_ip(headers: &HeaderMap, name: &HeaderName) -> Option<IpAddr> {
    let last = headers.get_all(name).iter().next_back()?.to_str().ok()?;
    let item = last.rsplit(',').next()?.trim();
    item.parse::<IpAddr>()
        .ok()
        .or_else(|| item.parse::<SocketAddr>().ok().map(|a| a.ip()))
}

/// `scheme://host[:port]` of an http(s) URL or origin, lowercased, without a default port
/// (how browsers serialise `Origin`); `None` for anything else (`null` included).
fn normalize_origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "https" => "443",
        "http" => "80",
        _ => return None,
    };
    let authority = rest.split(['/', '?', '#']).next()?.to_ascii_lowercase();
    if authority.is_empty() || authority.contains(['@', '\\', ' ']) {
        return None;
    }
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.is_empty() && !p.contains(']') => (h, Some(p)),
        _ => (authority.as_str(), None),
    };
    if host.starts_with('[') != host.ends_with(']') {
        return None;
    }
    match port {
        Some(p) if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) => None,
        Some(p) if p == default_port => Some(format!("{scheme}://{host}")),
        Some(p) => Some(format!("{scheme}://{host}:{p}")),
        None => Some(format!("{scheme}://{host}")),
    }
}

/// A cookie value by name: the first well-formed token (64 hex digits).
fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, v)| *k == name && is_token(v))
        .map(|(_, v)| v.to_owned())
}

fn is_token(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// 256 random bits, hex.
fn token_string() -> Result<String, AuthError> {
    crate::ids::random_token("", 32).map_err(|_| AuthError::Start(StartError::Random))
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// What the stores keep instead of a cookie value.
fn hash(token: &str) -> String {
    hex(&openssl::sha::sha256(token.as_bytes()))
}

fn name_id_key(idp: &str, name_id: &str) -> String {
    format!("nameid:{}", hash(&format!("{idp}\n{name_id}")))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && openssl::memcmp::eq(a, b)
}

fn corrupt() -> StoreError {
    StoreError("stored value unreadable".into())
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
        assert!(message_kind("SAMLRequest=a&RelayState=b") == Kind::Request);
        assert!(message_kind("SAMLResponse=a") == Kind::Response);
        assert!(message_kind("SAMLResponse=a&SAMLRequest=b") == Kind::Unknown);
        assert_eq!(hash("x").len(), 64);
    }
}
