//! Named pipes, with the Win32 semantics.
//!
//! A server creates instances of a pipe with [`ServerOptions`]; a client
//! opens one with [`PipeClient::open`]. Each connected instance gets a
//! private channel between the two processes; the broker only introduces
//! them, so the bytes never pass through it.
//!
//! ```no_run
//! use switchboard::Connection;
//! use switchboard::pipe::{PipeClient, PipeMode, ServerOptions};
//!
//! # fn main() -> switchboard::Result<()> {
//! let conn = Connection::connect()?;
//! let server = ServerOptions::new().pipe_mode(PipeMode::Message).create(&conn, r"\\.\pipe\echo")?;
//! // ... in another process:
//! let client = PipeClient::open(&conn, r"\\.\pipe\echo", switchboard::pipe::GENERIC_READ_WRITE)?;
//! client.write(b"hi")?;
//! let mut buf = [0u8; 64];
//! let got = server.read(&mut buf)?;
//! assert_eq!(&buf[..got.len], b"hi");
//! # Ok(()) }
//! ```

mod anonymous;
#[cfg(feature = "tokio")]
mod asynchronous;
mod channel;
#[cfg(test)]
mod conformance;
mod end;
mod framing;
mod transport;

use std::time::Duration;

pub use anonymous::{PipeReader, PipeWriter, RedirectedChild, anonymous, spawn_redirected};
#[cfg(feature = "tokio")]
pub use asynchronous::{AsyncPipeClient, AsyncPipeServer};
use end::End;
pub use framing::{Peek, Received};
use switchboard_proto as p;
pub use switchboard_proto::{PIPE_UNLIMITED_INSTANCES, PipeListing, PipeMode, PipeState, PipeStatus};
use switchboard_types::access::file::{FILE_READ_DATA, FILE_WRITE_DATA};
use switchboard_types::{AccessMask, PipeName};

use crate::connection::Connection;
use crate::error::{Error, ErrorKind, Result, Win32Error};
use crate::handle::OwnedHandle;

/// Access rights for pipes, which are files ([`switchboard_types::access::file`]).
pub use switchboard_types::access::file as access;
pub use switchboard_types::access::standard::{GENERIC_READ, GENERIC_WRITE};
/// `GENERIC_READ | GENERIC_WRITE`.
pub const GENERIC_READ_WRITE: AccessMask = GENERIC_READ.union(GENERIC_WRITE);

fn parse(op: &'static str, name: &str) -> Result<PipeName> {
    let parsed =
        PipeName::parse(name).map_err(|e| Error::new(ErrorKind::InvalidArgument, e.code, op, Some(name), e.reason))?;
    if !parsed.is_local() {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            Win32Error::ERROR_NOT_SUPPORTED,
            op,
            Some(name),
            "pipes on other machines are not supported yet",
        ));
    }
    Ok(parsed)
}

/// The direction of a pipe, as the server sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// The server reads, clients write (`PIPE_ACCESS_INBOUND`).
    Inbound,
    /// The server writes, clients read (`PIPE_ACCESS_OUTBOUND`).
    Outbound,
    /// Both ways (`PIPE_ACCESS_DUPLEX`).
    Duplex,
}

/// Options for creating a pipe instance, one per `CreateNamedPipe`
/// parameter, in the style of tokio's `ServerOptions`.
#[derive(Clone, Debug)]
pub struct ServerOptions {
    direction: Direction,
    first_instance: bool,
    pipe_type: PipeMode,
    read_mode: Option<PipeMode>,
    nowait: bool,
    reject_remote: bool,
    max_instances: u32,
    out_buffer: u32,
    in_buffer: u32,
    default_timeout: Duration,
    sddl: Option<String>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            direction: Direction::Duplex,
            first_instance: false,
            pipe_type: PipeMode::Byte,
            read_mode: None,
            nowait: false,
            reject_remote: true,
            max_instances: PIPE_UNLIMITED_INSTANCES,
            out_buffer: 65_536,
            in_buffer: 65_536,
            default_timeout: Duration::from_millis(50),
            sddl: None,
        }
    }
}

