//! Tenants (`spid_sp::tenant`): the example tenants of `examples/tenants/` (one per
//! aggregator variant of Avviso SPID n.19 v4) load, render signed metadata that our
//! checker accepts for their profile, and each rule of the aggregator profiles is enforced.
//! The rendered files land in `target/sp-metadata/tenants/` for
//! `tests/conformance-metadata.sh` (AgID's spid-sp-test).
#![cfg(feature = "config")]

use std::path::{Path, PathBuf};

use spid_sp::metadata::{check_sp_metadata, AggregatorKind, MetadataProblem, Severity, SpProfile};
use spid_sp::tenant::{Tenant, TenantError, TenantSet};

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/tenants")
}

fn errors(problems: &[MetadataProblem]) -> Vec<&MetadataProblem> {
    problems
        .iter()
        .filter(|p| p.severity == Severity::Error)
        .collect()
}

fn codes(problems: &[MetadataProblem]) -> Vec<&'static str> {
    errors(problems).iter().map(|p| p.code).collect()
}

fn load_examples() -> TenantSet {
    let (set, errs) = TenantSet::load_dir(examples()).unwrap();
    assert!(errs.is_empty(), "{errs:?}");
    set
}

#[test]
fn example_tenants_render_and_pass_our_checker() {
    let set = load_examples();
    assert_eq!(set.len(), 6);
    let mut kinds: Vec<AggregatorKind> = set
        .iter()
        .filter_map(|t| t.profile().aggregator_kind())
        .collect();
    kinds.sort();
    assert_eq!(
        kinds,
        AggregatorKind::ALL.to_vec(),
        "one example per variant"
    );
    let out = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"))
        .join("sp-metadata/tenants");
    std::fs::create_dir_all(&out).unwrap();
    for t in set.iter() {
        let xml = t.metadata_xml().unwrap();
        let problems = check_sp_metadata(&xml, t.profile());
        assert!(errors(&problems).is_empty(), "{}: {problems:#?}", t.name());
        let kind = t.profile().aggregator_kind().unwrap();
        assert!(xml.contains(&format!("<spid:{}/>", kind.type_element())));
        assert!(xml.contains("spid:entityType=\"spid:aggregator\""));
        assert_eq!(
            xml.contains("spid:entityType=\"spid:aggregated\""),
            kind != AggregatorKind::OperatorPublicFull
        );
        assert_eq!(
            xml.contains("use=\"spid:validation\""),
            kind.is_lite(),
            "{}",
            t.name()
        );
        assert_eq!(xml.contains("contactType=\"billing\""), !kind.is_public());
        assert!(t
            .entity_id()
            .contains(&format!("/{}/", kind.activity_code())));
        // Every other profile refuses it (the type element is the variant's).
        for other in AggregatorKind::ALL.into_iter().filter(|k| *k != kind) {
            let problems = check_sp_metadata(&xml, SpProfile::Aggregated(other));
            assert!(!errors(&problems).is_empty(), "{} as {other}", t.name());
        }
        assert!(!errors(&check_sp_metadata(&xml, SpProfile::SpidPublic)).is_empty());
        std::fs::write(out.join(format!("{}.xml", t.profile())), &xml).unwrap();
        assert_eq!(
            set.by_entity_id(t.entity_id()).map(Tenant::name),
            Some(t.name())
        );
    }
}

/// Metadata of the `name` example tenant, then `edit` applied to the text.
fn edited(name: &str, edit: impl Fn(&str) -> String) -> (String, SpProfile) {
    let t = Tenant::load(examples().join(format!("{name}.toml"))).unwrap();
    (edit(&t.metadata_xml().unwrap()), t.profile())
}

/// A change to a metadata text.
type Edit = Box<dyn Fn(&str) -> String>;

