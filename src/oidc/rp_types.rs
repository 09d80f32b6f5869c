//! The relying party's value types: its keys and configuration, the OP as trusted, and
//! what passes between the steps of the flow.

use serde_json::{Map, Value};

use super::rp_error::RpError;
use super::rp_jose::{self as jose, RsaJwk};
use super::Jwks;
use crate::binding::post::form_decode;
use crate::binding::redirect::quote_plus;
use crate::identity::Identity;
#[cfg(doc)]
use crate::identity::IdentitySource;
use crate::level::SpidLevel;
use crate::time::Timestamp;

/// An RSA private key of the RP (federation, core signing or core encryption), named by
/// its RFC 7638 thumbprint (`kid`). `Debug` shows the `kid` only.
#[derive(Clone, Debug)]
pub struct RpKey(pub(crate) RsaJwk);

impl RpKey {
    /// Reads a PEM private key (PKCS#8 or PKCS#1); RSA, at least 2048 bits.
    pub fn from_pem(pem: &[u8]) -> Result<RpKey, RpError> {
        RsaJwk::from_pem(pem)
            .map(RpKey)
            .map_err(|_| RpError::Config("an RSA private key (PEM) of at least 2048 bits"))
    }

    /// A fresh RSA-2048 key (tests and the test federation; production keys come from
    /// files, see docs/oidc.md).
    pub fn generate() -> Result<RpKey, RpError> {
        RsaJwk::generate(2048)
            .map(RpKey)
            .map_err(|_| RpError::Crypto)
    }

    /// The key's `kid` (RFC 7638 SHA-256 thumbprint).
    pub fn kid(&self) -> &str {
        &self.0.kid
    }

    /// The public JWK with `use` = `usage` (`sig` or `enc`).
    pub fn public_jwk(&self, usage: &str) -> Value {
        self.0.public_jwk(usage)
    }
}

/// The relying party's configuration: its entity ID (also its `client_id`), redirect URI,
/// the three keys (federation, core signing, core encryption: three distinct keys), the
/// authority hints and the trust marks it holds.
#[derive(Clone, Debug)]
pub struct RpConfig {
    pub(super) entity_id: String,
    pub(super) redirect_uri: String,
    pub(super) federation_key: RpKey,
    pub(super) signing_key: RpKey,
    pub(super) encryption_key: RpKey,
    pub(super) authority_hints: Vec<String>,
    pub(super) trust_marks: Vec<(String, String)>,
    pub(super) client_name: String,
    pub(super) organization_name: String,
    pub(super) contacts: Vec<String>,
    pub(super) entity_configuration_lifetime: i64,
}

impl RpConfig {
    /// A configuration; the three keys must differ (the federation key signs only the
    /// Entity Configuration; the core keys sign request objects and client assertions,
    /// and decrypt the OP's tokens).
    pub fn new(
        entity_id: &str,
        redirect_uri: &str,
        federation_key: RpKey,
        signing_key: RpKey,
        encryption_key: RpKey,
    ) -> Result<RpConfig, RpError> {
        let https_or_loopback = |u: &str| {
            u.starts_with("https://")
                || u.starts_with("http://127.0.0.1")
                || u.starts_with("http://localhost")
        };
        if !https_or_loopback(entity_id) || entity_id.ends_with('/') || entity_id.contains('?') {
            return Err(RpError::Config(
                "entity ID: an https URL without trailing slash",
            ));
        }
        if !https_or_loopback(redirect_uri) {
            return Err(RpError::Config("redirect URI: an https URL"));
        }
        let kids = [
            federation_key.kid(),
            signing_key.kid(),
            encryption_key.kid(),
        ];
        if kids[0] == kids[1] || kids[0] == kids[2] || kids[1] == kids[2] {
            return Err(RpError::Config(
                "federation, signing and encryption keys must be distinct",
            ));
        }
        Ok(RpConfig {
            entity_id: entity_id.to_owned(),
            redirect_uri: redirect_uri.to_owned(),
            federation_key,
            signing_key,
            encryption_key,
            authority_hints: Vec::new(),
            trust_marks: Vec::new(),
            client_name: entity_id.to_owned(),
            organization_name: entity_id.to_owned(),
            contacts: Vec::new(),
            entity_configuration_lifetime: 86_400,
        })
    }

    /// Adds an authority hint (the trust anchor or intermediate the RP is registered with).
    pub fn authority_hint(mut self, entity_id: &str) -> Self {
        self.authority_hints.push(entity_id.to_owned());
        self
    }

