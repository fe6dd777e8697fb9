//! Named-pipe rows: round trips, throughput and connection set-up, each
//! beside a raw Unix stream socket (and the `interprocess` crate) in the
//! same run. Children are this binary in another mode.

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::time::{Duration, Instant};

use interprocess::local_socket::prelude::*;
use interprocess::local_socket::{GenericFilePath, ListenerOptions, Stream};
use switchboard::pipe::{GENERIC_READ_WRITE, PipeClient, PipeMode, ServerOptions};
use switchboard::{ConnectOptions, Connection};

use crate::stats::Sample;
use crate::{Row, measure, spawn_child};

pub const ECHO_PIPE: &str = r"\\.\pipe\bench.echo";
pub const SINK_PIPE: &str = r"\\.\pipe\bench.sink";

/// Child mode: echoes whatever arrives on each connection of a Unix socket.
pub fn raw_echo(path: &Path) {
    let listener = UnixListener::bind(path).expect("bind");
    println!("ready");
    for stream in listener.incoming() {
        let Ok(mut s) = stream else { continue };
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 64 * 1024];
            while let Ok(n) = s.read(&mut buf) {
                if n == 0 || s.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        });
    }
}

/// Child mode: the same echo through the `interprocess` crate.
pub fn ipc_echo(path: &Path) {
    let name = path.to_fs_name::<GenericFilePath>().expect("name");
    let listener = ListenerOptions::new().name(name).create_sync().expect("listen");
    println!("ready");
    for conn in listener.incoming() {
        let Ok(mut s) = conn else { continue };
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 64 * 1024];
            while let Ok(n) = s.read(&mut buf) {
                if n == 0 || s.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        });
    }
}

/// Child mode: a message-type pipe server that echoes each message, one
/// instance per client, always one more listening.
pub fn pipe_echo(broker: &Path) {
    let conn = ConnectOptions::new().socket(broker).autostart(false).connect().expect("connect");
    let options = ServerOptions::new().pipe_mode(PipeMode::Message);
    let mut server = options.create(&conn, ECHO_PIPE).expect("create");
    println!("ready");
    loop {
        if server.connect(None).is_err() {
            return;
        }
        let next = options.create(&conn, ECHO_PIPE).expect("next instance");
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 64 * 1024];
            while let Ok(got) = server.read(&mut buf) {
                if server.write(&buf[..got.len]).is_err() {
                    break;
                }
            }
        });
        server = next;
    }
}

/// Child mode: reads an 8-byte total, then that many bytes, then answers one
/// byte; over and over. `pipe` selects a byte-type pipe instead of a socket.
pub fn sink(broker_or_path: &Path, pipe: bool) {
    let total_then_ack = |read: &mut dyn FnMut(&mut [u8]) -> usize, ack: &mut dyn FnMut()| {
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let mut header = [0u8; 8];
            let mut got = 0;
            while got < 8 {
                let n = read(&mut header[got..]);
                if n == 0 {
                    return;
                }
                got += n;
            }
            let mut left = u64::from_le_bytes(header);
            while left > 0 {
                let want = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len());
                let n = read(&mut buf[..want]);
                if n == 0 {
                    return;
                }
                left -= n as u64;
            }
            ack();
        }
    };
    if pipe {
        let conn = ConnectOptions::new().socket(broker_or_path).autostart(false).connect().expect("connect");
        let server = ServerOptions::new().create(&conn, SINK_PIPE).expect("create");
        println!("ready");
        server.connect(None).expect("connect");
        total_then_ack(&mut |b| server.read(b).map_or(0, |r| r.len), &mut || server.write(b"k").expect("ack"));
    } else {
        let listener = UnixListener::bind(broker_or_path).expect("bind");
        println!("ready");
        let (s, _) = listener.accept().expect("accept");
        let mut r = s.try_clone().expect("clone");
        let mut w = s;
        total_then_ack(&mut |b| r.read(b).unwrap_or(0), &mut || w.write_all(b"k").expect("ack"));
    }
}

/// A throughput row: bytes per second, ours and the baseline's.
pub struct Throughput {
    pub what: String,
    pub ours: f64,
    pub baseline: f64,
    pub ceiling: f64,
}