impl ServerOptions {
    /// Duplex, byte type, unlimited instances, 64 KiB buffers, remote clients rejected.
    pub fn new() -> Self {
        Self::default()
    }

    /// Which way data flows.
    #[must_use]
    pub fn direction(mut self, direction: Direction) -> Self {
        self.direction = direction;
        self
    }

    /// Fail unless this creates the pipe (`FILE_FLAG_FIRST_PIPE_INSTANCE`).
    #[must_use]
    pub fn first_pipe_instance(mut self, yes: bool) -> Self {
        self.first_instance = yes;
        self
    }

    /// Byte or message type (`PIPE_TYPE_*`); the read mode follows unless set.
    #[must_use]
    pub fn pipe_mode(mut self, mode: PipeMode) -> Self {
        self.pipe_type = mode;
        self
    }

    /// How this server end reads (`PIPE_READMODE_*`).
    #[must_use]
    pub fn read_mode(mut self, mode: PipeMode) -> Self {
        self.read_mode = Some(mode);
        self
    }

    /// `PIPE_NOWAIT`: reads and connects return at once.
    #[must_use]
    pub fn nowait(mut self, yes: bool) -> Self {
        self.nowait = yes;
        self
    }

    /// `PIPE_REJECT_REMOTE_CLIENTS` (the default; remote clients are not supported yet anyway).
    #[must_use]
    pub fn reject_remote_clients(mut self, yes: bool) -> Self {
        self.reject_remote = yes;
        self
    }

    /// 1 to 254 instances, or [`PIPE_UNLIMITED_INSTANCES`].
    #[must_use]
    pub fn max_instances(mut self, n: u32) -> Self {
        self.max_instances = n;
        self
    }

    /// The output buffer size reported by [`PipeServer::info`].
    #[must_use]
    pub fn out_buffer_size(mut self, n: u32) -> Self {
        self.out_buffer = n;
        self
    }

    /// The input buffer size reported by [`PipeServer::info`].
    #[must_use]
    pub fn in_buffer_size(mut self, n: u32) -> Self {
        self.in_buffer = n;
        self
    }

    /// The timeout `WaitNamedPipe` uses with `NMPWAIT_USE_DEFAULT_WAIT`.
    #[must_use]
    pub fn default_timeout(mut self, timeout: Duration) -> Self {
        self.default_timeout = timeout;
        self
    }

    /// A security descriptor in SDDL; by default only the creator and root
    /// may open the pipe (Windows also lets everyone read; we do not).
    #[must_use]
    pub fn security(mut self, sddl: impl Into<String>) -> Self {
        self.sddl = Some(sddl.into());
        self
    }

    /// Creates an instance.
    ///
    /// # Windows equivalent
    ///
    /// `CreateNamedPipe`. Beyond the maximum instances: `ERROR_PIPE_BUSY`;
    /// another direction than the existing instances', or the first instance
    /// asked for when the pipe exists: `ERROR_ACCESS_DENIED`; byte type read
    /// in message mode: `ERROR_INVALID_PARAMETER`.
    pub fn create(&self, conn: &Connection, name: &str) -> Result<PipeServer> {
        let op = "CreateNamedPipe";
        let parsed = parse(op, name)?;
        let read_mode = self.read_mode.unwrap_or(self.pipe_type);
        let request = p::CreatePipe {
            name: parsed,
            inbound: self.direction != Direction::Outbound,
            outbound: self.direction != Direction::Inbound,
            first_instance: self.first_instance,
            pipe_type: self.pipe_type,
            read_mode,
            nowait: self.nowait,
            reject_remote: self.reject_remote,
            max_instances: self.max_instances,
            out_buffer: self.out_buffer,
            in_buffer: self.in_buffer,
            default_timeout_ms: u32::try_from(self.default_timeout.as_millis()).unwrap_or(u32::MAX),
            security: p::Security { sddl: self.sddl.clone() },
        };
        let handle = conn.call(request, op, Some(name))?;
        let mut access = AccessMask::default();
        if self.direction != Direction::Outbound {
            access |= FILE_READ_DATA;
        }
        if self.direction != Direction::Inbound {
            access |= FILE_WRITE_DATA;
        }
        let handle = OwnedHandle::new(conn.clone(), handle, Some(name.to_owned()));
        Ok(PipeServer { end: End::new(handle, name.to_owned(), true, self.pipe_type, read_mode, self.nowait, access) })
    }
}

