//! The state of an event, a mutex or a semaphore as it lives in shared
//! memory, and every transition on it.
//!
//! Each object has one [`Slot`] in a page of its own, mapped by the broker
//! and by every process that holds a handle to the object. Every transition
//! is a compare-and-swap on one 64-bit word, so an uncontended wait on a
//! signaled object, a set or a release makes no system call. None of these
//! functions sleeps: a transition that cannot go ahead says what it saw
//! ([`Step::Blocked`]), and the caller sleeps on the futex word (the low
//! half) until that value changes, having first counted itself in
//! [`Slot::sleepers`] and tried once more. Whoever changes the state wakes
//! the sleepers when the count is not zero; with sequentially consistent
//! orderings on both sides, one of the two always sees the other.
//!
//! # The word
//!
//! The low 32 bits are the state, and the futex word:
//! - **event**: bit 0 set when signaled; bits 1–31 a generation that every
//!   set and pulse advances, so that a wait on a manual-reset event that
//!   slept through a set and a reset (or a pulse) still ends, as on Windows;
//! - **semaphore**: the count;
//! - **mutex**: bits 0–30 the owner's thread id (0: free); bit 31 set when
//!   the last owner ended without releasing it (abandoned).
//!
//! The high 32 bits are a lock: the id of a thread that is checking a
//! wait-all, or 0. A wait-all locks each of its objects (in a fixed order),
//! checks that all can be taken, then takes them all and unlocks in one
//! store per object, so nothing is consumed unless everything is. Every other
//! transition refuses to act on a locked word ([`Step::Locked`]: retry
//! shortly), and a wait-all that meets a lock lets go of what it holds and
//! retries, so no thread ever waits while holding a lock.
//!
//! # Trust
//!
//! The page is writable by every process whose handle may change the
//! object (a handle that may only wait maps it read-only and takes the
//! object through the broker), so nothing read from
//! it is trusted blindly: counts are checked against the maximum the broker
//! gave, a recursion count of 0 under an owner reads as 1, and a lock that
//! never goes away is reported by the caller as an error after a bound
//! rather than waited on for ever. A process can only damage objects it could
//! open anyway.

#[cfg(loom)]
use loom::sync::atomic::{AtomicU32, AtomicU64, Ordering::SeqCst, fence};
#[cfg(not(loom))]
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::SeqCst, fence};

/// Event state: signaled.
const SIGNALED: u32 = 1;
/// Mutex state: the owner's thread id.
const OWNER: u32 = 0x7FFF_FFFF;
/// Mutex state: abandoned by its last owner.
const ABANDONED: u32 = 0x8000_0000;
/// The most acquisitions a mutex owner may hold at once (Windows:
/// `MINLONG`, `STATUS_MUTANT_LIMIT_EXCEEDED`).
pub const MAX_RECURSION: u32 = 0x7FFF_FFFF;

/// What an object is, and the constants its transitions need. The broker
/// gives these with the page; they are never read from shared memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Shape {
    /// An event.
    Event {
        /// Stays signaled until reset (else one satisfied wait resets it).
        manual_reset: bool,
    },
    /// A mutex.
    Mutex,
    /// A semaphore.
    Semaphore {
        /// The highest count.
        maximum: u32,
    },
}

/// How a wait took an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Taken {
    /// `WAIT_OBJECT_0`.
    Normal,
    /// `WAIT_ABANDONED_0`: an abandoned mutex, now owned by the caller.
    Abandoned,
}

/// The outcome of one attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step<T> {
    /// It happened.
    Done(T),
    /// It cannot happen now; this is the state seen (sleep until it changes).
    Blocked(u32),
    /// A wait-all holds the object for a moment: try again shortly.
    Locked,
}

/// A transition refused for a reason that retrying will not change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    /// `ReleaseMutex` by a thread that does not own it.
    NotOwner,
    /// `ReleaseSemaphore` past the maximum; the count was this.
    TooManyPosts(u32),
    /// The owner already holds the mutex [`MAX_RECURSION`] times.
    RecursionLimit,
}

