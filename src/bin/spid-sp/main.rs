//! `spid-sp`: SP certificates, SP metadata, the IdP registry, and message inspection and
//! verification from the command line. See `docs/cli.md`.
//!
//! Exit status: 0 success; 1 the thing checked is not valid (a rejected Response, a
//! non-compliant certificate, metadata with errors, a registry document that does not
//! verify); 2 the command could not run (bad arguments, unreadable file, malformed input).
#![forbid(unsafe_code)]
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::fmt::Write as _;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use openssl::pkey::PKey;
use openssl::x509::{X509Req, X509};
use serde_json::json;
use spid_sp::certificates::{self, CertificateRequest, Sector};
use spid_sp::metadata::{
    self, IdentityProvider, MetadataSource, Registry, RegistryTrust, SpProfile, VerifiedMetadata,
};
use spid_sp::{
    Binding, CertificateDescription, Clock, Comparison, DescriptionError, EntityId, FixedClock,
    Incoming, LoginError, PendingLogin, RelayState, RequestId, ServiceProvider, SigningKey,
    SpConfig, SpDescription, SpidLevel, SystemClock, Timestamp, VerificationKey,
};

/// Largest file the tool reads (metadata aggregates are ~120 KB today).
const MAX_FILE: u64 = 16 * 1024 * 1024;

#[derive(Parser)]
#[command(
    name = "spid-sp",
    version,
    about = "SPID / CIE ID / eIDAS service provider tool: certificates, metadata, IdP registry, message inspection and verification"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate an SP key with a self-signed certificate (public sector) or a CSR for
    /// AgID's CA (private sector), as Avviso SPID n.29 v3 requires.
    Keygen(KeygenArgs),
    /// Check a certificate or CSR against Avviso SPID n.29 v3 and list every problem.
    CertCheck(CertCheckArgs),
    /// Emit the SP's signed metadata from a config file, or `check` a metadata file.
    Metadata(MetadataArgs),
    /// Verify, list or fetch IdP metadata (SPID registry, CIE, eIDAS node).
    #[command(subcommand)]
    Registry(RegistryCommand),
    /// Decode a SAMLRequest/SAMLResponse (Redirect URL, POST form body, base64 or XML)
    /// WITHOUT verifying it.
    Inspect(InspectArgs),
    /// Verify a Response as the SP would: signature, issuer, audience, ACS, request ID,
    /// times, level. Prints the identity as JSON.
    Verify(VerifyArgs),
}

#[derive(Clone, Copy, ValueEnum)]
enum SectorArg {
    Public,
    Private,
}

impl From<SectorArg> for Sector {
    fn from(s: SectorArg) -> Sector {
        match s {
            SectorArg::Public => Sector::Public,
            SectorArg::Private => Sector::Private,
        }
    }
}

#[derive(Args)]
struct KeygenArgs {
    /// public (key + self-signed certificate) or private (key + CSR).
    #[arg(long, value_enum)]
    sector: Option<SectorArg>,
    /// Directory to write key.pem and crt.pem / csr.pem to (created if missing; existing
    /// files are never overwritten).
    #[arg(long)]
    out: PathBuf,
    /// JSON config file: subject data from its `certificate` section, else from
    /// `entity_id` and the `metadata` organization and contact.
    #[arg(long)]
    config: Option<PathBuf>,
    /// commonName: the short name (= metadata OrganizationDisplayName).
    #[arg(long)]
    common_name: Option<String>,
    /// organizationName: the full legal name (= metadata OrganizationName).
    #[arg(long)]
    org_name: Option<String>,
    /// uri: the SP entityID.
    #[arg(long)]
    entity_id: Option<String>,
    /// organizationIdentifier: PA:IT-<IPA code>, VATIT-<VAT number> or CF:IT-<fiscal code>.
    #[arg(long)]
    org_id: Option<String>,
    /// countryName (ISO 3166-1 alpha-2) [default: IT].
    #[arg(long)]
    country: Option<String>,
    /// localityName: the city of the registered office.
    #[arg(long)]
    locality: Option<String>,
    /// RSA key size: 2048, 3072 or 4096 [default: 3072].
    #[arg(long)]
    key_bits: Option<u32>,
    /// Validity of a self-signed certificate in days [default: 730].
    #[arg(long)]
    days: Option<u32>,
    /// Private sector: also write a self-signed crt.pem (test environments only; AgID's
    /// CA issues the production certificate from csr.pem).
    #[arg(long)]
    self_signed: bool,
}

#[derive(Args)]
struct CertCheckArgs {
    /// public or private.
    #[arg(long, value_enum)]
    sector: SectorArg,
    /// Check validity dates at this instant (xs:dateTime, or `now`) [default: now].
    #[arg(long)]
    at: Option<String>,
    /// A PEM certificate or CSR.
    file: PathBuf,
}

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
struct MetadataArgs {
    #[command(subcommand)]
    check: Option<MetadataCommand>,
    /// JSON config file (see docs/cli.md).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Write the metadata here instead of standard output.
    #[arg(long)]
    out: Option<PathBuf>,
    /// The instant used for validUntil (xs:dateTime) [default: now].
    #[arg(long)]
    at: Option<String>,
}

