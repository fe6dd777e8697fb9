//! `mailslot serve|send|info|ls`: mailslots from the shell.

use std::io::BufRead;
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::Duration;

use clap::Subcommand;
use serde::Serialize;
use switchboard::mailslot::{self, Mailslot, MailslotInfo, MailslotOptions, MailslotWriter, ReadTimeout};
use switchboard::{Connection, Error, ErrorKind, Result, Win32Error};

use super::{Ctx, Done};
use crate::duration;
use crate::output::{Table, key_values, write_stdout};

/// How often a waiting command checks that the broker is still there.
const CHECK_BROKER: Duration = Duration::from_millis(500);

/// Mailslot commands.
#[derive(Debug, Subcommand)]
pub enum MailslotCommand {
    /// Create a mailslot and print each message as it arrives.
    ///
    /// This command is the mailslot's one reader; any number of processes
    /// write to it (`mailslot send`). A line on stderr says when it is ready.
    /// Each message is printed on stdout as it arrives: as text (invalid
    /// UTF-8 replaced) and a newline, or with --json as one JSON object per
    /// line: `{"size":5,"text":"hello"}`, with `"hex"` instead of `"text"`
    /// when the message is not UTF-8.
    ///
    /// With --hold the command creates the mailslot and does not read it:
    /// messages queue up, and every line on stdin (Enter at a terminal)
    /// prints on stderr how many are waiting and the next one's size
    /// (`GetMailslotInfo`, which only the reader can ask); with --json also
    /// as one JSON object per line on stdout. The command ends at end of
    /// stdin (Ctrl-D).
    ///
    /// Starts a broker if none is running. The mailslot lives while this
    /// command does: Ctrl-C or SIGTERM ends it, and its name with it.
    Serve {
        /// The mailslot: `NAME` for `\\.\mailslot\NAME`, or the full `\\.\mailslot\NAME`.
        name: String,
        /// The largest message writers may send, in bytes (0: any size;
        /// messages are limited to 64 KiB here anyway).
        #[arg(long, value_name = "BYTES", default_value_t = 0)]
        max_size: u32,
        /// Exit 0 after N messages (default: read until killed).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..), conflicts_with = "hold")]
        count: Option<u64>,
        /// Do not read: hold the mailslot until end of stdin, and show what
        /// is waiting each time stdin gets a line.
        #[arg(long)]
        hold: bool,
    },
    /// Send one message to a mailslot, or one per line of stdin.
    ///
    /// With `-` as DATA every line of stdin, without its newline, is one
    /// message (an empty line is a zero-length message). Exit 4 if there is
    /// no such mailslot; mailslots on other machines and broadcasts
    /// (`\\*\mailslot\NAME`) are not supported (exit 1).
    Send {
        /// The mailslot: `NAME` for `\\.\mailslot\NAME`, or a full name starting with `\\`.
        name: String,
        /// The message, or `-` for one message per line of stdin.
        data: String,
    },
    /// Show a mailslot's maximum message size, writers and reader.
    ///
    /// How many messages wait, the next one's size and the read timeout are
    /// known only to the reader (`GetMailslotInfo` needs its handle): `mailslot
    /// serve NAME --hold` shows them. Needs `READ_CONTROL` on the mailslot
    /// (its creator and root have it). Never starts a broker.
    Info {
        /// The mailslot: `NAME` for `\\.\mailslot\NAME`, or the full `\\.\mailslot\NAME`.
        name: String,
    },
    /// List the mailslots with their writers and reader; never starts a broker.
    ///
    /// Another user's mailslot shows its name only (`-` for the rest) unless
    /// it grants you `READ_CONTROL`.
    Ls,
}

/// Runs a mailslot command.
pub fn run(ctx: &Ctx, command: MailslotCommand) -> Result<Done> {
    match command {
        MailslotCommand::Serve { name, max_size, count, hold } => {
            let name = full_name(&name);
            if hold { hold_unread(ctx, &name, max_size) } else { serve(ctx, &name, max_size, count) }
        }
        MailslotCommand::Send { name, data } => send(ctx, &full_name(&name), &data),
        MailslotCommand::Info { name } => info(ctx, &full_name(&name)),
        MailslotCommand::Ls => ls(ctx),
    }
}

/// `NAME` is `\\.\mailslot\NAME`; a name starting with `\\` is already a full name.
pub fn full_name(name: &str) -> String {
    if name.starts_with(r"\\") { name.to_owned() } else { format!(r"\\.\mailslot\{name}") }
}

