//! `metadata` (the SP's signed metadata from the description file) and `metadata check`.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use spid_sp::metadata::{self, SpProfile};

use crate::config::{config_failure, load_config};
use crate::io::{instant, invalid, read_text, replace_file, usage, Failure, Outcome};

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
        /// spid-sp-public, spid-sp-private, cie-sp-public, cie-sp-private or ficep-eidas-sp.
        #[arg(long, default_value = "spid-sp-public")]
        profile: String,
        /// Check certificate expiry and validUntil at this instant (or `now`) [default: now].
        #[arg(long)]
        at: Option<String>,
        /// The metadata file.
        file: PathBuf,
    },
}

pub(crate) fn metadata_cmd(a: MetadataArgs) -> Outcome {
    if let Some(MetadataCommand::Check { profile, at, file }) = a.check {
        return metadata_check(&profile, at.as_deref(), &file);
    }
    let path = a
        .config
        .ok_or_else(|| usage("missing --config FILE (or use `spid-sp metadata check FILE`)"))?;
    let now = instant(a.at.as_deref())?;
    let config = load_config(&path)?;
    let sp_metadata = config.sp_metadata().map_err(|e| config_failure(&path, e))?;
    let key = config.signing_key().map_err(|e| config_failure(&path, e))?;
    let sp_config = config
        .sp_config(key)
        .map_err(|e| config_failure(&path, e))?;
    let xml = sp_metadata.to_xml_at(&sp_config, now).map_err(usage)?;
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
