//! Sections (file mappings) backed by memory: a memfd made by the broker.
//!
//! Every handle comes with a descriptor of the memfd, and the descriptor is
//! as strong as the handle: a handle that may not write gets a read-only
//! reopening of the file, so the kernel itself refuses a writable mapping,
//! whatever the client does.

use std::any::Any;
use std::os::fd::OwnedFd;

use switchboard_proto as p;
use switchboard_proto::{PageProtection, WireError};
use switchboard_types::security::{AccessMask, GenericMapping};
use switchboard_types::{Handle, ObjectKind, Win32Error};

use super::objects::{Object, downcast};
use super::{Core, Cx};

/// `SECTION_QUERY` (also `FILE_MAP_COPY`).
pub const SECTION_QUERY: u32 = 0x0001;
/// `SECTION_MAP_WRITE` (`FILE_MAP_WRITE`).
pub const SECTION_MAP_WRITE: u32 = 0x0002;
/// `SECTION_MAP_READ` (`FILE_MAP_READ`).
pub const SECTION_MAP_READ: u32 = 0x0004;
/// `SECTION_ALL_ACCESS` (`FILE_MAP_ALL_ACCESS`).
pub const SECTION_ALL_ACCESS: u32 = 0x000F_001F;

/// The generic mapping of sections.
pub const SECTION_MAPPING: GenericMapping = GenericMapping {
    read: AccessMask(AccessMask::READ_CONTROL.0 | SECTION_QUERY | SECTION_MAP_READ),
    write: AccessMask(AccessMask::READ_CONTROL.0 | SECTION_MAP_WRITE),
    execute: AccessMask(AccessMask::READ_CONTROL.0 | 0x0008),
    all: AccessMask(SECTION_ALL_ACCESS),
};

/// A pagefile section.
#[derive(Debug)]
pub struct Section {
    size: u64,
    protection: PageProtection,
    memory: OwnedFd,
}

impl Object for Section {
    fn kind(&self) -> ObjectKind {
        ObjectKind::Section
    }

    fn mapping(&self) -> GenericMapping {
        SECTION_MAPPING
    }

    fn describe(&self) -> String {
        format!("{} bytes, {:?}", self.size, self.protection)
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

fn err(code: Win32Error, message: impl Into<String>) -> WireError {
    WireError::new(code, message)
}

impl Core {
    pub(super) fn section_create(&mut self, cx: &Cx, req: &p::CreateSection) -> Result<p::SectionOpened, WireError> {
        if req.size == 0 {
            return Err(err(Win32Error::ERROR_INVALID_PARAMETER, "a section backed by memory needs a size"));
        }
        let memory = switchboard_sys::shm::memory_file("switchboard-section", req.size)
            .map_err(|e| err(Win32Error::ERROR_NOT_ENOUGH_MEMORY, format!("cannot make {} bytes: {e}", req.size)))?;
        let section = Section { size: req.size, protection: req.protection, memory };
        let created =
            self.create_or_open(cx, req.name.as_ref(), ObjectKind::Section, req.access, &req.security, || {
                Box::new(section)
            })?;
        self.section_reply(cx, created.handle, created.already_existed)
    }

    pub(super) fn section_open(&mut self, cx: &Cx, req: &p::OpenSection) -> Result<p::SectionOpened, WireError> {
        let handle = self.open_named(cx, &req.name, ObjectKind::Section, req.access)?;
        self.section_reply(cx, handle, false)
    }

    /// The reply for a section handle, with a descriptor as strong as the handle.
    fn section_reply(&mut self, cx: &Cx, handle: Handle, already_existed: bool) -> Result<p::SectionOpened, WireError> {
        let (id, entry) = self.lookup(cx, handle, AccessMask(0))?;
        let section = self
            .store
            .get(id)
            .and_then(|e| downcast::<Section>(e.object.as_ref()))
            .ok_or_else(|| err(Win32Error::ERROR_INVALID_HANDLE, "not a section"))?;
        let may_write =
            entry.access.contains(AccessMask(SECTION_MAP_WRITE)) && section.protection == PageProtection::ReadWrite;
        let fd = if may_write {
            section.memory.try_clone()
        } else {
            switchboard_sys::shm::reopen_read_only(&section.memory)
        };
        let fd = fd.map_err(|e| err(Win32Error::ERROR_NO_SYSTEM_RESOURCES, e.to_string()))?;
        let reply = p::SectionOpened {
            handle,
            access: entry.access.bits(),
            size: section.size,
            protection: section.protection,
            already_existed,
        };
        self.attach.push(fd);
        Ok(reply)
    }
}
