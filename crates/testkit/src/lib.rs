//! Test kit for Switchboard.
//!
//! - [`TestBroker`]: a real broker (the production event loop and core) on a
//!   thread of the test process, serving a private temporary realm, so tests
//!   run in parallel without touching each other or the user's realm.
//! - [`role`]: runs a role of the *same* test binary as a child process
//!   (a real, separate process), reads what it reports, and kills it with
//!   `SIGKILL` at a chosen point.
//! - [`hostile`]: the attacker's tools: a broker in its own process, a raw
//!   protocol client that keeps every descriptor, a probe of another user's service.
//! - [`eventually`]: waits, with a deadline, for a condition that another
//!   process makes true asynchronously (such as the broker noticing that a
//!   killed process is gone).
#![forbid(unsafe_code)]

pub mod hostile;
pub mod role;

use std::ffi::OsString;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use switchboard::{ConnectOptions, Connection};
use switchboard_broker::server::{Server, ServerConfig, StopHandle};
use switchboard_sys::Realm;

/// A broker serving a temporary realm from a thread of this process.
/// Stopped, and its realm removed, on drop.
#[derive(Debug)]
pub struct TestBroker {
    dir: tempfile::TempDir,
    socket: PathBuf,
    stop: StopHandle,
    thread: Option<JoinHandle<std::io::Result<()>>>,
}

impl TestBroker {
    /// Starts a broker with default limits.
    pub fn start() -> Self {
        Self::start_with(|_| {})
    }

    /// Starts a broker after `configure` adjusts its configuration.
    ///
    /// # Panics
    ///
    /// If the temporary realm cannot be made or the broker cannot bind.
    pub fn start_with(configure: impl FnOnce(&mut ServerConfig)) -> Self {
        switchboard_sys::limits::raise_fd_limit();
        let dir = tempfile::Builder::new().prefix("switchboard-test-").tempdir().expect("temporary realm");
        let socket = dir.path().join("broker.sock");
        let mut config = ServerConfig::new(Realm::custom(&socket));
        configure(&mut config);
        let server = Server::bind(config).expect("bind the test broker");
        let stop = server.stop_handle();
        let thread =
            std::thread::Builder::new().name("test-broker".into()).spawn(move || server.run()).expect("broker thread");
        Self { dir, socket, stop, thread: Some(thread) }
    }

    /// The broker's socket.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// A new connection to this broker (never auto-starts another).
    ///
    /// # Panics
    ///
    /// If the broker does not answer.
    pub fn connect(&self) -> Connection {
        self.try_connect().expect("connect to the test broker")
    }

    /// A new connection, or the error.
    pub fn try_connect(&self) -> switchboard::Result<Connection> {
        ConnectOptions::new().socket(&self.socket).autostart(false).connect()
    }

    /// The environment a child process needs to reach this broker.
    pub fn env(&self) -> Vec<(OsString, OsString)> {
        vec![
            ("SWITCHBOARD_SOCKET".into(), self.socket.clone().into_os_string()),
            ("SWITCHBOARD_NO_AUTOSTART".into(), "1".into()),
        ]
    }

    /// Opens the realm to every local user, as the system realm is: access is
    /// then decided by each object's DACL alone. For tests with other uids.
    ///
    /// # Panics
    ///
    /// If the modes cannot be changed.
    pub fn open_to_all_users(&self) {
        fs::set_permissions(self.dir.path(), fs::Permissions::from_mode(0o755)).expect("chmod realm");
        fs::set_permissions(&self.socket, fs::Permissions::from_mode(0o666)).expect("chmod socket");
    }

    /// Stops the broker and starts a new one on the same realm (default
    /// configuration): what the realm keeps on disk, such as the registry's
    /// hives, survives.
    ///
    /// # Panics
    ///
    /// If the old event loop failed or the new broker cannot bind.
    pub fn restart(&mut self) {
        self.shutdown();
        let server = Server::bind(ServerConfig::new(Realm::custom(&self.socket))).expect("bind the restarted broker");
        self.stop = server.stop_handle();
        self.thread = Some(
            std::thread::Builder::new().name("test-broker".into()).spawn(move || server.run()).expect("broker thread"),
        );
    }

    /// Stops the broker and waits for its thread.
    ///
    /// # Panics
    ///
    /// If the event loop failed.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.stop();
        if let Some(t) = self.thread.take() {
            match t.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => panic!("the test broker's event loop failed: {e}"),
                Err(payload) => std::panic::resume_unwind(payload),
            }
        }
    }
}

impl Drop for TestBroker {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.stop.stop();
        } else {
            self.shutdown();
        }
    }
}

/// Polls `condition` until it holds or `within` passes; returns whether it
/// held. For effects another process produces asynchronously — never as a
/// substitute for a synchronisation the test could have.
pub fn eventually(within: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Whether this process runs as root (tests that need another uid skip
/// otherwise, saying why).
pub fn is_root() -> bool {
    switchboard_sys::current_uid() == 0
}
