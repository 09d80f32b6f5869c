//! **TEST ONLY — never for production.** A local SPID/CIE OpenID Connect Federation in
//! one value: a trust anchor, an OpenID Provider (CIE-like: signed-then-encrypted
//! userinfo) and a trust-mark issuer, with fresh keys per instance and a made-up user.
//! Sans-IO like the rest of the test IdP: each endpoint is a function from what arrived
//! to what to answer; an HTTP front serves them on loopback only.
//!
//! Negative knobs ([`FederationKnobs`]) make it misbehave the ways the relying party must
//! refuse: expired or broken chain, wrong trust mark, bad signature, wrong audience,
//! wrong nonce, low `acr`, unencrypted userinfo. The authorization code is single use
//! (a replayed code gets `invalid_grant`).

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use serde_json::{json, Value};

use crate::binding::post::form_decode;
use crate::ids::random_token_or_abort as random_token;
use crate::oidc::rp_jose::{self as jose, RsaJwk};
use crate::oidc::CLIENT_ASSERTION_TYPE;
use crate::oidc::{FederationFetcher, Jwk, Jwks, KeyUse, TrustAnchor};
use crate::time::Timestamp;

/// The trust mark id the test federation issues and requires (CIE-like).
pub const TEST_TRUST_MARK_ID: &str = "https://registry.interno.gov.it/openid_relying_party/public";
/// The OP trust mark id.
pub const TEST_OP_TRUST_MARK_ID: &str = "https://registry.interno.gov.it/openid_provider/public";
/// The made-up user's fiscal number, as the OP sends it.
pub const TEST_OIDC_FISCAL_NUMBER: &str = "TINIT-RSSMRA80A01H501U";

/// Ways to misbehave (all off by default).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FederationKnobs {
    /// Statements (anchor's and OP's) already expired.
    pub expired_chain: bool,
    /// The anchor's subordinate statement lists a key that is not the OP's.
    pub broken_chain: bool,
    /// The OP's trust mark is signed by a key the issuer does not own.
    pub wrong_trust_mark: bool,
    /// ID token signed with a key not in the OP's JWKS (same `kid`).
    pub bad_signature: bool,
    /// ID token and userinfo addressed to another client.
    pub wrong_audience: bool,
    /// ID token carries another nonce.
    pub wrong_nonce: bool,
    /// ID token asserts SpidL1 whatever was asked.
    pub low_acr: bool,
    /// Userinfo signed but not encrypted.
    pub plain_userinfo: bool,
    /// Userinfo without `iss` and `aud` (as the reference spid-cie-oidc 1.6.3 OP sends it).
    pub userinfo_without_iss_aud: bool,
}

/// Why an endpoint refused (OAuth error codes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpRefusal {
    /// The OAuth `error` code (`invalid_request`, `invalid_client`, `invalid_grant`…).
    pub error: &'static str,
    /// What was wrong (no personal data).
    pub description: &'static str,
}

fn refuse<T>(error: &'static str, description: &'static str) -> Result<T, OpRefusal> {
    Err(OpRefusal { error, description })
}

#[derive(Clone, Debug)]
struct Grant {
    client_id: String,
    redirect_uri: String,
    challenge: String,
    nonce: String,
    acr: String,
    expires: i64,
}

#[derive(Default, Debug)]
struct OpState {
    codes: HashMap<String, Grant>,
    used_codes: HashSet<String>,
    tokens: HashMap<String, Grant>,
    jtis: HashSet<String>,
    rps: HashMap<String, RpEntry>,
}

#[derive(Clone, Debug)]
struct RpEntry {
    redirect_uris: Vec<String>,
    sig_keys: Jwks,
    enc_keys: Vec<Jwk>,
}

/// The test federation: trust anchor, OP and trust-mark issuer at `base` (loopback),
/// under `{base}/ta`, `{base}/op` and `{base}/tmi`.
#[derive(Debug)]
pub struct TestFederation {
    base: String,
    ta_key: RsaJwk,
    op_fed_key: RsaJwk,
    op_core_key: RsaJwk,
    tmi_key: RsaJwk,
    stray_key: RsaJwk,
    knobs: FederationKnobs,
    state: Mutex<OpState>,
    fixed_now: Option<Timestamp>,
}

