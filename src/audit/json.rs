//! A record's entry body as JSON, with its payload escaped eight bytes at a time.
//!
//! The body is exactly what `serde_json` writes for [`EntryBody::Record`] (the verifier
//! re-serialises entries with serde and compares hashes): the record is serialised with
//! an empty payload, and the payload's text, escaped by [`push_escaped`] the way
//! `serde_json` escapes strings, is put where its empty string was. `serde_json` escapes a
//! string one byte at a time; the payload (a whole SAML message, ~10 KB) is most of every
//! record, so this is most of the serialisation's cost.

use super::chain::EntryBody;
use super::crypt::EncryptedPayload;
use super::{AuditError, TransactionRecord};

/// Where the payload's empty text sits in the serialised record: unique in it (inside
/// JSON strings every `"` is escaped, so this only matches the structure).
const EMPTY_DATA: &str = "\"data\":\"\"";

/// The canonical JSON of a record's entry body (`sealed`: its encrypted payload).
pub(super) fn record_body(
    mut record: TransactionRecord,
    sealed: Option<EncryptedPayload>,
) -> Result<String, AuditError> {
    let data = record.payload.as_mut().map(|p| std::mem::take(&mut p.data));
    let data_len = data.as_ref().map_or(0, String::len);
    let body = EntryBody::Record {
        record: Box::new(record),
        sealed,
    };
    // One buffer for the whole entry: the record, the escaped payload (room for 1 escape
    // in 8 bytes), and the framing the committer adds in place.
    let mut out = to_vec(&body, data_len + data_len / 8)?;
    let Some(data) = data.filter(|d| !d.is_empty()) else {
        return into_string(out);
    };
    let at = {
        let bare = std::str::from_utf8(&out).map_err(|_| unserialisable())?;
        let mut at = bare.match_indices(EMPTY_DATA).map(|(i, _)| i);
        match (at.next(), at.next()) {
            (Some(i), None) => Some(i),
            _ => None,
        }
    };
    let Some(i) = at else {
        // Not where it is expected (cannot happen with today's types): serde does it all.
        let EntryBody::Record { mut record, sealed } = body else {
            return Err(unserialisable());
        };
        if let Some(p) = record.payload.as_mut() {
            p.data = data;
        }
        let body = EntryBody::Record { record, sealed };
        return into_string(to_vec(&body, 0)?);
    };
    // Cut after the payload's opening quote; the rest (a few bytes) is put back after it.
    let split = i + EMPTY_DATA.len() - 1;
    if split > out.len() {
        return Err(unserialisable());
    }
    let tail = out.split_off(split);
    let mut out = into_string(out)?;
    push_escaped(&mut out, &data);
    out.push_str(std::str::from_utf8(&tail).map_err(|_| unserialisable())?);
    Ok(out)
}

/// `serde_json::to_writer` into a buffer sized for the record, `extra` bytes, its
/// encrypted payload if any, and the entry's framing.
fn to_vec(body: &EntryBody, extra: usize) -> Result<Vec<u8>, AuditError> {
    let sealed = match body {
        EntryBody::Record {
            sealed: Some(s), ..
        } => s.ciphertext.len() + s.wrapped_key.len(),
        _ => 0,
    };
    let mut out = Vec::with_capacity(sealed + extra + 1024 + super::chain::ENTRY_FRAME);
    serde_json::to_writer(&mut out, body).map_err(|_| unserialisable())?;
    Ok(out)
}

fn into_string(v: Vec<u8>) -> Result<String, AuditError> {
    String::from_utf8(v).map_err(|_| unserialisable())
}

fn unserialisable() -> AuditError {
    AuditError("cannot serialise a record".into())
}

const HEX_DIGITS: [&str; 16] = [
    "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "a", "b", "c", "d", "e", "f",
];
const LOW: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// The high bit of every byte of `w` that is `"`, `\` or below 0x20 (the bytes JSON
/// escapes), and no other. Exact per byte: the high bit is set before each subtraction,
/// so no borrow crosses into the next byte, and bytes of 0x80 and above (UTF-8) never
/// count.
fn escape_mask(w: u64) -> u64 {
    let quote = w ^ (LOW * u64::from(b'"'));
    let backslash = w ^ (LOW * u64::from(b'\\'));
    // b < 0x20 ⇔ b < 0x80 and (b | 0x80) - 0x20 < 0x80; x == 0 ⇔ x < 0x80 and
    // (x | 0x80) - 1 < 0x80.
    let control = !((w | HIGH) - LOW * 0x20) & !w;
    let q = !((quote | HIGH) - LOW) & !quote;
    let b = !((backslash | HIGH) - LOW) & !backslash;
    (control | q | b) & HIGH
}

