//! Access rights: [`AccessMask`], [`GenericMapping`], and one table of the
//! rights of every object type, each beside its generic mapping.
//!
//! The values are the ones Windows documents (`winnt.h`; "Synchronization
//! Object Security and Access Rights", "File Mapping Security and Access
//! Rights", "File Security and Access Rights", "Registry Key Security and
//! Access Rights"), so masks written for Windows mean the same here. The
//! broker takes each type's rights and mapping from here, the client library
//! re-exports them, and nothing else defines them.

#![warn(missing_docs)]

use std::fmt;
use std::ops::{BitAnd, BitOr, BitOrAssign, Not};

use serde::{Deserialize, Serialize};

/// An access mask: a set of rights that is asked for, granted or denied.
///
/// Windows equivalent: `ACCESS_MASK`. Bits 0–15 are object-specific rights,
/// bits 16–20 standard rights, and the top four bits are generic rights that
/// [`GenericMapping::map`] turns into object-specific ones.
///
/// On the wire it is its `u32` (`#[serde(transparent)]`), so replacing a
/// `u32` field with an `AccessMask` leaves the encoding unchanged.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AccessMask(pub u32);

impl AccessMask {
    /// The right to delete the object. Windows: `DELETE`.
    pub const DELETE: Self = Self(0x0001_0000);
    /// The right to read the security descriptor (except the SACL). Windows: `READ_CONTROL`.
    pub const READ_CONTROL: Self = Self(0x0002_0000);
    /// The right to change the DACL. Windows: `WRITE_DAC`.
    pub const WRITE_DAC: Self = Self(0x0004_0000);
    /// The right to change the owner. Windows: `WRITE_OWNER`.
    pub const WRITE_OWNER: Self = Self(0x0008_0000);
    /// The right to wait on the object. Windows: `SYNCHRONIZE`.
    pub const SYNCHRONIZE: Self = Self(0x0010_0000);
    /// `DELETE | READ_CONTROL | WRITE_DAC | WRITE_OWNER`. Windows: `STANDARD_RIGHTS_REQUIRED`.
    pub const STANDARD_RIGHTS_REQUIRED: Self = Self(0x000F_0000);
    /// Ask for whatever the DACL allows. Windows: `MAXIMUM_ALLOWED`.
    pub const MAXIMUM_ALLOWED: Self = Self(0x0200_0000);
    /// Generic read, mapped per object type. Windows: `GENERIC_READ`.
    pub const GENERIC_READ: Self = Self(0x8000_0000);
    /// Generic write, mapped per object type. Windows: `GENERIC_WRITE`.
    pub const GENERIC_WRITE: Self = Self(0x4000_0000);
    /// Generic execute, mapped per object type. Windows: `GENERIC_EXECUTE`.
    pub const GENERIC_EXECUTE: Self = Self(0x2000_0000);
    /// Generic all, mapped per object type. Windows: `GENERIC_ALL`.
    pub const GENERIC_ALL: Self = Self(0x1000_0000);

    const GENERIC_BITS: Self = Self(0xF000_0000);

    /// The raw bits.
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// Whether every bit of `other` is set in `self` (an empty `other` is always contained).
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether `self` and `other` share at least one bit.
    pub const fn intersects(self, other: Self) -> bool {
        self.0 & other.0 != 0
    }

    /// Whether no bit is set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The bits set in either mask.
    #[must_use]
    pub const fn union(self, o: Self) -> Self {
        Self(self.0 | o.0)
    }

    /// The bits of `self` that are not in `o`.
    #[must_use]
    pub const fn difference(self, o: Self) -> Self {
        Self(self.0 & !o.0)
    }
}

impl From<u32> for AccessMask {
    fn from(bits: u32) -> Self {
        Self(bits)
    }
}

impl From<AccessMask> for u32 {
    fn from(mask: AccessMask) -> Self {
        mask.0
    }
}

impl BitOr for AccessMask {
    type Output = Self;
    fn bitor(self, rhs: Self) -> Self {
        self.union(rhs)
    }
}

impl BitOrAssign for AccessMask {
    fn bitor_assign(&mut self, rhs: Self) {
        *self = self.union(rhs);
    }
}

