//! The operating-system layer of Switchboard.
//!
//! # Contract
//!
//! Everything here is a thin, documented wrapper over one Linux facility:
//! realm directories and their ownership checks ([`realm`]), the credentials
//! of the process at the other end of a Unix socket ([`cred`]), users and
//! groups from the system databases ([`users`]), and the systemd readiness
//! notification ([`notify`]). This is the only crate of the workspace that may
//! contain `unsafe`; today it needs none (rustix and std cover every call), so
//! it forbids it like the others. When fd passing, memfd and futexes arrive,
//! each `unsafe` block will carry a `// SAFETY:` line.
#![forbid(unsafe_code)]

pub mod cred;
pub mod fdpass;
pub mod notify;
pub mod realm;
pub mod users;

pub use cred::{PeerCred, current_gid, current_uid, peer_credentials, process_groups};
pub use realm::{Realm, RealmError, RealmKind};
