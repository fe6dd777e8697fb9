//! Connection-oriented PDUs (C706 chapter 12): a checked parse of bytes
//! from the network into a typed [`Pdu`], and its emission.
//!
//! [`Header::peek`] tells a stream reader how long the next fragment is;
//! [`Pdu::parse`] takes exactly one fragment. Integers are read in the byte
//! order the fragment's own data representation label gives (receiver makes
//! right); [`Pdu::emit`] writes in the label the PDU carries.

use std::fmt;

use crate::DataRep;
use crate::uuid::{SyntaxId, Uuid};

/// The fixed header's length.
pub const HEADER_LEN: usize = 16;
/// The smallest fragment size every implementation must accept (C706).
pub const MIN_FRAGMENT: u16 = 1432;

/// Fault status: the operation number is out of range.
pub const NCA_S_OP_RNG_ERROR: u32 = 0x1C01_0002;
/// Fault status: the interface is unknown.
pub const NCA_S_UNK_IF: u32 = 0x1C01_0003;
/// Fault status: a protocol error.
pub const NCA_S_PROTO_ERROR: u32 = 0x1C01_000B;
/// Fault status: a data representation we do not read (EBCDIC, non-IEEE floats).
pub const NCA_S_UNSUPPORTED_TYPE: u32 = 0x1C01_0017;
/// Fault status: the stub data could not be read (`RPC_X_BAD_STUB_DATA`).
pub const RPC_X_BAD_STUB_DATA: u32 = 0x0000_06F7;

/// `pfc_flags` bits.
pub mod flags {
    /// The first fragment of a call.
    pub const FIRST_FRAG: u8 = 0x01;
    /// The last fragment of a call.
    pub const LAST_FRAG: u8 = 0x02;
    /// A cancel is pending (requests); header signing is supported (binds).
    pub const PENDING_CANCEL: u8 = 0x04;
    /// Concurrent multiplexing is supported.
    pub const CONC_MPX: u8 = 0x10;
    /// The call did not execute (faults).
    pub const DID_NOT_EXECUTE: u8 = 0x20;
    /// `maybe` semantics.
    pub const MAYBE: u8 = 0x40;
    /// An object UUID follows the request's fixed fields.
    pub const OBJECT_UUID: u8 = 0x80;
}

/// Why bytes are not a PDU.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PduError {
    /// Where the problem is (`"header"`, `"bind"`, …).
    pub part: &'static str,
    /// What is wrong.
    pub reason: String,
}

impl fmt::Display for PduError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.part, self.reason)
    }
}

impl std::error::Error for PduError {}

fn bad(part: &'static str, reason: impl Into<String>) -> PduError {
    PduError { part, reason: reason.into() }
}

/// The packet types of the connection-oriented protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PacketType {
    /// `request`.
    Request = 0,
    /// `response`.
    Response = 2,
    /// `fault`.
    Fault = 3,
    /// `bind`.
    Bind = 11,
    /// `bind_ack`.
    BindAck = 12,
    /// `bind_nak`.
    BindNak = 13,
    /// `alter_context`.
    AlterContext = 14,
    /// `alter_context_resp`.
    AlterContextResp = 15,
    /// `auth3`.
    Auth3 = 16,
    /// `shutdown`.
    Shutdown = 17,
    /// `co_cancel`.
    CoCancel = 18,
    /// `orphaned`.
    Orphaned = 19,
}

impl PacketType {
    fn from_u8(v: u8) -> Option<Self> {
        Some(match v {
            0 => Self::Request,
            2 => Self::Response,
            3 => Self::Fault,
            11 => Self::Bind,
            12 => Self::BindAck,
            13 => Self::BindNak,
            14 => Self::AlterContext,
            15 => Self::AlterContextResp,
            16 => Self::Auth3,
            17 => Self::Shutdown,
            18 => Self::CoCancel,
            19 => Self::Orphaned,
            _ => return None,
        })
    }
}

/// The common header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// `rpc_vers_minor` (0 or 1).
    pub minor: u8,
    /// The packet type.
    pub ptype: PacketType,
    /// `pfc_flags`.
    pub flags: u8,
    /// How the rest is written.
    pub drep: DataRep,
    /// The fragment's whole length.
    pub frag_length: u16,
    /// The authentication value's length.
    pub auth_length: u16,
    /// The call this fragment belongs to.
    pub call_id: u32,
}

