//! Named and unnamed events.
//!
//! The broker makes the event and hands each handle that may wait on it or
//! change it the event's page of shared memory, at first use. From then on
//! `set`, `reset`, `pulse` and waits happen in this process: a set with no
//! waiter asleep, or a wait on a signaled event, makes no system call; a
//! wait that must sleep spins briefly, then sleeps on a futex, and a set
//! wakes it directly, without the broker.

use std::time::Duration;

use switchboard_proto as p;
use switchboard_types::{AccessMask, ObjectKind, ObjectName};

use crate::connection::Connection;
use crate::error::{Error, ErrorKind, Result, Win32Error};
use crate::fastsync::{self, EventAction};
use crate::handle::{OwnedHandle, WaitResult, Waitable, wait_one};

/// Access rights for events: [`switchboard_types::access::event`] and the
/// standard rights, one table shared with the broker.
pub mod access {
    pub use switchboard_types::access::event::*;
    pub use switchboard_types::access::standard::{
        GENERIC_ALL, GENERIC_EXECUTE, GENERIC_READ, GENERIC_WRITE, MAXIMUM_ALLOWED, SYNCHRONIZE,
    };
}

/// What a create call did.
#[derive(Debug)]
pub struct Created<T> {
    /// The object.
    pub object: T,
    /// The name existed and the object was opened instead (`ERROR_ALREADY_EXISTS`).
    pub already_existed: bool,
}

/// An event: a waitable flag, manual-reset (stays set until reset) or
/// auto-reset (one satisfied wait resets it).
///
/// # Windows equivalent
///
/// `CreateEventEx`/`OpenEvent`, `SetEvent`, `ResetEvent`, `PulseEvent`,
/// `WaitForSingleObject`. The object lives in the broker; the fast path in
/// shared memory arrives with the synchronization-object work.
#[derive(Debug)]
pub struct Event {
    handle: OwnedHandle,
}

/// Options for creating an event, one method per `CreateEventEx` parameter.
#[derive(Clone, Debug)]
pub struct EventOptions {
    manual_reset: bool,
    initial_state: bool,
    access: AccessMask,
    sddl: Option<String>,
}

impl Default for EventOptions {
    fn default() -> Self {
        Self { manual_reset: false, initial_state: false, access: access::EVENT_ALL_ACCESS, sddl: None }
    }
}

impl EventOptions {
    /// Auto-reset, not signaled, `EVENT_ALL_ACCESS`, default security.
    pub fn new() -> Self {
        Self::default()
    }

    /// Manual-reset (`CREATE_EVENT_MANUAL_RESET`).
    #[must_use]
    pub fn manual_reset(mut self, yes: bool) -> Self {
        self.manual_reset = yes;
        self
    }

    /// Signaled at creation (`CREATE_EVENT_INITIAL_SET`).
    #[must_use]
    pub fn initial_state(mut self, signaled: bool) -> Self {
        self.initial_state = signaled;
        self
    }

    /// The access wanted on the returned handle.
    #[must_use]
    pub fn access(mut self, access: impl Into<AccessMask>) -> Self {
        self.access = access.into();
        self
    }

    /// A security descriptor in SDDL, e.g. `D:(A;;GA;;;OW)(A;;GX;;;WD)`.
    /// Without one, only the creator and root may open the event.
    #[must_use]
    pub fn security(mut self, sddl: impl Into<String>) -> Self {
        self.sddl = Some(sddl.into());
        self
    }

    /// Creates the named event, or opens it if the name exists.
    pub fn create(&self, conn: &Connection, name: &str) -> Result<Created<Event>> {
        let op = "CreateEvent";
        let parsed = parse_name(op, name)?;
        let created = conn.call(self.request(Some(parsed)), op, Some(name))?;
        Ok(Created {
            object: Event { handle: OwnedHandle::new(conn.clone(), created.handle, Some(name.to_owned())) },
            already_existed: created.already_existed,
        })
    }

    /// Creates an unnamed event.
    pub fn create_unnamed(&self, conn: &Connection) -> Result<Event> {
        let created = conn.call(self.request(None), "CreateEvent", None)?;
        Ok(Event { handle: OwnedHandle::new(conn.clone(), created.handle, None) })
    }

