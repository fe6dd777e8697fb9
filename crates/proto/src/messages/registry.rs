//! The messages of the registry.

use serde::{Deserialize, Serialize};
use switchboard_types::registry::{RawValue, RootKey};
use switchboard_types::{AccessMask, Handle};

use super::Security;

/// Where a registry path starts: a predefined key or an open key handle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RegBase {
    /// `HKEY_LOCAL_MACHINE`, `HKEY_CURRENT_USER`, ….
    Root(RootKey),
    /// A key the caller opened.
    Key(Handle),
}

/// `RegCreateKeyEx`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegCreateKey {
    /// Where `path` starts.
    pub base: RegBase,
    /// The key below `base` (`A\B`; empty: `base` itself).
    pub path: String,
    /// `REG_OPTION_VOLATILE` for keys this creates.
    pub volatile: bool,
    /// The class of keys this creates.
    pub class: String,
    /// Security for keys this creates (default: the parent's).
    pub security: Security,
    /// Desired access for the handle (`KEY_*`).
    pub access: AccessMask,
}

/// What `RegCreateKeyEx` did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegKeyCreated {
    /// The key's handle.
    pub handle: Handle,
    /// `REG_CREATED_NEW_KEY` (else `REG_OPENED_EXISTING_KEY`).
    pub created: bool,
}

/// `RegOpenKeyEx`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegOpenKey {
    /// Where `path` starts.
    pub base: RegBase,
    /// The key below `base` (empty: `base` itself).
    pub path: String,
    /// Desired access (`KEY_*`).
    pub access: AccessMask,
}

/// `RegSetValueEx`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegSetValue {
    /// The key (`KEY_SET_VALUE`).
    pub key: Handle,
    /// The value's name (`""`: the default value).
    pub name: String,
    /// Its type and bytes.
    pub value: RawValue,
}

/// `RegQueryValueEx` (needs `KEY_QUERY_VALUE`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegQueryValue {
    /// The key.
    pub key: Handle,
    /// The value's name (`""`: the default value).
    pub name: String,
}

/// `RegDeleteValue` (needs `KEY_SET_VALUE`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegDeleteValue {
    /// The key.
    pub key: Handle,
    /// The value's name (`""`: the default value).
    pub name: String,
}

/// `RegEnumValue` (needs `KEY_QUERY_VALUE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegEnumValues {
    /// The key.
    pub key: Handle,
}

/// `RegEnumKeyEx` (needs `KEY_ENUMERATE_SUB_KEYS`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegEnumKeys {
    /// The key.
    pub key: Handle,
}

/// `RegQueryInfoKey` (needs `KEY_QUERY_VALUE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegQueryInfo {
    /// The key.
    pub key: Handle,
}

/// A value with its name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegNamedValue {
    /// The name, case kept.
    pub name: String,
    /// Its type and bytes.
    pub value: RawValue,
}

/// What `RegQueryInfoKey` reports.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegKeyInfo {
    /// The key's full name (`HKEY_CURRENT_USER\Software\App`).
    pub path: String,
    /// The class string.
    pub class: String,
    /// Direct subkeys.
    pub subkeys: u32,
    /// The longest subkey name, in UTF-16 units.
    pub max_subkey_name: u32,
    /// Values.
    pub values: u32,
    /// The longest value name, in UTF-16 units.
    pub max_value_name: u32,
    /// The largest value's data, in bytes.
    pub max_value_data: u32,
    /// Last change, in nanoseconds since the Unix epoch.
    pub last_write_unix_ns: u64,
    /// `REG_OPTION_VOLATILE`.
    pub volatile: bool,
}

/// `RegNotifyChangeKeyValue` with an event (`fAsynchronous`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegNotify {
    /// The key to watch (`KEY_NOTIFY`).
    pub key: Handle,
    /// Changes anywhere below it too.
    pub subtree: bool,
    /// `REG_NOTIFY_CHANGE_*` bits: name (1), attributes (2), last set (4), security (8).
    pub filter: u32,
    /// The event to set, once.
    pub event: Handle,
}

/// `RegGetKeySecurity` (needs `READ_CONTROL`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegGetSecurity {
    /// The key.
    pub key: Handle,
}

/// `RegSetKeySecurity` (needs `WRITE_DAC`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegSetSecurity {
    /// The key.
    pub key: Handle,
    /// The new descriptor, in SDDL (a missing owner is the caller).
    pub sddl: String,
}

/// `RegDeleteKey` / `RegDeleteTree`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegDeleteKey {
    /// Where `path` starts.
    pub base: RegBase,
    /// The key to delete (for a tree, empty means `base` itself, whose
    /// contents go and which stays).
    pub path: String,
    /// Everything below too (`RegDeleteTree`); else a key with subkeys is refused.
    pub tree: bool,
}
