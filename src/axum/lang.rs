//! The language of the pages: Italian or English, from the request's `Accept-Language`
//! (RFC 9110 §12.5.4), Italian by default.

use ::axum::http::header::{self, HeaderMap};

/// The language of the pages and of the login buttons: Italian (the default) or English.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Language {
    /// Italian (`it`): the default, and the answer to anything not clearly English.
    #[default]
    Italian,
    /// English (`en`).
    English,
}

/// Longest `Accept-Language` read (bytes, all header lines together); longer is ignored.
const MAX_HEADER: usize = 1024;
/// Most language ranges read; more is ignored.
const MAX_RANGES: usize = 32;

impl Language {
    /// The BCP 47 tag: `it` or `en` (for `lang` and `Content-Language`).
    pub fn tag(self) -> &'static str {
        match self {
            Language::Italian => "it",
            Language::English => "en",
        }
    }

    /// The language for a request: [`Language::from_accept_language`] of its
    /// `Accept-Language` lines (joined as one list); Italian without one, or when a line
    /// is not visible ASCII.
    pub fn from_headers(headers: &HeaderMap) -> Language {
        let mut joined = String::new();
        for value in headers.get_all(header::ACCEPT_LANGUAGE) {
            let Ok(v) = value.to_str() else {
                return Language::Italian;
            };
            if joined.len() + v.len() + 1 > MAX_HEADER {
                return Language::Italian;
            }
            if !joined.is_empty() {
                joined.push(',');
            }
            joined.push_str(v);
        }
        Language::from_accept_language(&joined)
    }

    /// The language for an `Accept-Language` value: English when the user weighs English
    /// (`en`, `en-GB`, `en-US`, …) strictly above Italian (`it`, `it-IT`, …; `*` counts
    /// for either one not named), Italian otherwise. The weight of a language is the
    /// highest `q` among the ranges that name it (default 1; `q=0` means "not this one").
    /// A malformed value (a bad range, a bad `q`, another parameter), an empty one, or
    /// one over 1024 bytes or 32 ranges gives Italian.
    pub fn from_accept_language(value: &str) -> Language {
        parse(value)
            .filter(|(en, it)| en > it)
            .map_or(Language::Italian, |_| Language::English)
    }
}

/// The weights (thousandths) of English and Italian, or `None` when malformed.
fn parse(value: &str) -> Option<(u16, u16)> {
    if value.len() > MAX_HEADER {
        return None;
    }
    let (mut en, mut it, mut any): (Option<u16>, Option<u16>, Option<u16>) = (None, None, None);
    let mut ranges = 0;
    // `#rule` lists may carry empty elements ("a, , b").
    for element in value.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        ranges += 1;
        if ranges > MAX_RANGES {
            return None;
        }
        let mut parts = element.split(';');
        let range = parts.next()?.trim();
        let mut q = 1000;
        if let Some(param) = parts.next() {
            let (name, v) = param.trim().split_once('=')?;
            if !name.eq_ignore_ascii_case("q") {
                return None;
            }
            q = qvalue(v)?;
        }
        if parts.next().is_some() {
            return None;
        }
        let slot = if range == "*" {
            &mut any
        } else {
            match primary_subtag(range)?.to_ascii_lowercase().as_str() {
                "en" => &mut en,
                "it" => &mut it,
                _ => continue,
            }
        };
        *slot = Some(slot.map_or(q, |old| old.max(q)));
    }
    if ranges == 0 {
        return None;
    }
    let weight = |named: Option<u16>| named.or(any).unwrap_or(0);
    Some((weight(en), weight(it)))
}

/// The primary subtag of a well-formed language range (`1*8ALPHA *("-" 1*8alphanum)`).
fn primary_subtag(range: &str) -> Option<&str> {
    let mut subtags = range.split('-');
    let primary = subtags.next()?;
    let ok = |s: &str, alpha_only: bool| {
        (1..=8).contains(&s.len())
            && s.bytes().all(|b| {
                if alpha_only {
                    b.is_ascii_alphabetic()
                } else {
                    b.is_ascii_alphanumeric()
                }
            })
    };
    (ok(primary, true) && subtags.all(|s| ok(s, false))).then_some(primary)
}

/// A `qvalue` in thousandths: `0[.ddd]` or `1[.000]`.
fn qvalue(v: &str) -> Option<u16> {
    let (int, frac) = v.split_once('.').unwrap_or((v, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut thousandths: u16 = 0;
    for (i, b) in frac
        .bytes()
        .chain(std::iter::repeat(b'0'))
        .take(3)
        .enumerate()
    {
        let digit = u16::from(b - b'0');
        thousandths += digit * [100, 10, 1].get(i).copied().unwrap_or(0);
    }
    match int {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Language::{English as En, Italian as It};

    #[test]
    fn accept_language() {
        for (value, want) in [
            ("en", En),
            ("EN-gb", En),
            ("en-US,en;q=0.9", En),
            ("en-US,en;q=0.9,it;q=0.8", En),
            ("de, en;q=0.5", En),
            ("it;q=0.5, en;q=0.8", En),
            ("en-GB;q=0.2, en;q=0.9, it;q=0.5", En),
            ("*;q=0.1, en", En),
            ("en , , it;q=0.1", En),
            ("en;Q=1.000", En),
            ("", It),
            ("it", It),
            ("it-IT,it;q=0.9,en-US;q=0.8,en;q=0.7", It),
            ("fr", It),
            ("fr-CH, fr;q=0.9, de;q=0.8", It),
            ("*", It),
            ("en;q=0", It),
            ("en;q=0.5, it;q=0.5", It),
            ("en;q=0.5, *", It),
            ("english", It),
            ("enx-GB", It),
            ("en_GB", It),
            ("en;q=2", It),
            ("en;q=1.5", It),
            ("en;q=0.1234", It),
            ("en;q=", It),
            ("en;q=.5", It),
            ("en;q=abc", It),
            ("en;level=1", It),
            ("en;q=0.5;q=0.6", It),
            ("en-", It),
            ("en-toolongsubtag", It),
            ("<script>", It),
            (",", It),
        ] {
            assert_eq!(Language::from_accept_language(value), want, "{value:?}");
        }
        let many = vec!["fr"; MAX_RANGES].join(",") + ",en";
        assert_eq!(Language::from_accept_language(&many), It, "too many ranges");
        let long = format!("en;q=0.9,{}", "x".repeat(MAX_HEADER));
        assert_eq!(Language::from_accept_language(&long), It, "too long");
    }

    #[test]
    fn from_headers() {
        use ::axum::http::HeaderValue;
        let mut h = HeaderMap::new();
        assert_eq!(Language::from_headers(&h), It);
        h.append(header::ACCEPT_LANGUAGE, HeaderValue::from_static("fr"));
        h.append(
            header::ACCEPT_LANGUAGE,
            HeaderValue::from_static("en;q=0.5"),
        );
        assert_eq!(Language::from_headers(&h), En, "lines joined");
        h.append(
            header::ACCEPT_LANGUAGE,
            HeaderValue::from_bytes(b"en\xff").unwrap(),
        );
        assert_eq!(Language::from_headers(&h), It, "not visible ASCII");
        assert_eq!(En.tag(), "en");
        assert_eq!(It.tag(), "it");
    }
}
