//! `tenants`: the tenant directory of an aggregator (or any multi-SP deployment) — list,
//! add from a template, render every tenant's signed metadata, check them all.

use std::path::{Path, PathBuf};

use clap::Subcommand;
use spid_sp::metadata::{self, AggregatorKind};
use spid_sp::tenant::{is_tenant_name, TenantError, TenantSet};

use crate::io::{instant, invalid, replace_file, usage, write_new, Failure, Outcome};

#[derive(Subcommand)]
pub(crate) enum TenantsCommand {
    /// List the tenants of a directory: name, profile, entityID (exit 1 if a file fails).
    List {
        /// The directory of tenant files (NAME.toml; *.aggregator.toml are shared
        /// aggregator files).
        #[arg(long)]
        dir: PathBuf,
    },
    /// Write a new tenant file DIR/NAME.toml from the template of an aggregator variant.
    Add {
        /// The directory of tenant files.
        #[arg(long)]
        dir: PathBuf,
        /// pub-ag-full, pub-ag-lite, pri-ag-full, pri-ag-lite, pub-op-full or pub-op-lite.
        #[arg(long)]
        template: String,
        /// The tenant's name: 1 to 64 lower-case letters, digits and '-'.
        #[arg(long)]
        name: String,
        /// The entityID [default: the template's, with NAME as the last path segment].
        #[arg(long)]
        entity_id: Option<String>,
    },
    /// Write every tenant's signed metadata to OUT/NAME.xml, for submission to AgID.
    /// Nothing is written unless every tenant loads and passes our checker.
    Render {
        /// The directory of tenant files.
        #[arg(long)]
        dir: PathBuf,
        /// The output directory (created if missing; files replaced).
        #[arg(long)]
        out: PathBuf,
        /// The instant used for validUntil (xs:dateTime) [default: now].
        #[arg(long)]
        at: Option<String>,
    },
    /// Check every tenant: the file is valid, the keys load, the entityIDs are unique,
    /// and the signed metadata passes our checker for its profile (certificate expiry
    /// at --at). Exit 1 on any error.
    Check {
        /// The directory of tenant files.
        #[arg(long)]
        dir: PathBuf,
        /// Check certificate expiry at this instant (or `now`) [default: now].
        #[arg(long)]
        at: Option<String>,
    },
}

/// The templates: the example tenants of `examples/tenants/`, by activity code.
const TEMPLATES: [(AggregatorKind, &str); 6] = [
    (
        AggregatorKind::PublicFull,
        include_str!("../../../examples/tenants/comune-forli.toml"),
    ),
    (
        AggregatorKind::PublicLite,
        include_str!("../../../examples/tenants/scuola-marconi.toml"),
    ),
    (
        AggregatorKind::PrivateFull,
        include_str!("../../../examples/tenants/palestra-olimpia.toml"),
    ),
    (
        AggregatorKind::PrivateLite,
        include_str!("../../../examples/tenants/studio-rossi.toml"),
    ),
    (
        AggregatorKind::OperatorPublicFull,
        include_str!("../../../examples/tenants/trasporti-romagna.toml"),
    ),
    (
        AggregatorKind::OperatorPublicLite,
        include_str!("../../../examples/tenants/acqua-ravenna.toml"),
    ),
];

pub(crate) fn tenants_cmd(c: TenantsCommand) -> Outcome {
    match c {
        TenantsCommand::List { dir } => list(&dir),
        TenantsCommand::Add {
            dir,
            template,
            name,
            entity_id,
        } => add(&dir, &template, &name, entity_id.as_deref()),
        TenantsCommand::Render { dir, out, at } => render(&dir, &out, at.as_deref()),
        TenantsCommand::Check { dir, at } => check(&dir, at.as_deref()),
    }
}

fn load(dir: &Path) -> Result<(TenantSet, Vec<TenantError>), Failure> {
    TenantSet::load_dir(dir).map_err(usage)
}

fn report(errors: &[TenantError]) {
    for e in errors {
        eprintln!("error [{}]: {e}", e.code());
    }
}

fn list(dir: &Path) -> Outcome {
    let (set, errors) = load(dir)?;
    for t in set.iter() {
        println!("{}\t{}\t{}", t.name(), t.profile(), t.entity_id());
    }
    report(&errors);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(invalid(format!(
            "{}: {} tenant file(s) failed to load",
            dir.display(),
            errors.len()
        )))
    }
}

