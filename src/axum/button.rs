//! The login buttons ([`LoginButtons`]): "Entra con SPID" with the IdPs of the running
//! set, and "Entra con CIE" / "Login with eIDAS" beside it, rendered on the server as an
//! HTML fragment the application puts in its own page.
//!
//! What AgID's button guidelines ask, and how it is met here:
//! - **the IdP list comes from the registry**: the IdPs are read from the running
//!   [`IdpSet`](crate::IdpSet) at every render, so a registry refresh shows at once;
//! - **random order** of the SPID IdPs, drawn per render from the CSPRNG (a test IdP,
//!   when trusted, stays first and is marked as such);
//! - **IdP names**, never an entityID: the metadata's `OrganizationDisplayName`; when it
//!   is missing or is itself a URL, the host name (never a full URL);
//! - **texts, colours, sizes**: "Entra con SPID" / "Sign in with SPID", SPID blue
//!   `#0066CC` with white text, sizes S, M, L, XL (150, 220, 280, 340 px wide); "Entra
//!   con CIE" in the same style; "Login with eIDAS" in EU blue `#003399`.
//!
//! A button is offered only when the SP can log in through it: the eIDAS node needs
//! the SP's AttributeConsumingService 99 or 100 (the `eidas` attribute sets), so an SP
//! without them shows no "Login with eIDAS" even when the node is trusted.
//!
//! It needs no JavaScript and fetches nothing from another site: the chooser is a native
//! `<details>` disclosure, every IdP is a plain link to `{prefix}/login?idp=…&next=…`,
//! and the stylesheet is served by the integration at `{prefix}/button.css` (or embedded
//! by the application: [`BUTTON_CSS`]). Logos are optional and come from a local path
//! the integrator serves ([`LoginButtons::logo_dir`]); the default is text only.

use std::collections::HashMap;
use std::fmt::Write as _;

use ::axum::http::header;
use ::axum::response::{IntoResponse, Response};

use super::{safe_next, Language, SpidAuth};
use crate::federation::Federation;
use crate::level::SpidLevel;
use crate::metadata::IdentityProvider;
use crate::sp::ServiceProvider;
use crate::xml::writer::{attr, text};

/// The size of the buttons, after AgID's guidelines (S, M, L, XL).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ButtonSize {
    /// S: 150 px wide.
    Small,
    /// M: 220 px wide (default).
    #[default]
    Medium,
    /// L: 280 px wide.
    Large,
    /// XL: 340 px wide.
    ExtraLarge,
}

impl ButtonSize {
    fn class(self) -> &'static str {
        match self {
            ButtonSize::Small => "spid-sp-size-s",
            ButtonSize::Medium => "spid-sp-size-m",
            ButtonSize::Large => "spid-sp-size-l",
            ButtonSize::ExtraLarge => "spid-sp-size-xl",
        }
    }
}

/// The language of the buttons' texts (Italian by default): the pages' [`Language`]
/// (`ButtonLanguage::Italian` and `ButtonLanguage::English` keep working). For the
/// request's language: `.language(Language::from_headers(&headers))`.
pub type ButtonLanguage = Language;

struct Texts {
    lang: &'static str,
    spid: &'static str,
    cie: &'static str,
    choose: &'static str,
    more: &'static str,
    no_spid: &'static str,
    test_mark: &'static str,
    others: &'static str,
}

impl Language {
    fn texts(self) -> Texts {
        match self {
            ButtonLanguage::Italian => Texts {
                lang: "it",
                spid: "Entra con SPID",
                cie: "Entra con CIE",
                choose: "Scegli il tuo provider SPID",
                more: "Maggiori informazioni su SPID",
                no_spid: "Non hai SPID?",
                test_mark: "di prova, non accreditato",
                others: "Altri accessi",
            },
            ButtonLanguage::English => Texts {
                lang: "en",
                spid: "Sign in with SPID",
                cie: "Sign in with CIE",
                choose: "Choose your SPID provider",
                more: "More about SPID",
                no_spid: "Don't have SPID?",
                test_mark: "test, not accredited",
                others: "Other ways to sign in",
            },
        }
    }
}

/// "Login with eIDAS": the eIDAS node's button text, in English in every language.
const EIDAS_TEXT: &str = "Login with eIDAS";
const SPID_INFO_URL: &str = "https://www.spid.gov.it/";
const SPID_GET_URL: &str = "https://www.spid.gov.it/cos-e-spid/come-attivare-spid/";
/// The production CIE ID entityID: the "Entra con CIE" button goes there when several
/// CIE IdPs (e.g. the pre-production one) are trusted.
const CIE_PRODUCTION_HOST: &str = "idserver.servizicie.interno.gov.it";
/// Longest IdP name shown (characters); longer ones are cut with an ellipsis.
const MAX_NAME: usize = 80;

