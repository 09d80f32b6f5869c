//! **TEST ONLY — not an accredited identity provider.** The test IdP over HTTP (features
//! `test-idp` + `axum`): metadata, SSO (both bindings) with a login form, SLO (both
//! bindings, both directions).
//!
//! ```no_run
//! # fn demo(key: spid_sp::SigningKey, sp_metadata_xml: &str) -> Result<(), spid_sp::test_idp::TestIdpError> {
//! use spid_sp::test_idp::{server::TestIdpServer, TestIdp, TestIdpMode};
//!
//! let base = "http://127.0.0.1:8000/test-idp";
//! let idp = TestIdp::new(base, key);
//! let server = TestIdpServer::new(TestIdpMode::IKnowThisIsNotAnAccreditedIdp, idp, base)?
//!     .trust_sp_metadata(sp_metadata_xml)?;
//! let idp_metadata = server.metadata(); // give it to the SP (it carries the test marker)
//! let routes: axum::Router = server.routes(); // merge into the app served at 127.0.0.1:8000
//! // serve it with routes.into_make_service_with_connect_info::<std::net::SocketAddr>():
//! // it answers only loopback peers
//! # let _ = (idp_metadata, routes); Ok(()) }
//! ```
//!
//! # Endpoints (under the base URL's path)
//!
//! | path | method | what |
//! |---|---|---|
//! | `/` | GET | users, trusted SPs, open sessions (with IdP-initiated logout) |
//! | `/metadata` | GET | the IdP metadata, with the test marker |
//! | `/sso` | GET, POST | a signed AuthnRequest (Redirect, POST): verified, then the login form |
//! | `/login` | POST | the form: a signed Response (or the chosen refusal) posted to the ACS |
//! | `/slo` | GET, POST | an SP's LogoutRequest (answered), or its LogoutResponse |
//! | `/logout` | POST | IdP-initiated logout of one session |
//!
//! Guards: it runs only on loopback URLs ([`super::is_loopback_url`]), only when built
//! with [`TestIdpMode::IKnowThisIsNotAnAccreditedIdp`], it answers only clients whose
//! peer address is loopback (403 otherwise, and without a peer address: serve the app
//! with `into_make_service_with_connect_info::<SocketAddr>()`), and every page says
//! "TEST — not an accredited identity provider".
//!
//! Inside: this file holds the server, its state, the routes and the loopback guard;
//! `sso.rs` the login (AuthnRequest, form, Response), `slo.rs` logout in both directions,
//! `pages.rs` the HTML and the responses that carry it (built on the axum integration's
//! helpers).

mod pages;
mod slo;
mod sso;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use ::axum::extract::{DefaultBodyLimit, Extension};
use ::axum::http::header::{self, HeaderValue};
use ::axum::http::StatusCode;
use ::axum::response::{IntoResponse, Response};
use ::axum::routing::{get, post};
use ::axum::Router;

use super::{is_loopback_url, AuthnRequestIn, TestIdp, TestIdpError, TestIdpMode, TrustedSp};
use crate::level::SpidLevel;
use crate::time::{Clock, SystemClock, Timestamp};
use pages::{html, index_page, layout};
use slo::{idp_logout, slo_get, slo_post};
use sso::{login, sso_get, sso_post};

/// The label on every page.
pub const TEST_LABEL: &str = "TEST — not an accredited identity provider";

/// Largest request body.
const MAX_BODY: usize = 512 * 1024;
/// How long a login form stays usable.
const PENDING_SECS: i64 = 600;
/// At most this many open login forms, sessions and IdP-initiated logouts.
const MAX_ENTRIES: usize = 1000;
/// The refusals the form offers: SPID `ErrorCode` numbers (24 is reserved by SPID).
pub const REFUSAL_CODES: [(u8, &str); 8] = [
    (19, "troppi tentativi con credenziali errate"),
    (20, "credenziali non del livello richiesto"),
    (21, "tempo scaduto"),
    (22, "l'utente nega il consenso all'invio dei dati"),
    (23, "identità sospesa, revocata o bloccata"),
    (
        24,
        "codice riservato (non usato da SPID): prova il testo generico",
    ),
    (25, "l'utente annulla l'accesso"),
    (
        30,
        "tipo di identità diverso da quello richiesto (spid:Purpose)",
    ),
];

/// The test IdP as an axum router. Build it, trust SPs, then merge [`TestIdpServer::routes`].
#[derive(Clone)]
pub struct TestIdpServer {
    idp: TestIdp,
    base_url: String,
    prefix: String,
    sps: Vec<TrustedSp>,
    clock: Arc<dyn Clock>,
    state: Arc<Mutex<State>>,
}

impl std::fmt::Debug for TestIdpServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestIdpServer")
            .field("entity_id", &self.idp.entity_id())
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

#[derive(Default)]
struct State {
    /// Open login forms: token → (request, expiry).
    pending: HashMap<String, (AuthnRequestIn, Timestamp)>,
    /// Logged-in sessions, oldest first.
    sessions: Vec<IdpSession>,
    /// IdP-initiated logouts waiting for the SP's answer: request ID → (SP, expiry).
    logouts: HashMap<String, (String, Timestamp)>,
}

