//! The SP description: one file (JSON or TOML) that says everything about the SP — its
//! entityID and endpoints, its key files, its metadata (profile, organization, contact,
//! billing) and its certificate subject — from which the library builds the
//! [`SpConfig`], the [`SpMetadata`] and the [`CertificateRequest`]. The `spid-sp`
//! command line reads the same file (`keygen --config`, `metadata --config`).
//!
//! See [`SpDescription`] for the format.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::certificates::{CertificateError, CertificateRequest, Sector};
use crate::config::{ConfigError, SpConfig};
use crate::dsig::{KeyError, SigningKey};
use crate::metadata::{Billing, Contact, Organization, SpMetadata, SpProfile};
use crate::saml::Binding;

/// Largest file [`SpDescription::load`] and [`SpDescription::signing_key`] read.
const MAX_FILE: u64 = 1024 * 1024;

/// Everything about one SP, as a file. Field names are those of the `spid-sp` config file
/// (`docs/cli.md`); unknown fields are refused, at every level.
///
/// Every field is optional when parsing: what a use needs is checked by that use
/// ([`SpDescription::sp_config`] needs `entity_id`, [`SpDescription::sp_metadata`] needs
/// `metadata`, [`SpDescription::signing_key`] needs `key_file` and `certificate_file`).
///
/// | field | meaning |
/// | --- | --- |
/// | `entity_id` | the SP entityID |
/// | `key_file`, `certificate_file` | PEM files of the signing key and its certificate; [`SpDescription::load`] resolves them relative to the description file |
/// | `published_certificate_files` | optional PEM certificates listed in the metadata beside the signing one during a key rollover ([`crate::SpConfigBuilder::also_publish`]); resolved the same way |
/// | `assertion_consumer_services` | URLs; the first is index 0, the default |
/// | `single_logout_services` | `{binding, url}`; `binding` is `redirect`, `post`, `http-redirect`, `http-post` or a SAML binding URI |
/// | `attribute_services` | `{index, name, attributes}` |
/// | `clock_skew_secs`, `request_lifetime_secs`, `require_response_signature`, `require_identity_key` | optional [`crate::SpConfigBuilder`] settings (defaults: 90, 900, false, true) |
/// | `metadata` | `{profile, organization, contact, billing, valid_for_days}`: [`MetadataDescription`] |
/// | `certificate` | optional certificate subject overrides: [`CertificateDescription`] |
///
/// The same SP in JSON and in TOML:
///
/// ```
/// use spid_sp::SpDescription;
///
/// let json = r#"{
///   "entity_id": "https://servizi.comune.forli.fc.it/spid",
///   "key_file": "keys/key.pem",
///   "certificate_file": "keys/crt.pem",
///   "assertion_consumer_services": ["https://servizi.comune.forli.fc.it/spid/acs"],
///   "single_logout_services": [
///     {"binding": "redirect", "url": "https://servizi.comune.forli.fc.it/spid/slo"}
///   ],
///   "attribute_services": [
///     {"index": 0, "name": "Servizi online", "attributes": ["fiscalNumber", "name", "familyName"]}
///   ],
///   "metadata": {
///     "profile": "spid-sp-public",
///     "organization": {"name": "Comune di Forlì", "display_name": "Comune di Forlì",
///                      "url": "https://www.comune.forli.fc.it"},
///     "contact": {"email": "spid@comune.forli.fc.it", "phone": "+390543712111", "ipa_code": "c_d704"}
///   },
///   "certificate": {"locality": "Forlì"}
/// }"#;
/// let toml = r#"
/// entity_id = "https://servizi.comune.forli.fc.it/spid"
/// key_file = "keys/key.pem"
/// certificate_file = "keys/crt.pem"
/// assertion_consumer_services = ["https://servizi.comune.forli.fc.it/spid/acs"]
///
/// [[single_logout_services]]
/// binding = "redirect"
/// url = "https://servizi.comune.forli.fc.it/spid/slo"
///
/// [[attribute_services]]
/// index = 0
/// name = "Servizi online"
/// attributes = ["fiscalNumber", "name", "familyName"]
///
/// [metadata]
/// profile = "spid-sp-public"
/// organization = { name = "Comune di Forlì", display_name = "Comune di Forlì", url = "https://www.comune.forli.fc.it" }
/// contact = { email = "spid@comune.forli.fc.it", phone = "+390543712111", ipa_code = "c_d704" }
///
/// [certificate]
/// locality = "Forlì"
/// "#;
/// let a = SpDescription::from_json_str(json)?;
/// let b = SpDescription::from_toml_str(toml)?;
/// assert_eq!(a, b);
/// let metadata = a.sp_metadata()?; // with a.sp_config(key)?: metadata.to_xml(&config)
/// assert_eq!(metadata.contact.ipa_code.as_deref(), Some("c_d704"));
/// # Ok::<(), spid_sp::DescriptionError>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpDescription {
    /// The SP entityID.
    pub entity_id: Option<String>,
    /// PEM file of the signing key.
    pub key_file: Option<PathBuf>,
    /// PEM file of the signing key's certificate.
    pub certificate_file: Option<PathBuf>,
    /// PEM certificates listed in the metadata beside the signing one (SP key rollover:
    /// the next certificate before the switch, the previous one after it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub published_certificate_files: Vec<PathBuf>,
    /// AssertionConsumerService URLs: the first is index 0 (the default).
    #[serde(default)]
    pub assertion_consumer_services: Vec<String>,
    /// SingleLogoutServices.
    #[serde(default)]
    pub single_logout_services: Vec<LogoutServiceDescription>,
    /// AttributeConsumingServices.
    #[serde(default)]
    pub attribute_services: Vec<AttributeServiceDescription>,
    /// The allowed clock skew in seconds (default 90).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock_skew_secs: Option<i64>,
    /// How long a pending login stays valid, in seconds (default 900).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_lifetime_secs: Option<i64>,
    /// Require the Response signature as well as the Assertion's (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_response_signature: Option<bool>,
    /// Require a fiscal code or eIDAS identifier in every login (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_identity_key: Option<bool>,
    /// What the SP metadata needs beyond the configuration.
    pub metadata: Option<MetadataDescription>,
    /// Certificate subject values that the rest of the description does not imply.
    pub certificate: Option<CertificateDescription>,
    /// How a deployment serving many SPs (`spid_sp::tenants`) routes requests to this
    /// one; ignored elsewhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<TenantDescription>,
    /// The aggregator of an aggregated entity (aggregator profiles only), inline; or see
    /// `aggregator_file`. See [`crate::tenant`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aggregator: Option<AggregatorDescription>,
    /// A file holding the `aggregator` table, shared by the aggregator's tenants;
    /// [`SpDescription::load`] resolves it relative to the description file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aggregator_file: Option<PathBuf>,
}