/// A change of state, and whether sleepers must be woken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Changed<T> {
    /// What the operation reports (the previous state or count).
    pub previous: T,
    /// Threads may sleep on the old state: wake them.
    pub wake: bool,
}

/// One object's shared state.
#[repr(C)]
#[derive(Debug, Default)]
pub struct Slot {
    /// State (low half, the futex word) and lock (high half).
    word: AtomicU64,
    /// A mutex's acquisitions by its owner; written only by the owner (and
    /// by whoever abandons the mutex once its owner is gone).
    recursion: AtomicU32,
    /// Threads asleep, or about to sleep, on the futex word.
    sleepers: AtomicU32,
}

fn split(word: u64) -> (u32, u32) {
    (word as u32, (word >> 32) as u32)
}

fn join(state: u32, lock: u32) -> u64 {
    u64::from(state) | (u64::from(lock) << 32)
}

/// An event's state advanced by one generation, signaled or not.
fn next_generation(state: u32, signaled: bool) -> u32 {
    (state & !SIGNALED).wrapping_add(2) | u32::from(signaled)
}

/// The initial state of an event.
pub fn event_state(signaled: bool) -> u32 {
    u32::from(signaled)
}

/// The initial state of a mutex, owned by `owner` or free.
pub fn mutex_state(owner: Option<u32>) -> u32 {
    owner.map_or(0, |o| o & OWNER)
}

/// Whether a state can be taken by thread `me`.
fn can_take(shape: Shape, state: u32, me: u32) -> bool {
    match shape {
        Shape::Event { .. } => state & SIGNALED != 0,
        Shape::Semaphore { .. } => state > 0,
        Shape::Mutex => matches!(state & OWNER, 0) || state & OWNER == me,
    }
}

/// Whether a state reads as signaled to an onlooker (for `show`).
pub fn is_signaled(shape: Shape, state: u32) -> bool {
    can_take(shape, state, 0)
}

/// The state in words.
pub fn describe(shape: Shape, state: u32, recursion: u32) -> String {
    match shape {
        Shape::Event { manual_reset } => format!(
            "{}, {}",
            if state & SIGNALED != 0 { "signaled" } else { "not signaled" },
            if manual_reset { "manual-reset" } else { "auto-reset" }
        ),
        Shape::Semaphore { maximum } if state > maximum => {
            format!("count {state} of {maximum} (damaged: above the maximum)")
        }
        Shape::Semaphore { maximum } => format!("count {state} of {maximum}"),
        Shape::Mutex => match (state & OWNER, recursion) {
            (0, _) if state & ABANDONED != 0 => "abandoned".to_owned(),
            (0, _) => "free".to_owned(),
            (owner, 0 | 1) => format!("owned by thread {owner}"),
            (owner, n) => format!("owned by thread {owner} ({n} acquisitions)"),
        },
    }
}

/// A mutex's owner in a state, if any.
pub fn mutex_owner(state: u32) -> Option<u32> {
    Some(state & OWNER).filter(|&o| o != 0)
}

impl Slot {
    /// A slot with this state, unlocked, no sleepers.
    pub fn new(state: u32, recursion: u32) -> Self {
        Self { word: AtomicU64::new(join(state, 0)), recursion: AtomicU32::new(recursion), sleepers: AtomicU32::new(0) }
    }

    /// Writes the initial state of a new object (the broker, before anyone
    /// else maps the page).
    pub fn init(&self, state: u32, recursion: u32) {
        self.recursion.store(recursion, SeqCst);
        self.sleepers.store(0, SeqCst);
        self.word.store(join(state, 0), SeqCst);
    }

    /// The state now (the futex word's value).
    pub fn state(&self) -> u32 {
        split(self.word.load(SeqCst)).0
    }

    /// The thread holding the lock, or 0.
    pub fn lock_holder(&self) -> u32 {
        split(self.word.load(SeqCst)).1
    }

    /// A mutex's acquisitions by its owner.
    pub fn recursion(&self) -> u32 {
        self.recursion.load(SeqCst)
    }

    /// Threads asleep on the object now.
    pub fn sleepers(&self) -> u32 {
        self.sleepers.load(SeqCst)
    }

