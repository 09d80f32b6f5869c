//! Newtypes for the identifiers that travel in SAML messages.

use std::fmt;

macro_rules! string_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
        #[cfg_attr(feature = "serde", serde(transparent))]
        pub struct $name(String);

        impl $name {
            /// Wraps a value.
            pub fn new(value: impl Into<String>) -> Self {
                $name(value.into())
            }
            /// The value.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                $name(s.to_owned())
            }
        }
    };
}

string_newtype!(
    /// A SAML entityID (of the SP or of an IdP).
    EntityId
);
string_newtype!(
    /// The ID of a request the SP sent (AuthnRequest or LogoutRequest): the key that binds
    /// the IdP's answer (`InResponseTo`) to it.
    RequestId
);
string_newtype!(
    /// The opaque RelayState token sent with a request and echoed back by the IdP.
    RelayState
);

impl RequestId {
    /// A fresh ID: `_` followed by 160 random bits in hex (a valid `xs:ID`).
    pub fn random() -> RequestId {
        RequestId(random_token("_", 20))
    }
}

impl RelayState {
    /// A fresh opaque token (128 random bits, hex): reveals nothing and needs no escaping.
    pub fn random() -> RelayState {
        RelayState(random_token("", 16))
    }
}

/// `prefix` + `n` random bytes in lower-case hex.
pub(crate) fn random_token(prefix: &str, n: usize) -> String {
    let mut buf = vec![0u8; n];
    // OpenSSL's CSPRNG; it only fails when the OS has no entropy source at all.
    if openssl::rand::rand_bytes(&mut buf).is_err() {
        // Fall back to the OS through std's hasher keys, never to a constant.
        use std::hash::{BuildHasher, Hasher};
        for chunk in buf.chunks_mut(8) {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_usize(chunk.len());
            let v = h.finish().to_le_bytes();
            for (d, s) in chunk.iter_mut().zip(v) {
                *d = s;
            }
        }
    }
    let mut s = String::with_capacity(prefix.len() + 2 * n);
    s.push_str(prefix);
    for b in buf {
        use std::fmt::Write as _;
        let _ = write!(s, "{b:02x}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_ids_are_ncnames_and_distinct() {
        let a = RequestId::random();
        let b = RequestId::random();
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), 41);
        assert!(a.as_str().starts_with('_'));
        assert_eq!(RelayState::random().as_str().len(), 32);
    }
}
