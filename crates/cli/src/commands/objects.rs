//! Looking at the broker and its namespace: `status`, `ls`, `tree`, `show`,
//! `handles`, `access`.

use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;
use switchboard::admin::{AccessReport, BrokerStatus, DirEntry, HandleInfo};
use switchboard::admin::{UserInfo, lookup_user};
use switchboard::{Connection, Error, ErrorKind, Result, Win32Error};

use super::{Ctx, Done};
use crate::duration::format_uptime;
use crate::output::{Table, key_values, mask};

/// The directory program names such as `E` resolve in: this user's session's.
pub fn default_directory() -> String {
    switchboard::admin::session_directory(switchboard::admin::current_uid())
}

/// `status`: never starts a broker, so "nothing running" is an answer (exit 3).
pub fn status(ctx: &Ctx) -> Result<Done> {
    let conn = ctx.connect_existing()?;
    let status = conn.status()?;
    ctx.emit(&status, || status_text(&status))?;
    Ok(Done::Ok)
}

fn status_text(s: &BrokerStatus) -> String {
    let objects = if s.objects.is_empty() {
        "none".to_owned()
    } else {
        s.objects.iter().map(|(kind, n)| format!("{kind} {n}")).collect::<Vec<_>>().join(", ")
    };
    key_values(&[
        ("broker", "running".to_owned()),
        ("pid", s.pid.to_string()),
        ("version", s.version.clone()),
        ("protocol", s.protocol.to_string()),
        ("uptime", format_uptime(Duration::from_millis(s.uptime_ms))),
        ("realm", s.realm.clone()),
        ("socket", s.socket.clone()),
        ("clients", s.clients.to_string()),
        ("handles", s.handles.to_string()),
        ("objects", objects),
        ("atoms", s.atoms.to_string()),
    ])
}

#[derive(Serialize)]
struct Listing<'a> {
    path: &'a str,
    entries: &'a [DirEntry],
}

/// `ls [PATH]`.
pub fn ls(ctx: &Ctx, path: &str) -> Result<Done> {
    let conn = ctx.connect_existing()?;
    let entries = conn.list_directory(path)?;
    ctx.emit(&Listing { path, entries: &entries }, || {
        let mut table = Table::new(&["NAME", "KIND", "HANDLES"]);
        for e in &entries {
            // `-`: an object whose security the caller may not read.
            let handles = e.handles.map_or_else(|| "-".to_owned(), |n| n.to_string());
            let mut row = vec![e.name.clone(), e.kind.to_string(), handles];
            if let Some(target) = &e.target {
                row.push(format!("-> {target}"));
            }
            table.row(row);
        }
        table.render()
    })?;
    Ok(Done::Ok)
}

#[derive(Serialize)]
struct TreeNode {
    #[serde(flatten)]
    entry: DirEntry,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    children: Vec<TreeNode>,
}

fn is_directory(entry: &DirEntry) -> bool {
    // `ObjectKind` is not re-exported by the client library; its NT type name is.
    entry.kind.type_name() == "Directory"
}

fn child_path(parent: &str, name: &str) -> String {
    if parent.ends_with('\\') { format!("{parent}{name}") } else { format!("{parent}\\{name}") }
}

/// Lists `path` and every real directory below it; symbolic links are shown,
/// not followed, so the walk ends.
fn walk(conn: &Connection, path: &str) -> Result<Vec<TreeNode>> {
    let mut nodes = Vec::new();
    for entry in conn.list_directory(path)? {
        let children = if is_directory(&entry) { walk(conn, &child_path(path, &entry.name))? } else { Vec::new() };
        nodes.push(TreeNode { entry, children });
    }
    Ok(nodes)
}

fn tree_text(nodes: &[TreeNode], depth: usize, text: &mut String) {
    for node in nodes {
        let e = &node.entry;
        let indent = "  ".repeat(depth);
        let _ = match &e.target {
            Some(target) => writeln!(text, "{indent}{}  ({}) -> {target}", e.name, e.kind),
            None => match e.handles {
                Some(1) => writeln!(text, "{indent}{}  ({}, 1 handle)", e.name, e.kind),
                Some(n) if n > 1 => writeln!(text, "{indent}{}  ({}, {n} handles)", e.name, e.kind),
                _ => writeln!(text, "{indent}{}  ({})", e.name, e.kind),
            },
        };
        tree_text(&node.children, depth + 1, text);
    }
}

#[derive(Serialize)]
struct Tree<'a> {
    path: &'a str,
    children: Vec<TreeNode>,
}

/// `tree [PATH]`.
pub fn tree(ctx: &Ctx, path: &str) -> Result<Done> {
    let conn = ctx.connect_existing()?;
    let tree = Tree { path, children: walk(&conn, path)? };
    ctx.emit(&tree, || {
        let mut text = format!("{path}\n");
        tree_text(&tree.children, 1, &mut text);
        text
    })?;
    Ok(Done::Ok)
}

