//! CNS / TS-CNS smart-card authentication certificates (TLS client authentication).
//!
//! This module only reads the subject of a certificate that was already accepted: the
//! `cns` module's `CnsVerifier` checks the chain against the CNS-issuing CAs of AgID's
//! trusted list, validity dates, key usage, policy and revocation, then calls
//! [`Identity::from_cns_certificate`] (docs/cns.md). Call it directly only for a
//! certificate a TLS terminator configured with the same checks has accepted.

use openssl::nid::Nid;
use openssl::x509::{X509NameRef, X509Ref};

use super::{FiscalCode, FiscalCodeError, Identity, IdentityKey, IdentitySource};

/// Why no identity could be read from a CNS certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CnsError {
    /// Neither the common name nor `serialNumber` carries a codice fiscale.
    #[error("certificate subject carries no fiscal code")]
    NoFiscalCode,
    /// The subject carries a codice fiscale that fails strict validation.
    #[error("invalid fiscal code in the certificate subject: {0}")]
    InvalidFiscalCode(FiscalCodeError),
    /// A subject entry is not valid text.
    #[error("undecodable certificate subject")]
    Encoding,
}

impl Identity {
    /// Reads the holder of a CNS certificate.
    ///
    /// The common name has the form `<codice fiscale>/<card id>.<hash>`: when the text before
    /// the first `/` is code-shaped (16 letters and digits, or 11 digits) it must be a strictly
    /// valid codice fiscale. Otherwise `serialNumber` is used, as `TINIT-<CF>` (ETSI) or
    /// `IT:<CF>` (older certificates), again strictly validated. Names come from `givenName`
    /// and `surname`; the identity has no other attributes.
    ///
    /// The certificate must already have been verified (chain, revocation, dates, key usage,
    /// policy): by the `cns` module's `CnsVerifier`, or by a TLS terminator doing the same
    /// checks; this function trusts it.
    pub fn from_cns_certificate(cert: &X509Ref) -> Result<Identity, CnsError> {
        let subject = cert.subject_name();
        let cf = match entry(subject, Nid::COMMONNAME)?
            .as_deref()
            .and_then(|cn| FiscalCode::from_idp(cn.split_once('/')?.0))
        {
            Some(cf) => cf,
            None => serial_number_code(entry(subject, Nid::SERIALNUMBER)?.as_deref())?,
        };
        cf.check().map_err(CnsError::InvalidFiscalCode)?;
        let mut identity = Identity::empty(IdentitySource::Cns);
        identity.key = Some(IdentityKey::FiscalCode(cf));
        identity.name = entry(subject, Nid::GIVENNAME).ok().flatten();
        identity.family_name = entry(subject, Nid::SURNAME).ok().flatten();
        Ok(identity)
    }
}

/// The codice fiscale in a `TINIT-<CF>` or `IT:<CF>` serial number (validated by the caller).
fn serial_number_code(serial: Option<&str>) -> Result<FiscalCode, CnsError> {
    let serial = serial.ok_or(CnsError::NoFiscalCode)?;
    super::fiscal_code::strip_prefix_ci(serial, "TINIT-")
        .or_else(|| super::fiscal_code::strip_prefix_ci(serial, "IT:"))
        .and_then(FiscalCode::from_idp)
        .ok_or(CnsError::NoFiscalCode)
}

