//! The core with a fake operating system: what it does when the system
//! runs out, and how it asks about threads.

use std::io;
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use switchboard_proto::{self as p, Reply, Request};
use switchboard_sys::shm::CounterPage;
use switchboard_sys::syncpage::SyncPage;
use switchboard_types::access::key::KEY_READ;
use switchboard_types::registry::RootKey;
use switchboard_types::{MailslotName, Win32Error};

use super::super::{Config, HiveFiles, OpenMode, Resources};
use super::World;
use crate::os::OsResources;

/// The real system, until the test says descriptors have run out; its
/// only threads are 500 of pid 101 (client 1).
#[derive(Debug, Default)]
struct Scarce {
    exhausted: Arc<AtomicBool>,
}

impl Scarce {
    fn check(&self) -> io::Result<()> {
        if self.exhausted.load(Ordering::SeqCst) { Err(rustix::io::Errno::MFILE.into()) } else { Ok(()) }
    }
}

impl Resources for Scarce {
    fn sync_page(&mut self) -> io::Result<(SyncPage, OwnedFd)> {
        self.check()?;
        OsResources.sync_page()
    }

    fn memory_file(&mut self, size: u64) -> io::Result<OwnedFd> {
        self.check()?;
        OsResources.memory_file(size)
    }

    fn counter_page(&mut self, name: &'static str, counters: usize) -> io::Result<(CounterPage, OwnedFd)> {
        self.check()?;
        OsResources.counter_page(name, counters)
    }

    fn reopen_read_only(&mut self, fd: &OwnedFd) -> io::Result<OwnedFd> {
        self.check()?;
        OsResources.reopen_read_only(fd)
    }

    fn duplicate(&mut self, fd: &OwnedFd) -> io::Result<OwnedFd> {
        self.check()?;
        OsResources.duplicate(fd)
    }

    fn datagram_pair(&mut self) -> io::Result<(OwnedFd, OwnedFd)> {
        self.check()?;
        OsResources.datagram_pair()
    }

    fn stream_pair(&mut self) -> io::Result<(OwnedFd, OwnedFd)> {
        self.check()?;
        OsResources.stream_pair()
    }

    fn cut(&self, channel: &OwnedFd) {
        OsResources.cut(channel);
    }

    fn next_datagram_size(&self, socket: &OwnedFd) -> Option<usize> {
        OsResources.next_datagram_size(socket)
    }

    fn open_mode(&self, fd: &OwnedFd) -> io::Result<OpenMode> {
        OsResources.open_mode(fd)
    }

    fn regular_file_size(&self, fd: &OwnedFd) -> io::Result<Option<u64>> {
        OsResources.regular_file_size(fd)
    }

    fn grow(&mut self, fd: &OwnedFd, size: u64) -> io::Result<()> {
        self.check()?;
        OsResources.grow(fd, size)
    }

    fn is_thread_of(&self, pid: u32, thread: u32) -> bool {
        (pid, thread) == (101, 500)
    }

    fn hive_files(&mut self, _dir: &std::path::Path) -> Box<dyn HiveFiles> {
        Box::new(LockedHives)
    }
}

/// Hive files the system will not open (a directory someone else owns).
#[derive(Debug)]
struct LockedHives;

impl HiveFiles for LockedHives {
    fn open(&mut self, _user: Option<u32>) -> Result<switchboard_registry::Hive, p::WireError> {
        Err(p::WireError::new(Win32Error::ERROR_BADDB, "registry directory: owned by uid 4242, not by the broker"))
    }

    fn users(&self) -> Vec<u32> {
        Vec::new()
    }

    fn has_user(&self, _uid: u32) -> bool {
        false
    }
}

/// A world on a [`Scarce`] system, and the switch that exhausts it.
fn scarce(config: Config) -> (World, Arc<AtomicBool>) {
    let fake = Scarce::default();
    let exhausted = Arc::clone(&fake.exhausted);
    (World::with_resources(config, Box::new(fake)), exhausted)
}

#[test]
fn an_event_the_system_has_no_page_for_is_a_clear_error_and_leaves_nothing() {
    let (mut w, exhausted) = scarce(Config::default());
    exhausted.store(true, Ordering::SeqCst);
    let e = w.create(1, "Scarce", true, false).unwrap_err();
    assert_eq!(e.code, Win32Error::ERROR_NO_SYSTEM_RESOURCES);
    assert!(e.message.contains("cannot make the object's shared page"), "{}", e.message);
    assert_eq!(w.core.store.len(), 0, "a failed creation left an object");
    exhausted.store(false, Ordering::SeqCst);
    let created = w.create(1, "Scarce", true, false).unwrap();
    assert!(!created.already_existed, "the failed creation took the name");
}

#[test]
fn a_mailslot_the_system_has_no_sockets_for_is_a_clear_error_and_frees_the_name() {
    let (mut w, exhausted) = scarce(Config::default());
    let create = || {
        let name = MailslotName::parse(r"\\.\mailslot\scarce").unwrap();
        Request::CreateMailslot(p::CreateMailslot { name, max_message_size: 64, security: p::Security::default() })
    };
    exhausted.store(true, Ordering::SeqCst);
    let e = w.call(1, create()).unwrap_err();
    assert_eq!(e.code, Win32Error::ERROR_NO_SYSTEM_RESOURCES);
    assert!(e.message.contains("cannot make the mailslot"), "{}", e.message);
    exhausted.store(false, Ordering::SeqCst);
    w.call(1, create()).unwrap();
}

#[test]
fn a_page_the_system_cannot_hand_out_is_refused_and_the_handle_still_works() {
    let (mut w, exhausted) = scarce(Config::default());
    let handle = w.create(1, "Shared", true, false).unwrap().handle;
    let map = || Request::MapSync(p::MapSync { handle });
    exhausted.store(true, Ordering::SeqCst);
    let e = w.call(1, map()).unwrap_err();
    assert_eq!(e.code, Win32Error::ERROR_NO_SYSTEM_RESOURCES);
    exhausted.store(false, Ordering::SeqCst);
    let Reply::MapSync(mapped) = w.call(1, map()).unwrap() else { panic!("not a MapSync reply") };
    assert!(mapped.mapped && mapped.writable, "{mapped:?}");
}

#[test]
fn threads_are_checked_with_the_system_the_core_was_given() {
    let (mut w, _) = scarce(Config { verify_threads: true, ..Config::default() });
    w.announce(1, 500);
    let e = w.call(1, Request::ThreadStarted(p::ThreadStarted { thread: 501 })).unwrap_err();
    assert_eq!(e.code, Win32Error::ERROR_INVALID_PARAMETER);
    assert!(e.message.contains("thread 501 is not a thread of process 101"), "{}", e.message);
    // Client 2 (pid 102) does not own client 1's thread.
    let e = w.call(2, Request::ThreadStarted(p::ThreadStarted { thread: 500 })).unwrap_err();
    assert_eq!(e.code, Win32Error::ERROR_INVALID_PARAMETER);
}

#[test]
fn a_hive_the_system_will_not_open_is_the_stores_error_for_the_client() {
    let config = Config { registry_dir: Some("/hives".into()), ..Config::default() };
    let (mut w, _) = scarce(config);
    let open =
        p::RegOpenKey { base: p::RegBase::Root(RootKey::CurrentUser), path: "Software".to_owned(), access: KEY_READ };
    let e = w.call(1, Request::RegOpenKey(open)).unwrap_err();
    assert_eq!(e.code, Win32Error::ERROR_BADDB);
    assert!(e.message.contains("not by the broker"), "{}", e.message);
}
