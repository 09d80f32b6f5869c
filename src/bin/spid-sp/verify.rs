//! `verify`: check a Response offline exactly as the SP would, and print the identity.

use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use serde_json::json;
use spid_sp::certificates::{self, CertificateRequest, Sector};
use spid_sp::metadata::IdentityProvider;
use spid_sp::{
    Comparison, EntityId, FixedClock, Incoming, LoginError, PendingLogin, RejectReason, RelayState,
    RequestId, ServiceProvider, SigningKey, SpConfig, SpidLevel,
};

use crate::io::{instant, invalid, print_json, read_input, read_text, usage, Failure, Outcome};

#[derive(Args)]
pub(crate) struct VerifyArgs {
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

pub(crate) fn verify(a: VerifyArgs) -> Outcome {
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

    let response = read_input(&a.response)?;
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
            print_json(&json!({
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
            }));
            Ok(())
        }
        Err(LoginError::Rejected(reason)) => {
            // An old Response checked now: say which options set the time of the check.
            let hint = match (&reason, &a.at) {
                (RejectReason::ResponseExpired | RejectReason::AssertionExpired, None) => {
                    " (verified at the current time, with the request 10 minutes before it: pass --at and --issued-at for an older Response)"
                }
                _ => "",
            };
            Err(invalid(format!(
                "rejected: {reason} [{}]{hint}",
                reason.code()
            )))
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
