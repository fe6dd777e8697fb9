//! The registry: keys and values with the `Reg*` semantics, kept by the
//! broker and durable when a call returns.
//!
//! `HKEY_CURRENT_USER` is the calling user's hive; `HKEY_LOCAL_MACHINE` is
//! the realm's machine hive — machine-wide in the system realm (everyone
//! reads, root writes), the user's own in a user realm. Names compare
//! case-insensitively and keep their case; values keep their type and bytes
//! exactly.
//!
//! ```no_run
//! use switchboard::Connection;
//! use switchboard::registry::{CreateOptions, RegKey, RegValue, RootKey};
//!
//! # fn main() -> switchboard::Result<()> {
//! let conn = Connection::connect()?;
//! let app = RegKey::create(&conn, RootKey::CurrentUser, r"Software\Vendor\App", &CreateOptions::new())?.object;
//! app.set_value("Level", &RegValue::Dword(3))?;
//! assert_eq!(app.value("LEVEL")?, RegValue::Dword(3));
//! # Ok(()) }
//! ```

use switchboard_proto as p;
pub use switchboard_proto::RegKeyInfo as KeyInfo;
use switchboard_types::AccessMask;
pub use switchboard_types::registry::{
    REG_BINARY, REG_DWORD, REG_DWORD_BIG_ENDIAN, REG_EXPAND_SZ, REG_MULTI_SZ, REG_NONE, REG_QWORD, REG_SZ, RawValue,
    RegValue, RootKey, type_name,
};

use crate::connection::Connection;
use crate::error::Result;
use crate::event::Created;
use crate::handle::OwnedHandle;

/// Access rights for keys: [`switchboard_types::access::key`] and the
/// standard rights, one table shared with the broker.
pub mod access {
    pub use switchboard_types::access::key::*;
    pub use switchboard_types::access::standard::{
        DELETE, GENERIC_ALL, GENERIC_EXECUTE, GENERIC_READ, GENERIC_WRITE, MAXIMUM_ALLOWED, READ_CONTROL, WRITE_DAC,
        WRITE_OWNER,
    };
}

/// `RegGetValue`'s type filter (`RRF_RT_*`).
pub mod rrf {
    /// `REG_NONE`.
    pub const RRF_RT_REG_NONE: u32 = 0x0001;
    /// `REG_SZ`.
    pub const RRF_RT_REG_SZ: u32 = 0x0002;
    /// `REG_EXPAND_SZ`.
    pub const RRF_RT_REG_EXPAND_SZ: u32 = 0x0004;
    /// `REG_BINARY`.
    pub const RRF_RT_REG_BINARY: u32 = 0x0008;
    /// `REG_DWORD`.
    pub const RRF_RT_REG_DWORD: u32 = 0x0010;
    /// `REG_MULTI_SZ`.
    pub const RRF_RT_REG_MULTI_SZ: u32 = 0x0020;
    /// `REG_QWORD`.
    pub const RRF_RT_REG_QWORD: u32 = 0x0040;
    /// A 32-bit value: `REG_DWORD`, or a 4-byte `REG_BINARY`.
    pub const RRF_RT_DWORD: u32 = RRF_RT_REG_BINARY | RRF_RT_REG_DWORD;
    /// A 64-bit value: `REG_QWORD`, or an 8-byte `REG_BINARY`.
    pub const RRF_RT_QWORD: u32 = RRF_RT_REG_BINARY | RRF_RT_REG_QWORD;
    /// Any type.
    pub const RRF_RT_ANY: u32 = 0x0000_FFFF;
}

/// What a change notification watches for (`REG_NOTIFY_CHANGE_*`).
pub mod notify {
    /// A subkey was added or deleted.
    pub const REG_NOTIFY_CHANGE_NAME: u32 = 0x1;
    /// A key's attributes changed.
    pub const REG_NOTIFY_CHANGE_ATTRIBUTES: u32 = 0x2;
    /// A value was set or deleted.
    pub const REG_NOTIFY_CHANGE_LAST_SET: u32 = 0x4;
    /// A key's security descriptor changed.
    pub const REG_NOTIFY_CHANGE_SECURITY: u32 = 0x8;
    /// Everything.
    pub const ALL: u32 = 0xF;
}

