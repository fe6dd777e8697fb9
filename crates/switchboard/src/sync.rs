//! Named and unnamed mutexes and semaphores.
//!
//! A mutex belongs to the thread that acquired it: it may acquire it again
//! (recursively), only it may release it, and when it ends — or its process
//! does — while holding it, the mutex is abandoned: the next waiter gets
//! [`WaitResult::Abandoned`] and owns it. Closing a handle does not release
//! ownership.
//!
//! Like events, both keep their state in a page of shared memory: an
//! uncontended acquire or release is a compare-and-swap in this process, with
//! no system call and no message to the broker. A thread announces itself to
//! the broker once (a message it does not wait for) before it may own a
//! mutex, so that the broker can abandon what it owns if the process dies.

use std::time::Duration;

use switchboard_proto as p;
use switchboard_types::{AccessMask, ObjectKind};

use crate::connection::Connection;
use crate::error::Result;
use crate::event::{Created, parse_name};
use crate::fastsync::{self, announce, me};
use crate::handle::{OwnedHandle, WaitResult, Waitable, wait_one};

pub use switchboard_types::access::mutex::{MUTEX_ALL_ACCESS, MUTEX_MODIFY_STATE};
pub use switchboard_types::access::semaphore::{SEMAPHORE_ALL_ACCESS, SEMAPHORE_MODIFY_STATE};
pub use switchboard_types::access::standard::SYNCHRONIZE;
pub use switchboard_types::access::{mutex, semaphore};

/// A mutex.
///
/// # Windows equivalent
///
/// `CreateMutex`/`OpenMutex`, `WaitForSingleObject`, `ReleaseMutex`.
#[derive(Debug)]
pub struct Mutex {
    handle: OwnedHandle,
}

impl Mutex {
    /// Creates the named mutex (owned at once by this thread when
    /// `initial_owner` and the name is new), or opens it.
    pub fn create(conn: &Connection, name: &str, initial_owner: bool) -> Result<Created<Mutex>> {
        let op = "CreateMutex";
        let parsed = parse_name(op, name)?;
        Self::create_inner(conn, Some(parsed), Some(name), initial_owner)
    }

    /// Creates an unnamed mutex.
    pub fn create_unnamed(conn: &Connection, initial_owner: bool) -> Result<Mutex> {
        Self::create_inner(conn, None, None, initial_owner).map(|c| c.object)
    }

    fn create_inner(
        conn: &Connection,
        name: Option<switchboard_types::ObjectName>,
        shown: Option<&str>,
        initial_owner: bool,
    ) -> Result<Created<Mutex>> {
        if initial_owner {
            announce(conn);
        }
        let request = p::CreateMutex {
            name,
            initial_owner,
            thread: me(),
            access: MUTEX_ALL_ACCESS,
            security: p::Security::default(),
        };
        let created = conn.call(request, "CreateMutex", shown)?;
        Ok(Created {
            object: Mutex { handle: OwnedHandle::new(conn.clone(), created.handle, shown.map(str::to_owned)) },
            already_existed: created.already_existed,
        })
    }

    /// Opens an existing named mutex (`OpenMutex`); access 0 is `ERROR_ACCESS_DENIED`.
    pub fn open(conn: &Connection, name: &str, access: impl Into<AccessMask>) -> Result<Mutex> {
        let op = "OpenMutex";
        let access = access.into();
        let parsed = parse_name(op, name)?;
        let handle = conn.call(p::Open { kind: ObjectKind::Mutex, name: parsed, access }, op, Some(name))?;
        Ok(Mutex { handle: OwnedHandle::new(conn.clone(), handle, Some(name.to_owned())) })
    }

    /// Waits until this thread owns the mutex (`WaitForSingleObject`).
    /// [`WaitResult::Abandoned`] also means it is owned now.
    pub fn acquire(&self, timeout: Option<Duration>) -> Result<WaitResult> {
        wait_one(&self.handle, timeout)
    }

    /// Releases one acquisition (`ReleaseMutex`); a thread that does not own
    /// it gets `ERROR_NOT_OWNER`.
    pub fn release(&self) -> Result<()> {
        fastsync::release_mutex(&self.handle, "ReleaseMutex")
    }

    /// The handle.
    pub fn handle(&self) -> &OwnedHandle {
        &self.handle
    }

    /// Closes the handle now, reporting the outcome. Ownership stays with
    /// the owning thread, as on Windows.
    pub fn close(self) -> Result<()> {
        self.handle.close()
    }
}

impl Waitable for Mutex {
    fn owned_handle(&self) -> &OwnedHandle {
        &self.handle
    }
}

/// A semaphore.
///
/// # Windows equivalent
///
/// `CreateSemaphore`/`OpenSemaphore`, `WaitForSingleObject`, `ReleaseSemaphore`.
#[derive(Debug)]
pub struct Semaphore {
    handle: OwnedHandle,
}

impl Semaphore {
    /// Creates the named semaphore or opens it. `initial` more than
    /// `maximum`, or `maximum` not positive: `ERROR_INVALID_PARAMETER`.
    pub fn create(conn: &Connection, name: &str, initial: i32, maximum: i32) -> Result<Created<Semaphore>> {
        let op = "CreateSemaphore";
        let parsed = parse_name(op, name)?;
        Self::create_inner(conn, Some(parsed), Some(name), initial, maximum)
    }

    /// Creates an unnamed semaphore.
    pub fn create_unnamed(conn: &Connection, initial: i32, maximum: i32) -> Result<Semaphore> {
        Self::create_inner(conn, None, None, initial, maximum).map(|c| c.object)
    }

    fn create_inner(
        conn: &Connection,
        name: Option<switchboard_types::ObjectName>,
        shown: Option<&str>,
        initial: i32,
        maximum: i32,
    ) -> Result<Created<Semaphore>> {
        let request = p::CreateSemaphore {
            name,
            initial,
            maximum,
            access: SEMAPHORE_ALL_ACCESS,
            security: p::Security::default(),
        };
        let created = conn.call(request, "CreateSemaphore", shown)?;
        Ok(Created {
            object: Semaphore { handle: OwnedHandle::new(conn.clone(), created.handle, shown.map(str::to_owned)) },
            already_existed: created.already_existed,
        })
    }

    /// Opens an existing named semaphore (`OpenSemaphore`).
    pub fn open(conn: &Connection, name: &str, access: impl Into<AccessMask>) -> Result<Semaphore> {
        let op = "OpenSemaphore";
        let access = access.into();
        let parsed = parse_name(op, name)?;
        let handle = conn.call(p::Open { kind: ObjectKind::Semaphore, name: parsed, access }, op, Some(name))?;
        Ok(Semaphore { handle: OwnedHandle::new(conn.clone(), handle, Some(name.to_owned())) })
    }

    /// Waits for a count and takes it (`WaitForSingleObject`).
    pub fn acquire(&self, timeout: Option<Duration>) -> Result<WaitResult> {
        wait_one(&self.handle, timeout)
    }

    /// Adds `count`, returning the previous count (`ReleaseSemaphore`).
    /// Past the maximum: `ERROR_TOO_MANY_POSTS`, and the count is unchanged.
    pub fn release(&self, count: i32) -> Result<i32> {
        fastsync::release_semaphore(&self.handle, count, "ReleaseSemaphore")
    }

    /// The handle.
    pub fn handle(&self) -> &OwnedHandle {
        &self.handle
    }

    /// Closes the handle now, reporting the outcome.
    pub fn close(self) -> Result<()> {
        self.handle.close()
    }
}

impl Waitable for Semaphore {
    fn owned_handle(&self) -> &OwnedHandle {
        &self.handle
    }
}
