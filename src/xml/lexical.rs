//! The lexical rules of the one-pass reader ([`super::parser`]): characters, names,
//! references, line-end and attribute-value normalization. Pure functions over slices.

use std::borrow::Cow;

use super::reader::XmlError;

pub(super) fn malformed(message: &str) -> XmlError {
    XmlError::Malformed(message.to_owned())
}

/// Refuses a character outside XML's `Char` anywhere: C0 controls but tab, LF and CR,
/// and U+FFFE, U+FFFF (the input is UTF-8, so no surrogate can appear).
pub(super) fn check_chars(b: &[u8]) -> Result<(), XmlError> {
    // Blocks of 32 bytes folded without an early exit compile to a few vector
    // instructions; the input is almost always clean.
    let bad = |c: u8| u8::from((c < 0x20) & (c != b'\t') & (c != b'\n') & (c != b'\r'));
    let blocks = b.chunks_exact(32);
    let tail = blocks.remainder();
    if blocks
        .map(|block| block.iter().fold(0u8, |any, &c| any | bad(c)))
        .any(|any| any != 0)
        || tail.iter().fold(0u8, |any, &c| any | bad(c)) != 0
    {
        return Err(malformed("a character XML forbids"));
    }
    // U+FFFE and U+FFFF (EF BF BE, EF BF BF): the lead byte EF is rare in real text.
    let mut from = 0;
    while let Some(at) = find(b, from, b"\xEF") {
        if b.get(at + 1) == Some(&0xBF) && matches!(b.get(at + 2), Some(0xBE | 0xBF)) {
            return Err(malformed("a character XML forbids"));
        }
        from = at + 1;
    }
    Ok(())
}

pub(super) fn is_name_start(c: char) -> bool {
    matches!(c, 'A'..='Z' | 'a'..='z' | '_' | ':' | '\u{C0}'..='\u{D6}' | '\u{D8}'..='\u{F6}'
        | '\u{F8}'..='\u{2FF}' | '\u{370}'..='\u{37D}' | '\u{37F}'..='\u{1FFF}'
        | '\u{200C}'..='\u{200D}' | '\u{2070}'..='\u{218F}' | '\u{2C00}'..='\u{2FEF}'
        | '\u{3001}'..='\u{D7FF}' | '\u{F900}'..='\u{FDCF}' | '\u{FDF0}'..='\u{FFFD}'
        | '\u{10000}'..='\u{EFFFF}')
}

pub(super) fn is_name_char(c: char) -> bool {
    is_name_start(c)
        || matches!(c, '-' | '.' | '0'..='9' | '\u{B7}' | '\u{300}'..='\u{36F}' | '\u{203F}'..='\u{2040}')
}

pub(super) fn is_name(s: &str) -> bool {
    if let Some((&first, rest)) = s.as_bytes().split_first() {
        // ASCII names (nearly all): one pass over the bytes.
        let mut ascii_name = first.is_ascii_alphabetic() || first == b'_' || first == b':';
        let mut ascii = first.is_ascii();
        for &c in rest {
            ascii &= c.is_ascii();
            ascii_name &= c.is_ascii_alphanumeric() || matches!(c, b'_' | b':' | b'-' | b'.');
        }
        if ascii {
            return ascii_name;
        }
    }
    let mut chars = s.chars();
    chars.next().is_some_and(is_name_start) && chars.all(is_name_char)
}

pub(super) fn is_xml_char(c: u32) -> bool {
    matches!(c, 0x9 | 0xA | 0xD | 0x20..=0xD7FF | 0xE000..=0xFFFD | 0x10000..=0x10FFFF)
}

/// Whether the byte can continue a name scan (validated afterwards by [`is_name`]).
pub(super) const fn name_byte(c: u8) -> bool {
    !is_space(c) && !matches!(c, b'/' | b'>' | b'=' | b'<' | b'"' | b'\'' | b'?' | b'&')
}

