//! The demo service provider: SPID, CIE ID and eIDAS login on embedded defaults.
//!
//! ```sh
//! cargo run --features demo --example demo-sp          # then open http://127.0.0.1:8000/
//! cargo run --features demo --example demo-sp -- --help
//! ```
//!
//! Everything it needs is in the repository: the IdP metadata snapshots of `metadata/`
//! (embedded at build time) and a demo SP key and certificate, generated at first start
//! into `target/demo-sp/` (demo only: never register it with a federation). No Docker, no
//! internet: the IdPs of the registry cannot be reached offline, but the requests sent to
//! them are real and signed, and any IdP given with `--idp-metadata` (e.g. AgID's
//! spid-sp-test) completes the login. With the embedded defaults the demo also mounts a
//! local test IdP, "Test IdP (local)" under `/test-idp` (see `test_idp.rs`: not an
//! accredited identity provider), so a complete login works on a fresh machine.
//!
//! The SP itself (entityID, endpoints, requested attributes, organisation, contact,
//! billing) is an `spid_sp::SpDescription`: one TOML file per `--profile` in `profiles/`,
//! embedded at build time, or the user's own file with `--config` (see
//! `description.rs`).

mod aggregator;
#[cfg(feature = "audit")]
mod audit;
mod cns;
mod description;
mod oidc;
mod pages;
mod test_idp;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::routing::get;
use axum::Router;
use spid_sp::axum::{AtLeast, SpidAuth};
use spid_sp::metadata::{IdentityProvider, SpProfile};
use spid_sp::Federation;
use spid_sp::{
    Binding, Comparison, LoginOptions, ServiceProvider, SigningKey, SpDescription, SpidLevel,
};

/// The IdP metadata snapshots shipped with the repository.
const EMBEDDED_METADATA: [(&str, &str); 4] = [
    (
        "metadata/spid-entities-idps.xml",
        include_str!("../../metadata/spid-entities-idps.xml"),
    ),
    (
        "metadata/cie-idp-production.xml",
        include_str!("../../metadata/cie-idp-production.xml"),
    ),
    (
        "metadata/cie-idp-preproduction.xml",
        include_str!("../../metadata/cie-idp-preproduction.xml"),
    ),
    (
        "metadata/eidas-ficep-idp-production.xml",
        include_str!("../../metadata/eidas-ficep-idp-production.xml"),
    ),
];

const USAGE: &str = "\
demo-sp: a SPID / CIE ID / eIDAS service provider to try the spid-sp SDK (demo only)

