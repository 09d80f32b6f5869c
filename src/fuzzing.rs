//! Test and fuzzing hooks, not an API: hidden from the docs, behind the `fuzzing` cargo
//! feature, and free to change with any release.
//!
//! Entry points shared by the fuzz targets (`fuzz/fuzz_targets/*.rs`, one line each) and
//! the corpus replay test (`tests/fuzz_corpus.rs`), so both run exactly the same code; and,
//! in [`tree`], the crate-visible node-level functions (parser types included) that the
//! integration tests, benches and fuzz targets call directly.
//!
//! The service provider set up here trusts a key whose private half is in this file: it is
//! public and must never be trusted by anything else.
//!
//! Every function takes arbitrary bytes and must return normally. Besides "no panic, no
//! hang", some check invariants and panic when one breaks (that is how a fuzzer reports
//! it): canonical output re-parses and is a fixed point of canonicalization, the pre-scan
//! never refuses a document the parser accepts, a verified Redirect message decodes to
//! the same thing unverified.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, OnceLock};

use base64::Engine as _;

use crate::binding::redirect;
use crate::dsig::{self, SignatureAlgorithm, SigningKey, VerificationKey, VerifyPolicy};
use crate::metadata::IdentityProvider;
use crate::store::{ReplayCache, StoreError};
use crate::test_idp::{ResponseSpec, TestIdp};
use crate::xml::{self, C14nOptions, Limits};
use crate::{
    Binding, Comparison, EntityId, FixedClock, Incoming, LoginOptions, PendingLogin, RelayState,
    RequestId, ServiceProvider, SpConfig, SpidLevel, Timestamp,
};

/// The node-level layer under the public string-level API: the XML reader's tree
/// (the one-pass reader's types), canonicalization of a node, enveloped-signature verification of
/// an element and the [`Verified`](tree::Verified) proof it returns. Crate-visible in the
/// library; re-exported here for tests, benches and fuzz targets only.
///
/// A plain node is not a `Verified`, so a check that takes one cannot read from unsigned
/// data:
///
/// ```
/// use spid_sp::fuzzing::tree::{self, Verified};
/// use spid_sp::xml::Limits;
///
/// fn issuer(message: Verified<'_, '_>) -> Option<String> {
///     let issuer = message.child("urn:oasis:names:tc:SAML:2.0:assertion", "Issuer")?;
///     Some(issuer.text()?.trim().to_owned())
/// }
/// let doc = tree::parse("<m/>", &Limits::MESSAGE).unwrap();
/// let _ = doc.root_element(); // a plain node: `issuer` cannot take it (below)
/// ```
///
/// ```compile_fail,E0308
/// use spid_sp::fuzzing::tree::{self, Verified};
/// use spid_sp::xml::Limits;
///
/// fn issuer(message: Verified<'_, '_>) -> Option<String> {
///     let issuer = message.child("urn:oasis:names:tc:SAML:2.0:assertion", "Issuer")?;
///     Some(issuer.text()?.trim().to_owned())
/// }
/// let doc = tree::parse("<m/>", &Limits::MESSAGE).unwrap();
/// let _ = issuer(doc.root_element());
/// ```
///
/// and none can be made outside the verifier:
///
/// ```compile_fail,E0451
/// use spid_sp::fuzzing::tree::{self, Verified};
/// use spid_sp::xml::Limits;
///
/// let doc = tree::parse("<m/>", &Limits::MESSAGE).unwrap();
/// let forged = Verified { node: doc.root_element(), excluded: None };
/// ```
pub mod tree {
    pub use crate::dsig::verify::{find_signature, verify_enveloped, Verified, VerifiedSignature};
    pub use crate::xml::c14n::{canonicalize, C14nOptions};
    pub use crate::xml::dom::{Document, Node, NodeId};
    pub use crate::xml::reader::{decode_utf8, parse, text};
}

/// A fuzz target's entry point.
pub type Target = fn(&[u8]);

/// The fuzz targets: (name, entry point). `fuzz/fuzz_targets/<name>.rs` calls the entry
/// point; `tests/fuzz_corpus.rs` replays `fuzz/corpus/<name>/` and `fuzz/artifacts/<name>/`.
pub const TARGETS: &[(&str, Target)] = &[
    ("response", response),
    ("xml", xml),
    ("c14n", c14n),
    ("signature", signature),
    ("redirect", redirect),
    ("metadata", metadata),
    ("inspect", inspect),
    ("reader", reader),
];

