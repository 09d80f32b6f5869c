//! JWK and JWKS (RFC 7517, RFC 7518 §6): RSA (`n`, `e`, 2048..=8192 bits) and EC P-256
//! (`x`, `y`, a point on the curve) public keys; private keys for our own signing and
//! decryption; RFC 7638 thumbprints as default `kid`.

use openssl::bn::{BigNum, BigNumContext};
use openssl::ec::{EcGroup, EcKey, EcPoint};
use openssl::hash::{hash, MessageDigest};
use openssl::nid::Nid;
use openssl::pkey::{Id, PKey, Private, Public};
use openssl::rsa::Rsa;
use serde_json::{Map, Value};

use super::json::{b64d, b64e, opt_str};
use super::OidcError;

/// Most keys a JWKS may hold.
pub const MAX_JWKS_KEYS: usize = 32;
/// Largest JWKS document (bytes) accepted.
pub const MAX_JWKS_BYTES: usize = 64 * 1024;
const MIN_RSA_BITS: u32 = 2048;
const MAX_RSA_BITS: u32 = 8192;

/// What a key is for (`use`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyUse {
    /// Signatures (`sig`).
    Signature,
    /// Encryption (`enc`).
    Encryption,
}

impl KeyUse {
    fn name(self) -> &'static str {
        match self {
            KeyUse::Signature => "sig",
            KeyUse::Encryption => "enc",
        }
    }
}

/// The key type of a JWK.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyType {
    /// RSA (`kty` `RSA`).
    Rsa,
    /// EC on P-256 (`kty` `EC`, `crv` `P-256`).
    EcP256,
}

/// A public JWK: RSA or EC P-256, with its `kid`, optional `use` and `alg`.
#[derive(Clone)]
pub struct Jwk {
    kid: String,
    kty: KeyType,
    key_use: Option<KeyUse>,
    alg: Option<String>,
    key: PKey<Public>,
}

impl std::fmt::Debug for Jwk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jwk")
            .field("kid", &self.kid)
            .field("kty", &self.kty)
            .field("use", &self.key_use)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

impl PartialEq for Jwk {
    fn eq(&self, other: &Jwk) -> bool {
        self.kid == other.kid && self.key.public_eq(&other.key)
    }
}

fn bad(reason: &'static str) -> OidcError {
    OidcError::InvalidJwk { reason }
}

fn bn(map: &Map<String, Value>, name: &'static str) -> Result<BigNum, OidcError> {
    let text = opt_str(map, name)
        .map_err(|_| bad("member not a string"))?
        .ok_or(bad("member missing"))?;
    let bytes = b64d(text, "JWK member").map_err(|_| bad("member not base64url"))?;
    if bytes.is_empty() || bytes.len() > 1024 {
        return Err(bad("member length"));
    }
    BigNum::from_slice(&bytes).map_err(|_| bad("member value"))
}

fn p256() -> Result<EcGroup, OidcError> {
    EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).map_err(OidcError::crypto)
}

/// The fixed-width big-endian bytes of `n` (EC coordinates are 32 bytes on P-256).
pub(crate) fn fixed(n: &openssl::bn::BigNumRef, width: usize) -> Result<Vec<u8>, OidcError> {
    let w = i32::try_from(width).map_err(OidcError::crypto)?;
    n.to_vec_padded(w).map_err(OidcError::crypto)
}

fn ec_xy(key: &EcKey<impl openssl::pkey::HasPublic>) -> Result<(Vec<u8>, Vec<u8>), OidcError> {
    let group = p256()?;
    let mut ctx = BigNumContext::new().map_err(OidcError::crypto)?;
    let mut x = BigNum::new().map_err(OidcError::crypto)?;
    let mut y = BigNum::new().map_err(OidcError::crypto)?;
    key.public_key()
        .affine_coordinates(&group, &mut x, &mut y, &mut ctx)
        .map_err(OidcError::crypto)?;
    Ok((fixed(&x, 32)?, fixed(&y, 32)?))
}

