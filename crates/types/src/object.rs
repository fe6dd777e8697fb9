//! Object kinds and handle values.

use std::fmt;

use serde::{Deserialize, Serialize};

/// What an object in the namespace is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ObjectKind {
    /// An object directory.
    Directory,
    /// A symbolic link to another path.
    SymbolicLink,
    /// A named or unnamed event.
    Event,
    /// A named pipe (its instances, server and client ends).
    NamedPipe,
    /// A mailslot (its reader or a writer).
    Mailslot,
    /// A file mapping (section).
    Section,
    /// A mutex (`Mutant` in NT).
    Mutex,
    /// A semaphore.
    Semaphore,
    /// An open registry key.
    Key,
}

impl ObjectKind {
    /// The NT type name, as tools such as `WinObj` show it.
    pub const fn type_name(self) -> &'static str {
        match self {
            Self::Directory => "Directory",
            Self::SymbolicLink => "SymbolicLink",
            Self::Event => "Event",
            Self::NamedPipe => "NamedPipe",
            Self::Mailslot => "Mailslot",
            Self::Section => "Section",
            Self::Mutex => "Mutant",
            Self::Semaphore => "Semaphore",
            Self::Key => "Key",
        }
    }
}

impl fmt::Display for ObjectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.type_name())
    }
}

/// A handle value in one process's handle table: a multiple of 4, never 0.
///
/// As on Windows, the low two bits are free for the caller's own use and are
/// ignored when the handle is looked up.
///
/// ```
/// use switchboard_types::Handle;
/// assert_eq!(Handle(7).index(), Handle(4).index());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Handle(pub u32);

impl Handle {
    /// The table slot this handle names, ignoring the two low tag bits;
    /// `None` for the values below 4.
    pub const fn index(self) -> Option<u32> {
        let slot = self.0 >> 2;
        if slot == 0 { None } else { Some(slot - 1) }
    }

    /// The handle for table slot `index`.
    pub const fn from_index(index: u32) -> Self {
        Self((index + 1) << 2)
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Handle(0x{:x})", self.0)
    }
}

impl fmt::Display for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:x}", self.0)
    }
}