#[derive(Subcommand)]
enum MetadataCommand {
    /// Check an SP metadata file against our rules (SPID/CIE/eIDAS profiles).
    Check {
        /// spid-sp-public, spid-sp-private, cie-sp-public, cie-sp-private or ficep-eidas-sp.
        #[arg(long, default_value = "spid-sp-public")]
        profile: String,
        /// Check certificate expiry and validUntil at this instant (or `now`) [default: now].
        #[arg(long)]
        at: Option<String>,
        /// The metadata file.
        file: PathBuf,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum SourceArg {
    Spid,
    Cie,
    Eidas,
}

impl From<SourceArg> for MetadataSource {
    fn from(s: SourceArg) -> MetadataSource {
        match s {
            SourceArg::Spid => MetadataSource::SpidRegistry,
            SourceArg::Cie => MetadataSource::Cie,
            SourceArg::Eidas => MetadataSource::EidasNode,
        }
    }
}

#[derive(Args)]
struct PinArgs {
    /// PEM certificate(s) the SPID registry aggregate must be signed with (repeatable).
    #[arg(long = "spid-pin")]
    spid_pin: Vec<PathBuf>,
    /// PEM certificate(s) the eIDAS-node metadata must be signed with (repeatable).
    #[arg(long = "eidas-pin")]
    eidas_pin: Vec<PathBuf>,
    /// Also trust the pins of the snapshots committed in the repository (TESTS ONLY: the
    /// SPID one is AgID's test key, whose private key is public).
    #[arg(long)]
    snapshot_pins: bool,
}

#[derive(Subcommand)]
enum RegistryCommand {
    /// Verify one metadata document (signature against the pins, validUntil, IdPs).
    Verify {
        /// spid (registry aggregate), cie (unsigned) or eidas (eIDAS node).
        #[arg(long, value_enum)]
        source: SourceArg,
        #[command(flatten)]
        pins: PinArgs,
        /// Verify at this instant (xs:dateTime, or `now`) [default: now].
        #[arg(long)]
        at: Option<String>,
        /// The metadata file.
        file: PathBuf,
    },
    /// List the IdPs of verified metadata files with endpoints, keys and warnings.
    List {
        /// The SPID registry aggregate.
        #[arg(long)]
        spid: Option<PathBuf>,
        /// CIE ID metadata (unsigned).
        #[arg(long)]
        cie: Option<PathBuf>,
        /// eIDAS-node metadata.
        #[arg(long)]
        eidas: Option<PathBuf>,
        #[command(flatten)]
        pins: PinArgs,
        /// Verify and warn at this instant (xs:dateTime, or `now`) [default: now].
        #[arg(long)]
        at: Option<String>,
        /// Warn about certificates expiring within this many days.
        #[arg(long, default_value_t = 30)]
        warn_days: u32,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Download metadata, verify it, and write it only if it verifies.
    Fetch {
        /// spid, cie or eidas.
        #[arg(long, value_enum)]
        source: SourceArg,
        /// The http(s) URL.
        #[arg(long)]
        url: String,
        /// Where to write the verified document (replaced atomically).
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        pins: PinArgs,
        /// Download timeout in seconds.
        #[arg(long, default_value_t = 30)]
        timeout: u64,
        /// Verify at this instant (xs:dateTime, or `now`) [default: now].
        #[arg(long)]
        at: Option<String>,
        /// Tests only: allow plain http from a loopback host (127.0.0.0/8, [::1],
        /// localhost). Metadata is otherwise fetched over https only.
        #[arg(long)]
        allow_plain_http_loopback: bool,
    },
}

#[derive(Args)]
struct InspectArgs {
    /// A file, `-` for standard input, or the value itself (URL, form body, base64).
    input: String,
    /// JSON output.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct VerifyArgs {
    /// The Response: XML, base64, or a POST form body (file, or `-` for standard input).
    #[arg(long)]
    response: String,
    /// Metadata of the IdP (an EntityDescriptor or an aggregate), trusted as given.
    #[arg(long)]
    idp_metadata: PathBuf,
    /// The IdP entityID (needed when the metadata lists several IdPs and the Response's
    /// Issuer is not one of them).
    #[arg(long)]
    idp: Option<String>,
    /// The ID of the AuthnRequest the Response answers.
    #[arg(long)]
    request_id: String,
    /// The AssertionConsumerService URL that received the Response.
    #[arg(long)]
    acs: String,
    /// The SP entityID (the Audience).
    #[arg(long)]
    sp_entity_id: String,
    /// Verify at this instant (xs:dateTime, or `now`) [default: now].
    #[arg(long)]
    at: Option<String>,
    /// The AuthnRequest's IssueInstant [default: 10 minutes before --at].
    #[arg(long)]
    issued_at: Option<String>,
    /// The SPID level requested: 1, 2 or 3.
    #[arg(long, default_value_t = 2)]
    level: u8,
    /// The comparison requested: exact, minimum, better or maximum.
    #[arg(long, default_value = "minimum")]
    comparison: String,
    /// Accept an identity without fiscal code or eIDAS identifier.
    #[arg(long)]
    allow_missing_identity_key: bool,
    /// Require the Response (not only the Assertion) to be signed.
    #[arg(long)]
    require_response_signature: bool,
}

/// Why a command stopped: the exit status and a one-line message.
struct Failure {
    status: u8,
    message: String,
}

/// The command could not run (exit 2).
fn usage(message: impl std::fmt::Display) -> Failure {
    Failure {
        status: 2,
        message: message.to_string(),
    }
}

/// What was checked is not valid (exit 1).
fn invalid(message: impl std::fmt::Display) -> Failure {
    Failure {
        status: 1,
        message: message.to_string(),
    }
}

type Outcome = Result<(), Failure>;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Keygen(a) => keygen(a),
        Command::CertCheck(a) => cert_check(a),
        Command::Metadata(a) => metadata_cmd(a),
        Command::Registry(c) => registry_cmd(c),
        Command::Inspect(a) => inspect(a),
        Command::Verify(a) => verify(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            let first_line = f.message.lines().next().unwrap_or("").to_owned();
            eprintln!("spid-sp: {first_line}");
            ExitCode::from(f.status)
        }
    }
}

// ---------------------------------------------------------------------------------------
// Input helpers

fn read_bytes(path: &Path) -> Result<Vec<u8>, Failure> {
    let display = path.display();
    let file = std::fs::File::open(path)
        .map_err(|e| usage(format!("cannot read {display}: {}", io_reason(&e))))?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| usage(format!("cannot read {display}: {}", io_reason(&e))))?;
    if bytes.len() as u64 > MAX_FILE {
        return Err(usage(format!("{display} is larger than {MAX_FILE} bytes")));
    }
    Ok(bytes)
}

