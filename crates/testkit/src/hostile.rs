//! The attacker's tools: a broker in a process of its own, a client that
//! speaks the raw protocol and keeps every descriptor it is given, and a
//! probe that measures how another user is served meanwhile.
//!
//! The hostile suite (`crates/broker/tests/hostile/`) is built from these:
//! each attack runs against a real `switchboardd`, so a crash is seen as a
//! dead process rather than taking the test down with it.

use std::io::{self, Read as _, Write as _};
use std::os::fd::OwnedFd;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use switchboard_proto::{
    Call, HandshakeReply, HandshakeStatus, Hello, ReplyFrame, RequestFrame, WireError, decode_body, encode_frame,
    split_frame,
};

/// How long a raw client waits for any one answer before it says so.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(20);

/// A `switchboardd` process serving a temporary realm open to every user
/// (as the system realm is), stopped and its realm removed on drop.
#[derive(Debug)]
pub struct ProcessBroker {
    dir: tempfile::TempDir,
    socket: PathBuf,
    child: Child,
}

impl ProcessBroker {
    /// Starts `exe` (a test's `env!("CARGO_BIN_EXE_switchboardd")`) in the
    /// foreground with `args` added, and waits until it answers.
    ///
    /// # Panics
    ///
    /// If it cannot be started or does not answer within [`ANSWER_TIMEOUT`].
    pub fn start(exe: &str, args: &[&str]) -> Self {
        Self::start_with_env(exe, args, &[])
    }

    /// As [`ProcessBroker::start`], with environment variables.
    ///
    /// # Panics
    ///
    /// As [`ProcessBroker::start`].
    pub fn start_with_env(exe: &str, args: &[&str], env: &[(&str, &str)]) -> Self {
        Self::spawn(Command::new(exe), args, env)
    }

    /// As [`ProcessBroker::start`], with at most `fds` open descriptors
    /// (through util-linux's `prlimit`, which then runs the broker itself).
    ///
    /// # Panics
    ///
    /// As [`ProcessBroker::start`].
    pub fn start_with_fd_limit(exe: &str, fds: u32, args: &[&str]) -> Self {
        let mut command = Command::new("prlimit");
        command.arg(format!("--nofile={fds}:{fds}")).arg(exe);
        Self::spawn(command, args, &[])
    }

    fn spawn(mut command: Command, args: &[&str], env: &[(&str, &str)]) -> Self {
        let dir = tempfile::Builder::new().prefix("switchboard-hostile-").tempdir().expect("temporary realm");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod realm");
        let socket = dir.path().join("broker.sock");
        let child = command
            .arg("--foreground")
            .arg("--socket")
            .arg(&socket)
            .args(args)
            .env("SWITCHBOARD_LOG", "warn")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start switchboardd");
        let broker = Self { dir, socket, child };
        let deadline = Instant::now() + ANSWER_TIMEOUT;
        while RawClient::connect(&broker.socket).is_err() {
            assert!(Instant::now() < deadline, "switchboardd did not answer within {ANSWER_TIMEOUT:?}");
            std::thread::sleep(Duration::from_millis(5));
        }
        std::fs::set_permissions(&broker.socket, std::fs::Permissions::from_mode(0o666)).expect("chmod socket");
        broker
    }

    /// The broker's socket.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// The realm's directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The broker's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A figure from `/proc/<pid>/status` in KiB (`VmRSS`, `VmHWM`), or 0.
    pub fn memory_kib(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }

    /// Whether the process is still running; if not, how it ended.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// The environment a child process needs to reach this broker.
    pub fn env(&self) -> Vec<(std::ffi::OsString, std::ffi::OsString)> {
        vec![
            ("SWITCHBOARD_SOCKET".into(), self.socket.clone().into_os_string()),
            ("SWITCHBOARD_NO_AUTOSTART".into(), "1".into()),
        ]
    }
}