    /// Adds a trust mark the RP holds (`id` and the signed trust mark JWT as issued).
    pub fn trust_mark(mut self, id: &str, jwt: &str) -> Self {
        self.trust_marks.push((id.to_owned(), jwt.to_owned()));
        self
    }

    /// The human-readable client and organisation names.
    pub fn names(mut self, client_name: &str, organization_name: &str) -> Self {
        self.client_name = client_name.to_owned();
        self.organization_name = organization_name.to_owned();
        self
    }

    /// Adds a contact e-mail of the federation entity.
    pub fn contact(mut self, email: &str) -> Self {
        self.contacts.push(email.to_owned());
        self
    }

    /// The entity ID (= `client_id`).
    pub fn entity_id(&self) -> &str {
        &self.entity_id
    }

    /// The redirect (callback) URI.
    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }

    /// The public federation key (what the federation portal asks for).
    pub fn federation_jwk(&self) -> Value {
        self.federation_key.public_jwk("sig")
    }
}

/// An OpenID Provider as the RP trusts it: its metadata out of a validated trust chain
/// (`openid_provider` after the metadata policy).
#[derive(Clone, Debug)]
pub struct Provider {
    pub(super) issuer: String,
    pub(super) authorization_endpoint: String,
    pub(super) token_endpoint: String,
    pub(super) userinfo_endpoint: String,
    pub(super) revocation_endpoint: Option<String>,
    pub(super) keys: Jwks,
}

impl Provider {
    /// The OP from its `openid_provider` metadata, which the caller took from a validated
    /// trust chain (never from an unverified document). Needs the endpoints and an inline
    /// `jwks` (RSA keys of at least 2048 bits).
    pub fn from_trusted_metadata(entity_id: &str, metadata: &Value) -> Result<Provider, RpError> {
        let s = |k: &'static str| {
            metadata
                .get(k)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or(RpError::Malformed("openid_provider metadata"))
        };
        let keys = metadata
            .get("jwks")
            .ok_or(RpError::Malformed("openid_provider jwks"))
            .and_then(|j| jose::parse_jwks(j).map_err(|f| RpError::jose(f, "OP jwks")))?;
        if keys.is_empty() {
            return Err(RpError::Malformed("openid_provider jwks"));
        }
        let issuer = metadata
            .get("issuer")
            .and_then(Value::as_str)
            .unwrap_or(entity_id);
        if issuer != entity_id {
            return Err(RpError::IssuerMismatch);
        }
        Ok(Provider {
            issuer: issuer.to_owned(),
            authorization_endpoint: s("authorization_endpoint")?,
            token_endpoint: s("token_endpoint")?,
            userinfo_endpoint: s("userinfo_endpoint")?,
            revocation_endpoint: s("revocation_endpoint").ok(),
            keys,
        })
    }

    /// The OP's entity ID (= `iss` of its tokens).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The token endpoint.
    pub fn token_endpoint(&self) -> &str {
        &self.token_endpoint
    }

    /// The userinfo endpoint.
    pub fn userinfo_endpoint(&self) -> &str {
        &self.userinfo_endpoint
    }

    /// The revocation endpoint, if the OP has one.
    pub fn revocation_endpoint(&self) -> Option<&str> {
        self.revocation_endpoint.as_deref()
    }
}

/// What the RP keeps between the redirect to the OP and the callback: single use, keyed
/// by `state` (the axum integration keeps it under a hash of `state`). `Debug` hides the secrets.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PendingOidcLogin {
    pub(super) state: String,
    pub(super) nonce: String,
    pub(super) code_verifier: String,
    pub(super) issuer: String,
    pub(super) level: SpidLevel,
    pub(super) expires: i64,
}

impl std::fmt::Debug for PendingOidcLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingOidcLogin")
            .field("issuer", &self.issuer)
            .field("level", &self.level)
            .finish_non_exhaustive()
    }
}

impl PendingOidcLogin {
    /// The `state` value (the store key; also bound to the browser by the integration).
    pub fn state(&self) -> &str {
        &self.state
    }
    /// The OP the login was started with.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }
    /// The requested level.
    pub fn level(&self) -> SpidLevel {
        self.level
    }
    /// When the pending login expires.
    pub fn expires(&self) -> Timestamp {
        Timestamp::from_unix_seconds(self.expires)
    }
}

/// The query of the callback (`code`, `state`, `iss`, or `error`).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Callback {
    pub(super) code: Option<String>,
    pub(super) state: Option<String>,
    pub(super) iss: Option<String>,
    pub(super) error: Option<String>,
}

