//! `switchboardd`: the Switchboard broker, one per realm.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use switchboard_broker::server::{Server, ServerConfig, StartError};
use switchboard_sys::{RealmChoice, RealmKind};

/// Exit code when another broker already serves the realm.
const EXIT_ALREADY_RUNNING: u8 = 10;

/// The Switchboard broker: names, handles, security and lifetimes for every
/// Switchboard object in one realm.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Stay in the foreground, logging to standard error (the default is to
    /// start in the background and return once the broker is ready).
    #[arg(long)]
    foreground: bool,
    /// Serve the system realm (/run/switchboard) instead of the user realm
    /// (also $`SWITCHBOARD_REALM=system`).
    #[arg(long, conflicts_with = "socket")]
    system: bool,
    /// Serve a realm at this socket path (also $`SWITCHBOARD_SOCKET`); the
    /// system or user realm's own socket, however spelt, serves that realm.
    #[arg(long, env = "SWITCHBOARD_SOCKET")]
    socket: Option<std::path::PathBuf>,
    /// Clients connected at once.
    #[arg(long, default_value_t = 4096)]
    max_clients: usize,
    /// Handles one client may hold.
    #[arg(long, default_value_t = 16_384)]
    max_handles: usize,
    /// Largest request frame, in bytes.
    #[arg(long, default_value_t = 65_536)]
    max_frame: usize,
    /// Connections one user may have at once (root and the broker's own
    /// user excepted); by default a quarter of --max-clients, and at most a
    /// sixteenth of the descriptor limit.
    #[arg(long)]
    max_conns_per_uid: Option<usize>,
    /// Handles one user's processes may hold together (root and the
    /// broker's own user excepted); by default an eighth of the broker's
    /// handle budget, itself three quarters of the descriptor limit.
    #[arg(long)]
    max_handles_per_uid: Option<usize>,
    /// Seconds a connection holding nothing must have been silent before
    /// it may be closed to make room for a new one, when a limit is reached.
    #[arg(long, default_value_t = 30)]
    evict_idle_after: u64,
    /// Internal: the background child of a non-foreground start.
    #[arg(long, hide = true)]
    detached: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_env("SWITCHBOARD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();

    let choice = match (&args.socket, args.system) {
        (Some(path), _) => Ok(RealmChoice::Socket(path.clone())),
        (None, true) => Ok(RealmChoice::System),
        (None, false) => RealmChoice::from_env(),
    };
    let realm = choice.and_then(|c| c.open(c.kind() == RealmKind::System));
    let realm = match realm {
        Ok(r) => r,
        Err(e) => {
            eprintln!("switchboardd: {e}");
            return ExitCode::FAILURE;
        }
    };
    if !args.foreground && !args.detached {
        return start_in_background(&realm);
    }
    if args.detached {
        // Leave the starting terminal's session so its hang-up does not reach us.
        let _ = rustix::process::setsid();
    }
    let fds = switchboard_sys::limits::raise_fd_limit();
    tracing::debug!(fds, "descriptor limit");
    let mut config = ServerConfig::new(realm);
    config.core.max_clients = args.max_clients;
    config.core.max_handles = args.max_handles;
    config.max_frame = args.max_frame;
    config.limits = switchboard_broker::server::Limits::for_budget(fds, args.max_clients);
    if let Some(n) = args.max_conns_per_uid {
        config.limits.max_conns_per_uid = n;
    }
    if let Some(n) = args.max_handles_per_uid {
        config.core.max_handles_per_uid = n;
    }
    config.limits.evict_idle_after = std::time::Duration::from_secs(args.evict_idle_after);
    let mut server = match Server::bind(config) {
        Ok(s) => s,
        Err(e @ (StartError::AlreadyRunning { .. } | StartError::SocketInUse { .. })) => {
            eprintln!("switchboardd: {e}");
            return ExitCode::from(EXIT_ALREADY_RUNNING);
        }
        Err(e) => {
            eprintln!("switchboardd: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = server.handle_signals() {
        eprintln!("switchboardd: cannot install signal handlers: {e}");
        return ExitCode::FAILURE;
    }
    if let Err(e) = switchboard_sys::notify::sd_notify("READY=1") {
        tracing::warn!(error = %e, "systemd readiness notification failed");
    }
    match server.run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("switchboardd: event loop failed: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Starts a detached copy of this program with its log in the realm, and
/// returns once it accepts connections (or says why it could not).
fn start_in_background(realm: &switchboard_sys::Realm) -> ExitCode {
    // Readiness below is "the socket answers": a socket that answers already
    // is someone else's, which the child would refuse to take over anyway.
    if std::os::unix::net::UnixStream::connect(&realm.socket).is_ok() {
        eprintln!("switchboardd: a broker is already serving {}", realm.socket.display());
        return ExitCode::from(EXIT_ALREADY_RUNNING);
    }
    let log = match switchboard_broker::logfile::open_private_log(&realm.log) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("switchboardd: cannot open the log {}: {e}", realm.log.display());
            return ExitCode::FAILURE;
        }
    };
    let exe = std::env::current_exe().unwrap_or_else(|_| "switchboardd".into());
    let mut cmd = std::process::Command::new(exe);
    // The same arguments (and environment) name the same realm.
    cmd.args(std::env::args_os().skip(1)).arg("--detached");
    let stderr = match log.try_clone() {
        Ok(f) => f,
        Err(e) => {
            eprintln!("switchboardd: {e}");
            return ExitCode::FAILURE;
        }
    };
    cmd.stdin(std::process::Stdio::null()).stdout(log).stderr(stderr);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("switchboardd: cannot start the background broker: {e}");
            return ExitCode::FAILURE;
        }
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            if status.code() == Some(i32::from(EXIT_ALREADY_RUNNING)) {
                eprintln!("switchboardd: already running for {}", realm.socket.display());
                return ExitCode::from(EXIT_ALREADY_RUNNING);
            }
            eprintln!("switchboardd: the background broker exited ({status}); see {}", realm.log.display());
            return ExitCode::FAILURE;
        }
        if std::os::unix::net::UnixStream::connect(&realm.socket).is_ok() {
            println!("switchboardd started (pid {}) on {}", child.id(), realm.socket.display());
            return ExitCode::SUCCESS;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    eprintln!("switchboardd: the background broker did not become ready within 10 s; see {}", realm.log.display());
    ExitCode::FAILURE
}
