//! Sections backed by memory: SEMANTICS.md §4, the lines that apply to
//! pagefile sections, and two processes sharing the bytes.

use switchboard::section::{
    FILE_MAP_ALL_ACCESS, FILE_MAP_COPY, FILE_MAP_READ, FILE_MAP_WRITE, PageProtection, PageState, Region, Section,
    SectionInfo, SectionOptions, ViewAccess,
};
use switchboard::{Connection, EventOptions, Win32Error};
use switchboard_testkit::TestBroker;
use switchboard_testkit::role::{self, Role};

fn code<T: std::fmt::Debug>(r: switchboard::Result<T>) -> Win32Error {
    r.expect_err("expected an error").win32_error()
}

#[test]
fn a_pagefile_section_of_size_zero_is_invalid_parameter() {
    let broker = TestBroker::start();
    assert_eq!(code(SectionOptions::new(0).create(&broker.connect(), "S")), Win32Error::ERROR_INVALID_PARAMETER);
}

#[test]
fn creating_a_named_section_twice_opens_it_and_keeps_the_first_size() {
    let broker = TestBroker::start();
    let conn = broker.connect();
    let first = SectionOptions::new(8192).create(&conn, "S").unwrap();
    assert!(!first.already_existed);
    let second = SectionOptions::new(100).create(&conn, "S").unwrap();
    assert!(second.already_existed);
    assert_eq!(second.object.size(), 8192);
}

#[test]
fn opening_a_missing_section_or_another_kind_fails() {
    let broker = TestBroker::start();
    let conn = broker.connect();
    assert_eq!(code(Section::open(&conn, "nothing", FILE_MAP_READ)), Win32Error::ERROR_FILE_NOT_FOUND);
    let _event = EventOptions::new().create(&conn, "taken").unwrap();
    assert_eq!(code(Section::open(&conn, "taken", FILE_MAP_READ)), Win32Error::ERROR_INVALID_HANDLE);
    assert_eq!(code(SectionOptions::new(4096).create(&conn, "taken")), Win32Error::ERROR_INVALID_HANDLE);
}

#[test]
fn a_view_of_size_zero_maps_the_whole_section() {
    let broker = TestBroker::start();
    let s = SectionOptions::new(4090).create(&broker.connect(), "Local\\Foo").unwrap().object;
    let view = s.map_view(ViewAccess::Write, 0, 0).unwrap();
    assert_eq!(view.len(), 4090);
    view.write_at(4089, b"z").unwrap();
    // VirtualQuery: one committed page of 4096 bytes (a view is MEM_MAPPED).
    assert_eq!(view.query(0).unwrap(), Region { offset: 0, size: 4096, state: PageState::Committed });
}

#[test]
fn a_reserved_section_commits_through_one_view_for_every_view_and_refuses_decommit() {
    if role::current().is_some() {
        // Another process's view sees the commit made in the test's process.
        let conn = Connection::connect().unwrap();
        let view = Section::open(&conn, "reserved", FILE_MAP_READ).unwrap().map_view(ViewAccess::Read, 0, 0).unwrap();
        let mut byte = [0u8; 1];
        view.read_at(4096, &mut byte).unwrap();
        let refused = view.read_at(0, &mut byte).unwrap_err().win32_error();
        role::report(&format!("READ {} {refused:?}", byte[0]));
        return;
    }
    let broker = TestBroker::start();
    let conn = broker.connect();
    let s = SectionOptions::new(4 * 4096).reserve(true).create(&conn, "reserved").unwrap().object;
    let a = s.map_view(ViewAccess::Write, 0, 0).unwrap();
    let b = s.map_view(ViewAccess::Write, 0, 0).unwrap();
    assert_eq!(a.query(0).unwrap(), Region { offset: 0, size: 4 * 4096, state: PageState::Reserved });
    assert_eq!(code(a.write_at(0, b"x")), Win32Error::ERROR_NOACCESS, "a reserved page refuses access");
    a.commit(4096, 10).unwrap();
    assert_eq!(b.query(5000).unwrap(), Region { offset: 4096, size: 4096, state: PageState::Committed });
    assert_eq!(b.query(8192).unwrap(), Region { offset: 8192, size: 2 * 4096, state: PageState::Reserved });
    b.write_at(4096, &[42]).unwrap();
    assert_eq!(code(b.write_at(4095, &[1, 2])), Win32Error::ERROR_NOACCESS, "a write that touches a reserved page");
    assert_eq!(code(a.decommit(4096, 4096)), Win32Error::ERROR_INVALID_PARAMETER);
    let mut child =
        Role::new("a_reserved_section_commits_through_one_view_for_every_view_and_refuses_decommit", "reader")
            .env(broker.env())
            .spawn();
    assert_eq!(child.expect_line("READ"), "42 ERROR_NOACCESS");
    child.wait_success();
}