fn read_text(path: &Path) -> Result<String, Failure> {
    String::from_utf8(read_bytes(path)?)
        .map_err(|_| usage(format!("{} is not UTF-8 text", path.display())))
}

fn read_stdin() -> Result<String, Failure> {
    let mut text = String::new();
    std::io::stdin()
        .take(MAX_FILE + 1)
        .read_to_string(&mut text)
        .map_err(|e| usage(format!("cannot read standard input: {}", io_reason(&e))))?;
    Ok(text)
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_owned(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        std::io::ErrorKind::AlreadyExists => "already exists".to_owned(),
        _ => e.to_string().to_lowercase(),
    }
}

fn instant(at: Option<&str>) -> Result<Timestamp, Failure> {
    match at {
        None | Some("now") => Ok(SystemClock.now()),
        Some(t) => Timestamp::parse(t).map_err(|_| {
            usage(format!(
                "invalid time {t:?}: expected e.g. 2026-01-15T10:00:00Z"
            ))
        }),
    }
}

/// Writes `bytes` to a new file (never replacing one); `private` files get mode 0600.
fn write_new(path: &Path, bytes: &[u8], private: bool) -> Result<(), Failure> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut file = options.open(path).map_err(|e| {
        usage(format!(
            "cannot create {}: {}",
            path.display(),
            io_reason(&e)
        ))
    })?;
    file.write_all(bytes).map_err(|e| {
        usage(format!(
            "cannot write {}: {}",
            path.display(),
            io_reason(&e)
        ))
    })
}

/// Replaces `path` atomically (write a temporary file beside it, then rename).
fn replace_file(path: &Path, bytes: &[u8]) -> Result<(), Failure> {
    let name = path
        .file_name()
        .ok_or_else(|| usage(format!("{} is not a file path", path.display())))?;
    let tmp = path.with_file_name(format!(
        ".{}.tmp{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    std::fs::write(&tmp, bytes)
        .map_err(|e| usage(format!("cannot write {}: {}", tmp.display(), io_reason(&e))))?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        usage(format!(
            "cannot write {}: {}",
            path.display(),
            io_reason(&e)
        ))
    })
}

// ---------------------------------------------------------------------------------------
// Config file

/// The SP description file shared by `keygen --config` and `metadata --config`
/// ([`SpDescription`]: JSON, or TOML when the name ends in `.toml`; paths are relative to
/// the file).
fn load_config(path: &Path) -> Result<SpDescription, Failure> {
    SpDescription::load(path).map_err(|e| config_failure(path, e))
}

fn config_failure(path: &Path, e: DescriptionError) -> Failure {
    match e {
        DescriptionError::Syntax {
            line,
            column,
            message,
            ..
        } => usage(format!(
            "{}: invalid config at line {line} column {column}: {message}",
            path.display()
        )),
        e @ (DescriptionError::Read { .. } | DescriptionError::Key { .. }) => usage(e),
        e => usage(format!("invalid config: {e}")),
    }
}

fn profile_of(name: &str) -> Result<SpProfile, Failure> {
    name.parse::<SpProfile>().map_err(usage)
}

