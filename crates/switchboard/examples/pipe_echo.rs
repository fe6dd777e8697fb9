//! A message-mode echo server and a client in another process, then a child
//! whose standard streams run through anonymous pipes.
//!
//! ```text
//! cargo run -p switchboard --example pipe_echo
//! ```

use std::io::Read;
use std::process::Command;
use std::time::Duration;

use switchboard::Connection;
use switchboard::pipe::{self, GENERIC_READ_WRITE, PipeClient, PipeMode, ServerOptions};

const NAME: &str = r"\\.\pipe\example.echo";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let conn = Connection::connect()?;
    if std::env::args().nth(1).as_deref() == Some("client") {
        return client(&conn);
    }
    let server = ServerOptions::new().pipe_mode(PipeMode::Message).max_instances(1).create(&conn, NAME)?;
    let mut child = Command::new(std::env::current_exe()?).arg("client").spawn()?;
    server.connect(Some(Duration::from_secs(10)))?;
    let who = server.client()?;
    println!("server (pid {}): client pid {} connected", std::process::id(), who.pid);
    loop {
        match server.read_message() {
            Ok(message) => server.write(&message)?,
            Err(e) if e.win32_error() == switchboard::Win32Error::ERROR_BROKEN_PIPE => break,
            Err(e) => return Err(e.into()),
        }
    }
    println!("server: the client closed the pipe; it exited {}", child.wait()?);

    let mut cmd = Command::new("sh");
    cmd.args(["-c", "tr a-z A-Z"]);
    let mut redirected = pipe::spawn_redirected(&conn, cmd)?;
    if let Some(stdin) = redirected.stdin.take() {
        stdin.write(b"through anonymous pipes\n")?;
    }
    let mut out = String::new();
    redirected.stdout.read_to_string(&mut out)?;
    redirected.child.wait()?;
    print!("a child with redirected stdin/stdout said: {out}");
    Ok(())
}

fn client(conn: &Connection) -> Result<(), Box<dyn std::error::Error>> {
    let client = PipeClient::open_wait(conn, NAME, GENERIC_READ_WRITE, Duration::from_secs(10))?;
    client.set_read_mode(PipeMode::Message)?;
    for text in ["one", "two", "three"] {
        client.write(text.as_bytes())?;
        let echoed = client.read_message()?;
        println!("client (pid {}): sent {text:?}, got {:?}", std::process::id(), String::from_utf8_lossy(&echoed));
    }
    Ok(())
}
