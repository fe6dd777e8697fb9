//! The attacks that held when #12 was written, kept so that they go on
//! holding: garbage, oversize length prefixes, descriptor floods,
//! slowloris, auto-start races and kill -9 storms.
//!
//! Every attack is replayed from a fixed seed, so a failure is the same
//! failure on the next run.

use std::io::{ErrorKind, IoSlice, Read as _, Write as _};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::time::Duration;

use rustix::net::{SendAncillaryBuffer, SendAncillaryMessage, SendFlags};
use switchboard::pipe::{self, ServerOptions};
use switchboard::section::{FILE_MAP_READ, Section, SectionOptions, ViewAccess};
use switchboard::sync::{MUTEX_ALL_ACCESS, Mutex, Semaphore};
use switchboard::{ConnectOptions, Connection, Event, EventOptions, WaitResult};
use switchboard_proto::{self as p, HandshakeReply, HandshakeStatus, Hello, ReplyFrame, RequestFrame};
use switchboard_testkit::hostile::{self, ANSWER_TIMEOUT, ProcessBroker, RawClient};
use switchboard_testkit::role::{self, Role, RoleChild};

use super::{BROKER, assert_serves, broker};

/// How long an effect another process produces may take before the test
/// calls it lost (a bound on a failure, never a measurement).
const SETTLE: Duration = Duration::from_secs(30);

/// The largest frame the brokers here accept (`--max-frame`).
const MAX_FRAME: u32 = 65_536;

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(len + 8);
        while out.len() < len {
            out.extend_from_slice(&self.next().to_le_bytes());
        }
        out.truncate(len);
        out
    }
}

const VICTIM_EVENT: &str = "Global\\held.victim.event";
const VICTIM_SECTION: &str = "Global\\held.victim.section";
const MARK: &[u8] = b"the victim's bytes";

/// Another user's client: a manual-reset event left signaled and a
/// section holding [`MARK`], to check after an attack.
struct Victim {
    conn: Connection,
    _event: Event,
    _section: Section,
}

fn connect(socket: &Path) -> Connection {
    ConnectOptions::new().socket(socket).autostart(false).connect().expect("connect with the public API")
}

impl Victim {
    fn new(socket: &Path) -> Self {
        Self::with(connect(socket))
    }

    fn with(conn: Connection) -> Self {
        let event = EventOptions::new().manual_reset(true).initial_state(true).create(&conn, VICTIM_EVENT);
        let section = SectionOptions::new(4096).create(&conn, VICTIM_SECTION);
        let section = section.expect("the victim's section").object;
        section.map_view(ViewAccess::Write, 0, 0).unwrap().write_at(0, MARK).unwrap();
        Self { _event: event.expect("the victim's event").object, _section: section, conn }
    }

    /// Asserts that the victim is still connected and its objects are as it left them.
    fn assert_unchanged(&self) {
        assert!(self.conn.is_alive(), "the victim lost its connection");
        let shown = self.conn.show(VICTIM_EVENT).expect("the victim's event is gone");
        assert_eq!(shown.state, "signaled, manual-reset", "the victim's event changed");
        // As a third process sees it.
        let other = connect(self.conn.socket());
        let section = Section::open(&other, VICTIM_SECTION, FILE_MAP_READ).expect("the victim's section is gone");
        let mut now = [0u8; MARK.len()];
        section.map_view(ViewAccess::Read, 0, 0).unwrap().read_at(0, &mut now).unwrap();
        assert_eq!(&now, MARK, "the victim's section changed");
    }
}

