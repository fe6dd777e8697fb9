//! Who is at the other end of a Unix socket (`SO_PEERCRED`), and who we are.

use std::io;
use std::os::fd::AsFd;

/// A peer's credentials at the time it connected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerCred {
    /// Process id.
    pub pid: u32,
    /// Effective user id.
    pub uid: u32,
    /// Effective group id.
    pub gid: u32,
}

/// Reads `SO_PEERCRED` from a connected Unix socket.
pub fn peer_credentials(socket: impl AsFd) -> io::Result<PeerCred> {
    let cred = rustix::net::sockopt::socket_peercred(socket)?;
    Ok(PeerCred {
        pid: cred.pid.as_raw_nonzero().get().cast_unsigned(),
        uid: cred.uid.as_raw(),
        gid: cred.gid.as_raw(),
    })
}

/// This process's effective user id.
pub fn current_uid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// This process's effective group id.
pub fn current_gid() -> u32 {
    rustix::process::getegid().as_raw()
}

/// The supplementary groups of a live process, from `/proc/<pid>/status`.
/// Empty when the process is gone or the file cannot be read: the caller then
/// decides with the primary group alone, which can only grant less.
pub fn process_groups(pid: u32) -> Vec<u32> {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return Vec::new();
    };
    status
        .lines()
        .find_map(|l| l.strip_prefix("Groups:"))
        .map(|g| g.split_whitespace().filter_map(|n| n.parse().ok()).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_pair_peer_is_this_process() {
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        let cred = peer_credentials(&a).unwrap();
        assert_eq!(cred.pid, std::process::id());
        assert_eq!(cred.uid, current_uid());
        assert_eq!(cred.gid, current_gid());
    }

    #[test]
    fn groups_of_a_missing_process_are_empty() {
        assert!(process_groups(u32::MAX).is_empty());
        let _ = process_groups(std::process::id());
    }
}
