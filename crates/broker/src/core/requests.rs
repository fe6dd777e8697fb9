//! The broker's answer to each request of the protocol table.

use switchboard_proto as p;
use switchboard_proto::{Handler, Response, WireError};
use switchboard_types::security::{AccessMask, SecurityDescriptor};
use switchboard_types::{Atom, AtomEntry, Handle, ObjectKind, ObjectName, Win32Error};

use super::namespace::{Node, Resolved};
use super::objects::{Entry, Object, ObjectId};
use super::{Core, Cx};

fn err(code: Win32Error, message: impl Into<String>) -> WireError {
    WireError::new(code, message)
}

fn ready<T>(r: Result<T, WireError>) -> Response<T> {
    Response::Ready(r)
}

impl Core {
    /// `CreateX`: opens the named object if it exists with this kind, else
    /// creates it with `make`.
    pub(super) fn create_or_open(
        &mut self,
        cx: &Cx,
        name: Option<&ObjectName>,
        kind: ObjectKind,
        access: AccessMask,
        security: &p::Security,
        make: impl FnOnce() -> Box<dyn Object>,
    ) -> Result<p::Created, WireError> {
        self.handle_quota(cx)?;
        let client = self.client(cx.client)?;
        let sd = match &security.sddl {
            Some(text) => SecurityDescriptor::parse_sddl(text, &client.token.user_sid())
                .map_err(|e| err(Win32Error::ERROR_INVALID_PARAMETER, format!("security descriptor: {e}")))?,
            None => self.default_security(cx)?,
        };
        let object = make();
        let mapping = object.mapping();
        let place = match name {
            None => None,
            Some(name) => match self.namespace.resolve_name(&client.token, name)? {
                Resolved::Found { node: Node::Object(id), .. } => {
                    let handle = self.open_existing(cx, id, kind, access)?;
                    return Ok(p::Created { handle, already_existed: true });
                }
                Resolved::Found { node, .. } => {
                    return Err(type_mismatch(node_kind(&node), kind));
                }
                Resolved::Vacant { dir, name } => {
                    self.namespace.check_create(&client.token, &dir)?;
                    Some((dir, name))
                }
            },
        };
        // The creator gets what it asked for; the DACL governs later opens.
        let mut granted = mapping.map(access).difference(AccessMask::MAXIMUM_ALLOWED);
        if access.contains(AccessMask::MAXIMUM_ALLOWED) {
            granted = granted.union(mapping.all);
        }
        let path = place;
        let id = self.store.insert(Entry { object, path: None, security: sd, handles: 0 });
        if let Some((dir, name)) = path {
            let full = self.namespace.insert_object(&dir, &name, id);
            if let Some(e) = self.store.get_mut(id) {
                e.path = Some(full);
            }
        }
        let handle = self.add_handle(cx, id, granted)?;
        Ok(p::Created { handle, already_existed: false })
    }

    /// `OpenX`: a handle to the named object of this kind.
    pub(super) fn open_named(
        &mut self,
        cx: &Cx,
        name: &ObjectName,
        kind: ObjectKind,
        access: AccessMask,
    ) -> Result<Handle, WireError> {
        let token = &self.client(cx.client)?.token;
        match self.namespace.resolve_name(token, name)? {
            Resolved::Found { node: Node::Object(id), .. } => self.open_existing(cx, id, kind, access),
            Resolved::Found { node, .. } => Err(type_mismatch(node_kind(&node), kind)),
            Resolved::Vacant { .. } => Err(err(Win32Error::ERROR_FILE_NOT_FOUND, "no such object".to_owned())),
        }
    }

    /// Checks access to an existing object and opens a handle to it.
    fn open_existing(
        &mut self,
        cx: &Cx,
        id: ObjectId,
        kind: ObjectKind,
        access: AccessMask,
    ) -> Result<Handle, WireError> {
        let token = self.client(cx.client)?.token.clone();
        let entry =
            self.store.get(id).ok_or_else(|| err(Win32Error::ERROR_FILE_NOT_FOUND, "no such object".to_owned()))?;
        let actual = entry.object.kind();
        if actual != kind {
            return Err(type_mismatch(actual, kind));
        }
        let granted = entry
            .security
            .access_check(&token, access, &entry.object.mapping())
            .map_err(|denied| err(Win32Error::ERROR_ACCESS_DENIED, denied.to_string()))?;
        self.add_handle(cx, id, granted)
    }

