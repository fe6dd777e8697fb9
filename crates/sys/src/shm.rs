//! Shared memory: small pages of counters that several processes map.
//!
//! A page is a memfd, created by the broker and passed with `SCM_RIGHTS`.
//! Only 64-bit atomic counters live in it, read and written with atomic
//! operations; a process that writes garbage into its mapping can only make
//! the counts wrong, never make another process misbehave (every reader of a
//! count treats it as a number, nothing more).

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::atomic::AtomicU64;

use rustix::fs::{MemfdFlags, memfd_create};
use rustix::mm::{MapFlags, ProtFlags, mmap, munmap};

/// A mapped page of `u64` counters.
#[derive(Debug)]
pub struct CounterPage {
    base: NonNull<AtomicU64>,
    counters: usize,
}

// SAFETY: the mapping is shared memory accessed only through atomics, so any
// thread may use it; it is unmapped once, in Drop, when no borrow remains.
#[allow(unsafe_code)]
unsafe impl Send for CounterPage {}
// SAFETY: as above: every access is an atomic operation on AtomicU64.
#[allow(unsafe_code)]
unsafe impl Sync for CounterPage {}

impl CounterPage {
    fn len(counters: usize) -> usize {
        counters * std::mem::size_of::<AtomicU64>()
    }

    /// Creates a zeroed page of `counters` counters, returning it and the
    /// descriptor to hand to other processes.
    pub fn create(name: &str, counters: usize) -> io::Result<(Self, OwnedFd)> {
        let fd = memfd_create(name, MemfdFlags::CLOEXEC)?;
        rustix::fs::ftruncate(&fd, Self::len(counters) as u64)?;
        let page = Self::map(&fd, counters)?;
        Ok((page, fd))
    }

    /// Maps a page made by [`CounterPage::create`]. The descriptor may come
    /// from another process: a file too small for `counters` is refused.
    pub fn map(fd: &impl AsFd, counters: usize) -> io::Result<Self> {
        let len = Self::len(counters);
        let size = rustix::fs::fstat(fd)?.st_size;
        if counters == 0 || u64::try_from(size).unwrap_or(0) < len as u64 {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "the shared page is smaller than its counters"));
        }
        // SAFETY: a new shared mapping of `len` bytes of a file at least that
        // long; the kernel picks the address, so nothing else is overlapped.
        #[allow(unsafe_code)]
        let ptr =
            unsafe { mmap(std::ptr::null_mut(), len, ProtFlags::READ | ProtFlags::WRITE, MapFlags::SHARED, fd, 0)? };
        let base = NonNull::new(ptr.cast::<AtomicU64>()).ok_or_else(|| io::Error::other("mmap returned null"))?;
        Ok(Self { base, counters })
    }

    /// Counter `index`.
    ///
    /// # Panics
    ///
    /// If `index` is out of range: a programming error of ours, never input
    /// from outside.
    pub fn counter(&self, index: usize) -> &AtomicU64 {
        assert!(index < self.counters, "counter {index} of a page of {}", self.counters);
        // SAFETY: the mapping is page-aligned (so aligned for AtomicU64), holds
        // `counters` of them, lives until Drop, and AtomicU64 allows shared
        // mutation through `&`.
        #[allow(unsafe_code)]
        unsafe {
            &*self.base.as_ptr().add(index)
        }
    }
}

impl Drop for CounterPage {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in `map`; `&self` borrows
        // (the only way to reach the counters) have ended.
        #[allow(unsafe_code)]
        let _ = unsafe { munmap(self.base.as_ptr().cast(), Self::len(self.counters)) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;

    #[test]
    fn two_mappings_share_their_counters() {
        let (a, fd) = CounterPage::create("test", 2).unwrap();
        let b = CounterPage::map(&fd, 2).unwrap();
        a.counter(0).fetch_add(5, Ordering::SeqCst);
        b.counter(1).fetch_add(7, Ordering::SeqCst);
        assert_eq!(b.counter(0).load(Ordering::SeqCst), 5);
        assert_eq!(a.counter(1).load(Ordering::SeqCst), 7);
    }

    #[test]
    fn a_page_too_small_is_refused() {
        let (_, fd) = CounterPage::create("small", 1).unwrap();
        assert!(CounterPage::map(&fd, 4).is_err());
    }
}
