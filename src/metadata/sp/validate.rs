//! What the writer refuses: organization, contact and billing data of the wrong shape, or
//! missing where the profile's rules require it; and the value shapes the checker shares.

use super::profile::ContactField;
use super::{Billing, BuildResult, Contact, MetadataBuildError, Organization, SpProfile};

pub(crate) fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}...", s.get(..i).unwrap_or_default()),
        None => s.to_owned(),
    }
}

pub(super) fn validate_organization(org: &Organization) -> BuildResult<()> {
    if org.name.trim().is_empty() {
        return Err(MetadataBuildError::Missing("organization name"));
    }
    if org.display_name.trim().is_empty() {
        return Err(MetadataBuildError::Missing("organization display name"));
    }
    if !is_http_url(&org.url) {
        return Err(MetadataBuildError::Invalid(
            "organization url (an http(s) url)",
        ));
    }
    match (&org.name_en, &org.display_name_en, &org.url_en) {
        (None, None, None) => Ok(()),
        (Some(n), Some(d), Some(u)) => {
            if n.trim().is_empty() || d.trim().is_empty() || !is_http_url(u) {
                Err(MetadataBuildError::Invalid(
                    "english organization data (name, display name and an http(s) url)",
                ))
            } else {
                Ok(())
            }
        }
        _ => Err(MetadataBuildError::Invalid(
            "english organization data (give name, display name and url together)",
        )),
    }
}

pub(super) fn validate_contact(profile: SpProfile, c: &Contact) -> BuildResult<()> {
    if c.email.trim().is_empty() {
        return Err(MetadataBuildError::Missing("contact email address"));
    }
    if !is_email(&c.email) {
        return Err(MetadataBuildError::Invalid("contact email address"));
    }
    if let Some(phone) = &c.phone {
        if !is_phone(phone) {
            return Err(MetadataBuildError::Invalid(
                "contact telephone number (international format without spaces, +39...)",
            ));
        }
    }
    // Only what the profile writes is checked (a CIE public contact carries no VAT number
    // or fiscal code): first the legal person's identifiers, then, in document order,
    // each required element and each value's shape.
    let rules = profile.rules();
    let fields = || {
        rules
            .contact_extensions
            .iter()
            .filter_map(|local| Some((*local, rules.family.element(local)?.field?)))
    };
    for (_, field) in fields().filter(|(_, f)| f.is_identifier()) {
        check_shape(c, field)?;
    }
    for (local, field) in fields() {
        for req in rules.requirements {
            if req.any_of.last() == Some(&local)
                && !req.any_of.iter().any(|l| {
                    rules
                        .family
                        .element(l)
                        .and_then(|e| e.field)
                        .is_some_and(|f| is_present(c, f))
                })
            {
                return Err(MetadataBuildError::Missing(req.missing));
            }
        }
        if !field.is_identifier() {
            check_shape(c, field)?;
        }
    }
    Ok(())
}

/// The contact's value for `field`, as given.
fn raw(c: &Contact, field: ContactField) -> Option<&String> {
    match field {
        ContactField::IpaCode => c.ipa_code.as_ref(),
        ContactField::IpaCategory => c.ipa_category.as_ref(),
        ContactField::VatNumber => c.vat_number.as_ref(),
        ContactField::FiscalCode => c.fiscal_code.as_ref(),
        ContactField::Municipality => c.municipality.as_ref(),
        ContactField::Province => c.province.as_ref(),
        ContactField::Nace2Codes => None,
    }
}

/// Whether the contact gives `field` (a non-blank value; at least one NACE2 code).
fn is_present(c: &Contact, field: ContactField) -> bool {
    match field {
        ContactField::Nace2Codes => !c.nace2_codes.is_empty(),
        _ => raw(c, field).is_some_and(|v| !v.trim().is_empty()),
    }
}

fn trimmed(v: &str) -> Option<&str> {
    Some(v.trim()).filter(|t| !t.is_empty())
}

/// The values written for `field`: trimmed, blanks left out.
pub(super) fn field_values(c: &Contact, field: ContactField) -> Vec<&str> {
    match field {
        ContactField::Nace2Codes => c.nace2_codes.iter().filter_map(|v| trimmed(v)).collect(),
        _ => raw(c, field).and_then(|v| trimmed(v)).into_iter().collect(),
    }
}

/// The shape of a given value of `field`.
fn check_shape(c: &Contact, field: ContactField) -> BuildResult<()> {
    let (ok, what) = match field {
        ContactField::Nace2Codes => (
            c.nace2_codes.iter().all(|n| is_token(n)),
            "contact nace2 code (no spaces)",
        ),
        _ => {
            let Some(v) = raw(c, field) else {
                return Ok(());
            };
            match field {
                ContactField::VatNumber => (
                    is_vat_number(v),
                    "contact vat number (country code then number, no spaces: IT12345678901)",
                ),
                ContactField::Province => (
                    is_upper_code(v, 2),
                    "contact province (two upper-case letters)",
                ),
                ContactField::IpaCode => (is_token(v), "contact ipa code (no spaces)"),
                ContactField::IpaCategory => (is_token(v), "contact ipa category (no spaces)"),
                ContactField::FiscalCode => (is_token(v), "contact fiscal code (no spaces)"),
                ContactField::Municipality => (
                    is_token(v),
                    "contact municipality (cadastral code, no spaces)",
                ),
                ContactField::Nace2Codes => (true, ""),
            }
        }
    };
    if ok {
        Ok(())
    } else {
        Err(MetadataBuildError::Invalid(what))
    }
}

