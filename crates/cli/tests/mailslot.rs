//! `switchboard mailslot …` as a user runs it: a reading process, writer
//! processes, a real broker.

mod common;
use common::*;

use std::io::{BufRead, BufReader, Write};
use std::process::{Output, Stdio};
use std::time::Duration;

use switchboard::mailslot;
use switchboard_testkit::{TestBroker, eventually};

/// Waits until the broker lists the mailslot `name`; returns its reader's pid.
fn wait_listed(broker: &TestBroker, server: &mut Proc, name: &str) -> u32 {
    let conn = broker.connect();
    let mut reader_pid = None;
    let listed = eventually(Duration::from_secs(20), || {
        if let Some(status) = server.child().try_wait().unwrap() {
            panic!("mailslot serve {name} exited early: {status}");
        }
        reader_pid = mailslot::list(&conn).unwrap().into_iter().find(|m| m.name == name).and_then(|m| m.reader_pid);
        reader_pid.is_some()
    });
    assert!(listed, "mailslot serve {name} never created its mailslot");
    reader_pid.unwrap()
}

/// `mailslot serve NAME ARGS…` (stdout piped), returned once the mailslot exists.
fn serve(broker: &TestBroker, name: &str, args: &[&str]) -> Proc {
    let mut all = vec!["mailslot", "serve", name];
    all.extend_from_slice(args);
    let child = cli(broker, &all).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("start mailslot serve");
    let mut server = Proc::from_command_child(child);
    wait_listed(broker, &mut server, name);
    server
}

fn send(broker: &TestBroker, name: &str, data: &str) -> Output {
    let sent = run(broker, &["mailslot", "send", name, data]);
    assert_eq!(sent.status.code(), Some(0), "{sent:?}");
    sent
}

#[test]
fn serve_prints_the_messages_of_separate_writers_in_order() {
    let broker = TestBroker::start();
    let server = serve(&broker, "news", &["--count", "2"]);
    let sent = send(&broker, "news", "hello");
    assert_eq!(stdout(&sent), "sent 1 message (5 bytes) to \\\\.\\mailslot\\news\n");
    send(&broker, r"\\.\mailslot\news", "world");

    let out = server.output();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(stdout(&out), "hello\nworld\n");
    assert_eq!(stderr(&out), "reading \\\\.\\mailslot\\news (max message size any)\n");
}

