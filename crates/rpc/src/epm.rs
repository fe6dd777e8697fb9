//! The endpoint mapper (`e1af8308-5d1f-11c9-91a4-08002b14a0fa` v3.0): towers,
//! and `ept_map` over registered `ncacn_ip_tcp` endpoints.
//!
//! `ept_lookup` (every registration, in one batch: the handle comes back
//! NULL) and `ept_map` are served; `ept_lookup_handle_free`, `ncalrpc`
//! towers and where the mapper lives (broker or beside it) are issue #7's
//! next steps.

use std::sync::{Arc, Mutex, PoisonError};

use crate::DataRep;
use crate::ndr::{NdrError, NdrReader, NdrWriter};
use crate::pdu::{NCA_S_OP_RNG_ERROR, RPC_X_BAD_STUB_DATA};
use crate::server::Interface;
use crate::uuid::{SyntaxId, Uuid};

/// `ept_s_not_registered`: no endpoint for that interface.
pub const EPT_S_NOT_REGISTERED: u32 = 0x16C9_A0D6;

/// Tower floor protocol ids.
const FLOOR_UUID: u8 = 0x0D;
const FLOOR_RPC_CO: u8 = 0x0B;
const FLOOR_TCP: u8 = 0x07;
const FLOOR_IP: u8 = 0x09;

/// The mapper's interface syntax.
pub fn syntax() -> SyntaxId {
    SyntaxId {
        uuid: Uuid { d1: 0xe1af_8308, d2: 0x5d1f, d3: 0x11c9, d4: [0x91, 0xa4, 0x08, 0x00, 0x2b, 0x14, 0xa0, 0xfa] },
        major: 3,
        minor: 0,
    }
}

/// A tower: the protocol stack to reach an interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tower {
    /// The interface.
    pub interface: SyntaxId,
    /// The transfer syntax.
    pub transfer: SyntaxId,
    /// `ncacn_ip_tcp`'s port (0 in a query).
    pub port: u16,
    /// The IPv4 address (0.0.0.0 in a query).
    pub ip: [u8; 4],
}

fn floor(out: &mut Vec<u8>, lhs: &[u8], rhs: &[u8]) {
    out.extend_from_slice(&u16::try_from(lhs.len()).unwrap_or(0).to_le_bytes());
    out.extend_from_slice(lhs);
    out.extend_from_slice(&u16::try_from(rhs.len()).unwrap_or(0).to_le_bytes());
    out.extend_from_slice(rhs);
}

fn syntax_floor(out: &mut Vec<u8>, s: &SyntaxId) {
    let mut lhs = vec![FLOOR_UUID];
    s.uuid.emit(DataRep::NATIVE, &mut lhs);
    lhs.extend_from_slice(&s.major.to_le_bytes());
    floor(out, &lhs, &s.minor.to_le_bytes());
}

impl Tower {
    /// The tower's octets (floor count, then five floors).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = 5u16.to_le_bytes().to_vec();
        syntax_floor(&mut out, &self.interface);
        syntax_floor(&mut out, &self.transfer);
        floor(&mut out, &[FLOOR_RPC_CO], &[0, 0]);
        floor(&mut out, &[FLOOR_TCP], &self.port.to_be_bytes());
        floor(&mut out, &[FLOOR_IP], &self.ip);
        out
    }

    /// Reads a tower; `None` unless it is an `ncacn_ip_tcp` one.
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        let mut at = 0usize;
        let mut take = |n: usize| -> Option<&[u8]> {
            let got = bytes.get(at..at.checked_add(n)?)?;
            at += n;
            Some(got)
        };
        let count = u16::from_le_bytes(take(2)?.try_into().ok()?);
        let mut floors = Vec::new();
        for _ in 0..count.min(8) {
            let l = usize::from(u16::from_le_bytes(take(2)?.try_into().ok()?));
            let lhs = take(l)?.to_vec();
            let r = usize::from(u16::from_le_bytes(take(2)?.try_into().ok()?));
            let rhs = take(r)?.to_vec();
            floors.push((lhs, rhs));
        }
        let syntax = |(lhs, rhs): &(Vec<u8>, Vec<u8>)| -> Option<SyntaxId> {
            if lhs.len() != 19 || lhs[0] != FLOOR_UUID || rhs.len() != 2 {
                return None;
            }
            let uuid: [u8; 16] = lhs[1..17].try_into().ok()?;
            Some(SyntaxId {
                uuid: Uuid::read(&uuid, DataRep::NATIVE),
                major: u16::from_le_bytes([lhs[17], lhs[18]]),
                minor: u16::from_le_bytes([rhs[0], rhs[1]]),
            })
        };
        let (interface, transfer) = (syntax(floors.first()?)?, syntax(floors.get(1)?)?);
        let (proto, port) = (floors.get(2)?, floors.get(3)?);
        if proto.0 != [FLOOR_RPC_CO] || port.0 != [FLOOR_TCP] || port.1.len() != 2 {
            return None;
        }
        let ip = floors.get(4).and_then(|(l, r)| (l == &[FLOOR_IP]).then(|| r.as_slice().try_into().ok()).flatten());
        Some(Self { interface, transfer, port: u16::from_be_bytes([port.1[0], port.1[1]]), ip: ip.unwrap_or([0; 4]) })
    }
}

