//! Mailslots against a real broker: SEMANTICS.md §2 line by line, and the
//! fault tests with real writer processes.

use std::time::{Duration, Instant};

use switchboard::mailslot::{self, MailslotOptions, MailslotWriter, ReadTimeout};
use switchboard::{Connection, Win32Error};
use switchboard_testkit::role::{self, Role};
use switchboard_testkit::{TestBroker, eventually};

const NAME: &str = r"\\.\mailslot\test\slot";

fn code<T: std::fmt::Debug>(r: switchboard::Result<T>) -> Win32Error {
    r.expect_err("expected an error").win32_error()
}

fn immediate() -> MailslotOptions {
    MailslotOptions::new().read_timeout(ReadTimeout::Immediately)
}

#[test]
fn opening_a_missing_mailslot_fails() {
    let broker = TestBroker::start();
    assert_eq!(code(MailslotWriter::open(&broker.connect(), NAME)), Win32Error::ERROR_FILE_NOT_FOUND);
}

#[test]
fn a_name_that_is_not_a_mailslot_is_invalid_and_a_second_create_fails() {
    let broker = TestBroker::start();
    let conn = broker.connect();
    assert_eq!(code(MailslotOptions::new().create(&conn, "blah")), Win32Error::ERROR_INVALID_NAME);
    let _first = MailslotOptions::new().create(&conn, NAME).unwrap();
    assert_eq!(code(MailslotOptions::new().create(&conn, &NAME.to_uppercase())), Win32Error::ERROR_ALREADY_EXISTS);
}

#[test]
fn other_machines_domains_and_broadcast_are_not_supported_yet() {
    let broker = TestBroker::start();
    let conn = broker.connect();
    for name in [r"\\host\mailslot\x", r"\\DOMAIN\mailslot\x", r"\\*\mailslot\x"] {
        let err = MailslotWriter::open(&conn, name).unwrap_err();
        assert_eq!(err.win32_error(), Win32Error::ERROR_NOT_SUPPORTED, "{name}");
        assert!(err.reason().contains("network"), "{err}");
    }
}

#[test]
fn a_fresh_mailslot_reports_its_limits_and_no_message() {
    let broker = TestBroker::start();
    let slot = MailslotOptions::new().max_message_size(u32::MAX).create(&broker.connect(), NAME).unwrap();
    let info = slot.info().unwrap();
    assert_eq!(
        (info.max_message_size, info.next_size, info.count, info.read_timeout),
        (u32::MAX, None, 0, ReadTimeout::Forever)
    );
    assert_eq!(info.read_timeout.as_millis(), u32::MAX);
}

#[test]
fn timeout_zero_on_an_empty_slot_is_sem_timeout_also_for_zero_byte_reads() {
    let broker = TestBroker::start();
    let slot = immediate().create(&broker.connect(), NAME).unwrap();
    let mut buf = [0u8; 16];
    assert_eq!(code(slot.read(&mut buf)), Win32Error::ERROR_SEM_TIMEOUT);
    assert_eq!(code(slot.read(&mut [])), Win32Error::ERROR_SEM_TIMEOUT);
}

#[test]
fn messages_keep_boundaries_and_order_across_writers_and_info_follows() {
    let broker = TestBroker::start();
    let conn = broker.connect();
    let slot = immediate().create(&conn, NAME).unwrap();
    let first = MailslotWriter::open(&conn, NAME).unwrap();
    let second = MailslotWriter::open(&conn, NAME).unwrap();
    first.write(b"a").unwrap();
    let info = slot.info().unwrap();
    assert_eq!((info.next_size, info.count), (Some(1), 1));
    second.write(b"bc").unwrap();
    first.write(b"").unwrap();
    assert_eq!(slot.info().unwrap().count, 3);
    let mut buf = [0u8; 16];
    assert_eq!(slot.read(&mut buf).unwrap(), 1);
    assert_eq!(slot.info().unwrap().next_size, Some(2));
    assert_eq!(slot.read(&mut buf).unwrap(), 2);
    assert_eq!(&buf[..2], b"bc");
    assert_eq!(slot.info().unwrap().next_size, Some(0), "the empty message is next");
    assert_eq!(slot.read(&mut buf).unwrap(), 0);
    let info = slot.info().unwrap();
    assert_eq!((info.next_size, info.count), (None, 0));
}