/// The SP's entityID.
pub const SP: &str = "https://sp.fuzz.test/spid";
/// The SP's assertion consumer service.
pub const ACS: &str = "https://sp.fuzz.test/spid/acs";
/// The trusted IdP's entityID.
pub const IDP: &str = "https://idp.fuzz.test";
/// The pending request every Response is checked against.
pub const REQUEST_ID: &str = "_fuzz0000000000000000000000000000000000000";
/// The RelayState of the pending request.
pub const RELAY_STATE: &str = "fuzzrelaystate";

/// The public fuzzing key (SP and IdP alike). Never trust it.
const KEY_PEM: &str = r#"-----BEGIN PRIVATE KEY-----
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQCSa2rSF73JGOBh
61fLTWnIP8f95rNQDOm9tezhRTRS3qDkLkuv3Yov86lWAm/0UVY8h0g8TB7+LOfU
W9t529OUuPDElLiCJXQp6DCdBi3GWiE9F7bZBpzWoGXbeTBHajg8qNKg5g7FjP5c
BZG+AU+hymixy/u3i0En1yNmCMhcO0Yw8kpdkNwGhUBwj2+Bzog/kEqqhwfdrjlp
osYrGYSRebWTiUAsfqj+hwbYCP9fVohTS5U6DV7zR/yYhXJW/aSpc+iwqoiy7AP/
BuizxKWKC3iYQUWMZzOddw14ZXFBI2hJg5G3GRJ5UDI0ww3zYbbV6E0tdemZhIHO
LwnAntXbAgMBAAECggEALOTnu2RRKjxI7G0rHahuU1qPGSAoAdb7wlHqQEYmXXRq
k5xIU7OTX9GPrdIQfrKDxQpb0TUr2ZZuPNQvbuVCshqkpDnPewQ94m2RnkvbNDLF
d0RyqYeYBkzm/kzhyzvb42mGL5RqmhL5mMCSZ9ZiEsMLp9xaIXR+tVcHQQ1XVcPW
IApDGb+gXcaGoq5QdfxIWzigN2Ol+M5ZRoDw8PDG+LLP5KdpvIY/0Q/QI8IXEDSB
kE4OG6hzyt79UNQlIDwqRbsHZfLdzKoGKGF4AU+SFxR4c0HBOEyVHvEGhF4tzPA9
a2xyLd3XXT3R3Pb8UFMzjAPBGzPHkpXr0ezeNYDfzQKBgQDH2Kq3TyACU6unhFzT
tanPex558wxdeb/R4adPP6Zvt6BGXnn31zCuIREbZvTALCfCDysnQE9Z0YNdVJG8
XX7SpD2XZBB1NKijyRzNe9Ni+cdaA3keEuzxKXTs7zO/uv/iGp7KAY0B0WXLBXFl
KLDY0k1Fm/TESDLD76i/uC2iXwKBgQC7j6k0QmdRzexnBkoZVohoB1+V3xHgR8Js
8o3qaFXGT3WpVUMT3xrZy4Iyw70GrRBD/cUEJ/FA+Re3EnO1TqnkwW0cHgCt6xoB
bXvgahXX97mrU+BVqxoEizSkFQYR+b0+k7fbtopjB8sGCkrsPRtcY+Oh1dEXRhOV
2v/m0smWBQKBgQCmQGEEzhZa2TBb04lFtkLmEA5ydPc8bCRffdGp49GZ7rCu2bmt
rJ8avPd2TFgf5pvMnMHRjXZ1yg32fnwer8jpgyiZ4OywFHaWiqAjcXeRRynIgEsp
8aSbm1liIjxyrCZi+rJOaqvbb0+3bXfAJ/G27nzKA8vD3iwdRCqmE5ojEQKBgBkt
HnxKUY4UgyANIxMln2e/XaBDciXV3A49vLjzSlg1QEj7jeZz8ym6/H4N8iicQGuv
+6skJWkgRoOncWqr5Xg0Uo4MpPCzdykr5g3oj4gO05hgyOMW9YYYnXdM7ySojjOB
JpPSe97xI9pqtUXiqfKL4flONyPVnzllTSZRswd1AoGAQV+h8iNmG6acoMyk2MUR
sWGi134urC02P2KMYanXruSI0BHXmB6ja3cX+ati/lrEmz089LCpdnluHYLqyX/7
VfYoRyUAcc+6GzOcKpzQ3G7lvmAo5xFCTZW3VMjU6YDfqEMHAkAjaCjLBGYQzvDi
t/wrkXlzT1j50x27bfl99e0=
-----END PRIVATE KEY-----"#;
const CERT_PEM: &str = r#"-----BEGIN CERTIFICATE-----
MIIDTzCCAjegAwIBAgIUMqGPec+VbwnyySZUh9bmAiZTkUIwDQYJKoZIhvcNAQEL
BQAwNjE0MDIGA1UEAwwrc3BpZC1zcCBmdXp6aW5nIGtleSAocHVibGljLCBuZXZl
ciB0cnVzdGVkKTAgFw0yNjExMjMwNjM5MDVaGA8yMTI2MTAzMDA2MzkwNVowNjE0
MDIGA1UEAwwrc3BpZC1zcCBmdXp6aW5nIGtleSAocHVibGljLCBuZXZlciB0cnVz
dGVkKTCCASIwDQYJKoZIhvcNAQEBBQADggEPADCCAQoCggEBAJJratIXvckY4GHr
V8tNacg/x/3ms1AM6b217OFFNFLeoOQuS6/dii/zqVYCb/RRVjyHSDxMHv4s59Rb
23nb05S48MSUuIIldCnoMJ0GLcZaIT0XttkGnNagZdt5MEdqODyo0qDmDsWM/lwF
kb4BT6HKaLHL+7eLQSfXI2YIyFw7RjDySl2Q3AaFQHCPb4HOiD+QSqqHB92uOWmi
xisZhJF5tZOJQCx+qP6HBtgI/19WiFNLlToNXvNH/JiFclb9pKlz6LCqiLLsA/8G
6LPEpYoLeJhBRYxnM513DXhlcUEjaEmDkbcZEnlQMjTDDfNhttXoTS116ZmEgc4v
CcCe1dsCAwEAAaNTMFEwHQYDVR0OBBYEFOFMfZa909ePHLzGBodnhyE63p6hMB8G
A1UdIwQYMBaAFOFMfZa909ePHLzGBodnhyE63p6hMA8GA1UdEwEB/wQFMAMBAf8w
DQYJKoZIhvcNAQELBQADggEBAH+iSlxlbt8i5XB3g9lSekqLca6JZi6e6EUd2X/k
6/G99rz88YprSDjBenTzVO7IgSq8r9umZOJHawSwVU2h2JWjhTcOOR3iMBPdxd/a
Otg73lr+p95qWFNvLNUV/Rw3NEkDg9OdRkJRSdQ0VYZljBO0BtX8G20NRn1i9Kx3
gveTJ0feDbRtLUMExm8QD5QBmxcplZeYs8HhYzAdAcazO6W8zf396hqjnjAJgsD9
MZPSgifX658GFv5zOZb1LpK62p32IJrNXjQ/J6s4IZaSy9qV94Qe1oFHQ7oAjzfA
l2DDBSpyHxLG7h35n3OICJ9+ZnIUy8JUV9ILm6dJLAy0zUI=
-----END CERTIFICATE-----"#;

