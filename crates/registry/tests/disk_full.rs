//! A hive on a file system that fills up (issue 12): the write that does
//! not fit fails with `ERROR_DISK_FULL`, and once space is freed the next
//! write works, with everything committed before intact.
//!
//! The small file system is a 4 MiB tmpfs. Mounting one needs root, and so
//! that nothing is ever left mounted the test runs itself again as a child
//! under `unshare --mount --propagation private`: the mount exists only in
//! the child's own mount namespace and goes with it. Without root (or where
//! namespaces are not allowed) the test says so and skips.

use std::io::Write;
use std::path::Path;
use std::process::Command;

use switchboard_registry::value::REG_BINARY;
use switchboard_registry::{Hive, KeyOptions, KeyPath, RawValue, RegValue};
use switchboard_types::Win32Error;

/// Where the child mounts its tmpfs; set only in the child.
const CHILD_DIR: &str = "REGISTRY_TEST_TMPFS_DIR";
/// What the child prints once its checks all passed.
const DONE: &str = "DISK FULL CHECKS DONE";

fn path(text: &str) -> KeyPath {
    KeyPath::parse(text).unwrap()
}

fn dword(n: u32) -> RawValue {
    RegValue::Dword(n).to_raw()
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

/// Whether this process may make a private mount namespace (not in every
/// container, even as root).
fn namespaces_allowed() -> bool {
    Command::new("unshare").args(["--mount", "--propagation", "private", "true"]).status().is_ok_and(|s| s.success())
}

/// Fills the file system under `file` with it, until a write fails; that
/// failure must be "no space".
fn fill(file: &Path) {
    let mut filler = std::fs::File::create(file).unwrap();
    let chunk = vec![0x5A; 64 * 1024];
    let full = loop {
        if let Err(e) = filler.write_all(&chunk).and_then(|()| filler.sync_data()) {
            break e;
        }
    };
    assert_eq!(full.kind(), std::io::ErrorKind::StorageFull, "{full}");
}

#[test]
fn a_full_disk_fails_the_write_and_once_space_is_freed_the_next_write_succeeds_with_earlier_data_intact() {
    if let Some(dir) = std::env::var_os(CHILD_DIR) {
        fill_and_recover(Path::new(&dir));
        println!("{DONE}");
        return;
    }
    if !is_root() {
        eprintln!("skipped: mounting a small tmpfs needs root");
        return;
    }
    if !namespaces_allowed() {
        eprintln!("skipped: `unshare --mount` is not allowed here");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let test = "a_full_disk_fails_the_write_and_once_space_is_freed_the_next_write_succeeds_with_earlier_data_intact";
    let out = Command::new("unshare")
        .args(["--mount", "--propagation", "private"])
        .arg(std::env::current_exe().unwrap())
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_DIR, dir.path())
        .output()
        .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && stdout.contains(DONE), "the child failed:\n{stdout}\n{stderr}");
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let shown = dir.path().to_string_lossy();
    assert!(!mounts.lines().any(|m| m.split(' ').nth(4) == Some(&*shown)), "the tmpfs stayed in this namespace");
}

/// The child: a tmpfs at `dir`, a hive on it, the disk filled, freed.
fn fill_and_recover(dir: &Path) {
    let mounted = Command::new("mount").args(["-t", "tmpfs", "-o", "size=4m", "switchboard-test"]).arg(dir).status();
    assert!(mounted.is_ok_and(|s| s.success()), "mount a tmpfs at {}", dir.display());
    let place = dir.join("hives");
    std::fs::create_dir(&place).unwrap();
    let file = place.join("user.hive");
    let key = path(r"Software\Kept");
    let mut hive = Hive::open(&file).unwrap();
    hive.create_key(&key, &KeyOptions::default()).unwrap();
    for i in 0..10 {
        hive.set_value(&key, &format!("v{i}"), dword(i)).unwrap();
    }
    let session = path(r"Software\Kept\Session");
    hive.create_key(&session, &KeyOptions { volatile: true, ..KeyOptions::default() }).unwrap();
    hive.set_value(&session, "pid", dword(42)).unwrap();

    fill(&dir.join("filler"));
    let big = RawValue { kind: REG_BINARY, data: vec![0xAB; 64 * 1024] };
    let mut acknowledged = Vec::new();
    let e = (0..64)
        .find_map(|i| match hive.set_value(&key, &format!("big{i}"), big.clone()) {
            Ok(()) => {
                acknowledged.push(i);
                None
            }
            Err(e) => Some(e),
        })
        .expect("a full disk refuses a write");
    println!("refused after {} more values: {e}", acknowledged.len());
    assert_eq!(e.code, Win32Error::ERROR_DISK_FULL, "{e}");
    assert!(e.message.contains(r"Software\Kept") && e.message.contains(&*file.to_string_lossy()), "{e}");
    assert_eq!(hive.value(&key, "v3").unwrap(), dword(3), "reads still answer");

    // A reopen that itself fails is an error, and is tried again next time.
    std::fs::rename(&place, dir.join("moved")).unwrap();
    let e = hive.set_value(&key, "lost", dword(1)).unwrap_err();
    println!("while the file is away: {e}");
    assert!(e.message.contains(&*file.to_string_lossy()), "{e}");
    std::fs::rename(dir.join("moved"), &place).unwrap();

    std::fs::remove_file(dir.join("filler")).unwrap();
    hive.set_value(&key, "after", dword(99)).unwrap();
    assert_eq!(hive.value(&session, "pid").unwrap(), dword(42), "volatile keys outlive the reopen");
    drop(hive);

    let hive = Hive::open(&file).unwrap();
    for i in 0..10 {
        assert_eq!(hive.value(&key, &format!("v{i}")).unwrap(), dword(i));
    }
    for i in &acknowledged {
        assert_eq!(hive.value(&key, &format!("big{i}")).unwrap(), big);
    }
    assert_eq!(hive.value(&key, "after").unwrap(), dword(99));
    assert_eq!(hive.value(&key, "lost").unwrap_err().code, Win32Error::ERROR_FILE_NOT_FOUND);
}
