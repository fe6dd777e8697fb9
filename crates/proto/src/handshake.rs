//! The handshake: fixed layouts that never change, so that a client and a
//! broker of different versions can always tell each other who they are.
//!
//! Client → broker, 8 bytes: `b"SWBD"`, protocol version (u32 LE).
//! Broker → client: `b"SWBD"`, protocol version (u32 LE), broker pid (u32 LE),
//! status (u8), message length (u16 LE), message (UTF-8).

/// The version of the control protocol this build speaks.
pub const PROTOCOL_VERSION: u32 = 4;

const MAGIC: &[u8; 4] = b"SWBD";

/// The client's opening bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hello {
    /// The protocol version the client speaks.
    pub version: u32,
}

/// Length of an encoded [`Hello`].
pub const HELLO_LEN: usize = 8;

impl Hello {
    /// This build's hello.
    pub const fn current() -> Self {
        Self { version: PROTOCOL_VERSION }
    }

    /// The wire form.
    pub fn encode(&self) -> [u8; HELLO_LEN] {
        let mut out = [0u8; HELLO_LEN];
        out[..4].copy_from_slice(MAGIC);
        out[4..].copy_from_slice(&self.version.to_le_bytes());
        out
    }

    /// Reads a hello; `Ok(None)` when more bytes are needed.
    pub fn decode(buf: &[u8]) -> Result<Option<Self>, HandshakeError> {
        if !has_magic(buf, HELLO_LEN)? {
            return Ok(None);
        }
        Ok(Some(Self { version: read_u32(&buf[4..8]) }))
    }
}

/// The broker's verdict on a hello.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HandshakeStatus {
    /// Welcome: frames may follow.
    Accepted,
    /// The client speaks another protocol version.
    VersionMismatch,
    /// The broker refuses this client (for example, too many clients).
    Refused,
    /// The client's user is at its quota of connections (`ERROR_NOT_ENOUGH_QUOTA`).
    OverQuota,
}

/// The broker's answer to a hello.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HandshakeReply {
    /// The broker's protocol version.
    pub version: u32,
    /// The broker's process id.
    pub pid: u32,
    /// The verdict.
    pub status: HandshakeStatus,
    /// Why, when not accepted.
    pub message: String,
}

impl HandshakeReply {
    /// The wire form.
    pub fn encode(&self) -> Vec<u8> {
        let message = &self.message.as_bytes()[..self.message.len().min(u16::MAX as usize)];
        let mut out = Vec::with_capacity(15 + message.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&self.version.to_le_bytes());
        out.extend_from_slice(&self.pid.to_le_bytes());
        out.push(match self.status {
            HandshakeStatus::Accepted => 0,
            HandshakeStatus::VersionMismatch => 1,
            HandshakeStatus::Refused => 2,
            HandshakeStatus::OverQuota => 3,
        });
        out.extend_from_slice(&(message.len() as u16).to_le_bytes());
        out.extend_from_slice(message);
        out
    }

    /// Reads a reply: `Ok(Some((reply, bytes used)))`, or `Ok(None)` when more
    /// bytes are needed.
    pub fn decode(buf: &[u8]) -> Result<Option<(Self, usize)>, HandshakeError> {
        if !has_magic(buf, 15)? {
            return Ok(None);
        }
        let status = match buf[12] {
            0 => HandshakeStatus::Accepted,
            1 => HandshakeStatus::VersionMismatch,
            2 => HandshakeStatus::Refused,
            3 => HandshakeStatus::OverQuota,
            other => return Err(HandshakeError::BadStatus(other)),
        };
        let len = usize::from(u16::from_le_bytes([buf[13], buf[14]]));
        let Some(text) = buf.get(15..15 + len) else {
            return Ok(None);
        };
        let reply = Self {
            version: read_u32(&buf[4..8]),
            pid: read_u32(&buf[8..12]),
            status,
            message: String::from_utf8_lossy(text).into_owned(),
        };
        Ok(Some((reply, 15 + len)))
    }
}

/// Whether `buf` holds at least `len` bytes starting with the magic; an error
/// as soon as the bytes so far cannot be the magic.
fn has_magic(buf: &[u8], len: usize) -> Result<bool, HandshakeError> {
    let seen = &buf[..buf.len().min(4)];
    if !MAGIC.starts_with(seen) {
        return Err(HandshakeError::NotSwitchboard);
    }
    Ok(buf.len() >= len)
}

fn read_u32(b: &[u8]) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[..4]);
    u32::from_le_bytes(a)
}

/// Why a handshake failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HandshakeError {
    /// The peer is not speaking the Switchboard protocol.
    NotSwitchboard,
    /// An unknown status byte.
    BadStatus(u8),
}

impl std::fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotSwitchboard => f.write_str("the peer does not speak the Switchboard protocol"),
            Self::BadStatus(b) => write!(f, "unknown handshake status {b}"),
        }
    }
}

impl std::error::Error for HandshakeError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hello_round_trips_and_waits_for_more() {
        let bytes = Hello::current().encode();
        assert_eq!(Hello::decode(&bytes[..5]), Ok(None));
        assert_eq!(Hello::decode(&bytes), Ok(Some(Hello::current())));
        assert_eq!(Hello::decode(b"GET / HTTP/1.1"), Err(HandshakeError::NotSwitchboard));
    }

    #[test]
    fn reply_round_trips() {
        let reply = HandshakeReply {
            version: 9,
            pid: 1234,
            status: HandshakeStatus::VersionMismatch,
            message: "speak 9".into(),
        };
        let bytes = reply.encode();
        assert_eq!(HandshakeReply::decode(&bytes[..bytes.len() - 1]), Ok(None));
        assert_eq!(HandshakeReply::decode(&bytes), Ok(Some((reply, bytes.len()))));
    }
}
