//! Events, mutexes and semaphores: wait-only handles, damaged pages, and
//! notifications on locked words (#12: 3, 6, 13).

use std::sync::mpsc;
use std::time::Duration;

use switchboard::sync::Mutex;
use switchboard::{ConnectOptions, Connection, Event, EventOptions, WaitResult};
use switchboard_proto as p;
use switchboard_sys::shm::{View, ViewKind};
use switchboard_sys::syncpage::SyncPage;
use switchboard_testkit::hostile::{self, ProcessBroker, RawClient};
use switchboard_testkit::role::{self, Role};
use switchboard_types::access::event::EVENT_ALL_ACCESS;
use switchboard_types::access::key::KEY_ALL_ACCESS;
use switchboard_types::access::mutex::MUTEX_ALL_ACCESS;
use switchboard_types::access::semaphore::SEMAPHORE_ALL_ACCESS;
use switchboard_types::access::standard::SYNCHRONIZE;
use switchboard_types::{ObjectKind, ObjectName};

use super::{NOBODY, assert_serves, broker, child_client, may_switch_user, new_event};

/// Everyone may wait (`GENERIC_EXECUTE` maps to `SYNCHRONIZE`); only the owner may change.
const WAIT_FOR_ALL: &str = "D:(A;;GA;;;OW)(A;;GX;;;WD)";

/// How long a test waits for a stranded waiter before calling it stranded.
const STRANDED: Duration = Duration::from_secs(30);

fn connect(broker: &ProcessBroker) -> Connection {
    ConnectOptions::new().socket(broker.socket()).autostart(false).connect().unwrap()
}

fn name(text: &str) -> ObjectName {
    ObjectName::parse(text).unwrap()
}

/// A page of `handle`, mapped as the broker hands it to `client`.
fn page(client: &mut RawClient, handle: switchboard_types::Handle) -> std::os::fd::OwnedFd {
    let (_, mut fds) = client.ok(p::MapSync { handle }).unwrap();
    fds.pop().expect("a page")
}

#[test]
fn a_wait_only_handle_cannot_set_events_or_forge_mutexes_and_semaphores() {
    const TEST: &str = "sync::a_wait_only_handle_cannot_set_events_or_forge_mutexes_and_semaphores";
    if role::current().is_some() {
        let mut client = child_client();
        let mut writable = Vec::new();
        for (kind, object) in [(ObjectKind::Event, "e"), (ObjectKind::Mutex, "m"), (ObjectKind::Semaphore, "s")] {
            let open = p::Open { kind, name: name(&format!("Global\\{object}")), access: SYNCHRONIZE };
            let (handle, _) = client.ok(open).unwrap();
            let fd = page(&mut client, handle);
            let path = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&fd));
            let reopened = rustix::fs::open(path.as_str(), rustix::fs::OFlags::RDWR, rustix::fs::Mode::empty());
            let page = SyncPage::map(&fd).ok().or_else(|| reopened.ok().and_then(|f| SyncPage::map(&f).ok()));
            if let Some(page) = page {
                // Set the event, own the mutex, fill the semaphore.
                page.slot().overwrite(if kind == ObjectKind::Mutex { 4242 } else { 5 });
                page.wake_all();
                writable.push(object);
            }
        }
        role::report(&format!("WRITABLE {writable:?}"));
        return;
    }
    if !may_switch_user() {
        return;
    }
    let mut broker = broker();
    let mut owner = RawClient::connect(broker.socket()).unwrap();
    let security = || p::Security { sddl: Some(WAIT_FOR_ALL.into()) };
    let (e, _) = owner.ok(new_event(Some("Global\\e"), Some(WAIT_FOR_ALL))).unwrap();
    let mutex = p::CreateMutex {
        name: Some(name("Global\\m")),
        initial_owner: false,
        thread: 0,
        access: MUTEX_ALL_ACCESS,
        security: security(),
    };
    let (m, _) = owner.ok(mutex).unwrap();
    let sem = p::CreateSemaphore {
        name: Some(name("Global\\s")),
        initial: 0,
        maximum: 5,
        access: SEMAPHORE_ALL_ACCESS,
        security: security(),
    };
    let (s, _) = owner.ok(sem).unwrap();
    let pages: Vec<SyncPage> =
        [e.handle, m.handle, s.handle].into_iter().map(|h| SyncPage::map(&page(&mut owner, h)).unwrap()).collect();
    let mut child = Role::new(TEST, "waiter").env(broker.env()).user(NOBODY.0, NOBODY.1).spawn();
    let said = child.expect_line("WRITABLE");
    child.wait_success();
    let states: Vec<u32> = pages.iter().map(|p| p.slot().state()).collect();
    assert_eq!(states, [0, 0, 0], "a wait-only handle changed state (it got writable pages: {said})");
    assert_eq!(said, "[]");
    let probe = assert_serves(&mut broker, 50);
    hostile::report("SYNCHRONIZE-only handles: map RW, reopen RW, set/forge", 6, "refused (read-only page)", &probe);
}

