//! The demo SP's description: one [`spid_sp::SpDescription`] per `--profile`, shipped as TOML in
//! `profiles/` and embedded at build time, or the user's own file (`--config`).
//!
//! `{base_url}` in a URL field stands for the demo's base URL. It is replaced after
//! parsing, in the parsed values, so a base URL can never change the file's structure.

use spid_sp::metadata::SpProfile;

/// The embedded descriptions, by `--profile` name: the TOML text of `profiles/NAME.toml`.
pub const PROFILES: [(&str, &str); 4] = [
    ("spid-public", include_str!("profiles/spid-public.toml")),
    ("spid-private", include_str!("profiles/spid-private.toml")),
    ("cie", include_str!("profiles/cie.toml")),
    ("eidas", include_str!("profiles/eidas.toml")),
];

/// The embedded description of a `--profile`: its name and TOML text.
pub fn embedded(profile: &str) -> Option<(&'static str, &'static str)> {
    PROFILES.into_iter().find(|(name, _)| *name == profile)
}

/// The demo's name for a metadata profile (shown on the home page and at start).
pub fn demo_name(profile: SpProfile) -> &'static str {
    match profile {
        SpProfile::SpidPublic => "spid-public",
        SpProfile::SpidPrivate => "spid-private",
        SpProfile::CiePublic => "cie",
        SpProfile::CiePrivate => "cie-private",
        SpProfile::Eidas => "eidas",
        // The demo runs direct SPs only; aggregated entities are `spid-sp tenants`'.
        SpProfile::Aggregated(kind) => kind.activity_code(),
    }
}

#[cfg(test)]
mod tests {
    //! The embedded descriptions against the configuration and metadata the demo built in
    //! Rust before it read them (kept here as the oracle): the signed metadata must be the
    //! same bytes.

    use super::*;
    use spid_sp::metadata::{
        check_sp_metadata, Billing, Contact, Organization, Severity, SpMetadata,
        EIDAS_FULL_ATTRIBUTES, EIDAS_FULL_INDEX, EIDAS_MINIMUM_ATTRIBUTES, EIDAS_MINIMUM_INDEX,
    };
    use spid_sp::SpDescription;
    use spid_sp::{Binding, SigningKey, SpConfig};

    fn key() -> SigningKey {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/metadata");
        SigningKey::from_pem(
            &std::fs::read(format!("{dir}/test-only-sp.key.pem")).unwrap(),
            &std::fs::read(format!("{dir}/test-only-sp.crt.pem")).unwrap(),
        )
        .unwrap()
    }

    fn parsed(profile: &str, base_url: &str) -> SpDescription {
        let (_, toml) = embedded(profile).unwrap();
        SpDescription::from_toml_str(toml)
            .unwrap()
            .with_base_url(base_url)
    }

    /// The demo's `sp_config` before the description files.
    fn oracle_config(profile: &str, base_url: &str, key: SigningKey) -> SpConfig {
        let spid_attributes = ["fiscalNumber", "name", "familyName", "dateOfBirth", "email"];
        let b = SpConfig::builder(base_url, key)
            .assertion_consumer_service(format!("{base_url}/spid/acs"))
            .logout_service(Binding::Redirect, format!("{base_url}/spid/slo"))
            .logout_service(Binding::Post, format!("{base_url}/spid/slo"));
        match profile {
            "spid-public" | "spid-private" => {
                b.attribute_service(0, "Servizi online", &spid_attributes)
            }
            "cie" => b.attribute_service(
                0,
                "Servizi online",
                &["name", "familyName", "dateOfBirth", "fiscalNumber"],
            ),
            "eidas" => b
                .attribute_service(0, "Servizi online", &spid_attributes)
                .attribute_service(
                    EIDAS_MINIMUM_INDEX,
                    "eIDAS Natural Person Minimum Attribute Set",
                    &EIDAS_MINIMUM_ATTRIBUTES,
                )
                .attribute_service(
                    EIDAS_FULL_INDEX,
                    "eIDAS Natural Person Full Attribute Set",
                    &EIDAS_FULL_ATTRIBUTES,
                ),
            other => panic!("{other}"),
        }
        .build()
        .unwrap()
    }

