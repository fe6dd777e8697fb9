//! The object manager driven directly: no sockets, no threads, simulated time.

use std::time::{Duration, Instant};

use switchboard_proto::{self as p, Reply, ReplyFrame, Request, RequestFrame, WireError};
use switchboard_types::access::event::{EVENT_ALL_ACCESS as ALL, EVENT_MODIFY_STATE};
use switchboard_types::access::mutex::MUTEX_ALL_ACCESS;
use switchboard_types::access::section::SECTION_ALL_ACCESS;
use switchboard_types::access::standard::{GENERIC_EXECUTE, GENERIC_READ, GENERIC_WRITE, READ_CONTROL, SYNCHRONIZE};
use switchboard_types::syncstate::{self, Shape, Slot, Step};
use switchboard_types::{Atom, AtomKey, Handle, NamespacePath, ObjectKind, ObjectName, Win32Error};

use super::*;

struct World {
    core: Core,
    now: Instant,
    next_id: u32,
}

impl World {
    fn new() -> Self {
        Self::with(Config::default())
    }

    fn with(config: Config) -> Self {
        Self::with_resources(config, Box::new(crate::os::OsResources))
    }

    fn with_resources(config: Config, resources: Box<dyn Resources>) -> Self {
        // The epoch of simulated time (`Instant` has no other constructor);
        // the core itself never reads the clock.
        let now = Instant::now();
        let mut w = Self { core: Core::new(config, now, resources), now, next_id: 1 };
        for (c, uid) in [(1, 1000), (2, 1000), (3, 2000)] {
            w.connect(c, uid).unwrap();
        }
        w
    }

    fn connect(&mut self, client: u64, uid: u32) -> Result<(), String> {
        let cred = Credentials { pid: 100 + client as u32, uid, gid: uid, groups: vec![] };
        self.core.client_connected(ClientId(client), cred)
    }

    /// Sends a request; returns its id and the reply if it came at once.
    fn send(&mut self, client: u64, request: Request) -> (u32, Option<Result<Reply, WireError>>) {
        let id = self.next_id;
        self.next_id += 1;
        self.core.handle_request(ClientId(client), RequestFrame { id, fds: 0, request }, Vec::new(), self.now);
        (id, self.reply_to(client, id))
    }

    fn reply_to(&mut self, client: u64, id: u32) -> Option<Result<Reply, WireError>> {
        let mut found = None;
        let mut keep = Vec::new();
        for out in self.core.drain_output() {
            match out {
                Output::Reply { client: c, frame: ReplyFrame { id: i, result, .. }, .. }
                    if c == ClientId(client) && i == id =>
                {
                    found = Some(result);
                }
                other => keep.push(other),
            }
        }
        self.core.out.extend(keep);
        found
    }

    fn call(&mut self, client: u64, request: Request) -> Result<Reply, WireError> {
        self.send(client, request).1.expect("an immediate reply")
    }

    fn create(&mut self, client: u64, name: &str, manual: bool, initial: bool) -> Result<p::Created, WireError> {
        self.create_with(client, name, manual, initial, None)
    }

    fn create_with(
        &mut self,
        client: u64,
        name: &str,
        manual: bool,
        initial: bool,
        sddl: Option<&str>,
    ) -> Result<p::Created, WireError> {
        let req = p::CreateEvent {
            name: Some(ObjectName::parse(name).unwrap()),
            manual_reset: manual,
            initial_state: initial,
            access: ALL,
            security: p::Security { sddl: sddl.map(str::to_owned) },
        };
        match self.call(client, Request::CreateEvent(req))? {
            Reply::CreateEvent(c) => Ok(c),
            other => panic!("{other:?}"),
        }
    }

    fn open_kind(&mut self, client: u64, name: &str, kind: ObjectKind) -> Result<Handle, WireError> {
        let req = p::Open { kind, name: ObjectName::parse(name).unwrap(), access: SYNCHRONIZE };
        match self.call(client, Request::Open(req))? {
            Reply::Open(h) => Ok(h),
            other => panic!("{other:?}"),
        }
    }

