//! The object namespace: directories, symbolic links and named objects, as
//! in the NT object manager.
//!
//! ```text
//! \BaseNamedObjects                    the realm's global directory ("Global\")
//!     Global -> \BaseNamedObjects, Local -> \BaseNamedObjects, Session -> \Sessions\BNOLINKS
//! \Sessions\<uid>\BaseNamedObjects     user <uid>'s session directory ("Local\"), private
//!     Global -> \BaseNamedObjects, Local -> \Sessions\<uid>\BaseNamedObjects,
//!     Session -> \Sessions\BNOLINKS
//! \Sessions\BNOLINKS\<uid> -> \Sessions\<uid>\BaseNamedObjects
//! \Device\NamedPipe, \Device\Mailslot
//! ```
//!
//! # Logon sessions
//!
//! Each user (uid) is one logon session, numbered by its uid: root's is
//! session 0, uid 1000's session 1000. A program's names resolve from its
//! user's session directory ([`NamespacePath::session_objects`]), which the
//! broker makes when that user's first client connects
//! ([`Namespace::ensure_session`]) and keeps for its own life: a handful of
//! entries per user that ever connected, and only existing accounts can.
//! The directory's security descriptor gives its user and root (Administrators)
//! `GENERIC_ALL` and nobody else anything. Looking a name up in a directory
//! that has a security descriptor needs `DIRECTORY_TRAVERSE` and creating one
//! there `DIRECTORY_CREATE_OBJECT`, so another user can neither squat a name
//! that a user's program will create under `Local\` nor open one, not even
//! through `Session\<uid>\…` or `Global\Session\<uid>\…`, whatever the
//! object's own DACL says. `Global\` names stay shared by every user, guarded
//! by each object's DACL. Directories without a descriptor (the global one,
//! `\Sessions`, `\Device\…`) are open to everyone, as before.
//!
//! Absolute paths ([`Namespace::resolve_path`]) serve the diagnostics (`ls`,
//! `tree`, `show`, `access`) and are not access-checked: they show the whole
//! realm, other users' sessions included.
//!
//! # Windows equivalent
//!
//! The layout is Windows' (`\Sessions\<n>\BaseNamedObjects`, the
//! `\Sessions\BNOLINKS` links), with the uid for the session number. Where
//! we differ:
//! - Windows' session directories let everyone traverse them, so an object
//!   in another session is guarded by its own DACL alone and `Session\<n>\x`
//!   reaches it; here another user is refused at the directory
//!   (`ERROR_ACCESS_DENIED`), so a careless DACL on a `Local\` object does not
//!   expose it.
//! - On Windows a program in session 0 (services) resolves an unprefixed name
//!   in `\BaseNamedObjects`; programs in any other session resolve it in their
//!   session, as `Local\`. Here every session follows the second rule, root's
//!   included: `x` is `Local\x` for everyone (SEMANTICS.md §0), and services
//!   share names through `Global\`.

use std::collections::{BTreeMap, HashMap};

use switchboard_proto::WireError;
use switchboard_types::access::AccessMask;
use switchboard_types::access::directory::{self, DIRECTORY_CREATE_OBJECT, DIRECTORY_TRAVERSE};
use switchboard_types::security::{Ace, AceFlags, AceKind, SecurityDescriptor, Sid, Token};
use switchboard_types::{NamespacePath, ObjectKind, ObjectName, Win32Error};

use super::objects::ObjectId;

/// The global directory.
pub const GLOBAL_DIR: &str = "\\BaseNamedObjects";
/// Where `Session\<n>` leads: one link per session to its directory.
const BNOLINKS: &str = "\\Sessions\\BNOLINKS";

/// Links followed in one lookup before giving up (a loop guard).
const MAX_LINK_HOPS: usize = 32;

/// What a directory entry is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Node {
    /// A subdirectory.
    Directory,
    /// A symbolic link to an absolute path.
    Link(NamespacePath),
    /// A named object.
    Object(ObjectId),
}

#[derive(Clone, Debug)]
struct Entry {
    display: String,
    node: Node,
}