Usage: demo-sp [options]     (each option also reads the environment variable shown)

  --bind ADDR            DEMO_SP_BIND          listen address (default 127.0.0.1:8000)
  --base-url URL         DEMO_SP_BASE_URL      public base URL, also the entityID
                                               (default http://<bind address>)
  --idp-metadata FILE    DEMO_SP_IDP_METADATA  extra trusted IdP metadata, repeatable (the
                                               env var takes a list separated by ':')
  --profile NAME         DEMO_SP_PROFILE       spid-public (default), spid-private, cie, eidas
  --config FILE          DEMO_SP_CONFIG        the SP from your own description (TOML, or JSON;
                                               `{base_url}` in its URLs is the base URL) instead
                                               of a --profile: see examples/demo-sp/profiles/
  --level 1|2|3          DEMO_SP_LEVEL         SPID level requested (default 2)
  --binding post|redirect DEMO_SP_BINDING      AuthnRequest binding (default post)
  --store memory|redis://HOST:PORT DEMO_SP_STORE  where logins and sessions live (default memory;
                                               Sentinel: redis+sentinel://H:P,H:P/SERVICE)
  --key-dir DIR          DEMO_SP_KEY_DIR       demo SP key and certificate, created when missing
                                               (default <repo>/target/demo-sp)
  --audit-dir DIR        DEMO_SP_AUDIT_DIR     the transaction registry (default <key dir>/audit;
                                               checkpoint key created in the key dir)
  --audit-postgres URL   DEMO_SP_AUDIT_POSTGRES  the registry in PostgreSQL instead of --audit-dir
                                               (loopback or Unix socket; one chain per process)
  --audit-encrypt-to PEM DEMO_SP_AUDIT_ENCRYPT_TO  encrypt payloads to this offline RSA public key
  --no-audit             DEMO_SP_AUDIT=0       no registry (benchmarks only)
  --pending-per-client N DEMO_SP_PENDING_PER_CLIENT  pending logins kept per client (default 32;
                                               benches/load.sh raises it: one client, N logins)
  --aggregator           DEMO_SP_AGGREGATOR=1  aggregator mode: the example tenants of
                                               examples/demo-sp/tenants/ (a comune by path, a
                                               school by host, a company) in <key dir>/tenants/
  --tenants DIR          DEMO_SP_TENANTS       aggregator mode on the tenant files of DIR
                                               (docs/tenants.md; polled every 2 s, SIGHUP)
  --cns-test-pki DIR     DEMO_SP_CNS_TEST_PKI  Entra con CNS with a TEST PKI (generated in DIR when
                                               missing; its signed test trust list and CRL are loaded)
  --cns-listen ADDR      DEMO_SP_CNS_LISTEN    the CNS TLS listener (client certificate), e.g.
                                               127.0.0.1:8443 (self-signed demo server certificate)
  --cns-proxy IP         DEMO_SP_CNS_PROXY     a reverse proxy allowed to forward the card in the
                                               x-ssl-client-cert header (repeatable)
  --cns-endpoint URL     DEMO_SP_CNS_ENDPOINT  where browsers present the card (default: the
                                               listener's https://ADDR/spid/cns/certificate)
  --test-idp, --no-test-idp  DEMO_SP_TEST_IDP=1|0  the local test IdP under /test-idp (default:
                                               on with a loopback --bind, a loopback base URL
                                               and no --idp-metadata; loopback clients only)
  -h, --help             this text

Logs: the SDK's events (docs/observability.md) on stderr, filtered by RUST_LOG (default
info; e.g. RUST_LOG=spid_sp=debug), as JSON lines with LOG_FORMAT=json. With a loopback
listener the Prometheus metrics are at /metrics.
";

/// Command line and environment, parsed.
#[derive(Debug)]
struct Options {
    bind: SocketAddr,
    base_url: Option<String>,
    idp_metadata: Vec<PathBuf>,
    /// The SP description: a `--profile`'s embedded one, or `--config`.
    sp: SpSource,
    level: SpidLevel,
    binding: Binding,
    key_dir: PathBuf,
    /// `--test-idp` (`Some(true)`), `--no-test-idp` (`Some(false)`).
    test_idp: Option<bool>,
    /// `--store`: `memory`, a `redis://` or a `redis+sentinel://` URL.
    store: String,
    /// `--audit-dir` (`None`: `--no-audit`).
    audit_dir: Option<PathBuf>,
    /// `--audit-postgres`.
    #[cfg_attr(not(feature = "audit"), allow(dead_code))]
    audit_postgres: Option<String>,
    /// `--pending-per-client`.
    pending_per_client: Option<usize>,
    /// `--audit-encrypt-to`.
    #[cfg_attr(not(feature = "audit"), allow(dead_code))]
    audit_encrypt_to: Option<PathBuf>,
    /// `--aggregator` / `--tenants DIR`.
    tenants: Option<aggregator::TenantsSource>,
    cns: cns::Options,
}

/// Where the SP description comes from.
#[derive(Debug)]
enum SpSource {
    /// `--profile NAME`: the embedded `profiles/NAME.toml`.
    Profile(&'static str, &'static str),
    /// `--config FILE`.
    File(PathBuf),
}

fn fail(msg: impl std::fmt::Display) -> ! {
    eprintln!("demo-sp: {msg}");
    std::process::exit(2)
}

fn parse_options() -> Options {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let mut bind = env("DEMO_SP_BIND").unwrap_or_else(|| "127.0.0.1:8000".into());
    let mut base_url = env("DEMO_SP_BASE_URL");
    let mut idp_metadata: Vec<PathBuf> = env("DEMO_SP_IDP_METADATA")
        .map(|v| std::env::split_paths(&v).collect())
        .unwrap_or_default();
    let mut profile = env("DEMO_SP_PROFILE");
    let mut config = env("DEMO_SP_CONFIG").map(PathBuf::from);
    let mut level = env("DEMO_SP_LEVEL").unwrap_or_else(|| "2".into());
    let mut binding = env("DEMO_SP_BINDING").unwrap_or_else(|| "post".into());
    let mut store = env("DEMO_SP_STORE").unwrap_or_else(|| "memory".into());
    let mut key_dir = env("DEMO_SP_KEY_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/demo-sp"));
    let mut audit_dir = env("DEMO_SP_AUDIT_DIR").map(PathBuf::from);
    let mut pending_per_client = env("DEMO_SP_PENDING_PER_CLIENT");
    let mut audit_postgres = env("DEMO_SP_AUDIT_POSTGRES");
    let mut audit_encrypt_to = env("DEMO_SP_AUDIT_ENCRYPT_TO").map(PathBuf::from);
    let mut audit =
        env("DEMO_SP_AUDIT").is_none_or(|v| !matches!(v.as_str(), "0" | "false" | "no" | "off"));
    let mut tenants = env("DEMO_SP_TENANTS")
        .map(|d| aggregator::TenantsSource::Dir(PathBuf::from(d)))
        .or_else(|| {
            env("DEMO_SP_AGGREGATOR")
                .filter(|v| !matches!(v.as_str(), "0" | "false" | "no" | "off"))
                .map(|_| aggregator::TenantsSource::Examples)
        });
    let mut test_idp =
        env("DEMO_SP_TEST_IDP").map(|v| !matches!(v.as_str(), "0" | "false" | "no" | "off"));

    let mut cns = cns::Options::from_env();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
            _ => (arg.clone(), None),
        };
        if flag == "-h" || flag == "--help" {
            print!("{USAGE}");
            std::process::exit(0);
        }
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next())
                .unwrap_or_else(|| fail(format!("{flag} needs a value (see --help)")))
        };
        if flag.starts_with("--cns-") && cns.parse(&flag, &mut value) {
            continue;
        }
        match flag.as_str() {
            "--bind" => bind = value(),
            "--base-url" => base_url = Some(value()),
            "--idp-metadata" => idp_metadata.push(PathBuf::from(value())),
            "--profile" => profile = Some(value()),
            "--config" => config = Some(PathBuf::from(value())),
            "--level" => level = value(),
            "--binding" => binding = value(),
            "--store" => store = value(),
            "--key-dir" => key_dir = PathBuf::from(value()),
            "--audit-dir" => audit_dir = Some(PathBuf::from(value())),
            "--audit-postgres" => audit_postgres = Some(value()),
            "--audit-encrypt-to" => audit_encrypt_to = Some(PathBuf::from(value())),
            "--no-audit" if inline.is_none() => audit = false,
            "--pending-per-client" => pending_per_client = Some(value()),
            "--aggregator" if inline.is_none() => {
                tenants = Some(aggregator::TenantsSource::Examples)
            }
            "--tenants" => tenants = Some(aggregator::TenantsSource::Dir(PathBuf::from(value()))),
            "--test-idp" if inline.is_none() => test_idp = Some(true),
            "--no-test-idp" if inline.is_none() => test_idp = Some(false),
            _ => fail(format!("unknown option {arg} (see --help)")),
        }
    }

    let bind: SocketAddr = bind
        .parse()
        .unwrap_or_else(|_| fail(format!("--bind: not an address: {bind}")));
    let sp = match (config, profile) {
        (Some(_), Some(_)) => fail(
            "--profile and --config exclude each other (the description's metadata.profile is the profile)",
        ),
        (Some(path), None) => SpSource::File(path),
        (None, profile) => {
            let name = profile.unwrap_or_else(|| "spid-public".into());
            let (name, toml) = description::embedded(&name).unwrap_or_else(|| {
                    fail(format!(
                        "--profile: unknown profile {name} (spid-public, spid-private, cie, eidas)"
                    ))
                });
            SpSource::Profile(name, toml)
        }
    };
    let level = level
        .parse::<u8>()
        .ok()
        .and_then(SpidLevel::from_number)
        .unwrap_or_else(|| fail(format!("--level: must be 1, 2 or 3, not {level}")));
    let binding = match binding.as_str() {
        "post" => Binding::Post,
        "redirect" => Binding::Redirect,
        other => fail(format!("--binding: must be post or redirect, not {other}")),
    };
    if store != "memory" {
        if store.starts_with("redis://") || store.starts_with("redis+sentinel://") {
            if cfg!(not(feature = "redis")) {
                fail("--store: redis store not built (rebuild with --features axum,redis, or use --store memory)");
            }
        } else {
            fail(format!(
                "--store: must be memory, redis://HOST:PORT or redis+sentinel://HOST:PORT,…/SERVICE, not {store}"
            ));
        }
    }
    if let Some(u) = &base_url {
        if !(u.starts_with("http://") || u.starts_with("https://")) {
            fail(format!("--base-url: not an http(s) URL: {u}"));
        }
    }
    Options {
        bind,
        base_url: base_url.map(|u| u.trim_end_matches('/').to_owned()),
        idp_metadata,
        sp,
        level,
        binding,
        audit_dir: audit.then(|| audit_dir.unwrap_or_else(|| key_dir.join("audit"))),
        audit_encrypt_to,
        audit_postgres,
        pending_per_client: pending_per_client.map(|n| {
            n.parse()
                .unwrap_or_else(|_| fail(format!("--pending-per-client: not a number: {n}")))
        }),
        key_dir,
        test_idp,
        store,
        tenants,
        cns,
    }
}

