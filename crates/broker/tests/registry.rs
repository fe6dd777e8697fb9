//! The registry through the broker: SEMANTICS.md §6 between real processes,
//! durability across a broker restart, and access control.

use switchboard::registry::access::{KEY_QUERY_VALUE, KEY_READ, KEY_SET_VALUE};
use switchboard::registry::{CreateOptions, RawValue, RegKey, RegValue, RootKey};
use switchboard::{Connection, Win32Error};
use switchboard_testkit::TestBroker;
use switchboard_testkit::role::{self, Role};

fn code<T: std::fmt::Debug>(r: switchboard::Result<T>) -> Win32Error {
    r.expect_err("expected an error").win32_error()
}

#[test]
fn a_value_set_by_one_process_is_read_by_another_with_its_type_and_bytes() {
    if role::current().is_some() {
        let conn = Connection::connect().unwrap();
        let key = RegKey::open(&conn, RootKey::CurrentUser, r"SOFTWARE\switchboard test", KEY_READ).unwrap();
        for (name, value) in key.values().unwrap() {
            role::report(&format!("VALUE {name} {} {:?}", value.kind, value.data));
        }
        role::report(&format!("LEVEL {:?}", key.value("level").unwrap()));
        return;
    }
    let broker = TestBroker::start();
    let conn = broker.connect();
    let created =
        RegKey::create(&conn, RootKey::CurrentUser, r"Software\Switchboard Test", &CreateOptions::new()).unwrap();
    assert!(!created.already_existed);
    let key = created.object;
    key.set_value("Level", &RegValue::Dword(7)).unwrap();
    key.set_raw("Odd", RawValue { kind: 0x99, data: vec![1, 2, 3] }).unwrap();
    let mut child = Role::new("a_value_set_by_one_process_is_read_by_another_with_its_type_and_bytes", "reader")
        .env(broker.env())
        .spawn();
    assert_eq!(child.expect_line("VALUE"), "Level 4 [7, 0, 0, 0]");
    assert_eq!(child.expect_line("VALUE"), "Odd 153 [1, 2, 3]");
    assert_eq!(child.expect_line("LEVEL"), "Dword(7)");
    child.wait_success();
    let again =
        RegKey::create(&conn, RootKey::CurrentUser, r"software\SWITCHBOARD TEST", &CreateOptions::new()).unwrap();
    assert!(again.already_existed, "REG_OPENED_EXISTING_KEY");
}

#[test]
fn stable_keys_survive_a_broker_restart_and_volatile_ones_do_not() {
    let mut broker = TestBroker::start();
    {
        let conn = broker.connect();
        let app = RegKey::create(&conn, RootKey::LocalMachine, r"Software\App", &CreateOptions::new()).unwrap().object;
        app.set_value("", &RegValue::Sz("default".into())).unwrap();
        let vol = app.create_subkey("Session", &CreateOptions::new().volatile(true)).unwrap().object;
        vol.set_value("pid", &RegValue::Dword(1)).unwrap();
        assert_eq!(code(vol.create_subkey("Stable", &CreateOptions::new())), Win32Error::ERROR_CHILD_MUST_BE_VOLATILE);
        assert_eq!(app.subkeys().unwrap(), ["Session"]);
    }
    broker.restart();
    let conn = broker.connect();
    let app = RegKey::open(&conn, RootKey::LocalMachine, r"SOFTWARE\APP", KEY_READ).unwrap();
    assert_eq!(app.value("").unwrap(), RegValue::Sz("default".into()));
    assert!(app.subkeys().unwrap().is_empty(), "the volatile key went with the broker");
}

#[test]
fn deletes_follow_the_windows_rules() {
    let broker = TestBroker::start();
    let conn = broker.connect();
    let root = RegKey::create(&conn, RootKey::CurrentUser, "T", &CreateOptions::new()).unwrap().object;
    let child = root.create_subkey(r"A\B", &CreateOptions::new()).unwrap().object;
    assert_eq!(code(root.delete_subkey("A")), Win32Error::ERROR_ACCESS_DENIED, "a key with subkeys");
    root.delete_tree("A").unwrap();
    assert_eq!(code(child.set_value("x", &RegValue::Dword(1))), Win32Error::ERROR_KEY_DELETED);
    assert_eq!(code(root.open_subkey("A", KEY_READ)), Win32Error::ERROR_FILE_NOT_FOUND);
    root.set_value("v", &RegValue::Dword(1)).unwrap();
    root.delete_value("V").unwrap();
    assert_eq!(code(root.delete_value("v")), Win32Error::ERROR_FILE_NOT_FOUND);
    assert_eq!(code(root.value("v")), Win32Error::ERROR_FILE_NOT_FOUND);
    RegKey::delete(&conn, RootKey::CurrentUser, "T", false).unwrap();
    assert_eq!(code(RegKey::open(&conn, RootKey::CurrentUser, "T", KEY_READ)), Win32Error::ERROR_FILE_NOT_FOUND);
}

