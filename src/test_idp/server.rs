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

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use ::axum::extract::{DefaultBodyLimit, Extension, Form};
use ::axum::http::header::{self, HeaderValue};
use ::axum::http::{StatusCode, Uri};
use ::axum::response::{IntoResponse, Response};
use ::axum::routing::{get, post};
use ::axum::Router;

use super::{
    is_loopback_url, AuthnRequestIn, RequestError, ResponseSpec, TestIdp, TestIdpError,
    TestIdpMode, TestUser, TrustedSp, TEST_USERS,
};
use crate::binding::{Binding, Delivery, Incoming, Outgoing};
use crate::ids::random_token_or_abort as random_token;
use crate::level::{Comparison, SpidLevel};
use crate::time::{Clock, SystemClock, Timestamp};
use crate::xml::writer::{attr, text};

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

// ---------------------------------------------------------------------------------------
// Handlers
// ---------------------------------------------------------------------------------------

async fn metadata(Extension(s): Shared) -> Response {
    let mut res = (StatusCode::OK, s.metadata()).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/samlmetadata+xml"),
    );
    res
}

async fn sso_get(Extension(s): Shared, uri: Uri) -> Response {
    let query = uri.query().unwrap_or_default().to_owned();
    sso(&s, &Incoming::Redirect { query })
}

async fn sso_post(Extension(s): Shared, body: String) -> Response {
    match Incoming::from_form(&body) {
        Some(incoming) => sso(&s, &incoming),
        None => error_page(
            &s,
            StatusCode::BAD_REQUEST,
            "Richiesta non valida",
            "ErrorCode nr04: expected a form with one SAMLRequest",
        ),
    }
}

fn sso(s: &TestIdpServer, incoming: &Incoming) -> Response {
    let now = s.now();
    let request = match s
        .idp
        .verify_authn_request(&s.sps, incoming, &s.url("/sso"), now)
    {
        Ok(r) => r,
        Err(e) => return request_error(s, &e),
    };
    let token = random_token("", 16);
    {
        let mut st = s.state();
        st.pending.retain(|_, (_, exp)| *exp > now);
        if st.pending.len() >= MAX_ENTRIES {
            return error_page(
                s,
                StatusCode::SERVICE_UNAVAILABLE,
                "Troppe richieste aperte",
                "too many open login forms: try again later",
            );
        }
        st.pending.insert(
            token.clone(),
            (request.clone(), now.plus_seconds(PENDING_SECS)),
        );
    }
    html(StatusCode::OK, login_form(s, &request, &token), None)
}

/// The login form's fields.
#[derive(Debug, serde::Deserialize)]
struct LoginForm {
    token: String,
    user: Option<String>,
    level: Option<String>,
    outcome: Option<String>,
    code: Option<String>,
}

