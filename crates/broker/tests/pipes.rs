//! Named pipes against a real broker: the lines of SEMANTICS.md §1, each a
//! test named after the behaviour. Two ends in one process talk through the
//! same private channel two processes would; the fault tests use real
//! child processes.

use std::time::Duration;

use switchboard::pipe::{
    self, Connected, Direction, GENERIC_READ, GENERIC_READ_WRITE, GENERIC_WRITE, PipeClient, PipeMode, PipeServer,
    PipeState, Received, ServerOptions, WaitTimeout,
};
use switchboard::{Connection, Win32Error};
use switchboard_testkit::role::{self, Role};
use switchboard_testkit::{TestBroker, eventually, is_root};

const NAME: &str = r"\\.\pipe\test\pipe";
const ELEVEN: &[u8] = b"hello world";
const TEN: &[u8] = b"0123456789";

fn code<T: std::fmt::Debug>(r: switchboard::Result<T>) -> Win32Error {
    r.expect_err("expected an error").win32_error()
}

fn message_server(conn: &Connection) -> PipeServer {
    ServerOptions::new().pipe_mode(PipeMode::Message).create(conn, NAME).unwrap()
}

fn connected_pair(conn: &Connection, options: &ServerOptions) -> (PipeServer, PipeClient) {
    let server = options.create(conn, NAME).unwrap();
    let client = PipeClient::open(conn, NAME, GENERIC_READ_WRITE).unwrap();
    assert_eq!(server.connect(None).unwrap(), Connected::Already);
    (server, client)
}

#[test]
fn wait_named_pipe_on_a_missing_name_fails_at_once_with_file_not_found() {
    let broker = TestBroker::start();
    let conn = broker.connect();
    assert_eq!(code(pipe::wait_named_pipe(&conn, NAME, WaitTimeout::Forever)), Win32Error::ERROR_FILE_NOT_FOUND);
}

#[test]
fn opening_a_missing_pipe_is_file_not_found() {
    let broker = TestBroker::start();
    assert_eq!(code(PipeClient::open(&broker.connect(), NAME, GENERIC_READ)), Win32Error::ERROR_FILE_NOT_FOUND);
}

#[test]
fn bad_names_are_invalid_name_and_remote_pipes_not_supported() {
    let broker = TestBroker::start();
    let conn = broker.connect();
    assert_eq!(code(ServerOptions::new().create(&conn, "not a named pipe")), Win32Error::ERROR_INVALID_NAME);
    assert_eq!(code(PipeClient::open(&conn, r"\\elsewhere\pipe\x", GENERIC_READ)), Win32Error::ERROR_NOT_SUPPORTED);
}

#[test]
fn byte_type_with_message_read_mode_is_invalid_parameter() {
    let broker = TestBroker::start();
    let options = ServerOptions::new().pipe_mode(PipeMode::Byte).read_mode(PipeMode::Message);
    assert_eq!(code(options.create(&broker.connect(), NAME)), Win32Error::ERROR_INVALID_PARAMETER);
}

#[test]
fn prefix_and_name_match_without_regard_to_case_and_names_may_hold_odd_characters() {
    let broker = TestBroker::start();
    let conn = broker.connect();
    let _server = ServerOptions::new().create(&conn, r"\\.\PiPe\TEST\PIPE <*?|/>").unwrap();
    PipeClient::open(&conn, r"\\.\pipe\test\pipe <*?|/>", GENERIC_READ_WRITE).unwrap();
}

#[test]
fn fresh_instance_can_be_waited_for_and_is_busy_once_a_client_connects() {
    let broker = TestBroker::start();
    let conn = broker.connect();
    let _server = ServerOptions::new().max_instances(1).create(&conn, NAME).unwrap();
    pipe::wait_named_pipe(&conn, NAME, WaitTimeout::Exactly(Duration::from_secs(2))).unwrap();
    let _client = PipeClient::open(&conn, NAME, GENERIC_READ_WRITE).unwrap();
    let err = pipe::wait_named_pipe(&conn, NAME, WaitTimeout::Exactly(Duration::from_millis(100))).unwrap_err();
    assert_eq!(err.win32_error(), Win32Error::ERROR_SEM_TIMEOUT);
}

