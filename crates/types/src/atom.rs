//! Atoms: 16-bit handles for strings, with reference counts.
//!
//! One [`AtomTable`] type serves both the broker's global table
//! (`GlobalAddAtom`) and each process's local table (`AddAtom`).

use std::collections::HashMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::Win32Error;

/// The longest atom name, in characters.
pub const MAX_ATOM_LEN: usize = 255;
/// The first string atom; below it are the integer atoms `1..=0xBFFF`.
pub const MIN_STRING_ATOM: u16 = 0xC000;

/// An atom value (`ATOM`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Atom(pub u16);

impl Atom {
    /// Whether this is an integer atom (`MAKEINTATOM`), which needs no table entry.
    pub const fn is_integer(self) -> bool {
        self.0 != 0 && self.0 < MIN_STRING_ATOM
    }
}

impl fmt::Debug for Atom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Atom(0x{:04X})", self.0)
    }
}

impl fmt::Display for Atom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:04X}", self.0)
    }
}

/// What an atom argument names: a string, or an integer atom written `#123`.
///
/// ```
/// use switchboard_types::{AtomKey, Win32Error};
/// assert_eq!(AtomKey::parse("#123"), Ok(AtomKey::Integer(123)));
/// assert_eq!(AtomKey::parse("foobar"), Ok(AtomKey::Name("foobar".into())));
/// assert_eq!(AtomKey::parse("#12a"), Ok(AtomKey::Name("#12a".into())));
/// assert_eq!(AtomKey::parse("#49152"), Err(Win32Error::ERROR_INVALID_PARAMETER)); // 0xC000
/// assert_eq!(AtomKey::parse(&"x".repeat(255)).map(|_| ()), Ok(()));
/// assert_eq!(AtomKey::parse(&"x".repeat(256)), Err(Win32Error::ERROR_INVALID_PARAMETER));
/// assert_eq!(AtomKey::parse(""), Err(Win32Error::ERROR_INVALID_NAME));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AtomKey {
    /// A string atom's name (1 to 255 characters).
    Name(String),
    /// An integer atom, `1..=0xBFFF`.
    Integer(u16),
}

impl AtomKey {
    /// Parses an atom argument the way `AddAtom` reads its string: `#` followed
    /// by decimal digits is an integer atom, anything else a name.
    pub fn parse(s: &str) -> Result<Self, Win32Error> {
        if let Some(digits) = s.strip_prefix('#')
            && !digits.is_empty()
            && digits.len() <= 5
            && digits.bytes().all(|b| b.is_ascii_digit())
        {
            let value: u32 = digits.parse().map_err(|_| Win32Error::ERROR_INVALID_PARAMETER)?;
            return Self::integer(value);
        }
        if s.is_empty() {
            return Err(Win32Error::ERROR_INVALID_NAME);
        }
        if s.chars().count() > MAX_ATOM_LEN {
            return Err(Win32Error::ERROR_INVALID_PARAMETER);
        }
        Ok(Self::Name(s.to_owned()))
    }

    /// An integer atom (`MAKEINTATOM`): `1..=0xBFFF`; anything else is
    /// `ERROR_INVALID_PARAMETER`.
    pub fn integer(value: u32) -> Result<Self, Win32Error> {
        match u16::try_from(value) {
            Ok(v) if v != 0 && v < MIN_STRING_ATOM => Ok(Self::Integer(v)),
            _ => Err(Win32Error::ERROR_INVALID_PARAMETER),
        }
    }
}

/// Case-insensitive key, as the atom table compares names.
fn fold(name: &str) -> String {
    name.chars().flat_map(char::to_uppercase).collect()
}

#[derive(Clone, Debug)]
struct Entry {
    name: String,
    refs: u32,
}

/// One row of [`AtomTable::entries`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AtomEntry {
    /// The atom.
    pub atom: Atom,
    /// Its name, with the case of the first add.
    pub name: String,
    /// Its reference count.
    pub refs: u32,
}

/// An atom table: string atoms from `0xC000` up, reference-counted, looked up
/// without regard to case.
#[derive(Clone, Debug, Default)]
pub struct AtomTable {
    by_atom: HashMap<u16, Entry>,
    by_name: HashMap<String, u16>,
    next: u16,
}

