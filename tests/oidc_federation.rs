//! OpenID Federation of the `oidc` module against a synthetic federation built here:
//! trust anchor (TA) → intermediate (INT) → OP, and a trust-mark issuer (TMI) under the
//! TA. Every failure is named by its code.
#![cfg(feature = "oidc")]

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};

use serde_json::{json, Map, Value};
use spid_sp::oidc::{
    resolve_trust_chain, ChainOptions, EntityStatement, FederationFetcher, Jwks, OidcError,
    PrivateJwk, StatementDraft, TrustAnchor, TrustChainCache, TrustMarkDraft, TrustMarkRef,
    TrustMarkRequirement,
};
use spid_sp::Timestamp;

const TA: &str = "https://ta.example";
const INT: &str = "https://int.example";
const OP: &str = "https://op.example";
const TMI: &str = "https://tmi.example";
const MARK: &str = "https://ta.example/openid_provider/public";
const NOW: i64 = 1_780_000_000;

fn now() -> Timestamp {
    Timestamp::from_unix_seconds(NOW)
}

fn obj(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

fn set(key: &PrivateJwk) -> Jwks {
    Jwks::from_keys(vec![key.public_jwk().unwrap()]).unwrap()
}

/// Serves the documents of the federation from a map (the core does no I/O).
#[derive(Default)]
struct MapFetcher {
    docs: RefCell<HashMap<String, String>>,
    log: RefCell<Vec<String>>,
}

impl FederationFetcher for MapFetcher {
    fn fetch(&self, url: &str) -> Result<String, String> {
        self.log.borrow_mut().push(url.to_owned());
        self.docs
            .borrow()
            .get(url)
            .cloned()
            .ok_or_else(|| "404".to_owned())
    }
}

fn ec_url(id: &str) -> String {
    format!("{id}/.well-known/openid-federation")
}

fn fetch_url(issuer: &str, sub: &str) -> String {
    let enc: String = sub
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    format!("{issuer}/fetch?sub={enc}")
}

struct Fed {
    ta: PrivateJwk,
    int: PrivateJwk,
    op: PrivateJwk,
    tmi: PrivateJwk,
    fetcher: MapFetcher,
}

fn federation_entity(id: &str) -> Value {
    json!({"federation_entity": {"federation_fetch_endpoint": format!("{id}/fetch"),
                                 "organization_name": "test"}})
}

fn op_metadata() -> Value {
    json!({
        "issuer": OP,
        "authorization_endpoint": format!("{OP}/authorization"),
        "token_endpoint": format!("{OP}/token"),
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256", "HS256"],
        "id_token_encryption_alg_values_supported": ["RSA-OAEP"]
    })
}

impl Fed {
    fn new() -> Fed {
        let fed = Fed {
            ta: PrivateJwk::generate_p256().unwrap(),
            int: PrivateJwk::generate_p256().unwrap(),
            op: PrivateJwk::generate_rsa(2048).unwrap(),
            tmi: PrivateJwk::generate_p256().unwrap(),
            fetcher: MapFetcher::default(),
        };
        fed.publish_all();
        fed
    }

    fn put(&self, url: String, jwt: String) {
        self.fetcher.docs.borrow_mut().insert(url, jwt);
    }

    fn draft(&self, iss: &str, sub: &str, jwks: Jwks) -> StatementDraft {
        StatementDraft::new(iss, sub, now().plus_seconds(-60), 3600, jwks)
    }

    fn trust_mark(&self, key: &PrivateJwk, iss: &str, sub: &str, exp: Option<i64>) -> String {
        TrustMarkDraft {
            id: MARK.into(),
            iss: iss.into(),
            sub: sub.into(),
            iat: NOW - 60,
            exp,
            extra: Map::new(),
        }
        .sign(key)
        .unwrap()
    }

    fn op_configuration(&self, key: &PrivateJwk, marks: Vec<TrustMarkRef>) -> String {
        let mut d = self.draft(OP, OP, set(key));
        d.authority_hints = vec![INT.into()];
        let mut md = obj(federation_entity(OP));
        md.insert("openid_provider".into(), op_metadata());
        d.metadata = md;
        d.trust_marks = marks;
        d.sign(key).unwrap()
    }

    fn good_mark(&self) -> Vec<TrustMarkRef> {
        vec![TrustMarkRef {
            id: MARK.into(),
            trust_mark: self.trust_mark(&self.tmi, TMI, OP, Some(NOW + 3600)),
        }]
    }

    fn int_about_op(&self, jwks: Jwks) -> StatementDraft {
        let mut d = self.draft(INT, OP, jwks);
        d.metadata_policy = obj(json!({"openid_provider": {
            "scopes_supported": {"subset_of": ["openid", "profile", "offline_access"]},
            "id_token_signing_alg_values_supported": {"subset_of": ["RS256", "ES256", "PS256"]}
        }}));
        d
    }

    fn ta_about_int(&self) -> StatementDraft {
        let mut d = self.draft(TA, INT, set(&self.int));
        d.metadata_policy = obj(json!({"openid_provider": {
            "token_endpoint_auth_methods_supported": {"superset_of": ["private_key_jwt"]},
            "scopes_supported": {"superset_of": ["openid"]},
            "client_registration_types_supported": {"default": ["automatic"]}
        }}));
        d
    }

    fn publish_all(&self) {
        // Trust anchor.
        let mut d = self.draft(TA, TA, set(&self.ta));
        d.metadata = obj(federation_entity(TA));
        d.trust_mark_issuers =
            BTreeMap::from([(MARK.to_owned(), vec![TA.to_owned(), TMI.to_owned()])]);
        self.put(ec_url(TA), d.sign(&self.ta).unwrap());
        self.put(
            fetch_url(TA, INT),
            self.ta_about_int().sign(&self.ta).unwrap(),
        );
        self.put(
            fetch_url(TA, TMI),
            self.draft(TA, TMI, set(&self.tmi)).sign(&self.ta).unwrap(),
        );
        // Intermediate.
        let mut d = self.draft(INT, INT, set(&self.int));
        d.authority_hints = vec![TA.into()];
        d.metadata = obj(federation_entity(INT));
        self.put(ec_url(INT), d.sign(&self.int).unwrap());
        self.put(
            fetch_url(INT, OP),
            self.int_about_op(set(&self.op)).sign(&self.int).unwrap(),
        );
        // Trust-mark issuer.
        let mut d = self.draft(TMI, TMI, set(&self.tmi));
        d.authority_hints = vec![TA.into()];
        d.metadata = obj(federation_entity(TMI));
        self.put(ec_url(TMI), d.sign(&self.tmi).unwrap());
        // OP.
        self.put(
            ec_url(OP),
            self.op_configuration(&self.op, self.good_mark()),
        );
    }

    fn anchors(&self) -> Vec<TrustAnchor> {
        vec![TrustAnchor {
            entity_id: TA.into(),
            jwks: set(&self.ta),
        }]
    }

    fn resolve(&self) -> Result<spid_sp::oidc::TrustChain, OidcError> {
        self.resolve_with(&ChainOptions::default())
    }

    fn resolve_with(&self, opts: &ChainOptions) -> Result<spid_sp::oidc::TrustChain, OidcError> {
        self.resolve_against(&self.anchors(), opts)
    }

    /// The OP's chain to one of `anchors` (instead of the federation's own).
    fn resolve_against(
        &self,
        anchors: &[TrustAnchor],
        opts: &ChainOptions,
    ) -> Result<spid_sp::oidc::TrustChain, OidcError> {
        resolve_trust_chain(OP, "openid_provider", anchors, &self.fetcher, now(), opts)
    }
}

fn code<T: std::fmt::Debug>(r: Result<T, OidcError>) -> &'static str {
    r.unwrap_err().code()
}