/// Changes to a key, as a channel: one message per notification
/// ([`RegKey::watch`]). Dropping it stops watching.
#[derive(Debug)]
pub struct Watch {
    changes: std::sync::mpsc::Receiver<()>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Watch {
    /// Waits for the next change (`None`: forever); `false` if `timeout` passed first.
    pub fn wait(&self, timeout: Option<std::time::Duration>) -> bool {
        match timeout {
            None => self.changes.recv().is_ok(),
            Some(t) => self.changes.recv_timeout(t).is_ok(),
        }
    }

    /// The channel itself, for `select`-style use.
    pub fn receiver(&self) -> &std::sync::mpsc::Receiver<()> {
        &self.changes
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// How to make keys that do not exist yet (`RegCreateKeyEx`).
#[derive(Clone, Debug)]
pub struct CreateOptions {
    volatile: bool,
    class: String,
    sddl: Option<String>,
    access: AccessMask,
}

impl Default for CreateOptions {
    fn default() -> Self {
        Self::new()
    }
}

impl CreateOptions {
    /// Stable keys, no class, the parent's security, `KEY_ALL_ACCESS`.
    pub fn new() -> Self {
        Self { volatile: false, class: String::new(), sddl: None, access: access::KEY_ALL_ACCESS }
    }

    /// `REG_OPTION_VOLATILE`: kept in memory only, gone when the broker
    /// stops; only volatile keys may go below it.
    #[must_use]
    pub fn volatile(mut self, yes: bool) -> Self {
        self.volatile = yes;
        self
    }

    /// The key's class string.
    #[must_use]
    pub fn class(mut self, class: impl Into<String>) -> Self {
        self.class = class.into();
        self
    }

    /// A security descriptor in SDDL for the keys this creates (default:
    /// the parent's applies).
    #[must_use]
    pub fn security(mut self, sddl: impl Into<String>) -> Self {
        self.sddl = Some(sddl.into());
        self
    }

    /// The access wanted on the handle.
    #[must_use]
    pub fn access(mut self, access: impl Into<AccessMask>) -> Self {
        self.access = access.into();
        self
    }
}

/// An open registry key (`HKEY`), closed on drop (`RegCloseKey`).
#[derive(Debug)]
pub struct RegKey {
    handle: OwnedHandle,
    path: String,
}

fn joined(base: &str, path: &str) -> String {
    let path = path.trim_matches('\\');
    if path.is_empty() { base.to_owned() } else { format!("{base}\\{path}") }
}

impl RegKey {
    fn create_at(
        conn: &Connection,
        base: p::RegBase,
        shown: String,
        path: &str,
        options: &CreateOptions,
    ) -> Result<Created<RegKey>> {
        let request = p::RegCreateKey {
            base,
            path: path.to_owned(),
            volatile: options.volatile,
            class: options.class.clone(),
            security: p::Security { sddl: options.sddl.clone() },
            access: options.access,
        };
        let created = conn.call(request, "RegCreateKeyEx", Some(&shown))?;
        Ok(Created {
            object: RegKey { handle: OwnedHandle::new(conn.clone(), created.handle, Some(shown.clone())), path: shown },
            already_existed: !created.created,
        })
    }

    fn open_at(conn: &Connection, base: p::RegBase, shown: String, path: &str, access: AccessMask) -> Result<RegKey> {
        let handle = conn.call(p::RegOpenKey { base, path: path.to_owned(), access }, "RegOpenKeyEx", Some(&shown))?;
        Ok(RegKey { handle: OwnedHandle::new(conn.clone(), handle, Some(shown.clone())), path: shown })
    }

    /// Opens `root\path`, or creates it and any missing key above it.
    /// `already_existed` is `REG_OPENED_EXISTING_KEY`.
    ///
    /// # Windows equivalent
    ///
    /// `RegCreateKeyEx`. A stable key under a volatile one is
    /// `ERROR_CHILD_MUST_BE_VOLATILE`; names longer than 255 characters or
    /// nested deeper than 512, `ERROR_INVALID_PARAMETER`.
    pub fn create(conn: &Connection, root: RootKey, path: &str, options: &CreateOptions) -> Result<Created<RegKey>> {
        Self::create_at(conn, p::RegBase::Root(root), joined(root.name(), path), path, options)
    }

    /// Opens `root\path` with `access` (`RegOpenKeyEx`); a missing key is
    /// `ERROR_FILE_NOT_FOUND`, a descriptor that does not grant the access
    /// `ERROR_ACCESS_DENIED`.
    pub fn open(conn: &Connection, root: RootKey, path: &str, access: impl Into<AccessMask>) -> Result<RegKey> {
        Self::open_at(conn, p::RegBase::Root(root), joined(root.name(), path), path, access.into())
    }

    /// Opens or creates a key below this one (needs `KEY_CREATE_SUB_KEY`).
    pub fn create_subkey(&self, path: &str, options: &CreateOptions) -> Result<Created<RegKey>> {
        let conn = self.handle.connection();
        Self::create_at(conn, p::RegBase::Key(self.handle.raw()), joined(&self.path, path), path, options)
    }

    /// Opens a key below this one.
    pub fn open_subkey(&self, path: &str, access: impl Into<AccessMask>) -> Result<RegKey> {
        let conn = self.handle.connection();
        Self::open_at(conn, p::RegBase::Key(self.handle.raw()), joined(&self.path, path), path, access.into())
    }

    /// The key's full name (`HKEY_CURRENT_USER\Software\App`), as opened.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The handle.
    pub fn handle(&self) -> &OwnedHandle {
        &self.handle
    }

    fn call<C: switchboard_proto::Call>(&self, request: C, op: &'static str) -> Result<C::Reply> {
        self.handle.connection().call(request, op, Some(&self.path))
    }

    /// Sets value `name` (`""`: the default value) from a typed value
    /// (`RegSetValueEx`, needs `KEY_SET_VALUE`). Durable when it returns.
    pub fn set_value(&self, name: &str, value: &RegValue) -> Result<()> {
        self.set_raw(name, value.to_raw())
    }

    /// Sets value `name` to exactly these bytes of this type.
    pub fn set_raw(&self, name: &str, value: RawValue) -> Result<()> {
        let limit = switchboard_types::registry::MAX_VALUE_DATA;
        if value.data.len() > limit {
            return Err(crate::Error::new(
                crate::ErrorKind::InvalidArgument,
                crate::Win32Error::ERROR_INVALID_PARAMETER,
                "RegSetValueEx",
                Some(&self.path),
                format!("{} bytes of data; a value holds at most {limit}", value.data.len()),
            ));
        }
        self.call(p::RegSetValue { key: self.handle.raw(), name: name.to_owned(), value }, "RegSetValueEx")
    }

    /// Value `name`, read by its type (`RegQueryValueEx`); a missing value
    /// is `ERROR_FILE_NOT_FOUND`.
    pub fn value(&self, name: &str) -> Result<RegValue> {
        self.raw_value(name).map(|raw| RegValue::from_raw(&raw))
    }

    /// Value `name`: its type and bytes, exactly as stored.
    pub fn raw_value(&self, name: &str) -> Result<RawValue> {
        self.call(p::RegQueryValue { key: self.handle.raw(), name: name.to_owned() }, "RegQueryValueEx")
    }

    /// Value `name` of the key, only if its type passes `filter` (`rrf::*`).
    ///
    /// # Windows equivalent
    ///
    /// `RegGetValue(hKey, NULL, name, filter, …)`: a type the filter
    /// excludes is `ERROR_UNSUPPORTED_TYPE`. With [`rrf::RRF_RT_DWORD`]
    /// (or `QWORD`) a `REG_BINARY` passes only at 4 (or 8) bytes, else
    /// `ERROR_DATATYPE_MISMATCH`.
    pub fn get_value(&self, name: &str, filter: u32) -> Result<RawValue> {
        let value = self.raw_value(name)?;
        let fail = |code, reason: String| {
            crate::Error::new(crate::ErrorKind::Refused, code, "RegGetValue", Some(&self.path), reason)
        };
        let bit = match value.kind {
            REG_NONE => rrf::RRF_RT_REG_NONE,
            REG_SZ => rrf::RRF_RT_REG_SZ,
            REG_EXPAND_SZ => rrf::RRF_RT_REG_EXPAND_SZ,
            REG_BINARY => rrf::RRF_RT_REG_BINARY,
            REG_DWORD => rrf::RRF_RT_REG_DWORD,
            REG_MULTI_SZ => rrf::RRF_RT_REG_MULTI_SZ,
            REG_QWORD => rrf::RRF_RT_REG_QWORD,
            _ => 0,
        };
        if filter & rrf::RRF_RT_ANY != rrf::RRF_RT_ANY && filter & bit == 0 {
            return Err(fail(
                crate::Win32Error::ERROR_UNSUPPORTED_TYPE,
                format!("{name:?} is {}, which the filter 0x{filter:x} excludes", type_name(value.kind)),
            ));
        }
        if value.kind == REG_BINARY && filter & rrf::RRF_RT_REG_BINARY != 0 && filter != rrf::RRF_RT_ANY {
            let wanted = match filter & (rrf::RRF_RT_REG_DWORD | rrf::RRF_RT_REG_QWORD) {
                rrf::RRF_RT_REG_DWORD => Some(4),
                rrf::RRF_RT_REG_QWORD => Some(8),
                _ => None,
            };
            if let Some(size) = wanted.filter(|&s| s != value.data.len()) {
                return Err(fail(
                    crate::Win32Error::ERROR_DATATYPE_MISMATCH,
                    format!("{name:?} is a REG_BINARY of {} bytes, not {size}", value.data.len()),
                ));
            }
        }
        Ok(value)
    }

    /// Every value with its name, in the order the values were first set
    /// (`RegEnumValue`).
    pub fn values(&self) -> Result<Vec<(String, RawValue)>> {
        let values: Vec<p::RegNamedValue> = self.call(p::RegEnumValues { key: self.handle.raw() }, "RegEnumValue")?;
        Ok(values.into_iter().map(|v| (v.name, v.value)).collect())
    }

    /// The subkeys' names, ordered by name ignoring case (`RegEnumKeyEx`,
    /// needs `KEY_ENUMERATE_SUB_KEYS`).
    pub fn subkeys(&self) -> Result<Vec<String>> {
        self.call(p::RegEnumKeys { key: self.handle.raw() }, "RegEnumKeyEx")
    }

    /// `RegDeleteValue`.
    pub fn delete_value(&self, name: &str) -> Result<()> {
        self.call(p::RegDeleteValue { key: self.handle.raw(), name: name.to_owned() }, "RegDeleteValue")
    }

    /// Deletes the subkey `path` (`RegDeleteKey`): one with subkeys is
    /// `ERROR_ACCESS_DENIED`.
    pub fn delete_subkey(&self, path: &str) -> Result<()> {
        let request = p::RegDeleteKey { base: p::RegBase::Key(self.handle.raw()), path: path.to_owned(), tree: false };
        self.handle.connection().call(request, "RegDeleteKey", Some(&joined(&self.path, path)))
    }

    /// Deletes `path` and everything below it (`RegDeleteTree`); an empty
    /// `path` empties this key and keeps it.
    pub fn delete_tree(&self, path: &str) -> Result<()> {
        let request = p::RegDeleteKey { base: p::RegBase::Key(self.handle.raw()), path: path.to_owned(), tree: true };
        self.handle.connection().call(request, "RegDeleteTree", Some(&joined(&self.path, path)))
    }

    /// Deletes `root\path` (`RegDeleteKey` on a predefined key).
    pub fn delete(conn: &Connection, root: RootKey, path: &str, tree: bool) -> Result<()> {
        let request = p::RegDeleteKey { base: p::RegBase::Root(root), path: path.to_owned(), tree };
        conn.call(request, if tree { "RegDeleteTree" } else { "RegDeleteKey" }, Some(&joined(root.name(), path)))
    }

    /// Sets `event` at the next change to this key (or, with `subtree`, to
    /// any key below it) that `filter` selects (`notify::*`); once. The
    /// key's deletion, and the closing of this handle, set it too.
    ///
    /// # Windows equivalent
    ///
    /// `RegNotifyChangeKeyValue(hKey, bWatchSubtree, dwNotifyFilter, hEvent, TRUE)`:
    /// the handle needs `KEY_NOTIFY`.
    pub fn notify_change(&self, subtree: bool, filter: u32, event: &crate::Event) -> Result<()> {
        let request = p::RegNotify { key: self.handle.raw(), subtree, filter, event: event.handle().raw() };
        self.call(request, "RegNotifyChangeKeyValue")
    }

    /// Every change that `filter` selects, as a channel. A thread of this
    /// library re-arms the notification after each one, before it reports
    /// it; a change made in the instant between a notification and its
    /// re-arming is not reported.
    pub fn watch(&self, subtree: bool, filter: u32) -> Result<Watch> {
        use std::sync::atomic::{AtomicBool, Ordering};
        let key = self.open_subkey("", access::KEY_NOTIFY)?;
        let event = crate::EventOptions::new().create_unnamed(self.handle.connection())?;
        key.notify_change(subtree, filter, &event)?;
        let (tx, changes) = std::sync::mpsc::channel();
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let stopped = std::sync::Arc::clone(&stop);
        std::thread::Builder::new()
            .name("switchboard-reg-watch".into())
            .spawn(move || {
                while !stopped.load(Ordering::Relaxed) {
                    match event.wait(Some(std::time::Duration::from_millis(200))) {
                        Ok(crate::WaitResult::TimedOut) => {}
                        Ok(_) => {
                            let rearmed = key.notify_change(subtree, filter, &event);
                            if tx.send(()).is_err() || rearmed.is_err() {
                                return;
                            }
                        }
                        Err(_) => return,
                    }
                }
            })
            .map_err(|e| {
                crate::Error::new(
                    crate::ErrorKind::Protocol,
                    crate::Win32Error::ERROR_NO_SYSTEM_RESOURCES,
                    "RegNotifyChangeKeyValue",
                    Some(&self.path),
                    e.to_string(),
                )
            })?;
        Ok(Watch { changes, stop })
    }

    /// The descriptor that governs the key, in SDDL: its own, or the
    /// nearest ancestor's, or the hive's (`RegGetKeySecurity`, needs
    /// `READ_CONTROL`).
    pub fn security(&self) -> Result<String> {
        self.call(p::RegGetSecurity { key: self.handle.raw() }, "RegGetKeySecurity")
    }

    /// Gives the key its own descriptor (`RegSetKeySecurity`, needs
    /// `WRITE_DAC`); keys below without their own follow it.
    pub fn set_security(&self, sddl: &str) -> Result<()> {
        self.call(p::RegSetSecurity { key: self.handle.raw(), sddl: sddl.to_owned() }, "RegSetKeySecurity")
    }

    /// Counts, longest names and data, last write (`RegQueryInfoKey`).
    pub fn info(&self) -> Result<KeyInfo> {
        self.call(p::RegQueryInfo { key: self.handle.raw() }, "RegQueryInfoKey")
    }
}
