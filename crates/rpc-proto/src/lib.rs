//! DCE/RPC as Windows speaks it (OSF DCE 1.1, C706, with the Microsoft
//! extensions of MS-RPCE), without I/O: what a broker, an SMB server or a
//! COM layer needs to speak it over a transport of its own.
//!
//! - Connection-oriented PDUs ([`pdu`]), NDR20 primitives ([`ndr`]) and
//!   whole types ([`marshal`]: `#[derive(Ndr)]`), UUIDs and syntax
//!   identifiers ([`uuid`]), string bindings ([`binding`]). Parsers never
//!   panic on input from the network; every failure is a
//!   [`pdu::PduError`] or an [`ndr::NdrError`] saying what and where.
//! - [`server::Association`], one server association as a state machine
//!   (bind and `alter_context` with per-context negotiation, reassembly,
//!   fragmented responses, faults), driven by its transport as its module
//!   documentation says.
//! - Interfaces: [`interface`] turns a trait into a server
//!   ([`server::Interface`]) and client stubs, which call through
//!   [`client::Call`].
//!
//! Nothing here opens a socket, blocks, sleeps or reads a clock; the
//! runtimes and transports (`ncacn_ip_tcp`, `ncalrpc`, `ncacn_np`), the
//! blocking client and the endpoint mapper are `switchboard-rpc`'s.
#![forbid(unsafe_code)]

// The derive and interface macros name this crate `::switchboard_rpc_proto`, here too.
extern crate self as switchboard_rpc_proto;

pub use switchboard_rpc_derive::{Ndr, interface};

pub mod binding;
pub mod client;
pub mod marshal;
pub mod ndr;
pub mod pdu;
pub mod server;
pub mod uuid;

/// The data representation label of a PDU (`drep`): byte order, character
/// set and floating-point format of everything the sender wrote.
/// Receiver makes right: a reader honours whatever label it is given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DataRep {
    /// Integers little-endian (`0x10` in the first byte), else big-endian.
    pub little_endian: bool,
    /// Characters in EBCDIC (else ASCII).
    pub ebcdic: bool,
    /// The floating-point format (0 IEEE, 1 VAX, 2 Cray, 3 IBM).
    pub float: u8,
}

impl DataRep {
    /// What Windows sends: little-endian, ASCII, IEEE.
    pub const NATIVE: Self = Self { little_endian: true, ebcdic: false, float: 0 };

    /// Big-endian, ASCII, IEEE (what some DCE stacks send).
    pub const BIG_ENDIAN: Self = Self { little_endian: false, ebcdic: false, float: 0 };

    /// The four bytes of the label.
    pub fn to_bytes(self) -> [u8; 4] {
        [u8::from(self.little_endian) << 4 | u8::from(self.ebcdic), self.float, 0, 0]
    }

    /// Reads the label.
    pub fn from_bytes(b: [u8; 4]) -> Self {
        Self { little_endian: b[0] & 0xF0 == 0x10, ebcdic: b[0] & 0x0F == 1, float: b[1] }
    }

    pub(crate) fn u16(self, b: [u8; 2]) -> u16 {
        if self.little_endian { u16::from_le_bytes(b) } else { u16::from_be_bytes(b) }
    }

    pub(crate) fn u32(self, b: [u8; 4]) -> u32 {
        if self.little_endian { u32::from_le_bytes(b) } else { u32::from_be_bytes(b) }
    }

    pub(crate) fn u64(self, b: [u8; 8]) -> u64 {
        if self.little_endian { u64::from_le_bytes(b) } else { u64::from_be_bytes(b) }
    }

    pub(crate) fn put_u16(self, out: &mut Vec<u8>, v: u16) {
        out.extend_from_slice(&if self.little_endian { v.to_le_bytes() } else { v.to_be_bytes() });
    }

    pub(crate) fn put_u32(self, out: &mut Vec<u8>, v: u32) {
        out.extend_from_slice(&if self.little_endian { v.to_le_bytes() } else { v.to_be_bytes() });
    }
}
