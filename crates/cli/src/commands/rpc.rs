//! `rpc serve-example|call-example`: the DCE/RPC example interface from the
//! shell.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::Subcommand;
use switchboard::{Error, ErrorKind, Result, Win32Error};
use switchboard_rpc::binding::Binding;
use switchboard_rpc::connection::{Connection, Options};
use switchboard_rpc::epm::{Endpoint, EndpointMapperClient, Mapper, Registration, Registrations, Tower, lookup_all};
use switchboard_rpc::example::{self, Item, SwitchboardExampleClient};
use switchboard_rpc::runtime::MakeInterfaces;

use super::{Ctx, Done};

/// DCE/RPC commands.
#[derive(Debug, Subcommand)]
pub enum RpcCommand {
    /// Serve the example interface (5b9f3a4e-…, v1.0) until interrupted.
    ServeExample {
        /// Listen on TCP (`ncacn_ip_tcp`), e.g. 127.0.0.1:5000.
        #[arg(long, value_name = "ADDR")]
        tcp: Option<String>,
        /// Listen on `ncalrpc` endpoint NAME: a Unix socket in the realm's `ncalrpc` directory.
        #[arg(long, value_name = "NAME")]
        ncalrpc: Option<String>,
        /// Listen on `ncacn_np`: the Switchboard named pipe `\\.\pipe\NAME`, message mode.
        #[arg(long, value_name = "NAME")]
        np: Option<String>,
        /// Also run the endpoint mapper at ADDR (port 135 needs root) and at
        /// `ncalrpc:[EPMAPPER]`, with the example's endpoints registered.
        #[arg(long, value_name = "ADDR", conflicts_with = "register")]
        epm: Option<String>,
        /// Register the example's endpoints with the running endpoint mapper
        /// at `ncalrpc:[EPMAPPER]` (`switchboard rpc epmapper`), as `RpcEpRegister` does.
        #[arg(long)]
        register: bool,
    },
    /// Run the endpoint mapper alone: at `ncalrpc:[EPMAPPER]`, where local
    /// servers register (`ept_insert`), and optionally on TCP (read-only).
    Epmapper {
        /// Also listen on TCP, e.g. 127.0.0.1:135 (needs root) or 127.0.0.1:5135.
        #[arg(long, value_name = "ADDR")]
        tcp: Option<String>,
    },
    /// List what an endpoint mapper knows (`ept_lookup`), like `rpcclient epmlookup`.
    Ls {
        /// The mapper: `ncacn_ip_tcp:HOST[PORT]` (port 135 by default) or `ncalrpc:[EPMAPPER]`.
        #[arg(default_value = "ncacn_ip_tcp:127.0.0.1[135]")]
        binding: String,
    },
    /// Call one operation of the example interface: `add A B`, `length TEXT`,
    /// `sum N…`, `reverse TEXT`, `count-named NAME|-…`.
    CallExample {
        /// Where: `ncacn_ip_tcp:HOST[PORT]` or `ncalrpc:[NAME]`.
        binding: String,
        /// The operation.
        op: String,
        /// Its arguments.
        args: Vec<String>,
    },
}

/// The directory of `ncalrpc` endpoints: the realm's own (`<realm>/ncalrpc`).
fn ncalrpc_dir(ctx: &Ctx) -> PathBuf {
    match ctx.socket() {
        Some(socket) => switchboard::Realm::custom(&socket).ncalrpc_dir(),
        // No realm: an empty path, which every ncalrpc use reports as such.
        None => switchboard_rpc::local::default_dir().unwrap_or_default(),
    }
}

fn io(op: &'static str, what: &str, e: &std::io::Error) -> Error {
    Error::new(ErrorKind::Refused, Win32Error::ERROR_BAD_NETPATH, op, Some(what), e.to_string())
}

fn usage(op: &'static str, what: &str, reason: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidArgument, Win32Error::ERROR_INVALID_PARAMETER, op, Some(what), reason)
}

