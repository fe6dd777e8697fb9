//! `daemon start|stop|restart|status`.

use std::fmt::Write as _;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use clap::Subcommand;
use serde::Serialize;
use switchboard::Realm;
use switchboard::{Connection, Error, ErrorKind, Result, Win32Error};

use super::{Ctx, Done};
use crate::duration;

/// Broker commands.
#[derive(Clone, Copy, Debug, Subcommand)]
pub enum DaemonCommand {
    /// Start the realm's broker (switchboardd) unless one is running.
    Start,
    /// Ask the broker to stop, and wait until it no longer answers.
    Stop {
        /// How long to wait for the broker to go (500ms, 5s, 2m, 1h; a bare
        /// number is milliseconds).
        #[arg(long, value_name = "DUR", value_parser = duration::parse, default_value = "10s")]
        timeout: Duration,
    },
    /// Stop the broker if it is running, then start one.
    Restart {
        /// How long to wait for the old broker to go.
        #[arg(long, value_name = "DUR", value_parser = duration::parse, default_value = "10s")]
        timeout: Duration,
    },
    /// Same as `switchboard status`.
    Status,
}

#[derive(Serialize)]
struct DaemonJson {
    #[serde(skip_serializing_if = "Option::is_none")]
    stopped: Option<Stopped>,
    #[serde(skip_serializing_if = "Option::is_none")]
    started: Option<Started>,
}

#[derive(Serialize)]
struct Stopped {
    was_running: bool,
    pid: Option<u32>,
}

#[derive(Serialize)]
struct Started {
    pid: u32,
    socket: String,
    already_running: bool,
}

/// Runs a daemon command.
pub fn run(ctx: &Ctx, command: DaemonCommand) -> Result<Done> {
    let (stopped_pid, started) = match command {
        DaemonCommand::Status => return super::objects::status(ctx),
        DaemonCommand::Start => (None, Some(start(ctx)?)),
        DaemonCommand::Stop { timeout } => (Some(stop(ctx, timeout)?), None),
        DaemonCommand::Restart { timeout } => {
            let stopped = stop(ctx, timeout)?;
            (Some(stopped), Some(start(ctx)?))
        }
    };
    let stopped = stopped_pid.map(|pid| Stopped { was_running: pid.is_some(), pid });
    let json = DaemonJson { stopped, started };
    ctx.emit(&json, || {
        let mut text = String::new();
        match stopped_pid {
            Some(Some(pid)) => {
                let _ = writeln!(text, "stopped broker (pid {pid})");
            }
            Some(None) => text.push_str("no broker was running\n"),
            None => {}
        }
        if let Some(s) = &json.started {
            let how = if s.already_running { "already running" } else { "started" };
            let _ = writeln!(text, "broker {how} (pid {}) at {}", s.pid, s.socket);
        }
        text
    })?;
    Ok(Done::Ok)
}

fn start(ctx: &Ctx) -> Result<Started> {
    let (conn, already_running) = match ctx.connect_existing() {
        Ok(conn) => (conn, true),
        Err(e) if e.kind() == ErrorKind::BrokerUnreachable => (ctx.connect_starting()?, false),
        Err(e) => return Err(e),
    };
    Ok(Started { pid: conn.broker_pid(), socket: conn.socket().display().to_string(), already_running })
}

/// Stops the running broker and returns its pid, or `None` if none answered.
fn stop(ctx: &Ctx, timeout: Duration) -> Result<Option<u32>> {
    let socket = realm_socket(ctx);
    let conn = match connect_within(ctx, timeout) {
        Ok(conn) => conn,
        // Something that accepts but fails the handshake (a hung broker) is not "nothing running".
        Err(e) if e.kind() == ErrorKind::BrokerUnreachable && !socket.as_deref().is_some_and(socket_answers) => {
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    let pid = conn.broker_pid();
    match conn.shutdown_broker() {
        // A broker that goes before its reply arrives has done what was asked.
        Err(e) if e.kind() != ErrorKind::ConnectionLost => return Err(e),
        _ => {}
    }
    drop(conn);
    let deadline = Instant::now() + timeout;
    loop {
        let answers = socket.as_deref().is_some_and(socket_answers);
        // Waiting for the process too lets `restart` take the realm's lock at once.
        if !answers && process_gone(pid) {
            return Ok(Some(pid));
        }
        if Instant::now() >= deadline {
            let why = if answers { "still answers" } else { "closed its socket but is still running" };
            return Err(Error::new(
                ErrorKind::TimedOut,
                Win32Error::ERROR_TIMEOUT,
                "StopBroker",
                None,
                format!("the broker (pid {pid}) {why} after {}", duration::format(timeout)),
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Connects without starting a broker, giving up after `timeout` even where
/// the library would wait longer (its handshake allows a hung broker 10 s).
fn connect_within(ctx: &Ctx, timeout: Duration) -> Result<Connection> {
    let (tx, rx) = mpsc::channel();
    let for_thread = ctx.clone();
    let spawned = std::thread::Builder::new().name("connect".into()).spawn(move || {
        let _ = tx.send(for_thread.connect_existing_within(timeout));
    });
    let timed_out = || {
        let why = format!("the broker did not complete the handshake within {}", duration::format(timeout));
        Error::new(ErrorKind::TimedOut, Win32Error::ERROR_TIMEOUT, "Connect", None, why)
    };
    if spawned.is_err() {
        return ctx.connect_existing_within(timeout);
    }
    // An abandoned attempt's thread ends with the process.
    rx.recv_timeout(timeout).unwrap_or_else(|_| Err(timed_out()))
}

/// The socket the library would connect to, worked out the same way.
fn realm_socket(ctx: &Ctx) -> Option<PathBuf> {
    ctx.socket().or_else(|| Realm::from_env().ok().map(|realm| realm.socket))
}

/// Whether anything accepts connections at `socket`. Unlike a `Connection`
/// this does not wait for a handshake, so a hung broker still counts.
fn socket_answers(socket: &Path) -> bool {
    UnixStream::connect(socket).is_ok()
}

/// Whether process `pid` has ended (a zombie has: it holds no lock or socket).
/// Where `/proc` cannot tell, the process is taken to be gone.
fn process_gone(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return true;
    };
    // The state follows the command name, which is in parentheses and may hold any byte.
    stat.rsplit_once(')')
        .and_then(|(_, rest)| rest.trim_start().chars().next())
        .is_none_or(|state| matches!(state, 'Z' | 'X'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_not_gone() {
        assert!(!process_gone(std::process::id()));
    }
}
