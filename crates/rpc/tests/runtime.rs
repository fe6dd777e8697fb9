//! The runtimes through real sockets: a client's timeout, cancellation and
//! reconnection; a server's limits on associations and calls in flight.

use std::net::TcpListener;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use switchboard_rpc::binding::Binding;
use switchboard_rpc::client::Error;
use switchboard_rpc::connection::{Connection, Options};
use switchboard_rpc::runtime::{Limits, MakeInterfaces};
use switchboard_rpc::server::Interface;

/// A test interface: `wait` returns once the test opens the gate.
#[switchboard_rpc::interface(uuid = "0b4c2f7e-51a3-4f0e-9d3c-6a7e21c4b9d0", version = "1.0")]
pub trait Gate {
    fn wait(&mut self, token: u32) -> u32;
    fn echo(&mut self, value: u32) -> u32;
}

/// The gate, shared by every association: `wait` says it entered, then
/// waits for the test to open.
struct Gated {
    gate: Arc<Mutex<Receiver<()>>>,
    entered: Sender<u32>,
}

impl Gate for Gated {
    fn wait(&mut self, token: u32) -> u32 {
        let _ = self.entered.send(token);
        let _ = self.gate.lock().unwrap().recv_timeout(Duration::from_secs(30));
        token
    }
    fn echo(&mut self, value: u32) -> u32 {
        value
    }
}

/// The gate's interfaces for each association, the sender that opens it,
/// and the receiver that hears each `wait` enter.
fn gated() -> (MakeInterfaces, Sender<()>, Receiver<u32>) {
    let (open, gate) = channel();
    let (entered, entries) = channel();
    let gate = Arc::new(Mutex::new(gate));
    let entered = Mutex::new(entered);
    let make: MakeInterfaces = Arc::new(move || {
        let gated = Gated { gate: Arc::clone(&gate), entered: entered.lock().unwrap().clone() };
        vec![Box::new(GateServer(gated)) as Box<dyn Interface>]
    });
    (make, open, entries)
}

fn server(limits: Limits) -> (Binding, Sender<()>, Receiver<u32>) {
    let (make, open, entries) = gated();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || switchboard_rpc::runtime::serve_with(&listener, &make, limits));
    (Binding::Tcp { host: "127.0.0.1".into(), port }, open, entries)
}

fn connect(binding: &Binding, call_timeout: Duration) -> Result<GateClient<Connection>, Error> {
    let options = Options { call_timeout, ..Options::default() };
    Connection::connect(binding, GateClient::<Connection>::syntax(), &options).map(GateClient::new)
}

#[test]
fn a_call_past_its_timeout_fails_and_the_next_call_reconnects() {
    let (binding, open, _entries) = server(Limits::default());
    let mut gate = connect(&binding, Duration::from_millis(300)).unwrap();
    assert_eq!(gate.echo(7).unwrap(), 7);
    let e = gate.wait(1).unwrap_err();
    assert!(matches!(e, Error::Timeout { opnum: 0 }), "{e}");
    open.send(()).unwrap();
    assert_eq!(gate.echo(8).unwrap(), 8, "a new association");
}

#[test]
fn a_call_cancelled_from_another_thread_returns_cancelled() {
    let (binding, open, _entries) = server(Limits::default());
    let mut gate = connect(&binding, Duration::from_secs(30)).unwrap();
    let canceller = gate.rpc.canceller();
    let waiter = std::thread::spawn(move || {
        let e = gate.wait(2).unwrap_err();
        (gate, e)
    });
    // The call is cancelled once it is in progress (cancel says whether it was).
    let mut tries = 0;
    while !canceller.cancel() {
        tries += 1;
        assert!(tries < 100_000, "the call never started");
        std::thread::yield_now();
    }
    let (mut gate, e) = waiter.join().unwrap();
    assert!(matches!(e, Error::Cancelled { opnum: 0 }), "{e}");
    open.send(()).unwrap();
    assert_eq!(gate.echo(9).unwrap(), 9, "reconnected");
    assert!(!canceller.cancel(), "nothing in progress");
}