fn lock(m: &Mutex<OpState>) -> std::sync::MutexGuard<'_, OpState> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn form(body: &str) -> HashMap<String, String> {
    body.split('&')
        .filter_map(|p| {
            let (k, v) = p.split_once('=')?;
            Some((form_decode(k)?, form_decode(v)?))
        })
        .collect()
}

fn keygen() -> RsaJwk {
    match RsaJwk::generate(2048) {
        Ok(k) => k,
        Err(_) => std::process::abort(),
    }
}

impl TestFederation {
    /// A fresh federation at `base` (e.g. `http://127.0.0.1:8600`). Refuses anything
    /// but a loopback `http` URL.
    pub fn new(base: &str, knobs: FederationKnobs) -> Option<TestFederation> {
        let loopback =
            base.starts_with("http://127.0.0.1:") || base.starts_with("http://localhost:");
        if !loopback || base.ends_with('/') {
            return None;
        }
        Some(TestFederation {
            base: base.to_owned(),
            ta_key: keygen(),
            op_fed_key: keygen(),
            op_core_key: keygen(),
            tmi_key: keygen(),
            stray_key: keygen(),
            knobs,
            state: Mutex::new(OpState::default()),
            fixed_now: None,
        })
    }

    /// The trust anchor's entity ID.
    pub fn anchor_id(&self) -> String {
        format!("{}/ta", self.base)
    }
    /// The OP's entity ID.
    pub fn op_id(&self) -> String {
        format!("{}/op", self.base)
    }
    /// The trust-mark issuer's entity ID.
    pub fn issuer_id(&self) -> String {
        format!("{}/tmi", self.base)
    }
    /// The trust anchor's JWKS (what an RP configures out of band).
    pub fn anchor_jwks(&self) -> Value {
        json!({"keys": [self.ta_key.public_jwk("sig")]})
    }
    /// The trust-mark issuer's JWKS.
    pub fn issuer_jwks(&self) -> Value {
        json!({"keys": [self.tmi_key.public_jwk("sig")]})
    }

    fn times(&self, now: Timestamp) -> (i64, i64) {
        let n = now.unix_seconds();
        if self.knobs.expired_chain {
            (n - 7200, n - 3600)
        } else {
            (n, n + 86_400)
        }
    }

    fn sign(key: &RsaJwk, typ: &str, claims: &Value) -> String {
        key.sign(typ, claims).unwrap_or_default()
    }

    /// The trust anchor's Entity Configuration (with `trust_mark_issuers`).
    pub fn anchor_configuration(&self, now: Timestamp) -> String {
        let (iat, exp) = self.times(now);
        let ta = self.anchor_id();
        let claims = json!({
            "iss": ta, "sub": ta, "iat": iat, "exp": exp,
            "jwks": self.anchor_jwks(),
            "metadata": {"federation_entity": {
                "organization_name": "TEST ONLY trust anchor",
                "federation_fetch_endpoint": format!("{ta}/fetch"),
            }},
            "trust_mark_issuers": {
                TEST_TRUST_MARK_ID: [self.issuer_id()],
                TEST_OP_TRUST_MARK_ID: [self.issuer_id()],
            },
        });
        Self::sign(&self.ta_key, "entity-statement+jwt", &claims)
    }

    /// A trust mark for `sub` with `id`, as the issuer signs it.
    pub fn trust_mark(&self, id: &str, sub: &str, now: Timestamp) -> String {
        let n = now.unix_seconds();
        let claims =
            json!({"iss": self.issuer_id(), "sub": sub, "id": id, "iat": n, "exp": n + 86_400});
        let key = if self.knobs.wrong_trust_mark {
            &self.stray_key
        } else {
            &self.tmi_key
        };
        Self::sign(key, "trust-mark+jwt", &claims)
    }

