//! The diagnostic requests (`status`, `ls`, `show`, `handles`, `access`) and
//! who may see what in them.
//!
//! In the system realm every user talks to one broker, so these answers
//! must not tell one user what another is doing. The rule follows Windows:
//! anyone may enumerate names (as anyone may list `\BaseNamedObjects`), but
//! an object's security descriptor, state and holders need `READ_CONTROL` on
//! it, and other users' handles need privileges (here: root).

use switchboard_proto as p;
use switchboard_proto::WireError;
use switchboard_types::security::{AccessMask, Denied, GenericMapping, SecurityDescriptor, Token};
use switchboard_types::{Handle, ObjectKind, Win32Error};

use super::namespace::Node;
use super::objects::ObjectId;
use super::requests::node_kind;
use super::{Client, Core, Cx};

fn err(code: Win32Error, message: impl Into<String>) -> WireError {
    WireError::new(code, message)
}

/// Whether `token` may look at what `sd` guards: its security descriptor,
/// state, holders and counters.
///
/// Root may, as may the owner; anyone else needs `READ_CONTROL` from the
/// DACL. Windows equivalent: opening the object for `READ_CONTROL` before
/// `GetSecurityInfo` or `NtQueryObject`; unlike Windows the owner may look
/// even when an Owner Rights ACE withholds `READ_CONTROL` from it.
pub(super) fn may_inspect(token: &Token, sd: &SecurityDescriptor, mapping: &GenericMapping) -> Result<(), Denied> {
    if token.uid == 0 || sd.owner == token.user_sid() {
        return Ok(());
    }
    sd.access_check(token, AccessMask::READ_CONTROL, mapping).map(|_| ())
}

/// The refusal of a diagnostic request, naming the object and the right.
pub(super) fn inspect_denied(what: &str, object: &str, sd: &SecurityDescriptor, denied: &Denied) -> WireError {
    err(
        Win32Error::ERROR_ACCESS_DENIED,
        format!("{what} {object} needs READ_CONTROL on it, which its DACL does not grant you: {}", denied.describe(sd)),
    )
}

/// Whether a caller with `token` may see the handles of a process of user `uid`.
fn may_see_handles_of(token: &Token, uid: u32) -> bool {
    token.uid == 0 || token.uid == uid
}

impl Core {
    fn caller_token(&self, cx: &Cx) -> Result<Token, WireError> {
        Ok(self.client(cx.client)?.token.clone())
    }

    /// Whether the caller may look at this object (see [`may_inspect`]).
    fn may_inspect_object(&self, token: &Token, id: ObjectId) -> Result<(), Denied> {
        match self.store.get(id) {
            Some(e) => may_inspect(token, &e.security, &e.object.mapping()),
            None => Ok(()),
        }
    }

    pub(super) fn diag_status(&self, cx: &Cx) -> p::BrokerStatus {
        let mut objects = self.namespace.counts();
        for kind in [
            ObjectKind::Event,
            ObjectKind::Mutex,
            ObjectKind::Semaphore,
            ObjectKind::NamedPipe,
            ObjectKind::Mailslot,
            ObjectKind::Section,
        ] {
            let count = self.store.iter().filter(|(_, e)| e.object.kind() == kind).count();
            objects.push((kind, count as u32));
        }
        // Totals only: nothing here says which user holds what.
        p::BrokerStatus {
            pid: self.config.pid,
            version: env!("CARGO_PKG_VERSION").to_owned(),
            protocol: switchboard_proto::PROTOCOL_VERSION,
            uptime_ms: cx.now.saturating_duration_since(self.started).as_millis() as u64,
            socket: self.config.socket.clone(),
            realm: self.config.realm.to_string(),
            clients: self.clients.len() as u32,
            handles: self.clients.values().map(|c| c.handles.len() as u32).sum(),
            objects,
            // The caller's window station's, as `ListAtoms` lists them.
            atoms: self.station_of(cx).map_or(0, |uid| self.stations.atom_count(uid)) as u32,
        }
    }

    pub(super) fn diag_list_directory(&self, cx: &Cx, req: &p::ListDirectory) -> Result<Vec<p::DirEntry>, WireError> {
        let token = self.caller_token(cx)?;
        if req.path.as_str().eq_ignore_ascii_case("\\Device\\NamedPipe") {
            // NPFS is flat and its names may hold backslashes: list the pipes
            // themselves, with their instance counts, which anyone may read
            // on Windows too (`PipeList`).
            let rows = self.pipe_list().into_iter().map(|l| p::DirEntry {
                name: l.name,
                kind: ObjectKind::NamedPipe,
                target: None,
                handles: Some(l.instances),
            });
            return Ok(rows.collect());
        }
        if req.path.as_str().eq_ignore_ascii_case("\\Device\\Mailslot") {
            let rows = self.mailslot_list(&token).into_iter().map(|l| p::DirEntry {
                name: l.name,
                kind: ObjectKind::Mailslot,
                target: None,
                handles: l.writers.map(|w| w + 1),
            });
            return Ok(rows.collect());
        }
        let path = match self.namespace.resolve_path(&req.path)? {
            super::namespace::Resolved::Found { path, node: Node::Directory } => path,
            super::namespace::Resolved::Found { path, .. } => {
                return Err(err(Win32Error::ERROR_PATH_NOT_FOUND, format!("{path} is not a directory")));
            }
            super::namespace::Resolved::Vacant { .. } => {
                return Err(err(Win32Error::ERROR_PATH_NOT_FOUND, format!("{}: no such directory", req.path)));
            }
        };
        let rows = self.namespace.list(&path).unwrap_or_default().into_iter().map(|(name, node)| match node {
            Node::Directory => p::DirEntry { name, kind: ObjectKind::Directory, target: None, handles: Some(0) },
            Node::Link(t) => {
                p::DirEntry { name, kind: ObjectKind::SymbolicLink, target: Some(t.to_string()), handles: Some(0) }
            }
            Node::Object(id) => {
                let e = self.store.get(id);
                let visible = self.may_inspect_object(&token, id).is_ok();
                p::DirEntry {
                    name,
                    kind: e.map_or(ObjectKind::Event, |e| e.object.kind()),
                    target: None,
                    handles: e.filter(|_| visible).map(|e| e.handles),
                }
            }
        });
        Ok(rows.collect())
    }

