//! `switchboard-bench`: every row is two processes, measured beside its
//! baseline in the same run, reported as `ratio = ours / baseline`.
//!
//! ```text
//! cargo run --release -p switchboard-bench -- all
//! ```
//!
//! The child processes are this same binary in another mode (`echo-server`,
//! `broker`), so nothing else needs to be built or installed.
#![forbid(unsafe_code)]

mod mailslots;
mod pipes;
mod registry;
mod rpc;
mod stats;
mod sync;

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use stats::Sample;
use switchboard::{ConnectOptions, Connection, atom};

/// Bytes each way in the raw round trip: the size of an atom-find request
/// frame and its reply, so the baseline moves the same bytes as the broker.
const RAW_MESSAGE: usize = 32;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("echo-server") => echo_server(Path::new(&args[1])),
        Some("broker") => run_broker(Path::new(&args[1])),
        Some("event-echo") => event_echo(Path::new(&args[1]), true),
        Some("event-echo-wait-only") => event_echo(Path::new(&args[1]), false),
        Some("raw-echo") => pipes::raw_echo(Path::new(&args[1])),
        Some("ipc-echo") => pipes::ipc_echo(Path::new(&args[1])),
        Some("pipe-echo") => pipes::pipe_echo(Path::new(&args[1])),
        Some("raw-sink") => pipes::sink(Path::new(&args[1]), false),
        Some("pipe-sink") => pipes::sink(Path::new(&args[1]), true),
        Some("mailslot-writer") => mailslots::mailslot_writer(Path::new(&args[1]), args[2].parse().unwrap_or(0)),
        Some("raw-dgram-writer") => mailslots::raw_writer(Path::new(&args[1]), args[2].parse().unwrap_or(0)),
        Some("mailslot-echo") => mailslots::mailslot_echo(Path::new(&args[1])),
        Some("raw-dgram-echo") => mailslots::raw_echo(Path::new(&args[1])),
        Some("mailbox-echo") => sync::mailbox_echo(),
        Some("rpc-serve") => rpc::serve(Path::new(&args[1])),
        Some("rpc-echo") => rpc::echo(Path::new(&args[1])),
        Some("syscall-probe") => syscall_probe(args.get(1).and_then(|n| n.parse().ok()).unwrap_or(100_000)),
        Some("rpc") => rpc_only(iterations(&args)),
        Some("all") | None => all(iterations(&args)),
        Some(other) => {
            eprintln!(
                "usage: switchboard-bench [all [--iterations N] | syscall-probe COUNT]   (unknown mode {other:?})"
            );
            std::process::exit(2);
        }
    }
}

fn iterations(args: &[String]) -> usize {
    args.iter()
        .position(|a| a == "--iterations")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(20_000)
}

/// Only the DCE/RPC rows (`switchboard-bench rpc`).
fn rpc_only(n: usize) {
    let dir = tempfile::tempdir().expect("temporary directory");
    print_table(&[rpc::row(dir.path(), n / 4)], n);
    rpc::print_rates(&rpc::rates(dir.path(), n));
}

/// Child mode: a Unix-socket echo server, one thread per connection.
fn echo_server(path: &Path) {
    let listener = UnixListener::bind(path).expect("bind echo socket");
    println!("ready");
    for stream in listener.incoming() {
        let Ok(mut s) = stream else { continue };
        std::thread::spawn(move || {
            let mut buf = [0u8; RAW_MESSAGE];
            while s.read_exact(&mut buf).is_ok() {
                if s.write_all(&buf).is_err() {
                    break;
                }
            }
        });
    }
}

/// Child mode: a broker on `path`, the production server.
fn run_broker(path: &Path) {
    switchboard_sys::limits::raise_fd_limit();
    let mut config = switchboard_broker::server::ServerConfig::new(switchboard_sys::Realm::custom(path));
    // The many-clients row connects 10,000 clients: more than the quarter
    // of the descriptor limit the defaults give connections.
    config.core.max_clients = 20_000;
    config.limits.max_conns = 20_000;
    let server = switchboard_broker::server::Server::bind(config).expect("bind the broker");
    println!("ready");
    server.run().expect("broker event loop");
}

