//! When a connection must next show progress, without I/O: the idle
//! timeout, the bind (handshake) deadline and the deadline of a PDU begun.
//!
//! # Driving contract
//!
//! The transport asks [`Deadlines::read_timeout`] before every read and
//! puts the answer on the socket, so the bound holds while the peer is
//! silent and also while it trickles (each byte restarts a read timeout,
//! not a deadline measured from the PDU's first byte). After every read it
//! reports the association's state with [`Deadlines::received`].

use std::time::{Duration, Instant};

/// The bounds, each `Duration::ZERO` for none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Timeouts {
    /// How long the connection may stay silent.
    pub idle: Duration,
    /// How long a PDU may take from its first byte to its last.
    pub pdu: Duration,
    /// How long the connection may take to complete its bind.
    pub bind: Duration,
}

impl Timeouts {
    /// A PDU cannot take longer than a silence may last either: a server
    /// that closes silent peers closes slow ones no later.
    fn pdu(self) -> Option<Duration> {
        [self.pdu, self.idle].into_iter().filter(|d| !d.is_zero()).min()
    }
}

/// Why a connection is closed for time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Expired {
    /// No bind within [`Timeouts::bind`].
    Bind,
    /// A PDU begun and not finished within [`Timeouts::pdu`].
    Pdu,
}

impl Expired {
    pub(crate) fn reason(self) -> &'static str {
        match self {
            Self::Bind => "no bind within the handshake deadline",
            Self::Pdu => "a PDU begun and not finished within its deadline",
        }
    }
}

/// One connection's deadlines.
#[derive(Debug)]
pub(crate) struct Deadlines {
    timeouts: Timeouts,
    accepted: Instant,
    /// When the PDU half received began (its first byte's read).
    pdu_started: Option<Instant>,
    /// Fragments the association had completed at the last report.
    fragments: u64,
}

impl Deadlines {
    /// A connection accepted at `now`.
    pub(crate) fn new(timeouts: Timeouts, now: Instant) -> Self {
        Self { timeouts, accepted: now, pdu_started: None, fragments: 0 }
    }

    /// After a read at `now`: whether part of a PDU is held (`partial`),
    /// and how many fragments the association has completed in all. A PDU
    /// still partial after a fragment completed is a new one, begun now.
    pub(crate) fn received(&mut self, now: Instant, partial: bool, fragments: u64) {
        if !partial {
            self.pdu_started = None;
        } else if self.pdu_started.is_none() || fragments != self.fragments {
            self.pdu_started = Some(now);
        }
        self.fragments = fragments;
    }

    /// How long the next read may wait at `now` (`None`: for ever), or
    /// which deadline has passed. `bound`: whether the bind is done.
    pub(crate) fn read_timeout(&self, now: Instant, bound: bool) -> Result<Option<Duration>, Expired> {
        let t = self.timeouts;
        let mut wait = Some(t.idle).filter(|d| !d.is_zero());
        let mut tighten = |deadline: Instant, why: Expired| {
            let left = deadline.saturating_duration_since(now);
            if left.is_zero() {
                return Err(why);
            }
            wait = Some(wait.map_or(left, |w| w.min(left)));
            Ok(())
        };
        if !bound && !t.bind.is_zero() {
            tighten(self.accepted + t.bind, Expired::Bind)?;
        }
        if let (Some(started), Some(pdu)) = (self.pdu_started, t.pdu()) {
            tighten(started + pdu, Expired::Pdu)?;
        }
        Ok(wait)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn timeouts(idle: u64, pdu: u64, bind: u64) -> Timeouts {
        Timeouts { idle: ms(idle), pdu: ms(pdu), bind: ms(bind) }
    }

    #[test]
    fn a_trickled_pdu_gets_the_time_left_since_its_first_byte() {
        let t0 = Instant::now();
        let mut d = Deadlines::new(timeouts(10_000, 300, 0), t0);
        d.received(t0 + ms(100), true, 0);
        // Bytes of the same PDU keep coming: the deadline does not move.
        d.received(t0 + ms(250), true, 0);
        assert_eq!(d.read_timeout(t0 + ms(250), true), Ok(Some(ms(150))));
        d.received(t0 + ms(399), true, 0);
        assert_eq!(d.read_timeout(t0 + ms(399), true), Ok(Some(ms(1))));
        assert_eq!(d.read_timeout(t0 + ms(400), true), Err(Expired::Pdu));
    }

    #[test]
    fn a_pdu_completed_and_another_begun_in_one_read_starts_afresh() {
        let t0 = Instant::now();
        let mut d = Deadlines::new(timeouts(0, 300, 0), t0);
        d.received(t0, true, 0);
        d.received(t0 + ms(250), true, 1);
        assert_eq!(d.read_timeout(t0 + ms(250), true), Ok(Some(ms(300))));
    }

    #[test]
    fn without_a_pdu_under_way_only_the_idle_timeout_applies() {
        let t0 = Instant::now();
        let mut d = Deadlines::new(timeouts(5000, 300, 0), t0);
        d.received(t0, true, 0);
        d.received(t0 + ms(10), false, 1);
        assert_eq!(d.read_timeout(t0 + ms(10_000), true), Ok(Some(ms(5000))));
        let d = Deadlines::new(timeouts(0, 300, 0), t0);
        assert_eq!(d.read_timeout(t0 + ms(10_000), true), Ok(None), "no bound at all");
    }

    #[test]
    fn an_unbound_connection_is_due_at_the_bind_deadline_from_its_accept() {
        let t0 = Instant::now();
        let d = Deadlines::new(timeouts(5000, 300, 1000), t0);
        assert_eq!(d.read_timeout(t0 + ms(400), false), Ok(Some(ms(600))));
        assert_eq!(d.read_timeout(t0 + ms(1000), false), Err(Expired::Bind));
        assert_eq!(d.read_timeout(t0 + ms(1000), true), Ok(Some(ms(5000))), "bound: no more");
    }

    #[test]
    fn a_pdu_is_bounded_by_the_idle_timeout_when_that_is_shorter() {
        let t0 = Instant::now();
        let mut d = Deadlines::new(timeouts(200, 0, 0), t0);
        d.received(t0, true, 0);
        assert_eq!(d.read_timeout(t0 + ms(150), true), Ok(Some(ms(50))));
        assert_eq!(d.read_timeout(t0 + ms(200), true), Err(Expired::Pdu));
    }
}
