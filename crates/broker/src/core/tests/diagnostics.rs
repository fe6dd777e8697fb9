//! Diagnostics across users: clients 1 and 2 are uid 1000, client 3 is uid
//! 2000, client 4 is root.

use switchboard_proto::{self as p, Reply, Request};
use switchboard_types::access::standard::READ_CONTROL;
use switchboard_types::{MailslotName, NamespacePath, ObjectName, Win32Error};

use super::World;

fn world() -> World {
    let mut w = World::new();
    w.connect(4, 0).unwrap();
    w
}

fn target(name: &str) -> p::Target {
    p::Target::Name(ObjectName::parse(name).unwrap())
}

fn handle_pids(w: &mut World, client: u64, pid: Option<u32>) -> Vec<u32> {
    let Reply::ListHandles(rows) = w.call(client, Request::ListHandles(p::ListHandles { pid })).unwrap() else {
        panic!()
    };
    rows.iter().map(|r| r.pid).collect()
}

#[test]
fn listing_handles_leaves_out_other_users_but_not_ones_own_or_roots_view() {
    let mut w = world();
    w.create(1, "Mine", true, true).unwrap();
    w.create(2, "Same", true, true).unwrap();
    w.create(3, "Theirs", true, true).unwrap();
    assert_eq!(handle_pids(&mut w, 3, None), [103]);
    assert_eq!(handle_pids(&mut w, 3, Some(101)), Vec::<u32>::new(), "another user's process is empty, not an error");
    assert_eq!(handle_pids(&mut w, 1, None), [101, 102], "the same user's processes are visible");
    assert_eq!(handle_pids(&mut w, 4, None), [101, 102, 103]);
}

#[test]
fn show_without_read_control_is_access_denied_naming_the_object_and_the_right() {
    let mut w = world();
    w.create(1, "Global\\E", true, true).unwrap();
    let e = w.call(3, Request::Show(p::Show { target: target("Global\\E") })).unwrap_err();
    assert_eq!(e.code, Win32Error::ERROR_ACCESS_DENIED);
    assert!(e.message.contains("\\BaseNamedObjects\\E") && e.message.contains("READ_CONTROL"), "{}", e.message);
    assert!(w.call(4, Request::Show(p::Show { target: target("Global\\E") })).is_ok(), "root may look");
}

#[test]
fn show_with_read_control_from_the_dacl_works_and_lists_only_the_callers_own_holders() {
    let mut w = world();
    w.create_with(1, "Global\\E", true, true, Some("D:(A;;GA;;;OW)(A;;RC;;;S-1-22-1-2000)")).unwrap();
    w.open(3, "Global\\E", READ_CONTROL).unwrap();
    let show = p::Show { target: target("Global\\E") };
    let Reply::Show(info) = w.call(3, Request::Show(show)).unwrap() else { panic!() };
    assert_eq!(info.holders.iter().map(|h| h.pid).collect::<Vec<_>>(), [103]);
    assert_eq!(info.state, "signaled, manual-reset");
}

#[test]
fn check_access_without_read_control_is_access_denied() {
    let mut w = world();
    w.create(1, "Global\\E", true, true).unwrap();
    let req = p::CheckAccess { target: target("Global\\E"), uid: 2000, gid: 2000, groups: vec![] };
    let e = w.call(3, Request::CheckAccess(req.clone())).unwrap_err();
    assert_eq!(e.code, Win32Error::ERROR_ACCESS_DENIED);
    assert!(w.call(4, Request::CheckAccess(req)).is_ok(), "root may ask");
}

#[test]
fn a_directory_listing_names_every_object_but_counts_handles_only_where_read_control_is_granted() {
    let mut w = world();
    w.create(1, "Global\\Private", true, true).unwrap();
    w.create_with(1, "Global\\Readable", true, true, Some("D:(A;;GA;;;OW)(A;;RC;;;WD)")).unwrap();
    let path = NamespacePath::parse("\\BaseNamedObjects").unwrap();
    let Reply::ListDirectory(rows) = w.call(3, Request::ListDirectory(p::ListDirectory { path })).unwrap() else {
        panic!()
    };
    let handles = |name: &str| rows.iter().find(|r| r.name == name).map(|r| r.handles);
    assert_eq!(handles("Private"), Some(None));
    assert_eq!(handles("Readable"), Some(Some(1)));
}

fn slot() -> MailslotName {
    MailslotName::parse(r"\\.\mailslot\diag").unwrap()
}

#[test]
fn another_users_mailslot_is_listed_by_name_only_and_cannot_be_queried() {
    let mut w = world();
    let create = p::CreateMailslot { name: slot(), max_message_size: 64, security: p::Security::default() };
    w.call(1, Request::CreateMailslot(create)).unwrap();
    let Reply::ListMailslots(rows) = w.call(3, Request::ListMailslots(p::ListMailslots)).unwrap() else { panic!() };
    assert_eq!(
        rows,
        [p::MailslotListing { name: "diag".into(), max_message_size: None, writers: None, reader_pid: None }]
    );
    let e = w.call(3, Request::QueryMailslot(p::QueryMailslot { name: slot() })).unwrap_err();
    assert_eq!(e.code, Win32Error::ERROR_ACCESS_DENIED);
    assert!(e.message.contains("mailslot\\diag") && e.message.contains("READ_CONTROL"), "{}", e.message);
    let Reply::QueryMailslot(status) = w.call(2, Request::QueryMailslot(p::QueryMailslot { name: slot() })).unwrap()
    else {
        panic!()
    };
    assert_eq!(status.reader_pid, 101, "the same user may ask");
    let Reply::ListMailslots(rows) = w.call(4, Request::ListMailslots(p::ListMailslots)).unwrap() else { panic!() };
    assert_eq!(rows[0].reader_pid, Some(101), "root sees the reader");
}