async fn login(
    Extension(s): Shared,
    form: Result<Form<LoginForm>, ::axum::extract::rejection::FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return error_page(
            &s,
            StatusCode::BAD_REQUEST,
            "Richiesta non valida",
            "malformed form",
        );
    };
    let now = s.now();
    let Some((request, expires)) = s.state().pending.remove(&form.token) else {
        return error_page(
            &s,
            StatusCode::BAD_REQUEST,
            "Richiesta scaduta",
            "this login form was already used or has expired: start again from the service",
        );
    };
    if expires <= now {
        return error_page(
            &s,
            StatusCode::BAD_REQUEST,
            "Richiesta scaduta",
            "this login form has expired: start again from the service",
        );
    }
    let user = form.user.as_deref().and_then(TestUser::by_id);
    let refusal = match form.outcome.as_deref() {
        Some("refuse") => Some(
            form.code
                .as_deref()
                .and_then(|c| c.trim_start_matches("nr").parse::<u8>().ok())
                .filter(|c| REFUSAL_CODES.iter().any(|(n, _)| n == c))
                .unwrap_or(25),
        ),
        // A user whose identity type the request's spid:Purpose does not admit: nr30.
        _ => match user {
            Some(u) if !u.identity_type.admitted_by(request.purpose) => Some(30),
            Some(_) => None,
            None => {
                return error_page(
                    &s,
                    StatusCode::BAD_REQUEST,
                    "Richiesta non valida",
                    "choose a user",
                )
            }
        },
    };
    let xml = match (refusal, user) {
        (Some(code), _) => s.idp.refusal(&request.id, &request.acs_url, code, now),
        (None, None) => s.idp.refusal(&request.id, &request.acs_url, 25, now),
        (None, Some(user)) => {
            let level = form
                .level
                .as_deref()
                .and_then(|l| l.parse::<u8>().ok())
                .and_then(SpidLevel::from_number)
                .unwrap_or(request.level);
            let mut spec =
                ResponseSpec::new(&request.id, &request.acs_url, &request.sp, level, now);
            for name in &request.requested_attributes {
                if let Some(value) = user.attribute(name) {
                    spec = spec.attribute(name, value);
                }
            }
            let session = IdpSession {
                handle: random_token("", 16),
                sp: request.sp.clone(),
                name_id: spec.name_id.clone(),
                session_index: spec.session_index.clone(),
                user: user.id,
                level,
                created: now,
            };
            let mut st = s.state();
            // One session per user and SP, as one browser session at an IdP: a step-up
            // replaces the login it upgrades.
            st.sessions
                .retain(|x| !(x.sp == session.sp && x.user == session.user));
            if st.sessions.len() >= MAX_ENTRIES {
                st.sessions.remove(0);
            }
            st.sessions.push(session);
            drop(st);
            s.idp.response(&spec)
        }
    };
    let xml = match xml {
        Ok(x) => x,
        Err(e) => {
            return error_page(
                &s,
                StatusCode::INTERNAL_SERVER_ERROR,
                "Firma non riuscita",
                &e.to_string(),
            )
        }
    };
    use base64::Engine as _;
    let value = base64::engine::general_purpose::STANDARD.encode(xml.as_bytes());
    post_page(
        &s,
        &request.acs_url,
        "SAMLResponse",
        &value,
        request.relay_state.as_deref(),
    )
}

async fn slo_get(Extension(s): Shared, uri: Uri) -> Response {
    let query = uri.query().unwrap_or_default().to_owned();
    let kind = message_kind(&query);
    slo(&s, kind, &Incoming::Redirect { query })
}

async fn slo_post(Extension(s): Shared, body: String) -> Response {
    let kind = message_kind(&body);
    match Incoming::from_form(&body) {
        Some(incoming) => slo(&s, kind, &incoming),
        None => error_page(
            &s,
            StatusCode::BAD_REQUEST,
            "Richiesta non valida",
            "expected a form with one SAMLRequest or SAMLResponse",
        ),
    }
}

/// `Some(true)`: a SAMLRequest; `Some(false)`: a SAMLResponse; `None`: neither or both.
fn message_kind(params: &str) -> Option<bool> {
    let (mut request, mut response) = (false, false);
    for pair in params.split('&') {
        match pair.split_once('=').map_or(pair, |(k, _)| k) {
            "SAMLRequest" => request = true,
            "SAMLResponse" => response = true,
            _ => {}
        }
    }
    match (request, response) {
        (true, false) => Some(true),
        (false, true) => Some(false),
        _ => None,
    }
}