#[test]
fn a_handle_does_only_what_its_access_allows_and_info_counts() {
    let broker = TestBroker::start();
    let conn = broker.connect();
    let key = RegKey::create(&conn, RootKey::CurrentUser, "K", &CreateOptions::new()).unwrap().object;
    key.set_value("a value name", &RegValue::Binary(vec![0; 50])).unwrap();
    key.create_subkey("sub", &CreateOptions::new()).unwrap();
    let reader = RegKey::open(&conn, RootKey::CurrentUser, "K", KEY_QUERY_VALUE).unwrap();
    assert_eq!(code(reader.set_value("x", &RegValue::Dword(1))), Win32Error::ERROR_ACCESS_DENIED);
    assert_eq!(code(reader.subkeys()), Win32Error::ERROR_ACCESS_DENIED);
    let writer = RegKey::open(&conn, RootKey::CurrentUser, "K", KEY_SET_VALUE).unwrap();
    assert_eq!(code(writer.value("a value name")), Win32Error::ERROR_ACCESS_DENIED);
    let info = reader.info().unwrap();
    assert_eq!(info.path, r"HKEY_CURRENT_USER\K");
    assert_eq!((info.subkeys, info.values, info.max_value_name, info.max_value_data), (1, 1, 12, 50));
    assert!(!info.volatile);
    assert_eq!(code(RegKey::open(&conn, RootKey::CurrentConfig, "x", KEY_READ)), Win32Error::ERROR_NOT_SUPPORTED);
}

#[test]
fn classes_root_merges_the_users_classes_over_the_machines() {
    let broker = TestBroker::start();
    let conn = broker.connect();
    let create = |root, path: &str| RegKey::create(&conn, root, path, &CreateOptions::new()).unwrap().object;
    let machine = create(RootKey::LocalMachine, r"Software\Classes\.txt");
    machine.set_value("", &RegValue::Sz("txtfile".into())).unwrap();
    machine.set_value("PerceivedType", &RegValue::Sz("text".into())).unwrap();
    create(RootKey::LocalMachine, r"Software\Classes\MachineOnly");
    let user = create(RootKey::CurrentUser, r"Software\Classes\.txt");
    user.set_value("Content Type", &RegValue::Sz("text/plain".into())).unwrap();
    create(RootKey::CurrentUser, r"Software\Classes\UserOnly");

    let txt = RegKey::open(&conn, RootKey::ClassesRoot, ".TXT", KEY_READ | KEY_SET_VALUE).unwrap();
    assert_eq!(txt.value("").unwrap(), RegValue::Sz("txtfile".into()), "the machine's value shows through");
    assert_eq!(txt.value("content type").unwrap(), RegValue::Sz("text/plain".into()));
    let classes = RegKey::open(&conn, RootKey::ClassesRoot, "", KEY_READ).unwrap();
    assert_eq!(classes.subkeys().unwrap(), [".txt", "MachineOnly", "UserOnly"]);

    // The user's copy exists, so writes go there and win over the machine's.
    txt.set_value("", &RegValue::Sz("mytxt".into())).unwrap();
    assert_eq!(txt.value("").unwrap(), RegValue::Sz("mytxt".into()));
    assert_eq!(machine.value("").unwrap(), RegValue::Sz("txtfile".into()), "the machine's copy is untouched");
    assert_eq!(txt.info().unwrap().values, 3);
    // A new classes key goes to the machine's Software\Classes.
    RegKey::create(&conn, RootKey::ClassesRoot, ".new", &CreateOptions::new()).unwrap();
    RegKey::open(&conn, RootKey::LocalMachine, r"Software\Classes\.new", KEY_READ).unwrap();
    assert_eq!(
        code(RegKey::open(&conn, RootKey::CurrentUser, r"Software\Classes\.new", KEY_READ)),
        Win32Error::ERROR_FILE_NOT_FOUND
    );
    // Below a key the user has its own copy of, it goes to the user's.
    RegKey::create(&conn, RootKey::ClassesRoot, r".txt\ShellNew", &CreateOptions::new()).unwrap();
    RegKey::open(&conn, RootKey::CurrentUser, r"Software\Classes\.txt\ShellNew", KEY_READ).unwrap();
}