/// The demo SP key and certificate: read from `dir`, or created there at first start.
fn demo_key(dir: &Path, base_url: &str) -> SigningKey {
    let key_path = dir.join("sp.key.pem");
    let cert_path = dir.join("sp.crt.pem");
    if let (Ok(key), Ok(cert)) = (std::fs::read(&key_path), std::fs::read(&cert_path)) {
        match SigningKey::from_pem(&key, &cert) {
            Ok(k) => return k,
            Err(e) => fail(format!(
                "{} / {}: unusable ({e}); delete them to get new ones",
                key_path.display(),
                cert_path.display()
            )),
        }
    }
    let (key_pem, cert_pem) = new_demo_certificate(base_url)
        .unwrap_or_else(|e| fail(format!("cannot create the demo key: {e}")));
    if let Err(e) = std::fs::create_dir_all(dir)
        .and_then(|()| write_private(&key_path, &key_pem))
        .and_then(|()| std::fs::write(&cert_path, &cert_pem))
    {
        fail(format!(
            "cannot write the demo key to {}: {e}",
            dir.display()
        ));
    }
    eprintln!(
        "demo-sp: created a demo SP key and certificate in {} (demo only)",
        dir.display()
    );
    SigningKey::from_pem(&key_pem, &cert_pem)
        .unwrap_or_else(|e| fail(format!("demo key unusable: {e}")))
}

fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    opts.open(path)?.write_all(data)
}

/// A self-signed RSA-2048 / SHA-256 certificate valid for two years.
fn new_demo_certificate(base_url: &str) -> Result<(Vec<u8>, Vec<u8>), openssl::error::ErrorStack> {
    use openssl::asn1::Asn1Time;
    use openssl::bn::{BigNum, MsbOption};
    use openssl::hash::MessageDigest;
    use openssl::pkey::PKey;
    use openssl::rsa::Rsa;
    use openssl::x509::{X509Builder, X509NameBuilder};

    let key = PKey::from_rsa(Rsa::generate(2048)?)?;
    let mut name = X509NameBuilder::new()?;
    name.append_entry_by_text("C", "IT")?;
    name.append_entry_by_text("O", "spid-sp demo SP (not for production)")?;
    let host = base_url
        .split("://")
        .nth(1)
        .unwrap_or(base_url)
        .split(['/', ':'])
        .next()
        .unwrap_or("localhost");
    name.append_entry_by_text("CN", host)?;
    let name = name.build();
    let mut serial = BigNum::new()?;
    serial.rand(127, MsbOption::MAYBE_ZERO, false)?;
    let mut b = X509Builder::new()?;
    b.set_version(2)?;
    let serial = serial.to_asn1_integer()?;
    b.set_serial_number(&serial)?;
    b.set_subject_name(&name)?;
    b.set_issuer_name(&name)?;
    b.set_pubkey(&key)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let from = Asn1Time::from_unix(now - 86_400)?;
    let until = Asn1Time::from_unix(now + 730 * 86_400)?;
    b.set_not_before(&from)?;
    b.set_not_after(&until)?;
    b.sign(&key, MessageDigest::sha256())?;
    Ok((key.private_key_to_pem_pkcs8()?, b.build().to_pem()?))
}

