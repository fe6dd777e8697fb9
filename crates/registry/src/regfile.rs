//! `.reg` files: parsing REGEDIT5 (UTF-16LE with a byte-order mark, or
//! UTF-8) and REGEDIT4, and writing REGEDIT5.
//!
//! A file is parsed whole before anything is applied: the first error stops
//! it with its line number and reason, and the caller imports nothing.
//! Every value type round-trips exactly: a value whose bytes the quoted or
//! `dword:` forms cannot carry exactly is written as `hex(n):`.
//!
//! ```
//! use switchboard_registry::regfile::{self, Op};
//! let text = "Windows Registry Editor Version 5.00\r\n\r\n[HKEY_CURRENT_USER\\Software\\App]\r\n\"Level\"=dword:00000003\r\n";
//! let file = regfile::parse(text.as_bytes())?;
//! assert!(matches!(&file.ops[1], Op::SetValue { name, .. } if name == "Level"));
//! # Ok::<(), regfile::ParseError>(())
//! ```

use std::fmt::{self, Write as _};

use crate::path::KeyPath;
use crate::value::{REG_DWORD, REG_EXPAND_SZ, REG_MULTI_SZ, REG_SZ, RawValue};

pub use switchboard_types::registry::RootKey;

/// A key path with its predefined root: `HKEY_CURRENT_USER\Software\App`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FullPath {
    /// The predefined key.
    pub root: RootKey,
    /// The path below it.
    pub path: KeyPath,
}

impl FullPath {
    /// Parses `ROOT\path`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (root, rest) = text.split_once('\\').unwrap_or((text, ""));
        let root = RootKey::parse(root).ok_or_else(|| format!("{root:?} is not a predefined key (HKEY_…)"))?;
        let path = KeyPath::parse(rest).map_err(|e| e.message)?;
        Ok(Self { root, path })
    }
}

impl fmt::Display for FullPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_root() {
            f.write_str(self.root.name())
        } else {
            write!(f, "{}\\{}", self.root.name(), self.path)
        }
    }
}

/// One instruction of a `.reg` file, in file order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// `[KEY]`: create the key (and any missing above it).
    CreateKey(FullPath),
    /// `[-KEY]`: delete the key and everything below it.
    DeleteKey(FullPath),
    /// `"name"=data` or `@=data` under the last `[KEY]`.
    SetValue {
        /// The key.
        key: FullPath,
        /// The value's name (`""` for `@`, the default value).
        name: String,
        /// Its type and bytes.
        value: RawValue,
    },
    /// `"name"=-`.
    DeleteValue {
        /// The key.
        key: FullPath,
        /// The value's name.
        name: String,
    },
}

/// Which header the file had.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    /// `Windows Registry Editor Version 5.00`.
    Regedit5,
    /// `REGEDIT4`: strings in `hex(2)`/`hex(7)` are single-byte.
    Regedit4,
}

/// A parsed `.reg` file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegFile {
    /// The header.
    pub version: Version,
    /// The instructions, in order.
    pub ops: Vec<Op>,
    /// The line (from 1) each instruction came from, for errors met while
    /// applying it.
    pub lines: Vec<usize>,
}

/// Why a `.reg` file was refused, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// The line (from 1) where the problem is; 0 for the file as a whole.
    pub line: usize,
    /// The reason.
    pub reason: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 { f.write_str(&self.reason) } else { write!(f, "line {}: {}", self.line, self.reason) }
    }
}

impl std::error::Error for ParseError {}

/// The file's text: UTF-16LE after a byte-order mark, else UTF-8 (with or
/// without its mark).
fn decode(bytes: &[u8]) -> Result<String, ParseError> {
    let whole = |reason: &str| ParseError { line: 0, reason: reason.to_owned() };
    if let Some(rest) = bytes.strip_prefix(&[0xFF, 0xFE]) {
        if !rest.len().is_multiple_of(2) {
            return Err(whole("the UTF-16 text has an odd number of bytes"));
        }
        let units: Vec<u16> = rest.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
        return String::from_utf16(&units).map_err(|_| whole("the text is not valid UTF-16"));
    }
    let bytes = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(bytes);
    String::from_utf8(bytes.to_vec()).map_err(|_| whole("the text is neither UTF-16 with a byte-order mark nor UTF-8"))
}

