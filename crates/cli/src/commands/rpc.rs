//! `rpc serve-example|call-example`: the DCE/RPC example interface from the
//! shell.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use clap::Subcommand;
use switchboard::{Error, ErrorKind, Result, Win32Error};
use switchboard_rpc::binding::Binding;
use switchboard_rpc::client::Client;
use switchboard_rpc::epm::{Mapper, Registrations};
use switchboard_rpc::example::{self, Item, SwitchboardExampleClient};
use switchboard_rpc::server::Interface;

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
        /// Also run the endpoint mapper at ADDR (port 135 needs root), with
        /// the example's TCP endpoint registered.
        #[arg(long, value_name = "ADDR", requires = "tcp")]
        epm: Option<String>,
    },
    /// List what an endpoint mapper knows (`ept_lookup`), like `rpcclient epmlookup`.
    Ls {
        /// The mapper: `ncacn_ip_tcp:HOST[PORT]` (135 by default).
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

/// The directory of `ncalrpc` endpoints: beside the broker's socket.
fn ncalrpc_dir(ctx: &Ctx) -> PathBuf {
    let from_env = std::env::var_os("SWITCHBOARD_SOCKET").filter(|s| !s.is_empty()).map(PathBuf::from);
    let socket = ctx.socket.clone().or(from_env).unwrap_or_else(|| {
        switchboard_sys::Realm::user().map_or_else(|_| PathBuf::from("/tmp/switchboard"), |r| r.socket)
    });
    socket.parent().map_or_else(|| PathBuf::from("/tmp"), Path::to_path_buf).join("ncalrpc")
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
        RpcCommand::ServeExample { tcp, ncalrpc, epm } => {
            serve(ctx, tcp.as_deref(), ncalrpc.as_deref(), epm.as_deref())
        }
        RpcCommand::CallExample { binding, op, args } => call(ctx, &binding, &op, &args),
        RpcCommand::Ls { binding } => ls(ctx, &binding),
    }
}

fn serve(ctx: &Ctx, tcp: Option<&str>, ncalrpc: Option<&str>, epm: Option<&str>) -> Result<Done> {
    let op = "RpcServerListen";
    if tcp.is_none() && ncalrpc.is_none() {
        return Err(usage(op, "serve-example", "give --tcp ADDR, --ncalrpc NAME, or both"));
    }
    let make: Arc<dyn Fn() -> Vec<Box<dyn Interface>> + Send + Sync> = Arc::new(|| vec![example::server()]);
    let mut threads = Vec::new();
    if let Some(addr) = tcp {
        let listener = std::net::TcpListener::bind(addr).map_err(|e| io(op, addr, &e))?;
        let shown = listener.local_addr().map_or_else(|_| addr.to_owned(), |a| a.to_string());
        let port = listener.local_addr().map_or(0, |a| a.port());
        let host = shown.rsplit_once(':').map_or("", |(h, _)| h).to_owned();
        let mut line = format!("serving SwitchboardExample at ncacn_ip_tcp:{host}[{port}] ({shown})");
        let make = Arc::clone(&make);
        threads.push(std::thread::spawn(move || switchboard_rpc::tcp::serve(&listener, &make)));
        if let Some(epm) = epm {
            let mapper = std::net::TcpListener::bind(epm).map_err(|e| io(op, epm, &e))?;
            let epm_port = mapper.local_addr().map_or(0, |a| a.port());
            let registered: Registrations = Arc::new(Mutex::new(vec![(example::syntax(), port)]));
            let make: Arc<dyn Fn() -> Vec<Box<dyn Interface>> + Send + Sync> =
                Arc::new(move || vec![Box::new(Mapper::new(Arc::clone(&registered))) as Box<dyn Interface>]);
            let _ = write!(line, ", endpoint mapper at ncacn_ip_tcp:{host}[{epm_port}]");
            threads.push(std::thread::spawn(move || switchboard_rpc::tcp::serve(&mapper, &make)));
        }
        println!("{line}");
    }
    if let Some(name) = ncalrpc {
        let dir = ncalrpc_dir(ctx);
        std::fs::create_dir_all(&dir).map_err(|e| io(op, &dir.display().to_string(), &e))?;
        let path = dir.join(name);
        let _ = std::fs::remove_file(&path);
        let listener = std::os::unix::net::UnixListener::bind(&path).map_err(|e| io(op, name, &e))?;
        println!("serving SwitchboardExample at ncalrpc:[{name}] ({})", path.display());
        let (make, name) = (Arc::clone(&make), name.to_owned());
        threads.push(std::thread::spawn(move || switchboard_rpc::tcp::serve_local(&listener, &name, &make)));
    }
    for t in threads {
        let _ = t.join();
    }
    Ok(Done::Ok)
}

