//! The server side of one association, without I/O.
//!
//! # Driving contract
//!
//! The transport owns the connection. It hands every byte it reads to
//! [`Association::receive`], then sends whatever [`Association::poll_transmit`]
//! gives until it gives nothing; when [`Association::is_closed`] turns true
//! it closes the connection. Nothing here blocks, sleeps or reads a clock.

use std::collections::HashMap;

use crate::DataRep;
use crate::ndr::NdrError;
use crate::pdu::{
    self, AuthTrailer, Body, ContextElem, ContextResult, HEADER_LEN, Header, MIN_FRAGMENT, PacketType, Pdu, PduError,
    flags,
};
use crate::uuid::{SyntaxId, Uuid};

/// The largest fragment we send or take.
pub const MAX_FRAGMENT: u16 = 5840;
/// Calls one association may have half received (fragments still to come).
pub const MAX_PENDING_CALLS: usize = 16;
/// The largest stub data one call may bring, all fragments together (and
/// all the calls half received on one association together).
pub const MAX_CALL_STUB: usize = 4 << 20;

/// `bind_nak` reason: not specified (a PDU beyond our limits).
pub const REJECT_NOT_SPECIFIED: u16 = 0;
/// Fault status `ERROR_ACCESS_DENIED` (an `alter_context` with an
/// authentication we do not have).
const FAULT_ACCESS_DENIED: u32 = 5;
/// Samba's `ncalrpc_as_system` authentication type (local connections).
pub const AUTH_NCALRPC_AS_SYSTEM: u8 = 200;
/// Authentication level connect (authenticated at bind, nothing after).
const AUTH_LEVEL_CONNECT: u8 = 2;
/// `bind_nak` reason: the authentication type is not recognized.
pub const REJECT_AUTHENTICATION_TYPE: u16 = 8;
/// `p_cont_def_result`: accepted.
const ACCEPTANCE: u16 = 0;
/// `p_cont_def_result`: the provider rejects.
const PROVIDER_REJECTION: u16 = 2;
/// `p_cont_def_result`: the bind-time feature negotiation's answer.
const NEGOTIATE_ACK: u16 = 3;
/// Bind-time feature bit: the connection survives an orphaned PDU.
const KEEP_CONNECTION_ON_ORPHAN: u16 = 0x0002;
/// Provider rejection reason: the abstract syntax (interface) is not supported.
const ABSTRACT_SYNTAX_NOT_SUPPORTED: u16 = 1;
/// Provider rejection reason: none of the proposed transfer syntaxes is supported.
const TRANSFER_SYNTAXES_NOT_SUPPORTED: u16 = 2;

/// An interface a server offers.
pub trait Interface: Send {
    /// Its UUID and version.
    fn syntax(&self) -> SyntaxId;

    /// Runs operation `opnum` on NDR20 stub data written with `drep`: the
    /// reply's stub data, or a fault status (`NCA_S_OP_RNG_ERROR` for an
    /// operation it does not have, `RPC_X_BAD_STUB_DATA` for data it cannot read).
    fn call(&mut self, opnum: u16, stub: &[u8], drep: DataRep) -> Result<Vec<u8>, u32>;
}

/// Whether a transfer syntax is the bind-time feature negotiation's
/// (`6cb71c2c-9812-4540-…`, its last eight bytes the feature bits:
/// MS-RPCE 3.3.1.5.3).
fn is_feature_negotiation(syntax: &SyntaxId) -> bool {
    syntax.uuid.d1 == 0x6cb7_1c2c && syntax.uuid.d2 == 0x9812 && syntax.uuid.d3 == 0x4540
}

/// A call being reassembled.
struct Call {
    context: u16,
    opnum: u16,
    drep: DataRep,
    stub: Vec<u8>,
}

/// Bytes of calls half received that a server's associations may hold
/// together (each also within [`MAX_CALL_STUB`]).
#[derive(Debug)]
pub struct Budget {
    used: std::sync::atomic::AtomicUsize,
    limit: usize,
}

impl Budget {
    /// A budget of `limit` bytes.
    pub fn new(limit: usize) -> Self {
        Self { used: std::sync::atomic::AtomicUsize::new(0), limit }
    }

