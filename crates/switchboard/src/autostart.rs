//! Starting the realm's broker when none answers.
//!
//! The broker is found through `$SWITCHBOARD_BROKER`, then beside the current
//! executable (or one folder up, for test binaries in `target/*/deps`), then
//! on `PATH`. Two clients starting one at once is fine: the broker's lock file
//! lets one win, and both then connect to it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use switchboard_sys::{Realm, RealmKind};

use crate::error::{Error, ErrorKind, Result, Win32Error};

const READY_WITHIN: Duration = Duration::from_secs(10);
/// `switchboardd`'s exit code when another broker holds the realm.
const EXIT_ALREADY_RUNNING: i32 = 10;

fn unreachable(reason: String) -> Error {
    Error::new(
        ErrorKind::BrokerUnreachable,
        Win32Error::ERROR_SERVICE_NOT_ACTIVE,
        "Connect",
        None,
        reason,
    )
}

/// Where `switchboardd` is.
pub fn find_broker() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("SWITCHBOARD_BROKER").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    if let Ok(exe) = std::env::current_exe() {
        for dir in exe.ancestors().skip(1).take(2) {
            let candidate = dir.join("switchboardd");
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|d| d.join("switchboardd"))
            .find(|p| p.is_file())
    })
}

/// Starts a broker for `realm` and returns the first successful `connect()`.
pub fn start_broker<T>(realm: &Realm, mut connect: impl FnMut() -> Result<T>) -> Result<T> {
    let exe = find_broker().ok_or_else(|| {
        unreachable(format!(
            "no broker answers at {} and switchboardd was not found (set SWITCHBOARD_BROKER, or put it on PATH); start one with `switchboardd --foreground`",
            realm.socket.display()
        ))
    })?;
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&realm.log)
        .map_err(|e| {
            unreachable(format!(
                "cannot open the broker log {}: {e}",
                realm.log.display()
            ))
        })?;
    let mut cmd = Command::new(&exe);
    cmd.arg("--detached");
    match realm.kind {
        RealmKind::Custom => {
            cmd.arg("--socket").arg(&realm.socket);
        }
        RealmKind::System => {
            cmd.arg("--system");
        }
        RealmKind::User => {
            cmd.env_remove("SWITCHBOARD_SOCKET");
        }
    }
    cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(log);
    let mut child = cmd
        .spawn()
        .map_err(|e| unreachable(format!("cannot start {}: {e}", exe.display())))?;
    let deadline = Instant::now() + READY_WITHIN;
    let mut exited = None;
    loop {
        match connect() {
            Ok(conn) => {
                // Reap the broker when it ends, so it never lingers as a zombie of ours.
                if exited.is_none() {
                    std::thread::spawn(move || child.wait());
                }
                return Ok(conn);
            }
            Err(e) if e.kind() != ErrorKind::BrokerUnreachable => return Err(e),
            Err(_) if Instant::now() >= deadline => {
                return Err(unreachable(format!(
                    "started {} but it did not become ready within {READY_WITHIN:?}; see {} or run `switchboardd --foreground`",
                    exe.display(),
                    realm.log.display()
                )));
            }
            Err(_) => {}
        }
        if exited.is_none()
            && let Ok(Some(status)) = child.try_wait()
        {
            if status.code() != Some(EXIT_ALREADY_RUNNING) {
                return Err(unreachable(format!(
                    "{} exited at start ({status}): {}; run `switchboardd --foreground` to see why",
                    exe.display(),
                    log_tail(&realm.log)
                )));
            }
            exited = Some(status);
        }
        // Readiness is the socket answering; poll it briefly rather than block.
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("no log output")
        .trim()
        .to_owned()
}
