//! Errors as AWS reports them: a code and a message, both part of the contract.

use std::fmt;

/// A request the model refused, with AWS's error code and message.
///
/// Both front-ends show these unchanged: the EC2 API puts them in its error envelope,
/// the lab front-end prints them next to the offending line of the topology file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    /// AWS's error code, e.g. `InvalidSubnet.Conflict`.
    pub code: &'static str,
    /// AWS's message for it.
    pub message: String,
}

impl ApiError {
    pub(crate) fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }

    pub(crate) fn not_found(code: &'static str, kind: &str, id: &str) -> Self {
        Self::new(code, format!("The {kind} ID '{id}' does not exist"))
    }

    pub(crate) fn invalid_value(message: impl Into<String>) -> Self {
        Self::new("InvalidParameterValue", message)
    }

    pub(crate) fn dependency(kind: &str, id: &str) -> Self {
        Self::new(
            "DependencyViolation",
            format!("The {kind} '{id}' has dependencies and cannot be deleted."),
        )
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for ApiError {}