    fn open(&mut self, client: u64, name: &str, access: AccessMask) -> Result<Handle, WireError> {
        let req = p::Open { kind: ObjectKind::Event, name: ObjectName::parse(name).unwrap(), access };
        match self.call(client, Request::Open(req))? {
            Reply::Open(h) => Ok(h),
            other => panic!("{other:?}"),
        }
    }

    fn map(&mut self, client: u64, handle: Handle) -> Result<(p::SyncMapped, u8), WireError> {
        let id = self.next_id;
        self.next_id += 1;
        let request = Request::MapSync(p::MapSync { handle });
        self.core.handle_request(ClientId(client), RequestFrame { id, fds: 0, request }, Vec::new(), self.now);
        for out in self.core.drain_output() {
            if let Output::Reply { client: c, frame, fds } = out
                && c == ClientId(client)
                && frame.id == id
            {
                assert_eq!(usize::from(frame.fds), fds.len());
                return frame.result.map(|r| match r {
                    Reply::MapSync(m) => (m, frame.fds),
                    other => panic!("{other:?}"),
                });
            }
        }
        panic!("no reply")
    }

    /// The shared state behind a client's handle, as the broker maps it.
    fn slot(&self, client: u64, handle: Handle) -> &Slot {
        let entry = self.core.clients[&ClientId(client)].handles.get(handle).expect("open handle");
        let object = self.core.store.get(entry.object).expect("live object");
        objects::downcast::<sync::SyncObject>(object.object.as_ref()).expect("a sync object").slot()
    }

    fn announce(&mut self, client: u64, thread: u32) {
        self.call(client, Request::ThreadStarted(p::ThreadStarted { thread })).unwrap();
    }

    fn create_mutex(&mut self, client: u64, name: &str, owner: Option<u32>) -> Result<p::Created, WireError> {
        let req = p::CreateMutex {
            name: Some(ObjectName::parse(name).unwrap()),
            initial_owner: owner.is_some(),
            thread: owner.unwrap_or(0),
            access: MUTEX_ALL_ACCESS,
            security: p::Security::default(),
        };
        match self.call(client, Request::CreateMutex(req))? {
            Reply::CreateMutex(c) => Ok(c),
            other => panic!("{other:?}"),
        }
    }

    fn close(&mut self, client: u64, handle: Handle) -> Result<Reply, WireError> {
        self.call(client, Request::Close(p::Close { handle }))
    }

    fn exists(&mut self, client: u64, name: &str) -> bool {
        match self.open(client, name, ALL) {
            Ok(h) => {
                self.close(client, h).unwrap();
                true
            }
            Err(e) if e.code == Win32Error::ERROR_FILE_NOT_FOUND => false,
            Err(e) => panic!("{e}"),
        }
    }
}

#[test]
fn create_twice_opens_the_existing_object_and_says_so() {
    let mut w = World::new();
    let first = w.create(1, "E", false, false).unwrap();
    assert!(!first.already_existed);
    let second = w.create(2, "E", true, true).unwrap();
    assert!(second.already_existed);
    // The second creator's parameters are ignored: still auto-reset, not signaled.
    let (mapped, _) = w.map(2, second.handle).unwrap();
    assert_eq!(mapped.shape, Shape::Event { manual_reset: false });
    assert_eq!(w.slot(2, second.handle).state() & 1, 0);
}

#[test]
fn names_are_case_sensitive() {
    let mut w = World::new();
    w.create(1, "Test Event", false, false).unwrap();
    assert!(!w.create(1, "TEST EVENT", false, false).unwrap().already_existed);
    assert_eq!(w.open(1, "test event", ALL).unwrap_err().code, Win32Error::ERROR_FILE_NOT_FOUND);
}

#[test]
fn local_prefix_is_the_same_object_and_global_is_another() {
    let mut w = World::new();
    w.create(1, "n", false, false).unwrap();
    assert!(w.create(1, "Local\\n", false, false).unwrap().already_existed);
    assert!(!w.create(1, "Global\\n", false, false).unwrap().already_existed);
}

