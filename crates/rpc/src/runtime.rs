//! The stream transports and the server runtime: `ncacn_ip_tcp`, and
//! `ncalrpc` as an `AF_UNIX` stream socket at `<dir>/<endpoint>` (the
//! convention Samba uses). A blocking server, one thread per association,
//! each driving an [`Association`], within [`Limits`]:
//!
//! - one peer (a TCP peer's address, an `ncalrpc` peer's user) holds at
//!   most its share of the associations, so one host cannot starve the
//!   rest (beyond it, its own idle associations make room, or it is refused);
//! - when the server is full, the association idle the longest is closed
//!   to make room; only when every one is busy (a call running, a PDU half
//!   received) is a new connection refused, with a `bind_nak` (local limit
//!   exceeded);
//! - calls beyond the limit in flight wait for a slot;
//! - a silent connection is closed after the idle timeout, one that has not
//!   bound after the bind deadline, and one that began a PDU and has not
//!   finished it after the PDU deadline, however slowly it keeps sending.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::admission::{Activity, Admission, Admit, Peer, Ticket};
use crate::deadline::{Deadlines, Timeouts};
use crate::pdu::{Body, Header, PacketType, Pdu, flags};
use crate::server::{Association, Budget, Interface};

/// How long a connection may stay silent before it is closed.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(300);

/// How long a PDU may take from its first byte to its last: a whole
/// fragment (5840 bytes at most) at a couple of hundred bytes a second.
pub const PDU_DEADLINE: Duration = Duration::from_secs(30);

/// How long a connection may take from its accept to a completed bind.
pub const BIND_DEADLINE: Duration = Duration::from_secs(30);

/// How long a refused connection gets to send the bind its `bind_nak`
/// answers.
const REFUSAL_WAIT: Duration = Duration::from_secs(2);

/// Refusals (`bind_nak` threads) under way at once.
const MAX_REFUSING: usize = 8;

/// `bind_nak` reason: the server's limit of associations is reached.
pub const REJECT_LOCAL_LIMIT_EXCEEDED: u16 = 2;

/// What a server takes on at once, and for how long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Associations (connections) served at once. When they are all
    /// taken, the one idle the longest is closed for a new connection;
    /// when none is idle, the new one is refused with a `bind_nak`.
    pub max_associations: usize,
    /// Associations one peer may hold: over `ncacn_ip_tcp` one IP address,
    /// over `ncalrpc` one user (`SO_PEERCRED`). A new connection from a
    /// peer at its share takes the place of that peer's own association
    /// idle the longest; when all of them are busy it is refused with a
    /// `bind_nak`, while other peers are still served.
    /// `None`: a quarter of `max_associations`, at least 1.
    pub max_associations_per_peer: Option<usize>,
    /// Calls executing at once, over all associations; more wait.
    pub max_calls_in_flight: usize,
    /// Bytes of calls half received, all associations together.
    pub max_pending_bytes: usize,
    /// How long a connection may stay silent (`Duration::ZERO`: for ever,
    /// as the endpoint mapper's local registrations need). With no idle
    /// timeout, idle associations are not closed for new ones either: they
    /// are meant to last.
    pub idle_timeout: Duration,
    /// How long a PDU may take from its first byte to its last, however
    /// often bytes come (`Duration::ZERO`: no bound but the idle timeout,
    /// which bounds a PDU too).
    pub pdu_deadline: Duration,
    /// How long a connection may take from its accept to a completed bind
    /// (`Duration::ZERO`: no bound).
    pub bind_deadline: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_associations: 256,
            max_associations_per_peer: None,
            max_calls_in_flight: 64,
            max_pending_bytes: 64 << 20,
            idle_timeout: IDLE_TIMEOUT,
            pdu_deadline: PDU_DEADLINE,
            bind_deadline: BIND_DEADLINE,
        }
    }
}

impl Limits {
    /// The share of associations one peer may hold.
    pub fn per_peer(&self) -> usize {
        self.max_associations_per_peer.unwrap_or(self.max_associations / 4).clamp(1, self.max_associations.max(1))
    }

    pub(crate) fn timeouts(&self) -> Timeouts {
        Timeouts { idle: self.idle_timeout, pdu: self.pdu_deadline, bind: self.bind_deadline }
    }
}

