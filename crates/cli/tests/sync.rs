//! `switchboard mutex …` and `switchboard sem …` as a user runs them: one
//! process holds, others wait, time out, or find a mutex abandoned, against
//! a real broker.

mod common;
use common::*;

use std::time::Duration;

use switchboard_testkit::{TestBroker, eventually};

#[test]
fn a_held_mutex_makes_others_time_out_until_its_holder_lets_go() {
    let broker = TestBroker::start();
    let conn = broker.connect();
    let (creator, line) = Proc::start(&broker, &["mutex", "create", "M", "--hold"], "holding mutex \"M\"");
    assert!(line.ends_with("); end of stdin releases it\n"), "{line}");
    let (holder, line) = Proc::start(&broker, &["mutex", "acquire", "M", "--hold"], "acquired");
    assert_eq!(line, "acquired \"M\"\n");
    assert!(conn.show("M").unwrap().state.starts_with("owned by thread"), "{:?}", conn.show("M"));

    let busy = run(&broker, &["mutex", "acquire", "M", "--timeout", "100ms"]);
    assert_eq!(busy.status.code(), Some(6), "{busy:?}");
    assert_eq!(stdout(&busy), "timed out after 100ms\n");

    // A waiter parked on the mutex gets it when the holder lets go.
    let waiter = Proc::spawn(&broker, &["mutex", "acquire", "M", "--timeout", "20s"]);
    assert!(eventually(Duration::from_secs(20), || conn.show("M").is_ok_and(|i| i.waiters == 1)), "no waiter");
    let released = holder.release();
    ok(&released);
    let waited = waiter.output();
    ok(&waited);
    assert_eq!(stdout(&waited), "acquired \"M\"\n", "released, not abandoned");

    let free = run(&broker, &["mutex", "acquire", "M", "--timeout", "5s"]);
    ok(&free);
    assert_eq!(stdout(&free), "acquired \"M\"\n");
    assert_eq!(conn.show("M").unwrap().state, "free");

    let json = run(&broker, &["--json", "mutex", "acquire", "M", "--timeout", "5s"]);
    ok(&json);
    let value: serde_json::Value = serde_json::from_str(&stdout(&json)).unwrap();
    assert_eq!(
        value,
        serde_json::json!({"name": "M", "acquired": true, "abandoned": false, "timed_out": false, "timeout_ms": 5000, "held": false})
    );
    ok(&creator.release());
}

#[test]
fn a_mutex_whose_owner_is_killed_is_abandoned_to_the_next_acquirer() {
    let broker = TestBroker::start();
    // Keeps M alive once the killed holder's handle goes.
    let (creator, _) = Proc::start(&broker, &["mutex", "create", "M", "--hold"], "holding mutex \"M\"");
    let (holder, _) = Proc::start(&broker, &["mutex", "acquire", "M", "--hold"], "acquired \"M\"");
    holder.kill();

    // Waits until the broker has seen the owner go, then owns M.
    let next = run(&broker, &["mutex", "acquire", "M", "--timeout", "5s"]);
    ok(&next);
    assert_eq!(stdout(&next), "acquired \"M\" (abandoned by its previous owner)\n");
    // `next` released it properly: the one after is told nothing.
    let after = run(&broker, &["mutex", "acquire", "M", "--timeout", "5s"]);
    ok(&after);
    assert_eq!(stdout(&after), "acquired \"M\"\n");
    ok(&creator.release());
}

#[test]
fn create_owned_holds_the_mutex_until_the_hold_ends() {
    let broker = TestBroker::start();
    let (creator, line) = Proc::start(&broker, &["mutex", "create", "O", "--owned", "--hold"], "holding mutex \"O\"");
    assert!(line.contains(", owned by this process); end of stdin releases it"), "{line}");
    let busy = run(&broker, &["mutex", "acquire", "O", "--timeout", "100ms"]);
    assert_eq!(busy.status.code(), Some(6), "{busy:?}");
    // Exit 0 means the release before exiting worked (a thread that does not
    // own the mutex would get ERROR_NOT_OWNER, exit 1).
    ok(&creator.release());

    let created = run(&broker, &["mutex", "create", "gone"]);
    ok(&created);
    assert!(stdout(&created).starts_with("created mutex \"gone\" (handle 0x"), "{created:?}");
    assert!(stderr(&created).contains("warning: mutex \"gone\" is destroyed as this command exits"), "{created:?}");
}