fn ls(ctx: &Ctx, binding: &str) -> Result<Done> {
    let op = "ept_lookup";
    let Binding::Tcp { host, port } = Binding::parse(binding).map_err(|why| usage(op, binding, why))? else {
        return Err(usage(op, binding, "the endpoint mapper is reached over ncacn_ip_tcp"));
    };
    let stream = std::net::TcpStream::connect((host.as_str(), port)).map_err(|e| io(op, binding, &e))?;
    let reply = Client::bind(stream, switchboard_rpc::epm::syntax())
        .and_then(|mut c| c.call(2, &switchboard_rpc::epm::lookup_request(500)))
        .map_err(|e| io(op, binding, &e))?;
    let (entries, status) =
        switchboard_rpc::epm::parse_lookup(&reply).map_err(|e| usage(op, binding, e.to_string()))?;
    if status != 0 && entries.is_empty() {
        return Err(Error::new(
            ErrorKind::Refused,
            Win32Error::ERROR_FILE_NOT_FOUND,
            op,
            Some(binding),
            format!("status 0x{status:08x}: nothing registered"),
        ));
    }
    let rows: Vec<serde_json::Value> = entries
        .iter()
        .map(|(t, annotation)| {
            let ip = t.ip.map(|b| b.to_string()).join(".");
            serde_json::json!({
                "interface": t.interface.uuid.to_string(),
                "version": format!("{}.{}", t.interface.major, t.interface.minor),
                "binding": format!("ncacn_ip_tcp:{ip}[{}]", t.port),
                "annotation": annotation,
            })
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

/// One operation of the example, through the generated client stubs.
fn call_op<S: std::io::Read + std::io::Write>(
    rpc: Client<S>,
    op_name: &str,
    args: &[String],
) -> std::result::Result<std::result::Result<String, String>, switchboard_rpc::client::Error> {
    let mut example = SwitchboardExampleClient::new(rpc);
    let numbers =
        || args.iter().map(|s| s.parse::<i32>().map_err(|_| format!("{s:?} is not a 32-bit number"))).collect();
    let numbers: std::result::Result<Vec<i32>, String> = numbers();
    let count = |n: usize| i32::try_from(n).unwrap_or(i32::MAX);
    Ok(Ok(match (op_name, args) {
        ("add", [_, _]) => match numbers.as_deref() {
            Ok(&[a, b]) => example.add(a, b)?.to_string(),
            Err(e) => return Ok(Err(e.clone())),
            Ok(_) => unreachable!("two arguments"),
        },
        ("length", [text]) => example.length(Some(text.clone()))?.to_string(),
        ("sum", _) => match numbers {
            Ok(values) => example.sum(count(values.len()), values)?.to_string(),
            Err(e) => return Ok(Err(e)),
        },
        ("reverse", [text]) => {
            let mut reply = Vec::new();
            example.reverse(count(text.len()), text.as_bytes().to_vec(), &mut reply)?;
            String::from_utf8_lossy(&reply).into_owned()
        }
        ("count-named", names) => {
            // Each argument a name; "-" for a NULL one.
            let items: Vec<Item> =
                (1..).zip(names).map(|(id, n)| Item { id, name: (n != "-").then(|| n.clone()) }).collect();
            let mut total = 0;
            let named = example.count_named(count(items.len()), items, &mut total)?;
            format!("{named} {total}")
        }
        _ => return Ok(Err("operations: add A B, length TEXT, sum N…, reverse TEXT, count-named NAME|-…".into())),
    }))
}

fn call(ctx: &Ctx, binding: &str, op_name: &str, args: &[String]) -> Result<Done> {
    let op = "RpcCall";
    let parsed = Binding::parse(binding).map_err(|why| usage(op, binding, why))?;
    let rpc_error = |e: switchboard_rpc::client::Error| match e {
        switchboard_rpc::client::Error::Io(e) => io(op, binding, &e),
        e => Error::new(ErrorKind::Refused, Win32Error::ERROR_BAD_NETPATH, op, Some(binding), e.to_string()),
    };
    let answer = match &parsed {
        Binding::Tcp { host, port } => {
            let stream = std::net::TcpStream::connect((host.as_str(), *port)).map_err(|e| io(op, binding, &e))?;
            let rpc = Client::bind(stream, example::syntax()).map_err(|e| io(op, binding, &e))?;
            call_op(rpc, op_name, args)
        }
        Binding::Local { endpoint } => {
            let path = ncalrpc_dir(ctx).join(endpoint);
            let stream = std::os::unix::net::UnixStream::connect(&path).map_err(|e| io(op, binding, &e))?;
            let rpc = Client::bind(stream, example::syntax()).map_err(|e| io(op, binding, &e))?;
            call_op(rpc, op_name, args)
        }
    };
    let text = answer.map_err(rpc_error)?.map_err(|why| usage(op, op_name, why))?;
    ctx.emit(&serde_json::json!({ "binding": parsed.to_string(), "op": op_name, "result": text }), || {
        format!("{text}\n")
    })?;
    Ok(Done::Ok)
}
