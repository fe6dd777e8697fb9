//! Realms: where a broker's socket and lock live, and the checks that keep
//! another user from planting or reading them.
//!
//! The user realm is `$XDG_RUNTIME_DIR/switchboard/`; without
//! `XDG_RUNTIME_DIR`, `/run/user/<uid>/switchboard/` when that runtime
//! directory exists and belongs to the user, else `/tmp/switchboard-<uid>/`
//! (as tmux does). Each is created mode 0700 and verified on every use: a
//! directory with another owner, with group or other permissions, or that is a
//! symbolic link, is refused with the reason. The system realm is
//! `/run/switchboard/`, owned by root, mode 0755, socket 0666: there each
//! object's DACL decides who may do what.
//!
//! A realm is named by a [`RealmChoice`]: `--system` or
//! `SWITCHBOARD_REALM=system`, the user realm by default, or a socket path
//! (`--socket`, `SWITCHBOARD_SOCKET`). A socket path that is a realm's own
//! socket, however it is spelt, *is* that realm: it gets that realm's lock, so
//! one socket never has two brokers.

use std::ffi::OsStr;
use std::fmt;
use std::fs::{self, DirBuilder};
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

use crate::cred::current_uid;

/// The system realm's directory.
pub const SYSTEM_DIR: &str = "/run/switchboard";
/// The file name of a realm's socket inside its directory.
const SOCKET_NAME: &str = "broker.sock";

/// Which kind of realm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RealmKind {
    /// One user's realm.
    User,
    /// The machine-wide realm.
    System,
    /// A socket path given explicitly (`--socket`, `SWITCHBOARD_SOCKET`).
    Custom,
}

impl fmt::Display for RealmKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::User => "user",
            Self::System => "system",
            Self::Custom => "custom",
        })
    }
}

/// The files of one realm.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Realm {
    /// Which kind.
    pub kind: RealmKind,
    /// The broker's listening socket.
    pub socket: PathBuf,
    /// The lock that makes the broker one per realm.
    pub lock: PathBuf,
    /// Where an auto-started broker writes its log.
    pub log: PathBuf,
}

/// Why a realm cannot be used.
#[derive(Debug)]
pub struct RealmError {
    /// The directory or file concerned.
    pub path: PathBuf,
    /// What is wrong, for people.
    pub reason: String,
}

impl fmt::Display for RealmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "refusing realm {}: {}", self.path.display(), self.reason)
    }
}

impl std::error::Error for RealmError {}

fn err(path: &Path, reason: impl Into<String>) -> RealmError {
    RealmError { path: path.to_owned(), reason: reason.into() }
}

impl Realm {
    fn in_dir(kind: RealmKind, dir: &Path) -> Self {
        Self { kind, socket: dir.join(SOCKET_NAME), lock: dir.join("broker.lock"), log: dir.join("broker.log") }
    }

    /// The realm's directory (where its socket lives).
    pub fn dir(&self) -> PathBuf {
        self.socket.parent().map_or_else(|| PathBuf::from("/"), Path::to_path_buf)
    }

    /// Where the realm's `ncalrpc` endpoints live (`<dir>/ncalrpc/<endpoint>`),
    /// inside the realm's own directory, so that no other user can plant
    /// an endpoint there.
    pub fn ncalrpc_dir(&self) -> PathBuf {
        self.dir().join("ncalrpc")
    }

    /// Where the realm keeps its registry hives: `$XDG_DATA_HOME/switchboard/registry`
    /// (else `~/.local/share/…`) for a user realm, `/var/lib/switchboard/registry`
    /// for the system realm, and beside the socket for a realm named by its socket.
    pub fn registry_dir(&self) -> PathBuf {
        let beside_socket = || self.dir().join("registry");
        match self.kind {
            RealmKind::System => "/var/lib/switchboard/registry".into(),
            RealmKind::Custom => beside_socket(),
            RealmKind::User => std::env::var_os("XDG_DATA_HOME")
                .filter(|d| !d.is_empty())
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
                .map_or_else(beside_socket, |d| d.join("switchboard/registry")),
        }
    }

