//! The shape of the public API: one public name per type. The core vocabulary is at the
//! crate root (its modules are private); the public modules are namespaces whose items
//! are not re-exported at the root; no type of the XML parser is public. This file
//! names every root re-export and every namespace item a portal uses, so that removing or
//! moving one is a compile error here; the former duplicate paths are pinned as
//! `compile_fail` doc tests in `src/lib.rs`.
//!
//! It also covers the string-level functions that replaced the node-level ones:
//! `xml::check`, `xml::canonicalize_document` (against `xmllint --exc-c14n`) and
//! `dsig::verify_document` (on the eIDAS node's real metadata signature and on our own).

mod common;

use std::process::Command;

// Every root re-export, by name.
use spid_sp::{
    AcsChoice, AssertionConsumerService, AssertionId, AttributeService, Attributes, Binding, Clock,
    CnsError, Comparison, ConfigError, Date, Delivery, Domicile, EidasIdError, EidasPersonId,
    EntityId, Federation, FederationRules, FiscalCode, FiscalCodeError, FiscalCodeKind, FixedClock,
    Gender, IdCard, Identity, IdentityKey, IdentitySource, IdpRefusal, IdpSet, Incoming, KeyError,
    LoginError, LoginOptions, LogoutOutcome, LogoutRequestInfo, LogoutService, NameId, Outgoing,
    PendingLogin, PendingLogout, Purpose, RandomError, RejectReason, RelayState, RequestId,
    ServiceProvider, SessionInfo, Signed, SigningKey, SpConfig, SpConfigBuilder, SpidLevel,
    StartError, SystemClock, TimeFormatError, Timestamp, VatNumber, VerificationKey, VerifiedLogin,
    SPID_ATTRIBUTE_NAMES,
};
// The `config` feature's root re-exports (the dev-dependency enables every feature the
// tests need; this file is built with `--all-features` in CI).
#[cfg(feature = "config")]
use spid_sp::{
    AttributeServiceDescription, CertificateDescription, DescriptionError,
    LogoutServiceDescription, MetadataDescription, SpDescription,
};

// The namespaces.
use spid_sp::binding::{post, redirect};
use spid_sp::dsig::{
    self, DigestAlgorithm, DsigError, SignatureAlgorithm, SignatureAnchor, SignatureInfo,
    VerifyPolicy,
};
use spid_sp::metadata::{IdentityProvider, MetadataError, SpMetadata};
use spid_sp::store::{
    MemoryPendingStore, MemoryReplayCache, MemorySessionStore, PendingStore, ReplayCache,
    SessionStore, StoreError,
};
use spid_sp::xml::{self, Limits, XmlError};
use spid_sp::{certificates, danger, saml};

/// Compiles only if every name above is a type (or trait) of the public API.
#[allow(dead_code, clippy::type_complexity)]
struct RootTypes(
    Option<(
        AcsChoice,
        AssertionConsumerService,
        AssertionId,
        AttributeService,
    )>,
    Option<(
        Attributes,
        Binding,
        Box<dyn Clock>,
        CnsError,
        Comparison,
        ConfigError,
    )>,
    Option<(
        Date,
        Delivery,
        Domicile,
        EidasIdError,
        EidasPersonId,
        EntityId,
    )>,
    Option<(
        Federation,
        FederationRules,
        FiscalCode,
        FiscalCodeError,
        FiscalCodeKind,
    )>,
    Option<(
        FixedClock,
        Gender,
        IdCard,
        Identity,
        IdentityKey,
        IdentitySource,
    )>,
    Option<(
        IdpRefusal,
        IdpSet,
        Incoming,
        KeyError,
        LoginError,
        LoginOptions,
    )>,
    Option<(
        LogoutOutcome,
        LogoutRequestInfo,
        LogoutService,
        NameId,
        Outgoing,
    )>,
    Option<(
        PendingLogin,
        PendingLogout,
        Purpose,
        RandomError,
        RejectReason,
        RelayState,
    )>,
    Option<(
        RequestId,
        ServiceProvider,
        SessionInfo,
        Signed,
        SigningKey,
        SpConfig,
    )>,
    Option<(
        SpConfigBuilder,
        SpidLevel,
        StartError,
        SystemClock,
        TimeFormatError,
    )>,
    Option<(Timestamp, VatNumber, VerificationKey, VerifiedLogin)>,
);

#[cfg(feature = "config")]
#[allow(dead_code)]
struct ConfigTypes(
    Option<(
        AttributeServiceDescription,
        CertificateDescription,
        DescriptionError,
    )>,
    Option<(LogoutServiceDescription, MetadataDescription, SpDescription)>,
);

#[allow(dead_code, clippy::type_complexity)]
struct NamespaceTypes(
    Option<(
        DigestAlgorithm,
        DsigError,
        SignatureAlgorithm,
        SignatureAnchor,
    )>,
    Option<(
        SignatureInfo,
        VerifyPolicy,
        IdentityProvider,
        MetadataError,
        SpMetadata,
    )>,
    Option<(
        MemoryPendingStore,
        MemoryReplayCache,
        MemorySessionStore,
        StoreError,
    )>,
    Option<(
        Box<dyn PendingStore>,
        Box<dyn ReplayCache>,
        Box<dyn SessionStore>,
    )>,
    Option<(
        Limits,
        XmlError,
        redirect::RedirectError,
        redirect::RedirectMessage,
    )>,
    Option<(certificates::CertificateRequest, danger::InputForm)>,
);