/// How `ConnectNamedPipe` found the instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Connected {
    /// A client connected during the call.
    Now,
    /// A client had connected before the call (`ERROR_PIPE_CONNECTED`, a success).
    Already,
}

/// Information about a pipe end (`GetNamedPipeInfo` and kin).
pub type PipeInfo = PipeStatus;

/// What `GetNamedPipeHandleState` reports for one handle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HandleState {
    /// `PIPE_NOWAIT` is set on this handle.
    pub nowait: bool,
    /// How this handle reads (`PIPE_READMODE_*`).
    pub read_mode: PipeMode,
    /// Instances of the pipe that exist now.
    pub instances: u32,
}

impl HandleState {
    /// The Win32 state flags: `PIPE_NOWAIT` (1) | `PIPE_READMODE_MESSAGE` (2).
    pub fn flags(&self) -> u32 {
        u32::from(self.nowait) | if self.read_mode == PipeMode::Message { 2 } else { 0 }
    }
}

/// The server end of one pipe instance. Closed on drop.
#[derive(Debug)]
pub struct PipeServer {
    end: End,
}

/// The client end of a pipe. Closed on drop.
#[derive(Debug)]
pub struct PipeClient {
    end: End,
}

macro_rules! data_methods {
    () => {
        /// Reads: in message read mode, one message or as much of it as fits
        /// (`more` says the rest is waiting, `ERROR_MORE_DATA`); in byte read
        /// mode, whatever is there up to the buffer's size.
        ///
        /// # Windows equivalent
        ///
        /// `ReadFile`. After the other end closed and everything was read:
        /// `ERROR_BROKEN_PIPE`; after `DisconnectNamedPipe`:
        /// `ERROR_PIPE_NOT_CONNECTED`; nothing there in no-wait mode: `ERROR_NO_DATA`.
        pub fn read(&self, buf: &mut [u8]) -> Result<Received> {
            self.end.read(buf)
        }

        /// Reads one whole message (message read mode), however long.
        pub fn read_message(&self) -> Result<Vec<u8>> {
            let mut out = Vec::new();
            let mut chunk = vec![0u8; 64 * 1024];
            loop {
                let got = self.end.read(&mut chunk)?;
                out.extend_from_slice(&chunk[..got.len]);
                if !got.more {
                    return Ok(out);
                }
            }
        }

        /// Writes all of `data`: one message on a message-type pipe.
        ///
        /// # Windows equivalent
        ///
        /// `WriteFile`. After the other end closed: `ERROR_NO_DATA`.
        pub fn write(&self, data: &[u8]) -> Result<()> {
            self.end.write(data)
        }

        /// Waits until the other end has read everything written so far, or
        /// `timeout` passes (`None`: as long as it takes).
        ///
        /// # Windows equivalent
        ///
        /// `FlushFileBuffers`: blocks until the reader has drained the pipe;
        /// fails with `ERROR_BROKEN_PIPE` if the other end closes first.
        /// (`std::io::Write::flush` does not wait: nothing is buffered here.)
        pub fn flush_buffers(&self, timeout: Option<Duration>) -> Result<()> {
            self.end.flush(timeout)
        }

        /// Looks at waiting data without taking it.
        ///
        /// # Windows equivalent
        ///
        /// `PeekNamedPipe`.
        pub fn peek(&self, buf: &mut [u8]) -> Result<Peek> {
            self.end.peek(buf)
        }

        /// Writes one message and reads the reply.
        ///
        /// # Windows equivalent
        ///
        /// `TransactNamedPipe`: needs a message-type pipe in message read mode
        /// (`ERROR_BAD_PIPE`), and no unread data waiting (`ERROR_PIPE_BUSY`).
        pub fn transact(&self, input: &[u8], output: &mut [u8]) -> Result<Received> {
            self.end.transact(input, output)
        }

        /// Changes how this end reads (`SetNamedPipeHandleState`).
        pub fn set_read_mode(&self, mode: PipeMode) -> Result<()> {
            self.end.set_read_mode(mode)
        }

        /// How this end reads.
        pub fn read_mode(&self) -> PipeMode {
            self.end.read_mode()
        }

        /// Limits how long a read waits for data (`None`: forever).
        pub fn set_read_timeout(&self, timeout: Option<Duration>) {
            self.end.set_read_timeout(timeout);
        }

        /// The pipe's type, sizes, instance counts and this end's state.
        pub fn info(&self) -> Result<PipeInfo> {
            self.end.status("GetNamedPipeInfo")
        }

        /// This handle's modes and the pipe's current instance count
        /// (`GetNamedPipeHandleState`; the collection fields of remote
        /// byte pipes do not apply here).
        pub fn handle_state(&self) -> Result<HandleState> {
            let status = self.end.status("GetNamedPipeHandleState")?;
            Ok(HandleState { nowait: self.end.nowait, read_mode: self.end.read_mode(), instances: status.instances })
        }

        /// The pipe's full name.
        pub fn name(&self) -> &str {
            &self.end.name
        }

        /// The handle.
        pub fn handle(&self) -> &OwnedHandle {
            &self.end.handle
        }

        /// A descriptor of this end's channel, for a child process to use as
        /// it is (for example as its standard input or output). The child
        /// needs no Switchboard code; on a byte-type pipe it sees the bytes.
        pub fn duplicate_fd(&self) -> Result<std::os::fd::OwnedFd> {
            self.end.duplicate_fd("DuplicateHandle")
        }
    };
}

