//! Loading and reloading: the sources (directory, PostgreSQL table), the per-tenant
//! errors, the conflicts between tenants, the last good versions kept.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::build::{self, Format};
use super::{ServedTenant, Snapshot, TenantId, TenantOrigin, TenantRoute, TenantTable};
use crate::description::DescriptionError;

/// Largest tenant file read.
const MAX_FILE: u64 = 1024 * 1024;
/// The target of this module's events.
const TENANTS: &str = "spid_sp::tenants";

/// A tenant (or a source of tenants) that did not load. Each names the tenant or file,
/// never a value of the description beyond field names.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReloadError {
    /// A file name that is not `<tenant ID>.toml` / `.json` with a valid ID.
    #[error("tenant file {name}: the name must be <id>.toml or <id>.json, id 1-40 of a-z 0-9 -")]
    Id {
        /// The file name (printable, bounded).
        name: String,
    },
    /// A tenant file could not be read.
    #[error("tenant {id}: cannot read {path}: {reason}")]
    Read {
        /// The tenant.
        id: String,
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The description does not parse, or does not make a configuration or metadata.
    #[error("tenant {id}: {source}")]
    Description {
        /// The tenant.
        id: String,
        /// Why.
        source: DescriptionError,
    },
    /// The description is refused by `crate::tenant` (its own or its aggregator's key,
    /// the aggregator data, the metadata it makes).
    #[error("tenant {id}: {reason}")]
    Invalid {
        /// The tenant.
        id: String,
        /// `crate::tenant::TenantError::code`.
        code: &'static str,
        /// Why (files and fields named, no values).
        reason: String,
    },
    /// The routing or the endpoints are not usable (ACS and SLO URLs, `[tenant]`).
    #[error("tenant {id}: {reason}")]
    Route {
        /// The tenant.
        id: String,
        /// Why.
        reason: String,
    },
    /// Another tenant already has this host, path, entityID or ID.
    #[error("tenant {id}: same {what} as tenant {with}")]
    Conflict {
        /// The tenant refused.
        id: String,
        /// The tenant kept.
        with: String,
        /// `host`, `path`, `entityID` or `ID`.
        what: &'static str,
    },
    /// A whole source could not be read (its tenants are kept as they were).
    #[error("tenant source {source_name}: {reason}")]
    Source {
        /// `directory` or `postgres`.
        source_name: &'static str,
        /// Why.
        reason: String,
    },
    /// The signed metadata could not be rendered.
    #[error("tenant {id}: metadata: {reason}")]
    Metadata {
        /// The tenant.
        id: String,
        /// Why.
        reason: String,
    },
}

impl ReloadError {
    /// A stable code: `tenant-id`, `tenant-read`, `tenant-description`, the codes of
    /// `crate::tenant::TenantError` (`tenant-aggregator`, …), `tenant-route`,
    /// `tenant-conflict`, `tenant-source`, `tenant-metadata`.
    pub fn code(&self) -> &'static str {
        match self {
            ReloadError::Id { .. } => "tenant-id",
            ReloadError::Read { .. } => "tenant-read",
            ReloadError::Description { .. } => "tenant-description",
            ReloadError::Invalid { code, .. } => code,
            ReloadError::Route { .. } => "tenant-route",
            ReloadError::Conflict { .. } => "tenant-conflict",
            ReloadError::Source { .. } => "tenant-source",
            ReloadError::Metadata { .. } => "tenant-metadata",
        }
    }
}

/// What a load or [`TenantTable::reload`] did.
#[derive(Clone, Debug, Default)]
pub struct ReloadReport {
    added: Vec<TenantId>,
    changed: Vec<TenantId>,
    removed: Vec<TenantId>,
    kept: Vec<TenantId>,
    unchanged: usize,
    errors: Vec<ReloadError>,
}

impl ReloadReport {
    /// Tenants that were not served before.
    pub fn added(&self) -> &[TenantId] {
        &self.added
    }
    /// Tenants served with a new version.
    pub fn changed(&self) -> &[TenantId] {
        &self.changed
    }
    /// Tenants no longer served.
    pub fn removed(&self) -> &[TenantId] {
        &self.removed
    }
    /// Tenants whose new version did not load (or whose source could not be read): still
    /// served with their last good version.
    pub fn kept(&self) -> &[TenantId] {
        &self.kept
    }
    /// How many tenants are served as they were.
    pub fn unchanged(&self) -> usize {
        self.unchanged
    }
    /// What did not load.
    pub fn errors(&self) -> &[ReloadError] {
        &self.errors
    }

