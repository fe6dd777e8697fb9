//! Shared memory a holder can reach: mailslot counter pages, sections and
//! the pages of events, mutexes and semaphores (#12: 1, 2, 4).

use std::os::fd::{AsFd, OwnedFd};

use rustix::fs::SealFlags;
use switchboard_proto as p;
use switchboard_sys::shm::{View, ViewKind};
use switchboard_testkit::hostile;
use switchboard_testkit::role::{self, Role};
use switchboard_types::access::event::EVENT_ALL_ACCESS;
use switchboard_types::access::section::{FILE_MAP_ALL_ACCESS, FILE_MAP_READ, FILE_MAP_WRITE};
use switchboard_types::{MailslotName, ObjectName};

use super::{NOBODY, assert_serves, broker, child_client, may_switch_user, new_event};

fn size_of(fd: &impl AsFd) -> u64 {
    u64::try_from(rustix::fs::fstat(fd).expect("fstat").st_size).expect("size")
}

fn section(name: Option<&str>, size: u64, sddl: Option<&str>) -> p::CreateSection {
    p::CreateSection {
        name: name.map(|n| ObjectName::parse(n).expect("name")),
        size,
        protection: p::PageProtection::ReadWrite,
        file: false,
        reserve: false,
        access: FILE_MAP_ALL_ACCESS,
        security: p::Security { sddl: sddl.map(str::to_owned) },
    }
}

#[test]
fn truncating_a_mailslot_counter_page_is_refused_and_the_broker_keeps_serving() {
    let mut broker = broker();
    let mut attacker = hostile::RawClient::connect(broker.socket()).unwrap();
    let name = MailslotName::parse(r"\\.\mailslot\victim").unwrap();
    let create = p::CreateMailslot { name: name.clone(), max_message_size: 0, security: p::Security::default() };
    let (_, fds) = attacker.ok(create).unwrap();
    let page: &OwnedFd = fds.last().expect("the counter page");
    let before = size_of(page);
    let truncated = rustix::fs::ftruncate(page, 0);
    // Whatever the kernel said, the broker reads the page next.
    let query = attacker.call(p::QueryMailslot { name });
    let probe = assert_serves(&mut broker, 50);
    assert!(truncated.is_err(), "a holder shrank the mailslot's counter page");
    assert_eq!(size_of(page), before);
    assert!(query.is_ok_and(|(r, _)| r.is_ok()), "the mailslot query failed");
    hostile::report("ftruncate a mailslot's counter page, then query it", 1, "EPERM (sealed)", &probe);
}

#[test]
fn a_section_cannot_be_shrunk_or_grown_under_other_processes_views() {
    let mut broker = broker();
    let mut owner = hostile::RawClient::connect(broker.socket()).unwrap();
    let (_, owner_fds) = owner.ok(section(Some("Global\\shrinkme"), 1 << 16, Some("D:(A;;GA;;;WD)"))).unwrap();
    let view = View::map(&owner_fds[0], 0, 1 << 16, ViewKind::Write).unwrap();
    view.write_at((1 << 16) - 5, b"tail!").unwrap();
    let mut attacker = hostile::RawClient::connect(broker.socket()).unwrap();
    let open =
        p::OpenSection { name: ObjectName::parse("Global\\shrinkme").unwrap(), access: FILE_MAP_WRITE | FILE_MAP_READ };
    let (_, fds) = attacker.ok(open).unwrap();
    let shrunk = rustix::fs::ftruncate(&fds[0], 0);
    let grown = rustix::fs::ftruncate(&fds[0], 1 << 30);
    assert!(shrunk.is_err() && grown.is_err(), "a writer changed the section's size");
    // Reading the last bytes would be SIGBUS had it shrunk.
    let mut tail = [0u8; 5];
    view.read_at((1 << 16) - 5, &mut tail).unwrap();
    assert_eq!(&tail, b"tail!");
    let probe = assert_serves(&mut broker, 50);
    hostile::report("ftruncate a section under others' views (shrink, grow)", 2, "EPERM (sealed)", &probe);
}

