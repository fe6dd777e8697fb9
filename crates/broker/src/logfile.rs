//! The background broker's log file.
//!
//! The log names clients' pids and uids and what the broker refused them,
//! so in the system realm it is for root alone, as other users' handles in
//! the broker's diagnostics are.

use std::fs::{File, OpenOptions, Permissions};
use std::io;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// The log's mode: the broker's user only.
pub const LOG_MODE: u32 = 0o600;

/// Opens `path` for appending, creating it with mode 0600; a log that
/// already exists has its mode tightened to 0600 (it may come from a build
/// that made it world-readable). A symbolic link is refused, so that the
/// broker never writes, or changes the mode of, a file it did not mean to.
///
/// # Errors
///
/// What `open(2)` or `fchmod(2)` says, `ELOOP` for a symbolic link, or
/// `InvalidInput` when `path` is not a regular file.
pub fn open_private_log(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(LOG_MODE)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits().cast_signed())
        .open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("{} is not a regular file", path.display())));
    }
    if meta.permissions().mode() & 0o777 != LOG_MODE {
        file.set_permissions(Permissions::from_mode(LOG_MODE))?;
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn a_new_log_is_readable_by_its_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("broker.log");
        open_private_log(&path).unwrap();
        assert_eq!(mode(&path), 0o600);
    }

    #[test]
    fn an_existing_world_readable_log_is_tightened_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("broker.log");
        std::fs::write(&path, "earlier run\n").unwrap();
        std::fs::set_permissions(&path, Permissions::from_mode(0o644)).unwrap();
        let mut file = open_private_log(&path).unwrap();
        io::Write::write_all(&mut file, b"this run\n").unwrap();
        assert_eq!(mode(&path), 0o600);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "earlier run\nthis run\n");
    }

    #[test]
    fn a_symbolic_link_in_place_of_the_log_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("elsewhere");
        std::fs::write(&target, "").unwrap();
        std::fs::set_permissions(&target, Permissions::from_mode(0o644)).unwrap();
        let path = dir.path().join("broker.log");
        std::os::unix::fs::symlink(&target, &path).unwrap();
        assert!(open_private_log(&path).is_err());
        assert_eq!(mode(&target), 0o644, "the link's target was left alone");
    }
}