/// A fixed clock: the time the seed responses were issued at.
pub fn now() -> Timestamp {
    Timestamp::parse("2026-01-15T10:00:00Z").expect("fixed timestamp")
}

/// A replay cache that forgets everything, so a replayed input has the same outcome as
/// the first run (fuzzing needs determinism; replay protection has its own tests).
#[derive(Debug)]
struct Forgetful;

impl ReplayCache for Forgetful {
    fn insert_once(&self, _: &str, _: Timestamp, _: Timestamp) -> Result<bool, StoreError> {
        Ok(true)
    }
}

struct World {
    sp: ServiceProvider,
    idp: TestIdp,
    keys: Vec<VerificationKey>,
    pending: PendingLogin,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let key =
            SigningKey::from_pem(KEY_PEM.as_bytes(), CERT_PEM.as_bytes()).expect("fuzzing key");
        let vk = key.verification_key().expect("fuzzing certificate");
        let config = SpConfig::builder(SP, key.clone())
            .assertion_consumer_service(ACS)
            .attribute_service(0, "Servizi", &["fiscalNumber", "name", "familyName"])
            .logout_service(Binding::Redirect, "https://sp.fuzz.test/spid/slo")
            .logout_service(Binding::Post, "https://sp.fuzz.test/spid/slo")
            .build()
            .expect("fuzzing config");
        let idp = IdentityProvider::new(IDP, vec![vk.clone()])
            .with_sso(Binding::Redirect, "https://idp.fuzz.test/sso")
            .with_sso(Binding::Post, "https://idp.fuzz.test/sso")
            .with_slo(Binding::Redirect, "https://idp.fuzz.test/slo")
            .with_slo(Binding::Post, "https://idp.fuzz.test/slo");
        let sp = ServiceProvider::new(config, [idp])
            .expect("fuzzing service provider")
            .with_clock(Arc::new(FixedClock(now())))
            .with_replay_cache(Arc::new(Forgetful));
        let pending = PendingLogin::from_parts(
            RequestId::new(REQUEST_ID),
            EntityId::new(IDP),
            now().plus_seconds(-30),
            now().plus_seconds(15 * 60),
            SpidLevel::L2,
            Comparison::Minimum,
            ACS,
            0,
            RelayState::new(RELAY_STATE),
        );
        World {
            sp,
            idp: TestIdp::new(IDP, key),
            keys: vec![vk],
            pending,
        }
    })
}

