//! Tenants: one deployment serving many SPs, typically the entities of a SPID aggregator
//! (Avviso SPID n.19 v4). A [`Tenant`] is a validated SP description — its
//! [`SpConfig`], its [`SpMetadata`] — plus, for the aggregator profiles, the
//! [`Aggregator`]. A [`TenantSet`] is a directory of tenant files, loaded and checked
//! together (unique names and entityIDs).
//!
//! A tenant file is an SP description in TOML ([`SpDescription`], `docs/cli.md`) named
//! `NAME.toml` (the tenant's name is the file stem: lower-case letters, digits and `-`),
//! with an `[aggregator]` table or `aggregator_file = "acme.aggregator.toml"`, a file
//! holding that table for all the aggregator's tenants. Files ending in
//! `.aggregator.toml` are aggregator files, never tenants. A tenant without `key_file`
//! and `certificate_file` signs with the aggregator's key (`key_file`,
//! `certificate_file` of the aggregator table). See `docs/aggregators.md`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::config::SpConfig;
use crate::description::{read_limited, AggregatorDescription, DescriptionError, SpDescription};
use crate::metadata::{Aggregator, MetadataBuildError, SpMetadata, SpProfile};
use crate::time::{Clock as _, Timestamp};

/// The suffix of a shared aggregator file (skipped when loading a directory).
pub const AGGREGATOR_FILE_SUFFIX: &str = ".aggregator.toml";
/// At most this many tenant files in one directory.
pub const MAX_TENANTS: usize = 100_000;

/// One SP served by the deployment: a validated description.
#[derive(Clone, Debug)]
pub struct Tenant {
    name: String,
    path: PathBuf,
    config: SpConfig,
    metadata: SpMetadata,
    aggregator: Option<Aggregator>,
}

/// A tenant file that cannot be used. Messages name the file and the field, never a
/// contact's value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TenantError {
    /// The file name does not make a tenant name.
    #[error("{}: a tenant file is NAME.toml with NAME of 1 to 64 lower-case letters, digits and '-'", path.display())]
    Name {
        /// The file.
        path: PathBuf,
    },
    /// The description (or its aggregator file, or a key file) is refused.
    #[error("{}: {source}", path.display())]
    Description {
        /// The tenant file.
        path: PathBuf,
        /// Why.
        source: DescriptionError,
    },
    /// Aggregator data on a profile that is not an aggregator's, or none on one that is.
    #[error("{}: {reason}", path.display())]
    Aggregator {
        /// The tenant file.
        path: PathBuf,
        /// What is wrong.
        reason: &'static str,
    },
    /// The metadata cannot be written from this description.
    #[error("{}: {source}", path.display())]
    Metadata {
        /// The tenant file.
        path: PathBuf,
        /// Why.
        source: MetadataBuildError,
    },
    /// Two tenants with the same entityID.
    #[error("tenants {first} and {second} have the same entityID")]
    DuplicateEntityId {
        /// The first tenant.
        first: String,
        /// The second.
        second: String,
    },
    /// The directory cannot be listed.
    #[error("{}: cannot list the directory: {reason}", path.display())]
    Directory {
        /// The directory.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

impl TenantError {
    /// A stable code for scripts (`tenant-name`, `tenant-description`, ...).
    pub fn code(&self) -> &'static str {
        match self {
            TenantError::Name { .. } => "tenant-name",
            TenantError::Description { .. } => "tenant-description",
            TenantError::Aggregator { .. } => "tenant-aggregator",
            TenantError::Metadata { .. } => "tenant-metadata",
            TenantError::DuplicateEntityId { .. } => "tenant-duplicate-entity-id",
            TenantError::Directory { .. } => "tenant-directory",
        }
    }
}

/// Whether `name` is a tenant name: 1 to 64 of `a-z`, `0-9`, `-`, not starting with `-`.
pub fn is_tenant_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && !name.starts_with('-')
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

