//! The broker's object manager, without I/O.
//!
//! # Driving contract
//!
//! The event loop owns the sockets and the clock; the core owns every object.
//! The loop makes the core with [`Core::new`], handing it the time and a
//! [`Resources`]: everything the core needs from the operating system
//! (pages, memory files, socket pairs, duplicates, cutting a channel, a
//! sent file's mode and size, the thread check, the registry's hive files)
//! goes through it, and the core
//! never reads the clock. The loop calls:
//! - [`Core::client_connected`] after a handshake, and
//!   [`Core::client_disconnected`] when a socket closes for any reason;
//! - [`Core::handle_request`] for each decoded frame, with the time, and
//!   [`Core::handle_malformed`] for each frame that could not be decoded;
//! - [`Core::handle_timeout`] with the time, once the deadline
//!   [`Core::poll_timeout`] gave has passed.
//!
//! After each call it drains [`Core::poll_output`] (replies to send, clients
//! to drop). Before waiting it asks [`Core::poll_timeout`]`(now)` once, with
//! the time it takes its wait from: the answer only changes after one of
//! the calls above, but a retry is due [`RETRY_INTERVAL`] after the `now`
//! given, so asking again later would push it back.
//! [`Core::shutdown_requested`] turns true when a client asked the broker
//! to stop.
//!
//! What the core still does on its own: it reads and writes the shared
//! words of the pages [`Resources`] made and wakes their sleepers (futex
//! wakes, through the page); its registry's hives, once opened, keep
//! their own files (`switchboard_registry`); and it asks the page size
//! (`switchboard_sys::shm::allocation_granularity`), a constant.

mod diagnostics;
mod handles;
mod mailslot;
mod namespace;
mod objects;
mod pipe;
mod registry;
mod requests;
mod resources;
mod section;
mod station;
mod sync;
mod sync_wait;

use std::collections::{HashMap, HashSet, VecDeque};
use std::os::fd::OwnedFd;
use std::time::Instant;

use switchboard_proto::{ReplyFrame, RequestFrame, Response, WireError, dispatch};
use switchboard_types::security::{AccessMask, SecurityDescriptor, Token};
use switchboard_types::{Handle, Win32Error};

use handles::{HandleEntry, HandleTable};
use namespace::Namespace;
use objects::{Entry, ObjectId, Store};
pub use resources::{HiveFiles, OpenMode, Resources};

/// How long after a turn of the loop a lock that held up an abandonment or
/// a notification is tried again (see [`Core::poll_timeout`]).
pub const RETRY_INTERVAL: std::time::Duration = std::time::Duration::from_millis(2);

/// A connected client, as the event loop numbers them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientId(pub u64);

/// Who a client is, from `SO_PEERCRED` and the group database.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    /// Process id.
    pub pid: u32,
    /// User id.
    pub uid: u32,
    /// Primary group.
    pub gid: u32,
    /// Supplementary groups.
    pub groups: Vec<u32>,
}

