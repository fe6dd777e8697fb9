//! Events, mutexes and semaphores.
//!
//! The state of each lives in a shared page of its own (a sealed memfd,
//! [`SyncPage`]), mapped by the broker and handed to every process whose
//! handle may wait on the object or change it. Waits, sets and releases
//! happen in the clients, on that page, with the transitions of
//! [`switchboard_types::syncstate`]; the broker only makes objects, gives
//! out pages, and stays the owner of record: it knows which threads each
//! client has announced, and when a client goes away it abandons the
//! mutexes those threads still own and lets go of any lock they held in a
//! wait-all, then wakes the sleepers.

use std::any::Any;
use std::collections::HashSet;
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use switchboard_proto as p;
use switchboard_proto::WireError;
use switchboard_sys::syncpage::SyncPage;

use super::resources::Resources;
use switchboard_types::access::{AccessMask, GenericMapping, event, mutex, semaphore};
use switchboard_types::syncstate::{self, Shape, Slot, Step};
use switchboard_types::{ObjectKind, Win32Error};

use super::objects::{Object, ObjectId, downcast};
use super::{ClientId, Core, Cx};

/// How long a lock on a shared word may last before the broker takes it
/// for damage rather than a wait-all in progress (which lasts nanoseconds).
pub const LOCK_PATIENCE: Duration = Duration::from_secs(1);

/// An abandonment that a lock put off, retried from the timer.
#[derive(Debug)]
pub(super) struct Retry {
    /// The object.
    pub id: ObjectId,
    /// The threads that ended.
    pub gone: HashSet<u32>,
    /// When the timer first retried it.
    pub since: Option<Instant>,
}

/// Threads one client may announce (more are refused, and their mutexes
/// would not be abandoned if the process died).
pub const MAX_THREADS_PER_CLIENT: usize = 65_536;

/// An event, a mutex or a semaphore: its shape and its shared page.
#[derive(Debug)]
pub struct SyncObject {
    shape: Shape,
    page: SyncPage,
    memory: OwnedFd,
}

impl SyncObject {
    fn new(resources: &mut dyn Resources, shape: Shape, state: u32, recursion: u32) -> Result<Self, WireError> {
        let (page, memory) = resources.sync_page().map_err(|e| {
            err(Win32Error::ERROR_NO_SYSTEM_RESOURCES, format!("cannot make the object's shared page: {e}"))
        })?;
        page.slot().init(state, recursion);
        Ok(Self { shape, page, memory })
    }

    /// The shared state.
    pub fn slot(&self) -> &Slot {
        self.page.slot()
    }

    /// What the object is.
    pub fn shape(&self) -> Shape {
        self.shape
    }

    /// The page's identity: wait-all locks objects in its order, in every process.
    pub fn page_id(&self) -> u64 {
        self.page.id()
    }

    /// Wakes every thread asleep on the object.
    pub fn wake_all(&self) {
        self.page.wake_all();
    }

    /// The right that lets a handle change the state.
    fn modify_right(&self) -> AccessMask {
        match self.shape {
            Shape::Event { .. } => event::EVENT_MODIFY_STATE,
            Shape::Mutex => mutex::MUTEX_MODIFY_STATE,
            Shape::Semaphore { .. } => semaphore::SEMAPHORE_MODIFY_STATE,
        }
    }
}

impl Object for SyncObject {
    fn kind(&self) -> ObjectKind {
        match self.shape {
            Shape::Event { .. } => ObjectKind::Event,
            Shape::Mutex => ObjectKind::Mutex,
            Shape::Semaphore { .. } => ObjectKind::Semaphore,
        }
    }

    fn mapping(&self) -> GenericMapping {
        match self.shape {
            Shape::Event { .. } => event::MAPPING,
            Shape::Mutex => mutex::MAPPING,
            Shape::Semaphore { .. } => semaphore::MAPPING,
        }
    }

    fn describe(&self) -> String {
        let slot = self.slot();
        let text = syncstate::describe(self.shape, slot.state(), slot.recursion());
        match slot.lock_holder() {
            0 => text,
            holder => format!("{text} (held for a wait-all by thread {holder})"),
        }
    }

