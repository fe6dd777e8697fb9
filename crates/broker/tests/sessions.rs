//! Each user is its own logon session (issue 12, item 11): `Local\` names
//! and global atoms are per user, `Global\` names stay shared.
//!
//! Every test runs a child under uid 65534 (nobody) against a broker started
//! by root, so each skips with a message when not run as root.

use switchboard::atom::{self, Atom};
use switchboard::event::access::SYNCHRONIZE;
use switchboard::{Connection, Event, EventOptions, Win32Error};
use switchboard_testkit::TestBroker;
use switchboard_testkit::role::{self, Role};

const NOBODY: u32 = 65_534;
/// A DACL letting everyone in: only the session directory can keep the
/// other user out of an object created with it.
const EVERYONE: &str = "D:(A;;GA;;;WD)";

fn outcome<T>(r: switchboard::Result<T>, ok: impl FnOnce(T) -> String) -> String {
    match r {
        Ok(v) => ok(v),
        Err(e) => format!("{:?}", e.win32_error()),
    }
}

fn may_switch_user() -> bool {
    if switchboard_testkit::is_root() {
        return true;
    }
    eprintln!("skipped: running a child under another uid needs root");
    false
}

fn outsider(test: &str, broker: &TestBroker) -> Role {
    Role::new(test, "outsider").env(broker.env()).user(NOBODY, NOBODY)
}

#[test]
fn another_user_creating_a_local_name_root_took_gets_an_object_of_its_own_while_global_names_stay_shared() {
    const TEST: &str =
        "another_user_creating_a_local_name_root_took_gets_an_object_of_its_own_while_global_names_stay_shared";
    if role::current().is_some() {
        let conn = Connection::connect().unwrap();
        let create = |name: &str| EventOptions::new().security(EVERYONE).create(&conn, name);
        let local = create("Local\\squat");
        let said = match &local {
            Ok(created) => format!("existed {}", created.already_existed),
            Err(e) => format!("{:?}", e.win32_error()),
        };
        role::report(&format!("LOCAL {said}"));
        let plain = outcome(Event::open(&conn, "squat", SYNCHRONIZE), |_| "opened".to_owned());
        role::report(&format!("PLAIN {plain}"));
        let global = create("Global\\shared");
        role::report(&format!("GLOBAL {}", outcome(global.map(|c| c.already_existed), |e| format!("existed {e}"))));
        // Signalling its own Local\squat must not touch root's.
        if let Ok(created) = local {
            created.object.set().unwrap();
        }
        return;
    }
    if !may_switch_user() {
        return;
    }
    let broker = TestBroker::start();
    broker.open_to_all_users();
    let conn = broker.connect();
    let squat = EventOptions::new().manual_reset(true).security(EVERYONE).create(&conn, "Local\\squat").unwrap();
    assert!(!squat.already_existed);
    let _shared = EventOptions::new().security(EVERYONE).create(&conn, "Global\\shared").unwrap();
    let mut child = outsider(TEST, &broker).spawn();
    assert_eq!(child.expect_line("LOCAL"), "existed false", "the other user reached root's Local\\squat");
    assert_eq!(child.expect_line("PLAIN"), "opened", "an unprefixed name is the user's Local\\ one");
    assert_eq!(child.expect_line("GLOBAL"), "existed true", "Global\\ names are shared by every user");
    child.wait_success();
    assert_eq!(
        squat.object.wait(Some(std::time::Duration::ZERO)).unwrap(),
        switchboard::WaitResult::TimedOut,
        "the other user's event is not root's"
    );
}

