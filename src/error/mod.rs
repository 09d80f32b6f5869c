//! The two ways a login does not happen: the IdP refused ([`LoginError::Refused`]), or the
//! message failed verification ([`LoginError::Rejected`]). Portals handle them differently:
//! a refusal gets a courtesy page explaining what happened; a rejection is logged and gets
//! a generic error page.

mod refusal;

pub use refusal::IdpRefusal;

use crate::dsig::DsigError;
use crate::xml::XmlError;

/// A store could not be reached or answered nonsense. Operations fail closed on it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct StoreError(pub String);

/// Which signed element a signature error is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signed {
    /// The `samlp:Response` (or logout message) itself.
    Response,
    /// The `saml:Assertion`.
    Assertion,
}

/// Why a message was rejected. Each variant is one rule; [`RejectReason::code`] gives a
/// stable short name for logs, metrics and test manifests. Messages carry no personal data.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RejectReason {
    /// Not base64, not UTF-8, or an XML declaration naming another encoding.
    #[error("message encoding is invalid")]
    InputEncoding,
    /// Larger than the configured limit.
    #[error("message too large")]
    InputTooLarge,
    /// The XML reader refused the document.
    #[error("xml refused: {0}")]
    Xml(XmlError),
    /// The document element is not the expected message.
    #[error("document is not a samlp:{0}")]
    NotAMessage(&'static str),
    /// Two elements share an ID.
    #[error("duplicate ID in the document")]
    DuplicateId,
    /// A signature where none may be, or two on one element.
    #[error("signature in a position that is not allowed")]
    MisplacedSignature,
    /// An element the SAML 2.0 schema (as profiled by SPID) does not allow at that
    /// position: unknown or foreign-namespace children, wrong order, too many occurrences,
    /// text in element-only content or elements in text-only content. Carries the local
    /// name of the element whose content is wrong.
    #[error("element content not allowed by the SAML schema in {0}")]
    SchemaStructure(&'static str),
    /// Not exactly one Assertion as a direct child of the Response (or an encrypted or
    /// nested one).
    #[error("the response must carry exactly one assertion")]
    AssertionCount,
    /// An Issuer that is not the IdP the request was sent to.
    #[error("issuer is not the identity provider the request was sent to")]
    IssuerMismatch,
    /// A signature failed.
    #[error("{which:?} signature: {error}")]
    Signature {
        /// The element.
        which: Signed,
        /// What failed.
        error: DsigError,
    },
    /// The Assertion is not signed.
    #[error("assertion is not signed")]
    AssertionUnsigned,
    /// The Response is not signed and the policy requires it.
    #[error("response is not signed")]
    ResponseUnsigned,
    /// Status, StatusCode or its Value missing or empty, or a top-level Success that
    /// carries a nested (second-level) StatusCode.
    #[error("response status missing or malformed")]
    ResponseStatus,
    /// Response ID missing or empty.
    #[error("response ID missing")]
    ResponseId,
    /// Version is not 2.0.
    #[error("response version is not 2.0")]
    ResponseVersion,
    /// Response IssueInstant missing, malformed or after now (plus the skew).
    #[error("response IssueInstant missing, malformed or in the future")]
    ResponseIssueInstant,
    /// Response IssueInstant before the request it answers (minus the skew): an old
    /// Response, expired or replayed (or, offline, verified at the wrong time).
    #[error("response expired: issued before the login request it answers")]
    ResponseExpired,
    /// InResponseTo missing or not the pending request.
    #[error("response InResponseTo does not match the request")]
    ResponseInResponseTo,
    /// Destination missing or not the ACS that received it.
    #[error("response Destination is not this endpoint")]
    ResponseDestination,
    /// Response Issuer missing or empty.
    #[error("response Issuer missing")]
    ResponseIssuer,
    /// Response Issuer Format present and not `entity`.
    #[error("response Issuer Format is not entity")]
    ResponseIssuerFormat,
    /// Assertion ID missing or empty.
    #[error("assertion ID missing")]
    AssertionId,
    /// Assertion Version is not 2.0.
    #[error("assertion version is not 2.0")]
    AssertionVersion,
    /// Assertion IssueInstant missing, malformed or after now (plus the skew).
    #[error("assertion IssueInstant missing, malformed or in the future")]
    AssertionIssueInstant,
    /// Assertion IssueInstant before the request it answers (minus the skew): an old
    /// Assertion, expired or replayed.
    #[error("assertion expired: issued before the login request it answers")]
    AssertionExpired,
    /// Assertion Issuer missing or empty.
    #[error("assertion Issuer missing")]
    AssertionIssuer,
    /// Assertion Issuer Format missing or not `entity`.
    #[error("assertion Issuer Format is not entity")]
    AssertionIssuerFormat,
    /// Subject missing or empty.
    #[error("subject missing")]
    Subject,
    /// NameID missing or empty.
    #[error("NameID missing")]
    NameId,
    /// NameID Format missing or not transient.
    #[error("NameID Format is not transient")]
    NameIdFormat,
    /// NameID NameQualifier missing, empty or not the IdP's entityID.
    #[error("NameID NameQualifier missing or not the identity provider")]
    NameIdQualifier,
    /// SubjectConfirmation missing, empty, or its Method is not bearer.
    #[error("SubjectConfirmation missing or not bearer")]
    SubjectConfirmation,
    /// SubjectConfirmationData missing.
    #[error("SubjectConfirmationData missing")]
    SubjectConfirmationData,
    /// Recipient missing or not the ACS that received it.
    #[error("Recipient is not this endpoint")]
    Recipient,
    /// SubjectConfirmationData InResponseTo missing or not the pending request.
    #[error("SubjectConfirmationData InResponseTo does not match the request")]
    SubjectInResponseTo,
    /// SubjectConfirmationData NotOnOrAfter missing, malformed or past.
    #[error("SubjectConfirmationData NotOnOrAfter missing, malformed or past")]
    SubjectNotOnOrAfter,
    /// SubjectConfirmationData carries a NotBefore (the bearer confirmation of Web
    /// Browser SSO has none, SAML profiles §4.1.4.2).
    #[error("SubjectConfirmationData NotBefore is not allowed")]
    SubjectNotBefore,
    /// Conditions missing or empty.
    #[error("Conditions missing")]
    Conditions,
    /// Conditions NotBefore missing, malformed or in the future.
    #[error("Conditions NotBefore missing, malformed or in the future")]
    ConditionsNotBefore,
    /// Conditions NotOnOrAfter missing, malformed or past.
    #[error("Conditions NotOnOrAfter missing, malformed or past")]
    ConditionsNotOnOrAfter,
    /// Audience missing or not this SP.
    #[error("Audience is not this service provider")]
    Audience,
    /// A condition the service provider does not understand or accept: a `saml:Condition`
    /// (an extension type), a `ProxyRestriction`, or more than one `OneTimeUse`.
    #[error("unsupported condition")]
    ConditionUnsupported,
    /// AuthnStatement missing or empty.
    #[error("AuthnStatement missing")]
    AuthnStatement,
    /// AuthnContext / AuthnContextClassRef missing or empty.
    #[error("AuthnContextClassRef missing")]
    AuthnContext,
    /// The returned level is not a SPID level or does not satisfy the request.
    #[error("authentication level not acceptable for the request")]
    AuthnLevel,
    /// AuthnInstant missing or malformed, after now (plus skew), or, when the request
    /// forced a new authentication, before the request (minus skew).
    #[error("AuthnInstant missing, malformed or out of window")]
    AuthnInstant,
    /// AuthnStatement SessionNotOnOrAfter malformed or past.
    #[error("SessionNotOnOrAfter malformed or past")]
    SessionNotOnOrAfter,
    /// AttributeStatement without Attribute.
    #[error("AttributeStatement without attributes")]
    AttributeStatement,
    /// An Attribute without Name or without a non-empty value.
    #[error("attribute without a value")]
    AttributeValue,
    /// An attribute Name sent twice, or a SPID attribute (single-valued) with more than
    /// one value.
    #[error("attribute sent twice or with several values")]
    AttributeDuplicate,
    /// The pending request has expired.
    #[error("the login request has expired")]
    RequestExpired,
    /// This assertion (or answer to this request) was already consumed.
    #[error("replayed message")]
    Replay,
    /// The identity has neither a fiscal code nor an eIDAS identifier.
    #[error("identity without fiscal code or eIDAS identifier")]
    IdentityKeyMissing,
    /// The replay cache could not be reached: fail closed.
    #[error("store unavailable: {0}")]
    Store(StoreError),
    /// The IdP is not (or no longer) trusted.
    #[error("identity provider not trusted")]
    UnknownIdp,
    /// The RelayState posted back is not the one sent with the request, or is missing
    /// while one was sent (SAML bindings §3.5.3: the IdP must return it).
    #[error("RelayState does not match the request")]
    RelayState,
    /// A logout message does not match the session or request it claims to answer.
    #[error("logout message does not match")]
    LogoutMismatch,
    /// A Redirect-binding parameter problem (missing, repeated, undecodable).
    #[error("redirect binding: {0}")]
    Redirect(&'static str),
    /// The IdP's metadata marks it as a test IdP and the service provider did not opt in
    /// (`ServiceProvider::allow_test_idp`, feature `test-idp`).
    #[error("test identity provider not enabled")]
    TestIdpRefused,
    /// The transaction registry could not record the message: nothing is accepted (a
    /// portal must not admit someone it cannot account for).
    #[error("transaction registry unavailable")]
    AuditUnavailable,
}

impl From<crate::ids::RandomError> for StartError {
    fn from(_: crate::ids::RandomError) -> Self {
        StartError::Random
    }
}

impl RejectReason {
    /// A stable short code (kebab-case) naming the rule, e.g. `digest-mismatch`.
    pub fn code(&self) -> &'static str {
        use RejectReason::*;
        match self {
            InputEncoding => "input-encoding",
            InputTooLarge => "input-too-large",
            Xml(XmlError::Dtd) => "xml-dtd",
            Xml(XmlError::CommentInText | XmlError::ProcessingInstruction) => "xml-comment",
            Xml(XmlError::Encoding) => "input-encoding",
            Xml(XmlError::TooLarge { .. }) => "input-too-large",
            Xml(XmlError::Malformed(_)) => "xml-malformed",
            Xml(_) => "xml-limits",
            NotAMessage(_) => "not-a-response",
            DuplicateId => "duplicate-id",
            MisplacedSignature => "misplaced-signature",
            SchemaStructure(_) => "schema-structure",
            AssertionCount => "assertion-count",
            IssuerMismatch => "issuer-mismatch",
            Signature { error, .. } => match error {
                DsigError::Malformed(_) | DsigError::Sign(_) => "signature-malformed",
                DsigError::Algorithm => "signature-algorithm",
                DsigError::Reference => "signature-reference",
                DsigError::Transforms => "signature-transforms",
                DsigError::WeakKey { .. } => "weak-key",
                DsigError::DigestMismatch => "digest-mismatch",
                DsigError::Invalid | DsigError::Crypto => "signature-invalid",
                DsigError::NoKey => "no-trusted-key",
            },
            AssertionUnsigned => "assertion-unsigned",
            ResponseUnsigned => "response-unsigned",
            ResponseStatus => "response-status",
            ResponseId => "response-id",
            ResponseVersion => "response-version",
            ResponseIssueInstant => "response-issue-instant",
            ResponseExpired => "response-expired",
            ResponseInResponseTo => "response-in-response-to",
            ResponseDestination => "response-destination",
            ResponseIssuer => "response-issuer",
            ResponseIssuerFormat => "response-issuer-format",
            AssertionId => "assertion-id",
            AssertionVersion => "assertion-version",
            AssertionIssueInstant => "assertion-issue-instant",
            AssertionExpired => "assertion-expired",
            AssertionIssuer => "assertion-issuer",
            AssertionIssuerFormat => "assertion-issuer-format",
            Subject => "subject",
            NameId => "name-id",
            NameIdFormat => "name-id-format",
            NameIdQualifier => "name-id-qualifier",
            SubjectConfirmation => "subject-confirmation",
            SubjectConfirmationData => "subject-confirmation-data",
            Recipient => "recipient",
            SubjectInResponseTo => "subject-in-response-to",
            SubjectNotOnOrAfter => "subject-not-on-or-after",
            SubjectNotBefore => "subject-not-before",
            Conditions => "conditions",
            ConditionsNotBefore => "conditions-not-before",
            ConditionsNotOnOrAfter => "conditions-not-on-or-after",
            Audience => "audience",
            ConditionUnsupported => "condition-unsupported",
            AuthnStatement => "authn-statement",
            AuthnContext => "authn-context",
            AuthnLevel => "authn-level",
            AuthnInstant => "authn-instant",
            SessionNotOnOrAfter => "session-not-on-or-after",
            AttributeStatement => "attribute-statement",
            AttributeValue => "attribute-value",
            AttributeDuplicate => "attribute-duplicate",
            RequestExpired => "request-expired",
            Replay => "replay",
            IdentityKeyMissing => "identity-key-missing",
            Store(_) => "store-unavailable",
            UnknownIdp => "unknown-idp",
            RelayState => "relay-state",
            LogoutMismatch => "logout-mismatch",
            Redirect(_) => "redirect-binding",
            TestIdpRefused => "test-idp-refused",
            AuditUnavailable => "audit-unavailable",
        }
    }

    /// Whether the cause is on the SP's side (store down, no key configured) rather than
    /// in the message: integrations answer 503/500 instead of 400/403.
    pub fn is_internal(&self) -> bool {
        matches!(
            self,
            RejectReason::Store(_)
                | RejectReason::AuditUnavailable
                | RejectReason::Signature {
                    error: DsigError::NoKey | DsigError::Crypto,
                    ..
                }
        )
    }
}

/// The outcome of a login that did not complete.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LoginError {
    /// The IdP answered with a non-Success status (user cancelled, wrong credentials,
    /// `ErrorCode nr19`–`nr30`...): show the courtesy page of [`IdpRefusal`].
    #[error("the identity provider refused: {0}")]
    Refused(IdpRefusal),
    /// The message failed verification: log the reason, show a generic error.
    #[error("response rejected: {0}")]
    Rejected(RejectReason),
}