/// The login buttons of a page: build with [`SpidAuth::login_buttons`], adjust, and
/// [`render`](LoginButtons::render) into the application's own HTML.
///
/// ```no_run
/// # fn page(auth: &spid_sp::axum::SpidAuth) -> String {
/// use spid_sp::axum::ButtonSize;
/// let buttons = auth.login_buttons().next("/me").size(ButtonSize::Large).render();
/// format!("<!DOCTYPE html><html lang=\"it\"><head><title>Accedi</title></head>\
///          <body><main><h1>Accedi</h1>{buttons}</main></body></html>")
/// # }
/// ```
#[derive(Clone, Debug)]
#[must_use]
pub struct LoginButtons {
    auth: SpidAuth,
    next: Option<String>,
    level: Option<SpidLevel>,
    size: ButtonSize,
    language: ButtonLanguage,
    logo_dir: Option<String>,
    names: HashMap<String, String>,
    stylesheet_link: bool,
}

impl SpidAuth {
    /// The login buttons for a page, with the IdPs trusted right now (see
    /// [`LoginButtons`]).
    pub fn login_buttons(&self) -> LoginButtons {
        LoginButtons {
            auth: self.clone(),
            next: None,
            level: None,
            size: ButtonSize::default(),
            language: ButtonLanguage::default(),
            logo_dir: None,
            names: HashMap::new(),
            stylesheet_link: true,
        }
    }
}

impl LoginButtons {
    /// Where the user lands after the login: a local path (e.g. the `next` the level
    /// guard put in the login page's query); anything else is ignored and the default
    /// landing page applies.
    pub fn next(mut self, next: &str) -> Self {
        self.next = safe_next(next);
        self
    }

    /// The level to ask for (never below the configured minimum: see
    /// [`SpidAuth::login_url`]).
    pub fn level(mut self, level: SpidLevel) -> Self {
        self.level = Some(level);
        self
    }

    /// The size of the buttons (default [`ButtonSize::Medium`]).
    pub fn size(mut self, size: ButtonSize) -> Self {
        self.size = size;
        self
    }

    /// The language of the texts (default Italian). The fragment carries its `lang`.
    pub fn language(mut self, language: ButtonLanguage) -> Self {
        self.language = language;
        self
    }

    /// Show logos, served by the application from this local path (`/…`, not another
    /// site: nothing is fetched from elsewhere at run time): `{dir}/spid.svg`,
    /// `{dir}/cie.svg`, `{dir}/eidas.svg`, and for each IdP `{dir}/idp/{host}.svg`
    /// (`host`: the host name of its entityID). The logos are decorative (`alt=""`):
    /// the texts name everything. Not a local path: ignored (text only, the default).
    pub fn logo_dir(mut self, dir: &str) -> Self {
        self.logo_dir = safe_next(dir).map(|d| d.trim_end_matches('/').to_owned());
        self
    }

    /// The name to show for one IdP, instead of its metadata's display name.
    pub fn idp_name(mut self, entity_id: &str, name: &str) -> Self {
        self.names.insert(entity_id.to_owned(), name.to_owned());
        self
    }

    /// Leave out the `<link rel="stylesheet" href="{prefix}/button.css">` that starts
    /// the fragment, when the page links the stylesheet (or embeds [`BUTTON_CSS`]) itself.
    pub fn without_stylesheet_link(mut self) -> Self {
        self.stylesheet_link = false;
        self
    }

