//! Mailslots: one-way messages from many writers to one reader.
//!
//! The reader creates `\\.\mailslot\NAME` with [`MailslotOptions`]; writers
//! open it with [`MailslotWriter::open`]. Messages keep their boundaries and
//! arrive in the order they were sent, zero-length ones included, and go
//! straight from writer to reader: the broker only introduces them.
//!
//! ```no_run
//! use std::time::Duration;
//! use switchboard::Connection;
//! use switchboard::mailslot::{MailslotOptions, MailslotWriter, ReadTimeout};
//!
//! # fn main() -> switchboard::Result<()> {
//! let conn = Connection::connect()?;
//! let slot = MailslotOptions::new().read_timeout(ReadTimeout::After(Duration::from_secs(1))).create(&conn, r"\\.\mailslot\news")?;
//! let writer = MailslotWriter::open(&conn, r"\\.\mailslot\news")?; // usually another process
//! writer.write(b"hello")?;
//! assert_eq!(slot.read_message()?, b"hello");
//! # Ok(()) }
//! ```

use std::collections::VecDeque;
use std::io;
use std::os::unix::net::UnixDatagram;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use switchboard_proto as p;
pub use switchboard_proto::MailslotListing;
use switchboard_types::MailslotName;

use crate::connection::Connection;
use crate::error::{Error, ErrorKind, Result, Win32Error};
use crate::handle::OwnedHandle;

/// `GENERIC_WRITE`.
const GENERIC_WRITE: u32 = 0x4000_0000;
/// The largest message sent in one piece: under the kernel's default
/// datagram send buffer (212,992 bytes less overhead), with room to spare.
pub const MAX_MESSAGE: usize = 64 * 1024;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn parse(op: &'static str, name: &str) -> Result<MailslotName> {
    let parsed = MailslotName::parse(name)
        .map_err(|e| Error::new(ErrorKind::InvalidArgument, e.code, op, Some(name), e.reason))?;
    if !parsed.is_local() {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            Win32Error::ERROR_NOT_SUPPORTED,
            op,
            Some(name),
            "mailslots on other machines and domains need the network, which is not supported yet",
        ));
    }
    Ok(parsed)
}

/// How long a read waits for a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadTimeout {
    /// Not at all: an empty mailslot fails at once (timeout 0).
    Immediately,
    /// At most this long.
    After(Duration),
    /// Until a message comes (`MAILSLOT_WAIT_FOREVER`).
    Forever,
}

impl ReadTimeout {
    /// The Win32 value: milliseconds, `u32::MAX` for forever.
    pub fn as_millis(self) -> u32 {
        match self {
            Self::Immediately => 0,
            Self::After(d) => u32::try_from(d.as_millis()).unwrap_or(u32::MAX - 1),
            Self::Forever => u32::MAX,
        }
    }
}

/// Options for `CreateMailslot`.
#[derive(Clone, Debug)]
pub struct MailslotOptions {
    max_message_size: u32,
    read_timeout: ReadTimeout,
    sddl: Option<String>,
}

impl Default for MailslotOptions {
    fn default() -> Self {
        Self { max_message_size: 0, read_timeout: ReadTimeout::Forever, sddl: None }
    }
}

impl MailslotOptions {
    /// Any message size, reads wait forever, default security.
    pub fn new() -> Self {
        Self::default()
    }

    /// The largest message writers may send (0: any size).
    #[must_use]
    pub fn max_message_size(mut self, bytes: u32) -> Self {
        self.max_message_size = bytes;
        self
    }

    /// How long reads wait.
    #[must_use]
    pub fn read_timeout(mut self, timeout: ReadTimeout) -> Self {
        self.read_timeout = timeout;
        self
    }

    /// A security descriptor in SDDL; by default only the creator and root may write.
    #[must_use]
    pub fn security(mut self, sddl: impl Into<String>) -> Self {
        self.sddl = Some(sddl.into());
        self
    }

    /// Creates the mailslot; the caller is its only reader.
    ///
    /// # Windows equivalent
    ///
    /// `CreateMailslot`: a name that is not a mailslot name is
    /// `ERROR_INVALID_NAME`; an existing name `ERROR_ALREADY_EXISTS`.
    pub fn create(&self, conn: &Connection, name: &str) -> Result<Mailslot> {
        let op = "CreateMailslot";
        let parsed = parse(op, name)?;
        let request = p::CreateMailslot {
            name: parsed,
            max_message_size: self.max_message_size,
            security: p::Security { sddl: self.sddl.clone() },
        };
        let (handle, mut fds) = conn.call_with_fds(request, op, Some(name), Some(crate::DEFAULT_REQUEST_TIMEOUT))?;
        let fd = fds.pop().ok_or_else(|| {
            Error::new(
                ErrorKind::Protocol,
                Win32Error::ERROR_INVALID_DATA,
                op,
                Some(name),
                "the broker sent no mailslot",
            )
        })?;
        let socket = UnixDatagram::from(fd);
        Ok(Mailslot {
            handle: OwnedHandle::new(conn.clone(), handle, Some(name.to_owned())),
            name: name.to_owned(),
            max_message_size: self.max_message_size,
            state: Mutex::new(ReaderState {
                socket,
                queue: VecDeque::new(),
                timeout: self.read_timeout,
                socket_timeout: SocketTimeout::Unset,
                scratch: vec![0u8; MAX_MESSAGE + 1],
            }),
        })
    }
}

