//! [`Refresher`]: keeps a running SP's IdP set current from the registry (feature
//! `refresh`). No async runtime: call [`Refresher::refresh`] on your own schedule, or let
//! [`Refresher::spawn`] run it on a background thread.

use std::path::PathBuf;
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use super::events::{diff_idps, expiry_events, sp_certificate_events, RegistryEvent};
use super::list::{IdpList, MAX_LIST_BYTES};
use super::refresh::Fetcher;
use super::{MetadataSource, Registry, EXPIRY_HORIZON_SECS};
use crate::config::ConfigError;
use crate::dsig::VerificationKey;
use crate::metadata::IdentityProvider;
use crate::time::{Clock, Timestamp};

/// Where the refresher installs the IdPs it verified: implemented by
/// [`IdpSet`](crate::IdpSet) (pass `sp.idp_set().clone()`), so that every clone of the
/// service provider sees the new set at once.
pub trait IdpSink: Send + Sync {
    /// Replaces the whole set (all or nothing).
    fn replace_idps(&self, idps: Vec<IdentityProvider>) -> Result<(), ConfigError>;
}

type Callback = Box<dyn Fn(&RegistryEvent) + Send + Sync>;

/// What one [`Refresher::refresh`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RefreshReport {
    /// Every event, in this order: redirects and failures, changes (IdPs and keys added
    /// or removed), the JSON list's cross-check, then certificates expiring within the
    /// horizon (repeated at each run while they are: de-duplicate alerts by
    /// [`RegistryEvent::code`] and subject if needed).
    pub events: Vec<RegistryEvent>,
    /// Whether the trusted IdPs changed (and the sink was updated).
    pub changed: bool,
}

/// Refreshes the registry from configured URLs, updates the running SP's IdP set, and
/// reports what changed and what expires soon.
///
/// Each source has one or more URLs, tried in order until one gives a document that
/// verifies and is not older than the copy in use; when none does, the last good copy
/// stays in use and a [`RegistryEvent::RefreshFailed`] says why. Redirects are followed
/// over https only (plain http only to loopback with
/// [`Fetcher::allow_plain_http`]) and reported ([`RegistryEvent::SourceRedirected`]).
///
/// ```no_run
/// use std::time::Duration;
/// use spid_sp::metadata::{Fetcher, MetadataSource, Refresher, Registry, RegistryTrust};
/// # fn demo(sp: spid_sp::ServiceProvider, trust: RegistryTrust) {
/// let refresher = Refresher::new(Registry::new(trust), Fetcher::default())
///     .source(MetadataSource::SpidRegistry, [spid_sp::metadata::SPID_REGISTRY_AGGREGATE_URL])
///     .idp_list([spid_sp::metadata::SPID_REGISTRY_JSON_URL])
///     .updating(sp.idp_set().clone())
///     .horizon_days(30)
///     .on_event(|e| eprintln!("registry: {e}"));
/// let handle = refresher.spawn(Duration::from_secs(6 * 3600), std::sync::Arc::new(spid_sp::SystemClock));
/// // ... at shutdown:
/// let _refresher = handle.stop();
/// # }
/// ```
pub struct Refresher {
    registry: Registry,
    fetcher: Fetcher,
    sources: Vec<(MetadataSource, Vec<String>)>,
    list_urls: Vec<String>,
    list: Option<IdpList>,
    sink: Option<Box<dyn IdpSink>>,
    also_trust: Vec<IdentityProvider>,
    horizon_secs: i64,
    sp_keys: Vec<VerificationKey>,
    callbacks: Vec<Callback>,
    cache_dir: Option<PathBuf>,
    installed: Option<Vec<IdentityProvider>>,
}

impl std::fmt::Debug for Refresher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Refresher")
            .field("sources", &self.sources)
            .field("list_urls", &self.list_urls)
            .field("horizon_secs", &self.horizon_secs)
            .finish_non_exhaustive()
    }
}

impl Refresher {
    /// A refresher over `registry` (empty, or loaded from the last good copies on disk)
    /// downloading with `fetcher`. Add sources with [`Refresher::source`].
    pub fn new(registry: Registry, fetcher: Fetcher) -> Refresher {
        Refresher {
            registry,
            fetcher,
            sources: Vec::new(),
            list_urls: Vec::new(),
            list: None,
            sink: None,
            also_trust: Vec::new(),
            horizon_secs: EXPIRY_HORIZON_SECS,
            sp_keys: Vec::new(),
            callbacks: Vec::new(),
            cache_dir: None,
            installed: None,
        }
    }