    pub(super) fn diag_show(&self, cx: &Cx, req: &p::Show) -> Result<p::ObjectInfo, WireError> {
        let token = self.caller_token(cx)?;
        let (path, node) = self.resolve_target(cx, &req.target)?;
        Ok(match node {
            Node::Object(id) => {
                let e = self
                    .store
                    .get(id)
                    .ok_or_else(|| err(Win32Error::ERROR_FILE_NOT_FOUND, format!("{path}: no such object")))?;
                may_inspect(&token, &e.security, &e.object.mapping())
                    .map_err(|d| inspect_denied("showing", &path, &e.security, &d))?;
                p::ObjectInfo {
                    kind: e.object.kind(),
                    sddl: e.security.to_sddl(),
                    holders: self.holders(&token, id),
                    state: e.object.describe(),
                    waiters: e.object.waiters(),
                    path,
                }
            }
            Node::Directory => {
                let count = switchboard_types::NamespacePath::parse(&path)
                    .ok()
                    .and_then(|p| self.namespace.list(&p))
                    .map_or(0, |l| l.len());
                p::ObjectInfo {
                    path,
                    kind: ObjectKind::Directory,
                    sddl: String::new(),
                    holders: Vec::new(),
                    state: format!("{count} entries"),
                    waiters: 0,
                }
            }
            Node::Link(target) => p::ObjectInfo {
                path,
                kind: ObjectKind::SymbolicLink,
                sddl: String::new(),
                holders: Vec::new(),
                state: format!("-> {target}"),
                waiters: 0,
            },
        })
    }

    /// Other users' handles are left out, not refused: a listing of every
    /// process is the usual question, and the answer is "yours".
    pub(super) fn diag_list_handles(&self, cx: &Cx, req: p::ListHandles) -> Result<Vec<p::HandleInfo>, WireError> {
        let token = self.caller_token(cx)?;
        let mut rows: Vec<p::HandleInfo> = self
            .clients
            .values()
            .filter(|c| req.pid.is_none_or(|pid| pid == c.cred.pid))
            .filter(|c| may_see_handles_of(&token, c.cred.uid))
            .flat_map(|c| c.handles.iter().map(move |(h, e)| (c, h, e)))
            .map(|(c, h, e)| self.handle_info(c, h, e.object, e.access))
            .collect();
        rows.sort_by_key(|r| (r.pid, r.handle));
        Ok(rows)
    }

    pub(super) fn diag_check_access(&self, cx: &Cx, req: &p::CheckAccess) -> Result<p::AccessReport, WireError> {
        let caller = self.caller_token(cx)?;
        let (path, node) = self.resolve_target(cx, &req.target)?;
        let Node::Object(id) = node else {
            return Err(err(
                Win32Error::ERROR_INVALID_HANDLE,
                format!("{path} is a {}, which has no security descriptor here", node_kind(&node)),
            ));
        };
        let e = self
            .store
            .get(id)
            .ok_or_else(|| err(Win32Error::ERROR_FILE_NOT_FOUND, format!("{path}: no such object")))?;
        let mapping = e.object.mapping();
        may_inspect(&caller, &e.security, &mapping)
            .map_err(|d| inspect_denied("checking access to", &path, &e.security, &d))?;
        let token = Token { uid: req.uid, gid: req.gid, groups: req.groups.clone() };
        let ex = e.security.explain(&token, &mapping);
        Ok(p::AccessReport {
            path,
            kind: e.object.kind(),
            sddl: e.security.to_sddl(),
            granted: ex.granted,
            all_access: mapping.all,
            null_dacl: ex.null_dacl,
            owner_implicit: ex.owner_implicit,
            steps: ex
                .steps
                .iter()
                .map(|s| p::AccessStep {
                    index: s.ace_index as u32,
                    ace: s.ace.to_string(),
                    granted: s.granted,
                    denied: s.denied,
                })
                .collect(),
        })
    }

    /// The handles on `id` the caller may see: of its own user, or every
    /// user's for root (the rule of [`Core::diag_list_handles`]).
    fn holders(&self, token: &Token, id: ObjectId) -> Vec<p::HandleInfo> {
        let mut rows: Vec<p::HandleInfo> = self
            .clients
            .values()
            .filter(|c| may_see_handles_of(token, c.cred.uid))
            .flat_map(|c| {
                c.handles
                    .iter()
                    .filter(|(_, e)| e.object == id)
                    .map(|(h, e)| self.handle_info(c, h, e.object, e.access))
            })
            .collect();
        rows.sort_by_key(|r| (r.pid, r.handle));
        rows
    }

    fn handle_info(&self, c: &Client, handle: Handle, object: ObjectId, access: AccessMask) -> p::HandleInfo {
        let entry = self.store.get(object);
        p::HandleInfo {
            pid: c.cred.pid,
            uid: c.cred.uid,
            handle,
            kind: entry.map_or(ObjectKind::Event, |e| e.object.kind()),
            path: entry.and_then(|e| e.path.as_ref().map(ToString::to_string)),
            access,
        }
    }
}
