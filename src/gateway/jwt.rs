//! The short-lived JWT given to the upstream (RS256 or ES256, signed with OpenSSL) and
//! the JWKS that verifies it (`GET /spid/jwks.json`). Tokens are cached per login for
//! a third of their lifetime ([`IdentityCache`](super::identity::IdentityCache)), so a
//! busy session costs one signature every few seconds.

use std::path::Path;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use openssl::bn::BigNumContext;
use openssl::ec::{EcGroup, EcKey};
use openssl::ecdsa::EcdsaSig;
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::sign::Signer;

use super::identity::session_handle;
use super::GatewayError;
use crate::axum::Session;

/// The algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Alg {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
    /// ECDSA P-256 with SHA-256.
    Es256,
}

/// The signer of the gateway's JWTs.
pub struct JwtSigner {
    alg: Alg,
    key: PKey<Private>,
    kid: String,
    jwks: String,
    issuer: String,
    audience: String,
    lifetime: i64,
}

impl std::fmt::Debug for JwtSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtSigner")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

fn key_error(reason: impl Into<String>) -> GatewayError {
    GatewayError::Invalid {
        field: "gateway.jwt.key_file".into(),
        reason: reason.into(),
    }
}

/// The key of `file`, or of `<key_dir>/gateway-jwt-<alg>.key.pem` (created when missing),
/// or a new one in memory.
pub(crate) fn load_key(
    alg: Alg,
    file: Option<&Path>,
    key_dir: Option<&Path>,
) -> Result<PKey<Private>, GatewayError> {
    let path = file.map(Path::to_path_buf).or_else(|| {
        key_dir.map(|d| {
            d.join(match alg {
                Alg::Rs256 => "gateway-jwt-rs256.key.pem",
                Alg::Es256 => "gateway-jwt-es256.key.pem",
            })
        })
    });
    if let Some(p) = &path {
        if let Ok(pem) = std::fs::read(p) {
            let key = PKey::private_key_from_pem(&pem)
                .map_err(|_| key_error(format!("{}: not a PEM private key", p.display())))?;
            let ok = match alg {
                Alg::Rs256 => key.rsa().is_ok_and(|r| r.size() >= 256),
                Alg::Es256 => key
                    .ec_key()
                    .is_ok_and(|k| k.group().curve_name() == Some(Nid::X9_62_PRIME256V1)),
            };
            if !ok {
                return Err(key_error("RS256 needs RSA >= 2048 bits, ES256 a P-256 key"));
            }
            return Ok(key);
        }
        if file.is_some() {
            return Err(key_error(format!("cannot read {}", p.display())));
        }
    }
    let key = match alg {
        Alg::Rs256 => Rsa::generate(2048).and_then(PKey::from_rsa),
        Alg::Es256 => EcGroup::from_curve_name(Nid::X9_62_PRIME256V1)
            .and_then(|g| EcKey::generate(&g))
            .and_then(PKey::from_ec_key),
    }
    .map_err(|_| key_error("cannot generate a key"))?;
    if let Some(p) = &path {
        let pem = key
            .private_key_to_pem_pkcs8()
            .map_err(|_| key_error("cannot encode the key"))?;
        super::write_private(p, &pem).map_err(|e| key_error(format!("{}: {e}", p.display())))?;
    }
    Ok(key)
}

impl JwtSigner {
    pub(crate) fn new(
        alg: Alg,
        key: PKey<Private>,
        issuer: &str,
        audience: &str,
        lifetime: i64,
    ) -> Result<JwtSigner, GatewayError> {
        let der = key
            .public_key_to_der()
            .map_err(|_| key_error("unusable key"))?;
        let kid = URL_SAFE_NO_PAD.encode(crate::dsig::sha256(&der).get(..12).unwrap_or(&[]));
        let jwk = match alg {
            Alg::Rs256 => {
                let rsa = key.rsa().map_err(|_| key_error("not an RSA key"))?;
                serde_json::json!({
                    "kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
                    "n": URL_SAFE_NO_PAD.encode(rsa.n().to_vec()),
                    "e": URL_SAFE_NO_PAD.encode(rsa.e().to_vec()),
                })
            }
            Alg::Es256 => {
                let ec = key.ec_key().map_err(|_| key_error("not an EC key"))?;
                let mut ctx = BigNumContext::new().map_err(|_| key_error("openssl"))?;
                let (mut x, mut y) = (
                    openssl::bn::BigNum::new().map_err(|_| key_error("openssl"))?,
                    openssl::bn::BigNum::new().map_err(|_| key_error("openssl"))?,
                );
                ec.public_key()
                    .affine_coordinates(ec.group(), &mut x, &mut y, &mut ctx)
                    .map_err(|_| key_error("openssl"))?;
                let pad =
                    |b: &openssl::bn::BigNum| b.to_vec_padded(32).map_err(|_| key_error("openssl"));
                serde_json::json!({
                    "kty": "EC", "use": "sig", "alg": "ES256", "kid": kid, "crv": "P-256",
                    "x": URL_SAFE_NO_PAD.encode(pad(&x)?),
                    "y": URL_SAFE_NO_PAD.encode(pad(&y)?),
                })
            }
        };
        let jwks = serde_json::json!({ "keys": [jwk] }).to_string();
        Ok(JwtSigner {
            alg,
            key,
            kid,
            jwks,
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            lifetime,
        })
    }