impl Header {
    /// The header of a PDU we write: version 5.0, our data representation,
    /// the lengths filled in by [`Pdu::emit`].
    pub fn new(ptype: PacketType, flags: u8, call_id: u32) -> Self {
        Self { minor: 0, ptype, flags, drep: DataRep::NATIVE, frag_length: 0, auth_length: 0, call_id }
    }

    /// The header at the start of `bytes`, once 16 bytes are there
    /// (`Ok(None)` before): a stream reader learns from `frag_length` how
    /// many bytes the fragment takes.
    pub fn peek(bytes: &[u8]) -> Result<Option<Self>, PduError> {
        let Some(h) = bytes.get(..HEADER_LEN) else { return Ok(None) };
        if h[0] != 5 || h[1] > 1 {
            return Err(bad("header", format!("version {}.{} is not 5.0 or 5.1", h[0], h[1])));
        }
        let ptype = PacketType::from_u8(h[2]).ok_or_else(|| bad("header", format!("unknown packet type {}", h[2])))?;
        let drep = DataRep::from_bytes([h[4], h[5], h[6], h[7]]);
        let frag_length = drep.u16([h[8], h[9]]);
        let auth_length = drep.u16([h[10], h[11]]);
        if usize::from(frag_length) < HEADER_LEN {
            return Err(bad("header", format!("a fragment of {frag_length} bytes is shorter than its header")));
        }
        if auth_length > 0 && usize::from(auth_length) + 8 > usize::from(frag_length) - HEADER_LEN {
            return Err(bad("header", format!("an authentication value of {auth_length} bytes does not fit")));
        }
        Ok(Some(Self {
            minor: h[1],
            ptype,
            flags: h[3],
            drep,
            frag_length,
            auth_length,
            call_id: drep.u32([h[12], h[13], h[14], h[15]]),
        }))
    }

    fn emit(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&[5, self.minor, self.ptype as u8, self.flags]);
        out.extend_from_slice(&self.drep.to_bytes());
        self.drep.put_u16(out, self.frag_length);
        self.drep.put_u16(out, self.auth_length);
        self.drep.put_u32(out, self.call_id);
    }
}

/// A presentation context a client proposes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContextElem {
    /// The context's id.
    pub id: u16,
    /// The interface.
    pub abstract_syntax: SyntaxId,
    /// The transfer syntaxes offered, in preference order.
    pub transfer_syntaxes: Vec<SyntaxId>,
}

/// The server's answer for one proposed context, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ContextResult {
    /// 0 acceptance, 1 user rejection, 2 provider rejection, 3 negotiate ack.
    pub result: u16,
    /// The reason for a rejection (or the bind-time features for 3).
    pub reason: u16,
    /// The transfer syntax accepted (all zero when rejected).
    pub transfer_syntax: SyntaxId,
}

/// The authentication trailer (`sec_trailer` and its value).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthTrailer {
    /// The authentication service.
    pub auth_type: u8,
    /// The protection level.
    pub auth_level: u8,
    /// Padding bytes before the trailer.
    pub pad_length: u8,
    /// The security context.
    pub context_id: u32,
    /// The service's own bytes.
    pub value: Vec<u8>,
}

