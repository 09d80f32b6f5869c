//! The SAML HTTP-POST binding: `application/x-www-form-urlencoded` bodies, the
//! auto-submitting HTML form, and the bounded decoding of the posted message.

use super::{Delivery, Incoming, Outgoing};
use crate::b64::{self, Base64Error};
use crate::dsig::{self, SignatureAlgorithm, SignatureAnchor, SigningKey};
use crate::error::RejectReason;
use crate::ids::RequestId;
use crate::saml::ASSERTION_NS;
use crate::xml::writer;

/// Signs `xml` enveloped (the Signature after the Issuer) and puts its base64 in a form
/// field: the signed XML and how to deliver it.
pub(super) fn sign(
    xml: String,
    action: &str,
    field: &'static str,
    relay_state: Option<&str>,
    key: &SigningKey,
    alg: SignatureAlgorithm,
) -> Result<(String, Delivery), dsig::DsigError> {
    let signed = dsig::sign_enveloped(
        &xml,
        key,
        alg,
        SignatureAnchor::After(ASSERTION_NS, "Issuer"),
    )?;
    let value = b64::encode(signed.as_bytes());
    Ok((
        signed,
        Delivery::Post {
            action: action.to_owned(),
            field,
            value,
            relay_state: relay_state.map(str::to_owned),
        },
    ))
}

impl Outgoing {
    /// A complete HTML page that posts the message (POST binding), with a button for
    /// browsers without JavaScript. `nonce` is added to the script tag for a CSP.
    pub fn html_form(&self, nonce: Option<&str>) -> Option<String> {
        let Delivery::Post {
            action,
            field,
            value,
            relay_state,
        } = &self.delivery
        else {
            return None;
        };
        let nonce = nonce
            .map(|n| format!(" nonce=\"{}\"", writer::attr(n)))
            .unwrap_or_default();
        let relay = relay_state
            .as_deref()
            .map(|r| {
                format!(
                    "<input type=\"hidden\" name=\"RelayState\" value=\"{}\">",
                    writer::attr(r)
                )
            })
            .unwrap_or_default();
        Some(format!(
            "<!DOCTYPE html>\n<html lang=\"it\"><head><meta charset=\"utf-8\"><title>Accesso in corso</title></head>\
             <body><form method=\"post\" action=\"{}\" id=\"saml-form\">\
             <input type=\"hidden\" name=\"{field}\" value=\"{value}\">{relay}\
             <noscript><p>JavaScript è disattivato: premi il pulsante per continuare.</p></noscript>\
             <button type=\"submit\">Continua</button></form>\
             <script{nonce}>document.getElementById('saml-form').submit();</script></body></html>",
            writer::attr(action),
        ))
    }
}

impl Incoming {
    /// From an `application/x-www-form-urlencoded` POST body.
    ///
    /// `None` when a value is badly percent-encoded or not UTF-8, when
    /// `SAMLResponse`/`SAMLRequest`/`RelayState` is repeated (or both messages are
    /// present), or when there is no message.
    pub fn from_form(body: &str) -> Option<Incoming> {
        let mut message = None;
        let mut relay_state = None;
        for pair in body.split('&') {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let v = form_decode(v)?;
            match k {
                "SAMLResponse" | "SAMLRequest" if message.is_none() => message = Some(v),
                "RelayState" if relay_state.is_none() => relay_state = Some(v),
                "SAMLResponse" | "SAMLRequest" | "RelayState" => return None,
                _ => {}
            }
        }
        Some(Incoming::Post {
            message: message?,
            relay_state,
        })
    }

