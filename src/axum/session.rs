//! A logged-in user as the integration keeps it ([`Session`]), stored as JSON in a
//! [`SessionStore`](crate::store::SessionStore).

use crate::federation::Federation;
use crate::identity::{Attributes, Identity, IdentityKey};
use crate::ids::EntityId;
use crate::level::SpidLevel;
use crate::sp::{SessionInfo, VerifiedLogin};
use crate::time::Timestamp;

/// A logged-in user, as the integration keeps it: the verified identity, the level and
/// what single logout needs. Also an extractor (see the module docs): a handler taking a
/// `Session` only runs for logged-in users.
///
/// `Debug` is redacted: level, IdP, times and the kind of identity, no personal data.
#[derive(Clone)]
pub struct Session {
    data: SessionData,
    identity: Identity,
}

/// The stored (JSON) form of a [`Session`].
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct SessionData {
    pub attributes: Attributes,
    pub level: SpidLevel,
    pub info: SessionInfo,
    pub idp_name: Option<String>,
    pub authn_instant: Option<Timestamp>,
    pub created: Timestamp,
    pub expires: Timestamp,
    /// The federation of the IdP, so that the identity rebuilt from the attributes has
    /// the key rules of the login ([`Identity::from_attributes`]). Absent in sessions
    /// stored before it was kept: then derived from the IdP's entityID
    /// ([`Federation::of_entity_id`]), which never grants an eIDAS key to an IdP outside
    /// the eIDAS node's hosts (fail closed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub federation: Option<Federation>,
    /// The tenant whose ACS created the session (`crate::tenants`), `None` for a
    /// single-SP integration. Checked on every read: a session is only good there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// The identity itself, for logins without SAML attributes (CNS: source `Cns`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<Identity>,
    /// The card of a CNS login (`cns` or `cie`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card: Option<String>,
    /// Where the identity came from when not SAML (an OpenID Connect login); absent for
    /// SAML sessions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<crate::identity::IdentitySource>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("idp", &self.data.info.idp)
            .field("level", &self.data.level)
            .field("created", &self.data.created)
            .field("expires", &self.data.expires)
            .field("identity", &self.identity)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// The session of a verified login, ending at `expires` or at the IdP's
    /// `SessionNotOnOrAfter`, whichever comes first.
    pub(crate) fn from_login(
        login: &VerifiedLogin,
        idp_name: Option<String>,
        now: Timestamp,
        expires: Timestamp,
    ) -> Session {
        let expires = match login.session_not_on_or_after() {
            Some(idp_limit) => expires.min(idp_limit),
            None => expires,
        };
        Session::from_data(SessionData {
            attributes: login.identity().attributes().clone(),
            level: login.level(),
            info: login.session().clone(),
            idp_name,
            authn_instant: login.authn_instant(),
            created: now,
            expires,
            federation: Some(login.federation()),
            tenant: None,
            identity: None,
            card: None,
            source: None,
        })
    }

    pub(crate) fn from_data(data: SessionData) -> Session {
        let federation = data
            .federation
            .unwrap_or_else(|| Federation::of_entity_id(data.info.idp.as_str()));
        let mut identity = match &data.identity {
            Some(identity) => identity.clone(),
            None => Identity::from_attributes(data.attributes.clone(), federation),
        };
        if let Some(source) = data.source {
            identity = identity.with_source(source);
        }
        Session { data, identity }
    }

    pub(crate) fn data(&self) -> &SessionData {
        &self.data
    }

    /// The verified identity.
    pub fn identity(&self) -> &Identity {
        &self.identity
    }
    /// The key permissions are granted on: the fiscal code, or the eIDAS identifier.
    pub fn key(&self) -> Option<&IdentityKey> {
        self.identity.key()
    }
    /// The level the IdP authenticated the user at.
    pub fn level(&self) -> SpidLevel {
        self.data.level
    }
    /// The IdP's entityID.
    pub fn idp(&self) -> &EntityId {
        &self.data.info.idp
    }
    /// The IdP's display name from its metadata, if any.
    pub fn idp_name(&self) -> Option<&str> {
        self.data.idp_name.as_deref()
    }
    /// The NameID and SessionIndex, for single logout.
    pub fn info(&self) -> &SessionInfo {
        &self.data.info
    }
    /// When the user authenticated at the IdP.
    pub fn authn_instant(&self) -> Option<Timestamp> {
        self.data.authn_instant
    }
    /// When the session was created at the SP.
    pub fn created(&self) -> Timestamp {
        self.data.created
    }
    /// When the session ends (never after the IdP's `SessionNotOnOrAfter`).
    pub fn expires(&self) -> Timestamp {
        self.data.expires
    }
    /// The card of a smart-card login ("Entra con CNS"): `Some(Cns)`, or `Some(Cie)` for
    /// a CIE card certificate accepted on the same path; `None` for SAML logins. The
    /// identity's [`Identity::source`] is then `IdentitySource::Cns`.
    pub fn card(&self) -> Option<crate::cns::CardKind> {
        match self.data.card.as_deref()? {
            "cns" => Some(crate::cns::CardKind::Cns),
            "cie" => Some(crate::cns::CardKind::Cie),
            _ => None,
        }
    }
    /// The federation of the IdP the user logged in with.
    pub fn federation(&self) -> Federation {
        self.data
            .federation
            .unwrap_or_else(|| Federation::of_entity_id(self.data.info.idp.as_str()))
    }
}