#[test]
fn resolves_op_through_intermediate_with_policy_and_trust_mark() {
    let fed = Fed::new();
    let chain = fed.resolve().unwrap();
    assert_eq!(chain.entity_id(), OP);
    assert_eq!(chain.statements.len(), 3);
    assert_eq!(chain.anchor.sub, TA);
    assert_eq!(chain.jwts().len(), 4);
    assert_eq!(chain.exp, NOW - 60 + 3600);
    // Policy: subset_of merged (INT ∩ TA), default added, superset_of checked.
    assert_eq!(
        chain.metadata["scopes_supported"],
        json!(["openid", "profile", "offline_access"])
    );
    assert_eq!(
        chain.metadata["id_token_signing_alg_values_supported"],
        json!(["RS256", "ES256"])
    );
    assert_eq!(
        chain.metadata["client_registration_types_supported"],
        json!(["automatic"])
    );
    assert_eq!(chain.trust_marks.len(), 1);
    assert_eq!(chain.trust_marks[0].iss, TMI);
    assert_eq!(
        chain.leaf_federation_jwks().unwrap().keys()[0].kid(),
        fed.op.kid()
    );
}

#[test]
fn trust_mark_issued_by_the_anchor_itself() {
    let fed = Fed::new();
    let marks = vec![TrustMarkRef {
        id: MARK.into(),
        trust_mark: fed.trust_mark(&fed.ta, TA, OP, None),
    }];
    fed.put(ec_url(OP), fed.op_configuration(&fed.op, marks));
    let chain = fed.resolve().unwrap();
    assert_eq!(chain.trust_marks[0].iss, TA);
}

