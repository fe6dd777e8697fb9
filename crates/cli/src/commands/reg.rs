//! `reg query|add|delete|export|import`: the registry from the shell, as
//! `reg.exe` has it. Options may be written `/v` as `reg.exe` does, or `--v`.

// The doc comments below are `--help` text: type names such as REG_SZ read
// as reg.exe prints them, without backticks.
#![allow(clippy::doc_markdown)]

use std::fmt::Write as _;
use std::io::IsTerminal;
use std::path::PathBuf;

use clap::Subcommand;
use serde::Serialize;
use switchboard::registry::access::{KEY_QUERY_VALUE, KEY_READ, KEY_SET_VALUE, KEY_WRITE};
use switchboard::registry::{
    CreateOptions, REG_BINARY, REG_DWORD, REG_DWORD_BIG_ENDIAN, REG_EXPAND_SZ, REG_MULTI_SZ, REG_NONE, REG_QWORD,
    REG_SZ, RawValue, RegKey, RegValue, RootKey, type_name,
};
use switchboard::{Connection, Error, ErrorKind, Result, Win32Error};
use switchboard_registry::KeyPath;
use switchboard_registry::regfile::{self, FullPath, Op};

use super::{Ctx, Done};

/// Registry commands.
#[derive(Debug, Subcommand)]
pub enum RegCommand {
    /// Show a key's values and subkeys (`/s`: and everything below).
    ///
    /// KEY is `ROOT\path`, with ROOT one of HKLM, HKCU, HKU or the full
    /// HKEY_… names. Never starts a broker.
    Query {
        /// The key.
        key: String,
        /// Only this value.
        #[arg(long = "v", value_name = "NAME", conflicts_with = "ve")]
        v: Option<String>,
        /// Only the default value.
        #[arg(long = "ve")]
        ve: bool,
        /// Every key below too.
        #[arg(long = "s")]
        s: bool,
    },
    /// Create a key, and set a value in it with /v (or /ve) /t /d.
    ///
    /// An existing value is replaced only with /f (else exit 7). DATA is
    /// read by TYPE: text for REG_SZ and REG_EXPAND_SZ; items separated by
    /// `\0` (or /se) for REG_MULTI_SZ; a number, decimal or 0x hex, for
    /// REG_DWORD and REG_QWORD; hex digits for REG_BINARY and REG_NONE.
    /// Starts a broker if none is running.
    Add {
        /// The key.
        key: String,
        /// The value's name.
        #[arg(long = "v", value_name = "NAME", conflicts_with = "ve")]
        v: Option<String>,
        /// The default value.
        #[arg(long = "ve")]
        ve: bool,
        /// The value's type (REG_SZ by default).
        #[arg(long = "t", value_name = "TYPE", default_value = "REG_SZ")]
        t: String,
        /// The value's data.
        #[arg(long = "d", value_name = "DATA", default_value = "")]
        d: String,
        /// The REG_MULTI_SZ separator.
        #[arg(long = "se", value_name = "SEP", default_value = "\\0")]
        se: String,
        /// Replace an existing value.
        #[arg(long = "f")]
        f: bool,
    },
    /// Delete a key and everything below it, or one value (/v, /ve), or
    /// every value (/va). Needs /f (there is no prompt). Never starts a broker.
    Delete {
        /// The key.
        key: String,
        /// Only this value.
        #[arg(long = "v", value_name = "NAME", conflicts_with_all = ["ve", "va"])]
        v: Option<String>,
        /// Only the default value.
        #[arg(long = "ve", conflicts_with = "va")]
        ve: bool,
        /// Every value of the key, but not the key.
        #[arg(long = "va")]
        va: bool,
        /// Do it (the command asks for no confirmation).
        #[arg(long = "f")]
        f: bool,
    },
    /// Write a key and everything below it to a REGEDIT5 `.reg` file
    /// (UTF-16LE). An existing file is replaced only with /y (else exit 7).
    Export {
        /// The key.
        key: String,
        /// The file.
        file: PathBuf,
        /// Replace an existing file.
        #[arg(long = "y")]
        y: bool,
    },
    /// Apply a `.reg` file (REGEDIT5 in UTF-16 or UTF-8, or REGEDIT4). A file
    /// with an error is reported with its line and reason, and nothing of it
    /// is applied. Starts a broker if none is running.
    Import {
        /// The file.
        file: PathBuf,
    },
}

