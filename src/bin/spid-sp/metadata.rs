//! `metadata` (the SP's signed metadata from the description file) and `metadata check`.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use spid_sp::metadata::{self, SpProfile};

use crate::config::{config_failure, load_config};
use spid_sp::VerificationKey;

use crate::io::{instant, invalid, read_bytes, read_text, replace_file, usage, Failure, Outcome};

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
pub(crate) struct MetadataArgs {
    #[command(subcommand)]
    check: Option<MetadataCommand>,
    /// JSON config file (see docs/cli.md).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Write the metadata here instead of standard output.
    #[arg(long)]
    out: Option<PathBuf>,
    /// The instant used for validUntil (xs:dateTime) [default: now].
    #[arg(long)]
    at: Option<String>,
}

#[derive(Subcommand)]
enum MetadataCommand {
    /// Check an SP metadata file against our rules (SPID/CIE/eIDAS profiles).
    Check {
        /// spid-sp-public, spid-sp-private, cie-sp-public, cie-sp-private, ficep-eidas-sp,
        /// or an aggregator profile: spid-sp-ag-public-full, spid-sp-ag-public-lite,
        /// spid-sp-ag-private-full, spid-sp-ag-private-lite, spid-sp-op-public-full,
        /// spid-sp-op-public-lite.
        #[arg(long, default_value = "spid-sp-public")]
        profile: String,
        /// Check certificate expiry and validUntil at this instant (or `now`) [default: now].
        #[arg(long)]
        at: Option<String>,
        /// The metadata file.
        file: PathBuf,
    },
    /// Compare two SP metadata files by meaning (entityID, keys, endpoints, attribute
    /// services, contacts): signature, order and whitespace are ignored. Exit 0 same, 1
    /// different.
    Diff {
        /// The older file (e.g. the one submitted to AgID).
        old: PathBuf,
        /// The newer file.
        new: PathBuf,
    },
    /// Has the metadata drifted from what was last submitted to AgID / uploaded to the
    /// CIE portal? Exit 0 no, 1 yes. With --submitted-sha256 the bytes must be identical;
    /// with --submitted (the copy submitted) the verdict is by meaning, and the
    /// differences are listed.
    Drift {
        /// SHA-256 (hex) of the file last submitted.
        #[arg(long, required_unless_present = "submitted")]
        submitted_sha256: Option<String>,
        /// The copy last submitted.
        #[arg(long)]
        submitted: Option<PathBuf>,
        /// Also warn when a certificate in FILE expires within this many days.
        #[arg(long, default_value_t = 30)]
        warn_days: u32,
        /// Check certificate expiry at this instant (or `now`) [default: now].
        #[arg(long)]
        at: Option<String>,
        /// The metadata served now (or generated from the description file).
        file: PathBuf,
    },
}

pub(crate) fn metadata_cmd(a: MetadataArgs) -> Outcome {
    match a.check {
        Some(MetadataCommand::Check { profile, at, file }) => {
            return metadata_check(&profile, at.as_deref(), &file)
        }
        Some(MetadataCommand::Diff { old, new }) => return metadata_diff(&old, &new),
        Some(MetadataCommand::Drift {
            submitted_sha256,
            submitted,
            warn_days,
            at,
            file,
        }) => {
            return metadata_drift(
                submitted_sha256.as_deref(),
                submitted.as_deref(),
                warn_days,
                at.as_deref(),
                &file,
            )
        }
        None => {}
    }
    let path = a
        .config
        .ok_or_else(|| usage("missing --config FILE (or use `spid-sp metadata check FILE`)"))?;
    let now = instant(a.at.as_deref())?;
    let config = load_config(&path)?;
    let sp_metadata = config.sp_metadata().map_err(|e| config_failure(&path, e))?;
    let xml = if sp_metadata.profile.aggregator_kind().is_some() {
        // An aggregated entity: the description with its aggregator (and, without a key
        // of its own, the aggregator's key), as `spid-sp tenants` loads it.
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("tenant");
        spid_sp::tenant::Tenant::from_description(name, &path, config)
            .map_err(usage)?
            .metadata_xml_at(now)
            .map_err(usage)?
    } else {
        let key = config.signing_key().map_err(|e| config_failure(&path, e))?;
        let sp_config = config
            .sp_config(key)
            .map_err(|e| config_failure(&path, e))?;
        sp_metadata.to_xml_at(&sp_config, now).map_err(usage)?
    };
    match a.out {
        Some(out) => {
            replace_file(&out, xml.as_bytes())?;
            eprintln!(
                "wrote {} ({} profile, signed)",
                out.display(),
                sp_metadata.profile
            );
        }
        None => print!("{xml}"),
    }
    Ok(())
}

