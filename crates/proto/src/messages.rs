//! The request table and the message types. Each entry reads
//! `Variant => handler_method(RequestType) -> ReplyType;`.

mod pipes;
mod registry;

pub use pipes::*;
pub use registry::*;

use serde::{Deserialize, Serialize};
use switchboard_types::registry::RawValue;
use switchboard_types::syncstate::Shape;
use switchboard_types::{
    AccessMask, Atom, AtomEntry, AtomKey, Handle, NamespacePath, ObjectKind, ObjectName, Win32Error,
};

protocol_table! {
    /// Create a named or unnamed event, or open it if the name exists (`CreateEventEx`).
    CreateEvent => create_event(CreateEvent) -> Created;
    /// Open an existing named object of a given kind (`OpenEvent` and kin).
    Open => open(Open) -> Handle;
    /// Close a handle (`CloseHandle`).
    Close => close(Close) -> ();
    /// Duplicate a handle within the calling process (`DuplicateHandle`).
    Duplicate => duplicate(Duplicate) -> Handle;
    /// The shared page of an event, mutex or semaphore, for waits and
    /// changes made in the client. Carries the page's descriptor when the
    /// handle may wait or change the state.
    MapSync => map_sync(MapSync) -> SyncMapped;
    /// `GlobalAddAtom`.
    AddAtom => add_atom(AddAtom) -> Atom;
    /// `GlobalFindAtom`.
    FindAtom => find_atom(FindAtom) -> Atom;
    /// `GlobalDeleteAtom`.
    DeleteAtom => delete_atom(DeleteAtom) -> ();
    /// `GlobalGetAtomName`.
    AtomName => atom_name(AtomNameOf) -> String;
    /// Every global string atom.
    ListAtoms => list_atoms(ListAtoms) -> Vec<AtomEntry>;
    /// The broker's identity and counters.
    Status => status(StatusRequest) -> BrokerStatus;
    /// The entries of a namespace directory.
    ListDirectory => list_directory(ListDirectory) -> Vec<DirEntry>;
    /// One object's kind, holders, security and state; needs `READ_CONTROL`
    /// on the object (or root).
    Show => show(Show) -> ObjectInfo;
    /// Open handles, of every client or of one process: only the caller's
    /// own user's, unless the caller is root.
    ListHandles => list_handles(ListHandles) -> Vec<HandleInfo>;
    /// What a given user may do with an object, and which ACE decided;
    /// needs `READ_CONTROL` on the object (or root).
    CheckAccess => check_access(CheckAccess) -> AccessReport;
    /// Stop the broker (its owner or root only).
    Shutdown => shutdown(Shutdown) -> ();
    /// `CreateNamedPipe`: a new instance (server end) of a named pipe.
    CreatePipe => create_pipe(CreatePipe) -> Handle;
    /// `ConnectNamedPipe`; may be answered later. Carries the server's channel when it has not taken it yet.
    ConnectPipe => connect_pipe(ConnectPipe) -> PipeConnected;
    /// `CreateFile` on `\\.\pipe\NAME`: the client end. Carries the client's channel.
    OpenPipe => open_pipe(OpenPipe) -> PipeOpened;
    /// `WaitNamedPipe`; may be answered later.
    WaitPipe => wait_pipe(WaitPipe) -> ();
    /// `DisconnectNamedPipe`.
    DisconnectPipe => disconnect_pipe(DisconnectPipe) -> ();
    /// State, configuration and peer of one pipe end (`GetNamedPipeInfo`, `GetNamedPipeHandleState`, client process id).
    QueryPipe => query_pipe(QueryPipe) -> PipeStatus;
    /// Every named pipe with its instance counts (like `PipeList`).
    ListPipes => list_pipes(ListPipes) -> Vec<PipeListing>;
    /// `CancelIo` for a waiting `ConnectNamedPipe`: it ends with `ERROR_OPERATION_ABORTED`.
    CancelConnect => cancel_connect(CancelConnect) -> bool;
    /// `CreateMailslot`: the reader. Carries the reader's end of the mailslot.
    CreateMailslot => create_mailslot(CreateMailslot) -> Handle;
    /// `CreateFile` on `\\.\mailslot\NAME`: a writer. Carries a sending end.
    OpenMailslot => open_mailslot(OpenMailslot) -> MailslotOpened;
    /// Every mailslot's name, with its writers and reader where the caller
    /// may read the mailslot's security (`READ_CONTROL`, or root).
    ListMailslots => list_mailslots(ListMailslots) -> Vec<MailslotListing>;
    /// A mailslot's count and next message size, asked by any process with
    /// `READ_CONTROL` on it, or root (`GetMailslotInfo` from outside).
    QueryMailslot => query_mailslot(QueryMailslot) -> MailslotStatus;
    /// `CreateFileMapping` backed by memory (a pagefile section). Carries the section's descriptor.
    CreateSection => create_section(CreateSection) -> SectionOpened;
    /// `OpenFileMapping`. Carries the section's descriptor, read-only unless the handle may write.
    OpenSection => open_section(OpenSection) -> SectionOpened;
    /// `CreateMutex`.
    CreateMutex => create_mutex(CreateMutex) -> Created;
    /// `CreateSemaphore`.
    CreateSemaphore => create_semaphore(CreateSemaphore) -> Created;
    /// A thread of the caller may own mutexes: if the caller ends while the
    /// thread owns one, the broker abandons it.
    ThreadStarted => thread_started(ThreadStarted) -> ();
    /// A thread of the caller ended (it abandoned its own mutexes): forget it.
    ThreadExited => thread_exited(ThreadExited) -> ();
    /// `RegCreateKeyEx`: opens a key, or creates it and any missing key above it.
    RegCreateKey => reg_create_key(RegCreateKey) -> RegKeyCreated;
    /// `RegOpenKeyEx`.
    RegOpenKey => reg_open_key(RegOpenKey) -> Handle;
    /// `RegSetValueEx`.
    RegSetValue => reg_set_value(RegSetValue) -> ();
    /// `RegQueryValueEx`: the value's type and bytes.
    RegQueryValue => reg_query_value(RegQueryValue) -> RawValue;
    /// `RegDeleteValue`.
    RegDeleteValue => reg_delete_value(RegDeleteValue) -> ();
    /// `RegEnumValue`, all at once: every value in its order.
    RegEnumValues => reg_enum_values(RegEnumValues) -> Vec<RegNamedValue>;
    /// `RegEnumKeyEx`, all at once: the subkeys' names.
    RegEnumKeys => reg_enum_keys(RegEnumKeys) -> Vec<String>;
    /// `RegQueryInfoKey`.
    RegQueryInfo => reg_query_info(RegQueryInfo) -> RegKeyInfo;
    /// `RegDeleteKey`, or `RegDeleteTree` with `tree`.
    RegDeleteKey => reg_delete_key(RegDeleteKey) -> ();
    /// `RegNotifyChangeKeyValue` (asynchronous): the event is set once, at the next matching change.
    RegNotify => reg_notify(RegNotify) -> ();
    /// `RegGetKeySecurity`: the descriptor that governs the key, in SDDL.
    RegGetSecurity => reg_get_security(RegGetSecurity) -> String;
    /// `RegSetKeySecurity`: the key's own descriptor, in SDDL.
    RegSetSecurity => reg_set_security(RegSetSecurity) -> ();
    /// One attempt of a wait made by the broker, for a wait whose handles
    /// include one that may wait but not change its object (its page is
    /// read-only in the client).
    SyncWait => sync_wait(SyncWait) -> SyncWaitStep;
    /// `ReleaseMutex` made by the broker, for a handle whose page is read-only:
    /// false when a wait-all holds the mutex for a moment (try again).
    SyncRelease => sync_release(SyncRelease) -> bool;
}