/// The stub of an `ept_lookup` asking for every entry (up to `max`).
pub fn lookup_request(max: u32) -> Vec<u8> {
    let mut w = NdrWriter::new();
    w.u32(0); // RPC_C_EP_ALL_ELTS
    w.pointer(false); // object
    w.pointer(false); // interface id
    w.u32(1); // RPC_C_VERS_ALL
    for _ in 0..5 {
        w.u32(0); // a NULL entry handle
    }
    w.u32(max);
    w.into_bytes()
}

/// The towers and annotations of an `ept_lookup` answer (towers that are
/// not `ncacn_ip_tcp` are skipped), and its status.
pub fn parse_lookup(reply: &[u8]) -> Result<(Vec<(Tower, String)>, u32), NdrError> {
    let mut r = NdrReader::new(reply, DataRep::NATIVE);
    for _ in 0..5 {
        r.u32()?;
    }
    let count = r.u32()?;
    let (_max, _offset, actual) = (r.u32()?, r.u32()?, r.u32()?);
    if actual != count {
        return Err(NdrError { at: r.position(), reason: "num_ents differs from the array's length".into() });
    }
    let mut heads = Vec::new();
    for _ in 0..count.min(4096) {
        for _ in 0..4 {
            r.u32()?;
        }
        let tower = r.pointer()?;
        let _offset = r.u32()?;
        let length = r.u32()?.min(64);
        let text: Vec<u8> = (0..length).map(|_| r.u8()).collect::<Result<_, _>>()?;
        heads.push((tower.is_some(), String::from_utf8_lossy(text.strip_suffix(&[0]).unwrap_or(&text)).into_owned()));
    }
    let mut out = Vec::new();
    for (has_tower, annotation) in heads {
        if has_tower {
            let (_max, length) = (r.u32()?, r.u32()?);
            let octets: Vec<u8> = (0..length.min(1024)).map(|_| r.u8()).collect::<Result<_, _>>()?;
            if let Some(t) = Tower::decode(&octets) {
                out.push((t, annotation));
            }
        }
    }
    let status = r.u32()?;
    Ok((out, status))
}

/// The registered endpoints, shared by every association of the mapper.
pub type Registrations = Arc<Mutex<Vec<(SyntaxId, u16)>>>;

/// The endpoint mapper's server side.
#[derive(Debug)]
pub struct Mapper {
    registered: Registrations,
}

impl Mapper {
    /// A mapper answering from `registered`.
    pub fn new(registered: Registrations) -> Self {
        Self { registered }
    }

