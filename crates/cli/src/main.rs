//! `switchboard`: use and inspect Switchboard objects from the shell.
//!
//! Exit codes (DESIGN.md §6): 0 ok, 1 error, 2 usage, 3 broker unreachable,
//! 4 not found, 5 access denied, 6 timed out, 7 busy or already exists.
#![forbid(unsafe_code)]

mod commands;
mod duration;
mod output;
mod size;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};
use serde::Serialize;
use switchboard::{Error, ErrorKind, RealmChoice, Win32Error};

use commands::atom::AtomCommand;
use commands::daemon::DaemonCommand;
use commands::event::EventCommand;
use commands::mailslot::MailslotCommand;
use commands::mutex::MutexCommand;
use commands::objects;
use commands::pipe::PipeCommand;
use commands::reg::RegCommand;
use commands::rpc::RpcCommand;
use commands::section::SectionCommand;
use commands::sem::SemCommand;
use commands::{Ctx, Done};

const AFTER_HELP: &str = "\
Exit status: 0 ok, 1 error, 2 usage, 3 broker unreachable, 4 not found,
5 access denied, 6 timed out, 7 busy or already exists.

--system (or SWITCHBOARD_REALM=system) uses the system realm, whose broker
only root may start (`switchboardd --system`).

Commands that only look at or act on existing objects never start a broker;
`event create`, `mutex create`, `sem create`, `section create`, `atom add`,
`pipe serve`, `mailslot serve` and `daemon start` do (unless
SWITCHBOARD_NO_AUTOSTART=1, which `daemon start` ignores).";

/// Use and inspect Switchboard objects (Windows IPC semantics on Linux).
#[derive(Debug, Parser)]
#[command(name = "switchboard", version, after_help = AFTER_HELP)]
struct Cli {
    /// Machine-readable output: one JSON value on stdout per command.
    #[arg(long, global = true)]
    json: bool,
    /// The broker's socket (default: `$SWITCHBOARD_SOCKET` if set and not empty,
    /// else the user realm's).
    #[arg(long, global = true, value_name = "PATH")]
    socket: Option<PathBuf>,
    /// Use the system realm (/run/switchboard), as `SWITCHBOARD_REALM=system`
    /// does; only root may start its broker.
    #[arg(long, global = true, conflicts_with = "socket")]
    system: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show the broker's pid, version, uptime and counters; never starts one.
    Status,
    /// List a namespace directory.
    Ls {
        /// The directory; the default is where program names such as `E`
        /// resolve, this user's session directory `\Sessions\<uid>\BaseNamedObjects`.
        #[arg(value_name = "PATH")]
        path: Option<String>,
    },
    /// Show a namespace directory and every directory below it (links are not followed).
    Tree {
        /// Where to start.
        #[arg(value_name = "PATH", default_value = "\\")]
        path: String,
    },
    /// Show one object: kind, path, state, security and who holds handles.
    ///
    /// Needs `READ_CONTROL` on the object (its owner and root have it); the
    /// holders are your own user's handles unless you are root.
    Show {
        /// A program name (`E`, `Global\E`) or an absolute path (`\BaseNamedObjects\E`).
        name: String,
    },
    /// List open handles: your own user's, or every user's for root.
    Handles {
        /// Only this process's handles.
        #[arg(long, value_name = "PID")]
        pid: Option<u32>,
    },
    /// Explain what a user may do with an object, and which ACE decided.
    ///
    /// Needs `READ_CONTROL` on the object (its owner and root have it).
    Access {
        /// A program name or an absolute path.
        name: String,
        /// A user name or uid.
        #[arg(long, value_name = "USER")]
        user: String,
    },
    /// Events: create, set, reset, pulse, wait.
    #[command(subcommand)]
    Event(EventCommand),
    /// Mutexes: create, acquire.
    ///
    /// A mutex belongs to the thread that acquired it: only that thread may
    /// release it, and if its process ends while owning it (killed, say), the
    /// mutex is abandoned: the next process to acquire it owns it and is told
    /// so. Each `switchboard` command is a process of its own, so one cannot
    /// release what another acquired: there is deliberately no `mutex
    /// release`. Instead `mutex acquire --hold` keeps ownership until its
    /// standard input ends, then releases it; without --hold, `mutex acquire`
    /// releases at once.
    #[command(subcommand)]
    Mutex(MutexCommand),
    /// Semaphores: create, wait, release.
    #[command(subcommand)]
    Sem(SemCommand),
    /// Global atoms: add, find, name, delete, ls.
    #[command(subcommand)]
    Atom(AtomCommand),
    /// Named pipes: serve, connect, call, ls.
    #[command(subcommand)]
    Pipe(PipeCommand),
    /// Mailslots: serve, send, info, ls.
    #[command(subcommand)]
    Mailslot(MailslotCommand),
    /// Named shared memory (file mappings): create, write, dump, info.
    #[command(subcommand)]
    Section(SectionCommand),
    /// The registry, as reg.exe: query, add, delete, export, import
    /// (options as `/v` or `--v`).
    #[command(subcommand)]
    Reg(RegCommand),
    /// DCE/RPC: serve and call the example interface.
    #[command(subcommand)]
    Rpc(RpcCommand),
    /// The broker: start, stop, restart, status.
    #[command(subcommand)]
    Daemon(DaemonCommand),
    /// Print a shell completion script.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

impl Cli {
    /// The realm the global flags name, if they name one.
    fn realm(&self) -> Option<RealmChoice> {
        match (&self.socket, self.system) {
            (_, true) => Some(RealmChoice::System),
            (Some(path), false) => Some(RealmChoice::Socket(path.clone())),
            (None, false) => None,
        }
    }