/// Expands the reference at the start of `s` (`&...;`): its value and its length.
pub(super) fn reference(s: &[u8]) -> Result<(char, usize), XmlError> {
    let semi = s
        .iter()
        .position(|&c| c == b';')
        .ok_or_else(|| malformed("malformed reference"))?;
    let body = s.get(1..semi).unwrap_or_default();
    let c = match body {
        b"lt" => '<',
        b"gt" => '>',
        b"amp" => '&',
        b"apos" => '\'',
        b"quot" => '"',
        [b'#', b'x', hex @ ..] => numeric(hex, 16)?,
        [b'#', dec @ ..] => numeric(dec, 10)?,
        _ => return Err(malformed("reference to an undeclared entity")),
    };
    Ok((c, semi + 1))
}

pub(super) fn numeric(digits: &[u8], radix: u32) -> Result<char, XmlError> {
    if digits.is_empty() {
        return Err(malformed("malformed character reference"));
    }
    let mut value = 0u32;
    for &d in digits {
        let d = char::from(d)
            .to_digit(radix)
            .ok_or_else(|| malformed("malformed character reference"))?;
        value = value.saturating_mul(radix).saturating_add(d);
    }
    match char::from_u32(value) {
        Some(c) if is_xml_char(value) => Ok(c),
        _ => Err(malformed(BAD_CHAR_REFERENCE)),
    }
}

/// Character data: references expanded, CRLF and lone CR made LF. Borrowed when nothing
/// had to change.
pub(super) fn char_data(raw: &str) -> Result<Cow<'_, str>, XmlError> {
    let b = raw.as_bytes();
    if memchr::memchr2(b'&', b'\r', b).is_none() {
        return Ok(Cow::Borrowed(raw));
    }
    let mut out = String::with_capacity(raw.len());
    let mut plain = 0;
    let mut i = 0;
    while let Some(at) = memchr::memchr2(b'&', b'\r', b.get(i..).unwrap_or_default()) {
        let at = i + at;
        out.push_str(raw.get(plain..at).unwrap_or_default());
        if b.get(at) == Some(&b'\r') {
            out.push('\n');
            i = at + if b.get(at + 1) == Some(&b'\n') { 2 } else { 1 };
        } else {
            let (c, len) = reference(b.get(at..).unwrap_or_default())?;
            out.push(c);
            i = at + len;
        }
        plain = i;
    }
    out.push_str(raw.get(plain..).unwrap_or_default());
    Ok(Cow::Owned(out))
}

/// Line ends only (comments, PIs, CDATA).
pub(super) fn line_ends(raw: &str) -> Cow<'_, str> {
    if !raw.contains('\r') {
        return Cow::Borrowed(raw);
    }
    Cow::Owned(raw.replace("\r\n", "\n").replace('\r', "\n"))
}

/// An attribute value normalized (XML 1.0 §3.3.3, CDATA type): references expanded,
/// literal tab, LF, CR and CRLF each a space.
pub(super) fn attribute_value(raw: &str) -> Result<Cow<'_, str>, XmlError> {
    let b = raw.as_bytes();
    let special = |c: u8| (c == b'&') | (c == b'\t') | (c == b'\n') | (c == b'\r');
    if !b.iter().fold(false, |any, &c| any | special(c)) {
        return Ok(Cow::Borrowed(raw));
    }
    let mut out = String::with_capacity(raw.len());
    let mut i = 0;
    let mut plain = 0;
    while let Some(&c) = b.get(i) {
        match c {
            b'&' | b'\t' | b'\n' | b'\r' => {
                out.push_str(raw.get(plain..i).unwrap_or_default());
                if c == b'&' {
                    let (ch, len) = reference(b.get(i..).unwrap_or_default())?;
                    out.push(ch);
                    i += len;
                } else {
                    out.push(' ');
                    i += if c == b'\r' && b.get(i + 1) == Some(&b'\n') {
                        2
                    } else {
                        1
                    };
                }
                plain = i;
            }
            _ => i += 1,
        }
    }
    out.push_str(raw.get(plain..).unwrap_or_default());
    Ok(Cow::Owned(out))
}

/// Byte classes for the one-scan fast paths of the start tag ([`scan_qname`],
/// [`scan_plain_value`]); anything they do not settle goes to the general rules.
const NAME_STOP: u8 = 1; // ends a name: not a `name_byte`
const ASCII_START: u8 = 2; // an ASCII `NameStartChar` but `:`
const ASCII_CHAR: u8 = 4; // an ASCII `NameChar` but `:`
const DQ_STOP: u8 = 8; // ends a plain `"`-quoted value: `"`, `<`, `&`, tab, LF, CR
const SQ_STOP: u8 = 16; // the same for `'`-quoted values

