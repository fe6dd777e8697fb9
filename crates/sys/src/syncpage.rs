//! The shared page of one event, mutex or semaphore, and the futex calls
//! that sleep and wake on it.
//!
//! Each object has a memfd of one page, made by the broker and passed with
//! `SCM_RIGHTS` only to processes that hold a handle to the object. The page
//! holds one [`Slot`]; the state machine lives in
//! [`switchboard_types::syncstate`]. The futexes are shared (not
//! `FUTEX_PRIVATE`), since the waiters are in different processes; the
//! kernel keys them by the page, so every mapping of it meets the same one.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::atomic::AtomicU32;
use std::time::{Duration, Instant};

use rustix::mm::{MapFlags, ProtFlags, mmap, munmap};
use rustix::thread::futex;
use switchboard_types::syncstate::Slot;

/// The bytes of one page (what is mapped).
const PAGE: usize = 4096;

/// Where the state (the low half of the slot's first word) sits in the page.
const STATE_OFFSET: usize = if cfg!(target_endian = "little") { 0 } else { 4 };

const _: () = assert!(std::mem::size_of::<Slot>() <= PAGE && std::mem::align_of::<Slot>() <= PAGE);

/// One object's mapped page.
#[derive(Debug)]
pub struct SyncPage {
    base: NonNull<u8>,
    /// The memfd's inode: one object's identity, whichever broker made it.
    id: u64,
    /// Mapped writable (else only the state may be read).
    writable: bool,
}

// SAFETY: the mapping is shared memory reached only through the atomics of
// `Slot`, so any thread may use it; it is unmapped once, in Drop.
#[allow(unsafe_code)]
unsafe impl Send for SyncPage {}
// SAFETY: as above: every access is an atomic operation.
#[allow(unsafe_code)]
unsafe impl Sync for SyncPage {}

/// How a sleep ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Woke {
    /// Woken, interrupted, or the state had already changed: look again.
    Retry,
    /// The deadline passed.
    TimedOut,
}

impl SyncPage {
    /// Creates a zeroed page, returning it and the descriptor to pass on.
    pub fn create(name: &str) -> io::Result<(Self, OwnedFd)> {
        // Sealed: nobody may shrink the file under a mapping (SIGBUS) or
        // add a seal that refuses everyone else's mappings.
        let fd = crate::shm::memory_file(name, PAGE as u64)?;
        let page = Self::map(&fd)?;
        Ok((page, fd))
    }

    /// Maps a page made by [`SyncPage::create`]. The descriptor comes from
    /// the broker; one that is too small, or could shrink, is refused.
    pub fn map(fd: &impl AsFd) -> io::Result<Self> {
        Self::map_with(fd, ProtFlags::READ | ProtFlags::WRITE)
    }

    /// Maps a page read-only, for a handle that may wait on the object but
    /// not change it: the state can be read and slept on (a futex wait only
    /// reads), and every change goes through the broker. Calling a
    /// [`Slot`] method that writes on such a page faults: the callers keep
    /// to [`Slot::state`], [`Slot::generation`] and the sleeps.
    pub fn map_read_only(fd: &impl AsFd) -> io::Result<Self> {
        Self::map_with(fd, ProtFlags::READ)
    }

    fn map_with(fd: &impl AsFd, prot: ProtFlags) -> io::Result<Self> {
        let stat = rustix::fs::fstat(fd)?;
        let (size, id) = (stat.st_size, stat.st_ino);
        if u64::try_from(size).unwrap_or(0) < PAGE as u64 || !crate::shm::is_sealed(fd) {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "not an object's shared page"));
        }
        // SAFETY: a new shared mapping of one page of a file at least that long
        // that cannot shrink; the kernel picks the address, so nothing else is
        // overlapped.
        #[allow(unsafe_code)]
        let ptr = unsafe { mmap(std::ptr::null_mut(), PAGE, prot, MapFlags::SHARED, fd, 0)? };
        let base = NonNull::new(ptr.cast::<u8>()).ok_or_else(|| io::Error::other("mmap returned null"))?;
        Ok(Self { base, id, writable: prot.contains(ProtFlags::WRITE) })
    }

    /// Whether the page is mapped writable.
    pub fn is_writable(&self) -> bool {
        self.writable
    }

    /// The object's identity (its page's inode): the same for every mapping
    /// of it, different for every other object, whichever broker made it.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The object's state.
    pub fn slot(&self) -> &Slot {
        // SAFETY: the mapping is page-aligned (so aligned for Slot), at least
        // size_of::<Slot>() long, lives until Drop, and Slot is made only of
        // atomics, for which every bit pattern is valid and shared mutation
        // through `&` is allowed.
        #[allow(unsafe_code, clippy::cast_ptr_alignment)]
        unsafe {
            &*self.base.as_ptr().cast::<Slot>()
        }
    }

    /// The futex word: the state half of the slot's first word.
    fn futex(&self) -> &AtomicU32 {
        // SAFETY: STATE_OFFSET is 0 or 4 in a page-aligned mapping, so the
        // address is aligned for AtomicU32 and inside the page. This view is
        // handed only to the kernel's futex calls (which read it as a u32);
        // Rust code reaches the word only through Slot's AtomicU64, so no
        // mixed-size access happens in Rust.
        #[allow(unsafe_code, clippy::cast_ptr_alignment)]
        unsafe {
            &*self.base.as_ptr().add(STATE_OFFSET).cast::<AtomicU32>()
        }
    }

    /// Wakes every thread asleep on this object, in any process.
    pub fn wake_all(&self) {
        // Cannot fail on a valid address; a failure would only mean nobody woke.
        let _ = futex::wake(self.futex(), futex::Flags::empty(), i32::MAX as u32);
    }

    /// Sleeps while the state is `seen`, until woken or `deadline`.
    pub fn sleep(&self, seen: u32, deadline: Option<Instant>) -> io::Result<Woke> {
        let timeout = match remaining(deadline) {
            Some(None) => return Ok(Woke::TimedOut),
            Some(Some(left)) => Some(timespec(left)),
            None => None,
        };
        match futex::wait(self.futex(), futex::Flags::empty(), seen, timeout.as_ref()) {
            Ok(()) | Err(rustix::io::Errno::AGAIN | rustix::io::Errno::INTR) => Ok(Woke::Retry),
            Err(rustix::io::Errno::TIMEDOUT) => Ok(Woke::TimedOut),
            Err(e) => Err(e.into()),
        }
    }
}

