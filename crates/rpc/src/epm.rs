//! The endpoint mapper (`e1af8308-5d1f-11c9-91a4-08002b14a0fa` v3.0),
//! declared with [`crate::interface`]: towers for `ncacn_ip_tcp` and
//! `ncalrpc`, `ept_lookup` (inquiry filters, paging through a lookup
//! handle), `ept_map`, `ept_lookup_handle_free`, and `ept_insert`/
//! `ept_delete` for local servers.
//!
//! # Where the mapper lives
//!
//! Beside the broker, not in it: it is an ordinary RPC server
//! ([`Mapper`] behind [`EndpointMapperServer`]) that a process runs on TCP
//! port 135 (or a configured port) and at the `ncalrpc` endpoint
//! `EPMAPPER`. The broker's loop serves Switchboard's own protocol and
//! holds no RPC state; keeping DCE/RPC out of it keeps a malformed PDU, or a
//! slow mapper client, away from every other mechanism. Servers register
//! with `ept_insert`, which is accepted only over `ncalrpc` (a Unix socket
//! whose directory only its owner can reach): over TCP it is refused with
//! `EPT_S_CANT_PERFORM_OP`, as Windows refuses remote registration.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use crate::DataRep;
use crate::marshal::ContextHandle;
use crate::uuid::{SyntaxId, Uuid};

/// `ept_s_not_registered`: no (more) endpoints for that interface.
pub const EPT_S_NOT_REGISTERED: u32 = 0x16C9_A0D6;
/// `ept_s_cant_perform_op`: not allowed here (registration from afar).
pub const EPT_S_CANT_PERFORM_OP: u32 = 0x16C9_A0CD;
/// `ept_s_invalid_entry`: an entry whose tower cannot be read.
pub const EPT_S_INVALID_ENTRY: u32 = 0x16C9_A0CE;

/// Tower floor protocol ids.
const FLOOR_UUID: u8 = 0x0D;
const FLOOR_RPC_CO: u8 = 0x0B;
const FLOOR_TCP: u8 = 0x07;
const FLOOR_IP: u8 = 0x09;
const FLOOR_NCALRPC: u8 = 0x0C;
const FLOOR_PIPE: u8 = 0x10;
const FLOOR_SMB: u8 = 0x0F;
const FLOOR_NETBIOS: u8 = 0x11;

/// `ept_lookup`'s inquiry types.
pub const RPC_C_EP_ALL_ELTS: u32 = 0;
/// Entries of one interface (and version, by `vers_option`).
pub const RPC_C_EP_MATCH_BY_IF: u32 = 1;
/// Entries of one object.
pub const RPC_C_EP_MATCH_BY_OBJ: u32 = 2;
/// Both.
pub const RPC_C_EP_MATCH_BY_BOTH: u32 = 3;

/// `ept_lookup`'s version options.
pub const RPC_C_VERS_ALL: u32 = 1;
/// The same major version, a minor version at least the one asked.
pub const RPC_C_VERS_COMPATIBLE: u32 = 2;
/// Exactly the version asked.
pub const RPC_C_VERS_EXACT: u32 = 3;
/// The same major version.
pub const RPC_C_VERS_MAJOR_ONLY: u32 = 4;
/// Versions up to the one asked.
pub const RPC_C_VERS_UPTO: u32 = 5;

/// `twr_t`: a tower's octets.
#[derive(crate::Ndr, Clone, Debug, PartialEq, Eq)]
pub struct Twr {
    /// The number of octets.
    pub tower_length: u32,
    /// The octets (floor count, then the floors).
    #[ndr(size_is = tower_length)]
    pub octets: Vec<u8>,
}

impl Twr {
    /// The octets of `tower`.
    pub fn new(tower: &Tower) -> Self {
        let octets = tower.encode();
        Self { tower_length: u32::try_from(octets.len()).unwrap_or(u32::MAX), octets }
    }
}

/// `rpc_if_id_t`: an interface and its version.
#[derive(crate::Ndr, Clone, Copy, Debug, PartialEq, Eq)]
pub struct RpcIfId {
    /// The interface's UUID.
    pub uuid: Uuid,
    /// Major version.
    pub vers_major: u16,
    /// Minor version.
    pub vers_minor: u16,
}

