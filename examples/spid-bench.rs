//! `spid-bench`: this SDK as a row of the SPID peer benchmark (pysaml2, python3-saml,
//! node-saml, samael), following the adapter contract of that harness:
//!
//! ```text
//! spid-bench --fixtures DIR --op check|verify|authn|authn-check [--iterations N] [--warmup W]
//!            [--response-file B64FILE] [--binding post|redirect] [--clock system|fixture]
//! spid-bench --op make-fixtures --out DIR [--validity S] [--fixed-time 2026-01-15T10:00:00Z]
//! ```
//!
//! - `verify`: base64 `SAMLResponse` in → verified login out, through the public API exactly
//!   as an ACS handler calls it: [`ServiceProvider::finish_login`] with both signatures
//!   required (`require_response_signature(true)`), every SPID check on, the identity
//!   (fiscal code, attributes) extracted. The only departure from production: a no-op
//!   [`ReplayCache`] (a custom implementation of the public trait), because the same
//!   Response is verified N times; the replay cache of a real deployment is a store round
//!   trip that is not part of the library's cost.
//! - `authn`: [`ServiceProvider::start_login`] for HTTP-POST: build + enveloped RSA-SHA256
//!   signature + base64 for the form, a new request ID each iteration (`--binding
//!   redirect`: deflate + query signature instead).
//! - `check` / `authn-check`: one verify (prints `ACCEPTED`, the NameID and every
//!   attribute) / one signed AuthnRequest on stdout.
//! - `make-fixtures`: writes the same fixture set as the harness's `make-fixtures.py`
//!   (keys, IdP metadata, a both-signed 9.5 KB SPID Response, its two tampered copies,
//!   `params.json`), signed with this library instead of the xmlsec1 CLI, so the row can be
//!   reproduced without the harness (`benches/peers.sh`).
//!
//! One JSON line per timed run: `us_per_op` (wall), `ops_per_s`, `cpu_us_per_op` (on-CPU
//! time of the process over the timed loop, from `/proc/self/schedstat`), `maxrss_kb`.

use std::error::Error;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use openssl::asn1::Asn1Time;
use openssl::bn::BigNum;
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::rsa::Rsa;
use openssl::x509::{X509Builder, X509NameBuilder};
use spid_sp::dsig::{self, SignatureAlgorithm, SignatureAnchor};
use spid_sp::metadata::IdentityProvider;
use spid_sp::store::{ReplayCache, StoreError};
use spid_sp::{
    Binding, Comparison, EntityId, FixedClock, Incoming, LoginOptions, PendingLogin, RelayState,
    RequestId, ServiceProvider, SigningKey, SpConfig, SpidLevel, Timestamp,
};

type Res<T> = Result<T, Box<dyn Error>>;

const VERSION: &str = env!("CARGO_PKG_VERSION");

struct Args {
    fixtures: PathBuf,
    op: String,
    iterations: u64,
    warmup: u64,
    response_file: Option<PathBuf>,
    binding: Binding,
    fixture_clock: bool,
    out: Option<PathBuf>,
    validity: i64,
    fixed_time: Option<Timestamp>,
}

