//! Waits on one or many objects: answered at once when they can be, parked on
//! their objects otherwise, and answered when an object's state changes or
//! the timeout passes.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use switchboard_proto::{Reply, WaitOutcome};

use super::objects::{Acquired, ObjectId, Store, Waiter};
use super::{ClientId, Core};

/// A parked wait's id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WaitId(pub u64);

/// A wait that could not be satisfied when it arrived.
#[derive(Debug)]
pub struct Parked {
    /// Who waits.
    pub client: ClientId,
    /// Which of its threads.
    pub thread: u32,
    /// The request to answer.
    pub request: u32,
    /// The objects, in the caller's order.
    pub objects: Vec<ObjectId>,
    /// All at once, or any.
    pub wait_all: bool,
    /// When to give up.
    pub deadline: Option<Instant>,
    /// Which request it answers.
    pub reply: WaitReply,
}

/// The request a parked wait answers, so the reply matches it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitReply {
    /// `WaitForMultipleObjects`.
    Wait,
    /// `SignalObjectAndWait`.
    SignalAndWait,
}

/// Every parked wait and its timer.
#[derive(Debug, Default)]
pub struct Waits {
    next: u64,
    parked: HashMap<WaitId, Parked>,
    timers: BTreeSet<(Instant, WaitId)>,
}

impl Waits {
    /// How many waits one client has parked.
    pub fn count_for(&self, client: ClientId) -> usize {
        self.parked.values().filter(|p| p.client == client).count()
    }

    /// Makes the wait parked for this request answer as `reply`.
    pub fn answer_as(&mut self, client: ClientId, request: u32, reply: WaitReply) {
        if let Some(p) = self.parked.values_mut().find(|p| p.client == client && p.request == request) {
            p.reply = reply;
        }
    }

    /// The earliest deadline.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.timers.first().map(|(t, _)| *t)
    }
}

/// Takes the objects if the wait can be satisfied now.
pub fn try_satisfy(store: &mut Store, objects: &[ObjectId], wait_all: bool, waiter: Waiter) -> Option<WaitOutcome> {
    let signaled = |store: &Store, id: ObjectId| store.get(id).is_some_and(|e| e.object.is_signaled_for(waiter));
    if wait_all {
        if !objects.iter().all(|&id| signaled(store, id)) {
            return None;
        }
        let mut abandoned = None;
        for (i, &id) in objects.iter().enumerate() {
            if let Some(e) = store.get_mut(id)
                && e.object.satisfy_wait_for(waiter) == Acquired::Abandoned
                && abandoned.is_none()
            {
                abandoned = Some(i as u32);
            }
        }
        return Some(abandoned.map_or(WaitOutcome::Signaled(0), WaitOutcome::Abandoned));
    }
    let (index, id) = objects.iter().enumerate().find(|&(_, &id)| signaled(store, id))?;
    let acquired = store.get_mut(*id)?.object.satisfy_wait_for(waiter);
    Some(match acquired {
        Acquired::Normal => WaitOutcome::Signaled(index as u32),
        Acquired::Abandoned => WaitOutcome::Abandoned(index as u32),
    })
}

impl Core {
    /// Parks a wait on its objects.
    pub(super) fn park(&mut self, parked: Parked, timeout: Option<Duration>, now: Instant) {
        let id = WaitId(self.waits.next);
        self.waits.next += 1;
        let mut objects = parked.objects.clone();
        objects.sort_unstable();
        objects.dedup();
        for object in objects {
            if let Some(e) = self.store.get_mut(object) {
                e.waiters.push(id);
            }
        }
        let deadline = timeout.and_then(|t| now.checked_add(t));
        if let Some(deadline) = deadline {
            self.waits.timers.insert((deadline, id));
        }
        self.waits.parked.insert(id, Parked { deadline, ..parked });
    }

    /// An object's state changed: satisfy the waits parked on it, oldest first,
    /// while it still can.
    pub(super) fn wake(&mut self, object: ObjectId) {
        let waiters = match self.store.get(object) {
            Some(e) => e.waiters.clone(),
            None => return,
        };
        for id in waiters {
            if !self.store.get(object).is_some_and(|e| e.object.is_signaled()) {
                break;
            }
            let Some(p) = self.waits.parked.get(&id) else {
                continue;
            };
            let waiter = Waiter { client: p.client, thread: p.thread };
            if let Some(outcome) = try_satisfy(&mut self.store, &p.objects, p.wait_all, waiter) {
                self.finish(id, outcome);
            }
        }
    }

    /// Answers a parked wait and forgets it.
    fn finish(&mut self, id: WaitId, outcome: WaitOutcome) {
        let Some(p) = self.unpark(id) else { return };
        let reply = match p.reply {
            WaitReply::Wait => Reply::Wait(outcome),
            WaitReply::SignalAndWait => Reply::SignalAndWait(outcome),
        };
        self.reply(p.client, p.request, Ok(reply), Vec::new());
    }

    /// Removes a wait from its objects and its timer; frees objects that only
    /// the wait kept alive.
    fn unpark(&mut self, id: WaitId) -> Option<Parked> {
        let p = self.waits.parked.remove(&id)?;
        if let Some(deadline) = p.deadline {
            self.waits.timers.remove(&(deadline, id));
        }
        for &object in &p.objects {
            if let Some(e) = self.store.get_mut(object) {
                e.waiters.retain(|w| *w != id);
            }
            self.release_if_unreferenced(object);
        }
        Some(p)
    }

    /// Times out the waits whose deadline has passed.
    pub(super) fn expire(&mut self, now: Instant) {
        while let Some(&(deadline, id)) = self.waits.timers.first() {
            if deadline > now {
                break;
            }
            self.finish(id, WaitOutcome::TimedOut);
        }
    }

    /// Drops a departing client's waits without answering them.
    pub(super) fn cancel_waits(&mut self, client: ClientId) {
        let ids: Vec<WaitId> =
            self.waits.parked.iter().filter(|(_, p)| p.client == client).map(|(id, _)| *id).collect();
        for id in ids {
            self.unpark(id);
        }
    }
}
