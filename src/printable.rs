//! Text from untrusted input made safe to print in an error message or a log line, and
//! bytes as hex. Imports nothing: the XML and signature layers use it too.

/// `bytes` as lower-case hex (digests, store keys, request IDs: some on every request).
pub(crate) fn hex(bytes: &[u8]) -> String {
    let digit = |n: u8| char::from(if n < 10 { b'0' + n } else { b'a' + n - 10 });
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(digit(b >> 4));
        s.push(digit(b & 0x0f));
    }
    s
}

/// `s` with every character that could forge or hide log content escaped as `\u{..}`:
/// control characters (CR, LF, ESC...) and the Unicode bidirectional and invisible
/// formatting characters. Every error whose `Display` carries text from unsigned input
/// goes through it (log injection), at most `max` characters of it.
pub(crate) fn printable(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max));
    for c in s.chars().take(max) {
        let hidden = c.is_control()
            || matches!(c, '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}');
        if hidden {
            use std::fmt::Write as _;
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::printable;

    #[test]
    fn control_and_bidi_characters_are_escaped() {
        assert_eq!(printable("urn:ok", 100), "urn:ok");
        assert_eq!(
            printable("a\r\nFAKE LOG\u{1b}[31m\u{202e}x\u{7f}\u{85}", 100),
            "a\\u{d}\\u{a}FAKE LOG\\u{1b}[31m\\u{202e}x\\u{7f}\\u{85}"
        );
        assert_eq!(printable("èé✓", 100), "èé✓");
        assert_eq!(printable("abcdef", 3), "abc");
    }
}
