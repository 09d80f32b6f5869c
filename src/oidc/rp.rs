//! The relying party of the SPID/CIE OpenID Connect Federation: its Entity Configuration,
//! the authorization-code flow (signed request object, PKCE S256, `state`, `nonce`,
//! `acr_values`), the token request with `private_key_jwt`, ID token and userinfo
//! verification (signed, and encrypted as CIE does), the claims mapped to the same
//! [`Identity`] as SAML, and token revocation.
//!
//! Sans-IO, like the SAML core: each step returns what to send (a redirect URL, a form to
//! POST) and takes what came back (a query string, a response body). The HTTP calls and
//! the browser binding are the integration's (`spid_sp::axum` with features `axum` and
//! `oidc`, or your own).

use serde_json::{json, Map, Value};

use super::rp_error::RpError;
use super::rp_jose::{self as jose, RsaJwk};
use super::Jwks;
use crate::binding::post::form_decode;
use crate::binding::redirect::quote_plus;
use crate::federation::Federation;
use crate::identity::{Attributes, Identity, IdentitySource};
use crate::level::SpidLevel;
use crate::time::Timestamp;

/// Clock skew tolerated on `iat`/`exp` (seconds).
pub const CLOCK_SKEW_SECONDS: i64 = 60;
/// How long a pending login waits for the callback (seconds).
pub const PENDING_LIFETIME_SECONDS: i64 = 600;
/// The `client_assertion_type` of `private_key_jwt`.
pub const CLIENT_ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// The fiscal-number claim of the SPID/CIE OIDC attribute table.
pub const FISCAL_NUMBER_CLAIM: &str = "https://attributes.eid.gov.it/fiscal_number";

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
    entity_id: String,
    redirect_uri: String,
    federation_key: RpKey,
    signing_key: RpKey,
    encryption_key: RpKey,
    authority_hints: Vec<String>,
    trust_marks: Vec<(String, String)>,
    client_name: String,
    organization_name: String,
    contacts: Vec<String>,
    entity_configuration_lifetime: i64,
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
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    userinfo_endpoint: String,
    revocation_endpoint: Option<String>,
    keys: Jwks,
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
/// by `state` (see [`crate::oidc::OidcPendingStore`]). `Debug` hides the secrets.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PendingOidcLogin {
    state: String,
    nonce: String,
    code_verifier: String,
    issuer: String,
    level: SpidLevel,
    expires: i64,
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
    code: Option<String>,
    state: Option<String>,
    iss: Option<String>,
    error: Option<String>,
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
    url: String,
    form: Vec<(String, String)>,
    jti: String,
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
    access_token: String,
    code: String,
    assertion_jti: String,
    id_token: Map<String, Value>,
    sub: String,
    level: SpidLevel,
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
    identity: Identity,
    level: SpidLevel,
    record: OidcRecord,
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

/// The relying party.
#[derive(Clone, Debug)]
pub struct RelyingParty {
    config: RpConfig,
}

fn random(n: usize) -> Result<String, RpError> {
    let mut b = vec![0u8; n];
    openssl::rand::rand_bytes(&mut b).map_err(|_| RpError::Random)?;
    Ok(jose::b64e(&b))
}

fn ct_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && openssl::memcmp::eq(a.as_bytes(), b.as_bytes())
}

fn int(claims: &Map<String, Value>, k: &'static str) -> Result<i64, RpError> {
    claims
        .get(k)
        .and_then(Value::as_i64)
        .ok_or(RpError::Malformed(k))
}

/// `aud` is `client_id` (a string, or an array containing it whose `azp`, when several,
/// is `client_id`).
fn audience_ok(claims: &Map<String, Value>, client_id: &str) -> bool {
    match claims.get("aud") {
        Some(Value::String(a)) => a == client_id,
        Some(Value::Array(a)) => {
            a.iter().any(|v| v.as_str() == Some(client_id))
                && (a.len() == 1 || claims.get("azp").and_then(Value::as_str) == Some(client_id))
        }
        _ => false,
    }
}

impl RelyingParty {
    /// A relying party.
    pub fn new(config: RpConfig) -> RelyingParty {
        RelyingParty { config }
    }

    /// The configuration.
    pub fn config(&self) -> &RpConfig {
        &self.config
    }

    /// The `client_id` (= entity ID).
    pub fn client_id(&self) -> &str {
        &self.config.entity_id
    }