    /// What clap's attributes cannot say: global flags that clash with a
    /// subcommand's (a usage error, exit 2).
    fn check(&self) -> Result<(), clap::Error> {
        if self.json && matches!(self.command, Command::Section(SectionCommand::Dump { raw: true, .. })) {
            return Err(Cli::command().error(
                clap::error::ErrorKind::ArgumentConflict,
                "--raw writes the bytes themselves, --json a JSON value: use one or the other",
            ));
        }
        Ok(())
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse_from(commands::reg::rewrite_args(std::env::args_os().collect()));
    if let Err(e) = cli.check() {
        e.exit();
    }
    let ctx = Ctx { json: cli.json, realm: cli.realm() };
    match run(&ctx, cli.command) {
        Ok(Done::Ok) => ExitCode::SUCCESS,
        Ok(Done::TimedOut) => ExitCode::from(6),
        Err(e) => {
            report(&ctx, &e);
            ExitCode::from(exit_code(&e))
        }
    }
}

fn run(ctx: &Ctx, command: Command) -> switchboard::Result<Done> {
    match command {
        Command::Status => objects::status(ctx),
        Command::Ls { path } => objects::ls(ctx, &path.unwrap_or_else(objects::default_directory)),
        Command::Tree { path } => objects::tree(ctx, &path),
        Command::Show { name } => objects::show(ctx, &name),
        Command::Handles { pid } => objects::handles(ctx, pid),
        Command::Access { name, user } => objects::access(ctx, &name, &user),
        Command::Event(c) => commands::event::run(ctx, c),
        Command::Mutex(c) => commands::mutex::run(ctx, c),
        Command::Sem(c) => commands::sem::run(ctx, c),
        Command::Atom(c) => commands::atom::run(ctx, c),
        Command::Pipe(c) => commands::pipe::run(ctx, c),
        Command::Mailslot(c) => commands::mailslot::run(ctx, c),
        Command::Section(c) => commands::section::run(ctx, c),
        Command::Reg(c) => commands::reg::run(ctx, c),
        Command::Rpc(c) => commands::rpc::run(ctx, c),
        Command::Daemon(c) => commands::daemon::run(ctx, c),
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "switchboard", &mut script);
            output::print(&String::from_utf8_lossy(&script));
            Ok(Done::Ok)
        }
    }
}

/// The exit status for a failure (DESIGN.md §6).
fn exit_code(e: &Error) -> u8 {
    match e.kind() {
        ErrorKind::BrokerUnreachable | ErrorKind::VersionMismatch => return 3,
        ErrorKind::TimedOut => return 6,
        _ => {}
    }
    match e.win32_error() {
        Win32Error::ERROR_FILE_NOT_FOUND | Win32Error::ERROR_PATH_NOT_FOUND => 4,
        Win32Error::ERROR_ACCESS_DENIED => 5,
        Win32Error::ERROR_TIMEOUT | Win32Error::ERROR_SEM_TIMEOUT => 6,
        Win32Error::ERROR_ALREADY_EXISTS | Win32Error::ERROR_PIPE_BUSY | Win32Error::ERROR_BUSY => 7,
        _ => 1,
    }
}