/// Turns `reg.exe`'s `/v` style into `--v` for the `reg` subcommand, leaving
/// the data of `/d`, `/v`, `/t` and `/se` alone.
pub fn rewrite_args(args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    const FLAGS: [&str; 9] = ["v", "ve", "va", "t", "d", "f", "s", "se", "y"];
    const TAKE_VALUE: [&str; 4] = ["v", "t", "d", "se"];
    let Some(at) = args.iter().position(|a| a == "reg") else { return args };
    let mut out: Vec<std::ffi::OsString> = args[..=at].to_vec();
    let mut value_next = false;
    for arg in &args[at + 1..] {
        let text = arg.to_str().unwrap_or("");
        let flag = text.strip_prefix('/').map(str::to_ascii_lowercase).filter(|f| FLAGS.contains(&f.as_str()));
        match flag {
            Some(f) if !value_next => {
                value_next = TAKE_VALUE.contains(&f.as_str());
                out.push(format!("--{f}").into());
            }
            _ => {
                value_next = false;
                out.push(arg.clone());
            }
        }
    }
    out
}

fn usage(op: &'static str, object: &str, reason: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidArgument, Win32Error::ERROR_INVALID_PARAMETER, op, Some(object), reason)
}

/// `HKCU\Software\App` → the root and the path below it.
fn split_key(op: &'static str, key: &str) -> Result<(RootKey, String)> {
    let full = FullPath::parse(key).map_err(|why| usage(op, key, why))?;
    Ok((full.root, full.path.to_string()))
}

/// Runs a registry command.
pub fn run(ctx: &Ctx, command: RegCommand) -> Result<Done> {
    match command {
        RegCommand::Query { key, v, ve, s } => {
            let name = if ve { Some(String::new()) } else { v };
            query(ctx, &key, name.as_deref(), s)
        }
        RegCommand::Add { key, v, ve, t, d, se, f } => {
            let name = if ve { Some(String::new()) } else { v };
            add(ctx, &key, name.as_deref(), &t, &d, &se, f)
        }
        RegCommand::Delete { key, v, ve, va, f } => {
            let name = if ve { Some(String::new()) } else { v };
            delete(ctx, &key, name.as_deref(), va, f)
        }
        RegCommand::Export { key, file, y } => export(ctx, &key, &file, y),
        RegCommand::Import { file } => import(ctx, &file),
    }
}

// ---------------------------------------------------------------- query

#[derive(Serialize)]
struct ValueJson {
    name: String,
    #[serde(rename = "type")]
    kind: String,
    data: serde_json::Value,
}

#[derive(Serialize)]
struct KeyJson {
    key: String,
    values: Vec<ValueJson>,
    subkeys: Vec<KeyJson>,
}

/// The data as `reg query` prints it.
fn data_text(raw: &RawValue) -> String {
    match RegValue::from_raw(raw) {
        RegValue::Sz(s) | RegValue::ExpandSz(s) => s,
        RegValue::MultiSz(list) => list.join("\\0"),
        RegValue::Dword(v) | RegValue::DwordBigEndian(v) => format!("0x{v:x}"),
        RegValue::Qword(v) => format!("0x{v:x}"),
        RegValue::None(b) | RegValue::Binary(b) | RegValue::Other(RawValue { data: b, .. }) => hex(&b),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
        let _ = write!(out, "{b:02X}");
        out
    })
}

fn data_json(raw: &RawValue) -> serde_json::Value {
    match RegValue::from_raw(raw) {
        RegValue::Sz(s) | RegValue::ExpandSz(s) => s.into(),
        RegValue::MultiSz(list) => list.into(),
        RegValue::Dword(v) | RegValue::DwordBigEndian(v) => v.into(),
        RegValue::Qword(v) => v.into(),
        RegValue::None(b) | RegValue::Binary(b) | RegValue::Other(RawValue { data: b, .. }) => hex(&b).into(),
    }
}

fn value_json(name: &str, raw: &RawValue) -> ValueJson {
    ValueJson { name: name.to_owned(), kind: type_name(raw.kind), data: data_json(raw) }
}

fn value_line(name: &str, raw: &RawValue) -> String {
    let shown = if name.is_empty() { "(Default)" } else { name };
    format!("    {shown}    {}    {}\n", type_name(raw.kind), data_text(raw))
}

/// A key, its values and (with `deep`) everything below it.
fn walk(key: &RegKey, deep: bool) -> Result<KeyJson> {
    let values = key.values()?.iter().map(|(n, v)| value_json(n, v)).collect();
    let mut subkeys = Vec::new();
    for name in key.subkeys()? {
        let child = key.open_subkey(&name, KEY_READ)?;
        subkeys.push(if deep {
            walk(&child, true)?
        } else {
            KeyJson { key: child.path().to_owned(), values: Vec::new(), subkeys: Vec::new() }
        });
    }
    Ok(KeyJson { key: key.path().to_owned(), values, subkeys })
}

