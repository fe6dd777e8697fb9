//! `event create|set|reset|pulse|wait`.

use std::time::Duration;

use clap::Subcommand;
use serde::Serialize;
use switchboard::event::access::{EVENT_MODIFY_STATE, SYNCHRONIZE};
use switchboard::{Event, EventOptions, Result, WaitResult};

use super::{Ctx, Done};
use crate::duration;

/// Event commands.
#[derive(Debug, Subcommand)]
pub enum EventCommand {
    /// Create a named event, or open it if the name exists.
    ///
    /// An object lives while some process holds a handle to it, so an event
    /// this command creates vanishes when it exits, unless --hold keeps the
    /// handle. With --hold the command waits until its standard input ends
    /// (Ctrl-D at a terminal, or the writer of a pipe closing it); Ctrl-C or
    /// SIGTERM ends it too, and the broker then closes the handle because the
    /// connection drops.
    Create {
        /// The event's name (`E`, `Local\E`, `Global\E`).
        name: String,
        /// Manual-reset: stays signaled until reset (default: auto-reset).
        #[arg(long)]
        manual: bool,
        /// Signaled at creation.
        #[arg(long)]
        initial: bool,
        /// Security descriptor in SDDL, e.g. `D:(A;;GA;;;OW)(A;;GX;;;WD)`
        /// (default: the creator and root only).
        #[arg(long, value_name = "SDDL")]
        sddl: Option<String>,
        /// Keep the handle until end of stdin, Ctrl-C or SIGTERM.
        #[arg(long)]
        hold: bool,
    },
    /// Signal an event (`SetEvent`); prints the previous state.
    Set {
        /// The event's name.
        name: String,
    },
    /// Reset an event to not signaled (`ResetEvent`); prints the previous state.
    Reset {
        /// The event's name.
        name: String,
    },
    /// Release the current waiters and leave the event not signaled (`PulseEvent`).
    Pulse {
        /// The event's name.
        name: String,
    },
    /// Wait until an event is signaled: exit 0 when it is, 6 on timeout.
    Wait {
        /// The event's name.
        name: String,
        /// Give up after DUR (500ms, 5s, 2m, 1h; a bare number is milliseconds);
        /// default: wait forever.
        #[arg(long, value_name = "DUR", value_parser = duration::parse)]
        timeout: Option<Duration>,
    },
}

/// Runs an event command.
pub fn run(ctx: &Ctx, command: EventCommand) -> Result<Done> {
    match command {
        EventCommand::Create { name, manual, initial, sddl, hold } => {
            let mut options = EventOptions::new().manual_reset(manual).initial_state(initial);
            if let Some(sddl) = sddl {
                options = options.security(sddl);
            }
            create(ctx, &name, &options, hold)
        }
        EventCommand::Set { name } => act(ctx, &name, Action::Set),
        EventCommand::Reset { name } => act(ctx, &name, Action::Reset),
        EventCommand::Pulse { name } => act(ctx, &name, Action::Pulse),
        EventCommand::Wait { name, timeout } => wait(ctx, &name, timeout),
    }
}

#[derive(Serialize)]
struct CreatedJson<'a> {
    name: &'a str,
    handle: switchboard::Handle,
    already_existed: bool,
    held: bool,
}

fn create(ctx: &Ctx, name: &str, options: &EventOptions, hold: bool) -> Result<Done> {
    let conn = ctx.connect()?;
    let created = options.create(&conn, name)?;
    let handle = created.object.handle().raw();
    let already_existed = created.already_existed;
    let json = CreatedJson { name, handle, already_existed, held: hold };
    let what = if already_existed { "existing" } else { "new" };
    if hold {
        let holding = format!("holding {what} event {name:?} (handle {handle}); Ctrl-C or end of stdin releases it\n");
        if ctx.json {
            crate::output::print_json(&json)?;
            eprint!("{holding}");
        } else {
            crate::output::print(&holding);
        }
        super::hold_until_stdin_ends(&conn, "HoldEvent", name, "event")?;
        return created.object.close().map(|()| Done::Ok);
    }
    let verb = if already_existed { "opened existing" } else { "created" };
    ctx.emit(&json, || format!("{verb} event {name:?} (handle {handle})\n"))?;
    if !already_existed {
        eprintln!(
            "switchboard: warning: event {name:?} is destroyed as this command exits (an object lives while a handle to it does); use --hold to keep it"
        );
    }
    Ok(Done::Ok)
}

#[derive(Clone, Copy, Debug)]
enum Action {
    Set,
    Reset,
    Pulse,
}

#[derive(Serialize)]
struct ActedJson<'a> {
    name: &'a str,
    action: &'static str,
    was_signaled: bool,
}

fn act(ctx: &Ctx, name: &str, action: Action) -> Result<Done> {
    let conn = ctx.connect_existing()?;
    let event = Event::open(&conn, name, EVENT_MODIFY_STATE)?;
    let (was_signaled, verb, done) = match action {
        Action::Set => (event.set()?, "set", "set"),
        Action::Reset => (event.reset()?, "reset", "reset"),
        Action::Pulse => (event.pulse()?, "pulse", "pulsed"),
    };
    let json = ActedJson { name, action: verb, was_signaled };
    let before = if was_signaled { "signaled" } else { "not signaled" };
    ctx.emit(&json, || format!("event {name:?} {done} (was {before})\n"))?;
    Ok(Done::Ok)
}

#[derive(Serialize)]
struct WaitJson<'a> {
    name: &'a str,
    signaled: bool,
    timed_out: bool,
    timeout_ms: Option<u128>,
}

fn wait(ctx: &Ctx, name: &str, timeout: Option<Duration>) -> Result<Done> {
    let conn = ctx.connect_existing()?;
    let event = Event::open(&conn, name, SYNCHRONIZE)?;
    let signaled = match event.wait(timeout)? {
        WaitResult::Signaled(_) | WaitResult::Abandoned(_) => true,
        WaitResult::TimedOut => false,
    };
    let json = WaitJson { name, signaled, timed_out: !signaled, timeout_ms: timeout.map(|t| t.as_millis()) };
    ctx.emit(&json, || {
        if signaled {
            format!("event {name:?} signaled\n")
        } else {
            format!("timed out after {}\n", duration::format(timeout.unwrap_or_default()))
        }
    })?;
    Ok(if signaled { Done::Ok } else { Done::TimedOut })
}