/// The interfaces each new association offers.
pub type MakeInterfaces = Arc<dyn Fn() -> Vec<Box<dyn Interface>> + Send + Sync>;

/// A counting semaphore: the calls in flight.
#[derive(Debug)]
pub(crate) struct Slots {
    free: Mutex<usize>,
    freed: Condvar,
}

impl Slots {
    pub(crate) fn new(n: usize) -> Self {
        Self { free: Mutex::new(n.max(1)), freed: Condvar::new() }
    }

    fn take(&self) -> SlotGuard<'_> {
        let mut free = self.free.lock().unwrap_or_else(PoisonError::into_inner);
        while *free == 0 {
            free = self.freed.wait(free).unwrap_or_else(PoisonError::into_inner);
        }
        *free -= 1;
        SlotGuard(self)
    }
}

struct SlotGuard<'a>(&'a Slots);

impl Drop for SlotGuard<'_> {
    fn drop(&mut self) {
        *self.0.free.lock().unwrap_or_else(PoisonError::into_inner) += 1;
        self.0.freed.notify_one();
    }
}

/// A stream whose reads can be bounded in time.
pub(crate) trait Timed: Read + Write {
    /// Bounds how long the next reads wait (`None`: for ever).
    fn time_reads(&mut self, timeout: Option<Duration>) -> io::Result<()>;
}

impl Timed for TcpStream {
    fn time_reads(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        self.set_read_timeout(timeout)
    }
}

impl Timed for UnixStream {
    fn time_reads(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        self.set_read_timeout(timeout)
    }
}

/// A stream that offers no read timeout: deadlines are checked only when
/// a read returns.
struct Untimed<S>(S);

impl<S: Read> Read for Untimed<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl<S: Write> Write for Untimed<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

impl<S: Read + Write> Timed for Untimed<S> {
    fn time_reads(&mut self, _: Option<Duration>) -> io::Result<()> {
        Ok(())
    }
}

/// A listening socket of either transport.
trait Listen {
    type Stream: Timed + Send + 'static;
    /// Whether associations come over `ncalrpc`.
    const LOCAL: bool;
    fn next(&self) -> io::Result<(Self::Stream, Peer)>;
    fn prepare(stream: &Self::Stream, idle: Duration) -> io::Result<()>;
    /// Another handle on the same connection, to shut it down from the
    /// accepting thread (which wakes the association's blocked read).
    fn handle(stream: &Self::Stream) -> io::Result<Self::Stream>;
    fn shut_down(stream: &Self::Stream);
}

impl Listen for TcpListener {
    type Stream = TcpStream;
    const LOCAL: bool = false;
    fn next(&self) -> io::Result<(TcpStream, Peer)> {
        self.accept().map(|(s, addr)| (s, Peer::Ip(addr.ip().to_canonical())))
    }
    fn prepare(stream: &TcpStream, idle: Duration) -> io::Result<()> {
        stream.set_nodelay(true)?;
        // A peer that stops reading cannot hold a thread for ever either.
        stream.set_write_timeout(Some(idle).filter(|d| !d.is_zero()))?;
        stream.set_read_timeout(Some(idle).filter(|d| !d.is_zero()))
    }
    fn handle(stream: &TcpStream) -> io::Result<TcpStream> {
        stream.try_clone()
    }
    fn shut_down(stream: &TcpStream) {
        let _ = stream.shutdown(std::net::Shutdown::Both);
    }
}

impl Listen for UnixListener {
    type Stream = UnixStream;
    const LOCAL: bool = true;
    fn next(&self) -> io::Result<(UnixStream, Peer)> {
        let (stream, _) = self.accept()?;
        // The user, not the process: one user's many processes share a share.
        let peer = rustix::net::sockopt::socket_peercred(&stream).map_or(Peer::Unknown, |c| Peer::Uid(c.uid.as_raw()));
        Ok((stream, peer))
    }
    fn prepare(stream: &UnixStream, idle: Duration) -> io::Result<()> {
        stream.set_write_timeout(Some(idle).filter(|d| !d.is_zero()))?;
        stream.set_read_timeout(Some(idle).filter(|d| !d.is_zero()))
    }
    fn handle(stream: &UnixStream) -> io::Result<UnixStream> {
        stream.try_clone()
    }
    fn shut_down(stream: &UnixStream) {
        let _ = stream.shutdown(std::net::Shutdown::Both);
    }
}