    /// `ept_lookup`: every registered endpoint (filters are not applied
    /// yet), all in one answer whose handle is NULL.
    fn lookup(&self, r: &mut NdrReader<'_>) -> Result<Vec<u8>, NdrError> {
        let _inquiry = r.u32()?;
        if r.pointer()?.is_some() {
            for _ in 0..4 {
                r.u32()?;
            }
        }
        if r.pointer()?.is_some() {
            for _ in 0..4 {
                r.u32()?;
            }
            r.u16()?;
            r.u16()?;
        }
        let _vers_option = r.u32()?;
        for _ in 0..5 {
            r.u32()?;
        }
        let max = r.u32()?;
        let registered = self.registered.lock().unwrap_or_else(PoisonError::into_inner).clone();
        let entries: Vec<Vec<u8>> = registered
            .iter()
            .take(usize::try_from(max).unwrap_or(0))
            .map(|&(s, port)| Tower { interface: s, transfer: SyntaxId::ndr20(), port, ip: [127, 0, 0, 1] }.encode())
            .collect();
        let count = u32::try_from(entries.len()).unwrap_or(0);
        let mut w = NdrWriter::new();
        for _ in 0..5 {
            w.u32(0);
        }
        w.u32(count);
        // [out, length_is(*num_ents), size_is(max_ents)] ept_entry_t entries[]
        w.u32(max);
        w.u32(0);
        w.u32(count);
        let annotation = b"Switchboard\0";
        for _ in &entries {
            // object (nil), tower pointer, [string] char annotation[64]
            for _ in 0..4 {
                w.u32(0);
            }
            w.pointer(true);
            w.u32(0);
            w.u32(u32::try_from(annotation.len()).unwrap_or(0));
            for &b in annotation {
                w.u8(b);
            }
            w.align(4);
        }
        for t in &entries {
            w.u32(u32::try_from(t.len()).unwrap_or(0));
            w.u32(u32::try_from(t.len()).unwrap_or(0));
            for &b in t {
                w.u8(b);
            }
        }
        w.u32(if entries.is_empty() { EPT_S_NOT_REGISTERED } else { 0 });
        Ok(w.into_bytes())
    }

    /// `ept_map`: the request's tower names the interface; the answer is its
    /// tower with the port filled in, or none and `EPT_S_NOT_REGISTERED`.
    fn map(&self, r: &mut NdrReader<'_>) -> Result<Vec<u8>, NdrError> {
        // [in, ptr] uuid_p_t object
        if r.pointer()?.is_some() {
            for _ in 0..4 {
                r.u32()?;
            }
        }
        // [in, ptr] twr_p_t map_tower: the conformance first, then the struct.
        let tower = if r.pointer()?.is_some() {
            let max = r.u32()?;
            let length = r.u32()?;
            if max != length {
                return Err(NdrError { at: r.position(), reason: "tower length differs from its conformance".into() });
            }
            let mut octets = Vec::with_capacity(usize::try_from(length).unwrap_or(0).min(1024));
            for _ in 0..length {
                octets.push(r.u8()?);
            }
            Tower::decode(&octets)
        } else {
            None
        };
        // [in, out] ept_lookup_handle_t *entry_handle; [in] unsigned32 max_towers
        let attributes = r.u32()?;
        let mut handle = [0u32; 4];
        for h in &mut handle {
            *h = r.u32()?;
        }
        let max_towers = r.u32()?;
        let found = tower.as_ref().and_then(|t| {
            let registered = self.registered.lock().unwrap_or_else(PoisonError::into_inner);
            registered
                .iter()
                .find(|(s, _)| s.uuid == t.interface.uuid && s.major == t.interface.major)
                .map(|&(s, port)| Tower { interface: s, transfer: t.transfer, port, ip: [127, 0, 0, 1] })
        });
        let mut w = NdrWriter::new();
        w.u32(attributes);
        for h in handle {
            w.u32(h);
        }
        let towers: Vec<Vec<u8>> =
            found.iter().map(Tower::encode).take(usize::try_from(max_towers).unwrap_or(0)).collect();
        w.u32(u32::try_from(towers.len()).unwrap_or(0));
        // [out, ptr, size_is(max_towers), length_is(*num_towers)] twr_p_t towers[]
        w.u32(max_towers);
        w.u32(0);
        w.u32(u32::try_from(towers.len()).unwrap_or(0));
        for _ in &towers {
            w.pointer(true);
        }
        for t in &towers {
            w.u32(u32::try_from(t.len()).unwrap_or(0));
            w.u32(u32::try_from(t.len()).unwrap_or(0));
            for &b in t {
                w.u8(b);
            }
        }
        w.u32(if towers.is_empty() { EPT_S_NOT_REGISTERED } else { 0 });
        Ok(w.into_bytes())
    }
}