#[test]
fn instances_beyond_the_maximum_are_pipe_busy_and_another_direction_is_access_denied() {
    let broker = TestBroker::start();
    let conn = broker.connect();
    let _first = ServerOptions::new().max_instances(1).create(&conn, NAME).unwrap();
    assert_eq!(code(ServerOptions::new().max_instances(1).create(&conn, NAME)), Win32Error::ERROR_PIPE_BUSY);
    let options = ServerOptions::new().direction(Direction::Inbound).max_instances(2);
    assert_eq!(code(options.create(&conn, NAME)), Win32Error::ERROR_ACCESS_DENIED);
    assert_eq!(
        code(ServerOptions::new().first_pipe_instance(true).create(&conn, NAME)),
        Win32Error::ERROR_ACCESS_DENIED
    );
}

#[test]
fn differing_type_buffers_timeout_and_maximum_are_accepted_for_a_second_instance() {
    let broker = TestBroker::start();
    let conn = broker.connect();
    let _first = ServerOptions::new().max_instances(3).create(&conn, NAME).unwrap();
    let second =
        ServerOptions::new().pipe_mode(PipeMode::Message).in_buffer_size(1).default_timeout(Duration::from_secs(9));
    second.max_instances(5).create(&conn, NAME).unwrap();
}

#[test]
fn single_instance_stays_busy_after_its_client_leaves_until_the_server_connects_again() {
    let broker = TestBroker::start();
    let conn = broker.connect();
    let server = ServerOptions::new().max_instances(1).create(&conn, NAME).unwrap();
    let client = PipeClient::open(&conn, NAME, GENERIC_READ_WRITE).unwrap();
    assert_eq!(code(PipeClient::open(&conn, NAME, GENERIC_READ_WRITE)), Win32Error::ERROR_PIPE_BUSY);
    drop(client);
    assert_eq!(code(PipeClient::open(&conn, NAME, GENERIC_READ_WRITE)), Win32Error::ERROR_PIPE_BUSY);
    server.disconnect().unwrap();
    assert_eq!(code(PipeClient::open(&conn, NAME, GENERIC_READ_WRITE)), Win32Error::ERROR_PIPE_BUSY);
    let waiter = std::thread::spawn({
        let conn = conn.clone();
        move || PipeClient::open_wait(&conn, NAME, GENERIC_READ_WRITE, Duration::from_secs(20)).map(|_| ())
    });
    assert_eq!(server.connect(None).unwrap(), Connected::Now);
    waiter.join().unwrap().unwrap();
}

#[test]
fn connect_after_a_client_connected_reports_already_connected() {
    let broker = TestBroker::start();
    let conn = broker.connect();
    let (server, _client) = connected_pair(&conn, &ServerOptions::new());
    assert_eq!(server.connect(None).unwrap(), Connected::Already);
}

#[test]
fn connect_blocks_until_a_client_comes() {
    let broker = TestBroker::start();
    let conn = broker.connect();
    let server = ServerOptions::new().create(&conn, NAME).unwrap();
    let client = std::thread::spawn({
        let conn = conn.clone();
        move || {
            pipe::wait_named_pipe(&conn, NAME, WaitTimeout::Forever).unwrap();
            let c = PipeClient::open(&conn, NAME, GENERIC_READ_WRITE).unwrap();
            c.write(b"x").unwrap();
            c
        }
    });
    let outcome = server.connect(Some(Duration::from_secs(20))).unwrap();
    assert!(matches!(outcome, Connected::Now | Connected::Already));
    let mut buf = [0u8; 4];
    assert_eq!(server.read(&mut buf).unwrap().len, 1);
    drop(client.join().unwrap());
}

#[test]
fn connect_with_a_timeout_and_no_client_times_out() {
    let broker = TestBroker::start();
    let conn = broker.connect();
    let server = ServerOptions::new().create(&conn, NAME).unwrap();
    assert_eq!(code(server.connect(Some(Duration::from_millis(50)))), Win32Error::ERROR_SEM_TIMEOUT);
}