#[test]
fn unknown_prefix_is_path_not_found() {
    let mut w = World::new();
    assert_eq!(w.create(1, "Bogus\\n", false, false).unwrap_err().code, Win32Error::ERROR_PATH_NOT_FOUND);
}

#[test]
fn name_held_by_another_type_is_invalid_handle() {
    let mut w = World::new();
    // "Global" in the session directory is a symbolic link.
    assert_eq!(w.create(1, "Global", false, false).unwrap_err().code, Win32Error::ERROR_INVALID_HANDLE);
    assert_eq!(w.open(1, "Local", ALL).unwrap_err().code, Win32Error::ERROR_INVALID_HANDLE);
}

#[test]
fn open_of_a_missing_name_is_file_not_found() {
    let mut w = World::new();
    assert_eq!(w.open(1, "nothing", ALL).unwrap_err().code, Win32Error::ERROR_FILE_NOT_FOUND);
}

#[test]
fn object_vanishes_with_its_last_handle() {
    let mut w = World::new();
    let a = w.create(1, "E", false, false).unwrap().handle;
    let b = w.open(2, "E", ALL).unwrap();
    w.close(1, a).unwrap();
    assert!(w.exists(1, "E"));
    w.close(2, b).unwrap();
    assert!(!w.exists(1, "E"));
}

#[test]
fn closing_a_handle_twice_is_invalid_handle() {
    let mut w = World::new();
    let h = w.create(1, "E", false, false).unwrap().handle;
    w.close(1, h).unwrap();
    assert_eq!(w.close(1, h).unwrap_err().code, Win32Error::ERROR_INVALID_HANDLE);
}

#[test]
fn handles_are_per_process() {
    let mut w = World::new();
    let h = w.create(1, "E", false, false).unwrap().handle;
    assert_eq!(w.map(2, h).unwrap_err().code, Win32Error::ERROR_INVALID_HANDLE);
}

#[test]
fn a_departed_client_loses_its_handles_and_its_names() {
    let mut w = World::new();
    w.create(1, "E", true, false).unwrap();
    w.core.client_disconnected(ClientId(1), "killed");
    assert!(!w.exists(2, "E"));
}

#[test]
fn new_objects_start_in_the_state_asked_for() {
    let mut w = World::new();
    let e = w.create(1, "E", true, true).unwrap().handle;
    assert_eq!(w.slot(1, e).state() & 1, 1);
    let f = w.create(1, "F", false, false).unwrap().handle;
    assert_eq!(w.slot(1, f).state() & 1, 0);
    w.announce(1, 77);
    let m = w.create_mutex(1, "M", Some(77)).unwrap().handle;
    assert_eq!((syncstate::mutex_owner(w.slot(1, m).state()), w.slot(1, m).recursion()), (Some(77), 1));
    assert_eq!(w.create_mutex(1, "N", Some(0)).unwrap_err().code, Win32Error::ERROR_INVALID_PARAMETER);
    let again = w.create_mutex(2, "M", Some(88)).unwrap();
    assert!(again.already_existed);
    assert_eq!(syncstate::mutex_owner(w.slot(2, again.handle).state()), Some(77), "opening does not take ownership");
}

#[test]
fn the_page_goes_only_to_handles_that_may_wait_or_change_the_object() {
    let mut w = World::new();
    let created = w.create(1, "E", true, true).unwrap().handle;
    let (all, fds) = w.map(1, created).unwrap();
    assert_eq!((all.shape, all.mapped, all.writable, fds), (Shape::Event { manual_reset: true }, true, true, 1));
    assert_eq!(all.access, ALL);
    let modify = w.open(1, "E", EVENT_MODIFY_STATE).unwrap();
    let (m, fds) = w.map(1, modify).unwrap();
    assert!(
        m.mapped && fds == 1 && !m.access.intersects(SYNCHRONIZE),
        "may set, may not wait: the client refuses waits"
    );
    let sync = w.open(1, "E", SYNCHRONIZE).unwrap();
    let (s, _) = w.map(1, sync).unwrap();
    assert!(s.mapped && !s.access.intersects(EVENT_MODIFY_STATE) && !s.writable, "may wait only: a read-only page");
    let query = w.open(1, "E", READ_CONTROL).unwrap();
    let none = p::SyncMapped { mapped: false, writable: false, access: READ_CONTROL, ..all };
    assert_eq!(w.map(1, query).unwrap(), (none, 0));
    assert_eq!(all.object, m.object, "one object, one id");
}

