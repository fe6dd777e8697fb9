//! A hive: a tree of keys and values, durable in a redb file, with volatile
//! keys kept in memory only.
//!
//! The whole hive lives in memory (as Windows caches its hives), so reads
//! never touch the disk. Every change to a stable key or value is written to
//! redb in one transaction and committed — durable — before the call
//! returns; only then does the copy in memory change, so a failed commit
//! leaves both as they were. Volatile keys and their values never reach the
//! disk and vanish with the hive.
//!
//! A failed write (a full disk: `ERROR_DISK_FULL`) closes the file and the
//! next write opens it again (`store.rs` says why), so a hive outlives a disk
//! that filled up and was freed; what was committed before stays.
//!
//! A hive may have a [`Quota`]: a limit on the bytes its keys and values
//! take, past which a write that would grow it is refused with
//! `ERROR_NOT_ENOUGH_QUOTA`. Windows 2000 had a limit on the whole
//! registry, `RegistrySizeLimit` (a value of
//! `HKLM\System\CurrentControlSet\Control`, charged in paged pool and on
//! disk); since Windows XP there is none but the 2 GB a hive may reach, and
//! no per-user one. Ours is per hive, so that the broker can keep one user's
//! `HKEY_CURRENT_USER` from filling the disk the machine hive lives on; it
//! counts bytes as [`Hive::size`] says, not the file's size, which redb
//! grows in steps and never shrinks.

mod store;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use switchboard_types::Win32Error;

use crate::RegError;
use crate::path::{KeyPath, check_value_name, fold};
use crate::value::RawValue;
use store::{Rows, Store};

/// What `RegCreateKeyEx` did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Disposition {
    /// `REG_CREATED_NEW_KEY`.
    CreatedNew,
    /// `REG_OPENED_EXISTING_KEY`.
    OpenedExisting,
}

/// How to make a key that does not exist yet (ignored for one that does).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyOptions {
    /// `REG_OPTION_VOLATILE`: kept in memory only.
    pub volatile: bool,
    /// The key's security descriptor, in SDDL (`None`: inherit the caller's default).
    pub sddl: Option<String>,
    /// The key's class string.
    pub class: String,
}

/// What `RegQueryInfoKey` reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyInfo {
    /// The key's name, case kept.
    pub name: String,
    /// The class string.
    pub class: String,
    /// Direct subkeys.
    pub subkeys: usize,
    /// The longest subkey name, in UTF-16 units.
    pub max_subkey_name: usize,
    /// Values, the default value included when set.
    pub values: usize,
    /// The longest value name, in UTF-16 units.
    pub max_value_name: usize,
    /// The largest value's data, in bytes.
    pub max_value_data: usize,
    /// When the key or one of its values last changed.
    pub last_write: SystemTime,
    /// Kept in memory only.
    pub volatile: bool,
    /// Its security descriptor, in SDDL, if one was set.
    pub sddl: Option<String>,
    /// A number no other key of the hive has had: a key deleted and made
    /// again is another key (handles to the old one stay deleted).
    pub serial: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct KeyRecord {
    name: String,
    class: String,
    sddl: Option<String>,
    /// Nanoseconds since the Unix epoch.
    last_write: u64,
    volatile: bool,
    /// The creation rank the next new value gets (values enumerate in the
    /// order they were first set, as on Windows).
    next_rank: u64,
    /// Unique within the hive, never reused.
    serial: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct ValueRecord {
    name: String,
    rank: u64,
    value: RawValue,
}

/// One change to write through to the store.
enum Change {
    PutKey((String, String), KeyRecord),
    DeleteKey((String, String)),
    PutValue((String, String), ValueRecord),
    DeleteValue((String, String)),
}

/// A limit on a hive's size: the bytes its keys and values take, as
/// [`Hive::size`] counts them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Quota {
    /// The most bytes the hive may hold.
    pub bytes: u64,
    /// Whose hive it is, for the refusal's message (such as `uid 1000`).
    pub holder: String,
}

/// What a key or value costs beyond its strings and data: the counts,
/// stamps and lengths stored with each (postcard encodes them in about as
/// many bytes). A fixed figure keeps [`Hive::size`] independent of the
/// encoding, and makes a flood of empty keys cost something.
const RECORD_OVERHEAD: u64 = 32;

fn len(s: &str) -> u64 {
    s.len() as u64
}

