//! The SAML message types of the bindings: what the SP sends through the browser
//! ([`Outgoing`], delivered as a [`Delivery`]) and what comes back ([`Incoming`]).
//! Public at the crate root only.

use super::{post, redirect};

use crate::dsig::{self, SignatureAlgorithm, SigningKey};
use crate::saml::Binding;

/// A signed message ready to be delivered through the browser.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outgoing {
    pub(super) xml: String,
    pub(super) delivery: Delivery,
}

/// How the message reaches the other party.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// Answer `302 Found` with this `Location`.
    Redirect {
        /// The full URL, query signature included.
        url: String,
    },
    /// Answer `200` with an auto-submitting form ([`Outgoing::html_form`]).
    Post {
        /// The form action (the IdP endpoint).
        action: String,
        /// `SAMLRequest` or `SAMLResponse`.
        field: &'static str,
        /// Base64 of the signed XML.
        value: String,
        /// The RelayState field, if any.
        relay_state: Option<String>,
    },
}

impl Outgoing {
    /// Signs `xml` for `binding` and addresses it to `endpoint`. `field` is `SAMLRequest`
    /// or `SAMLResponse`.
    pub(crate) fn sign(
        xml: String,
        binding: Binding,
        endpoint: &str,
        field: &'static str,
        relay_state: Option<&str>,
        key: &SigningKey,
    ) -> Result<Outgoing, dsig::DsigError> {
        let alg = SignatureAlgorithm::RsaSha256;
        match binding {
            Binding::Redirect => {
                let query = redirect::signed_query(field, &xml, relay_state, key, alg)?;
                let sep = if endpoint.contains('?') { '&' } else { '?' };
                Ok(Outgoing {
                    xml,
                    delivery: Delivery::Redirect {
                        url: format!("{endpoint}{sep}{query}"),
                    },
                })
            }
            Binding::Post | Binding::Soap => {
                let (xml, delivery) = post::sign(xml, endpoint, field, relay_state, key, alg)?;
                Ok(Outgoing { xml, delivery })
            }
        }
    }

    /// The message XML as sent (signed, for POST): keep it for the 24-month log AgID
    /// requires.
    pub fn xml(&self) -> &str {
        &self.xml
    }

    /// How to deliver it.
    pub fn delivery(&self) -> &Delivery {
        &self.delivery
    }

    /// The Redirect URL, for the Redirect binding.
    pub fn redirect_url(&self) -> Option<&str> {
        match &self.delivery {
            Delivery::Redirect { url } => Some(url),
            Delivery::Post { .. } => None,
        }
    }
}

/// A message received from the browser.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Incoming {
    /// HTTP-POST: the base64 `SAMLResponse`/`SAMLRequest` field and the RelayState.
    Post {
        /// The base64 message, as posted.
        message: String,
        /// The RelayState, as posted.
        relay_state: Option<String>,
    },
    /// HTTP-Redirect: the raw query string (still percent-encoded).
    Redirect {
        /// The raw query string.
        query: String,
    },
}

#[cfg(feature = "axum")]
/// Which SAML field a query string or form body carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MessageKind {
    /// Exactly one `SAMLRequest` (and no `SAMLResponse`).
    Request,
    /// Exactly one `SAMLResponse` (and no `SAMLRequest`).
    Response,
    /// Neither, or both.
    Unknown,
}

#[cfg(feature = "axum")]
/// Which SAML field `params` (a raw query string or form body) carries: a `SAMLRequest`,
/// a `SAMLResponse`, or neither or both ([`MessageKind::Unknown`]). Only the keys are
/// looked at, still percent-encoded, so a key spelled with escapes is not a SAML field.
pub(crate) fn message_kind(params: &str) -> MessageKind {
    let (mut request, mut response) = (false, false);
    for pair in params.split('&') {
        match pair.split_once('=').map_or(pair, |(k, _)| k) {
            "SAMLRequest" => request = true,
            "SAMLResponse" => response = true,
            _ => {}
        }
    }
    match (request, response) {
        (true, false) => MessageKind::Request,
        (false, true) => MessageKind::Response,
        _ => MessageKind::Unknown,
    }
}
