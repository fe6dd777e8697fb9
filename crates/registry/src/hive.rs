//! A hive: a tree of keys and values, durable in a redb file, with volatile
//! keys kept in memory only.
//!
//! The whole hive lives in memory (as Windows caches its hives), so reads
//! never touch the disk. Every change to a stable key or value is written to
//! redb in one transaction and committed — durable — before the call
//! returns; only then does the copy in memory change, so a failed commit
//! leaves both as they were. Volatile keys and their values never reach the
//! disk and vanish with the hive.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use switchboard_types::Win32Error;

use crate::RegError;
use crate::path::{KeyPath, check_value_name, fold};
use crate::value::RawValue;

/// Keys: (parent path folded, name folded) → [`KeyRecord`].
const KEYS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("keys");
/// Values: (key path folded, value name folded) → [`ValueRecord`].
const VALUES: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("values");

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

/// A hive.
#[derive(Debug)]
pub struct Hive {
    db: Option<Database>,
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

fn store_error(doing: &str, e: impl std::fmt::Display) -> RegError {
    RegError::new(Win32Error::ERROR_WRITE_FAULT, format!("{doing}: {e}"))
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
        Self { db: None, next_serial: 1, root: Self::root_record(), keys: BTreeMap::new(), values: BTreeMap::new() }
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
        let shown = file.display().to_string();
        let db = Database::create(file).map_err(|e| store_error(&format!("open {shown}"), e))?;
        let mut hive = Self {
            db: None,
            next_serial: 1,
            root: Self::root_record(),
            keys: BTreeMap::new(),
            values: BTreeMap::new(),
        };
        {
            let read = db.begin_read().map_err(|e| store_error("read", e))?;
            let damaged = |what: &str, e: &dyn std::fmt::Display| {
                RegError::new(Win32Error::ERROR_BADDB, format!("{shown}: a damaged {what} record: {e}"))
            };
            match read.open_table(KEYS) {
                Ok(table) => {
                    for row in table.iter().map_err(|e| store_error("read", e))? {
                        let (k, v) = row.map_err(|e| store_error("read", e))?;
                        let (parent, name) = k.value();
                        let record: KeyRecord = postcard::from_bytes(v.value()).map_err(|e| damaged("key", &e))?;
                        hive.keys.insert((parent.to_owned(), name.to_owned()), record);
                    }
                }
                Err(redb::TableError::TableDoesNotExist(_)) => {}
                Err(e) => return Err(store_error("read", e)),
            }
            match read.open_table(VALUES) {
                Ok(table) => {
                    for row in table.iter().map_err(|e| store_error("read", e))? {
                        let (k, v) = row.map_err(|e| store_error("read", e))?;
                        let (key, name) = k.value();
                        let record: ValueRecord = postcard::from_bytes(v.value()).map_err(|e| damaged("value", &e))?;
                        hive.values.insert((key.to_owned(), name.to_owned()), record);
                    }
                }
                Err(redb::TableError::TableDoesNotExist(_)) => {}
                Err(e) => return Err(store_error("read", e)),
            }
        }
        hive.next_serial = hive.keys.values().map(|k| k.serial + 1).max().unwrap_or(1);
        // The root is not stored: its next rank follows from its values.
        hive.root.next_rank =
            hive.values.iter().filter(|((k, _), _)| k.is_empty()).map(|(_, r)| r.rank + 1).max().unwrap_or(0);
        hive.db = Some(db);
        Ok(hive)
    }

    /// Writes `changes` in one committed transaction (nothing for a hive in
    /// memory).
    fn persist(&self, changes: &[Change]) -> Result<(), RegError> {
        let Some(db) = &self.db else { return Ok(()) };
        if changes.is_empty() {
            return Ok(());
        }
        let write = db.begin_write().map_err(|e| store_error("begin a write", e))?;
        {
            let mut keys = write.open_table(KEYS).map_err(|e| store_error("open keys", e))?;
            let mut values = write.open_table(VALUES).map_err(|e| store_error("open values", e))?;
            let encode = |e: postcard::Error| store_error("encode", e);
            for change in changes {
                let done = match change {
                    Change::PutKey((a, b), record) => keys
                        .insert((a.as_str(), b.as_str()), postcard::to_allocvec(record).map_err(encode)?.as_slice())
                        .map(drop),
                    Change::DeleteKey((a, b)) => keys.remove((a.as_str(), b.as_str())).map(drop),
                    Change::PutValue((a, b), record) => values
                        .insert((a.as_str(), b.as_str()), postcard::to_allocvec(record).map_err(encode)?.as_slice())
                        .map(drop),
                    Change::DeleteValue((a, b)) => values.remove((a.as_str(), b.as_str())).map(drop),
                };
                done.map_err(|e| store_error("write", e))?;
            }
        }
        write.commit().map_err(|e| store_error("commit", e))
    }

