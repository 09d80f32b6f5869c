//! The SAML HTTP-Redirect binding: DEFLATE + base64 + URL encoding, and the query-string
//! signature over the exact encoded octets (SAML Bindings §3.4.4.1).
//!
//! Encoding matches Python's `urllib.parse.quote_plus` byte for byte (unreserved
//! `A-Z a-z 0-9 _ . - ~`, space as `+`, upper-case `%XX`), because AgID's spid-sp-test
//! rebuilds the signed string that way. Verification never re-encodes: it uses the raw
//! parameter octets as received.
//!
//! The RSA signature itself is [`crate::dsig`]'s ([`SigningKey::sign`],
//! [`VerificationKey::verify`]); this module decides which octets are signed.

use std::io::Read as _;

use super::post::form_decode;
use crate::b64;
use crate::dsig::{DsigError, SignatureAlgorithm, SigningKey, VerificationKey, Verified};
use crate::xml::{Document, Limits, XmlError};

/// Maximum inflated size of a Redirect message (a DEFLATE bomb stops here).
pub const MAX_INFLATED: usize = 64 * 1024;

/// A Redirect-binding message could not be decoded or verified.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RedirectError {
    /// A parameter appears twice.
    #[error("parameter {0} repeated")]
    Repeated(&'static str),
    /// A required parameter is missing.
    #[error("parameter {0} missing")]
    Missing(&'static str),
    /// Bad percent-encoding, base64 or DEFLATE data, or not UTF-8.
    #[error("undecodable {0}")]
    Encoding(&'static str),
    /// The inflated message exceeds [`MAX_INFLATED`].
    #[error("inflated message larger than {MAX_INFLATED} bytes")]
    TooLarge,
    /// The signature check failed.
    #[error(transparent)]
    Signature(#[from] DsigError),
}

/// Appends `s` encoded as Python's `quote_plus` does.
pub fn quote_plus(s: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in s.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b'-' | b'~' => {
                out.push(char::from(b))
            }
            b' ' => out.push('+'),
            _ => {
                let hex = |n: u8| char::from(HEX.get(usize::from(n)).copied().unwrap_or(b'0'));
                out.push('%');
                out.push(hex(b >> 4));
                out.push(hex(b & 15));
            }
        }
    }
}

thread_local! {
    /// One raw-DEFLATE compressor per thread, reset between messages: creating one costs
    /// ~300 KB of zeroed state, more than compressing a request.
    static DEFLATE: std::cell::RefCell<flate2::Compress> =
        std::cell::RefCell::new(flate2::Compress::new(flate2::Compression::default(), false));
}

/// Raw DEFLATE (RFC 1951) then base64, as `SAMLRequest`/`SAMLResponse` carry it.
pub fn deflate_base64(xml: &str) -> String {
    let compressed = DEFLATE
        .try_with(|c| {
            c.try_borrow_mut()
                .ok()
                .and_then(|mut c| deflate_with(&mut c, xml.as_bytes()))
        })
        .ok()
        .flatten()
        .unwrap_or_else(|| {
            // Re-entrant or thread-teardown use: a one-off compressor.
            let mut c = flate2::Compress::new(flate2::Compression::default(), false);
            deflate_with(&mut c, xml.as_bytes()).unwrap_or_default()
        });
    b64::encode(compressed)
}

fn deflate_with(c: &mut flate2::Compress, input: &[u8]) -> Option<Vec<u8>> {
    c.reset();
    let mut out = Vec::with_capacity(input.len() / 2 + 64);
    loop {
        let consumed = usize::try_from(c.total_in()).ok()?;
        let rest = input.get(consumed..)?;
        match c
            .compress_vec(rest, &mut out, flate2::FlushCompress::Finish)
            .ok()?
        {
            flate2::Status::StreamEnd => return Some(out),
            flate2::Status::Ok | flate2::Status::BufError => out.reserve(out.capacity().max(256)),
        }
    }
}

/// The inverse of [`deflate_base64`] (XML whitespace in the base64 skipped), refusing
/// output beyond [`MAX_INFLATED`].
pub fn inflate_base64(encoded: &str) -> Result<String, RedirectError> {
    // The compressed size is not bounded here: the inflated one is, below.
    let compressed =
        b64::decode(encoded, b64::UNBOUNDED).map_err(|_| RedirectError::Encoding("base64"))?;
    let mut out = Vec::new();
    let mut dec =
        flate2::read::DeflateDecoder::new(compressed.as_slice()).take(MAX_INFLATED as u64 + 1);
    dec.read_to_end(&mut out)
        .map_err(|_| RedirectError::Encoding("deflate"))?;
    if out.len() > MAX_INFLATED {
        return Err(RedirectError::TooLarge);
    }
    String::from_utf8(out).map_err(|_| RedirectError::Encoding("utf-8"))
}

/// Builds the unsigned query string (without `?`) for a message: `param` is `SAMLRequest`
/// or `SAMLResponse`; then `RelayState` if given. Every value is encoded with
/// [`quote_plus`].
pub fn encode_query(param: &str, xml: &str, relay_state: Option<&str>) -> String {
    let mut q = String::with_capacity(xml.len() + 600);
    q.push_str(param);
    q.push('=');
    quote_plus(&deflate_base64(xml), &mut q);
    if let Some(rs) = relay_state {
        q.push_str("&RelayState=");
        quote_plus(rs, &mut q);
    }
    q
}

/// Builds the signed query string (without `?`) for a message: [`encode_query`], then
/// `SigAlg`, then the `Signature` over exactly the octets before it.
pub fn signed_query(
    param: &str,
    xml: &str,
    relay_state: Option<&str>,
    key: &SigningKey,
    alg: SignatureAlgorithm,
) -> Result<String, DsigError> {
    let mut q = encode_query(param, xml, relay_state);
    q.push_str("&SigAlg=");
    quote_plus(alg.uri(), &mut q);
    let signature = key.sign(alg, q.as_bytes())?;
    q.push_str("&Signature=");
    quote_plus(&b64::encode(signature), &mut q);
    Ok(q)
}

/// A decoded Redirect-binding message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedirectMessage {
    /// `SAMLRequest` or `SAMLResponse`.
    pub param: &'static str,
    /// The inflated XML.
    pub xml: String,
    /// The decoded RelayState, if sent.
    pub relay_state: Option<String>,
    /// The signature algorithm, if the message was signed.
    pub algorithm: Option<SignatureAlgorithm>,
}