fn key_text(key: &KeyJson, deep: bool, out: &mut String) {
    out.push_str(&key.key);
    out.push('\n');
    for v in &key.values {
        let shown = if v.name.is_empty() { "(Default)" } else { v.name.as_str() };
        let data = match &v.data {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Array(items) => {
                items.iter().filter_map(serde_json::Value::as_str).collect::<Vec<_>>().join("\\0")
            }
            serde_json::Value::Number(n) => format!("0x{:x}", n.as_u64().unwrap_or(0)),
            other => other.to_string(),
        };
        let _ = writeln!(out, "    {shown}    {}    {data}", v.kind);
    }
    out.push('\n');
    for sub in &key.subkeys {
        if deep {
            key_text(sub, true, out);
        } else {
            out.push_str(&sub.key);
            out.push('\n');
        }
    }
}

fn query(ctx: &Ctx, key: &str, name: Option<&str>, deep: bool) -> Result<Done> {
    let (root, path) = split_key("RegOpenKeyEx", key)?;
    let conn = ctx.connect_existing()?;
    let opened = RegKey::open(&conn, root, &path, KEY_READ)?;
    if let Some(asked) = name {
        let raw = opened.raw_value(asked)?;
        // Shown as stored: names keep their case, whatever case was asked.
        let stored = opened
            .values()?
            .into_iter()
            .map(|(n, _)| n)
            .find(|n| switchboard_registry::path::fold_name(n) == switchboard_registry::path::fold_name(asked));
        let name = stored.as_deref().unwrap_or(asked);
        let json = value_json(name, &raw);
        return ctx.emit(&json, || format!("{}\n{}\n", opened.path(), value_line(name, &raw))).map(|()| Done::Ok);
    }
    let tree = walk(&opened, deep)?;
    ctx.emit(&tree, || {
        let mut text = String::new();
        key_text(&tree, deep, &mut text);
        text
    })?;
    Ok(Done::Ok)
}

// ---------------------------------------------------------------- add

fn parse_type(op: &'static str, key: &str, text: &str) -> Result<u32> {
    let upper = text.to_ascii_uppercase();
    let known = [
        ("REG_SZ", REG_SZ),
        ("REG_EXPAND_SZ", REG_EXPAND_SZ),
        ("REG_MULTI_SZ", REG_MULTI_SZ),
        ("REG_DWORD", REG_DWORD),
        ("REG_DWORD_BIG_ENDIAN", REG_DWORD_BIG_ENDIAN),
        ("REG_QWORD", REG_QWORD),
        ("REG_BINARY", REG_BINARY),
        ("REG_NONE", REG_NONE),
    ];
    known.iter().find(|(n, _)| *n == upper).map(|&(_, k)| k).ok_or_else(|| {
        usage(op, key, format!("{text:?} is not a type (REG_SZ, REG_EXPAND_SZ, REG_MULTI_SZ, REG_DWORD, REG_QWORD, REG_BINARY, REG_NONE)"))
    })
}

fn parse_number(text: &str) -> Option<u64> {
    let text = text.trim();
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

fn parse_hex(text: &str) -> Option<Vec<u8>> {
    let digits: Vec<char> = text.chars().filter(|c| !c.is_whitespace()).collect();
    if !digits.len().is_multiple_of(2) {
        return None;
    }
    digits.chunks(2).map(|p| u8::from_str_radix(&p.iter().collect::<String>(), 16).ok()).collect()
}

fn value_of(op: &'static str, key: &str, kind: u32, data: &str, separator: &str) -> Result<RawValue> {
    let bad = |what: &str| usage(op, key, format!("{data:?} is not {what}"));
    Ok(match kind {
        REG_SZ => RegValue::Sz(data.to_owned()).to_raw(),
        REG_EXPAND_SZ => RegValue::ExpandSz(data.to_owned()).to_raw(),
        REG_MULTI_SZ => RegValue::MultiSz(if data.is_empty() {
            Vec::new()
        } else {
            data.split(separator).map(str::to_owned).collect()
        })
        .to_raw(),
        REG_DWORD | REG_DWORD_BIG_ENDIAN => {
            let n = parse_number(if data.is_empty() { "0" } else { data })
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| bad("a 32-bit number"))?;
            if kind == REG_DWORD { RegValue::Dword(n) } else { RegValue::DwordBigEndian(n) }.to_raw()
        }
        REG_QWORD => RegValue::Qword(
            parse_number(if data.is_empty() { "0" } else { data }).ok_or_else(|| bad("a 64-bit number"))?,
        )
        .to_raw(),
        _ => RawValue { kind, data: parse_hex(data).ok_or_else(|| bad("hex digits"))? },
    })
}