#[test]
fn read_and_write_on_a_never_connected_server_are_pipe_listening_and_peek_is_bad_pipe() {
    let broker = TestBroker::start();
    let conn = broker.connect();
    let server = ServerOptions::new().create(&conn, NAME).unwrap();
    let mut buf = [0u8; 4];
    assert_eq!(code(server.read(&mut buf)), Win32Error::ERROR_PIPE_LISTENING);
    assert_eq!(code(server.write(b"x")), Win32Error::ERROR_PIPE_LISTENING);
    assert_eq!(code(server.peek(&mut buf)), Win32Error::ERROR_BAD_PIPE);
}

#[test]
fn byte_mode_reads_two_writes_together_and_peek_reports_all_of_it() {
    let broker = TestBroker::start();
    let conn = broker.connect();
    let (server, client) = connected_pair(&conn, &ServerOptions::new());
    client.write(ELEVEN).unwrap();
    client.write(TEN).unwrap();
    let mut small = [0u8; 4];
    let peek = server.peek(&mut small).unwrap();
    assert_eq!((peek.len, peek.available, peek.left_in_message), (4, 21, None));
    let mut buf = [0u8; 32];
    assert_eq!(server.read(&mut buf).unwrap(), Received { len: 21, more: false });
}

#[test]
fn message_mode_reads_one_message_and_peek_reports_what_is_left_of_it() {
    let broker = TestBroker::start();
    let conn = broker.connect();
    let (server, client) = connected_pair(&conn, &ServerOptions::new().pipe_mode(PipeMode::Message));
    client.write(ELEVEN).unwrap();
    client.write(TEN).unwrap();
    let mut small = [0u8; 4];
    let peek = server.peek(&mut small).unwrap();
    assert_eq!((peek.len, peek.available, peek.left_in_message), (4, 21, Some(7)));
    let mut buf = [0u8; 32];
    assert_eq!(server.read(&mut buf).unwrap(), Received { len: 11, more: false });
}

#[test]
fn message_read_with_a_small_buffer_returns_more_data_and_another_thread_reads_the_rest() {
    let broker = TestBroker::start();
    let conn = broker.connect();
    let (server, client) = connected_pair(&conn, &ServerOptions::new().pipe_mode(PipeMode::Message));
    client.write(ELEVEN).unwrap();
    let mut small = [0u8; 4];
    assert_eq!(server.read(&mut small).unwrap(), Received { len: 4, more: true });
    let server = std::sync::Arc::new(server);
    let reader = std::sync::Arc::clone(&server);
    let rest = std::thread::spawn(move || {
        let mut buf = [0u8; 32];
        let got = reader.read(&mut buf).unwrap();
        buf[..got.len].to_vec()
    });
    assert_eq!(rest.join().unwrap(), b"o world");
}

#[test]
fn client_starts_in_byte_read_mode_and_message_mode_needs_a_message_pipe() {
    let broker = TestBroker::start();
    let conn = broker.connect();
    let (server, client) = connected_pair(&conn, &ServerOptions::new());
    assert_eq!(client.read_mode(), PipeMode::Byte);
    assert_eq!(code(client.set_read_mode(PipeMode::Message)), Win32Error::ERROR_INVALID_PARAMETER);
    drop((server, client));
    let (server, client) = connected_pair(&conn, &ServerOptions::new().pipe_mode(PipeMode::Message));
    client.set_read_mode(PipeMode::Message).unwrap();
    server.set_read_mode(PipeMode::Byte).unwrap();
    server.set_read_mode(PipeMode::Message).unwrap();
}

#[test]
fn zero_length_message_completes_a_read_with_zero_bytes() {
    let broker = TestBroker::start();
    let conn = broker.connect();
    let (server, client) = connected_pair(&conn, &ServerOptions::new().pipe_mode(PipeMode::Message));
    client.write(b"").unwrap();
    let mut buf = [0u8; 8];
    assert_eq!(server.read(&mut buf).unwrap(), Received { len: 0, more: false });
}

