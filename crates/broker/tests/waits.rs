//! Events and waits done in shared memory between real processes:
//! SEMANTICS.md §3 (pulse, set-and-reset during a wait, the wait rules),
//! and what the fast path adds (objects of several connections in one wait,
//! handles checked for the right access before anything happens).

use std::time::Duration;

use switchboard::event::access::{EVENT_MODIFY_STATE, SYNCHRONIZE};
use switchboard::sync::Semaphore;
use switchboard::{Connection, Event, EventOptions, WaitResult, Waitable, Win32Error, wait_for_multiple};
use switchboard_testkit::role::{self, Role};
use switchboard_testkit::{TestBroker, eventually};

fn code<T: std::fmt::Debug>(r: switchboard::Result<T>) -> Win32Error {
    r.expect_err("expected an error").win32_error()
}

/// Child role: opens the manual-reset event `name`, says so, waits for it
/// and says how the wait ended.
fn wait_in_child(name: &str) {
    let conn = Connection::connect().unwrap();
    let e = Event::open(&conn, name, SYNCHRONIZE).unwrap();
    role::report("OPENED");
    let got = e.wait(Some(Duration::from_secs(30))).unwrap();
    role::report(&format!("GOT {got:?}"));
}

#[test]
fn a_wait_in_another_process_ends_when_a_manual_event_is_set_and_reset_at_once() {
    if role::current().is_some() {
        return wait_in_child("flag");
    }
    let broker = TestBroker::start();
    let conn = broker.connect();
    let e = EventOptions::new().manual_reset(true).create(&conn, "flag").unwrap().object;
    let test = "a_wait_in_another_process_ends_when_a_manual_event_is_set_and_reset_at_once";
    let mut child = Role::new(test, "waiter").env(broker.env()).spawn();
    child.expect_line("OPENED");
    assert!(eventually(Duration::from_secs(30), || conn.show("flag").unwrap().waiters == 1), "the child sleeps");
    // SetEvent satisfies the waits under way at once, whatever follows.
    assert!(!e.set().unwrap());
    assert!(e.reset().unwrap());
    assert_eq!(child.expect_line("GOT"), "Signaled(0)");
    child.wait_success();
    assert_eq!(e.wait(Some(Duration::ZERO)).unwrap(), WaitResult::TimedOut, "and it stays reset");
}

#[test]
fn pulse_on_a_manual_event_releases_every_waiting_process_and_leaves_it_reset() {
    if role::current().is_some() {
        return wait_in_child("pulse");
    }
    let broker = TestBroker::start();
    let conn = broker.connect();
    let e = EventOptions::new().manual_reset(true).create(&conn, "pulse").unwrap().object;
    let test = "pulse_on_a_manual_event_releases_every_waiting_process_and_leaves_it_reset";
    let mut children: Vec<_> = ["a", "b"].iter().map(|r| Role::new(test, r).env(broker.env()).spawn()).collect();
    for child in &mut children {
        child.expect_line("OPENED");
    }
    assert!(eventually(Duration::from_secs(30), || conn.show("pulse").unwrap().waiters == 2), "both sleep");
    assert!(!e.pulse().unwrap(), "it was not signaled");
    for mut child in children {
        assert_eq!(child.expect_line("GOT"), "Signaled(0)");
        child.wait_success();
    }
    assert_eq!(conn.show("pulse").unwrap().state, "not signaled, manual-reset");
    assert_eq!(e.wait(Some(Duration::ZERO)).unwrap(), WaitResult::TimedOut);
}

