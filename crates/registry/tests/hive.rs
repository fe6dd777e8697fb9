//! A hive's keys and values: SEMANTICS.md §6 and the `Reg*` documentation,
//! against a real redb file.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use proptest::prelude::*;
use switchboard_registry::value::{REG_BINARY, REG_DWORD, REG_SZ};
use switchboard_registry::{Disposition, Hive, KeyOptions, KeyPath, Quota, RawValue, RegValue};
use switchboard_types::Win32Error;

fn path(text: &str) -> KeyPath {
    KeyPath::parse(text).unwrap()
}

fn stable() -> KeyOptions {
    KeyOptions::default()
}

fn volatile() -> KeyOptions {
    KeyOptions { volatile: true, ..KeyOptions::default() }
}

/// Every key (path as stored) and value of a hive, for comparisons.
fn dump(hive: &Hive) -> Vec<(String, Vec<(String, RawValue)>)> {
    let mut out = Vec::new();
    let mut pending = vec![KeyPath::root()];
    while let Some(at) = pending.pop() {
        out.push((at.to_string(), hive.values(&at).unwrap()));
        for name in hive.subkeys(&at).unwrap().into_iter().rev() {
            pending.push(at.child(&name).unwrap());
        }
    }
    out
}

#[test]
fn create_reports_new_or_existing_and_makes_the_keys_above() {
    let dir = tempfile::tempdir().unwrap();
    let mut hive = Hive::open(&dir.path().join("h.redb")).unwrap();
    assert_eq!(hive.create_key(&path(r"Software\Vendor\App"), &stable()).unwrap(), Disposition::CreatedNew);
    assert_eq!(hive.create_key(&path(r"SOFTWARE\vendor\APP"), &stable()).unwrap(), Disposition::OpenedExisting);
    hive.open_key(&path(r"software\VENDOR")).unwrap();
    assert_eq!(hive.open_key(&path(r"Software\Other")).unwrap_err().code, Win32Error::ERROR_FILE_NOT_FOUND);
    assert_eq!(hive.subkeys(&KeyPath::root()).unwrap(), ["Software"]);
}

#[test]
fn subkeys_enumerate_by_name_ignoring_case_and_keep_their_case() {
    let mut hive = Hive::in_memory();
    for name in ["beta", "Alpha", "gamma", "DELTA"] {
        hive.create_key(&path(&format!(r"K\{name}")), &stable()).unwrap();
    }
    assert_eq!(hive.subkeys(&path("k")).unwrap(), ["Alpha", "beta", "DELTA", "gamma"]);
}

#[test]
fn delete_refuses_a_key_with_subkeys_and_delete_tree_takes_everything() {
    let mut hive = Hive::in_memory();
    hive.create_key(&path(r"A\B\C"), &stable()).unwrap();
    hive.set_value(&path(r"A\B"), "v", RegValue::Dword(1).to_raw()).unwrap();
    assert_eq!(hive.delete_key(&path("A")).unwrap_err().code, Win32Error::ERROR_ACCESS_DENIED);
    assert_eq!(hive.delete_key(&KeyPath::root()).unwrap_err().code, Win32Error::ERROR_ACCESS_DENIED);
    hive.delete_key(&path(r"A\B\C")).unwrap();
    assert_eq!(hive.delete_key(&path(r"A\B\C")).unwrap_err().code, Win32Error::ERROR_FILE_NOT_FOUND);
    hive.create_key(&path(r"A\B\C\D"), &stable()).unwrap();
    hive.delete_tree(&path("a"), false).unwrap();
    assert_eq!(hive.open_key(&path("A")).unwrap_err().code, Win32Error::ERROR_FILE_NOT_FOUND);
    assert_eq!(hive.key_count(), 0);
    // A new key of the same name starts empty.
    hive.create_key(&path(r"A\B"), &stable()).unwrap();
    assert!(hive.values(&path(r"A\B")).unwrap().is_empty());
}