fn holders_table(handles: &[HandleInfo], with_object: bool) -> String {
    let mut table = if with_object {
        Table::new(&["PID", "UID", "HANDLE", "KIND", "ACCESS", "PATH"])
    } else {
        Table::new(&["PID", "UID", "HANDLE", "ACCESS"])
    };
    for h in handles {
        let mut row = vec![h.pid.to_string(), h.uid.to_string(), h.handle.to_string()];
        if with_object {
            row.extend([h.kind.to_string(), mask(h.access), h.path.clone().unwrap_or_else(|| "(unnamed)".to_owned())]);
        } else {
            row.push(mask(h.access));
        }
        table.row(row);
    }
    table.render()
}

/// `show NAME`.
pub fn show(ctx: &Ctx, name: &str) -> Result<Done> {
    let conn = ctx.connect_existing()?;
    let info = conn.show(name)?;
    ctx.emit(&info, || {
        let mut text = key_values(&[
            ("kind", info.kind.to_string()),
            ("path", info.path.clone()),
            ("state", info.state.clone()),
            ("sddl", info.sddl.clone()),
            ("holders", info.holders.len().to_string()),
        ]);
        if !info.holders.is_empty() {
            for line in holders_table(&info.holders, false).lines() {
                let _ = writeln!(text, "  {line}");
            }
        }
        text
    })?;
    Ok(Done::Ok)
}

/// `handles [--pid P]`.
pub fn handles(ctx: &Ctx, pid: Option<u32>) -> Result<Done> {
    let conn = ctx.connect_existing()?;
    let handles = conn.handles(pid)?;
    ctx.emit(&handles, || holders_table(&handles, true))?;
    Ok(Done::Ok)
}

#[derive(Serialize)]
struct UserJson<'a> {
    name: &'a str,
    uid: u32,
    gid: u32,
    groups: &'a [u32],
}

#[derive(Serialize)]
struct AccessJson<'a> {
    user: UserJson<'a>,
    #[serde(flatten)]
    report: &'a AccessReport,
    /// Index of the ACE that decided: the last step that granted or denied anything.
    decided_by: Option<u32>,
}

/// The ACE that decided: the last step that granted or denied something.
fn deciding_step(report: &AccessReport) -> Option<&switchboard::admin::AccessStep> {
    report.steps.iter().rev().find(|s| !s.granted.is_empty() || !s.denied.is_empty())
}

/// `access NAME --user U`.
pub fn access(ctx: &Ctx, name: &str, who: &str) -> Result<Done> {
    let user = lookup_user(who).ok_or_else(|| {
        Error::new(
            ErrorKind::InvalidArgument,
            Win32Error::ERROR_INVALID_PARAMETER,
            "LookupAccountName",
            Some(who),
            "no such user (not a name in /etc/passwd, nor a uid)",
        )
    })?;
    let conn = ctx.connect_existing()?;
    let report = conn.check_access(name, user.uid, user.gid, user.groups.clone())?;
    let json = AccessJson {
        user: UserJson { name: &user.name, uid: user.uid, gid: user.gid, groups: &user.groups },
        report: &report,
        decided_by: deciding_step(&report).map(|s| s.index),
    };
    ctx.emit(&json, || access_text(&user, &report))?;
    Ok(Done::Ok)
}

fn yes_no(b: bool) -> String {
    (if b { "yes" } else { "no" }).to_owned()
}

fn access_text(user: &UserInfo, r: &AccessReport) -> String {
    let who =
        if user.name.is_empty() { format!("uid {}", user.uid) } else { format!("{} (uid {})", user.name, user.uid) };
    let verdict = match r.granted {
        g if g.is_empty() => " (no access)",
        g if g == r.all_access => " (full access)",
        _ => "",
    };
    let mut text = key_values(&[
        ("object", format!("{} ({})", r.path, r.kind)),
        ("user", format!("{who}, gid {}", user.gid)),
        ("sddl", r.sddl.clone()),
        ("granted", format!("{}{verdict}", mask(r.granted))),
        ("all access", mask(r.all_access)),
        ("null dacl", yes_no(r.null_dacl)),
        ("owner implicit", mask(r.owner_implicit)),
    ]);
    for step in &r.steps {
        let _ =
            writeln!(text, "#{} {} granted {} denied {}", step.index, step.ace, mask(step.granted), mask(step.denied));
    }
    let decision = match deciding_step(r) {
        Some(step) => format!("decided by ACE #{} {}", step.index, step.ace),
        None if r.steps.is_empty() && r.null_dacl => {
            "no ACE names this user (the DACL is NULL: everyone has full access)".to_owned()
        }
        None if r.steps.is_empty() => "no ACE names this user".to_owned(),
        None => "no matching ACE granted or denied anything new".to_owned(),
    };
    text.push_str(&decision);
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn child_paths_join_with_one_backslash() {
        assert_eq!(child_path("\\", "Sessions"), "\\Sessions");
        assert_eq!(child_path("\\Sessions", "1"), "\\Sessions\\1");
    }
}