fn slo(s: &TestIdpServer, kind: Option<bool>, incoming: &Incoming) -> Response {
    let now = s.now();
    let slo_url = s.url("/slo");
    match kind {
        // SP-initiated: end the sessions of that NameID at that SP, answer Success.
        Some(true) => {
            let request = match s.idp.verify_logout_request(&s.sps, incoming, &slo_url, now) {
                Ok(r) => r,
                Err(e) => return request_error(s, &e),
            };
            s.state()
                .sessions
                .retain(|x| !(x.sp == request.sp && x.name_id == request.name_id));
            let Some(sp) = s.sp(&request.sp) else {
                return request_error(
                    s,
                    &RequestError {
                        code: None,
                        what: "unknown service provider",
                    },
                );
            };
            match s.idp.logout_response(sp, &request, now) {
                Ok(out) => deliver(s, &out),
                Err(e) => error_page(
                    s,
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Uscita non riuscita",
                    &e.to_string(),
                ),
            }
        }
        // The SP's answer to an IdP-initiated logout.
        Some(false) => {
            let response = match s
                .idp
                .verify_logout_response(&s.sps, incoming, &slo_url, now)
            {
                Ok(r) => r,
                Err(e) => return request_error(s, &e),
            };
            let known = s
                .state()
                .logouts
                .remove(&response.in_response_to)
                .is_some_and(|(sp, exp)| sp == response.sp && exp > now);
            if !known {
                return error_page(
                    s,
                    StatusCode::BAD_REQUEST,
                    "Risposta inattesa",
                    "this LogoutResponse answers no logout started here",
                );
            }
            let outcome = if response.success {
                "<p class=\"ok\" id=\"slo-result\">Uscita completata: il service provider ha chiuso la sessione (Success).</p>"
            } else {
                "<p class=\"warn\" id=\"slo-result\">Uscita parziale: il service provider non ha confermato (status non Success).</p>"
            };
            let body = format!(
                "<h1>Uscita</h1>{outcome}<p>Service provider: <code>{}</code></p><p><a href=\"{}\">Torna al Test IdP</a></p>",
                text(&response.sp),
                attr(&s.local("/")),
            );
            html(StatusCode::OK, layout("Uscita", &body), None)
        }
        None => error_page(
            s,
            StatusCode::BAD_REQUEST,
            "Richiesta non valida",
            "expected one SAMLRequest or SAMLResponse",
        ),
    }
}

#[derive(Debug, serde::Deserialize)]
struct LogoutForm {
    session: String,
    binding: Option<String>,
}

async fn idp_logout(
    Extension(s): Shared,
    form: Result<Form<LogoutForm>, ::axum::extract::rejection::FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return error_page(
            &s,
            StatusCode::BAD_REQUEST,
            "Richiesta non valida",
            "malformed form",
        );
    };
    let now = s.now();
    let session = {
        let mut st = s.state();
        let pos = st.sessions.iter().position(|x| x.handle == form.session);
        pos.map(|i| st.sessions.remove(i))
    };
    let Some(session) = session else {
        return error_page(
            &s,
            StatusCode::BAD_REQUEST,
            "Sessione sconosciuta",
            "no such session",
        );
    };
    let Some(sp) = s.sp(&session.sp) else {
        return error_page(
            &s,
            StatusCode::BAD_REQUEST,
            "Sessione sconosciuta",
            "unknown service provider",
        );
    };
    let binding = match form.binding.as_deref() {
        Some("post") => Binding::Post,
        _ => Binding::Redirect,
    };
    match s.idp.logout_request(
        sp,
        &session.name_id,
        session.session_index.as_deref(),
        binding,
        now,
    ) {
        Ok((out, id)) => {
            {
                let mut st = s.state();
                st.logouts.retain(|_, (_, exp)| *exp > now);
                if st.logouts.len() < MAX_ENTRIES {
                    st.logouts
                        .insert(id, (session.sp.clone(), now.plus_seconds(PENDING_SECS)));
                }
            }
            deliver(&s, &out)
        }
        Err(e) => error_page(
            &s,
            StatusCode::INTERNAL_SERVER_ERROR,
            "Uscita non riuscita",
            &e.to_string(),
        ),
    }
}