struct RawParams<'q> {
    message: Option<(&'static str, &'q str)>,
    relay_state: Option<&'q str>,
    sig_alg: Option<&'q str>,
    signature: Option<&'q str>,
}

fn split_raw(query: &str) -> Result<RawParams<'_>, RedirectError> {
    let mut p = RawParams {
        message: None,
        relay_state: None,
        sig_alg: None,
        signature: None,
    };
    for pair in query.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let slot = match k {
            "SAMLRequest" | "SAMLResponse" => {
                if p.message.is_some() {
                    return Err(RedirectError::Repeated("SAMLRequest/SAMLResponse"));
                }
                let name = if k == "SAMLRequest" {
                    "SAMLRequest"
                } else {
                    "SAMLResponse"
                };
                p.message = Some((name, v));
                continue;
            }
            "RelayState" => (&mut p.relay_state, "RelayState"),
            "SigAlg" => (&mut p.sig_alg, "SigAlg"),
            "Signature" => (&mut p.signature, "Signature"),
            _ => continue,
        };
        if slot.0.is_some() {
            return Err(RedirectError::Repeated(slot.1));
        }
        *slot.0 = Some(v);
    }
    Ok(p)
}

/// Decodes a Redirect query without checking any signature (for inspection tools).
pub fn decode_unverified(query: &str) -> Result<RedirectMessage, RedirectError> {
    let p = split_raw(query.strip_prefix('?').unwrap_or(query))?;
    let (param, raw) = p
        .message
        .ok_or(RedirectError::Missing("SAMLRequest/SAMLResponse"))?;
    let b64 = form_decode(raw).ok_or(RedirectError::Encoding("SAMLRequest"))?;
    let relay_state = match p.relay_state {
        Some(r) => Some(form_decode(r).ok_or(RedirectError::Encoding("RelayState"))?),
        None => None,
    };
    let algorithm = p
        .sig_alg
        .and_then(form_decode)
        .and_then(|a| SignatureAlgorithm::from_uri(&a));
    Ok(RedirectMessage {
        param,
        xml: inflate_base64(&b64)?,
        relay_state,
        algorithm,
    })
}