    /// The trust anchor's fetch endpoint: its subordinate statement about the OP or the
    /// trust-mark issuer.
    pub fn fetch(&self, sub: &str, now: Timestamp) -> Option<String> {
        let key = if sub == self.op_id() {
            if self.knobs.broken_chain {
                &self.stray_key
            } else {
                &self.op_fed_key
            }
        } else if sub == self.issuer_id() {
            &self.tmi_key
        } else {
            return None;
        };
        let (iat, exp) = self.times(now);
        let claims = json!({
            "iss": self.anchor_id(), "sub": sub, "iat": iat, "exp": exp,
            "jwks": {"keys": [key.public_jwk("sig")]},
        });
        Some(Self::sign(&self.ta_key, "entity-statement+jwt", &claims))
    }

    /// The trust-mark issuer's Entity Configuration.
    pub fn issuer_configuration(&self, now: Timestamp) -> String {
        let (iat, exp) = self.times(now);
        let tmi = self.issuer_id();
        let claims = json!({
            "iss": tmi, "sub": tmi, "iat": iat, "exp": exp,
            "jwks": self.issuer_jwks(),
            "authority_hints": [self.anchor_id()],
            "metadata": {"federation_entity": {"organization_name": "TEST ONLY trust-mark issuer"}},
        });
        Self::sign(&self.tmi_key, "entity-statement+jwt", &claims)
    }

    /// What a GET of `url` answers (entity configurations at
    /// `/.well-known/openid-federation`, the anchor's `/fetch?sub=`), the
    /// [`FederationFetcher`] of the relying party's chain resolution.
    pub fn get(&self, url: &str, now: Timestamp) -> Option<String> {
        let wk = crate::oidc::WELL_KNOWN_FEDERATION;
        if let Some(e) = url.strip_suffix(wk) {
            return match e {
                e if e == self.anchor_id() => Some(self.anchor_configuration(now)),
                e if e == self.op_id() => Some(self.op_configuration(now)),
                e if e == self.issuer_id() => Some(self.issuer_configuration(now)),
                _ => None,
            };
        }
        let q = url.strip_prefix(&format!("{}/fetch?", self.anchor_id()))?;
        let f = form(q);
        self.fetch(f.get("sub")?, now)
    }

    /// The trust anchors an RP of this federation pins (entity ID and JWKS).
    pub fn trust_anchor(&self) -> TrustAnchor {
        TrustAnchor {
            entity_id: self.anchor_id(),
            jwks: jose::parse_jwks(&self.anchor_jwks()).unwrap_or_default(),
        }
    }