#[derive(Serialize)]
struct Added<'a> {
    key: &'a str,
    created: bool,
    value: Option<&'a str>,
}

fn add(ctx: &Ctx, key: &str, name: Option<&str>, kind: &str, data: &str, separator: &str, force: bool) -> Result<Done> {
    let op = "RegSetValueEx";
    let (root, path) = split_key("RegCreateKeyEx", key)?;
    let value = match name {
        Some(_) => Some(value_of(op, key, parse_type(op, key, kind)?, data, separator)?),
        None => None,
    };
    let conn = ctx.connect()?;
    let created = RegKey::create(&conn, root, &path, &CreateOptions::new().access(KEY_WRITE | KEY_QUERY_VALUE))?;
    let opened = created.object;
    if let (Some(name), Some(value)) = (name, value) {
        if !force && opened.raw_value(name).is_ok() {
            return Err(Error::new(
                ErrorKind::Refused,
                Win32Error::ERROR_ALREADY_EXISTS,
                op,
                Some(opened.path()),
                format!("value {name:?} exists; /f replaces it"),
            ));
        }
        opened.set_raw(name, value)?;
    }
    let json = Added { key: opened.path(), created: !created.already_existed, value: name };
    ctx.emit(&json, || "The operation completed successfully.\n".to_owned())?;
    Ok(Done::Ok)
}

// ---------------------------------------------------------------- delete

fn delete(ctx: &Ctx, key: &str, name: Option<&str>, all_values: bool, force: bool) -> Result<Done> {
    let (root, path) = split_key("RegDeleteKey", key)?;
    if !force {
        return Err(usage("RegDeleteKey", key, "deleting needs /f (there is no prompt)"));
    }
    if name.is_none() && !all_values && path.is_empty() {
        return Err(usage("RegDeleteKey", key, "this would delete a whole predefined key"));
    }
    let conn = ctx.connect_existing()?;
    match (name, all_values) {
        (Some(name), _) => RegKey::open(&conn, root, &path, KEY_SET_VALUE)?.delete_value(name)?,
        (None, true) => {
            let opened = RegKey::open(&conn, root, &path, KEY_SET_VALUE | KEY_QUERY_VALUE)?;
            for (name, _) in opened.values()? {
                opened.delete_value(&name)?;
            }
        }
        (None, false) => RegKey::delete(&conn, root, &path, true)?,
    }
    ctx.emit(&serde_json::json!({ "deleted": key, "value": name }), || {
        "The operation completed successfully.\n".to_owned()
    })?;
    Ok(Done::Ok)
}

// ---------------------------------------------------------------- export / import

/// Shows `done of total` on stderr while a long job runs at a terminal.
struct Progress {
    what: &'static str,
    shown: bool,
}

impl Progress {
    fn new(what: &'static str) -> Self {
        Self { what, shown: false }
    }

    fn tick(&mut self, done: usize, total: Option<usize>) {
        if !done.is_multiple_of(256) || !std::io::stderr().is_terminal() {
            return;
        }
        self.shown = true;
        match total {
            Some(total) => eprint!("\r{} {done} of {total}", self.what),
            None => eprint!("\r{} {done}", self.what),
        }
    }

    fn finish(&self) {
        if self.shown {
            eprintln!();
        }
    }
}

fn export(ctx: &Ctx, key: &str, file: &std::path::Path, overwrite: bool) -> Result<Done> {
    let op = "RegSaveKey";
    let (root, path) = split_key(op, key)?;
    if file.exists() && !overwrite {
        return Err(Error::new(
            ErrorKind::Refused,
            Win32Error::ERROR_ALREADY_EXISTS,
            op,
            Some(&file.display().to_string()),
            "the file exists; /y replaces it",
        ));
    }
    let conn = ctx.connect_existing()?;
    let start = RegKey::open(&conn, root, &path, KEY_READ)?;
    let mut keys: Vec<regfile::ExportKey> = Vec::new();
    let mut pending = vec![(start, KeyPath::parse(&path).map_err(|e| usage(op, key, e.message))?)];
    let mut progress = Progress::new("exported keys:");
    while let Some((opened, at)) = pending.pop() {
        let values = opened.values()?;
        let names = opened.subkeys()?;
        for name in names.iter().rev() {
            let child = opened.open_subkey(name, KEY_READ)?;
            pending.push((child, at.child(name).map_err(|e| usage(op, key, e.message))?));
        }
        keys.push((FullPath { root, path: at }, values));
        progress.tick(keys.len(), None);
    }
    progress.finish();
    let bytes = regfile::export(&keys).map_err(|why| usage(op, key, why))?;
    std::fs::write(file, &bytes).map_err(|e| {
        Error::new(
            ErrorKind::Refused,
            Win32Error::ERROR_WRITE_FAULT,
            op,
            Some(&file.display().to_string()),
            e.to_string(),
        )
    })?;
    ctx.emit(&serde_json::json!({ "key": key, "file": file, "keys": keys.len() }), || {
        format!("exported {} keys to {}\n", keys.len(), file.display())
    })?;
    Ok(Done::Ok)
}

