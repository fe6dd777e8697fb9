use super::*;

#[test]
fn known_status_displays_name_hex_and_text() {
    assert_eq!(
        NtStatus::STATUS_ACCESS_DENIED.to_string(),
        "STATUS_ACCESS_DENIED (0xc0000022): a process has requested access to an object but has not been granted those access rights"
    );
    assert_eq!(format!("{:?}", NtStatus::STATUS_PIPE_BROKEN), "STATUS_PIPE_BROKEN");
}

#[test]
fn unknown_status_is_kept() {
    assert_eq!(NtStatus(0xC0DE_0001).name(), None);
    assert_eq!(format!("{:?}", NtStatus(0xC0DE_0001)), "NtStatus(0xc0de0001)");
    assert_eq!(NtStatus(0xC0DE_0001).to_string(), "status 0xc0de0001");
    assert_eq!(NtStatus(0xC0DE_0001).to_win32(), Win32Error::ERROR_MR_MID_NOT_FOUND);
}

#[test]
fn statuses_map_to_the_errors_rtl_nt_status_to_dos_error_gives() {
    let expected = [
        (NtStatus::STATUS_SUCCESS, Win32Error::SUCCESS),
        (NtStatus::STATUS_TIMEOUT, Win32Error::ERROR_TIMEOUT),
        (NtStatus::STATUS_PENDING, Win32Error::ERROR_IO_PENDING),
        (NtStatus::STATUS_ABANDONED, Win32Error::ERROR_MR_MID_NOT_FOUND),
        (NtStatus::STATUS_MORE_ENTRIES, Win32Error::ERROR_MORE_DATA),
        (NtStatus::STATUS_BUFFER_OVERFLOW, Win32Error::ERROR_MORE_DATA),
        (NtStatus::STATUS_NO_MORE_ENTRIES, Win32Error::ERROR_NO_MORE_ITEMS),
        (NtStatus::STATUS_ACCESS_DENIED, Win32Error::ERROR_ACCESS_DENIED),
        (NtStatus::STATUS_OBJECT_NAME_NOT_FOUND, Win32Error::ERROR_FILE_NOT_FOUND),
        (NtStatus::STATUS_OBJECT_NAME_COLLISION, Win32Error::ERROR_ALREADY_EXISTS),
        (NtStatus::STATUS_OBJECT_TYPE_MISMATCH, Win32Error::ERROR_INVALID_HANDLE),
        (NtStatus::STATUS_INVALID_HANDLE, Win32Error::ERROR_INVALID_HANDLE),
        (NtStatus::STATUS_INVALID_PARAMETER, Win32Error::ERROR_INVALID_PARAMETER),
        (NtStatus::STATUS_NO_MEMORY, Win32Error::ERROR_NOT_ENOUGH_MEMORY),
        (NtStatus::STATUS_INSUFFICIENT_RESOURCES, Win32Error::ERROR_NO_SYSTEM_RESOURCES),
        (NtStatus::STATUS_QUOTA_EXCEEDED, Win32Error::ERROR_NOT_ENOUGH_QUOTA),
        (NtStatus::STATUS_BUFFER_TOO_SMALL, Win32Error::ERROR_INSUFFICIENT_BUFFER),
        (NtStatus::STATUS_PIPE_BUSY, Win32Error::ERROR_PIPE_BUSY),
        (NtStatus::STATUS_PIPE_NOT_AVAILABLE, Win32Error::ERROR_PIPE_BUSY),
        (NtStatus::STATUS_INSTANCE_NOT_AVAILABLE, Win32Error::ERROR_PIPE_BUSY),
        (NtStatus::STATUS_PIPE_DISCONNECTED, Win32Error::ERROR_PIPE_NOT_CONNECTED),
        (NtStatus::STATUS_PIPE_BROKEN, Win32Error::ERROR_BROKEN_PIPE),
        (NtStatus::STATUS_PIPE_EMPTY, Win32Error::ERROR_NO_DATA),
        (NtStatus::STATUS_PIPE_CLOSING, Win32Error::ERROR_NO_DATA),
        (NtStatus::STATUS_PIPE_LISTENING, Win32Error::ERROR_PIPE_LISTENING),
        (NtStatus::STATUS_PIPE_CONNECTED, Win32Error::ERROR_PIPE_CONNECTED),
        (NtStatus::STATUS_END_OF_FILE, Win32Error::ERROR_HANDLE_EOF),
        (NtStatus::STATUS_MUTANT_NOT_OWNED, Win32Error::ERROR_NOT_OWNER),
        (NtStatus::STATUS_SEMAPHORE_LIMIT_EXCEEDED, Win32Error::ERROR_TOO_MANY_POSTS),
        (NtStatus::STATUS_NOT_SUPPORTED, Win32Error::ERROR_NOT_SUPPORTED),
        (NtStatus::STATUS_CANCELLED, Win32Error::ERROR_OPERATION_ABORTED),
        (NtStatus::STATUS_IO_TIMEOUT, Win32Error::ERROR_SEM_TIMEOUT),
        (NtStatus::STATUS_DISK_FULL, Win32Error::ERROR_DISK_FULL),
        (NtStatus::STATUS_KEY_DELETED, Win32Error::ERROR_KEY_DELETED),
    ];
    for (status, error) in expected {
        assert_eq!(status.to_win32(), error, "{status:?}");
        assert_eq!(Win32Error::from(status), error, "{status:?}");
    }
}

