//! A deterministic generator of XML documents for differential well-formedness testing
//! (`tests/xml_generated.rs`; meant to be shared with other readers' tests through
//! `#[path = "common/xmlgen.rs"] mod xmlgen;`). No dependency: a small seeded PRNG
//! (SplitMix64), so [`generate`]`(seed, index)` is the same bytes on every machine and
//! every run.
//!
//! Documents cover XML 1.0 (fifth edition) + Namespaces in XML 1.0, mostly well-formed,
//! about half with one to three near misses ("flaws"), each flaw a choice from a list of
//! likely-malformed variants (the oracle, libxml2, decides which really are):
//!
//! - bytes: UTF-8 with or without a BOM, a double BOM, Latin-1 transcoded and declared,
//!   UTF-8 declared as Latin-1 or UTF-16, UTF-16 LE/BE with BOM, invalid UTF-8 (stray
//!   bytes, truncated and overlong sequences, encoded surrogates);
//! - XML declarations: versions, encodings, standalone, order, quotes, whitespace, case,
//!   misplaced declarations, PIs named `xml`, `XmL`, `xml-stylesheet`;
//! - names: non-ASCII name characters (start and later positions), forbidden ones,
//!   QNames with zero, two or edge colons, unbound prefixes, `xml:` and `xmlns:` names;
//! - namespaces: default and prefixed declarations, re-binding, `xmlns=""`, `xmlns:p=""`,
//!   the reserved `xml`/`xmlns` prefixes and URIs, duplicates, attributes duplicated after
//!   namespace expansion (through two prefixes, one inherited);
//! - attribute values: whitespace (tab, LF, CR, CRLF), references, `<`, `&`, quotes,
//!   duplicates; text: the five entities and undefined ones, character references valid
//!   and invalid (NUL, C0, surrogates, U+FFFE/FFFF, beyond U+10FFFF, 32-bit wrap, bad
//!   syntax, hex and decimal, leading zeros), `]]>`, literal control characters,
//!   CR/LF/CRLF and a CR next to a reference; CDATA, comments (`--`, `--->`), PIs;
//! - structure: DOCTYPE (plain, internal subset, entities), text or a second root around
//!   the root, missing and mismatched end tags, deep nesting, many attributes, many
//!   namespace declarations and many nodes around the `Limits::MESSAGE` bounds;
//!   SAML-like Responses, Assertions, LogoutRequests and metadata with their namespaces.
//!
//! Most documents are under 2 KB; about 1 in 500 is a large limit probe (up to ~60 KB).
#![allow(dead_code)]

use std::fmt::Write as _;

/// SplitMix64: tiny, fast, good enough to spread test cases, reproducible.
pub struct Rng(u64);

