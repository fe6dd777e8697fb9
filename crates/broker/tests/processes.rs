//! Objects shared between real processes through a real broker.

use std::time::Duration;

use switchboard::event::access::{EVENT_ALL_ACCESS, EVENT_MODIFY_STATE, SYNCHRONIZE};
use switchboard::{Connection, Event, EventOptions, WaitResult, Win32Error, atom};
use switchboard_testkit::role::{self, Role};
use switchboard_testkit::{TestBroker, eventually, is_root};

fn child_conn() -> Connection {
    Connection::connect().expect("child connects to the test broker")
}

#[test]
fn event_set_in_one_process_wakes_a_waiter_in_another() {
    if let Some(role) = role::current() {
        assert_eq!(role, "waiter");
        let conn = child_conn();
        let e = Event::open(&conn, "Local\\go", SYNCHRONIZE).unwrap();
        role::report("OPENED");
        let r = e.wait(Some(Duration::from_secs(20))).unwrap();
        role::report(&format!("RESULT {r:?}"));
        return;
    }
    let broker = TestBroker::start();
    let conn = broker.connect();
    let go = EventOptions::new().create(&conn, "go").unwrap().object;
    let mut child = Role::new("event_set_in_one_process_wakes_a_waiter_in_another", "waiter").env(broker.env()).spawn();
    child.expect_line("OPENED");
    go.set().unwrap();
    assert_eq!(child.expect_line("RESULT"), "Signaled(0)");
    child.wait_success();
}

#[test]
fn auto_reset_event_releases_one_waiter_per_set_across_processes() {
    if let Some(_role) = role::current() {
        let conn = child_conn();
        let e = Event::open(&conn, "one", SYNCHRONIZE).unwrap();
        role::report("OPENED");
        match e.wait(Some(Duration::from_secs(20))).unwrap() {
            WaitResult::Signaled(0) => role::report("WOKE"),
            other => role::report(&format!("UNEXPECTED {other:?}")),
        }
        return;
    }
    let broker = TestBroker::start();
    let conn = broker.connect();
    let e = EventOptions::new().create(&conn, "one").unwrap().object;
    let mut a =
        Role::new("auto_reset_event_releases_one_waiter_per_set_across_processes", "a").env(broker.env()).spawn();
    let mut b =
        Role::new("auto_reset_event_releases_one_waiter_per_set_across_processes", "b").env(broker.env()).spawn();
    a.expect_line("OPENED");
    b.expect_line("OPENED");
    assert!(eventually(Duration::from_secs(20), || conn.show("one").unwrap().waiters == 2));
    // Each set is consumed by exactly one wait: after the first, one waiter
    // has gone and the other sleeps on, with the event reset again.
    e.set().unwrap();
    let settled = |sleepers| {
        eventually(Duration::from_secs(20), || {
            let info = conn.show("one").unwrap();
            info.waiters == sleepers && info.state == "not signaled, auto-reset"
        })
    };
    assert!(settled(1), "{:?}", conn.show("one").unwrap());
    e.set().unwrap();
    assert!(settled(0), "{:?}", conn.show("one").unwrap());
    a.expect_line("WOKE");
    b.expect_line("WOKE");
    a.wait_success();
    b.wait_success();
    assert_eq!(e.wait(Some(Duration::ZERO)).unwrap(), WaitResult::TimedOut);
}

#[test]
fn global_atom_added_by_one_process_is_found_by_another_after_it_exits() {
    if let Some(_role) = role::current() {
        let conn = child_conn();
        let a = atom::global_add(&conn, "Switchboard.Test.Format").unwrap();
        role::report(&format!("ATOM {}", a.0));
        return;
    }
    let broker = TestBroker::start();
    let mut child = Role::new("global_atom_added_by_one_process_is_found_by_another_after_it_exits", "adder")
        .env(broker.env())
        .spawn();
    let added: u16 = child.expect_line("ATOM").parse().unwrap();
    child.wait_success();
    let conn = broker.connect();
    let found = atom::global_find(&conn, "switchboard.test.FORMAT").unwrap();
    assert_eq!(found.0, added);
    assert!(added >= 0xC000);
    assert_eq!(atom::global_name(&conn, found).unwrap(), "Switchboard.Test.Format");
}

