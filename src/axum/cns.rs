//! "Entra con CNS": the smart-card login ([`CnsConfig`]). `GET {prefix}/cns` on the main
//! origin keeps a one-time state (bound to the browser cookie) and sends the browser to
//! the certificate endpoint; `GET {prefix}/cns/certificate?state=` — on the dedicated TLS
//! listener (feature `cns-tls`, [`CnsTlsListener`](super::CnsTlsListener)) or behind a
//! reverse proxy that forwards the client certificate in a header — verifies the card
//! and hands the login back to the main origin's `/complete` (single-use, two minutes,
//! bound to the browser that started it), where the session is created.

#[allow(unused_imports)]
use super::*;

use std::sync::RwLock;

use crate::audit::{Outcome as AuditOutcome, Payload, PayloadFormat, RecordKind};
use crate::cns::{certificate_from_header, CardKind, CnsLogin, CnsRejection, CnsVerifier, Crl};
use crate::cns::{CnsPolicy, TrustList};
use crate::ids::{EntityId, NameId, RelayState};
use crate::level::Comparison;
use crate::sp::SessionInfo;
use crate::PendingLogin;

use super::login::Handoff;

/// The pseudo-IdP of CNS sessions ([`Session::idp`]) and of their pending states.
pub const CNS_ENTITY_ID: &str = "urn:spid-sp:cns";
/// How long the state between `{prefix}/cns` and the certificate endpoint lives (the user
/// picks the certificate and types the card's PIN in between).
const STATE_SECS: i64 = 300;
/// The prefix of the pending-login ID that carries a CNS state.
const STATE_PREFIX: &str = "_cns";

/// The current trust list and CRLs.
type TrustState = (Arc<TrustList>, Arc<Vec<Crl>>);

/// The trust of the CNS login: the [`TrustList`] and the CRLs, swappable while serving
/// (like the IdP set): keep a clone and call [`CnsTrust::set_trust_list`] /
/// [`CnsTrust::set_crls`] after each refresh. Cheap to clone (one `Arc`).
#[derive(Clone)]
pub struct CnsTrust {
    inner: Arc<RwLock<TrustState>>,
}

impl std::fmt::Debug for CnsTrust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CnsTrust").finish_non_exhaustive()
    }
}

impl CnsTrust {
    /// The trust list, without CRLs.
    pub fn new(trust: TrustList) -> CnsTrust {
        CnsTrust {
            inner: Arc::new(RwLock::new((Arc::new(trust), Arc::new(Vec::new())))),
        }
    }
    /// Replaces the trust list (e.g. after a successful [`TrustList::refresh`]).
    pub fn set_trust_list(&self, trust: TrustList) {
        if let Ok(mut g) = self.inner.write() {
            g.0 = Arc::new(trust);
        }
    }
    /// Replaces the CRLs the cards are checked against.
    pub fn set_crls(&self, crls: Vec<Crl>) {
        if let Ok(mut g) = self.inner.write() {
            g.1 = Arc::new(crls);
        }
    }
    /// The current trust list and CRLs.
    pub fn current(&self) -> Option<(Arc<TrustList>, Arc<Vec<Crl>>)> {
        self.inner.read().ok().map(|g| (g.0.clone(), g.1.clone()))
    }
}

/// The CNS login of [`SpidAuthBuilder::cns`]: trust, policy, where the certificate
/// endpoint is and which reverse proxies may forward a certificate.
#[derive(Clone, Debug)]
pub struct CnsConfig {
    pub(super) trust: CnsTrust,
    pub(super) verifier: CnsVerifier,
    pub(super) endpoint: String,
    pub(super) return_origin: Option<String>,
    pub(super) proxy_header: Option<HeaderName>,
    pub(super) proxies: Vec<IpAddr>,
}