#[test]
fn associations_beyond_the_limit_get_bind_nak_when_every_one_is_busy() {
    let limits =
        Limits { max_associations: 2, max_associations_per_peer: Some(2), max_calls_in_flight: 2, ..Limits::default() };
    let (binding, open, entries) = server(limits);
    let mut first = connect(&binding, Duration::from_secs(30)).unwrap();
    let mut second = connect(&binding, Duration::from_secs(30)).unwrap();
    // Both in a call at the gate: no association is idle, none can make room.
    let one = std::thread::spawn(move || first.wait(3).map(|v| (v, first)));
    let two = std::thread::spawn(move || second.wait(4).map(|v| (v, second)));
    let mut entered = [0, 1].map(|_| entries.recv_timeout(Duration::from_secs(30)).expect("a call at the gate"));
    entered.sort_unstable();
    assert_eq!(entered, [3, 4], "both calls hold their association");
    let e = connect(&binding, Duration::from_secs(1)).unwrap_err();
    assert!(matches!(e, Error::BindRefused(ref why) if why.contains("reason: 2")), "local limit exceeded: {e}");
    open.send(()).unwrap();
    open.send(()).unwrap();
    let (v, _first) = one.join().unwrap().unwrap();
    assert_eq!(v, 3);
    let (v, _second) = two.join().unwrap().unwrap();
    assert_eq!(v, 4);
    // Idle again: a new caller gets a place (an idle one is closed for it).
    let mut third = connect(&binding, Duration::from_secs(5)).unwrap();
    assert_eq!(third.echo(6).unwrap(), 6);
}

#[test]
fn calls_beyond_the_limit_in_flight_wait_for_a_slot() {
    let limits = Limits { max_calls_in_flight: 1, ..Limits::default() };
    let (binding, open, entries) = server(limits);
    let mut first = connect(&binding, Duration::from_secs(30)).unwrap();
    let mut second = connect(&binding, Duration::from_millis(300)).unwrap();
    // One call in flight: while `first` waits at the gate, `second` cannot run.
    let waiter = std::thread::spawn(move || first.wait(3).map(|v| (v, first)));
    assert_eq!(entries.recv_timeout(Duration::from_secs(30)), Ok(3), "the first call holds the only slot");
    let e = second.echo(4).unwrap_err();
    assert!(matches!(e, Error::Timeout { opnum: 1 }), "the second call waits for the slot: {e}");
    open.send(()).unwrap();
    let (v, _first) = waiter.join().unwrap().unwrap();
    assert_eq!(v, 3);
    // The slot is free again (over a new association: the old one gave up).
    assert_eq!(until_admitted(|| second.echo(5)), 5);
}

/// Retries `f` while the server refuses the association for its limit:
/// a closed association is counted out when its thread sees the close.
fn until_admitted<T>(mut f: impl FnMut() -> Result<T, Error>) -> T {
    for _ in 0..10_000 {
        match f() {
            Ok(v) => return v,
            Err(Error::BindRefused(_)) => std::thread::yield_now(),
            Err(e) => panic!("{e}"),
        }
    }
    panic!("a closed association was never counted out");
}