    fn waiters(&self) -> u32 {
        self.slot().sleepers()
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

fn err(code: Win32Error, message: impl Into<String>) -> WireError {
    WireError::new(code, message)
}

/// A thread id as a mutex owner: nonzero, and within the owner bits.
pub(super) fn owner_thread(thread: u32) -> Result<u32, WireError> {
    if thread == 0 || syncstate::mutex_state(Some(thread)) != thread {
        return Err(err(Win32Error::ERROR_INVALID_PARAMETER, format!("{thread} is not a thread id")));
    }
    Ok(thread)
}

impl Core {
    pub(super) fn event_create(&mut self, cx: &Cx, req: &p::CreateEvent) -> Result<p::Created, WireError> {
        let shape = Shape::Event { manual_reset: req.manual_reset };
        let event = SyncObject::new(&mut *self.resources, shape, syncstate::event_state(req.initial_state), 0)?;
        self.create_or_open(cx, req.name.as_ref(), ObjectKind::Event, req.access, &req.security, || Box::new(event))
    }

    pub(super) fn mutex_create(&mut self, cx: &Cx, req: &p::CreateMutex) -> Result<p::Created, WireError> {
        let owner = if req.initial_owner { Some(owner_thread(req.thread)?) } else { None };
        let mutex = SyncObject::new(
            &mut *self.resources,
            Shape::Mutex,
            syncstate::mutex_state(owner),
            u32::from(owner.is_some()),
        )?;
        // An existing mutex is opened as it is: the initial-owner flag does not apply.
        self.create_or_open(cx, req.name.as_ref(), ObjectKind::Mutex, req.access, &req.security, || Box::new(mutex))
    }

    pub(super) fn semaphore_create(&mut self, cx: &Cx, req: &p::CreateSemaphore) -> Result<p::Created, WireError> {
        if req.maximum <= 0 || req.initial < 0 || req.initial > req.maximum {
            return Err(err(
                Win32Error::ERROR_INVALID_PARAMETER,
                "the maximum must be positive and the initial count between 0 and it",
            ));
        }
        let shape = Shape::Semaphore { maximum: req.maximum.cast_unsigned() };
        let semaphore = SyncObject::new(&mut *self.resources, shape, req.initial.cast_unsigned(), 0)?;
        self.create_or_open(cx, req.name.as_ref(), ObjectKind::Semaphore, req.access, &req.security, || {
            Box::new(semaphore)
        })
    }

    /// The shared page of a handle's object, if the handle may use it.
    pub(super) fn map_sync(&mut self, cx: &Cx, req: p::MapSync) -> Result<p::SyncMapped, WireError> {
        let (id, entry) = self.lookup(cx, req.handle, AccessMask(0))?;
        let object = self.store.get(id).and_then(|e| downcast::<SyncObject>(e.object.as_ref())).ok_or_else(|| {
            err(Win32Error::ERROR_INVALID_HANDLE, format!("handle {} is not an event, mutex or semaphore", req.handle))
        })?;
        // Only a handle that may change the object gets a writable page; one
        // that may only wait gets a read-only reopening (its process cannot
        // map it writable, nor reopen it so: see `shm::memory_file`), and
        // takes the object through the broker (`sync_wait`).
        let writable = entry.access.contains(object.modify_right());
        let mapped = writable || entry.access.contains(AccessMask::SYNCHRONIZE);
        if mapped {
            let fd = if writable {
                self.resources.duplicate(&object.memory)
            } else {
                self.resources.reopen_read_only(&object.memory)
            };
            self.attach.push(fd.map_err(|e| err(Win32Error::ERROR_NO_SYSTEM_RESOURCES, e.to_string()))?);
        }
        Ok(p::SyncMapped { shape: object.shape, object: id.0, access: entry.access, mapped, writable })
    }

    /// Sets an event on behalf of the system (a registry notification), and
    /// wakes its sleepers. The caller gives the event a reference, which is
    /// let go once the event is set: at once, or, when a wait-all holds it
    /// locked for the moment, from the timer (the broker never spins).
    pub(super) fn signal_event(&mut self, id: ObjectId) {
        if self.try_signal(id, false) {
            self.drop_handle_ref(id);
        } else {
            self.sync_signals.push((id, None));
        }
    }

    /// One attempt to set an event; `force` first lets go of any lock (a
    /// holder that kept it past [`LOCK_PATIENCE`] is frozen or hostile).
    /// True when done (or when there is nothing left to do).
    fn try_signal(&self, id: ObjectId, force: bool) -> bool {
        let Some(object) = self.store.get(id).and_then(|e| downcast::<SyncObject>(e.object.as_ref())) else {
            return true;
        };
        if force {
            object.slot().unlock_if(|_| true);
        }
        match object.slot().set() {
            Step::Done(changed) => {
                if changed.wake {
                    object.page.wake_all();
                }
                true
            }
            Step::Locked => false,
            Step::Blocked(_) => true,
        }
    }

    /// Retries the events a lock kept from being set.
    pub(super) fn retry_signals(&mut self, now: Instant) {
        let mut forced = 0;
        for (id, since) in std::mem::take(&mut self.sync_signals) {
            let since = since.unwrap_or(now);
            let force = now.saturating_duration_since(since) >= LOCK_PATIENCE;
            forced += usize::from(force);
            if self.try_signal(id, force) {
                self.drop_handle_ref(id);
            } else {
                self.sync_signals.push((id, Some(since)));
            }
        }
        if forced > 0 {
            // One line per round, not per event: a hostile holder must not flood the log.
            tracing::warn!(events = forced, "events stayed locked past the patience; unlocked them to set them");
        }
    }

    /// Notes a thread of the caller that may own mutexes.
    pub(super) fn thread_started(&mut self, cx: &Cx, thread: u32) -> Result<(), WireError> {
        let thread = owner_thread(thread)?;
        let verify = self.config.verify_threads;
        let client = self.clients.get_mut(&cx.client).ok_or_else(|| err(Win32Error::ERROR_INVALID_HANDLE, "gone"))?;
        if verify && !self.resources.is_thread_of(client.cred.pid, thread) {
            return Err(err(
                Win32Error::ERROR_INVALID_PARAMETER,
                format!("thread {thread} is not a thread of process {}", client.cred.pid),
            ));
        }
        if client.threads.len() >= MAX_THREADS_PER_CLIENT && !client.threads.contains(&thread) {
            return Err(err(
                Win32Error::ERROR_NO_SYSTEM_RESOURCES,
                format!("the process already announced {MAX_THREADS_PER_CLIENT} threads"),
            ));
        }
        client.threads.insert(thread);
        Ok(())
    }

    /// A thread of the caller ended: the mutexes it still owns are
    /// abandoned (including those its process no longer has a handle to),
    /// and it is forgotten. The client waits for this answer before the
    /// thread is gone, so its id cannot have been reused meanwhile.
    pub(super) fn thread_exited(&mut self, cx: &Cx, thread: u32) {
        let announced = self.clients.get_mut(&cx.client).is_some_and(|client| client.threads.remove(&thread));
        if announced {
            self.abandon_threads(&HashSet::from([thread]));
        }
    }

    /// A client is going: abandons the mutexes its threads own and lets go
    /// of the wait-all locks they hold (unless another connection still
    /// speaks for the same thread), then wakes whoever sleeps on them.
    pub(super) fn abandon_for(&mut self, client: ClientId) {
        let Some(threads) = self.clients.get(&client).map(|c| &c.threads).filter(|t| !t.is_empty()) else {
            return;
        };
        let still_here: HashSet<u32> = self
            .clients
            .iter()
            .filter(|(id, _)| **id != client)
            .flat_map(|(_, c)| c.threads.iter().copied())
            .filter(|t| threads.contains(t))
            .collect();
        let gone: HashSet<u32> = threads.difference(&still_here).copied().collect();
        self.abandon_threads(&gone);
    }

    /// Abandons every mutex the `gone` threads own and lets go of their
    /// wait-all locks, then wakes the sleepers. An object that a live
    /// thread's wait-all holds locked for the moment is retried from the
    /// timer (until it is done, or the object goes with its last handle).
    pub(super) fn abandon_threads(&mut self, gone: &HashSet<u32>) {
        if gone.is_empty() {
            return;
        }
        let ids: Vec<ObjectId> = self
            .store
            .iter()
            .filter(|(_, e)| downcast::<SyncObject>(e.object.as_ref()).is_some())
            .map(|(id, _)| id)
            .collect();
        for id in ids {
            if !self.abandon_in(id, gone) {
                self.sync_retry.push(Retry { id, gone: gone.clone(), since: None });
            }
        }
    }

    /// One object; `false` if a live lock kept it from being finished.
    fn abandon_in(&mut self, id: ObjectId, gone: &HashSet<u32>) -> bool {
        let Some(entry) = self.store.get(id) else { return true };
        let Some(object) = downcast::<SyncObject>(entry.object.as_ref()) else { return true };
        let slot = object.slot();
        let is_gone = |t: u32| gone.contains(&t);
        let mut wake = slot.unlock_if(is_gone);
        let mut finished = true;
        if object.shape == Shape::Mutex {
            match slot.abandon_if(is_gone) {
                Step::Done(changed) => {
                    if changed.previous {
                        tracing::info!(
                            object = entry.path.as_ref().map(ToString::to_string),
                            "mutex abandoned: its owning thread is gone"
                        );
                    }
                    wake |= changed.wake;
                }
                Step::Locked => finished = false,
                Step::Blocked(_) => {}
            }
        }
        if wake {
            object.page.wake_all();
        }
        finished
    }

    /// Retries the abandonments a live lock put off. A lock that outlives
    /// [`LOCK_PATIENCE`] is no wait-all's (they last nanoseconds): a holder
    /// damaged the page. The broker, owner of record, then repairs it: a
    /// mutex whose owner is gone is made free and abandoned whatever the
    /// word held, any other lock is let go, and the retries stop.
    pub(super) fn retry_abandonments(&mut self, now: Instant) {
        for mut retry in std::mem::take(&mut self.sync_retry) {
            if self.abandon_in(retry.id, &retry.gone) {
                continue;
            }
            let since = *retry.since.get_or_insert(now);
            if now.saturating_duration_since(since) < LOCK_PATIENCE {
                self.sync_retry.push(retry);
                continue;
            }
            let Some(entry) = self.store.get(retry.id) else { continue };
            let Some(object) = downcast::<SyncObject>(entry.object.as_ref()) else { continue };
            let slot = object.slot();
            let owner = syncstate::mutex_owner(slot.state());
            if object.shape == Shape::Mutex && owner.is_some_and(|o| retry.gone.contains(&o)) {
                tracing::warn!(
                    object = entry.path.as_ref().map(ToString::to_string),
                    lock = slot.lock_holder(),
                    "repairing a damaged mutex whose owner is gone: abandoned, no owner"
                );
                slot.force_abandon();
            } else {
                slot.unlock_if(|_| true);
            }
            object.page.wake_all();
        }
    }
}