/// Whether the broker closed this connection, rather than leaving it open
/// until the read timeout.
fn was_dropped(mut stream: &UnixStream) -> bool {
    let mut sink = [0u8; 4096];
    loop {
        match stream.read(&mut sink) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return true,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
}

/// A connection that has sent nothing yet.
fn bare(broker: &ProcessBroker) -> UnixStream {
    let stream = UnixStream::connect(broker.socket()).expect("connect");
    stream.set_read_timeout(Some(ANSWER_TIMEOUT)).unwrap();
    stream
}

/// A connection that has completed the handshake and sent nothing since.
fn handshaken(broker: &ProcessBroker) -> UnixStream {
    RawClient::connect(broker.socket()).unwrap().stream().try_clone().unwrap()
}

fn status(broker: &ProcessBroker) -> p::BrokerStatus {
    RawClient::connect(broker.socket()).unwrap().ok(p::StatusRequest).unwrap().0
}

fn frame(request: impl p::Call, id: u32) -> Vec<u8> {
    let mut out = Vec::new();
    p::encode_frame(&RequestFrame { id, fds: 0, request: request.into_request() }, &mut out);
    out
}

#[test]
fn garbage_instead_of_a_handshake_or_a_frame_gets_only_its_sender_dropped() {
    let mut broker = ProcessBroker::start(BROKER, &["--max-frame", &MAX_FRAME.to_string()]);
    let victim = Victim::new(broker.socket());
    let mut rng = Rng(0x00C0_FFEE_D00D_F00D);
    let connections = 30;
    let mut attackers: Vec<UnixStream> = Vec::new();
    // One in three sends random bytes where the hello should be; the
    // others shake hands first, then send random bytes (length prefix and
    // all) or well-sized frames of random bodies.
    for i in 0..connections {
        attackers.push(if i % 3 == 0 { bare(&broker) } else { handshaken(&broker) });
    }
    // All connected first, so the broker holds them all at once.
    for (i, stream) in attackers.iter_mut().enumerate() {
        let garbage = if i % 3 == 2 {
            let mut frames = Vec::new();
            for _ in 0..64 {
                let len = 1 + rng.below(64) as usize;
                frames.extend_from_slice(&(len as u32).to_le_bytes());
                frames.extend_from_slice(&rng.bytes(len));
            }
            frames
        } else {
            rng.bytes(4096)
        };
        // The broker may drop the sender halfway through; that is the point.
        let _ = stream.write_all(&garbage);
    }
    let dropped = attackers.iter().filter(|s| was_dropped(s)).count();
    let probe = assert_serves(&mut broker, 50);
    victim.assert_unchanged();
    assert_eq!(dropped, connections, "garbage senders left connected");
    hostile::report("garbage handshakes, raw garbage, random frame bodies", connections, "dropped", &probe);
}

/// The broker's resident memory, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("the broker's status");
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).expect("VmRSS");
    line.split_whitespace().nth(1).and_then(|n| n.parse().ok()).expect("a size")
}

#[test]
fn length_prefixes_past_the_limit_up_to_4_gib_drop_the_sender_before_any_body_is_read() {
    let mut broker = ProcessBroker::start(BROKER, &["--max-frame", &MAX_FRAME.to_string()]);
    let victim = Victim::new(broker.socket());
    let rss_before = rss_kib(broker.pid());
    let prefixes = [u32::MAX, u32::MAX - 1, 0x8000_0000, 1 << 24, MAX_FRAME + 1];
    for prefix in prefixes {
        let mut attacker = RawClient::connect(broker.socket()).unwrap();
        attacker.send_raw(&prefix.to_le_bytes()).unwrap();
        // A few body bytes, nowhere near the announced length, and the
        // connection left open: only the prefix can get it dropped.
        let _ = attacker.send_raw(&[0x55; 16]);
        assert!(was_dropped(attacker.stream()), "a length prefix of {prefix:#x} was not refused");
    }
    let before_hello = bare(&broker);
    let _ = (&before_hello).write_all(&u32::MAX.to_le_bytes());
    assert!(was_dropped(&before_hello), "a 4 GiB prefix in place of the hello was not refused");
    // At the limit itself the stream stays in step: the frame is read,
    // refused as malformed, and the client carries on.
    let mut at_limit = RawClient::connect(broker.socket()).unwrap();
    let mut big = MAX_FRAME.to_le_bytes().to_vec();
    big.resize(4 + MAX_FRAME as usize, 0);
    at_limit.send_raw(&big).unwrap();
    let (refused, _) = at_limit.receive().unwrap();
    assert!(refused.result.is_err(), "a frame of zeros was accepted");
    at_limit.ok(p::StatusRequest).expect("the client at the limit is still served");
    let grown = rss_kib(broker.pid()).saturating_sub(rss_before);
    let probe = assert_serves(&mut broker, 50);
    victim.assert_unchanged();
    assert!(grown < 32 * 1024, "the broker grew by {grown} KiB after oversize prefixes");
    let trials = prefixes.len() + 2;
    hostile::report("length prefixes 0xFFFFFFFF..max+1 (and at the limit)", trials, "dropped at once", &probe);
}