    /// What a diagnostic names: a program name as the caller resolves it,
    /// or an absolute path (not access-checked).
    pub(super) fn resolve_target(&self, cx: &Cx, target: &p::Target) -> Result<(String, Node), WireError> {
        let resolved = match target {
            p::Target::Name(n) => self.namespace.resolve_name(&self.client(cx.client)?.token, n)?,
            p::Target::Path(path) => self.namespace.resolve_path(path)?,
        };
        match resolved {
            Resolved::Found { path, node } => Ok((path.to_string(), node)),
            Resolved::Vacant { .. } => Err(err(Win32Error::ERROR_FILE_NOT_FOUND, "no such object".to_owned())),
        }
    }
}

pub(super) fn node_kind(node: &Node) -> ObjectKind {
    match node {
        Node::Directory => ObjectKind::Directory,
        Node::Link(_) => ObjectKind::SymbolicLink,
        Node::Object(_) => ObjectKind::Event,
    }
}

fn type_mismatch(actual: ObjectKind, wanted: ObjectKind) -> WireError {
    err(Win32Error::ERROR_INVALID_HANDLE, format!("the name belongs to a {actual}, not a {wanted}"))
}

impl Handler for Core {
    type Context = Cx;

    fn create_event(&mut self, cx: &mut Cx, req: p::CreateEvent) -> Response<p::Created> {
        ready(self.event_create(cx, &req))
    }

    fn open(&mut self, cx: &mut Cx, req: p::Open) -> Response<Handle> {
        ready(self.open_named(cx, &req.name, req.kind, req.access))
    }

    fn create_mutex(&mut self, cx: &mut Cx, req: p::CreateMutex) -> Response<p::Created> {
        ready(self.mutex_create(cx, &req))
    }

    fn create_semaphore(&mut self, cx: &mut Cx, req: p::CreateSemaphore) -> Response<p::Created> {
        ready(self.semaphore_create(cx, &req))
    }

    fn reg_create_key(&mut self, cx: &mut Cx, req: p::RegCreateKey) -> Response<p::RegKeyCreated> {
        ready(self.reg_create(cx, req))
    }

    fn reg_open_key(&mut self, cx: &mut Cx, req: p::RegOpenKey) -> Response<Handle> {
        ready(self.reg_open(cx, &req))
    }

    fn reg_set_value(&mut self, cx: &mut Cx, req: p::RegSetValue) -> Response<()> {
        ready(self.reg_set(cx, req))
    }

    fn reg_query_value(
        &mut self,
        cx: &mut Cx,
        req: p::RegQueryValue,
    ) -> Response<switchboard_types::registry::RawValue> {
        ready(self.reg_query(cx, &req))
    }

    fn reg_delete_value(&mut self, cx: &mut Cx, req: p::RegDeleteValue) -> Response<()> {
        ready(Core::reg_delete_value(self, cx, &req))
    }

    fn reg_enum_values(&mut self, cx: &mut Cx, req: p::RegEnumValues) -> Response<Vec<p::RegNamedValue>> {
        ready(self.reg_values(cx, req.key))
    }

    fn reg_enum_keys(&mut self, cx: &mut Cx, req: p::RegEnumKeys) -> Response<Vec<String>> {
        ready(self.reg_subkeys(cx, req.key))
    }

    fn reg_query_info(&mut self, cx: &mut Cx, req: p::RegQueryInfo) -> Response<p::RegKeyInfo> {
        ready(self.reg_info(cx, req.key))
    }

    fn reg_delete_key(&mut self, cx: &mut Cx, req: p::RegDeleteKey) -> Response<()> {
        ready(self.reg_delete(cx, &req))
    }

    fn reg_notify(&mut self, cx: &mut Cx, req: p::RegNotify) -> Response<()> {
        ready(self.reg_notify_change(cx, req))
    }

