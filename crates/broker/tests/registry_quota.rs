//! The quota of each user's `HKEY_CURRENT_USER` in the system realm
//! (issue 12, "the trust boundary"): one user's hive cannot grow past it,
//! so it cannot fill the disk the machine hive and the other users' hives
//! live on; those stay writable.
//!
//! The brokers here serve a temporary realm with the system realm's rules
//! (`Config::realm`) and a quota of 16 KiB instead of the default 64 MiB.

use switchboard::registry::{CreateOptions, RawValue, RegKey, RootKey};
use switchboard::{Connection, Win32Error};
use switchboard_testkit::TestBroker;
use switchboard_testkit::role::{self, Role};

const QUOTA: u64 = 16 * 1024;

fn system_realm_with_small_quota() -> TestBroker {
    TestBroker::start_with(|config| {
        config.core.realm = switchboard_sys::RealmKind::System;
        config.core.registry_user_quota = Some(QUOTA);
    })
}

/// 6 KiB of data: two fit in the quota with their names and keys, three do not.
fn chunk() -> RawValue {
    RawValue { kind: 3, data: vec![0x42; 6 * 1024] }
}

/// Sets values of [`chunk`] under `key` until one is refused; that error.
fn fill(key: &RegKey) -> switchboard::Error {
    for i in 0..8 {
        if let Err(e) = key.set_raw(&format!("chunk{i}"), chunk()) {
            return e;
        }
    }
    panic!("eight chunks of 6 KiB fitted in a quota of {QUOTA} bytes");
}

#[test]
fn a_user_hive_past_its_quota_refuses_the_write_with_error_not_enough_quota() {
    let broker = system_realm_with_small_quota();
    let conn = broker.connect();
    let key = RegKey::create(&conn, RootKey::CurrentUser, r"Software\Big", &CreateOptions::new()).unwrap().object;
    let refused = fill(&key);
    assert_eq!(refused.win32_error(), Win32Error::ERROR_NOT_ENOUGH_QUOTA, "{refused}");
    let uid = switchboard_sys::current_uid();
    for part in [format!("uid {uid}"), format!("S-1-22-1-{uid}"), format!("{uid}.hive"), format!("{QUOTA} bytes")] {
        assert!(refused.reason().contains(&part), "{part:?} in {refused}");
    }
    assert_eq!(key.value("chunk2").unwrap_err().win32_error(), Win32Error::ERROR_FILE_NOT_FOUND, "nothing kept");
    // Room made is room to use again.
    key.delete_value("chunk0").unwrap();
    key.set_raw("chunk2", chunk()).unwrap();
}

#[test]
fn a_user_at_its_quota_leaves_the_machine_hive_and_other_users_writable() {
    if role::current().is_some() {
        let conn = Connection::connect().unwrap();
        let created = RegKey::create(&conn, RootKey::CurrentUser, r"Software\Mine", &CreateOptions::new());
        let written = created.and_then(|k| k.object.set_raw("chunk", chunk()));
        role::report(&format!("OWN {:?}", written.map_err(|e| e.win32_error())));
        return;
    }
    if !switchboard_testkit::is_root() {
        eprintln!("skipped: writing the system realm's machine hive and running another uid need root");
        return;
    }
    let broker = system_realm_with_small_quota();
    broker.open_to_all_users();
    let conn = broker.connect();
    let own = RegKey::create(&conn, RootKey::CurrentUser, r"Software\Big", &CreateOptions::new()).unwrap().object;
    assert_eq!(fill(&own).win32_error(), Win32Error::ERROR_NOT_ENOUGH_QUOTA);

    let machine = RegKey::create(&conn, RootKey::LocalMachine, r"Software\Big", &CreateOptions::new()).unwrap().object;
    for i in 0..8 {
        machine.set_raw(&format!("chunk{i}"), chunk()).unwrap_or_else(|e| panic!("machine chunk {i}: {e}"));
    }

    let mut other = Role::new("a_user_at_its_quota_leaves_the_machine_hive_and_other_users_writable", "other")
        .env(broker.env())
        .user(65_534, 65_534)
        .spawn();
    assert_eq!(other.expect_line("OWN"), "Ok(())", "another user's hive has its own quota");
    other.wait_success();
}