/// `ept_entry_t`: one registration as `ept_lookup` lists it.
#[derive(crate::Ndr, Clone, Debug, PartialEq, Eq)]
pub struct EptEntry {
    /// The object (nil for none).
    pub object: Uuid,
    /// Where: the tower.
    pub tower: Option<Twr>,
    /// `[string] char annotation[64]`.
    #[ndr(string, char, fixed = 64)]
    pub annotation: String,
}

/// The endpoint mapper's operations (the C706 IDL, less the binding handle).
#[crate::interface(uuid = "e1af8308-5d1f-11c9-91a4-08002b14a0fa", version = "3.0")]
pub trait EndpointMapper {
    /// 0: registers entries (local servers only).
    fn ept_insert(
        &mut self,
        num_ents: u32,
        #[ndr(size_is = num_ents)] entries: Vec<EptEntry>,
        replace: u32,
        status: &mut u32,
    );
    /// 1: removes entries (local servers only).
    fn ept_delete(&mut self, num_ents: u32, #[ndr(size_is = num_ents)] entries: Vec<EptEntry>, status: &mut u32);
    /// 2: lists entries, `max_ents` at a time.
    #[allow(clippy::too_many_arguments)]
    fn ept_lookup(
        &mut self,
        inquiry_type: u32,
        object: Option<Uuid>,
        interface_id: Option<RpcIfId>,
        vers_option: u32,
        #[ndr(in)] entry_handle: &mut ContextHandle,
        max_ents: u32,
        num_ents: &mut u32,
        #[ndr(size_is = max_ents, length_is = num_ents)] entries: &mut Vec<EptEntry>,
        status: &mut u32,
    );
    /// 3: the towers that reach the interface `map_tower` names.
    #[allow(clippy::too_many_arguments)]
    fn ept_map(
        &mut self,
        object: Option<Uuid>,
        map_tower: Option<Twr>,
        #[ndr(in)] entry_handle: &mut ContextHandle,
        max_towers: u32,
        num_towers: &mut u32,
        #[ndr(size_is = max_towers, length_is = num_towers)] towers: &mut Vec<Option<Twr>>,
        status: &mut u32,
    );
    /// 4: ends a lookup before its end.
    fn ept_lookup_handle_free(&mut self, #[ndr(in)] entry_handle: &mut ContextHandle, status: &mut u32);
}

/// The mapper's syntax.
pub fn syntax() -> SyntaxId {
    EndpointMapperServer::<Mapper>::syntax()
}

/// Where an interface is served.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Endpoint {
    /// `ncacn_ip_tcp`.
    Tcp {
        /// The IPv4 address (0.0.0.0 in a query).
        ip: [u8; 4],
        /// The port (0 in a query).
        port: u16,
    },
    /// `ncalrpc`: an endpoint name.
    Local {
        /// The name (empty in a query).
        name: String,
    },
    /// `ncacn_np`: a named pipe on a host.
    Pipe {
        /// The pipe, `\PIPE\NAME` (empty in a query).
        pipe: String,
        /// The host's `NetBIOS` name, `\\HOST` (empty in a query).
        host: String,
    },
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Tcp { ip, port } => write!(f, "ncacn_ip_tcp:{}.{}.{}.{}[{port}]", ip[0], ip[1], ip[2], ip[3]),
            Self::Local { name } => write!(f, "ncalrpc:[{name}]"),
            Self::Pipe { pipe, host } => write!(f, "ncacn_np:{}[{pipe}]", host.trim_start_matches('\\')),
        }
    }
}

/// A tower: the protocol stack to reach an interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tower {
    /// The interface.
    pub interface: SyntaxId,
    /// The transfer syntax.
    pub transfer: SyntaxId,
    /// The transport and its address.
    pub endpoint: Endpoint,
}

fn floor(out: &mut Vec<u8>, lhs: &[u8], rhs: &[u8]) {
    out.extend_from_slice(&u16::try_from(lhs.len()).unwrap_or(0).to_le_bytes());
    out.extend_from_slice(lhs);
    out.extend_from_slice(&u16::try_from(rhs.len()).unwrap_or(0).to_le_bytes());
    out.extend_from_slice(rhs);
}

fn nul_terminated(text: &str) -> Vec<u8> {
    let mut rhs = text.as_bytes().to_vec();
    rhs.push(0);
    rhs
}