impl BitAnd for AccessMask {
    type Output = Self;
    fn bitand(self, rhs: Self) -> Self {
        Self(self.0 & rhs.0)
    }
}

impl Not for AccessMask {
    type Output = Self;
    fn not(self) -> Self {
        Self(!self.0)
    }
}

/// `AccessMask(0x001f0003)`: masks read in hex.
impl fmt::Debug for AccessMask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AccessMask({:#010x})", self.0)
    }
}

impl fmt::LowerHex for AccessMask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::LowerHex::fmt(&self.0, f)
    }
}

impl fmt::UpperHex for AccessMask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::UpperHex::fmt(&self.0, f)
    }
}

impl fmt::Display for AccessMask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#010x}", self.0)
    }
}

/// What each generic right means for one object type.
///
/// Windows equivalent: `GENERIC_MAPPING`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GenericMapping {
    /// The rights `GENERIC_READ` stands for.
    pub read: AccessMask,
    /// The rights `GENERIC_WRITE` stands for.
    pub write: AccessMask,
    /// The rights `GENERIC_EXECUTE` stands for.
    pub execute: AccessMask,
    /// The rights `GENERIC_ALL` stands for; also what `MAXIMUM_ALLOWED` yields under a NULL DACL.
    pub all: AccessMask,
}

impl GenericMapping {
    /// Replaces the generic bits of `mask` with this type's specific rights;
    /// every other bit, including `MAXIMUM_ALLOWED`, is kept.
    ///
    /// Windows equivalent: `MapGenericMask`.
    pub fn map(&self, mask: AccessMask) -> AccessMask {
        let meanings = [
            (AccessMask::GENERIC_READ, self.read),
            (AccessMask::GENERIC_WRITE, self.write),
            (AccessMask::GENERIC_EXECUTE, self.execute),
            (AccessMask::GENERIC_ALL, self.all),
        ];
        let mut mapped = mask.difference(AccessMask::GENERIC_BITS);
        for (generic, meaning) in meanings {
            if mask.contains(generic) {
                mapped |= meaning;
            }
        }
        mapped
    }
}

/// A const `a | b | …`, for building the tables below.
const fn all_of<const N: usize>(masks: [AccessMask; N]) -> AccessMask {
    let mut bits = 0;
    let mut i = 0;
    while i < N {
        bits |= masks[i].0;
        i += 1;
    }
    AccessMask(bits)
}

/// Rights every object type shares: standard rights (bits 16–20), generic
/// rights (the top four bits, mapped per type) and `MAXIMUM_ALLOWED`.
pub mod standard {
    use super::{AccessMask, all_of};

    /// `DELETE`: the right to delete the object.
    pub const DELETE: AccessMask = AccessMask::DELETE;
    /// `READ_CONTROL`: the right to read the security descriptor (not the SACL).
    pub const READ_CONTROL: AccessMask = AccessMask::READ_CONTROL;
    /// `WRITE_DAC`: the right to change the DACL.
    pub const WRITE_DAC: AccessMask = AccessMask::WRITE_DAC;
    /// `WRITE_OWNER`: the right to change the owner.
    pub const WRITE_OWNER: AccessMask = AccessMask::WRITE_OWNER;
    /// `SYNCHRONIZE`: the right to wait on the object.
    pub const SYNCHRONIZE: AccessMask = AccessMask::SYNCHRONIZE;
    /// `STANDARD_RIGHTS_REQUIRED`: `DELETE | READ_CONTROL | WRITE_DAC | WRITE_OWNER`.
    pub const STANDARD_RIGHTS_REQUIRED: AccessMask = AccessMask::STANDARD_RIGHTS_REQUIRED;
    /// `STANDARD_RIGHTS_READ`: `READ_CONTROL`.
    pub const STANDARD_RIGHTS_READ: AccessMask = READ_CONTROL;
    /// `STANDARD_RIGHTS_WRITE`: `READ_CONTROL`.
    pub const STANDARD_RIGHTS_WRITE: AccessMask = READ_CONTROL;
    /// `STANDARD_RIGHTS_EXECUTE`: `READ_CONTROL`.
    pub const STANDARD_RIGHTS_EXECUTE: AccessMask = READ_CONTROL;
    /// `STANDARD_RIGHTS_ALL`: the required rights and `SYNCHRONIZE`.
    pub const STANDARD_RIGHTS_ALL: AccessMask = all_of([STANDARD_RIGHTS_REQUIRED, SYNCHRONIZE]);
    /// `SPECIFIC_RIGHTS_ALL`: the sixteen object-specific bits.
    pub const SPECIFIC_RIGHTS_ALL: AccessMask = AccessMask(0x0000_FFFF);
    /// `ACCESS_SYSTEM_SECURITY`: the right to the SACL (no object here has one).
    pub const ACCESS_SYSTEM_SECURITY: AccessMask = AccessMask(0x0100_0000);
    /// `MAXIMUM_ALLOWED`: ask for whatever the DACL allows.
    pub const MAXIMUM_ALLOWED: AccessMask = AccessMask::MAXIMUM_ALLOWED;
    /// `GENERIC_READ`, mapped per object type.
    pub const GENERIC_READ: AccessMask = AccessMask::GENERIC_READ;
    /// `GENERIC_WRITE`, mapped per object type.
    pub const GENERIC_WRITE: AccessMask = AccessMask::GENERIC_WRITE;
    /// `GENERIC_EXECUTE`, mapped per object type.
    pub const GENERIC_EXECUTE: AccessMask = AccessMask::GENERIC_EXECUTE;
    /// `GENERIC_ALL`, mapped per object type.
    pub const GENERIC_ALL: AccessMask = AccessMask::GENERIC_ALL;
}

