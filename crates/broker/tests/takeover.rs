//! One broker per socket: a broker never takes over a socket that something
//! still serves, whichever realm, lock or spelling of the path it was started
//! with, and a client's auto-start never replaces a live broker.

use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use switchboard::{ConnectOptions, EventOptions};
use switchboard_broker::server::{Server, ServerConfig, StartError};
use switchboard_sys::{Realm, RealmKind};
use switchboard_testkit::eventually;

const BROKER: &str = env!("CARGO_BIN_EXE_switchboardd");

/// Stops the broker at `socket` and waits until it is gone.
fn stop(socket: &Path) {
    let conn = ConnectOptions::new().socket(socket).autostart(false).connect().unwrap();
    conn.shutdown_broker().unwrap();
    assert!(eventually(Duration::from_secs(10), || !socket.exists()), "the socket was not removed");
}

#[test]
fn second_bind_through_another_realm_and_lock_is_refused_and_the_first_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("broker.sock");
    let first = Server::bind(ServerConfig::new(Realm::custom(&socket))).unwrap();
    let stop_first = first.stop_handle();
    let serving = std::thread::spawn(move || first.run());
    let conn = ConnectOptions::new().socket(&socket).autostart(false).connect().unwrap();
    let _event = EventOptions::new().create(&conn, "kept").unwrap();

    // The same socket seen as another realm, with a lock of its own.
    let other = Realm {
        kind: RealmKind::User,
        socket: socket.clone(),
        lock: dir.path().join("other.lock"),
        log: dir.path().join("other.log"),
    };
    let mut config = ServerConfig::new(other);
    config.core.registry_dir = Some(dir.path().join("other-registry"));
    let refused = Server::bind(config);

    match refused {
        Err(StartError::SocketInUse { socket: named, pid }) => {
            assert_eq!(named, socket);
            assert_eq!(pid, Some(std::process::id()), "the listening broker's pid");
        }
        Err(other) => panic!("expected SocketInUse, got {other}"),
        Ok(_) => panic!("a second broker bound the socket the first one serves"),
    }
    // A new client reaches the first broker, which still has its event.
    let again = ConnectOptions::new().socket(&socket).autostart(false).connect().unwrap();
    assert_eq!(again.show("kept").unwrap().holders.len(), 1);
    stop_first.stop();
    serving.join().unwrap().unwrap();
}

#[test]
fn refusal_to_take_over_a_live_socket_says_who_serves_it() {
    let e = StartError::SocketInUse { socket: "/x/y.sock".into(), pid: Some(42) };
    assert_eq!(e.to_string(), "a broker is already serving /x/y.sock (pid 42); refusing to take it over");
}

#[test]
fn broker_started_on_another_spelling_of_a_live_user_realm_socket_does_not_take_it_over() {
    let runtime = tempfile::tempdir().unwrap();
    let user_env = |cmd: &mut Command| {
        cmd.env("XDG_RUNTIME_DIR", runtime.path())
            .env("SWITCHBOARD_LOG", "warn")
            .env_remove("SWITCHBOARD_SOCKET")
            .env_remove("SWITCHBOARD_REALM")
            .stdin(Stdio::null());
    };
    let mut first = Command::new(BROKER);
    user_env(&mut first);
    let out = first.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let socket = runtime.path().join("switchboard/broker.sock");
    let pid = ConnectOptions::new().socket(&socket).autostart(false).connect().unwrap().broker_pid();

    // The realm's socket through a link to its runtime directory: what a
    // client auto-starting with `--socket` would run.
    let links = tempfile::tempdir().unwrap();
    let link = links.path().join("runtime");
    std::os::unix::fs::symlink(runtime.path(), &link).unwrap();
    let aliased = link.join("switchboard/broker.sock");
    let mut second = Command::new(BROKER);
    user_env(&mut second);
    let out = second.arg("--socket").arg(&aliased).arg("--foreground").output().unwrap();
    assert_eq!(out.status.code(), Some(10), "{}", String::from_utf8_lossy(&out.stderr));
    // Refused by the realm's own lock: that spelling is the user realm.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&format!("pid {pid}, lock")) && stderr.contains("broker.lock"), "{stderr}");

    // A client naming that spelling, auto-start on, reaches the same broker.
    let conn = ConnectOptions::new().socket(&aliased).autostart(true).connect().unwrap();
    assert_eq!(conn.broker_pid(), pid);
    let direct = ConnectOptions::new().socket(&socket).autostart(false).connect().unwrap();
    assert_eq!(direct.broker_pid(), pid);
    stop(&socket);
}

#[test]
fn client_auto_start_never_replaces_a_listener_that_fails_the_handshake() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("busy.sock");
    // Something live that accepts and hangs up: a broker that is in trouble,
    // or not a broker at all. Either way not ours to replace.
    let listener = UnixListener::bind(&socket).unwrap();
    let inode = std::fs::metadata(&socket).unwrap().ino();
    let done = Arc::new(AtomicBool::new(false));
    let accepting = {
        let done = Arc::clone(&done);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                drop(stream);
                if done.load(Ordering::SeqCst) {
                    break;
                }
            }
        })
    };

    let result = ConnectOptions::new().socket(&socket).autostart(true).connect();
    if let Ok(conn) = &result {
        // A broker took the socket over: stop it before failing.
        let _ = conn.shutdown_broker();
    }
    let err = result.expect_err("no broker should have replaced the listener");
    assert_eq!(err.kind(), switchboard::ErrorKind::BrokerUnreachable, "{err}");
    assert_eq!(std::fs::metadata(&socket).unwrap().ino(), inode, "the socket file was replaced");

    // The listener still gets the connections made to the path.
    done.store(true, Ordering::SeqCst);
    drop(std::os::unix::net::UnixStream::connect(&socket).unwrap());
    accepting.join().unwrap();
}
