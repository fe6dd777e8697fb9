//! Connections: clients that close at once, flood, or never finish (#12: 5, 7).

use std::io::{Read as _, Write as _};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use switchboard_proto::{self as p, Hello};
use switchboard_testkit::hostile::{self, ProcessBroker, report};
use switchboard_testkit::role::{self, Role};

use super::{BROKER, NOBODY, assert_serves, broker, may_switch_user, new_event};

/// How many connections the broker serves now (from its status).
fn clients(broker: &ProcessBroker) -> u32 {
    let mut c = hostile::RawClient::connect(broker.socket()).unwrap();
    let (status, _) = c.ok(p::StatusRequest).unwrap();
    status.clients
}

#[test]
fn clients_that_send_a_last_frame_and_close_at_once_leave_no_connection_behind() {
    let mut broker = broker();
    let trials = 300;
    for _ in 0..trials {
        let mut c = hostile::RawClient::connect(broker.socket()).unwrap();
        // A close that asks for no reply, then the end of the stream, in one go.
        c.send(p::Close { handle: switchboard_types::Handle(4) }, false).unwrap();
        drop(c);
    }
    // The broker has read every frame before it answers this status (one
    // thread, in order per socket; the others closed before it was sent),
    // but their ends of stream may still be in flight: allow for that.
    let settled = switchboard_testkit::eventually(Duration::from_secs(10), || clients(&broker) <= 2);
    let left = clients(&broker);
    let probe = assert_serves(&mut broker, 50);
    assert!(settled, "{left} connections are left after {trials} clients closed");
    hostile::report("send a last frame and close at once (ghost connections)", trials, &format!("{left} left"), &probe);
}

#[test]
fn one_user_with_hundreds_of_idle_connections_does_not_lock_out_root_or_another_user() {
    const TEST: &str = "connections::one_user_with_hundreds_of_idle_connections_does_not_lock_out_root_or_another_user";
    if let Some(role) = role::current() {
        let socket = std::env::var_os("SWITCHBOARD_SOCKET").expect("socket");
        if role == "bystander" {
            let served = hostile::probe_status(Path::new(&socket), 10).is_ok();
            role::report(&format!("SERVED {served}"));
            return;
        }
        let mut kept = Vec::new();
        let refusal = loop {
            match hostile::RawClient::connect(Path::new(&socket)) {
                Ok(c) if kept.len() < 400 => kept.push(c),
                Ok(_) => break "none".to_owned(),
                Err(e) => break format!("{:?}: {e}", e.kind()),
            }
        };
        role::report(&format!("HELD {}", kept.len()));
        role::report(&format!("REFUSED {refusal}"));
        role::report("READY");
        // Keep them until the parent is done.
        let _ = std::io::stdin().read_line(&mut String::new());
        std::thread::sleep(Duration::from_secs(600));
        return;
    }
    if !may_switch_user() {
        return;
    }
    let mut broker = ProcessBroker::start(BROKER, &["--max-clients", "256"]);
    let mut attacker = Role::new(TEST, "attacker").env(broker.env()).user(NOBODY.0, NOBODY.1).spawn();
    let held: usize = attacker.expect_line("HELD").parse().unwrap();
    let refusal = attacker.expect_line("REFUSED");
    attacker.expect_line("READY");
    let probe = assert_serves(&mut broker, 50);
    let mut bystander = Role::new(TEST, "bystander").env(broker.env()).user(65_533, 65_533).spawn();
    assert_eq!(bystander.expect_line("SERVED"), "true", "another user was locked out");
    bystander.wait_success();
    attacker.kill();
    assert_eq!(held, 64, "one user holds a quarter of the clients at most");
    assert!(refusal.contains("quota"), "{refusal}");
    report("one uid opens connections until refused (idle)", held + 1, "quota at 64 (of 256)", &probe);
}

#[test]
fn half_finished_handshakes_and_frames_are_closed() {
    let mut broker = broker();
    let mut silent = Vec::new();
    for i in 0..20 {
        let mut s = UnixStream::connect(broker.socket()).unwrap();
        if i % 2 == 0 {
            s.write_all(&Hello::current().encode()[..3]).unwrap();
        }
        silent.push(s);
    }
    // And after a handshake, half a frame.
    let mut half = hostile::RawClient::connect(broker.socket()).unwrap();
    half.send_raw(&[200, 0, 0, 0, 1, 2]).unwrap();
    let probe = assert_serves(&mut broker, 50);
    for s in &mut silent {
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut byte = [0u8; 64];
        let closed = matches!(s.read(&mut byte), Ok(0) | Err(_)) && matches!(s.read(&mut byte), Ok(0));
        assert!(closed, "a half-finished handshake was never closed");
    }
    assert_eq!(half.read_to_end().unwrap_or(0), 0, "half a frame kept its connection");
    report("connect and send no or half a handshake, or half a frame", 21, "closed (5 s / 10 s)", &probe);
}

