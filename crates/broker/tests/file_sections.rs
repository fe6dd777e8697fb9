//! Sections that map files: SEMANTICS.md §4, the lines about files, with
//! real files on disk and a second process writing through its own view.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek};
use std::os::unix::fs::OpenOptionsExt;

use switchboard::section::{FILE_MAP_ALL_ACCESS, FILE_MAP_WRITE, PageProtection, Section, SectionOptions, ViewAccess};
use switchboard::{Connection, Win32Error};
use switchboard_testkit::TestBroker;
use switchboard_testkit::role::{self, Role};

fn code<T: std::fmt::Debug>(r: switchboard::Result<T>) -> Win32Error {
    r.expect_err("expected an error").win32_error()
}

fn file_with(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn read_write(path: &std::path::Path) -> File {
    OpenOptions::new().read(true).write(true).open(path).unwrap()
}

#[test]
fn a_view_shows_the_file_and_writes_reach_the_disk() {
    let broker = TestBroker::start();
    let conn = broker.connect();
    let dir = tempfile::tempdir().unwrap();
    let path = file_with(&dir, "data", b"hello from the disk");
    let s = SectionOptions::new(0).create_for_file(&conn, read_write(&path), Some("F")).unwrap().object;
    assert!(s.maps_file());
    assert_eq!(s.size(), 19, "size 0 maps the whole file");
    let view = s.map_view(ViewAccess::Write, 0, 0).unwrap();
    let mut got = [0u8; 19];
    view.read_at(0, &mut got).unwrap();
    assert_eq!(&got, b"hello from the disk");
    view.write_at(0, b"HELLO").unwrap();
    drop(view);
    assert_eq!(std::fs::read(&path).unwrap(), b"HELLO from the disk");
}

#[test]
fn the_files_open_mode_must_allow_the_protection() {
    let broker = TestBroker::start();
    let conn = broker.connect();
    let dir = tempfile::tempdir().unwrap();
    let path = file_with(&dir, "data", &[7u8; 100]);
    let read_only = || File::open(&path).unwrap();
    let rw = SectionOptions::new(0).protection(PageProtection::ReadWrite);
    assert_eq!(code(rw.create_for_file(&conn, read_only(), None)), Win32Error::ERROR_ACCESS_DENIED);
    for protection in [PageProtection::ReadOnly, PageProtection::WriteCopy] {
        let s = SectionOptions::new(0).protection(protection).create_for_file(&conn, read_only(), None).unwrap();
        assert_eq!(s.object.size(), 100);
        assert_eq!(code(s.object.map_view(ViewAccess::Write, 0, 0)), Win32Error::ERROR_ACCESS_DENIED);
    }
    let reserve = SectionOptions::new(0).protection(PageProtection::ReadOnly).reserve(true);
    assert_eq!(code(reserve.create_for_file(&conn, read_only(), None)), Win32Error::ERROR_INVALID_PARAMETER);
    let write_only = OpenOptions::new().write(true).open(&path).unwrap();
    let ro = SectionOptions::new(0).protection(PageProtection::ReadOnly);
    assert_eq!(code(ro.create_for_file(&conn, write_only, None)), Win32Error::ERROR_ACCESS_DENIED);
    // O_PATH: a descriptor with no access at all.
    let no_access = OpenOptions::new().read(true).custom_flags(libc::O_PATH).open(&path).unwrap();
    assert_eq!(code(ro.create_for_file(&conn, no_access, None)), Win32Error::ERROR_ACCESS_DENIED);
}

#[test]
fn a_copy_view_of_a_read_only_file_stays_private() {
    let broker = TestBroker::start();
    let conn = broker.connect();
    let dir = tempfile::tempdir().unwrap();
    let path = file_with(&dir, "data", b"original");
    let s = SectionOptions::new(0)
        .protection(PageProtection::WriteCopy)
        .create_for_file(&conn, File::open(&path).unwrap(), None)
        .unwrap()
        .object;
    let copy = s.map_view(ViewAccess::Copy, 0, 0).unwrap();
    copy.write_at(0, b"CHANGED!").unwrap();
    let mut got = [0u8; 8];
    s.map_view(ViewAccess::Read, 0, 0).unwrap().read_at(0, &mut got).unwrap();
    assert_eq!(&got, b"original");
    assert_eq!(std::fs::read(&path).unwrap(), b"original");
}

#[test]
fn an_empty_file_with_size_zero_is_file_invalid_and_a_larger_size_grows_a_writable_file() {
    let broker = TestBroker::start();
    let conn = broker.connect();
    let dir = tempfile::tempdir().unwrap();
    let empty = file_with(&dir, "empty", b"");
    assert_eq!(
        code(SectionOptions::new(0).create_for_file(&conn, read_write(&empty), None)),
        Win32Error::ERROR_FILE_INVALID
    );
    let s = SectionOptions::new(10_000).create_for_file(&conn, read_write(&empty), None).unwrap().object;
    assert_eq!(std::fs::metadata(&empty).unwrap().len(), 10_000, "the file grew to the section's size");
    s.map_view(ViewAccess::Write, 0, 0).unwrap().write_at(9_990, b"the end").unwrap();
    let mut tail = Vec::new();
    let mut f = File::open(&empty).unwrap();
    f.seek(std::io::SeekFrom::Start(9_990)).unwrap();
    f.read_to_end(&mut tail).unwrap();
    assert_eq!(&tail[..7], b"the end");
    let small = file_with(&dir, "small", b"abc");
    let grow_read_only = SectionOptions::new(8192).protection(PageProtection::ReadOnly);
    assert_eq!(
        code(grow_read_only.create_for_file(&conn, File::open(&small).unwrap(), None)),
        Win32Error::ERROR_NOT_ENOUGH_MEMORY
    );
    assert_eq!(std::fs::metadata(&small).unwrap().len(), 3, "a read-only section never grows its file");
}

#[test]
fn another_process_opens_the_named_file_section_by_name_and_writes_to_the_file() {
    if role::current().is_some() {
        let conn = Connection::connect().unwrap();
        let s = Section::open(&conn, "Local\\mapped", FILE_MAP_WRITE).unwrap();
        assert!(s.maps_file());
        s.map_view(ViewAccess::Write, 0, 0).unwrap().write_at(6, b"child").unwrap();
        role::report("WROTE");
        return;
    }
    let broker = TestBroker::start();
    let conn = broker.connect();
    let dir = tempfile::tempdir().unwrap();
    let path = file_with(&dir, "shared", b"hello world");
    let file = read_write(&path);
    let s = SectionOptions::new(0).access(FILE_MAP_ALL_ACCESS).create_for_file(&conn, &file, Some("Local\\mapped"));
    let _s = s.unwrap().object;
    // Our own descriptor may close: the section keeps the file.
    drop(file);
    let mut child = Role::new("another_process_opens_the_named_file_section_by_name_and_writes_to_the_file", "writer")
        .env(broker.env())
        .spawn();
    child.expect_line("WROTE");
    child.wait_success();
    assert_eq!(std::fs::read(&path).unwrap(), b"hello child");
}
