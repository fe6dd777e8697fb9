//! The client runtime: a [`Connection`] to one interface at a string
//! binding, whose calls have a timeout, can be cancelled from another
//! thread ([`Canceller`]), and reconnect when the association was lost
//! (the server closed an idle connection, or a call timed out or was
//! cancelled). A call is never sent twice: a reconnection happens only
//! before a request goes out.
//!
//! ```no_run
//! use switchboard_rpc::binding::Binding;
//! use switchboard_rpc::connection::{Connection, Options};
//! use switchboard_rpc::example::SwitchboardExampleClient;
//!
//! let binding = Binding::parse("ncacn_ip_tcp:127.0.0.1[5000]").unwrap();
//! let rpc = Connection::connect(&binding, switchboard_rpc::example::syntax(), &Options::default())?;
//! let mut example = SwitchboardExampleClient::new(rpc);
//! assert_eq!(example.add(40, 2)?, 42);
//! # Ok::<(), switchboard_rpc::client::Error>(())
//! ```

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::binding::Binding;
use crate::client::{Call, Client, Error, Reply};
use crate::uuid::SyntaxId;

/// How a [`Connection`] connects and calls.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// How long connecting and binding may take.
    pub connect_timeout: Duration,
    /// How long a call may wait for its answer.
    pub call_timeout: Duration,
    /// Where `ncalrpc` endpoints live (`<dir>/<endpoint>`): by default the
    /// realm's own ([`crate::local::default_dir`]); empty when no realm
    /// could be found, and then `ncalrpc` bindings fail to connect.
    pub ncalrpc_dir: PathBuf,
    /// The broker's socket for `ncacn_np` (`None`: the user's default).
    pub broker_socket: Option<PathBuf>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            call_timeout: Duration::from_secs(60),
            ncalrpc_dir: crate::local::default_dir().unwrap_or_default(),
            broker_socket: None,
        }
    }
}

/// A connected stream of either transport.
#[derive(Debug)]
pub enum Stream {
    /// `ncacn_ip_tcp`.
    Tcp(TcpStream),
    /// `ncalrpc`.
    Local(UnixStream),
    /// `ncacn_np`.
    Pipe(crate::np::PipeStream),
}

impl Stream {
    fn connect(binding: &Binding, options: &Options) -> io::Result<Self> {
        match binding {
            Binding::Tcp { host, port } => {
                let mut last = io::Error::from(io::ErrorKind::NotFound);
                for addr in (host.as_str(), *port).to_socket_addrs()? {
                    match TcpStream::connect_timeout(&addr, options.connect_timeout) {
                        Ok(s) => {
                            s.set_nodelay(true)?;
                            return Ok(Self::Tcp(s));
                        }
                        Err(e) => last = e,
                    }
                }
                Err(last)
            }
            Binding::Local { endpoint } => Ok(Self::Local(crate::local::connect(&options.ncalrpc_dir, endpoint)?)),
            Binding::Pipe { host, endpoint } => {
                if !matches!(host.as_str(), "" | "." | "localhost" | "127.0.0.1") {
                    return Err(io::Error::new(
                        io::ErrorKind::Unsupported,
                        "ncacn_np to another machine is not supported yet",
                    ));
                }
                let mut connect = switchboard::ConnectOptions::new();
                if let Some(socket) = &options.broker_socket {
                    connect = connect.socket(socket);
                }
                let conn = connect.connect().map_err(io::Error::from)?;
                Ok(Self::Pipe(crate::np::PipeStream::open(&conn, endpoint)?))
            }
            // `Binding` may gain protocol sequences before this runtime speaks them.
            _ => Err(io::Error::new(io::ErrorKind::Unsupported, format!("no transport for {binding}"))),
        }
    }

