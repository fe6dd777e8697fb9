use super::*;
use crate::client::InProcess;

fn example(port: u16) -> Registration {
    Registration::new(crate::example::syntax(), Endpoint::Tcp { ip: [127, 0, 0, 1], port }, "Switchboard example")
}

fn client(registered: &Registrations, local: bool) -> EndpointMapperClient<InProcess<EndpointMapperServer<Mapper>>> {
    let mapper = if local { Mapper::local(Arc::clone(registered)) } else { Mapper::new(Arc::clone(registered)) };
    EndpointMapperClient::new(InProcess(EndpointMapperServer(mapper)))
}

#[test]
fn towers_round_trip_for_tcp_and_ncalrpc() {
    let t = Tower {
        interface: crate::example::syntax(),
        transfer: SyntaxId::ndr20(),
        endpoint: Endpoint::Tcp { ip: [127, 0, 0, 1], port: 5000 },
    };
    let bytes = t.encode();
    assert_eq!(&bytes[..4], &[5, 0, 19, 0], "five floors, the first 19 bytes on the left");
    assert!(bytes.windows(5).any(|w| w == [1, 0, FLOOR_TCP, 2, 0]), "the port floor");
    assert!(bytes.windows(2).any(|w| w == 5000u16.to_be_bytes()));
    assert_eq!(Tower::decode(&bytes), Some(t));
    assert_eq!(Tower::decode(&bytes[..20]), None, "truncated");
    let local = Tower {
        interface: syntax(),
        transfer: SyntaxId::ndr20(),
        endpoint: Endpoint::Local { name: "EPMAPPER".into() },
    };
    let bytes = local.encode();
    assert_eq!(&bytes[..2], &[4, 0], "four floors");
    assert!(bytes.ends_with(b"\x01\x00\x10\x09\x00EPMAPPER\x00"), "{bytes:x?}");
    assert_eq!(Tower::decode(&bytes), Some(local));
    let pipe = Tower {
        interface: syntax(),
        transfer: SyntaxId::ndr20(),
        endpoint: Endpoint::Pipe { pipe: r"\PIPE\example".into(), host: r"\\HOST".into() },
    };
    let bytes = pipe.encode();
    assert_eq!(&bytes[..2], &[5, 0], "five floors");
    assert!(bytes.windows(4).any(|w| w == [1, 0, FLOOR_SMB, 14]), "the pipe floor: {bytes:x?}");
    assert_eq!(Tower::decode(&bytes), Some(pipe.clone()));
    assert_eq!(pipe.endpoint.to_string(), r"ncacn_np:HOST[\PIPE\example]");
}

#[test]
fn ept_lookup_pages_through_a_handle_until_a_short_batch_or_not_registered() {
    let registered: Registrations = Arc::new(Mutex::new((1..=5).map(|p| example(5000 + p)).collect()));
    let mut epm = client(&registered, false);
    let (seen, statuses, handle) = page(&mut epm, 2);
    assert_eq!(statuses, [0, 0, 0], "2 + 2 + 1: the short batch is the last");
    assert!(handle.is_null(), "the mapper closed the handle");
    assert_eq!(seen.len(), 5);
    assert_eq!(seen[4].to_string(), "ncacn_ip_tcp:127.0.0.1[5005]");
    // rpcclient's way: one entry a call, until EPT_S_NOT_REGISTERED.
    let (seen, statuses, handle) = page(&mut epm, 1);
    assert_eq!(statuses, [0, 0, 0, 0, 0, EPT_S_NOT_REGISTERED]);
    assert!(handle.is_null());
    assert_eq!(seen.len(), 5);
    assert_eq!(lookup_all(&mut epm, 100).unwrap().len(), 5);
}

