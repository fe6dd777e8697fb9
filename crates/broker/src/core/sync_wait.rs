//! Waits and releases made by the broker, for handles that may wait on an
//! object but not change it.
//!
//! On Windows `SYNCHRONIZE` lets a handle wait (which consumes an auto-reset
//! event or a semaphore count, or takes a mutex) and nothing else. Such a
//! handle gets a read-only page: its process reads the state and sleeps on
//! it, and each attempt to take the object is a [`p::SyncWait`] step that
//! the broker makes on its own mapping, with the same transitions as the
//! fast path ([`syncstate::try_take_any`], [`syncstate::try_take_all`]).
//! A step never blocks and never spins: a lock held by a wait-all is
//! reported ([`p::SyncWaitStep::Locked`]) and the client tries again.
//!
//! A waiter that sleeps is counted among the object's sleepers by the
//! broker, so that whoever changes the object wakes it; the broker keeps
//! the count it added per client and object, takes it back at the next
//! step, and takes back what is left when the client goes.

use std::collections::HashMap;

use switchboard_proto as p;
use switchboard_proto::WireError;
use switchboard_types::security::AccessMask;
use switchboard_types::syncstate::{self, Refused, Shape, Slot, Step, Taken};
use switchboard_types::{Handle, Win32Error};

use super::objects::{ObjectId, downcast};
use super::sync::{SyncObject, owner_thread};
use super::{ClientId, Core, Cx};

/// Sleeps one client may have counted on one object at once; past it a
/// step still answers, uncounted (the client's waits then rely on their
/// bounded re-check), so a client cannot push a count to overflow.
const MAX_COUNTED_SLEEPS: u32 = 4096;

fn err(code: Win32Error, message: impl Into<String>) -> WireError {
    WireError::new(code, message)
}

/// The sleeps the broker counted for one client, per object.
pub(super) type Counted = HashMap<ObjectId, u32>;

impl Core {
    /// The objects behind a wait's handles, each needing `SYNCHRONIZE`.
    fn wait_objects(&self, cx: &Cx, handles: &[Handle]) -> Result<Vec<ObjectId>, WireError> {
        let mut ids = Vec::with_capacity(handles.len());
        for &handle in handles {
            let (id, _) = self.lookup(cx, handle, AccessMask::SYNCHRONIZE)?;
            if self.store.get(id).and_then(|e| downcast::<SyncObject>(e.object.as_ref())).is_none() {
                return Err(err(Win32Error::ERROR_INVALID_HANDLE, format!("handle {handle} cannot be waited on")));
            }
            ids.push(id);
        }
        Ok(ids)
    }

    /// A thread of the caller that it announced (so its mutexes are abandoned if it dies).
    fn announced_thread(&self, cx: &Cx, thread: u32) -> Result<u32, WireError> {
        let thread = owner_thread(thread)?;
        if !self.client(cx.client)?.threads.contains(&thread) {
            return Err(err(Win32Error::ERROR_INVALID_PARAMETER, format!("thread {thread} was not announced")));
        }
        Ok(thread)
    }

    /// One step of a wait (see the module docs).
    pub(super) fn sync_wait(&mut self, cx: &Cx, req: &p::SyncWait) -> Result<p::SyncWaitStep, WireError> {
        let n = req.handles.len();
        if n == 0 || n > 64 || req.since.len() != n {
            return Err(err(Win32Error::ERROR_INVALID_PARAMETER, format!("{n} handles; between 1 and 64 are allowed")));
        }
        let thread = self.announced_thread(cx, req.thread)?;
        let ids = self.wait_objects(cx, &req.handles)?;
        if req.wait_all && (1..n).any(|i| ids[..i].contains(&ids[i])) {
            return Err(err(Win32Error::ERROR_INVALID_PARAMETER, "wait-all names the same object twice"));
        }
        if req.counted {
            self.uncount_sleeps(cx.client, &ids);
        }
        let mut seen = vec![0u32; n];
        let step = self.attempt(&ids, req, thread, &mut seen)?;
        let step = match step {
            Step::Blocked(_) if req.sleep => {
                let counted = self.count_sleeps(cx.client, &ids);
                // Counted in: look once more before the client sleeps, so a
                // change made meanwhile is not missed.
                match self.attempt(&ids, req, thread, &mut seen)? {
                    Step::Blocked(_) => return Ok(p::SyncWaitStep::Blocked { seen, counted }),
                    other => {
                        if counted {
                            self.uncount_sleeps(cx.client, &ids);
                        }
                        other
                    }
                }
            }
            other => other,
        };
        Ok(match step {
            Step::Done((index, abandoned)) => p::SyncWaitStep::Taken { index: index as u32, abandoned },
            Step::Blocked(_) => p::SyncWaitStep::Blocked { seen, counted: false },
            Step::Locked => p::SyncWaitStep::Locked,
        })
    }

