//! One error type for the whole core: a stable code, the offending field, and a message
//! that says what was wrong and what would be right. No message ever quotes key material.

use std::fmt;

/// The stable codes a caller can branch on. The JavaScript layer exposes them as
/// `err.code` strings (`ErrorCode::as_str`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// A parameter the rules require is absent.
    MissingParam,
    /// A parameter is present but its name or value breaks a rule.
    InvalidParam,
    /// A key could not be used: wrong kind, wrong format, too short, encrypted, …
    InvalidKey,
    /// The sign type is unknown, or does not agree with the key or the parameters.
    SignType,
    /// An argument has the wrong shape (not an object, not a string, …).
    InvalidArgument,
    /// A bug in this library; never the caller's fault.
    Internal,
    /// A reconciliation file (transactions, settlement batch, settlement) breaks its format;
    /// `field` names the line and column, e.g. `line 7, column Amount`.
    InvalidFile,
    /// A gateway reply is not the XML envelope of protocol §8.2 (empty, truncated, an HTML
    /// page, a DTD, too large or too deep, a field given twice, …), or a signed reply is
    /// about another order than the one asked for.
    MalformedReply,
    /// A gateway reply's signature is missing, of a type the key cannot check, or does not
    /// match (protocol §8.2). Such a reply is never taken as a final state.
    ReplySignature,
    /// The gateway answered with an error code (`is_success=F`, protocol §8.2).
    GatewayError,
    /// The gateway could not be reached (network error, time-out, HTTP 5xx). Raised by the
    /// HTTP layer, never by this crate, which does no I/O.
    GatewayUnreachable,
}

impl ErrorCode {
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCode::MissingParam => "ERR_ALIPAYHK_MISSING_PARAM",
            ErrorCode::InvalidParam => "ERR_ALIPAYHK_INVALID_PARAM",
            ErrorCode::InvalidKey => "ERR_ALIPAYHK_INVALID_KEY",
            ErrorCode::SignType => "ERR_ALIPAYHK_SIGN_TYPE",
            ErrorCode::InvalidArgument => "ERR_ALIPAYHK_INVALID_ARGUMENT",
            ErrorCode::Internal => "ERR_ALIPAYHK_INTERNAL",
            ErrorCode::InvalidFile => "ERR_ALIPAYHK_INVALID_FILE",
            ErrorCode::MalformedReply => "ERR_ALIPAYHK_MALFORMED_REPLY",
            ErrorCode::ReplySignature => "ERR_ALIPAYHK_REPLY_SIGNATURE",
            ErrorCode::GatewayError => "ERR_ALIPAYHK_GATEWAY_ERROR",
            ErrorCode::GatewayUnreachable => "ERR_ALIPAYHK_GATEWAY_UNREACHABLE",
        }
    }

    /// Every code, for the typed union and for tests.
    pub const ALL: [ErrorCode; 11] = [
        ErrorCode::MissingParam,
        ErrorCode::InvalidParam,
        ErrorCode::InvalidKey,
        ErrorCode::SignType,
        ErrorCode::InvalidArgument,
        ErrorCode::Internal,
        ErrorCode::InvalidFile,
        ErrorCode::MalformedReply,
        ErrorCode::ReplySignature,
        ErrorCode::GatewayError,
        ErrorCode::GatewayUnreachable,
    ];
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub code: ErrorCode,
    /// The parameter (or argument) at fault, when there is one.
    pub field: Option<String>,
    pub message: String,
}

impl Error {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Error {
            code,
            field: None,
            message: message.into(),
        }
    }

    pub fn with_field(
        code: ErrorCode,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Error {
            code,
            field: Some(field.into()),
            message: message.into(),
        }
    }

    pub fn missing(field: &str, message: impl Into<String>) -> Self {
        Error::with_field(ErrorCode::MissingParam, field, message)
    }

    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Error::with_field(ErrorCode::InvalidParam, field, message)
    }

    pub fn key(message: impl Into<String>) -> Self {
        Error::new(ErrorCode::InvalidKey, message)
    }

    pub fn sign_type(message: impl Into<String>) -> Self {
        Error::new(ErrorCode::SignType, message)
    }

    pub fn argument(field: &str, message: impl Into<String>) -> Self {
        Error::with_field(ErrorCode::InvalidArgument, field, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Error::new(ErrorCode::Internal, message)
    }

    /// This error, naming `field` when it names none yet (a key error raised deep in key
    /// parsing is about the argument or setting the key came from).
    pub fn in_field(mut self, field: &str) -> Self {
        if self.field.is_none() {
            self.field = Some(field.to_owned());
        }
        self
    }

    pub fn malformed_reply(message: impl Into<String>) -> Self {
        Error::new(ErrorCode::MalformedReply, message)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;
