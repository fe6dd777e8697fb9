//! Named pipes: the pipe (its configuration and instances), each instance's
//! life (listening, connected, closing, disconnected), `WaitNamedPipe`
//! waiters, and the hand-over of each connection's private channel.
//!
//! Bytes never pass through the broker. When a client opens a listening
//! instance, the broker makes a socket pair, hands one end to the client with
//! the reply and keeps the other for the server (given with `ConnectNamedPipe`
//! or the server's first read or write). It keeps a duplicate of both ends
//! only so that `DisconnectNamedPipe` can discard unread data and cut the
//! connection, as Windows does.

use std::collections::{BTreeSet, HashMap};
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use switchboard_proto as p;
use switchboard_proto::{PipeMode, PipeState, Reply, WireError};
use switchboard_types::access::file::{
    self, FILE_CREATE_PIPE_INSTANCE, FILE_READ_ATTRIBUTES, FILE_READ_DATA, FILE_WRITE_ATTRIBUTES, FILE_WRITE_DATA,
};
use switchboard_types::access::{AccessMask, GenericMapping};
use switchboard_types::security::SecurityDescriptor;
use switchboard_types::{Handle, ObjectKind, PipeName, Win32Error};

use super::objects::{Entry, Object, ObjectId, downcast};
use super::{ClientId, Core, Credentials, Cx};

/// `WaitNamedPipe`'s default when the pipe was created with timeout 0.
const DEFAULT_WAIT_MS: u32 = 50;

/// One named pipe: what its instances share.
#[derive(Debug)]
pub struct Family {
    name: String,
    pipe_type: PipeMode,
    inbound: bool,
    outbound: bool,
    max_instances: u32,
    out_buffer: u32,
    in_buffer: u32,
    default_timeout_ms: u32,
    security: SecurityDescriptor,
    instances: Vec<ObjectId>,
}

/// A server end: one instance of a pipe.
#[derive(Debug)]
pub struct ServerEnd {
    key: String,
    state: PipeState,
    nowait: bool,
    /// The server's end of the channel, until the server takes it.
    channel: Option<OwnedFd>,
    /// Duplicates kept to discard data and cut the connection on disconnect.
    server_dup: Option<OwnedFd>,
    client_dup: Option<OwnedFd>,
    client_end: Option<ObjectId>,
    peer: Option<Credentials>,
    /// A `ConnectNamedPipe` waiting for a client: who, which request, until when.
    parked: Option<(ClientId, u32, Option<Instant>)>,
}

/// A client end.
#[derive(Debug)]
pub struct ClientEnd {
    key: String,
    instance: Option<ObjectId>,
    state: PipeState,
    server: Option<Credentials>,
}

impl Object for ServerEnd {
    fn kind(&self) -> ObjectKind {
        ObjectKind::NamedPipe
    }
    fn mapping(&self) -> GenericMapping {
        file::MAPPING
    }
    fn describe(&self) -> String {
        format!("server end, {:?}", self.state).to_lowercase()
    }
    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }
}

impl Object for ClientEnd {
    fn kind(&self) -> ObjectKind {
        ObjectKind::NamedPipe
    }
    fn mapping(&self) -> GenericMapping {
        file::MAPPING
    }
    fn describe(&self) -> String {
        format!("client end, {:?}", self.state).to_lowercase()
    }
    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }
}

/// A parked `WaitNamedPipe`.
#[derive(Debug)]
struct PipeWait {
    client: ClientId,
    request: u32,
    key: String,
    deadline: Option<Instant>,
}

/// Every pipe, and the waits and timers that concern them.
#[derive(Debug, Default)]
pub struct Pipes {
    families: HashMap<String, Family>,
    waits: HashMap<u64, PipeWait>,
    next_wait: u64,
    /// Deadlines of parked `WaitNamedPipe` (by wait id) and `ConnectNamedPipe` (by instance).
    timers: BTreeSet<(Instant, Timer)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    Wait(u64),
    Connect(ObjectId),
}

impl Pipes {
    /// The earliest deadline.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.timers.first().map(|(t, _)| *t)
    }
}

fn err(code: Win32Error, message: impl Into<String>) -> WireError {
    WireError::new(code, message)
}

