//! The commands, one module per noun.

pub mod atom;
pub mod daemon;
pub mod event;
pub mod mailslot;
pub mod mutex;
pub mod objects;
pub mod pipe;
pub mod reg;
pub mod rpc;
pub mod section;
pub mod sem;

use std::path::PathBuf;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use switchboard::{ConnectOptions, Connection, Error, ErrorKind, RealmChoice, Result, Win32Error};

/// What every command gets from the global flags.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// `--json`: one JSON value on stdout instead of text.
    pub json: bool,
    /// `--system` or `--socket`; `None`: what the environment names
    /// (`SWITCHBOARD_REALM`, `SWITCHBOARD_SOCKET`) or the user realm.
    pub realm: Option<RealmChoice>,
}

/// How a command that did not fail ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Done {
    /// Exit 0.
    Ok,
    /// A wait ran out of time: exit 6.
    TimedOut,
}

impl Ctx {
    fn options(&self) -> ConnectOptions {
        match &self.realm {
            Some(realm) => ConnectOptions::new().realm(realm.clone()),
            None => ConnectOptions::new(),
        }
    }

    /// The socket the command line names (`--socket`, or the system realm's
    /// for `--system`); `None` when it leaves the realm to the environment.
    pub fn socket(&self) -> Option<PathBuf> {
        match self.realm.as_ref()? {
            RealmChoice::Socket(path) => Some(path.clone()),
            choice => choice.open(false).ok().map(|realm| realm.socket),
        }
    }

    /// Connects, starting a broker if none answers (unless
    /// `SWITCHBOARD_NO_AUTOSTART=1`): for commands that make something.
    pub fn connect(&self) -> Result<Connection> {
        self.options().connect()
    }

    /// Connects to a running broker only: for commands that look at or act on
    /// existing objects, which a fresh broker would not have anyway.
    pub fn connect_existing(&self) -> Result<Connection> {
        self.options().autostart(false).connect()
    }

    /// Connects to a running broker only, allowing each request `timeout`.
    pub fn connect_existing_within(&self, timeout: std::time::Duration) -> Result<Connection> {
        self.options().autostart(false).request_timeout(timeout).connect()
    }

    /// Connects, starting a broker whatever the environment says.
    pub fn connect_starting(&self) -> Result<Connection> {
        self.options().autostart(true).connect()
    }

    /// Prints `text` for people, or `value` as JSON for programs.
    pub fn emit<T: serde::Serialize + ?Sized>(&self, value: &T, text: impl FnOnce() -> String) -> Result<()> {
        if self.json {
            crate::output::print_json(value)
        } else {
            crate::output::print(&text());
            Ok(())
        }
    }
}

/// For `--hold`: blocks until stdin reaches end of file (or cannot be read),
/// or the broker goes away. Signals need no handling: they end the process,
/// the connection drops, and the broker closes the handle. `op` names the
/// operation in errors (`HoldEvent`), `what` the kind of object (`event`).
pub fn hold_until_stdin_ends(conn: &Connection, op: &'static str, name: &str, what: &str) -> Result<()> {
    let (tx, rx) = mpsc::channel::<()>();
    std::thread::Builder::new()
        .name("stdin".into())
        .spawn(move || {
            let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
            let _ = tx.send(());
        })
        .map_err(|e| {
            Error::new(ErrorKind::Protocol, Win32Error::ERROR_NO_SYSTEM_RESOURCES, op, Some(name), e.to_string())
        })?;
    loop {
        match rx.recv_timeout(Duration::from_millis(500)) {
            Ok(()) | Err(RecvTimeoutError::Disconnected) => return Ok(()),
            Err(RecvTimeoutError::Timeout) if !conn.is_alive() => {
                return Err(Error::new(
                    ErrorKind::ConnectionLost,
                    Win32Error::ERROR_BROKEN_PIPE,
                    op,
                    Some(name),
                    format!("lost the broker; the {what} is gone"),
                ));
            }
            Err(RecvTimeoutError::Timeout) => {}
        }
    }
}