    /// The realm for an explicit socket path, taken as given (see
    /// [`RealmChoice::Socket`] for the path that recognizes a realm's own
    /// socket). Its lock and log sit beside the socket's canonical path, so
    /// every spelling of one socket shares one lock.
    pub fn custom(socket: &Path) -> Self {
        let canonical = canonical_socket(socket);
        let with = |ext: &str| {
            let mut s = canonical.as_os_str().to_owned();
            s.push(ext);
            PathBuf::from(s)
        };
        Self { kind: RealmKind::Custom, socket: socket.to_owned(), lock: with(".lock"), log: with(".log") }
    }

    /// The calling user's realm, creating its directory if needed and
    /// checking its owner and mode.
    pub fn user() -> Result<Self, RealmError> {
        let uid = current_uid();
        let dir = user_realm_dir(uid, std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from))?;
        ensure_private_dir(&dir, uid)?;
        Ok(Self::in_dir(RealmKind::User, &dir))
    }

    /// The system realm. `create` makes its directory (the broker does; it
    /// must run as root). Without `create` a missing directory is no error:
    /// it only means the system broker is not running (and only root can
    /// make it under `/run`), which connecting then reports.
    pub fn system(create: bool) -> Result<Self, RealmError> {
        let dir = Path::new(SYSTEM_DIR);
        if !dir.exists() {
            if !create {
                return Ok(Self::in_dir(RealmKind::System, dir));
            }
            DirBuilder::new().mode(0o755).create(dir).map_err(|e| err(dir, format!("cannot create it: {e}")))?;
        }
        check_dir(dir, 0, 0o022)?;
        Ok(Self::in_dir(RealmKind::System, dir))
    }

    /// The realm the environment names (see [`RealmChoice::from_env`]).
    pub fn from_env() -> Result<Self, RealmError> {
        RealmChoice::from_env()?.open(false)
    }

    /// Checks that the socket file is owned by whom the realm expects (the
    /// user, or root for the system realm), so that a client never talks to a
    /// broker someone else planted. A custom socket is the caller's choice
    /// and is not checked.
    pub fn check_socket_owner(&self) -> Result<(), RealmError> {
        let expected = match self.kind {
            RealmKind::User => current_uid(),
            RealmKind::System => 0,
            RealmKind::Custom => return Ok(()),
        };
        match fs::symlink_metadata(&self.socket) {
            Ok(meta) if meta.uid() != expected => {
                Err(err(&self.socket, format!("the socket is owned by uid {}, expected uid {expected}", meta.uid())))
            }
            _ => Ok(()),
        }
    }
}

/// How a realm is named, before its directory is opened and checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RealmChoice {
    /// The calling user's realm.
    User,
    /// The system realm (`--system`, `SWITCHBOARD_REALM=system`).
    System,
    /// A socket path (`--socket`, `SWITCHBOARD_SOCKET`): the system or user
    /// realm if it is that realm's socket, else a custom realm.
    Socket(PathBuf),
}

impl RealmChoice {
    /// The choice that `SWITCHBOARD_REALM` and `SWITCHBOARD_SOCKET` make.
    pub fn from_env() -> Result<Self, RealmError> {
        Self::from_vars(
            std::env::var_os("SWITCHBOARD_REALM").as_deref(),
            std::env::var_os("SWITCHBOARD_SOCKET").as_deref(),
        )
    }

    /// The choice made by the values of `SWITCHBOARD_REALM` (`system` or
    /// `user`) and `SWITCHBOARD_SOCKET`; empty values count as unset. Both
    /// set is accepted only when the socket is that realm's own.
    pub fn from_vars(realm: Option<&OsStr>, socket: Option<&OsStr>) -> Result<Self, RealmError> {
        let socket = socket.filter(|s| !s.is_empty()).map(|s| Self::Socket(PathBuf::from(s)));
        let named = match realm.filter(|r| !r.is_empty()) {
            None => return Ok(socket.unwrap_or(Self::User)),
            Some(r) if r == "system" => Self::System,
            Some(r) if r == "user" => Self::User,
            Some(r) => {
                return Err(err(
                    Path::new(r),
                    "SWITCHBOARD_REALM must be `system` or `user` (name any other realm by its socket with SWITCHBOARD_SOCKET)",
                ));
            }
        };
        match socket {
            Some(Self::Socket(path)) if Self::Socket(path.clone()).kind() != named.kind() => Err(err(
                &path,
                format!(
                    "SWITCHBOARD_SOCKET names a socket outside the {} realm that SWITCHBOARD_REALM asks for; unset one of them",
                    named.kind()
                ),
            )),
            _ => Ok(named),
        }
    }

