//! `switchboard pipe …` as a user runs it: a serving process, client
//! processes, a real broker.

mod common;
use common::*;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Duration;

use switchboard::pipe::{self, WaitTimeout};
use switchboard_testkit::{TestBroker, eventually};

/// Spawns `pipe serve NAME ARGS…` (stderr as given) without waiting for it.
fn spawn_server(broker: &TestBroker, name: &str, args: &[&str], stderr: Stdio) -> Proc {
    let mut all = vec!["pipe", "serve", name];
    all.extend_from_slice(args);
    Proc::from_command(cli(broker, &all).stdout(Stdio::null()).stderr(stderr))
}

/// Waits until the pipe has an instance free for a client.
fn wait_listening(broker: &TestBroker, server: &mut Proc, name: &str) {
    let conn = broker.connect();
    let full = format!(r"\\.\pipe\{name}");
    let listening = eventually(Duration::from_secs(20), || {
        if let Some(status) = server.child().try_wait().unwrap() {
            panic!("pipe serve {name} exited early: {status}");
        }
        pipe::wait_named_pipe(&conn, &full, WaitTimeout::Exactly(Duration::ZERO)).is_ok()
    });
    assert!(listening, "pipe serve {name} never listened");
}

/// `pipe serve NAME ARGS…`, returned once it listens.
fn serve(broker: &TestBroker, name: &str, args: &[&str]) -> Proc {
    let mut server = spawn_server(broker, name, args, Stdio::null());
    wait_listening(broker, &mut server, name);
    server
}

#[test]
fn echo_hi_comes_back_from_a_message_echo_server() {
    let broker = TestBroker::start();
    let _server = serve(&broker, "demo", &["--echo", "--message"]);
    let out = run_with_input(&broker, &["pipe", "connect", "demo"], b"hi\n");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(stdout(&out), "hi\n");

    // One message per line, replies read as messages; a full name works too.
    let out = run_with_input(&broker, &["pipe", "connect", r"\\.\pipe\demo", "--message"], b"a\nbb\nccc");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(stdout(&out), "a\nbb\nccc");
}

#[test]
fn echo_hi_comes_back_from_a_byte_echo_server() {
    let broker = TestBroker::start();
    let _server = serve(&broker, "demo", &["--echo"]);
    let out = run_with_input(&broker, &["pipe", "connect", "demo"], b"hi\n");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(stdout(&out), "hi\n");

    // The instance went back to listening: a second client is served too.
    let out = run_with_input(&broker, &["pipe", "connect", "demo"], b"again\n");
    assert_eq!(stdout(&out), "again\n", "{out:?}");
}

#[test]
fn ls_shows_the_instances_and_the_maximum() {
    let broker = TestBroker::start();
    let mut server = spawn_server(&broker, "demo", &["--echo", "--instances", "3"], Stdio::piped());
    let mut ready = String::new();
    BufReader::new(server.child().stderr.as_mut().unwrap()).read_line(&mut ready).unwrap();
    assert_eq!(ready, "serving \\\\.\\pipe\\demo (3 instances, byte)\n");
    wait_listening(&broker, &mut server, "demo");

    let listed = run(&broker, &["pipe", "ls"]);
    assert_eq!(listed.status.code(), Some(0), "{listed:?}");
    let text = stdout(&listed);
    assert_eq!(
        text.lines().next().map(str::split_whitespace).map(Iterator::collect::<Vec<_>>),
        Some(vec!["NAME", "INSTANCES", "MAX", "CONNECTED"]),
        "{text}"
    );
    let row: Vec<&str> =
        text.lines().find(|l| l.starts_with("demo ")).map(|l| l.split_whitespace().collect()).unwrap_or_default();
    assert_eq!(row, ["demo", "3", "3", "0"], "{text}");

    let json = stdout(&run(&broker, &["--json", "pipe", "ls"]));
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(value[0]["name"], "demo", "{json}");
    assert_eq!(value[0]["instances"], 3, "{json}");
    assert_eq!(value[0]["max_instances"], 3, "{json}");
}

#[test]
fn ls_never_starts_a_broker() {
    exits_3_without_starting_a_broker(&["pipe", "ls"]);
}

#[test]
fn call_prints_the_reply_of_a_message_server_and_fails_on_a_byte_pipe() {
    let broker = TestBroker::start();
    let _messages = serve(&broker, "demo", &["--echo", "--message"]);
    let _bytes = serve(&broker, "bytes", &["--echo"]);

    let called = run(&broker, &["pipe", "call", "demo", "hello there"]);
    assert_eq!(called.status.code(), Some(0), "{called:?}");
    assert_eq!(stdout(&called), "hello there");

    let refused = run(&broker, &["pipe", "call", "bytes", "hello"]);
    assert_eq!(refused.status.code(), Some(1), "{refused:?}");
    assert!(stderr(&refused).contains("ERROR_BAD_PIPE"), "{}", stderr(&refused));
}

#[test]
fn exec_in_message_mode_runs_the_command_once_per_message() {
    let broker = TestBroker::start();
    let _server = serve(&broker, "upper", &["--message", "--exec", "tr a-z A-Z"]);
    let called = run(&broker, &["pipe", "call", "upper", "shout"]);
    assert_eq!(called.status.code(), Some(0), "{called:?}");
    assert_eq!(stdout(&called), "SHOUT");
    let again = run(&broker, &["pipe", "call", "upper", "twice"]);
    assert_eq!(stdout(&again), "TWICE", "{again:?}");
}

#[test]
fn once_serves_one_client_and_exits() {
    let broker = TestBroker::start();
    let mut server = serve(&broker, "one", &["--echo", "--once"]);
    let out = run_with_input(&broker, &["pipe", "connect", "one"], b"bye\n");
    assert_eq!(stdout(&out), "bye\n", "{out:?}");
    let mut status = None;
    assert!(eventually(Duration::from_secs(20), || {
        status = server.child().try_wait().unwrap();
        status.is_some()
    }));
    assert_eq!(status.and_then(|s| s.code()), Some(0));
    assert_eq!(run(&broker, &["pipe", "connect", "one"]).status.code(), Some(4), "the pipe went with its server");
}

#[test]
fn missing_pipes_are_not_found() {
    let broker = TestBroker::start();
    let connected = run(&broker, &["pipe", "connect", "nothing"]);
    assert_eq!(connected.status.code(), Some(4), "{connected:?}");
    assert!(stderr(&connected).contains("ERROR_FILE_NOT_FOUND"), "{}", stderr(&connected));
    assert_eq!(run(&broker, &["pipe", "call", "nothing", "x"]).status.code(), Some(4));
}
