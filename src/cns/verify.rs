//! A card certificate, as a TLS acceptor or a proxy header hands it over, turned into an
//! [`Identity`] or a typed [`CnsRejection`].

use std::fmt;

use openssl::stack::Stack;
use openssl::x509::store::X509StoreBuilder;
use openssl::x509::verify::{X509VerifyFlags, X509VerifyParam};
use openssl::x509::{X509Crl, X509NameRef, X509Ref, X509StoreContext, X509};

use super::error::CnsRejection;
use super::ext::{self, KU_DIGITAL_SIGNATURE, KU_NON_REPUDIATION};
use super::tsl::TrustList;
use super::{EKU_CLIENT_AUTH, POLICY_CIE, POLICY_CNS};
use crate::dsig::keys::asn1_to_timestamp;
use crate::identity::Identity;
use crate::level::SpidLevel;
use crate::time::{Clock, Timestamp};

/// Largest certificate input accepted (PEM with a chain included).
const MAX_INPUT: usize = 64 * 1024;
/// Longest chain accepted: card, at most two intermediates, the trusted CA.
const MAX_DEPTH: i32 = 3;

/// What a CNS login must satisfy beyond the fixed rules (chain, validity, key usage).
///
/// Built with [`CnsPolicy::default`] and the methods below:
/// `CnsPolicy::default().accept_cie(true).require_crl(true)`.
#[derive(Clone, Debug)]
pub struct CnsPolicy {
    level: SpidLevel,
    accept_cie: bool,
    extra_policies: Vec<String>,
    require_crl: bool,
}

impl Default for CnsPolicy {
    /// CNS policy only, level 2, CRL checked when given but not required.
    fn default() -> Self {
        CnsPolicy {
            level: SpidLevel::L2,
            accept_cie: false,
            extra_policies: Vec::new(),
            require_crl: false,
        }
    }
}

impl CnsPolicy {
    /// The SPID level a verified CNS login counts as (default [`SpidLevel::L2`]: a card
    /// and its PIN are two factors; docs/cns.md says why not L3).
    pub fn level(mut self, level: SpidLevel) -> Self {
        self.level = level;
        self
    }

    /// Also accept CIE card authentication certificates (policy [`POLICY_CIE`]) whose CA
    /// is in the trust list. Off by default.
    pub fn accept_cie(mut self, yes: bool) -> Self {
        self.accept_cie = yes;
        self
    }

    /// Also accept another certificate policy OID (e.g. the Lombardy CRS/SISS policies
    /// some CNS-equivalent cards carry; docs/cns.md). Dotted text.
    pub fn also_accept_policy(mut self, oid: &str) -> Self {
        self.extra_policies.push(oid.to_owned());
        self
    }

    /// Refuse a certificate when no CRL of its issuer is given (default: a missing CRL is
    /// logged, a given one is always checked).
    pub fn require_crl(mut self, yes: bool) -> Self {
        self.require_crl = yes;
        self
    }
}

/// Which kind of card the certificate came from (by its certificate policy).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CardKind {
    /// Carta Nazionale dei Servizi / TS-CNS (policy [`POLICY_CNS`] or one the application
    /// added).
    Cns,
    /// Carta d'Identità Elettronica (policy [`POLICY_CIE`], when accepted).
    Cie,
}

/// A certificate revocation list the application supplies (fetched and cached by it),
/// parsed with OpenSSL. Its signature and dates are checked at each use.
pub struct Crl {
    crl: X509Crl,
}

impl fmt::Debug for Crl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Crl")
            .field("issuer", &name_text(self.crl.issuer_name()))
            .finish_non_exhaustive()
    }
}

impl Crl {
    /// Parses a CRL in PEM (`-----BEGIN X509 CRL-----`) or DER.
    pub fn parse(bytes: &[u8]) -> Result<Crl, CnsRejection> {
        let crl = if bytes.starts_with(b"-----BEGIN") {
            X509Crl::from_pem(bytes)
        } else {
            X509Crl::from_der(bytes)
        }
        .map_err(|_| CnsRejection::CrlMalformed)?;
        Ok(Crl { crl })
    }

    /// The issuer's distinguished name, as text.
    pub fn issuer(&self) -> String {
        name_text(self.crl.issuer_name())
    }

    /// nextUpdate, if present and readable.
    pub fn next_update(&self) -> Option<Timestamp> {
        self.crl.next_update().and_then(asn1_to_timestamp)
    }
}