/// Limits and identity the core enforces and reports.
#[derive(Clone, Debug)]
pub struct Config {
    /// Clients connected at once.
    pub max_clients: usize,
    /// Handles one client may hold.
    pub max_handles: usize,
    /// Handles all the clients of one user together may hold (root and the
    /// broker's own user excepted): each may cost the broker a descriptor,
    /// and one user must not take them all.
    pub max_handles_per_uid: usize,
    /// Handles all clients together may hold: kept below the broker's
    /// descriptor limit, so that it can still accept and answer.
    pub max_total_handles: usize,
    /// Clients and handles root may have beyond the totals, to reach and
    /// repair a broker that others filled.
    pub root_reserve: usize,
    /// Undecodable frames tolerated before the client is dropped.
    pub max_malformed: u32,
    /// The broker's own user (it may always be stopped by it).
    pub owner_uid: u32,
    /// Broker pid, for status.
    pub pid: u32,
    /// Socket path, for status.
    pub socket: String,
    /// Realm kind: the system realm's machine hive is machine-wide (and status shows it).
    pub realm: switchboard_sys::RealmKind,
    /// Where the registry's hives live (`None`: in memory only), handed to
    /// [`Resources::hive_files`].
    pub registry_dir: Option<std::path::PathBuf>,
    /// In the system realm, the most bytes one user's `HKEY_CURRENT_USER`
    /// may hold, counted as `switchboard_registry::Hive::size` counts them
    /// (`None`: no limit); a write past it is `ERROR_NOT_ENOUGH_QUOTA`, so
    /// that no user fills the disk the machine hive lives on. The machine
    /// hive has none, nor has any hive of a user realm (all its owner's).
    /// Windows has no per-user registry quota (see `switchboard_registry`'s
    /// hive docs on `RegistrySizeLimit`).
    pub registry_user_quota: Option<u64>,
    /// Check that a thread a client announces is one of its process's
    /// ([`Resources::is_thread_of`]: `/proc/<pid>/task/<tid>`), so that no client can have another
    /// process's mutexes abandoned. Off only for tests of the core, whose
    /// clients are not real processes.
    pub verify_threads: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            max_clients: 4096,
            max_handles: 16_384,
            max_handles_per_uid: 16_384,
            max_total_handles: 1 << 20,
            root_reserve: 64,
            max_malformed: 8,
            owner_uid: 0,
            pid: std::process::id(),
            socket: String::new(),
            realm: switchboard_sys::RealmKind::User,
            registry_dir: None,
            registry_user_quota: Some(64 << 20),
            verify_threads: false,
        }
    }
}

/// What the event loop must do.
#[derive(Debug)]
pub enum Output {
    /// Send this frame to this client.
    Reply {
        /// The client.
        client: ClientId,
        /// The frame; `frame.fds` says how many descriptors follow it.
        frame: ReplyFrame,
        /// Descriptors to send with the frame's first byte.
        fds: Vec<OwnedFd>,
    },
    /// Drop this client, logging why.
    Disconnect {
        /// The client.
        client: ClientId,
        /// Why.
        reason: String,
    },
}

#[derive(Debug)]
struct Client {
    cred: Credentials,
    token: Token,
    handles: HandleTable,
    malformed: u32,
    /// Threads that announced they may own mutexes (see `sync`).
    threads: HashSet<u32>,
    /// Sleeps the broker counted for this client's brokered waits (see `sync_wait`).
    sleeps: sync_wait::Counted,
}

/// The object manager.
#[derive(Debug)]
pub struct Core {
    config: Config,
    started: Instant,
    clients: HashMap<ClientId, Client>,
    store: Store,
    namespace: Namespace,
    /// Each user's window station: its global atoms.
    stations: station::WindowStations,
    pipes: pipe::Pipes,
    mailslots: mailslot::Mailslots,
    registry: registry::Registry,
    /// Abandonments a live wait-all's lock put off: retried from the timer.
    sync_retry: Vec<sync::Retry>,
    /// Events (registry notifications) a lock kept from being set, each
    /// holding a reference, with when the timer first retried them.
    sync_signals: Vec<(ObjectId, Option<Instant>)>,
    /// (object, client) pairs with sleeps counted by the broker, all clients together.
    sleep_entries: usize,
    /// Handles held per user, and by everyone.
    handles_by_uid: HashMap<u32, usize>,
    handles_total: usize,
    out: VecDeque<Output>,
    /// Descriptors a handler attaches to the reply it is producing.
    attach: Vec<OwnedFd>,
    /// Descriptors that came with the request being handled.
    received: Vec<OwnedFd>,
    shutdown: bool,
    /// What the core asks of the operating system.
    resources: Box<dyn Resources>,
}

/// Per-request context handed to the [`switchboard_proto::Handler`] methods.
#[derive(Debug)]
pub struct Cx {
    client: ClientId,
    request: u32,
    now: Instant,
}

