//! `keygen` (an SP key with a self-signed certificate or a CSR) and `cert-check`.

use std::path::{Path, PathBuf};

use clap::Args;
use openssl::pkey::PKey;
use openssl::x509::{X509Req, X509};
use spid_sp::certificates::{self, CertificateProblem, Sector};
use spid_sp::{CertificateDescription, Clock, DescriptionError, SpDescription, SystemClock};

use crate::args::SectorArg;
use crate::config::{config_failure, load_config};
use crate::io::{instant, invalid, io_failure, read_bytes, usage, write_new, Outcome};

#[derive(Args)]
pub(crate) struct KeygenArgs {
    /// public (key + self-signed certificate) or private (key + CSR).
    #[arg(long, value_enum)]
    sector: Option<SectorArg>,
    /// Directory to write key.pem and crt.pem / csr.pem to (created if missing; existing
    /// files are never overwritten).
    #[arg(long)]
    out: PathBuf,
    /// JSON config file: subject data from its `certificate` section, else from
    /// `entity_id` and the `metadata` organization and contact. A shared aggregator file
    /// (`*.aggregator.toml`) gives the aggregator's identity (company, IPA code / VAT
    /// number / fiscal code); then --entity-id (the aggregator's URL) and --locality.
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
pub(crate) struct CertCheckArgs {
    /// public or private.
    #[arg(long, value_enum)]
    sector: SectorArg,
    /// Check validity dates at this instant (xs:dateTime, or `now`) [default: now].
    #[arg(long)]
    at: Option<String>,
    /// A PEM certificate or CSR.
    file: PathBuf,
}

pub(crate) fn keygen(a: KeygenArgs) -> Outcome {
    let aggregator_file = a.config.as_deref().is_some_and(|p| {
        p.to_str()
            .is_some_and(|n| n.ends_with(spid_sp::tenant::AGGREGATOR_FILE_SUFFIX))
    });
    let (config, path) = match &a.config {
        Some(path) if aggregator_file => (SpDescription::default(), path.as_path()),
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
    let request = if aggregator_file {
        let text = crate::io::read_text(path)?;
        let aggregator: spid_sp::AggregatorDescription = toml::from_str(&text)
            .map_err(|e| usage(format!("{}: {}", path.display(), e.message().trim())))?;
        aggregator.certificate_request(&flags)
    } else {
        config.certificate_request(&flags)
    };
    let req = request.map_err(|e| match e {
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

    std::fs::create_dir_all(&a.out).map_err(|e| io_failure("create", &a.out, &e))?;
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

/// One `problem: ...` line per problem on standard output.
fn print_problems(problems: &[CertificateProblem]) {
    for p in problems {
        println!("problem: {p}");
    }
}

fn report_problems(what: &str, problems: &[CertificateProblem]) -> Outcome {
    if problems.is_empty() {
        return Ok(());
    }
    print_problems(problems);
    Err(invalid(format!("{what}: {} problem(s)", problems.len())))
}

pub(crate) fn cert_check(a: CertCheckArgs) -> Outcome {
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
    print_problems(&problems);
    Err(invalid(format!(
        "{what} {}: {} problem(s) against Avviso SPID n.29 v3 ({sector} sector)",
        a.file.display(),
        problems.len()
    )))
}
