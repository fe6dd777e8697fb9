//! Users and groups, read from `/etc/passwd` and `/etc/group`.

use std::fs;

/// A user and the groups it belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserInfo {
    /// Login name (empty when the uid has no entry).
    pub name: String,
    /// User id.
    pub uid: u32,
    /// Primary group.
    pub gid: u32,
    /// Supplementary groups.
    pub groups: Vec<u32>,
}

/// Looks a user up by name or by decimal uid. A numeric uid without a passwd
/// entry is still a user: its primary group is then taken to equal its uid.
pub fn lookup_user(who: &str) -> Option<UserInfo> {
    let passwd = fs::read_to_string("/etc/passwd").unwrap_or_default();
    let group = fs::read_to_string("/etc/group").unwrap_or_default();
    lookup_in(who, &passwd, &group)
}

fn lookup_in(who: &str, passwd: &str, group: &str) -> Option<UserInfo> {
    let numeric: Option<u32> = who.parse().ok();
    let entry = passwd.lines().find_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        let (name, uid, gid) = (f.first()?, f.get(2)?.parse::<u32>().ok()?, f.get(3)?.parse::<u32>().ok()?);
        (*name == who || numeric == Some(uid)).then(|| (name.to_string(), uid, gid))
    });
    let (name, uid, gid) = match (entry, numeric) {
        (Some(e), _) => e,
        (None, Some(uid)) => (String::new(), uid, uid),
        (None, None) => return None,
    };
    let groups = group
        .lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split(':').collect();
            let gid = f.get(2)?.parse::<u32>().ok()?;
            let members = f.get(3)?;
            (!name.is_empty() && members.split(',').any(|m| m == name)).then_some(gid)
        })
        .collect();
    Some(UserInfo { name, uid, gid, groups })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/sh\n";
    const GROUP: &str = "root:x:0:\nstaff:x:50:alice,bob\nalice:x:1000:\naudio:x:29:carol\n";

    #[test]
    fn finds_by_name_with_supplementary_groups() {
        let u = lookup_in("alice", PASSWD, GROUP).unwrap();
        assert_eq!((u.uid, u.gid, u.groups), (1000, 1000, vec![50]));
    }

    #[test]
    fn finds_by_uid_and_accepts_unknown_numeric_uid() {
        assert_eq!(lookup_in("0", PASSWD, GROUP).unwrap().name, "root");
        let ghost = lookup_in("4321", PASSWD, GROUP).unwrap();
        assert_eq!((ghost.uid, ghost.gid, ghost.groups.len()), (4321, 4321, 0));
        assert!(lookup_in("nobody-here", PASSWD, GROUP).is_none());
    }
}
