//! Starting a broker: its lock, and the checks that keep it one per socket.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read as _, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

use mio::net::UnixStream;

/// Why the server could not start.
#[derive(Debug)]
pub enum StartError {
    /// Another broker holds the realm's lock.
    AlreadyRunning {
        /// Its pid, as it wrote it in the lock file.
        pid: Option<u32>,
        /// The lock file.
        lock: PathBuf,
    },
    /// Something already accepts connections on the realm's socket (a
    /// broker that took it through another lock, or another program): it is
    /// left alone.
    SocketInUse {
        /// The socket.
        socket: PathBuf,
        /// The pid of the process listening there, when the kernel says.
        pid: Option<u32>,
    },
    /// A file operation failed.
    Io {
        /// What was being done.
        what: String,
        /// The error.
        source: io::Error,
    },
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::AlreadyRunning { pid: Some(pid), lock } => {
                write!(f, "a broker is already running for this realm (pid {pid}, lock {})", lock.display())
            }
            Self::AlreadyRunning { pid: None, lock } => {
                write!(f, "a broker is already running for this realm (lock {})", lock.display())
            }
            Self::SocketInUse { socket, pid: Some(pid) } => {
                write!(f, "a broker is already serving {} (pid {pid}); refusing to take it over", socket.display())
            }
            Self::SocketInUse { socket, pid: None } => {
                write!(f, "a broker is already serving {}; refusing to take it over", socket.display())
            }
            Self::Io { what, source } => write!(f, "{what}: {source}"),
        }
    }
}

impl std::error::Error for StartError {}

pub(super) fn io_err(what: impl Into<String>) -> impl FnOnce(io::Error) -> StartError {
    let what = what.into();
    move |source| StartError::Io { what, source }
}

/// Fails with [`StartError::SocketInUse`] if something accepts connections
/// on `socket`. The probe does not block: a listener whose backlog is full
/// still counts as serving. Only a refused connection (or a socket gone
/// meanwhile) shows the socket is stale; any other error is reported.
pub(super) fn refuse_if_served(socket: &std::path::Path) -> Result<(), StartError> {
    match UnixStream::connect(socket) {
        Ok(stream) => {
            let pid = switchboard_sys::peer_credentials(&stream).ok().map(|c| c.pid).filter(|&pid| pid != 0);
            Err(StartError::SocketInUse { socket: socket.to_owned(), pid })
        }
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
            Err(StartError::SocketInUse { socket: socket.to_owned(), pid: None })
        }
        Err(e) if matches!(e.kind(), io::ErrorKind::ConnectionRefused | io::ErrorKind::NotFound) => Ok(()),
        Err(e) => Err(io_err(format!("checking whether a broker still serves {}", socket.display()))(e)),
    }
}

pub(super) fn take_lock(path: &std::path::Path) -> Result<File, StartError> {
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
        .map_err(io_err(format!("opening the lock file {}", path.display())))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(fs::TryLockError::WouldBlock) => {
            let mut text = String::new();
            let _ = file.read_to_string(&mut text);
            return Err(StartError::AlreadyRunning { pid: text.trim().parse().ok(), lock: path.to_owned() });
        }
        Err(fs::TryLockError::Error(e)) => {
            return Err(io_err(format!("locking {}", path.display()))(e));
        }
    }
    file.set_len(0).map_err(io_err("truncating the lock file"))?;
    write!(file, "{}", std::process::id()).map_err(io_err("writing the lock file"))?;
    Ok(file)
}
