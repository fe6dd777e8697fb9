//! Waits, sets and releases done in this process, on the shared pages of
//! events, mutexes and semaphores.
//!
//! The broker hands out each object's page once per handle
//! ([`OwnedHandle::shared`]); after that an uncontended wait, set or
//! release is a compare-and-swap on the page and makes no system call.
//! A wait that must sleep counts itself in and sleeps on the futex word
//! (`futex_waitv` for several objects); whoever changes the state wakes the
//! sleepers when there are any. The transitions themselves, and why they
//! are safe, are in [`switchboard_types::syncstate`].
//!
//! Mutexes belong to threads, named by their kernel thread id. Before a
//! thread can own a mutex (or lock objects in a wait-all) it announces
//! itself to the broker on that connection, once, so that the broker can
//! abandon what it owns if the process dies. A thread that ends holding
//! mutexes abandons them itself, from a thread-local destructor.

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex as StdMutex, OnceLock, Weak};
use std::time::{Duration, Instant};

use switchboard_proto as p;
use switchboard_sys::syncpage::{self, SyncPage, Woke};
use switchboard_types::AccessMask;
use switchboard_types::access::event::EVENT_MODIFY_STATE;
use switchboard_types::access::semaphore::SEMAPHORE_MODIFY_STATE;
use switchboard_types::access::standard::SYNCHRONIZE;
use switchboard_types::syncstate::{self, Changed, Refused, Shape, Slot, Step, Taken};

mod brokered;

use crate::connection::Connection;
use crate::error::{Error, ErrorKind, Result, Win32Error};
use crate::handle::{OwnedHandle, WaitResult};

/// The most objects one wait may name (`MAXIMUM_WAIT_OBJECTS`).
pub const MAXIMUM_WAIT_OBJECTS: usize = 64;
/// How long a set or release waits for a wait-all's lock to go away before
/// reporting the object as stuck (a lock is normally held for nanoseconds;
/// one held this long belongs to a process that wrote nonsense or is frozen).
const LOCK_PATIENCE: Duration = Duration::from_secs(2);
/// The longest a wait keeps looking before it sleeps: a handoff between two
/// running processes takes well under this, and a futex sleep and wake cost
/// several microseconds each.
pub(crate) const SPIN_FOR: Duration = Duration::from_micros(20);
/// The shortest spin an object's budget falls to, so that a pattern that
/// changes (the peer moves to another CPU) is noticed again.
const SPIN_FLOOR_NS: u32 = 500;

/// One handle's view of its object: the page (when the handle may use it)
/// and what the broker said about it.
#[derive(Debug)]
pub(crate) struct Shared {
    page: Option<SyncPage>,
    shape: Shape,
    access: AccessMask,
    /// How long waits on this object spin before sleeping, in ns: halved
    /// each time a spin ends in sleep anyway, doubled when it pays off (see
    /// [`spin`]). Private to this process.
    spin_ns: AtomicU32,
}

impl Shared {
    /// Asks the broker for a handle's page.
    pub(crate) fn fetch(handle: &OwnedHandle, op: &'static str) -> Result<Arc<Shared>> {
        let (mapped, fds) = handle.connection().call_with_fds(
            p::MapSync { handle: handle.raw() },
            op,
            handle.name(),
            Some(crate::DEFAULT_REQUEST_TIMEOUT),
        )?;
        let page = match (mapped.mapped, fds.into_iter().next()) {
            (false, _) => None,
            (true, Some(fd)) => Some(map_page(&fd, mapped.writable).map_err(|e| {
                Error::new(ErrorKind::Protocol, Win32Error::ERROR_INVALID_DATA, op, handle.name(), e.to_string())
            })?),
            (true, None) => {
                return Err(Error::new(
                    ErrorKind::Protocol,
                    Win32Error::ERROR_INVALID_DATA,
                    op,
                    handle.name(),
                    "the broker sent no shared page",
                ));
            }
        };
        let shared = Arc::new(Shared {
            page,
            shape: mapped.shape,
            access: mapped.access,
            spin_ns: AtomicU32::new(initial_spin_ns()),
        });
        if shared.shape == Shape::Mutex && shared.page.as_ref().is_some_and(SyncPage::is_writable) {
            remember_mutex(&shared);
        }
        Ok(shared)
    }

