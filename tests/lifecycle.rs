//! Registry lifecycle and SP key rollover (issue 14, parts 2 and 3): the refresher
//! against a loopback HTTP server (a moved endpoint, SAML and JSON sources, IdPs added
//! and removed and a key rotated while the SP serves logins, expiry events at the
//! configured horizon), two-key SP metadata through a rollover, and the CLI's `registry
//! diff`, `metadata diff` and `metadata drift`.

mod common;

use common::{answer, keypair, keypair_until, now, post, spec_for, ACS, SLO, SP};
use openssl::hash::MessageDigest;
use spid_sp::dsig::{sign_enveloped, SignatureAlgorithm, SignatureAnchor};
use spid_sp::metadata::{
    check_sp_metadata_at, diff_idps, diff_sp_metadata, sp_certificate_events, Contact,
    IdentityProvider, Organization, RegistryEvent, Severity, SpMetadata, SpMetadataSection,
    SpProfile,
};
use spid_sp::test_idp::{ResponseSpec, TestIdp};
use spid_sp::{
    Binding, ConfigError, FixedClock, LoginError, LoginOptions, RejectReason, ServiceProvider,
    SigningKey, SpConfig, Timestamp,
};
use std::sync::Arc;

fn days(n: i64) -> i64 {
    now().unix_seconds() + n * 86_400
}

/// An IdP's metadata listing `extra`'s certificate as a second signing key (a rotation
/// in progress: the new key published beside the old one).
fn with_second_key(idp: &TestIdp, extra: &SigningKey) -> String {
    let md = idp.metadata(idp.entity_id());
    let kd = format!(
        "<md:KeyDescriptor use=\"signing\"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>",
        extra.certificate_base64()
    );
    md.replacen(
        "</md:KeyDescriptor>",
        &format!("</md:KeyDescriptor>{kd}"),
        1,
    )
}

/// A signed `md:EntitiesDescriptor` of `entities` (EntityDescriptor strings).
fn aggregate(signer: &SigningKey, entities: &[String]) -> Vec<u8> {
    let xml = format!(
        "<md:EntitiesDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" ID=\"_agg\">{}</md:EntitiesDescriptor>",
        entities.concat()
    );
    sign_enveloped(
        &xml,
        signer,
        SignatureAlgorithm::RsaSha256,
        SignatureAnchor::First,
    )
    .unwrap()
    .into_bytes()
}

fn sp_config(key: SigningKey) -> spid_sp::SpConfigBuilder {
    SpConfig::builder(SP, key)
        .assertion_consumer_service(ACS)
        .attribute_service(0, "Servizi", &["fiscalNumber", "name", "familyName"])
        .logout_service(Binding::Redirect, SLO)
        .logout_service(Binding::Post, SLO)
}

/// The metadata of a public SPID SP called `name` at `www.{site}` (contact
/// `spid@{site}`, IPA code `c_x000`).
fn public_sp_metadata(name: &str, site: &str, phone: Option<&str>) -> SpMetadata {
    SpMetadata::new(
        SpProfile::SpidPublic,
        Organization {
            name: name.into(),
            display_name: name.into(),
            url: format!("https://www.{site}"),
            ..Default::default()
        },
        Contact {
            email: format!("spid@{site}"),
            phone: phone.map(str::to_owned),
            ipa_code: Some("c_x000".into()),
            ..Default::default()
        },
    )
}

/// The SP configuration signing with `signing`, publishing `published` too.
fn rollover_config(signing: &SigningKey, published: Option<&SigningKey>) -> SpConfig {
    let mut b = sp_config(signing.clone());
    if let Some(p) = published {
        b = b.also_publish(p.certificate());
    }
    b.build().unwrap()
}

fn citizen(spec: ResponseSpec) -> ResponseSpec {
    spec.attribute("fiscalNumber", "TINIT-RSSMRA80A01H501U")
        .attribute("name", "Mario")
        .attribute("familyName", "Rossi")
}

