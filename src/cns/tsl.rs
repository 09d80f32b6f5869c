//! AgID's trusted list (TSL-IT, ETSI TS 119 612) reduced to what a CNS login needs: the
//! CAs of the services of type [`SERVICE_TYPE_IDV`], with their status history.
//!
//! The list is read only after its signature verified
//! ([`dsig::verify_trusted_list`]'s rules), and only from
//! the signed tree. No I/O here: fetching and scheduling are the application's.

use std::fmt;

use openssl::x509::{X509Ref, X509};

use super::error::TslError;
use crate::dsig::{self, VerificationKey, Verified};
use crate::time::Timestamp;
use crate::xml::{self, Limits};

/// The trusted-list namespace (TS 119 612 keeps the TS 102 231 v2 one).
pub const TSL_NS: &str = "http://uri.etsi.org/02231/v2#";
/// The service type under which AgID lists the CAs that issue authentication certificates
/// recognised at national level: the CNS (and CIE) issuing CAs (docs/cns.md).
pub const SERVICE_TYPE_IDV: &str = "http://uri.etsi.org/TrstSvc/Svctype/IdV";
/// The `xml:` namespace.
const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";
/// How long before NextUpdate [`TrustList::warnings`] starts to say so (seven days).
pub const EXPIRY_NOTICE_SECONDS: i64 = 7 * 86_400;

/// Service statuses under which a listed CA is trusted (TS 119 612 v2 "recognised at
/// national level" and "granted"; the pre-2016 v1 statuses that meant the same).
const POSITIVE_STATUSES: &[&str] = &[
    "http://uri.etsi.org/TrstSvc/TrustedList/Svcstatus/recognisedatnationallevel",
    "http://uri.etsi.org/TrstSvc/TrustedList/Svcstatus/granted",
    "http://uri.etsi.org/TrstSvc/TrustedList/Svcstatus/undersupervision",
    "http://uri.etsi.org/TrstSvc/TrustedList/Svcstatus/accredited",
    "http://uri.etsi.org/TrstSvc/TrustedList/Svcstatus/supervisionincessation",
    "http://uri.etsi.org/TrstSvc/TrustedList/Svcstatus/setbynationallaw",
];

/// Limits for trusted lists: the real TSL-IT is 2 MB with about 60,000 nodes. 16 MiB,
/// depth 32, 1,000,000 nodes, 64 attributes per element, 256 namespace declarations (32 in
/// scope), no processing instructions, no comment inside a text value. Separate from (and
/// larger than) [`Limits::MESSAGE`], which SAML keeps.
pub const TSL_LIMITS: Limits = Limits {
    max_bytes: 16 * 1024 * 1024,
    max_depth: 32,
    max_nodes: 1_000_000,
    max_attributes: 64,
    max_namespace_declarations: 256,
    max_namespaces_in_scope: 32,
    forbid_processing_instructions: true,
    forbid_comments_in_text: true,
};

/// What the scheme information of a verified list says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TslInfo {
    /// TSLSequenceNumber (grows with each issue; a smaller one is a rollback).
    pub sequence_number: u64,
    /// ListIssueDateTime.
    pub issued: Timestamp,
    /// NextUpdate; `None` for a closed list.
    pub next_update: Option<Timestamp>,
    /// SchemeTerritory (`IT`).
    pub territory: String,
}

/// A status a service had from `start` on (until the next period's start).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServicePeriod {
    /// The ServiceStatus URI.
    pub status: String,
    /// StatusStartingTime.
    pub start: Timestamp,
}

impl ServicePeriod {
    /// Whether the status is one under which the CA is trusted.
    pub fn is_positive(&self) -> bool {
        POSITIVE_STATUSES.contains(&self.status.as_str())
    }
}

/// One trusted CA certificate and the status history of its service.
#[derive(Clone)]
pub struct TrustedCa {
    certificate: X509,
    service_name: String,
    provider: String,
    periods: Vec<ServicePeriod>,
}

impl fmt::Debug for TrustedCa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrustedCa")
            .field("service_name", &self.service_name)
            .field("provider", &self.provider)
            .field("periods", &self.periods)
            .finish_non_exhaustive()
    }
}

impl TrustedCa {
    /// The CA certificate.
    pub fn certificate(&self) -> &X509Ref {
        &self.certificate
    }

    /// The ServiceName (for pinned certificates: the subject).
    pub fn service_name(&self) -> &str {
        &self.service_name
    }

