//! Events, mutexes and semaphores: the set → wake round trip between two
//! processes beside a bare spin-then-futex mailbox, and uncontended
//! operations in nanoseconds beside `std::sync::Mutex`.

use std::os::fd::AsFd;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use switchboard::sync::{Mutex, Semaphore};
use switchboard::{Connection, EventOptions, WaitResult, wait_for_multiple};
use switchboard_sys::syncpage::Mailbox;

use crate::stats::Sample;
use crate::{ChildGuard, Row, measure};

/// The spin both sides of the round-trip comparison use before sleeping
/// (the library's own wait spins this long).
const SPIN: Duration = Duration::from_micros(20);

/// Child mode: the mailbox page is this process's standard input; answers
/// every post in box 0 with a post in box 1.
pub(crate) fn mailbox_echo() {
    let stdin = std::io::stdin();
    let mailbox = Mailbox::map(&stdin.as_fd()).expect("map the mailbox");
    // Read before saying ready: the parent posts as soon as it hears it.
    let mut seen = mailbox.value(0);
    println!("ready");
    loop {
        seen = mailbox.wait_past(0, seen, SPIN);
        mailbox.post(1);
    }
}

/// The round trip through a bare mailbox shared with a child process.
fn mailbox_round_trip(n: usize) -> Sample {
    use std::io::Read;
    let (mailbox, fd) = Mailbox::create().expect("mailbox");
    let exe = std::env::current_exe().expect("own path");
    let mut child = Command::new(exe)
        .arg("mailbox-echo")
        .stdin(Stdio::from(fd))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the mailbox child");
    let mut ready = [0u8; 6];
    child.stdout.take().expect("stdout").read_exact(&mut ready).expect("child readiness");
    let _guard = ChildGuard(child);
    let mut seen = mailbox.value(1);
    measure(n, &mut || {
        let start = Instant::now();
        mailbox.post(0);
        seen = mailbox.wait_past(1, seen, SPIN);
        start.elapsed()
    })
}

/// Set → wake → set back between two processes, beside the mailbox.
pub(crate) fn round_trip(ping: &switchboard::Event, pong: &switchboard::Event, broker: &Path, n: usize) -> Row {
    let echo = crate::spawn_child("event-echo", broker);
    let ours = crate::event_ping_pong(ping, pong, n);
    drop(echo);
    Row {
        what: "event set → other process wakes → sets back (shared memory)".into(),
        ours,
        baseline_name: format!("spin-then-futex mailbox round trip ({} µs spin)", SPIN.as_micros()),
        baseline: mailbox_round_trip(n),
    }
}

/// The same, with a waiter whose handle may only wait (`SYNCHRONIZE`): its
/// page is read-only and each take is a step through the broker.
pub(crate) fn round_trip_wait_only(
    ping: &switchboard::Event,
    pong: &switchboard::Event,
    broker: &Path,
    echo_server: &Path,
    n: usize,
) -> Row {
    let echo = crate::spawn_child("event-echo-wait-only", broker);
    let ours = crate::event_ping_pong(ping, pong, n);
    drop(echo);
    Row {
        what:
            "event set → wait-only handle (SYNCHRONIZE) in another process wakes, takes through the broker → sets back"
                .into(),
        ours,
        baseline_name: "raw Unix socket round trip, 32 B".into(),
        baseline: crate::raw_round_trip(echo_server, n),
    }
}

/// Where `scripts/bench` builds a peer program.
fn peer(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../../bench-peers/{name}/target/release/{name}"))
}

/// The event round trip with another library's events, run by its peer
/// program (`bench-peers/NAME`, built by `scripts/bench`), beside ours.
pub(crate) fn peer_round_trip(
    name: &str,
    baseline_name: &str,
    ping: &switchboard::Event,
    pong: &switchboard::Event,
    broker: &Path,
    n: usize,
) -> Option<Row> {
    let program = peer(name);
    if !program.exists() {
        eprintln!("(no {name} row: `bash scripts/bench` builds its peer, {})", program.display());
        return None;
    }
    let echo = crate::spawn_child("event-echo", broker);
    let ours = crate::event_ping_pong(ping, pong, n);
    drop(echo);
    let output = Command::new(&program).arg("parent").arg(n.to_string()).stderr(Stdio::null()).output().ok()?;
    let samples: Vec<Duration> = String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .filter_map(|ns| ns.parse().ok())
        .map(Duration::from_nanos)
        .collect();
    if samples.len() != n {
        eprintln!("(no {name} row: the peer gave {} of {n} samples)", samples.len());
        return None;
    }
    Some(Row {
        what: "event set → other process wakes → sets back (shared memory)".into(),
        ours,
        baseline_name: baseline_name.into(),
        baseline: Sample::new(samples),
    })
}