    fn reg_get_security(&mut self, cx: &mut Cx, req: p::RegGetSecurity) -> Response<String> {
        ready(Core::reg_get_security(self, cx, req))
    }

    fn reg_set_security(&mut self, cx: &mut Cx, req: p::RegSetSecurity) -> Response<()> {
        ready(Core::reg_set_security(self, cx, &req))
    }

    fn sync_wait(&mut self, cx: &mut Cx, req: p::SyncWait) -> Response<p::SyncWaitStep> {
        ready(self.sync_wait(cx, &req))
    }

    fn sync_release(&mut self, cx: &mut Cx, req: p::SyncRelease) -> Response<bool> {
        ready(self.sync_release(cx, req))
    }

    fn map_sync(&mut self, cx: &mut Cx, req: p::MapSync) -> Response<p::SyncMapped> {
        ready(self.map_sync(cx, req))
    }

    fn thread_started(&mut self, cx: &mut Cx, req: p::ThreadStarted) -> Response<()> {
        ready(self.thread_started(cx, req.thread))
    }

    fn thread_exited(&mut self, cx: &mut Cx, req: p::ThreadExited) -> Response<()> {
        self.thread_exited(cx, req.thread);
        ready(Ok(()))
    }

    fn create_section(&mut self, cx: &mut Cx, req: p::CreateSection) -> Response<p::SectionOpened> {
        ready(self.section_create(cx, &req))
    }

    fn open_section(&mut self, cx: &mut Cx, req: p::OpenSection) -> Response<p::SectionOpened> {
        ready(self.section_open(cx, &req))
    }

    fn close(&mut self, cx: &mut Cx, req: p::Close) -> Response<()> {
        let removed = self.clients.get_mut(&cx.client).and_then(|c| Some((c.cred.uid, c.handles.remove(req.handle)?)));
        ready(match removed {
            Some((uid, entry)) => {
                self.uncharge_handles(uid, 1);
                self.drop_handle_ref(entry.object);
                Ok(())
            }
            None => Err(err(Win32Error::ERROR_INVALID_HANDLE, format!("close: handle {} is not open", req.handle))),
        })
    }

    fn duplicate(&mut self, cx: &mut Cx, req: p::Duplicate) -> Response<Handle> {
        let result = (|| {
            let (id, source) = self.lookup(cx, req.handle, AccessMask(0))?;
            let access = match req.access {
                None => source.access,
                Some(wanted) => {
                    let entry = self
                        .store
                        .get(id)
                        .ok_or_else(|| err(Win32Error::ERROR_INVALID_HANDLE, "duplicate: object is gone"))?;
                    let mapped = entry.object.mapping().map(wanted);
                    if source.access.contains(mapped) {
                        mapped
                    } else {
                        let token = self.client(cx.client)?.token.clone();
                        entry
                            .security
                            .access_check(&token, wanted, &entry.object.mapping())
                            .map_err(|d| err(Win32Error::ERROR_ACCESS_DENIED, format!("duplicate: {d}")))?
                    }
                }
            };
            self.add_handle(cx, id, access)
        })();
        ready(result)
    }

    fn add_atom(&mut self, cx: &mut Cx, req: p::AddAtom) -> Response<Atom> {
        ready(self.atom_add(cx, &req.key))
    }

    fn find_atom(&mut self, cx: &mut Cx, req: p::FindAtom) -> Response<Atom> {
        ready(self.atom_find(cx, &req.key))
    }

    fn delete_atom(&mut self, cx: &mut Cx, req: p::DeleteAtom) -> Response<()> {
        ready(self.atom_delete(cx, req.atom))
    }

    fn atom_name(&mut self, cx: &mut Cx, req: p::AtomNameOf) -> Response<String> {
        ready(self.atom_name_of(cx, req.atom))
    }

    fn list_atoms(&mut self, cx: &mut Cx, _req: p::ListAtoms) -> Response<Vec<AtomEntry>> {
        ready(self.atom_list(cx))
    }

