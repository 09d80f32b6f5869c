//! Why a step did not complete ([`AuthError`]) and the pages that tell the user ([`Pages`]).

#[allow(unused_imports)]
use super::*;

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
    /// The CNS card certificate was refused (its [`crate::cns::CnsRejection::code`] is the code).
    #[error("CNS certificate refused: {0}")]
    Cns(crate::cns::CnsRejection),
    /// The CNS certificate endpoint got no client certificate (none chosen in the
    /// browser, or a header from a peer that is not a configured proxy).
    #[error("no client certificate")]
    CnsNoCertificate,
    /// The CNS login is not configured ([`SpidAuthBuilder::cns`]).
    #[error("CNS login not configured")]
    CnsNotConfigured,
    /// An OpenID Connect login step refused (feature `oidc`): the relying party's typed
    /// reason (state, nonce, audience, chain, signature…).
    #[cfg(feature = "oidc")]
    #[error("OpenID Connect: {0}")]
    Oidc(crate::oidc::RpError),
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
            AuthError::Start(StartError::Audit) => StatusCode::SERVICE_UNAVAILABLE,
            AuthError::Start(_) => StatusCode::BAD_REQUEST,
            AuthError::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
            AuthError::NoMetadata => StatusCode::NOT_FOUND,
            AuthError::MissingLayer => StatusCode::INTERNAL_SERVER_ERROR,
            AuthError::TestIdpRefused => StatusCode::FORBIDDEN,
            AuthError::LevelBelowMinimum => StatusCode::BAD_REQUEST,
            AuthError::CrossOriginLogout => StatusCode::FORBIDDEN,
            AuthError::Cns(crate::cns::CnsRejection::Crypto) => StatusCode::SERVICE_UNAVAILABLE,
            AuthError::Cns(_) | AuthError::CnsNoCertificate => StatusCode::FORBIDDEN,
            AuthError::CnsNotConfigured => StatusCode::NOT_FOUND,
            #[cfg(feature = "oidc")]
            AuthError::Oidc(e) => super::oidc::status_of(e),
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
            AuthError::Start(StartError::Audit) => "audit-unavailable",
            AuthError::Start(_) => "start-failed",
            AuthError::Store(_) => "store-unavailable",
            AuthError::NoMetadata => "no-metadata",
            AuthError::MissingLayer => "missing-layer",
            AuthError::TestIdpRefused => "test-idp-refused",
            AuthError::LevelBelowMinimum => "level-below-minimum",
            AuthError::CrossOriginLogout => "cross-origin-logout",
            AuthError::Cns(r) => r.code(),
            AuthError::CnsNoCertificate => "cns-no-certificate",
            AuthError::CnsNotConfigured => "cns-not-configured",
            #[cfg(feature = "oidc")]
            AuthError::Oidc(e) => e.code(),
        }
    }

    /// What to tell the user, in Italian (the IdP's courtesy text for refusals).
    pub fn message_it(&self) -> &'static str {
        match self {
            AuthError::Refused(r) => r.message_it(),
            AuthError::Start(StartError::Audit)
            | AuthError::Rejected(RejectReason::AuditUnavailable) => {
                "Servizio temporaneamente non disponibile. Riprova tra poco."
            }
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
            AuthError::Cns(_) => "Il certificato della carta non è valido per l'accesso (scaduto, revocato, non emesso da un ente riconosciuto o non di autenticazione).",
            AuthError::CnsNoCertificate => "Nessun certificato della carta ricevuto: inserisci la carta nel lettore, scegli il certificato di autenticazione e riprova.",
            AuthError::CnsNotConfigured => "L'accesso con CNS non è disponibile su questo servizio.",
            #[cfg(feature = "oidc")]
            AuthError::Oidc(_) => "L\'accesso con CIE (OpenID Connect) non è riuscito. Riprova dall\'inizio.",
        }
    }

    /// What to tell the user, in English.
    pub fn message_en(&self) -> &'static str {
        match self {
            AuthError::Refused(r) => r.message_en(),
            AuthError::Start(StartError::Audit)
            | AuthError::Rejected(RejectReason::AuditUnavailable) => {
                "Service temporarily unavailable. Please try again shortly."
            }
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
            AuthError::Cns(_) => "The card's certificate cannot be used to sign in (expired, revoked, not issued by a recognised authority, or not an authentication certificate).",
            AuthError::CnsNoCertificate => "No card certificate was received: insert the card in the reader, choose its authentication certificate and try again.",
            AuthError::CnsNotConfigured => "Sign-in with a CNS card is not available on this service.",
            #[cfg(feature = "oidc")]
            AuthError::Oidc(_) => "Signing in with CIE (OpenID Connect) failed. Please start again.",
        }
    }
}

/// Renders the error pages (the status is decided by [`AuthError::status`]).
///
/// Pages are in one language, Italian or English, chosen from the request's
/// `Accept-Language` ([`Language::from_headers`]; Italian by default). A page in a
/// language says so: implement [`Pages::error_in`] (the integration then sends
/// `Content-Language` and `Vary: Accept-Language`). Implementations written before
/// `error_in` existed keep working unchanged: its default answers `None`, and the page
/// of [`Pages::error`] is sent as it was, without those headers.
pub trait Pages: Send + Sync {
    /// A complete HTML document for the error (Italian, or the only page there is).
    fn error(&self, error: &AuthError) -> String;

    /// The page in `language`, or `None` when these pages have one version only (then
    /// [`Pages::error`] is used). The default answers `None`.
    fn error_in(&self, error: &AuthError, language: Language) -> Option<String> {
        let _ = (error, language);
        None
    }
}

/// Plain, accessible error pages, in Italian or English ([`Pages::error_in`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct DefaultPages;

impl Pages for DefaultPages {
    fn error(&self, error: &AuthError) -> String {
        default_page(error, Language::Italian)
    }

    fn error_in(&self, error: &AuthError, language: Language) -> Option<String> {
        Some(default_page(error, language))
    }
}

impl AuthError {
    /// What to tell the user, in `language` ([`AuthError::message_it`] or
    /// [`AuthError::message_en`]).
    pub fn message(&self, language: Language) -> &'static str {
        match language {
            Language::Italian => self.message_it(),
            Language::English => self.message_en(),
        }
    }
}

fn default_page(error: &AuthError, language: Language) -> String {
    let logout = matches!(error, AuthError::Logout(_) | AuthError::CrossOriginLogout);
    let (title, code, home) = match (language, logout) {
        (Language::Italian, true) => (
            "Uscita non riuscita",
            "Codice",
            "Torna alla pagina iniziale",
        ),
        (Language::Italian, false) => (
            "Accesso non riuscito",
            "Codice",
            "Torna alla pagina iniziale",
        ),
        (Language::English, true) => ("Sign-out failed", "Code", "Back to the home page"),
        (Language::English, false) => ("Sign-in failed", "Code", "Back to the home page"),
    };
    format!(
        "<!DOCTYPE html>\n<html lang=\"{}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title></head><body><main>\
         <h1>{title}</h1><p>{}</p>\
         <p><small>{code}: {}</small></p><p><a href=\"/\">{home}</a></p>\
         </main></body></html>",
        language.tag(),
        writer::text(error.message(language)),
        writer::text(error.code()),
    )
}
