//! The OpenID Connect relying party in the axum integration (features `axum` + `oidc`):
//! the same browser binding, hand-off, session, level guards and logout as a SAML login.
//!
//! | path | method | what |
//! |---|---|---|
//! | `/.well-known/openid-federation` | GET | the RP's Entity Configuration (`application/entity-statement+jwt`) |
//! | `{prefix}/oidc/login?op=ENTITYID[&level=1\|2\|3][&next=/path]` | GET | resolves the OP's trust chain, 303 to its authorization endpoint with a signed request object |
//! | `{prefix}/oidc/callback?code=&state=&iss=` | GET | checks state (single use, this browser), redeems the code (`private_key_jwt`, PKCE), verifies ID token and userinfo, 303 to `{prefix}/complete` |

use std::sync::Arc;

use ::axum::extract::{Extension, Query, RawQuery};
use ::axum::http::header::{self, HeaderMap, HeaderValue};
use ::axum::http::StatusCode;
use ::axum::response::{IntoResponse, Response};
use ::axum::routing::get;
use ::axum::Router;

use super::http::{blocking, cookie, hash, no_store, redirect};
use super::lang::Language;
use super::login::{browser_cookie, respond, set_browser_cookie, Handoff};
use super::session::SessionData;
use super::{corrupt, AuthError, SpidAuth, SpidAuthBuilder, BROWSER_COOKIE};
use super::{safe_next, SESSION_COOKIE};
use crate::audit::{OidcIndex, Outcome, RecordKind, TransactionRecord};
use crate::federation::Federation;
use crate::identity::IdentitySource;
use crate::ids::{EntityId, NameId};
use crate::level::SpidLevel;
use crate::oidc::{
    Callback, ChainOptions, FederationFetcher, OidcLogin, PendingOidcLogin, Provider, RelyingParty,
    RpError, Tokens, TrustAnchor, TrustChainCache, OPENID_PROVIDER,
};
use crate::sp::SessionInfo;
use crate::time::Timestamp;

/// The HTTP calls of the flow that do not go through the browser: federation fetches,
/// the token request, userinfo and revocation. Blocking calls, run off the async
/// runtime; bound their time. The test federation implements it in-process
/// (`spid_sp::test_idp::oidc::TestFederation`).
pub trait OidcBackChannel: FederationFetcher + Send + Sync {
    /// POSTs `body` (`application/x-www-form-urlencoded`) to `url`; the response body of
    /// any status (the token endpoint's errors are JSON), or why nothing came back.
    fn post_form(&self, url: &str, body: &str) -> Result<String, String>;
    /// GETs `url` with `Authorization: {authorization}`; the body of a 2xx answer.
    fn get_with_authorization(&self, url: &str, authorization: &str) -> Result<String, String>;
}

/// The OpenID Connect part of [`SpidAuth`]: the relying party, the trust anchors it
/// pins, the OPs it offers, and the back channel.
pub struct OidcSetup {
    rp: RelyingParty,
    anchors: Vec<TrustAnchor>,
    providers: Vec<String>,
    back: Arc<dyn OidcBackChannel>,
    cache: TrustChainCache,
    options: ChainOptions,
}

impl std::fmt::Debug for OidcSetup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcSetup")
            .field("client_id", &self.rp.client_id())
            .field("providers", &self.providers)
            .finish_non_exhaustive()
    }
}

impl OidcSetup {
    /// The relying party with its pinned trust anchors and back channel; add the OPs
    /// users may choose with [`OidcSetup::provider`].
    pub fn new(
        rp: RelyingParty,
        anchors: Vec<TrustAnchor>,
        back: Arc<dyn OidcBackChannel>,
    ) -> OidcSetup {
        OidcSetup {
            rp,
            anchors,
            providers: Vec::new(),
            back,
            cache: TrustChainCache::new(64),
            options: ChainOptions::default(),
        }
    }

    /// Offers the OP `entity_id` (its trust chain is resolved at login and cached until
    /// the chain expires). The first one is the default of `/oidc/login`.
    pub fn provider(mut self, entity_id: &str) -> OidcSetup {
        self.providers.push(entity_id.to_owned());
        self
    }

    /// The chain options (depth, fetch budget, trust marks required).
    pub fn chain_options(mut self, options: ChainOptions) -> OidcSetup {
        self.options = options;
        self
    }