/// A maximum message size for people: `any` for 0.
fn max_size_text(max: u32) -> String {
    if max == 0 { "any".to_owned() } else { format!("{max} bytes") }
}

fn thread_error(op: &'static str, name: &str, e: &std::io::Error) -> Error {
    Error::new(ErrorKind::Protocol, Win32Error::ERROR_NO_SYSTEM_RESOURCES, op, Some(name), e.to_string())
}

fn broker_lost(op: &'static str, name: &str) -> Error {
    Error::new(
        ErrorKind::ConnectionLost,
        Win32Error::ERROR_BROKEN_PIPE,
        op,
        Some(name),
        "lost the broker; the mailslot is gone",
    )
}

/// Waits for what `rx` brings next, checking every so often that the broker
/// is still there; `None` once every sender has gone.
fn next_or_broker_lost<T>(conn: &Connection, rx: &Receiver<T>, op: &'static str, name: &str) -> Result<Option<T>> {
    loop {
        match rx.recv_timeout(CHECK_BROKER) {
            Ok(item) => return Ok(Some(item)),
            Err(RecvTimeoutError::Disconnected) => return Ok(None),
            Err(RecvTimeoutError::Timeout) if !conn.is_alive() => return Err(broker_lost(op, name)),
            Err(RecvTimeoutError::Timeout) => {}
        }
    }
}

// ---------------------------------------------------------------- serve

/// One message as a line of NDJSON.
#[derive(Serialize)]
struct MessageJson {
    size: usize,
    /// The message, when it is UTF-8.
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<String>,
    /// The message in lowercase hex, when it is not UTF-8.
    #[serde(skip_serializing_if = "Option::is_none")]
    hex: Option<String>,
}

impl MessageJson {
    fn new(message: &[u8]) -> Self {
        match std::str::from_utf8(message) {
            Ok(text) => Self { size: message.len(), text: Some(text.to_owned()), hex: None },
            Err(_) => Self { size: message.len(), text: None, hex: Some(hex(message)) },
        }
    }
}