    /// The page, if the handle has `right` (else `ERROR_ACCESS_DENIED`).
    /// A right to change the object comes with a writable page; `SYNCHRONIZE`
    /// alone with a read-only one.
    fn page_with(
        &self,
        right: AccessMask,
        right_name: &str,
        op: &'static str,
        name: Option<&str>,
    ) -> Result<&SyncPage> {
        match &self.page {
            Some(page) if self.access.contains(right) && (right == SYNCHRONIZE || page.is_writable()) => Ok(page),
            _ => Err(Error::new(
                ErrorKind::Refused,
                Win32Error::ERROR_ACCESS_DENIED,
                op,
                name,
                format!("the handle lacks {right_name}"),
            )),
        }
    }
}

fn map_page(fd: &std::os::fd::OwnedFd, writable: bool) -> std::io::Result<SyncPage> {
    if writable { SyncPage::map(fd) } else { SyncPage::map_read_only(fd) }
}

// ---- threads ----

/// This thread, as mutexes and the broker know it.
struct ThisThread {
    tid: u32,
    /// Connections this thread announced itself on.
    announced: RefCell<Vec<Connection>>,
}

impl Drop for ThisThread {
    fn drop(&mut self) {
        abandon_owned_by(self.tid);
        // The broker abandons what this thread still owns through handles
        // the process no longer has, and forgets it. The answer is awaited:
        // until it comes, this thread's id cannot be given to a new thread
        // whose mutexes the broker would then take for these.
        for conn in self.announced.borrow().iter() {
            let _ =
                conn.call_for(p::ThreadExited { thread: self.tid }, "ThreadExit", None, Some(Duration::from_secs(5)));
        }
    }
}

thread_local! {
    static THIS: ThisThread = ThisThread { tid: gettid(), announced: RefCell::new(Vec::new()) };
    static TID: Cell<u32> = const { Cell::new(0) };
}

fn gettid() -> u32 {
    rustix::thread::gettid().as_raw_nonzero().get().cast_unsigned()
}

/// The calling thread's id (cached: `gettid` is a system call).
pub(crate) fn me() -> u32 {
    TID.with(|t| {
        if t.get() == 0 {
            t.set(gettid());
        }
        t.get()
    })
}

/// Announces this thread on `conn` (once), before it may own a mutex or
/// hold a wait-all lock there. The answer is awaited: the broker checks that
/// the thread is one of this process's while it surely still runs.
pub(crate) fn announce(conn: &Connection) {
    let _ = THIS.try_with(|this| {
        let known = this.announced.borrow().iter().any(|c| c.same_as(conn));
        if !known {
            // A refusal (a full table) only means the broker could not
            // abandon this thread's mutexes if the process died.
            let _ = conn.call(p::ThreadStarted { thread: this.tid }, "ThreadStart", None);
            this.announced.borrow_mut().push(conn.clone());
        }
    });
}

/// Every mutex page this process maps, for abandonment at thread exit.
static MUTEXES: OnceLock<StdMutex<Vec<Weak<Shared>>>> = OnceLock::new();

fn mutexes() -> std::sync::MutexGuard<'static, Vec<Weak<Shared>>> {
    MUTEXES.get_or_init(StdMutex::default).lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn remember_mutex(shared: &Arc<Shared>) {
    let mut list = mutexes();
    if list.len() >= 64 && list.len().is_power_of_two() {
        list.retain(|w| w.strong_count() > 0);
    }
    list.push(Arc::downgrade(shared));
}

/// A thread is ending: the mutexes it owns are abandoned, and their
/// sleepers woken.
fn abandon_owned_by(tid: u32) {
    let live: Vec<Arc<Shared>> = mutexes().iter().filter_map(Weak::upgrade).collect();
    for shared in live {
        let Some(page) = &shared.page else { continue };
        let started = Instant::now();
        let mut round = 0;
        loop {
            match page.slot().abandon_if(|owner| owner == tid) {
                Step::Done(changed) => {
                    if changed.wake {
                        page.wake_all();
                    }
                    break;
                }
                Step::Locked if started.elapsed() < LOCK_PATIENCE => {
                    backoff(round);
                    round += 1;
                }
                Step::Locked | Step::Blocked(_) => break,
            }
        }
    }
}

// ---- operations ----