/// What read timeout the socket has, so it is set only when it changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SocketTimeout {
    Unset,
    Set(Option<Duration>),
}

#[derive(Debug)]
struct ReaderState {
    socket: UnixDatagram,
    /// Messages taken from the socket and not yet read, oldest first.
    queue: VecDeque<Vec<u8>>,
    timeout: ReadTimeout,
    /// The read timeout set on the socket, once one has been set.
    socket_timeout: SocketTimeout,
    /// Reused for every receive.
    scratch: Vec<u8>,
}

impl ReaderState {
    /// Moves every message waiting in the socket into the queue.
    fn drain(&mut self) -> io::Result<()> {
        self.socket.set_nonblocking(true)?;
        let result = loop {
            match self.receive() {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break Ok(()),
                Err(e) => break Err(e),
            }
        };
        self.socket.set_nonblocking(false)?;
        result
    }

    /// Waits for one message (at most `wait`; `None` forever) and queues it.
    fn wait_one(&mut self, wait: Option<Duration>) -> io::Result<()> {
        if self.socket_timeout != SocketTimeout::Set(wait) {
            self.socket.set_read_timeout(wait)?;
            self.socket_timeout = SocketTimeout::Set(wait);
        }
        self.receive()
    }

    fn receive(&mut self) -> io::Result<()> {
        let n = self.socket.recv(&mut self.scratch)?;
        // A message longer than any writer of ours sends came from elsewhere: drop it.
        if n <= MAX_MESSAGE {
            self.queue.push_back(self.scratch[..n].to_vec());
        }
        Ok(())
    }
}

/// What `GetMailslotInfo` reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MailslotInfo {
    /// The largest message allowed (0: any).
    pub max_message_size: u32,
    /// The next message's size; `None` when there is none (`MAILSLOT_NO_MESSAGE`).
    pub next_size: Option<usize>,
    /// Messages waiting.
    pub count: usize,
    /// The read timeout.
    pub read_timeout: ReadTimeout,
}

/// A mailslot, as its reader holds it. Closed (and the name freed) on drop.
#[derive(Debug)]
pub struct Mailslot {
    handle: OwnedHandle,
    name: String,
    max_message_size: u32,
    state: Mutex<ReaderState>,
}

impl Mailslot {
    fn error(&self, op: &'static str, code: Win32Error, reason: impl Into<String>) -> Error {
        let kind = if code == Win32Error::ERROR_SEM_TIMEOUT { ErrorKind::TimedOut } else { ErrorKind::Refused };
        Error::new(kind, code, op, Some(&self.name), reason)
    }

    /// Reads the next message into `buf`, waiting as the read timeout says.
    /// A buffer smaller than the message fails and leaves it queued.
    ///
    /// # Windows equivalent
    ///
    /// `ReadFile` on a mailslot: nothing in time is `ERROR_SEM_TIMEOUT` (for
    /// zero-byte reads too); a buffer too small is `ERROR_INSUFFICIENT_BUFFER`.
    pub fn read(&self, buf: &mut [u8]) -> Result<usize> {
        let op = "ReadFile";
        let mut state = lock(&self.state);
        self.wait_for_message(op, &mut state)?;
        let Some(next) = state.queue.front() else {
            return Err(self.error(op, Win32Error::ERROR_SEM_TIMEOUT, "no message arrived in time"));
        };
        if next.len() > buf.len() {
            return Err(self.error(
                op,
                Win32Error::ERROR_INSUFFICIENT_BUFFER,
                format!("the next message has {} bytes", next.len()),
            ));
        }
        let message = state.queue.pop_front().unwrap_or_default();
        buf[..message.len()].copy_from_slice(&message);
        Ok(message.len())
    }

    /// Reads the next message, whatever its size.
    pub fn read_message(&self) -> Result<Vec<u8>> {
        let op = "ReadFile";
        let mut state = lock(&self.state);
        self.wait_for_message(op, &mut state)?;
        state
            .queue
            .pop_front()
            .ok_or_else(|| self.error(op, Win32Error::ERROR_SEM_TIMEOUT, "no message arrived in time"))
    }