impl Interface for Mapper {
    fn syntax(&self) -> SyntaxId {
        syntax()
    }

    fn call(&mut self, opnum: u16, stub: &[u8], drep: DataRep) -> Result<Vec<u8>, u32> {
        match opnum {
            2 => self.lookup(&mut NdrReader::new(stub, drep)).map_err(|_| RPC_X_BAD_STUB_DATA),
            3 => self.map(&mut NdrReader::new(stub, drep)).map_err(|_| RPC_X_BAD_STUB_DATA),
            _ => Err(NCA_S_OP_RNG_ERROR),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ept_lookup_lists_every_registration() {
        let registered: Registrations = Arc::new(Mutex::new(vec![(crate::example::syntax(), 5135), (syntax(), 135)]));
        let mut mapper = Mapper::new(registered);
        let reply = mapper.call(2, &lookup_request(500), DataRep::NATIVE).unwrap();
        let (entries, status) = parse_lookup(&reply).unwrap();
        assert_eq!(status, 0);
        let listed: Vec<(SyntaxId, u16)> = entries.iter().map(|(t, _)| (t.interface, t.port)).collect();
        assert_eq!(listed, [(crate::example::syntax(), 5135), (syntax(), 135)]);
        assert_eq!(entries[0].1, "Switchboard");
    }

    #[test]
    fn towers_round_trip_with_the_port_big_endian() {
        let t =
            Tower { interface: crate::example::syntax(), transfer: SyntaxId::ndr20(), port: 5000, ip: [127, 0, 0, 1] };
        let bytes = t.encode();
        assert_eq!(&bytes[..4], &[5, 0, 19, 0], "five floors, the first 19 bytes on the left");
        assert!(bytes.windows(5).any(|w| w == [1, 0, FLOOR_TCP, 2, 0]), "the port floor");
        assert!(bytes.windows(2).any(|w| w == 5000u16.to_be_bytes()));
        assert_eq!(Tower::decode(&bytes), Some(t));
        assert_eq!(Tower::decode(&bytes[..20]), None, "truncated");
    }

    #[test]
    fn ept_map_answers_with_the_registered_port_or_not_registered() {
        let registered: Registrations = Arc::new(Mutex::new(vec![(crate::example::syntax(), 5135)]));
        let mut mapper = Mapper::new(registered);
        let query = |interface: SyntaxId| {
            let tower = Tower { interface, transfer: SyntaxId::ndr20(), port: 0, ip: [0; 4] }.encode();
            let mut w = NdrWriter::new();
            w.pointer(true);
            for _ in 0..4 {
                w.u32(0);
            }
            w.pointer(true);
            w.u32(u32::try_from(tower.len()).unwrap());
            w.u32(u32::try_from(tower.len()).unwrap());
            for b in tower {
                w.u8(b);
            }
            w.align(4);
            for _ in 0..5 {
                w.u32(0);
            }
            w.u32(4);
            w.into_bytes()
        };
        let reply = mapper.call(3, &query(crate::example::syntax()), DataRep::NATIVE).unwrap();
        let mut r = NdrReader::new(&reply, DataRep::NATIVE);
        for _ in 0..5 {
            r.u32().unwrap();
        }
        assert_eq!(r.u32(), Ok(1), "one tower");
        assert_eq!((r.u32(), r.u32(), r.u32()), (Ok(4), Ok(0), Ok(1)));
        assert!(r.pointer().unwrap().is_some());
        let length = r.u32().unwrap();
        assert_eq!(r.u32(), Ok(length));
        let octets: Vec<u8> = (0..length).map(|_| r.u8().unwrap()).collect();
        assert_eq!(Tower::decode(&octets).map(|t| t.port), Some(5135));
        assert_eq!(r.u32(), Ok(0), "status");
        assert!(r.finished());
        let missing = mapper.call(3, &query(syntax()), DataRep::NATIVE).unwrap();
        assert_eq!(&missing[missing.len() - 4..], &EPT_S_NOT_REGISTERED.to_le_bytes());
    }
}
