//! One tenant from its description text: the key (its own or the aggregator's), the
//! configuration, the route, the service provider over the shared parts, the namespaced
//! stores.

use std::path::Path;
use std::sync::{Arc, RwLock};

use super::store::{NamespacedPendingStore, NamespacedSessionStore};
use super::{ReloadError, ServedTenant, TenantId, TenantOrigin, TenantRoute, TenantTable};
use crate::description::SpDescription;
use crate::sp::ServiceProvider;

/// The text format of a tenant source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    Toml,
    Json,
}

/// Builds tenant `id` from `text`. Relative key and certificate paths are resolved
/// against `base_dir`.
pub(crate) fn tenant(
    table: &TenantTable,
    id: &TenantId,
    text: &str,
    format: Format,
    base_dir: Option<&Path>,
    origin: TenantOrigin,
    version: String,
) -> Result<ServedTenant, ReloadError> {
    let described = |source| ReloadError::Description {
        id: id.to_string(),
        source,
    };
    let mut d = match format {
        Format::Toml => SpDescription::from_toml_str(text),
        Format::Json => SpDescription::from_json_str(text),
    }
    .map_err(described)?;
    if let Some(dir) = base_dir {
        for f in [
            &mut d.key_file,
            &mut d.certificate_file,
            &mut d.aggregator_file,
        ]
        .into_iter()
        .flatten()
        {
            *f = dir.join(&*f);
        }
        for f in &mut d.published_certificate_files {
            *f = dir.join(&*f);
        }
        if let Some(a) = d.aggregator.as_mut() {
            a.resolve(dir);
        }
    }
    let shared = table.shared();
    let own_key = d.key_file.is_some() || d.certificate_file.is_some();
    let aggregated = d.aggregator.is_some() || d.aggregator_file.is_some();
    let (config, metadata, aggregator) = if own_key || aggregated {
        // The tenant's own key, or the key of its [aggregator] table: validated (metadata
        // included, aggregator variants too) by `crate::tenant`.
        let source = match &origin {
            TenantOrigin::File(p) => p.clone(),
            TenantOrigin::Postgres => std::path::PathBuf::from(format!("postgres:{id}")),
        };
        let t = crate::tenant::Tenant::from_description(id.as_str(), source, d.clone()).map_err(
            |e| ReloadError::Invalid {
                id: id.to_string(),
                code: e.code(),
                reason: e.to_string(),
            },
        )?;
        (
            t.config().clone(),
            t.metadata().clone(),
            t.aggregator().cloned(),
        )
    } else {
        // Neither: the aggregator's shared key of the table (one key in memory).
        let key = shared
            .shared_key
            .clone()
            .ok_or_else(|| ReloadError::Route {
                id: id.to_string(),
                reason: "no key_file, no aggregator key and no shared aggregator key".into(),
            })?;
        let config = d.sp_config(key).map_err(described)?;
        let metadata = d.sp_metadata().map_err(described)?;
        metadata
            .check_writable(&config, None)
            .map_err(|e| ReloadError::Metadata {
                id: id.to_string(),
                reason: e.to_string(),
            })?;
        (config, metadata, None)
    };
    let (route, endpoints) = route_of(id, &d)?;
    let sp = ServiceProvider {
        config: Arc::new(config),
        idps: shared.idps.clone(),
        clock: shared.clock.clone(),
        replay: shared.replay.clone(),
        allow_test_idp: shared.allow_test_idp,
        metrics: shared.metrics.clone(),
        audit: table.audit_of(id),
    };
    Ok(ServedTenant {
        id: id.clone(),
        route,
        endpoints,
        pending: Arc::new(NamespacedPendingStore::new(shared.pending.clone(), id)),
        sessions: Arc::new(NamespacedSessionStore::new(shared.sessions.clone(), id)),
        sp,
        metadata,
        aggregator,
        rendered: RwLock::new(None),
        origin,
        version,
    })
}