// Built at compile time: an index out of bounds here would fail the build, not a parse.
#[allow(clippy::indexing_slicing)]
static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        let mut k = 0;
        if !name_byte(b) {
            k |= NAME_STOP;
        }
        if b.is_ascii_alphabetic() || b == b'_' {
            k |= ASCII_START | ASCII_CHAR;
        }
        if b.is_ascii_digit() || b == b'-' || b == b'.' {
            k |= ASCII_CHAR;
        }
        if matches!(b, b'<' | b'&' | b'\t' | b'\n' | b'\r') {
            k |= DQ_STOP | SQ_STOP;
        }
        if b == b'"' {
            k |= DQ_STOP;
        }
        if b == b'\'' {
            k |= SQ_STOP;
        }
        t[c] = k;
        c += 1;
    }
    t
};

fn class(c: u8) -> u8 {
    // A 256-entry table indexed by a byte: always in bounds.
    CLASS.get(usize::from(c)).copied().unwrap_or(NAME_STOP)
}

/// The name starting at `b[0]`, in one scan: its length (the bytes up to the first that is
/// not a [`name_byte`]), and, when it is an ASCII QName (at most one colon, both sides
/// non-empty ASCII names), the position of its colon (`Some(None)`: no colon). `None` in
/// the second place means "not settled": [`qname`] decides (non-ASCII names and every
/// refusal go there, so the messages stay its own).
pub(super) fn scan_qname(b: &[u8]) -> (usize, Option<Option<usize>>) {
    // A tight loop finds the end and gathers what the shape check needs (the classes of
    // the other bytes ANDed, the colons counted, the last colon's place); the QName shape
    // is checked once after it.
    let mut all = ASCII_CHAR;
    let mut colons = 0usize;
    let mut colon = 0;
    let mut n = 0;
    loop {
        // A run of ASCII letters, eight bytes at a time: a letter changes nothing below.
        if let Some(block) = b.get(n..).and_then(|r| r.first_chunk::<8>()) {
            let run = letter_run(u64::from_le_bytes(*block));
            n += run;
            if run == 8 {
                continue;
            }
        }
        // The byte after the run (or one of the last seven): the table decides.
        let Some(&c) = b.get(n) else { break };
        let k = class(c);
        if k & NAME_STOP != 0 {
            break;
        }
        let is_colon = c == b':';
        all &= if is_colon { ASCII_CHAR } else { k };
        colons += usize::from(is_colon);
        colon = if is_colon { n } else { colon };
        n += 1;
    }
    let starts_part = |at: usize| b.get(at).is_some_and(|&c| class(c) & ASCII_START != 0);
    let ok = all & ASCII_CHAR != 0
        && match colons {
            0 => n > 0 && starts_part(0),
            1 => colon > 0 && colon + 1 < n && starts_part(0) && starts_part(colon + 1),
            _ => false,
        };
    (n, ok.then_some((colons == 1).then_some(colon)))
}

/// The end of an end tag's name starting at `b[i]` (at least one byte, or an error). When
/// it is the open element's name as written (`expected`), one comparison finds it (the
/// name is `expected` when the next byte ends a name); otherwise a scan.
pub(super) fn end_tag_name(b: &[u8], i: usize, expected: Option<&str>) -> Result<usize, XmlError> {
    if let Some(q) = expected.filter(|q| !q.is_empty()) {
        let end = i + q.len();
        if b.get(i..end) == Some(q.as_bytes()) && !b.get(end).is_some_and(|&c| name_byte(c)) {
            return Ok(end);
        }
    }
    let mut j = i;
    while b.get(j).is_some_and(|&c| name_byte(c)) {
        j += 1;
    }
    if j == i {
        return Err(malformed("name expected"));
    }
    Ok(j)
}