/// The service provider every target uses (fixed clock, forgetful replay cache).
pub fn service_provider() -> &'static ServiceProvider {
    &world().sp
}

/// The pending login every Response is checked against.
pub fn pending() -> PendingLogin {
    world().pending.clone()
}

/// The form or XML as [`response`] reads it.
pub fn incoming(data: &[u8]) -> Option<Incoming> {
    if data.starts_with(b"SAMLResponse=") {
        utf8(data).and_then(Incoming::from_form)
    } else {
        Some(Incoming::Post {
            message: base64::engine::general_purpose::STANDARD.encode(data),
            relay_state: Some(RELAY_STATE.to_owned()),
        })
    }
}

fn utf8(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok()
}

/// Response verification from the POST form to the outcome: `data` is either a form body
/// (`SAMLResponse=...&RelayState=...`) or the Response XML itself, which is base64-encoded
/// into the form field as a browser would post it.
pub fn response(data: &[u8]) {
    let w = world();
    let Some(incoming) = incoming(data) else {
        return;
    };
    let _ = incoming.in_response_to_hint(Limits::MESSAGE.max_bytes);
    if let Ok(login) = w.sp.finish_login(&incoming, w.pending.clone()) {
        // Only the pending request's IdP can have produced it.
        assert_eq!(login.idp().as_str(), IDP);
        assert_eq!(login.request_id().as_str(), REQUEST_ID);
    }
}

/// Limits big enough for anything a fuzzer sends, so the invariants below see every
/// document the parser accepts.
const UNBOUNDED: Limits = Limits {
    max_bytes: usize::MAX,
    max_depth: usize::MAX,
    max_nodes: u32::MAX,
    max_attributes: usize::MAX,
    max_namespace_declarations: usize::MAX,
    max_namespaces_in_scope: usize::MAX,
    forbid_processing_instructions: false,
    forbid_comments_in_text: false,
};

