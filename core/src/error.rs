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
        }
    }

    /// Every code, for the typed union and for tests.
    pub const ALL: [ErrorCode; 7] = [
        ErrorCode::MissingParam,
        ErrorCode::InvalidParam,
        ErrorCode::InvalidKey,
        ErrorCode::SignType,
        ErrorCode::InvalidArgument,
        ErrorCode::Internal,
        ErrorCode::InvalidFile,
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
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;
