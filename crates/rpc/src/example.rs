//! The example interface issue #7 ships, exactly (hand-written stubs until
//! the interface macro exists):
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

use crate::DataRep;
use crate::ndr::{NdrError, NdrReader, NdrWriter};
use crate::pdu::{NCA_S_OP_RNG_ERROR, RPC_X_BAD_STUB_DATA};
use crate::server::Interface;
use crate::uuid::{SyntaxId, Uuid};

/// The interface's syntax: `5b9f3a4e-7c21-4d6a-9e0b-3f8a2c1d7e64` v1.0.
pub fn syntax() -> SyntaxId {
    SyntaxId {
        uuid: Uuid { d1: 0x5b9f_3a4e, d2: 0x7c21, d3: 0x4d6a, d4: [0x9e, 0x0b, 0x3f, 0x8a, 0x2c, 0x1d, 0x7e, 0x64] },
        major: 1,
        minor: 0,
    }
}

/// The server side of `SwitchboardExample`.
#[derive(Debug, Default)]
pub struct Example;

/// A `[size_is(count)]` count: the conformance must equal the parameter.
fn conformance(r: &mut NdrReader<'_>, count: i32) -> Result<(), NdrError> {
    let max = r.u32()?;
    if i64::from(max) != i64::from(count) {
        return Err(NdrError { at: r.position(), reason: format!("conformance {max} for a count of {count}") });
    }
    Ok(())
}

fn utf16_len(s: &str) -> i32 {
    i32::try_from(s.encode_utf16().count()).unwrap_or(i32::MAX)
}

impl Example {
    fn dispatch(opnum: u16, r: &mut NdrReader<'_>) -> Result<Result<Vec<u8>, u32>, NdrError> {
        let mut w = NdrWriter::new();
        match opnum {
            0 => {
                let (a, b) = (r.i32()?, r.i32()?);
                w.i32(a.wrapping_add(b));
            }
            1 => {
                let length = match r.pointer()? {
                    None => -1,
                    Some(_) => utf16_len(&r.wide_string()?),
                };
                w.i32(length);
            }
            2 => {
                let count = r.i32()?;
                let values = r.conformant_u32s()?;
                if i64::try_from(values.len()).ok() != Some(i64::from(count)) {
                    return Err(NdrError { at: r.position(), reason: "conformance differs from count".into() });
                }
                let sum: i64 = values.iter().map(|&v| i64::from(v.cast_signed())).fold(0i64, i64::wrapping_add);
                w.u64(sum.cast_unsigned());
            }
            3 => {
                let size = r.i32()?;
                let data = r.conformant_bytes()?;
                if i64::try_from(data.len()).ok() != Some(i64::from(size)) {
                    return Err(NdrError { at: r.position(), reason: "conformance differs from size".into() });
                }
                let reversed: Vec<u8> = data.iter().rev().copied().collect();
                w.conformant_bytes(&reversed);
            }
            4 => {
                let count = r.i32()?;
                conformance(r, count)?;
                let count = usize::try_from(count)
                    .map_err(|_| NdrError { at: r.position(), reason: "a negative count".into() })?;
                // The structures, then the deferred referents in order.
                let mut named = Vec::with_capacity(count.min(4096));
                for _ in 0..count {
                    let _id = r.i32()?;
                    named.push(r.pointer()?.is_some());
                }
                let (mut items, mut total) = (0i32, 0i32);
                for has_name in named {
                    if has_name {
                        items += 1;
                        total = total.wrapping_add(utf16_len(&r.wide_string()?));
                    }
                }
                w.i32(total);
                w.i32(items);
            }
            _ => return Ok(Err(NCA_S_OP_RNG_ERROR)),
        }
        if !r.finished() {
            return Err(NdrError { at: r.position(), reason: "bytes left after the last parameter".into() });
        }
        Ok(Ok(w.into_bytes()))
    }
}

impl Interface for Example {
    fn syntax(&self) -> SyntaxId {
        syntax()
    }

    fn call(&mut self, opnum: u16, stub: &[u8], drep: DataRep) -> Result<Vec<u8>, u32> {
        let mut r = NdrReader::new(stub, drep);
        Self::dispatch(opnum, &mut r).unwrap_or(Err(RPC_X_BAD_STUB_DATA))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pdu::{Body, ContextElem, Header, PacketType, Pdu, flags};
    use crate::server::Association;

    fn client_pdu(ptype: PacketType, flags: u8, call_id: u32, body: Body) -> Vec<u8> {
        let header = Header { minor: 0, ptype, flags, drep: DataRep::NATIVE, frag_length: 0, auth_length: 0, call_id };
        Pdu { header, body, auth: None }.emit()
    }

    fn bound() -> Association {
        let mut a = Association::new(vec![Box::new(Example)], 0x5555, "5000");
        let contexts = vec![
            ContextElem { id: 0, abstract_syntax: syntax(), transfer_syntaxes: vec![SyntaxId::ndr64()] },
            ContextElem { id: 1, abstract_syntax: syntax(), transfer_syntaxes: vec![SyntaxId::ndr20()] },
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
    fn an_auth_trailer_we_do_not_support_gets_bind_nak_reason_8_and_garbage_closes() {
        let mut a = Association::new(vec![Box::new(Example)], 1, "");
        let header = Header {
            minor: 0,
            ptype: PacketType::Bind,
            flags: 3,
            drep: DataRep::NATIVE,
            frag_length: 0,
            auth_length: 0,
            call_id: 1,
        };
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
}
