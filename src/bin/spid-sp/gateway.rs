//! `spid-sp gateway` (feature `gateway`): the SPID/CIE/eIDAS gateway in front of any
//! application, and `spid-sp gateway check`. The work is in `spid_sp::gateway`; this file
//! reads the command line, starts the runtime, the listeners and the signals.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use spid_sp::gateway::{Extras, Gateway, GatewayConfig, GatewayError, Overrides, Prepared};

use crate::io::{usage, Failure};

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
pub(crate) struct GatewayArgs {
    #[command(subcommand)]
    command: Option<GatewayCommand>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Subcommand)]
enum GatewayCommand {
    /// Validate the file and print what the gateway would serve (routes, upstreams,
    /// policies); exit status 1 when it is invalid.
    Check(RunArgs),
}

#[derive(Args, Clone)]
struct RunArgs {
    /// The gateway file (TOML: the SP description and a [gateway] table; docs/gateway.md).
    #[arg(long, env = "SPID_GATEWAY_CONFIG")]
    config: Option<PathBuf>,
    /// Listen address (overrides gateway.bind).
    #[arg(long)]
    bind: Option<String>,
    /// Public base URL (overrides gateway.base_url).
    #[arg(long)]
    base_url: Option<String>,
    /// More trusted IdP metadata (repeatable; added to gateway.idp_metadata).
    #[arg(long = "idp-metadata")]
    idp_metadata: Vec<PathBuf>,
    /// One upstream for every path (replaces gateway.upstreams).
    #[arg(long)]
    upstream: Option<String>,
    /// Mount the local TEST IdP under /test-idp and trust it: NEVER IN PRODUCTION. Only
    /// with a loopback listener and base URL, and a binary built with the test-idp feature.
    #[arg(long)]
    test_idp: bool,
}

fn failure(path: &std::path::Path, e: GatewayError) -> Failure {
    match e {
        GatewayError::Read { .. } => usage(e),
        e => Failure {
            status: 1,
            message: format!("{}: {e}", path.display()),
        },
    }
}

fn load(args: &RunArgs) -> Result<(PathBuf, GatewayConfig), Failure> {
    let path = args
        .config
        .clone()
        .ok_or_else(|| usage("--config FILE is required"))?;
    let mut config = GatewayConfig::load(&path).map_err(|e| failure(&path, e))?;
    config.apply(Overrides {
        bind: args.bind.clone(),
        base_url: args.base_url.clone(),
        idp_metadata: args.idp_metadata.clone(),
        upstream: args.upstream.clone(),
    });
    Ok((path, config))
}

pub(crate) fn gateway_cmd(a: GatewayArgs) -> Result<(), Failure> {
    match a.command {
        Some(GatewayCommand::Check(args)) => check(&args),
        None => run(&a.run),
    }
}

fn check(args: &RunArgs) -> Result<(), Failure> {
    let (path, config) = load(args)?;
    let plan = config.plan().map_err(|e| failure(&path, e))?;
    let summary = plan.summary(&config);
    let description = spid_sp::gateway::Prepared::check_description(&config, &plan)
        .map_err(|e| failure(&path, e))?;
    print!("{summary}");
    println!("sp         {description}");
    println!("{}: ok", path.display());
    Ok(())
}

/// The gateway logs at INFO by default (`RUST_LOG` overrides; `LOG_FORMAT=json`): the
/// `init_logging` of main.rs only starts a subscriber when `RUST_LOG` is set. Lines go
/// to stderr through [`log_buffer`]: one write per batch, not per line.
fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let fmt = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(log_buffer::Stderr::start());
    let json = std::env::var("LOG_FORMAT").is_ok_and(|v| v.eq_ignore_ascii_case("json"));
    // Already set (RUST_LOG given): keep main's.
    let _ = if json {
        fmt.json().try_init()
    } else {
        fmt.try_init()
    };
}

fn run(args: &RunArgs) -> Result<(), Failure> {
    init_logging();
    let result = start(args);
    // Whatever ended the gateway: the buffered lines go out before the process exits.
    log_buffer::flush();
    result
}

