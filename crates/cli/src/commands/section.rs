//! `section create|write|dump|info`: named shared memory (file mappings
//! backed by memory or by a file) from the shell.

use std::io::Read;

use clap::{Subcommand, ValueEnum};
use serde::Serialize;
use switchboard::section::{
    FILE_MAP_ALL_ACCESS, FILE_MAP_COPY, FILE_MAP_READ, FILE_MAP_WRITE, PageProtection, Section, SectionOptions,
    ViewAccess,
};
use switchboard::{AccessMask, Error, ErrorKind, Result, Win32Error};

use super::{Ctx, Done};
use crate::output::{key_values, mask, write_stdout};
use crate::size;

/// How much `dump` shows when no --length says.
const DEFAULT_DUMP_LENGTH: u64 = 256;

/// Section commands.
#[derive(Debug, Subcommand)]
pub enum SectionCommand {
    /// Create a named section of shared memory, or open it if the name exists.
    ///
    /// The memory starts zeroed. An object lives while some process holds a
    /// handle to it, so a section this command creates vanishes when it
    /// exits, unless --hold keeps the handle. With --hold the command waits
    /// until its standard input ends (Ctrl-D at a terminal, or the writer of
    /// a pipe closing it); Ctrl-C or SIGTERM ends it too, and the broker then
    /// closes the handle because the connection drops. Starts a broker if
    /// none is running.
    Create {
        /// The section's name (`S`, `Local\S`, `Global\S`).
        name: String,
        /// The size: bytes, or with a unit: 64KiB, 1MiB, 2GiB (K, M, G are the
        /// same binary units). An existing section keeps its own size. With
        /// --file it may be left out (the whole file), and a larger size
        /// grows a readwrite file.
        #[arg(long, value_name = "SIZE", value_parser = size::parse_size, required_unless_present = "file")]
        size: Option<u64>,
        /// Map this file instead of memory (`CreateFileMapping(hFile, …)`):
        /// it is opened read-write for a readwrite section, else read-only,
        /// and views read and write the file itself.
        #[arg(long, value_name = "PATH")]
        file: Option<std::path::PathBuf>,
        /// The page protection: readonly sections can never be written,
        /// writecopy ones only copied on write.
        #[arg(long, value_enum, default_value_t = Protection::Readwrite)]
        protection: Protection,
        /// Security descriptor in SDDL, e.g. `D:(A;;GA;;;OW)(A;;GR;;;WD)`
        /// (default: the creator and root only).
        #[arg(long, value_name = "SDDL")]
        sddl: Option<String>,
        /// Keep the handle until end of stdin, Ctrl-C or SIGTERM.
        #[arg(long)]
        hold: bool,
    },
    /// Write bytes into a section (`MapViewOfFile` with `FILE_MAP_WRITE`).
    ///
    /// Writing past the section's end fails (exit 1) and writes nothing; a
    /// read-only section or a handle without write access is exit 5. Never
    /// starts a broker.
    Write {
        /// The section's name.
        name: String,
        /// Where to write, in bytes from the start (units as for --size).
        #[arg(long, value_name = "N", value_parser = size::parse_bytes, default_value = "0")]
        offset: u64,
        /// The bytes to write, or `-` for all of stdin.
        data: String,
    },
    /// Show a section's bytes as a hex dump (`MapViewOfFile` with `FILE_MAP_READ`).
    ///
    /// Each line has the offset, 16 bytes in hex and as ASCII; trailing lines
    /// of zeros collapse into one `*` line, as with `hexdump -C`, and the last
    /// line is the offset where the dump ends. With --json: `{"name", "offset",
    /// "length", "hex"}`. Never starts a broker.
    Dump {
        /// The section's name.
        name: String,
        /// Where to start, in bytes (units as for --size).
        #[arg(long, value_name = "N", value_parser = size::parse_bytes, default_value = "0")]
        offset: u64,
        /// How many bytes (default: up to the end, but at most 256).
        #[arg(long, value_name = "N", value_parser = size::parse_bytes)]
        length: Option<u64>,
        /// Write the bytes themselves to stdout instead of a dump (not with --json).
        #[arg(long)]
        raw: bool,
    },
    /// Show a section's size and protection.
    ///
    /// Also shows the access a handle opened with `FILE_MAP_READ` gets.
    /// Exit 4 if there is no such section. Never starts a broker.
    Info {
        /// The section's name.
        name: String,
    },
}

/// `--protection`: the `PAGE_*` of `CreateFileMapping`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Protection {
    /// `PAGE_READONLY`.
    Readonly,
    /// `PAGE_READWRITE`.
    Readwrite,
    /// `PAGE_WRITECOPY`.
    Writecopy,
}

