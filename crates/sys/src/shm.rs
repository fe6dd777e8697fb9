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
    writable: bool,
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
        let fd = memory_file(name, Self::len(counters) as u64)?;
        let page = Self::map(&fd, counters)?;
        Ok((page, fd))
    }

    /// Maps a page made by [`CounterPage::create`]. The descriptor may come
    /// from another process: a file too small for `counters`, or one that
    /// could shrink under the mapping, is refused.
    pub fn map(fd: &impl AsFd, counters: usize) -> io::Result<Self> {
        Self::map_with(fd, counters, ProtFlags::READ | ProtFlags::WRITE)
    }

    /// Maps a page read-only (a holder that may read the counters but not
    /// change them). Only loads may be made on its counters: a store faults.
    pub fn map_read_only(fd: &impl AsFd, counters: usize) -> io::Result<Self> {
        Self::map_with(fd, counters, ProtFlags::READ)
    }

    /// Whether the page is mapped writable.
    pub fn is_writable(&self) -> bool {
        self.writable
    }

    fn map_with(fd: &impl AsFd, counters: usize, prot: ProtFlags) -> io::Result<Self> {
        let len = Self::len(counters);
        let size = rustix::fs::fstat(fd)?.st_size;
        if counters == 0 || u64::try_from(size).unwrap_or(0) < len as u64 {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "the shared page is smaller than its counters"));
        }
        if !is_sealed(fd) {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "the shared page is not sealed against shrinking"));
        }
        // SAFETY: a new shared mapping of `len` bytes of a file at least that
        // long; the kernel picks the address, so nothing else is overlapped.
        #[allow(unsafe_code)]
        let ptr = unsafe { mmap(std::ptr::null_mut(), len, prot, MapFlags::SHARED, fd, 0)? };
        let base = NonNull::new(ptr.cast::<AtomicU64>()).ok_or_else(|| io::Error::other("mmap returned null"))?;
        Ok(Self { base, counters, writable: prot.contains(ProtFlags::WRITE) })
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

/// How a view maps its section.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ViewKind {
    /// Read only, shared.
    Read,
    /// Read and write, shared: every view of the section sees the writes.
    Write,
    /// Copy on write: writes stay private to this view.
    Copy,
}

/// A mapped view of a section (a memfd or a file).
///
/// The bytes are shared with other processes, which may write them at any
/// time, so no Rust reference to them is ever handed out: bytes are copied
/// in and out ([`View::read_at`], [`View::write_at`]), and a raw pointer is
/// available for callers (such as the C ABI) that take on that contract
/// themselves.
#[derive(Debug)]
pub struct View {
    base: NonNull<u8>,
    len: usize,
    writable: bool,
}

// SAFETY: the view is plain memory; its bytes are only reached through
// copies with bounds checks, from any thread.
#[allow(unsafe_code)]
unsafe impl Send for View {}
// SAFETY: as above.
#[allow(unsafe_code)]
unsafe impl Sync for View {}

/// The granularity of view offsets (the page size here; Windows uses 64 KiB).
pub fn allocation_granularity() -> usize {
    rustix::param::page_size()
}

impl View {
    /// Maps `len` bytes of `fd` from `offset`. `offset` must be a multiple
    /// of [`allocation_granularity`]; the caller has checked `offset + len`
    /// against the section's size.
    pub fn map(fd: &impl AsFd, offset: u64, len: usize, kind: ViewKind) -> io::Result<Self> {
        if len == 0 {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "a view needs at least one byte"));
        }
        let (prot, flags) = match kind {
            ViewKind::Read => (ProtFlags::READ, MapFlags::SHARED),
            ViewKind::Write => (ProtFlags::READ | ProtFlags::WRITE, MapFlags::SHARED),
            ViewKind::Copy => (ProtFlags::READ | ProtFlags::WRITE, MapFlags::PRIVATE),
        };
        // SAFETY: a new mapping at an address the kernel picks; it overlaps
        // nothing, and the kernel checks the descriptor's mode against `prot`.
        #[allow(unsafe_code)]
        let ptr = unsafe { mmap(std::ptr::null_mut(), len, prot, flags, fd, offset)? };
        let base = NonNull::new(ptr.cast::<u8>()).ok_or_else(|| io::Error::other("mmap returned null"))?;
        Ok(Self { base, len, writable: kind != ViewKind::Read })
    }

    /// The view's length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the view has no bytes (never: views have at least one).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether writes are allowed.
    pub fn is_writable(&self) -> bool {
        self.writable
    }

    /// The first byte, for callers that manage concurrent access themselves.
    pub fn as_ptr(&self) -> *mut u8 {
        self.base.as_ptr()
    }

    fn check(&self, offset: usize, len: usize) -> io::Result<()> {
        match offset.checked_add(len) {
            Some(end) if end <= self.len => Ok(()),
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("bytes {offset}..+{len} lie outside a view of {} bytes", self.len),
            )),
        }
    }

    /// Copies `buf.len()` bytes from `offset` of the view.
    pub fn read_at(&self, offset: usize, buf: &mut [u8]) -> io::Result<()> {
        self.check(offset, buf.len())?;
        // SAFETY: the range is inside the mapping (checked above) and `buf`
        // is a distinct local buffer; another process may write the source
        // meanwhile, which can only tear the copied data.
        #[allow(unsafe_code)]
        unsafe {
            std::ptr::copy_nonoverlapping(self.base.as_ptr().add(offset), buf.as_mut_ptr(), buf.len());
        }
        Ok(())
    }

    /// Copies `data` to `offset` of the view.
    pub fn write_at(&self, offset: usize, data: &[u8]) -> io::Result<()> {
        if !self.writable {
            return Err(io::Error::new(io::ErrorKind::PermissionDenied, "the view is read-only"));
        }
        self.check(offset, data.len())?;
        // SAFETY: the range is inside a writable mapping (checked above) and
        // `data` is a distinct buffer of ours.
        #[allow(unsafe_code)]
        unsafe {
            std::ptr::copy_nonoverlapping(data.as_ptr(), self.base.as_ptr().add(offset), data.len());
        }
        Ok(())
    }
}

