//! The hostile suite: a local user who attacks the broker every way issue
//! #12 lists, against a real `switchboardd` process. Each test asserts
//! that the broker survives, that another user is still served, and that
//! nothing of the others changed; each prints an `ATTACK |` line for the
//! attack table (`cargo test --test hostile -- --nocapture | grep ATTACK`).
//!
//! Tests that need an attacker under another uid run it as a child role
//! (uid 65534) and skip, saying so, when not root.

mod connections;
mod held;
mod memory;
mod sync;

use std::path::Path;

use switchboard_testkit::hostile::{self, Latencies, ProcessBroker, RawClient};

/// The broker binary under test.
const BROKER: &str = env!("CARGO_BIN_EXE_switchboardd");

/// The uid and gid the attacker runs as.
const NOBODY: (u32, u32) = (65_534, 65_534);

/// Starts a broker process with default limits.
fn broker() -> ProcessBroker {
    ProcessBroker::start(BROKER, &[])
}

/// Asserts that the broker process is alive and answers a new client,
/// and returns the probe's latencies.
fn assert_serves(broker: &mut ProcessBroker, probes: usize) -> Latencies {
    if let Some(status) = broker.exited() {
        panic!("the broker died: {status}");
    }
    let latencies =
        hostile::probe_status(broker.socket(), probes).unwrap_or_else(|e| panic!("another user was not served: {e}"));
    assert!(broker.exited().is_none(), "the broker died while answering");
    latencies
}

/// Whether the test may run an attacker under another uid; prints why not.
fn may_switch_user() -> bool {
    let root = switchboard_testkit::is_root();
    if !root {
        eprintln!("skipped: running the attacker under another uid needs root");
    }
    root
}

/// A raw client for a child role, from the environment the parent gave it.
fn child_client() -> RawClient {
    let socket = std::env::var_os("SWITCHBOARD_SOCKET").expect("SWITCHBOARD_SOCKET for the role");
    RawClient::connect(Path::new(&socket)).expect("connect to the broker")
}
