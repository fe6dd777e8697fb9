//! Events and waits done in shared memory between real processes:
//! SEMANTICS.md §3 (pulse, set-and-reset during a wait, the wait rules),
//! and what the fast path adds (objects of several connections in one wait,
//! handles checked for the right access before anything happens).

use std::time::Duration;

use switchboard::event::access::{EVENT_MODIFY_STATE, SYNCHRONIZE};
use switchboard::sync::{SEMAPHORE_MODIFY_STATE, Semaphore};
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
    let s2 = Semaphore::open(&first, "S", SYNCHRONIZE | SEMAPHORE_MODIFY_STATE).unwrap();
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

#[test]
fn handles_that_may_only_wait_take_events_semaphores_and_mutexes_through_the_broker() {
    let broker = TestBroker::start();
    let owner = broker.connect();
    let waiter = broker.connect();
    let auto = EventOptions::new().initial_state(true).create(&owner, "auto").unwrap().object;
    let sem = Semaphore::create(&owner, "sem", 2, 5).unwrap().object;
    let mutex = switchboard::sync::Mutex::create(&owner, "mutex", false).unwrap().object;
    let auto_w = Event::open(&waiter, "auto", SYNCHRONIZE).unwrap();
    let sem_w = Semaphore::open(&waiter, "sem", SYNCHRONIZE).unwrap();
    let mutex_w = switchboard::sync::Mutex::open(&waiter, "mutex", SYNCHRONIZE).unwrap();
    // The auto-reset event is consumed by the wait-only handle.
    assert_eq!(auto_w.wait(Some(Duration::ZERO)).unwrap(), WaitResult::Signaled(0));
    assert_eq!(auto_w.wait(Some(Duration::ZERO)).unwrap(), WaitResult::TimedOut);
    assert_eq!(code(auto_w.set()), Win32Error::ERROR_ACCESS_DENIED);
    // Each wait takes one count.
    assert_eq!(sem_w.acquire(Some(Duration::ZERO)).unwrap(), WaitResult::Signaled(0));
    assert_eq!(sem.release(1).unwrap(), 1, "one count was taken");
    assert_eq!(code(sem_w.release(1)), Win32Error::ERROR_ACCESS_DENIED);
    // The mutex is owned and released by this thread, as on Windows.
    assert_eq!(mutex_w.acquire(Some(Duration::ZERO)).unwrap(), WaitResult::Signaled(0));
    assert_eq!(mutex.acquire(Some(Duration::ZERO)).unwrap(), WaitResult::Signaled(0), "recursive on one thread");
    mutex.release().unwrap();
    mutex_w.release().unwrap();
    assert_eq!(code(mutex_w.release()), Win32Error::ERROR_NOT_OWNER);
    // A wait-all over wait-only and full handles takes everything at once.
    auto.set().unwrap();
    let got = wait_for_multiple(&[&auto_w, &sem_w, &mutex_w], true, Some(Duration::ZERO)).unwrap();
    assert_eq!(got, WaitResult::Signaled(0));
    assert_eq!(auto.wait(Some(Duration::ZERO)).unwrap(), WaitResult::TimedOut, "the event was consumed");
    mutex_w.release().unwrap();
}

#[test]
fn a_wait_only_handle_sleeping_in_another_thread_is_woken_by_a_set() {
    let broker = TestBroker::start();
    let owner = broker.connect();
    let event = EventOptions::new().create(&owner, "later").unwrap().object;
    let waiter = Event::open(&broker.connect(), "later", SYNCHRONIZE).unwrap();
    let sleeper = std::thread::spawn(move || waiter.wait(Some(Duration::from_secs(60))).unwrap());
    // Set once the sleeper is counted in, so that the set must wake it.
    assert!(eventually(Duration::from_secs(20), || owner.show("later").is_ok_and(|info| info.waiters > 0)));
    event.set().unwrap();
    assert_eq!(sleeper.join().unwrap(), WaitResult::Signaled(0));
}