#[test]
fn another_user_cannot_open_or_create_in_roots_session_even_through_its_path() {
    const TEST: &str = "another_user_cannot_open_or_create_in_roots_session_even_through_its_path";
    if role::current().is_some() {
        let conn = Connection::connect().unwrap();
        let opened = |name: &str| outcome(Event::open(&conn, name, SYNCHRONIZE), |_| "opened".to_owned());
        role::report(&format!("LOCAL {}", opened("Local\\private")));
        role::report(&format!("THROUGH {}", opened("Session\\0\\private")));
        role::report(&format!("GLOBAL-THROUGH {}", opened("Global\\Session\\0\\private")));
        let planted = EventOptions::new().create(&conn, "Session\\0\\planted").map(|_| ());
        role::report(&format!("PLANT {}", outcome(planted, |()| "created".to_owned())));
        return;
    }
    if !may_switch_user() {
        return;
    }
    let broker = TestBroker::start();
    broker.open_to_all_users();
    let conn = broker.connect();
    let _private = EventOptions::new().security(EVERYONE).create(&conn, "Local\\private").unwrap();
    // Root reaches its own session through the same path.
    Event::open(&conn, "Session\\0\\private", SYNCHRONIZE).unwrap();
    let mut child = outsider(TEST, &broker).spawn();
    assert_eq!(child.expect_line("LOCAL"), "ERROR_FILE_NOT_FOUND", "the other user's own session is empty");
    assert_eq!(child.expect_line("THROUGH"), "ERROR_ACCESS_DENIED");
    assert_eq!(child.expect_line("GLOBAL-THROUGH"), "ERROR_ACCESS_DENIED");
    assert_eq!(child.expect_line("PLANT"), "ERROR_ACCESS_DENIED");
    child.wait_success();
    let planted = Event::open(&conn, "planted", SYNCHRONIZE).map(|_| ()).unwrap_err().win32_error();
    assert_eq!(planted, Win32Error::ERROR_FILE_NOT_FOUND, "nothing was planted in root's session");
}

#[test]
fn global_atoms_of_another_user_are_neither_found_nor_deleted() {
    const TEST: &str = "global_atoms_of_another_user_are_neither_found_nor_deleted";
    if role::current().is_some() {
        let conn = Connection::connect().unwrap();
        let roots: u16 = std::env::var("ROOTS_ATOM").unwrap().parse().unwrap();
        role::report(&format!("FIND {}", outcome(atom::global_find(&conn, "mine"), |a| a.to_string())));
        let own = atom::global_add(&conn, "mine").unwrap();
        role::report(&format!("NAME {}", outcome(atom::global_name(&conn, own), |n| n)));
        atom::global_delete(&conn, own).unwrap();
        role::report(&format!("GONE {}", outcome(atom::global_find(&conn, "mine"), |a| a.to_string())));
        let deleted = atom::global_delete(&conn, Atom(roots));
        role::report(&format!("DELETE {}", outcome(deleted, |()| "deleted".to_owned())));
        role::report(&format!("LIST {}", atom::global_list(&conn).unwrap().len()));
        return;
    }
    if !may_switch_user() {
        return;
    }
    let broker = TestBroker::start();
    broker.open_to_all_users();
    let conn = broker.connect();
    let mine = atom::global_add(&conn, "Mine").unwrap();
    let mut child = outsider(TEST, &broker).var("ROOTS_ATOM", &mine.0.to_string()).spawn();
    assert_eq!(child.expect_line("FIND"), "ERROR_FILE_NOT_FOUND", "root's atom is not in the other user's table");
    assert_eq!(child.expect_line("NAME"), "mine", "the other user's atom keeps its own spelling");
    assert_eq!(child.expect_line("GONE"), "ERROR_FILE_NOT_FOUND", "its own atom went with its own delete");
    assert_eq!(child.expect_line("DELETE"), "ERROR_INVALID_HANDLE", "root's atom is no handle in its table");
    assert_eq!(child.expect_line("LIST"), "0");
    child.wait_success();
    assert_eq!(atom::global_find(&conn, "MINE").unwrap(), mine);
    assert_eq!(atom::global_name(&conn, mine).unwrap(), "Mine");
    let listed = atom::global_list(&conn).unwrap();
    assert_eq!(listed.iter().map(|e| (e.name.as_str(), e.refs)).collect::<Vec<_>>(), [("Mine", 1)]);
}