    /// The OP's Entity Configuration (`openid_provider` metadata, trust mark).
    pub fn op_configuration(&self, now: Timestamp) -> String {
        let (iat, exp) = self.times(now);
        let op = self.op_id();
        let claims = json!({
            "iss": op, "sub": op, "iat": iat, "exp": exp,
            "jwks": {"keys": [self.op_fed_key.public_jwk("sig")]},
            "authority_hints": [self.anchor_id()],
            "trust_marks": [{"id": TEST_OP_TRUST_MARK_ID,
                             "trust_mark": self.trust_mark(TEST_OP_TRUST_MARK_ID, &op, now)}],
            "metadata": {"openid_provider": {
                "issuer": op,
                "authorization_endpoint": format!("{op}/authorization"),
                "token_endpoint": format!("{op}/token"),
                "userinfo_endpoint": format!("{op}/userinfo"),
                "revocation_endpoint": format!("{op}/revocation"),
                "client_registration_types_supported": ["automatic"],
                "request_parameter_supported": true,
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": ["private_key_jwt"],
                "acr_values_supported": ["https://www.spid.gov.it/SpidL1",
                    "https://www.spid.gov.it/SpidL2", "https://www.spid.gov.it/SpidL3"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "userinfo_encryption_alg_values_supported": ["RSA-OAEP-256"],
                "userinfo_encryption_enc_values_supported": ["A256GCM"],
                "scopes_supported": ["openid", "profile", "email"],
                "jwks": {"keys": [self.op_core_key.public_jwk("sig")]},
            }},
        });
        Self::sign(&self.op_fed_key, "entity-statement+jwt", &claims)
    }

    /// Registers an RP from its Entity Configuration (what automatic registration
    /// resolves: here the RP's self-signed configuration, verified with its own keys,
    /// and its trust mark from this federation's issuer).
    pub fn register_rp(
        &self,
        entity_configuration: &str,
        now: Timestamp,
    ) -> Result<String, OpRefusal> {
        let Some(claims) = jose::parse_claims_unverified(entity_configuration) else {
            return refuse("invalid_client", "entity configuration unreadable");
        };
        let fed_keys = claims
            .get("jwks")
            .and_then(|j| jose::parse_jwks(j).ok())
            .unwrap_or_default();
        let Ok(v) = jose::verify(entity_configuration, &fed_keys) else {
            return refuse("invalid_client", "entity configuration signature");
        };
        let c = v.claims;
        let id = c
            .get("sub")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        if c.get("iss").and_then(Value::as_str) != Some(id.as_str()) || id.is_empty() {
            return refuse("invalid_client", "entity configuration subject");
        }
        let tm_keys = jose::parse_jwks(&self.issuer_jwks()).unwrap_or_default();
        let marked = c
            .get("trust_marks")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|m| m.get("trust_mark").and_then(Value::as_str))
            .filter_map(|t| jose::verify(t, &tm_keys).ok())
            .any(|t| {
                t.claims.get("sub").and_then(Value::as_str) == Some(id.as_str())
                    && t.claims.get("exp").and_then(Value::as_i64).unwrap_or(0) > now.unix_seconds()
            });
        if !marked {
            return refuse("invalid_client", "RP has no valid trust mark");
        }
        let rp = c
            .get("metadata")
            .and_then(|m| m.get("openid_relying_party"))
            .cloned()
            .unwrap_or(Value::Null);
        let keys = rp
            .get("jwks")
            .and_then(|j| jose::parse_jwks(j).ok())
            .unwrap_or_default();
        let (mut sig_keys, mut enc_keys) = (Jwks::new(), Vec::new());
        for k in keys.keys() {
            if k.key_use() == Some(KeyUse::Encryption) {
                enc_keys.push(k.clone());
            } else if sig_keys.push(k.clone()).is_err() {
                return refuse("invalid_client", "RP jwks");
            }
        }
        let redirect_uris = rp
            .get("redirect_uris")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        lock(&self.state).rps.insert(
            id.clone(),
            RpEntry {
                redirect_uris,
                sig_keys,
                enc_keys,
            },
        );
        Ok(id)
    }

    /// The authorization endpoint: verifies the request object (signature with the RP's
    /// core key, `aud`, `client_id`, `redirect_uri`, PKCE S256, `nonce`, `state`) and
    /// auto-approves the test user; the redirect URL (`code`, `state`, `iss`).
    pub fn authorize(&self, query: &str, now: Timestamp) -> Result<String, OpRefusal> {
        let q = form(query);
        let client_id = q.get("client_id").cloned().unwrap_or_default();
        let Some(rp) = lock(&self.state).rps.get(&client_id).cloned() else {
            return refuse("invalid_client", "unknown client");
        };
        let Some(request) = q.get("request") else {
            return refuse("invalid_request", "request object required");
        };
        let Ok(v) = jose::verify(request, &rp.sig_keys) else {
            return refuse("invalid_request_object", "request object signature");
        };
        let r = v.claims;
        let s = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
        let aud_ok = r
            .get("aud")
            .and_then(Value::as_array)
            .is_some_and(|a| a.iter().any(|x| x.as_str() == Some(self.op_id().as_str())));
        if !aud_ok || s("iss") != client_id || s("client_id") != client_id {
            return refuse("invalid_request_object", "request object iss/aud/client_id");
        }
        if r.get("exp").and_then(Value::as_i64).unwrap_or(0) <= now.unix_seconds() {
            return refuse("invalid_request_object", "request object expired");
        }
        let redirect_uri = s("redirect_uri");
        if !rp.redirect_uris.contains(&redirect_uri) {
            return refuse("invalid_request", "redirect_uri not registered");
        }
        if s("code_challenge_method") != "S256" || s("code_challenge").len() != 43 {
            return refuse("invalid_request", "PKCE S256 required");
        }
        if s("nonce").len() < 32 || s("state").len() < 32 || s("response_type") != "code" {
            return refuse("invalid_request", "nonce/state/response_type");
        }
        let acr = s("acr_values")
            .split(' ')
            .next_back()
            .unwrap_or("https://www.spid.gov.it/SpidL2")
            .to_owned();
        let code = random_token("code-", 24);
        lock(&self.state).codes.insert(
            code.clone(),
            Grant {
                client_id,
                redirect_uri: redirect_uri.clone(),
                challenge: s("code_challenge"),
                nonce: s("nonce"),
                acr,
                expires: now.unix_seconds() + 60,
            },
        );
        let mut url = redirect_uri;
        url.push(if url.contains('?') { '&' } else { '?' });
        let mut enc = String::new();
        for (i, (k, v)) in [
            ("code", code.as_str()),
            ("state", &s("state")),
            ("iss", &self.op_id()),
        ]
        .iter()
        .enumerate()
        {
            if i > 0 {
                enc.push('&');
            }
            enc.push_str(k);
            enc.push('=');
            crate::binding::redirect::quote_plus(v, &mut enc);
        }
        url.push_str(&enc);
        Ok(url)
    }

