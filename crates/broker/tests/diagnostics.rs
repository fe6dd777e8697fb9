//! Diagnostics across users (issue 12, "the trust boundary"): names are for
//! everyone, as Windows lets anyone enumerate `\BaseNamedObjects`; handles,
//! security descriptors, states, holders and mailslot queues are for root,
//! the same user, or whoever the object's DACL grants `READ_CONTROL`. The
//! broker's log is its owner's alone.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use switchboard::mailslot::{self, MailslotOptions};
use switchboard::{ConnectOptions, Connection, EventOptions};
use switchboard_testkit::role::{self, Role};
use switchboard_testkit::{TestBroker, eventually};

const BROKER: &str = env!("CARGO_BIN_EXE_switchboardd");
const NOBODY: u32 = 65_534;

/// Reports `what ok` or `what <error code>`.
fn report<T>(what: &str, r: &switchboard::Result<T>) {
    match r {
        Ok(_) => role::report(&format!("{what} ok")),
        Err(e) => role::report(&format!("{what} {:?}", e.win32_error())),
    }
}

/// A broker open to every user, or `None` (with a message) when this test
/// cannot run a child under another uid.
fn shared_broker() -> Option<TestBroker> {
    if !switchboard_testkit::is_root() {
        eprintln!("skipped: running a child under another uid needs root");
        return None;
    }
    let broker = TestBroker::start();
    broker.open_to_all_users();
    Some(broker)
}

#[test]
fn another_user_lists_its_own_handles_but_none_of_roots() {
    if role::current().is_some() {
        let conn = Connection::connect().unwrap();
        let own = EventOptions::new().create(&conn, "Global\\outsiders").unwrap();
        let all = conn.handles(None).unwrap();
        role::report(&format!("OTHERS {}", all.iter().filter(|h| h.uid != NOBODY).count()));
        let own_handle = own.object.handle().raw();
        let mine = conn.handles(Some(std::process::id())).unwrap();
        role::report(&format!("OWN {}", mine.iter().any(|h| h.handle == own_handle && h.uid == NOBODY)));
        let root_pid: u32 = std::env::var("ROOT_PID").unwrap().parse().unwrap();
        role::report(&format!("ROOTS {}", conn.handles(Some(root_pid)).unwrap().len()));
        return;
    }
    let Some(broker) = shared_broker() else { return };
    let conn = broker.connect();
    let _private = EventOptions::new().create(&conn, "Global\\private").unwrap();
    assert!(!conn.handles(Some(std::process::id())).unwrap().is_empty());
    let mut child = Role::new("another_user_lists_its_own_handles_but_none_of_roots", "outsider")
        .env(broker.env())
        .var("ROOT_PID", &std::process::id().to_string())
        .user(NOBODY, NOBODY)
        .spawn();
    assert_eq!(child.expect_line("OTHERS"), "0");
    assert_eq!(child.expect_line("OWN"), "true");
    assert_eq!(child.expect_line("ROOTS"), "0");
    child.wait_success();
}

