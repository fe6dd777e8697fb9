//! Key paths inside a hive, with the Windows limits on names.

use std::fmt;

use switchboard_types::Win32Error;

use crate::RegError;

/// The longest key name, one component (UTF-16 units).
pub const MAX_KEY_NAME: usize = 255;
/// The longest value name (UTF-16 units).
pub const MAX_VALUE_NAME: usize = 16_383;
/// The deepest a key may sit below its hive's root.
pub const MAX_DEPTH: usize = 512;

/// A key's path below its hive's root: `Software\Vendor\App`, with its
/// case kept; the empty path is the root. Components are never empty and
/// never hold a backslash.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct KeyPath {
    parts: Vec<String>,
}

impl KeyPath {
    /// The hive's root.
    pub fn root() -> Self {
        Self::default()
    }

    /// Parses `A\B\C`. Leading and trailing backslashes are ignored (as
    /// `RegCreateKeyEx` does with a leading one); empty components, names
    /// over 255 characters and depths over 512 are refused.
    pub fn parse(text: &str) -> Result<Self, RegError> {
        let trimmed = text.trim_matches('\\');
        if trimmed.is_empty() {
            return Ok(Self::root());
        }
        let mut path = Self::root();
        for part in trimmed.split('\\') {
            path = path.child(part)?;
        }
        Ok(path)
    }

    /// This path with one more component.
    pub fn child(&self, name: &str) -> Result<Self, RegError> {
        if name.is_empty() || name.contains('\\') {
            return Err(RegError::new(
                Win32Error::ERROR_BADKEY,
                format!("{name:?} is not a key name (empty, or holds a backslash)"),
            ));
        }
        if name.encode_utf16().count() > MAX_KEY_NAME {
            return Err(RegError::new(
                Win32Error::ERROR_INVALID_PARAMETER,
                format!("a key name is at most {MAX_KEY_NAME} characters"),
            ));
        }
        if self.parts.len() >= MAX_DEPTH {
            return Err(RegError::new(
                Win32Error::ERROR_INVALID_PARAMETER,
                format!("keys nest at most {MAX_DEPTH} deep"),
            ));
        }
        let mut parts = self.parts.clone();
        parts.push(name.to_owned());
        Ok(Self { parts })
    }

    /// The components, case kept.
    pub fn parts(&self) -> &[String] {
        &self.parts
    }

    /// Whether this is the root.
    pub fn is_root(&self) -> bool {
        self.parts.is_empty()
    }

    /// The parent, unless this is the root.
    pub fn parent(&self) -> Option<Self> {
        let (_, rest) = self.parts.split_last()?;
        Some(Self { parts: rest.to_vec() })
    }

    /// The last component (empty for the root).
    pub fn name(&self) -> &str {
        self.parts.last().map_or("", String::as_str)
    }

    /// Whether this is `ancestor` or lies below it (names compared ignoring case).
    pub fn is_within(&self, ancestor: &KeyPath) -> bool {
        self.parts.len() >= ancestor.parts.len()
            && self.parts.iter().zip(&ancestor.parts).all(|(a, b)| a == b || fold(a) == fold(b))
    }

    /// The path folded for comparison: names are case-insensitive.
    #[cfg_attr(not(feature = "store"), allow(dead_code))]
    pub(crate) fn folded(&self) -> String {
        fold(&self.to_string())
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.parts.join("\\"))
    }
}

/// A name folded for comparison as Windows compares key and value names
/// (for callers outside this crate, such as the merged `HKEY_CLASSES_ROOT`).
pub fn fold_name(name: &str) -> String {
    fold(name)
}

/// A name folded for case-insensitive comparison (Windows compares key and
/// value names by their upper-case forms).
///
/// Each character maps to one (as Windows upcases each UTF-16 unit to one):
/// a character whose upper case is several (`ß`) stays as it is.
pub(crate) fn fold(name: &str) -> String {
    name.chars()
        .map(|c| {
            let mut upper = c.to_uppercase();
            match (upper.next(), upper.next()) {
                (Some(u), None) => u,
                _ => c,
            }
        })
        .collect()
}

/// Checks a value name (the empty name is the key's default value).
#[cfg_attr(not(feature = "store"), allow(dead_code))]
pub(crate) fn check_value_name(name: &str) -> Result<(), RegError> {
    if name.encode_utf16().count() > MAX_VALUE_NAME {
        return Err(RegError::new(
            Win32Error::ERROR_INVALID_PARAMETER,
            format!("a value name is at most {MAX_VALUE_NAME} characters"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_parse_keep_case_and_refuse_bad_names() {
        let p = KeyPath::parse("\\Software\\Vendor\\App\\").unwrap();
        assert_eq!(p.parts(), ["Software", "Vendor", "App"]);
        assert_eq!(p.to_string(), "Software\\Vendor\\App");
        assert_eq!(p.parent().unwrap().name(), "Vendor");
        assert!(KeyPath::parse("").unwrap().is_root());
        assert_eq!(KeyPath::parse("a\\\\b").unwrap_err().code, Win32Error::ERROR_BADKEY);
        assert!(KeyPath::parse(&"x".repeat(255)).is_ok());
        assert_eq!(KeyPath::parse(&"x".repeat(256)).unwrap_err().code, Win32Error::ERROR_INVALID_PARAMETER);
        let deep = vec!["k"; 512].join("\\");
        assert!(KeyPath::parse(&deep).is_ok());
        assert!(KeyPath::parse(&format!("{deep}\\k")).is_err());
        assert_eq!(fold("Straße"), "STRAßE", "one character for one, as Windows");
        assert_eq!(fold("ÉcoLE"), "ÉCOLE");
        assert!(p.is_within(&KeyPath::parse("software\\VENDOR").unwrap()));
        assert!(p.is_within(&p) && p.is_within(&KeyPath::root()));
        assert!(!KeyPath::parse("Software").unwrap().is_within(&p));
    }
}