/// What went wrong, as the broker says it: one Win32 code plus the reason.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireError {
    /// The Win32 code.
    pub code: Win32Error,
    /// The reason, for people.
    pub message: String,
}

impl WireError {
    /// An error with a code and a reason.
    pub fn new(code: Win32Error, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }
}

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({:?})", self.message, self.code)
    }
}

impl std::error::Error for WireError {}

/// A handler's answer: now, or later (a wait that must block).
#[derive(Debug)]
pub enum Response<T> {
    /// The answer is ready.
    Ready(Result<T, WireError>),
    /// The handler will answer later, by request id.
    Deferred,
}

impl<T> Response<T> {
    /// Maps the successful value.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Response<U> {
        match self {
            Self::Ready(r) => Response::Ready(r.map(f)),
            Self::Deferred => Response::Deferred,
        }
    }
}

impl<T> From<Result<T, WireError>> for Response<T> {
    fn from(r: Result<T, WireError>) -> Self {
        Self::Ready(r)
    }
}

/// Ties a request type to its reply type, for the client's typed `call`.
pub trait Call {
    /// The successful reply.
    type Reply;
    /// Wraps the request.
    fn into_request(self) -> Request;
    /// Unwraps the matching reply; `None` if the broker answered another kind.
    fn from_reply(reply: Reply) -> Option<Self::Reply>;
}