#[test]
fn another_user_may_show_and_check_only_objects_whose_dacl_grants_it_read_control() {
    if role::current().is_some() {
        let conn = Connection::connect().unwrap();
        let private = conn.show("Global\\private");
        report("SHOW-PRIVATE", &private);
        let reason = private.as_ref().err().map(|e| e.reason().to_owned()).unwrap_or_default();
        role::report(&format!("REASON {}", reason.contains("private") && reason.contains("READ_CONTROL")));
        let readable = conn.show("Global\\readable");
        report("SHOW-READABLE", &readable);
        // Root's handle on it is root's business.
        role::report(&format!("HOLDERS {}", readable.map_or(usize::MAX, |i| i.holders.len())));
        report("ACCESS-PRIVATE", &conn.check_access("Global\\private", NOBODY, NOBODY, vec![]));
        report("ACCESS-READABLE", &conn.check_access("Global\\readable", NOBODY, NOBODY, vec![]));
        let listing = conn.list_directory("\\BaseNamedObjects").unwrap();
        let handles = |name: &str| listing.iter().find(|e| e.name == name).map(|e| e.handles);
        role::report(&format!("LS-PRIVATE {:?}", handles("private")));
        role::report(&format!("LS-READABLE {:?}", handles("readable")));
        return;
    }
    let Some(broker) = shared_broker() else { return };
    let conn = broker.connect();
    let _private = EventOptions::new().create(&conn, "Global\\private").unwrap();
    let _readable =
        EventOptions::new().security("D:(A;;GA;;;OW)(A;;RC;;;WD)").create(&conn, "Global\\readable").unwrap();
    let mut child =
        Role::new("another_user_may_show_and_check_only_objects_whose_dacl_grants_it_read_control", "outsider")
            .env(broker.env())
            .user(NOBODY, NOBODY)
            .spawn();
    assert_eq!(child.expect_line("SHOW-PRIVATE"), "ERROR_ACCESS_DENIED");
    assert_eq!(child.expect_line("REASON"), "true", "the refusal names the object and the right");
    assert_eq!(child.expect_line("SHOW-READABLE"), "ok");
    assert_eq!(child.expect_line("HOLDERS"), "0");
    assert_eq!(child.expect_line("ACCESS-PRIVATE"), "ERROR_ACCESS_DENIED");
    assert_eq!(child.expect_line("ACCESS-READABLE"), "ok");
    // Names stay visible to everyone; the handle count only where the DACL says so.
    assert_eq!(child.expect_line("LS-PRIVATE"), "Some(None)");
    assert_eq!(child.expect_line("LS-READABLE"), "Some(Some(1))");
    child.wait_success();
    // Root sees everything, every holder included.
    assert_eq!(conn.show("Global\\private").unwrap().holders.len(), 1);
}

#[test]
fn another_users_mailslot_lists_by_name_only_and_cannot_be_queried() {
    const ROOTS: &str = r"\\.\mailslot\diag\roots";
    const OWN: &str = r"\\.\mailslot\diag\outsiders";
    if role::current().is_some() {
        let conn = Connection::connect().unwrap();
        report("QUERY-ROOTS", &mailslot::query(&conn, ROOTS));
        let _own = MailslotOptions::new().create(&conn, OWN).unwrap();
        report("QUERY-OWN", &mailslot::query(&conn, OWN));
        let listing = mailslot::list(&conn).unwrap();
        for m in listing {
            role::report(&format!("LISTED {} {:?} {:?} {:?}", m.name, m.max_message_size, m.writers, m.reader_pid));
        }
        role::report("LISTED end");
        return;
    }
    let Some(broker) = shared_broker() else { return };
    let conn = broker.connect();
    let _roots = MailslotOptions::new().max_message_size(100).create(&conn, ROOTS).unwrap();
    let mut child = Role::new("another_users_mailslot_lists_by_name_only_and_cannot_be_queried", "outsider")
        .env(broker.env())
        .user(NOBODY, NOBODY)
        .spawn();
    let child_pid = child.pid();
    assert_eq!(child.expect_line("QUERY-ROOTS"), "ERROR_ACCESS_DENIED");
    assert_eq!(child.expect_line("QUERY-OWN"), "ok");
    assert_eq!(child.expect_line("LISTED"), format!(r"diag\outsiders Some(0) Some(0) Some({child_pid})"));
    assert_eq!(child.expect_line("LISTED"), r"diag\roots None None None");
    assert_eq!(child.expect_line("LISTED"), "end");
    child.wait_success();
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn the_background_brokers_log_is_readable_by_its_owner_only_even_when_it_existed() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("logged.sock");
    let log = dir.path().join("logged.sock.log");
    std::fs::write(&log, "an earlier run\n").unwrap();
    std::fs::set_permissions(&log, std::fs::Permissions::from_mode(0o644)).unwrap();
    let started = Command::new(BROKER)
        .arg("--socket")
        .arg(&socket)
        .env("SWITCHBOARD_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(started.status.success(), "{}", String::from_utf8_lossy(&started.stderr));
    let conn = ConnectOptions::new().socket(&socket).autostart(false).connect().unwrap();
    let logged = mode(&log);
    conn.shutdown_broker().unwrap();
    assert!(eventually(Duration::from_secs(10), || !socket.exists()), "the broker did not stop");
    assert_eq!(logged, 0o600);
    assert!(std::fs::read_to_string(&log).unwrap().starts_with("an earlier run\n"), "the old log is kept");
}