/// A session as the OpenID Connect callback stores it (src/axum/oidc.rs `callback`), for
/// the tests of code that reads sessions (the gateway's identity headers).
#[cfg(test)]
pub(crate) fn oidc_session_for_test(
    attributes: Attributes,
    iss: &str,
    sub: &str,
    level: SpidLevel,
    now: Timestamp,
) -> Session {
    Session::from_data(SessionData {
        attributes,
        level,
        info: SessionInfo {
            idp: EntityId::new(iss),
            name_id: crate::ids::NameId::new(sub),
            name_qualifier: iss.to_owned(),
            session_index: None,
        },
        idp_name: Some("CIE (OpenID Connect)".to_owned()),
        authn_instant: None,
        created: now,
        expires: now,
        federation: Some(Federation::Cie),
        source: Some(crate::identity::IdentitySource::Oidc),
        tenant: None,
        identity: None,
        card: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use base64::Engine as _;

    use crate::binding::Incoming;
    use crate::config::SpConfig;
    use crate::dsig::SigningKey;
    use crate::ids::{RelayState, RequestId};
    use crate::level::Comparison;
    use crate::metadata::IdentityProvider;
    use crate::sp::ServiceProvider;
    use crate::time::FixedClock;
    use crate::PendingLogin;

    fn data(path: &str) -> Vec<u8> {
        std::fs::read(format!("{}/tests/data/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    fn t(s: &str) -> Timestamp {
        Timestamp::parse(s).unwrap()
    }

    /// A response vector of tests/data verified as tests/vectors.rs does, the IdP being
    /// a member of `federation`.
    fn login(vector: &str, federation: Federation) -> VerifiedLogin {
        let key = SigningKey::from_pem(&data("keys/sp.key.pem"), &data("keys/sp.crt.pem")).unwrap();
        let config = SpConfig::builder("https://sp.test.example/spid", key)
            .assertion_consumer_service("https://sp.test.example/spid/acs")
            .attribute_service(0, "Test", &["fiscalNumber"])
            .build()
            .unwrap();
        let metadata = String::from_utf8(data("idp-metadata.xml")).unwrap();
        let idps = IdentityProvider::from_metadata(&metadata)
            .unwrap()
            .into_iter()
            .map(|i| i.with_federation(federation));
        let sp = ServiceProvider::new(config, idps)
            .unwrap()
            .with_clock(Arc::new(FixedClock(t("2026-01-15T10:00:10Z"))));
        let instant = t("2026-01-15T10:00:00.000Z");
        let pending = PendingLogin::from_parts(
            RequestId::new("_7d1f5ac0c8e9b6a4f2e1d3c5b7a9e8f60123456789"),
            EntityId::new("https://idp.test.example"),
            instant,
            instant.plus_seconds(3600),
            SpidLevel::L2,
            Comparison::Minimum,
            "https://sp.test.example/spid/acs",
            0,
            RelayState::new("rs"),
        );
        let incoming = Incoming::Post {
            message: base64::engine::general_purpose::STANDARD
                .encode(data(&format!("responses/{vector}"))),
            relay_state: Some("rs".into()),
        };
        sp.finish_login(&incoming, pending).unwrap()
    }

    #[test]
    fn session_ends_at_the_idp_session_limit() {
        let now = t("2026-01-15T10:00:10Z");
        let limited = login("valid-session-not-on-or-after.xml", Federation::Spid);
        // Eight hours asked, the IdP said 18:00: the session ends at 18:00.
        let s = Session::from_login(&limited, None, now, now.plus_seconds(8 * 3600));
        assert_eq!(s.expires(), t("2026-01-15T18:00:00Z"));
        // A shorter session is kept as it is.
        let s = Session::from_login(&limited, None, now, now.plus_seconds(600));
        assert_eq!(s.expires(), now.plus_seconds(600));
        // No SessionNotOnOrAfter: as asked.
        let plain = login("valid-both-signed.xml", Federation::Spid);
        let s = Session::from_login(&plain, None, now, now.plus_seconds(8 * 3600));
        assert_eq!(s.expires(), now.plus_seconds(8 * 3600));
    }

    /// A clock the test moves.
    struct Steps(std::sync::Mutex<Timestamp>);
    impl crate::time::Clock for Steps {
        fn now(&self) -> Timestamp {
            *self.0.lock().unwrap()
        }
    }

    #[test]
    fn idle_sessions_end() {
        use crate::axum::{hash, SpidAuth, SESSION_COOKIE};
        use ::axum::http::{header, HeaderMap, HeaderValue};

        let start = t("2026-01-15T10:00:10Z");
        let clock = Arc::new(Steps(std::sync::Mutex::new(start)));
        let set = |at: Timestamp| *clock.0.lock().unwrap() = at;
        let verified = login("valid-both-signed.xml", Federation::Spid);
        let sp = ServiceProvider::new(verified_config(), idps()).unwrap();
        let sp = sp.with_clock(clock.clone());
        let idle = 30 * 60;
        let auth = SpidAuth::builder(sp).build();
        assert_eq!(auth.inner.idle_secs, crate::axum::DEFAULT_SESSION_IDLE_SECS);
        assert_eq!(crate::axum::DEFAULT_SESSION_IDLE_SECS, idle);

        let token = "a".repeat(64);
        let mut headers = HeaderMap::new();
        let cookie = format!("__Host-{SESSION_COOKIE}={token}");
        headers.insert(header::COOKIE, HeaderValue::from_str(&cookie).unwrap());
        let store = |auth: &SpidAuth| {
            let s = Session::from_login(&verified, None, start, start.plus_seconds(8 * 3600));
            let json = serde_json::to_string(s.data()).unwrap();
            let key = format!("sess:{}", hash(&token));
            auth.inner
                .sessions
                .put(&key, &json, s.expires(), start)
                .unwrap();
        };
        store(&auth);

        // Used every 20 minutes: alive for two hours, past several idle periods.
        for minutes in (20..=120).step_by(20) {
            set(start.plus_seconds(minutes * 60));
            assert!(auth.session(&headers).unwrap().is_some(), "{minutes} min");
        }
        // Then 31 minutes without a request: gone, and stays gone.
        set(start.plus_seconds(120 * 60 + idle + 60));
        assert!(auth.session(&headers).unwrap().is_none());
        set(start.plus_seconds(120 * 60 + idle + 120));
        assert!(auth.session(&headers).unwrap().is_none());

        // Never used after the login: it ends `idle` after its creation.
        store(&auth);
        set(start.plus_seconds(idle - 1));
        let fresh = SpidAuth::builder(
            ServiceProvider::new(verified_config(), idps())
                .unwrap()
                .with_clock(clock.clone()),
        )
        .session_store(auth.inner.sessions.clone())
        .build();
        store(&fresh);
        assert!(fresh.session(&headers).unwrap().is_some());
        fresh
            .inner
            .sessions
            .remove(&format!("seen:{}", hash(&token)))
            .unwrap();
        set(start.plus_seconds(idle));
        assert!(fresh.session(&headers).unwrap().is_none());

        // A longer idle timeout is a builder option.
        let patient = SpidAuth::builder(
            ServiceProvider::new(verified_config(), idps())
                .unwrap()
                .with_clock(clock.clone()),
        )
        .session_idle_timeout_secs(4 * 3600)
        .build();
        store(&patient);
        set(start.plus_seconds(3 * 3600));
        assert!(patient.session(&headers).unwrap().is_some());
    }

    fn verified_config() -> SpConfig {
        let key = SigningKey::from_pem(&data("keys/sp.key.pem"), &data("keys/sp.crt.pem")).unwrap();
        SpConfig::builder("https://sp.test.example/spid", key)
            .assertion_consumer_service("https://sp.test.example/spid/acs")
            .attribute_service(0, "Test", &["fiscalNumber"])
            .build()
            .unwrap()
    }

    fn idps() -> Vec<IdentityProvider> {
        let metadata = String::from_utf8(data("idp-metadata.xml")).unwrap();
        IdentityProvider::from_metadata(&metadata).unwrap()
    }

    #[test]
    fn the_key_prints_as_text() {
        let now = t("2026-01-15T10:00:10Z");
        let login = login("valid-both-signed.xml", Federation::Spid);
        let s = Session::from_login(&login, None, now, now.plus_seconds(3600));
        let key = s.key().unwrap();
        assert_eq!(key.as_str(), "RSSMRA80A01H501U");
        assert_eq!(key.to_string(), "RSSMRA80A01H501U");
        assert_ne!(format!("{:?}", s.key()), "RSSMRA80A01H501U");
        // The handler the module docs and the README show prints the text, not `Debug`.
        for doc in [include_str!("mod.rs"), include_str!("../../README.md")] {
            assert!(!doc.contains("{:?} at {}\", session.key()"));
            assert!(doc.contains("session.key().map_or(\"(no key)\", |k| k.as_str())"));
        }
    }

    #[test]
    fn stored_session_keeps_the_federation_key_rules() {
        let now = t("2026-01-15T10:00:10Z");
        let eidas = login("valid-eidas-user.xml", Federation::Eidas);
        let s = Session::from_login(&eidas, None, now, now.plus_seconds(3600));
        assert_eq!(s.federation(), Federation::Eidas);
        let json = serde_json::to_string(s.data()).unwrap();
        assert!(json.contains("\"federation\":\"Eidas\""), "{json}");
        let back = Session::from_data(serde_json::from_str(&json).unwrap());
        assert_eq!(
            back.identity().eidas_id().map(|i| i.as_str()),
            Some("DE/IT/0123456789abcdef")
        );
        assert_eq!(back.key(), s.key());

        // Stored before the federation was kept: derived from the IdP's entityID, which
        // for this (SPID) IdP yields no eIDAS key (fail closed)...
        let mut old: serde_json::Value = serde_json::from_str(&json).unwrap();
        old.as_object_mut().unwrap().remove("federation");
        let back = Session::from_data(serde_json::from_value(old.clone()).unwrap());
        assert_eq!(back.federation(), Federation::Spid);
        assert_eq!(back.key(), None);
        assert_eq!(back.identity().spid_code(), Some("DE/IT/0123456789abcdef"));
        // ...while the eIDAS node's entityID keeps its eIDAS key.
        old["info"]["idp"] = "https://sp-proxy.eid.gov.it/spproxy/idpit".into();
        let back = Session::from_data(serde_json::from_value(old).unwrap());
        assert_eq!(back.federation(), Federation::Eidas);
        assert!(back.identity().eidas_id().is_some());

        // A SPID login keeps its fiscal-code key through the store.
        let spid = login("valid-both-signed.xml", Federation::Spid);
        let s = Session::from_login(&spid, None, now, now.plus_seconds(3600));
        let json = serde_json::to_string(s.data()).unwrap();
        let back = Session::from_data(serde_json::from_str(&json).unwrap());
        assert_eq!(back.federation(), Federation::Spid);
        assert_eq!(
            back.identity().fiscal_code().map(|c| c.as_str()),
            Some("RSSMRA80A01H501U")
        );
    }
}
