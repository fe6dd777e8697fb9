//! Named pipes for tokio (feature `tokio`): the Rust form of overlapped I/O.
//!
//! [`AsyncPipeServer`] and [`AsyncPipeClient`] wrap the blocking ends; their
//! data goes through the same private channel, driven by tokio. Every
//! operation may be cancelled by dropping its future:
//! - a read cancelled while waiting loses nothing: bytes are kept in the
//!   end's buffer only once they have arrived, and the next read gets them;
//! - a cancelled `connect` is cancelled at the broker too (`CancelIo`), and
//!   a client that connected meanwhile is kept for the next call;
//! - a write cancelled before any byte went out writes nothing; once a
//!   message has started, it is finished in the background, because a pipe
//!   cannot take back half a message. (Windows can cancel the unconsumed
//!   part of a pending write; this is the one difference.)
//!
//! An async end owns the I/O of its pipe end: do not also use the blocking
//! end underneath for reads and writes.

use std::io;
use std::sync::{Arc, Mutex as StdMutex, PoisonError, Weak};

use switchboard_sys::readiness::Readiness;
use switchboard_types::AccessMask;
use switchboard_types::access::file::{FILE_READ_DATA, FILE_WRITE_DATA};
use tokio::sync::Mutex;

use super::channel::{Channel, ChannelError};
use super::end::Direction;
use super::framing::{self, ReadState};
use super::transport::Transport;
use super::{Connected, GENERIC_READ_WRITE, PipeClient, PipeMode, PipeServer, Received, ServerOptions};
use crate::connection::Connection;
use crate::error::{Error, ErrorKind, Result, Win32Error};

/// The tokio side of one channel: tokio waits on the transport's readiness
/// hook and the transport does the I/O, without blocking; the framing is
/// the shared sans-IO piece, with a read state of its own.
#[derive(Debug)]
struct AsyncIo {
    channel: Arc<Channel>,
    ready: Readiness,
    framed: bool,
    read: Mutex<ReadState>,
    write: Arc<Mutex<()>>,
}

impl AsyncIo {
    /// Registers the channel's readiness hook with the runtime.
    fn new(channel: Arc<Channel>) -> io::Result<Self> {
        let ready = Readiness::register(channel.transport().readiness())?;
        let framed = channel.framed();
        Ok(Self { channel, ready, framed, read: Mutex::new(ReadState::default()), write: Arc::new(Mutex::new(())) })
    }

    fn transport(&self) -> &dyn Transport {
        self.channel.transport()
    }

    async fn fill(&self, state: &mut ReadState) -> std::result::Result<(), ChannelError> {
        if state.at_eof() {
            return Err(ChannelError::Closed);
        }
        let got = self.ready.read_with(|| self.transport().try_recv(state.scratch())).await?;
        // Recorded right after the read completes: a cancelled future never
        // holds bytes the state does not have.
        Ok(state.delivered(got)?)
    }

    /// Sends what the transport takes of `bytes` (at least one byte),
    /// waiting until it takes any.
    async fn send_some(&self, bytes: &[u8]) -> io::Result<usize> {
        self.ready.write_with(|| self.transport().try_send(bytes)).await
    }

    async fn read_message(&self, out: &mut [u8]) -> std::result::Result<Received, ChannelError> {
        let mut state = self.read.lock().await;
        while !state.start_message() {
            self.fill(&mut state).await?;
        }
        let want = state.message_want(out.len());
        // Only once the whole of it is buffered is anything taken, so a
        // cancelled read loses nothing.
        while state.buffered() < want {
            self.fill(&mut state).await?;
        }
        state.take_buffered(&mut out[..want]);
        Ok(state.finish_message(want))
    }

    async fn read_bytes(&self, out: &mut [u8]) -> std::result::Result<Received, ChannelError> {
        if out.is_empty() {
            return Ok(Received { len: 0, more: false });
        }
        let mut state = self.read.lock().await;
        loop {
            let n = state.take_payload(self.framed, out);
            if n > 0 {
                return Ok(Received { len: n, more: false });
            }
            self.fill(&mut state).await?;
        }
    }

    async fn has_unread(&self) -> std::result::Result<bool, ChannelError> {
        let state = self.read.lock().await;
        if state.has_pending() {
            return Ok(true);
        }
        Ok(self.transport().peek_all()?.is_some_and(|queued| !queued.is_empty()))
    }

    /// Writes one message (or these bytes). See the module doc for what
    /// cancelling it does.
    async fn write(self: &Arc<Self>, data: &[u8]) -> std::result::Result<(), ChannelError> {
        let Some(header) = framing::frame(self.framed, data.len()).map_err(|e| ChannelError::Io(e.into()))? else {
            return Ok(());
        };
        let mut message = Vec::with_capacity(header.as_bytes().len() + data.len());
        message.extend_from_slice(header.as_bytes());
        message.extend_from_slice(data);
        let turn = Arc::clone(&self.write).lock_owned().await;
        // Until the first byte is out, waiting here can be cancelled freely.
        let written = self.send_some(&message).await?;
        if written == message.len() {
            return Ok(());
        }
        // The message has started: finish it even if our caller goes away.
        let io = Arc::clone(self);
        let rest = tokio::spawn(async move {
            let _turn = turn;
            let mut at = written;
            while at < message.len() {
                at += io.send_some(&message[at..]).await?;
            }
            Ok::<(), io::Error>(())
        });
        match rest.await {
            Ok(result) => result.map_err(Into::into),
            Err(join) => Err(ChannelError::Io(io::Error::other(join.to_string()))),
        }
    }
}