#[test]
fn mapping_an_invalid_or_other_handle_is_invalid_handle_and_tag_bits_are_ignored() {
    let mut w = World::new();
    let h = w.create(1, "E", true, true).unwrap().handle;
    assert_eq!(w.map(1, Handle(0x400)).unwrap_err().code, Win32Error::ERROR_INVALID_HANDLE);
    assert_eq!(w.map(1, Handle(1)).unwrap_err().code, Win32Error::ERROR_INVALID_HANDLE);
    assert!(w.map(1, Handle(h.0 | 3)).unwrap().0.mapped);
    assert_eq!(w.map(2, h).unwrap_err().code, Win32Error::ERROR_INVALID_HANDLE, "handles are per process");
    let name = switchboard_types::MailslotName::parse(r"\\.\mailslot\m").unwrap();
    let req = p::CreateMailslot { name, max_message_size: 0, security: p::Security::default() };
    let Reply::CreateMailslot(slot) = w.call(1, Request::CreateMailslot(req)).unwrap() else { panic!() };
    assert_eq!(w.map(1, slot).unwrap_err().code, Win32Error::ERROR_INVALID_HANDLE);
}

#[test]
fn a_departed_client_abandons_the_mutexes_its_threads_own() {
    let mut w = World::new();
    w.announce(1, 500);
    w.create_mutex(1, "M", Some(500)).unwrap();
    let kept = w.create_mutex(1, "K", None).unwrap().handle;
    let watch = w.create_mutex(2, "M", None).unwrap().handle;
    // Thread 600 of client 2 owns K; client 1 never announced it.
    let k2 = w.create_mutex(2, "K", None).unwrap().handle;
    assert!(matches!(w.slot(1, kept).try_take(Shape::Mutex, 600, None), Ok(Step::Done(_))));
    w.core.client_disconnected(ClientId(1), "killed");
    assert_eq!(w.slot(2, watch).try_take(Shape::Mutex, 700, None), Ok(Step::Done(syncstate::Taken::Abandoned)));
    assert_eq!(syncstate::mutex_owner(w.slot(2, k2).state()), Some(600), "another client's mutex is untouched");
}

#[test]
fn a_thread_another_connection_still_speaks_for_keeps_its_mutexes() {
    let mut w = World::new();
    w.announce(1, 500);
    w.announce(2, 500);
    w.create_mutex(1, "M", Some(500)).unwrap();
    let m2 = w.open_kind(2, "M", ObjectKind::Mutex).unwrap();
    w.core.client_disconnected(ClientId(1), "closed");
    assert_eq!(syncstate::mutex_owner(w.slot(2, m2).state()), Some(500));
    w.call(2, Request::ThreadExited(p::ThreadExited { thread: 500 })).unwrap();
    w.core.client_disconnected(ClientId(2), "closed");
    assert_eq!(w.core.store.len(), 0);
}