#[test]
fn a_handle_without_synchronize_cannot_wait_and_one_without_modify_cannot_set() {
    let broker = TestBroker::start();
    let conn = broker.connect();
    let _e = EventOptions::new().initial_state(true).create(&conn, "E").unwrap();
    let setter = Event::open(&conn, "E", EVENT_MODIFY_STATE).unwrap();
    let waiter = Event::open(&conn, "E", SYNCHRONIZE).unwrap();
    let err = setter.wait(Some(Duration::ZERO)).unwrap_err();
    assert_eq!(err.win32_error(), Win32Error::ERROR_ACCESS_DENIED);
    assert!(err.to_string().contains("SYNCHRONIZE"), "{err}");
    assert_eq!(code(waiter.set()), Win32Error::ERROR_ACCESS_DENIED);
    assert_eq!(code(waiter.reset()), Win32Error::ERROR_ACCESS_DENIED);
    assert_eq!(waiter.wait(Some(Duration::ZERO)).unwrap(), WaitResult::Signaled(0), "the event was still set");
}

#[test]
fn waits_take_between_one_and_sixty_four_objects() {
    let broker = TestBroker::start();
    let conn = broker.connect();
    let e = EventOptions::new().manual_reset(true).initial_state(true).create(&conn, "E").unwrap().object;
    let many: Vec<&dyn Waitable> = vec![&e; 65];
    assert_eq!(code(wait_for_multiple(&many, false, Some(Duration::ZERO))), Win32Error::ERROR_INVALID_PARAMETER);
    assert_eq!(code(wait_for_multiple(&[], false, Some(Duration::ZERO))), Win32Error::ERROR_INVALID_PARAMETER);
    assert_eq!(wait_for_multiple(&many[..64], false, Some(Duration::ZERO)).unwrap(), WaitResult::Signaled(0));
}

#[test]
fn wait_all_naming_one_object_twice_is_invalid_parameter() {
    let broker = TestBroker::start();
    let conn = broker.connect();
    let e = EventOptions::new().initial_state(true).create(&conn, "E").unwrap().object;
    let again = e.try_clone().unwrap();
    assert_eq!(code(wait_for_multiple(&[&e, &again], true, Some(Duration::ZERO))), Win32Error::ERROR_INVALID_PARAMETER);
    assert_eq!(e.wait(Some(Duration::ZERO)).unwrap(), WaitResult::Signaled(0), "nothing was consumed");
}

#[test]
fn wait_any_takes_the_lowest_index_and_only_that_one() {
    let broker = TestBroker::start();
    let conn = broker.connect();
    let a = EventOptions::new().create(&conn, "A").unwrap().object;
    let b = EventOptions::new().initial_state(true).create(&conn, "B").unwrap().object;
    let c = EventOptions::new().initial_state(true).create(&conn, "C").unwrap().object;
    assert_eq!(wait_for_multiple(&[&a, &b, &c], false, Some(Duration::ZERO)).unwrap(), WaitResult::Signaled(1));
    assert_eq!(c.wait(Some(Duration::ZERO)).unwrap(), WaitResult::Signaled(0), "C was left signaled");
}

#[test]
fn objects_of_two_connections_can_be_waited_on_together() {
    let broker = TestBroker::start();
    let first = broker.connect();
    let second = broker.connect();
    let a = EventOptions::new().create(&first, "A").unwrap().object;
    let s = Semaphore::create(&second, "S", 0, 1).unwrap().object;
    let s2 = Semaphore::open(&first, "S", SYNCHRONIZE | 0x0002).unwrap();
    let waiter = std::thread::spawn(move || wait_for_multiple(&[&a, &s2], true, Some(Duration::from_secs(30))));
    s.release(1).unwrap();
    let a_again = Event::open(&second, "A", EVENT_MODIFY_STATE).unwrap();
    a_again.set().unwrap();
    assert_eq!(waiter.join().unwrap().unwrap(), WaitResult::Signaled(0));
    assert_eq!(s.acquire(Some(Duration::ZERO)).unwrap(), WaitResult::TimedOut, "the wait-all took the count");
}

#[test]
fn a_wait_times_out_at_its_deadline_and_not_before() {
    let broker = TestBroker::start();
    let e = EventOptions::new().create(&broker.connect(), "E").unwrap().object;
    let started = std::time::Instant::now();
    assert_eq!(e.wait(Some(Duration::from_millis(100))).unwrap(), WaitResult::TimedOut);
    assert!(started.elapsed() >= Duration::from_millis(100));
}
