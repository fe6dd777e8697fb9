//! The hostile suite: a local user who attacks the broker every way issue
//! #12 lists, against a real `switchboardd` process. Each test asserts
//! that the broker survives, that another user is still served, and that
//! nothing of the others changed; each prints an `ATTACK |` line for the
//! attack table (`cargo test --test hostile -- --nocapture | grep ATTACK`).
//!
//! Tests that need an attacker under another uid run it as a child role
//! (uid 65534) and skip, saying so, when not root.
//!
//! Where each numbered defect of #12 is tested (the ones whose attack is
//! not on the broker's socket live beside the code they attack):
//!
//! | # | defect | test |
//! |---|---|---|
//! | 1 | shrinking shared memory (SIGBUS) | `memory::truncating_a_mailslot_counter_page…`, `memory::a_section_cannot_be_shrunk…` |
//! | 2 | read-only descriptor reopened writable | `memory::a_read_only_section_descriptor_cannot_be_reopened…` |
//! | 3 | wait-only handle changes state | `sync::a_wait_only_handle_cannot_set_events…` |
//! | 4 | a seal that bricks an object | `memory::no_holder_can_add_a_seal…` |
//! | 5 | ghost connections | `connections::clients_that_send_a_last_frame…` |
//! | 6 | the broker spins on locked events | `sync::locked_events_do_not_freeze_the_broker…` |
//! | 7 | one user starves the others | `connections::one_user_with_hundreds…`, `…half_finished…`, `…never_read…`, `…out_of_descriptors…` |
//! | 8 | system realm split brain | `crates/broker/tests/takeover.rs`, `crates/cli/tests/realm.rs` |
//! | 9 | a full disk poisons a hive | `crates/registry/tests/disk_full.rs`, `crates/broker/tests/registry_quota.rs` |
//! | 10 | diagnostics leak across users | `crates/broker/tests/diagnostics.rs` |
//! | 11 | users share `Local\` and atoms | `crates/broker/tests/sessions.rs` |
//! | 12 | the RPC server starved | `crates/rpc/tests/hostile.rs` |
//! | 13 | damaged pages strand waiters | `sync::an_infinite_waiter_outlives…`, `sync::a_damaged_mutex_is_repaired…` |
//!
//! `held` keeps the attacks that held before #12 (garbage, 4 GiB prefixes,
//! descriptor floods, slowloris, auto-start races, kill -9 storms).

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

/// A `CreateEvent` request: manual-reset, not signaled, all access, named
/// or not, with a DACL in SDDL or the default one.
fn new_event(name: Option<&str>, sddl: Option<&str>) -> switchboard_proto::CreateEvent {
    switchboard_proto::CreateEvent {
        name: name.map(|n| switchboard_types::ObjectName::parse(n).expect("an object name")),
        manual_reset: true,
        initial_state: false,
        access: switchboard_types::access::event::EVENT_ALL_ACCESS,
        security: switchboard_proto::Security { sddl: sddl.map(str::to_owned) },
    }
}

/// A raw client for a child role, from the environment the parent gave it.
fn child_client() -> RawClient {
    let socket = std::env::var_os("SWITCHBOARD_SOCKET").expect("SWITCHBOARD_SOCKET for the role");
    RawClient::connect(Path::new(&socket)).expect("connect to the broker")
}
