//! Errors built from unsigned input carry no raw control or bidi characters in `Display`
//! (log injection): the refusal status of an unsigned Response, and every rejection of
//! every response vector.

mod common;

use common::*;
use spid_sp::{LoginError, LoginOptions};

fn hidden(s: &str) -> Option<char> {
    s.chars().find(|c| {
        c.is_control() || matches!(c, '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
    })
}

#[test]
fn an_unsigned_refusal_cannot_write_lines_into_the_log() {
    let w = world_at(now());
    let (_, pending) = w.sp.start_login(IDP, &LoginOptions::default()).unwrap();
    // Character references put raw CR, LF, ESC and a right-to-left override into the
    // status URIs of an unsigned Response.
    let evil = "urn:x&#13;&#10;2026-01-15 INFO login ok fiscal_code=RSSMRA80A01H501U&#x85;&#x202E;&#x200B;";
    let xml = format!(
        "<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" \
         ID=\"_r1\" Version=\"2.0\" IssueInstant=\"2026-01-15T10:00:00Z\" Destination=\"{ACS}\" InResponseTo=\"{}\">\
         <saml:Issuer>{IDP}</saml:Issuer><samlp:Status><samlp:StatusCode Value=\"{evil}\">\
         <samlp:StatusCode Value=\"{evil}\"/></samlp:StatusCode><samlp:StatusMessage>ErrorCode nr19</samlp:StatusMessage>\
         </samlp:Status></samlp:Response>",
        pending.request_id()
    );
    let relay = pending.relay_state().as_str().to_owned();
    let err =
        w.sp.finish_login(&post(&xml, Some(&relay)), pending)
            .unwrap_err();
    let LoginError::Refused(refusal) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(refusal.error_code(), Some(19));
    for text in [
        err.to_string(),
        refusal.to_string(),
        refusal.status().to_owned(),
        refusal.sub_status().unwrap_or_default().to_owned(),
    ] {
        assert_eq!(hidden(&text), None, "{text:?}");
        assert!(!text.contains('\n'));
    }
    assert!(refusal.status().contains("\\u{a}"), "{}", refusal.status());
}

#[test]
fn no_vector_yields_an_error_message_with_hidden_characters() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/responses");
    let mut checked = 0;
    let w = world_at(now());
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("xml") {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        let (_, pending) = w.sp.start_login(IDP, &LoginOptions::default()).unwrap();
        let relay = pending.relay_state().as_str().to_owned();
        let incoming = spid_sp::Incoming::Post {
            message: base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &bytes),
            relay_state: Some(relay),
        };
        if let Err(e) = w.sp.finish_login(&incoming, pending) {
            let text = e.to_string();
            assert_eq!(hidden(&text), None, "{path:?}: {text:?}");
            checked += 1;
        }
    }
    assert!(checked > 100, "{checked}");
}