impl Drop for View {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly our mapping; nothing borrows it (only copies
        // and raw pointers ever left it).
        #[allow(unsafe_code)]
        let _ = unsafe { munmap(self.base.as_ptr().cast(), self.len) };
    }
}

/// The seals every memory file we hand out carries: its size is fixed, so
/// no holder can make another process's mapping (or the broker's) fault
/// with `SIGBUS`, and no holder can add a seal (`F_SEAL_FUTURE_WRITE`,
/// `F_SEAL_WRITE`) that would refuse everyone else's writable mappings.
pub const SEALS: rustix::fs::SealFlags =
    rustix::fs::SealFlags::SHRINK.union(rustix::fs::SealFlags::GROW).union(rustix::fs::SealFlags::SEAL);

/// The mode of every memory file we hand out: read-only, for its owner
/// (the broker's user) only. A descriptor's access is fixed when it is
/// opened, so this does not touch the writable descriptors handed to
/// holders who may write; it stops a holder of a read-only descriptor
/// from reopening it writable through `/proc/self/fd/N` (the kernel
/// checks the inode's mode there). Within one uid the owner could
/// `fchmod` it back: a user's own processes are one trust domain, as
/// they are for `ptrace`.
const MODE: u32 = 0o400;

/// A new anonymous memory file of `size` bytes (a pagefile section, a
/// shared page), sealed at that size ([`SEALS`]) and mode 0400.
pub fn memory_file(name: &str, size: u64) -> io::Result<OwnedFd> {
    let fd = memfd_create(name, MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING)?;
    rustix::fs::ftruncate(&fd, size)?;
    rustix::fs::fchmod(&fd, rustix::fs::Mode::from_raw_mode(MODE))?;
    rustix::fs::fcntl_add_seals(&fd, SEALS)?;
    Ok(fd)
}

/// Whether a memory file carries [`SEALS`] (its size can never change).
pub fn is_sealed(fd: &impl AsFd) -> bool {
    rustix::fs::fcntl_get_seals(fd).is_ok_and(|seals| seals.contains(SEALS))
}

/// A new open file description for the same file, read-only: a process
/// given it cannot map the file writable, whatever it tries.
pub fn reopen_read_only(fd: &impl AsFd) -> io::Result<OwnedFd> {
    use std::os::fd::AsRawFd;
    let path = format!("/proc/self/fd/{}", fd.as_fd().as_raw_fd());
    Ok(rustix::fs::open(
        path.as_str(),
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )?)
}

#[cfg(test)]
mod view_tests {
    use super::*;

    #[test]
    fn two_views_alias_and_copy_views_stay_private() {
        let fd = memory_file("views", 8192).unwrap();
        let a = View::map(&fd, 0, 8192, ViewKind::Write).unwrap();
        let b = View::map(&fd, 0, 8192, ViewKind::Read).unwrap();
        let c = View::map(&fd, 0, 8192, ViewKind::Copy).unwrap();
        a.write_at(100, b"shared").unwrap();
        let mut got = [0u8; 6];
        b.read_at(100, &mut got).unwrap();
        assert_eq!(&got, b"shared");
        c.write_at(100, b"mine!!").unwrap();
        b.read_at(100, &mut got).unwrap();
        assert_eq!(&got, b"shared", "copy-on-write stays private");
        assert!(b.write_at(0, b"x").is_err());
        assert!(a.read_at(8190, &mut got).is_err(), "out of bounds");
    }

    #[test]
    fn a_read_only_reopen_cannot_be_mapped_writable() {
        let fd = memory_file("ro", 4096).unwrap();
        let ro = reopen_read_only(&fd).unwrap();
        assert!(View::map(&ro, 0, 4096, ViewKind::Read).is_ok());
        assert!(View::map(&ro, 0, 4096, ViewKind::Write).is_err());
        assert!(View::map(&ro, 0, 4096, ViewKind::Copy).is_ok(), "private copies of read-only files are allowed");
    }
}
