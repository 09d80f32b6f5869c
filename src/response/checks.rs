//! The SPID rules on a verified Response and Assertion, one function per rule, in the
//! order they are applied. Each maps to AgID's spid-sp-test cases (numbers in the docs).
//!
//! Every function here reads a [`Verified`] node (the Assertion and what it contains) or
//! the [`ResponseEnvelope`] (the Response, verified when it was signed): a plain,
//! unverified node cannot be passed in.

use std::collections::HashSet;

use super::{trimmed_cow, verified_text, Expected, ResponseEnvelope, VerifiedAssertion};
use crate::dsig::Verified;
use crate::error::RejectReason as R;
use crate::identity::{Attributes, SPID_ATTRIBUTE_NAMES};
use crate::level::SpidLevel;
use crate::saml::{ASSERTION_NS, CM_BEARER, NAMEID_ENTITY, NAMEID_TRANSIENT};
use crate::time::Timestamp;

type Check<T = ()> = Result<T, R>;

/// How many names [`NameSet`] scans linearly before it switches to a hash set.
const SMALL_SET: usize = 32;

/// A set of borrowed strings for the duplicate checks (attribute Names, ID values). A
/// Response holds a handful of them, so a linear scan of a small vector beats hashing;
/// past [`SMALL_SET`] entries it moves to a `HashSet`, so a hostile document with many
/// names still costs O(n), not O(n²).
pub(super) struct NameSet<'a> {
    small: Vec<&'a str>,
    large: Option<HashSet<&'a str>>,
}

impl<'a> NameSet<'a> {
    /// An empty set (no allocation until the first insert).
    pub(super) fn new() -> Self {
        NameSet {
            small: Vec::new(),
            large: None,
        }
    }

    /// Adds `name`; `false` when it was already in the set.
    pub(super) fn insert(&mut self, name: &'a str) -> bool {
        if let Some(large) = &mut self.large {
            return large.insert(name);
        }
        if self.small.contains(&name) {
            return false;
        }
        if self.small.len() < SMALL_SET {
            if self.small.is_empty() {
                self.small.reserve_exact(8);
            }
            self.small.push(name);
        } else {
            let mut large: HashSet<&'a str> = self.small.drain(..).collect();
            large.insert(name);
            self.large = Some(large);
        }
        true
    }
}

/// A present, non-empty, trimmed attribute value.
fn nonblank(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty())
}

/// A present, non-empty, trimmed attribute of a verified element.
fn attr<'a>(node: Verified<'a, '_>, name: &str) -> Option<&'a str> {
    nonblank(node.attribute(name))
}

/// The only child element with this name (a second one is as bad as none).
fn only_child<'a, 'i>(node: Verified<'a, 'i>, local: &'static str) -> Option<Verified<'a, 'i>> {
    let mut it = node.children_named(ASSERTION_NS, local);
    let first = it.next()?;
    it.next().is_none().then_some(first)
}

/// No child element and no text: "empty" in AgID's test cases (attributes do not count).
fn is_empty_element(node: Verified<'_, '_>) -> bool {
    !node.has_element_children() && node.text().is_none_or(|t| t.trim().is_empty())
}

/// An instant attribute value: present, non-empty, valid.
fn instant(value: Option<&str>) -> Option<Timestamp> {
    nonblank(value).and_then(|v| Timestamp::parse(v).ok())
}

/// IssueInstant: present, valid, not after now (plus skew) — else `bad` — and not before
/// the request (minus skew) — else `expired`: a message issued before the request it
/// answers is an old one (expired, or replayed), told apart so that logs and the CLI say
/// so. Cases 11–15, 36–40, 110.
fn issue_instant(value: Option<&str>, exp: &Expected<'_>, bad: R, expired: R) -> Check<()> {
    let t = instant(value).ok_or_else(|| bad.clone())?;
    if t > exp.now.plus_seconds(exp.skew_secs) {
        return Err(bad);
    }
    if t < exp.request_instant.plus_seconds(-exp.skew_secs) {
        return Err(expired);
    }
    Ok(())
}