fn key_size((parent, name): &(String, String), r: &KeyRecord) -> u64 {
    len(parent) + len(name) + len(&r.name) + len(&r.class) + r.sddl.as_deref().map_or(0, len) + RECORD_OVERHEAD
}

fn value_size((key, name): &(String, String), r: &ValueRecord) -> u64 {
    len(key) + len(name) + len(&r.name) + r.value.data.len() as u64 + RECORD_OVERHEAD
}

/// A hive.
#[derive(Debug)]
pub struct Hive {
    /// The file (`None`: a hive in memory only).
    store: Option<Store>,
    quota: Option<Quota>,
    /// [`Hive::size`], kept as changes apply.
    used: u64,
    /// The serial the next new key gets.
    next_serial: u64,
    root: KeyRecord,
    keys: BTreeMap<(String, String), KeyRecord>,
    values: BTreeMap<(String, String), ValueRecord>,
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

fn not_found(what: impl Into<String>) -> RegError {
    RegError::new(Win32Error::ERROR_FILE_NOT_FOUND, what)
}

/// The table key of `path`: its parent folded and its name folded.
fn slot(path: &KeyPath) -> (String, String) {
    (path.parent().map(|p| p.folded()).unwrap_or_default(), fold(path.name()))
}

fn utf16_len(s: &str) -> usize {
    s.encode_utf16().count()
}

impl Hive {
    /// A hive in memory only (every key behaves as volatile).
    pub fn in_memory() -> Self {
        Self {
            store: None,
            quota: None,
            used: 0,
            next_serial: 1,
            root: Self::root_record(),
            keys: BTreeMap::new(),
            values: BTreeMap::new(),
        }
    }

    fn root_record() -> KeyRecord {
        KeyRecord {
            name: String::new(),
            class: String::new(),
            sddl: None,
            last_write: now(),
            volatile: false,
            next_rank: 0,
            serial: 0,
        }
    }

    /// Opens (or creates) the hive stored at `file`, loading it whole.
    pub fn open(file: &Path) -> Result<Self, RegError> {
        let (store, (keys, values)) = Store::open(file)?;
        let mut hive = Self { store: Some(store), keys, values, ..Self::in_memory() };
        hive.settle();
        Ok(hive)
    }

    /// Derives what follows from the keys and values: the next serial, the
    /// root's next rank (the root is not stored), the size.
    fn settle(&mut self) {
        let next_serial = self.keys.values().map(|k| k.serial + 1).max().unwrap_or(1);
        // Never lower: a serial handed out stays used even if its key is gone.
        self.next_serial = self.next_serial.max(next_serial);
        let next_rank =
            self.values.iter().filter(|((k, _), _)| k.is_empty()).map(|(_, r)| r.rank + 1).max().unwrap_or(0);
        self.root.next_rank = self.root.next_rank.max(next_rank);
        self.used = self.keys.iter().map(|(k, r)| key_size(k, r)).sum::<u64>()
            + self.values.iter().map(|(k, r)| value_size(k, r)).sum::<u64>();
    }

    /// Sets (or lifts) the hive's quota. A hive already past a new quota
    /// keeps what it holds and refuses only what would make it larger.
    pub fn set_quota(&mut self, quota: Option<Quota>) {
        self.quota = quota;
    }

    /// The bytes the hive's keys and values take, as a [`Quota`] counts
    /// them: each key's path, name, class and descriptor, each value's
    /// key path, name and data, and a fixed 32 bytes a record. Volatile
    /// keys count too: they take the broker's memory instead of its disk.
    pub fn size(&self) -> u64 {
        self.used
    }

    /// Opens the file again if a failed write closed it, before a change to
    /// `at`, and takes what the file now holds as the stable part of the
    /// hive (the failed commit may have reached the disk after all); the
    /// volatile keys stay, those whose parent is gone excepted.
    fn ready(&mut self, at: &KeyPath) -> Result<(), RegError> {
        let Some(store) = &mut self.store else { return Ok(()) };
        if let Some(rows) = store.reopen(at)? {
            self.reload(rows);
        }
        Ok(())
    }