#[test]
fn a_connection_the_server_closed_for_idleness_reconnects_before_the_next_call() {
    let limits = Limits { idle_timeout: Duration::from_millis(50), ..Limits::default() };
    let (binding, _open, _entries) = server(limits);
    let mut gate = connect(&binding, Duration::from_secs(5)).unwrap();
    assert_eq!(gate.echo(1).unwrap(), 1);
    let mut tries = 0;
    while !gate.rpc.peer_closed() {
        tries += 1;
        assert!(tries < 1000, "the server never closed the idle connection");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(gate.echo(2).unwrap(), 2, "reconnected, not failed");
}

#[test]
fn a_live_ncalrpc_connection_is_not_taken_for_a_closed_one() {
    let dir = std::env::temp_dir().join(format!("switchboard-rpc-runtime-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let listener = std::os::unix::net::UnixListener::bind(dir.join("GATE")).unwrap();
    let (make, _open, _entries) = gated();
    std::thread::spawn(move || switchboard_rpc::runtime::serve_local(&listener, "GATE", &make));
    let options = Options { ncalrpc_dir: dir.clone(), ..Options::default() };
    let binding = Binding::Local { endpoint: "GATE".into() };
    let mut gate =
        GateClient::new(Connection::connect(&binding, GateClient::<Connection>::syntax(), &options).unwrap());
    assert_eq!(gate.echo(1).unwrap(), 1);
    assert!(!gate.rpc.peer_closed(), "an open association, nothing to read: not closed");
    assert_eq!(gate.echo(2).unwrap(), 2);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn calls_over_ncacn_np_time_out_and_are_cancelled_like_the_others() {
    let broker = switchboard_testkit::TestBroker::start();
    let conn = broker.connect();
    let (make, open, _entries) = gated();
    std::thread::spawn(move || switchboard_rpc::np::serve(&conn, r"\pipe\gate", &make, Limits::default()));
    let binding = Binding::parse(r"ncacn_np:[\pipe\gate]").unwrap();
    let options = Options {
        broker_socket: Some(broker.socket().to_path_buf()),
        call_timeout: Duration::from_millis(300),
        ..Options::default()
    };
    // The server's first instance may not exist yet: retry while the pipe is missing.
    let mut tries = 0;
    let rpc = loop {
        match Connection::connect(&binding, GateClient::<Connection>::syntax(), &options) {
            Ok(rpc) => break rpc,
            Err(Error::Io(e)) if e.kind() == std::io::ErrorKind::NotFound && tries < 1000 => {
                tries += 1;
                std::thread::yield_now();
            }
            Err(e) => panic!("{e}"),
        }
    };
    let mut gate = GateClient::new(rpc);
    assert_eq!(gate.echo(1).unwrap(), 1);
    assert!(!gate.rpc.peer_closed());
    assert!(matches!(gate.wait(5).unwrap_err(), Error::Timeout { opnum: 0 }));
    open.send(()).unwrap();
    assert_eq!(gate.echo(2).unwrap(), 2, "reconnected over a new pipe instance");
    let canceller = gate.rpc.canceller();
    let waiter = std::thread::spawn(move || gate.wait(6).unwrap_err());
    let mut tries = 0;
    while !canceller.cancel() {
        tries += 1;
        assert!(tries < 100_000, "the call never started");
        std::thread::yield_now();
    }
    assert!(matches!(waiter.join().unwrap(), Error::Cancelled { opnum: 0 }));
    open.send(()).unwrap();
}

#[test]
fn a_pipe_client_that_comes_and_goes_does_not_stop_the_ncacn_np_server() {
    let broker = switchboard_testkit::TestBroker::start();
    let conn = broker.connect();
    let (make, _open, _entries) = gated();
    let server_conn = broker.connect();
    std::thread::spawn(move || switchboard_rpc::np::serve(&server_conn, r"\pipe\fleeting", &make, Limits::default()));
    let binding = Binding::parse(r"ncacn_np:[\pipe\fleeting]").unwrap();
    let options = Options { broker_socket: Some(broker.socket().to_path_buf()), ..Options::default() };
    let mut opened = 0;
    for _ in 0..200 {
        // Open and close at once, before the server gets to its instance
        // (busy or not there yet: try again).
        if let Ok(client) =
            switchboard::pipe::PipeClient::open(&conn, r"\\.\pipe\fleeting", switchboard::pipe::GENERIC_READ_WRITE)
        {
            drop(client);
            opened += 1;
            if opened == 20 {
                break;
            }
        }
        std::thread::yield_now();
    }
    assert!(opened > 0, "the pipe never showed up");
    let mut tries = 0;
    let mut gate = loop {
        match Connection::connect(&binding, GateClient::<Connection>::syntax(), &options) {
            Ok(rpc) => break GateClient::new(rpc),
            Err(e) => {
                tries += 1;
                assert!(tries < 1000, "the server stopped serving: {e}");
                std::thread::yield_now();
            }
        }
    };
    assert_eq!(gate.echo(11).unwrap(), 11);
}

#[test]
fn a_peer_that_trickles_a_pdu_byte_by_byte_is_cut_off() {
    use std::io::{Read, Write};
    let limits = Limits { idle_timeout: Duration::from_millis(200), ..Limits::default() };
    let (binding, _open, _entries) = server(limits);
    let Binding::Tcp { port, .. } = binding else { unreachable!() };
    let mut peer = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    // The first 10 bytes of a bind header, then one byte every 50 ms: each
    // read comes well within the idle timeout, the PDU never completes.
    peer.write_all(&[5, 0, 11, 3, 0x10, 0, 0, 0, 0x00, 0x08]).unwrap(); // frag_length 2048
    peer.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    let mut closed = false;
    for _ in 0..100 {
        let mut byte = [0u8; 1];
        match peer.read(&mut byte) {
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Ok(0) | Err(_) => {
                closed = true;
                break;
            }
            Ok(_) => panic!("the server answered half a PDU"),
        }
        if peer.write_all(&[0]).is_err() {
            closed = true;
            break;
        }
    }
    assert!(closed, "the server kept a PDU begun 5 s ago");
}