    /// Refreshes `source` from `urls`, tried in order (the current endpoint first, then
    /// mirrors or the previous one). Given twice for one source, the URLs add up.
    #[must_use]
    pub fn source<S: Into<String>>(
        mut self,
        source: MetadataSource,
        urls: impl IntoIterator<Item = S>,
    ) -> Refresher {
        let urls: Vec<String> = urls.into_iter().map(Into::into).collect();
        match self.sources.iter_mut().find(|(s, _)| *s == source) {
            Some((_, existing)) => existing.extend(urls),
            None => self.sources.push((source, urls)),
        }
        self
    }

    /// Also reads the registry's JSON list of IdPs from `urls` (tried in order): names
    /// for the button and a cross-check, never trust (see the `list` module docs).
    #[must_use]
    pub fn idp_list<S: Into<String>>(mut self, urls: impl IntoIterator<Item = S>) -> Refresher {
        self.list_urls.extend(urls.into_iter().map(Into::into));
        self
    }

    /// Installs the verified IdPs in `sink` after each refresh that changed them.
    #[must_use]
    pub fn updating(mut self, sink: impl IdpSink + 'static) -> Refresher {
        self.sink = Some(Box::new(sink));
        self
    }

    /// IdPs configured by hand (not from the registry) that the sink keeps trusting.
    #[must_use]
    pub fn also_trust(mut self, idps: impl IntoIterator<Item = IdentityProvider>) -> Refresher {
        self.also_trust.extend(idps);
        self
    }

    /// Reports certificates expiring within `days` (default 30).
    #[must_use]
    pub fn horizon_days(mut self, days: u32) -> Refresher {
        self.horizon_secs = i64::from(days).saturating_mul(86_400);
        self
    }

    /// Watches the SP's own certificates (its signing key's, and any published for a
    /// rollover): [`RegistryEvent::SpCertificateExpiring`] within the horizon.
    #[must_use]
    pub fn watch_sp_certificates(
        mut self,
        keys: impl IntoIterator<Item = VerificationKey>,
    ) -> Refresher {
        self.sp_keys.extend(keys);
        self
    }

    /// Calls `f` with every event of every refresh (after the refresh, in order).
    #[must_use]
    pub fn on_event(mut self, f: impl Fn(&RegistryEvent) + Send + Sync + 'static) -> Refresher {
        self.callbacks.push(Box::new(f));
        self
    }

    /// Writes each newly verified document to `dir` (`spid.xml`, `cie.xml`, `eidas.xml`,
    /// `idp-list.json`, replaced atomically) so that a restart can load the last good
    /// copies before the network answers.
    #[must_use]
    pub fn cache_dir(mut self, dir: impl Into<PathBuf>) -> Refresher {
        self.cache_dir = Some(dir.into());
        self
    }

    /// The registry in use (the last good copy of each source).
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The JSON list in use, if one was read.
    pub fn idp_list_in_use(&self) -> Option<&IdpList> {
        self.list.as_ref()
    }

    /// What the sink receives: the registry's IdPs (named from the JSON list where the
    /// signed metadata gives no name), then the hand-configured ones.
    pub fn trusted_idps(&self) -> Vec<IdentityProvider> {
        let idps: Vec<IdentityProvider> = self.registry.idps().cloned().collect();
        let mut idps = match &self.list {
            Some(list) => list.apply_names(idps),
            None => idps,
        };
        idps.extend(self.also_trust.iter().cloned());
        idps
    }

    /// Downloads every source and the list, installs what verifies, updates the sink when
    /// the IdPs changed, and returns (and passes to the callbacks) every event.
    pub fn refresh(&mut self, now: Timestamp) -> RefreshReport {
        let mut events = Vec::new();
        let before: Vec<IdentityProvider> = self.registry.idps().cloned().collect();
        for (source, urls) in self.sources.clone() {
            self.refresh_source(source, &urls, now, &mut events);
        }
        if !self.list_urls.is_empty() {
            self.refresh_list(&mut events);
        }
        let after: Vec<IdentityProvider> = self.registry.idps().cloned().collect();
        events.extend(diff_idps(&before, &after));

        let trusted = self.trusted_idps();
        let changed = match &self.installed {
            Some(old) => {
                !diff_idps(old, &trusted).is_empty()
                    || old
                        .iter()
                        .zip(&trusted)
                        .any(|(a, b)| a.display_name() != b.display_name())
            }
            None => true,
        };
        if changed {
            match &self.sink {
                Some(sink) => match sink.replace_idps(trusted.clone()) {
                    Ok(()) => self.installed = Some(trusted),
                    Err(e) => events.push(RegistryEvent::RefreshFailed {
                        origin: None,
                        reason: format!("IdP set not updated: {e}"),
                    }),
                },
                None => self.installed = Some(trusted),
            }
        }
        if let Some(list) = &self.list {
            events.extend(list.cross_check(self.registry.idps()));
        }
        events.extend(expiry_events(&self.registry, now, self.horizon_secs));
        events.extend(sp_certificate_events(&self.sp_keys, now, self.horizon_secs));
        for e in &events {
            // Operators see every lifecycle event once; entityIDs and certificate subjects
            // are public registry data, never personal data.
            match e {
                RegistryEvent::RefreshFailed { .. } => {
                    tracing::warn!(target: super::set::TARGET, code = e.code(), "{e}")
                }
                _ => tracing::info!(target: super::set::TARGET, code = e.code(), "{e}"),
            }
            for f in &self.callbacks {
                f(e);
            }
        }
        RefreshReport { events, changed }
    }