fn local(name: &PipeName) -> Result<(), WireError> {
    if name.is_local() {
        Ok(())
    } else {
        Err(err(Win32Error::ERROR_NOT_SUPPORTED, "pipes on other machines are not supported yet"))
    }
}

impl Core {
    fn server_end(&mut self, cx: &Cx, handle: Handle) -> Result<(ObjectId, &mut ServerEnd), WireError> {
        let (id, _) = self.lookup(cx, handle, AccessMask(0))?;
        let end = self.store.get_mut(id).and_then(|e| e.object.as_any_mut().downcast_mut::<ServerEnd>());
        match end {
            Some(end) => Ok((id, end)),
            None => {
                Err(err(Win32Error::ERROR_INVALID_FUNCTION, format!("handle {handle} is not the server end of a pipe")))
            }
        }
    }

    fn instance_mut(&mut self, id: ObjectId) -> Option<&mut ServerEnd> {
        self.store.get_mut(id).and_then(|e| e.object.as_any_mut().downcast_mut::<ServerEnd>())
    }

    fn client_end_mut(&mut self, id: ObjectId) -> Option<&mut ClientEnd> {
        self.store.get_mut(id).and_then(|e| e.object.as_any_mut().downcast_mut::<ClientEnd>())
    }

    pub(super) fn pipe_create(&mut self, cx: &Cx, req: &p::CreatePipe) -> Result<Handle, WireError> {
        local(&req.name)?;
        if !req.inbound && !req.outbound {
            return Err(err(Win32Error::ERROR_INVALID_PARAMETER, "the pipe must be inbound, outbound or both"));
        }
        if req.pipe_type == PipeMode::Byte && req.read_mode == PipeMode::Message {
            return Err(err(Win32Error::ERROR_INVALID_PARAMETER, "a byte-type pipe cannot be read in message mode"));
        }
        if req.max_instances == 0 || req.max_instances > p::PIPE_UNLIMITED_INSTANCES {
            return Err(err(
                Win32Error::ERROR_INVALID_PARAMETER,
                "max instances must be 1 to 254, or 255 for unlimited",
            ));
        }
        let key = req.name.key();
        let token = self.client(cx.client)?.token.clone();
        let mut access =
            AccessMask::SYNCHRONIZE | AccessMask::READ_CONTROL | FILE_READ_ATTRIBUTES | FILE_WRITE_ATTRIBUTES;
        if req.inbound {
            access |= FILE_READ_DATA;
        }
        if req.outbound {
            access |= FILE_WRITE_DATA;
        }
        if let Some(family) = self.pipes.families.get(&key) {
            if req.first_instance {
                return Err(err(
                    Win32Error::ERROR_ACCESS_DENIED,
                    "the pipe exists and the first instance was asked for",
                ));
            }
            if family.inbound != req.inbound || family.outbound != req.outbound {
                return Err(err(Win32Error::ERROR_ACCESS_DENIED, "the pipe exists with another direction"));
            }
            let limit = family.max_instances;
            if limit != p::PIPE_UNLIMITED_INSTANCES && family.instances.len() as u32 >= limit {
                return Err(err(Win32Error::ERROR_PIPE_BUSY, format!("all {limit} instances exist")));
            }
            // A new instance of an existing pipe needs the right to create one (FILE_CREATE_PIPE_INSTANCE = FILE_APPEND_DATA).
            family
                .security
                .access_check(&token, FILE_CREATE_PIPE_INSTANCE, &file::MAPPING)
                .map_err(|d| err(Win32Error::ERROR_ACCESS_DENIED, d.to_string()))?;
        } else {
            let security = match &req.security.sddl {
                Some(text) => SecurityDescriptor::parse_sddl(text, &token.user_sid())
                    .map_err(|e| err(Win32Error::ERROR_INVALID_PARAMETER, format!("security descriptor: {e}")))?,
                None => SecurityDescriptor::default_for(&token),
            };
            let family = Family {
                name: req.name.name().to_owned(),
                pipe_type: req.pipe_type,
                inbound: req.inbound,
                outbound: req.outbound,
                max_instances: req.max_instances,
                out_buffer: req.out_buffer,
                in_buffer: req.in_buffer,
                default_timeout_ms: if req.default_timeout_ms == 0 { DEFAULT_WAIT_MS } else { req.default_timeout_ms },
                security,
                instances: Vec::new(),
            };
            self.pipes.families.insert(key.clone(), family);
        }
        let end = ServerEnd {
            key: key.clone(),
            state: PipeState::Listening,
            nowait: req.nowait,
            channel: None,
            server_dup: None,
            client_dup: None,
            client_end: None,
            peer: None,
            parked: None,
        };
        let security = SecurityDescriptor::default_for(&token);
        let id = self.store.insert(Entry { object: Box::new(end), path: None, security, handles: 0 });
        if let Some(family) = self.pipes.families.get_mut(&key) {
            family.instances.push(id);
        }
        let handle = match self.add_handle(cx, id, access) {
            Ok(h) => h,
            Err(e) => {
                self.pipe_instance_closed(id);
                self.store.remove(id);
                return Err(e);
            }
        };
        self.wake_pipe_waiters(&key);
        Ok(handle)
    }

