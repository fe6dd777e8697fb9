//! Naming the system realm from the shell: `--system` and
//! `SWITCHBOARD_REALM=system` reach it, and a client that is not root never
//! starts a broker there but says that the system broker is not running.

mod common;

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

use common::{CLI, stderr};

/// Runs `switchboard ARGS` with `env` as a user who is not root (nobody, when
/// the tests run as root), with auto-start allowed.
fn run_as_non_root(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = Command::new(CLI);
    cmd.args(args)
        .envs(env.iter().copied())
        .env_remove("SWITCHBOARD_SOCKET")
        .env_remove("SWITCHBOARD_NO_AUTOSTART")
        .stdin(Stdio::null());
    if switchboard_sys::current_uid() == 0 {
        cmd.uid(65_534).gid(65_534);
    }
    cmd.output().expect("run switchboard")
}

#[test]
fn system_realm_as_non_root_is_reported_not_running_instead_of_starting_a_broker() {
    if Path::new(switchboard_sys::realm::SYSTEM_DIR).exists() {
        eprintln!("skipped: this machine has a system realm, which this test must not touch");
        return;
    }
    let by_flag = (&["--system", "event", "create", "E"][..], &[][..]);
    let by_env = (&["event", "create", "E"][..], &[("SWITCHBOARD_REALM", "system")][..]);
    for (args, env) in [by_flag, by_env] {
        let out = run_as_non_root(args, env);
        let said = stderr(&out);
        assert_eq!(out.status.code(), Some(3), "{args:?} {env:?}: {said}");
        assert!(said.contains("the system broker is not running"), "{said}");
        assert!(said.contains("/run/switchboard/broker.sock"), "{said}");
        assert!(said.contains("switchboardd --system"), "{said}");
        assert!(!Path::new(switchboard_sys::realm::SYSTEM_DIR).exists(), "a broker made the system realm");
    }
}
