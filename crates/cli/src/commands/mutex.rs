//! `mutex create|acquire`.
//!
//! A mutex belongs to the thread that acquired it, so only the `switchboard`
//! process that owns it can release it: there is no `mutex release`; a
//! process holding a mutex releases it when its `--hold` ends.

use std::time::Duration;

use clap::Subcommand;
use serde::Serialize;
use switchboard::event::access::SYNCHRONIZE;
use switchboard::sync::{MUTEX_MODIFY_STATE, Mutex};
use switchboard::{Result, WaitResult};

use super::{Ctx, Done};
use crate::duration;

/// Mutex commands.
#[derive(Debug, Subcommand)]
pub enum MutexCommand {
    /// Create a named mutex, or open it if the name exists.
    ///
    /// An object lives while some process holds a handle to it, so a mutex
    /// this command creates vanishes when it exits, unless --hold keeps the
    /// handle. With --hold the command waits until its standard input ends
    /// (Ctrl-D at a terminal, or the writer of a pipe closing it); Ctrl-C or
    /// SIGTERM ends it too, and the broker then closes the handle because the
    /// connection drops. Starts a broker if none is running.
    Create {
        /// The mutex's name (`M`, `Local\M`, `Global\M`).
        name: String,
        /// Owned at once by this process's thread when the mutex is new (as
        /// `bInitialOwner`; an existing mutex is only opened). With --hold it
        /// stays owned until the hold ends, then is released; if the process
        /// is killed meanwhile, the mutex is abandoned.
        #[arg(long)]
        owned: bool,
        /// Keep the handle until end of stdin, Ctrl-C or SIGTERM.
        #[arg(long)]
        hold: bool,
    },
    /// Wait until this process owns a mutex: exit 0 when it does, 6 on timeout.
    ///
    /// Opens the mutex with `SYNCHRONIZE|MUTEX_MODIFY_STATE` and waits for
    /// ownership, then prints `acquired "M"`, or `acquired "M" (abandoned by
    /// its previous owner)` when the last owner ended without releasing it.
    /// Ownership belongs to this process's thread, so no other `switchboard`
    /// process can release it. Without --hold the mutex is released at once,
    /// so the command means "wait until the mutex is free". With --hold it is
    /// kept until standard input ends, then released; Ctrl-C or SIGTERM
    /// ends the process owning it, which abandons the mutex. Never starts a
    /// broker.
    Acquire {
        /// The mutex's name.
        name: String,
        /// Give up after DUR (500ms, 5s, 2m, 1h; a bare number is milliseconds);
        /// default: wait forever.
        #[arg(long, value_name = "DUR", value_parser = duration::parse)]
        timeout: Option<Duration>,
        /// Keep ownership until end of stdin, then release it.
        #[arg(long)]
        hold: bool,
    },
}

/// Runs a mutex command.
pub fn run(ctx: &Ctx, command: MutexCommand) -> Result<Done> {
    match command {
        MutexCommand::Create { name, owned, hold } => create(ctx, &name, owned, hold),
        MutexCommand::Acquire { name, timeout, hold } => acquire(ctx, &name, timeout, hold),
    }
}

// ---------------------------------------------------------------- create

#[derive(Serialize)]
struct CreatedJson<'a> {
    name: &'a str,
    handle: switchboard::Handle,
    already_existed: bool,
    /// This process's thread owns it (`--owned` and the mutex was new).
    owned: bool,
    held: bool,
}

fn create(ctx: &Ctx, name: &str, owned: bool, hold: bool) -> Result<Done> {
    let conn = ctx.connect()?;
    let created = Mutex::create(&conn, name, owned)?;
    let handle = created.object.handle().raw();
    let already_existed = created.already_existed;
    // As on Windows, the initial-owner flag does not apply to an existing mutex.
    let owns = owned && !already_existed;
    if owned && already_existed {
        eprintln!(
            "switchboard: warning: mutex {name:?} already existed, so --owned did not apply: this process does not own it"
        );
    }
    let json = CreatedJson { name, handle, already_existed, owned: owns, held: hold };
    let ownership = if owns { ", owned by this process" } else { "" };
    if hold {
        let existing = if already_existed { "existing " } else { "" };
        let holding =
            format!("holding {existing}mutex {name:?} (handle {handle}{ownership}); end of stdin releases it\n");
        if ctx.json {
            crate::output::print_json(&json)?;
            eprint!("{holding}");
        } else {
            crate::output::print(&holding);
        }
        super::hold_until_stdin_ends(&conn, "HoldMutex", name, "mutex")?;
    } else {
        let verb = if already_existed { "opened existing" } else { "created" };
        ctx.emit(&json, || format!("{verb} mutex {name:?} (handle {handle}{ownership})\n"))?;
        if !already_existed {
            eprintln!(
                "switchboard: warning: mutex {name:?} is destroyed as this command exits (an object lives while a handle to it does); use --hold to keep it"
            );
        }
    }
    if owns {
        created.object.release()?;
    }
    // `Mutex` has no `close()`: dropping it closes the handle (the
    // connection ends with this process anyway).
    drop(created);
    Ok(Done::Ok)
}

// ---------------------------------------------------------------- acquire

#[derive(Serialize)]
#[allow(clippy::struct_excessive_bools, reason = "the JSON a program reads, not a state machine")]
struct AcquiredJson<'a> {
    name: &'a str,
    acquired: bool,
    /// Its previous owner ended without releasing it.
    abandoned: bool,
    timed_out: bool,
    timeout_ms: Option<u128>,
    held: bool,
}

fn acquire(ctx: &Ctx, name: &str, timeout: Option<Duration>, hold: bool) -> Result<Done> {
    let conn = ctx.connect_existing()?;
    let mutex = Mutex::open(&conn, name, SYNCHRONIZE | MUTEX_MODIFY_STATE)?;
    let timeout_ms = timeout.map(|t| t.as_millis());
    let abandoned = match mutex.acquire(timeout)? {
        WaitResult::Signaled(_) => false,
        WaitResult::Abandoned(_) => true,
        WaitResult::TimedOut => {
            let json =
                AcquiredJson { name, acquired: false, abandoned: false, timed_out: true, timeout_ms, held: false };
            ctx.emit(&json, || format!("timed out after {}\n", duration::format(timeout.unwrap_or_default())))?;
            return Ok(Done::TimedOut);
        }
    };
    let json = AcquiredJson { name, acquired: true, abandoned, timed_out: false, timeout_ms, held: hold };
    let how = if abandoned { " (abandoned by its previous owner)" } else { "" };
    let acquired = format!("acquired {name:?}{how}\n");
    if hold {
        let holding = "holding it until end of stdin, then releasing it (Ctrl-C or SIGTERM abandons it)\n";
        if ctx.json {
            crate::output::print_json(&json)?;
            eprint!("{acquired}{holding}");
        } else {
            crate::output::print(&format!("{acquired}{holding}"));
        }
        super::hold_until_stdin_ends(&conn, "HoldMutex", name, "mutex")?;
    } else {
        ctx.emit(&json, || acquired)?;
    }
    mutex.release()?;
    Ok(Done::Ok)
}