fn parse_args() -> Res<Args> {
    let mut a = Args {
        fixtures: PathBuf::new(),
        op: String::new(),
        iterations: 200,
        warmup: 20,
        response_file: None,
        binding: Binding::Post,
        fixture_clock: false,
        out: None,
        validity: 900,
        fixed_time: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--fixtures" => a.fixtures = value()?.into(),
            "--op" => a.op = value()?,
            "--iterations" => a.iterations = value()?.parse()?,
            "--warmup" => a.warmup = value()?.parse()?,
            "--response-file" => a.response_file = Some(value()?.into()),
            "--binding" => {
                a.binding = match value()?.as_str() {
                    "post" => Binding::Post,
                    "redirect" => Binding::Redirect,
                    other => return Err(format!("unknown binding {other}").into()),
                }
            }
            "--clock" => {
                a.fixture_clock = match value()?.as_str() {
                    "system" => false,
                    "fixture" => true,
                    other => return Err(format!("unknown clock {other}").into()),
                }
            }
            "--out" => a.out = Some(value()?.into()),
            "--validity" => a.validity = value()?.parse()?,
            "--fixed-time" => {
                a.fixed_time = Some(Timestamp::parse(&value()?).map_err(|_| "bad --fixed-time")?)
            }
            "-h" | "--help" => {
                println!("see the documentation at the top of examples/spid-bench.rs");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    if a.op.is_empty() || (a.op != "make-fixtures" && a.fixtures.as_os_str().is_empty()) {
        return Err("need --fixtures DIR --op OP (or --op make-fixtures --out DIR)".into());
    }
    Ok(a)
}

/// The replay cache of the benchmark: accepts everything (see the module docs).
struct NoReplayCache;

impl ReplayCache for NoReplayCache {
    fn insert_once(&self, _: &str, _: Timestamp, _: Timestamp) -> Result<bool, StoreError> {
        Ok(true)
    }
}

/// The fixture's `params.json`.
struct Params {
    sp_entity_id: String,
    acs_url: String,
    idp_entity_id: String,
    in_response_to: String,
    issue_instant: Timestamp,
    not_on_or_after: Timestamp,
    file: serde_json::Value,
}

impl Params {
    fn load(dir: &Path) -> Res<Params> {
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("params.json"))?)?;
        let s = |k: &str| -> Res<String> {
            Ok(v.get(k)
                .and_then(|x| x.as_str())
                .ok_or_else(|| format!("params.json: no {k}"))?
                .to_owned())
        };
        let t = |k: &str| -> Res<Timestamp> {
            Timestamp::parse(&s(k)?).map_err(|_| format!("params.json: bad {k}").into())
        };
        Ok(Params {
            sp_entity_id: s("sp_entity_id")?,
            acs_url: s("acs_url")?,
            idp_entity_id: s("idp_entity_id")?,
            in_response_to: s("in_response_to")?,
            issue_instant: t("issue_instant")?,
            not_on_or_after: t("not_on_or_after")?,
            file: v.get("files").cloned().unwrap_or_default(),
        })
    }

    fn path(&self, dir: &Path, key: &str, default: &str) -> PathBuf {
        dir.join(
            self.file
                .get(key)
                .and_then(|x| x.as_str())
                .unwrap_or(default),
        )
    }
}

/// The SP of the benchmark, configured once as in production.
fn service_provider(dir: &Path, p: &Params, fixture_clock: bool) -> Res<ServiceProvider> {
    let key = SigningKey::from_pem(
        &std::fs::read(p.path(dir, "sp_key", "sp.key.pem"))?,
        &std::fs::read(p.path(dir, "sp_cert", "sp.crt.pem"))?,
    )?;
    let config = SpConfig::builder(&p.sp_entity_id, key)
        .assertion_consumer_service(&p.acs_url)
        .attribute_service(
            0,
            "Servizi online",
            &["fiscalNumber", "name", "familyName", "email", "dateOfBirth"],
        )
        .require_response_signature(true)
        .build()?;
    let metadata = std::fs::read_to_string(p.path(dir, "idp_metadata", "idp-metadata.xml"))?;
    let idps = IdentityProvider::from_metadata(&metadata)?;
    let mut sp = ServiceProvider::new(config, idps)
        .expect("service provider")
        .with_replay_cache(Arc::new(NoReplayCache));
    if fixture_clock {
        sp = sp.with_clock(Arc::new(FixedClock(p.issue_instant.plus_seconds(1))));
    }
    Ok(sp)
}

/// What the SP stored when it sent the AuthnRequest the fixture answers.
fn pending(p: &Params) -> PendingLogin {
    PendingLogin::from_parts(
        RequestId::new(&p.in_response_to),
        EntityId::new(&p.idp_entity_id),
        p.issue_instant,
        p.not_on_or_after,
        SpidLevel::L2,
        Comparison::Minimum,
        &p.acs_url,
        0,
        RelayState::new("bench-relay-state"),
    )
}

