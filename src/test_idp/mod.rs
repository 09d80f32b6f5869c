//! **TEST ONLY — not an accredited identity provider.** A local identity provider that
//! signs SPID Responses with the library's own signing code: for tests, benchmarks, the
//! demo's local login, and the load benchmark. Behind the `test-idp` cargo feature.
//!
//! - [`TestIdp`]: the signer (Responses, refusals, logout messages, metadata).
//! - [`TrustedSp`]: an SP's metadata as the IdP reads it (keys, ACS, SLO, attributes);
//!   [`TestIdp::verify_authn_request`] and the logout checks verify messages against it.
//! - [`TEST_USERS`]: made-up users (a citizen, a professional, a legal person, a foreign
//!   eIDAS user).
//! - `server` (features `test-idp` + `axum`): the same over HTTP, with a login form,
//!   for browsers. It only runs on a loopback URL, only when constructed with
//!   [`TestIdpMode::IKnowThisIsNotAnAccreditedIdp`], and its metadata carries a marker
//!   ([`crate::metadata::TEST_IDP_MARKER_NS`]) that makes the axum integration refuse
//!   it unless the application opted in.

use std::fmt::Write as _;

mod messages;
#[cfg(feature = "oidc")]
#[cfg_attr(docsrs, doc(cfg(all(feature = "test-idp", feature = "oidc"))))]
pub mod oidc;
#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(all(feature = "test-idp", feature = "axum"))))]
pub mod server;
mod sp_metadata;
mod users;

pub use messages::{AuthnRequestIn, LogoutRequestIn, LogoutResponseIn, RequestError};
pub use sp_metadata::{SpAcs, TrustedSp};
pub use users::{IdentityType, TestUser, TEST_USERS};

use crate::dsig::{self, SignatureAlgorithm, SignatureAnchor, SigningKey};
use crate::ids::random_token_or_abort as random_token;
use crate::level::SpidLevel;
use crate::saml::{
    Binding, ASSERTION_NS, CM_BEARER, METADATA_NS, NAMEID_ENTITY, NAMEID_TRANSIENT, PROTOCOL_NS,
};
use crate::time::Timestamp;
use crate::xml::writer::{attr, text};

pub use crate::metadata::idp::TestIdpMode;

