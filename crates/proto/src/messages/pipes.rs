//! The messages of named pipes and mailslots.

use serde::{Deserialize, Serialize};
use switchboard_types::{AccessMask, Handle, MailslotName, PipeName};

use super::Security;

/// How data is written (pipe type) or read (read mode).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PipeMode {
    /// A stream of bytes (`PIPE_TYPE_BYTE`, `PIPE_READMODE_BYTE`).
    Byte,
    /// Messages whose boundaries are kept (`PIPE_TYPE_MESSAGE`, `PIPE_READMODE_MESSAGE`).
    Message,
}

/// `PIPE_UNLIMITED_INSTANCES`.
pub const PIPE_UNLIMITED_INSTANCES: u32 = 255;

/// `CreateNamedPipe`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[allow(clippy::struct_excessive_bools)] // one per CreateNamedPipe flag, as Win32 has them
pub struct CreatePipe {
    /// The pipe's name (this machine only).
    pub name: PipeName,
    /// The server reads (`PIPE_ACCESS_INBOUND`; with `outbound`, duplex).
    pub inbound: bool,
    /// The server writes (`PIPE_ACCESS_OUTBOUND`).
    pub outbound: bool,
    /// Fail if the pipe exists (`FILE_FLAG_FIRST_PIPE_INSTANCE`).
    pub first_instance: bool,
    /// How data is written.
    pub pipe_type: PipeMode,
    /// How the server end reads.
    pub read_mode: PipeMode,
    /// `PIPE_NOWAIT`.
    pub nowait: bool,
    /// `PIPE_REJECT_REMOTE_CLIENTS`.
    pub reject_remote: bool,
    /// 1 to 254, or [`PIPE_UNLIMITED_INSTANCES`].
    pub max_instances: u32,
    /// Requested output buffer size.
    pub out_buffer: u32,
    /// Requested input buffer size.
    pub in_buffer: u32,
    /// `WaitNamedPipe`'s default timeout, in ms (0 means 50 ms).
    pub default_timeout_ms: u32,
    /// Security for the pipe, when this creates it.
    pub security: Security,
}

/// `ConnectNamedPipe`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectPipe {
    /// The server end.
    pub handle: Handle,
    /// How long to wait for a client; `None` forever.
    pub timeout_ms: Option<u64>,
    /// Only hand over the server's channel if a client is (or was) there:
    /// what a read or write on a server end that never called
    /// `ConnectNamedPipe` needs. Never waits.
    pub take_only: bool,
}

/// The answer to [`ConnectPipe`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PipeConnected {
    /// A client had connected before the call (`ERROR_PIPE_CONNECTED`).
    pub already_connected: bool,
}

/// `CreateFile` on a pipe name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenPipe {
    /// The pipe.
    pub name: PipeName,
    /// Desired access (`GENERIC_READ`, `GENERIC_WRITE`, …; 0 is allowed).
    pub access: AccessMask,
}

/// The answer to [`OpenPipe`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PipeOpened {
    /// The client end.
    pub handle: Handle,
    /// The access granted.
    pub access: AccessMask,
    /// How data is written on this pipe.
    pub pipe_type: PipeMode,
}

/// Cancel a waiting `ConnectNamedPipe`; answers whether one was waiting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancelConnect {
    /// The server end.
    pub handle: Handle,
}

/// `WaitNamedPipe`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitPipe {
    /// The pipe.
    pub name: PipeName,
    /// `Some(ms)`; `None` for `NMPWAIT_WAIT_FOREVER`.
    pub timeout_ms: Option<u64>,
    /// `NMPWAIT_USE_DEFAULT_WAIT`: the pipe's default timeout instead.
    pub use_default: bool,
}

/// `DisconnectNamedPipe`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisconnectPipe {
    /// The server end.
    pub handle: Handle,
}

/// Ask about one pipe end.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueryPipe {
    /// The end.
    pub handle: Handle,
}

/// Where an instance is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PipeState {
    /// Waiting for a client (`FILE_PIPE_LISTENING_STATE`).
    Listening,
    /// A client is connected.
    Connected,
    /// The other end closed its handle (`FILE_PIPE_CLOSING_STATE`).
    Closing,
    /// The server disconnected (`FILE_PIPE_DISCONNECTED_STATE`).
    Disconnected,
}

/// The answer to [`QueryPipe`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PipeStatus {
    /// This is the server end.
    pub server_end: bool,
    /// The pipe's name.
    pub name: String,
    /// How data is written.
    pub pipe_type: PipeMode,
    /// The instance's state as this end sees it.
    pub state: PipeState,
    /// Maximum instances ([`PIPE_UNLIMITED_INSTANCES`] for no limit).
    pub max_instances: u32,
    /// Instances that exist now.
    pub instances: u32,
    /// Output buffer size as requested.
    pub out_buffer: u32,
    /// Input buffer size as requested.
    pub in_buffer: u32,
    /// The default `WaitNamedPipe` timeout, in ms.
    pub default_timeout_ms: u32,
    /// The process at the other end, when connected.
    pub peer_pid: Option<u32>,
    /// Its user.
    pub peer_uid: Option<u32>,
    /// Its primary group.
    pub peer_gid: Option<u32>,
    /// Its supplementary groups.
    pub peer_groups: Vec<u32>,
}

/// List the named pipes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListPipes;

/// One named pipe in a listing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PipeListing {
    /// Its name (after `\\.\pipe\`).
    pub name: String,
    /// Instances that exist now.
    pub instances: u32,
    /// Maximum instances ([`PIPE_UNLIMITED_INSTANCES`] for no limit).
    pub max_instances: u32,
    /// Instances with a client connected.
    pub connected: u32,
    /// `WaitNamedPipe` calls waiting for a free instance.
    pub waiters: u32,
}

/// `CreateMailslot`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateMailslot {
    /// The mailslot (this machine only).
    pub name: MailslotName,
    /// The largest message writers may send; 0 for any size.
    pub max_message_size: u32,
    /// Security for the mailslot.
    pub security: Security,
}

/// `CreateFile` on a mailslot name, for writing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenMailslot {
    /// The mailslot.
    pub name: MailslotName,
    /// Desired access (`GENERIC_WRITE`).
    pub access: AccessMask,
}

/// The answer to [`OpenMailslot`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailslotOpened {
    /// The writer's handle.
    pub handle: Handle,
    /// The mailslot's maximum message size (0: any).
    pub max_message_size: u32,
}

/// Ask about a mailslot by name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueryMailslot {
    /// The mailslot.
    pub name: MailslotName,
}

/// The answer to [`QueryMailslot`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailslotStatus {
    /// Its name (after `\\.\mailslot\`).
    pub name: String,
    /// Its maximum message size (0: any).
    pub max_message_size: u32,
    /// The next message's size; `None` when there is none.
    pub next_size: Option<u32>,
    /// Messages waiting.
    pub count: u64,
    /// Writer handles open on it.
    pub writers: u32,
    /// The reader's process.
    pub reader_pid: u32,
}

/// List the mailslots.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListMailslots;

/// One mailslot in a listing. Anyone may see its name (as anyone may
/// enumerate `\\.\mailslot\` on Windows); the rest is `None` unless the
/// caller may read the mailslot's security (`READ_CONTROL`), or is root.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailslotListing {
    /// Its name (after `\\.\mailslot\`).
    pub name: String,
    /// Its maximum message size (0: any).
    pub max_message_size: Option<u32>,
    /// Writer handles open on it.
    pub writers: Option<u32>,
    /// The reader's process.
    pub reader_pid: Option<u32>,
}
