//! Pipe framing and the partial-message state, without I/O: what the
//! blocking [`Channel`](super::channel::Channel) and the tokio paths share.
//!
//! On a message-type pipe every write is one message, sent as a 4-byte
//! little-endian length and the payload; byte-type pipes carry the bytes as
//! they are. A [`ReadState`] keeps what was taken from the transport but not
//! yet returned, and how much of the current message is left.
//!
//! Driving contract: a reader hands every receive's count to
//! [`ReadState::delivered`] (bytes received into [`ReadState::scratch`]) or
//! [`ReadState::delivered_direct`] (bytes received straight into the caller's
//! buffer), and asks the state what to return. A message read calls
//! [`ReadState::start_message`] until it is true, receiving more while it is
//! false, then [`ReadState::message_want`], takes that many bytes, and ends
//! with [`ReadState::finish_message`]; a byte read calls
//! [`ReadState::take_payload`], receiving more while it returns 0.

use std::fmt;

/// The length prefix of one message.
pub(crate) const HEADER: usize = 4;

/// The size of a receive into [`ReadState::scratch`].
pub(crate) const SCRATCH: usize = 64 * 1024;

/// What a read returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Received {
    /// Bytes copied into the buffer.
    pub len: usize,
    /// In message read mode: the message is not finished; the rest comes
    /// with the next read (`ERROR_MORE_DATA`).
    pub more: bool,
}

/// What a peek saw (`PeekNamedPipe`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Peek {
    /// Bytes copied into the buffer.
    pub len: usize,
    /// Data bytes waiting in the pipe, all messages together.
    pub available: usize,
    /// On a message-type pipe, bytes of the current message beyond those
    /// copied; `None` on a byte-type pipe.
    pub left_in_message: Option<usize>,
}

/// A message longer than its 4-byte length can say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MessageTooLong;

impl fmt::Display for MessageTooLong {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a message is limited to 4 GiB")
    }
}

impl std::error::Error for MessageTooLong {}

impl From<MessageTooLong> for std::io::Error {
    fn from(e: MessageTooLong) -> Self {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, e)
    }
}

/// What goes before a write's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    bytes: [u8; HEADER],
    framed: bool,
}

impl Header {
    /// The bytes to send first: the length on a message-type pipe, nothing
    /// on a byte-type one.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        if self.framed { &self.bytes } else { &[] }
    }
}

/// Frames a write of `len` bytes. `Ok(None)`: send nothing at all (a
/// zero-length write on a byte-type pipe); a zero-length write on a
/// message-type pipe is an empty message.
pub(crate) fn frame(framed: bool, len: usize) -> Result<Option<Header>, MessageTooLong> {
    if !framed {
        return Ok((len > 0).then_some(Header { bytes: [0; HEADER], framed }));
    }
    let len = u32::try_from(len).map_err(|_| MessageTooLong)?;
    Ok(Some(Header { bytes: len.to_le_bytes(), framed }))
}

/// The length in the header at the start of `raw` (0 if `raw` is shorter).
pub(crate) fn message_len(raw: &[u8]) -> usize {
    raw.get(..HEADER).map_or(0, |h| u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as usize)
}

/// The transport reached its end: nothing more will arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Eof;

/// The read side of one end: the partial-message state.
#[derive(Debug, Default)]
pub(crate) struct ReadState {
    /// Bytes taken from the transport and not yet returned.
    buf: Vec<u8>,
    /// Payload bytes left in the current message, once its header is read.
    left: Option<usize>,
    /// The transport reached its end.
    eof: bool,
    /// Where bytes are received before they join `buf`: allocated once, so
    /// no read pays for zeroing a fresh buffer.
    scratch: Vec<u8>,
}

impl ReadState {
    /// The receive buffer, made on first use; hand what was received into
    /// it to [`Self::delivered`].
    pub(crate) fn scratch(&mut self) -> &mut [u8] {
        if self.scratch.is_empty() {
            self.scratch = vec![0u8; SCRATCH];
        }
        &mut self.scratch
    }

    /// Whether the transport has ended; nothing should be received after.
    pub(crate) fn at_eof(&self) -> bool {
        self.eof
    }

    /// Records a receive of `n` bytes into the scratch buffer: they join the
    /// buffered bytes, or, when `n` is 0, the transport has ended.
    pub(crate) fn delivered(&mut self, n: usize) -> Result<(), Eof> {
        self.delivered_direct(n)?;
        self.buf.extend_from_slice(&self.scratch[..n]);
        Ok(())
    }

    /// Records a receive of `n` bytes straight into the caller's buffer:
    /// when `n` is 0, the transport has ended.
    pub(crate) fn delivered_direct(&mut self, n: usize) -> Result<(), Eof> {
        if n == 0 {
            self.eof = true;
            return Err(Eof);
        }
        Ok(())
    }

