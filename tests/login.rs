//! End to end on the library API: start_login → IdP (the test IdP's signer) → finish_login,
//! both bindings, refusals, replay, and single logout.

mod common;

use common::*;
use spid_sp::binding::redirect;
use spid_sp::dsig::{self, VerifyPolicy};
use spid_sp::fuzzing::tree;
use spid_sp::metadata::IdentityProvider;
use spid_sp::test_idp::ResponseSpec;
use spid_sp::xml::Limits;
use spid_sp::IdentityKey;
use spid_sp::{
    Binding, Delivery, Federation, FixedClock, Incoming, LoginError, LoginOptions, PendingLogin,
    RejectReason, ServiceProvider, SpConfig, SpidLevel,
};

fn citizen(spec: ResponseSpec) -> ResponseSpec {
    spec.attribute("fiscalNumber", "TINIT-RSSMRA80A01H501U")
        .attribute("name", "Mario")
        .attribute("familyName", "Rossi")
        .attribute("dateOfBirth", "1980-01-01")
}

#[test]
fn post_login_round_trip() {
    let w = world_at(now());
    let (out, pending) = w.sp.start_login(IDP, &LoginOptions::default()).unwrap();
    // The request is signed with the SP key and says what SPID requires.
    let Delivery::Post { action, field, .. } = out.delivery() else {
        panic!("post expected")
    };
    assert_eq!(action, "https://idp.local.test/sso");
    assert_eq!(*field, "SAMLRequest");
    let doc = tree::parse(out.xml(), &Limits::MESSAGE).unwrap();
    let root = doc.root_element();
    let sig = tree::find_signature(root).unwrap().unwrap();
    tree::verify_enveloped(
        root,
        sig,
        &[w.sp_key.verification_key().unwrap()],
        &VerifyPolicy::default(),
        &mut Vec::new(),
    )
    .unwrap();
    assert_eq!(root.attribute("ForceAuthn"), Some("true"));
    assert!(out.xml().contains("https://www.spid.gov.it/SpidL2"));
    assert!(out.html_form(None).unwrap().contains("name=\"RelayState\""));

    let spec = citizen(spec_for(&pending));
    let xml = w.idp.response(&spec).unwrap();
    let incoming = answer(&xml, &pending);
    let login = w.sp.finish_login(&incoming, pending.clone()).unwrap();
    assert_eq!(
        login.identity().fiscal_code().unwrap().as_str(),
        "RSSMRA80A01H501U"
    );
    assert_eq!(login.level(), SpidLevel::L2);
    assert_eq!(login.idp().as_str(), IDP);

    // The same response again: refused as a replay.
    assert_eq!(
        w.sp.finish_login(&incoming, pending).unwrap_err(),
        LoginError::Rejected(RejectReason::Replay)
    );
}

#[test]
fn redirect_request_signature_verifies() {
    let w = world_at(now());
    let opts = LoginOptions {
        binding: Binding::Redirect,
        level: SpidLevel::L1,
        ..LoginOptions::default()
    };
    let (out, _pending) = w.sp.start_login(IDP, &opts).unwrap();
    let url = out.redirect_url().unwrap();
    let (base, query) = url.split_once('?').unwrap();
    assert_eq!(base, "https://idp.local.test/sso");
    let msg = redirect::verify_query(query, &[w.sp_key.verification_key().unwrap()], 2048).unwrap();
    assert_eq!(msg.xml, out.xml());
    assert!(!msg.xml.contains("Signature"));
    assert!(
        !msg.xml.contains("ForceAuthn"),
        "L1 does not force re-authentication"
    );
}