    /// Which kind of realm this is: a socket path that is the system
    /// realm's socket (compared as canonical paths) is the system realm, one
    /// that is the user realm's socket is the user realm.
    pub fn kind(&self) -> RealmKind {
        match self {
            Self::User => RealmKind::User,
            Self::System => RealmKind::System,
            Self::Socket(path) => {
                let canonical = canonical_socket(path);
                if canonical == canonical_socket(&Path::new(SYSTEM_DIR).join(SOCKET_NAME)) {
                    RealmKind::System
                } else if user_realm_dir(current_uid(), std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from))
                    .is_ok_and(|dir| canonical == canonical_socket(&dir.join(SOCKET_NAME)))
                {
                    RealmKind::User
                } else {
                    RealmKind::Custom
                }
            }
        }
    }

    /// Opens the realm: its directory is checked (and, with `create`, made
    /// for the system realm; the user realm's is always made).
    pub fn open(&self, create: bool) -> Result<Realm, RealmError> {
        match self {
            Self::System => Realm::system(create),
            Self::User => Realm::user(),
            Self::Socket(path) => match self.kind() {
                RealmKind::System => Realm::system(create),
                RealmKind::User => Realm::user(),
                RealmKind::Custom => Ok(Realm::custom(path)),
            },
        }
    }
}

/// The canonical form of a socket path that may not exist yet: its nearest
/// existing ancestor resolved (links, `.` and `..`), with the rest of the
/// path joined on; the path as given if nothing of it resolves.
fn canonical_socket(path: &Path) -> PathBuf {
    let absolute = if path.is_relative() { Path::new(".").join(path) } else { path.to_owned() };
    for existing in absolute.ancestors() {
        if let Ok(resolved) = fs::canonicalize(existing) {
            return match absolute.strip_prefix(existing) {
                Ok(rest) if !rest.as_os_str().is_empty() => resolved.join(rest),
                _ => resolved,
            };
        }
    }
    path.to_owned()
}

fn user_realm_dir(uid: u32, xdg: Option<PathBuf>) -> Result<PathBuf, RealmError> {
    if let Some(base) = xdg.filter(|p| !p.as_os_str().is_empty()) {
        if !base.is_dir() {
            return Err(err(&base, "XDG_RUNTIME_DIR names no directory"));
        }
        return Ok(base.join("switchboard"));
    }
    let run_user = PathBuf::from(format!("/run/user/{uid}"));
    if fs::symlink_metadata(&run_user).is_ok_and(|m| m.is_dir() && m.uid() == uid) {
        return Ok(run_user.join("switchboard"));
    }
    Ok(PathBuf::from(format!("/tmp/switchboard-{uid}")))
}

/// Creates `dir` mode 0700 if missing, then checks it is a real directory
/// owned by `uid` with no group or other permissions.
pub fn ensure_private_dir(dir: &Path, uid: u32) -> Result<(), RealmError> {
    match DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(err(dir, format!("cannot create it: {e}"))),
    }
    check_dir(dir, uid, 0o077)
}

