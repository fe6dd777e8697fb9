//! 200 client processes × 1,000 messages over one pipe name with 200
//! instances: nothing lost, reordered or corrupted, checked by content.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use switchboard::Connection;
use switchboard::pipe::{GENERIC_READ_WRITE, PipeClient, PipeMode, ServerOptions};
use switchboard_testkit::TestBroker;
use switchboard_testkit::role::{self, Role};

const NAME: &str = r"\\.\pipe\stress";
const CLIENTS: usize = 200;
const MESSAGES: usize = 1000;

/// Message `j` of client `i`: its numbers, then a pattern derived from both.
fn message(i: usize, j: usize) -> Vec<u8> {
    let mut m = format!("{i}:{j}:").into_bytes();
    m.extend((0..(i * 7 + j) % 200).map(|k| ((i + j + k) % 251) as u8));
    m
}

fn client_role(i: usize) {
    let conn = Connection::connect().unwrap();
    let client = PipeClient::open_wait(&conn, NAME, GENERIC_READ_WRITE, Duration::from_secs(120)).unwrap();
    client.set_read_mode(PipeMode::Message).unwrap();
    for j in 0..MESSAGES {
        let sent = message(i, j);
        client.write(&sent).unwrap();
        let echoed = client.read_message().unwrap();
        assert_eq!(echoed, sent, "client {i}, message {j}: the echo differs");
    }
    role::report("DONE");
}

#[test]
fn two_hundred_client_processes_exchange_a_thousand_messages_each_intact_and_in_order() {
    if let Some(role) = role::current() {
        return client_role(role.parse().unwrap());
    }
    let broker = TestBroker::start();
    let conn = broker.connect();
    let options = ServerOptions::new().pipe_mode(PipeMode::Message).max_instances(CLIENTS as u32);
    let checked = Arc::new(AtomicUsize::new(0));
    let servers: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let server = options.create(&conn, NAME).unwrap();
            let checked = Arc::clone(&checked);
            std::thread::spawn(move || {
                server.connect(Some(Duration::from_secs(120))).unwrap();
                // The server checks order too: each client's messages arrive 0, 1, 2, …
                let first = server.read_message().unwrap();
                let text =
                    String::from_utf8_lossy(&first[..first.iter().position(|&b| b == b':').unwrap()]).into_owned();
                let i: usize = text.parse().unwrap();
                let mut next = first;
                for j in 0..MESSAGES {
                    assert_eq!(next, message(i, j), "server saw client {i}'s message {j} wrong or out of order");
                    server.write(&next).unwrap();
                    checked.fetch_add(1, Ordering::Relaxed);
                    if j + 1 < MESSAGES {
                        next = server.read_message().unwrap();
                    }
                }
            })
        })
        .collect();
    let children: Vec<_> = (0..CLIENTS)
        .map(|i| {
            Role::new(
                "two_hundred_client_processes_exchange_a_thousand_messages_each_intact_and_in_order",
                &i.to_string(),
            )
            .env(broker.env())
            .spawn()
        })
        .collect();
    for mut child in children {
        child.expect_line("DONE");
        child.wait_success();
    }
    for s in servers {
        s.join().unwrap();
    }
    assert_eq!(checked.load(Ordering::Relaxed), CLIENTS * MESSAGES);
}