/// The route and the endpoint prefix of a description: every ACS URL must be
/// `<origin><prefix>/acs` and every SLO URL `<origin><prefix>/slo` (one origin), and the
/// prefix must lie on the route.
fn route_of(id: &TenantId, d: &SpDescription) -> Result<(TenantRoute, String), ReloadError> {
    let fail = |reason: &str| ReloadError::Route {
        id: id.to_string(),
        reason: reason.to_owned(),
    };
    let first = d
        .assertion_consumer_services
        .first()
        .ok_or_else(|| fail("no assertion_consumer_services"))?;
    let (origin, acs_path) = split_url(first).ok_or_else(|| fail("ACS URL not http(s)"))?;
    let prefix = acs_path
        .strip_suffix("/acs")
        .ok_or_else(|| fail("the ACS URL must end in /acs"))?
        .to_owned();
    for url in &d.assertion_consumer_services {
        if split_url(url) != Some((origin.clone(), format!("{prefix}/acs"))) {
            return Err(fail("every ACS URL must be the first one's"));
        }
    }
    for slo in &d.single_logout_services {
        if split_url(&slo.url) != Some((origin.clone(), format!("{prefix}/slo"))) {
            return Err(fail(
                "every SLO URL must be <ACS prefix>/slo on the ACS origin",
            ));
        }
    }
    let how = d.tenant.as_ref();
    let route = match how.and_then(|t| t.route.as_deref()).unwrap_or("path") {
        "path" => {
            // Default: the endpoints' own prefix; `[tenant] path` may widen it to a
            // parent (the tenant's pages beside its endpoints).
            let base = how
                .and_then(|t| t.path.clone())
                .unwrap_or_else(|| prefix.clone());
            if !valid_base(&base) {
                return Err(fail(
                    "the tenant's path (tenant.path, or the ACS URL's path without /acs) must be /segment[/segment...] (A-Z a-z 0-9 . _ ~ -)",
                ));
            }
            if prefix != base && !prefix.starts_with(&format!("{base}/")) {
                return Err(fail("the ACS URL must be under tenant.path"));
            }
            TenantRoute::Path(base)
        }
        "host" => {
            if how.is_some_and(|t| t.path.is_some()) {
                return Err(fail("tenant.path is for route = \"path\""));
            }
            let authority = origin.split_once("://").map_or("", |(_, a)| a);
            let host = super::normalize_host(authority)
                .ok_or_else(|| fail("the ACS URL has no usable host"))?;
            TenantRoute::Host(host)
        }
        _ => return Err(fail("tenant.route must be \"path\" or \"host\"")),
    };
    Ok((route, prefix))
}

/// `(scheme://authority, path)` of an absolute http(s) URL without query or fragment;
/// scheme and authority in lower case.
fn split_url(url: &str) -> Option<(String, String)> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let (authority, path) = match rest.find('/') {
        Some(i) => (rest.get(..i)?, rest.get(i..)?),
        None => (rest, "/"),
    };
    if authority.is_empty() || authority.contains('@') || path.contains(['?', '#']) {
        return None;
    }
    Some((
        format!("{scheme}://{}", authority.to_ascii_lowercase()),
        path.to_owned(),
    ))
}

fn valid_base(base: &str) -> bool {
    base.len() <= 200
        && base.starts_with('/')
        && base.split('/').skip(1).all(|seg| {
            !seg.is_empty()
                && seg != "."
                && seg != ".."
                && seg
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'~' | b'-'))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_bases() {
        assert_eq!(
            split_url("HTTPS://Comune.localhost:8000/t/x/spid/acs"),
            Some((
                "https://comune.localhost:8000".into(),
                "/t/x/spid/acs".into()
            ))
        );
        assert_eq!(split_url("ftp://a/b"), None);
        assert_eq!(split_url("https://u@a/b"), None);
        assert_eq!(split_url("https://a/b?c"), None);
        assert!(valid_base("/t/comune-forli"));
        for bad in ["", "/", "t/x", "/t/", "/t//x", "/t/../x", "/t/a b"] {
            assert!(!valid_base(bad), "{bad}");
        }
    }
}