/// Every trusted IdP: the embedded snapshots, then `--idp-metadata` files.
fn trusted_idps(extra: &[PathBuf]) -> Vec<IdentityProvider> {
    let mut idps = Vec::new();
    for (name, xml) in EMBEDDED_METADATA {
        match IdentityProvider::from_metadata(xml) {
            Ok(list) => idps.extend(list),
            Err(e) => fail(format!("{name}: {e}")),
        }
    }
    for path in extra {
        let xml = std::fs::read_to_string(path)
            .unwrap_or_else(|e| fail(format!("--idp-metadata {}: {e}", path.display())));
        match IdentityProvider::from_metadata(&xml) {
            Ok(list) => {
                for idp in list {
                    eprintln!("demo-sp: trusting {} ({})", idp.entity_id(), path.display());
                    idps.retain(|i| i.entity_id() != idp.entity_id());
                    idps.push(idp);
                }
            }
            Err(e) => fail(format!("--idp-metadata {}: {e}", path.display())),
        }
    }
    idps
}

/// The SP description of `source`, with `{base_url}` replaced.
fn sp_description(source: &SpSource, base_url: &str) -> SpDescription {
    let description = match source {
        SpSource::Profile(name, toml) => SpDescription::from_toml_str(toml)
            .unwrap_or_else(|e| fail(format!("profile {name}: {e}"))),
        SpSource::File(path) => SpDescription::load(path)
            .unwrap_or_else(|e| fail(format!("--config {}: {e}", path.display()))),
    };
    let description = description.with_base_url(base_url);
    let acs = format!("{base_url}/spid/acs");
    if description.assertion_consumer_services.first() != Some(&acs) {
        eprintln!("demo-sp: warning: the description's first ACS is not {acs}, where the demo receives logins");
    }
    description
}

/// The signing key: the description's `key_file` and `certificate_file` when it has
/// them, else the demo key of `--key-dir`.
fn sp_key(description: &SpDescription, key_dir: &Path, base_url: &str) -> SigningKey {
    if description.key_file.is_none() && description.certificate_file.is_none() {
        return demo_key(key_dir, base_url);
    }
    description
        .signing_key()
        .unwrap_or_else(|e| fail(format!("--config: {e}")))
}

/// `--store redis://…` (or `redis+sentinel://…`): pending logins, replay cache and sessions shared by every
/// instance with the same Redis and entityID.
struct SharedStores {
    pending: Arc<dyn spid_sp::store::PendingStore>,
    sessions: Arc<dyn spid_sp::store::SessionStore>,
    replay: Arc<dyn spid_sp::store::ReplayCache>,
}