    /// Bytes in use.
    pub fn used(&self) -> usize {
        self.used.load(std::sync::atomic::Ordering::Acquire)
    }

    fn take(&self, n: usize) -> bool {
        use std::sync::atomic::Ordering;
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |u| u.checked_add(n).filter(|&t| t <= self.limit))
            .is_ok()
    }

    fn give(&self, n: usize) {
        self.used.fetch_sub(n, std::sync::atomic::Ordering::AcqRel);
    }
}

impl Drop for Association {
    fn drop(&mut self) {
        if let Some(budget) = &self.budget {
            budget.give(self.pending_bytes);
        }
    }
}

/// One association (one connection) of a server.
pub struct Association {
    interfaces: Vec<Box<dyn Interface>>,
    /// Presentation context id → interface.
    contexts: HashMap<u16, usize>,
    assoc_group: u32,
    secondary_address: String,
    max_xmit: u16,
    max_recv: u16,
    bound: bool,
    calls: HashMap<u32, Call>,
    /// Stub bytes of all the calls half received.
    pending_bytes: usize,
    /// Calls refused mid-way whose later fragments are dropped.
    discarding: std::collections::HashSet<u32>,
    /// The server's budget for calls half received, shared by its associations.
    budget: Option<std::sync::Arc<Budget>>,
    input: Vec<u8>,
    /// Fragments taken whole from `input`, for a transport timing each PDU.
    fragments: u64,
    output: std::collections::VecDeque<Vec<u8>>,
    closed: bool,
    /// Whether the peer came over `ncalrpc` (a Unix socket).
    local: bool,
}

impl std::fmt::Debug for Association {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Association")
            .field("contexts", &self.contexts)
            .field("bound", &self.bound)
            .field("calls", &self.calls.len())
            .field("closed", &self.closed)
            .finish_non_exhaustive()
    }
}

impl Association {
    /// A new association offering `interfaces`, in association group
    /// `assoc_group`; `secondary_address` goes in the `bind_ack` (the TCP
    /// port, or the endpoint's name).
    pub fn new(interfaces: Vec<Box<dyn Interface>>, assoc_group: u32, secondary_address: &str) -> Self {
        Self {
            interfaces,
            contexts: HashMap::new(),
            assoc_group,
            secondary_address: secondary_address.to_owned(),
            max_xmit: MIN_FRAGMENT,
            max_recv: MIN_FRAGMENT,
            bound: false,
            calls: HashMap::new(),
            pending_bytes: 0,
            discarding: std::collections::HashSet::new(),
            budget: None,
            input: Vec::new(),
            fragments: 0,
            output: std::collections::VecDeque::new(),
            closed: false,
            local: false,
        }
    }

    /// Counts this association's calls half received against `budget`,
    /// shared with the server's other associations.
    #[must_use]
    pub fn with_budget(mut self, budget: std::sync::Arc<Budget>) -> Self {
        self.budget = Some(budget);
        self
    }

    /// Marks the association as come over `ncalrpc`: Samba's local
    /// authentication (`ncalrpc_as_system`) is then accepted at bind.
    #[must_use]
    pub fn over_ncalrpc(mut self) -> Self {
        self.local = true;
        self
    }

    /// Bytes from the connection. A protocol error closes the association
    /// (after queueing a fault when one can be addressed) and is returned
    /// for the log.
    pub fn receive(&mut self, bytes: &[u8]) -> Result<(), PduError> {
        if self.closed {
            return Ok(());
        }
        self.input.extend_from_slice(bytes);
        loop {
            let header = match Header::peek(&self.input) {
                Ok(Some(h)) => h,
                Ok(None) => return Ok(()),
                Err(e) => return Err(self.fail(e)),
            };
            if header.frag_length > self.max_recv.max(MAX_FRAGMENT) {
                // Answered, then closed: a fault for a call, a bind_nak for a bind.
                if self.bound {
                    self.fault(header.call_id, 0, pdu::NCA_S_PROTO_ERROR);
                } else {
                    let body = Body::BindNak { reason: REJECT_NOT_SPECIFIED, versions: vec![(5, 0)] };
                    self.send(PacketType::BindNak, flags::FIRST_FRAG | flags::LAST_FRAG, header.call_id, body);
                }
                let e = PduError { part: "header", reason: format!("a fragment of {} bytes", header.frag_length) };
                return Err(self.fail(e));
            }
            let len = usize::from(header.frag_length);
            if self.input.len() < len {
                return Ok(());
            }
            let frag: Vec<u8> = self.input.drain(..len).collect();
            self.fragments += 1;
            match Pdu::parse(&frag) {
                Ok(pdu) => self.handle(pdu)?,
                Err(e) => return Err(self.fail(e)),
            }
        }
    }