/// Events (`CreateEvent`, `OpenEvent`).
pub mod event {
    use super::standard::{READ_CONTROL, STANDARD_RIGHTS_REQUIRED, SYNCHRONIZE};
    use super::{AccessMask, GenericMapping, all_of};

    /// `EVENT_QUERY_STATE`.
    pub const EVENT_QUERY_STATE: AccessMask = AccessMask(0x0001);
    /// `EVENT_MODIFY_STATE`: needed to set, reset or pulse.
    pub const EVENT_MODIFY_STATE: AccessMask = AccessMask(0x0002);
    /// `EVENT_ALL_ACCESS`.
    pub const EVENT_ALL_ACCESS: AccessMask =
        all_of([STANDARD_RIGHTS_REQUIRED, SYNCHRONIZE, EVENT_QUERY_STATE, EVENT_MODIFY_STATE]);

    /// The generic mapping of events, as Windows defines it.
    pub const MAPPING: GenericMapping = GenericMapping {
        read: all_of([READ_CONTROL, EVENT_QUERY_STATE]),
        write: all_of([READ_CONTROL, EVENT_MODIFY_STATE]),
        execute: all_of([READ_CONTROL, SYNCHRONIZE]),
        all: EVENT_ALL_ACCESS,
    };
}

/// Mutexes (`CreateMutex`, `OpenMutex`; "mutants" in the NT API).
pub mod mutex {
    use super::standard::{READ_CONTROL, STANDARD_RIGHTS_REQUIRED, SYNCHRONIZE};
    use super::{AccessMask, GenericMapping, all_of};

    /// `MUTANT_QUERY_STATE`.
    pub const MUTANT_QUERY_STATE: AccessMask = AccessMask(0x0001);
    /// `MUTEX_MODIFY_STATE` (the same bit as `MUTANT_QUERY_STATE`): needed to release.
    pub const MUTEX_MODIFY_STATE: AccessMask = MUTANT_QUERY_STATE;
    /// `MUTANT_ALL_ACCESS`.
    pub const MUTANT_ALL_ACCESS: AccessMask = all_of([STANDARD_RIGHTS_REQUIRED, SYNCHRONIZE, MUTANT_QUERY_STATE]);
    /// `MUTEX_ALL_ACCESS` (`MUTANT_ALL_ACCESS`).
    pub const MUTEX_ALL_ACCESS: AccessMask = MUTANT_ALL_ACCESS;

    /// The generic mapping of mutexes, as Windows defines it (generic write
    /// gives no specific right: releasing is `MUTANT_QUERY_STATE`, a read right).
    pub const MAPPING: GenericMapping = GenericMapping {
        read: all_of([READ_CONTROL, MUTANT_QUERY_STATE]),
        write: READ_CONTROL,
        execute: all_of([READ_CONTROL, SYNCHRONIZE]),
        all: MUTANT_ALL_ACCESS,
    };
}

