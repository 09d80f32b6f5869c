//! Tenants from the PostgreSQL table `spid_tenants` (features `tenants`, `postgres`):
//! loaded, added, changed (a broken change keeps the last good version), removed, and an
//! ID in both the directory and the table refused from the table. Needs a server: run by
//! tests/postgres.sh (`--ignored`, with SPID_SP_TENANTS_POSTGRES set to a database URL).
#![cfg(all(feature = "tenants", feature = "postgres"))]

mod common;

use spid_sp::tenants::{PostgresTenants, TenantTable};

fn description(id: &str, name: &str) -> String {
    format!(
        r#"entity_id = "https://agg.example.it/t/{id}"
assertion_consumer_services = ["https://agg.example.it/t/{id}/spid/acs"]
single_logout_services = [{{ binding = "redirect", url = "https://agg.example.it/t/{id}/spid/slo" }}]
attribute_services = [{{ index = 0, name = "Servizi", attributes = ["fiscalNumber"] }}]
[metadata]
profile = "spid-sp-public"
organization = {{ name = "{name}", display_name = "{name}", url = "https://www.example.it" }}
contact = {{ email = "spid@example.it", phone = "+390543712111", ipa_code = "c_d704" }}
"#
    )
}

#[test]
#[ignore = "needs a PostgreSQL server: run by tests/postgres.sh"]
fn tenants_from_the_postgres_table() {
    let url = std::env::var("SPID_SP_TENANTS_POSTGRES").expect("SPID_SP_TENANTS_POSTGRES");
    let mut db = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    db.batch_execute("DROP TABLE IF EXISTS spid_tenants")
        .unwrap();
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("tenants-pg-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();

    let (table, report) = TenantTable::builder()
        .directory(&dir)
        .postgres(PostgresTenants::new(url.clone()))
        .shared_key(common::keypair("aggregatore", 2048))
        .build();
    assert!(report.errors().is_empty(), "{report:?}");
    assert!(table.is_empty(), "the table is created, empty");

    let insert = "INSERT INTO spid_tenants (tenant_id, description) VALUES ($1, $2)";
    db.execute(insert, &[&"comune-a", &description("comune-a", "Comune A")])
        .unwrap();
    db.execute(insert, &[&"comune-b", &description("comune-b", "Comune B")])
        .unwrap();
    let report = table.reload();
    assert_eq!(report.added().len(), 2, "{report:?}");
    let a = table.resolve(None, "/t/comune-a/spid/acs").unwrap();
    assert_eq!(a.id().as_str(), "comune-a");
    assert!(a.metadata_xml().unwrap().contains("Comune A"));

    // A broken change keeps the last good version; a good one replaces it.
    db.execute(
        "UPDATE spid_tenants SET description = 'entity_id = [', updated_at = now() WHERE tenant_id = 'comune-a'",
        &[],
    )
    .unwrap();
    let report = table.reload();
    assert_eq!(
        report.errors()[0].code(),
        "tenant-description",
        "{report:?}"
    );
    assert_eq!(report.kept().len(), 1);
    assert!(table.get("comune-a").is_some());
    db.execute(
        "UPDATE spid_tenants SET description = $1 WHERE tenant_id = 'comune-a'",
        &[&description("comune-a", "Comune A nuovo")],
    )
    .unwrap();
    let report = table.reload();
    assert_eq!(report.changed().len(), 1, "{report:?}");
    assert!(table
        .get("comune-a")
        .unwrap()
        .metadata_xml()
        .unwrap()
        .contains("Comune A nuovo"));

    // Removed.
    db.execute("DELETE FROM spid_tenants WHERE tenant_id = 'comune-b'", &[])
        .unwrap();
    let report = table.reload();
    assert_eq!(report.removed().len(), 1, "{report:?}");
    assert!(table.get("comune-b").is_none());

    // The same ID in the directory and the table: the directory's wins.
    std::fs::write(
        dir.join("comune-a.toml"),
        description("comune-a", "Comune A file"),
    )
    .unwrap();
    let report = table.reload();
    assert_eq!(report.errors()[0].code(), "tenant-conflict", "{report:?}");
    assert!(table
        .get("comune-a")
        .unwrap()
        .metadata_xml()
        .unwrap()
        .contains("Comune A file"));
    let _ = std::fs::remove_dir_all(&dir);
}