impl Rng {
    /// The generator for document `index` of the run seeded `seed`.
    pub fn new(seed: u64, index: u64) -> Rng {
        let mut r = Rng(seed.rotate_left(17) ^ index.wrapping_mul(0xD1B5_4A32_D192_ED03));
        r.next();
        r
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    /// True with probability `percent` / 100.
    pub fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
    pub fn pick_ref<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// The bytes of document `index` in the run seeded `seed`.
pub fn generate(seed: u64, index: u64) -> Vec<u8> {
    generate_with_notes(seed, index).0
}

/// [`generate`], with the list of what was deliberately put in the document (flaws as
/// `flaw:...`, well-formed but special choices as `edge:...`), for reports.
pub fn generate_with_notes(seed: u64, index: u64) -> (Vec<u8>, Vec<String>) {
    let mut g = Gen::new(seed, index);
    let text = g.document();
    let bytes = g.encode(text);
    (bytes, g.notes)
}

// ---------------------------------------------------------------------------------------
// Vocabulary: `*_GOOD` lists are well-formed choices, `*_BAD` lists near misses (mostly
// malformed; libxml2 decides).
// ---------------------------------------------------------------------------------------

const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";
const XMLNS_NS: &str = "http://www.w3.org/2000/xmlns/";

const URIS: &[&str] = &[
    "urn:oasis:names:tc:SAML:2.0:assertion",
    "urn:oasis:names:tc:SAML:2.0:protocol",
    "urn:oasis:names:tc:SAML:2.0:metadata",
    "http://www.w3.org/2000/09/xmldsig#",
    "http://www.w3.org/2001/XMLSchema-instance",
    "https://spid.gov.it/saml-extensions",
    "urn:x:a",
    "urn:x:b",
    "urn:x:%41",
    "urn:x:A",
    "http://e.example/ns?q=1;x=2",
    "urn:x:\u{e8}\u{20ac}",
    "urn:x:&amp;&#x41;",
    "relative",
    "urn:x:a b",
];

const PREFIXES: &[&str] = &[
    "a", "b", "p", "saml", "samlp", "ds", "md", "x-1", "_p", "p.q", "\u{e9}", "A",
];
const PREFIXES_BAD: &[&str] = &["1p", "-p", "p:q", "", "\u{b7}p", "p\u{37e}", "xmlns"];

const LOCALS: &[&str] = &[
    "e",
    "a",
    "Value",
    "Response",
    "Assertion",
    "Attribute",
    "AttributeValue",
    "NameID",
    "_x",
    "x.y",
    "x-1",
    "x_",
    "\u{e9}l\u{e9}ment",
    "\u{fc}ber",
    "\u{3b1}\u{3b2}",
    "\u{4e2d}\u{6587}",
    "e\u{b7}x",
    "e\u{300}",
    "A\u{203f}",
    "\u{c0}",
    "e\u{2070}",
    "\u{10000}x",
    "xmlfoo",
    "XML",
    "xml-e",
    "e\u{ff}",
    "e\u{1f600}",
    "\u{f8}",
    "\u{37f}x",
    "\u{200c}x",
    "\u{2c00}",
    "\u{3001}",
    "\u{f900}",
    "\u{fdf0}",
    "e\u{36f}",
];
const LOCALS_BAD: &[&str] = &[
    "1e",
    "-e",
    ".e",
    "\u{b7}e",
    "\u{300}e",
    "e\u{37e}",
    "\u{37e}e",
    "e\u{d7}",
    "\u{f7}e",
    "e\u{f7}",
    "e\u{2030}",
    "e\u{a0}",
    "\u{203f}e",
    "e\u{2ff0}",
    "e\u{fffe}",
    "e\u{f0000}",
    "e\u{d7ff}",
    "\u{2070}e",
    "e\u{2190}",
    "e!",
    "e\u{ad}",
    "e\u{2028}",
    "e\u{85}",
    "e\u{feff}",
    "e&#x41;",
    "\u{2000}e",
    "e\u{3000}",
    "\u{10ffff}",
];

const TEXT_GOOD: &[&str] = &[
    "t",
    "Mario Rossi",
    "TINIT-RSSMRA80A01H501U",
    " ",
    "\n",
    "\t",
    "\r\n",
    "&amp;",
    "&lt;",
    "&gt;",
    "&quot;",
    "&apos;",
    ">",
    "'\"",
    "]]&gt;",
    "]]",
    "]",
    "] ]>",
    "&#65;",
    "&#x41;",
    "&#x0041;",
    "&#000065;",
    "&#9;",
    "&#xA;",
    "&#13;",
    "&#xD;",
    "&#x10FFFF;",
    "&#xD7FF;",
    "&#xE000;",
    "&#xFFFD;",
    "&#x10000;",
    "&#128512;",
    "&#x85;",
    "&#x7F;",
    "&#x9F;",
    "&#x20;",
    "&#38;",
    "&#x26;amp;",
    "&#60;",
    "\u{e8}",
    "\u{20ac}",
    "\u{1F600}",
    "\u{85}",
    "\u{2028}",
    "\u{7f}",
    "\u{9f}",
    "\u{fffd}",
    "\u{10ffff}",
    "\u{feff}",
    "<![CDATA[x]]>",
    "<![CDATA[<a>&amp;]]>",
    "<![CDATA[]]]]><![CDATA[>]]>",
    "<![CDATA[]]>",
    "<![CDATA[\r\n\r]]>",
    "<![CDATA[<![CDATA[]]>",
    "<![CDATA[]]]>",
    "<!-- c -->",
    "<!---->",
    "<!-- - -->",
    "<!--<&>-->",
    "<!-- \u{e8} -->",
    "<?pi data?>",
    "<?pi?>",
    "<?pi x??>",
    "<?pi  ?>",
    "<?xml-stylesheet href='a'?>",
    "<?xmlfoo?>",
    "<?\u{e9}?>",
    "\r",
    "a\rb",
    "\r\r\n",
];
/// Well-formed, but a CR next to a reference: libxml2 normalizes it, the current reader
/// refuses it.
const TEXT_CR_REFERENCE: &[&str] = &["\r&#10;", "&amp;\r", "x\r&lt;", "&#xE8;\r", "\r&#13;"];
const TEXT_BAD: &[&str] = &[
    "&#0;",
    "&#x0;",
    "&#x00;",
    "&#xD800;",
    "&#55296;",
    "&#xDFFF;",
    "&#xDBFF;&#xDC00;",
    "&#57343;",
    "&#xFFFE;",
    "&#xFFFF;",
    "&#65534;",
    "&#x1FFFE;",
    "&#x110000;",
    "&#1114112;",
    "&#x7FFFFFFF;",
    "&#4294967361;",
    "&#x100000041;",
    "&#99999999999999999999;",
    "&#1;",
    "&#8;",
    "&#x1F;",
    "&#xB;",
    "&#12;",
    "&#X41;",
    "&#x;",
    "&#;",
    "&#65",
    "&#x41",
    "&# 65;",
    "&#x 41;",
    "&#x41 ;",
    "&#-65;",
    "&#+65;",
    "&#xG;",
    "&#6 5;",
    "&#0065a;",
    "&amp",
    "& ",
    "&",
    "&unknown;",
    "&nbsp;",
    "&AMP;",
    "&lt",
    "&#38",
    "&x:y;",
    "]]>",
    "a]]>b",
    "]]]>",
    "\u{1}",
    "\u{b}",
    "\u{c}",
    "\u{1f}",
    "\u{0}",
    "\u{fffe}",
    "\u{ffff}",
    "\u{1fffe}",
    "<",
    "< a",
    "<1>",
    "<!-- -- -->",
    "<!--->",
    "<!-- x --->",
    "<!-- x",
    "<!- x -->",
    "<!-- \u{1} -->",
    "<![CDATA[x]]",
    "<![CDATA[x",
    "<![cdata[x]]>",
    "<![CDATA [x]]>",
    "<![CDATA[\u{b}]]>",
    "<?xml x?>",
    "<?XmL x?>",
    "<?xml?>",
    "<?xML version='1.0'?>",
    "<?xml version='1.0'?>",
    "<?p:i x?>",
    "<? x?>",
    "<?1pi?>",
    "<?pi\u{1}?>",
    "<?pi x",
    "<?pi\u{b7}x?>",
    "<?pi=x?>",
    "<?a&b?>",
    "<?pi\"x\"?>",
    "<!-- \u{0} -->",
    "</x>",
    "<!DOCTYPE r>",
    "<!ELEMENT r ANY>",
    "<!ENTITY e 'x'>",
];

const ATTR_GOOD: &[&str] = &[
    "v",
    "Mario Rossi",
    "",
    " ",
    "\t",
    "\n",
    "\r\n",
    "\r",
    "&amp;",
    "&lt;",
    "&gt;",
    ">",
    "&quot;",
    "&apos;",
    "&#9;",
    "&#10;",
    "&#13;",
    "&#xD;&#xA;",
    "&#x20;",
    "&#60;",
    "&#x3C;",
    "&#38;#60;",
    "\u{e8}",
    "\u{1F600}",
    "]]>",
    "urn:x",
    "&#x10FFFF;",
    "_a1b2c3",
    "2026-01-15T10:00:02Z",
    "\u{85}\u{2028}",
    "?>",
    "-->",
    "<!--",
];
const ATTR_BAD: &[&str] = &[
    "<",
    "a<b",
    "&",
    "& ",
    "&unknown;",
    "&nbsp;",
    "&#0;",
    "&#xD800;",
    "&#xFFFE;",
    "&#x110000;",
    "&#4294967361;",
    "&#X41;",
    "&#65",
    "&#x;",
    "\u{1}",
    "\u{b}",
    "\u{fffe}",
    "\u{0}",
    "&lt",
    "&#1;",
];

const DECL_GOOD: &[&str] = &[
    "<?xml version=\"1.0\"?>",
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>",
    "<?xml version='1.0' encoding='utf-8' standalone='yes'?>",
    "<?xml version=\"1.0\" standalone=\"no\" ?>",
    "<?xml  version = \"1.0\"  encoding = 'UTF-8' ?>",
    "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>",
    "<?xml version=\"1.0\"\n encoding=\"UTF-8\"?>",
    "<?xml version=\"1.0\" encoding=\"UTF8\"?>",
];
/// Well-formed declarations that the current reader refuses deliberately or by quirk.
const DECL_EDGE: &[&str] = &[
    "<?xml version=\"1.1\"?>",
    "<?xml version=\"1.1\" encoding=\"UTF-8\"?>",
    "<?xml version=\"1.5\"?>",
    "<?xml\tversion=\"1.0\"?>",
    "<?xml\nversion=\"1.0\"?>",
    "<?xml\r\nversion=\"1.0\" encoding=\"UTF-8\"?>",
];
const DECL_BAD: &[&str] = &[
    "<?xml version=\"2.0\"?>",
    "<?xml version=\"1.\"?>",
    "<?xml version=\"1.0 \"?>",
    "<?xml version=\" 1.0\"?>",
    "<?xml version=\"1\"?>",
    "<?xml version=\"1.00\"?>",
    "<?xml version=\"\"?>",
    "<?xml version=\"1.0\" standalone=\"maybe\"?>",
    "<?xml version=\"1.0\" standalone=\"YES\"?>",
    "<?xml version=\"1.0\" standalone=\"\"?>",
    "<?xml version=\"1.0\" standalone=\"yes\" encoding=\"UTF-8\"?>",
    "<?xml encoding=\"UTF-8\" version=\"1.0\"?>",
    "<?xml encoding=\"UTF-8\"?>",
    "<?xml standalone=\"yes\"?>",
    "<?xml?>",
    "<?xml ?>",
    "<?xml version=\"1.0\" version=\"1.0\"?>",
    "<?xml version=\"1.0\" encoding=\"UTF-8\" encoding=\"UTF-8\"?>",
    "<?xml version=\"1.0\"encoding=\"UTF-8\"?>",
    "<?xml version=\"1.0\" foo=\"bar\"?>",
    "<?xml version=\"1.0\"? >",
    "<?xml version=\"1.0\" encoding=\"utf-8 \"?>",
    "<?xml version=\"1.0\" encoding=\"U TF-8\"?>",
    "<?xml version=\"1.0\" encoding=\"\"?>",
    "<?xml version=\"1.0\" encoding=\"-UTF-8\"?>",
    "<?xml version=\"1.0\" encoding=\"UTF-16\"?>",
    "<?xml version=\"1.0\" encoding=\"bogus-enc\"?>",
    "<?XML version=\"1.0\"?>",
    "<?XmL version=\"1.0\"?>",
    "<?xml version=\"1.0'?>",
    "<?xml version=1.0?>",
    "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\" x?>",
    "<?xml version=\"1.0\"?><?xml version=\"1.0\"?>",
    "<?xml version=\"&#49;.0\"?>",
    "<?xml version=\"1.0\" encoding=\"UTF-8\"",
    "<?xml version=\"1.0\"\u{a0}?>",
    "<?xmlversion=\"1.0\"?>",
];

const MISC_GOOD: &[&str] = &[
    "\n",
    " ",
    "\r\n",
    "<!-- c -->",
    "<!---->",
    "<?pi x?>",
    "<?xml-stylesheet href='a'?>",
    "<?pi?>",
];
const MISC_BAD: &[&str] = &[
    "x",
    "&#32;",
    "&amp;",
    "<![CDATA[x]]>",
    "<![CDATA[ ]]>",
    "\u{feff}",
    "\u{a0}",
    "<?xml version=\"1.0\"?>",
    "<?xml x?>",
    "<?XmL?>",
    "<?pi:x y?>",
    "<!-- a -- b -->",
    "<!--->",
    "<!-- x --->",
    "<?1pi?>",
    "]]>",
    "</r>",
];

const DOCTYPES: &[&str] = &[
    "<!DOCTYPE r>",
    "<!DOCTYPE r []>",
    "<!DOCTYPE r SYSTEM \"nonexistent.dtd\">",
    "<!DOCTYPE r PUBLIC \"-//X//DTD X//EN\" \"nonexistent.dtd\">",
    "<!DOCTYPE r [<!ELEMENT r ANY>]>",
    "<!DOCTYPE r [<!ENTITY e \"x\">]>",
    "<!DOCTYPE r [<!ATTLIST r a CDATA \"d\">]>",
    "<!DOCTYPE r [<!ENTITY e \"<b/>\">]>",
    "<!DOCTYPE r [<!ENTITY e \"&#38;#0;\">]>",
    "<!DOCTYPE r [<!ENTITY % p \"x\">]>",
    "<!DOCTYPE r [<!-- c --><?pi?>]>",
    "<!DOCTYPE r [<!ENTITY e \"<a\">]>",
    "<!DOCTYPE>",
    "<!DOCTYPE r [>",
    "<!doctype r>",
];

const SAML: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
const SAMLP: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
const MD: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
const DS: &str = "http://www.w3.org/2000/09/xmldsig#";
const XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";
const XS: &str = "http://www.w3.org/2001/XMLSchema";

/// A scope entry: prefix ("" = default) → URI ("" = undeclared).
type Scope = Vec<(String, String)>;

fn lookup<'a>(scope: &'a Scope, prefix: &str) -> Option<&'a str> {
    scope
        .iter()
        .rev()
        .find(|(p, _)| p == prefix)
        .map(|(_, u)| u.as_str())
        .filter(|u| !u.is_empty() || prefix.is_empty())
}

