//! Strict base64 that may contain XML whitespace, bounded: the one decoder for every base64
//! the SDK reads from outside (POST fields, Redirect parameters, `DigestValue`,
//! `SignatureValue`, `X509Certificate`, text pasted into the inspection tool).
//!
//! Strict: the standard alphabet with canonical padding and no stray bits (decoded by
//! `base64-simd`'s `STANDARD`, held to the `base64` crate's `STANDARD` engine by a test;
//! the `base64` crate encodes). The only characters skipped are XML's whitespace (space,
//! tab, CR, LF), wherever they stand; anything else outside the alphabet (form feed
//! included) refuses the whole value.
//!
//! This module imports nothing from the crate, so the ground floor (`xml`, `dsig`) and the
//! bindings share it.

use base64::Engine as _;

const ENGINE: &base64::engine::GeneralPurpose = &base64::engine::general_purpose::STANDARD;

/// Why a base64 value was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Base64Error {
    /// The text, or what it decodes to, exceeds the caller's bound.
    TooLarge,
    /// Not strict base64 (whitespace aside).
    Invalid,
}

/// XML whitespace (`S` in XML 1.0 §2.3).
pub(crate) const fn is_xml_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// No bound beyond the text's own length (for values inside a document that was already
/// size-checked).
pub(crate) const UNBOUNDED: usize = usize::MAX;

/// Decodes `text`, refusing more than `max_decoded` bytes of output.
///
/// The text itself is refused, before any decoding, when it is longer than base64 of
/// `max_decoded` bytes plus 1 KiB (padding and line breaks).
pub(crate) fn decode(text: &str, max_decoded: usize) -> Result<Vec<u8>, Base64Error> {
    if text.len() > max_decoded.saturating_mul(4) / 3 + 1024 {
        return Err(Base64Error::TooLarge);
    }
    let raw = text.as_bytes();
    // Most values are one unbroken line (whitespace makes this first decode fail): only
    // line-wrapped input pays for a compact copy.
    let bytes = match decode_compact(raw) {
        Some(bytes) => bytes,
        None if raw.iter().copied().any(is_xml_space) => {
            let mut compact = Vec::with_capacity(raw.len());
            compact.extend(raw.iter().copied().filter(|&b| !is_xml_space(b)));
            decode_compact(&compact).ok_or(Base64Error::Invalid)?
        }
        None => return Err(Base64Error::Invalid),
    };
    if bytes.len() > max_decoded {
        return Err(Base64Error::TooLarge);
    }
    Ok(bytes)
}

/// Decodes the first `chars` non-whitespace characters of `text` (a multiple of 4, so they
/// decode on their own), to read the start of a long value without decoding all of it.
///
/// `None` when `text` is not longer than that (decode the whole of it instead).
pub(crate) fn decode_head(text: &str, chars: usize) -> Option<Result<Vec<u8>, Base64Error>> {
    let raw = text.as_bytes();
    if raw.len() <= chars {
        return None;
    }
    let head = match raw.get(..chars) {
        Some(head) if !head.iter().copied().any(is_xml_space) => head.to_vec(),
        _ => {
            let mut compact = Vec::with_capacity(chars);
            compact.extend(
                raw.iter()
                    .copied()
                    .filter(|&b| !is_xml_space(b))
                    .take(chars),
            );
            if compact.len() < chars {
                return None;
            }
            compact
        }
    };
    Some(decode_compact(&head).ok_or(Base64Error::Invalid))
}

/// Strict base64 without whitespace: `base64-simd`'s `STANDARD` (canonical padding
/// required, non-zero trailing bits refused: the same rules as the `base64` crate's
/// `STANDARD` engine, checked against it by `simd_decoder_matches_the_base64_crate`),
/// with AVX2/SSE4.1 chosen at run time. A 12.7 KB form field decodes in about a quarter
/// of the scalar decoder's time.
fn decode_compact(raw: &[u8]) -> Option<Vec<u8>> {
    base64_simd::STANDARD.decode_to_vec(raw).ok()
}