#[test]
fn expired_statement() {
    let fed = Fed::new();
    let mut d = fed.int_about_op(set(&fed.op));
    d.iat = NOW - 7200;
    d.exp = NOW - 3600;
    fed.put(fetch_url(INT, OP), d.sign(&fed.int).unwrap());
    assert_eq!(code(fed.resolve()), "oidc_expired");
}

#[test]
fn issued_in_the_future() {
    let fed = Fed::new();
    let mut d = fed.ta_about_int();
    d.iat = NOW + 3600;
    d.exp = NOW + 7200;
    fed.put(fetch_url(TA, INT), d.sign(&fed.ta).unwrap());
    assert_eq!(code(fed.resolve()), "oidc_issued_in_future");
}

#[test]
fn bad_signature_on_a_subordinate_statement() {
    let fed = Fed::new();
    let forger = PrivateJwk::generate_p256().unwrap().with_kid(fed.int.kid());
    fed.put(
        fetch_url(INT, OP),
        fed.int_about_op(set(&fed.op)).sign(&forger).unwrap(),
    );
    assert_eq!(code(fed.resolve()), "oidc_bad_signature");
}

#[test]
fn leaf_keys_come_from_the_superior_not_from_the_leaf() {
    // An attacker serves an OP configuration self-signed with its own key: the
    // intermediate's statement does not carry that key.
    let fed = Fed::new();
    let evil = PrivateJwk::generate_rsa(2048).unwrap();
    fed.put(ec_url(OP), fed.op_configuration(&evil, fed.good_mark()));
    assert_eq!(code(fed.resolve()), "oidc_unknown_key");
}

#[test]
fn wrong_sub() {
    let fed = Fed::new();
    let d = fed.draft(INT, "https://other.example", set(&fed.op));
    fed.put(fetch_url(INT, OP), d.sign(&fed.int).unwrap());
    assert_eq!(code(fed.resolve()), "oidc_chain_broken_link");
}

#[test]
fn wrong_typ() {
    let fed = Fed::new();
    let claims = fed.int_about_op(set(&fed.op)).to_claims();
    let jwt = spid_sp::oidc::jws::sign_claims(
        &claims,
        &fed.int,
        spid_sp::oidc::jws::JwsAlg::Es256,
        Some("JWT"),
    )
    .unwrap();
    fed.put(fetch_url(INT, OP), jwt);
    assert_eq!(code(fed.resolve()), "oidc_wrong_typ");
}

#[test]
fn loop_in_authority_hints() {
    let fed = Fed::new();
    let mut d = fed.draft(INT, INT, set(&fed.int));
    d.authority_hints = vec![OP.into()];
    d.metadata = obj(federation_entity(INT));
    fed.put(ec_url(INT), d.sign(&fed.int).unwrap());
    assert_eq!(code(fed.resolve()), "oidc_chain_loop");
}

#[test]
fn too_deep() {
    let fed = Fed::new();
    let opts = ChainOptions {
        max_depth: 1,
        ..ChainOptions::default()
    };
    assert_eq!(code(fed.resolve_with(&opts)), "oidc_chain_too_deep");
    let opts = ChainOptions {
        max_fetches: 3,
        ..ChainOptions::default()
    };
    assert_eq!(code(fed.resolve_with(&opts)), "oidc_chain_too_deep");
}

