//! Validated names, parsed once at the edge.
//!
//! Nothing else in Switchboard handles raw name strings: a request carries an
//! [`ObjectName`] or a [`NamespacePath`], and deserializing one validates it.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::Win32Error;

/// `MAX_PATH`: an object name of this many characters or more is refused with
/// `ERROR_FILENAME_EXCED_RANGE`, as the A-version Win32 calls do.
pub const MAX_PATH: usize = 260;

/// Why a name was refused; each maps to one [`Win32Error`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NameError {
    /// The code Windows gives for this kind of bad name.
    pub code: Win32Error,
    /// What is wrong with it, for people.
    pub reason: &'static str,
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason)
    }
}

impl std::error::Error for NameError {}

fn invalid(reason: &'static str) -> NameError {
    NameError { code: Win32Error::ERROR_INVALID_NAME, reason }
}

/// The name of a named kernel object (event, mutex, semaphore, section), as a
/// program passes it to `CreateEvent` and friends.
///
/// The name is relative to the caller's session directory
/// (`\Sessions\<uid>\BaseNamedObjects`, see [`NamespacePath::session_objects`]);
/// its components are separated by `\`, and every component but the last must
/// resolve to a directory or a link there: `Local\x` is `x`, `Global\x` is in
/// the realm's global `\BaseNamedObjects`.
/// Names are case-sensitive.
///
/// ```
/// use switchboard_types::ObjectName;
/// assert!(ObjectName::parse("Test Event").is_ok());
/// assert!(ObjectName::parse("Local\\x").is_ok());
/// assert!(ObjectName::parse("Global\\my-app/lock").is_ok());
/// assert_eq!(ObjectName::parse("Global\\x").unwrap().components().collect::<Vec<_>>(), ["Global", "x"]);
/// ```
///
/// Refused:
///
/// ```
/// use switchboard_types::{ObjectName, Win32Error};
/// assert_eq!(ObjectName::parse("").unwrap_err().code, Win32Error::ERROR_INVALID_NAME);
/// assert_eq!(ObjectName::parse("\\x").unwrap_err().code, Win32Error::ERROR_INVALID_NAME);
/// assert_eq!(ObjectName::parse("a\\\\b").unwrap_err().code, Win32Error::ERROR_INVALID_NAME);
/// assert_eq!(ObjectName::parse("x\\").unwrap_err().code, Win32Error::ERROR_INVALID_NAME);
/// assert_eq!(ObjectName::parse("nul\0byte").unwrap_err().code, Win32Error::ERROR_INVALID_NAME);
/// let long = "x".repeat(260);
/// assert_eq!(ObjectName::parse(&long).unwrap_err().code, Win32Error::ERROR_FILENAME_EXCED_RANGE);
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ObjectName(String);

impl ObjectName {
    /// Validates a name.
    pub fn parse(name: &str) -> Result<Self, NameError> {
        if name.chars().count() >= MAX_PATH {
            return Err(NameError {
                code: Win32Error::ERROR_FILENAME_EXCED_RANGE,
                reason: "name is MAX_PATH (260) characters or longer",
            });
        }
        if name.is_empty() {
            return Err(invalid("name is empty"));
        }
        if name.contains('\0') {
            return Err(invalid("name contains a NUL character"));
        }
        if name.split('\\').any(str::is_empty) {
            return Err(invalid("name has an empty path component"));
        }
        Ok(Self(name.to_owned()))
    }

    /// The name as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The path components, in order.
    pub fn components(&self) -> impl Iterator<Item = &str> {
        self.0.split('\\')
    }
}

impl TryFrom<String> for ObjectName {
    type Error = NameError;
    fn try_from(s: String) -> Result<Self, NameError> {
        Self::parse(&s)
    }
}

impl From<ObjectName> for String {
    fn from(n: ObjectName) -> String {
        n.0
    }
}

impl fmt::Display for ObjectName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ObjectName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

