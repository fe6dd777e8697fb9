//! Handles that close themselves.

use std::time::Duration;

use switchboard_proto as p;
use switchboard_types::Handle;

use crate::connection::Connection;
use crate::error::{Error, ErrorKind, Result, Win32Error};

/// A handle in this process's table at the broker, closed on drop
/// (`CloseHandle`). Dropping never blocks: the close is sent and not awaited.
#[derive(Debug)]
pub struct OwnedHandle {
    conn: Connection,
    handle: Handle,
    name: Option<String>,
    closed: bool,
}

impl OwnedHandle {
    pub(crate) fn new(conn: Connection, handle: Handle, name: Option<String>) -> Self {
        Self { conn, handle, name, closed: false }
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

/// Extra time allowed for the broker's answer beyond the wait's own timeout.
const WAIT_GRACE: Duration = Duration::from_secs(30);

/// Waits until one of `objects` is signaled (or all of them at once, with
/// `wait_all`), or `timeout` passes (`None`: forever).
///
/// # Windows equivalent
///
/// `WaitForMultipleObjects`. Between 1 and 64 objects; with `wait_all`,
/// nothing is consumed until everything can be, atomically. All objects must
/// live on the same [`Connection`].
pub fn wait_for_multiple(objects: &[&dyn Waitable], wait_all: bool, timeout: Option<Duration>) -> Result<WaitResult> {
    let op = "WaitForMultipleObjects";
    let Some(first) = objects.first() else {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            Win32Error::ERROR_INVALID_PARAMETER,
            op,
            None,
            "no objects to wait for",
        ));
    };
    let conn = first.owned_handle().connection();
    one_connection(op, conn, objects.iter().copied())?;
    let handles = objects.iter().map(|o| o.owned_handle().raw()).collect();
    wait_handles(
        conn,
        handles,
        wait_all,
        timeout,
        op,
        if objects.len() == 1 { first.owned_handle().name() } else { None },
    )
}

/// Signals `signal` (sets an event, releases a mutex, or releases a
/// semaphore by one) and waits on `wait`, as one step: no other waiter can
/// slip in between.
///
/// # Windows equivalent
///
/// `SignalObjectAndWait` (not alertable). Both objects must live on the same
/// [`Connection`].
pub fn signal_and_wait(signal: &dyn Waitable, wait: &dyn Waitable, timeout: Option<Duration>) -> Result<WaitResult> {
    let op = "SignalObjectAndWait";
    let conn = signal.owned_handle().connection();
    one_connection(op, conn, [wait])?;
    let timeout_ms = timeout.map(|t| u64::try_from(t.as_millis()).unwrap_or(u64::MAX));
    let request = p::SignalAndWait {
        signal: signal.owned_handle().raw(),
        wait: wait.owned_handle().raw(),
        timeout_ms,
        thread: crate::sync::current_thread(),
    };
    let outcome =
        conn.call_for(request, op, wait.owned_handle().name(), timeout.map(|t| t.saturating_add(WAIT_GRACE)))?;
    Ok(match outcome {
        p::WaitOutcome::Signaled(_) => WaitResult::Signaled(0),
        p::WaitOutcome::Abandoned(_) => WaitResult::Abandoned(0),
        p::WaitOutcome::TimedOut => WaitResult::TimedOut,
    })
}

/// Objects waited on together must live on one connection (one handle table).
fn one_connection<'a>(
    op: &'static str,
    conn: &Connection,
    objects: impl IntoIterator<Item = &'a dyn Waitable>,
) -> Result<()> {
    if objects.into_iter().all(|o| o.owned_handle().connection().same_as(conn)) {
        Ok(())
    } else {
        Err(Error::new(
            ErrorKind::InvalidArgument,
            Win32Error::ERROR_INVALID_HANDLE,
            op,
            None,
            "the objects live on different connections",
        ))
    }
}

pub(crate) fn wait_handles(
    conn: &Connection,
    handles: Vec<Handle>,
    wait_all: bool,
    timeout: Option<Duration>,
    op: &'static str,
    name: Option<&str>,
) -> Result<WaitResult> {
    let timeout_ms = timeout.map(|t| u64::try_from(t.as_millis()).unwrap_or(u64::MAX));
    let reply_within = timeout.map(|t| t.saturating_add(WAIT_GRACE));
    let thread = crate::sync::current_thread();
    let outcome = conn.call_for(p::Wait { handles, wait_all, timeout_ms, thread }, op, name, reply_within)?;
    Ok(match outcome {
        p::WaitOutcome::Signaled(i) => WaitResult::Signaled(i as usize),
        p::WaitOutcome::Abandoned(i) => WaitResult::Abandoned(i as usize),
        p::WaitOutcome::TimedOut => WaitResult::TimedOut,
    })
}