/// Client → broker: a request and the id its reply will carry.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RequestFrame {
    /// Chosen by the client; echoed in the reply. 0 asks for no reply at
    /// all (a request whose outcome nobody waits for, such as a close from a
    /// destructor); a deferred request (a wait) must not use 0.
    pub id: u32,
    /// How many descriptors (`SCM_RIGHTS`) were sent with the frame's first
    /// byte (the file of a file-backed section).
    pub fds: u8,
    /// The request.
    pub request: Request,
}

/// Broker → client: the reply to request `id`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ReplyFrame {
    /// The request's id; 0 for a reply to a frame that could not be read.
    pub id: u32,
    /// How many file descriptors travel with this frame (`SCM_RIGHTS` on its
    /// first byte); the receiver takes that many from the descriptors it has
    /// received, in order.
    pub fds: u8,
    /// The outcome.
    pub result: Result<Reply, WireError>,
}

/// Security attributes given at creation.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Security {
    /// A security descriptor in SDDL; `None` for the default (creator and root only).
    pub sddl: Option<String>,
}

/// `CreateEventEx`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateEvent {
    /// `None` for an unnamed event.
    pub name: Option<ObjectName>,
    /// Manual-reset (stays signaled until reset) or auto-reset.
    pub manual_reset: bool,
    /// Signaled at creation.
    pub initial_state: bool,
    /// Desired access for the returned handle.
    pub access: AccessMask,
    /// Security for a new object (ignored when opening an existing one).
    pub security: Security,
}

/// The answer to a create request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Created {
    /// The new handle.
    pub handle: Handle,
    /// The name existed: the object was opened, not created (`ERROR_ALREADY_EXISTS`).
    pub already_existed: bool,
}

/// `OpenEvent` and kin.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Open {
    /// The kind the caller expects; another kind under the name is `ERROR_INVALID_HANDLE`.
    pub kind: ObjectKind,
    /// The object's name.
    pub name: ObjectName,
    /// Desired access.
    pub access: AccessMask,
}

/// `CloseHandle`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Close {
    /// The handle to close.
    pub handle: Handle,
}

/// `DuplicateHandle` within the calling process.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Duplicate {
    /// The source handle.
    pub handle: Handle,
    /// `None` for `DUPLICATE_SAME_ACCESS`, else the (not larger) access wanted.
    pub access: Option<AccessMask>,
}

/// Asks for the shared page of an event, mutex or semaphore.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MapSync {
    /// The handle.
    pub handle: Handle,
}

/// An event's, mutex's or semaphore's shared page: the descriptor follows
/// when the handle may wait on the object or change it (`SYNCHRONIZE` or
/// the type's modify right); else there is none and `mapped` is false.
/// Only a handle with the modify right gets a writable page; one that may
/// only wait gets a read-only one, watches it, and takes the object
/// through [`SyncWait`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncMapped {
    /// What the object is, with its constants.
    pub shape: Shape,
    /// The object's id, unique among live objects: wait-all locks in its order.
    pub object: u32,
    /// The handle's granted access.
    pub access: AccessMask,
    /// Whether a descriptor follows.
    pub mapped: bool,
    /// Whether the descriptor may be mapped writable.
    pub writable: bool,
}

/// One attempt of a wait, made by the broker on the caller's behalf.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncWait {
    /// The handles, in the caller's order (1 to 64; each needs `SYNCHRONIZE`).
    pub handles: Vec<Handle>,
    /// Wait for all of them (else any).
    pub wait_all: bool,
    /// The waiting thread, announced before (`ThreadStarted`): it becomes
    /// the owner of a mutex taken.
    pub thread: u32,
    /// Per handle, for a wait-any on a manual-reset event: the generation
    /// seen when the wait began (a set since then ends the wait).
    pub since: Vec<Option<u32>>,
    /// The caller was counted asleep on these objects by its previous
    /// step; count it out first.
    pub counted: bool,
    /// If nothing can be taken, count the caller asleep on the objects
    /// (so that whoever changes them wakes it) until its next step.
    pub sleep: bool,
}

/// What one [`SyncWait`] step did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SyncWaitStep {
    /// The wait is satisfied: the index taken (wait-any) or 0 (wait-all),
    /// and whether it came through an abandoned mutex (then `index` is
    /// that mutex's, as `WAIT_ABANDONED_0 + index`).
    Taken {
        /// The index.
        index: u32,
        /// Through an abandoned mutex.
        abandoned: bool,
    },
    /// Nothing can be taken now: the state of each object, to sleep on.
    Blocked {
        /// Per handle.
        seen: Vec<u32>,
        /// Whether the caller is now counted asleep.
        counted: bool,
    },
    /// A wait-all holds an object for a moment: try again shortly.
    Locked,
}

