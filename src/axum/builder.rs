//! [`SpidAuthBuilder`]: every setting of the integration, with safe defaults.

#[allow(unused_imports)]
use super::*;

impl SpidAuthBuilder {
    /// The signed SP metadata to serve at `{prefix}/metadata`
    /// (see `spid_sp::metadata::SpMetadata`).
    pub fn metadata_xml(mut self, xml: impl Into<String>) -> Self {
        self.inner.metadata_xml = Some(xml.into());
        self
    }
    /// The path prefix of the endpoints (default `/spid`); must match the ACS and SLO
    /// URLs of the configuration.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.inner.prefix = prefix.into().trim_end_matches('/').to_owned();
        self
    }
    /// Mark cookies `Secure` and give them the `__Host-` prefix (default true). Only turn
    /// it off for plain-http development on loopback.
    pub fn secure_cookies(mut self, yes: bool) -> Self {
        self.inner.secure_cookies = yes;
        self
    }
    /// The default options of every login (level, comparison, binding...); `/login`'s
    /// `binding` parameter overrides them, its `level` parameter may only raise the
    /// level (a lower one is refused with 400). `level` is also the minimum of every
    /// session the [`Session`] extractor gives ([`SpidAuth::minimum_level`]).
    pub fn login_options(mut self, options: LoginOptions) -> Self {
        self.inner.login_options = options;
        self
    }
    /// A last adjustment of each login's options for the IdP it goes to. It may raise the
    /// level, not lower it: the level asked for before the hook (the configured one, or
    /// `/login`'s higher `level`) is applied again after it.
    pub fn options_for_idp(
        mut self,
        hook: impl Fn(&IdentityProvider, &mut LoginOptions) + Send + Sync + 'static,
    ) -> Self {
        self.inner.options_hook = Some(Arc::new(hook));
        self
    }
    /// Called with every verified login (e.g. to keep AgID's transaction log).
    pub fn on_login(mut self, hook: impl Fn(&VerifiedLogin) + Send + Sync + 'static) -> Self {
        self.inner.login_hook = Some(Arc::new(hook));
        self
    }
    /// Called with the session of every completed login, whatever the credential: SAML
    /// (SPID, CIE, eIDAS), "Entra con CNS" and CIE over OpenID Connect — e.g. to provision
    /// the user by [`Session::key`](crate::axum::Session::key). Runs on the blocking pool,
    /// once per login, after the login's registry record is durable and before the
    /// browser is sent to `/complete`. ([`on_login`](Self::on_login) gets the SAML
    /// login itself, with the Response.)
    pub fn on_session(mut self, hook: impl Fn(&Session) + Send + Sync + 'static) -> Self {
        self.inner.session_hook = Some(Arc::new(hook));
        self
    }
    /// Where users without a session are sent, with `?next=`: the page with the login
    /// buttons (default `/`).
    pub fn login_page(mut self, path: impl Into<String>) -> Self {
        self.inner.login_page = path.into();
        self
    }
    /// Where a login lands when it has no valid `next` (default `/`).
    pub fn after_login(mut self, path: impl Into<String>) -> Self {
        self.inner.after_login = path.into();
        self
    }
    /// Where a logout lands (default `/`).
    pub fn after_logout(mut self, path: impl Into<String>) -> Self {
        self.inner.after_logout = path.into();
        self
    }
    /// The absolute lifetime of a session, in seconds (default 8 hours).
    pub fn session_lifetime_secs(mut self, secs: i64) -> Self {
        self.inner.session_secs = secs.max(60);
        self
    }
    /// The idle timeout of a session, in seconds (default 30 minutes,
    /// [`DEFAULT_SESSION_IDLE_SECS`]; at least 60): a session not used for this long
    /// ends, whatever its absolute lifetime ([`SpidAuthBuilder::session_lifetime_secs`]).
    /// Uses are recorded at most once a minute.
    pub fn session_idle_timeout_secs(mut self, secs: i64) -> Self {
        self.inner.idle_secs = secs.max(60);
        self
    }
    /// The binding of SP-initiated LogoutRequests (default HTTP-Redirect; the other one
    /// is used when the IdP has no endpoint for it).
    pub fn logout_binding(mut self, binding: Binding) -> Self {
        self.inner.logout_binding = binding;
        self
    }
    /// Where pending logins are kept (default in memory).
    pub fn pending_store(mut self, store: Arc<dyn PendingStore>) -> Self {
        self.inner.pending = store;
        self
    }
    /// Where sessions, hand-offs and pending logouts are kept (default in memory).
    pub fn session_store(mut self, store: Arc<dyn SessionStore>) -> Self {
        self.inner.sessions = store;
        self
    }
    /// The error pages.
    pub fn pages(mut self, pages: Arc<dyn Pages>) -> Self {
        self.inner.pages = pages;
        self
    }
    /// Trusts IdPs whose metadata marks them as test IdPs
    /// ([`IdentityProvider::is_test_idp`], e.g. the SDK's `test_idp`). Without this they
    /// are refused at `/login`, at the ACS and at `/slo`, so test-IdP metadata loaded
    /// into a production SP by mistake logs no one in. Only with the `test-idp` feature.
    #[cfg(feature = "test-idp")]
    #[cfg_attr(docsrs, doc(cfg(feature = "test-idp")))]
    pub fn allow_test_idp(mut self, mode: crate::metadata::idp::TestIdpMode) -> Self {
        let crate::metadata::idp::TestIdpMode::IKnowThisIsNotAnAccreditedIdp = mode;
        self.inner.allow_test_idp = true;
        self.inner.sp = self.inner.sp.allow_test_idp(mode);
        self
    }
    /// At most this many pending logins per client (default
    /// [`DEFAULT_PENDING_PER_CLIENT`], 32; at least 1): past it, the client's oldest
    /// pending logins are evicted ([`PendingStore::put_for_client`]), so one client that
    /// floods `/login` cannot fill the store for everyone. A client is the peer address
    /// (IPv6: its /64), which needs the server to be run with
    /// `app.into_make_service_with_connect_info::<SocketAddr>()`; without it every
    /// client shares one bucket, the store's global bound. Behind a reverse proxy, see
    /// [`SpidAuthBuilder::trusted_proxy_header`] or [`SpidAuthBuilder::client_key`].
    pub fn pending_per_client(mut self, cap: usize) -> Self {
        self.inner.per_client_cap = cap.max(1);
        self
    }
    /// Behind a trusted reverse proxy: the client is the **last** address of this header
    /// (e.g. `x-forwarded-for`, the entry the proxy appended; `x-real-ip`). Only set it
    /// when every request comes through a proxy that sets the header: anyone reaching the
    /// application directly could choose their client key. Without the header, or when it
    /// does not end with an IP address, the peer address counts.
    pub fn trusted_proxy_header(mut self, name: HeaderName) -> Self {
        self.inner.proxy_header = Some(name);
        self
    }
    /// Names the client of a request (for the per-client bound on pending logins) with
    /// the application's own rule; `None` falls back to
    /// [`SpidAuthBuilder::trusted_proxy_header`] and the peer address. The key is hashed
    /// before it reaches a store.
    pub fn client_key(
        mut self,
        hook: impl Fn(&Parts) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.inner.client_key = Some(Arc::new(hook));
        self
    }
    /// One more origin (`https://host[:port]`) accepted on `POST /logout`, besides the
    /// origins of the SP's ACS URLs (e.g. the application's pages on another host that
    /// show the logout button). Not a valid origin: ignored.
    pub fn trusted_origin(mut self, origin: &str) -> Self {
        if let Some(o) = normalize_origin(origin) {
            self.inner.extra_origins.push(o);
        }
        self
    }
    /// Take each request's ID (the `http_request_id` of the `http` span, echoed in the
    /// `x-request-id` response header) from this header, e.g. `x-request-id` set by a
    /// trusted reverse proxy, so that its logs and the SP's share one ID. Only set it
    /// when a proxy you run sets (or strips) the header on every request. A missing,
    /// repeated or malformed value (not 1–64 characters of `A-Z a-z 0-9 . _ : -`) is
    /// replaced by a generated ID. Default: every request gets a generated ID and any
    /// incoming header is ignored.
    pub fn request_id_header(mut self, name: HeaderName) -> Self {
        self.inner.request_id_header = Some(name);
        self
    }

    /// Writes the transaction registry AgID requires (every AuthnRequest, Response and
    /// logout message, 24 months: `spid_sp::audit`). A record that cannot be written
    /// stops the step: `/login` and the ACS answer 503 with the courtesy page and nothing
    /// is accepted.
    pub fn audit_log(mut self, log: Arc<dyn crate::audit::AuditLog>) -> Self {
        self.inner.sp = self.inner.sp.with_audit(log);
        self
    }
    /// Makes this the integration of one tenant (`crate::tenants`): cookie names end in
    /// `-ID` and session records carry the ID, checked on every read.
    #[cfg(feature = "tenants")]
    pub(crate) fn tenant(mut self, id: &str) -> Self {
        self.inner.tenant = Some(id.to_owned());
        self
    }
    /// Turns on "Entra con CNS" (smart-card login, docs/cns.md "Login flow"):
    /// `GET {prefix}/cns` and `GET {prefix}/cns/certificate`.
    pub fn cns(mut self, config: CnsConfig) -> Self {
        self.inner.cns = Some(config);
        self
    }
    /// The integration.
    pub fn build(mut self) -> SpidAuth {
        let mut origins: Vec<String> = self
            .inner
            .sp
            .config()
            .assertion_consumer_services()
            .iter()
            .filter_map(|acs| normalize_origin(&acs.url))
            .collect();
        origins.append(&mut self.inner.extra_origins);
        origins.sort();
        origins.dedup();
        self.inner.origins = origins;
        SpidAuth {
            inner: Arc::new(self.inner),
        }
    }
}