#[test]
fn unknown_trust_anchor() {
    let fed = Fed::new();
    let other = PrivateJwk::generate_p256().unwrap();
    let anchors = vec![TrustAnchor {
        entity_id: "https://other-ta.example".into(),
        jwks: set(&other),
    }];
    let r = fed.resolve_against(&anchors, &ChainOptions::default());
    assert_eq!(code(r), "oidc_unknown_trust_anchor");
}

#[test]
fn anchor_keys_are_pinned() {
    let fed = Fed::new();
    let anchors = vec![TrustAnchor {
        entity_id: TA.into(),
        jwks: set(&PrivateJwk::generate_p256().unwrap()),
    }];
    let r = fed.resolve_against(&anchors, &ChainOptions::default());
    assert_eq!(code(r), "oidc_unknown_key");
}

#[test]
fn fetch_failure() {
    let fed = Fed::new();
    fed.fetcher.docs.borrow_mut().remove(&fetch_url(INT, OP));
    assert_eq!(code(fed.resolve()), "oidc_fetch_failed");
}

#[test]
fn policy_violation() {
    let fed = Fed::new();
    let mut d = fed.ta_about_int();
    d.metadata_policy = obj(json!({"openid_provider": {
        "token_endpoint_auth_methods_supported": {"superset_of": ["private_key_jwt", "tls_client_auth"]}
    }}));
    fed.put(fetch_url(TA, INT), d.sign(&fed.ta).unwrap());
    assert_eq!(code(fed.resolve()), "oidc_policy_violation");
}

#[test]
fn policy_conflict_between_superiors() {
    let fed = Fed::new();
    let mut d = fed.ta_about_int();
    d.metadata_policy = obj(json!({"openid_provider": {"issuer": {"value": "https://a.example"}}}));
    fed.put(fetch_url(TA, INT), d.sign(&fed.ta).unwrap());
    let mut d = fed.int_about_op(set(&fed.op));
    d.metadata_policy = obj(json!({"openid_provider": {"issuer": {"value": "https://b.example"}}}));
    fed.put(fetch_url(INT, OP), d.sign(&fed.int).unwrap());
    assert_eq!(code(fed.resolve()), "oidc_policy_conflict");
}

#[test]
fn no_metadata_for_the_entity_type() {
    let fed = Fed::new();
    let r = resolve_trust_chain(
        OP,
        "openid_relying_party",
        &fed.anchors(),
        &fed.fetcher,
        now(),
        &ChainOptions::default(),
    );
    assert_eq!(code(r), "oidc_no_metadata");
}

#[test]
fn missing_trust_mark() {
    let fed = Fed::new();
    fed.put(ec_url(OP), fed.op_configuration(&fed.op, vec![]));
    assert_eq!(code(fed.resolve()), "oidc_trust_mark_missing");
    // Without the requirement (not the SPID/CIE profile) the chain resolves.
    let opts = ChainOptions {
        trust_marks: TrustMarkRequirement::None,
        ..ChainOptions::default()
    };
    assert!(fed.resolve_with(&opts).is_ok());
    // A required id the OP does not hold.
    fed.publish_all();
    let opts = ChainOptions {
        trust_marks: TrustMarkRequirement::AnyOf(vec!["https://ta.example/other".into()]),
        ..ChainOptions::default()
    };
    assert_eq!(code(fed.resolve_with(&opts)), "oidc_trust_mark_missing");
}

#[test]
fn trust_mark_from_an_unlisted_issuer() {
    let fed = Fed::new();
    let marks = vec![TrustMarkRef {
        id: MARK.into(),
        trust_mark: fed.trust_mark(&fed.int, INT, OP, Some(NOW + 3600)),
    }];
    fed.put(ec_url(OP), fed.op_configuration(&fed.op, marks));
    assert_eq!(code(fed.resolve()), "oidc_trust_mark_issuer_unlisted");
}