/// The `tenant` section: how a multi-tenant deployment routes requests to this SP (see
/// `docs/tenants.md`). The SP's endpoints are those of its ACS URL (`…/acs` → `…/slo`,
/// `…/login`, `…/metadata`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantDescription {
    /// `path` (default): the requests under [`TenantDescription::path`] on any host;
    /// `host`: every request whose `Host` is the ACS URL's host.
    pub route: Option<String>,
    /// The base path of a `path` tenant: the ACS URL's path without `/acs` by default; a
    /// parent of it to route the tenant's own pages too (e.g. `/t/comune-forli` for an
    /// ACS at `/t/comune-forli/spid/acs`).
    pub path: Option<String>,
}

/// The `aggregator` table of an aggregated entity's description (or the whole of a
/// shared aggregator file): [`crate::metadata::Aggregator`] with the validation
/// certificate as a PEM file, plus the key a tenant uses when it has none of its own.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AggregatorDescription {
    /// The aggregator's legal name (the aggregator contact's `md:Company`).
    pub company: String,
    /// Institutional mailbox.
    pub email: String,
    /// International format without spaces.
    pub phone: Option<String>,
    /// IPA code, when the aggregator is in IPA.
    pub ipa_code: Option<String>,
    /// VAT number with the country prefix.
    pub vat_number: Option<String>,
    /// Fiscal code.
    pub fiscal_code: Option<String>,
    /// PEM certificate published as `spid:KeyDescriptor use="spid:validation"` ("lite"
    /// variants).
    pub validation_certificate_file: Option<PathBuf>,
    /// The aggregator's signing key (PEM), used by a tenant without `key_file`.
    pub key_file: Option<PathBuf>,
    /// Its certificate (PEM).
    pub certificate_file: Option<PathBuf>,
}

