//! The SDK's hot paths next to the cryptographic floor they cannot go below, in one
//! report: `cargo bench --bench core` (add `-- verify` etc. to filter).
//!
//! - `verify/*`: base64 `SAMLResponse` in → verified login out through
//!   [`ServiceProvider::finish_login`] with every check on (fixed clock at the vector's
//!   issue instant; a no-op replay cache because the same Response is verified many times).
//! - `authn/*`: [`ServiceProvider::start_login`] (build + sign + encode) for each binding.
//! - `registry/*`, `c14n/*`, `sp-metadata/*`: IdP registry load, exclusive c14n throughput,
//!   signed SP metadata.
//! - `floor/*`: what OpenSSL alone needs — RSA-2048 verify and sign, SHA-256 of the Response.
//!   verify+parse of a both-signed Response cannot beat 2 × verify + 2 × SHA-256; an
//!   AuthnRequest cannot beat one sign.
//!
//! Vectors: `benches/data/` (written by `examples/spid-bench.rs --op make-fixtures`, see its
//! README) and the registry snapshot `metadata/spid-entities-idps.xml`.

use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use spid_sp::fuzzing::tree::{self, C14nOptions};
use spid_sp::metadata::{Contact, IdentityProvider, Organization, SpMetadata, SpProfile};
use spid_sp::store::{ReplayCache, StoreError};
use spid_sp::xml::Limits;
use spid_sp::{
    Binding, Comparison, EntityId, FixedClock, Incoming, LoginOptions, PendingLogin, RelayState,
    RequestId, ServiceProvider, SigningKey, SpConfig, SpidLevel, Timestamp,
};

/// The vector's values (`benches/data/params.json`, written by `make-fixtures`).
const SP: &str = "https://sp.example.it/spid";
const ACS: &str = "https://sp.example.it/spid/acs";
const IDP: &str = "https://idp.example.it";

