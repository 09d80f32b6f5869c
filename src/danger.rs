//! **Unverified** decoding of SAML messages, for people looking at them (`spid-sp
//! inspect`, logs, support tickets). Nothing here checks a signature, a time or an
//! audience: never base a decision on what it returns. Logins go through
//! [`ServiceProvider::finish_login`](crate::ServiceProvider::finish_login), which reads
//! values only from verified elements.
//!
//! Accepted input (leading and trailing whitespace ignored):
//!
//! - a Redirect-binding URL or query string (`...?SAMLRequest=...&SigAlg=...`): DEFLATE +
//!   base64, as [`binding::redirect::decode_unverified`](crate::binding::redirect::decode_unverified);
//! - a POST form body (`SAMLResponse=...&RelayState=...`), as [`Incoming::from_form`];
//! - a bare base64 value (POST, or DEFLATEd as in a Redirect parameter);
//! - the XML itself.

use crate::binding::redirect::{self, RedirectError};
use crate::binding::Incoming;
use crate::dsig::{SignatureAlgorithm, DSIG_NS};
use crate::saml::{ASSERTION_NS, PROTOCOL_NS};
use crate::xml::{self, Limits, Node, XmlError};

/// At most this much input is looked at (a Redirect URL or POST body of a SAML message is
/// far smaller).
pub const MAX_INPUT: usize = 1024 * 1024;

/// How the message arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "kebab-case"))]
pub enum InputForm {
    /// An HTTP-Redirect URL or query string.
    Redirect,
    /// An HTTP-POST form body.
    PostForm,
    /// A bare base64 value (POST encoding).
    Base64,
    /// A bare base64 value of DEFLATEd XML (Redirect encoding).
    DeflatedBase64,
    /// The XML text.
    Xml,
}

/// The input could not be decoded into XML text.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// Empty input.
    #[error("nothing to decode")]
    Empty,
    /// Larger than [`MAX_INPUT`].
    #[error("input larger than {MAX_INPUT} bytes")]
    TooLarge,
    /// A Redirect query that does not decode.
    #[error("redirect binding: {0}")]
    Redirect(#[from] RedirectError),
    /// A form body without `SAMLRequest`/`SAMLResponse`, or badly encoded.
    #[error("form body without a decodable SAMLRequest or SAMLResponse")]
    Form,
    /// Not XML, base64 of XML, or base64 of DEFLATEd XML.
    #[error("not a SAML message: expected XML, base64, a redirect URL or a form body")]
    Unrecognized,
}

/// A decoded message: **unverified**.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct UnverifiedMessage {
    /// How the input was recognised.
    pub form: InputForm,
    /// `SAMLRequest` or `SAMLResponse`, when the input named it.
    pub parameter: Option<&'static str>,
    /// The RelayState, when present.
    pub relay_state: Option<String>,
    /// The Redirect `SigAlg`, when present and known (the signature is **not** checked).
    pub redirect_sig_alg: Option<String>,
    /// Whether a Redirect query carried a `Signature` parameter (**not** checked).
    pub redirect_signed: bool,
    /// The XML text.
    pub xml: String,
    /// What could be read from the XML, or why it did not parse.
    pub summary: Result<Summary, String>,
}

/// Fields read from the XML for display. **Unverified.**
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Summary {
    /// `{namespace}local-name` shortened to `samlp:Response`, `samlp:AuthnRequest`, ...
    pub message: String,
    /// (attribute, value) of the document element, in document order.
    pub attributes: Vec<(String, String)>,
    /// The Issuer text.
    pub issuer: Option<String>,
    /// The top-level StatusCode Value, then nested ones.
    pub status: Vec<String>,
    /// The StatusMessage text.
    pub status_message: Option<String>,
    /// Elements carrying an XML signature (`samlp:Response`, `saml:Assertion`, ...).
    pub signed_elements: Vec<String>,
    /// Requested AuthnContextClassRef values (AuthnRequest).
    pub requested_authn_context: Vec<String>,
    /// The assertions.
    pub assertions: Vec<AssertionSummary>,
    /// NameID and SessionIndex of a LogoutRequest.
    pub name_id: Option<String>,
    /// SessionIndex values (LogoutRequest).
    pub session_index: Vec<String>,
}

/// One assertion, read for display. **Unverified.**
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct AssertionSummary {
    /// Assertion ID.
    pub id: Option<String>,
    /// Assertion IssueInstant.
    pub issue_instant: Option<String>,
    /// Assertion Issuer.
    pub issuer: Option<String>,
    /// Subject NameID.
    pub name_id: Option<String>,
    /// SubjectConfirmationData (Recipient, InResponseTo, NotOnOrAfter).
    pub subject_confirmation: Vec<(String, String)>,
    /// Conditions NotBefore / NotOnOrAfter.
    pub conditions: Vec<(String, String)>,
    /// Audience values.
    pub audience: Vec<String>,
    /// AuthnContextClassRef.
    pub authn_context: Option<String>,
    /// Attribute name → values.
    pub attributes: Vec<(String, Vec<String>)>,
}

