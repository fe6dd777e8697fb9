//! Mailslots: one reader, many writers, messages in arrival order.
//!
//! The broker introduces writers to the reader and keeps the name. Each
//! mailslot is a datagram socket pair: the reader holds one end, every writer
//! a duplicate of the other, so all messages meet in one queue in the order
//! they were sent, and none passes through the broker. A shared page of two
//! counters (sent, received) makes the count exact for anyone who asks; the
//! broker keeps the writers' end, the page and a duplicate of the reader's end
//! used only to peek at the next message's size, and drops them all when the
//! reader goes, so writers' sends fail at once.

use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::sync::atomic::Ordering;

use switchboard_sys::shm::CounterPage;

use switchboard_proto as p;
use switchboard_proto::WireError;
use switchboard_types::access::file::{self, FILE_READ_ATTRIBUTES, FILE_READ_DATA, FILE_WRITE_DATA};
use switchboard_types::access::{AccessMask, GenericMapping};
use switchboard_types::security::{SecurityDescriptor, Token};
use switchboard_types::{Handle, MailslotName, ObjectKind, Win32Error};

use super::diagnostics::{inspect_denied, may_inspect};
use super::objects::{Entry, Object, ObjectId};
use super::{Core, Cx};

/// A mailslot's reader end (the server handle).
#[derive(Debug)]
pub struct Reader {
    key: String,
}

/// A writer's end.
#[derive(Debug)]
pub struct Writer {
    key: String,
}

macro_rules! file_object {
    ($t:ty, $what:literal) => {
        impl Object for $t {
            fn kind(&self) -> ObjectKind {
                ObjectKind::Mailslot
            }
            fn mapping(&self) -> GenericMapping {
                file::MAPPING
            }
            fn describe(&self) -> String {
                $what.to_owned()
            }
            fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
                self
            }
        }
    };
}

file_object!(Reader, "mailslot reader");
file_object!(Writer, "mailslot writer");

/// One mailslot.
#[derive(Debug)]
struct Slot {
    name: String,
    max_message_size: u32,
    security: SecurityDescriptor,
    /// The end writers send through; each writer gets a duplicate.
    sending: OwnedFd,
    /// A duplicate of the reader's end, only ever peeked at.
    peek: OwnedFd,
    /// The counters: 0 sent, 1 received.
    page: CounterPage,
    page_fd: OwnedFd,
    reader: ObjectId,
    reader_pid: u32,
    writers: u32,
}

/// Every mailslot, by key.
#[derive(Debug, Default)]
pub struct Mailslots {
    slots: HashMap<String, Slot>,
}

fn err(code: Win32Error, message: impl Into<String>) -> WireError {
    WireError::new(code, message)
}

fn local(name: &MailslotName) -> Result<(), WireError> {
    if name.is_local() {
        Ok(())
    } else {
        Err(err(
            Win32Error::ERROR_NOT_SUPPORTED,
            "mailslots on other machines and domains need the network, which is not supported yet",
        ))
    }
}

impl Core {
    pub(super) fn mailslot_create(&mut self, cx: &Cx, req: &p::CreateMailslot) -> Result<Handle, WireError> {
        local(&req.name)?;
        let key = req.name.key();
        if self.mailslots.slots.contains_key(&key) {
            return Err(err(Win32Error::ERROR_ALREADY_EXISTS, "a mailslot of that name exists"));
        }
        let client = self.client(cx.client)?;
        let token = client.token.clone();
        let reader_pid = client.cred.pid;
        let security = match &req.security.sddl {
            Some(text) => SecurityDescriptor::parse_sddl(text, &token.user_sid())
                .map_err(|e| err(Win32Error::ERROR_INVALID_PARAMETER, format!("security descriptor: {e}")))?,
            None => SecurityDescriptor::default_for(&token),
        };
        let os = &mut *self.resources;
        let mut resources = || -> std::io::Result<_> {
            let (receiving, sending) = os.datagram_pair()?;
            let peek = os.duplicate(&receiving)?;
            let (page, page_fd) = os.counter_page("switchboard-mailslot", 2)?;
            let reader_page_fd = os.duplicate(&page_fd)?;
            Ok((receiving, sending, peek, page, page_fd, reader_page_fd))
        };
        let (receiving, sending, peek, page, page_fd, reader_page_fd) = resources()
            .map_err(|e| err(Win32Error::ERROR_NO_SYSTEM_RESOURCES, format!("cannot make the mailslot: {e}")))?;
        let reader = Reader { key: key.clone() };
        let object_security = SecurityDescriptor::default_for(&token);
        let id =
            self.store.insert(Entry { object: Box::new(reader), path: None, security: object_security, handles: 0 });
        let access = AccessMask::SYNCHRONIZE | AccessMask::READ_CONTROL | FILE_READ_DATA | FILE_READ_ATTRIBUTES;
        let handle = match self.add_handle(cx, id, access) {
            Ok(h) => h,
            Err(e) => {
                self.store.remove(id);
                return Err(e);
            }
        };
        let slot = Slot {
            name: req.name.name().to_owned(),
            max_message_size: req.max_message_size,
            security,
            sending,
            peek,
            page,
            page_fd,
            reader: id,
            reader_pid,
            writers: 0,
        };
        self.mailslots.slots.insert(key, slot);
        self.attach.push(receiving);
        self.attach.push(reader_page_fd);
        Ok(handle)
    }

