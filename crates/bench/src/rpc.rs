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
use switchboard_rpc::runtime::MakeInterfaces;

use crate::{Row, measure, spawn_child};

/// The request's size on the wire (header 16 + request 8 + two longs):
/// the raw baseline moves as many bytes.
const CALL_BYTES: usize = 32;

/// Child mode: serves the example interface at `path`.
pub(crate) fn serve(path: &Path) {
    let listener = UnixListener::bind(path).expect("bind the ncalrpc endpoint");
    println!("ready");
    let make: MakeInterfaces = Arc::new(|| vec![example::server()]);
    let _ = switchboard_rpc::runtime::serve_local(&listener, "BENCH", &make);
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

/// Calls per second of `Add(40, 2)` through the generated client stubs over
/// `ncalrpc`, `clients` connections calling at once, the server another
/// process.
#[allow(clippy::cast_precision_loss)] // call counts far below 2^52
pub(crate) fn calls_per_second(dir: &Path, clients: usize, calls: usize) -> f64 {
    use switchboard_rpc::example::SwitchboardExampleClient;
    let path = dir.join(format!("ncalrpc-rate-{clients}"));
    let _server = spawn_child("rpc-serve", &path);
    let barrier = Arc::new(std::sync::Barrier::new(clients + 1));
    let threads: Vec<_> = (0..clients)
        .map(|_| {
            let (path, barrier) = (path.clone(), Arc::clone(&barrier));
            std::thread::spawn(move || {
                let rpc = Client::bind(UnixStream::connect(&path).expect("connect"), example::syntax()).expect("bind");
                let mut example = SwitchboardExampleClient::new(rpc);
                for _ in 0..100 {
                    assert_eq!(example.add(40, 2).expect("Add"), 42);
                }
                barrier.wait();
                for _ in 0..calls {
                    std::hint::black_box(example.add(40, 2).expect("Add"));
                }
            })
        })
        .collect();
    barrier.wait();
    let start = Instant::now();
    for t in threads {
        t.join().expect("client thread");
    }
    (clients * calls) as f64 / start.elapsed().as_secs_f64()
}

/// The same with another framework, run by `bench-peers/rpc-peers`
/// (`kind` tarpc or tonic); `None` when the peer is not built.
pub(crate) fn peer_calls_per_second(kind: &str, clients: usize, calls: usize) -> Option<f64> {
    let program = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bench-peers/rpc-peers/target/release/rpc-peers");
    if !program.exists() {
        eprintln!("(no {kind} column: `bash scripts/bench` builds {})", program.display());
        return None;
    }
    let output = std::process::Command::new(&program)
        .args([kind, &clients.to_string(), &calls.to_string()])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    String::from_utf8_lossy(&output.stdout).trim().parse().ok()
}

/// Calls per second with 1 and 8 clients: ours, tarpc's, tonic's.
pub(crate) fn rates(dir: &Path, n: usize) -> Vec<(usize, f64, Option<f64>, Option<f64>)> {
    [1usize, 8]
        .into_iter()
        .map(|clients| {
            let calls = (n * 2 / clients).max(1000);
            (
                clients,
                calls_per_second(dir, clients, calls),
                peer_calls_per_second("tarpc", clients, calls),
                peer_calls_per_second("tonic", clients, calls),
            )
        })
        .collect()
}

/// The table of [`rates`].
pub(crate) fn print_rates(rates: &[(usize, f64, Option<f64>, Option<f64>)]) {
    println!();
    println!(
        "| RPC calls per second: Add(40, 2), Unix socket, server in another process | ours: DCE/RPC over ncalrpc | tarpc (MessagePack) | ratio | tonic (gRPC, HTTP/2) | ratio |"
    );
    println!("|---|---|---|---|---|---|");
    for &(clients, ours, tarpc, tonic) in rates {
        let cell = |v: Option<f64>| v.map_or_else(|| "not built".to_owned(), |v| format!("{:.0} k/s", v / 1e3));
        let ratio = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{:.2}", ours / v));
        let label =
            if clients == 1 { "1 client".to_owned() } else { format!("{clients} clients, one connection each") };
        println!(
            "| {label} | {:.0} k/s | {} | {} | {} | {} |",
            ours / 1e3,
            cell(tarpc),
            ratio(tarpc),
            cell(tonic),
            ratio(tonic)
        );
    }
}