#[derive(Clone)]
struct IdpSession {
    handle: String,
    sp: String,
    name_id: String,
    session_index: Option<String>,
    user: &'static str,
    level: SpidLevel,
    created: Timestamp,
}

impl TestIdpServer {
    /// A test IdP at `base_url` (its endpoints are `base_url` + `/sso`, `/slo`, ...).
    /// Refused unless both `base_url` and the IdP's entityID are loopback URLs.
    pub fn new(
        mode: TestIdpMode,
        idp: TestIdp,
        base_url: impl Into<String>,
    ) -> Result<TestIdpServer, TestIdpError> {
        let TestIdpMode::IKnowThisIsNotAnAccreditedIdp = mode;
        let base_url = base_url.into().trim_end_matches('/').to_owned();
        if !is_loopback_url(idp.entity_id()) {
            return Err(TestIdpError::NotLoopback("entityID"));
        }
        if !is_loopback_url(&base_url) {
            return Err(TestIdpError::NotLoopback("base url"));
        }
        let after_scheme = base_url.split_once("://").map_or("", |(_, r)| r);
        let prefix = after_scheme
            .find('/')
            .and_then(|i| after_scheme.get(i..))
            .unwrap_or_default()
            .to_owned();
        if prefix.contains(['?', '#', ' ']) {
            return Err(TestIdpError::NotLoopback("base url"));
        }
        Ok(TestIdpServer {
            idp,
            base_url,
            prefix,
            sps: Vec::new(),
            clock: Arc::new(SystemClock),
            state: Arc::new(Mutex::new(State::default())),
        })
    }

    /// Accepts requests from this SP (its metadata replaces any earlier one with the
    /// same entityID).
    pub fn trust_sp(mut self, sp: TrustedSp) -> TestIdpServer {
        self.sps.retain(|s| s.entity_id() != sp.entity_id());
        self.sps.push(sp);
        self
    }

    /// [`TestIdpServer::trust_sp`] from SP metadata XML.
    pub fn trust_sp_metadata(self, xml: &str) -> Result<TestIdpServer, TestIdpError> {
        Ok(self.trust_sp(TrustedSp::from_metadata(xml)?))
    }

    /// Uses this clock (tests).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> TestIdpServer {
        self.clock = clock;
        self
    }

    /// The IdP's entityID.
    pub fn entity_id(&self) -> &str {
        self.idp.entity_id()
    }

    /// The base URL.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The signer.
    pub fn idp(&self) -> &TestIdp {
        &self.idp
    }

    /// The IdP metadata, with the test marker (what `/metadata` serves).
    pub fn metadata(&self) -> String {
        self.idp.marked_metadata(&self.base_url)
    }

    /// The endpoints, to merge into a router served at the base URL's origin.
    pub fn routes<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        let p = &self.prefix;
        let shared = Arc::new(self.clone());
        let index = if p.is_empty() { "/" } else { p.as_str() };
        let mut r = Router::new()
            .route(index, get(index_page))
            .route(&format!("{p}/metadata"), get(metadata))
            .route(&format!("{p}/sso"), get(sso_get).post(sso_post))
            .route(&format!("{p}/login"), post(login))
            .route(&format!("{p}/slo"), get(slo_get).post(slo_post))
            .route(&format!("{p}/logout"), post(idp_logout));
        if !p.is_empty() {
            r = r.route(&format!("{p}/"), get(index_page));
        }
        r.layer(::axum::middleware::from_fn(loopback_clients_only))
            .layer(DefaultBodyLimit::max(MAX_BODY))
            .layer(Extension(shared))
    }

    fn now(&self) -> Timestamp {
        self.clock.now()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A poisoned lock only means a handler panicked mid-update: the maps stay usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn sp(&self, entity_id: &str) -> Option<&TrustedSp> {
        self.sps.iter().find(|s| s.entity_id() == entity_id)
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    fn local(&self, path: &str) -> String {
        format!("{}{path}", self.prefix)
    }
}

type Shared = Extension<Arc<TestIdpServer>>;

/// Answers only clients on loopback, whatever address the server listens on: the peer
/// address from axum's `ConnectInfo` (serve with
/// `into_make_service_with_connect_info::<SocketAddr>()`) must be a loopback address
/// (IPv4-mapped included). Without a peer address, 403 too (fail closed).
async fn loopback_clients_only(
    request: ::axum::extract::Request,
    next: ::axum::middleware::Next,
) -> Response {
    let local = crate::axum::peer_addr(request.extensions())
        .is_some_and(|a| a.ip().to_canonical().is_loopback());
    if local {
        return next.run(request).await;
    }
    let body = "<h1>Accesso negato</h1><div class=\"error\" role=\"alert\">\
                <p id=\"error-detail\">The test IdP answers only clients on this machine \
                (loopback); serve it with into_make_service_with_connect_info.</p></div>";
    html(StatusCode::FORBIDDEN, layout("Accesso negato", body), None)
}

async fn metadata(Extension(s): Shared) -> Response {
    let mut res = (StatusCode::OK, s.metadata()).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/samlmetadata+xml"),
    );
    res
}