    /// The token endpoint: `private_key_jwt` (signature, `aud` = this endpoint, unique
    /// `jti`), the code (single use), PKCE verifier, `redirect_uri`. The JSON answer.
    pub fn token(&self, body: &str, now: Timestamp) -> Result<String, OpRefusal> {
        let f = form(body);
        let g = |k: &str| f.get(k).cloned().unwrap_or_default();
        if g("grant_type") != "authorization_code"
            || g("client_assertion_type") != CLIENT_ASSERTION_TYPE
        {
            return refuse("invalid_request", "grant or assertion type");
        }
        let mut st = lock(&self.state);
        let client_id = g("client_id");
        let Some(rp) = st.rps.get(&client_id).cloned() else {
            return refuse("invalid_client", "unknown client");
        };
        let Ok(a) = jose::verify(&g("client_assertion"), &rp.sig_keys) else {
            return refuse("invalid_client", "client assertion signature");
        };
        let c = a.claims;
        let cs = |k: &str| c.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
        let token_endpoint = format!("{}/token", self.op_id());
        if cs("iss") != client_id || cs("sub") != client_id || cs("aud") != token_endpoint {
            return refuse("invalid_client", "client assertion iss/sub/aud");
        }
        if c.get("exp").and_then(Value::as_i64).unwrap_or(0) <= now.unix_seconds()
            || !st.jtis.insert(cs("jti"))
        {
            return refuse("invalid_client", "client assertion expired or replayed");
        }
        let code = g("code");
        if !st.used_codes.insert(code.clone()) {
            return refuse("invalid_grant", "code already used");
        }
        let Some(grant) = st.codes.remove(&code) else {
            return refuse("invalid_grant", "unknown code");
        };
        if grant.client_id != client_id
            || grant.redirect_uri != g("redirect_uri")
            || grant.expires <= now.unix_seconds()
        {
            return refuse("invalid_grant", "code not for this client or expired");
        }
        let challenge = jose::b64e(&crate::dsig::sha256(g("code_verifier").as_bytes()));
        if challenge != grant.challenge {
            return refuse("invalid_grant", "PKCE verifier");
        }
        let access_token = random_token("at-", 24);
        st.tokens.insert(access_token.clone(), grant.clone());
        drop(st);
        let id_token = self.id_token(&grant, now);
        Ok(
            json!({"access_token": access_token, "token_type": "Bearer", "expires_in": 600,
                  "id_token": id_token})
            .to_string(),
        )
    }

    fn audience(&self, client_id: &str) -> String {
        if self.knobs.wrong_audience {
            "https://other-rp.example.it".to_owned()
        } else {
            client_id.to_owned()
        }
    }

    fn id_token(&self, grant: &Grant, now: Timestamp) -> String {
        let n = now.unix_seconds();
        let nonce = if self.knobs.wrong_nonce {
            "x".repeat(43)
        } else {
            grant.nonce.clone()
        };
        let acr = if self.knobs.low_acr {
            "https://www.spid.gov.it/SpidL1"
        } else {
            grant.acr.as_str()
        };
        let claims = json!({
            "iss": self.op_id(), "sub": self.subject(&grant.client_id),
            "aud": [self.audience(&grant.client_id)], "iat": n, "exp": n + 600,
            "jti": random_token("id-", 16), "nonce": nonce, "acr": acr,
            "given_name": "Mario", "family_name": "Rossi",
        });
        let key = if self.knobs.bad_signature {
            self.stray_key.with_kid(&self.op_core_key.kid)
        } else {
            self.op_core_key.clone()
        };
        Self::sign(&key, "JWT", &claims)
    }

