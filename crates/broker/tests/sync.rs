//! Mutexes and semaphores: SEMANTICS.md §3, and abandonment by a thread that
//! exits and by a process that is killed.

use std::sync::Arc;
use std::time::Duration;

use switchboard::access::standard::GENERIC_EXECUTE;
use switchboard::pipe::GENERIC_READ_WRITE;
use switchboard::sync::{MUTEX_MODIFY_STATE, Mutex, SYNCHRONIZE, Semaphore};
use switchboard::{Connection, EventOptions, WaitResult, Win32Error, wait_for_multiple};
use switchboard_testkit::role::{self, Role};
use switchboard_testkit::{TestBroker, eventually};

fn code<T: std::fmt::Debug>(r: switchboard::Result<T>) -> Win32Error {
    r.expect_err("expected an error").win32_error()
}

#[test]
fn the_owner_acquires_recursively_and_releasing_once_too_often_is_not_owner() {
    let broker = TestBroker::start();
    let m = Mutex::create(&broker.connect(), "M", false).unwrap().object;
    for _ in 0..32 {
        assert_eq!(m.acquire(Some(Duration::ZERO)).unwrap(), WaitResult::Signaled(0));
    }
    for _ in 0..32 {
        m.release().unwrap();
    }
    assert_eq!(code(m.release()), Win32Error::ERROR_NOT_OWNER);
}

#[test]
fn another_thread_cannot_release_and_cannot_take_an_owned_mutex() {
    let broker = TestBroker::start();
    let m = Arc::new(Mutex::create(&broker.connect(), "M", true).unwrap().object);
    let other = Arc::clone(&m);
    let (release, acquire) =
        std::thread::spawn(move || (other.release(), other.acquire(Some(Duration::ZERO)))).join().unwrap();
    assert_eq!(code(release), Win32Error::ERROR_NOT_OWNER);
    assert_eq!(acquire.unwrap(), WaitResult::TimedOut);
    m.release().unwrap();
}

#[test]
fn create_with_initial_owner_on_an_existing_name_does_not_grant_ownership() {
    let broker = TestBroker::start();
    let conn = broker.connect();
    let _first = Mutex::create(&conn, "M", false).unwrap();
    let second = std::thread::spawn(move || {
        let created = Mutex::create(&conn, "M", true).unwrap();
        assert!(created.already_existed);
        created.object.release()
    });
    assert_eq!(code(second.join().unwrap()), Win32Error::ERROR_NOT_OWNER);
}

#[test]
fn a_thread_that_ends_holding_a_mutex_abandons_it_to_the_next_waiter() {
    let broker = TestBroker::start();
    let conn = broker.connect();
    let m = Arc::new(Mutex::create(&conn, "M", false).unwrap().object);
    let owner = Arc::clone(&m);
    std::thread::spawn(move || assert_eq!(owner.acquire(None).unwrap(), WaitResult::Signaled(0))).join().unwrap();
    assert_eq!(
        m.acquire(Some(Duration::from_secs(10))).unwrap(),
        WaitResult::Abandoned(0),
        "the waiter learns it was abandoned"
    );
    m.release().unwrap();
    assert_eq!(m.acquire(Some(Duration::ZERO)).unwrap(), WaitResult::Signaled(0), "and only once");
}

#[test]
fn closing_the_handle_does_not_release_ownership() {
    let broker = TestBroker::start();
    let conn = broker.connect();
    let m = Mutex::create(&conn, "M", true).unwrap().object;
    let again = Mutex::open(&conn, "M", SYNCHRONIZE | MUTEX_MODIFY_STATE).unwrap();
    drop(m);
    let waiter = std::thread::spawn({
        let conn = conn.clone();
        move || Mutex::open(&conn, "M", SYNCHRONIZE).unwrap().acquire(Some(Duration::ZERO)).unwrap()
    });
    assert_eq!(waiter.join().unwrap(), WaitResult::TimedOut, "still owned");
    again.release().unwrap();
}

#[test]
fn open_mutex_access_rules() {
    let broker = TestBroker::start();
    let conn = broker.connect();
    let _m = Mutex::create(&conn, "M", false).unwrap();
    assert_eq!(code(Mutex::open(&conn, "M", 0)), Win32Error::ERROR_ACCESS_DENIED);
    let exec = Mutex::open(&conn, "M", GENERIC_EXECUTE).unwrap();
    assert_eq!(exec.acquire(Some(Duration::ZERO)).unwrap(), WaitResult::Signaled(0));
    // ReleaseMutex needs no right but ownership (Wine's server checks none
    // either): the owner releases through a wait-only handle.
    exec.release().unwrap();
    assert_eq!(code(exec.release()), Win32Error::ERROR_NOT_OWNER);
    let rw = Mutex::open(&conn, "M", GENERIC_READ_WRITE).unwrap();
    assert_eq!(code(rw.acquire(Some(Duration::ZERO))), Win32Error::ERROR_ACCESS_DENIED, "no SYNCHRONIZE, no wait");
}

#[test]
fn wait_any_reports_an_abandoned_mutex_at_its_index() {
    let broker = TestBroker::start();
    let conn = broker.connect();
    let e = EventOptions::new().create(&conn, "E").unwrap().object;
    let m = Arc::new(Mutex::create(&conn, "M", false).unwrap().object);
    let owner = Arc::clone(&m);
    std::thread::spawn(move || owner.acquire(None).unwrap()).join().unwrap();
    assert_eq!(
        wait_for_multiple(&[&e, m.as_ref()], false, Some(Duration::from_secs(10))).unwrap(),
        WaitResult::Abandoned(1)
    );
}

