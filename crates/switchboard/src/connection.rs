//! The connection to the realm's broker.
//!
//! One Unix socket per [`Connection`], shared by every thread and handle that
//! uses it. Requests are written under a lock. Replies are read by whichever
//! waiting caller gets there first, which files the others' replies and wakes
//! them: one thread blocked in a long wait never holds up another thread's
//! request, and the common single-threaded call costs no thread switch.

use std::collections::{HashMap, VecDeque};
use std::io::{Read, Write};
use std::os::fd::{BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use switchboard_proto::{
    Call, HandshakeReply, HandshakeStatus, Hello, PROTOCOL_VERSION, Reply, ReplyFrame, RequestFrame, WireError,
    decode_body, encode_frame, split_frame,
};
use switchboard_sys::{Realm, RealmChoice};

use crate::autostart;
use crate::error::{Error, ErrorKind, Result, Win32Error};

/// How long a request that does not block by nature may take.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest reply frame accepted from the broker.
const MAX_REPLY_FRAME: usize = 16 << 20;

/// A reply and the descriptors that came with it.
type Outcome = (std::result::Result<Reply, WireError>, Vec<OwnedFd>);

/// Replies on their way to the threads that asked. No thread of its own
/// reads the socket: a caller that needs a reply reads it itself when nobody
/// else is (the leader), and hands the replies of the others over.
#[derive(Debug, Default)]
struct State {
    /// Registered requests; `Some` once answered.
    replies: HashMap<u32, Option<Outcome>>,
    /// A thread is reading the socket.
    reader_busy: bool,
    /// Threads asleep on `answered` (notifying nobody is a wasted syscall).
    sleepers: usize,
    /// Bytes read but not yet a whole frame.
    rbuf: Vec<u8>,
    /// Descriptors received and not yet given to a reply, in arrival order.
    fds: VecDeque<OwnedFd>,
    /// Why the connection is unusable, once it is.
    lost: Option<String>,
}

#[derive(Debug)]
struct Inner {
    /// One socket for both directions: writes happen under `writer` (which
    /// holds the reusable frame buffer), reads under `reader` (a
    /// `&UnixStream` reads and writes).
    stream: UnixStream,
    writer: Mutex<Vec<u8>>,
    reader: Mutex<Reader>,
    state: Mutex<State>,
    answered: Condvar,
    next_id: AtomicU32,
    broker_pid: u32,
    socket: PathBuf,
    request_timeout: Duration,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Tells the broker to close our handles.
        let _ = self.stream.shutdown(std::net::Shutdown::Both);
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The reading side's state: the read timeout last set on the socket.
#[derive(Debug)]
struct Reader {
    timeout: Option<Duration>,
}

impl Reader {
    /// Sets the read timeout, rounded up to 10 ms so that successive calls
    /// with the usual deadline need no `setsockopt` each.
    fn set_timeout(&mut self, stream: &UnixStream, left: Option<Duration>) -> std::io::Result<()> {
        let rounded =
            left.map(|l| Duration::from_millis(u64::try_from(l.as_millis().div_ceil(10) * 10).unwrap_or(u64::MAX)));
        if rounded != self.timeout {
            stream.set_read_timeout(rounded)?;
            self.timeout = rounded;
        }
        Ok(())
    }
}

/// Why no reply came.
enum NoReply {
    TimedOut,
    Lost(String),
}

/// A connection to a Switchboard broker. Cheap to clone (clones share one
/// socket); `Send` and `Sync`. Handles opened through a connection keep it
/// alive and are closed by the broker when the last clone goes away.
///
/// # Windows equivalent
///
/// None: on Windows every process is connected to the kernel's object
/// manager. Here the broker plays that part, and a process that holds no
/// connection holds no handles.
#[derive(Clone, Debug)]
pub struct Connection {
    inner: Arc<Inner>,
}

/// How to connect.
#[derive(Clone, Debug)]
pub struct ConnectOptions {
    realm: Option<RealmChoice>,
    autostart: Option<bool>,
    request_timeout: Duration,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self { realm: None, autostart: None, request_timeout: DEFAULT_REQUEST_TIMEOUT }
    }
}

impl ConnectOptions {
    /// Defaults: the realm the environment names (`SWITCHBOARD_REALM=system`
    /// for the system realm, `$SWITCHBOARD_SOCKET` for a socket) or the user
    /// realm; start a broker if none answers unless
    /// `SWITCHBOARD_NO_AUTOSTART=1`.
    pub fn new() -> Self {
        Self::default()
    }

    /// Connect to the broker at this socket instead of the realm's. The
    /// system realm's socket, however spelt, is the system realm.
    #[must_use]
    pub fn socket(mut self, path: impl Into<PathBuf>) -> Self {
        self.realm = Some(RealmChoice::Socket(path.into()));
        self
    }

    /// Connect to this realm whatever the environment says.
    ///
    /// In the system realm a client only ever starts `switchboardd
    /// --system`, and only when it runs as root; otherwise it reports that
    /// the system broker is not running.
    #[must_use]
    pub fn realm(mut self, realm: RealmChoice) -> Self {
        self.realm = Some(realm);
        self
    }

    /// Start a broker when none answers (default: yes, unless
    /// `SWITCHBOARD_NO_AUTOSTART=1`).
    #[must_use]
    pub fn autostart(mut self, yes: bool) -> Self {
        self.autostart = Some(yes);
        self
    }

    /// How long a non-blocking request may take before it fails with
    /// [`ErrorKind::TimedOut`] (default 30 s).
    #[must_use]
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Connects.
    pub fn connect(&self) -> Result<Connection> {
        let refused = |e: switchboard_sys::RealmError| {
            Error::new(ErrorKind::BrokerUnreachable, Win32Error::ERROR_ACCESS_DENIED, "Connect", None, e.to_string())
        };
        let choice = match &self.realm {
            Some(choice) => choice.clone(),
            None => RealmChoice::from_env().map_err(refused)?,
        };
        let realm = choice.open(false).map_err(refused)?;
        let autostart =
            self.autostart.unwrap_or_else(|| std::env::var_os("SWITCHBOARD_NO_AUTOSTART").is_none_or(|v| v != "1"));
        match Connection::open_socket(&realm, self.request_timeout) {
            Err(e) if autostart && e.kind() == ErrorKind::BrokerUnreachable => {
                autostart::start_broker(&realm, || Connection::open_socket(&realm, self.request_timeout))
            }
            other => other,
        }
    }
}

impl Connection {
    /// Connects to the realm's broker, starting one if none answers (see
    /// [`ConnectOptions`]).
    pub fn connect() -> Result<Self> {
        ConnectOptions::new().connect()
    }

    /// The process-wide connection, made on first use and remade if the
    /// broker went away.
    pub fn shared() -> Result<Self> {
        static SHARED: Mutex<Option<Connection>> = Mutex::new(None);
        let mut slot = lock(&SHARED);
        if let Some(conn) = slot.as_ref().filter(|c| c.is_alive()) {
            return Ok(conn.clone());
        }
        let conn = Self::connect()?;
        *slot = Some(conn.clone());
        Ok(conn)
    }

    /// The broker's process id.
    pub fn broker_pid(&self) -> u32 {
        self.inner.broker_pid
    }

    /// The socket this connection uses.
    pub fn socket(&self) -> &Path {
        &self.inner.socket
    }

    /// Whether the broker is still there, as far as this connection knows.
    pub fn is_alive(&self) -> bool {
        lock(&self.inner.state).lost.is_none()
    }

    /// Whether two connections share one socket.
    pub fn same_as(&self, other: &Connection) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    pub(crate) fn open_socket(realm: &Realm, request_timeout: Duration) -> Result<Self> {
        let unreachable = |why: String| {
            Error::new(ErrorKind::BrokerUnreachable, Win32Error::ERROR_SERVICE_NOT_ACTIVE, "Connect", None, why)
        };
        realm.check_socket_owner().map_err(|e| unreachable(e.to_string()))?;
        let mut stream = UnixStream::connect(&realm.socket)
            .map_err(|e| unreachable(format!("no broker answers at {}: {e}", realm.socket.display())))?;
        let broker = switchboard_sys::peer_credentials(&stream)
            .map_err(|e| unreachable(format!("cannot identify the broker: {e}")))?;
        let me = switchboard_sys::current_uid();
        if broker.uid != me && broker.uid != 0 {
            return Err(unreachable(format!(
                "the process at {} runs as uid {}, neither this user nor root",
                realm.socket.display(),
                broker.uid
            )));
        }
        let reply = handshake(&mut stream, request_timeout).map_err(|e| {
            let why = format!("handshake with the broker at {} failed: {e}", realm.socket.display());
            if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) {
                Error::new(ErrorKind::TimedOut, Win32Error::ERROR_TIMEOUT, "Connect", None, why)
            } else {
                unreachable(why)
            }
        })?;
        match reply.status {
            HandshakeStatus::Accepted => {}
            HandshakeStatus::VersionMismatch => {
                return Err(Error::new(
                    ErrorKind::VersionMismatch,
                    Win32Error::ERROR_REVISION_MISMATCH,
                    "Connect",
                    None,
                    reply.message,
                ));
            }
            HandshakeStatus::Refused | HandshakeStatus::OverQuota => {
                let code = if reply.status == HandshakeStatus::OverQuota {
                    Win32Error::ERROR_NOT_ENOUGH_QUOTA
                } else {
                    Win32Error::ERROR_NO_SYSTEM_RESOURCES
                };
                return Err(Error::new(ErrorKind::Refused, code, "Connect", None, reply.message));
            }
        }
        Ok(Self {
            inner: Arc::new(Inner {
                stream,
                writer: Mutex::new(Vec::with_capacity(256)),
                reader: Mutex::new(Reader { timeout: None }),
                state: Mutex::new(State::default()),
                answered: Condvar::new(),
                next_id: AtomicU32::new(1),
                broker_pid: reply.pid,
                socket: realm.socket.clone(),
                request_timeout,
            }),
        })
    }

    /// Sends a request and waits for its reply, for at most the connection's
    /// request timeout.
    pub(crate) fn call<C: Call>(&self, request: C, operation: &'static str, object: Option<&str>) -> Result<C::Reply> {
        self.call_for(request, operation, object, Some(self.inner.request_timeout))
    }

    /// Sends a request and waits `timeout` for its reply (`None`: as long as
    /// the connection lives).
    pub(crate) fn call_for<C: Call>(
        &self,
        request: C,
        operation: &'static str,
        object: Option<&str>,
        timeout: Option<Duration>,
    ) -> Result<C::Reply> {
        self.call_with_fds(request, operation, object, timeout).map(|(reply, _)| reply)
    }

    /// Like [`Connection::call_for`], also returning the descriptors that
    /// came with the reply.
    pub(crate) fn call_with_fds<C: Call>(
        &self,
        request: C,
        operation: &'static str,
        object: Option<&str>,
        timeout: Option<Duration>,
    ) -> Result<(C::Reply, Vec<OwnedFd>)> {
        self.call_passing_fds(request, &[], operation, object, timeout)
    }

    /// Like [`Connection::call_with_fds`], sending `fds` with the request.
    pub(crate) fn call_passing_fds<C: Call>(
        &self,
        request: C,
        fds: &[BorrowedFd<'_>],
        operation: &'static str,
        object: Option<&str>,
        timeout: Option<Duration>,
    ) -> Result<(C::Reply, Vec<OwnedFd>)> {
        let fail = |kind, code, reason: String| Error::new(kind, code, operation, object, reason);
        let id = self
            .send(request.into_request(), true, fds)
            .map_err(|why| fail(ErrorKind::ConnectionLost, Win32Error::ERROR_BROKEN_PIPE, why))?;
        match self.wait_reply(id, timeout.map(|t| Instant::now() + t)) {
            Ok((Ok(reply), fds)) => C::from_reply(reply).map(|r| (r, fds)).ok_or_else(|| {
                fail(
                    ErrorKind::Protocol,
                    Win32Error::ERROR_INVALID_DATA,
                    "the broker answered with another kind of reply".into(),
                )
            }),
            Ok((Err(wire), _)) => Err(fail(ErrorKind::Refused, wire.code, wire.message)),
            Err(NoReply::TimedOut) => Err(fail(
                ErrorKind::TimedOut,
                Win32Error::ERROR_TIMEOUT,
                format!("the broker did not answer within {timeout:?}"),
            )),
            Err(NoReply::Lost(why)) => {
                Err(fail(ErrorKind::ConnectionLost, Win32Error::ERROR_BROKEN_PIPE, format!("lost the broker: {why}")))
            }
        }
    }

    /// Sends a request whose reply nobody wants (closing a handle on drop):
    /// id 0 tells the broker not to answer.
    pub(crate) fn send_and_forget<C: Call>(&self, request: C) {
        let _ = self.send(request.into_request(), false, &[]);
    }

    fn send(
        &self,
        request: switchboard_proto::Request,
        want_reply: bool,
        fds: &[BorrowedFd<'_>],
    ) -> std::result::Result<u32, String> {
        let id = if want_reply {
            let mut id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
            if id == 0 {
                id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
            }
            let mut state = lock(&self.inner.state);
            if let Some(why) = &state.lost {
                return Err(format!("lost the broker: {why}"));
            }
            state.replies.insert(id, None);
            id
        } else {
            0
        };
        let written = {
            // The frame buffer lives under the write lock and is reused.
            let mut bytes = lock(&self.inner.writer);
            bytes.clear();
            let declared = u8::try_from(fds.len()).unwrap_or(u8::MAX);
            encode_frame(&RequestFrame { id, fds: declared, request }, &mut bytes);
            if fds.is_empty() {
                (&self.inner.stream).write_all(&bytes)
            } else {
                // The descriptors travel with the frame's first byte.
                switchboard_sys::fdpass::send_with_fds(&self.inner.stream, &bytes, fds)
                    .and_then(|sent| (&self.inner.stream).write_all(&bytes[sent..]))
            }
        };
        if let Err(e) = written {
            lock(&self.inner.state).replies.remove(&id);
            return Err(format!("cannot write to the broker: {e}"));
        }
        Ok(id)
    }

    /// Waits for the reply to `id`, reading the socket itself when no other
    /// thread is.
    fn wait_reply(&self, id: u32, deadline: Option<Instant>) -> std::result::Result<Outcome, NoReply> {
        let mut state = lock(&self.inner.state);
        loop {
            if matches!(state.replies.get(&id), Some(Some(_)))
                && let Some(Some(outcome)) = state.replies.remove(&id)
            {
                return Ok(outcome);
            }
            if let Some(why) = &state.lost {
                let why = why.clone();
                state.replies.remove(&id);
                return Err(NoReply::Lost(why));
            }
            let now = Instant::now();
            if deadline.is_some_and(|d| now >= d) {
                state.replies.remove(&id);
                return Err(NoReply::TimedOut);
            }
            if state.reader_busy {
                state.sleepers += 1;
                state = match deadline {
                    Some(d) => {
                        self.inner.answered.wait_timeout(state, d - now).unwrap_or_else(PoisonError::into_inner).0
                    }
                    None => self.inner.answered.wait(state).unwrap_or_else(PoisonError::into_inner),
                };
                state.sleepers -= 1;
                continue;
            }
            state.reader_busy = true;
            let mut buf = std::mem::take(&mut state.rbuf);
            drop(state);
            let outcome = self.read_until_answered(id, &mut buf, deadline);
            state = lock(&self.inner.state);
            state.rbuf = buf;
            state.reader_busy = false;
            if let Err(why) = outcome {
                state.lost.get_or_insert(why);
            }
            if state.sleepers > 0 {
                // One of them must take over the reading.
                self.inner.answered.notify_all();
            }
        }
    }

    /// As the reading thread: reads replies and files them until the one to
    /// `id` is in, the deadline passes, or the connection breaks.
    fn read_until_answered(
        &self,
        id: u32,
        buf: &mut Vec<u8>,
        deadline: Option<Instant>,
    ) -> std::result::Result<(), String> {
        let mut reader = lock(&self.inner.reader);
        let mut chunk = [0u8; 8 * 1024];
        loop {
            if self.file_replies(buf, id)? {
                return Ok(());
            }
            let timeout = match deadline {
                Some(d) => match d.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => Some(left),
                    _ => return Ok(()),
                },
                None => None,
            };
            reader.set_timeout(&self.inner.stream, timeout).map_err(|e| format!("cannot set a read timeout: {e}"))?;
            let mut received = Vec::new();
            let got = switchboard_sys::fdpass::recv_with_fds(&self.inner.stream, &mut chunk, &mut received);
            if !received.is_empty() {
                lock(&self.inner.state).fds.extend(received);
            }
            match got {
                Ok(0) => return Err("the broker closed the connection".to_owned()),
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                    return Ok(());
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("read error: {e}")),
            }
        }
    }

    /// Files every whole reply in `buf`; true once the reply to `mine` is filed.
    fn file_replies(&self, buf: &mut Vec<u8>, mine: u32) -> std::result::Result<bool, String> {
        let mut used_total = 0;
        let mut got_mine = false;
        let mut woke_others = false;
        let result = loop {
            match split_frame(&buf[used_total..], MAX_REPLY_FRAME) {
                Ok(None) => break Ok(got_mine),
                Ok(Some((used, body))) => {
                    used_total += used;
                    let frame = decode_body::<ReplyFrame>(body)
                        .map_err(|e| format!("unreadable reply from the broker: {e}"))?;
                    let mut state = lock(&self.inner.state);
                    let wanted = usize::from(frame.fds);
                    if state.fds.len() < wanted {
                        break Err(format!("the broker announced {wanted} descriptors that did not arrive"));
                    }
                    let fds: Vec<OwnedFd> = state.fds.drain(..wanted).collect();
                    // Replies nobody registered (id 0, or a caller that gave up) are dropped.
                    if let Some(slot @ None) = state.replies.get_mut(&frame.id) {
                        *slot = Some((frame.result, fds));
                        got_mine |= frame.id == mine;
                        woke_others |= frame.id != mine && state.sleepers > 0;
                    }
                }
                Err(e) => break Err(format!("unreadable reply from the broker: {e}")),
            }
        };
        buf.drain(..used_total);
        if woke_others {
            self.inner.answered.notify_all();
        }
        result
    }
}

fn handshake(stream: &mut UnixStream, timeout: Duration) -> std::io::Result<HandshakeReply> {
    stream.set_read_timeout(Some(timeout))?;
    stream.write_all(&Hello { version: PROTOCOL_VERSION }.encode())?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 512];
    loop {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "the broker closed the connection"));
        }
        buf.extend_from_slice(&chunk[..n]);
        match HandshakeReply::decode(&buf) {
            Ok(Some((reply, used))) if used == buf.len() => {
                stream.set_read_timeout(None)?;
                return Ok(reply);
            }
            Ok(Some(_)) => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "unexpected bytes after the handshake",
                ));
            }
            Ok(None) => {}
            Err(e) => return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, e)),
        }
    }
}
