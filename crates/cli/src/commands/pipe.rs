//! `pipe serve|connect|call|ls`: named pipes from the shell.

use std::io::{BufRead, IsTerminal, Read, Write};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use clap::Subcommand;
use serde::Serialize;
use switchboard::pipe::{
    self, GENERIC_READ_WRITE, PIPE_UNLIMITED_INSTANCES, PipeClient, PipeMode, PipeServer, ServerOptions,
};
use switchboard::{Error, ErrorKind, Result, Win32Error};

use super::{Ctx, Done};
use crate::duration;
use crate::output::{Table, write_stdout};

/// What one read takes at most, and the largest reply `pipe call` shows.
const CHUNK: usize = 64 * 1024;

/// Named pipe commands.
#[derive(Debug, Subcommand)]
pub enum PipeCommand {
    /// Create a named pipe and serve its clients until killed.
    ///
    /// Each instance serves one client at a time, in its own thread: it waits
    /// for a client (`ConnectNamedPipe`), serves it until the client closes
    /// its end, disconnects (`DisconnectNamedPipe`) and waits for the next.
    /// Without --echo or --exec, what clients send is printed on stdout. A
    /// line on stderr says when the pipe is ready, and one more each time a
    /// client connects or goes, with its pid.
    ///
    /// Starts a broker if none is running. The pipe lives while this command
    /// does: Ctrl-C or SIGTERM ends it, and the broker then closes its instances.
    Serve {
        /// The pipe: `NAME` for `\\.\pipe\NAME`, or the full `\\.\pipe\NAME`.
        name: String,
        /// Send back what each client sends: every message (with --message)
        /// or every chunk as it is read.
        #[arg(long, conflicts_with = "exec")]
        echo: bool,
        /// Answer with the output of `sh -c CMD`. With --message: one CMD per
        /// message, the message as its stdin, its whole output sent back as
        /// one message. In byte mode: one CMD per client, fed what the client
        /// sends as it arrives (its stdin ends when the client closes the
        /// pipe), its stdout sent to the client as it comes. A pipe client
        /// cannot stop sending and still read, so output a command holds back
        /// until its input ends (sort, wc, tr writing to a pipe) comes after
        /// the client has gone and is dropped, with a warning: use --message,
        /// or a command that writes as it reads (`cat`, `stdbuf -oL tr a-z A-Z`).
        #[arg(long, value_name = "CMD")]
        exec: Option<String>,
        /// A message-type pipe, read in message mode (default: byte type).
        #[arg(long)]
        message: bool,
        /// Instances to create and serve at once (1 to 254); also the pipe's
        /// maximum, so client number N+1 waits for a free one.
        #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=254))]
        instances: u32,
        /// Each instance serves one client, then closes; the command exits
        /// when every instance has.
        #[arg(long)]
        once: bool,
    },
    /// Open a named pipe: stdin goes to the server, its replies to stdout.
    ///
    /// Both directions run at once. In byte mode stdin is sent in chunks as
    /// it is read; with --message every line of stdin (its newline included)
    /// is one message and replies are read in message mode, which needs a
    /// message-type pipe. Waits up to --timeout for a free instance
    /// (`WaitNamedPipe`): exit 4 if there is no such pipe, 6 if none was free.
    ///
    /// When stdin ends, replies are still read until as many bytes have come
    /// back as were sent, or the server closes the pipe, or --timeout passes
    /// without a reply (counted from the end of stdin or the last reply),
    /// whichever comes first; then the command exits 0. So `echo hi |
    /// switchboard pipe connect NAME` against an echo server prints `hi` and
    /// exits at once. A server that answers with fewer bytes than it got
    /// costs the --timeout; from one that answers with more, only as much as
    /// was sent is sure to be shown: keep stdin open (`cat | switchboard pipe
    /// connect NAME`) to keep talking.
    Connect {
        /// The pipe: `NAME` for `\\.\pipe\NAME`, or the full `\\.\pipe\NAME`.
        name: String,
        /// How long to wait for a free instance, and for replies once stdin
        /// has ended (500ms, 5s, 2m, 1h; a bare number is milliseconds).
        #[arg(long, value_name = "DUR", value_parser = duration::parse, default_value = "5s")]
        timeout: Duration,
        /// One message per line of stdin, replies read in message mode.
        #[arg(long)]
        message: bool,
    },
    /// Send one message and print the reply (`CallNamedPipe`).
    ///
    /// Needs a message-type pipe (`ERROR_BAD_PIPE` otherwise). The reply is
    /// printed as it came, with a newline added only at a terminal; one
    /// longer than 64 KiB is cut there, with a warning. Waits for the reply
    /// as long as it takes, as `CallNamedPipe` does.
    Call {
        /// The pipe: `NAME` for `\\.\pipe\NAME`, or the full `\\.\pipe\NAME`.
        name: String,
        /// The message.
        data: String,
        /// How long to wait for a free instance (500ms, 5s, 2m, 1h; a bare
        /// number is milliseconds).
        #[arg(long, value_name = "DUR", value_parser = duration::parse, default_value = "5s")]
        timeout: Duration,
    },
    /// List the named pipes with their instance counts; never starts a broker.
    Ls,
}