/// What both async ends share: the blocking end and its tokio channel.
#[derive(Debug)]
struct AsyncEnd<E> {
    end: Arc<E>,
    io: StdMutex<IoSlot>,
}

/// The tokio side of the end's channel, made on first use.
#[derive(Debug, Default)]
struct IoSlot {
    current: Option<Arc<AsyncIo>>,
    /// The one before a reset, while an operation still holds it: a channel
    /// registers with the runtime only once, so it is taken up again if the
    /// end still has the same channel.
    last: Weak<AsyncIo>,
}

/// The blocking end operations the async layer needs.
trait BlockingEnd: Send + Sync + 'static {
    fn inner(&self) -> &super::end::End;
}

impl BlockingEnd for PipeServer {
    fn inner(&self) -> &super::end::End {
        &self.end
    }
}

impl BlockingEnd for PipeClient {
    fn inner(&self) -> &super::end::End {
        &self.end
    }
}

fn joined(op: &'static str, e: &tokio::task::JoinError) -> Error {
    Error::new(ErrorKind::Protocol, Win32Error::ERROR_OPERATION_ABORTED, op, None, e.to_string())
}

impl<E: BlockingEnd> AsyncEnd<E> {
    fn new(end: E) -> Self {
        Self { end: Arc::new(end), io: StdMutex::new(IoSlot::default()) }
    }

    fn reset(&self) {
        let mut slot = self.io.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(io) = slot.current.take() {
            slot.last = Arc::downgrade(&io);
        }
    }

    /// The channel, made ready for tokio on first use.
    async fn io(&self, op: &'static str) -> Result<Arc<AsyncIo>> {
        if let Some(io) = self.io.lock().unwrap_or_else(PoisonError::into_inner).current.as_ref() {
            return Ok(Arc::clone(io));
        }
        let end = Arc::clone(&self.end);
        let made = tokio::task::spawn_blocking(move || end.inner().channel(op, Direction::Read)).await;
        let channel = made.map_err(|e| joined(op, &e))??;
        let mut slot = self.io.lock().unwrap_or_else(PoisonError::into_inner);
        let same = |io: &Arc<AsyncIo>| Arc::ptr_eq(&io.channel, &channel);
        // Another operation may have made it meanwhile, or a reset left it in use.
        if let Some(io) = slot.current.clone().filter(same).or_else(|| slot.last.upgrade().filter(same)) {
            slot.current = Some(Arc::clone(&io));
            return Ok(io);
        }
        let io = AsyncIo::new(channel)
            .map_err(|e| self.end.inner().error(op, Win32Error::ERROR_INVALID_HANDLE, e.to_string()))?;
        let io = Arc::new(io);
        slot.current = Some(Arc::clone(&io));
        Ok(io)
    }

    /// Turns a channel failure into the Win32 error, asking the broker (off
    /// the runtime's threads) what became of the connection.
    async fn fail(&self, op: &'static str, direction: Direction, e: ChannelError) -> Error {
        match e {
            ChannelError::Closed => {
                let end = Arc::clone(&self.end);
                match tokio::task::spawn_blocking(move || end.inner().state_error(op, direction)).await {
                    Ok(e) => e,
                    Err(join) => joined(op, &join),
                }
            }
            other => self.end.inner().map(op, direction, other),
        }
    }

    async fn read(&self, buf: &mut [u8]) -> Result<Received> {
        let op = "ReadFile";
        self.end.inner().need(op, FILE_READ_DATA)?;
        let io = self.io(op).await?;
        let got = if self.end.inner().read_mode() == PipeMode::Message {
            io.read_message(buf).await
        } else {
            io.read_bytes(buf).await
        };
        match got {
            Ok(r) => Ok(r),
            Err(e) => Err(self.fail(op, Direction::Read, e).await),
        }
    }

    async fn write(&self, data: &[u8]) -> Result<()> {
        let op = "WriteFile";
        self.end.inner().need(op, FILE_WRITE_DATA)?;
        let io = self.io(op).await?;
        match io.write(data).await {
            Ok(()) => Ok(()),
            Err(e) => Err(self.fail(op, Direction::Write, e).await),
        }
    }

    async fn transact(&self, input: &[u8], output: &mut [u8]) -> Result<Received> {
        let op = "TransactNamedPipe";
        let end = self.end.inner();
        if end.pipe_type != PipeMode::Message || end.read_mode() != PipeMode::Message {
            return Err(end.error(
                op,
                Win32Error::ERROR_BAD_PIPE,
                "transact needs a message-type pipe in message read mode",
            ));
        }
        let io = self.io(op).await?;
        let outcome = async {
            if io.has_unread().await? {
                return Ok(None);
            }
            io.write(input).await?;
            io.read_message(output).await.map(Some)
        };
        match outcome.await {
            Ok(Some(r)) => Ok(r),
            Ok(None) => Err(end.error(op, Win32Error::ERROR_PIPE_BUSY, "unread data is waiting for this end")),
            Err(e) => Err(self.fail(op, Direction::Read, e).await),
        }
    }
}

