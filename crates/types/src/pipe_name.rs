//! Named-pipe names: `\\.\pipe\NAME` on this machine, `\\HOST\pipe\NAME`
//! on another.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::Win32Error;
use crate::names::NameError;

/// The longest pipe name, in characters, counting the `\\.\pipe\` prefix.
pub const MAX_PIPE_NAME: usize = 256;

/// A validated pipe name.
///
/// The prefix is matched without regard to case; the name after it may hold
/// any character but NUL, backslashes included, and is compared without
/// regard to case (as NPFS does) while keeping the case it was given.
///
/// ```
/// use switchboard_types::{PipeName, Win32Error};
/// let p = PipeName::parse(r"\\.\PiPe\Test\Pipe").unwrap();
/// assert_eq!(p.name(), r"Test\Pipe");
/// assert!(p.is_local());
/// assert_eq!(p.to_string(), r"\\.\pipe\Test\Pipe");
/// assert_eq!(PipeName::parse(r"\\server\pipe\x").unwrap().host(), Some("server"));
/// assert!(PipeName::parse(r"\\.\pipe\<odd> *?|/").is_ok());
/// assert_eq!(PipeName::parse("not a named pipe").unwrap_err().code, Win32Error::ERROR_INVALID_NAME);
/// assert_eq!(PipeName::parse(r"\\.\pipe\").unwrap_err().code, Win32Error::ERROR_INVALID_NAME);
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PipeName {
    host: Option<String>,
    name: String,
}

fn invalid(reason: &'static str) -> NameError {
    NameError { code: Win32Error::ERROR_INVALID_NAME, reason }
}

impl PipeName {
    /// Validates a full pipe name.
    pub fn parse(full: &str) -> Result<Self, NameError> {
        if full.chars().count() > MAX_PIPE_NAME {
            return Err(NameError {
                code: Win32Error::ERROR_FILENAME_EXCED_RANGE,
                reason: "pipe name is longer than 256 characters",
            });
        }
        if full.contains('\0') {
            return Err(invalid("pipe name contains a NUL character"));
        }
        let rest =
            full.strip_prefix(r"\\").ok_or_else(|| invalid(r"a pipe name starts with \\.\pipe\ or \\HOST\pipe\"))?;
        let (host, rest) =
            rest.split_once('\\').ok_or_else(|| invalid(r"a pipe name starts with \\.\pipe\ or \\HOST\pipe\"))?;
        let (pipe, name) = rest.split_once('\\').ok_or_else(|| invalid(r"a pipe name needs \pipe\ after the host"))?;
        if !pipe.eq_ignore_ascii_case("pipe") {
            return Err(invalid(r"a pipe name needs \pipe\ after the host"));
        }
        if host.is_empty() {
            return Err(invalid("a pipe name needs a host ('.' for this machine)"));
        }
        if name.is_empty() {
            return Err(invalid("a pipe name needs a name after \\pipe\\"));
        }
        let host = (host != ".").then(|| host.to_owned());
        Ok(Self { host, name: name.to_owned() })
    }

    /// The pipe's name after `\pipe\`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The remote host, or `None` for this machine.
    pub fn host(&self) -> Option<&str> {
        self.host.as_deref()
    }

    /// Whether the pipe is on this machine.
    pub fn is_local(&self) -> bool {
        self.host.is_none()
    }

    /// The key pipes are compared by: the name without regard to case.
    pub fn key(&self) -> String {
        self.name.to_uppercase()
    }
}

impl TryFrom<String> for PipeName {
    type Error = NameError;
    fn try_from(s: String) -> Result<Self, NameError> {
        Self::parse(&s)
    }
}

impl From<PipeName> for String {
    fn from(p: PipeName) -> String {
        p.to_string()
    }
}

impl fmt::Display for PipeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, r"\\{}\pipe\{}", self.host.as_deref().unwrap_or("."), self.name)
    }
}

impl fmt::Debug for PipeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_differing_in_case_have_one_key() {
        let a = PipeName::parse(r"\\.\PIPE\TEST\PIPE").unwrap();
        let b = PipeName::parse(r"\\.\pipe\test\pipe").unwrap();
        assert_eq!(a.key(), b.key());
        assert_eq!(a.name(), r"TEST\PIPE", "case is preserved");
    }

    #[test]
    fn missing_pieces_are_invalid_names() {
        for bad in [r"\\", r"\\.", r"\\.\pipe", r"\\.\pipes\x", r"\.\pipe\x", r"\\\pipe\x"] {
            assert_eq!(PipeName::parse(bad).unwrap_err().code, Win32Error::ERROR_INVALID_NAME, "{bad}");
        }
    }

    #[test]
    fn overlong_name_is_refused() {
        let long = format!(r"\\.\pipe\{}", "x".repeat(MAX_PIPE_NAME));
        assert_eq!(PipeName::parse(&long).unwrap_err().code, Win32Error::ERROR_FILENAME_EXCED_RANGE);
    }
}