#[test]
fn another_user_has_its_own_current_user_and_needs_the_dacl_for_the_machine_hive() {
    if role::current().is_some() {
        let conn = Connection::connect().unwrap();
        let report = |what: &str, r: switchboard::Result<()>| match r {
            Ok(()) => role::report(&format!("{what} ok")),
            Err(e) => role::report(&format!("{what} {:?}", e.win32_error())),
        };
        report("OWN", RegKey::open(&conn, RootKey::CurrentUser, "Mine", KEY_READ).map(drop));
        report("PRIVATE", RegKey::open(&conn, RootKey::LocalMachine, "Private", KEY_READ).map(drop));
        report("SHARED", RegKey::open(&conn, RootKey::LocalMachine, "Shared", KEY_READ).map(drop));
        report("WRITE", RegKey::open(&conn, RootKey::LocalMachine, "Shared", KEY_SET_VALUE).map(drop));
        return;
    }
    if !switchboard_testkit::is_root() {
        eprintln!("skipped: running a child under another uid needs root");
        return;
    }
    let broker = TestBroker::start();
    broker.open_to_all_users();
    let conn = broker.connect();
    RegKey::create(&conn, RootKey::CurrentUser, "Mine", &CreateOptions::new()).unwrap();
    RegKey::create(&conn, RootKey::LocalMachine, "Private", &CreateOptions::new()).unwrap();
    let readable = CreateOptions::new().security("D:(A;;KA;;;OW)(A;;KR;;;WD)");
    RegKey::create(&conn, RootKey::LocalMachine, "Shared", &readable).unwrap();
    let mut child = Role::new("another_user_has_its_own_current_user_and_needs_the_dacl_for_the_machine_hive", "other")
        .env(broker.env())
        .user(65_534, 65_534)
        .spawn();
    assert_eq!(child.expect_line("OWN"), "ERROR_FILE_NOT_FOUND", "its HKCU is its own, and empty");
    assert_eq!(child.expect_line("PRIVATE"), "ERROR_ACCESS_DENIED");
    assert_eq!(child.expect_line("SHARED"), "ok");
    assert_eq!(child.expect_line("WRITE"), "ERROR_ACCESS_DENIED");
    child.wait_success();
}

mod notifications {
    use std::time::Duration;

    use switchboard::registry::access::{KEY_NOTIFY, KEY_QUERY_VALUE};
    use switchboard::registry::notify::{REG_NOTIFY_CHANGE_LAST_SET, REG_NOTIFY_CHANGE_NAME};
    use switchboard::registry::{CreateOptions, RegKey, RegValue, RootKey};
    use switchboard::{Connection, EventOptions, WaitResult, Win32Error};
    use switchboard_testkit::TestBroker;
    use switchboard_testkit::role::{self, Role};

    use super::code;

    fn signaled(event: &switchboard::Event) -> bool {
        event.wait(Some(Duration::ZERO)).unwrap() != WaitResult::TimedOut
    }

    #[test]
    fn a_notification_fires_once_for_a_matching_change_of_its_own_key() {
        let broker = TestBroker::start();
        let conn = broker.connect();
        let key = RegKey::create(&conn, RootKey::CurrentUser, "W", &CreateOptions::new()).unwrap().object;
        let sub = key.create_subkey("Sub", &CreateOptions::new()).unwrap().object;
        let event = EventOptions::new().create_unnamed(&conn).unwrap();
        key.notify_change(false, REG_NOTIFY_CHANGE_LAST_SET, &event).unwrap();
        sub.set_value("deep", &RegValue::Dword(1)).unwrap();
        key.create_subkey("Other", &CreateOptions::new()).unwrap();
        assert!(!signaled(&event), "a change below, or of another kind, without subtree");
        key.set_value("v", &RegValue::Dword(1)).unwrap();
        assert!(signaled(&event));
        key.set_value("v", &RegValue::Dword(2)).unwrap();
        assert!(!signaled(&event), "once: it must be asked for again");
    }