impl std::fmt::Debug for Callback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Callback")
            .field("iss", &self.iss)
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

impl Callback {
    /// Parses the callback's query string (without `?`); unknown parameters are ignored,
    /// a repeated one refuses the whole query.
    pub fn from_query(query: &str) -> Result<Callback, RpError> {
        let mut cb = Callback::default();
        if query.len() > 8192 {
            return Err(RpError::Malformed("callback query"));
        }
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let v = form_decode(v).ok_or(RpError::Malformed("callback query"))?;
            let slot = match k {
                "code" => &mut cb.code,
                "state" => &mut cb.state,
                "iss" => &mut cb.iss,
                "error" => &mut cb.error,
                _ => continue,
            };
            if slot.replace(v).is_some() {
                return Err(RpError::Malformed("callback query"));
            }
        }
        Ok(cb)
    }

    /// The `state` parameter (to find the pending login).
    pub fn state(&self) -> Option<&str> {
        self.state.as_deref()
    }
}

/// A form to POST (token or revocation request) with `private_key_jwt`.
#[derive(Clone)]
pub struct FormPost {
    pub(super) url: String,
    pub(super) form: Vec<(String, String)>,
    pub(super) jti: String,
}

impl std::fmt::Debug for FormPost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FormPost")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl FormPost {
    /// Where to POST.
    pub fn url(&self) -> &str {
        &self.url
    }
    /// The fields.
    pub fn fields(&self) -> &[(String, String)] {
        &self.form
    }
    /// The `application/x-www-form-urlencoded` body.
    pub fn body(&self) -> String {
        let mut s = String::new();
        for (i, (k, v)) in self.form.iter().enumerate() {
            if i > 0 {
                s.push('&');
            }
            quote_plus(k, &mut s);
            s.push('=');
            quote_plus(v, &mut s);
        }
        s
    }
    /// The `jti` of the client assertion (for the registry).
    pub fn jti(&self) -> &str {
        &self.jti
    }
}

/// A verified token response: the access token (for userinfo and revocation) and the
/// verified ID token's claims. `Debug` hides the token.
#[derive(Clone)]
pub struct Tokens {
    pub(super) access_token: String,
    pub(super) code: String,
    pub(super) assertion_jti: String,
    pub(super) id_token: Map<String, Value>,
    pub(super) sub: String,
    pub(super) level: SpidLevel,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("level", &self.level)
            .finish_non_exhaustive()
    }
}

impl Tokens {
    /// The access token (bearer for userinfo; revoke it at logout).
    pub fn access_token(&self) -> &str {
        &self.access_token
    }
    /// The verified ID token's claims.
    pub fn id_token_claims(&self) -> &Map<String, Value> {
        &self.id_token
    }
    /// The level the OP asserted (`acr`).
    pub fn level(&self) -> SpidLevel {
        self.level
    }
}

/// The registry fields of an OIDC login (LL.GG. OIDC "Gestione dei log": code,
/// client_id, jti, iss, sub, iat, exp).
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OidcRecord {
    /// The authorization code redeemed.
    pub code: String,
    /// The RP's `client_id`.
    pub client_id: String,
    /// The `jti` of the client assertion sent to the token endpoint.
    pub jti: String,
    /// The OP (`iss`).
    pub iss: String,
    /// The OP's subject identifier (pairwise per RP, not the fiscal code).
    pub sub: String,
    /// The ID token's `iat` (Unix seconds).
    pub iat: i64,
    /// The ID token's `exp` (Unix seconds).
    pub exp: i64,
}

impl std::fmt::Debug for OidcRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcRecord")
            .field("client_id", &self.client_id)
            .field("iss", &self.iss)
            .field("iat", &self.iat)
            .field("exp", &self.exp)
            .finish_non_exhaustive()
    }
}

/// A completed OIDC login: the identity (source [`IdentitySource::Oidc`]), the level
/// from `acr`, and the registry record.
#[derive(Clone, Debug)]
pub struct OidcLogin {
    pub(super) identity: Identity,
    pub(super) level: SpidLevel,
    pub(super) record: OidcRecord,
}

impl OidcLogin {
    /// The identity, mapped as SAML's (fiscal number without `TINIT-`, names, birth date,
    /// e-mail).
    pub fn identity(&self) -> &Identity {
        &self.identity
    }
    /// The level the OP asserted.
    pub fn level(&self) -> SpidLevel {
        self.level
    }
    /// The registry fields.
    pub fn record(&self) -> &OidcRecord {
        &self.record
    }
}
