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

/// A `switchboard` process of a test, killed (if still running) when dropped.
pub struct Proc(Option<std::process::Child>);

impl Proc {
    /// Starts `switchboard ARGS` with stdin, stdout and stderr piped.
    pub fn spawn(broker: &TestBroker, args: &[&str]) -> Self {
        let child = cli(broker, args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn();
        Self(Some(child.expect("start switchboard")))
    }

    /// Takes charge of a child the caller started.
    pub fn from_command_child(child: std::process::Child) -> Self {
        Self(Some(child))
    }

    /// Starts a process from a command the caller set up.
    pub fn from_command(cmd: &mut Command) -> Self {
        Self(Some(cmd.spawn().expect("start switchboard")))
    }

    /// Starts `switchboard ARGS` (typically `… --hold`, stdin kept open) and
    /// returns once its first line of output starts with `expect`, with that line.
    pub fn start(broker: &TestBroker, args: &[&str], expect: &str) -> (Self, String) {
        use std::io::BufRead;
        let mut proc = Self::spawn(broker, args);
        let mut line = String::new();
        std::io::BufReader::new(proc.child().stdout.as_mut().expect("piped stdout")).read_line(&mut line).unwrap();
        assert!(line.starts_with(expect), "{args:?} said {line:?}");
        (proc, line)
    }

    pub fn child(&mut self) -> &mut std::process::Child {
        self.0.as_mut().expect("the process is still ours")
    }

    /// Waits for it to exit and returns what it printed.
    pub fn output(mut self) -> Output {
        self.0.take().expect("the process is still ours").wait_with_output().expect("wait for switchboard")
    }

    /// Ends its stdin (releasing what it holds) and waits for it to exit.
    pub fn release(mut self) -> Output {
        drop(self.child().stdin.take());
        self.output()
    }

    /// SIGKILL: it gets no chance to release anything.
    pub fn kill(mut self) {
        let mut child = self.0.take().expect("the process is still ours");
        child.kill().unwrap();
        child.wait().unwrap();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Some(child) = self.0.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Asserts that a command exited 0.
pub fn ok(o: &Output) {
    assert_eq!(o.status.code(), Some(0), "{o:?}");
}