#[test]
fn a_departed_clients_wait_all_lock_is_let_go() {
    let mut w = World::new();
    w.announce(1, 500);
    let a = w.create(1, "A", false, true).unwrap().handle;
    let b = w.create(1, "B", false, false).unwrap().handle;
    let a2 = w.open(2, "A", ALL).unwrap();
    // Client 1 dies holding A's lock in the middle of a wait-all: simulate
    // by locking through the state machine and stopping there.
    {
        let (sa, sb) = (w.slot(1, a), w.slot(1, b));
        let slots = [(sa, Shape::Event { manual_reset: false }), (sb, Shape::Event { manual_reset: false })];
        // B is not signaled, so the attempt unlocks both; lock A by hand instead.
        assert_eq!(syncstate::try_take_all(&slots, &[0, 1], 500, &mut [0; 2]), Ok(Step::Blocked(0)));
    }
    let state = w.slot(1, a).state();
    w.slot(1, a).overwrite(u64::from(state) | (500 << 32));
    assert_eq!(w.slot(2, a2).set(), Step::Locked);
    w.core.client_disconnected(ClientId(1), "killed");
    assert_eq!(w.slot(2, a2).lock_holder(), 0);
    assert_eq!(
        w.slot(2, a2).try_take(Shape::Event { manual_reset: false }, 9, None),
        Ok(Step::Done(syncstate::Taken::Normal))
    );
}

#[test]
fn a_thread_that_is_not_the_clients_own_cannot_be_announced() {
    let mut w = World::with(Config { verify_threads: true, ..Config::default() });
    // Client 1 claims pid 101; thread 0x3fff_fff0 is beyond any pid_max.
    let r = w.call(1, Request::ThreadStarted(p::ThreadStarted { thread: 0x3FFF_FFF0 }));
    let e = r.unwrap_err();
    assert_eq!(e.code, Win32Error::ERROR_INVALID_PARAMETER);
    assert!(e.message.contains("not a thread of process 101"), "{}", e.message);
}

#[test]
fn a_thread_that_exits_abandons_even_the_mutexes_its_process_no_longer_holds() {
    let mut w = World::new();
    w.announce(1, 500);
    let m = w.create_mutex(1, "M", Some(500)).unwrap().handle;
    let watch = w.create_mutex(2, "M", None).unwrap().handle;
    w.close(1, m).unwrap();
    w.call(1, Request::ThreadExited(p::ThreadExited { thread: 500 })).unwrap();
    assert_eq!(w.slot(2, watch).try_take(Shape::Mutex, 700, None), Ok(Step::Done(syncstate::Taken::Abandoned)));
}

#[test]
fn an_abandonment_held_up_by_a_live_lock_is_finished_from_the_timer() {
    let mut w = World::new();
    w.announce(1, 500);
    w.create_mutex(1, "M", Some(500)).unwrap();
    let watch = w.create_mutex(2, "M", None).unwrap().handle;
    // Thread 900 of client 2 is in the middle of a wait-all on M.
    let state = w.slot(2, watch).state();
    w.slot(2, watch).overwrite(u64::from(state) | (900 << 32));
    w.core.client_disconnected(ClientId(1), "killed");
    assert_eq!(w.core.poll_timeout(w.now), Some(w.now + RETRY_INTERVAL), "a retry is due, counted from now");
    assert_eq!(syncstate::mutex_owner(w.slot(2, watch).state()), Some(500), "not yet");
    w.slot(2, watch).overwrite(u64::from(state));
    w.core.handle_timeout(w.now);
    assert_eq!(w.slot(2, watch).try_take(Shape::Mutex, 700, None), Ok(Step::Done(syncstate::Taken::Abandoned)));
    assert_eq!(w.core.poll_timeout(w.now), None);
}

#[test]
fn announcing_thread_zero_is_invalid_and_the_count_is_bounded() {
    let mut w = World::new();
    let r = w.call(1, Request::ThreadStarted(p::ThreadStarted { thread: 0 }));
    assert_eq!(r.unwrap_err().code, Win32Error::ERROR_INVALID_PARAMETER);
    for t in 1..=sync::MAX_THREADS_PER_CLIENT as u32 {
        w.core.clients.get_mut(&ClientId(1)).unwrap().threads.insert(t);
    }
    let r = w.call(1, Request::ThreadStarted(p::ThreadStarted { thread: 0x7000_0000 }));
    assert_eq!(r.unwrap_err().code, Win32Error::ERROR_NO_SYSTEM_RESOURCES);
}

#[test]
fn open_asking_for_no_access_is_denied() {
    let mut w = World::new();
    w.create(1, "E", true, true).unwrap();
    assert_eq!(w.open(1, "E", AccessMask(0)).unwrap_err().code, Win32Error::ERROR_ACCESS_DENIED);
}