    /// Applies changes already persisted (or volatile) to the copy in memory.
    fn apply(&mut self, changes: Vec<Change>) {
        for change in changes {
            match change {
                Change::PutKey(k, r) => {
                    self.keys.insert(k, r);
                }
                Change::DeleteKey(k) => {
                    self.keys.remove(&k);
                }
                Change::PutValue(k, r) => {
                    self.values.insert(k, r);
                }
                Change::DeleteValue(k) => {
                    self.values.remove(&k);
                }
            }
        }
    }

    /// Persists the stable changes, then applies all of them.
    fn commit(&mut self, stable: Vec<Change>, volatile: Vec<Change>) -> Result<(), RegError> {
        self.persist(&stable)?;
        self.apply(stable);
        self.apply(volatile);
        Ok(())
    }

    fn record(&self, path: &KeyPath) -> Option<&KeyRecord> {
        if path.is_root() { Some(&self.root) } else { self.keys.get(&slot(path)) }
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
        let (mut stable, mut volatile) = (Vec::new(), Vec::new());
        let mut at = KeyPath::root();
        let mut parent_volatile = false;
        let stamp = now();
        for part in path.parts() {
            at = at.child(part)?;
            if let Some(existing) = self.record(&at) {
                parent_volatile = existing.volatile;
            } else {
                let key_volatile = options.volatile || self.db.is_none();
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
        self.commit(stable, volatile)?;
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
        let record = self.existing(path)?;
        if self.children(path).next().is_some() {
            return Err(RegError::new(Win32Error::ERROR_ACCESS_DENIED, format!("{path} has subkeys")));
        }
        let volatile = record.volatile;
        let mut changes: Vec<Change> = self.value_rows(path).map(|(k, _)| Change::DeleteValue(k.clone())).collect();
        changes.push(Change::DeleteKey(slot(path)));
        if volatile { self.commit(Vec::new(), changes) } else { self.commit(changes, Vec::new()) }
    }

    /// `RegDeleteTree`: every subkey below `path` and every value in them
    /// and in `path`; `path` itself too unless it is the root or
    /// `keep_self` (`RegDeleteTree(hKey, NULL)` empties a key and keeps it).
    pub fn delete_tree(&mut self, path: &KeyPath, keep_self: bool) -> Result<(), RegError> {
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
        self.commit(stable, volatile)
    }

    /// `RegSetValueEx`: sets (or replaces) value `name` (`""`: the default
    /// value). A replaced value keeps its place in the enumeration order.
    pub fn set_value(&mut self, path: &KeyPath, name: &str, value: RawValue) -> Result<(), RegError> {
        check_value_name(name)?;
        let mut key = self.existing(path)?.clone();
        let id = (path.folded(), fold(name));
        // A replaced value keeps its place and the case it was created with.
        let (rank, name) = if let Some(old) = self.values.get(&id) {
            (old.rank, old.name.clone())
        } else {
            key.next_rank += 1;
            (key.next_rank - 1, name.to_owned())
        };
        key.last_write = now();
        let volatile = key.volatile;
        let mut changes = vec![Change::PutValue(id, ValueRecord { name, rank, value })];
        if !path.is_root() {
            changes.push(Change::PutKey(slot(path), key.clone()));
        }
        if volatile {
            self.commit(Vec::new(), changes)?;
        } else {
            self.commit(changes, Vec::new())?;
        }
        if path.is_root() {
            self.root = key;
        }
        Ok(())
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
        let mut key = self.existing(path)?.clone();
        let id = (path.folded(), fold(name));
        if !self.values.contains_key(&id) {
            return Err(not_found(format!("no value {name:?} in {path}")));
        }
        key.last_write = now();
        let volatile = key.volatile;
        let mut changes = vec![Change::DeleteValue(id)];
        if !path.is_root() {
            changes.push(Change::PutKey(slot(path), key.clone()));
        }
        if volatile {
            self.commit(Vec::new(), changes)?;
        } else {
            self.commit(changes, Vec::new())?;
        }
        if path.is_root() {
            self.root = key;
        }
        Ok(())
    }

    /// `RegSetKeySecurity`: the key's own descriptor (SDDL), or `None` to
    /// take its parent's again.
    pub fn set_security(&mut self, path: &KeyPath, sddl: Option<String>) -> Result<(), RegError> {
        let mut key = self.existing(path)?.clone();
        if path.is_root() {
            return Err(RegError::new(Win32Error::ERROR_ACCESS_DENIED, "a hive's root keeps the hive's descriptor"));
        }
        key.sddl = sddl;
        let volatile = key.volatile;
        let changes = vec![Change::PutKey(slot(path), key)];
        if volatile { self.commit(Vec::new(), changes) } else { self.commit(changes, Vec::new()) }
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