    /// The relying party.
    pub fn relying_party(&self) -> &RelyingParty {
        &self.rp
    }

    fn resolve(&self, op: &str, now: Timestamp) -> Result<Provider, RpError> {
        let chain = self
            .cache
            .resolve(
                op,
                OPENID_PROVIDER,
                &self.anchors,
                self.back.as_ref(),
                now,
                &self.options,
            )
            .map_err(RpError::TrustChain)?;
        Provider::from_trust_chain(&chain)
    }
}

impl SpidAuthBuilder {
    /// Adds the OpenID Connect relying party (CIE ID over the OIDC Federation): the
    /// routes of this module and the Entity Configuration at
    /// `/.well-known/openid-federation`.
    pub fn oidc(mut self, setup: OidcSetup) -> Self {
        self.inner.oidc = Some(Arc::new(setup));
        self
    }
}

impl SpidAuth {
    /// The URL of "Entra con CIE (OpenID Connect)" (`{prefix}/oidc/login?next=`), or
    /// `None` when the relying party is not configured (the gateway's login page).
    #[cfg_attr(not(feature = "gateway"), allow(dead_code))]
    pub(crate) fn oidc_login_url(&self, next: Option<&str>) -> Option<String> {
        self.inner.oidc.as_ref()?;
        let mut url = format!("{}/oidc/login", self.inner.prefix);
        if let Some(n) = next.and_then(safe_next) {
            url.push_str("?next=");
            crate::binding::redirect::quote_plus(&n, &mut url);
        }
        Some(url)
    }
}

pub(super) fn status_of(e: &RpError) -> StatusCode {
    match e {
        RpError::Config(_) | RpError::Random | RpError::Crypto => StatusCode::INTERNAL_SERVER_ERROR,
        RpError::Store(_) | RpError::Unreachable(_) => StatusCode::SERVICE_UNAVAILABLE,
        RpError::Malformed(_) => StatusCode::BAD_REQUEST,
        _ => StatusCode::FORBIDDEN,
    }
}

pub(super) fn routes<S: Clone + Send + Sync + 'static>(
    auth: &SpidAuth,
    router: Router<S>,
) -> Router<S> {
    if auth.inner.oidc.is_none() {
        return router;
    }
    let p = &auth.inner.prefix;
    router
        .route(
            crate::oidc::WELL_KNOWN_FEDERATION,
            get(entity_configuration),
        )
        .route(&format!("{p}/oidc/login"), get(login))
        .route(&format!("{p}/oidc/callback"), get(callback))
}

fn setup(auth: &SpidAuth) -> Result<&OidcSetup, AuthError> {
    auth.inner
        .oidc
        .as_deref()
        .ok_or(AuthError::BadRequest("OpenID Connect not configured"))
}

