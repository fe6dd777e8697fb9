//! The durable half of a hive: its redb file, and getting it back after a
//! failed write.
//!
//! redb latches the first I/O failure of a `Database`: every later
//! transaction fails with `PreviousIo`, even once the cause (a full disk) is
//! gone, until the file is opened again. So a failed write drops the
//! `Database` at once, and the next write opens the file again (redb then
//! repairs it back to its last commit). An open that fails leaves the store
//! closed, and the write after that tries again: the hive keeps answering
//! reads from memory meanwhile, and writes fail with the cause until the
//! file can be opened.

use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use switchboard_types::Win32Error;

use super::{Change, KeyRecord, ValueRecord};
use crate::RegError;
use crate::path::KeyPath;

/// Keys: (parent path folded, name folded) → [`KeyRecord`].
const KEYS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("keys");
/// Values: (key path folded, value name folded) → [`ValueRecord`].
const VALUES: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("values");

/// The stable keys and values a file holds.
pub(super) type Rows = (BTreeMap<(String, String), KeyRecord>, BTreeMap<(String, String), ValueRecord>);

/// A hive's file.
#[derive(Debug)]
pub(super) struct Store {
    file: PathBuf,
    /// `None` after a failed write, until the file is opened again.
    db: Option<Database>,
}

/// Why a write or an open failed, as the Win32 code a full disk gives where
/// that is the cause (`ENOSPC`, or `EDQUOT`: the file system's own quota for
/// the broker's user), and a write fault otherwise.
fn failure(file: &Path, doing: &str, e: impl Into<redb::Error>) -> RegError {
    let e = e.into();
    let code = match &e {
        redb::Error::Io(io) if matches!(io.kind(), ErrorKind::StorageFull | ErrorKind::QuotaExceeded) => {
            Win32Error::ERROR_DISK_FULL
        }
        _ => Win32Error::ERROR_WRITE_FAULT,
    };
    RegError::new(code, format!("{doing}: hive {}: {e}", file.display()))
}

/// `at`, for messages (the root's path is empty).
fn key_name(at: &KeyPath) -> String {
    if at.is_root() { "the hive's root key".to_owned() } else { format!("key {at}") }
}

impl Store {
    /// Opens (or creates) `file`; the store and what it holds.
    pub(super) fn open(file: &Path) -> Result<(Self, Rows), RegError> {
        let db = Database::create(file).map_err(|e| failure(file, "open", e))?;
        let rows = load(&db, file)?;
        Ok((Self { file: file.to_owned(), db: Some(db) }, rows))
    }

    /// The file.
    pub(super) fn file(&self) -> &Path {
        &self.file
    }

    /// Opens the file again if a failed write closed it, before a change to
    /// `at`: `None` if it was open, else what the file holds now (which the
    /// hive in memory must take: the failed commit may have reached the disk
    /// after all).
    pub(super) fn reopen(&mut self, at: &KeyPath) -> Result<Option<Rows>, RegError> {
        if self.db.is_some() {
            return Ok(None);
        }
        let doing = format!("{} was not changed: reopening after a failed write", key_name(at));
        let db = Database::create(&self.file).map_err(|e| failure(&self.file, &doing, e))?;
        let rows = load(&db, &self.file)?;
        self.db = Some(db);
        Ok(Some(rows))
    }

    /// Writes `changes` to `at` and below in one committed transaction. On
    /// failure the database is dropped, to be opened again by the next
    /// [`Store::reopen`].
    pub(super) fn persist(&mut self, at: &KeyPath, changes: &[Change]) -> Result<(), RegError> {
        if changes.is_empty() {
            return Ok(());
        }
        let Some(db) = &self.db else {
            return Err(RegError::new(
                Win32Error::ERROR_WRITE_FAULT,
                format!("hive {} is closed", self.file.display()),
            ));
        };
        let rows = encoded(changes)?;
        let written = write(db, &rows);
        written.map_err(|e| {
            self.db = None;
            failure(&self.file, &format!("{} was not changed", key_name(at)), e)
        })
    }
}

/// A row to write: which table, its key, and its record's bytes (`None`:
/// remove it).
struct Row<'a> {
    keys: bool,
    at: &'a (String, String),
    bytes: Option<Vec<u8>>,
}

/// The rows of `changes`, encoded before any transaction begins so that a
/// record that will not encode never touches the file.
fn encoded(changes: &[Change]) -> Result<Vec<Row<'_>>, RegError> {
    let encode = |record: Result<Vec<u8>, postcard::Error>| {
        record.map_err(|e| RegError::new(Win32Error::ERROR_WRITE_FAULT, format!("encode a record: {e}")))
    };
    changes
        .iter()
        .map(|change| {
            Ok(match change {
                Change::PutKey(at, record) => {
                    Row { keys: true, at, bytes: Some(encode(postcard::to_allocvec(record))?) }
                }
                Change::DeleteKey(at) => Row { keys: true, at, bytes: None },
                Change::PutValue(at, record) => {
                    Row { keys: false, at, bytes: Some(encode(postcard::to_allocvec(record))?) }
                }
                Change::DeleteValue(at) => Row { keys: false, at, bytes: None },
            })
        })
        .collect()
}

/// One committed transaction of `rows`.
fn write(db: &Database, rows: &[Row<'_>]) -> Result<(), redb::Error> {
    let write = db.begin_write()?;
    {
        let mut keys = write.open_table(KEYS)?;
        let mut values = write.open_table(VALUES)?;
        for row in rows {
            let table = if row.keys { &mut keys } else { &mut values };
            let at = (row.at.0.as_str(), row.at.1.as_str());
            match &row.bytes {
                Some(bytes) => drop(table.insert(at, bytes.as_slice())?),
                None => drop(table.remove(at)?),
            }
        }
    }
    write.commit()?;
    Ok(())
}

/// Every stable key and value of the file.
fn load(db: &Database, file: &Path) -> Result<Rows, RegError> {
    let shown = file.display();
    let read_error = |e: redb::Error| failure(file, "read", e);
    let damaged = |what: &str, e: &postcard::Error| {
        RegError::new(Win32Error::ERROR_BADDB, format!("{shown}: a damaged {what} record: {e}"))
    };
    let read = db.begin_read().map_err(|e| read_error(e.into()))?;
    let mut keys = BTreeMap::new();
    match read.open_table(KEYS) {
        Ok(table) => {
            for row in table.iter().map_err(|e| read_error(e.into()))? {
                let (k, v) = row.map_err(|e| read_error(e.into()))?;
                let (parent, name) = k.value();
                let record: KeyRecord = postcard::from_bytes(v.value()).map_err(|e| damaged("key", &e))?;
                keys.insert((parent.to_owned(), name.to_owned()), record);
            }
        }
        Err(redb::TableError::TableDoesNotExist(_)) => {}
        Err(e) => return Err(read_error(e.into())),
    }
    let mut values = BTreeMap::new();
    match read.open_table(VALUES) {
        Ok(table) => {
            for row in table.iter().map_err(|e| read_error(e.into()))? {
                let (k, v) = row.map_err(|e| read_error(e.into()))?;
                let (key, name) = k.value();
                let record: ValueRecord = postcard::from_bytes(v.value()).map_err(|e| damaged("value", &e))?;
                values.insert((key.to_owned(), name.to_owned()), record);
            }
        }
        Err(redb::TableError::TableDoesNotExist(_)) => {}
        Err(e) => return Err(read_error(e.into())),
    }
    Ok((keys, values))
}
