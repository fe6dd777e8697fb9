//! The object manager driven directly: no sockets, no threads, simulated time.

use std::time::{Duration, Instant};

use switchboard_proto::{self as p, Reply, ReplyFrame, Request, RequestFrame, WaitOutcome, WireError};
use switchboard_types::{AtomKey, Handle, NamespacePath, ObjectKind, ObjectName, Win32Error};

use super::*;

const ALL: u32 = EVENT_ALL_ACCESS;
const SYNCHRONIZE: u32 = 0x0010_0000;

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
        let now = Instant::now();
        let mut w = Self { core: Core::new(config, now), now, next_id: 1 };
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
        self.core.handle_request(ClientId(client), RequestFrame { id, request }, self.now);
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

    fn open(&mut self, client: u64, name: &str, access: u32) -> Result<Handle, WireError> {
        let req = p::Open { kind: ObjectKind::Event, name: ObjectName::parse(name).unwrap(), access };
        match self.call(client, Request::Open(req))? {
            Reply::Open(h) => Ok(h),
            other => panic!("{other:?}"),
        }
    }

    fn event(&mut self, client: u64, handle: Handle, action: p::EventAction) -> Result<bool, WireError> {
        match self.call(client, Request::EventOp(p::EventOp { handle, action }))? {
            Reply::EventOp(prev) => Ok(prev),
            other => panic!("{other:?}"),
        }
    }

    fn wait(
        &mut self,
        client: u64,
        handles: &[Handle],
        all: bool,
        timeout_ms: Option<u64>,
    ) -> (u32, Option<Result<Reply, WireError>>) {
        self.send(client, Request::Wait(p::Wait { handles: handles.to_vec(), wait_all: all, timeout_ms, thread: 0 }))
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

fn signaled(r: Option<Result<Reply, WireError>>) -> WaitOutcome {
    match r {
        Some(Ok(Reply::Wait(o))) => o,
        other => panic!("expected a wait outcome, got {other:?}"),
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
    assert_eq!(signaled(w.wait(2, &[second.handle], false, Some(0)).1), WaitOutcome::TimedOut);
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
    assert_eq!(w.event(2, h, p::EventAction::Set).unwrap_err().code, Win32Error::ERROR_INVALID_HANDLE);
}

#[test]
fn a_departed_client_loses_its_handles_and_its_names() {
    let mut w = World::new();
    w.create(1, "E", true, false).unwrap();
    w.core.client_disconnected(ClientId(1), "killed");
    assert!(!w.exists(2, "E"));
}

#[test]
fn auto_reset_set_releases_exactly_one_waiter() {
    let mut w = World::new();
    let h1 = w.create(1, "E", false, false).unwrap().handle;
    let h2 = w.open(2, "E", ALL).unwrap();
    let (id1, r1) = w.wait(1, &[h1], false, None);
    let (id2, r2) = w.wait(2, &[h2], false, None);
    assert!(r1.is_none() && r2.is_none());
    w.event(1, h1, p::EventAction::Set).unwrap();
    let first = w.reply_to(1, id1);
    let second = w.reply_to(2, id2);
    assert_eq!(signaled(first), WaitOutcome::Signaled(0), "the oldest waiter wins");
    assert!(second.is_none());
    // The signal was consumed.
    assert_eq!(signaled(w.wait(1, &[h1], false, Some(0)).1), WaitOutcome::TimedOut);
}

#[test]
fn manual_reset_stays_set_until_reset() {
    let mut w = World::new();
    let h = w.create(1, "E", true, true).unwrap().handle;
    for _ in 0..3 {
        assert_eq!(signaled(w.wait(1, &[h], false, Some(0)).1), WaitOutcome::Signaled(0));
    }
    assert!(w.event(1, h, p::EventAction::Reset).unwrap(), "previous state was signaled");
    assert_eq!(signaled(w.wait(1, &[h], false, Some(0)).1), WaitOutcome::TimedOut);
}

#[test]
fn pulse_on_manual_releases_all_current_waiters_and_leaves_it_reset() {
    let mut w = World::new();
    let h1 = w.create(1, "E", true, false).unwrap().handle;
    let h2 = w.open(2, "E", ALL).unwrap();
    let (id1, _) = w.wait(1, &[h1], false, None);
    let (id2, _) = w.wait(2, &[h2], false, None);
    w.event(1, h1, p::EventAction::Pulse).unwrap();
    assert_eq!(signaled(w.reply_to(1, id1)), WaitOutcome::Signaled(0));
    assert_eq!(signaled(w.reply_to(2, id2)), WaitOutcome::Signaled(0));
    assert_eq!(signaled(w.wait(1, &[h1], false, Some(0)).1), WaitOutcome::TimedOut);
}

#[test]
fn pulse_on_auto_with_no_waiter_leaves_it_reset() {
    let mut w = World::new();
    let h = w.create(1, "E", false, false).unwrap().handle;
    w.event(1, h, p::EventAction::Pulse).unwrap();
    assert_eq!(signaled(w.wait(1, &[h], false, Some(0)).1), WaitOutcome::TimedOut);
}

#[test]
fn wait_times_out_at_its_deadline_and_not_before() {
    let mut w = World::new();
    let h = w.create(1, "E", false, false).unwrap().handle;
    let (id, r) = w.wait(1, &[h], false, Some(100));
    assert!(r.is_none());
    let deadline = w.core.poll_timeout().unwrap();
    assert_eq!(deadline, w.now + Duration::from_millis(100));
    w.core.handle_timeout(w.now + Duration::from_millis(99));
    assert!(w.reply_to(1, id).is_none());
    w.core.handle_timeout(deadline);
    assert_eq!(signaled(w.reply_to(1, id)), WaitOutcome::TimedOut);
    assert_eq!(w.core.poll_timeout(), None);
}

#[test]
fn wait_any_reports_the_lowest_signaled_index() {
    let mut w = World::new();
    let a = w.create(1, "A", true, false).unwrap().handle;
    let b = w.create(1, "B", true, true).unwrap().handle;
    let c = w.create(1, "C", true, true).unwrap().handle;
    assert_eq!(signaled(w.wait(1, &[a, b, c], false, Some(0)).1), WaitOutcome::Signaled(1));
}

#[test]
fn wait_all_consumes_nothing_until_everything_is_signaled() {
    let mut w = World::new();
    let a = w.create(1, "A", false, true).unwrap().handle;
    let b = w.create(1, "B", false, false).unwrap().handle;
    let (id, r) = w.wait(1, &[a, b], true, None);
    assert!(r.is_none());
    // A stays signaled while the wait-all is parked: another waiter can take it.
    let a2 = w.open(2, "A", ALL).unwrap();
    assert_eq!(signaled(w.wait(2, &[a2], false, Some(0)).1), WaitOutcome::Signaled(0));
    w.event(1, a, p::EventAction::Set).unwrap();
    assert!(w.reply_to(1, id).is_none());
    w.event(1, b, p::EventAction::Set).unwrap();
    assert_eq!(signaled(w.reply_to(1, id)), WaitOutcome::Signaled(0));
    // Both auto-reset events were consumed together.
    assert_eq!(signaled(w.wait(1, &[a], false, Some(0)).1), WaitOutcome::TimedOut);
    assert_eq!(signaled(w.wait(1, &[b], false, Some(0)).1), WaitOutcome::TimedOut);
}

#[test]
fn wait_with_zero_or_more_than_64_handles_is_invalid_parameter() {
    let mut w = World::new();
    let h = w.create(1, "E", true, true).unwrap().handle;
    assert_eq!(w.wait(1, &[], false, Some(0)).1.unwrap().unwrap_err().code, Win32Error::ERROR_INVALID_PARAMETER);
    assert_eq!(w.wait(1, &[h; 65], false, Some(0)).1.unwrap().unwrap_err().code, Win32Error::ERROR_INVALID_PARAMETER);
    assert_eq!(signaled(w.wait(1, &[h; 64], false, Some(0)).1), WaitOutcome::Signaled(0));
}

#[test]
fn invalid_handle_in_a_wait_is_invalid_handle_and_tag_bits_are_ignored() {
    let mut w = World::new();
    let h = w.create(1, "E", true, true).unwrap().handle;
    assert_eq!(
        w.wait(1, &[Handle(0x400)], false, Some(0)).1.unwrap().unwrap_err().code,
        Win32Error::ERROR_INVALID_HANDLE
    );
    assert_eq!(w.wait(1, &[Handle(1)], false, Some(0)).1.unwrap().unwrap_err().code, Win32Error::ERROR_INVALID_HANDLE);
    assert_eq!(signaled(w.wait(1, &[Handle(h.0 | 3)], false, Some(0)).1), WaitOutcome::Signaled(0));
}

#[test]
fn handle_without_synchronize_cannot_wait() {
    let mut w = World::new();
    w.create(1, "E", true, true).unwrap();
    let h = w.open(1, "E", EVENT_MODIFY_STATE).unwrap();
    assert_eq!(w.wait(1, &[h], false, Some(0)).1.unwrap().unwrap_err().code, Win32Error::ERROR_ACCESS_DENIED);
    let s = w.open(1, "E", SYNCHRONIZE).unwrap();
    assert_eq!(w.event(1, s, p::EventAction::Set).unwrap_err().code, Win32Error::ERROR_ACCESS_DENIED);
}

#[test]
fn open_asking_for_no_access_is_denied() {
    let mut w = World::new();
    w.create(1, "E", true, true).unwrap();
    assert_eq!(w.open(1, "E", 0).unwrap_err().code, Win32Error::ERROR_ACCESS_DENIED);
}

#[test]
fn generic_execute_can_wait() {
    let mut w = World::new();
    w.create(1, "E", true, true).unwrap();
    let h = w.open(1, "E", 0x2000_0000).unwrap();
    assert_eq!(signaled(w.wait(1, &[h], false, Some(0)).1), WaitOutcome::Signaled(0));
}

#[test]
fn default_dacl_keeps_other_users_out() {
    let mut w = World::new();
    w.create(1, "E", true, true).unwrap();
    assert_eq!(w.open(3, "E", SYNCHRONIZE).unwrap_err().code, Win32Error::ERROR_ACCESS_DENIED);
    assert_eq!(w.create(3, "E", true, true).unwrap_err().code, Win32Error::ERROR_ACCESS_DENIED);
    assert!(w.open(2, "E", ALL).is_ok(), "the same user may open it");
}

#[test]
fn explicit_dacl_can_let_another_user_in() {
    let mut w = World::new();
    w.create_with(1, "E", true, true, Some("D:(A;;GX;;;S-1-22-1-2000)")).unwrap();
    assert!(w.open(3, "E", SYNCHRONIZE).is_ok());
    assert_eq!(w.open(3, "E", EVENT_MODIFY_STATE).unwrap_err().code, Win32Error::ERROR_ACCESS_DENIED);
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
    assert_eq!(report.granted, 0);
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
    assert_eq!(info.path, "\\Sessions\\1\\BaseNamedObjects\\E");
    assert_eq!(info.holders.iter().map(|h| h.pid).collect::<Vec<_>>(), [101, 102]);
    assert_eq!(info.state, "signaled, manual-reset");
    assert!(info.sddl.starts_with("O:S-1-22-1-1000"), "{}", info.sddl);
}

#[test]
fn directory_listing_shows_objects_with_handle_counts() {
    let mut w = World::new();
    w.create(1, "E", true, true).unwrap();
    let path = NamespacePath::parse("\\Sessions\\1\\BaseNamedObjects").unwrap();
    let Reply::ListDirectory(rows) = w.call(1, Request::ListDirectory(p::ListDirectory { path })).unwrap() else {
        panic!()
    };
    let e = rows.iter().find(|r| r.name == "E").unwrap();
    assert_eq!((e.kind, e.handles), (ObjectKind::Event, 1));
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

#[test]
fn global_atoms_are_shared_between_clients() {
    let mut w = World::new();
    let Reply::AddAtom(a) = w.call(1, Request::AddAtom(p::AddAtom { key: AtomKey::parse("foobar").unwrap() })).unwrap()
    else {
        panic!()
    };
    let Reply::FindAtom(b) =
        w.call(3, Request::FindAtom(p::FindAtom { key: AtomKey::parse("FOOBAR").unwrap() })).unwrap()
    else {
        panic!()
    };
    assert_eq!(a, b);
    w.call(2, Request::DeleteAtom(p::DeleteAtom { atom: a })).unwrap();
    let e = w.call(1, Request::FindAtom(p::FindAtom { key: AtomKey::parse("foobar").unwrap() })).unwrap_err();
    assert_eq!(e.code, Win32Error::ERROR_FILE_NOT_FOUND);
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
fn waits_of_a_departed_client_are_dropped_and_keep_nothing_alive() {
    let mut w = World::new();
    let h = w.create(1, "E", false, false).unwrap().handle;
    w.wait(1, &[h], false, Some(1000));
    w.core.client_disconnected(ClientId(1), "gone");
    assert_eq!(w.core.poll_timeout(), None);
    assert_eq!(w.core.store.len(), 0);
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
    w.event(1, d, p::EventAction::Set).unwrap();
    assert!(w.exists(2, "E"));
}

#[test]
fn request_with_id_zero_gets_no_reply_but_takes_effect() {
    let mut w = World::new();
    let h = w.create(1, "E", false, false).unwrap().handle;
    w.core.handle_request(ClientId(1), RequestFrame { id: 0, request: Request::Close(p::Close { handle: h }) }, w.now);
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
    let Reply::OpenPipe(opened) = w.call(2, Request::OpenPipe(p::OpenPipe { name, access: 0xC000_0000 })).unwrap()
    else {
        panic!()
    };
    let connect = p::ConnectPipe { handle: opened.handle, timeout_ms: Some(0), take_only: false };
    assert_eq!(w.call(2, Request::ConnectPipe(connect)).unwrap_err().code, Win32Error::ERROR_INVALID_FUNCTION);
    let disconnect = p::DisconnectPipe { handle: opened.handle };
    assert_eq!(w.call(2, Request::DisconnectPipe(disconnect)).unwrap_err().code, Win32Error::ERROR_INVALID_FUNCTION);
}

mod random {
    //! Random request sequences from several clients: the core never panics,
    //! and once every client is gone nothing is left behind.

    use proptest::prelude::*;

    use super::*;

    #[derive(Clone, Debug)]
    enum Step {
        Create { client: u64, name: u8, manual: bool },
        Open { client: u64, name: u8, access: u32 },
        Close { client: u64, handle: u32 },
        Set { client: u64, handle: u32 },
        Pulse { client: u64, handle: u32 },
        Wait { client: u64, handles: Vec<u32>, all: bool, timeout: Option<u64> },
        CreatePipe { client: u64, name: u8, max: u32 },
        OpenPipe { client: u64, name: u8 },
        ConnectPipe { client: u64, handle: u32, timeout: Option<u64> },
        DisconnectPipe { client: u64, handle: u32 },
        WaitPipe { client: u64, name: u8, timeout: Option<u64> },
        CreateMailslot { client: u64, name: u8 },
        OpenMailslot { client: u64, name: u8 },
        Atom { client: u64, name: u8, delete: bool },
        Tick { ms: u64 },
        Disconnect { client: u64 },
        Malformed { client: u64 },
    }

    fn client() -> impl Strategy<Value = u64> {
        1u64..=3
    }

    fn handle() -> impl Strategy<Value = u32> {
        prop_oneof![(1u32..12).prop_map(|i| i * 4), any::<u32>()]
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            (client(), 0u8..4, any::<bool>()).prop_map(|(client, name, manual)| Step::Create { client, name, manual }),
            (client(), 0u8..4, prop_oneof![Just(ALL), Just(SYNCHRONIZE), Just(0u32), any::<u32>()])
                .prop_map(|(client, name, access)| Step::Open { client, name, access }),
            (client(), handle()).prop_map(|(client, handle)| Step::Close { client, handle }),
            (client(), handle()).prop_map(|(client, handle)| Step::Set { client, handle }),
            (client(), handle()).prop_map(|(client, handle)| Step::Pulse { client, handle }),
            (client(), proptest::collection::vec(handle(), 0..4), any::<bool>(), proptest::option::of(0u64..50))
                .prop_map(|(client, handles, all, timeout)| Step::Wait { client, handles, all, timeout }),
            (client(), 0u8..3, 1u32..4).prop_map(|(client, name, max)| Step::CreatePipe { client, name, max }),
            (client(), 0u8..3).prop_map(|(client, name)| Step::OpenPipe { client, name }),
            (client(), handle(), proptest::option::of(0u64..50))
                .prop_map(|(client, handle, timeout)| Step::ConnectPipe { client, handle, timeout }),
            (client(), handle()).prop_map(|(client, handle)| Step::DisconnectPipe { client, handle }),
            (client(), 0u8..3, proptest::option::of(0u64..50)).prop_map(|(client, name, timeout)| Step::WaitPipe {
                client,
                name,
                timeout
            }),
            (client(), 0u8..2).prop_map(|(client, name)| Step::CreateMailslot { client, name }),
            (client(), 0u8..2).prop_map(|(client, name)| Step::OpenMailslot { client, name }),
            (client(), 0u8..3, any::<bool>()).prop_map(|(client, name, delete)| Step::Atom { client, name, delete }),
            (0u64..60).prop_map(|ms| Step::Tick { ms }),
            client().prop_map(|client| Step::Disconnect { client }),
            client().prop_map(|client| Step::Malformed { client }),
        ]
    }

    fn pipe_name(n: u8) -> switchboard_types::PipeName {
        switchboard_types::PipeName::parse(&format!(r"\\.\pipe\p{n}")).unwrap()
    }

    fn slot_name(n: u8) -> switchboard_types::MailslotName {
        switchboard_types::MailslotName::parse(&format!(r"\\.\mailslot\m{n}")).unwrap()
    }

    fn apply(w: &mut World, step: Step) {
        match step {
            Step::Tick { ms } => {
                w.now += Duration::from_millis(ms);
                w.core.handle_timeout(w.now);
            }
            Step::Disconnect { client } => {
                w.core.client_disconnected(ClientId(client), "random");
                let _ = w.connect(client, if client == 3 { 2000 } else { 1000 });
            }
            Step::Malformed { client } => w.core.handle_malformed(ClientId(client), "random garbage"),
            other => {
                let (client, request) = request_for(other);
                w.send(client, request);
                // Outputs to disconnected clients are simply dropped by the loop; keep the queue short.
                w.core.drain_output();
            }
        }
    }

    fn request_for(step: Step) -> (u64, Request) {
        match step {
            Step::Tick { .. } | Step::Disconnect { .. } | Step::Malformed { .. } => unreachable!("handled by apply"),
            Step::Create { client, name, manual } => (
                client,
                Request::CreateEvent(p::CreateEvent {
                    name: Some(ObjectName::parse(&format!("e{name}")).unwrap()),
                    manual_reset: manual,
                    initial_state: false,
                    access: ALL,
                    security: p::Security::default(),
                }),
            ),
            Step::Open { client, name, access } => (
                client,
                Request::Open(p::Open {
                    kind: ObjectKind::Event,
                    name: ObjectName::parse(&format!("e{name}")).unwrap(),
                    access,
                }),
            ),
            Step::Close { client, handle } => (client, Request::Close(p::Close { handle: Handle(handle) })),
            Step::Set { client, handle } => {
                (client, Request::EventOp(p::EventOp { handle: Handle(handle), action: p::EventAction::Set }))
            }
            Step::Pulse { client, handle } => {
                (client, Request::EventOp(p::EventOp { handle: Handle(handle), action: p::EventAction::Pulse }))
            }
            Step::Wait { client, handles, all, timeout } => (
                client,
                Request::Wait(p::Wait {
                    handles: handles.into_iter().map(Handle).collect(),
                    wait_all: all,
                    timeout_ms: timeout,
                    thread: u32::try_from(client).unwrap_or(0),
                }),
            ),
            Step::CreatePipe { client, name, max } => (
                client,
                Request::CreatePipe(p::CreatePipe {
                    name: pipe_name(name),
                    inbound: true,
                    outbound: true,
                    first_instance: false,
                    pipe_type: p::PipeMode::Message,
                    read_mode: p::PipeMode::Message,
                    nowait: false,
                    reject_remote: true,
                    max_instances: max,
                    out_buffer: 0,
                    in_buffer: 0,
                    default_timeout_ms: 0,
                    security: p::Security::default(),
                }),
            ),
            Step::OpenPipe { client, name } => {
                (client, Request::OpenPipe(p::OpenPipe { name: pipe_name(name), access: 0xC000_0000 }))
            }
            Step::ConnectPipe { client, handle, timeout } => (
                client,
                Request::ConnectPipe(p::ConnectPipe { handle: Handle(handle), timeout_ms: timeout, take_only: false }),
            ),
            Step::DisconnectPipe { client, handle } => {
                (client, Request::DisconnectPipe(p::DisconnectPipe { handle: Handle(handle) }))
            }
            Step::WaitPipe { client, name, timeout } => (
                client,
                Request::WaitPipe(p::WaitPipe { name: pipe_name(name), timeout_ms: timeout, use_default: false }),
            ),
            Step::CreateMailslot { client, name } => (
                client,
                Request::CreateMailslot(p::CreateMailslot {
                    name: slot_name(name),
                    max_message_size: 0,
                    security: p::Security::default(),
                }),
            ),
            Step::OpenMailslot { client, name } => {
                (client, Request::OpenMailslot(p::OpenMailslot { name: slot_name(name), access: 0x4000_0000 }))
            }
            Step::Atom { client, name, delete } => {
                let key = AtomKey::parse(&format!("a{name}")).unwrap();
                if delete {
                    (
                        client,
                        Request::DeleteAtom(p::DeleteAtom { atom: switchboard_types::Atom(0xC000 + u16::from(name)) }),
                    )
                } else {
                    (client, Request::AddAtom(p::AddAtom { key }))
                }
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

        #[test]
        fn random_requests_never_panic_and_leave_nothing_behind(steps in proptest::collection::vec(step(), 1..120)) {
            let mut w = World::new();
            for s in steps {
                apply(&mut w, s);
            }
            for c in 1..=3 {
                w.core.client_disconnected(ClientId(c), "end of test");
            }
            prop_assert_eq!(w.core.store.len(), 0, "objects outlived every handle");
            prop_assert!(w.core.poll_timeout().is_none(), "a timer outlived its waiter");
            prop_assert!(w.core.pipe_list().is_empty(), "a pipe outlived its instances");
            prop_assert!(w.core.mailslot_list().is_empty(), "a mailslot outlived its reader");
            let path = NamespacePath::parse(r"\Sessions\1\BaseNamedObjects").unwrap();
            let names = w.core.namespace.list(&path).unwrap();
            prop_assert!(names.iter().all(|(_, node)| !matches!(node, super::namespace::Node::Object(_))), "a name outlived its object");
        }
    }
}