/// On-CPU time of this process so far, in seconds.
fn cpu_seconds() -> f64 {
    if let Some(ns) = std::fs::read_to_string("/proc/self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .filter(|ns| *ns > 0.0)
    {
        return ns / 1e9;
    }
    // Fallback: utime + stime in clock ticks (USER_HZ = 100 on Linux).
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let rest = s.rsplit_once(')')?.1;
            let f: Vec<&str> = rest.split_whitespace().collect();
            let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
            Some(ticks / 100.0)
        })
        .unwrap_or(0.0)
}

fn maxrss_kb() -> i64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(-1)
}

fn timed<F: FnMut() -> Res<()>>(op: &str, a: &Args, note: &str, mut f: F) -> Res<()> {
    for _ in 0..a.warmup {
        f()?;
    }
    let c0 = cpu_seconds();
    let t0 = Instant::now();
    for _ in 0..a.iterations {
        f()?;
    }
    let wall = t0.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - c0;
    let n = a.iterations.max(1) as f64;
    let r1 = |x: f64| (x * 10.0).round() / 10.0;
    let line = serde_json::json!({
        "peer": if a.binding == Binding::Redirect { "spid-sp [redirect]" } else { "spid-sp" },
        "version": VERSION,
        "op": op,
        "iterations": a.iterations,
        "us_per_op": r1(wall / n * 1e6),
        "ops_per_s": r1(n / wall),
        "cpu_us_per_op": r1(cpu / n * 1e6),
        "maxrss_kb": maxrss_kb(),
        "note": note,
    });
    println!("{line}");
    Ok(())
}