/// What a server's associations share.
struct Server<L: Listen> {
    make: MakeInterfaces,
    secondary: String,
    limits: Limits,
    groups: Arc<AtomicU32>,
    slots: Arc<Slots>,
    budget: Arc<Budget>,
    refusing: Arc<AtomicUsize>,
    /// Each association's peer and idleness, and a handle to close it by.
    table: Arc<Mutex<Admission<L::Stream>>>,
}

impl<L: Listen> Server<L> {
    fn new(make: &MakeInterfaces, secondary: &str, limits: Limits) -> Self {
        // Idle associations are closed for new ones only where idleness
        // ends an association anyway (see `Limits::idle_timeout`).
        let evict = !limits.idle_timeout.is_zero();
        Self {
            make: Arc::clone(make),
            secondary: secondary.to_owned(),
            limits,
            groups: Arc::new(AtomicU32::new(0x1000)),
            slots: Arc::new(Slots::new(limits.max_calls_in_flight)),
            budget: Arc::new(Budget::new(limits.max_pending_bytes)),
            refusing: Arc::new(AtomicUsize::new(0)),
            table: Arc::new(Mutex::new(Admission::new(limits.max_associations, limits.per_peer(), evict))),
        }
    }

    /// Admits `stream` (closing an idle association to make room) or
    /// refuses it.
    fn take(&self, stream: L::Stream, peer: Peer) {
        if L::prepare(&stream, self.limits.idle_timeout).is_err() {
            return;
        }
        let Ok(handle) = L::handle(&stream) else { return };
        let admitted = self.table.lock().unwrap_or_else(PoisonError::into_inner).admit(peer, handle, Instant::now());
        match admitted {
            Admit::In { id, evicted } => {
                if let Some(idle) = evicted {
                    L::shut_down(&idle);
                }
                self.spawn(stream, Ticket::new(Arc::clone(&self.table), id));
            }
            Admit::PeerFull | Admit::Full => self.refuse(stream),
        }
    }

    /// Drives `stream`'s association on a thread of its own.
    fn spawn(&self, mut stream: L::Stream, ticket: Ticket<L::Stream>) {
        let (make, groups, slots, budget) =
            (Arc::clone(&self.make), Arc::clone(&self.groups), Arc::clone(&self.slots), Arc::clone(&self.budget));
        let (secondary, timeouts) = (self.secondary.clone(), self.limits.timeouts());
        // No thread for it: the stream and the ticket go with the closure.
        let _ = std::thread::Builder::new().name("rpc-association".into()).spawn(move || {
            let group = groups.fetch_add(1, Ordering::Relaxed);
            let mut association = Association::new(make(), group, &secondary).with_budget(budget);
            if L::LOCAL {
                association = association.over_ncalrpc();
            }
            let _ = drive(&mut stream, &mut association, &slots, timeouts, &ticket);
        });
    }

    /// Refuses `stream`, briefly, off the accepting thread: reads the bind
    /// and answers `bind_nak` with its call id. At most a few of those at
    /// once; beyond, the connection is just closed.
    fn refuse(&self, stream: L::Stream) {
        let wait = [REFUSAL_WAIT, self.limits.bind_deadline].into_iter().filter(|d| !d.is_zero()).min();
        if self.refusing.fetch_add(1, Ordering::AcqRel) < MAX_REFUSING
            && L::prepare(&stream, wait.unwrap_or(REFUSAL_WAIT)).is_ok()
        {
            let done = Arc::clone(&self.refusing);
            let spawned = std::thread::Builder::new().name("rpc-refuse".into()).spawn(move || {
                let _ = refuse(stream);
                done.fetch_sub(1, Ordering::AcqRel);
            });
            if spawned.is_ok() {
                return;
            }
        }
        self.refusing.fetch_sub(1, Ordering::AcqRel);
    }
}