/// Decodes `input` into the message XML and a summary, **without verifying anything**.
pub fn decode_unverified(input: &str) -> Result<UnverifiedMessage, DecodeError> {
    let input = input.trim();
    if input.is_empty() {
        return Err(DecodeError::Empty);
    }
    if input.len() > MAX_INPUT {
        return Err(DecodeError::TooLarge);
    }
    let mut out = UnverifiedMessage {
        form: InputForm::Xml,
        parameter: None,
        relay_state: None,
        redirect_sig_alg: None,
        redirect_signed: false,
        xml: String::new(),
        summary: Err(String::new()),
    };
    if input.starts_with('<') {
        out.xml = input.to_owned();
    } else if input.contains("SAMLRequest=") || input.contains("SAMLResponse=") {
        let query = input.split_once('?').map_or(input, |(_, q)| q);
        let query = query.split('#').next().unwrap_or(query);
        let looks_redirect = input.contains('?')
            || input.starts_with("http://")
            || input.starts_with("https://")
            || query.contains("SigAlg=");
        let as_redirect = || -> Result<UnverifiedMessage, DecodeError> {
            let m = redirect::decode_unverified(query)?;
            Ok(UnverifiedMessage {
                form: InputForm::Redirect,
                parameter: Some(m.param),
                relay_state: m.relay_state,
                redirect_sig_alg: m.algorithm.map(|a: SignatureAlgorithm| a.uri().to_owned()),
                redirect_signed: query.split('&').any(|p| p.starts_with("Signature=")),
                xml: m.xml,
                summary: Err(String::new()),
            })
        };
        let as_form = || -> Result<UnverifiedMessage, DecodeError> {
            let Some(Incoming::Post {
                message,
                relay_state,
            }) = Incoming::from_form(query)
            else {
                return Err(DecodeError::Form);
            };
            let xml = decode_base64_text(&message).ok_or(DecodeError::Form)?;
            let parameter = if query.contains("SAMLRequest=") {
                "SAMLRequest"
            } else {
                "SAMLResponse"
            };
            Ok(UnverifiedMessage {
                form: InputForm::PostForm,
                parameter: Some(parameter),
                relay_state,
                redirect_sig_alg: None,
                redirect_signed: false,
                xml,
                summary: Err(String::new()),
            })
        };
        out = if looks_redirect {
            as_redirect().or_else(|e| as_form().map_err(|_| e))?
        } else {
            as_form().or_else(|e| as_redirect().map_err(|_| e))?
        };
    } else if let Some(xml) = decode_base64_text(input) {
        out.form = InputForm::Base64;
        out.xml = xml;
    } else if let Ok(xml) = redirect::inflate_base64(input) {
        out.form = InputForm::DeflatedBase64;
        out.xml = xml;
    } else {
        return Err(DecodeError::Unrecognized);
    }
    if !out.xml.trim_start().starts_with('<') {
        return Err(DecodeError::Unrecognized);
    }
    out.summary = summarize(&out.xml).map_err(|e| e.to_string());
    Ok(out)
}

/// Base64 (XML whitespace allowed) of UTF-8 text that looks like XML.
fn decode_base64_text(b64: &str) -> Option<String> {
    let bytes = crate::b64::decode(b64, MAX_INPUT).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    text.trim_start().starts_with('<').then_some(text)
}

fn qualified(node: Node<'_, '_>) -> String {
    let name = node.tag_name();
    let prefix = match name.namespace() {
        Some(PROTOCOL_NS) => "samlp:",
        Some(ASSERTION_NS) => "saml:",
        Some(crate::saml::METADATA_NS) => "md:",
        Some(DSIG_NS) => "ds:",
        _ => "",
    };
    format!("{prefix}{}", name.name())
}

fn child<'a, 'i>(
    node: Node<'a, 'i>,
    ns: &'static str,
    local: &'static str,
) -> Option<Node<'a, 'i>> {
    crate::saml::children(node, ns, local).next()
}

fn text_of(node: Option<Node<'_, '_>>) -> Option<String> {
    node.and_then(xml::text).map(|t| t.trim().to_owned())
}

fn attrs(node: Node<'_, '_>, names: &[&str]) -> Vec<(String, String)> {
    names
        .iter()
        .filter_map(|n| node.attribute(*n).map(|v| ((*n).to_owned(), v.to_owned())))
        .collect()
}