/// How many of the eight bytes of `x` (little-endian: the first byte is the lowest) are
/// ASCII letters before the first that is not: the classic SWAR range test, exact for every
/// byte (the high bit of `x`'s byte excludes non-ASCII; below it, `| 0x20` folds the
/// capitals onto `a..=z` and nothing else onto that range).
pub(super) fn letter_run(x: u64) -> usize {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const EACH: u64 = 0x0101_0101_0101_0101;
    // Each byte of `t` is at most 0x7f, so the sums below never carry into the next byte.
    let t = (x | (EACH * 0x20)) & LOW7;
    let from_a = t + EACH * (0x80 - 0x61); // high bit: t >= b'a'
    let past_z = t + EACH * (0x80 - 0x7b); // high bit: t > b'z'
    let letters = from_a & !past_z & !x & HIGH;
    (!letters & HIGH).trailing_zeros() as usize / 8
}

/// The length of a quoted attribute value starting at `b[0]` (after its opening quote)
/// when it needs nothing from [`attribute_value`]: the closing `quote` comes before any
/// `<`, `&`, tab, LF or CR. `None`: the general path decides.
pub(super) fn scan_plain_value(b: &[u8], quote: u8) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // Non-zero when some byte of `x` is below `n` (n ≤ 128), zero when none is: the
    // classic SWAR test, exact about "none", which is all the skip below relies on.
    let below = |x: u64, n: u8| x.wrapping_sub(ONES * u64::from(n)) & !x & HIGH;
    let zero_byte = |x: u64| below(x, 1);
    // Eight bytes at a time. Every byte that can stop the scan but `<` is below 0x28 (the
    // quotes, `&` and every control byte), so two tests flag them all, with a few plain
    // bytes (space, `!`, `#`, `$`, `%`). The lowest flagged byte is a true hit (a borrow
    // only flags bytes above a true hit): the quote ends a plain value; `<`, `&`, tab, LF,
    // CR end the fast path; any other is plain, and the scan goes on after it. The last
    // bytes (fewer than eight) are walked with the table.
    let mut skipped = 0;
    while let Some(block) = b.get(skipped..).and_then(|r| r.first_chunk::<8>()) {
        let x = u64::from_le_bytes(*block);
        let hit = below(x, 0x28) | zero_byte(x ^ (ONES * u64::from(b'<')));
        if hit == 0 {
            skipped += 8;
            continue;
        }
        let at = skipped + hit.trailing_zeros() as usize / 8;
        match b.get(at) {
            Some(&c) if c == quote => return Some(at),
            Some(b'<' | b'&' | b'\t' | b'\n' | b'\r') => return None,
            _ => skipped = at + 1,
        }
    }
    let stop = if quote == b'"' { DQ_STOP } else { SQ_STOP };
    let n = skipped
        + b.get(skipped..)?
            .iter()
            .position(|&c| class(c) & stop != 0)?;
    (b.get(n) == Some(&quote)).then_some(n)
}

/// The QName starting at byte `i` of `text`: its end, prefix and local part (one scan for
/// ASCII QNames; [`qname`]'s rules and refusals otherwise).
pub(super) fn qname_at(text: &str, i: usize) -> Result<(usize, &str, &str), XmlError> {
    let (len, colon) = scan_qname(text.as_bytes().get(i..).unwrap_or_default());
    if len == 0 {
        return Err(malformed("name expected"));
    }
    let end = i + len;
    let slice = |r: std::ops::Range<usize>| text.get(r).unwrap_or_default();
    match colon {
        Some(None) => Ok((end, "", slice(i..end))),
        Some(Some(at)) => Ok((end, slice(i..i + at), slice(i + at + 1..end))),
        None => {
            let (prefix, local) = qname(slice(i..end))?;
            Ok((end, prefix, local))
        }
    }
}

/// The attribute value starting at byte `i` of `text` (after its opening `quote`): the
/// index of its closing quote and the value normalized. Most values: one scan to the
/// closing quote, borrowed as they stand; otherwise the closing quote, `<` refused, and
/// [`attribute_value`].
pub(super) fn quoted_value(
    text: &str,
    i: usize,
    quote: u8,
) -> Result<(usize, Cow<'_, str>), XmlError> {
    let b = text.as_bytes();
    if let Some(len) = scan_plain_value(b.get(i..).unwrap_or_default(), quote) {
        return Ok((
            i + len,
            Cow::Borrowed(text.get(i..i + len).unwrap_or_default()),
        ));
    }
    let end = find(b, i, &[quote]).ok_or_else(|| malformed("unterminated attribute value"))?;
    let raw = text.get(i..end).unwrap_or_default();
    if memchr::memchr(b'<', raw.as_bytes()).is_some() {
        return Err(malformed("< in an attribute value"));
    }
    Ok((end, attribute_value(raw)?))
}