#[test]
fn semaphore_counts_go_down_with_waits_and_up_with_releases() {
    let broker = TestBroker::start();
    let conn = broker.connect();
    let (holder, line) =
        Proc::start(&broker, &["sem", "create", "S", "--initial", "1", "--max", "1", "--hold"], "holding");
    assert!(line.starts_with("holding semaphore \"S\" (count 1 of 1, handle 0x"), "{line}");

    let first = run(&broker, &["sem", "wait", "S", "--timeout", "100ms"]);
    ok(&first);
    assert_eq!(stdout(&first), "took one count of semaphore \"S\"\n");
    let second = run(&broker, &["sem", "wait", "S", "--timeout", "100ms"]);
    assert_eq!(second.status.code(), Some(6), "{second:?}");
    assert_eq!(stdout(&second), "timed out after 100ms\n");
    assert_eq!(conn.show("S").unwrap().state, "count 0 of 1");

    let released = run(&broker, &["sem", "release", "S"]);
    ok(&released);
    assert_eq!(stdout(&released), "released 1 (previous count 0)\n");
    let again = run(&broker, &["sem", "release", "S"]);
    assert_eq!(again.status.code(), Some(1), "{again:?}");
    assert!(stderr(&again).contains("ERROR_TOO_MANY_POSTS"), "{}", stderr(&again));
    assert_eq!(conn.show("S").unwrap().state, "count 1 of 1", "a refused release changes nothing");

    let json = run(&broker, &["--json", "sem", "wait", "S"]);
    ok(&json);
    let value: serde_json::Value = serde_json::from_str(&stdout(&json)).unwrap();
    assert_eq!(value, serde_json::json!({"name": "S", "taken": true, "timed_out": false, "timeout_ms": null}));
    let json = run(&broker, &["--json", "sem", "release", "S", "--count", "1"]);
    ok(&json);
    let value: serde_json::Value = serde_json::from_str(&stdout(&json)).unwrap();
    assert_eq!(value, serde_json::json!({"name": "S", "released": 1, "previous_count": 0}));
    ok(&holder.release());
}

#[test]
fn bad_counts_and_missing_objects() {
    let broker = TestBroker::start();
    for (initial, max) in [("2", "1"), ("-1", "1"), ("0", "0")] {
        let bad = run(&broker, &["sem", "create", "S", "--initial", initial, "--max", max]);
        assert_eq!(bad.status.code(), Some(1), "--initial {initial} --max {max}: {bad:?}");
        assert!(stderr(&bad).contains("ERROR_INVALID_PARAMETER"), "{}", stderr(&bad));
    }
    assert_eq!(run(&broker, &["sem", "create", "S", "--initial", "x", "--max", "1"]).status.code(), Some(2));
    assert_eq!(run(&broker, &["sem", "create", "S", "--max", "1"]).status.code(), Some(2));
    assert_eq!(run(&broker, &["mutex", "acquire", "M", "--timeout", "soon"]).status.code(), Some(2));
    assert_eq!(run(&broker, &["mutex", "release", "M"]).status.code(), Some(2), "there is no mutex release");
    for args in [&["mutex", "acquire", "missing"][..], &["sem", "wait", "missing"], &["sem", "release", "missing"]] {
        let missing = run(&broker, args);
        assert_eq!(missing.status.code(), Some(4), "{args:?}: {missing:?}");
    }
}

#[test]
fn acquire_wait_and_release_never_start_a_broker() {
    exits_3_without_starting_a_broker(&["mutex", "acquire", "M"]);
    exits_3_without_starting_a_broker(&["sem", "wait", "S"]);
    exits_3_without_starting_a_broker(&["sem", "release", "S"]);
}