macro_rules! io_impls {
    ($t:ty) => {
        impl std::io::Read for &$t {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                match <$t>::read(self, buf) {
                    Ok(got) => Ok(got.len),
                    // The end of the other side is the end of the stream.
                    Err(e) if e.win32_error() == Win32Error::ERROR_BROKEN_PIPE => Ok(0),
                    Err(e) => Err(e.into()),
                }
            }
        }

        impl std::io::Read for $t {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                std::io::Read::read(&mut &*self, buf)
            }
        }

        impl std::io::Write for &$t {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                <$t>::write(self, buf).map(|()| buf.len()).map_err(Into::into)
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }

        impl std::io::Write for $t {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                std::io::Write::write(&mut &*self, buf)
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
    };
}

io_impls!(PipeServer);
io_impls!(PipeClient);

impl PipeServer {
    data_methods!();

    /// Waits for a client (`None`: as long as it takes).
    ///
    /// # Windows equivalent
    ///
    /// `ConnectNamedPipe`. A client that connected before the call gives
    /// [`Connected::Already`] (`ERROR_PIPE_CONNECTED`); one that came and
    /// went, `ERROR_NO_DATA`; in no-wait mode with nobody there,
    /// `ERROR_PIPE_LISTENING`. After `DisconnectNamedPipe` this makes the
    /// instance available to clients again.
    pub fn connect(&self, timeout: Option<Duration>) -> Result<Connected> {
        let op = "ConnectNamedPipe";
        let conn = self.end.handle.connection();
        let timeout_ms = timeout.map(|t| u64::try_from(t.as_millis()).unwrap_or(u64::MAX));
        let request = p::ConnectPipe { handle: self.end.handle.raw(), timeout_ms, take_only: false };
        let reply_within = timeout.map(|t| t.saturating_add(crate::DEFAULT_REQUEST_TIMEOUT));
        let (connected, mut fds) = conn.call_with_fds(request, op, Some(&self.end.name), reply_within)?;
        if let Some(fd) = fds.pop() {
            self.end.set_channel(fd);
        }
        Ok(if connected.already_connected { Connected::Already } else { Connected::Now })
    }

    /// Cuts the connection: unread data in both directions is discarded, and
    /// both ends then fail with `ERROR_PIPE_NOT_CONNECTED` until the server
    /// connects again.
    ///
    /// # Windows equivalent
    ///
    /// `DisconnectNamedPipe`.
    pub fn disconnect(&self) -> Result<()> {
        let conn = self.end.handle.connection();
        let result =
            conn.call(p::DisconnectPipe { handle: self.end.handle.raw() }, "DisconnectNamedPipe", Some(&self.end.name));
        self.end.drop_channel();
        result
    }

