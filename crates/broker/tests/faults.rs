//! Bad input and misbehaving peers never take the broker down or disturb
//! other clients.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use switchboard::{ErrorKind, EventOptions, atom};
use switchboard_proto::{HandshakeReply, HandshakeStatus, Hello, PROTOCOL_VERSION};
use switchboard_testkit::TestBroker;

/// A raw connection that has completed the handshake.
fn raw_client(broker: &TestBroker) -> UnixStream {
    let mut s = UnixStream::connect(broker.socket()).unwrap();
    s.write_all(&Hello::current().encode()).unwrap();
    let reply = read_handshake(&mut s);
    assert_eq!(reply.status, HandshakeStatus::Accepted);
    s
}

fn read_handshake(s: &mut UnixStream) -> HandshakeReply {
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        if let Some((reply, _)) = HandshakeReply::decode(&buf).unwrap() {
            return reply;
        }
        let n = s.read(&mut chunk).unwrap();
        assert!(n > 0, "closed during the handshake");
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Reads until the broker closes the connection; panics if it does not
/// within the read timeout.
fn read_until_closed(s: &mut UnixStream) {
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut sink = [0u8; 4096];
    loop {
        match s.read(&mut sink) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return,
            Err(e) => panic!("the broker did not close the connection: {e}"),
        }
    }
}

#[test]
fn client_sending_a_thousand_malformed_frames_is_dropped_while_others_are_served() {
    let broker = TestBroker::start();
    let good = broker.connect();
    let ev = EventOptions::new().manual_reset(true).create(&good, "steady").unwrap().object;
    let mut bad = raw_client(&broker);
    let mut writer = bad.try_clone().unwrap();
    let flood = std::thread::spawn(move || {
        let mut seed = 0x2545_f491_u32;
        let mut sent = 0;
        for _ in 0..1000 {
            let mut body = vec![0u8; 24];
            for b in &mut body {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                *b = seed as u8;
            }
            // Opcode 255 does not exist, so every frame is malformed whatever follows.
            body[1] = 0xFF;
            body[2] = 0x01;
            let mut frame = (body.len() as u32).to_le_bytes().to_vec();
            frame.extend_from_slice(&body);
            if writer.write_all(&frame).is_err() {
                break; // dropped by the broker, as it should be
            }
            sent += 1;
        }
        sent
    });
    for i in 0..200 {
        atom::global_add(&good, &format!("served-{i}")).unwrap();
        ev.set().unwrap();
    }
    read_until_closed(&mut bad);
    let sent = flood.join().unwrap();
    assert!(sent >= 8, "the broker dropped the client after {sent} frames");
    assert_eq!(good.status().unwrap().clients, 1);
    assert_eq!(atom::global_list(&good).unwrap().len(), 200);
}

#[test]
fn oversized_frame_drops_the_client_at_once() {
    let broker = TestBroker::start_with(|c| c.max_frame = 1024);
    let good = broker.connect();
    let mut bad = raw_client(&broker);
    bad.write_all(&(1_000_000u32).to_le_bytes()).unwrap();
    read_until_closed(&mut bad);
    assert_eq!(good.status().unwrap().clients, 1);
}

#[test]
fn garbage_instead_of_a_handshake_is_dropped() {
    let broker = TestBroker::start();
    let mut s = UnixStream::connect(broker.socket()).unwrap();
    s.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
    read_until_closed(&mut s);
    broker.connect().status().unwrap();
}

#[test]
fn version_mismatch_names_the_running_broker_and_how_to_restart_it() {
    let broker = TestBroker::start();
    let mut s = UnixStream::connect(broker.socket()).unwrap();
    s.write_all(&Hello { version: PROTOCOL_VERSION + 1 }.encode()).unwrap();
    let reply = read_handshake(&mut s);
    assert_eq!(reply.status, HandshakeStatus::VersionMismatch);
    assert_eq!(reply.pid, std::process::id(), "the test broker runs in this process");
    assert!(reply.message.contains(&format!("pid {}", std::process::id())), "{}", reply.message);
    assert!(reply.message.contains("switchboard daemon restart"), "{}", reply.message);
    read_until_closed(&mut s);
}

