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
use super::rp_jose as jose;
use super::rp_types::*;
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

/// The relying party.
#[derive(Clone, Debug)]
pub struct RelyingParty {
    config: RpConfig,
}

fn random(n: usize) -> Result<String, RpError> {
    let mut b = vec![0u8; n];
    crate::ids::fill_random(&mut b).map_err(|_| RpError::Random)?;
    Ok(jose::b64e(&b))
}

fn ct_eq(a: &str, b: &str) -> bool {
    super::constant_time_eq(a.as_bytes(), b.as_bytes())
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
        let challenge = jose::b64e(&crate::dsig::sha256(code_verifier.as_bytes()));
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
        // The userinfo answer may lack `iss` and `aud` (OpenID Connect Core §5.3.2:
        // SHOULD; the reference spid-cie-oidc OP sends only `sub` and the claims, see
        // docs/oidc.md §7). It is then bound by the OP's signature (keys from the trust
        // chain), the encryption to our key, the back-channel call with our access token
        // and `sub` equal to the ID token's (checked by the caller). When present, both
        // must be right. The ID token always needs both.
        let optional = encrypted;
        match claims.get("iss") {
            None if optional => {}
            v if v.and_then(Value::as_str) == Some(op.issuer.as_str()) => {}
            _ => return Err(RpError::IssuerMismatch),
        }
        let absent_aud_ok = optional && !claims.contains_key("aud");
        if !absent_aud_ok && !audience_ok(&claims, self.client_id()) {
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
