//! The demo's aggregator mode (`--aggregator`, or `--tenants DIR`): many SPs in one
//! process with `spid_sp::tenants` — one SP description file per tenant, routed by path
//! (`/t/<id>/…`) or by host (`scuola.localhost`), one set of IdPs, one local test IdP
//! trusting every tenant, one registry writer per tenant, the directory polled every 2
//! seconds (and on SIGHUP) so that added, changed and removed files take effect without a
//! restart. See docs/tenants.md.
//!
//! `--aggregator` writes the three example tenants of `examples/demo-sp/tenants/` (a
//! comune, a school, a private company) into `<key dir>/tenants/` with the demo's base
//! URL and serves that directory; `--tenants DIR` serves DIR as it is.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use spid_sp::axum::{Session, SpidAuth, SpidTenants};
use spid_sp::tenants::{ServedTenant, TenantRoute, TenantTable};
use spid_sp::xml::writer::{attr, text};
use spid_sp::{Comparison, Federation, IdpSet, LoginOptions};

use super::{fail, pages, Options};

/// The example tenants, embedded.
const EXAMPLES: [(&str, &str); 3] = [
    (
        "comune-forli.toml",
        include_str!("tenants/comune-forli.toml"),
    ),
    (
        "liceo-galilei.toml",
        include_str!("tenants/liceo-galilei.toml"),
    ),
    (
        "azienda-rossi.toml",
        include_str!("tenants/azienda-rossi.toml"),
    ),
];

/// Where the tenants come from.
#[derive(Debug)]
pub enum TenantsSource {
    /// `--aggregator`: the examples, written into `<key dir>/tenants/`.
    Examples,
    /// `--tenants DIR`.
    Dir(PathBuf),
}

/// Writes the example tenants into `dir` with `base_url` (and its port) filled in.
fn write_examples(dir: &Path, base_url: &str) {
    let port = base_url.rsplit(':').next().unwrap_or("80");
    std::fs::create_dir_all(dir)
        .unwrap_or_else(|e| fail(format!("cannot create {}: {e}", dir.display())));
    for (name, template) in EXAMPLES {
        let text = template
            .replace("{base_url}", base_url)
            .replace("{port}", port);
        std::fs::write(dir.join(name), text)
            .unwrap_or_else(|e| fail(format!("cannot write {}: {e}", dir.display())));
    }
}

/// The home path of a tenant's pages (`""` for a host-routed one).
fn home_of(t: &ServedTenant) -> String {
    match t.route() {
        TenantRoute::Path(p) => p.clone(),
        TenantRoute::Host(_) => String::new(),
    }
}