#[test]
fn a_message_is_consumed_by_exactly_one_read() {
    let broker = TestBroker::start();
    let conn = broker.connect();
    let slot = immediate().create(&conn, NAME).unwrap();
    MailslotWriter::open(&conn, NAME).unwrap().write(b"once").unwrap();
    assert_eq!(slot.read_message().unwrap(), b"once");
    assert_eq!(code(slot.read_message()), Win32Error::ERROR_SEM_TIMEOUT);
}

#[test]
fn a_buffer_too_small_fails_and_leaves_the_message_queued() {
    let broker = TestBroker::start();
    let conn = broker.connect();
    let slot = immediate().create(&conn, NAME).unwrap();
    MailslotWriter::open(&conn, NAME).unwrap().write(b"twelve bytes").unwrap();
    let mut small = [0u8; 4];
    assert_eq!(code(slot.read(&mut small)), Win32Error::ERROR_INSUFFICIENT_BUFFER);
    assert_eq!(slot.info().unwrap().count, 1);
    assert_eq!(slot.read_message().unwrap(), b"twelve bytes");
}

#[test]
fn a_read_timeout_waits_at_least_that_long_and_forever_waits_for_a_write() {
    let broker = TestBroker::start();
    let conn = broker.connect();
    let slot =
        MailslotOptions::new().read_timeout(ReadTimeout::After(Duration::from_secs(1))).create(&conn, NAME).unwrap();
    let start = Instant::now();
    assert_eq!(code(slot.read_message()), Win32Error::ERROR_SEM_TIMEOUT);
    assert!(start.elapsed() >= Duration::from_millis(900), "gave up after {:?}", start.elapsed());
    slot.set_read_timeout(ReadTimeout::Forever);
    let writer = MailslotWriter::open(&conn, NAME).unwrap();
    let sender = std::thread::spawn(move || writer.write(b"late").map(|()| writer));
    assert_eq!(slot.read_message().unwrap(), b"late");
    drop(sender.join().unwrap().unwrap());
}

#[test]
fn set_mailslot_info_changes_only_the_read_timeout() {
    let broker = TestBroker::start();
    let slot = MailslotOptions::new().max_message_size(100).create(&broker.connect(), NAME).unwrap();
    slot.set_read_timeout(ReadTimeout::After(Duration::from_millis(250)));
    let info = slot.info().unwrap();
    assert_eq!((info.read_timeout.as_millis(), info.max_message_size), (250, 100));
}

#[test]
fn a_write_bigger_than_the_maximum_fails() {
    let broker = TestBroker::start();
    let conn = broker.connect();
    let slot = immediate().max_message_size(8).create(&conn, NAME).unwrap();
    let writer = MailslotWriter::open(&conn, NAME).unwrap();
    assert_eq!(code(writer.write(b"nine bytes")), Win32Error::ERROR_INVALID_PARAMETER);
    writer.write(b"8 bytes!").unwrap();
    assert_eq!(slot.info().unwrap().count, 1, "only the message that fits arrived");
}

#[test]
fn another_users_writer_needs_the_dacl() {
    let broker = TestBroker::start();
    let conn = broker.connect();
    let _slot = MailslotOptions::new().security("D:(A;;GR;;;OW)").create(&conn, NAME).unwrap();
    assert_eq!(code(MailslotWriter::open(&conn, NAME)), Win32Error::ERROR_ACCESS_DENIED, "the DACL grants no writing");
}

#[test]
fn mailslots_are_listed_with_their_writers() {
    let broker = TestBroker::start();
    let conn = broker.connect();
    let slot = MailslotOptions::new().max_message_size(424).create(&conn, NAME).unwrap();
    let w1 = MailslotWriter::open(&conn, NAME).unwrap();
    let w2 = MailslotWriter::open(&conn, NAME).unwrap();
    let rows = mailslot::list(&conn).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].name.as_str(), rows[0].max_message_size, rows[0].writers), (r"test\slot", Some(424), Some(2)));
    drop((w1, w2, slot));
    assert!(mailslot::list(&conn).unwrap().is_empty(), "the name goes with the reader");
}