/// Spins briefly, then yields: the lock of a wait-all lasts nanoseconds.
/// Past the first thousand rounds it sleeps a little, so a lock left by a
/// frozen or hostile process does not burn a CPU.
fn backoff(round: u32) {
    if round < 16 {
        std::hint::spin_loop();
    } else if round < 1000 {
        std::thread::yield_now();
    } else {
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// Runs a non-blocking transition, retrying while a wait-all holds the word.
fn settle<T>(
    slot: &Slot,
    op: &'static str,
    name: Option<&str>,
    mut f: impl FnMut(&Slot) -> std::result::Result<Step<T>, Refused>,
) -> Result<std::result::Result<T, Refused>> {
    let started = Instant::now();
    let mut round = 0;
    loop {
        match f(slot) {
            Ok(Step::Done(t)) => return Ok(Ok(t)),
            Err(refused) => return Ok(Err(refused)),
            Ok(Step::Blocked(_)) => unreachable!("set and release never block"),
            Ok(Step::Locked) if started.elapsed() < LOCK_PATIENCE => {
                backoff(round);
                round += 1;
            }
            Ok(Step::Locked) => {
                return Err(Error::new(
                    ErrorKind::Refused,
                    Win32Error::ERROR_BUSY,
                    op,
                    name,
                    format!(
                        "the object's shared state has stayed locked by thread {} for {LOCK_PATIENCE:?}",
                        slot.lock_holder()
                    ),
                ));
            }
        }
    }
}

fn woke<T>(page: &SyncPage, changed: Changed<T>) -> T {
    if changed.wake {
        page.wake_all();
    }
    changed.previous
}

/// The three event operations.
#[derive(Clone, Copy, Debug)]
pub(crate) enum EventAction {
    Set,
    Reset,
    Pulse,
}

/// `SetEvent`, `ResetEvent`, `PulseEvent`: the previous state.
pub(crate) fn event(handle: &OwnedHandle, action: EventAction, op: &'static str) -> Result<bool> {
    let shared = handle.shared(op)?;
    let Shape::Event { manual_reset } = shared.shape else {
        return Err(not_a(handle, op, "an event"));
    };
    let page = shared.page_with(EVENT_MODIFY_STATE, "EVENT_MODIFY_STATE", op, handle.name())?;
    let done = settle(page.slot(), op, handle.name(), |slot| {
        Ok(match action {
            EventAction::Set => slot.set(),
            EventAction::Pulse => slot.pulse(manual_reset),
            EventAction::Reset => slot.reset().map(|previous| Changed { previous, wake: false }),
        })
    })?;
    Ok(woke(page, done.unwrap_or_else(|_| unreachable!("events refuse nothing"))))
}

/// `ReleaseMutex` by the calling thread.
pub(crate) fn release_mutex(handle: &OwnedHandle, op: &'static str) -> Result<()> {
    let shared = handle.shared(op)?;
    if shared.shape != Shape::Mutex {
        return Err(not_a(handle, op, "a mutex"));
    }
    let Some(page) = shared.page.as_ref().filter(|p| p.is_writable()) else {
        // ReleaseMutex needs no right but ownership: a handle that may only
        // wait took the mutex through the broker, and releases it there.
        return brokered::release_mutex(handle, op);
    };
    let me = me();
    match settle(page.slot(), op, handle.name(), |slot| slot.release_mutex(me))? {
        Ok(changed) => {
            woke(page, changed);
            Ok(())
        }
        Err(_) => Err(Error::new(
            ErrorKind::Refused,
            Win32Error::ERROR_NOT_OWNER,
            op,
            handle.name(),
            format!("thread {me} does not own the mutex"),
        )),
    }
}

/// `ReleaseSemaphore(count)`: the previous count.
pub(crate) fn release_semaphore(handle: &OwnedHandle, count: i32, op: &'static str) -> Result<i32> {
    let shared = handle.shared(op)?;
    let Shape::Semaphore { maximum } = shared.shape else {
        return Err(not_a(handle, op, "a semaphore"));
    };
    let page = shared.page_with(SEMAPHORE_MODIFY_STATE, "SEMAPHORE_MODIFY_STATE", op, handle.name())?;
    let Some(count) = u32::try_from(count).ok().filter(|&c| c > 0) else {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            Win32Error::ERROR_INVALID_PARAMETER,
            op,
            handle.name(),
            format!("the release count must be positive, not {count}"),
        ));
    };
    match settle(page.slot(), op, handle.name(), |slot| slot.release_semaphore(count, maximum))? {
        Ok(changed) => Ok(woke(page, changed).cast_signed()),
        Err(Refused::TooManyPosts(previous)) => Err(Error::new(
            ErrorKind::Refused,
            Win32Error::ERROR_TOO_MANY_POSTS,
            op,
            handle.name(),
            format!("count {previous} + {count} would pass the maximum {maximum}"),
        )),
        Err(other) => unreachable!("a semaphore release refuses only past the maximum: {other:?}"),
    }
}

