//! The `spid-sp` binary, run as a user would: every command, good and bad input. Bad
//! input must give a one-line error and a non-zero exit, never a panic.
#![cfg(feature = "cli")]

mod common;

use std::io::{Read as _, Write as _};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::keypair;
use spid_sp::test_idp::{ResponseSpec, TestIdp};
use spid_sp::{Binding, LoginOptions, ServiceProvider, SpConfig, SpidLevel, Timestamp};

const BIN: &str = env!("CARGO_BIN_EXE_spid-sp");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

struct Run {
    status: i32,
    stdout: String,
    stderr: String,
}

fn run_in(dir: &Path, args: &[&str], stdin: Option<&str>) -> Run {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
    let mut child = cmd.spawn().unwrap();
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    let Output {
        status,
        stdout,
        stderr,
    } = child.wait_with_output().unwrap();
    let r = Run {
        status: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    };
    assert!(
        !r.stderr.contains("panicked") && !r.stderr.contains("RUST_BACKTRACE"),
        "panic: {}",
        r.stderr
    );
    r
}

fn run(args: &[&str]) -> Run {
    run_in(Path::new(ROOT), args, None)
}

/// A failure: the expected exit status and exactly one line on stderr.
fn assert_fails(r: &Run, status: i32, needle: &str) {
    assert_eq!(
        r.status, status,
        "stdout: {}\nstderr: {}",
        r.stdout, r.stderr
    );
    let lines: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| !l.starts_with("spid-sp: warning:"))
        .collect();
    assert_eq!(lines.len(), 1, "one-line error expected, got: {}", r.stderr);
    assert!(lines[0].starts_with("spid-sp: "), "{}", r.stderr);
    assert!(r.stderr.contains(needle), "{needle:?} not in {}", r.stderr);
}