impl AtomTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// `AddAtom`: adds a reference to the name's atom, creating it if needed.
    /// Integer atoms come back unchanged, without an entry.
    pub fn add(&mut self, key: &AtomKey) -> Result<Atom, Win32Error> {
        let name = match key {
            AtomKey::Integer(i) => return Ok(Atom(*i)),
            AtomKey::Name(name) => name,
        };
        let folded = fold(name);
        if let Some(&atom) = self.by_name.get(&folded) {
            if let Some(entry) = self.by_atom.get_mut(&atom) {
                entry.refs = entry.refs.saturating_add(1);
            }
            return Ok(Atom(atom));
        }
        let atom = self.free_slot().ok_or(Win32Error::ERROR_NOT_ENOUGH_MEMORY)?;
        self.by_atom.insert(atom, Entry { name: name.clone(), refs: 1 });
        self.by_name.insert(folded, atom);
        Ok(Atom(atom))
    }

    fn free_slot(&mut self) -> Option<u16> {
        let span = u32::from(u16::MAX - MIN_STRING_ATOM) + 1;
        for step in 0..span {
            let offset = (u32::from(self.next) + step) % span;
            let candidate = MIN_STRING_ATOM + offset as u16;
            if !self.by_atom.contains_key(&candidate) {
                self.next = ((offset + 1) % span) as u16;
                return Some(candidate);
            }
        }
        None
    }

    /// `FindAtom`: the atom of a name, without changing its count.
    /// A missing name is `ERROR_FILE_NOT_FOUND`.
    pub fn find(&self, key: &AtomKey) -> Result<Atom, Win32Error> {
        match key {
            AtomKey::Integer(i) => Ok(Atom(*i)),
            AtomKey::Name(name) => {
                self.by_name.get(&fold(name)).map(|&a| Atom(a)).ok_or(Win32Error::ERROR_FILE_NOT_FOUND)
            }
        }
    }

    /// `DeleteAtom`: drops one reference; the atom goes when none remain.
    /// Integer atoms always succeed; an unknown atom is `ERROR_INVALID_HANDLE`.
    pub fn delete(&mut self, atom: Atom) -> Result<(), Win32Error> {
        if atom.is_integer() {
            return Ok(());
        }
        let entry = self.by_atom.get_mut(&atom.0).ok_or(Win32Error::ERROR_INVALID_HANDLE)?;
        entry.refs -= 1;
        if entry.refs == 0 {
            let name = fold(&entry.name);
            self.by_atom.remove(&atom.0);
            self.by_name.remove(&name);
        }
        Ok(())
    }

    /// `GetAtomName`: `#i` for integer atoms; atom 0 is `ERROR_INVALID_PARAMETER`,
    /// an unknown string atom `ERROR_INVALID_HANDLE`.
    pub fn name(&self, atom: Atom) -> Result<String, Win32Error> {
        if atom.0 == 0 {
            return Err(Win32Error::ERROR_INVALID_PARAMETER);
        }
        if atom.is_integer() {
            return Ok(format!("#{}", atom.0));
        }
        self.by_atom.get(&atom.0).map(|e| e.name.clone()).ok_or(Win32Error::ERROR_INVALID_HANDLE)
    }

    /// Every string atom, in atom order.
    pub fn entries(&self) -> Vec<AtomEntry> {
        let mut rows: Vec<AtomEntry> = self
            .by_atom
            .iter()
            .map(|(&atom, e)| AtomEntry { atom: Atom(atom), name: e.name.clone(), refs: e.refs })
            .collect();
        rows.sort_by_key(|r| r.atom);
        rows
    }

    /// How many string atoms the table holds.
    pub fn len(&self) -> usize {
        self.by_atom.len()
    }

    /// Whether the table holds no string atom.
    pub fn is_empty(&self) -> bool {
        self.by_atom.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> AtomKey {
        AtomKey::parse(s).unwrap()
    }

    #[test]
    fn string_atoms_start_at_0xc000() {
        let mut t = AtomTable::new();
        assert!(t.add(&name("foobar")).unwrap().0 >= MIN_STRING_ATOM);
    }

    #[test]
    fn find_is_case_insensitive_and_exact() {
        let mut t = AtomTable::new();
        let a = t.add(&name("foobar")).unwrap();
        assert_eq!(t.find(&name("FOOBAR")), Ok(a));
        assert_eq!(t.find(&name("_foobar")), Err(Win32Error::ERROR_FILE_NOT_FOUND));
    }

    #[test]
    fn integer_atoms_have_no_entry() {
        let mut t = AtomTable::new();
        assert_eq!(t.add(&AtomKey::integer(1).unwrap()), Ok(Atom(1)));
        assert_eq!(t.add(&AtomKey::integer(0xBFFF).unwrap()), Ok(Atom(0xBFFF)));
        assert_eq!(AtomKey::integer(0xC000), Err(Win32Error::ERROR_INVALID_PARAMETER));
        assert_eq!(AtomKey::integer(0xFFFF), Err(Win32Error::ERROR_INVALID_PARAMETER));
        assert!(t.is_empty());
        assert_eq!(t.name(Atom(7)).unwrap(), "#7");
    }

    #[test]
    fn name_of_atom_zero_is_invalid_parameter() {
        assert_eq!(AtomTable::new().name(Atom(0)), Err(Win32Error::ERROR_INVALID_PARAMETER));
    }

    #[test]
    fn add_twice_delete_once_keeps_it_second_delete_removes_it() {
        let mut t = AtomTable::new();
        let a = t.add(&name("foobar")).unwrap();
        assert_eq!(t.add(&name("FooBar")), Ok(a));
        t.delete(a).unwrap();
        assert_eq!(t.find(&name("foobar")), Ok(a));
        t.delete(a).unwrap();
        assert_eq!(t.find(&name("foobar")), Err(Win32Error::ERROR_FILE_NOT_FOUND));
        assert_eq!(t.delete(a), Err(Win32Error::ERROR_INVALID_HANDLE));
    }

    #[test]
    fn name_of_255_characters_round_trips() {
        let mut t = AtomTable::new();
        let long = "a".repeat(MAX_ATOM_LEN);
        let a = t.add(&name(&long)).unwrap();
        assert_eq!(t.name(a).unwrap(), long);
    }

    #[test]
    fn name_keeps_the_case_of_the_first_add() {
        let mut t = AtomTable::new();
        let a = t.add(&name("FooBar")).unwrap();
        t.add(&name("foobar")).unwrap();
        assert_eq!(t.name(a).unwrap(), "FooBar");
    }

    #[test]
    fn full_table_refuses_and_recovers() {
        let mut t = AtomTable::new();
        let count = usize::from(u16::MAX - MIN_STRING_ATOM) + 1;
        for i in 0..count {
            t.add(&name(&format!("a{i}"))).unwrap();
        }
        assert_eq!(t.add(&name("one too many")), Err(Win32Error::ERROR_NOT_ENOUGH_MEMORY));
        let first = t.find(&name("a0")).unwrap();
        t.delete(first).unwrap();
        assert_eq!(t.add(&name("one too many")), Ok(first));
    }
}