/// Runs the aggregator mode until Ctrl-C / SIGTERM.
pub async fn run(
    opts: Options,
    source: &TenantsSource,
    listener: tokio::net::TcpListener,
    local: SocketAddr,
    base_url: String,
) {
    let dir = match source {
        TenantsSource::Examples => {
            let dir = opts.key_dir.join("tenants");
            write_examples(&dir, &base_url);
            dir
        }
        TenantsSource::Dir(d) => d.clone(),
    };
    let test_idp_decision = super::test_idp::wanted(
        opts.test_idp,
        !opts.idp_metadata.is_empty(),
        &base_url,
        local,
    );
    let idps = super::trusted_idps(&opts.idp_metadata);
    let idp_set = IdpSet::new(idps.clone()).unwrap_or_else(|e| fail(e));
    let shared_key = super::demo_key(&opts.key_dir, &base_url);
    let mut builder = TenantTable::builder()
        .directory(&dir)
        .idps(idp_set.clone())
        .shared_key(shared_key);
    if test_idp_decision.is_ok() {
        builder =
            builder.allow_test_idp(spid_sp::test_idp::TestIdpMode::IKnowThisIsNotAnAccreditedIdp);
    }
    #[cfg(feature = "audit")]
    let sealed: Arc<Mutex<Vec<Arc<super::audit::Registry>>>> = Arc::default();
    #[cfg(feature = "audit")]
    if let Some(audit_dir) = opts.audit_dir.clone() {
        if opts.audit_postgres.is_some() {
            fail("--audit-postgres: not in the aggregator mode (use --audit-dir)");
        }
        let (key_dir, encrypt) = (opts.key_dir.clone(), opts.audit_encrypt_to.clone());
        let sealed = sealed.clone();
        // One writer per tenant, opened at its first record.
        builder = builder.audit(move |id| {
            let log =
                super::audit::open_tenant(&audit_dir, &key_dir, encrypt.as_deref(), id.as_str())?;
            if let Ok(mut s) = sealed.lock() {
                s.push(log.clone());
            }
            Ok(super::audit::as_log(&log))
        });
    }
    let (table, report) = builder.build();
    for e in report.errors() {
        eprintln!("demo-sp: {e}");
    }
    if table.is_empty() {
        fail(format!("no tenant loaded from {}", dir.display()));
    }
    // The local test IdP trusts the tenants loaded at startup (their metadata).
    let test_idp = test_idp_decision.is_ok().then(|| {
        let tenants = table.tenants();
        let metadata: Vec<String> = tenants
            .iter()
            .filter_map(|t| t.metadata_xml().ok().map(|x| x.to_string()))
            .collect();
        let first = metadata.first().cloned().unwrap_or_default();
        let mut server = super::test_idp::start(&opts.key_dir, &base_url, &first);
        for m in metadata.iter().skip(1) {
            server = server
                .trust_sp_metadata(m)
                .unwrap_or_else(|e| fail(format!("test IdP: {e}")));
        }
        server
    });
    if let Some(t) = &test_idp {
        let mut all = idps;
        all.extend(super::test_idp::trusted(t));
        idp_set.replace(all).unwrap_or_else(|e| fail(e));
    }

    let login_options = LoginOptions {
        level: opts.level,
        comparison: Comparison::Minimum,
        binding: opts.binding,
        ..LoginOptions::default()
    };
    let secure = base_url.starts_with("https://");
    let per_client = opts.pending_per_client;
    let tenants = SpidTenants::builder(table.clone())
        .each(move |b, t| {
            let home = home_of(t);
            let mut b = b
                .secure_cookies(secure)
                .login_options(login_options.clone())
                .options_for_idp(|idp, o| match idp.federation() {
                    Federation::Cie => o.comparison = Comparison::Minimum,
                    Federation::Eidas => o.level = o.level.max(spid_sp::SpidLevel::L2),
                    Federation::Spid => {}
                })
                .on_login(|login| {
                    eprintln!("demo-sp: login at {} from {}", login.level(), login.idp())
                })
                .login_page(format!("{home}/"))
                .after_login(format!("{home}/me"))
                .after_logout(format!("{home}/"))
                .pages(Arc::new(pages::ErrorPages));
            if t.service_provider().allows_test_idp() {
                b = b.allow_test_idp(spid_sp::test_idp::TestIdpMode::IKnowThisIsNotAnAccreditedIdp);
            }
            if let Some(n) = per_client {
                b = b.pending_per_client(n);
            }
            b
        })
        .build();

    let tenant_pages = tenants.attach(
        Router::new()
            .route("/t/{tenant}/", get(tenant_home))
            .route("/t/{tenant}/me", get(tenant_me))
            .route("/me", get(tenant_me))
            .merge(tenants.routes()),
    );
    let mut router = Router::new()
        .route("/", get(index))
        .route("/style.css", get(pages::style))
        .with_state(tenants.clone())
        .merge(tenant_pages)
        .merge(test_idp.as_ref().map(|t| t.routes()).unwrap_or_default());
    #[cfg(feature = "audit")]
    {
        let sealed = sealed.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(10));
            loop {
                tick.tick().await;
                let logs = sealed.lock().map(|s| s.clone()).unwrap_or_default();
                let _ = tokio::task::spawn_blocking(move || {
                    for l in logs {
                        if let Err(e) = l.checkpoint() {
                            eprintln!("demo-sp: audit checkpoint failed: {e}");
                        }
                    }
                })
                .await;
            }
        });
    }
    spawn_reloader(table.clone());
    if local.ip().is_loopback() {
        router = router.merge(
            table
                .tenants()
                .first()
                .and_then(|t| tenants.auth(t.id().as_str()))
                .map(|a| a.metrics_router("/metrics"))
                .unwrap_or_default(),
        );
    }

    println!(
        "demo-sp: aggregator mode, {} tenants from {} (polled every 2 s, SIGHUP reloads)",
        table.len(),
        dir.display()
    );
    for t in table.tenants() {
        let url = match t.route() {
            TenantRoute::Path(p) => format!("{base_url}{p}/"),
            TenantRoute::Host(h) => format!("http://{h}:{}/", local.port()),
        };
        println!(
            "demo-sp: tenant {} at {url} (metadata {}/metadata)",
            t.id(),
            t.endpoints_prefix()
        );
    }
    if let Some(t) = &test_idp {
        println!(
            "demo-sp: test IdP (local; NOT an accredited identity provider) at {}/ (loopback clients only)",
            t.base_url()
        );
    }
    println!("demo-sp: listening on {local}; open {base_url}/ in a browser");
    if let Err(e) = axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(super::shutdown_signal())
    .await
    {
        fail(format!("server error: {e}"));
    }
    #[cfg(feature = "audit")]
    for l in sealed.lock().map(|s| s.clone()).unwrap_or_default() {
        let _ = l.checkpoint();
    }
}

