//! `switchboard reg …` as a user runs it, with reg.exe's `/v` options,
//! against a real broker: add, query, delete, and export → import through a
//! `.reg` file on disk.

mod common;
use common::*;

use switchboard_testkit::TestBroker;

#[test]
fn add_query_and_delete_like_reg_exe() {
    let broker = TestBroker::start();
    ok(&run(&broker, &["reg", "add", r"HKCU\Software\Demo", "/v", "Level", "/t", "REG_DWORD", "/d", "0x2a", "/f"]));
    ok(&run(&broker, &["reg", "add", r"HKCU\Software\Demo", "/ve", "/d", "the default"]));
    ok(&run(&broker, &["reg", "add", r"HKCU\Software\Demo\Sub"]));
    let exists = run(&broker, &["reg", "add", r"HKCU\Software\Demo", "/v", "Level", "/d", "x"]);
    assert_eq!(exists.status.code(), Some(7), "an existing value needs /f: {}", stderr(&exists));

    let shown = stdout(&run(&broker, &["reg", "query", r"hkey_current_user\software\demo"]));
    assert_eq!(
        shown,
        "HKEY_CURRENT_USER\\software\\demo\n    Level    REG_DWORD    0x2a\n    (Default)    REG_SZ    the default\n\nHKEY_CURRENT_USER\\software\\demo\\Sub\n"
    );
    let one = run(&broker, &["--json", "reg", "query", r"HKCU\Software\Demo", "/v", "level"]);
    let value: serde_json::Value = serde_json::from_str(&stdout(&one)).unwrap();
    assert_eq!(value, serde_json::json!({"name": "Level", "type": "REG_DWORD", "data": 42}), "the name as stored");

    let refused = run(&broker, &["reg", "delete", r"HKCU\Software\Demo", "/v", "Level"]);
    assert_eq!(refused.status.code(), Some(1), "delete needs /f");
    ok(&run(&broker, &["reg", "delete", r"HKCU\Software\Demo", "/v", "Level", "/f"]));
    let gone = run(&broker, &["reg", "query", r"HKCU\Software\Demo", "/v", "Level"]);
    assert_eq!(gone.status.code(), Some(4), "{}", stderr(&gone));
    ok(&run(&broker, &["reg", "delete", r"HKCU\Software\Demo", "/f"]));
    assert_eq!(run(&broker, &["reg", "query", r"HKCU\Software\Demo"]).status.code(), Some(4));
}

#[test]
fn export_then_import_restores_every_value_exactly() {
    let broker = TestBroker::start();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("demo.reg");
    let file_arg = file.to_str().unwrap();
    for (name, kind, data) in [
        ("sz", "REG_SZ", "text with \"quotes\""),
        ("expand", "REG_EXPAND_SZ", "%HOME%\\bin"),
        ("multi", "REG_MULTI_SZ", "one\\0two"),
        ("dword", "REG_DWORD", "7"),
        ("qword", "REG_QWORD", "0xFFFFFFFFFFFFFFFF"),
        ("binary", "REG_BINARY", "00ff10"),
        ("none", "REG_NONE", ""),
    ] {
        ok(&run(&broker, &["reg", "add", r"HKCU\Software\Round\Trip", "/v", name, "/t", kind, "/d", data, "/f"]));
    }
    let before = stdout(&run(&broker, &["--json", "reg", "query", r"HKCU\Software\Round", "/s"]));
    ok(&run(&broker, &["reg", "export", r"HKCU\Software\Round", file_arg]));
    let bytes = std::fs::read(&file).unwrap();
    assert_eq!(&bytes[..2], &[0xFF, 0xFE], "REGEDIT5 is UTF-16LE with a byte-order mark");
    assert_eq!(run(&broker, &["reg", "export", r"HKCU\Software\Round", file_arg]).status.code(), Some(7), "no /y");

    ok(&run(&broker, &["reg", "delete", r"HKCU\Software\Round", "/f"]));
    ok(&run(&broker, &["reg", "import", file_arg]));
    let after = stdout(&run(&broker, &["--json", "reg", "query", r"HKCU\Software\Round", "/s"]));
    assert_eq!(after, before);

    // A file with an error imports nothing and names the line.
    let bad = dir.path().join("bad.reg");
    std::fs::write(&bad, "REGEDIT4\n[HKEY_CURRENT_USER\\Software\\New]\n\"ok\"=dword:1\n\"broken\"=hex:zz\n").unwrap();
    let refused = run(&broker, &["reg", "import", bad.to_str().unwrap()]);
    assert_ne!(refused.status.code(), Some(0));
    assert!(stderr(&refused).contains("line 4"), "{}", stderr(&refused));
    assert_eq!(run(&broker, &["reg", "query", r"HKCU\Software\New"]).status.code(), Some(4), "nothing imported");
}
