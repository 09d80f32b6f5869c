//! Shared test helpers: fresh keys, a configured SP and test IdP on a fixed clock.
#![allow(dead_code)]

use std::sync::Arc;

use openssl::asn1::Asn1Time;
use openssl::bn::BigNum;
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::rsa::Rsa;
use openssl::x509::{X509Builder, X509NameBuilder};
use spid_sp::metadata::IdentityProvider;
use spid_sp::test_idp::TestIdp;
use spid_sp::{FixedClock, ServiceProvider, SigningKey, SpConfig, Timestamp};

pub const SP: &str = "https://sp.test.example/spid";
pub const ACS: &str = "https://sp.test.example/spid/acs";
pub const SLO: &str = "https://sp.test.example/spid/slo";
pub const IDP: &str = "https://idp.local.test";

/// A fresh RSA key with a self-signed certificate.
pub fn keypair(cn: &str, bits: u32) -> SigningKey {
    let rsa = Rsa::generate(bits).unwrap();
    let key = PKey::from_rsa(rsa).unwrap();
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", cn).unwrap();
    let name = name.build();
    let mut b = X509Builder::new().unwrap();
    b.set_version(2).unwrap();
    b.set_serial_number(&BigNum::from_u32(1).unwrap().to_asn1_integer().unwrap())
        .unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_issuer_name(&name).unwrap();
    b.set_pubkey(&key).unwrap();
    b.set_not_before(&Asn1Time::from_unix(1_600_000_000).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::from_unix(2_500_000_000).unwrap())
        .unwrap();
    b.sign(&key, MessageDigest::sha256()).unwrap();
    SigningKey::new(key, b.build()).unwrap()
}

pub fn now() -> Timestamp {
    Timestamp::parse("2026-01-15T10:00:00Z").unwrap()
}

pub struct World {
    pub sp: ServiceProvider,
    pub idp: TestIdp,
    pub sp_key: SigningKey,
}

/// An SP trusting one test IdP, on a fixed clock at `at`.
pub fn world_at(at: Timestamp) -> World {
    let sp_key = keypair("sp", 2048);
    let idp = TestIdp::new(IDP, keypair("idp", 2048));
    let config = SpConfig::builder(SP, sp_key.clone())
        .assertion_consumer_service(ACS)
        .attribute_service(
            0,
            "Servizi",
            &["fiscalNumber", "name", "familyName", "dateOfBirth"],
        )
        .logout_service(spid_sp::Binding::Redirect, SLO)
        .logout_service(spid_sp::Binding::Post, SLO)
        .build()
        .unwrap();
    let idps = IdentityProvider::from_metadata(&idp.metadata("https://idp.local.test")).unwrap();
    let sp = ServiceProvider::new(config, idps).with_clock(Arc::new(FixedClock(at)));
    World { sp, idp, sp_key }
}

pub fn post(xml: &str, relay_state: Option<&str>) -> spid_sp::Incoming {
    use base64::Engine as _;
    spid_sp::Incoming::Post {
        message: base64::engine::general_purpose::STANDARD.encode(xml),
        relay_state: relay_state.map(str::to_owned),
    }
}
