//! JOSE of the `oidc` module: RFC 7515/7516/7520/7638 vectors (tests/data/oidc, see
//! SOURCES.md), round trips, OpenSSL's command line as an independent PS256 verifier,
//! and every refusal by its code.
#![cfg(feature = "oidc")]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Value};
use spid_sp::oidc::jwe::{self, JweAlg, JweEnc, JwePolicy};
use spid_sp::oidc::jws::{self, JwsAlg, JwsPolicy};
use spid_sp::oidc::{Jwk, Jwks, KeyUse, OidcError, PrivateJwk};

fn vector(name: &str) -> Value {
    let path = format!("{}/tests/data/oidc/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn public_of(key: &Value) -> Value {
    let mut k = key.as_object().unwrap().clone();
    for p in ["d", "p", "q", "dp", "dq", "qi"] {
        k.remove(p);
    }
    Value::Object(k)
}

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

fn code<T: std::fmt::Debug>(r: Result<T, OidcError>) -> &'static str {
    r.unwrap_err().code()
}

#[test]
fn rfc7520_4_1_rs256_verifies_and_signs_byte_for_byte() {
    let v = vector("rfc7520-4.1-rs256.json");
    let jwks = Jwks::from_keys(vec![Jwk::from_value(&public_of(&v["key"])).unwrap()]).unwrap();
    let compact = v["compact"].as_str().unwrap();
    let ok = jws::verify(compact, &jwks, &JwsPolicy::default()).unwrap();
    assert_eq!(ok.payload, v["payload"].as_str().unwrap().as_bytes());
    assert_eq!(ok.header.alg, JwsAlg::Rs256);
    assert_eq!(ok.verified_by, "bilbo.baggins@hobbiton.example");
    // RS256 is deterministic: our signer gives the RFC's bytes.
    let key = PrivateJwk::from_jwk_value(&v["key"]).unwrap();
    let ours = jws::sign(
        v["payload"].as_str().unwrap().as_bytes(),
        &key,
        JwsAlg::Rs256,
        None,
    )
    .unwrap();
    assert_eq!(ours, compact);
}

#[test]
fn rfc7515_a3_es256_jose_signature_verifies() {
    let v = vector("rfc7515-a.3-es256.json");
    let jwks = Jwks::from_keys(vec![Jwk::from_value(&public_of(&v["key"])).unwrap()]).unwrap();
    let ok = jws::verify(v["compact"].as_str().unwrap(), &jwks, &JwsPolicy::default()).unwrap();
    assert_eq!(ok.claims().unwrap()["iss"], "joe");
    // Our ES256 signatures are r||s, 64 bytes, and verify with the RFC key.
    let key = PrivateJwk::from_jwk_value(&v["key"]).unwrap();
    let token = jws::sign(b"{}", &key, JwsAlg::Es256, Some("JWT")).unwrap();
    let sig = URL_SAFE_NO_PAD
        .decode(token.rsplit('.').next().unwrap())
        .unwrap();
    assert_eq!(sig.len(), 64);
    let jwks = Jwks::from_keys(vec![key.public_jwk().unwrap()]).unwrap();
    assert!(jws::verify(&token, &jwks, &JwsPolicy::with_typ("JWT")).is_ok());
}

#[test]
fn rfc7520_5_2_rsa_oaep_a256gcm_decrypts() {
    let v = vector("rfc7520-5.2-rsa-oaep-a256gcm.json");
    let key = PrivateJwk::from_jwk_value(&v["key"]).unwrap();
    assert_eq!(key.kid(), "samwise.gamgee@hobbiton.example");
    let out = jwe::decrypt_compact(
        v["compact"].as_str().unwrap(),
        &[key],
        &JwePolicy::default(),
    )
    .unwrap();
    assert_eq!(out.plaintext, v["plaintext"].as_str().unwrap().as_bytes());
    assert_eq!((out.alg, out.enc), (JweAlg::RsaOaep, JweEnc::A256Gcm));
}

#[test]
fn rfc7638_thumbprint_and_default_kid() {
    let v = vector("rfc7638-3.1-thumbprint.json");
    let jwk = Jwk::from_value(&v["key"]).unwrap();
    assert_eq!(jwk.thumbprint().unwrap(), v["thumbprint"].as_str().unwrap());
    let mut no_kid = v["key"].as_object().unwrap().clone();
    no_kid.remove("kid");
    let jwk = Jwk::from_value(&Value::Object(no_kid)).unwrap();
    assert_eq!(jwk.kid(), v["thumbprint"].as_str().unwrap());
}