    fn reload(&mut self, (mut keys, mut values): Rows) {
        let full = |(parent, name): &(String, String)| {
            if parent.is_empty() { name.clone() } else { format!("{parent}\\{name}") }
        };
        // Parents sort before their children, so one pass sees each
        // volatile key after the key above it.
        let mut kept = BTreeSet::new();
        for (slot, record) in self.keys.iter().filter(|(_, r)| r.volatile) {
            let parent = &slot.0;
            let (grandparent, name) = parent.rsplit_once('\\').unwrap_or(("", parent));
            let above = parent.is_empty()
                || kept.contains(parent)
                || keys.contains_key(&(grandparent.to_owned(), name.to_owned()));
            if above {
                kept.insert(full(slot));
                keys.insert(slot.clone(), record.clone());
            }
        }
        for (id, record) in &self.values {
            if kept.contains(&id.0) {
                values.insert(id.clone(), record.clone());
            }
        }
        self.keys = keys;
        self.values = values;
        self.settle();
    }

    /// Refuses `changes` if they would grow the hive past its quota.
    fn check_quota(&self, at: &KeyPath, changes: &[&Change]) -> Result<(), RegError> {
        let Some(quota) = &self.quota else { return Ok(()) };
        let (mut removed, mut added) = (0, 0);
        for change in changes {
            let (old, new) = match change {
                Change::PutKey(k, r) => (self.keys.get(k).map(|o| key_size(k, o)), key_size(k, r)),
                Change::DeleteKey(k) => (self.keys.get(k).map(|o| key_size(k, o)), 0),
                Change::PutValue(k, r) => (self.values.get(k).map(|o| value_size(k, o)), value_size(k, r)),
                Change::DeleteValue(k) => (self.values.get(k).map(|o| value_size(k, o)), 0),
            };
            removed += old.unwrap_or(0);
            added += new;
        }
        let after = (self.used + added).saturating_sub(removed);
        if after <= self.used || after <= quota.bytes {
            return Ok(());
        }
        let hive = self.store.as_ref().map_or_else(|| "in memory".to_owned(), |s| s.file().display().to_string());
        let key = if at.is_root() { "the root key".to_owned() } else { at.to_string() };
        Err(RegError::new(
            Win32Error::ERROR_NOT_ENOUGH_QUOTA,
            format!(
                "{key} was not changed: the hive of {} ({hive}) would hold {after} bytes, over its quota of {} bytes",
                quota.holder, quota.bytes
            ),
        ))
    }

    /// Applies changes already persisted (or volatile) to the copy in memory.
    fn apply(&mut self, changes: Vec<Change>) {
        for change in changes {
            let (old, new) = match change {
                Change::PutKey(k, r) => {
                    let new = key_size(&k, &r);
                    (self.keys.insert(k.clone(), r).map(|o| key_size(&k, &o)), new)
                }
                Change::DeleteKey(k) => (self.keys.remove(&k).map(|o| key_size(&k, &o)), 0),
                Change::PutValue(k, r) => {
                    let new = value_size(&k, &r);
                    (self.values.insert(k.clone(), r).map(|o| value_size(&k, &o)), new)
                }
                Change::DeleteValue(k) => (self.values.remove(&k).map(|o| value_size(&k, &o)), 0),
            };
            self.used = (self.used + new).saturating_sub(old.unwrap_or(0));
        }
    }

    /// Checks the quota, persists the stable changes (to `at` and below),
    /// then applies all of them.
    fn commit(&mut self, at: &KeyPath, stable: Vec<Change>, volatile: Vec<Change>) -> Result<(), RegError> {
        self.check_quota(at, &stable.iter().chain(&volatile).collect::<Vec<_>>())?;
        if let Some(store) = &mut self.store {
            store.persist(at, &stable)?;
        }
        self.apply(stable);
        self.apply(volatile);
        Ok(())
    }

    fn record(&self, path: &KeyPath) -> Option<&KeyRecord> {
        if path.is_root() { Some(&self.root) } else { self.keys.get(&slot(path)) }
    }

    /// Commits `changes` to the disk, or to memory only for a volatile key.
    fn commit_as(&mut self, at: &KeyPath, volatile: bool, changes: Vec<Change>) -> Result<(), RegError> {
        if volatile { self.commit(at, Vec::new(), changes) } else { self.commit(at, changes, Vec::new()) }
    }

    /// Commits a change to a key's values with the key's new last-write
    /// time (kept in the hive's root record for the root).
    fn commit_values(&mut self, path: &KeyPath, mut key: KeyRecord, mut changes: Vec<Change>) -> Result<(), RegError> {
        key.last_write = now();
        if !path.is_root() {
            changes.push(Change::PutKey(slot(path), key.clone()));
        }
        self.commit_as(path, key.volatile, changes)?;
        if path.is_root() {
            self.root = key;
        }
        Ok(())
    }