#[test]
fn root_and_namespaces_are_usable() {
    assert_eq!(SPID_ATTRIBUTE_NAMES.len(), 23);
    assert_eq!(saml::PROTOCOL_NS, "urn:oasis:names:tc:SAML:2.0:protocol");
    assert_eq!(
        Binding::Post.uri(),
        "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
    );
    assert_eq!(post::encode_form(&[("a", "b c")]), "a=b+c");
    let mut q = String::new();
    redirect::quote_plus("a b", &mut q);
    assert_eq!(q, "a+b");
    let rules: FederationRules = Federation::Cie.rules();
    assert!(rules.force_authn_always && !rules.single_logout);
    assert_eq!(spid_sp::xml::writer::text("<&>"), "&lt;&amp;&gt;");
    assert!(xml::check("<a/>", &Limits::MESSAGE).is_ok());
    let _: fn(&str) -> Result<danger::UnverifiedMessage, danger::DecodeError> =
        danger::decode_unverified;
}

#[test]
fn assertion_and_name_ids_are_newtypes() {
    let a = AssertionId::new("_a1");
    assert_eq!((a.as_str(), a.to_string()), ("_a1", "_a1".to_owned()));
    // A NameID is personal data: Debug never shows it (and it has no Display).
    let n = NameId::new("_pseudonymous-session-id");
    assert_eq!(format!("{n:?}"), "NameId(..)");
    assert_eq!(n.as_str(), "_pseudonymous-session-id");
    let info = SessionInfo {
        idp: EntityId::new("https://idp.example"),
        name_id: n,
        name_qualifier: "https://idp.example".into(),
        session_index: None,
    };
    assert!(!format!("{info:?}").contains("pseudonymous"));
}

/// Stored sessions keep their JSON: the newtypes serialize as the bare string.
#[cfg(feature = "serde")]
#[test]
fn name_id_serializes_transparently() {
    let info = SessionInfo {
        idp: EntityId::new("https://idp.example"),
        name_id: NameId::new("_n1"),
        name_qualifier: "q".into(),
        session_index: Some("_s1".into()),
    };
    let json = serde_json::to_string(&info).unwrap();
    assert_eq!(
        json,
        r#"{"idp":"https://idp.example","name_id":"_n1","name_qualifier":"q","session_index":"_s1"}"#
    );
    let back: SessionInfo = serde_json::from_str(&json).unwrap();
    assert_eq!(back, info);
    assert_eq!(
        serde_json::to_string(&AssertionId::new("_a")).unwrap(),
        r#""_a""#
    );
}

// ---------------------------------------------------------------------------------------
// xml::check, xml::canonicalize_document

#[test]
fn check_applies_the_reader_and_its_limits() {
    assert_eq!(xml::check("<a><b/></a>", &Limits::MESSAGE), Ok(()));
    assert_eq!(
        xml::check(
            "<!DOCTYPE a [<!ENTITY x \"y\">]><a>&x;</a>",
            &Limits::METADATA
        ),
        Err(XmlError::Dtd)
    );
    assert!(matches!(
        xml::check("<a>", &Limits::MESSAGE),
        Err(XmlError::Malformed(_))
    ));
    let deep = format!("{}{}", "<a>".repeat(40), "</a>".repeat(40));
    assert_eq!(
        xml::check(&deep, &Limits::MESSAGE),
        Err(XmlError::TooDeep { limit: 32 })
    );
    // Comment injection into a text value: refused for messages, legal for metadata.
    let injected = "<NameID>victim<!---->.evil</NameID>";
    assert_eq!(
        xml::check(injected, &Limits::MESSAGE),
        Err(XmlError::CommentInText)
    );
    assert_eq!(xml::check(injected, &Limits::METADATA), Ok(()));
}

fn xmllint_available() -> bool {
    common::tools_available(&["xmllint"], "libxml2-utils", "canonicalization oracle")
}

/// The whole-document exclusive canonical form, byte for byte as libxml2 makes it, on real
/// metadata (signed aggregate, eIDAS node, SPs' metadata) and on a signed test Response.
#[test]
fn canonicalize_document_matches_xmllint() {
    if !xmllint_available() {
        return;
    }
    let files = [
        "metadata/spid-entities-idps.xml",
        "metadata/eidas-ficep-idp-production.xml",
        "tests/data/metadata/cie-sp-public.xml",
        "tests/data/responses/acr-l1-for-l1-exact.xml",
        "tests/data/metadata/spid-sp-public.xml",
        "tests/data/idp-metadata.xml",
    ];
    for path in files {
        let text = std::fs::read_to_string(path).unwrap();
        // xmllint's --exc-c14n keeps comments; ours (as a signature's digest) drops them.
        assert!(
            !text.contains("<!--"),
            "{path}: the oracle needs a comment-free file"
        );
        let ours = xml::canonicalize_document(&text, &Limits::METADATA, &[]).unwrap();
        let out = Command::new("xmllint")
            .args(["--nonet", "--exc-c14n", path])
            .output()
            .unwrap();
        assert!(out.status.success(), "xmllint failed on {path}");
        assert!(
            ours == out.stdout,
            "{path}: canonical form differs from xmllint's"
        );
    }
    assert_eq!(
        xml::canonicalize_document("<!DOCTYPE a><a/>", &Limits::METADATA, &[]),
        Err(XmlError::Dtd)
    );
}

