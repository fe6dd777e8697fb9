//! What the broker can tell about itself and its objects: the calls behind
//! `switchboard status`, `ls`, `show`, `handles` and `access`.

use switchboard_proto as p;
pub use switchboard_proto::{AccessReport, AccessStep, BrokerStatus, DirEntry, HandleInfo, ObjectInfo};
/// The calling process's user.
pub use switchboard_sys::current_uid;
/// Who a user is (name, uid, groups), for `access --user NAME`.
pub use switchboard_sys::users::{UserInfo, lookup_user};
use switchboard_types::{NamespacePath, ObjectName};

use crate::connection::Connection;
use crate::error::{Error, ErrorKind, Result};

/// Which object: as a program names it (`E`, `Global\E`) or by absolute path
/// (`\BaseNamedObjects\E`).
fn target(op: &'static str, name: &str) -> Result<p::Target> {
    let bad =
        |e: switchboard_types::NameError| Error::new(ErrorKind::InvalidArgument, e.code, op, Some(name), e.reason);
    if name.starts_with('\\') {
        NamespacePath::parse(name).map(p::Target::Path).map_err(bad)
    } else {
        ObjectName::parse(name).map(p::Target::Name).map_err(bad)
    }
}

/// The directory where user `uid`'s program names (`E`, `Local\E`) live, as
/// an absolute path: `\Sessions\<uid>\BaseNamedObjects`. Each user is its
/// own logon session, numbered by its uid; `Global\E` is `\BaseNamedObjects\E`
/// for everyone.
///
/// # Windows equivalent
///
/// `\Sessions\<n>\BaseNamedObjects` of the session `ProcessIdToSessionId`
/// reports, with the uid for the session number.
pub fn session_directory(uid: u32) -> String {
    NamespacePath::session_objects(uid).into()
}

impl Connection {
    /// The broker's identity and counters.
    pub fn status(&self) -> Result<BrokerStatus> {
        self.call(p::StatusRequest, "Status", None)
    }

    /// The entries of a namespace directory (`\` for the root). Every name is
    /// listed; an object's handle count only where the caller may read its
    /// security (`READ_CONTROL`).
    pub fn list_directory(&self, path: &str) -> Result<Vec<DirEntry>> {
        let op = "ListDirectory";
        let parsed = NamespacePath::parse(path)
            .map_err(|e| Error::new(ErrorKind::InvalidArgument, e.code, op, Some(path), e.reason))?;
        self.call(p::ListDirectory { path: parsed }, op, Some(path))
    }

    /// One object's kind, holders, security and state.
    ///
    /// Needs `READ_CONTROL` on the object (its owner and root have it);
    /// otherwise `ERROR_ACCESS_DENIED`. The holders are the caller's own
    /// user's handles, or every handle for root.
    pub fn show(&self, name: &str) -> Result<ObjectInfo> {
        let op = "Show";
        self.call(p::Show { target: target(op, name)? }, op, Some(name))
    }

    /// Open handles: every process's, or one process's. Other users'
    /// handles are left out unless the caller is root.
    pub fn handles(&self, pid: Option<u32>) -> Result<Vec<HandleInfo>> {
        self.call(p::ListHandles { pid }, "ListHandles", None)
    }

    /// What user `uid` (with these groups) may do with an object, and which
    /// ACE decided. Needs `READ_CONTROL` on the object (or root).
    pub fn check_access(&self, name: &str, uid: u32, gid: u32, groups: Vec<u32>) -> Result<AccessReport> {
        let op = "CheckAccess";
        self.call(p::CheckAccess { target: target(op, name)?, uid, gid, groups }, op, Some(name))
    }

    /// Asks the broker to stop (its owner or root only).
    pub fn shutdown_broker(&self) -> Result<()> {
        self.call(p::Shutdown, "Shutdown", None)
    }
}