/// Checks that `dir` is a directory (not a link) owned by `uid` whose mode has
/// none of the `forbidden` bits.
pub fn check_dir(dir: &Path, uid: u32, forbidden: u32) -> Result<(), RealmError> {
    let meta = fs::symlink_metadata(dir).map_err(|e| err(dir, format!("cannot inspect it: {e}")))?;
    if meta.file_type().is_symlink() {
        return Err(err(dir, "it is a symbolic link; a realm directory must be a real directory"));
    }
    if !meta.is_dir() {
        return Err(err(dir, "it is not a directory"));
    }
    if meta.uid() != uid {
        return Err(err(dir, format!("it is owned by uid {}, not by uid {uid}", meta.uid())));
    }
    let mode = meta.mode() & 0o7777;
    if mode & forbidden != 0 {
        return Err(err(
            dir,
            format!(
                "its mode {mode:04o} lets other users in (expected no bits of {forbidden:04o}); fix it with chmod or remove it"
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn xdg_runtime_dir_is_preferred() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = user_realm_dir(1000, Some(tmp.path().to_owned())).unwrap();
        assert_eq!(dir, tmp.path().join("switchboard"));
    }

    #[test]
    fn missing_xdg_falls_back_to_tmp_when_run_user_is_absent() {
        let dir = user_realm_dir(4_000_000_001, None).unwrap();
        assert_eq!(dir, PathBuf::from("/tmp/switchboard-4000000001"));
    }

    #[test]
    fn private_dir_is_created_0700() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("realm");
        ensure_private_dir(&dir, current_uid()).unwrap();
        assert_eq!(fs::metadata(&dir).unwrap().mode() & 0o777, 0o700);
    }

    #[test]
    fn loosened_dir_is_refused_with_its_mode() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("realm");
        ensure_private_dir(&dir, current_uid()).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        let e = ensure_private_dir(&dir, current_uid()).unwrap_err();
        assert!(e.reason.contains("0755"), "{e}");
    }

    #[test]
    fn dir_of_another_owner_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let e = check_dir(tmp.path(), current_uid() + 1, 0o077).unwrap_err();
        assert!(e.reason.contains("owned by uid"), "{e}");
    }

    #[test]
    fn symlink_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let real = tmp.path().join("real");
        ensure_private_dir(&real, current_uid()).unwrap();
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let e = ensure_private_dir(&link, current_uid()).unwrap_err();
        assert!(e.reason.contains("symbolic link"), "{e}");
    }

    #[test]
    fn system_realm_variable_selects_the_system_realm() {
        let choice = RealmChoice::from_vars(Some(OsStr::new("system")), None).unwrap();
        assert_eq!(choice, RealmChoice::System);
        assert_eq!(choice.kind(), RealmKind::System);
    }

    #[test]
    fn unknown_realm_variable_is_refused() {
        let e = RealmChoice::from_vars(Some(OsStr::new("sytem")), None).unwrap_err();
        assert!(e.reason.contains("must be `system` or `user`"), "{e}");
    }

    #[test]
    fn socket_variable_alone_names_a_custom_realm_and_empty_values_are_unset() {
        let choice = RealmChoice::from_vars(Some(OsStr::new("")), Some(OsStr::new("/x/y.sock"))).unwrap();
        assert_eq!(choice, RealmChoice::Socket(PathBuf::from("/x/y.sock")));
        assert_eq!(choice.kind(), RealmKind::Custom);
        assert_eq!(RealmChoice::from_vars(None, Some(OsStr::new(""))).unwrap(), RealmChoice::User);
    }

    #[test]
    fn system_realm_variable_with_another_socket_is_refused() {
        let e = RealmChoice::from_vars(Some(OsStr::new("system")), Some(OsStr::new("/x/y.sock"))).unwrap_err();
        assert!(e.reason.contains("unset one of them"), "{e}");
    }

    #[test]
    fn system_socket_named_as_a_path_is_the_system_realm_however_spelt() {
        let spellings = [
            "/run/switchboard/broker.sock",
            "/run/./switchboard/broker.sock",
            "/run//switchboard/broker.sock",
            "/run/../run/switchboard/broker.sock",
        ];
        for spelling in spellings {
            let choice = RealmChoice::Socket(PathBuf::from(spelling));
            assert_eq!(choice.kind(), RealmKind::System, "{spelling}");
        }
        let both = RealmChoice::from_vars(Some(OsStr::new("system")), Some(OsStr::new("/run/switchboard/broker.sock")));
        assert_eq!(both.unwrap(), RealmChoice::System);
    }

    #[test]
    fn custom_realms_reaching_one_socket_through_a_link_share_one_lock() {
        let tmp = tempfile::tempdir().unwrap();
        let real = tmp.path().join("real.sock");
        fs::write(&real, b"").unwrap();
        let alias = tmp.path().join("alias.sock");
        std::os::unix::fs::symlink(&real, &alias).unwrap();
        assert_eq!(Realm::custom(&alias).lock, Realm::custom(&real).lock);
        assert_eq!(Realm::custom(&alias).socket, alias, "the socket is used as named");
    }

    #[test]
    fn custom_realm_keeps_lock_and_log_beside_the_socket() {
        let r = Realm::custom(Path::new("/x/y.sock"));
        assert_eq!(r.lock, PathBuf::from("/x/y.sock.lock"));
        assert_eq!(r.log, PathBuf::from("/x/y.sock.log"));
    }
}