/// `ReleaseMutex` by a thread of the caller, made by the broker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncRelease {
    /// The mutex.
    pub handle: Handle,
    /// The releasing thread (it must own the mutex).
    pub thread: u32,
}

/// `GlobalAddAtom`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddAtom {
    /// The name or integer atom.
    pub key: AtomKey,
}

/// `GlobalFindAtom`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindAtom {
    /// The name or integer atom.
    pub key: AtomKey,
}

/// `GlobalDeleteAtom`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteAtom {
    /// The atom.
    pub atom: Atom,
}

/// `GlobalGetAtomName`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AtomNameOf {
    /// The atom.
    pub atom: Atom,
}

/// List the global atom table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListAtoms;

/// Ask for the broker's status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusRequest;

/// The broker's identity and counters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokerStatus {
    /// Process id.
    pub pid: u32,
    /// The crate version of the broker.
    pub version: String,
    /// Protocol version.
    pub protocol: u32,
    /// Milliseconds since the broker started.
    pub uptime_ms: u64,
    /// The realm's socket path.
    pub socket: String,
    /// `user` or `system`.
    pub realm: String,
    /// Connected clients.
    pub clients: u32,
    /// Open handles, all clients together.
    pub handles: u32,
    /// Objects by kind (directories and links included).
    pub objects: Vec<(ObjectKind, u32)>,
    /// String atoms in the global atom table of the caller's window station.
    pub atoms: u32,
}

/// List one namespace directory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListDirectory {
    /// The directory.
    pub path: NamespacePath,
}

/// One entry of a namespace directory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirEntry {
    /// The entry's name.
    pub name: String,
    /// What it is.
    pub kind: ObjectKind,
    /// For a symbolic link, where it points.
    pub target: Option<String>,
    /// Open handles to it (0 for a directory or a link); `None` for an
    /// object whose security the caller may not read (`READ_CONTROL`):
    /// anyone may enumerate names, as on Windows, but not what others do
    /// with them.
    pub handles: Option<u32>,
}

/// Which object: by name (as a program names it) or by absolute path.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Target {
    /// As `OpenEvent` would resolve it.
    Name(ObjectName),
    /// An absolute namespace path.
    Path(NamespacePath),
}

/// Describe one object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Show {
    /// The object.
    pub target: Target,
}

/// One handle held on an object, or in a listing of handles.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandleInfo {
    /// The holding process.
    pub pid: u32,
    /// Its user.
    pub uid: u32,
    /// The handle value in that process.
    pub handle: Handle,
    /// The object's kind.
    pub kind: ObjectKind,
    /// The object's path, if it has a name.
    pub path: Option<String>,
    /// The handle's granted access.
    pub access: AccessMask,
}

/// A description of one object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectInfo {
    /// Its absolute path.
    pub path: String,
    /// What it is.
    pub kind: ObjectKind,
    /// Its security descriptor, in SDDL.
    pub sddl: String,
    /// Who holds handles to it.
    pub holders: Vec<HandleInfo>,
    /// Its state in words (for an event: `signaled, manual-reset`).
    pub state: String,
    /// Threads asleep on it now (events, mutexes and semaphores).
    pub waiters: u32,
}

/// List handles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListHandles {
    /// Only this process's handles.
    pub pid: Option<u32>,
}

/// What a given user could do with an object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckAccess {
    /// The object.
    pub target: Target,
    /// The user.
    pub uid: u32,
    /// The user's primary group.
    pub gid: u32,
    /// The user's supplementary groups.
    pub groups: Vec<u32>,
}

/// One ACE's part in an access decision.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessStep {
    /// Its index in the DACL.
    pub index: u32,
    /// The ACE, in SDDL.
    pub ace: String,
    /// Rights it granted that were not decided before.
    pub granted: AccessMask,
    /// Rights it denied that were not decided before.
    pub denied: AccessMask,
}

/// The answer to [`CheckAccess`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessReport {
    /// The object's absolute path.
    pub path: String,
    /// Its kind.
    pub kind: ObjectKind,
    /// Its security descriptor.
    pub sddl: String,
    /// The most the user is granted (`MAXIMUM_ALLOWED`).
    pub granted: AccessMask,
    /// The object's full-access mask, to compare against.
    pub all_access: AccessMask,
    /// The DACL is NULL: everyone may do everything.
    pub null_dacl: bool,
    /// Rights the user has as the owner, whatever the DACL says.
    pub owner_implicit: AccessMask,
    /// The ACEs that matched the user, in order.
    pub steps: Vec<AccessStep>,
}