#[test]
fn jwk_and_jwks_round_trip() {
    for key in [
        PrivateJwk::generate_rsa(2048).unwrap(),
        PrivateJwk::generate_p256().unwrap(),
    ] {
        let public = key.public_jwk().unwrap().with_use(KeyUse::Signature);
        let back = Jwk::from_value(&public.to_value()).unwrap();
        assert_eq!(back, public);
        assert_eq!(back.key_use(), Some(KeyUse::Signature));
        assert_eq!(key.kid(), public.thumbprint().unwrap());
        let pem = key.to_pem().unwrap();
        assert_eq!(PrivateJwk::from_pem(&pem).unwrap().kid(), key.kid());
        let pub_pem = public.to_public_pem().unwrap();
        assert_eq!(Jwk::from_public_pem(&pub_pem).unwrap().kid(), key.kid());
    }
    let set = Jwks::from_keys(vec![
        PrivateJwk::generate_p256().unwrap().public_jwk().unwrap(),
        PrivateJwk::generate_p256().unwrap().public_jwk().unwrap(),
    ])
    .unwrap();
    let text = serde_json::to_string(&set.to_value()).unwrap();
    assert_eq!(Jwks::parse(&text).unwrap(), set);
    // Unsupported key types are skipped, not fatal.
    let mixed = json!({"keys": [{"kty": "oct", "k": "AAAA"}, {"kty": "OKP", "crv": "Ed25519", "x": "AAAA"},
                                set.to_value()["keys"][0].clone()]});
    assert_eq!(Jwks::from_value(&mixed).unwrap().keys().len(), 1);
}

#[test]
fn jwk_refusals() {
    let v = vector("rfc7520-4.1-rs256.json");
    assert_eq!(code(Jwk::from_value(&v["key"])), "oidc_invalid_jwk"); // private member
    let ec = vector("rfc7515-a.3-es256.json");
    let mut off = public_of(&ec["key"]);
    off["y"] = json!("x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a1");
    assert_eq!(code(Jwk::from_value(&off)), "oidc_invalid_jwk"); // not on the curve
    let mut p384 = public_of(&ec["key"]);
    p384["crv"] = json!("P-384");
    assert_eq!(code(Jwk::from_value(&p384)), "oidc_invalid_jwk");
    let small = openssl::rsa::Rsa::generate(1024).unwrap();
    let small = json!({"kty": "RSA", "n": URL_SAFE_NO_PAD.encode(small.n().to_vec()),
                       "e": URL_SAFE_NO_PAD.encode(small.e().to_vec())});
    assert_eq!(code(Jwk::from_value(&small)), "oidc_invalid_jwk");
    let one = PrivateJwk::generate_p256()
        .unwrap()
        .public_jwk()
        .unwrap()
        .to_value();
    let many = json!({"keys": vec![one.clone(); 33]});
    assert_eq!(code(Jwks::from_value(&many)), "oidc_too_large");
    let dup = json!({"keys": [one.clone(), one]});
    assert_eq!(code(Jwks::from_value(&dup)), "oidc_invalid_jwk");
    assert_eq!(code(PrivateJwk::generate_rsa(1024)), "oidc_invalid_jwk");
}

#[test]
fn jws_round_trips_every_algorithm() {
    let rsa = PrivateJwk::generate_rsa(2048).unwrap();
    let ec = PrivateJwk::generate_p256().unwrap();
    let jwks = Jwks::from_keys(vec![rsa.public_jwk().unwrap(), ec.public_jwk().unwrap()]).unwrap();
    for (key, alg) in [
        (&rsa, JwsAlg::Rs256),
        (&rsa, JwsAlg::Ps256),
        (&ec, JwsAlg::Es256),
    ] {
        let t =
            jws::sign_claims(&json!({"sub": "x"}), key, alg, Some("entity-statement+jwt")).unwrap();
        let ok = jws::verify(
            &t,
            &jwks,
            &JwsPolicy::with_typ("application/entity-statement+jwt"),
        )
        .unwrap();
        assert_eq!(ok.header.alg, alg);
        assert_eq!(ok.verified_by, key.kid());
        let only = JwsPolicy {
            algorithms: vec![JwsAlg::Rs256],
            typ: None,
        };
        if alg != JwsAlg::Rs256 {
            assert_eq!(code(jws::verify(&t, &jwks, &only)), "oidc_alg_refused");
        }
    }
    assert_eq!(
        code(jws::sign(b"x", &ec, JwsAlg::Rs256, None)),
        "oidc_key_mismatch"
    );
}