fn data(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn param(key: &str) -> String {
    let params = data("benches/data/params.json");
    let needle = format!("\"{key}\": \"");
    let start = params.find(&needle).expect(key) + needle.len();
    params[start..].split('"').next().expect(key).to_owned()
}

/// Accepts every key: the benchmark verifies one Response many times.
struct NoReplayCache;

impl ReplayCache for NoReplayCache {
    fn insert_once(&self, _: &str, _: Timestamp, _: Timestamp) -> Result<bool, StoreError> {
        Ok(true)
    }
}

fn sp_key() -> SigningKey {
    SigningKey::from_pem(
        data("benches/data/sp.key.pem").as_bytes(),
        data("benches/data/sp.crt.pem").as_bytes(),
    )
    .expect("sp key")
}

fn config(require_response_signature: bool) -> SpConfig {
    SpConfig::builder(SP, sp_key())
        .assertion_consumer_service(ACS)
        .attribute_service(
            0,
            "Servizi online",
            &["fiscalNumber", "name", "familyName", "email", "dateOfBirth"],
        )
        .logout_service(Binding::Redirect, "https://sp.example.it/spid/slo")
        .require_response_signature(require_response_signature)
        .build()
        .expect("config")
}

fn service_provider(require_response_signature: bool, now: Timestamp) -> ServiceProvider {
    let idps = IdentityProvider::from_metadata(&data("benches/data/idp-metadata.xml"))
        .expect("idp metadata");
    ServiceProvider::new(config(require_response_signature), idps)
        .expect("service provider")
        .with_clock(Arc::new(FixedClock(now)))
        .with_replay_cache(Arc::new(NoReplayCache))
}

fn verify(c: &mut Criterion) {
    let issued = Timestamp::parse(&param("issue_instant")).expect("issue_instant");
    let pending = PendingLogin::from_parts(
        RequestId::new(param("in_response_to")),
        EntityId::new(IDP),
        issued,
        issued.plus_seconds(900),
        SpidLevel::L2,
        Comparison::Minimum,
        ACS,
        0,
        RelayState::new("bench"),
    );
    let mut g = c.benchmark_group("verify");
    for (name, file, both) in [
        (
            "response+assertion signed",
            "benches/data/response.b64",
            true,
        ),
        (
            "assertion signed",
            "benches/data/response-assertion-only.b64",
            false,
        ),
    ] {
        let sp = service_provider(both, issued.plus_seconds(1));
        let incoming = Incoming::Post {
            message: data(file).trim().to_owned(),
            relay_state: Some(pending.relay_state().as_str().to_owned()),
        };
        sp.finish_login(&incoming, pending.clone())
            .expect("the vector verifies");
        g.bench_function(name, |b| {
            b.iter(|| sp.finish_login(black_box(&incoming), pending.clone()))
        });
    }
    g.finish();
}

fn authn(c: &mut Criterion) {
    let sp = service_provider(
        true,
        Timestamp::parse("2026-01-15T10:00:00Z").expect("time"),
    );
    let mut g = c.benchmark_group("authn");
    for (name, binding) in [("post", Binding::Post), ("redirect", Binding::Redirect)] {
        let options = LoginOptions {
            binding,
            ..LoginOptions::default()
        };
        g.bench_function(name, |b| {
            b.iter(|| sp.start_login(black_box(IDP), &options).expect("login"))
        });
    }
    g.finish();
}

fn registry(c: &mut Criterion) {
    let aggregate = data("metadata/spid-entities-idps.xml");
    let count = IdentityProvider::from_metadata(&aggregate)
        .expect("registry")
        .len();
    let mut g = c.benchmark_group("registry");
    g.throughput(Throughput::Bytes(aggregate.len() as u64));
    g.bench_function(format!("load {count} IdPs (unsigned check)"), |b| {
        b.iter(|| IdentityProvider::from_metadata(black_box(&aggregate)).expect("registry"))
    });
    g.finish();
}

fn c14n(c: &mut Criterion) {
    let text = data("benches/data/response.xml");
    let doc = tree::parse(&text, &Limits::MESSAGE).expect("parse");
    let mut out = Vec::with_capacity(text.len());
    tree::canonicalize(doc.root_element(), &C14nOptions::default(), &mut out);
    let mut g = c.benchmark_group("c14n");
    g.throughput(Throughput::Bytes(out.len() as u64));
    g.bench_function("response (exc-c14n)", |b| {
        b.iter(|| {
            out.clear();
            tree::canonicalize(doc.root_element(), &C14nOptions::default(), &mut out);
            black_box(out.len())
        })
    });
    g.throughput(Throughput::Bytes(text.len() as u64));
    g.bench_function("parse (hardened reader)", |b| {
        b.iter(|| tree::parse(black_box(&text), &Limits::MESSAGE).map(|d| d.descendants().count()))
    });
    g.finish();
}

fn sp_metadata(c: &mut Criterion) {
    let config = config(true);
    let metadata = SpMetadata::new(
        SpProfile::SpidPublic,
        Organization {
            name: "Comune di Esempio".into(),
            display_name: "Comune di Esempio".into(),
            url: "https://www.comune.esempio.it".into(),
            ..Default::default()
        },
        Contact {
            email: "protocollo@comune.esempio.it".into(),
            ipa_code: Some("c_x000".into()),
            ..Default::default()
        },
    );
    let now = Timestamp::parse("2026-01-15T10:00:00Z").expect("time");
    metadata.to_xml_at(&config, now).expect("sp metadata");
    c.bench_function("sp-metadata/build+sign (SPID public)", |b| {
        b.iter(|| metadata.to_xml_at(&config, now).expect("sp metadata"))
    });
}

fn floor(c: &mut Criterion) {
    let key = PKey::private_key_from_pem(data("benches/data/idp.key.pem").as_bytes()).expect("key");
    let cert =
        openssl::x509::X509::from_pem(data("benches/data/idp.crt.pem").as_bytes()).expect("cert");
    let public = cert.public_key().expect("public key");
    let signed_info = [0x5au8; 700]; // about the size of a canonical SignedInfo
    let signature = {
        let mut s = openssl::sign::Signer::new(MessageDigest::sha256(), &key).expect("signer");
        s.sign_oneshot_to_vec(&signed_info).expect("sign")
    };
    let response = data("benches/data/response.xml");
    let mut g = c.benchmark_group("floor");
    g.bench_function("rsa2048 verify (EVP, key decoded once)", |b| {
        b.iter(|| {
            let mut v =
                openssl::sign::Verifier::new(MessageDigest::sha256(), &public).expect("verifier");
            v.verify_oneshot(black_box(&signature), &signed_info)
                .expect("verify")
        })
    });
    g.bench_function("rsa2048 sign (EVP, key decoded once)", |b| {
        b.iter(|| {
            let mut s = openssl::sign::Signer::new(MessageDigest::sha256(), &key).expect("signer");
            s.sign_oneshot_to_vec(black_box(&signed_info))
                .expect("sign")
        })
    });
    g.throughput(Throughput::Bytes(response.len() as u64));
    g.bench_function("sha256 of the Response", |b| {
        b.iter(|| {
            let mut h = openssl::sha::Sha256::new();
            h.update(black_box(response.as_bytes()));
            h.finish()
        })
    });
    g.finish();
}

criterion_group!(benches, verify, authn, registry, c14n, sp_metadata, floor);
criterion_main!(benches);