#[test]
fn invalid_trust_marks() {
    let fed = Fed::new();
    for (mark, why) in [
        (
            fed.trust_mark(&fed.tmi, TMI, "https://other.example", Some(NOW + 3600)),
            "other sub",
        ),
        (
            fed.trust_mark(&fed.tmi, TMI, OP, Some(NOW - 3600)),
            "expired",
        ),
        (
            fed.trust_mark(
                &PrivateJwk::generate_p256().unwrap().with_kid(fed.tmi.kid()),
                TMI,
                OP,
                None,
            ),
            "forged",
        ),
    ] {
        let marks = vec![TrustMarkRef {
            id: MARK.into(),
            trust_mark: mark,
        }];
        fed.put(ec_url(OP), fed.op_configuration(&fed.op, marks));
        assert_eq!(code(fed.resolve()), "oidc_trust_mark_invalid", "{why}");
    }
    // The entry's id differs from the mark's id.
    let marks = vec![TrustMarkRef {
        id: "https://ta.example/other".into(),
        trust_mark: fed.trust_mark(&fed.tmi, TMI, OP, None),
    }];
    fed.put(ec_url(OP), fed.op_configuration(&fed.op, marks));
    assert!(fed.resolve().is_err());
}

#[test]
fn key_rollover_through_the_superior_and_the_cache() {
    let fed = Fed::new();
    let cache = TrustChainCache::new(8);
    let anchors = fed.anchors();
    let opts = ChainOptions::default();
    let first = cache
        .resolve(OP, "openid_provider", &anchors, &fed.fetcher, now(), &opts)
        .unwrap();
    // The OP rolls its federation key; until INT publishes the new key, the new
    // configuration does not verify.
    let new_key = PrivateJwk::generate_rsa(2048).unwrap();
    fed.put(ec_url(OP), fed.op_configuration(&new_key, fed.good_mark()));
    let fetched = fed.fetcher.log.borrow().len();
    let cached = cache
        .resolve(OP, "openid_provider", &anchors, &fed.fetcher, now(), &opts)
        .unwrap();
    assert_eq!(
        fed.fetcher.log.borrow().len(),
        fetched,
        "served from the cache"
    );
    assert_eq!(cached.exp, first.exp);
    cache.invalidate(OP);
    assert!(cache.is_empty());
    let r = cache.resolve(OP, "openid_provider", &anchors, &fed.fetcher, now(), &opts);
    assert_eq!(code(r), "oidc_unknown_key");
    // INT's statement now carries both keys (rollover period).
    let both = Jwks::from_keys(vec![
        fed.op.public_jwk().unwrap(),
        new_key.public_jwk().unwrap(),
    ])
    .unwrap();
    fed.put(
        fetch_url(INT, OP),
        fed.int_about_op(both).sign(&fed.int).unwrap(),
    );
    let rolled = cache
        .resolve(OP, "openid_provider", &anchors, &fed.fetcher, now(), &opts)
        .unwrap();
    assert_eq!(rolled.leaf().unwrap().jwks.keys()[0].kid(), new_key.kid());
    // TTL: past the chain's exp the entry is gone.
    let later = Timestamp::from_unix_seconds(rolled.exp + 1);
    assert!(cache.get(OP, "openid_provider", later).is_none());
}

#[test]
fn cache_is_bounded_lru() {
    let fed = Fed::new();
    let chain = fed.resolve().unwrap();
    let cache = TrustChainCache::new(2);
    let mut a = chain.clone();
    a.statements[0].sub = "https://a.example".into();
    let mut b = chain.clone();
    b.statements[0].sub = "https://b.example".into();
    let mut c = chain;
    c.statements[0].sub = "https://c.example".into();
    cache.insert(a, now());
    cache.insert(b, now());
    assert!(cache
        .get("https://a.example", "openid_provider", now())
        .is_some()); // a is fresher
    cache.insert(c, now());
    assert_eq!(cache.len(), 2);
    assert!(cache
        .get("https://b.example", "openid_provider", now())
        .is_none());
    assert!(cache
        .get("https://a.example", "openid_provider", now())
        .is_some());
    assert!(cache
        .get("https://c.example", "openid_provider", now())
        .is_some());
}

