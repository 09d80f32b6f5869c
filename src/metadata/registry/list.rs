//! The SPID registry's JSON list of IdPs (Avviso SPID n.42, `entities-idp?&output=json`):
//! read, bounded, and **never trusted for keys or endpoints** (feature `refresh`).
//!
//! The JSON carries no signature. It is used for two things only:
//! - **names**: the `organization_name` of an IdP that the *signed* aggregate lists (the
//!   login button needs a human name; [`IdpList::apply_names`]);
//! - **a cross-check**: an entityID in the list that no signed metadata lists is reported
//!   ([`RegistryEvent::ListedButNotVerified`]) and stays untrusted; a SPID IdP of the
//!   signed aggregate missing from the list is reported too
//!   ([`RegistryEvent::VerifiedButNotListed`]).
//!
//! So a forged or stale list can at worst mislabel a trusted IdP or raise a warning: it
//! cannot add an IdP, a key or an endpoint, nor remove one. Like the signed metadata it
//! is fetched over https only, redirects included.

use std::collections::HashSet;

use super::events::RegistryEvent;
use crate::federation::Federation;
use crate::metadata::IdentityProvider;

/// At most this many entries (the registry lists about a dozen IdPs).
const MAX_ENTRIES: usize = 500;
/// At most this many bytes of JSON.
pub(super) const MAX_LIST_BYTES: usize = 1024 * 1024;
/// At most this many characters per string value kept.
const MAX_TEXT: usize = 1024;

/// One IdP of the registry's JSON list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdpListEntry {
    /// `entity_id`.
    pub entity_id: String,
    /// `organization_name`, if present.
    pub organization_name: Option<String>,
    /// `logo_uri`, if present (never fetched by the library).
    pub logo_uri: Option<String>,
    /// `registry_link`, if present: the registry page of this IdP's metadata.
    pub registry_link: Option<String>,
}

/// The registry's JSON list could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdpListError {
    /// Not JSON, or not an array of objects each with a string `entity_id`.
    #[error("IdP list: {0}")]
    Shape(&'static str),
    /// Larger than the limits (1 MiB, 500 entries).
    #[error("IdP list too large")]
    TooLarge,
    /// The same `entity_id` twice.
    #[error("IdP list names an entity twice")]
    Duplicate,
}

/// The registry's JSON list of IdPs, parsed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IdpList {
    entries: Vec<IdpListEntry>,
}

impl IdpList {
    /// Parses the JSON (an array of objects with at least `entity_id`; `organization_name`,
    /// `logo_uri` and `registry_link` are read when they are strings, other fields are
    /// ignored). Bounded: 1 MiB, 500 entries, 1024 characters per value.
    pub fn parse(bytes: &[u8]) -> Result<IdpList, IdpListError> {
        if bytes.len() > MAX_LIST_BYTES {
            return Err(IdpListError::TooLarge);
        }
        let value: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|_| IdpListError::Shape("not JSON"))?;
        let items = value
            .as_array()
            .ok_or(IdpListError::Shape("not a JSON array"))?;
        if items.len() > MAX_ENTRIES {
            return Err(IdpListError::TooLarge);
        }
        let mut seen = HashSet::new();
        let mut entries = Vec::with_capacity(items.len());
        for item in items {
            let obj = item
                .as_object()
                .ok_or(IdpListError::Shape("an entry is not an object"))?;
            let text = |k: &str| -> Result<Option<String>, IdpListError> {
                match obj.get(k) {
                    None | Some(serde_json::Value::Null) => Ok(None),
                    Some(serde_json::Value::String(s)) if s.chars().count() <= MAX_TEXT => {
                        Ok(Some(s.clone()))
                    }
                    Some(serde_json::Value::String(_)) => Err(IdpListError::TooLarge),
                    Some(_) => Err(IdpListError::Shape("a field is not a string")),
                }
            };
            let entity_id = text("entity_id")?
                .filter(|s| !s.trim().is_empty())
                .ok_or(IdpListError::Shape("an entry has no entity_id"))?;
            if !seen.insert(entity_id.clone()) {
                return Err(IdpListError::Duplicate);
            }
            entries.push(IdpListEntry {
                entity_id,
                organization_name: text("organization_name")?,
                logo_uri: text("logo_uri")?,
                registry_link: text("registry_link")?,
            });
        }
        Ok(IdpList { entries })
    }

    /// The entries, in the list's order.
    pub fn entries(&self) -> &[IdpListEntry] {
        &self.entries
    }

    /// The entry for `entity_id`.
    pub fn get(&self, entity_id: &str) -> Option<&IdpListEntry> {
        self.entries.iter().find(|e| e.entity_id == entity_id)
    }

    /// Cross-checks the list against verified IdPs: entities listed but not verified,
    /// and SPID IdPs verified but not listed.
    pub fn cross_check<'a>(
        &self,
        verified: impl IntoIterator<Item = &'a IdentityProvider>,
    ) -> Vec<RegistryEvent> {
        let verified: Vec<&IdentityProvider> = verified.into_iter().collect();
        let mut out = Vec::new();
        for e in &self.entries {
            if !verified
                .iter()
                .any(|i| i.entity_id().as_str() == e.entity_id)
            {
                out.push(RegistryEvent::ListedButNotVerified {
                    entity_id: crate::printable::printable(&e.entity_id, 200),
                });
            }
        }
        for i in verified
            .iter()
            .filter(|i| i.federation() == Federation::Spid && !i.is_test_idp())
        {
            if self.get(i.entity_id().as_str()).is_none() {
                out.push(RegistryEvent::VerifiedButNotListed {
                    entity_id: i.entity_id().as_str().to_owned(),
                });
            }
        }
        out
    }

    /// `idps` with the list's `organization_name` as display name where the signed
    /// metadata gave none (the list only names IdPs it did not create).
    pub fn apply_names(&self, idps: Vec<IdentityProvider>) -> Vec<IdentityProvider> {
        idps.into_iter()
            .map(|idp| {
                let name = self
                    .get(idp.entity_id().as_str())
                    .and_then(|e| e.organization_name.as_deref())
                    .map(|n| crate::printable::printable(n.trim(), 200))
                    .filter(|n| !n.is_empty());
                match (idp.display_name(), name) {
                    (None, Some(n)) => idp.with_display_name(n),
                    _ => idp,
                }
            })
            .collect()
    }
}