/// Verifies a signed Redirect query (the raw query string, `?` optional) against `keys`
/// and decodes it. The signed octets are the raw parameters as received.
pub fn verify_query(
    query: &str,
    keys: &[VerificationKey],
    min_rsa_bits: u32,
) -> Result<RedirectMessage, RedirectError> {
    if keys.is_empty() {
        return Err(DsigError::NoKey.into());
    }
    let query = query.strip_prefix('?').unwrap_or(query);
    let p = split_raw(query)?;
    let (param, raw_msg) = p
        .message
        .ok_or(RedirectError::Missing("SAMLRequest/SAMLResponse"))?;
    let raw_alg = p.sig_alg.ok_or(RedirectError::Missing("SigAlg"))?;
    let raw_sig = p.signature.ok_or(RedirectError::Missing("Signature"))?;
    let alg_uri = form_decode(raw_alg).ok_or(RedirectError::Encoding("SigAlg"))?;
    let alg = SignatureAlgorithm::from_uri(&alg_uri).ok_or(DsigError::Algorithm)?;
    let sig_b64 = form_decode(raw_sig).ok_or(RedirectError::Encoding("Signature"))?;
    let sig =
        b64::decode(&sig_b64, b64::UNBOUNDED).map_err(|_| RedirectError::Encoding("Signature"))?;

    let mut signed = String::with_capacity(raw_msg.len() + 200);
    signed.push_str(param);
    signed.push('=');
    signed.push_str(raw_msg);
    if let Some(rs) = p.relay_state {
        signed.push_str("&RelayState=");
        signed.push_str(rs);
    }
    signed.push_str("&SigAlg=");
    signed.push_str(raw_alg);

    let strong: Vec<&VerificationKey> = keys.iter().filter(|k| k.bits() >= min_rsa_bits).collect();
    if strong.is_empty() {
        let bits = keys.iter().map(VerificationKey::bits).max().unwrap_or(0);
        return Err(DsigError::WeakKey { bits }.into());
    }
    if !strong
        .iter()
        .any(|k| k.verify(alg, signed.as_bytes(), &sig))
    {
        return Err(DsigError::Invalid.into());
    }
    let mut msg = decode_unverified(query)?;
    msg.algorithm = Some(alg);
    Ok(msg)
}

/// An HTTP-Redirect message whose query signature verified: every byte of its XML is
/// covered. Made only by [`verify_redirect`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedRedirect {
    message: RedirectMessage,
}

impl VerifiedRedirect {
    /// The decoded message (its XML, RelayState and signature algorithm).
    pub fn message(&self) -> &RedirectMessage {
        &self.message
    }

    /// Parses the verified XML under `limits`; its tree is covered from the root down.
    pub(crate) fn parse(&self, limits: &Limits) -> Result<VerifiedDocument<'_>, XmlError> {
        crate::xml::parse(&self.message.xml, limits).map(|doc| VerifiedDocument { doc })
    }
}

/// The tree of a [`VerifiedRedirect`] message.
#[derive(Debug)]
pub(crate) struct VerifiedDocument<'i> {
    doc: Document<'i>,
}

impl<'i> VerifiedDocument<'i> {
    /// The document, for structural checks (embedded signatures, unique IDs).
    pub fn document(&self) -> &Document<'i> {
        &self.doc
    }

    /// The document element, covered whole by the Redirect signature.
    pub fn root(&self) -> Verified<'_, 'i> {
        // Covered whole: the query signature is over the deflated XML itself.
        Verified::covered(self.doc.root_element())
    }
}