#[test]
fn entity_statement_decoding() {
    let fed = Fed::new();
    let jwt = fed.fetcher.docs.borrow()[&ec_url(TA)].clone();
    let st = EntityStatement::verify_self_signed(&jwt, now(), 60).unwrap();
    assert!(st.is_configuration());
    assert_eq!(st.fetch_endpoint(), Some("https://ta.example/fetch"));
    assert_eq!(
        st.trust_mark_issuers[MARK],
        vec![TA.to_owned(), TMI.to_owned()]
    );
    let later = Timestamp::from_unix_seconds(NOW + 7200);
    assert_eq!(
        code(EntityStatement::verify_self_signed(&jwt, later, 60)),
        "oidc_expired"
    );
    let sub = fed.fetcher.docs.borrow()[&fetch_url(TA, INT)].clone();
    assert_eq!(
        code(EntityStatement::verify_self_signed(&sub, now(), 60)),
        "oidc_chain_broken_link"
    );
}

/// The HTTPS fetcher (feature `refresh`) against a one-shot loopback server: plain http
/// only to loopback and only when allowed, bodies above 64 KiB refused.
#[cfg(feature = "refresh")]
#[test]
fn http_fetcher_loopback_and_limits() {
    use spid_sp::oidc::HttpFederationFetcher;
    use std::io::{Read, Write};
    use std::net::TcpListener;
    use std::time::Duration;

    let fed = Fed::new();
    let body = fed.fetcher.docs.borrow()[&ec_url(TA)].clone();
    let big = "A".repeat(70 * 1024);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let bodies = vec![body.clone(), big];
    let server = std::thread::spawn(move || {
        for b in bodies {
            let (mut s, _) = listener.accept().unwrap();
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf).unwrap();
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/entity-statement+jwt\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                b.len()
            );
            s.write_all(head.as_bytes()).unwrap();
            s.write_all(b.as_bytes()).unwrap();
        }
    });
    let url = format!("http://127.0.0.1:{port}/.well-known/openid-federation");
    let strict = HttpFederationFetcher::new(Duration::from_secs(10));
    assert!(strict.fetch(&url).is_err(), "plain http refused by default");
    let fetcher = strict.allow_plain_http_loopback();
    let got = fetcher.fetch(&url).unwrap();
    assert_eq!(got, body);
    assert!(EntityStatement::verify_self_signed(&got, now(), 60).is_ok());
    assert!(fetcher.fetch(&url).is_err(), "body above 64 KiB");
    assert!(fetcher
        .fetch("http://ta.example/.well-known/openid-federation")
        .is_err());
    server.join().unwrap();
}

/// Two authority hints: a broken path (forged statement under INT) does not hide a good
/// one (through INT2); with both broken, the last path's error is reported.
#[test]
fn a_broken_path_does_not_hide_a_good_one() {
    const INT2: &str = "https://int2.example";
    let fed = Fed::new();
    let int2 = PrivateJwk::generate_p256().unwrap();
    fed.put(
        fetch_url(TA, INT2),
        fed.draft(TA, INT2, set(&int2)).sign(&fed.ta).unwrap(),
    );
    let mut d = fed.draft(INT2, INT2, set(&int2));
    d.authority_hints = vec![TA.into()];
    d.metadata = obj(federation_entity(INT2));
    fed.put(ec_url(INT2), d.sign(&int2).unwrap());
    fed.put(
        fetch_url(INT2, OP),
        fed.draft(INT2, OP, set(&fed.op)).sign(&int2).unwrap(),
    );
    let mut d = fed.draft(OP, OP, set(&fed.op));
    d.authority_hints = vec![INT.into(), INT2.into()];
    let mut md = obj(federation_entity(OP));
    md.insert("openid_provider".into(), op_metadata());
    d.metadata = md;
    d.trust_marks = fed.good_mark();
    fed.put(ec_url(OP), d.sign(&fed.op).unwrap());
    let forger = PrivateJwk::generate_p256().unwrap().with_kid(fed.int.kid());
    fed.put(
        fetch_url(INT, OP),
        fed.int_about_op(set(&fed.op)).sign(&forger).unwrap(),
    );
    let chain = fed.resolve().unwrap();
    assert_eq!(chain.statements[1].iss, INT2);
    // INT2 path broken too (expired): the last error is reported.
    let mut d = fed.draft(INT2, OP, set(&fed.op));
    d.iat = NOW - 7200;
    d.exp = NOW - 3600;
    fed.put(fetch_url(INT2, OP), d.sign(&int2).unwrap());
    assert_eq!(code(fed.resolve()), "oidc_expired");
}

