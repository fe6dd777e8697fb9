//! The operating-system layer of Switchboard.
//!
//! # Contract
//!
//! Everything here is a thin, documented wrapper over one Linux facility:
//! realm directories and their ownership checks ([`realm`]), the credentials
//! of the process at the other end of a Unix socket ([`cred`]), users and
//! groups from the system databases ([`users`]), and the systemd readiness
//! notification ([`notify`]), passing descriptors between processes
//! ([`fdpass`]), process limits ([`limits`]), shared memory ([`shm`]) and the
//! shared pages and futexes of synchronization objects ([`syncpage`]), and
//! a descriptor's readiness in tokio ([`readiness`], feature `tokio`). This is the only crate of
//! the workspace that may contain `unsafe`: it is denied crate-wide and allowed
//! back only on the few calls rustix does not wrap, each with a `// SAFETY:`
//! line saying why it holds.
#![deny(unsafe_code)]

pub mod cred;
pub mod fdpass;
pub mod limits;
pub mod notify;
pub mod readiness;
pub mod realm;
pub mod shm;
pub mod syncpage;
pub mod users;

pub use cred::{PeerCred, current_gid, current_uid, peer_credentials, process_groups};
pub use realm::{Realm, RealmChoice, RealmError, RealmKind};