/// Appends `s` as `serde_json` writes a string's contents: `"` and `\` escaped with a
/// backslash, `\b \f \n \r \t` short, other bytes below 0x20 as `\u00xx` (lower-case hex),
/// everything else (0x7F and non-ASCII included) as is.
pub(super) fn push_escaped(out: &mut String, s: &str) {
    let bytes = s.as_bytes();
    let mut run = 0; // start of the bytes not yet copied
    let mut i = 0;
    while i < bytes.len() {
        // Eight bytes at a time, straight to the first one to escape.
        if let Some(chunk) = bytes.get(i..i + 8) {
            let mut w = [0u8; 8];
            w.copy_from_slice(chunk);
            let mask = escape_mask(u64::from_le_bytes(w));
            if mask == 0 {
                i += 8;
                continue;
            }
            i += (mask.trailing_zeros() / 8) as usize;
        }
        let b = bytes.get(i).copied().unwrap_or(0);
        let escape: Option<&str> = match b {
            b'"' => Some("\\\""),
            b'\\' => Some("\\\\"),
            0x08 => Some("\\b"),
            0x0C => Some("\\f"),
            b'\n' => Some("\\n"),
            b'\r' => Some("\\r"),
            b'\t' => Some("\\t"),
            _ => None,
        };
        if b >= 0x20 && escape.is_none() {
            i += 1;
            continue;
        }
        // `i` is an ASCII byte: both cuts are on character boundaries.
        out.push_str(s.get(run..i).unwrap_or_default());
        match escape {
            Some(e) => out.push_str(e),
            None => {
                // b < 0x20: "\u000x" or "\u001x".
                out.push_str(if b < 0x10 { "\\u000" } else { "\\u001" });
                out.push_str(HEX_DIGITS.get(usize::from(b & 0xF)).copied().unwrap_or("0"));
            }
        }
        i += 1;
        run = i;
    }
    out.push_str(s.get(run..).unwrap_or_default());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{Outcome, Payload, PayloadFormat, RecordKind};
    use crate::time::Timestamp;

    fn serde_escaped(s: &str) -> String {
        let quoted = serde_json::to_string(s).unwrap();
        quoted[1..quoted.len() - 1].to_owned()
    }

    #[test]
    fn escapes_exactly_as_serde_json_does() {
        // Every byte value that is a character on its own, at every position of a block.
        let mut cases: Vec<String> = Vec::new();
        for c in (0u32..0x80).chain([0xE9, 0x20AC, 0x1F600]) {
            let c = char::from_u32(c).unwrap();
            for pos in 0..17 {
                let mut s = "a".repeat(pos);
                s.push(c);
                s.push_str(&"b".repeat(17 - pos));
                cases.push(s);
            }
        }
        // Random strings over a hostile alphabet.
        let alphabet: Vec<char> = "\"\\\n\r\t\u{0}\u{1}\u{8}\u{c}\u{1f}\u{7f} a<>&=é€😀"
            .chars()
            .collect();
        let mut next = crate::test_rng(0x9E37_79B9_7F4A_7C15);
        for _ in 0..20_000 {
            let x = next();
            let len = (x % 40) as usize;
            let s: String = (0..len)
                .map(|k| {
                    let r = x.rotate_left(k as u32 * 5) ^ (k as u64).wrapping_mul(0x2545_F491);
                    if matches!(r % 3, 0) {
                        alphabet[(r >> 8) as usize % alphabet.len()]
                    } else {
                        'x'
                    }
                })
                .collect();
            cases.push(s);
        }
        for s in &cases {
            let mut ours = String::new();
            push_escaped(&mut ours, s);
            assert_eq!(ours, serde_escaped(s), "{s:?}");
        }
    }

    fn record(payload: Option<(PayloadFormat, &str)>) -> TransactionRecord {
        let mut r = TransactionRecord::new(
            RecordKind::ResponseReceived,
            Outcome::Accepted,
            Timestamp::from_unix_seconds(1_800_000_000),
        );
        // Index fields that look like the marker must not confuse it.
        r.resp_id = Some("\"data\":\"\"".into());
        r.assertion_id = Some("x\\\"data\":\"\"".into());
        r.payload = payload.map(|(format, data)| Payload {
            format,
            data: data.into(),
        });
        r
    }

    #[test]
    fn record_bodies_are_what_serde_writes() {
        let xml = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/responses/valid-both-signed.xml"
        ))
        .unwrap();
        for payload in [
            None,
            Some((PayloadFormat::Xml, "")),
            Some((PayloadFormat::Xml, xml.as_str())),
            Some((PayloadFormat::Base64, "\"data\":\"\"\u{1}\\é")),
            Some((PayloadFormat::Certificate, "-----BEGIN\r\n\t\"x\"\n")),
        ] {
            let r = record(payload);
            let expected = serde_json::to_string(&EntryBody::Record {
                record: Box::new(r.clone()),
                sealed: None,
            })
            .unwrap();
            assert_eq!(record_body(r, None).unwrap(), expected);
        }
    }
}