#[test]
fn a_file_section_whose_descriptor_did_not_come_is_invalid_handle() {
    let mut w = World::new();
    let req = p::CreateSection {
        name: None,
        size: 0,
        protection: p::PageProtection::ReadOnly,
        file: true,
        reserve: false,
        access: SECTION_ALL_ACCESS,
        security: p::Security::default(),
    };
    let e = w.call(1, Request::CreateSection(req)).unwrap_err();
    assert_eq!(e.code, Win32Error::ERROR_INVALID_HANDLE);
    assert!(e.message.contains("no file descriptor"), "{}", e.message);
}

#[test]
fn generic_execute_can_wait() {
    let mut w = World::new();
    w.create(1, "E", true, true).unwrap();
    let h = w.open(1, "E", GENERIC_EXECUTE).unwrap();
    let (m, _) = w.map(1, h).unwrap();
    assert!(m.mapped && m.access.intersects(SYNCHRONIZE));
}

#[test]
fn default_dacl_keeps_other_users_out() {
    let mut w = World::new();
    w.create(1, "Global\\E", true, true).unwrap();
    assert_eq!(w.open(3, "Global\\E", SYNCHRONIZE).unwrap_err().code, Win32Error::ERROR_ACCESS_DENIED);
    assert_eq!(w.create(3, "Global\\E", true, true).unwrap_err().code, Win32Error::ERROR_ACCESS_DENIED);
    assert!(w.open(2, "Global\\E", ALL).is_ok(), "the same user may open it");
}

#[test]
fn each_user_has_its_own_local_names() {
    let mut w = World::new();
    w.create_with(1, "E", true, true, Some("D:(A;;GA;;;WD)")).unwrap();
    assert!(w.open(2, "Local\\E", ALL).is_ok(), "another process of the same user shares its session");
    assert_eq!(w.open(3, "E", SYNCHRONIZE).unwrap_err().code, Win32Error::ERROR_FILE_NOT_FOUND);
    assert!(!w.create(3, "Local\\E", true, true).unwrap().already_existed, "uid 2000 gets an E of its own");
    assert_eq!(w.open(3, "Session\\1000\\E", SYNCHRONIZE).unwrap_err().code, Win32Error::ERROR_ACCESS_DENIED);
}

#[test]
fn explicit_dacl_can_let_another_user_in() {
    let mut w = World::new();
    w.create_with(1, "Global\\E", true, true, Some("D:(A;;GX;;;S-1-22-1-2000)")).unwrap();
    assert!(w.open(3, "Global\\E", SYNCHRONIZE).is_ok());
    assert_eq!(w.open(3, "Global\\E", EVENT_MODIFY_STATE).unwrap_err().code, Win32Error::ERROR_ACCESS_DENIED);
}

#[test]
fn bad_sddl_is_invalid_parameter_with_the_reason() {
    let mut w = World::new();
    let e = w.create_with(1, "E", true, true, Some("D:(X;;GA;;;WD)")).unwrap_err();
    assert_eq!(e.code, Win32Error::ERROR_INVALID_PARAMETER);
    assert!(e.message.contains("SDDL"), "{}", e.message);
}

#[test]
fn check_access_explains_the_decision() {
    let mut w = World::new();
    w.create(1, "E", true, true).unwrap();
    let target = p::Target::Name(ObjectName::parse("E").unwrap());
    let req = p::CheckAccess { target, uid: 2000, gid: 2000, groups: vec![] };
    let Reply::CheckAccess(report) = w.call(1, Request::CheckAccess(req.clone())).unwrap() else { panic!() };
    assert_eq!(report.granted, AccessMask(0));
    assert!(report.steps.is_empty(), "no ACE names uid 2000");
    let owner = p::CheckAccess { uid: 1000, gid: 1000, ..req };
    let Reply::CheckAccess(report) = w.call(1, Request::CheckAccess(owner)).unwrap() else { panic!() };
    assert_eq!(report.granted, ALL);
    assert_eq!(report.steps.first().map(|s| s.index), Some(0));
}

