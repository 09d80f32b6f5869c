//! `inspect`: decode a SAML message WITHOUT verifying it.

use std::path::Path;

use clap::Args;
use serde_json::json;

use crate::io::{print_json, read_input, usage, Failure, Outcome};

#[derive(Args)]
pub(crate) struct InspectArgs {
    /// A file, `-` for standard input, or the value itself (URL, form body, base64).
    input: String,
    /// JSON output.
    #[arg(long)]
    json: bool,
}

/// The message text: standard input for `-`, a file when the argument names one (and
/// does not look like a message), else the argument itself.
fn input_text(arg: &str) -> Result<String, Failure> {
    let looks_like_value = arg.starts_with("http://")
        || arg.starts_with("https://")
        || arg.starts_with('<')
        || arg.contains("SAMLRequest=")
        || arg.contains("SAMLResponse=");
    let names_a_file = !looks_like_value
        && (Path::new(arg).exists() || arg.contains('/') || arg.ends_with(".xml"));
    if arg == "-" || names_a_file {
        return read_input(arg);
    }
    Ok(arg.to_owned())
}

pub(crate) fn inspect(a: InspectArgs) -> Outcome {
    let text = input_text(&a.input)?;
    let m = spid_sp::danger::decode_unverified(&text).map_err(usage)?;
    if a.json {
        print_json(&json!({ "verified": false, "message": m }));
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