fn hex(data: &[u8]) -> String {
    use std::fmt::Write;
    data.iter().fold(String::with_capacity(data.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// One JSON value on one line (NDJSON), unlike `output::print_json`.
fn json_line<T: Serialize>(value: &T) -> Vec<u8> {
    // Strings and numbers always serialize.
    let mut line = serde_json::to_vec(value).unwrap_or_default();
    line.push(b'\n');
    line
}

/// A message as `serve` prints it.
fn message_line(ctx: &Ctx, message: &[u8]) -> Vec<u8> {
    if ctx.json {
        json_line(&MessageJson::new(message))
    } else {
        let mut line = String::from_utf8_lossy(message).into_owned().into_bytes();
        line.push(b'\n');
        line
    }
}

fn create(ctx: &Ctx, name: &str, max_size: u32) -> Result<(Connection, Mailslot)> {
    let conn = ctx.connect()?;
    let slot =
        MailslotOptions::new().max_message_size(max_size).read_timeout(ReadTimeout::Forever).create(&conn, name)?;
    Ok((conn, slot))
}

fn serve(ctx: &Ctx, name: &str, max_size: u32, count: Option<u64>) -> Result<Done> {
    let (conn, slot) = create(ctx, name, max_size)?;
    eprintln!("reading {name} (max message size {})", max_size_text(max_size));
    // Reads happen in their own thread, so that this one can notice the
    // broker going away while no message comes.
    let (tx, rx) = mpsc::channel();
    let reader = Arc::new(slot);
    let slot = Arc::clone(&reader);
    std::thread::Builder::new()
        .name("reader".into())
        .spawn(move || {
            loop {
                let got = slot.read_message();
                let failed = got.is_err();
                if tx.send(got).is_err() || failed {
                    return;
                }
            }
        })
        .map_err(|e| thread_error("ReadFile", name, &e))?;
    let mut received = 0u64;
    while count.is_none_or(|n| received < n) {
        let Some(message) = next_or_broker_lost(&conn, &rx, "ReadFile", name)? else {
            return Err(broker_lost("ReadFile", name));
        };
        if let Err(e) = write_stdout(&message_line(ctx, &message?)) {
            // Nobody reads our output any more: nothing left to do.
            if e.kind() != std::io::ErrorKind::BrokenPipe {
                eprintln!("switchboard: cannot write to stdout: {e}");
            }
            return Ok(Done::Ok);
        }
        received += 1;
    }
    Ok(Done::Ok)
}

// ---------------------------------------------------------------- serve --hold

/// What `serve --hold` shows each time stdin gets a line.
#[derive(Serialize)]
struct WaitingJson<'a> {
    name: &'a str,
    max_message_size: u32,
    count: u64,
    /// `None` when no message waits.
    next_size: Option<usize>,
    /// `forever`, `0` or a duration such as `5s`.
    read_timeout: String,
}

fn read_timeout_text(timeout: ReadTimeout) -> String {
    match timeout {
        ReadTimeout::Immediately => "0".to_owned(),
        ReadTimeout::After(d) => duration::format(d),
        ReadTimeout::Forever => "forever".to_owned(),
    }
}

/// `2 messages waiting, next 5 bytes`, or `no messages waiting`.
fn waiting_text(info: &MailslotInfo) -> String {
    match (info.count, info.next_size) {
        (0, _) | (_, None) => "no messages waiting".to_owned(),
        (1, Some(next)) => format!("1 message waiting, next {next} bytes"),
        (count, Some(next)) => format!("{count} messages waiting, next {next} bytes"),
    }
}

fn hold_unread(ctx: &Ctx, name: &str, max_size: u32) -> Result<Done> {
    let (conn, slot) = create(ctx, name, max_size)?;
    eprintln!(
        "holding {name} (max message size {}) without reading; a line on stdin (Enter) shows what is waiting, end of stdin (Ctrl-D) ends",
        max_size_text(max_size)
    );
    let (tx, rx) = mpsc::channel::<()>();
    std::thread::Builder::new()
        .name("stdin".into())
        .spawn(move || {
            let mut line = Vec::new();
            let mut stdin = std::io::stdin().lock();
            while matches!(stdin.read_until(b'\n', &mut line), Ok(n) if n > 0) {
                line.clear();
                if tx.send(()).is_err() {
                    return;
                }
            }
        })
        .map_err(|e| thread_error("GetMailslotInfo", name, &e))?;
    while next_or_broker_lost(&conn, &rx, "GetMailslotInfo", name)?.is_some() {
        let info = slot.info()?;
        eprintln!("{}", waiting_text(&info));
        if ctx.json {
            let waiting = WaitingJson {
                name,
                max_message_size: info.max_message_size,
                count: info.count,
                next_size: info.next_size,
                read_timeout: read_timeout_text(info.read_timeout),
            };
            crate::output::print(&String::from_utf8_lossy(&json_line(&waiting)));
        }
    }
    Ok(Done::Ok)
}

// ---------------------------------------------------------------- send

#[derive(Serialize)]
struct SentJson<'a> {
    name: &'a str,
    messages: u64,
    bytes: u64,
}

fn send(ctx: &Ctx, name: &str, data: &str) -> Result<Done> {
    let conn = ctx.connect_existing()?;
    let writer = MailslotWriter::open(&conn, name)?;
    let (mut messages, mut bytes) = (0u64, 0u64);
    let mut sent = |message: &[u8]| -> Result<()> {
        writer.write(message)?;
        messages += 1;
        bytes += message.len() as u64;
        Ok(())
    };
    if data == "-" {
        let mut stdin = std::io::stdin().lock();
        let mut line = Vec::new();
        loop {
            line.clear();
            match stdin.read_until(b'\n', &mut line) {
                Ok(0) => break,
                Ok(_) => sent(line.strip_suffix(b"\n").unwrap_or(&line))?,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(Error::new(
                        ErrorKind::Protocol,
                        Win32Error::ERROR_INVALID_DATA,
                        "ReadFile",
                        Some("stdin"),
                        e.to_string(),
                    ));
                }
            }
        }
    } else {
        sent(data.as_bytes())?;
    }
    let json = SentJson { name, messages, bytes };
    let plural = if messages == 1 { "" } else { "s" };
    ctx.emit(&json, || format!("sent {messages} message{plural} ({bytes} bytes) to {name}\n"))?;
    Ok(Done::Ok)
}

// ---------------------------------------------------------------- info, ls

/// What follows `\\.\mailslot\` in a full local name: the name
/// `mailslot::list` shows.
fn local_part(full: &str) -> Result<&str> {
    let op = "GetMailslotInfo";
    let invalid = || {
        Error::new(
            ErrorKind::InvalidArgument,
            Win32Error::ERROR_INVALID_NAME,
            op,
            Some(full),
            r"a mailslot name is \\.\mailslot\NAME",
        )
    };
    let rest = full.strip_prefix(r"\\").ok_or_else(invalid)?;
    let (host, rest) = rest.split_once('\\').ok_or_else(invalid)?;
    let (slot, name) = rest.split_once('\\').ok_or_else(invalid)?;
    if host.is_empty() || !slot.eq_ignore_ascii_case("mailslot") || name.is_empty() {
        return Err(invalid());
    }
    if host != "." {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            Win32Error::ERROR_NOT_SUPPORTED,
            op,
            Some(full),
            "mailslots on other machines and domains need the network, which is not supported yet",
        ));
    }
    Ok(name)
}