async fn index_page(Extension(s): Shared) -> Response {
    let mut b = String::new();
    let _ = write!(
        b,
        "<h1>Test IdP (local)</h1><p>Identity provider di prova dell'SDK spid-sp: firma Response SPID \
         con il codice della libreria. EntityID <code>{}</code> – <a href=\"{}\">metadati</a>.</p>\
         <h2>Utenti di prova</h2><table><thead><tr><th scope=\"col\">Utente</th><th scope=\"col\">Tipo di identità</th><th scope=\"col\">Identificativo</th></tr></thead><tbody>",
        text(s.entity_id()),
        attr(&s.local("/metadata")),
    );
    for u in &TEST_USERS {
        let id = u
            .attribute("fiscalNumber")
            .or_else(|| u.attribute("spidCode"))
            .unwrap_or("—");
        let _ = write!(
            b,
            "<tr><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            text(u.label),
            text(u.identity_type.label()),
            text(id)
        );
    }
    b.push_str("</tbody></table><h2>Service provider accettati</h2><ul>");
    for sp in &s.sps {
        let _ = write!(b, "<li><code>{}</code></li>", text(sp.entity_id()));
    }
    b.push_str("</ul><h2>Sessioni aperte</h2><p class=\"small\">Uscita avviata dall'IdP: una LogoutRequest firmata al service provider, che risponde con una LogoutResponse.</p>");
    let sessions = s.state().sessions.clone();
    if sessions.is_empty() {
        b.push_str("<p>Nessuna sessione.</p>");
    } else {
        b.push_str("<table><thead><tr><th scope=\"col\">Utente</th><th scope=\"col\">Service provider</th><th scope=\"col\">Livello</th><th scope=\"col\">Dal</th><th scope=\"col\"></th></tr></thead><tbody>");
        for x in sessions.iter().rev() {
            let _ = write!(
                b,
                "<tr><td>{}</td><td><code>{}</code></td><td>SpidL{}</td><td>{}</td><td>\
                 <form method=\"post\" action=\"{}\"><input type=\"hidden\" name=\"session\" value=\"{}\">\
                 <button class=\"button small\" type=\"submit\" name=\"binding\" value=\"redirect\">Esci (HTTP-Redirect)</button> \
                 <button class=\"button small\" type=\"submit\" name=\"binding\" value=\"post\">Esci (HTTP-POST)</button></form></td></tr>",
                text(x.user),
                text(&x.sp),
                x.level.number(),
                x.created,
                attr(&s.local("/logout")),
                attr(&x.handle),
            );
        }
        b.push_str("</tbody></table>");
    }
    html(StatusCode::OK, layout("Test IdP", &b), None)
}

// ---------------------------------------------------------------------------------------
// Pages
// ---------------------------------------------------------------------------------------