fn start(args: &RunArgs) -> Result<(), Failure> {
    let (path, config) = load(args)?;
    let reload_secs = config.gateway.registry.reload_secs;
    let prepared = Prepared::new(config).map_err(|e| failure(&path, e))?;
    let extras = if args.test_idp {
        test_idp(&prepared)?
    } else {
        Extras::default()
    };
    // Thread per core: this thread and `threads - 1` others each run a single-threaded
    // runtime with its own listener on the same address (SO_REUSEPORT): a request, its
    // upstream connection and its response stay on one thread.
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let runtime = current_thread_runtime()?;
    runtime.block_on(serve(prepared, extras, reload_secs, threads))
}

fn current_thread_runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| usage(format!("cannot start the runtime: {e}")))
}

/// A listener on `addr` that other listeners of this process can share (SO_REUSEPORT:
/// the kernel spreads the connections; Linux only lets the same user share a port).
fn shared_listener(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    #[cfg(all(
        unix,
        not(any(target_os = "solaris", target_os = "illumos", target_os = "cygwin"))
    ))]
    socket.set_reuseport(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

/// Serves `router` on `listener` until `stop` changes (then finishes in-flight requests).
async fn serve_on(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> std::io::Result<()> {
    // No Nagle: a response written in two parts (head, then body) must not wait for the
    // client's delayed ACK.
    use axum::serve::ListenerExt as _;
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        let _ = stop.wait_for(|s| *s).await;
    })
    .await
}

/// Log lines buffered in memory and written to stderr in batches: when a batch reaches
/// [`log_buffer::BATCH`] bytes, at once for WARN and ERROR lines (and everything before
/// them, in order), every [`log_buffer::PERIOD`] otherwise, and when the gateway stops.
/// At INFO the gateway logs a line per proxied request: written one by one, that is a
/// system call per request. What a crash can lose: the INFO lines of the last period.
mod log_buffer {
    use std::io::Write as _;
    use std::sync::{Mutex, OnceLock};
    use std::time::Duration;

    /// Written when the buffer holds this many bytes.
    pub(super) const BATCH: usize = 32 * 1024;
    /// Longest time an INFO line waits.
    pub(super) const PERIOD: Duration = Duration::from_millis(200);

    static BUFFER: OnceLock<Mutex<Vec<u8>>> = OnceLock::new();