fn add(dir: &Path, template: &str, name: &str, entity_id: Option<&str>) -> Outcome {
    let kind = AggregatorKind::from_activity_code(template).ok_or_else(|| {
        usage(format!(
            "unknown template {template:?} (expected pub-ag-full, pub-ag-lite, pri-ag-full, pri-ag-lite, pub-op-full or pub-op-lite)"
        ))
    })?;
    if !is_tenant_name(name) {
        return Err(usage(
            "invalid --name: 1 to 64 lower-case letters, digits and '-', not starting with '-'",
        ));
    }
    let text = TEMPLATES
        .iter()
        .find(|(k, _)| *k == kind)
        .map(|(_, t)| *t)
        .unwrap_or_default();
    let old = text
        .lines()
        .find_map(|l| l.strip_prefix("entity_id = \""))
        .and_then(|l| l.strip_suffix('"'))
        .ok_or_else(|| usage("the template has no entity_id"))?;
    let new = match entity_id {
        Some(e) => {
            if e.contains(['"', '\\', '\n']) {
                return Err(usage(
                    "invalid --entity-id: no quotes, backslashes or newlines",
                ));
            }
            e.trim_end_matches('/').to_owned()
        }
        None => match old.rsplit_once('/') {
            Some((base, _)) => format!("{base}/{name}"),
            None => return Err(usage("the template's entity_id has no path")),
        },
    };
    let body: String = text
        .lines()
        .skip_while(|l| l.starts_with('#'))
        .map(|l| format!("{}\n", l.replace(old, &new)))
        .collect();
    let header = format!(
        "# Tenant {name} ({kind}, spid-sp-test profile {}), from the {kind} template: replace the\n# organization, contact{} and aggregator data, then run `spid-sp tenants check`.\n",
        kind.spid_sp_test_profile(),
        if kind.is_public() { "" } else { ", billing" },
    );
    let path = dir.join(format!("{name}.toml"));
    write_new(&path, format!("{header}{body}").as_bytes(), false)?;
    eprintln!("wrote {} (entityID {new})", path.display());
    Ok(())
}

fn render(dir: &Path, out: &Path, at: Option<&str>) -> Outcome {
    let now = instant(at)?;
    let (set, errors) = load(dir)?;
    report(&errors);
    if !errors.is_empty() {
        return Err(invalid(format!(
            "{}: {} tenant file(s) failed to load; nothing written",
            dir.display(),
            errors.len()
        )));
    }
    let mut rendered = Vec::with_capacity(set.len());
    for t in set.iter() {
        let xml = t
            .metadata_xml_at(now)
            .map_err(|e| invalid(format!("{}: {e}", t.name())))?;
        let problems = metadata::check_sp_metadata_at(&xml, t.profile(), now);
        let bad: Vec<_> = problems
            .iter()
            .filter(|p| p.severity == metadata::Severity::Error)
            .collect();
        if !bad.is_empty() {
            for p in &bad {
                eprintln!("{}: {p}", t.name());
            }
            return Err(invalid(format!(
                "{}: the metadata fails our checker; nothing written",
                t.name()
            )));
        }
        rendered.push((t.name().to_owned(), xml));
    }
    std::fs::create_dir_all(out).map_err(|e| crate::io::io_failure("create", out, &e))?;
    for (name, xml) in &rendered {
        replace_file(&out.join(format!("{name}.xml")), xml.as_bytes())?;
    }
    eprintln!(
        "wrote {} signed metadata file(s) to {}",
        rendered.len(),
        out.display()
    );
    Ok(())
}

fn check(dir: &Path, at: Option<&str>) -> Outcome {
    let now = instant(at)?;
    let (set, errors) = load(dir)?;
    report(&errors);
    let mut failed = errors.len();
    let mut ok = 0usize;
    for t in set.iter() {
        let problems = match t.metadata_xml_at(now) {
            Ok(xml) => metadata::check_sp_metadata_at(&xml, t.profile(), now),
            Err(e) => {
                eprintln!("error [tenant-metadata]: {}: {e}", t.name());
                failed += 1;
                continue;
            }
        };
        let errors = problems
            .iter()
            .filter(|p| p.severity == metadata::Severity::Error)
            .count();
        for p in &problems {
            println!("{}: {p}", t.name());
        }
        println!(
            "{}: {} {}: {errors} error(s), {} warning(s)",
            t.name(),
            t.profile(),
            t.entity_id(),
            problems.len() - errors
        );
        failed += usize::from(errors > 0);
        ok += usize::from(errors == 0);
    }
    let summary = format!("{}: {ok} tenant(s) ok, {failed} failed", dir.display());
    if failed > 0 {
        return Err(invalid(summary));
    }
    println!("{summary}");
    Ok(())
}