#[test]
fn win32_to_nt_status_maps_back_to_the_same_error() {
    let mapped: Vec<_> = (0..2000).map(Win32Error).filter_map(|e| e.to_nt_status().map(|s| (e, s))).collect();
    assert!(mapped.len() > 40, "{}", mapped.len());
    for (error, status) in mapped {
        assert_eq!(status.to_win32(), error, "{error:?} -> {status:?}");
        assert!(status.name().is_some(), "{error:?} -> an unnamed status");
    }
}

#[test]
fn ambiguous_errors_take_the_common_status() {
    assert_eq!(Win32Error::ERROR_FILE_NOT_FOUND.to_nt_status(), Some(NtStatus::STATUS_OBJECT_NAME_NOT_FOUND));
    assert_eq!(Win32Error::ERROR_PIPE_BUSY.to_nt_status(), Some(NtStatus::STATUS_PIPE_BUSY));
    assert_eq!(Win32Error::ERROR_MORE_DATA.to_nt_status(), Some(NtStatus::STATUS_BUFFER_OVERFLOW));
    assert_eq!(Win32Error::ERROR_INVALID_HANDLE.to_nt_status(), Some(NtStatus::STATUS_INVALID_HANDLE));
    assert_eq!(Win32Error::ERROR_OUTOFMEMORY.to_nt_status(), None);
    assert_eq!(Win32Error(4242).to_nt_status(), None);
}

#[test]
fn severity_bits_decide_success_and_error() {
    assert!(NtStatus::STATUS_SUCCESS.is_success() && NtStatus::STATUS_PENDING.is_success());
    assert!(!NtStatus::STATUS_BUFFER_OVERFLOW.is_success() && !NtStatus::STATUS_BUFFER_OVERFLOW.is_error());
    assert!(NtStatus::STATUS_ACCESS_DENIED.is_error() && !NtStatus::STATUS_ACCESS_DENIED.is_success());
}

#[test]
fn every_named_status_has_text_and_a_unique_value() {
    let mut seen = std::collections::HashSet::new();
    for status in NtStatus::ALL {
        assert!(seen.insert(status.0), "{status:?} twice");
        assert_ne!(status.message(), "unknown status");
    }
}

#[test]
fn nt_status_encodes_as_its_u32() {
    let bytes = postcard::to_allocvec(&NtStatus::STATUS_ACCESS_DENIED).expect("encodes");
    assert_eq!(bytes, postcard::to_allocvec(&0xC000_0022u32).expect("encodes"));
}