/// A verified CNS login: the identity (keyed on the fiscal code, source
/// [`IdentitySource::Cns`](crate::IdentitySource::Cns)), the level it counts as, and what
/// vouched for it. `Debug` prints no personal data.
#[derive(Clone)]
pub struct CnsLogin {
    identity: Identity,
    level: SpidLevel,
    kind: CardKind,
    issuer: String,
    not_after: Option<Timestamp>,
    fingerprint: [u8; 32],
    crl_checked: bool,
}

impl fmt::Debug for CnsLogin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CnsLogin")
            .field("identity", &self.identity)
            .field("level", &self.level)
            .field("kind", &self.kind)
            .field("issuer", &self.issuer)
            .field("crl_checked", &self.crl_checked)
            .finish_non_exhaustive()
    }
}

impl CnsLogin {
    /// Who logged in.
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// The identity, consuming the login.
    pub fn into_identity(self) -> Identity {
        self.identity
    }

    /// The SPID level the login counts as ([`CnsPolicy::level`]).
    pub fn level(&self) -> SpidLevel {
        self.level
    }

    /// CNS or CIE card.
    pub fn kind(&self) -> CardKind {
        self.kind
    }

    /// The distinguished name of the CA that issued the card certificate (public data).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The card certificate's notAfter: a session should not outlive it.
    pub fn not_after(&self) -> Option<Timestamp> {
        self.not_after
    }

    /// SHA-256 of the card certificate's DER (to bind a session to the card).
    pub fn fingerprint(&self) -> &[u8; 32] {
        &self.fingerprint
    }

    /// Whether a CRL of the issuer was checked.
    pub fn crl_checked(&self) -> bool {
        self.crl_checked
    }
}

/// Verifies card certificates against a [`TrustList`] under a [`CnsPolicy`].
#[derive(Clone, Debug, Default)]
pub struct CnsVerifier {
    policy: CnsPolicy,
}

impl CnsVerifier {
    /// A verifier with `policy`.
    pub fn new(policy: CnsPolicy) -> CnsVerifier {
        CnsVerifier { policy }
    }

    /// Verifies a client certificate given as DER, or as PEM (one or more certificates:
    /// the card's first, then untrusted intermediates), as a TLS acceptor or a proxy header
    /// (after URL-decoding) hands it over.
    ///
    /// Checks, in order: readable input; not a CA certificate; a chain to a CA of `trust`
    /// whose service is active at `clock.now()` (signatures, names, CA constraints, every
    /// certificate's validity at that instant); keyUsage digitalSignature without
    /// nonRepudiation; extendedKeyUsage, when present, with clientAuth; an accepted
    /// certificate policy; the issuer's CRL among `crls` (signature, dates, serial); the
    /// fiscal code of the subject ([`Identity::from_cns_certificate`]).
    pub fn verify(
        &self,
        certificate: &[u8],
        trust: &TrustList,
        crls: &[Crl],
        clock: &dyn Clock,
    ) -> Result<CnsLogin, CnsRejection> {
        let result = parse_input(certificate)
            .and_then(|(leaf, chain)| self.verify_x509(&leaf, &chain, trust, crls, clock));
        match &result {
            Ok(login) => tracing::debug!(
                target: "spid_sp::cns",
                outcome = "ok",
                kind = ?login.kind,
                crl_checked = login.crl_checked,
                "CNS certificate accepted"
            ),
            Err(e) => tracing::warn!(
                target: "spid_sp::cns",
                outcome = e.code(),
                "CNS certificate refused"
            ),
        }
        result
    }

