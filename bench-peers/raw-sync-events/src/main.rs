//! `raw-sync-events parent N`: makes two auto-reset raw_sync events in a
//! memfd page, starts `raw-sync-events child` with the page as its standard
//! input, and times N round trips (set ping, wait for pong). Prints every
//! round trip in nanoseconds on one line, for switchboard-bench to read.

use std::io::{BufRead, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::{Command, Stdio};
use std::time::Instant;

use raw_sync::Timeout;
use raw_sync::events::{Event, EventImpl, EventInit, EventState};

const PAGE: usize = 4096;
const PONG_AT: usize = 2048;

/// Maps the whole page of `fd`, shared.
fn map(fd: &OwnedFd) -> *mut u8 {
    // SAFETY: a new shared mapping of one page of a file at least that long;
    // the kernel picks the address.
    let ptr = unsafe {
        libc::mmap(std::ptr::null_mut(), PAGE, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_SHARED, fd.as_raw_fd(), 0)
    };
    assert!(ptr != libc::MAP_FAILED, "mmap failed");
    ptr.cast()
}

fn events(page: *mut u8, create: bool) -> (Box<dyn EventImpl>, Box<dyn EventImpl>) {
    // SAFETY: both events live inside the mapped page, which lives as long as
    // the process; PONG_AT leaves room for the first one.
    unsafe {
        let at = |offset: usize| page.add(offset);
        if create {
            (Event::new(at(0), true).unwrap().0, Event::new(at(PONG_AT), true).unwrap().0)
        } else {
            (Event::from_existing(at(0)).unwrap().0, Event::from_existing(at(PONG_AT)).unwrap().0)
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("child") => {
            // SAFETY: fd 0 is the memfd the parent gave as standard input.
            let fd = unsafe { OwnedFd::from_raw_fd(0) };
            let (ping, pong) = events(map(&fd), false);
            println!("ready");
            std::io::stdout().flush().unwrap();
            loop {
                ping.wait(Timeout::Infinite).unwrap();
                pong.set(EventState::Signaled).unwrap();
            }
        }
        Some("parent") => {
            let n: usize = args.get(2).and_then(|n| n.parse().ok()).unwrap_or(5000);
            // SAFETY: plain system calls on a new descriptor.
            let fd = unsafe {
                let raw = libc::memfd_create(c"raw-sync-bench".as_ptr(), 0);
                assert!(raw >= 0, "memfd_create failed");
                assert_eq!(libc::ftruncate(raw, PAGE as libc::off_t), 0);
                OwnedFd::from_raw_fd(raw)
            };
            let page = map(&fd);
            let (ping, pong) = events(page, true);
            let exe = std::env::current_exe().unwrap();
            let mut child =
                Command::new(exe).arg("child").stdin(Stdio::from(fd)).stdout(Stdio::piped()).spawn().unwrap();
            let mut ready = String::new();
            std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut ready).unwrap();
            let once = || {
                let start = Instant::now();
                ping.set(EventState::Signaled).unwrap();
                pong.wait(Timeout::Infinite).unwrap();
                start.elapsed().as_nanos()
            };
            for _ in 0..n / 10 {
                once();
            }
            let samples: Vec<String> = (0..n).map(|_| once().to_string()).collect();
            println!("{}", samples.join(" "));
            let _ = child.kill();
            let _ = child.wait();
        }
        _ => {
            eprintln!("usage: raw-sync-events parent [N]");
            std::process::exit(2);
        }
    }
}