#[test]
fn kill_9_closes_the_victims_handles_and_frees_the_name() {
    if let Some(_role) = role::current() {
        let conn = child_conn();
        let _e = EventOptions::new().manual_reset(true).create(&conn, "victim").unwrap();
        let _other = EventOptions::new().create(&conn, "only-mine").unwrap();
        role::report("READY");
        std::thread::sleep(Duration::from_secs(60));
        return;
    }
    let broker = TestBroker::start();
    let conn = broker.connect();
    let child = Role::new("kill_9_closes_the_victims_handles_and_frees_the_name", "victim").env(broker.env());
    let mut child = child.spawn();
    child.expect_line("READY");
    let pid = child.pid();
    let mine = Event::open(&conn, "victim", EVENT_ALL_ACCESS).unwrap();
    let holders: Vec<u32> = conn.show("victim").unwrap().holders.iter().map(|h| h.pid).collect();
    assert!(holders.contains(&pid) && holders.contains(&std::process::id()), "{holders:?}");
    child.kill();
    // The broker learns of the death from the socket closing; wait for it to act.
    assert!(eventually(Duration::from_secs(10), || conn.handles(Some(pid)).unwrap().is_empty()));
    let err = Event::open(&conn, "only-mine", SYNCHRONIZE).unwrap_err();
    assert_eq!(err.win32_error(), Win32Error::ERROR_FILE_NOT_FOUND, "{err}");
    // "victim" lives on through our handle, and goes with it.
    assert_eq!(conn.show("victim").unwrap().holders.len(), 1);
    mine.close().unwrap();
    assert_eq!(conn.show("victim").unwrap_err().win32_error(), Win32Error::ERROR_FILE_NOT_FOUND);
}

#[test]
fn another_user_is_kept_out_unless_the_dacl_lets_it_in() {
    if let Some(_role) = role::current() {
        let conn = child_conn();
        match Event::open(&conn, "Global\\secret", SYNCHRONIZE) {
            Err(e) => role::report(&format!("SECRET {:?}", e.win32_error())),
            Ok(_) => role::report("SECRET opened"),
        }
        match Event::open(&conn, "Global\\shared", SYNCHRONIZE) {
            Err(e) => role::report(&format!("SHARED {:?}", e.win32_error())),
            Ok(_) => role::report("SHARED opened"),
        }
        match Event::open(&conn, "Global\\shared", EVENT_MODIFY_STATE) {
            Err(e) => role::report(&format!("MODIFY {:?}", e.win32_error())),
            Ok(_) => role::report("MODIFY opened"),
        }
        return;
    }
    if !is_root() {
        eprintln!("skipped: running a child under another uid needs root");
        return;
    }
    let broker = TestBroker::start();
    broker.open_to_all_users();
    let conn = broker.connect();
    let _secret = EventOptions::new().create(&conn, "Global\\secret").unwrap();
    let _shared =
        EventOptions::new().security("D:(A;;GA;;;OW)(A;;GA;;;BA)(A;;GX;;;WD)").create(&conn, "Global\\shared").unwrap();
    let nobody = 65_534;
    let mut child = Role::new("another_user_is_kept_out_unless_the_dacl_lets_it_in", "outsider")
        .env(broker.env())
        .user(nobody, nobody)
        .spawn();
    assert_eq!(child.expect_line("SECRET"), "ERROR_ACCESS_DENIED");
    assert_eq!(child.expect_line("SHARED"), "opened");
    assert_eq!(child.expect_line("MODIFY"), "ERROR_ACCESS_DENIED");
    child.wait_success();
    // And the broker can say why.
    let report = conn.check_access("Global\\secret", nobody, nobody, vec![]).unwrap();
    assert_eq!(report.granted, switchboard::AccessMask(0));
    assert!(report.steps.is_empty());
    let report = conn.check_access("\\BaseNamedObjects\\shared", nobody, nobody, vec![]).unwrap();
    assert_eq!(report.steps.len(), 1);
    assert_eq!(report.steps[0].ace, "(A;;GX;;;WD)");
}