#[test]
fn json_serve_prints_one_object_per_message() {
    let broker = TestBroker::start();
    let server = serve(&broker, "news", &["--json", "--count", "3", "--max-size", "100"]);
    send(&broker, "news", "hello");
    send(&broker, "news", "");
    send(&broker, "news", "héllo");

    let out = server.output();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let text = stdout(&out);
    let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(
        lines,
        [
            serde_json::json!({"size": 5, "text": "hello"}),
            serde_json::json!({"size": 0, "text": ""}),
            serde_json::json!({"size": 6, "text": "héllo"}),
        ],
        "{text}"
    );
    assert_eq!(text.lines().next(), Some(r#"{"size":5,"text":"hello"}"#));
}

#[test]
fn send_reads_one_message_per_line_of_stdin() {
    let broker = TestBroker::start();
    let server = serve(&broker, "news", &["--count", "3"]);
    let mut writer = cli(&broker, &["mailslot", "send", "news", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writer.stdin.take().unwrap().write_all(b"one\n\nthree").unwrap();
    let sent = writer.wait_with_output().unwrap();
    assert_eq!(sent.status.code(), Some(0), "{sent:?}");
    assert_eq!(stdout(&sent), "sent 3 messages (8 bytes) to \\\\.\\mailslot\\news\n");

    let out = server.output();
    assert_eq!(stdout(&out), "one\n\nthree\n", "{out:?}");
}

#[test]
fn send_fails_for_missing_and_remote_mailslots() {
    let broker = TestBroker::start();
    let missing = run(&broker, &["mailslot", "send", "nothing", "x"]);
    assert_eq!(missing.status.code(), Some(4), "{missing:?}");
    assert!(stderr(&missing).contains("ERROR_FILE_NOT_FOUND"), "{}", stderr(&missing));

    let broadcast = run(&broker, &["mailslot", "send", r"\\*\mailslot\x", "x"]);
    assert_eq!(broadcast.status.code(), Some(1), "{broadcast:?}");
    assert!(stderr(&broadcast).contains("network"), "{}", stderr(&broadcast));
    assert!(stderr(&broadcast).contains("ERROR_NOT_SUPPORTED"), "{}", stderr(&broadcast));
}

#[test]
fn ls_and_info_show_the_reader_pid() {
    let broker = TestBroker::start();
    let mut server = serve(&broker, "news", &["--max-size", "512"]);
    let pid = server.child().id();
    assert_eq!(wait_listed(&broker, &mut server, "news"), pid);

    let listed = run(&broker, &["mailslot", "ls"]);
    assert_eq!(listed.status.code(), Some(0), "{listed:?}");
    let text = stdout(&listed);
    assert_eq!(
        text.lines().next().map(str::split_whitespace).map(Iterator::collect::<Vec<_>>),
        Some(vec!["NAME", "MAX", "WRITERS", "READER-PID"]),
        "{text}"
    );
    let row: Vec<&str> =
        text.lines().find(|l| l.starts_with("news ")).map(|l| l.split_whitespace().collect()).unwrap_or_default();
    assert_eq!(row, ["news", "512", "0", &pid.to_string()], "{text}");

    let json = stdout(&run(&broker, &["--json", "mailslot", "ls"]));
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(value[0]["name"], "news", "{json}");
    assert_eq!(value[0]["max_message_size"], 512, "{json}");
    assert_eq!(value[0]["reader_pid"], pid, "{json}");

    // Info finds it by any case of its name.
    let info = run(&broker, &["mailslot", "info", "NEWS"]);
    assert_eq!(info.status.code(), Some(0), "{info:?}");
    let text = stdout(&info);
    assert!(text.contains("max message size  512 bytes"), "{text}");
    assert!(text.contains(&format!("reader pid        {pid}")), "{text}");
    let json = stdout(&run(&broker, &["--json", "mailslot", "info", "news"]));
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(value["reader_pid"], pid, "{json}");
    assert_eq!(value["writers"], 0, "{json}");

    assert_eq!(run(&broker, &["mailslot", "info", "nothing"]).status.code(), Some(4));
}

#[test]
fn ls_never_starts_a_broker() {
    exits_3_without_starting_a_broker(&["mailslot", "ls"]);
}

#[test]
fn hold_shows_the_count_while_nobody_reads() {
    let broker = TestBroker::start();
    let child = cli(&broker, &["mailslot", "serve", "news", "--hold"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut server = Proc::from_command_child(child);
    let mut stderr = BufReader::new(server.child().stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    assert!(line.starts_with("holding \\\\.\\mailslot\\news (max message size any) without reading"), "{line}");
    let mut stdin = server.child().stdin.take().unwrap();

    let mut ask = || {
        stdin.write_all(b"\n").unwrap();
        stdin.flush().unwrap();
        line.clear();
        stderr.read_line(&mut line).unwrap();
        line.clone()
    };
    assert_eq!(ask(), "no messages waiting\n");
    send(&broker, "news", "hello");
    send(&broker, "news", "big world");
    assert_eq!(ask(), "2 messages waiting, next 5 bytes\n");

    drop(stdin);
    let out = server.output();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
}

#[test]
fn info_from_another_shell_shows_the_count_while_the_reader_is_not_reading() {
    let broker = TestBroker::start();
    let mut holder = cli(&broker, &["mailslot", "serve", "news", "--hold"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let conn = broker.connect();
    assert!(eventually(Duration::from_secs(20), || mailslot::list(&conn).unwrap().iter().any(|m| m.name == "news")));
    send(&broker, "news", "hello");
    send(&broker, "news", "hi");
    let info = run(&broker, &["mailslot", "info", "news"]);
    let text = stdout(&info);
    assert!(text.contains("messages waiting  2"), "{text}");
    assert!(text.contains("next message      5 bytes"), "{text}");
    let json: serde_json::Value =
        serde_json::from_str(&stdout(&run(&broker, &["--json", "mailslot", "info", "news"]))).unwrap();
    assert_eq!((json["count"].as_u64(), json["next_size"].as_u64()), (Some(2), Some(5)));
    drop(holder.stdin.take());
    assert!(holder.wait().unwrap().success());
}
