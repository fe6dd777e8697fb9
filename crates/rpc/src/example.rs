//! The example interface, exactly as its IDL below says, declared with
//! [`crate::interface`] (the derive and interface macros generate its stubs).
//! Not part of the default API: the `example` feature brings it in, for the
//! CLI's `serve-example` and `call-example`, the benchmark, tests and fuzzing.
//!
//! ```idl
//! [ uuid(5b9f3a4e-7c21-4d6a-9e0b-3f8a2c1d7e64), version(1.0), pointer_default(unique) ]
//! interface SwitchboardExample
//! {
//!     typedef struct { long id; [string] wchar_t *name; } ITEM;
//!
//!     long  Add([in] long a, [in] long b);                                     /* 0: a + b (wrapping) */
//!     long  Length([in, string, unique] wchar_t *text);                        /* 1: UTF-16 units without the NUL; -1 when NULL */
//!     hyper Sum([in] long count, [in, size_is(count)] long values[]);          /* 2: 64-bit sum */
//!     void  Reverse([in] long size, [in, size_is(size)] byte data[],
//!                   [out, size_is(size)] byte reply[]);                        /* 3: reply = data reversed */
//!     long  CountNamed([in] long count, [in, size_is(count)] ITEM items[],
//!                      [out] long *total_chars);                               /* 4: items whose name is not NULL; *total_chars = their lengths summed as in Length */
//! }
//! ```

use crate::server::Interface;
use crate::uuid::SyntaxId;

/// `typedef struct { long id; [string] wchar_t *name; } ITEM;`
#[derive(crate::Ndr, Clone, Debug, PartialEq, Eq)]
pub struct Item {
    /// `long id`.
    pub id: i32,
    /// `[string] wchar_t *name` (`[unique]` by the interface's default).
    #[ndr(string)]
    pub name: Option<String>,
}