#[test]
fn client_beyond_the_limit_is_refused_with_the_reason() {
    let broker = TestBroker::start_with(|c| {
        c.core.max_clients = 1;
        c.core.root_reserve = 0; // the test may run as root
    });
    let first = broker.connect();
    let err = broker.try_connect().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Refused);
    assert!(err.reason().contains("limit of 1 clients"), "{err}");
    first.status().unwrap();
}

#[test]
fn handle_limit_gives_an_error_and_the_client_carries_on() {
    let broker = TestBroker::start_with(|c| c.core.max_handles = 3);
    let conn = broker.connect();
    let kept: Vec<_> = (0..3).map(|i| EventOptions::new().create(&conn, &format!("h{i}")).unwrap()).collect();
    let err = EventOptions::new().create(&conn, "h3").unwrap_err();
    assert_eq!(err.win32_error(), switchboard::Win32Error::ERROR_NO_SYSTEM_RESOURCES);
    assert!(err.reason().contains("limit of 3 handles"), "{err}");
    drop(kept);
    EventOptions::new().create(&conn, "h3").unwrap();
}

#[test]
fn a_client_that_never_reads_its_replies_is_dropped_not_buffered_forever() {
    let broker = TestBroker::start_with(|c| c.max_write_buffer = 64 * 1024);
    let good = broker.connect();
    let mut lazy = raw_client(&broker);
    // Many requests whose replies this client never reads.
    let mut frame = Vec::new();
    let request = switchboard_proto::RequestFrame {
        id: 1,
        fds: 0,
        request: switchboard_proto::Request::ListAtoms(switchboard_proto::ListAtoms),
    };
    for i in 0..300 {
        atom::global_add(&good, &format!("{i:0>200}")).unwrap();
    }
    switchboard_proto::encode_frame(&request, &mut frame);
    lazy.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut dropped = false;
    for _ in 0..10_000 {
        if lazy.write_all(&frame).is_err() {
            dropped = true;
            break;
        }
    }
    if !dropped {
        read_until_closed(&mut lazy);
    }
    assert_eq!(good.status().unwrap().clients, 1);
}

/// Reads one reply frame.
fn read_reply(s: &mut UnixStream) -> switchboard_proto::ReplyFrame {
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some((_, body)) = switchboard_proto::split_frame(&buf, 1 << 20).unwrap() {
            return switchboard_proto::decode_body(body).unwrap();
        }
        let n = s.read(&mut chunk).unwrap();
        assert!(n > 0, "closed before a reply");
        buf.extend_from_slice(&chunk[..n]);
    }
}

#[test]
fn a_frame_declaring_descriptors_that_never_came_is_refused_and_the_client_carries_on() {
    let broker = TestBroker::start();
    let mut s = raw_client(&broker);
    let mut frame = Vec::new();
    let request = switchboard_proto::RequestFrame {
        id: 1,
        fds: 1,
        request: switchboard_proto::Request::ListAtoms(switchboard_proto::ListAtoms),
    };
    switchboard_proto::encode_frame(&request, &mut frame);
    s.write_all(&frame).unwrap();
    let reply = read_reply(&mut s);
    let error = reply.result.expect_err("refused");
    assert_eq!(error.code, switchboard::Win32Error::ERROR_INVALID_DATA);
    assert!(error.message.contains("declares 1 descriptors"), "{}", error.message);
    frame.clear();
    let request = switchboard_proto::RequestFrame { fds: 0, id: 2, ..request };
    switchboard_proto::encode_frame(&request, &mut frame);
    s.write_all(&frame).unwrap();
    assert!(read_reply(&mut s).result.is_ok(), "the client is still served");
}

#[test]
fn a_client_that_floods_the_broker_with_descriptors_is_dropped() {
    use std::os::fd::AsFd;
    let broker = TestBroker::start();
    let good = broker.connect();
    let s = raw_client(&broker);
    let file = std::fs::File::open("/dev/null").unwrap();
    // Twenty one-byte sends, each carrying a descriptor; together they are
    // the start of a 100-byte frame that never completes, so only the
    // descriptors can get the client dropped.
    for i in 0..20 {
        let byte = if i == 0 { 100 } else { 0 };
        if switchboard_sys::fdpass::send_with_fds(&s, &[byte], &[file.as_fd()]).is_err() {
            break;
        }
    }
    let mut s = s;
    read_until_closed(&mut s);
    atom::global_add(&good, "still.served").unwrap();
}