    /// The TSPName of the provider (empty for pinned certificates).
    pub fn provider(&self) -> &str {
        &self.provider
    }

    /// The status periods, oldest first.
    pub fn periods(&self) -> &[ServicePeriod] {
        &self.periods
    }

    /// Whether the service had a positive status at `t`: the last period starting at or
    /// before `t` decides; before the first one it is not trusted.
    pub fn is_active_at(&self, t: Timestamp) -> bool {
        self.periods
            .iter()
            .rev()
            .find(|p| p.start <= t)
            .is_some_and(ServicePeriod::is_positive)
    }
}

/// A warning about a list in use, to log or alert on (like the IdP registry's events).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TslWarning {
    /// NextUpdate has passed: AgID should have published a newer list; refresh it.
    Expired {
        /// The list's NextUpdate.
        next_update: Timestamp,
    },
    /// NextUpdate is within [`EXPIRY_NOTICE_SECONDS`].
    ExpiresSoon {
        /// The list's NextUpdate.
        next_update: Timestamp,
    },
    /// A closed list (no NextUpdate): the scheme has ended.
    Closed,
}

impl TslWarning {
    /// A stable short name.
    pub fn code(&self) -> &'static str {
        match self {
            TslWarning::Expired { .. } => "tsl-expired",
            TslWarning::ExpiresSoon { .. } => "tsl-expires-soon",
            TslWarning::Closed => "tsl-closed",
        }
    }
}

/// The CNS-issuing CAs a card certificate may chain to: an immutable value the
/// application keeps (e.g. in an `Arc` it swaps on refresh).
#[derive(Clone, Debug)]
pub struct TrustList {
    info: Option<TslInfo>,
    cas: Vec<TrustedCa>,
}

impl TrustList {
    /// Verifies the signature of a trusted list (TS 119 612, enveloped XAdES with two
    /// references) with `signers` (the pinned TSL signer certificates, never the one in the
    /// list's own KeyInfo), then reads the CAs of its [`SERVICE_TYPE_IDV`] services.
    /// Logs the outcome once (code, sequence number; no personal data in a list).
    pub fn from_tsl(xml: &str, signers: &[VerificationKey]) -> Result<TrustList, TslError> {
        log(load(xml, signers))
    }

    /// A list of CA certificates the application pins itself (PEM, one or more), trusted
    /// at every instant (their own validity still applies). For tests, the demo, or a
    /// deployment that vets CAs by hand.
    pub fn from_ca_certificates(pem: &[u8]) -> Result<TrustList, TslError> {
        let certs = X509::stack_from_pem(pem).map_err(|_| TslError::Certificate)?;
        if certs.is_empty() {
            return Err(TslError::Empty);
        }
        let cas = certs
            .into_iter()
            .map(|certificate| TrustedCa {
                service_name: super::verify::name_text(certificate.subject_name()),
                provider: String::new(),
                periods: vec![ServicePeriod {
                    status: POSITIVE_STATUSES
                        .first()
                        .map(|s| (*s).to_owned())
                        .unwrap_or_default(),
                    start: Timestamp::from_unix_seconds(0),
                }],
                certificate,
            })
            .collect();
        Ok(TrustList { info: None, cas })
    }

    /// A newer list to replace this one: verified as [`TrustList::from_tsl`], and refused
    /// as [`TslError::Rollback`] when its sequence number is smaller than this one's. On
    /// any error keep using `self` (the last good copy).
    /// Logs the outcome once.
    pub fn refresh(&self, xml: &str, signers: &[VerificationKey]) -> Result<TrustList, TslError> {
        log(load(xml, signers).and_then(|new| {
            if let (Some(current), Some(offered)) = (&self.info, &new.info) {
                if offered.sequence_number < current.sequence_number {
                    return Err(TslError::Rollback {
                        new: offered.sequence_number,
                        current: current.sequence_number,
                    });
                }
            }
            Ok(new)
        }))
    }

    /// The scheme information (`None` for pinned certificates).
    pub fn info(&self) -> Option<&TslInfo> {
        self.info.as_ref()
    }

    /// Every CA of the list, whatever its status.
    pub fn cas(&self) -> &[TrustedCa] {
        &self.cas
    }

    /// The CAs whose service is trusted at `t`.
    pub fn active_at(&self, t: Timestamp) -> impl Iterator<Item = &TrustedCa> {
        self.cas.iter().filter(move |ca| ca.is_active_at(t))
    }