#[test]
fn dropping_the_last_handle_removes_the_name() {
    let broker = TestBroker::start();
    let conn = broker.connect();
    let e = EventOptions::new().create(&conn, "dropped").unwrap();
    assert!(!e.already_existed);
    drop(e);
    // Requests on one connection are handled in order, so the close is done.
    let err = Event::open(&conn, "dropped", SYNCHRONIZE).unwrap_err();
    assert_eq!(err.win32_error(), Win32Error::ERROR_FILE_NOT_FOUND);
    assert_eq!(err.to_string(), "OpenEvent \"dropped\": no such object (ERROR_FILE_NOT_FOUND)");
}

#[test]
fn a_thread_blocked_in_a_wait_does_not_hold_up_other_requests() {
    let broker = TestBroker::start();
    let conn = broker.connect();
    let e = EventOptions::new().create(&conn, "slow").unwrap().object;
    let waiter = e.try_clone().unwrap();
    let t = std::thread::spawn(move || waiter.wait(Some(Duration::from_secs(20))).unwrap());
    // Meanwhile the same connection keeps serving this thread.
    for i in 0..50 {
        atom::global_add(&conn, &format!("busy{i}")).unwrap();
    }
    e.set().unwrap();
    assert_eq!(t.join().unwrap(), WaitResult::Signaled(0));
}

#[test]
fn wait_for_multiple_reports_the_index_and_times_out() {
    let broker = TestBroker::start();
    let conn = broker.connect();
    let a = EventOptions::new().create(&conn, "wa").unwrap().object;
    let b = EventOptions::new().manual_reset(true).initial_state(true).create(&conn, "wb").unwrap().object;
    assert_eq!(
        switchboard::wait_for_multiple(&[&a, &b], false, Some(Duration::ZERO)).unwrap(),
        WaitResult::Signaled(1)
    );
    assert_eq!(
        switchboard::wait_for_multiple(&[&a, &b], true, Some(Duration::from_millis(50))).unwrap(),
        WaitResult::TimedOut
    );
    a.set().unwrap();
    assert_eq!(switchboard::wait_for_multiple(&[&a, &b], true, None).unwrap(), WaitResult::Signaled(0));
}

#[test]
fn local_and_global_atom_tables_are_separate() {
    let broker = TestBroker::start();
    let conn = broker.connect();
    let local = atom::local_add("Only.Here").unwrap();
    assert_eq!(atom::local_find("ONLY.HERE").unwrap(), local);
    let err = atom::global_find(&conn, "Only.Here").unwrap_err();
    assert_eq!(err.win32_error(), Win32Error::ERROR_FILE_NOT_FOUND);
    assert_eq!(atom::local_name(local).unwrap(), "Only.Here");
    atom::local_delete(local).unwrap();
    assert_eq!(atom::local_find("Only.Here").unwrap_err().win32_error(), Win32Error::ERROR_FILE_NOT_FOUND);
}

#[test]
fn the_shared_connection_is_made_once_per_process() {
    if let Some(_role) = role::current() {
        let a = Connection::shared().unwrap();
        let b = Connection::shared().unwrap();
        role::report(&format!("SAME {}", a.same_as(&b)));
        let e = EventOptions::new().create(&a, "via-shared").unwrap();
        role::report(&format!("CREATED {}", e.already_existed));
        return;
    }
    let broker = TestBroker::start();
    let mut child = Role::new("the_shared_connection_is_made_once_per_process", "user").env(broker.env()).spawn();
    assert_eq!(child.expect_line("SAME"), "true");
    assert_eq!(child.expect_line("CREATED"), "false");
    child.wait_success();
}