struct Gen {
    rng: Rng,
    /// Flaws still to place.
    flaws: u32,
    /// Chance (per mille) that a site asking for a flaw gets one.
    flaw_permille: usize,
    notes: Vec<String>,
    /// Element names of the SAML vocabulary are prefixed with these when bound.
    nodes: usize,
}

impl Gen {
    fn new(seed: u64, index: u64) -> Gen {
        let mut rng = Rng::new(seed, index);
        let flaws = match rng.below(100) {
            0..=44 => 0,
            45..=84 => 1,
            85..=94 => 2,
            _ => 3,
        };
        let flaw_permille = 20 + rng.below(80);
        Gen {
            rng,
            flaws,
            flaw_permille,
            notes: Vec::new(),
            nodes: 0,
        }
    }

    /// Whether to place a flaw here (`what` goes to the notes).
    fn flaw(&mut self, what: &str) -> bool {
        if self.flaws > 0 && self.rng.below(1000) < self.flaw_permille {
            self.flaws -= 1;
            self.notes.push(format!("flaw:{what}"));
            true
        } else {
            false
        }
    }

    /// A well-formed but special choice with probability `permille` / 1000.
    fn edge(&mut self, what: &str, permille: usize) -> bool {
        if self.rng.below(1000) < permille {
            self.notes.push(format!("edge:{what}"));
            true
        } else {
            false
        }
    }