/// Semaphores (`CreateSemaphore`, `OpenSemaphore`).
pub mod semaphore {
    use super::standard::{READ_CONTROL, STANDARD_RIGHTS_REQUIRED, SYNCHRONIZE};
    use super::{AccessMask, GenericMapping, all_of};

    /// `SEMAPHORE_QUERY_STATE`.
    pub const SEMAPHORE_QUERY_STATE: AccessMask = AccessMask(0x0001);
    /// `SEMAPHORE_MODIFY_STATE`: needed to release.
    pub const SEMAPHORE_MODIFY_STATE: AccessMask = AccessMask(0x0002);
    /// `SEMAPHORE_ALL_ACCESS`.
    pub const SEMAPHORE_ALL_ACCESS: AccessMask =
        all_of([STANDARD_RIGHTS_REQUIRED, SYNCHRONIZE, SEMAPHORE_QUERY_STATE, SEMAPHORE_MODIFY_STATE]);

    /// The generic mapping of semaphores, as Windows defines it.
    pub const MAPPING: GenericMapping = GenericMapping {
        read: all_of([READ_CONTROL, SEMAPHORE_QUERY_STATE]),
        write: all_of([READ_CONTROL, SEMAPHORE_MODIFY_STATE]),
        execute: all_of([READ_CONTROL, SYNCHRONIZE]),
        all: SEMAPHORE_ALL_ACCESS,
    };
}

/// Sections (file mappings): the NT `SECTION_*` rights and the Win32
/// `FILE_MAP_*` names for them.
pub mod section {
    use super::standard::{READ_CONTROL, STANDARD_RIGHTS_REQUIRED};
    use super::{AccessMask, GenericMapping, all_of};

    /// `SECTION_QUERY`.
    pub const SECTION_QUERY: AccessMask = AccessMask(0x0001);
    /// `SECTION_MAP_WRITE`.
    pub const SECTION_MAP_WRITE: AccessMask = AccessMask(0x0002);
    /// `SECTION_MAP_READ`.
    pub const SECTION_MAP_READ: AccessMask = AccessMask(0x0004);
    /// `SECTION_MAP_EXECUTE`.
    pub const SECTION_MAP_EXECUTE: AccessMask = AccessMask(0x0008);
    /// `SECTION_EXTEND_SIZE`.
    pub const SECTION_EXTEND_SIZE: AccessMask = AccessMask(0x0010);
    /// `SECTION_MAP_EXECUTE_EXPLICIT` (not part of `SECTION_ALL_ACCESS`).
    pub const SECTION_MAP_EXECUTE_EXPLICIT: AccessMask = AccessMask(0x0020);
    /// `SECTION_ALL_ACCESS` (no `SYNCHRONIZE`: a section cannot be waited on).
    pub const SECTION_ALL_ACCESS: AccessMask = all_of([
        STANDARD_RIGHTS_REQUIRED,
        SECTION_QUERY,
        SECTION_MAP_WRITE,
        SECTION_MAP_READ,
        SECTION_MAP_EXECUTE,
        SECTION_EXTEND_SIZE,
    ]);

    /// `FILE_MAP_COPY` (`SECTION_QUERY`): copy-on-write views.
    pub const FILE_MAP_COPY: AccessMask = SECTION_QUERY;
    /// `FILE_MAP_WRITE` (`SECTION_MAP_WRITE`).
    pub const FILE_MAP_WRITE: AccessMask = SECTION_MAP_WRITE;
    /// `FILE_MAP_READ` (`SECTION_MAP_READ`).
    pub const FILE_MAP_READ: AccessMask = SECTION_MAP_READ;
    /// `FILE_MAP_EXECUTE` (`SECTION_MAP_EXECUTE_EXPLICIT`).
    pub const FILE_MAP_EXECUTE: AccessMask = SECTION_MAP_EXECUTE_EXPLICIT;
    /// `FILE_MAP_ALL_ACCESS` (`SECTION_ALL_ACCESS`).
    pub const FILE_MAP_ALL_ACCESS: AccessMask = SECTION_ALL_ACCESS;