    /// The unverified `InResponseTo` of a POSTed message: only a lookup key for the
    /// pending request, which verification then checks.
    ///
    /// Reads only the root element's start tag, decoding the first few KB of the message
    /// (the whole of it, bounded by `max_bytes`, only when that start tag is longer): the
    /// document is parsed once, by verification.
    pub fn in_response_to_hint(&self, max_bytes: usize) -> Option<RequestId> {
        use crate::xml::reader::{root_attribute, RootAttribute};
        let Incoming::Post { message, .. } = self else {
            return None;
        };
        let found = |xml: &str| match root_attribute(xml, "InResponseTo") {
            RootAttribute::Found(id) => {
                let id = id.trim();
                Some((!id.is_empty() && id.len() <= 256).then(|| RequestId::new(id)))
            }
            RootAttribute::Absent => Some(None),
            RootAttribute::Incomplete => None,
        };
        // 4 KB of base64 (whitespace skipped) hold 3 KB of XML: any real root start tag.
        const PREFIX: usize = 4096;
        if let Some(head) = b64::decode_head(message, PREFIX) {
            let bytes = head.ok()?;
            let text = match std::str::from_utf8(&bytes) {
                Ok(t) => t,
                Err(e) => std::str::from_utf8(bytes.get(..e.valid_up_to())?).ok()?,
            };
            if let Some(id) = found(text) {
                return id;
            }
        }
        let xml = decode_post(message, max_bytes).ok()?;
        found(&xml).flatten()
    }
}

/// Decodes a POST-binding field: strict base64 (XML whitespace allowed), bounded by
/// `max_bytes` before and after decoding, UTF-8.
pub(crate) fn decode_post(field: &str, max_bytes: usize) -> Result<String, RejectReason> {
    let bytes = b64::decode(field, max_bytes).map_err(|e| match e {
        Base64Error::TooLarge => RejectReason::InputTooLarge,
        Base64Error::Invalid => RejectReason::InputEncoding,
    })?;
    String::from_utf8(bytes).map_err(|_| RejectReason::InputEncoding)
}