/// What a PDU carries after its header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Body {
    /// `bind` (or `alter_context`, with the same fields).
    Bind {
        /// The largest fragment the client sends.
        max_xmit: u16,
        /// The largest fragment the client takes.
        max_recv: u16,
        /// The association group (0: a new one).
        assoc_group: u32,
        /// The contexts proposed.
        contexts: Vec<ContextElem>,
    },
    /// `bind_ack` (or `alter_context_resp`).
    BindAck {
        /// The largest fragment the server sends.
        max_xmit: u16,
        /// The largest fragment the server takes.
        max_recv: u16,
        /// The association group.
        assoc_group: u32,
        /// The secondary address (the server's port or endpoint).
        secondary_address: String,
        /// One result per proposed context, in order.
        results: Vec<ContextResult>,
    },
    /// `bind_nak`.
    BindNak {
        /// The rejection reason.
        reason: u16,
        /// The protocol versions the server supports (major, minor).
        versions: Vec<(u8, u8)>,
    },
    /// `request`.
    Request {
        /// The stub data's full size, if known.
        alloc_hint: u32,
        /// The presentation context.
        context: u16,
        /// The operation.
        opnum: u16,
        /// The object, with [`flags::OBJECT_UUID`].
        object: Option<Uuid>,
        /// The NDR stub data.
        stub: Vec<u8>,
    },
    /// `response`.
    Response {
        /// The stub data's full size, if known.
        alloc_hint: u32,
        /// The presentation context.
        context: u16,
        /// Cancels received.
        cancel_count: u8,
        /// The NDR stub data.
        stub: Vec<u8>,
    },
    /// `fault`.
    Fault {
        /// The stub data's full size, if known.
        alloc_hint: u32,
        /// The presentation context.
        context: u16,
        /// Cancels received.
        cancel_count: u8,
        /// The status (`nca_s_*` or a Win32 code).
        status: u32,
    },
    /// `auth3`, `shutdown`, `co_cancel` or `orphaned`: nothing but (maybe)
    /// an authentication trailer.
    Empty,
}

/// A PDU: one fragment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pdu {
    /// The header; `frag_length` and `auth_length` are set by [`Pdu::emit`].
    pub header: Header,
    /// The body.
    pub body: Body,
    /// The authentication trailer, if any.
    pub auth: Option<AuthTrailer>,
}

/// Reads fields in order, checking every length.
struct Fields<'a> {
    bytes: &'a [u8],
    at: usize,
    drep: DataRep,
    part: &'static str,
}

impl<'a> Fields<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], PduError> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len());
        let end = end
            .ok_or_else(|| bad(self.part, format!("ends at byte {} inside a field of {n} bytes", self.bytes.len())))?;
        let got = &self.bytes[self.at..end];
        self.at = end;
        Ok(got)
    }
    fn u8(&mut self) -> Result<u8, PduError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, PduError> {
        let b = self.take(2)?;
        Ok(self.drep.u16([b[0], b[1]]))
    }
    fn u32(&mut self) -> Result<u32, PduError> {
        let b = self.take(4)?;
        Ok(self.drep.u32([b[0], b[1], b[2], b[3]]))
    }
    fn syntax(&mut self) -> Result<SyntaxId, PduError> {
        let drep = self.drep;
        let b: [u8; 20] = self.take(20)?.try_into().map_err(|_| bad("syntax", "20 bytes"))?;
        Ok(SyntaxId::read(&b, drep))
    }
    fn align(&mut self, n: usize) -> Result<(), PduError> {
        let pad = (n - self.at % n) % n;
        self.take(pad).map(drop)
    }
}

fn align_out(out: &mut Vec<u8>, n: usize) {
    while !out.len().is_multiple_of(n) {
        out.push(0);
    }
}