fn syntax_floor(out: &mut Vec<u8>, s: &SyntaxId) {
    let mut lhs = vec![FLOOR_UUID];
    s.uuid.emit(DataRep::NATIVE, &mut lhs);
    lhs.extend_from_slice(&s.major.to_le_bytes());
    floor(out, &lhs, &s.minor.to_le_bytes());
}

impl Tower {
    /// The tower's octets: for `ncacn_ip_tcp` five floors (interface,
    /// transfer syntax, RPC connection-oriented, TCP port big-endian, IPv4
    /// address); for `ncalrpc` four (interface, transfer syntax, `ncalrpc`,
    /// the endpoint's name with its NUL); for `ncacn_np` five (interface,
    /// transfer syntax, RPC connection-oriented, the pipe `\PIPE\NAME`,
    /// the host `\\HOST`), as Windows and Samba write them.
    pub fn encode(&self) -> Vec<u8> {
        let floors: u16 = match self.endpoint {
            Endpoint::Tcp { .. } | Endpoint::Pipe { .. } => 5,
            Endpoint::Local { .. } => 4,
        };
        let mut out = floors.to_le_bytes().to_vec();
        syntax_floor(&mut out, &self.interface);
        syntax_floor(&mut out, &self.transfer);
        match &self.endpoint {
            Endpoint::Tcp { ip, port } => {
                floor(&mut out, &[FLOOR_RPC_CO], &[0, 0]);
                floor(&mut out, &[FLOOR_TCP], &port.to_be_bytes());
                floor(&mut out, &[FLOOR_IP], ip);
            }
            Endpoint::Local { name } => {
                floor(&mut out, &[FLOOR_NCALRPC], &[0, 0]);
                floor(&mut out, &[FLOOR_PIPE], &nul_terminated(name));
            }
            Endpoint::Pipe { pipe, host } => {
                floor(&mut out, &[FLOOR_RPC_CO], &[0, 0]);
                floor(&mut out, &[FLOOR_SMB], &nul_terminated(pipe));
                floor(&mut out, &[FLOOR_NETBIOS], &nul_terminated(host));
            }
        }
        out
    }

    /// Reads a tower; `None` unless it is an `ncacn_ip_tcp`, `ncalrpc` or `ncacn_np` one.
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
        let (proto, address) = (floors.get(2)?, floors.get(3)?);
        let endpoint = if proto.0 == [FLOOR_RPC_CO] && address.0 == [FLOOR_TCP] && address.1.len() == 2 {
            let ip =
                floors.get(4).and_then(|(l, r)| (l == &[FLOOR_IP]).then(|| r.as_slice().try_into().ok()).flatten());
            Endpoint::Tcp { ip: ip.unwrap_or([0; 4]), port: u16::from_be_bytes([address.1[0], address.1[1]]) }
        } else if proto.0 == [FLOOR_RPC_CO] && address.0 == [FLOOR_SMB] {
            let text = |b: &[u8]| String::from_utf8(b.strip_suffix(&[0]).unwrap_or(b).to_vec()).ok();
            let host =
                floors.get(4).filter(|(l, _)| l == &[FLOOR_NETBIOS]).map_or(Some(String::new()), |(_, r)| text(r))?;
            Endpoint::Pipe { pipe: text(&address.1)?, host }
        } else if proto.0 == [FLOOR_NCALRPC] && address.0 == [FLOOR_PIPE] {
            let name = address.1.strip_suffix(&[0]).unwrap_or(&address.1);
            Endpoint::Local { name: String::from_utf8(name.to_vec()).ok()? }
        } else {
            return None;
        };
        Some(Self { interface, transfer, endpoint })
    }
}

/// One registered endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Registration {
    /// The interface.
    pub interface: SyntaxId,
    /// The object (nil for none).
    pub object: Uuid,
    /// Where it is served.
    pub endpoint: Endpoint,
    /// Its annotation (at most 63 bytes go on the wire).
    pub annotation: String,
}

impl Registration {
    /// A registration of `interface` at `endpoint`, no object.
    pub fn new(interface: SyntaxId, endpoint: Endpoint, annotation: &str) -> Self {
        Self { interface, object: Uuid::default(), endpoint, annotation: annotation.to_owned() }
    }

