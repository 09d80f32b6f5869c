//! A bounded cache of validated trust chains, keyed by entity and entity type: an entry
//! lives until its chain's `exp` (the earliest of its statements), the least recently
//! used entry goes first when the cache is full. Key rollover: when an OP signs with a
//! `kid` the cached metadata does not know, [`TrustChainCache::invalidate`] the entity
//! and resolve again (the superiors' statements carry the new keys).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use super::chain::{resolve_trust_chain, ChainOptions, FederationFetcher, TrustAnchor, TrustChain};
use super::OidcError;
use crate::time::Timestamp;

struct Entry {
    chain: Arc<TrustChain>,
    last_used: u64,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<(String, String), Entry>,
    tick: u64,
}

/// The cache (thread-safe; share it behind an `Arc`).
pub struct TrustChainCache {
    max_entries: usize,
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for TrustChainCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrustChainCache")
            .field("max_entries", &self.max_entries)
            .field("len", &self.len())
            .finish()
    }
}

impl TrustChainCache {
    /// A cache of at most `max_entries` chains (at least 1).
    pub fn new(max_entries: usize) -> TrustChainCache {
        TrustChainCache {
            max_entries: max_entries.max(1),
            inner: Mutex::new(Inner::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The cached chain of `entity_id` for `entity_type`, if it has not expired at `now`.
    pub fn get(
        &self,
        entity_id: &str,
        entity_type: &str,
        now: Timestamp,
    ) -> Option<Arc<TrustChain>> {
        let mut inner = self.lock();
        inner.tick = inner.tick.wrapping_add(1);
        let tick = inner.tick;
        let key = (entity_id.to_owned(), entity_type.to_owned());
        let expired = match inner.entries.get_mut(&key) {
            None => return None,
            Some(e) if e.chain.exp > now.unix_seconds() => {
                e.last_used = tick;
                return Some(Arc::clone(&e.chain));
            }
            Some(_) => true,
        };
        if expired {
            inner.entries.remove(&key);
        }
        None
    }

    /// Caches `chain` (evicting expired entries, then the least recently used).
    pub fn insert(&self, chain: TrustChain, now: Timestamp) -> Arc<TrustChain> {
        let chain = Arc::new(chain);
        let mut inner = self.lock();
        inner.tick = inner.tick.wrapping_add(1);
        let tick = inner.tick;
        let key = (chain.entity_id().to_owned(), chain.entity_type.clone());
        if !inner.entries.contains_key(&key) && inner.entries.len() >= self.max_entries {
            let now = now.unix_seconds();
            inner.entries.retain(|_, e| e.chain.exp > now);
            if inner.entries.len() >= self.max_entries {
                let oldest = inner
                    .entries
                    .iter()
                    .min_by_key(|(_, e)| e.last_used)
                    .map(|(k, _)| k.clone());
                if let Some(k) = oldest {
                    inner.entries.remove(&k);
                }
            }
        }
        inner.entries.insert(
            key,
            Entry {
                chain: Arc::clone(&chain),
                last_used: tick,
            },
        );
        chain
    }

    /// Forgets every chain of `entity_id` (key rollover, revocation).
    pub fn invalidate(&self, entity_id: &str) {
        self.lock().entries.retain(|(e, _), _| e != entity_id);
    }

    /// How many chains are cached.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The cached chain, or a new resolution (cached on success). The lock is not held
    /// while fetching.
    pub fn resolve(
        &self,
        entity_id: &str,
        entity_type: &str,
        anchors: &[TrustAnchor],
        fetcher: &dyn FederationFetcher,
        now: Timestamp,
        opts: &ChainOptions,
    ) -> Result<Arc<TrustChain>, OidcError> {
        if let Some(c) = self.get(entity_id, entity_type, now) {
            return Ok(c);
        }
        let chain = resolve_trust_chain(entity_id, entity_type, anchors, fetcher, now, opts)?;
        Ok(self.insert(chain, now))
    }
}