// ---------------------------------------------------------------------------------------
// keygen, cert-check

fn keygen(a: KeygenArgs) -> Outcome {
    let (config, path) = match &a.config {
        Some(path) => (load_config(path)?, path.as_path()),
        None => (SpDescription::default(), Path::new("--config")),
    };
    let flags = CertificateDescription {
        sector: a.sector.map(|s| Sector::from(s).as_str().to_owned()),
        common_name: a.common_name,
        organization_name: a.org_name,
        entity_id: a.entity_id,
        organization_identifier: a.org_id,
        country: a.country,
        locality: a.locality,
        key_bits: a.key_bits,
        days: a.days,
    };
    let req = config.certificate_request(&flags).map_err(|e| match e {
        DescriptionError::Missing("certificate.sector") => {
            usage("missing --sector (public or private)")
        }
        DescriptionError::Missing(field) => {
            let flag = match field {
                "certificate.common_name" => "common-name",
                "certificate.organization_name" => "org-name",
                "certificate.entity_id" => "entity-id",
                "certificate.organization_identifier" => "org-id",
                _ => "locality",
            };
            usage(format!("missing --{flag} (or set it in the config file)"))
        }
        DescriptionError::Certificate(e) => usage(e),
        e => config_failure(path, e),
    })?;
    let sector = req.sector;

    std::fs::create_dir_all(&a.out).map_err(|e| {
        usage(format!(
            "cannot create {}: {}",
            a.out.display(),
            io_reason(&e)
        ))
    })?;
    let key_path = a.out.join("key.pem");
    let crt_path = a.out.join("crt.pem");
    let csr_path = a.out.join("csr.pem");
    let wanted: Vec<&Path> = match (sector, a.self_signed) {
        (Sector::Public, _) => vec![&key_path, &crt_path],
        (Sector::Private, false) => vec![&key_path, &csr_path],
        (Sector::Private, true) => vec![&key_path, &csr_path, &crt_path],
    };
    for p in &wanted {
        if p.exists() {
            return Err(usage(format!(
                "{} already exists: not overwriting it",
                p.display()
            )));
        }
    }

    let now = SystemClock.now();
    let (key, csr) = match sector {
        Sector::Private => {
            let (key, csr) = certificates::generate_csr(&req).map_err(usage)?;
            (key, Some(csr))
        }
        Sector::Public => {
            let key = PKey::from_rsa(
                openssl::rsa::Rsa::generate(req.key_bits)
                    .map_err(|_| usage("key generation failed"))?,
            )
            .map_err(|_| usage("key generation failed"))?;
            (key, None)
        }
    };
    let cert = if sector == Sector::Public || a.self_signed {
        Some(certificates::self_signed_for_key(&req, &key, now).map_err(usage)?)
    } else {
        None
    };

    let key_pem = key
        .private_key_to_pem_pkcs8()
        .map_err(|_| usage("cannot encode the key"))?;
    write_new(&key_path, &key_pem, true)?;
    println!(
        "wrote {} (private key, RSA {} bits: keep it secret)",
        key_path.display(),
        req.key_bits
    );
    if let Some(csr) = &csr {
        let problems = certificates::check_csr(csr, sector);
        let pem = csr.to_pem().map_err(|_| usage("cannot encode the csr"))?;
        write_new(&csr_path, &pem, false)?;
        println!(
            "wrote {} (certificate signing request for AgID's CA)",
            csr_path.display()
        );
        report_problems("csr", &problems)?;
    }
    if let Some(cert) = &cert {
        let problems = certificates::check_certificate_at(cert, sector, now);
        let pem = cert
            .to_pem()
            .map_err(|_| usage("cannot encode the certificate"))?;
        write_new(&crt_path, &pem, false)?;
        println!(
            "wrote {} (self-signed certificate, valid {} days{})",
            crt_path.display(),
            req.days,
            if sector == Sector::Private {
                "; for test environments only"
            } else {
                ""
            }
        );
        report_problems("certificate", &problems)?;
    }
    println!("compliant with Avviso SPID n.29 v3 ({sector} sector)");
    Ok(())
}

fn report_problems(what: &str, problems: &[certificates::CertificateProblem]) -> Outcome {
    if problems.is_empty() {
        return Ok(());
    }
    for p in problems {
        println!("problem: {p}");
    }
    Err(invalid(format!("{what}: {} problem(s)", problems.len())))
}