fn import(ctx: &Ctx, file: &std::path::Path) -> Result<Done> {
    let op = "RegRestoreKey";
    let shown = file.display().to_string();
    let bytes = std::fs::read(file).map_err(|e| {
        Error::new(ErrorKind::InvalidArgument, Win32Error::ERROR_FILE_NOT_FOUND, op, Some(&shown), e.to_string())
    })?;
    let parsed = regfile::parse(&bytes).map_err(|e| {
        Error::new(
            ErrorKind::InvalidArgument,
            Win32Error::ERROR_BADDB,
            op,
            Some(&shown),
            format!("{e}; nothing was imported"),
        )
    })?;
    let conn = ctx.connect()?;
    let total = parsed.ops.len();
    let mut progress = Progress::new("imported:");
    for (i, (op_, line)) in parsed.ops.into_iter().zip(parsed.lines).enumerate() {
        apply(&conn, op_).map_err(|e| {
            Error::new(
                ErrorKind::Refused,
                e.win32_error(),
                op,
                Some(&shown),
                format!("line {line}: {} (the {i} operations before it were applied)", e.reason()),
            )
        })?;
        progress.tick(i + 1, Some(total));
    }
    progress.finish();
    ctx.emit(&serde_json::json!({ "file": file, "operations": total }), || {
        format!("imported {total} operations from {shown}\n")
    })?;
    Ok(Done::Ok)
}

fn apply(conn: &Connection, op: Op) -> Result<()> {
    match op {
        Op::CreateKey(key) => {
            RegKey::create(conn, key.root, &key.path.to_string(), &CreateOptions::new().access(KEY_WRITE)).map(drop)
        }
        Op::DeleteKey(key) => match RegKey::delete(conn, key.root, &key.path.to_string(), true) {
            Err(e) if e.win32_error() == Win32Error::ERROR_FILE_NOT_FOUND => Ok(()),
            other => other,
        },
        Op::SetValue { key, name, value } => {
            let options = CreateOptions::new().access(KEY_WRITE);
            RegKey::create(conn, key.root, &key.path.to_string(), &options)?.object.set_raw(&name, value)
        }
        Op::DeleteValue { key, name } => {
            match RegKey::open(conn, key.root, &key.path.to_string(), KEY_SET_VALUE).and_then(|k| k.delete_value(&name))
            {
                Err(e) if e.win32_error() == Win32Error::ERROR_FILE_NOT_FOUND => Ok(()),
                other => other,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reg_exe_slashes_become_long_options_but_data_is_left_alone() {
        let args = |v: &[&str]| v.iter().map(std::ffi::OsString::from).collect::<Vec<_>>();
        assert_eq!(
            rewrite_args(args(&["switchboard", "reg", "add", "HKCU\\X", "/v", "/f", "/T", "REG_SZ", "/d", "/s", "/f"])),
            args(&["switchboard", "reg", "add", "HKCU\\X", "--v", "/f", "--t", "REG_SZ", "--d", "/s", "--f"])
        );
        assert_eq!(rewrite_args(args(&["switchboard", "ls", "/v"])), args(&["switchboard", "ls", "/v"]));
    }

    #[test]
    fn data_is_read_by_type() {
        let raw = |kind, data: &str| value_of("t", "k", kind, data, "\\0").unwrap();
        assert_eq!(raw(REG_DWORD, "0x10"), RegValue::Dword(16).to_raw());
        assert_eq!(raw(REG_QWORD, "5"), RegValue::Qword(5).to_raw());
        assert_eq!(raw(REG_MULTI_SZ, "a\\0b"), RegValue::MultiSz(vec!["a".into(), "b".into()]).to_raw());
        assert_eq!(raw(REG_BINARY, "0aFF"), RawValue { kind: REG_BINARY, data: vec![10, 255] });
        assert!(value_of("t", "k", REG_DWORD, "4294967296", "\\0").is_err());
        assert!(value_of("t", "k", REG_BINARY, "abc", "\\0").is_err());
    }
}
