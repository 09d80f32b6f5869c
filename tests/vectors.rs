//! The response vectors in `tests/data/responses/` (see `tests/data/README.md`): each file's
//! expected outcome is in `manifest.tsv` — accepted, refused by the IdP (with its SPID
//! code) or rejected for one named reason ([`spid_sp::RejectReason::code`]).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use base64::Engine as _;
use spid_sp::metadata::IdentityProvider;
use spid_sp::{
    Comparison, EntityId, Federation, FixedClock, Incoming, LoginError, PendingLogin, RelayState,
    RequestId, ServiceProvider, SigningKey, SpConfig, SpidLevel, Timestamp, VerificationKey,
};

const DATA: &str = "tests/data";
const SP: &str = "https://sp.test.example/spid";
const ACS: &str = "https://sp.test.example/spid/acs";
const IDP: &str = "https://idp.test.example";
const REQUEST_ID: &str = "_7d1f5ac0c8e9b6a4f2e1d3c5b7a9e8f60123456789";
const REQUEST_INSTANT: &str = "2026-01-15T10:00:00.000Z";
const NOW: &str = "2026-01-15T10:00:10Z";

struct Vector {
    file: String,
    expect: String,
    options: BTreeMap<String, String>,
}

fn manifest() -> Vec<Vector> {
    let text = std::fs::read_to_string(format!("{DATA}/responses/manifest.tsv")).expect("manifest");
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            let options = cols
                .get(3)
                .map(|o| {
                    o.split(';')
                        .filter(|kv| !kv.trim().is_empty())
                        .filter_map(|kv| kv.split_once('='))
                        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                        .collect()
                })
                .unwrap_or_default();
            Vector {
                file: cols[0].trim().to_owned(),
                expect: cols.get(1).expect("expect column").trim().to_owned(),
                options,
            }
        })
        .collect()
}

