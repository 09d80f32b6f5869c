//! "Entra con CNS" in the demo: the trust (a generated TEST PKI and its signed test trust
//! list), the dedicated TLS listener (`--cns-listen`) and the reverse-proxy mode
//! (`--cns-proxy` + `--cns-endpoint`). docs/cns.md "Login flow".

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use axum::http::HeaderName;
use spid_sp::axum::{CnsConfig, CnsTlsListener, CnsTrust, SpidAuth};
use spid_sp::cns::{Crl, TrustList};
use spid_sp::{Clock as _, VerificationKey};

use crate::fail;

/// The header the demo reads behind a proxy (nginx: `$ssl_client_escaped_cert`).
pub const HEADER: &str = "x-ssl-client-cert";

/// The demo's CNS options.
#[derive(Debug, Default)]
pub struct Options {
    /// Directory of the TEST PKI (generated when it has no `ca.pem`).
    pub test_pki: Option<PathBuf>,
    /// Address of the dedicated TLS listener.
    pub listen: Option<SocketAddr>,
    /// Reverse proxies allowed to forward the certificate header.
    pub proxies: Vec<IpAddr>,
    /// The certificate endpoint's public URL (default: the TLS listener's).
    pub endpoint: Option<String>,
}

impl Options {
    /// One of the `--cns-*` flags; `false` if `flag` is not one.
    pub fn parse(&mut self, flag: &str, value: &mut dyn FnMut() -> String) -> bool {
        match flag {
            "--cns-test-pki" => self.test_pki = Some(PathBuf::from(value())),
            "--cns-listen" => {
                let v = value();
                self.listen = Some(
                    v.parse()
                        .unwrap_or_else(|_| fail(format!("--cns-listen: not an address: {v}"))),
                );
            }
            "--cns-proxy" => {
                let v = value();
                self.proxies.push(
                    v.parse()
                        .unwrap_or_else(|_| fail(format!("--cns-proxy: not an IP address: {v}"))),
                );
            }
            "--cns-endpoint" => self.endpoint = Some(value()),
            _ => return false,
        }
        true
    }

    /// Reads the `DEMO_SP_CNS_*` variables (the flags override them).
    pub fn from_env() -> Options {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let mut o = Options::default();
        for (var, flag) in [
            ("DEMO_SP_CNS_TEST_PKI", "--cns-test-pki"),
            ("DEMO_SP_CNS_LISTEN", "--cns-listen"),
            ("DEMO_SP_CNS_PROXY", "--cns-proxy"),
            ("DEMO_SP_CNS_ENDPOINT", "--cns-endpoint"),
        ] {
            if let Some(v) = env(var) {
                o.parse(flag, &mut || v.clone());
            }
        }
        o
    }
}

/// The CNS login of the demo, or `None` when no trust was given.
pub fn config(opts: &Options, prefix: &str, base_url: &str) -> Option<CnsConfig> {
    let dir = opts.test_pki.as_ref()?;
    if !dir.join("ca.pem").exists() {
        generate(dir);
    }
    let read = |name: &str| {
        std::fs::read(dir.join(name))
            .unwrap_or_else(|e| fail(format!("--cns-test-pki: {}: {e}", dir.join(name).display())))
    };
    // The signed test trust list, verified like AgID's with the pinned test signer.
    let signer = VerificationKey::from_certificate_pem(&read("tsl-signer.pem"))
        .unwrap_or_else(|e| fail(format!("--cns-test-pki: tsl-signer.pem: {e}")));
    let xml = String::from_utf8(read("trust-list.xml"))
        .unwrap_or_else(|_| fail("--cns-test-pki: trust-list.xml is not UTF-8"));
    let trust = TrustList::from_tsl(&xml, &[signer])
        .unwrap_or_else(|e| fail(format!("--cns-test-pki: trust-list.xml: {e}")));
    let trust = CnsTrust::new(trust);
    let crl = Crl::parse(&read("crl.pem"))
        .unwrap_or_else(|e| fail(format!("--cns-test-pki: crl.pem: {e}")));
    trust.set_crls(vec![crl]);
    let endpoint = match (&opts.endpoint, opts.listen) {
        (Some(e), _) => e.clone(),
        (None, Some(addr)) => format!("https://{addr}{prefix}/cns/certificate"),
        (None, None) => fail("--cns-test-pki needs --cns-listen or --cns-endpoint (see --help)"),
    };
    let mut config = CnsConfig::new(trust, endpoint).return_origin(base_url);
    if !opts.proxies.is_empty() {
        config = config.trusted_proxy(HeaderName::from_static(HEADER), &opts.proxies);
    }
    println!(
        "demo-sp: Entra con CNS: TEST PKI in {} (NOT FOR PRODUCTION){}",
        dir.display(),
        if opts.proxies.is_empty() {
            String::new()
        } else {
            format!(", certificate header {HEADER} from {:?} only", opts.proxies)
        }
    );
    Some(config)
}

/// Writes a fresh TEST PKI into `dir` (cards, CA, CRLs, signed test trust list).
fn generate(dir: &Path) {
    let pki = spid_sp::cns::test_pki::TestPki::generate(spid_sp::SystemClock.now())
        .unwrap_or_else(|e| fail(format!("test PKI: {e}")));
    let files = pki
        .files()
        .unwrap_or_else(|e| fail(format!("test PKI: {e}")));
    std::fs::create_dir_all(dir).unwrap_or_else(|e| fail(format!("{}: {e}", dir.display())));
    for (name, bytes) in files {
        crate::write_private(&dir.join(&name), &bytes)
            .unwrap_or_else(|e| fail(format!("{name}: {e}")));
    }
}

/// Starts the dedicated TLS listener, when asked for: a self-signed demo server
/// certificate (kept in the key dir), the card certificate optional.
pub async fn spawn_listener(opts: &Options, auth: &SpidAuth, key_dir: &Path) {
    let Some(addr) = opts.listen else { return };
    let (cert, key) = (key_dir.join("cns-tls.crt"), key_dir.join("cns-tls.key"));
    if !cert.exists() || !key.exists() {
        let (k, c) = crate::new_demo_certificate(&format!("https://{addr}"))
            .unwrap_or_else(|e| fail(format!("CNS TLS certificate: {e}")));
        std::fs::create_dir_all(key_dir).unwrap_or_else(|e| fail(format!("{e}")));
        crate::write_private(&key, &k).unwrap_or_else(|e| fail(format!("{e}")));
        crate::write_private(&cert, &c).unwrap_or_else(|e| fail(format!("{e}")));
    }
    let read =
        |p: &Path| std::fs::read(p).unwrap_or_else(|e| fail(format!("{}: {e}", p.display())));
    let acceptor = CnsTlsListener::acceptor(&read(&cert), &read(&key))
        .unwrap_or_else(|e| fail(format!("CNS TLS acceptor: {e}")));
    let tcp = tokio::net::TcpListener::bind(addr)
        .await
        .unwrap_or_else(|e| fail(format!("cannot listen on {addr}: {e}")));
    let listener =
        CnsTlsListener::new(tcp, acceptor).unwrap_or_else(|e| fail(format!("CNS TLS: {e}")));
    println!("demo-sp: CNS TLS listener (client certificate) on https://{addr}");
    let auth = auth.clone();
    tokio::spawn(async move {
        if let Err(e) = listener.serve(&auth).await {
            eprintln!("demo-sp: CNS TLS listener failed: {e}");
        }
    });
}
