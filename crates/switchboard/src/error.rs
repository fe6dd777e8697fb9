//! The error every Switchboard operation returns: what was being done, to
//! which object, why it failed, and the one [`Win32Error`] it maps to.

use std::fmt;

pub use switchboard_types::Win32Error;

/// Whose fault a failure is, broadly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The broker refused the request (bad name, access denied, not found, …);
    /// [`Error::win32_error`] says which.
    Refused,
    /// No broker answers for the realm and none could be started.
    BrokerUnreachable,
    /// The broker speaks another protocol version.
    VersionMismatch,
    /// The connection to the broker broke while the request was under way.
    ConnectionLost,
    /// The broker did not answer within the time allowed.
    TimedOut,
    /// The broker sent something this library cannot read.
    Protocol,
    /// A local argument was invalid before anything was sent.
    InvalidArgument,
}

/// A failed Switchboard operation.
///
/// `Display` reads as one sentence: `"SetEvent \"E\": handle 0x8 … (ERROR_ACCESS_DENIED)"`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    code: Win32Error,
    operation: &'static str,
    object: Option<String>,
    reason: String,
}

impl Error {
    /// A new error.
    pub fn new(
        kind: ErrorKind,
        code: Win32Error,
        operation: &'static str,
        object: Option<&str>,
        reason: impl Into<String>,
    ) -> Self {
        Self { kind, code, operation, object: object.map(str::to_owned), reason: reason.into() }
    }

    /// Names the object after the fact (for errors built below the API layer).
    #[must_use]
    pub fn with_object(mut self, operation: &'static str, object: Option<&str>) -> Self {
        self.operation = operation;
        if object.is_some() {
            self.object = object.map(str::to_owned);
        }
        self
    }

    /// Broadly, what went wrong.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The Win32 code, as `GetLastError` would return it.
    pub fn win32_error(&self) -> Win32Error {
        self.code
    }

    /// The operation, named after its Win32 call (`CreateEvent`, `GlobalFindAtom`…).
    pub fn operation(&self) -> &'static str {
        self.operation
    }

    /// The object's name, when there is one.
    pub fn object(&self) -> Option<&str> {
        self.object.as_deref()
    }

    /// The reason, in words.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.operation)?;
        if let Some(object) = &self.object {
            write!(f, " \"{object}\"")?;
        }
        write!(f, ": {}", self.reason)?;
        match self.code.name() {
            Some(name) => write!(f, " ({name})"),
            None => write!(f, " (error {})", self.code.0),
        }
    }
}

impl std::error::Error for Error {}

impl From<Error> for std::io::Error {
    fn from(e: Error) -> Self {
        let kind = match e.code {
            Win32Error::ERROR_FILE_NOT_FOUND | Win32Error::ERROR_PATH_NOT_FOUND => std::io::ErrorKind::NotFound,
            Win32Error::ERROR_ACCESS_DENIED => std::io::ErrorKind::PermissionDenied,
            Win32Error::ERROR_ALREADY_EXISTS => std::io::ErrorKind::AlreadyExists,
            Win32Error::ERROR_INVALID_PARAMETER | Win32Error::ERROR_INVALID_NAME => std::io::ErrorKind::InvalidInput,
            _ if e.kind == ErrorKind::TimedOut => std::io::ErrorKind::TimedOut,
            _ => std::io::ErrorKind::Other,
        };
        std::io::Error::new(kind, e)
    }
}

/// Short for `Result<T, switchboard::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_operation_object_reason_and_code() {
        let e =
            Error::new(ErrorKind::Refused, Win32Error::ERROR_FILE_NOT_FOUND, "OpenEvent", Some("E"), "no such object");
        assert_eq!(e.to_string(), "OpenEvent \"E\": no such object (ERROR_FILE_NOT_FOUND)");
    }
}