impl CnsConfig {
    /// `endpoint` is the absolute URL of `{prefix}/cns/certificate` as the browser reaches
    /// it: on the TLS listener (`https://sp.example.it:8443/spid/cns/certificate`) or on
    /// the reverse proxy that asks for the client certificate.
    pub fn new(trust: CnsTrust, endpoint: impl Into<String>) -> CnsConfig {
        CnsConfig {
            trust,
            verifier: CnsVerifier::default(),
            endpoint: endpoint.into(),
            return_origin: None,
            proxy_header: None,
            proxies: Vec::new(),
        }
    }
    /// The card policy (level, CIE cards, CRL required...; default [`CnsPolicy::default`]).
    pub fn policy(mut self, policy: CnsPolicy) -> Self {
        self.verifier = CnsVerifier::new(policy);
        self
    }
    /// The origin (`https://host[:port]`) of the application's pages, where the login
    /// is completed (`{prefix}/complete`). Default: the origin of the first ACS URL.
    pub fn return_origin(mut self, origin: &str) -> Self {
        self.return_origin = normalize_origin(origin);
        self
    }
    /// Reverse-proxy mode: read the client certificate from `header` (nginx
    /// `$ssl_client_escaped_cert`, Apache PEM, HAProxy base64 DER), **only** on requests
    /// whose peer address is one of `proxies`; on every other request the header is
    /// ignored. Needs the server run with `into_make_service_with_connect_info`.
    pub fn trusted_proxy(mut self, header: HeaderName, proxies: &[IpAddr]) -> Self {
        self.proxy_header = Some(header);
        self.proxies = proxies.iter().map(|ip| ip.to_canonical()).collect();
        self
    }
}

/// Kept inside the pending CNS state.
#[derive(serde::Serialize, serde::Deserialize)]
struct CnsAux {
    cns_browser: String,
    next: String,
    replaces: Option<String>,
}

/// Where the certificate came from (logged, never personal data).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(not(feature = "cns-tls"), allow(dead_code))]
enum Source {
    Tls,
    Proxy,
}

impl Source {
    fn name(self) -> &'static str {
        match self {
            Source::Tls => "tls",
            Source::Proxy => "proxy",
        }
    }
}

#[derive(Debug, serde::Deserialize)]
pub(super) struct CnsStartParams {
    next: Option<String>,
}

#[derive(Debug, serde::Deserialize)]
pub(super) struct CnsCertParams {
    state: Option<String>,
}

/// `GET {prefix}/cns[?next=/path]`: the one-time state, then 303 to the certificate
/// endpoint.
pub(super) async fn cns_start(
    Extension(auth): Extension<SpidAuth>,
    parts: Parts,
    params: Result<
        ::axum::extract::Query<CnsStartParams>,
        ::axum::extract::rejection::QueryRejection,
    >,
) -> Response {
    let language = Language::from_headers(&parts.headers);
    let next = params.ok().and_then(|p| p.0.next);
    let client = auth.client_of(&parts);
    let headers = parts.headers;
    blocking(auth, language, move |a| {
        respond(
            a,
            try_cns_start(a, &headers, client.as_deref(), next.as_deref()),
            language,
        )
    })
    .await
}

fn try_cns_start(
    auth: &SpidAuth,
    headers: &HeaderMap,
    client: Option<&str>,
    next: Option<&str>,
) -> Result<Response, AuthError> {
    let inner = &auth.inner;
    let cns = inner.cns.as_ref().ok_or(AuthError::CnsNotConfigured)?;
    let now = auth.now();
    let (browser, new_browser) = browser_cookie(auth, headers)?;
    let aux = CnsAux {
        cns_browser: hash(&browser),
        next: next
            .and_then(safe_next)
            .unwrap_or_else(|| inner.after_login.clone()),
        replaces: cookie(headers, &auth.cookie_name(SESSION_COOKIE)).map(|t| hash(&t)),
    };
    let aux = serde_json::to_string(&aux).map_err(|_| AuthError::Store(corrupt()))?;
    let state = token_string()?;
    let relay = RelayState::random().map_err(|_| AuthError::Start(StartError::Random))?;
    let pending = PendingLogin::from_parts(
        state_id(&state),
        EntityId::new(CNS_ENTITY_ID),
        now,
        now.plus_seconds(STATE_SECS),
        auth.minimum_level(),
        Comparison::Minimum,
        cns.endpoint.clone(),
        0,
        relay,
    )
    .with_data(aux);
    match client {
        Some(c) => inner
            .pending
            .put_for_client(pending, c, inner.per_client_cap)?,
        None => inner.pending.put(pending)?,
    }
    let sep = if cns.endpoint.contains('?') { '&' } else { '?' };
    let mut res = redirect(
        StatusCode::SEE_OTHER,
        &format!("{}{sep}state={state}", cns.endpoint),
    )?;
    set_browser_cookie(auth, &mut res, &browser, new_browser);
    no_store(&mut res);
    tracing::info!(target: CNS_TARGET, outcome = "cns-started", "CNS login started");
    Ok(res)
}

