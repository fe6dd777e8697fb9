//! Switchboard: the Windows interprocess-communication system, native on Linux.
//!
//! Processes share named objects through the realm's broker
//! (`switchboardd`), which the first [`Connection`] starts if none is
//! running. Objects have the Win32 semantics: names in an NT-style namespace
//! (`Local\`, `Global\`), handles that close on drop, security descriptors
//! that by default let only the creator (and root) in, and objects that
//! vanish with their last handle anywhere.
//!
//! ```no_run
//! use std::time::Duration;
//! use switchboard::{Connection, Event, EventOptions, WaitResult};
//!
//! # fn main() -> switchboard::Result<()> {
//! let conn = Connection::connect()?;
//! let created = EventOptions::new().manual_reset(true).create(&conn, "Local\\ready")?;
//! // ... in another process:
//! let ready = Event::open(&conn, "Local\\ready", switchboard::event::access::SYNCHRONIZE)?;
//! created.object.set()?;
//! assert_eq!(ready.wait(Some(Duration::from_secs(5)))?, WaitResult::Signaled(0));
//!
//! let atom = switchboard::atom::global_add(&conn, "my-format")?;
//! assert_eq!(switchboard::atom::global_find(&conn, "MY-FORMAT")?, atom);
//! # Ok(()) }
//! ```
//!
//! Every failure is an [`Error`] that names the operation, the object and the
//! reason, and maps to one [`Win32Error`].
#![forbid(unsafe_code)]

pub mod admin;
pub mod atom;
mod autostart;
mod connection;
pub mod error;
pub mod event;
mod fastsync;
mod handle;
pub mod mailslot;
pub mod pipe;
pub mod registry;
pub mod section;
pub mod sync;

pub use autostart::find_broker;
pub use connection::{ConnectOptions, Connection, DEFAULT_REQUEST_TIMEOUT};
pub use error::{Error, ErrorKind, Result, Win32Error};
pub use event::{Created, Event, EventOptions};
pub use handle::{OwnedHandle, WaitResult, Waitable, signal_and_wait, wait_for_multiple};
pub use switchboard_sys::{Realm, RealmChoice, RealmError, RealmKind};
/// Every access right and generic mapping, one table shared with the broker.
pub use switchboard_types::access;
pub use switchboard_types::{AccessMask, GenericMapping, Handle, NtStatus};
