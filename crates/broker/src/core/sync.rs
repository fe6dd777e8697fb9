//! Mutexes and semaphores, served by the broker.
//!
//! A mutex belongs to a thread: recursive acquisition by its owner, release
//! only by it (`ERROR_NOT_OWNER` otherwise), and abandonment when the owning
//! thread or its process ends, so that the next waiter gets
//! `WAIT_ABANDONED` and owns it. (The shared-memory fast path of issue #4
//! will keep these rules; the broker stays the owner of record.)

use std::any::Any;

use switchboard_proto as p;
use switchboard_proto::WireError;
use switchboard_types::security::{AccessMask, GenericMapping};
use switchboard_types::{Handle, ObjectKind, Win32Error};

use super::objects::{Acquired, Object, ObjectId, Waiter};
use super::{ClientId, Core, Cx};

/// `MUTANT_QUERY_STATE`, which `ReleaseMutex` also needs (`MUTEX_MODIFY_STATE`).
pub const MUTEX_MODIFY_STATE: u32 = 0x0001;
/// `MUTEX_ALL_ACCESS`.
pub const MUTEX_ALL_ACCESS: u32 = 0x001F_0001;
/// `SEMAPHORE_MODIFY_STATE`.
pub const SEMAPHORE_MODIFY_STATE: u32 = 0x0002;
/// `SEMAPHORE_ALL_ACCESS`.
pub const SEMAPHORE_ALL_ACCESS: u32 = 0x001F_0003;

const MUTEX_MAPPING: GenericMapping = GenericMapping {
    read: AccessMask(AccessMask::READ_CONTROL.0 | MUTEX_MODIFY_STATE),
    write: AccessMask(AccessMask::READ_CONTROL.0),
    execute: AccessMask(AccessMask::READ_CONTROL.0 | AccessMask::SYNCHRONIZE.0),
    all: AccessMask(MUTEX_ALL_ACCESS),
};

const SEMAPHORE_MAPPING: GenericMapping = GenericMapping {
    read: AccessMask(AccessMask::READ_CONTROL.0 | 0x0001),
    write: AccessMask(AccessMask::READ_CONTROL.0 | SEMAPHORE_MODIFY_STATE),
    execute: AccessMask(AccessMask::READ_CONTROL.0 | AccessMask::SYNCHRONIZE.0),
    all: AccessMask(SEMAPHORE_ALL_ACCESS),
};

/// A mutex.
#[derive(Debug, Default)]
pub struct Mutex {
    owner: Option<Waiter>,
    /// How many times the owner acquired it.
    recursion: u32,
    /// Its last owner ended without releasing it.
    abandoned: bool,
}