/// Reads the display fields of a message.
fn summarize(text: &str) -> Result<Summary, XmlError> {
    let limits = Limits {
        forbid_processing_instructions: false,
        forbid_comments_in_text: false,
        ..Limits::MESSAGE
    };
    let doc = xml::parse(text, &limits)?;
    let root = doc.root_element();
    let mut s = Summary {
        message: qualified(root),
        attributes: root
            .attributes()
            .map(|a| (a.name().to_owned(), a.value().to_owned()))
            .take(32)
            .collect(),
        issuer: text_of(child(root, ASSERTION_NS, "Issuer")),
        ..Summary::default()
    };
    if let Some(status) = child(root, PROTOCOL_NS, "Status") {
        let mut code = child(status, PROTOCOL_NS, "StatusCode");
        while let Some(c) = code {
            s.status.push(c.attribute("Value").unwrap_or("").to_owned());
            code = child(c, PROTOCOL_NS, "StatusCode");
            if s.status.len() > 4 {
                break;
            }
        }
        s.status_message = text_of(child(status, PROTOCOL_NS, "StatusMessage"));
    }
    s.signed_elements = doc
        .descendants()
        .filter(|n| crate::saml::is(n, DSIG_NS, "Signature"))
        .filter_map(|sig| sig.parent_element())
        .map(qualified)
        .collect();
    if let Some(rac) = child(root, PROTOCOL_NS, "RequestedAuthnContext") {
        s.requested_authn_context =
            crate::saml::children(rac, ASSERTION_NS, "AuthnContextClassRef")
                .filter_map(|n| text_of(Some(n)))
                .collect();
    }
    s.name_id = text_of(child(root, ASSERTION_NS, "NameID"));
    s.session_index = crate::saml::children(root, PROTOCOL_NS, "SessionIndex")
        .filter_map(|n| text_of(Some(n)))
        .collect();
    for a in doc
        .descendants()
        .filter(|n| crate::saml::is(n, ASSERTION_NS, "Assertion"))
        .take(8)
    {
        let subject = child(a, ASSERTION_NS, "Subject");
        let confirmation = subject
            .and_then(|s| child(s, ASSERTION_NS, "SubjectConfirmation"))
            .and_then(|c| child(c, ASSERTION_NS, "SubjectConfirmationData"));
        let conditions = child(a, ASSERTION_NS, "Conditions");
        let mut summary = AssertionSummary {
            id: a.attribute("ID").map(str::to_owned),
            issue_instant: a.attribute("IssueInstant").map(str::to_owned),
            issuer: text_of(child(a, ASSERTION_NS, "Issuer")),
            name_id: text_of(subject.and_then(|s| child(s, ASSERTION_NS, "NameID"))),
            subject_confirmation: confirmation
                .map(|c| attrs(c, &["Recipient", "InResponseTo", "NotOnOrAfter"]))
                .unwrap_or_default(),
            conditions: conditions
                .map(|c| attrs(c, &["NotBefore", "NotOnOrAfter"]))
                .unwrap_or_default(),
            ..AssertionSummary::default()
        };
        if let Some(c) = conditions {
            summary.audience = c
                .descendants()
                .filter(|n| crate::saml::is(n, ASSERTION_NS, "Audience"))
                .filter_map(|n| text_of(Some(n)))
                .collect();
        }
        summary.authn_context = a
            .descendants()
            .find(|n| crate::saml::is(n, ASSERTION_NS, "AuthnContextClassRef"))
            .and_then(|n| text_of(Some(n)));
        summary.attributes = a
            .descendants()
            .filter(|n| crate::saml::is(n, ASSERTION_NS, "Attribute"))
            .take(64)
            .map(|attr| {
                let values = crate::saml::children(attr, ASSERTION_NS, "AttributeValue")
                    .filter_map(|v| text_of(Some(v)))
                    .collect();
                (attr.attribute("Name").unwrap_or("").to_owned(), values)
            })
            .collect();
        s.assertions.push(summary);
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    const XML: &str = "<samlp:AuthnRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"_1\" Version=\"2.0\"><saml:Issuer>https://sp.example</saml:Issuer></samlp:AuthnRequest>";

    #[test]
    fn every_input_form() {
        let b64 = crate::b64::encode(XML);
        let deflated = redirect::deflate_base64(XML);
        let mut q = String::from("SAMLRequest=");
        redirect::quote_plus(&deflated, &mut q);
        q.push_str("&RelayState=abc&SigAlg=http%3A%2F%2Fwww.w3.org%2F2001%2F04%2Fxmldsig-more%23rsa-sha256&Signature=AAAA");
        let url = format!("https://idp.example/sso?{q}");
        let mut form = String::from("SAMLRequest=");
        redirect::quote_plus(&b64, &mut form);
        form.push_str("&RelayState=xyz");
        for (input, kind) in [
            (XML.to_owned(), InputForm::Xml),
            (b64.clone(), InputForm::Base64),
            (deflated, InputForm::DeflatedBase64),
            (url, InputForm::Redirect),
            (q, InputForm::Redirect),
            (form, InputForm::PostForm),
        ] {
            let m = decode_unverified(&input).unwrap();
            assert_eq!(m.form, kind, "{input}");
            assert_eq!(m.xml, XML);
            let s = m.summary.unwrap();
            assert_eq!(s.message, "samlp:AuthnRequest");
            assert_eq!(s.issuer.as_deref(), Some("https://sp.example"));
        }
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for input in [
            "",
            "   ",
            "hello",
            "SAMLResponse=%%%",
            "?SAMLRequest=AAAA",
            "QUJD",
        ] {
            assert!(decode_unverified(input).is_err(), "{input}");
        }
        let broken = decode_unverified("<samlp:Response").unwrap();
        assert!(broken.summary.is_err());
    }
}