fn tempdir(name: &str) -> PathBuf {
    let dir = Path::new(ROOT)
        .join("target/tmp/cli-tests")
        .join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn keygen_public_and_private() {
    let dir = tempdir("keygen");
    let public = dir.join("public");
    let r = run(&[
        "keygen",
        "--sector",
        "public",
        "--out",
        s(&public),
        "--common-name",
        "Comune di Forlì",
        "--org-name",
        "Comune di Forlì",
        "--entity-id",
        "https://servizi.comune.forli.fc.it/spid",
        "--org-id",
        "PA:IT-c_d704",
        "--locality",
        "Forlì",
        "--key-bits",
        "2048",
    ]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert!(r
        .stdout
        .contains("compliant with Avviso SPID n.29 v3 (public sector)"));
    assert!(public.join("key.pem").exists() && public.join("crt.pem").exists());
    assert!(!public.join("csr.pem").exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(public.join("key.pem"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o077,
            0,
            "the private key must not be readable by others"
        );
    }
    // The pair loads as an SP signing key.
    let key = spid_sp::SigningKey::from_pem(
        &std::fs::read(public.join("key.pem")).unwrap(),
        &std::fs::read(public.join("crt.pem")).unwrap(),
    )
    .unwrap();
    assert_eq!(key.bits(), 2048);
    let r = run(&[
        "cert-check",
        "--sector",
        "public",
        s(&public.join("crt.pem")),
    ]);
    assert_eq!(r.status, 0, "{}", r.stderr);

    // Never overwrite a key.
    let again = run(&[
        "keygen",
        "--sector",
        "public",
        "--out",
        s(&public),
        "--common-name",
        "X",
        "--org-name",
        "X",
        "--entity-id",
        "https://x.example",
        "--org-id",
        "PA:IT-x",
        "--locality",
        "Roma",
    ]);
    assert_fails(&again, 2, "already exists");

    let private = dir.join("private");
    let r = run(&[
        "keygen",
        "--sector",
        "private",
        "--out",
        s(&private),
        "--common-name",
        "ACME",
        "--org-name",
        "ACME S.p.A.",
        "--entity-id",
        "https://spid.acme.example",
        "--org-id",
        "VATIT-12345678901",
        "--locality",
        "Milano",
        "--key-bits",
        "2048",
    ]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert!(private.join("csr.pem").exists() && !private.join("crt.pem").exists());
    let r = run(&[
        "cert-check",
        "--sector",
        "private",
        s(&private.join("csr.pem")),
    ]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert!(r.stdout.contains("csr"));
    // Checked against the other sector, the problems are listed.
    let r = run(&[
        "cert-check",
        "--sector",
        "public",
        s(&private.join("csr.pem")),
    ]);
    assert_fails(&r, 1, "problem(s)");
    assert!(r
        .stdout
        .contains("problem: certificate policy 1.3.76.16.4.2.1 missing"));
}

#[test]
fn keygen_bad_input() {
    let dir = tempdir("keygen-bad");
    let out = dir.join("x");
    let base = [
        "keygen",
        "--out",
        s(&out),
        "--common-name",
        "A",
        "--org-name",
        "A",
        "--entity-id",
        "https://a.example",
        "--locality",
        "Roma",
    ];
    let mut missing_sector = base.to_vec();
    missing_sector.extend(["--org-id", "PA:IT-a"]);
    assert_fails(&run(&missing_sector), 2, "--sector");
    let mut bad_id = base.to_vec();
    bad_id.extend(["--sector", "public", "--org-id", "VATIT-12345678901"]);
    assert_fails(&run(&bad_id), 2, "invalid organization identifier");
    let mut bad_bits = base.to_vec();
    bad_bits.extend([
        "--sector",
        "public",
        "--org-id",
        "PA:IT-a",
        "--key-bits",
        "1024",
    ]);
    assert_fails(&run(&bad_bits), 2, "key size");
    let mut no_locality: Vec<&str> = base[..base.len() - 2].to_vec();
    no_locality.extend(["--sector", "public", "--org-id", "PA:IT-a"]);
    assert_fails(&run(&no_locality), 2, "--locality");
    assert!(!out.join("key.pem").exists(), "nothing written on error");
    assert_fails(
        &run(&[
            "keygen",
            "--out",
            s(&out),
            "--config",
            "/nonexistent/spid-sp.json",
        ]),
        2,
        "no such file",
    );
    // A non-compliant certificate from the field; garbage; a missing file.
    let idp_crt = format!("{ROOT}/metadata/testing/spid-sp-test-idp.crt");
    let r = run(&["cert-check", "--sector", "public", &idp_crt]);
    assert_fails(&r, 1, "problem(s)");
    assert!(r.stdout.contains("problem: the subject has no uri"));
    assert_fails(
        &run(&[
            "cert-check",
            "--sector",
            "public",
            &format!("{ROOT}/Cargo.toml"),
        ]),
        2,
        "not a PEM or DER certificate",
    );
    assert_fails(
        &run(&["cert-check", "--sector", "public", "nope.pem"]),
        2,
        "no such file",
    );
}

const CONFIG: &str = r#"{
  "entity_id": "https://sp.example.it/spid",
  "key_file": "keys/key.pem",
  "certificate_file": "keys/crt.pem",
  "assertion_consumer_services": ["https://sp.example.it/spid/acs"],
  "single_logout_services": [
    {"binding": "redirect", "url": "https://sp.example.it/spid/slo"},
    {"binding": "post", "url": "https://sp.example.it/spid/slo"}
  ],
  "attribute_services": [
    {"index": 0, "name": "Servizi online", "attributes": ["fiscalNumber", "name", "familyName", "email"]}
  ],
  "metadata": {
    "profile": "spid-sp-public",
    "organization": {"name": "Comune di Forlì", "display_name": "Comune di Forlì", "url": "https://www.comune.forli.fc.it"},
    "contact": {"email": "spid@comune.forli.fc.it", "phone": "+390543712111", "ipa_code": "c_d704"}
  },
  "certificate": {"locality": "Forlì", "key_bits": 2048}
}"#;

/// [`CONFIG`] in TOML.
const CONFIG_TOML: &str = r#"entity_id = "https://sp.example.it/spid"
key_file = "keys/key.pem"
certificate_file = "keys/crt.pem"
assertion_consumer_services = ["https://sp.example.it/spid/acs"]
single_logout_services = [
  { binding = "redirect", url = "https://sp.example.it/spid/slo" },
  { binding = "post", url = "https://sp.example.it/spid/slo" },
]

[[attribute_services]]
index = 0
name = "Servizi online"
attributes = ["fiscalNumber", "name", "familyName", "email"]

[metadata]
profile = "spid-sp-public"
organization = { name = "Comune di Forlì", display_name = "Comune di Forlì", url = "https://www.comune.forli.fc.it" }

[metadata.contact]
email = "spid@comune.forli.fc.it"
phone = "+390543712111"
ipa_code = "c_d704"

[certificate]
locality = "Forlì"
key_bits = 2048
"#;

#[test]
fn metadata_from_config_and_check() {
    let dir = tempdir("metadata");
    std::fs::write(dir.join("spid-sp.json"), CONFIG).unwrap();
    // keygen reads the subject from the config (entity_id, organization, IPA code).
    let r = run_in(
        &dir,
        &["keygen", "--config", "spid-sp.json", "--out", "keys"],
        None,
    );
    assert_eq!(r.status, 0, "{}", r.stderr);
    let cert =
        openssl::x509::X509::from_pem(&std::fs::read(dir.join("keys/crt.pem")).unwrap()).unwrap();
    let subject = spid_sp::certificates::subject_of(&cert);
    assert_eq!(subject.uri.as_deref(), Some("https://sp.example.it/spid"));
    assert_eq!(
        subject.organization_identifier.as_deref(),
        Some("PA:IT-c_d704")
    );
    assert_eq!(subject.common_name.as_deref(), Some("Comune di Forlì"));

    // Signed metadata to stdout and to a file; the check passes.
    let r = run_in(&dir, &["metadata", "--config", "spid-sp.json"], None);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert!(r.stdout.contains("entityID=\"https://sp.example.it/spid\""));
    assert!(r.stdout.contains("<ds:SignatureValue>"));
    // The same description in TOML gives byte-identical metadata.
    std::fs::write(dir.join("spid-sp.toml"), CONFIG_TOML).unwrap();
    let t = run_in(&dir, &["metadata", "--config", "spid-sp.toml"], None);
    assert_eq!(t.status, 0, "{}", t.stderr);
    assert_eq!(t.stdout, r.stdout, "toml and json descriptions differ");
    std::fs::write(
        dir.join("typo.toml"),
        CONFIG_TOML.replace("ipa_code", "ipacode"),
    )
    .unwrap();
    assert_fails(
        &run_in(&dir, &["metadata", "--config", "typo.toml"], None),
        2,
        "typo.toml: invalid config at line 22 column 1: unknown field `ipacode`",
    );
    let r = run_in(
        &dir,
        &["metadata", "--config", "spid-sp.json", "--out", "md.xml"],
        None,
    );
    assert_eq!(r.status, 0, "{}", r.stderr);
    let r = run_in(&dir, &["metadata", "check", "md.xml"], None);
    assert_eq!(r.status, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("0 error(s)"));
    // The metadata signature verifies with xmlsec1 too (when installed).
    if Command::new("xmlsec1").arg("--version").output().is_ok() {
        let ok = Command::new("xmlsec1")
            .args([
                "--verify",
                "--insecure",
                "--id-attr:ID",
                "urn:oasis:names:tc:SAML:2.0:metadata:EntityDescriptor",
            ])
            .arg(dir.join("md.xml"))
            .output()
            .unwrap();
        assert!(
            ok.status.success(),
            "{}",
            String::from_utf8_lossy(&ok.stderr)
        );
    }

    // Tampered metadata, the wrong profile: errors, exit 1, one-line summary.
    let xml = std::fs::read_to_string(dir.join("md.xml")).unwrap();
    std::fs::write(
        dir.join("bad.xml"),
        xml.replace("Servizi online", "Servizi offline"),
    )
    .unwrap();
    let r = run_in(&dir, &["metadata", "check", "bad.xml"], None);
    assert_fails(&r, 1, "1 error(s)");
    assert!(r.stdout.contains("signature"), "{}", r.stdout);
    let r = run_in(
        &dir,
        &[
            "metadata",
            "check",
            "--profile",
            "spid-sp-private",
            "md.xml",
        ],
        None,
    );
    assert_fails(&r, 1, "error(s)");
    assert_fails(
        &run_in(
            &dir,
            &["metadata", "check", "--profile", "nope", "md.xml"],
            None,
        ),
        2,
        "unknown sp metadata profile",
    );
    assert_fails(
        &run_in(&dir, &["metadata", "check", "missing.xml"], None),
        2,
        "no such file",
    );
    std::fs::write(dir.join("garbage.xml"), "<md:EntityDescriptor").unwrap();
    assert_fails(
        &run_in(&dir, &["metadata", "check", "garbage.xml"], None),
        1,
        "error(s)",
    );

    // Config errors: malformed JSON, an unknown field, a key that is not the certificate's.
    std::fs::write(dir.join("broken.json"), "{\"entity_id\": ").unwrap();
    assert_fails(
        &run_in(&dir, &["metadata", "--config", "broken.json"], None),
        2,
        "invalid config",
    );
    std::fs::write(
        dir.join("typo.json"),
        CONFIG.replace("\"entity_id\"", "\"entityid\""),
    )
    .unwrap();
    assert_fails(
        &run_in(&dir, &["metadata", "--config", "typo.json"], None),
        2,
        "unknown field",
    );
    let other = keypair("other", 2048);
    std::fs::write(
        dir.join("keys/other.pem"),
        other.private_key().private_key_to_pem_pkcs8().unwrap(),
    )
    .unwrap();
    std::fs::write(
        dir.join("wrongkey.json"),
        CONFIG.replace("keys/key.pem", "keys/other.pem"),
    )
    .unwrap();
    assert_fails(
        &run_in(&dir, &["metadata", "--config", "wrongkey.json"], None),
        2,
        "private key does not match the certificate",
    );
    assert_fails(&run_in(&dir, &["metadata"], None), 2, "missing --config");
}

fn metadata_file(name: &str) -> String {
    format!("{ROOT}/metadata/{name}")
}

#[test]
fn registry_verify_and_list() {
    let at = ["--at", "2024-06-01T00:00:00Z"];
    let spid = metadata_file("spid-entities-idps.xml");
    let pin = metadata_file("spid-registry-agid-test.pem");
    let r = run(&[
        &["registry", "verify", "--source", "spid", "--spid-pin", &pin][..],
        &at,
        &[&spid],
    ]
    .concat());
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert!(r.stdout.contains("12 identity provider(s)"));
    assert!(r
        .stdout
        .contains("signed by C=IT, ST=Italy, L=Rome, O=AgID, OU=AgID TEST"));
    assert!(r
        .stdout
        .contains("warning: identity provider https://posteid.poste.it"));

    // No pin: refused, with a hint. Tampered: refused. Missing: exit 2.
    assert_fails(
        &run(&["registry", "verify", "--source", "spid", &spid]),
        1,
        "pass --spid-pin",
    );
    let dir = tempdir("registry");
    let tampered = std::fs::read_to_string(&spid).unwrap().replacen(
        "https://posteid.poste.it/jod-fs/ssoservicepost",
        "https://evil.example/sso",
        1,
    );
    std::fs::write(dir.join("tampered.xml"), tampered).unwrap();
    assert_fails(
        &run(&[
            "registry",
            "verify",
            "--source",
            "spid",
            "--snapshot-pins",
            s(&dir.join("tampered.xml")),
        ]),
        1,
        "digest mismatch",
    );
    assert_fails(
        &run(&[
            "registry",
            "verify",
            "--source",
            "eidas",
            "--snapshot-pins",
            "nope.xml",
        ]),
        2,
        "no such file",
    );
    assert_fails(
        &run(&[
            "registry",
            "verify",
            "--source",
            "spid",
            "--spid-pin",
            &spid,
            &spid,
        ]),
        2,
        "no PEM certificate",
    );

    // eIDAS node (URI="" signature) and CIE (unsigned).
    let r = run(&[
        "registry",
        "verify",
        "--source",
        "eidas",
        "--eidas-pin",
        &metadata_file("eidas-node-signer.pem"),
        &metadata_file("eidas-ficep-idp-production.xml"),
    ]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let r = run(&[
        "registry",
        "verify",
        "--source",
        "cie",
        &metadata_file("cie-idp-production.xml"),
    ]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert!(r.stdout.contains("unsigned (trusted out of band)"));

    // list: text and JSON.
    let r = run(&[
        &[
            "registry",
            "list",
            "--snapshot-pins",
            "--spid",
            &spid,
            "--cie",
            &metadata_file("cie-idp-production.xml"),
        ][..],
        &["--eidas", &metadata_file("eidas-ficep-idp-production.xml")],
        &at,
    ]
    .concat());
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert!(
        r.stdout
            .contains("https://posteid.poste.it (Spid, Poste Italiane SpA)"),
        "{}",
        r.stdout
    );
    assert!(r
        .stdout
        .contains("sso HTTP-Redirect https://posteid.poste.it/jod-fs/ssoserviceredirect"));
    assert!(r.stderr.contains("for tests only"));
    let r = run(&[
        &[
            "registry",
            "list",
            "--snapshot-pins",
            "--json",
            "--spid",
            &spid,
        ][..],
        &at,
    ]
    .concat());
    assert_eq!(r.status, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["identity_providers"].as_array().unwrap().len(), 12);
    assert!(v["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|w| w.as_str().unwrap().contains("posteid")));
    assert_fails(&run(&["registry", "list"]), 2, "at least one of");
}

/// A one-file HTTP server on 127.0.0.1: path → body.
fn serve(routes: Vec<(&'static str, Vec<u8>)>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 4096];
            let n = stream.read(&mut buf).unwrap_or(0);
            let req = String::from_utf8_lossy(&buf[..n]).into_owned();
            let path = req.split_whitespace().nth(1).unwrap_or("/");
            let (status, body) = match routes.iter().find(|r| r.0 == path) {
                Some((_, b)) => (200, b.clone()),
                None => (404, b"no".to_vec()),
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(&body);
        }
    });
    base
}

#[test]
fn registry_fetch_writes_only_verified_metadata() {
    let dir = tempdir("fetch");
    let good = std::fs::read(metadata_file("spid-entities-idps.xml")).unwrap();
    let tampered = String::from_utf8(good.clone())
        .unwrap()
        .replacen(
            "https://spid.register.it/login/sso",
            "https://evil.example/sso",
            1,
        )
        .into_bytes();
    let base = serve(vec![("/good", good.clone()), ("/tampered", tampered)]);
    let out = dir.join("spid-entities-idps.xml");
    let fetch = |path: &str| {
        run(&[
            "registry",
            "fetch",
            "--source",
            "spid",
            "--snapshot-pins",
            "--at",
            "2024-06-01T00:00:00Z",
            "--timeout",
            "10",
            "--allow-plain-http-loopback",
            "--url",
            &format!("{base}{path}"),
            "--out",
            s(&out),
        ])
    };
    let r = fetch("/good");
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(std::fs::read(&out).unwrap(), good);
    // A tampered download or a 404 leaves the verified copy in place.
    let r = fetch("/tampered");
    assert_fails(&r, 1, "left unchanged");
    assert!(r.stderr.contains("signature"));
    assert_eq!(std::fs::read(&out).unwrap(), good);
    assert_fails(&fetch("/missing"), 1, "HTTP 404");
    assert_eq!(std::fs::read(&out).unwrap(), good);
    // Without the test switch, plain http is refused before any download.
    assert_fails(
        &run(&[
            "registry",
            "fetch",
            "--source",
            "spid",
            "--snapshot-pins",
            "--url",
            &format!("{base}/good"),
            "--out",
            s(&out),
        ]),
        1,
        "only fetched over https",
    );
    assert_fails(
        &run(&[
            "registry",
            "fetch",
            "--source",
            "spid",
            "--snapshot-pins",
            "--url",
            "file:///etc/passwd",
            "--out",
            s(&out),
        ]),
        1,
        "only http and https",
    );
}

fn test_sp(idp: &TestIdp) -> ServiceProvider {
    let config = SpConfig::builder("https://sp.example.it/spid", keypair("sp", 2048))
        .assertion_consumer_service("https://sp.example.it/spid/acs")
        .attribute_service(0, "Servizi", &["fiscalNumber", "name", "familyName"])
        .build()
        .unwrap();
    let idps =
        spid_sp::metadata::IdentityProvider::from_metadata(&idp.metadata(idp.entity_id())).unwrap();
    ServiceProvider::new(config, idps).expect("service provider")
}

#[test]
fn inspect_every_input_form() {
    let idp = TestIdp::new("https://idp.example.test", keypair("idp", 2048));
    let sp = test_sp(&idp);
    let redirect = LoginOptions {
        binding: Binding::Redirect,
        ..LoginOptions::default()
    };
    let (out, pending) = sp.start_login(idp.entity_id(), &redirect).unwrap();
    let url = out.redirect_url().unwrap().to_owned();
    let r = run(&["inspect", &url]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert!(r.stdout.starts_with("UNVERIFIED"), "{}", r.stdout);
    assert!(r
        .stdout
        .contains("input: HTTP-Redirect query (SAMLRequest)"));
    assert!(r.stdout.contains("message: samlp:AuthnRequest"));
    assert!(r.stdout.contains(&format!("ID: {}", pending.request_id())));
    assert!(r.stdout.contains("rsa-sha256 (NOT checked)"));
    assert!(r
        .stdout
        .contains(&format!("relay state: {}", pending.relay_state())));

    // A POST form body with a Response, from stdin and from a file; JSON output.
    let now = Timestamp::parse("2026-01-15T10:00:00Z").unwrap();
    let xml = idp
        .response(
            &ResponseSpec::new(
                "_req1",
                "https://sp.example.it/spid/acs",
                "https://sp.example.it/spid",
                SpidLevel::L2,
                now,
            )
            .attribute("fiscalNumber", "TINIT-RSSMRA80A01H501U"),
        )
        .unwrap();
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(&xml);
    let mut form = String::from("SAMLResponse=");
    spid_sp::binding::redirect::quote_plus(&b64, &mut form);
    form.push_str("&RelayState=abc");
    let r = run_in(Path::new(ROOT), &["inspect", "-"], Some(&form));
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert!(r.stdout.starts_with("UNVERIFIED"));
    assert!(r
        .stdout
        .contains("input: HTTP-POST form body (SAMLResponse)"));
    assert!(r
        .stdout
        .contains("XML signatures on (NOT checked): samlp:Response, saml:Assertion"));
    assert!(r.stdout.contains("fiscalNumber: TINIT-RSSMRA80A01H501U"));
    let dir = tempdir("inspect");
    std::fs::write(dir.join("response.xml"), &xml).unwrap();
    let r = run(&["inspect", "--json", s(&dir.join("response.xml"))]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["verified"], false);
    assert_eq!(v["message"]["summary"]["Ok"]["message"], "samlp:Response");
    let r = run(&["inspect", &b64]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert!(r.stdout.contains("input: base64"));

    // Garbage: one-line errors.
    assert_fails(&run(&["inspect", "hello"]), 2, "not a SAML message");
    assert_fails(
        &run(&["inspect", "https://idp.example/sso?SAMLRequest=%%%"]),
        2,
        "redirect binding",
    );
    assert_fails(&run(&["inspect", "missing/file.xml"]), 2, "no such file");
    assert_fails(
        &run_in(Path::new(ROOT), &["inspect", "-"], Some("")),
        2,
        "nothing to decode",
    );
    std::fs::write(dir.join("broken.xml"), "<samlp:Response").unwrap();
    let r = run(&["inspect", s(&dir.join("broken.xml"))]);
    assert_eq!(r.status, 0);
    assert!(r.stdout.contains("xml: does not parse"));
}

#[test]
fn verify_a_response() {
    let dir = tempdir("verify");
    let idp = TestIdp::new("https://idp.example.test", keypair("idp", 2048));
    std::fs::write(dir.join("idp.xml"), idp.metadata(idp.entity_id())).unwrap();
    let now = "2026-01-15T10:00:00Z";
    let t = Timestamp::parse(now).unwrap();
    let acs = "https://sp.example.it/spid/acs";
    let sp_id = "https://sp.example.it/spid";
    let spec = ResponseSpec::new("_req42", acs, sp_id, SpidLevel::L2, t)
        .attribute("fiscalNumber", "TINIT-RSSMRA80A01H501U")
        .attribute("name", "Mario")
        .attribute("familyName", "Rossi");
    std::fs::write(dir.join("response.xml"), idp.response(&spec).unwrap()).unwrap();
    let idp_md = dir.join("idp.xml");
    // `spid-sp verify` of response.xml for `_req42` against idp.xml at the usual times,
    // with the values of `changes` (flag, value) instead, `extra` appended.
    let verify_with = |changes: &[(&str, &str)], extra: &[&str], stdin: Option<&str>| {
        let mut args = vec![
            "verify",
            "--response",
            "response.xml",
            "--idp-metadata",
            s(&idp_md),
            "--request-id",
            "_req42",
            "--acs",
            acs,
            "--sp-entity-id",
            sp_id,
            "--at",
            "2026-01-15T10:01:00Z",
            "--issued-at",
            "2026-01-15T09:59:30Z",
        ];
        for (flag, value) in changes {
            let i = args.iter().position(|a| a == flag).unwrap();
            args[i + 1] = value;
        }
        args.extend_from_slice(extra);
        run_in(&dir, &args, stdin)
    };
    let verify_at = |response: &str, request_id: &str, times: [&str; 2], extra: &[&str]| {
        let changes = [
            ("--response", response),
            ("--request-id", request_id),
            ("--at", times[0]),
            ("--issued-at", times[1]),
        ];
        verify_with(&changes, extra, None)
    };
    let verify = |response: &str, request_id: &str, extra: &[&str]| {
        verify_with(
            &[("--response", response), ("--request-id", request_id)],
            extra,
            None,
        )
    };

    let r = verify("response.xml", "_req42", &[]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["verified"], true);
    assert_eq!(v["idp"], "https://idp.example.test");
    assert_eq!(v["level"], "https://www.spid.gov.it/SpidL2");
    assert!(r.stdout.contains("RSSMRA80A01H501U"));

    // The same from stdin as a form body.
    use base64::Engine as _;
    let form = format!(
        "SAMLResponse={}",
        base64::engine::general_purpose::STANDARD
            .encode(std::fs::read(dir.join("response.xml")).unwrap())
            .replace('+', "%2B")
            .replace('/', "%2F")
            .replace('=', "%3D")
    );
    let r = verify_with(&[("--response", "-")], &[], Some(&form));
    assert_eq!(r.status, 0, "{}", r.stderr);

    // Wrong request, audience, ACS, time, key: rejected with the rule's code.
    assert_fails(
        &verify("response.xml", "_other", &[]),
        1,
        "[response-in-response-to]",
    );
    let r = verify_with(&[("--sp-entity-id", "https://other.example")], &[], None);
    assert_fails(&r, 1, "rejected");
    assert_fails(
        &verify("response.xml", "_req42", &["--level", "3"]),
        1,
        "authentication level",
    );
    // Too late: the assertion's NotOnOrAfter (and the request) have passed.
    let late = verify_at(
        "response.xml",
        "_req42",
        ["2026-01-15T11:00:00Z", "2026-01-15T09:59:30Z"],
        &[],
    );
    assert_fails(&late, 1, "rejected");
    let impostor = TestIdp::new("https://idp.example.test", keypair("impostor", 2048));
    std::fs::write(
        dir.join("impostor.xml"),
        impostor.metadata(impostor.entity_id()),
    )
    .unwrap();
    let r = verify_with(&[("--idp-metadata", "impostor.xml")], &[], None);
    assert_fails(&r, 1, "signature");

    // A refusal (ErrorCode nr22: the user cancelled).
    std::fs::write(
        dir.join("refusal.xml"),
        idp.refusal("_req42", acs, 22, t).unwrap(),
    )
    .unwrap();
    assert_fails(
        &verify("refusal.xml", "_req42", &[]),
        1,
        "refused by the identity provider",
    );

    // Malformed input: rejected or a usage error, one line, no panic.
    std::fs::write(dir.join("broken.xml"), "<samlp:Response").unwrap();
    assert_fails(
        &verify("broken.xml", "_req42", &[]),
        1,
        "rejected: xml refused",
    );
    std::fs::write(dir.join("garbage.b64"), "!!!not base64!!!").unwrap();
    assert_fails(&verify("garbage.b64", "_req42", &[]), 1, "[input-encoding]");
    assert_fails(&verify("missing.xml", "_req42", &[]), 2, "no such file");
    std::fs::write(dir.join("not-metadata.xml"), "<x/>").unwrap();
    let r = run_in(
        &dir,
        &[
            "verify",
            "--response",
            "response.xml",
            "--idp-metadata",
            "not-metadata.xml",
            "--request-id",
            "r",
            "--acs",
            acs,
            "--sp-entity-id",
            sp_id,
        ],
        None,
    );
    assert_fails(&r, 2, "not a SAML metadata document");
    assert_fails(
        &verify_at(
            "response.xml",
            "_req42",
            ["yesterday", "2026-01-15T09:59:30Z"],
            &[],
        ),
        2,
        "invalid time",
    );
    assert_fails(
        &verify(
            "response.xml",
            "_req42",
            &["--idp", "https://nobody.example"],
        ),
        2,
        "is not in",
    );
}

#[test]
fn help_and_version() {
    let r = run(&["--help"]);
    assert_eq!(r.status, 0);
    for cmd in [
        "keygen",
        "cert-check",
        "metadata",
        "registry",
        "inspect",
        "verify",
    ] {
        assert!(r.stdout.contains(cmd), "{cmd} missing from --help");
    }
    let r = run(&["--version"]);
    assert!(r.stdout.starts_with("spid-sp "));
    let r = run(&["frobnicate"]);
    assert_eq!(r.status, 2);
}
