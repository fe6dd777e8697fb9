//! Serves the example interface on `ncacn_ip_tcp`: `cargo run -p switchboard-rpc --example serve_example -- 127.0.0.1:5000`.

use std::sync::Arc;

use switchboard_rpc::example::Example;
use switchboard_rpc::server::Interface;

fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:5000".into());
    let listener = std::net::TcpListener::bind(&addr)?;
    println!("serving SwitchboardExample on ncacn_ip_tcp:{addr}");
    let make: Arc<dyn Fn() -> Vec<Box<dyn Interface>> + Send + Sync> =
        Arc::new(|| vec![Box::new(Example) as Box<dyn Interface>]);
    switchboard_rpc::tcp::serve(&listener, &make)
}
