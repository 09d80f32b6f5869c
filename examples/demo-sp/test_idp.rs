//! The demo's local test IdP ("Test IdP (local)", `spid_sp::test_idp::server`), mounted
//! under `/test-idp` on the demo's own server so that a login completes on a fresh
//! machine with no internet. **Not an accredited identity provider.**
//!
//! When it is there (the "development profile" of the demo): no `--idp-metadata` was
//! given, the base URL is a loopback URL (`http://127.0.0.1:...`, `localhost`), and
//! `--no-test-idp` was not given. `--test-idp` forces it (still loopback only). Anything
//! that looks like a deployment — a public `--base-url`, or trusting real or extra IdPs
//! through `--idp-metadata` — runs without it, and the SDK's axum integration refuses a
//! test IdP anyway unless the application opted in with `allow_test_idp`.

use std::path::Path;

use spid_sp::metadata::IdentityProvider;
use spid_sp::test_idp::server::TestIdpServer;
use spid_sp::test_idp::{is_loopback_url, TestIdp, TestIdpMode};
use spid_sp::SigningKey;

/// Where it is mounted, under the demo's base URL.
pub const PATH: &str = "/test-idp";

/// `--test-idp` / `--no-test-idp` / neither.
pub fn wanted(flag: Option<bool>, idp_metadata_given: bool, base_url: &str) -> bool {
    match flag {
        Some(false) => false,
        Some(true) => {
            if !is_loopback_url(base_url) {
                super::fail(format!(
                    "--test-idp: the test IdP only runs on a loopback base URL, not {base_url}"
                ));
            }
            true
        }
        None => !idp_metadata_given && is_loopback_url(base_url),
    }
}

/// The test IdP: its key from `key_dir` (created at first start), trusting the demo SP.
pub fn start(key_dir: &Path, base_url: &str, sp_metadata_xml: &str) -> TestIdpServer {
    let url = format!("{base_url}{PATH}");
    let key = key(key_dir, &url);
    TestIdpServer::new(
        TestIdpMode::IKnowThisIsNotAnAccreditedIdp,
        TestIdp::new(url.clone(), key),
        url,
    )
    .and_then(|s| s.trust_sp_metadata(sp_metadata_xml))
    .unwrap_or_else(|e| super::fail(format!("test IdP: {e}")))
}

/// What the SP trusts: the test IdP's own metadata (it carries the test marker).
pub fn trusted(server: &TestIdpServer) -> Vec<IdentityProvider> {
    IdentityProvider::from_metadata(&server.metadata())
        .unwrap_or_else(|e| super::fail(format!("test IdP metadata: {e}")))
}

fn key(dir: &Path, url: &str) -> SigningKey {
    let key_path = dir.join("test-idp.key.pem");
    let cert_path = dir.join("test-idp.crt.pem");
    if let (Ok(key), Ok(cert)) = (std::fs::read(&key_path), std::fs::read(&cert_path)) {
        match SigningKey::from_pem(&key, &cert) {
            Ok(k) => return k,
            Err(e) => super::fail(format!(
                "{} / {}: unusable ({e}); delete them to get new ones",
                key_path.display(),
                cert_path.display()
            )),
        }
    }
    let host = url
        .split("://")
        .nth(1)
        .and_then(|r| r.split(['/', ':']).next())
        .unwrap_or("localhost");
    let (key_pem, cert_pem) = TestIdp::generate_key_pem(host, 730)
        .unwrap_or_else(|e| super::fail(format!("test IdP key: {e}")));
    if let Err(e) = std::fs::create_dir_all(dir)
        .and_then(|()| super::write_private(&key_path, &key_pem))
        .and_then(|()| std::fs::write(&cert_path, &cert_pem))
    {
        super::fail(format!(
            "cannot write the test IdP key to {}: {e}",
            dir.display()
        ));
    }
    eprintln!(
        "demo-sp: created the test IdP key and certificate in {} (test only)",
        dir.display()
    );
    SigningKey::from_pem(&key_pem, &cert_pem)
        .unwrap_or_else(|e| super::fail(format!("test IdP key unusable: {e}")))
}