impl From<Protection> for PageProtection {
    fn from(p: Protection) -> Self {
        match p {
            Protection::Readonly => PageProtection::ReadOnly,
            Protection::Readwrite => PageProtection::ReadWrite,
            Protection::Writecopy => PageProtection::WriteCopy,
        }
    }
}

/// Runs a section command.
pub fn run(ctx: &Ctx, command: SectionCommand) -> Result<Done> {
    match command {
        SectionCommand::Create { name, size, file, protection, sddl, hold } => {
            let mut options = SectionOptions::new(size.unwrap_or(0)).protection(protection.into());
            if let Some(sddl) = sddl {
                options = options.security(sddl);
            }
            create(ctx, &name, &options, file.as_deref(), hold)
        }
        SectionCommand::Write { name, offset, data } => write(ctx, &name, offset, &data),
        SectionCommand::Dump { name, offset, length, raw } => dump(ctx, &name, offset, length, raw),
        SectionCommand::Info { name } => info(ctx, &name),
    }
}

/// `1048576 bytes (1 MiB)`; the unit only when it is exact.
fn size_text(bytes: u64) -> String {
    for (shift, unit) in [(30, "GiB"), (20, "MiB"), (10, "KiB")] {
        if bytes >= 1 << shift && bytes.trailing_zeros() >= shift {
            return format!("{bytes} bytes ({} {unit})", bytes >> shift);
        }
    }
    if bytes == 1 { "1 byte".to_owned() } else { format!("{bytes} bytes") }
}

/// `PAGE_READWRITE` and friends, as `--protection` spells them.
fn protection_name(p: PageProtection) -> &'static str {
    match p {
        PageProtection::ReadOnly => "readonly",
        PageProtection::ReadWrite => "readwrite",
        PageProtection::WriteCopy => "writecopy",
    }
}

fn protection_windows_name(p: PageProtection) -> &'static str {
    match p {
        PageProtection::ReadOnly => "PAGE_READONLY",
        PageProtection::ReadWrite => "PAGE_READWRITE",
        PageProtection::WriteCopy => "PAGE_WRITECOPY",
    }
}

/// `0x00000006 (FILE_MAP_WRITE|FILE_MAP_READ)`.
fn access_text(access: AccessMask) -> String {
    let names: Vec<&str> = if access == FILE_MAP_ALL_ACCESS {
        vec!["FILE_MAP_ALL_ACCESS"]
    } else {
        [(FILE_MAP_COPY, "FILE_MAP_COPY"), (FILE_MAP_WRITE, "FILE_MAP_WRITE"), (FILE_MAP_READ, "FILE_MAP_READ")]
            .into_iter()
            .filter(|(bit, _)| access.intersects(*bit))
            .map(|(_, name)| name)
            .collect()
    };
    if names.is_empty() { mask(access) } else { format!("{} ({})", mask(access), names.join("|")) }
}

/// An offset or length as an index into this process's memory.
fn to_usize(n: u64, op: &'static str, name: &str) -> Result<usize> {
    usize::try_from(n).map_err(|_| {
        Error::new(ErrorKind::InvalidArgument, Win32Error::ERROR_INVALID_PARAMETER, op, Some(name), "too large")
    })
}

// ---------------------------------------------------------------- create

#[derive(Serialize)]
struct CreatedJson<'a> {
    name: &'a str,
    handle: switchboard::Handle,
    size: u64,
    already_existed: bool,
    held: bool,
}

fn create(ctx: &Ctx, name: &str, options: &SectionOptions, file: Option<&std::path::Path>, hold: bool) -> Result<Done> {
    let conn = ctx.connect()?;
    let created = match file {
        None => options.create(&conn, name)?,
        Some(path) => {
            let writable = options.page_protection() == PageProtection::ReadWrite;
            let opened = std::fs::OpenOptions::new().read(true).write(writable).open(path).map_err(|e| {
                let code = match e.kind() {
                    std::io::ErrorKind::PermissionDenied => Win32Error::ERROR_ACCESS_DENIED,
                    _ => Win32Error::ERROR_FILE_NOT_FOUND,
                };
                Error::new(
                    ErrorKind::InvalidArgument,
                    code,
                    "CreateFile",
                    Some(&path.display().to_string()),
                    e.to_string(),
                )
            })?;
            options.create_for_file(&conn, &opened, Some(name))?
        }
    };
    let handle = created.object.handle().raw();
    let size = created.object.size();
    let already_existed = created.already_existed;
    let json = CreatedJson { name, handle, size, already_existed, held: hold };
    if hold {
        let existing = if already_existed { "existing " } else { "" };
        let holding =
            format!("holding {existing}section {name:?} ({size} bytes, handle {handle}); end of stdin releases it\n");
        if ctx.json {
            crate::output::print_json(&json)?;
            eprint!("{holding}");
        } else {
            crate::output::print(&holding);
        }
        super::hold_until_stdin_ends(&conn, "HoldSection", name, "section")?;
        // `Section` has no `close()`: dropping it closes the handle (the
        // connection ends with this process anyway).
        drop(created);
        return Ok(Done::Ok);
    }
    let verb = if already_existed { "opened existing" } else { "created" };
    ctx.emit(&json, || format!("{verb} section {name:?} ({size} bytes, handle {handle})\n"))?;
    if !already_existed {
        eprintln!(
            "switchboard: warning: section {name:?} is destroyed as this command exits (an object lives while a handle to it does); use --hold to keep it"
        );
    }
    Ok(Done::Ok)
}

