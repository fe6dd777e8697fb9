//! Mailslot rows: messages per second with one and four writer processes,
//! and a request/reply round trip through two mailslots, each beside raw
//! Unix datagram sockets in the same run.

use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::time::{Duration, Instant};

use switchboard::ConnectOptions;
use switchboard::mailslot::{MailslotOptions, MailslotWriter, ReadTimeout};

use crate::stats::Sample;
use crate::{Row, measure};

const MESSAGE: [u8; 64] = [b'm'; 64];
const SLOT: &str = r"\\.\mailslot\bench.in";
const REQUESTS: &str = r"\\.\mailslot\bench.requests";
const REPLIES: &str = r"\\.\mailslot\bench.replies";

fn connect(broker: &Path) -> switchboard::Connection {
    ConnectOptions::new().socket(broker).autostart(false).connect().expect("connect")
}

/// Child mode: sends `count` 64-byte messages to the mailslot.
pub fn mailslot_writer(broker: &Path, count: usize) {
    let conn = connect(broker);
    let writer = MailslotWriter::open(&conn, SLOT).expect("open");
    for _ in 0..count {
        writer.write(&MESSAGE).expect("write");
    }
}

/// Child mode: sends `count` 64-byte datagrams to the socket at `path`.
pub fn raw_writer(path: &Path, count: usize) {
    let socket = UnixDatagram::unbound().expect("socket");
    socket.connect(path).expect("connect");
    for _ in 0..count {
        socket.send(&MESSAGE).expect("send");
    }
}

/// Child mode: answers every message on the request mailslot on the reply one.
pub fn mailslot_echo(broker: &Path) {
    let conn = connect(broker);
    let requests = MailslotOptions::new().create(&conn, REQUESTS).expect("create");
    println!("ready");
    let replies = loop {
        if let Ok(w) = MailslotWriter::open(&conn, REPLIES) {
            break w;
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    let mut buf = [0u8; 1024];
    while let Ok(n) = requests.read(&mut buf) {
        if replies.write(&buf[..n]).is_err() {
            break;
        }
    }
}

/// Child mode: the same with raw datagram sockets bound at `dir`/req and `dir`/rep.
pub fn raw_echo(dir: &Path) {
    let requests = UnixDatagram::bind(dir.join("req")).expect("bind");
    let replies = UnixDatagram::unbound().expect("socket");
    println!("ready");
    let mut buf = [0u8; 1024];
    while let Ok(n) = requests.recv(&mut buf) {
        while replies.send_to(&buf[..n], dir.join("rep")).is_err() {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

fn writers(mode: &str, target: &Path, n: usize, count: usize) -> Vec<crate::ChildGuard> {
    let exe = std::env::current_exe().expect("own path");
    (0..n)
        .map(|_| {
            let child = std::process::Command::new(&exe)
                .arg(mode)
                .arg(target)
                .arg(count.to_string())
                .spawn()
                .expect("start writer");
            crate::ChildGuard(child)
        })
        .collect()
}

/// Messages per second through a mailslot and through a raw datagram socket.
// Message counts are far below 2^52: exact as f64.
#[allow(clippy::cast_precision_loss)]
pub fn rates(dir: &Path, broker: &Path, total: usize) -> Vec<(String, f64, f64)> {
    let conn = connect(broker);
    let mut rows = Vec::new();
    for n in [1usize, 4] {
        let slot = MailslotOptions::new()
            .read_timeout(ReadTimeout::After(Duration::from_secs(30)))
            .create(&conn, SLOT)
            .expect("create");
        let _w = writers("mailslot-writer", broker, n, total / n);
        let mut buf = [0u8; 128];
        slot.read(&mut buf).expect("first");
        let start = Instant::now();
        for _ in 1..(total / n) * n {
            slot.read(&mut buf).expect("read");
        }
        let ours = ((total / n) * n - 1) as f64 / start.elapsed().as_secs_f64();
        drop(slot);
        let path = dir.join(format!("dgram-{n}.sock"));
        let socket = UnixDatagram::bind(&path).expect("bind");
        socket.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
        let _r = writers("raw-dgram-writer", &path, n, total / n);
        socket.recv(&mut buf).expect("first");
        let start = Instant::now();
        for _ in 1..(total / n) * n {
            socket.recv(&mut buf).expect("recv");
        }
        let raw = ((total / n) * n - 1) as f64 / start.elapsed().as_secs_f64();
        let label = if n == 1 { "1 writer".to_owned() } else { format!("{n} writers") };
        rows.push((format!("mailslot, 64 B messages, {label}"), ours, raw));
    }
    rows
}

/// Request/reply round trips through two mailslots, and through two raw datagram sockets.
pub fn round_trip(dir: &Path, broker: &Path, n: usize) -> Row {
    let conn = connect(broker);
    let replies = MailslotOptions::new().create(&conn, REPLIES).expect("create");
    let _echo = crate::spawn_child("mailslot-echo", broker);
    let requests = loop {
        if let Ok(w) = MailslotWriter::open(&conn, REQUESTS) {
            break w;
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    let mut buf = [0u8; 128];
    let ours = measure(n, &mut || {
        let start = Instant::now();
        requests.write(&MESSAGE).expect("write");
        replies.read(&mut buf).expect("read");
        start.elapsed()
    });
    let raw_dir = dir.join("raw-mailslot");
    std::fs::create_dir_all(&raw_dir).expect("dir");
    let reply_socket = UnixDatagram::bind(raw_dir.join("rep")).expect("bind");
    let _raw_echo = crate::spawn_child("raw-dgram-echo", &raw_dir);
    let request_socket = UnixDatagram::unbound().expect("socket");
    let baseline: Sample = measure(n, &mut || {
        let start = Instant::now();
        request_socket.send_to(&MESSAGE, raw_dir.join("req")).expect("send");
        reply_socket.recv(&mut buf).expect("recv");
        start.elapsed()
    });
    Row {
        what: "mailslot request/reply round trip, 64 B (two mailslots)".into(),
        ours,
        baseline_name: "two raw Unix datagram sockets".into(),
        baseline,
    }
}
