//! Random request sequences from several clients: the core never panics,
//! and once every client is gone nothing is left behind.

use proptest::prelude::*;

use super::*;
use switchboard_types::access::key::{KEY_ALL_ACCESS, KEY_READ};

#[derive(Clone, Copy, Debug)]
enum Step {
    Create { client: u64, name: u8, manual: bool },
    Open { client: u64, name: u8, access: AccessMask },
    Close { client: u64, handle: u32 },
    Map { client: u64, handle: u32 },
    Reg { client: u64, op: u8, base: u32, path: u8, value: u8, flag: bool },
    Thread { client: u64, thread: u32, started: bool },
    Scribble { client: u64, handle: u32, word: u64 },
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
        (
            client(),
            0u8..4,
            prop_oneof![Just(ALL), Just(SYNCHRONIZE), Just(AccessMask(0)), any::<u32>().prop_map(AccessMask)]
        )
            .prop_map(|(client, name, access)| Step::Open { client, name, access }),
        (client(), handle()).prop_map(|(client, handle)| Step::Close { client, handle }),
        (client(), handle()).prop_map(|(client, handle)| Step::Map { client, handle }),
        (client(), 0u8..9, prop_oneof![Just(0u32), handle()], any::<u8>(), any::<u8>(), any::<bool>())
            .prop_map(|(client, op, base, path, value, flag)| Step::Reg { client, op, base, path, value, flag }),
        (client(), prop_oneof![1u32..4, any::<u32>()], any::<bool>())
            .prop_map(|(client, thread, started)| Step::Thread { client, thread, started }),
        (client(), handle(), any::<u64>()).prop_map(|(client, handle, word)| Step::Scribble { client, handle, word }),
        (client(), 0u8..3, 1u32..4).prop_map(|(client, name, max)| Step::CreatePipe { client, name, max }),
        (client(), 0u8..3).prop_map(|(client, name)| Step::OpenPipe { client, name }),
        (client(), handle(), proptest::option::of(0u64..50)).prop_map(|(client, handle, timeout)| Step::ConnectPipe {
            client,
            handle,
            timeout
        }),
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

/// A registry request from random bits: any root or handle as base, a few
/// paths (some odd), values of any type.
fn registry_request(op: u8, base: u32, path: u8, value: u8, flag: bool) -> Request {
    use switchboard_types::registry::{RawValue, RootKey};
    let base = if base == 0 {
        p::RegBase::Root(RootKey::ALL[usize::from(path) % RootKey::ALL.len()])
    } else {
        p::RegBase::Key(Handle(base))
    };
    let path = ["", "A", r"A\B", r"\\", "S-1-22-1-101", r"S-1-22-1-102\X", "a\u{0}b", "Software\\Classes\\.t"]
        [usize::from(path) % 8]
        .to_owned();
    let key = match base {
        p::RegBase::Key(h) => h,
        p::RegBase::Root(_) => Handle(4),
    };
    let name = format!("v{}", value % 3);
    match op {
        0 => Request::RegCreateKey(p::RegCreateKey {
            base,
            path,
            volatile: flag,
            class: String::new(),
            security: p::Security { sddl: flag.then(|| "D:(A;CI;KA;;;OW)".to_owned()) },
            access: KEY_ALL_ACCESS,
        }),
        1 => Request::RegOpenKey(p::RegOpenKey { base, path, access: if flag { KEY_READ } else { KEY_ALL_ACCESS } }),
        2 => Request::RegSetValue(p::RegSetValue {
            key,
            name,
            value: RawValue { kind: u32::from(value), data: vec![value; usize::from(value % 17)] },
        }),
        3 => Request::RegQueryValue(p::RegQueryValue { key, name }),
        4 => Request::RegDeleteValue(p::RegDeleteValue { key, name }),
        5 => Request::RegEnumKeys(p::RegEnumKeys { key }),
        6 => Request::RegDeleteKey(p::RegDeleteKey { base, path, tree: flag }),
        7 => Request::RegNotify(p::RegNotify { key, subtree: flag, filter: u32::from(value), event: Handle(4) }),
        _ => Request::RegSetSecurity(p::RegSetSecurity { key, sddl: if flag { "D:".into() } else { "O:SYD:".into() } }),
    }
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
        Step::Scribble { client, handle, word } => {
            // A hostile process writes anything into a page it maps.
            let object = w.core.clients.get(&ClientId(client)).and_then(|c| c.handles.get(Handle(handle)));
            if let Some(e) = object.and_then(|h| w.core.store.get(h.object))
                && let Some(o) = objects::downcast::<sync::SyncObject>(e.object.as_ref())
            {
                o.slot().overwrite(word);
            }
        }
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
        Step::Tick { .. } | Step::Disconnect { .. } | Step::Malformed { .. } | Step::Scribble { .. } => {
            unreachable!("handled by apply")
        }
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
        Step::Map { client, handle } => (client, Request::MapSync(p::MapSync { handle: Handle(handle) })),
        Step::Reg { client, op, base, path, value, flag } => (client, registry_request(op, base, path, value, flag)),
        Step::Thread { client, thread, started: true } => (client, Request::ThreadStarted(p::ThreadStarted { thread })),
        Step::Thread { client, thread, started: false } => (client, Request::ThreadExited(p::ThreadExited { thread })),
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
            (client, Request::OpenPipe(p::OpenPipe { name: pipe_name(name), access: GENERIC_READ | GENERIC_WRITE }))
        }
        Step::ConnectPipe { client, handle, timeout } => (
            client,
            Request::ConnectPipe(p::ConnectPipe { handle: Handle(handle), timeout_ms: timeout, take_only: false }),
        ),
        Step::DisconnectPipe { client, handle } => {
            (client, Request::DisconnectPipe(p::DisconnectPipe { handle: Handle(handle) }))
        }
        Step::WaitPipe { client, name, timeout } => {
            (client, Request::WaitPipe(p::WaitPipe { name: pipe_name(name), timeout_ms: timeout, use_default: false }))
        }
        Step::CreateMailslot { client, name } => (
            client,
            Request::CreateMailslot(p::CreateMailslot {
                name: slot_name(name),
                max_message_size: 0,
                security: p::Security::default(),
            }),
        ),
        Step::OpenMailslot { client, name } => {
            (client, Request::OpenMailslot(p::OpenMailslot { name: slot_name(name), access: GENERIC_WRITE }))
        }
        Step::Atom { client, name, delete } => {
            let key = AtomKey::parse(&format!("a{name}")).unwrap();
            if delete {
                (client, Request::DeleteAtom(p::DeleteAtom { atom: switchboard_types::Atom(0xC000 + u16::from(name)) }))
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
        prop_assert!(w.core.poll_timeout(w.now).is_none(), "a timer outlived its waiter");
        prop_assert!(w.core.pipe_list().is_empty(), "a pipe outlived its instances");
        let root = switchboard_types::security::Token { uid: 0, gid: 0, groups: Vec::new() };
        prop_assert!(w.core.mailslot_list(&root).is_empty(), "a mailslot outlived its reader");
        for uid in [1000, 2000] {
            let names = w.core.namespace.list(&NamespacePath::session_objects(uid)).unwrap();
            prop_assert!(names.iter().all(|(_, node)| !matches!(node, super::namespace::Node::Object(_))), "a name outlived its object");
        }
    }
}
