//! `switchboard rpc …`: one process serves the example interface, others
//! call it over TCP and over ncalrpc.

mod common;
use common::*;

use switchboard_testkit::TestBroker;

#[test]
fn serve_example_answers_call_example_over_tcp_and_ncalrpc() {
    let broker = TestBroker::start();
    let mut server = Proc::spawn(&broker, &["rpc", "serve-example", "--tcp", "127.0.0.1:0", "--epm", "127.0.0.1:0"]);
    let mut said = std::io::BufReader::new(server.child().stdout.take().expect("piped stdout"));
    // The example's endpoint, then the mapper's at ncalrpc:[EPMAPPER] and on TCP.
    let [mut line, mut local_mapper, mut mapper_line] = [String::new(), String::new(), String::new()];
    for l in [&mut line, &mut local_mapper, &mut mapper_line] {
        std::io::BufRead::read_line(&mut said, l).unwrap();
    }
    assert!(local_mapper.starts_with("endpoint mapper at ncalrpc:[EPMAPPER]"), "{local_mapper}");
    // "serving SwitchboardExample at ncacn_ip_tcp:127.0.0.1[PORT] (…)"
    let binding = line.split_whitespace().nth(3).unwrap().to_owned();
    assert!(binding.starts_with("ncacn_ip_tcp:127.0.0.1["), "{line}");
    let added = run(&broker, &["rpc", "call-example", &binding, "add", "40", "2"]);
    ok(&added);
    assert_eq!(stdout(&added), "42\n");
    let summed = run(&broker, &["--json", "rpc", "call-example", &binding, "sum", "1", "2", "2147483647"]);
    let value: serde_json::Value = serde_json::from_str(&stdout(&summed)).unwrap();
    assert_eq!(value["result"], "2147483650", "a 64-bit sum");

    // The endpoint mapper knows where the example is.
    // "endpoint mapper at ncacn_ip_tcp:127.0.0.1[PORT]"
    let mapper = mapper_line.split_whitespace().nth(3).unwrap().to_owned();
    assert!(mapper.starts_with("ncacn_ip_tcp:127.0.0.1["), "{mapper_line}");
    let listed = run(&broker, &["rpc", "ls", &mapper]);
    ok(&listed);
    let port = binding.trim_start_matches("ncacn_ip_tcp:127.0.0.1[").trim_end_matches(']').to_owned();
    let expected =
        format!("5b9f3a4e-7c21-4d6a-9e0b-3f8a2c1d7e64 v1.0  ncacn_ip_tcp:127.0.0.1[{port}]  Switchboard example\n");
    assert_eq!(stdout(&listed), expected);
    // The same mapper at ncalrpc:[EPMAPPER], in the realm's ncalrpc directory.
    let local = run(&broker, &["rpc", "ls", "ncalrpc:[EPMAPPER]"]);
    ok(&local);
    assert_eq!(stdout(&local), expected);

    let (_local, line) = Proc::start(&broker, &["rpc", "serve-example", "--ncalrpc", "TEST"], "serving");
    assert!(line.contains("ncalrpc:[TEST]"), "{line}");
    let reversed = run(&broker, &["rpc", "call-example", "ncalrpc:[TEST]", "reverse", "abc"]);
    ok(&reversed);
    assert_eq!(stdout(&reversed), "cba\n");
    let bad = run(&broker, &["rpc", "call-example", "ncadg_ip_udp:h[1]", "add", "1", "2"]);
    assert_eq!(bad.status.code(), Some(1), "{}", stderr(&bad));
    assert!(stderr(&bad).contains("not supported"), "{}", stderr(&bad));
}

