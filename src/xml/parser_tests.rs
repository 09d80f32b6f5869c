//! One test per well-formedness rule and per limit of the one-pass reader.

use super::*;
use crate::xml::equivalence::PERMISSIVE;

fn refused(doc: &str) -> XmlError {
    match parse(doc, &PERMISSIVE) {
        Err(e) => e,
        Ok(_) => panic!("accepted: {doc:?}"),
    }
}

fn malformed_all(docs: &[&str]) {
    for doc in docs {
        assert!(matches!(refused(doc), XmlError::Malformed(_)), "{doc:?}");
    }
}

fn accepted(doc: &str) -> Document<'_> {
    parse(doc, &PERMISSIVE).unwrap_or_else(|e| panic!("{doc:?}: {e}"))
}

#[test]
fn names_must_be_qnames() {
    malformed_all(&[
        "<:r/>",
        "<r:/>",
        "<a:b:c xmlns:a='u'/>",
        "<1r/>",
        "<-r/>",
        "<r :a='1'/>",
        "<r a:='1'/>",
        "<r 1a='1'/>",
        "<r\u{d7}/>",
    ]);
    accepted("<r.x-y_z\u{e8}\u{b7}0 a.b='1'/>");
}

#[test]
fn references() {
    malformed_all(&[
        "<r>&unknown;</r>",
        "<r>&amp</r>",
        "<r>&#;</r>",
        "<r>&#x;</r>",
        "<r>&#X41;</r>",
        "<r>&#0;</r>",
        "<r>&#xD800;</r>",
        "<r>&#xFFFE;</r>",
        "<r>&#x110000;</r>",
        "<r a='&#1;'/>",
        "<r>&#99999999999999999999;</r>",
        "<r a='&'/>",
    ]);
    let doc = accepted("<r a='&lt;&gt;&amp;&apos;&quot;&#x41;&#66;'>&#x10FFFF;&lt;</r>");
    assert_eq!(doc.root_element().attribute("a"), Some("<>&'\"AB"));
    assert_eq!(doc.root_element().text(), Some("\u{10FFFF}<"));
}

#[test]
fn forbidden_characters() {
    malformed_all(&[
        "<r>\u{1}</r>",
        "<r a='\u{1f}'/>",
        "<r>\u{fffe}</r>",
        "<r><!--\u{ffff}--></r>",
    ]);
    accepted("<r>\t\u{85}\u{fffd}</r>");
}

/// Among the characters whose UTF-8 starts with EF, only U+FFFE and U+FFFF are refused,
/// wherever they sit and whatever EF-led characters come before them.
#[test]
fn only_fffe_and_ffff_among_ef_led_characters_are_refused() {
    let allowed = ["\u{f000}", "\u{feff}", "\u{ffbf}", "\u{fffd}", "\u{efbf}"];
    for pad in 0..40 {
        for before in allowed {
            let x = "x".repeat(pad);
            accepted(&format!("<r a='{before}{x}'>{x}{before}</r>"));
            for bad in ['\u{fffe}', '\u{ffff}'] {
                assert_eq!(
                    refused(&format!("<r>{before}{x}{bad}</r>")),
                    XmlError::Malformed("a character XML forbids".into()),
                    "{pad} {before:?} {bad:?}"
                );
            }
        }
    }
}

#[test]
fn line_ends_are_normalized() {
    let doc = accepted(
        "<r a='x\r\ny\rz\tw\n'>a\r\nb\rc&amp;\r<![CDATA[\r\n]]>&#13;<!--\r--><?p x\r\n?></r>",
    );
    let r = doc.root_element();
    assert_eq!(r.attribute("a"), Some("x y z w "));
    assert_eq!(r.text(), Some("a\nb\nc&\n\n\r"));
    let comment = r.children().find(|n| n.is_comment()).unwrap();
    assert_eq!(comment.text(), Some("\n"));
    let pi = r.children().find_map(|n| n.pi()).unwrap();
    assert_eq!(pi.value, Some("x\n"));
}

#[test]
fn character_data() {
    malformed_all(&["<r>]]></r>", "<r>a]]>b</r>", "<r a='<'/>"]);
    accepted("<r a=']]>'>]]&gt;]></r>");
}

