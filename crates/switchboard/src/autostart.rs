//! Starting the realm's broker when none answers.
//!
//! The broker is found through `$SWITCHBOARD_BROKER`, then beside the current
//! executable (or one folder up, for test binaries in `target/*/deps`), then
//! on `PATH`. Two clients starting one at once is fine: the broker's lock file
//! lets one win, and both then connect to it.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use switchboard_sys::{Realm, RealmKind};

use crate::error::{Error, ErrorKind, Result, Win32Error};

/// `switchboardd`'s exit code when another broker holds the realm.
const EXIT_ALREADY_RUNNING: i32 = 10;

fn unreachable(reason: String) -> Error {
    Error::new(ErrorKind::BrokerUnreachable, Win32Error::ERROR_SERVICE_NOT_ACTIVE, "Connect", None, reason)
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
    std::env::var_os("PATH")
        .and_then(|path| std::env::split_paths(&path).map(|d| d.join("switchboardd")).find(|p| p.is_file()))
}

/// Starts a broker for `realm` and returns the first successful `connect()`.
///
/// `switchboardd` without `--foreground` starts a detached copy of itself
/// and exits once that copy accepts connections, so the broker is never a
/// child of this process (nothing to reap, nothing tied to our lifetime).
pub fn start_broker<T>(realm: &Realm, mut connect: impl FnMut() -> Result<T>) -> Result<T> {
    let exe = find_broker().ok_or_else(|| {
        unreachable(format!(
            "no broker answers at {} and switchboardd was not found (set SWITCHBOARD_BROKER, or put it on PATH); start one with `switchboardd --foreground`",
            realm.socket.display()
        ))
    })?;
    let mut cmd = Command::new(&exe);
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
    cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
    let out = cmd.output().map_err(|e| unreachable(format!("cannot start {}: {e}", exe.display())))?;
    if let Some(0 | EXIT_ALREADY_RUNNING) = out.status.code() {
        return connect();
    }
    let said = String::from_utf8_lossy(&out.stderr);
    let said = said.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("no message").trim().to_owned();
    Err(unreachable(format!(
        "{} could not start the broker ({}): {said}; see {} or run `switchboardd --foreground`",
        exe.display(),
        out.status,
        realm.log.display()
    )))
}