#[test]
fn nt_query_section_needs_section_query_and_reports_commit_or_reserve() {
    let broker = TestBroker::start();
    let conn = broker.connect();
    let reserved = SectionOptions::new(8192).reserve(true).create(&conn, "R").unwrap().object;
    assert_eq!(reserved.query().unwrap(), SectionInfo { size: 8192, reserve: true, file: false });
    let committed = SectionOptions::new(100).create(&conn, "C").unwrap().object;
    assert_eq!(committed.query().unwrap(), SectionInfo { size: 100, reserve: false, file: false });
    let no_query = Section::open(&conn, "C", FILE_MAP_READ).unwrap();
    assert_eq!(code(no_query.query()), Win32Error::ERROR_ACCESS_DENIED);
}

#[test]
fn a_read_handle_maps_only_read_views_and_a_write_handle_only_write_views() {
    let broker = TestBroker::start();
    let conn = broker.connect();
    let _s = SectionOptions::new(4096).create(&conn, "S").unwrap();
    let read = Section::open(&conn, "S", FILE_MAP_READ).unwrap();
    assert_eq!(code(read.map_view(ViewAccess::Write, 0, 0)), Win32Error::ERROR_ACCESS_DENIED);
    read.map_view(ViewAccess::Read, 0, 0).unwrap();
    let write = Section::open(&conn, "S", FILE_MAP_WRITE).unwrap();
    assert_eq!(code(write.map_view(ViewAccess::Read, 0, 0)), Win32Error::ERROR_ACCESS_DENIED);
    write.map_view(ViewAccess::Write, 0, 0).unwrap();
    assert_eq!(code(Section::open(&conn, "S", 0)), Win32Error::ERROR_ACCESS_DENIED, "access 0 cannot map (or open)");
}

#[test]
fn read_only_and_write_copy_sections_refuse_write_views() {
    let broker = TestBroker::start();
    let conn = broker.connect();
    for (name, protection) in [("ro", PageProtection::ReadOnly), ("wc", PageProtection::WriteCopy)] {
        let s = SectionOptions::new(4096).protection(protection).create(&conn, name).unwrap().object;
        assert_eq!(code(s.map_view(ViewAccess::Write, 0, 0)), Win32Error::ERROR_ACCESS_DENIED, "{name}");
        s.map_view(ViewAccess::Copy, 0, 0).unwrap();
    }
}

#[test]
fn two_views_alias_the_same_bytes_and_copy_views_stay_private() {
    let broker = TestBroker::start();
    let conn = broker.connect();
    let s = SectionOptions::new(4096).create(&conn, "S").unwrap().object;
    let a = s.map_view(ViewAccess::Write, 0, 0).unwrap();
    let b = Section::open(&conn, "S", FILE_MAP_ALL_ACCESS).unwrap().map_view(ViewAccess::Write, 0, 0).unwrap();
    let c = Section::open(&conn, "S", FILE_MAP_COPY).unwrap().map_view(ViewAccess::Copy, 0, 0).unwrap();
    a.write_at(10, b"alias").unwrap();
    let mut buf = [0u8; 5];
    b.read_at(10, &mut buf).unwrap();
    assert_eq!(&buf, b"alias");
    c.write_at(10, b"mine!").unwrap();
    a.read_at(10, &mut buf).unwrap();
    assert_eq!(&buf, b"alias", "the copy view's write stays private");
}

#[test]
fn views_outlive_the_handle_and_the_name_goes_with_the_last_handle() {
    let broker = TestBroker::start();
    let conn = broker.connect();
    let s = SectionOptions::new(4096).create(&conn, "S").unwrap().object;
    let view = s.map_view(ViewAccess::Write, 0, 0).unwrap();
    drop(s);
    view.write_at(0, b"still mapped").unwrap();
    assert_eq!(code(Section::open(&conn, "S", FILE_MAP_READ)), Win32Error::ERROR_FILE_NOT_FOUND);
}

#[test]
fn view_offsets_follow_the_allocation_granularity() {
    let broker = TestBroker::start();
    let s = SectionOptions::new(3 * 4096).create(&broker.connect(), "S").unwrap().object;
    assert_eq!(code(s.map_view(ViewAccess::Read, 100, 0)), Win32Error::ERROR_MAPPED_ALIGNMENT);
    assert_eq!(s.map_view(ViewAccess::Read, 4096, 0).unwrap().len(), 2 * 4096);
    assert_eq!(code(s.map_view(ViewAccess::Read, 4096, 3 * 4096)), Win32Error::ERROR_ACCESS_DENIED);
}

