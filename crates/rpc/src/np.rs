//! `ncacn_np`: DCE/RPC over Switchboard named pipes in message mode, one
//! PDU a message, as Windows carries it over SMB named pipes. The server
//! keeps one instance listening and hands each connected one to an
//! association thread, the classic `CreateNamedPipe` / `ConnectNamedPipe`
//! loop; the client opens `\\.\pipe\NAME`.

use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};

use switchboard::pipe::{GENERIC_READ_WRITE, PipeClient, PipeMode, PipeServer, ServerOptions};
use switchboard::{Connection, Win32Error};

use crate::runtime::{Limits, MakeInterfaces};
use crate::server::Association;

/// `\\.\pipe\NAME` for a binding's `\pipe\NAME` (or `NAME`).
pub fn pipe_path(endpoint: &str) -> String {
    let name = endpoint.strip_prefix(r"\pipe\").or_else(|| endpoint.strip_prefix(r"\PIPE\")).unwrap_or(endpoint);
    format!(r"\\.\pipe\{name}")
}

fn io_error(e: switchboard::Error) -> io::Error {
    e.into()
}

/// The client end of an `ncacn_np` connection: every write is one message
/// (one PDU), reads take messages as bytes.
#[derive(Debug)]
pub struct PipeStream(PipeClient);

impl PipeStream {
    /// Opens `\\.\pipe\NAME` for `endpoint` (`\pipe\NAME`).
    pub fn open(conn: &Connection, endpoint: &str) -> io::Result<Self> {
        // Waits (a while) for an instance, as WaitNamedPipe does, when all are busy.
        let client =
            PipeClient::open_wait(conn, &pipe_path(endpoint), GENERIC_READ_WRITE, std::time::Duration::from_secs(10))
                .map_err(io_error)?;
        client.set_read_mode(PipeMode::Message).map_err(io_error)?;
        Ok(Self(client))
    }

    /// Sets the read timeout.
    pub fn set_read_timeout(&self, timeout: Option<std::time::Duration>) {
        self.0.set_read_timeout(timeout);
    }

    /// Another descriptor of the pipe's channel: shutting it down ends a
    /// call waiting on this pipe (what cancellation does).
    pub fn duplicate_channel(&self) -> io::Result<std::os::unix::net::UnixStream> {
        Ok(std::os::unix::net::UnixStream::from(self.0.duplicate_fd().map_err(io_error)?))
    }

    /// Whether the server end has gone (checked without blocking).
    pub fn closed_by_peer(&self) -> bool {
        self.0.peek(&mut []).is_err()
    }
}

// Switchboard's pipe ends are byte streams already (the other end's close
// reads as the end of the stream; each write is one message).
impl Read for PipeStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Read::read(&mut &self.0, buf)
    }
}

impl Write for PipeStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Write::write(&mut &self.0, buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl crate::runtime::Timed for PipeServer {
    fn time_reads(&mut self, timeout: Option<std::time::Duration>) -> io::Result<()> {
        self.set_read_timeout(timeout);
        Ok(())
    }
}

/// Serves `\\.\pipe\NAME` for ever: message-mode instances (at most
/// `limits.max_associations`), each connected one driving an association.
pub fn serve(conn: &Connection, endpoint: &str, make: &MakeInterfaces, limits: Limits) -> switchboard::Result<()> {
    let path = pipe_path(endpoint);
    let instances = u32::try_from(limits.max_associations).unwrap_or(u32::MAX).clamp(1, 254);
    let options = ServerOptions::new()
        .pipe_mode(PipeMode::Message)
        .read_mode(PipeMode::Message)
        .max_instances(instances)
        .in_buffer_size(64 * 1024)
        .out_buffer_size(64 * 1024);
    let groups = Arc::new(AtomicU32::new(0x1000));
    // Bumped when an association ends: all instances busy, the loop waits on it.
    let ended = Arc::new((Mutex::new(0u64), Condvar::new()));
    let slots = Arc::new(crate::runtime::Slots::new(limits.max_calls_in_flight));
    let budget = Arc::new(crate::server::Budget::new(limits.max_pending_bytes));
    let mut instance = options.create(conn, &path)?;
    loop {
        match instance.connect(None) {
            Ok(_) => {}
            // A client that came and went before we got to it: make the
            // instance available again and go on.
            Err(e) if matches!(e.win32_error(), Win32Error::ERROR_NO_DATA | Win32Error::ERROR_BROKEN_PIPE) => {
                let _ = instance.disconnect();
                continue;
            }
            Err(e) => return Err(e),
        }
        let next = loop {
            let seen = *ended.0.lock().unwrap_or_else(PoisonError::into_inner);
            match options.create(conn, &path) {
                Ok(next) => break next,
                Err(e) if e.win32_error() == Win32Error::ERROR_PIPE_BUSY => {
                    let mut count = ended.0.lock().unwrap_or_else(PoisonError::into_inner);
                    while *count == seen {
                        count = ended.1.wait(count).unwrap_or_else(PoisonError::into_inner);
                    }
                }
                Err(e) => return Err(e),
            }
        };
        let connected = std::mem::replace(&mut instance, next);
        // A silent, slow or never-binding client cannot hold an instance
        // for ever: `drive` times the reads.
        let timeouts = limits.timeouts();
        let (make, groups, ended, slots, budget, endpoint) = (
            Arc::clone(make),
            Arc::clone(&groups),
            Arc::clone(&ended),
            Arc::clone(&slots),
            Arc::clone(&budget),
            endpoint.to_owned(),
        );
        let spawned = std::thread::Builder::new().name("rpc-np-association".into()).spawn(move || {
            let group = groups.fetch_add(1, Ordering::Relaxed);
            let association = Association::new(make(), group, &endpoint).with_budget(budget);
            let (mut end, mut association) = (connected, association);
            let _ = crate::runtime::drive(&mut end, &mut association, &slots, timeouts, &());
            *ended.0.lock().unwrap_or_else(PoisonError::into_inner) += 1;
            ended.1.notify_all();
        });
        drop(spawned);
    }
}