#[test]
fn comments() {
    malformed_all(&[
        "<r><!-- a -- b --></r>",
        "<r><!-- a---></r>",
        "<r><!--",
        "<r><!-></r>",
    ]);
    accepted("<r><!----><!-- - --></r>");
}

#[test]
fn processing_instructions() {
    assert_eq!(refused("<r><?xml x?></r>"), malformed(RESERVED_PI));
    assert_eq!(refused("<r><?XmL?></r>"), malformed(RESERVED_PI));
    assert_eq!(refused("<r><?p:i x?></r>"), malformed(PI_COLON));
    assert_eq!(refused("<r><?a#b?></r>"), malformed(PI_TARGET));
    malformed_all(&["<r><??></r>", "<r><?p</r>"]);
    let doc = accepted("<?xml-stylesheet  a ?><r><?p?></r>");
    let pi = doc.root().first_child().unwrap().pi().unwrap();
    assert_eq!((pi.target, pi.value), ("xml-stylesheet", Some("a ")));
    assert_eq!(
        parse("<r><?p?></r>", &Limits::MESSAGE).unwrap_err(),
        XmlError::ProcessingInstruction
    );
}

#[test]
fn xml_declaration() {
    accepted("\u{feff}<?xml version='1.0' encoding=\"utf-8\" standalone='yes' ?><r/>");
    for bad in [
        "<?xml version='1.1'?><r/>",
        "<?xml encoding='UTF-8'?><r/>",
        "<?xml version='1.0' standalone='maybe'?><r/>",
        "<?xml version='1.0\"?><r/>",
        "<?xml version='1.0'encoding='UTF-8'?><r/>",
    ] {
        assert_eq!(refused(bad), malformed(BAD_DECLARATION), "{bad}");
    }
    assert_eq!(
        refused("<?xml version='1.0' encoding='latin1'?><r/>"),
        XmlError::Encoding
    );
    assert_eq!(
        refused(" <?xml version='1.0'?><r/>"),
        malformed(RESERVED_PI)
    );
    assert_eq!(
        refused("<?xml\tversion='1.0'?><r/>"),
        malformed(RESERVED_PI)
    );
}

#[test]
fn doctype_is_refused() {
    assert_eq!(refused("<!DOCTYPE r><r/>"), XmlError::Dtd);
    assert_eq!(
        refused("<!-- --><!DOCTYPE r [<!ENTITY x 'y'>]><r>&x;</r>"),
        XmlError::Dtd
    );
}

#[test]
fn structure() {
    malformed_all(&[
        "",
        "  ",
        "<r/><r/>",
        "x<r/>",
        "<r/>x",
        "<r>",
        "<r></s>",
        "<r></r ",
        "</r>",
        "<r a='1'b='2'/>",
        "<r a='1' a='2'/>",
        "<r a=1/>",
        "<r a/>",
        "<r/ >",
        "<r><![CDATA[x</r>",
        "<r><!x></r>",
        "\u{feff}\u{feff}<r/>",
        "<r></ r>",
    ]);
    let text = "<!-- c --><r\n a = \"1\" ><e/>t<f></f ></r>\n<!-- d --><?p?>\n";
    let doc = accepted(text);
    let r = doc.root_element();
    assert_eq!(r.range(), 10..text.find("</r>").unwrap() + 4);
    assert_eq!(doc.root().children().count(), 4);
    assert_eq!(r.descendants().count(), 4);
    let e = r.first_child().unwrap();
    let e_at = text.find("<e/>").unwrap();
    assert_eq!(
        (e.range(), e.next_sibling().unwrap().text()),
        (e_at..e_at + 4, Some("t"))
    );
    assert_eq!(
        r.last_child().unwrap().prev_sibling().unwrap().text(),
        Some("t")
    );
    assert_eq!(e.parent(), Some(r));
    assert_eq!(e.ancestors().count(), 3);
    assert_eq!(doc.get_node(e.id()), Some(e));
    let a = r.attributes().next().unwrap();
    let a_at = text.find("a = ").unwrap();
    assert_eq!(
        (a.range_qname(), a.range_value()),
        (a_at..a_at + 1, a_at + 5..a_at + 6)
    );
}