/// The stores of `--store` (`None`: the in-memory defaults).
fn shared_stores(store: &str, entity_id: &str) -> Option<SharedStores> {
    if store == "memory" {
        return None;
    }
    #[cfg(feature = "redis")]
    {
        let s = spid_sp::store::RedisStore::for_sp(store, entity_id)
            .unwrap_or_else(|e| fail(format!("--store: {e}")));
        match s.ping() {
            Ok(()) => eprintln!(
                "demo-sp: logins and sessions in redis{}, keys {}:*",
                if s.is_sentinel() { " (sentinel)" } else { "" },
                s.prefix()
            ),
            // Not fatal: the store connects again on each request until Redis answers.
            Err(e) => eprintln!("demo-sp: warning: {e} (logins answer 503 until redis is back)"),
        }
        let s = Arc::new(s);
        Some(SharedStores {
            pending: s.clone(),
            sessions: s.clone(),
            replay: s,
        })
    }
    #[cfg(not(feature = "redis"))]
    {
        let _ = entity_id;
        fail("--store: redis store not built (rebuild with --features axum,redis)")
    }
}

/// The application: the SDK's endpoints under `/spid`, and the demo pages.
fn app(auth: &SpidAuth, site: Arc<pages::Site>, test_idp: Option<Router>) -> Router {
    Router::new()
        .route("/", get(pages::home))
        .route("/me", get(pages::me))
        .route("/area-l3", get(area_l3))
        .route("/style.css", get(pages::style))
        .with_state(site)
        .merge(auth.routes())
        // The local test IdP, when there is one (test_idp.rs).
        .merge(test_idp.unwrap_or_default())
        .layer(auth.layer())
}

/// A page that needs SpidL3: lower sessions are sent to re-authenticate (step-up).
async fn area_l3(
    axum::extract::State(site): axum::extract::State<Arc<pages::Site>>,
    AtLeast(session): AtLeast<3>,
) -> axum::response::Html<String> {
    pages::area_l3(&site, &session)
}

/// Prints the SDK's `tracing` events on stderr: `RUST_LOG` filters them (default `info`),
/// `LOG_FORMAT=json` writes JSON lines.
fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let fmt = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let json = std::env::var("LOG_FORMAT").is_ok_and(|v| v.eq_ignore_ascii_case("json"));
    let _ = if json {
        fmt.json().try_init()
    } else {
        fmt.try_init()
    };
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(t) => t,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