#[test]
fn after_the_server_writes_and_closes_the_client_reads_the_data_then_broken_pipe() {
    let broker = TestBroker::start();
    let conn = broker.connect();
    let (server, client) = connected_pair(&conn, &ServerOptions::new().pipe_mode(PipeMode::Message));
    server.write(ELEVEN).unwrap();
    drop(server);
    let mut buf = [0u8; 32];
    assert_eq!(client.read(&mut []).unwrap().len, 0, "a zero-byte read succeeds");
    assert_eq!(client.peek(&mut buf).unwrap().available, 11, "peek still shows the data");
    assert_eq!(client.read(&mut buf).unwrap().len, 11);
    assert_eq!(code(client.read(&mut buf)), Win32Error::ERROR_BROKEN_PIPE);
    assert_eq!(code(client.peek(&mut buf)), Win32Error::ERROR_BROKEN_PIPE);
    assert_eq!(code(client.write(b"x")), Win32Error::ERROR_NO_DATA);
}

#[test]
fn after_the_client_closes_the_server_reads_the_data_then_broken_pipe() {
    let broker = TestBroker::start();
    let conn = broker.connect();
    let (server, client) = connected_pair(&conn, &ServerOptions::new());
    client.write(TEN).unwrap();
    drop(client);
    let mut buf = [0u8; 32];
    assert_eq!(server.read(&mut buf).unwrap().len, 10);
    assert_eq!(code(server.read(&mut buf)), Win32Error::ERROR_BROKEN_PIPE);
    assert_eq!(code(server.write(b"x")), Win32Error::ERROR_NO_DATA);
    assert_eq!(code(server.connect(None)), Win32Error::ERROR_NO_DATA, "a client came and went");
}

#[test]
fn disconnect_discards_unread_data_and_both_ends_are_then_not_connected() {
    let broker = TestBroker::start();
    let conn = broker.connect();
    let (server, client) = connected_pair(&conn, &ServerOptions::new());
    server.write(ELEVEN).unwrap();
    client.write(TEN).unwrap();
    server.disconnect().unwrap();
    let mut buf = [0u8; 32];
    assert_eq!(code(client.read(&mut buf)), Win32Error::ERROR_PIPE_NOT_CONNECTED);
    assert_eq!(code(client.write(b"x")), Win32Error::ERROR_PIPE_NOT_CONNECTED);
    assert_eq!(code(client.peek(&mut buf)), Win32Error::ERROR_PIPE_NOT_CONNECTED);
    assert_eq!(code(server.read(&mut buf)), Win32Error::ERROR_PIPE_NOT_CONNECTED);
    assert_eq!(code(server.write(b"x")), Win32Error::ERROR_PIPE_NOT_CONNECTED);
    assert_eq!(code(server.peek(&mut buf)), Win32Error::ERROR_BAD_PIPE);
    assert_eq!(code(server.disconnect()), Win32Error::ERROR_PIPE_NOT_CONNECTED);
    // A new client after reconnecting sees none of the old data.
    let waiter = std::thread::spawn({
        let conn = conn.clone();
        move || PipeClient::open_wait(&conn, NAME, GENERIC_READ_WRITE, Duration::from_secs(20))
    });
    server.connect(None).unwrap();
    let fresh = waiter.join().unwrap().unwrap();
    fresh.write(b"new").unwrap();
    assert_eq!(server.read(&mut buf).unwrap().len, 3);
    assert_eq!(&buf[..3], b"new");
}

#[test]
fn wait_named_pipe_is_woken_by_a_new_instance() {
    let broker = TestBroker::start();
    let conn = broker.connect();
    let _server = ServerOptions::new().max_instances(2).create(&conn, NAME).unwrap();
    let _client = PipeClient::open(&conn, NAME, GENERIC_READ_WRITE).unwrap();
    let waiter = std::thread::spawn({
        let conn = conn.clone();
        move || pipe::wait_named_pipe(&conn, NAME, WaitTimeout::Forever)
    });
    let watcher = broker.connect();
    assert!(eventually(Duration::from_secs(20), || pipe::list(&watcher).unwrap()[0].waiters == 1));
    let _second = ServerOptions::new().max_instances(2).create(&conn, NAME).unwrap();
    waiter.join().unwrap().unwrap();
}

#[test]
fn no_wait_mode_reports_instead_of_blocking() {
    let broker = TestBroker::start();
    let conn = broker.connect();
    let server = ServerOptions::new().nowait(true).create(&conn, NAME).unwrap();
    assert_eq!(code(server.connect(None)), Win32Error::ERROR_PIPE_LISTENING);
    let client = PipeClient::open(&conn, NAME, GENERIC_READ_WRITE).unwrap();
    let mut buf = [0u8; 8];
    assert_eq!(code(server.read(&mut buf)), Win32Error::ERROR_NO_DATA, "empty pipe");
    drop(client);
    assert_eq!(code(server.connect(None)), Win32Error::ERROR_NO_DATA, "a client came and went");
    server.disconnect().unwrap();
    assert_eq!(code(server.connect(None)), Win32Error::ERROR_PIPE_LISTENING);
}