/// The broker's open descriptors.
fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).expect("the broker's descriptors").count()
}

/// Sends `data` with `count` copies of `fd`, in one message however many.
fn send_fds(stream: &UnixStream, data: &[u8], fd: BorrowedFd<'_>, count: usize) -> std::io::Result<usize> {
    let fds = vec![fd; count];
    let mut space = vec![MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(count))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    assert!(control.push(SendAncillaryMessage::ScmRights(&fds)), "control buffer");
    Ok(rustix::net::sendmsg(stream, &[IoSlice::new(data)], &mut control, SendFlags::NOSIGNAL)?)
}

/// Floods one connection with descriptors no request declares, the way
/// `mode` says; returns the connection.
fn flood(broker: &ProcessBroker, mode: usize, fd: BorrowedFd<'_>) -> UnixStream {
    let stream = match mode {
        0 => bare(broker),
        _ => handshaken(broker),
    };
    let hello = Hello::current().encode();
    let status = frame(p::StatusRequest, 7);
    for i in 0..16 {
        let sent = match mode {
            // With the hello, then with anything.
            0 => send_fds(&stream, if i == 0 { &hello } else { &[0] }, fd, 8),
            // Whole requests that declare none.
            1 => send_fds(&stream, &status, fd, 8),
            // One byte at a time of a frame that never completes.
            2 => send_fds(&stream, &[if i == 0 { 100 } else { 0 }], fd, 8),
            // 250 at once (more than the broker's control buffer takes).
            _ => send_fds(&stream, &status, fd, 250),
        };
        if sent.is_err() {
            break;
        }
    }
    stream
}

#[test]
fn descriptors_no_request_declares_get_the_sender_dropped_and_none_are_kept() {
    let mut broker = broker();
    let victim = Victim::new(broker.socket());
    // Settle: one status in and out, then count.
    status(&broker);
    let pid = broker.pid();
    let baseline = open_fds(pid);
    let null = std::fs::File::open("/dev/null").unwrap();
    let modes = 4;
    let per_mode = 8;
    let attackers: Vec<UnixStream> = (0..modes * per_mode).map(|i| flood(&broker, i % modes, null.as_fd())).collect();
    let dropped: Vec<usize> = (0..attackers.len()).filter(|&i| was_dropped(&attackers[i])).collect();
    // Descriptors go with the connection, closed by the broker as it
    // drops it; our ends are still open.
    let settled = switchboard_testkit::eventually(SETTLE, || open_fds(pid) <= baseline);
    let left = open_fds(pid);
    let probe = assert_serves(&mut broker, 50);
    victim.assert_unchanged();
    assert_eq!(dropped.len(), attackers.len(), "flooders left connected (dropped: {dropped:?})");
    assert!(settled, "the broker holds {left} descriptors, {baseline} before the flood");
    drop(attackers);
    let trials = modes * per_mode;
    hostile::report(
        "SCM_RIGHTS floods: with the hello, whole frames, dribbled bytes, 250 in one message",
        trials,
        &format!("dropped, fds {baseline} -> {left}"),
        &probe,
    );
}