    /// Ends a `connect` that another thread is waiting in: it fails with
    /// `ERROR_OPERATION_ABORTED`. Returns whether one was waiting.
    ///
    /// # Windows equivalent
    ///
    /// `CancelIo` / `CancelSynchronousIo` on a pending `ConnectNamedPipe`.
    pub fn cancel_connect(&self) -> Result<bool> {
        let conn = self.end.handle.connection();
        conn.call(p::CancelConnect { handle: self.end.handle.raw() }, "CancelIo", Some(&self.end.name))
    }

    /// The client's identity for access decisions, available once something
    /// has been read from it.
    ///
    /// # Windows equivalent
    ///
    /// `ImpersonateNamedPipeClient`: before anything was read it fails with
    /// `ERROR_CANNOT_IMPERSONATE`. Linux has no impersonation tokens; the
    /// caller gets the client's credentials to decide with instead.
    pub fn impersonate_client(&self) -> Result<ClientIdentity> {
        if !self.end.has_read.load(std::sync::atomic::Ordering::Relaxed) {
            return Err(self.end.error(
                "ImpersonateNamedPipeClient",
                Win32Error::ERROR_CANNOT_IMPERSONATE,
                "nothing has been read from the client yet",
            ));
        }
        self.client()
    }

    /// The connected client's process id, user and groups: the Linux form of
    /// impersonating the client, for access decisions.
    ///
    /// # Windows equivalent
    ///
    /// `GetNamedPipeClientProcessId`; `ImpersonateNamedPipeClient` gives a
    /// token where this gives the credentials.
    pub fn client(&self) -> Result<ClientIdentity> {
        let op = "GetNamedPipeClientProcessId";
        let status = self.end.status(op)?;
        match (status.peer_pid, status.peer_uid, status.peer_gid) {
            (Some(pid), Some(uid), Some(gid)) => Ok(ClientIdentity { pid, uid, gid, groups: status.peer_groups }),
            _ => Err(self.end.error(op, Win32Error::ERROR_PIPE_NOT_CONNECTED, "no client is connected")),
        }
    }
}

/// Who the connected client is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientIdentity {
    /// Process id.
    pub pid: u32,
    /// User id.
    pub uid: u32,
    /// Primary group.
    pub gid: u32,
    /// Supplementary groups.
    pub groups: Vec<u32>,
}

impl PipeClient {
    data_methods!();

    /// Opens the pipe with the access wanted (`GENERIC_READ`, `GENERIC_WRITE`,
    /// both, or 0 to query only). The client end starts in byte read mode.
    ///
    /// # Windows equivalent
    ///
    /// `CreateFile` on `\\.\pipe\NAME`: a missing pipe is
    /// `ERROR_FILE_NOT_FOUND`, no free instance `ERROR_PIPE_BUSY`, access the
    /// pipe's direction or DACL refuses `ERROR_ACCESS_DENIED`; a pipe on
    /// another machine is `ERROR_NOT_SUPPORTED` for now.
    pub fn open(conn: &Connection, name: &str, access: impl Into<AccessMask>) -> Result<PipeClient> {
        let access = access.into();
        let op = "CreateFile";
        let parsed = parse(op, name)?;
        let (opened, mut fds) = conn.call_with_fds(p::OpenPipe { name: parsed, access }, op, Some(name), None)?;
        let handle = OwnedHandle::new(conn.clone(), opened.handle, Some(name.to_owned()));
        let end = End::new(handle, name.to_owned(), false, opened.pipe_type, PipeMode::Byte, false, opened.access);
        if let Some(fd) = fds.pop() {
            end.set_channel(fd);
        }
        Ok(PipeClient { end })
    }