    fn entry(&self) -> EptEntry {
        let tower = Tower { interface: self.interface, transfer: SyntaxId::ndr20(), endpoint: self.endpoint.clone() };
        EptEntry { object: self.object, tower: Some(Twr::new(&tower)), annotation: self.annotation.clone() }
    }
}

/// The registered endpoints, shared by every association of the mapper.
pub type Registrations = Arc<Mutex<Vec<Registration>>>;

/// The most entries a lookup handle may still hold per association.
const MAX_OPEN_LOOKUPS: usize = 64;

/// The endpoint mapper's server side, one per association (lookup handles
/// are the association's).
#[derive(Debug)]
pub struct Mapper {
    registered: Registrations,
    /// Whether this association came over `ncalrpc` (registration allowed).
    local: bool,
    /// What this association registered: withdrawn when it ends, so a
    /// server that dies leaves nothing behind (as Windows' mapper forgets
    /// a process's registrations).
    mine: Vec<Registration>,
    lookups: HashMap<Uuid, Lookup>,
    next_handle: u32,
}

impl Drop for Mapper {
    fn drop(&mut self) {
        if self.mine.is_empty() {
            return;
        }
        let mut registered = self.registered.lock().unwrap_or_else(PoisonError::into_inner);
        registered.retain(|r| !self.mine.contains(r));
    }
}

impl Mapper {
    /// A mapper answering from `registered`, for an association that came
    /// over the network (`ept_insert` and `ept_delete` are refused).
    pub fn new(registered: Registrations) -> Self {
        Self { registered, local: false, mine: Vec::new(), lookups: HashMap::new(), next_handle: 1 }
    }

    /// The same for an `ncalrpc` association: local servers may register.
    pub fn local(registered: Registrations) -> Self {
        let mut mapper = Self::new(registered);
        mapper.local = true;
        mapper
    }

    /// The mapper served (boxed for an association).
    pub fn into_server(self) -> Box<dyn crate::server::Interface> {
        Box::new(EndpointMapperServer(self))
    }
}

/// An `ept_lookup` under way: its question, and how many answers it had.
#[derive(Clone, Copy, Debug)]
struct Lookup {
    inquiry_type: u32,
    object: Option<Uuid>,
    interface_id: Option<RpcIfId>,
    vers_option: u32,
    next: usize,
}

impl Lookup {
    fn matches(&self, r: &Registration) -> bool {
        let by_if = matches!(self.inquiry_type, RPC_C_EP_MATCH_BY_IF | RPC_C_EP_MATCH_BY_BOTH);
        let by_obj = matches!(self.inquiry_type, RPC_C_EP_MATCH_BY_OBJ | RPC_C_EP_MATCH_BY_BOTH);
        let interface_ok = !by_if
            || self.interface_id.as_ref().is_some_and(|want| {
                r.interface.uuid == want.uuid && version_matches(r.interface, want, self.vers_option)
            });
        interface_ok && (!by_obj || self.object.is_some_and(|o| r.object == o))
    }
}

/// Whether a registered version answers a query under `vers_option`.
fn version_matches(have: SyntaxId, want: &RpcIfId, vers_option: u32) -> bool {
    let (hm, hn, wm, wn) = (have.major, have.minor, want.vers_major, want.vers_minor);
    match vers_option {
        RPC_C_VERS_COMPATIBLE => hm == wm && hn >= wn,
        RPC_C_VERS_EXACT => hm == wm && hn == wn,
        RPC_C_VERS_MAJOR_ONLY => hm == wm,
        RPC_C_VERS_UPTO => (hm, hn) <= (wm, wn),
        _ => true,
    }
}

