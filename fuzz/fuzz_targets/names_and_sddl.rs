//! Names and SDDL, parsed at the edge from untrusted text. Must never panic,
//! and what parses must format back to something that parses the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_types::security::{SecurityDescriptor, Sid};
use switchboard_types::{AtomKey, NamespacePath, ObjectName};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = ObjectName::parse(text);
    let _ = NamespacePath::parse(text);
    let _ = AtomKey::parse(text);
    if let Ok(sd) = SecurityDescriptor::parse_sddl(text, &Sid::World) {
        let again = SecurityDescriptor::parse_sddl(&sd.to_sddl(), &Sid::World).expect("formatted SDDL parses");
        assert_eq!(again, sd);
    }
});