#[test]
fn show_lists_holders_and_state() {
    let mut w = World::new();
    w.create(1, "E", true, true).unwrap();
    w.open(2, "E", ALL).unwrap();
    let Reply::Show(info) =
        w.call(1, Request::Show(p::Show { target: p::Target::Name(ObjectName::parse("E").unwrap()) })).unwrap()
    else {
        panic!()
    };
    assert_eq!(info.path, "\\Sessions\\1000\\BaseNamedObjects\\E");
    assert_eq!(info.holders.iter().map(|h| h.pid).collect::<Vec<_>>(), [101, 102]);
    assert_eq!(info.state, "signaled, manual-reset");
    assert!(info.sddl.starts_with("O:S-1-22-1-1000"), "{}", info.sddl);
}

#[test]
fn directory_listing_shows_objects_with_handle_counts() {
    let mut w = World::new();
    w.create(1, "E", true, true).unwrap();
    let path = NamespacePath::session_objects(1000);
    let Reply::ListDirectory(rows) = w.call(1, Request::ListDirectory(p::ListDirectory { path })).unwrap() else {
        panic!()
    };
    let e = rows.iter().find(|r| r.name == "E").unwrap();
    assert_eq!((e.kind, e.handles), (ObjectKind::Event, Some(1)));
    assert!(rows.iter().any(|r| r.name == "Global" && r.kind == ObjectKind::SymbolicLink));
}

#[test]
fn malformed_frames_are_answered_then_the_client_is_dropped() {
    let mut w = World::new();
    for _ in 0..7 {
        w.core.handle_malformed(ClientId(1), "garbage");
    }
    let outs = w.core.drain_output();
    assert_eq!(outs.len(), 7);
    assert!(outs.iter().all(|o| matches!(o, Output::Reply { frame: ReplyFrame { id: 0, result: Err(_), .. }, .. })));
    w.core.handle_malformed(ClientId(1), "garbage");
    assert!(matches!(w.core.drain_output().as_slice(), [Output::Disconnect { .. }]));
}

#[test]
fn handle_limit_refuses_with_a_reason_and_the_client_carries_on() {
    let mut w = World::with(Config { max_handles: 2, ..Config::default() });
    w.create(1, "A", true, true).unwrap();
    w.create(1, "B", true, true).unwrap();
    let e = w.create(1, "C", true, true).unwrap_err();
    assert_eq!(e.code, Win32Error::ERROR_NO_SYSTEM_RESOURCES);
    assert!(!w.exists(2, "C"), "nothing was left behind");
}

#[test]
fn client_limit_refuses_the_next_client() {
    let mut w = World::with(Config { max_clients: 3, ..Config::default() });
    assert!(w.connect(9, 1000).is_err());
}

fn add_atom(w: &mut World, client: u64, name: &str) -> Atom {
    let Reply::AddAtom(a) =
        w.call(client, Request::AddAtom(p::AddAtom { key: AtomKey::parse(name).unwrap() })).unwrap()
    else {
        panic!()
    };
    a
}

fn find_atom(w: &mut World, client: u64, name: &str) -> Result<Atom, Win32Error> {
    match w.call(client, Request::FindAtom(p::FindAtom { key: AtomKey::parse(name).unwrap() })) {
        Ok(Reply::FindAtom(a)) => Ok(a),
        Ok(other) => panic!("{other:?}"),
        Err(e) => Err(e.code),
    }
}

#[test]
fn global_atoms_are_shared_between_clients_of_one_user() {
    let mut w = World::new();
    let a = add_atom(&mut w, 1, "foobar");
    assert_eq!(find_atom(&mut w, 2, "FOOBAR"), Ok(a));
    w.call(2, Request::DeleteAtom(p::DeleteAtom { atom: a })).unwrap();
    assert_eq!(find_atom(&mut w, 1, "foobar"), Err(Win32Error::ERROR_FILE_NOT_FOUND));
}