#[test]
fn refusal_is_distinct_from_rejection() {
    let w = world_at(now());
    let (_, pending) = w.sp.start_login(IDP, &LoginOptions::default()).unwrap();
    let xml = w
        .idp
        .refusal(pending.request_id().as_str(), ACS, 22, now())
        .unwrap();
    match w.sp.finish_login(&answer(&xml, &pending), pending) {
        Err(LoginError::Refused(r)) => {
            assert_eq!(r.error_code(), Some(22));
            assert!(r.message_en().contains("consent"));
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn level_below_request_rejected_and_above_accepted() {
    let w = world_at(now());
    let (_, pending) = w.sp.start_login(IDP, &LoginOptions::default()).unwrap();
    let low = citizen(ResponseSpec::new(
        pending.request_id().as_str(),
        ACS,
        SP,
        SpidLevel::L1,
        now(),
    ));
    assert_eq!(
        w.sp.finish_login(&answer(&w.idp.response(&low).unwrap(), &pending), pending)
            .unwrap_err(),
        LoginError::Rejected(RejectReason::AuthnLevel)
    );
    let (_, pending) = w.sp.start_login(IDP, &LoginOptions::default()).unwrap();
    let high = citizen(ResponseSpec::new(
        pending.request_id().as_str(),
        ACS,
        SP,
        SpidLevel::L3,
        now(),
    ));
    let login =
        w.sp.finish_login(&answer(&w.idp.response(&high).unwrap(), &pending), pending)
            .unwrap();
    assert_eq!(login.level(), SpidLevel::L3);
}

#[test]
fn expired_request_and_late_response() {
    let w = world_at(now());
    let (_, pending) = w.sp.start_login(IDP, &LoginOptions::default()).unwrap();
    let spec = citizen(spec_for(&pending));
    let xml = w.idp.response(&spec).unwrap();
    // Ten minutes later the assertion (5 minutes) has expired.
    let w2 =
        w.sp.clone()
            .with_clock(std::sync::Arc::new(spid_sp::FixedClock(
                now().plus_seconds(600),
            )));
    assert_eq!(
        w2.finish_login(&answer(&xml, &pending), pending.clone())
            .unwrap_err(),
        LoginError::Rejected(RejectReason::SubjectNotOnOrAfter)
    );
    let w3 =
        w.sp.clone()
            .with_clock(std::sync::Arc::new(spid_sp::FixedClock(
                now().plus_seconds(3600),
            )));
    assert_eq!(
        w3.finish_login(&answer(&xml, &pending), pending)
            .unwrap_err(),
        LoginError::Rejected(RejectReason::RequestExpired)
    );
}

#[test]
fn missing_fiscal_code_is_rejected_by_default() {
    let w = world_at(now());
    let (_, pending) = w.sp.start_login(IDP, &LoginOptions::default()).unwrap();
    let spec = spec_for(&pending).attribute("name", "Mario");
    assert_eq!(
        w.sp.finish_login(&answer(&w.idp.response(&spec).unwrap(), &pending), pending)
            .unwrap_err(),
        LoginError::Rejected(RejectReason::IdentityKeyMissing)
    );
}

#[test]
fn sp_initiated_logout_both_bindings() {
    let w = world_at(now());
    let (_, pending) = w.sp.start_login(IDP, &LoginOptions::default()).unwrap();
    let spec = citizen(spec_for(&pending));
    let login =
        w.sp.finish_login(&answer(&w.idp.response(&spec).unwrap(), &pending), pending)
            .unwrap();
    for binding in [Binding::Redirect, Binding::Post] {
        let (out, pending_logout) = w.sp.start_logout(login.session(), binding).unwrap();
        assert!(out.xml().contains(login.session().name_id.as_str()));
        // The IdP answers with a signed LogoutResponse (built here by hand, signed with the
        // IdP key through the library's signer).
        let resp = format!(
            "<samlp:LogoutResponse xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"_lr1\" Version=\"2.0\" IssueInstant=\"{}\" Destination=\"{SLO}\" InResponseTo=\"{}\"><saml:Issuer>{IDP}</saml:Issuer><samlp:Status><samlp:StatusCode Value=\"urn:oasis:names:tc:SAML:2.0:status:Success\"/></samlp:Status></samlp:LogoutResponse>",
            now(),
            pending_logout.request_id()
        );
        let incoming = match binding {
            Binding::Redirect => Incoming::Redirect {
                query: redirect::signed_query(
                    "SAMLResponse",
                    &resp,
                    None,
                    w.idp.key(),
                    dsig::SignatureAlgorithm::RsaSha256,
                )
                .unwrap(),
            },
            _ => post(
                &dsig::sign_enveloped(
                    &resp,
                    w.idp.key(),
                    dsig::SignatureAlgorithm::RsaSha256,
                    dsig::SignatureAnchor::After("urn:oasis:names:tc:SAML:2.0:assertion", "Issuer"),
                )
                .unwrap(),
                None,
            ),
        };
        assert_eq!(
            w.sp.finish_logout(&incoming, pending_logout).unwrap(),
            spid_sp::LogoutOutcome::Complete
        );
    }
}

#[test]
fn idp_initiated_logout_is_verified_and_answered() {
    let w = world_at(now());
    let req = format!(
        "<samlp:LogoutRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"_idpreq1\" Version=\"2.0\" IssueInstant=\"{}\" Destination=\"{SLO}\"><saml:Issuer>{IDP}</saml:Issuer><saml:NameID Format=\"urn:oasis:names:tc:SAML:2.0:nameid-format:transient\" NameQualifier=\"{IDP}\">_n1</saml:NameID><samlp:SessionIndex>_s1</samlp:SessionIndex></samlp:LogoutRequest>",
        now()
    );
    let query = redirect::signed_query(
        "SAMLRequest",
        &req,
        Some("rs1"),
        w.idp.key(),
        dsig::SignatureAlgorithm::RsaSha256,
    )
    .unwrap();
    let incoming = Incoming::Redirect {
        query: query.clone(),
    };
    let (info, out) =
        w.sp.handle_logout_request(&incoming, Binding::Redirect)
            .unwrap();
    assert_eq!(info.name_id.as_str(), "_n1");
    assert_eq!(info.session_indexes, vec!["_s1".to_owned()]);
    let url = out.redirect_url().unwrap();
    let (_, q) = url.split_once('?').unwrap();
    let answer = redirect::verify_query(q, &[w.sp_key.verification_key().unwrap()], 2048).unwrap();
    assert!(answer.xml.contains("InResponseTo=\"_idpreq1\""));
    assert_eq!(answer.relay_state.as_deref(), Some("rs1"));
    // Replayed: refused.
    assert_eq!(
        w.sp.handle_logout_request(&incoming, Binding::Redirect)
            .unwrap_err(),
        RejectReason::Replay
    );
    // Signed by someone else: refused.
    let forged = redirect::signed_query(
        "SAMLRequest",
        &req.replace("_idpreq1", "_idpreq2"),
        None,
        &w.sp_key,
        dsig::SignatureAlgorithm::RsaSha256,
    )
    .unwrap();
    assert_eq!(
        w.sp.handle_logout_request(&Incoming::Redirect { query: forged }, Binding::Redirect)
            .unwrap_err()
            .code(),
        "signature-invalid"
    );
}

#[test]
fn relay_state_must_come_back_as_sent() {
    let w = world_at(now());
    let success = |pending: &PendingLogin| {
        let spec = citizen(spec_for(pending));
        w.idp.response(&spec).unwrap()
    };
    // Missing (the request carried one: SAML bindings 3.5.3, the IdP must return it).
    let (_, pending) = w.sp.start_login(IDP, &LoginOptions::default()).unwrap();
    assert_eq!(
        w.sp.finish_login(&post(&success(&pending), None), pending)
            .unwrap_err(),
        LoginError::Rejected(RejectReason::RelayState)
    );
    // Missing on a refusal too: it is not shown as the IdP's answer to this request.
    let (_, pending) = w.sp.start_login(IDP, &LoginOptions::default()).unwrap();
    let refusal = w
        .idp
        .refusal(pending.request_id().as_str(), ACS, 22, now())
        .unwrap();
    assert_eq!(
        w.sp.finish_login(&post(&refusal, None), pending)
            .unwrap_err(),
        LoginError::Rejected(RejectReason::RelayState)
    );
    // Different, or empty.
    for other in ["someone-else", ""] {
        let (_, pending) = w.sp.start_login(IDP, &LoginOptions::default()).unwrap();
        assert_eq!(
            w.sp.finish_login(&post(&success(&pending), Some(other)), pending)
                .unwrap_err(),
            LoginError::Rejected(RejectReason::RelayState),
            "{other:?}"
        );
    }
    // As sent.
    let (_, pending) = w.sp.start_login(IDP, &LoginOptions::default()).unwrap();
    let login =
        w.sp.finish_login(&answer(&success(&pending), &pending), pending.clone())
            .unwrap();
    assert_eq!(login.relay_state(), pending.relay_state());
}

/// An SP trusting the world's test IdP, registered as a member of `federation`.
fn sp_with_federation(w: &World, federation: Federation) -> ServiceProvider {
    let config = SpConfig::builder(SP, w.sp_key.clone())
        .assertion_consumer_service(ACS)
        .attribute_service(0, "Servizi", &["fiscalNumber", "spidCode", "name"])
        .attribute_service(99, "eIDAS", &["fiscalNumber", "spidCode", "name"])
        .build()
        .unwrap();
    let idps = IdentityProvider::from_metadata(&w.idp.metadata(IDP))
        .unwrap()
        .into_iter()
        .map(|i| i.with_federation(federation));
    ServiceProvider::new(config, idps)
        .unwrap()
        .with_clock(std::sync::Arc::new(FixedClock(now())))
}

#[test]
fn eidas_identity_only_from_the_eidas_node() {
    let w = world_at(now());
    let foreigner = |pending: &PendingLogin, fiscal: bool| {
        let mut spec = spec_for(pending)
            .attribute("spidCode", "DE/IT/a1b2c3d4e5f6")
            .attribute("name", "Erika");
        if fiscal {
            spec = spec.attribute("fiscalNumber", "TINIT-RSSMRA80A01H501U");
        }
        answer(&w.idp.response(&spec).unwrap(), pending)
    };
    // A SPID or CIE IdP cannot make an eIDAS identity, whatever its spidCode looks like.
    for federation in [Federation::Spid, Federation::Cie] {
        let sp = sp_with_federation(&w, federation);
        let (_, pending) = sp.start_login(IDP, &LoginOptions::default()).unwrap();
        assert_eq!(
            sp.finish_login(&foreigner(&pending, false), pending)
                .unwrap_err(),
            LoginError::Rejected(RejectReason::IdentityKeyMissing),
            "{federation:?}"
        );
        // With a fiscal code, that is the key.
        let (_, pending) = sp.start_login(IDP, &LoginOptions::default()).unwrap();
        let login = sp
            .finish_login(&foreigner(&pending, true), pending)
            .unwrap();
        assert!(
            matches!(login.key(), Some(IdentityKey::FiscalCode(_))),
            "{federation:?}"
        );
        assert_eq!(login.federation(), federation);
    }
    // The eIDAS node does.
    let sp = sp_with_federation(&w, Federation::Eidas);
    let (_, pending) = sp.start_login(IDP, &LoginOptions::default()).unwrap();
    let login = sp
        .finish_login(&foreigner(&pending, false), pending)
        .unwrap();
    assert_eq!(login.federation(), Federation::Eidas);
    assert_eq!(
        login.identity().eidas_id().map(|i| i.as_str()),
        Some("DE/IT/a1b2c3d4e5f6")
    );
}

/// The IdP set is swapped while logins are in flight (a registry refresh): a login to an
/// IdP still trusted completes — also when its key rotated and the new metadata lists both
/// keys — an IdP removed is refused at once, and every clone of the SP sees the new set.
#[test]
fn idp_set_swaps_while_logins_are_in_flight() {
    use spid_sp::metadata::IdentityProvider;
    use spid_sp::test_idp::TestIdp;
    let w = world_at(now());
    let clone = w.sp.clone();
    const OTHER: &str = "https://other.idp.test";
    let other = TestIdp::new(OTHER, keypair("other", 2048));
    let a = IdentityProvider::from_metadata(&w.idp.metadata(IDP)).unwrap();
    let b = IdentityProvider::from_metadata(&other.metadata(OTHER)).unwrap();
    w.sp.idp_set()
        .replace(a.iter().cloned().chain(b.iter().cloned()))
        .unwrap();
    assert_eq!(clone.idps().len(), 2);

    let opts = LoginOptions::default();
    let (_, pending_a) = w.sp.start_login(IDP, &opts).unwrap();
    let (_, pending_b) = w.sp.start_login(OTHER, &opts).unwrap();
    let signed_answer = |idp: &TestIdp, pending: &spid_sp::PendingLogin| {
        let spec = citizen(spec_for(pending));
        answer(&idp.response(&spec).unwrap(), pending)
    };
    let response_a = signed_answer(&w.idp, &pending_a);
    let response_b = signed_answer(&other, &pending_b);

    // The refresh: A rotates its key (old and new listed), B leaves the federation.
    let rotated = TestIdp::new(IDP, keypair("idp-2027", 2048));
    let old_key = a[0].keys()[0].clone();
    let a2 = IdentityProvider::from_metadata(&rotated.metadata(IDP)).unwrap();
    let mut keys = a2[0].keys().to_vec();
    keys.push(old_key);
    let mut a_rotated = IdentityProvider::new(IDP, keys);
    for e in a2[0].sso_endpoints() {
        a_rotated = a_rotated.with_sso(e.binding, e.location.clone());
    }
    clone.idp_set().replace([a_rotated]).unwrap();

    // In flight at A: completes (signed with the old key, still listed).
    let login = w.sp.finish_login(&response_a, pending_a).unwrap();
    assert_eq!(login.idp().as_str(), IDP);
    // In flight at B: refused at once, and no new login starts there.
    assert_eq!(
        w.sp.finish_login(&response_b, pending_b).unwrap_err(),
        LoginError::Rejected(RejectReason::UnknownIdp)
    );
    assert!(w.sp.start_login(OTHER, &opts).is_err());
    assert!(w.sp.idp(OTHER).is_none());
    // A duplicate entityID is refused and leaves the set as it was.
    assert!(w
        .sp
        .idp_set()
        .replace(a.iter().cloned().chain(a.iter().cloned()))
        .is_err());
    assert_eq!(w.sp.idps().len(), 1);
}

/// `Debug` of what holds personal data or raw messages is redacted: a login printed with
/// `{:?}` (as a careless `tracing::debug!` would) shows no attribute value, no NameID
/// and no XML.
#[test]
fn debug_output_carries_no_personal_data() {
    let w = world_at(now());
    let (_, pending) = w.sp.start_login(IDP, &LoginOptions::default()).unwrap();
    let spec = citizen(spec_for(&pending));
    let name_id = spec.name_id.clone();
    let xml = w.idp.response(&spec).unwrap();
    let login = w.sp.finish_login(&answer(&xml, &pending), pending).unwrap();
    let printed = [
        format!("{login:?}"),
        format!("{login:#?}"),
        format!("{:?}", login.identity()),
        format!("{:?}", login.key()),
        format!("{:?}", login.session()),
        format!("{:?}", login.identity().attributes()),
    ];
    for text in &printed {
        for secret in [
            "RSSMRA80A01H501U",
            "Mario",
            "Rossi",
            "1980-01-01",
            name_id.as_str(),
            "<saml",
        ] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
    }
    assert!(printed[0].contains("fiscal-code"), "{}", printed[0]);
    assert!(printed[5].contains("fiscalNumber"), "{}", printed[5]);
}