/// OpenSSL's command line, an independent implementation, verifies our PS256 (salt 32,
/// MGF1-SHA-256) and RS256 signatures.
#[test]
fn openssl_cli_verifies_our_ps256_and_rs256() {
    let have = std::process::Command::new("openssl")
        .arg("version")
        .output()
        .is_ok();
    if !have {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "openssl CLI missing under CI"
        );
        eprintln!("skipped: no openssl CLI");
        return;
    }
    let key = PrivateJwk::generate_rsa(2048).unwrap();
    let dir = std::env::temp_dir().join(format!("oidc-jose-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pem = dir.join("pub.pem");
    std::fs::write(&pem, key.public_jwk().unwrap().to_public_pem().unwrap()).unwrap();
    for (alg, opts) in [
        (
            JwsAlg::Ps256,
            vec![
                "-sigopt",
                "rsa_padding_mode:pss",
                "-sigopt",
                "rsa_pss_saltlen:32",
            ],
        ),
        (JwsAlg::Rs256, vec![]),
    ] {
        let token = jws::sign(b"{\"iss\":\"x\"}", &key, alg, None).unwrap();
        let (input, sig) = token.rsplit_once('.').unwrap();
        let (i, s) = (dir.join("input"), dir.join("sig"));
        std::fs::write(&i, input).unwrap();
        std::fs::write(&s, URL_SAFE_NO_PAD.decode(sig).unwrap()).unwrap();
        let out = std::process::Command::new("openssl")
            .args(["dgst", "-sha256"])
            .args(&opts)
            .arg("-verify")
            .arg(&pem)
            .arg("-signature")
            .arg(&s)
            .arg(&i)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{alg:?}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn jws_refusals_have_stable_codes() {
    let key = PrivateJwk::generate_rsa(2048).unwrap();
    let jwks = Jwks::from_keys(vec![key.public_jwk().unwrap()]).unwrap();
    let good = jws::sign(b"{\"a\":1}", &key, JwsAlg::Rs256, Some("JWT")).unwrap();
    let (h, rest) = good.split_once('.').unwrap();
    let (p, s) = rest.split_once('.').unwrap();
    let p0 = JwsPolicy::default();
    let with_header = |hdr: Value| format!("{}.{p}.{s}", b64(&hdr));
    let kid = key.kid();
    for (hdr, expected) in [
        (json!({"alg": "none"}), "oidc_alg_refused"),
        (json!({"alg": "HS256", "kid": kid}), "oidc_alg_refused"),
        (json!({"alg": "PS384", "kid": kid}), "oidc_alg_refused"),
        (json!({"alg": "ES512", "kid": kid}), "oidc_alg_refused"),
        (json!({"alg": "rs256", "kid": kid}), "oidc_alg_refused"),
        (
            json!({"alg": "RS256", "kid": kid, "crit": ["exp"], "exp": 1}),
            "oidc_crit_refused",
        ),
        (
            json!({"alg": "RS256", "kid": kid, "jku": "https://evil.example/jwks"}),
            "oidc_header_key_refused",
        ),
        (
            json!({"alg": "RS256", "kid": kid, "x5u": "https://evil.example/c"}),
            "oidc_header_key_refused",
        ),
        (
            json!({"alg": "RS256", "kid": kid, "jwk": key.public_jwk().unwrap().to_value()}),
            "oidc_header_key_refused",
        ),
        (json!({"alg": "RS256", "kid": "other"}), "oidc_unknown_key"),
        (
            json!({"alg": "RS256", "kid": kid, "typ": "JWT", "x": 1}),
            "oidc_bad_signature",
        ),
    ] {
        assert_eq!(
            code(jws::verify(&with_header(hdr.clone()), &jwks, &p0)),
            expected,
            "{hdr}"
        );
    }
    // Unsigned "none" token with an empty signature.
    let none = format!("{}.{p}.", b64(&json!({"alg": "none"})));
    assert_eq!(code(jws::verify(&none, &jwks, &p0)), "oidc_alg_refused");
    // Duplicate header member.
    let dup = URL_SAFE_NO_PAD.encode(format!(
        "{{\"alg\":\"RS256\",\"kid\":\"{kid}\",\"alg\":\"none\"}}"
    ));
    assert_eq!(
        code(jws::verify(&format!("{dup}.{p}.{s}"), &jwks, &p0)),
        "oidc_duplicate_member"
    );
    // Tampered payload and signature.
    let other = URL_SAFE_NO_PAD.encode(b"{\"a\":2}");
    assert_eq!(
        code(jws::verify(&format!("{h}.{other}.{s}"), &jwks, &p0)),
        "oidc_bad_signature"
    );
    let mut sig = URL_SAFE_NO_PAD.decode(s).unwrap();
    sig[10] ^= 1;
    let t = format!("{h}.{p}.{}", URL_SAFE_NO_PAD.encode(&sig));
    assert_eq!(code(jws::verify(&t, &jwks, &p0)), "oidc_bad_signature");
    // Wrong typ, malformed, too large, padding in base64url.
    assert_eq!(
        code(jws::verify(
            &good,
            &jwks,
            &JwsPolicy::with_typ("entity-statement+jwt")
        )),
        "oidc_wrong_typ"
    );
    assert_eq!(
        code(jws::verify(&format!("{h}.{p}"), &jwks, &p0)),
        "oidc_malformed"
    );
    assert_eq!(
        code(jws::verify(&format!("{good}.x"), &jwks, &p0)),
        "oidc_malformed"
    );
    assert_eq!(
        code(jws::verify(&format!("{h}=.{p}.{s}"), &jwks, &p0)),
        "oidc_malformed"
    );
    let big = format!("{h}.{}.{s}", "A".repeat(70_000));
    assert_eq!(code(jws::verify(&big, &jwks, &p0)), "oidc_too_large");
    // An RS256 header naming an EC key.
    let ec = PrivateJwk::generate_p256().unwrap();
    let ec_set = Jwks::from_keys(vec![ec.public_jwk().unwrap()]).unwrap();
    let t = with_header(json!({"alg": "RS256", "kid": ec.kid()}));
    assert_eq!(code(jws::verify(&t, &ec_set, &p0)), "oidc_key_mismatch");
    // A DER ECDSA signature is not a JOSE one.
    let es = jws::sign(b"{}", &ec, JwsAlg::Es256, None).unwrap();
    let (input, raw) = es.rsplit_once('.').unwrap();
    let raw = URL_SAFE_NO_PAD.decode(raw).unwrap();
    let r = openssl::bn::BigNum::from_slice(&raw[..32]).unwrap();
    let s2 = openssl::bn::BigNum::from_slice(&raw[32..]).unwrap();
    let der = openssl::ecdsa::EcdsaSig::from_private_components(r, s2)
        .unwrap()
        .to_der()
        .unwrap();
    let t = format!("{input}.{}", URL_SAFE_NO_PAD.encode(der));
    assert_eq!(code(jws::verify(&t, &ec_set, &p0)), "oidc_bad_signature");
    // A key declared for encryption does not verify signatures.
    let enc_set =
        Jwks::from_keys(vec![key.public_jwk().unwrap().with_use(KeyUse::Encryption)]).unwrap();
    assert_eq!(code(jws::verify(&good, &enc_set, &p0)), "oidc_key_mismatch");
}

#[test]
fn jwe_round_trips_and_refusals() {
    let key = PrivateJwk::generate_rsa(2048).unwrap();
    let public = key.public_jwk().unwrap();
    let keys = [key.clone()];
    let p0 = JwePolicy::default();
    for alg in [JweAlg::RsaOaep, JweAlg::RsaOaep256] {
        for enc in [JweEnc::A128CbcHs256, JweEnc::A256CbcHs512, JweEnc::A256Gcm] {
            let t =
                jwe::encrypt_compact(b"nested.jwt.here", &public, alg, enc, Some("JWT")).unwrap();
            let out = jwe::decrypt_compact(&t, &keys, &p0).unwrap();
            assert_eq!(out.plaintext, b"nested.jwt.here");
            assert_eq!(out.cty.as_deref(), Some("JWT"));
            // Every tampered part fails with the one decryption error.
            let parts: Vec<&str> = t.split('.').collect();
            for i in 1..5 {
                let mut bytes = URL_SAFE_NO_PAD.decode(parts[i]).unwrap();
                bytes[0] ^= 1;
                let mut p = parts.clone();
                let swapped = URL_SAFE_NO_PAD.encode(&bytes);
                p[i] = &swapped;
                assert_eq!(
                    code(jwe::decrypt_compact(&p.join("."), &keys, &p0)),
                    "oidc_decryption_failed"
                );
            }
        }
    }
    let t = jwe::encrypt_compact(b"x", &public, JweAlg::RsaOaep, JweEnc::A256Gcm, None).unwrap();
    let rest = t.split_once('.').unwrap().1;
    for (hdr, expected) in [
        (
            json!({"alg": "RSA1_5", "enc": "A256GCM", "kid": key.kid()}),
            "oidc_alg_refused",
        ),
        (json!({"alg": "dir", "enc": "A256GCM"}), "oidc_alg_refused"),
        (
            json!({"alg": "ECDH-ES", "enc": "A256GCM"}),
            "oidc_alg_refused",
        ),
        (
            json!({"alg": "RSA-OAEP", "enc": "A128GCM", "kid": key.kid()}),
            "oidc_alg_refused",
        ),
        (
            json!({"alg": "RSA-OAEP", "enc": "A256GCM", "kid": key.kid(), "zip": "DEF"}),
            "oidc_zip_refused",
        ),
        (
            json!({"alg": "RSA-OAEP", "enc": "A256GCM", "kid": key.kid(), "crit": ["x"]}),
            "oidc_crit_refused",
        ),
        (
            json!({"alg": "RSA-OAEP", "enc": "A256GCM", "kid": "nope"}),
            "oidc_unknown_key",
        ),
        // The header is the AAD: a changed header fails at the tag.
        (
            json!({"alg": "RSA-OAEP", "enc": "A256GCM", "kid": key.kid(), "x": 1}),
            "oidc_decryption_failed",
        ),
    ] {
        let tok = format!("{}.{rest}", b64(&hdr));
        assert_eq!(
            code(jwe::decrypt_compact(&tok, &keys, &p0)),
            expected,
            "{hdr}"
        );
    }
    let only_gcm = JwePolicy {
        algorithms: vec![JweAlg::RsaOaep256],
        encryptions: vec![JweEnc::A256Gcm],
    };
    assert_eq!(
        code(jwe::decrypt_compact(&t, &keys, &only_gcm)),
        "oidc_alg_refused"
    );
    let ec = PrivateJwk::generate_p256().unwrap();
    assert_eq!(
        code(jwe::encrypt_compact(
            b"x",
            &ec.public_jwk().unwrap(),
            JweAlg::RsaOaep,
            JweEnc::A256Gcm,
            None
        )),
        "oidc_key_mismatch"
    );
    assert_eq!(
        code(jwe::decrypt_compact("a.b.c.d", &keys, &p0)),
        "oidc_malformed"
    );
}

/// Hostile input: every single-character substitution and every truncation of a valid
/// JWS, JWE and JWKS is refused with an error (or, for a no-op change, accepted): never
/// a panic.
#[test]
fn mutated_inputs_are_refused_without_panic() {
    let key = PrivateJwk::generate_rsa(2048).unwrap();
    let jwks = Jwks::from_keys(vec![key.public_jwk().unwrap()]).unwrap();
    let token = jws::sign_claims(
        &json!({"iss": "https://op.example", "n": [1, 2]}),
        &key,
        JwsAlg::Ps256,
        Some("JWT"),
    )
    .unwrap();
    let enc = jwe::encrypt_compact(
        token.as_bytes(),
        &key.public_jwk().unwrap(),
        JweAlg::RsaOaep256,
        JweEnc::A256CbcHs512,
        Some("JWT"),
    )
    .unwrap();
    let set = serde_json::to_string(&jwks.to_value()).unwrap();
    let keys = [key.clone()];
    let mut refused = 0usize;
    for (text, kind) in [(&token, 0), (&enc, 1), (&set, 2)] {
        let step = (text.len() / 150).max(1);
        for i in (0..text.len()).step_by(step) {
            for c in ['.', 'A', '_', '=', '"', '{', '\u{e9}'] {
                let mut m = text[..i].to_owned();
                m.push(c);
                m.push_str(&text[i + 1..]);
                for candidate in [m, text[..i].to_owned()] {
                    let failed = match kind {
                        0 => {
                            jws::verify(&candidate, &jwks, &JwsPolicy::default()).is_err()
                                | jws::decode_unverified(&candidate).is_err()
                                | spid_sp::oidc::EntityStatement::decode_unverified(&candidate)
                                    .is_err()
                        }
                        1 => {
                            jwe::decrypt_compact(&candidate, &keys, &JwePolicy::default()).is_err()
                        }
                        _ => Jwks::parse(&candidate).is_err(),
                    };
                    refused += usize::from(failed);
                }
            }
        }
    }
    assert!(refused > 2000, "{refused}");
}