    /// The generic mapping of sections, as Windows defines it.
    pub const MAPPING: GenericMapping = GenericMapping {
        read: all_of([READ_CONTROL, SECTION_QUERY, SECTION_MAP_READ]),
        write: all_of([READ_CONTROL, SECTION_MAP_WRITE]),
        execute: all_of([READ_CONTROL, SECTION_MAP_EXECUTE]),
        all: SECTION_ALL_ACCESS,
    };
}

/// Files, which named pipes and mailslots are on Windows (`CreateFile`,
/// `CreateNamedPipe`, `CreateMailslot`).
pub mod file {
    use super::standard::{READ_CONTROL, STANDARD_RIGHTS_REQUIRED, SYNCHRONIZE};
    use super::{AccessMask, GenericMapping, all_of};

    /// `FILE_READ_DATA`: read (a pipe's or mailslot's messages).
    pub const FILE_READ_DATA: AccessMask = AccessMask(0x0001);
    /// `FILE_WRITE_DATA`: write.
    pub const FILE_WRITE_DATA: AccessMask = AccessMask(0x0002);
    /// `FILE_APPEND_DATA`.
    pub const FILE_APPEND_DATA: AccessMask = AccessMask(0x0004);
    /// `FILE_CREATE_PIPE_INSTANCE` (`FILE_APPEND_DATA`): make another instance of a named pipe.
    pub const FILE_CREATE_PIPE_INSTANCE: AccessMask = FILE_APPEND_DATA;
    /// `FILE_READ_EA`.
    pub const FILE_READ_EA: AccessMask = AccessMask(0x0008);
    /// `FILE_WRITE_EA`.
    pub const FILE_WRITE_EA: AccessMask = AccessMask(0x0010);
    /// `FILE_EXECUTE`.
    pub const FILE_EXECUTE: AccessMask = AccessMask(0x0020);
    /// `FILE_DELETE_CHILD`.
    pub const FILE_DELETE_CHILD: AccessMask = AccessMask(0x0040);
    /// `FILE_READ_ATTRIBUTES`.
    pub const FILE_READ_ATTRIBUTES: AccessMask = AccessMask(0x0080);
    /// `FILE_WRITE_ATTRIBUTES`: needed to change a pipe handle's read mode.
    pub const FILE_WRITE_ATTRIBUTES: AccessMask = AccessMask(0x0100);
    /// `FILE_ALL_ACCESS`.
    pub const FILE_ALL_ACCESS: AccessMask = all_of([STANDARD_RIGHTS_REQUIRED, SYNCHRONIZE, AccessMask(0x01FF)]);
    /// `FILE_GENERIC_READ`.
    pub const FILE_GENERIC_READ: AccessMask =
        all_of([READ_CONTROL, FILE_READ_DATA, FILE_READ_ATTRIBUTES, FILE_READ_EA, SYNCHRONIZE]);
    /// `FILE_GENERIC_WRITE`.
    pub const FILE_GENERIC_WRITE: AccessMask =
        all_of([READ_CONTROL, FILE_WRITE_DATA, FILE_WRITE_ATTRIBUTES, FILE_WRITE_EA, FILE_APPEND_DATA, SYNCHRONIZE]);
    /// `FILE_GENERIC_EXECUTE`.
    pub const FILE_GENERIC_EXECUTE: AccessMask =
        all_of([READ_CONTROL, FILE_READ_ATTRIBUTES, FILE_EXECUTE, SYNCHRONIZE]);

    /// The generic mapping of files, which pipes and mailslots share, as Windows defines it.
    pub const MAPPING: GenericMapping = GenericMapping {
        read: FILE_GENERIC_READ,
        write: FILE_GENERIC_WRITE,
        execute: FILE_GENERIC_EXECUTE,
        all: FILE_ALL_ACCESS,
    };
}

/// Registry keys (`RegCreateKeyEx`, `RegOpenKeyEx`).
pub mod key {
    use super::standard::{READ_CONTROL, STANDARD_RIGHTS_REQUIRED};
    use super::{AccessMask, GenericMapping, all_of};