fn page(
    epm: &mut EndpointMapperClient<InProcess<EndpointMapperServer<Mapper>>>,
    max: u32,
) -> (Vec<Endpoint>, Vec<u32>, ContextHandle) {
    let mut handle = ContextHandle::default();
    let mut seen = Vec::new();
    let mut statuses = Vec::new();
    for _ in 0..10 {
        let (mut num, mut entries, mut status) = (0, Vec::new(), 0);
        epm.ept_lookup(
            RPC_C_EP_ALL_ELTS,
            None,
            None,
            RPC_C_VERS_ALL,
            &mut handle,
            max,
            &mut num,
            &mut entries,
            &mut status,
        )
        .unwrap();
        assert_eq!(num as usize, entries.len());
        statuses.push(status);
        seen.extend(entries.iter().map(|e| Tower::decode(&e.tower.as_ref().unwrap().octets).unwrap().endpoint));
        if status != 0 || handle.is_null() {
            break;
        }
    }
    (seen, statuses, handle)
}

#[test]
fn ept_lookup_filters_by_interface_and_version_and_handles_can_be_freed() {
    let mut other = crate::example::syntax();
    other.uuid.d1 ^= 1;
    let registered: Registrations = Arc::new(Mutex::new(vec![
        example(5001),
        Registration::new(other, Endpoint::Local { name: "OTHER".into() }, "other"),
    ]));
    let mut epm = client(&registered, false);
    let want = RpcIfId { uuid: other.uuid, vers_major: 1, vers_minor: 0 };
    let lookup = |epm: &mut EndpointMapperClient<_>, vers_option, want: RpcIfId| {
        let (mut handle, mut num, mut entries, mut status) = (ContextHandle::default(), 0, Vec::new(), 0);
        epm.ept_lookup(
            RPC_C_EP_MATCH_BY_IF,
            None,
            Some(want),
            vers_option,
            &mut handle,
            10,
            &mut num,
            &mut entries,
            &mut status,
        )
        .unwrap();
        (entries, status, handle)
    };
    let (entries, status, mut handle) = lookup(&mut epm, RPC_C_VERS_COMPATIBLE, want);
    assert_eq!(status, 0);
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].annotation, "other");
    let t = Tower::decode(&entries[0].tower.as_ref().unwrap().octets).unwrap();
    assert_eq!(t.endpoint, Endpoint::Local { name: "OTHER".into() });
    let mut status = 1;
    epm.ept_lookup_handle_free(&mut handle, &mut status).unwrap();
    assert_eq!((status, handle.is_null()), (0, true));
    let newer = RpcIfId { vers_minor: 1, ..want };
    assert_eq!(lookup(&mut epm, RPC_C_VERS_COMPATIBLE, newer).1, EPT_S_NOT_REGISTERED, "1.0 is older than 1.1");
    assert_eq!(lookup(&mut epm, RPC_C_VERS_UPTO, newer).1, 0);
    assert_eq!(lookup(&mut epm, RPC_C_VERS_EXACT, newer).1, EPT_S_NOT_REGISTERED);
}

#[test]
fn ept_map_answers_with_the_registered_port_of_the_same_transport_or_not_registered() {
    let registered: Registrations = Arc::new(Mutex::new(vec![
        example(5135),
        Registration::new(crate::example::syntax(), Endpoint::Local { name: "EXAMPLE".into() }, ""),
    ]));
    let mut epm = client(&registered, false);
    let map = |epm: &mut EndpointMapperClient<_>, interface: SyntaxId, endpoint: Endpoint| {
        let query = Twr::new(&Tower { interface, transfer: SyntaxId::ndr20(), endpoint });
        let (mut handle, mut num, mut towers, mut status) = (ContextHandle::default(), 0, Vec::new(), 0);
        epm.ept_map(None, Some(query), &mut handle, 4, &mut num, &mut towers, &mut status).unwrap();
        let ends: Vec<Endpoint> =
            towers.iter().map(|t| Tower::decode(&t.as_ref().unwrap().octets).unwrap().endpoint).collect();
        (ends, status)
    };
    let (ends, status) = map(&mut epm, crate::example::syntax(), Endpoint::Tcp { ip: [0; 4], port: 0 });
    assert_eq!((ends, status), (vec![Endpoint::Tcp { ip: [127, 0, 0, 1], port: 5135 }], 0));
    let (ends, _) = map(&mut epm, crate::example::syntax(), Endpoint::Local { name: String::new() });
    assert_eq!(ends, vec![Endpoint::Local { name: "EXAMPLE".into() }]);
    let (ends, status) = map(&mut epm, syntax(), Endpoint::Tcp { ip: [0; 4], port: 0 });
    assert_eq!((ends.len(), status), (0, EPT_S_NOT_REGISTERED));
}

