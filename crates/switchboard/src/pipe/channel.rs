//! The data plane of one pipe connection: the pipe semantics (byte and
//! message reads, partial messages, zero-length messages, peek) over a
//! [`Transport`], which today is the socket pair the broker handed out.
//!
//! The framing and the partial-message state are the sans-IO
//! [`framing`](super::framing) piece, shared with the tokio paths; a message
//! is sent as its header and payload in a single send. The reader's state is
//! kept per end, so a message read with a small buffer returns "more data"
//! and the rest comes with the next read, from any thread.

use std::io;
use std::os::fd::OwnedFd;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use super::framing::{self, Eof, Peek, ReadState, Received};
use super::transport::Transport;

/// Why a channel operation failed.
#[derive(Debug)]
pub(crate) enum ChannelError {
    /// The other end is gone (or the connection was cut).
    Closed,
    /// Nothing to read in no-wait mode.
    Empty,
    /// The wait for data ran out.
    TimedOut,
    /// Something else.
    Io(io::Error),
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl From<Eof> for ChannelError {
    fn from(Eof: Eof) -> Self {
        Self::Closed
    }
}

impl From<io::Error> for ChannelError {
    fn from(e: io::Error) -> Self {
        match e.kind() {
            io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset | io::ErrorKind::NotConnected => Self::Closed,
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => Self::TimedOut,
            _ => Self::Io(e),
        }
    }
}

/// One end's view of a connection.
#[derive(Debug)]
pub(crate) struct Channel {
    transport: Box<dyn Transport>,
    /// The pipe is message-type: data is framed.
    framed: bool,
    read: Mutex<ReadState>,
}

impl Channel {
    pub(crate) fn new(transport: Box<dyn Transport>, framed: bool) -> Self {
        Self { transport, framed, read: Mutex::new(ReadState::default()) }
    }

    /// The transport, for a driver with its own read state (the tokio paths).
    #[cfg(feature = "tokio")]
    pub(crate) fn transport(&self) -> &dyn Transport {
        &*self.transport
    }

    /// Whether the pipe is message-type (its data framed).
    #[cfg(feature = "tokio")]
    pub(crate) fn framed(&self) -> bool {
        self.framed
    }

    /// Writes one message (message-type) or these bytes (byte-type). A
    /// zero-length write is an empty message on a message-type pipe and
    /// nothing at all on a byte-type one.
    pub(crate) fn write(&self, data: &[u8]) -> Result<(), ChannelError> {
        if let Some(header) = framing::frame(self.framed, data.len()).map_err(|e| ChannelError::Io(e.into()))? {
            self.transport.send(header.as_bytes(), data)?;
        }
        Ok(())
    }

    /// Takes more bytes from the transport into `state.buf`: at least one,
    /// unless `nowait` (then possibly none).
    fn fill(&self, state: &mut ReadState, nowait: bool, timeout: Option<Duration>) -> Result<bool, ChannelError> {
        if state.at_eof() {
            return Err(ChannelError::Closed);
        }
        let got = if nowait {
            match self.transport.try_recv(state.scratch())? {
                None => return Ok(false),
                Some(n) => n,
            }
        } else {
            self.transport.recv(state.scratch(), timeout)?
        };
        state.delivered(got)?;
        Ok(true)
    }

    /// Reads from the transport straight into `out` (at least one byte).
    fn recv_direct(
        &self,
        state: &mut ReadState,
        out: &mut [u8],
        timeout: Option<Duration>,
    ) -> Result<usize, ChannelError> {
        if state.at_eof() {
            return Err(ChannelError::Closed);
        }
        let n = self.transport.recv(out, timeout)?;
        state.delivered_direct(n)?;
        Ok(n)
    }

    /// Takes whatever more is queued, without blocking.
    fn fill_queued(&self, state: &mut ReadState) -> Result<(), ChannelError> {
        while !state.at_eof() {
            match self.fill(state, true, None) {
                Ok(true) => {}
                Ok(false) | Err(ChannelError::Closed) => break,
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Reads in message read mode (message-type pipes only).
    pub(crate) fn read_message(
        &self,
        out: &mut [u8],
        nowait: bool,
        timeout: Option<Duration>,
    ) -> Result<Received, ChannelError> {
        let mut state = lock(&self.read);
        while !state.start_message() {
            let dont_wait = nowait && state.buffered() == 0;
            if !self.fill(&mut state, dont_wait, timeout)? {
                return Err(ChannelError::Empty);
            }
        }
        let want = state.message_want(out.len());
        // What is buffered first, then straight from the transport into the
        // caller's buffer: never past the message, so no copy and no overread.
        let mut copied = state.take_buffered(&mut out[..want]);
        while copied < want {
            copied += self.recv_direct(&mut state, &mut out[copied..want], timeout)?;
        }
        Ok(state.finish_message(want))
    }

    /// Reads in byte read mode: whatever is there, up to `out.len()`, across
    /// message boundaries; blocks only while nothing is there.
    pub(crate) fn read_bytes(
        &self,
        out: &mut [u8],
        nowait: bool,
        timeout: Option<Duration>,
    ) -> Result<Received, ChannelError> {
        if out.is_empty() {
            return Ok(Received { len: 0, more: false });
        }
        let mut state = lock(&self.read);
        if !self.framed && state.buffered() == 0 && !nowait {
            // A byte pipe with nothing buffered: one read straight into the caller's buffer.
            let n = self.recv_direct(&mut state, out, timeout)?;
            return Ok(Received { len: n, more: false });
        }
        let mut copied = 0;
        loop {
            copied += state.take_payload(self.framed, &mut out[copied..]);
            if copied == out.len() {
                break;
            }
            if copied > 0 {
                // Something to return: add only what is already queued.
                let before = state.buffered();
                self.fill_queued(&mut state)?;
                if state.buffered() == before {
                    break;
                }
                continue;
            }
            if !self.fill(&mut state, nowait, timeout)? {
                return Err(ChannelError::Empty);
            }
        }
        Ok(Received { len: copied, more: false })
    }

    /// Copies data without taking it (`PeekNamedPipe`). On a message-type
    /// pipe, only the current message is copied.
    pub(crate) fn peek(&self, out: &mut [u8]) -> Result<Peek, ChannelError> {
        let state = lock(&self.read);
        let queued = self.transport.peek_all()?;
        Ok(state.peek(self.framed, queued, out)?)
    }

    /// Waits until the peer has read everything this end wrote, or the
    /// deadline passes. The kernel does not say when that happens, so this
    /// polls, backing off from 20 µs to 5 ms.
    pub(crate) fn flush(&self, deadline: Option<std::time::Instant>) -> Result<(), ChannelError> {
        let mut pause = Duration::from_micros(20);
        loop {
            if self.transport.drained()? {
                return Ok(());
            }
            if deadline.is_some_and(|d| std::time::Instant::now() >= d) {
                return Err(ChannelError::TimedOut);
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(5));
        }
    }

    /// A descriptor for this end that a child process can use as it is.
    pub(crate) fn duplicate_fd(&self) -> io::Result<Option<OwnedFd>> {
        self.transport.duplicate_fd()
    }

    /// Whether unread data is waiting for this end.
    pub(crate) fn has_unread(&self) -> Result<bool, ChannelError> {
        let state = lock(&self.read);
        if state.has_pending() {
            return Ok(true);
        }
        Ok(self.transport.peek_all()?.is_some_and(|q| !q.is_empty()))
    }
}