impl Core {
    /// An empty object manager, making what it needs from the operating
    /// system through `resources`.
    pub fn new(config: Config, now: Instant, mut resources: Box<dyn Resources>) -> Self {
        let registry = registry::Registry::new(
            config.registry_dir.as_deref().map(|dir| resources.hive_files(dir)),
            config.realm == switchboard_sys::RealmKind::System,
            config.owner_uid,
            config.registry_user_quota,
        );
        Self {
            registry,
            sync_retry: Vec::new(),
            sync_signals: Vec::new(),
            config,
            started: now,
            clients: HashMap::new(),
            store: Store::default(),
            namespace: Namespace::new(),
            stations: station::WindowStations::default(),
            pipes: pipe::Pipes::default(),
            mailslots: mailslot::Mailslots::default(),
            sleep_entries: 0,
            handles_by_uid: HashMap::new(),
            handles_total: 0,
            out: VecDeque::new(),
            attach: Vec::new(),
            received: Vec::new(),
            shutdown: false,
            resources,
        }
    }

    /// A client finished its handshake. Refused when the broker already
    /// serves `max_clients`; the reason is for the client.
    pub fn client_connected(&mut self, id: ClientId, cred: Credentials) -> Result<(), String> {
        // Root keeps a reserve beyond the limit, to repair a broker that others filled.
        let limit =
            if cred.uid == 0 { self.config.max_clients + self.config.root_reserve } else { self.config.max_clients };
        if self.clients.len() >= limit {
            let reason = format!("the broker already serves its limit of {} clients", self.config.max_clients);
            tracing::warn!(client = id.0, pid = cred.pid, uid = cred.uid, %reason, "refused client");
            return Err(reason);
        }
        tracing::info!(client = id.0, pid = cred.pid, uid = cred.uid, "client connected");
        // Each user is a logon session: its `Local\` directory comes with its first client.
        self.namespace.ensure_session(cred.uid);
        let token = Token { uid: cred.uid, gid: cred.gid, groups: cred.groups.clone() };
        self.clients.insert(
            id,
            Client {
                cred,
                token,
                handles: HandleTable::default(),
                malformed: 0,
                threads: HashSet::new(),
                sleeps: sync_wait::Counted::new(),
            },
        );
        Ok(())
    }

    /// A client is gone (exit, crash, kill, or dropped by the loop): its
    /// pipe waits end, the mutexes its threads own are abandoned, its
    /// handles close, and objects left without handles leave the namespace.
    pub fn client_disconnected(&mut self, id: ClientId, reason: &str) {
        self.abandon_for(id);
        let Some(mut client) = self.clients.remove(&id) else {
            return;
        };
        tracing::info!(
            client = id.0,
            pid = client.cred.pid,
            reason,
            handles = client.handles.len(),
            "client disconnected"
        );
        self.cancel_pipe_waits(id);
        self.uncount_all_sleeps(std::mem::take(&mut client.sleeps));
        self.uncharge_handles(client.cred.uid, client.handles.len());
        for (_, entry) in client.handles.drain() {
            self.drop_handle_ref(entry.object);
        }
    }

    /// Handles one decoded request.
    ///
    /// `fds` are the descriptors that came with it (`frame.fds` of them); a
    /// handler that does not take them closes them.
    pub fn handle_request(&mut self, client: ClientId, frame: RequestFrame, fds: Vec<OwnedFd>, now: Instant) {
        if !self.clients.contains_key(&client) {
            return;
        }
        self.received = fds;
        let name = frame.request.name();
        let mut cx = Cx { client, request: frame.id, now };
        let response = dispatch(self, &mut cx, frame.request);
        self.received.clear();
        match response {
            Response::Ready(result) => {
                if let Err(e) = &result {
                    let pid = self.clients.get(&client).map_or(0, |c| c.cred.pid);
                    tracing::info!(client = client.0, pid, request = name, code = ?e.code, reason = %e.message, "refused");
                }
                let fds = std::mem::take(&mut self.attach);
                // Id 0 asks for no reply (a close sent from a destructor).
                if frame.id != 0 {
                    self.reply(client, frame.id, result, fds);
                }
            }
            Response::Deferred => {}
        }
    }