/// Sends `CancelIo` for a connect whose future was dropped.
struct CancelConnectOnDrop {
    conn: Connection,
    handle: switchboard_types::Handle,
    armed: bool,
}

impl Drop for CancelConnectOnDrop {
    fn drop(&mut self) {
        if self.armed {
            self.conn.send_and_forget(switchboard_proto::CancelConnect { handle: self.handle });
        }
    }
}

/// The server end of a pipe instance, for tokio.
#[derive(Debug)]
pub struct AsyncPipeServer(AsyncEnd<PipeServer>);

/// The client end of a pipe, for tokio.
#[derive(Debug)]
pub struct AsyncPipeClient(AsyncEnd<PipeClient>);

impl AsyncPipeServer {
    /// Creates an instance (`CreateNamedPipe`) without blocking the runtime.
    pub async fn create(options: ServerOptions, conn: &Connection, name: &str) -> Result<Self> {
        let (conn, name) = (conn.clone(), name.to_owned());
        let made = tokio::task::spawn_blocking(move || options.create(&conn, &name)).await;
        Ok(Self::from_blocking(made.map_err(|e| joined("CreateNamedPipe", &e))??))
    }

    /// Wraps a blocking server end; this async end owns its I/O from now on.
    pub fn from_blocking(server: PipeServer) -> Self {
        Self(AsyncEnd::new(server))
    }

    /// Waits for a client (`ConnectNamedPipe`, overlapped). Dropping the
    /// future cancels the wait at the broker (`CancelIo`).
    pub async fn connect(&self) -> Result<Connected> {
        let end = Arc::clone(&self.0.end);
        let mut guard = CancelConnectOnDrop {
            conn: end.end.handle.connection().clone(),
            handle: end.end.handle.raw(),
            armed: true,
        };
        let outcome = tokio::task::spawn_blocking(move || end.connect(None)).await;
        guard.armed = false;
        self.0.reset();
        outcome.map_err(|e| joined("ConnectNamedPipe", &e))?
    }

    /// Cuts the connection (`DisconnectNamedPipe`).
    pub async fn disconnect(&self) -> Result<()> {
        let end = Arc::clone(&self.0.end);
        let outcome = tokio::task::spawn_blocking(move || end.disconnect()).await;
        self.0.reset();
        outcome.map_err(|e| joined("DisconnectNamedPipe", &e))?
    }

    /// Reads (see [`PipeServer::read`]); cancel-safe.
    pub async fn read(&self, buf: &mut [u8]) -> Result<Received> {
        self.0.read(buf).await
    }

    /// Writes one message or these bytes (see the module doc on cancelling).
    pub async fn write(&self, data: &[u8]) -> Result<()> {
        self.0.write(data).await
    }

    /// Writes a message and reads the reply (`TransactNamedPipe`).
    pub async fn transact(&self, input: &[u8], output: &mut [u8]) -> Result<Received> {
        self.0.transact(input, output).await
    }

    /// The blocking end underneath (for its information and modes).
    pub fn blocking(&self) -> &PipeServer {
        &self.0.end
    }
}

impl AsyncPipeClient {
    /// Opens the pipe (`CreateFile`) without blocking the runtime.
    pub async fn open(conn: &Connection, name: &str, access: impl Into<AccessMask>) -> Result<Self> {
        let access = access.into();
        let (conn, name) = (conn.clone(), name.to_owned());
        let opened = tokio::task::spawn_blocking(move || PipeClient::open(&conn, &name, access)).await;
        Ok(Self(AsyncEnd::new(opened.map_err(|e| joined("CreateFile", &e))??)))
    }

    /// Opens the pipe for reading and writing, in message read mode when it
    /// is a message-type pipe.
    pub async fn open_message(conn: &Connection, name: &str) -> Result<Self> {
        let client = Self::open(conn, name, GENERIC_READ_WRITE).await?;
        if client.0.end.end.pipe_type == PipeMode::Message {
            client.0.end.set_read_mode(PipeMode::Message)?;
        }
        Ok(client)
    }

    /// Reads (see [`PipeClient::read`]); cancel-safe.
    pub async fn read(&self, buf: &mut [u8]) -> Result<Received> {
        self.0.read(buf).await
    }

    /// Writes one message or these bytes (see the module doc on cancelling).
    pub async fn write(&self, data: &[u8]) -> Result<()> {
        self.0.write(data).await
    }

    /// Writes a message and reads the reply (`TransactNamedPipe`).
    pub async fn transact(&self, input: &[u8], output: &mut [u8]) -> Result<Received> {
        self.0.transact(input, output).await
    }

    /// The blocking end underneath (for its information and modes).
    pub fn blocking(&self) -> &PipeClient {
        &self.0.end
    }
}
