//! The server against hostile peers, through real sockets: one host
//! holding many connections, idle or binding a byte at a time; a peer
//! trickling a PDU or never binding; a server full of idle associations.
//! The attacker's sockets come from 127.0.0.2, the legitimate client's
//! from 127.0.0.1 (both loopback on Linux), so they are different peers.

use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use switchboard_rpc::client::Client;
use switchboard_rpc::example;
use switchboard_rpc::ndr::NdrWriter;
use switchboard_rpc::pdu::{Body, Header, PacketType, Pdu, flags};
use switchboard_rpc::runtime::{Limits, MakeInterfaces};

/// How long anything the server owes us may take before the test fails:
/// an outer bound for a hang, never the thing measured.
const GENEROUS: Duration = Duration::from_secs(10);

const ATTACKER: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);

fn server(limits: Limits) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let make: MakeInterfaces = Arc::new(|| vec![example::server()]);
    std::thread::spawn(move || switchboard_rpc::runtime::serve_with(&listener, &make, limits));
    addr
}

/// A connection to `to` from the address `from` (bound before connecting).
fn connect_from(from: Ipv4Addr, to: SocketAddr) -> TcpStream {
    use rustix::net::{AddressFamily, SocketType};
    let socket = rustix::net::socket(AddressFamily::INET, SocketType::STREAM, None).unwrap();
    rustix::net::bind(&socket, &SocketAddrV4::new(from, 0)).unwrap();
    rustix::net::connect(&socket, &to).unwrap();
    TcpStream::from(socket)
}

/// A legitimate client from 127.0.0.1: binds the example interface and
/// adds 40 and 2, every answer due within [`GENEROUS`].
fn legitimate_call(addr: SocketAddr) -> std::io::Result<Client<TcpStream>> {
    let stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(GENEROUS))?;
    let mut client = Client::bind(stream, example::syntax())?;
    let reply = client.call(0, &add_stub(40, 2)).map_err(std::io::Error::other)?;
    assert_eq!(reply.stub, 42i32.to_le_bytes());
    Ok(client)
}

fn add_stub(a: i32, b: i32) -> Vec<u8> {
    let mut w = NdrWriter::new();
    w.i32(a);
    w.i32(b);
    w.into_bytes()
}

/// Whether the server closes `stream`: waits (within [`GENEROUS`]) for
/// the end of the stream while `nudge` keeps the peer sending, each time
/// a read has waited `every` for nothing.
fn closed_by_server(stream: &TcpStream, every: Duration, mut nudge: impl FnMut(&TcpStream)) -> bool {
    stream.set_read_timeout(Some(every)).unwrap();
    let rounds = GENEROUS.as_millis() / every.as_millis().max(1);
    let mut byte = [0u8; 1];
    for _ in 0..rounds {
        match (&*stream).read(&mut byte) {
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => nudge(stream),
            // The end of the stream, or a reset (a close too).
            Ok(0) | Err(_) => return true,
            Ok(_) => panic!("the server answered what it cannot have read whole"),
        }
    }
    false
}

/// The first 16 bytes of a PDU of type `ptype`, announced `frag_length` long.
fn header(ptype: PacketType, frag_length: u16) -> Vec<u8> {
    let mut bytes =
        Pdu { header: Header::new(ptype, flags::FIRST_FRAG | flags::LAST_FRAG, 7), body: Body::Empty, auth: None }
            .emit();
    bytes[8..10].copy_from_slice(&frag_length.to_le_bytes());
    bytes.truncate(16);
    bytes
}

#[test]
fn hundreds_of_idle_connections_from_one_peer_do_not_keep_another_peer_out() {
    let addr = server(Limits::default());
    let attacker: Vec<TcpStream> = (0..300).map(|_| connect_from(ATTACKER, addr)).collect();
    // Accepted in order: the server has seen all 300 before this one.
    let client = legitimate_call(addr);
    assert!(client.is_ok(), "the legitimate client was kept out: {:?}", client.err());
    drop(attacker);
}

#[test]
fn connections_binding_a_byte_at_a_time_do_not_keep_another_peer_out() {
    let limits = Limits { max_associations: 16, ..Limits::default() };
    let addr = server(limits);
    let bind = header(PacketType::Bind, 72);
    let attacker: Vec<TcpStream> = (0..64).map(|_| connect_from(ATTACKER, addr)).collect();
    // Every connection has begun its bind, none will finish it soon.
    for byte in &bind[..3] {
        for mut stream in &attacker {
            let _ = stream.write_all(std::slice::from_ref(byte));
        }
    }
    let client = legitimate_call(addr);
    assert!(client.is_ok(), "the legitimate client was kept out: {:?}", client.err());
    for mut stream in &attacker {
        let _ = stream.write_all(&bind[3..4]);
    }
}