/// Verifies a signed HTTP-Redirect query with [`verify_query`] and keeps the
/// message as the proof that its XML is covered.
pub fn verify_redirect(
    query: &str,
    keys: &[VerificationKey],
    min_rsa_bits: u32,
) -> Result<VerifiedRedirect, RedirectError> {
    verify_query(query, keys, min_rsa_bits).map(|message| VerifiedRedirect { message })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_plus_matches_python() {
        let mut s = String::new();
        quote_plus("a b/c+d=e:f~g*h_i.j-k%\u{e8}", &mut s);
        // python3 -c "from urllib.parse import quote_plus; print(quote_plus('a b/c+d=e:f~g*h_i.j-k%è'))"
        assert_eq!(s, "a+b%2Fc%2Bd%3De%3Af~g%2Ah_i.j-k%25%C3%A8");
    }

    #[test]
    fn reused_compressor_round_trips_every_size() {
        let mut text = String::new();
        let mut x: u32 = 7;
        for n in [0usize, 1, 100, 5_000, 60_000] {
            while text.len() < n {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                text.push(char::from(b'a' + (x >> 16) as u8 % 26));
                if x.is_multiple_of(7) {
                    text.push_str("<saml:Issuer>");
                }
            }
            let t = &text[..n];
            // Twice: the second call reuses the reset compressor.
            assert_eq!(inflate_base64(&deflate_base64(t)).unwrap(), t);
            assert_eq!(deflate_base64(t), deflate_base64(t));
        }
    }

    #[test]
    fn deflate_round_trip_and_bomb() {
        let xml = "<a>hello</a>";
        assert_eq!(inflate_base64(&deflate_base64(xml)).unwrap(), xml);
        let bomb = deflate_base64(&"a".repeat(MAX_INFLATED + 10));
        assert_eq!(inflate_base64(&bomb).unwrap_err(), RedirectError::TooLarge);
        assert!(inflate_base64("!!!").is_err());
    }

    fn key(name: &str) -> SigningKey {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/keys/");
        let read = |ext: &str| std::fs::read(format!("{dir}{name}.{ext}.pem")).unwrap();
        SigningKey::from_pem(&read("key"), &read("crt")).unwrap()
    }

    const XML: &str = "<samlp:LogoutRequest ID=\"_1\">+/ \u{e8}</samlp:LogoutRequest>";

    #[test]
    fn signed_query_verifies_on_the_raw_octets_only() {
        let sp = key("sp");
        let keys = [sp.verification_key().unwrap()];
        let alg = SignatureAlgorithm::RsaSha256;
        let q = signed_query("SAMLRequest", XML, Some("r s/1"), &sp, alg).unwrap();
        assert!(q.starts_with(&encode_query("SAMLRequest", XML, Some("r s/1"))));
        assert!(q.contains(
            "&SigAlg=http%3A%2F%2Fwww.w3.org%2F2001%2F04%2Fxmldsig-more%23rsa-sha256&Signature="
        ));
        let msg = verify_query(&format!("?{q}"), &keys, 2048).unwrap();
        assert_eq!(
            msg,
            RedirectMessage {
                param: "SAMLRequest",
                xml: XML.to_owned(),
                relay_state: Some("r s/1".to_owned()),
                algorithm: Some(alg),
            }
        );
        assert_eq!(decode_unverified(&q).unwrap().xml, XML);

        // The same parameters re-encoded (lower-case hex) decode alike but are other
        // octets: the signature does not cover them.
        let relay = q.replace("r+s%2F1", "r+s%2f1");
        assert_ne!(relay, q);
        assert_eq!(
            decode_unverified(&relay).unwrap(),
            decode_unverified(&q).unwrap()
        );
        assert_eq!(
            verify_query(&relay, &keys, 2048),
            Err(RedirectError::Signature(DsigError::Invalid))
        );
        // Unsigned, dropped RelayState, wrong key, weak key, no key.
        assert_eq!(
            verify_query(&encode_query("SAMLRequest", XML, None), &keys, 2048),
            Err(RedirectError::Missing("SigAlg"))
        );
        let dropped = q.replace("&RelayState=r+s%2F1", "");
        assert_eq!(
            verify_query(&dropped, &keys, 2048),
            Err(RedirectError::Signature(DsigError::Invalid))
        );
        let other = [key("attacker").verification_key().unwrap()];
        assert_eq!(
            verify_query(&q, &other, 2048),
            Err(RedirectError::Signature(DsigError::Invalid))
        );
        let weak = key("weak1024");
        let q = signed_query("SAMLResponse", XML, None, &weak, alg).unwrap();
        assert_eq!(
            verify_query(&q, &[weak.verification_key().unwrap()], 2048),
            Err(RedirectError::Signature(DsigError::WeakKey { bits: 1024 }))
        );
        assert_eq!(
            verify_query(&q, &[], 2048),
            Err(RedirectError::Signature(DsigError::NoKey))
        );
    }

    #[test]
    fn inflate_skips_xml_whitespace_only() {
        let b64 = deflate_base64(XML);
        let (a, b) = b64.split_at(10);
        assert_eq!(inflate_base64(&format!("{a}\r\n\t {b}")).unwrap(), XML);
        assert_eq!(
            inflate_base64(&format!("{a}\x0c{b}")),
            Err(RedirectError::Encoding("base64"))
        );
    }

    #[test]
    fn repeated_and_missing_parameters() {
        assert_eq!(
            decode_unverified("SAMLRequest=a&SAMLRequest=b").unwrap_err(),
            RedirectError::Repeated("SAMLRequest/SAMLResponse")
        );
        assert!(matches!(
            decode_unverified("RelayState=x"),
            Err(RedirectError::Missing(_))
        ));
    }
}