/// Runs a pipe command.
pub fn run(ctx: &Ctx, command: PipeCommand) -> Result<Done> {
    match command {
        PipeCommand::Serve { name, echo, exec, message, instances, once } => {
            let job = match exec {
                Some(command) => Job::Exec(command),
                None if echo => Job::Echo,
                None => Job::Print,
            };
            let mode = if message { PipeMode::Message } else { PipeMode::Byte };
            serve(ctx, &full_name(&name), &Arc::new(job), mode, instances, once)
        }
        PipeCommand::Connect { name, timeout, message } => connect(ctx, &full_name(&name), timeout, message),
        PipeCommand::Call { name, data, timeout } => call(ctx, &full_name(&name), &data, timeout),
        PipeCommand::Ls => ls(ctx),
    }
}

/// `NAME` is `\\.\pipe\NAME`; a name starting with `\\` is already a full pipe name.
pub fn full_name(name: &str) -> String {
    if name.starts_with(r"\\") { name.to_owned() } else { format!(r"\\.\pipe\{name}") }
}

fn mode_name(mode: PipeMode) -> &'static str {
    match mode {
        PipeMode::Byte => "byte",
        PipeMode::Message => "message",
    }
}

/// The other end is gone: reads fail with `ERROR_BROKEN_PIPE`, writes with
/// `ERROR_NO_DATA`, and either with `ERROR_PIPE_NOT_CONNECTED` after the
/// server disconnected.
fn other_end_gone(e: &Error) -> bool {
    matches!(
        e.win32_error(),
        Win32Error::ERROR_BROKEN_PIPE | Win32Error::ERROR_NO_DATA | Win32Error::ERROR_PIPE_NOT_CONNECTED
    )
}

fn thread_error(what: &str, e: &std::io::Error) -> Error {
    Error::new(ErrorKind::Protocol, Win32Error::ERROR_NO_SYSTEM_RESOURCES, "CreateThread", Some(what), e.to_string())
}

fn spawn_thread(what: &str, body: impl FnOnce() + Send + 'static) -> Result<()> {
    std::thread::Builder::new().name(what.to_owned()).spawn(body).map(drop).map_err(|e| thread_error(what, &e))
}

/// Writes pipe data to stdout; false once stdout is closed or broken (said
/// on stderr unless the reader merely went away).
fn show(data: &[u8]) -> bool {
    match write_stdout(data) {
        Ok(()) => true,
        Err(e) => {
            if e.kind() != std::io::ErrorKind::BrokenPipe {
                eprintln!("switchboard: cannot write to stdout: {e}");
            }
            false
        }
    }
}

// ---------------------------------------------------------------- serve

/// What a server does with what clients send.
#[derive(Debug)]
enum Job {
    Print,
    Echo,
    Exec(String),
}

fn serve(ctx: &Ctx, name: &str, job: &Arc<Job>, mode: PipeMode, instances: u32, once: bool) -> Result<Done> {
    let conn = ctx.connect()?;
    let options = ServerOptions::new().pipe_mode(mode).max_instances(instances);
    let servers = (0..instances).map(|_| options.create(&conn, name)).collect::<Result<Vec<_>>>()?;
    let plural = if instances == 1 { "" } else { "s" };
    eprintln!("serving {name} ({instances} instance{plural}, {})", mode_name(mode));
    let (tx, rx) = mpsc::channel();
    for (index, server) in servers.into_iter().enumerate() {
        let (tx, job) = (tx.clone(), Arc::clone(job));
        spawn_thread(&format!("instance {}", index + 1), move || {
            let _ = tx.send(serve_instance(&server, index + 1, &job, once));
        })?;
    }
    drop(tx);
    // Without --once no instance ends but by failing; the first failure ends
    // the command, and the other instances with it.
    let mut finished = 0;
    for result in rx {
        result?;
        finished += 1;
    }
    if finished < instances {
        return Err(Error::new(
            ErrorKind::Protocol,
            Win32Error::ERROR_OPERATION_ABORTED,
            "ConnectNamedPipe",
            Some(name),
            "an instance's thread ended without a result",
        ));
    }
    Ok(Done::Ok)
}

