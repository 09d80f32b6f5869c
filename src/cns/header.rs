//! The client certificate as reverse proxies forward it in a request header, back to bytes
//! [`CnsVerifier::verify`](super::CnsVerifier::verify) reads. Parsing only: whether the
//! header may be trusted at all (the request came from a configured proxy address, the
//! header was stripped from every other request) is the web layer's decision.

use super::error::CnsRejection;

/// Largest header value accepted (a URL-encoded PEM with a short chain).
const MAX_HEADER: usize = 192 * 1024;
/// Largest decoded certificate (the verifier's own input bound).
const MAX_DER: usize = 64 * 1024;
const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
const END: &str = "-----END CERTIFICATE-----";

/// Decodes a forwarded client certificate into PEM (card first, then any chain) or DER,
/// accepting the forms proxies send:
///
/// - nginx `$ssl_client_escaped_cert`: URL-encoded PEM (`%XX` escapes; `+` is kept, it
///   is base64);
/// - nginx `$ssl_client_cert` (PEM whose continuation lines start with a tab), Apache
///   `SSL_CLIENT_CERT` forwarded with spaces for newlines: PEM with any ASCII whitespace
///   inside the base64;
/// - HAProxy `ssl_c_der,base64`: bare base64 of the DER.
///
/// An empty value (`optional_no_ca` without a certificate) is
/// [`CnsRejection::Malformed`], like anything else unreadable.
pub fn certificate_from_header(value: &[u8]) -> Result<Vec<u8>, CnsRejection> {
    if value.is_empty() || value.len() > MAX_HEADER {
        return Err(CnsRejection::Malformed);
    }
    let decoded;
    let value = if value.contains(&b'%') {
        decoded = percent_decode(value)?;
        &decoded[..]
    } else {
        value
    };
    let text = std::str::from_utf8(value).map_err(|_| CnsRejection::Malformed)?;
    let text = text.trim_matches(|c: char| c.is_ascii_whitespace() || c == '"');
    if text.starts_with(BEGIN) {
        normalise_pem(text)
    } else {
        base64(text)
    }
}

/// Strict `%XX` decoding (an invalid escape is refused, `+` is not a space).
fn percent_decode(value: &[u8]) -> Result<Vec<u8>, CnsRejection> {
    let mut out = Vec::with_capacity(value.len());
    let mut bytes = value.iter().copied();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            let hi = bytes.next().and_then(hex).ok_or(CnsRejection::Malformed)?;
            let lo = bytes.next().and_then(hex).ok_or(CnsRejection::Malformed)?;
            out.push(hi << 4 | lo);
        } else {
            out.push(b);
        }
    }
    Ok(out)
}

fn hex(b: u8) -> Option<u8> {
    char::from(b)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

/// Base64 with any ASCII whitespace removed, strictly decoded.
fn base64(text: &str) -> Result<Vec<u8>, CnsRejection> {
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    crate::b64::decode(&compact, MAX_DER).map_err(|_| CnsRejection::Malformed)
}

/// Every `BEGIN/END CERTIFICATE` block re-wrapped as standard PEM (at most five).
fn normalise_pem(text: &str) -> Result<Vec<u8>, CnsRejection> {
    use base64::Engine as _;
    let mut out = String::new();
    let mut rest = text;
    let mut blocks = 0;
    while let Some(start) = rest.find(BEGIN) {
        let after = rest.get(start + BEGIN.len()..).unwrap_or("");
        let end = after.find(END).ok_or(CnsRejection::Malformed)?;
        let der = base64(after.get(..end).unwrap_or(""))?;
        let b64 = base64::engine::general_purpose::STANDARD.encode(der);
        out.push_str(BEGIN);
        out.push('\n');
        for line in b64.as_bytes().chunks(64) {
            out.push_str(std::str::from_utf8(line).map_err(|_| CnsRejection::Malformed)?);
            out.push('\n');
        }
        out.push_str(END);
        out.push('\n');
        rest = after.get(end + END.len()..).unwrap_or("");
        blocks += 1;
        if blocks > 5 {
            return Err(CnsRejection::Malformed);
        }
    }
    if blocks == 0 || !rest.trim().is_empty() {
        return Err(CnsRejection::Malformed);
    }
    Ok(out.into_bytes())
}