    /// What to warn about at `now`: NextUpdate passed or near, or a closed list.
    pub fn warnings(&self, now: Timestamp) -> Vec<TslWarning> {
        let Some(info) = &self.info else {
            return Vec::new();
        };
        match info.next_update {
            None => vec![TslWarning::Closed],
            Some(next_update) if next_update <= now => vec![TslWarning::Expired { next_update }],
            Some(next_update) if next_update <= now.plus_seconds(EXPIRY_NOTICE_SECONDS) => {
                vec![TslWarning::ExpiresSoon { next_update }]
            }
            Some(_) => Vec::new(),
        }
    }
}

/// The one event of a load or refresh (code, sequence number; a list holds no personal
/// data).
fn log(result: Result<TrustList, TslError>) -> Result<TrustList, TslError> {
    match &result {
        Ok(list) => tracing::info!(
            target: "spid_sp::cns",
            outcome = "ok",
            sequence = list.info.as_ref().map(|i| i.sequence_number),
            cas = list.cas.len(),
            "trusted list verified"
        ),
        Err(e) => tracing::warn!(
            target: "spid_sp::cns",
            outcome = e.code(),
            "trusted list refused"
        ),
    }
    result
}

fn load(xml: &str, signers: &[VerificationKey]) -> Result<TrustList, TslError> {
    let doc = xml::parse(xml, &TSL_LIMITS).map_err(|_| TslError::Xml)?;
    let root = doc.root_element();
    let (verified, _) =
        dsig::verify_trusted_list_root(root, signers).map_err(TslError::Signature)?;
    read_list(verified)
}

fn child<'a, 'i>(node: Verified<'a, 'i>, local: &str) -> Result<Verified<'a, 'i>, TslError> {
    node.child(TSL_NS, local)
        .ok_or(TslError::Structure("missing element"))
}

fn text(node: Verified<'_, '_>, local: &str) -> Result<String, TslError> {
    let value = child(node, local)?
        .text()
        .ok_or(TslError::Structure("element without text"))?;
    Ok(value.trim().to_owned())
}

fn time(node: Verified<'_, '_>, local: &str) -> Result<Timestamp, TslError> {
    Timestamp::parse(&text(node, local)?).map_err(|_| TslError::Structure("bad date-time"))
}

/// The first `Name` of a multilingual name element, English preferred.
fn name(node: Verified<'_, '_>, local: &str) -> String {
    let Some(names) = node.child(TSL_NS, local) else {
        return String::new();
    };
    let all: Vec<_> = names.children_named(TSL_NS, "Name").collect();
    let pick = all
        .iter()
        .find(|n| n.attribute_ns(XML_NS, "lang") == Some("en"))
        .or(all.first());
    pick.and_then(|n| n.text())
        .map(|t| t.trim().to_owned())
        .unwrap_or_default()
}

fn read_list(root: Verified<'_, '_>) -> Result<TrustList, TslError> {
    if !root.is(TSL_NS, "TrustServiceStatusList") {
        return Err(TslError::Structure("not a TrustServiceStatusList"));
    }
    let scheme = child(root, "SchemeInformation")?;
    let version = text(scheme, "TSLVersionIdentifier")?;
    if version != "5" && version != "6" {
        return Err(TslError::Structure("unsupported TSLVersionIdentifier"));
    }
    let sequence_number = text(scheme, "TSLSequenceNumber")?
        .parse()
        .map_err(|_| TslError::Structure("bad TSLSequenceNumber"))?;
    let next_update = match child(scheme, "NextUpdate")?.child(TSL_NS, "dateTime") {
        Some(dt) => Some(
            dt.text()
                .and_then(|t| Timestamp::parse(t.trim()).ok())
                .ok_or(TslError::Structure("bad NextUpdate"))?,
        ),
        None => None,
    };
    let info = TslInfo {
        sequence_number,
        issued: time(scheme, "ListIssueDateTime")?,
        next_update,
        territory: text(scheme, "SchemeTerritory")?,
    };
    let mut cas = Vec::new();
    if let Some(providers) = root.child(TSL_NS, "TrustServiceProviderList") {
        for tsp in providers.children_named(TSL_NS, "TrustServiceProvider") {
            let provider = child(tsp, "TSPInformation")
                .map(|i| name(i, "TSPName"))
                .unwrap_or_default();
            let Some(services) = tsp.child(TSL_NS, "TSPServices") else {
                continue;
            };
            for service in services.children_named(TSL_NS, "TSPService") {
                read_service(service, &provider, &mut cas)?;
            }
        }
    }
    if cas.is_empty() {
        return Err(TslError::Empty);
    }
    Ok(TrustList {
        info: Some(info),
        cas,
    })
}