fn run<L: Listen>(listener: &L, secondary: &str, make: &MakeInterfaces, limits: Limits) -> io::Result<()> {
    let server = Server::<L>::new(make, secondary, limits);
    loop {
        match listener.next() {
            Ok((stream, peer)) => server.take(stream, peer),
            // Out of descriptors (or the like): back off instead of spinning.
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
}

/// Answers a connection's first PDU with `bind_nak` (local limit exceeded).
fn refuse(mut stream: impl Read + Write) -> io::Result<()> {
    let mut head = [0u8; 16];
    stream.read_exact(&mut head)?;
    let header = Header::peek(&head).ok().flatten().ok_or_else(|| io::Error::from(io::ErrorKind::InvalidData))?;
    let nak = Header::new(PacketType::BindNak, flags::FIRST_FRAG | flags::LAST_FRAG, header.call_id);
    let body = Body::BindNak { reason: REJECT_LOCAL_LIMIT_EXCEEDED, versions: vec![(5, 0)] };
    stream.write_all(&Pdu { header: nak, body, auth: None }.emit())
}

/// Serves `listener` (`ncacn_ip_tcp`) for ever with the default [`Limits`]:
/// every connection gets its own association, with the interfaces `make`
/// returns.
pub fn serve(listener: &TcpListener, make: &MakeInterfaces) -> io::Result<()> {
    serve_with(listener, make, Limits::default())
}

/// [`serve`] within `limits`.
pub fn serve_with(listener: &TcpListener, make: &MakeInterfaces, limits: Limits) -> io::Result<()> {
    let port = listener.local_addr()?.port().to_string();
    run(listener, &port, make, limits)
}

/// Serves an `ncalrpc` endpoint (a Unix socket) for ever, default [`Limits`].
pub fn serve_local(listener: &UnixListener, endpoint: &str, make: &MakeInterfaces) -> io::Result<()> {
    serve_local_with(listener, endpoint, make, Limits::default())
}

/// [`serve_local`] within `limits`.
pub fn serve_local_with(
    listener: &UnixListener,
    endpoint: &str,
    make: &MakeInterfaces,
    limits: Limits,
) -> io::Result<()> {
    run(listener, endpoint, make, limits)
}

/// Drives one association over any byte stream until it or the peer
/// closes (no limit on calls in flight). The default [`Limits`]' idle,
/// PDU and bind bounds are checked whenever a read returns: the stream
/// offers no read timeout to enforce them while the peer is silent.
pub fn serve_stream(stream: impl Read + Write, mut association: Association) -> io::Result<()> {
    let timeouts = Limits::default().timeouts();
    drive(&mut Untimed(stream), &mut association, &Slots::new(usize::MAX), timeouts, &())
}

/// Drives an association within `timeouts`: before each read the stream's
/// read timeout is set to what is left of the nearest deadline, so a peer
/// trickling a byte at a time cannot keep a PDU (or the bind) open past
/// its deadline. `activity` hears when the association is busy and idle.
pub(crate) fn drive(
    stream: &mut impl Timed,
    association: &mut Association,
    slots: &Slots,
    timeouts: Timeouts,
    activity: &impl Activity,
) -> io::Result<()> {
    let mut buf = vec![0u8; 16 * 1024];
    let mut deadlines = Deadlines::new(timeouts, Instant::now());
    // The read timeout on the stream, once set (a syscall saved when it stays).
    let mut set: Option<Option<Duration>> = None;
    loop {
        let wait = deadlines
            .read_timeout(Instant::now(), association.is_bound())
            .map_err(|why| io::Error::new(io::ErrorKind::TimedOut, why.reason()))?;
        if set != Some(wait) {
            stream.time_reads(wait)?;
            set = Some(wait);
        }
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        activity.busy();
        let received = {
            let _slot = slots.take();
            association.receive(&buf[..n])
        };
        let now = Instant::now();
        let partial = association.has_partial_input();
        deadlines.received(now, partial, association.fragments_received());
        if !partial {
            // Idle before the answer goes out, so a caller that has its
            // answer finds the association counted idle; closing it while
            // the answer is written only cuts a peer that does not read.
            activity.idle(now);
        }
        while let Some(bytes) = association.poll_transmit() {
            stream.write_all(&bytes)?;
        }
        if let Err(e) = received {
            return Err(io::Error::new(io::ErrorKind::InvalidData, e.to_string()));
        }
        if association.is_closed() {
            return Ok(());
        }
    }
}