#[test]
fn values_keep_type_and_bytes_exactly_and_names_ignore_case() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("h.redb");
    let key = path(r"Software\App");
    let cases = [
        ("", RegValue::Sz("the default value".into()).to_raw()),
        ("Expand", RegValue::ExpandSz("%HOME%\\x".into()).to_raw()),
        ("Multi", RegValue::MultiSz(vec!["one".into(), "two".into()]).to_raw()),
        ("Dword", RegValue::Dword(0xDEAD_BEEF).to_raw()),
        ("BigEndian", RegValue::DwordBigEndian(7).to_raw()),
        ("Qword", RegValue::Qword(u64::MAX).to_raw()),
        ("Binary", RawValue { kind: REG_BINARY, data: (0..=255).collect() }),
        ("None", RawValue { kind: 0, data: vec![1, 2, 3] }),
        ("Unknown type", RawValue { kind: 0x4242, data: b"kept as it is".to_vec() }),
        ("Odd dword", RawValue { kind: REG_DWORD, data: vec![1, 2, 3] }),
        ("Sz without NUL", RawValue { kind: REG_SZ, data: vec![b'a', 0] }),
        ("Empty", RawValue { kind: REG_BINARY, data: Vec::new() }),
    ];
    {
        let mut hive = Hive::open(&file).unwrap();
        hive.create_key(&key, &stable()).unwrap();
        for (name, value) in &cases {
            hive.set_value(&key, name, value.clone()).unwrap();
        }
    }
    let hive = Hive::open(&file).unwrap();
    for (name, value) in &cases {
        assert_eq!(&hive.value(&key, &name.to_uppercase()).unwrap(), value, "{name:?}");
    }
    let names: Vec<String> = hive.values(&key).unwrap().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, cases.iter().map(|(n, _)| (*n).to_owned()).collect::<Vec<_>>(), "first-set order, case kept");
    assert_eq!(hive.value(&key, "missing").unwrap_err().code, Win32Error::ERROR_FILE_NOT_FOUND);
}

#[test]
fn a_replaced_value_keeps_its_place_and_a_deleted_one_goes() {
    let mut hive = Hive::in_memory();
    let k = path("K");
    hive.create_key(&k, &stable()).unwrap();
    for name in ["a", "b", "c"] {
        hive.set_value(&k, name, RegValue::Dword(1).to_raw()).unwrap();
    }
    hive.set_value(&k, "A", RegValue::Sz("new".into()).to_raw()).unwrap();
    hive.delete_value(&k, "B").unwrap();
    assert_eq!(hive.delete_value(&k, "b").unwrap_err().code, Win32Error::ERROR_FILE_NOT_FOUND);
    let values = hive.values(&k).unwrap();
    assert_eq!(values.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(), ["a", "c"], "the case it was made with");
    assert_eq!(RegValue::from_raw(&values[0].1), RegValue::Sz("new".into()));
}

#[test]
fn volatile_keys_never_reach_the_disk_and_cannot_hold_stable_ones() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("h.redb");
    {
        let mut hive = Hive::open(&file).unwrap();
        hive.create_key(&path("Stable"), &stable()).unwrap();
        hive.create_key(&path(r"Stable\Volatile"), &volatile()).unwrap();
        hive.create_key(&path(r"Gone\Deep"), &volatile()).unwrap();
        assert!(hive.info(&path("Gone")).unwrap().volatile, "a missing key above is made with the same options");
        let err = hive.create_key(&path(r"Stable\Volatile\Child"), &stable()).unwrap_err();
        assert_eq!(err.code, Win32Error::ERROR_CHILD_MUST_BE_VOLATILE);
        hive.create_key(&path(r"Stable\Volatile\Child"), &volatile()).unwrap();
        hive.set_value(&path(r"Stable\Volatile"), "v", RegValue::Dword(1).to_raw()).unwrap();
        hive.set_value(&path("Stable"), "kept", RegValue::Dword(2).to_raw()).unwrap();
        assert!(hive.info(&path(r"Stable\Volatile")).unwrap().volatile);
    }
    let hive = Hive::open(&file).unwrap();
    assert_eq!(hive.subkeys(&path("Stable")).unwrap(), Vec::<String>::new());
    assert_eq!(hive.subkeys(&KeyPath::root()).unwrap(), ["Stable"]);
    assert_eq!(RegValue::from_raw(&hive.value(&path("Stable"), "kept").unwrap()), RegValue::Dword(2));
}