#[test]
fn the_example_over_ncacn_np_switchboard_named_pipes() {
    let broker = TestBroker::start();
    let mut server = Proc::spawn(&broker, &["rpc", "serve-example", "--np", "example", "--epm", "127.0.0.1:0"]);
    let mut said = std::io::BufReader::new(server.child().stdout.take().expect("piped stdout"));
    let mut line = String::new();
    std::io::BufRead::read_line(&mut said, &mut line).unwrap();
    assert_eq!(line.trim(), r"serving SwitchboardExample at ncacn_np:[\pipe\example]");
    let binding = r"ncacn_np:[\pipe\example]";
    let added = run(&broker, &["rpc", "call-example", binding, "add", "40", "2"]);
    ok(&added);
    assert_eq!(stdout(&added), "42\n");
    // A reply of many fragments, each one pipe message.
    let long = "x".repeat(20_000) + "y";
    let reversed = run(&broker, &["rpc", "call-example", binding, "reverse", &long]);
    ok(&reversed);
    assert!(stdout(&reversed).starts_with("yxxx") && stdout(&reversed).len() == 20_002, "{}", stdout(&reversed).len());
    let named = run(&broker, &["rpc", "call-example", binding, "count-named", "ab", "-", "cde"]);
    ok(&named);
    assert_eq!(stdout(&named), "2 5\n");
    // The mapper lists the pipe's tower.
    let listed = run(&broker, &["rpc", "ls", "ncalrpc:[EPMAPPER]"]);
    ok(&listed);
    assert!(stdout(&listed).contains(r"[\PIPE\example]  Switchboard example"), "{}", stdout(&listed));
    let bad = run(&broker, &["rpc", "call-example", r"ncacn_np:[\pipe\nobody]", "add", "1", "2"]);
    assert_eq!(bad.status.code(), Some(1), "{}", stderr(&bad));
}

#[test]
fn servers_register_with_a_separate_endpoint_mapper_over_ncalrpc() {
    use std::io::BufRead;
    let broker = TestBroker::start();
    let mut mapper = Proc::spawn(&broker, &["rpc", "epmapper", "--tcp", "127.0.0.1:0"]);
    let mut said = std::io::BufReader::new(mapper.child().stdout.take().expect("piped stdout"));
    let (mut local, mut tcp) = (String::new(), String::new());
    said.read_line(&mut local).unwrap();
    said.read_line(&mut tcp).unwrap();
    assert!(local.starts_with("endpoint mapper at ncalrpc:[EPMAPPER]"), "{local}");
    // "endpoint mapper at ncacn_ip_tcp:127.0.0.1[PORT]"
    let tcp = tcp.split_whitespace().nth(3).unwrap().to_owned();
    let empty = run(&broker, &["rpc", "ls", &tcp]);
    ok(&empty);
    assert_eq!(stdout(&empty), "", "nothing registered yet");

    let mut server = Proc::spawn(&broker, &["rpc", "serve-example", "--ncalrpc", "REGISTERED", "--register"]);
    let mut said = std::io::BufReader::new(server.child().stdout.take().expect("piped stdout"));
    let mut lines = Vec::new();
    for _ in 0..2 {
        let mut line = String::new();
        said.read_line(&mut line).unwrap();
        lines.push(line);
    }
    assert!(lines[1].starts_with("registered 1 endpoint(s) with ncalrpc:[EPMAPPER]"), "{lines:?}");
    let listed = run(&broker, &["rpc", "ls", &tcp]);
    ok(&listed);
    assert_eq!(
        stdout(&listed),
        "5b9f3a4e-7c21-4d6a-9e0b-3f8a2c1d7e64 v1.0  ncalrpc:[REGISTERED]  Switchboard example\n",
        "listed over TCP, registered over ncalrpc"
    );
    // The server goes: so do its registrations (the mapper forgets what a
    // closed association registered).
    drop(server);
    let mut tries = 0;
    loop {
        let listed = run(&broker, &["rpc", "ls", &tcp]);
        ok(&listed);
        if stdout(&listed).is_empty() {
            break;
        }
        tries += 1;
        assert!(tries < 200, "the dead server's registration stayed: {}", stdout(&listed));
        std::thread::yield_now();
    }
}