    #[test]
    fn subtree_and_name_filters_see_changes_below() {
        let broker = TestBroker::start();
        let conn = broker.connect();
        let key = RegKey::create(&conn, RootKey::CurrentUser, "W", &CreateOptions::new()).unwrap().object;
        let names = EventOptions::new().create_unnamed(&conn).unwrap();
        let values = EventOptions::new().create_unnamed(&conn).unwrap();
        key.notify_change(true, REG_NOTIFY_CHANGE_NAME, &names).unwrap();
        key.notify_change(true, REG_NOTIFY_CHANGE_LAST_SET, &values).unwrap();
        let deep = key.create_subkey(r"A\B", &CreateOptions::new()).unwrap().object;
        assert!(signaled(&names) && !signaled(&values));
        deep.set_value("x", &RegValue::Sz("y".into())).unwrap();
        assert!(signaled(&values));
    }

    #[test]
    fn deleting_the_key_or_closing_its_handle_sets_the_event() {
        let broker = TestBroker::start();
        let conn = broker.connect();
        let key = RegKey::create(&conn, RootKey::CurrentUser, "Doomed", &CreateOptions::new()).unwrap().object;
        let deleted = EventOptions::new().create_unnamed(&conn).unwrap();
        key.notify_change(false, REG_NOTIFY_CHANGE_LAST_SET, &deleted).unwrap();
        RegKey::delete(&conn, RootKey::CurrentUser, "Doomed", true).unwrap();
        assert!(signaled(&deleted));
        let other = RegKey::create(&conn, RootKey::CurrentUser, "Kept", &CreateOptions::new()).unwrap().object;
        let closed = EventOptions::new().create_unnamed(&conn).unwrap();
        other.notify_change(false, REG_NOTIFY_CHANGE_LAST_SET, &closed).unwrap();
        other.handle().try_clone().unwrap().close().unwrap();
        assert!(!signaled(&closed), "another handle to the key is still open");
        drop(other);
        assert!(switchboard_testkit::eventually(Duration::from_secs(10), || signaled(&closed)));
    }

    #[test]
    fn bad_filters_and_handles_without_key_notify_are_refused() {
        let broker = TestBroker::start();
        let conn = broker.connect();
        RegKey::create(&conn, RootKey::CurrentUser, "K", &CreateOptions::new()).unwrap();
        let event = EventOptions::new().create_unnamed(&conn).unwrap();
        let key = RegKey::open(&conn, RootKey::CurrentUser, "K", KEY_NOTIFY).unwrap();
        assert_eq!(code(key.notify_change(false, 0, &event)), Win32Error::ERROR_INVALID_PARAMETER);
        assert_eq!(code(key.notify_change(false, 0x20, &event)), Win32Error::ERROR_INVALID_PARAMETER);
        let no_notify = RegKey::open(&conn, RootKey::CurrentUser, "K", KEY_QUERY_VALUE).unwrap();
        assert_eq!(
            code(no_notify.notify_change(false, REG_NOTIFY_CHANGE_NAME, &event)),
            Win32Error::ERROR_ACCESS_DENIED
        );
    }

    #[test]
    fn a_watch_reports_each_change_another_process_makes() {
        if role::current().is_some() {
            let conn = Connection::connect().unwrap();
            let key =
                RegKey::open(&conn, RootKey::CurrentUser, "Watched", switchboard::registry::access::KEY_WRITE).unwrap();
            let next = switchboard::Event::open(&conn, "next", switchboard::event::access::SYNCHRONIZE).unwrap();
            for i in 0..3 {
                key.set_value("n", &RegValue::Dword(i)).unwrap();
                role::report(&format!("SET {i}"));
                // The parent says when it has seen this change.
                next.wait_signaled(Some(Duration::from_secs(30))).unwrap();
            }
            return;
        }
        let broker = TestBroker::start();
        let conn = broker.connect();
        let key = RegKey::create(&conn, RootKey::CurrentUser, "Watched", &CreateOptions::new()).unwrap().object;
        let watch = key.watch(false, REG_NOTIFY_CHANGE_LAST_SET).unwrap();
        let next = EventOptions::new().create(&conn, "next").unwrap().object;
        let mut child = Role::new("notifications::a_watch_reports_each_change_another_process_makes", "writer")
            .env(broker.env())
            .spawn();
        for i in 0..3 {
            assert_eq!(child.expect_line("SET"), i.to_string());
            assert!(watch.wait(Some(Duration::from_secs(20))), "change {i} was reported");
            assert_eq!(key.value("n").unwrap(), RegValue::Dword(i));
            next.set().unwrap();
        }
        child.wait_success();
    }
}

