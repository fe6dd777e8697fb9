//! What a server end and a client end share: the handle, the modes, the
//! channel, and the mapping of channel outcomes to Win32 errors.

use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use switchboard_proto as p;
use switchboard_proto::{PipeMode, PipeState};
use switchboard_types::AccessMask;
use switchboard_types::access::file::{FILE_READ_DATA, FILE_WRITE_DATA};

use super::channel::{Channel, ChannelError};
use super::framing::{Peek, Received};
use super::transport::transport_for;
use crate::error::{Error, ErrorKind, Result, Win32Error};
use crate::handle::OwnedHandle;

/// Which way an operation moves bytes: a broken pipe reads as a different
/// error for each (`ERROR_BROKEN_PIPE` reading, `ERROR_NO_DATA` writing).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direction {
    /// `ReadFile`, `PeekNamedPipe`, `TransactNamedPipe`.
    Read,
    /// `WriteFile`, `FlushFileBuffers`.
    Write,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[derive(Debug)]
pub(crate) struct End {
    pub(crate) handle: OwnedHandle,
    pub(crate) name: String,
    pub(crate) server: bool,
    pub(crate) pipe_type: PipeMode,
    /// Read mode: message when true.
    message_reads: AtomicBool,
    /// Something was read through this end since the last connect
    /// (impersonation needs it, as on Windows).
    pub(crate) has_read: AtomicBool,
    pub(crate) nowait: bool,
    pub(crate) access: AccessMask,
    channel: Mutex<Option<Arc<Channel>>>,
    read_timeout: Mutex<Option<Duration>>,
}

impl End {
    pub(crate) fn new(
        handle: OwnedHandle,
        name: String,
        server: bool,
        pipe_type: PipeMode,
        read_mode: PipeMode,
        nowait: bool,
        access: AccessMask,
    ) -> Self {
        Self {
            handle,
            name,
            server,
            pipe_type,
            message_reads: AtomicBool::new(read_mode == PipeMode::Message),
            has_read: AtomicBool::new(false),
            nowait,
            access,
            channel: Mutex::new(None),
            read_timeout: Mutex::new(None),
        }
    }

    pub(crate) fn error(&self, op: &'static str, code: Win32Error, reason: impl Into<String>) -> Error {
        let kind = if code == Win32Error::ERROR_SEM_TIMEOUT { ErrorKind::TimedOut } else { ErrorKind::Refused };
        Error::new(kind, code, op, Some(&self.name), reason)
    }

    pub(crate) fn set_channel(&self, fd: OwnedFd) {
        let channel = Channel::new(transport_for(fd), self.pipe_type == PipeMode::Message);
        *lock(&self.channel) = Some(Arc::new(channel));
    }

    pub(crate) fn drop_channel(&self) {
        *lock(&self.channel) = None;
        self.has_read.store(false, Ordering::Relaxed);
    }

    pub(crate) fn read_mode(&self) -> PipeMode {
        if self.message_reads.load(Ordering::Relaxed) { PipeMode::Message } else { PipeMode::Byte }
    }

    pub(crate) fn set_read_mode(&self, mode: PipeMode) -> Result<()> {
        if mode == PipeMode::Message && self.pipe_type == PipeMode::Byte {
            return Err(self.error(
                "SetNamedPipeHandleState",
                Win32Error::ERROR_INVALID_PARAMETER,
                "a byte-type pipe cannot be read in message mode",
            ));
        }
        self.message_reads.store(mode == PipeMode::Message, Ordering::Relaxed);
        Ok(())
    }

    pub(crate) fn set_read_timeout(&self, timeout: Option<Duration>) {
        *lock(&self.read_timeout) = timeout;
    }

    /// The channel, fetching the server's from the broker on first use.
    pub(crate) fn channel(&self, op: &'static str, direction: Direction) -> Result<Arc<Channel>> {
        if let Some(c) = lock(&self.channel).as_ref() {
            return Ok(Arc::clone(c));
        }
        if !self.server {
            return Err(self.state_error(op, direction));
        }
        let conn = self.handle.connection();
        let request = p::ConnectPipe { handle: self.handle.raw(), timeout_ms: Some(0), take_only: true };
        let (_, mut fds) = conn.call_with_fds(request, op, Some(&self.name), Some(crate::DEFAULT_REQUEST_TIMEOUT))?;
        let fd =
            fds.pop().ok_or_else(|| self.error(op, Win32Error::ERROR_PIPE_NOT_CONNECTED, "no channel for this end"))?;
        self.set_channel(fd);
        lock(&self.channel)
            .as_ref()
            .map(Arc::clone)
            .ok_or_else(|| self.error(op, Win32Error::ERROR_PIPE_NOT_CONNECTED, "no channel"))
    }

    /// The error for a channel that ended or never was, from the broker's
    /// view of the instance: the peer closed (broken pipe), or the server
    /// disconnected (not connected).
    pub(crate) fn state_error(&self, op: &'static str, direction: Direction) -> Error {
        let conn = self.handle.connection();
        let status = conn.call(p::QueryPipe { handle: self.handle.raw() }, op, Some(&self.name));
        match status.map(|s| s.state) {
            Ok(PipeState::Disconnected) => {
                self.error(op, Win32Error::ERROR_PIPE_NOT_CONNECTED, "the server disconnected the pipe")
            }
            Ok(PipeState::Listening) => self.error(op, Win32Error::ERROR_PIPE_LISTENING, "no client has connected"),
            Ok(_) => {
                // Windows: a write to a pipe whose reader closed is "being
                // closed" (ERROR_NO_DATA); a read is a broken pipe.
                let code = match direction {
                    Direction::Write => Win32Error::ERROR_NO_DATA,
                    Direction::Read => Win32Error::ERROR_BROKEN_PIPE,
                };
                self.error(op, code, "the other end closed the pipe")
            }
            Err(e) => e,
        }
    }