/// Splits a QName into (prefix, local): at most one colon, both sides non-empty names.
pub(super) fn qname(name: &str) -> Result<(&str, &str), XmlError> {
    let b = name.as_bytes();
    let mut colons = b.iter().enumerate().filter(|&(_, &c)| c == b':');
    let (prefix, local) = match (colons.next(), colons.next()) {
        (None, _) => ("", name),
        (Some((at, _)), None) => match (name.get(..at), name.get(at + 1..)) {
            (Some(p), Some(l)) if !p.is_empty() && !l.is_empty() => (p, l),
            _ => return Err(malformed(BAD_QNAME)),
        },
        (Some(_), Some(_)) => return Err(malformed(BAD_QNAME)),
    };
    if !is_name(local) || (!prefix.is_empty() && !is_name(prefix)) {
        return Err(malformed("invalid name"));
    }
    Ok((prefix, local))
}

pub(super) fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Whether `keys` has a repeated entry: pairwise for a handful, sorted past that (so an
/// element with many attributes costs n log n, not n²).
pub(super) fn has_duplicates(keys: &mut [(u32, &str)]) -> bool {
    if keys.len() < 2 {
        false
    } else if keys.len() <= 12 {
        keys.iter().enumerate().any(|(i, &(ns, name))| {
            keys.get(..i)
                .unwrap_or_default()
                .iter()
                .any(|&(n, m)| n == ns && same(m, name))
        })
    } else {
        keys.sort_unstable();
        keys.windows(2).any(|w| w.first() == w.get(1))
    }
}

/// The URI index bound to `prefix` (`""`: the default namespace) by the innermost of
/// `bindings` (prefix, URI index), prefixes compared inline.
#[inline]
pub(super) fn lookup(bindings: &[(Option<&str>, u32)], prefix: &str) -> Option<u32> {
    let found = if prefix.is_empty() {
        bindings.iter().rev().find(|(p, _)| p.is_none())
    } else {
        bindings
            .iter()
            .rev()
            .find(|(p, _)| p.is_some_and(|p| same(p, prefix)))
    };
    found.map(|&(_, uri)| uri)
}

/// String equality for the short names and prefixes of a start tag, compared inline (a
/// `memcmp` call costs more than these strings).
#[inline(always)]
pub(super) fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).all(|(x, y)| x == y)
}

/// The message for a processing instruction named `xml` (refused in `check_tree`).
pub(crate) const RESERVED_PI: &str = "processing instruction target xml is reserved";

/// The message for a bad XML declaration (refused by [`check_declaration`]).
pub(crate) const BAD_DECLARATION: &str =
    "malformed XML declaration (version 1.0, then optional encoding and standalone yes|no)";

/// The message for a character reference to a code point outside XML's `Char` production
/// (refused by [`check_references`]).
pub(crate) const BAD_CHAR_REFERENCE: &str = "character reference to a character XML forbids";

/// The message for an element or attribute name starting with a colon.
pub(crate) const BAD_QNAME: &str = "name is not a qualified name";

/// The message for namespace declarations Namespaces in XML 1.0 forbids and the parser
/// lets through (refused by [`check_attribute`]).
pub(crate) const BAD_NAMESPACE: &str =
    "namespace declaration forbidden by Namespaces in XML 1.0 (empty prefixed URI, xmlns prefix, repeated default)";

/// The message for a processing instruction whose target has a colon.
pub(crate) const PI_COLON: &str = "processing instruction target with a colon";

/// The message for [`check_line_ends`]'s refusal.
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) const CR_AFTER_REFERENCE: &str =
    "carriage return next to a character reference is not supported";

pub(crate) const fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

/// The position of `needle` in `haystack` at or after `from`.
pub(crate) fn find(haystack: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    let hay = haystack.get(from..)?;
    match needle {
        [one] => memchr::memchr(*one, hay),
        _ => memchr::memmem::find(hay, needle),
    }
    .map(|p| p + from)
}
