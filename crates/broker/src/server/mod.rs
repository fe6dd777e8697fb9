//! The broker's event loop: one thread, mio, around the sans-IO [`Core`].
//!
//! It owns the realm's lock and socket, accepts clients, performs the
//! handshake, cuts the byte stream into frames, feeds the core, writes its
//! replies, and drops clients that misbehave (oversized frames, garbage,
//! replies they never read) without disturbing the others.

use std::collections::{HashMap, VecDeque};
use std::fs::{self, File};
use std::io::{self, Read as _, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use mio::net::{UnixListener, UnixStream};
use mio::{Events, Interest, Poll, Token, Waker};
use switchboard_proto::{
    HandshakeReply, HandshakeStatus, Hello, PROTOCOL_VERSION, RequestFrame, decode_body, encode_frame, split_frame,
};
use switchboard_sys::{PeerCred, Realm, RealmKind};

use crate::core::{ClientId, Config, Core, Credentials, Output};

mod limits;
mod start;
pub use limits::Limits;
pub use start::StartError;
use start::{io_err, refuse_if_served, take_lock};

const LISTENER: Token = Token(0);
const SIGNALS: Token = Token(1);
const WAKER: Token = Token(2);
const FIRST_CLIENT: usize = 3;
/// Descriptors a client may have sent ahead of the frames that take them.
const MAX_PENDING_FDS: usize = 8;

/// How the server runs.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Where the socket and lock live.
    pub realm: Realm,
    /// The core's limits.
    pub core: Config,
    /// The largest request frame accepted, in bytes.
    pub max_frame: usize,
    /// Unsent reply bytes one client may accumulate before it is dropped.
    pub max_write_buffer: usize,
    /// Connections per user, handshake and frame time, replies' memory.
    pub limits: Limits,
}

impl ServerConfig {
    /// Defaults for a realm.
    pub fn new(realm: Realm) -> Self {
        let fds = switchboard_sys::limits::fd_limit();
        let (max_handles_per_uid, max_total_handles) = limits::handle_budget(fds);
        let core = Config {
            owner_uid: switchboard_sys::current_uid(),
            socket: realm.socket.display().to_string(),
            realm: realm.kind,
            registry_dir: Some(realm.registry_dir()),
            verify_threads: true,
            max_handles_per_uid,
            max_total_handles,
            ..Config::default()
        };
        let limits = Limits::for_budget(fds, core.max_clients);
        Self { realm, core, max_frame: switchboard_proto::frame::DEFAULT_MAX_FRAME, max_write_buffer: 8 << 20, limits }
    }
}

/// Stops a running server from another thread.
#[derive(Clone, Debug)]
pub struct StopHandle {
    waker: Arc<Waker>,
    flag: Arc<AtomicBool>,
}

impl StopHandle {
    /// Asks the server to stop; it finishes its current step, then returns from `run`.
    pub fn stop(&self) {
        self.flag.store(true, Ordering::SeqCst);
        let _ = self.waker.wake();
    }
}

/// What a bounded read found.
enum Read {
    /// The socket has no more bytes for now.
    Drained,
    /// The buffer is full; process it and read again.
    More,
    /// The client closed its end.
    Eof,
}

#[derive(Debug, PartialEq, Eq)]
enum Phase {
    Handshake,
    Ready,
    /// Flush what is queued, then close.
    Closing,
}

#[derive(Debug)]
struct Conn {
    stream: UnixStream,
    client: ClientId,
    cred: PeerCred,
    phase: Phase,
    rbuf: Vec<u8>,
    /// Descriptors received, in order, for the frames that declare them.
    fds_in: Vec<OwnedFd>,
    wbuf: Vec<u8>,
    /// Descriptors to send with the byte at this offset of `wbuf`.
    attachments: VecDeque<(usize, Vec<OwnedFd>)>,
    wants_write: bool,
    /// When it was accepted (the handshake's clock).
    accepted: Instant,
    /// Since when `rbuf` has held the start of a frame not yet complete.
    partial_since: Option<Instant>,
    /// Its requests are not taken while it leaves too many replies unread.
    paused: bool,
    /// When it last sent a frame (or was accepted).
    last_active: Instant,
}