#[test]
fn diff_of_idp_sets_names_every_change() {
    let a = TestIdp::new("https://a.idp.test", keypair("a", 2048));
    let b = TestIdp::new("https://b.idp.test", keypair("b", 2048));
    let a2 = keypair("a-2027", 2048);
    let old: Vec<IdentityProvider> = [&a, &b]
        .iter()
        .flat_map(|i| IdentityProvider::from_metadata(&i.metadata(i.entity_id())).unwrap())
        .collect();
    let moved = a
        .metadata(a.entity_id())
        .replace("https://a.idp.test/sso", "https://a.idp.test/new-sso");
    let new = IdentityProvider::from_metadata(&with_second_key(&a, &a2)).unwrap();
    let events = diff_idps(&old, &new);
    assert!(events.contains(&RegistryEvent::IdpRemoved {
        entity_id: "https://b.idp.test".into(),
        federation: old[1].federation()
    }));
    assert!(events
        .iter()
        .any(|e| matches!(e, RegistryEvent::KeyAdded { entity_id, key } if entity_id == "https://a.idp.test" && key.subject == "CN=a-2027")));
    assert_eq!(events.len(), 2, "{events:?}");
    let moved = IdentityProvider::from_metadata(&moved).unwrap();
    assert_eq!(
        diff_idps(&old[..1], &moved),
        vec![RegistryEvent::EndpointsChanged {
            entity_id: "https://a.idp.test".into()
        }]
    );
    assert!(diff_idps(&old, &old).is_empty());
    for e in &events {
        assert!(!e.to_string().is_empty() && !e.code().is_empty());
        assert!(!e.needs_attention());
    }
}

/// Two signing keys in the SP metadata through a rollover: the new key published beside
/// the old one, signing switched, the old one removed; each step checked by the metadata
/// checker, by the test IdP (requests signed with the new key verify against the
/// metadata of the first step), and by the semantic diff.
#[test]
fn sp_key_rollover_publishes_two_keys_then_switches() {
    let old_key = keypair("sp-2025", 2048);
    let new_key = keypair("sp-2027", 2048);
    let metadata = public_sp_metadata("Comune di Prova", "comune.prova.it", Some("+390612345678"));
    let step = |signing: &SigningKey, published: Option<&SigningKey>| {
        let config = rollover_config(signing, published);
        (metadata.to_xml_at(&config, now()).unwrap(), config)
    };
    let (before, _) = step(&old_key, None);
    let (step1, _) = step(&old_key, Some(&new_key));
    let (step2, config2) = step(&new_key, Some(&old_key));
    let (step3, _) = step(&new_key, None);
    for (name, xml) in [("step1", &step1), ("step2", &step2)] {
        assert_eq!(
            xml.matches("<md:KeyDescriptor use=\"signing\">").count(),
            2,
            "{name}"
        );
        let errors: Vec<_> = check_sp_metadata_at(xml, SpProfile::SpidPublic, now())
            .into_iter()
            .filter(|p| p.severity == Severity::Error)
            .collect();
        assert!(errors.is_empty(), "{name}: {errors:?}");
    }
    // The IdP loaded step 1: a request signed with the new key (after the switch) verifies.
    let idp = TestIdp::new("https://idp.local.test", keypair("idp", 2048));
    let trusted = spid_sp::test_idp::TrustedSp::from_metadata(&step1).unwrap();
    assert_eq!(trusted.keys().len(), 2);
    let idp_md = IdentityProvider::from_metadata(&idp.metadata("https://idp.local.test")).unwrap();
    let sp = ServiceProvider::new(config2, idp_md)
        .unwrap()
        .with_clock(Arc::new(FixedClock(now())));
    let (out, _) = sp
        .start_login("https://idp.local.test", &LoginOptions::default())
        .unwrap();
    let incoming = post(out.xml(), None);
    idp.verify_authn_request(&[trusted], &incoming, "https://idp.local.test/sso", now())
        .unwrap();
    // Only the bare metadata (old key alone) refuses it.
    let only_old = spid_sp::test_idp::TrustedSp::from_metadata(&before).unwrap();
    assert!(idp
        .verify_authn_request(&[only_old], &incoming, "https://idp.local.test/sso", now())
        .is_err());

    // By meaning: step 1 adds a key, the switch changes nothing, step 3 removes the old.
    let d = diff_sp_metadata(&before, &step1).unwrap();
    assert_eq!(d.len(), 1, "{d:?}");
    assert!(
        d[0].added && d[0].section == SpMetadataSection::Keys && d[0].fact.contains("CN=sp-2027")
    );
    assert!(diff_sp_metadata(&step1, &step2).unwrap().is_empty());
    assert_ne!(step1, step2);
    let d = diff_sp_metadata(&step2, &step3).unwrap();
    assert!(
        d.len() == 1 && !d[0].added && d[0].fact.contains("CN=sp-2025"),
        "{d:?}"
    );

    // Refused: publishing the signing certificate, a short key, more than three.
    let err = |b: spid_sp::SpConfigBuilder| b.build().unwrap_err();
    assert!(matches!(
        err(sp_config(old_key.clone()).also_publish(old_key.certificate())),
        ConfigError::Invalid(_)
    ));
    assert!(matches!(
        err(sp_config(old_key.clone()).also_publish(keypair("short", 1024).certificate())),
        ConfigError::Invalid(_)
    ));
    let mut b = sp_config(old_key.clone());
    for i in 0..4 {
        b = b.also_publish(keypair(&format!("k{i}"), 2048).certificate());
    }
    assert!(matches!(err(b), ConfigError::Invalid(_)));
}

