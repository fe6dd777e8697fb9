//! DCE/RPC: a call of `Add` over `ncalrpc` (a Unix socket, another process)
//! beside a raw Unix-socket round trip of the same size, in the same run.

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use switchboard_rpc::client::Client;
use switchboard_rpc::example;
use switchboard_rpc::ndr::NdrWriter;
use switchboard_rpc::server::Interface;

use crate::{Row, measure, spawn_child};

/// The request's size on the wire (header 16 + request 8 + two longs):
/// the raw baseline moves as many bytes.
const CALL_BYTES: usize = 32;

/// Child mode: serves the example interface at `path`.
pub(crate) fn serve(path: &Path) {
    let listener = UnixListener::bind(path).expect("bind the ncalrpc endpoint");
    println!("ready");
    let make: Arc<dyn Fn() -> Vec<Box<dyn Interface>> + Send + Sync> = Arc::new(|| vec![example::server()]);
    let _ = switchboard_rpc::tcp::serve_local(&listener, "BENCH", &make);
}

/// Child mode: echoes `CALL_BYTES`-byte messages.
pub(crate) fn echo(path: &Path) {
    let listener = UnixListener::bind(path).expect("bind");
    println!("ready");
    for stream in listener.incoming() {
        let Ok(mut s) = stream else { continue };
        std::thread::spawn(move || {
            let mut buf = [0u8; CALL_BYTES];
            while s.read_exact(&mut buf).is_ok() && s.write_all(&buf).is_ok() {}
        });
    }
}

/// The row.
pub(crate) fn row(dir: &Path, n: usize) -> Row {
    let rpc_path = dir.join("ncalrpc-bench");
    let echo_path = dir.join("rpc-echo");
    let _server = spawn_child("rpc-serve", &rpc_path);
    let _echo = spawn_child("rpc-echo", &echo_path);
    let mut client = Client::bind(UnixStream::connect(&rpc_path).expect("connect"), example::syntax()).expect("bind");
    let mut w = NdrWriter::new();
    w.i32(40);
    w.i32(2);
    let stub = w.into_bytes();
    let ours = measure(n, &mut || {
        let start = Instant::now();
        std::hint::black_box(client.call(0, &stub).expect("Add"));
        start.elapsed()
    });
    let mut raw = UnixStream::connect(&echo_path).expect("connect echo");
    let mut buf = [7u8; CALL_BYTES];
    let baseline = measure(n, &mut || {
        let start = Instant::now();
        raw.write_all(&buf).expect("write");
        raw.read_exact(&mut buf).expect("read");
        start.elapsed()
    });
    Row {
        what: "DCE/RPC call Add(40, 2) over ncalrpc (another process)".into(),
        ours,
        baseline_name: "raw Unix stream socket round trip, 32 B".into(),
        baseline,
    }
}
