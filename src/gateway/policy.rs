//! Per-path access: public, login, minimum level, allowed identities. Paths are matched
//! after percent-decoding and ASCII case folding (an upstream that decodes `%61dmin` or
//! ignores case, as IIS does, sees the same path the rule did), and a path with dot
//! segments, empty segments, backslashes or encoded slashes is refused outright: no
//! spelling of a protected path reaches the upstream under a weaker rule.

use crate::axum::Session;
use crate::level::SpidLevel;

/// Public or login.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// No session needed (the identity is still sent when there is one).
    Public,
    /// A session is needed.
    Login,
}

impl Access {
    pub(crate) fn parse(s: &str) -> Option<Access> {
        match s {
            "public" => Some(Access::Public),
            "login" => Some(Access::Login),
            _ => None,
        }
    }
}

/// A kind of identity a path may admit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdentityKind {
    /// A natural person with an Italian fiscal code (SPID, CIE).
    FiscalCode,
    /// A foreign person with an eIDAS identifier.
    Eidas,
    /// A legal person (company name, VAT number or company fiscal code present).
    LegalPerson,
}

impl IdentityKind {
    pub(crate) fn parse(s: &str) -> Option<IdentityKind> {
        match s {
            "fiscal_code" => Some(IdentityKind::FiscalCode),
            "eidas" => Some(IdentityKind::Eidas),
            "legal_person" => Some(IdentityKind::LegalPerson),
            _ => None,
        }
    }

    fn admits(self, session: &Session) -> bool {
        let id = session.identity();
        match self {
            IdentityKind::FiscalCode => id.fiscal_code().is_some() && !id.is_legal_person(),
            IdentityKind::Eidas => id.eidas_id().is_some(),
            IdentityKind::LegalPerson => id.is_legal_person(),
        }
    }
}

/// One `[[gateway.paths]]` rule.
#[derive(Clone, Debug)]
pub struct PathRule {
    prefix: String,
    folded: String,
    access: Access,
    level: Option<SpidLevel>,
    kinds: Vec<IdentityKind>,
}

impl PathRule {
    pub(crate) fn new(
        prefix: &str,
        access: Access,
        level: Option<SpidLevel>,
        kinds: Vec<IdentityKind>,
    ) -> PathRule {
        PathRule {
            prefix: prefix.to_owned(),
            folded: prefix.to_ascii_lowercase(),
            access,
            level,
            kinds,
        }
    }

    /// The prefix as configured.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub(crate) fn describe(&self) -> String {
        let mut s = match self.access {
            Access::Public => "public".to_owned(),
            Access::Login => "login".to_owned(),
        };
        if let Some(l) = self.level {
            s.push_str(&format!(", level >= {}", l.number()));
        }
        if !self.kinds.is_empty() {
            s.push_str(&format!(", identities {:?}", self.kinds));
        }
        s
    }

    fn matches(&self, folded_path: &str) -> bool {
        match folded_path.strip_prefix(&self.folded) {
            Some(rest) => self.folded.ends_with('/') || rest.is_empty() || rest.starts_with('/'),
            None => false,
        }
    }
}

/// What a request needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requirement {
    /// Public or login.
    pub access: Access,
    /// The level needed (the SP minimum when the rule has none).
    pub level: SpidLevel,
    /// Allowed identities (empty: any).
    pub kinds: Vec<IdentityKind>,
}

/// The decision for a request with (or without) a session.
#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    /// Let it through.
    Allow,
    /// No session: to the login page.
    Login,
    /// A session below the level: step-up at this level.
    StepUp(SpidLevel),
    /// A session of an identity kind the path does not admit.
    Forbidden,
}

impl Requirement {
    /// The decision for `session`.
    pub fn decide(&self, session: Option<&Session>) -> Decision {
        let Some(s) = session else {
            return match self.access {
                Access::Public => Decision::Allow,
                Access::Login => Decision::Login,
            };
        };
        if self.access == Access::Public {
            return Decision::Allow;
        }
        if s.level() < self.level {
            return Decision::StepUp(self.level);
        }
        if !self.kinds.is_empty() && !self.kinds.iter().any(|k| k.admits(s)) {
            return Decision::Forbidden;
        }
        Decision::Allow
    }
}