/// One TSPService: if its current type is IdV, one [`TrustedCa`] per certificate, with
/// the periods of the current information and of the history instances of the same type.
fn read_service(
    service: Verified<'_, '_>,
    provider: &str,
    out: &mut Vec<TrustedCa>,
) -> Result<(), TslError> {
    let information = child(service, "ServiceInformation")?;
    if text(information, "ServiceTypeIdentifier")? != SERVICE_TYPE_IDV {
        return Ok(());
    }
    let mut periods = vec![ServicePeriod {
        status: text(information, "ServiceStatus")?,
        start: time(information, "StatusStartingTime")?,
    }];
    if let Some(history) = service.child(TSL_NS, "ServiceHistory") {
        for instance in history.children_named(TSL_NS, "ServiceHistoryInstance") {
            if text(instance, "ServiceTypeIdentifier")? != SERVICE_TYPE_IDV {
                continue;
            }
            periods.push(ServicePeriod {
                status: text(instance, "ServiceStatus")?,
                start: time(instance, "StatusStartingTime")?,
            });
        }
    }
    periods.sort_by_key(|p| p.start);
    let service_name = name(information, "ServiceName");
    let identity = child(information, "ServiceDigitalIdentity")?;
    for id in identity.children_named(TSL_NS, "DigitalId") {
        let Some(b64) = id.child(TSL_NS, "X509Certificate").and_then(|c| c.text()) else {
            continue;
        };
        let der = dsig::decode_base64_ws(&b64).ok_or(TslError::Certificate)?;
        let certificate = X509::from_der(&der).map_err(|_| TslError::Certificate)?;
        out.push(TrustedCa {
            certificate,
            service_name: service_name.clone(),
            provider: provider.to_owned(),
            periods: periods.clone(),
        });
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    const WITHDRAWN: &str = "http://uri.etsi.org/TrstSvc/TrustedList/Svcstatus/withdrawn";

    fn at(s: &str) -> Timestamp {
        Timestamp::parse(s).unwrap()
    }

    #[test]
    fn the_status_history_decides_when_a_ca_is_trusted() {
        let key =
            openssl::pkey::PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap()).unwrap();
        let mut name = openssl::x509::X509Name::builder().unwrap();
        name.append_entry_by_text("CN", "test CA").unwrap();
        let name = name.build();
        let mut b = X509::builder().unwrap();
        b.set_subject_name(&name).unwrap();
        b.set_issuer_name(&name).unwrap();
        b.set_pubkey(&key).unwrap();
        let from = openssl::asn1::Asn1Time::from_unix(0).unwrap();
        let to = openssl::asn1::Asn1Time::from_unix(4_000_000_000).unwrap();
        b.set_not_before(&from).unwrap();
        b.set_not_after(&to).unwrap();
        b.sign(&key, openssl::hash::MessageDigest::sha256())
            .unwrap();
        let list = TrustList::from_ca_certificates(&b.build().to_pem().unwrap()).unwrap();
        let mut ca = list.cas().first().cloned().unwrap();
        ca.periods = vec![
            ServicePeriod {
                status: POSITIVE_STATUSES[0].to_owned(),
                start: at("2016-07-01T00:00:00Z"),
            },
            ServicePeriod {
                status: WITHDRAWN.to_owned(),
                start: at("2020-01-01T00:00:00Z"),
            },
        ];
        assert!(
            !ca.is_active_at(at("2016-06-30T23:59:59Z")),
            "before any status"
        );
        assert!(ca.is_active_at(at("2016-07-01T00:00:00Z")));
        assert!(ca.is_active_at(at("2019-12-31T23:59:59Z")));
        assert!(!ca.is_active_at(at("2020-01-01T00:00:00Z")), "withdrawn");
        assert!(!ca.periods()[1].is_positive());
    }

    #[test]
    fn a_list_without_next_update_is_closed() {
        let list = TrustList {
            info: Some(TslInfo {
                sequence_number: 1,
                issued: at("2019-01-01T00:00:00Z"),
                next_update: None,
                territory: "IT".into(),
            }),
            cas: Vec::new(),
        };
        assert_eq!(
            list.warnings(at("2019-01-02T00:00:00Z")),
            vec![TslWarning::Closed]
        );
        assert_eq!(TslWarning::Closed.code(), "tsl-closed");
    }
}
