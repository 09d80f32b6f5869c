//! SPID authentication levels and the rule that decides whether the level an IdP
//! returned satisfies the one requested.

use std::fmt;

/// A SPID level of assurance. Ordered: `L1 < L2 < L3`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum SpidLevel {
    /// Single factor (`https://www.spid.gov.it/SpidL1`).
    L1,
    /// Two factors (`https://www.spid.gov.it/SpidL2`): what most services need.
    L2,
    /// Two factors, one a hardware device (`https://www.spid.gov.it/SpidL3`).
    L3,
}

impl SpidLevel {
    /// The AuthnContextClassRef URI.
    pub const fn uri(self) -> &'static str {
        match self {
            SpidLevel::L1 => "https://www.spid.gov.it/SpidL1",
            SpidLevel::L2 => "https://www.spid.gov.it/SpidL2",
            SpidLevel::L3 => "https://www.spid.gov.it/SpidL3",
        }
    }

    /// The level named by a SPID AuthnContextClassRef URI (exact match; the legacy
    /// `urn:oasis:...:SpidLx` forms are refused, as AgID requires).
    pub fn from_uri(uri: &str) -> Option<SpidLevel> {
        match uri {
            "https://www.spid.gov.it/SpidL1" => Some(SpidLevel::L1),
            "https://www.spid.gov.it/SpidL2" => Some(SpidLevel::L2),
            "https://www.spid.gov.it/SpidL3" => Some(SpidLevel::L3),
            _ => None,
        }
    }

    /// The level `1`, `2` or `3`.
    pub fn from_number(n: u8) -> Option<SpidLevel> {
        match n {
            1 => Some(SpidLevel::L1),
            2 => Some(SpidLevel::L2),
            3 => Some(SpidLevel::L3),
            _ => None,
        }
    }

    /// `1`, `2` or `3`.
    pub const fn number(self) -> u8 {
        match self {
            SpidLevel::L1 => 1,
            SpidLevel::L2 => 2,
            SpidLevel::L3 => 3,
        }
    }

    /// The eIDAS level of assurance this level corresponds to (low, substantial, high).
    pub const fn eidas_loa(self) -> &'static str {
        match self {
            SpidLevel::L1 => "http://eidas.europa.eu/LoA/low",
            SpidLevel::L2 => "http://eidas.europa.eu/LoA/substantial",
            SpidLevel::L3 => "http://eidas.europa.eu/LoA/high",
        }
    }

    /// Whether the returned level satisfies a request for `self` with `comparison`
    /// (the SPID rule, as AgID's conformance tool enforces it): a higher level is always
    /// accepted; an equal one unless `better`; a lower one only for `maximum`.
    pub fn accepts(self, comparison: Comparison, returned: SpidLevel) -> bool {
        use std::cmp::Ordering::*;
        match returned.cmp(&self) {
            Greater => true,
            Equal => comparison != Comparison::Better,
            Less => comparison == Comparison::Maximum,
        }
    }
}

impl fmt::Display for SpidLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SpidL{}", self.number())
    }
}

/// The `Comparison` attribute of `RequestedAuthnContext`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Comparison {
    /// Exactly the level.
    Exact,
    /// At least the level (the default, and what CIE wants).
    #[default]
    Minimum,
    /// Strictly above the level.
    Better,
    /// At most the level.
    Maximum,
}

impl Comparison {
    /// The attribute value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Comparison::Exact => "exact",
            Comparison::Minimum => "minimum",
            Comparison::Better => "better",
            Comparison::Maximum => "maximum",
        }
    }

    /// Parses the attribute value.
    pub fn parse(s: &str) -> Option<Comparison> {
        match s {
            "exact" => Some(Comparison::Exact),
            "minimum" => Some(Comparison::Minimum),
            "better" => Some(Comparison::Better),
            "maximum" => Some(Comparison::Maximum),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Comparison::*;
    use SpidLevel::*;

    #[test]
    fn acceptance_table() {
        // (requested, comparison, returned, accepted): spid-saml-profile.md §3.5
        for (req, cmp, ret, ok) in [
            (L2, Exact, L3, true),
            (L2, Minimum, L3, true),
            (L2, Better, L3, true),
            (L2, Maximum, L3, true),
            (L2, Exact, L2, true),
            (L2, Minimum, L2, true),
            (L2, Better, L2, false),
            (L2, Maximum, L2, true),
            (L2, Exact, L1, false),
            (L2, Minimum, L1, false),
            (L2, Better, L1, false),
            (L2, Maximum, L1, true),
        ] {
            assert_eq!(req.accepts(cmp, ret), ok, "{req} {cmp:?} {ret}");
        }
        assert_eq!(
            SpidLevel::from_uri("urn:oasis:names:tc:SAML:2.0:ac:classes:SpidL1"),
            None
        );
        assert!(L1 < L2 && L2 < L3);
    }
}