    /// One event with the counts (INFO when anything changed or failed, else DEBUG),
    /// one WARN per error.
    pub(super) fn log(&self) {
        for e in &self.errors {
            tracing::warn!(target: TENANTS, code = e.code(), error = %e, "tenant not loaded");
        }
        let quiet = self.added.is_empty()
            && self.changed.is_empty()
            && self.removed.is_empty()
            && self.kept.is_empty()
            && self.errors.is_empty();
        if quiet {
            tracing::debug!(target: TENANTS, unchanged = self.unchanged, "tenants unchanged");
            return;
        }
        tracing::info!(
            target: TENANTS,
            added = self.added.len(),
            changed = self.changed.len(),
            removed = self.removed.len(),
            kept = self.kept.len(),
            unchanged = self.unchanged,
            errors = self.errors.len(),
            "tenants loaded"
        );
    }
}

/// One tenant as a source gives it.
pub(super) struct Candidate {
    pub id: TenantId,
    pub origin: TenantOrigin,
    pub text: Result<(String, Format), ReloadError>,
    pub base_dir: Option<PathBuf>,
}

/// The new snapshot from the sources, reusing the unchanged tenants of `old`.
pub(super) fn reload(table: &TenantTable, old: &Snapshot) -> (Snapshot, ReloadReport) {
    let shared = table.shared();
    let mut report = ReloadReport::default();
    let mut candidates = Vec::new();
    // Sources that could not be read at all: their tenants are kept as they were.
    let mut failed_dir = false;
    #[allow(unused_mut)]
    let mut failed_pg = false;
    if let Some(dir) = &shared.directory {
        match read_dir(dir, &mut report) {
            Ok(mut c) => candidates.append(&mut c),
            Err(e) => {
                report.errors.push(e);
                failed_dir = true;
            }
        }
    }
    #[cfg(feature = "postgres")]
    if let Some(pg) = &shared.postgres {
        match pg.fetch(shared.directory.as_deref()) {
            Ok(mut c) => candidates.append(&mut c),
            Err(e) => {
                report.errors.push(e);
                failed_pg = true;
            }
        }
    }
    let mut next = Acc::default();
    let mut seen = HashSet::new();
    for c in candidates {
        if !seen.insert(c.id.clone()) {
            report.errors.push(ReloadError::Conflict {
                id: c.id.to_string(),
                with: c.id.to_string(),
                what: "ID",
            });
            continue;
        }
        let previous = old.tenants.get(&c.id);
        let built = c.text.and_then(|(text, format)| {
            let version = version_of(&text, format);
            match previous {
                Some(p) if p.version == version && p.origin == c.origin => Ok((p.clone(), false)),
                _ => build::tenant(
                    table,
                    &c.id,
                    &text,
                    format,
                    c.base_dir.as_deref(),
                    c.origin.clone(),
                    version,
                )
                .map(|t| (Arc::new(t), true)),
            }
        });
        let fallback = |report: &mut ReloadReport, next: &mut Acc| {
            if let Some(p) = previous {
                if next.insert(p.clone()).is_ok() {
                    report.kept.push(c.id.clone());
                }
            }
        };
        match built {
            Ok((t, fresh)) => match next.insert(t) {
                Ok(()) if !fresh => report.unchanged += 1,
                Ok(()) if previous.is_some() => report.changed.push(c.id.clone()),
                Ok(()) => report.added.push(c.id.clone()),
                Err(e) => {
                    report.errors.push(e);
                    if fresh {
                        fallback(&mut report, &mut next);
                    }
                }
            },
            Err(e) => {
                report.errors.push(e);
                fallback(&mut report, &mut next);
            }
        }
    }
    for (id, t) in &old.tenants {
        let source_failed = match t.origin {
            TenantOrigin::File(_) => failed_dir,
            TenantOrigin::Postgres => failed_pg,
        };
        if source_failed && !seen.contains(id) && next.insert(t.clone()).is_ok() {
            report.kept.push(id.clone());
        }
    }
    report.removed = old
        .tenants
        .keys()
        .filter(|id| !next.snap.tenants.contains_key(*id))
        .cloned()
        .collect();
    (next.snap, report)
}