#[test]
fn get_value_filters_by_type_and_a_four_byte_binary_passes_as_a_dword() {
    use switchboard::registry::rrf::{RRF_RT_ANY, RRF_RT_DWORD, RRF_RT_REG_DWORD, RRF_RT_REG_SZ};
    use switchboard::registry::{REG_BINARY, REG_SZ};
    let broker = TestBroker::start();
    let conn = broker.connect();
    let key = RegKey::create(&conn, RootKey::CurrentUser, "Types", &CreateOptions::new()).unwrap().object;
    key.set_value("text", &RegValue::Sz("x".into())).unwrap();
    key.set_raw("four", RawValue { kind: REG_BINARY, data: vec![1, 0, 0, 0] }).unwrap();
    key.set_raw("three", RawValue { kind: REG_BINARY, data: vec![1, 0, 0] }).unwrap();
    key.set_raw("empty", RawValue { kind: REG_SZ, data: vec![] }).unwrap();
    key.set_raw("nul inside", RawValue { kind: REG_SZ, data: vec![b'a', 0, 0, 0, b'b', 0, 0, 0] }).unwrap();
    assert_eq!(code(key.get_value("text", RRF_RT_REG_DWORD)), Win32Error::ERROR_UNSUPPORTED_TYPE);
    assert_eq!(key.get_value("text", RRF_RT_REG_SZ).unwrap().kind, REG_SZ);
    assert_eq!(key.get_value("four", RRF_RT_DWORD).unwrap().data, [1, 0, 0, 0]);
    assert_eq!(code(key.get_value("three", RRF_RT_DWORD)), Win32Error::ERROR_DATATYPE_MISMATCH);
    assert_eq!(key.get_value("three", RRF_RT_ANY).unwrap().data.len(), 3);
    assert!(key.raw_value("empty").unwrap().data.is_empty(), "an empty REG_SZ stores 0 bytes");
    assert_eq!(key.raw_value("NUL INSIDE").unwrap().data, [b'a', 0, 0, 0, b'b', 0, 0, 0], "embedded NULs kept");
}

#[test]
fn a_keys_own_descriptor_governs_it_and_its_change_is_notified() {
    use switchboard::registry::notify::REG_NOTIFY_CHANGE_SECURITY;
    let broker = TestBroker::start();
    let conn = broker.connect();
    let key = RegKey::create(&conn, RootKey::LocalMachine, "Secured", &CreateOptions::new()).unwrap().object;
    let inherited = key.security().unwrap();
    assert!(inherited.contains("D:"), "{inherited}");
    let event = switchboard::EventOptions::new().create_unnamed(&conn).unwrap();
    key.notify_change(false, REG_NOTIFY_CHANGE_SECURITY, &event).unwrap();
    key.set_security("D:(A;;KA;;;OW)(A;;KR;;;WD)").unwrap();
    assert_eq!(event.wait(Some(std::time::Duration::ZERO)).unwrap(), switchboard::WaitResult::Signaled(0));
    let own = key.security().unwrap();
    let me = format!("O:S-1-22-1-{}", switchboard_sys::current_uid());
    assert_eq!(own, format!("{me}D:(A;;0xf003f;;;OW)(A;;0x20019;;;WD)"), "KA and KR, owner the caller");
    // Neither ACE is container-inherit: a new key below gets its creator's default.
    let child = key.create_subkey("Child", &CreateOptions::new()).unwrap().object;
    let child_sd = child.security().unwrap();
    assert!(child_sd.starts_with(&me) && child_sd.contains("(A;;GA;;;BA)"), "{child_sd}");
    // A container-inherit ACE is inherited, marked so.
    key.set_security("D:(A;CI;KA;;;OW)(A;CI;KR;;;WD)").unwrap();
    let heir = key.create_subkey("Heir", &CreateOptions::new()).unwrap().object;
    assert_eq!(heir.security().unwrap(), format!("{me}D:(A;CIID;0xf003f;;;OW)(A;CIID;0x20019;;;WD)"));
    let reader = RegKey::open(&conn, RootKey::LocalMachine, "Secured", KEY_READ).unwrap();
    assert_eq!(code(reader.set_security("D:")), Win32Error::ERROR_ACCESS_DENIED, "needs WRITE_DAC");
    assert_eq!(code(key.set_security("D:(bogus)")), Win32Error::ERROR_INVALID_PARAMETER);
}