// ---------------------------------------------------------------- write

#[derive(Serialize)]
struct WroteJson<'a> {
    name: &'a str,
    offset: u64,
    bytes: usize,
}

fn read_stdin() -> Result<Vec<u8>> {
    let mut data = Vec::new();
    std::io::stdin().lock().read_to_end(&mut data).map_err(|e| {
        Error::new(ErrorKind::Protocol, Win32Error::ERROR_INVALID_DATA, "ReadFile", Some("stdin"), e.to_string())
    })?;
    Ok(data)
}

fn write(ctx: &Ctx, name: &str, offset: u64, data: &str) -> Result<Done> {
    let data = if data == "-" { read_stdin()? } else { data.as_bytes().to_vec() };
    let conn = ctx.connect_existing()?;
    let section = Section::open(&conn, name, FILE_MAP_WRITE)?;
    let view = section.map_view(ViewAccess::Write, 0, 0)?;
    view.write_at(to_usize(offset, "write view", name)?, &data)?;
    let json = WroteJson { name, offset, bytes: data.len() };
    let plural = if data.len() == 1 { "" } else { "s" };
    ctx.emit(&json, || format!("wrote {} byte{plural} at offset {offset} of {name:?}\n", data.len()))?;
    Ok(Done::Ok)
}

// ---------------------------------------------------------------- dump

#[derive(Serialize)]
struct DumpJson<'a> {
    name: &'a str,
    offset: u64,
    length: usize,
    /// The bytes in lowercase hex.
    hex: String,
}

fn hex(data: &[u8]) -> String {
    use std::fmt::Write;
    data.iter().fold(String::with_capacity(data.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// One `hexdump -C` line: offset, up to 16 bytes in hex, the same as ASCII.
fn dump_line(offset: u64, bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut line = format!("{offset:08x}  ");
    for i in 0..16 {
        match bytes.get(i) {
            Some(b) => {
                let _ = write!(line, "{b:02x} ");
            }
            None => line.push_str("   "),
        }
        if i == 7 {
            line.push(' ');
        }
    }
    line.push_str(" |");
    line.extend(bytes.iter().map(|&b| if b == b' ' || b.is_ascii_graphic() { char::from(b) } else { '.' }));
    line.push_str("|\n");
    line
}

/// A hex dump of `data`, which starts at `start` in the section, in the
/// style of `hexdump -C`: trailing full lines of zeros after the first one
/// become a single `*`, and a last line gives the offset where it ends.
fn hex_dump(start: u64, data: &[u8]) -> String {
    use std::fmt::Write;
    let lines: Vec<&[u8]> = data.chunks(16).collect();
    let trailing_zeros = lines.iter().rev().take_while(|l| l.iter().all(|&b| b == 0)).count();
    let first_zero = lines.len() - trailing_zeros;
    // The full lines of the trailing zeros: the last line may be shorter.
    let full_end = if lines.last().is_some_and(|l| l.len() < 16) { lines.len() - 1 } else { lines.len() };
    let collapse = full_end.saturating_sub(first_zero) >= 2;
    let mut text = String::new();
    let mut starred = false;
    for (i, line) in lines.iter().enumerate() {
        if collapse && i > first_zero && i < full_end {
            if !starred {
                text.push_str("*\n");
                starred = true;
            }
            continue;
        }
        text.push_str(&dump_line(start + (i * 16) as u64, line));
    }
    let _ = writeln!(text, "{:08x}", start + data.len() as u64);
    text
}

fn dump(ctx: &Ctx, name: &str, offset: u64, length: Option<u64>, raw: bool) -> Result<Done> {
    let conn = ctx.connect_existing()?;
    let section = Section::open(&conn, name, FILE_MAP_READ)?;
    let size = section.size();
    let length = length.unwrap_or_else(|| {
        let left = size.saturating_sub(offset);
        if left > DEFAULT_DUMP_LENGTH {
            eprintln!(
                "switchboard: showing {DEFAULT_DUMP_LENGTH} of the {left} bytes from offset {offset}; --length shows more"
            );
        }
        left.min(DEFAULT_DUMP_LENGTH)
    });
    // Checked before making a buffer of `length` bytes.
    if offset.checked_add(length).is_none_or(|end| end > size) {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            Win32Error::ERROR_INVALID_PARAMETER,
            "read view",
            Some(name),
            format!("bytes {offset}..+{length} lie outside a section of {size} bytes"),
        ));
    }
    let view = section.map_view(ViewAccess::Read, 0, 0)?;
    let mut bytes = vec![0u8; to_usize(length, "read view", name)?];
    view.read_at(to_usize(offset, "read view", name)?, &mut bytes)?;
    if raw {
        // Nobody reading our output (`| head -c 4`) is not worth a word.
        if let Err(e) = write_stdout(&bytes)
            && e.kind() != std::io::ErrorKind::BrokenPipe
        {
            eprintln!("switchboard: cannot write to stdout: {e}");
        }
        return Ok(Done::Ok);
    }
    let json = DumpJson { name, offset, length: bytes.len(), hex: hex(&bytes) };
    ctx.emit(&json, || hex_dump(offset, &bytes))?;
    Ok(Done::Ok)
}

// ---------------------------------------------------------------- info

#[derive(Serialize)]
struct InfoJson<'a> {
    name: &'a str,
    size: u64,
    /// `readonly`, `readwrite` or `writecopy`.
    protection: &'static str,
    /// The access an open with `FILE_MAP_READ` got.
    access: AccessMask,
    /// `memory` or `file`.
    backing: &'static str,
}