/// Child mode: answers every set of `Local\\bench.ping` by setting
/// `Local\\bench.pong`. With `may_modify` its ping handle also has
/// `EVENT_MODIFY_STATE`, so it gets a writable page and takes the event in
/// shared memory; without, the handle may only wait, and each take goes
/// through the broker.
fn event_echo(path: &Path, may_modify: bool) {
    use switchboard::event::access::{EVENT_MODIFY_STATE, SYNCHRONIZE};
    let conn = ConnectOptions::new().socket(path).autostart(false).connect().expect("connect");
    let access = if may_modify { SYNCHRONIZE | EVENT_MODIFY_STATE } else { SYNCHRONIZE };
    let ping = switchboard::Event::open(&conn, "bench.ping", access).expect("open ping");
    let pong = switchboard::Event::open(&conn, "bench.pong", switchboard::event::access::EVENT_MODIFY_STATE)
        .expect("open pong");
    println!("ready");
    while ping.wait(None).is_ok() {
        if pong.set().is_err() {
            break;
        }
    }
}

pub(crate) struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) fn spawn_child(mode: &str, socket: &Path) -> ChildGuard {
    let exe = std::env::current_exe().expect("own path");
    let mut child = Command::new(exe)
        .arg(mode)
        .arg(socket)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start child");
    let mut out = child.stdout.take().expect("child stdout");
    let mut ready = [0u8; 6];
    out.read_exact(&mut ready).expect("child readiness");
    ChildGuard(child)
}

pub(crate) struct Row {
    pub(crate) what: String,
    pub(crate) ours: Sample,
    pub(crate) baseline_name: String,
    pub(crate) baseline: Sample,
}

// Byte and client counts printed as floats are far below 2^52: exact.
#[allow(clippy::cast_precision_loss)]
fn all(n: usize) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let echo_path = dir.path().join("echo.sock");
    let broker_path = dir.path().join("broker.sock");
    let _echo = spawn_child("echo-server", &echo_path);
    let broker = spawn_child("broker", &broker_path);
    let conn =
        ConnectOptions::new().socket(&broker_path).autostart(false).connect().expect("connect to the bench broker");

    let mut rows = Vec::new();
    let raw_rt = raw_round_trip(&echo_path, n);
    let atom_rt = atom_round_trip(&conn, n);
    rows.push(Row {
        what: "broker round trip (GlobalFindAtom)".into(),
        ours: atom_rt,
        baseline_name: "raw Unix socket round trip, 32 B".into(),
        baseline: raw_rt,
    });
    let ping = switchboard::EventOptions::new().create(&conn, "bench.ping").expect("create ping").object;
    let pong = switchboard::EventOptions::new().create(&conn, "bench.pong").expect("create pong").object;
    rows.push(sync::round_trip(&ping, &pong, &broker_path, n / 4));
    rows.push(sync::round_trip_wait_only(&ping, &pong, &broker_path, &echo_path, n / 4));
    let peers = [
        ("raw-sync-events", "raw_sync events (process-shared pthread mutex + condvar)"),
        ("iceoryx2-events", "iceoryx2 event services (notifier → listener)"),
    ];
    for (peer, baseline) in peers {
        rows.extend(sync::peer_round_trip(peer, baseline, &ping, &pong, &broker_path, n / 4));
    }
    rows.extend(sync::same_cpu_rows(&ping, &pong, &broker_path, dir.path(), n / 20));
    let setup_n = (n / 10).max(100);
    let raw_connect = raw_connect(&echo_path, setup_n);
    let our_connect = our_connect(&broker_path, setup_n);
    rows.push(Row {
        what: "connection set-up (connect + handshake)".into(),
        ours: our_connect,
        baseline_name: "raw connect() + 1 round trip".into(),
        baseline: raw_connect,
    });
    let (pipe_rows, throughput) = pipes::rows(dir.path(), &broker_path, &conn, n / 4);
    rows.extend(pipe_rows);
    rows.push(mailslots::round_trip(dir.path(), &broker_path, n / 4));
    rows.push(section_open_and_map(&conn, (n / 10).max(100)));
    rows.extend(registry::rows(&conn, dir.path(), (n / 20).max(100)));
    rows.push(rpc::row(dir.path(), n / 4));
    let rpc_rates = rpc::rates(dir.path(), n);
    let uncontended = sync::uncontended(&conn, n * 50);
    let rates = mailslots::rates(dir.path(), &broker_path, 200_000);
    let clients = many_clients(&broker_path, broker.0.id(), 10_000, n / 4);
    print_table(&rows, n);
    println!();
    println!("| uncontended, no other process involved | ours | baseline: std::sync::Mutex lock + unlock | ratio |");
    println!("|---|---|---|---|");
    for r in uncontended {
        println!("| {} | {:.0} ns | {:.0} ns | {:.2} |", r.what, r.ours, r.baseline, r.ours / r.baseline);
    }
    println!();
    println!("| throughput | ours | baseline: raw Unix stream socket | ratio | in-process memcpy (ceiling) |");
    println!("|---|---|---|---|---|");
    for t in throughput {
        println!(
            "| {} | {:.2} GB/s | {:.2} GB/s | {:.2} | {:.2} GB/s |",
            t.what,
            t.ours / 1e9,
            t.baseline / 1e9,
            t.ours / t.baseline,
            t.ceiling / 1e9
        );
    }
    if let Some(c) = clients {
        println!();
        println!(
            "| broker with {} clients connected at once | broker memory before | after | per client | atom find round trip, all connected |",
            c.count
        );
        println!("|---|---|---|---|---|");
        println!(
            "| {} connected | {:.1} MiB | {:.1} MiB | {:.1} KiB | {} median, {} p99 |",
            c.count,
            c.rss_before as f64 / 1_048_576.0,
            c.rss_after as f64 / 1_048_576.0,
            c.rss_after.saturating_sub(c.rss_before) as f64 / 1024.0 / c.count as f64,
            stats::fmt(c.round_trip.median()),
            stats::fmt(c.round_trip.p99())
        );
    }
    println!();
    rpc::print_rates(&rpc_rates);
    println!();
    println!("| messages | ours | baseline: raw Unix datagram socket | ratio |");
    println!("|---|---|---|---|");
    for (what, ours, raw) in rates {
        println!("| {what} | {:.0} k/s | {:.0} k/s | {:.2} |", ours / 1e3, raw / 1e3, ours / raw);
    }
}

