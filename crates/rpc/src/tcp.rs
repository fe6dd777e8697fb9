//! The stream transports and the server runtime: `ncacn_ip_tcp`, and
//! `ncalrpc` as an `AF_UNIX` stream socket at `<dir>/<endpoint>` (the
//! convention Samba uses). A blocking server, one thread per association,
//! each driving an [`Association`], within [`Limits`]: associations beyond
//! the limit get a `bind_nak` (local limit exceeded) and are closed; calls
//! beyond the limit in flight wait for a slot; a silent connection is
//! closed after the idle timeout.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Duration;

use crate::pdu::{Body, Header, PacketType, Pdu, flags};
use crate::server::{Association, Interface};

/// How long a connection may stay silent before it is closed.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(300);

/// Refusals (`bind_nak` threads) under way at once.
const MAX_REFUSING: usize = 8;

/// `bind_nak` reason: the server's limit of associations is reached.
pub const REJECT_LOCAL_LIMIT_EXCEEDED: u16 = 2;

/// What a server takes on at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Associations (connections) served at once; more are refused with a
    /// `bind_nak`.
    pub max_associations: usize,
    /// Calls executing at once, over all associations; more wait.
    pub max_calls_in_flight: usize,
    /// Bytes of calls half received, all associations together.
    pub max_pending_bytes: usize,
    /// How long a connection may stay silent (`Duration::ZERO`: for ever,
    /// as the endpoint mapper's local registrations need).
    pub idle_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_associations: 256, max_calls_in_flight: 64, max_pending_bytes: 64 << 20, idle_timeout: IDLE_TIMEOUT }
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

/// A listening socket of either transport.
trait Listen {
    type Stream: Read + Write + Send + 'static;
    /// Whether associations come over `ncalrpc`.
    const LOCAL: bool;
    fn next(&self) -> io::Result<Self::Stream>;
    fn prepare(stream: &Self::Stream, idle: Duration) -> io::Result<()>;
}

impl Listen for TcpListener {
    type Stream = TcpStream;
    const LOCAL: bool = false;
    fn next(&self) -> io::Result<TcpStream> {
        self.accept().map(|(s, _)| s)
    }
    fn prepare(stream: &TcpStream, idle: Duration) -> io::Result<()> {
        stream.set_nodelay(true)?;
        // A peer that stops reading cannot hold a thread for ever either.
        stream.set_write_timeout(Some(idle).filter(|d| !d.is_zero()))?;
        stream.set_read_timeout(Some(idle).filter(|d| !d.is_zero()))
    }
}

impl Listen for UnixListener {
    type Stream = UnixStream;
    const LOCAL: bool = true;
    fn next(&self) -> io::Result<UnixStream> {
        self.accept().map(|(s, _)| s)
    }
    fn prepare(stream: &UnixStream, idle: Duration) -> io::Result<()> {
        stream.set_write_timeout(Some(idle).filter(|d| !d.is_zero()))?;
        stream.set_read_timeout(Some(idle).filter(|d| !d.is_zero()))
    }
}

fn run<L: Listen>(listener: &L, secondary: &str, make: &MakeInterfaces, limits: Limits) -> io::Result<()> {
    let groups = Arc::new(AtomicU32::new(0x1000));
    let live = Arc::new(AtomicUsize::new(0));
    let slots = Arc::new(Slots::new(limits.max_calls_in_flight));
    let refusing = Arc::new(AtomicUsize::new(0));
    let budget = Arc::new(crate::server::Budget::new(limits.max_pending_bytes));
    loop {
        let Ok(stream) = listener.next() else {
            // Out of descriptors (or the like): back off instead of spinning.
            std::thread::sleep(Duration::from_millis(10));
            continue;
        };
        if L::prepare(&stream, limits.idle_timeout).is_err() {
            continue;
        }
        if live.fetch_add(1, Ordering::AcqRel) >= limits.max_associations {
            live.fetch_sub(1, Ordering::AcqRel);
            // Refused, briefly, off the accepting thread: read the bind (two
            // seconds at most) and answer bind_nak with its call id.
            // At most a few of those at once; beyond, the connection is just closed.
            if refusing.fetch_add(1, Ordering::AcqRel) < MAX_REFUSING
                && L::prepare(&stream, Duration::from_secs(2)).is_ok()
            {
                let done = Arc::clone(&refusing);
                if std::thread::Builder::new()
                    .name("rpc-refuse".into())
                    .spawn(move || {
                        let _ = refuse(stream);
                        done.fetch_sub(1, Ordering::AcqRel);
                    })
                    .is_ok()
                {
                    continue;
                }
            }
            refusing.fetch_sub(1, Ordering::AcqRel);
            continue;
        }
        let (make, groups, held, slots, budget, secondary) = (
            Arc::clone(make),
            Arc::clone(&groups),
            Arc::clone(&live),
            Arc::clone(&slots),
            Arc::clone(&budget),
            secondary.to_owned(),
        );
        let spawned = std::thread::Builder::new().name("rpc-association".into()).spawn(move || {
            let group = groups.fetch_add(1, Ordering::Relaxed);
            let mut association = Association::new(make(), group, &secondary).with_budget(budget);
            if L::LOCAL {
                association = association.over_ncalrpc();
            }
            let mut stream = stream;
            let _ = drive_within(&mut stream, &mut association, &slots, limits.idle_timeout);
            held.fetch_sub(1, Ordering::AcqRel);
        });
        if spawned.is_err() {
            // No thread for it: the stream was dropped with the closure.
            live.fetch_sub(1, Ordering::AcqRel);
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
/// closes (no limit on calls in flight; a PDU begun must be finished
/// within [`IDLE_TIMEOUT`]).
pub fn serve_stream(mut stream: impl Read + Write, mut association: Association) -> io::Result<()> {
    drive_within(&mut stream, &mut association, &Slots::new(usize::MAX), IDLE_TIMEOUT)
}

/// Drives an association; a PDU begun must be complete within `idle`
/// (zero: no bound), so a peer trickling a byte at a time cannot keep it.
pub(crate) fn drive_within(
    stream: &mut (impl Read + Write),
    association: &mut Association,
    slots: &Slots,
    idle: Duration,
) -> io::Result<()> {
    let mut buf = vec![0u8; 16 * 1024];
    let mut partial_since: Option<std::time::Instant> = None;
    loop {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        let received = {
            let _slot = slots.take();
            association.receive(&buf[..n])
        };
        while let Some(bytes) = association.poll_transmit() {
            stream.write_all(&bytes)?;
        }
        if let Err(e) = received {
            return Err(io::Error::new(io::ErrorKind::InvalidData, e.to_string()));
        }
        if association.is_closed() {
            return Ok(());
        }
        if association.has_partial_input() {
            let since = *partial_since.get_or_insert_with(std::time::Instant::now);
            if !idle.is_zero() && since.elapsed() > idle {
                return Err(io::Error::new(io::ErrorKind::TimedOut, "a PDU begun and never finished"));
            }
        } else {
            partial_since = None;
        }
    }
}