/// An absolute path in the realm's object namespace, such as
/// `\BaseNamedObjects\E` or `\Device\NamedPipe`. The root is `\`.
///
/// ```
/// use switchboard_types::NamespacePath;
/// assert!(NamespacePath::parse("\\").is_ok());
/// assert!(NamespacePath::parse("\\BaseNamedObjects\\E").is_ok());
/// assert!(NamespacePath::parse("BaseNamedObjects").is_err());
/// assert!(NamespacePath::parse("\\a\\\\b").is_err());
/// assert!(NamespacePath::parse("\\a\\").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct NamespacePath(String);

impl NamespacePath {
    /// The root directory, `\`.
    pub fn root() -> Self {
        Self("\\".to_owned())
    }

    /// Validates an absolute path.
    pub fn parse(path: &str) -> Result<Self, NameError> {
        let Some(rest) = path.strip_prefix('\\') else {
            return Err(NameError {
                code: Win32Error::ERROR_PATH_NOT_FOUND,
                reason: "a namespace path starts with a backslash",
            });
        };
        if path.len() > 4 * MAX_PATH {
            return Err(NameError { code: Win32Error::ERROR_FILENAME_EXCED_RANGE, reason: "path is too long" });
        }
        if path.contains('\0') {
            return Err(invalid("path contains a NUL character"));
        }
        if !rest.is_empty() && rest.split('\\').any(str::is_empty) {
            return Err(invalid("path has an empty component"));
        }
        Ok(Self(path.to_owned()))
    }

    /// The path as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Components below the root (none for the root itself).
    pub fn components(&self) -> impl DoubleEndedIterator<Item = &str> {
        self.0[1..].split('\\').filter(|c| !c.is_empty())
    }

    /// This path with one more component.
    #[must_use]
    pub fn join(&self, component: &str) -> Self {
        if self.0 == "\\" { Self(format!("\\{component}")) } else { Self(format!("{}\\{component}", self.0)) }
    }

    /// The directory where `Local\` names of logon session `session` live,
    /// `\Sessions\<session>\BaseNamedObjects`. Each user is its own logon
    /// session, numbered by its uid (root's is session 0).
    ///
    /// ```
    /// use switchboard_types::NamespacePath;
    /// assert_eq!(NamespacePath::session_objects(1000).as_str(), "\\Sessions\\1000\\BaseNamedObjects");
    /// ```
    pub fn session_objects(session: u32) -> Self {
        Self(format!("\\Sessions\\{session}\\BaseNamedObjects"))
    }

    /// The last component, or `\` for the root.
    pub fn file_name(&self) -> &str {
        self.0.rsplit('\\').next().filter(|s| !s.is_empty()).unwrap_or("\\")
    }
}

impl TryFrom<String> for NamespacePath {
    type Error = NameError;
    fn try_from(s: String) -> Result<Self, NameError> {
        Self::parse(&s)
    }
}

impl From<NamespacePath> for String {
    fn from(n: NamespacePath) -> String {
        n.0
    }
}

impl fmt::Display for NamespacePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for NamespacePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_of_259_characters_is_accepted() {
        assert!(ObjectName::parse(&"n".repeat(MAX_PATH - 1)).is_ok());
    }

    #[test]
    fn deserializing_validates() {
        let bad: Result<ObjectName, _> = ObjectName::try_from(String::from("a\\\\b"));
        assert!(bad.is_err());
    }

    #[test]
    fn join_and_file_name() {
        let p = NamespacePath::root().join("BaseNamedObjects").join("E");
        assert_eq!(p.as_str(), "\\BaseNamedObjects\\E");
        assert_eq!(p.file_name(), "E");
        assert_eq!(NamespacePath::root().file_name(), "\\");
        assert_eq!(p.components().collect::<Vec<_>>(), ["BaseNamedObjects", "E"]);
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(s in ".{0,300}") {
            let _ = ObjectName::parse(&s);
            let _ = NamespacePath::parse(&s);
        }
    }
}
