//! A server association fed anything, cut anywhere: bytes before or after
//! a valid bind, delivered in pieces whose sizes the input chooses. It
//! never panics, every PDU it sends parses, and once it says closed it
//! sends nothing more.
#![no_main]

use std::sync::{Arc, Mutex};

use libfuzzer_sys::fuzz_target;
use switchboard_rpc::epm::Mapper;
use switchboard_rpc::pdu::{Body, ContextElem, Header, PacketType, Pdu, flags};
use switchboard_rpc::server::Association;
use switchboard_rpc::uuid::SyntaxId;

fn bind() -> Vec<u8> {
    let contexts = vec![
        ContextElem { id: 0, abstract_syntax: switchboard_rpc::example::syntax(), transfer_syntaxes: vec![SyntaxId::ndr20()] },
        ContextElem { id: 1, abstract_syntax: switchboard_rpc::epm::syntax(), transfer_syntaxes: vec![SyntaxId::ndr20()] },
    ];
    let header = Header::new(PacketType::Bind, flags::FIRST_FRAG | flags::LAST_FRAG, 1);
    Pdu { header, body: Body::Bind { max_xmit: 1432, max_recv: 1432, assoc_group: 0, contexts }, auth: None }.emit()
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let interfaces = vec![switchboard_rpc::example::server(), Mapper::new(Arc::new(Mutex::new(Vec::new()))).into_server()];
    let mut a = Association::new(interfaces, 1, "135");
    let mut input = if mode & 1 == 1 { bind() } else { Vec::new() };
    input.extend_from_slice(rest);
    let piece = usize::from(mode >> 1).max(1);
    for chunk in input.chunks(piece) {
        let was_closed = a.is_closed();
        let _ = a.receive(chunk);
        while let Some(out) = a.poll_transmit() {
            assert!(!was_closed, "output after the association closed");
            Pdu::parse(&out).expect("what the server sends parses");
        }
    }
});