impl Object for Mutex {
    fn kind(&self) -> ObjectKind {
        ObjectKind::Mutex
    }
    fn mapping(&self) -> GenericMapping {
        MUTEX_MAPPING
    }
    fn is_waitable(&self) -> bool {
        true
    }
    fn is_signaled(&self) -> bool {
        self.owner.is_none()
    }
    fn is_signaled_for(&self, waiter: Waiter) -> bool {
        self.owner.is_none_or(|o| o == waiter)
    }
    fn satisfy_wait_for(&mut self, waiter: Waiter) -> Acquired {
        self.owner = Some(waiter);
        self.recursion += 1;
        if std::mem::take(&mut self.abandoned) { Acquired::Abandoned } else { Acquired::Normal }
    }
    fn describe(&self) -> String {
        match self.owner {
            Some(o) if self.recursion == 1 => format!("owned by thread {}", o.thread),
            Some(o) => format!("owned by thread {} ({} acquisitions)", o.thread, self.recursion),
            None if self.abandoned => "abandoned".to_owned(),
            None => "free".to_owned(),
        }
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

/// A semaphore.
#[derive(Debug)]
pub struct Semaphore {
    count: i32,
    maximum: i32,
}

impl Object for Semaphore {
    fn kind(&self) -> ObjectKind {
        ObjectKind::Semaphore
    }
    fn mapping(&self) -> GenericMapping {
        SEMAPHORE_MAPPING
    }
    fn is_waitable(&self) -> bool {
        true
    }
    fn is_signaled(&self) -> bool {
        self.count > 0
    }
    fn satisfy_wait(&mut self) -> Acquired {
        self.count -= 1;
        Acquired::Normal
    }
    fn describe(&self) -> String {
        format!("count {} of {}", self.count, self.maximum)
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

fn err(code: Win32Error, message: impl Into<String>) -> WireError {
    WireError::new(code, message)
}

impl Core {
    pub(super) fn mutex_create(&mut self, cx: &Cx, req: &p::CreateMutex) -> Result<p::Created, WireError> {
        let owner = Waiter { client: cx.client, thread: req.thread };
        let mutex = if req.initial_owner {
            Mutex { owner: Some(owner), recursion: 1, abandoned: false }
        } else {
            Mutex::default()
        };
        // An existing mutex is opened as it is: the initial-owner flag does not apply.
        self.create_or_open(cx, req.name.as_ref(), ObjectKind::Mutex, req.access, &req.security, || Box::new(mutex))
    }

    pub(super) fn mutex_release(&mut self, cx: &Cx, req: p::ReleaseMutex) -> Result<(), WireError> {
        let id = self.sync_object(cx, req.handle, ObjectKind::Mutex, MUTEX_MODIFY_STATE)?;
        let me = Waiter { client: cx.client, thread: req.thread };
        let mutex = self.store.get_mut(id).and_then(|e| e.object.as_any_mut().downcast_mut::<Mutex>());
        let Some(mutex) = mutex.filter(|m| m.owner == Some(me)) else {
            return Err(err(Win32Error::ERROR_NOT_OWNER, "this thread does not own the mutex"));
        };
        mutex.recursion -= 1;
        if mutex.recursion == 0 {
            mutex.owner = None;
            self.wake(id);
        }
        Ok(())
    }

    pub(super) fn semaphore_create(&mut self, cx: &Cx, req: &p::CreateSemaphore) -> Result<p::Created, WireError> {
        if req.maximum <= 0 || req.initial < 0 || req.initial > req.maximum {
            return Err(err(
                Win32Error::ERROR_INVALID_PARAMETER,
                "the maximum must be positive and the initial count between 0 and it",
            ));
        }
        let semaphore = Semaphore { count: req.initial, maximum: req.maximum };
        self.create_or_open(cx, req.name.as_ref(), ObjectKind::Semaphore, req.access, &req.security, || {
            Box::new(semaphore)
        })
    }

    pub(super) fn semaphore_release(&mut self, cx: &Cx, req: p::ReleaseSemaphore) -> Result<i32, WireError> {
        let id = self.sync_object(cx, req.handle, ObjectKind::Semaphore, SEMAPHORE_MODIFY_STATE)?;
        let semaphore = self.store.get_mut(id).and_then(|e| e.object.as_any_mut().downcast_mut::<Semaphore>());
        let Some(semaphore) = semaphore else { return Err(err(Win32Error::ERROR_INVALID_HANDLE, "not a semaphore")) };
        let previous = semaphore.count;
        if req.count <= 0 {
            return Err(err(Win32Error::ERROR_INVALID_PARAMETER, "the release count must be positive"));
        }
        match previous.checked_add(req.count) {
            Some(next) if next <= semaphore.maximum => semaphore.count = next,
            _ => {
                return Err(err(
                    Win32Error::ERROR_TOO_MANY_POSTS,
                    format!("count {previous} + {} would pass the maximum {}", req.count, semaphore.maximum),
                ));
            }
        }
        self.wake(id);
        Ok(previous)
    }

    /// Looks up a handle of a given kind that needs `needed` access.
    fn sync_object(&self, cx: &Cx, handle: Handle, kind: ObjectKind, needed: u32) -> Result<ObjectId, WireError> {
        let (id, _) = self.lookup(cx, handle, AccessMask(0))?;
        if self.store.get(id).is_none_or(|e| e.object.kind() != kind) {
            return Err(err(Win32Error::ERROR_INVALID_HANDLE, format!("handle {handle} is not a {kind}")));
        }
        self.lookup(cx, handle, AccessMask(needed)).map(|(id, _)| id)
    }

    /// Abandons the mutexes owned by `thread` of `client`, or by any of its
    /// threads when `thread` is `None` (the process is gone), and lets their
    /// next waiters have them.
    pub(super) fn abandon_mutexes(&mut self, client: ClientId, thread: Option<u32>) {
        let owned: Vec<ObjectId> = self
            .store
            .iter()
            .filter(|(_, e)| {
                super::objects::downcast::<Mutex>(e.object.as_ref())
                    .and_then(|m| m.owner)
                    .is_some_and(|o| o.client == client && thread.is_none_or(|t| t == o.thread))
            })
            .map(|(id, _)| id)
            .collect();
        for id in owned {
            if let Some(m) = self.store.get_mut(id).and_then(|e| e.object.as_any_mut().downcast_mut::<Mutex>()) {
                m.owner = None;
                m.recursion = 0;
                m.abandoned = true;
            }
            self.wake(id);
        }
    }
}