/// Waits on `event` in a thread; the receiver gets the outcome.
fn wait_in_thread(event: Event) -> mpsc::Receiver<switchboard::Result<WaitResult>> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(event.wait(None));
    });
    rx
}

fn counted_in(conn: &Connection, object: &str) -> bool {
    switchboard_testkit::eventually(STRANDED, || conn.show(object).is_ok_and(|info| info.waiters > 0))
}

#[test]
fn an_infinite_waiter_outlives_a_zeroed_page_and_a_set_made_without_a_wake() {
    let mut broker = broker();
    let conn = connect(&broker);
    let options = EventOptions::new().security("D:(A;;GA;;;WD)");
    let event = options.create(&conn, "Global\\zeroed").unwrap().object;
    let mut attacker = RawClient::connect(broker.socket()).unwrap();
    let open = p::Open { kind: ObjectKind::Event, name: name("Global\\zeroed"), access: EVENT_ALL_ACCESS };
    let (handle, _) = attacker.ok(open).unwrap();
    let fd = page(&mut attacker, handle);
    let view = View::map(&fd, 0, 4096, ViewKind::Write).unwrap();

    // 1. The sleeper count erased, then a legitimate set (which sees no
    //    sleeper, so wakes nobody).
    let done = wait_in_thread(event.try_clone().unwrap());
    assert!(counted_in(&conn, "Global\\zeroed"));
    view.write_at(0, &[0u8; 16]).unwrap();
    event.set().unwrap();
    let first = done.recv_timeout(STRANDED);
    // 2. The event set by a holder writing the word, waking nobody.
    let done = wait_in_thread(event.try_clone().unwrap());
    assert!(counted_in(&conn, "Global\\zeroed"));
    view.write_at(0, &1u64.to_le_bytes()).unwrap();
    let second = done.recv_timeout(STRANDED);
    assert!(matches!(first, Ok(Ok(WaitResult::Signaled(0)))), "stranded after a zeroed page: {first:?}");
    assert!(matches!(second, Ok(Ok(WaitResult::Signaled(0)))), "stranded after a set without a wake: {second:?}");
    let probe = assert_serves(&mut broker, 50);
    hostile::report("zero a page / set without waking, under an infinite waiter", 2, "waiter re-checks, ends", &probe);
}