impl Pdu {
    /// Parses exactly one fragment (`bytes` may hold more; the rest is not
    /// looked at).
    pub fn parse(bytes: &[u8]) -> Result<Self, PduError> {
        let mut header = Header::peek(bytes)?.ok_or_else(|| bad("header", "fewer than 16 bytes"))?;
        let frag = bytes
            .get(..usize::from(header.frag_length))
            .ok_or_else(|| bad("header", format!("{} bytes of a {}-byte fragment", bytes.len(), header.frag_length)))?;
        // The trailer sits at the end: body, padding, sec_trailer, value.
        let (body_end, auth) = if header.auth_length == 0 {
            (frag.len(), None)
        } else {
            let value_at = frag.len() - usize::from(header.auth_length);
            let t = &frag[value_at - 8..value_at];
            let pad_length = t[2];
            let body_end = (value_at - 8)
                .checked_sub(usize::from(pad_length))
                .filter(|&e| e >= HEADER_LEN)
                .ok_or_else(|| bad("auth", format!("a padding of {pad_length} bytes runs into the header")))?;
            let auth = AuthTrailer {
                auth_type: t[0],
                auth_level: t[1],
                pad_length,
                context_id: header.drep.u32([t[4], t[5], t[6], t[7]]),
                value: frag[value_at..].to_vec(),
            };
            (body_end, Some(auth))
        };
        let mut f = Fields { bytes: &frag[..body_end], at: HEADER_LEN, drep: header.drep, part: "body" };
        let body = match header.ptype {
            PacketType::Bind | PacketType::AlterContext => {
                f.part = "bind";
                let (max_xmit, max_recv, assoc_group) = (f.u16()?, f.u16()?, f.u32()?);
                let n = f.u8()?;
                f.take(3)?;
                let mut contexts = Vec::with_capacity(usize::from(n));
                for _ in 0..n {
                    let id = f.u16()?;
                    let count = f.u8()?;
                    f.take(1)?;
                    let abstract_syntax = f.syntax()?;
                    let transfer_syntaxes = (0..count).map(|_| f.syntax()).collect::<Result<_, _>>()?;
                    contexts.push(ContextElem { id, abstract_syntax, transfer_syntaxes });
                }
                Body::Bind { max_xmit, max_recv, assoc_group, contexts }
            }
            PacketType::BindAck | PacketType::AlterContextResp => {
                f.part = "bind_ack";
                let (max_xmit, max_recv, assoc_group) = (f.u16()?, f.u16()?, f.u32()?);
                let len = usize::from(f.u16()?);
                let raw = f.take(len)?;
                let secondary_address = String::from_utf8_lossy(raw.strip_suffix(&[0]).unwrap_or(raw)).into_owned();
                f.align(4)?;
                let n = f.u8()?;
                f.take(3)?;
                let results = (0..n)
                    .map(|_| Ok(ContextResult { result: f.u16()?, reason: f.u16()?, transfer_syntax: f.syntax()? }))
                    .collect::<Result<_, PduError>>()?;
                Body::BindAck { max_xmit, max_recv, assoc_group, secondary_address, results }
            }
            PacketType::BindNak => {
                f.part = "bind_nak";
                let reason = f.u16()?;
                let n = if f.at < f.bytes.len() { f.u8()? } else { 0 };
                let versions = (0..n).map(|_| Ok((f.u8()?, f.u8()?))).collect::<Result<_, PduError>>()?;
                Body::BindNak { reason, versions }
            }
            PacketType::Request => {
                f.part = "request";
                let (alloc_hint, context, opnum) = (f.u32()?, f.u16()?, f.u16()?);
                let object = if header.flags & flags::OBJECT_UUID != 0 {
                    let b: [u8; 16] = f.take(16)?.try_into().map_err(|_| bad("request", "16 bytes"))?;
                    Some(Uuid::read(&b, header.drep))
                } else {
                    None
                };
                Body::Request { alloc_hint, context, opnum, object, stub: f.bytes[f.at..].to_vec() }
            }
            PacketType::Response => {
                f.part = "response";
                let (alloc_hint, context, cancel_count) = (f.u32()?, f.u16()?, f.u8()?);
                f.take(1)?;
                Body::Response { alloc_hint, context, cancel_count, stub: f.bytes[f.at..].to_vec() }
            }
            PacketType::Fault => {
                f.part = "fault";
                let (alloc_hint, context, cancel_count) = (f.u32()?, f.u16()?, f.u8()?);
                f.take(1)?;
                let status = f.u32()?;
                Body::Fault { alloc_hint, context, cancel_count, status }
            }
            PacketType::Auth3 | PacketType::Shutdown | PacketType::CoCancel | PacketType::Orphaned => Body::Empty,
        };
        header.frag_length = 0;
        header.auth_length = 0;
        Ok(Self { header, body, auth })
    }