/// OpenID Federation 1.0 "Metadata Policy Example" (tests/data/oidc, source in
/// SOURCES.md): the spec's Trust Anchor and Intermediate policies merge into the spec's
/// merged policy, and a chain TA → Intermediate → RP carrying them (the Intermediate's
/// `metadata` included) resolves the Leaf's metadata to the spec's result.
#[test]
fn openid_federation_spec_metadata_policy_example() {
    const RP: &str = "https://rp.example.org";
    let v: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/oidc/openid-federation-1.0-metadata-policy-example.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let rp_type = "openid_relying_party";
    let ta_policy = obj(v["trust_anchor_metadata_policy"][rp_type].clone());
    let int_policy = obj(v["intermediate_statement"]["metadata_policy"][rp_type].clone());

    // Merging, on its own: the spec's merged policy (compared as JSON: member order of
    // objects does not matter, array order does).
    let merged = spid_sp::oidc::combine_policies(&ta_policy, &int_policy).unwrap();
    assert_eq!(Value::Object(merged), v["merged_metadata_policy"]);

    // Through a signed chain.
    let ta = PrivateJwk::generate_p256().unwrap();
    let int = PrivateJwk::generate_p256().unwrap();
    let rp = PrivateJwk::generate_rsa(2048).unwrap();
    let fetcher = MapFetcher::default();
    let put = |url: String, jwt: String| fetcher.docs.borrow_mut().insert(url, jwt);
    let draft = |iss: &str, sub: &str, jwks: Jwks| {
        StatementDraft::new(iss, sub, now().plus_seconds(-60), 3600, jwks)
    };
    let mut d = draft(TA, TA, set(&ta));
    d.metadata = obj(federation_entity(TA));
    put(ec_url(TA), d.sign(&ta).unwrap());
    let mut d = draft(TA, INT, set(&int));
    d.metadata_policy = obj(v["trust_anchor_metadata_policy"].clone());
    put(fetch_url(TA, INT), d.sign(&ta).unwrap());
    let mut d = draft(INT, INT, set(&int));
    d.authority_hints = vec![TA.into()];
    d.metadata = obj(federation_entity(INT));
    put(ec_url(INT), d.sign(&int).unwrap());
    let mut d = draft(INT, RP, set(&rp));
    d.metadata_policy = obj(v["intermediate_statement"]["metadata_policy"].clone());
    d.metadata = obj(v["intermediate_statement"]["metadata"].clone());
    put(fetch_url(INT, RP), d.sign(&int).unwrap());
    let mut d = draft(RP, RP, set(&rp));
    d.authority_hints = vec![INT.into()];
    d.metadata = obj(v["leaf_metadata"].clone());
    put(ec_url(RP), d.sign(&rp).unwrap());

    let anchors = vec![TrustAnchor {
        entity_id: TA.into(),
        jwks: set(&ta),
    }];
    let opts = ChainOptions {
        trust_marks: TrustMarkRequirement::None,
        ..ChainOptions::default()
    };
    let chain = resolve_trust_chain(RP, rp_type, &anchors, &fetcher, now(), &opts).unwrap();
    assert_eq!(
        Value::Object(chain.metadata.clone()),
        v["resolved_metadata"]
    );

    // The same leaf declaring a method the merged one_of excludes is refused.
    let mut bad = obj(v["leaf_metadata"].clone());
    bad[rp_type]["token_endpoint_auth_method"] = json!("private_key_jwt");
    let mut d = draft(RP, RP, set(&rp));
    d.authority_hints = vec![INT.into()];
    d.metadata = bad;
    put(ec_url(RP), d.sign(&rp).unwrap());
    assert_eq!(
        code(resolve_trust_chain(
            RP,
            rp_type,
            &anchors,
            &fetcher,
            now(),
            &opts
        )),
        "oidc_policy_violation"
    );
}
