//! The registry: a durable set and a get through the broker, beside a raw
//! redb write transaction (committed, durable) and read transaction on a
//! file of the same directory, in the same run.

use std::path::Path;
use std::time::Instant;

use redb::{Database, ReadableDatabase, TableDefinition};
use switchboard::Connection;
use switchboard::registry::{CreateOptions, RegKey, RegValue, RootKey};

use crate::{Row, measure};

const TABLE: TableDefinition<&str, &[u8]> = TableDefinition::new("values");

/// Two rows: set (durable) and get.
pub(crate) fn rows(conn: &Connection, dir: &Path, n: usize) -> Vec<Row> {
    let key = RegKey::create(conn, RootKey::CurrentUser, r"Software\Bench", &CreateOptions::new()).expect("key").object;
    let db = Database::create(dir.join("raw.redb")).expect("raw redb");
    let value = RegValue::Dword(7);
    let bytes = value.to_raw().data;
    let mut i = 0u32;
    let ours_set = measure(n, &mut || {
        i = i.wrapping_add(1);
        let start = Instant::now();
        key.set_value("v", &RegValue::Dword(i)).expect("set");
        start.elapsed()
    });
    let raw_set = measure(n, &mut || {
        let start = Instant::now();
        let write = db.begin_write().expect("write");
        write.open_table(TABLE).expect("table").insert("v", bytes.as_slice()).expect("insert");
        write.commit().expect("commit");
        start.elapsed()
    });
    let ours_get = measure(n * 10, &mut || {
        let start = Instant::now();
        std::hint::black_box(key.value("v").expect("get"));
        start.elapsed()
    });
    let raw_get = measure(n * 10, &mut || {
        let start = Instant::now();
        let read = db.begin_read().expect("read");
        let table = read.open_table(TABLE).expect("table");
        std::hint::black_box(table.get("v").expect("get").map(|v| v.value().to_vec()));
        start.elapsed()
    });
    vec![
        Row {
            what: "registry set value, durable (RegSetValueEx)".into(),
            ours: ours_set,
            baseline_name: "raw redb write transaction + commit".into(),
            baseline: raw_set,
        },
        Row {
            what: "registry get value (RegQueryValueEx)".into(),
            ours: ours_get,
            baseline_name: "raw redb read transaction, in-process".into(),
            baseline: raw_get,
        },
    ]
}