    /// A frame from this client could not be decoded. It is answered with
    /// `ERROR_INVALID_DATA`; after `max_malformed` such frames the client is dropped.
    pub fn handle_malformed(&mut self, client: ClientId, why: &str) {
        let Some(c) = self.clients.get_mut(&client) else {
            return;
        };
        c.malformed += 1;
        let count = c.malformed;
        tracing::warn!(client = client.0, pid = c.cred.pid, count, why, "malformed frame");
        if count >= self.config.max_malformed {
            self.out
                .push_back(Output::Disconnect { client, reason: format!("{count} malformed frames (last: {why})") });
        } else {
            let error = WireError::new(Win32Error::ERROR_INVALID_DATA, format!("malformed request frame: {why}"));
            self.reply(client, 0, Err(error), Vec::new());
        }
    }

    /// Queues a reply with its descriptors.
    fn reply(
        &mut self,
        client: ClientId,
        id: u32,
        result: Result<switchboard_proto::Reply, WireError>,
        fds: Vec<OwnedFd>,
    ) {
        let frame = ReplyFrame { id, fds: fds.len() as u8, result };
        self.out.push_back(Output::Reply { client, frame, fds });
    }

    /// When [`Core::handle_timeout`] must next be called, given that it is
    /// `now`: a deadline the core keeps (a pipe wait's), or, while a lock
    /// holds up an abandonment or a notification, [`RETRY_INTERVAL`] after
    /// `now`. Ask once per turn of the loop, before waiting: asked again
    /// later, a retry relative to the present would always lie ahead.
    pub fn poll_timeout(&self, now: Instant) -> Option<Instant> {
        let pending = !self.sync_retry.is_empty() || !self.sync_signals.is_empty();
        let retry = pending.then(|| now + RETRY_INTERVAL);
        match (self.pipes.next_deadline(), retry) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Times out the pipe waits whose deadline is `now` or earlier.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.pipe_expire(now);
        self.retry_abandonments(now);
        self.retry_signals(now);
    }

    /// The next thing for the event loop to do.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// Takes every pending output at once.
    pub fn drain_output(&mut self) -> Vec<Output> {
        self.out.drain(..).collect()
    }

    /// Whether a client asked the broker to stop.
    pub fn shutdown_requested(&self) -> bool {
        self.shutdown
    }

    /// Whether a client holds nothing the broker keeps for it (no handle,
    /// no announced thread, no counted sleep, no pending pipe wait): closing
    /// it loses it nothing but the connection.
    pub fn client_holds_nothing(&self, id: ClientId) -> bool {
        self.clients.get(&id).is_some_and(|c| c.handles.len() == 0 && c.threads.is_empty() && c.sleeps.is_empty())
            && !self.pipes.waits_for(id)
    }

    /// How many clients are connected.
    pub fn client_count(&self) -> usize {
        self.clients.len()
    }

    // ---- handle and lifetime helpers shared by the request handlers ----

    fn client(&self, id: ClientId) -> Result<&Client, WireError> {
        self.clients.get(&id).ok_or_else(|| WireError::new(Win32Error::ERROR_INVALID_HANDLE, "client is not connected"))
    }

    /// Looks a handle up for an operation that needs `needed` access.
    fn lookup(&self, cx: &Cx, handle: Handle, needed: AccessMask) -> Result<(ObjectId, HandleEntry), WireError> {
        let entry =
            self.client(cx.client)?.handles.get(handle).ok_or_else(|| {
                WireError::new(Win32Error::ERROR_INVALID_HANDLE, format!("handle {handle} is not open"))
            })?;
        if !entry.access.contains(needed) {
            return Err(WireError::new(
                Win32Error::ERROR_ACCESS_DENIED,
                format!(
                    "handle {handle} was opened with access {} and lacks {}",
                    entry.access,
                    needed.difference(entry.access)
                ),
            ));
        }
        Ok((entry.object, entry))
    }