    fn choose(&mut self, what: &str, good: &[&'static str], bad: &[&'static str]) -> &'static str {
        if self.flaw(what) {
            self.rng.pick(bad)
        } else {
            self.rng.pick(good)
        }
    }

    fn local(&mut self) -> &'static str {
        self.choose("name", LOCALS, LOCALS_BAD)
    }

    // ---------------------------------------------------------------------------------
    // Document
    // ---------------------------------------------------------------------------------

    fn document(&mut self) -> String {
        let mut out = String::new();
        // Before the declaration: BOM (handled in `encode`), or a flaw.
        if self.flaw("lead") {
            out.push_str(self.rng.pick(&[" ", "\n", "\u{feff}", "x", "<!---->"]));
        }
        if self.rng.chance(55) {
            let decl = if self.edge("declaration", 40) {
                self.rng.pick(DECL_EDGE)
            } else {
                self.choose("declaration", DECL_GOOD, DECL_BAD)
            };
            out.push_str(decl);
        }
        self.misc(&mut out);
        if self.edge("doctype", 15) {
            out.push_str(self.rng.pick(DOCTYPES));
            self.misc(&mut out);
        }
        match self.rng.below(100) {
            0..=44 => {
                let mut scope = Scope::new();
                let max_depth = 1 + self.rng.below(5);
                self.element(&mut out, &mut scope, 0, max_depth);
            }
            45..=79 => self.saml(&mut out),
            80..=91 => self.limit_probe(&mut out),
            _ => self.tiny(&mut out),
        }
        self.misc(&mut out);
        if self.flaw("epilog") {
            let tail = self.rng.pick(&[
                "<r/>",
                "<r></r>",
                "x",
                "&#32;",
                "<![CDATA[ ]]>",
                "<!DOCTYPE r>",
                "\u{feff}",
                "</r>",
                "<",
                "\u{0}",
                "\u{0}<x/>",
            ]);
            out.push_str(tail);
            self.misc(&mut out);
        }
        out
    }

    /// Comments, PIs and whitespace around the root.
    fn misc(&mut self, out: &mut String) {
        for _ in 0..self.rng.below(3) {
            let m = self.choose("misc", MISC_GOOD, MISC_BAD);
            out.push_str(m);
        }
    }

    /// Tiny documents: the edges of a document's grammar.
    fn tiny(&mut self, out: &mut String) {
        if self.flaw("tiny") {
            out.push_str(self.rng.pick(&[
                "",
                " ",
                "<",
                "<r",
                "<r>",
                "</r>",
                "<r/",
                "<r/ >",
                "<r/>>",
                "<r></R>",
                "< r/>",
                "<r a/>",
                "<r a=/>",
                "<r a=1/>",
                "<r a='1\"/>",
                "<r\u{a0}/>",
                "<r>&</r>",
                "<!---->",
                "<?pi?>",
                "r",
                "<r>",
                "<r xmlns:='u'/>",
                "<r:/>",
                "<:r/>",
                "<a<b/>",
                "<a&#x41;/>",
                "\u{feff}\u{feff}<r/>",
                "<r>]]></r>",
            ]));
        } else {
            out.push_str(self.rng.pick(&[
                "<r/>",
                "<r></r>",
                "<r />",
                "<r\n/>",
                "<r></r\n>",
                "<r a='1'/>",
                "<r\ta\r\n=\n'1'\t/>",
                "<r>\u{e8}</r>",
                "<\u{e8}/>",
                "<_/>",
                "<r xmlns=''/>",
                "<r xmlns='u'/>",
                "<p:r xmlns:p='u'/>",
                "<r xml:lang='it'/>",
                "<r xml:space='preserve'> </r>",
                "<r xml:id='x'/>",
            ]));
        }
    }

    /// Documents around the `Limits::MESSAGE` bounds (depth 32, 32 attributes per
    /// element, 64 namespace declarations in scope, 10,000 nodes).
    fn limit_probe(&mut self, out: &mut String) {
        match self.rng.below(100) {
            0..=34 => {
                // Deep: 28..=40 levels, sometimes declaring namespaces as it goes.
                let depth = 28 + self.rng.below(13);
                let declare = self.rng.chance(30);
                self.notes.push(format!("probe:depth={depth}"));
                for i in 0..depth {
                    let _ = write!(out, "<d{}", i % 3);
                    if declare {
                        let _ = write!(out, " xmlns:q{i}='urn:q' xmlns:r{i}='urn:r'");
                    }
                    out.push('>');
                }
                let t = self.text();
                out.push_str(&t);
                for i in (0..depth).rev() {
                    let _ = write!(out, "</d{}>", i % 3);
                }
            }
            35..=69 => {
                // Wide: 26..=40 attributes, namespace declarations included.
                let n = 26 + self.rng.below(15);
                self.notes.push(format!("probe:attributes={n}"));
                out.push_str("<r");
                let ns = self.rng.below(n.min(8));
                for i in 0..ns {
                    let _ = write!(out, " xmlns:n{i}='urn:n{i}'");
                }
                for i in 0..n - ns {
                    if i % 5 == 1 && ns > 0 {
                        let _ = write!(out, " n{}:a{i}='{i}'", i % ns);
                    } else {
                        let _ = write!(out, " a{i}='{i}'");
                    }
                }
                if self.flaw("duplicate-attribute") {
                    out.push_str(" a0='again'");
                }
                out.push_str("><c/></r>");
            }
            70..=94 => {
                // Namespace declarations in scope: levels of k declarations.
                let k = 10 + self.rng.below(23);
                let levels = 2 + self.rng.below(5);
                self.notes.push(format!("probe:in-scope={}", k * levels));
                for l in 0..levels {
                    let _ = write!(out, "<l{l}");
                    for i in 0..k {
                        let _ = write!(out, " xmlns:p{i}='urn:{l}:{i}'");
                    }
                    let _ = write!(out, " p0:a='x'>");
                }
                for l in (0..levels).rev() {
                    let _ = write!(out, "</l{l}>");
                }
            }
            _ => {
                // Many nodes: around 10,000.
                let n = 9_990 + self.rng.below(20);
                self.notes.push(format!("probe:nodes={}", n + 1));
                out.push_str("<r>");
                for _ in 0..n {
                    out.push_str("<b/>");
                }
                out.push_str("</r>");
            }
        }
    }

    // ---------------------------------------------------------------------------------
    // Elements
    // ---------------------------------------------------------------------------------

    /// A random element with namespace declarations, attributes and children.
    fn element(&mut self, out: &mut String, scope: &mut Scope, depth: usize, max_depth: usize) {
        self.nodes += 1;
        let mark = scope.len();
        // Declarations first (they decide which prefixes the names may use).
        let mut decls = String::new();
        self.declarations(&mut decls, scope);
        let name = self.qname(scope, true);
        out.push('<');
        out.push_str(&name);
        if self.flaw("start-tag-space") {
            out.push_str(
                self.rng
                    .pick(&["\u{a0}", "\u{3000}", "\u{85}", "\u{c}", "\u{b}"]),
            );
        }
        out.push_str(&decls);
        self.attributes(out, scope);
        if self.rng.chance(12) {
            out.push_str(self.rng.pick(&[" ", "\n", "\t", "\r\n"]));
        }
        let empty = depth >= max_depth || self.rng.chance(15);
        if empty {
            let close = self.choose("empty-tag", &["/>"], &["/ >", " / >", "/", ">/"]);
            out.push_str(close);
            if close != "/>" && self.rng.chance(50) {
                out.push_str("</");
                out.push_str(&name);
                out.push('>');
            }
        } else {
            out.push('>');
            let children = self.rng.below(4);
            for _ in 0..children {
                match self.rng.below(10) {
                    0..=4 => self.element(out, scope, depth + 1, max_depth),
                    _ => {
                        let t = self.text();
                        out.push_str(&t);
                    }
                }
            }
            if children == 0 && self.rng.chance(60) {
                let t = self.text();
                out.push_str(&t);
            }
            if !self.flaw("missing-end-tag") {
                out.push_str("</");
                let end = if self.flaw("end-tag") {
                    match self.rng.below(6) {
                        0 => format!(" {name}"),
                        1 => name.to_uppercase(),
                        2 => format!("{name}x"),
                        3 => format!("{name} x=\"1\""),
                        4 => match name.split_once(':') {
                            Some((_, local)) => local.to_string(),
                            None => format!("p:{name}"),
                        },
                        _ => format!("{name}\u{a0}"),
                    }
                } else {
                    name.clone()
                };
                out.push_str(&end);
                if self.rng.chance(10) {
                    out.push_str(self.rng.pick(&[" ", "\n", "\t \r\n"]));
                }
                out.push('>');
            }
        }
        scope.truncate(mark);
    }

    /// An element or attribute name: a prefix in scope (or not) and a local name.
    fn qname(&mut self, scope: &Scope, element: bool) -> String {
        if self.flaw("qname") {
            let local = self.rng.pick(LOCALS);
            return match self.rng.below(9) {
                0 => format!(":{local}"),
                1 => format!("{local}:"),
                2 => format!("a:b:{local}"),
                3 => format!("unbound:{local}"),
                4 => format!("xmlns:{local}"),
                5 => format!("{}:{local}", self.rng.pick(PREFIXES_BAD)),
                6 => format!("p:{}", self.rng.pick(LOCALS_BAD)),
                7 => "xmlns".to_string(),
                _ => format!("{local}:{local}:"),
            };
        }
        let local = self.local();
        if element && self.edge("xml-prefixed-element", 4) {
            return format!("xml:{local}");
        }
        let bound: Vec<&String> = scope
            .iter()
            .filter(|(p, u)| !p.is_empty() && !u.is_empty())
            .map(|(p, _)| p)
            .collect();
        if !bound.is_empty() && self.rng.chance(60) {
            let p = self.rng.pick(&bound).as_str();
            if lookup(scope, p).is_some() {
                return format!("{p}:{local}");
            }
        }
        local.to_string()
    }

    /// Namespace declarations of one element; `scope` gets the new bindings.
    fn declarations(&mut self, out: &mut String, scope: &mut Scope) {
        let n = match self.rng.below(10) {
            0..=4 => 0,
            5..=7 => 1,
            8 => 2,
            _ => 3,
        };
        let mut default_declared = false;
        let mut declared: Vec<String> = Vec::new();
        for _ in 0..n {
            let q = self.rng.pick(&["\"", "'"]);
            if self.flaw("namespace-declaration") {
                let bad = self.rng.pick(&[
                    " xmlns:p=\"\"",
                    " xmlns:a=''",
                    " xmlns:xmlns=\"urn:x\"",
                    " xmlns:xmlns=\"http://www.w3.org/2000/xmlns/\"",
                    " xmlns:xml=\"urn:x\"",
                    " xmlns:xml=\"\"",
                    " xmlns:x=\"http://www.w3.org/XML/1998/namespace\"",
                    " xmlns=\"http://www.w3.org/XML/1998/namespace\"",
                    " xmlns:x=\"http://www.w3.org/2000/xmlns/\"",
                    " xmlns=\"http://www.w3.org/2000/xmlns/\"",
                    " xmlns:a=\"u\" xmlns:a=\"v\"",
                    " xmlns:a=\"u\" xmlns:a=\"u\"",
                    " xmlns=\"u\" xmlns=\"u\"",
                    " xmlns='' xmlns=\"\"",
                    " xmlns:1a=\"u\"",
                    " xmlns:a:b=\"u\"",
                    " xmlns:=\"u\"",
                    " xmlns:a=\"&#xD800;\"",
                    " xmlns:a=\"urn:&#0;\"",
                    " xmlns:a=\"urn:<\"",
                    " xmlns:a=\"urn:&\"",
                    " xmlns:a=\"&unknown;\"",
                    " xmlns:\u{b7}=\"u\"",
                    " xmlns:XMLNS=\"u\"",
                    " xmlns:Xml=\"u\"",
                    " xmlns:xml=\"http://www.w3.org/XML/1998/namespace\" xmlns:xml=\"http://www.w3.org/XML/1998/namespace\"",
                ]);
                out.push_str(bad);
                continue;
            }
            if !default_declared && self.rng.chance(35) {
                default_declared = true;
                let uri = if self.rng.chance(25) {
                    ""
                } else {
                    self.rng.pick(URIS)
                };
                let _ = write!(out, " xmlns={q}{uri}{q}");
                scope.push((String::new(), unescape(uri)));
                continue;
            }
            if self.edge("xml-prefix-declared", 20) {
                let _ = write!(out, " xmlns:xml={q}{XML_NS}{q}");
                continue;
            }
            let p = self.rng.pick(PREFIXES).to_string();
            if declared.contains(&p) {
                continue;
            }
            let uri = self.rng.pick(URIS);
            let _ = write!(out, " xmlns:{p}={q}{uri}{q}");
            declared.push(p.clone());
            scope.push((p, unescape(uri)));
        }
    }

    /// Attributes of one element (after its declarations).
    fn attributes(&mut self, out: &mut String, scope: &Scope) {
        let n = match self.rng.below(10) {
            0..=3 => 0,
            4..=6 => 1,
            7..=8 => 2,
            _ => 3 + self.rng.below(4),
        };
        let mut names: Vec<String> = Vec::new();
        for _ in 0..n {
            let name = if self.rng.chance(8) {
                self.rng
                    .pick(&["xml:lang", "xml:space", "xml:id", "xml:base"])
                    .to_string()
            } else {
                self.qname(scope, false)
            };
            if names.contains(&name) {
                continue;
            }
            names.push(name.clone());
            self.attribute(out, &name);
        }
        if self.flaw("duplicate-attribute") {
            // The same name again, or the same expanded name through another prefix.
            let bound: Vec<(String, String)> = scope
                .iter()
                .filter(|(p, u)| !p.is_empty() && !u.is_empty())
                .cloned()
                .collect();
            match self.rng.below(4) {
                0 if !names.is_empty() => {
                    let name = self.rng.pick_ref(&names).clone();
                    self.attribute(out, &name);
                }
                1 if !bound.is_empty() => {
                    // Another prefix for an in-scope URI, declared here.
                    let (p, u) = self.rng.pick_ref(&bound).clone();
                    let _ = write!(
                        out,
                        " xmlns:zz=\"{}\" {p}:dup=\"1\" zz:dup=\"2\"",
                        escape(&u)
                    );
                }
                2 => out
                    .push_str(" xmlns:y1=\"urn:same\" xmlns:y2=\"urn:same\" y1:a=\"1\" y2:a=\"2\""),
                _ => out.push_str(" a=\"1\" a=\"2\""),
            }
        } else if self.edge("same-local-other-namespaces", 30) {
            out.push_str(
                " xmlns:y1=\"urn:one\" xmlns:y2=\"urn:two\" y1:a=\"1\" y2:a=\"2\" a=\"3\"",
            );
        }
        if self.flaw("attribute-syntax") {
            out.push_str(self.rng.pick(&[
                " a",
                " a=",
                " a=v",
                " a=\"v\"b=\"w\"",
                " a=\"v",
                " a='v\"",
                " =\"v\"",
                " a==\"v\"",
                " a=\"v\"/=\"w\"",
                " \"v\"",
            ]));
        }
    }

    fn attribute(&mut self, out: &mut String, name: &str) {
        let q = if self.rng.chance(70) { '"' } else { '\'' };
        let sep = self.rng.pick(&["=", "=", "=", " = ", "\t=\n", "\r\n=\r\n"]);
        let _ = write!(out, " {name}{sep}{q}");
        let pieces = self.rng.below(4);
        for _ in 0..pieces {
            let v = self.choose("attribute-value", ATTR_GOOD, ATTR_BAD);
            out.push_str(v);
            if self.rng.chance(10) {
                out.push(if q == '"' { '\'' } else { '"' });
            }
        }
        if self.flaw("attribute-quote") {
            out.push(q);
        }
        out.push(q);
    }

    /// A run of character data, references, CDATA, comments and PIs.
    fn text(&mut self) -> String {
        let mut out = String::new();
        for _ in 0..1 + self.rng.below(4) {
            if self.edge("cr-next-to-reference", 6) {
                out.push_str(self.rng.pick(TEXT_CR_REFERENCE));
                continue;
            }
            let t = self.choose("text", TEXT_GOOD, TEXT_BAD);
            out.push_str(t);
        }
        out
    }

    // ---------------------------------------------------------------------------------
    // SAML-like documents
    // ---------------------------------------------------------------------------------

    /// A SAML-like Response, Assertion, LogoutRequest or metadata document, with the
    /// generator's text, attributes and near misses in its slots.
    fn saml(&mut self, out: &mut String) {
        let mut scope = Scope::new();
        match self.rng.below(4) {
            0 => self.response(out, &mut scope),
            1 => {
                let p = self.prefix_for("saml");
                self.assertion(out, &mut scope, &p, true);
            }
            2 => self.logout_request(out, &mut scope),
            _ => self.metadata(out, &mut scope),
        }
    }

    /// The prefix used for a namespace: usually the conventional one, sometimes another
    /// or the default namespace.
    fn prefix_for(&mut self, usual: &str) -> String {
        match self.rng.below(10) {
            0 => String::new(),
            1 => self.rng.pick(&["p", "a", "ns1", "\u{e9}"]).to_string(),
            _ => usual.to_string(),
        }
    }

    fn open(
        &mut self,
        out: &mut String,
        scope: &mut Scope,
        prefix: &str,
        local: &str,
        ns: &str,
        id: bool,
    ) -> String {
        self.nodes += 1;
        let name = if prefix.is_empty() {
            local.to_string()
        } else {
            format!("{prefix}:{local}")
        };
        out.push('<');
        out.push_str(&name);
        if lookup(scope, prefix) != Some(ns) && !self.flaw("saml-namespace-undeclared") {
            let q = self.rng.pick(&["\"", "'"]);
            if prefix.is_empty() {
                let _ = write!(out, " xmlns={q}{ns}{q}");
            } else {
                let _ = write!(out, " xmlns:{prefix}={q}{ns}{q}");
            }
            scope.push((prefix.to_string(), ns.to_string()));
        }
        if id {
            let _ = write!(out, " ID=\"_{:x}\"", self.rng.next());
        }
        name
    }

    fn close(&mut self, out: &mut String, name: &str) {
        if self.flaw("saml-end-tag") {
            let _ = write!(out, "</{}>", name.replace(':', "_"));
        } else {
            let _ = write!(out, "</{name}>");
        }
    }

    /// A leaf `<prefix:local ...>text</prefix:local>` with the generator's text.
    fn leaf(
        &mut self,
        out: &mut String,
        scope: &mut Scope,
        prefix: &str,
        local: &str,
        ns: &str,
        value: &str,
    ) {
        let mark = scope.len();
        let name = self.open(out, scope, prefix, local, ns, false);
        self.attributes(out, scope);
        out.push('>');
        if self.rng.chance(70) {
            out.push_str(value);
        } else {
            let t = self.text();
            out.push_str(&t);
        }
        self.close(out, &name);
        scope.truncate(mark);
    }

    fn response(&mut self, out: &mut String, scope: &mut Scope) {
        let mark = scope.len();
        let sp = self.prefix_for("samlp");
        let name = self.open(out, scope, &sp, "Response", SAMLP, true);
        out.push_str(" Version=\"2.0\" IssueInstant=\"2026-01-15T10:00:02Z\" Destination=\"https://sp.test.example/spid/acs\"");
        self.attributes(out, scope);
        out.push('>');
        let a = self.prefix_for("saml");
        self.leaf(out, scope, &a, "Issuer", SAML, "https://idp.test.example");
        if self.rng.chance(40) {
            self.signature(out, scope);
        }
        let m = scope.len();
        let status = self.open(out, scope, &sp, "Status", SAMLP, false);
        out.push('>');
        let code = self.open(out, scope, &sp, "StatusCode", SAMLP, false);
        out.push_str(" Value=\"urn:oasis:names:tc:SAML:2.0:status:Success\"/>");
        let _ = code;
        self.close(out, &status);
        scope.truncate(m);
        if self.rng.chance(80) {
            self.assertion(out, scope, &a, false);
        }
        self.close(out, &name);
        scope.truncate(mark);
    }

    fn assertion(&mut self, out: &mut String, scope: &mut Scope, a: &str, root: bool) {
        let mark = scope.len();
        let name = self.open(out, scope, a, "Assertion", SAML, true);
        if root || self.rng.chance(50) {
            let _ = write!(out, " xmlns:xs=\"{XS}\" xmlns:xsi=\"{XSI}\"");
            scope.push(("xs".into(), XS.into()));
            scope.push(("xsi".into(), XSI.into()));
        }
        out.push_str(" Version=\"2.0\" IssueInstant=\"2026-01-15T10:00:02Z\"");
        self.attributes(out, scope);
        out.push('>');
        self.leaf(out, scope, a, "Issuer", SAML, "https://idp.test.example");
        if self.rng.chance(40) {
            self.signature(out, scope);
        }
        let m = scope.len();
        let subject = self.open(out, scope, a, "Subject", SAML, false);
        out.push('>');
        let nameid = self.text();
        self.leaf(out, scope, a, "NameID", SAML, &nameid);
        self.close(out, &subject);
        scope.truncate(m);
        let m = scope.len();
        let statement = self.open(out, scope, a, "AttributeStatement", SAML, false);
        out.push('>');
        for _ in 0..1 + self.rng.below(3) {
            let m2 = scope.len();
            let attr = self.open(out, scope, a, "Attribute", SAML, false);
            let n = self
                .rng
                .pick(&["fiscalNumber", "name", "familyName", "email", "dateOfBirth"]);
            let _ = write!(out, " Name=\"{n}\">");
            let m3 = scope.len();
            let value = self.open(out, scope, a, "AttributeValue", SAML, false);
            if lookup(scope, "xsi").is_some() && lookup(scope, "xs").is_some() {
                out.push_str(" xsi:type=\"xs:string\"");
            }
            out.push('>');
            let t = self.text();
            out.push_str(&t);
            self.close(out, &value);
            scope.truncate(m3);
            self.close(out, &attr);
            scope.truncate(m2);
        }
        self.close(out, &statement);
        scope.truncate(m);
        self.close(out, &name);
        scope.truncate(mark);
    }

    /// A `ds:Signature` skeleton (not a valid signature: well-formedness only).
    fn signature(&mut self, out: &mut String, scope: &mut Scope) {
        let mark = scope.len();
        let ds = self.prefix_for("ds");
        let sig = self.open(out, scope, &ds, "Signature", DS, false);
        out.push('>');
        let d = if ds.is_empty() {
            String::new()
        } else {
            format!("{ds}:")
        };
        let _ = write!(
            out,
            "<{d}SignedInfo><{d}CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>\
             <{d}SignatureMethod Algorithm=\"http://www.w3.org/2001/04/xmldsig-more#rsa-sha256\"/>\
             <{d}Reference URI=\"#_1\"><{d}Transforms>\
             <{d}Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/>\
             <{d}Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\">\
             <ec:InclusiveNamespaces xmlns:ec=\"http://www.w3.org/2001/10/xml-exc-c14n#\" PrefixList=\"xs #default\"/>\
             </{d}Transform></{d}Transforms>\
             <{d}DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/>\
             <{d}DigestValue>"
        );
        let digest = self.choose(
            "base64",
            &["3q2+7w==", "AAAA\n", "\r\nAAAA&#13;\n"],
            &["AA\u{1}A", "&#0;"],
        );
        out.push_str(digest);
        let _ = write!(
            out,
            "</{d}DigestValue></{d}Reference></{d}SignedInfo>\
             <{d}SignatureValue>MIIC\nAAAA\r\nBBBB</{d}SignatureValue>"
        );
        self.close(out, &sig);
        scope.truncate(mark);
    }

    fn logout_request(&mut self, out: &mut String, scope: &mut Scope) {
        let mark = scope.len();
        let sp = self.prefix_for("samlp");
        let name = self.open(out, scope, &sp, "LogoutRequest", SAMLP, true);
        out.push_str(" Version=\"2.0\" IssueInstant=\"2026-01-15T10:00:02Z\"");
        self.attributes(out, scope);
        out.push('>');
        let a = self.prefix_for("saml");
        self.leaf(out, scope, &a, "Issuer", SAML, "https://idp.test.example");
        if self.rng.chance(30) {
            self.signature(out, scope);
        }
        let nameid = self.text();
        self.leaf(out, scope, &a, "NameID", SAML, &nameid);
        self.leaf(out, scope, &sp, "SessionIndex", SAMLP, "_s1");
        self.close(out, &name);
        scope.truncate(mark);
    }

    fn metadata(&mut self, out: &mut String, scope: &mut Scope) {
        let mark = scope.len();
        let md = self.prefix_for("md");
        let name = self.open(out, scope, &md, "EntityDescriptor", MD, true);
        out.push_str(" entityID=\"https://idp.test.example\"");
        self.attributes(out, scope);
        out.push('>');
        if self.rng.chance(30) {
            self.signature(out, scope);
        }
        let m = scope.len();
        let idp = self.open(out, scope, &md, "IDPSSODescriptor", MD, false);
        out.push_str(" protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">");
        for binding in ["HTTP-POST", "HTTP-Redirect"] {
            let m2 = scope.len();
            let sso = self.open(out, scope, &md, "SingleSignOnService", MD, false);
            let _ = write!(
                out,
                " Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:{binding}\" Location=\"https://idp.test.example/sso?a=1&amp;b=2\"/>"
            );
            let _ = sso;
            scope.truncate(m2);
        }
        let org = self.text();
        self.leaf(out, scope, &md, "NameIDFormat", MD, &org);
        self.close(out, &idp);
        scope.truncate(m);
        self.close(out, &name);
        scope.truncate(mark);
    }

    // ---------------------------------------------------------------------------------
    // Bytes
    // ---------------------------------------------------------------------------------

    /// The document's bytes: UTF-8 (sometimes with a BOM), or another encoding, or
    /// invalid UTF-8.
    fn encode(&mut self, text: String) -> Vec<u8> {
        let roll = self.rng.below(1000);
        if roll < 80 {
            self.notes.push("edge:bom".into());
            let mut b = "\u{feff}".as_bytes().to_vec();
            b.extend_from_slice(text.as_bytes());
            return b;
        }
        if roll < 100 {
            // Latin-1, declared (transcoded where every character fits).
            let body = strip_declaration(&text);
            let enc = self.rng.pick(&[
                "ISO-8859-1",
                "iso-8859-1",
                "latin1",
                "windows-1252",
                "US-ASCII",
            ]);
            self.notes.push(format!("edge:encoding={enc}"));
            let decl = format!("<?xml version=\"1.0\" encoding=\"{enc}\"?>");
            let whole = format!("{decl}{body}");
            if whole.chars().all(|c| (c as u32) < 0x100) {
                return whole.chars().map(|c| c as u32 as u8).collect();
            }
            return whole.into_bytes();
        }
        if roll < 115 {
            // UTF-16 with a BOM (declared or not).
            let body = strip_declaration(&text);
            let whole = if self.rng.chance(50) {
                format!("<?xml version=\"1.0\" encoding=\"UTF-16\"?>{body}")
            } else {
                body.to_string()
            };
            let big = self.rng.chance(50);
            self.notes
                .push(format!("edge:utf-16{}", if big { "be" } else { "le" }));
            let mut out = if big {
                vec![0xFE, 0xFF]
            } else {
                vec![0xFF, 0xFE]
            };
            for unit in whole.encode_utf16() {
                let b = if big {
                    unit.to_be_bytes()
                } else {
                    unit.to_le_bytes()
                };
                out.extend_from_slice(&b);
            }
            return out;
        }
        if roll < 135 {
            // Invalid UTF-8 somewhere in the document.
            self.notes.push("flaw:invalid-utf-8".into());
            let mut b = text.into_bytes();
            let bad: &[u8] = self.rng.pick::<&[u8]>(&[
                &[0xFF][..],
                &[0xC3],
                &[0xC0, 0xAF],
                &[0xED, 0xA0, 0x80],
                &[0xF4, 0x90, 0x80, 0x80],
                &[0x80],
                &[0xE2, 0x82],
                &[0xF8, 0x88, 0x80, 0x80, 0x80],
            ]);
            let at = self.rng.below(b.len() + 1);
            // On a character boundary, so the rest stays valid.
            let at = (at..=b.len())
                .find(|&i| i == b.len() || (b[i] & 0xC0) != 0x80)
                .unwrap_or(b.len());
            b.splice(at..at, bad.iter().copied());
            return b;
        }
        text.into_bytes()
    }
}

/// The document without its leading XML declaration (if it starts with a well-formed
/// one), so another can be put in front.
fn strip_declaration(text: &str) -> &str {
    if text.starts_with("<?xml ") {
        if let Some(end) = text.find("?>") {
            return &text[end + 2..];
        }
    }
    text
}

fn unescape(uri: &str) -> String {
    uri.replace("&amp;", "&").replace("&#x41;", "A")
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('"', "&quot;")
}