#[test]
fn text_merges_with_cdata_and_splits_at_comments() {
    let doc = accepted("<r>a<![CDATA[<b>]]>c<!---->d</r>");
    let texts: Vec<_> = doc
        .root_element()
        .children()
        .filter_map(|n| if n.is_text() { n.text() } else { None })
        .collect();
    assert_eq!(texts, ["a<b>c", "d"]);
    assert!(matches!(
        &doc.nodes.get(2).unwrap().kind,
        NodeKind::Text(Cow::Owned(_))
    ));
    let doc = accepted("<r>plain</r>");
    assert!(matches!(
        &doc.nodes.get(2).unwrap().kind,
        NodeKind::Text(Cow::Borrowed(_))
    ));
}

#[test]
fn namespaces() {
    let doc = accepted(
        "<a:r xmlns:a='urn:a' xmlns='urn:d' a:x='1' xml:lang='it'><e xmlns:b='urn:b' xmlns:a='urn:a2' b:y='2'/><f xmlns=''/></a:r>",
    );
    let r = doc.root_element();
    assert_eq!(
        (r.tag_name().namespace(), r.tag_name().name()),
        (Some("urn:a"), "r")
    );
    assert_eq!(r.attribute(("urn:a", "x")), Some("1"));
    assert_eq!(r.attribute((NS_XML, "lang")), Some("it"));
    let e = r.first_child().unwrap();
    assert_eq!(e.tag_name().namespace(), Some("urn:d"));
    assert_eq!(e.lookup_namespace_uri(Some("a")), Some("urn:a2"));
    assert_eq!(e.lookup_prefix("urn:b"), Some("b"));
    assert_eq!(e.namespaces().count(), 3);
    assert_eq!(e.default_namespace(), Some("urn:d"));
    let f = e.next_sibling().unwrap();
    assert_eq!(
        (f.tag_name().namespace(), f.default_namespace()),
        (Some(""), Some(""))
    );
    assert_eq!(doc.uris.iter().filter(|u| *u == "urn:a").count(), 1);
    for (bad, message) in [
        ("<r xmlns:p=''/>", BAD_NAMESPACE),
        ("<r xmlns:xmlns='u'/>", BAD_NAMESPACE),
        ("<r xmlns='u' xmlns='v'/>", BAD_NAMESPACE),
    ] {
        assert_eq!(refused(bad), malformed(message), "{bad}");
    }
    malformed_all(&[
        "<p:r/>",
        "<r p:a='1'/>",
        "<r xmlns:xml='urn:x'/>",
        "<r xmlns:x='http://www.w3.org/XML/1998/namespace'/>",
        "<r xmlns='http://www.w3.org/XML/1998/namespace'/>",
        "<r xmlns:x='http://www.w3.org/2000/xmlns/'/>",
        "<r xmlns='http://www.w3.org/2000/xmlns/'/>",
        "<xml:r/>",
        "<xmlns:r/>",
        "<r xmlns:a='u' xmlns:b='u' a:x='1' b:x='2'/>",
        "<r xmlns:a='u'><e xmlns:b='u' b:x='1' a:x='2'/></r>",
        "<r xmlns:p='u' xmlns:p='u'/>",
    ]);
    accepted("<r xmlns:xml='http://www.w3.org/XML/1998/namespace' xmlns:a='u' xmlns:b='v' a:x='1' b:x='2' x='3'/>");
}

#[test]
fn many_attributes_cost_n_log_n() {
    let wide = Limits {
        max_attributes: usize::MAX,
        ..PERMISSIVE
    };
    let attrs: String = (0..5000).map(|i| format!(" a{i}='1'")).collect();
    let doc = format!("<r{attrs}/>");
    assert_eq!(
        parse(&doc, &wide)
            .unwrap()
            .root_element()
            .attributes()
            .len(),
        5000
    );
    let dup = format!("<r{attrs} a17='2'/>");
    assert_eq!(
        parse(&dup, &wide).unwrap_err(),
        malformed("duplicate attribute")
    );
}