#[test]
fn info_counts_subkeys_and_values_and_their_longest_names_and_data() {
    let mut hive = Hive::in_memory();
    let k = path("K");
    hive.create_key(&path(r"K\short"), &stable()).unwrap();
    hive.create_key(&path(r"K\a longer name"), &stable()).unwrap();
    hive.set_value(&k, "", RegValue::Binary(vec![0; 10]).to_raw()).unwrap();
    hive.set_value(&k, "value", RegValue::Binary(vec![0; 100]).to_raw()).unwrap();
    let info = hive.info(&k).unwrap();
    assert_eq!((info.subkeys, info.max_subkey_name), (2, 13));
    assert_eq!((info.values, info.max_value_name, info.max_value_data), (2, 5, 100));
}

#[test]
fn names_past_the_windows_limits_are_refused() {
    let mut hive = Hive::in_memory();
    let k = path("K");
    hive.create_key(&k, &stable()).unwrap();
    assert!(hive.set_value(&k, &"v".repeat(16_383), RegValue::Dword(1).to_raw()).is_ok());
    let err = hive.set_value(&k, &"v".repeat(16_384), RegValue::Dword(1).to_raw()).unwrap_err();
    assert_eq!(err.code, Win32Error::ERROR_INVALID_PARAMETER);
}

#[test]
fn a_hive_over_its_quota_refuses_growth_and_still_allows_what_shrinks_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut hive = Hive::open(&dir.path().join("h.redb")).unwrap();
    let k = path("K");
    hive.create_key(&k, &stable()).unwrap();
    let blob = |n: usize| RawValue { kind: REG_BINARY, data: vec![7; n] };
    hive.set_value(&k, "a", blob(600)).unwrap();
    hive.set_quota(Some(Quota { bytes: 1000, holder: "uid 1234".into() }));
    let err = hive.set_value(&k, "b", blob(600)).unwrap_err();
    assert_eq!(err.code, Win32Error::ERROR_NOT_ENOUGH_QUOTA);
    for part in ["uid 1234", "1000 bytes", "h.redb", "K"] {
        assert!(err.message.contains(part), "{part:?} in {err}");
    }
    let err = hive.create_key(&path(r"K\Volatile"), &volatile()).map(drop);
    assert!(err.is_ok(), "a small key fits: {err:?}");
    assert_eq!(hive.value(&k, "b").unwrap_err().code, Win32Error::ERROR_FILE_NOT_FOUND, "nothing of it was kept");
    hive.set_value(&k, "a", blob(100)).unwrap();
    hive.set_value(&k, "b", blob(100)).unwrap();
    // Lowered below what the hive holds: what does not grow it still works.
    hive.set_quota(Some(Quota { bytes: 10, holder: "uid 1234".into() }));
    hive.set_value(&k, "a", blob(50)).unwrap();
    hive.delete_value(&k, "b").unwrap();
    assert_eq!(hive.set_value(&k, "c", blob(1)).unwrap_err().code, Win32Error::ERROR_NOT_ENOUGH_QUOTA);
    hive.set_quota(None);
    hive.set_value(&k, "c", blob(5000)).unwrap();
}

