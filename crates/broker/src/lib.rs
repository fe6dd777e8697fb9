//! The Switchboard broker: one per realm, the single authority for names,
//! handles, security and lifetimes.
//!
//! [`core`] is the object manager without I/O; [`server`] is the
//! single-threaded mio event loop around it; [`logfile`] opens the
//! background broker's log, for its owner's eyes only; [`os`] is what the
//! core asks of the operating system ([`core::Resources`]), done for real. The `switchboardd`
//! binary parses its command line and runs a [`server::Server`].
#![forbid(unsafe_code)]

pub mod core;
pub mod logfile;
pub mod os;
pub mod server;
