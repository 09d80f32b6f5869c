//! The demo's local test IdP ("Test IdP (local)", `spid_sp::test_idp::server`), mounted
//! under `/test-idp` on the demo's own server so that a login completes on a fresh
//! machine with no internet. **Not an accredited identity provider.**
//!
//! When it is there (the "development profile" of the demo): no `--idp-metadata` was
//! given, the base URL is a loopback URL (`http://127.0.0.1:...`, `localhost`), the
//! server listens on a loopback address (`--bind 127.0.0.1:…` or `[::1]:…`, not
//! `0.0.0.0`), and `--no-test-idp` was not given. `--test-idp` forces it (still loopback
//! only: a non-loopback base URL or listener exits with status 2). Anything that looks
//! like a deployment — a public `--base-url`, a public `--bind`, or trusting real or
//! extra IdPs through `--idp-metadata` — runs without it. The test IdP itself answers
//! only loopback peers (403 otherwise), and the SDK's axum integration refuses a test
//! IdP anyway unless the application opted in with `allow_test_idp`.

use std::net::SocketAddr;
use std::path::Path;

use spid_sp::metadata::IdentityProvider;
use spid_sp::test_idp::server::TestIdpServer;
use spid_sp::test_idp::{is_loopback_url, TestIdp, TestIdpMode};
use spid_sp::SigningKey;

/// Where it is mounted, under the demo's base URL.
pub const PATH: &str = "/test-idp";

/// Whether to mount the test IdP.
#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    /// Mount it.
    Mount,
    /// Do not, and say why.
    Skip(String),
    /// `--test-idp` where it cannot run: exit with status 2 and this message.
    Refuse(String),
}

/// `--test-idp` / `--no-test-idp` / neither, for a server listening on `listener`.
pub fn decide(
    flag: Option<bool>,
    idp_metadata_given: bool,
    base_url: &str,
    listener: SocketAddr,
) -> Decision {
    let loopback_listener = listener.ip().to_canonical().is_loopback();
    match flag {
        Some(false) => Decision::Skip("--no-test-idp".into()),
        Some(true) if !is_loopback_url(base_url) => Decision::Refuse(format!(
            "--test-idp: the test IdP only runs on a loopback base URL, not {base_url}"
        )),
        Some(true) if !loopback_listener => Decision::Refuse(format!(
            "--test-idp: the test IdP only runs on a loopback listener, not {listener} \
             (use --bind 127.0.0.1:PORT)"
        )),
        Some(true) => Decision::Mount,
        None if idp_metadata_given => Decision::Skip("--idp-metadata given".into()),
        None if !is_loopback_url(base_url) => {
            Decision::Skip(format!("base URL {base_url} is not a loopback URL"))
        }
        None if !loopback_listener => Decision::Skip(format!(
            "listening on {listener}, not a loopback address (use --bind 127.0.0.1:PORT)"
        )),
        None => Decision::Mount,
    }
}

/// [`decide`], exiting on [`Decision::Refuse`]: `Ok(())` to mount, `Err(why)` not to.
pub fn wanted(
    flag: Option<bool>,
    idp_metadata_given: bool,
    base_url: &str,
    listener: SocketAddr,
) -> Result<(), String> {
    match decide(flag, idp_metadata_given, base_url, listener) {
        Decision::Mount => Ok(()),
        Decision::Skip(why) => Err(why),
        Decision::Refuse(msg) => super::fail(msg),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_test_idp_is_mounted_only_on_a_loopback_listener() {
        let lo: SocketAddr = "127.0.0.1:8000".parse().unwrap();
        let lo6: SocketAddr = "[::1]:8000".parse().unwrap();
        let any: SocketAddr = "0.0.0.0:8000".parse().unwrap();
        let any6: SocketAddr = "[::]:8000".parse().unwrap();
        let public: SocketAddr = "192.0.2.10:8000".parse().unwrap();
        let base = "http://127.0.0.1:8000";
        assert_eq!(decide(None, false, base, lo), Decision::Mount);
        assert_eq!(decide(None, false, base, lo6), Decision::Mount);
        assert_eq!(decide(Some(true), true, base, lo), Decision::Mount);
        for listener in [any, any6, public] {
            // By default: not mounted, and said why.
            match decide(None, false, base, listener) {
                Decision::Skip(why) => assert!(why.contains("loopback"), "{why}"),
                other => panic!("{listener}: {other:?}"),
            }
            // Forced: refused (the demo exits with status 2).
            match decide(Some(true), false, base, listener) {
                Decision::Refuse(msg) => assert!(msg.contains("loopback listener"), "{msg}"),
                other => panic!("{listener}: {other:?}"),
            }
        }
        assert!(matches!(
            decide(Some(true), false, "https://demo.example.it", lo),
            Decision::Refuse(_)
        ));
        assert!(matches!(
            decide(Some(false), false, base, lo),
            Decision::Skip(_)
        ));
    }
}
