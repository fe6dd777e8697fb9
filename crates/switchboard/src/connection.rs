//! The connection to the realm's broker.
//!
//! One Unix socket per [`Connection`], shared by every thread and handle that
//! uses it: requests are written under a lock, and a reader thread hands each
//! reply to the caller waiting for it, so a thread blocked in a wait never
//! holds up another thread's request.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use switchboard_proto::{
    Call, HandshakeReply, HandshakeStatus, Hello, PROTOCOL_VERSION, Reply, ReplyFrame, RequestFrame, WireError, decode_body,
    encode_frame, split_frame,
};
use switchboard_sys::Realm;

use crate::autostart;
use crate::error::{Error, ErrorKind, Result, Win32Error};

/// How long a request that does not block by nature may take.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest reply frame accepted from the broker.
const MAX_REPLY_FRAME: usize = 16 << 20;

type ReplySlot = SyncSender<std::result::Result<Reply, WireError>>;

#[derive(Debug, Default)]
struct Pending {
    waiting: HashMap<u32, ReplySlot>,
    lost: Option<String>,
}

#[derive(Debug)]
struct Inner {
    writer: Mutex<UnixStream>,
    pending: Arc<Mutex<Pending>>,
    next_id: AtomicU32,
    broker_pid: u32,
    socket: PathBuf,
    request_timeout: Duration,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Ends the reader thread, and tells the broker to close our handles.
        let _ = lock(&self.writer).shutdown(std::net::Shutdown::Both);
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
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
    socket: Option<PathBuf>,
    autostart: Option<bool>,
    request_timeout: Duration,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self { socket: None, autostart: None, request_timeout: DEFAULT_REQUEST_TIMEOUT }
    }
}

impl ConnectOptions {
    /// Defaults: the realm from `$SWITCHBOARD_SOCKET` or the user realm;
    /// start a broker if none answers unless `SWITCHBOARD_NO_AUTOSTART=1`.
    pub fn new() -> Self {
        Self::default()
    }

    /// Connect to the broker at this socket instead of the realm's.
    #[must_use]
    pub fn socket(mut self, path: impl Into<PathBuf>) -> Self {
        self.socket = Some(path.into());
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
        let realm = match &self.socket {
            Some(path) => Realm::custom(path),
            None => Realm::from_env().map_err(|e| Error::new(ErrorKind::BrokerUnreachable, Win32Error::ERROR_ACCESS_DENIED, "Connect", None, e.to_string()))?,
        };
        let autostart = self.autostart.unwrap_or_else(|| std::env::var_os("SWITCHBOARD_NO_AUTOSTART").is_none_or(|v| v != "1"));
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
        lock(&self.inner.pending).lost.is_none()
    }