#[test]
fn limits() {
    let m = Limits::MESSAGE;
    let err = |doc: &str, limits: &Limits| parse(doc, limits).unwrap_err();
    assert_eq!(
        err(&format!("<a>{}</a>", "x".repeat(300_000)), &m),
        XmlError::TooLarge { limit: m.max_bytes }
    );
    let deep = |n: usize| "<a>".repeat(n) + &"</a>".repeat(n);
    assert!(parse(&deep(32), &m).is_ok());
    assert_eq!(err(&deep(33), &m), XmlError::TooDeep { limit: 32 });
    assert_eq!(
        err(&("<a>".repeat(32) + "<b/>"), &m),
        XmlError::TooDeep { limit: 32 }
    );
    // The document node counts, as in roxmltree.
    let nodes = |n: usize| format!("<a>{}</a>", "<b/>".repeat(n));
    assert!(parse(&nodes(9_998), &m).is_ok());
    assert_eq!(
        err(&nodes(9_999), &m),
        XmlError::TooManyNodes { limit: 10_000 }
    );
    let attrs = |n: usize| {
        format!(
            "<a{}/>",
            (0..n).map(|i| format!(" a{i}='1'")).collect::<String>()
        )
    };
    assert!(parse(&attrs(32), &m).is_ok());
    assert_eq!(
        err(&attrs(33), &m),
        XmlError::TooManyAttributes { limit: 32 }
    );
    let level: String = (0..30).map(|i| format!(" xmlns:q{i}='u'")).collect();
    assert_eq!(
        err(&format!("<a{level}><b{level}><c{level}/></b></a>"), &m),
        XmlError::TooManyNamespaces { limit: 64 }
    );
    assert!(parse(&format!("<a{level}><b{level}/><b{level}/></a>"), &m).is_ok());
    let siblings: String = (0..600).map(|i| format!("<a xmlns:p{i}='u'/>")).collect();
    let flat = Limits {
        max_depth: 1000,
        ..m.clone()
    };
    assert_eq!(
        err(&format!("<r>{siblings}</r>"), &flat),
        XmlError::TooManyNamespaces { limit: 512 }
    );
    assert_eq!(err("<r>x<!---->y</r>", &m), XmlError::CommentInText);
    assert_eq!(err("<r><!---->y</r>", &m), XmlError::CommentInText);
    assert!(parse("<r> <!---->\n<e/></r>", &m).is_ok());
    assert!(parse("<r>x<!---->y</r>", &Limits::METADATA).is_ok());
    assert!(parse("<?p?><r/>", &Limits::METADATA).is_ok());
    assert_eq!(err("<?p?><r/>", &m), XmlError::ProcessingInstruction);
}

#[test]
fn hostile_shapes_are_linear() {
    // Refused early or parsed in one pass: none of these may take long (no timing here;
    // benches/limits.rs measures).
    let deep = "<a>".repeat(100_000) + &"</a>".repeat(100_000);
    assert_eq!(
        parse(&deep, &Limits::METADATA).unwrap_err(),
        XmlError::TooDeep { limit: 32 }
    );
    let nested: String = (0..13_000).map(|i| format!("<a xmlns:p{i}='u'>")).collect();
    let deep_ok = Limits {
        max_depth: usize::MAX,
        ..Limits::METADATA
    };
    assert_eq!(
        parse(&nested, &deep_ok).unwrap_err(),
        XmlError::TooManyNamespaces { limit: 64 }
    );
    let refs = format!("<r>{}</r>", "&amp;".repeat(50_000));
    assert_eq!(accepted(&refs).root_element().text().unwrap().len(), 50_000);
}

#[test]
fn many_namespace_uris_are_interned_once() {
    let children: String = (0..40)
        .map(|i| format!("<p:e xmlns:p='urn:{}'/>", i % 20))
        .collect();
    let text = format!("<r>{children}</r>");
    let doc = accepted(&text);
    assert_eq!(doc.uris.len(), 20);
    for (i, e) in doc.root_element().children().enumerate() {
        let want = format!("urn:{}", i % 20);
        assert_eq!(e.tag_name().namespace(), Some(want.as_str()));
    }
}

