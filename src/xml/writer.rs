//! Escaping for the XML the SDK writes (requests, metadata, responses of the test IdP).
//!
//! Documents are written with `write!` into a `String`; every interpolated value goes
//! through [`text`] or [`attr`].

use std::borrow::Cow;

/// Escapes `s` for use as element text.
pub fn text(s: &str) -> Cow<'_, str> {
    escape(s, false)
}

/// Escapes `s` for use inside a double-quoted attribute value.
pub fn attr(s: &str) -> Cow<'_, str> {
    escape(s, true)
}

fn escape(s: &str, attr: bool) -> Cow<'_, str> {
    let needs = |c: char| match c {
        '&' | '<' | '>' | '\r' => true,
        '"' | '\t' | '\n' => attr,
        _ => false,
    };
    if !s.chars().any(needs) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#xD;"),
            '"' if attr => out.push_str("&quot;"),
            '\t' if attr => out.push_str("&#x9;"),
            '\n' if attr => out.push_str("&#xA;"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes() {
        assert_eq!(super::text("a<b&c>\"\n"), "a&lt;b&amp;c&gt;\"\n");
        assert_eq!(super::attr("a\"b\n"), "a&quot;b&#xA;");
        assert!(matches!(
            super::text("plain"),
            std::borrow::Cow::Borrowed(_)
        ));
    }
}
