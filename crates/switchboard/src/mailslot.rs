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

use std::io;
use std::os::unix::net::UnixDatagram;
use std::sync::atomic::Ordering;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use rustix::net::RecvFlags;
use switchboard_proto as p;
pub use switchboard_proto::{MailslotListing, MailslotStatus};
use switchboard_sys::shm::CounterPage;
use switchboard_types::MailslotName;

use crate::connection::Connection;
use crate::error::{Error, ErrorKind, Result, Win32Error};
use crate::handle::OwnedHandle;

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
        let (handle, fds) = conn.call_with_fds(request, op, Some(name), Some(crate::DEFAULT_REQUEST_TIMEOUT))?;
        let (socket, page) = take_ends(op, name, fds)?;
        Ok(Mailslot {
            handle: OwnedHandle::new(conn.clone(), handle, Some(name.to_owned())),
            name: name.to_owned(),
            max_message_size: self.max_message_size,
            socket,
            page,
            state: Mutex::new(ReaderState {
                timeout: self.read_timeout,
                socket_timeout: SocketTimeout::Unset,
                held: None,
                scratch: vec![0u8; MAX_MESSAGE + 1],
            }),
        })
    }
}

/// The socket and the counter page that come with a create or an open.
fn take_ends(op: &'static str, name: &str, fds: Vec<std::os::fd::OwnedFd>) -> Result<(UnixDatagram, CounterPage)> {
    let missing = || {
        Error::new(ErrorKind::Protocol, Win32Error::ERROR_INVALID_DATA, op, Some(name), "the broker sent no mailslot")
    };
    let mut fds = fds.into_iter();
    let socket = UnixDatagram::from(fds.next().ok_or_else(missing)?);
    let page_fd = fds.next().ok_or_else(missing)?;
    let page = CounterPage::map(&page_fd, COUNTERS)
        .map_err(|e| Error::new(ErrorKind::Protocol, Win32Error::ERROR_INVALID_DATA, op, Some(name), e.to_string()))?;
    Ok((socket, page))
}

/// Counter 0: messages sent; counter 1: messages received.
const COUNTERS: usize = 2;
const SENT: usize = 0;
const RECEIVED: usize = 1;

/// What read timeout the socket has, so it is set only when it changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SocketTimeout {
    Unset,
    Set(Option<Duration>),
}

#[derive(Debug)]
struct ReaderState {
    timeout: ReadTimeout,
    socket_timeout: SocketTimeout,
    /// A message taken from the socket that did not fit the caller's buffer:
    /// still waiting, and served first.
    held: Option<Vec<u8>>,
    /// Where each message is received, in one system call.
    scratch: Vec<u8>,
}

/// What `GetMailslotInfo` reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MailslotInfo {
    /// The largest message allowed (0: any).
    pub max_message_size: u32,
    /// The next message's size; `None` when there is none (`MAILSLOT_NO_MESSAGE`).
    pub next_size: Option<usize>,
    /// Messages waiting.
    pub count: u64,
    /// The read timeout.
    pub read_timeout: ReadTimeout,
}

/// A mailslot, as its reader holds it. Closed (and the name freed) on drop.
#[derive(Debug)]
pub struct Mailslot {
    handle: OwnedHandle,
    name: String,
    max_message_size: u32,
    socket: UnixDatagram,
    page: CounterPage,
    /// Held across a read, so one message goes to exactly one reader.
    /// (A message held back after `ERROR_INSUFFICIENT_BUFFER` lives here, so
    /// the broker's view of the next size skips it until it is read.)
    state: Mutex<ReaderState>,
}

impl Mailslot {
    fn error(&self, op: &'static str, code: Win32Error, reason: impl Into<String>) -> Error {
        let kind = if code == Win32Error::ERROR_SEM_TIMEOUT { ErrorKind::TimedOut } else { ErrorKind::Refused };
        Error::new(kind, code, op, Some(&self.name), reason)
    }