    /// The Entity Configuration claims (unsigned; [`RelyingParty::entity_configuration`]
    /// signs them).
    pub fn entity_configuration_claims(&self, now: Timestamp) -> Value {
        let c = &self.config;
        let iat = now.unix_seconds();
        let marks: Vec<Value> = c
            .trust_marks
            .iter()
            .map(|(id, tm)| json!({"id": id, "trust_mark": tm}))
            .collect();
        json!({
            "iss": c.entity_id,
            "sub": c.entity_id,
            "iat": iat,
            "exp": iat.saturating_add(c.entity_configuration_lifetime),
            "jwks": {"keys": [c.federation_key.public_jwk("sig")]},
            "authority_hints": c.authority_hints,
            "trust_marks": marks,
            "metadata": {
                "federation_entity": {
                    "organization_name": c.organization_name,
                    "homepage_uri": c.entity_id,
                    "contacts": c.contacts,
                    "federation_resolve_endpoint": format!("{}/resolve", c.entity_id),
                },
                "openid_relying_party": {
                    "client_id": c.entity_id,
                    "client_name": c.client_name,
                    "application_type": "web",
                    "client_registration_types": ["automatic"],
                    "redirect_uris": [c.redirect_uri],
                    "response_types": ["code"],
                    "grant_types": ["authorization_code", "refresh_token"],
                    "token_endpoint_auth_method": "private_key_jwt",
                    "id_token_signed_response_alg": "RS256",
                    "id_token_encrypted_response_alg": "RSA-OAEP-256",
                    "id_token_encrypted_response_enc": "A256GCM",
                    "userinfo_signed_response_alg": "RS256",
                    "userinfo_encrypted_response_alg": "RSA-OAEP-256",
                    "userinfo_encrypted_response_enc": "A256GCM",
                    "contacts": c.contacts,
                    "jwks": {"keys": [
                        c.signing_key.public_jwk("sig"),
                        c.encryption_key.public_jwk("enc"),
                    ]},
                },
            },
        })
    }

    /// The Entity Configuration JWT (`typ` `entity-statement+jwt`, signed with the
    /// federation key), served at `/.well-known/openid-federation` as
    /// `application/entity-statement+jwt`.
    pub fn entity_configuration(&self, now: Timestamp) -> Result<String, RpError> {
        self.config
            .federation_key
            .0
            .sign(
                "entity-statement+jwt",
                &self.entity_configuration_claims(now),
            )
            .map_err(|_| RpError::Crypto)
    }