/// Standard base64 with padding, on one line.
pub(crate) fn encode(bytes: impl AsRef<[u8]>) -> String {
    ENGINE.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_with_xml_whitespace_only() {
        assert_eq!(decode("aGVsbG8=", 5).unwrap(), b"hello");
        assert_eq!(decode(" aGVs\r\nbG8=\t\n", 5).unwrap(), b"hello");
        assert_eq!(decode("", 0).unwrap(), b"");
        for bad in [
            "aGVsbG8",        // padding missing
            "aGVsbG9=",       // stray bits
            "aGVsbG8==",      // too much padding
            "aGVs\x0cbG8=",   // form feed is not XML whitespace
            "aGVs\u{a0}bG8=", // nor is NBSP
            "aGVs-bG8=",      // URL-safe alphabet
            "aGVs%bG8=",
        ] {
            assert_eq!(decode(bad, 100), Err(Base64Error::Invalid), "{bad:?}");
        }
    }

    /// The SIMD decoder against the `base64` crate's strict `STANDARD` engine
    /// (the decoder it replaced): the same bytes or the same refusal, on the encodings of
    /// random bytes of every length up to 300 (and some up to 16 KiB) and on random and hostile texts (characters
    /// drawn from the alphabet's edges, padding, whitespace and bytes outside it, and valid
    /// encodings with one byte changed).
    #[test]
    fn simd_decoder_matches_the_base64_crate() {
        let mut next = crate::test_rng(0x9E37_79B9_7F4A_7C15u64);
        let same = |text: &[u8]| {
            assert_eq!(
                decode_compact(text),
                ENGINE.decode(text).ok(),
                "{:?}",
                String::from_utf8_lossy(text)
            );
        };
        let hostile: &[u8] = b"AQgw/+9zaZ==== \r\n\t\0\xff-_.:AB";
        for round in 0..20_000 {
            let len = if round % 100 == 0 {
                (next() % 16_384) as usize
            } else {
                (next() % 300) as usize
            };
            let bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            let mut text = ENGINE.encode(&bytes).into_bytes();
            same(&text);
            assert_eq!(decode_compact(&text).as_deref(), Some(&bytes[..]));
            if !text.is_empty() {
                let at = (next() as usize) % text.len();
                if let Some(c) = text.get_mut(at) {
                    *c = hostile[(next() as usize) % hostile.len()];
                }
                same(&text);
                if round % 2 == 0 {
                    text.truncate((next() as usize) % text.len());
                    same(&text);
                }
            }
            let len = (next() % 24) as usize;
            let text: Vec<u8> = (0..len)
                .map(|_| hostile[(next() as usize) % hostile.len()])
                .collect();
            same(&text);
        }
        // Every last quartet over a small alphabet: padding and trailing bits.
        let edge = b"AQgw/=+B";
        for a in edge {
            for b in edge {
                for c in edge {
                    for d in edge {
                        same(&[*a, *b, *c, *d]);
                        same(&[b'A', b'B', b'C', b'D', *a, *b, *c, *d]);
                    }
                }
            }
        }
    }

    #[test]
    fn bounded_before_and_after_decoding() {
        assert_eq!(decode("aGVsbG8=", 4), Err(Base64Error::TooLarge));
        // Text longer than base64 of the bound plus 1 KiB: refused undecoded.
        let long = "A".repeat(4 * 1024);
        assert_eq!(decode(&long, 1), Err(Base64Error::TooLarge));
        assert_eq!(decode(&long, 3 * 1024).unwrap().len(), 3 * 1024);
        assert_eq!(decode(&long, UNBOUNDED).unwrap().len(), 3 * 1024);
    }

    #[test]
    fn head_is_the_first_characters_whitespace_skipped() {
        let b64 = encode("0123456789ab");
        assert_eq!(decode_head(&b64, 8).unwrap().unwrap(), b"012345");
        let wrapped = b64
            .as_bytes()
            .chunks(3)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect::<Vec<_>>()
            .join("\r\n");
        assert_eq!(decode_head(&wrapped, 8).unwrap().unwrap(), b"012345");
        assert_eq!(
            decode_head(&b64, b64.len()),
            None,
            "not longer: decode it all"
        );
        assert_eq!(decode_head("AAAA \n \n", 8), None, "too few characters");
        assert_eq!(decode_head("AA=A AAAA", 4), Some(Err(Base64Error::Invalid)));
    }
}
