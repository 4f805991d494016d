//! One classified error type for the whole hub.
//!
//! Retry, circuit and dead-letter logic hang on two facts about an error: where it came from
//! ([`Origin`]) and whether trying again can help (`retryable`). Both are fields, never string
//! matching. The `message` and `hint` are safe to show to a caller; the `cause` is only logged,
//! and an internal error renders as a generic message so no internals leak over HTTP.

use std::fmt;
use std::time::Duration;

/// Where an error came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// A vendor API or destination Junction called.
    Upstream,
    /// The client that called Junction sent something wrong.
    Downstream,
    /// Junction itself, or its database.
    Internal,
    /// The configuration.
    Config,
}

/// Stable, machine-readable error codes. The string form is part of the HTTP API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Code {
    BadRequest,
    Unauthorized,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    Conflict,
    BodyTooLarge,
    RateLimited,
    NotSupportedYet,
    InvalidConfig,
    StoreUnavailable,
    NotReady,
    UpstreamFailed,
    CircuitOpen,
    NeedsReauth,
    Timeout,
    Internal,
    /// A body breaks the model it is declared against (the schema errors go with it).
    SchemaInvalid,
    /// The vendor refused the request itself (a SOAP Client fault): sending it again cannot help.
    UpstreamRefused,
    /// The vendor answered, but not as its contract says: an answer that breaks the operation's
    /// model or cannot be mapped, a page that breaks the pagination contract.
    UpstreamInvalid,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        match self {
            Code::BadRequest => "bad_request",
            Code::Unauthorized => "unauthorized",
            Code::Forbidden => "forbidden",
            Code::NotFound => "not_found",
            Code::MethodNotAllowed => "method_not_allowed",
            Code::Conflict => "conflict",
            Code::BodyTooLarge => "body_too_large",
            Code::RateLimited => "rate_limited",
            Code::NotSupportedYet => "not_supported_yet",
            Code::InvalidConfig => "invalid_config",
            Code::StoreUnavailable => "store_unavailable",
            Code::NotReady => "not_ready",
            Code::UpstreamFailed => "upstream_failed",
            Code::CircuitOpen => "circuit_open",
            Code::NeedsReauth => "needs_reauth",
            Code::Timeout => "timeout",
            Code::Internal => "internal",
            Code::SchemaInvalid => "schema_invalid",
            Code::UpstreamRefused => "upstream_refused",
            Code::UpstreamInvalid => "upstream_invalid",
        }
    }

    /// The HTTP status this code is answered with.
    pub fn http_status(self) -> u16 {
        match self {
            Code::BadRequest | Code::InvalidConfig | Code::SchemaInvalid => 400,
            Code::UpstreamRefused => 422,
            Code::Unauthorized => 401,
            Code::Forbidden => 403,
            Code::NotFound => 404,
            Code::MethodNotAllowed => 405,
            Code::Conflict => 409,
            Code::BodyTooLarge => 413,
            Code::RateLimited => 429,
            Code::NotSupportedYet => 501,
            Code::UpstreamFailed | Code::NeedsReauth | Code::UpstreamInvalid => 502,
            Code::CircuitOpen => 503,
            Code::StoreUnavailable | Code::NotReady => 503,
            Code::Timeout => 504,
            Code::Internal => 500,
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A classified error: what happened (code), where it came from, whether a retry can help.
#[derive(Debug)]
pub struct Error {
    code: Code,
    origin: Origin,
    retryable: bool,
    message: String,
    hint: Option<String>,
    retry_after: Option<Duration>,
    cause: Option<Cause>,
}

impl Error {
    /// A new error; `retryable` defaults to what the code implies.
    pub fn new(code: Code, origin: Origin, message: impl Into<String>) -> Self {
        let retryable = matches!(
            code,
            Code::StoreUnavailable
                | Code::NotReady
                | Code::RateLimited
                | Code::Timeout
                | Code::UpstreamFailed
                | Code::CircuitOpen
        );
        Self {
            code,
            origin,
            retryable,
            message: message.into(),
            hint: None,
            retry_after: None,
            cause: None,
        }
    }

    /// The caller sent something wrong.
    pub fn downstream(code: Code, message: impl Into<String>) -> Self {
        Self::new(code, Origin::Downstream, message)
    }

    /// Junction failed; the message is logged, the caller sees a generic one.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(Code::Internal, Origin::Internal, message)
    }

    /// The store cannot be reached; the caller should retry after `retry_after`.
    pub fn store_unavailable(retry_after: Duration) -> Self {
        Self::new(
            Code::StoreUnavailable,
            Origin::Internal,
            "the store is unavailable",
        )
        .with_hint("Junction could not reach its database; nothing was stored. Retry later.")
        .with_retry_after(retry_after)
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn with_retry_after(mut self, after: Duration) -> Self {
        self.retry_after = Some(after);
        self
    }

    pub fn with_retryable(mut self, retryable: bool) -> Self {
        self.retryable = retryable;
        self
    }

    pub fn with_cause(mut self, cause: impl Into<Cause>) -> Self {
        self.cause = Some(cause.into());
        self
    }

    pub fn code(&self) -> Code {
        self.code
    }

    pub fn origin(&self) -> Origin {
        self.origin
    }

    pub fn is_retryable(&self) -> bool {
        self.retryable
    }

    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    pub fn hint(&self) -> Option<&str> {
        self.hint.as_deref()
    }

    /// The message as written; internal errors should not show it to callers, see [`Self::public_message`].
    pub fn message(&self) -> &str {
        &self.message
    }

    /// What a caller may see: internal errors hide their message.
    pub fn public_message(&self) -> &str {
        if self.code == Code::Internal {
            "internal error"
        } else {
            &self.message
        }
    }

    /// The JSON body `{"error":{"code","message","hint"}}` rendered to callers.
    pub fn to_body(&self) -> serde_json::Value {
        let mut err = serde_json::json!({
            "code": self.code.as_str(),
            "message": crate::mask::mask(self.public_message()),
        });
        if let Some(hint) = &self.hint {
            err["hint"] = serde_json::Value::String(crate::mask::mask(hint).into_owned());
        }
        serde_json::json!({ "error": err })
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)?;
        if let Some(cause) = &self.cause {
            write!(f, ": {cause}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.cause
            .as_deref()
            .map(|c| c as &(dyn std::error::Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_do_not_leak_their_message() {
        let e = Error::internal("db password is hunter2");
        let body = e.to_body().to_string();
        assert!(!body.contains("hunter2"), "{body}");
        assert!(body.contains("\"code\":\"internal\""));
    }

    #[test]
    fn store_unavailable_is_retryable_503_with_retry_after() {
        let e = Error::store_unavailable(Duration::from_secs(2));
        assert!(e.is_retryable());
        assert_eq!(e.code().http_status(), 503);
        assert_eq!(e.retry_after(), Some(Duration::from_secs(2)));
        assert_eq!(e.origin(), Origin::Internal);
    }

    #[test]
    fn downstream_errors_are_not_retryable() {
        let e = Error::downstream(Code::BadRequest, "bad");
        assert!(!e.is_retryable());
        assert_eq!(e.origin(), Origin::Downstream);
    }
}