const CNS_TARGET: &str = "spid_sp::axum::cns";

fn state_id(state: &str) -> RequestId {
    RequestId::new(format!("{STATE_PREFIX}{}", hash(state)))
}

/// `GET {prefix}/cns/certificate?state=`: verifies the card, keeps the hand-off, 303 to
/// the main origin's `/complete`.
pub(super) async fn cns_certificate(
    Extension(auth): Extension<SpidAuth>,
    parts: Parts,
    params: Result<
        ::axum::extract::Query<CnsCertParams>,
        ::axum::extract::rejection::QueryRejection,
    >,
) -> Response {
    let language = Language::from_headers(&parts.headers);
    let state = params.ok().and_then(|p| p.0.state).filter(|s| is_token(s));
    let presented = presented_certificate(&auth, &parts);
    blocking(auth, language, move |a| {
        let result = match state {
            Some(s) => try_cns_certificate(a, &s, presented),
            None => Err(AuthError::BadRequest("missing CNS state")),
        };
        respond(a, result, language)
    })
    .await
}

/// The certificate of the request: the TLS listener's (an extension only it sets), else
/// the proxy header when the peer is a configured proxy. Anyone else's header is ignored.
fn presented_certificate(
    auth: &SpidAuth,
    parts: &Parts,
) -> Option<(Source, Result<Vec<u8>, CnsRejection>)> {
    #[cfg(feature = "cns-tls")]
    if let Some(ConnectInfo(peer)) = parts
        .extensions
        .get::<ConnectInfo<super::cns_tls::CnsTlsPeer>>()
    {
        // The dedicated listener: its certificate only, never a header.
        return peer.certificate.clone().map(|c| (Source::Tls, Ok(c)));
    }
    let cns = auth.inner.cns.as_ref()?;
    let name = cns.proxy_header.as_ref()?;
    let peer = peer_addr(&parts.extensions)?.ip().to_canonical();
    if !cns.proxies.contains(&peer) {
        if parts.headers.contains_key(name) {
            tracing::warn!(target: CNS_TARGET, outcome = "cns-header-ignored", "certificate header from a peer that is not a configured proxy ignored");
        }
        return None;
    }
    let mut values = parts.headers.get_all(name).iter();
    match (values.next(), values.next()) {
        (Some(v), None) if !v.is_empty() => {
            Some((Source::Proxy, certificate_from_header(v.as_bytes())))
        }
        // Absent or empty (nginx sends "" without a certificate), or repeated: none.
        _ => None,
    }
}

