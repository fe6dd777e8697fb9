//! Serves the example interface on `ncacn_ip_tcp`, and with a second
//! address the endpoint mapper too, with the example registered:
//! `cargo run -p switchboard-rpc --example serve_example -- 127.0.0.1:5000 [127.0.0.1:135]`.

use std::sync::{Arc, Mutex};

use switchboard_rpc::epm::{Endpoint, Mapper, Registration, Registrations};
use switchboard_rpc::example;
use switchboard_rpc::runtime::MakeInterfaces as Make;

fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:5000".into());
    let listener = std::net::TcpListener::bind(&addr)?;
    let port = listener.local_addr()?.port();
    if let Some(epm) = std::env::args().nth(2) {
        let mapper = std::net::TcpListener::bind(&epm)?;
        let endpoint = Endpoint::Tcp { ip: [127, 0, 0, 1], port };
        let registered: Registrations =
            Arc::new(Mutex::new(vec![Registration::new(example::syntax(), endpoint, "Switchboard example")]));
        let make: Make = Arc::new(move || vec![Mapper::new(Arc::clone(&registered)).into_server()]);
        println!("endpoint mapper on ncacn_ip_tcp:{epm}");
        std::thread::spawn(move || switchboard_rpc::runtime::serve(&mapper, &make));
    }
    println!("serving SwitchboardExample on ncacn_ip_tcp:{addr}");
    let make: Make = Arc::new(|| vec![example::server()]);
    switchboard_rpc::runtime::serve(&listener, &make)
}
