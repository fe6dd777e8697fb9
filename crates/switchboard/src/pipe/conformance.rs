//! The pipe conformance suite: what every [`Transport`] must give the pipe
//! semantics, written once and generic over a connected transport pair
//! (iceoryx2's conformance tests work the same way).
//!
//! Each check takes a [`Pair`] constructor; [`conformance_suite!`] turns the
//! whole list into `#[test]`s for one implementation. A new transport adds
//! one line at the bottom of this file and must pass every check.

use std::time::{Duration, Instant};

use super::channel::{Channel, ChannelError};
use super::framing::{Peek, Received};
use super::transport::Transport;

/// Makes two connected transports: what one sends, the other receives.
pub(crate) type Pair = fn() -> (Box<dyn Transport>, Box<dyn Transport>);

const ELEVEN: &[u8] = b"hello world";
const TEN: &[u8] = b"0123456789";

fn channels(pair: Pair, framed: bool) -> (Channel, Channel) {
    let (a, b) = pair();
    (Channel::new(a, framed), Channel::new(b, framed))
}

pub(crate) fn byte_pipe_reads_two_writes_as_one(pair: Pair) {
    let (w, r) = channels(pair, false);
    w.write(ELEVEN).unwrap();
    w.write(TEN).unwrap();
    let mut buf = [0u8; 32];
    let got = r.read_bytes(&mut buf, false, None).unwrap();
    assert_eq!(got, Received { len: 21, more: false });
    assert_eq!(&buf[..21], b"hello world0123456789");
}

pub(crate) fn byte_pipe_peek_reports_everything_available(pair: Pair) {
    let (w, r) = channels(pair, false);
    w.write(ELEVEN).unwrap();
    w.write(TEN).unwrap();
    let mut buf = [0u8; 4];
    assert_eq!(r.peek(&mut buf).unwrap(), Peek { len: 4, available: 21, left_in_message: None });
    assert_eq!(&buf, b"hell");
}

pub(crate) fn peek_takes_nothing(pair: Pair) {
    let (w, r) = channels(pair, true);
    w.write(ELEVEN).unwrap();
    let mut buf = [0u8; 32];
    r.peek(&mut buf).unwrap();
    r.peek(&mut buf).unwrap();
    assert_eq!(r.read_message(&mut buf, false, None).unwrap(), Received { len: 11, more: false });
    assert_eq!(&buf[..11], ELEVEN);
}

pub(crate) fn message_pipe_keeps_boundaries_and_peek_sees_all_messages(pair: Pair) {
    let (w, r) = channels(pair, true);
    w.write(ELEVEN).unwrap();
    w.write(TEN).unwrap();
    let mut small = [0u8; 4];
    assert_eq!(r.peek(&mut small).unwrap(), Peek { len: 4, available: 21, left_in_message: Some(7) });
    let mut buf = [0u8; 32];
    assert_eq!(r.read_message(&mut buf, false, None).unwrap(), Received { len: 11, more: false });
    assert_eq!(&buf[..11], ELEVEN);
    assert_eq!(r.read_message(&mut buf, false, None).unwrap(), Received { len: 10, more: false });
    assert_eq!(&buf[..10], TEN);
}

pub(crate) fn small_buffer_gets_more_data_and_the_rest_next_time(pair: Pair) {
    let (w, r) = channels(pair, true);
    w.write(ELEVEN).unwrap();
    let mut small = [0u8; 4];
    assert_eq!(r.read_message(&mut small, false, None).unwrap(), Received { len: 4, more: true });
    assert_eq!(&small, b"hell");
    let mut peeked = [0u8; 32];
    assert_eq!(r.peek(&mut peeked).unwrap(), Peek { len: 7, available: 7, left_in_message: Some(0) });
    let mut rest = [0u8; 32];
    assert_eq!(r.read_message(&mut rest, false, None).unwrap(), Received { len: 7, more: false });
    assert_eq!(&rest[..7], b"o world");
}