/// What many connected clients cost the broker.
struct ManyClients {
    count: usize,
    rss_before: u64,
    rss_after: u64,
    round_trip: Sample,
}

/// The resident memory of a process, in bytes.
fn rss(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib: u64 =
        status.lines().find_map(|l| l.strip_prefix("VmRSS:"))?.trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kib * 1024)
}

/// Connects `count` clients to the broker (each with its handshake done),
/// then measures a round trip while they are all connected. `None` when
/// the descriptor limit does not allow that many.
fn many_clients(broker: &Path, broker_pid: u32, count: usize, n: usize) -> Option<ManyClients> {
    let limit = switchboard_sys::limits::raise_fd_limit();
    if limit < count as u64 + 256 {
        eprintln!("skipping the {count}-client row: the descriptor limit is {limit}");
        return None;
    }
    let options = ConnectOptions::new().socket(broker).autostart(false);
    let rss_before = rss(broker_pid)?;
    let clients: Vec<Connection> = (0..count).map(|_| options.connect().expect("connect a client")).collect();
    let rss_after = rss(broker_pid)?;
    let probe = &clients[count / 2];
    let round_trip = measure(n, &mut || {
        let start = Instant::now();
        atom::global_find(probe, "bench.atom").expect("find");
        start.elapsed()
    });
    drop(clients);
    Some(ManyClients { count, rss_before, rss_after, round_trip })
}

/// Child mode: runs its own broker, then `count` uncontended mutex and
/// semaphore pairs (see `sync::syscall_probe`).
fn syscall_probe(count: usize) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let socket = dir.path().join("broker.sock");
    let _broker = spawn_child("broker", &socket);
    sync::syscall_probe(&socket, count);
}