impl Tenant {
    /// Loads and validates one tenant file: the description, its aggregator (inline or
    /// `aggregator_file`), the signing key (the tenant's, else the aggregator's), the
    /// configuration, and the metadata (written once unsigned, so a tenant that loads
    /// can always render its metadata; signing is left to [`Tenant::metadata_xml`]).
    pub fn load(path: impl AsRef<Path>) -> Result<Tenant, TenantError> {
        let path = path.as_ref();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".toml"))
            .filter(|n| is_tenant_name(n))
            .ok_or_else(|| TenantError::Name {
                path: path.to_path_buf(),
            })?
            .to_owned();
        let description = SpDescription::load(path).map_err(|source| TenantError::Description {
            path: path.to_path_buf(),
            source,
        })?;
        Tenant::from_description(&name, path, description)
    }

    /// A tenant from a description already read (from a database row, say: its file
    /// names already resolved), named `name` (any name: [`is_tenant_name`] is the rule of
    /// tenant files). `source` names where it came from in errors and [`Tenant::path`].
    /// Validates as [`Tenant::load`] does.
    pub fn from_description(
        name: &str,
        source: impl AsRef<Path>,
        mut description: SpDescription,
    ) -> Result<Tenant, TenantError> {
        let path = source.as_ref();
        let name = name.to_owned();
        let fail = |source| TenantError::Description {
            path: path.to_path_buf(),
            source,
        };
        let aggregator = aggregator_description(&description).map_err(fail)?;
        if description.key_file.is_none() && description.certificate_file.is_none() {
            if let Some(a) = &aggregator {
                description.key_file.clone_from(&a.key_file);
                description.certificate_file.clone_from(&a.certificate_file);
            }
        }
        let metadata = description.sp_metadata().map_err(fail)?;
        let aggregator = match (metadata.profile.aggregator_kind(), aggregator) {
            (Some(kind), Some(a)) => Some(to_aggregator(&a, kind.is_lite()).map_err(fail)?),
            (None, None) => None,
            (Some(_), None) => {
                return Err(TenantError::Aggregator {
                    path: path.to_path_buf(),
                    reason: "an aggregator profile needs an [aggregator] table or aggregator_file",
                })
            }
            (None, Some(_)) => return Err(TenantError::Aggregator {
                path: path.to_path_buf(),
                reason:
                    "an [aggregator] table or aggregator_file is only for the aggregator profiles",
            }),
        };
        let key = description.signing_key().map_err(fail)?;
        let config = description.sp_config(key).map_err(fail)?;
        let tenant = Tenant {
            name,
            path: path.to_path_buf(),
            config,
            metadata,
            aggregator,
        };
        tenant
            .metadata
            .check_writable(&tenant.config, tenant.aggregator.as_ref())
            .map_err(|source| TenantError::Metadata {
                path: path.to_path_buf(),
                source,
            })?;
        Ok(tenant)
    }

    /// The tenant's name (its file stem): unique in a [`TenantSet`].
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The file it was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The SP entityID.
    pub fn entity_id(&self) -> &str {
        self.config.entity_id().as_str()
    }

    /// The metadata profile.
    pub fn profile(&self) -> SpProfile {
        self.metadata.profile
    }

    /// The validated SP configuration (give it to a [`crate::ServiceProvider`]).
    pub fn config(&self) -> &SpConfig {
        &self.config
    }

    /// The metadata data (organization, contact, billing).
    pub fn metadata(&self) -> &SpMetadata {
        &self.metadata
    }

    /// The aggregator, for the aggregator profiles.
    pub fn aggregator(&self) -> Option<&Aggregator> {
        self.aggregator.as_ref()
    }

    /// The tenant's signed metadata (for its metadata URL and for AgID).
    pub fn metadata_xml(&self) -> Result<String, MetadataBuildError> {
        self.metadata_xml_at(crate::time::SystemClock.now())
    }

    /// [`Tenant::metadata_xml`] with an explicit "now" (only used for `validUntil`).
    pub fn metadata_xml_at(&self, now: Timestamp) -> Result<String, MetadataBuildError> {
        match &self.aggregator {
            Some(a) => self.metadata.to_xml_aggregated_at(&self.config, a, now),
            None => self.metadata.to_xml_at(&self.config, now),
        }
    }
}

/// The `aggregator` table: inline, or read from `aggregator_file` (not both).
fn aggregator_description(
    d: &SpDescription,
) -> Result<Option<AggregatorDescription>, DescriptionError> {
    match (&d.aggregator, &d.aggregator_file) {
        (Some(_), Some(_)) => Err(DescriptionError::Invalid {
            field: "aggregator_file".to_owned(),
            reason: "give the [aggregator] table or aggregator_file, not both".to_owned(),
        }),
        (Some(a), None) => Ok(Some(a.clone())),
        (None, None) => Ok(None),
        (None, Some(file)) => {
            let bytes = read_limited(file)?;
            let text = String::from_utf8(bytes).map_err(|_| DescriptionError::Read {
                path: file.clone(),
                reason: "not UTF-8 text".to_owned(),
            })?;
            let mut a: AggregatorDescription =
                toml::from_str(&text).map_err(|e| DescriptionError::Invalid {
                    field: "aggregator_file".to_owned(),
                    reason: e.message().trim().to_owned(),
                })?;
            let dir = match file.parent() {
                Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                _ => PathBuf::from("."),
            };
            a.resolve(&dir);
            Ok(Some(a))
        }
    }
}

