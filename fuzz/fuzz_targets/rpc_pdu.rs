//! DCE/RPC PDUs from the network: parsing never panics, and what parses
//! is written back as bytes that parse again to the same PDU type.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_rpc::pdu::Pdu;

fuzz_target!(|data: &[u8]| {
    let Ok(pdu) = Pdu::parse(data) else { return };
    let again = Pdu::parse(&pdu.emit()).expect("an emitted PDU parses");
    assert_eq!(again.header.ptype, pdu.header.ptype);
    assert_eq!(again.header.call_id, pdu.header.call_id);
});
