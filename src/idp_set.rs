//! [`IdpSet`]: the trusted IdPs of a running service provider, replaceable atomically
//! while requests are served (a registry refresh, a key rotation, an IdP removed).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use crate::config::ConfigError;
use crate::metadata::IdentityProvider;

type Map = HashMap<String, Arc<IdentityProvider>>;

/// The trusted IdPs of a [`ServiceProvider`](crate::ServiceProvider): a shared handle
/// (clones see the same set) whose contents [`IdpSet::replace`] swaps atomically.
///
/// Readers take a snapshot (one `Arc` clone under a read lock), so a login that started
/// before a swap is verified against the set in force when its Response arrives: an IdP
/// still present (with its rotated keys) completes, an IdP removed is refused at once.
///
/// ```
/// # use spid_sp::{IdpSet, metadata::IdentityProvider};
/// let set = IdpSet::new(Vec::<IdentityProvider>::new())?;
/// // ... later, after `registry.refresh(...)` returned `LoadOutcome::Replaced`:
/// // set.replace(registry.idps().cloned())?;
/// assert!(set.is_empty());
/// # Ok::<(), spid_sp::ConfigError>(())
/// ```
#[derive(Clone, Default)]
pub struct IdpSet {
    current: Arc<RwLock<Arc<Map>>>,
}

impl std::fmt::Debug for IdpSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdpSet").field("idps", &self.len()).finish()
    }
}

fn map_of(idps: impl IntoIterator<Item = IdentityProvider>) -> Result<Map, ConfigError> {
    let mut map = HashMap::new();
    for idp in idps {
        let id = idp.entity_id().as_str().to_owned();
        if map.contains_key(&id) {
            return Err(ConfigError::DuplicateIdp(crate::printable::printable(
                &id, 200,
            )));
        }
        map.insert(id, Arc::new(idp));
    }
    Ok(map)
}

impl IdpSet {
    /// A set of `idps`. Two IdPs with the same entityID are refused
    /// ([`ConfigError::DuplicateIdp`]): which keys are trusted would otherwise depend on
    /// their order.
    pub fn new(idps: impl IntoIterator<Item = IdentityProvider>) -> Result<IdpSet, ConfigError> {
        Ok(IdpSet {
            current: Arc::new(RwLock::new(Arc::new(map_of(idps)?))),
        })
    }

    /// Replaces the whole set at once (same rule on duplicates; on error nothing
    /// changes). Every clone of this handle, and so every clone of the service provider
    /// holding it, sees the new set from the next lookup on.
    pub fn replace(
        &self,
        idps: impl IntoIterator<Item = IdentityProvider>,
    ) -> Result<(), ConfigError> {
        let map = Arc::new(map_of(idps)?);
        let idps = map.len();
        // A poisoned lock only means a writer panicked between two whole maps: the map in
        // it is still a complete one, so take the lock back.
        let mut current = self.current.write().unwrap_or_else(|p| p.into_inner());
        *current = map;
        drop(current);
        tracing::info!(target: "spid_sp::registry", idps, "trusted identity providers replaced");
        Ok(())
    }

    fn snapshot(&self) -> Arc<Map> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The IdP with this entityID, as the set is now.
    pub fn get(&self, entity_id: &str) -> Option<Arc<IdentityProvider>> {
        self.snapshot().get(entity_id).cloned()
    }

    /// Every IdP, as the set is now (in no particular order).
    pub fn all(&self) -> Vec<Arc<IdentityProvider>> {
        self.snapshot().values().cloned().collect()
    }

    /// How many IdPs are trusted.
    pub fn len(&self) -> usize {
        self.snapshot().len()
    }

    /// Whether no IdP is trusted.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The registry refresher installs what it verified here (feature `refresh`).
#[cfg(feature = "refresh")]
impl crate::metadata::IdpSink for IdpSet {
    fn replace_idps(&self, idps: Vec<IdentityProvider>) -> Result<(), ConfigError> {
        self.replace(idps)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_are_refused_and_replace_is_all_or_nothing() {
        let a = || IdentityProvider::new("https://a.test", Vec::new());
        let b = || IdentityProvider::new("https://b.test", Vec::new());
        assert!(matches!(
            IdpSet::new([a(), a()]),
            Err(ConfigError::DuplicateIdp(_))
        ));
        let set = IdpSet::new([a()]).unwrap();
        let clone = set.clone();
        assert!(set.replace([b(), b()]).is_err());
        assert!(clone.get("https://a.test").is_some());
        set.replace([b()]).unwrap();
        assert!(clone.get("https://a.test").is_none());
        assert!(clone.get("https://b.test").is_some());
        assert_eq!(clone.len(), 1);
    }
}
