//! NDR20 (C706 chapter 14): the primitives every stub is made of, read in
//! the sender's byte order and written in ours, with NDR's alignment (each
//! primitive on a multiple of its size, relative to the stub's start).
//!
//! This is the layer the derive macro generates calls to:
//! integers, conformant arrays, `[string]` wide strings and `[unique]`
//! pointers' referent ids. A reader never panics and never allocates more
//! than the stub could hold.

use std::fmt;

use crate::DataRep;

/// Why stub data could not be read (a server answers with
/// [`crate::pdu::RPC_X_BAD_STUB_DATA`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NdrError {
    /// The byte offset in the stub.
    pub at: usize,
    /// What was wrong.
    pub reason: String,
}

impl fmt::Display for NdrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "stub byte {}: {}", self.at, self.reason)
    }
}

impl std::error::Error for NdrError {}

impl NdrError {
    /// The same error, said to be within `what` (a field or a parameter).
    #[must_use]
    pub fn within(mut self, what: &str) -> Self {
        if !self.reason.starts_with(what) {
            self.reason = format!("{what}: {}", self.reason);
        }
        self
    }
}

/// How deep referents may nest (see [`NdrReader::enter`]).
pub const MAX_DEPTH: u32 = 200;

/// Reads NDR20 stub data.
#[derive(Debug)]
pub struct NdrReader<'a> {
    bytes: &'a [u8],
    at: usize,
    drep: DataRep,
    last_referent: u32,
    depth: u32,
}

impl<'a> NdrReader<'a> {
    /// A reader over one call's whole stub data, written with `drep`.
    pub fn new(bytes: &'a [u8], drep: DataRep) -> Self {
        Self { bytes, at: 0, drep, last_referent: 0, depth: 0 }
    }

    /// Where the next read starts.
    pub fn position(&self) -> usize {
        self.at
    }

    fn fail(&self, reason: impl Into<String>) -> NdrError {
        NdrError { at: self.at, reason: reason.into() }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], NdrError> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len());
        let Some(end) = end else {
            return Err(self.fail(format!("{n} bytes wanted, {} left", self.bytes.len() - self.at)));
        };
        let got = &self.bytes[self.at..end];
        self.at = end;
        Ok(got)
    }

    /// Skips to a multiple of `n` (padding bytes are not checked, as C706 allows).
    pub fn align(&mut self, n: usize) -> Result<(), NdrError> {
        let pad = (n - self.at % n) % n;
        self.take(pad).map(drop)
    }

    /// A `small`/`byte`.
    pub fn u8(&mut self) -> Result<u8, NdrError> {
        Ok(self.take(1)?[0])
    }

    /// A `short`.
    pub fn u16(&mut self) -> Result<u16, NdrError> {
        self.align(2)?;
        let b = self.take(2)?;
        Ok(self.drep.u16([b[0], b[1]]))
    }

    /// A `long`.
    pub fn u32(&mut self) -> Result<u32, NdrError> {
        self.align(4)?;
        let b = self.take(4)?;
        Ok(self.drep.u32([b[0], b[1], b[2], b[3]]))
    }

    /// A signed `long`.
    pub fn i32(&mut self) -> Result<i32, NdrError> {
        self.u32().map(u32::cast_signed)
    }

    /// A `hyper`.
    pub fn u64(&mut self) -> Result<u64, NdrError> {
        self.align(8)?;
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(self.drep.u64(a))
    }

    /// A count (conformance or variance) that must fit in what is left,
    /// `unit` bytes an element, so nothing is allocated beyond the stub.
    fn count(&mut self, unit: usize) -> Result<usize, NdrError> {
        let n = usize::try_from(self.u32()?).unwrap_or(usize::MAX);
        let left = self.bytes.len() - self.at;
        if n.saturating_mul(unit) > left {
            return Err(self.fail(format!("a count of {n} elements does not fit the {left} bytes left")));
        }
        Ok(n)
    }

    /// A conformant array of bytes (`[size_is(n)] byte a[]`): the count, then the bytes.
    pub fn conformant_bytes(&mut self) -> Result<Vec<u8>, NdrError> {
        let n = self.count(1)?;
        Ok(self.take(n)?.to_vec())
    }

    /// A conformant array of `long`s.
    pub fn conformant_u32s(&mut self) -> Result<Vec<u32>, NdrError> {
        let n = self.count(4)?;
        (0..n).map(|_| self.u32()).collect()
    }

    /// A `[string] wchar_t*`'s referent: maximum count, offset, actual count,
    /// then the UTF-16 units, the last of which must be the NUL.
    pub fn wide_string(&mut self) -> Result<String, NdrError> {
        let max = self.count(2)?;
        let offset = self.u32()?;
        let actual = self.count(2)?;
        if offset != 0 || actual > max || actual == 0 {
            return Err(self.fail(format!("a string of max {max}, offset {offset}, length {actual}")));
        }
        let mut units = Vec::with_capacity(actual);
        for _ in 0..actual {
            let b = self.take(2)?;
            units.push(self.drep.u16([b[0], b[1]]));
        }
        if units.pop() != Some(0) {
            return Err(self.fail("a [string] without its terminating NUL"));
        }
        String::from_utf16(&units).map_err(|_| self.fail("a string that is not UTF-16"))
    }

    /// A `[unique]` or `[ptr]` pointer's referent id: `None` for NULL.
    pub fn pointer(&mut self) -> Result<Option<u32>, NdrError> {
        let id = self.u32()?;
        self.last_referent = self.last_referent.max(id);
        Ok(Some(id).filter(|&id| id != 0))
    }

    /// One pointer deeper: referents within referents nest no deeper than
    /// [`MAX_DEPTH`], so a recursive type cannot exhaust the stack.
    pub fn enter(&mut self) -> Result<(), NdrError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.fail(format!("pointers nested deeper than {MAX_DEPTH}")));
        }
        Ok(())
    }

    /// One pointer back up.
    pub fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    /// The highest referent id read so far (0 for none).
    pub fn last_referent(&self) -> u32 {
        self.last_referent
    }

    /// Bytes not yet read.
    pub fn remaining(&self) -> usize {
        self.bytes.len() - self.at
    }

    /// `n` raw bytes.
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], NdrError> {
        self.take(n)
    }

    /// The data representation the stub was written with.
    pub fn drep(&self) -> DataRep {
        self.drep
    }

    /// An error at the current position.
    pub fn error(&self, reason: impl Into<String>) -> NdrError {
        self.fail(reason)
    }

    /// Whether every byte was read (a well-formed request leaves none).
    pub fn finished(&self) -> bool {
        self.at == self.bytes.len()
    }
}