    fn refresh_source(
        &mut self,
        source: MetadataSource,
        urls: &[String],
        now: Timestamp,
        events: &mut Vec<RegistryEvent>,
    ) {
        let mut reasons = Vec::new();
        for url in urls {
            let fetched = self.fetcher.fetch_located(url, !source.is_signed());
            let (bytes, final_url) = match fetched {
                Ok(v) => v,
                Err(e) => {
                    reasons.push(format!("{}: {e}", short(url)));
                    continue;
                }
            };
            if &final_url != url {
                events.push(RegistryEvent::SourceRedirected {
                    origin: Some(source),
                    from: short(url),
                    to: short(&final_url),
                });
            }
            match self.registry.load(source, &bytes, now) {
                Ok(outcome) => {
                    if outcome != super::LoadOutcome::Unchanged {
                        self.write_cache(&format!("{}.xml", source.as_str()), &bytes);
                    }
                    return;
                }
                Err(e) => reasons.push(format!("{}: {e}", short(url))),
            }
        }
        if urls.is_empty() {
            reasons.push("no URL configured".to_owned());
        }
        events.push(RegistryEvent::RefreshFailed {
            origin: Some(source),
            reason: reasons.join("; "),
        });
    }

    fn refresh_list(&mut self, events: &mut Vec<RegistryEvent>) {
        let mut reasons = Vec::new();
        for url in self.list_urls.clone() {
            let (bytes, final_url) = match self.fetcher.fetch_located(&url, false) {
                Ok(v) => v,
                Err(e) => {
                    reasons.push(format!("{}: {e}", short(&url)));
                    continue;
                }
            };
            if final_url != url {
                events.push(RegistryEvent::SourceRedirected {
                    origin: None,
                    from: short(&url),
                    to: short(&final_url),
                });
            }
            if bytes.len() > MAX_LIST_BYTES {
                reasons.push(format!("{}: IdP list too large", short(&url)));
                continue;
            }
            match IdpList::parse(&bytes) {
                Ok(list) => {
                    if self.list.as_ref() != Some(&list) {
                        self.write_cache("idp-list.json", &bytes);
                    }
                    self.list = Some(list);
                    return;
                }
                Err(e) => reasons.push(format!("{}: {e}", short(&url))),
            }
        }
        events.push(RegistryEvent::RefreshFailed {
            origin: None,
            reason: reasons.join("; "),
        });
    }

    /// Best effort: a cache that cannot be written does not stop the refresh (the copy
    /// in memory is the one in use).
    fn write_cache(&self, name: &str, bytes: &[u8]) {
        let Some(dir) = &self.cache_dir else {
            return;
        };
        let tmp = dir.join(format!(".{name}.tmp"));
        if std::fs::write(&tmp, bytes).is_ok() {
            let _ = std::fs::rename(&tmp, dir.join(name));
        }
    }

    /// Runs [`Refresher::refresh`] on a background thread now and then every `every`,
    /// with `clock`'s time, until [`RefresherHandle::stop`].
    pub fn spawn(mut self, every: Duration, clock: Arc<dyn Clock>) -> RefresherHandle {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            loop {
                self.refresh(clock.now());
                match stopped.recv_timeout(every) {
                    Err(mpsc::RecvTimeoutError::Timeout) => continue,
                    // Stopped, or the handle was dropped.
                    Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => break,
                }
            }
            self
        });
        RefresherHandle { stop, thread }
    }
}

fn short(s: &str) -> String {
    crate::printable::printable(s, 300)
}

/// The background refresher started by [`Refresher::spawn`]. Dropping it stops the
/// thread after its current refresh.
#[derive(Debug)]
pub struct RefresherHandle {
    stop: mpsc::Sender<()>,
    thread: JoinHandle<Refresher>,
}

impl RefresherHandle {
    /// Stops the thread (after its current refresh) and returns the refresher; `None`
    /// if the thread panicked.
    pub fn stop(self) -> Option<Refresher> {
        let _ = self.stop.send(());
        self.thread.join().ok()
    }
}