fn cert_check(a: CertCheckArgs) -> Outcome {
    let sector = Sector::from(a.sector);
    let now = instant(a.at.as_deref())?;
    let pem = read_bytes(&a.file)?;
    let (what, problems) = if let Ok(cert) = X509::from_pem(&pem).or_else(|_| X509::from_der(&pem))
    {
        (
            "certificate",
            certificates::check_certificate_at(&cert, sector, now),
        )
    } else if let Ok(csr) = X509Req::from_pem(&pem).or_else(|_| X509Req::from_der(&pem)) {
        ("csr", certificates::check_csr(&csr, sector))
    } else {
        return Err(usage(format!(
            "{}: not a PEM or DER certificate or certificate request",
            a.file.display()
        )));
    };
    if problems.is_empty() {
        println!(
            "{what} {}: compliant with Avviso SPID n.29 v3 ({sector} sector)",
            a.file.display()
        );
        return Ok(());
    }
    for p in &problems {
        println!("problem: {p}");
    }
    Err(invalid(format!(
        "{what} {}: {} problem(s) against Avviso SPID n.29 v3 ({sector} sector)",
        a.file.display(),
        problems.len()
    )))
}

// ---------------------------------------------------------------------------------------
// metadata

fn metadata_cmd(a: MetadataArgs) -> Outcome {
    if let Some(MetadataCommand::Check { profile, at, file }) = a.check {
        return metadata_check(&profile, at.as_deref(), &file);
    }
    let path = a
        .config
        .ok_or_else(|| usage("missing --config FILE (or use `spid-sp metadata check FILE`)"))?;
    let now = instant(a.at.as_deref())?;
    let config = load_config(&path)?;
    let sp_metadata = config.sp_metadata().map_err(|e| config_failure(&path, e))?;
    let key = config.signing_key().map_err(|e| config_failure(&path, e))?;
    let sp_config = config
        .sp_config(key)
        .map_err(|e| config_failure(&path, e))?;
    let xml = sp_metadata.to_xml_at(&sp_config, now).map_err(usage)?;
    match a.out {
        Some(out) => {
            replace_file(&out, xml.as_bytes())?;
            eprintln!(
                "wrote {} ({} profile, signed)",
                out.display(),
                sp_metadata.profile
            );
        }
        None => print!("{xml}"),
    }
    Ok(())
}

fn metadata_check(profile: &str, at: Option<&str>, file: &Path) -> Outcome {
    let profile = profile_of(profile)?;
    let now = instant(at)?;
    let xml = read_text(file)?;
    let problems = metadata::check_sp_metadata_at(&xml, profile, now);
    let errors = problems
        .iter()
        .filter(|p| p.severity == metadata::Severity::Error)
        .count();
    for p in &problems {
        println!("{p}");
    }
    let summary = format!(
        "{}: {errors} error(s), {} warning(s) for profile {}",
        file.display(),
        problems.len() - errors,
        profile.spid_sp_test_profile()
    );
    if errors > 0 {
        return Err(invalid(summary));
    }
    println!("{summary}");
    Ok(())
}

// ---------------------------------------------------------------------------------------
// registry

fn load_pins(paths: &[PathBuf]) -> Result<Vec<VerificationKey>, Failure> {
    let mut out = Vec::new();
    for path in paths {
        let pem = read_bytes(path)?;
        let certs = X509::stack_from_pem(&pem)
            .ok()
            .filter(|c| !c.is_empty())
            .ok_or_else(|| usage(format!("{}: no PEM certificate", path.display())))?;
        for cert in certs {
            out.push(
                VerificationKey::from_x509(&cert)
                    .map_err(|e| usage(format!("{}: {e}", path.display())))?,
            );
        }
    }
    Ok(out)
}

fn trust_of(pins: &PinArgs) -> Result<RegistryTrust, Failure> {
    let mut trust = if pins.snapshot_pins {
        eprintln!(
            "spid-sp: warning: trusting the committed snapshots' pins (the SPID one is AgID's test key, whose private key is public): for tests only"
        );
        RegistryTrust::committed_snapshots().map_err(usage)?
    } else {
        RegistryTrust::new()
    };
    for key in load_pins(&pins.spid_pin)? {
        trust = trust.with_spid_pin(key);
    }
    for key in load_pins(&pins.eidas_pin)? {
        trust = trust.with_eidas_pin(key);
    }
    Ok(trust)
}

/// A hint when a signed source has no pin at all.
fn pin_hint(trust: &RegistryTrust, source: MetadataSource) -> &'static str {
    match source {
        MetadataSource::SpidRegistry if trust.pins(source).is_empty() => {
            " (no pin given: pass --spid-pin FILE)"
        }
        MetadataSource::EidasNode if trust.pins(source).is_empty() => {
            " (no pin given: pass --eidas-pin FILE)"
        }
        _ => "",
    }
}

fn describe(v: &VerifiedMetadata) -> String {
    let mut s = format!(
        "{} metadata verified: {} identity provider(s), sha256 {}",
        v.source(),
        v.idps().len(),
        v.sha256_hex()
    );
    match v.signer() {
        Some(k) => {
            let _ = write!(s, ", signed by {}", k.subject());
        }
        None => s.push_str(", unsigned (trusted out of band)"),
    }
    if let Some(until) = v.valid_until() {
        let _ = write!(s, ", valid until {until}");
    }
    s
}

