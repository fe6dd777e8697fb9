//! Helpers shared by the CLI's end-to-end tests: running `switchboard` as a
//! user would, against a test broker.
#![allow(dead_code)] // each test file uses its own subset

use std::io::Write;
use std::process::{Command, Output, Stdio};

use switchboard_testkit::TestBroker;

pub const CLI: &str = env!("CARGO_BIN_EXE_switchboard");

/// `switchboard ARGS` aimed at the test broker, stdin closed.
pub fn cli(broker: &TestBroker, args: &[&str]) -> Command {
    let mut cmd = Command::new(CLI);
    cmd.args(args).envs(broker.env()).stdin(Stdio::null());
    cmd
}

/// Runs `switchboard ARGS` to completion.
pub fn run(broker: &TestBroker, args: &[&str]) -> Output {
    cli(broker, args).output().expect("run switchboard")
}

/// Runs a command with `input` as its stdin, closed after it.
pub fn run_with_input(broker: &TestBroker, args: &[&str], input: &[u8]) -> Output {
    let mut child =
        cli(broker, args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs `switchboard ARGS --socket <nowhere>` with autostart allowed, and
/// checks that it exits 3 without having started a broker there.
pub fn exits_3_without_starting_a_broker(args: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let nowhere = dir.path().join("none.sock");
    let out = Command::new(CLI)
        .args(args)
        .arg("--socket")
        .arg(&nowhere)
        .env_remove("SWITCHBOARD_NO_AUTOSTART")
        .env_remove("SWITCHBOARD_SOCKET")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert!(!nowhere.exists(), "a broker was started at {}", nowhere.display());
}