    fn existing(&self, path: &KeyPath) -> Result<&KeyRecord, RegError> {
        self.record(path).ok_or_else(|| not_found(format!("no key {path}")))
    }

    /// `RegCreateKeyEx`: opens the key, or creates it and any missing key
    /// above it with `options`. A stable key under a volatile one is
    /// `ERROR_CHILD_MUST_BE_VOLATILE`.
    pub fn create_key(&mut self, path: &KeyPath, options: &KeyOptions) -> Result<Disposition, RegError> {
        if self.record(path).is_some() {
            return Ok(Disposition::OpenedExisting);
        }
        self.ready(path)?;
        let (mut stable, mut volatile) = (Vec::new(), Vec::new());
        let mut at = KeyPath::root();
        let mut parent_volatile = false;
        let stamp = now();
        for part in path.parts() {
            at = at.child(part)?;
            if let Some(existing) = self.record(&at) {
                parent_volatile = existing.volatile;
            } else {
                let key_volatile = options.volatile || self.store.is_none();
                if parent_volatile && !key_volatile {
                    return Err(RegError::new(
                        Win32Error::ERROR_CHILD_MUST_BE_VOLATILE,
                        format!("{at} would be a stable key under a volatile one"),
                    ));
                }
                let record = KeyRecord {
                    name: part.clone(),
                    class: options.class.clone(),
                    sddl: options.sddl.clone(),
                    last_write: stamp,
                    volatile: key_volatile,
                    next_rank: 0,
                    serial: self.next_serial,
                };
                self.next_serial += 1;
                let change = Change::PutKey(slot(&at), record);
                if key_volatile {
                    volatile.push(change);
                } else {
                    stable.push(change);
                }
                parent_volatile = key_volatile;
            }
        }
        self.commit(path, stable, volatile)?;
        Ok(Disposition::CreatedNew)
    }

    /// `RegOpenKeyEx`: whether the key exists (`ERROR_FILE_NOT_FOUND` if not).
    pub fn open_key(&self, path: &KeyPath) -> Result<(), RegError> {
        self.existing(path).map(drop)
    }

    /// The direct subkeys, by (case-insensitive) name, as `RegEnumKeyEx`
    /// lists them; names keep their case.
    pub fn subkeys(&self, path: &KeyPath) -> Result<Vec<String>, RegError> {
        self.existing(path)?;
        Ok(self.children(path).map(|(_, r)| r.name.clone()).collect())
    }