/// Runs every pipe row.
pub fn rows(dir: &Path, broker: &Path, conn: &Connection, n: usize) -> (Vec<Row>, Vec<Throughput>) {
    let raw_path = dir.join("raw-echo.sock");
    let ipc_path = dir.join("ipc-echo.sock");
    let _raw = spawn_child("raw-echo", &raw_path);
    let _ipc = spawn_child("ipc-echo", &ipc_path);
    let _pipe = spawn_child("pipe-echo", broker);
    let client =
        PipeClient::open_wait(conn, ECHO_PIPE, GENERIC_READ_WRITE, Duration::from_secs(10)).expect("open echo pipe");
    client.set_read_mode(PipeMode::Message).expect("message mode");
    let mut raw = UnixStream::connect(&raw_path).expect("raw connect");
    let ipc_name = ipc_path.as_path().to_fs_name::<GenericFilePath>().expect("name");
    let mut ipc = Stream::connect(ipc_name).expect("interprocess connect");
    let mut latency = Vec::new();
    for size in [1usize, 64, 1024] {
        let ours = pipe_round_trip(&client, size, n);
        let base = stream_round_trip(&mut raw, size, n);
        let theirs = stream_round_trip(&mut ipc, size, n);
        let label = if size == 1024 { "1 KiB".to_owned() } else { format!("{size} B") };
        latency.push(Row {
            what: format!("named pipe round trip, {label} (message mode)"),
            ours: ours.clone(),
            baseline_name: format!("raw Unix stream socket, {label}"),
            baseline: base,
        });
        latency.push(Row {
            what: format!("named pipe round trip, {label} (message mode)"),
            ours,
            baseline_name: format!("interprocess local socket, {label}"),
            baseline: theirs,
        });
    }
    let setup_n = (n / 10).max(100);
    latency.push(Row {
        what: "pipe open + connect + first byte".into(),
        ours: measure(setup_n, &mut || {
            let start = Instant::now();
            let c = PipeClient::open_wait(conn, ECHO_PIPE, GENERIC_READ_WRITE, Duration::from_secs(10)).expect("open");
            c.write(b"x").expect("write");
            let mut b = [0u8; 1];
            c.read(&mut b).expect("read");
            start.elapsed()
        }),
        baseline_name: "raw connect() + first byte".into(),
        baseline: measure(setup_n, &mut || {
            let start = Instant::now();
            let mut s = UnixStream::connect(&raw_path).expect("connect");
            s.write_all(b"x").expect("write");
            let mut b = [0u8; 1];
            s.read_exact(&mut b).expect("read");
            start.elapsed()
        }),
    });
    (latency, throughput(dir, broker, conn))
}

fn pipe_round_trip(client: &PipeClient, size: usize, n: usize) -> Sample {
    let out = vec![7u8; size];
    let mut back = vec![0u8; size];
    measure(n, &mut || {
        let start = Instant::now();
        client.write(&out).expect("write");
        client.read(&mut back).expect("read");
        start.elapsed()
    })
}

fn stream_round_trip(s: &mut (impl Read + Write), size: usize, n: usize) -> Sample {
    let out = vec![7u8; size];
    let mut back = vec![0u8; size];
    measure(n, &mut || {
        let start = Instant::now();
        s.write_all(&out).expect("write");
        s.read_exact(&mut back).expect("read");
        start.elapsed()
    })
}

fn throughput(dir: &Path, broker: &Path, conn: &Connection) -> Vec<Throughput> {
    let raw_path = dir.join("raw-sink.sock");
    let _raw_sink = spawn_child("raw-sink", &raw_path);
    let _pipe_sink = spawn_child("pipe-sink", broker);
    let mut raw = UnixStream::connect(&raw_path).expect("connect sink");
    let pipe = PipeClient::open_wait(conn, SINK_PIPE, GENERIC_READ_WRITE, Duration::from_secs(10)).expect("open sink");
    let mut rows = Vec::new();
    for size in [4usize << 10, 64 << 10, 1 << 20] {
        let total: usize = 256 << 20;
        let count = total / size;
        let msg = vec![1u8; size];
        let best = |f: &mut dyn FnMut() -> Duration| (0..3).map(|_| f()).min().unwrap_or_default();
        let ours = best(&mut || {
            let start = Instant::now();
            pipe.write(&(total as u64).to_le_bytes()).expect("header");
            for _ in 0..count {
                pipe.write(&msg).expect("write");
            }
            let mut ack = [0u8; 1];
            pipe.read(&mut ack).expect("ack");
            start.elapsed()
        });
        let base = best(&mut || {
            let start = Instant::now();
            raw.write_all(&(total as u64).to_le_bytes()).expect("header");
            for _ in 0..count {
                raw.write_all(&msg).expect("write");
            }
            let mut ack = [0u8; 1];
            raw.read_exact(&mut ack).expect("ack");
            start.elapsed()
        });
        // The ceiling: the same bytes moved by memcpy in `size` chunks, through
        // 64 MiB regions so that large sizes are not served from cache.
        let region = 64 << 20;
        let src = vec![3u8; region];
        let mut dst = vec![0u8; region];
        let ceiling = best(&mut || {
            let start = Instant::now();
            let mut at = 0;
            for _ in 0..count {
                if at + size > region {
                    at = 0;
                }
                dst[at..at + size].copy_from_slice(&src[at..at + size]);
                at += size;
            }
            std::hint::black_box(&dst);
            start.elapsed()
        });
        // 256 MiB is exact in an f64.
        #[allow(clippy::cast_precision_loss)]
        let rate = |d: Duration| total as f64 / d.as_secs_f64().max(1e-9);
        let label = match size {
            s if s >= 1 << 20 => "1 MiB".to_owned(),
            s => format!("{} KiB", s >> 10),
        };
        rows.push(Throughput {
            what: format!("named pipe throughput, {label} writes (byte type)"),
            ours: rate(ours),
            baseline: rate(base),
            ceiling: rate(ceiling),
        });
    }
    rows
}
