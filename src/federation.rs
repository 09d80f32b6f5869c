//! SPID, CIE ID and eIDAS (through the Italian node): the same SAML profile with a few
//! per-federation rules, kept here as data rather than as forked code paths.

use crate::level::{Comparison, SpidLevel};

/// The federation an IdP belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Federation {
    /// SPID (AgID's registry).
    Spid,
    /// CIE ID, "Entra con CIE" (Ministero dell'Interno).
    Cie,
    /// eIDAS users through the Italian node (FICEP), which acts as one more SPID IdP.
    Eidas,
}

/// The rules that differ between federations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FederationRules {
    /// `ForceAuthn="true"` on every request (CIE), not only at L2/L3 (SPID).
    pub force_authn_always: bool,
    /// Comparisons the IdP accepts.
    pub comparisons: &'static [Comparison],
    /// The Assertion Issuer must carry `Format=...:entity` (SPID); CIE omits it.
    pub assertion_issuer_format_required: bool,
    /// The IdP implements SAML Single Logout (CIE does not answer LogoutRequests).
    pub single_logout: bool,
    /// AttributeConsumingService indexes the IdP expects, if fixed (eIDAS: 99 minimum
    /// set, 100 full set).
    pub attribute_service_indexes: Option<&'static [u16]>,
}

impl FederationRules {
    /// Whether a request at `level` carries `ForceAuthn="true"`: always when the
    /// federation says so (CIE, the eIDAS node), otherwise at L2 and L3 (SPID). The
    /// verifier derives the same answer to check the Response's `AuthnInstant`.
    pub fn force_authn(&self, level: SpidLevel) -> bool {
        self.force_authn_always || level >= SpidLevel::L2
    }
}

const ALL: &[Comparison] = &[
    Comparison::Exact,
    Comparison::Minimum,
    Comparison::Better,
    Comparison::Maximum,
];

impl Federation {
    /// The rules of this federation.
    pub const fn rules(self) -> FederationRules {
        match self {
            Federation::Spid => FederationRules {
                force_authn_always: false,
                comparisons: ALL,
                assertion_issuer_format_required: true,
                single_logout: true,
                attribute_service_indexes: None,
            },
            Federation::Cie => FederationRules {
                force_authn_always: true,
                comparisons: &[Comparison::Exact, Comparison::Minimum],
                assertion_issuer_format_required: false,
                single_logout: false,
                attribute_service_indexes: None,
            },
            Federation::Eidas => FederationRules {
                force_authn_always: true,
                comparisons: ALL,
                assertion_issuer_format_required: true,
                single_logout: true,
                attribute_service_indexes: Some(&[99, 100]),
            },
        }
    }

    /// The federation of a known entityID: the CIE and eIDAS-node hosts; SPID otherwise.
    pub fn of_entity_id(entity_id: &str) -> Federation {
        let host = entity_id
            .split("://")
            .nth(1)
            .unwrap_or(entity_id)
            .split(['/', ':'])
            .next()
            .unwrap_or("");
        if host.ends_with("idserver.servizicie.interno.gov.it") {
            Federation::Cie
        } else if host.ends_with("sp-proxy.eid.gov.it") || host.ends_with("sp-proxy.pre.eid.gov.it")
        {
            Federation::Eidas
        } else {
            Federation::Spid
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn force_authn_per_federation_and_level() {
        let spid = Federation::Spid.rules();
        assert!(!spid.force_authn(SpidLevel::L1));
        assert!(spid.force_authn(SpidLevel::L2));
        assert!(spid.force_authn(SpidLevel::L3));
        for f in [Federation::Cie, Federation::Eidas] {
            assert!(f.rules().force_authn(SpidLevel::L1), "{f:?}");
        }
    }

    #[test]
    fn known_hosts() {
        assert_eq!(
            Federation::of_entity_id(
                "https://idserver.servizicie.interno.gov.it/idp/profile/SAML2/POST/SSO"
            ),
            Federation::Cie
        );
        assert_eq!(
            Federation::of_entity_id("https://preproduzione.idserver.servizicie.interno.gov.it/idp/profile/SAML2/POST/SSO"),
            Federation::Cie
        );
        assert_eq!(
            Federation::of_entity_id("https://sp-proxy.eid.gov.it/spproxy/idpit"),
            Federation::Eidas
        );
        assert_eq!(
            Federation::of_entity_id("https://posteid.poste.it"),
            Federation::Spid
        );
        assert_eq!(
            Federation::of_entity_id("https://evil.example/idserver.servizicie.interno.gov.it"),
            Federation::Spid
        );
    }
}