/// Writes NDR20 stub data in our byte order (little-endian).
#[derive(Debug, Default)]
pub struct NdrWriter {
    out: Vec<u8>,
    next_referent: u32,
}

impl NdrWriter {
    /// An empty stub. Referent ids count from 1, as Samba's and impacket's
    /// clients count (Windows starts at 0x20000, by fours: any non-zero id
    /// will do for a `[unique]` pointer).
    pub fn new() -> Self {
        Self { out: Vec::new(), next_referent: 1 }
    }

    /// An empty reply stub whose referent ids follow `last`, the highest
    /// id of the request: within one call a `[ptr]` (full) pointer's id
    /// that was seen before means the same referent, so a reply must not
    /// reuse the request's ids (Wireshark, too, reads them that way).
    pub fn referents_after(last: u32) -> Self {
        Self { out: Vec::new(), next_referent: last.saturating_add(1).max(1) }
    }

    /// The bytes written.
    pub fn into_bytes(self) -> Vec<u8> {
        self.out
    }

    /// Pads to a multiple of `n`.
    pub fn align(&mut self, n: usize) {
        while !self.out.len().is_multiple_of(n) {
            self.out.push(0);
        }
    }

    /// A `small`/`byte`.
    pub fn u8(&mut self, v: u8) {
        self.out.push(v);
    }

    /// A `short`.
    pub fn u16(&mut self, v: u16) {
        self.align(2);
        self.out.extend_from_slice(&v.to_le_bytes());
    }

    /// A `long`.
    pub fn u32(&mut self, v: u32) {
        self.align(4);
        self.out.extend_from_slice(&v.to_le_bytes());
    }

    /// A signed `long`.
    pub fn i32(&mut self, v: i32) {
        self.u32(v.cast_unsigned());
    }

    /// A `hyper`.
    pub fn u64(&mut self, v: u64) {
        self.align(8);
        self.out.extend_from_slice(&v.to_le_bytes());
    }

    fn len_u32(n: usize) -> u32 {
        u32::try_from(n).unwrap_or(u32::MAX)
    }

    /// A conformant array of bytes.
    pub fn conformant_bytes(&mut self, bytes: &[u8]) {
        self.u32(Self::len_u32(bytes.len()));
        self.out.extend_from_slice(bytes);
    }