    /// The HTML fragment: the SPID chooser, then the CIE and eIDAS buttons when such
    /// IdPs are trusted (and the SP can use them: eIDAS needs attribute service 99 or
    /// 100). A new random order of the SPID IdPs at every call.
    pub fn render(&self) -> String {
        let t = self.language.texts();
        let sp = self.auth.service_provider();
        let allow_test = self.auth.allows_test_idp();
        let mut spid = Vec::new();
        let mut test = Vec::new();
        let mut cie = Vec::new();
        let mut eidas = Vec::new();
        for idp in sp.idps() {
            if !serves(sp, idp.federation()) {
                // Its login could only fail (the eIDAS node without the SP's attribute
                // services 99/100): not offered.
                continue;
            }
            if idp.is_test_idp() {
                // Refused at /login unless trusted: not offered either.
                if allow_test {
                    test.push(idp);
                }
                continue;
            }
            match idp.federation() {
                Federation::Spid => spid.push(idp),
                Federation::Cie => cie.push(idp),
                Federation::Eidas => eidas.push(idp),
            }
        }
        let by_id = |a: &std::sync::Arc<IdentityProvider>, b: &std::sync::Arc<IdentityProvider>| {
            a.entity_id().as_str().cmp(b.entity_id().as_str())
        };
        test.sort_by(by_id);
        spid.sort_by(by_id);
        shuffle(&mut spid);
        cie.sort_by_key(|i| {
            (
                host(i.entity_id().as_str()) != CIE_PRODUCTION_HOST,
                i.entity_id().as_str().to_owned(),
            )
        });
        eidas.sort_by(by_id);

        let mut b = String::with_capacity(4096);
        let _ = write!(
            b,
            "<div class=\"spid-sp-buttons {}\" lang=\"{}\">",
            self.size.class(),
            t.lang
        );
        if self.stylesheet_link {
            let _ = write!(
                b,
                "<link rel=\"stylesheet\" href=\"{}/button.css\">",
                attr(self.auth.prefix())
            );
        }
        if !spid.is_empty() || !test.is_empty() {
            b.push_str("<details class=\"spid-sp-chooser\"><summary class=\"spid-sp-button spid-sp-button-spid\">");
            self.logo(&mut b, "spid.svg");
            let _ = write!(
                b,
                "<span>{}</span></summary><nav class=\"spid-sp-panel\" aria-label=\"{}\"><ul class=\"spid-sp-idps\">",
                text(t.spid),
                attr(t.choose)
            );
            for idp in &test {
                self.idp_item(&mut b, idp, Some(t.test_mark));
            }
            for idp in &spid {
                self.idp_item(&mut b, idp, None);
            }
            let _ = write!(
                b,
                "</ul><ul class=\"spid-sp-help\"><li><a href=\"{SPID_INFO_URL}\">{}</a></li>\
                 <li><a href=\"{SPID_GET_URL}\">{}</a></li></ul></nav></details>",
                text(t.more),
                text(t.no_spid)
            );
        }
        let mut others = Vec::new();
        if let Some((first, rest)) = cie.split_first() {
            self.button(&mut b, first, "spid-sp-button-cie", "cie.svg", t.cie, None);
            others.extend(rest.iter().map(|i| ("CIE", i)));
        }
        if let Some((first, rest)) = eidas.split_first() {
            let lang = (self.language != ButtonLanguage::English).then_some("en");
            self.button(
                &mut b,
                first,
                "spid-sp-button-eidas",
                "eidas.svg",
                EIDAS_TEXT,
                lang,
            );
            others.extend(rest.iter().map(|i| ("eIDAS", i)));
        }
        if !others.is_empty() {
            let _ = write!(
                b,
                "<nav class=\"spid-sp-others\" aria-label=\"{}\"><ul>",
                attr(t.others)
            );
            for (kind, idp) in others {
                let _ = write!(
                    b,
                    "<li><a href=\"{}\" data-entity-id=\"{}\">{kind} – {}</a></li>",
                    attr(&self.url(idp)),
                    attr(idp.entity_id().as_str()),
                    text(&self.name(idp))
                );
            }
            b.push_str("</ul></nav>");
        }
        b.push_str("</div>");
        b
    }

    fn url(&self, idp: &IdentityProvider) -> String {
        self.auth
            .login_url(idp.entity_id().as_str(), self.level, self.next.as_deref())
    }

    fn name(&self, idp: &IdentityProvider) -> String {
        let id = idp.entity_id().as_str();
        match self.names.get(id) {
            Some(n) => human_name(Some(n), id),
            None => human_name(idp.display_name(), id),
        }
    }

    fn logo(&self, b: &mut String, file: &str) {
        if let Some(dir) = &self.logo_dir {
            let _ = write!(
                b,
                "<img class=\"spid-sp-logo\" src=\"{}/{}\" alt=\"\">",
                attr(dir),
                attr(file)
            );
        }
    }

    fn idp_item(&self, b: &mut String, idp: &IdentityProvider, mark: Option<&str>) {
        let id = idp.entity_id().as_str();
        let _ = write!(
            b,
            "<li><a class=\"spid-sp-idp\" href=\"{}\" data-entity-id=\"{}\">",
            attr(&self.url(idp)),
            attr(id)
        );
        if let Some(dir) = &self.logo_dir {
            let file = logo_file(id);
            let _ = write!(
                b,
                "<img class=\"spid-sp-idp-logo\" src=\"{}/idp/{}.svg\" alt=\"\">",
                attr(dir),
                attr(&file)
            );
        }
        let _ = write!(
            b,
            "<span class=\"spid-sp-idp-name\">{}</span>",
            text(&self.name(idp))
        );
        if let Some(m) = mark {
            let _ = write!(b, " <span class=\"spid-sp-test-mark\">({})</span>", text(m));
        }
        b.push_str("</a></li>");
    }