/// Runs an RPC command.
pub fn run(ctx: &Ctx, command: RpcCommand) -> Result<Done> {
    match command {
        RpcCommand::ServeExample { tcp, ncalrpc, np, epm, register } => serve(
            ctx,
            &Listen { tcp: tcp.as_deref(), ncalrpc: ncalrpc.as_deref(), np: np.as_deref() },
            epm.as_deref(),
            register,
        ),
        RpcCommand::Epmapper { tcp } => epmapper(ctx, tcp.as_deref()),
        RpcCommand::CallExample { binding, op, args } => call(ctx, &binding, &op, &args),
        RpcCommand::Ls { binding } => ls(ctx, &binding),
    }
}

/// Where `serve-example` listens.
struct Listen<'a> {
    tcp: Option<&'a str>,
    ncalrpc: Option<&'a str>,
    np: Option<&'a str>,
}

/// This machine's name, as a NetBIOS-style `\\HOST` for towers.
fn host_name() -> String {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    format!(r"\\{}", name.trim().to_uppercase())
}

fn serve(ctx: &Ctx, listen: &Listen<'_>, epm: Option<&str>, register_with_mapper: bool) -> Result<Done> {
    let op = "RpcServerListen";
    let Listen { tcp, ncalrpc, np } = *listen;
    if tcp.is_none() && ncalrpc.is_none() && np.is_none() {
        return Err(usage(op, "serve-example", "give --tcp ADDR, --ncalrpc NAME, --np NAME, or several"));
    }
    let make: MakeInterfaces = Arc::new(|| vec![example::server()]);
    let registered: Registrations = Arc::new(Mutex::new(Vec::new()));
    let register = |endpoint: Endpoint| {
        let r = Registration::new(example::syntax(), endpoint, "Switchboard example");
        registered.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(r);
    };
    let mut threads = Vec::new();
    let mut lines = Vec::new();
    if let Some(addr) = tcp {
        let listener = std::net::TcpListener::bind(addr).map_err(|e| io(op, addr, &e))?;
        let local = listener.local_addr().map_err(|e| io(op, addr, &e))?;
        let ip = match local.ip() {
            std::net::IpAddr::V4(v4) if !v4.is_unspecified() => v4.octets(),
            _ => [127, 0, 0, 1],
        };
        register(Endpoint::Tcp { ip, port: local.port() });
        lines.push(format!("serving SwitchboardExample at ncacn_ip_tcp:{}[{}] ({local})", local.ip(), local.port()));
        let make = Arc::clone(&make);
        threads.push(std::thread::spawn(move || switchboard_rpc::runtime::serve(&listener, &make)));
    }
    let dir = ncalrpc_dir(ctx);
    if let Some(name) = ncalrpc {
        let listener = listen_local(op, &dir, name)?;
        register(Endpoint::Local { name: name.to_owned() });
        lines.push(format!("serving SwitchboardExample at ncalrpc:[{name}] ({})", dir.join(name).display()));
        let (make, name) = (Arc::clone(&make), name.to_owned());
        threads.push(std::thread::spawn(move || switchboard_rpc::runtime::serve_local(&listener, &name, &make)));
    }
    if let Some(name) = np {
        let conn = ctx.connect()?;
        register(Endpoint::Pipe { pipe: format!(r"\PIPE\{name}"), host: host_name() });
        lines.push(format!(r"serving SwitchboardExample at ncacn_np:[\pipe\{name}]"));
        let (make, name) = (Arc::clone(&make), name.to_owned());
        threads.push(std::thread::spawn(move || {
            switchboard_rpc::np::serve(&conn, &name, &make, switchboard_rpc::runtime::Limits::default())
                .map_err(std::io::Error::from)
        }));
    }
    if let Some(epm) = epm {
        start_mapper(ctx, &registered, Some(epm), &mut threads, &mut lines)?;
    }
    // Registered for as long as this process serves: the guard lives to the end.
    let mut registration = None;
    if register_with_mapper {
        let entries = registered.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        let guard = switchboard_rpc::epm::register(&rpc_options(ctx), &entries)
            .map_err(|e| rpc_error("RpcEpRegister", "ncalrpc:[EPMAPPER]", e))?;
        registration = Some(guard);
        lines.push(format!("registered {} endpoint(s) with ncalrpc:[EPMAPPER]", entries.len()));
    }
    for line in lines {
        println!("{line}");
    }
    for t in threads {
        let _ = t.join();
    }
    drop(registration);
    Ok(Done::Ok)
}