fn login_form(s: &TestIdpServer, r: &AuthnRequestIn, token: &str) -> String {
    let mut b = String::new();
    let _ = write!(
        b,
        "<h1>Accedi con il Test IdP</h1>\
         <dl class=\"facts\"><dt>Service provider</dt><dd id=\"sp\"><code>{}</code></dd>\
         <dt>Livello richiesto</dt><dd id=\"requested-level\">SpidL{} ({})</dd>\
         <dt>spid:Purpose</dt><dd>{}</dd><dt>Binding</dt><dd>{}</dd>\
         <dt>Attributi richiesti</dt><dd id=\"requested-attributes\">{}</dd></dl>\
         <form method=\"post\" action=\"{}\"><input type=\"hidden\" name=\"token\" value=\"{}\">\
         <fieldset><legend>Utente</legend>",
        text(&r.sp),
        r.level.number(),
        text(r.comparison.as_str()),
        r.purpose.map_or("—", |p| p.code()),
        match r.binding {
            Binding::Redirect => "HTTP-Redirect",
            _ => "HTTP-POST",
        },
        text(&if r.requested_attributes.is_empty() {
            "—".to_owned()
        } else {
            r.requested_attributes.join(", ")
        }),
        attr(&s.local("/login")),
        attr(token),
    );
    let first_admitted = TEST_USERS
        .iter()
        .position(|u| u.identity_type.admitted_by(r.purpose))
        .unwrap_or(0);
    for (i, u) in TEST_USERS.iter().enumerate() {
        let mut notes = Vec::new();
        if !u.identity_type.admitted_by(r.purpose) {
            notes.push("tipo di identità non ammesso dalla richiesta: risposta nr30".to_owned());
        }
        let has_key = r.requested_attributes.iter().any(|n| {
            (n == "fiscalNumber" && u.attribute("fiscalNumber").is_some())
                || (n == "spidCode" && u.attribute("spidCode").is_some())
        });
        if !has_key {
            notes.push("nessun identificativo tra gli attributi richiesti".to_owned());
        }
        let _ = write!(
            b,
            "<label class=\"choice\"><input type=\"radio\" name=\"user\" value=\"{}\"{}> {} <span class=\"small\">({}){}</span></label>",
            attr(u.id),
            if i == first_admitted { " checked" } else { "" },
            text(u.label),
            text(u.identity_type.label()),
            if notes.is_empty() {
                String::new()
            } else {
                format!(" – {}", text(&notes.join("; ")))
            }
        );
    }
    let default_level = match r.comparison {
        Comparison::Better => SpidLevel::from_number(r.level.number() + 1).unwrap_or(SpidLevel::L3),
        _ => r.level,
    };
    b.push_str("</fieldset><fieldset><legend>Livello usato per l'autenticazione</legend>");
    for l in [SpidLevel::L1, SpidLevel::L2, SpidLevel::L3] {
        let _ = write!(
            b,
            "<label class=\"choice inline\"><input type=\"radio\" name=\"level\" value=\"{n}\"{}> SpidL{n}</label>",
            if l == default_level { " checked" } else { "" },
            n = l.number(),
        );
    }
    b.push_str(
        "</fieldset><p><button class=\"button\" type=\"submit\" name=\"outcome\" value=\"login\" id=\"login\">Accedi</button></p>\
         <fieldset><legend>Oppure simula un rifiuto</legend><select name=\"code\" id=\"code\">",
    );
    for (code, what) in REFUSAL_CODES {
        let _ = write!(
            b,
            "<option value=\"{code}\"{}>ErrorCode nr{code:02} – {}</option>",
            if code == 25 { " selected" } else { "" },
            text(what)
        );
    }
    b.push_str(
        "</select> <button class=\"button secondary\" type=\"submit\" name=\"outcome\" value=\"refuse\" id=\"refuse\">Invia il rifiuto</button></fieldset></form>",
    );
    layout("Accedi", &b)
}

fn layout(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"it\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} – Test IdP (local)</title><style>{CSS}</style></head><body>\
         <div class=\"test-banner\" role=\"note\" lang=\"en\">{TEST_LABEL}</div>\
         <header><p class=\"brand\">Test IdP (local)</p>\
         <p class=\"note\">Identity provider di prova: nessun accesso qui identifica davvero qualcuno.</p></header>\
         <main>{body}</main></body></html>",
        text(title)
    )
}

fn html(status: StatusCode, page: String, script_nonce: Option<&str>) -> Response {
    let mut res = (status, page).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::HeaderName::from_static("x-test-idp"),
        HeaderValue::from_static("not an accredited identity provider"),
    );
    let csp = match script_nonce {
        Some(n) => format!("default-src 'none'; style-src 'unsafe-inline'; script-src 'nonce-{n}'; base-uri 'none'; frame-ancestors 'none'"),
        None => "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'".to_owned(),
    };
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    res
}

fn error_page(s: &TestIdpServer, status: StatusCode, title: &str, detail: &str) -> Response {
    let body = format!(
        "<h1>{}</h1><div class=\"error\" role=\"alert\"><p id=\"error-detail\">{}</p></div>\
         <p><a href=\"{}\">Test IdP</a></p>",
        text(title),
        text(detail),
        attr(&s.local("/")),
    );
    html(status, layout(title, &body), None)
}

fn request_error(s: &TestIdpServer, e: &RequestError) -> Response {
    error_page(
        s,
        StatusCode::BAD_REQUEST,
        "Richiesta SAML non valida",
        &e.to_string(),
    )
}