/// The aggregator of a tenant: the validation certificate only for the "lite" variants (a
/// shared aggregator file serves "full" and "lite" tenants alike).
fn to_aggregator(a: &AggregatorDescription, lite: bool) -> Result<Aggregator, DescriptionError> {
    let validation_certificate = match &a.validation_certificate_file {
        Some(file) if lite => {
            let pem = read_limited(file)?;
            let cert =
                openssl::x509::X509::from_pem(&pem).map_err(|_| DescriptionError::Invalid {
                    field: "aggregator.validation_certificate_file".to_owned(),
                    reason: "not a PEM certificate".to_owned(),
                })?;
            Some(cert.to_der().map_err(|_| DescriptionError::Invalid {
                field: "aggregator.validation_certificate_file".to_owned(),
                reason: "cannot encode the certificate".to_owned(),
            })?)
        }
        _ => None,
    };
    Ok(Aggregator {
        company: a.company.clone(),
        email: a.email.clone(),
        phone: a.phone.clone(),
        ipa_code: a.ipa_code.clone(),
        vat_number: a.vat_number.clone(),
        fiscal_code: a.fiscal_code.clone(),
        validation_certificate,
    })
}

/// The tenants of a directory, by name, with the files that failed.
#[derive(Debug, Default)]
pub struct TenantSet {
    tenants: BTreeMap<String, Tenant>,
    by_entity_id: BTreeMap<String, String>,
}

impl TenantSet {
    /// Loads every `*.toml` of `dir` (not recursively, not `*.aggregator.toml`), in name
    /// order. Returns the set of the tenants that loaded and the error of each file that
    /// did not; a tenant whose entityID an earlier tenant already has is refused
    /// ([`TenantError::DuplicateEntityId`]).
    pub fn load_dir(dir: impl AsRef<Path>) -> Result<(TenantSet, Vec<TenantError>), TenantError> {
        let dir = dir.as_ref();
        let listing = std::fs::read_dir(dir).map_err(|e| TenantError::Directory {
            path: dir.to_path_buf(),
            reason: e.to_string().to_lowercase(),
        })?;
        let mut files: Vec<PathBuf> = listing
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.is_file()
                    && p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                        n.ends_with(".toml") && !n.ends_with(AGGREGATOR_FILE_SUFFIX)
                    })
            })
            .take(MAX_TENANTS)
            .collect();
        files.sort();
        let mut set = TenantSet::default();
        let mut errors = Vec::new();
        for file in files {
            match Tenant::load(&file) {
                Ok(t) => {
                    if let Err(e) = set.insert(t) {
                        errors.push(e);
                    }
                }
                Err(e) => errors.push(e),
            }
        }
        Ok((set, errors))
    }

    /// Adds a tenant; refused when its name or entityID is taken.
    pub fn insert(&mut self, tenant: Tenant) -> Result<(), TenantError> {
        if let Some(first) = self.by_entity_id.get(tenant.entity_id()) {
            return Err(TenantError::DuplicateEntityId {
                first: first.clone(),
                second: tenant.name.clone(),
            });
        }
        if self.tenants.contains_key(&tenant.name) {
            return Err(TenantError::Name {
                path: tenant.path.clone(),
            });
        }
        self.by_entity_id
            .insert(tenant.entity_id().to_owned(), tenant.name.clone());
        self.tenants.insert(tenant.name.clone(), tenant);
        Ok(())
    }

    /// The tenant named `name`.
    pub fn get(&self, name: &str) -> Option<&Tenant> {
        self.tenants.get(name)
    }

    /// The tenant whose entityID is `entity_id`.
    pub fn by_entity_id(&self, entity_id: &str) -> Option<&Tenant> {
        self.by_entity_id
            .get(entity_id)
            .and_then(|n| self.tenants.get(n))
    }

    /// Every tenant, by name.
    pub fn iter(&self) -> impl Iterator<Item = &Tenant> {
        self.tenants.values()
    }

    /// How many tenants.
    pub fn len(&self) -> usize {
        self.tenants.len()
    }

    /// No tenant.
    pub fn is_empty(&self) -> bool {
        self.tenants.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::is_tenant_name;

    #[test]
    fn names() {
        assert!(is_tenant_name("comune-forli"));
        assert!(is_tenant_name("a1"));
        assert!(!is_tenant_name(""));
        assert!(!is_tenant_name("-x"));
        assert!(!is_tenant_name("Comune"));
        assert!(!is_tenant_name("a/b"));
        assert!(!is_tenant_name("a.b"));
        assert!(!is_tenant_name(&"a".repeat(65)));
    }
}