    fn children<'a>(&'a self, path: &KeyPath) -> impl Iterator<Item = (&'a (String, String), &'a KeyRecord)> + 'a {
        let parent = path.folded();
        let start = (parent.clone(), String::new());
        self.keys.range(start..).take_while(move |((p, _), _)| *p == parent)
    }

    fn value_rows<'a>(&'a self, path: &KeyPath) -> impl Iterator<Item = (&'a (String, String), &'a ValueRecord)> + 'a {
        let key = path.folded();
        let start = (key.clone(), String::new());
        self.values.range(start..).take_while(move |((k, _), _)| *k == key)
    }

    /// `RegDeleteKey`: the key and its values. The root, or a key with
    /// subkeys, is `ERROR_ACCESS_DENIED`.
    pub fn delete_key(&mut self, path: &KeyPath) -> Result<(), RegError> {
        if path.is_root() {
            return Err(RegError::new(Win32Error::ERROR_ACCESS_DENIED, "a hive's root cannot be deleted"));
        }
        self.ready(path)?;
        let record = self.existing(path)?;
        if self.children(path).next().is_some() {
            return Err(RegError::new(Win32Error::ERROR_ACCESS_DENIED, format!("{path} has subkeys")));
        }
        let volatile = record.volatile;
        let mut changes: Vec<Change> = self.value_rows(path).map(|(k, _)| Change::DeleteValue(k.clone())).collect();
        changes.push(Change::DeleteKey(slot(path)));
        self.commit_as(path, volatile, changes)
    }

    /// `RegDeleteTree`: every subkey below `path` and every value in them
    /// and in `path`; `path` itself too unless it is the root or
    /// `keep_self` (`RegDeleteTree(hKey, NULL)` empties a key and keeps it).
    pub fn delete_tree(&mut self, path: &KeyPath, keep_self: bool) -> Result<(), RegError> {
        self.ready(path)?;
        self.existing(path)?;
        let (mut stable, mut volatile) = (Vec::new(), Vec::new());
        let mut pending = vec![path.clone()];
        while let Some(at) = pending.pop() {
            let record = self.existing(&at)?;
            let bucket = if record.volatile { &mut volatile } else { &mut stable };
            bucket.extend(self.value_rows(&at).map(|(k, _)| Change::DeleteValue(k.clone())));
            let kept = at.is_root() || (keep_self && at == *path);
            if !kept {
                bucket.push(Change::DeleteKey(slot(&at)));
            }
            for (_, child) in self.children(&at) {
                pending.push(at.child(&child.name)?);
            }
        }
        self.commit(path, stable, volatile)
    }

    /// `RegSetValueEx`: sets (or replaces) value `name` (`""`: the default
    /// value). A replaced value keeps its place in the enumeration order.
    pub fn set_value(&mut self, path: &KeyPath, name: &str, value: RawValue) -> Result<(), RegError> {
        check_value_name(name)?;
        self.ready(path)?;
        let mut key = self.existing(path)?.clone();
        let id = (path.folded(), fold(name));
        // A replaced value keeps its place and the case it was created with.
        let (rank, name) = if let Some(old) = self.values.get(&id) {
            (old.rank, old.name.clone())
        } else {
            key.next_rank += 1;
            (key.next_rank - 1, name.to_owned())
        };
        self.commit_values(path, key, vec![Change::PutValue(id, ValueRecord { name, rank, value })])
    }

    /// `RegQueryValueEx`: value `name` (`ERROR_FILE_NOT_FOUND` if absent).
    pub fn value(&self, path: &KeyPath, name: &str) -> Result<RawValue, RegError> {
        self.existing(path)?;
        self.values
            .get(&(path.folded(), fold(name)))
            .map(|r| r.value.clone())
            .ok_or_else(|| not_found(format!("no value {name:?} in {path}")))
    }

    /// `RegEnumValue`: every value of the key with its name (case kept), in
    /// the order they were first set.
    pub fn values(&self, path: &KeyPath) -> Result<Vec<(String, RawValue)>, RegError> {
        self.existing(path)?;
        let mut rows: Vec<&ValueRecord> = self.value_rows(path).map(|(_, r)| r).collect();
        rows.sort_by_key(|r| r.rank);
        Ok(rows.into_iter().map(|r| (r.name.clone(), r.value.clone())).collect())
    }

    /// `RegDeleteValue`.
    pub fn delete_value(&mut self, path: &KeyPath, name: &str) -> Result<(), RegError> {
        self.ready(path)?;
        let key = self.existing(path)?.clone();
        let id = (path.folded(), fold(name));
        if !self.values.contains_key(&id) {
            return Err(not_found(format!("no value {name:?} in {path}")));
        }
        self.commit_values(path, key, vec![Change::DeleteValue(id)])
    }

    /// `RegSetKeySecurity`: the key's own descriptor (SDDL), or `None` to
    /// take its parent's again.
    pub fn set_security(&mut self, path: &KeyPath, sddl: Option<String>) -> Result<(), RegError> {
        self.ready(path)?;
        let mut key = self.existing(path)?.clone();
        if path.is_root() {
            return Err(RegError::new(Win32Error::ERROR_ACCESS_DENIED, "a hive's root keeps the hive's descriptor"));
        }
        key.sddl = sddl;
        let volatile = key.volatile;
        self.commit_as(path, volatile, vec![Change::PutKey(slot(path), key)])
    }

    /// `RegQueryInfoKey`.
    pub fn info(&self, path: &KeyPath) -> Result<KeyInfo, RegError> {
        let record = self.existing(path)?;
        let subkeys: Vec<&KeyRecord> = self.children(path).map(|(_, r)| r).collect();
        let values: Vec<&ValueRecord> = self.value_rows(path).map(|(_, r)| r).collect();
        Ok(KeyInfo {
            name: record.name.clone(),
            class: record.class.clone(),
            subkeys: subkeys.len(),
            max_subkey_name: subkeys.iter().map(|r| utf16_len(&r.name)).max().unwrap_or(0),
            values: values.len(),
            max_value_name: values.iter().map(|r| utf16_len(&r.name)).max().unwrap_or(0),
            max_value_data: values.iter().map(|r| r.value.data.len()).max().unwrap_or(0),
            last_write: UNIX_EPOCH + Duration::from_nanos(record.last_write),
            volatile: record.volatile,
            sddl: record.sddl.clone(),
            serial: record.serial,
        })
    }

    /// How many keys the hive holds (the root not counted).
    pub fn key_count(&self) -> usize {
        self.keys.len()
    }
}