    fn status(&mut self, cx: &mut Cx, _req: p::StatusRequest) -> Response<p::BrokerStatus> {
        ready(Ok(self.diag_status(cx)))
    }

    fn list_directory(&mut self, cx: &mut Cx, req: p::ListDirectory) -> Response<Vec<p::DirEntry>> {
        ready(self.diag_list_directory(cx, &req))
    }

    fn show(&mut self, cx: &mut Cx, req: p::Show) -> Response<p::ObjectInfo> {
        ready(self.diag_show(cx, &req))
    }

    fn list_handles(&mut self, cx: &mut Cx, req: p::ListHandles) -> Response<Vec<p::HandleInfo>> {
        ready(self.diag_list_handles(cx, req))
    }

    fn check_access(&mut self, cx: &mut Cx, req: p::CheckAccess) -> Response<p::AccessReport> {
        ready(self.diag_check_access(cx, &req))
    }

    fn create_pipe(&mut self, cx: &mut Cx, req: p::CreatePipe) -> Response<Handle> {
        ready(self.pipe_create(cx, &req))
    }

    fn connect_pipe(&mut self, cx: &mut Cx, req: p::ConnectPipe) -> Response<p::PipeConnected> {
        match self.pipe_connect(cx, req) {
            Ok(Some(done)) => ready(Ok(done)),
            Ok(None) => Response::Deferred,
            Err(e) => ready(Err(e)),
        }
    }

    fn open_pipe(&mut self, cx: &mut Cx, req: p::OpenPipe) -> Response<p::PipeOpened> {
        ready(self.pipe_open(cx, &req))
    }

    fn wait_pipe(&mut self, cx: &mut Cx, req: p::WaitPipe) -> Response<()> {
        match self.pipe_wait(cx, &req) {
            Ok(true) => ready(Ok(())),
            Ok(false) => Response::Deferred,
            Err(e) => ready(Err(e)),
        }
    }

    fn disconnect_pipe(&mut self, cx: &mut Cx, req: p::DisconnectPipe) -> Response<()> {
        ready(self.pipe_disconnect(cx, req.handle))
    }

    fn query_pipe(&mut self, cx: &mut Cx, req: p::QueryPipe) -> Response<p::PipeStatus> {
        ready(self.pipe_query(cx, req.handle))
    }

    fn cancel_connect(&mut self, cx: &mut Cx, req: p::CancelConnect) -> Response<bool> {
        ready(self.pipe_cancel_connect(cx, req.handle))
    }

    fn create_mailslot(&mut self, cx: &mut Cx, req: p::CreateMailslot) -> Response<Handle> {
        ready(self.mailslot_create(cx, &req))
    }

    fn open_mailslot(&mut self, cx: &mut Cx, req: p::OpenMailslot) -> Response<p::MailslotOpened> {
        ready(self.mailslot_open(cx, &req))
    }

    fn query_mailslot(&mut self, cx: &mut Cx, req: p::QueryMailslot) -> Response<p::MailslotStatus> {
        ready(self.client(cx.client).and_then(|c| self.mailslot_query(&c.token, &req.name)))
    }

    fn list_mailslots(&mut self, cx: &mut Cx, _req: p::ListMailslots) -> Response<Vec<p::MailslotListing>> {
        ready(self.client(cx.client).map(|c| self.mailslot_list(&c.token)))
    }

    fn list_pipes(&mut self, _cx: &mut Cx, _req: p::ListPipes) -> Response<Vec<p::PipeListing>> {
        ready(Ok(self.pipe_list()))
    }

    fn shutdown(&mut self, cx: &mut Cx, _req: p::Shutdown) -> Response<()> {
        let uid = match self.client(cx.client) {
            Ok(c) => c.cred.uid,
            Err(e) => return ready(Err(e)),
        };
        if uid != 0 && uid != self.config.owner_uid {
            return ready(Err(err(
                Win32Error::ERROR_ACCESS_DENIED,
                format!("shutdown: only uid {} or root may stop this broker", self.config.owner_uid),
            )));
        }
        tracing::info!(uid, "shutdown requested");
        self.shutdown = true;
        ready(Ok(()))
    }
}