/// Response-level rules (cases 8–31). Returns the Response ID.
///
/// Reads the [`ResponseEnvelope`]: when the Response is unsigned (allowed unless
/// configured), these values are unverified cross-checks; the Assertion rules below
/// re-check, on signed data, the request answered, the recipient and the issuer.
pub(crate) fn response(envelope: ResponseEnvelope<'_, '_>, exp: &Expected<'_>) -> Check<String> {
    let id = nonblank(envelope.attribute("ID")).ok_or(R::ResponseId)?;
    if envelope.attribute("Version") != Some("2.0") {
        return Err(R::ResponseVersion);
    }
    issue_instant(
        envelope.attribute("IssueInstant"),
        exp,
        R::ResponseIssueInstant,
        R::ResponseExpired,
    )?;
    if nonblank(envelope.attribute("InResponseTo")) != Some(exp.request_id) {
        return Err(R::ResponseInResponseTo);
    }
    if nonblank(envelope.attribute("Destination")) != Some(exp.acs_url) {
        return Err(R::ResponseDestination);
    }
    let issuer = envelope
        .only_child(ASSERTION_NS, "Issuer")
        .ok_or(R::ResponseIssuer)?;
    let issuer_text = trimmed_cow(issuer.text())
        .filter(|t| !t.is_empty())
        .ok_or(R::ResponseIssuer)?;
    if issuer_text != exp.idp.entity_id().as_str() {
        return Err(R::IssuerMismatch);
    }
    if let Some(format) = issuer.attribute("Format") {
        if format.trim() != NAMEID_ENTITY {
            return Err(R::ResponseIssuerFormat);
        }
    }
    Ok(id.to_owned())
}

/// Assertion-level rules (cases 33–99). Returns the values the login exposes.
pub(crate) fn assertion(a: Verified<'_, '_>, exp: &Expected<'_>) -> Check<VerifiedAssertion> {
    let assertion_id = attr(a, "ID").ok_or(R::AssertionId)?;
    if a.attribute("Version") != Some("2.0") {
        return Err(R::AssertionVersion);
    }
    issue_instant(
        a.attribute("IssueInstant"),
        exp,
        R::AssertionIssueInstant,
        R::AssertionExpired,
    )?;
    assertion_issuer(a, exp)?;
    let (name_id, name_qualifier, scd_not_on_or_after) = subject(a, exp)?;
    let conditions_not_on_or_after = conditions(a, exp)?;
    let authn = authn_statement(a, exp)?;
    let attributes = attribute_statements(a)?;
    Ok(VerifiedAssertion {
        response_id: String::new(),
        assertion_id: assertion_id.to_owned(),
        name_id,
        name_qualifier,
        session_index: authn.session_index,
        authn_instant: authn.instant,
        session_not_on_or_after: authn.session_not_on_or_after,
        level: authn.level,
        not_on_or_after: scd_not_on_or_after.min(conditions_not_on_or_after),
        attributes,
    })
}

/// Issuer present, = IdP, `Format` entity (required for SPID; CIE omits it). Cases 68–72.
fn assertion_issuer(a: Verified<'_, '_>, exp: &Expected<'_>) -> Check {
    let issuer = only_child(a, "Issuer").ok_or(R::AssertionIssuer)?;
    let text = trimmed_cow(issuer.text())
        .filter(|t| !t.is_empty())
        .ok_or(R::AssertionIssuer)?;
    if text != exp.idp.entity_id().as_str() {
        return Err(R::IssuerMismatch);
    }
    match issuer.attribute("Format").map(str::trim) {
        Some(NAMEID_ENTITY) => Ok(()),
        None if !exp
            .idp
            .federation()
            .rules()
            .assertion_issuer_format_required =>
        {
            Ok(())
        }
        _ => Err(R::AssertionIssuerFormat),
    }
}