    /// Whether two connections share one socket.
    pub fn same_as(&self, other: &Connection) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    pub(crate) fn open_socket(realm: &Realm, request_timeout: Duration) -> Result<Self> {
        let unreachable = |why: String| Error::new(ErrorKind::BrokerUnreachable, Win32Error::ERROR_SERVICE_NOT_ACTIVE, "Connect", None, why);
        realm.check_socket_owner().map_err(|e| unreachable(e.to_string()))?;
        let mut stream = UnixStream::connect(&realm.socket)
            .map_err(|e| unreachable(format!("no broker answers at {}: {e}", realm.socket.display())))?;
        let broker = switchboard_sys::peer_credentials(&stream).map_err(|e| unreachable(format!("cannot identify the broker: {e}")))?;
        let me = switchboard_sys::current_uid();
        if broker.uid != me && broker.uid != 0 {
            return Err(unreachable(format!("the process at {} runs as uid {}, neither this user nor root", realm.socket.display(), broker.uid)));
        }
        let reply = handshake(&mut stream).map_err(|e| unreachable(format!("handshake with the broker at {} failed: {e}", realm.socket.display())))?;
        match reply.status {
            HandshakeStatus::Accepted => {}
            HandshakeStatus::VersionMismatch => {
                return Err(Error::new(ErrorKind::VersionMismatch, Win32Error::ERROR_REVISION_MISMATCH, "Connect", None, reply.message));
            }
            HandshakeStatus::Refused => {
                return Err(Error::new(ErrorKind::Refused, Win32Error::ERROR_NO_SYSTEM_RESOURCES, "Connect", None, reply.message));
            }
        }
        let reader = stream.try_clone().map_err(|e| unreachable(e.to_string()))?;
        let pending = Arc::new(Mutex::new(Pending::default()));
        let for_reader = Arc::clone(&pending);
        std::thread::Builder::new()
            .name("switchboard-reader".into())
            .spawn(move || read_replies(reader, &for_reader))
            .map_err(|e| unreachable(format!("cannot start the reader thread: {e}")))?;
        Ok(Self {
            inner: Arc::new(Inner {
                writer: Mutex::new(stream),
                pending,
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
    pub(crate) fn call_for<C: Call>(&self, request: C, operation: &'static str, object: Option<&str>, timeout: Option<Duration>) -> Result<C::Reply> {
        let fail = |kind, code, reason: String| Error::new(kind, code, operation, object, reason);
        let (id, rx) = self.send(request.into_request(), true).map_err(|why| fail(ErrorKind::ConnectionLost, Win32Error::ERROR_BROKEN_PIPE, why))?;
        let rx = rx.ok_or_else(|| fail(ErrorKind::Protocol, Win32Error::ERROR_INVALID_DATA, "no reply slot".into()))?;
        let received = match timeout {
            Some(t) => rx.recv_timeout(t),
            None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        match received {
            Ok(Ok(reply)) => C::from_reply(reply)
                .ok_or_else(|| fail(ErrorKind::Protocol, Win32Error::ERROR_INVALID_DATA, "the broker answered with another kind of reply".into())),
            Ok(Err(wire)) => Err(fail(ErrorKind::Refused, wire.code, wire.message)),
            Err(RecvTimeoutError::Timeout) => {
                lock(&self.inner.pending).waiting.remove(&id);
                Err(fail(ErrorKind::TimedOut, Win32Error::ERROR_TIMEOUT, format!("the broker did not answer within {timeout:?}")))
            }
            Err(RecvTimeoutError::Disconnected) => {
                let why = lock(&self.inner.pending).lost.clone().unwrap_or_else(|| "connection closed".into());
                Err(fail(ErrorKind::ConnectionLost, Win32Error::ERROR_BROKEN_PIPE, format!("lost the broker: {why}")))
            }
        }
    }

    /// Sends a request whose reply nobody waits for (closing a handle on drop).
    pub(crate) fn send_and_forget<C: Call>(&self, request: C) {
        let _ = self.send(request.into_request(), false);
    }

    #[allow(clippy::type_complexity)]
    fn send(
        &self,
        request: switchboard_proto::Request,
        want_reply: bool,
    ) -> std::result::Result<(u32, Option<mpsc::Receiver<std::result::Result<Reply, WireError>>>), String> {
        let mut id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        if id == 0 {
            id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        }
        let rx = {
            let mut pending = lock(&self.inner.pending);
            if let Some(why) = &pending.lost {
                return Err(format!("lost the broker: {why}"));
            }
            want_reply.then(|| {
                let (tx, rx) = mpsc::sync_channel(1);
                pending.waiting.insert(id, tx);
                rx
            })
        };
        let mut bytes = Vec::new();
        encode_frame(&RequestFrame { id, request }, &mut bytes);
        let written = lock(&self.inner.writer).write_all(&bytes);
        if let Err(e) = written {
            lock(&self.inner.pending).waiting.remove(&id);
            return Err(format!("cannot write to the broker: {e}"));
        }
        Ok((id, rx))
    }
}

fn handshake(stream: &mut UnixStream) -> std::io::Result<HandshakeReply> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
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
            Ok(Some(_)) => return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "unexpected bytes after the handshake")),
            Ok(None) => {}
            Err(e) => return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, e)),
        }
    }
}

/// The reader thread: hands each reply to its waiter until the socket closes.
fn read_replies(mut stream: UnixStream, pending: &Mutex<Pending>) {
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    let mut chunk = vec![0u8; 64 * 1024];
    let why = loop {
        match stream.read(&mut chunk) {
            Ok(0) => break "the broker closed the connection".to_owned(),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => break format!("read error: {e}"),
        }
        let mut used_total = 0;
        let failure = loop {
            match split_frame(&buf[used_total..], MAX_REPLY_FRAME) {
                Ok(None) => break None,
                Ok(Some((used, body))) => {
                    let frame = decode_body::<ReplyFrame>(body);
                    used_total += used;
                    match frame {
                        Ok(frame) => {
                            if let Some(slot) = lock(pending).waiting.remove(&frame.id) {
                                let _ = slot.send(frame.result);
                            }
                        }
                        Err(e) => break Some(format!("unreadable reply from the broker: {e}")),
                    }
                }
                Err(e) => break Some(format!("unreadable reply from the broker: {e}")),
            }
        };
        buf.drain(..used_total);
        if let Some(why) = failure {
            break why;
        }
    };
    let mut p = lock(pending);
    p.lost = Some(why);
    // Dropping the senders wakes every waiter with "disconnected".
    p.waiting.clear();
}