fn registry_cmd(c: RegistryCommand) -> Outcome {
    match c {
        RegistryCommand::Verify {
            source,
            pins,
            at,
            file,
        } => {
            let trust = trust_of(&pins)?;
            let now = instant(at.as_deref())?;
            let bytes = read_bytes(&file)?;
            let source = MetadataSource::from(source);
            let verified = metadata::verify_metadata(source, &bytes, &trust, now).map_err(|e| {
                invalid(format!(
                    "{}: {e}{}",
                    file.display(),
                    pin_hint(&trust, source)
                ))
            })?;
            println!("{}", describe(&verified));
            let mut registry = Registry::new(trust);
            registry.install(verified).map_err(invalid)?;
            for w in registry.warnings(now, metadata::EXPIRY_HORIZON_SECS) {
                println!("warning: {w}");
            }
            Ok(())
        }
        RegistryCommand::List {
            spid,
            cie,
            eidas,
            pins,
            at,
            warn_days,
            json,
        } => {
            let trust = trust_of(&pins)?;
            let now = instant(at.as_deref())?;
            let mut registry = Registry::new(trust);
            let inputs = [
                (MetadataSource::SpidRegistry, spid),
                (MetadataSource::Cie, cie),
                (MetadataSource::EidasNode, eidas),
            ];
            if inputs.iter().all(|(_, p)| p.is_none()) {
                return Err(usage("give at least one of --spid, --cie, --eidas"));
            }
            for (source, path) in inputs {
                if let Some(path) = path {
                    let bytes = read_bytes(&path)?;
                    let hint = pin_hint(registry.trust(), source);
                    registry
                        .load(source, &bytes, now)
                        .map_err(|e| invalid(format!("{}: {e}{hint}", path.display())))?;
                }
            }
            let warnings = registry.warnings(now, i64::from(warn_days) * 86_400);
            if json {
                let idps: Vec<_> = registry.idps().map(idp_json).collect();
                let out = json!({
                    "identity_providers": idps,
                    "warnings": warnings.iter().map(ToString::to_string).collect::<Vec<_>>(),
                });
                println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
                return Ok(());
            }
            for s in registry.sources() {
                println!("# {}", describe(s));
            }
            for idp in registry.idps() {
                print_idp(idp);
            }
            for w in &warnings {
                println!("warning: {w}");
            }
            Ok(())
        }
        RegistryCommand::Fetch {
            source,
            url,
            out,
            pins,
            timeout,
            at,
            allow_plain_http_loopback,
        } => {
            let trust = trust_of(&pins)?;
            let now = instant(at.as_deref())?;
            let mut fetcher = metadata::Fetcher::new(Duration::from_secs(timeout.max(1)));
            if allow_plain_http_loopback {
                fetcher = fetcher.allow_plain_http(metadata::PlainHttp::OnlyForLoopbackTests);
            }
            let (bytes, verified) =
                metadata::fetch_verified(MetadataSource::from(source), &url, &trust, &fetcher, now)
                    .map_err(|e| {
                        invalid(format!(
                            "{url}: {e}{}; {} left unchanged",
                            pin_hint(&trust, MetadataSource::from(source)),
                            out.display()
                        ))
                    })?;
            // No rollback: a copy already at `out` that still verifies must not be newer.
            if let Ok(current) = std::fs::read(&out) {
                if let Ok(current) =
                    metadata::verify_metadata(MetadataSource::from(source), &current, &trust, now)
                {
                    metadata::check_not_older(&current, &verified).map_err(|e| {
                        invalid(format!(
                            "{url}: {e}; {} left unchanged (delete it to accept an older copy)",
                            out.display()
                        ))
                    })?;
                }
            }
            replace_file(&out, &bytes)?;
            println!("{}", describe(&verified));
            println!("wrote {}", out.display());
            Ok(())
        }
    }
}

fn binding_name(b: Binding) -> &'static str {
    match b {
        Binding::Redirect => "HTTP-Redirect",
        Binding::Post => "HTTP-POST",
        Binding::Soap => "SOAP",
    }
}

fn idp_json(idp: &IdentityProvider) -> serde_json::Value {
    let endpoints = |list: &[metadata::Endpoint]| {
        list.iter()
            .map(|e| json!({"binding": binding_name(e.binding), "location": e.location, "response_location": e.response_location}))
            .collect::<Vec<_>>()
    };
    json!({
        "entity_id": idp.entity_id().as_str(),
        "federation": format!("{:?}", idp.federation()).to_lowercase(),
        "display_name": idp.display_name(),
        "sso": endpoints(idp.sso_endpoints()),
        "slo": endpoints(idp.slo_endpoints()),
        "keys": idp.keys().iter().map(|k| json!({
            "subject": k.subject(),
            "bits": k.bits(),
            "not_after": k.not_after().map(|t| t.to_string()),
            "sha256": k.fingerprint().iter().map(|b| format!("{b:02x}")).collect::<String>(),
        })).collect::<Vec<_>>(),
    })
}

