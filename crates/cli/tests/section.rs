//! `switchboard section …` as a user runs it: one process holds the section,
//! others write and read it, against a real broker.

mod common;
use common::*;

use std::io::{BufRead, BufReader};
use std::time::Duration;

use switchboard::section::{PageProtection, SectionOptions};
use switchboard_testkit::{TestBroker, eventually};

/// `section create NAME ARGS… --hold`, stdin kept open, without waiting for it.
fn spawn_holder(broker: &TestBroker, name: &str, args: &[&str]) -> Proc {
    let mut all = vec!["section", "create", name];
    all.extend_from_slice(args);
    all.push("--hold");
    Proc::spawn(broker, &all)
}

/// `section create NAME ARGS… --hold`, returned once it holds the section, with its line.
fn start_holder(broker: &TestBroker, name: &str, args: &[&str]) -> (Proc, String) {
    let mut all = vec!["section", "create", name];
    all.extend_from_slice(args);
    all.push("--hold");
    Proc::start(broker, &all, "holding")
}

#[test]
fn one_process_holds_another_writes_a_third_reads_and_the_name_goes_with_the_holder() {
    let broker = TestBroker::start();
    let conn = broker.connect();
    let (holder, line) = start_holder(&broker, "S", &["--size", "1MiB"]);
    assert!(line.starts_with("holding section \"S\" (1048576 bytes, handle 0x"), "{line}");
    assert!(line.ends_with("); end of stdin releases it\n"), "{line}");

    let wrote = run(&broker, &["section", "write", "S", "--offset", "4096", "hello"]);
    ok(&wrote);
    assert_eq!(stdout(&wrote), "wrote 5 bytes at offset 4096 of \"S\"\n");

    let dumped = run(&broker, &["section", "dump", "S", "--offset", "4096", "--length", "5", "--raw"]);
    ok(&dumped);
    assert_eq!(dumped.stdout, b"hello");

    let info = run(&broker, &["section", "info", "S"]);
    ok(&info);
    let text = stdout(&info);
    assert!(text.contains("size           1048576 bytes (1 MiB)"), "{text}");
    assert!(text.contains("protection     readwrite (PAGE_READWRITE)"), "{text}");
    assert!(text.contains("handle access  0x00000004 (FILE_MAP_READ)"), "{text}");

    let released = holder.release();
    ok(&released);
    // The broker drops the section when it sees the holder's connection close.
    assert!(eventually(Duration::from_secs(20), || conn.show("S").is_err()), "S outlived its holder");
    let gone = run(&broker, &["section", "info", "S"]);
    assert_eq!(gone.status.code(), Some(4), "{gone:?}");
    assert!(stderr(&gone).contains("ERROR_FILE_NOT_FOUND"), "{}", stderr(&gone));
}

#[test]
fn dump_prints_a_hex_dump_or_json() {
    let broker = TestBroker::start();
    let conn = broker.connect();
    let _section = SectionOptions::new(4096).create(&conn, "D").unwrap().object;
    ok(&run(&broker, &["section", "write", "D", "--offset", "20", "Hello, shared\tmemory!"]));

    let dumped = run(&broker, &["section", "dump", "D", "--offset", "16", "--length", "30"]);
    ok(&dumped);
    assert_eq!(
        stdout(&dumped),
        "00000010  00 00 00 00 48 65 6c 6c  6f 2c 20 73 68 61 72 65  |....Hello, share|\n\
         00000020  64 09 6d 65 6d 6f 72 79  21 00 00 00 00 00        |d.memory!.....|\n\
         0000002e\n"
    );

    // By default: up to 256 bytes, trailing zero lines as one `*`.
    let whole = run(&broker, &["section", "dump", "D"]);
    ok(&whole);
    let text = stdout(&whole);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 6, "{text}");
    assert!(lines[2].starts_with("00000020  64 09 6d"), "{text}");
    assert!(lines[3].starts_with("00000030  00 00 00 00"), "{text}");
    assert_eq!(lines[4..], ["*", "00000100"], "{text}");
    assert!(stderr(&whole).contains("showing 256 of the 4096 bytes"), "{}", stderr(&whole));

    let json = run(&broker, &["--json", "section", "dump", "D", "--offset", "20", "--length", "5"]);
    ok(&json);
    let value: serde_json::Value = serde_json::from_str(&stdout(&json)).unwrap();
    assert_eq!(value, serde_json::json!({"name": "D", "offset": 20, "length": 5, "hex": "48656c6c6f"}));

    let info = run(&broker, &["--json", "section", "info", "D"]);
    ok(&info);
    let value: serde_json::Value = serde_json::from_str(&stdout(&info)).unwrap();
    assert_eq!(
        value,
        serde_json::json!({"name": "D", "size": 4096, "protection": "readwrite", "access": 4, "backing": "memory"})
    );
}

