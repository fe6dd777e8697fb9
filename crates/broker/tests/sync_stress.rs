//! Four processes × 600,000 operations (100,000 iterations of six) on one semaphore and one mutex, with
//! the invariants checked in a shared section: the semaphore never lets
//! more holders in than its maximum, and a counter incremented under the
//! mutex ends exact.

use std::time::Duration;

use switchboard::section::{FILE_MAP_WRITE, Section, SectionOptions, ViewAccess};
use switchboard::sync::{MUTEX_MODIFY_STATE, Mutex, SEMAPHORE_MODIFY_STATE, SYNCHRONIZE, Semaphore};
use switchboard::{Connection, WaitResult};
use switchboard_testkit::TestBroker;
use switchboard_testkit::role::{self, Role};

const PROCESSES: usize = 4;
/// Each iteration is six operations: semaphore wait, two mutex acquire and
/// release pairs, semaphore release.
const ITERATIONS: u64 = 100_000;
const MAXIMUM: i32 = 2;

fn read_u64(view: &switchboard::section::View, at: usize) -> u64 {
    let mut b = [0u8; 8];
    view.read_at(at, &mut b).unwrap();
    u64::from_le_bytes(b)
}

fn write_u64(view: &switchboard::section::View, at: usize, v: u64) {
    view.write_at(at, &v.to_le_bytes()).unwrap();
}

fn worker() {
    let conn = Connection::connect().unwrap();
    let m = Mutex::open(&conn, "stress.mutex", SYNCHRONIZE | MUTEX_MODIFY_STATE).unwrap();
    let s = Semaphore::open(&conn, "stress.semaphore", SYNCHRONIZE | SEMAPHORE_MODIFY_STATE).unwrap();
    let view =
        Section::open(&conn, "stress.section", FILE_MAP_WRITE).unwrap().map_view(ViewAccess::Write, 0, 0).unwrap();
    let locked = |f: &dyn Fn()| {
        assert_eq!(m.acquire(Some(Duration::from_secs(60))).unwrap(), WaitResult::Signaled(0));
        f();
        m.release().unwrap();
    };
    for _ in 0..ITERATIONS {
        assert_eq!(s.acquire(Some(Duration::from_secs(60))).unwrap(), WaitResult::Signaled(0));
        locked(&|| {
            let holders = read_u64(&view, 8) + 1;
            assert!(holders <= MAXIMUM as u64, "{holders} holders of a semaphore of {MAXIMUM}");
            write_u64(&view, 8, holders);
            write_u64(&view, 0, read_u64(&view, 0) + 1);
        });
        locked(&|| write_u64(&view, 8, read_u64(&view, 8) - 1));
        s.release(1).unwrap();
    }
    role::report("DONE");
}

#[test]
fn four_processes_hammer_one_semaphore_and_one_mutex_and_the_invariants_hold() {
    if role::current().is_some() {
        return worker();
    }
    let broker = TestBroker::start();
    let conn = broker.connect();
    let _m = Mutex::create(&conn, "stress.mutex", false).unwrap();
    let _s = Semaphore::create(&conn, "stress.semaphore", MAXIMUM, MAXIMUM).unwrap();
    let section = SectionOptions::new(4096).create(&conn, "stress.section").unwrap().object;
    let children: Vec<_> = (0..PROCESSES)
        .map(|i| {
            Role::new("four_processes_hammer_one_semaphore_and_one_mutex_and_the_invariants_hold", &i.to_string())
                .env(broker.env())
                .spawn()
        })
        .collect();
    for mut child in children {
        child.expect_line("DONE");
        child.wait_success();
    }
    let view = section.map_view(ViewAccess::Read, 0, 0).unwrap();
    assert_eq!(read_u64(&view, 0), PROCESSES as u64 * ITERATIONS, "the counter under the mutex is exact");
    assert_eq!(read_u64(&view, 8), 0, "every holder left");
}