/// The endpoint mapper alone.
fn epmapper(ctx: &Ctx, tcp: Option<&str>) -> Result<Done> {
    let registered: Registrations = Arc::new(Mutex::new(Vec::new()));
    let (mut threads, mut lines) = (Vec::new(), Vec::new());
    start_mapper(ctx, &registered, tcp, &mut threads, &mut lines)?;
    for line in lines {
        println!("{line}");
    }
    for t in threads {
        let _ = t.join();
    }
    Ok(Done::Ok)
}

/// Starts the endpoint mapper over `registered`: at `ncalrpc:[EPMAPPER]`,
/// where local servers register (no idle timeout there: a server's
/// registrations last as long as its association), and, given an address,
/// on TCP (read-only).
fn start_mapper(
    ctx: &Ctx,
    registered: &Registrations,
    tcp: Option<&str>,
    threads: &mut Vec<std::thread::JoinHandle<std::io::Result<()>>>,
    lines: &mut Vec<String>,
) -> Result<()> {
    let op = "RpcServerListen";
    let dir = ncalrpc_dir(ctx);
    let listener = listen_local(op, &dir, "EPMAPPER")?;
    let local = Arc::clone(registered);
    let make: MakeInterfaces = Arc::new(move || vec![Mapper::local(Arc::clone(&local)).into_server()]);
    // Registrations last as long as their association, so the local
    // mapper never closes idle ones; and its directory is the realm's own
    // (0700), whose servers are all one user's, so no per-peer share.
    let defaults = switchboard_rpc::runtime::Limits::default();
    let limits = switchboard_rpc::runtime::Limits {
        idle_timeout: Duration::ZERO,
        max_associations_per_peer: Some(defaults.max_associations),
        ..defaults
    };
    threads.push(std::thread::spawn(move || {
        switchboard_rpc::runtime::serve_local_with(&listener, "EPMAPPER", &make, limits)
    }));
    lines.push(format!("endpoint mapper at ncalrpc:[EPMAPPER] ({})", dir.join("EPMAPPER").display()));
    if let Some(addr) = tcp {
        let mapper = std::net::TcpListener::bind(addr).map_err(|e| io(op, addr, &e))?;
        let at = mapper.local_addr().map_err(|e| io(op, addr, &e))?;
        let remote = Arc::clone(registered);
        let make: MakeInterfaces = Arc::new(move || vec![Mapper::new(Arc::clone(&remote)).into_server()]);
        lines.push(format!("endpoint mapper at ncacn_ip_tcp:{}[{}]", at.ip(), at.port()));
        threads.push(std::thread::spawn(move || switchboard_rpc::runtime::serve(&mapper, &make)));
    }
    Ok(())
}

/// Listens at `ncalrpc:[NAME]`: a Unix socket in `dir`, made only its owner's.
fn listen_local(op: &'static str, dir: &Path, name: &str) -> Result<std::os::unix::net::UnixListener> {
    switchboard_rpc::local::listen(dir, name).map_err(|e| io(op, &dir.join(name).display().to_string(), &e))
}

fn ls(ctx: &Ctx, binding: &str) -> Result<Done> {
    let op = "ept_lookup";
    let parsed = Binding::parse(binding).map_err(|why| usage(op, binding, why))?;
    let rpc = connect(ctx, op, binding, &parsed, switchboard_rpc::epm::syntax())?;
    let entries = lookup_all(&mut EndpointMapperClient::new(rpc), 1000).map_err(|e| rpc_error(op, binding, e))?;
    let rows: Vec<serde_json::Value> = entries
        .iter()
        .filter_map(|e| {
            let t = Tower::decode(&e.tower.as_ref()?.octets)?;
            Some(serde_json::json!({
                "interface": t.interface.uuid.to_string(),
                "version": format!("{}.{}", t.interface.major, t.interface.minor),
                "binding": t.endpoint.to_string(),
                "annotation": e.annotation,
            }))
        })
        .collect();
    ctx.emit(&rows, || {
        let mut text = String::new();
        for r in &rows {
            let field = |k: &str| r[k].as_str().unwrap_or("").to_owned();
            let _ = writeln!(
                text,
                "{} v{}  {}  {}",
                field("interface"),
                field("version"),
                field("binding"),
                field("annotation")
            );
        }
        text
    })?;
    Ok(Done::Ok)
}