    /// How many bytes are buffered.
    pub(crate) fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Whether anything taken from the transport is still to be returned,
    /// or a message is under way.
    pub(crate) fn has_pending(&self) -> bool {
        !self.buf.is_empty() || self.left.is_some()
    }

    /// Parses the next message header if the current message is done and a
    /// whole header is buffered; true when a message is under way.
    pub(crate) fn start_message(&mut self) -> bool {
        if self.left.is_some() {
            return true;
        }
        if self.buf.len() < HEADER {
            return false;
        }
        self.left = Some(message_len(&self.buf));
        self.buf.drain(..HEADER);
        true
    }

    /// Once [`Self::start_message`] is true: how many bytes a message read
    /// into a buffer of `capacity` returns.
    pub(crate) fn message_want(&self, capacity: usize) -> usize {
        capacity.min(self.left.unwrap_or(0))
    }

    /// Moves buffered bytes, as many as fit, into `out`; no message
    /// accounting (a message read ends with [`Self::finish_message`]).
    pub(crate) fn take_buffered(&mut self, out: &mut [u8]) -> usize {
        let n = out.len().min(self.buf.len());
        out[..n].copy_from_slice(&self.buf[..n]);
        self.buf.drain(..n);
        n
    }

    /// Ends a message read that returned `want` bytes (from
    /// [`Self::message_want`]): records what is left of the message and
    /// says whether `ERROR_MORE_DATA` applies.
    pub(crate) fn finish_message(&mut self, want: usize) -> Received {
        let rest = self.left.unwrap_or(0) - want;
        self.left = (rest > 0).then_some(rest);
        Received { len: want, more: rest > 0 }
    }

    /// Moves payload bytes (headers stripped when `framed`) into `out`,
    /// across message boundaries.
    pub(crate) fn take_payload(&mut self, framed: bool, out: &mut [u8]) -> usize {
        if !framed {
            return self.take_buffered(out);
        }
        let mut copied = 0;
        while copied < out.len() && self.start_message() {
            let left = self.left.unwrap_or(0);
            if left == 0 {
                self.left = None;
                continue;
            }
            let n = (out.len() - copied).min(left).min(self.buf.len());
            if n == 0 {
                break;
            }
            out[copied..copied + n].copy_from_slice(&self.buf[..n]);
            self.buf.drain(..n);
            copied += n;
            self.left = (left > n).then_some(left - n);
        }
        copied
    }

    /// What a peek sees, given what the transport has queued beyond the
    /// buffered bytes (`None`: the transport has ended). `Err(Eof)` when
    /// there is nothing at all and the transport has ended. On a
    /// message-type pipe, only the current message is copied.
    pub(crate) fn peek(&self, framed: bool, queued: Option<Vec<u8>>, out: &mut [u8]) -> Result<Peek, Eof> {
        if queued.is_none() && !self.has_pending() {
            return Err(Eof);
        }
        let mut raw = self.buf.clone();
        raw.extend(queued.unwrap_or_default());
        if !framed {
            let n = out.len().min(raw.len());
            out[..n].copy_from_slice(&raw[..n]);
            return Ok(Peek { len: n, available: raw.len(), left_in_message: None });
        }
        let messages = split_messages(&raw, self.left);
        let available = messages.iter().map(|m| m.len()).sum();
        let Some(first) = messages.first() else {
            return Ok(Peek { len: 0, available: 0, left_in_message: Some(0) });
        };
        // The current message's full length may exceed what has arrived.
        let total = self.left.unwrap_or_else(|| message_len(&raw));
        let n = out.len().min(first.len());
        out[..n].copy_from_slice(&first[..n]);
        Ok(Peek { len: n, available, left_in_message: Some(total - n) })
    }
}

