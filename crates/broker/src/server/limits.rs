//! What the event loop bounds on its own: connections per user and in all,
//! time to finish a handshake or a frame, and memory of unsent replies.
//!
//! The core bounds what clients hold (handles per process, per user and in
//! all); these bound what connections cost before and besides that. Root
//! and the broker's own user are never subject to a per-user quota, and
//! root keeps a reserve beyond the totals (`Config::root_reserve`),
//! so that one user at its limits never keeps the others, or the
//! administrator, out.

use std::time::Duration;

/// The event loop's limits.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Connections at once, all users together (root has a reserve beyond).
    pub max_conns: usize,
    /// Connections one user may have at once (handshake finished or not).
    pub max_conns_per_uid: usize,
    /// Time a new connection has to complete its handshake.
    pub handshake_timeout: Duration,
    /// Time a frame begun has to be completed.
    pub frame_timeout: Duration,
    /// Unsent reply bytes past which the broker stops taking a client's
    /// requests until it reads its replies (back-pressure).
    pub pause_reading_at: usize,
    /// Unsent reply bytes all of one user's clients may leave queued; past
    /// it the client whose queue grows is dropped.
    pub max_queued_per_uid: usize,
    /// How long a connection that holds nothing must have been silent
    /// before it may be closed to make room for a new one, at a limit.
    pub evict_idle_after: Duration,
}

impl Limits {
    /// Limits for a broker that may hold `fd_limit` descriptors and serve
    /// `max_clients` clients: connections take at most a quarter of the
    /// descriptors (handles take half, see [`handle_budget`]), and a user
    /// gets a quarter of the connections.
    pub fn for_budget(fd_limit: u64, max_clients: usize) -> Self {
        let fds = usize::try_from(fd_limit).unwrap_or(usize::MAX);
        let max_conns = max_clients.min(fds / 4).max(16);
        Self {
            max_conns,
            max_conns_per_uid: (max_conns / 4).max(4),
            handshake_timeout: Duration::from_secs(5),
            frame_timeout: Duration::from_secs(10),
            pause_reading_at: 256 << 10,
            max_queued_per_uid: 64 << 20,
            evict_idle_after: Duration::from_secs(30),
        }
    }
}

/// Handles a user may hold, and all clients together, for a broker that may
/// hold `fd_limit` descriptors: a handle may cost a descriptor (an event's
/// page, a section), so the total is half the limit less root's reserve
/// (connections take a quarter, root's reserve of connections and the
/// broker's own files some more), and a user gets an eighth of the total.
pub fn handle_budget(fd_limit: u64) -> (usize, usize) {
    let fds = usize::try_from(fd_limit).unwrap_or(usize::MAX);
    let total = (fds / 2).saturating_sub(64).max(64);
    ((total / 8).max(16), total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_descriptor_limit_gives_small_quotas_and_a_large_one_is_capped_by_clients() {
        let small = Limits::for_budget(1024, 4096);
        assert_eq!((small.max_conns, small.max_conns_per_uid), (256, 64));
        let large = Limits::for_budget(1 << 20, 4096);
        assert_eq!((large.max_conns, large.max_conns_per_uid), (4096, 1024));
        assert_eq!(handle_budget(20_000), (1242, 9936));
        assert_eq!(handle_budget(1 << 20), (65_528, 524_224));
    }
}
