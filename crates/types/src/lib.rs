//! Switchboard's vocabulary, shared by every other crate: validated names,
//! Win32 error and NTSTATUS codes, access rights (one table, [`access`]),
//! security descriptors and SDDL, the atom table, the kinds of object, and
//! the shared-memory state machine of events, mutexes and semaphores. Pure: no I/O, no clock, no `unsafe`.
#![forbid(unsafe_code)]

pub mod access;
pub mod atom;
pub mod error;
pub mod mailslot_name;
pub mod names;
pub mod ntstatus;
pub mod object;
pub mod pipe_name;
pub mod registry;
mod sddl;
pub mod security;
pub mod syncstate;

pub use access::{AccessMask, GenericMapping};
pub use atom::{Atom, AtomEntry, AtomKey, AtomTable};
pub use error::Win32Error;
pub use mailslot_name::{MailslotName, MailslotScope};
pub use names::{NameError, NamespacePath, ObjectName};
pub use ntstatus::NtStatus;
pub use object::{Handle, ObjectKind};
pub use pipe_name::PipeName;
