//! Resource limits on hostile input: oversized bodies, deep nesting, quadratic-blowup
//! shapes (many attributes, many namespace declarations, huge values), invalid UTF-8 and
//! UTF-16 are refused with a typed reason, before the tree builder does work
//! proportional to anything but the input length. How fast is measured by
//! `cargo bench --bench limits` (never asserted here); memory is asserted on a child
//! process's peak RSS.

mod common;

use base64::Engine as _;
use common::*;
use spid_sp::fuzzing::tree::{self, Document};
use spid_sp::metadata::{IdentityProvider, MetadataError};
use spid_sp::xml::{Limits, XmlError};
use spid_sp::{Incoming, LoginError, LoginOptions, RejectReason, SpConfig};

const MB: usize = 1024 * 1024;

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn rejected(result: Result<spid_sp::VerifiedLogin, LoginError>) -> RejectReason {
    match result {
        Err(LoginError::Rejected(reason)) => reason,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

fn deep(n: usize) -> String {
    "<a>".repeat(n) + &"</a>".repeat(n)
}

fn many_attributes(n: usize) -> String {
    let attrs: String = (0..n).map(|i| format!(" a{i}=\"\"")).collect();
    format!("<r{attrs}/>")
}

fn nested_declarations(n: usize) -> String {
    let open: String = (0..n).map(|i| format!("<a xmlns:p{i}=\"u\">")).collect();
    open + &"</a>".repeat(n)
}

fn redeclaring_siblings(bytes: usize) -> String {
    let root: String = (0..60).map(|i| format!(" xmlns:p{i}=\"u{i}\"")).collect();
    let mut doc = format!("<r{root}>");
    while doc.len() < bytes - 64 {
        doc.push_str("<a xmlns:z=\"u\"/>");
    }
    doc.push_str("</r>");
    doc
}

fn utf16le(s: &str) -> Vec<u8> {
    let mut out = vec![0xFF, 0xFE];
    out.extend(s.encode_utf16().flat_map(u16::to_le_bytes));
    out
}

#[test]
fn a_12_mb_body_is_refused_before_decoding() {
    let w = world_at(now());
    let (_, pending) = w.sp.start_login(IDP, &LoginOptions::default()).unwrap();
    let body = vec![b'A'; 12 * MB];
    let incoming = Incoming::Post {
        message: String::from_utf8(body).unwrap(),
        relay_state: Some(pending.relay_state().as_str().to_owned()),
    };
    assert_eq!(
        rejected(w.sp.finish_login(&incoming, pending)),
        RejectReason::InputTooLarge
    );
    let doc = format!("<r>{}</r>", "x".repeat(12 * MB));
    assert_eq!(
        tree::parse(&doc, &Limits::MESSAGE).unwrap_err(),
        XmlError::TooLarge { limit: 256 * 1024 }
    );
    assert_eq!(
        IdentityProvider::from_metadata(&doc).unwrap_err(),
        MetadataError::Xml(XmlError::TooLarge { limit: 8 * MB })
    );
}

#[test]
fn configured_limits_are_enforced_on_responses() {
    let w = world_at(now());
    let config = SpConfig::builder(SP, w.sp_key.clone())
        .assertion_consumer_service(ACS)
        .attribute_service(0, "Servizi", &["fiscalNumber"])
        .limits(Limits {
            max_bytes: 4096,
            ..Limits::MESSAGE
        })
        .build()
        .unwrap();
    let idps = IdentityProvider::from_metadata(&w.idp.metadata(IDP)).unwrap();
    let sp = spid_sp::ServiceProvider::new(config, idps)
        .expect("service provider")
        .with_clock(std::sync::Arc::new(spid_sp::FixedClock(now())));
    let (_, pending) = sp.start_login(IDP, &LoginOptions::default()).unwrap();
    let spec = spec_for(&pending).attribute("fiscalNumber", "TINIT-RSSMRA80A01H501U");
    let xml = w.idp.response(&spec).unwrap();
    assert!(xml.len() > 4096);
    let incoming = answer(&xml, &pending);
    assert_eq!(
        rejected(sp.finish_login(&incoming, pending)),
        RejectReason::InputTooLarge
    );
}

#[test]
fn deep_nesting_is_refused_without_recursion() {
    // The reader itself, without its depth limit, builds a 100k- and a 1M-deep tree
    // iteratively: on a thread with a 64 KiB stack it neither recurses nor overflows (nor
    // does dropping the tree).
    let handle = std::thread::Builder::new()
        .stack_size(64 * 1024)
        .spawn(|| {
            for n in [100_000, 1_000_000] {
                let text = deep(n);
                let unbounded = Limits {
                    max_bytes: usize::MAX,
                    max_depth: usize::MAX,
                    max_nodes: u32::MAX,
                    ..Limits::METADATA
                };
                let doc: Document<'_> = tree::parse(&text, &unbounded).unwrap();
                assert_eq!(doc.descendants().count(), n + 1);
            }
        })
        .unwrap();
    handle.join().unwrap();

    // Our reader refuses it before the tree is built, whatever the size limit.
    let big = Limits {
        max_bytes: 16 * MB,
        ..Limits::METADATA
    };
    for (doc, limits) in [
        (deep(100_000), &Limits::METADATA),
        (deep(1_000_000), &big),
        ("<a>".repeat(1_000_000), &big),
    ] {
        assert_eq!(
            tree::parse(&doc, limits).unwrap_err(),
            XmlError::TooDeep { limit: 32 }
        );
    }
    // Inside a Response, after base64: the message limit (256 KiB) stops 100k levels
    // first; 30k levels fit in it and are refused as too deep.
    let w = world_at(now());
    for (n, reason) in [
        (100_000, RejectReason::InputTooLarge),
        (30_000, RejectReason::Xml(XmlError::TooDeep { limit: 32 })),
    ] {
        let (_, pending) = w.sp.start_login(IDP, &LoginOptions::default()).unwrap();
        let incoming = post(&deep(n), Some(pending.relay_state().as_str()));
        assert_eq!(rejected(w.sp.finish_login(&incoming, pending)), reason);
    }
}

#[test]
fn quadratic_shapes_are_refused_before_the_tree_builder_runs() {
    let flat = Limits {
        max_depth: usize::MAX,
        ..Limits::MESSAGE
    };
    let cases: [(&str, String, &Limits, XmlError); 6] = [
        (
            "25k attributes on one element",
            many_attributes(25_000),
            &Limits::MESSAGE,
            XmlError::TooManyAttributes { limit: 32 },
        ),
        (
            "12k namespace declarations on one element",
            (0..12_000).fold(String::from("<r"), |s, i| s + &format!(" xmlns:p{i}='u'")) + "/>",
            &Limits {
                max_attributes: usize::MAX,
                ..Limits::MESSAGE
            },
            XmlError::TooManyNamespaces { limit: 64 },
        ),
        (
            "10k nested namespace declarations",
            nested_declarations(10_000),
            &flat,
            XmlError::TooManyNamespaces { limit: 64 },
        ),
        (
            "10k nested namespace declarations, depth limit",
            nested_declarations(10_000),
            &Limits::MESSAGE,
            XmlError::TooDeep { limit: 32 },
        ),
        (
            "10k sibling elements each declaring a namespace",
            format!(
                "<r>{}</r>",
                (0..10_000)
                    .map(|i| format!("<a xmlns:p{i}='u'/>"))
                    .collect::<String>()
            ),
            &Limits::MESSAGE,
            XmlError::TooManyNamespaces { limit: 512 },
        ),
        (
            "8 MiB of siblings re-declaring a namespace",
            redeclaring_siblings(8 * MB),
            &Limits::METADATA,
            XmlError::TooManyNamespaces { limit: 2048 },
        ),
    ];
    for (name, doc, limits, expected) in cases {
        assert_eq!(tree::parse(&doc, limits).unwrap_err(), expected, "{name}");
    }
    // Huge attribute values are linear work: they parse (within the byte limit) or are
    // refused for size.
    let value = "&amp;&#x9;".repeat(12_000);
    let doc = format!("<r a=\"{value}\" b=\"{value}\"/>");
    let parsed = tree::parse(&doc, &Limits::MESSAGE).unwrap();
    assert_eq!(parsed.root_element().attribute("a").unwrap().len(), 24_000);
    let doc = format!("<r a=\"{}\"/>", "v".repeat(9 * MB));
    assert_eq!(
        tree::parse(&doc, &Limits::METADATA).unwrap_err(),
        XmlError::TooLarge { limit: 8 * MB }
    );
}

/// The well-formedness and comment checks on top of the parser look at each byte and node
/// a bounded number of times: a megabyte-sized worst case of each is decided like any
/// document (run time is measured by the bench, never asserted here).
#[test]
fn well_formedness_and_comment_checks_are_linear() {
    let strict = Limits {
        forbid_comments_in_text: true,
        forbid_processing_instructions: true,
        ..Limits::METADATA
    };
    // 240k comments in one element, whitespace between them; then the same with one
    // character of text at the end (every comment would be a candidate for a naive
    // sibling search).
    let comments = " <!---->".repeat(240_000);
    tree::parse(&format!("<r>{comments}</r>"), &strict).unwrap();
    assert_eq!(
        tree::parse(&format!("<r>{comments}x</r>"), &strict).unwrap_err(),
        XmlError::CommentInText
    );
    // Character references: 1M valid ones, one run of 7 MB of digits, 2M bare `&#`.
    let refs = "&#x41;".repeat(1_000_000);
    let text = format!("<r a='{}'>{refs}</r>", &refs[..60_000]);
    let doc = tree::parse(&text, &strict).unwrap();
    assert_eq!(tree::text(doc.root_element()).unwrap().len(), 1_000_000);
    assert_eq!(
        tree::parse(&format!("<r>&#{};</r>", "9".repeat(7 * MB)), &strict).unwrap_err(),
        XmlError::Malformed("character reference to a character XML forbids".into())
    );
    assert!(matches!(
        tree::parse(&format!("<r>{}</r>", "&#".repeat(2 * MB)), &strict),
        Err(XmlError::Malformed(_))
    ));
    // A declaration with megabytes of whitespace.
    let decl = format!(
        "<?xml{}version='1.0'{}?><r/>",
        " ".repeat(3 * MB),
        "\n".repeat(3 * MB)
    );
    tree::parse(&decl, &strict).unwrap();
}

#[test]
fn invalid_utf8_and_utf16_are_refused() {
    let w = world_at(now());
    let mut invalid =
        b"<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\">".to_vec();
    invalid.extend_from_slice(&[0xC3, 0x28, 0xFF, 0xFE]);
    invalid.extend_from_slice(b"</samlp:Response>");
    let utf16 = utf16le("<?xml version=\"1.0\" encoding=\"UTF-16\"?><samlp:Response/>");
    let declared = b"<?xml version=\"1.0\" encoding=\"UTF-16\"?><r/>".to_vec();
    let latin1 = b"<?xml version='1.0' encoding='ISO-8859-1'?><r>\xe8</r>".to_vec();
    for bytes in [&invalid, &utf16, &declared, &latin1] {
        let (_, pending) = w.sp.start_login(IDP, &LoginOptions::default()).unwrap();
        let incoming = Incoming::Post {
            message: b64(bytes),
            relay_state: Some(pending.relay_state().as_str().to_owned()),
        };
        assert_eq!(
            rejected(w.sp.finish_login(&incoming, pending)),
            RejectReason::InputEncoding
        );
        assert_eq!(tree::decode_utf8(bytes).err(), Some(XmlError::Encoding));
    }
    // Not base64 at all.
    let (_, pending) = w.sp.start_login(IDP, &LoginOptions::default()).unwrap();
    let incoming = Incoming::Post {
        message: "<samlp:Response/>".into(),
        relay_state: Some(pending.relay_state().as_str().to_owned()),
    };
    assert_eq!(
        rejected(w.sp.finish_login(&incoming, pending)),
        RejectReason::InputEncoding
    );
}

/// Every hostile input above, once, in this process; then its peak RSS (`VmHWM`).
fn run_all_hostile_inputs() {
    let big = Limits {
        max_bytes: 16 * MB,
        ..Limits::METADATA
    };
    let flat = Limits {
        max_depth: usize::MAX,
        ..Limits::METADATA
    };
    let docs: Vec<(String, &Limits)> = vec![
        (format!("<r>{}</r>", "x".repeat(12 * MB)), &Limits::METADATA),
        (deep(1_000_000), &big),
        (many_attributes(600_000), &big),
        (nested_declarations(300_000), &flat),
        (redeclaring_siblings(8 * MB), &Limits::METADATA),
    ];
    for (doc, limits) in &docs {
        assert!(tree::parse(doc, limits).is_err());
        let _ = IdentityProvider::from_metadata(doc);
    }
}

fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[test]
fn memory_stays_bounded() {
    if std::env::var_os("SPID_LIMITS_CHILD").is_some() {
        run_all_hostile_inputs();
        println!("PEAK_RSS_KIB={}", peak_rss_kib());
        return;
    }
    if !std::path::Path::new("/proc/self/status").exists() {
        eprintln!("no /proc: peak RSS not measured");
        return;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "memory_stays_bounded",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("SPID_LIMITS_CHILD", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "child failed: {stdout}");
    let peak: u64 = stdout
        .lines()
        .find_map(|l| l.split("PEAK_RSS_KIB=").nth(1))
        .and_then(|v| v.trim().parse().ok())
        .unwrap();
    eprintln!("peak RSS over all hostile inputs: {} MiB", peak / 1024);
    // The largest input is 16 MB of text held as a String (plus the test binary): the
    // parser never gets to allocate per-element namespace copies or attribute tables.
    assert!(peak < 160 * 1024, "peak RSS {} MiB", peak / 1024);
}
