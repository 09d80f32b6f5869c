//! SP configuration: built once, validated, then shared by every login (with the `config`
//! feature, also loaded from a description file: `SpDescription`).

use crate::dsig::SigningKey;
use crate::ids::EntityId;
use crate::saml::Binding;
use crate::xml::Limits;

/// A configuration the SDK refuses to run with.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A required item is missing.
    #[error("configuration incomplete: {0}")]
    Missing(&'static str),
    /// An item has an invalid value.
    #[error("invalid configuration: {0}")]
    Invalid(&'static str),
    /// Two identity providers with the same entityID: which keys to trust would depend
    /// on the order they were given in.
    #[error("duplicate identity provider entityID: {0}")]
    DuplicateIdp(String),
}

/// An AssertionConsumerService of the SP (always HTTP-POST).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AssertionConsumerService {
    /// The metadata `index`.
    pub index: u16,
    /// The absolute URL.
    pub url: String,
}

/// An AttributeConsumingService: a set of SPID attributes requested under one index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttributeService {
    /// The metadata `index` (eIDAS node: 99 minimum set, 100 full set).
    pub index: u16,
    /// The `ServiceName` (Italian).
    pub name: String,
    /// The SPID attribute names (`fiscalNumber`, `name`, ...).
    pub attributes: Vec<String>,
}

/// A SingleLogoutService of the SP.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogoutService {
    /// The binding.
    pub binding: Binding,
    /// The absolute URL.
    pub url: String,
}

/// The validated SP configuration. Build it with [`SpConfig::builder`].
#[derive(Clone, Debug)]
pub struct SpConfig {
    pub(crate) entity_id: EntityId,
    pub(crate) signing_key: SigningKey,
    pub(crate) acs: Vec<AssertionConsumerService>,
    pub(crate) attribute_services: Vec<AttributeService>,
    pub(crate) slo: Vec<LogoutService>,
    pub(crate) clock_skew_secs: i64,
    pub(crate) request_lifetime_secs: i64,
    pub(crate) require_response_signature: bool,
    pub(crate) require_identity_key: bool,
    pub(crate) min_rsa_bits: u32,
    pub(crate) limits: Limits,
    pub(crate) published: Vec<PublishedCertificate>,
}

/// A certificate listed in the SP metadata beside the signing one (SP key rollover): the
/// next key before the switch, the previous one after it. Never used to sign.
#[derive(Clone, Debug)]
pub struct PublishedCertificate {
    base64: String,
    key: crate::dsig::VerificationKey,
}

impl PublishedCertificate {
    /// The certificate, base64 DER (as written in `ds:X509Certificate`).
    pub fn certificate_base64(&self) -> &str {
        &self.base64
    }
    /// Its public key, subject, fingerprint and `notAfter`.
    pub fn key(&self) -> &crate::dsig::VerificationKey {
        &self.key
    }
}

impl SpConfig {
    /// Starts a configuration: the entityID and the signing key are required.
    pub fn builder(entity_id: impl Into<String>, signing_key: SigningKey) -> SpConfigBuilder {
        SpConfigBuilder {
            bad_published: false,
            config: SpConfig {
                entity_id: EntityId::new(entity_id),
                signing_key,
                acs: Vec::new(),
                attribute_services: Vec::new(),
                slo: Vec::new(),
                clock_skew_secs: 90,
                request_lifetime_secs: 15 * 60,
                require_response_signature: false,
                require_identity_key: true,
                min_rsa_bits: 2048,
                limits: Limits::MESSAGE,
                published: Vec::new(),
            },
        }
    }

    /// The SP entityID.
    pub fn entity_id(&self) -> &EntityId {
        &self.entity_id
    }
    /// The signing key.
    pub fn signing_key(&self) -> &SigningKey {
        &self.signing_key
    }
    /// The AssertionConsumerServices (index 0 is the default).
    pub fn assertion_consumer_services(&self) -> &[AssertionConsumerService] {
        &self.acs
    }
    /// The AttributeConsumingServices.
    pub fn attribute_services(&self) -> &[AttributeService] {
        &self.attribute_services
    }
    /// The SingleLogoutServices.
    pub fn logout_services(&self) -> &[LogoutService] {
        &self.slo
    }
    /// The allowed clock skew, in seconds.
    pub fn clock_skew_secs(&self) -> i64 {
        self.clock_skew_secs
    }
    /// How long a pending login stays valid, in seconds.
    pub fn request_lifetime_secs(&self) -> i64 {
        self.request_lifetime_secs
    }
    /// The certificates the metadata lists beside the signing one
    /// ([`SpConfigBuilder::also_publish`]), in the order given.
    pub fn published_certificates(&self) -> &[PublishedCertificate] {
        &self.published
    }
    /// The ACS with this index.
    pub fn acs(&self, index: u16) -> Option<&AssertionConsumerService> {
        self.acs.iter().find(|a| a.index == index)
    }
}

/// Builder for [`SpConfig`].
#[derive(Debug)]
#[must_use]
pub struct SpConfigBuilder {
    config: SpConfig,
    bad_published: bool,
}

impl SpConfigBuilder {
    /// Adds an AssertionConsumerService; the first added gets index 0 (the default).
    pub fn assertion_consumer_service(mut self, url: impl Into<String>) -> Self {
        let index = u16::try_from(self.config.acs.len()).unwrap_or(u16::MAX);
        self.config.acs.push(AssertionConsumerService {
            index,
            url: url.into(),
        });
        self
    }