impl AggregatorDescription {
    /// The certificate request of the aggregator's own key (the key its tenants sign with
    /// when they have none): the Avviso 29 v3 SP profile with the aggregator's identity
    /// (docs/aggregators.md). `commonName` and `organizationName` are `company`;
    /// `organizationIdentifier` is `PA:IT-<ipa_code>` (public), else `VATIT-…` or
    /// `CF:IT-…` (private); the sector, when `overrides` does not give it, is public when
    /// the aggregator has an IPA code. `uri` (`overrides.entity_id`: the aggregator's own
    /// URL) and `localityName` come from `overrides` (or are named missing).
    pub fn certificate_request(
        &self,
        overrides: &CertificateDescription,
    ) -> Result<CertificateRequest, DescriptionError> {
        let public = match overrides.sector.as_deref() {
            Some(s) => s.eq_ignore_ascii_case("public"),
            None => self.ipa_code.is_some(),
        };
        let as_sp = SpDescription {
            metadata: Some(MetadataDescription {
                profile: if public {
                    "spid-sp-public"
                } else {
                    "spid-sp-private"
                }
                .to_owned(),
                organization: Organization {
                    name: self.company.clone(),
                    display_name: self.company.clone(),
                    ..Default::default()
                },
                contact: Contact {
                    email: self.email.clone(),
                    ipa_code: self.ipa_code.clone(),
                    vat_number: self.vat_number.clone(),
                    fiscal_code: self.fiscal_code.clone(),
                    ..Default::default()
                },
                billing: None,
                valid_for_days: None,
            }),
            ..Default::default()
        };
        as_sp.certificate_request(overrides)
    }

    /// Resolves the file names relative to `dir`.
    pub(crate) fn resolve(&mut self, dir: &Path) {
        for f in [
            &mut self.validation_certificate_file,
            &mut self.key_file,
            &mut self.certificate_file,
        ] {
            if let Some(p) = f.as_mut() {
                *p = dir.join(&*p);
            }
        }
    }
}

/// A SingleLogoutService.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogoutServiceDescription {
    /// `redirect`, `post`, `http-redirect`, `http-post` (any case) or a SAML binding URI.
    pub binding: String,
    /// The absolute URL.
    pub url: String,
}

/// An AttributeConsumingService.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttributeServiceDescription {
    /// The metadata `index`.
    pub index: u16,
    /// The `ServiceName`.
    pub name: String,
    /// The attribute names.
    pub attributes: Vec<String>,
}

/// The `metadata` section: [`SpMetadata`] with the profile by name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetadataDescription {
    /// `spid-sp-public`, `spid-sp-private`, `cie-sp-public`, `cie-sp-private` or
    /// `ficep-eidas-sp`.
    pub profile: String,
    /// `md:Organization`.
    pub organization: Organization,
    /// The SP contact.
    pub contact: Contact,
    /// Invoicing data (required for `spid-sp-private`).
    pub billing: Option<Billing>,
    /// Adds `validUntil` = now + this many days.
    pub valid_for_days: Option<u32>,
}

/// The `certificate` section (also the shape of command-line overrides): each value,
/// when absent, comes from the rest of the description — see
/// [`SpDescription::certificate_request`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertificateDescription {
    /// `public` or `private`.
    pub sector: Option<String>,
    /// `commonName`.
    pub common_name: Option<String>,
    /// `organizationName`.
    pub organization_name: Option<String>,
    /// `uri`: the entityID.
    pub entity_id: Option<String>,
    /// `organizationIdentifier`.
    pub organization_identifier: Option<String>,
    /// `countryName` (default `IT`).
    pub country: Option<String>,
    /// `localityName`.
    pub locality: Option<String>,
    /// RSA key size (default 3072).
    pub key_bits: Option<u32>,
    /// Validity of a self-signed certificate in days (default 730).
    pub days: Option<u32>,
}