/// The snapshot being built, with what detects conflicts.
#[derive(Default)]
struct Acc {
    snap: Snapshot,
    bases: BTreeSet<String>,
    entity_ids: HashMap<String, TenantId>,
}

impl Acc {
    fn insert(&mut self, t: Arc<ServedTenant>) -> Result<(), ReloadError> {
        let conflict = |with: &TenantId, what| ReloadError::Conflict {
            id: t.id.to_string(),
            with: with.to_string(),
            what,
        };
        let entity = t.sp.config().entity_id().as_str().to_owned();
        if let Some(other) = self.entity_ids.get(&entity) {
            return Err(conflict(other, "entityID"));
        }
        match &t.route {
            TenantRoute::Host(h) => {
                if let Some(other) = self.snap.by_host.get(h) {
                    return Err(conflict(&other.id, "host"));
                }
            }
            TenantRoute::Path(base) => {
                // Equal, above or below another base path.
                let above = base
                    .match_indices('/')
                    .filter_map(|(i, _)| base.get(..i))
                    .chain([base.as_str()])
                    .find_map(|p| self.snap.by_path.get(p));
                let below = self
                    .bases
                    .range(format!("{base}/")..)
                    .next()
                    .filter(|b| b.starts_with(&format!("{base}/")))
                    .and_then(|b| self.snap.by_path.get(b));
                if let Some(other) = above.or(below) {
                    return Err(conflict(&other.id, "path"));
                }
            }
        }
        self.entity_ids.insert(entity, t.id.clone());
        match &t.route {
            TenantRoute::Host(h) => {
                self.snap.by_host.insert(h.clone(), t.clone());
            }
            TenantRoute::Path(base) => {
                self.bases.insert(base.clone());
                self.snap.by_path.insert(base.clone(), t.clone());
            }
        }
        self.snap.tenants.insert(t.id.clone(), t);
        Ok(())
    }
}

fn version_of(text: &str, format: Format) -> String {
    let mut bytes = Vec::with_capacity(text.len() + 5);
    bytes.extend_from_slice(match format {
        Format::Toml => b"toml\n",
        Format::Json => b"json\n",
    });
    bytes.extend_from_slice(text.as_bytes());
    use std::fmt::Write as _;
    let mut hex = String::with_capacity(64);
    for b in crate::dsig::sha256(&bytes) {
        let _ = write!(hex, "{b:02x}");
    }
    hex
}

/// The tenant files of `dir`, by ID (names that are not tenant files are reported).
fn read_dir(dir: &Path, report: &mut ReloadReport) -> Result<Vec<Candidate>, ReloadError> {
    let source = |e: std::io::Error| ReloadError::Source {
        source_name: "directory",
        reason: format!("{}: {}", dir.display(), e.kind()),
    };
    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir(dir).map_err(source)? {
        let path = entry.map_err(source)?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let (stem, format) = match name.rsplit_once('.') {
            Some((stem, "toml")) => (stem, Format::Toml),
            Some((stem, "json")) => (stem, Format::Json),
            _ => continue,
        };
        // Shared aggregator files (`acme.aggregator.toml`) are not tenants.
        if stem.starts_with('.')
            || name.ends_with(crate::tenant::AGGREGATOR_FILE_SUFFIX)
            || !path.is_file()
        {
            continue;
        }
        match TenantId::new(stem) {
            Some(id) => {
                files.insert(id, (path.clone(), format));
            }
            None => report.errors.push(ReloadError::Id {
                name: crate::printable::printable(name, 80),
            }),
        }
    }
    Ok(files
        .into_iter()
        .map(|(id, (path, format))| Candidate {
            text: read_text(&id, &path).map(|t| (t, format)),
            origin: TenantOrigin::File(path),
            base_dir: Some(dir.to_path_buf()),
            id,
        })
        .collect())
}

fn read_text(id: &TenantId, path: &Path) -> Result<String, ReloadError> {
    use std::io::Read as _;
    let fail = |reason: String| ReloadError::Read {
        id: id.to_string(),
        path: path.to_path_buf(),
        reason,
    };
    let file = std::fs::File::open(path).map_err(|e| fail(e.kind().to_string()))?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| fail(e.kind().to_string()))?;
    if bytes.len() as u64 > MAX_FILE {
        return Err(fail(format!("larger than {MAX_FILE} bytes")));
    }
    String::from_utf8(bytes).map_err(|_| fail("not UTF-8 text".into()))
}
