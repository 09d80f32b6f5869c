//! `spid-sp`: SP certificates, SP metadata, the IdP registry, and message inspection and
//! verification from the command line. See `docs/cli.md`.
//!
//! Exit status: 0 success; 1 the thing checked is not valid (a rejected Response, a
//! non-compliant certificate, metadata with errors, a registry document that does not
//! verify); 2 the command could not run (bad arguments, unreadable file, malformed input);
//! 141 standard output closed early (`| head`), nothing more printed.
#![forbid(unsafe_code)]
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

/// Standard output that may be closed early (`spid-sp registry list | head`): these
/// shadow `std`'s `println!`/`print!` in every module below, which would panic on a
/// broken pipe. A closed pipe ends the process quietly with [`io::BROKEN_PIPE`]; any
/// other write error is reported on one line (exit 2).
macro_rules! println {
    () => {
        $crate::io::write_stdout(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::io::write_stdout(format_args!("{}\n", format_args!($($arg)*)))
    };
}
/// See `println!` above.
#[allow(unused_macros)]
macro_rules! print {
    ($($arg:tt)*) => {
        $crate::io::write_stdout(format_args!($($arg)*))
    };
}
/// Standard error never panics either (a closed stderr loses the message, nothing else).
macro_rules! eprintln {
    ($($arg:tt)*) => {
        $crate::io::write_stderr(format_args!("{}\n", format_args!($($arg)*)))
    };
}

// One module per command; `args` holds the clap types several commands share, `io` the
// input/output helpers and the failure type, `config` the SP description file.
mod args;
mod audit;
mod config;
#[cfg(feature = "gateway")]
mod gateway;
mod inspect;
mod io;
mod keygen;
mod metadata;
mod registry;
mod verify;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "spid-sp",
    version,
    about = "SPID / CIE ID / eIDAS service provider tool: certificates, metadata, IdP registry, message inspection and verification"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate an SP key with a self-signed certificate (public sector) or a CSR for
    /// AgID's CA (private sector), as Avviso SPID n.29 v3 requires.
    Keygen(keygen::KeygenArgs),
    /// Check a certificate or CSR against Avviso SPID n.29 v3 and list every problem.
    CertCheck(keygen::CertCheckArgs),
    /// Emit the SP's signed metadata from a config file, or `check` a metadata file.
    Metadata(metadata::MetadataArgs),
    /// Verify, list or fetch IdP metadata (SPID registry, CIE, eIDAS node).
    #[command(subcommand)]
    Registry(registry::RegistryCommand),
    /// Decode a SAMLRequest/SAMLResponse (Redirect URL, POST form body, base64 or XML)
    /// WITHOUT verifying it.
    Inspect(inspect::InspectArgs),
    /// Verify a Response as the SP would: signature, issuer, audience, ACS, request ID,
    /// times, level. Prints the identity as JSON.
    Verify(verify::VerifyArgs),
    /// The 24-month transaction registry: verify, search, export, prune, keygen.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// SPID/CIE/eIDAS login in front of any application (reverse proxy, nginx
    /// auth_request); `gateway check` validates the file. See docs/gateway.md.
    #[cfg(feature = "gateway")]
    Gateway(gateway::GatewayArgs),
}

/// Prints the SDK's `tracing` events (registry loads and refreshes, verifications) on
/// stderr when `RUST_LOG` is set (e.g. `RUST_LOG=spid_sp=info`; without it the output is
/// the command's own), as JSON lines with `LOG_FORMAT=json`.
fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let Ok(filter) = EnvFilter::try_from_default_env() else {
        return;
    };
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

fn main() -> ExitCode {
    init_logging();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Keygen(a) => keygen::keygen(a),
        Command::CertCheck(a) => keygen::cert_check(a),
        Command::Metadata(a) => metadata::metadata_cmd(a),
        Command::Registry(c) => registry::registry_cmd(c),
        Command::Inspect(a) => inspect::inspect(a),
        Command::Verify(a) => verify::verify(a),
        Command::Audit(c) => audit::audit_cmd(c),
        #[cfg(feature = "gateway")]
        Command::Gateway(a) => gateway::gateway_cmd(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            let first_line = f.message.lines().next().unwrap_or("").to_owned();
            eprintln!("spid-sp: {first_line}");
            ExitCode::from(f.status)
        }
    }
}
