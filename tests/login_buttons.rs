//! The login buttons (`SpidAuth::login_buttons`) over the committed registry snapshot and
//! the CIE / eIDAS metadata: every IdP offered once, by name and never by URL, in a
//! random order, a trusted test IdP first and marked, CIE and eIDAS beside SPID, `next`
//! and `level` carried into the links, hostile names escaped, the stylesheet route.
#![cfg(feature = "axum")]

mod common;

use std::collections::HashSet;

use common::keypair;
use spid_sp::axum::{ButtonLanguage, ButtonSize, SpidAuth, BUTTON_CSS};
use spid_sp::metadata::IdentityProvider;
use spid_sp::test_idp::{TestIdp, TestIdpMode};
use spid_sp::{Binding, LoginOptions, ServiceProvider, SpConfig, SpidLevel};

const BASE: &str = "http://127.0.0.1:8000";
const TEST_IDP: &str = "http://127.0.0.1:8000/test-idp";
const CIE_PROD: &str = "https://idserver.servizicie.interno.gov.it/idp/profile/SAML2/POST/SSO";
const CIE_PRE: &str =
    "https://preproduzione.idserver.servizicie.interno.gov.it/idp/profile/SAML2/POST/SSO";
const EIDAS: &str = "https://sp-proxy.eid.gov.it/spproxy/idpit";

fn snapshot(file: &str) -> Vec<IdentityProvider> {
    let text = std::fs::read_to_string(format!("metadata/{file}")).unwrap();
    IdentityProvider::from_metadata(&text).unwrap()
}

fn registry_ids() -> HashSet<String> {
    snapshot("spid-entities-idps.xml")
        .iter()
        .map(|i| i.entity_id().as_str().to_owned())
        .collect()
}

struct Setup {
    test_idp: bool,
    allow_test_idp: bool,
    cie: bool,
    eidas: bool,
    /// The SP's metadata has the eIDAS node's attribute services 99 and 100.
    eidas_sets: bool,
    extra: Vec<IdentityProvider>,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            test_idp: false,
            allow_test_idp: false,
            cie: true,
            eidas: true,
            eidas_sets: true,
            extra: Vec::new(),
        }
    }
}

fn auth(setup: Setup) -> SpidAuth {
    let mut config = SpConfig::builder(BASE, keypair("sp", 2048))
        .assertion_consumer_service(format!("{BASE}/spid/acs"))
        .attribute_service(0, "Servizi", &["fiscalNumber"])
        .logout_service(Binding::Redirect, format!("{BASE}/spid/slo"));
    if setup.eidas_sets {
        config = config
            .attribute_service(99, "eIDAS minimum", &["spidCode", "name"])
            .attribute_service(100, "eIDAS full", &["spidCode", "name", "gender"]);
    }
    let config = config.build().unwrap();
    let mut idps = snapshot("spid-entities-idps.xml");
    if setup.cie {
        idps.extend(snapshot("cie-idp-production.xml"));
        idps.extend(snapshot("cie-idp-preproduction.xml"));
    }
    if setup.eidas {
        idps.extend(snapshot("eidas-ficep-idp-production.xml"));
    }
    if setup.test_idp {
        let t = TestIdp::new(TEST_IDP, keypair("idp", 2048));
        idps.extend(IdentityProvider::from_metadata(&t.marked_metadata(TEST_IDP)).unwrap());
    }
    idps.extend(setup.extra);
    let sp = ServiceProvider::new(config, idps).unwrap();
    let mut b = SpidAuth::builder(sp)
        .secure_cookies(false)
        .login_options(LoginOptions {
            level: SpidLevel::L2,
            ..LoginOptions::default()
        });
    if setup.allow_test_idp {
        b = b.allow_test_idp(TestIdpMode::IKnowThisIsNotAnAccreditedIdp);
    }
    b.build()
}

/// The values of `data-entity-id` inside the SPID list, in order.
fn spid_order(html: &str) -> Vec<String> {
    let list = html
        .split("<ul class=\"spid-sp-idps\">")
        .nth(1)
        .and_then(|s| s.split("</ul>").next())
        .unwrap();
    list.split("data-entity-id=\"")
        .skip(1)
        .map(|s| s.split('"').next().unwrap().to_owned())
        .collect()
}