pub(super) fn validate_billing(b: &Billing) -> BuildResult<()> {
    let has_vat = !b.vat_code.trim().is_empty();
    if has_vat {
        if !is_upper_code(&b.vat_country, 2) {
            return Err(MetadataBuildError::Invalid(
                "billing vat country (two upper-case letters)",
            ));
        }
        if b.vat_code.chars().count() > 28 || !is_token(&b.vat_code) {
            return Err(MetadataBuildError::Invalid(
                "billing vat code (1 to 28 characters, no spaces)",
            ));
        }
    }
    match &b.fiscal_code {
        Some(fc) => {
            let n = fc.chars().count();
            if !(11..=16).contains(&n)
                || !fc
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
            {
                return Err(MetadataBuildError::Invalid(
                    "billing fiscal code (11 to 16 upper-case letters and digits)",
                ));
            }
        }
        None if !has_vat => {
            return Err(MetadataBuildError::Missing(
                "billing vat code or fiscal code",
            ))
        }
        None => {}
    }
    if !is_latin(&b.company_name, 80) {
        return Err(MetadataBuildError::Invalid(
            "billing company name (1 to 80 latin-1 characters)",
        ));
    }
    if !is_latin(&b.address, 60) {
        return Err(MetadataBuildError::Invalid(
            "billing address (1 to 60 latin-1 characters)",
        ));
    }
    if let Some(n) = &b.number {
        if n.is_empty() || n.len() > 8 || !n.chars().all(|c| c.is_ascii() && c != '\n') {
            return Err(MetadataBuildError::Invalid(
                "billing street number (1 to 8 ascii characters)",
            ));
        }
    }
    if b.postal_code.len() != 5 || !b.postal_code.chars().all(|c| c.is_ascii_digit()) {
        return Err(MetadataBuildError::Invalid(
            "billing postal code (5 digits)",
        ));
    }
    if !is_latin(&b.municipality, 60) {
        return Err(MetadataBuildError::Invalid(
            "billing municipality (1 to 60 latin-1 characters)",
        ));
    }
    if let Some(p) = &b.province {
        if !is_upper_code(p, 2) {
            return Err(MetadataBuildError::Invalid(
                "billing province (two upper-case letters)",
            ));
        }
    }
    if !is_upper_code(&b.country, 2) {
        return Err(MetadataBuildError::Invalid(
            "billing country (two upper-case letters)",
        ));
    }
    if !is_email(&b.email) {
        return Err(MetadataBuildError::Invalid("billing email address"));
    }
    Ok(())
}

// ---- value shapes (shared with the checker) ----

/// An http(s) URL with a host and no whitespace.
pub(crate) fn is_http_url(s: &str) -> bool {
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"));
    match rest {
        Some(r) => {
            let host = r.split(['/', '?', '#']).next().unwrap_or_default();
            !host.is_empty() && !s.chars().any(char::is_whitespace)
        }
        None => false,
    }
}

/// The e-mail shape spid-sp-test accepts: `[\w.-]+@[\w.-]+\.\w{2,8}`.
pub(crate) fn is_email(s: &str) -> bool {
    let word = |c: char| c.is_alphanumeric() || c == '_';
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    let Some((_, tld)) = domain.rsplit_once('.') else {
        return false;
    };
    !local.is_empty()
        && local.chars().all(|c| word(c) || c == '.' || c == '-')
        && domain.chars().all(|c| word(c) || c == '.' || c == '-')
        && domain.len() > tld.len() + 1
        && (2..=8).contains(&tld.chars().count())
        && tld.chars().all(word)
}

/// `+` then 6 to 20 digits.
pub(crate) fn is_phone(s: &str) -> bool {
    s.strip_prefix('+')
        .is_some_and(|d| (6..=20).contains(&d.len()) && d.chars().all(|c| c.is_ascii_digit()))
}

/// Two upper-case letters (ISO 3166) then at least one letter or digit, no spaces.
pub(crate) fn is_vat_number(s: &str) -> bool {
    s.get(..2).is_some_and(|p| is_upper_code(p, 2))
        && s.len() > 2
        && s.len() <= 30
        && s.chars().all(|c| c.is_ascii_alphanumeric())
}

/// Exactly `n` upper-case ASCII letters.
pub(crate) fn is_upper_code(s: &str, n: usize) -> bool {
    s.len() == n && s.chars().all(|c| c.is_ascii_uppercase())
}

/// Non-empty, at most 64 characters, no whitespace.
pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty() && s.chars().count() <= 64 && !s.chars().any(char::is_whitespace)
}

/// 1 to `max` Basic Latin / Latin-1 characters, no control characters (fpa XSD).
fn is_latin(s: &str, max: usize) -> bool {
    let n = s.chars().count();
    (1..=max).contains(&n)
        && s.chars()
            .all(|c| (' '..='\u{ff}').contains(&c) && !c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_shapes() {
        assert!(is_email("spid@comune.forli.fc.it"));
        assert!(is_email("a.b-c_d@x-y.it"));
        assert!(!is_email("spid+x@comune.it"));
        assert!(!is_email("no-at.it"));
        assert!(!is_email("a@it"));
        assert!(!is_email("a @b.it"));
        assert!(is_phone("+390612345678"));
        assert!(!is_phone("+39 06 1234"));
        assert!(!is_phone("0612345678"));
        assert!(is_vat_number("IT12345678901"));
        assert!(!is_vat_number("12345678901"));
        assert!(!is_vat_number("IT 1234"));
        assert!(is_http_url("https://sp.example.it/spid"));
        assert!(!is_http_url("https:///x"));
        assert!(!is_http_url("ftp://x"));
        assert_eq!(truncate("abcdef", 3), "abc...");
        assert_eq!(truncate("abc", 3), "abc");
    }
}
