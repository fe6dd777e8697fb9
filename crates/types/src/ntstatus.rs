//! NTSTATUS codes, and their mapping to and from [`Win32Error`].
//!
//! The native API, SMB2 and DCE/RPC faults speak NTSTATUS; Win32 callers see
//! a [`Win32Error`]. [`NtStatus::to_win32`] is `RtlNtStatusToDosError` for
//! every status listed here (the values checked against Microsoft's
//! MS-ERREF and Wine's `dlls/ntdll/error.c`); [`Win32Error::to_nt_status`]
//! goes back where that is unambiguous.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::Win32Error;

macro_rules! nt_statuses {
    ($( $(#[$doc:meta])* $name:ident = $code:literal => $win32:ident, $text:literal; )*) => {
        /// An NTSTATUS code. Unknown codes are kept as they are.
        ///
        /// The top two bits are the severity: `0` success, `1`
        /// informational, `2` warning, `3` error.
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct NtStatus(pub u32);

        #[allow(missing_docs)]
        impl NtStatus {
            $( $(#[$doc])* pub const $name: Self = Self($code); )*

            /// Every status this table names, in table order.
            pub const ALL: &'static [NtStatus] = &[$( Self::$name ),*];

            /// The symbolic name, e.g. `STATUS_ACCESS_DENIED`.
            pub fn name(self) -> Option<&'static str> {
                match self.0 {
                    $( $code => Some(stringify!($name)), )*
                    _ => None,
                }
            }

            /// The message text (shortened from MS-ERREF).
            pub fn message(self) -> &'static str {
                match self.0 {
                    $( $code => $text, )*
                    _ => "unknown status",
                }
            }

            /// The Win32 error a Win32 function reports for this status.
            ///
            /// # Windows equivalent
            ///
            /// `RtlNtStatusToDosError`. A status it has no entry for, here as
            /// there, gives `ERROR_MR_MID_NOT_FOUND` (317): `STATUS_ABANDONED`
            /// is one, a wait result that Win32 returns as a value
            /// (`WAIT_ABANDONED`), not as an error.
            /// Unlike Windows, statuses this table does not name also give
            /// `ERROR_MR_MID_NOT_FOUND`, rather than their own mapping.
            pub fn to_win32(self) -> Win32Error {
                match self.0 {
                    $( $code => Win32Error::$win32, )*
                    _ => Win32Error::ERROR_MR_MID_NOT_FOUND,
                }
            }
        }
    };
}

nt_statuses! {
    STATUS_SUCCESS = 0x0000_0000 => SUCCESS, "the operation completed successfully";
    /// `STATUS_ABANDONED_WAIT_0`: a wait was satisfied by an abandoned mutex.
    STATUS_ABANDONED = 0x0000_0080 => ERROR_MR_MID_NOT_FOUND, "the caller attempted to wait for a mutex that has been abandoned";
    STATUS_TIMEOUT = 0x0000_0102 => ERROR_TIMEOUT, "the given timeout interval expired";
    STATUS_PENDING = 0x0000_0103 => ERROR_IO_PENDING, "the operation that was requested is pending completion";
    STATUS_MORE_ENTRIES = 0x0000_0105 => ERROR_MORE_DATA, "returned by enumeration APIs to indicate more information is available";
    STATUS_BUFFER_OVERFLOW = 0x8000_0005 => ERROR_MORE_DATA, "the data was too large to fit into the specified buffer";
    STATUS_NO_MORE_ENTRIES = 0x8000_001A => ERROR_NO_MORE_ITEMS, "no more entries are available from an enumeration operation";
    STATUS_UNSUCCESSFUL = 0xC000_0001 => ERROR_GEN_FAILURE, "the requested operation was unsuccessful";
    STATUS_NOT_IMPLEMENTED = 0xC000_0002 => ERROR_INVALID_FUNCTION, "the requested operation is not implemented";
    STATUS_ACCESS_VIOLATION = 0xC000_0005 => ERROR_NOACCESS, "the instruction caused a memory access violation";
    STATUS_INVALID_HANDLE = 0xC000_0008 => ERROR_INVALID_HANDLE, "an invalid handle was specified";
    STATUS_INVALID_PARAMETER = 0xC000_000D => ERROR_INVALID_PARAMETER, "an invalid parameter was passed to a service or function";
    STATUS_INVALID_DEVICE_REQUEST = 0xC000_0010 => ERROR_INVALID_FUNCTION, "the specified request is not a valid operation for the target device";
    STATUS_END_OF_FILE = 0xC000_0011 => ERROR_HANDLE_EOF, "the end-of-file marker has been reached";
    STATUS_NO_MEMORY = 0xC000_0017 => ERROR_NOT_ENOUGH_MEMORY, "not enough virtual memory or paging file quota is available";
    STATUS_ACCESS_DENIED = 0xC000_0022 => ERROR_ACCESS_DENIED, "a process has requested access to an object but has not been granted those access rights";
    STATUS_BUFFER_TOO_SMALL = 0xC000_0023 => ERROR_INSUFFICIENT_BUFFER, "the buffer is too small to contain the entry";
    STATUS_OBJECT_TYPE_MISMATCH = 0xC000_0024 => ERROR_INVALID_HANDLE, "there is a mismatch between the type of object that is required and the type of object that is specified";
    STATUS_OBJECT_NAME_INVALID = 0xC000_0033 => ERROR_INVALID_NAME, "the object name is invalid";
    STATUS_OBJECT_NAME_NOT_FOUND = 0xC000_0034 => ERROR_FILE_NOT_FOUND, "the object name is not found";
    STATUS_OBJECT_NAME_COLLISION = 0xC000_0035 => ERROR_ALREADY_EXISTS, "the object name already exists";
    STATUS_OBJECT_PATH_NOT_FOUND = 0xC000_003A => ERROR_PATH_NOT_FOUND, "the path does not exist";
    STATUS_QUOTA_EXCEEDED = 0xC000_0044 => ERROR_NOT_ENOUGH_QUOTA, "not enough quota is available to complete the operation";
    STATUS_MUTANT_NOT_OWNED = 0xC000_0046 => ERROR_NOT_OWNER, "an attempt to release a mutant object was made by a thread that was not the owner";
    STATUS_SEMAPHORE_LIMIT_EXCEEDED = 0xC000_0047 => ERROR_TOO_MANY_POSTS, "an attempt was made to release a semaphore such that its maximum count would have been exceeded";
    STATUS_REVISION_MISMATCH = 0xC000_0059 => ERROR_REVISION_MISMATCH, "two revision levels are incompatible";
    STATUS_INVALID_OWNER = 0xC000_005A => ERROR_INVALID_OWNER, "this SID may not be assigned as the owner of this object";
    STATUS_INVALID_SECURITY_DESCR = 0xC000_0079 => ERROR_INVALID_SECURITY_DESCR, "the security descriptor structure is invalid";
    STATUS_DISK_FULL = 0xC000_007F => ERROR_DISK_FULL, "an operation failed because the disk was full";
    STATUS_FILE_INVALID = 0xC000_0098 => ERROR_FILE_INVALID, "the volume for a file has been externally altered";
    STATUS_INSUFFICIENT_RESOURCES = 0xC000_009A => ERROR_NO_SYSTEM_RESOURCES, "insufficient system resources exist to complete the API";
    STATUS_INSTANCE_NOT_AVAILABLE = 0xC000_00AB => ERROR_PIPE_BUSY, "the maximum named pipe instance count has been reached";
    STATUS_PIPE_NOT_AVAILABLE = 0xC000_00AC => ERROR_PIPE_BUSY, "an instance of a named pipe cannot be found in the listening state";
    STATUS_INVALID_PIPE_STATE = 0xC000_00AD => ERROR_BAD_PIPE, "the named pipe is not in the connected or closing state";
    STATUS_PIPE_BUSY = 0xC000_00AE => ERROR_PIPE_BUSY, "the specified pipe is set to complete operations and there are current I/O operations queued";
    STATUS_PIPE_DISCONNECTED = 0xC000_00B0 => ERROR_PIPE_NOT_CONNECTED, "the specified named pipe is in the disconnected state";
    STATUS_PIPE_CLOSING = 0xC000_00B1 => ERROR_NO_DATA, "the specified named pipe is in the closing state";
    STATUS_PIPE_CONNECTED = 0xC000_00B2 => ERROR_PIPE_CONNECTED, "the specified named pipe is in the connected state";
    STATUS_PIPE_LISTENING = 0xC000_00B3 => ERROR_PIPE_LISTENING, "the specified named pipe is in the listening state";
    STATUS_INVALID_READ_MODE = 0xC000_00B4 => ERROR_BAD_PIPE, "the specified named pipe is not in message mode";
    STATUS_IO_TIMEOUT = 0xC000_00B5 => ERROR_SEM_TIMEOUT, "the specified I/O operation was not completed before the time-out period expired";
    STATUS_NOT_SUPPORTED = 0xC000_00BB => ERROR_NOT_SUPPORTED, "the request is not supported";
    STATUS_BAD_NETWORK_PATH = 0xC000_00BE => ERROR_BAD_NETPATH, "the network path cannot be located";
    STATUS_PIPE_EMPTY = 0xC000_00D9 => ERROR_NO_DATA, "used to indicate that a read operation was done on an empty pipe";
    STATUS_NAME_TOO_LONG = 0xC000_0106 => ERROR_FILENAME_EXCED_RANGE, "a name was too long to be stored";
    STATUS_CANNOT_IMPERSONATE = 0xC000_010D => ERROR_CANNOT_IMPERSONATE, "a named pipe client cannot be impersonated before it has sent data";
    STATUS_TOO_MANY_OPENED_FILES = 0xC000_011F => ERROR_TOO_MANY_OPEN_FILES, "too many files are opened on a remote server";
    STATUS_CANCELLED = 0xC000_0120 => ERROR_OPERATION_ABORTED, "an I/O request was canceled";
    STATUS_PIPE_BROKEN = 0xC000_014B => ERROR_BROKEN_PIPE, "the pipe operation has failed because the other end of the pipe has been closed";
    STATUS_REGISTRY_CORRUPT = 0xC000_014C => ERROR_BADDB, "the structure of one of the files that contains registry data is corrupt";
    STATUS_KEY_DELETED = 0xC000_017C => ERROR_KEY_DELETED, "an illegal operation was attempted on a registry key that has already been deleted";
    STATUS_CHILD_MUST_BE_VOLATILE = 0xC000_0181 => ERROR_CHILD_MUST_BE_VOLATILE, "an attempt was made to create a stable subkey under a volatile parent key";
    STATUS_MAPPED_ALIGNMENT = 0xC000_0220 => ERROR_MAPPED_ALIGNMENT, "the base address or the file offset specified does not have the proper alignment";
    STATUS_CONNECTION_REFUSED = 0xC000_0236 => ERROR_CONNECTION_REFUSED, "the transport connection attempt was refused by the remote system";
}

impl NtStatus {
    /// Whether the severity is success or informational (`NT_SUCCESS`).
    pub const fn is_success(self) -> bool {
        self.0 >> 30 <= 1
    }

    /// Whether the severity is error (`NT_ERROR`).
    pub const fn is_error(self) -> bool {
        self.0 >> 30 == 3
    }
}

impl From<NtStatus> for Win32Error {
    fn from(status: NtStatus) -> Self {
        status.to_win32()
    }
}

impl Win32Error {
    /// The NTSTATUS that stands for this error, when one does unambiguously.
    ///
    /// The choice keeps one rule: `e.to_nt_status().map(NtStatus::to_win32)`
    /// is `Some(e)` or `None`, never another error. Where several statuses
    /// map to `e`, the one a Windows server sends for the common case is
    /// chosen: `ERROR_PIPE_BUSY` is `STATUS_PIPE_BUSY` (not the
    /// instance-count or no-listener statuses), `ERROR_NO_DATA` is
    /// `STATUS_PIPE_CLOSING` (the message this table gives it; a nowait
    /// read's `STATUS_PIPE_EMPTY` maps to it too), `ERROR_MORE_DATA` is
    /// `STATUS_BUFFER_OVERFLOW` (what an SMB2 read of a longer message
    /// returns), `ERROR_INVALID_HANDLE` is `STATUS_INVALID_HANDLE`,
    /// `ERROR_INVALID_FUNCTION` is `STATUS_INVALID_DEVICE_REQUEST`,
    /// `ERROR_BAD_PIPE` is `STATUS_INVALID_PIPE_STATE`. Errors with no
    /// status that maps back to them (`ERROR_OUTOFMEMORY`,
    /// `ERROR_INVALID_DATA`, `ERROR_BUSY`, the registry's value-type errors,
    /// …) give `None`: the caller picks a fallback such as
    /// `STATUS_UNSUCCESSFUL`.
    pub fn to_nt_status(self) -> Option<NtStatus> {
        let status = match self {
            Self::SUCCESS => NtStatus::STATUS_SUCCESS,
            Self::ERROR_INVALID_FUNCTION => NtStatus::STATUS_INVALID_DEVICE_REQUEST,
            Self::ERROR_FILE_NOT_FOUND => NtStatus::STATUS_OBJECT_NAME_NOT_FOUND,
            Self::ERROR_PATH_NOT_FOUND => NtStatus::STATUS_OBJECT_PATH_NOT_FOUND,
            Self::ERROR_TOO_MANY_OPEN_FILES => NtStatus::STATUS_TOO_MANY_OPENED_FILES,
            Self::ERROR_ACCESS_DENIED => NtStatus::STATUS_ACCESS_DENIED,
            Self::ERROR_INVALID_HANDLE => NtStatus::STATUS_INVALID_HANDLE,
            Self::ERROR_NOT_ENOUGH_MEMORY => NtStatus::STATUS_NO_MEMORY,
            Self::ERROR_GEN_FAILURE => NtStatus::STATUS_UNSUCCESSFUL,
            Self::ERROR_HANDLE_EOF => NtStatus::STATUS_END_OF_FILE,
            Self::ERROR_NOT_SUPPORTED => NtStatus::STATUS_NOT_SUPPORTED,
            Self::ERROR_BAD_NETPATH => NtStatus::STATUS_BAD_NETWORK_PATH,
            Self::ERROR_INVALID_PARAMETER => NtStatus::STATUS_INVALID_PARAMETER,
            Self::ERROR_BROKEN_PIPE => NtStatus::STATUS_PIPE_BROKEN,
            Self::ERROR_DISK_FULL => NtStatus::STATUS_DISK_FULL,
            Self::ERROR_SEM_TIMEOUT => NtStatus::STATUS_IO_TIMEOUT,
            Self::ERROR_INSUFFICIENT_BUFFER => NtStatus::STATUS_BUFFER_TOO_SMALL,
            Self::ERROR_INVALID_NAME => NtStatus::STATUS_OBJECT_NAME_INVALID,
            Self::ERROR_ALREADY_EXISTS => NtStatus::STATUS_OBJECT_NAME_COLLISION,
            Self::ERROR_FILENAME_EXCED_RANGE => NtStatus::STATUS_NAME_TOO_LONG,
            Self::ERROR_BAD_PIPE => NtStatus::STATUS_INVALID_PIPE_STATE,
            Self::ERROR_PIPE_BUSY => NtStatus::STATUS_PIPE_BUSY,
            Self::ERROR_NO_DATA => NtStatus::STATUS_PIPE_CLOSING,
            Self::ERROR_PIPE_NOT_CONNECTED => NtStatus::STATUS_PIPE_DISCONNECTED,
            Self::ERROR_MORE_DATA => NtStatus::STATUS_BUFFER_OVERFLOW,
            Self::ERROR_NO_MORE_ITEMS => NtStatus::STATUS_NO_MORE_ENTRIES,
            Self::ERROR_NOT_OWNER => NtStatus::STATUS_MUTANT_NOT_OWNED,
            Self::ERROR_TOO_MANY_POSTS => NtStatus::STATUS_SEMAPHORE_LIMIT_EXCEEDED,
            Self::ERROR_PIPE_CONNECTED => NtStatus::STATUS_PIPE_CONNECTED,
            Self::ERROR_PIPE_LISTENING => NtStatus::STATUS_PIPE_LISTENING,
            Self::ERROR_OPERATION_ABORTED => NtStatus::STATUS_CANCELLED,
            Self::ERROR_IO_PENDING => NtStatus::STATUS_PENDING,
            Self::ERROR_NOACCESS => NtStatus::STATUS_ACCESS_VIOLATION,
            Self::ERROR_BADDB => NtStatus::STATUS_REGISTRY_CORRUPT,
            Self::ERROR_KEY_DELETED => NtStatus::STATUS_KEY_DELETED,
            Self::ERROR_CHILD_MUST_BE_VOLATILE => NtStatus::STATUS_CHILD_MUST_BE_VOLATILE,
            Self::ERROR_FILE_INVALID => NtStatus::STATUS_FILE_INVALID,
            Self::ERROR_MAPPED_ALIGNMENT => NtStatus::STATUS_MAPPED_ALIGNMENT,
            Self::ERROR_CONNECTION_REFUSED => NtStatus::STATUS_CONNECTION_REFUSED,
            Self::ERROR_REVISION_MISMATCH => NtStatus::STATUS_REVISION_MISMATCH,
            Self::ERROR_INVALID_OWNER => NtStatus::STATUS_INVALID_OWNER,
            Self::ERROR_CANNOT_IMPERSONATE => NtStatus::STATUS_CANNOT_IMPERSONATE,
            Self::ERROR_INVALID_SECURITY_DESCR => NtStatus::STATUS_INVALID_SECURITY_DESCR,
            Self::ERROR_NO_SYSTEM_RESOURCES => NtStatus::STATUS_INSUFFICIENT_RESOURCES,
            Self::ERROR_TIMEOUT => NtStatus::STATUS_TIMEOUT,
            Self::ERROR_NOT_ENOUGH_QUOTA => NtStatus::STATUS_QUOTA_EXCEEDED,
            _ => return None,
        };
        Some(status)
    }
}

impl fmt::Debug for NtStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{name}"),
            None => write!(f, "NtStatus({:#010x})", self.0),
        }
    }
}

impl fmt::Display for NtStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{name} ({:#010x}): {}", self.0, self.message()),
            None => write!(f, "status {:#010x}", self.0),
        }
    }
}

#[cfg(test)]
mod tests;