async fn entity_configuration(Extension(auth): Extension<SpidAuth>) -> Response {
    let Ok(s) = setup(&auth) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    match s.rp.entity_configuration(auth.now()) {
        Ok(jwt) => {
            let mut res = (StatusCode::OK, jwt).into_response();
            res.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/entity-statement+jwt"),
            );
            res
        }
        Err(e) => {
            tracing::error!(outcome = e.code(), "oidc entity configuration not signed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// Kept under `oidc:<state hash>` between `/oidc/login` and the callback.
#[derive(serde::Serialize, serde::Deserialize)]
struct OidcAux {
    pending: PendingOidcLogin,
    browser: String,
    next: String,
    replaces: Option<String>,
}

#[derive(Debug, serde::Deserialize)]
struct LoginParams {
    op: Option<String>,
    level: Option<u8>,
    next: Option<String>,
}

async fn login(
    Extension(auth): Extension<SpidAuth>,
    headers: HeaderMap,
    params: Result<Query<LoginParams>, ::axum::extract::rejection::QueryRejection>,
) -> Response {
    let language = Language::from_headers(&headers);
    blocking(auth, language, move |a| {
        let result = match params {
            Ok(Query(p)) => try_login(a, &headers, p),
            Err(_) => Err(AuthError::BadRequest("malformed query")),
        };
        respond(a, result, language)
    })
    .await
}

fn try_login(auth: &SpidAuth, headers: &HeaderMap, p: LoginParams) -> Result<Response, AuthError> {
    let s = setup(auth)?;
    let now = auth.now();
    let op = match p.op {
        Some(op) => s
            .providers
            .iter()
            .find(|x| **x == op)
            .ok_or(AuthError::BadRequest("unknown OpenID Provider"))?,
        None => s
            .providers
            .first()
            .ok_or(AuthError::BadRequest("no OpenID Provider configured"))?,
    };
    let minimum = auth.minimum_level();
    let level = match p.level {
        Some(n) => SpidLevel::from_number(n).ok_or(AuthError::BadRequest("level must be 1-3"))?,
        None => minimum,
    };
    if level < minimum {
        return Err(AuthError::LevelBelowMinimum);
    }
    let provider = s.resolve(op, now).map_err(AuthError::Oidc)?;
    let (url, pending) =
        s.rp.start_login(&provider, level, now)
            .map_err(AuthError::Oidc)?;
    let (browser, new_browser) = browser_cookie(auth, headers)?;
    let aux = OidcAux {
        browser: hash(&browser),
        next: p
            .next
            .as_deref()
            .and_then(safe_next)
            .unwrap_or_else(|| auth.inner.after_login.clone()),
        replaces: cookie(headers, &auth.cookie_name(SESSION_COOKIE)).map(|t| hash(&t)),
        pending,
    };
    let json = serde_json::to_string(&aux).map_err(|_| AuthError::Store(corrupt()))?;
    auth.inner.sessions.put(
        &format!("oidc:{}", hash(aux.pending.state())),
        &json,
        aux.pending.expires(),
        now,
    )?;
    tracing::info!(
        op = op.as_str(),
        level = level.number(),
        "oidc login started"
    );
    let mut res = redirect(StatusCode::SEE_OTHER, &url)?;
    set_browser_cookie(auth, &mut res, &browser, new_browser);
    no_store(&mut res);
    Ok(res)
}

async fn callback(
    Extension(auth): Extension<SpidAuth>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let language = Language::from_headers(&headers);
    blocking(auth, language, move |a| {
        let result = try_callback(a, &headers, query.as_deref().unwrap_or(""));
        respond(a, result, language)
    })
    .await
}

fn try_callback(auth: &SpidAuth, headers: &HeaderMap, query: &str) -> Result<Response, AuthError> {
    let s = setup(auth)?;
    let inner = &auth.inner;
    let now = auth.now();
    let cb = Callback::from_query(query).map_err(AuthError::Oidc)?;
    let state = cb
        .state()
        .filter(|st| !st.is_empty() && st.len() <= 256)
        .ok_or(AuthError::Oidc(RpError::UnknownState))?;
    let key = format!("oidc:{}", hash(state));
    // Single use: taken before anything else, so a replayed callback finds nothing.
    let aux: OidcAux = inner
        .sessions
        .take(&key, now)?
        .and_then(|j| serde_json::from_str(&j).ok())
        .ok_or(AuthError::Oidc(RpError::UnknownState))?;
    // The state is bound to the browser that started the login.
    let browser = cookie(headers, &auth.cookie_name(BROWSER_COOKIE)).map(|b| hash(&b));
    if !browser.is_some_and(|b| openssl::memcmp::eq(b.as_bytes(), aux.browser.as_bytes())) {
        return Err(AuthError::BrowserMismatch);
    }
    let pending = &aux.pending;
    let verified = verify_callback(s, pending, &cb, now);
    // The registry: every callback that matched a pending login, accepted or not.
    let mut rec = TransactionRecord::new(
        RecordKind::OidcLogin,
        match &verified {
            Ok(_) => Outcome::Accepted,
            Err(e) => Outcome::Rejected {
                code: e.code().to_owned(),
            },
        },
        now,
    );
    rec.idp = Some(pending.issuer().to_owned());
    rec.level = Some(pending.level().number());
    if let Ok((_, login)) = &verified {
        let r = login.record();
        rec.level = Some(login.level().number());
        rec.verified = true;
        rec.fiscal_code = login
            .identity()
            .fiscal_code()
            .map(|c| c.as_str().to_owned());
        rec.oidc = Some(OidcIndex {
            code: r.code.clone(),
            client_id: r.client_id.clone(),
            jti: r.jti.clone(),
            iss: r.iss.clone(),
            sub: r.sub.clone(),
            iat: r.iat,
            exp: r.exp,
        });
    }
    inner
        .sp
        .audit(|| rec)
        .map_err(|()| AuthError::Start(crate::error::StartError::Audit))?;
    let (tokens, login) = verified.map_err(AuthError::Oidc)?;
    let record = login.record();
    tracing::info!(
        op = record.iss.as_str(),
        client_id = record.client_id.as_str(),
        jti = record.jti.as_str(),
        level = login.level().number(),
        outcome = "ok",
        "oidc login verified"
    );
    let expires = now.plus_seconds(inner.session_secs);
    // Kept for revocation at logout, under the session's (OP, sub) like SAML's NameID.
    inner.sessions.put(
        &format!(
            "oidc-at:{}",
            hash(&format!("{}|{}", record.iss, record.sub))
        ),
        tokens.access_token(),
        expires,
        now,
    )?;
    let session = SessionData {
        attributes: login.identity().attributes().clone(),
        level: login.level(),
        info: SessionInfo {
            idp: EntityId::new(record.iss.clone()),
            name_id: NameId::new(record.sub.clone()),
            name_qualifier: record.iss.clone(),
            session_index: None,
        },
        idp_name: Some("CIE (OpenID Connect)".to_owned()),
        authn_instant: None,
        created: now,
        expires,
        federation: Some(Federation::Cie),
        source: Some(IdentitySource::Oidc),
        // Stamped by `Handoff::store`.
        tenant: None,
        identity: None,
        card: None,
    };
    let token = Handoff {
        browser: aux.browser,
        next: aux.next,
        replaces: aux.replaces,
        session,
    }
    .store(auth, now)?;
    let mut res = redirect(
        StatusCode::SEE_OTHER,
        &format!("{}/complete?handoff={token}", inner.prefix),
    )?;
    no_store(&mut res);
    Ok(res)
}

/// Redeems the code and verifies the ID token and userinfo.
fn verify_callback(
    s: &OidcSetup,
    pending: &PendingOidcLogin,
    cb: &Callback,
    now: Timestamp,
) -> Result<(Tokens, OidcLogin), RpError> {
    let provider = s.resolve(pending.issuer(), now)?;
    let rp = &s.rp;
    let req = rp.token_request(&provider, pending, cb, now)?;
    let body = s
        .back
        .post_form(req.url(), &req.body())
        .map_err(|_| RpError::Unreachable("token endpoint"))?;
    let tokens = rp.verify_token_response(&provider, pending, &req, &body, now)?;
    let (url, authorization) = rp.userinfo_request(&provider, &tokens);
    let info = s
        .back
        .get_with_authorization(&url, &authorization)
        .map_err(|_| RpError::Unreachable("userinfo endpoint"))?;
    let login = rp.finish_login(&provider, &tokens, &info)?;
    Ok((tokens, login))
}

/// Revokes the access token of a closed OpenID Connect session at its OP (best effort:
/// a failure is logged, the local logout stands).
pub(super) fn revoke(auth: &SpidAuth, data: &SessionData, now: Timestamp) {
    if data.source != Some(IdentitySource::Oidc) {
        return;
    }
    let Some(s) = auth.inner.oidc.as_deref() else {
        return;
    };
    let iss = data.info.idp.as_str();
    let key = format!(
        "oidc-at:{}",
        hash(&format!("{iss}|{}", data.info.name_id.as_str()))
    );
    let Ok(Some(token)) = auth.inner.sessions.take(&key, now) else {
        return;
    };
    let outcome = s
        .resolve(iss, now)
        .and_then(|op| s.rp.revocation_request(&op, &token, now))
        .map(|req| req.map(|r| s.back.post_form(r.url(), &r.body()).is_ok()));
    match outcome {
        Ok(Some(true)) => tracing::info!(op = iss, outcome = "revoked", "oidc logout"),
        Ok(Some(false)) => tracing::warn!(op = iss, outcome = "oidc_unreachable", "oidc logout"),
        Ok(None) => tracing::info!(op = iss, outcome = "no-revocation-endpoint", "oidc logout"),
        Err(e) => tracing::warn!(op = iss, outcome = e.code(), "oidc logout"),
    }
}