/// A path the gateway refuses to route (it could mean something else upstream).
#[derive(Debug, PartialEq, Eq)]
pub struct AmbiguousPath;

/// The path as rules see it: percent-decoded, ASCII-lowercased; refused when it has dot
/// or empty segments, a backslash, a NUL, an encoded `/`, `\` or `%`, or bad escapes.
pub fn canonical(path: &str) -> Result<String, AmbiguousPath> {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = bytes.get(i + 1..i + 3).ok_or(AmbiguousPath)?;
            let text = std::str::from_utf8(hex).map_err(|_| AmbiguousPath)?;
            let v = u8::from_str_radix(text, 16).map_err(|_| AmbiguousPath)?;
            if matches!(v, b'/' | b'\\' | b'%' | 0) {
                return Err(AmbiguousPath);
            }
            out.push(v);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    let decoded = String::from_utf8(out).map_err(|_| AmbiguousPath)?;
    if !decoded.starts_with('/') || decoded.contains(['\\', '\0']) {
        return Err(AmbiguousPath);
    }
    if decoded.contains("//") || decoded.split('/').any(|seg| seg == "." || seg == "..") {
        return Err(AmbiguousPath);
    }
    Ok(decoded.to_ascii_lowercase())
}

/// The rules of a gateway, longest prefix first.
#[derive(Clone, Debug)]
pub struct Policy {
    rules: Vec<PathRule>,
    default_access: Access,
    minimum: SpidLevel,
}

impl Policy {
    pub(crate) fn new(rules: Vec<PathRule>, default_access: Access, minimum: SpidLevel) -> Policy {
        Policy {
            rules,
            default_access,
            minimum,
        }
    }

    /// What a request for `path` (no query) needs.
    pub fn requirement(&self, path: &str) -> Result<Requirement, AmbiguousPath> {
        let folded = canonical(path)?;
        Ok(match self.rules.iter().find(|r| r.matches(&folded)) {
            Some(r) => Requirement {
                access: r.access,
                level: r.level.unwrap_or(self.minimum),
                kinds: r.kinds.clone(),
            },
            None => Requirement {
                access: self.default_access,
                level: self.minimum,
                kinds: Vec::new(),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_rules() {
        for ok in ["/", "/a", "/a/", "/a/b", "/%41dmin", "/a.b/c", "/a/..b"] {
            assert!(canonical(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "a",
            "/a/../b",
            "/..",
            "/.",
            "/a/./b",
            "//a",
            "/a//b",
            "/a%2fb",
            "/a%2Fb",
            "/a\\b",
            "/a%5cb",
            "/%2e%2e/x",
            "/a%",
            "/a%zz",
            "/a%00",
            "/a%25",
        ] {
            assert_eq!(canonical(bad), Err(AmbiguousPath), "{bad}");
        }
        assert_eq!(canonical("/%41DMIN").unwrap(), "/admin");
        let p = Policy::new(
            vec![
                PathRule::new("/public/x", Access::Login, None, vec![]),
                PathRule::new("/admin", Access::Login, Some(SpidLevel::L3), vec![]),
                PathRule::new("/public", Access::Public, None, vec![]),
            ],
            Access::Login,
            SpidLevel::L2,
        );
        let req = |path: &str| p.requirement(path).unwrap();
        assert_eq!(req("/public").access, Access::Public);
        assert_eq!(req("/public/a").access, Access::Public);
        assert_eq!(req("/publicity").access, Access::Login);
        assert_eq!(req("/public/x/y").access, Access::Login);
        assert_eq!(req("/admin").level, SpidLevel::L3);
        assert_eq!(req("/ADMIN/users").level, SpidLevel::L3);
        assert_eq!(req("/%61dmin").level, SpidLevel::L3);
        assert_eq!(req("/other").level, SpidLevel::L2);
        assert_eq!(req("/").access, Access::Login);
        assert_eq!(p.requirement("/public/../admin"), Err(AmbiguousPath));
        assert_eq!(req("/x").decide(None), Decision::Login);
        assert_eq!(req("/public").decide(None), Decision::Allow);
    }
}
