//! The layering rules of `../shared/DESIGN.md` §2, enforced: a crate that
//! gains a forbidden dependency, or a way to write `unsafe` outside `sys`,
//! fails this test.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Crates that do no I/O: protocol and data, driven by their callers.
const PURE: &[&str] = &["switchboard-types", "switchboard-proto", "switchboard-rpc-proto"];
/// What a pure crate may never depend on.
const IO: &[&str] = &["switchboard-sys", "mio", "tokio", "rustix", "libc", "switchboard", "switchboard-broker"];
/// What the broker may never depend on: clients, runtimes, gateways, the C ABI.
const NOT_IN_BROKER: &[&str] =
    &["switchboard", "switchboard-rpc", "switchboard-cli", "switchboard-testkit", "switchboard-win32", "tokio"];
/// The only crates allowed `unsafe` (DESIGN.md: `sys`, later `win32`).
const UNSAFE_ALLOWED: &[&str] = &["switchboard-sys", "switchboard-win32"];

struct Package {
    manifest: PathBuf,
    /// Normal (not dev, not build) dependencies.
    deps: Vec<String>,
}

fn workspace() -> BTreeMap<String, Package> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--no-deps", "--offline"])
        .current_dir(&root)
        .output()
        .expect("run cargo metadata");
    assert!(out.status.success(), "cargo metadata: {}", String::from_utf8_lossy(&out.stderr));
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("cargo metadata's JSON");
    let mut packages = BTreeMap::new();
    for p in meta["packages"].as_array().expect("packages") {
        let deps = p["dependencies"]
            .as_array()
            .expect("dependencies")
            .iter()
            .filter(|d| d["kind"].is_null())
            .filter_map(|d| d["name"].as_str().map(str::to_owned))
            .collect();
        let name = p["name"].as_str().expect("name").to_owned();
        packages.insert(name, Package { manifest: p["manifest_path"].as_str().expect("manifest").into(), deps });
    }
    packages
}

#[test]
fn pure_crates_depend_on_no_io_crate() {
    let packages = workspace();
    for name in PURE {
        let package = packages.get(*name).unwrap_or_else(|| panic!("{name} is not in the workspace"));
        let bad: Vec<&String> = package.deps.iter().filter(|d| IO.contains(&d.as_str())).collect();
        assert!(bad.is_empty(), "{name} is pure but depends on {bad:?}");
    }
}

#[test]
fn the_broker_depends_on_no_client_runtime_gateway_or_c_abi_crate() {
    let packages = workspace();
    let broker = &packages["switchboard-broker"];
    let bad: Vec<&String> = broker.deps.iter().filter(|d| NOT_IN_BROKER.contains(&d.as_str())).collect();
    assert!(bad.is_empty(), "the broker depends on {bad:?}");
}

#[test]
fn only_sys_may_contain_unsafe() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let workspace_manifest = std::fs::read_to_string(root.join("Cargo.toml")).expect("the workspace's Cargo.toml");
    assert!(workspace_manifest.contains("unsafe_code = \"forbid\""), "the workspace lints must forbid unsafe_code");
    for (name, package) in workspace() {
        if UNSAFE_ALLOWED.contains(&name.as_str()) {
            continue;
        }
        let manifest = std::fs::read_to_string(&package.manifest).expect("a crate's Cargo.toml");
        // The workspace's lints forbid unsafe code, and `forbid` cannot be
        // lifted by an `#[allow]` in the source: a crate that takes them
        // cannot contain `unsafe`.
        let takes_workspace_lints = manifest.split("[lints]").nth(1).is_some_and(|rest| {
            rest.lines().map(str::trim).take_while(|l| !l.starts_with('[')).any(|l| l == "workspace = true")
        });
        assert!(takes_workspace_lints, "{name} does not take the workspace's lints, which forbid unsafe code");
    }
}
