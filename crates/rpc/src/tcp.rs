//! `ncacn_ip_tcp`: a blocking server, one thread per connection, each
//! driving an [`Association`].

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

/// Drives one association until it or the peer closes.
pub fn serve_connection(mut stream: TcpStream, mut association: Association) -> io::Result<()> {
    stream.set_read_timeout(Some(IDLE_TIMEOUT))?;
    stream.set_nodelay(true)?;
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
