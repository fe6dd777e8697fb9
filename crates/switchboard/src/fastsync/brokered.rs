//! Waits and mutex releases made through the broker, for handles that may
//! wait on an object but not change it.
//!
//! Such a handle has `SYNCHRONIZE` without the object's modify right, and
//! its page is mapped read-only: this process reads the state and sleeps on
//! the futex word, but every attempt to take the object is a `SyncWait`
//! step that the broker makes, with the same transitions as the fast path,
//! so the handle can never do more than its access allows. A step that
//! finds nothing to take counts this thread among the objects' sleepers
//! (the broker keeps that count, and takes it back at the next step or
//! when the process goes), so whoever changes an object wakes it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use switchboard_proto as p;
use switchboard_sys::syncpage::{self, SyncPage};
use switchboard_types::syncstate::Shape;

use super::{LOCK_PATIENCE, Shared, announce, backoff, me, on_locked, recheck_by};
use crate::error::{Error, ErrorKind, Result, Win32Error};
use crate::handle::{OwnedHandle, WaitResult};

/// How long one step may take: the broker answers at once, never later.
const STEP_TIMEOUT: Duration = Duration::from_secs(30);

/// `WaitForSingleObject` / `WaitForMultipleObjects` when some handle's page
/// is read-only. Every handle must live on one connection.
pub(super) fn wait(
    handles: &[&OwnedHandle],
    shared: &[&Arc<Shared>],
    wait_all: bool,
    timeout: Option<Duration>,
    op: &'static str,
    name: Option<&str>,
) -> Result<WaitResult> {
    let conn = handles[0].connection();
    if handles.iter().any(|h| !h.connection().same_as(conn)) {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            Win32Error::ERROR_INVALID_PARAMETER,
            op,
            name,
            "a wait on handles that may only wait must name handles of one connection",
        ));
    }
    announce(conn);
    let pages: Vec<&SyncPage> = shared.iter().filter_map(|s| s.page.as_ref()).collect();
    // A manual-reset event set (or pulsed) at any moment of a wait-any ends it.
    let since = shared
        .iter()
        .zip(&pages)
        .map(|(s, page)| {
            (!wait_all && s.shape == Shape::Event { manual_reset: true }).then(|| page.slot().generation())
        })
        .collect();
    let mut request = p::SyncWait {
        handles: handles.iter().map(|h| h.raw()).collect(),
        wait_all,
        thread: me(),
        since,
        counted: false,
        sleep: false,
    };
    let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
    let mut locked_since: Option<Instant> = None;
    let mut round = 0;
    loop {
        let expired = deadline.is_some_and(|d| Instant::now() >= d);
        // A step that has nothing to take counts us asleep, unless the wait
        // ends now anyway.
        request.sleep = !expired;
        let step = conn.call_for(request.clone(), op, name, Some(STEP_TIMEOUT))?;
        request.counted = false;
        match step {
            p::SyncWaitStep::Taken { index, abandoned } => return Ok(taken(index, abandoned)),
            p::SyncWaitStep::Locked => {
                if let Some(ended) = on_locked(&mut round, &mut locked_since, deadline, op, name)? {
                    return Ok(ended);
                }
            }
            p::SyncWaitStep::Blocked { seen, counted } => {
                locked_since = None;
                if expired {
                    return Ok(WaitResult::TimedOut);
                }
                request.counted = counted;
                let slept = syncpage::sleep_any(&pages, &seen, Some(recheck_by(deadline)));
                if let Err(e) = slept {
                    uncount(conn, &request, op, name);
                    return Err(Error::new(
                        ErrorKind::Refused,
                        Win32Error::ERROR_INVALID_HANDLE,
                        op,
                        name,
                        e.to_string(),
                    ));
                }
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    // One last look (which also counts us out) before timing out.
                    request.sleep = false;
                    let last = conn.call_for(request.clone(), op, name, Some(STEP_TIMEOUT))?;
                    return Ok(match last {
                        p::SyncWaitStep::Taken { index, abandoned } => taken(index, abandoned),
                        _ => WaitResult::TimedOut,
                    });
                }
            }
        }
    }
}

/// What a step that took the objects means for the caller.
fn taken(index: u32, abandoned: bool) -> WaitResult {
    if abandoned { WaitResult::Abandoned(index as usize) } else { WaitResult::Signaled(index as usize) }
}

/// Takes back a counted sleep after a failure (best effort: the broker
/// also takes it back when the process goes).
fn uncount(conn: &crate::Connection, request: &p::SyncWait, op: &'static str, name: Option<&str>) {
    if request.counted {
        let mut last = request.clone();
        last.sleep = false;
        let _ = conn.call_for(last, op, name, Some(STEP_TIMEOUT));
    }
}

/// `ReleaseMutex` through the broker.
pub(super) fn release_mutex(handle: &OwnedHandle, op: &'static str) -> Result<()> {
    let conn = handle.connection();
    announce(conn);
    let started = Instant::now();
    let mut round = 0;
    loop {
        let request = p::SyncRelease { handle: handle.raw(), thread: me() };
        if conn.call_for(request, op, handle.name(), Some(STEP_TIMEOUT))? {
            return Ok(());
        }
        if started.elapsed() >= LOCK_PATIENCE {
            return Err(Error::new(
                ErrorKind::Refused,
                Win32Error::ERROR_BUSY,
                op,
                handle.name(),
                format!("the mutex's shared state has stayed locked for {LOCK_PATIENCE:?}"),
            ));
        }
        backoff(round);
        round += 1;
    }
}