fn print_idp(idp: &IdentityProvider) {
    println!(
        "{} ({:?}{})",
        idp.entity_id(),
        idp.federation(),
        idp.display_name()
            .map(|n| format!(", {n}"))
            .unwrap_or_default()
    );
    for e in idp.sso_endpoints() {
        println!("  sso {:<13} {}", binding_name(e.binding), e.location);
    }
    for e in idp.slo_endpoints() {
        println!("  slo {:<13} {}", binding_name(e.binding), e.location);
    }
    for k in idp.keys() {
        println!(
            "  key RSA {} until {}  {}",
            k.bits(),
            k.not_after()
                .map(|t| t.to_string())
                .unwrap_or_else(|| "?".into()),
            k.subject()
        );
    }
}

// ---------------------------------------------------------------------------------------
// inspect

fn input_text(arg: &str) -> Result<String, Failure> {
    if arg == "-" {
        return read_stdin();
    }
    let path = Path::new(arg);
    let looks_like_value = arg.starts_with("http://")
        || arg.starts_with("https://")
        || arg.starts_with('<')
        || arg.contains("SAMLRequest=")
        || arg.contains("SAMLResponse=");
    if !looks_like_value && (path.exists() || arg.contains('/') || arg.ends_with(".xml")) {
        return read_text(path);
    }
    Ok(arg.to_owned())
}

fn inspect(a: InspectArgs) -> Outcome {
    let text = input_text(&a.input)?;
    let m = spid_sp::danger::decode_unverified(&text).map_err(usage)?;
    if a.json {
        let out = json!({ "verified": false, "message": m });
        println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
        return Ok(());
    }
    println!("UNVERIFIED: decoded without checking any signature, time or audience; do not trust these values");
    let form = match m.form {
        spid_sp::danger::InputForm::Redirect => "HTTP-Redirect query",
        spid_sp::danger::InputForm::PostForm => "HTTP-POST form body",
        spid_sp::danger::InputForm::Base64 => "base64",
        spid_sp::danger::InputForm::DeflatedBase64 => "DEFLATE + base64 (redirect encoding)",
        spid_sp::danger::InputForm::Xml => "XML",
    };
    println!(
        "input: {form}{}",
        m.parameter.map(|p| format!(" ({p})")).unwrap_or_default()
    );
    if let Some(rs) = &m.relay_state {
        println!("relay state: {rs}");
    }
    if m.form == spid_sp::danger::InputForm::Redirect {
        println!(
            "query signature: {} (NOT checked)",
            match (&m.redirect_sig_alg, m.redirect_signed) {
                (Some(alg), true) => alg.clone(),
                (None, true) => "present, unknown algorithm".to_owned(),
                (_, false) => "absent".to_owned(),
            }
        );
    }
    match &m.summary {
        Err(e) => println!("xml: does not parse ({e})"),
        Ok(s) => {
            println!("message: {}", s.message);
            for (k, v) in &s.attributes {
                println!("  {k}: {v}");
            }
            if let Some(i) = &s.issuer {
                println!("  Issuer: {i}");
            }
            if !s.status.is_empty() {
                println!("  Status: {}", s.status.join(" / "));
            }
            if let Some(msg) = &s.status_message {
                println!("  StatusMessage: {msg}");
            }
            if !s.requested_authn_context.is_empty() {
                println!(
                    "  RequestedAuthnContext: {}",
                    s.requested_authn_context.join(", ")
                );
            }
            if let Some(n) = &s.name_id {
                println!("  NameID: {n}");
            }
            for si in &s.session_index {
                println!("  SessionIndex: {si}");
            }
            println!(
                "  XML signatures on (NOT checked): {}",
                if s.signed_elements.is_empty() {
                    "none".to_owned()
                } else {
                    s.signed_elements.join(", ")
                }
            );
            for a in &s.assertions {
                println!("  assertion {}", a.id.as_deref().unwrap_or("(no ID)"));
                if let Some(i) = &a.issuer {
                    println!("    Issuer: {i}");
                }
                if let Some(t) = &a.issue_instant {
                    println!("    IssueInstant: {t}");
                }
                if let Some(n) = &a.name_id {
                    println!("    NameID: {n}");
                }
                for (k, v) in a.subject_confirmation.iter().chain(&a.conditions) {
                    println!("    {k}: {v}");
                }
                for aud in &a.audience {
                    println!("    Audience: {aud}");
                }
                if let Some(c) = &a.authn_context {
                    println!("    AuthnContextClassRef: {c}");
                }
                for (name, values) in &a.attributes {
                    println!("    {name}: {}", values.join(", "));
                }
            }
        }
    }
    println!("--- xml (unverified) ---");
    println!("{}", m.xml.trim_end());
    Ok(())
}

// ---------------------------------------------------------------------------------------
// verify

/// A throwaway SP signing key: `finish_login` never signs, but the configuration needs one.
fn throwaway_key() -> Result<SigningKey, Failure> {
    let req = CertificateRequest {
        key_bits: 2048,
        ..CertificateRequest::new(
            Sector::Public,
            "spid-sp verify",
            "spid-sp verify",
            "https://localhost/spid-sp-verify",
            "PA:IT-verify",
            "Roma",
        )
    };
    let (key, cert) =
        certificates::generate_self_signed(&req).map_err(|_| usage("key generation failed"))?;
    SigningKey::new(key, cert).map_err(|_| usage("key generation failed"))
}

