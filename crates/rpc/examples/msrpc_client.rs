//! Our client against another DCE/RPC stack's servers (Windows, or Samba's
//! `samba-dcerpcd`): finds srvsvc and winreg through the peer's endpoint
//! mapper (`ept_map`), asks srvsvc for the server's name
//! (`NetrServerGetInfo` level 101), and reads one registry value through
//! winreg (`OpenHKLM`, `BaseRegOpenKey`, `BaseRegQueryValue`,
//! `BaseRegCloseKey`). The interfaces are declared here with
//! `#[interface]` and `#[derive(Ndr)]`, from their MS-SRVS and MS-RRP IDL.
//!
//! `cargo run -p switchboard-rpc --example msrpc_client -- HOST [MAPPER_PORT] [KEY VALUE]`
//! prints `mapper`, `srvsvc`, `winreg` lines; exits 1 on any failure.

use std::net::TcpStream;
use std::time::Duration;

use switchboard_rpc::client::{Client, Error};
use switchboard_rpc::epm::{self, Endpoint, EndpointMapperClient, Tower, Twr};
use switchboard_rpc::marshal::ContextHandle;
use switchboard_rpc::uuid::SyntaxId;
use switchboard_rpc::{Ndr, interface};

/// `SERVER_INFO_101` (MS-SRVS 2.2.4.41).
#[derive(Ndr, Debug, Default)]
pub struct ServerInfo101 {
    pub platform_id: u32,
    #[ndr(string)]
    pub name: Option<String>,
    pub version_major: u32,
    pub version_minor: u32,
    pub server_type: u32,
    #[ndr(string)]
    pub comment: Option<String>,
}

/// `SERVER_INFO_100`.
#[derive(Ndr, Debug, Default)]
pub struct ServerInfo100 {
    pub platform_id: u32,
    #[ndr(string)]
    pub name: Option<String>,
}

/// `SERVER_INFO`, the union `NetrServerGetInfo` answers with (`switch_is(Level)`).
#[derive(Ndr, Debug)]
pub enum ServerInfo {
    #[ndr(case = 100)]
    L100(Option<ServerInfo100>),
    #[ndr(case = 101)]
    L101(Option<ServerInfo101>),
}

impl Default for ServerInfo {
    fn default() -> Self {
        Self::L101(None)
    }
}

/// srvsvc (MS-SRVS), the one operation used here.
#[interface(uuid = "4b324fc8-1670-01d3-1278-5a47bf6ee188", version = "3.0")]
pub trait Srvsvc {
    /// 21: `NetrServerGetInfo`.
    #[opnum(21)]
    fn netr_server_get_info(
        &mut self,
        #[ndr(string)] server_name: Option<String>,
        level: u32,
        #[ndr(switch_is = level)] info: &mut ServerInfo,
    ) -> u32;
}

/// `RRP_UNICODE_STRING`: lengths in bytes, the NUL counted.
#[derive(Ndr, Debug, Default, Clone)]
pub struct RegString {
    pub length: u16,
    pub size: u16,
    #[ndr(size_is = size / 2, length_is = length / 2)]
    pub name: Option<Vec<u16>>,
}

impl RegString {
    fn new(text: &str) -> Self {
        let units: Vec<u16> = text.encode_utf16().chain([0]).collect();
        let bytes = u16::try_from(units.len() * 2).unwrap_or(u16::MAX);
        Self { length: bytes, size: bytes, name: Some(units) }
    }
}