    /// The next bytes to send.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.output.pop_front()
    }

    /// Whether part of a PDU has come and the rest not yet (a transport
    /// bounds how long that may last).
    pub fn has_partial_input(&self) -> bool {
        !self.input.is_empty()
    }

    /// Fragments (PDUs) received whole so far: a transport that sees part
    /// of a PDU before and after a read tells by this whether it is the
    /// same PDU or a new one.
    pub fn fragments_received(&self) -> u64 {
        self.fragments
    }

    /// Whether the bind is done (a transport bounds how long that may take).
    pub fn is_bound(&self) -> bool {
        self.bound
    }

    /// Whether the connection should be closed (once the output is sent).
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    fn fail(&mut self, e: PduError) -> PduError {
        self.closed = true;
        e
    }

    fn send(&mut self, ptype: PacketType, flags: u8, call_id: u32, body: Body) {
        self.send_with(ptype, flags, call_id, body, None);
    }

    fn send_with(&mut self, ptype: PacketType, flags: u8, call_id: u32, body: Body, auth: Option<AuthTrailer>) {
        self.output.push_back(Pdu { header: Header::new(ptype, flags, call_id), body, auth }.emit());
    }

    fn handle(&mut self, pdu: Pdu) -> Result<(), PduError> {
        let call_id = pdu.header.call_id;
        match pdu.body {
            Body::Bind { max_xmit, max_recv, assoc_group, contexts } => {
                let alter = pdu.header.ptype == PacketType::AlterContext;
                if self.bound != alter {
                    // Answered, as Samba answers, then closed.
                    self.fault(call_id, 0, pdu::NCA_S_PROTO_ERROR);
                    let why = if alter { "alter_context before bind" } else { "a second bind" };
                    return Err(self.fail(PduError { part: "bind", reason: why.into() }));
                }
                let auth_reply = self.accept_auth(pdu.auth.as_ref());
                if alter && matches!(auth_reply, AuthOutcome::Unsupported) {
                    // No bind_nak for an alter_context: a fault (access denied), then closed.
                    self.fault(call_id, 0, FAULT_ACCESS_DENIED);
                    return Err(self
                        .fail(PduError { part: "alter_context", reason: "an authentication we do not have".into() }));
                }
                let AuthOutcome::Accepted(auth_reply) = auth_reply else {
                    // An authentication service we do not have: refuse, not hang.
                    self.send(
                        PacketType::BindNak,
                        flags::FIRST_FRAG | flags::LAST_FRAG,
                        call_id,
                        Body::BindNak { reason: REJECT_AUTHENTICATION_TYPE, versions: vec![(5, 0)] },
                    );
                    return Ok(());
                };
                if !alter {
                    self.max_xmit = max_recv.clamp(MIN_FRAGMENT, MAX_FRAGMENT);
                    self.max_recv = max_xmit.clamp(MIN_FRAGMENT, MAX_FRAGMENT);
                    if assoc_group != 0 {
                        self.assoc_group = assoc_group;
                    }
                    self.bound = true;
                }
                let results = contexts.iter().map(|c| self.negotiate(c)).collect();
                let ptype = if alter { PacketType::AlterContextResp } else { PacketType::BindAck };
                let body = Body::BindAck {
                    max_xmit: self.max_xmit,
                    max_recv: self.max_recv,
                    assoc_group: self.assoc_group,
                    secondary_address: if alter { String::new() } else { self.secondary_address.clone() },
                    results,
                };
                self.send_with(ptype, flags::FIRST_FRAG | flags::LAST_FRAG, call_id, body, auth_reply);
                Ok(())
            }
            Body::Request { context, opnum, stub, .. } => {
                if !self.bound {
                    return Err(self.fail(PduError { part: "request", reason: "a request before bind".into() }));
                }
                self.request(&pdu.header, context, opnum, &stub);
                Ok(())
            }
            Body::Empty if pdu.header.ptype == PacketType::Orphaned => {
                if let Some(call) = self.calls.remove(&call_id) {
                    self.release(call.stub.len());
                }
                Ok(())
            }
            Body::Empty if pdu.header.ptype == PacketType::Shutdown => {
                self.closed = true;
                Ok(())
            }
            Body::Empty => Ok(()),
            _ => Err(self.fail(PduError {
                part: "pdu",
                reason: format!("a {:?} is not something a client sends", pdu.header.ptype),
            })),
        }
    }

    /// What a bind's authentication trailer gets: `Ok(None)` without one,
    /// `Ok(Some(answer))` for Samba's local authentication over ncalrpc
    /// (the peer came through a directory only its owner can reach, and is
    /// trusted as Samba trusts it; level connect, so no request carries a
    /// verifier), [`AuthOutcome::Unsupported`] for anything else (a
    /// `bind_nak`, not a hang).
    fn accept_auth(&self, auth: Option<&AuthTrailer>) -> AuthOutcome {
        let Some(a) = auth else { return AuthOutcome::Accepted(None) };
        let local_system = self.local
            && a.auth_type == AUTH_NCALRPC_AS_SYSTEM
            && a.auth_level <= AUTH_LEVEL_CONNECT
            && a.value == b"NCALRPC_AUTH_TOKEN";
        if !local_system {
            return AuthOutcome::Unsupported;
        }
        AuthOutcome::Accepted(Some(AuthTrailer {
            auth_type: AUTH_NCALRPC_AS_SYSTEM,
            auth_level: a.auth_level,
            pad_length: 0,
            context_id: a.context_id,
            value: b"NCALRPC_AUTH_OK".to_vec(),
        }))
    }

    /// One request fragment: reassembled with the call's others; the call
    /// runs at its last fragment. Limits: 16 calls half received, and 4 MiB
    /// of stub data for them all together; a call beyond them gets a fault
    /// and its later fragments are dropped, not taken for a protocol error.
    fn request(&mut self, header: &Header, context: u16, opnum: u16, stub: &[u8]) {
        let call_id = header.call_id;
        let (first, last) = (header.flags & flags::FIRST_FRAG != 0, header.flags & flags::LAST_FRAG != 0);
        if first {
            // A new call (a repeated first fragment starts the call afresh).
            self.discarding.remove(&call_id);
            if let Some(old) = self.calls.remove(&call_id) {
                self.release(old.stub.len());
            }
            if self.calls.len() >= MAX_PENDING_CALLS {
                self.refuse_call(call_id, context, last);
                return;
            }
            self.calls.insert(call_id, Call { context, opnum, drep: header.drep, stub: Vec::new() });
        } else if self.discarding.contains(&call_id) {
            if last {
                self.discarding.remove(&call_id);
            }
            return;
        }
        let Some(call) = self.calls.get_mut(&call_id) else {
            // A middle or last fragment of no call we know.
            self.fault(call_id, context, pdu::NCA_S_PROTO_ERROR);
            return;
        };
        let had = call.stub.len();
        if !self.reserve(stub.len()) {
            self.calls.remove(&call_id);
            self.release(had);
            self.refuse_call(call_id, context, last);
            return;
        }
        if let Some(call) = self.calls.get_mut(&call_id) {
            call.stub.extend_from_slice(stub);
        }
        if last && let Some(call) = self.calls.remove(&call_id) {
            self.release(call.stub.len());
            self.run(call_id, &call);
        }
    }

    /// Counts `n` more bytes of calls half received, within this
    /// association's 4 MiB and the server's shared budget.
    fn reserve(&mut self, n: usize) -> bool {
        if self.pending_bytes + n > MAX_CALL_STUB {
            return false;
        }
        if let Some(budget) = &self.budget
            && !budget.take(n)
        {
            return false;
        }
        self.pending_bytes += n;
        true
    }

    /// Gives back `n` bytes counted by [`Association::reserve`].
    fn release(&mut self, n: usize) {
        self.pending_bytes -= n;
        if let Some(budget) = &self.budget {
            budget.give(n);
        }
    }

    /// Faults a call that cannot be taken, dropping the rest of its fragments.
    fn refuse_call(&mut self, call_id: u32, context: u16, last: bool) {
        self.fault(call_id, context, pdu::NCA_S_PROTO_ERROR);
        if !last && self.discarding.len() < MAX_PENDING_CALLS {
            self.discarding.insert(call_id);
        }
    }

    /// The result for one proposed context, in order.
    fn negotiate(&mut self, c: &ContextElem) -> ContextResult {
        let none = SyntaxId { uuid: Uuid::default(), major: 0, minor: 0 };
        if c.transfer_syntaxes.iter().any(is_feature_negotiation) {
            // Bind-time feature negotiation: of the features, we have
            // "keep the connection on orphan" (an orphaned PDU ends its call,
            // not the association), not security context multiplexing.
            return ContextResult { result: NEGOTIATE_ACK, reason: KEEP_CONNECTION_ON_ORPHAN, transfer_syntax: none };
        }
        let Some(index) = self.interfaces.iter().position(|i| i.syntax() == c.abstract_syntax) else {
            return ContextResult {
                result: PROVIDER_REJECTION,
                reason: ABSTRACT_SYNTAX_NOT_SUPPORTED,
                transfer_syntax: none,
            };
        };
        if !c.transfer_syntaxes.contains(&SyntaxId::ndr20()) {
            // NDR64 only (or something else): refused; the client retries with NDR20.
            return ContextResult {
                result: PROVIDER_REJECTION,
                reason: TRANSFER_SYNTAXES_NOT_SUPPORTED,
                transfer_syntax: none,
            };
        }
        self.contexts.insert(c.id, index);
        ContextResult { result: ACCEPTANCE, reason: 0, transfer_syntax: SyntaxId::ndr20() }
    }

    fn fault(&mut self, call_id: u32, context: u16, status: u32) {
        let body = Body::Fault { alloc_hint: 0, context, cancel_count: 0, status };
        self.send(PacketType::Fault, flags::FIRST_FRAG | flags::LAST_FRAG | flags::DID_NOT_EXECUTE, call_id, body);
    }

    fn run(&mut self, call_id: u32, call: &Call) {
        let Some(&index) = self.contexts.get(&call.context) else {
            self.fault(call_id, call.context, pdu::NCA_S_UNK_IF);
            return;
        };
        if call.drep.ebcdic || call.drep.float != 0 {
            // Characters in EBCDIC, or VAX/Cray/IBM floats: we would misread them.
            self.fault(call_id, call.context, pdu::NCA_S_UNSUPPORTED_TYPE);
            return;
        }
        match self.interfaces[index].call(call.opnum, &call.stub, call.drep) {
            Err(status) => self.fault(call_id, call.context, status),
            Ok(reply) => {
                // Fragments of at most max_xmit bytes: header 16 + response fields 8.
                // A multiple of 8, as Windows cuts stub data.
                let room = (usize::from(self.max_xmit) - HEADER_LEN - 8) & !7;
                let total = u32::try_from(reply.len()).unwrap_or(u32::MAX);
                let chunks: Vec<&[u8]> = if reply.is_empty() { vec![&[][..]] } else { reply.chunks(room).collect() };
                let last = chunks.len() - 1;
                for (i, chunk) in chunks.into_iter().enumerate() {
                    let mut f = 0;
                    if i == 0 {
                        f |= flags::FIRST_FRAG;
                    }
                    if i == last {
                        f |= flags::LAST_FRAG;
                    }
                    let body = Body::Response {
                        alloc_hint: total,
                        context: call.context,
                        cancel_count: 0,
                        stub: chunk.to_vec(),
                    };
                    self.send(PacketType::Response, f, call_id, body);
                }
            }
        }
    }
}

/// An NDR error as the fault a server answers with.
pub fn bad_stub(_: NdrError) -> u32 {
    pdu::RPC_X_BAD_STUB_DATA
}

/// What a bind's authentication comes to.
#[derive(Debug)]
enum AuthOutcome {
    /// None was asked, or Samba's local one: the trailer to answer with, if any.
    Accepted(Option<AuthTrailer>),
    /// A service we do not have.
    Unsupported,
}