/// Stop the broker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shutdown;

/// A section's page protection (`PAGE_*` of `CreateFileMapping`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PageProtection {
    /// `PAGE_READONLY`.
    ReadOnly,
    /// `PAGE_READWRITE`.
    ReadWrite,
    /// `PAGE_WRITECOPY`: views may only copy on write.
    WriteCopy,
}

/// `CreateFileMapping(INVALID_HANDLE_VALUE, …)`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateSection {
    /// `None` for an unnamed section.
    pub name: Option<ObjectName>,
    /// Size in bytes: more than 0 for memory; for a file, 0 means the
    /// file's size, and more than the file's size grows a writable file.
    pub size: u64,
    /// Page protection.
    pub protection: PageProtection,
    /// Map a file: its descriptor comes with the frame (`CreateFileMapping(hFile, …)`).
    /// Else the section is memory (`INVALID_HANDLE_VALUE`).
    pub file: bool,
    /// `SEC_RESERVE`: pages start reserved and are committed through views
    /// (memory only).
    pub reserve: bool,
    /// Desired access for the handle.
    pub access: AccessMask,
    /// Security for a new section.
    pub security: Security,
}

/// `OpenFileMapping`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenSection {
    /// The section's name.
    pub name: ObjectName,
    /// Desired access (`FILE_MAP_*`).
    pub access: AccessMask,
}

/// A section handle and what it allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SectionOpened {
    /// The handle.
    pub handle: Handle,
    /// The access granted.
    pub access: AccessMask,
    /// The section's size.
    pub size: u64,
    /// Its page protection.
    pub protection: PageProtection,
    /// It maps a file (else memory).
    pub file: bool,
    /// `SEC_RESERVE`: a second descriptor follows, the shared bitmap of
    /// committed pages.
    pub reserve: bool,
    /// A create found the name taken and opened it (`ERROR_ALREADY_EXISTS`).
    pub already_existed: bool,
}

/// `CreateMutex`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateMutex {
    /// `None` for an unnamed mutex.
    pub name: Option<ObjectName>,
    /// The creating thread owns it at once (only when this creates it).
    pub initial_owner: bool,
    /// The calling thread.
    pub thread: u32,
    /// Desired access.
    pub access: AccessMask,
    /// Security for a new mutex.
    pub security: Security,
}

/// `CreateSemaphore`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateSemaphore {
    /// `None` for an unnamed semaphore.
    pub name: Option<ObjectName>,
    /// The initial count (0 to `maximum`).
    pub initial: i32,
    /// The maximum count (more than 0).
    pub maximum: i32,
    /// Desired access.
    pub access: AccessMask,
    /// Security for a new semaphore.
    pub security: Security,
}

/// A thread that may own mutexes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadStarted {
    /// The thread's id (`gettid`).
    pub thread: u32,
}

/// A thread ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadExited {
    /// The thread.
    pub thread: u32,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{decode_body, encode_frame, split_frame};

    #[test]
    fn request_frame_round_trips() {
        let frame = RequestFrame {
            id: 42,
            fds: 0,
            request: Request::CreateEvent(CreateEvent {
                name: Some(ObjectName::parse("Local\\E").unwrap()),
                manual_reset: true,
                initial_state: false,
                access: switchboard_types::access::event::EVENT_ALL_ACCESS,
                security: Security::default(),
            }),
        };
        let mut bytes = Vec::new();
        encode_frame(&frame, &mut bytes);
        let (_, body) = split_frame(&bytes, 1 << 16).unwrap().unwrap();
        let back: RequestFrame = decode_body(body).unwrap();
        assert_eq!(back.id, 42);
        assert_eq!(back.request.name(), "CreateEvent");
        assert_eq!(back.request.opcode(), 0);
    }

    #[test]
    fn invalid_name_inside_a_frame_is_malformed() {
        let mut bytes = Vec::new();
        // Same layout as a RequestFrame holding Open, but the name is not valid.
        encode_frame(&(1u32, 1u32, ObjectKind::Event, "a\\\\b", 0u32), &mut bytes);
        let (_, body) = split_frame(&bytes, 1 << 16).unwrap().unwrap();
        assert!(decode_body::<RequestFrame>(body).is_err());
    }

    proptest::proptest! {
        #[test]
        fn decoding_garbage_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = decode_body::<RequestFrame>(&bytes);
            let _ = decode_body::<ReplyFrame>(&bytes);
        }
    }
}