/// Decodes `application/x-www-form-urlencoded` text (`+` is a space). `None` for a `%`
/// not followed by two hex digits, or for bytes that are not UTF-8.
pub fn form_decode(s: &str) -> Option<String> {
    let mut out = Vec::with_capacity(s.len());
    let mut rest = s.as_bytes();
    // Plain runs are copied whole (a posted SAMLResponse is 12+ KB of base64 with a
    // `%2B`/`%2F` every few dozen bytes).
    while let Some(at) = memchr::memchr2(b'+', b'%', rest) {
        out.extend_from_slice(rest.get(..at)?);
        if rest.get(at) == Some(&b'+') {
            out.push(b' ');
            rest = rest.get(at + 1..)?;
        } else {
            let (hi, lo) = (rest.get(at + 1)?, rest.get(at + 2)?);
            out.push(hex_value(*hi)? << 4 | hex_value(*lo)?);
            rest = rest.get(at + 3..)?;
        }
    }
    out.extend_from_slice(rest);
    String::from_utf8(out).ok()
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// An `application/x-www-form-urlencoded` body, `name=value` pairs joined by `&`, names
/// and values encoded as [`quote_plus`](super::redirect::quote_plus) does (the inverse of
/// [`form_decode`] pair by pair).
pub fn encode_form(fields: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (name, value) in fields {
        if !out.is_empty() {
            out.push('&');
        }
        super::redirect::quote_plus(name, &mut out);
        out.push('=');
        super::redirect::quote_plus(value, &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(xml: &str, wrap: bool) -> Incoming {
        let mut message = b64::encode(xml);
        if wrap {
            let chars: Vec<char> = message.chars().collect();
            message = chars
                .chunks(76)
                .map(|c| c.iter().collect::<String>())
                .collect::<Vec<_>>()
                .join("\r\n");
        }
        Incoming::Post {
            message,
            relay_state: None,
        }
    }

    #[test]
    fn in_response_to_hint_reads_the_root_start_tag() {
        let body = format!("<a>{}</a>", "x".repeat(20_000));
        let long = format!(" Pad=\"{}\"", "p".repeat(5_000));
        for (attrs, want) in [
            (" InResponseTo=\"_req\"".to_owned(), Some("_req")),
            (format!("{long} InResponseTo=' _req '"), Some("_req")),
            (format!(" ID='1'{long}"), None),
            (" InResponseTo=''".to_owned(), None),
            (format!(" InResponseTo='{}'", "i".repeat(257)), None),
        ] {
            let xml =
                format!("<?xml version=\"1.0\"?><samlp:Response{attrs}>{body}</samlp:Response>");
            for wrap in [false, true] {
                let hint = post(&xml, wrap).in_response_to_hint(1 << 20);
                assert_eq!(
                    hint.as_ref().map(RequestId::as_str),
                    want,
                    "{attrs:.40} {wrap}"
                );
            }
            // Over the size bound: only a hint found in the first KB survives.
            let hint = post(&xml, false).in_response_to_hint(1_000);
            let small = want.filter(|_| !attrs.starts_with(&long));
            assert_eq!(hint.as_ref().map(RequestId::as_str), small, "{attrs:.40}");
        }
        let not_base64 = Incoming::Post {
            message: "%%%".repeat(2_000),
            relay_state: None,
        };
        assert_eq!(not_base64.in_response_to_hint(1 << 20), None);
    }

    #[test]
    fn decode_post_is_strict_and_bounded() {
        let xml = "<samlp:Response/>";
        let b64 = b64::encode(xml);
        assert_eq!(decode_post(&b64, 1 << 20).unwrap(), xml);
        let wrapped = format!("{}\r\n {}\t\n", &b64[..8], &b64[8..]);
        assert_eq!(decode_post(&wrapped, 1 << 20).unwrap(), xml);
        assert_eq!(
            decode_post(&b64, xml.len() - 1),
            Err(RejectReason::InputTooLarge)
        );
        assert_eq!(
            decode_post(&"A".repeat(4_000), 1_000),
            Err(RejectReason::InputTooLarge),
            "refused before decoding"
        );
        for bad in [
            format!("{}\x0c{}", &b64[..8], &b64[8..]),
            b64.replace('=', ""),
            format!("{b64}="),
            b64::encode([0xff, 0xfe]),
        ] {
            assert_eq!(
                decode_post(&bad, 1 << 20),
                Err(RejectReason::InputEncoding),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn form_bodies_round_trip_and_repeats_are_refused() {
        let body = encode_form(&[("SAMLResponse", "a+b/c= è"), ("RelayState", "x&y=z")]);
        assert_eq!(
            body,
            "SAMLResponse=a%2Bb%2Fc%3D+%C3%A8&RelayState=x%26y%3Dz"
        );
        assert_eq!(
            Incoming::from_form(&body),
            Some(Incoming::Post {
                message: "a+b/c= è".to_owned(),
                relay_state: Some("x&y=z".to_owned()),
            })
        );
        for bad in [
            "SAMLResponse=a&SAMLResponse=b",
            "SAMLResponse=a&SAMLRequest=b",
            "SAMLResponse=a&RelayState=1&RelayState=2",
            "RelayState=1",
            "SAMLResponse=%ZZ",
        ] {
            assert_eq!(Incoming::from_form(bad), None, "{bad}");
        }
    }

    #[test]
    fn form_decode_matches_a_byte_by_byte_decoder() {
        fn reference(s: &str) -> Option<String> {
            let b = s.as_bytes();
            let (mut out, mut i) = (Vec::new(), 0);
            while let Some(&c) = b.get(i) {
                match c {
                    b'+' => out.push(b' '),
                    b'%' => {
                        let h = |k: usize| b.get(k).and_then(|&c| char::from(c).to_digit(16));
                        out.push(u8::try_from(h(i + 1)? * 16 + h(i + 2)?).ok()?);
                        i += 2;
                    }
                    _ => out.push(c),
                }
                i += 1;
            }
            String::from_utf8(out).ok()
        }
        let alphabet = [
            "a", "+", "%", "2", "B", "f", "G", "%C3%A8", "%c3", "%2b", "\u{e8}", "=",
        ];
        let mut x: u32 = 1;
        for _ in 0..20_000 {
            let mut s = String::new();
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            for _ in 0..(x >> 28) {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                s.push_str(alphabet[(x >> 16) as usize % alphabet.len()]);
            }
            assert_eq!(form_decode(&s), reference(&s), "{s:?}");
        }
        assert_eq!(
            form_decode("a+b%2Fc%2Bd%3De%C3%A8").as_deref(),
            Some("a b/c+d=eè")
        );
        for bad in ["%", "%2", "%2G", "%+1", "a%-1", "%C3"] {
            assert_eq!(form_decode(bad), None, "{bad}");
        }
    }
}
