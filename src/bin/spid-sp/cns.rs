//! `cns`: the CNS trusted list and card certificates (docs/cns.md); `cns test-pki` writes
//! a throw-away test PKI (only in a build with feature `test-idp`).

use std::path::PathBuf;

use clap::{Args, Subcommand};
use serde_json::json;
use spid_sp::cns::{CnsPolicy, CnsVerifier, Crl, TrustList};
use spid_sp::{FixedClock, SpidLevel, VerificationKey};

use crate::io::{instant, invalid, print_json, read_bytes, read_text, usage, Failure, Outcome};

#[derive(Subcommand)]
pub(crate) enum CnsCommand {
    /// Verify a trusted list (TSL-IT) against pinned signer certificates and summarise
    /// its CNS certification authorities and warnings.
    VerifyTsl(TslArgs),
    /// Verify a client certificate as a CNS login and print the identity as JSON.
    VerifyCert(CertArgs),
    /// Write a TEST-ONLY PKI (CA, cards good and bad, CRLs, signed synthetic trusted
    /// list) into a new directory.
    #[cfg(feature = "test-idp")]
    TestPki(TestPkiArgs),
}

#[derive(Args)]
pub(crate) struct TslArgs {
    /// The trusted list (XML).
    tsl: PathBuf,
    /// A pinned TSL signer certificate (PEM); repeatable.
    #[arg(long, required = true)]
    signer: Vec<PathBuf>,
    /// Evaluate at this instant (xs:dateTime, or `now`) [default: now].
    #[arg(long)]
    at: Option<String>,
}

#[derive(Args)]
pub(crate) struct CertArgs {
    /// The client certificate (PEM or DER; PEM may carry intermediates after it).
    certificate: PathBuf,
    /// A trusted list to trust the CAs of (with --signer).
    #[arg(long, conflicts_with = "ca")]
    tsl: Option<PathBuf>,
    /// A pinned TSL signer certificate (PEM) for --tsl; repeatable.
    #[arg(long)]
    signer: Vec<PathBuf>,
    /// CA certificates to trust instead of a trusted list (PEM bundle).
    #[arg(long)]
    ca: Option<PathBuf>,
    /// A CRL (PEM or DER); repeatable.
    #[arg(long)]
    crl: Vec<PathBuf>,
    /// Refuse a certificate when no CRL of its issuer is given.
    #[arg(long)]
    require_crl: bool,
    /// Also accept CIE card certificates (policy 1.3.76.47.4).
    #[arg(long)]
    accept_cie: bool,
    /// The SPID level a CNS login counts as: 1, 2 or 3.
    #[arg(long, default_value_t = 2)]
    level: u8,
    /// Verify at this instant (xs:dateTime, or `now`) [default: now].
    #[arg(long)]
    at: Option<String>,
}

#[cfg(feature = "test-idp")]
#[derive(Args)]
pub(crate) struct TestPkiArgs {
    /// The directory to create (must not exist).
    #[arg(long)]
    out: PathBuf,
    /// The PKI's "now" (xs:dateTime, or `now`) [default: now].
    #[arg(long)]
    at: Option<String>,
}

pub(crate) fn cns_cmd(command: CnsCommand) -> Outcome {
    match command {
        CnsCommand::VerifyTsl(a) => verify_tsl(a),
        CnsCommand::VerifyCert(a) => verify_cert(a),
        #[cfg(feature = "test-idp")]
        CnsCommand::TestPki(a) => test_pki(a),
    }
}

fn signers(paths: &[PathBuf]) -> Result<Vec<VerificationKey>, Failure> {
    paths
        .iter()
        .map(|p| {
            VerificationKey::from_certificate_pem(&read_bytes(p)?)
                .map_err(|e| usage(format!("{}: {e}", p.display())))
        })
        .collect()
}

fn verify_tsl(a: TslArgs) -> Outcome {
    let at = instant(a.at.as_deref())?;
    let keys = signers(&a.signer)?;
    let list = TrustList::from_tsl(&read_text(&a.tsl)?, &keys)
        .map_err(|e| invalid(format!("trusted list refused ({}): {e}", e.code())))?;
    let info = list.info();
    print_json(&json!({
        "sequence_number": info.map(|i| i.sequence_number),
        "issued": info.map(|i| i.issued.to_string()),
        "next_update": info.and_then(|i| i.next_update).map(|t| t.to_string()),
        "territory": info.map(|i| i.territory.clone()),
        "cns_cas": list.cas().len(),
        "active_at": at.to_string(),
        "active_cas": list.active_at(at).count(),
        "warnings": list.warnings(at).iter().map(|w| w.code()).collect::<Vec<_>>(),
    }));
    Ok(())
}

fn verify_cert(a: CertArgs) -> Outcome {
    let at = instant(a.at.as_deref())?;
    let trust = match (&a.tsl, &a.ca) {
        (Some(tsl), None) => TrustList::from_tsl(&read_text(tsl)?, &signers(&a.signer)?)
            .map_err(|e| invalid(format!("trusted list refused ({}): {e}", e.code())))?,
        (None, Some(ca)) => TrustList::from_ca_certificates(&read_bytes(ca)?)
            .map_err(|e| usage(format!("{}: {e}", ca.display())))?,
        _ => return Err(usage("give --tsl (with --signer) or --ca")),
    };
    let crls = a
        .crl
        .iter()
        .map(|p| Crl::parse(&read_bytes(p)?).map_err(|e| usage(format!("{}: {e}", p.display()))))
        .collect::<Result<Vec<_>, _>>()?;
    let level = match a.level {
        1 => SpidLevel::L1,
        2 => SpidLevel::L2,
        3 => SpidLevel::L3,
        _ => return Err(usage("--level must be 1, 2 or 3")),
    };
    let policy = CnsPolicy::default()
        .level(level)
        .accept_cie(a.accept_cie)
        .require_crl(a.require_crl);
    let login = CnsVerifier::new(policy)
        .verify(&read_bytes(&a.certificate)?, &trust, &crls, &FixedClock(at))
        .map_err(|e| invalid(format!("refused ({}): {e}", e.code())))?;
    print_json(&json!({
        "fiscal_code": login.identity().fiscal_code().map(|c| c.as_str().to_owned()),
        "name": login.identity().name(),
        "family_name": login.identity().family_name(),
        "source": "cns",
        "kind": format!("{:?}", login.kind()).to_lowercase(),
        "level": login.level().uri(),
        "issuer": login.issuer(),
        "not_after": login.not_after().map(|t| t.to_string()),
        "crl_checked": login.crl_checked(),
    }));
    Ok(())
}

#[cfg(feature = "test-idp")]
fn test_pki(a: TestPkiArgs) -> Outcome {
    use spid_sp::cns::test_pki::TestPki;
    let at = instant(a.at.as_deref())?;
    if a.out.exists() {
        return Err(usage(format!("{} already exists", a.out.display())));
    }
    let pki = TestPki::generate(at).map_err(|e| usage(format!("cannot generate: {e}")))?;
    let files = pki
        .files()
        .map_err(|e| usage(format!("cannot sign the trusted list: {e}")))?;
    std::fs::create_dir_all(&a.out).map_err(|e| crate::io::io_failure("create", &a.out, &e))?;
    for (name, bytes) in &files {
        let private = name.ends_with(".key.pem") || name.ends_with(".p12");
        crate::io::write_new(&a.out.join(name), bytes, private)?;
    }
    print_json(&json!({
        "out": a.out.display().to_string(),
        "files": files.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        "warning": "TEST PKI - NOT FOR PRODUCTION",
    }));
    Ok(())
}