/// The round trips again with both processes on one CPU (children inherit
/// the parent's affinity): where spinning cannot help, since the peer
/// cannot run while we spin. Ours beside a raw socket and beside the
/// mailbox's fixed spin.
pub(crate) fn same_cpu_rows(
    ping: &switchboard::Event,
    pong: &switchboard::Event,
    broker: &Path,
    dir: &Path,
    n: usize,
) -> Vec<Row> {
    use rustix::thread::{CpuSet, sched_getaffinity, sched_setaffinity};
    let Ok(original) = sched_getaffinity(None) else { return Vec::new() };
    let Some(cpu) = (0..CpuSet::MAX_CPU).find(|&c| original.is_set(c)) else { return Vec::new() };
    let mut one = CpuSet::new();
    one.set(cpu);
    if sched_setaffinity(None, &one).is_err() {
        return Vec::new();
    }
    let echo = crate::spawn_child("event-echo", broker);
    let ours = crate::event_ping_pong(ping, pong, n);
    drop(echo);
    let echo_path = dir.join("echo-one-cpu.sock");
    let echo = crate::spawn_child("echo-server", &echo_path);
    let raw = crate::raw_round_trip(&echo_path, n);
    drop(echo);
    let mailbox = mailbox_round_trip(n);
    let _ = sched_setaffinity(None, &original);
    let what = "event set → wake → set back, both processes on one CPU";
    vec![
        Row {
            what: what.into(),
            ours: ours.clone(),
            baseline_name: "raw Unix socket round trip, one CPU".into(),
            baseline: raw,
        },
        Row {
            what: what.into(),
            ours,
            baseline_name: format!("mailbox, fixed {} µs spin, one CPU", SPIN.as_micros()),
            baseline: mailbox,
        },
    ]
}

/// One uncontended-operation row: nanoseconds per operation pair.
pub(crate) struct NsRow {
    pub(crate) what: &'static str,
    pub(crate) ours: f64,
    pub(crate) baseline: f64,
}

/// Median nanoseconds per call of `pair`, timed in batches of 1,000.
fn ns_per(n: usize, pair: &mut dyn FnMut()) -> f64 {
    const BATCH: u32 = 1000;
    let sample = measure((n / BATCH as usize).max(50), &mut || {
        let start = Instant::now();
        for _ in 0..BATCH {
            pair();
        }
        start.elapsed() / BATCH
    });
    sample.median().as_secs_f64() * 1e9
}

/// Uncontended operations, each beside an uncontended `std::sync::Mutex`
/// lock and unlock (a futex mutex private to one process) in the same run.
pub(crate) fn uncontended(conn: &Connection, n: usize) -> Vec<NsRow> {
    let std_mutex = std::sync::Mutex::new(0u64);
    let mut baseline = || {
        *std_mutex.lock().expect("lock") += 1;
    };
    let base = ns_per(n, &mut baseline);
    let mutex = Mutex::create(conn, "bench.fast.mutex", false).expect("mutex").object;
    let semaphore = Semaphore::create(conn, "bench.fast.semaphore", 1, 1).expect("semaphore").object;
    let event = EventOptions::new().create(conn, "bench.fast.event").expect("event").object;
    let manual = EventOptions::new().manual_reset(true).initial_state(true).create(conn, "bench.fast.manual");
    let manual = manual.expect("manual event").object;
    let others: Vec<_> = (0..3)
        .map(|i| EventOptions::new().create(conn, &format!("bench.fast.idle{i}")).expect("event").object)
        .collect();
    let forever = None;
    let mut rows = Vec::new();
    let mut mutex_pair = || {
        assert_eq!(mutex.acquire(forever).expect("acquire"), WaitResult::Signaled(0));
        mutex.release().expect("release");
    };
    rows.push(NsRow { what: "mutex acquire + release", ours: ns_per(n, &mut mutex_pair), baseline: base });
    let mut semaphore_pair = || {
        assert_eq!(semaphore.acquire(forever).expect("wait"), WaitResult::Signaled(0));
        semaphore.release(1).expect("release");
    };
    rows.push(NsRow { what: "semaphore wait + release", ours: ns_per(n, &mut semaphore_pair), baseline: base });
    let mut event_pair = || {
        event.set().expect("set");
        assert_eq!(event.wait(forever).expect("wait"), WaitResult::Signaled(0));
    };
    rows.push(NsRow { what: "auto-reset event set + wait", ours: ns_per(n, &mut event_pair), baseline: base });
    let mut any = || {
        let objects: [&dyn switchboard::Waitable; 4] = [&others[0], &others[1], &others[2], &manual];
        assert_eq!(wait_for_multiple(&objects, false, forever).expect("wait"), WaitResult::Signaled(3));
    };
    rows.push(NsRow { what: "wait-any of 4, the last signaled", ours: ns_per(n, &mut any), baseline: base });
    rows
}

/// Child mode for counting system calls: connects, makes a mutex, then
/// acquires and releases it `count` times. Run under `strace -c` with two
/// counts; the same number of calls for both shows that the loop makes none.
pub(crate) fn syscall_probe(socket: &Path, count: usize) {
    let conn = switchboard::ConnectOptions::new().socket(socket).autostart(false).connect().expect("connect");
    let mutex = Mutex::create(&conn, "bench.probe", false).expect("mutex").object;
    let semaphore = Semaphore::create(&conn, "bench.probe.sem", 1, 1).expect("semaphore").object;
    // First use fetches the shared pages: outside the loop.
    mutex.acquire(None).expect("acquire");
    mutex.release().expect("release");
    semaphore.acquire(None).expect("wait");
    semaphore.release(1).expect("release");
    let start = Instant::now();
    for _ in 0..count {
        mutex.acquire(None).expect("acquire");
        mutex.release().expect("release");
        semaphore.acquire(None).expect("wait");
        semaphore.release(1).expect("release");
    }
    eprintln!("{count} × (mutex acquire + release, semaphore wait + release) in {:?}", start.elapsed());
}
