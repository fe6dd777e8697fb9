//! Who gets an association, without I/O: the server's table of the
//! associations it holds, each with its peer and whether it is idle.
//!
//! # Driving contract
//!
//! The accepting loop calls [`Admission::admit`] for each new connection
//! with the time; when it hands back an evicted association's closer, the
//! loop shuts that connection down. Each association's thread reports
//! [`Admission::busy`] when bytes arrive and [`Admission::idle`] once it
//! holds neither a call nor part of a PDU, and [`Admission::leave`] when it
//! ends ([`Ticket`] does the three). Nothing here blocks or reads a clock.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

/// Who a connection comes from, for the share of associations one peer
/// may hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Peer {
    /// An `ncacn_ip_tcp` peer's address (an IPv4-mapped IPv6 address as
    /// its IPv4 one, so one host cannot count twice).
    Ip(IpAddr),
    /// An `ncalrpc` peer's user (`SO_PEERCRED`).
    Uid(u32),
    /// A peer we could not identify: all such count as one.
    Unknown,
}

/// What [`Admission::admit`] decided.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Admit<C> {
    /// Admitted as association `id`; `evicted` is the closer of the idle
    /// association it displaced, to be shut down.
    In { id: u64, evicted: Option<C> },
    /// The peer already holds its share, all of it busy (or idle ones may
    /// not be evicted).
    PeerFull,
    /// The server is full and every association is busy (or idle ones may
    /// not be evicted).
    Full,
}

#[derive(Debug)]
struct Entry<C> {
    peer: Peer,
    /// `None` while a call runs or a PDU is half received.
    idle_since: Option<Instant>,
    closer: C,
}

/// The associations a server holds.
#[derive(Debug)]
pub(crate) struct Admission<C> {
    entries: HashMap<u64, Entry<C>>,
    next_id: u64,
    max_total: usize,
    max_per_peer: usize,
    evict_idle: bool,
}

impl<C> Admission<C> {
    /// At most `max_total` associations, `max_per_peer` of them one peer's
    /// (both at least 1); when full, the longest idle one makes room if
    /// `evict_idle`.
    pub(crate) fn new(max_total: usize, max_per_peer: usize, evict_idle: bool) -> Self {
        Self {
            entries: HashMap::new(),
            next_id: 0,
            max_total: max_total.max(1),
            max_per_peer: max_per_peer.max(1),
            evict_idle,
        }
    }

    /// A new connection from `peer` at `now`, shut down through `closer`
    /// if it is ever evicted. It starts idle: a connection that has sent
    /// nothing holds nothing worth keeping over a new caller.
    ///
    /// A peer at its share makes room among its own idle associations
    /// only, never at others' expense; a server full makes room with the
    /// association idle the longest, whoever's.
    pub(crate) fn admit(&mut self, peer: Peer, closer: C, now: Instant) -> Admit<C> {
        let victim = if self.entries.values().filter(|e| e.peer == peer).count() >= self.max_per_peer {
            match self.longest_idle(Some(peer)) {
                Some(victim) if self.evict_idle => Some(victim),
                _ => return Admit::PeerFull,
            }
        } else if self.entries.len() >= self.max_total {
            match self.longest_idle(None) {
                Some(victim) if self.evict_idle => Some(victim),
                _ => return Admit::Full,
            }
        } else {
            None
        };
        let evicted = victim.and_then(|id| self.entries.remove(&id)).map(|e| e.closer);
        let id = self.next_id;
        self.next_id += 1;
        self.entries.insert(id, Entry { peer, idle_since: Some(now), closer });
        Admit::In { id, evicted }
    }

    /// The association idle the longest (of `peer`'s, if given).
    fn longest_idle(&self, peer: Option<Peer>) -> Option<u64> {
        self.entries
            .iter()
            .filter(|(_, e)| peer.is_none_or(|p| p == e.peer))
            .filter_map(|(&id, e)| e.idle_since.map(|since| (since, id)))
            .min()
            .map(|(_, id)| id)
    }

    /// Association `id` has work (bytes came): not to be evicted.
    pub(crate) fn busy(&mut self, id: u64) {
        if let Some(e) = self.entries.get_mut(&id) {
            e.idle_since = None;
        }
    }

    /// Association `id` holds no call and no part of a PDU since `now`.
    pub(crate) fn idle(&mut self, id: u64, now: Instant) {
        if let Some(e) = self.entries.get_mut(&id) {
            e.idle_since.get_or_insert(now);
        }
    }

    /// Association `id` has ended (nothing happens if it was evicted).
    pub(crate) fn leave(&mut self, id: u64) {
        self.entries.remove(&id);
    }

    /// Associations held.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.len()
    }
}

/// What an association's driver reports of its activity.
pub(crate) trait Activity {
    /// Bytes came: a call or a PDU is under way.
    fn busy(&self);
    /// Nothing under way since `now`.
    fn idle(&self, now: Instant);
}

/// For drivers outside a server's table (`serve_stream`, `ncacn_np`).
impl Activity for () {
    fn busy(&self) {}
    fn idle(&self, _: Instant) {}
}