#[test]
fn a_second_process_writes_and_a_third_reads_the_same_bytes() {
    if let Some(role) = role::current() {
        let conn = Connection::connect().unwrap();
        if role == "writer" {
            let s = Section::open(&conn, "Global\\shared", FILE_MAP_WRITE).unwrap();
            s.map_view(ViewAccess::Write, 0, 0).unwrap().write_at(1000, b"written by another process").unwrap();
            role::report("WROTE");
        } else {
            let s = Section::open(&conn, "Global\\shared", FILE_MAP_READ).unwrap();
            let mut buf = [0u8; 26];
            s.map_view(ViewAccess::Read, 0, 0).unwrap().read_at(1000, &mut buf).unwrap();
            role::report(&format!("READ {}", String::from_utf8_lossy(&buf)));
        }
        return;
    }
    let broker = TestBroker::start();
    let conn = broker.connect();
    let _held = SectionOptions::new(1 << 20).create(&conn, "Global\\shared").unwrap();
    let mut writer =
        Role::new("a_second_process_writes_and_a_third_reads_the_same_bytes", "writer").env(broker.env()).spawn();
    writer.expect_line("WROTE");
    writer.wait_success();
    let mut reader =
        Role::new("a_second_process_writes_and_a_third_reads_the_same_bytes", "reader").env(broker.env()).spawn();
    assert_eq!(reader.expect_line("READ"), "written by another process");
    reader.wait_success();
}

#[test]
fn another_user_cannot_map_a_section_or_signal_an_object_its_dacl_does_not_grant() {
    if role::current().is_some() {
        let conn = Connection::connect().unwrap();
        let report = |what: &str, r: Result<(), switchboard::Error>| match r {
            Ok(()) => role::report(&format!("{what} ok")),
            Err(e) => role::report(&format!("{what} {:?}", e.win32_error())),
        };
        report("MAP", Section::open(&conn, "Global\\private", FILE_MAP_READ).map(|_| ()));
        report(
            "READ",
            Section::open(&conn, "Global\\readable", FILE_MAP_READ)
                .and_then(|s| s.map_view(ViewAccess::Read, 0, 0))
                .map(|_| ()),
        );
        report("WRITE", Section::open(&conn, "Global\\readable", FILE_MAP_WRITE).map(|_| ()));
        report(
            "SIGNAL",
            switchboard::Event::open(&conn, "Global\\flag", switchboard::event::access::EVENT_MODIFY_STATE).map(|_| ()),
        );
        return;
    }
    if !switchboard_testkit::is_root() {
        eprintln!("skipped: running a child under another uid needs root");
        return;
    }
    let broker = TestBroker::start();
    broker.open_to_all_users();
    let conn = broker.connect();
    let _private = SectionOptions::new(4096).create(&conn, "Global\\private").unwrap();
    let _readable =
        SectionOptions::new(4096).security("D:(A;;GA;;;OW)(A;;GR;;;WD)").create(&conn, "Global\\readable").unwrap();
    let _flag = EventOptions::new().create(&conn, "Global\\flag").unwrap();
    let mut child =
        Role::new("another_user_cannot_map_a_section_or_signal_an_object_its_dacl_does_not_grant", "outsider")
            .env(broker.env())
            .user(65_534, 65_534)
            .spawn();
    assert_eq!(child.expect_line("MAP"), "ERROR_ACCESS_DENIED");
    assert_eq!(child.expect_line("READ"), "ok");
    assert_eq!(child.expect_line("WRITE"), "ERROR_ACCESS_DENIED");
    assert_eq!(child.expect_line("SIGNAL"), "ERROR_ACCESS_DENIED");
    child.wait_success();
}

#[test]
fn a_read_only_handle_cannot_commit_pages_of_a_reserved_section() {
    let broker = TestBroker::start();
    let conn = broker.connect();
    let _s = SectionOptions::new(2 * 4096).reserve(true).create(&conn, "ro-reserved").unwrap();
    let view = Section::open(&conn, "ro-reserved", FILE_MAP_READ).unwrap().map_view(ViewAccess::Read, 0, 0).unwrap();
    assert_eq!(code(view.commit(0, 10)), Win32Error::ERROR_ACCESS_DENIED);
    assert_eq!(view.query(0).unwrap().state, PageState::Reserved, "nothing was committed");
}