    /// [`CnsVerifier::verify`] for a certificate already parsed (an OpenSSL acceptor's
    /// peer certificate), with the untrusted intermediates the peer sent. Not logged.
    pub fn verify_x509(
        &self,
        leaf: &X509Ref,
        intermediates: &[X509],
        trust: &TrustList,
        crls: &[Crl],
        clock: &dyn Clock,
    ) -> Result<CnsLogin, CnsRejection> {
        let now = clock.now();
        let leaf_der = leaf.to_der()?;
        let exts = ext::read(&leaf_der).ok_or(CnsRejection::Malformed)?;
        if exts.ca {
            return Err(CnsRejection::NotEndEntity);
        }
        let chain = verify_chain(leaf, intermediates, trust, now)?;
        let issuer = chain.get(1).ok_or(CnsRejection::UntrustedIssuer)?;
        match exts.key_usage {
            Some(ku) if ku & KU_DIGITAL_SIGNATURE != 0 && ku & KU_NON_REPUDIATION == 0 => {}
            _ => return Err(CnsRejection::KeyUsage),
        }
        if let Some(eku) = &exts.extended_key_usage {
            if !eku.iter().any(|o| o == EKU_CLIENT_AUTH) {
                return Err(CnsRejection::ExtendedKeyUsage);
            }
        }
        let kind = self.card_kind(&exts.policies)?;
        let crl_checked = self.check_revocation(leaf, issuer, crls, now)?;
        let identity = Identity::from_cns_certificate(leaf).map_err(CnsRejection::Subject)?;
        Ok(CnsLogin {
            identity,
            level: self.policy.level,
            kind,
            issuer: name_text(issuer.subject_name()),
            not_after: asn1_to_timestamp(leaf.not_after()),
            fingerprint: crate::dsig::sha256(&leaf_der),
            crl_checked,
        })
    }

    fn card_kind(&self, policies: &[String]) -> Result<CardKind, CnsRejection> {
        if policies
            .iter()
            .any(|p| p == POLICY_CNS || self.policy.extra_policies.contains(p))
        {
            Ok(CardKind::Cns)
        } else if self.policy.accept_cie && policies.iter().any(|p| p == POLICY_CIE) {
            Ok(CardKind::Cie)
        } else {
            Err(CnsRejection::Policy)
        }
    }

    /// The CRLs named after the issuer must verify with its key; of those that do, cover
    /// the card (not a delta CRL, no issuingDistributionPoint that leaves it out, no
    /// unknown critical extension) and are already issued at `now`, the newest (latest
    /// thisUpdate) decides. Returns whether one
    /// was checked.
    fn check_revocation(
        &self,
        leaf: &X509Ref,
        issuer: &X509,
        crls: &[Crl],
        now: Timestamp,
    ) -> Result<bool, CnsRejection> {
        let key = issuer.public_key()?;
        let mut found: Option<(&X509Crl, Timestamp)> = None;
        let (mut forged, mut future) = (false, false);
        let cert_uris = distribution_point_uris(leaf);
        for crl in crls {
            let crl = &crl.crl;
            if crl.issuer_name().try_cmp(issuer.subject_name())? != std::cmp::Ordering::Equal {
                continue;
            }
            if !crl.verify(&key).unwrap_or(false) {
                forged = true;
                continue;
            }
            let scope = ext::crl_scope(&crl.to_der()?).ok_or(CnsRejection::CrlMalformed)?;
            if !scope.covers(&cert_uris) {
                // A delta, partial or other-partition CRL says nothing about this card.
                tracing::debug!(target: "spid_sp::cns", "a CRL of the issuer does not cover the card");
                continue;
            }
            let this_update = asn1_to_timestamp(crl.last_update()).ok_or(CnsRejection::Crypto)?;
            if this_update > now {
                future = true;
            } else if found.is_none_or(|(_, t)| this_update > t) {
                found = Some((crl, this_update));
            }
        }
        let Some((crl, _)) = found else {
            if forged {
                return Err(CnsRejection::CrlSignature);
            }
            if future {
                return Err(CnsRejection::CrlNotYetValid);
            }
            if self.policy.require_crl {
                return Err(CnsRejection::CrlMissing);
            }
            tracing::debug!(target: "spid_sp::cns", "no CRL given for the card's issuer");
            return Ok(false);
        };
        match crl.next_update().and_then(asn1_to_timestamp) {
            Some(next) if next > now => {}
            _ => return Err(CnsRejection::CrlExpired),
        }
        match crl.get_by_serial(leaf.serial_number()) {
            openssl::x509::CrlStatus::NotRevoked => Ok(true),
            _ => Err(CnsRejection::Revoked),
        }
    }
}

/// The URIs of the certificate's CRL distribution points (fullName only).
fn distribution_point_uris(cert: &X509Ref) -> Vec<String> {
    let mut out = Vec::new();
    for dp in cert.crl_distribution_points().iter().flatten() {
        let Some(names) = dp.distpoint().and_then(|n| n.fullname()) else {
            continue;
        };
        out.extend(names.iter().filter_map(|n| n.uri()).map(str::to_owned));
    }
    out
}