    /// `KEY_QUERY_VALUE`.
    pub const KEY_QUERY_VALUE: AccessMask = AccessMask(0x0001);
    /// `KEY_SET_VALUE`.
    pub const KEY_SET_VALUE: AccessMask = AccessMask(0x0002);
    /// `KEY_CREATE_SUB_KEY`.
    pub const KEY_CREATE_SUB_KEY: AccessMask = AccessMask(0x0004);
    /// `KEY_ENUMERATE_SUB_KEYS`.
    pub const KEY_ENUMERATE_SUB_KEYS: AccessMask = AccessMask(0x0008);
    /// `KEY_NOTIFY`.
    pub const KEY_NOTIFY: AccessMask = AccessMask(0x0010);
    /// `KEY_CREATE_LINK` (symbolic links between keys are not supported).
    pub const KEY_CREATE_LINK: AccessMask = AccessMask(0x0020);
    /// `KEY_WOW64_64KEY`: accepted on Windows; there is one view here.
    pub const KEY_WOW64_64KEY: AccessMask = AccessMask(0x0100);
    /// `KEY_WOW64_32KEY`: accepted on Windows; there is one view here.
    pub const KEY_WOW64_32KEY: AccessMask = AccessMask(0x0200);
    /// `KEY_READ`.
    pub const KEY_READ: AccessMask = all_of([READ_CONTROL, KEY_QUERY_VALUE, KEY_ENUMERATE_SUB_KEYS, KEY_NOTIFY]);
    /// `KEY_WRITE`.
    pub const KEY_WRITE: AccessMask = all_of([READ_CONTROL, KEY_SET_VALUE, KEY_CREATE_SUB_KEY]);
    /// `KEY_EXECUTE` (`KEY_READ`).
    pub const KEY_EXECUTE: AccessMask = KEY_READ;
    /// `KEY_ALL_ACCESS` (no `SYNCHRONIZE`: a key cannot be waited on).
    pub const KEY_ALL_ACCESS: AccessMask = all_of([
        STANDARD_RIGHTS_REQUIRED,
        KEY_QUERY_VALUE,
        KEY_SET_VALUE,
        KEY_CREATE_SUB_KEY,
        KEY_ENUMERATE_SUB_KEYS,
        KEY_NOTIFY,
        KEY_CREATE_LINK,
    ]);

    /// The generic mapping of keys, as Windows defines it.
    pub const MAPPING: GenericMapping =
        GenericMapping { read: KEY_READ, write: KEY_WRITE, execute: KEY_EXECUTE, all: KEY_ALL_ACCESS };
}

/// Object-manager directories (`\BaseNamedObjects`, `\Sessions\…`).
pub mod directory {
    use super::standard::{READ_CONTROL, STANDARD_RIGHTS_REQUIRED};
    use super::{AccessMask, GenericMapping, all_of};

    /// `DIRECTORY_QUERY`: list the directory.
    pub const DIRECTORY_QUERY: AccessMask = AccessMask(0x0001);
    /// `DIRECTORY_TRAVERSE`: look a name up in it.
    pub const DIRECTORY_TRAVERSE: AccessMask = AccessMask(0x0002);
    /// `DIRECTORY_CREATE_OBJECT`: make a named object in it.
    pub const DIRECTORY_CREATE_OBJECT: AccessMask = AccessMask(0x0004);
    /// `DIRECTORY_CREATE_SUBDIRECTORY`: make a subdirectory.
    pub const DIRECTORY_CREATE_SUBDIRECTORY: AccessMask = AccessMask(0x0008);
    /// `DIRECTORY_ALL_ACCESS`.
    pub const DIRECTORY_ALL_ACCESS: AccessMask = all_of([
        STANDARD_RIGHTS_REQUIRED,
        DIRECTORY_QUERY,
        DIRECTORY_TRAVERSE,
        DIRECTORY_CREATE_OBJECT,
        DIRECTORY_CREATE_SUBDIRECTORY,
    ]);

    /// The generic mapping of directories, as Windows defines it.
    pub const MAPPING: GenericMapping = GenericMapping {
        read: all_of([READ_CONTROL, DIRECTORY_QUERY, DIRECTORY_TRAVERSE]),
        write: all_of([READ_CONTROL, DIRECTORY_CREATE_OBJECT, DIRECTORY_CREATE_SUBDIRECTORY]),
        execute: all_of([READ_CONTROL, DIRECTORY_QUERY, DIRECTORY_TRAVERSE]),
        all: DIRECTORY_ALL_ACCESS,
    };
}

#[cfg(test)]
mod tests;
