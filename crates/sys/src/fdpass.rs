//! Passing file descriptors over Unix sockets (`SCM_RIGHTS`), and the
//! socket pairs that carry pipe data between two processes.

use std::io::{self, IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::net::{
    AddressFamily, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SendAncillaryBuffer, SendAncillaryMessage,
    SendFlags, SocketFlags, SocketType,
};

/// The most descriptors one message may carry.
pub const MAX_FDS_PER_MESSAGE: usize = 8;

/// Sends `data`, with `fds` attached to its first byte. Returns how many
/// bytes were sent (the descriptors go with the first byte, so a short write
/// has still delivered them all).
pub fn send_with_fds(socket: impl AsFd, data: &[u8], fds: &[BorrowedFd<'_>]) -> io::Result<usize> {
    if fds.len() > MAX_FDS_PER_MESSAGE {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "too many descriptors in one message"));
    }
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS_PER_MESSAGE))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    if !fds.is_empty() && !control.push(SendAncillaryMessage::ScmRights(fds)) {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "descriptors do not fit the control buffer"));
    }
    Ok(rustix::net::sendmsg(socket, &[IoSlice::new(data)], &mut control, SendFlags::NOSIGNAL)?)
}

/// Receives into `buf`; descriptors that arrive are appended to `fds`
/// (close-on-exec). Returns how many bytes were read (0 at end of stream).
pub fn recv_with_fds(socket: impl AsFd, buf: &mut [u8], fds: &mut Vec<OwnedFd>) -> io::Result<usize> {
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS_PER_MESSAGE))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let got = rustix::net::recvmsg(socket, &mut [IoSliceMut::new(buf)], &mut control, RecvFlags::CMSG_CLOEXEC)?;
    for message in control.drain() {
        if let RecvAncillaryMessage::ScmRights(received) = message {
            fds.extend(received);
        }
    }
    Ok(got.bytes)
}

/// A connected pair of stream sockets, close-on-exec.
pub fn stream_pair() -> io::Result<(OwnedFd, OwnedFd)> {
    Ok(rustix::net::socketpair(AddressFamily::UNIX, SocketType::STREAM, SocketFlags::CLOEXEC, None)?)
}

/// A connected pair of datagram sockets, close-on-exec: messages keep their
/// boundaries and arrive in the order they were sent, whoever sent them
/// through duplicates of the sending end.
pub fn datagram_pair() -> io::Result<(OwnedFd, OwnedFd)> {
    Ok(rustix::net::socketpair(AddressFamily::UNIX, SocketType::DGRAM, SocketFlags::CLOEXEC, None)?)
}

/// Bytes waiting to be read on a socket (`FIONREAD`).
pub fn bytes_readable(socket: impl AsFd) -> io::Result<usize> {
    Ok(usize::try_from(rustix::io::ioctl_fionread(socket)?).unwrap_or(usize::MAX))
}

/// Bytes this end has sent that the peer has not read yet (`SIOCOUTQ`):
/// zero once the peer has taken everything. On Unix sockets the kernel counts
/// the memory of unread messages, so only "zero or not" is meaningful.
#[allow(unsafe_code)]
pub fn unread_by_peer(socket: impl AsFd) -> io::Result<usize> {
    use std::os::fd::AsRawFd;
    let mut queued: libc::c_int = 0;
    // SAFETY: SIOCOUTQ writes one c_int through the pointer, which points to a
    // live, aligned c_int; the descriptor is borrowed and stays open.
    let rc = unsafe { libc::ioctl(socket.as_fd().as_raw_fd(), libc::TIOCOUTQ, &raw mut queued) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(usize::try_from(queued).unwrap_or(0))
}

/// Shuts both directions of a socket down: the peer reads end of stream,
/// its writes fail.
pub fn shutdown_both(socket: impl AsFd) -> io::Result<()> {
    Ok(rustix::net::shutdown(socket, rustix::net::Shutdown::Both)?)
}

/// Reads and drops whatever is queued on a socket without blocking.
pub fn discard_queued(socket: impl AsFd) -> io::Result<usize> {
    let mut total = 0;
    let mut buf = [0u8; 16 * 1024];
    loop {
        match rustix::net::recv(&socket, &mut buf, RecvFlags::DONTWAIT) {
            Ok((0, _)) | Err(rustix::io::Errno::AGAIN) => return Ok(total),
            Ok((n, _)) => total += n,
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::unix::net::UnixStream;

    #[test]
    fn descriptors_travel_with_their_bytes() {
        let (a, b) = UnixStream::pair().unwrap();
        let (x, y) = stream_pair().unwrap();
        assert_eq!(send_with_fds(&a, b"hello", &[x.as_fd()]).unwrap(), 5);
        drop(x);
        let mut buf = [0u8; 16];
        let mut fds = Vec::new();
        assert_eq!(recv_with_fds(&b, &mut buf, &mut fds).unwrap(), 5);
        assert_eq!(&buf[..5], b"hello");
        assert_eq!(fds.len(), 1);
        // The received descriptor is the other end of the pair.
        let mut received = UnixStream::from(fds.pop().unwrap());
        let mut y = UnixStream::from(y);
        received.write_all(b"ping").unwrap();
        let mut got = [0u8; 4];
        y.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"ping");
    }

    #[test]
    fn queued_bytes_are_counted_and_discarded() {
        let (a, b) = stream_pair().unwrap();
        rustix::io::write(&a, b"twelve bytes").unwrap();
        assert_eq!(bytes_readable(&b).unwrap(), 12);
        assert_eq!(discard_queued(&b).unwrap(), 12);
        assert_eq!(bytes_readable(&b).unwrap(), 0);
    }

    #[test]
    fn unread_by_peer_drops_to_zero_once_read() {
        let (a, b) = stream_pair().unwrap();
        assert_eq!(unread_by_peer(&a).unwrap(), 0);
        rustix::io::write(&a, b"unread").unwrap();
        assert!(unread_by_peer(&a).unwrap() > 0);
        discard_queued(&b).unwrap();
        assert_eq!(unread_by_peer(&a).unwrap(), 0);
    }

    #[test]
    fn shutdown_gives_the_peer_end_of_stream() {
        let (a, b) = stream_pair().unwrap();
        shutdown_both(&a).unwrap();
        let mut b = UnixStream::from(b);
        let mut buf = [0u8; 4];
        assert_eq!(b.read(&mut buf).unwrap(), 0);
    }
}