    pub(crate) fn map(&self, op: &'static str, direction: Direction, e: ChannelError) -> Error {
        match e {
            ChannelError::Closed => self.state_error(op, direction),
            ChannelError::Empty => self.error(op, Win32Error::ERROR_NO_DATA, "no data is waiting (PIPE_NOWAIT)"),
            ChannelError::TimedOut => self.error(op, Win32Error::ERROR_SEM_TIMEOUT, "no data arrived in time"),
            ChannelError::Io(io) => self.error(op, Win32Error::ERROR_INVALID_DATA, io.to_string()),
        }
    }

    pub(crate) fn need(&self, op: &'static str, right: AccessMask) -> Result<()> {
        if self.access.contains(right) {
            Ok(())
        } else {
            let what = if right == FILE_READ_DATA { "read" } else { "write" };
            Err(self.error(op, Win32Error::ERROR_ACCESS_DENIED, format!("this handle was not opened to {what}")))
        }
    }

    pub(crate) fn read(&self, buf: &mut [u8]) -> Result<Received> {
        let op = "ReadFile";
        self.need(op, FILE_READ_DATA)?;
        let channel = self.channel(op, Direction::Read)?;
        let timeout = *lock(&self.read_timeout);
        let got = if self.read_mode() == PipeMode::Message {
            channel.read_message(buf, self.nowait, timeout)
        } else {
            channel.read_bytes(buf, self.nowait, timeout)
        };
        let got = got.map_err(|e| self.map(op, Direction::Read, e))?;
        self.has_read.store(true, Ordering::Relaxed);
        Ok(got)
    }

    pub(crate) fn write(&self, data: &[u8]) -> Result<()> {
        let op = "WriteFile";
        self.need(op, FILE_WRITE_DATA)?;
        let channel = self.channel(op, Direction::Write)?;
        channel.write(data).map_err(|e| self.map(op, Direction::Write, e))
    }

    pub(crate) fn flush(&self, timeout: Option<Duration>) -> Result<()> {
        let op = "FlushFileBuffers";
        self.need(op, FILE_WRITE_DATA)?;
        let channel = self.channel(op, Direction::Write)?;
        let deadline = timeout.map(|t| std::time::Instant::now() + t);
        channel.flush(deadline).map_err(|e| match e {
            ChannelError::Closed => self.error(op, Win32Error::ERROR_BROKEN_PIPE, "the other end closed the pipe"),
            other => self.map(op, Direction::Write, other),
        })
    }

    pub(crate) fn peek(&self, buf: &mut [u8]) -> Result<Peek> {
        let op = "PeekNamedPipe";
        if self.server && lock(&self.channel).is_none() {
            // A server end with nothing connected has no pipe to peek into.
            match self.channel(op, Direction::Read) {
                Ok(_) => {}
                Err(e)
                    if matches!(
                        e.win32_error(),
                        Win32Error::ERROR_PIPE_LISTENING | Win32Error::ERROR_PIPE_NOT_CONNECTED
                    ) =>
                {
                    return Err(self.error(op, Win32Error::ERROR_BAD_PIPE, "the pipe is not connected"));
                }
                Err(e) => return Err(e),
            }
        }
        let channel = self.channel(op, Direction::Read)?;
        channel.peek(buf).map_err(|e| match self.map(op, Direction::Read, e) {
            e if self.server && e.win32_error() == Win32Error::ERROR_PIPE_NOT_CONNECTED => {
                self.error(op, Win32Error::ERROR_BAD_PIPE, "the pipe is not connected")
            }
            e => e,
        })
    }

    pub(crate) fn transact(&self, input: &[u8], output: &mut [u8]) -> Result<Received> {
        let op = "TransactNamedPipe";
        if self.pipe_type != PipeMode::Message || self.read_mode() != PipeMode::Message {
            return Err(self.error(
                op,
                Win32Error::ERROR_BAD_PIPE,
                "transact needs a message-type pipe in message read mode",
            ));
        }
        self.need(op, FILE_READ_DATA | FILE_WRITE_DATA)?;
        let channel = self.channel(op, Direction::Read)?;
        if channel.has_unread().map_err(|e| self.map(op, Direction::Read, e))? {
            return Err(self.error(op, Win32Error::ERROR_PIPE_BUSY, "unread data is waiting for this end"));
        }
        // A transaction whose peer is gone is a broken pipe, whichever half failed.
        channel.write(input).map_err(|e| self.map(op, Direction::Read, e))?;
        let timeout = *lock(&self.read_timeout);
        channel.read_message(output, false, timeout).map_err(|e| self.map(op, Direction::Read, e))
    }

    /// A descriptor of this end's channel for a child process.
    pub(crate) fn duplicate_fd(&self, op: &'static str) -> Result<OwnedFd> {
        let channel = self.channel(op, Direction::Read)?;
        match channel.duplicate_fd() {
            Ok(Some(fd)) => Ok(fd),
            Ok(None) => {
                Err(self.error(op, Win32Error::ERROR_NOT_SUPPORTED, "this channel cannot be handed to a child"))
            }
            Err(e) => Err(self.error(op, Win32Error::ERROR_TOO_MANY_OPEN_FILES, e.to_string())),
        }
    }

    pub(crate) fn status(&self, op: &'static str) -> Result<p::PipeStatus> {
        self.handle.connection().call(p::QueryPipe { handle: self.handle.raw() }, op, Some(&self.name))
    }
}