impl LoginError {
    /// A stable short code for logs and metrics: the refusal's code ([`IdpRefusal::code`],
    /// `nrNN` or `refused`) or the rejection's ([`RejectReason::code`]).
    pub fn code(&self) -> &'static str {
        match self {
            LoginError::Refused(r) => r.code(),
            LoginError::Rejected(r) => r.code(),
        }
    }
}

impl From<RejectReason> for LoginError {
    fn from(r: RejectReason) -> Self {
        LoginError::Rejected(r)
    }
}

/// A login or logout could not be started (a configuration or caller problem).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The IdP is not in the trusted registry.
    #[error("unknown identity provider")]
    UnknownIdp,
    /// The IdP publishes no endpoint for the binding.
    #[error("the identity provider has no endpoint for this binding")]
    NoEndpoint,
    /// The options ask for something the federation does not allow.
    #[error("invalid login options: {0}")]
    InvalidOptions(&'static str),
    /// Signing failed.
    #[error("signing failed: {0}")]
    Signing(#[from] DsigError),
    /// The IdP's metadata marks it as a test IdP and the service provider did not opt in.
    #[error("test identity provider not enabled")]
    TestIdpRefused,
    /// The system's random number generator failed: no ID is issued (fail closed).
    #[error("random number generator unavailable")]
    Random,
    /// The transaction registry could not record the request: it is not sent.
    #[error("transaction registry unavailable")]
    Audit,
}

impl StartError {
    /// A stable short code for logs and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            StartError::UnknownIdp => "unknown-idp",
            StartError::NoEndpoint => "no-endpoint",
            StartError::InvalidOptions(_) => "invalid-options",
            StartError::Signing(_) => "signing-failed",
            StartError::TestIdpRefused => "test-idp-refused",
            StartError::Random => "random-unavailable",
            StartError::Audit => "audit-unavailable",
        }
    }
}