/// The payloads of the messages in `raw` (the last may be partial), given
/// that `left` bytes of a current message come first.
fn split_messages(raw: &[u8], left: Option<usize>) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut at = 0;
    if let Some(left) = left {
        let end = left.min(raw.len());
        out.push(&raw[..end]);
        at = end;
    }
    while raw.len() >= at + HEADER {
        let len = message_len(&raw[at..]);
        let start = at + HEADER;
        let end = (start + len).min(raw.len());
        out.push(&raw[start..end]);
        at = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Frames `payloads` as a message-type pipe's writer would.
    fn wire(payloads: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for p in payloads {
            out.extend_from_slice(frame(true, p.len()).unwrap().unwrap().as_bytes());
            out.extend_from_slice(p);
        }
        out
    }

    /// Delivers `bytes` to `state` as one receive.
    fn deliver(state: &mut ReadState, bytes: &[u8]) {
        state.scratch()[..bytes.len()].copy_from_slice(bytes);
        state.delivered(bytes.len()).unwrap();
    }

    /// A whole message read with everything buffered.
    fn read_message(state: &mut ReadState, out: &mut [u8]) -> Option<Received> {
        if !state.start_message() {
            return None;
        }
        let want = state.message_want(out.len());
        assert!(state.buffered() >= want, "the test delivers whole messages");
        assert_eq!(state.take_buffered(&mut out[..want]), want);
        Some(state.finish_message(want))
    }

    #[test]
    fn message_header_is_the_little_endian_length() {
        assert_eq!(frame(true, 258).unwrap().unwrap().as_bytes(), &[2, 1, 0, 0]);
        assert_eq!(frame(true, 0).unwrap().unwrap().as_bytes(), &[0, 0, 0, 0]);
    }

    #[test]
    fn byte_pipe_writes_have_no_header_and_empty_writes_send_nothing() {
        assert_eq!(frame(false, 5).unwrap().unwrap().as_bytes(), &[] as &[u8]);
        assert_eq!(frame(false, 0).unwrap(), None);
    }

    #[test]
    fn message_longer_than_four_gib_is_refused() {
        if let Ok(too_long) = usize::try_from(u64::from(u32::MAX) + 1) {
            assert_eq!(frame(true, too_long), Err(MessageTooLong));
        }
    }

    #[test]
    fn small_buffer_gets_more_data_and_the_rest_next_time() {
        let mut state = ReadState::default();
        deliver(&mut state, &wire(&[b"hello world"]));
        let mut small = [0u8; 4];
        assert_eq!(read_message(&mut state, &mut small), Some(Received { len: 4, more: true }));
        assert_eq!(&small, b"hell");
        let mut rest = [0u8; 32];
        assert_eq!(read_message(&mut state, &mut rest), Some(Received { len: 7, more: false }));
        assert_eq!(&rest[..7], b"o world");
        assert!(!state.has_pending());
    }

    #[test]
    fn header_split_across_receives_waits_for_the_rest() {
        let mut state = ReadState::default();
        let bytes = wire(&[b"abc"]);
        deliver(&mut state, &bytes[..2]);
        assert!(!state.start_message());
        deliver(&mut state, &bytes[2..]);
        let mut out = [0u8; 8];
        assert_eq!(read_message(&mut state, &mut out), Some(Received { len: 3, more: false }));
    }

    #[test]
    fn zero_length_message_reads_as_zero_bytes_without_more_data() {
        let mut state = ReadState::default();
        deliver(&mut state, &wire(&[b"", b"x"]));
        let mut out = [0u8; 8];
        assert_eq!(read_message(&mut state, &mut out), Some(Received { len: 0, more: false }));
        assert_eq!(read_message(&mut state, &mut out), Some(Received { len: 1, more: false }));
        assert_eq!(read_message(&mut state, &mut out), None);
    }

    #[test]
    fn byte_read_of_a_message_pipe_strips_headers_and_skips_empty_messages() {
        let mut state = ReadState::default();
        deliver(&mut state, &wire(&[b"ab", b"", b"cd"]));
        let mut out = [0u8; 8];
        assert_eq!(state.take_payload(true, &mut out), 4);
        assert_eq!(&out[..4], b"abcd");
    }

    #[test]
    fn byte_read_continues_a_message_begun_in_message_mode() {
        let mut state = ReadState::default();
        deliver(&mut state, &wire(&[b"hello", b"!"]));
        let mut two = [0u8; 2];
        assert_eq!(read_message(&mut state, &mut two), Some(Received { len: 2, more: true }));
        let mut out = [0u8; 8];
        assert_eq!(state.take_payload(true, &mut out), 4);
        assert_eq!(&out[..4], b"llo!");
    }

    #[test]
    fn peek_sees_the_current_message_and_everything_available() {
        let mut state = ReadState::default();
        let bytes = wire(&[b"hello world", b"0123456789"]);
        deliver(&mut state, &bytes[..6]);
        let mut small = [0u8; 4];
        let queued = Some(bytes[6..].to_vec());
        assert_eq!(state.peek(true, queued, &mut small), Ok(Peek { len: 4, available: 21, left_in_message: Some(7) }));
        assert_eq!(&small, b"hell");
    }

    #[test]
    fn peek_of_a_byte_pipe_counts_every_byte() {
        let mut state = ReadState::default();
        deliver(&mut state, b"abc");
        let mut out = [0u8; 2];
        assert_eq!(
            state.peek(false, Some(b"de".to_vec()), &mut out),
            Ok(Peek { len: 2, available: 5, left_in_message: None })
        );
    }

    #[test]
    fn peek_after_the_end_with_nothing_left_is_eof() {
        let state = ReadState::default();
        assert_eq!(state.peek(true, None, &mut [0u8; 4]), Err(Eof));
    }

    #[test]
    fn an_empty_receive_is_the_end_of_the_transport() {
        let mut state = ReadState::default();
        assert_eq!(state.delivered(0), Err(Eof));
        assert!(state.at_eof());
    }
}
