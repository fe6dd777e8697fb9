//! Two processes take turns through two named events, then share an atom.
//!
//! ```text
//! cargo run -p switchboard --example ping_pong
//! ```
//!
//! The parent creates `Local\serve` and `Local\answer` and starts a copy of this
//! program as the child; each side waits for its event and sets the other's.

use std::process::Command;
use std::time::Duration;

use switchboard::event::access::{EVENT_MODIFY_STATE, SYNCHRONIZE};
use switchboard::{Connection, Event, EventOptions, WaitResult, atom};

const ROUNDS: u32 = 3;
const TIMEOUT: Option<Duration> = Some(Duration::from_secs(10));

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let conn = Connection::connect()?;
    if std::env::args().nth(1).as_deref() == Some("child") {
        return child(&conn);
    }
    let serve = EventOptions::new().create(&conn, "Local\\serve")?.object;
    let answer = EventOptions::new().create(&conn, "Local\\answer")?.object;
    let mut child = Command::new(std::env::current_exe()?).arg("child").spawn()?;
    for round in 1..=ROUNDS {
        serve.set()?;
        println!("parent (pid {}): ping {round}", std::process::id());
        if answer.wait(TIMEOUT)? == WaitResult::TimedOut {
            return Err("the child did not answer".into());
        }
    }
    let status = child.wait()?;
    let shared = atom::global_find(&conn, "serve-answer.done")?;
    println!("parent: the child left atom {shared} = {:?} and exited {status}", atom::global_name(&conn, shared)?);
    atom::global_delete(&conn, shared)?;
    Ok(())
}

fn child(conn: &Connection) -> Result<(), Box<dyn std::error::Error>> {
    let serve = Event::open(conn, "Local\\serve", SYNCHRONIZE)?;
    let answer = Event::open(conn, "Local\\answer", EVENT_MODIFY_STATE)?;
    for round in 1..=ROUNDS {
        if serve.wait(TIMEOUT)? == WaitResult::TimedOut {
            return Err("the parent did not serve".into());
        }
        println!("child  (pid {}): pong {round}", std::process::id());
        answer.set()?;
    }
    atom::global_add(conn, "serve-answer.done")?;
    Ok(())
}