    /// Counts the calling thread in before it tries a last time and sleeps.
    pub fn begin_sleep(&self) {
        self.sleepers.fetch_add(1, SeqCst);
        // With the fence in `changed`: the count, then the last look at the
        // state; the change, then the look at the count. (A locked RMW is a
        // full barrier on x86 already; the fences make the pairing explicit,
        // and loom models it only with them.)
        fence(SeqCst);
    }

    /// Counts the calling thread out once it is awake (never below 0, even
    /// if another process wrote nonsense).
    pub fn end_sleep(&self) {
        let _ = self.sleepers.fetch_update(SeqCst, SeqCst, |n| Some(n.saturating_sub(1)));
    }

    /// The generation of a manual-reset event now, to pass to
    /// [`try_take`](Self::try_take) for the rest of one wait.
    pub fn generation(&self) -> u32 {
        self.state() >> 1
    }

    fn changed<T>(&self, previous: T) -> Changed<T> {
        fence(SeqCst);
        Changed { previous, wake: self.sleepers.load(SeqCst) > 0 }
    }

    /// Replaces the unlocked state with `f(state)`, or reports a lock.
    fn update(&self, mut f: impl FnMut(u32) -> Option<u32>) -> Step<u32> {
        let mut word = self.word.load(SeqCst);
        loop {
            let (state, lock) = split(word);
            if lock != 0 {
                return Step::Locked;
            }
            let Some(next) = f(state) else { return Step::Blocked(state) };
            if next == state {
                return Step::Done(state);
            }
            match self.word.compare_exchange_weak(word, join(next, 0), SeqCst, SeqCst) {
                Ok(_) => return Step::Done(state),
                Err(actual) => word = actual,
            }
        }
    }

    /// Overwrites the whole word, state and lock, as any process that maps
    /// the page can: for tests of hostile input and of cleanup after a
    /// process that died holding a lock. Nothing else should call it.
    #[doc(hidden)]
    pub fn overwrite(&self, word: u64) {
        self.word.store(word, SeqCst);
    }

    /// One attempt of a wait by thread `me` (nonzero) to take the object.
    ///
    /// `since` is the generation seen when the wait began
    /// ([`generation`](Self::generation)); a manual-reset event that was set
    /// or pulsed since then satisfies the wait even if it is no longer
    /// signaled. Wait-all passes `None`: it needs everything at one moment.
    pub fn try_take(&self, shape: Shape, me: u32, since: Option<u32>) -> Result<Step<Taken>, Refused> {
        match shape {
            Shape::Event { manual_reset: true } => {
                let (state, lock) = split(self.word.load(SeqCst));
                if state & SIGNALED != 0 || since.is_some_and(|g| g != state >> 1) {
                    Ok(Step::Done(Taken::Normal))
                } else if lock != 0 {
                    Ok(Step::Locked)
                } else {
                    Ok(Step::Blocked(state))
                }
            }
            Shape::Event { manual_reset: false } => {
                Ok(self.update(|s| (s & SIGNALED != 0).then_some(s & !SIGNALED)).map(|_| Taken::Normal))
            }
            Shape::Semaphore { .. } => Ok(self.update(|s| s.checked_sub(1)).map(|_| Taken::Normal)),
            Shape::Mutex => {
                let state = self.state();
                if state & OWNER == me {
                    // Only the owner touches the count while it owns the mutex.
                    let held = self.recursion.load(SeqCst).max(1);
                    if held >= MAX_RECURSION {
                        return Err(Refused::RecursionLimit);
                    }
                    self.recursion.store(held + 1, SeqCst);
                    return Ok(Step::Done(Taken::Normal));
                }
                let step = self.update(|s| (s & OWNER == 0).then_some(me & OWNER));
                Ok(step.map(|previous| {
                    self.recursion.store(1, SeqCst);
                    if previous & ABANDONED == 0 { Taken::Normal } else { Taken::Abandoned }
                }))
            }
        }
    }

    /// `SetEvent`: reports whether it was already signaled.
    pub fn set(&self) -> Step<Changed<bool>> {
        self.update(|s| Some(if s & SIGNALED == 0 { next_generation(s, true) } else { s }))
            .map(|previous| self.changed(previous & SIGNALED != 0))
    }