/// The XML reader under both limit sets, the text reader on every element, and the
/// pre-scan against the parser: the pre-scan must never refuse (as malformed, too deep or
/// too wide) a document the parser accepts.
pub fn xml(data: &[u8]) {
    let Ok(text) = xml::reader::decode_utf8(data) else {
        return;
    };
    for limits in [Limits::MESSAGE, Limits::METADATA] {
        if let Ok(doc) = xml::parse(text, &limits) {
            for node in doc.descendants().filter(|n| n.is_element()) {
                let _ = xml::text(node);
            }
        }
    }
    // The parser alone, without our bounds: only on small inputs with few namespace
    // declarations and attributes per element, where it is fast. Its worst cases are
    // quadratic in attributes and cubic in nested namespace declarations (600 nested
    // declarations, 13 KB, take 230 ms): that is why the pre-scan exists.
    let modest = Limits {
        max_attributes: 64,
        max_namespaces_in_scope: 64,
        ..UNBOUNDED
    };
    let modest = !matches!(
        xml::reader::prescan(text, &modest),
        Err(xml::XmlError::TooManyAttributes { .. } | xml::XmlError::TooManyNamespaces { .. })
    );
    if modest && text.len() <= 16 * 1024 {
        let options = roxmltree::ParsingOptions {
            allow_dtd: false,
            nodes_limit: u32::MAX,
            ..roxmltree::ParsingOptions::default()
        };
        if let Ok(doc) = roxmltree::Document::parse_with_options(text, options) {
            let depth = doc
                .descendants()
                .filter(|n| n.is_element())
                .map(|n| n.ancestors().filter(|a| a.is_element()).count())
                .max()
                .unwrap_or(0);
            let tight = Limits {
                max_depth: depth,
                ..UNBOUNDED
            };
            // The deliberate refusals: what XML forbids but roxmltree lets through (a PI
            // named xml, a bad declaration, references to non-characters, forbidden
            // namespace declarations...; for the reader, also the deliberate differences
            // of src/xml/equivalence.rs).
            let deliberate = xml::reader::stricter_than_parser;
            if let Err(e) = xml::reader::prescan(text, &tight) {
                if !deliberate(&e) {
                    panic!("pre-scan refused a document the parser accepts: {e}");
                }
            }
            if let Err(e) = xml::parse(text, &UNBOUNDED) {
                // roxmltree ignores the declared encoding; we read UTF-8 only and refuse a
                // declaration naming anything else (or no valid encoding name).
                let encoding = matches!(e, xml::XmlError::Encoding);
                if !deliberate(&e)
                    && !encoding
                    && !xml::equivalence::deliberately_stricter(text, &e)
                {
                    panic!("parse refused a document the parser accepts: {e}");
                }
            }
        }
    }
}

/// Exclusive c14n of whatever parses: the whole document, the document element, and
/// every element with the prefixes in scope as an InclusiveNamespaces list. The output
/// must parse again and be its own canonical form.
pub fn c14n(data: &[u8]) {
    let Some(text) = utf8(data) else { return };
    let Ok(doc) = xml::parse(text, &Limits::METADATA) else {
        return;
    };
    let root = doc.root_element();
    let mut prefixes: Vec<&str> = root
        .namespaces()
        .filter_map(|ns| ns.name())
        .take(4)
        .collect();
    prefixes.push("#default");
    let mut out = Vec::new();
    for (apex, inclusive) in [
        (doc.root(), &[][..]),
        (root, &[][..]),
        (root, &prefixes[..]),
    ] {
        let options = C14nOptions {
            exclude: None,
            inclusive_prefixes: inclusive,
        };
        out.clear();
        xml::canonicalize(apex, &options, &mut out);
        let canonical = std::str::from_utf8(&out).expect("canonical form is UTF-8");
        let again = match xml::parse(canonical, &UNBOUNDED) {
            Ok(again) => again,
            Err(e) => panic!("canonical form does not parse: {e}\n{canonical}"),
        };
        let mut twice = Vec::new();
        let apex2 = if apex.is_root() {
            again.root()
        } else {
            again.root_element()
        };
        xml::canonicalize(apex2, &options, &mut twice);
        if twice != out {
            panic!(
                "canonical form is not a fixed point:\n{canonical}\n{}",
                String::from_utf8_lossy(&twice)
            );
        }
    }
    // Excluding each element in turn (the enveloped-signature transform).
    for node in doc.descendants().filter(|n| n.is_element()).skip(1).take(8) {
        out.clear();
        let options = C14nOptions {
            exclude: Some(node.id()),
            inclusive_prefixes: &[],
        };
        xml::canonicalize(root, &options, &mut out);
    }
}

/// Enveloped-signature verification of every element that has a `ds:Signature` child,
/// with the fuzzing key, under the message and the metadata policies.
pub fn signature(data: &[u8]) {
    let Some(text) = utf8(data) else { return };
    let Ok(doc) = xml::parse(text, &Limits::METADATA) else {
        return;
    };
    let w = world();
    let mut scratch = Vec::new();
    for element in doc.descendants().filter(|n| n.is_element()) {
        let Ok(Some(sig)) = dsig::find_signature(element) else {
            continue;
        };
        for allow_whole_document in [false, true] {
            let policy = VerifyPolicy {
                allow_whole_document,
                ..VerifyPolicy::default()
            };
            let _ = dsig::verify_enveloped(element, sig, &w.keys, &policy, &mut scratch);
        }
    }
}