    fn subject(&self, client_id: &str) -> String {
        let h = crate::dsig::sha256(format!("{client_id}|RSSMRA80A01H501U").as_bytes());
        jose::b64e(&h)
    }

    /// The userinfo endpoint: signed by the OP, then encrypted to the RP's `enc` key.
    pub fn userinfo(&self, authorization: &str, now: Timestamp) -> Result<String, OpRefusal> {
        let token = authorization.strip_prefix("Bearer ").unwrap_or("");
        let st = lock(&self.state);
        let Some(grant) = st.tokens.get(token).cloned() else {
            return refuse("invalid_token", "unknown access token");
        };
        let Some(enc) = st
            .rps
            .get(&grant.client_id)
            .and_then(|r| r.enc_keys.first().cloned())
        else {
            return refuse("invalid_client", "RP has no encryption key");
        };
        drop(st);
        let n = now.unix_seconds();
        let claims = json!({
            "iss": self.op_id(), "sub": self.subject(&grant.client_id),
            "aud": self.audience(&grant.client_id), "iat": n, "exp": n + 600,
            "given_name": "Mario", "family_name": "Rossi", "birthdate": "1980-01-01",
            "email": "mario.rossi@example.it",
            crate::oidc::FISCAL_NUMBER_CLAIM: TEST_OIDC_FISCAL_NUMBER,
        });
        let mut claims = claims;
        if self.knobs.userinfo_without_iss_aud {
            if let Some(m) = claims.as_object_mut() {
                m.remove("iss");
                m.remove("aud");
            }
        }
        let jws = Self::sign(&self.op_core_key, "JWT", &claims);
        if self.knobs.plain_userinfo {
            return Ok(jws);
        }
        jose::encrypt(&enc, "JWT", jws.as_bytes()).or(refuse("server_error", "encryption"))
    }

    /// The revocation endpoint: forgets the access token (RFC 7009: 200 either way).
    pub fn revoke(&self, body: &str) -> bool {
        let f = form(body);
        let token = f.get("token").cloned().unwrap_or_default();
        lock(&self.state).tokens.remove(&token).is_some()
    }

    /// How many access tokens are live (tests check revocation).
    pub fn live_tokens(&self) -> usize {
        lock(&self.state).tokens.len()
    }
}

/// A [`FederationFetcher`] over a [`TestFederation`] at a fixed time (no network).
#[derive(Debug)]
pub struct TestFetcher<'a> {
    /// The federation.
    pub federation: &'a TestFederation,
    /// The time its statements are issued at.
    pub now: Timestamp,
}

impl FederationFetcher for TestFetcher<'_> {
    fn fetch(&self, url: &str) -> Result<String, String> {
        self.federation
            .get(url, self.now)
            .ok_or_else(|| "not found".to_owned())
    }
}

impl TestFederation {
    /// Fixes the time the back channel ([`crate::axum::OidcBackChannel`]) answers at
    /// (tests with a fixed clock); the system clock otherwise.
    pub fn at(mut self, now: Timestamp) -> TestFederation {
        self.fixed_now = Some(now);
        self
    }

    fn clock(&self) -> Timestamp {
        use crate::time::Clock as _;
        self.fixed_now
            .unwrap_or_else(|| crate::time::SystemClock.now())
    }
}

impl FederationFetcher for TestFederation {
    fn fetch(&self, url: &str) -> Result<String, String> {
        self.get(url, self.clock())
            .ok_or_else(|| "not found".to_owned())
    }
}

#[cfg(feature = "axum")]
mod http;
#[cfg(feature = "axum")]
#[cfg_attr(
    docsrs,
    doc(cfg(all(feature = "test-idp", feature = "oidc", feature = "axum")))
)]
pub use http::router;