    fn button(
        &self,
        b: &mut String,
        idp: &IdentityProvider,
        class: &str,
        logo: &str,
        label: &str,
        lang: Option<&str>,
    ) {
        let _ = write!(
            b,
            "<a class=\"spid-sp-button {class}\" href=\"{}\" data-entity-id=\"{}\"",
            attr(&self.url(idp)),
            attr(idp.entity_id().as_str())
        );
        if let Some(l) = lang {
            let _ = write!(b, " lang=\"{l}\"");
        }
        b.push('>');
        self.logo(b, logo);
        let _ = write!(b, "<span>{}</span></a>", text(label));
    }
}

impl std::fmt::Display for LoginButtons {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.render())
    }
}

/// Whether the SP can send a valid request to an IdP of `federation`: the eIDAS node
/// asks for AttributeConsumingService 99 or 100, so an SP whose metadata has neither
/// cannot log in through it.
fn serves(sp: &ServiceProvider, federation: Federation) -> bool {
    federation
        .rules()
        .attribute_service_indexes
        .is_none_or(|fixed| {
            sp.config()
                .attribute_services
                .iter()
                .any(|s| fixed.contains(&s.index))
        })
}

/// Fisher–Yates with the CSPRNG. Should the generator fail, the order stays as given
/// (by entityID): the page still works, and `/login` will report the failure.
fn shuffle<T>(items: &mut [T]) {
    let n = items.len();
    if n < 2 {
        return;
    }
    let Ok(hex) = crate::ids::random_token("", 4 * n) else {
        return;
    };
    let draws: Vec<u32> = hex
        .as_bytes()
        .chunks(8)
        .filter_map(|c| std::str::from_utf8(c).ok())
        .filter_map(|c| u32::from_str_radix(c, 16).ok())
        .collect();
    for (i, r) in (1..n).rev().zip(draws) {
        // n is small (tens of IdPs): the modulo bias is below 1e-8.
        let j = (r as usize) % (i + 1);
        items.swap(i, j);
    }
}

/// The host name of a URL-like string (scheme, user info, port and path removed; a
/// leading `www.` too); `None` when there is none.
fn host(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit('@').next().unwrap_or_default();
    let host = if host_port.starts_with('[') {
        host_port
            .split(']')
            .next()
            .map_or("", |h| h.trim_start_matches('['))
    } else {
        host_port.split(':').next().unwrap_or_default()
    };
    let host = host.to_ascii_lowercase();
    host.strip_prefix("www.").map(str::to_owned).unwrap_or(host)
}

/// A logo file name from an entityID: its host, with anything but `[a-z0-9.-]` dropped.
fn logo_file(entity_id: &str) -> String {
    host(entity_id)
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '-')
        .collect()
}

/// The name users see: the display name, tidied (control characters removed, spaces
/// collapsed, at most [`MAX_NAME`] characters); when it is missing or a URL itself, the
/// host name (of that URL, else of the entityID); never a full URL.
pub(crate) fn human_name(display_name: Option<&str>, entity_id: &str) -> String {
    let tidy: String = display_name
        .unwrap_or_default()
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let looks_like_url = |s: &str| {
        let lower = s.to_ascii_lowercase();
        s.contains("://") || lower.starts_with("www.")
    };
    let name = if tidy.is_empty() {
        host(entity_id)
    } else if looks_like_url(&tidy) {
        let h = host(&tidy);
        if h.is_empty() {
            host(entity_id)
        } else {
            h
        }
    } else {
        tidy
    };
    let name = if name.is_empty() {
        "SPID".to_owned()
    } else {
        name
    };
    if name.chars().count() > MAX_NAME {
        let mut cut: String = name.chars().take(MAX_NAME - 1).collect();
        cut.push('…');
        cut
    } else {
        name
    }
}

/// `GET {prefix}/button.css`.
pub(super) async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        BUTTON_CSS,
    )
        .into_response()
}

