//! The real [`Resources`]: what the core asks of the operating system,
//! done with `switchboard-sys`.

use std::io;
use std::os::fd::OwnedFd;

use switchboard_sys::shm::CounterPage;
use switchboard_sys::syncpage::SyncPage;

use crate::core::Resources;

/// The operating system itself; what the server gives its core.
#[derive(Debug, Default)]
pub struct OsResources;

impl Resources for OsResources {
    fn sync_page(&mut self) -> io::Result<(SyncPage, OwnedFd)> {
        SyncPage::create("switchboard-sync")
    }

    fn memory_file(&mut self, size: u64) -> io::Result<OwnedFd> {
        switchboard_sys::shm::memory_file("switchboard-section", size)
    }

    fn counter_page(&mut self, name: &'static str, counters: usize) -> io::Result<(CounterPage, OwnedFd)> {
        CounterPage::create(name, counters)
    }

    fn reopen_read_only(&mut self, fd: &OwnedFd) -> io::Result<OwnedFd> {
        switchboard_sys::shm::reopen_read_only(fd)
    }

    fn duplicate(&mut self, fd: &OwnedFd) -> io::Result<OwnedFd> {
        fd.try_clone()
    }

    fn datagram_pair(&mut self) -> io::Result<(OwnedFd, OwnedFd)> {
        switchboard_sys::fdpass::datagram_pair()
    }

    fn stream_pair(&mut self) -> io::Result<(OwnedFd, OwnedFd)> {
        switchboard_sys::fdpass::stream_pair()
    }

    fn cut(&self, channel: &OwnedFd) {
        let _ = switchboard_sys::fdpass::discard_queued(channel);
        let _ = switchboard_sys::fdpass::shutdown_both(channel);
    }

    fn next_datagram_size(&self, socket: &OwnedFd) -> Option<usize> {
        use rustix::net::RecvFlags;
        let flags = RecvFlags::PEEK | RecvFlags::TRUNC | RecvFlags::DONTWAIT;
        let mut nothing: [u8; 0] = [];
        rustix::net::recv(socket, &mut nothing[..], flags).ok().map(|(_, len)| len)
    }

    fn is_thread_of(&self, pid: u32, thread: u32) -> bool {
        std::path::Path::new(&format!("/proc/{pid}/task/{thread}")).exists()
    }
}