impl EndpointMapper for Mapper {
    fn ept_insert(&mut self, _num_ents: u32, entries: Vec<EptEntry>, replace: u32, status: &mut u32) {
        if !self.local {
            *status = EPT_S_CANT_PERFORM_OP;
            return;
        }
        let mut new = Vec::new();
        for e in &entries {
            let Some(t) = e.tower.as_ref().and_then(|t| Tower::decode(&t.octets)) else {
                *status = EPT_S_INVALID_ENTRY;
                return;
            };
            new.push(Registration {
                interface: t.interface,
                object: e.object,
                endpoint: t.endpoint,
                annotation: e.annotation.clone(),
            });
        }
        let mut registered = self.registered.lock().unwrap_or_else(PoisonError::into_inner);
        for r in new {
            if replace != 0 {
                registered.retain(|o| {
                    !(o.interface.uuid == r.interface.uuid
                        && o.interface.major == r.interface.major
                        && o.object == r.object
                        && std::mem::discriminant(&o.endpoint) == std::mem::discriminant(&r.endpoint))
                });
            }
            if !registered.contains(&r) {
                registered.push(r.clone());
            }
            if !self.mine.contains(&r) {
                self.mine.push(r);
            }
        }
        *status = 0;
    }

    fn ept_delete(&mut self, _num_ents: u32, entries: Vec<EptEntry>, status: &mut u32) {
        if !self.local {
            *status = EPT_S_CANT_PERFORM_OP;
            return;
        }
        let mut registered = self.registered.lock().unwrap_or_else(PoisonError::into_inner);
        let before = registered.len();
        for e in &entries {
            if let Some(t) = e.tower.as_ref().and_then(|t| Tower::decode(&t.octets)) {
                registered
                    .retain(|o| !(o.interface == t.interface && o.endpoint == t.endpoint && o.object == e.object));
            }
        }
        *status = if registered.len() < before { 0 } else { EPT_S_NOT_REGISTERED };
    }

    fn ept_lookup(
        &mut self,
        inquiry_type: u32,
        object: Option<Uuid>,
        interface_id: Option<RpcIfId>,
        vers_option: u32,
        entry_handle: &mut ContextHandle,
        max_ents: u32,
        num_ents: &mut u32,
        entries: &mut Vec<EptEntry>,
        status: &mut u32,
    ) {
        // A lookup is its question and how far it got: nothing is copied
        // per handle; each call asks the registrations again.
        let query = if entry_handle.is_null() {
            Lookup { inquiry_type, object, interface_id, vers_option, next: 0 }
        } else {
            // A handle we did not give (or gave and freed) has nothing left.
            let Some(query) = self.lookups.remove(&entry_handle.uuid) else {
                *entry_handle = ContextHandle::default();
                *status = EPT_S_NOT_REGISTERED;
                return;
            };
            query
        };
        let max = usize::try_from(max_ents).unwrap_or(usize::MAX);
        *entries = {
            let registered = self.registered.lock().unwrap_or_else(PoisonError::into_inner);
            registered.iter().filter(|r| query.matches(r)).skip(query.next).take(max).map(Registration::entry).collect()
        };
        if entries.is_empty() {
            // The end (or nothing at all): the handle is closed.
            *entry_handle = ContextHandle::default();
            *status = EPT_S_NOT_REGISTERED;
            return;
        }
        let take = entries.len();
        *num_ents = u32::try_from(entries.len()).unwrap_or(u32::MAX);
        *status = 0;
        // A batch with room to spare is the last: the handle comes back
        // NULL (impacket's hept_lookup stops there). A full batch keeps
        // the handle open, even if nothing remains, and the next call says
        // EPT_S_NOT_REGISTERED (rpcclient's epmlookup, one entry a call,
        // stops there).
        if entries.len() < max {
            self.lookups.remove(&entry_handle.uuid);
            *entry_handle = ContextHandle::default();
            return;
        }
        if entry_handle.is_null() {
            if self.lookups.len() >= MAX_OPEN_LOOKUPS {
                self.lookups.clear();
            }
            let n = self.next_handle;
            self.next_handle = self.next_handle.wrapping_add(1);
            *entry_handle = ContextHandle { attributes: 0, uuid: Uuid { d1: n, d2: 0x5342, d3: 0x4550, d4: [0; 8] } };
        }
        self.lookups.insert(entry_handle.uuid, Lookup { next: query.next + take, ..query });
    }