#[test]
fn canonicalize_document_honours_inclusive_prefixes() {
    let text = r#"<a xmlns:p="urn:p" xmlns:q="urn:q"><b/></a>"#;
    let plain = xml::canonicalize_document(text, &Limits::MESSAGE, &[]).unwrap();
    assert_eq!(plain, b"<a><b></b></a>");
    let inclusive = xml::canonicalize_document(text, &Limits::MESSAGE, &["p"]).unwrap();
    assert_eq!(inclusive, br#"<a xmlns:p="urn:p"><b></b></a>"#);
}

// ---------------------------------------------------------------------------------------
// dsig::verify_document

fn read(path: &str) -> Vec<u8> {
    std::fs::read(path).unwrap()
}

fn key(name: &str) -> SigningKey {
    let dir = "tests/data/keys";
    SigningKey::from_pem(
        &read(&format!("{dir}/{name}.key.pem")),
        &read(&format!("{dir}/{name}.crt.pem")),
    )
    .unwrap()
}

/// The eIDAS node's real metadata: signed with `Reference URI=""` (rsa-sha512) by the
/// node's tooling, verified against the pinned signer certificate.
#[test]
fn verify_document_on_the_eidas_node_metadata() {
    let text = std::fs::read_to_string("metadata/eidas-ficep-idp-production.xml").unwrap();
    let signer =
        VerificationKey::from_certificate_pem(&read("metadata/eidas-node-signer.pem")).unwrap();
    let whole_document = VerifyPolicy {
        allow_whole_document: true,
        ..VerifyPolicy::default()
    };
    let info = dsig::verify_document(
        &text,
        &Limits::METADATA,
        std::slice::from_ref(&signer),
        &whole_document,
    )
    .unwrap();
    assert_eq!(info.algorithm, SignatureAlgorithm::RsaSha512);
    assert_eq!(info.digest, DigestAlgorithm::Sha512);
    assert_eq!(info.key_index, 0);
    // `URI=""` is refused unless the policy allows it.
    assert_eq!(
        dsig::verify_document(
            &text,
            &Limits::METADATA,
            std::slice::from_ref(&signer),
            &VerifyPolicy::default()
        ),
        Err(DsigError::Reference)
    );
    // The key that verified is reported by its index in the list.
    let other = key("idp").verification_key().unwrap();
    assert_eq!(
        dsig::verify_document(&text, &Limits::METADATA, &[other, signer], &whole_document)
            .map(|i| i.key_index),
        Ok(1)
    );
}

#[test]
fn verify_document_on_our_signature() {
    let idp = key("idp");
    let keys = [idp.verification_key().unwrap()];
    let xml = r#"<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_lr1" Version="2.0" IssueInstant="2026-01-15T10:00:00Z"><saml:Issuer>https://idp.example</saml:Issuer><saml:NameID>_n1</saml:NameID></samlp:LogoutRequest>"#;
    let anchor = SignatureAnchor::After(saml::ASSERTION_NS, "Issuer");
    let signed = dsig::sign_enveloped(xml, &idp, SignatureAlgorithm::RsaSha256, anchor).unwrap();
    let policy = VerifyPolicy::default();
    let info = dsig::verify_document(&signed, &Limits::MESSAGE, &keys, &policy).unwrap();
    assert_eq!(info.algorithm, SignatureAlgorithm::RsaSha256);

    // Tampered content, wrong key, no key, no signature, refused document.
    let tampered = signed.replace(">_n1<", ">_n2<");
    assert_eq!(
        dsig::verify_document(&tampered, &Limits::MESSAGE, &keys, &policy),
        Err(DsigError::DigestMismatch)
    );
    let attacker = [key("attacker").verification_key().unwrap()];
    assert_eq!(
        dsig::verify_document(&signed, &Limits::MESSAGE, &attacker, &policy),
        Err(DsigError::Invalid)
    );
    assert_eq!(
        dsig::verify_document(&signed, &Limits::MESSAGE, &[], &policy),
        Err(DsigError::NoKey)
    );
    assert!(matches!(
        dsig::verify_document(xml, &Limits::MESSAGE, &keys, &policy),
        Err(DsigError::Malformed(_))
    ));
    let injected = signed.replace(">_n1<", ">_n1<!---->.evil<");
    assert!(matches!(
        dsig::verify_document(&injected, &Limits::MESSAGE, &keys, &policy),
        Err(DsigError::Malformed(_))
    ));
}