/// The RelayState `verify` gives both the rebuilt pending login and the Response it
/// checks: an offline check has no browser round trip to compare.
const VERIFY_RELAY_STATE: &str = "spid-sp-verify";

fn verify(a: VerifyArgs) -> Outcome {
    let now = instant(a.at.as_deref())?;
    let issued = match &a.issued_at {
        Some(t) => instant(Some(t))?,
        None => now.plus_seconds(-600),
    };
    let level =
        SpidLevel::from_number(a.level).ok_or_else(|| usage("--level must be 1, 2 or 3"))?;
    let comparison = Comparison::parse(&a.comparison)
        .ok_or_else(|| usage("--comparison must be exact, minimum, better or maximum"))?;

    let metadata_text = read_text(&a.idp_metadata)?;
    let idps = IdentityProvider::from_metadata(&metadata_text)
        .map_err(|e| usage(format!("{}: {e}", a.idp_metadata.display())))?;

    let response = if a.response == "-" {
        read_stdin()?
    } else {
        read_text(Path::new(&a.response))?
    };
    let response = response.trim();
    let incoming = if response.starts_with('<') {
        use base64::Engine as _;
        Incoming::Post {
            message: base64::engine::general_purpose::STANDARD.encode(response),
            relay_state: Some(VERIFY_RELAY_STATE.to_owned()),
        }
    } else if response.contains("SAMLResponse=") {
        match Incoming::from_form(response) {
            Some(Incoming::Post { message, .. }) => Incoming::Post {
                message,
                relay_state: Some(VERIFY_RELAY_STATE.to_owned()),
            },
            _ => return Err(usage("the form body has no decodable SAMLResponse")),
        }
    } else {
        Incoming::Post {
            message: response.to_owned(),
            relay_state: Some(VERIFY_RELAY_STATE.to_owned()),
        }
    };

    // The IdP: as given, the only one in the metadata, or the one the (unverified) Issuer
    // names, a lookup key that verification then checks.
    let idp_id = match a.idp {
        Some(id) => id,
        None if idps.len() == 1 => idps
            .first()
            .map(|i| i.entity_id().as_str().to_owned())
            .unwrap_or_default(),
        None => {
            let hint = spid_sp::danger::decode_unverified(response)
                .ok()
                .and_then(|m| m.summary.ok())
                .and_then(|s| s.issuer);
            match hint {
                Some(issuer) if idps.iter().any(|i| i.entity_id().as_str() == issuer) => issuer,
                _ => {
                    return Err(usage(
                        "the metadata lists several identity providers: say which with --idp",
                    ))
                }
            }
        }
    };
    if !idps.iter().any(|i| i.entity_id().as_str() == idp_id) {
        return Err(usage(format!(
            "{idp_id} is not in {}",
            a.idp_metadata.display()
        )));
    }

    let config = SpConfig::builder(a.sp_entity_id.clone(), throwaway_key()?)
        .assertion_consumer_service(a.acs.clone())
        .attribute_service(0, "spid-sp verify", &["fiscalNumber"])
        .require_identity_key(!a.allow_missing_identity_key)
        .require_response_signature(a.require_response_signature)
        .build()
        .map_err(|e| usage(format!("invalid arguments: {e}")))?;
    let lifetime = config.request_lifetime_secs();
    let sp = ServiceProvider::new(config, idps)
        .map_err(|e| usage(format!("invalid metadata: {e}")))?
        .with_clock(Arc::new(FixedClock(now)));
    let pending = PendingLogin::from_parts(
        RequestId::new(a.request_id.clone()),
        EntityId::new(idp_id),
        issued,
        issued.plus_seconds(lifetime).max(now.plus_seconds(1)),
        level,
        comparison,
        a.acs.clone(),
        0,
        RelayState::new(VERIFY_RELAY_STATE),
    );
    match sp.finish_login(&incoming, pending) {
        Ok(login) => {
            let out = json!({
                "verified": true,
                "idp": login.idp().as_str(),
                "level": login.level().uri(),
                "identity": login.identity(),
                "session": login.session(),
                "request_id": login.request_id().as_str(),
                "response_id": login.response_id(),
                "assertion_id": login.assertion_id(),
                "authn_instant": login.authn_instant().map(|t| t.to_string()),
                "not_on_or_after": login.not_on_or_after().to_string(),
            });
            println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
            Ok(())
        }
        Err(LoginError::Rejected(reason)) => {
            Err(invalid(format!("rejected: {reason} [{}]", reason.code())))
        }
        Err(LoginError::Refused(refusal)) => Err(invalid(format!(
            "refused by the identity provider: {}{}",
            refusal.message_en(),
            refusal
                .error_code()
                .map(|c| format!(" [ErrorCode nr{c:02}]"))
                .unwrap_or_default()
        ))),
    }
}