    /// Fails unless the caller may hold one more handle: its process's
    /// limit (`ERROR_NO_SYSTEM_RESOURCES`), its user's quota
    /// (`ERROR_NOT_ENOUGH_QUOTA`), and the broker's budget.
    fn handle_quota(&self, cx: &Cx) -> Result<(), WireError> {
        let client = self.client(cx.client)?;
        let uid = client.cred.uid;
        let limit = self.config.max_handles;
        if client.handles.len() >= limit {
            return Err(WireError::new(
                Win32Error::ERROR_NO_SYSTEM_RESOURCES,
                format!("the process already holds its limit of {limit} handles"),
            ));
        }
        let held = self.handles_by_uid.get(&uid).copied().unwrap_or(0);
        let quota = self.config.max_handles_per_uid;
        if uid != 0 && uid != self.config.owner_uid && held >= quota {
            return Err(WireError::new(
                Win32Error::ERROR_NOT_ENOUGH_QUOTA,
                format!("uid {uid}'s processes already hold {held} handles, the user's quota"),
            ));
        }
        let budget = if uid == 0 {
            self.config.max_total_handles + self.config.root_reserve
        } else {
            self.config.max_total_handles
        };
        if self.handles_total >= budget {
            return Err(WireError::new(
                Win32Error::ERROR_NO_SYSTEM_RESOURCES,
                format!("the broker already holds {} handles, its limit", self.handles_total),
            ));
        }
        Ok(())
    }

    /// `n` handles of `uid` closed.
    fn uncharge_handles(&mut self, uid: u32, n: usize) {
        if let Some(held) = self.handles_by_uid.get_mut(&uid) {
            *held = held.saturating_sub(n);
            if *held == 0 {
                self.handles_by_uid.remove(&uid);
            }
        }
        self.handles_total = self.handles_total.saturating_sub(n);
    }

    /// Gives the client a handle to an object with the access granted.
    fn add_handle(&mut self, cx: &Cx, object: ObjectId, access: AccessMask) -> Result<Handle, WireError> {
        self.handle_quota(cx)?;
        let limit = self.config.max_handles;
        let client = self
            .clients
            .get_mut(&cx.client)
            .ok_or_else(|| WireError::new(Win32Error::ERROR_INVALID_HANDLE, "client is not connected"))?;
        let handle = client.handles.insert(HandleEntry { object, access }, limit).ok_or_else(|| {
            WireError::new(
                Win32Error::ERROR_NO_SYSTEM_RESOURCES,
                format!("the process already holds its limit of {limit} handles"),
            )
        })?;
        let uid = client.cred.uid;
        *self.handles_by_uid.entry(uid).or_default() += 1;
        self.handles_total += 1;
        if let Some(e) = self.store.get_mut(object) {
            e.handles += 1;
        }
        Ok(handle)
    }

    /// One handle to `object` closed.
    fn drop_handle_ref(&mut self, object: ObjectId) {
        let Some(e) = self.store.get_mut(object) else {
            return;
        };
        e.handles -= 1;
        if e.handles == 0 {
            self.pipe_handle_closed(object);
            self.mailslot_handle_closed(object);
            self.registry_key_closed(object);
            // Its id may be reused: nothing pending may point at it.
            self.sync_retry.retain(|r| r.id != object);
            self.forget_sleeps_on(object);
        }
        let Some(e) = self.store.get_mut(object) else { return };
        if e.handles == 0 {
            // Temporary objects lose their name with their last handle.
            if let Some(path) = e.path.take() {
                self.namespace.remove(&path);
            }
        }
        self.release_if_unreferenced(object);
    }

    fn release_if_unreferenced(&mut self, object: ObjectId) {
        if self.store.get(object).is_some_and(Entry::unreferenced) {
            self.store.remove(object);
        }
    }

    fn default_security(&self, cx: &Cx) -> Result<SecurityDescriptor, WireError> {
        Ok(SecurityDescriptor::default_for(&self.client(cx.client)?.token))
    }
}

#[cfg(test)]
mod tests;
