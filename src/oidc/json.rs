//! base64url without padding (strict) and JSON objects that refuse duplicate members.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::{Map, Value};

use super::OidcError;

/// Encodes `bytes` as base64url without padding.
pub(crate) fn b64e(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes strict base64url (no padding, no whitespace, canonical trailing bits).
pub(crate) fn b64d(text: &str, what: &'static str) -> Result<Vec<u8>, OidcError> {
    URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| OidcError::Malformed { what })
}

/// A JSON object whose top-level member names are unique.
struct StrictObject(Map<String, Value>);

impl<'de> serde::Deserialize<'de> for StrictObject {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = StrictObject;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<StrictObject, A::Error> {
                let mut map = Map::new();
                while let Some(k) = a.next_key::<String>()? {
                    let v: Value = a.next_value()?;
                    if map.insert(k, v).is_some() {
                        return Err(serde::de::Error::custom("duplicate member"));
                    }
                }
                Ok(StrictObject(map))
            }
        }
        d.deserialize_map(V)
    }
}

/// Parses `bytes` as one JSON object with unique top-level members.
pub(crate) fn object(bytes: &[u8], what: &'static str) -> Result<Map<String, Value>, OidcError> {
    match serde_json::from_slice::<StrictObject>(bytes) {
        Ok(o) => Ok(o.0),
        Err(e) if e.to_string().contains("duplicate member") => {
            Err(OidcError::DuplicateMember { what })
        }
        Err(_) => Err(OidcError::Malformed { what }),
    }
}

/// A string member, if present (wrong type refused).
pub(crate) fn opt_str<'a>(
    map: &'a Map<String, Value>,
    name: &'static str,
) -> Result<Option<&'a str>, OidcError> {
    match map.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(OidcError::InvalidClaim {
            claim: name,
            reason: "not a string",
        }),
    }
}

/// A required string member.
pub(crate) fn req_str<'a>(
    map: &'a Map<String, Value>,
    name: &'static str,
) -> Result<&'a str, OidcError> {
    opt_str(map, name)?.ok_or(OidcError::InvalidClaim {
        claim: name,
        reason: "missing",
    })
}

/// An integer member (seconds since the epoch), if present.
pub(crate) fn opt_i64(
    map: &Map<String, Value>,
    name: &'static str,
) -> Result<Option<i64>, OidcError> {
    match map.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => n.as_i64().map(Some).ok_or(OidcError::InvalidClaim {
            claim: name,
            reason: "not an integer",
        }),
        Some(_) => Err(OidcError::InvalidClaim {
            claim: name,
            reason: "not a number",
        }),
    }
}

/// A required integer member.
pub(crate) fn req_i64(map: &Map<String, Value>, name: &'static str) -> Result<i64, OidcError> {
    opt_i64(map, name)?.ok_or(OidcError::InvalidClaim {
        claim: name,
        reason: "missing",
    })
}
