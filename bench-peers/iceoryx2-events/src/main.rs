//! `iceoryx2-events parent N`: makes two iceoryx2 event services, starts
//! `iceoryx2-events child SUFFIX` to answer every notification on the first
//! with one on the second, and times N round trips. Prints every round trip
//! in nanoseconds on one line, for switchboard-bench to read.

use std::io::{BufRead, Write};
use std::process::{Command, Stdio};
use std::time::Instant;

use iceoryx2::prelude::*;

fn service(node: &Node<ipc::Service>, name: &str) -> iceoryx2::service::port_factory::event::PortFactory<ipc::Service> {
    let name: ServiceName = name.try_into().expect("service name");
    node.service_builder(&name).event().open_or_create().expect("event service")
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let node = NodeBuilder::new().create::<ipc::Service>().expect("iceoryx2 node");
    match args.get(1).map(String::as_str) {
        Some("child") => {
            let suffix = &args[2];
            let ping = service(&node, &format!("switchboard-bench-ping-{suffix}")).listener_builder().create().unwrap();
            let pong = service(&node, &format!("switchboard-bench-pong-{suffix}")).notifier_builder().create().unwrap();
            println!("ready");
            std::io::stdout().flush().unwrap();
            loop {
                ping.blocking_wait(|_| {}).unwrap();
                pong.notify().unwrap();
            }
        }
        Some("parent") => {
            let n: usize = args.get(2).and_then(|n| n.parse().ok()).unwrap_or(5000);
            let suffix = std::process::id().to_string();
            let ping = service(&node, &format!("switchboard-bench-ping-{suffix}")).notifier_builder().create().unwrap();
            let pong = service(&node, &format!("switchboard-bench-pong-{suffix}")).listener_builder().create().unwrap();
            let exe = std::env::current_exe().unwrap();
            let mut child = Command::new(exe).arg("child").arg(&suffix).stdout(Stdio::piped()).spawn().unwrap();
            let mut ready = String::new();
            std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut ready).unwrap();
            let once = || {
                let start = Instant::now();
                ping.notify().unwrap();
                pong.blocking_wait(|_| {}).unwrap();
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
            eprintln!("usage: iceoryx2-events parent [N]");
            std::process::exit(2);
        }
    }
}
