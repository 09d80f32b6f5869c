//! What the SP sends to the browser: a Redirect URL or an auto-submitting POST form.

use crate::dsig::{self, redirect, SignatureAlgorithm, SignatureAnchor, SigningKey};
use crate::saml::{Binding, ASSERTION_NS};
use crate::xml::writer;

/// A signed message ready to be delivered through the browser.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outgoing {
    xml: String,
    delivery: Delivery,
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
                let signed = dsig::sign_enveloped(
                    &xml,
                    key,
                    alg,
                    SignatureAnchor::After(ASSERTION_NS, "Issuer"),
                )?;
                use base64::Engine as _;
                let value = base64::engine::general_purpose::STANDARD.encode(signed.as_bytes());
                Ok(Outgoing {
                    xml: signed,
                    delivery: Delivery::Post {
                        action: endpoint.to_owned(),
                        field,
                        value,
                        relay_state: relay_state.map(str::to_owned),
                    },
                })
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

    /// A complete HTML page that posts the message (POST binding), with a button for
    /// browsers without JavaScript. `nonce` is added to the script tag for a CSP.
    pub fn html_form(&self, nonce: Option<&str>) -> Option<String> {
        let Delivery::Post {
            action,
            field,
            value,
            relay_state,
        } = &self.delivery
        else {
            return None;
        };
        let nonce = nonce
            .map(|n| format!(" nonce=\"{}\"", writer::attr(n)))
            .unwrap_or_default();
        let relay = relay_state
            .as_deref()
            .map(|r| {
                format!(
                    "<input type=\"hidden\" name=\"RelayState\" value=\"{}\">",
                    writer::attr(r)
                )
            })
            .unwrap_or_default();
        Some(format!(
            "<!DOCTYPE html>\n<html lang=\"it\"><head><meta charset=\"utf-8\"><title>Accesso in corso</title></head>\
             <body><form method=\"post\" action=\"{}\" id=\"saml-form\">\
             <input type=\"hidden\" name=\"{field}\" value=\"{value}\">{relay}\
             <noscript><p>JavaScript è disattivato: premi il pulsante per continuare.</p></noscript>\
             <button type=\"submit\">Continua</button></form>\
             <script{nonce}>document.getElementById('saml-form').submit();</script></body></html>",
            writer::attr(action),
        ))
    }
}