    fn wait_for_message(&self, op: &'static str, state: &mut ReaderState) -> Result<()> {
        let io_err = |e: io::Error| self.error(op, Win32Error::ERROR_INVALID_DATA, e.to_string());
        if !state.queue.is_empty() {
            return Ok(());
        }
        state.drain().map_err(io_err)?;
        let deadline = match state.timeout {
            ReadTimeout::Immediately => return Ok(()),
            ReadTimeout::After(d) => Some(Instant::now() + d),
            ReadTimeout::Forever => None,
        };
        while state.queue.is_empty() {
            let wait = match deadline {
                Some(d) => match d.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => Some(left),
                    _ => return Ok(()),
                },
                None => None,
            };
            match state.wait_one(wait) {
                Ok(()) => {}
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {}
                Err(e) => return Err(io_err(e)),
            }
        }
        Ok(())
    }

    /// Maximum size, next message size, message count and read timeout.
    ///
    /// # Windows equivalent
    ///
    /// `GetMailslotInfo`.
    pub fn info(&self) -> Result<MailslotInfo> {
        let mut state = lock(&self.state);
        state.drain().map_err(|e| self.error("GetMailslotInfo", Win32Error::ERROR_INVALID_DATA, e.to_string()))?;
        Ok(MailslotInfo {
            max_message_size: self.max_message_size,
            next_size: state.queue.front().map(Vec::len),
            count: state.queue.len(),
            read_timeout: state.timeout,
        })
    }

    /// Changes the read timeout, the only thing that can change.
    ///
    /// # Windows equivalent
    ///
    /// `SetMailslotInfo`.
    pub fn set_read_timeout(&self, timeout: ReadTimeout) {
        lock(&self.state).timeout = timeout;
    }

    /// The mailslot's full name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The handle.
    pub fn handle(&self) -> &OwnedHandle {
        &self.handle
    }
}

/// A writer of a mailslot. Several writers, in several processes, may write
/// at once. Closed on drop.
#[derive(Debug)]
pub struct MailslotWriter {
    handle: OwnedHandle,
    name: String,
    max_message_size: u32,
    socket: UnixDatagram,
}

impl MailslotWriter {
    /// Opens a mailslot for writing.
    ///
    /// # Windows equivalent
    ///
    /// `CreateFile` on `\\.\mailslot\NAME` with `GENERIC_WRITE`: a missing
    /// mailslot is `ERROR_FILE_NOT_FOUND`; one on another machine or domain,
    /// or broadcast to one (`\\*\mailslot\…`), is `ERROR_NOT_SUPPORTED` until
    /// the network arrives.
    pub fn open(conn: &Connection, name: &str) -> Result<MailslotWriter> {
        let op = "CreateFile";
        let parsed = parse(op, name)?;
        let (opened, mut fds) = conn.call_with_fds(
            p::OpenMailslot { name: parsed, access: GENERIC_WRITE },
            op,
            Some(name),
            Some(crate::DEFAULT_REQUEST_TIMEOUT),
        )?;
        let fd = fds.pop().ok_or_else(|| {
            Error::new(
                ErrorKind::Protocol,
                Win32Error::ERROR_INVALID_DATA,
                op,
                Some(name),
                "the broker sent no mailslot",
            )
        })?;
        Ok(MailslotWriter {
            handle: OwnedHandle::new(conn.clone(), opened.handle, Some(name.to_owned())),
            name: name.to_owned(),
            max_message_size: opened.max_message_size,
            socket: UnixDatagram::from(fd),
        })
    }

    /// Sends one message.
    ///
    /// # Windows equivalent
    ///
    /// `WriteFile` on a mailslot: a message larger than the maximum fails
    /// (`ERROR_INVALID_PARAMETER`); once the reader is gone, writes fail
    /// with `ERROR_FILE_NOT_FOUND`.
    pub fn write(&self, message: &[u8]) -> Result<()> {
        let op = "WriteFile";
        let fail = |code, reason: String| Error::new(ErrorKind::Refused, code, op, Some(&self.name), reason);
        if self.max_message_size != 0 && message.len() > self.max_message_size as usize {
            return Err(fail(
                Win32Error::ERROR_INVALID_PARAMETER,
                format!(
                    "the message has {} bytes; this mailslot takes at most {}",
                    message.len(),
                    self.max_message_size
                ),
            ));
        }
        if message.len() > MAX_MESSAGE {
            return Err(fail(
                Win32Error::ERROR_INVALID_PARAMETER,
                format!("messages are limited to {MAX_MESSAGE} bytes here"),
            ));
        }
        match self.socket.send(message) {
            Ok(_) => Ok(()),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::ConnectionRefused | io::ErrorKind::NotConnected | io::ErrorKind::BrokenPipe
                ) =>
            {
                Err(fail(Win32Error::ERROR_FILE_NOT_FOUND, "the mailslot's reader is gone".into()))
            }
            Err(e) => Err(fail(Win32Error::ERROR_INVALID_DATA, e.to_string())),
        }
    }

    /// The mailslot's maximum message size (0: any).
    pub fn max_message_size(&self) -> u32 {
        self.max_message_size
    }

    /// The handle.
    pub fn handle(&self) -> &OwnedHandle {
        &self.handle
    }
}

/// Every mailslot of the realm.
pub fn list(conn: &Connection) -> Result<Vec<MailslotListing>> {
    conn.call(p::ListMailslots, "ListMailslots", None)
}