pub(crate) fn zero_length_message_is_read_as_zero_bytes(pair: Pair) {
    let (w, r) = channels(pair, true);
    w.write(b"").unwrap();
    w.write(b"x").unwrap();
    let mut buf = [0u8; 8];
    assert_eq!(r.read_message(&mut buf, false, None).unwrap(), Received { len: 0, more: false });
    assert_eq!(r.read_message(&mut buf, false, None).unwrap(), Received { len: 1, more: false });
}

pub(crate) fn zero_length_write_on_a_byte_pipe_sends_nothing(pair: Pair) {
    let (w, r) = channels(pair, false);
    w.write(b"").unwrap();
    let mut buf = [0u8; 8];
    assert!(matches!(r.read_bytes(&mut buf, true, None), Err(ChannelError::Empty)));
    assert!(!r.has_unread().unwrap());
}

pub(crate) fn nowait_read_of_an_empty_message_pipe_is_empty(pair: Pair) {
    let (_w, r) = channels(pair, true);
    let mut buf = [0u8; 8];
    assert!(matches!(r.read_message(&mut buf, true, None), Err(ChannelError::Empty)));
    assert!(matches!(r.read_bytes(&mut buf, true, None), Err(ChannelError::Empty)));
}

pub(crate) fn byte_read_mode_on_a_message_pipe_strips_headers(pair: Pair) {
    let (w, r) = channels(pair, true);
    w.write(ELEVEN).unwrap();
    w.write(TEN).unwrap();
    let mut buf = [0u8; 32];
    let got = r.read_bytes(&mut buf, false, None).unwrap();
    assert_eq!(&buf[..got.len], b"hello world0123456789");
}

pub(crate) fn unread_data_is_seen_until_it_is_read(pair: Pair) {
    let (w, r) = channels(pair, true);
    assert!(!r.has_unread().unwrap());
    w.write(ELEVEN).unwrap();
    assert!(r.has_unread().unwrap());
    let mut small = [0u8; 4];
    r.read_message(&mut small, false, None).unwrap();
    assert!(r.has_unread().unwrap(), "the rest of a partly read message is unread");
    let mut rest = [0u8; 32];
    r.read_message(&mut rest, false, None).unwrap();
    assert!(!r.has_unread().unwrap());
}

pub(crate) fn read_with_a_timeout_times_out_when_nothing_arrives(pair: Pair) {
    let (_w, r) = channels(pair, true);
    let mut buf = [0u8; 8];
    let timeout = Duration::from_millis(20);
    let started = Instant::now();
    assert!(matches!(r.read_message(&mut buf, false, Some(timeout)), Err(ChannelError::TimedOut)));
    assert!(started.elapsed() >= timeout);
}

pub(crate) fn flush_returns_once_the_peer_has_read_everything(pair: Pair) {
    let (w, r) = channels(pair, true);
    w.write(ELEVEN).unwrap();
    assert!(matches!(w.flush(Some(Instant::now())), Err(ChannelError::TimedOut)));
    let mut buf = [0u8; 32];
    r.read_message(&mut buf, false, None).unwrap();
    w.flush(None).unwrap();
}

pub(crate) fn data_written_before_close_is_read_then_closed(pair: Pair) {
    let (w, r) = channels(pair, true);
    w.write(ELEVEN).unwrap();
    drop(w);
    let mut buf = [0u8; 32];
    assert_eq!(r.read_message(&mut buf, false, None).unwrap().len, 11);
    assert!(matches!(r.read_message(&mut buf, false, None), Err(ChannelError::Closed)));
    assert!(matches!(r.read_bytes(&mut buf, true, None), Err(ChannelError::Closed)));
    assert!(matches!(r.peek(&mut buf), Err(ChannelError::Closed)));
}

pub(crate) fn byte_pipe_read_after_peer_close_is_closed(pair: Pair) {
    let (w, r) = channels(pair, false);
    drop(w);
    let mut buf = [0u8; 8];
    assert!(matches!(r.read_bytes(&mut buf, false, None), Err(ChannelError::Closed)));
}

pub(crate) fn write_and_flush_after_peer_close_are_closed(pair: Pair) {
    let (w, r) = channels(pair, true);
    drop(r);
    assert!(matches!(w.write(ELEVEN), Err(ChannelError::Closed)));
    assert!(matches!(w.flush(None), Err(ChannelError::Closed)));
}