/// A bound broker, ready to run.
#[derive(Debug)]
pub struct Server {
    config: ServerConfig,
    poll: Poll,
    listener: UnixListener,
    signals: Option<UnixStream>,
    conns: HashMap<Token, Conn>,
    /// Connections per user, for the per-user quota.
    conns_by_uid: HashMap<u32, usize>,
    by_client: HashMap<ClientId, Token>,
    next_token: usize,
    core: Core,
    stop: StopHandle,
    /// A descriptor kept spare: when the broker runs out, it is let go for
    /// the moment it takes to accept a client and tell it so.
    reserve: Option<File>,
    /// Paused clients whose replies drained: their requests are taken again.
    resumed: Vec<Token>,
    /// When the handshake and frame deadlines are next checked.
    next_sweep: Instant,
    _lock: File,
}

impl Server {
    /// Takes the realm's lock and binds its socket.
    pub fn bind(config: ServerConfig) -> Result<Self, StartError> {
        let realm = &config.realm;
        let lock = take_lock(&realm.lock)?;
        if let Ok(meta) = fs::symlink_metadata(&realm.socket) {
            // We hold the lock, but a broker started through another lock may
            // still serve the socket: only one nobody answers on is stale.
            if meta.file_type().is_socket() {
                refuse_if_served(&realm.socket)?;
                fs::remove_file(&realm.socket)
                    .map_err(io_err(format!("removing stale socket {}", realm.socket.display())))?;
            } else {
                return Err(StartError::Io {
                    what: format!("{} exists and is not a socket; refusing to replace it", realm.socket.display()),
                    source: io::ErrorKind::AlreadyExists.into(),
                });
            }
        }
        let std_listener = std::os::unix::net::UnixListener::bind(&realm.socket)
            .map_err(io_err(format!("binding {}", realm.socket.display())))?;
        let mode = if realm.kind == RealmKind::System { 0o666 } else { 0o600 };
        fs::set_permissions(&realm.socket, fs::Permissions::from_mode(mode))
            .map_err(io_err("setting the socket's mode"))?;
        std_listener.set_nonblocking(true).map_err(io_err("making the socket non-blocking"))?;
        let mut listener = UnixListener::from_std(std_listener);
        let poll = Poll::new().map_err(io_err("creating the event loop"))?;
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)
            .map_err(io_err("registering the listener"))?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER).map_err(io_err("creating the waker"))?);
        let core = Core::new(config.core.clone(), Instant::now(), Box::new(crate::os::OsResources));
        Ok(Self {
            config,
            poll,
            listener,
            signals: None,
            conns: HashMap::new(),
            conns_by_uid: HashMap::new(),
            by_client: HashMap::new(),
            next_token: FIRST_CLIENT,
            core,
            stop: StopHandle { waker, flag: Arc::new(AtomicBool::new(false)) },
            reserve: File::open("/dev/null").ok(),
            resumed: Vec::new(),
            next_sweep: Instant::now(),
            _lock: lock,
        })
    }

    /// A handle that stops the server from another thread.
    pub fn stop_handle(&self) -> StopHandle {
        self.stop.clone()
    }

    /// Stops gracefully on SIGTERM and SIGINT.
    pub fn handle_signals(&mut self) -> io::Result<()> {
        let (read, write) = std::os::unix::net::UnixStream::pair()?;
        read.set_nonblocking(true)?;
        write.set_nonblocking(true)?;
        for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
            signal_hook::low_level::pipe::register(signal, write.try_clone()?)?;
        }
        let mut read = UnixStream::from_std(read);
        self.poll.registry().register(&mut read, SIGNALS, Interest::READABLE)?;
        self.signals = Some(read);
        Ok(())
    }

    /// Serves until stopped (signal, stop handle, or a client's shutdown request).
    pub fn run(mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(256);
        tracing::info!(socket = %self.config.realm.socket.display(), pid = std::process::id(), "broker ready");
        loop {
            // The deadline is taken once, before the wait: asked again after
            // it, a timer the core sets relative to the present would always
            // lie ahead, and never fire.
            let before = Instant::now();
            let deadline = self.core.poll_timeout(before);
            let wake_at = deadline.map_or(self.next_sweep, |d| d.min(self.next_sweep));
            let timeout = Some(wake_at.saturating_duration_since(before) + Duration::from_micros(500));
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            for event in &events {
                match event.token() {
                    LISTENER => self.accept_all(),
                    SIGNALS => self.on_signal(),
                    WAKER => {}
                    token => self.on_client(token, event.is_readable(), event.is_writable()),
                }
            }
            for token in std::mem::take(&mut self.resumed) {
                self.on_client(token, true, false);
            }
            let now = Instant::now();
            if deadline.is_some_and(|t| t <= now) {
                self.core.handle_timeout(now);
            }
            if self.next_sweep <= now {
                self.sweep(now);
            }
            self.deliver();
            if self.stop.flag.load(Ordering::SeqCst) || self.core.shutdown_requested() {
                break;
            }
        }
        self.finish();
        Ok(())
    }

    fn on_signal(&mut self) {
        if let Some(sig) = &mut self.signals {
            let mut buf = [0u8; 64];
            while matches!(sig.read(&mut buf), Ok(n) if n > 0) {}
        }
        tracing::info!("stopping on signal");
        self.stop.flag.store(true, Ordering::SeqCst);
    }

    fn finish(&mut self) {
        let tokens: Vec<Token> = self.conns.keys().copied().collect();
        for token in tokens {
            if let Some(conn) = self.conns.get_mut(&token) {
                let _ = conn.stream.write_all(&conn.wbuf);
            }
            self.drop_conn(token, "broker stopping");
        }
        if let Err(e) = fs::remove_file(&self.config.realm.socket) {
            tracing::warn!(error = %e, "could not remove the socket");
        }
        tracing::info!("broker stopped");
    }

    fn accept_all(&mut self) {
        loop {
            match self.listener.accept() {
                Ok((mut stream, _)) => {
                    let cred = match switchboard_sys::peer_credentials(&stream) {
                        Ok(c) => c,
                        Err(e) => {
                            tracing::warn!(error = %e, "refused a connection whose credentials cannot be read");
                            continue;
                        }
                    };
                    if let Some((status, reason)) = self.refusal(&cred) {
                        tracing::warn!(pid = cred.pid, uid = cred.uid, %reason, "refused a connection");
                        refuse_now(&mut stream, status, reason);
                        continue;
                    }
                    let token = Token(self.next_token);
                    self.next_token += 1;
                    if let Err(e) = self.poll.registry().register(&mut stream, token, Interest::READABLE) {
                        tracing::warn!(error = %e, "cannot register a client");
                        continue;
                    }
                    let client = ClientId(token.0 as u64);
                    *self.conns_by_uid.entry(cred.uid).or_default() += 1;
                    self.conns.insert(
                        token,
                        Conn {
                            stream,
                            client,
                            cred,
                            phase: Phase::Handshake,
                            rbuf: Vec::new(),
                            fds_in: Vec::new(),
                            wbuf: Vec::new(),
                            attachments: VecDeque::new(),
                            wants_write: false,
                            accepted: Instant::now(),
                            partial_since: None,
                            paused: false,
                            last_active: Instant::now(),
                        },
                    );
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.raw_os_error().is_some_and(is_out_of_descriptors) => {
                    if !self.refuse_with_reserve() {
                        break;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    break;
                }
            }
        }
    }

    /// Why a new connection may not be served, if it may not: its user is
    /// at its quota of connections, or the broker at its total (beyond
    /// which only root, within its reserve, is let in).
    ///
    /// At a limit, a connection that has held nothing (no handle, no
    /// thread, no wait) and sent nothing for `evict_idle_after` is closed
    /// to make room: the user's own longest idle at its quota, anyone's
    /// but root's at the total.
    fn refusal(&mut self, cred: &PeerCred) -> Option<(HandshakeStatus, String)> {
        let max = self.config.limits.max_conns;
        let total_limit = max + if cred.uid == 0 { self.config.core.root_reserve } else { 0 };
        if self.conns.len() >= total_limit && !self.evict_idle(|c| c.cred.uid != 0) {
            return Some((HandshakeStatus::Refused, format!("the broker already serves its limit of {max} clients")));
        }
        let quota = self.config.limits.max_conns_per_uid;
        if cred.uid != 0 && cred.uid != self.config.core.owner_uid {
            let uid = cred.uid;
            let mine = self.conns_by_uid.get(&uid).copied().unwrap_or(0);
            if mine >= quota && !self.evict_idle(|c| c.cred.uid == uid) {
                let reason = format!("uid {uid} already has {mine} connections to the broker, the user's quota");
                return Some((HandshakeStatus::OverQuota, reason));
            }
        }
        None
    }

    /// Closes the longest idle connection among `which` that holds nothing;
    /// false if there is none idle long enough.
    fn evict_idle(&mut self, which: impl Fn(&Conn) -> bool) -> bool {
        let now = Instant::now();
        let after = self.config.limits.evict_idle_after;
        let oldest = self
            .conns
            .iter()
            .filter(|(_, c)| c.phase == Phase::Ready && which(c) && c.wbuf.is_empty() && c.rbuf.is_empty())
            .filter(|(_, c)| now.saturating_duration_since(c.last_active) >= after)
            .filter(|(_, c)| self.core.client_holds_nothing(c.client))
            .min_by_key(|(_, c)| c.last_active)
            .map(|(token, _)| *token);
        match oldest {
            Some(token) => {
                self.drop_conn(token, "closed to make room: idle and holding nothing");
                true
            }
            None => false,
        }
    }

    /// Out of descriptors: lets go of the spare one, accepts one client to
    /// tell it so at once (rather than leave it waiting in the backlog), and
    /// takes the spare back. False when there was nothing more to do.
    fn refuse_with_reserve(&mut self) -> bool {
        if self.reserve.take().is_none() {
            tracing::warn!("out of descriptors, and the spare one is in use");
            return false;
        }
        let accepted = match self.listener.accept() {
            Ok((mut stream, _)) => {
                let reason = "the broker has run out of descriptors; try again later".to_owned();
                tracing::warn!(%reason, "refused a connection");
                refuse_now(&mut stream, HandshakeStatus::Refused, reason);
                true
            }
            Err(_) => false,
        };
        self.reserve = File::open("/dev/null").ok();
        self.reserve.is_some() && accepted
    }

    /// Drops connections that did not finish their handshake, or a frame
    /// they began, in time.
    fn sweep(&mut self, now: Instant) {
        let limits = &self.config.limits;
        let late: Vec<(Token, &'static str)> = self
            .conns
            .iter()
            .filter_map(|(token, c)| {
                if c.phase == Phase::Handshake && now.saturating_duration_since(c.accepted) > limits.handshake_timeout {
                    Some((*token, "no handshake in time"))
                } else if c.partial_since.is_some_and(|t| now.saturating_duration_since(t) > limits.frame_timeout) {
                    Some((*token, "a frame begun was not finished in time"))
                } else {
                    None
                }
            })
            .collect();
        for (token, reason) in late {
            self.drop_conn(token, reason);
        }
        self.next_sweep = now + Duration::from_millis(500);
    }

    fn on_client(&mut self, token: Token, readable: bool, writable: bool) {
        let paused = self.conns.get(&token).is_some_and(|c| c.paused);
        if readable && !paused {
            // Edge-triggered: read until the socket is drained, a bounded chunk at a time.
            loop {
                let state = self.read_conn(token);
                self.process(token);
                match state {
                    Ok(Read::Drained) => break,
                    // Paused: what it sent waits in the socket until it reads its replies.
                    Ok(Read::More) if self.conns.get(&token).is_some_and(|c| c.paused) => break,
                    Ok(Read::More) => {}
                    Ok(Read::Eof) => return self.drop_conn(token, "closed by the client"),
                    Err(e) => return self.drop_conn(token, &format!("read error: {e}")),
                }
            }
        }
        if writable {
            self.flush(token);
        }
    }

    /// Reads what is available, up to a bound.
    fn read_conn(&mut self, token: Token) -> io::Result<Read> {
        let Some(conn) = self.conns.get_mut(&token) else {
            return Ok(Read::Drained);
        };
        let mut buf = [0u8; 16 * 1024];
        loop {
            match switchboard_sys::fdpass::recv_with_fds(&conn.stream, &mut buf, &mut conn.fds_in) {
                Ok(0) => return Ok(Read::Eof),
                Ok(_) if conn.fds_in.len() > MAX_PENDING_FDS => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("{} descriptors sent that no request declared", conn.fds_in.len()),
                    ));
                }
                Ok(n) => {
                    conn.rbuf.extend_from_slice(&buf[..n]);
                    // Read on even after a short read: a client's last frame
                    // and its end of stream often arrive together, and the
                    // end raises no edge of its own. Only `WouldBlock` (or
                    // the end itself) says the socket is drained.
                    if conn.rbuf.len() > self.config.max_frame + 4 {
                        // Let the frames be taken before buffering more.
                        return Ok(Read::More);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Read::Drained),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    fn process(&mut self, token: Token) {
        if self.conns.get(&token).is_some_and(|c| c.phase == Phase::Handshake) {
            self.handshake(token);
        }
        let now = Instant::now();
        loop {
            let Some(conn) = self.conns.get_mut(&token) else {
                return;
            };
            if conn.phase != Phase::Ready {
                return;
            }
            if conn.wbuf.len() >= self.config.limits.pause_reading_at {
                // Back-pressure: no more of its requests until it reads its replies.
                conn.paused = true;
                conn.partial_since = None;
                return;
            }
            let (used, parsed) = match split_frame(&conn.rbuf, self.config.max_frame) {
                Ok(None) => {
                    if conn.rbuf.is_empty() {
                        shrink(&mut conn.rbuf);
                    } else if conn.partial_since.is_none() {
                        conn.partial_since = Some(now);
                    }
                    return;
                }
                Ok(Some((used, body))) => (used, decode_body::<RequestFrame>(body)),
                Err(e) => return self.drop_conn(token, &e.to_string()),
            };
            conn.rbuf.drain(..used);
            conn.partial_since = None;
            conn.last_active = now;
            let client = conn.client;
            match parsed {
                Ok(frame) if usize::from(frame.fds) <= conn.fds_in.len() => {
                    let fds = conn.fds_in.drain(..usize::from(frame.fds)).collect();
                    self.core.handle_request(client, frame, fds, now);
                }
                Ok(frame) => {
                    let why = format!("the frame declares {} descriptors; {} came", frame.fds, conn.fds_in.len());
                    conn.fds_in.clear();
                    self.core.handle_malformed(client, &why);
                }
                Err(e) => self.core.handle_malformed(client, &e.to_string()),
            }
            self.deliver();
        }
    }

    fn handshake(&mut self, token: Token) {
        let Some(conn) = self.conns.get_mut(&token) else {
            return;
        };
        let hello = match Hello::decode(&conn.rbuf) {
            Ok(None) => return,
            Ok(Some(h)) => h,
            Err(e) => return self.drop_conn(token, &format!("bad handshake: {e}")),
        };
        conn.rbuf.drain(..switchboard_proto::handshake::HELLO_LEN);
        let mut reply = HandshakeReply {
            version: PROTOCOL_VERSION,
            pid: std::process::id(),
            status: HandshakeStatus::Accepted,
            message: String::new(),
        };
        if hello.version == PROTOCOL_VERSION {
            let cred = Credentials {
                pid: conn.cred.pid,
                uid: conn.cred.uid,
                gid: conn.cred.gid,
                groups: switchboard_sys::process_groups(conn.cred.pid),
            };
            match self.core.client_connected(conn.client, cred) {
                Ok(()) => {
                    conn.phase = Phase::Ready;
                    self.by_client.insert(conn.client, token);
                }
                Err(reason) => {
                    reply.status = HandshakeStatus::Refused;
                    reply.message = reason;
                    conn.phase = Phase::Closing;
                }
            }
        } else {
            tracing::warn!(
                pid = conn.cred.pid,
                client_version = hello.version,
                "refused a client of another protocol version"
            );
            reply.status = HandshakeStatus::VersionMismatch;
            reply.message = format!(
                "the running broker (pid {}, switchboardd {}) speaks protocol {PROTOCOL_VERSION}, this client speaks {}; restart it with `switchboard daemon restart` (or kill {} and run the new switchboardd)",
                std::process::id(),
                env!("CARGO_PKG_VERSION"),
                hello.version,
                std::process::id()
            );
            conn.phase = Phase::Closing;
        }
        conn.wbuf.extend_from_slice(&reply.encode());
        self.flush(token);
    }

    /// Sends the core's replies and carries out its disconnects.
    fn deliver(&mut self) {
        while let Some(out) = self.core.poll_output() {
            match out {
                Output::Reply { client, frame, fds } => {
                    let Some(&token) = self.by_client.get(&client) else {
                        continue;
                    };
                    if let Some(conn) = self.conns.get_mut(&token) {
                        if !fds.is_empty() {
                            conn.attachments.push_back((conn.wbuf.len(), fds));
                        }
                        encode_frame(&frame, &mut conn.wbuf);
                    }
                    self.flush(token);
                    self.check_queued(token);
                }
                Output::Disconnect { client, reason } => {
                    if let Some(&token) = self.by_client.get(&client) {
                        self.drop_conn(token, &reason);
                    }
                }
            }
        }
    }

    fn flush(&mut self, token: Token) {
        let Some(conn) = self.conns.get_mut(&token) else {
            return;
        };
        while !conn.wbuf.is_empty() {
            match write_some(conn) {
                Ok(0) => return self.drop_conn(token, "write returned 0"),
                Ok(n) => {
                    conn.wbuf.drain(..n);
                    for (offset, _) in &mut conn.attachments {
                        *offset -= n;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return self.drop_conn(token, &format!("write error: {e}")),
            }
        }
        if conn.wbuf.len() > self.config.max_write_buffer {
            let reason = format!("the client left {} bytes of replies unread", conn.wbuf.len());
            return self.drop_conn(token, &reason);
        }
        if conn.wbuf.is_empty() {
            shrink(&mut conn.wbuf);
        }
        if conn.paused && conn.wbuf.len() < self.config.limits.pause_reading_at / 2 {
            conn.paused = false;
            self.resumed.push(token);
        }
        if conn.wbuf.is_empty() && conn.phase == Phase::Closing {
            return self.drop_conn(token, "handshake refused");
        }
        let want = !conn.wbuf.is_empty();
        if want != conn.wants_write {
            let interest = if want { Interest::READABLE | Interest::WRITABLE } else { Interest::READABLE };
            if self.poll.registry().reregister(&mut conn.stream, token, interest).is_ok() {
                conn.wants_write = want;
            }
        }
    }

    /// Drops a client whose user's clients together leave more replies
    /// unread than the user's budget (each client alone is bounded by
    /// back-pressure, but a user may open many).
    fn check_queued(&mut self, token: Token) {
        let Some(conn) = self.conns.get(&token) else { return };
        if conn.wbuf.len() < self.config.limits.pause_reading_at {
            return;
        }
        let uid = conn.cred.uid;
        let queued: usize = self.conns.values().filter(|c| c.cred.uid == uid).map(|c| c.wbuf.len()).sum();
        let budget = self.config.limits.max_queued_per_uid;
        if queued > budget {
            let reason = format!("uid {uid}'s clients left {queued} bytes of replies unread, past {budget}");
            self.drop_conn(token, &reason);
        }
    }

    fn drop_conn(&mut self, token: Token, reason: &str) {
        let Some(mut conn) = self.conns.remove(&token) else {
            return;
        };
        if let Some(n) = self.conns_by_uid.get_mut(&conn.cred.uid) {
            *n -= 1;
            if *n == 0 {
                self.conns_by_uid.remove(&conn.cred.uid);
            }
        }
        if conn.wbuf.capacity().max(conn.rbuf.capacity()) > 1 << 20 {
            // Megabytes of buffers go back to the system, not just to the allocator.
            drop(std::mem::take(&mut conn.wbuf));
            drop(std::mem::take(&mut conn.rbuf));
            switchboard_sys::limits::give_back_memory();
        }
        let _ = self.poll.registry().deregister(&mut conn.stream);
        if self.by_client.remove(&conn.client).is_some() {
            self.core.client_disconnected(conn.client, reason);
        } else {
            tracing::info!(pid = conn.cred.pid, reason, "connection closed before the handshake completed");
        }
    }
}

/// Lets an emptied buffer's memory go when it had grown large.
fn shrink(buf: &mut Vec<u8>) {
    const KEEP: usize = 64 << 10;
    if buf.capacity() > KEEP {
        buf.shrink_to(KEEP);
    }
}

/// Whether an `accept` error means the process (or the system) is out of descriptors.
fn is_out_of_descriptors(errno: i32) -> bool {
    errno == rustix::io::Errno::MFILE.raw_os_error() || errno == rustix::io::Errno::NFILE.raw_os_error()
}

/// Tells a client at once why it is not served (it reads the answer after
/// its hello), then closes. A new socket's buffer takes the few bytes.
fn refuse_now(stream: &mut UnixStream, status: HandshakeStatus, message: String) {
    let reply = HandshakeReply { version: PROTOCOL_VERSION, pid: std::process::id(), status, message };
    let _ = stream.write(&reply.encode());
}

/// Writes the start of `conn.wbuf`. Descriptors go with the first byte of
/// their frame, so a write never runs past the next frame that carries some.
fn write_some(conn: &mut Conn) -> io::Result<usize> {
    let next = conn.attachments.front().map(|(offset, _)| *offset);
    if next == Some(0) {
        let end = conn.attachments.get(1).map_or(conn.wbuf.len(), |(offset, _)| *offset);
        let fds: Vec<BorrowedFd<'_>> = conn.attachments[0].1.iter().map(AsFd::as_fd).collect();
        let n = switchboard_sys::fdpass::send_with_fds(&conn.stream, &conn.wbuf[..end], &fds)?;
        if n > 0 {
            // Sent with the first byte; closing our copies is fine now.
            conn.attachments.pop_front();
        }
        return Ok(n);
    }
    let end = next.unwrap_or(conn.wbuf.len());
    conn.stream.write(&conn.wbuf[..end])
}
