//! Win32 error codes.
//!
//! Every failure in Switchboard maps to exactly one [`Win32Error`], so the same
//! failure reads the same in Rust, in C (`GetLastError`) and in the CLI.

use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! win32_errors {
    ($( $(#[$doc:meta])* $name:ident = $code:literal, $text:literal; )*) => {
        /// A Win32 error code (`GetLastError`). Unknown codes are kept as they are.
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct Win32Error(pub u32);

        #[allow(missing_docs)]
        impl Win32Error {
            $( $(#[$doc])* pub const $name: Self = Self($code); )*

            /// The symbolic name, e.g. `ERROR_FILE_NOT_FOUND`.
            pub fn name(self) -> Option<&'static str> {
                match self.0 {
                    $( $code => Some(stringify!($name)), )*
                    _ => None,
                }
            }

            /// The system message text, as `FormatMessage` gives it (shortened).
            pub fn message(self) -> &'static str {
                match self.0 {
                    $( $code => $text, )*
                    _ => "unknown error",
                }
            }
        }
    };
}

win32_errors! {
    SUCCESS = 0, "the operation completed successfully";
    ERROR_INVALID_FUNCTION = 1, "incorrect function";
    ERROR_FILE_NOT_FOUND = 2, "the system cannot find the file specified";
    ERROR_PATH_NOT_FOUND = 3, "the system cannot find the path specified";
    ERROR_TOO_MANY_OPEN_FILES = 4, "the system cannot open the file";
    ERROR_ACCESS_DENIED = 5, "access is denied";
    ERROR_INVALID_HANDLE = 6, "the handle is invalid";
    ERROR_NOT_ENOUGH_MEMORY = 8, "not enough memory resources are available to process this command";
    ERROR_INVALID_DATA = 13, "the data is invalid";
    ERROR_OUTOFMEMORY = 14, "not enough memory resources are available to complete this operation";
    ERROR_NOT_SUPPORTED = 50, "the request is not supported";
    ERROR_INVALID_PARAMETER = 87, "the parameter is incorrect";
    ERROR_BROKEN_PIPE = 109, "the pipe has been ended";
    ERROR_SEM_TIMEOUT = 121, "the semaphore timeout period has expired";
    ERROR_INSUFFICIENT_BUFFER = 122, "the data area passed to a system call is too small";
    ERROR_INVALID_NAME = 123, "the filename, directory name, or volume label syntax is incorrect";
    ERROR_ALREADY_EXISTS = 183, "cannot create a file when that file already exists";
    ERROR_FILENAME_EXCED_RANGE = 206, "the filename or extension is too long";
    ERROR_BAD_PIPE = 230, "the pipe state is invalid";
    ERROR_PIPE_BUSY = 231, "all pipe instances are busy";
    ERROR_NO_DATA = 232, "the pipe is being closed";
    ERROR_PIPE_NOT_CONNECTED = 233, "no process is on the other end of the pipe";
    ERROR_MORE_DATA = 234, "more data is available";
    ERROR_NO_MORE_ITEMS = 259, "no more data is available";
    ERROR_NOT_OWNER = 288, "attempt to release mutex not owned by caller";
    ERROR_TOO_MANY_POSTS = 298, "too many posts were made to a semaphore";
    ERROR_PIPE_CONNECTED = 535, "there is a process on other end of the pipe";
    ERROR_PIPE_LISTENING = 536, "waiting for a process to open the other end of the pipe";
    ERROR_OPERATION_ABORTED = 995, "the I/O operation has been aborted";
    ERROR_IO_PENDING = 997, "overlapped I/O operation is in progress";
    ERROR_NOACCESS = 998, "invalid access to memory location";
    ERROR_CANNOT_IMPERSONATE = 1368, "unable to impersonate using a named pipe until data has been read from that pipe";
    ERROR_TIMEOUT = 1460, "this operation returned because the timeout period expired";
    ERROR_INVALID_MESSAGE = 1002, "the window cannot act on the sent message";
    ERROR_CONNECTION_REFUSED = 1225, "the remote computer refused the network connection";
    ERROR_SERVICE_NOT_ACTIVE = 1062, "the service has not been started";
    ERROR_REVISION_MISMATCH = 1306, "indicates two revision levels are incompatible";
    ERROR_INVALID_SECURITY_DESCR = 1338, "the security descriptor structure is invalid";
    ERROR_INVALID_OWNER = 1307, "this security ID may not be assigned as the owner of this object";
    ERROR_NO_SYSTEM_RESOURCES = 1450, "insufficient system resources exist to complete the requested service";
    ERROR_UNSUPPORTED_TYPE = 1630, "data of this type is not supported";
    ERROR_DATATYPE_MISMATCH = 1629, "the data is of the wrong type";
    ERROR_BUSY = 170, "the requested resource is in use";
    ERROR_BAD_NETPATH = 53, "the network path was not found";
    ERROR_BADKEY = 1010, "the configuration registry key is invalid";
    ERROR_BADDB = 1009, "the configuration registry database is corrupt";
    ERROR_KEY_DELETED = 1018, "illegal operation attempted on a registry key that has been marked for deletion";
    ERROR_WRITE_FAULT = 29, "the system cannot write to the specified device";
    ERROR_CHILD_MUST_BE_VOLATILE = 1021, "cannot create a stable subkey under a volatile parent key";
    ERROR_DISK_FULL = 112, "there is not enough space on the disk";
    ERROR_NOT_ENOUGH_QUOTA = 1816, "not enough quota is available to process this command";
    ERROR_SIGNAL_REFUSED = 156, "the recipient process has refused the signal";
    ERROR_MAPPED_ALIGNMENT = 1132, "the base address or the file offset specified does not have the proper alignment";
    ERROR_FILE_INVALID = 1006, "the volume for a file has been externally altered so that the opened file is no longer valid";
    ERROR_GEN_FAILURE = 31, "a device attached to the system is not functioning";
    ERROR_HANDLE_EOF = 38, "reached the end of the file";
    ERROR_MR_MID_NOT_FOUND = 317, "the system cannot find message text for the message number (no Win32 error for this NTSTATUS)";
}

impl Win32Error {
    /// Whether this is `SUCCESS` (0).
    pub const fn is_success(self) -> bool {
        self.0 == 0
    }
}

impl fmt::Debug for Win32Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{name}"),
            None => write!(f, "Win32Error({})", self.0),
        }
    }
}

impl fmt::Display for Win32Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{name} ({}): {}", self.0, self.message()),
            None => write!(f, "error {}", self.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_code_displays_name_number_and_text() {
        let text = Win32Error::ERROR_FILE_NOT_FOUND.to_string();
        assert_eq!(text, "ERROR_FILE_NOT_FOUND (2): the system cannot find the file specified");
    }

    #[test]
    fn unknown_code_is_kept() {
        assert_eq!(Win32Error(4242).name(), None);
        assert_eq!(format!("{:?}", Win32Error(4242)), "Win32Error(4242)");
    }
}
