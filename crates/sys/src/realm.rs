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

use std::fmt;
use std::fs::{self, DirBuilder};
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

use crate::cred::current_uid;

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
        Self { kind, socket: dir.join("broker.sock"), lock: dir.join("broker.lock"), log: dir.join("broker.log") }
    }

    /// The realm for an explicit socket path; its lock and log sit beside it.
    pub fn custom(socket: &Path) -> Self {
        let with = |ext: &str| {
            let mut s = socket.as_os_str().to_owned();
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
    /// must run as root).
    pub fn system(create: bool) -> Result<Self, RealmError> {
        let dir = Path::new("/run/switchboard");
        if create && !dir.exists() {
            DirBuilder::new().mode(0o755).create(dir).map_err(|e| err(dir, format!("cannot create it: {e}")))?;
        }
        check_dir(dir, 0, 0o022)?;
        Ok(Self::in_dir(RealmKind::System, dir))
    }

    /// The realm named by `SWITCHBOARD_SOCKET` if set, else the user realm.
    pub fn from_env() -> Result<Self, RealmError> {
        match std::env::var_os("SWITCHBOARD_SOCKET") {
            Some(path) if !path.is_empty() => Ok(Self::custom(Path::new(&path))),
            _ => Self::user(),
        }
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
    fn custom_realm_keeps_lock_and_log_beside_the_socket() {
        let r = Realm::custom(Path::new("/x/y.sock"));
        assert_eq!(r.lock, PathBuf::from("/x/y.sock.lock"));
        assert_eq!(r.log, PathBuf::from("/x/y.sock.log"));
    }
}