/// Subject, NameID (transient, NameQualifier = the IdP's entityID), bearer
/// SubjectConfirmation with Recipient, InResponseTo and NotOnOrAfter, and no NotBefore
/// (SAML profiles §4.1.4.2). Cases 41–66.
fn subject(a: Verified<'_, '_>, exp: &Expected<'_>) -> Check<(String, String, Timestamp)> {
    let subject = only_child(a, "Subject")
        .filter(|s| !is_empty_element(*s))
        .ok_or(R::Subject)?;
    let name_id = only_child(subject, "NameID").ok_or(R::NameId)?;
    let value = verified_text(name_id)
        .filter(|t| !t.is_empty())
        .ok_or(R::NameId)?;
    if attr(name_id, "Format") != Some(NAMEID_TRANSIENT) {
        return Err(R::NameIdFormat);
    }
    // SPID, CIE and the eIDAS node all qualify the transient NameID with their entityID.
    let qualifier = attr(name_id, "NameQualifier")
        .filter(|q| *q == exp.idp.entity_id().as_str())
        .ok_or(R::NameIdQualifier)?;

    let confirmation = only_child(subject, "SubjectConfirmation")
        .filter(|s| !is_empty_element(*s))
        .ok_or(R::SubjectConfirmation)?;
    if attr(confirmation, "Method") != Some(CM_BEARER) {
        return Err(R::SubjectConfirmation);
    }
    let data =
        only_child(confirmation, "SubjectConfirmationData").ok_or(R::SubjectConfirmationData)?;
    if attr(data, "Recipient") != Some(exp.acs_url) {
        return Err(R::Recipient);
    }
    if attr(data, "InResponseTo") != Some(exp.request_id) {
        return Err(R::SubjectInResponseTo);
    }
    let not_on_or_after = instant(data.attribute("NotOnOrAfter"))
        .filter(|t| exp.now < t.plus_seconds(exp.skew_secs))
        .ok_or(R::SubjectNotOnOrAfter)?;
    if data.attribute("NotBefore").is_some() {
        return Err(R::SubjectNotBefore);
    }
    Ok((value, qualifier.to_owned(), not_on_or_after))
}

/// Conditions with NotBefore ≤ now, NotOnOrAfter > now (with skew), only conditions the SP
/// understands, and an AudienceRestriction naming this SP. Cases 73–87.
///
/// `OneTimeUse` is accepted (at most one, SAML core §2.5.1.5) and honoured: every
/// assertion is single-use through the replay cache anyway. `ProxyRestriction` is
/// rejected (SPID IdPs never send it; an SP that re-asserts identity downstream must not
/// be told how), and so is any `saml:Condition` (an extension type the SP cannot evaluate).
fn conditions(a: Verified<'_, '_>, exp: &Expected<'_>) -> Check<Timestamp> {
    let conditions = only_child(a, "Conditions")
        .filter(|c| !is_empty_element(*c))
        .ok_or(R::Conditions)?;
    instant(conditions.attribute("NotBefore"))
        .filter(|t| *t <= exp.now.plus_seconds(exp.skew_secs))
        .ok_or(R::ConditionsNotBefore)?;
    let not_on_or_after = instant(conditions.attribute("NotOnOrAfter"))
        .filter(|t| exp.now < t.plus_seconds(exp.skew_secs))
        .ok_or(R::ConditionsNotOnOrAfter)?;
    let mut one_time_use = 0;
    for condition in conditions.children() {
        if condition.is(ASSERTION_NS, "AudienceRestriction") {
            continue;
        }
        if condition.is(ASSERTION_NS, "OneTimeUse") && one_time_use == 0 {
            one_time_use += 1;
            continue;
        }
        return Err(R::ConditionUnsupported);
    }
    let mut restrictions = conditions
        .children_named(ASSERTION_NS, "AudienceRestriction")
        .peekable();
    if restrictions.peek().is_none() {
        return Err(R::Audience);
    }
    for restriction in restrictions {
        let mut any = false;
        let mut matched = false;
        for audience in restriction.children_named(ASSERTION_NS, "Audience") {
            any = true;
            matched |= trimmed_cow(audience.text()).as_deref() == Some(exp.sp_entity_id);
        }
        if !any || !matched {
            return Err(R::Audience);
        }
    }
    Ok(not_on_or_after)
}

/// What the AuthnStatement says.
struct Authn {
    level: SpidLevel,
    session_index: Option<String>,
    instant: Timestamp,
    session_not_on_or_after: Option<Timestamp>,
}

