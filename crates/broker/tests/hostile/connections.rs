//! Connections: clients that close at once, flood, or never finish (#12: 5, 7).

use std::time::Duration;

use switchboard_proto as p;
use switchboard_testkit::hostile;

use super::{assert_serves, broker};

/// How many connections the broker serves now (from its status).
fn clients(broker: &switchboard_testkit::hostile::ProcessBroker) -> u32 {
    let mut c = hostile::RawClient::connect(broker.socket()).unwrap();
    let (status, _) = c.ok(p::StatusRequest).unwrap();
    status.clients
}

#[test]
fn clients_that_send_a_last_frame_and_close_at_once_leave_no_connection_behind() {
    let mut broker = broker();
    let trials = 300;
    for _ in 0..trials {
        let mut c = hostile::RawClient::connect(broker.socket()).unwrap();
        // A close that asks for no reply, then the end of the stream, in one go.
        c.send(p::Close { handle: switchboard_types::Handle(4) }, false).unwrap();
        drop(c);
    }
    // The broker has read every frame before it answers this status (one
    // thread, in order per socket; the others closed before it was sent),
    // but their ends of stream may still be in flight: allow for that.
    let settled = switchboard_testkit::eventually(Duration::from_secs(10), || clients(&broker) <= 2);
    let left = clients(&broker);
    let probe = assert_serves(&mut broker, 50);
    assert!(settled, "{left} connections are left after {trials} clients closed");
    hostile::report("send a last frame and close at once (ghost connections)", trials, &format!("{left} left"), &probe);
}