impl Drop for ProcessBroker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A reply (or the broker's refusal) and the descriptors that came with it.
pub type Answer<T> = (Result<T, WireError>, Vec<OwnedFd>);

/// A client that speaks the control protocol byte by byte, keeps every
/// descriptor the broker sends, and can send anything at all.
#[derive(Debug)]
pub struct RawClient {
    stream: UnixStream,
    buf: Vec<u8>,
    fds: Vec<OwnedFd>,
    next_id: u32,
    /// The broker's pid, from the handshake.
    pub broker_pid: u32,
}

impl RawClient {
    /// Connects and completes the handshake.
    pub fn connect(socket: &Path) -> io::Result<Self> {
        let stream = UnixStream::connect(socket)?;
        stream.set_read_timeout(Some(ANSWER_TIMEOUT))?;
        let mut client = Self { stream, buf: Vec::new(), fds: Vec::new(), next_id: 1, broker_pid: 0 };
        client.stream.write_all(&Hello::current().encode())?;
        loop {
            let decoded = HandshakeReply::decode(&client.buf).map_err(|e| io::Error::other(format!("{e:?}")))?;
            if let Some((reply, used)) = decoded {
                client.buf.drain(..used);
                if reply.status != HandshakeStatus::Accepted {
                    return Err(io::Error::new(io::ErrorKind::ConnectionRefused, reply.message));
                }
                client.broker_pid = reply.pid;
                return Ok(client);
            }
            client.fill()?;
        }
    }

    /// The connection itself, for attacks below the frame level.
    pub fn stream(&self) -> &UnixStream {
        &self.stream
    }

    fn fill(&mut self) -> io::Result<()> {
        let mut chunk = [0u8; 16 * 1024];
        let n = switchboard_sys::fdpass::recv_with_fds(&self.stream, &mut chunk, &mut self.fds)?;
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the broker closed the connection"));
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }

    /// Sends a request and does not wait (id 0 asks for no reply).
    pub fn send<C: Call>(&mut self, request: C, want_reply: bool) -> io::Result<u32> {
        let id = if want_reply {
            self.next_id += 1;
            self.next_id
        } else {
            0
        };
        let mut out = Vec::new();
        encode_frame(&RequestFrame { id, fds: 0, request: request.into_request() }, &mut out);
        self.stream.write_all(&out)?;
        Ok(id)
    }

    /// Sends bytes as they are.
    pub fn send_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// Reads the next reply frame and the descriptors that came with it.
    pub fn receive(&mut self) -> io::Result<(ReplyFrame, Vec<OwnedFd>)> {
        loop {
            let split = split_frame(&self.buf, usize::MAX).map_err(|e| io::Error::other(e.to_string()))?;
            if let Some((used, body)) = split {
                let frame: ReplyFrame = decode_body(body).map_err(|e| io::Error::other(e.to_string()))?;
                self.buf.drain(..used);
                let count = usize::from(frame.fds).min(self.fds.len());
                let fds = self.fds.drain(..count).collect();
                return Ok((frame, fds));
            }
            self.fill()?;
        }
    }

    /// Sends a request and waits for its answer and descriptors.
    pub fn call<C: Call>(&mut self, request: C) -> io::Result<Answer<C::Reply>> {
        let id = self.send(request, true)?;
        loop {
            let (frame, fds) = self.receive()?;
            if frame.id != id {
                continue;
            }
            let result = frame
                .result
                .map(|reply| C::from_reply(reply).ok_or_else(|| io::Error::other("a reply of another kind")))
                .map_or_else(|e| Ok(Err(e)), |r| r.map(Ok))?;
            return Ok((result, fds));
        }
    }

    /// As [`RawClient::call`], failing on a refusal.
    pub fn ok<C: Call + std::fmt::Debug>(&mut self, request: C) -> io::Result<(C::Reply, Vec<OwnedFd>)> {
        let shown = format!("{request:?}");
        let (result, fds) = self.call(request)?;
        result.map(|r| (r, fds)).map_err(|e| io::Error::other(format!("{shown} refused: {}", e.message)))
    }

    /// Reads until the broker closes the connection (or the read timeout).
    pub fn read_to_end(&mut self) -> io::Result<usize> {
        let mut sink = Vec::new();
        self.stream.read_to_end(&mut sink)
    }
}

/// Latencies of a probe, in microseconds, sorted.
#[derive(Clone, Debug, Default)]
pub struct Latencies(pub Vec<u64>);

impl Latencies {
    /// The `p`th percentile (0–100), or 0 with no samples.
    pub fn percentile(&self, p: usize) -> u64 {
        if self.0.is_empty() {
            return 0;
        }
        let at = (self.0.len() * p / 100).min(self.0.len() - 1);
        self.0[at]
    }
}

/// Asks the broker for its status `count` times from a new connection each
/// time, as another user's short CLI command would, and returns the
/// latencies (connect, handshake and answer). Fails on the first refusal.
pub fn probe_status(socket: &Path, count: usize) -> io::Result<Latencies> {
    let mut samples = Vec::with_capacity(count);
    for _ in 0..count {
        let started = Instant::now();
        let mut client = RawClient::connect(socket)?;
        client.ok(switchboard_proto::StatusRequest)?;
        samples.push(u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX));
    }
    samples.sort_unstable();
    Ok(Latencies(samples))
}

/// One line of the attack table, printed for the closing note's table
/// (`cargo test -- --nocapture | grep ^ATTACK`).
pub fn report(attack: &str, trials: usize, result: &str, probe: &Latencies) {
    println!(
        "ATTACK | {attack} | {trials} | {result} | survived | served, p99 {} us (n={})",
        probe.percentile(99),
        probe.0.len()
    );
}
