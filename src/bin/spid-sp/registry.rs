//! `registry verify | list | fetch`: IdP metadata (SPID registry, CIE, eIDAS node).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Subcommand;
use openssl::x509::X509;
use serde_json::json;
use spid_sp::metadata::{
    self, IdentityProvider, MetadataSource, Registry, RegistryTrust, VerifiedMetadata,
};
use spid_sp::{Binding, Timestamp, VerificationKey};

use crate::args::{PinArgs, SourceArg};
use crate::io::{instant, invalid, print_json, read_bytes, replace_file, usage, Failure, Outcome};

#[derive(Subcommand)]
pub(crate) enum RegistryCommand {
    /// Verify one metadata document (signature against the pins, validUntil, IdPs).
    Verify {
        /// spid (registry aggregate), cie (unsigned) or eidas (eIDAS node).
        #[arg(long, value_enum)]
        source: SourceArg,
        #[command(flatten)]
        pins: PinArgs,
        /// Verify at this instant (xs:dateTime, or `now`) [default: now].
        #[arg(long)]
        at: Option<String>,
        /// The metadata file.
        file: PathBuf,
    },
    /// List the IdPs of verified metadata files with endpoints, keys and warnings.
    List {
        /// The SPID registry aggregate.
        #[arg(long)]
        spid: Option<PathBuf>,
        /// CIE ID metadata (unsigned).
        #[arg(long)]
        cie: Option<PathBuf>,
        /// eIDAS-node metadata.
        #[arg(long)]
        eidas: Option<PathBuf>,
        #[command(flatten)]
        pins: PinArgs,
        /// Verify and warn at this instant (xs:dateTime, or `now`) [default: now].
        #[arg(long)]
        at: Option<String>,
        /// Warn about certificates expiring within this many days.
        #[arg(long, default_value_t = 30)]
        warn_days: u32,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Download metadata, verify it, and write it only if it verifies.
    Fetch {
        /// spid, cie or eidas.
        #[arg(long, value_enum)]
        source: SourceArg,
        /// The http(s) URL.
        #[arg(long)]
        url: String,
        /// Where to write the verified document (replaced atomically).
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        pins: PinArgs,
        /// Download timeout in seconds.
        #[arg(long, default_value_t = 30)]
        timeout: u64,
        /// Verify at this instant (xs:dateTime, or `now`) [default: now].
        #[arg(long)]
        at: Option<String>,
        /// Tests only: allow plain http from a loopback host (127.0.0.0/8, [::1],
        /// localhost). Metadata is otherwise fetched over https only.
        #[arg(long)]
        allow_plain_http_loopback: bool,
    },
    /// Compare two IdP metadata documents: IdPs added/removed, signing keys
    /// added/removed, endpoints changed. Exit 0 same, 1 different.
    Diff {
        /// Verify both documents as this source first (with the pins) [default: compare
        /// without verifying].
        #[arg(long, value_enum)]
        verify_as: Option<SourceArg>,
        #[command(flatten)]
        pins: PinArgs,
        /// Verify at this instant (xs:dateTime, or `now`) [default: now].
        #[arg(long)]
        at: Option<String>,
        /// The older document.
        old: PathBuf,
        /// The newer document.
        new: PathBuf,
    },
}

pub(crate) fn registry_cmd(c: RegistryCommand) -> Outcome {
    match c {
        RegistryCommand::Verify {
            source,
            pins,
            at,
            file,
        } => verify(source.into(), &pins, at.as_deref(), &file),
        RegistryCommand::List {
            spid,
            cie,
            eidas,
            pins,
            at,
            warn_days,
            json,
        } => list(
            [
                (MetadataSource::SpidRegistry, spid),
                (MetadataSource::Cie, cie),
                (MetadataSource::EidasNode, eidas),
            ],
            &pins,
            at.as_deref(),
            warn_days,
            json,
        ),
        RegistryCommand::Fetch {
            source,
            url,
            out,
            pins,
            timeout,
            at,
            allow_plain_http_loopback,
        } => fetch(
            source.into(),
            &url,
            &out,
            &pins,
            timeout,
            at.as_deref(),
            allow_plain_http_loopback,
        ),
        RegistryCommand::Diff {
            verify_as,
            pins,
            at,
            old,
            new,
        } => diff(verify_as.map(Into::into), &pins, at.as_deref(), &old, &new),
    }
}

/// The IdPs of `path`: verified as `source` when given, else read as they are.
fn idps_of(
    path: &Path,
    source: Option<MetadataSource>,
    trust: &RegistryTrust,
    now: Timestamp,
) -> Result<Vec<IdentityProvider>, Failure> {
    let bytes = read_bytes(path)?;
    match source {
        Some(source) => metadata::verify_metadata(source, &bytes, trust, now)
            .map(|v| v.idps().to_vec())
            .map_err(|e| {
                usage(format!(
                    "{}: {e}{}",
                    path.display(),
                    pin_hint(trust, source)
                ))
            }),
        None => {
            let text = String::from_utf8(bytes)
                .map_err(|_| usage(format!("{}: not UTF-8", path.display())))?;
            IdentityProvider::from_metadata(&text)
                .map_err(|e| usage(format!("{}: {e}", path.display())))
        }
    }
}

fn diff(
    source: Option<MetadataSource>,
    pins: &PinArgs,
    at: Option<&str>,
    old: &Path,
    new: &Path,
) -> Outcome {
    let trust = trust_of(pins)?;
    let now = instant(at)?;
    if source.is_none() {
        eprintln!(
            "spid-sp: note: comparing without verifying signatures (--verify-as SOURCE to verify)"
        );
    }
    let a = idps_of(old, source, &trust, now)?;
    let b = idps_of(new, source, &trust, now)?;
    let events = metadata::diff_idps(&a, &b);
    for e in &events {
        println!("{e}");
    }
    if events.is_empty() {
        println!("same identity providers, keys and endpoints");
        return Ok(());
    }
    Err(invalid(format!("{} difference(s)", events.len())))
}

fn verify(source: MetadataSource, pins: &PinArgs, at: Option<&str>, file: &Path) -> Outcome {
    let trust = trust_of(pins)?;
    let now = instant(at)?;
    let bytes = read_bytes(file)?;
    let verified = metadata::verify_metadata(source, &bytes, &trust, now).map_err(|e| {
        invalid(format!(
            "{}: {e}{}",
            file.display(),
            pin_hint(&trust, source)
        ))
    })?;
    println!("{}", describe(&verified));
    let mut registry = Registry::new(trust);
    registry.install(verified).map_err(invalid)?;
    print_warnings(&registry, now, metadata::EXPIRY_HORIZON_SECS);
    Ok(())
}

fn list(
    inputs: [(MetadataSource, Option<PathBuf>); 3],
    pins: &PinArgs,
    at: Option<&str>,
    warn_days: u32,
    json: bool,
) -> Outcome {
    let trust = trust_of(pins)?;
    let now = instant(at)?;
    let mut registry = Registry::new(trust);
    if inputs.iter().all(|(_, p)| p.is_none()) {
        return Err(usage("give at least one of --spid, --cie, --eidas"));
    }
    for (source, path) in inputs {
        if let Some(path) = path {
            let bytes = read_bytes(&path)?;
            let hint = pin_hint(registry.trust(), source);
            registry
                .load(source, &bytes, now)
                .map_err(|e| invalid(format!("{}: {e}{hint}", path.display())))?;
        }
    }
    let horizon = i64::from(warn_days) * 86_400;
    if json {
        let warnings = registry.warnings(now, horizon);
        let idps: Vec<_> = registry.idps().map(idp_json).collect();
        print_json(&json!({
            "identity_providers": idps,
            "warnings": warnings.iter().map(ToString::to_string).collect::<Vec<_>>(),
        }));
        return Ok(());
    }
    for s in registry.sources() {
        println!("# {}", describe(s));
    }
    for idp in registry.idps() {
        print_idp(idp);
    }
    print_warnings(&registry, now, horizon);
    Ok(())
}

fn fetch(
    source: MetadataSource,
    url: &str,
    out: &Path,
    pins: &PinArgs,
    timeout: u64,
    at: Option<&str>,
    allow_plain_http_loopback: bool,
) -> Outcome {
    let trust = trust_of(pins)?;
    let now = instant(at)?;
    let mut fetcher = metadata::Fetcher::new(Duration::from_secs(timeout.max(1)));
    if allow_plain_http_loopback {
        fetcher = fetcher.allow_plain_http(metadata::PlainHttp::OnlyForLoopbackTests);
    }
    let (bytes, verified) =
        metadata::fetch_verified(source, url, &trust, &fetcher, now).map_err(|e| {
            invalid(format!(
                "{url}: {e}{}; {} left unchanged",
                pin_hint(&trust, source),
                out.display()
            ))
        })?;
    // No rollback: a copy already at `out` that still verifies must not be newer.
    if let Ok(current) = std::fs::read(out) {
        if let Ok(current) = metadata::verify_metadata(source, &current, &trust, now) {
            metadata::check_not_older(&current, &verified).map_err(|e| {
                invalid(format!(
                    "{url}: {e}; {} left unchanged (delete it to accept an older copy)",
                    out.display()
                ))
            })?;
        }
    }
    replace_file(out, &bytes)?;
    println!("{}", describe(&verified));
    println!("wrote {}", out.display());
    Ok(())
}

fn load_pins(paths: &[PathBuf]) -> Result<Vec<VerificationKey>, Failure> {
    let mut out = Vec::new();
    for path in paths {
        let pem = read_bytes(path)?;
        let certs = X509::stack_from_pem(&pem)
            .ok()
            .filter(|c| !c.is_empty())
            .ok_or_else(|| usage(format!("{}: no PEM certificate", path.display())))?;
        for cert in certs {
            out.push(
                VerificationKey::from_x509(&cert)
                    .map_err(|e| usage(format!("{}: {e}", path.display())))?,
            );
        }
    }
    Ok(out)
}

fn trust_of(pins: &PinArgs) -> Result<RegistryTrust, Failure> {
    let mut trust = if pins.snapshot_pins {
        eprintln!(
            "spid-sp: warning: trusting the committed snapshots' pins (the SPID one is AgID's test key, whose private key is public): for tests only"
        );
        RegistryTrust::committed_snapshots().map_err(usage)?
    } else {
        RegistryTrust::new()
    };
    for key in load_pins(&pins.spid_pin)? {
        trust = trust.with_spid_pin(key);
    }
    for key in load_pins(&pins.eidas_pin)? {
        trust = trust.with_eidas_pin(key);
    }
    Ok(trust)
}

/// A hint when a signed source has no pin at all.
fn pin_hint(trust: &RegistryTrust, source: MetadataSource) -> &'static str {
    match source {
        MetadataSource::SpidRegistry if trust.pins(source).is_empty() => {
            " (no pin given: pass --spid-pin FILE)"
        }
        MetadataSource::EidasNode if trust.pins(source).is_empty() => {
            " (no pin given: pass --eidas-pin FILE)"
        }
        _ => "",
    }
}