    fn request(&self, name: Option<ObjectName>) -> p::CreateEvent {
        p::CreateEvent {
            name,
            manual_reset: self.manual_reset,
            initial_state: self.initial_state,
            access: self.access,
            security: p::Security { sddl: self.sddl.clone() },
        }
    }
}

pub(crate) fn parse_name(op: &'static str, name: &str) -> Result<ObjectName> {
    ObjectName::parse(name).map_err(|e| Error::new(ErrorKind::InvalidArgument, e.code, op, Some(name), e.reason))
}

impl Event {
    /// Opens an existing named event with the access wanted.
    ///
    /// # Windows equivalent
    ///
    /// `OpenEvent`: a missing name is `ERROR_FILE_NOT_FOUND`; a name held by
    /// another kind of object is `ERROR_INVALID_HANDLE`; access 0 or access
    /// the DACL does not grant is `ERROR_ACCESS_DENIED`.
    pub fn open(conn: &Connection, name: &str, access: impl Into<AccessMask>) -> Result<Event> {
        let op = "OpenEvent";
        let access = access.into();
        let parsed = parse_name(op, name)?;
        let handle = conn.call(p::Open { kind: ObjectKind::Event, name: parsed, access }, op, Some(name))?;
        Ok(Event { handle: OwnedHandle::new(conn.clone(), handle, Some(name.to_owned())) })
    }

    /// Signals the event; returns whether it was already signaled.
    ///
    /// # Windows equivalent
    ///
    /// `SetEvent` (the previous state is what `NtSetEvent` reports).
    pub fn set(&self) -> Result<bool> {
        self.op(EventAction::Set, "SetEvent")
    }

    /// Resets the event to not signaled; returns whether it was signaled.
    ///
    /// # Windows equivalent
    ///
    /// `ResetEvent`.
    pub fn reset(&self) -> Result<bool> {
        self.op(EventAction::Reset, "ResetEvent")
    }

    /// Releases the current waiters (all of them for manual-reset, one for
    /// auto-reset) and leaves the event not signaled.
    ///
    /// # Windows equivalent
    ///
    /// `PulseEvent`, which Microsoft calls unreliable. Here a manual-reset
    /// event releases every wait under way (they see the pulse even if they
    /// have not slept yet); an auto-reset event with sleepers is left
    /// signaled for one of them to take (if all of them time out at that
    /// moment it stays signaled), and without sleepers it is just reset.
    pub fn pulse(&self) -> Result<bool> {
        self.op(EventAction::Pulse, "PulseEvent")
    }

    fn op(&self, action: EventAction, name: &'static str) -> Result<bool> {
        fastsync::event(&self.handle, action, name)
    }

    /// Waits until the event is signaled or `timeout` passes (`None`: forever).
    ///
    /// # Windows equivalent
    ///
    /// `WaitForSingleObject`.
    pub fn wait(&self, timeout: Option<Duration>) -> Result<WaitResult> {
        wait_one(&self.handle, timeout)
    }

    /// A second handle to the same event (`DuplicateHandle`).
    pub fn try_clone(&self) -> Result<Event> {
        Ok(Event { handle: self.handle.try_clone()? })
    }

    /// The handle.
    pub fn handle(&self) -> &OwnedHandle {
        &self.handle
    }

    /// Closes the handle now, reporting the outcome.
    pub fn close(self) -> Result<()> {
        self.handle.close()
    }

    /// Returns an error unless the wait result is `Signaled` (for callers that
    /// treat a timeout as failure).
    pub fn wait_signaled(&self, timeout: Option<Duration>) -> Result<()> {
        match self.wait(timeout)? {
            WaitResult::Signaled(_) | WaitResult::Abandoned(_) => Ok(()),
            WaitResult::TimedOut => Err(Error::new(
                ErrorKind::TimedOut,
                Win32Error::ERROR_TIMEOUT,
                "WaitForSingleObject",
                self.handle.name(),
                format!("not signaled within {timeout:?}"),
            )),
        }
    }
}

impl Waitable for Event {
    fn owned_handle(&self) -> &OwnedHandle {
        &self.handle
    }
}