#[test]
fn clients_that_never_read_their_replies_do_not_grow_the_broker() {
    let mut broker = broker();
    let mut owner = hostile::RawClient::connect(broker.socket()).unwrap();
    for i in 0..400 {
        owner.ok(new_event(Some(&format!("Global\\padding-name-number-{i:05}")), None)).unwrap();
    }
    let before = broker.memory_kib("VmRSS");
    let list = || p::ListDirectory { path: switchboard_types::NamespacePath::parse("\\BaseNamedObjects").unwrap() };
    let clients = 40;
    let mut hogs = Vec::new();
    let mut sent = 0;
    for _ in 0..clients {
        let mut c = hostile::RawClient::connect(broker.socket()).unwrap();
        c.stream().set_write_timeout(Some(Duration::from_millis(200))).unwrap();
        // Send until the broker stops taking requests (or 600 of them).
        for _ in 0..600 {
            if c.send(list(), true).is_err() {
                break;
            }
            sent += 1;
        }
        hogs.push(c);
    }
    let probe = assert_serves(&mut broker, 50);
    let peak = broker.memory_kib("VmHWM");
    drop(hogs);
    assert!(switchboard_testkit::eventually(Duration::from_secs(20), || clients_now(&broker) <= 3));
    let after = broker.memory_kib("VmRSS");
    assert!(peak.saturating_sub(before) < 128 << 10, "the broker grew from {before} KiB to {peak} KiB");
    assert!(
        after.saturating_sub(before) < 32 << 10,
        "the broker kept {after} KiB after the clients left ({before} before)"
    );
    report(
        &format!("{clients} clients send ListDirectory and never read ({sent} sent)"),
        sent,
        &format!("peak +{} MiB, after +{} MiB", peak.saturating_sub(before) >> 10, after.saturating_sub(before) >> 10),
        &probe,
    );
}

fn clients_now(broker: &ProcessBroker) -> u32 {
    clients(broker)
}

#[test]
fn a_broker_out_of_descriptors_refuses_objects_clearly_and_still_answers_new_clients() {
    let mut broker = ProcessBroker::start_with_fd_limit(BROKER, 512, &[]);
    let mut attacker = hostile::RawClient::connect(broker.socket()).unwrap();
    let mut made = 0;
    let mut refusal = None;
    for _ in 0..1000 {
        match attacker.call(new_event(None, None)).unwrap() {
            (Ok(_), _) => made += 1,
            (Err(e), _) => {
                refusal = Some(e);
                break;
            }
        }
    }
    let refusal = refusal.expect("1000 events made with 512 descriptors");
    assert_eq!(refusal.code, switchboard_types::Win32Error::ERROR_NO_SYSTEM_RESOURCES, "{}", refusal.message);
    let probe = assert_serves(&mut broker, 50);
    report(
        "unnamed events until the broker's descriptors run out (512)",
        made + 1,
        &format!("refused at {made}"),
        &probe,
    );
}

#[test]
fn at_its_quota_a_user_gets_room_from_its_own_longest_idle_connection_that_holds_nothing() {
    const TEST: &str =
        "connections::at_its_quota_a_user_gets_room_from_its_own_longest_idle_connection_that_holds_nothing";
    if role::current().is_some() {
        let socket = std::env::var_os("SWITCHBOARD_SOCKET").expect("socket");
        let socket = Path::new(&socket);
        let mut holder = hostile::RawClient::connect(socket).unwrap();
        holder.ok(new_event(None, None)).unwrap();
        let mut idle = Vec::new();
        while let Ok(c) = hostile::RawClient::connect(socket) {
            idle.push(c);
        }
        role::report(&format!("HELD {}", idle.len() + 1));
        // Idle past the broker's bound (1 s here): this wait is what is tested.
        std::thread::sleep(Duration::from_millis(1500));
        let newcomer = hostile::RawClient::connect(socket).map(|mut c| c.ok(p::StatusRequest).is_ok());
        let oldest_closed = idle[0].read_to_end().is_ok_and(|n| n == 0);
        let holder_served = holder.ok(p::StatusRequest).is_ok();
        role::report(&format!("NEW {newcomer:?} OLDEST_CLOSED {oldest_closed} HOLDER {holder_served}"));
        return;
    }
    if !may_switch_user() {
        return;
    }
    let mut broker = ProcessBroker::start(BROKER, &["--max-clients", "256", "--evict-idle-after", "1"]);
    let mut attacker = Role::new(TEST, "user").env(broker.env()).user(NOBODY.0, NOBODY.1).spawn();
    assert_eq!(attacker.expect_line("HELD"), "64");
    assert_eq!(attacker.expect_line("NEW"), "Ok(true) OLDEST_CLOSED true HOLDER true");
    attacker.wait_success();
    let probe = assert_serves(&mut broker, 50);
    report("a user at its quota connects again after its connections idle", 65, "oldest idle evicted", &probe);
}