/// Reloads the table every 2 seconds and on SIGHUP (unchanged files cost a read and a
/// hash each).
fn spawn_reloader(table: TenantTable) {
    tokio::spawn(async move {
        #[cfg(unix)]
        let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(2));
        loop {
            #[cfg(unix)]
            match hup.as_mut() {
                Some(h) => {
                    tokio::select! {
                        _ = tick.tick() => {}
                        _ = h.recv() => eprintln!("demo-sp: SIGHUP: reloading the tenants"),
                    }
                }
                None => {
                    tick.tick().await;
                }
            }
            #[cfg(not(unix))]
            tick.tick().await;
            let t = table.clone();
            if let Ok(report) = tokio::task::spawn_blocking(move || t.reload()).await {
                for id in report.added() {
                    eprintln!("demo-sp: tenant {id} added");
                }
                for id in report.changed() {
                    eprintln!("demo-sp: tenant {id} changed");
                }
                for id in report.removed() {
                    eprintln!("demo-sp: tenant {id} removed");
                }
            }
        }
    });
}

/// `/`: the host-routed tenant's home on its host, else the list of tenants.
async fn index(State(tenants): State<SpidTenants>, headers: HeaderMap) -> Response {
    let host = headers.get("host").and_then(|h| h.to_str().ok());
    if let Some(t) = tenants.table().resolve(host, "/") {
        if let Some(auth) = tenants.auth(t.id().as_str()) {
            return tenant_home(Extension(auth), Extension(t), headers)
                .await
                .into_response();
        }
    }
    let mut items = String::new();
    let port = host
        .and_then(|h| h.rsplit_once(':'))
        .map_or(String::new(), |(_, p)| format!(":{p}"));
    for t in tenants.table().tenants() {
        let href = match t.route() {
            TenantRoute::Path(p) => format!("{p}/"),
            TenantRoute::Host(h) => format!("http://{h}{port}/"),
        };
        items.push_str(&format!(
            "<li><a href=\"{}\">{}</a> – <code>{}</code></li>",
            attr(&href),
            text(t.id().as_str()),
            text(t.service_provider().config().entity_id().as_str())
        ));
    }
    Html(pages::layout(
        "Aggregatore",
        &format!(
            "<h1>Aggregatore: {} enti</h1><ul>{items}</ul>",
            tenants.table().len()
        ),
    ))
    .into_response()
}

/// A tenant's home: the login buttons, or a link to the user's page.
async fn tenant_home(
    Extension(auth): Extension<SpidAuth>,
    Extension(t): Extension<Arc<ServedTenant>>,
    headers: HeaderMap,
) -> Html<String> {
    let home = home_of(&t);
    let body = match auth.session(&headers).ok().flatten() {
        Some(_) => format!(
            "<p>Accesso effettuato. <a href=\"{}\">La tua pagina</a></p>",
            attr(&format!("{home}/me"))
        ),
        None => auth.login_buttons().render(),
    };
    Html(pages::layout(
        t.id().as_str(),
        &format!(
            "<h1>{}</h1><p><code>{}</code></p>{body}",
            text(t.id().as_str()),
            text(t.service_provider().config().entity_id().as_str())
        ),
    ))
}

/// A tenant's page for logged-in users.
async fn tenant_me(
    Extension(auth): Extension<SpidAuth>,
    Extension(t): Extension<Arc<ServedTenant>>,
    session: Session,
) -> Html<String> {
    let key = session.key().map_or("(nessuna)", |k| k.as_str()).to_owned();
    Html(pages::layout(
        t.id().as_str(),
        &format!(
            "<h1>{}</h1><p class=\"ok\">Accesso SPID livello {}</p>\
             <dl class=\"facts\"><dt>Codice</dt><dd>{}</dd><dt>IdP</dt><dd>{}</dd></dl>\
             <form method=\"post\" action=\"{}\"><button class=\"button\">Esci</button></form>",
            text(t.id().as_str()),
            session.level().number(),
            text(&key),
            text(session.idp().as_str()),
            attr(&format!("{}/logout", auth.prefix()))
        ),
    ))
}