#[test]
fn hkey_users_lists_the_users_hives_and_reaches_each_by_sid() {
    let broker = TestBroker::start();
    let conn = broker.connect();
    let mine = RegKey::create(&conn, RootKey::CurrentUser, r"Software\Mine", &CreateOptions::new()).unwrap().object;
    mine.set_value("v", &RegValue::Dword(5)).unwrap();
    let sid = format!("S-1-22-1-{}", switchboard_sys::current_uid());
    let users = RegKey::open(&conn, RootKey::Users, "", KEY_READ).unwrap();
    assert_eq!(users.subkeys().unwrap(), std::slice::from_ref(&sid));
    let same = RegKey::open(&conn, RootKey::Users, &format!(r"{sid}\software\mine"), KEY_READ).unwrap();
    assert_eq!(same.value("V").unwrap(), RegValue::Dword(5));
    assert_eq!(same.path(), format!(r"HKEY_USERS\{sid}\software\mine"));
    assert_eq!(code(users.create_subkey("S-1-22-1-99999", &CreateOptions::new())), Win32Error::ERROR_ACCESS_DENIED);
    assert_eq!(code(RegKey::open(&conn, RootKey::Users, "", KEY_SET_VALUE)), Win32Error::ERROR_ACCESS_DENIED);
}

#[test]
fn review_cases_deletes_handles_and_roots() {
    let broker = TestBroker::start();
    let conn = broker.connect();
    // HKEY_CLASSES_ROOT exists on a fresh realm.
    RegKey::open(&conn, RootKey::ClassesRoot, "", KEY_READ).unwrap();
    // RegDeleteTree(hKey, NULL) empties the key and keeps it.
    let key = RegKey::create(&conn, RootKey::CurrentUser, "Tree", &CreateOptions::new()).unwrap().object;
    key.create_subkey(r"A\B", &CreateOptions::new()).unwrap();
    key.set_value("v", &RegValue::Dword(1)).unwrap();
    key.delete_tree("").unwrap();
    assert!(key.subkeys().unwrap().is_empty() && key.values().unwrap().is_empty());
    key.set_value("still", &RegValue::Dword(2)).unwrap();
    // A key deleted and made again is another key: old handles stay deleted.
    let old = RegKey::open(&conn, RootKey::CurrentUser, "Tree", KEY_READ).unwrap();
    RegKey::delete(&conn, RootKey::CurrentUser, "Tree", true).unwrap();
    RegKey::create(&conn, RootKey::CurrentUser, "Tree", &CreateOptions::new()).unwrap();
    assert_eq!(code(old.values()), Win32Error::ERROR_KEY_DELETED);
    // One subkey that refuses DELETE keeps the whole tree.
    let guarded = RegKey::create(&conn, RootKey::CurrentUser, "Guarded", &CreateOptions::new()).unwrap().object;
    guarded.create_subkey("Locked", &CreateOptions::new().security("D:(A;;KR;;;OW)")).unwrap();
    assert_eq!(code(RegKey::delete(&conn, RootKey::CurrentUser, "Guarded", true)), Win32Error::ERROR_ACCESS_DENIED);
    assert_eq!(guarded.subkeys().unwrap(), ["Locked"]);
    // Below HKEY_USERS itself a SID comes first; a junk name is not found.
    let users = RegKey::open(&conn, RootKey::Users, "", KEY_READ).unwrap();
    assert_eq!(code(users.open_subkey("junk", KEY_READ)), Win32Error::ERROR_FILE_NOT_FOUND);
    let sid = format!("s-1-22-1-{}", switchboard_sys::current_uid());
    users.open_subkey(&format!(r"{sid}\Tree"), KEY_READ).unwrap();
    assert_eq!(
        code(users.open_subkey("S-1-22-1-4000000", KEY_READ)),
        Win32Error::ERROR_FILE_NOT_FOUND,
        "no hive is made"
    );
}