/// An auto-submitting form that posts a SAML message (with a button without JavaScript).
fn post_page(
    s: &TestIdpServer,
    action: &str,
    field: &str,
    value: &str,
    relay_state: Option<&str>,
) -> Response {
    let nonce = random_token("", 16);
    let relay = relay_state
        .map(|r| {
            format!(
                "<input type=\"hidden\" name=\"RelayState\" value=\"{}\">",
                attr(r)
            )
        })
        .unwrap_or_default();
    let body = format!(
        "<h1>Ritorno al service provider</h1><form method=\"post\" action=\"{}\" id=\"saml-form\">\
         <input type=\"hidden\" name=\"{}\" value=\"{}\">{relay}\
         <p><button class=\"button\" type=\"submit\">Continua</button></p></form>\
         <script nonce=\"{nonce}\">document.getElementById('saml-form').submit();</script>",
        attr(action),
        attr(field),
        attr(value),
    );
    let _ = s;
    html(
        StatusCode::OK,
        layout("Ritorno al service provider", &body),
        Some(&nonce),
    )
}

fn deliver(s: &TestIdpServer, out: &Outgoing) -> Response {
    match out.delivery() {
        Delivery::Redirect { url } => match HeaderValue::from_str(url) {
            Ok(v) => {
                let mut res = StatusCode::FOUND.into_response();
                res.headers_mut().insert(header::LOCATION, v);
                res.headers_mut()
                    .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                res
            }
            Err(_) => error_page(
                s,
                StatusCode::INTERNAL_SERVER_ERROR,
                "Uscita non riuscita",
                "redirect target not encodable",
            ),
        },
        Delivery::Post {
            action,
            field,
            value,
            relay_state,
        } => post_page(s, action, field, value, relay_state.as_deref()),
    }
}

const CSS: &str = "\
:root{--blue:#0066cc;--text:#17324d;--err:#a4000f;--ok:#00703c}\
*{box-sizing:border-box}\
body{margin:0;font:1rem/1.5 system-ui,-apple-system,\"Segoe UI\",Roboto,sans-serif;color:var(--text);background:#fff8e6}\
.test-banner{background:#b00020;color:#fff;font-weight:700;text-align:center;padding:.5rem 1rem;letter-spacing:.02em}\
header,main{max-width:44rem;margin:0 auto;padding:.75rem 1.25rem}\
.brand{font-weight:700;font-size:1.2rem;margin:.25rem 0}.note,.small{font-size:.9rem;color:#4a5d70}\
main{background:#fff;border:2px dashed #b00020;border-radius:.5rem;margin-bottom:2rem}\
h1{font-size:1.5rem}\
fieldset{border:1px solid #c5d0dc;border-radius:.3rem;margin:1rem 0;padding:.5rem 1rem}\
legend{font-weight:600}\
label.choice{display:block;padding:.3rem 0}label.choice.inline{display:inline-block;margin-right:1.5rem}\
.button{display:inline-block;padding:.6rem 1.1rem;border-radius:.3rem;border:0;background:var(--blue);color:#fff;font:inherit;font-weight:600;cursor:pointer}\
.button.secondary{background:#5c6f82}.button.small{padding:.3rem .6rem;font-size:.9rem}\
.facts{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem}.facts dt{font-weight:600}.facts dd{margin:0;overflow-wrap:anywhere}\
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.3rem .4rem;border-bottom:1px solid #e3e9ef;overflow-wrap:anywhere}\
code{background:#eef2f6;padding:0 .25rem;border-radius:.2rem;overflow-wrap:anywhere}\
.error{border-left:4px solid var(--err);padding:.25rem 1rem;background:#fdf2f3}\
.ok{color:var(--ok);font-weight:600}.warn{color:var(--err);font-weight:600}\
:focus-visible{outline:3px solid #ffbf47;outline-offset:2px}";