    /// One attempt to take the objects, on the broker's own mappings.
    fn attempt(
        &self,
        ids: &[ObjectId],
        req: &p::SyncWait,
        thread: u32,
        seen: &mut [u32],
    ) -> Result<Step<(usize, bool)>, WireError> {
        let objects: Vec<&SyncObject> = ids
            .iter()
            .filter_map(|id| self.store.get(*id).and_then(|e| downcast::<SyncObject>(e.object.as_ref())))
            .collect();
        let slots: Vec<(&Slot, Shape)> = objects.iter().map(|o| (o.slot(), o.shape())).collect();
        let step = if req.wait_all {
            let mut order: Vec<usize> = (0..slots.len()).collect();
            order.sort_by_key(|&i| objects[i].page_id());
            syncstate::try_take_all(&slots, &order, thread, seen)
                .map(|s| s.map(|abandoned| (abandoned.unwrap_or(0), abandoned.is_some())))
        } else {
            syncstate::try_take_any(&slots, thread, &req.since, seen)
                .map(|s| s.map(|(i, taken)| (i, taken == Taken::Abandoned)))
        };
        // Waits refuse only a mutex held too often.
        step.map_err(|_: Refused| {
            err(
                Win32Error::ERROR_SIGNAL_REFUSED,
                format!("thread {thread} already holds the mutex {} times", syncstate::MAX_RECURSION),
            )
        })
    }

    /// Counts the client asleep on each object; false if it is at its bound.
    fn count_sleeps(&mut self, client: ClientId, ids: &[ObjectId]) -> bool {
        let Some(c) = self.clients.get_mut(&client) else { return false };
        if ids.iter().any(|id| c.sleeps.get(id).copied().unwrap_or(0) >= MAX_COUNTED_SLEEPS) {
            return false;
        }
        for id in ids {
            let count = c.sleeps.entry(*id).or_default();
            if *count == 0 {
                self.sleep_entries += 1;
            }
            *count += 1;
            if let Some(object) = self.store.get(*id).and_then(|e| downcast::<SyncObject>(e.object.as_ref())) {
                object.slot().begin_sleep();
            }
        }
        true
    }

    /// Takes back one counted sleep per object, never more than were counted.
    pub(super) fn uncount_sleeps(&mut self, client: ClientId, ids: &[ObjectId]) {
        let Some(c) = self.clients.get_mut(&client) else { return };
        for id in ids {
            let Some(count) = c.sleeps.get_mut(id) else { continue };
            *count -= 1;
            if *count == 0 {
                c.sleeps.remove(id);
                self.sleep_entries -= 1;
            }
            if let Some(object) = self.store.get(*id).and_then(|e| downcast::<SyncObject>(e.object.as_ref())) {
                object.slot().end_sleep();
            }
        }
    }

    /// Takes back every sleep counted for a client that is going.
    pub(super) fn uncount_all_sleeps(&mut self, counted: Counted) {
        self.sleep_entries -= counted.len();
        for (id, count) in counted {
            if let Some(object) = self.store.get(id).and_then(|e| downcast::<SyncObject>(e.object.as_ref())) {
                for _ in 0..count {
                    object.slot().end_sleep();
                }
            }
        }
    }

    /// An object's last handle closed: its id may be reused, so no count may point at it.
    pub(super) fn forget_sleeps_on(&mut self, id: ObjectId) {
        // Every object's end passes here: look through the clients only when
        // some client has a count at all (counted sleeps are rare).
        if self.sleep_entries == 0 {
            return;
        }
        for client in self.clients.values_mut() {
            if client.sleeps.remove(&id).is_some() {
                self.sleep_entries -= 1;
            }
        }
    }

    /// `ReleaseMutex` for a handle whose page is read-only (`ReleaseMutex`
    /// needs no access right on Windows, only ownership).
    pub(super) fn sync_release(&mut self, cx: &Cx, req: p::SyncRelease) -> Result<bool, WireError> {
        let (id, _) = self.lookup(cx, req.handle, AccessMask(0))?;
        let thread = self.announced_thread(cx, req.thread).map_err(|e| err(Win32Error::ERROR_NOT_OWNER, e.message))?;
        let object = self
            .store
            .get(id)
            .and_then(|e| downcast::<SyncObject>(e.object.as_ref()))
            .filter(|o| o.shape() == Shape::Mutex)
            .ok_or_else(|| err(Win32Error::ERROR_INVALID_HANDLE, format!("handle {} is not a mutex", req.handle)))?;
        match object.slot().release_mutex(thread) {
            Ok(Step::Done(changed)) => {
                if changed.wake {
                    object.wake_all();
                }
                Ok(true)
            }
            Ok(Step::Locked) => Ok(false),
            Ok(Step::Blocked(_)) | Err(_) => {
                Err(err(Win32Error::ERROR_NOT_OWNER, format!("thread {thread} does not own the mutex")))
            }
        }
    }
}
