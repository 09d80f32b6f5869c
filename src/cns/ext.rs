//! The extensions a card certificate is judged on, read with the bounds-checked DER reader
//! of [`crate::certificates`] (OpenSSL's bindings do not expose policies).

use crate::certificates::der;

const OID_KEY_USAGE: &str = "2.5.29.15";
const OID_BASIC_CONSTRAINTS: &str = "2.5.29.19";
const OID_EXT_KEY_USAGE: &str = "2.5.29.37";
const OID_CERTIFICATE_POLICIES: &str = "2.5.29.32";

/// KeyUsage bit digitalSignature (bit 0).
pub(crate) const KU_DIGITAL_SIGNATURE: u16 = 1;
/// KeyUsage bit nonRepudiation / contentCommitment (bit 1).
pub(crate) const KU_NON_REPUDIATION: u16 = 1 << 1;

/// What the checks read; `None` fields are absent extensions.
#[derive(Debug, Default)]
pub(crate) struct CardExtensions {
    pub key_usage: Option<u16>,
    pub ca: bool,
    pub extended_key_usage: Option<Vec<String>>,
    pub policies: Vec<String>,
}

/// Reads the extensions of a DER certificate; `None` if any of the four is malformed or
/// repeated, or the certificate itself is.
pub(crate) fn read(cert_der: &[u8]) -> Option<CardExtensions> {
    let (cert, rest) = der::read(cert_der)?;
    if cert.tag != der::SEQUENCE || !rest.is_empty() {
        return None;
    }
    let tbs = der::Reader::new(cert.value).expect(der::SEQUENCE)?;
    let mut out = CardExtensions::default();
    let mut seen: Vec<String> = Vec::new();
    for item in der::Reader::new(tbs.value) {
        if item.tag != 0xA3 {
            continue;
        }
        let seq = der::Reader::new(item.value).expect(der::SEQUENCE)?;
        for ext in der::extensions(seq.value)? {
            if seen.contains(&ext.oid) {
                return None; // RFC 5280 4.2: at most one instance of an extension
            }
            match ext.oid.as_str() {
                OID_KEY_USAGE => out.key_usage = Some(der::key_usage_bits(&ext.value)?),
                OID_BASIC_CONSTRAINTS => out.ca = der::basic_constraints_ca(&ext.value)?,
                OID_EXT_KEY_USAGE => out.extended_key_usage = Some(oid_sequence(&ext.value)?),
                OID_CERTIFICATE_POLICIES => {
                    out.policies = der::policies(&ext.value)?
                        .into_iter()
                        .map(|(oid, _)| oid)
                        .collect()
                }
                _ => {}
            }
            seen.push(ext.oid);
        }
    }
    Some(out)
}

/// `SEQUENCE OF OBJECT IDENTIFIER` (ExtKeyUsageSyntax), at most 32.
fn oid_sequence(value: &[u8]) -> Option<Vec<String>> {
    let (seq, rest) = der::read(value)?;
    if seq.tag != der::SEQUENCE || !rest.is_empty() {
        return None;
    }
    let mut reader = der::Reader::new(seq.value);
    let mut out = Vec::new();
    while reader.peek_tag().is_some() {
        out.push(reader.oid()?);
        if out.len() > 32 {
            return None;
        }
    }
    reader.is_done().then_some(out)
}
