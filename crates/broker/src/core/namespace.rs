//! The object namespace: directories, symbolic links and named objects, as
//! in the NT object manager.
//!
//! ```text
//! \BaseNamedObjects            the realm's global directory ("Global\")
//!     Global -> \BaseNamedObjects, Local -> \BaseNamedObjects
//! \Sessions\1\BaseNamedObjects  the session directory every client uses
//!     Global -> \BaseNamedObjects, Local -> \Sessions\1\BaseNamedObjects
//! \Device\NamedPipe, \Device\Mailslot
//! ```

use std::collections::{BTreeMap, HashMap};

use switchboard_proto::WireError;
use switchboard_types::{NamespacePath, ObjectKind, ObjectName, Win32Error};

use super::objects::ObjectId;

/// The directory relative names resolve in: session 1's, as for an
/// interactive Windows program.
pub const SESSION_DIR: &str = "\\Sessions\\1\\BaseNamedObjects";
/// The global directory.
pub const GLOBAL_DIR: &str = "\\BaseNamedObjects";

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
    entries: BTreeMap<String, Entry>,
}

impl Dir {
    fn key(&self, name: &str) -> String {
        if self.case_insensitive { name.to_uppercase() } else { name.to_owned() }
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
    /// The built-in tree.
    pub fn new() -> Self {
        let mut ns = Self { dirs: HashMap::new() };
        ns.dirs.insert("\\".into(), Dir::default());
        for dir in [GLOBAL_DIR, "\\Sessions", "\\Sessions\\1", SESSION_DIR, "\\Sessions\\BNOLINKS", "\\Device"] {
            ns.add_dir(dir, false);
        }
        ns.add_dir("\\Device\\NamedPipe", true);
        ns.add_dir("\\Device\\Mailslot", true);
        ns.add_link(GLOBAL_DIR, "Global", GLOBAL_DIR);
        ns.add_link(GLOBAL_DIR, "Local", GLOBAL_DIR);
        ns.add_link(GLOBAL_DIR, "Session", "\\Sessions\\BNOLINKS");
        ns.add_link(SESSION_DIR, "Global", GLOBAL_DIR);
        ns.add_link(SESSION_DIR, "Local", SESSION_DIR);
        ns.add_link(SESSION_DIR, "Session", "\\Sessions\\BNOLINKS");
        ns.add_link("\\Sessions\\BNOLINKS", "1", SESSION_DIR);
        ns
    }

    fn add_dir(&mut self, full: &str, case_insensitive: bool) {
        let p = path(full);
        let (parent, name) = split_parent(&p);
        self.insert(&parent, name, Node::Directory);
        self.dirs.insert(full.to_owned(), Dir { case_insensitive, entries: BTreeMap::new() });
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

    /// Resolves a program's object name from the session directory.
    pub fn resolve_name(&self, name: &ObjectName) -> Result<Resolved, WireError> {
        self.resolve(&path(SESSION_DIR), name.components())
    }

    /// Resolves an absolute path.
    pub fn resolve_path(&self, p: &NamespacePath) -> Result<Resolved, WireError> {
        if p.components().next().is_none() {
            return Ok(Resolved::Found { path: NamespacePath::root(), node: Node::Directory });
        }
        self.resolve(&NamespacePath::root(), p.components())
    }

    fn resolve<'a>(
        &self,
        start: &NamespacePath,
        components: impl Iterator<Item = &'a str>,
    ) -> Result<Resolved, WireError> {
        let mut pending: Vec<String> = components.map(str::to_owned).collect();
        pending.reverse();
        let mut dir = start.clone();
        let mut hops = 0;
        while let Some(component) = pending.pop() {
            let d = self.dirs.get(dir.as_str()).ok_or_else(|| not_a_dir(&dir))?;
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

    fn name(s: &str) -> ObjectName {
        ObjectName::parse(s).unwrap()
    }

    fn vacant(ns: &Namespace, s: &str) -> (String, String) {
        match ns.resolve_name(&name(s)).unwrap() {
            Resolved::Vacant { dir, name } => (dir.as_str().to_owned(), name),
            other @ Resolved::Found { .. } => panic!("{other:?}"),
        }
    }

    #[test]
    fn local_prefix_is_the_session_directory() {
        let ns = Namespace::new();
        assert_eq!(vacant(&ns, "x"), (SESSION_DIR.to_owned(), "x".to_owned()));
        assert_eq!(vacant(&ns, "Local\\x"), (SESSION_DIR.to_owned(), "x".to_owned()));
    }

    #[test]
    fn global_prefix_is_the_global_directory() {
        let ns = Namespace::new();
        assert_eq!(vacant(&ns, "Global\\x"), (GLOBAL_DIR.to_owned(), "x".to_owned()));
        assert_eq!(vacant(&ns, "Global\\Local\\x"), (GLOBAL_DIR.to_owned(), "x".to_owned()));
    }

    #[test]
    fn unknown_prefix_is_path_not_found() {
        let ns = Namespace::new();
        let e = ns.resolve_name(&name("Bogus\\n")).unwrap_err();
        assert_eq!(e.code, Win32Error::ERROR_PATH_NOT_FOUND);
    }

    #[test]
    fn prefixes_are_case_sensitive() {
        let ns = Namespace::new();
        assert_eq!(ns.resolve_name(&name("local\\x")).unwrap_err().code, Win32Error::ERROR_PATH_NOT_FOUND);
    }

    #[test]
    fn object_in_the_middle_of_a_path_is_path_not_found() {
        let mut ns = Namespace::new();
        ns.insert_object(&path(SESSION_DIR), "E", ObjectId(1));
        assert_eq!(ns.resolve_name(&name("E\\x")).unwrap_err().code, Win32Error::ERROR_PATH_NOT_FOUND);
    }

    #[test]
    fn inserted_object_is_found_and_removed() {
        let mut ns = Namespace::new();
        let full = ns.insert_object(&path(SESSION_DIR), "E", ObjectId(1));
        assert_eq!(full.as_str(), "\\Sessions\\1\\BaseNamedObjects\\E");
        assert_eq!(
            ns.resolve_name(&name("Local\\E")).unwrap(),
            Resolved::Found { path: full.clone(), node: Node::Object(ObjectId(1)) }
        );
        assert!(matches!(ns.resolve_name(&name("e")).unwrap(), Resolved::Vacant { .. }));
        ns.remove(&full);
        assert!(matches!(ns.resolve_name(&name("E")).unwrap(), Resolved::Vacant { .. }));
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
}