/// Reads a handshake reply from a connection that sent its hello by hand.
fn read_handshake(mut stream: &UnixStream) -> HandshakeReply {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        if let Some((reply, _)) = HandshakeReply::decode(&buf).expect("a handshake reply") {
            return reply;
        }
        let n = stream.read(&mut chunk).expect("the handshake reply");
        assert!(n > 0, "closed during the handshake");
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Reads the first reply frame (the handshake reply already read).
fn read_reply(mut stream: &UnixStream) -> ReplyFrame {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some((_, body)) = p::split_frame(&buf, usize::MAX).unwrap() {
            return p::decode_body(body).expect("a reply frame");
        }
        let n = stream.read(&mut chunk).expect("a reply");
        assert!(n > 0, "closed before a reply");
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Sends `bytes` one write each, another user served between two.
fn dribble(broker: &mut ProcessBroker, mut stream: &UnixStream, bytes: &[u8]) {
    for &byte in bytes {
        stream.write_all(&[byte]).unwrap();
        assert_serves(broker, 1);
    }
}

#[test]
fn half_sent_handshakes_and_frames_hang_without_delaying_anyone_else() {
    let mut broker = ProcessBroker::start(BROKER, &["--max-frame", &MAX_FRAME.to_string()]);
    let victim = Victim::new(broker.socket());
    let hangers = 60;
    let hello = Hello::current().encode();
    let mut hanging = Vec::new();
    for i in 0..hangers {
        let stream = match i % 4 {
            0 | 1 => bare(&broker),
            _ => handshaken(&broker),
        };
        let partial: Vec<u8> = match i % 4 {
            // Connected, silent.
            0 => Vec::new(),
            // Half a hello.
            1 => hello[..5].to_vec(),
            // Half a small frame.
            2 => frame(p::StatusRequest, 1)[..3].to_vec(),
            // A frame at the limit, one byte of its body.
            _ => [&MAX_FRAME.to_le_bytes()[..], &[0]].concat(),
        };
        (&stream).write_all(&partial).unwrap();
        hanging.push(stream);
    }
    // While every one of them hangs, the others are served...
    let probe = assert_serves(&mut broker, 50);
    victim.assert_unchanged();
    // ...and a client as slow as they are, a byte per round trip of
    // someone else's, is still answered.
    let slow = bare(&broker);
    dribble(&mut broker, &slow, &hello);
    assert_eq!(read_handshake(&slow).status, HandshakeStatus::Accepted);
    dribble(&mut broker, &slow, &frame(p::StatusRequest, 9));
    let reply = read_reply(&slow);
    assert!(reply.id == 9 && reply.result.is_ok(), "the slow client was not answered: {reply:?}");
    // Every handshaken hanger was still there throughout (half-sent
    // hellos are not clients yet): the service above was given while
    // they hung. With them: the victim, the slow client and this probe.
    let connected = status(&broker).clients as usize;
    assert_eq!(connected, hangers / 2 + 3, "hanging clients were dropped before the probes ended");
    drop(hanging);
    hostile::report("slowloris: silent, half hello, half frame, frame at the limit", hangers, "others served", &probe);
}

/// Kills a process on drop (a broker the test did not start itself).
struct KillOnDrop(Option<u32>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(pid) = self.0.and_then(|p| rustix::process::Pid::from_raw(p.cast_signed())) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
        }
    }
}

/// Live (not zombie) processes whose command line names `socket`.
fn brokers_serving(socket: &Path) -> Vec<u32> {
    let needle = socket.as_os_str().as_encoded_bytes();
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let named = cmdline.windows(needle.len()).any(|w| w == needle);
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        let zombie = stat.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'));
        if named && !zombie {
            pids.push(pid);
        }
    }
    pids
}