/// The stylesheet of [`LoginButtons`], served at `{prefix}/button.css`; every class is
/// prefixed `spid-sp-`. Colours: SPID blue `#0066CC` (white text: contrast 5.6:1),
/// darker on hover and focus; eIDAS `#003399`; a visible focus ring on every control.
pub const BUTTON_CSS: &str = r#".spid-sp-buttons{display:flex;flex-direction:column;align-items:flex-start;gap:.75rem;font-family:"Titillium Web",system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;line-height:1.3}
.spid-sp-buttons *{box-sizing:border-box}
.spid-sp-button{display:inline-flex;align-items:center;gap:.6em;padding:.6em 1em;border:0;border-radius:4px;background:#0066cc;color:#fff;font-weight:600;text-decoration:none;cursor:pointer}
.spid-sp-button:hover,.spid-sp-button:focus-visible{background:#004c99;color:#fff}
.spid-sp-button:active{background:#003366}
.spid-sp-button-eidas{background:#003399}
.spid-sp-button-eidas:hover,.spid-sp-button-eidas:focus-visible{background:#002266}
.spid-sp-buttons a:focus-visible,.spid-sp-buttons summary:focus-visible{outline:3px solid #17324d;outline-offset:3px}
.spid-sp-size-s .spid-sp-button{min-width:150px;font-size:12px}
.spid-sp-size-m .spid-sp-button{min-width:220px;font-size:15px}
.spid-sp-size-l .spid-sp-button{min-width:280px;font-size:20px}
.spid-sp-size-xl .spid-sp-button{min-width:340px;font-size:25px}
.spid-sp-logo{width:1.6em;height:1.6em}
.spid-sp-chooser>summary{list-style:none}
.spid-sp-chooser>summary::-webkit-details-marker{display:none}
.spid-sp-chooser>summary::after{content:"";margin-left:auto;border:.35em solid transparent;border-top-color:currentColor;transform:translateY(.2em)}
.spid-sp-chooser[open]>summary::after{border-top-color:transparent;border-bottom-color:currentColor;transform:translateY(-.2em)}
.spid-sp-panel{margin-top:.4rem;max-width:22rem;background:#fff;border:1px solid #c5d0dc;border-radius:4px;box-shadow:0 2px 6px rgba(0,0,0,.15)}
.spid-sp-idps,.spid-sp-help,.spid-sp-others ul{list-style:none;margin:0;padding:0}
.spid-sp-idp{display:flex;flex-wrap:wrap;align-items:center;gap:.2em .6em;padding:.7em 1em;border-bottom:1px solid #e3e9ef;color:#0066cc;font-weight:600;text-decoration:none}
.spid-sp-idp:hover{background:#e6f0fa;text-decoration:underline}
.spid-sp-idp-logo{width:1.5em;height:1.5em}
.spid-sp-test-mark{font-weight:400;color:#a4000f}
.spid-sp-help{padding:.5em 1em;font-size:.9em}
.spid-sp-help a,.spid-sp-others a{color:#004c99}
.spid-sp-others{font-size:.9em}
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_human() {
        let id = "https://identity.example.it/idp";
        assert_eq!(
            human_name(Some("Poste Italiane SpA"), id),
            "Poste Italiane SpA"
        );
        assert_eq!(human_name(Some("  Aruba\n\tPEC  "), id), "Aruba PEC");
        assert_eq!(human_name(Some("http://www.sielte.it"), id), "sielte.it");
        assert_eq!(human_name(Some("www.example.com"), id), "example.com");
        assert_eq!(human_name(None, id), "identity.example.it");
        assert_eq!(
            human_name(Some(""), "https://u@h.example:8443/x"),
            "h.example"
        );
        assert_eq!(human_name(Some("https://"), id), "identity.example.it");
        assert_eq!(human_name(None, "not a url"), "not a url");
        assert_eq!(human_name(None, ""), "SPID");
        let long = "x ".repeat(100);
        let n = human_name(Some(&long), id);
        assert_eq!(n.chars().count(), MAX_NAME);
        assert!(n.ends_with('…'));
        for n in [
            human_name(Some("https://evil.example/a"), id),
            human_name(None, "https://[2001:db8::1]:443/x"),
        ] {
            assert!(!n.contains("://") && !n.contains('/'), "{n}");
        }
    }

    #[test]
    fn logo_files_are_plain() {
        assert_eq!(logo_file("https://posteid.poste.it"), "posteid.poste.it");
        assert_eq!(logo_file("https://x/\"><script>"), "x");
        assert_eq!(logo_file("https://a\"b.example/"), "ab.example");
    }

    #[test]
    fn shuffle_keeps_every_item_and_varies() {
        let base: Vec<u32> = (0..12).collect();
        let mut orders = std::collections::HashSet::new();
        for _ in 0..20 {
            let mut v = base.clone();
            shuffle(&mut v);
            let mut sorted = v.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, base);
            orders.insert(v);
        }
        assert!(orders.len() > 1);
        let mut one = vec![7];
        shuffle(&mut one);
        assert_eq!(one, [7]);
    }
}