/// Parses a `.reg` file.
pub fn parse(bytes: &[u8]) -> Result<RegFile, ParseError> {
    let text = decode(bytes)?;
    // Logical lines: a line ending in a backslash goes on (hex data wraps so).
    let mut lines: Vec<(usize, String)> = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    for (i, raw) in text.split('\n').enumerate() {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let (number, mut joined) = match pending.take() {
            Some((n, mut s)) => {
                s.push_str(line.trim_start());
                (n, s)
            }
            None => (i + 1, line.to_owned()),
        };
        let comment = joined.trim_start().starts_with(';');
        if joined.ends_with('\\') && !joined.trim_start().starts_with('[') && !comment {
            joined.pop();
            pending = Some((number, joined));
        } else {
            lines.push((number, joined));
        }
    }
    if let Some(last) = pending {
        lines.push(last);
    }
    let mut lines = lines.into_iter().filter(|(_, l)| !l.trim().is_empty());
    let version = match lines.next() {
        Some((_, header)) if header.trim() == "Windows Registry Editor Version 5.00" => Version::Regedit5,
        Some((_, header)) if header.trim() == "REGEDIT4" => Version::Regedit4,
        Some((n, header)) => {
            return Err(ParseError {
                line: n,
                reason: format!(
                    "{:?} is not a .reg header (\"Windows Registry Editor Version 5.00\" or \"REGEDIT4\")",
                    header.trim()
                ),
            });
        }
        None => return Err(ParseError { line: 0, reason: "the file is empty".into() }),
    };
    let mut ops = Vec::new();
    let mut op_lines = Vec::new();
    let mut current: Option<FullPath> = None;
    for (n, line) in lines {
        let fail = |reason: String| ParseError { line: n, reason };
        let line = line.trim();
        if line.starts_with(';') {
            continue;
        }
        if let Some(inner) = line.strip_prefix('[') {
            let inner = inner.strip_suffix(']').ok_or_else(|| fail("a key line must end with ']'".into()))?;
            if let Some(deleted) = inner.strip_prefix('-') {
                let deleted = served(FullPath::parse(deleted).map_err(fail)?).map_err(fail)?;
                if deleted.path.is_root() {
                    return Err(fail(format!("[-{}] would delete a whole predefined key", deleted.root.name())));
                }
                op_lines.push(n);
                ops.push(Op::DeleteKey(deleted));
                current = None;
            } else {
                let key = served(FullPath::parse(inner).map_err(fail)?).map_err(fail)?;
                op_lines.push(n);
                ops.push(Op::CreateKey(key.clone()));
                current = Some(key);
            }
            continue;
        }
        let key =
            current.clone().ok_or_else(|| fail("a value line before any [KEY] line (or after a [-KEY])".into()))?;
        let (name, rest) = if let Some(rest) = line.strip_prefix('@') {
            (String::new(), rest)
        } else if line.starts_with('"') {
            let (name, used) = quoted(line).map_err(fail)?;
            (name, &line[used..])
        } else {
            return Err(fail(format!("expected \"name\"=, @= or [KEY], found {line:?}")));
        };
        let data =
            rest.trim_start().strip_prefix('=').ok_or_else(|| fail("expected '=' after the value's name".into()))?;
        let data = data.trim();
        op_lines.push(n);
        if data == "-" {
            ops.push(Op::DeleteValue { key, name });
            continue;
        }
        let value = parse_data(data, version).map_err(fail)?;
        ops.push(Op::SetValue { key, name, value });
    }
    Ok(RegFile { version, ops, lines: op_lines })
}

/// Only the predefined keys Switchboard serves may appear in a file, so
/// that a file naming another is refused before anything is applied.
fn served(key: FullPath) -> Result<FullPath, String> {
    match key.root {
        RootKey::CurrentConfig => Err(format!("{} is not served", key.root.name())),
        _ => Ok(key),
    }
}

/// A quoted string at the start of `text` (`\\` and `\"` escaped): the
/// string and how many bytes it took.
fn quoted(text: &str) -> Result<(String, usize), String> {
    let mut out = String::new();
    let mut chars = text.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((out, i + 1)),
            '\\' => match chars.next() {
                Some((_, e @ ('\\' | '"'))) => out.push(e),
                Some((_, 'n')) => out.push('\n'),
                Some((_, 'r')) => out.push('\r'),
                Some((_, 't')) => out.push('\t'),
                Some((_, '0')) => out.push('\0'),
                Some((_, other)) => return Err(format!("unknown escape \\{other} in a quoted string")),
                None => break,
            },
            c => out.push(c),
        }
    }
    Err("a quoted string is not closed".into())
}

