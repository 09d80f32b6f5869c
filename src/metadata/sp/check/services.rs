//! AssertionConsumerService and AttributeConsumingService rules.

use crate::xml::Node;

use super::{md, nonempty, Checker};
use crate::metadata::sp::profile::DefaultAcs;
use crate::metadata::sp::validate::truncate;
use crate::metadata::sp::{NAME_FORMAT_BASIC, NAME_FORMAT_URI, XML_NS};
use crate::saml::{Binding, METADATA_NS};

impl Checker {
    pub(super) fn assertion_consumer_services(&mut self, sso: Node<'_, '_>) {
        let family = self.rules.family;
        let acss = md(sso, "AssertionConsumerService");
        if acss.is_empty() {
            self.err(
                "acs-missing",
                "no AssertionConsumerService (at least one is required)".into(),
            );
            return;
        }
        let mut indexes: Vec<u16> = Vec::new();
        let mut defaults: Vec<Option<u16>> = Vec::new();
        for acs in &acss {
            let index = acs
                .attribute("index")
                .and_then(|i| i.trim().parse::<u16>().ok());
            match index {
                None => self.err(
                    "acs-index",
                    "an AssertionConsumerService has no valid index (an unsignedShort)".into(),
                ),
                Some(i) if indexes.contains(&i) => self.err(
                    "acs-index-duplicate",
                    format!("two AssertionConsumerServices have index {i}"),
                ),
                Some(i) => indexes.push(i),
            }
            let binding = acs.attribute("Binding").and_then(Binding::from_uri);
            let ok = match binding {
                Some(Binding::Post) => true,
                Some(Binding::Redirect) => family.acs_redirect_allowed,
                _ => false,
            };
            if !ok {
                self.err(
                    "acs-binding",
                    if family.acs_redirect_allowed {
                        "the AssertionConsumerService Binding must be HTTP-POST or HTTP-Redirect"
                            .into()
                    } else {
                        "the AssertionConsumerService Binding must be HTTP-POST".into()
                    },
                );
            }
            self.url(
                "acs-location",
                "an AssertionConsumerService Location",
                acs.attribute("Location"),
            );
            if matches!(acs.attribute("isDefault"), Some("true" | "1")) {
                defaults.push(index);
            }
        }
        if family.default_acs == DefaultAcs::AtMostOne {
            if defaults.len() > 1 {
                self.err(
                    "acs-default",
                    "more than one AssertionConsumerService has isDefault=\"true\"".into(),
                );
            }
        } else if defaults.len() != 1 {
            self.err(
                "acs-default",
                "exactly one AssertionConsumerService must have isDefault=\"true\"".into(),
            );
        } else if defaults.first() != Some(&Some(0)) {
            self.err(
                "acs-default-index",
                "the default AssertionConsumerService must have index 0".into(),
            );
        }
    }

    pub(super) fn attribute_consuming_services(&mut self, sso: Node<'_, '_>) {
        let rules = self.rules;
        let services = md(sso, "AttributeConsumingService");
        if services.is_empty() {
            self.err(
                "attribute-service-missing",
                "no AttributeConsumingService (at least one is required)".into(),
            );
        }
        let mut indexes: Vec<u16> = Vec::new();
        for s in &services {
            let index = s
                .attribute("index")
                .and_then(|i| i.trim().parse::<u16>().ok());
            match index {
                None => self.err(
                    "attribute-service-index",
                    "an AttributeConsumingService has no valid index (an unsignedShort)".into(),
                ),
                Some(i) if indexes.contains(&i) => self.err(
                    "attribute-service-index-duplicate",
                    format!("two AttributeConsumingServices have index {i}"),
                ),
                Some(i) => indexes.push(i),
            }
            let label = index.map_or_else(|| "?".to_owned(), |i| i.to_string());
            self.order(*s, |n| {
                if n.tag_name().namespace() != Some(METADATA_NS) {
                    return None;
                }
                match n.tag_name().name() {
                    "ServiceName" => Some(0),
                    "ServiceDescription" => Some(1),
                    "RequestedAttribute" => Some(2),
                    _ => None,
                }
            });
            let names = md(*s, "ServiceName");
            if names.is_empty() || !names.iter().all(|n| nonempty(*n)) {
                self.err(
                    "service-name-missing",
                    format!("attribute service {label} needs a non-empty ServiceName"),
                );
            }
            if names
                .iter()
                .any(|n| n.attribute((XML_NS, "lang")).is_none())
            {
                self.err(
                    "service-name-lang",
                    format!("a ServiceName of attribute service {label} has no xml:lang"),
                );
            }
            let requested = md(*s, "RequestedAttribute");
            if requested.is_empty() {
                self.err(
                    "requested-attribute-missing",
                    format!("attribute service {label} requests no attribute"),
                );
            }
            let mut seen: Vec<&str> = Vec::new();
            for ra in &requested {
                let Some(name) = ra.attribute("Name") else {
                    self.err(
                        "requested-attribute-name-missing",
                        format!("a RequestedAttribute of attribute service {label} has no Name"),
                    );
                    continue;
                };
                let allowed = rules.allowed_attributes(index.unwrap_or(0));
                if !allowed.contains(&name) {
                    let why = rules.attribute_refusal(index);
                    self.err(
                        "requested-attribute-not-allowed",
                        format!(
                            "attribute {} in attribute service {label}: {why}",
                            truncate(name, 48)
                        ),
                    );
                }
                if seen.contains(&name) {
                    self.err(
                        "requested-attribute-duplicate",
                        format!(
                            "attribute {} is requested twice in attribute service {label}",
                            truncate(name, 48)
                        ),
                    );
                } else {
                    seen.push(name);
                }
                if let Some(f) = ra.attribute("NameFormat") {
                    if f != NAME_FORMAT_BASIC && f != NAME_FORMAT_URI {
                        self.err(
                            "requested-attribute-name-format",
                            format!("the RequestedAttribute NameFormat must be {NAME_FORMAT_BASIC} or {NAME_FORMAT_URI}"),
                        );
                    }
                }
            }
        }
        for reserved in rules.reserved_services {
            let (index, set) = (reserved.index, reserved.set);
            if !indexes.contains(&index) {
                self.err(
                    "eidas-service-missing",
                    format!("no AttributeConsumingService {index} (the eidas {set} attribute set)"),
                );
            }
        }
    }
}