/// The HTTP-Redirect binding: decoding, query-signature verification with the fuzzing key,
/// and an IdP-initiated LogoutRequest through the SP. What verifies must decode to the
/// same message without verification.
pub fn redirect(data: &[u8]) {
    let Some(query) = utf8(data) else { return };
    let w = world();
    let unverified = redirect::decode_unverified(query);
    if let Ok(msg) = &unverified {
        let _ = xml::parse(&msg.xml, &Limits::MESSAGE);
    }
    if let Ok(verified) = redirect::verify_query(query, &w.keys, 2048) {
        let Ok(unverified) = unverified else {
            panic!("a verified query does not decode unverified");
        };
        assert_eq!(verified.xml, unverified.xml);
        assert_eq!(verified.relay_state, unverified.relay_state);
        assert_eq!(verified.param, unverified.param);
    }
    let incoming = Incoming::Redirect {
        query: query.to_owned(),
    };
    let _ = w.sp.handle_logout_request(&incoming, Binding::Redirect);
    let _ = redirect::inflate_base64(query);
}

/// IdP metadata, unsigned path: every IdP found and its endpoints and keys.
pub fn metadata(data: &[u8]) {
    let Some(text) = utf8(data) else { return };
    if let Ok(idps) = IdentityProvider::from_metadata(text) {
        for idp in idps {
            assert!(!idp.keys().is_empty(), "an IdP without keys was accepted");
            let _ = (idp.sso(Binding::Redirect), idp.slo(Binding::Post));
            let _ = idp.display_name();
        }
    }
}

/// What `spid-sp inspect` reads without verifying: [`crate::danger::decode_unverified`]
/// on a Redirect URL or query, a form body, base64 (plain or DEFLATEd) or XML.
pub fn inspect(data: &[u8]) {
    let Some(text) = utf8(data) else { return };
    if let Ok(msg) = crate::danger::decode_unverified(text) {
        let _ = xml::parse(&msg.xml, &Limits::MESSAGE);
    }
}

/// Parses `text` with the one-pass reader and with the reader it replaces (roxmltree
/// behind the pre-scan) under the message, metadata and permissive limits, and returns
/// `Err` describing the first disagreement: different trees (names, attributes, values,
/// namespaces in scope, byte ranges), or one accepting what the other refuses. The
/// deliberate differences (the new reader follows XML and libxml2 where roxmltree does
/// not: a CR next to a reference, line ends in comments and PIs) are listed in
/// `src/xml/equivalence.rs` and docs/threat-model.md, and not reported.
pub fn compare_readers(text: &str) -> Result<(), String> {
    xml::equivalence::compare_readers(text)
}

