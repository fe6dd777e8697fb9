//! What the core needs from the operating system, behind one trait.
//!
//! The core decides; the [`Resources`] it is given makes descriptors and
//! pages, cuts channels and answers questions about processes. The event
//! loop passes the real one (`crate::os::OsResources`); a test may pass a
//! fake, for instance one that runs out of memory files, to see the core
//! refuse cleanly.
//!
//! What the core still does itself is listed in its driving contract
//! (`core`'s module docs).

use std::fmt::Debug;
use std::io;
use std::os::fd::OwnedFd;

use std::path::Path;

use switchboard_proto::WireError;
use switchboard_registry::Hive;
use switchboard_sys::shm::CounterPage;
use switchboard_sys::syncpage::SyncPage;

/// How a file descriptor was opened (`fcntl(F_GETFL)`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpenMode {
    /// `O_PATH` (or the access mode Linux reserves for `ioctl`s): neither
    /// read nor write.
    PathOnly,
    /// `O_RDONLY`.
    ReadOnly,
    /// `O_WRONLY`.
    WriteOnly,
    /// `O_RDWR`.
    ReadWrite,
}

/// The operating system, as the core sees it. Every method that makes
/// something may fail (descriptor or memory exhaustion); the core turns
/// the failure into a clear error for the client that asked.
pub trait Resources: Debug + Send {
    /// A new zeroed, sealed page for one event, mutex or semaphore, mapped
    /// by the broker, and the descriptor to hand to clients.
    fn sync_page(&mut self) -> io::Result<(SyncPage, OwnedFd)>;

    /// A new zeroed memory file of `size` bytes, sealed at that size (a
    /// section backed by memory).
    fn memory_file(&mut self, size: u64) -> io::Result<OwnedFd>;

    /// A new page of `counters` shared counters, mapped by the broker, and
    /// the descriptor to hand to clients; `name` names its memory file.
    fn counter_page(&mut self, name: &'static str, counters: usize) -> io::Result<(CounterPage, OwnedFd)>;

    /// A new open file description for the same file, read-only: a
    /// process given it cannot map the file writable.
    fn reopen_read_only(&mut self, fd: &OwnedFd) -> io::Result<OwnedFd>;

    /// Another descriptor for the same open file description.
    fn duplicate(&mut self, fd: &OwnedFd) -> io::Result<OwnedFd>;

    /// A connected pair of datagram sockets (a mailslot: reading end, sending end).
    fn datagram_pair(&mut self) -> io::Result<(OwnedFd, OwnedFd)>;

    /// A connected pair of stream sockets (a pipe instance's channel).
    fn stream_pair(&mut self) -> io::Result<(OwnedFd, OwnedFd)>;

    /// Discards what is queued on a channel, then shuts both of its
    /// directions down: its peer reads end of stream. Best effort.
    fn cut(&self, channel: &OwnedFd);

    /// The size of the next datagram queued on a socket, without taking
    /// it; `None` when nothing is queued.
    fn next_datagram_size(&self, socket: &OwnedFd) -> Option<usize>;

    /// How a descriptor a client sent was opened.
    fn open_mode(&self, fd: &OwnedFd) -> io::Result<OpenMode>;

    /// The size of the file behind a descriptor, if it is a regular file
    /// (`None` for anything else).
    fn regular_file_size(&self, fd: &OwnedFd) -> io::Result<Option<u64>>;

    /// Grows (or truncates) a file to `size` bytes.
    fn grow(&mut self, fd: &OwnedFd, size: u64) -> io::Result<()>;

    /// Whether `thread` is a thread of process `pid`.
    fn is_thread_of(&self, pid: u32, thread: u32) -> bool;

    /// The registry's hive files under `dir` (the core asks once, when it
    /// is made with a registry directory).
    fn hive_files(&mut self, dir: &Path) -> Box<dyn HiveFiles>;
}

/// Where the registry's hives are kept: the machine hive and one per user.
/// What the store does with its file once open is `switchboard_registry`'s.
pub trait HiveFiles: Debug + Send {
    /// Opens the machine hive (`None`) or a user's, made (with a directory
    /// of the broker's own, that no one else may write) if missing.
    ///
    /// # Errors
    /// `ERROR_BADDB` for a directory that is not private, or the store's
    /// own error.
    fn open(&mut self, user: Option<u32>) -> Result<Hive, WireError>;

    /// The users with a hive kept, opened or not.
    fn users(&self) -> Vec<u32>;

    /// Whether a user's hive is kept.
    fn has_user(&self, uid: u32) -> bool;
}