    /// Starts a login at `op` for `level`: the URL to redirect the browser to (with a
    /// signed request object) and the pending login to keep, single use, until the
    /// callback.
    pub fn start_login(
        &self,
        op: &Provider,
        level: SpidLevel,
        now: Timestamp,
    ) -> Result<(String, PendingOidcLogin), RpError> {
        let state = random(32)?;
        let nonce = random(32)?;
        let code_verifier = random(48)?;
        let challenge = jose::b64e(&openssl::sha::sha256(code_verifier.as_bytes()));
        let acr: Vec<&str> = [SpidLevel::L3, SpidLevel::L2, SpidLevel::L1]
            .into_iter()
            .filter(|l| *l >= level)
            .map(SpidLevel::uri)
            .collect();
        let acr_values = acr.join(" ");
        let iat = now.unix_seconds();
        let client_id = self.client_id();
        let request = json!({
            "iss": client_id,
            "sub": client_id,
            "aud": [op.issuer, op.authorization_endpoint],
            "iat": iat,
            "exp": iat.saturating_add(120),
            "jti": random(24)?,
            "client_id": client_id,
            "response_type": "code",
            "scope": "openid profile",
            "redirect_uri": self.config.redirect_uri,
            "state": state,
            "nonce": nonce,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "prompt": "consent login",
            "acr_values": acr_values,
            "claims": {
                "id_token": {
                    "family_name": {"essential": true},
                    "given_name": {"essential": true},
                },
                "userinfo": {
                    "given_name": null,
                    "family_name": null,
                    "birthdate": null,
                    "email": null,
                    FISCAL_NUMBER_CLAIM: {"essential": true},
                },
            },
        });
        let jwt = self
            .config
            .signing_key
            .0
            .sign("JWT", &request)
            .map_err(|_| RpError::Crypto)?;
        let mut url = op.authorization_endpoint.clone();
        url.push(if url.contains('?') { '&' } else { '?' });
        for (i, (k, v)) in [
            ("client_id", client_id),
            ("response_type", "code"),
            ("scope", "openid profile"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
            ("request", jwt.as_str()),
        ]
        .iter()
        .enumerate()
        {
            if i > 0 {
                url.push('&');
            }
            url.push_str(k);
            url.push('=');
            quote_plus(v, &mut url);
        }
        let pending = PendingOidcLogin {
            state,
            nonce,
            code_verifier,
            issuer: op.issuer.clone(),
            level,
            expires: iat.saturating_add(PENDING_LIFETIME_SECONDS),
        };
        Ok((url, pending))
    }

    fn client_assertion(&self, aud: &str, now: Timestamp) -> Result<(String, String), RpError> {
        let iat = now.unix_seconds();
        let jti = random(24)?;
        let claims = json!({
            "iss": self.client_id(),
            "sub": self.client_id(),
            "aud": aud,
            "iat": iat,
            "exp": iat.saturating_add(60),
            "jti": jti,
        });
        let jwt = self
            .config
            .signing_key
            .0
            .sign("JWT", &claims)
            .map_err(|_| RpError::Crypto)?;
        Ok((jwt, jti))
    }

    /// Checks the callback against the pending login (error answer, `state`, `iss`,
    /// expiry) and builds the token request (`private_key_jwt`, PKCE verifier).
    pub fn token_request(
        &self,
        op: &Provider,
        pending: &PendingOidcLogin,
        callback: &Callback,
        now: Timestamp,
    ) -> Result<FormPost, RpError> {
        if pending.issuer != op.issuer {
            return Err(RpError::IssuerMismatch);
        }
        let state = callback.state.as_deref().unwrap_or("");
        if !ct_eq(state, &pending.state) {
            return Err(RpError::StateMismatch);
        }
        if now.unix_seconds() >= pending.expires {
            return Err(RpError::Expired);
        }
        if let Some(e) = &callback.error {
            return Err(RpError::OpError(RpError::oauth_code(Some(e))));
        }
        // CIE sends `iss` in the authorization response (RFC 9207); it must be this OP.
        if callback.iss.as_deref() != Some(op.issuer.as_str()) {
            return Err(RpError::IssuerMismatch);
        }
        let code = callback
            .code
            .as_deref()
            .filter(|c| !c.is_empty() && c.len() <= 2048)
            .ok_or(RpError::Malformed("callback code"))?;
        let (assertion, jti) = self.client_assertion(&op.token_endpoint, now)?;
        let form = vec![
            ("grant_type".into(), "authorization_code".into()),
            ("code".into(), code.to_owned()),
            ("redirect_uri".into(), self.config.redirect_uri.clone()),
            ("code_verifier".into(), pending.code_verifier.clone()),
            ("client_id".into(), self.client_id().to_owned()),
            ("client_assertion_type".into(), CLIENT_ASSERTION_TYPE.into()),
            ("client_assertion".into(), assertion),
        ];
        Ok(FormPost {
            url: op.token_endpoint.clone(),
            form,
            jti,
        })
    }

    /// Verifies a JWT from `op`, decrypting it first when it is a JWE; `encrypted`
    /// requires encryption.
    fn open(
        &self,
        op: &Provider,
        token: &str,
        encrypted: bool,
        what: &'static str,
    ) -> Result<Map<String, Value>, RpError> {
        let token = token.trim();
        let parts = token.split('.').count();
        let signed = match parts {
            5 => {
                let inner = self
                    .config
                    .encryption_key
                    .0
                    .decrypt(token)
                    .map_err(|f| RpError::jose(f, what))?;
                String::from_utf8(inner).map_err(|_| RpError::Malformed(what))?
            }
            3 if !encrypted => token.to_owned(),
            3 => return Err(RpError::NotEncrypted),
            _ => return Err(RpError::Malformed(what)),
        };
        let v = jose::verify(&signed, &op.keys).map_err(|f| RpError::jose(f, what))?;
        let claims = v.claims;
        if claims.get("iss").and_then(Value::as_str) != Some(op.issuer.as_str()) {
            return Err(RpError::IssuerMismatch);
        }
        if !audience_ok(&claims, self.client_id()) {
            return Err(RpError::WrongAudience);
        }
        Ok(claims)
    }

    /// Verifies the token endpoint's JSON answer: the ID token's signature (OP keys from
    /// the trust chain), `iss`, `aud`, `exp`/`iat` with skew, `nonce`, `acr` ≥ requested.
    /// `form` is the request it answers (for the registry's `jti` and `code`).
    pub fn verify_token_response(
        &self,
        op: &Provider,
        pending: &PendingOidcLogin,
        form: &FormPost,
        body: &str,
        now: Timestamp,
    ) -> Result<Tokens, RpError> {
        if body.len() > jose::MAX_TOKEN {
            return Err(RpError::Malformed("token response"));
        }
        let v: Map<String, Value> =
            serde_json::from_str(body).map_err(|_| RpError::Malformed("token response"))?;
        if v.contains_key("error") {
            return Err(RpError::TokenRefused(RpError::oauth_code(
                v.get("error").and_then(Value::as_str),
            )));
        }
        let text = |k: &'static str| {
            v.get(k)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .ok_or(RpError::Malformed("token response"))
        };
        if !text("token_type")?.eq_ignore_ascii_case("bearer") {
            return Err(RpError::Malformed("token response"));
        }
        let access_token = text("access_token")?.to_owned();
        let claims = self.open(op, text("id_token")?, false, "id token")?;
        let now_s = now.unix_seconds();
        if int(&claims, "exp")? <= now_s.saturating_sub(CLOCK_SKEW_SECONDS) {
            return Err(RpError::Expired);
        }
        if int(&claims, "iat")? > now_s.saturating_add(CLOCK_SKEW_SECONDS) {
            return Err(RpError::NotYetValid);
        }
        let nonce = claims.get("nonce").and_then(Value::as_str).unwrap_or("");
        if !ct_eq(nonce, &pending.nonce) {
            return Err(RpError::NonceMismatch);
        }
        let level = claims
            .get("acr")
            .and_then(Value::as_str)
            .and_then(SpidLevel::from_uri)
            .ok_or(RpError::LevelTooLow)?;
        if level < pending.level {
            return Err(RpError::LevelTooLow);
        }
        let sub = claims
            .get("sub")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty() && s.len() <= 255)
            .ok_or(RpError::Malformed("id token sub"))?
            .to_owned();
        let code = form
            .form
            .iter()
            .find(|(k, _)| k == "code")
            .map(|(_, c)| c.clone())
            .unwrap_or_default();
        Ok(Tokens {
            access_token,
            code,
            assertion_jti: form.jti.clone(),
            id_token: claims,
            sub,
            level,
        })
    }

    /// The userinfo request: the endpoint and the `Authorization` header value.
    pub fn userinfo_request(&self, op: &Provider, tokens: &Tokens) -> (String, String) {
        (
            op.userinfo_endpoint.clone(),
            format!("Bearer {}", tokens.access_token),
        )
    }

    /// Verifies the userinfo answer (signed then encrypted to the RP's encryption key, as
    /// CIE sends it: a plain or unencrypted answer is refused), checks `iss`, `aud` and
    /// `sub`, and maps the claims (ID token's, then userinfo's) to the [`Identity`].
    pub fn finish_login(
        &self,
        op: &Provider,
        tokens: &Tokens,
        userinfo_body: &str,
    ) -> Result<OidcLogin, RpError> {
        let info = self.open(op, userinfo_body, true, "userinfo")?;
        if info.get("sub").and_then(Value::as_str) != Some(tokens.sub.as_str()) {
            return Err(RpError::SubjectMismatch);
        }
        let identity = identity_from_claims(&tokens.id_token, &info);
        let record = OidcRecord {
            code: tokens.code.clone(),
            client_id: self.client_id().to_owned(),
            jti: tokens.assertion_jti.clone(),
            iss: op.issuer.clone(),
            sub: tokens.sub.clone(),
            iat: int(&tokens.id_token, "iat")?,
            exp: int(&tokens.id_token, "exp")?,
        };
        Ok(OidcLogin {
            identity,
            level: tokens.level,
            record,
        })
    }

    /// The revocation request for `access_token` (logout: the CIE/SPID OIDC profile
    /// revokes the tokens at the OP's revocation endpoint), or `None` when the OP has no
    /// revocation endpoint.
    pub fn revocation_request(
        &self,
        op: &Provider,
        access_token: &str,
        now: Timestamp,
    ) -> Result<Option<FormPost>, RpError> {
        let Some(url) = op.revocation_endpoint.clone() else {
            return Ok(None);
        };
        let (assertion, jti) = self.client_assertion(&url, now)?;
        let form = vec![
            ("token".into(), access_token.to_owned()),
            ("token_type_hint".into(), "access_token".into()),
            ("client_id".into(), self.client_id().to_owned()),
            ("client_assertion_type".into(), CLIENT_ASSERTION_TYPE.into()),
            ("client_assertion".into(), assertion),
        ];
        Ok(Some(FormPost { url, form, jti }))
    }
}

/// Maps the OIDC claims to the SAML attribute names and builds the same [`Identity`]
/// (userinfo values win over the ID token's).
fn identity_from_claims(id_token: &Map<String, Value>, info: &Map<String, Value>) -> Identity {
    let mut attrs = Attributes::new();
    for (claim, attr) in [
        (FISCAL_NUMBER_CLAIM, "fiscalNumber"),
        ("given_name", "name"),
        ("family_name", "familyName"),
        ("birthdate", "dateOfBirth"),
        ("email", "email"),
        ("phone_number", "mobilePhone"),
    ] {
        let v = info
            .get(claim)
            .and_then(Value::as_str)
            .or_else(|| id_token.get(claim).and_then(Value::as_str));
        if let Some(v) = v.filter(|v| v.len() <= 512) {
            attrs.push(attr, vec![v.to_owned()]);
        }
    }
    Identity::from_attributes(attrs, Federation::Cie).with_source(IdentitySource::Oidc)
}