/// The one-pass reader's verdict on `text` under permissive limits (as deep as libxml2
/// goes by default): `Err` with the refusal's message.
pub fn reader_verdict(text: &str) -> Result<(), String> {
    xml::parser::parse(text, &xml::equivalence::PERMISSIVE)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// The differential target of the one-pass reader: [`compare_readers`] (inputs up to
/// 64 KiB, where the old reader is fast), then the c14n invariant on the new tree: the
/// canonical form of the document parses and is its own canonical form.
pub fn reader(data: &[u8]) {
    let Some(text) = utf8(data) else { return };
    if text.len() <= 64 * 1024 {
        if let Err(e) = compare_readers(text) {
            panic!("readers disagree: {e}");
        }
    }
    let Ok(doc) = xml::parse(text, &Limits::METADATA) else {
        return;
    };
    let options = C14nOptions::default();
    let mut out = Vec::new();
    xml::canonicalize(doc.root(), &options, &mut out);
    let canonical = std::str::from_utf8(&out).expect("canonical form is UTF-8");
    let again = match xml::parse(canonical, &UNBOUNDED) {
        Ok(again) => again,
        Err(e) => panic!("canonical form does not parse: {e}\n{canonical}"),
    };
    if let Err(e) = compare_readers(canonical) {
        panic!("readers disagree on the canonical form: {e}");
    }
    let mut twice = Vec::new();
    xml::canonicalize(again.root(), &options, &mut twice);
    assert_eq!(out, twice, "canonical form is not a fixed point");
}

/// The initial corpus: (target, file name, bytes). Valid messages signed with the fuzzing
/// key, so mutations start from inputs that pass every check.
pub fn seeds() -> Vec<(&'static str, String, Vec<u8>)> {
    let w = world();
    let mut out: Vec<(&'static str, String, Vec<u8>)> = Vec::new();
    let spec = ResponseSpec::new(REQUEST_ID, ACS, SP, SpidLevel::L2, now())
        .attribute("fiscalNumber", "TINIT-RSSMRA80A01H501U")
        .attribute("name", "Mario")
        .attribute("familyName", "Rossi");
    let response = w.idp.response(&spec).expect("seed response");
    let assertion_only = w
        .idp
        .response(&ResponseSpec {
            sign_response: false,
            ..spec.clone()
        })
        .expect("seed response");
    let refusal = w
        .idp
        .refusal(REQUEST_ID, ACS, 22, now())
        .expect("seed refusal");
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let mut form = String::from("SAMLResponse=");
    redirect::quote_plus(&b64(&response), &mut form);
    form.push_str("&RelayState=");
    form.push_str(RELAY_STATE);
    out.push((
        "response",
        "valid-both-signed.xml".into(),
        response.clone().into(),
    ));
    out.push((
        "response",
        "valid-assertion-signed.xml".into(),
        assertion_only.clone().into(),
    ));
    out.push((
        "response",
        "refusal-nr22.xml".into(),
        refusal.clone().into(),
    ));
    out.push(("response", "valid-form.txt".into(), form.into()));
    for (name, doc) in [("response.xml", &response), ("refusal.xml", &refusal)] {
        out.push(("signature", name.into(), doc.clone().into()));
        out.push(("c14n", name.into(), doc.clone().into()));
        out.push(("xml", name.into(), doc.clone().into()));
    }
    let tricky = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<?pi a?><!--c-->\
        <a:r xmlns:a=\"urn:a\" xmlns=\"urn:d\" xmlns:b=\"urn:b\" b:y=\"&#9;&#10;&#13;&quot;&lt;&gt;\" x='&amp;'>\
        <e xmlns=\"\"><b:f a:z=\"1\">t&#13;\r\n<![CDATA[<&>]]><?p  q ?><!--x--></b:f></e>\
        <a:g xmlns:a=\"urn:a2\" xml:lang=\"it\">\u{e8}\u{1F600}</a:g></a:r><!--t--><?z?>";
    out.push(("c14n", "namespaces.xml".into(), tricky.into()));
    out.push(("xml", "namespaces.xml".into(), tricky.into()));

    let (authn, _) =
        w.sp.start_login(
            IDP,
            &LoginOptions {
                binding: Binding::Redirect,
                ..LoginOptions::default()
            },
        )
        .expect("seed request");
    let authn_query = authn
        .redirect_url()
        .and_then(|u| u.split_once('?'))
        .map(|(_, q)| q.to_owned())
        .expect("seed query");
    let logout = format!(
        "<samlp:LogoutRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" \
         xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"_fuzzlogout\" Version=\"2.0\" \
         IssueInstant=\"{}\" Destination=\"https://sp.fuzz.test/spid/slo\">\
         <saml:Issuer Format=\"urn:oasis:names:tc:SAML:2.0:nameid-format:entity\">{IDP}</saml:Issuer>\
         <saml:NameID Format=\"urn:oasis:names:tc:SAML:2.0:nameid-format:transient\" NameQualifier=\"{IDP}\">_n1</saml:NameID>\
         <samlp:SessionIndex>_s1</samlp:SessionIndex></samlp:LogoutRequest>",
        now()
    );
    let logout_query = redirect::signed_query(
        "SAMLRequest",
        &logout,
        Some("r1"),
        w.idp.key(),
        SignatureAlgorithm::RsaSha256,
    )
    .expect("seed logout");
    out.push((
        "redirect",
        "authn-request.txt".into(),
        authn_query.clone().into(),
    ));
    out.push((
        "redirect",
        "logout-request.txt".into(),
        logout_query.clone().into(),
    ));
    out.push(("inspect", "authn-request.txt".into(), authn_query.into()));
    out.push(("inspect", "logout-request.txt".into(), logout_query.into()));
    out.push(("inspect", "response-post.txt".into(), b64(&response).into()));
    out.push(("inspect", "response.xml".into(), response.clone().into()));

    out.push((
        "metadata",
        "test-idp.xml".into(),
        w.idp.metadata(IDP).into(),
    ));
    out
}
