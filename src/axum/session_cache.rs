//! Parsed sessions, per session token: a request that carries a session cookie reads the
//! session store as before, and when the stored record is byte for byte the one parsed last
//! time for this token, the parsed [`Session`] is reused instead of parsing the JSON and
//! rebuilding the identity again.
//!
//! The cache never decides anything: the store is read on every request (a logout, an
//! expiry or a removal on another process is seen at once: no record, no session), and the
//! checks that follow (tenant, expiry, idle timeout) run on every request. An entry is only
//! a memo of `parse(record)` for the exact record the store returned; it is dropped when the
//! store has no record for its token, and the map is bounded (expired entries go first,
//! then the whole map).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::session::{Session, SessionData};
use crate::time::Timestamp;

/// Most sessions kept parsed; past it expired entries are swept, then the map starts over.
const CAPACITY: usize = 10_000;

/// Parsed sessions by token hash (the store's key), with the record they were parsed from.
#[derive(Debug, Default)]
pub(super) struct ParsedSessions {
    map: Mutex<HashMap<String, (String, Arc<Session>)>>,
}

impl ParsedSessions {
    /// The session parsed from `record` (the store's current record for `token_hash`):
    /// the memo when it was parsed from this very record, else `parse(record)`, kept.
    /// `None` when `parse` refuses the record.
    pub(super) fn get_or_parse(
        &self,
        token_hash: &str,
        record: String,
        now: Timestamp,
        parse: impl FnOnce(&str) -> Option<SessionData>,
    ) -> Option<Arc<Session>> {
        if let Ok(map) = self.map.lock() {
            if let Some((seen, session)) = map.get(token_hash) {
                if *seen == record {
                    return Some(session.clone());
                }
            }
        }
        let session = Arc::new(Session::from_data(parse(&record)?));
        if let Ok(mut map) = self.map.lock() {
            if map.len() >= CAPACITY {
                map.retain(|_, (_, s)| s.data().expires > now);
                if map.len() >= CAPACITY {
                    map.clear();
                }
            }
            map.insert(token_hash.to_owned(), (record, session.clone()));
        }
        Some(session)
    }

    /// Forgets the token's entry (the store has no record for it any more).
    pub(super) fn forget(&self, token_hash: &str) {
        if let Ok(mut map) = self.map.lock() {
            map.remove(token_hash);
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.map.lock().map(|m| m.len()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(expires: i64) -> String {
        let data = SessionData {
            attributes: crate::identity::Attributes::default(),
            level: crate::level::SpidLevel::L2,
            info: crate::sp::SessionInfo {
                idp: crate::ids::EntityId::new("https://idp.example/"),
                name_id: crate::ids::NameId::new("n"),
                name_qualifier: "https://idp.example/".into(),
                session_index: None,
            },
            idp_name: None,
            authn_instant: None,
            created: Timestamp::from_unix_seconds(1_000),
            expires: Timestamp::from_unix_seconds(expires),
            federation: None,
            tenant: None,
            identity: None,
            card: None,
            source: None,
        };
        serde_json::to_string(&data).unwrap()
    }

    fn parse(json: &str) -> Option<SessionData> {
        serde_json::from_str(json).ok()
    }

    #[test]
    fn reused_only_for_the_same_record() {
        let c = ParsedSessions::default();
        let now = Timestamp::from_unix_seconds(2_000);
        let a = c.get_or_parse("h1", record(9_000), now, parse).unwrap();
        let b = c.get_or_parse("h1", record(9_000), now, parse).unwrap();
        assert!(Arc::ptr_eq(&a, &b), "same record: parsed once");
        let mut parsed_again = false;
        let d = c
            .get_or_parse("h1", record(9_500), now, |j| {
                parsed_again = true;
                parse(j)
            })
            .unwrap();
        assert!(parsed_again, "another record: parsed again");
        assert_eq!(d.data().expires, Timestamp::from_unix_seconds(9_500));
        assert!(c.get_or_parse("h1", "{".into(), now, parse).is_none());
        c.forget("h1");
        assert_eq!(c.len(), 0);
    }

    #[test]
    fn bounded() {
        let c = ParsedSessions::default();
        let now = Timestamp::from_unix_seconds(2_000);
        for i in 0..CAPACITY {
            // Half of them expired.
            let exp = if i % 2 == 0 { 1_500 } else { 9_000 };
            c.get_or_parse(&format!("h{i}"), record(exp), now, parse);
        }
        assert_eq!(c.len(), CAPACITY);
        c.get_or_parse("new", record(9_000), now, parse);
        assert_eq!(c.len(), CAPACITY / 2 + 1, "the expired ones went first");
    }
}
