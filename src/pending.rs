//! [`PendingLogin`]: what the SP keeps between sending an AuthnRequest and receiving the
//! Response. Below the ceremony (`sp`) and the stores, which both hold it.

use crate::ids::{EntityId, RelayState, RequestId};
use crate::level::{Comparison, SpidLevel};
use crate::time::Timestamp;

/// What the SP keeps server-side between `start_login` and `finish_login`.
///
/// Everything here was decided by the SP; nothing comes from the browser.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct PendingLogin {
    pub(crate) request_id: RequestId,
    pub(crate) idp: EntityId,
    pub(crate) issue_instant: Timestamp,
    pub(crate) expires: Timestamp,
    pub(crate) level: SpidLevel,
    pub(crate) comparison: Comparison,
    pub(crate) acs_url: String,
    pub(crate) attribute_service: u16,
    pub(crate) relay_state: RelayState,
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub(crate) data: Option<String>,
}

impl PendingLogin {
    /// Rebuilds a pending login from stored parts (custom stores, the CLI's `verify`,
    /// benchmarks). Everything here must come from the SP's own records, never from the
    /// browser.
    #[allow(clippy::too_many_arguments)]
    pub fn from_parts(
        request_id: RequestId,
        idp: EntityId,
        issue_instant: Timestamp,
        expires: Timestamp,
        level: SpidLevel,
        comparison: Comparison,
        acs_url: impl Into<String>,
        attribute_service: u16,
        relay_state: RelayState,
    ) -> PendingLogin {
        PendingLogin {
            request_id,
            idp,
            issue_instant,
            expires,
            level,
            comparison,
            acs_url: acs_url.into(),
            attribute_service,
            relay_state,
            data: None,
        }
    }

    /// Attaches the integration's own data (where to go after the login, which browser
    /// started it): kept and stored with the pending login, so one store operation saves
    /// and takes both. Never sent to the IdP and never read by verification.
    pub fn with_data(mut self, data: impl Into<String>) -> PendingLogin {
        self.data = Some(data.into());
        self
    }

    /// The data attached with [`PendingLogin::with_data`].
    pub fn data(&self) -> Option<&str> {
        self.data.as_deref()
    }

    /// The AttributeConsumingService index requested.
    pub fn attribute_service(&self) -> u16 {
        self.attribute_service
    }

    /// The AuthnRequest ID (the IdP's `InResponseTo`): the key to store it under.
    pub fn request_id(&self) -> &RequestId {
        &self.request_id
    }
    /// The IdP the request was sent to.
    pub fn idp(&self) -> &EntityId {
        &self.idp
    }
    /// When the request was issued.
    pub fn issue_instant(&self) -> Timestamp {
        self.issue_instant
    }
    /// When it stops being answerable.
    pub fn expires(&self) -> Timestamp {
        self.expires
    }
    /// The level requested.
    pub fn level(&self) -> SpidLevel {
        self.level
    }
    /// The comparison requested.
    pub fn comparison(&self) -> Comparison {
        self.comparison
    }
    /// The ACS URL the Response must be addressed to.
    pub fn acs_url(&self) -> &str {
        &self.acs_url
    }
    /// The RelayState token sent with the request.
    pub fn relay_state(&self) -> &RelayState {
        &self.relay_state
    }
}