fn run(a: &Args) -> Res<ExitCode> {
    if a.op == "make-fixtures" {
        let out = a.out.as_deref().ok_or("make-fixtures needs --out DIR")?;
        make_fixtures(out, a.validity, a.fixed_time)?;
        return Ok(ExitCode::SUCCESS);
    }
    let dir = a.fixtures.as_path();
    let p = Params::load(dir)?;
    let sp = service_provider(dir, &p, a.fixture_clock)?;
    let pending = pending(&p);
    let b64_path = a
        .response_file
        .clone()
        .unwrap_or_else(|| p.path(dir, "response_b64", "response.b64"));
    let incoming = Incoming::Post {
        message: std::fs::read_to_string(b64_path)?.trim().to_owned(),
        relay_state: Some(pending.relay_state().as_str().to_owned()),
    };
    let options = LoginOptions {
        binding: a.binding,
        ..LoginOptions::default()
    };

    match a.op.as_str() {
        "check" => match sp.finish_login(&incoming, pending) {
            Ok(login) => {
                println!(
                    "ACCEPTED level={} key={:?}",
                    login.level(),
                    login.key().map(|k| k.to_string())
                );
                println!("NameID: {}", login.session().name_id.as_str());
                for (name, values) in login.identity().attributes().iter() {
                    println!("  {name} = {}", values.join(", "));
                }
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                println!("REJECTED: {e}");
                Ok(ExitCode::FAILURE)
            }
        },
        "verify" => {
            timed(
                "verify",
                a,
                "ServiceProvider::finish_login (public API): both signatures required, all SPID \
                 checks, identity extracted; replay cache = a no-op impl of the public \
                 ReplayCache trait (the same Response is verified N times)",
                || {
                    let login = sp.finish_login(&incoming, pending.clone())?;
                    black_box(login.session().name_id.as_str().len());
                    black_box(login.identity().attributes().len());
                    black_box(login);
                    Ok(())
                },
            )?;
            Ok(ExitCode::SUCCESS)
        }
        "authn" => {
            let idp = p.idp_entity_id.as_str();
            timed(
                "authn",
                a,
                match a.binding {
                    Binding::Redirect => "ServiceProvider::start_login, HTTP-Redirect: build + deflate + RSA-SHA256 query signature",
                    _ => "ServiceProvider::start_login, HTTP-POST: build + enveloped RSA-SHA256 + base64 form value",
                },
                || {
                    let (out, pending) = sp.start_login(idp, &options)?;
                    black_box(out);
                    black_box(pending);
                    Ok(())
                },
            )?;
            Ok(ExitCode::SUCCESS)
        }
        "authn-check" => {
            let (out, _) = sp.start_login(&p.idp_entity_id, &options)?;
            match out.redirect_url() {
                Some(url) => println!("{url}"),
                None => println!("{}", out.xml()),
            }
            Ok(ExitCode::SUCCESS)
        }
        other => Err(format!("unknown --op {other}").into()),
    }
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("spid-bench: {e}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("spid-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

// ------------------------------------------------------------------ fixtures

const SP_ENTITY_ID: &str = "https://sp.example.it/spid";
const ACS_URL: &str = "https://sp.example.it/spid/acs";
const IDP_ENTITY_ID: &str = "https://idp.example.it";
const IDP_SSO_URL: &str = "https://idp.example.it/sso";
const NS_SAMLP: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
const NS_SAML: &str = "urn:oasis:names:tc:SAML:2.0:assertion";

/// SPID attribute set of the harness (names per the SPID rules; values are fake).
const SPID_ATTRIBUTES: [(&str, &str, &str); 11] = [
    ("spidCode", "xs:string", "SPID-002TENT0000001"),
    ("name", "xs:string", "Mario"),
    ("familyName", "xs:string", "Rossi"),
    ("placeOfBirth", "xs:string", "F205"),
    ("countyOfBirth", "xs:string", "MI"),
    ("dateOfBirth", "xs:date", "1980-01-01"),
    ("gender", "xs:string", "M"),
    ("fiscalNumber", "xs:string", "TINIT-RSSMRA80A01F205X"),
    ("email", "xs:string", "mario.rossi@example.it"),
    ("mobilePhone", "xs:string", "+393331234567"),
    ("address", "xs:string", "Via Roma 1 20121 Milano MI"),
];

/// `YYYY-MM-DDThh:mm:ssZ` (whole seconds, as the harness writes them).
fn ts(t: Timestamp) -> String {
    Timestamp::from_unix_seconds(t.unix_seconds())
        .to_string()
        .replace(".000Z", "Z")
}

/// An RSA-2048 key and self-signed certificate, created once and reused.
fn keypair(dir: &Path, name: &str, cn: &str) -> Res<SigningKey> {
    let (key_path, crt_path) = (
        dir.join(format!("{name}.key.pem")),
        dir.join(format!("{name}.crt.pem")),
    );
    if key_path.exists() && crt_path.exists() {
        return Ok(SigningKey::from_pem(
            &std::fs::read(&key_path)?,
            &std::fs::read(&crt_path)?,
        )?);
    }
    let key = PKey::from_rsa(Rsa::generate(2048)?)?;
    let mut subject = X509NameBuilder::new()?;
    subject.append_entry_by_text("C", "IT")?;
    subject.append_entry_by_text("CN", cn)?;
    let subject = subject.build();
    let mut b = X509Builder::new()?;
    b.set_version(2)?;
    let serial = BigNum::from_u32(1)?.to_asn1_integer()?;
    b.set_serial_number(&serial)?;
    b.set_subject_name(&subject)?;
    b.set_issuer_name(&subject)?;
    b.set_pubkey(&key)?;
    let (not_before, not_after) = (Asn1Time::days_from_now(0)?, Asn1Time::days_from_now(3650)?);
    b.set_not_before(&not_before)?;
    b.set_not_after(&not_after)?;
    b.sign(&key, MessageDigest::sha256())?;
    let cert = b.build();
    std::fs::write(&key_path, key.private_key_to_pem_pkcs8()?)?;
    std::fs::write(&crt_path, cert.to_pem()?)?;
    Ok(SigningKey::new(key, cert)?)
}

/// The harness's Response template (`make-fixtures.py`), unsigned.
fn response_template(now: Timestamp, until: Timestamp, irt: &str) -> (String, String, String) {
    let rid = RequestId::random().expect("RNG").as_str().to_owned();
    let aid = RequestId::random().expect("RNG").as_str().to_owned();
    let attrs: String = SPID_ATTRIBUTES
        .iter()
        .map(|(name, ty, value)| {
            format!(
                "<saml:Attribute Name=\"{name}\" NameFormat=\"urn:oasis:names:tc:SAML:2.0:attrname-format:basic\">\
                 <saml:AttributeValue xmlns:xs=\"http://www.w3.org/2001/XMLSchema\" \
                 xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"{ty}\">{value}</saml:AttributeValue>\
                 </saml:Attribute>"
            )
        })
        .collect();
    let (now, until) = (ts(now), ts(until));
    let name_id = RequestId::random().expect("RNG");
    let session_index = RequestId::random().expect("RNG");
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <samlp:Response xmlns:samlp=\"{NS_SAMLP}\" xmlns:saml=\"{NS_SAML}\" ID=\"{rid}\" Version=\"2.0\" \
         IssueInstant=\"{now}\" Destination=\"{ACS_URL}\" InResponseTo=\"{irt}\">\
         <saml:Issuer Format=\"urn:oasis:names:tc:SAML:2.0:nameid-format:entity\">{IDP_ENTITY_ID}</saml:Issuer>\
         <samlp:Status><samlp:StatusCode Value=\"urn:oasis:names:tc:SAML:2.0:status:Success\"/></samlp:Status>\
         <saml:Assertion ID=\"{aid}\" Version=\"2.0\" IssueInstant=\"{now}\">\
         <saml:Issuer Format=\"urn:oasis:names:tc:SAML:2.0:nameid-format:entity\">{IDP_ENTITY_ID}</saml:Issuer>\
         <saml:Subject>\
         <saml:NameID Format=\"urn:oasis:names:tc:SAML:2.0:nameid-format:transient\" \
         NameQualifier=\"{IDP_ENTITY_ID}\">{name_id}</saml:NameID>\
         <saml:SubjectConfirmation Method=\"urn:oasis:names:tc:SAML:2.0:cm:bearer\">\
         <saml:SubjectConfirmationData InResponseTo=\"{irt}\" NotOnOrAfter=\"{until}\" Recipient=\"{ACS_URL}\"/>\
         </saml:SubjectConfirmation>\
         </saml:Subject>\
         <saml:Conditions NotBefore=\"{now}\" NotOnOrAfter=\"{until}\">\
         <saml:AudienceRestriction><saml:Audience>{SP_ENTITY_ID}</saml:Audience></saml:AudienceRestriction>\
         </saml:Conditions>\
         <saml:AuthnStatement AuthnInstant=\"{now}\" SessionIndex=\"{session_index}\">\
         <saml:AuthnContext><saml:AuthnContextClassRef>https://www.spid.gov.it/SpidL2</saml:AuthnContextClassRef></saml:AuthnContext>\
         </saml:AuthnStatement>\
         <saml:AttributeStatement>{attrs}</saml:AttributeStatement>\
         </saml:Assertion>\
         </samlp:Response>\n"
    );
    (xml, rid, aid)
}

fn metadata(entity: &str, cert_b64: &str, idp: bool) -> String {
    let head = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" \
                xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" entityID=\"";
    let key = format!(
        "<md:KeyDescriptor use=\"signing\"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert_b64}\
         </ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>\
         <md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:transient</md:NameIDFormat>"
    );
    if idp {
        format!(
            "{head}{entity}\"><md:IDPSSODescriptor WantAuthnRequestsSigned=\"true\" \
             protocolSupportEnumeration=\"{NS_SAMLP}\">{key}\
             <md:SingleSignOnService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST\" Location=\"{IDP_SSO_URL}\"/>\
             <md:SingleSignOnService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect\" Location=\"{IDP_SSO_URL}\"/>\
             <md:SingleLogoutService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST\" Location=\"https://idp.example.it/slo\"/>\
             </md:IDPSSODescriptor></md:EntityDescriptor>\n"
        )
    } else {
        format!(
            "{head}{entity}\"><md:SPSSODescriptor AuthnRequestsSigned=\"true\" WantAssertionsSigned=\"true\" \
             protocolSupportEnumeration=\"{NS_SAMLP}\">{key}\
             <md:AssertionConsumerService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST\" \
             Location=\"{ACS_URL}\" index=\"0\" isDefault=\"true\"/>\
             </md:SPSSODescriptor></md:EntityDescriptor>\n"
        )
    }
}

/// Writes the harness's fixture set into `out`, signed by this library: Assertion first,
/// then Response, each `ds:Signature` right after its Issuer. Also writes
/// `response-assertion-only.b64` (only the Assertion signed) for the criterion benches.
fn make_fixtures(out: &Path, validity: i64, fixed_time: Option<Timestamp>) -> Res<()> {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    std::fs::create_dir_all(out)?;
    let idp_key = keypair(out, "idp", "idp.example.it")?;
    keypair(out, "sp", "sp.example.it")?;
    let sp_key = SigningKey::from_pem(
        &std::fs::read(out.join("sp.key.pem"))?,
        &std::fs::read(out.join("sp.crt.pem"))?,
    )?;
    let now = fixed_time
        .unwrap_or_else(|| spid_sp::Clock::now(&spid_sp::SystemClock))
        .unix_seconds();
    let now = Timestamp::from_unix_seconds(now);
    let until = now.plus_seconds(validity);
    let irt = RequestId::random().expect("RNG").as_str().to_owned();
    let (template, rid, aid) = response_template(now, until, &irt);

    let anchor = SignatureAnchor::After(NS_SAML, "Issuer");
    let alg = SignatureAlgorithm::RsaSha256;
    let assertion_signed = dsig::sign_element(&template, Some(&aid), &idp_key, alg, anchor)?;
    let signed = dsig::sign_element(&assertion_signed, Some(&rid), &idp_key, alg, anchor)?;

    let write = |name: &str, data: &str| std::fs::write(out.join(name), data);
    let write_b64 = |name: &str, xml: &str| write(name, &(b64.encode(xml) + "\n"));
    write("response.xml", &signed)?;
    write_b64("response.b64", &signed)?;
    write_b64("response-assertion-only.b64", &assertion_signed)?;
    let tampered = signed.replace("TINIT-RSSMRA80A01F205X", "TINIT-RSSMRA80A01F205Y");
    write_b64("response-tampered.b64", &tampered)?;
    let outer_old = format!("ID=\"{rid}\" Version=\"2.0\" IssueInstant=\"{}\"", ts(now));
    let outer_new = format!(
        "ID=\"{rid}\" Version=\"2.0\" IssueInstant=\"{}\"",
        ts(now.plus_seconds(1))
    );
    if signed.matches(&outer_old).count() != 1 {
        return Err("fixture: Response IssueInstant not found once".into());
    }
    write_b64(
        "response-outer-tampered.b64",
        &signed.replace(&outer_old, &outer_new),
    )?;
    write(
        "idp-metadata.xml",
        &metadata(IDP_ENTITY_ID, idp_key.certificate_base64(), true),
    )?;
    write(
        "sp-metadata.xml",
        &metadata(SP_ENTITY_ID, sp_key.certificate_base64(), false),
    )?;
    let params = serde_json::json!({
        "sp_entity_id": SP_ENTITY_ID,
        "acs_url": ACS_URL,
        "idp_entity_id": IDP_ENTITY_ID,
        "idp_sso_url": IDP_SSO_URL,
        "in_response_to": irt,
        "issue_instant": ts(now),
        "not_on_or_after": ts(until),
        "authn_context": "https://www.spid.gov.it/SpidL2",
        "files": {
            "idp_cert": "idp.crt.pem", "idp_key": "idp.key.pem",
            "sp_cert": "sp.crt.pem", "sp_key": "sp.key.pem",
            "idp_metadata": "idp-metadata.xml", "sp_metadata": "sp-metadata.xml",
            "response_xml": "response.xml", "response_b64": "response.b64",
            "response_tampered_b64": "response-tampered.b64",
            "response_outer_tampered_b64": "response-outer-tampered.b64",
            "response_assertion_only_b64": "response-assertion-only.b64",
        },
        "response_bytes": signed.len(),
        "signed_by": format!("spid-sp {VERSION} (examples/spid-bench.rs make-fixtures)"),
    });
    write(
        "params.json",
        &(serde_json::to_string_pretty(&params)? + "\n"),
    )?;
    eprintln!(
        "fixtures in {}: response.xml {} bytes, InResponseTo={irt}, valid until {}",
        out.display(),
        signed.len(),
        ts(until)
    );
    Ok(())
}