    /// `ResetEvent`: reports whether it was signaled. Nobody needs waking.
    pub fn reset(&self) -> Step<bool> {
        self.update(|s| Some(s & !SIGNALED)).map(|previous| previous & SIGNALED != 0)
    }

    /// `PulseEvent`: a manual-reset event releases every current waiter (the
    /// generation moves on) and ends reset; an auto-reset event with
    /// sleepers is set for one of them to take, and without is reset.
    pub fn pulse(&self, manual_reset: bool) -> Step<Changed<bool>> {
        let sleeping = self.sleepers.load(SeqCst) > 0;
        self.update(|s| {
            Some(if manual_reset {
                next_generation(s, false)
            } else if sleeping {
                next_generation(s, true)
            } else {
                s & !SIGNALED
            })
        })
        .map(|previous| self.changed(previous & SIGNALED != 0))
    }

    /// `ReleaseSemaphore(count)`: reports the previous count.
    pub fn release_semaphore(&self, count: u32, maximum: u32) -> Result<Step<Changed<u32>>, Refused> {
        let mut too_many = None;
        let step = self.update(|s| match s.checked_add(count) {
            Some(next) if next <= maximum => Some(next),
            _ => {
                too_many = Some(s);
                Some(s)
            }
        });
        match (step, too_many) {
            (Step::Done(previous), Some(_)) => Err(Refused::TooManyPosts(previous)),
            (step, _) => Ok(step.map(|previous| self.changed(previous))),
        }
    }

    /// `ReleaseMutex` by thread `me`: one acquisition fewer; the last one
    /// frees the mutex (and then sleepers may need waking).
    pub fn release_mutex(&self, me: u32) -> Result<Step<Changed<()>>, Refused> {
        let state = self.state();
        if state & OWNER != me || me & OWNER == 0 {
            return Err(Refused::NotOwner);
        }
        let held = self.recursion.load(SeqCst);
        if held > 1 {
            self.recursion.store(held - 1, SeqCst);
            return Ok(Step::Done(Changed { previous: (), wake: false }));
        }
        // The last acquisition (a count of 0 under an owner reads as 1). The
        // count is cleared first: once the word is free, the next owner writes it.
        self.recursion.store(0, SeqCst);
        match self.update(|s| if s & OWNER == me { Some(0) } else { None }) {
            Step::Done(_) => Ok(Step::Done(self.changed(()))),
            Step::Blocked(_) => Err(Refused::NotOwner),
            Step::Locked => Ok(Step::Locked),
        }
    }

    /// Abandons the mutex if `is_gone` says its owner has ended: free, marked
    /// abandoned, so the next wait takes it with [`Taken::Abandoned`].
    /// Reports whether it did.
    pub fn abandon_if(&self, is_gone: impl Fn(u32) -> bool) -> Step<Changed<bool>> {
        let mut abandoned = false;
        let step = self.update(|s| {
            abandoned = s & OWNER != 0 && is_gone(s & OWNER);
            if abandoned {
                // The owner is gone, so nobody else writes the count until the
                // word is free; after that the next owner does.
                self.recursion.store(0, SeqCst);
            }
            Some(if abandoned { ABANDONED } else { s })
        });
        step.map(|_| self.changed(abandoned))
    }

    /// Lets go of a lock whose holder `is_gone` says has ended (a process
    /// killed during a wait-all). The state is untouched: a wait-all changes
    /// it only in the store that unlocks. Reports whether it did.
    pub fn unlock_if(&self, is_gone: impl Fn(u32) -> bool) -> bool {
        let word = self.word.load(SeqCst);
        let (state, lock) = split(word);
        lock != 0 && is_gone(lock) && self.word.compare_exchange(word, join(state, 0), SeqCst, SeqCst).is_ok()
    }
}

impl Slot {
    /// Repairs a mutex whose owner has ended but whose word a holder
    /// damaged (a lock that never goes away): free, marked abandoned, no
    /// lock, whatever was there. Only the broker, owner of record, calls
    /// it, once the owner is known to be gone and the lock has outlived
    /// any live wait-all.
    pub fn force_abandon(&self) {
        self.recursion.store(0, SeqCst);
        self.word.store(join(ABANDONED, 0), SeqCst);
        fence(SeqCst);
    }
}