#[test]
fn each_user_has_its_own_global_atom_table() {
    let mut w = World::new();
    let a = add_atom(&mut w, 1, "foobar");
    assert_eq!(find_atom(&mut w, 3, "foobar"), Err(Win32Error::ERROR_FILE_NOT_FOUND));
    let e = w.call(3, Request::DeleteAtom(p::DeleteAtom { atom: a })).unwrap_err();
    assert_eq!(e.code, Win32Error::ERROR_INVALID_HANDLE, "uid 2000 cannot delete uid 1000's atom");
    let Reply::ListAtoms(listed) = w.call(3, Request::ListAtoms(p::ListAtoms)).unwrap() else { panic!() };
    assert!(listed.is_empty());
    add_atom(&mut w, 3, "foobar");
    let Reply::Status(status) = w.call(1, Request::Status(p::StatusRequest)).unwrap() else { panic!() };
    assert_eq!(status.atoms, 1, "status counts the caller's table");
    assert_eq!(find_atom(&mut w, 1, "foobar"), Ok(a));
}

#[test]
fn only_the_owner_or_root_may_stop_the_broker() {
    let mut w = World::with(Config { owner_uid: 1000, ..Config::default() });
    assert_eq!(w.call(3, Request::Shutdown(p::Shutdown)).unwrap_err().code, Win32Error::ERROR_ACCESS_DENIED);
    assert!(!w.core.shutdown_requested());
    w.call(1, Request::Shutdown(p::Shutdown)).unwrap();
    assert!(w.core.shutdown_requested());
}

#[test]
fn duplicate_gives_a_second_handle_to_the_same_object() {
    let mut w = World::new();
    let h = w.create(1, "E", true, false).unwrap().handle;
    let Reply::Duplicate(d) = w.call(1, Request::Duplicate(p::Duplicate { handle: h, access: None })).unwrap() else {
        panic!()
    };
    assert_ne!(d, h);
    w.close(1, h).unwrap();
    assert!(matches!(w.slot(1, d).set(), Step::Done(_)));
    assert!(w.exists(2, "E"));
}

#[test]
fn request_with_id_zero_gets_no_reply_but_takes_effect() {
    let mut w = World::new();
    let h = w.create(1, "E", false, false).unwrap().handle;
    w.core.handle_request(
        ClientId(1),
        RequestFrame { id: 0, fds: 0, request: Request::Close(p::Close { handle: h }) },
        Vec::new(),
        w.now,
    );
    assert!(w.core.drain_output().is_empty());
    assert!(!w.exists(2, "E"));
}

#[test]
fn connect_named_pipe_on_a_client_handle_is_invalid_function() {
    let mut w = World::new();
    let name = switchboard_types::PipeName::parse(r"\\.\pipe\p").unwrap();
    let create = p::CreatePipe {
        name: name.clone(),
        inbound: true,
        outbound: true,
        first_instance: false,
        pipe_type: p::PipeMode::Byte,
        read_mode: p::PipeMode::Byte,
        nowait: false,
        reject_remote: true,
        max_instances: 1,
        out_buffer: 0,
        in_buffer: 0,
        default_timeout_ms: 0,
        security: p::Security::default(),
    };
    w.call(1, Request::CreatePipe(create)).unwrap();
    let Reply::OpenPipe(opened) =
        w.call(2, Request::OpenPipe(p::OpenPipe { name, access: GENERIC_READ | GENERIC_WRITE })).unwrap()
    else {
        panic!()
    };
    let connect = p::ConnectPipe { handle: opened.handle, timeout_ms: Some(0), take_only: false };
    assert_eq!(w.call(2, Request::ConnectPipe(connect)).unwrap_err().code, Win32Error::ERROR_INVALID_FUNCTION);
    let disconnect = p::DisconnectPipe { handle: opened.handle };
    assert_eq!(w.call(2, Request::DisconnectPipe(disconnect)).unwrap_err().code, Win32Error::ERROR_INVALID_FUNCTION);
}

mod diagnostics;
mod random;
mod resources;
