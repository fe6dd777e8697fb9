//! The `switchboard` command as a user runs it: separate processes, a real
//! broker, exit codes and output.

mod common;
use common::*;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use switchboard_testkit::{TestBroker, eventually};

/// `event create NAME --hold`, returned once it says it holds the event.
fn hold(broker: &TestBroker, name: &str) -> Child {
    let mut child =
        cli(broker, &["event", "create", name, "--hold"]).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap()).read_line(&mut line).unwrap();
    assert!(line.starts_with("holding"), "{line}");
    child
}

#[test]
fn waiter_returns_when_another_shell_sets_the_event_and_the_name_goes_with_its_holders() {
    let broker = TestBroker::start();
    let conn = broker.connect();
    let mut holder = hold(&broker, "E");
    let waiter = cli(&broker, &["event", "wait", "E", "--timeout", "20s"]).stdout(Stdio::piped()).spawn().unwrap();
    assert!(eventually(Duration::from_secs(20), || conn.show("E").is_ok_and(|i| i.waiters == 1)));

    let handles = stdout(&run(&broker, &["handles"]));
    for pid in [holder.id(), waiter.id()] {
        assert!(
            handles.lines().any(|l| l.split_whitespace().next() == Some(&pid.to_string())),
            "pid {pid} missing from:\n{handles}"
        );
    }
    let set = run(&broker, &["event", "set", "E"]);
    assert!(set.status.success(), "{set:?}");
    let wait_output = waiter.wait_with_output().unwrap();
    assert_eq!(wait_output.status.code(), Some(0), "{wait_output:?}");

    drop(holder.stdin.take()); // end of stdin releases the hold
    assert!(holder.wait().unwrap().success());
    assert!(eventually(Duration::from_secs(10), || !stdout(&run(&broker, &["ls"]))
        .lines()
        .any(|l| l.starts_with("E "))));
    assert_eq!(run(&broker, &["show", "E"]).status.code(), Some(4));
}

#[test]
fn ls_without_a_path_lists_this_users_session_directory_where_show_finds_the_name() {
    let broker = TestBroker::start();
    let mut holder = hold(&broker, "E");
    let session = format!("\\Sessions\\{}\\BaseNamedObjects", switchboard_sys::current_uid());
    let listed = run(&broker, &["--json", "ls"]);
    assert!(listed.status.success(), "{listed:?}");
    let json: serde_json::Value = serde_json::from_str(&stdout(&listed)).unwrap();
    assert_eq!(json["path"], session.as_str());
    assert!(stdout(&run(&broker, &["ls"])).lines().any(|l| l.starts_with("E ")));
    let shown = stdout(&run(&broker, &["show", "Local\\E"]));
    assert!(shown.contains(&format!("{session}\\E")), "{shown}");
    drop(holder.stdin.take());
    assert!(holder.wait().unwrap().success());
}

#[test]
fn exit_codes_follow_the_design() {
    let broker = TestBroker::start();
    let mut holder = hold(&broker, "X");
    assert_eq!(run(&broker, &["show", "Nothing"]).status.code(), Some(4), "not found");
    assert_eq!(run(&broker, &["event", "wait", "X", "--timeout", "50ms"]).status.code(), Some(6), "timed out");
    assert_eq!(run(&broker, &["event", "wait", "X", "--timeout", "5 parsecs"]).status.code(), Some(2), "usage");
    assert_eq!(run(&broker, &["show", "Bogus\\X"]).status.code(), Some(4), "path not found");
    let dir = tempfile::tempdir().unwrap();
    let nowhere = dir.path().join("none.sock");
    let status = Command::new(CLI)
        .args(["status", "--socket"])
        .arg(&nowhere)
        .env("SWITCHBOARD_NO_AUTOSTART", "1")
        .output()
        .unwrap();
    assert_eq!(status.status.code(), Some(3), "unreachable");
    drop(holder.stdin.take());
    holder.wait().unwrap();
}

#[test]
fn access_is_denied_with_exit_5_and_explained() {
    let broker = TestBroker::start();
    let conn = broker.connect();
    let _locked = switchboard::EventOptions::new().security("D:(A;;GX;;;OW)").create(&conn, "locked").unwrap();
    assert_eq!(run(&broker, &["event", "set", "locked"]).status.code(), Some(5));
    let explained = stdout(&run(&broker, &["access", "locked", "--user", "0"]));
    assert!(explained.contains("(A;;GX;;;OW)"), "{explained}");
}

#[test]
fn json_output_is_one_json_value() {
    let broker = TestBroker::start();
    let added = run(&broker, &["--json", "atom", "add", "json.atom"]);
    assert!(added.status.success());
    let status = run(&broker, &["--json", "status"]);
    let text = stdout(&status);
    assert!(text.trim_start().starts_with('{') && text.trim_end().ends_with('}'), "{text}");
    assert!(text.contains("\"atoms\": 1") || text.contains("\"atoms\":1"), "{text}");
    let missing = run(&broker, &["--json", "show", "nothing"]);
    assert_eq!(missing.status.code(), Some(4));
    assert!(stdout(&missing).contains("ERROR_FILE_NOT_FOUND"), "{}", stdout(&missing));
}

#[test]
fn atoms_added_by_one_command_are_found_by_the_next() {
    let broker = TestBroker::start();
    let added = stdout(&run(&broker, &["atom", "add", "Shared.Name"]));
    let found = stdout(&run(&broker, &["atom", "find", "SHARED.NAME"]));
    assert!(added.contains("0xC0"), "{added}");
    assert_eq!(
        added.split_whitespace().find(|w| w.starts_with("0x")),
        found.split_whitespace().find(|w| w.starts_with("0x"))
    );
}

#[test]
fn another_user_is_refused_show_and_access_with_exit_5_and_sees_names_only() {
    use std::os::unix::process::CommandExt;
    if !switchboard_testkit::is_root() {
        eprintln!("skipped: running the command under another uid needs root");
        return;
    }
    let broker = TestBroker::start();
    broker.open_to_all_users();
    let conn = broker.connect();
    let _private = switchboard::EventOptions::new().create(&conn, "Global\\private").unwrap();
    let as_nobody = |args: &[&str]| cli(&broker, args).uid(65_534).gid(65_534).output().unwrap();
    let show = as_nobody(&["show", "Global\\private"]);
    assert_eq!(show.status.code(), Some(5), "{show:?}");
    assert!(stderr(&show).contains("READ_CONTROL"), "{}", stderr(&show));
    assert_eq!(as_nobody(&["access", "Global\\private", "--user", "65534"]).status.code(), Some(5));
    let listed = stdout(&as_nobody(&["ls", "\\BaseNamedObjects"]));
    let row = listed.lines().find(|l| l.starts_with("private ")).unwrap_or_default();
    assert_eq!(row.split_whitespace().collect::<Vec<_>>(), ["private", "Event", "-"], "{listed}");
    let handles = stdout(&as_nobody(&["handles"]));
    assert!(!handles.contains("private"), "{handles}");
}
