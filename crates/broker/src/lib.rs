//! The Switchboard broker: one per realm, the single authority for names,
//! handles, security and lifetimes.
//!
//! [`core`] is the object manager without I/O; [`server`] is the
//! single-threaded mio event loop around it. The `switchboardd` binary parses
//! its command line and runs a [`server::Server`].
#![forbid(unsafe_code)]

pub mod core;
pub mod server;