/// Child side of the durability test: sets values one by one, saying so
/// after each call returns, until it is killed.
#[test]
fn durability_child() {
    let Ok(file) = std::env::var("REGISTRY_TEST_CHILD_FILE") else { return };
    let mut hive = Hive::open(std::path::Path::new(&file)).unwrap();
    let k = path("Durable");
    hive.create_key(&k, &stable()).unwrap();
    for i in 0u32.. {
        hive.set_value(&k, &format!("v{i}"), RegValue::Dword(i).to_raw()).unwrap();
        println!("SET {i}");
    }
}

#[test]
fn a_value_is_durable_when_the_call_returns_even_if_the_process_is_killed() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("h.redb");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["durability_child", "--exact", "--nocapture", "--test-threads=1"])
        .env("REGISTRY_TEST_CHILD_FILE", &file)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut last = None;
    while let Some(Ok(line)) = lines.next() {
        if let Some(n) = line.strip_prefix("SET ") {
            last = Some(n.parse::<u32>().unwrap());
            if last == Some(30) {
                break;
            }
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let last = last.expect("the child set values");
    let hive = Hive::open(&file).unwrap();
    for i in 0..=last {
        assert_eq!(RegValue::from_raw(&hive.value(&path("Durable"), &format!("v{i}")).unwrap()), RegValue::Dword(i));
    }
}

#[derive(Clone, Debug)]
enum Op {
    Create(u8, u8, bool),
    Set(u8, u8, u8, Vec<u8>),
    DeleteValue(u8, u8),
    DeleteKey(u8, u8),
    DeleteTree(u8),
}

fn key_of(a: u8, b: u8) -> KeyPath {
    path(&format!(r"K{}\S{}", a % 3, b % 3))
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (any::<u8>(), any::<u8>(), any::<bool>()).prop_map(|(a, b, v)| Op::Create(a, b, v)),
        (any::<u8>(), any::<u8>(), any::<u8>(), proptest::collection::vec(any::<u8>(), 0..16))
            .prop_map(|(a, b, n, d)| Op::Set(a, b, n, d)),
        (any::<u8>(), any::<u8>()).prop_map(|(a, n)| Op::DeleteValue(a, n)),
        (any::<u8>(), any::<u8>()).prop_map(|(a, b)| Op::DeleteKey(a, b)),
        any::<u8>().prop_map(Op::DeleteTree),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

    /// Whatever happens, a reopened hive holds exactly the stable part of
    /// what the open one held: nothing lost, nothing volatile kept.
    #[test]
    fn a_reopened_hive_holds_exactly_what_was_stable(ops in proptest::collection::vec(op(), 1..40)) {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("h.redb");
        let expected = {
            let mut hive = Hive::open(&file).unwrap();
            for op in ops {
                let _ = match op {
                    Op::Create(a, b, v) => hive.create_key(&key_of(a, b), &KeyOptions { volatile: v, ..KeyOptions::default() }).map(drop),
                    Op::Set(a, b, n, d) => hive.set_value(&key_of(a, b), &format!("v{}", n % 4), RawValue { kind: u32::from(n), data: d }),
                    Op::DeleteValue(a, n) => hive.delete_value(&key_of(a, a), &format!("v{}", n % 4)),
                    Op::DeleteKey(a, b) => hive.delete_key(&key_of(a, b)),
                    Op::DeleteTree(a) => hive.delete_tree(&path(&format!("K{}", a % 3)), false),
                };
            }
            // What should survive: the stable keys and their values.
            let mut stable_only = Hive::in_memory();
            for (key, values) in dump(&hive) {
                let at = path(&key);
                if !at.is_root() && hive.info(&at).unwrap().volatile {
                    continue;
                }
                stable_only.create_key(&at, &KeyOptions::default()).unwrap();
                for (name, value) in values {
                    stable_only.set_value(&at, &name, value).unwrap();
                }
            }
            dump(&stable_only)
        };
        let reopened = Hive::open(&file).unwrap();
        prop_assert_eq!(dump(&reopened), expected);
    }
}
