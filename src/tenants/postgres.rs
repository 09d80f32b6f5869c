//! Tenants from a PostgreSQL table (features `tenants` and `postgres`): one row per
//! tenant, its description as TOML text.

use std::path::{Path, PathBuf};

use super::build::Format;
use super::load::Candidate;
use super::{ReloadError, TenantId, TenantOrigin};

/// The table [`PostgresTenants`] reads (created when missing):
/// `tenant_id` is the tenant's ID, `description` its SP description in TOML.
pub const TENANTS_TABLE_SQL: &str = "CREATE TABLE IF NOT EXISTS spid_tenants (
    tenant_id   text        PRIMARY KEY CHECK (tenant_id ~ '^[a-z0-9][a-z0-9-]{0,39}$'),
    description text        NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
)";

/// Tenants from the `spid_tenants` table ([`TENANTS_TABLE_SQL`]) of a PostgreSQL
/// database, read at every [`TenantTable::reload`](super::TenantTable::reload) on a
/// thread of its own (the synchronous client must not run on an async worker). No TLS:
/// loopback hosts and Unix sockets only, as the registry's backend. Relative key paths
/// in a row are resolved against the tenants directory, if any.
#[derive(Clone)]
pub struct PostgresTenants {
    url: String,
}

impl std::fmt::Debug for PostgresTenants {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may carry a password.
        f.debug_struct("PostgresTenants").finish_non_exhaustive()
    }
}

impl PostgresTenants {
    /// The table at `url` (`postgresql://user:password@127.0.0.1:5432/db`); checked when
    /// read.
    pub fn new(url: impl Into<String>) -> Self {
        PostgresTenants { url: url.into() }
    }

    /// Every row, by tenant ID; a source error when the database cannot be read.
    pub(super) fn fetch(&self, dir: Option<&Path>) -> Result<Vec<Candidate>, ReloadError> {
        let url = self.url.clone();
        let rows = std::thread::spawn(move || read_rows(&url))
            .join()
            .map_err(|_| source("reader thread failed"))??;
        let mut out = Vec::new();
        for (id, text) in rows {
            let Some(tid) = TenantId::new(&id) else {
                return Err(source("a tenant_id is not a valid tenant ID"));
            };
            out.push(Candidate {
                id: tid,
                origin: TenantOrigin::Postgres,
                text: Ok((text, Format::Toml)),
                base_dir: dir.map(PathBuf::from),
            });
        }
        Ok(out)
    }
}

fn source(reason: &str) -> ReloadError {
    ReloadError::Source {
        source_name: "postgres",
        reason: reason.to_owned(),
    }
}

fn read_rows(url: &str) -> Result<Vec<(String, String)>, ReloadError> {
    let mut config = crate::audit::parse_postgres_config(url).map_err(|e| source(&e.0))?;
    config.application_name("spid-sp-tenants");
    let mut client = config
        .connect(postgres::NoTls)
        .map_err(|_| source("cannot connect to PostgreSQL"))?;
    // Created when missing only: a role with SELECT alone works once it exists.
    let exists: bool = client
        .query_one("SELECT to_regclass('spid_tenants') IS NOT NULL", &[])
        .and_then(|r| r.try_get(0))
        .map_err(|_| source("cannot read the catalog"))?;
    if !exists {
        client
            .batch_execute(TENANTS_TABLE_SQL)
            .map_err(|_| source("cannot create the spid_tenants table"))?;
    }
    let rows = client
        .query(
            "SELECT tenant_id, description FROM spid_tenants ORDER BY tenant_id",
            &[],
        )
        .map_err(|_| source("cannot read the spid_tenants table"))?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get::<_, String>(0)
                    .map_err(|_| source("bad tenant_id"))?,
                r.try_get::<_, String>(1)
                    .map_err(|_| source("bad description"))?,
            ))
        })
        .collect()
}