#[test]
fn killing_the_reader_gives_writers_a_clear_error_and_frees_the_name() {
    if role::current().is_some() {
        let conn = Connection::connect().unwrap();
        let _slot = MailslotOptions::new().create(&conn, NAME).unwrap();
        role::report("READY");
        std::thread::sleep(Duration::from_secs(60));
        return;
    }
    let broker = TestBroker::start();
    let conn = broker.connect();
    let mut reader = Role::new("killing_the_reader_gives_writers_a_clear_error_and_frees_the_name", "reader")
        .env(broker.env())
        .spawn();
    reader.expect_line("READY");
    let writer = MailslotWriter::open(&conn, NAME).unwrap();
    writer.write(b"before").unwrap();
    reader.kill();
    // The broker learns of the death when the reader's connection closes;
    // once it has (the name is gone), every write fails.
    assert!(eventually(Duration::from_secs(10), || mailslot::list(&conn).unwrap().is_empty()));
    let err = writer.write(b"after").unwrap_err();
    assert_eq!(err.win32_error(), Win32Error::ERROR_FILE_NOT_FOUND);
    assert!(err.reason().contains("reader is gone"), "{err}");
    MailslotOptions::new().create(&conn, NAME).expect("the name is free again");
    assert_eq!(
        code(writer.write(b"to the new one?")),
        Win32Error::ERROR_FILE_NOT_FOUND,
        "an old writer never reaches a new mailslot"
    );
}

const WRITERS: usize = 8;
const EACH: usize = 10_000;

#[test]
fn eight_writer_processes_deliver_every_message_in_each_writers_order() {
    if let Some(role) = role::current() {
        let w: usize = role.parse().unwrap();
        let conn = Connection::connect().unwrap();
        let writer = MailslotWriter::open(&conn, NAME).unwrap();
        for j in 0..EACH {
            writer.write(format!("{w}:{j}:{}", "x".repeat((w * 31 + j) % 97)).as_bytes()).unwrap();
        }
        return;
    }
    let broker = TestBroker::start();
    let conn = broker.connect();
    let slot =
        MailslotOptions::new().read_timeout(ReadTimeout::After(Duration::from_secs(30))).create(&conn, NAME).unwrap();
    let children: Vec<_> = (0..WRITERS)
        .map(|w| {
            Role::new("eight_writer_processes_deliver_every_message_in_each_writers_order", &w.to_string())
                .env(broker.env())
                .spawn()
        })
        .collect();
    let mut next = [0usize; WRITERS];
    for _ in 0..WRITERS * EACH {
        let message = String::from_utf8(slot.read_message().unwrap()).unwrap();
        let mut parts = message.splitn(3, ':');
        let w: usize = parts.next().unwrap().parse().unwrap();
        let j: usize = parts.next().unwrap().parse().unwrap();
        assert_eq!(j, next[w], "writer {w}'s messages out of order");
        assert_eq!(parts.next().unwrap(), "x".repeat((w * 31 + j) % 97), "writer {w}'s message {j} corrupted");
        next[w] += 1;
    }
    assert!(next.iter().all(|&n| n == EACH));
    for child in children {
        child.wait_success();
    }
    assert_eq!(slot.info().unwrap().count, 0, "nothing more than was sent");
}

#[test]
fn anyone_can_see_the_count_while_the_reader_is_not_reading() {
    let broker = TestBroker::start();
    let conn = broker.connect();
    let slot = immediate().create(&conn, NAME).unwrap();
    let other = broker.connect(); // as another process would
    let writer = MailslotWriter::open(&other, NAME).unwrap();
    writer.write(b"hello").unwrap();
    writer.write(b"hi").unwrap();
    let status = mailslot::query(&other, NAME).unwrap();
    assert_eq!((status.count, status.next_size, status.writers), (2, Some(5), 1));
    assert_eq!(slot.read_message().unwrap(), b"hello");
    let status = mailslot::query(&other, NAME).unwrap();
    assert_eq!((status.count, status.next_size), (1, Some(2)));
    assert_eq!(slot.read_message().unwrap(), b"hi");
    assert_eq!(mailslot::query(&other, NAME).unwrap().next_size, None);
    assert_eq!(code(mailslot::query(&other, r"\\.\mailslot\nothing")), Win32Error::ERROR_FILE_NOT_FOUND);
}