#[derive(Serialize)]
struct ErrorJson<'a> {
    operation: &'a str,
    object: Option<&'a str>,
    code: u32,
    code_name: Option<&'static str>,
    reason: &'a str,
}

#[derive(Serialize)]
struct ErrorReport<'a> {
    error: ErrorJson<'a>,
}

/// Says what failed on stderr, and with `--json` also as JSON on stdout.
fn report(ctx: &Ctx, e: &Error) {
    eprintln!("switchboard: {e}");
    if ctx.json {
        let code = e.win32_error();
        let error = ErrorJson {
            operation: e.operation(),
            object: e.object(),
            code: code.0,
            code_name: code.name(),
            reason: e.reason(),
        };
        // Serializing strings and numbers cannot fail; if it did, stderr already has the story.
        let _ = output::print_json(&ErrorReport { error });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(code: Win32Error) -> Error {
        Error::new(ErrorKind::Refused, code, "OpenEvent", Some("E"), "test")
    }

    #[test]
    fn command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn failures_map_to_the_documented_exit_codes() {
        let unreachable =
            Error::new(ErrorKind::BrokerUnreachable, Win32Error::ERROR_SERVICE_NOT_ACTIVE, "Connect", None, "x");
        let mismatch =
            Error::new(ErrorKind::VersionMismatch, Win32Error::ERROR_REVISION_MISMATCH, "Connect", None, "x");
        let slow = Error::new(ErrorKind::TimedOut, Win32Error::ERROR_TIMEOUT, "Status", None, "x");
        assert_eq!(exit_code(&unreachable), 3);
        assert_eq!(exit_code(&mismatch), 3);
        assert_eq!(exit_code(&refused(Win32Error::ERROR_FILE_NOT_FOUND)), 4);
        assert_eq!(exit_code(&refused(Win32Error::ERROR_PATH_NOT_FOUND)), 4);
        assert_eq!(exit_code(&refused(Win32Error::ERROR_ACCESS_DENIED)), 5);
        assert_eq!(exit_code(&slow), 6);
        assert_eq!(exit_code(&refused(Win32Error::ERROR_ALREADY_EXISTS)), 7);
        assert_eq!(exit_code(&refused(Win32Error::ERROR_PIPE_BUSY)), 7);
        assert_eq!(exit_code(&refused(Win32Error::ERROR_BUSY)), 7);
        assert_eq!(exit_code(&refused(Win32Error::ERROR_INVALID_HANDLE)), 1);
    }

    #[test]
    fn bad_durations_are_usage_errors() {
        let e = Cli::try_parse_from(["switchboard", "event", "wait", "E", "--timeout", "5x"]).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        let ok = Cli::try_parse_from(["switchboard", "event", "wait", "E", "--timeout", "5s"]);
        assert!(ok.is_ok());
    }

    #[test]
    fn bad_sizes_are_usage_errors() {
        for bad in ["0", "0MiB", "1MB", "-1", "x"] {
            let e = Cli::try_parse_from(["switchboard", "section", "create", "S", "--size", bad]).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{bad:?}");
        }
        assert!(Cli::try_parse_from(["switchboard", "section", "create", "S", "--size", "1MiB"]).is_ok());
        let both = Cli::try_parse_from(["switchboard", "--json", "section", "dump", "S", "--raw"]).unwrap();
        assert_eq!(both.check().unwrap_err().exit_code(), 2);
        let raw = Cli::try_parse_from(["switchboard", "section", "dump", "S", "--raw"]).unwrap();
        assert!(raw.check().is_ok());
    }

    #[test]
    fn global_flags_go_anywhere() {
        let cli = Cli::try_parse_from(["switchboard", "ls", "--json", "--socket", "/tmp/s"]).unwrap();
        assert!(cli.json);
        assert_eq!(cli.socket, Some(PathBuf::from("/tmp/s")));
    }

    #[test]
    fn system_flag_selects_the_system_realm_and_excludes_socket() {
        let cli = Cli::try_parse_from(["switchboard", "ls", "--system"]).unwrap();
        assert_eq!(cli.realm(), Some(RealmChoice::System));
        let both = Cli::try_parse_from(["switchboard", "--system", "--socket", "/tmp/s", "ls"]).unwrap_err();
        assert_eq!(both.exit_code(), 2);
    }
}
