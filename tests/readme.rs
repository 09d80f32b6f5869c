//! The README's library snippet, kept honest: its `SpConfig` is copied verbatim below
//! (checked against README.md) and must be enough to write SP metadata (it once lacked
//! the SingleLogoutService that metadata requires).

use spid_sp::metadata::{Contact, Organization, SpMetadata, SpProfile};
use spid_sp::{Binding, SigningKey, SpConfig};

const README: &str = include_str!("../README.md");
const THIS: &str = include_str!("readme.rs");

fn data(path: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/data/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// The README's lines from `SpConfig::builder(` to `.build()?;`.
fn readme_config_lines() -> Vec<&'static str> {
    let mut lines = README
        .lines()
        .skip_while(|l| !l.contains("SpConfig::builder("));
    let mut out: Vec<&str> = Vec::new();
    for l in lines.by_ref() {
        out.push(l);
        if l.trim() == ".build()?;" {
            break;
        }
    }
    out
}

#[test]
fn the_readme_sp_config_is_the_one_tested() {
    let lines = readme_config_lines();
    assert!(lines.len() >= 4, "{lines:?}");
    let block = lines.join("\n");
    assert!(
        THIS.contains(&block),
        "README's SpConfig changed: copy it into tests/readme.rs\n{block}"
    );
}

#[test]
#[rustfmt::skip] // the SpConfig lines are the README's, verbatim
fn the_readme_sp_config_writes_metadata() -> Result<(), Box<dyn std::error::Error>> {
    let key = SigningKey::from_pem(&data("keys/sp.key.pem"), &data("keys/sp.crt.pem"))?;
    let config = SpConfig::builder("https://servizi.example.it/spid", key)
    .assertion_consumer_service("https://servizi.example.it/spid/acs")
    .logout_service(Binding::Redirect, "https://servizi.example.it/spid/slo") // SP metadata requires one
    .attribute_service(0, "Servizi online", &["fiscalNumber", "name", "familyName", "email"])
    .build()?;
    let organization = Organization {
        name: "Comune di Esempio".into(),
        display_name: "Comune di Esempio".into(),
        url: "https://www.comune.esempio.it".into(),
        name_en: None,
        display_name_en: None,
        url_en: None,
    };
    let contact = Contact {
        email: "protocollo@comune.esempio.it".into(),
        ipa_code: Some("c_x000".into()),
        ..Default::default()
    };
    let xml = SpMetadata::new(SpProfile::SpidPublic, organization, contact).to_xml(&config)?;
    assert!(xml.contains("SingleLogoutService"));
    Ok(())
}
