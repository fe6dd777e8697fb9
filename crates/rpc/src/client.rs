//! A blocking client over any byte stream: bind one interface with NDR20,
//! then make calls (fragmenting requests and reassembling responses), each
//! within an optional deadline. [`crate::connection::Connection`] adds
//! connecting by string binding, reconnecting and cancellation on top.

use std::fmt;
use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

pub use switchboard_rpc_proto::client::{Call, Error, InProcess, Reply};

use crate::pdu::{Body, ContextElem, HEADER_LEN, Header, MIN_FRAGMENT, PacketType, Pdu, flags};
use crate::uuid::SyntaxId;

impl<S: Read + Write> Call for Client<S> {
    fn call(&mut self, opnum: u16, stub: Vec<u8>) -> Result<Reply, Error> {
        Client::call(self, opnum, &stub)
    }
}

/// Sets a stream's read timeout (what a deadline is made of).
pub type SetReadTimeout<S> = fn(&S, Option<Duration>) -> io::Result<()>;

/// A bound client.
pub struct Client<S> {
    stream: S,
    call_id: u32,
    max_xmit: u16,
    buffer: Vec<u8>,
    deadline: Option<(Instant, SetReadTimeout<S>)>,
}

impl<S> fmt::Debug for Client<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("call_id", &self.call_id)
            .field("max_xmit", &self.max_xmit)
            .finish_non_exhaustive()
    }
}

fn invalid(reason: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, reason.into())
}

impl<S: Read + Write> Client<S> {
    /// Binds `interface` (context 0, NDR20) on `stream`.
    pub fn bind(stream: S, interface: SyntaxId) -> io::Result<Self> {
        Self::bind_until(stream, interface, None)
    }

    /// Binds, the answer due before `deadline` (`set` puts a read timeout
    /// on the stream), so a server that trickles cannot stall the bind.
    pub fn bind_until(
        stream: S,
        interface: SyntaxId,
        deadline: Option<(Instant, SetReadTimeout<S>)>,
    ) -> io::Result<Self> {
        let mut client = Self { stream, call_id: 1, max_xmit: MIN_FRAGMENT, buffer: Vec::new(), deadline };
        let contexts =
            vec![ContextElem { id: 0, abstract_syntax: interface, transfer_syntaxes: vec![SyntaxId::ndr20()] }];
        client.send(
            PacketType::Bind,
            flags::FIRST_FRAG | flags::LAST_FRAG,
            Body::Bind { max_xmit: 5840, max_recv: 5840, assoc_group: 0, contexts },
        )?;
        match client.receive()?.body {
            Body::BindAck { max_recv, results, .. } if results.first().is_some_and(|r| r.result == 0) => {
                // We send what the server takes (its max_recv), no more than we offered.
                client.max_xmit = max_recv.clamp(MIN_FRAGMENT, 5840);
                client.deadline = None;
                Ok(client)
            }
            other => Err(invalid(format!("bind refused: {other:?}"))),
        }
    }

    fn send(&mut self, ptype: PacketType, flags: u8, body: Body) -> io::Result<()> {
        let header = Header::new(ptype, flags, self.call_id);
        self.stream.write_all(&Pdu { header, body, auth: None }.emit())
    }

    fn receive(&mut self) -> io::Result<Pdu> {
        let mut chunk = [0u8; 8192];
        loop {
            if let Some(h) = Header::peek(&self.buffer).map_err(|e| invalid(e.to_string()))?
                && self.buffer.len() >= usize::from(h.frag_length)
            {
                let frag: Vec<u8> = self.buffer.drain(..usize::from(h.frag_length)).collect();
                return Pdu::parse(&frag).map_err(|e| invalid(e.to_string()));
            }
            if let Some((deadline, set)) = self.deadline {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(io::ErrorKind::TimedOut.into());
                }
                set(&self.stream, Some(left))?;
            }
            let n = self.stream.read(&mut chunk)?;
            if n == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            self.buffer.extend_from_slice(&chunk[..n]);
        }
    }

    /// Answers must come before `deadline` (`None`: wait for ever); `set`
    /// puts a read timeout on the stream, e.g. `TcpStream::set_read_timeout`.
    pub fn set_deadline(&mut self, deadline: Option<Instant>, set: SetReadTimeout<S>) {
        self.deadline = deadline.map(|d| (d, set));
    }

    /// The stream.
    pub fn stream(&self) -> &S {
        &self.stream
    }

    /// The call id of the latest call.
    pub fn call_id(&self) -> u32 {
        self.call_id
    }

    /// Tells the server the latest call's answer is no longer wanted
    /// (`orphaned`).
    pub fn orphan(&mut self) -> io::Result<()> {
        self.send(PacketType::Orphaned, flags::FIRST_FRAG | flags::LAST_FRAG, Body::Empty)
    }

    /// Calls `opnum` with NDR20 stub data: the reply, or why not (a fault
    /// is [`Error::Fault`]).
    pub fn call(&mut self, opnum: u16, stub: &[u8]) -> Result<Reply, Error> {
        self.call_id = self.call_id.wrapping_add(1);
        // A multiple of 8, as Windows cuts stub data.
        let room = (usize::from(self.max_xmit) - HEADER_LEN - 8) & !7;
        let pieces: Vec<&[u8]> = if stub.is_empty() { vec![&[][..]] } else { stub.chunks(room).collect() };
        let last = pieces.len() - 1;
        let hint = u32::try_from(stub.len()).unwrap_or(u32::MAX);
        for (i, piece) in pieces.into_iter().enumerate() {
            let f = if i == 0 { flags::FIRST_FRAG } else { 0 } | if i == last { flags::LAST_FRAG } else { 0 };
            self.send(
                PacketType::Request,
                f,
                Body::Request { alloc_hint: hint, context: 0, opnum, object: None, stub: piece.to_vec() },
            )?;
        }
        let mut reply = Vec::new();
        loop {
            let pdu = self.receive()?;
            if pdu.header.call_id != self.call_id {
                return Err(Error::Protocol(format!(
                    "an answer to call {} during call {}",
                    pdu.header.call_id, self.call_id
                )));
            }
            match pdu.body {
                Body::Response { stub, .. } => {
                    if reply.len() + stub.len() > crate::server::MAX_CALL_STUB {
                        return Err(Error::Protocol(format!("a reply to operation {opnum} beyond 4 MiB")));
                    }
                    reply.extend_from_slice(&stub);
                    if pdu.header.flags & flags::LAST_FRAG != 0 {
                        return Ok(Reply { stub: reply, drep: pdu.header.drep });
                    }
                }
                Body::Fault { status, .. } => return Err(Error::Fault { opnum, status }),
                other => return Err(Error::Protocol(format!("a {other:?} in answer to a request"))),
            }
        }
    }
}
