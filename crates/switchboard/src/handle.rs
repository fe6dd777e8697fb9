//! Handles that close themselves.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use switchboard_proto as p;
use switchboard_types::Handle;

use crate::connection::Connection;
use crate::error::Result;
use crate::fastsync::{self, Shared};

/// A handle in this process's table at the broker, closed on drop
/// (`CloseHandle`). Dropping never blocks: the close is sent and not awaited.
#[derive(Debug)]
pub struct OwnedHandle {
    conn: Connection,
    handle: Handle,
    name: Option<String>,
    closed: bool,
    /// The object's shared page, fetched at first use (events, mutexes and
    /// semaphores only).
    shared: OnceLock<Arc<Shared>>,
}

impl OwnedHandle {
    pub(crate) fn new(conn: Connection, handle: Handle, name: Option<String>) -> Self {
        Self { conn, handle, name, closed: false, shared: OnceLock::new() }
    }

    /// The object's shared page and constants, asked of the broker once.
    pub(crate) fn shared(&self, op: &'static str) -> Result<&Arc<Shared>> {
        if let Some(shared) = self.shared.get() {
            return Ok(shared);
        }
        let fetched = Shared::fetch(self, op)?;
        // Two threads may race here; either page is as good.
        Ok(self.shared.get_or_init(|| fetched))
    }

    /// The raw handle value (a multiple of 4).
    pub fn raw(&self) -> Handle {
        self.handle
    }

    /// The connection the handle lives on.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// The name the object was created or opened with.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// Closes the handle now and reports the outcome (`Drop` closes too, silently).
    ///
    /// # Windows equivalent
    ///
    /// `CloseHandle`.
    pub fn close(mut self) -> Result<()> {
        self.closed = true;
        self.conn.call(p::Close { handle: self.handle }, "CloseHandle", self.name.as_deref())
    }

    /// A second handle to the same object with the same access
    /// (`DuplicateHandle` with `DUPLICATE_SAME_ACCESS`).
    pub fn try_clone(&self) -> Result<Self> {
        let handle =
            self.conn.call(p::Duplicate { handle: self.handle, access: None }, "DuplicateHandle", self.name())?;
        Ok(Self::new(self.conn.clone(), handle, self.name.clone()))
    }
}

impl Drop for OwnedHandle {
    fn drop(&mut self) {
        if self.closed {
            return;
        }
        self.conn.send_and_forget(p::Close { handle: self.handle });
    }
}

/// An object that can be waited on.
pub trait Waitable {
    /// Its handle.
    fn owned_handle(&self) -> &OwnedHandle;
}

/// How a wait ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitResult {
    /// The object at this index was signaled (`WAIT_OBJECT_0 + i`); for
    /// wait-all, index 0.
    Signaled(usize),
    /// The mutex at this index was abandoned by its owner (`WAIT_ABANDONED_0 + i`);
    /// the caller now owns it.
    Abandoned(usize),
    /// The timeout passed (`WAIT_TIMEOUT`).
    TimedOut,
}

/// Waits until one of `objects` is signaled (or all of them at once, with
/// `wait_all`), or `timeout` passes (`None`: forever; zero: just tests).
///
/// # Windows equivalent
///
/// `WaitForMultipleObjects`. Between 1 and 64 objects (else
/// `ERROR_INVALID_PARAMETER`), each handle with `SYNCHRONIZE` (else
/// `ERROR_ACCESS_DENIED`). Wait-any reports the lowest index that could be
/// taken; wait-all takes nothing until it can take everything, atomically,
/// and refuses an object named twice. The objects may come from different
/// connections.
///
/// The wait happens in this process, on the objects' shared pages: when an
/// object can be taken at once, no system call is made. Waiters are not
/// served in arrival order (neither are they on Windows, strictly).
pub fn wait_for_multiple(objects: &[&dyn Waitable], wait_all: bool, timeout: Option<Duration>) -> Result<WaitResult> {
    let handles: Vec<&OwnedHandle> = objects.iter().map(|o| o.owned_handle()).collect();
    let name = if handles.len() == 1 { handles[0].name() } else { None };
    fastsync::wait(&handles, wait_all, timeout, "WaitForMultipleObjects", name)
}

/// Signals `signal` (sets an event, releases a mutex, or releases a
/// semaphore by one), then waits on `wait`.
///
/// # Windows equivalent
///
/// `SignalObjectAndWait` (not alertable). As on Windows, the signal and the
/// wait are not one atomic step: another thread may see the signal before
/// this one starts waiting. The wait handle is checked before anything is
/// signaled, so a bad one leaves `signal` untouched.
pub fn signal_and_wait(signal: &dyn Waitable, wait: &dyn Waitable, timeout: Option<Duration>) -> Result<WaitResult> {
    let op = "SignalObjectAndWait";
    let waited = wait.owned_handle();
    fastsync::check_waitable(waited, op)?;
    fastsync::signal(signal.owned_handle(), op)?;
    fastsync::wait(&[waited], false, timeout, op, waited.name())
}

/// One object waited on by its typed owner.
pub(crate) fn wait_one(handle: &OwnedHandle, timeout: Option<Duration>) -> Result<WaitResult> {
    fastsync::wait(&[handle], false, timeout, "WaitForSingleObject", handle.name())
}