    /// Whether the PDU fits its wire fields: at most 255 presentation
    /// contexts (each with at most 255 transfer syntaxes), results and
    /// versions, and one fragment of at most 64 KiB in all.
    pub fn check_fits(&self) -> Result<(), PduError> {
        let too_many = |part: &'static str, what: &str, n: usize| {
            Err(PduError { part, reason: format!("{n} {what}; one PDU carries at most 255") })
        };
        match &self.body {
            Body::Bind { contexts, .. } if contexts.len() > 255 => return too_many("bind", "contexts", contexts.len()),
            Body::Bind { contexts, .. } => {
                if let Some(c) = contexts.iter().find(|c| c.transfer_syntaxes.len() > 255) {
                    return too_many("bind", "transfer syntaxes", c.transfer_syntaxes.len());
                }
            }
            Body::BindAck { results, .. } if results.len() > 255 => {
                return too_many("bind_ack", "results", results.len());
            }
            Body::BindNak { versions, .. } if versions.len() > 255 => {
                return too_many("bind_nak", "versions", versions.len());
            }
            _ => {}
        }
        let whole = self.emit_unchecked_len();
        if whole > usize::from(u16::MAX) {
            return Err(PduError {
                part: "fragment",
                reason: format!("{whole} bytes; a fragment holds at most 65535: fragment the stub data first"),
            });
        }
        Ok(())
    }

    /// [`Pdu::emit`] after [`Pdu::check_fits`]: an error instead of a cut.
    pub fn try_emit(&self) -> Result<Vec<u8>, PduError> {
        self.check_fits()?;
        Ok(self.emit())
    }

    /// The fragment's bytes, with `frag_length` and `auth_length` filled in.
    ///
    /// Precondition ([`Pdu::check_fits`], or use [`Pdu::try_emit`]): the
    /// counts fit their one-byte fields and the whole fits one 64 KiB
    /// fragment. Past them the wire cannot say it, and the PDU is cut to
    /// what it can say (255 of each, 64 KiB): callers fragment large stub
    /// data themselves, as the runtimes here do.
    pub fn emit(&self) -> Vec<u8> {
        self.emit_with_limit(usize::from(u16::MAX))
    }

    /// The length the PDU would have uncut.
    fn emit_unchecked_len(&self) -> usize {
        self.emit_with_limit(usize::MAX).len()
    }

    fn emit_with_limit(&self, limit: usize) -> Vec<u8> {
        let drep = self.header.drep;
        let mut out = Vec::with_capacity(64);
        self.header.emit(&mut out);
        match &self.body {
            Body::Bind { max_xmit, max_recv, assoc_group, contexts } => {
                drep.put_u16(&mut out, *max_xmit);
                drep.put_u16(&mut out, *max_recv);
                drep.put_u32(&mut out, *assoc_group);
                out.extend_from_slice(&[u8::try_from(contexts.len()).unwrap_or(u8::MAX), 0, 0, 0]);
                for c in contexts.iter().take(255) {
                    drep.put_u16(&mut out, c.id);
                    out.extend_from_slice(&[u8::try_from(c.transfer_syntaxes.len()).unwrap_or(u8::MAX), 0]);
                    c.abstract_syntax.emit(drep, &mut out);
                    for t in c.transfer_syntaxes.iter().take(255) {
                        t.emit(drep, &mut out);
                    }
                }
            }
            Body::BindAck { max_xmit, max_recv, assoc_group, secondary_address, results } => {
                drep.put_u16(&mut out, *max_xmit);
                drep.put_u16(&mut out, *max_recv);
                drep.put_u32(&mut out, *assoc_group);
                let address: Vec<u8> = if secondary_address.is_empty() {
                    Vec::new()
                } else {
                    format!("{secondary_address}\0").into_bytes()
                };
                drep.put_u16(&mut out, u16::try_from(address.len()).unwrap_or(u16::MAX));
                out.extend_from_slice(&address);
                align_out(&mut out, 4);
                out.extend_from_slice(&[u8::try_from(results.len()).unwrap_or(u8::MAX), 0, 0, 0]);
                for r in results.iter().take(255) {
                    drep.put_u16(&mut out, r.result);
                    drep.put_u16(&mut out, r.reason);
                    r.transfer_syntax.emit(drep, &mut out);
                }
            }
            Body::BindNak { reason, versions } => {
                drep.put_u16(&mut out, *reason);
                out.push(u8::try_from(versions.len()).unwrap_or(u8::MAX));
                for (major, minor) in versions.iter().take(255) {
                    out.extend_from_slice(&[*major, *minor]);
                }
            }
            Body::Request { alloc_hint, context, opnum, object, stub } => {
                drep.put_u32(&mut out, *alloc_hint);
                drep.put_u16(&mut out, *context);
                drep.put_u16(&mut out, *opnum);
                if let Some(object) = object {
                    object.emit(drep, &mut out);
                }
                out.extend_from_slice(stub);
            }
            Body::Response { alloc_hint, context, cancel_count, stub } => {
                drep.put_u32(&mut out, *alloc_hint);
                drep.put_u16(&mut out, *context);
                out.extend_from_slice(&[*cancel_count, 0]);
                out.extend_from_slice(stub);
            }
            Body::Fault { alloc_hint, context, cancel_count, status } => {
                drep.put_u32(&mut out, *alloc_hint);
                drep.put_u16(&mut out, *context);
                out.extend_from_slice(&[*cancel_count, 0]);
                drep.put_u32(&mut out, *status);
                drep.put_u32(&mut out, 0);
            }
            Body::Empty => {}
        }
        let mut auth_length = 0u16;
        if let Some(a) = &self.auth {
            out.resize(out.len() + usize::from(a.pad_length), 0);
            out.extend_from_slice(&[a.auth_type, a.auth_level, a.pad_length, 0]);
            drep.put_u32(&mut out, a.context_id);
            out.extend_from_slice(&a.value);
            auth_length = u16::try_from(a.value.len()).unwrap_or(u16::MAX);
        }
        out.truncate(limit);
        let frag = u16::try_from(out.len()).unwrap_or(u16::MAX);
        let mut lengths = Vec::with_capacity(4);
        drep.put_u16(&mut lengths, frag);
        drep.put_u16(&mut lengths, auth_length);
        out[8..12].copy_from_slice(&lengths);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(ptype: PacketType, drep: DataRep) -> Header {
        Header { drep, ..Header::new(ptype, flags::FIRST_FRAG | flags::LAST_FRAG, 7) }
    }

    fn example() -> SyntaxId {
        SyntaxId { uuid: Uuid::parse("5b9f3a4e-7c21-4d6a-9e0b-3f8a2c1d7e64").unwrap(), major: 1, minor: 0 }
    }

    #[test]
    fn what_the_wire_cannot_say_is_an_error_from_try_emit_not_a_silent_cut() {
        let context = ContextElem { id: 0, abstract_syntax: example(), transfer_syntaxes: vec![SyntaxId::ndr20()] };
        let bind = |n: usize| Pdu {
            header: header(PacketType::Bind, DataRep::NATIVE),
            body: Body::Bind { max_xmit: 4280, max_recv: 4280, assoc_group: 0, contexts: vec![context.clone(); n] },
            auth: None,
        };
        assert_eq!(bind(2).try_emit().unwrap(), bind(2).emit());
        assert_eq!(bind(300).try_emit().unwrap_err().part, "bind");
        let request = |len: usize| Pdu {
            header: header(PacketType::Request, DataRep::NATIVE),
            body: Body::Request { alloc_hint: 0, context: 0, opnum: 0, object: None, stub: vec![0; len] },
            auth: None,
        };
        assert!(request(60_000).try_emit().is_ok());
        let err = request(70_000).try_emit().unwrap_err();
        assert_eq!(err.part, "fragment", "{err}");
        assert_eq!(request(70_000).emit().len(), 65_535, "emit itself still cuts, as documented");
    }

    #[test]
    fn every_body_round_trips_in_both_byte_orders() {
        let bodies = vec![
            (
                PacketType::Bind,
                Body::Bind {
                    max_xmit: 4280,
                    max_recv: 4280,
                    assoc_group: 0,
                    contexts: vec![
                        ContextElem { id: 0, abstract_syntax: example(), transfer_syntaxes: vec![SyntaxId::ndr20()] },
                        ContextElem { id: 1, abstract_syntax: example(), transfer_syntaxes: vec![SyntaxId::ndr64()] },
                    ],
                },
            ),
            (
                PacketType::BindAck,
                Body::BindAck {
                    max_xmit: 4280,
                    max_recv: 4280,
                    assoc_group: 0x1234,
                    secondary_address: "5000".into(),
                    results: vec![ContextResult { result: 0, reason: 0, transfer_syntax: SyntaxId::ndr20() }],
                },
            ),
            (PacketType::BindNak, Body::BindNak { reason: 8, versions: vec![(5, 0)] }),
            (
                PacketType::Request,
                Body::Request {
                    alloc_hint: 8,
                    context: 0,
                    opnum: 0,
                    object: None,
                    stub: vec![40, 0, 0, 0, 2, 0, 0, 0],
                },
            ),
            (
                PacketType::Response,
                Body::Response { alloc_hint: 4, context: 0, cancel_count: 0, stub: vec![42, 0, 0, 0] },
            ),
            (PacketType::Fault, Body::Fault { alloc_hint: 0, context: 0, cancel_count: 0, status: NCA_S_OP_RNG_ERROR }),
            (PacketType::Shutdown, Body::Empty),
        ];
        for drep in [DataRep::NATIVE, DataRep::BIG_ENDIAN] {
            for (ptype, body) in &bodies {
                let pdu = Pdu { header: header(*ptype, drep), body: body.clone(), auth: None };
                let bytes = pdu.emit();
                assert_eq!(Header::peek(&bytes).unwrap().unwrap().frag_length as usize, bytes.len());
                assert_eq!(Pdu::parse(&bytes).unwrap(), pdu, "{ptype:?} {drep:?}");
            }
        }
    }

    #[test]
    fn a_request_with_an_object_and_an_auth_trailer_round_trips() {
        let mut h = header(PacketType::Request, DataRep::NATIVE);
        h.flags |= flags::OBJECT_UUID;
        let pdu = Pdu {
            header: h,
            body: Body::Request {
                alloc_hint: 3,
                context: 1,
                opnum: 4,
                object: Some(example().uuid),
                stub: vec![1, 2, 3],
            },
            auth: Some(AuthTrailer { auth_type: 10, auth_level: 2, pad_length: 1, context_id: 0, value: vec![9; 16] }),
        };
        let bytes = pdu.emit();
        let parsed = Pdu::parse(&bytes).unwrap();
        assert_eq!(parsed, pdu);
    }

    #[test]
    fn the_header_is_written_as_windows_writes_it() {
        let pdu = Pdu { header: header(PacketType::Shutdown, DataRep::NATIVE), body: Body::Empty, auth: None };
        assert_eq!(pdu.emit(), [5, 0, 17, 3, 0x10, 0, 0, 0, 16, 0, 0, 0, 7, 0, 0, 0]);
    }

    #[test]
    fn bad_bytes_are_errors_never_panics() {
        assert_eq!(Header::peek(&[5, 0, 0]).unwrap(), None);
        assert!(Header::peek(&[4, 0, 0, 3, 0x10, 0, 0, 0, 16, 0, 0, 0, 0, 0, 0, 0]).is_err(), "version 4");
        assert!(Header::peek(&[5, 0, 99, 3, 0x10, 0, 0, 0, 16, 0, 0, 0, 0, 0, 0, 0]).is_err(), "packet type 99");
        assert!(Header::peek(&[5, 0, 0, 3, 0x10, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0]).is_err(), "shorter than a header");
        assert!(Pdu::parse(&[5, 0, 0, 3, 0x10, 0, 0, 0, 20, 0, 0, 0, 0, 0, 0, 0, 1, 2]).is_err(), "truncated");
        // A bind that claims more contexts than it holds.
        let mut bind = Pdu {
            header: header(PacketType::Bind, DataRep::NATIVE),
            body: Body::Bind { max_xmit: 10, max_recv: 10, assoc_group: 0, contexts: vec![] },
            auth: None,
        }
        .emit();
        bind[24] = 3;
        let e = Pdu::parse(&bind).unwrap_err();
        assert_eq!(e.part, "bind");
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_parse_or_fail_cleanly(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            let _ = Pdu::parse(&bytes);
            let mut framed = bytes.clone();
            if framed.len() >= 16 {
                framed[0] = 5;
                framed[1] = 0;
                framed[2] = [0u8, 2, 3, 11, 12, 13, 14, 15, 16][usize::from(framed[2]) % 9];
                let len = u16::try_from(framed.len()).unwrap();
                framed[8..10].copy_from_slice(&len.to_le_bytes());
                framed[4] = 0x10;
                let _ = Pdu::parse(&framed);
            }
        }
    }
}