fn describe(v: &VerifiedMetadata) -> String {
    let mut s = format!(
        "{} metadata verified: {} identity provider(s), sha256 {}",
        v.source(),
        v.idps().len(),
        v.sha256_hex()
    );
    match v.signer() {
        Some(k) => {
            let _ = write!(s, ", signed by {}", k.subject());
        }
        None => s.push_str(", unsigned (trusted out of band)"),
    }
    if let Some(until) = v.valid_until() {
        let _ = write!(s, ", valid until {until}");
    }
    s
}

/// One `warning: ...` line per registry warning at `now` within `horizon` seconds.
fn print_warnings(registry: &Registry, now: Timestamp, horizon: i64) {
    for w in registry.warnings(now, horizon) {
        println!("warning: {w}");
    }
}

fn binding_name(b: Binding) -> &'static str {
    match b {
        Binding::Redirect => "HTTP-Redirect",
        Binding::Post => "HTTP-POST",
        Binding::Soap => "SOAP",
    }
}

fn idp_json(idp: &IdentityProvider) -> serde_json::Value {
    let endpoints = |list: &[metadata::Endpoint]| {
        list.iter()
            .map(|e| json!({"binding": binding_name(e.binding), "location": e.location, "response_location": e.response_location}))
            .collect::<Vec<_>>()
    };
    json!({
        "entity_id": idp.entity_id().as_str(),
        "federation": format!("{:?}", idp.federation()).to_lowercase(),
        "display_name": idp.display_name(),
        "sso": endpoints(idp.sso_endpoints()),
        "slo": endpoints(idp.slo_endpoints()),
        "keys": idp.keys().iter().map(|k| json!({
            "subject": k.subject(),
            "bits": k.bits(),
            "not_after": k.not_after().map(|t| t.to_string()),
            "sha256": k.fingerprint().iter().map(|b| format!("{b:02x}")).collect::<String>(),
        })).collect::<Vec<_>>(),
    })
}

fn print_idp(idp: &IdentityProvider) {
    println!(
        "{} ({:?}{})",
        idp.entity_id(),
        idp.federation(),
        idp.display_name()
            .map(|n| format!(", {n}"))
            .unwrap_or_default()
    );
    for e in idp.sso_endpoints() {
        println!("  sso {:<13} {}", binding_name(e.binding), e.location);
    }
    for e in idp.slo_endpoints() {
        println!("  slo {:<13} {}", binding_name(e.binding), e.location);
    }
    for k in idp.keys() {
        println!(
            "  key RSA {} until {}  {}",
            k.bits(),
            k.not_after()
                .map(|t| t.to_string())
                .unwrap_or_else(|| "?".into()),
            k.subject()
        );
    }
}