/// An admitted association's place in its server's table, given back when
/// dropped.
#[derive(Debug)]
pub(crate) struct Ticket<C> {
    table: Arc<Mutex<Admission<C>>>,
    id: u64,
}

impl<C> Ticket<C> {
    pub(crate) fn new(table: Arc<Mutex<Admission<C>>>, id: u64) -> Self {
        Self { table, id }
    }
}

impl<C> Activity for Ticket<C> {
    fn busy(&self) {
        self.table.lock().unwrap_or_else(PoisonError::into_inner).busy(self.id);
    }
    fn idle(&self, now: Instant) {
        self.table.lock().unwrap_or_else(PoisonError::into_inner).idle(self.id, now);
    }
}

impl<C> Drop for Ticket<C> {
    fn drop(&mut self) {
        self.table.lock().unwrap_or_else(PoisonError::into_inner).leave(self.id);
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;
    use std::time::Duration;

    use super::*;

    fn ip(last: u8) -> Peer {
        Peer::Ip(IpAddr::V4(Ipv4Addr::new(127, 0, 0, last)))
    }

    fn id(a: Admit<&'static str>) -> u64 {
        match a {
            Admit::In { id, .. } => id,
            other => panic!("not admitted: {other:?}"),
        }
    }

    #[test]
    fn a_peer_beyond_its_share_of_busy_associations_is_refused_while_others_are_admitted() {
        let now = Instant::now();
        let mut table = Admission::new(8, 2, true);
        let a = id(table.admit(ip(2), "a", now));
        let b = id(table.admit(ip(2), "b", now));
        table.busy(a);
        table.busy(b);
        assert_eq!(table.admit(ip(2), "c", now), Admit::PeerFull);
        id(table.admit(ip(1), "d", now));
        assert_eq!(table.len(), 3);
    }

    #[test]
    fn a_peer_at_its_share_makes_room_among_its_own_idle_associations_only() {
        let t0 = Instant::now();
        let mut table = Admission::new(8, 2, true);
        id(table.admit(ip(1), "other", t0));
        let a = id(table.admit(ip(2), "a", t0 + Duration::from_secs(1)));
        id(table.admit(ip(2), "b", t0 + Duration::from_secs(2)));
        table.busy(a);
        // `other` is idle the longest, but not ip(2)'s to take.
        assert_eq!(table.admit(ip(2), "c", t0 + Duration::from_secs(3)), Admit::In { id: 3, evicted: Some("b") });
        assert_eq!(table.len(), 3);
    }

    #[test]
    fn a_full_table_evicts_the_association_idle_the_longest() {
        let t0 = Instant::now();
        let mut table = Admission::new(3, 3, true);
        let a = id(table.admit(ip(1), "a", t0));
        let b = id(table.admit(ip(1), "b", t0));
        let c = id(table.admit(ip(1), "c", t0));
        table.busy(a);
        table.busy(b);
        table.busy(c);
        table.idle(c, t0 + Duration::from_secs(1));
        table.idle(b, t0 + Duration::from_secs(2));
        assert_eq!(table.admit(ip(2), "d", t0 + Duration::from_secs(3)), Admit::In { id: 3, evicted: Some("c") });
        assert_eq!(table.len(), 3);
    }

    #[test]
    fn a_full_table_of_busy_associations_refuses() {
        let now = Instant::now();
        let mut table = Admission::new(2, 2, true);
        let a = id(table.admit(ip(1), "a", now));
        let b = id(table.admit(ip(1), "b", now));
        table.busy(a);
        table.busy(b);
        assert_eq!(table.admit(ip(3), "c", now), Admit::Full);
        table.leave(a);
        assert_eq!(table.admit(ip(3), "c", now), Admit::In { id: 2, evicted: None });
    }

    #[test]
    fn without_eviction_a_full_table_refuses_even_idle() {
        let now = Instant::now();
        let mut table = Admission::new(1, 1, false);
        id(table.admit(ip(1), "a", now));
        assert_eq!(table.admit(ip(2), "b", now), Admit::Full);
    }

    #[test]
    fn an_idle_report_keeps_the_earlier_idle_time() {
        let t0 = Instant::now();
        let mut table = Admission::new(2, 2, true);
        let a = id(table.admit(ip(1), "a", t0 + Duration::from_secs(1)));
        let b = id(table.admit(ip(1), "b", t0 + Duration::from_secs(2)));
        // `a` reports idle again later without having been busy: still the older.
        table.idle(a, t0 + Duration::from_secs(5));
        table.idle(b, t0 + Duration::from_secs(3));
        assert_eq!(table.admit(ip(2), "c", t0 + Duration::from_secs(6)), Admit::In { id: 2, evicted: Some("a") });
    }

    #[test]
    fn leaving_after_eviction_changes_nothing() {
        let now = Instant::now();
        let mut table = Admission::new(1, 1, true);
        let a = id(table.admit(ip(1), "a", now));
        let b = id(table.admit(ip(2), "b", now));
        table.leave(a);
        table.busy(a);
        assert_eq!(table.len(), 1);
        table.leave(b);
        assert_eq!(table.len(), 0);
    }
}