#[test]
fn info_reports_sizes_as_requested_and_instance_counts() {
    let broker = TestBroker::start();
    let conn = broker.connect();
    let server =
        ServerOptions::new().pipe_mode(PipeMode::Message).max_instances(3).out_buffer_size(0).in_buffer_size(1);
    let server = server.create(&conn, NAME).unwrap();
    let info = server.info().unwrap();
    assert!(info.server_end);
    assert_eq!(
        (info.pipe_type, info.out_buffer, info.in_buffer, info.max_instances, info.instances),
        (PipeMode::Message, 0, 1, 3, 1)
    );
    assert_eq!(info.state, PipeState::Listening);
}

#[test]
fn access_follows_the_open_mode() {
    let broker = TestBroker::start();
    let conn = broker.connect();
    let inbound = ServerOptions::new().direction(Direction::Inbound).create(&conn, NAME).unwrap();
    assert_eq!(
        code(PipeClient::open(&conn, NAME, GENERIC_READ)),
        Win32Error::ERROR_ACCESS_DENIED,
        "clients of an inbound pipe cannot read"
    );
    let client = PipeClient::open(&conn, NAME, GENERIC_WRITE).unwrap();
    assert_eq!(code(inbound.write(b"x")), Win32Error::ERROR_ACCESS_DENIED, "an inbound server only reads");
    let mut buf = [0u8; 4];
    assert_eq!(code(client.read(&mut buf)), Win32Error::ERROR_ACCESS_DENIED);
    client.write(b"x").unwrap();
    assert_eq!(inbound.read(&mut buf).unwrap().len, 1);
    drop((inbound, client));
    let _outbound = ServerOptions::new().direction(Direction::Outbound).create(&conn, r"\\.\pipe\out").unwrap();
    assert_eq!(code(PipeClient::open(&conn, r"\\.\pipe\out", GENERIC_WRITE)), Win32Error::ERROR_ACCESS_DENIED);
    PipeClient::open(&conn, r"\\.\pipe\out", 0).expect("access 0 is allowed");
}

#[test]
fn transact_needs_a_message_pipe_in_message_mode_and_no_unread_data() {
    let broker = TestBroker::start();
    let conn = broker.connect();
    let (byte_server, client) = connected_pair(&conn, &ServerOptions::new());
    let mut out = [0u8; 16];
    assert_eq!(code(client.transact(b"q", &mut out)), Win32Error::ERROR_BAD_PIPE);
    drop((byte_server, client));
    let (server, client) = connected_pair(&conn, &ServerOptions::new().pipe_mode(PipeMode::Message));
    assert_eq!(code(client.transact(b"q", &mut out)), Win32Error::ERROR_BAD_PIPE, "client still in byte read mode");
    client.set_read_mode(PipeMode::Message).unwrap();
    server.write(b"unread").unwrap();
    assert_eq!(code(client.transact(b"q", &mut out)), Win32Error::ERROR_PIPE_BUSY);
    assert_eq!(client.read(&mut out).unwrap().len, 6);
    let answer = std::thread::spawn(move || {
        let question = server.read_message().unwrap();
        server.write(&[question.as_slice(), b" -> a long answer"].concat()).unwrap();
        server
    });
    let mut small = [0u8; 4];
    assert_eq!(client.transact(b"q", &mut small).unwrap(), Received { len: 4, more: true });
    assert_eq!(client.read_message().unwrap(), b" a long answer", "the rest after \"q ->\"");
    drop(answer.join().unwrap());
}