/// Sleeps while every page's state is its `seen` value, until one changes
/// (or is woken) or `deadline` passes (`futex_waitv`, wait-any).
pub fn sleep_any(pages: &[&SyncPage], seen: &[u32], deadline: Option<Instant>) -> io::Result<Woke> {
    if pages.len() == 1 {
        return pages[0].sleep(seen[0], deadline);
    }
    let mut waits = [futex::Wait::new(); 64];
    if pages.len() > waits.len() || seen.len() < pages.len() {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "at most 64 objects"));
    }
    for ((wait, page), &value) in waits.iter_mut().zip(pages).zip(seen) {
        wait.val = u64::from(value);
        wait.uaddr = futex::WaitPtr::new(page.futex().as_ptr().cast());
        wait.flags = futex::WaitFlags::SIZE_U32;
    }
    // futex_waitv takes an absolute deadline on the clock it is given.
    let absolute = match remaining(deadline) {
        Some(None) => return Ok(Woke::TimedOut),
        Some(Some(left)) => {
            let now = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
            let now = Duration::new(now.tv_sec.cast_unsigned(), u32::try_from(now.tv_nsec).unwrap_or(0));
            Some(timespec(now.saturating_add(left)))
        }
        None => None,
    };
    match futex::waitv(&waits[..pages.len()], futex::WaitvFlags::empty(), absolute.as_ref(), futex::ClockId::Monotonic)
    {
        Ok(_) | Err(rustix::io::Errno::AGAIN | rustix::io::Errno::INTR) => Ok(Woke::Retry),
        Err(rustix::io::Errno::TIMEDOUT) => Ok(Woke::TimedOut),
        // Before Linux 5.16: sleep on the first word a millisecond at a
        // time, and let the caller look at all of them again.
        Err(rustix::io::Errno::NOSYS) => {
            let soon = Instant::now() + Duration::from_millis(1);
            pages[0].sleep(seen[0], Some(deadline.map_or(soon, |d| d.min(soon)))).map(|_| Woke::Retry)
        }
        Err(e) => Err(e.into()),
    }
}

/// `None`: no deadline; `Some(None)`: it has passed; else what is left.
#[allow(clippy::option_option)]
fn remaining(deadline: Option<Instant>) -> Option<Option<Duration>> {
    deadline.map(|d| d.checked_duration_since(Instant::now()).filter(|left| !left.is_zero()))
}

fn timespec(d: Duration) -> futex::Timespec {
    futex::Timespec { tv_sec: i64::try_from(d.as_secs()).unwrap_or(i64::MAX), tv_nsec: i64::from(d.subsec_nanos()) }
}

/// A bare spin-then-futex mailbox between processes: a sequence number that
/// the sender advances and the receiver waits past, spinning for a moment
/// before it sleeps. Not used by the library: it is the baseline that the
/// benchmark measures events against, in the same run, and exists only with
/// the `bench-mailbox` feature (it is `unsafe` code, so it lives here). Two
/// boxes share one page, on separate cache lines.
#[cfg(feature = "bench-mailbox")]
#[derive(Debug)]
pub struct Mailbox {
    page: SyncPage,
}

#[cfg(feature = "bench-mailbox")]
impl Mailbox {
    /// Creates the page, returning it and the descriptor for the peer.
    pub fn create() -> io::Result<(Self, OwnedFd)> {
        let (page, fd) = SyncPage::create("switchboard-mailbox")?;
        Ok((Self { page }, fd))
    }