/// winreg (MS-RRP), the operations used here.
#[interface(uuid = "338cd001-2244-31f1-aaaa-900038001003", version = "1.0")]
pub trait Winreg {
    /// 2: `OpenLocalMachine`.
    #[opnum(2)]
    fn open_hklm(&mut self, server_name: Option<u16>, access_mask: u32, handle: &mut ContextHandle) -> u32;
    /// 5: `BaseRegCloseKey`.
    #[opnum(5)]
    fn close_key(&mut self, #[ndr(in)] handle: &mut ContextHandle) -> u32;
    /// 15: `BaseRegOpenKey`.
    #[opnum(15)]
    fn open_key(
        &mut self,
        parent: ContextHandle,
        name: RegString,
        options: u32,
        access_mask: u32,
        handle: &mut ContextHandle,
    ) -> u32;
    /// 17: `BaseRegQueryValue`.
    #[opnum(17)]
    fn query_value(
        &mut self,
        key: ContextHandle,
        value_name: RegString,
        #[ndr(in)] value_type: &mut Option<u32>,
        #[ndr(in, size_is = data_size.unwrap_or(0), length_is = data_length.unwrap_or(0))] data: &mut Option<Vec<u8>>,
        #[ndr(in)] data_size: &mut Option<u32>,
        #[ndr(in)] data_length: &mut Option<u32>,
    ) -> u32;
}

const MAXIMUM_ALLOWED: u32 = 0x0200_0000;

fn connect(host: &str, port: u16, syntax: SyntaxId) -> Result<Client<TcpStream>, Error> {
    let stream = TcpStream::connect((host, port))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.set_nodelay(true)?;
    Ok(Client::bind(stream, syntax)?)
}

/// `ept_map` on the peer's mapper: the TCP port of `interface`.
fn map(host: &str, mapper: u16, interface: SyntaxId) -> Result<u16, String> {
    let mut epm = EndpointMapperClient::new(connect(host, mapper, epm::syntax()).map_err(|e| e.to_string())?);
    let query =
        Twr::new(&Tower { interface, transfer: SyntaxId::ndr20(), endpoint: Endpoint::Tcp { ip: [0; 4], port: 0 } });
    let (mut handle, mut num, mut towers, mut status) = (ContextHandle::default(), 0, Vec::new(), 0);
    // The object as Windows and impacket send it: a pointer to the nil UUID.
    epm.ept_map(
        Some(switchboard_rpc::uuid::Uuid::default()),
        Some(query),
        &mut handle,
        4,
        &mut num,
        &mut towers,
        &mut status,
    )
    .map_err(|e| e.to_string())?;
    if status != 0 {
        return Err(format!("ept_map of {}: status 0x{status:08x}", interface.uuid));
    }
    towers
        .iter()
        .flatten()
        .filter_map(|t| Tower::decode(&t.octets))
        .find_map(|t| match t.endpoint {
            Endpoint::Tcp { port, .. } => Some(port),
            _ => None,
        })
        .ok_or_else(|| format!("ept_map of {}: no TCP tower", interface.uuid))
}

fn run(host: &str, mapper: u16, key: &str, value: &str) -> Result<(), String> {
    let srvsvc_port = map(host, mapper, SrvsvcClient::<Client<TcpStream>>::syntax())?;
    let winreg_port = map(host, mapper, WinregClient::<Client<TcpStream>>::syntax())?;
    println!("mapper srvsvc ncacn_ip_tcp:{host}[{srvsvc_port}] winreg ncacn_ip_tcp:{host}[{winreg_port}]");

    let rpc = connect(host, srvsvc_port, SrvsvcClient::<Client<TcpStream>>::syntax()).map_err(|e| e.to_string())?;
    let mut srvsvc = SrvsvcClient::new(rpc);
    let mut info = ServerInfo::default();
    let status = srvsvc.netr_server_get_info(None, 101, &mut info).map_err(|e| e.to_string())?;
    let ServerInfo::L101(Some(info)) = info else { return Err(format!("NetrServerGetInfo: {status:#x}, {info:?}")) };
    if status != 0 {
        return Err(format!("NetrServerGetInfo: WERROR {status:#x}"));
    }
    println!(
        "srvsvc name={} platform={} version={}.{} type={:#x} comment={:?}",
        info.name.unwrap_or_default(),
        info.platform_id,
        info.version_major,
        info.version_minor,
        info.server_type,
        info.comment.unwrap_or_default()
    );

    let rpc = connect(host, winreg_port, WinregClient::<Client<TcpStream>>::syntax()).map_err(|e| e.to_string())?;
    let mut winreg = WinregClient::new(rpc);
    let werr = |op: &str, status: u32| if status == 0 { Ok(()) } else { Err(format!("{op}: WERROR {status:#x}")) };
    let mut hklm = ContextHandle::default();
    werr("OpenHKLM", winreg.open_hklm(None, MAXIMUM_ALLOWED, &mut hklm).map_err(|e| e.to_string())?)?;
    let mut subkey = ContextHandle::default();
    let status = winreg
        .open_key(hklm, RegString::new(key), 0, switchboard::access::key::KEY_READ.bits(), &mut subkey)
        .map_err(|e| e.to_string())?;
    werr("BaseRegOpenKey", status)?;
    let (mut value_type, mut data, mut size, mut length) = (Some(0), Some(Vec::new()), Some(4096), Some(0));
    let status = winreg
        .query_value(subkey, RegString::new(value), &mut value_type, &mut data, &mut size, &mut length)
        .map_err(|e| e.to_string())?;
    werr("BaseRegQueryValue", status)?;
    let bytes = data.unwrap_or_default();
    let units: Vec<u16> = bytes.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
    let text = String::from_utf16_lossy(units.strip_suffix(&[0]).unwrap_or(&units));
    println!("winreg {key}\\{value} type={} length={} value={text:?}", value_type.unwrap_or(0), length.unwrap_or(0));
    werr("BaseRegCloseKey", winreg.close_key(&mut subkey).map_err(|e| e.to_string())?)?;
    werr("BaseRegCloseKey", winreg.close_key(&mut hklm).map_err(|e| e.to_string())?)?;
    if !subkey.is_null() || !hklm.is_null() {
        return Err("BaseRegCloseKey left a handle open".into());
    }
    Ok(())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let host = args.first().map_or("127.0.0.1", String::as_str);
    let mapper = args.get(1).and_then(|p| p.parse().ok()).unwrap_or(135);
    let key = args.get(2).map_or(r"SYSTEM\CurrentControlSet\Control\ProductOptions", String::as_str);
    let value = args.get(3).map_or("ProductType", String::as_str);
    if let Err(e) = run(host, mapper, key, value) {
        eprintln!("msrpc_client: {e}");
        std::process::exit(1);
    }
}
