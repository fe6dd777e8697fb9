//! Mailslot names: `\\.\mailslot\NAME` here; `\\HOST\mailslot\NAME`,
//! `\\DOMAIN\mailslot\NAME` and `\\*\mailslot\NAME` elsewhere.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::Win32Error;
use crate::names::NameError;

/// Where a mailslot name points.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum MailslotScope {
    /// This machine (`\\.\mailslot\…`).
    Local,
    /// A named machine or a domain (`\\NAME\mailslot\…`); which of the two
    /// only the network can tell.
    Remote(String),
    /// Every machine of the primary domain (`\\*\mailslot\…`).
    Broadcast,
}

/// A validated mailslot name. The prefix and the name are matched without
/// regard to case; the name may hold backslashes (nested paths).
///
/// ```
/// use switchboard_types::{MailslotName, MailslotScope, Win32Error};
/// let m = MailslotName::parse(r"\\.\MailSlot\app\news").unwrap();
/// assert_eq!((m.name(), m.scope()), (r"app\news", &MailslotScope::Local));
/// assert_eq!(MailslotName::parse(r"\\*\mailslot\x").unwrap().scope(), &MailslotScope::Broadcast);
/// assert_eq!(MailslotName::parse(r"\\host\mailslot\x").unwrap().scope(), &MailslotScope::Remote("host".into()));
/// assert_eq!(MailslotName::parse("blah").unwrap_err().code, Win32Error::ERROR_INVALID_NAME);
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct MailslotName {
    scope: MailslotScope,
    name: String,
}

fn invalid(reason: &'static str) -> NameError {
    NameError { code: Win32Error::ERROR_INVALID_NAME, reason }
}

impl MailslotName {
    /// Validates a full mailslot name.
    pub fn parse(full: &str) -> Result<Self, NameError> {
        if full.chars().count() > crate::names::MAX_PATH {
            return Err(NameError {
                code: Win32Error::ERROR_FILENAME_EXCED_RANGE,
                reason: "mailslot name is too long",
            });
        }
        if full.contains('\0') {
            return Err(invalid("mailslot name contains a NUL character"));
        }
        let usage = r"a mailslot name is \\.\mailslot\NAME (or \\HOST\, \\DOMAIN\, \\*\ for other machines)";
        let rest = full.strip_prefix(r"\\").ok_or_else(|| invalid(usage))?;
        let (host, rest) = rest.split_once('\\').ok_or_else(|| invalid(usage))?;
        let (slot, name) = rest.split_once('\\').ok_or_else(|| invalid(usage))?;
        if !slot.eq_ignore_ascii_case("mailslot") || host.is_empty() || name.is_empty() {
            return Err(invalid(usage));
        }
        if name.split('\\').any(str::is_empty) {
            return Err(invalid("mailslot name has an empty path component"));
        }
        let scope = match host {
            "." => MailslotScope::Local,
            "*" => MailslotScope::Broadcast,
            other => MailslotScope::Remote(other.to_owned()),
        };
        Ok(Self { scope, name: name.to_owned() })
    }

    /// The name after `\mailslot\`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Where it points.
    pub fn scope(&self) -> &MailslotScope {
        &self.scope
    }

    /// Whether it is on this machine.
    pub fn is_local(&self) -> bool {
        self.scope == MailslotScope::Local
    }

    /// The key mailslots are compared by: the name without regard to case.
    pub fn key(&self) -> String {
        self.name.to_uppercase()
    }
}

impl TryFrom<String> for MailslotName {
    type Error = NameError;
    fn try_from(s: String) -> Result<Self, NameError> {
        Self::parse(&s)
    }
}

impl From<MailslotName> for String {
    fn from(m: MailslotName) -> String {
        m.to_string()
    }
}

impl fmt::Display for MailslotName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = match &self.scope {
            MailslotScope::Local => ".",
            MailslotScope::Broadcast => "*",
            MailslotScope::Remote(h) => h,
        };
        write!(f, r"\\{host}\mailslot\{}", self.name)
    }
}

impl fmt::Debug for MailslotName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_differing_in_case_share_a_key_and_keep_their_case() {
        let a = MailslotName::parse(r"\\.\MAILSLOT\News").unwrap();
        let b = MailslotName::parse(r"\\.\mailslot\NEWS").unwrap();
        assert_eq!(a.key(), b.key());
        assert_eq!(a.to_string(), r"\\.\mailslot\News");
    }

    #[test]
    fn malformed_names_are_invalid() {
        for bad in [r"\\.\mailslot\", r"\\.\mailslots\x", r"\\\mailslot\x", r"\\.\mailslot\a\\b", "mailslot"] {
            assert_eq!(MailslotName::parse(bad).unwrap_err().code, Win32Error::ERROR_INVALID_NAME, "{bad}");
        }
    }
}