    fn buffer() -> &'static Mutex<Vec<u8>> {
        BUFFER.get_or_init(|| Mutex::new(Vec::with_capacity(BATCH)))
    }

    /// Writes the buffer out (the lock is held while writing: lines keep their order).
    pub(super) fn flush() {
        if let Ok(mut b) = buffer().lock() {
            write_out(&mut b);
        }
    }

    fn write_out(b: &mut Vec<u8>) {
        if !b.is_empty() {
            let _ = std::io::stderr().write_all(b);
            b.clear();
        }
    }

    /// The `MakeWriter` of the subscriber.
    #[derive(Clone, Copy, Debug)]
    pub(super) struct Stderr;

    impl Stderr {
        /// The writer, and the thread that writes the buffer out every [`PERIOD`].
        pub(super) fn start() -> Stderr {
            let _ = std::thread::Builder::new()
                .name("log-flush".into())
                .spawn(|| loop {
                    std::thread::sleep(PERIOD);
                    flush();
                });
            Stderr
        }
    }

    /// One event's line (the subscriber formats it whole, then writes it once).
    pub(super) struct Line {
        urgent: bool,
    }

    impl std::io::Write for Line {
        fn write(&mut self, line: &[u8]) -> std::io::Result<usize> {
            match buffer().lock() {
                Ok(mut b) => {
                    b.extend_from_slice(line);
                    if self.urgent || b.len() >= BATCH {
                        write_out(&mut b);
                    }
                }
                // Never lose a line to a poisoned lock: straight to stderr.
                Err(_) => {
                    let _ = std::io::stderr().write_all(line);
                }
            }
            Ok(line.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Stderr {
        type Writer = Line;

        fn make_writer(&'a self) -> Line {
            Line { urgent: true }
        }

        fn make_writer_for(&'a self, meta: &tracing::Metadata<'_>) -> Line {
            Line {
                urgent: *meta.level() <= tracing::Level::WARN,
            }
        }
    }
}

#[cfg(feature = "test-idp")]
fn test_idp(prepared: &Prepared) -> Result<Extras, Failure> {
    use spid_sp::metadata::IdentityProvider;
    use spid_sp::test_idp::server::TestIdpServer;
    use spid_sp::test_idp::{is_loopback_url, TestIdp, TestIdpMode};

    let base = &prepared.plan.base_url;
    if !is_loopback_url(base) || !prepared.plan.bind.ip().to_canonical().is_loopback() {
        return Err(usage(
            "--test-idp: only with a loopback --bind and a loopback --base-url (never in production)",
        ));
    }
    let url = format!("{base}/test-idp");
    let key = test_idp_key(prepared, &url)?;
    let server = TestIdpServer::new(
        TestIdpMode::IKnowThisIsNotAnAccreditedIdp,
        TestIdp::new(url.clone(), key),
        url.clone(),
    )
    .and_then(|s| s.trust_sp_metadata(&prepared.metadata_xml))
    .map_err(|e| usage(format!("test IdP: {e}")))?;
    let idps = IdentityProvider::from_metadata(&server.metadata())
        .map_err(|e| usage(format!("test IdP metadata: {e}")))?;
    eprintln!(
        "spid-sp gateway: TEST IdP at {url}/ (NOT an accredited identity provider; loopback only)"
    );
    Ok(Extras {
        routes: Some(server.routes()),
        idps,
        allow_test_idp: Some(TestIdpMode::IKnowThisIsNotAnAccreditedIdp),
    })
}

/// The test IdP's key: `<key_dir>/test-idp.key.pem` (shared by gateways with the same
/// key_dir), else a new one in memory.
#[cfg(feature = "test-idp")]
fn test_idp_key(prepared: &Prepared, url: &str) -> Result<spid_sp::SigningKey, Failure> {
    use spid_sp::test_idp::TestIdp;
    use spid_sp::SigningKey;
    let dir = prepared.config.gateway.key_dir.clone();
    if let Some(d) = &dir {
        if let (Ok(k), Ok(c)) = (
            std::fs::read(d.join("test-idp.key.pem")),
            std::fs::read(d.join("test-idp.crt.pem")),
        ) {
            return SigningKey::from_pem(&k, &c).map_err(|e| usage(format!("test IdP key: {e}")));
        }
    }
    let host = url
        .split("://")
        .nth(1)
        .and_then(|r| r.split(['/', ':']).next())
        .unwrap_or("localhost");
    let (k, c) =
        TestIdp::generate_key_pem(host, 730).map_err(|e| usage(format!("test IdP key: {e}")))?;
    if let Some(d) = &dir {
        let _ = std::fs::create_dir_all(d);
        let written = spid_sp::gateway::write_private_file(&d.join("test-idp.key.pem"), &k)
            .and_then(|()| std::fs::write(d.join("test-idp.crt.pem"), &c));
        if let Err(e) = written {
            return Err(usage(format!("{}: {e}", d.display())));
        }
    }
    SigningKey::from_pem(&k, &c).map_err(|e| usage(format!("test IdP key: {e}")))
}

#[cfg(not(feature = "test-idp"))]
fn test_idp(_: &Prepared) -> Result<Extras, Failure> {
    Err(usage(
        "--test-idp: this binary was built without the test-idp feature (cargo build --features gateway,test-idp)",
    ))
}

async fn serve(
    prepared: Prepared,
    extras: Extras,
    reload_secs: u64,
    threads: usize,
) -> Result<(), Failure> {
    let bind = prepared.plan.bind;
    let metrics_bind = prepared.plan.metrics_bind;
    let base_url = prepared.plan.base_url.clone();
    // First an exclusive bind: a port another process holds (even one that shares its
    // port with SO_REUSEPORT, e.g. a gateway still running) is refused as before, instead
    // of splitting the connections with it. It also picks the port when `bind` says 0.
    let local_addr = std::net::TcpListener::bind(bind)
        .and_then(|l| l.local_addr())
        .map_err(|e| usage(format!("cannot listen on {bind}: {e}")))?;
    let listener = shared_listener(local_addr)
        .map_err(|e| usage(format!("cannot listen on {local_addr}: {e}")))?;
    let mut others = Vec::with_capacity(threads.saturating_sub(1));
    for _ in 1..threads {
        let l = shared_listener(local_addr)
            .and_then(|l| l.into_std())
            .map_err(|e| usage(format!("cannot listen on {local_addr}: {e}")))?;
        others.push(l);
    }
    let (gateway, router) = Gateway::new(prepared, extras).map_err(|e| Failure {
        status: 1,
        message: e.to_string(),
    })?;
    gateway.spawn_maintenance(reload_secs);
    if let Some(a) = gateway.spawn_cns_listener().await.map_err(|e| Failure {
        status: 1,
        message: e.to_string(),
    })? {
        eprintln!("spid-sp gateway: CNS TLS listener on {a}");
    }
    if let Some(m) = metrics_bind {
        let l = tokio::net::TcpListener::bind(m)
            .await
            .map_err(|e| usage(format!("cannot listen on {m}: {e}")))?;
        let r = gateway.metrics_router();
        tokio::spawn(async move {
            let _ = axum::serve(l, r).await;
        });
    }
    spawn_sighup(&gateway);
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let mut workers = Vec::with_capacity(others.len());
    for (i, l) in others.into_iter().enumerate() {
        let (router, stop) = (router.clone(), stop.clone());
        let worker = std::thread::Builder::new()
            .name(format!("gateway-{}", i + 1))
            .spawn(move || -> Result<(), String> {
                let rt = current_thread_runtime().map_err(|f| f.message)?;
                rt.block_on(async move {
                    let l = tokio::net::TcpListener::from_std(l).map_err(|e| e.to_string())?;
                    serve_on(l, router, stop).await.map_err(|e| e.to_string())
                })
            })
            .map_err(|e| usage(format!("cannot start a serving thread: {e}")))?;
        workers.push(worker);
    }
    let local = local_addr.to_string();
    eprintln!("spid-sp gateway: listening on {local}, base URL {base_url}");
    tracing::info!(target: "spid_sp::gateway", listen = %local, threads, "gateway started");
    // SIGTERM/SIGINT: every thread stops accepting and finishes its in-flight requests.
    let stop_tx = std::sync::Arc::new(stop_tx);
    let on_signal = stop_tx.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = on_signal.send(true);
    });
    let served = serve_on(listener, router, stop).await;
    // This listener failed, or the signal came: the other threads stop too.
    let _ = stop_tx.send(true);
    let joined = tokio::task::spawn_blocking(move || {
        workers
            .into_iter()
            .filter_map(|w| match w.join() {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(e),
                Err(_) => Some("a serving thread panicked".to_owned()),
            })
            .collect::<Vec<_>>()
    })
    .await
    .unwrap_or_default();
    let g = gateway.clone();
    let _ = tokio::task::spawn_blocking(move || g.checkpoint()).await;
    tracing::info!(target: "spid_sp::gateway", "gateway stopped");
    served.map_err(|e| usage(format!("server error: {e}")))?;
    match joined.first() {
        Some(e) => Err(usage(format!("server error: {e}"))),
        None => Ok(()),
    }
}