#[test]
fn only_local_associations_may_register() {
    let registered: Registrations = Arc::new(Mutex::new(Vec::new()));
    let entry = example(6000).entry();
    let mut status = 0;
    client(&registered, false).ept_insert(1, vec![entry.clone()], 0, &mut status).unwrap();
    assert_eq!(status, EPT_S_CANT_PERFORM_OP);
    let mut local = client(&registered, true);
    local.ept_insert(1, vec![entry.clone()], 0, &mut status).unwrap();
    assert_eq!(status, 0);
    assert_eq!(registered.lock().unwrap().len(), 1);
    local.ept_delete(1, vec![entry], &mut status).unwrap();
    assert_eq!((status, registered.lock().unwrap().len()), (0, 0));
}

#[test]
fn the_wire_form_of_ept_map_is_what_impacket_and_windows_send() {
    // ept_map's request as impacket sends it: object [ptr] NULL... here a
    // nil UUID behind a pointer, the tower [ptr] (conformance first), a
    // NULL handle, max_towers 4.
    let tower = Tower {
        interface: crate::example::syntax(),
        transfer: SyntaxId::ndr20(),
        endpoint: Endpoint::Tcp { ip: [0; 4], port: 0 },
    }
    .encode();
    let mut w = crate::ndr::NdrWriter::new();
    w.pointer(true);
    for _ in 0..4 {
        w.u32(0);
    }
    w.pointer(true);
    w.u32(u32::try_from(tower.len()).unwrap());
    w.u32(u32::try_from(tower.len()).unwrap());
    w.bytes(&tower);
    w.align(4);
    for _ in 0..5 {
        w.u32(0);
    }
    w.u32(4);
    let registered: Registrations = Arc::new(Mutex::new(vec![example(5135)]));
    let mut server = Mapper::new(registered).into_server();
    let reply = server.call(3, &w.into_bytes(), DataRep::NATIVE).unwrap();
    let mut r = crate::ndr::NdrReader::new(&reply, DataRep::NATIVE);
    for _ in 0..5 {
        r.u32().unwrap();
    }
    assert_eq!(r.u32(), Ok(1), "one tower");
    assert_eq!((r.u32(), r.u32(), r.u32()), (Ok(4), Ok(0), Ok(1)), "max 4, offset 0, one");
    assert!(r.pointer().unwrap().is_some());
    let length = r.u32().unwrap();
    assert_eq!(r.u32(), Ok(length));
    let octets = r.bytes(length as usize).unwrap().to_vec();
    assert_eq!(Tower::decode(&octets).map(|t| t.endpoint), Some(Endpoint::Tcp { ip: [127, 0, 0, 1], port: 5135 }));
    r.align(4).unwrap();
    assert_eq!(r.u32(), Ok(0), "status");
    assert!(r.finished());
}

#[test]
fn what_an_association_registered_goes_when_it_ends() {
    let registered: Registrations = Arc::new(Mutex::new(vec![example(5000)]));
    let mut local = client(&registered, true);
    let mut status = 1;
    local.ept_insert(1, vec![example(6000).entry()], 0, &mut status).unwrap();
    assert_eq!((status, registered.lock().unwrap().len()), (0, 2));
    drop(local);
    assert_eq!(*registered.lock().unwrap(), vec![example(5000)], "only the other registration stays");
}