    pub(super) fn mailslot_open(&mut self, cx: &Cx, req: &p::OpenMailslot) -> Result<p::MailslotOpened, WireError> {
        local(&req.name)?;
        let key = req.name.key();
        let token = self.client(cx.client)?.token.clone();
        let slot =
            self.mailslots.slots.get(&key).ok_or_else(|| err(Win32Error::ERROR_FILE_NOT_FOUND, "no such mailslot"))?;
        let wanted = file::MAPPING.map(req.access);
        if wanted.intersects(FILE_READ_DATA) {
            return Err(err(
                Win32Error::ERROR_ACCESS_DENIED,
                "only the mailslot's creator reads it; writers open it for writing",
            ));
        }
        let granted = slot.security.access_check(&token, wanted | FILE_WRITE_DATA, &file::MAPPING);
        let granted = granted.map_err(|d| err(Win32Error::ERROR_ACCESS_DENIED, d.to_string()))?;
        let os = &mut *self.resources;
        let fds = os.duplicate(&slot.sending).and_then(|s| Ok((s, os.duplicate(&slot.page_fd)?)));
        let (sending, page_fd) = fds.map_err(|e| err(Win32Error::ERROR_NO_SYSTEM_RESOURCES, e.to_string()))?;
        let max_message_size = slot.max_message_size;
        let object_security = SecurityDescriptor::default_for(&token);
        let id = self.store.insert(Entry {
            object: Box::new(Writer { key: key.clone() }),
            path: None,
            security: object_security,
            handles: 0,
        });
        let handle = match self.add_handle(cx, id, granted) {
            Ok(h) => h,
            Err(e) => {
                self.store.remove(id);
                return Err(e);
            }
        };
        if let Some(slot) = self.mailslots.slots.get_mut(&key) {
            slot.writers += 1;
        }
        self.attach.push(sending);
        self.attach.push(page_fd);
        Ok(p::MailslotOpened { handle, max_message_size })
    }

    /// Every mailslot's name; its size, writers and reader only where
    /// `token` may read the mailslot's security (see [`may_inspect`]).
    pub(super) fn mailslot_list(&self, token: &Token) -> Vec<p::MailslotListing> {
        let mut rows: Vec<p::MailslotListing> = self
            .mailslots
            .slots
            .values()
            .map(|s| {
                let visible = may_inspect(token, &s.security, &file::MAPPING).is_ok();
                p::MailslotListing {
                    name: s.name.clone(),
                    max_message_size: visible.then_some(s.max_message_size),
                    writers: visible.then_some(s.writers),
                    reader_pid: visible.then_some(s.reader_pid),
                }
            })
            .collect();
        rows.sort_by_key(|r| r.name.to_uppercase());
        rows
    }

    /// `GetMailslotInfo` asked by name from any process.
    ///
    /// Windows answers it only on the reader's own handle; asking from
    /// outside is our extension, so it is limited to callers who may read
    /// the mailslot's security (`READ_CONTROL`, the owner, or root).
    pub(super) fn mailslot_query(&self, token: &Token, name: &MailslotName) -> Result<p::MailslotStatus, WireError> {
        local(name)?;
        let slot = self
            .mailslots
            .slots
            .get(&name.key())
            .ok_or_else(|| err(Win32Error::ERROR_FILE_NOT_FOUND, "no such mailslot"))?;
        may_inspect(token, &slot.security, &file::MAPPING)
            .map_err(|d| inspect_denied("querying", &format!("\\\\.\\mailslot\\{}", slot.name), &slot.security, &d))?;
        let sent = slot.page.counter(0).load(Ordering::SeqCst);
        let received = slot.page.counter(1).load(Ordering::SeqCst);
        let next_size = self.resources.next_datagram_size(&slot.peek).map(|len| u32::try_from(len).unwrap_or(u32::MAX));
        Ok(p::MailslotStatus {
            name: slot.name.clone(),
            max_message_size: slot.max_message_size,
            next_size,
            count: sent.saturating_sub(received),
            writers: slot.writers,
            reader_pid: slot.reader_pid,
        })
    }

    /// A mailslot end's last handle closed.
    pub(super) fn mailslot_handle_closed(&mut self, id: ObjectId) {
        let Some(entry) = self.store.get_mut(id) else { return };
        let any = entry.object.as_any_mut();
        if let Some(writer) = any.downcast_mut::<Writer>() {
            if let Some(slot) = self.mailslots.slots.get_mut(&writer.key) {
                slot.writers = slot.writers.saturating_sub(1);
            }
        } else if let Some(reader) = any.downcast_mut::<Reader>() {
            // The name is free again; writers' sends now fail (their peer is gone).
            if self.mailslots.slots.get(&reader.key).is_some_and(|s| s.reader == id) {
                self.mailslots.slots.remove(&reader.key);
            }
        }
    }
}
