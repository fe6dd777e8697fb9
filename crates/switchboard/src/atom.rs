//! Atoms: the global table (in the broker, shared by every process of the
//! realm) and this process's local table.
//!
//! Names are case-insensitive, 1 to 255 characters; `#123` names the integer
//! atom 123 (`MAKEINTATOM`), which needs no table entry.

use std::sync::{Mutex, PoisonError};

use switchboard_proto as p;
pub use switchboard_types::{Atom, AtomEntry};
use switchboard_types::{AtomKey, AtomTable};

use crate::connection::Connection;
use crate::error::{Error, ErrorKind, Result};

fn key(op: &'static str, name: &str) -> Result<AtomKey> {
    AtomKey::parse(name).map_err(|code| Error::new(ErrorKind::InvalidArgument, code, op, Some(name), code.message()))
}

/// Adds a reference to a global atom, creating it if needed.
///
/// # Windows equivalent
///
/// `GlobalAddAtom`. Global atoms outlive the process that added them, as on
/// Windows: they go when deleted as often as added.
pub fn global_add(conn: &Connection, name: &str) -> Result<Atom> {
    let op = "GlobalAddAtom";
    conn.call(p::AddAtom { key: key(op, name)? }, op, Some(name))
}

/// Finds a global atom by name (`GlobalFindAtom`); a missing one is
/// `ERROR_FILE_NOT_FOUND`.
pub fn global_find(conn: &Connection, name: &str) -> Result<Atom> {
    let op = "GlobalFindAtom";
    conn.call(p::FindAtom { key: key(op, name)? }, op, Some(name))
}

/// Drops one reference to a global atom (`GlobalDeleteAtom`).
pub fn global_delete(conn: &Connection, atom: Atom) -> Result<()> {
    conn.call(p::DeleteAtom { atom }, "GlobalDeleteAtom", Some(&atom.to_string()))
}

/// The name of a global atom (`GlobalGetAtomName`): `#i` for integer atoms.
pub fn global_name(conn: &Connection, atom: Atom) -> Result<String> {
    conn.call(p::AtomNameOf { atom }, "GlobalGetAtomName", Some(&atom.to_string()))
}

/// Every global string atom with its reference count.
pub fn global_list(conn: &Connection) -> Result<Vec<AtomEntry>> {
    conn.call(p::ListAtoms, "ListAtoms", None)
}

static LOCAL: Mutex<Option<AtomTable>> = Mutex::new(None);

fn with_local<T>(f: impl FnOnce(&mut AtomTable) -> T) -> T {
    let mut guard = LOCAL.lock().unwrap_or_else(PoisonError::into_inner);
    f(guard.get_or_insert_with(AtomTable::new))
}

fn local_err<'a>(op: &'static str, object: &'a str) -> impl FnOnce(switchboard_types::Win32Error) -> Error + use<'a> {
    move |code| Error::new(ErrorKind::Refused, code, op, Some(object), code.message())
}

/// Adds a reference to an atom in this process's local table (`AddAtom`).
pub fn local_add(name: &str) -> Result<Atom> {
    let k = key("AddAtom", name)?;
    with_local(|t| t.add(&k)).map_err(local_err("AddAtom", name))
}

/// Finds an atom in this process's local table (`FindAtom`).
pub fn local_find(name: &str) -> Result<Atom> {
    let k = key("FindAtom", name)?;
    with_local(|t| t.find(&k)).map_err(local_err("FindAtom", name))
}

/// Drops one reference to a local atom (`DeleteAtom`).
pub fn local_delete(atom: Atom) -> Result<()> {
    let shown = atom.to_string();
    with_local(|t| t.delete(atom)).map_err(local_err("DeleteAtom", &shown))
}

/// The name of a local atom (`GetAtomName`).
pub fn local_name(atom: Atom) -> Result<String> {
    let shown = atom.to_string();
    with_local(|t| t.name(atom)).map_err(local_err("GetAtomName", &shown))
}