fn try_cns_certificate(
    auth: &SpidAuth,
    state: &str,
    presented: Option<(Source, Result<Vec<u8>, CnsRejection>)>,
) -> Result<Response, AuthError> {
    let inner = &auth.inner;
    let cns = inner.cns.as_ref().ok_or(AuthError::CnsNotConfigured)?;
    let now = auth.now();
    // Single use: taken before anything else, whatever comes of the card.
    let pending = inner
        .pending
        .take(&state_id(state), now)?
        .ok_or(AuthError::UnknownRequest)?;
    if pending.idp().as_str() != CNS_ENTITY_ID {
        return Err(AuthError::UnknownRequest);
    }
    let aux = pending
        .data()
        .and_then(|j| serde_json::from_str::<CnsAux>(j).ok())
        .ok_or(AuthError::UnknownRequest)?;
    let (source, cert) = presented.ok_or(AuthError::CnsNoCertificate)?;
    let presented_bytes = cert.as_ref().ok().cloned();
    let verified = cert.and_then(|c| {
        let (trust, crls) = cns.trust.current().ok_or(CnsRejection::Crypto)?;
        cns.verifier
            .verify(&c, &trust, &crls, inner.sp.clock.as_ref())
            .map(|login| (login, c))
    });
    let (login, cert) = match verified {
        Ok(v) => v,
        Err(r) => {
            let cert = presented_bytes.as_deref();
            audit(
                auth,
                now,
                None,
                cert,
                &AuditOutcome::Rejected {
                    code: r.code().to_owned(),
                },
            )?;
            tracing::info!(target: CNS_TARGET, outcome = r.code(), source = source.name(), "CNS login refused");
            return Err(AuthError::Cns(r));
        }
    };
    audit(
        auth,
        now,
        Some(&login),
        Some(&cert),
        &AuditOutcome::Accepted,
    )?;
    let expires = match login.not_after() {
        Some(t) => now.plus_seconds(inner.session_secs).min(t),
        None => now.plus_seconds(inner.session_secs),
    };
    let token = Handoff {
        browser: aux.cns_browser,
        next: aux.next,
        replaces: aux.replaces,
        session: session_data(&login, now, expires),
    }
    .store(auth, now)?;
    let origin = cns
        .return_origin
        .clone()
        .or_else(|| {
            let acs = inner.sp.config().assertion_consumer_services();
            acs.first().and_then(|a| normalize_origin(&a.url))
        })
        .unwrap_or_default();
    let mut res = redirect(
        StatusCode::SEE_OTHER,
        &format!("{origin}{}/complete?handoff={token}", inner.prefix),
    )?;
    no_store(&mut res);
    tracing::info!(
        target: CNS_TARGET,
        outcome = "cns-accepted",
        source = source.name(),
        level = login.level().number(),
        crl_checked = login.crl_checked(),
        "CNS login accepted"
    );
    Ok(res)
}

fn session_data(login: &CnsLogin, now: Timestamp, expires: Timestamp) -> SessionData {
    SessionData {
        attributes: login.identity().attributes().clone(),
        level: login.level(),
        info: SessionInfo {
            idp: EntityId::new(CNS_ENTITY_ID),
            name_id: NameId::new(hex(login.fingerprint())),
            name_qualifier: login.issuer().to_owned(),
            session_index: None,
        },
        idp_name: Some(match login.kind() {
            CardKind::Cie => "CIE (certificato della carta)".to_owned(),
            _ => "CNS".to_owned(),
        }),
        authn_instant: Some(now),
        created: now,
        expires,
        federation: None,
        identity: Some(login.identity().clone()),
        card: Some(match login.kind() {
            CardKind::Cie => "cie".to_owned(),
            _ => "cns".to_owned(),
        }),
        // Stamped by `Handoff::store`.
        tenant: None,
        source: None,
    }
}

/// One registry record per certificate presented (AgID's 24-month log treats it like a
/// Response): a failure to write stops the login (503).
fn audit(
    auth: &SpidAuth,
    now: Timestamp,
    login: Option<&CnsLogin>,
    cert: Option<&[u8]>,
    outcome: &AuditOutcome,
) -> Result<(), AuthError> {
    auth.inner
        .sp
        .audit(|| {
            let mut r =
                crate::audit::TransactionRecord::new(RecordKind::CnsLogin, outcome.clone(), now);
            if let Some(login) = login {
                r.idp = Some(login.issuer().to_owned());
                r.level = Some(login.level().number());
                r.assertion_subject = Some(hex(login.fingerprint()));
                r.fiscal_code = login
                    .identity()
                    .fiscal_code()
                    .map(|cf| cf.as_str().to_owned());
                r.verified = true;
            }
            r.payload = cert.map(|c| match std::str::from_utf8(c) {
                Ok(pem) if pem.starts_with("-----BEGIN") => Payload {
                    format: PayloadFormat::Certificate,
                    data: pem.to_owned(),
                },
                _ => Payload {
                    format: PayloadFormat::Base64,
                    data: crate::b64::encode(c),
                },
            });
            r
        })
        .map_err(|()| AuthError::Rejected(RejectReason::AuditUnavailable))
}
