//! Where `ncalrpc` endpoints live, and the checks that keep another user
//! from planting one: `<realm>/ncalrpc/<endpoint>`, a Unix socket in a
//! directory of the realm's own ([`switchboard::Realm::ncalrpc_dir`]).
//!
//! A server makes the directory (0700) or refuses one that another user
//! owns or may write; a client refuses to connect through a directory that
//! is neither its own user's nor root's, or that others may write, since
//! whoever can write the directory can put their socket in an endpoint's
//! place.

use std::fs::DirBuilder;
use std::io;
use std::os::unix::fs::{DirBuilderExt as _, MetadataExt as _};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

/// The `ncalrpc` directory of the realm the environment names (the user's
/// realm by default; see [`switchboard::RealmChoice::from_env`]).
pub fn default_dir() -> io::Result<PathBuf> {
    switchboard::Realm::from_env().map(|realm| realm.ncalrpc_dir()).map_err(|e| io::Error::other(e.to_string()))
}

/// Checks that `dir` is a real directory owned by `owners` and writable by
/// nobody else.
fn check(dir: &Path, owners: &[u32]) -> io::Result<()> {
    let meta = std::fs::symlink_metadata(dir)?;
    let refuse = |why: String| {
        Err(io::Error::new(io::ErrorKind::PermissionDenied, format!("ncalrpc directory {}: {why}", dir.display())))
    };
    if !meta.is_dir() {
        return refuse("not a directory (or a symbolic link)".into());
    }
    if !owners.contains(&meta.uid()) {
        return refuse(format!("owned by uid {}, whose endpoints this user must not trust", meta.uid()));
    }
    if meta.mode() & 0o022 != 0 {
        return refuse(format!("mode {:o} lets others plant endpoints", meta.mode() & 0o7777));
    }
    Ok(())
}

fn me() -> u32 {
    rustix::process::getuid().as_raw()
}

/// Binds `endpoint` in `dir` for a server, making `dir` (0700) if missing
/// and refusing one that another user owns or others may write. A socket
/// left there by an earlier server is replaced.
pub fn listen(dir: &Path, endpoint: &str) -> io::Result<UnixListener> {
    if endpoint.is_empty() || endpoint.contains('/') || endpoint == "." || endpoint == ".." {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("{endpoint:?} is not an endpoint name")));
    }
    match DirBuilder::new().recursive(true).mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    check(dir, &[me()])?;
    let path = dir.join(endpoint);
    let _ = std::fs::remove_file(&path);
    UnixListener::bind(&path)
}

/// Connects a client to `endpoint` in `dir`, once `dir` is known to be its
/// own user's or root's and writable by nobody else.
pub fn connect(dir: &Path, endpoint: &str) -> io::Result<UnixStream> {
    if dir.as_os_str().is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            "no ncalrpc directory: the realm could not be found (set Options::ncalrpc_dir)",
        ));
    }
    check(dir, &[me(), 0])?;
    UnixStream::connect(dir.join(endpoint))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    #[test]
    fn a_directory_others_may_write_is_refused_by_servers_and_clients() {
        let base = tempfile::tempdir().unwrap();
        let dir = base.path().join("ncalrpc");
        let listener = listen(&dir, "EP").unwrap();
        assert_eq!(std::fs::metadata(&dir).unwrap().mode() & 0o777, 0o700);
        connect(&dir, "EP").unwrap();
        drop(listener);
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert_eq!(listen(&dir, "EP").unwrap_err().kind(), io::ErrorKind::PermissionDenied);
        assert_eq!(connect(&dir, "EP").unwrap_err().kind(), io::ErrorKind::PermissionDenied);
    }

    #[test]
    fn endpoint_names_cannot_leave_the_directory() {
        let base = tempfile::tempdir().unwrap();
        assert_eq!(listen(base.path(), "../x").unwrap_err().kind(), io::ErrorKind::InvalidInput);
    }
}