    /// The JWKS document.
    pub fn jwks(&self) -> &str {
        &self.jwks
    }

    /// A new token for `session` (of `tenant`, if any), issued at `now` (Unix seconds).
    pub fn token(&self, session: &Session, now: i64, tenant: Option<&str>) -> Option<String> {
        self.sign(session, &session_handle(session), now, tenant)
    }

    /// Whether a token issued at `iat` can still be given at `now` (Unix seconds): for a
    /// third of its lifetime, never when the clock went back.
    pub fn fresh(&self, iat: i64, now: i64) -> bool {
        now >= iat && now - iat < self.lifetime / 3
    }

    fn sign(
        &self,
        session: &Session,
        handle: &str,
        iat: i64,
        tenant: Option<&str>,
    ) -> Option<String> {
        let id = session.identity();
        let header = serde_json::json!({
            "alg": match self.alg { Alg::Rs256 => "RS256", Alg::Es256 => "ES256" },
            "typ": "JWT",
            "kid": self.kid,
        });
        let mut claims = serde_json::json!({
            "iss": self.issuer,
            "aud": self.audience,
            "iat": iat,
            "nbf": iat - 5,
            "exp": iat + self.lifetime,
            "jti": crate::ids::random_token("", 16).ok()?,
            "acr": session.level().uri(),
            "spid_level": session.level().number(),
            "idp": session.idp().as_str(),
            "sid": handle,
        });
        if let Some(obj) = claims.as_object_mut() {
            let mut put = |k: &str, v: Option<&str>| {
                if let Some(v) = v {
                    obj.insert(k.to_owned(), v.into());
                }
            };
            put("sub", id.key().map(|k| k.as_str()));
            put("tenant", tenant);
            put("fiscal_code", id.fiscal_code().map(|c| c.as_str()));
            put("eidas_id", id.eidas_id().map(|c| c.as_str()));
            put("given_name", id.name());
            put("family_name", id.family_name());
            put("email", id.email());
            put("company_name", id.company_name());
            put("vat_number", id.vat_number().map(|v| v.as_str()));
            put(
                "company_fiscal_number",
                id.company_fiscal_number().map(|c| c.as_str()),
            );
        }
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut signer = Signer::new(MessageDigest::sha256(), &self.key).ok()?;
        signer.update(input.as_bytes()).ok()?;
        let der = signer.sign_to_vec().ok()?;
        let sig = match self.alg {
            Alg::Rs256 => der,
            Alg::Es256 => {
                let s = EcdsaSig::from_der(&der).ok()?;
                let mut raw = s.r().to_vec_padded(32).ok()?;
                raw.extend(s.s().to_vec_padded(32).ok()?);
                raw
            }
        };
        Some(format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig)))
    }
}

/// The signer of `[gateway.jwt]`, its header and whether it is `Authorization: Bearer`
/// (`None` when disabled).
pub(crate) fn from_settings(
    j: &super::JwtSettings,
    key_dir: Option<&Path>,
    base_url: &str,
) -> Result<Option<(JwtSigner, axum::http::HeaderName, bool)>, GatewayError> {
    if !j.enabled {
        return Ok(None);
    }
    let alg = if j.alg == "RS256" {
        Alg::Rs256
    } else {
        Alg::Es256
    };
    let key = load_key(alg, j.key_file.as_deref(), key_dir)?;
    let audience = j.audience.clone().unwrap_or_else(|| base_url.to_owned());
    let signer = JwtSigner::new(alg, key, base_url, &audience, j.lifetime_secs)?;
    let name =
        axum::http::HeaderName::try_from(j.header.as_str()).map_err(|_| GatewayError::Invalid {
            field: "gateway.jwt.header".into(),
            reason: "not a header name".into(),
        })?;
    let bearer = name == axum::http::header::AUTHORIZATION;
    Ok(Some((signer, name, bearer)))
}
