//! The real [`Resources`]: what the core asks of the operating system,
//! done with `switchboard-sys`, and the registry's hive files on disk.

use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use switchboard_proto::WireError;
use switchboard_registry::Hive;
use switchboard_sys::shm::CounterPage;
use switchboard_sys::syncpage::SyncPage;
use switchboard_types::Win32Error;

use crate::core::{HiveFiles, OpenMode, Resources};

/// The operating system itself; what the server gives its core.
#[derive(Debug, Default)]
pub struct OsResources;

impl Resources for OsResources {
    fn sync_page(&mut self) -> io::Result<(SyncPage, OwnedFd)> {
        SyncPage::create("switchboard-sync")
    }

    fn memory_file(&mut self, size: u64) -> io::Result<OwnedFd> {
        switchboard_sys::shm::memory_file("switchboard-section", size)
    }

    fn counter_page(&mut self, name: &'static str, counters: usize) -> io::Result<(CounterPage, OwnedFd)> {
        CounterPage::create(name, counters)
    }

    fn reopen_read_only(&mut self, fd: &OwnedFd) -> io::Result<OwnedFd> {
        switchboard_sys::shm::reopen_read_only(fd)
    }

    fn duplicate(&mut self, fd: &OwnedFd) -> io::Result<OwnedFd> {
        fd.try_clone()
    }

    fn datagram_pair(&mut self) -> io::Result<(OwnedFd, OwnedFd)> {
        switchboard_sys::fdpass::datagram_pair()
    }

    fn stream_pair(&mut self) -> io::Result<(OwnedFd, OwnedFd)> {
        switchboard_sys::fdpass::stream_pair()
    }

    fn cut(&self, channel: &OwnedFd) {
        let _ = switchboard_sys::fdpass::discard_queued(channel);
        let _ = switchboard_sys::fdpass::shutdown_both(channel);
    }

    fn next_datagram_size(&self, socket: &OwnedFd) -> Option<usize> {
        use rustix::net::RecvFlags;
        let flags = RecvFlags::PEEK | RecvFlags::TRUNC | RecvFlags::DONTWAIT;
        let mut nothing: [u8; 0] = [];
        rustix::net::recv(socket, &mut nothing[..], flags).ok().map(|(_, len)| len)
    }

    fn open_mode(&self, fd: &OwnedFd) -> io::Result<OpenMode> {
        use rustix::fs::OFlags;
        let flags = rustix::fs::fcntl_getfl(fd)?;
        let mode = flags & OFlags::RWMODE;
        Ok(if flags.contains(OFlags::PATH) {
            OpenMode::PathOnly
        } else if mode == OFlags::RDWR {
            OpenMode::ReadWrite
        } else if mode == OFlags::WRONLY {
            OpenMode::WriteOnly
        } else if mode == OFlags::RDONLY {
            OpenMode::ReadOnly
        } else {
            OpenMode::PathOnly
        })
    }

    fn regular_file_size(&self, fd: &OwnedFd) -> io::Result<Option<u64>> {
        let stat = rustix::fs::fstat(fd)?;
        let regular = rustix::fs::FileType::from_raw_mode(stat.st_mode) == rustix::fs::FileType::RegularFile;
        Ok(regular.then(|| u64::try_from(stat.st_size).unwrap_or(0)))
    }

    fn grow(&mut self, fd: &OwnedFd, size: u64) -> io::Result<()> {
        Ok(rustix::fs::ftruncate(fd, size)?)
    }

    fn is_thread_of(&self, pid: u32, thread: u32) -> bool {
        Path::new(&format!("/proc/{pid}/task/{thread}")).exists()
    }

    fn hive_files(&mut self, dir: &Path) -> Box<dyn HiveFiles> {
        Box::new(HiveDir { dir: dir.to_owned() })
    }
}

/// Hives in a directory: `machine.hive`, and `users/<uid>.hive`.
#[derive(Debug)]
pub struct HiveDir {
    dir: PathBuf,
}

impl HiveDir {
    fn user_file(&self, uid: u32) -> PathBuf {
        self.dir.join("users").join(format!("{uid}.hive"))
    }
}

impl HiveFiles for HiveDir {
    fn open(&mut self, user: Option<u32>) -> Result<Hive, WireError> {
        let file = match user {
            None => self.dir.join("machine.hive"),
            Some(uid) => self.user_file(uid),
        };
        if let Some(parent) = file.parent() {
            make_private_dir(parent)?;
        }
        Hive::open(&file).map_err(|e| WireError::new(e.code, e.message))
    }

    fn users(&self) -> Vec<u32> {
        let Ok(entries) = std::fs::read_dir(self.dir.join("users")) else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter_map(|entry| {
                let name = entry.file_name();
                name.to_str().and_then(|n| n.strip_suffix(".hive")).and_then(|u| u.parse().ok())
            })
            .collect()
    }

    fn has_user(&self, uid: u32) -> bool {
        self.user_file(uid).exists()
    }
}

/// Creates `dir` (0700) if missing; refuses one that another user owns or
/// that others may write.
fn make_private_dir(dir: &Path) -> Result<(), WireError> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    let fail =
        |why: String| WireError::new(Win32Error::ERROR_BADDB, format!("registry directory {}: {why}", dir.display()));
    if !dir.exists() {
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(|e| fail(e.to_string()))?;
    }
    let meta = std::fs::metadata(dir).map_err(|e| fail(e.to_string()))?;
    if meta.uid() != rustix::process::geteuid().as_raw() {
        return Err(fail(format!("owned by uid {}, not by the broker", meta.uid())));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(fail(format!("mode {:o} lets others write", meta.mode() & 0o777)));
    }
    Ok(())
}