#[derive(Clone, Debug, Default)]
struct Dir {
    case_insensitive: bool,
    /// `None`: open to everyone (no access check).
    security: Option<SecurityDescriptor>,
    entries: BTreeMap<String, Entry>,
}

impl Dir {
    fn key(&self, name: &str) -> String {
        if self.case_insensitive { name.to_uppercase() } else { name.to_owned() }
    }

    /// Whether `who` (`None`: the broker itself) may have `right` here.
    fn check(&self, at: &NamespacePath, who: Option<&Token>, right: AccessMask) -> Result<(), WireError> {
        let (Some(sd), Some(token)) = (&self.security, who) else {
            return Ok(());
        };
        sd.access_check(token, right, &directory::MAPPING).map(|_| ()).map_err(|denied| {
            WireError::new(Win32Error::ERROR_ACCESS_DENIED, format!("{at} is not open to uid {}: {denied}", token.uid))
        })
    }
}

/// A session directory's descriptor: its user and root, nobody else.
fn session_security(uid: u32) -> SecurityDescriptor {
    let all = |sid| Ace { kind: AceKind::Allow, flags: AceFlags::default(), mask: AccessMask::GENERIC_ALL, sid };
    SecurityDescriptor {
        owner: Sid::UnixUser(uid),
        group: None,
        dacl: Some(vec![all(Sid::UnixUser(uid)), all(Sid::Administrators)]),
        dacl_protected: true,
    }
}

/// Where a name leads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resolved {
    /// An existing entry.
    Found { path: NamespacePath, node: Node },
    /// No entry, but the directory exists: the name can be created there.
    Vacant { dir: NamespacePath, name: String },
}

/// The namespace tree.
#[derive(Debug)]
pub struct Namespace {
    dirs: HashMap<String, Dir>,
}

fn path(s: &str) -> NamespacePath {
    match NamespacePath::parse(s) {
        Ok(p) => p,
        Err(e) => unreachable!("built-in path {s} is valid: {e}"),
    }
}

impl Default for Namespace {
    fn default() -> Self {
        Self::new()
    }
}

impl Namespace {
    /// The built-in tree, without any session: each comes with its user's
    /// first client ([`Namespace::ensure_session`]).
    pub fn new() -> Self {
        let mut ns = Self { dirs: HashMap::new() };
        ns.dirs.insert("\\".into(), Dir::default());
        for dir in [GLOBAL_DIR, "\\Sessions", BNOLINKS, "\\Device"] {
            ns.add_dir(dir, false, None);
        }
        ns.add_dir("\\Device\\NamedPipe", true, None);
        ns.add_dir("\\Device\\Mailslot", true, None);
        ns.add_link(GLOBAL_DIR, "Global", GLOBAL_DIR);
        ns.add_link(GLOBAL_DIR, "Local", GLOBAL_DIR);
        ns.add_link(GLOBAL_DIR, "Session", BNOLINKS);
        ns
    }

    /// Makes logon session `uid`'s directory, private to that user and root,
    /// unless it exists.
    pub fn ensure_session(&mut self, uid: u32) {
        let objects = NamespacePath::session_objects(uid);
        if self.dirs.contains_key(objects.as_str()) {
            return;
        }
        let (session, _) = split_parent(&objects);
        self.add_dir(session.as_str(), false, None);
        self.add_dir(objects.as_str(), false, Some(session_security(uid)));
        self.add_link(objects.as_str(), "Global", GLOBAL_DIR);
        self.add_link(objects.as_str(), "Local", objects.as_str());
        self.add_link(objects.as_str(), "Session", BNOLINKS);
        self.add_link(BNOLINKS, &uid.to_string(), objects.as_str());
    }

    fn add_dir(&mut self, full: &str, case_insensitive: bool, security: Option<SecurityDescriptor>) {
        let p = path(full);
        let (parent, name) = split_parent(&p);
        self.insert(&parent, name, Node::Directory);
        self.dirs.insert(full.to_owned(), Dir { case_insensitive, security, entries: BTreeMap::new() });
    }

    fn add_link(&mut self, dir: &str, name: &str, target: &str) {
        self.insert(&path(dir), name, Node::Link(path(target)));
    }