    /// Sets the read timeout.
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        match self {
            Self::Tcp(s) => s.set_read_timeout(timeout),
            Self::Local(s) => s.set_read_timeout(timeout),
            Self::Pipe(s) => {
                s.set_read_timeout(timeout);
                Ok(())
            }
        }
    }

    /// Sets the write timeout (a server that stops reading cannot block a call for ever).
    pub fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        match self {
            Self::Tcp(s) => s.set_write_timeout(timeout),
            Self::Local(s) => s.set_write_timeout(timeout),
            // Pipe writes wait for room in the pipe's buffer; the read timeout bounds the call.
            Self::Pipe(_) => Ok(()),
        }
    }

    fn try_clone(&self) -> io::Result<Self> {
        Ok(match self {
            Self::Tcp(s) => Self::Tcp(s.try_clone()?),
            Self::Local(s) => Self::Local(s.try_clone()?),
            // The pipe's channel under another descriptor: enough to shut it down.
            Self::Pipe(p) => Self::Local(p.duplicate_channel()?),
        })
    }

    fn shutdown(&self) {
        let _ = match self {
            Self::Tcp(s) => s.shutdown(Shutdown::Both),
            Self::Local(s) => s.shutdown(Shutdown::Both),
            Self::Pipe(_) => Ok(()),
        };
    }

    /// Whether the peer has closed its end (checked without blocking).
    fn closed_by_peer(&self) -> bool {
        let mut byte = [0u8; 1];
        let flags = rustix::net::RecvFlags::PEEK | rustix::net::RecvFlags::DONTWAIT;
        let peeked = match self {
            Self::Tcp(s) => rustix::net::recv(s, &mut byte, flags),
            Self::Local(s) => rustix::net::recv(s, &mut byte, flags),
            Self::Pipe(p) => return p.closed_by_peer(),
        };
        match peeked {
            Ok((0, _)) => true,
            Ok(_) => false,
            Err(e) => e != rustix::io::Errno::AGAIN,
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Self::Tcp(s) => s.read(buf),
            Self::Local(s) => s.read(buf),
            Self::Pipe(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Self::Tcp(s) => s.write(buf),
            Self::Local(s) => s.write(buf),
            Self::Pipe(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Self::Tcp(s) => s.flush(),
            Self::Local(s) => s.flush(),
            Self::Pipe(s) => s.flush(),
        }
    }
}

/// What a [`Canceller`] shares with its connection.
#[derive(Debug, Default)]
struct CancelState {
    /// The connection's stream under a second descriptor (made once per
    /// connection, not per call), and whether a call is in progress.
    current: Mutex<(Option<Stream>, bool)>,
    cancelled: AtomicBool,
}

/// Cancels the call a [`Connection`] is waiting on, from another thread.
#[derive(Clone, Debug)]
pub struct Canceller(Arc<CancelState>);

impl Canceller {
    /// Cancels the call in progress, if any: the connection is closed
    /// (which orphans the call at the server: C706 ends a lost
    /// association's calls) and the call returns [`Error::Cancelled`]; the
    /// next call connects anew. Returns whether a call was in progress.
    pub fn cancel(&self) -> bool {
        let current = self.0.current.lock().unwrap_or_else(PoisonError::into_inner);
        let (Some(stream), true) = &*current else { return false };
        self.0.cancelled.store(true, Ordering::SeqCst);
        stream.shutdown();
        true
    }
}

/// A client connection to one interface, calls and reconnects included.
#[derive(Debug)]
pub struct Connection {
    binding: Binding,
    interface: SyntaxId,
    options: Options,
    client: Option<Client<Stream>>,
    cancel: Arc<CancelState>,
}

fn set_timeout(stream: &Stream, timeout: Option<Duration>) -> io::Result<()> {
    stream.set_read_timeout(timeout)
}

impl Connection {
    /// Connects to `binding` and binds `interface`, within the connect timeout.
    pub fn connect(binding: &Binding, interface: SyntaxId, options: &Options) -> Result<Self, Error> {
        let mut c = Self {
            binding: binding.clone(),
            interface,
            options: options.clone(),
            client: None,
            cancel: Arc::default(),
        };
        c.reconnect()?;
        Ok(c)
    }

    /// The binding this connection goes to.
    pub fn binding(&self) -> &Binding {
        &self.binding
    }

    /// Whether the server has closed the connection (an idle timeout): the
    /// next call reconnects.
    pub fn peer_closed(&self) -> bool {
        self.client.as_ref().is_none_or(|c| c.stream().closed_by_peer())
    }

    /// A handle that cancels this connection's calls from another thread.
    pub fn canceller(&self) -> Canceller {
        Canceller(Arc::clone(&self.cancel))
    }

    /// Drops the association: the client and the canceller's descriptor of
    /// its stream (which would otherwise keep the connection open).
    fn drop_client(&mut self) -> Option<Client<Stream>> {
        self.cancel.current.lock().unwrap_or_else(PoisonError::into_inner).0 = None;
        self.client.take()
    }

    fn reconnect(&mut self) -> Result<(), Error> {
        self.drop_client();
        let stream = Stream::connect(&self.binding, &self.options)?;
        stream.set_write_timeout(Some(self.options.call_timeout))?;
        let deadline = Instant::now() + self.options.connect_timeout;
        let client =
            Client::bind_until(stream, self.interface, Some((deadline, set_timeout))).map_err(|e| match e.kind() {
                io::ErrorKind::InvalidData => Error::BindRefused(e.to_string()),
                _ => Error::Io(e),
            })?;
        self.cancel.current.lock().unwrap_or_else(PoisonError::into_inner).0 = client.stream().try_clone().ok();
        self.client = Some(client);
        Ok(())
    }
}

impl Call for Connection {
    fn call(&mut self, opnum: u16, stub: Vec<u8>) -> Result<Reply, Error> {
        // Only before anything is sent: a lost association is replaced.
        if self.client.as_ref().is_none_or(|c| c.stream().closed_by_peer()) {
            self.reconnect()?;
        }
        let Some(client) = self.client.as_mut() else { return Err(Error::Protocol("not connected".into())) };
        client.set_deadline(Some(Instant::now() + self.options.call_timeout), set_timeout);
        self.cancel.cancelled.store(false, Ordering::SeqCst);
        self.cancel.current.lock().unwrap_or_else(PoisonError::into_inner).1 = true;
        let result = Client::call(client, opnum, &stub);
        self.cancel.current.lock().unwrap_or_else(PoisonError::into_inner).1 = false;
        let cancelled = self.cancel.cancelled.swap(false, Ordering::SeqCst);
        match result {
            Ok(reply) => Ok(reply),
            Err(_) if cancelled => {
                self.drop_client();
                Err(Error::Cancelled { opnum })
            }
            Err(Error::Io(e)) if matches!(e.kind(), io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock) => {
                // The answer may still come: tell the server it is not
                // wanted, and start afresh next time.
                if let Some(mut c) = self.drop_client() {
                    let _ = c.orphan();
                }
                Err(Error::Timeout { opnum })
            }
            // A fault is an answer: the association is fine.
            Err(e @ Error::Fault { .. }) => Err(e),
            Err(e) => {
                self.drop_client();
                Err(e)
            }
        }
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.drop_client();
    }
}
