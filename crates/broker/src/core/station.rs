//! Window stations: each logon session's interactive one (`WinSta0`), which
//! holds its global atom table (and, later, its clipboard).
//!
//! Each user is one logon session (see the `namespace` module), so each uid
//! has one window station, `\Sessions\<uid>\Windows\WindowStations\WinSta0`
//! on Windows; it is not an object in our namespace. A user's atom table
//! is made by its first `GlobalAddAtom` and goes when its last atom is
//! deleted: only a connected client of that uid can make one, so the number
//! of tables is bounded by the users that connect, and each table keeps its
//! own limit of 0x4000 string atoms.
//!
//! # Windows equivalent
//!
//! `GlobalAddAtom` and friends work on the atom table of the caller's window
//! station: two users logged on at once never see or delete each other's
//! atoms, and a service (session 0) has its own. Windows drops a station's
//! table when the session logs off; here a user's atoms stay until deleted,
//! as the broker has no logoff (a user's programs may all exit between two
//! uses of an atom, as `switchboard atom add` then `atom find` do).

use std::collections::HashMap;

use switchboard_proto::WireError;
use switchboard_types::{Atom, AtomEntry, AtomKey, AtomTable, Win32Error};

use super::{Core, Cx};

/// The window stations, by uid; for now only their atom tables.
#[derive(Debug, Default)]
pub struct WindowStations {
    atoms: HashMap<u32, AtomTable>,
}

impl WindowStations {
    /// The atom table of `uid`'s station, if it holds any atom.
    fn atoms(&self, uid: u32) -> Option<&AtomTable> {
        self.atoms.get(&uid)
    }

    /// How many string atoms `uid`'s station holds.
    pub fn atom_count(&self, uid: u32) -> usize {
        self.atoms(uid).map_or(0, AtomTable::len)
    }
}

fn err(code: Win32Error, message: impl Into<String>) -> WireError {
    WireError::new(code, message)
}

impl Core {
    /// The uid whose window station the caller works on.
    pub(super) fn station_of(&self, cx: &Cx) -> Result<u32, WireError> {
        Ok(self.client(cx.client)?.cred.uid)
    }

    /// `GlobalAddAtom` in the caller's station.
    pub(super) fn atom_add(&mut self, cx: &Cx, key: &AtomKey) -> Result<Atom, WireError> {
        let uid = self.station_of(cx)?;
        let table = self.stations.atoms.entry(uid).or_default();
        let added = table.add(key);
        if table.is_empty() {
            // An integer atom makes no entry: leave no empty table behind.
            self.stations.atoms.remove(&uid);
        }
        added.map_err(|code| err(code, code.message()))
    }

    /// `GlobalFindAtom` in the caller's station.
    pub(super) fn atom_find(&self, cx: &Cx, key: &AtomKey) -> Result<Atom, WireError> {
        let uid = self.station_of(cx)?;
        match self.stations.atoms(uid) {
            Some(table) => table.find(key),
            None => AtomTable::new().find(key),
        }
        .map_err(|code| err(code, "no such atom"))
    }

    /// `GlobalDeleteAtom` in the caller's station.
    pub(super) fn atom_delete(&mut self, cx: &Cx, atom: Atom) -> Result<(), WireError> {
        let uid = self.station_of(cx)?;
        let deleted = match self.stations.atoms.get_mut(&uid) {
            Some(table) => {
                let deleted = table.delete(atom);
                if table.is_empty() {
                    self.stations.atoms.remove(&uid);
                }
                deleted
            }
            None => AtomTable::new().delete(atom),
        };
        deleted.map_err(|code| err(code, "no such atom"))
    }

    /// `GlobalGetAtomName` in the caller's station.
    pub(super) fn atom_name_of(&self, cx: &Cx, atom: Atom) -> Result<String, WireError> {
        let uid = self.station_of(cx)?;
        match self.stations.atoms(uid) {
            Some(table) => table.name(atom),
            None => AtomTable::new().name(atom),
        }
        .map_err(|code| err(code, code.message()))
    }

    /// The string atoms of the caller's station.
    pub(super) fn atom_list(&self, cx: &Cx) -> Result<Vec<AtomEntry>, WireError> {
        let uid = self.station_of(cx)?;
        Ok(self.stations.atoms(uid).map(AtomTable::entries).unwrap_or_default())
    }
}
