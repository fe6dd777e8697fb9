//! Model checks of the shared-memory state machine of events, mutexes and
//! semaphores ([`switchboard_types::syncstate`]): loom runs every
//! interleaving of the threads below (within its bounds) and each assertion
//! must hold in all of them.
//!
//! Run with `RUSTFLAGS="--cfg loom" cargo test -p switchboard-types --test loom --release`
//! (`scripts/test` does).
#![cfg(loom)]

use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use loom::thread;
use switchboard_types::syncstate::{Shape, Slot, Step, Taken, event_state, mutex_state, try_take_all};

const AUTO: Shape = Shape::Event { manual_reset: false };

/// Retries a step while a wait-all holds the word.
fn settle<T>(mut f: impl FnMut() -> Step<T>) -> Step<T> {
    loop {
        match f() {
            Step::Locked => thread::yield_now(),
            other => return other,
        }
    }
}

/// A waiter that counts itself in, tries again and decides to sleep can
/// never miss the wake of a set that changes the state it sleeps on: either
/// its last try sees the set, or the setter sees it counted and wakes it.
#[test]
fn a_sleeping_waiter_is_never_missed_by_a_set() {
    loom::model(|| {
        let e = Arc::new(Slot::new(event_state(false), 0));
        let waiter = {
            let e = e.clone();
            thread::spawn(move || {
                match e.try_take(AUTO, 7, None).unwrap() {
                    Step::Done(_) => return None,
                    Step::Blocked(_) | Step::Locked => {}
                }
                e.begin_sleep();
                match e.try_take(AUTO, 7, None).unwrap() {
                    Step::Done(_) => None,
                    Step::Blocked(seen) => Some(seen),
                    Step::Locked => unreachable!("nobody locks in this model"),
                }
            })
        };
        let changed = match e.set() {
            Step::Done(changed) => changed,
            other => panic!("set: {other:?}"),
        };
        if let Some(seen) = waiter.join().unwrap() {
            // The futex wait compares `seen` with the state: if they differ it
            // returns at once; if they match, the set came later and must wake.
            assert!(e.state() != seen || changed.wake, "a sleeper would miss the set");
            assert!(changed.wake, "the set happened after the waiter counted itself in");
        }
    });
}

/// One set of an auto-reset event satisfies exactly one of two waits.
#[test]
fn one_set_of_an_auto_reset_event_releases_exactly_one_wait() {
    loom::model(|| {
        let e = Arc::new(Slot::new(event_state(false), 0));
        let takers: Vec<_> = [1, 2]
            .into_iter()
            .map(|me| {
                let e = e.clone();
                thread::spawn(move || {
                    let mut taken = 0;
                    for _ in 0..2 {
                        if let Step::Done(_) = e.try_take(AUTO, me, None).unwrap() {
                            taken += 1;
                        }
                        thread::yield_now();
                    }
                    taken
                })
            })
            .collect();
        let _ = e.set();
        let total: i32 = takers.into_iter().map(|t| t.join().unwrap()).sum();
        let left = e.state() & 1;
        assert_eq!(total + left as i32, 1, "the one signal is taken once or still there");
    });
}

/// A wait-all on {auto-reset event, semaphore} races a single wait on the
/// event and a release of the semaphore: the event is taken at most once,
/// and the semaphore is consumed only when the wait-all took everything.
#[test]
fn wait_all_consumes_nothing_unless_it_takes_everything() {
    loom::model(|| {
        let e = Arc::new(Slot::new(event_state(true), 0));
        let s = Arc::new(Slot::new(0, 0));
        let sem = Shape::Semaphore { maximum: 1 };
        let all = {
            let (e, s) = (e.clone(), s.clone());
            thread::spawn(move || {
                let slots = [(&*e, AUTO), (&*s, sem)];
                let mut seen = [0; 2];
                matches!(settle(|| try_take_all(&slots, &[0, 1], 9, &mut seen).unwrap()), Step::Done(_))
            })
        };
        let single = {
            let e = e.clone();
            thread::spawn(move || matches!(settle(|| e.try_take(AUTO, 5, None).unwrap()), Step::Done(_)))
        };
        let released = settle(|| s.release_semaphore(1, 1).unwrap());
        assert!(matches!(released, Step::Done(_)));
        let (all, single) = (all.join().unwrap(), single.join().unwrap());
        assert!(!(all && single), "the event was taken twice");
        assert_eq!(s.state(), if all { 0 } else { 1 }, "the semaphore moved without the event");
        assert_eq!(e.state() & 1 == 1, !(all || single), "the event's signal was lost or duplicated");
        assert_eq!((e.lock_holder(), s.lock_holder()), (0, 0), "a lock was left behind");
    });
}

/// Two threads taking and releasing one mutex never hold it together, and
/// the mutex ends free.
#[test]
fn mutex_excludes() {
    loom::model(|| {
        let m = Arc::new(Slot::new(mutex_state(None), 0));
        let inside = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = [3, 4]
            .into_iter()
            .map(|me| {
                let (m, inside) = (m.clone(), inside.clone());
                thread::spawn(move || {
                    loop {
                        match m.try_take(Shape::Mutex, me, None).unwrap() {
                            Step::Done(taken) => {
                                assert_eq!(taken, Taken::Normal);
                                break;
                            }
                            _ => thread::yield_now(),
                        }
                    }
                    assert_eq!(inside.fetch_add(1, SeqCst), 0, "two owners at once");
                    inside.fetch_sub(1, SeqCst);
                    assert!(matches!(m.release_mutex(me).unwrap(), Step::Done(_)));
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(m.state(), 0);
    });
}

/// The broker abandoning a dead owner's mutex races a waiter: the waiter
/// gets it exactly once, with `Abandoned`.
#[test]
fn abandonment_hands_the_mutex_to_one_waiter() {
    loom::model(|| {
        let m = Arc::new(Slot::new(mutex_state(Some(8)), 1));
        let waiter = {
            let m = m.clone();
            thread::spawn(move || {
                loop {
                    match m.try_take(Shape::Mutex, 3, None).unwrap() {
                        Step::Done(taken) => return taken,
                        _ => thread::yield_now(),
                    }
                }
            })
        };
        let abandoned = m.abandon_if(|owner| owner == 8);
        assert!(matches!(abandoned, Step::Done(c) if c.previous));
        assert_eq!(waiter.join().unwrap(), Taken::Abandoned);
        assert_eq!(m.recursion(), 1);
    });
}