fn read(path: &str) -> Vec<u8> {
    std::fs::read(Path::new(DATA).join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn service_provider(v: &Vector) -> ServiceProvider {
    let key = SigningKey::from_pem(&read("keys/sp.key.pem"), &read("keys/sp.crt.pem")).unwrap();
    let config = SpConfig::builder(SP, key)
        .assertion_consumer_service(ACS)
        .attribute_service(0, "Test", &["fiscalNumber", "name", "familyName"])
        .clock_skew_secs(60)
        .request_lifetime_secs(3600)
        .build()
        .unwrap();
    let mut idps = Vec::new();
    for f in ["idp-metadata.xml", "idp2-metadata.xml"] {
        let text = String::from_utf8(read(f)).unwrap();
        idps.extend(IdentityProvider::from_metadata(&text).unwrap());
    }
    if let Some(k) = v.options.get("extra_idp_key") {
        // The IdP's only key is this one (e.g. a weak 1024-bit key).
        let cert =
            VerificationKey::from_certificate_pem(&read(&format!("keys/{k}.crt.pem"))).unwrap();
        idps.retain(|i| i.entity_id().as_str() != IDP);
        idps.push(
            IdentityProvider::new(IDP, vec![cert])
                .with_sso(spid_sp::Binding::Post, format!("{IDP}/sso")),
        );
    }
    if v.options.get("federation").map(String::as_str) == Some("eidas") {
        // The IdP the request went to is registered as the Italian eIDAS node.
        let target = v.options.get("idp").map_or(IDP, String::as_str);
        idps = idps
            .into_iter()
            .map(|i| {
                if i.entity_id().as_str() == target {
                    i.with_federation(Federation::Eidas)
                } else {
                    i
                }
            })
            .collect();
    }
    let now = Timestamp::parse(v.options.get("now").map_or(NOW, String::as_str)).unwrap();
    ServiceProvider::new(config, idps)
        .expect("service provider")
        .with_clock(Arc::new(FixedClock(now)))
}

fn pending(v: &Vector) -> PendingLogin {
    let instant = Timestamp::parse(REQUEST_INSTANT).unwrap();
    let level = match v.options.get("level").map(String::as_str) {
        Some("L1") => SpidLevel::L1,
        Some("L3") => SpidLevel::L3,
        _ => SpidLevel::L2,
    };
    let comparison = v
        .options
        .get("comparison")
        .and_then(|c| Comparison::parse(c))
        .unwrap_or(Comparison::Minimum);
    PendingLogin::from_parts(
        RequestId::new(REQUEST_ID),
        EntityId::new(v.options.get("idp").map_or(IDP, String::as_str)),
        instant,
        instant.plus_seconds(3600),
        level,
        comparison,
        ACS,
        0,
        RelayState::new("rs"),
    )
}

fn outcome(result: &Result<spid_sp::VerifiedLogin, LoginError>) -> String {
    match result {
        Ok(_) => "accept".into(),
        Err(LoginError::Refused(r)) => match r.error_code() {
            Some(n) => format!("refuse:nr{n:02}"),
            None => "refuse:status".into(),
        },
        Err(LoginError::Rejected(reason)) => format!("reject:{}", reason.code()),
    }
}

/// The vector posted back with the RelayState of the pending request, verified.
fn finish(v: &Vector) -> Result<spid_sp::VerifiedLogin, LoginError> {
    let bytes = read(&format!("responses/{}", v.file));
    let incoming = Incoming::Post {
        message: base64::engine::general_purpose::STANDARD.encode(&bytes),
        relay_state: Some("rs".into()),
    };
    service_provider(v).finish_login(&incoming, pending(v))
}

#[test]
fn every_vector_has_its_expected_outcome() {
    let vectors = manifest();
    assert!(vectors.len() >= 100, "only {} vectors", vectors.len());
    let mut wrong = Vec::new();
    for v in &vectors {
        let got = outcome(&finish(v));
        if got != v.expect {
            wrong.push(format!("{}: expected {}, got {}", v.file, v.expect, got));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} vectors wrong:\n{}",
        wrong.len(),
        vectors.len(),
        wrong.join("\n")
    );
}

/// What the accepted rule vectors expose: SessionNotOnOrAfter, AuthnInstant, the federation
/// and the identity key it allows.
#[test]
fn accepted_vectors_expose_session_limit_instant_and_federation() {
    let vectors = manifest();
    let login = |file: &str| {
        let v = vectors.iter().find(|v| v.file == file).expect(file);
        finish(v).unwrap_or_else(|e| panic!("{file}: {e}"))
    };
    let t = |s: &str| Timestamp::parse(s).unwrap();

    let l = login("valid-session-not-on-or-after.xml");
    assert_eq!(l.session_not_on_or_after(), Some(t("2026-01-15T18:00:00Z")));
    assert_eq!(l.authn_instant(), Some(t("2026-01-15T10:00:01Z")));
    let l = login("valid-both-signed.xml");
    assert_eq!(l.session_not_on_or_after(), None);
    assert_eq!(l.federation(), Federation::Spid);
    assert_eq!(
        l.identity().fiscal_code().map(|c| c.as_str()),
        Some("RSSMRA80A01H501U")
    );

    let l = login("valid-eidas-user.xml");
    assert_eq!(l.federation(), Federation::Eidas);
    assert_eq!(
        l.identity().eidas_id().map(|i| i.as_str()),
        Some("DE/IT/0123456789abcdef")
    );
    // The same attributes from a SPID IdP: no identity key at all.
    let v = vectors
        .iter()
        .find(|v| v.file == "eidas-id-from-spid-idp.xml")
        .unwrap();
    assert_eq!(
        outcome(&finish(v)),
        "reject:identity-key-missing",
        "a SPID IdP's eIDAS-shaped spidCode"
    );

    let l = login("valid-custom-attribute-multivalued.xml");
    assert_eq!(
        l.identity().attributes().values("customRoles"),
        ["reader".to_owned(), "writer".to_owned()]
    );
}

#[test]
fn every_rejection_reason_of_a_response_has_a_vector() {
    let vectors = manifest();
    let codes: std::collections::BTreeSet<&str> = vectors
        .iter()
        .filter_map(|v| v.expect.strip_prefix("reject:"))
        .collect();
    for code in [
        "input-encoding",
        "xml-dtd",
        "xml-malformed",
        "xml-comment",
        "not-a-response",
        "duplicate-id",
        "misplaced-signature",
        "assertion-count",
        "schema-structure",
        "issuer-mismatch",
        "signature-malformed",
        "signature-algorithm",
        "signature-reference",
        "signature-transforms",
        "weak-key",
        "digest-mismatch",
        "signature-invalid",
        "assertion-unsigned",
        "response-status",
        "response-id",
        "response-version",
        "response-issue-instant",
        "response-expired",
        "response-in-response-to",
        "response-destination",
        "response-issuer",
        "response-issuer-format",
        // assertion-id: unreachable behind the mandatory Assertion signature (a reference
        // cannot point at an empty or missing ID: those vectors fail signature-reference).
        "assertion-version",
        "assertion-issue-instant",
        "assertion-expired",
        "assertion-issuer",
        "assertion-issuer-format",
        "subject",
        "name-id",
        "name-id-format",
        "name-id-qualifier",
        "subject-confirmation",
        "subject-confirmation-data",
        "recipient",
        "subject-in-response-to",
        "subject-not-on-or-after",
        "subject-not-before",
        "conditions",
        "conditions-not-before",
        "conditions-not-on-or-after",
        "audience",
        "condition-unsupported",
        "authn-statement",
        "authn-context",
        "authn-level",
        "authn-instant",
        "session-not-on-or-after",
        "attribute-statement",
        "attribute-value",
        "attribute-duplicate",
        "identity-key-missing",
    ] {
        assert!(codes.contains(code), "no vector for {code}");
    }
}