    fn insert(&mut self, dir: &NamespacePath, name: &str, node: Node) {
        if let Some(d) = self.dirs.get_mut(dir.as_str()) {
            let key = d.key(name);
            d.entries.insert(key, Entry { display: name.to_owned(), node });
        }
    }

    /// Resolves a program's object name as user `who` does: from its
    /// session directory, checking `DIRECTORY_TRAVERSE` on each directory
    /// that has a security descriptor.
    pub fn resolve_name(&self, who: &Token, name: &ObjectName) -> Result<Resolved, WireError> {
        self.resolve(&NamespacePath::session_objects(who.uid), name.components(), Some(who))
    }

    /// Resolves an absolute path for diagnostics, without access checks.
    pub fn resolve_path(&self, p: &NamespacePath) -> Result<Resolved, WireError> {
        if p.components().next().is_none() {
            return Ok(Resolved::Found { path: NamespacePath::root(), node: Node::Directory });
        }
        self.resolve(&NamespacePath::root(), p.components(), None)
    }

    /// Whether `who` may create a named object in `dir` (a place
    /// [`Namespace::resolve_name`] found vacant).
    pub fn check_create(&self, who: &Token, dir: &NamespacePath) -> Result<(), WireError> {
        self.dirs.get(dir.as_str()).ok_or_else(|| not_a_dir(dir))?.check(dir, Some(who), DIRECTORY_CREATE_OBJECT)
    }

    fn resolve<'a>(
        &self,
        start: &NamespacePath,
        components: impl Iterator<Item = &'a str>,
        who: Option<&Token>,
    ) -> Result<Resolved, WireError> {
        let mut pending: Vec<String> = components.map(str::to_owned).collect();
        pending.reverse();
        let mut dir = start.clone();
        let mut hops = 0;
        while let Some(component) = pending.pop() {
            let d = self.dirs.get(dir.as_str()).ok_or_else(|| not_a_dir(&dir))?;
            d.check(&dir, who, DIRECTORY_TRAVERSE)?;
            let Some(entry) = d.entries.get(&d.key(&component)) else {
                if pending.is_empty() {
                    return Ok(Resolved::Vacant { dir, name: component });
                }
                return Err(WireError::new(
                    Win32Error::ERROR_PATH_NOT_FOUND,
                    format!("there is no directory {component:?} in {dir}"),
                ));
            };
            let here = dir.join(&entry.display);
            match (&entry.node, pending.is_empty()) {
                (Node::Directory, false) => dir = here,
                (Node::Link(target), false) => {
                    hops += 1;
                    if hops > MAX_LINK_HOPS {
                        return Err(WireError::new(
                            Win32Error::ERROR_PATH_NOT_FOUND,
                            "too many symbolic links".to_owned(),
                        ));
                    }
                    dir = NamespacePath::root();
                    pending.extend(target.components().rev().map(str::to_owned));
                }
                (Node::Object(_), false) => return Err(not_a_dir(&here)),
                (node, true) => {
                    return Ok(Resolved::Found { path: here, node: node.clone() });
                }
            }
        }
        Ok(Resolved::Found { path: dir, node: Node::Directory })
    }

    /// Enters a new named object at a vacant place.
    pub fn insert_object(&mut self, dir: &NamespacePath, name: &str, id: ObjectId) -> NamespacePath {
        self.insert(dir, name, Node::Object(id));
        dir.join(name)
    }

    /// Removes a named object's entry (its last handle closed).
    pub fn remove(&mut self, full: &NamespacePath) {
        let (parent, name) = split_parent(full);
        if let Some(d) = self.dirs.get_mut(parent.as_str()) {
            let key = d.key(name);
            d.entries.remove(&key);
        }
    }

    /// The entries of a directory, in name order.
    pub fn list(&self, dir: &NamespacePath) -> Option<Vec<(String, Node)>> {
        let d = self.dirs.get(dir.as_str())?;
        Some(d.entries.values().map(|e| (e.display.clone(), e.node.clone())).collect())
    }

    /// Counts of directories and links, for status.
    pub fn counts(&self) -> Vec<(ObjectKind, u32)> {
        let links =
            self.dirs.values().flat_map(|d| d.entries.values()).filter(|e| matches!(e.node, Node::Link(_))).count();
        vec![(ObjectKind::Directory, self.dirs.len() as u32), (ObjectKind::SymbolicLink, links as u32)]
    }
}

