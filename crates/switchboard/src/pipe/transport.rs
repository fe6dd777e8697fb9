//! Where a pipe channel's bytes travel: the [`Transport`] trait and its
//! implementations, and the one place that picks an implementation for a
//! channel the broker handed out ([`transport_for`]).

use std::io::{self, IoSlice, Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// The transport for a channel descriptor the broker handed out. Every end
/// gets its transport here, so a new kind of channel is one change.
pub(crate) fn transport_for(fd: OwnedFd) -> Box<dyn Transport> {
    Box::new(SocketTransport::new(fd))
}

/// Where the bytes travel. One implementation per kind of channel; every
/// implementation must pass the same conformance tests.
pub(crate) trait Transport: Send + Sync + std::fmt::Debug {
    /// Writes `header` then `body` (either may be empty), as one unit with
    /// respect to other writers.
    fn send(&self, header: &[u8], body: &[u8]) -> io::Result<()>;
    /// Reads at least one byte (blocking, or waiting at most `timeout`);
    /// 0 at end of stream.
    fn recv(&self, buf: &mut [u8], timeout: Option<Duration>) -> io::Result<usize>;
    /// Reads what is there without blocking: `Ok(None)` when nothing is,
    /// `Ok(Some(0))` at end of stream.
    fn try_recv(&self, buf: &mut [u8]) -> io::Result<Option<usize>>;
    /// Sends what it can of `bytes` without blocking: `Ok(None)` when
    /// nothing could go. For a caller that serializes its own writers.
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    fn try_send(&self, bytes: &[u8]) -> io::Result<Option<usize>>;
    /// The readiness hook: the owner of a descriptor that polls readable
    /// when [`Self::try_recv`] may make progress and writable when
    /// [`Self::try_send`] may. An event loop (tokio, through
    /// `switchboard_sys::readiness`) waits on it and then calls those; it is
    /// never read from or written to directly, and never duplicated.
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    fn readiness(&self) -> Arc<dyn switchboard_sys::readiness::Stable>;
    /// Copies what is queued without taking it: `None` at end of stream.
    fn peek_all(&self) -> io::Result<Option<Vec<u8>>>;
    /// Whether everything sent has been read by the peer: `Ok(true)` when
    /// nothing is left unread, `Err(BrokenPipe)` once the peer is gone.
    fn drained(&self) -> io::Result<bool>;
    /// A descriptor another process can use as this end directly (a child's
    /// standard stream); `None` for a transport that has no such descriptor.
    fn duplicate_fd(&self) -> io::Result<Option<OwnedFd>>;
}

/// A connected Unix stream socket.
#[derive(Debug)]
pub(crate) struct SocketTransport {
    /// Shared only with the readiness hook's registration.
    socket: Arc<UnixStream>,
    write_lock: Mutex<()>,
    /// The read timeout last set on the socket, so it is set only when it changes.
    read_timeout: Mutex<Option<Duration>>,
}

impl SocketTransport {
    fn new(fd: OwnedFd) -> Self {
        Self { socket: Arc::new(UnixStream::from(fd)), write_lock: Mutex::new(()), read_timeout: Mutex::new(None) }
    }
}

impl Transport for SocketTransport {
    fn send(&self, header: &[u8], body: &[u8]) -> io::Result<()> {
        let _one_writer = lock(&self.write_lock);
        let mut socket = &*self.socket;
        let mut pair = [IoSlice::new(header), IoSlice::new(body)];
        let mut slices = &mut pair[..];
        // Empty slices are skipped up front, so a write of 0 means no progress.
        IoSlice::advance_slices(&mut slices, 0);
        while !slices.is_empty() {
            match socket.write_vectored(slices) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => IoSlice::advance_slices(&mut slices, n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn recv(&self, buf: &mut [u8], timeout: Option<Duration>) -> io::Result<usize> {
        let timeout = timeout.filter(|t| !t.is_zero());
        {
            let mut current = lock(&self.read_timeout);
            if *current != timeout {
                self.socket.set_read_timeout(timeout)?;
                *current = timeout;
            }
        }
        let mut socket = &*self.socket;
        loop {
            match socket.read(buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                other => return other,
            }
        }
    }

    fn try_recv(&self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        match rustix::net::recv(&self.socket, buf, rustix::net::RecvFlags::DONTWAIT) {
            Ok((n, _)) => Ok(Some(n)),
            Err(rustix::io::Errno::AGAIN) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    fn try_send(&self, bytes: &[u8]) -> io::Result<Option<usize>> {
        let flags = rustix::net::SendFlags::DONTWAIT | rustix::net::SendFlags::NOSIGNAL;
        match rustix::net::send(&self.socket, bytes, flags) {
            Ok(n) => Ok(Some(n)),
            Err(rustix::io::Errno::AGAIN) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    fn readiness(&self) -> Arc<dyn switchboard_sys::readiness::Stable> {
        Arc::clone(&self.socket) as Arc<dyn switchboard_sys::readiness::Stable>
    }

    fn duplicate_fd(&self) -> io::Result<Option<OwnedFd>> {
        Ok(Some(OwnedFd::from(self.socket.try_clone()?)))
    }

    fn drained(&self) -> io::Result<bool> {
        use rustix::event::{PollFd, PollFlags, poll};
        let mut fds = [PollFd::new(&self.socket, PollFlags::OUT)];
        poll(&mut fds, Some(&rustix::event::Timespec { tv_sec: 0, tv_nsec: 0 }))?;
        if fds[0].revents().intersects(PollFlags::HUP | PollFlags::ERR) {
            return Err(io::ErrorKind::BrokenPipe.into());
        }
        Ok(switchboard_sys::fdpass::unread_by_peer(&self.socket)? == 0)
    }

    fn peek_all(&self) -> io::Result<Option<Vec<u8>>> {
        let queued = switchboard_sys::fdpass::bytes_readable(&self.socket)?;
        let mut buf = vec![0u8; queued.max(1)];
        let flags = rustix::net::RecvFlags::PEEK | rustix::net::RecvFlags::DONTWAIT;
        match rustix::net::recv(&self.socket, &mut buf, flags) {
            Ok((0, _)) => Ok(None),
            Ok((n, _)) => {
                buf.truncate(n);
                Ok(Some(buf))
            }
            Err(rustix::io::Errno::AGAIN) => Ok(Some(Vec::new())),
            Err(e) => Err(e.into()),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