/// The one-scan fast paths of the start tag settle only what the general rules would
/// settle the same way: on random names and values over the characters that matter
/// (name characters, colons, stops, quotes, references, line ends, non-ASCII), a name
/// `scan_qname` settles splits as `qname` does, and a value `scan_plain_value` settles
/// ends at the first quote with nothing for `attribute_value` to rewrite.
#[test]
fn fast_paths_agree_with_the_general_rules() {
    use super::super::lexical::{
        attribute_value, end_tag_name, name_byte, qname, scan_plain_value, scan_qname,
    };
    let pieces = [
        "a", "Z", "_", ":", "-", ".", "0", "9", "é", "\u{b7}", "·", " ", "\t", "\n", "\r", "/",
        ">", "=", "<", "\"", "'", "?", "&", "&amp;", "&#38;", "ab", "xmlns", "x1", "\u{1}",
        "\u{1f}",
    ];
    let mut next = crate::test_rng(0x2545_F491_4F6C_DD1Du64);
    for round in 0..50_000 {
        // Mostly short, some long enough for the eight-byte blocks of the value scan.
        let len = (next() % if round % 4 == 0 { 40 } else { 8 }) as usize;
        let s: String = (0..len)
            .map(|_| pieces[(next() as usize) % pieces.len()])
            .collect();
        let b = s.as_bytes();
        let (n, settled) = scan_qname(b);
        let name_len = b.iter().position(|&c| !name_byte(c)).unwrap_or(b.len());
        assert_eq!(n, name_len, "{s:?}");
        // The end tag's name: the comparison with the open element's name finds what the
        // scan finds, whatever the open name is.
        let scanned = end_tag_name(b, 0, None);
        for expected in [
            &s[..n],
            s.get(..n / 2).unwrap_or("é"),
            "a",
            "ab",
            "xmlns",
            "",
        ] {
            assert_eq!(
                end_tag_name(b, 0, Some(expected)),
                scanned,
                "{s:?} {expected:?}"
            );
        }
        if let Some(colon) = settled {
            let name = &s[..n];
            let want = match colon {
                None => ("", name),
                Some(at) => (&name[..at], &name[at + 1..]),
            };
            assert_eq!(qname(name).ok(), Some(want), "{s:?}");
        } else {
            // Every ASCII QName is settled by the fast path.
            let name = &s[..n];
            assert!(!name.is_ascii() || qname(name).is_err(), "{s:?}");
        }
        for quote in [b'"', b'\''] {
            // A value with none of `<`, `&`, tab, LF, CR before its quote is settled.
            if let Some(q) = b.iter().position(|&c| c == quote) {
                if !b[..q]
                    .iter()
                    .any(|c| matches!(c, b'<' | b'&' | b'\t' | b'\n' | b'\r'))
                {
                    assert_eq!(scan_plain_value(b, quote), Some(q), "{s:?}");
                }
            }
            if let Some(len) = scan_plain_value(b, quote) {
                assert_eq!(b.iter().position(|&c| c == quote), Some(len), "{s:?}");
                let raw = &s[..len];
                assert!(!raw.contains('<'), "{s:?}");
                assert!(
                    matches!(attribute_value(raw), Ok(Cow::Borrowed(v)) if v == raw),
                    "{s:?}"
                );
            }
        }
    }
}

/// `check_chars` refuses every C0 control but tab, LF and CR, wherever it sits: inside a
/// 32-byte block, on a block edge, or in the tail after the last whole block.
#[test]
fn forbidden_controls_are_refused_at_every_block_position() {
    for pad in 0..80 {
        for c in 0u8..0x20 {
            let doc = format!("<r>{}{}</r>", "x".repeat(pad), char::from(c));
            if matches!(c, b'\t' | b'\n' | b'\r') {
                accepted(&doc);
            } else {
                assert_eq!(
                    refused(&doc),
                    XmlError::Malformed("a character XML forbids".into()),
                    "{pad} {c}"
                );
            }
        }
    }
}

/// `letter_run` against the byte-by-byte answer: every byte value at every position of a
/// block of letters (and of capitals).
#[test]
fn letter_run_counts_exactly_the_leading_ascii_letters() {
    use super::super::lexical::letter_run;
    for fill in [b'a', b'Z'] {
        for at in 0..8 {
            for c in 0..=255u8 {
                let mut block = [fill; 8];
                block[at] = c;
                let want = if c.is_ascii_alphabetic() { 8 } else { at };
                assert_eq!(letter_run(u64::from_le_bytes(block)), want, "{at} {c}");
            }
        }
    }
}
