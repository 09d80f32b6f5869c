//! [`Registry`]: the loaded sources, installed only when verified and not older than the
//! copy in use, with the keys they rotated out.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use super::verify::short;
use super::{
    check_not_older, idp_warnings, verify_metadata, MetadataSource, RegistryError, RegistryTrust,
    RegistryWarning, RollbackReason, VerifiedMetadata,
};
use crate::metadata::IdentityProvider;
use crate::time::Timestamp;

/// The target of the registry's events.
pub(super) const TARGET: &str = "spid_sp::registry";

/// A short stable code of a registry error, for logs.
pub(super) fn registry_code(e: &RegistryError) -> &'static str {
    match e {
        RegistryError::Metadata(_) => "metadata-refused",
        RegistryError::DuplicateEntity(_) => "duplicate-entity",
        RegistryError::UnknownSource => "unknown-source",
        RegistryError::Rollback(_) => "rollback",
    }
}

/// What changed when a document was loaded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoadOutcome {
    /// The source was not loaded before.
    Added,
    /// A different document replaced the previous one.
    Replaced,
    /// The same bytes as the copy in use.
    Unchanged,
}

/// The trusted IdPs of every loaded source, looked up by entityID.
#[derive(Clone, Debug)]
pub struct Registry {
    pub(super) trust: RegistryTrust,
    pub(super) sources: Vec<VerifiedMetadata>,
    /// SHA-256 fingerprints of signing keys a later copy of the source removed.
    pub(super) retired: BTreeMap<MetadataSource, BTreeSet<[u8; 32]>>,
}

impl Registry {
    /// An empty registry trusting `trust`'s pins.
    pub fn new(trust: RegistryTrust) -> Registry {
        Registry {
            trust,
            sources: Vec::new(),
            retired: BTreeMap::new(),
        }
    }

    /// The SHA-256 fingerprints of the signing keys that a copy of `source` removed after
    /// an earlier copy listed them: a document listing one again is refused. Persist
    /// them to keep that memory across restarts ([`Registry::retire_keys`]).
    pub fn retired_keys(&self, source: MetadataSource) -> Vec<[u8; 32]> {
        self.retired
            .get(&source)
            .map(|s| s.iter().copied().collect())
            .unwrap_or_default()
    }

    /// Marks keys (SHA-256 fingerprints of their certificates) as rotated out of
    /// `source`: restores what [`Registry::retired_keys`] returned before a restart, or
    /// retires a key the operator knows to be compromised.
    pub fn retire_keys(
        &mut self,
        source: MetadataSource,
        fingerprints: impl IntoIterator<Item = [u8; 32]>,
    ) {
        self.retired.entry(source).or_default().extend(fingerprints);
    }

    /// The pins in use.
    pub fn trust(&self) -> &RegistryTrust {
        &self.trust
    }

    /// Verifies `bytes` as `source` metadata at `now` and, only if they pass, installs
    /// them in place of that source's previous copy. On error nothing changes.
    ///
    /// Traced: a `registry_load` span and one event (docs/observability.md).
    pub fn load(
        &mut self,
        source: MetadataSource,
        bytes: &[u8],
        now: Timestamp,
    ) -> Result<LoadOutcome, RegistryError> {
        let span = tracing::info_span!(target: TARGET, "registry_load", source = source.as_str());
        let _entered = span.enter();
        let result = verify_metadata(source, bytes, &self.trust, now)
            .and_then(|verified| self.install_verified(verified));
        self.installed_event(
            source,
            result.as_ref().map_err(|e| (registry_code(e), e as _)),
        );
        result
    }

