//! NDR stub data from anywhere, in either byte order, into every operation
//! of the example interface and the endpoint mapper, and into derived
//! types: a value or an error, never a panic or a huge allocation.
#![no_main]

use std::sync::{Arc, Mutex};

use libfuzzer_sys::fuzz_target;
use switchboard_rpc::DataRep;
use switchboard_rpc::epm::{EptEntry, Mapper, Twr};
use switchboard_rpc::example::Item;
use switchboard_rpc::marshal;
use switchboard_rpc::ndr::NdrReader;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, stub)) = data.split_first() else { return };
    let drep = if selector & 0x80 == 0 { DataRep::NATIVE } else { DataRep::BIG_ENDIAN };
    let opnum = u16::from(selector & 0x07);
    if selector & 0x08 == 0 {
        let _ = switchboard_rpc::example::server().call(opnum, stub, drep);
    } else {
        let _ = Mapper::new(Arc::new(Mutex::new(Vec::new()))).into_server().call(opnum, stub, drep);
    }
    let _ = marshal::get::<Item>(&mut NdrReader::new(stub, drep));
    let _ = marshal::get::<EptEntry>(&mut NdrReader::new(stub, drep));
    let _ = marshal::get::<Option<Twr>>(&mut NdrReader::new(stub, drep));
});