/// One instance's life: wait for a client, serve it, disconnect, again.
fn serve_instance(server: &PipeServer, instance: usize, job: &Job, once: bool) -> Result<()> {
    loop {
        match server.connect(None) {
            Ok(_) => {}
            // A client came and went before the connect: nobody to serve.
            Err(e) if e.win32_error() == Win32Error::ERROR_NO_DATA => {
                server.disconnect()?;
                continue;
            }
            Err(e) => return Err(e),
        }
        let client = match server.client() {
            Ok(identity) => format!("client pid {}", identity.pid),
            Err(_) => "client (pid unknown)".to_owned(),
        };
        eprintln!("{client} connected (instance {instance})");
        let served = serve_client(server, job);
        eprintln!("{client} disconnected (instance {instance})");
        server.disconnect()?;
        match served {
            Err(e) if once => return Err(e),
            Err(e) => eprintln!("switchboard: {e}"),
            Ok(()) if once => return Ok(()),
            Ok(()) => {}
        }
    }
}

/// Reads what the client sends next: a whole message in message read mode,
/// what is there in byte mode; `None` once the client has closed its end.
fn receive(server: &PipeServer, buf: &mut [u8]) -> Result<Option<Vec<u8>>> {
    let got = if server.read_mode() == PipeMode::Message {
        server.read_message()
    } else {
        server.read(buf).map(|got| buf[..got.len].to_vec())
    };
    match got {
        Ok(data) => Ok(Some(data)),
        Err(e) if other_end_gone(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Serves one connected client until it closes its end.
fn serve_client(server: &PipeServer, job: &Job) -> Result<()> {
    if let Job::Exec(command) = job
        && server.read_mode() == PipeMode::Byte
    {
        return exec_streaming(server, command);
    }
    let mut buf = vec![0u8; CHUNK];
    while let Some(data) = receive(server, &mut buf)? {
        let reply = match job {
            Job::Print => {
                show(&data);
                continue;
            }
            Job::Echo => data,
            Job::Exec(command) => exec_once(command, &data)?,
        };
        match server.write(&reply) {
            Ok(()) => {}
            Err(e) if other_end_gone(&e) => return Ok(()),
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn spawn_shell(command: &str) -> Result<Child> {
    Command::new("sh")
        .arg("-c")
        .arg(command)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| {
            let code = match e.kind() {
                std::io::ErrorKind::NotFound => Win32Error::ERROR_FILE_NOT_FOUND,
                std::io::ErrorKind::PermissionDenied => Win32Error::ERROR_ACCESS_DENIED,
                _ => Win32Error::ERROR_NO_SYSTEM_RESOURCES,
            };
            Error::new(ErrorKind::Refused, code, "CreateProcess", Some(command), format!("cannot run sh: {e}"))
        })
}

fn warn_if_failed(command: &str, status: std::io::Result<std::process::ExitStatus>) {
    match status {
        Ok(status) if status.success() => {}
        Ok(status) => eprintln!("switchboard: warning: {command:?} {status}"),
        Err(e) => eprintln!("switchboard: warning: cannot wait for {command:?}: {e}"),
    }
}

/// Message mode: runs the command on one message and returns its output.
fn exec_once(command: &str, input: &[u8]) -> Result<Vec<u8>> {
    let mut child = spawn_shell(command)?;
    let stdin = child.stdin.take();
    let output = std::thread::scope(|s| {
        // Written from another thread, so a command that answers before it
        // has read everything cannot deadlock against us.
        s.spawn(move || {
            if let Some(mut stdin) = stdin {
                let _ = stdin.write_all(input);
            }
        });
        child.wait_with_output()
    });
    match output {
        Ok(output) => {
            warn_if_failed(command, Ok(output.status));
            Ok(output.stdout)
        }
        Err(e) => Err(Error::new(
            ErrorKind::Refused,
            Win32Error::ERROR_INVALID_DATA,
            "CreateProcess",
            Some(command),
            e.to_string(),
        )),
    }
}

/// Byte mode: one command for the whole client. The client's data feeds the
/// command's stdin as it arrives, and its output goes back as it comes; the
/// command's stdin ends when the client closes the pipe.
fn exec_streaming(server: &PipeServer, command: &str) -> Result<()> {
    let mut child = spawn_shell(command)?;
    let mut input = child.stdin.take();
    let output = child.stdout.take();
    let (read, lost) = std::thread::scope(|s| {
        let sender = s.spawn(move || output.map_or(0, |output| send_output(server, output)));
        let mut buf = vec![0u8; CHUNK];
        let read = loop {
            match receive(server, &mut buf) {
                Ok(Some(data)) => {
                    // A command that stopped reading gets no more; the client's
                    // data is still taken, so the client decides when it is done.
                    if let Some(stdin) = input.as_mut()
                        && stdin.write_all(&data).is_err()
                    {
                        input = None;
                    }
                }
                Ok(None) => break Ok(()),
                Err(e) => break Err(e),
            }
        };
        drop(input);
        let lost = sender.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (read, lost)
    });
    warn_if_failed(command, child.wait());
    if lost > 0 {
        eprintln!(
            "switchboard: warning: {lost} bytes of output from {command:?} came after the client left and were dropped"
        );
    }
    read
}

/// Sends the command's output to the client until the command closes its
/// stdout; returns how many bytes could not be sent because the client had gone.
fn send_output(server: &PipeServer, mut output: ChildStdout) -> u64 {
    let mut buf = vec![0u8; CHUNK];
    let mut lost = 0u64;
    let mut client_gone = false;
    loop {
        let n = match output.read(&mut buf) {
            Ok(0) => return lost,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                eprintln!("switchboard: cannot read the command's output: {e}");
                return lost;
            }
        };
        if !client_gone {
            match server.write(&buf[..n]) {
                Ok(()) => continue,
                Err(e) => {
                    if !other_end_gone(&e) {
                        eprintln!("switchboard: {e}");
                    }
                    client_gone = true;
                }
            }
        }
        lost += n as u64;
    }
}

// ---------------------------------------------------------------- connect

/// What the two copying threads of `pipe connect` report.
#[derive(Debug)]
enum Progress {
    /// Bytes written to the pipe.
    Sent(usize),
    /// Stdin has ended (or the server no longer takes data).
    StdinEnded,
    /// Reply bytes copied to stdout.
    Received(usize),
    /// The server closed the pipe, or stdout closed: nothing more to do.
    Over,
    /// Something failed.
    Failed(Error),
}

fn connect(ctx: &Ctx, name: &str, timeout: Duration, message: bool) -> Result<Done> {
    let conn = ctx.connect_existing()?;
    let client = PipeClient::open_wait(&conn, name, GENERIC_READ_WRITE, timeout)?;
    if message {
        client.set_read_mode(PipeMode::Message)?;
    }
    let client = Arc::new(client);
    let (tx, rx) = mpsc::channel();
    let (to_pipe, tx_stdin) = (Arc::clone(&client), tx.clone());
    spawn_thread("stdin", move || send_stdin(&to_pipe, message, &tx_stdin))?;
    spawn_thread("replies", move || copy_replies(&client, &tx))?;
    until_done(&rx, timeout)
}

/// Copies stdin to the pipe: chunks as read, or (message mode) one message per line.
fn send_stdin(client: &PipeClient, message: bool, tx: &Sender<Progress>) {
    let mut stdin = std::io::stdin().lock();
    let mut buf = vec![0u8; CHUNK];
    let mut line = Vec::new();
    loop {
        let data: &[u8] = if message {
            line.clear();
            match stdin.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => &line,
            }
        } else {
            match stdin.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => &buf[..n],
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        };
        match client.write(data) {
            Ok(()) => {
                let _ = tx.send(Progress::Sent(data.len()));
            }
            // The server has gone; the reply thread sees it too, once it has
            // read what the server sent before going.
            Err(e) if other_end_gone(&e) => break,
            Err(e) => {
                let _ = tx.send(Progress::Failed(e));
                return;
            }
        }
    }
    let _ = tx.send(Progress::StdinEnded);
}

/// Copies what the server sends to stdout until the server closes the pipe.
fn copy_replies(client: &PipeClient, tx: &Sender<Progress>) {
    let mut buf = vec![0u8; CHUNK];
    loop {
        let progress = match client.read(&mut buf) {
            Ok(got) if show(&buf[..got.len]) => Progress::Received(got.len),
            Ok(_) => Progress::Over,
            Err(e) if other_end_gone(&e) => Progress::Over,
            Err(e) => Progress::Failed(e),
        };
        let more = matches!(progress, Progress::Received(_));
        if tx.send(progress).is_err() || !more {
            return;
        }
    }
}

/// Waits until stdin has ended and as many bytes came back as were sent, or
/// the pipe closed, or `timeout` passed without a reply after stdin ended.
fn until_done(rx: &Receiver<Progress>, timeout: Duration) -> Result<Done> {
    let (mut sent, mut received, mut stdin_ended) = (0usize, 0usize, false);
    let mut quiet_since = Instant::now();
    loop {
        if stdin_ended && received >= sent {
            return Ok(Done::Ok);
        }
        let next = if stdin_ended {
            rx.recv_timeout(timeout.saturating_sub(quiet_since.elapsed()))
        } else {
            rx.recv().map_err(|_| RecvTimeoutError::Disconnected)
        };
        match next {
            Ok(Progress::Sent(n)) => sent += n,
            Ok(Progress::StdinEnded) => {
                stdin_ended = true;
                quiet_since = Instant::now();
            }
            Ok(Progress::Received(n)) => {
                received += n;
                quiet_since = Instant::now();
            }
            Ok(Progress::Over) | Err(_) => return Ok(Done::Ok),
            Ok(Progress::Failed(e)) => return Err(e),
        }
    }
}

// ---------------------------------------------------------------- call, ls

#[derive(Serialize)]
struct CallJson<'a> {
    name: &'a str,
    /// The reply as text (invalid UTF-8 replaced).
    reply: String,
    bytes: usize,
    /// The reply was longer than 64 KiB and was cut there.
    truncated: bool,
}

fn call(ctx: &Ctx, name: &str, data: &str, timeout: Duration) -> Result<Done> {
    let conn = ctx.connect_existing()?;
    let mut buf = vec![0u8; CHUNK];
    let got = pipe::call_named_pipe(&conn, name, data.as_bytes(), &mut buf, timeout)?;
    let reply = &buf[..got.len];
    if got.more {
        eprintln!("switchboard: warning: the reply is longer than 64 KiB; only its first 64 KiB are shown");
    }
    if ctx.json {
        let reply_text = String::from_utf8_lossy(reply).into_owned();
        crate::output::print_json(&CallJson { name, reply: reply_text, bytes: reply.len(), truncated: got.more })?;
    } else if show(reply) && !reply.ends_with(b"\n") && !reply.is_empty() && std::io::stdout().is_terminal() {
        show(b"\n");
    }
    Ok(Done::Ok)
}

fn ls(ctx: &Ctx) -> Result<Done> {
    let conn = ctx.connect_existing()?;
    let mut pipes = pipe::list(&conn)?;
    pipes.sort_by_key(|p| p.name.to_lowercase());
    ctx.emit(&pipes, || {
        let mut table = Table::new(&["NAME", "INSTANCES", "MAX", "CONNECTED"]);
        for p in &pipes {
            let max = if p.max_instances == PIPE_UNLIMITED_INSTANCES {
                "unlimited".to_owned()
            } else {
                p.max_instances.to_string()
            };
            table.row(vec![p.name.clone(), p.instances.to_string(), max, p.connected.to_string()]);
        }
        table.render()
    })?;
    Ok(Done::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_names_are_local_pipes_and_full_names_stay() {
        assert_eq!(full_name("demo"), r"\\.\pipe\demo");
        assert_eq!(full_name(r"a\b"), r"\\.\pipe\a\b");
        assert_eq!(full_name(r"\\.\pipe\demo"), r"\\.\pipe\demo");
        assert_eq!(full_name(r"\\.\PIPE\Demo"), r"\\.\PIPE\Demo");
    }

    #[test]
    fn connect_ends_when_every_byte_came_back() {
        let (tx, rx) = mpsc::channel();
        for p in [Progress::Sent(3), Progress::Received(2), Progress::StdinEnded, Progress::Received(1)] {
            tx.send(p).unwrap();
        }
        // tx stays alive: only the byte count can end the wait in time.
        let started = Instant::now();
        assert!(matches!(until_done(&rx, Duration::from_secs(60)), Ok(Done::Ok)));
        assert!(started.elapsed() < Duration::from_secs(30));
        drop(tx);
    }

    #[test]
    fn connect_gives_up_after_a_quiet_timeout() {
        let (tx, rx) = mpsc::channel();
        tx.send(Progress::Sent(3)).unwrap();
        tx.send(Progress::StdinEnded).unwrap();
        assert!(matches!(until_done(&rx, Duration::from_millis(20)), Ok(Done::Ok)));
        drop(tx);
    }

    #[test]
    fn connect_reports_a_failure() {
        let (tx, rx) = mpsc::channel();
        let e = Error::new(ErrorKind::Refused, Win32Error::ERROR_ACCESS_DENIED, "WriteFile", Some("p"), "test");
        tx.send(Progress::Failed(e)).unwrap();
        assert!(until_done(&rx, Duration::from_secs(60)).is_err());
    }
}
