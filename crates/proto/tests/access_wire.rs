//! Every message that carries an access mask encodes to the same bytes as
//! when the field was a plain `u32`: the hex below was recorded from the
//! `u32` messages, so the protocol version did not have to change when the
//! fields became `AccessMask`.

use std::fmt::Write as _;

use switchboard_proto as p;
use switchboard_types::registry::RootKey;
use switchboard_types::syncstate::Shape;
use switchboard_types::{Handle, MailslotName, ObjectKind, ObjectName, PipeName};

fn hex(value: &impl serde::Serialize) -> String {
    let bytes = postcard::to_allocvec(value).expect("a message encodes");
    bytes.iter().fold(String::new(), |mut out, b| {
        write!(out, "{b:02x}").expect("writing to a String");
        out
    })
}

fn name(s: &str) -> ObjectName {
    ObjectName::parse(s).expect("a valid name")
}

/// The masks used: one byte, two, three and five bytes as varints.
const SMALL: u32 = 0x0002;
const EVENT_ALL: u32 = 0x001F_0003;
const GENERIC_RW: u32 = 0xC000_0000;

#[test]
fn object_requests_encode_as_before() {
    let create = p::CreateEvent {
        name: Some(name("Local\\E")),
        manual_reset: true,
        initial_state: false,
        access: EVENT_ALL.into(),
        security: p::Security { sddl: Some("D:P".into()) },
    };
    assert_eq!(hex(&create), "01074c6f63616c5c45010083807c0103443a50");
    let open = p::Open { kind: ObjectKind::Mutex, name: name("M"), access: GENERIC_RW.into() };
    assert_eq!(hex(&open), "06014d808080800c");
    let same = p::Duplicate { handle: Handle(8), access: None };
    let less = p::Duplicate { handle: Handle(8), access: Some(SMALL.into()) };
    assert_eq!((hex(&same), hex(&less)), ("0800".to_owned(), "080102".to_owned()));
    let mutex = p::CreateMutex {
        name: None,
        initial_owner: true,
        thread: 77,
        access: EVENT_ALL.into(),
        security: p::Security::default(),
    };
    let semaphore = p::CreateSemaphore {
        name: Some(name("S")),
        initial: 1,
        maximum: 9,
        access: GENERIC_RW.into(),
        security: p::Security::default(),
    };
    assert_eq!((hex(&mutex), hex(&semaphore)), ("00014d83807c00".to_owned(), "0101530212808080800c00".to_owned()));
}

#[test]
fn sync_and_section_messages_encode_as_before() {
    let mapped = p::SyncMapped {
        shape: Shape::Semaphore { maximum: 5 },
        object: 3,
        access: EVENT_ALL.into(),
        mapped: true,
        writable: false,
    };
    assert_eq!(hex(&mapped), "02050383807c0100");
    let create = p::CreateSection {
        name: Some(name("Local\\S")),
        size: 4096,
        protection: p::PageProtection::ReadWrite,
        file: false,
        reserve: true,
        access: 0x000F_001Fu32.into(),
        security: p::Security::default(),
    };
    let open = p::OpenSection { name: name("Local\\S"), access: 0x0004u32.into() };
    let opened = p::SectionOpened {
        handle: Handle(12),
        access: 0x0006u32.into(),
        size: 4096,
        protection: p::PageProtection::ReadOnly,
        file: true,
        reserve: false,
        already_existed: true,
    };
    assert_eq!(
        (hex(&create), hex(&open), hex(&opened)),
        (
            "01074c6f63616c5c5380200100019f803c00".to_owned(),
            "074c6f63616c5c5304".to_owned(),
            "0c06802000010001".to_owned()
        )
    );
}

#[test]
fn pipe_mailslot_and_registry_messages_encode_as_before() {
    let pipe = PipeName::parse(r"\\.\pipe\p").expect("a valid pipe name");
    let open = p::OpenPipe { name: pipe, access: GENERIC_RW.into() };
    let opened = p::PipeOpened { handle: Handle(4), access: 0x0012_019Fu32.into(), pipe_type: p::PipeMode::Message };
    let slot = MailslotName::parse(r"\\.\mailslot\m").expect("a valid mailslot name");
    let mailslot = p::OpenMailslot { name: slot, access: 0x4000_0000u32.into() };
    assert_eq!(
        (hex(&open), hex(&opened), hex(&mailslot)),
        (
            "0a5c5c2e5c706970655c70808080800c".to_owned(),
            "049f834801".to_owned(),
            "0e5c5c2e5c6d61696c736c6f745c6d8080808004".to_owned()
        )
    );
    let create = p::RegCreateKey {
        base: p::RegBase::Root(RootKey::CurrentUser),
        path: "A\\B".into(),
        volatile: false,
        class: String::new(),
        security: p::Security::default(),
        access: 0x000F_003Fu32.into(),
    };
    let open = p::RegOpenKey { base: p::RegBase::Key(Handle(20)), path: String::new(), access: 0x0002_0019u32.into() };
    assert_eq!((hex(&create), hex(&open)), ("000103415c42000000bf803c".to_owned(), "011400998008".to_owned()));
}

#[test]
fn diagnostic_replies_encode_as_before() {
    let handle = p::HandleInfo {
        pid: 100,
        uid: 1000,
        handle: Handle(4),
        kind: ObjectKind::Event,
        path: Some("\\BaseNamedObjects\\E".into()),
        access: EVENT_ALL.into(),
    };
    assert_eq!(hex(&handle), "64e807040201135c426173654e616d65644f626a656374735c4583807c");
}

#[test]
fn access_report_encodes_as_before() {
    let report = p::AccessReport {
        path: "\\BaseNamedObjects\\E".into(),
        kind: ObjectKind::Event,
        sddl: "D:(A;;GA;;;WD)".into(),
        granted: EVENT_ALL.into(),
        all_access: EVENT_ALL.into(),
        null_dacl: false,
        owner_implicit: 0x0006_0000u32.into(),
        steps: vec![p::AccessStep {
            index: 0,
            ace: "(A;;GA;;;WD)".into(),
            granted: EVENT_ALL.into(),
            denied: 0u32.into(),
        }],
    };
    assert_eq!(
        hex(&report),
        "135c426173654e616d65644f626a656374735c45020e443a28413b3b47413b3b3b57442983807c83807c0080801801000c28413b3b47413b3b3b57442983807c00"
    );
}