fn utf16z(text: &str) -> Vec<u8> {
    text.encode_utf16().chain(std::iter::once(0)).flat_map(u16::to_le_bytes).collect()
}

/// The data after `=`.
fn parse_data(data: &str, version: Version) -> Result<RawValue, String> {
    if data.starts_with('"') {
        let (text, used) = quoted(data)?;
        if !data[used..].trim().is_empty() {
            return Err(format!("unexpected {:?} after the string", &data[used..]));
        }
        return Ok(RawValue { kind: REG_SZ, data: utf16z(&text) });
    }
    if let Some(hex) = data.strip_prefix("dword:") {
        let hex = hex.trim();
        if hex.is_empty() || hex.len() > 8 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(format!("dword:{hex} is not up to 8 hex digits"));
        }
        let v = u32::from_str_radix(hex, 16).map_err(|e| e.to_string())?;
        return Ok(RawValue { kind: REG_DWORD, data: v.to_le_bytes().to_vec() });
    }
    let (kind, bytes) = if let Some(rest) = data.strip_prefix("hex:") {
        (crate::value::REG_BINARY, rest)
    } else if let Some(rest) = data.strip_prefix("hex(") {
        let (kind, bytes) = rest.split_once("):").ok_or_else(|| format!("expected hex(TYPE): in {data:?}"))?;
        let kind = u32::from_str_radix(kind, 16).map_err(|_| format!("hex({kind}) does not name a type in hex"))?;
        (kind, bytes)
    } else {
        return Err(format!("{data:?} is not a value (\"string\", dword:, hex:, hex(n): or -)"));
    };
    let mut out = Vec::new();
    for part in bytes.split(',').map(str::trim) {
        if part.is_empty() && out.is_empty() && bytes.trim().is_empty() {
            break;
        }
        if part.len() != 2 || !part.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(format!("{part:?} is not a byte in hex"));
        }
        out.push(u8::from_str_radix(part, 16).map_err(|e| e.to_string())?);
    }
    if version == Version::Regedit4 && (kind == REG_EXPAND_SZ || kind == REG_MULTI_SZ) {
        // REGEDIT4 wrote these strings one byte per character.
        out = out.iter().flat_map(|&b| u16::from(b).to_le_bytes()).collect();
    }
    Ok(RawValue { kind, data: out })
}

/// The text of a quoted string, escaped.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '\\' | '"' => {
                out.push('\\');
                out.push(c);
            }
            // A line break would end the line: escaped (the parser reads these).
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The string a `REG_SZ` value's bytes hold, if the quoted form carries them
/// exactly: UTF-16, one terminating NUL, none inside, no line breaks.
fn exact_string(data: &[u8]) -> Option<String> {
    if data.len() < 2 || !data.len().is_multiple_of(2) {
        return None;
    }
    let units: Vec<u16> = data.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
    let (&last, body) = units.split_last()?;
    if last != 0 || body.contains(&0) {
        return None;
    }
    let text = String::from_utf16(body).ok()?;
    (!text.contains(['\r', '\n'])).then_some(text)
}

/// `hex(n):` data wrapped the way regedit wraps it: lines of at most 80
/// columns, continued with a backslash and two spaces.
fn hex_lines(prefix: &str, data: &[u8]) -> String {
    let mut out = prefix.to_owned();
    let mut column = out.len();
    for (i, b) in data.iter().enumerate() {
        let last = i + 1 == data.len();
        let piece = if last { format!("{b:02x}") } else { format!("{b:02x},") };
        if column + piece.len() > 77 && !last {
            out.push_str("\\\r\n  ");
            column = 2;
        }
        out.push_str(&piece);
        column += piece.len();
    }
    out
}