/// SIGHUP: re-read the IdP metadata files and the tenant sources now.
fn spawn_sighup(gateway: &Gateway) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let Ok(mut hup) = signal(SignalKind::hangup()) else {
            return;
        };
        let gw = gateway.clone();
        tokio::spawn(async move {
            while hup.recv().await.is_some() {
                let g = gw.clone();
                match tokio::task::spawn_blocking(move || g.reload_idps(true)).await {
                    Ok(Ok(_)) => {
                        tracing::info!(target: "spid_sp::gateway", "IdP metadata reloaded (SIGHUP)")
                    }
                    Ok(Err(e)) => {
                        tracing::error!(target: "spid_sp::gateway", error = %e, "IdP metadata reload failed; the previous set stays")
                    }
                    Err(_) => {}
                }
                let g = gw.clone();
                if let Ok(Err(e)) = tokio::task::spawn_blocking(move || g.reload_cns()).await {
                    tracing::error!(target: "spid_sp::gateway", error = %e, "CNS trust reload failed; the current trust and CRLs stay");
                }
                let g = gw.clone();
                let _ = tokio::task::spawn_blocking(move || g.reload_tenants()).await;
            }
        });
    }
    #[cfg(not(unix))]
    let _ = gateway;
}

/// SIGTERM or SIGINT: stop accepting, let in-flight requests finish.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
    tracing::info!(target: "spid_sp::gateway", "shutting down: finishing in-flight requests");
}