/// DER, or PEM with the card's certificate first.
fn parse_input(input: &[u8]) -> Result<(X509, Vec<X509>), CnsRejection> {
    if input.is_empty() || input.len() > MAX_INPUT {
        return Err(CnsRejection::Malformed);
    }
    let trimmed = input.trim_ascii_start();
    if trimmed.starts_with(b"-----BEGIN") {
        let mut certs = X509::stack_from_pem(trimmed)
            .map_err(|_| CnsRejection::Malformed)?
            .into_iter();
        let leaf = certs.next().ok_or(CnsRejection::Malformed)?;
        let rest: Vec<X509> = certs.collect();
        if rest.len() > 4 {
            return Err(CnsRejection::Malformed);
        }
        Ok((leaf, rest))
    } else {
        Ok((
            X509::from_der(input).map_err(|_| CnsRejection::Malformed)?,
            Vec::new(),
        ))
    }
}

/// Builds the path with OpenSSL at `now`, trusting only the CAs of `trust` active at
/// `now` (partial chains: a listed issuing CA is an anchor even if it is not a root), then
/// checks that every certificate above the card is a CA by its own basicConstraints.
/// Returns the chain, card first, anchor last.
fn verify_chain(
    leaf: &X509Ref,
    intermediates: &[X509],
    trust: &TrustList,
    now: Timestamp,
) -> Result<Vec<X509>, CnsRejection> {
    let mut store = X509StoreBuilder::new()?;
    let mut anchors = 0;
    for ca in trust.active_at(now) {
        store.add_cert(ca.certificate().to_owned())?;
        anchors += 1;
    }
    if anchors == 0 {
        return Err(CnsRejection::NoTrustAnchor);
    }
    let unix = now.unix_seconds();
    if !(0..=253_402_300_799).contains(&unix) {
        return Err(CnsRejection::Crypto);
    }
    let mut param = X509VerifyParam::new()?;
    param.set_time(unix);
    param.set_depth(MAX_DEPTH);
    param.set_flags(X509VerifyFlags::PARTIAL_CHAIN | X509VerifyFlags::X509_STRICT)?;
    store.set_param(&param)?;
    let store = store.build();
    let mut untrusted = Stack::new()?;
    for c in intermediates {
        untrusted.push(c.clone())?;
    }
    let mut ctx = X509StoreContext::new()?;
    let (ok, error, depth, chain) = ctx.init(&store, leaf, &untrusted, |c| {
        let ok = c.verify_cert()?;
        let chain: Vec<X509> = c
            .chain()
            .map(|s| s.iter().map(|x| x.to_owned()).collect())
            .unwrap_or_default();
        Ok((ok, c.error().as_raw(), c.error_depth(), chain))
    })?;
    if !ok {
        return Err(map_verify_error(error, depth));
    }
    for ca in chain.iter().skip(1) {
        let exts = ext::read(&ca.to_der()?).ok_or(CnsRejection::Chain("unreadable CA"))?;
        if !exts.ca {
            return Err(CnsRejection::Chain("issuer is not a CA"));
        }
    }
    if chain.len() < 2 {
        return Err(CnsRejection::UntrustedIssuer);
    }
    Ok(chain)
}

/// OpenSSL's `X509_V_ERR_*` codes (stable across 1.1 and 3.x) to rejections.
fn map_verify_error(error: i32, depth: u32) -> CnsRejection {
    match (error, depth) {
        (9, 0) => CnsRejection::NotYetValid,
        (10, 0) => CnsRejection::Expired,
        (9 | 10, _) => CnsRejection::IssuerExpired,
        (2 | 18 | 19 | 20 | 21, _) => CnsRejection::UntrustedIssuer,
        (7, _) => CnsRejection::Chain("signature"),
        (24, _) => CnsRejection::Chain("issuer is not a CA"),
        (25, _) => CnsRejection::Chain("path length"),
        (22, _) => CnsRejection::Chain("chain too long"),
        (6, _) => CnsRejection::Chain("issuer key"),
        _ => CnsRejection::Chain("refused by the path validator"),
    }
}

/// `CN=…, O=…` in the certificate's order (public CA names only; never used on a card's
/// subject, which carries personal data).
pub(crate) fn name_text(name: &X509NameRef) -> String {
    let mut out = String::new();
    for entry in name.entries() {
        let key = entry.object().nid().short_name().unwrap_or("?");
        let value = entry.data().to_string().unwrap_or_default();
        if !out.is_empty() {
            out.push_str(", ");
        }
        out.push_str(key);
        out.push('=');
        out.push_str(&value);
    }
    out
}