    /// The one event of a load, install or refresh.
    pub(super) fn installed_event(
        &self,
        source: MetadataSource,
        result: Result<&LoadOutcome, (&'static str, &dyn std::fmt::Display)>,
    ) {
        let source = source.as_str();
        match result {
            Ok(outcome) => {
                let outcome = match outcome {
                    LoadOutcome::Added => "added",
                    LoadOutcome::Replaced => "replaced",
                    LoadOutcome::Unchanged => "unchanged",
                };
                tracing::info!(
                    target: TARGET,
                    source,
                    result = "installed",
                    code = outcome,
                    idps = self.idps().count(),
                    "registry document installed"
                );
            }
            Err((code, reason)) => tracing::warn!(
                target: TARGET,
                source,
                result = "refused",
                code,
                %reason,
                "registry document refused; the copy in use stays"
            ),
        }
    }

    /// Installs a verified document in place of its source's previous copy. Refused (and
    /// nothing changes) when one of its entityIDs belongs to another loaded source, when
    /// it is older than the copy in use ([`check_not_older`]), or when it lists a retired
    /// key ([`Registry::retired_keys`]).
    ///
    /// Traced: a `registry_install` span and one event (docs/observability.md).
    pub fn install(&mut self, verified: VerifiedMetadata) -> Result<LoadOutcome, RegistryError> {
        let source = verified.source;
        let span =
            tracing::info_span!(target: TARGET, "registry_install", source = source.as_str());
        let _entered = span.enter();
        let result = self.install_verified(verified);
        self.installed_event(
            source,
            result.as_ref().map_err(|e| (registry_code(e), e as _)),
        );
        result
    }

    pub(super) fn install_verified(
        &mut self,
        verified: VerifiedMetadata,
    ) -> Result<LoadOutcome, RegistryError> {
        if let Some(retired) = self.retired.get(&verified.source) {
            for idp in verified.idps() {
                if idp.keys().iter().any(|k| retired.contains(k.fingerprint())) {
                    return Err(RegistryError::Rollback(RollbackReason::RetiredKey {
                        entity_id: short(idp.entity_id().as_str()),
                    }));
                }
            }
        }
        if let Some(current) = self.source(verified.source) {
            check_not_older(current, &verified)?;
        }
        for other in self.sources.iter().filter(|s| s.source != verified.source) {
            for idp in verified.idps() {
                if other
                    .idps()
                    .iter()
                    .any(|o| o.entity_id() == idp.entity_id())
                {
                    return Err(RegistryError::DuplicateEntity(short(
                        idp.entity_id().as_str(),
                    )));
                }
            }
        }
        match self
            .sources
            .iter_mut()
            .find(|s| s.source == verified.source)
        {
            Some(slot) => {
                let outcome = if slot.sha256 == verified.sha256 {
                    LoadOutcome::Unchanged
                } else {
                    LoadOutcome::Replaced
                };
                let kept: HashSet<[u8; 32]> = verified
                    .idps()
                    .iter()
                    .flat_map(|i| i.keys().iter().map(|k| *k.fingerprint()))
                    .collect();
                let gone: Vec<[u8; 32]> = slot
                    .idps()
                    .iter()
                    .flat_map(|i| i.keys().iter().map(|k| *k.fingerprint()))
                    .filter(|f| !kept.contains(f))
                    .collect();
                let source = verified.source;
                *slot = verified;
                self.retire_keys(source, gone);
                Ok(outcome)
            }
            None => {
                self.sources.push(verified);
                self.sources.sort_by_key(|s| s.source);
                Ok(LoadOutcome::Added)
            }
        }
    }

    /// Removes a source.
    pub fn remove(&mut self, source: MetadataSource) {
        self.sources.retain(|s| s.source != source);
    }

    /// The loaded copy of `source`.
    pub fn source(&self, source: MetadataSource) -> Option<&VerifiedMetadata> {
        self.sources.iter().find(|s| s.source == source)
    }

    /// The loaded sources.
    pub fn sources(&self) -> &[VerifiedMetadata] {
        &self.sources
    }

    /// The IdP with this entityID.
    pub fn idp(&self, entity_id: &str) -> Option<&IdentityProvider> {
        self.idps().find(|i| i.entity_id().as_str() == entity_id)
    }

    /// Every IdP of every loaded source (pass them to
    /// [`ServiceProvider::new`](crate::ServiceProvider::new)).
    pub fn idps(&self) -> impl Iterator<Item = &IdentityProvider> {
        self.sources.iter().flat_map(|s| s.idps.iter())
    }

    /// What needs attention at `now`: IdP certificates and pins that expired or expire
    /// within `horizon_secs` ([`EXPIRY_HORIZON_SECS`](super::EXPIRY_HORIZON_SECS) is a sensible default), documents
    /// past or near `validUntil`, entities left out.
    pub fn warnings(&self, now: Timestamp, horizon_secs: i64) -> Vec<RegistryWarning> {
        let soon = now.plus_seconds(horizon_secs);
        let mut out = Vec::new();
        for s in &self.sources {
            if let Some(valid_until) = s.valid_until {
                if valid_until <= now {
                    out.push(RegistryWarning::MetadataExpired {
                        origin: s.source,
                        valid_until,
                    });
                } else if valid_until <= soon {
                    out.push(RegistryWarning::MetadataExpiresSoon {
                        origin: s.source,
                        valid_until,
                    });
                }
            }
            if let Some(signer) = &s.signer {
                if let Some(not_after) = signer.not_after() {
                    let subject = signer.subject().to_owned();
                    if not_after <= now {
                        out.push(RegistryWarning::SignerExpired {
                            origin: s.source,
                            subject,
                            not_after,
                        });
                    } else if not_after <= soon {
                        out.push(RegistryWarning::SignerExpiresSoon {
                            origin: s.source,
                            subject,
                            not_after,
                        });
                    }
                }
            }
            for d in &s.dropped {
                out.push(RegistryWarning::EntityDropped {
                    origin: s.source,
                    entity_id: d.entity_id.clone(),
                    valid_until: d.valid_until,
                });
            }
            for idp in &s.idps {
                out.extend(idp_warnings(idp, now, horizon_secs));
            }
        }
        out
    }
}