fn profile_of(name: &str) -> Result<SpProfile, Failure> {
    name.parse::<SpProfile>().map_err(usage)
}

fn metadata_check(profile: &str, at: Option<&str>, file: &Path) -> Outcome {
    let profile = profile_of(profile)?;
    let now = instant(at)?;
    let xml = read_text(file)?;
    let problems = metadata::check_sp_metadata_at(&xml, profile, now);
    let errors = problems
        .iter()
        .filter(|p| p.severity == metadata::Severity::Error)
        .count();
    for p in &problems {
        println!("{p}");
    }
    let summary = format!(
        "{}: {errors} error(s), {} warning(s) for profile {}",
        file.display(),
        problems.len() - errors,
        profile.spid_sp_test_profile()
    );
    if errors > 0 {
        return Err(invalid(summary));
    }
    println!("{summary}");
    Ok(())
}

/// The semantic differences between two SP metadata files, printed one a line.
fn changes(old: &Path, new: &Path) -> Result<Vec<metadata::SpMetadataChange>, Failure> {
    let a = read_text(old)?;
    let b = read_text(new)?;
    metadata::diff_sp_metadata(&a, &b)
        .map_err(|e| usage(format!("{}/{}: {e}", old.display(), new.display())))
}

fn metadata_diff(old: &Path, new: &Path) -> Outcome {
    let changes = changes(old, new)?;
    for c in &changes {
        println!("{c}");
    }
    if changes.is_empty() {
        println!("same SP metadata (by meaning)");
        return Ok(());
    }
    Err(invalid(format!("{} difference(s)", changes.len())))
}

fn sha256_hex(bytes: &[u8]) -> Result<String, Failure> {
    let digest = openssl::hash::hash(openssl::hash::MessageDigest::sha256(), bytes)
        .map_err(|_| usage("sha-256 unavailable"))?;
    Ok(digest.iter().map(|b| format!("{b:02x}")).collect())
}

fn metadata_drift(
    submitted_sha256: Option<&str>,
    submitted: Option<&Path>,
    warn_days: u32,
    at: Option<&str>,
    file: &Path,
) -> Outcome {
    let now = instant(at)?;
    let bytes = read_bytes(file)?;
    let text = String::from_utf8(bytes.clone())
        .map_err(|_| usage(format!("{}: not UTF-8", file.display())))?;
    let actual = sha256_hex(&bytes)?;
    println!("{}: sha256 {actual}", file.display());
    // The SP certificates in the file, expiring within the horizon.
    let horizon = i64::from(warn_days) * 86_400;
    let keys: Vec<VerificationKey> = sp_certificates(&text);
    for e in metadata::sp_certificate_events(&keys, now, horizon) {
        println!("warning: {e}");
    }
    let mut drifted = false;
    if let Some(expected) = submitted_sha256 {
        let expected = expected.trim().to_ascii_lowercase().replace(':', "");
        if expected.len() != 64 || !expected.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(usage("--submitted-sha256 must be 64 hex digits"));
        }
        if expected == actual {
            println!("same bytes as submitted");
        } else {
            println!("bytes differ from the submitted file (sha256 {expected})");
            drifted = submitted.is_none();
        }
    }
    if let Some(copy) = submitted {
        let changes = changes(copy, file)?;
        for c in &changes {
            println!("{c}");
        }
        if changes.is_empty() {
            println!("same content as the submitted copy (by meaning): nothing to re-submit");
        } else {
            drifted = true;
        }
    }
    if drifted {
        return Err(invalid(format!(
            "{} has drifted from the metadata last submitted: re-submit it to AgID (SPID) / upload it to the CIE portal",
            file.display()
        )));
    }
    Ok(())
}

/// The certificates of the SP's `KeyDescriptor`s (unreadable ones skipped).
fn sp_certificates(text: &str) -> Vec<VerificationKey> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("X509Certificate>") {
        let after = rest.get(start + "X509Certificate>".len()..).unwrap_or("");
        let Some(end) = after.find('<') else { break };
        let b64: String = after.get(..end).unwrap_or("").split_whitespace().collect();
        if let Ok(k) = VerificationKey::from_certificate_base64(&b64) {
            if !out
                .iter()
                .any(|o: &VerificationKey| o.fingerprint() == k.fingerprint())
            {
                out.push(k);
            }
        }
        rest = after.get(end..).unwrap_or("");
    }
    out
}