#[test]
fn clients_auto_starting_one_realm_at_once_end_with_one_broker_serving_them_all() {
    const TEST: &str = "held::clients_auto_starting_one_realm_at_once_end_with_one_broker_serving_them_all";
    if role::current().is_some() {
        let mut gate = UnixStream::connect(std::env::var_os("HELD_GATE").expect("HELD_GATE")).unwrap();
        let mut go = [0u8; 1];
        gate.read_exact(&mut go).unwrap();
        let socket = std::env::var_os("HELD_SOCKET").expect("HELD_SOCKET");
        let conn = ConnectOptions::new().socket(socket).autostart(true).connect().unwrap();
        role::report(&format!("BROKER {} {}", conn.broker_pid(), conn.status().unwrap().pid));
        // Stay connected until the parent has counted everyone.
        let _ = gate.read(&mut go);
        return;
    }
    let dir = tempfile::Builder::new().prefix("switchboard-held-").tempdir().unwrap();
    let socket = dir.path().join("broker.sock");
    let gate_path = dir.path().join("gate.sock");
    let gate = UnixListener::bind(&gate_path).unwrap();
    let racers = 6;
    let mut children: Vec<RoleChild> = (0..racers)
        .map(|_| {
            Role::new(TEST, "racer")
                .var("HELD_GATE", gate_path.to_str().unwrap())
                .var("HELD_SOCKET", socket.to_str().unwrap())
                .var("SWITCHBOARD_BROKER", BROKER)
                .spawn()
        })
        .collect();
    let gates: Vec<UnixStream> = (0..racers).map(|_| gate.accept().unwrap().0).collect();
    for mut g in &gates {
        g.write_all(&[1]).unwrap();
    }
    // This process races too, and keeps its objects on the broker it gets.
    let mut cleanup = KillOnDrop(None);
    let first = ConnectOptions::new().socket(&socket).autostart(true).connect().expect("auto-start");
    cleanup.0 = Some(first.broker_pid());
    let victim = Victim::with(first);
    let seen: Vec<String> = children.iter_mut().map(|c| c.expect_line("BROKER")).collect();
    let winner = victim.conn.broker_pid();
    let expected = format!("{winner} {winner}");
    assert!(seen.iter().all(|s| *s == expected), "the racers met different brokers: {seen:?}, this one {winner}");
    let clients = RawClient::connect(&socket).unwrap().ok(p::StatusRequest).unwrap().0.clients;
    drop(gates);
    for child in children {
        child.wait_success();
    }
    // Losers of the race exit on their own, a moment after the winner answers.
    let one = switchboard_testkit::eventually(SETTLE, || brokers_serving(&socket).len() == 1);
    let serving = brokers_serving(&socket);
    let probe = hostile::probe_status(&socket, 50).expect("served after the race");
    victim.assert_unchanged();
    assert!(one && serving == [winner], "brokers left on the socket: {serving:?} (winner {winner})");
    assert_eq!(clients as usize, racers + 2, "the winner did not count every racer");
    hostile::report("auto-start races: 7 clients start one realm's broker at once", racers + 1, "one broker", &probe);
}

/// What a storm child does, step by step, reporting each step so that the
/// parent can kill it at a point it chose (the child runs on meanwhile, so
/// the kill lands somewhere after it).
fn storm_child() {
    let tag = std::env::var("HELD_TAG").expect("HELD_TAG");
    role::report("STEP 0");
    let conn = Connection::connect().unwrap();
    role::report("STEP 1");
    let event = EventOptions::new().create(&conn, &format!("Global\\held.storm.{tag}")).unwrap().object;
    let sem = Semaphore::create_unnamed(&conn, 1, 4).unwrap();
    role::report("STEP 2");
    let mutex = Mutex::open(&conn, STORM_MUTEX, MUTEX_ALL_ACCESS).unwrap();
    let patience = if std::env::var_os("HELD_HOLD").is_some() { SETTLE } else { Duration::ZERO };
    role::report(&format!("STEP 3 {:?}", mutex.acquire(Some(patience)).unwrap()));
    let (reader, writer) = pipe::anonymous(&conn, 4096).unwrap();
    let _server = ServerOptions::new().create(&conn, &format!(r"\\.\pipe\held.storm.{tag}")).unwrap();
    role::report("STEP 4");
    let section = SectionOptions::new(1 << 16).create_unnamed(&conn).unwrap();
    section.map_view(ViewAccess::Write, 0, 0).unwrap().write_at(0, b"storm").unwrap();
    role::report("STEP 5");
    let mut buf = [0u8; 16];
    loop {
        // Requests in flight when the kill comes.
        event.set().unwrap();
        event.reset().unwrap();
        let _ = EventOptions::new().create_unnamed(&conn).unwrap();
        writer.write(b"storm").unwrap();
        reader.read(&mut buf).unwrap();
        if sem.acquire(Some(Duration::ZERO)).unwrap() == WaitResult::Signaled(0) {
            sem.release(1).unwrap();
        }
        role::report("STEP 6");
    }
}

/// How many kills came at each step, -1 to 6.
fn histogram(kills: &[i64]) -> [usize; 8] {
    let mut counts = [0; 8];
    for &k in kills {
        counts[usize::try_from(k + 1).unwrap_or(0)] += 1;
    }
    counts
}

const STORM_MUTEX: &str = "Global\\held.storm.mutex";