    pub(super) fn pipe_open(&mut self, cx: &Cx, req: &p::OpenPipe) -> Result<p::PipeOpened, WireError> {
        local(&req.name)?;
        let key = req.name.key();
        let client = self.client(cx.client)?;
        let token = client.token.clone();
        let cred = client.cred.clone();
        let family =
            self.pipes.families.get(&key).ok_or_else(|| err(Win32Error::ERROR_FILE_NOT_FOUND, "no such pipe"))?;
        let wanted = file::MAPPING.map(req.access);
        if wanted.intersects(FILE_WRITE_DATA) && !family.inbound {
            return Err(err(Win32Error::ERROR_ACCESS_DENIED, "the pipe is outbound: its clients cannot write"));
        }
        if wanted.intersects(FILE_READ_DATA) && !family.outbound {
            return Err(err(Win32Error::ERROR_ACCESS_DENIED, "the pipe is inbound: its clients cannot read"));
        }
        let granted = if wanted.is_empty() {
            AccessMask::SYNCHRONIZE | FILE_READ_ATTRIBUTES
        } else {
            family
                .security
                .access_check(&token, wanted, &file::MAPPING)
                .map_err(|d| err(Win32Error::ERROR_ACCESS_DENIED, d.to_string()))?
        };
        let pipe_type = family.pipe_type;
        let listening =
            family.instances.iter().copied().find(|&id| self.instance_state(id) == Some(PipeState::Listening));
        let Some(instance) = listening else {
            return Err(err(Win32Error::ERROR_PIPE_BUSY, "all instances are busy"));
        };
        let (server_sock, client_sock) = self
            .resources
            .stream_pair()
            .map_err(|e| err(Win32Error::ERROR_NO_SYSTEM_RESOURCES, format!("cannot make a channel: {e}")))?;
        let os = &mut *self.resources;
        let dups = os.duplicate(&server_sock).and_then(|s| Ok((s, os.duplicate(&client_sock)?)));
        let (server_dup, client_dup) =
            dups.map_err(|e| err(Win32Error::ERROR_NO_SYSTEM_RESOURCES, format!("cannot duplicate a channel: {e}")))?;
        let server = self.owner_of(instance);
        let end = ClientEnd { key, instance: Some(instance), state: PipeState::Connected, server };
        let security = SecurityDescriptor::default_for(&token);
        let end_id = self.store.insert(Entry { object: Box::new(end), path: None, security, handles: 0 });
        let handle = match self.add_handle(cx, end_id, granted) {
            Ok(h) => h,
            Err(e) => {
                self.store.remove(end_id);
                return Err(e);
            }
        };
        let mut server_sock = Some(server_sock);
        let mut parked = None;
        if let Some(inst) = self.instance_mut(instance) {
            inst.state = PipeState::Connected;
            inst.server_dup = Some(server_dup);
            inst.client_dup = Some(client_dup);
            inst.client_end = Some(end_id);
            inst.peer = Some(cred);
            parked = inst.parked.take();
            if parked.is_none() {
                inst.channel = server_sock.take();
            }
        }
        // A server blocked in ConnectNamedPipe gets its channel now.
        if let (Some((who, request, deadline)), Some(sock)) = (parked, server_sock) {
            if let Some(d) = deadline {
                self.pipes.timers.remove(&(d, Timer::Connect(instance)));
            }
            self.reply(who, request, Ok(Reply::ConnectPipe(p::PipeConnected { already_connected: false })), vec![sock]);
        }
        self.attach.push(client_sock);
        Ok(p::PipeOpened { handle, access: granted, pipe_type })
    }