#[test]
fn the_checker_enforces_each_aggregator_rule() {
    // (tenant, edit, expected code). The signature breaks too; only the code matters.
    let cases: Vec<(&str, Edit, &str)> = vec![
        (
            "comune-forli",
            Box::new(|x| x.replace("/pub-ag-full/", "/agg/")),
            "entity-id-activity-code",
        ),
        (
            "comune-forli",
            Box::new(|x| x.replacen("c_d704\" ID", "c_d704?x=1\" ID", 1)),
            "entity-id-query",
        ),
        (
            "comune-forli",
            Box::new(|x| x.replace(" spid:entityType=\"spid:aggregated\"", "")),
            "aggregator-entity-type-missing",
        ),
        (
            "comune-forli",
            Box::new(|x| {
                x.replace(
                    "spid:entityType=\"spid:aggregated\"",
                    "spid:entityType=\"spid:other\"",
                )
            }),
            "aggregator-entity-type-invalid",
        ),
        (
            "comune-forli",
            Box::new(|x| x.replace("spid:aggregator\"", "spid:aggregated\"")),
            "aggregator-contact-count",
        ),
        (
            "comune-forli",
            Box::new(|x| {
                x.replace(
                    "<spid:PublicServicesFullAggregator/>",
                    "<spid:PublicServicesLightAggregator/>",
                )
            }),
            "aggregator-type-missing",
        ),
        (
            "comune-forli",
            Box::new(|x| {
                x.replace(
                    "<spid:PublicServicesFullAggregator/>",
                    "<spid:PublicServicesFullAggregator/><spid:Public/>",
                )
            }),
            "aggregator-type-mismatch",
        ),
        (
            "comune-forli",
            Box::new(|x| {
                x.replace("<spid:VATNumber>IT12345678901</spid:VATNumber>", "")
                    .replace("<spid:FiscalCode>12345678901</spid:FiscalCode>", "")
            }),
            "aggregator-identifier-missing",
        ),
        (
            "comune-forli",
            Box::new(|x| x.replace("<spid:IPACode>c_d704</spid:IPACode>", "")),
            "ipa-code-missing",
        ),
        (
            "comune-forli",
            Box::new(|x| x.replace("<md:Company>Acme Servizi Digitali S.r.l.</md:Company>", "")),
            "contact-company-missing",
        ),
        (
            "scuola-marconi",
            Box::new(|x| x.replace("use=\"spid:validation\"", "use=\"signing\"")),
            "validation-key-use",
        ),
        (
            "scuola-marconi",
            Box::new(|x| {
                let start = x.find("<spid:KeyDescriptor").unwrap();
                let end = x.find("</spid:KeyDescriptor>").unwrap() + "</spid:KeyDescriptor>".len();
                format!("{}{}", &x[..start], &x[end..])
            }),
            "validation-key-missing",
        ),
        (
            "palestra-olimpia",
            Box::new(|x| {
                let start = x.find("<md:ContactPerson contactType=\"billing\"").unwrap();
                let end = x[start..].find("</md:ContactPerson>").unwrap()
                    + start
                    + "</md:ContactPerson>".len();
                format!("{}{}", &x[..start], &x[end..])
            }),
            "billing-missing",
        ),
        (
            "palestra-olimpia",
            Box::new(|x| {
                x.replace(
                    "<spid:VATNumber>IT01234567890</spid:VATNumber>",
                    "<spid:IPACode>x</spid:IPACode><spid:VATNumber>IT01234567890</spid:VATNumber>",
                )
            }),
            "ipa-code-forbidden",
        ),
        (
            "trasporti-romagna",
            Box::new(|x| x.replace("<spid:FiscalCode>02345678901</spid:FiscalCode>", "")),
            "aggregator-fiscal-code-missing",
        ),
        (
            "trasporti-romagna",
            Box::new(|x| {
                x.replace(
                    "<md:Company>Trasporti Romagna S.p.A.</md:Company>",
                    "<md:Company>Altro</md:Company>",
                )
            }),
            "contact-company-mismatch",
        ),
    ];
    for (name, edit, code) in cases {
        let (xml, profile) = edited(name, edit);
        let problems = check_sp_metadata(&xml, profile);
        assert!(
            codes(&problems).contains(&code),
            "{name} {code}: {problems:#?}"
        );
    }
    // A full variant with a validation key; a plain profile with aggregator elements.
    let (lite, _) = edited("scuola-marconi", |x| x.to_owned());
    let problems = check_sp_metadata(&lite, SpProfile::Aggregated(AggregatorKind::PublicFull));
    assert!(
        codes(&problems).contains(&"validation-key-unexpected"),
        "{problems:#?}"
    );
}