#[test]
fn a_peer_trickling_a_pdu_within_the_idle_timeout_is_cut_off_at_the_pdu_deadline() {
    let limits = Limits { pdu_deadline: Duration::from_millis(300), ..Limits::default() };
    let addr = server(limits);
    let stream = TcpStream::connect(addr).unwrap();
    // Bound first, so only the PDU deadline can end it (not the bind's).
    let client = Client::bind(&stream, example::syntax()).unwrap();
    // A request announced 2048 bytes long, sent a byte each 100 ms: every
    // byte well within the idle timeout (300 s), the PDU never finished.
    let request = header(PacketType::Request, 2048);
    let mut sent = 0;
    let closed = closed_by_server(&stream, Duration::from_millis(100), |mut s| {
        let byte = request.get(sent).copied().unwrap_or(0);
        sent += 1;
        let _ = s.write_all(&[byte]);
    });
    assert!(closed, "a PDU begun 10 s ago is still held open ({sent} bytes trickled)");
    drop(client);
}

#[test]
fn a_peer_that_never_binds_is_closed_at_the_bind_deadline_though_it_keeps_sending() {
    let limits = Limits { bind_deadline: Duration::from_millis(300), ..Limits::default() };
    let addr = server(limits);
    let stream = TcpStream::connect(addr).unwrap();
    // Whole PDUs that need no bind (orphaned), each 100 ms: never silent,
    // never half a PDU, never bound.
    let orphaned = header(PacketType::Orphaned, 16);
    let closed = closed_by_server(&stream, Duration::from_millis(100), |mut s| {
        let _ = s.write_all(&orphaned);
    });
    assert!(closed, "a connection that never bound is still open after 10 s");
}

#[test]
fn a_server_full_of_idle_associations_closes_the_longest_idle_for_a_new_caller() {
    let limits = Limits { max_associations: 4, max_associations_per_peer: Some(4), ..Limits::default() };
    let addr = server(limits);
    // Four associations, each idle after its call: the first idle the longest.
    let mut held: Vec<Client<TcpStream>> = (0..4).map(|_| legitimate_call(addr).unwrap()).collect();
    let newcomer = legitimate_call(addr);
    assert!(newcomer.is_ok(), "a new caller refused while every association was idle: {:?}", newcomer.err());
    let first = held.remove(0);
    assert!(closed_by_server(first.stream(), GENEROUS, |_| {}), "the longest idle association is still open");
    for client in &mut held {
        let reply = client.call(0, &add_stub(1, 2)).expect("the other associations are still served");
        assert_eq!(reply.stub, 3i32.to_le_bytes());
    }
}

#[test]
fn an_ncalrpc_user_at_its_share_gives_up_its_own_idle_association_for_a_new_one() {
    use std::os::unix::net::{UnixListener, UnixStream};
    let dir = std::env::temp_dir().join(format!("switchboard-rpc-hostile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("SHARE");
    let listener = UnixListener::bind(&path).unwrap();
    // Room for four, one of them per user: both connections are this user's.
    let limits = Limits { max_associations: 4, ..Limits::default() };
    let make: MakeInterfaces = Arc::new(|| vec![example::server()]);
    std::thread::spawn(move || switchboard_rpc::runtime::serve_local_with(&listener, "SHARE", &make, limits));
    let first = Client::bind(UnixStream::connect(&path).unwrap(), example::syntax()).unwrap();
    let stream = UnixStream::connect(&path).unwrap();
    stream.set_read_timeout(Some(GENEROUS)).unwrap();
    let mut second = Client::bind(stream, example::syntax()).unwrap();
    assert_eq!(second.call(0, &add_stub(2, 3)).unwrap().stub, 5i32.to_le_bytes());
    first.stream().set_read_timeout(Some(GENEROUS)).unwrap();
    let mut reader = first.stream();
    let closed = match reader.read(&mut [0u8; 1]) {
        Err(e) => !matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
        Ok(n) => n == 0,
    };
    assert!(closed, "the user's first, idle association outlived its share");
    let _ = std::fs::remove_dir_all(dir);
}