    /// Adds an AttributeConsumingService with an explicit index.
    pub fn attribute_service(
        mut self,
        index: u16,
        name: impl Into<String>,
        attributes: &[&str],
    ) -> Self {
        self.config.attribute_services.push(AttributeService {
            index,
            name: name.into(),
            attributes: attributes.iter().map(|s| (*s).to_owned()).collect(),
        });
        self
    }

    /// Adds a SingleLogoutService.
    pub fn logout_service(mut self, binding: Binding, url: impl Into<String>) -> Self {
        self.config.slo.push(LogoutService {
            binding,
            url: url.into(),
        });
        self
    }

    /// The allowed clock skew (default 90 s).
    pub fn clock_skew_secs(mut self, secs: i64) -> Self {
        self.config.clock_skew_secs = secs;
        self
    }

    /// How long a pending login stays valid (default 15 min).
    pub fn request_lifetime_secs(mut self, secs: i64) -> Self {
        self.config.request_lifetime_secs = secs;
        self
    }

    /// Require the Response signature as well as the Assertion's (default: the Assertion
    /// signature is mandatory and the Response one is verified whenever present).
    pub fn require_response_signature(mut self, yes: bool) -> Self {
        self.config.require_response_signature = yes;
        self
    }

    /// Require a fiscal code or eIDAS identifier in every login (default true).
    pub fn require_identity_key(mut self, yes: bool) -> Self {
        self.config.require_identity_key = yes;
        self
    }

    /// Lists `certificate` in the SP metadata as a second `KeyDescriptor use="signing"`
    /// beside the signing key's (SP key rollover, see docs/lifecycle.md): publish the
    /// **next** certificate while the old key still signs, then switch the signing key and
    /// publish the **previous** one until every IdP has reloaded the metadata. The
    /// certificate is never used to sign. [`SpConfigBuilder::build`] refuses one that is
    /// not RSA of at least 2048 bits, that is the signing certificate, or that is given
    /// twice; at most 3.
    pub fn also_publish(mut self, certificate: &openssl::x509::X509Ref) -> Self {
        let base64 = certificate
            .to_der()
            .map(|der| {
                use base64::Engine as _;
                base64::engine::general_purpose::STANDARD.encode(der)
            })
            .unwrap_or_default();
        match crate::dsig::VerificationKey::from_x509(certificate) {
            Ok(key) if !base64.is_empty() => self
                .config
                .published
                .push(PublishedCertificate { base64, key }),
            // Recorded as unusable: build() refuses it.
            _ => self.bad_published = true,
        }
        self
    }

    /// XML limits for incoming messages (default [`Limits::MESSAGE`]).
    pub fn limits(mut self, limits: Limits) -> Self {
        self.config.limits = limits;
        self
    }

    /// Validates and returns the configuration.
    pub fn build(self) -> Result<SpConfig, ConfigError> {
        let c = &self.config;
        if c.entity_id.as_str().trim().is_empty() {
            return Err(ConfigError::Missing("entity ID"));
        }
        if c.acs.is_empty() {
            return Err(ConfigError::Missing("an assertion consumer service"));
        }
        if c.attribute_services.is_empty() {
            return Err(ConfigError::Missing("an attribute consuming service"));
        }
        let mut indexes: Vec<u16> = c.attribute_services.iter().map(|s| s.index).collect();
        indexes.sort_unstable();
        indexes.dedup();
        if indexes.len() != c.attribute_services.len() {
            return Err(ConfigError::Invalid(
                "attribute service indexes must be unique",
            ));
        }
        if c.attribute_services.iter().any(|s| s.attributes.is_empty()) {
            return Err(ConfigError::Invalid(
                "an attribute service requests no attribute",
            ));
        }
        if self.bad_published {
            return Err(ConfigError::Invalid(
                "a published certificate is not a readable RSA certificate",
            ));
        }
        check_published(c)?;
        if c.signing_key.bits() < 2048 {
            return Err(ConfigError::Invalid(
                "the signing key must be RSA with at least 2048 bits",
            ));
        }
        if !(0..=600).contains(&c.clock_skew_secs) {
            return Err(ConfigError::Invalid(
                "clock skew must be between 0 and 600 seconds",
            ));
        }
        if !(30..=86_400).contains(&c.request_lifetime_secs) {
            return Err(ConfigError::Invalid(
                "request lifetime must be between 30 s and 1 day",
            ));
        }
        Ok(self.config)
    }
}

/// At most three published certificates, each RSA ≥ 2048, none the signing certificate,
/// none twice.
fn check_published(c: &SpConfig) -> Result<(), ConfigError> {
    if c.published.len() > 3 {
        return Err(ConfigError::Invalid(
            "at most 3 certificates can be published beside the signing one",
        ));
    }
    let signing = c.signing_key.verification_key().ok();
    let mut seen: Vec<&[u8; 32]> = signing.iter().map(|k| k.fingerprint()).collect();
    for p in &c.published {
        if p.key.bits() < 2048 {
            return Err(ConfigError::Invalid(
                "a published certificate must be RSA with at least 2048 bits",
            ));
        }
        if seen.contains(&p.key.fingerprint()) {
            return Err(ConfigError::Invalid(
                "a published certificate is the signing certificate or is given twice",
            ));
        }
        seen.push(p.key.fingerprint());
    }
    Ok(())
}