    /// Maps a page made by [`Mailbox::create`].
    pub fn map(fd: &impl AsFd) -> io::Result<Self> {
        SyncPage::map(fd).map(|page| Self { page })
    }

    /// Box `index` (0 or 1): its sequence word and its sleeper count.
    fn words(&self, index: usize) -> (&AtomicU32, &AtomicU32) {
        let at = (index & 1) * 64;
        // SAFETY: offsets 0/4 and 64/68 are aligned for AtomicU32 and inside
        // the page-aligned mapping, which lives as long as `self`. A mailbox
        // page is only ever reached through these AtomicU32 views (never as a
        // Slot), so no mixed-size access happens.
        #[allow(unsafe_code, clippy::cast_ptr_alignment)]
        unsafe {
            let base = self.page.base.as_ptr().add(at);
            (&*base.cast::<AtomicU32>(), &*base.add(4).cast::<AtomicU32>())
        }
    }

    /// Advances box `index` and wakes its receiver if it sleeps.
    pub fn post(&self, index: usize) {
        use std::sync::atomic::Ordering::SeqCst;
        let (seq, sleepers) = self.words(index);
        seq.fetch_add(1, SeqCst);
        if sleepers.load(SeqCst) > 0 {
            let _ = futex::wake(seq, futex::Flags::empty(), i32::MAX as u32);
        }
    }

    /// Waits until box `index` moves past `seen`, spinning for `spin` first;
    /// returns the new value.
    pub fn wait_past(&self, index: usize, seen: u32, spin: Duration) -> u32 {
        use std::sync::atomic::Ordering::SeqCst;
        let (seq, sleepers) = self.words(index);
        let until = Instant::now() + spin;
        while Instant::now() < until {
            for _ in 0..32 {
                std::hint::spin_loop();
            }
            let now = seq.load(SeqCst);
            if now != seen {
                return now;
            }
        }
        sleepers.fetch_add(1, SeqCst);
        let mut now = seq.load(SeqCst);
        while now == seen {
            let _ = futex::wait(seq, futex::Flags::empty(), seen, None);
            now = seq.load(SeqCst);
        }
        sleepers.fetch_sub(1, SeqCst);
        now
    }

    /// The value of box `index` now.
    pub fn value(&self, index: usize) -> u32 {
        self.words(index).0.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Drop for SyncPage {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in `map`; `&self` borrows
        // (the only way to reach the slot) have ended.
        #[allow(unsafe_code)]
        let _ = unsafe { munmap(self.base.as_ptr().cast(), PAGE) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustix::fs::{MemfdFlags, memfd_create};
    use switchboard_types::syncstate::{Shape, Step, event_state};

    #[test]
    fn two_mappings_share_the_state_and_a_set_wakes_a_sleeper() {
        let (a, fd) = SyncPage::create("test").unwrap();
        let b = SyncPage::map(&fd).unwrap();
        a.slot().init(event_state(false), 0);
        let sleeper = std::thread::spawn(move || {
            let auto = Shape::Event { manual_reset: false };
            loop {
                match b.slot().try_take(auto, 1, None).unwrap() {
                    Step::Done(_) => return,
                    Step::Blocked(seen) => {
                        b.slot().begin_sleep();
                        if let Step::Blocked(_) = b.slot().try_take(auto, 1, None).unwrap() {
                            assert_eq!(b.sleep(seen, None).unwrap(), Woke::Retry);
                        }
                        b.slot().end_sleep();
                    }
                    Step::Locked => std::thread::yield_now(),
                }
            }
        });
        while a.slot().sleepers() == 0 && !sleeper.is_finished() {
            std::thread::yield_now();
        }
        if let Step::Done(changed) = a.slot().set()
            && changed.wake
        {
            a.wake_all();
        }
        sleeper.join().unwrap();
        assert_eq!(a.slot().state() & 1, 0, "the sleeper took the signal");
    }

    #[test]
    fn sleeps_end_at_their_deadline() {
        let (a, fd) = SyncPage::create("deadline").unwrap();
        let b = SyncPage::map(&fd).unwrap();
        let deadline = Instant::now() + Duration::from_millis(30);
        while a.sleep(0, Some(deadline)).unwrap() == Woke::Retry {}
        assert!(Instant::now() >= deadline);
        let deadline = Instant::now() + Duration::from_millis(30);
        while sleep_any(&[&a, &b], &[0, 0], Some(deadline)).unwrap() == Woke::Retry {}
        assert!(Instant::now() >= deadline);
    }

    #[test]
    fn a_file_that_is_not_a_sealed_page_is_refused() {
        let fd = memfd_create("plain", MemfdFlags::CLOEXEC).unwrap();
        rustix::fs::ftruncate(&fd, 4096).unwrap();
        assert!(SyncPage::map(&fd).is_err());
    }
}
