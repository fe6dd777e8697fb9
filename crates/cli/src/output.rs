//! Writing results: aligned plain-text tables and key/value blocks for
//! people, one JSON value for programs.

use std::io::Write;

use serde::Serialize;
use switchboard::{AccessMask, Error, ErrorKind, Win32Error};

/// Writes text to stdout and flushes it. A closed pipe (`switchboard ls |
/// head -1`) is not an error worth reporting; anything else is said once on
/// stderr.
pub fn print(text: &str) {
    match write_stdout(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            eprintln!("switchboard: cannot write to stdout: {e}");
        }
        _ => {}
    }
}

/// Writes bytes to stdout and flushes them: for data (what a pipe carries),
/// where the caller decides what a failure means.
pub fn write_stdout(data: &[u8]) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(data).and_then(|()| out.flush())
}

/// Writes one JSON value and a newline to stdout.
pub fn print_json<T: Serialize + ?Sized>(value: &T) -> Result<(), Error> {
    let mut text = serde_json::to_string_pretty(value).map_err(|e| {
        Error::new(ErrorKind::Protocol, Win32Error::ERROR_INVALID_DATA, "WriteJson", None, e.to_string())
    })?;
    text.push('\n');
    print(&text);
    Ok(())
}

/// An access mask as `0x%08x`.
pub fn mask(access: AccessMask) -> String {
    format!("{access:#010x}")
}

/// Columns padded to their widest cell, two spaces apart; the last column is
/// not padded, so lines carry no trailing blanks.
#[derive(Debug)]
pub struct Table {
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column headings.
    pub fn new(headings: &[&str]) -> Self {
        Self { rows: vec![headings.iter().map(|h| (*h).to_owned()).collect()] }
    }

    /// A table without a heading row.
    pub fn bare() -> Self {
        Self { rows: Vec::new() }
    }

    /// Appends a row.
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// The table as lines of text, each ending in a newline.
    pub fn render(&self) -> String {
        let columns = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        let widths: Vec<usize> = (0..columns)
            .map(|c| self.rows.iter().filter_map(|r| r.get(c)).map(|s| s.chars().count()).max().unwrap_or(0))
            .collect();
        let mut text = String::new();
        for row in &self.rows {
            let mut line = String::new();
            for (c, cell) in row.iter().enumerate() {
                if c > 0 {
                    line.push_str("  ");
                }
                line.push_str(cell);
                if c + 1 < row.len() {
                    line.extend(std::iter::repeat_n(' ', widths[c] - cell.chars().count()));
                }
            }
            text.push_str(line.trim_end());
            text.push('\n');
        }
        text
    }
}

/// `key  value` lines with the values aligned.
pub fn key_values(pairs: &[(&str, String)]) -> String {
    let mut table = Table::bare();
    for (key, value) in pairs {
        table.row(vec![(*key).to_owned(), value.clone()]);
    }
    table.render()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_pads_every_column_but_the_last() {
        let mut t = Table::new(&["NAME", "KIND", "HANDLES"]);
        t.row(vec!["Global".into(), "SymbolicLink".into(), "0".into(), "-> \\BaseNamedObjects".into()]);
        t.row(vec!["E".into(), "Event".into(), "12".into()]);
        assert_eq!(
            t.render(),
            "NAME    KIND          HANDLES\nGlobal  SymbolicLink  0        -> \\BaseNamedObjects\nE       Event         12\n"
        );
    }

    #[test]
    fn empty_cells_leave_no_trailing_blanks() {
        let mut t = Table::bare();
        t.row(vec!["a".into(), String::new()]);
        t.row(vec!["bbb".into(), "c".into()]);
        assert_eq!(t.render(), "a\nbbb  c\n");
    }

    #[test]
    fn key_values_align_values() {
        assert_eq!(key_values(&[("pid", "1".into()), ("version", "0.1.0".into())]), "pid      1\nversion  0.1.0\n");
    }

    #[test]
    fn masks_print_as_eight_hex_digits() {
        assert_eq!(mask(AccessMask(0x1F_0003)), "0x001f0003");
        assert_eq!(mask(AccessMask(0)), "0x00000000");
    }
}
