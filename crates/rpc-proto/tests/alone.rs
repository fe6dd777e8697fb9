//! A crate that depends on `switchboard-rpc-proto` alone (no runtime, no
//! client library) declares an interface with the macros and serves it
//! through an association it drives itself, as an SMB server or a COM
//! layer would.

use switchboard_rpc_proto::client::{Call, Error, InProcess};
use switchboard_rpc_proto::pdu::{Body, ContextElem, Header, PacketType, Pdu, flags};
use switchboard_rpc_proto::server::{Association, Interface};
use switchboard_rpc_proto::uuid::SyntaxId;
use switchboard_rpc_proto::{Ndr, interface};

/// `typedef struct { long low; long high; } RANGE;`
#[derive(Ndr, Clone, Debug, Default, PartialEq, Eq)]
pub struct Range {
    low: i32,
    high: i32,
}

#[interface(uuid = "8d2b6f31-0c4e-4a7b-9f15-2e6c3a9d0b71", version = "2.1")]
pub trait Ranges {
    fn width(&mut self, range: Range) -> i32;
    fn split(&mut self, range: Range, low: &mut Range, high: &mut Range);
}

struct Impl;

impl Ranges for Impl {
    fn width(&mut self, range: Range) -> i32 {
        range.high - range.low
    }

    fn split(&mut self, range: Range, low: &mut Range, high: &mut Range) {
        let mid = range.low + (range.high - range.low) / 2;
        *low = Range { low: range.low, high: mid };
        *high = Range { low: mid, high: range.high };
    }
}

#[test]
fn generated_stubs_call_a_server_in_process() {
    let mut client = RangesClient::new(InProcess(RangesServer(Impl)));
    assert_eq!(client.width(Range { low: 3, high: 10 }).unwrap(), 7);
    let (mut low, mut high) = (Range::default(), Range::default());
    client.split(Range { low: 0, high: 10 }, &mut low, &mut high).unwrap();
    assert_eq!((low, high), (Range { low: 0, high: 5 }, Range { low: 5, high: 10 }));
    let fault = InProcess(RangesServer(Impl)).call(9, Vec::new()).unwrap_err();
    assert!(matches!(fault, Error::Fault { opnum: 9, status: 0x1C01_0002 }), "{fault}");
}

#[test]
fn association_binds_and_answers_a_call_without_io() {
    let syntax = RangesServer::<Impl>::syntax();
    assert_eq!((syntax.major, syntax.minor), (2, 1));
    let served: Box<dyn Interface> = Box::new(RangesServer(Impl));
    let mut association = Association::new(vec![served], 0x1234, "");
    let both = flags::FIRST_FRAG | flags::LAST_FRAG;
    let contexts = vec![ContextElem { id: 0, abstract_syntax: syntax, transfer_syntaxes: vec![SyntaxId::ndr20()] }];
    let bind = Body::Bind { max_xmit: 4280, max_recv: 4280, assoc_group: 0, contexts };
    association
        .receive(&Pdu { header: Header::new(PacketType::Bind, both, 1), body: bind, auth: None }.emit())
        .unwrap();
    let ack = Pdu::parse(&association.poll_transmit().expect("a bind_ack")).unwrap();
    assert!(matches!(ack.body, Body::BindAck { ref results, .. } if results[0].result == 0), "{ack:?}");

    // width({low: 3, high: 10}): two longs.
    let stub = [3i32.to_le_bytes(), 10i32.to_le_bytes()].concat();
    let request = Body::Request { alloc_hint: 8, context: 0, opnum: 0, object: None, stub };
    association
        .receive(&Pdu { header: Header::new(PacketType::Request, both, 2), body: request, auth: None }.emit())
        .unwrap();
    let answer = Pdu::parse(&association.poll_transmit().expect("a response")).unwrap();
    let Body::Response { stub, .. } = answer.body else { panic!("{answer:?}") };
    assert_eq!(stub, 7i32.to_le_bytes());
    assert!(association.poll_transmit().is_none());
}