/// Signals whatever the object is: sets an event, releases a mutex, or
/// releases a semaphore by one.
pub(crate) fn signal(handle: &OwnedHandle, op: &'static str) -> Result<()> {
    match handle.shared(op)?.shape {
        Shape::Event { .. } => event(handle, EventAction::Set, op).map(drop),
        Shape::Mutex => release_mutex(handle, op),
        Shape::Semaphore { .. } => release_semaphore(handle, 1, op).map(drop),
    }
}

fn not_a(handle: &OwnedHandle, op: &'static str, what: &str) -> Error {
    Error::new(
        ErrorKind::Refused,
        Win32Error::ERROR_INVALID_HANDLE,
        op,
        handle.name(),
        format!("handle {} is not {what}", handle.raw()),
    )
}

/// Fails unless the handle may be waited on.
pub(crate) fn check_waitable(handle: &OwnedHandle, op: &'static str) -> Result<()> {
    handle.shared(op)?.page_with(SYNCHRONIZE, "SYNCHRONIZE", op, handle.name()).map(drop)
}

/// `WaitForSingleObject` / `WaitForMultipleObjects`.
pub(crate) fn wait(
    handles: &[&OwnedHandle],
    wait_all: bool,
    timeout: Option<Duration>,
    op: &'static str,
    name: Option<&str>,
) -> Result<WaitResult> {
    if handles.is_empty() || handles.len() > MAXIMUM_WAIT_OBJECTS {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            Win32Error::ERROR_INVALID_PARAMETER,
            op,
            name,
            format!("{} handles given; between 1 and {MAXIMUM_WAIT_OBJECTS} are allowed", handles.len()),
        ));
    }
    if let [handle] = handles
        && let Some(result) = take_at_once(handle, op, name)?
    {
        return Ok(result);
    }
    let mut shared = Vec::with_capacity(handles.len());
    for handle in handles {
        let s = handle.shared(op)?;
        s.page_with(SYNCHRONIZE, "SYNCHRONIZE", op, handle.name().or(name))?;
        shared.push(s);
    }
    if shared.iter().any(|s| s.page.as_ref().is_some_and(|p| !p.is_writable())) {
        return brokered::wait(handles, &shared, wait_all, timeout, op, name);
    }
    let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
    LocalWait::new(handles, &shared, wait_all, op, name)?.run(deadline)
}

/// A wait made in this process, on pages it may write.
struct LocalWait<'a> {
    /// The first object's, whose spin budget the wait uses.
    spin_ns: &'a AtomicU32,
    pages: Vec<&'a SyncPage>,
    slots: Vec<(&'a Slot, Shape)>,
    /// Wait-all locks objects in this order (by page identity).
    order: Vec<usize>,
    /// Per object, for a wait-any on a manual-reset event: the generation
    /// when the wait began (a set since then ends the wait).
    since: Vec<Option<u32>>,
    wait_all: bool,
    me: u32,
    op: &'static str,
    name: Option<&'a str>,
}