/// A description that cannot be read or used. Messages name the field, never its value
/// (except a binding name or a profile name, which are not personal data).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DescriptionError {
    /// A file could not be read.
    #[error("cannot read {path}: {reason}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why (`no such file`, `permission denied`, `not UTF-8 text`, ...).
        reason: String,
    },
    /// Not valid JSON or TOML, a value of the wrong type, an unknown field.
    #[error("invalid {format} at line {line} column {column}: {message}")]
    Syntax {
        /// `json` or `toml`.
        format: &'static str,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What the parser says (field names, expected types).
        message: String,
    },
    /// A field this use needs is absent.
    #[error("no `{0}`")]
    Missing(&'static str),
    /// A field has a value that cannot be used.
    #[error("`{field}`: {reason}")]
    Invalid {
        /// The field (`single_logout_services[1].binding`, `metadata.profile`, ...).
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// The configuration the description makes is refused.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The certificate request the description makes is refused.
    #[error(transparent)]
    Certificate(#[from] CertificateError),
    /// The key and certificate files do not make a signing key.
    #[error("{} / {}: {source}", key_file.display(), certificate_file.display())]
    Key {
        /// The key file.
        key_file: PathBuf,
        /// The certificate file.
        certificate_file: PathBuf,
        /// Why.
        source: KeyError,
    },
}

impl SpDescription {
    /// Parses a JSON description.
    pub fn from_json_str(text: &str) -> Result<SpDescription, DescriptionError> {
        serde_json::from_str(text).map_err(|e| DescriptionError::Syntax {
            format: "json",
            line: e.line(),
            column: e.column(),
            message: e
                .to_string()
                .split(" at line ")
                .next()
                .unwrap_or_default()
                .to_owned(),
        })
    }

    /// Parses a TOML description.
    pub fn from_toml_str(text: &str) -> Result<SpDescription, DescriptionError> {
        toml::from_str(text).map_err(|e| {
            let offset = e.span().map_or(0, |s| s.start);
            let before = text.get(..offset).unwrap_or(text);
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
            DescriptionError::Syntax {
                format: "toml",
                line,
                column,
                message: e.message().trim().to_owned(),
            }
        })
    }

    /// Reads a description file (at most 1 MiB): TOML when the name ends in `.toml`, JSON
    /// otherwise. `key_file` and `certificate_file` are resolved relative to the file's
    /// directory.
    pub fn load(path: impl AsRef<Path>) -> Result<SpDescription, DescriptionError> {
        let path = path.as_ref();
        let bytes = read_limited(path)?;
        let text = String::from_utf8(bytes).map_err(|_| DescriptionError::Read {
            path: path.to_path_buf(),
            reason: "not UTF-8 text".to_owned(),
        })?;
        let is_toml = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("toml"));
        let mut description = if is_toml {
            SpDescription::from_toml_str(&text)?
        } else {
            SpDescription::from_json_str(&text)?
        };
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        for file in [&mut description.key_file, &mut description.certificate_file] {
            if let Some(f) = file.as_mut() {
                *f = dir.join(&*f);
            }
        }
        for f in &mut description.published_certificate_files {
            *f = dir.join(&*f);
        }
        if let Some(f) = description.aggregator_file.as_mut() {
            *f = dir.join(&*f);
        }
        if let Some(a) = description.aggregator.as_mut() {
            a.resolve(&dir);
        }
        Ok(description)
    }

    /// The description with `{base_url}` replaced by `base_url` in the fields that hold
    /// URLs: `entity_id`, the ACS and SLO URLs, `metadata.organization.url` / `url_en` and
    /// `certificate.entity_id`. Nothing else is touched (a `{base_url}` in a name or a
    /// mailbox stays as written). It works on the parsed values, so a base URL can never
    /// change the file's structure. The `spid-sp gateway` and the demo SP use it for
    /// descriptions written before their public URL is known.
    #[must_use]
    pub fn with_base_url(mut self, base_url: &str) -> SpDescription {
        const BASE_URL: &str = "{base_url}";
        let sub = |s: &mut String| {
            if s.contains(BASE_URL) {
                *s = s.replace(BASE_URL, base_url);
            }
        };
        if let Some(id) = self.entity_id.as_mut() {
            sub(id);
        }
        self.assertion_consumer_services.iter_mut().for_each(sub);
        for slo in &mut self.single_logout_services {
            sub(&mut slo.url);
        }
        if let Some(m) = self.metadata.as_mut() {
            sub(&mut m.organization.url);
            if let Some(u) = m.organization.url_en.as_mut() {
                sub(u);
            }
        }
        if let Some(id) = self.certificate.as_mut().and_then(|c| c.entity_id.as_mut()) {
            sub(id);
        }
        self
    }

    /// Reads `key_file` and `certificate_file` (PEM, at most 1 MiB each) into the
    /// signing key.
    pub fn signing_key(&self) -> Result<SigningKey, DescriptionError> {
        let key_file = self
            .key_file
            .as_ref()
            .ok_or(DescriptionError::Missing("key_file"))?;
        let certificate_file = self
            .certificate_file
            .as_ref()
            .ok_or(DescriptionError::Missing("certificate_file"))?;
        let key = read_limited(key_file)?;
        let cert = read_limited(certificate_file)?;
        SigningKey::from_pem(&key, &cert).map_err(|source| DescriptionError::Key {
            key_file: key_file.clone(),
            certificate_file: certificate_file.clone(),
            source,
        })
    }

    /// The validated [`SpConfig`] with `key` as the signing key (and the
    /// `published_certificate_files`, read here, listed beside it).
    pub fn sp_config(&self, key: SigningKey) -> Result<SpConfig, DescriptionError> {
        let entity_id = self
            .entity_id
            .clone()
            .ok_or(DescriptionError::Missing("entity_id"))?;
        let mut builder = SpConfig::builder(entity_id, key);
        for (i, path) in self.published_certificate_files.iter().enumerate() {
            let pem = read_limited(path)?;
            let cert =
                openssl::x509::X509::from_pem(&pem).map_err(|_| DescriptionError::Invalid {
                    field: format!("published_certificate_files[{i}]"),
                    reason: "not a PEM certificate".to_owned(),
                })?;
            builder = builder.also_publish(&cert);
        }
        for url in &self.assertion_consumer_services {
            builder = builder.assertion_consumer_service(url.clone());
        }
        for (i, slo) in self.single_logout_services.iter().enumerate() {
            let binding = parse_binding(&slo.binding).ok_or_else(|| DescriptionError::Invalid {
                field: format!("single_logout_services[{i}].binding"),
                reason: format!(
                    "unknown binding {:?} (redirect, post or a SAML binding URI)",
                    slo.binding.chars().take(80).collect::<String>()
                ),
            })?;
            builder = builder.logout_service(binding, slo.url.clone());
        }
        for s in &self.attribute_services {
            let names: Vec<&str> = s.attributes.iter().map(String::as_str).collect();
            builder = builder.attribute_service(s.index, s.name.clone(), &names);
        }
        if let Some(secs) = self.clock_skew_secs {
            builder = builder.clock_skew_secs(secs);
        }
        if let Some(secs) = self.request_lifetime_secs {
            builder = builder.request_lifetime_secs(secs);
        }
        if let Some(yes) = self.require_response_signature {
            builder = builder.require_response_signature(yes);
        }
        if let Some(yes) = self.require_identity_key {
            builder = builder.require_identity_key(yes);
        }
        Ok(builder.build()?)
    }

    /// The `metadata` section as [`SpMetadata`] (profile, organization, contact, billing,
    /// validity): pass it the [`SpDescription::sp_config`] to write the metadata.
    pub fn sp_metadata(&self) -> Result<SpMetadata, DescriptionError> {
        let m = self
            .metadata
            .as_ref()
            .ok_or(DescriptionError::Missing("metadata"))?;
        Ok(SpMetadata {
            profile: parse_profile(&m.profile)?,
            organization: m.organization.clone(),
            contact: m.contact.clone(),
            billing: m.billing.clone(),
            valid_for_days: m.valid_for_days,
        })
    }

    /// The certificate request for this SP, checked ([`CertificateRequest::validate`]).
    /// Each value comes from `overrides` (e.g. command-line flags), else the `certificate`
    /// section, else what the rest of the description implies: the sector from the
    /// metadata profile, `uri` from `entity_id`, `commonName` and `organizationName` from
    /// the organization's display name and name, `organizationIdentifier` from the
    /// contact (`PA:IT-<ipa_code>` public; `VATIT-<vat_number>` or
    /// `CF:IT-<fiscal_code>` private), `localityName` from the billing municipality.
    /// [`DescriptionError::Missing`] names the `certificate.…` field nothing gives.
    pub fn certificate_request(
        &self,
        overrides: &CertificateDescription,
    ) -> Result<CertificateRequest, DescriptionError> {
        let subject = self.certificate.clone().unwrap_or_default();
        let meta = self.metadata.as_ref();
        let profile = meta.map(|m| parse_profile(&m.profile)).transpose()?;
        let sector = match overrides.sector.as_ref().or(subject.sector.as_ref()) {
            Some(s) => s.parse::<Sector>().map_err(|_| DescriptionError::Invalid {
                field: "certificate.sector".to_owned(),
                reason: "must be public or private".to_owned(),
            })?,
            None => match profile {
                Some(p) if p.is_public() => Sector::Public,
                Some(_) => Sector::Private,
                None => return Err(DescriptionError::Missing("certificate.sector")),
            },
        };
        let contact = meta.map(|m| &m.contact);
        let implied_id = contact.and_then(|c| match sector {
            Sector::Public => c.ipa_code.as_ref().map(|ipa| format!("PA:IT-{ipa}")),
            Sector::Private => c
                .vat_number
                .as_ref()
                .map(|v| format!("VATIT-{}", v.trim_start_matches("IT")))
                .or_else(|| c.fiscal_code.as_ref().map(|cf| format!("CF:IT-{cf}"))),
        });
        let pick = |over: &Option<String>,
                    section: &Option<String>,
                    implied: Option<String>,
                    field: &'static str| {
            over.clone()
                .or_else(|| section.clone())
                .or(implied)
                .ok_or(DescriptionError::Missing(field))
        };
        let mut req = CertificateRequest::new(
            sector,
            pick(
                &overrides.common_name,
                &subject.common_name,
                meta.map(|m| m.organization.display_name.clone()),
                "certificate.common_name",
            )?,
            pick(
                &overrides.organization_name,
                &subject.organization_name,
                meta.map(|m| m.organization.name.clone()),
                "certificate.organization_name",
            )?,
            pick(
                &overrides.entity_id,
                &subject.entity_id,
                self.entity_id.clone(),
                "certificate.entity_id",
            )?,
            pick(
                &overrides.organization_identifier,
                &subject.organization_identifier,
                implied_id,
                "certificate.organization_identifier",
            )?,
            pick(
                &overrides.locality,
                &subject.locality,
                meta.and_then(|m| m.billing.as_ref().map(|b| b.municipality.clone())),
                "certificate.locality",
            )?,
        );
        if let Some(c) = overrides.country.clone().or(subject.country) {
            req.country = c;
        }
        if let Some(bits) = overrides.key_bits.or(subject.key_bits) {
            req.key_bits = bits;
        }
        if let Some(days) = overrides.days.or(subject.days) {
            req.days = days;
        }
        req.validate()?;
        Ok(req)
    }
}