fn storm_role(tag: &str, broker: &ProcessBroker) -> Role {
    Role::new("held::kill_9_storms_leave_the_broker_serving_and_the_mutex_abandoned_to_the_next_waiter", "storm")
        .env(broker.env())
        .var("HELD_TAG", tag)
}

#[test]
fn kill_9_storms_leave_the_broker_serving_and_the_mutex_abandoned_to_the_next_waiter() {
    if role::current().is_some() {
        return storm_child();
    }
    let mut broker = broker();
    let victim = Victim::new(broker.socket());
    let mutex = Mutex::create(&victim.conn, STORM_MUTEX, false).unwrap().object;
    let before = status(&broker);
    let mut rng = Rng(0x5107_4A11_0000_0009);
    let rounds = 20;
    let per_round = 2;
    let mut kills = Vec::new();
    for round in 0..rounds {
        let children: Vec<RoleChild> =
            (0..per_round).map(|i| storm_role(&format!("r{round}c{i}"), &broker).spawn()).collect();
        for mut child in children {
            // -1: as soon as it is started; 6: in the middle of its requests.
            let step = rng.below(8).cast_signed() - 1;
            if step >= 0 {
                child.expect_line(&format!("STEP {step}"));
            }
            child.kill();
            kills.push(step);
        }
    }
    // The last one surely holds the mutex when it dies.
    let mut holder = storm_role("holder", &broker).var("HELD_HOLD", "1").spawn();
    let held = holder.expect_line("STEP 3");
    holder.kill();
    let settled = switchboard_testkit::eventually(SETTLE, || {
        let now = status(&broker);
        now.clients == before.clients && now.handles == before.handles
    });
    let after = status(&broker);
    let next = mutex.acquire(Some(SETTLE));
    let probe = assert_serves(&mut broker, 50);
    victim.assert_unchanged();
    assert!(held == "Signaled(0)" || held == "Abandoned(0)", "the holder did not get the mutex: {held}");
    assert!(
        settled,
        "clients {} -> {}, handles {} -> {} after the storm (kill points {kills:?})",
        before.clients, after.clients, before.handles, after.handles
    );
    assert_eq!(next.unwrap(), WaitResult::Abandoned(0), "the mutex was not abandoned to the next waiter");
    mutex.release().unwrap();
    hostile::report(
        &format!("kill -9 storm: {rounds} rounds of {per_round} clients mid-create/mutex/pipe/section"),
        kills.len() + 1,
        &format!("cleaned up, abandoned (kills at steps -1..=6: {:?})", histogram(&kills)),
        &probe,
    );
}

#[test]
fn a_mailslot_counter_page_written_by_a_peer_reads_as_a_count_never_a_crash() {
    use switchboard_sys::shm::{View, ViewKind};
    let mut broker = broker();
    let victim = Victim::new(broker.socket());
    let mut attacker = RawClient::connect(broker.socket()).unwrap();
    let name = switchboard_types::MailslotName::parse(r"\\.\mailslot\held.counters").unwrap();
    let create = p::CreateMailslot { name: name.clone(), max_message_size: 0, security: p::Security::default() };
    let (_, fds) = attacker.ok(create).unwrap();
    let page = View::map(fds.last().expect("the counter page"), 0, 16, ViewKind::Write).unwrap();
    // Sent and received, as a peer may leave them: behind, equal, ahead, at the ends.
    let cases = [(0, u64::MAX, 0), (u64::MAX, 0, u64::MAX), (u64::MAX, u64::MAX, 0), (5, 7, 0), (7, 5, 2)];
    let mut counts = Vec::new();
    for (sent, received, _) in cases {
        page.write_at(0, &sent.to_le_bytes()).unwrap();
        page.write_at(8, &received.to_le_bytes()).unwrap();
        let (status, _) = attacker.ok(p::QueryMailslot { name: name.clone() }).expect("the mailslot query");
        counts.push(status.count);
    }
    let probe = assert_serves(&mut broker, 50);
    victim.assert_unchanged();
    assert_eq!(counts, cases.map(|(_, _, count)| count), "counts read from a written page");
    hostile::report("write a mailslot's sent/received counters, then query", cases.len(), "counts saturate", &probe);
}