/// One `name=data` line (with its CRLF).
fn value_line(name: &str, value: &RawValue) -> String {
    let name = if name.is_empty() { "@".to_owned() } else { escape(name) };
    let prefix = format!("{name}=");
    let body = match value.kind {
        REG_SZ => exact_string(&value.data).map(|s| format!("{prefix}{}", escape(&s))),
        REG_DWORD => <[u8; 4]>::try_from(value.data.as_slice())
            .ok()
            .map(|b| format!("{prefix}dword:{:08x}", u32::from_le_bytes(b))),
        crate::value::REG_BINARY => Some(hex_lines(&format!("{prefix}hex:"), &value.data)),
        _ => None,
    };
    let body = body.unwrap_or_else(|| hex_lines(&format!("{prefix}hex({:x}):", value.kind), &value.data));
    format!("{body}\r\n")
}

/// A key to export: its full path and values, keys in the order given
/// (parents before children, as a depth-first walk gives them).
pub type ExportKey = (FullPath, Vec<(String, RawValue)>);

/// Writes keys as a REGEDIT5 file: UTF-16LE with a byte-order mark, CRLF
/// line ends. A key whose name holds a line break or a `]` cannot be
/// written in this format: that is an error naming it.
pub fn export(keys: &[ExportKey]) -> Result<Vec<u8>, String> {
    let mut text = String::from("Windows Registry Editor Version 5.00\r\n");
    for (key, values) in keys {
        let shown = key.to_string();
        if shown.contains(['\r', '\n', ']']) {
            return Err(format!("{shown:?}: a key name with a line break or ']' cannot be written to a .reg file"));
        }
        let _ = write!(text, "\r\n[{key}]\r\n");
        for (name, value) in values {
            text.push_str(&value_line(name, value));
        }
    }
    text.push_str("\r\n");
    let mut out = vec![0xFF, 0xFE];
    out.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::{REG_BINARY, REG_QWORD, RegValue};

    fn key(text: &str) -> FullPath {
        FullPath::parse(text).unwrap()
    }

    #[test]
    fn every_value_type_round_trips_exactly_through_export_and_parse() {
        let values = vec![
            (String::new(), RegValue::Sz("default \"quoted\" \\ back".into()).to_raw()),
            ("sz".into(), RegValue::Sz("plain".into()).to_raw()),
            ("sz with NUL inside".into(), RawValue { kind: REG_SZ, data: vec![b'a', 0, 0, 0, b'b', 0, 0, 0] }),
            ("sz without NUL".into(), RawValue { kind: REG_SZ, data: vec![b'a', 0] }),
            ("sz with line break".into(), RegValue::Sz("two\r\nlines".into()).to_raw()),
            ("expand".into(), RegValue::ExpandSz("%PATH%;x".into()).to_raw()),
            ("multi".into(), RegValue::MultiSz(vec!["a".into(), "bé".into()]).to_raw()),
            ("dword".into(), RegValue::Dword(0xDEAD_BEEF).to_raw()),
            ("odd dword".into(), RawValue { kind: REG_DWORD, data: vec![1, 2] }),
            ("big endian".into(), RegValue::DwordBigEndian(5).to_raw()),
            ("qword".into(), RawValue { kind: REG_QWORD, data: u64::MAX.to_le_bytes().to_vec() }),
            ("binary, long".into(), RawValue { kind: REG_BINARY, data: (0..=255).collect() }),
            ("empty binary".into(), RawValue { kind: REG_BINARY, data: vec![] }),
            ("none".into(), RawValue { kind: 0, data: vec![7] }),
            ("unknown type".into(), RawValue { kind: 0xABCD, data: vec![1, 2, 3] }),
            ("name \"with\" \\ quotes".into(), RegValue::Dword(1).to_raw()),
        ];
        let keys = vec![
            (key(r"HKEY_CURRENT_USER\Software\App"), values.clone()),
            (key(r"HKEY_CURRENT_USER\Software\App\Empty"), vec![]),
        ];
        let bytes = export(&keys).unwrap();
        assert_eq!(&bytes[..2], &[0xFF, 0xFE], "UTF-16LE with a byte-order mark");
        let file = parse(&bytes).unwrap();
        assert_eq!(file.version, Version::Regedit5);
        let mut expected = vec![Op::CreateKey(keys[0].0.clone())];
        expected.extend(values.into_iter().map(|(name, value)| Op::SetValue { key: keys[0].0.clone(), name, value }));
        expected.push(Op::CreateKey(keys[1].0.clone()));
        assert_eq!(file.ops, expected);
    }

    #[test]
    fn regedit4_and_utf8_files_with_deletions_parse() {
        let text = "REGEDIT4\n\n; a comment\n[-HKEY_LOCAL_MACHINE\\Software\\Old]\n[HKEY_LOCAL_MACHINE\\Software\\New]\n\"gone\"=-\n\"path\"=hex(2):25,50,41,\\\n  54,48,25,00\n@=\"é\"\n";
        let file = parse(text.as_bytes()).unwrap();
        assert_eq!(file.version, Version::Regedit4);
        let new = key(r"HKEY_LOCAL_MACHINE\Software\New");
        assert_eq!(
            file.ops,
            [
                Op::DeleteKey(key(r"HKEY_LOCAL_MACHINE\Software\Old")),
                Op::CreateKey(new.clone()),
                Op::DeleteValue { key: new.clone(), name: "gone".into() },
                Op::SetValue {
                    key: new.clone(),
                    name: "path".into(),
                    value: RegValue::ExpandSz("%PATH%".into()).to_raw()
                },
                Op::SetValue { key: new, name: String::new(), value: RegValue::Sz("é".into()).to_raw() },
            ]
        );
    }

    #[test]
    fn errors_name_their_line_and_reason() {
        let cases = [
            ("", 0, "empty"),
            ("REGEDIT3\n", 1, "not a .reg header"),
            ("REGEDIT4\n\"v\"=dword:1\n", 2, "before any [KEY]"),
            ("REGEDIT4\n[HKEY_NOWHERE\\X]\n", 2, "not a predefined key"),
            ("REGEDIT4\n[HKEY_CURRENT_USER\\X]\n\"v\"=dword:123456789\n", 3, "8 hex digits"),
            ("REGEDIT4\n[HKEY_CURRENT_USER\\X]\n\n\"v\"=hex:1,2\n", 4, "not a byte"),
            ("REGEDIT4\n[HKEY_CURRENT_USER\\X]\n\"v=1\n", 3, "not closed"),
            ("REGEDIT4\n[HKEY_CURRENT_USER\\X\n", 2, "end with ']'"),
            ("REGEDIT4\n[HKEY_CURRENT_USER\\X]\nv=1\n", 3, "expected"),
            ("REGEDIT4\n[-HKEY_CURRENT_USER]\n", 2, "whole predefined key"),
            ("REGEDIT4\n[HKEY_CURRENT_CONFIG\\X]\n", 2, "not served"),
        ];
        for (text, line, reason) in cases {
            let err = parse(text.as_bytes()).unwrap_err();
            assert_eq!(err.line, line, "{text:?}: {err}");
            assert!(err.reason.contains(reason), "{text:?}: {err}");
        }
    }

    proptest::proptest! {
        #[test]
        fn any_value_round_trips(
            name in "(?s).{0,20}",
            kind in proptest::prop_oneof![0u32..12, proptest::num::u32::ANY],
            data in proptest::collection::vec(proptest::num::u8::ANY, 0..300),
            text in "[^\\r\\n]{0,40}",
        ) {
            let k = key(r"HKEY_LOCAL_MACHINE\Software\P");
            let values = vec![(name.clone(), RawValue { kind, data }), (format!("{name}2"), RegValue::Sz(text).to_raw())];
            let file = parse(&export(&[(k.clone(), values.clone())]).unwrap()).unwrap();
            let mut expected = vec![Op::CreateKey(k.clone())];
            expected.extend(values.into_iter().map(|(name, value)| Op::SetValue { key: k.clone(), name, value }));
            proptest::prop_assert_eq!(file.ops, expected);
        }
    }

    #[test]
    fn a_comment_ending_in_a_backslash_does_not_swallow_the_next_line_and_ops_know_their_lines() {
        let text = "REGEDIT4\n; see C:\\\n[HKEY_CURRENT_USER\\X]\n\"v\"=dword:1\n";
        let file = parse(text.as_bytes()).unwrap();
        assert_eq!(file.ops.len(), 2);
        assert_eq!(file.lines, [3, 4]);
    }

    #[test]
    fn root_keys_parse_in_full_or_short() {
        assert_eq!(RootKey::parse("hkey_local_machine"), Some(RootKey::LocalMachine));
        assert_eq!(RootKey::parse("HKCU"), Some(RootKey::CurrentUser));
        assert_eq!(RootKey::parse("HKXX"), None);
        assert_eq!(key("HKU").to_string(), "HKEY_USERS");
    }
}
