//! The tables' values against the numbers Windows documents (`winnt.h`),
//! and the wire form of [`AccessMask`].

use super::standard::{GENERIC_ALL, GENERIC_EXECUTE, GENERIC_READ, GENERIC_WRITE, MAXIMUM_ALLOWED, SYNCHRONIZE};
use super::*;

/// `(GENERIC_READ, GENERIC_WRITE, GENERIC_EXECUTE, GENERIC_ALL)` mapped.
fn mapped(mapping: &GenericMapping) -> [u32; 4] {
    [GENERIC_READ, GENERIC_WRITE, GENERIC_EXECUTE, GENERIC_ALL].map(|g| mapping.map(g).bits())
}

#[test]
fn standard_rights_have_the_winnt_values() {
    use standard::*;
    assert_eq!(STANDARD_RIGHTS_REQUIRED, DELETE | READ_CONTROL | WRITE_DAC | WRITE_OWNER);
    assert_eq!(STANDARD_RIGHTS_ALL.bits(), 0x001F_0000);
    assert_eq!(SYNCHRONIZE.bits(), 0x0010_0000);
    assert_eq!(MAXIMUM_ALLOWED.bits(), 0x0200_0000);
    assert_eq!((GENERIC_READ | GENERIC_WRITE | GENERIC_EXECUTE | GENERIC_ALL).bits(), 0xF000_0000);
}

#[test]
fn event_generic_read_is_read_control_and_query_state() {
    assert_eq!(event::MAPPING.map(GENERIC_READ), standard::READ_CONTROL | event::EVENT_QUERY_STATE);
    assert_eq!(event::EVENT_ALL_ACCESS.bits(), 0x001F_0003);
    assert_eq!(mapped(&event::MAPPING), [0x0002_0001, 0x0002_0002, 0x0012_0000, 0x001F_0003]);
}

#[test]
fn mutex_generic_write_gives_no_specific_right() {
    assert_eq!(mutex::MUTEX_MODIFY_STATE, mutex::MUTANT_QUERY_STATE);
    assert_eq!(mutex::MUTEX_ALL_ACCESS.bits(), 0x001F_0001);
    assert_eq!(mapped(&mutex::MAPPING), [0x0002_0001, 0x0002_0000, 0x0012_0000, 0x001F_0001]);
}

#[test]
fn semaphore_generic_write_is_modify_state() {
    assert_eq!(semaphore::MAPPING.map(GENERIC_WRITE), standard::READ_CONTROL | semaphore::SEMAPHORE_MODIFY_STATE);
    assert_eq!(mapped(&semaphore::MAPPING), [0x0002_0001, 0x0002_0002, 0x0012_0000, 0x001F_0003]);
}

#[test]
fn section_rights_and_file_map_names_agree() {
    use section::*;
    assert_eq!((FILE_MAP_COPY, FILE_MAP_WRITE, FILE_MAP_READ), (SECTION_QUERY, SECTION_MAP_WRITE, SECTION_MAP_READ));
    assert_eq!(FILE_MAP_ALL_ACCESS.bits(), 0x000F_001F);
    assert_eq!(FILE_MAP_EXECUTE.bits(), 0x0020);
    assert!(!FILE_MAP_ALL_ACCESS.contains(SYNCHRONIZE));
    assert_eq!(mapped(&MAPPING), [0x0002_0005, 0x0002_0002, 0x0002_0008, 0x000F_001F]);
}

#[test]
fn file_mapping_is_the_file_generic_rights() {
    use file::*;
    assert_eq!(FILE_CREATE_PIPE_INSTANCE, FILE_APPEND_DATA);
    assert_eq!(mapped(&MAPPING), [0x0012_0089, 0x0012_0116, 0x0012_00A0, 0x001F_01FF]);
    assert_eq!(MAPPING.map(GENERIC_READ | GENERIC_WRITE), FILE_GENERIC_READ | FILE_GENERIC_WRITE);
}

#[test]
fn key_execute_is_key_read() {
    use key::*;
    assert_eq!((KEY_READ.bits(), KEY_WRITE.bits(), KEY_ALL_ACCESS.bits()), (0x0002_0019, 0x0002_0006, 0x000F_003F));
    assert_eq!(mapped(&MAPPING), [0x0002_0019, 0x0002_0006, 0x0002_0019, 0x000F_003F]);
    assert_eq!(MAPPING.map(GENERIC_EXECUTE | MAXIMUM_ALLOWED), KEY_READ | MAXIMUM_ALLOWED);
}

#[test]
fn directory_read_and_execute_are_query_and_traverse() {
    assert_eq!(mapped(&directory::MAPPING), [0x0002_0003, 0x0002_000C, 0x0002_0003, 0x000F_000F]);
}

#[test]
fn access_mask_converts_to_and_from_its_bits() {
    assert_eq!(AccessMask::from(0x0010_0000), SYNCHRONIZE);
    assert_eq!(u32::from(event::EVENT_MODIFY_STATE), 2);
}

#[test]
fn access_mask_formats_in_hex() {
    assert_eq!(format!("{:?}", event::EVENT_ALL_ACCESS), "AccessMask(0x001f0003)");
    assert_eq!(format!("{:#010x} {:X}", key::KEY_READ, key::KEY_READ), "0x00020019 20019");
}

#[test]
fn access_mask_encodes_as_its_u32() {
    for bits in [0, 1, 0x7F, 0x80, 0x001F_0003, 0x8000_0000, u32::MAX] {
        let mask = postcard::to_allocvec(&AccessMask(bits)).expect("encodes");
        let raw = postcard::to_allocvec(&bits).expect("encodes");
        assert_eq!(mask, raw, "{bits:#x}");
        assert_eq!(postcard::from_bytes::<AccessMask>(&raw).expect("decodes"), AccessMask(bits));
    }
    // Inside a message too: an `Option<AccessMask>` field is an `Option<u32>` field.
    let some = postcard::to_allocvec(&(7u8, Some(AccessMask(0x0002_0019)))).expect("encodes");
    assert_eq!(some, postcard::to_allocvec(&(7u8, Some(0x0002_0019u32))).expect("encodes"));
}