    fn instance_state(&self, id: ObjectId) -> Option<PipeState> {
        downcast::<ServerEnd>(self.store.get(id)?.object.as_ref()).map(|s| s.state)
    }

    /// The credentials of the process holding the server end (the first holder).
    fn owner_of(&self, instance: ObjectId) -> Option<Credentials> {
        self.clients.values().find(|c| c.handles.iter().any(|(_, e)| e.object == instance)).map(|c| c.cred.clone())
    }

    pub(super) fn pipe_connect(&mut self, cx: &Cx, req: p::ConnectPipe) -> Result<Option<p::PipeConnected>, WireError> {
        let now = cx.now;
        let (id, end) = self.server_end(cx, req.handle)?;
        if end.parked.is_some() {
            return Err(err(
                Win32Error::ERROR_INVALID_PARAMETER,
                "a ConnectNamedPipe is already waiting on this instance",
            ));
        }
        if req.take_only {
            return match end.state {
                PipeState::Listening => Err(err(Win32Error::ERROR_PIPE_LISTENING, "no client has connected")),
                PipeState::Disconnected => Err(err(Win32Error::ERROR_PIPE_NOT_CONNECTED, "the pipe was disconnected")),
                PipeState::Connected | PipeState::Closing => match end.channel.take() {
                    Some(fd) => {
                        self.attach.push(fd);
                        Ok(Some(p::PipeConnected { already_connected: true }))
                    }
                    None if end.state == PipeState::Closing => {
                        Err(err(Win32Error::ERROR_BROKEN_PIPE, "the client closed the pipe"))
                    }
                    None => Ok(Some(p::PipeConnected { already_connected: true })),
                },
            };
        }
        let mut woke = None;
        match end.state {
            PipeState::Connected => {
                if let Some(fd) = end.channel.take() {
                    self.attach.push(fd);
                }
                return Ok(Some(p::PipeConnected { already_connected: true }));
            }
            PipeState::Closing => {
                return Err(err(Win32Error::ERROR_NO_DATA, "the client came and went; disconnect first"));
            }
            PipeState::Disconnected => {
                end.state = PipeState::Listening;
                woke = Some(end.key.clone());
            }
            PipeState::Listening => {}
        }
        let nowait = end.nowait;
        let result = if nowait || req.timeout_ms == Some(0) {
            Err(err(Win32Error::ERROR_PIPE_LISTENING, "no client has connected"))
        } else {
            let deadline = req.timeout_ms.and_then(|ms| now.checked_add(Duration::from_millis(ms)));
            end.parked = Some((cx.client, cx.request, deadline));
            if let Some(d) = deadline {
                self.pipes.timers.insert((d, Timer::Connect(id)));
            }
            Ok(None)
        };
        if let Some(key) = woke {
            self.wake_pipe_waiters(&key);
        }
        result
    }

    pub(super) fn pipe_cancel_connect(&mut self, cx: &Cx, handle: Handle) -> Result<bool, WireError> {
        let (id, end) = self.server_end(cx, handle)?;
        let Some((who, request, deadline)) = end.parked.take() else { return Ok(false) };
        if let Some(d) = deadline {
            self.pipes.timers.remove(&(d, Timer::Connect(id)));
        }
        let aborted = err(Win32Error::ERROR_OPERATION_ABORTED, "the wait for a client was cancelled");
        self.reply(who, request, Err(aborted), Vec::new());
        Ok(true)
    }

