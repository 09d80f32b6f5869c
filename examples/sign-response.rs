//! **Test only.** Signs SAML Responses with the library's test IdP
//! (`spid_sp::test_idp::TestIdp`), for tests that drive a real browser or HTTP client
//! through an SP (tests/browser.sh).
//!
//! ```sh
//! sign-response keygen DIR                                   # DIR/idp.key.pem, DIR/idp.crt.pem
//! sign-response metadata DIR ENTITY_ID BASE_URL              # IdP metadata (SSO at BASE_URL/sso)
//! sign-response response DIR ENTITY_ID IN_RESPONSE_TO ACS AUDIENCE LEVEL [name=value ...]
//! sign-response refusal DIR ENTITY_ID IN_RESPONSE_TO ACS ERROR_CODE
//! ```
//!
//! `response` and `refusal` print the base64 `SAMLResponse` value, ready to post.

use std::path::Path;

use base64::Engine as _;
use spid_sp::test_idp::{ResponseSpec, TestIdp};
use spid_sp::{SigningKey, SpidLevel, SystemClock};

fn fail(msg: impl std::fmt::Display) -> ! {
    eprintln!("sign-response: {msg}");
    std::process::exit(2)
}

fn load(dir: &str, entity_id: &str) -> TestIdp {
    let dir = Path::new(dir);
    let key = std::fs::read(dir.join("idp.key.pem")).unwrap_or_else(|e| fail(e));
    let cert = std::fs::read(dir.join("idp.crt.pem")).unwrap_or_else(|e| fail(e));
    let key = SigningKey::from_pem(&key, &cert).unwrap_or_else(|e| fail(e));
    TestIdp::new(entity_id, key)
}

fn keygen(dir: &str) -> Result<(), Box<dyn std::error::Error>> {
    use openssl::asn1::Asn1Time;
    use openssl::bn::BigNum;
    use openssl::hash::MessageDigest;
    use openssl::pkey::PKey;
    use openssl::rsa::Rsa;
    use openssl::x509::{X509Builder, X509NameBuilder};
    let key = PKey::from_rsa(Rsa::generate(2048)?)?;
    let mut name = X509NameBuilder::new()?;
    name.append_entry_by_text("CN", "spid-sp test IdP (not for production)")?;
    let name = name.build();
    let mut b = X509Builder::new()?;
    b.set_version(2)?;
    let serial = BigNum::from_u32(1)?.to_asn1_integer()?;
    b.set_serial_number(&serial)?;
    b.set_subject_name(&name)?;
    b.set_issuer_name(&name)?;
    b.set_pubkey(&key)?;
    let (from, until) = (Asn1Time::days_from_now(0)?, Asn1Time::days_from_now(365)?);
    b.set_not_before(&from)?;
    b.set_not_after(&until)?;
    b.sign(&key, MessageDigest::sha256())?;
    std::fs::create_dir_all(dir)?;
    let dir = Path::new(dir);
    std::fs::write(dir.join("idp.key.pem"), key.private_key_to_pem_pkcs8()?)?;
    std::fs::write(dir.join("idp.crt.pem"), b.build().to_pem()?)?;
    Ok(())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let now = spid_sp::Clock::now(&SystemClock);
    match a.as_slice() {
        ["keygen", dir] => keygen(dir).unwrap_or_else(|e| fail(e)),
        ["metadata", dir, entity_id, base_url] => {
            print!("{}", load(dir, entity_id).metadata(base_url));
        }
        ["response", dir, entity_id, in_response_to, acs, audience, level, attrs @ ..] => {
            let level = level
                .parse::<u8>()
                .ok()
                .and_then(SpidLevel::from_number)
                .unwrap_or_else(|| fail("LEVEL must be 1, 2 or 3"));
            let mut spec = ResponseSpec::new(in_response_to, acs, audience, level, now);
            for kv in attrs {
                let (k, v) = kv
                    .split_once('=')
                    .unwrap_or_else(|| fail(format!("attribute {kv}: expected name=value")));
                spec = spec.attribute(k, v);
            }
            let xml = load(dir, entity_id)
                .response(&spec)
                .unwrap_or_else(|e| fail(e));
            println!("{}", base64::engine::general_purpose::STANDARD.encode(xml));
        }
        ["refusal", dir, entity_id, in_response_to, acs, code] => {
            let code: u8 = code
                .parse()
                .unwrap_or_else(|_| fail("ERROR_CODE: a number"));
            let xml = load(dir, entity_id)
                .refusal(in_response_to, acs, code, now)
                .unwrap_or_else(|e| fail(e));
            println!("{}", base64::engine::general_purpose::STANDARD.encode(xml));
        }
        _ => fail("usage: see the comment at the top of examples/sign-response.rs"),
    }
}
