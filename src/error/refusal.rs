//! IdP refusals: a non-Success `samlp:Status`, with SPID's `ErrorCode nrNN` and the
//! courtesy text the portal must show (AgID: "pagina di cortesia").

use std::fmt;

/// The IdP said no. Carries what the user should be told.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct IdpRefusal {
    status: String,
    sub_status: Option<String>,
    error_code: Option<u8>,
}

impl IdpRefusal {
    /// A refusal from the status URIs and the `StatusMessage` text (any text; the SPID
    /// code is extracted from `ErrorCode nrNN`).
    pub fn new(status: &str, sub_status: Option<&str>, message: Option<&str>) -> IdpRefusal {
        IdpRefusal {
            status: truncate(status),
            sub_status: sub_status.map(truncate),
            error_code: message.and_then(parse_error_code),
        }
    }

    /// The top-level StatusCode URI.
    pub fn status(&self) -> &str {
        &self.status
    }

    /// The nested StatusCode URI, if any.
    pub fn sub_status(&self) -> Option<&str> {
        self.sub_status.as_deref()
    }

    /// The SPID error number (`ErrorCode nr22` → `22`), if the IdP sent one.
    pub fn error_code(&self) -> Option<u8> {
        self.error_code
    }

    /// A stable short code for logs and metrics: `nr01`–`nr30` for SPID's error numbers,
    /// `nr-other` for another number, `refused` when the IdP sent none. Never the status
    /// URIs or message (unsigned input).
    pub fn code(&self) -> &'static str {
        const NR: [&str; 31] = [
            "nr00", "nr01", "nr02", "nr03", "nr04", "nr05", "nr06", "nr07", "nr08", "nr09", "nr10",
            "nr11", "nr12", "nr13", "nr14", "nr15", "nr16", "nr17", "nr18", "nr19", "nr20", "nr21",
            "nr22", "nr23", "nr24", "nr25", "nr26", "nr27", "nr28", "nr29", "nr30",
        ];
        match self.error_code {
            Some(n) => NR.get(usize::from(n)).copied().unwrap_or("nr-other"),
            None => "refused",
        }
    }

    /// Whether the user chose to stop (cancelled, or denied consent): not an error to
    /// alarm anyone about.
    pub fn is_user_choice(&self) -> bool {
        matches!(self.error_code, Some(22 | 25))
    }

    /// The text to show the user, in Italian.
    pub fn message_it(&self) -> &'static str {
        self.texts().0
    }

    /// The text to show the user, in English.
    pub fn message_en(&self) -> &'static str {
        self.texts().1
    }

    /// The HTTP status an ACS should answer with when showing the courtesy page.
    pub fn http_status(&self) -> u16 {
        match self.error_code {
            Some(19 | 20 | 23 | 30) => 403,
            Some(21 | 22 | 25) => 401,
            _ => 403,
        }
    }

    fn texts(&self) -> (&'static str, &'static str) {
        match self.error_code {
            Some(19) => (
                "Accesso non riuscito: troppi tentativi con credenziali errate. Riprova più tardi o contatta il tuo gestore di identità digitale.",
                "Sign-in failed: too many attempts with wrong credentials. Try again later or contact your digital identity provider.",
            ),
            Some(20) => (
                "Le tue credenziali non hanno il livello di sicurezza richiesto da questo servizio. Attiva credenziali di livello adeguato presso il tuo gestore.",
                "Your credentials do not have the security level this service requires. Obtain credentials of the required level from your provider.",
            ),
            Some(21) => (
                "Tempo scaduto: completa l'accesso entro il tempo previsto e riprova.",
                "Time expired: complete the sign-in within the allowed time and try again.",
            ),
            Some(22) => (
                "Senza il consenso all'invio dei dati non è possibile accedere al servizio.",
                "Without your consent to send your data, you cannot access this service.",
            ),
            Some(23) => (
                "La tua identità digitale risulta sospesa, revocata o bloccata (o la CIE è scaduta o revocata): contatta il tuo gestore.",
                "Your digital identity is suspended, revoked or locked (or your CIE is expired or revoked): contact your provider.",
            ),
            Some(25) => ("Hai annullato l'accesso.", "You cancelled the sign-in."),
            Some(30) => (
                "Hai usato un tipo di identità digitale diverso da quello richiesto dal servizio (ad esempio per uso professionale o persona giuridica).",
                "You used a different type of digital identity than the one this service requires (for example professional or legal-person use).",
            ),
            _ => (
                "L'accesso non è stato completato dal gestore dell'identità digitale. Riprova.",
                "The identity provider did not complete the sign-in. Please try again.",
            ),
        }
    }
}

impl fmt::Display for IdpRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.error_code {
            Some(n) => write!(f, "ErrorCode nr{n:02} ({})", self.status),
            None => write!(f, "status {}", self.status),
        }
    }
}

/// At most 256 characters, control and bidi characters escaped: the status URIs may come
/// from an unsigned Response and end up in logs through `Display`.
fn truncate(s: &str) -> String {
    crate::printable::printable(s, 256)
}

/// Extracts `NN` from `ErrorCode nrNN` anywhere in the message.
fn parse_error_code(message: &str) -> Option<u8> {
    let rest = message.split("ErrorCode nr").nth(1)?;
    let digits: String = rest
        .chars()
        .take_while(char::is_ascii_digit)
        .take(3)
        .collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes() {
        let r = IdpRefusal::new(
            "urn:oasis:names:tc:SAML:2.0:status:Responder",
            Some("urn:oasis:names:tc:SAML:2.0:status:AuthnFailed"),
            Some("ErrorCode nr22"),
        );
        assert_eq!(r.error_code(), Some(22));
        assert_eq!(r.code(), "nr22");
        assert_eq!(
            IdpRefusal::new("x", None, Some("ErrorCode nr99")).code(),
            "nr-other"
        );
        assert_eq!(IdpRefusal::new("x", None, None).code(), "refused");
        assert!(r.is_user_choice());
        assert!(r.message_it().contains("consenso"));
        assert_eq!(
            IdpRefusal::new("x", None, Some("ErrorCode nr08 bad")).error_code(),
            Some(8)
        );
        assert_eq!(
            IdpRefusal::new("x", None, Some("nothing")).error_code(),
            None
        );
        assert_eq!(
            IdpRefusal::new("x", None, Some("ErrorCode nr")).error_code(),
            None
        );
    }
}