    /// Waits for a free instance, then opens it; `timeout` bounds the wait.
    pub fn open_wait(
        conn: &Connection,
        name: &str,
        access: impl Into<AccessMask>,
        timeout: Duration,
    ) -> Result<PipeClient> {
        let access = access.into();
        let deadline = std::time::Instant::now() + timeout;
        loop {
            match Self::open(conn, name, access) {
                Err(e) if e.win32_error() == Win32Error::ERROR_PIPE_BUSY => {
                    let left = deadline.saturating_duration_since(std::time::Instant::now());
                    wait_named_pipe(conn, name, WaitTimeout::Exactly(left))?;
                }
                other => return other,
            }
        }
    }

    /// The server's process id (`GetNamedPipeServerProcessId`).
    pub fn server_process_id(&self) -> Result<u32> {
        let op = "GetNamedPipeServerProcessId";
        let status = self.end.status(op)?;
        status.peer_pid.ok_or_else(|| self.end.error(op, Win32Error::ERROR_PIPE_NOT_CONNECTED, "the server is gone"))
    }
}

/// How long `WaitNamedPipe` waits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitTimeout {
    /// The pipe's default timeout (`NMPWAIT_USE_DEFAULT_WAIT`).
    Default,
    /// Until an instance is free (`NMPWAIT_WAIT_FOREVER`).
    Forever,
    /// At most this long.
    Exactly(Duration),
}

/// Waits until an instance of the pipe is free for a client.
///
/// # Windows equivalent
///
/// `WaitNamedPipe`: a missing pipe is `ERROR_FILE_NOT_FOUND` at once; no
/// instance freed in time is `ERROR_SEM_TIMEOUT`.
pub fn wait_named_pipe(conn: &Connection, name: &str, timeout: WaitTimeout) -> Result<()> {
    let op = "WaitNamedPipe";
    let parsed = parse(op, name)?;
    let (timeout_ms, use_default) = match timeout {
        WaitTimeout::Default => (None, true),
        WaitTimeout::Forever => (None, false),
        WaitTimeout::Exactly(d) => (Some(u64::try_from(d.as_millis()).unwrap_or(u64::MAX)), false),
    };
    let reply_within = match timeout {
        WaitTimeout::Forever => None,
        WaitTimeout::Default => Some(crate::DEFAULT_REQUEST_TIMEOUT * 2),
        WaitTimeout::Exactly(d) => Some(d.saturating_add(crate::DEFAULT_REQUEST_TIMEOUT)),
    };
    conn.call_for(p::WaitPipe { name: parsed, timeout_ms, use_default }, op, Some(name), reply_within).map_err(|e| {
        if e.win32_error() == Win32Error::ERROR_SEM_TIMEOUT {
            Error::new(ErrorKind::TimedOut, Win32Error::ERROR_SEM_TIMEOUT, op, Some(name), e.reason().to_owned())
        } else {
            e
        }
    })
}

/// Opens the pipe (waiting up to `timeout` for a free instance), writes one
/// message, reads one reply into `output`, and closes the pipe. A reply
/// longer than `output` comes back with `more` set and its rest is lost.
///
/// # Windows equivalent
///
/// `CallNamedPipe`; like it, fails on byte-type pipes (`ERROR_BAD_PIPE`).
/// Windows bounds only the wait for an instance with the timeout; here it
/// bounds the wait for the reply too (`ERROR_SEM_TIMEOUT`), so a server that
/// never answers cannot hang the caller.
pub fn call_named_pipe(
    conn: &Connection,
    name: &str,
    input: &[u8],
    output: &mut [u8],
    timeout: Duration,
) -> Result<Received> {
    let client = PipeClient::open_wait(conn, name, GENERIC_READ_WRITE, timeout)?;
    client.set_read_mode(PipeMode::Message).map_err(|e| {
        Error::new(ErrorKind::Refused, Win32Error::ERROR_BAD_PIPE, "CallNamedPipe", Some(name), e.reason().to_owned())
    })?;
    client.set_read_timeout(Some(timeout));
    client.transact(input, output)
}

/// Every named pipe of the realm, with its instance counts.
pub fn list(conn: &Connection) -> Result<Vec<PipeListing>> {
    conn.call(p::ListPipes, "ListPipes", None)
}
