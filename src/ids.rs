//! Newtypes for the identifiers that travel in SAML messages.

use std::fmt;

macro_rules! string_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        string_newtype!(@base $(#[$doc])* $name);

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
    };
    // Personal data: neither `Display` nor a `Debug` that shows the value.
    (@redacted $(#[$doc:meta])* $name:ident) => {
        string_newtype!(@base $(#[$doc])* $name);

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "(..)"))
            }
        }
    };
    (@base $(#[$doc:meta])* $name:ident) => {
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
string_newtype!(
    /// The `ID` of a verified Assertion: the replay cache keys on it (with the IdP), and
    /// the 24-month transaction log records it.
    AssertionId
);
string_newtype!(
    @redacted
    /// The value of a `saml:NameID`: the IdP's (transient, pseudonymous) identifier of
    /// the user's session, which single logout needs.
    ///
    /// Personal data: no `Display`, and `Debug` shows `NameId(..)` only; read it with
    /// [`NameId::as_str`].
    NameId
);

/// The system's random number generator failed: nothing that needs an unguessable value
/// (request IDs, RelayState, cookies) is issued.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("random number generator unavailable")]
pub struct RandomError;

impl RequestId {
    /// A fresh ID: `_` followed by 160 random bits in hex (a valid `xs:ID`). Fails
    /// closed when the system's CSPRNG fails (no fallback).
    pub fn random() -> Result<RequestId, RandomError> {
        random_token("_", 20).map(RequestId)
    }
}

impl RelayState {
    /// A fresh opaque token (128 random bits, hex): reveals nothing and needs no escaping.
    /// Fails closed when the system's CSPRNG fails (no fallback).
    pub fn random() -> Result<RelayState, RandomError> {
        random_token("", 16).map(RelayState)
    }
}

/// `prefix` + `n` random bytes in lower-case hex, from the kernel's CSPRNG
/// ([`fill_random`]); an error, never a weaker source, when it fails.
pub(crate) fn random_token(prefix: &str, n: usize) -> Result<String, RandomError> {
    let mut buf = vec![0u8; n];
    fill_random(&mut buf)?;
    let mut s = String::with_capacity(prefix.len() + 2 * n);
    s.push_str(prefix);
    s.push_str(&crate::printable::hex(&buf));
    Ok(s)
}

/// [`random_token`] for the test IdP, whose API predates fallible IDs: a failing RNG ends
/// the process rather than issuing a guessable value (fail closed).
#[cfg(feature = "test-idp")]
pub(crate) fn random_token_or_abort(prefix: &str, n: usize) -> String {
    match random_token(prefix, n) {
        Ok(t) => t,
        Err(_) => std::process::abort(),
    }
}

/// Fills `buf` from the kernel's CSPRNG (`getrandom(2)`, which OpenSSL's own generator
/// is seeded from). Not OpenSSL's `RAND_bytes`: OpenSSL 3 takes a process-wide write
/// lock in every call (`RAND_get_rand_method`), which the ACS profile showed contended
/// between the request threads (docs/audit.md, "Fourth session of 2026-12-06").
#[cfg(not(test))]
pub(crate) fn fill_random(buf: &mut [u8]) -> Result<(), RandomError> {
    getrandom::fill(buf).map_err(|_| RandomError)
}

#[cfg(test)]
thread_local! {
    /// Unit tests: make the RNG fail on this thread.
    pub(crate) static RNG_FAILS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

#[cfg(test)]
pub(crate) fn fill_random(buf: &mut [u8]) -> Result<(), RandomError> {
    if RNG_FAILS.with(|f| f.get()) {
        return Err(RandomError);
    }
    getrandom::fill(buf).map_err(|_| RandomError)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_ids_are_ncnames_and_distinct() {
        let a = RequestId::random().unwrap();
        let b = RequestId::random().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), 41);
        assert!(a.as_str().starts_with('_'));
        assert_eq!(RelayState::random().unwrap().as_str().len(), 32);
    }

    #[test]
    fn name_id_debug_is_redacted() {
        let n = NameId::new("_secret-transient-id");
        assert_eq!(format!("{n:?}"), "NameId(..)");
        assert_eq!(n.as_str(), "_secret-transient-id");
        let a = AssertionId::new("_a1");
        assert_eq!(format!("{a:?} {a}"), "AssertionId(\"_a1\") _a1");
    }

    #[test]
    fn a_failing_rng_fails_closed() {
        RNG_FAILS.with(|f| f.set(true));
        assert_eq!(RequestId::random(), Err(RandomError));
        assert_eq!(RelayState::random(), Err(RandomError));
        assert_eq!(random_token("x", 8), Err(RandomError));
        RNG_FAILS.with(|f| f.set(false));
    }
}