#[tokio::main]
async fn main() {
    init_logging();
    let opts = parse_options();
    let listener = tokio::net::TcpListener::bind(opts.bind)
        .await
        .unwrap_or_else(|e| fail(format!("cannot listen on {}: {e}", opts.bind)));
    let local = listener
        .local_addr()
        .unwrap_or_else(|e| fail(format!("no local address: {e}")));
    let base_url = opts.base_url.clone().unwrap_or_else(|| {
        let host = if local.ip().is_unspecified() {
            "127.0.0.1".to_owned()
        } else if local.is_ipv6() {
            format!("[{}]", local.ip())
        } else {
            local.ip().to_string()
        };
        format!("http://{host}:{}", local.port())
    });
    if let Some(source) = opts.tenants.as_ref() {
        let source = match source {
            aggregator::TenantsSource::Examples => aggregator::TenantsSource::Examples,
            aggregator::TenantsSource::Dir(d) => aggregator::TenantsSource::Dir(d.clone()),
        };
        return aggregator::run(opts, &source, listener, local, base_url).await;
    }

    let description = sp_description(&opts.sp, &base_url);
    let sp_metadata = description
        .sp_metadata()
        .unwrap_or_else(|e| fail(format!("metadata: {e}")));
    let key = sp_key(&description, &opts.key_dir, &base_url);
    let config = description
        .sp_config(key)
        .unwrap_or_else(|e| fail(format!("configuration: {e}")));
    let metadata_xml = sp_metadata
        .to_xml(&config)
        .unwrap_or_else(|e| fail(format!("metadata: {e}")));
    let profile = sp_metadata.profile;
    let test_idp_decision = test_idp::wanted(
        opts.test_idp,
        !opts.idp_metadata.is_empty(),
        &base_url,
        local,
    );
    let test_idp = test_idp_decision
        .is_ok()
        .then(|| test_idp::start(&opts.key_dir, &base_url, &metadata_xml));
    let mut idps = trusted_idps(&opts.idp_metadata);
    if let Some(t) = &test_idp {
        // Under the eIDAS profile the local test IdP plays the Italian eIDAS node: only
        // the node's logins may carry an eIDAS identifier (the foreign test user's key).
        let federation = match profile {
            SpProfile::Eidas => Some(Federation::Eidas),
            _ => None,
        };
        idps.extend(test_idp::trusted(t).into_iter().map(|i| match federation {
            Some(f) => i.with_federation(f),
            None => i,
        }));
    }
    let idp_count = idps.len();
    let shared = shared_stores(&opts.store, &base_url);
    let mut sp = ServiceProvider::new(config, idps).expect("service provider");
    if let Some(s) = &shared {
        sp = sp.with_replay_cache(s.replay.clone());
    }
    #[cfg(feature = "audit")]
    let registry = opts.audit_dir.as_ref().map(|dir| {
        audit::open(
            dir,
            opts.audit_postgres.as_deref(),
            &opts.key_dir,
            opts.audit_encrypt_to.as_deref(),
        )
    });

    let login_options = LoginOptions {
        level: opts.level,
        comparison: Comparison::Minimum,
        binding: opts.binding,
        ..LoginOptions::default()
    };
    let mut builder = SpidAuth::builder(sp)
        .metadata_xml(metadata_xml)
        .secure_cookies(base_url.starts_with("https://"))
        .login_options(login_options)
        .options_for_idp(move |idp, o| match idp.federation() {
            // CIE accepts only `minimum` (or `exact` at L3).
            Federation::Cie => o.comparison = Comparison::Minimum,
            // The eIDAS node: schemes notified at substantial/high; the core picks
            // AttributeConsumingService 99 unless told otherwise.
            Federation::Eidas => o.level = o.level.max(SpidLevel::L2),
            Federation::Spid => {}
        })
        .on_login(|login| eprintln!("demo-sp: login at {} from {}", login.level(), login.idp()))
        .login_page("/")
        .after_login("/me")
        .after_logout("/")
        .pages(Arc::new(pages::ErrorPages));
    if let Some(s) = shared {
        builder = builder.pending_store(s.pending).session_store(s.sessions);
    }
    if test_idp.is_some() {
        builder =
            builder.allow_test_idp(spid_sp::test_idp::TestIdpMode::IKnowThisIsNotAnAccreditedIdp);
    }
    if let Some(n) = opts.pending_per_client {
        builder = builder.pending_per_client(n);
    }
    // CIE over OpenID Connect against the local test federation (with the test IdP only).
    let mut oidc_routes = None;
    if test_idp.is_some() {
        match oidc::start(&base_url) {
            Ok((setup, routes)) => {
                builder = builder.oidc(setup);
                oidc_routes = Some(routes);
            }
            Err(e) => eprintln!("demo-sp: no OpenID Connect test federation: {e}"),
        }
    }
    #[cfg(feature = "audit")]
    if let Some(r) = &registry {
        builder = builder.audit_log(audit::as_log(r));
        audit::spawn_sealer(r);
    }
    if let Some(c) = cns::config(&opts.cns, "/spid", &base_url) {
        builder = builder.cns(c);
    }
    let auth = builder.build();
    cns::spawn_listener(&opts.cns, &auth, &opts.key_dir).await;
    let site = Arc::new(
        pages::Site::new(&auth, description::demo_name(profile), &base_url)
            .with_oidc(oidc_routes.is_some()),
    );
    let mut router = app(&auth, site, test_idp.as_ref().map(|t| t.routes()));
    if let Some(routes) = oidc_routes {
        router = router.merge(routes);
        println!("demo-sp: OpenID Connect test federation (TEST ONLY, not CIE) at {base_url}/test-federation/");
    }
    if local.ip().is_loopback() {
        // A demo on loopback only: in production, serve the metrics on an internal
        // listener (docs/observability.md).
        router = router.merge(auth.metrics_router("/metrics"));
    }

    println!(
        "demo-sp: profile {}, level {}, binding {}, {} trusted identity providers",
        description::demo_name(profile),
        opts.level.number(),
        match opts.binding {
            Binding::Redirect => "redirect",
            _ => "post",
        },
        idp_count
    );
    println!("demo-sp: metadata at {base_url}/spid/metadata");
    match (&test_idp, &test_idp_decision) {
        (Some(t), _) => println!(
            "demo-sp: test IdP (local; NOT an accredited identity provider) at {}/ (loopback clients only)",
            t.base_url()
        ),
        (None, Err(why)) => println!(
            "demo-sp: no local test IdP: {why} (it needs a loopback listener, a loopback base URL and no --idp-metadata)"
        ),
        (None, Ok(())) => {}
    }
    match &opts.audit_dir {
        Some(_) if cfg!(feature = "audit") && opts.audit_postgres.is_some() => {
            println!("demo-sp: transaction registry in PostgreSQL")
        }
        Some(dir) if cfg!(feature = "audit") => {
            println!("demo-sp: transaction registry in {}", dir.display())
        }
        Some(_) => println!("demo-sp: no transaction registry (built without the audit feature)"),
        None => println!("demo-sp: no transaction registry (--no-audit)"),
    }
    println!("demo-sp: listening on {local}; open {base_url}/ in a browser");

    // With the peer address: pending logins are bounded per client, and the test IdP
    // answers loopback clients only.
    if let Err(e) = axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await
    {
        fail(format!("server error: {e}"));
    }
    #[cfg(feature = "audit")]
    if let Some(r) = &registry {
        if let Err(e) = r.checkpoint() {
            eprintln!("demo-sp: final audit checkpoint failed: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::extract::{Query, State};

    fn key() -> SigningKey {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/metadata");
        SigningKey::from_pem(
            &std::fs::read(format!("{dir}/test-only-sp.key.pem")).unwrap(),
            &std::fs::read(format!("{dir}/test-only-sp.crt.pem")).unwrap(),
        )
        .unwrap()
    }

    /// The demo's home page under `profile`, on the embedded IdP snapshots (the eIDAS
    /// node among them), and the running SP.
    async fn home(profile: &str) -> (String, SpidAuth) {
        let base_url = "http://127.0.0.1:8000";
        let (name, toml) = description::embedded(profile).unwrap();
        let d = sp_description(&SpSource::Profile(name, toml), base_url);
        let config = d.sp_config(key()).unwrap();
        let sp = ServiceProvider::new(config, trusted_idps(&[])).unwrap();
        let auth = SpidAuth::builder(sp).build();
        let site = Arc::new(pages::Site::new(&auth, name, base_url));
        let page = pages::home(State(site), None, Ok(Query(Default::default()))).await;
        (page.0, auth)
    }

    /// The eIDAS node is trusted in every profile, but only the `eidas` profile has the
    /// attribute services 99/100 it needs: elsewhere its button is not offered (its login
    /// could only fail), and where it is offered the login starts.
    #[tokio::test]
    async fn the_eidas_button_only_where_the_profile_can_log_in_through_the_node() {
        for (profile, _) in description::PROFILES {
            let (html, auth) = home(profile).await;
            let node = auth
                .service_provider()
                .idps()
                .into_iter()
                .find(|i| i.federation() == Federation::Eidas)
                .expect("the eIDAS node is trusted");
            let id = node.entity_id().as_str();
            let shown = html.contains("Login with eIDAS");
            assert_eq!(shown, profile == "eidas", "{profile}: {html}");
            assert_eq!(html.contains(id), shown, "{profile}: no link to the node");
            assert!(html.contains("Entra con SPID"), "{profile}");
            let options = LoginOptions {
                level: SpidLevel::L2,
                ..LoginOptions::default()
            };
            assert_eq!(
                auth.service_provider().start_login(id, &options).is_ok(),
                shown,
                "{profile}: the button is shown exactly when the login can start"
            );
        }
    }
}