#[test]
fn a_damaged_mutex_is_repaired_and_abandoned_when_its_owner_dies() {
    const TEST: &str = "sync::a_damaged_mutex_is_repaired_and_abandoned_when_its_owner_dies";
    if role::current().is_some() {
        let conn = Connection::connect().unwrap();
        let m = Mutex::open(&conn, "Global\\damaged", MUTEX_ALL_ACCESS).unwrap();
        assert_eq!(m.acquire(None).unwrap(), WaitResult::Signaled(0));
        role::report("OWNED");
        loop {
            std::thread::park();
        }
    }
    let mut broker = broker();
    let conn = connect(&broker);
    let mutex = Mutex::create(&conn, "Global\\damaged", false).unwrap().object;
    let mut owner = Role::new(TEST, "owner").env(broker.env()).spawn();
    owner.expect_line("OWNED");
    // A holder sets the lock half to a thread that does not exist, and
    // leaves it; then the owner dies.
    let mut attacker = RawClient::connect(broker.socket()).unwrap();
    let open = p::Open { kind: ObjectKind::Mutex, name: name("Global\\damaged"), access: MUTEX_ALL_ACCESS };
    let (handle, _) = attacker.ok(open).unwrap();
    let page = SyncPage::map(&page(&mut attacker, handle)).unwrap();
    let state = page.slot().state();
    page.slot().overwrite(u64::from(state) | (0x7fff_0001_u64 << 32));
    owner.kill();
    // The broker, owner of record, repairs the word: the next wait gets it abandoned.
    let got = switchboard_testkit::eventually(STRANDED, || {
        mutex.acquire(Some(Duration::from_millis(100))).is_ok_and(|r| r == WaitResult::Abandoned(0))
    });
    assert!(got, "the damaged mutex was never abandoned (word {:#x})", page.slot().state());
    mutex.release().unwrap();
    let probe = assert_serves(&mut broker, 50);
    hostile::report("lock a mutex's word for ever, then kill its owner", 1, "repaired: abandoned", &probe);
}

#[test]
fn locked_events_do_not_freeze_the_broker_and_notifications_are_bounded() {
    let mut broker = broker();
    let mut attacker = RawClient::connect(broker.socket()).unwrap();
    let key = p::RegCreateKey {
        base: p::RegBase::Root(switchboard_types::registry::RootKey::CurrentUser),
        path: "Software\\Hostile".into(),
        volatile: true,
        class: String::new(),
        security: p::Security::default(),
        access: KEY_ALL_ACCESS,
    };
    let (key, _) = attacker.ok(key).unwrap();
    let watches = 400;
    let mut pages = Vec::new();
    for _ in 0..watches {
        let (event, _) = attacker.ok(new_event(None, None)).unwrap();
        attacker.ok(p::RegNotify { key: key.handle, subtree: true, filter: 4, event: event.handle }).unwrap();
        let page = SyncPage::map(&page(&mut attacker, event.handle)).unwrap();
        // Locked for ever, as a frozen wait-all would leave it.
        page.slot().overwrite(0x0000_4242_0000_0000);
        pages.push(page);
    }
    // One change fires every watch at once.
    let value = p::RegSetValue {
        key: key.handle,
        name: "v".into(),
        value: switchboard_types::registry::RawValue { kind: 4, data: vec![1, 0, 0, 0] },
    };
    attacker.send(value, false).unwrap();
    let probe = hostile::probe_status(broker.socket(), 50).expect("served during the notifications");
    assert!(
        probe.percentile(100) < 5_000_000,
        "another user waited {} us for a status: the broker froze",
        probe.percentile(100)
    );
    // Every event is set in the end (the broker let go of the stale locks).
    let all_set = switchboard_testkit::eventually(STRANDED, || pages.iter().all(|p| p.slot().state() & 1 == 1));
    assert!(all_set, "notifications were lost");
    // And one client's notifications are bounded.
    let mut refused = None;
    for _ in 0..2000 {
        let (event, _) = attacker.ok(new_event(None, None)).unwrap();
        if let (Err(e), _) =
            attacker.call(p::RegNotify { key: key.handle, subtree: true, filter: 4, event: event.handle }).unwrap()
        {
            refused = Some(e.code);
            break;
        }
    }
    assert_eq!(refused, Some(switchboard_types::Win32Error::ERROR_NOT_ENOUGH_QUOTA));
    let after = assert_serves(&mut broker, 50);
    hostile::report(
        &format!("{watches} registry notifications on locked events"),
        watches,
        "no spin; set after patience",
        &probe,
    );
    hostile::report("RegNotifyChangeKeyValue flood", 2000, "ERROR_NOT_ENOUGH_QUOTA at 1024", &after);
}
