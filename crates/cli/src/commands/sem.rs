//! `sem create|wait|release`: semaphores from the shell.

use std::time::Duration;

use clap::Subcommand;
use serde::Serialize;
use switchboard::event::access::SYNCHRONIZE;
use switchboard::sync::{SEMAPHORE_MODIFY_STATE, Semaphore};
use switchboard::{Result, WaitResult};

use super::{Ctx, Done};
use crate::duration;

/// Semaphore commands.
#[derive(Debug, Subcommand)]
pub enum SemCommand {
    /// Create a named semaphore, or open it if the name exists.
    ///
    /// An object lives while some process holds a handle to it, so a
    /// semaphore this command creates vanishes when it exits, unless --hold
    /// keeps the handle. With --hold the command waits until its standard
    /// input ends (Ctrl-D at a terminal, or the writer of a pipe closing it);
    /// Ctrl-C or SIGTERM ends it too, and the broker then closes the handle
    /// because the connection drops. A maximum that is not positive, or an
    /// initial count outside 0..=maximum, is `ERROR_INVALID_PARAMETER` (exit
    /// 1). An existing semaphore keeps its own counts. Starts a broker if
    /// none is running.
    Create {
        /// The semaphore's name (`S`, `Local\S`, `Global\S`).
        name: String,
        /// The count it starts with: how many waits succeed before a release.
        #[arg(long, value_name = "N", allow_negative_numbers = true)]
        initial: i32,
        /// The most the count may reach.
        #[arg(long, value_name = "M", allow_negative_numbers = true)]
        max: i32,
        /// Keep the handle until end of stdin, Ctrl-C or SIGTERM.
        #[arg(long)]
        hold: bool,
    },
    /// Take one count, waiting until there is one: exit 0, or 6 on timeout.
    ///
    /// The count stays taken when the command exits (a semaphore has no
    /// owner); `sem release` gives it back. Never starts a broker.
    Wait {
        /// The semaphore's name.
        name: String,
        /// Give up after DUR (500ms, 5s, 2m, 1h; a bare number is milliseconds);
        /// default: wait forever.
        #[arg(long, value_name = "DUR", value_parser = duration::parse)]
        timeout: Option<Duration>,
    },
    /// Add to a semaphore's count (`ReleaseSemaphore`); prints the previous count.
    ///
    /// Any process may release. Passing the maximum is `ERROR_TOO_MANY_POSTS`
    /// (exit 1), and the count is left as it was. Never starts a broker.
    Release {
        /// The semaphore's name.
        name: String,
        /// How much to add.
        #[arg(long, value_name = "N", default_value_t = 1, allow_negative_numbers = true)]
        count: i32,
    },
}

/// Runs a semaphore command.
pub fn run(ctx: &Ctx, command: SemCommand) -> Result<Done> {
    match command {
        SemCommand::Create { name, initial, max, hold } => create(ctx, &name, initial, max, hold),
        SemCommand::Wait { name, timeout } => wait(ctx, &name, timeout),
        SemCommand::Release { name, count } => release(ctx, &name, count),
    }
}

// ---------------------------------------------------------------- create

#[derive(Serialize)]
struct CreatedJson<'a> {
    name: &'a str,
    handle: switchboard::Handle,
    /// The counts it was created with; null when it already existed.
    initial: Option<i32>,
    maximum: Option<i32>,
    already_existed: bool,
    held: bool,
}

fn create(ctx: &Ctx, name: &str, initial: i32, maximum: i32, hold: bool) -> Result<Done> {
    let conn = ctx.connect()?;
    let created = Semaphore::create(&conn, name, initial, maximum)?;
    let handle = created.object.handle().raw();
    let already_existed = created.already_existed;
    let counts = (!already_existed).then_some((initial, maximum));
    let json = CreatedJson {
        name,
        handle,
        initial: counts.map(|c| c.0),
        maximum: counts.map(|c| c.1),
        already_existed,
        held: hold,
    };
    let details = match counts {
        Some((initial, maximum)) => format!("count {initial} of {maximum}, handle {handle}"),
        None => format!("handle {handle}; it keeps its own counts"),
    };
    if hold {
        let existing = if already_existed { "existing " } else { "" };
        let holding = format!("holding {existing}semaphore {name:?} ({details}); end of stdin releases it\n");
        if ctx.json {
            crate::output::print_json(&json)?;
            eprint!("{holding}");
        } else {
            crate::output::print(&holding);
        }
        super::hold_until_stdin_ends(&conn, "HoldSemaphore", name, "semaphore")?;
        // `Semaphore` has no `close()`: dropping it closes the handle (the
        // connection ends with this process anyway).
        drop(created);
        return Ok(Done::Ok);
    }
    let verb = if already_existed { "opened existing" } else { "created" };
    ctx.emit(&json, || format!("{verb} semaphore {name:?} ({details})\n"))?;
    if !already_existed {
        eprintln!(
            "switchboard: warning: semaphore {name:?} is destroyed as this command exits (an object lives while a handle to it does); use --hold to keep it"
        );
    }
    Ok(Done::Ok)
}

// ---------------------------------------------------------------- wait

#[derive(Serialize)]
struct WaitJson<'a> {
    name: &'a str,
    taken: bool,
    timed_out: bool,
    timeout_ms: Option<u128>,
}

fn wait(ctx: &Ctx, name: &str, timeout: Option<Duration>) -> Result<Done> {
    let conn = ctx.connect_existing()?;
    let semaphore = Semaphore::open(&conn, name, SYNCHRONIZE)?;
    let taken = match semaphore.acquire(timeout)? {
        WaitResult::Signaled(_) | WaitResult::Abandoned(_) => true,
        WaitResult::TimedOut => false,
    };
    let json = WaitJson { name, taken, timed_out: !taken, timeout_ms: timeout.map(|t| t.as_millis()) };
    ctx.emit(&json, || {
        if taken {
            format!("took one count of semaphore {name:?}\n")
        } else {
            format!("timed out after {}\n", duration::format(timeout.unwrap_or_default()))
        }
    })?;
    Ok(if taken { Done::Ok } else { Done::TimedOut })
}

// ---------------------------------------------------------------- release

#[derive(Serialize)]
struct ReleasedJson<'a> {
    name: &'a str,
    released: i32,
    previous_count: i32,
}

fn release(ctx: &Ctx, name: &str, count: i32) -> Result<Done> {
    let conn = ctx.connect_existing()?;
    let semaphore = Semaphore::open(&conn, name, SEMAPHORE_MODIFY_STATE)?;
    let previous_count = semaphore.release(count)?;
    let json = ReleasedJson { name, released: count, previous_count };
    ctx.emit(&json, || format!("released {count} (previous count {previous_count})\n"))?;
    Ok(Done::Ok)
}