/// What the test IdP refused to do.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TestIdpError {
    /// The entityID or base URL is not an `http(s)` URL on a loopback host (`localhost`,
    /// `127.0.0.0/8`, `[::1]`).
    #[error("the test identity provider only runs on loopback urls: the {0} is not one")]
    NotLoopback(&'static str),
    /// The SP metadata cannot be used.
    #[error("sp metadata refused: {0}")]
    SpMetadata(&'static str),
    /// Signing failed.
    #[error("cannot sign: {0}")]
    Signing(dsig::DsigError),
    /// OpenSSL could not make a key or certificate.
    #[error("cannot generate a key")]
    KeyGeneration,
}

/// Whether `url` is `http(s)://HOST[:PORT][/...]` with HOST `localhost` (or a
/// `.localhost` name), an address in `127.0.0.0/8`, or `[::1]`; no user info.
pub fn is_loopback_url(url: &str) -> bool {
    let Some(rest) = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
    else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.is_empty() || authority.contains(['@', '\\']) {
        return false;
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        match v6.split_once(']') {
            Some((h, "")) => (h, None),
            Some((h, p)) => match p.strip_prefix(':') {
                Some(p) => (h, Some(p)),
                None => return false,
            },
            None => return false,
        }
    } else {
        match authority.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    let port_ok =
        port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()));
    let host = host.to_ascii_lowercase();
    let host_ok = host == "localhost"
        || host.ends_with(".localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    port_ok && host_ok
}

/// A test identity provider: an entityID and a signing key.
#[derive(Clone, Debug)]
pub struct TestIdp {
    entity_id: String,
    key: SigningKey,
}

/// What one Response says. Build with [`ResponseSpec::new`] and adjust fields.
#[derive(Clone, Debug)]
pub struct ResponseSpec {
    /// The AuthnRequest ID answered.
    pub in_response_to: String,
    /// The ACS URL (Destination and Recipient).
    pub acs_url: String,
    /// The SP entityID (Audience).
    pub audience: String,
    /// The level authenticated at.
    pub level: SpidLevel,
    /// IssueInstant of Response and Assertion, and Conditions NotBefore.
    pub issue_instant: Timestamp,
    /// Validity in seconds (NotOnOrAfter = issue_instant + this).
    pub validity_secs: i64,
    /// The transient NameID.
    pub name_id: String,
    /// The SessionIndex.
    pub session_index: Option<String>,
    /// Attributes (name, value), `xs:date` for dateOfBirth and expirationDate.
    pub attributes: Vec<(String, String)>,
    /// Sign the Assertion (default true).
    pub sign_assertion: bool,
    /// Sign the Response (default true).
    pub sign_response: bool,
}

impl ResponseSpec {
    /// A Success Response for a request, with SPID's typical 5-minute validity.
    pub fn new(
        in_response_to: &str,
        acs_url: &str,
        audience: &str,
        level: SpidLevel,
        now: Timestamp,
    ) -> Self {
        ResponseSpec {
            in_response_to: in_response_to.to_owned(),
            acs_url: acs_url.to_owned(),
            audience: audience.to_owned(),
            level,
            issue_instant: now,
            validity_secs: 300,
            name_id: random_token("_", 16),
            session_index: Some(random_token("_", 16)),
            attributes: Vec::new(),
            sign_assertion: true,
            sign_response: true,
        }
    }

    /// Adds an attribute.
    pub fn attribute(mut self, name: &str, value: &str) -> Self {
        self.attributes.push((name.to_owned(), value.to_owned()));
        self
    }
}

impl TestIdp {
    /// A test IdP with this entityID and key.
    pub fn new(entity_id: impl Into<String>, key: SigningKey) -> TestIdp {
        TestIdp {
            entity_id: entity_id.into(),
            key,
        }
    }

    /// A fresh RSA-2048 key and a self-signed SHA-256 certificate for a test IdP, valid
    /// from now for `days` days, subject `O=spid-sp test IdP (not for production),
    /// CN=<common_name>`: `(PKCS#8 key PEM, certificate PEM)`, for the caller to keep.
    pub fn generate_key_pem(
        common_name: &str,
        days: u32,
    ) -> Result<(Vec<u8>, Vec<u8>), TestIdpError> {
        use openssl::asn1::Asn1Time;
        use openssl::bn::{BigNum, MsbOption};
        use openssl::hash::MessageDigest;
        use openssl::pkey::PKey;
        use openssl::rsa::Rsa;
        use openssl::x509::{X509Builder, X509NameBuilder};
        let make = || -> Result<(Vec<u8>, Vec<u8>), openssl::error::ErrorStack> {
            let key = PKey::from_rsa(Rsa::generate(2048)?)?;
            let mut name = X509NameBuilder::new()?;
            name.append_entry_by_text("C", "IT")?;
            name.append_entry_by_text("O", "spid-sp test IdP (not for production)")?;
            let cn: String = common_name.chars().take(64).collect();
            name.append_entry_by_text("CN", if cn.is_empty() { "localhost" } else { &cn })?;
            let name = name.build();
            let mut serial = BigNum::new()?;
            serial.rand(127, MsbOption::MAYBE_ZERO, false)?;
            let mut b = X509Builder::new()?;
            b.set_version(2)?;
            b.set_serial_number(serial.to_asn1_integer()?.as_ref())?;
            b.set_subject_name(&name)?;
            b.set_issuer_name(&name)?;
            b.set_pubkey(&key)?;
            b.set_not_before(Asn1Time::days_from_now(0)?.as_ref())?;
            b.set_not_after(Asn1Time::days_from_now(days)?.as_ref())?;
            b.sign(&key, MessageDigest::sha256())?;
            Ok((key.private_key_to_pem_pkcs8()?, b.build().to_pem()?))
        };
        make().map_err(|_| TestIdpError::KeyGeneration)
    }

    /// The entityID.
    pub fn entity_id(&self) -> &str {
        &self.entity_id
    }

    /// The signing key.
    pub fn key(&self) -> &SigningKey {
        &self.key
    }

    /// A signed Success Response.
    pub fn response(&self, spec: &ResponseSpec) -> Result<String, dsig::DsigError> {
        let rid = random_token("_", 20);
        let aid = random_token("_", 20);
        let now = spec.issue_instant;
        let until = now.plus_seconds(spec.validity_secs);
        let idp = &self.entity_id;
        let mut x = String::with_capacity(4096 + 200 * spec.attributes.len());
        let _ = write!(
            x,
            "<samlp:Response xmlns:samlp=\"{PROTOCOL_NS}\" xmlns:saml=\"{ASSERTION_NS}\" ID=\"{rid}\" Version=\"2.0\" IssueInstant=\"{now}\" Destination=\"{}\" InResponseTo=\"{}\">\
             <saml:Issuer Format=\"{NAMEID_ENTITY}\">{}</saml:Issuer>\
             <samlp:Status><samlp:StatusCode Value=\"urn:oasis:names:tc:SAML:2.0:status:Success\"/></samlp:Status>\
             <saml:Assertion xmlns:xs=\"http://www.w3.org/2001/XMLSchema\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" ID=\"{aid}\" Version=\"2.0\" IssueInstant=\"{now}\">\
             <saml:Issuer Format=\"{NAMEID_ENTITY}\">{}</saml:Issuer>\
             <saml:Subject><saml:NameID Format=\"{NAMEID_TRANSIENT}\" NameQualifier=\"{}\">{}</saml:NameID>\
             <saml:SubjectConfirmation Method=\"{CM_BEARER}\"><saml:SubjectConfirmationData Recipient=\"{}\" InResponseTo=\"{}\" NotOnOrAfter=\"{until}\"/></saml:SubjectConfirmation></saml:Subject>\
             <saml:Conditions NotBefore=\"{now}\" NotOnOrAfter=\"{until}\"><saml:AudienceRestriction><saml:Audience>{}</saml:Audience></saml:AudienceRestriction></saml:Conditions>\
             <saml:AuthnStatement AuthnInstant=\"{now}\"",
            attr(&spec.acs_url),
            attr(&spec.in_response_to),
            text(idp),
            text(idp),
            attr(idp),
            text(&spec.name_id),
            attr(&spec.acs_url),
            attr(&spec.in_response_to),
            text(&spec.audience),
        );
        if let Some(si) = &spec.session_index {
            let _ = write!(x, " SessionIndex=\"{}\"", attr(si));
        }
        let _ = write!(
            x,
            "><saml:AuthnContext><saml:AuthnContextClassRef>{}</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>",
            spec.level.uri()
        );
        if !spec.attributes.is_empty() {
            x.push_str("<saml:AttributeStatement>");
            for (name, value) in &spec.attributes {
                let ty = if matches!(name.as_str(), "dateOfBirth" | "expirationDate") {
                    "xs:date"
                } else {
                    "xs:string"
                };
                let _ = write!(
                    x,
                    "<saml:Attribute Name=\"{}\" NameFormat=\"urn:oasis:names:tc:SAML:2.0:attrname-format:basic\"><saml:AttributeValue xsi:type=\"{ty}\">{}</saml:AttributeValue></saml:Attribute>",
                    attr(name),
                    text(value)
                );
            }
            x.push_str("</saml:AttributeStatement>");
        }
        x.push_str("</saml:Assertion></samlp:Response>");
        let anchor = SignatureAnchor::After(ASSERTION_NS, "Issuer");
        let alg = SignatureAlgorithm::RsaSha256;
        if spec.sign_assertion {
            x = dsig::sign_element(&x, Some(&aid), &self.key, alg, anchor)?;
        }
        if spec.sign_response {
            x = dsig::sign_element(&x, None, &self.key, alg, anchor)?;
        }
        Ok(x)
    }

    /// A signed refusal: `Responder` / `AuthnFailed` with `ErrorCode nrNN`.
    pub fn refusal(
        &self,
        in_response_to: &str,
        acs_url: &str,
        error_code: u8,
        now: Timestamp,
    ) -> Result<String, dsig::DsigError> {
        let x = format!(
            "<samlp:Response xmlns:samlp=\"{PROTOCOL_NS}\" xmlns:saml=\"{ASSERTION_NS}\" ID=\"{}\" Version=\"2.0\" IssueInstant=\"{now}\" Destination=\"{}\" InResponseTo=\"{}\">\
             <saml:Issuer Format=\"{NAMEID_ENTITY}\">{}</saml:Issuer>\
             <samlp:Status><samlp:StatusCode Value=\"urn:oasis:names:tc:SAML:2.0:status:Responder\"><samlp:StatusCode Value=\"urn:oasis:names:tc:SAML:2.0:status:AuthnFailed\"/></samlp:StatusCode>\
             <samlp:StatusMessage>ErrorCode nr{error_code:02}</samlp:StatusMessage></samlp:Status></samlp:Response>",
            random_token("_", 20),
            attr(acs_url),
            attr(in_response_to),
            text(&self.entity_id),
        );
        dsig::sign_enveloped(
            &x,
            &self.key,
            SignatureAlgorithm::RsaSha256,
            SignatureAnchor::After(ASSERTION_NS, "Issuer"),
        )
    }

    /// This IdP's metadata (unsigned), with SSO and SLO at `base_url` + `/sso`, `/slo`.
    /// Without the test-IdP marker: for tests that configure trust by hand (the HTTP test
    /// IdP publishes [`TestIdp::marked_metadata`]).
    pub fn metadata(&self, base_url: &str) -> String {
        self.metadata_with(base_url, false)
    }

    /// [`TestIdp::metadata`] with the test-IdP marker
    /// (`md:Extensions/tidp:TestIdentityProvider`, namespace
    /// [`crate::metadata::TEST_IDP_MARKER_NS`]): an SP reading it knows this is a test IdP
    /// ([`crate::metadata::IdentityProvider::is_test_idp`]).
    pub fn marked_metadata(&self, base_url: &str) -> String {
        self.metadata_with(base_url, true)
    }

    fn metadata_with(&self, base_url: &str, marked: bool) -> String {
        let mut x = String::with_capacity(3000);
        let _ = write!(
            x,
            "<md:EntityDescriptor xmlns:md=\"{METADATA_NS}\" xmlns:ds=\"{}\" entityID=\"{}\">",
            dsig::DSIG_NS,
            attr(&self.entity_id),
        );
        if marked {
            let _ = write!(
                x,
                "<md:Extensions><tidp:TestIdentityProvider xmlns:tidp=\"{}\">TEST — not an accredited identity provider</tidp:TestIdentityProvider></md:Extensions>",
                crate::metadata::TEST_IDP_MARKER_NS
            );
        }
        let _ = write!(
            x,
            "<md:IDPSSODescriptor protocolSupportEnumeration=\"{PROTOCOL_NS}\" WantAuthnRequestsSigned=\"true\">\
             <md:KeyDescriptor use=\"signing\"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>",
            self.key.certificate_base64(),
        );
        for b in [Binding::Redirect, Binding::Post] {
            let _ = write!(
                x,
                "<md:SingleLogoutService Binding=\"{}\" Location=\"{}/slo\"/>",
                b.uri(),
                attr(base_url)
            );
        }
        x.push_str("<md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:transient</md:NameIDFormat>");
        for b in [Binding::Redirect, Binding::Post] {
            let _ = write!(
                x,
                "<md:SingleSignOnService Binding=\"{}\" Location=\"{}/sso\"/>",
                b.uri(),
                attr(base_url)
            );
        }
        let _ = write!(
            x,
            "</md:IDPSSODescriptor><md:Organization><md:OrganizationName xml:lang=\"it\">Test IdP (local)</md:OrganizationName>\
             <md:OrganizationDisplayName xml:lang=\"it\">Test IdP (local)</md:OrganizationDisplayName>\
             <md:OrganizationURL xml:lang=\"it\">{}</md:OrganizationURL></md:Organization></md:EntityDescriptor>",
            text(base_url)
        );
        x
    }
}