#[test]
fn semaphore_counts_follow_the_rules() {
    let broker = TestBroker::start();
    let conn = broker.connect();
    assert_eq!(code(Semaphore::create(&conn, "bad", 3, 2)), Win32Error::ERROR_INVALID_PARAMETER);
    assert_eq!(code(Semaphore::create(&conn, "bad", 0, 0)), Win32Error::ERROR_INVALID_PARAMETER);
    let s = Semaphore::create(&conn, "S", 1, 2).unwrap().object;
    assert_eq!(s.release(1).unwrap(), 1, "the previous count");
    assert_eq!(code(s.release(1)), Win32Error::ERROR_TOO_MANY_POSTS);
    assert_eq!(s.acquire(Some(Duration::ZERO)).unwrap(), WaitResult::Signaled(0));
    assert_eq!(s.acquire(Some(Duration::ZERO)).unwrap(), WaitResult::Signaled(0));
    assert_eq!(s.acquire(Some(Duration::ZERO)).unwrap(), WaitResult::TimedOut, "at 0 waits time out");
    assert_eq!(s.release(2).unwrap(), 0, "the failed release changed nothing");
}

#[test]
fn wait_all_takes_a_mutex_and_a_semaphore_together_or_nothing() {
    let broker = TestBroker::start();
    let conn = broker.connect();
    let m = Mutex::create(&conn, "M", false).unwrap().object;
    let s = Semaphore::create(&conn, "S", 0, 1).unwrap().object;
    assert_eq!(wait_for_multiple(&[&m, &s], true, Some(Duration::ZERO)).unwrap(), WaitResult::TimedOut);
    // Nothing was taken: another thread can still take the mutex.
    let m2 = Mutex::open(&conn, "M", SYNCHRONIZE | MUTEX_MODIFY_STATE).unwrap();
    std::thread::spawn(move || {
        assert_eq!(m2.acquire(Some(Duration::ZERO)).unwrap(), WaitResult::Signaled(0));
        m2.release().unwrap();
    })
    .join()
    .unwrap();
    s.release(1).unwrap();
    assert_eq!(wait_for_multiple(&[&m, &s], true, Some(Duration::ZERO)).unwrap(), WaitResult::Signaled(0));
    m.release().unwrap();
}

#[test]
fn killing_the_owner_gives_exactly_one_of_three_waiters_in_two_processes_an_abandoned_mutex() {
    if let Some(role) = role::current() {
        let conn = Connection::connect().unwrap();
        let m = Arc::new(Mutex::open(&conn, "Global\\shared", SYNCHRONIZE | MUTEX_MODIFY_STATE).unwrap());
        if role == "owner" {
            assert_eq!(m.acquire(None).unwrap(), WaitResult::Signaled(0));
            role::report("OWNED");
            std::thread::sleep(Duration::from_secs(60));
            return;
        }
        let threads: usize = if role == "two" { 2 } else { 1 };
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let m = Arc::clone(&m);
                std::thread::spawn(move || {
                    let got = m.acquire(Some(Duration::from_secs(60))).unwrap();
                    role::report(&format!("GOT {got:?}"));
                    m.release().unwrap();
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        return;
    }
    let broker = TestBroker::start();
    let conn = broker.connect();
    let m = Mutex::create(&conn, "Global\\shared", false).unwrap().object;
    let test = "killing_the_owner_gives_exactly_one_of_three_waiters_in_two_processes_an_abandoned_mutex";
    let mut owner = Role::new(test, "owner").env(broker.env()).spawn();
    owner.expect_line("OWNED");
    let mut one = Role::new(test, "one").env(broker.env()).spawn();
    let mut two = Role::new(test, "two").env(broker.env()).spawn();
    assert!(eventually(Duration::from_secs(30), || conn.show("Global\\shared").unwrap().waiters == 3));
    owner.kill();
    let mut outcomes = vec![one.expect_line("GOT")];
    outcomes.push(two.expect_line("GOT"));
    outcomes.push(two.expect_line("GOT"));
    one.wait_success();
    two.wait_success();
    outcomes.sort();
    assert_eq!(outcomes, ["Abandoned(0)", "Signaled(0)", "Signaled(0)"], "exactly one waiter saw the abandonment");
    assert_eq!(m.acquire(Some(Duration::ZERO)).unwrap(), WaitResult::Signaled(0));
}

#[test]
fn signal_and_wait_hands_over_in_one_step() {
    let broker = TestBroker::start();
    let conn = broker.connect();
    let ping = EventOptions::new().create(&conn, "ping").unwrap().object;
    let pong = EventOptions::new().create(&conn, "pong").unwrap().object;
    let (ping2, pong2) = (ping.try_clone().unwrap(), pong.try_clone().unwrap());
    let other = std::thread::spawn(move || {
        assert_eq!(ping2.wait(Some(Duration::from_secs(20))).unwrap(), WaitResult::Signaled(0));
        pong2.set().unwrap();
    });
    assert_eq!(
        switchboard::signal_and_wait(&ping, &pong, Some(Duration::from_secs(20))).unwrap(),
        WaitResult::Signaled(0)
    );
    other.join().unwrap();
    // A mutex is released by the call, and a semaphore given back by one.
    let m = Mutex::create(&conn, "M", true).unwrap().object;
    let s = Semaphore::create(&conn, "S", 0, 1).unwrap().object;
    assert_eq!(switchboard::signal_and_wait(&m, &pong, Some(Duration::ZERO)).unwrap(), WaitResult::TimedOut);
    assert_eq!(code(m.release()), Win32Error::ERROR_NOT_OWNER, "the call released it");
    assert_eq!(switchboard::signal_and_wait(&s, &s, Some(Duration::ZERO)).unwrap(), WaitResult::Signaled(0));
}