    fn ept_map(
        &mut self,
        object: Option<Uuid>,
        map_tower: Option<Twr>,
        entry_handle: &mut ContextHandle,
        max_towers: u32,
        num_towers: &mut u32,
        towers: &mut Vec<Option<Twr>>,
        status: &mut u32,
    ) {
        *entry_handle = ContextHandle::default();
        let query = map_tower.as_ref().and_then(|t| Tower::decode(&t.octets));
        let found: Vec<Option<Twr>> = match &query {
            Some(q) if q.transfer == SyntaxId::ndr20() => self
                .registered
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .iter()
                .filter(|r| {
                    r.interface.uuid == q.interface.uuid
                        && r.interface.major == q.interface.major
                        && r.interface.minor >= q.interface.minor
                        && object.is_none_or(|o| o == Uuid::default() || o == r.object)
                        && std::mem::discriminant(&r.endpoint) == std::mem::discriminant(&q.endpoint)
                })
                .take(usize::try_from(max_towers).unwrap_or(0))
                .map(|r| {
                    let t = Tower { interface: r.interface, transfer: q.transfer, endpoint: r.endpoint.clone() };
                    Some(Twr::new(&t))
                })
                .collect(),
            _ => Vec::new(),
        };
        *num_towers = u32::try_from(found.len()).unwrap_or(0);
        *status = if found.is_empty() { EPT_S_NOT_REGISTERED } else { 0 };
        *towers = found;
    }

    fn ept_lookup_handle_free(&mut self, entry_handle: &mut ContextHandle, status: &mut u32) {
        self.lookups.remove(&entry_handle.uuid);
        *entry_handle = ContextHandle::default();
        *status = 0;
    }
}

/// Every entry of a mapper, through a bound client: `ept_lookup` called
/// until the mapper says there is no more (at most `max_calls` times), the
/// handle freed if the mapper did not close it.
pub fn lookup_all<C: crate::client::Call>(
    mapper: &mut EndpointMapperClient<C>,
    max_calls: usize,
) -> Result<Vec<EptEntry>, crate::client::Error> {
    let mut handle = ContextHandle::default();
    let mut all = Vec::new();
    for _ in 0..max_calls {
        let (mut num, mut entries, mut status) = (0, Vec::new(), 0);
        mapper.ept_lookup(
            RPC_C_EP_ALL_ELTS,
            None,
            None,
            RPC_C_VERS_ALL,
            &mut handle,
            64,
            &mut num,
            &mut entries,
            &mut status,
        )?;
        all.extend(entries);
        if status != 0 || handle.is_null() {
            return Ok(all);
        }
    }
    let mut status = 0;
    mapper.ept_lookup_handle_free(&mut handle, &mut status)?;
    Ok(all)
}

#[cfg(test)]
mod tests;

/// Endpoints registered with the mapper at `ncalrpc:[EPMAPPER]`, for as
/// long as this lives: dropping it withdraws them (`ept_delete`), and so
/// does the registering process's end (the mapper forgets what an
/// association registered when it closes).
#[derive(Debug)]
#[must_use = "the endpoints are withdrawn when this is dropped"]
pub struct Registered {
    mapper: EndpointMapperClient<crate::connection::Connection>,
    entries: Vec<EptEntry>,
}

impl Drop for Registered {
    fn drop(&mut self) {
        let count = u32::try_from(self.entries.len()).unwrap_or(u32::MAX);
        let mut status = 0;
        let _ = self.mapper.ept_delete(count, std::mem::take(&mut self.entries), &mut status);
    }
}

/// Registers `entries` with the endpoint mapper at `ncalrpc:[EPMAPPER]`
/// (`ept_insert`, replacing earlier registrations of the same interfaces
/// and transports), as `RpcEpRegister` does, until the returned guard is
/// dropped. Only a local mapper takes registrations.
pub fn register(
    options: &crate::connection::Options,
    entries: &[Registration],
) -> Result<Registered, crate::client::Error> {
    let binding = crate::binding::Binding::Local { endpoint: "EPMAPPER".into() };
    let rpc = crate::connection::Connection::connect(&binding, syntax(), options)?;
    let mut mapper = EndpointMapperClient::new(rpc);
    let list: Vec<EptEntry> = entries.iter().map(Registration::entry).collect();
    let count = u32::try_from(list.len()).unwrap_or(u32::MAX);
    let mut status = 0;
    mapper.ept_insert(count, list.clone(), 1, &mut status)?;
    if status != 0 {
        return Err(crate::client::Error::Protocol(format!("ept_insert at ncalrpc:[EPMAPPER]: status 0x{status:08x}")));
    }
    Ok(Registered { mapper, entries: list })
}