pub(crate) fn large_message_arrives_whole(pair: Pair) {
    let (w, r) = channels(pair, true);
    let big: Vec<u8> = (0..1_000_000u32).map(|i| i.to_le_bytes()[0]).collect();
    let writer = std::thread::spawn(move || w.write(&big).map(|()| big));
    let mut buf = vec![0u8; 1_000_000];
    assert_eq!(r.read_message(&mut buf, false, None).unwrap(), Received { len: 1_000_000, more: false });
    let big = writer.join().unwrap().unwrap();
    assert_eq!(buf, big);
}

pub(crate) fn try_send_and_try_recv_do_not_block(pair: Pair) {
    let (a, b) = pair();
    let mut buf = [0u8; 16];
    assert_eq!(b.try_recv(&mut buf).unwrap(), None);
    assert_eq!(a.try_send(ELEVEN).unwrap(), Some(11));
    assert_eq!(b.try_recv(&mut buf).unwrap(), Some(11));
    assert_eq!(&buf[..11], ELEVEN);
    drop(a);
    assert_eq!(b.try_recv(&mut buf).unwrap(), Some(0));
}

/// Whether `transport`'s readiness hook polls readable right now.
fn polls_readable(transport: &dyn Transport) -> bool {
    use rustix::event::{PollFd, PollFlags, Timespec, poll};
    use std::os::fd::AsFd;
    let owner = transport.readiness();
    let fd = owner.as_fd();
    let mut fds = [PollFd::new(&fd, PollFlags::IN)];
    poll(&mut fds, Some(&Timespec { tv_sec: 0, tv_nsec: 0 })).unwrap();
    fds[0].revents().contains(PollFlags::IN)
}

pub(crate) fn readiness_hook_is_readable_exactly_while_data_waits(pair: Pair) {
    let (a, b) = pair();
    assert!(!polls_readable(&*b));
    a.send(&[], ELEVEN).unwrap();
    assert!(polls_readable(&*b));
    let mut buf = [0u8; 16];
    assert_eq!(b.try_recv(&mut buf).unwrap(), Some(11));
    assert!(!polls_readable(&*b));
    drop(a);
    assert!(polls_readable(&*b), "the end of the stream is readable");
}

/// Instantiates every check of the suite as a `#[test]` in a module `$name`
/// for the transports `$pair` makes.
macro_rules! conformance_suite {
    ($name:ident, $pair:expr) => {
        conformance_suite!(@tests $name, $pair,
            byte_pipe_reads_two_writes_as_one,
            byte_pipe_peek_reports_everything_available,
            peek_takes_nothing,
            message_pipe_keeps_boundaries_and_peek_sees_all_messages,
            small_buffer_gets_more_data_and_the_rest_next_time,
            zero_length_message_is_read_as_zero_bytes,
            zero_length_write_on_a_byte_pipe_sends_nothing,
            nowait_read_of_an_empty_message_pipe_is_empty,
            byte_read_mode_on_a_message_pipe_strips_headers,
            unread_data_is_seen_until_it_is_read,
            read_with_a_timeout_times_out_when_nothing_arrives,
            flush_returns_once_the_peer_has_read_everything,
            data_written_before_close_is_read_then_closed,
            byte_pipe_read_after_peer_close_is_closed,
            write_and_flush_after_peer_close_are_closed,
            large_message_arrives_whole,
            try_send_and_try_recv_do_not_block,
            readiness_hook_is_readable_exactly_while_data_waits,
        );
    };
    (@tests $name:ident, $pair:expr, $($check:ident),* $(,)?) => {
        mod $name {
            $(
                #[test]
                fn $check() {
                    super::$check($pair);
                }
            )*
        }
    };
}

fn socket_pair() -> (Box<dyn Transport>, Box<dyn Transport>) {
    let (a, b) = switchboard_sys::fdpass::stream_pair().expect("a socket pair");
    (super::transport::transport_for(a), super::transport::transport_for(b))
}

conformance_suite!(socket, super::socket_pair);