/// AuthnStatement / AuthnContext / AuthnContextClassRef with a SPID level acceptable for
/// the request (cases 88–97); AuthnInstant present and valid, not after now (plus skew)
/// and, when the request forced a new authentication, not before the request (minus
/// skew); SessionNotOnOrAfter, if present, valid and not past (with skew).
fn authn_statement(a: Verified<'_, '_>, exp: &Expected<'_>) -> Check<Authn> {
    let statement = only_child(a, "AuthnStatement")
        .filter(|s| !is_empty_element(*s) && s.has_element_children())
        .ok_or(R::AuthnStatement)?;
    let context = only_child(statement, "AuthnContext").ok_or(R::AuthnContext)?;
    let class_ref = only_child(context, "AuthnContextClassRef")
        .and_then(|c| trimmed_cow(c.text()))
        .filter(|t| !t.is_empty())
        .ok_or(R::AuthnContext)?;
    let level = SpidLevel::from_uri(&class_ref).ok_or(R::AuthnLevel)?;
    if !exp.level.accepts(exp.comparison, level) {
        return Err(R::AuthnLevel);
    }
    let authn_instant = instant(statement.attribute("AuthnInstant"))
        .filter(|t| *t <= exp.now.plus_seconds(exp.skew_secs))
        .filter(|t| !exp.force_authn || *t >= exp.request_instant.plus_seconds(-exp.skew_secs))
        .ok_or(R::AuthnInstant)?;
    let session_not_on_or_after = match statement.attribute("SessionNotOnOrAfter") {
        None => None,
        Some(_) => Some(
            instant(statement.attribute("SessionNotOnOrAfter"))
                .filter(|t| exp.now < t.plus_seconds(exp.skew_secs))
                .ok_or(R::SessionNotOnOrAfter)?,
        ),
    };
    let session_index = attr(statement, "SessionIndex").map(|s| s.chars().take(256).collect());
    Ok(Authn {
        level,
        session_index,
        instant: authn_instant,
        session_not_on_or_after,
    })
}

/// Each AttributeStatement holds ≥ 1 Attribute; each Attribute has a Name and non-empty
/// values (cases 98, 99, 109). No Name appears twice (in one statement or across
/// statements), and a SPID attribute (single-valued by the SPID rules) has one value:
/// two `fiscalNumber`s must not leave the SP to pick one.
fn attribute_statements(a: Verified<'_, '_>) -> Check<Attributes> {
    let mut attributes = Attributes::with_capacity(16);
    let mut names = NameSet::new();
    for statement in a.children_named(ASSERTION_NS, "AttributeStatement") {
        let mut count = 0;
        for attribute in statement.children_named(ASSERTION_NS, "Attribute") {
            count += 1;
            let name = attr(attribute, "Name").ok_or(R::AttributeValue)?;
            let mut values = Vec::new();
            for value in attribute.children_named(ASSERTION_NS, "AttributeValue") {
                let text = verified_text(value)
                    .filter(|t| !t.is_empty())
                    .ok_or(R::AttributeValue)?;
                values.push(text);
            }
            if values.is_empty() {
                return Err(R::AttributeValue);
            }
            if !names.insert(name) || (values.len() > 1 && SPID_ATTRIBUTE_NAMES.contains(&name)) {
                return Err(R::AttributeDuplicate);
            }
            attributes.push(name, values);
        }
        if count == 0 {
            return Err(R::AttributeStatement);
        }
    }
    Ok(attributes)
}

#[cfg(test)]
mod tests {
    use super::{NameSet, SMALL_SET};
    use std::collections::HashSet;

    /// `NameSet` answers exactly as a `HashSet` does, below, at and past the point where it
    /// switches from the linear scan to hashing.
    #[test]
    fn name_set_agrees_with_a_hash_set() {
        let names: Vec<String> = (0..3 * SMALL_SET).map(|i| format!("n{}", i % 70)).collect();
        for len in [
            0,
            1,
            2,
            SMALL_SET - 1,
            SMALL_SET,
            SMALL_SET + 1,
            names.len(),
        ] {
            let mut ours = NameSet::new();
            let mut oracle = HashSet::new();
            for name in names.iter().take(len) {
                assert_eq!(
                    ours.insert(name),
                    oracle.insert(name.as_str()),
                    "{len} {name}"
                );
            }
            for name in &names {
                assert_eq!(
                    ours.insert(name),
                    oracle.insert(name.as_str()),
                    "{len} {name}"
                );
            }
        }
    }
}
