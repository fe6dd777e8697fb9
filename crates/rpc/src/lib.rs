//! DCE/RPC as Windows speaks it (OSF DCE 1.1, C706, with the Microsoft
//! extensions of MS-RPCE), interoperable with Windows, Samba and impacket:
//! the runtimes, transports and endpoint mapper over
//! [`switchboard_rpc_proto`], the protocol without I/O.
//!
//! - The protocol, re-exported from `switchboard-rpc-proto` under the same
//!   paths: PDUs ([`pdu`]), NDR20 ([`ndr`], [`marshal`]: `#[derive(Ndr)]`),
//!   UUIDs ([`uuid`]), string bindings ([`binding`]) and
//!   [`server::Association`], one server association as a state machine.
//! - Interfaces: [`interface`] turns a trait into a server
//!   ([`server::Interface`]) and client stubs; [`epm`] is the endpoint
//!   mapper; with the `example` feature, `example` is the example interface.
//! - Transports and runtimes: the server [`runtime`] over `ncacn_ip_tcp` and
//!   `ncalrpc` (its directory checks in [`local`]), within
//!   [`runtime::Limits`]; `ncacn_np` over Switchboard named pipes ([`np`]);
//!   the client ([`client::Client`], and [`connection::Connection`] with
//!   timeouts, cancellation and reconnection).
#![forbid(unsafe_code)]

// The derive and interface macros as re-exported here name
// `::switchboard_rpc`: within this crate too (the endpoint mapper, the example).
extern crate self as switchboard_rpc;

pub use switchboard_rpc_proto::{DataRep, binding, ndr, pdu, server, uuid};
// These name `::switchboard_rpc` in the code they generate, so that a crate
// depending on this one alone can use them.
pub use switchboard_rpc_derive::{NdrInRpc as Ndr, interface_in_rpc as interface};

/// NDR20 for whole types: [`switchboard_rpc_proto::marshal`], with the
/// `Ndr` derive that names this crate.
pub mod marshal {
    pub use switchboard_rpc_derive::NdrInRpc as Ndr;
    pub use switchboard_rpc_proto::marshal::*;
}

mod admission;
pub mod client;
pub mod connection;
mod deadline;
pub mod epm;
#[cfg(feature = "example")]
pub mod example;
pub mod local;
pub mod np;
pub mod runtime;
