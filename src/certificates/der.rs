//! A minimal, bounds-checked DER reader (for the checker) and the two encoders the
//! generator needs for certificatePolicies: only what the profile needs.

pub const INTEGER: u8 = 0x02;
pub const BIT_STRING: u8 = 0x03;
pub const OCTET_STRING: u8 = 0x04;
pub const OID: u8 = 0x06;
pub const BOOLEAN: u8 = 0x01;
pub const UTF8_STRING: u8 = 0x0C;
pub const SEQUENCE: u8 = 0x30;
pub const SET: u8 = 0x31;

/// One extension of a certificate or CSR: its OID, criticality and value octets.
pub struct Extension {
    pub oid: String,
    pub critical: bool,
    pub value: Vec<u8>,
}

/// One element: its (single-octet) tag and content octets.
#[derive(Clone, Copy)]
pub struct Tlv<'a> {
    pub tag: u8,
    pub value: &'a [u8],
}

/// Reads one element from the front of `input`.
pub fn read(input: &[u8]) -> Option<(Tlv<'_>, &[u8])> {
    let (&tag, rest) = input.split_first()?;
    if tag & 0x1F == 0x1F {
        return None; // multi-octet tags never occur in what we read
    }
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7F);
        if n == 0 || n > 4 {
            return None; // indefinite length is BER, not DER; and 4 GiB is plenty
        }
        let bytes = rest.get(..n)?;
        let len = bytes
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, rest.get(n..)?)
    };
    let value = rest.get(..len)?;
    Some((Tlv { tag, value }, rest.get(len..)?))
}

/// Reads the elements of a constructed value in turn.
pub struct Reader<'a> {
    rest: &'a [u8],
    failed: bool,
}

impl<'a> Reader<'a> {
    pub fn new(content: &'a [u8]) -> Reader<'a> {
        Reader {
            rest: content,
            failed: false,
        }
    }

    pub fn peek_tag(&self) -> Option<u8> {
        self.rest.first().copied()
    }

    /// The next element, which must have `tag`.
    pub fn expect(&mut self, tag: u8) -> Option<Tlv<'a>> {
        self.next().filter(|t| t.tag == tag)
    }

    /// The next element, which must be an OID, as dotted text.
    pub fn oid(&mut self) -> Option<String> {
        oid_text(self.expect(OID)?.value)
    }

    /// Whether everything was read without a malformed element.
    pub fn is_done(&self) -> bool {
        !self.failed && self.rest.is_empty()
    }
}

impl<'a> Iterator for Reader<'a> {
    type Item = Tlv<'a>;

    fn next(&mut self) -> Option<Tlv<'a>> {
        if self.rest.is_empty() || self.failed {
            return None;
        }
        match read(self.rest) {
            Some((tlv, rest)) => {
                self.rest = rest;
                Some(tlv)
            }
            None => {
                self.failed = true;
                None
            }
        }
    }
}

/// Dotted text of OID content octets.
pub fn oid_text(bytes: &[u8]) -> Option<String> {
    if bytes.is_empty() || bytes.len() > 64 {
        return None;
    }
    let mut arcs: Vec<u64> = Vec::new();
    let mut acc: u64 = 0;
    for (i, b) in bytes.iter().enumerate() {
        if acc > (u64::MAX >> 7) {
            return None;
        }
        acc = (acc << 7) | u64::from(b & 0x7F);
        if b & 0x80 == 0 {
            if arcs.is_empty() {
                let (first, second) = match acc {
                    0..=39 => (0, acc),
                    40..=79 => (1, acc - 40),
                    _ => (2, acc - 80),
                };
                arcs.push(first);
                arcs.push(second);
            } else {
                arcs.push(acc);
            }
            acc = 0;
        } else if i + 1 == bytes.len() {
            return None;
        }
    }
    Some(
        arcs.iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join("."),
    )
}

/// `Name ::= SEQUENCE OF SET OF SEQUENCE { type OID, value ANY }`.
#[allow(clippy::type_complexity)]
pub fn name(content: &[u8]) -> Option<Vec<(String, Option<String>)>> {
    let mut out = Vec::new();
    let mut rdns = Reader::new(content);
    for rdn in rdns.by_ref() {
        if rdn.tag != SET {
            return None;
        }
        let mut atvs = Reader::new(rdn.value);
        for atv in atvs.by_ref() {
            let mut parts = Reader::new(atv.value);
            let oid = parts.oid()?;
            let value = parts.next()?;
            out.push((oid, string_value(value)));
            if out.len() > 64 {
                return None;
            }
        }
        if !atvs.is_done() {
            return None;
        }
    }
    rdns.is_done().then_some(out)
}