/// The CLI's client options: its realm's ncalrpc directory and broker, 30 s calls.
fn rpc_options(ctx: &Ctx) -> Options {
    Options {
        ncalrpc_dir: ncalrpc_dir(ctx),
        call_timeout: Duration::from_secs(30),
        broker_socket: ctx.socket(),
        ..Options::default()
    }
}

/// A connection to `interface` at `binding`, with the CLI's timeouts.
fn connect(
    ctx: &Ctx,
    op: &'static str,
    text: &str,
    binding: &Binding,
    interface: switchboard_rpc::uuid::SyntaxId,
) -> Result<Connection> {
    let options =
        Options { ncalrpc_dir: ncalrpc_dir(ctx), call_timeout: Duration::from_secs(30), ..Options::default() };
    Connection::connect(binding, interface, &options).map_err(|e| rpc_error(op, text, e))
}

fn rpc_error(op: &'static str, binding: &str, e: switchboard_rpc::client::Error) -> Error {
    match e {
        switchboard_rpc::client::Error::Io(e) => io(op, binding, &e),
        switchboard_rpc::client::Error::Timeout { .. } => {
            Error::new(ErrorKind::TimedOut, Win32Error::ERROR_TIMEOUT, op, Some(binding), e.to_string())
        }
        e => Error::new(ErrorKind::Refused, Win32Error::ERROR_BAD_NETPATH, op, Some(binding), e.to_string()),
    }
}

/// One operation of the example interface, with its arguments.
enum ExampleCall {
    Add(i32, i32),
    Length(String),
    Sum(Vec<i32>),
    Reverse(Vec<u8>),
    /// Each argument a name; "-" for a NULL one.
    CountNamed(Vec<Item>),
}

impl ExampleCall {
    fn parse(op_name: &str, args: &[String]) -> std::result::Result<Self, String> {
        let number = |s: &String| s.parse::<i32>().map_err(|_| format!("{s:?} is not a 32-bit number"));
        Ok(match (op_name, args) {
            ("add", [a, b]) => Self::Add(number(a)?, number(b)?),
            ("length", [text]) => Self::Length(text.clone()),
            ("sum", values) => Self::Sum(values.iter().map(number).collect::<std::result::Result<_, _>>()?),
            ("reverse", [text]) => Self::Reverse(text.as_bytes().to_vec()),
            ("count-named", names) => Self::CountNamed(
                (1..).zip(names).map(|(id, n)| Item { id, name: (n != "-").then(|| n.clone()) }).collect(),
            ),
            _ => return Err("operations: add A B, length TEXT, sum N…, reverse TEXT, count-named NAME|-…".into()),
        })
    }

    /// Makes the call through the generated client stubs: the answer as text.
    fn run(self, rpc: Connection) -> std::result::Result<String, switchboard_rpc::client::Error> {
        let mut example = SwitchboardExampleClient::new(rpc);
        let count = |n: usize| i32::try_from(n).unwrap_or(i32::MAX);
        Ok(match self {
            Self::Add(a, b) => example.add(a, b)?.to_string(),
            Self::Length(text) => example.length(Some(text))?.to_string(),
            Self::Sum(values) => example.sum(count(values.len()), values)?.to_string(),
            Self::Reverse(data) => {
                let mut reply = Vec::new();
                example.reverse(count(data.len()), data, &mut reply)?;
                String::from_utf8_lossy(&reply).into_owned()
            }
            Self::CountNamed(items) => {
                let mut total = 0;
                let named = example.count_named(count(items.len()), items, &mut total)?;
                format!("{named} {total}")
            }
        })
    }
}

fn call(ctx: &Ctx, binding: &str, op_name: &str, args: &[String]) -> Result<Done> {
    let op = "RpcCall";
    let parsed = Binding::parse(binding).map_err(|why| usage(op, binding, why))?;
    let request = ExampleCall::parse(op_name, args).map_err(|why| usage(op, op_name, why))?;
    let rpc = connect(ctx, op, binding, &parsed, example::syntax())?;
    let text = request.run(rpc).map_err(|e| rpc_error(op, binding, e))?;
    ctx.emit(&serde_json::json!({ "binding": parsed.to_string(), "op": op_name, "result": text }), || {
        format!("{text}\n")
    })?;
    Ok(Done::Ok)
}