    /// A conformant array of `long`s.
    pub fn conformant_u32s(&mut self, values: &[u32]) {
        self.u32(Self::len_u32(values.len()));
        for &v in values {
            self.u32(v);
        }
    }

    /// A `[string] wchar_t*`'s referent, NUL included.
    pub fn wide_string(&mut self, text: &str) {
        let units: Vec<u16> = text.encode_utf16().chain(std::iter::once(0)).collect();
        self.u32(Self::len_u32(units.len()));
        self.u32(0);
        self.u32(Self::len_u32(units.len()));
        for u in units {
            self.out.extend_from_slice(&u.to_le_bytes());
        }
    }

    /// Raw bytes, unaligned.
    pub fn bytes(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
    }

    /// The number of bytes written so far.
    pub fn len(&self) -> usize {
        self.out.len()
    }

    /// Whether nothing was written yet.
    pub fn is_empty(&self) -> bool {
        self.out.is_empty()
    }

    /// A `[unique]` pointer: a fresh referent id, or 0 for NULL. The
    /// referent itself follows later (deferred), written by the caller.
    pub fn pointer(&mut self, present: bool) {
        if present {
            let id = self.next_referent;
            self.next_referent = self.next_referent.wrapping_add(1).max(1);
            self.u32(id);
        } else {
            self.u32(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primitives_align_and_round_trip() {
        let mut w = NdrWriter::new();
        w.u8(1);
        w.u32(0x0102_0304);
        w.u16(5);
        w.u64(u64::MAX - 1);
        w.i32(-2);
        let bytes = w.into_bytes();
        assert_eq!(&bytes[..8], &[1, 0, 0, 0, 4, 3, 2, 1], "a long starts on a multiple of 4");
        assert_eq!(bytes.len(), 28, "the hyper starts at 16");
        let mut r = NdrReader::new(&bytes, DataRep::NATIVE);
        assert_eq!(
            (r.u8(), r.u32(), r.u16(), r.u64(), r.i32()),
            (Ok(1), Ok(0x0102_0304), Ok(5), Ok(u64::MAX - 1), Ok(-2))
        );
        assert!(r.finished());
    }

    #[test]
    fn big_endian_stub_data_is_read_right() {
        let bytes = [0, 0, 0, 40, 0, 0, 0, 2];
        let mut r = NdrReader::new(&bytes, DataRep::BIG_ENDIAN);
        assert_eq!((r.i32(), r.i32()), (Ok(40), Ok(2)));
    }

    #[test]
    fn strings_arrays_and_pointers_round_trip() {
        let mut w = NdrWriter::new();
        w.pointer(true);
        w.wide_string("héllo");
        w.pointer(false);
        w.conformant_u32s(&[1, 2, 3]);
        w.conformant_bytes(b"xyz");
        let bytes = w.into_bytes();
        let mut r = NdrReader::new(&bytes, DataRep::NATIVE);
        assert_eq!(r.pointer(), Ok(Some(1)));
        assert_eq!(r.wide_string().as_deref(), Ok("héllo"));
        assert_eq!(r.pointer(), Ok(None));
        assert_eq!(r.conformant_u32s(), Ok(vec![1, 2, 3]));
        assert_eq!(r.conformant_bytes(), Ok(b"xyz".to_vec()));
        assert!(r.finished());
    }

    #[test]
    fn a_reply_numbers_its_referents_after_the_requests() {
        let mut w = NdrWriter::new();
        w.pointer(true);
        w.pointer(false);
        w.pointer(true);
        let request = w.into_bytes();
        let mut r = NdrReader::new(&request, DataRep::NATIVE);
        while !r.finished() {
            r.pointer().unwrap();
        }
        assert_eq!(r.last_referent(), 2, "ids 1 and 2: a NULL takes none");
        let mut reply = NdrWriter::referents_after(r.last_referent());
        reply.pointer(true);
        assert_eq!(reply.into_bytes(), 3u32.to_le_bytes());
    }

    #[test]
    fn counts_beyond_the_stub_and_strings_without_nul_are_errors() {
        let huge = [0xFF, 0xFF, 0xFF, 0x7F];
        assert!(NdrReader::new(&huge, DataRep::NATIVE).conformant_bytes().is_err(), "no 2 GB allocation");
        let mut w = NdrWriter::new();
        w.u32(2);
        w.u32(0);
        w.u32(2);
        w.u16(u16::from(b'a'));
        w.u16(u16::from(b'b'));
        let e = NdrReader::new(&w.into_bytes(), DataRep::NATIVE).wide_string().unwrap_err();
        assert!(e.reason.contains("NUL"), "{e}");
    }
}
