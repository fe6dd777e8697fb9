//! Async pipes (the `tokio` feature): the overlapped-I/O lines of
//! SEMANTICS.md §1 in their Rust form, cancellation included.

use std::time::Duration;

use switchboard::Win32Error;
use switchboard::pipe::{AsyncPipeClient, AsyncPipeServer, Connected, PipeMode, Received, ServerOptions};
use switchboard_testkit::TestBroker;

const NAME: &str = r"\\.\pipe\async";

fn message_options() -> ServerOptions {
    ServerOptions::new().pipe_mode(PipeMode::Message)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_connect_completes_when_a_client_opens() {
    let broker = TestBroker::start();
    let conn = broker.connect();
    let server = AsyncPipeServer::create(message_options(), &conn, NAME).await.unwrap();
    let connecting = tokio::spawn(async move { server.connect().await.map(|c| (c, server)) });
    let client = AsyncPipeClient::open_message(&conn, NAME).await.unwrap();
    let (outcome, server) = connecting.await.unwrap().unwrap();
    assert!(matches!(outcome, Connected::Now | Connected::Already));
    client.write(b"ping").await.unwrap();
    let mut buf = [0u8; 16];
    assert_eq!(server.read(&mut buf).await.unwrap(), Received { len: 4, more: false });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_pending_connect_cancels_it_at_the_broker() {
    let broker = TestBroker::start();
    let conn = broker.connect();
    let server = AsyncPipeServer::create(message_options(), &conn, NAME).await.unwrap();
    assert!(tokio::time::timeout(Duration::from_millis(50), server.connect()).await.is_err(), "nobody came");
    // The cancel went to the broker before this request on the same
    // connection: no connect is parked any more, so a new one is accepted.
    let err = server.blocking().connect(Some(Duration::ZERO)).unwrap_err();
    assert_eq!(err.win32_error(), Win32Error::ERROR_PIPE_LISTENING);
    // And the instance still serves a client.
    let connecting = tokio::spawn(async move { server.connect().await.map(|_| server) });
    let client = AsyncPipeClient::open_message(&conn, NAME).await.unwrap();
    let server = connecting.await.unwrap().unwrap();
    server.write(b"still here").await.unwrap();
    let mut buf = [0u8; 32];
    assert_eq!(client.read(&mut buf).await.unwrap().len, 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_read_loses_no_data() {
    let broker = TestBroker::start();
    let conn = broker.connect();
    let server = AsyncPipeServer::create(message_options(), &conn, NAME).await.unwrap();
    let client = AsyncPipeClient::open_message(&conn, NAME).await.unwrap();
    let mut buf = [0u8; 32];
    assert!(tokio::time::timeout(Duration::from_millis(20), client.read(&mut buf)).await.is_err());
    server.write(b"first").await.unwrap();
    server.write(b"second").await.unwrap();
    assert_eq!(client.read(&mut buf).await.unwrap().len, 5);
    assert_eq!(&buf[..5], b"first");
    assert_eq!(client.read(&mut buf).await.unwrap().len, 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overlapped_message_read_too_small_returns_more_data_and_the_rest() {
    let broker = TestBroker::start();
    let conn = broker.connect();
    let server = AsyncPipeServer::create(message_options(), &conn, NAME).await.unwrap();
    let client = AsyncPipeClient::open_message(&conn, NAME).await.unwrap();
    client.write(b"hello world").await.unwrap();
    let mut small = [0u8; 4];
    assert_eq!(server.read(&mut small).await.unwrap(), Received { len: 4, more: true });
    let mut rest = [0u8; 32];
    assert_eq!(server.read(&mut rest).await.unwrap(), Received { len: 7, more: false });
    assert_eq!(&rest[..7], b"o world");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_write_stays_pending_until_the_reader_drains() {
    let broker = TestBroker::start();
    let conn = broker.connect();
    let server = AsyncPipeServer::create(message_options(), &conn, NAME).await.unwrap();
    let client = AsyncPipeClient::open_message(&conn, NAME).await.unwrap();
    let big = vec![9u8; 8 << 20];
    let write = server.write(&big);
    tokio::pin!(write);
    assert!(
        tokio::time::timeout(Duration::from_millis(20), &mut write).await.is_err(),
        "8 MiB cannot fit the socket buffers"
    );
    let reading = tokio::spawn(async move {
        let mut buf = vec![0u8; 8 << 20];
        let got = client.read(&mut buf).await.unwrap();
        (got, buf)
    });
    write.await.unwrap();
    let (got, buf) = reading.await.unwrap();
    assert_eq!(got, Received { len: 8 << 20, more: false });
    assert!(buf.iter().all(|&b| b == 9));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_after_the_other_end_closes_is_broken_pipe() {
    let broker = TestBroker::start();
    let conn = broker.connect();
    let server = AsyncPipeServer::create(message_options(), &conn, NAME).await.unwrap();
    let client = AsyncPipeClient::open_message(&conn, NAME).await.unwrap();
    server.write(b"last words").await.unwrap();
    drop(server);
    let mut buf = [0u8; 32];
    assert_eq!(client.read(&mut buf).await.unwrap().len, 10);
    let err = client.read(&mut buf).await.unwrap_err();
    assert_eq!(err.win32_error(), Win32Error::ERROR_BROKEN_PIPE);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_transact_round_trips_and_refuses_with_unread_data() {
    let broker = TestBroker::start();
    let conn = broker.connect();
    let server = AsyncPipeServer::create(message_options(), &conn, NAME).await.unwrap();
    let client = AsyncPipeClient::open_message(&conn, NAME).await.unwrap();
    let echo = tokio::spawn(async move {
        let mut buf = [0u8; 64];
        let got = server.read(&mut buf).await.unwrap();
        server.write(&buf[..got.len]).await.unwrap();
        server.write(b"unsolicited").await.unwrap();
        server
    });
    let mut out = [0u8; 64];
    assert_eq!(client.transact(b"question", &mut out).await.unwrap().len, 8);
    let _server = echo.await.unwrap();
    let err = client.transact(b"again", &mut out).await.unwrap_err();
    assert_eq!(err.win32_error(), Win32Error::ERROR_PIPE_BUSY);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_read_and_write_at_once_share_the_channel() {
    let broker = TestBroker::start();
    let conn = broker.connect();
    let server = AsyncPipeServer::create(message_options(), &conn, NAME).await.unwrap();
    let connecting = tokio::spawn(async move { server.connect().await.map(|_| server) });
    let client = AsyncPipeClient::open_message(&conn, NAME).await.unwrap();
    let server = connecting.await.unwrap().unwrap();
    client.write(b"question").await.unwrap();
    // Both operations make the server's tokio side at once; the channel is
    // registered with the runtime once and both go through it.
    let mut buf = [0u8; 32];
    let (read, written) = tokio::join!(server.read(&mut buf), server.write(b"answer"));
    assert_eq!(read.unwrap(), Received { len: 8, more: false });
    assert_eq!(&buf[..8], b"question");
    written.unwrap();
    let mut reply = [0u8; 32];
    assert_eq!(client.read(&mut reply).await.unwrap(), Received { len: 6, more: false });
    assert_eq!(&reply[..6], b"answer");
}