/// RFC 7638 members: name, base64url or fixed value.
type Members = Vec<(&'static str, String)>;

/// The RFC 7638 members of a public key (lexicographic order) and its type.
fn canonical_members(key: &PKey<Public>) -> Result<(KeyType, Members), OidcError> {
    match key.id() {
        Id::RSA => {
            let rsa = key.rsa().map_err(OidcError::crypto)?;
            Ok((
                KeyType::Rsa,
                vec![
                    ("e", b64e(&rsa.e().to_vec())),
                    ("kty", "RSA".to_owned()),
                    ("n", b64e(&rsa.n().to_vec())),
                ],
            ))
        }
        Id::EC => {
            let ec = key.ec_key().map_err(OidcError::crypto)?;
            if ec.group().curve_name() != Some(Nid::X9_62_PRIME256V1) {
                return Err(bad("curve not P-256"));
            }
            let (x, y) = ec_xy(&ec)?;
            Ok((
                KeyType::EcP256,
                vec![
                    ("crv", "P-256".to_owned()),
                    ("kty", "EC".to_owned()),
                    ("x", b64e(&x)),
                    ("y", b64e(&y)),
                ],
            ))
        }
        _ => Err(bad("key type not RSA or EC")),
    }
}

fn thumbprint_of(members: &[(&'static str, String)]) -> Result<String, OidcError> {
    // The members are plain base64url or fixed names: no JSON escaping is needed.
    let body: Vec<String> = members
        .iter()
        .map(|(k, v)| format!("\"{k}\":\"{v}\""))
        .collect();
    let json = format!("{{{}}}", body.join(","));
    let digest = hash(MessageDigest::sha256(), json.as_bytes()).map_err(OidcError::crypto)?;
    Ok(b64e(&digest))
}

fn check_public(key: &PKey<Public>) -> Result<KeyType, OidcError> {
    match key.id() {
        Id::RSA => {
            let bits = key.bits();
            if !(MIN_RSA_BITS..=MAX_RSA_BITS).contains(&bits) {
                return Err(bad("RSA modulus size outside 2048..=8192 bits"));
            }
            Ok(KeyType::Rsa)
        }
        Id::EC => Ok(canonical_members(key)?.0),
        _ => Err(bad("key type not RSA or EC")),
    }
}

impl Jwk {
    /// Parses one JWK object. `kid` defaults to the RFC 7638 thumbprint; a private
    /// member (`d`, `p`...) is refused (a public JWKS never carries one).
    pub fn from_value(value: &Value) -> Result<Jwk, OidcError> {
        let map = value.as_object().ok_or(bad("not an object"))?;
        for private in ["d", "p", "q", "dp", "dq", "qi", "k"] {
            if map.contains_key(private) {
                return Err(bad("private key material in a public JWK"));
            }
        }
        let kty = opt_str(map, "kty")
            .map_err(|_| bad("kty"))?
            .ok_or(bad("kty missing"))?;
        let key = match kty {
            "RSA" => {
                let n = bn(map, "n")?;
                let e = bn(map, "e")?;
                let rsa = Rsa::from_public_components(n, e).map_err(|_| bad("RSA key"))?;
                PKey::from_rsa(rsa).map_err(OidcError::crypto)?
            }
            "EC" => {
                let crv = opt_str(map, "crv").map_err(|_| bad("crv"))?;
                if crv != Some("P-256") {
                    return Err(bad("curve not P-256"));
                }
                let x = bn(map, "x")?;
                let y = bn(map, "y")?;
                let group = p256()?;
                let ec = EcKey::from_public_key_affine_coordinates(&group, &x, &y)
                    .map_err(|_| bad("point not on P-256"))?;
                ec.check_key().map_err(|_| bad("point not on P-256"))?;
                PKey::from_ec_key(ec).map_err(OidcError::crypto)?
            }
            _ => return Err(bad("kty not RSA or EC")),
        };
        let kty = check_public(&key)?;
        let key_use = match opt_str(map, "use").map_err(|_| bad("use"))? {
            None => None,
            Some("sig") => Some(KeyUse::Signature),
            Some("enc") => Some(KeyUse::Encryption),
            Some(_) => return Err(bad("use not sig or enc")),
        };
        let alg = opt_str(map, "alg")
            .map_err(|_| bad("alg"))?
            .map(str::to_owned);
        let kid = match opt_str(map, "kid").map_err(|_| bad("kid"))? {
            Some(k) if !k.is_empty() && k.len() <= 256 => k.to_owned(),
            Some(_) => return Err(bad("kid empty or longer than 256")),
            None => thumbprint_of(&canonical_members(&key)?.1)?,
        };
        Ok(Jwk {
            kid,
            kty,
            key_use,
            alg,
            key,
        })
    }

    /// Parses one JWK from JSON text.
    pub fn parse(json: &str) -> Result<Jwk, OidcError> {
        if json.len() > MAX_JWKS_BYTES {
            return Err(OidcError::TooLarge { what: "JWK" });
        }
        let value: Value =
            serde_json::from_str(json).map_err(|_| OidcError::Malformed { what: "JWK" })?;
        Jwk::from_value(&value)
    }

    /// A JWK of an OpenSSL public key in PEM (SubjectPublicKeyInfo), `kid` = thumbprint.
    pub fn from_public_pem(pem: &[u8]) -> Result<Jwk, OidcError> {
        let key = PKey::public_key_from_pem(pem).map_err(|_| bad("not a PEM public key"))?;
        Jwk::from_pkey(key)
    }

    pub(crate) fn from_pkey(key: PKey<Public>) -> Result<Jwk, OidcError> {
        let kty = check_public(&key)?;
        let kid = thumbprint_of(&canonical_members(&key)?.1)?;
        Ok(Jwk {
            kid,
            kty,
            key_use: None,
            alg: None,
            key,
        })
    }

    /// The same key with another `kid`.
    #[must_use]
    pub fn with_kid(mut self, kid: impl Into<String>) -> Jwk {
        self.kid = kid.into();
        self
    }

    /// The same key with a `use`.
    #[must_use]
    pub fn with_use(mut self, key_use: KeyUse) -> Jwk {
        self.key_use = Some(key_use);
        self
    }

    /// The same key with an `alg`.
    #[must_use]
    pub fn with_alg(mut self, alg: impl Into<String>) -> Jwk {
        self.alg = Some(alg.into());
        self
    }

    /// The key identifier.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The key type.
    pub fn key_type(&self) -> KeyType {
        self.kty
    }

    /// The declared `use`, if any.
    pub fn key_use(&self) -> Option<KeyUse> {
        self.key_use
    }

    /// The declared `alg`, if any.
    pub fn alg(&self) -> Option<&str> {
        self.alg.as_deref()
    }

    /// The RFC 7638 SHA-256 thumbprint (base64url).
    pub fn thumbprint(&self) -> Result<String, OidcError> {
        thumbprint_of(&canonical_members(&self.key)?.1)
    }

    /// The public key in PEM (SubjectPublicKeyInfo).
    pub fn to_public_pem(&self) -> Result<Vec<u8>, OidcError> {
        self.key.public_key_to_pem().map_err(OidcError::crypto)
    }

    /// The JWK as a JSON object (`kty`, `kid`, `use`, `alg`, then the key members).
    pub fn to_value(&self) -> Value {
        let mut map = Map::new();
        if let Ok((_, members)) = canonical_members(&self.key) {
            for (k, v) in members {
                map.insert(k.to_owned(), Value::String(v));
            }
        }
        map.insert("kid".into(), Value::String(self.kid.clone()));
        if let Some(u) = self.key_use {
            map.insert("use".into(), Value::String(u.name().into()));
        }
        if let Some(a) = &self.alg {
            map.insert("alg".into(), Value::String(a.clone()));
        }
        Value::Object(map)
    }

    pub(crate) fn pkey(&self) -> &PKey<Public> {
        &self.key
    }
}

/// A JWK Set: at most [`MAX_JWKS_KEYS`] keys, `kid`s unique.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Jwks {
    keys: Vec<Jwk>,
}

impl Jwks {
    /// An empty set.
    pub fn new() -> Jwks {
        Jwks::default()
    }

    /// A set of `keys` (duplicate `kid` and size checked).
    pub fn from_keys(keys: Vec<Jwk>) -> Result<Jwks, OidcError> {
        let mut set = Jwks::new();
        for k in keys {
            set.push(k)?;
        }
        Ok(set)
    }

    /// Adds a key.
    pub fn push(&mut self, key: Jwk) -> Result<(), OidcError> {
        if self.keys.len() >= MAX_JWKS_KEYS {
            return Err(OidcError::TooLarge { what: "JWKS" });
        }
        if self.get(&key.kid).is_some() {
            return Err(bad("duplicate kid in JWKS"));
        }
        self.keys.push(key);
        Ok(())
    }

    /// Parses `{"keys": [...]}`. Keys of another type than RSA/EC P-256 (`oct`, `OKP`,
    /// other curves) are skipped; a malformed RSA/EC key refuses the whole set.
    pub fn from_value(value: &Value) -> Result<Jwks, OidcError> {
        let keys = value
            .get("keys")
            .and_then(Value::as_array)
            .ok_or(bad("no keys array"))?;
        if keys.len() > MAX_JWKS_KEYS {
            return Err(OidcError::TooLarge { what: "JWKS" });
        }
        let mut set = Jwks::new();
        for k in keys {
            let kty = k.get("kty").and_then(Value::as_str);
            let crv = k.get("crv").and_then(Value::as_str);
            let supported = kty == Some("RSA") || (kty == Some("EC") && crv == Some("P-256"));
            if !supported {
                continue;
            }
            set.push(Jwk::from_value(k)?)?;
        }
        Ok(set)
    }

    /// Parses a JWKS document (at most [`MAX_JWKS_BYTES`]).
    pub fn parse(json: &str) -> Result<Jwks, OidcError> {
        if json.len() > MAX_JWKS_BYTES {
            return Err(OidcError::TooLarge { what: "JWKS" });
        }
        let value: Value =
            serde_json::from_str(json).map_err(|_| OidcError::Malformed { what: "JWKS" })?;
        Jwks::from_value(&value)
    }

    /// `{"keys": [...]}`.
    pub fn to_value(&self) -> Value {
        let keys = self.keys.iter().map(Jwk::to_value).collect();
        let mut map = Map::new();
        map.insert("keys".into(), Value::Array(keys));
        Value::Object(map)
    }

    /// The key with `kid`.
    pub fn get(&self, kid: &str) -> Option<&Jwk> {
        self.keys.iter().find(|k| k.kid == kid)
    }

    /// Every key.
    pub fn keys(&self) -> &[Jwk] {
        &self.keys
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// Our own private key (RSA or EC P-256) with its `kid`: signs JWS, decrypts JWE.
/// `Debug` shows only the `kid`.
#[derive(Clone)]
pub struct PrivateJwk {
    kid: String,
    kty: KeyType,
    key: PKey<Private>,
}

impl std::fmt::Debug for PrivateJwk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrivateJwk")
            .field("kid", &self.kid)
            .field("kty", &self.kty)
            .finish_non_exhaustive()
    }
}

impl PrivateJwk {
    fn from_private(key: PKey<Private>) -> Result<PrivateJwk, OidcError> {
        let public =
            PKey::public_key_from_der(&key.public_key_to_der().map_err(OidcError::crypto)?)
                .map_err(OidcError::crypto)?;
        let kty = check_public(&public)?;
        let kid = thumbprint_of(&canonical_members(&public)?.1)?;
        Ok(PrivateJwk { kid, kty, key })
    }

    /// A new RSA key (`bits` between 2048 and 8192), `kid` = thumbprint.
    pub fn generate_rsa(bits: u32) -> Result<PrivateJwk, OidcError> {
        if !(MIN_RSA_BITS..=MAX_RSA_BITS).contains(&bits) {
            return Err(bad("RSA modulus size outside 2048..=8192 bits"));
        }
        let rsa = Rsa::generate(bits).map_err(OidcError::crypto)?;
        PrivateJwk::from_private(PKey::from_rsa(rsa).map_err(OidcError::crypto)?)
    }

    /// A new EC P-256 key, `kid` = thumbprint.
    pub fn generate_p256() -> Result<PrivateJwk, OidcError> {
        let group = p256()?;
        let ec = EcKey::generate(&group).map_err(OidcError::crypto)?;
        PrivateJwk::from_private(PKey::from_ec_key(ec).map_err(OidcError::crypto)?)
    }

    /// A key from PEM (PKCS#8, or traditional RSA/EC), `kid` = thumbprint.
    pub fn from_pem(pem: &[u8]) -> Result<PrivateJwk, OidcError> {
        let key = PKey::private_key_from_pem(pem).map_err(|_| bad("not a PEM private key"))?;
        PrivateJwk::from_private(key)
    }

    /// A key from a private JWK (RSA with `d`, `p`, `q`, `dp`, `dq`, `qi`; EC P-256 with
    /// `d`), keeping its `kid` when it has one.
    pub fn from_jwk_value(value: &Value) -> Result<PrivateJwk, OidcError> {
        let map = value.as_object().ok_or(bad("not an object"))?;
        let kty = opt_str(map, "kty").map_err(|_| bad("kty"))?;
        let key = match kty {
            Some("RSA") => {
                let rsa = Rsa::from_private_components(
                    bn(map, "n")?,
                    bn(map, "e")?,
                    bn(map, "d")?,
                    bn(map, "p")?,
                    bn(map, "q")?,
                    bn(map, "dp")?,
                    bn(map, "dq")?,
                    bn(map, "qi")?,
                )
                .map_err(|_| bad("RSA private key"))?;
                rsa.check_key().map_err(|_| bad("RSA private key"))?;
                PKey::from_rsa(rsa).map_err(OidcError::crypto)?
            }
            Some("EC") => {
                if opt_str(map, "crv").map_err(|_| bad("crv"))? != Some("P-256") {
                    return Err(bad("curve not P-256"));
                }
                let group = p256()?;
                let d = bn(map, "d")?;
                let mut ctx = BigNumContext::new().map_err(OidcError::crypto)?;
                let mut point = EcPoint::new(&group).map_err(OidcError::crypto)?;
                point
                    .mul_generator2(&group, &d, &mut ctx)
                    .map_err(OidcError::crypto)?;
                let ec = EcKey::from_private_components(&group, &d, &point)
                    .map_err(|_| bad("EC private key"))?;
                ec.check_key().map_err(|_| bad("EC private key"))?;
                let (x, y) = ec_xy(&ec)?;
                let (jx, jy) = (bn(map, "x")?, bn(map, "y")?);
                if fixed(&jx, 32)? != x || fixed(&jy, 32)? != y {
                    return Err(bad("EC private key does not match x/y"));
                }
                PKey::from_ec_key(ec).map_err(OidcError::crypto)?
            }
            _ => return Err(bad("kty not RSA or EC")),
        };
        let mut jwk = PrivateJwk::from_private(key)?;
        if let Some(kid) = opt_str(map, "kid").map_err(|_| bad("kid"))? {
            jwk.kid = kid.to_owned();
        }
        Ok(jwk)
    }

    /// The private key in PKCS#8 PEM (to store it; treat the output as a secret).
    pub fn to_pem(&self) -> Result<Vec<u8>, OidcError> {
        self.key
            .private_key_to_pem_pkcs8()
            .map_err(OidcError::crypto)
    }

    /// The same key with another `kid`.
    #[must_use]
    pub fn with_kid(mut self, kid: impl Into<String>) -> PrivateJwk {
        self.kid = kid.into();
        self
    }

    /// The key identifier.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The key type.
    pub fn key_type(&self) -> KeyType {
        self.kty
    }

    /// The public half as a JWK with the same `kid`.
    pub fn public_jwk(&self) -> Result<Jwk, OidcError> {
        let der = self.key.public_key_to_der().map_err(OidcError::crypto)?;
        let public = PKey::public_key_from_der(&der).map_err(OidcError::crypto)?;
        Ok(Jwk::from_pkey(public)?.with_kid(self.kid.clone()))
    }

    pub(crate) fn pkey(&self) -> &PKey<Private> {
        &self.key
    }
}