fn split_parent(p: &NamespacePath) -> (NamespacePath, &str) {
    let s = p.as_str();
    let cut = s.rfind('\\').unwrap_or(0);
    let parent = if cut == 0 { NamespacePath::root() } else { path(&s[..cut]) };
    (parent, &s[cut + 1..])
}

fn not_a_dir(at: &NamespacePath) -> WireError {
    WireError::new(Win32Error::ERROR_PATH_NOT_FOUND, format!("{at} is not a directory"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const USER: u32 = 1000;

    fn token(uid: u32) -> Token {
        Token { uid, gid: uid, groups: Vec::new() }
    }

    fn name(s: &str) -> ObjectName {
        ObjectName::parse(s).unwrap()
    }

    /// A namespace where `USER` and `OTHER` have connected.
    fn with_sessions() -> Namespace {
        let mut ns = Namespace::new();
        ns.ensure_session(USER);
        ns.ensure_session(OTHER);
        ns
    }

    const OTHER: u32 = 65_534;

    fn session(uid: u32) -> String {
        NamespacePath::session_objects(uid).as_str().to_owned()
    }

    fn vacant(ns: &Namespace, s: &str) -> (String, String) {
        match ns.resolve_name(&token(USER), &name(s)).unwrap() {
            Resolved::Vacant { dir, name } => (dir.as_str().to_owned(), name),
            other @ Resolved::Found { .. } => panic!("{other:?}"),
        }
    }

    #[test]
    fn local_prefix_and_unprefixed_names_are_the_users_session_directory() {
        let ns = with_sessions();
        assert_eq!(vacant(&ns, "x"), (session(USER), "x".to_owned()));
        assert_eq!(vacant(&ns, "Local\\x"), (session(USER), "x".to_owned()));
        assert_eq!(session(USER), "\\Sessions\\1000\\BaseNamedObjects");
    }

    #[test]
    fn global_prefix_is_the_global_directory() {
        let ns = with_sessions();
        assert_eq!(vacant(&ns, "Global\\x"), (GLOBAL_DIR.to_owned(), "x".to_owned()));
        assert_eq!(vacant(&ns, "Global\\Local\\x"), (GLOBAL_DIR.to_owned(), "x".to_owned()));
    }

    #[test]
    fn unknown_prefix_is_path_not_found() {
        let ns = with_sessions();
        let e = ns.resolve_name(&token(USER), &name("Bogus\\n")).unwrap_err();
        assert_eq!(e.code, Win32Error::ERROR_PATH_NOT_FOUND);
    }

    #[test]
    fn prefixes_are_case_sensitive() {
        let ns = with_sessions();
        let e = ns.resolve_name(&token(USER), &name("local\\x")).unwrap_err();
        assert_eq!(e.code, Win32Error::ERROR_PATH_NOT_FOUND);
    }

    #[test]
    fn object_in_the_middle_of_a_path_is_path_not_found() {
        let mut ns = with_sessions();
        ns.insert_object(&path(&session(USER)), "E", ObjectId(1));
        let e = ns.resolve_name(&token(USER), &name("E\\x")).unwrap_err();
        assert_eq!(e.code, Win32Error::ERROR_PATH_NOT_FOUND);
    }

    #[test]
    fn inserted_object_is_found_and_removed() {
        let mut ns = with_sessions();
        let me = token(USER);
        let full = ns.insert_object(&path(&session(USER)), "E", ObjectId(1));
        assert_eq!(full.as_str(), "\\Sessions\\1000\\BaseNamedObjects\\E");
        assert_eq!(
            ns.resolve_name(&me, &name("Local\\E")).unwrap(),
            Resolved::Found { path: full.clone(), node: Node::Object(ObjectId(1)) }
        );
        assert!(matches!(ns.resolve_name(&me, &name("e")).unwrap(), Resolved::Vacant { .. }));
        ns.remove(&full);
        assert!(matches!(ns.resolve_name(&me, &name("E")).unwrap(), Resolved::Vacant { .. }));
    }

    #[test]
    fn each_user_resolves_local_names_in_its_own_session() {
        let mut ns = with_sessions();
        ns.insert_object(&path(&session(USER)), "E", ObjectId(1));
        match ns.resolve_name(&token(OTHER), &name("Local\\E")).unwrap() {
            Resolved::Vacant { dir, .. } => assert_eq!(dir.as_str(), session(OTHER)),
            found @ Resolved::Found { .. } => panic!("the other user reached {found:?}"),
        }
    }

    #[test]
    fn another_users_session_is_access_denied_even_through_session_links() {
        let mut ns = with_sessions();
        ns.insert_object(&path(&session(USER)), "E", ObjectId(1));
        for through in ["Session\\1000\\E", "Global\\Session\\1000\\E", "Session\\1000\\new"] {
            let e = ns.resolve_name(&token(OTHER), &name(through)).unwrap_err();
            assert_eq!(e.code, Win32Error::ERROR_ACCESS_DENIED, "{through}");
        }
        let own = ns.resolve_name(&token(USER), &name("Session\\1000\\E")).unwrap();
        assert!(matches!(own, Resolved::Found { node: Node::Object(ObjectId(1)), .. }));
    }

    #[test]
    fn root_reaches_every_session_and_creates_in_its_own() {
        let mut ns = with_sessions();
        ns.ensure_session(0);
        ns.insert_object(&path(&session(USER)), "E", ObjectId(1));
        let root = token(0);
        assert!(matches!(ns.resolve_name(&root, &name("Session\\1000\\E")).unwrap(), Resolved::Found { .. }));
        assert_eq!(vacant_for(&ns, &root, "x"), session(0));
        ns.check_create(&root, &path(&session(0))).unwrap();
    }

    fn vacant_for(ns: &Namespace, who: &Token, s: &str) -> String {
        match ns.resolve_name(who, &name(s)).unwrap() {
            Resolved::Vacant { dir, .. } => dir.as_str().to_owned(),
            other @ Resolved::Found { .. } => panic!("{other:?}"),
        }
    }

    #[test]
    fn only_the_user_and_root_may_create_in_a_session_and_anyone_in_the_global_directory() {
        let ns = with_sessions();
        let mine = path(&session(USER));
        ns.check_create(&token(USER), &mine).unwrap();
        ns.check_create(&token(0), &mine).unwrap();
        assert_eq!(ns.check_create(&token(OTHER), &mine).unwrap_err().code, Win32Error::ERROR_ACCESS_DENIED);
        ns.check_create(&token(OTHER), &path(GLOBAL_DIR)).unwrap();
    }

    #[test]
    fn a_user_without_a_session_resolves_nothing() {
        let ns = Namespace::new();
        let e = ns.resolve_name(&token(USER), &name("x")).unwrap_err();
        assert_eq!(e.code, Win32Error::ERROR_PATH_NOT_FOUND);
    }

    #[test]
    fn making_a_session_twice_keeps_its_objects() {
        let mut ns = with_sessions();
        ns.insert_object(&path(&session(USER)), "E", ObjectId(1));
        ns.ensure_session(USER);
        assert!(matches!(ns.resolve_name(&token(USER), &name("E")).unwrap(), Resolved::Found { .. }));
    }

    #[test]
    fn device_directories_ignore_case() {
        let mut ns = Namespace::new();
        ns.insert_object(&path("\\Device\\NamedPipe"), "Test", ObjectId(3));
        let found = ns.resolve_path(&path("\\Device\\NamedPipe\\TEST")).unwrap();
        assert_eq!(found, Resolved::Found { path: path("\\Device\\NamedPipe\\Test"), node: Node::Object(ObjectId(3)) });
    }

    #[test]
    fn root_lists_the_built_in_tree() {
        let ns = Namespace::new();
        let names: Vec<String> = ns.list(&NamespacePath::root()).unwrap().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["BaseNamedObjects", "Device", "Sessions"]);
    }

    #[test]
    fn sessions_lists_each_connected_user_and_the_links() {
        let ns = with_sessions();
        let names: Vec<String> = ns.list(&path("\\Sessions")).unwrap().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["1000", "65534", "BNOLINKS"]);
    }
}