impl<'a> LocalWait<'a> {
    fn new(
        handles: &[&OwnedHandle],
        shared: &'a [&'a Arc<Shared>],
        wait_all: bool,
        op: &'static str,
        name: Option<&'a str>,
    ) -> Result<Self> {
        let pages: Vec<&SyncPage> = shared.iter().filter_map(|s| s.page.as_ref()).collect();
        let slots: Vec<(&Slot, Shape)> = shared.iter().zip(&pages).map(|(s, page)| (page.slot(), s.shape)).collect();
        // Objects are known by their pages' identity (unique across brokers);
        // wait-all locks them in that order.
        let ids: Vec<u64> = pages.iter().map(|p| p.id()).collect();
        let mut order: Vec<usize> = (0..shared.len()).collect();
        order.sort_by_key(|&i| ids[i]);
        if wait_all && order.windows(2).any(|w| ids[w[0]] == ids[w[1]]) {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                Win32Error::ERROR_INVALID_PARAMETER,
                op,
                name,
                "wait-all names the same object twice",
            ));
        }
        if wait_all || shared.iter().any(|s| s.shape == Shape::Mutex) {
            for handle in handles {
                announce(handle.connection());
            }
        }
        // A manual-reset event set (or pulsed) at any moment of a wait-any ends it.
        let since = slots
            .iter()
            .map(|(slot, shape)| {
                (!wait_all && *shape == Shape::Event { manual_reset: true }).then(|| slot.generation())
            })
            .collect();
        Ok(Self { spin_ns: &shared[0].spin_ns, pages, slots, order, since, wait_all, me: me(), op, name })
    }

    /// One attempt to take the objects; `seen` gets their states when blocked.
    fn attempt(&self, seen: &mut [u32]) -> Result<Step<WaitResult>> {
        let step = if self.wait_all {
            syncstate::try_take_all(&self.slots, &self.order, self.me, seen)
                .map(|s| s.map(|abandoned| abandoned.map_or(WaitResult::Signaled(0), WaitResult::Abandoned)))
        } else {
            try_any(&self.slots, self.me, &self.since, seen)
        };
        step.map_err(|_| {
            Error::new(
                ErrorKind::Refused,
                Win32Error::ERROR_SIGNAL_REFUSED,
                self.op,
                self.name,
                format!("the thread already holds the mutex {} times", syncstate::MAX_RECURSION),
            )
        })
    }

    /// Counts in, looks once more, then sleeps on what was seen (at most
    /// [`RECHECK`]); `Some` when that last look took the objects.
    fn sleep(&self, seen: &mut [u32], deadline: Option<Instant>) -> Result<Option<WaitResult>> {
        for (slot, _) in &self.slots {
            slot.begin_sleep();
        }
        let last = self.attempt(seen);
        let slept = match last {
            Ok(Step::Blocked(_)) => {
                Some(syncpage::sleep_any(&self.pages, &seen[..self.pages.len()], Some(recheck_by(deadline))))
            }
            _ => None,
        };
        for (slot, _) in &self.slots {
            slot.end_sleep();
        }
        match (last?, slept) {
            (Step::Done(result), _) => Ok(Some(result)),
            (_, Some(Err(e))) => {
                Err(Error::new(ErrorKind::Refused, Win32Error::ERROR_INVALID_HANDLE, self.op, self.name, e.to_string()))
            }
            (_, Some(Ok(Woke::Retry | Woke::TimedOut)) | None) => Ok(None),
        }
    }

    /// Tries, spins, sleeps and tries again until taken or `deadline`.
    fn run(&self, deadline: Option<Instant>) -> Result<WaitResult> {
        let mut seen = [0u32; MAXIMUM_WAIT_OBJECTS];
        let mut round = 0;
        let mut locked_since: Option<Instant> = None;
        loop {
            match self.attempt(&mut seen)? {
                Step::Done(result) => return Ok(result),
                Step::Locked => {
                    if let Some(ended) = on_locked(&mut round, &mut locked_since, deadline, self.op, self.name)? {
                        return Ok(ended);
                    }
                    continue;
                }
                Step::Blocked(_) => locked_since = None,
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(WaitResult::TimedOut);
            }
            match spin(self.spin_ns, &mut || self.attempt(&mut seen), deadline)? {
                Some(Step::Done(result)) => return Ok(result),
                Some(_) => continue,
                None => {}
            }
            if let Some(result) = self.sleep(&mut seen, deadline)? {
                return Ok(result);
            }
            round = 0;
        }
    }
}

