//! The stream transports: `ncacn_ip_tcp`, and `ncalrpc` as an `AF_UNIX`
//! stream socket at `<dir>/<endpoint>` (the convention Samba uses). A
//! blocking server, one thread per connection, each driving an
//! [`Association`].

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::server::{Association, Interface};

/// How long a connection may stay silent before it is closed.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(300);

/// Serves `listener` for ever: every connection gets its own association,
/// with the interfaces `make` returns.
pub fn serve(listener: &TcpListener, make: &Arc<dyn Fn() -> Vec<Box<dyn Interface>> + Send + Sync>) -> io::Result<()> {
    let groups = Arc::new(AtomicU32::new(0x1000));
    let port = listener.local_addr()?.port().to_string();
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let (make, groups, port) = (Arc::clone(make), Arc::clone(&groups), port.clone());
        std::thread::Builder::new().name("rpc-connection".into()).spawn(move || {
            let group = groups.fetch_add(1, Ordering::Relaxed);
            let _ = serve_connection(stream, Association::new(make(), group, &port));
        })?;
    }
    Ok(())
}

/// Serves an `ncalrpc` endpoint (a Unix socket) for ever.
pub fn serve_local(
    listener: &std::os::unix::net::UnixListener,
    endpoint: &str,
    make: &Arc<dyn Fn() -> Vec<Box<dyn Interface>> + Send + Sync>,
) -> io::Result<()> {
    let groups = Arc::new(AtomicU32::new(0x1000));
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let (make, groups, endpoint) = (Arc::clone(make), Arc::clone(&groups), endpoint.to_owned());
        std::thread::Builder::new().name("rpc-connection".into()).spawn(move || {
            let group = groups.fetch_add(1, Ordering::Relaxed);
            let _ = stream.set_read_timeout(Some(IDLE_TIMEOUT));
            let _ = serve_stream(stream, Association::new(make(), group, &endpoint));
        })?;
    }
    Ok(())
}

/// Drives one association over TCP until it or the peer closes.
pub fn serve_connection(stream: TcpStream, association: Association) -> io::Result<()> {
    stream.set_read_timeout(Some(IDLE_TIMEOUT))?;
    stream.set_nodelay(true)?;
    serve_stream(stream, association)
}

/// Drives one association over any byte stream until it or the peer closes.
pub fn serve_stream(mut stream: impl Read + Write, mut association: Association) -> io::Result<()> {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        let received = association.receive(&buf[..n]);
        while let Some(bytes) = association.poll_transmit() {
            stream.write_all(&bytes)?;
        }
        if let Err(e) = received {
            return Err(io::Error::new(io::ErrorKind::InvalidData, e.to_string()));
        }
        if association.is_closed() {
            return Ok(());
        }
    }
}