/// The rollover's two metadata documents with Avviso 29 v3 certificates (old key signing
/// with the new one published; then the reverse), written to
/// `target/sp-metadata/spid-sp-public-rollover-{1,2}.xml` for
/// tests/conformance-metadata.sh, which runs AgID's spid-sp-test on them.
#[test]
fn rollover_sample_for_spid_sp_test() {
    use spid_sp::certificates::{generate_self_signed_at, CertificateRequest, Sector};
    const ENTITY: &str = "https://servizi.comune.esempio.it/spid";
    let mut req = CertificateRequest::new(
        Sector::Public,
        "Comune di Esempio",
        "Comune di Esempio",
        ENTITY,
        "PA:IT-c_x000",
        "Roma",
    );
    req.key_bits = 2048;
    let key = || {
        let (k, c) = generate_self_signed_at(&req, now()).unwrap();
        SigningKey::new(k, c).unwrap()
    };
    let (old_key, new_key) = (key(), key());
    let metadata = public_sp_metadata(
        "Comune di Esempio",
        "comune.esempio.it",
        Some("+390612345678"),
    );
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    let dir = target.join("sp-metadata");
    std::fs::create_dir_all(&dir).unwrap();
    for (step, signing, published) in [(1, &old_key, &new_key), (2, &new_key, &old_key)] {
        let config = SpConfig::builder(ENTITY, signing.clone())
            .assertion_consumer_service(format!("{ENTITY}/acs"))
            .logout_service(Binding::Redirect, format!("{ENTITY}/slo"))
            .logout_service(Binding::Post, format!("{ENTITY}/slo"))
            .attribute_service(0, "Servizi online", &["fiscalNumber", "name", "familyName"])
            .also_publish(published.certificate())
            .build()
            .unwrap();
        let xml = metadata.to_xml_at(&config, now()).unwrap();
        let problems = check_sp_metadata_at(&xml, SpProfile::SpidPublic, now());
        assert!(problems.is_empty(), "step {step}: {problems:?}");
        std::fs::write(dir.join(format!("spid-sp-public-rollover-{step}.xml")), xml).unwrap();
    }
}

#[test]
fn sp_certificate_expiry_fires_at_the_horizon() {
    let key = keypair_until("sp-expiring", days(20));
    let vk = key.verification_key().unwrap();
    let events = sp_certificate_events([&vk], now(), 30 * 86_400);
    assert!(
        matches!(&events[..], [RegistryEvent::SpCertificateExpiring { days_left: 20, key }] if key.subject == "CN=sp-expiring"),
        "{events:?}"
    );
    assert!(events[0].needs_attention());
    assert!(sp_certificate_events([&vk], now(), 19 * 86_400).is_empty());
    let expired = sp_certificate_events([&vk], Timestamp::from_unix_seconds(days(25)), 0);
    assert!(matches!(
        &expired[..],
        [RegistryEvent::SpCertificateExpiring { days_left: -5, .. }]
    ));
    assert!(expired[0].to_string().contains("expired 5 day(s) ago"));
}

#[cfg(feature = "refresh")]
mod refresher {
    use super::*;
    use spid_sp::metadata::{
        FetchError, Fetcher, IdpList, MetadataSource as Src, PlainHttp, Refresher, Registry,
        RegistryTrust,
    };
    use std::collections::HashMap;
    use std::io::{Read, Write};
    use std::net::TcpListener;
    use std::sync::Mutex;
    use std::time::Duration;

    /// What a route answers: status, extra header lines, body.
    type Answer = (u16, String, Vec<u8>);
    type Routes = Arc<Mutex<HashMap<String, Answer>>>;