/// A wait-all holds an object for nanoseconds: keep trying (even a zero
/// timeout must not miss a signaled object for that), but give up on a lock
/// that never goes away. `Some` ends the wait.
fn on_locked(
    round: &mut u32,
    locked_since: &mut Option<Instant>,
    deadline: Option<Instant>,
    op: &'static str,
    name: Option<&str>,
) -> Result<Option<WaitResult>> {
    let since = *locked_since.get_or_insert_with(Instant::now);
    if *round >= 1000 && deadline.is_some_and(|d| Instant::now() >= d) {
        return Ok(Some(WaitResult::TimedOut));
    }
    if since.elapsed() >= LOCK_PATIENCE {
        return Err(Error::new(
            ErrorKind::Refused,
            Win32Error::ERROR_BUSY,
            op,
            name,
            format!("an object's shared state has stayed locked for {LOCK_PATIENCE:?}"),
        ));
    }
    backoff(*round);
    *round += 1;
    Ok(None)
}

/// The longest one sleep of a wait lasts before it looks at its objects
/// again, whatever its deadline: a process that damaged a page (erased the
/// sleeper count, or left a lock without waking anyone) can delay a wait
/// by this much, never strand it.
pub(crate) const RECHECK: Duration = Duration::from_millis(50);

/// The end of the next sleep: the wait's deadline or [`RECHECK`] from now.
pub(crate) fn recheck_by(deadline: Option<Instant>) -> Instant {
    let soon = Instant::now() + RECHECK;
    deadline.map_or(soon, |d| d.min(soon))
}

/// One object, free to take: taken with no allocation and no system call.
fn take_at_once(handle: &OwnedHandle, op: &'static str, name: Option<&str>) -> Result<Option<WaitResult>> {
    let s = handle.shared(op)?;
    let page = s.page_with(SYNCHRONIZE, "SYNCHRONIZE", op, handle.name().or(name))?;
    if !page.is_writable() {
        return Ok(None);
    }
    if s.shape == Shape::Mutex {
        announce(handle.connection());
    }
    Ok(match page.slot().try_take(s.shape, me(), None) {
        Ok(Step::Done(Taken::Normal)) => Some(WaitResult::Signaled(0)),
        Ok(Step::Done(Taken::Abandoned)) => Some(WaitResult::Abandoned(0)),
        _ => None,
    })
}

/// The spin budget a new handle starts with: none when this process may run
/// on one CPU only (the peer cannot run while we spin, so spinning only
/// delays it), else the most.
fn initial_spin_ns() -> u32 {
    static ONE_CPU: OnceLock<bool> = OnceLock::new();
    let one_cpu = *ONE_CPU.get_or_init(|| rustix::thread::sched_getaffinity(None).is_ok_and(|set| set.count() <= 1));
    if one_cpu { 0 } else { SPIN_FOR.as_nanos() as u32 }
}

/// Keeps trying for the object's spin budget (or until the deadline): the
/// object is often about to change, and a handoff between two running
/// processes is far cheaper than a futex sleep and wake. The budget adapts:
/// a spin that ends in sleep anyway halves it (down to a floor: the peer
/// probably shares our CPU, and spinning only delays it), one that finds
/// the object doubles it (up to [`SPIN_FOR`]). `None` if it stayed blocked.
fn spin(
    budget: &AtomicU32,
    attempt: &mut dyn FnMut() -> Result<Step<WaitResult>>,
    deadline: Option<Instant>,
) -> Result<Option<Step<WaitResult>>> {
    let ns = budget.load(Ordering::Relaxed);
    if ns == 0 {
        return Ok(None);
    }
    let until = Instant::now() + Duration::from_nanos(u64::from(ns));
    let until = deadline.map_or(until, |d| d.min(until));
    while Instant::now() < until {
        for _ in 0..32 {
            std::hint::spin_loop();
        }
        match attempt()? {
            Step::Blocked(_) => {}
            other => {
                let most = SPIN_FOR.as_nanos() as u32;
                budget.store(ns.saturating_mul(2).min(most), Ordering::Relaxed);
                return Ok(Some(other));
            }
        }
    }
    budget.store((ns / 2).max(SPIN_FLOOR_NS), Ordering::Relaxed);
    Ok(None)
}

/// One attempt of a wait-any: the lowest index that can be taken wins.
fn try_any(
    slots: &[(&Slot, Shape)],
    me: u32,
    since: &[Option<u32>],
    seen: &mut [u32],
) -> std::result::Result<Step<WaitResult>, Refused> {
    Ok(syncstate::try_take_any(slots, me, since, seen)?.map(|(i, taken)| match taken {
        Taken::Normal => WaitResult::Signaled(i),
        Taken::Abandoned => WaitResult::Abandoned(i),
    }))
}