#[test]
fn no_holder_can_add_a_seal_that_refuses_the_others_mappings() {
    let mut broker = broker();
    let mut attacker = hostile::RawClient::connect(broker.socket()).unwrap();
    let (created, _) = attacker.ok(new_event(Some("Global\\bricked"), Some("D:(A;;GA;;;WD)"))).unwrap();
    let (_, page) = attacker.ok(p::MapSync { handle: created.handle }).unwrap();
    let (_, sect) = attacker.ok(section(None, 4096, None)).unwrap();
    let mut tried = 0;
    for fd in [&page[0], &sect[0]] {
        for seal in [SealFlags::FUTURE_WRITE, SealFlags::WRITE, SealFlags::SEAL] {
            tried += 1;
            assert!(rustix::fs::fcntl_add_seals(fd, seal).is_err(), "a holder added {seal:?}");
        }
    }
    // Another process still gets a page it can map and write.
    let mut other = hostile::RawClient::connect(broker.socket()).unwrap();
    let open = p::Open {
        kind: switchboard_types::ObjectKind::Event,
        name: ObjectName::parse("Global\\bricked").unwrap(),
        access: EVENT_ALL_ACCESS,
    };
    let (handle, _) = other.ok(open).unwrap();
    let (_, fds) = other.ok(p::MapSync { handle }).unwrap();
    assert!(switchboard_sys::syncpage::SyncPage::map(&fds[0]).is_ok(), "the page can no longer be mapped writable");
    let probe = assert_serves(&mut broker, 50);
    hostile::report(
        "add F_SEAL_FUTURE_WRITE/WRITE/SEAL to sync pages and sections",
        tried,
        "EPERM (F_SEAL_SEAL)",
        &probe,
    );
}

#[test]
fn a_read_only_section_descriptor_cannot_be_reopened_writable_by_another_user() {
    const TEST: &str = "memory::a_read_only_section_descriptor_cannot_be_reopened_writable_by_another_user";
    if role::current().is_some() {
        let mut client = child_client();
        let open = p::OpenSection { name: ObjectName::parse("Global\\readonly").unwrap(), access: FILE_MAP_READ };
        let (_, fds) = client.ok(open).unwrap();
        // The section, then its commit bitmap (SEC_RESERVE).
        for (what, fd) in ["REOPEN", "BITMAP"].into_iter().zip(&fds) {
            let path = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(fd));
            let reopened = rustix::fs::open(path.as_str(), rustix::fs::OFlags::RDWR, rustix::fs::Mode::empty());
            let writable_map = View::map(fd, 0, 4096, ViewKind::Write).is_ok();
            match reopened {
                Ok(fd) => {
                    if let Ok(view) = View::map(&fd, 0, 4096, ViewKind::Write) {
                        let _ = view.write_at(0, b"PWNED");
                    }
                    role::report(&format!("{what} writable (map {writable_map})"));
                }
                Err(e) if e == rustix::io::Errno::ACCESS => {
                    role::report(&format!("{what} EACCES (map {writable_map})"));
                }
                Err(e) => role::report(&format!("{what} {e} (map {writable_map})")),
            }
        }
        return;
    }
    if !may_switch_user() {
        return;
    }
    let mut broker = broker();
    let mut owner = hostile::RawClient::connect(broker.socket()).unwrap();
    let reserved = p::CreateSection {
        reserve: true,
        ..section(Some("Global\\readonly"), 4096, Some("D:(A;;GA;;;OW)(A;;GR;;;WD)"))
    };
    let (_, fds) = owner.ok(reserved).unwrap();
    let view = View::map(&fds[0], 0, 4096, ViewKind::Write).unwrap();
    view.write_at(0, b"owner").unwrap();
    let bitmap = View::map(&fds[1], 0, 8, ViewKind::Write).unwrap();
    bitmap.write_at(0, &1u64.to_le_bytes()).unwrap();
    let mut child = Role::new(TEST, "reader").env(broker.env()).user(NOBODY.0, NOBODY.1).spawn();
    let said = child.expect_line("REOPEN");
    let said_bitmap = child.expect_line("BITMAP");
    child.wait_success();
    let mut now = [0u8; 5];
    view.read_at(0, &mut now).unwrap();
    assert_eq!(&now, b"owner", "another user wrote through a read-only handle ({said})");
    let mut bits = [0u8; 8];
    bitmap.read_at(0, &mut bits).unwrap();
    assert_eq!(u64::from_le_bytes(bits), 1, "another user rewrote the commit bitmap ({said_bitmap})");
    assert_eq!((said.as_str(), said_bitmap.as_str()), ("EACCES (map false)", "EACCES (map false)"));
    let probe = assert_serves(&mut broker, 50);
    hostile::report("reopen a FILE_MAP_READ descriptor O_RDWR via /proc as another uid", 1, "EACCES", &probe);
}