#[derive(Serialize)]
struct InfoJson<'a> {
    name: &'a str,
    max_message_size: u32,
    next_size: Option<u32>,
    count: u64,
    writers: u32,
    reader_pid: u32,
}

/// `GetMailslotInfo` from outside the reader: the broker reads the count
/// from the mailslot's shared counters and peeks at the next size.
fn info(ctx: &Ctx, name: &str) -> Result<Done> {
    local_part(name)?;
    let conn = ctx.connect_existing()?;
    let status = mailslot::query(&conn, &full_name(name))?;
    let json = InfoJson {
        name,
        max_message_size: status.max_message_size,
        next_size: status.next_size,
        count: status.count,
        writers: status.writers,
        reader_pid: status.reader_pid,
    };
    ctx.emit(&json, || {
        key_values(&[
            ("name", name.to_owned()),
            ("max message size", max_size_text(status.max_message_size)),
            ("messages waiting", status.count.to_string()),
            ("next message", status.next_size.map_or_else(|| "none".to_owned(), |n| format!("{n} bytes"))),
            ("writers", status.writers.to_string()),
            ("reader pid", status.reader_pid.to_string()),
        ])
    })?;
    Ok(Done::Ok)
}

fn ls(ctx: &Ctx) -> Result<Done> {
    let conn = ctx.connect_existing()?;
    let mut slots = mailslot::list(&conn)?;
    slots.sort_by_key(|m| m.name.to_lowercase());
    ctx.emit(&slots, || {
        let mut table = Table::new(&["NAME", "MAX", "WRITERS", "READER-PID"]);
        // `-`: another user's mailslot, whose security the caller may not read.
        let or_dash = |v: Option<u32>| v.map_or_else(|| "-".to_owned(), |n| n.to_string());
        for m in &slots {
            let max = match m.max_message_size {
                None => "-".to_owned(),
                Some(0) => "any".to_owned(),
                Some(n) => n.to_string(),
            };
            table.row(vec![m.name.clone(), max, or_dash(m.writers), or_dash(m.reader_pid)]);
        }
        table.render()
    })?;
    Ok(Done::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_names_are_local_mailslots_and_full_names_stay() {
        assert_eq!(full_name("news"), r"\\.\mailslot\news");
        assert_eq!(full_name(r"a\b"), r"\\.\mailslot\a\b");
        assert_eq!(full_name(r"\\.\mailslot\news"), r"\\.\mailslot\news");
        assert_eq!(full_name(r"\\*\mailslot\news"), r"\\*\mailslot\news");
    }

    #[test]
    fn info_finds_the_listed_name() {
        assert_eq!(local_part(r"\\.\mailslot\news").unwrap(), "news");
        assert_eq!(local_part(r"\\.\MAILSLOT\a\b").unwrap(), r"a\b");
        let remote = local_part(r"\\*\mailslot\news").unwrap_err();
        assert_eq!(remote.win32_error(), Win32Error::ERROR_NOT_SUPPORTED);
        let bad = local_part(r"\\.\pipe\news").unwrap_err();
        assert_eq!(bad.win32_error(), Win32Error::ERROR_INVALID_NAME);
    }

    #[test]
    fn messages_print_as_text_or_ndjson() {
        let text = Ctx { json: false, realm: None };
        let json = Ctx { json: true, realm: None };
        assert_eq!(message_line(&text, b"hello"), b"hello\n");
        assert_eq!(message_line(&json, b"hello"), b"{\"size\":5,\"text\":\"hello\"}\n");
        assert_eq!(message_line(&json, b"\xff\x00"), b"{\"size\":2,\"hex\":\"ff00\"}\n");
        assert_eq!(message_line(&json, b""), b"{\"size\":0,\"text\":\"\"}\n");
    }

    #[test]
    fn waiting_counts_read_naturally() {
        let info = |count, next_size| MailslotInfo {
            max_message_size: 0,
            next_size,
            count,
            read_timeout: ReadTimeout::Forever,
        };
        assert_eq!(waiting_text(&info(0, None)), "no messages waiting");
        assert_eq!(waiting_text(&info(1, Some(0))), "1 message waiting, next 0 bytes");
        assert_eq!(waiting_text(&info(2, Some(5))), "2 messages waiting, next 5 bytes");
    }
}
