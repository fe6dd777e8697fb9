//! Switchboard's registry store: hives of keys and values with the Win32
//! semantics.
//!
//! A [`Hive`] is one tree (`HKEY_LOCAL_MACHINE` of a realm, or one user's
//! `HKEY_CURRENT_USER`). Key and value names compare case-insensitively and
//! keep their case; values keep their type and bytes exactly, unknown types
//! included ([`RawValue`]; [`RegValue`] reads them by type). Stable changes
//! are durable in a redb file when the call returns; volatile keys live in
//! memory only. The broker owns the hives; nothing here does I/O but the
//! hive's own file.
//!
//! ```
//! # #[cfg(feature = "store")] {
//! use switchboard_registry::{Hive, KeyOptions, KeyPath, RegValue};
//! let mut hive = Hive::in_memory();
//! let app = KeyPath::parse(r"Software\Vendor\App")?;
//! hive.create_key(&app, &KeyOptions::default())?;
//! hive.set_value(&app, "Level", RegValue::Dword(3).to_raw())?;
//! let read = hive.value(&KeyPath::parse(r"SOFTWARE\vendor\app")?, "level")?;
//! assert_eq!(RegValue::from_raw(&read), RegValue::Dword(3));
//! # }
//! # Ok::<(), switchboard_registry::RegError>(())
//! ```
#![forbid(unsafe_code)]

#[cfg(feature = "store")]
mod hive;
pub mod path;
pub mod regfile;
/// Value types and their bytes (shared with the client, so they live in `switchboard-types`).
pub use switchboard_types::registry as value;

use std::fmt;

#[cfg(feature = "store")]
pub use hive::{Disposition, Hive, KeyInfo, KeyOptions, Quota};
pub use path::KeyPath;
use switchboard_types::Win32Error;
pub use value::{RawValue, RegValue};

/// A refused registry operation: one Win32 code and the reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegError {
    /// The code `Reg*` would return.
    pub code: Win32Error,
    /// Why, for people.
    pub message: String,
}

impl RegError {
    /// An error with a code and a reason.
    pub fn new(code: Win32Error, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }
}

impl fmt::Display for RegError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.code)
    }
}

impl std::error::Error for RegError {}