#[test]
fn call_named_pipe_fails_on_byte_pipes_and_loses_the_rest_of_a_long_reply() {
    let broker = TestBroker::start();
    let conn = broker.connect();
    let _byte = ServerOptions::new().create(&conn, r"\\.\pipe\bytes").unwrap();
    let mut out = [0u8; 64];
    assert_eq!(
        code(pipe::call_named_pipe(&conn, r"\\.\pipe\bytes", b"q", &mut out, Duration::from_secs(5))),
        Win32Error::ERROR_BAD_PIPE
    );
    let server = message_server(&conn);
    let answering = std::thread::spawn(move || {
        server.connect(None).unwrap();
        let q = server.read_message().unwrap();
        server.write(&[q.as_slice(), b"0123456789"].concat()).unwrap();
    });
    let mut small = [0u8; 4];
    let got = pipe::call_named_pipe(&conn, NAME, b"abc", &mut small, Duration::from_secs(20)).unwrap();
    assert_eq!(got, Received { len: 4, more: true });
    assert_eq!(&small, b"abc0");
    answering.join().unwrap();
}

#[test]
fn the_server_learns_who_the_client_is() {
    if role::current().is_some() {
        let conn = Connection::connect().unwrap();
        let client = PipeClient::open(&conn, NAME, GENERIC_READ_WRITE).unwrap();
        client.write(b"hi").unwrap();
        let mut buf = [0u8; 4];
        let _ = client.read(&mut buf);
        return;
    }
    let broker = TestBroker::start();
    let conn = broker.connect();
    let server = ServerOptions::new().create(&conn, NAME).unwrap();
    let child = Role::new("the_server_learns_who_the_client_is", "client").env(broker.env()).spawn();
    server.connect(Some(Duration::from_secs(30))).unwrap();
    let who = server.client().unwrap();
    assert_eq!(who.pid, child.pid());
    assert_eq!(who.uid, switchboard_sys::current_uid());
    server.write(b"bye").unwrap();
    child.wait_success();
}

#[test]
fn server_killed_mid_transfer_leaves_the_client_its_data_then_a_broken_pipe() {
    if role::current().is_some() {
        let conn = Connection::connect().unwrap();
        let server = message_server(&conn);
        server.connect(None).unwrap();
        server.write(ELEVEN).unwrap();
        server.write(TEN).unwrap();
        role::report("WROTE");
        std::thread::sleep(Duration::from_secs(60));
        return;
    }
    let broker = TestBroker::start();
    let conn = broker.connect();
    let mut child = Role::new("server_killed_mid_transfer_leaves_the_client_its_data_then_a_broken_pipe", "server")
        .env(broker.env())
        .spawn();
    // The child creates the pipe; wait until it exists and listens.
    assert!(eventually(Duration::from_secs(30), || pipe::wait_named_pipe(&conn, NAME, WaitTimeout::Default).is_ok()));
    let client = PipeClient::open(&conn, NAME, GENERIC_READ_WRITE).unwrap();
    client.set_read_mode(PipeMode::Message).unwrap();
    child.expect_line("WROTE");
    child.kill();
    assert_eq!(client.read_message().unwrap(), ELEVEN);
    assert_eq!(client.read_message().unwrap(), TEN);
    assert_eq!(code(client.read_message()), Win32Error::ERROR_BROKEN_PIPE);
}

#[test]
fn client_killed_gives_the_server_a_broken_pipe_and_the_instance_serves_again() {
    if role::current().is_some() {
        let conn = Connection::connect().unwrap();
        let client = PipeClient::open_wait(&conn, NAME, GENERIC_READ_WRITE, Duration::from_secs(30)).unwrap();
        client.write(b"partial").unwrap();
        role::report("WROTE");
        std::thread::sleep(Duration::from_secs(60));
        return;
    }
    let broker = TestBroker::start();
    let conn = broker.connect();
    let server = ServerOptions::new().max_instances(1).create(&conn, NAME).unwrap();
    let mut child = Role::new("client_killed_gives_the_server_a_broken_pipe_and_the_instance_serves_again", "client")
        .env(broker.env())
        .spawn();
    server.connect(Some(Duration::from_secs(30))).unwrap();
    child.expect_line("WROTE");
    child.kill();
    let mut buf = [0u8; 32];
    assert_eq!(server.read(&mut buf).unwrap().len, 7);
    assert_eq!(code(server.read(&mut buf)), Win32Error::ERROR_BROKEN_PIPE);
    server.disconnect().unwrap();
    let again = std::thread::spawn({
        let conn = conn.clone();
        move || {
            PipeClient::open_wait(&conn, NAME, GENERIC_READ_WRITE, Duration::from_secs(20)).map(|c| c.write(b"again"))
        }
    });
    server.connect(Some(Duration::from_secs(20))).unwrap();
    again.join().unwrap().unwrap().unwrap();
    assert_eq!(server.read(&mut buf).unwrap().len, 5);
}

