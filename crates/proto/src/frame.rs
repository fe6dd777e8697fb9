//! Length-prefixed frames: a little-endian `u32` body length, then the body.

use serde::{Serialize, de::DeserializeOwned};

/// The largest frame body a broker accepts unless configured otherwise.
pub const DEFAULT_MAX_FRAME: usize = (1 << 20) + 64 * 1024;

/// Why a frame could not be taken from the stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FrameError {
    /// The length prefix is larger than the limit; the stream cannot be
    /// resynchronised, so the connection must be dropped.
    TooLarge {
        /// The announced body length.
        len: usize,
        /// The limit in force.
        max: usize,
    },
    /// The body is not a valid message; the stream is still in step.
    Malformed(String),
}

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::TooLarge { len, max } => {
                write!(f, "frame of {len} bytes exceeds the limit of {max}")
            }
            Self::Malformed(why) => write!(f, "malformed frame body: {why}"),
        }
    }
}

impl std::error::Error for FrameError {}

/// Takes the first complete frame from `buf`: `Ok(Some((consumed, body)))`,
/// `Ok(None)` when more bytes are needed, or `TooLarge`.
pub fn split_frame(buf: &[u8], max: usize) -> Result<Option<(usize, &[u8])>, FrameError> {
    let Some(prefix) = buf.get(..4) else {
        return Ok(None);
    };
    let mut len_bytes = [0u8; 4];
    len_bytes.copy_from_slice(prefix);
    let len = u32::from_le_bytes(len_bytes) as usize;
    if len > max {
        return Err(FrameError::TooLarge { len, max });
    }
    Ok(buf.get(4..4 + len).map(|body| (4 + len, body)))
}

/// Appends `msg` to `out` as one frame.
pub fn encode_frame<T: Serialize>(msg: &T, out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    // Serializing our own message types into a Vec cannot fail: they hold no
    // maps with non-string keys and no types postcard refuses.
    let out_vec = std::mem::take(out);
    let mut out_vec = match postcard::to_extend(msg, out_vec) {
        Ok(v) => v,
        Err(e) => unreachable!("postcard cannot fail on protocol types: {e}"),
    };
    let len = (out_vec.len() - start - 4) as u32;
    out_vec[start..start + 4].copy_from_slice(&len.to_le_bytes());
    *out = out_vec;
}

/// Decodes a frame body. Trailing bytes are an error, so a frame means one thing.
pub fn decode_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, FrameError> {
    match postcard::take_from_bytes::<T>(body) {
        Ok((msg, [])) => Ok(msg),
        Ok((_, rest)) => Err(FrameError::Malformed(format!("{} trailing bytes", rest.len()))),
        Err(e) => Err(FrameError::Malformed(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_waits_for_a_whole_frame() {
        let mut out = Vec::new();
        encode_frame(&(7u32, String::from("hello")), &mut out);
        for cut in 0..out.len() {
            assert_eq!(split_frame(&out[..cut], 1024), Ok(None));
        }
        let (used, body) = split_frame(&out, 1024).unwrap().unwrap();
        assert_eq!(used, out.len());
        assert_eq!(decode_body::<(u32, String)>(body).unwrap(), (7, "hello".to_owned()));
    }

    #[test]
    fn oversized_length_is_refused_before_buffering() {
        let buf = 1_000_000u32.to_le_bytes();
        assert_eq!(split_frame(&buf, 1024), Err(FrameError::TooLarge { len: 1_000_000, max: 1024 }));
    }

    #[test]
    fn trailing_bytes_are_malformed() {
        let mut out = Vec::new();
        encode_frame(&1u8, &mut out);
        out.push(9);
        out[0] += 1;
        let (_, body) = split_frame(&out, 1024).unwrap().unwrap();
        assert!(matches!(decode_body::<u8>(body), Err(FrameError::Malformed(_))));
    }
}