    /// The demo's `sp_metadata` before the description files.
    fn oracle_metadata(profile: &str, base_url: &str) -> SpMetadata {
        let organization = Organization {
            name: "Demo spid-sp".into(),
            display_name: "Demo spid-sp (solo per prove)".into(),
            url: format!("{base_url}/"),
            ..Default::default()
        };
        let public = Contact {
            email: "spid-demo@example.it".into(),
            phone: Some("+390612345678".into()),
            ipa_code: Some("c_h501".into()),
            municipality: Some("H501".into()),
            province: Some("RM".into()),
            ..Default::default()
        };
        match profile {
            "spid-public" => SpMetadata::new(SpProfile::SpidPublic, organization, public),
            "cie" => SpMetadata::new(SpProfile::CiePublic, organization, public),
            "eidas" => SpMetadata::new(SpProfile::Eidas, organization, public),
            "spid-private" => {
                let contact = Contact {
                    email: "spid-demo@example.it".into(),
                    phone: Some("+390612345678".into()),
                    vat_number: Some("IT12345678903".into()),
                    fiscal_code: Some("12345678903".into()),
                    ..Default::default()
                };
                let mut m = SpMetadata::new(SpProfile::SpidPrivate, organization, contact);
                m.billing = Some(Billing {
                    vat_country: "IT".into(),
                    vat_code: "12345678903".into(),
                    fiscal_code: None,
                    company_name: "Demo spid-sp".into(),
                    address: "Via Roma".into(),
                    number: Some("1".into()),
                    postal_code: "00100".into(),
                    municipality: "Roma".into(),
                    province: Some("RM".into()),
                    country: "IT".into(),
                    email: "fatture@example.it".into(),
                });
                m
            }
            other => panic!("{other}"),
        }
    }

    #[test]
    fn embedded_profiles_make_the_same_signed_metadata_as_before() {
        for base_url in ["http://127.0.0.1:8000", "https://demo.example.it/portale"] {
            for (profile, _) in PROFILES {
                let d = parsed(profile, base_url);
                let config = d.sp_config(key()).unwrap();
                let metadata = d.sp_metadata().unwrap();
                assert_eq!(demo_name(metadata.profile), profile);
                let expected_metadata = oracle_metadata(profile, base_url);
                assert_eq!(metadata, expected_metadata, "{profile}");
                let expected_config = oracle_config(profile, base_url, key());
                let xml = metadata.to_xml(&config).unwrap();
                assert_eq!(
                    xml,
                    expected_metadata.to_xml(&expected_config).unwrap(),
                    "{profile} at {base_url}"
                );
                let errors: Vec<_> = check_sp_metadata(&xml, metadata.profile)
                    .into_iter()
                    .filter(|p| p.severity == Severity::Error)
                    .collect();
                assert!(errors.is_empty(), "{profile}: {errors:?}");
            }
        }
    }

    #[test]
    fn the_base_url_goes_only_into_url_fields() {
        for (profile, _) in PROFILES {
            let d = parsed(profile, "https://sp.example.it");
            assert!(
                !format!("{d:?}").contains("{base_url}"),
                "{profile}: a {{base_url}} left"
            );
            assert_eq!(d.entity_id.as_deref(), Some("https://sp.example.it"));
        }
        // Replaced in parsed values: a base URL cannot add fields to the file.
        let d = SpDescription::from_toml_str(
            "entity_id = \"{base_url}\"\nassertion_consumer_services = [\"{base_url}/spid/acs\"]\n\
             [certificate]\nentity_id = \"{base_url}\"\ncommon_name = \"{base_url}\"\n",
        )
        .unwrap();
        let hostile = "https://a.example.it\"\nkey_file = \"/etc/shadow";
        let d = d.with_base_url(hostile);
        assert_eq!(d.entity_id.as_deref(), Some(hostile));
        assert_eq!(d.key_file, None);
        let c = d.certificate.unwrap();
        assert_eq!(c.entity_id.as_deref(), Some(hostile));
        assert_eq!(c.common_name.as_deref(), Some("{base_url}"));
        assert_eq!(embedded("spid"), None);
    }
}
