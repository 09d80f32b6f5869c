//! [`Binding`]: which SAML binding a message travels by. Vocabulary: metadata, the
//! configuration and the bindings all name it. Public at the crate root only.

/// A SAML binding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Binding {
    /// HTTP-Redirect: the message DEFLATEd in the query string, signed in the query.
    Redirect,
    /// HTTP-POST: an auto-submitting form, enveloped XML signature.
    Post,
    /// SOAP (listed in some metadata; never used by SPID IdPs).
    Soap,
}

impl Binding {
    /// `post`, `redirect` or `soap`: the short name logs, metrics and the transaction
    /// registry use.
    pub(crate) const fn short_name(self) -> &'static str {
        match self {
            Binding::Post => "post",
            Binding::Redirect => "redirect",
            Binding::Soap => "soap",
        }
    }

    /// The binding URI.
    pub const fn uri(self) -> &'static str {
        match self {
            Binding::Redirect => "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect",
            Binding::Post => "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST",
            Binding::Soap => "urn:oasis:names:tc:SAML:2.0:bindings:SOAP",
        }
    }

    /// The binding named by `uri`.
    pub fn from_uri(uri: &str) -> Option<Binding> {
        match uri {
            "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" => Some(Binding::Redirect),
            "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" => Some(Binding::Post),
            "urn:oasis:names:tc:SAML:2.0:bindings:SOAP" => Some(Binding::Soap),
            _ => None,
        }
    }
}