/// A DirectoryString / DisplayText value as text.
pub fn string_value(tlv: Tlv<'_>) -> Option<String> {
    match tlv.tag {
        // UTF8String, PrintableString, IA5String, VisibleString
        0x0C | 0x13 | 0x16 | 0x1A => String::from_utf8(tlv.value.to_vec()).ok(),
        // TeletexString: treat as Latin-1
        0x14 => Some(tlv.value.iter().map(|b| char::from(*b)).collect()),
        // BMPString
        0x1E => {
            let units: Vec<u16> = tlv
                .value
                .chunks_exact(2)
                .map(|c| {
                    u16::from_be_bytes([
                        c.first().copied().unwrap_or(0),
                        c.get(1).copied().unwrap_or(0),
                    ])
                })
                .collect();
            String::from_utf16(&units).ok()
        }
        _ => None,
    }
}

/// `Extensions ::= SEQUENCE OF Extension`; `Extension ::= SEQUENCE { extnID,
/// critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }`.
pub fn extensions(content: &[u8]) -> Option<Vec<Extension>> {
    let mut out = Vec::new();
    let mut exts = Reader::new(content);
    for ext in exts.by_ref() {
        if ext.tag != SEQUENCE {
            return None;
        }
        let mut parts = Reader::new(ext.value);
        let oid = parts.oid()?;
        let mut next = parts.next()?;
        let mut critical = false;
        if next.tag == BOOLEAN {
            critical = next.value.first().is_some_and(|b| *b != 0);
            next = parts.next()?;
        }
        if next.tag != OCTET_STRING || !parts.is_done() {
            return None;
        }
        out.push(Extension {
            oid,
            critical,
            value: next.value.to_vec(),
        });
        if out.len() > 64 {
            return None;
        }
    }
    exts.is_done().then_some(out)
}

/// KeyUsage bits, bit 0 = digitalSignature.
pub fn key_usage_bits(value: &[u8]) -> Option<u16> {
    let (bits, rest) = read(value)?;
    if bits.tag != BIT_STRING || !rest.is_empty() {
        return None;
    }
    let (_unused, octets) = bits.value.split_first()?;
    let mut out = 0u16;
    for (i, octet) in octets.iter().take(2).enumerate() {
        for bit in 0..8 {
            if octet & (0x80 >> bit) != 0 {
                out |= 1 << (i * 8 + bit);
            }
        }
    }
    Some(out)
}

/// The cA flag of BasicConstraints.
pub fn basic_constraints_ca(value: &[u8]) -> Option<bool> {
    let (seq, rest) = read(value)?;
    if seq.tag != SEQUENCE || !rest.is_empty() {
        return None;
    }
    let mut parts = Reader::new(seq.value);
    Some(match parts.next() {
        Some(b) if b.tag == BOOLEAN => b.value.first().is_some_and(|v| *v != 0),
        Some(i) if i.tag == INTEGER => false,
        Some(_) => return None,
        None => false,
    })
}

/// Each policy OID with the explicitText of its userNotice qualifiers.
#[allow(clippy::type_complexity)]
pub fn policies(value: &[u8]) -> Option<Vec<(String, Vec<String>)>> {
    let (seq, rest) = read(value)?;
    if seq.tag != SEQUENCE || !rest.is_empty() {
        return None;
    }
    let mut out = Vec::new();
    let mut infos = Reader::new(seq.value);
    for info in infos.by_ref() {
        let mut parts = Reader::new(info.value);
        let oid = parts.oid()?;
        let mut texts = Vec::new();
        if let Some(quals) = parts.next() {
            let mut quals = Reader::new(quals.value);
            for q in quals.by_ref() {
                let mut qp = Reader::new(q.value);
                if qp.oid()? != super::OID_USER_NOTICE {
                    continue;
                }
                let Some(notice) = qp.next() else { continue };
                for item in Reader::new(notice.value) {
                    if item.tag != SEQUENCE {
                        if let Some(t) = string_value(item) {
                            texts.push(t);
                        }
                    }
                }
            }
        }
        out.push((oid, texts));
        if out.len() > 32 {
            return None;
        }
    }
    infos.is_done().then_some(out)
}

/// Encodes one element.
pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        let significant = bytes.get(skip..).unwrap_or(&[]);
        out.push(0x80 | significant.len() as u8);
        out.extend_from_slice(significant);
    }
    out.extend_from_slice(content);
    out
}

/// Encodes a dotted OID (our own constants only).
pub fn oid(dotted: &str) -> Vec<u8> {
    let arcs: Vec<u64> = dotted.split('.').filter_map(|a| a.parse().ok()).collect();
    let mut content = Vec::new();
    let mut iter = arcs.iter();
    let first = iter.next().copied().unwrap_or(0);
    let second = iter.next().copied().unwrap_or(0);
    let mut push = |mut v: u64| {
        let mut tmp = vec![(v & 0x7F) as u8];
        v >>= 7;
        while v > 0 {
            tmp.push(0x80 | (v & 0x7F) as u8);
            v >>= 7;
        }
        tmp.reverse();
        content.extend(tmp);
    };
    push(first * 40 + second);
    for a in iter {
        push(*a);
    }
    tlv(OID, &content)
}