    /// A tiny HTTP/1.1 server on 127.0.0.1 whose routes the test changes between
    /// refreshes; the request line's path (with its query) picks the route.
    fn serve() -> (String, Routes) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let routes: Routes = Arc::new(Mutex::new(HashMap::new()));
        let r = routes.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let routes = r.clone();
                std::thread::spawn(move || {
                    let mut buf = [0u8; 4096];
                    let n = stream.read(&mut buf).unwrap_or(0);
                    let req = String::from_utf8_lossy(&buf[..n]);
                    let path = req.split_whitespace().nth(1).unwrap_or("/").to_owned();
                    let (status, headers, body) = routes
                        .lock()
                        .unwrap()
                        .get(&path)
                        .cloned()
                        .unwrap_or((404, String::new(), b"not found".to_vec()));
                    let head = format!(
                        "HTTP/1.1 {status} X\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = stream.write_all(head.as_bytes());
                    let _ = stream.write_all(&body);
                });
            }
        });
        (base, routes)
    }

    fn set(routes: &Routes, path: &str, status: u16, headers: &str, body: Vec<u8>) {
        routes
            .lock()
            .unwrap()
            .insert(path.to_owned(), (status, headers.to_owned(), body));
    }

    /// [`serve`] with a registry (its own key, pinned by the trust returned) publishing
    /// the IdP `https://a.idp.test` at `/entities-idp`: the trust, the base URL, the routes.
    fn serve_idp_a() -> (RegistryTrust, String, Routes) {
        let registry_key = keypair("registry", 2048);
        let trust = RegistryTrust::new().with_spid_pin(registry_key.verification_key().unwrap());
        let a = TestIdp::new("https://a.idp.test", keypair("a", 2048));
        let (base, routes) = serve();
        set(
            &routes,
            "/entities-idp",
            200,
            "",
            aggregate(&registry_key, &[a.metadata(a.entity_id())]),
        );
        (trust, base, routes)
    }

    fn fetcher() -> Fetcher {
        Fetcher::new(Duration::from_secs(5)).allow_plain_http(PlainHttp::OnlyForLoopbackTests)
    }

    /// The registry endpoint moved: the old URL redirects, the refresher follows it and
    /// says so; redirects leaving the https rule, loops and unusable Locations are
    /// refused, and a source whose every URL fails keeps its last good copy.
    #[test]
    fn a_moved_endpoint_is_followed_and_reported() {
        let (trust, base, routes) = serve_idp_a();
        set(
            &routes,
            "/metadata/idp/spid-entities-idps.xml",
            301,
            "Location: /entities-idp\r\n",
            Vec::new(),
        );
        set(
            &routes,
            "/away",
            302,
            "Location: http://registry.example.org/entities-idp\r\n",
            Vec::new(),
        );
        set(&routes, "/loop", 302, "Location: /loop\r\n", Vec::new());
        set(
            &routes,
            "/relative",
            302,
            "Location: entities-idp\r\n",
            Vec::new(),
        );
        let old_url = format!("{base}/metadata/idp/spid-entities-idps.xml");

        let mut r = Refresher::new(Registry::new(trust), fetcher())
            .source(Src::SpidRegistry, [old_url.clone()]);
        let report = r.refresh(now());
        assert!(report.changed);
        assert!(
            report.events.contains(&RegistryEvent::SourceRedirected {
                origin: Some(Src::SpidRegistry),
                from: old_url.clone(),
                to: format!("{base}/entities-idp"),
            }),
            "{:?}",
            report.events
        );
        assert!(r.registry().idp("https://a.idp.test").is_some());

        // Plain http is for loopback tests only, on every hop; loops and relative
        // Locations are refused.
        let f = fetcher();
        assert_eq!(
            f.fetch(&format!("{base}/away")).unwrap_err(),
            FetchError::PlainHttp
        );
        assert_eq!(
            f.fetch(&format!("{base}/loop")).unwrap_err(),
            FetchError::TooManyRedirects
        );
        assert_eq!(
            f.fetch(&format!("{base}/relative")).unwrap_err(),
            FetchError::BadRedirect
        );
        // Unsigned sources (CIE) are fetched over https only, redirects included.
        assert_eq!(
            f.fetch_https(&old_url).unwrap_err(),
            FetchError::InsecureUnsigned
        );

        // Every URL fails: the last good copy stays, and the failure is an event that
        // names each URL.
        let mut r = r.source(Src::SpidRegistry, [format!("{base}/away")]);
        set(
            &routes,
            "/metadata/idp/spid-entities-idps.xml",
            500,
            "",
            Vec::new(),
        );
        let report = r.refresh(now());
        assert!(!report.changed);
        let failure = report
            .events
            .iter()
            .find_map(|e| match e {
                RegistryEvent::RefreshFailed {
                    origin: Some(Src::SpidRegistry),
                    reason,
                } => Some(reason.clone()),
                _ => None,
            })
            .unwrap();
        assert!(
            failure.contains("500") && failure.contains("https"),
            "{failure}"
        );
        assert!(r.registry().idp("https://a.idp.test").is_some());
    }

    /// The signed SAML aggregate and the unsigned JSON list: the list names IdPs (only
    /// those the signed aggregate lists) and is cross-checked; an entity only the JSON
    /// lists is reported and never trusted; a malformed list keeps the previous one.
    #[test]
    fn json_list_names_and_cross_checks_but_never_adds_trust() {
        let registry_key = keypair("registry", 2048);
        let trust = RegistryTrust::new().with_spid_pin(registry_key.verification_key().unwrap());
        let unnamed = |i: &TestIdp| {
            let md = i.metadata(i.entity_id());
            let start = md.find("<md:Organization>").unwrap();
            let end = md.find("</md:Organization>").unwrap() + "</md:Organization>".len();
            format!("{}{}", &md[..start], &md[end..])
        };
        let a = TestIdp::new("https://a.idp.test", keypair("a", 2048));
        let b = TestIdp::new("https://b.idp.test", keypair("b", 2048));
        let (base, routes) = serve();
        set(
            &routes,
            "/entities-idp",
            200,
            "",
            aggregate(&registry_key, &[unnamed(&a), unnamed(&b)]),
        );
        let json = r#"[
          {"entity_id": "https://a.idp.test", "organization_name": "A S.p.A.", "logo_uri": "https://cdn.example/a.svg",
           "registry_link": "https://registry.example/entities-idp/https%3A%2F%2Fa.idp.test?output=json"},
          {"entity_id": "https://ghost.idp.test", "organization_name": "Ghost", "extra": 1}
        ]"#;
        set(
            &routes,
            "/entities-idp?&output=json",
            200,
            "Content-Type: application/json\r\n",
            json.as_bytes().to_vec(),
        );
        let set_ = spid_sp::IdpSet::new(Vec::new()).unwrap();
        let mut r = Refresher::new(Registry::new(trust), fetcher())
            .source(Src::SpidRegistry, [format!("{base}/entities-idp")])
            .idp_list([format!("{base}/entities-idp?&output=json")])
            .updating(set_.clone());
        let report = r.refresh(now());
        assert!(
            report
                .events
                .contains(&RegistryEvent::ListedButNotVerified {
                    entity_id: "https://ghost.idp.test".into()
                }),
            "{:?}",
            report.events
        );
        assert!(report
            .events
            .contains(&RegistryEvent::VerifiedButNotListed {
                entity_id: "https://b.idp.test".into()
            }));
        assert!(set_.get("https://ghost.idp.test").is_none());
        assert_eq!(set_.len(), 2);
        assert_eq!(
            set_.get("https://a.idp.test").unwrap().display_name(),
            Some("A S.p.A.")
        );
        assert_eq!(set_.get("https://b.idp.test").unwrap().display_name(), None);
        assert_eq!(r.idp_list_in_use().unwrap().entries().len(), 2);

        // A malformed list: an event, the previous list stays.
        set(
            &routes,
            "/entities-idp?&output=json",
            200,
            "",
            br#"{"not": "a list"}"#.to_vec(),
        );
        let report = r.refresh(now());
        assert!(report
            .events
            .iter()
            .any(|e| matches!(e, RegistryEvent::RefreshFailed { origin: None, .. })));
        assert_eq!(r.idp_list_in_use().unwrap().entries().len(), 2);
        assert!(!report.changed);

        // The parser's bounds and shapes.
        assert!(IdpList::parse(b"[{\"entity_id\": 3}]").is_err());
        assert!(IdpList::parse(b"[{\"organization_name\": \"x\"}]").is_err());
        assert!(IdpList::parse(br#"[{"entity_id":"x"},{"entity_id":"x"}]"#).is_err());
        assert!(IdpList::parse(&vec![b' '; 2 * 1024 * 1024]).is_err());
        assert!(IdpList::parse(b"\xff").is_err());
    }

    /// While the SP serves logins, the registry adds an IdP, removes one and rotates a
    /// key: a login in flight at a kept IdP completes (its old key is still listed), a
    /// login in flight at the removed IdP is refused, and once the old key is dropped a
    /// Response signed with it is refused.
    #[test]
    fn idps_added_removed_and_key_rotated_while_serving_logins() {
        let registry_key = keypair("registry", 2048);
        let trust = RegistryTrust::new().with_spid_pin(registry_key.verification_key().unwrap());
        let a = TestIdp::new("https://a.idp.test", keypair("a-2025", 2048));
        let a_next = keypair("a-2027", 2048);
        let a_rotated = TestIdp::new("https://a.idp.test", a_next.clone());
        let b = TestIdp::new("https://b.idp.test", keypair("b", 2048));
        let c = TestIdp::new("https://c.idp.test", keypair("c", 2048));
        let (base, routes) = serve();
        let url = format!("{base}/entities-idp");
        let publish = |entities: &[String]| {
            set(
                &routes,
                "/entities-idp",
                200,
                "",
                aggregate(&registry_key, entities),
            )
        };
        publish(&[a.metadata(a.entity_id()), b.metadata(b.entity_id())]);

        let sp = ServiceProvider::new(sp_config(keypair("sp", 2048)).build().unwrap(), Vec::new())
            .unwrap()
            .with_clock(Arc::new(FixedClock(now())));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let seen2 = seen.clone();
        let mut r = Refresher::new(Registry::new(trust), fetcher())
            .source(Src::SpidRegistry, [url])
            .updating(sp.idp_set().clone())
            .on_event(move |e| seen2.lock().unwrap().push(e.code()));
        let first = r.refresh(now());
        assert_eq!(
            first
                .events
                .iter()
                .filter(|e| matches!(e, RegistryEvent::IdpAdded { .. }))
                .count(),
            2
        );
        assert_eq!(sp.idps().len(), 2);

        let opts = LoginOptions::default();
        let (_, pending_a) = sp.start_login("https://a.idp.test", &opts).unwrap();
        let (_, pending_b) = sp.start_login("https://b.idp.test", &opts).unwrap();
        let signed_answer = |idp: &TestIdp, pending: &spid_sp::PendingLogin| {
            let spec = citizen(spec_for(pending));
            answer(&idp.response(&spec).unwrap(), pending)
        };
        let response_a = signed_answer(&a, &pending_a);
        let response_b = signed_answer(&b, &pending_b);

        // The registry changes: A publishes its next key beside the old, B leaves, C joins.
        publish(&[with_second_key(&a, &a_next), c.metadata(c.entity_id())]);
        let report = r.refresh(now());
        assert!(report.changed);
        let codes: Vec<&str> = report.events.iter().map(RegistryEvent::code).collect();
        assert_eq!(
            codes,
            ["idp-removed", "key-added", "idp-added"],
            "{:?}",
            report.events
        );
        assert!(seen
            .lock()
            .unwrap()
            .ends_with(&["idp-removed", "key-added", "idp-added"]));

        // In flight at A: completes. In flight at B: refused, and B cannot be chosen.
        let login = sp.finish_login(&response_a, pending_a).unwrap();
        assert_eq!(login.idp().as_str(), "https://a.idp.test");
        assert_eq!(
            sp.finish_login(&response_b, pending_b).unwrap_err(),
            LoginError::Rejected(RejectReason::UnknownIdp)
        );
        assert!(sp.start_login("https://b.idp.test", &opts).is_err());
        assert!(sp.start_login("https://c.idp.test", &opts).is_ok());

        // A drops the old key: a Response signed with it no longer verifies; one signed
        // with the new key does.
        let (_, pending_old) = sp.start_login("https://a.idp.test", &opts).unwrap();
        let (_, pending_new) = sp.start_login("https://a.idp.test", &opts).unwrap();
        publish(&[a_rotated.metadata(a.entity_id()), c.metadata(c.entity_id())]);
        let report = r.refresh(now());
        assert!(
            matches!(&report.events[..], [RegistryEvent::KeyRemoved { key, .. }] if key.subject == "CN=a-2025"),
            "{:?}",
            report.events
        );
        assert!(sp
            .finish_login(&signed_answer(&a, &pending_old), pending_old)
            .is_err());
        sp.finish_login(&signed_answer(&a_rotated, &pending_new), pending_new)
            .unwrap();
        // The removed key cannot come back (no rollback to the copy that listed it).
        publish(&[with_second_key(&a, &a_next), c.metadata(c.entity_id())]);
        let report = r.refresh(now());
        assert!(report.events.iter().any(|e| matches!(e, RegistryEvent::RefreshFailed { reason, .. } if reason.contains("rotated out"))), "{:?}", report.events);
        // Nothing changed: no change event, the sink is not touched.
        assert!(!report.changed);
    }

    /// Expiry events fire at the configured horizon: an IdP certificate, the registry
    /// signer and the SP certificate 20 days from expiry are reported with a 30-day
    /// horizon and not with a 10-day one.
    #[test]
    fn expiry_events_fire_at_the_configured_horizon() {
        let registry_key = keypair_until("registry-signer", days(20));
        let trust = RegistryTrust::new().with_spid_pin(registry_key.verification_key().unwrap());
        let a = TestIdp::new("https://a.idp.test", keypair_until("a-expiring", days(20)));
        let (base, routes) = serve();
        set(
            &routes,
            "/entities-idp",
            200,
            "",
            aggregate(&registry_key, &[a.metadata(a.entity_id())]),
        );
        let sp_key = keypair_until("sp-expiring", days(20))
            .verification_key()
            .unwrap();
        let run = |horizon: u32| {
            let mut r = Refresher::new(Registry::new(trust.clone()), fetcher())
                .source(Src::SpidRegistry, [format!("{base}/entities-idp")])
                .watch_sp_certificates([sp_key.clone()])
                .horizon_days(horizon);
            r.refresh(now())
                .events
                .into_iter()
                .filter(RegistryEvent::needs_attention)
                .collect::<Vec<_>>()
        };
        let events = run(30);
        assert!(events.iter().any(|e| matches!(e, RegistryEvent::IdpCertificateExpiring { entity_id, days_left: 20, .. } if entity_id == "https://a.idp.test")), "{events:?}");
        assert!(events.iter().any(|e| matches!(
            e,
            RegistryEvent::RegistrySignerExpiring {
                origin: Src::SpidRegistry,
                days_left: 20,
                ..
            }
        )));
        assert!(events.iter().any(|e| matches!(
            e,
            RegistryEvent::SpCertificateExpiring { days_left: 20, .. }
        )));
        assert_eq!(events.len(), 3, "{events:?}");
        assert!(run(10).is_empty());
    }

    /// The background thread refreshes at once, then stops on request and hands the
    /// refresher back (no timing involved: the first refresh precedes the first wait).
    #[test]
    fn background_refresher_stops_and_returns_the_registry() {
        let (trust, base, routes) = serve_idp_a();
        let dir = std::env::temp_dir().join(format!("spid-sp-lifecycle-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let set_ = spid_sp::IdpSet::new(Vec::new()).unwrap();
        let handle = Refresher::new(Registry::new(trust), fetcher())
            .source(Src::SpidRegistry, [format!("{base}/entities-idp")])
            .updating(set_.clone())
            .cache_dir(&dir)
            .spawn(Duration::from_secs(3600), Arc::new(FixedClock(now())));
        let r = handle.stop().unwrap();
        assert!(r.registry().idp("https://a.idp.test").is_some());
        assert_eq!(set_.len(), 1);
        // The last good copy is on disk for the next start.
        let cached = std::fs::read(dir.join("spid.xml")).unwrap();
        assert_eq!(cached, aggregate_bytes_of(&routes));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn aggregate_bytes_of(routes: &Routes) -> Vec<u8> {
        routes
            .lock()
            .unwrap()
            .get("/entities-idp")
            .unwrap()
            .2
            .clone()
    }
}

#[cfg(feature = "cli")]
mod cli {
    use super::*;
    use std::process::Command;

    const BIN: &str = env!("CARGO_BIN_EXE_spid-sp");

    fn tmp(name: &str, bytes: &[u8]) -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("spid-sp-lifecycle-cli-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    fn run(args: &[&str]) -> (i32, String) {
        let out = Command::new(BIN).args(args).output().unwrap();
        (
            out.status.code().unwrap(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    }

    #[test]
    fn registry_diff_metadata_diff_and_drift() {
        // registry diff: same → 0; an IdP removed and a key added → 1, both listed.
        let a = TestIdp::new("https://a.idp.test", keypair("a", 2048));
        let b = TestIdp::new("https://b.idp.test", keypair("b", 2048));
        let signer = keypair("registry", 2048);
        let old = tmp(
            "old.xml",
            &aggregate(
                &signer,
                &[a.metadata(a.entity_id()), b.metadata(b.entity_id())],
            ),
        );
        let new = tmp(
            "new.xml",
            &aggregate(&signer, &[with_second_key(&a, &keypair("a2", 2048))]),
        );
        let (code, out) = run(&[
            "registry",
            "diff",
            old.to_str().unwrap(),
            old.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{out}");
        let (code, out) = run(&[
            "registry",
            "diff",
            old.to_str().unwrap(),
            new.to_str().unwrap(),
        ]);
        assert_eq!(code, 1, "{out}");
        assert!(
            out.contains("identity provider removed: https://b.idp.test")
                && out.contains("key added CN=a2"),
            "{out}"
        );
        // Verified against a pin: the documents must verify.
        let pin = tmp("pin.pem", &signer.certificate().to_pem().unwrap());
        let (code, _) = run(&[
            "registry",
            "diff",
            "--verify-as",
            "spid",
            "--spid-pin",
            pin.to_str().unwrap(),
            old.to_str().unwrap(),
            new.to_str().unwrap(),
        ]);
        assert_eq!(code, 1);
        let other_pin = tmp(
            "other.pem",
            &keypair("other", 2048).certificate().to_pem().unwrap(),
        );
        let (code, _) = run(&[
            "registry",
            "diff",
            "--verify-as",
            "spid",
            "--spid-pin",
            other_pin.to_str().unwrap(),
            old.to_str().unwrap(),
            new.to_str().unwrap(),
        ]);
        assert_eq!(code, 2);

        // metadata diff / drift on a rollover.
        let old_key = keypair("sp-old", 2048);
        let new_key = keypair("sp-new", 2048);
        let md = public_sp_metadata("Comune", "comune.example.it", None);
        let xml = |signing: &SigningKey, published: Option<&SigningKey>| {
            md.to_xml_at(&rollover_config(signing, published), now())
                .unwrap()
        };
        let submitted = tmp("submitted.xml", xml(&old_key, Some(&new_key)).as_bytes());
        let switched = tmp("switched.xml", xml(&new_key, Some(&old_key)).as_bytes());
        let done = tmp("done.xml", xml(&new_key, None).as_bytes());
        let s = |p: &std::path::PathBuf| p.to_str().unwrap().to_owned();
        assert_eq!(
            run(&["metadata", "diff", &s(&submitted), &s(&switched)]).0,
            0
        );
        let (code, out) = run(&["metadata", "diff", &s(&submitted), &s(&done)]);
        assert_eq!(code, 1);
        assert!(
            out.starts_with("- keys") && out.contains("CN=sp-old"),
            "{out}"
        );

        let sha: String =
            openssl::hash::hash(MessageDigest::sha256(), &std::fs::read(&submitted).unwrap())
                .unwrap()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
        let (code, out) = run(&[
            "metadata",
            "drift",
            "--submitted-sha256",
            &sha,
            &s(&submitted),
        ]);
        assert_eq!(code, 0, "{out}");
        assert_eq!(
            run(&[
                "metadata",
                "drift",
                "--submitted-sha256",
                &sha,
                &s(&switched)
            ])
            .0,
            1
        );
        // By meaning, the switch is no drift; dropping the old key is.
        let (code, out) = run(&[
            "metadata",
            "drift",
            "--submitted",
            &s(&submitted),
            &s(&switched),
        ]);
        assert_eq!(code, 0, "{out}");
        assert!(out.contains("nothing to re-submit"));
        assert_eq!(
            run(&[
                "metadata",
                "drift",
                "--submitted",
                &s(&submitted),
                &s(&done)
            ])
            .0,
            1
        );
        assert_eq!(
            run(&["metadata", "drift", "--submitted-sha256", "xyz", &s(&done)]).0,
            2
        );
        // The SP certificate expiry warning at the horizon.
        let expiring = keypair_until("sp-soon", days(10));
        let soon = tmp("soon.xml", xml(&expiring, None).as_bytes());
        let (_, out) = run(&[
            "metadata",
            "drift",
            "--submitted",
            &s(&soon),
            "--at",
            "2026-01-15T10:00:00Z",
            &s(&soon),
        ]);
        assert!(
            out.contains("warning: SP certificate CN=sp-soon")
                && out.contains("expires in 10 day(s)"),
            "{out}"
        );
        let (_, out) = run(&[
            "metadata",
            "drift",
            "--submitted",
            &s(&soon),
            "--warn-days",
            "5",
            "--at",
            "2026-01-15T10:00:00Z",
            &s(&soon),
        ]);
        assert!(!out.contains("warning"), "{out}");
        let _ = std::fs::remove_dir_all(submitted.parent().unwrap());
    }
}