    /// The size of the next message without taking it; `None` when there is none.
    fn peek_size(&self) -> io::Result<Option<usize>> {
        let flags = RecvFlags::PEEK | RecvFlags::TRUNC | RecvFlags::DONTWAIT;
        let mut nothing: [u8; 0] = [];
        match rustix::net::recv(&self.socket, &mut nothing[..], flags) {
            Ok((_, len)) => Ok(Some(len)),
            Err(rustix::io::Errno::AGAIN) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Receives the next message into `state.scratch`, waiting as the read
    /// timeout says; its length, or `None` when none came in time.
    fn receive(&self, op: &'static str, state: &mut ReaderState) -> Result<Option<usize>> {
        let io_err = |e: io::Error| self.error(op, Win32Error::ERROR_INVALID_DATA, e.to_string());
        let deadline = match state.timeout {
            ReadTimeout::After(d) => Some(Instant::now() + d),
            ReadTimeout::Immediately | ReadTimeout::Forever => None,
        };
        loop {
            let flags =
                if state.timeout == ReadTimeout::Immediately { RecvFlags::DONTWAIT } else { RecvFlags::empty() };
            let wait = match deadline {
                Some(d) => match d.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => Some(left),
                    _ => return Ok(None),
                },
                None => None,
            };
            if state.timeout != ReadTimeout::Immediately && state.socket_timeout != SocketTimeout::Set(wait) {
                self.socket.set_read_timeout(wait).map_err(io_err)?;
                state.socket_timeout = SocketTimeout::Set(wait);
            }
            match rustix::net::recv(&self.socket, &mut state.scratch[..], flags) {
                // A message longer than any writer of ours sends came from elsewhere: drop it.
                Ok((_, len)) if len > MAX_MESSAGE => {}
                Ok((n, _)) => return Ok(Some(n)),
                Err(rustix::io::Errno::AGAIN) if state.timeout == ReadTimeout::Immediately => return Ok(None),
                Err(rustix::io::Errno::AGAIN | rustix::io::Errno::INTR) => {}
                Err(e) => return Err(io_err(e.into())),
            }
        }
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
        let message = match state.held.take() {
            Some(held) => held,
            None => match self.receive(op, &mut state)? {
                Some(n) if n <= buf.len() => {
                    buf[..n].copy_from_slice(&state.scratch[..n]);
                    self.page.counter(RECEIVED).fetch_add(1, Ordering::SeqCst);
                    return Ok(n);
                }
                Some(n) => state.scratch[..n].to_vec(),
                None => return Err(self.error(op, Win32Error::ERROR_SEM_TIMEOUT, "no message arrived in time")),
            },
        };
        if message.len() > buf.len() {
            let size = message.len();
            state.held = Some(message);
            return Err(self.error(
                op,
                Win32Error::ERROR_INSUFFICIENT_BUFFER,
                format!("the next message has {size} bytes"),
            ));
        }
        buf[..message.len()].copy_from_slice(&message);
        self.page.counter(RECEIVED).fetch_add(1, Ordering::SeqCst);
        Ok(message.len())
    }

    /// Reads the next message, whatever its size.
    pub fn read_message(&self) -> Result<Vec<u8>> {
        let op = "ReadFile";
        let mut state = lock(&self.state);
        let message = match state.held.take() {
            Some(held) => held,
            None => match self.receive(op, &mut state)? {
                Some(n) => state.scratch[..n].to_vec(),
                None => return Err(self.error(op, Win32Error::ERROR_SEM_TIMEOUT, "no message arrived in time")),
            },
        };
        self.page.counter(RECEIVED).fetch_add(1, Ordering::SeqCst);
        Ok(message)
    }

    /// Maximum size, next message size, message count and read timeout.
    ///
    /// # Windows equivalent
    ///
    /// `GetMailslotInfo`.
    pub fn info(&self) -> Result<MailslotInfo> {
        let state = lock(&self.state);
        let next_size = match &state.held {
            Some(held) => Some(held.len()),
            None => self
                .peek_size()
                .map_err(|e| self.error("GetMailslotInfo", Win32Error::ERROR_INVALID_DATA, e.to_string()))?,
        };
        let sent = self.page.counter(SENT).load(Ordering::SeqCst);
        let received = self.page.counter(RECEIVED).load(Ordering::SeqCst);
        Ok(MailslotInfo {
            max_message_size: self.max_message_size,
            next_size,
            count: sent.saturating_sub(received),
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
    page: CounterPage,
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
        let (opened, fds) = conn.call_with_fds(
            p::OpenMailslot { name: parsed, access: switchboard_types::access::standard::GENERIC_WRITE },
            op,
            Some(name),
            Some(crate::DEFAULT_REQUEST_TIMEOUT),
        )?;
        let (socket, page) = take_ends(op, name, fds)?;
        Ok(MailslotWriter {
            handle: OwnedHandle::new(conn.clone(), opened.handle, Some(name.to_owned())),
            name: name.to_owned(),
            max_message_size: opened.max_message_size,
            socket,
            page,
        })
    }

    /// Sends one message.
    ///
    /// # Windows equivalent
    ///
    /// `WriteFile` on a mailslot: a message larger than the maximum fails
    /// (`ERROR_INVALID_PARAMETER`); once the reader is gone, writes fail
    /// with `ERROR_FILE_NOT_FOUND`. (When the reader dies, writes fail from
    /// the moment the broker notices, which is when the reader's connection
    /// closes; a write in between is lost with the reader, as it would be
    /// had it arrived just before the death.)
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
        // Counted before it is queued, so the reader can never see more
        // received than sent.
        self.page.counter(SENT).fetch_add(1, Ordering::SeqCst);
        match self.socket.send(message) {
            Ok(_) => Ok(()),
            Err(e) => {
                self.page.counter(SENT).fetch_sub(1, Ordering::SeqCst);
                if matches!(
                    e.kind(),
                    io::ErrorKind::ConnectionRefused | io::ErrorKind::NotConnected | io::ErrorKind::BrokenPipe
                ) {
                    Err(fail(Win32Error::ERROR_FILE_NOT_FOUND, "the mailslot's reader is gone".into()))
                } else {
                    Err(fail(Win32Error::ERROR_INVALID_DATA, e.to_string()))
                }
            }
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

/// A mailslot's count and next message size, from any process (the reader
/// need not be reading).
///
/// # Windows equivalent
///
/// `GetMailslotInfo`, which Windows answers only on the reader's handle;
/// asking by name is an extension, so the broker answers only callers who
/// may read the mailslot's security (`READ_CONTROL`, its owner, or root)
/// and refuses others with `ERROR_ACCESS_DENIED`.
pub fn query(conn: &Connection, name: &str) -> Result<MailslotStatus> {
    let op = "GetMailslotInfo";
    let parsed = parse(op, name)?;
    conn.call(p::QueryMailslot { name: parsed }, op, Some(name))
}

/// Every mailslot of the realm. Another user's mailslot shows its name
/// only (the other fields `None`) unless its security grants the caller
/// `READ_CONTROL`; root sees everything.
pub fn list(conn: &Connection) -> Result<Vec<MailslotListing>> {
    conn.call(p::ListMailslots, "ListMailslots", None)
}
