//! `.reg` files from anywhere: parsing never panics, and whatever parses
//! exports and parses back to the same values (for keys the format can name).
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_registry::regfile::{self, Op};

fuzz_target!(|data: &[u8]| {
    let Ok(file) = regfile::parse(data) else { return };
    assert_eq!(file.ops.len(), file.lines.len());
    // Re-export the values set, key by key, and read them back.
    let mut keys: Vec<regfile::ExportKey> = Vec::new();
    for op in &file.ops {
        if let Op::SetValue { key, name, value } = op {
            match keys.iter_mut().find(|(k, _)| k == key) {
                Some((_, values)) if !values.iter().any(|(n, _)| n == name) => {
                    values.push((name.clone(), value.clone()));
                }
                Some(_) => {}
                None => keys.push((key.clone(), vec![(name.clone(), value.clone())])),
            }
        }
    }
    let Ok(bytes) = regfile::export(&keys) else { return };
    let again = regfile::parse(&bytes).expect("an exported file parses");
    let values = again.ops.iter().filter(|op| matches!(op, Op::SetValue { .. })).count();
    let expected: usize = keys.iter().map(|(_, v)| v.len()).sum();
    assert_eq!(values, expected);
});