/// The first subject entry of type `nid`, trimmed; `None` if absent or blank.
fn entry(name: &X509NameRef, nid: Nid) -> Result<Option<String>, CnsError> {
    let Some(entry) = name.entries_by_nid(nid).next() else {
        return Ok(None);
    };
    let text = entry.data().to_string().map_err(|_| CnsError::Encoding)?;
    let text = text.trim();
    Ok((!text.is_empty()).then(|| text.to_owned()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use openssl::ec::{EcGroup, EcKey};
    use openssl::hash::MessageDigest;
    use openssl::pkey::PKey;
    use openssl::x509::{X509Name, X509};

    fn certificate(subject: &[(Nid, &str)]) -> X509 {
        let key =
            EcKey::generate(&EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap()).unwrap();
        let key = PKey::from_ec_key(key).unwrap();
        let mut name = X509Name::builder().unwrap();
        for (nid, value) in subject {
            name.append_entry_by_nid(*nid, value).unwrap();
        }
        let name = name.build();
        let mut builder = X509::builder().unwrap();
        builder.set_version(2).unwrap();
        builder.set_subject_name(&name).unwrap();
        builder.set_issuer_name(&name).unwrap();
        builder.set_pubkey(&key).unwrap();
        builder.sign(&key, MessageDigest::sha256()).unwrap();
        builder.build()
    }

    const CNS_CN: &str = "RSSMRA80A01H501U/6000000012345671.Vt29+2ftdCo626anJTmB7xkUAac=";

    #[test]
    fn common_name_pattern() {
        let cert = certificate(&[
            (Nid::COUNTRYNAME, "IT"),
            (Nid::SURNAME, "ROSSI"),
            (Nid::GIVENNAME, "MARIO"),
            (Nid::COMMONNAME, CNS_CN),
        ]);
        let id = Identity::from_cns_certificate(&cert).unwrap();
        assert_eq!(id.source(), IdentitySource::Cns);
        assert_eq!(id.key().unwrap().to_string(), "RSSMRA80A01H501U");
        assert!(id.fiscal_code().unwrap().is_valid());
        assert_eq!(id.name(), Some("MARIO"));
        assert_eq!(id.family_name(), Some("ROSSI"));
        assert!(id.attributes().is_empty());
        // Same key as a SPID login of the same person.
        let spid = Identity::from_attributes(
            [("fiscalNumber", vec!["TINIT-RSSMRA80A01H501U".to_owned()])]
                .into_iter()
                .collect(),
            crate::federation::Federation::Spid,
        );
        assert_eq!(spid.key(), id.key());
    }

    #[test]
    fn serial_number_fallback() {
        for serial in [
            "TINIT-RSSMRA80A01H501U",
            "IT:RSSMRA80A01H501U",
            "tinit-rssmra80a01h501u",
        ] {
            let cert = certificate(&[
                (Nid::COMMONNAME, "Mario Rossi"),
                (Nid::SERIALNUMBER, serial),
            ]);
            let id = Identity::from_cns_certificate(&cert).unwrap();
            assert_eq!(
                id.fiscal_code().unwrap().as_str(),
                "RSSMRA80A01H501U",
                "{serial}"
            );
            assert_eq!(id.name(), None);
        }
    }

    #[test]
    fn invalid_or_missing_codes_are_rejected() {
        let bad_cn = "RSSMRA80A01H501V/6000000012345671.Vt29+2ftdCo626anJTmB7xkUAac=";
        let cert = certificate(&[
            (Nid::COMMONNAME, bad_cn),
            (Nid::SERIALNUMBER, "TINIT-RSSMRA80A01H501U"),
        ]);
        assert_eq!(
            Identity::from_cns_certificate(&cert).unwrap_err(),
            CnsError::InvalidFiscalCode(FiscalCodeError::Checksum)
        );
        let cert = certificate(&[
            (Nid::COMMONNAME, "Mario Rossi"),
            (Nid::SERIALNUMBER, "TINIT-CLMCST42R12D969Z"),
        ]);
        assert_eq!(
            Identity::from_cns_certificate(&cert).unwrap_err(),
            CnsError::InvalidFiscalCode(FiscalCodeError::Checksum)
        );
        for subject in [
            vec![(Nid::COMMONNAME, "Mario Rossi")],
            vec![(Nid::COMMONNAME, "RSSMRA80A01H501U")],
            vec![(Nid::COMMONNAME, "Mario Rossi/6000000012345671.x=")],
            vec![
                (Nid::COMMONNAME, "Mario Rossi"),
                (Nid::SERIALNUMBER, "RSSMRA80A01H501U"),
            ],
            vec![(Nid::SERIALNUMBER, "WSREF-12345")],
            vec![(Nid::COUNTRYNAME, "IT")],
        ] {
            let cert = certificate(&subject);
            assert_eq!(
                Identity::from_cns_certificate(&cert).unwrap_err(),
                CnsError::NoFiscalCode
            );
        }
    }
}
