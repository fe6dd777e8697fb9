//! A minimal blocking client over any byte stream: bind one interface with
//! NDR20, then make calls (fragmenting requests and reassembling
//! responses). Enough for the benchmark and tests; the full client runtime
//! (timeouts, cancellation, reconnect) is a later step of issue #7.

use std::io::{self, Read, Write};

use crate::DataRep;
use crate::pdu::{Body, ContextElem, HEADER_LEN, Header, MIN_FRAGMENT, PacketType, Pdu, flags};
use crate::uuid::SyntaxId;

/// A bound client.
#[derive(Debug)]
pub struct Client<S> {
    stream: S,
    call_id: u32,
    max_xmit: u16,
    buffer: Vec<u8>,
}

fn invalid(reason: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, reason.into())
}

impl<S: Read + Write> Client<S> {
    /// Binds `interface` (context 0, NDR20) on `stream`.
    pub fn bind(stream: S, interface: SyntaxId) -> io::Result<Self> {
        let mut client = Self { stream, call_id: 1, max_xmit: MIN_FRAGMENT, buffer: Vec::new() };
        let contexts =
            vec![ContextElem { id: 0, abstract_syntax: interface, transfer_syntaxes: vec![SyntaxId::ndr20()] }];
        client.send(
            PacketType::Bind,
            flags::FIRST_FRAG | flags::LAST_FRAG,
            Body::Bind { max_xmit: 5840, max_recv: 5840, assoc_group: 0, contexts },
        )?;
        match client.receive()?.body {
            Body::BindAck { max_xmit, results, .. } if results.first().is_some_and(|r| r.result == 0) => {
                client.max_xmit = max_xmit.max(MIN_FRAGMENT);
                Ok(client)
            }
            other => Err(invalid(format!("bind refused: {other:?}"))),
        }
    }

    fn send(&mut self, ptype: PacketType, flags: u8, body: Body) -> io::Result<()> {
        let header = Header {
            minor: 0,
            ptype,
            flags,
            drep: DataRep::NATIVE,
            frag_length: 0,
            auth_length: 0,
            call_id: self.call_id,
        };
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
            let n = self.stream.read(&mut chunk)?;
            if n == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            self.buffer.extend_from_slice(&chunk[..n]);
        }
    }

    /// Calls `opnum` with NDR20 stub data: the reply's stub data, or the
    /// fault status as an error.
    pub fn call(&mut self, opnum: u16, stub: &[u8]) -> io::Result<Vec<u8>> {
        self.call_id = self.call_id.wrapping_add(1);
        let room = usize::from(self.max_xmit) - HEADER_LEN - 8;
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
            match pdu.body {
                Body::Response { stub, .. } => {
                    reply.extend_from_slice(&stub);
                    if pdu.header.flags & flags::LAST_FRAG != 0 {
                        return Ok(reply);
                    }
                }
                Body::Fault { status, .. } => return Err(invalid(format!("fault 0x{status:08x}"))),
                other => return Err(invalid(format!("unexpected {other:?}"))),
            }
        }
    }
}