/// Opening a named 1 MiB section and mapping it, beside making a memfd of
/// the same size and mapping it, per call.
fn section_open_and_map(conn: &Connection, n: usize) -> Row {
    use switchboard::section::{FILE_MAP_ALL_ACCESS, Section, SectionOptions, ViewAccess};
    use switchboard_sys::shm::{View, ViewKind, memory_file};
    let _held = SectionOptions::new(1 << 20).create(conn, "bench.section").expect("create section");
    let ours = measure(n, &mut || {
        let start = Instant::now();
        let s = Section::open(conn, "bench.section", FILE_MAP_ALL_ACCESS).expect("open");
        let view = s.map_view(ViewAccess::Write, 0, 0).expect("map");
        let took = start.elapsed();
        drop((view, s));
        took
    });
    let baseline = measure(n, &mut || {
        let start = Instant::now();
        let fd = memory_file("bench", 1 << 20).expect("memfd");
        let view = View::map(&fd, 0, 1 << 20, ViewKind::Write).expect("mmap");
        let took = start.elapsed();
        drop((view, fd));
        took
    });
    Row {
        what: "section open + map 1 MiB".into(),
        ours,
        baseline_name: "memfd_create + ftruncate + mmap".into(),
        baseline,
    }
}

pub(crate) fn event_ping_pong(ping: &switchboard::Event, pong: &switchboard::Event, n: usize) -> Sample {
    let mut once = || {
        let start = Instant::now();
        ping.set().expect("set ping");
        pong.wait(None).expect("wait pong");
        start.elapsed()
    };
    measure(n, &mut once)
}

pub(crate) fn raw_round_trip(path: &Path, n: usize) -> Sample {
    let mut s = UnixStream::connect(path).expect("connect echo");
    let mut buf = [7u8; RAW_MESSAGE];
    let mut once = || {
        let start = Instant::now();
        s.write_all(&buf).expect("write");
        s.read_exact(&mut buf).expect("read");
        start.elapsed()
    };
    measure(n, &mut once)
}

fn atom_round_trip(conn: &Connection, n: usize) -> Sample {
    atom::global_add(conn, "bench.atom").expect("add the bench atom");
    let mut once = || {
        let start = Instant::now();
        atom::global_find(conn, "bench.atom").expect("find");
        start.elapsed()
    };
    measure(n, &mut once)
}

/// A raw `connect()` is only useful once it has carried a byte, so the
/// baseline includes one round trip, as our handshake does.
fn raw_connect(path: &Path, n: usize) -> Sample {
    let mut once = || {
        let start = Instant::now();
        let mut s = UnixStream::connect(path).expect("connect echo");
        let mut buf = [1u8; RAW_MESSAGE];
        s.write_all(&buf).expect("write");
        s.read_exact(&mut buf).expect("read");
        start.elapsed()
    };
    measure(n, &mut once)
}

fn our_connect(path: &PathBuf, n: usize) -> Sample {
    let opts = ConnectOptions::new().socket(path).autostart(false);
    let mut once = || {
        let start = Instant::now();
        let conn = opts.connect().expect("connect");
        let took = start.elapsed();
        drop(conn);
        took
    };
    measure(n, &mut once)
}

pub(crate) fn measure(n: usize, once: &mut dyn FnMut() -> Duration) -> Sample {
    for _ in 0..(n / 10).max(10) {
        once();
    }
    Sample::new((0..n).map(|_| once()).collect())
}

fn print_table(rows: &[Row], n: usize) {
    println!(
        "switchboard-bench: two processes, {n} iterations per round-trip row, {} CPUs",
        std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
    );
    println!();
    println!(
        "| what | ours median | ours p99 | baseline (same run) | baseline median | baseline p99 | ratio (median) |"
    );
    println!("|---|---|---|---|---|---|---|");
    for r in rows {
        println!(
            "| {} | {} | {} | {} | {} | {} | {:.2} |",
            r.what,
            stats::fmt(r.ours.median()),
            stats::fmt(r.ours.p99()),
            r.baseline_name,
            stats::fmt(r.baseline.median()),
            stats::fmt(r.baseline.p99()),
            r.ours.median().as_secs_f64() / r.baseline.median().as_secs_f64().max(1e-12)
        );
    }
}