#[test]
fn another_user_is_refused_unless_the_pipe_dacl_lets_it_in() {
    if role::current().is_some() {
        let conn = Connection::connect().unwrap();
        for name in [r"\\.\pipe\private", r"\\.\pipe\shared"] {
            match PipeClient::open(&conn, name, GENERIC_READ_WRITE) {
                Ok(_) => role::report(&format!("{name} opened")),
                Err(e) => role::report(&format!("{name} {:?}", e.win32_error())),
            }
        }
        return;
    }
    if !is_root() {
        eprintln!("skipped: running a child under another uid needs root");
        return;
    }
    let broker = TestBroker::start();
    broker.open_to_all_users();
    let conn = broker.connect();
    let _private = ServerOptions::new().create(&conn, r"\\.\pipe\private").unwrap();
    let _shared =
        ServerOptions::new().security("D:(A;;GA;;;OW)(A;;GRGW;;;WD)").create(&conn, r"\\.\pipe\shared").unwrap();
    let mut child = Role::new("another_user_is_refused_unless_the_pipe_dacl_lets_it_in", "outsider")
        .env(broker.env())
        .user(65_534, 65_534)
        .spawn();
    assert_eq!(child.expect_line(r"\\.\pipe\private"), "ERROR_ACCESS_DENIED");
    assert_eq!(child.expect_line(r"\\.\pipe\shared"), "opened");
    child.wait_success();
}

#[test]
fn pipes_are_listed_with_their_instance_counts() {
    let broker = TestBroker::start();
    let conn = broker.connect();
    let a = ServerOptions::new().max_instances(4).create(&conn, NAME).unwrap();
    let b = ServerOptions::new().max_instances(4).create(&conn, NAME).unwrap();
    let c = PipeClient::open(&conn, NAME, GENERIC_READ_WRITE).unwrap();
    let listing = pipe::list(&conn).unwrap();
    assert_eq!(listing.len(), 1);
    assert_eq!(
        (listing[0].name.as_str(), listing[0].instances, listing[0].max_instances, listing[0].connected),
        (r"test\pipe", 2, 4, 1)
    );
    drop((a, b, c));
    assert!(pipe::list(&conn).unwrap().is_empty(), "the pipe goes with its last instance");
}

#[test]
fn anonymous_pipe_keeps_data_written_before_the_write_end_closed_then_breaks() {
    let broker = TestBroker::start();
    let conn = broker.connect();
    let (reader, writer) = pipe::anonymous(&conn, 0).unwrap();
    let info = reader.as_server().info().unwrap();
    assert!(info.server_end, "the read end is the server end");
    assert_eq!((info.in_buffer, info.out_buffer), (4096, 4096));
    let data: Vec<u8> = (0..32 * 1024u32).map(|i| i as u8).collect();
    writer.write(&data).unwrap();
    drop(writer);
    let mut buf = vec![0u8; 64 * 1024];
    assert_eq!(reader.as_server().read(&mut buf).unwrap().len, 32 * 1024, "32 KiB in one read");
    assert_eq!(&buf[..32 * 1024], &data[..]);
    assert_eq!(code(reader.as_server().read(&mut buf)), Win32Error::ERROR_BROKEN_PIPE);
    let (small, _w) = pipe::anonymous(&conn, 1).unwrap();
    let info = small.as_server().info().unwrap();
    assert_eq!((info.in_buffer, info.out_buffer), (1, 1));
}