fn info(ctx: &Ctx, name: &str) -> Result<Done> {
    let conn = ctx.connect_existing()?;
    let section = Section::open(&conn, name, FILE_MAP_READ)?;
    let protection = section.protection();
    let backing = if section.maps_file() { "file" } else { "memory" };
    let json = InfoJson {
        name,
        size: section.size(),
        protection: protection_name(protection),
        access: section.access(),
        backing,
    };
    ctx.emit(&json, || {
        key_values(&[
            ("name", name.to_owned()),
            ("size", size_text(section.size())),
            ("backing", backing.to_owned()),
            ("protection", format!("{} ({})", protection_name(protection), protection_windows_name(protection))),
            ("handle access", access_text(section.access())),
        ])
    })?;
    Ok(Done::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dump_lines_look_like_hexdump_c() {
        assert_eq!(
            hex_dump(0, b"0123456789abcdef"),
            "00000000  30 31 32 33 34 35 36 37  38 39 61 62 63 64 65 66  |0123456789abcdef|\n00000010\n"
        );
        assert_eq!(
            hex_dump(4096, b"hello\n"),
            "00001000  68 65 6c 6c 6f 0a                                 |hello.|\n00001006\n"
        );
        assert_eq!(hex_dump(16, b""), "00000010\n");
    }

    #[test]
    fn trailing_zero_lines_collapse_into_a_star() {
        let mut data = b"hi".to_vec();
        data.resize(64, 0);
        assert_eq!(
            hex_dump(0, &data),
            "00000000  68 69 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |hi..............|\n\
             00000010  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |................|\n\
             *\n\
             00000040\n"
        );
        // One line of zeros stays; a short last line shows after the star.
        assert_eq!(hex_dump(0, &[0; 16]).lines().count(), 2);
        let dumped = hex_dump(0, &[0; 40]);
        let lines: Vec<&str> = dumped.lines().collect();
        assert_eq!(lines.len(), 4, "{dumped}");
        assert_eq!(lines[1], "*");
        assert!(lines[2].starts_with("00000020  00 00 00 00 00 00 00 00 "), "{dumped}");
        assert_eq!(lines[3], "00000028");
        // Zeros in the middle are shown.
        let mut middle = vec![0u8; 48];
        middle.push(1);
        assert!(!hex_dump(0, &middle).contains('*'));
    }

    #[test]
    fn sizes_and_access_read_naturally() {
        assert_eq!(size_text(1 << 20), "1048576 bytes (1 MiB)");
        assert_eq!(size_text(3 << 10), "3072 bytes (3 KiB)");
        assert_eq!(size_text(1000), "1000 bytes");
        assert_eq!(size_text(1), "1 byte");
        assert_eq!(access_text(FILE_MAP_READ), "0x00000004 (FILE_MAP_READ)");
        assert_eq!(access_text(FILE_MAP_ALL_ACCESS), "0x000f001f (FILE_MAP_ALL_ACCESS)");
        assert_eq!(access_text(FILE_MAP_READ | FILE_MAP_WRITE), "0x00000006 (FILE_MAP_WRITE|FILE_MAP_READ)");
        assert_eq!(access_text(switchboard::access::standard::SYNCHRONIZE), "0x00100000");
    }
}