#[test]
fn load_refuses_what_cannot_be_a_tenant() {
    let dir = std::env::temp_dir().join(format!("spid-sp-tenants-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("keys")).unwrap();
    for f in [
        "keys/test-only-aggregator.key.pem",
        "keys/test-only-aggregator.crt.pem",
        "acme.aggregator.toml",
    ] {
        std::fs::copy(examples().join(f), dir.join(f)).unwrap();
    }
    let forli = std::fs::read_to_string(examples().join("comune-forli.toml")).unwrap();
    // The same entityID twice: the second (by name) is refused.
    std::fs::write(dir.join("a.toml"), &forli).unwrap();
    std::fs::write(dir.join("b.toml"), &forli).unwrap();
    // No aggregator on an aggregator profile.
    std::fs::write(
        dir.join("c.toml"),
        forli.replace("aggregator_file = \"acme.aggregator.toml\"", ""),
    )
    .unwrap();
    // The activity code missing from the entityID.
    std::fs::write(
        dir.join("d.toml"),
        forli
            .replace("/pub-ag-full/c_d704", "/comuni/c_d704")
            .replace(
                "https://spid.acme-servizi.example.it/pub",
                "https://spid.acme-servizi.example.it/x",
            ),
    )
    .unwrap();
    // Not a tenant name.
    std::fs::write(dir.join("Bad Name.toml"), &forli).unwrap();
    let (set, errs) = TenantSet::load_dir(&dir).unwrap();
    assert_eq!(set.len(), 1, "{errs:?}");
    assert!(set.get("a").is_some());
    let got: Vec<&str> = errs.iter().map(TenantError::code).collect();
    assert_eq!(
        got,
        [
            "tenant-name",
            "tenant-duplicate-entity-id",
            "tenant-aggregator",
            "tenant-metadata"
        ],
        "{errs:?}"
    );
    assert!(
        errs.iter().all(|e| !e.to_string().contains("protocollo@")),
        "no contact values in errors"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `spid-sp tenants`: add from a template, check, render, list.
#[cfg(feature = "cli")]
#[test]
fn the_cli_adds_checks_and_renders_tenants() {
    use std::process::Command;
    let bin = env!("CARGO_BIN_EXE_spid-sp");
    let run = |args: &[&str]| {
        let out = Command::new(bin).args(args).output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let dir = std::env::temp_dir().join(format!("spid-sp-tenants-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("keys")).unwrap();
    for f in [
        "keys/test-only-aggregator.key.pem",
        "keys/test-only-aggregator.crt.pem",
        "acme.aggregator.toml",
    ] {
        std::fs::copy(examples().join(f), dir.join(f)).unwrap();
    }
    let d = dir.to_str().unwrap();
    let add = |template: &str, name: &str| {
        run(&[
            "tenants",
            "add",
            "--dir",
            d,
            "--template",
            template,
            "--name",
            name,
        ])
    };
    for (template, name) in [
        ("pub-ag-full", "comune-cesena"),
        ("pri-ag-lite", "studio-bianchi"),
    ] {
        let (code, _, err) = add(template, name);
        assert_eq!(code, 0, "{err}");
    }
    // Never replaces a file; refuses bad names and templates.
    for (template, name) in [
        ("pub-ag-full", "comune-cesena"),
        ("pub-ag-full", "../x"),
        ("spid", "x"),
    ] {
        assert_eq!(add(template, name).0, 2, "{template} {name}");
    }
    let (code, out, err) = run(&["tenants", "list", "--dir", d]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("comune-cesena\tspid-sp-ag-public-full\thttps://spid.acme-servizi.example.it/pub-ag-full/comune-cesena"), "{out}");
    let (code, out, err) = run(&["tenants", "check", "--dir", d]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.ends_with("2 tenant(s) ok, 0 failed\n"), "{out}");
    let submit = dir.join("submit");
    let (code, _, err) = run(&[
        "tenants",
        "render",
        "--dir",
        d,
        "--out",
        submit.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    for (name, profile) in [
        ("comune-cesena", "spid-sp-ag-public-full"),
        ("studio-bianchi", "spid-sp-ag-private-lite"),
    ] {
        let file = submit.join(format!("{name}.xml"));
        let (code, out, err) = run(&[
            "metadata",
            "check",
            "--profile",
            profile,
            file.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{out}{err}");
    }
    // `metadata --config` on one tenant file: the same signed metadata as `render`.
    let one = dir.join("one.xml");
    let tenant_file = dir.join("comune-cesena.toml");
    let (code, _, err) = run(&[
        "metadata",
        "--config",
        tenant_file.to_str().unwrap(),
        "--out",
        one.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        std::fs::read(&one).unwrap(),
        std::fs::read(submit.join("comune-cesena.xml")).unwrap()
    );
    // The aggregator's own key: keygen from the shared aggregator file (its identity,
    // the Avviso 29 v3 profile), then cert-check; and the example key passes cert-check.
    let keys = dir.join("aggregator-key");
    let agg = dir.join("acme.aggregator.toml");
    let (code, _, err) = run(&[
        "keygen",
        "--config",
        agg.to_str().unwrap(),
        "--entity-id",
        "https://spid.acme-servizi.example.it",
        "--locality",
        "Bologna",
        "--key-bits",
        "2048",
        "--self-signed",
        "--out",
        keys.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    for f in [
        keys.join("crt.pem"),
        keys.join("csr.pem"),
        examples().join("keys/test-only-aggregator.crt.pem"),
    ] {
        let (code, out, err) = run(&["cert-check", "--sector", "private", f.to_str().unwrap()]);
        assert_eq!(code, 0, "{}: {out}{err}", f.display());
    }
    let subject =
        openssl::x509::X509::from_pem(&std::fs::read(keys.join("crt.pem")).unwrap()).unwrap();
    let names: Vec<String> = subject
        .subject_name()
        .entries()
        .map(|e| e.data().to_string().unwrap())
        .collect();
    assert!(names.contains(&"VATIT-12345678901".to_owned()), "{names:?}");
    assert!(
        names.contains(&"Acme Servizi Digitali S.r.l.".to_owned()),
        "{names:?}"
    );
    // A duplicate entityID: check fails, render writes nothing.
    std::fs::copy(
        dir.join("comune-cesena.toml"),
        dir.join("comune-copia.toml"),
    )
    .unwrap();
    let (code, _, err) = run(&["tenants", "check", "--dir", d]);
    assert_eq!(code, 1);
    assert!(err.contains("tenant-duplicate-entity-id"), "{err}");
    let again = dir.join("again");
    assert_eq!(
        run(&[
            "tenants",
            "render",
            "--dir",
            d,
            "--out",
            again.to_str().unwrap()
        ])
        .0,
        1
    );
    assert!(!again.exists());
    let _ = std::fs::remove_dir_all(&dir);
}