/// What a user sees: the text outside tags.
fn visible_text(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

#[test]
fn every_spid_idp_once_in_a_random_order() {
    let auth = auth(Setup::default());
    let expected = registry_ids();
    assert!(expected.len() >= 10, "snapshot has {} IdPs", expected.len());
    let mut orders = HashSet::new();
    for _ in 0..10 {
        let html = auth.login_buttons().render();
        let order = spid_order(&html);
        assert_eq!(order.len(), expected.len(), "each IdP once");
        assert_eq!(order.iter().cloned().collect::<HashSet<_>>(), expected);
        orders.insert(order);
    }
    assert!(orders.len() >= 2, "the order changes between renders");
}

#[test]
fn names_not_urls() {
    let html = auth(Setup::default()).login_buttons().render();
    let visible = visible_text(&html);
    assert!(
        !visible.contains("http://") && !visible.contains("https://"),
        "{visible}"
    );
    for name in ["Poste Italiane SpA", "ArubaPEC S.p.A.", "InfoCert S.p.A."] {
        assert!(visible.contains(name), "{name} in {visible}");
    }
    // Sielte's display name in the registry is "http://www.sielte.it": its host is shown.
    assert!(visible.contains("sielte.it"), "{visible}");
    assert!(html.contains("<span class=\"spid-sp-idp-name\">sielte.it</span>"));
}

#[test]
fn links_go_to_login_with_next_and_level() {
    let auth = auth(Setup::default());
    let html = auth
        .login_buttons()
        .next("/pratiche?id=7")
        .level(SpidLevel::L3)
        .render();
    assert!(html.contains(
        "href=\"/spid/login?idp=https%3A%2F%2Fposteid.poste.it&amp;level=3&amp;next=%2Fpratiche%3Fid%3D7\""
    ), "{html}");
    // Off-site `next`: dropped (the default landing page applies); a level below the
    // configured minimum is raised to it.
    let html = auth
        .login_buttons()
        .next("https://evil.example/")
        .level(SpidLevel::L1)
        .render();
    assert!(html.contains("href=\"/spid/login?idp=https%3A%2F%2Fposteid.poste.it&amp;level=2\""));
    assert!(!html.contains("evil.example"));
}

#[test]
fn cie_and_eidas_beside_spid_only_when_trusted() {
    let html = auth(Setup::default()).login_buttons().render();
    let cie = format!(
        "<a class=\"spid-sp-button spid-sp-button-cie\" href=\"/spid/login?idp={}\" data-entity-id=\"{CIE_PROD}\"><span>Entra con CIE</span></a>",
        common::enc(CIE_PROD)
    );
    assert!(html.contains(&cie), "production CIE is the button: {html}");
    assert!(html.contains(&format!(
        "data-entity-id=\"{EIDAS}\" lang=\"en\"><span>Login with eIDAS</span>"
    )));
    // The pre-production CIE IdP: a secondary link, by host name.
    assert!(html.contains(&format!(
        "data-entity-id=\"{CIE_PRE}\">CIE – preproduzione.idserver.servizicie.interno.gov.it</a>"
    )));
    assert_eq!(html.matches("Entra con CIE").count(), 1);
    let spid = html.find("Entra con SPID").unwrap();
    assert!(spid < html.find("Entra con CIE").unwrap());

    let html = auth(Setup {
        cie: false,
        eidas: false,
        ..Setup::default()
    })
    .login_buttons()
    .render();
    assert!(html.contains("Entra con SPID"));
    assert!(!html.contains("CIE") && !html.contains("eIDAS"), "{html}");
}

/// The eIDAS node needs the SP's attribute services 99/100: an SP without them (the
/// default SPID profiles) would send it a request that fails, so no button is offered,
/// although the node is trusted. CIE and SPID are unaffected.
#[test]
fn eidas_only_when_the_sp_has_its_attribute_services() {
    let without = auth(Setup {
        eidas_sets: false,
        ..Setup::default()
    });
    assert!(without.service_provider().idp(EIDAS).is_some(), "trusted");
    let html = without.login_buttons().render();
    assert!(!html.contains("eIDAS") && !html.contains(EIDAS), "{html}");
    assert!(html.contains("Entra con SPID") && html.contains("Entra con CIE"));
    // What such a button would have led to: a refusal at /login.
    let started = without.service_provider().start_login(
        EIDAS,
        &LoginOptions {
            level: SpidLevel::L2,
            ..LoginOptions::default()
        },
    );
    assert!(started.is_err(), "the node cannot be used by this SP");

    let with = auth(Setup::default());
    assert!(with.login_buttons().render().contains("Login with eIDAS"));
    assert!(with
        .service_provider()
        .start_login(
            EIDAS,
            &LoginOptions {
                level: SpidLevel::L2,
                ..LoginOptions::default()
            }
        )
        .is_ok());
}

#[test]
fn test_idp_first_and_marked_only_when_allowed() {
    let auth_allowed = auth(Setup {
        test_idp: true,
        allow_test_idp: true,
        ..Setup::default()
    });
    for _ in 0..5 {
        let html = auth_allowed.login_buttons().render();
        let order = spid_order(&html);
        assert_eq!(order.first().map(String::as_str), Some(TEST_IDP));
        assert_eq!(order.len(), registry_ids().len() + 1);
    }
    let html = auth_allowed.login_buttons().render();
    assert!(html.contains(
        "<span class=\"spid-sp-idp-name\">Test IdP (local)</span> \
         <span class=\"spid-sp-test-mark\">(di prova, non accreditato)</span>"
    ));

    // Trusted by mistake but not allowed: refused at /login, so not offered.
    let html = auth(Setup {
        test_idp: true,
        ..Setup::default()
    })
    .login_buttons()
    .render();
    assert!(!html.contains(TEST_IDP) && !html.contains("spid-sp-test-mark"));
}

#[test]
fn hostile_names_are_escaped_and_overridable() {
    let t = TestIdp::new("https://idp.hostile.example", keypair("idp", 2048));
    let idp = IdentityProvider::from_metadata(&t.metadata("https://idp.hostile.example"))
        .unwrap()
        .remove(0)
        .with_display_name("<script>alert(1)</script> \"Bad\" & Co");
    let auth = auth(Setup {
        extra: vec![idp],
        ..Setup::default()
    });
    let html = auth.login_buttons().render();
    assert!(!html.contains("<script>"));
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt; &quot;Bad&quot; &amp; Co")
            || html.contains("&lt;script&gt;alert(1)&lt;/script&gt; \"Bad\" &amp; Co"),
        "{html}"
    );
    let html = auth
        .login_buttons()
        .idp_name("https://idp.hostile.example", "Hostile ID")
        .render();
    assert!(html.contains("<span class=\"spid-sp-idp-name\">Hostile ID</span>"));
}

