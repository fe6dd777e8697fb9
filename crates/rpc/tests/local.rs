//! The example interface served on `ncalrpc` (a Unix socket) and on TCP,
//! called by our own client from another thread through the real sockets.

use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::Arc;

use switchboard_rpc::client::Client;
use switchboard_rpc::example;
use switchboard_rpc::ndr::NdrWriter;
use switchboard_rpc::runtime::MakeInterfaces;

fn make() -> MakeInterfaces {
    Arc::new(|| vec![example::server()])
}

fn add_stub(a: i32, b: i32) -> Vec<u8> {
    let mut w = NdrWriter::new();
    w.i32(a);
    w.i32(b);
    w.into_bytes()
}

#[test]
fn ncalrpc_serves_calls_of_any_size_and_faults_unknown_operations() {
    let dir = tempfile_dir();
    let path = dir.join("EXAMPLE");
    let listener = UnixListener::bind(&path).unwrap();
    let make = make();
    std::thread::spawn(move || switchboard_rpc::runtime::serve_local(&listener, "EXAMPLE", &make));
    let mut client = Client::bind(UnixStream::connect(&path).unwrap(), example::syntax()).unwrap();
    assert_eq!(client.call(0, &add_stub(40, 2)).unwrap().stub, 42i32.to_le_bytes());
    let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let mut w = NdrWriter::new();
    w.i32(100_000);
    w.conformant_bytes(&data);
    let reply = client.call(3, &w.into_bytes()).unwrap().stub;
    assert!(reply[4..].iter().eq(data.iter().rev()), "100 kB reversed, both ways fragmented");
    let e = client.call(9, &[0; 4]).unwrap_err();
    assert!(e.to_string().contains("0x1c010002"), "{e}");
    assert_eq!(client.call(0, &add_stub(1, 1)).unwrap().stub, 2i32.to_le_bytes(), "the association survives a fault");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn ncacn_ip_tcp_serves_the_same() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let make = make();
    std::thread::spawn(move || switchboard_rpc::runtime::serve(&listener, &make));
    let mut client = Client::bind(std::net::TcpStream::connect(addr).unwrap(), example::syntax()).unwrap();
    assert_eq!(client.call(0, &add_stub(-7, 2)).unwrap().stub, (-5i32).to_le_bytes());
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("switchboard-rpc-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn the_generated_client_stubs_call_every_operation_through_a_real_socket() {
    use switchboard_rpc::example::{Item, SwitchboardExampleClient};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let make = make();
    std::thread::spawn(move || switchboard_rpc::runtime::serve(&listener, &make));
    let rpc = Client::bind(std::net::TcpStream::connect(addr).unwrap(), example::syntax()).unwrap();
    let mut example = SwitchboardExampleClient::new(rpc);
    assert_eq!(example.add(40, 2).unwrap(), 42);
    assert_eq!(example.add(i32::MAX, 1).unwrap(), i32::MIN);
    assert_eq!(example.length(Some("héllo wörld".into())).unwrap(), 11);
    assert_eq!(example.length(None).unwrap(), -1);
    assert_eq!(example.length(Some("😀".into())).unwrap(), 2, "UTF-16 units");
    assert_eq!(example.sum(3, vec![i32::MAX, i32::MAX, -1]).unwrap(), 2 * i64::from(i32::MAX) - 1);
    assert_eq!(example.sum(0, vec![]).unwrap(), 0);
    let data: Vec<u8> = (0..70_000u32).map(|i| (i % 253) as u8).collect();
    let mut reply = Vec::new();
    example.reverse(70_000, data.clone(), &mut reply).unwrap();
    assert!(reply.iter().eq(data.iter().rev()));
    let items = vec![
        Item { id: 1, name: Some("ab".into()) },
        Item { id: 2, name: None },
        Item { id: 3, name: Some("cde".into()) },
    ];
    let mut total = 0;
    assert_eq!(example.count_named(3, items, &mut total).unwrap(), 2);
    assert_eq!(total, 5);
    // A count that disagrees with the array: the server's stub refuses it.
    let e = example.sum(5, vec![1]).unwrap_err();
    assert!(matches!(e, switchboard_rpc::client::Error::Fault { opnum: 2, status: 0x6F7 }), "{e}");
}

#[test]
fn an_ncalrpc_directory_another_user_owns_is_refused_by_servers_and_clients() {
    if rustix::process::getuid().as_raw() != 0 {
        eprintln!("skipped: planting a directory as another uid needs root");
        return;
    }
    let base = tempfile::tempdir().unwrap();
    let planted = base.path().join("ncalrpc");
    std::fs::create_dir(&planted).unwrap();
    // Another user made the directory first, with a socket of its own where
    // an endpoint will be looked for.
    let attacker = std::os::unix::net::UnixListener::bind(planted.join("EPMAPPER")).unwrap();
    std::os::unix::fs::chown(&planted, Some(65_534), Some(65_534)).unwrap();
    let server = switchboard_rpc::local::listen(&planted, "EPMAPPER").unwrap_err();
    assert!(server.to_string().contains("owned by uid 65534"), "{server}");
    let client = switchboard_rpc::local::connect(&planted, "EPMAPPER").unwrap_err();
    assert!(client.to_string().contains("owned by uid 65534"), "{client}");
    drop(attacker);
}

#[test]
fn the_default_ncalrpc_directory_is_inside_the_realm() {
    let Ok(realm) = switchboard::Realm::from_env() else {
        eprintln!("skipped: no realm can be found in this environment");
        return;
    };
    let dir = switchboard_rpc::local::default_dir().unwrap();
    assert_eq!(dir, realm.dir().join("ncalrpc"));
    assert!(!dir.starts_with("/tmp/switchboard/"), "a directory every user shares");
}
