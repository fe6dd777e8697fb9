//! Start-up and shutdown of the real `switchboardd` binary: auto-start by the
//! first client, one broker per realm, graceful stop, realm checks.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use switchboard::{ConnectOptions, ErrorKind, EventOptions};
use switchboard_testkit::eventually;

const BROKER: &str = env!("CARGO_BIN_EXE_switchboardd");

fn broker_cmd(socket: &Path) -> Command {
    let mut cmd = Command::new(BROKER);
    cmd.arg("--socket").arg(socket).env("SWITCHBOARD_LOG", "warn").stdin(Stdio::null());
    cmd
}

/// Stops the broker at `socket` and waits until it is gone.
fn stop(socket: &Path) {
    let conn = ConnectOptions::new().socket(socket).autostart(false).connect().unwrap();
    conn.shutdown_broker().unwrap();
    assert!(eventually(Duration::from_secs(10), || !socket.exists()), "the socket was not removed");
}

#[test]
fn first_client_starts_the_broker_and_a_second_client_shares_it() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("auto.sock");
    // Autostart finds switchboardd beside the test binary's folder, where cargo puts it.
    assert_eq!(switchboard::find_broker().unwrap(), Path::new(BROKER));
    let opts = ConnectOptions::new().socket(&socket).autostart(true);
    let first = opts.connect().unwrap();
    let second = opts.connect().unwrap();
    assert_eq!(first.broker_pid(), second.broker_pid());
    assert_ne!(first.broker_pid(), std::process::id(), "a separate broker process");
    let _e = EventOptions::new().create(&first, "shared").unwrap();
    assert_eq!(second.show("shared").unwrap().holders.len(), 1);
    let mode = std::fs::metadata(&socket).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    stop(&socket);
}

#[test]
fn no_autostart_gives_a_clear_unreachable_error() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("none.sock");
    let err = ConnectOptions::new().socket(&socket).autostart(false).connect().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BrokerUnreachable);
    assert!(err.reason().contains("no broker answers"), "{err}");
}

#[test]
fn a_second_broker_for_the_same_realm_refuses_to_start_and_names_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("one.sock");
    let started = broker_cmd(&socket).output().unwrap();
    assert!(started.status.success(), "{}", String::from_utf8_lossy(&started.stderr));
    let conn = ConnectOptions::new().socket(&socket).autostart(false).connect().unwrap();
    let second = broker_cmd(&socket).arg("--foreground").output().unwrap();
    assert_eq!(second.status.code(), Some(10));
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(stderr.contains(&format!("pid {}", conn.broker_pid())), "{stderr}");
    // The first broker is untouched.
    conn.status().unwrap();
    stop(&socket);
}

#[test]
fn sigterm_stops_the_broker_gracefully_and_removes_its_socket() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("term.sock");
    let mut child = broker_cmd(&socket).arg("--foreground").stderr(Stdio::null()).spawn().unwrap();
    assert!(eventually(Duration::from_secs(10), || ConnectOptions::new()
        .socket(&socket)
        .autostart(false)
        .connect()
        .is_ok()));
    let conn = ConnectOptions::new().socket(&socket).autostart(false).connect().unwrap();
    rustix::process::kill_process(rustix::process::Pid::from_child(&child), rustix::process::Signal::TERM).unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
    assert!(!socket.exists());
    // A client of a broker that went away gets an error, not a hang.
    let err = conn.status().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionLost, "{err}");
}

#[test]
fn loosened_user_realm_directory_is_refused_with_the_reason() {
    let runtime = tempfile::tempdir().unwrap();
    let realm = runtime.path().join("switchboard");
    std::fs::create_dir(&realm).unwrap();
    std::fs::set_permissions(&realm, std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = Command::new(BROKER)
        .arg("--foreground")
        .env("XDG_RUNTIME_DIR", runtime.path())
        .env_remove("SWITCHBOARD_SOCKET")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("mode 0777 lets other users in"), "{stderr}");
}

#[test]
fn user_realm_is_created_private_under_xdg_runtime_dir() {
    let runtime = tempfile::tempdir().unwrap();
    let out = Command::new(BROKER)
        .env("XDG_RUNTIME_DIR", runtime.path())
        .env("SWITCHBOARD_LOG", "warn")
        .env_remove("SWITCHBOARD_SOCKET")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let realm = runtime.path().join("switchboard");
    assert_eq!(std::fs::metadata(&realm).unwrap().permissions().mode() & 0o777, 0o700);
    let socket = realm.join("broker.sock");
    assert_eq!(std::fs::metadata(&socket).unwrap().permissions().mode() & 0o777, 0o600);
    stop(&socket);
}
