//! Anonymous pipes, and children whose standard streams go through them.
//!
//! As on Windows, where `CreatePipe` makes a one-instance named pipe with a
//! name nobody else will guess, an anonymous pipe here is a byte-type pipe
//! with one instance: the read end is its server end, the write end its
//! client end. Each end's channel is a plain stream socket, so a child gets
//! it as its stdin, stdout or stderr and needs no Switchboard code at all.

use std::io;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};

use super::{Direction, GENERIC_WRITE, PipeClient, PipeMode, PipeServer, Received, ServerOptions};
use crate::connection::Connection;
use crate::error::{Error, ErrorKind, Result, Win32Error};

static SERIAL: AtomicU64 = AtomicU64::new(0);

/// The read end of an anonymous pipe (its server end: `GetNamedPipeInfo`
/// reports `PIPE_SERVER_END`).
#[derive(Debug)]
pub struct PipeReader(PipeServer);

/// The write end of an anonymous pipe.
#[derive(Debug)]
pub struct PipeWriter(PipeClient);

impl PipeReader {
    /// Reads what is there, up to `buf.len()`; 0 once the write end is
    /// closed everywhere and everything was read.
    pub fn read(&self, buf: &mut [u8]) -> Result<usize> {
        match self.0.read(buf) {
            Ok(Received { len, .. }) => Ok(len),
            Err(e) if e.win32_error() == Win32Error::ERROR_BROKEN_PIPE => Ok(0),
            Err(e) => Err(e),
        }
    }

    /// This end as a child's standard stream (stdin). The reader is closed
    /// here; the child holds the end from now on.
    pub fn into_stdio(self) -> Result<Stdio> {
        Ok(Stdio::from(self.0.duplicate_fd()?))
    }

    /// The pipe end underneath.
    pub fn as_server(&self) -> &PipeServer {
        &self.0
    }
}

impl PipeWriter {
    /// Writes all of `data`.
    pub fn write(&self, data: &[u8]) -> Result<()> {
        self.0.write(data)
    }

    /// This end as a child's standard stream (stdout or stderr). The writer
    /// is closed here; the child holds the end from now on.
    pub fn into_stdio(self) -> Result<Stdio> {
        Ok(Stdio::from(self.0.duplicate_fd()?))
    }

    /// The pipe end underneath.
    pub fn as_client(&self) -> &PipeClient {
        &self.0
    }
}

impl io::Read for PipeReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        PipeReader::read(self, buf).map_err(Into::into)
    }
}

impl io::Write for PipeWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        PipeWriter::write(self, buf).map(|()| buf.len()).map_err(Into::into)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Creates an anonymous pipe. A `size` of 0 means the default, 4096.
///
/// # Windows equivalent
///
/// `CreatePipe`: both ends report the buffer size (4096 for 0) and the read
/// end is the server end.
pub fn anonymous(conn: &Connection, size: u32) -> Result<(PipeReader, PipeWriter)> {
    let size = if size == 0 { 4096 } else { size };
    let name =
        format!(r"\\.\pipe\Win32Pipes.{:08x}.{:08x}", std::process::id(), SERIAL.fetch_add(1, Ordering::Relaxed));
    let server = ServerOptions::new()
        .direction(Direction::Inbound)
        .pipe_mode(PipeMode::Byte)
        .max_instances(1)
        .first_pipe_instance(true)
        .in_buffer_size(size)
        .out_buffer_size(size)
        .create(conn, &name)
        .map_err(|e| e.with_object("CreatePipe", None))?;
    let client = PipeClient::open(conn, &name, GENERIC_WRITE).map_err(|e| e.with_object("CreatePipe", None))?;
    Ok((PipeReader(server), PipeWriter(client)))
}

/// A child started with its standard streams on anonymous pipes.
#[derive(Debug)]
pub struct RedirectedChild {
    /// The process.
    pub child: Child,
    /// Writes to the child's standard input; drop it to give the child end of file.
    pub stdin: Option<PipeWriter>,
    /// Reads the child's standard output.
    pub stdout: PipeReader,
    /// Reads the child's standard error.
    pub stderr: PipeReader,
}

/// Starts `command` with its stdin, stdout and stderr on anonymous pipes,
/// and keeps the parent's ends: the Windows "child process with redirected
/// input and output" pattern. The child's ends are closed in this process
/// once it has started, so reading its output ends when the child does.
pub fn spawn_redirected(conn: &Connection, mut command: Command) -> Result<RedirectedChild> {
    let (child_in, parent_in) = anonymous(conn, 0)?;
    let (parent_out, child_out) = anonymous(conn, 0)?;
    let (parent_err, child_err) = anonymous(conn, 0)?;
    command.stdin(child_in.into_stdio()?).stdout(child_out.into_stdio()?).stderr(child_err.into_stdio()?);
    // `command` (and with it our copies of the child's ends) is dropped on return.
    let child = command.spawn().map_err(|e| {
        Error::new(ErrorKind::InvalidArgument, Win32Error::ERROR_FILE_NOT_FOUND, "CreateProcess", None, e.to_string())
    })?;
    Ok(RedirectedChild { child, stdin: Some(parent_in), stdout: parent_out, stderr: parent_err })
}