#[test]
fn sizes_language_logos_and_stylesheet() {
    let auth = auth(Setup::default());
    let html = auth.login_buttons().render();
    assert!(html.starts_with(
        "<div class=\"spid-sp-buttons spid-sp-size-m\" lang=\"it\"><link rel=\"stylesheet\" href=\"/spid/button.css\">"
    ));
    assert!(!html.contains("<img"), "text only by default");
    assert!(!html.contains("<script"), "no JavaScript");
    assert!(html.contains("<details class=\"spid-sp-chooser\"><summary"));

    let html = auth
        .login_buttons()
        .size(ButtonSize::ExtraLarge)
        .language(ButtonLanguage::English)
        .logo_dir("/static/logos/")
        .without_stylesheet_link()
        .render();
    assert!(html.starts_with("<div class=\"spid-sp-buttons spid-sp-size-xl\" lang=\"en\"><details"));
    assert!(html.contains("<span>Sign in with SPID</span>"));
    assert!(html.contains("<span>Sign in with CIE</span>"));
    assert!(html.contains("aria-label=\"Choose your SPID provider\""));
    assert!(html.contains("<img class=\"spid-sp-logo\" src=\"/static/logos/spid.svg\" alt=\"\">"));
    assert!(html.contains(
        "<img class=\"spid-sp-idp-logo\" src=\"/static/logos/idp/posteid.poste.it.svg\" alt=\"\">"
    ));
    assert!(
        !html.contains(" lang=\"en\"><span>Login"),
        "already English"
    );

    // Logos from another site are refused: nothing is fetched from elsewhere.
    for dir in ["https://cdn.example/logos", "//cdn.example/logos"] {
        assert!(
            !auth.login_buttons().logo_dir(dir).render().contains("<img"),
            "{dir}"
        );
    }

    for size in [
        "spid-sp-size-s",
        "spid-sp-size-m",
        "spid-sp-size-l",
        "spid-sp-size-xl",
    ] {
        assert!(BUTTON_CSS.contains(size));
    }
    assert!(BUTTON_CSS.contains("#0066cc") && !BUTTON_CSS.contains("url("));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stylesheet_route() {
    let auth = auth(Setup::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().merge(auth.routes()).layer(auth.layer());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let r = common::request(addr, "GET", "/spid/button.css", &[], None)
        .send_async()
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/css; charset=utf-8"));
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(r.body, BUTTON_CSS);
}