#[test]
fn child_with_redirected_standard_streams() {
    use std::io::Read;
    let broker = TestBroker::start();
    let conn = broker.connect();
    let mut cmd = std::process::Command::new("sh");
    cmd.args(["-c", "tr a-z A-Z; echo done >&2"]);
    let mut child = pipe::spawn_redirected(&conn, cmd).unwrap();
    let stdin = child.stdin.take().unwrap();
    stdin.write(b"hello from the parent\n").unwrap();
    drop(stdin); // end of file for the child
    let mut out = String::new();
    child.stdout.read_to_string(&mut out).unwrap();
    let mut err = String::new();
    child.stderr.read_to_string(&mut err).unwrap();
    assert_eq!(out, "HELLO FROM THE PARENT\n");
    assert_eq!(err, "done\n");
    assert!(child.child.wait().unwrap().success());
    drop((child.stdout, child.stderr));
    assert!(pipe::list(&conn).unwrap().is_empty(), "the anonymous pipes went with their ends");
}

#[test]
fn flush_waits_until_the_reader_has_read_everything() {
    let broker = TestBroker::start();
    let conn = broker.connect();
    let (server, client) = connected_pair(&conn, &ServerOptions::new());
    server.write(&[5u8; 1000]).unwrap();
    let err = server.flush_buffers(Some(Duration::from_millis(50))).unwrap_err();
    assert_eq!(err.win32_error(), Win32Error::ERROR_SEM_TIMEOUT, "nobody has read yet");
    let mut buf = [0u8; 1000];
    let mut got = 0;
    while got < 1000 {
        got += client.read(&mut buf[got..]).unwrap().len;
    }
    server.flush_buffers(Some(Duration::from_secs(10))).unwrap();
}

#[test]
fn flush_fails_with_broken_pipe_when_the_reader_goes_away() {
    let broker = TestBroker::start();
    let conn = broker.connect();
    let (server, client) = connected_pair(&conn, &ServerOptions::new());
    server.write(b"never read").unwrap();
    drop(client);
    assert_eq!(code(server.flush_buffers(Some(Duration::from_secs(10)))), Win32Error::ERROR_BROKEN_PIPE);
}

#[test]
fn cancel_io_ends_a_waiting_connect_with_operation_aborted() {
    let broker = TestBroker::start();
    let conn = broker.connect();
    let server = std::sync::Arc::new(ServerOptions::new().create(&conn, NAME).unwrap());
    let waiting = std::thread::spawn({
        let server = std::sync::Arc::clone(&server);
        move || server.connect(None)
    });
    // The connect is parked once the broker sees it; cancel until it was there to cancel.
    assert!(eventually(Duration::from_secs(20), || server.cancel_connect().unwrap()));
    assert_eq!(code(waiting.join().unwrap()), Win32Error::ERROR_OPERATION_ABORTED);
}

#[test]
fn impersonation_needs_something_read_first() {
    let broker = TestBroker::start();
    let conn = broker.connect();
    let (server, client) = connected_pair(&conn, &ServerOptions::new());
    assert_eq!(code(server.impersonate_client()), Win32Error::ERROR_CANNOT_IMPERSONATE);
    assert_eq!(server.client().unwrap().pid, std::process::id(), "the process id is known at once");
    client.write(b"x").unwrap();
    let mut buf = [0u8; 1];
    server.read(&mut buf).unwrap();
    let who = server.impersonate_client().unwrap();
    assert_eq!((who.pid, who.uid), (std::process::id(), switchboard_sys::current_uid()));
}

#[test]
fn call_named_pipe_to_a_server_that_never_answers_times_out() {
    let broker = TestBroker::start();
    let conn = broker.connect();
    let server = message_server(&conn);
    let mut out = [0u8; 8];
    let err = pipe::call_named_pipe(&conn, NAME, b"anyone?", &mut out, Duration::from_millis(100)).unwrap_err();
    assert_eq!(err.win32_error(), Win32Error::ERROR_SEM_TIMEOUT);
    drop(server);
}

#[test]
fn handle_state_of_a_fresh_byte_server_is_zero_with_one_instance() {
    let broker = TestBroker::start();
    let conn = broker.connect();
    let server = ServerOptions::new().create(&conn, NAME).unwrap();
    let state = server.handle_state().unwrap();
    assert_eq!((state.flags(), state.instances), (0, 1));
    let message =
        ServerOptions::new().pipe_mode(PipeMode::Message).nowait(true).create(&conn, r"\\.\pipe\other").unwrap();
    assert_eq!(message.handle_state().unwrap().flags(), 3, "PIPE_NOWAIT | PIPE_READMODE_MESSAGE");
}