#[test]
fn write_takes_stdin_and_refuses_to_run_past_the_end() {
    let broker = TestBroker::start();
    let conn = broker.connect();
    let _section = SectionOptions::new(4096).create(&conn, r"Local\W").unwrap().object;

    let wrote = run_with_input(&broker, &["section", "write", r"Local\W", "--offset", "1K", "-"], b"from\nstdin");
    ok(&wrote);
    assert_eq!(stdout(&wrote), "wrote 10 bytes at offset 1024 of \"Local\\\\W\"\n");
    let dumped = run(&broker, &["section", "dump", "W", "--offset", "1024", "--length", "10", "--raw"]);
    assert_eq!(dumped.stdout, b"from\nstdin", "{dumped:?}");

    let past = run(&broker, &["section", "write", "W", "--offset", "4094", "abc"]);
    assert_eq!(past.status.code(), Some(1), "{past:?}");
    assert!(stderr(&past).contains("ERROR_INVALID_PARAMETER"), "{}", stderr(&past));
    let unchanged = run(&broker, &["section", "dump", "W", "--offset", "4094", "--length", "2", "--raw"]);
    assert_eq!(unchanged.stdout, [0, 0], "{unchanged:?}");

    let long = run(&broker, &["section", "dump", "W", "--offset", "4000", "--length", "100"]);
    assert_eq!(long.status.code(), Some(1), "{long:?}");
}

#[test]
fn readonly_sections_refuse_writers_with_exit_5() {
    let broker = TestBroker::start();
    let (holder, _) = start_holder(&broker, "RO", &["--size", "4KiB", "--protection", "readonly"]);
    let denied = run(&broker, &["section", "write", "RO", "hello"]);
    assert_eq!(denied.status.code(), Some(5), "{denied:?}");
    assert!(stderr(&denied).contains("ERROR_ACCESS_DENIED"), "{}", stderr(&denied));
    let info = stdout(&run(&broker, &["section", "info", "RO"]));
    assert!(info.contains("protection     readonly (PAGE_READONLY)"), "{info}");
    ok(&holder.release());
}

#[test]
fn create_without_hold_warns_and_hold_reports_an_existing_section() {
    let broker = TestBroker::start();
    let created = run(&broker, &["section", "create", "gone", "--size", "1K"]);
    ok(&created);
    assert!(stdout(&created).starts_with("created section \"gone\" (1024 bytes, handle 0x"), "{created:?}");
    assert!(stderr(&created).contains("warning: section \"gone\" is destroyed as this command exits"), "{created:?}");

    let conn = broker.connect();
    let kept = SectionOptions::new(8192).protection(PageProtection::ReadWrite).create(&conn, "kept").unwrap();
    assert!(!kept.already_existed);
    let mut holder = spawn_holder(&broker, "kept", &["--size", "1", "--json"]);
    // One pretty JSON object on stdout, the `holding` line on stderr.
    let mut text = String::new();
    let mut out = BufReader::new(holder.child().stdout.as_mut().unwrap());
    while !text.ends_with("}\n") {
        assert!(out.read_line(&mut text).unwrap() > 0, "{text}");
    }
    drop(out);
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(value["already_existed"], true, "{value}");
    assert_eq!(value["size"], 8192, "{value}");
    assert_eq!(value["held"], true, "{value}");
    let released = holder.release();
    ok(&released);
    assert!(stderr(&released).starts_with("holding existing section \"kept\" (8192 bytes, handle 0x"), "{released:?}");
}

#[test]
fn usage_and_missing_sections() {
    let broker = TestBroker::start();
    for size in ["0", "0KiB", "1MB", "lots"] {
        let bad = run(&broker, &["section", "create", "S", "--size", size]);
        assert_eq!(bad.status.code(), Some(2), "--size {size}: {bad:?}");
    }
    assert_eq!(run(&broker, &["--json", "section", "dump", "S", "--raw"]).status.code(), Some(2));
    for args in
        [&["section", "info", "missing"][..], &["section", "dump", "missing"], &["section", "write", "missing", "x"]]
    {
        let missing = run(&broker, args);
        assert_eq!(missing.status.code(), Some(4), "{args:?}: {missing:?}");
    }
}

#[test]
fn write_dump_and_info_never_start_a_broker() {
    exits_3_without_starting_a_broker(&["section", "info", "S"]);
    exits_3_without_starting_a_broker(&["section", "dump", "S"]);
    exits_3_without_starting_a_broker(&["section", "write", "S", "x"]);
}

#[test]
fn a_section_over_a_file_shows_its_bytes_and_writes_reach_the_file() {
    let broker = TestBroker::start();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data.bin");
    std::fs::write(&path, b"on disk before").unwrap();
    let file = path.to_str().unwrap();
    let (holder, line) = start_holder(&broker, "F", &["--file", file]);
    assert!(line.starts_with("holding section \"F\" (14 bytes, handle 0x"), "{line}");

    let dumped = run(&broker, &["section", "dump", "F", "--raw"]);
    ok(&dumped);
    assert_eq!(dumped.stdout, b"on disk before");
    ok(&run(&broker, &["section", "write", "F", "--offset", "8", "AFTER!"]));
    assert_eq!(std::fs::read(&path).unwrap(), b"on disk AFTER!");
    let info = stdout(&run(&broker, &["section", "info", "F"]));
    assert!(info.contains("backing        file"), "{info}");
    ok(&holder.release());

    let missing = run(&broker, &["section", "create", "G", "--file", "/nonexistent/file"]);
    assert_ne!(missing.status.code(), Some(0));
    assert!(stderr(&missing).contains("/nonexistent/file"), "{}", stderr(&missing));
    let no_size = run(&broker, &["section", "create", "H"]);
    assert_eq!(no_size.status.code(), Some(2), "--size is needed without --file");
}
