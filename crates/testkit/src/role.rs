//! Child-process roles: a test re-runs its own binary, filtered to itself,
//! with `SWITCHBOARD_TEST_ROLE` set; the test function starts by asking
//! [`current`] and, in a child, plays the role and returns.
//!
//! ```ignore
//! #[test]
//! fn event_crosses_processes() {
//!     if let Some(role) = role::current() {
//!         // child side
//!         role::report("READY");
//!         return;
//!     }
//!     let broker = TestBroker::start();
//!     let mut child = role::Role::new("event_crosses_processes", "waiter").env(broker.env()).spawn();
//!     child.expect_line("READY");
//! }
//! ```

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::Duration;

const ROLE_VAR: &str = "SWITCHBOARD_TEST_ROLE";
/// How long a child may take to say what a test expects of it.
pub const LINE_TIMEOUT: Duration = Duration::from_secs(120);

/// The role this process plays, when it is a child.
pub fn current() -> Option<String> {
    std::env::var(ROLE_VAR).ok().filter(|r| !r.is_empty())
}

/// Reports a line to the parent (stdout, flushed).
pub fn report(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// A child to start.
#[derive(Debug)]
pub struct Role {
    test: String,
    name: String,
    env: Vec<(OsString, OsString)>,
    uid: Option<(u32, u32)>,
}

impl Role {
    /// Plays `role` in the test named `test` (the test function's name).
    pub fn new(test: &str, role: &str) -> Self {
        Self { test: test.to_owned(), name: role.to_owned(), env: Vec::new(), uid: None }
    }

    /// Adds environment variables (such as [`crate::TestBroker::env`]).
    #[must_use]
    pub fn env(mut self, vars: Vec<(OsString, OsString)>) -> Self {
        self.env.extend(vars);
        self
    }

    /// Adds one environment variable.
    #[must_use]
    pub fn var(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Runs the child as this user and group (the parent must be root).
    #[must_use]
    pub fn user(mut self, uid: u32, gid: u32) -> Self {
        self.uid = Some((uid, gid));
        self
    }

    /// Starts the child.
    ///
    /// # Panics
    ///
    /// If the test binary cannot be started.
    pub fn spawn(self) -> RoleChild {
        let exe = std::env::current_exe().expect("the test binary's path");
        // Another user may not be able to reach the binary where cargo built it
        // (a clone under /root, say); give it a copy it can execute.
        let copy = match self.uid {
            Some(_) if !executable_by_others(&exe) => Some(world_readable_copy(&exe)),
            _ => None,
        };
        let mut cmd = Command::new(copy.as_ref().map_or(exe.clone(), |(_, path)| path.clone()));
        cmd.args([self.test.as_str(), "--exact", "--nocapture", "--test-threads=1", "-q"])
            .env(ROLE_VAR, &self.name)
            .envs(self.env)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if let Some((uid, gid)) = self.uid {
            // std drops root's supplementary groups when it changes the uid.
            cmd.uid(uid).gid(gid);
        }
        let mut child = cmd.spawn().expect("start a child role");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        RoleChild { child, lines, role: self.name, _copy: copy.map(|(dir, _)| dir) }
    }
}

/// Whether every directory above `path` lets others in and the file lets them run it.
fn executable_by_others(path: &Path) -> bool {
    let others_may = |p: &Path, bits: u32| std::fs::metadata(p).is_ok_and(|m| m.permissions().mode() & bits == bits);
    others_may(path, 0o005) && path.ancestors().skip(1).all(|dir| others_may(dir, 0o001))
}

fn world_readable_copy(exe: &Path) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::Builder::new().prefix("switchboard-role-").tempdir().expect("temporary directory");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod copy directory");
    let path = dir.path().join(exe.file_name().unwrap_or_else(|| "test-binary".as_ref()));
    std::fs::copy(exe, &path).expect("copy the test binary");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod copy");
    (dir, path)
}

/// A running child role.
#[derive(Debug)]
pub struct RoleChild {
    child: Child,
    lines: Receiver<String>,
    role: String,
    _copy: Option<tempfile::TempDir>,
}

impl RoleChild {
    /// The child's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Reads the child's reports until one starts with `prefix`; returns the
    /// rest of that line, trimmed.
    ///
    /// # Panics
    ///
    /// If the child ends or stays silent for [`LINE_TIMEOUT`] first.
    pub fn expect_line(&mut self, prefix: &str) -> String {
        loop {
            match self.lines.recv_timeout(LINE_TIMEOUT) {
                Ok(line) => {
                    if let Some(rest) = line.strip_prefix(prefix) {
                        return rest.trim().to_owned();
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    panic!("role {:?} did not report {prefix:?} within {LINE_TIMEOUT:?}", self.role)
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let status = self.child.wait();
                    panic!("role {:?} ended ({status:?}) before reporting {prefix:?}", self.role)
                }
            }
        }
    }

    /// Kills the child with `SIGKILL` and reaps it.
    ///
    /// # Panics
    ///
    /// If it cannot be killed or reaped.
    pub fn kill(mut self) -> ExitStatus {
        self.child.kill().expect("kill the child");
        self.child.wait().expect("reap the child")
    }

    /// Waits for the child to end and asserts that it succeeded.
    ///
    /// # Panics
    ///
    /// If it failed.
    pub fn wait_success(mut self) {
        let status = self.child.wait().expect("reap the child");
        assert!(status.success(), "role {:?} failed: {status}", self.role);
    }
}