/// One attempt of a wait-any by thread `me`: the lowest index that can be
/// taken wins. `since` is per slot (see [`Slot::try_take`]); `Blocked`
/// leaves each state in `seen`, to sleep on.
pub fn try_take_any(
    slots: &[(&Slot, Shape)],
    me: u32,
    since: &[Option<u32>],
    seen: &mut [u32],
) -> Result<Step<(usize, Taken)>, Refused> {
    for (i, &(slot, shape)) in slots.iter().enumerate() {
        match slot.try_take(shape, me, since.get(i).copied().flatten())? {
            Step::Done(taken) => return Ok(Step::Done((i, taken))),
            Step::Blocked(state) => seen[i] = state,
            // A wait-all is looking at it: whether it is signaled is
            // unknown for a moment, and a higher index must not win meanwhile.
            Step::Locked => return Ok(Step::Locked),
        }
    }
    Ok(Step::Blocked(0))
}

impl<T> Step<T> {
    /// Maps what was done.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Step<U> {
        match self {
            Step::Done(t) => Step::Done(f(t)),
            Step::Blocked(s) => Step::Blocked(s),
            Step::Locked => Step::Locked,
        }
    }
}

/// One attempt of a wait-all by thread `me` (nonzero) on `slots` (at most
/// 64, each object once), locking them in `order` (indices into `slots`,
/// sorted by the objects' ids so that all processes lock in one order).
///
/// `Done` carries the lowest index of an abandoned mutex among them, if
/// any. `Blocked` means not everything can be taken now; `seen` then holds
/// the state of each object, to sleep on. Nothing is taken unless everything
/// is.
pub fn try_take_all(
    slots: &[(&Slot, Shape)],
    order: &[usize],
    me: u32,
    seen: &mut [u32],
) -> Result<Step<Option<usize>>, Refused> {
    debug_assert!(me != 0 && slots.len() == order.len() && seen.len() >= slots.len());
    let unlock = |held: &[usize], seen: &[u32]| {
        for &i in held {
            slots[i].0.word.store(join(seen[i], 0), SeqCst);
        }
    };
    for (n, &i) in order.iter().enumerate() {
        let slot = slots[i].0;
        let mut word = slot.word.load(SeqCst);
        loop {
            let (state, lock) = split(word);
            if lock != 0 {
                unlock(&order[..n], seen);
                return Ok(Step::Locked);
            }
            match slot.word.compare_exchange_weak(word, join(state, me), SeqCst, SeqCst) {
                Ok(_) => {
                    seen[i] = state;
                    break;
                }
                Err(actual) => word = actual,
            }
        }
    }
    let ready = slots.iter().zip(seen.iter()).all(|(&(_, shape), &state)| can_take(shape, state, me));
    let limit = slots.iter().zip(seen.iter()).any(|(&(slot, shape), &state)| {
        shape == Shape::Mutex && state & OWNER == me && slot.recursion.load(SeqCst) >= MAX_RECURSION
    });
    if !ready || limit {
        unlock(order, seen);
        return if limit { Err(Refused::RecursionLimit) } else { Ok(Step::Blocked(0)) };
    }
    let mut abandoned = None;
    for (i, &(slot, shape)) in slots.iter().enumerate() {
        let state = seen[i];
        let next = match shape {
            Shape::Event { manual_reset: true } => state,
            Shape::Event { manual_reset: false } => state & !SIGNALED,
            Shape::Semaphore { .. } => state - 1,
            Shape::Mutex if state & OWNER == me => {
                slot.recursion.store(slot.recursion.load(SeqCst).max(1) + 1, SeqCst);
                state
            }
            Shape::Mutex => {
                if state & ABANDONED != 0 && abandoned.is_none() {
                    abandoned = Some(i);
                }
                slot.recursion.store(1, SeqCst);
                me & OWNER
            }
        };
        slot.word.store(join(next, 0), SeqCst);
    }
    Ok(Step::Done(abandoned))
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    const ME: u32 = 101;
    const OTHER: u32 = 202;
    const AUTO: Shape = Shape::Event { manual_reset: false };
    const MANUAL: Shape = Shape::Event { manual_reset: true };

    fn done<T: std::fmt::Debug>(step: Step<T>) -> T {
        match step {
            Step::Done(t) => t,
            other => panic!("expected Done, got {other:?}"),
        }
    }

    #[test]
    fn auto_reset_event_is_taken_by_one_wait() {
        let e = Slot::new(event_state(false), 0);
        assert!(matches!(e.try_take(AUTO, ME, None), Ok(Step::Blocked(_))));
        assert!(!done(e.set()).previous);
        assert!(done(e.set()).previous, "a second set finds it signaled");
        assert_eq!(e.try_take(AUTO, ME, None), Ok(Step::Done(Taken::Normal)));
        assert!(matches!(e.try_take(AUTO, OTHER, None), Ok(Step::Blocked(_))));
    }

    #[test]
    fn manual_reset_event_stays_set_until_reset() {
        let e = Slot::new(event_state(true), 0);
        for _ in 0..3 {
            assert_eq!(e.try_take(MANUAL, ME, None), Ok(Step::Done(Taken::Normal)));
        }
        assert!(done(e.reset()));
        assert!(matches!(e.try_take(MANUAL, ME, None), Ok(Step::Blocked(_))));
    }

    #[test]
    fn a_wait_on_a_manual_event_that_slept_through_set_and_reset_ends() {
        let e = Slot::new(event_state(false), 0);
        let since = e.generation();
        assert!(!done(e.set()).previous);
        done(e.reset());
        assert_eq!(e.try_take(MANUAL, ME, Some(since)), Ok(Step::Done(Taken::Normal)));
        assert!(matches!(e.try_take(MANUAL, ME, Some(e.generation())), Ok(Step::Blocked(_))), "a new wait blocks");
    }

    #[test]
    fn pulse_on_manual_releases_current_waits_and_leaves_it_reset() {
        let e = Slot::new(event_state(false), 0);
        let since = e.generation();
        e.begin_sleep();
        let pulsed = done(e.pulse(true));
        assert!(pulsed.wake && !pulsed.previous);
        assert_eq!(e.try_take(MANUAL, ME, Some(since)), Ok(Step::Done(Taken::Normal)));
        assert!(matches!(e.try_take(MANUAL, OTHER, Some(e.generation())), Ok(Step::Blocked(_))));
    }

    #[test]
    fn pulse_on_auto_without_sleepers_leaves_it_reset() {
        let e = Slot::new(event_state(true), 0);
        assert!(done(e.pulse(false)).previous);
        assert!(matches!(e.try_take(AUTO, ME, None), Ok(Step::Blocked(_))));
        e.begin_sleep();
        done(e.pulse(false));
        assert_eq!(e.try_take(AUTO, ME, None), Ok(Step::Done(Taken::Normal)), "a sleeper takes the pulse");
    }

    #[test]
    fn semaphore_counts_and_refuses_past_the_maximum_unchanged() {
        let s = Slot::new(1, 0);
        let shape = Shape::Semaphore { maximum: 2 };
        assert_eq!(done(s.release_semaphore(1, 2).unwrap()).previous, 1);
        assert_eq!(s.release_semaphore(1, 2), Err(Refused::TooManyPosts(2)));
        assert_eq!(s.state(), 2);
        assert_eq!(s.release_semaphore(u32::MAX, 2), Err(Refused::TooManyPosts(2)));
        done(s.try_take(shape, ME, None).unwrap());
        done(s.try_take(shape, ME, None).unwrap());
        assert_eq!(s.try_take(shape, ME, None), Ok(Step::Blocked(0)));
    }

    #[test]
    fn mutex_is_recursive_and_only_its_owner_releases_it() {
        let m = Slot::new(mutex_state(None), 0);
        for _ in 0..32 {
            assert_eq!(m.try_take(Shape::Mutex, ME, None), Ok(Step::Done(Taken::Normal)));
        }
        assert!(matches!(m.try_take(Shape::Mutex, OTHER, None), Ok(Step::Blocked(_))));
        assert_eq!(m.release_mutex(OTHER), Err(Refused::NotOwner));
        for _ in 0..31 {
            assert!(!done(m.release_mutex(ME).unwrap()).wake);
        }
        assert_eq!(mutex_owner(m.state()), Some(ME));
        done(m.release_mutex(ME).unwrap());
        assert_eq!(m.release_mutex(ME), Err(Refused::NotOwner), "one release too many");
        assert_eq!(m.try_take(Shape::Mutex, OTHER, None), Ok(Step::Done(Taken::Normal)));
    }

    #[test]
    fn an_abandoned_mutex_goes_to_the_next_waiter_with_abandoned() {
        let m = Slot::new(mutex_state(Some(ME)), 3);
        assert!(!done(m.abandon_if(|t| t == OTHER)).previous, "the owner is alive");
        assert!(done(m.abandon_if(|t| t == ME)).previous);
        assert_eq!(describe(Shape::Mutex, m.state(), m.recursion()), "abandoned");
        assert_eq!(m.try_take(Shape::Mutex, OTHER, None), Ok(Step::Done(Taken::Abandoned)));
        assert_eq!(m.recursion(), 1);
        done(m.release_mutex(OTHER).unwrap());
        assert_eq!(m.try_take(Shape::Mutex, ME, None), Ok(Step::Done(Taken::Normal)), "abandonment is reported once");
    }

    #[test]
    fn wait_all_takes_nothing_until_everything_can_be_taken() {
        let a = Slot::new(event_state(true), 0);
        let s = Slot::new(0, 0);
        let sem = Shape::Semaphore { maximum: 1 };
        let slots = [(&a, AUTO), (&s, sem)];
        let mut seen = [0; 2];
        assert_eq!(try_take_all(&slots, &[1, 0], ME, &mut seen), Ok(Step::Blocked(0)));
        assert_eq!((a.state() & SIGNALED, s.state()), (1, 0), "nothing consumed");
        assert_eq!((a.lock_holder(), s.lock_holder()), (0, 0), "nothing left locked");
        done(s.release_semaphore(1, 1).unwrap());
        assert_eq!(try_take_all(&slots, &[1, 0], ME, &mut seen), Ok(Step::Done(None)));
        assert_eq!((a.state() & SIGNALED, s.state()), (0, 0), "both consumed");
    }

    #[test]
    fn wait_all_reports_the_lowest_abandoned_index_and_owns_the_mutexes() {
        let e = Slot::new(event_state(true), 0);
        let m1 = Slot::new(ABANDONED, 0);
        let m2 = Slot::new(ABANDONED, 0);
        let slots = [(&e, MANUAL), (&m1, Shape::Mutex), (&m2, Shape::Mutex)];
        let mut seen = [0; 3];
        assert_eq!(try_take_all(&slots, &[0, 1, 2], ME, &mut seen), Ok(Step::Done(Some(1))));
        assert_eq!((mutex_owner(m1.state()), mutex_owner(m2.state())), (Some(ME), Some(ME)));
    }

    #[test]
    fn a_locked_word_makes_single_operations_retry_and_a_dead_holder_is_unlocked() {
        let e = Slot::new(event_state(false), 0);
        e.word.store(join(0, OTHER), SeqCst);
        assert_eq!(e.set(), Step::Locked);
        assert_eq!(e.try_take(AUTO, ME, None), Ok(Step::Locked));
        let slots = [(&e, AUTO)];
        assert_eq!(try_take_all(&slots, &[0], ME, &mut [0]), Ok(Step::Locked));
        assert!(!e.unlock_if(|t| t == ME), "only a gone holder's lock is removed");
        assert!(e.unlock_if(|t| t == OTHER));
        assert!(!done(e.set()).previous);
    }

    #[test]
    fn a_change_with_sleepers_asks_for_a_wake() {
        let e = Slot::new(event_state(false), 0);
        assert!(!done(e.set()).wake);
        done(e.reset());
        e.begin_sleep();
        assert!(done(e.set()).wake);
        e.end_sleep();
        e.end_sleep();
        assert_eq!(e.sleepers(), 0, "never below zero");
    }
}
