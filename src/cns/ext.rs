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

const OID_CRL_NUMBER: &str = "2.5.29.20";
const OID_DELTA_CRL: &str = "2.5.29.27";
const OID_ISSUING_DP: &str = "2.5.29.28";
/// CRL extensions understood (or harmless) when critical.
const KNOWN_CRL_EXTENSIONS: &[&str] = &[
    OID_CRL_NUMBER,
    OID_DELTA_CRL,
    OID_ISSUING_DP,
    "2.5.29.35",         // authorityKeyIdentifier
    "2.5.29.18",         // issuerAltName
    "2.5.29.46",         // freshestCRL
    "2.5.29.60",         // expiredCertsOnCRL
    "1.3.6.1.5.5.7.1.1", // authorityInfoAccess
];

/// Which certificates a CRL speaks for (RFC 5280 5.2.4, 5.2.5): a complete CRL of the
/// issuer, or only a part of it.
#[derive(Debug, Default)]
pub(crate) struct CrlScope {
    /// A delta CRL: never complete on its own.
    pub delta: bool,
    /// A critical extension this reader does not know (RFC 5280: do not use the CRL).
    pub unknown_critical: bool,
    /// issuingDistributionPoint fullName URIs: the CRL covers only certificates whose
    /// CRL distribution points name one of them.
    pub partition_uris: Vec<String>,
    /// issuingDistributionPoint limits that exclude end-entity certificates or some
    /// reasons, an indirect CRL, or a relative name this reader cannot match.
    pub restricted: bool,
}

impl CrlScope {
    /// Whether the CRL is complete for an end-entity certificate whose CRL distribution
    /// point URIs are `cert_uris`.
    pub fn covers(&self, cert_uris: &[String]) -> bool {
        !self.delta
            && !self.unknown_critical
            && !self.restricted
            && (self.partition_uris.is_empty()
                || self.partition_uris.iter().any(|u| cert_uris.contains(u)))
    }
}

/// Reads the scope of a DER CRL; `None` if its extensions are malformed.
pub(crate) fn crl_scope(crl_der: &[u8]) -> Option<CrlScope> {
    let (list, _) = der::read(crl_der)?;
    let tbs = der::Reader::new(list.value).expect(der::SEQUENCE)?;
    let mut scope = CrlScope::default();
    for item in der::Reader::new(tbs.value) {
        if item.tag != 0xA0 {
            continue;
        }
        let seq = der::Reader::new(item.value).expect(der::SEQUENCE)?;
        for ext in der::extensions(seq.value)? {
            match ext.oid.as_str() {
                OID_DELTA_CRL => scope.delta = true,
                OID_ISSUING_DP => issuing_distribution_point(&ext.value, &mut scope)?,
                oid if ext.critical && !KNOWN_CRL_EXTENSIONS.contains(&oid) => {
                    scope.unknown_critical = true
                }
                _ => {}
            }
        }
    }
    Some(scope)
}

/// `IssuingDistributionPoint ::= SEQUENCE { distributionPoint [0], onlyContainsUserCerts
/// [1], onlyContainsCACerts [2], onlySomeReasons [3], indirectCRL [4],
/// onlyContainsAttributeCerts [5] }`.
fn issuing_distribution_point(value: &[u8], scope: &mut CrlScope) -> Option<()> {
    let (seq, rest) = der::read(value)?;
    if seq.tag != der::SEQUENCE || !rest.is_empty() {
        return None;
    }
    for field in der::Reader::new(seq.value) {
        let set = field.value.first().is_some_and(|b| *b != 0);
        match field.tag {
            0xA0 => {
                let (name, _) = der::read(field.value)?;
                if name.tag == 0xA0 {
                    // fullName: GeneralNames, URIs ([6]) are what certificates name.
                    for general in der::Reader::new(name.value) {
                        if general.tag == 0x86 {
                            scope
                                .partition_uris
                                .push(String::from_utf8_lossy(general.value).into_owned());
                        } else {
                            scope.restricted = true;
                        }
                    }
                } else {
                    scope.restricted = true; // nameRelativeToCRLIssuer
                }
            }
            0x81 => {} // onlyContainsUserCerts: card certificates are user certificates
            0x82 | 0x84 | 0x85 if set => scope.restricted = true,
            0x83 => scope.restricted = true, // onlySomeReasons
            0x82 | 0x84 | 0x85 => {}
            _ => return None,
        }
    }
    Some(())
}