fn parse_profile(name: &str) -> Result<SpProfile, DescriptionError> {
    name.parse::<SpProfile>()
        .map_err(|e| DescriptionError::Invalid {
            field: "metadata.profile".to_owned(),
            reason: e.to_string(),
        })
}

fn parse_binding(name: &str) -> Option<Binding> {
    match name.to_ascii_lowercase().as_str() {
        "redirect" | "http-redirect" => Some(Binding::Redirect),
        "post" | "http-post" => Some(Binding::Post),
        _ => Binding::from_uri(name),
    }
}

pub(crate) fn read_limited(path: &Path) -> Result<Vec<u8>, DescriptionError> {
    use std::io::Read as _;
    let fail = |reason: String| DescriptionError::Read {
        path: path.to_path_buf(),
        reason,
    };
    let file = std::fs::File::open(path).map_err(|e| fail(io_reason(&e)))?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| fail(io_reason(&e)))?;
    if bytes.len() as u64 > MAX_FILE {
        return Err(fail(format!("larger than {MAX_FILE} bytes")));
    }
    Ok(bytes)
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_owned(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        _ => e.to_string().to_lowercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bindings() {
        assert_eq!(parse_binding("Redirect"), Some(Binding::Redirect));
        assert_eq!(parse_binding("HTTP-POST"), Some(Binding::Post));
        assert_eq!(
            parse_binding("urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"),
            Some(Binding::Redirect)
        );
        assert_eq!(parse_binding("artifact"), None);
    }

    #[test]
    fn base_url_is_replaced_in_url_fields_only() {
        let d = SpDescription::from_toml_str(
            "entity_id = \"{base_url}\"\nassertion_consumer_services = [\"{base_url}/spid/acs\"]\n\
             [[single_logout_services]]\nbinding = \"redirect\"\nurl = \"{base_url}/spid/slo\"\n\
             [certificate]\nentity_id = \"{base_url}\"\ncommon_name = \"{base_url}\"\n",
        )
        .unwrap();
        // Replaced in the parsed values: a hostile base URL cannot add fields.
        let hostile = "https://a.example.it\"\nkey_file = \"/etc/shadow";
        let d = d.with_base_url(hostile);
        assert_eq!(d.entity_id.as_deref(), Some(hostile));
        assert_eq!(
            d.assertion_consumer_services,
            [format!("{hostile}/spid/acs")]
        );
        assert_eq!(
            d.single_logout_services[0].url,
            format!("{hostile}/spid/slo")
        );
        assert_eq!(d.key_file, None);
        let c = d.certificate.unwrap();
        assert_eq!(c.entity_id.as_deref(), Some(hostile));
        assert_eq!(c.common_name.as_deref(), Some("{base_url}"));
    }

    #[test]
    fn toml_errors_have_a_position() {
        let e = SpDescription::from_toml_str("entity_id = \"x\"\nentityid = 1\n").unwrap_err();
        let DescriptionError::Syntax { line, message, .. } = &e else {
            panic!("{e:?}")
        };
        assert_eq!(*line, 2, "{e}");
        assert!(message.contains("unknown field"), "{e}");
    }

    const JSON: &str = r#"{
      "entity_id": "https://sp.example.it/spid",
      "assertion_consumer_services": ["https://sp.example.it/spid/acs"],
      "single_logout_services": [{"binding": "redirect", "url": "https://sp.example.it/spid/slo"}],
      "attribute_services": [{"index": 0, "name": "Servizi", "attributes": ["fiscalNumber"]}],
      "metadata": {
        "profile": "spid-sp-public",
        "organization": {"name": "Comune di Esempio", "display_name": "Esempio",
                         "url": "https://www.comune.esempio.it"},
        "contact": {"email": "spid@comune.esempio.it", "ipa_code": "c_x000"}
      }
    }"#;

    fn key() -> SigningKey {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/metadata");
        SigningKey::from_pem(
            &std::fs::read(format!("{dir}/test-only-sp.key.pem")).unwrap(),
            &std::fs::read(format!("{dir}/test-only-sp.crt.pem")).unwrap(),
        )
        .unwrap()
    }

    fn with(f: impl FnOnce(&mut SpDescription)) -> SpDescription {
        let mut d = SpDescription::from_json_str(JSON).unwrap();
        f(&mut d);
        d
    }

    #[test]
    fn errors_name_the_field() {
        let e = with(|d| d.entity_id = None).sp_config(key()).unwrap_err();
        assert_eq!(e, DescriptionError::Missing("entity_id"));
        assert_eq!(e.to_string(), "no `entity_id`");
        let e = with(|d| {
            d.single_logout_services.push(LogoutServiceDescription {
                binding: "artifact".into(),
                url: "https://sp.example.it/slo".into(),
            })
        })
        .sp_config(key())
        .unwrap_err();
        assert!(
            matches!(&e, DescriptionError::Invalid { field, .. } if field == "single_logout_services[1].binding"),
            "{e}"
        );
        let e = with(|d| {
            if let Some(m) = d.metadata.as_mut() {
                m.profile = "spid".into();
            }
        })
        .sp_metadata()
        .unwrap_err();
        assert!(e
            .to_string()
            .starts_with("`metadata.profile`: unknown sp metadata profile"));
        assert_eq!(
            with(|d| d.metadata = None).sp_metadata().unwrap_err(),
            DescriptionError::Missing("metadata")
        );
        assert_eq!(
            with(|d| d.key_file = None).signing_key().unwrap_err(),
            DescriptionError::Missing("key_file")
        );
        // Unknown fields are refused at every level, with their position.
        let typo = JSON.replace("\"ipa_code\"", "\"ipacode\"");
        let e = SpDescription::from_json_str(&typo).unwrap_err();
        assert!(
            matches!(&e, DescriptionError::Syntax { format: "json", line: 10, message, .. } if message.starts_with("unknown field `ipacode`")),
            "{e}"
        );
        let e = SpDescription::from_json_str(&JSON.replace("\"entity_id\"", "\"entityid\""))
            .unwrap_err();
        assert!(e.to_string().contains("unknown field `entityid`"), "{e}");
        assert!(SpDescription::from_toml_str("[metadata]\nprofile = 1\n").is_err());
    }

    #[test]
    fn optional_settings_reach_the_configuration() {
        let config = with(|_| {}).sp_config(key()).unwrap();
        assert_eq!(config.clock_skew_secs(), 90);
        assert_eq!(config.request_lifetime_secs(), 900);
        assert!(!config.require_response_signature);
        assert!(config.require_identity_key);
        let config = with(|d| {
            d.clock_skew_secs = Some(30);
            d.request_lifetime_secs = Some(600);
            d.require_response_signature = Some(true);
            d.require_identity_key = Some(false);
        })
        .sp_config(key())
        .unwrap();
        assert_eq!(config.clock_skew_secs(), 30);
        assert_eq!(config.request_lifetime_secs(), 600);
        assert!(config.require_response_signature);
        assert!(!config.require_identity_key);
        assert!(matches!(
            with(|d| d.clock_skew_secs = Some(3600)).sp_config(key()),
            Err(DescriptionError::Config(ConfigError::Invalid(_)))
        ));
        let toml = "entity_id = \"https://sp.example.it/spid\"\nclock_skew_secs = 30\nrequire_identity_key = false\n";
        let d = SpDescription::from_toml_str(toml).unwrap();
        assert_eq!(d.clock_skew_secs, Some(30));
        assert_eq!(d.require_identity_key, Some(false));
    }

    #[test]
    fn certificate_request_from_the_description() {
        let d = with(|d| {
            d.certificate = Some(CertificateDescription {
                locality: Some("Roma".into()),
                ..Default::default()
            })
        });
        let req = d
            .certificate_request(&CertificateDescription::default())
            .unwrap();
        assert_eq!(req.sector, Sector::Public);
        assert_eq!(req.organization_identifier, "PA:IT-c_x000");
        assert_eq!(req.common_name, "Esempio");
        assert_eq!(req.organization_name, "Comune di Esempio");
        assert_eq!(req.entity_id, "https://sp.example.it/spid");
        assert_eq!(
            (req.country.as_str(), req.key_bits, req.days),
            ("IT", 3072, 730)
        );
        // Overrides first; the sector decides the identifier form.
        let over = CertificateDescription {
            sector: Some("private".into()),
            organization_identifier: Some("VATIT-12345678901".into()),
            key_bits: Some(2048),
            ..Default::default()
        };
        let req = d.certificate_request(&over).unwrap();
        assert_eq!(req.sector, Sector::Private);
        assert_eq!(req.organization_identifier, "VATIT-12345678901");
        assert_eq!(req.key_bits, 2048);
        // What nothing gives is named; what is wrong is the certificate's own error.
        assert_eq!(
            with(|_| {}).certificate_request(&CertificateDescription::default()),
            Err(DescriptionError::Missing("certificate.locality"))
        );
        assert_eq!(
            SpDescription::default().certificate_request(&CertificateDescription::default()),
            Err(DescriptionError::Missing("certificate.sector"))
        );
        let bad = CertificateDescription {
            sector: Some("both".into()),
            ..Default::default()
        };
        assert!(matches!(
            d.certificate_request(&bad),
            Err(DescriptionError::Invalid { field, .. }) if field == "certificate.sector"
        ));
        let bad = CertificateDescription {
            key_bits: Some(1024),
            ..Default::default()
        };
        assert!(matches!(
            d.certificate_request(&bad),
            Err(DescriptionError::Certificate(CertificateError::Invalid {
                field: "key size",
                ..
            }))
        ));
    }

    #[test]
    fn load_reads_bounded_utf8_files() {
        let dir = std::env::temp_dir().join(format!("spid-sp-description-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let e = SpDescription::load(dir.join("missing.json")).unwrap_err();
        assert!(e.to_string().ends_with(": no such file"), "{e}");
        std::fs::write(dir.join("big.json"), vec![b' '; (MAX_FILE + 1) as usize]).unwrap();
        let e = SpDescription::load(dir.join("big.json")).unwrap_err();
        assert!(e.to_string().contains("larger than"), "{e}");
        std::fs::write(dir.join("latin1.toml"), b"entity_id = \"\xe0\"\n").unwrap();
        let e = SpDescription::load(dir.join("latin1.toml")).unwrap_err();
        assert!(e.to_string().ends_with("not UTF-8 text"), "{e}");
        std::fs::write(dir.join("sp.TOML"), "key_file = \"k.pem\"\n").unwrap();
        let d = SpDescription::load(dir.join("sp.TOML")).unwrap();
        assert_eq!(d.key_file, Some(dir.join("k.pem")));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
