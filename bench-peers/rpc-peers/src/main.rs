//! `rpc-peers tarpc|tonic CLIENTS CALLS`: starts `rpc-peers tarpc-serve|tonic-serve PATH`
//! as another process, then CLIENTS clients, each on its own connection over
//! the Unix socket PATH, make CALLS calls of `add(40, 2)` one after another,
//! all at once. Prints the calls per second on one line, for
//! switchboard-bench to read beside Switchboard's DCE/RPC over ncalrpc.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use futures::{StreamExt, future};

#[tarpc::service]
trait Example {
    async fn add(a: i32, b: i32) -> i32;
}

#[derive(Clone)]
struct ExampleServer;

impl Example for ExampleServer {
    async fn add(self, _: tarpc::context::Context, a: i32, b: i32) -> i32 {
        a.wrapping_add(b)
    }
}

async fn tarpc_serve(path: &Path) {
    use tarpc::server::{BaseChannel, Channel};
    let listener = tarpc::serde_transport::unix::listen(path, tokio_serde::formats::MessagePack::default)
        .await
        .expect("listen");
    println!("ready");
    listener
        .filter_map(|r| future::ready(r.ok()))
        .map(BaseChannel::with_defaults)
        .map(|channel| {
            channel.execute(ExampleServer.serve()).for_each(|f| async {
                tokio::spawn(f);
            })
        })
        .buffer_unordered(1024)
        .for_each(|()| async {})
        .await;
}

async fn tarpc_client(path: PathBuf, calls: usize) {
    let transport = tarpc::serde_transport::unix::connect(&path, tokio_serde::formats::MessagePack::default)
        .await
        .expect("connect");
    let client = ExampleClient::new(tarpc::client::Config::default(), transport).spawn();
    for _ in 0..calls {
        let sum = client.add(tarpc::context::current(), 40, 2).await.expect("add");
        assert_eq!(sum, 42);
    }
}

/// The gRPC messages, as prost derives them (no .proto, no protoc).
#[derive(Clone, PartialEq, prost::Message)]
pub struct AddRequest {
    #[prost(int32, tag = "1")]
    pub a: i32,
    #[prost(int32, tag = "2")]
    pub b: i32,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct AddReply {
    #[prost(int32, tag = "1")]
    pub sum: i32,
}

/// The gRPC service, written as tonic-build would generate it for one
/// unary method `bench.Example/Add`.
#[derive(Clone)]
struct AddService;

impl tonic::server::NamedService for AddService {
    const NAME: &'static str = "bench.Example";
}

struct Add;

impl tonic::server::UnaryService<AddRequest> for Add {
    type Response = AddReply;
    type Future = tonic::codegen::BoxFuture<tonic::Response<AddReply>, tonic::Status>;
    fn call(&mut self, request: tonic::Request<AddRequest>) -> Self::Future {
        let m = request.into_inner();
        Box::pin(async move { Ok(tonic::Response::new(AddReply { sum: m.a.wrapping_add(m.b) })) })
    }
}

impl<B> tower::Service<tonic::codegen::http::Request<B>> for AddService
where
    B: tonic::codegen::Body + Send + 'static,
    B::Error: Into<tonic::codegen::StdError> + Send + 'static,
{
    type Response = tonic::codegen::http::Response<tonic::body::BoxBody>;
    type Error = std::convert::Infallible;
    type Future = tonic::codegen::BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: tonic::codegen::http::Request<B>) -> Self::Future {
        Box::pin(async move {
            let mut grpc = tonic::server::Grpc::new(tonic::codec::ProstCodec::<AddReply, AddRequest>::default());
            Ok(grpc.unary(Add, request).await)
        })
    }
}

async fn tonic_serve(path: &Path) {
    let listener = tokio::net::UnixListener::bind(path).expect("bind");
    println!("ready");
    tonic::transport::Server::builder()
        .add_service(AddService)
        .serve_with_incoming(tokio_stream::wrappers::UnixListenerStream::new(listener))
        .await
        .expect("serve");
}

async fn tonic_client(path: PathBuf, calls: usize) {
    let channel = tonic::transport::Endpoint::try_from("http://[::]:50051")
        .expect("endpoint")
        .connect_with_connector(tower::service_fn(move |_: tonic::transport::Uri| {
            let path = path.clone();
            async move { Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(tokio::net::UnixStream::connect(path).await?)) }
        }))
        .await
        .expect("connect");
    let mut grpc = tonic::client::Grpc::new(channel);
    let method = tonic::codegen::http::uri::PathAndQuery::from_static("/bench.Example/Add");
    for _ in 0..calls {
        grpc.ready().await.expect("ready");
        let reply: tonic::Response<AddReply> = grpc
            .unary(
                tonic::Request::new(AddRequest { a: 40, b: 2 }),
                method.clone(),
                tonic::codec::ProstCodec::<AddRequest, AddReply>::default(),
            )
            .await
            .expect("add");
        assert_eq!(reply.into_inner().sum, 42);
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    match args.first().map(String::as_str) {
        Some("tarpc-serve") => runtime.block_on(tarpc_serve(Path::new(&args[1]))),
        Some("tonic-serve") => runtime.block_on(tonic_serve(Path::new(&args[1]))),
        Some(kind @ ("tarpc" | "tonic")) => {
            let clients: usize = args[1].parse().expect("CLIENTS");
            let calls: usize = args[2].parse().expect("CALLS");
            let dir = std::env::temp_dir().join(format!("rpc-peers-{}", std::process::id()));
            std::fs::create_dir_all(&dir).expect("dir");
            let path = dir.join("example.sock");
            let mut server = Command::new(std::env::current_exe().expect("exe"))
                .arg(format!("{kind}-serve"))
                .arg(&path)
                .stdout(Stdio::piped())
                .spawn()
                .expect("server");
            let mut line = String::new();
            std::io::BufReader::new(server.stdout.as_mut().expect("stdout")).read_line(&mut line).expect("ready");
            // One warm-up call per client kind, then the clients at once.
            let is_tarpc = kind == "tarpc";
            let rate = runtime.block_on(async {
                let one = move |p: PathBuf, n: usize| async move {
                    if is_tarpc { tarpc_client(p, n).await } else { tonic_client(p, n).await }
                };
                one(path.clone(), 100).await;
                let start = Instant::now();
                let tasks: Vec<_> = (0..clients).map(|_| tokio::spawn(one(path.clone(), calls))).collect();
                for t in tasks {
                    t.await.expect("client");
                }
                (clients * calls) as f64 / start.elapsed().as_secs_f64()
            });
            let _ = server.kill();
            let _ = server.wait();
            let _ = std::fs::remove_dir_all(&dir);
            println!("{rate:.0}");
        }
        _ => {
            eprintln!("usage: rpc-peers tarpc|tonic CLIENTS CALLS");
            std::process::exit(2);
        }
    }
}