    pub(super) fn pipe_wait(&mut self, cx: &Cx, req: &p::WaitPipe) -> Result<bool, WireError> {
        local(&req.name)?;
        let key = req.name.key();
        let family =
            self.pipes.families.get(&key).ok_or_else(|| err(Win32Error::ERROR_FILE_NOT_FOUND, "no such pipe"))?;
        if family.instances.iter().any(|&i| self.instance_state(i) == Some(PipeState::Listening)) {
            return Ok(true);
        }
        let timeout = if req.use_default { Some(u64::from(family.default_timeout_ms)) } else { req.timeout_ms };
        if timeout == Some(0) {
            return Err(err(Win32Error::ERROR_SEM_TIMEOUT, "no instance is free"));
        }
        let deadline = timeout.and_then(|ms| cx.now.checked_add(Duration::from_millis(ms)));
        let id = self.pipes.next_wait;
        self.pipes.next_wait += 1;
        self.pipes.waits.insert(id, PipeWait { client: cx.client, request: cx.request, key, deadline });
        if let Some(d) = deadline {
            self.pipes.timers.insert((d, Timer::Wait(id)));
        }
        Ok(false)
    }

    fn wake_pipe_waiters(&mut self, key: &str) {
        let ids: Vec<u64> = self.pipes.waits.iter().filter(|(_, w)| w.key == key).map(|(id, _)| *id).collect();
        for id in ids {
            if let Some(w) = self.pipes.waits.remove(&id) {
                if let Some(d) = w.deadline {
                    self.pipes.timers.remove(&(d, Timer::Wait(id)));
                }
                self.reply(w.client, w.request, Ok(Reply::WaitPipe(())), Vec::new());
            }
        }
    }

    pub(super) fn pipe_disconnect(&mut self, cx: &Cx, handle: Handle) -> Result<(), WireError> {
        let (_, end) = self.server_end(cx, handle)?;
        match end.state {
            PipeState::Listening => return Err(err(Win32Error::ERROR_PIPE_LISTENING, "no client is connected")),
            PipeState::Disconnected => return Err(err(Win32Error::ERROR_PIPE_NOT_CONNECTED, "already disconnected")),
            PipeState::Connected | PipeState::Closing => {}
        }
        end.state = PipeState::Disconnected;
        end.channel = None;
        end.peer = None;
        let channel = [end.server_dup.take(), end.client_dup.take()];
        if let Some(client_end) = end.client_end.take()
            && let Some(c) = self.client_end_mut(client_end)
        {
            c.state = PipeState::Disconnected;
            c.instance = None;
        }
        // Unread data in either direction is discarded, then the channel is cut.
        for fd in channel.iter().flatten() {
            self.resources.cut(fd);
        }
        Ok(())
    }

    pub(super) fn pipe_query(&mut self, cx: &Cx, handle: Handle) -> Result<p::PipeStatus, WireError> {
        let (id, _) = self.lookup(cx, handle, AccessMask(0))?;
        let entry = self.store.get(id).ok_or_else(|| err(Win32Error::ERROR_INVALID_HANDLE, "no such object"))?;
        let object = entry.object.as_ref();
        let (server_end, key, state, peer) = if let Some(s) = downcast::<ServerEnd>(object) {
            (true, s.key.clone(), s.state, s.peer.clone())
        } else if let Some(c) = downcast::<ClientEnd>(object) {
            (false, c.key.clone(), c.state, c.server.clone())
        } else {
            return Err(err(Win32Error::ERROR_INVALID_HANDLE, format!("handle {handle} is not a pipe")));
        };
        let family = self.pipes.families.get(&key);
        Ok(p::PipeStatus {
            server_end,
            name: family.map(|f| f.name.clone()).unwrap_or_default(),
            pipe_type: family.map_or(PipeMode::Byte, |f| f.pipe_type),
            state,
            max_instances: family.map_or(0, |f| f.max_instances),
            instances: family.map_or(0, |f| f.instances.len() as u32),
            out_buffer: family.map_or(0, |f| f.out_buffer),
            in_buffer: family.map_or(0, |f| f.in_buffer),
            default_timeout_ms: family.map_or(0, |f| f.default_timeout_ms),
            peer_pid: peer.as_ref().map(|c| c.pid),
            peer_uid: peer.as_ref().map(|c| c.uid),
            peer_gid: peer.as_ref().map(|c| c.gid),
            peer_groups: peer.map(|c| c.groups).unwrap_or_default(),
        })
    }