/// The interface, operation for operation as the IDL declares it.
#[crate::interface(uuid = "5b9f3a4e-7c21-4d6a-9e0b-3f8a2c1d7e64", version = "1.0")]
pub trait SwitchboardExample {
    /// 0: `a + b`, wrapping.
    fn add(&mut self, a: i32, b: i32) -> i32;
    /// 1: UTF-16 units without the NUL; -1 when `text` is NULL.
    fn length(&mut self, #[ndr(string)] text: Option<String>) -> i32;
    /// 2: the 64-bit sum.
    fn sum(&mut self, count: i32, #[ndr(size_is = count)] values: Vec<i32>) -> i64;
    /// 3: `reply` = `data` reversed.
    fn reverse(&mut self, size: i32, #[ndr(size_is = size)] data: Vec<u8>, #[ndr(size_is = size)] reply: &mut Vec<u8>);
    /// 4: the items whose name is not NULL; `total_chars` = their lengths summed as in `length`.
    fn count_named(&mut self, count: i32, #[ndr(size_is = count)] items: Vec<Item>, total_chars: &mut i32) -> i32;
}

/// The interface's syntax: `5b9f3a4e-7c21-4d6a-9e0b-3f8a2c1d7e64` v1.0.
pub fn syntax() -> SyntaxId {
    SwitchboardExampleServer::<Example>::syntax()
}

/// The example's implementation.
#[derive(Debug, Default)]
pub struct Example;

/// The example served: `SwitchboardExampleServer(Example)`, boxed.
pub fn server() -> Box<dyn Interface> {
    Box::new(SwitchboardExampleServer(Example))
}

fn utf16_len(s: &str) -> i32 {
    i32::try_from(s.encode_utf16().count()).unwrap_or(i32::MAX)
}

impl SwitchboardExample for Example {
    fn add(&mut self, a: i32, b: i32) -> i32 {
        a.wrapping_add(b)
    }

    fn length(&mut self, text: Option<String>) -> i32 {
        text.map_or(-1, |t| utf16_len(&t))
    }

    fn sum(&mut self, _count: i32, values: Vec<i32>) -> i64 {
        values.iter().map(|&v| i64::from(v)).fold(0i64, i64::wrapping_add)
    }

    fn reverse(&mut self, _size: i32, mut data: Vec<u8>, reply: &mut Vec<u8>) {
        data.reverse();
        *reply = data;
    }

    fn count_named(&mut self, _count: i32, items: Vec<Item>, total_chars: &mut i32) -> i32 {
        let named: Vec<&String> = items.iter().filter_map(|i| i.name.as_ref()).collect();
        *total_chars = named.iter().map(|n| utf16_len(n)).fold(0i32, i32::wrapping_add);
        i32::try_from(named.len()).unwrap_or(i32::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DataRep;
    use crate::ndr::NdrWriter;
    use crate::pdu::{Body, ContextElem, Header, PacketType, Pdu, flags};
    use crate::server::Association;

    fn client_pdu(ptype: PacketType, flags: u8, call_id: u32, body: Body) -> Vec<u8> {
        let header = Header::new(ptype, flags, call_id);
        Pdu { header, body, auth: None }.emit()
    }

    fn bound() -> Association {
        // The bind-time feature negotiation: 6cb71c2c-9812-4540-<feature bits> v1.0.
        let bind_time_features = SyntaxId {
            uuid: crate::uuid::Uuid { d1: 0x6cb7_1c2c, d2: 0x9812, d3: 0x4540, d4: [3, 0, 0, 0, 0, 0, 0, 0] },
            major: 1,
            minor: 0,
        };
        let mut a = Association::new(vec![server()], 0x5555, "5000");
        let contexts = vec![
            ContextElem { id: 0, abstract_syntax: syntax(), transfer_syntaxes: vec![SyntaxId::ndr64()] },
            ContextElem { id: 1, abstract_syntax: syntax(), transfer_syntaxes: vec![SyntaxId::ndr20()] },
            ContextElem { id: 2, abstract_syntax: syntax(), transfer_syntaxes: vec![bind_time_features] },
        ];
        let both = flags::FIRST_FRAG | flags::LAST_FRAG;
        a.receive(&client_pdu(
            PacketType::Bind,
            both,
            1,
            Body::Bind { max_xmit: 4280, max_recv: 4280, assoc_group: 0, contexts },
        ))
        .unwrap();
        let ack = Pdu::parse(&a.poll_transmit().unwrap()).unwrap();
        let Body::BindAck { results, secondary_address, assoc_group, .. } = ack.body else { panic!("{ack:?}") };
        assert_eq!((secondary_address.as_str(), assoc_group), ("5000", 0x5555));
        assert_eq!((results[0].result, results[0].reason), (2, 2), "NDR64 refused per context, reason 2");
        assert_eq!((results[1].result, results[1].transfer_syntax), (0, SyntaxId::ndr20()));
        assert_eq!((results[2].result, results[2].reason), (3, 2), "negotiate_ack: keep the connection on orphan");
        assert_eq!(results.len(), 3, "one result per context, in order");
        a
    }

    /// A call on context 1, its stub cut into fragments of `piece` bytes.
    fn call(a: &mut Association, call_id: u32, opnum: u16, stub: &[u8], piece: usize) -> Body {
        let pieces: Vec<&[u8]> = if stub.is_empty() { vec![&[][..]] } else { stub.chunks(piece).collect() };
        let last = pieces.len() - 1;
        for (i, p) in pieces.iter().enumerate() {
            let f = if i == 0 { flags::FIRST_FRAG } else { 0 } | if i == last { flags::LAST_FRAG } else { 0 };
            let body = Body::Request { alloc_hint: 0, context: 1, opnum, object: None, stub: p.to_vec() };
            a.receive(&client_pdu(PacketType::Request, f, call_id, body)).unwrap();
        }
        let mut stub = Vec::new();
        loop {
            let pdu = Pdu::parse(&a.poll_transmit().expect("an answer")).unwrap();
            match pdu.body {
                Body::Response { stub: s, .. } => {
                    stub.extend_from_slice(&s);
                    if pdu.header.flags & flags::LAST_FRAG != 0 {
                        return Body::Response { alloc_hint: 0, context: 1, cancel_count: 0, stub };
                    }
                }
                other => return other,
            }
        }
    }

    /// The status of a fault PDU (any other PDU fails the test).
    fn fault_status(pdu: &[u8]) -> u32 {
        match Pdu::parse(pdu).unwrap().body {
            Body::Fault { status, .. } => status,
            other => panic!("{other:?}"),
        }
    }

    fn reply(body: Body) -> Vec<u8> {
        match body {
            Body::Response { stub, .. } => stub,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn every_operation_answers_as_the_idl_says() {
        let mut a = bound();
        let mut w = NdrWriter::new();
        w.i32(40);
        w.i32(2);
        assert_eq!(reply(call(&mut a, 2, 0, &w.into_bytes(), 1000)), 42i32.to_le_bytes());

        let mut w = NdrWriter::new();
        w.i32(i32::MAX);
        w.i32(1);
        assert_eq!(reply(call(&mut a, 3, 0, &w.into_bytes(), 1000)), i32::MIN.to_le_bytes(), "wrapping");

        let mut w = NdrWriter::new();
        w.pointer(true);
        w.wide_string("héllo");
        assert_eq!(reply(call(&mut a, 4, 1, &w.into_bytes(), 1000)), 5i32.to_le_bytes());
        let mut w = NdrWriter::new();
        w.pointer(false);
        assert_eq!(reply(call(&mut a, 5, 1, &w.into_bytes(), 1000)), (-1i32).to_le_bytes());

        let mut w = NdrWriter::new();
        w.i32(3);
        w.conformant_u32s(&[i32::MAX.cast_unsigned(), i32::MAX.cast_unsigned(), 2]);
        assert_eq!(reply(call(&mut a, 6, 2, &w.into_bytes(), 1000)), (2 * i64::from(i32::MAX) + 2).to_le_bytes());

        // 70 000 bytes reversed, the request cut into 64-byte fragments.
        let data: Vec<u8> = (0..70_000u32).map(|i| i as u8).collect();
        let mut w = NdrWriter::new();
        w.i32(70_000);
        w.conformant_bytes(&data);
        let back = reply(call(&mut a, 7, 3, &w.into_bytes(), 64));
        assert_eq!(&back[..4], &70_000u32.to_le_bytes());
        assert!(back[4..].iter().eq(data.iter().rev()));

        let mut w = NdrWriter::new();
        w.i32(3);
        w.u32(3);
        for (id, named) in [(1, true), (2, false), (3, true)] {
            w.i32(id);
            w.pointer(named);
        }
        w.wide_string("ab");
        w.wide_string("cde");
        let out = reply(call(&mut a, 8, 4, &w.into_bytes(), 1000));
        assert_eq!(out, [5i32.to_le_bytes(), 2i32.to_le_bytes()].concat(), "total_chars 5, then 2 named items");
    }

    #[test]
    fn unknown_operations_bad_stubs_and_unknown_contexts_fault_with_the_right_status() {
        let mut a = bound();
        let status = |b: Body| match b {
            Body::Fault { status, .. } => status,
            other => panic!("{other:?}"),
        };
        assert_eq!(status(call(&mut a, 2, 9, &[], 100)), 0x1C01_0002);
        assert_eq!(status(call(&mut a, 3, 0, &[1, 2, 3], 100)), 0x0000_06F7, "a short stub");
        let body = Body::Request { alloc_hint: 0, context: 7, opnum: 0, object: None, stub: vec![0; 8] };
        a.receive(&client_pdu(PacketType::Request, flags::FIRST_FRAG | flags::LAST_FRAG, 4, body)).unwrap();
        assert_eq!(status(Pdu::parse(&a.poll_transmit().unwrap()).unwrap().body), 0x1C01_0003);
    }

    #[test]
    fn pdus_beyond_the_limits_get_a_fault_or_bind_nak_then_the_connection_closes() {
        let status = |pdu: Vec<u8>| fault_status(&pdu);
        // A fragment longer than any we take, once bound: a fault, then closed.
        let mut a = bound();
        let mut big = client_pdu(
            PacketType::Request,
            flags::FIRST_FRAG | flags::LAST_FRAG,
            9,
            Body::Request { alloc_hint: 0, context: 1, opnum: 0, object: None, stub: vec![0; 8] },
        );
        big[8..10].copy_from_slice(&60_000u16.to_le_bytes());
        assert!(a.receive(&big[..16]).is_err());
        assert_eq!(status(a.poll_transmit().unwrap()), 0x1C01_000B);
        assert!(a.is_closed());
        // Before a bind: bind_nak.
        let mut a = Association::new(vec![server()], 1, "");
        assert!(a.receive(&big[..16]).is_err());
        assert!(matches!(Pdu::parse(&a.poll_transmit().unwrap()).unwrap().body, Body::BindNak { reason: 0, .. }));
        // Seventeen calls half received at once: the seventeenth is refused.
        let mut a = bound();
        for call_id in 100..=116 {
            let body = Body::Request { alloc_hint: 0, context: 1, opnum: 0, object: None, stub: vec![0; 4] };
            a.receive(&client_pdu(PacketType::Request, flags::FIRST_FRAG, call_id, body)).unwrap();
        }
        assert_eq!(status(a.poll_transmit().expect("a fault for the 17th")), 0x1C01_000B);
        assert!(!a.is_closed(), "the association goes on");
    }

    #[test]
    fn a_call_beyond_the_budget_is_faulted_and_its_other_fragments_dropped() {
        let status = |pdu: Vec<u8>| fault_status(&pdu);
        let mut a = bound();
        let piece = vec![0u8; 5000];
        let frag = |a: &mut Association, call_id: u32, f: u8| {
            let body = Body::Request { alloc_hint: 0, context: 1, opnum: 0, object: None, stub: piece.clone() };
            a.receive(&client_pdu(PacketType::Request, f, call_id, body)).unwrap();
        };
        // Two calls half received share the 4 MiB: the second one runs out.
        frag(&mut a, 20, flags::FIRST_FRAG);
        for _ in 0..500 {
            frag(&mut a, 20, 0);
        }
        frag(&mut a, 21, flags::FIRST_FRAG);
        let mut refused = false;
        for _ in 0..400 {
            frag(&mut a, 21, 0);
            if let Some(out) = a.poll_transmit() {
                assert_eq!(status(out), 0x1C01_000B);
                refused = true;
                break;
            }
        }
        assert!(refused, "the budget is for all calls together");
        // Its later fragments, last included, are dropped without a word.
        frag(&mut a, 21, 0);
        frag(&mut a, 21, flags::LAST_FRAG);
        assert!(a.poll_transmit().is_none());
        assert!(!a.is_closed());
        // A repeated first fragment starts a call afresh: Add(40, 2) answers 42.
        let mut w = NdrWriter::new();
        w.i32(40);
        w.i32(2);
        let add = w.into_bytes();
        let body =
            |stub: &[u8]| Body::Request { alloc_hint: 0, context: 1, opnum: 0, object: None, stub: stub.to_vec() };
        a.receive(&client_pdu(PacketType::Request, flags::FIRST_FRAG, 22, body(&[9, 9, 9, 9]))).unwrap();
        a.receive(&client_pdu(PacketType::Request, flags::FIRST_FRAG | flags::LAST_FRAG, 22, body(&add))).unwrap();
        assert_eq!(reply(Pdu::parse(&a.poll_transmit().unwrap()).unwrap().body), 42i32.to_le_bytes());
    }

    #[test]
    fn associations_share_the_budget_for_calls_half_received() {
        let budget = std::sync::Arc::new(crate::server::Budget::new(10_000));
        let mut first = bound().with_budget(std::sync::Arc::clone(&budget));
        let mut second = bound().with_budget(std::sync::Arc::clone(&budget));
        let first_part = |stub: Vec<u8>| Body::Request { alloc_hint: 0, context: 1, opnum: 0, object: None, stub };
        first.receive(&client_pdu(PacketType::Request, flags::FIRST_FRAG, 40, first_part(vec![0; 4000]))).unwrap();
        first.receive(&client_pdu(PacketType::Request, 0, 40, first_part(vec![0; 4000]))).unwrap();
        assert_eq!(budget.used(), 8000);
        second.receive(&client_pdu(PacketType::Request, flags::FIRST_FRAG, 41, first_part(vec![0; 4000]))).unwrap();
        let out = Pdu::parse(&second.poll_transmit().expect("a fault")).unwrap();
        assert!(matches!(out.body, Body::Fault { status: 0x1C01_000B, .. }), "{out:?}");
        drop(first);
        assert_eq!(budget.used(), 0, "a closed association gives its bytes back");
    }

    #[test]
    fn stub_data_in_ebcdic_or_vax_floats_is_refused_not_misread() {
        let mut a = bound();
        for drep in [DataRep { ebcdic: true, ..DataRep::NATIVE }, DataRep { float: 1, ..DataRep::NATIVE }] {
            let header = Header { drep, ..Header::new(PacketType::Request, flags::FIRST_FRAG | flags::LAST_FRAG, 30) };
            let body = Body::Request { alloc_hint: 0, context: 1, opnum: 0, object: None, stub: vec![0; 8] };
            a.receive(&Pdu { header, body, auth: None }.emit()).unwrap();
            let out = Pdu::parse(&a.poll_transmit().unwrap()).unwrap();
            assert!(matches!(out.body, Body::Fault { status: 0x1C01_0017, .. }), "{out:?}");
        }
    }

    #[test]
    fn an_auth_trailer_we_do_not_support_gets_bind_nak_reason_8_and_garbage_closes() {
        let mut a = Association::new(vec![server()], 1, "");
        let header = Header::new(PacketType::Bind, 3, 1);
        let auth =
            crate::pdu::AuthTrailer { auth_type: 10, auth_level: 6, pad_length: 0, context_id: 0, value: vec![1; 32] };
        let bind = Body::Bind { max_xmit: 4280, max_recv: 4280, assoc_group: 0, contexts: vec![] };
        a.receive(&Pdu { header, body: bind, auth: Some(auth) }.emit()).unwrap();
        assert_eq!(
            Pdu::parse(&a.poll_transmit().unwrap()).unwrap().body,
            Body::BindNak { reason: 8, versions: vec![(5, 0)] }
        );
        assert!(a.receive(&[9; 40]).is_err());
        assert!(a.is_closed());
    }

    #[test]
    fn samba_local_authentication_is_accepted_over_ncalrpc_only() {
        let bind = || {
            let header = Header::new(PacketType::Bind, 3, 1);
            let auth = crate::pdu::AuthTrailer {
                auth_type: 200,
                auth_level: 2,
                pad_length: 0,
                context_id: 7,
                value: b"NCALRPC_AUTH_TOKEN".to_vec(),
            };
            let contexts =
                vec![ContextElem { id: 0, abstract_syntax: syntax(), transfer_syntaxes: vec![SyntaxId::ndr20()] }];
            let body = Body::Bind { max_xmit: 4280, max_recv: 4280, assoc_group: 0, contexts };
            Pdu { header, body, auth: Some(auth) }.emit()
        };
        let mut local = Association::new(vec![server()], 1, "EXAMPLE").over_ncalrpc();
        local.receive(&bind()).unwrap();
        let ack = Pdu::parse(&local.poll_transmit().unwrap()).unwrap();
        assert!(matches!(ack.body, Body::BindAck { .. }), "{ack:?}");
        let auth = ack.auth.expect("the answer's trailer");
        assert_eq!((auth.auth_type, auth.context_id, auth.value.as_slice()), (200, 7, &b"NCALRPC_AUTH_OK"[..]));
        let mut remote = Association::new(vec![server()], 1, "5000");
        remote.receive(&bind()).unwrap();
        let nak = Pdu::parse(&remote.poll_transmit().unwrap()).unwrap();
        assert!(matches!(nak.body, Body::BindNak { reason: 8, .. }), "not over TCP: {nak:?}");
        // An alter_context with it, on a bound association over TCP: a fault, then closed.
        let mut a = bound();
        let mut alter = bind();
        alter[2] = 14; // alter_context
        assert!(a.receive(&alter).is_err());
        assert_eq!(fault_status(&a.poll_transmit().unwrap()), 5);
        assert!(a.is_closed());
        // An alter_context before any bind: a protocol-error fault, then closed.
        let mut fresh = Association::new(vec![server()], 1, "5000");
        assert!(fresh.receive(&alter).is_err());
        assert_eq!(fault_status(&fresh.poll_transmit().unwrap()), 0x1C01_000B);
    }
}
