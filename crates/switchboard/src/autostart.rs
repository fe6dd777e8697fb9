//! Starting the realm's broker when none answers.
//!
//! The broker is found through `$SWITCHBOARD_BROKER`, then beside the current
//! executable (or one folder up, for test binaries in `target/*/deps`), then
//! on `PATH`. Two clients starting one at once is fine: the broker's lock file
//! lets one win, and both then connect to it.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use switchboard_sys::{Realm, RealmChoice, RealmKind};

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

/// The arguments that start `realm`'s broker, or why this client must not
/// start one. The system realm's broker is only ever `switchboardd
/// --system`, started by root: a private broker on the system socket would
/// serve root's writes to `HKEY_LOCAL_MACHINE` from a throw-away store and
/// be shadowed by the real one. A custom realm whose socket is the system
/// realm's counts as the system realm.
pub(crate) fn broker_args(realm: &Realm, is_root: bool) -> std::result::Result<Vec<OsString>, String> {
    let kind = match realm.kind {
        RealmKind::Custom => RealmChoice::Socket(realm.socket.clone()).kind(),
        kind => kind,
    };
    match kind {
        RealmKind::System if is_root => Ok(vec!["--system".into()]),
        RealmKind::System => Err(format!(
            "the system broker is not running (nothing answers at {}); start it as root with `switchboardd --system` (or through its systemd unit)",
            realm.socket.display()
        )),
        RealmKind::Custom => Ok(vec!["--socket".into(), realm.socket.clone().into_os_string()]),
        RealmKind::User => Ok(Vec::new()),
    }
}

/// Starts a broker for `realm` and returns the first successful `connect()`.
///
/// `switchboardd` without `--foreground` starts a detached copy of itself
/// and exits once that copy accepts connections, so the broker is never a
/// child of this process (nothing to reap, nothing tied to our lifetime).
pub fn start_broker<T>(realm: &Realm, mut connect: impl FnMut() -> Result<T>) -> Result<T> {
    let args = broker_args(realm, switchboard_sys::current_uid() == 0).map_err(unreachable)?;
    let exe = find_broker().ok_or_else(|| {
        unreachable(format!(
            "no broker answers at {} and switchboardd was not found (set SWITCHBOARD_BROKER, or put it on PATH); start one with `switchboardd --foreground`",
            realm.socket.display()
        ))
    })?;
    let mut cmd = Command::new(&exe);
    // The arguments alone name the realm.
    cmd.args(args).env_remove("SWITCHBOARD_SOCKET").env_remove("SWITCHBOARD_REALM");
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

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn system_realm() -> Realm {
        let dir = Path::new("/run/switchboard");
        Realm {
            kind: RealmKind::System,
            socket: dir.join("broker.sock"),
            lock: dir.join("broker.lock"),
            log: dir.join("broker.log"),
        }
    }

    #[test]
    fn system_realm_from_the_environment_is_the_system_kind() {
        let choice = RealmChoice::from_vars(Some("system".as_ref()), None).unwrap();
        assert_eq!(choice.kind(), RealmKind::System);
    }

    #[test]
    fn root_auto_starts_the_system_realm_only_as_switchboardd_system() {
        assert_eq!(broker_args(&system_realm(), true).unwrap(), vec![OsString::from("--system")]);
    }

    #[test]
    fn system_socket_named_as_a_custom_path_auto_starts_only_the_system_broker() {
        let custom = Realm::custom(Path::new("/run/switchboard/broker.sock"));
        assert_eq!(broker_args(&custom, true).unwrap(), vec![OsString::from("--system")]);
        assert!(broker_args(&custom, false).is_err());
    }

    #[test]
    fn non_root_client_is_told_the_system_broker_is_not_running_and_how_to_start_it() {
        let why = broker_args(&system_realm(), false).unwrap_err();
        assert!(why.contains("the system broker is not running"), "{why}");
        assert!(why.contains("/run/switchboard/broker.sock"), "{why}");
        assert!(why.contains("switchboardd --system"), "{why}");
        let e = unreachable(why);
        assert_eq!(e.kind(), ErrorKind::BrokerUnreachable);
        assert_eq!(e.win32_error(), Win32Error::ERROR_SERVICE_NOT_ACTIVE);
    }

    #[test]
    fn other_realms_auto_start_their_own_broker() {
        let custom = Realm::custom(Path::new("/x/y.sock"));
        assert_eq!(broker_args(&custom, false).unwrap(), vec![OsString::from("--socket"), OsString::from("/x/y.sock")]);
        let user = Realm { kind: RealmKind::User, ..custom };
        assert!(broker_args(&user, false).unwrap().is_empty());
    }
}