    pub(super) fn pipe_list(&self) -> Vec<p::PipeListing> {
        let mut rows: Vec<p::PipeListing> = self
            .pipes
            .families
            .iter()
            .map(|(key, f)| p::PipeListing {
                waiters: self.pipes.waits.values().filter(|w| &w.key == key).count() as u32,
                name: f.name.clone(),
                instances: f.instances.len() as u32,
                max_instances: f.max_instances,
                connected: f.instances.iter().filter(|&&i| self.instance_state(i) == Some(PipeState::Connected)).count()
                    as u32,
            })
            .collect();
        rows.sort_by_key(|a| a.name.to_uppercase());
        rows
    }

    /// An object's last handle closed: a pipe end leaves its instance or pipe.
    pub(super) fn pipe_handle_closed(&mut self, id: ObjectId) {
        let Some(entry) = self.store.get_mut(id) else { return };
        let any = entry.object.as_any_mut();
        if let Some(client) = any.downcast_mut::<ClientEnd>() {
            if let Some(instance) = client.instance.take()
                && let Some(inst) = self.instance_mut(instance)
            {
                inst.client_end = None;
                inst.client_dup = None;
                if inst.state == PipeState::Connected {
                    inst.state = PipeState::Closing;
                }
            }
        } else if any.downcast_mut::<ServerEnd>().is_some() {
            self.pipe_instance_closed(id);
        }
    }

    fn pipe_instance_closed(&mut self, id: ObjectId) {
        let Some(end) = self.instance_mut(id) else { return };
        let key = end.key.clone();
        end.channel = None;
        end.server_dup = None;
        end.client_dup = None;
        let client_end = end.client_end.take();
        let parked = end.parked.take();
        if let Some(c) = client_end.and_then(|c| self.client_end_mut(c)) {
            c.instance = None;
            c.state = PipeState::Closing;
        }
        if let Some((who, request, deadline)) = parked {
            if let Some(d) = deadline {
                self.pipes.timers.remove(&(d, Timer::Connect(id)));
            }
            self.reply(
                who,
                request,
                Err(err(Win32Error::ERROR_INVALID_HANDLE, "the pipe instance was closed")),
                Vec::new(),
            );
        }
        if let Some(family) = self.pipes.families.get_mut(&key) {
            family.instances.retain(|&i| i != id);
            if family.instances.is_empty() {
                self.pipes.families.remove(&key);
            }
        }
    }

    /// Ends the pipe waits and connects whose deadline has passed.
    pub(super) fn pipe_expire(&mut self, now: Instant) {
        while let Some(&(deadline, timer)) = self.pipes.timers.first() {
            if deadline > now {
                break;
            }
            self.pipes.timers.remove(&(deadline, timer));
            match timer {
                Timer::Wait(id) => {
                    if let Some(w) = self.pipes.waits.remove(&id) {
                        self.reply(
                            w.client,
                            w.request,
                            Err(err(Win32Error::ERROR_SEM_TIMEOUT, "no instance became free in time")),
                            Vec::new(),
                        );
                    }
                }
                Timer::Connect(instance) => {
                    if let Some((who, request, _)) = self.instance_mut(instance).and_then(|e| e.parked.take()) {
                        self.reply(
                            who,
                            request,
                            Err(err(Win32Error::ERROR_SEM_TIMEOUT, "no client connected in time")),
                            Vec::new(),
                        );
                    }
                }
            }
        }
    }

    /// Drops a departing client's pipe waits.
    pub(super) fn cancel_pipe_waits(&mut self, client: ClientId) {
        self.pipes.cancel_waits_of(client);
    }
}

impl Pipes {
    /// Whether `client` waits for a pipe (`WaitNamedPipe`).
    pub(super) fn waits_for(&self, client: ClientId) -> bool {
        self.waits.values().any(|w| w.client == client)
    }

    fn cancel_waits_of(&mut self, client: ClientId) {
        let ids: Vec<u64> = self.waits.iter().filter(|(_, w)| w.client == client).map(|(id, _)| *id).collect();
        for id in ids {
            if let Some(w) = self.waits.remove(&id)
                && let Some(d) = w.deadline
            {
                self.timers.remove(&(d, Timer::Wait(id)));
            }
        }
    }
}
