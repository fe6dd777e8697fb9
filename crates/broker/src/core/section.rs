//! Sections (file mappings): backed by memory (a memfd made by the broker)
//! or by a file (whose descriptor the creator sends with its request).
//!
//! Every handle comes with a descriptor of the memory or file, and the descriptor is
//! as strong as the handle: a handle that may not write gets a read-only
//! reopening of the file, so the kernel itself refuses a writable mapping,
//! whatever the client does.

use std::any::Any;
use std::os::fd::OwnedFd;

use switchboard_proto as p;
use switchboard_proto::{PageProtection, WireError};
use switchboard_types::access::{AccessMask, GenericMapping, section};
use switchboard_types::{Handle, ObjectKind, Win32Error};

use super::objects::{Object, downcast};
use super::resources::{OpenMode, Resources};
use super::{Core, Cx};

/// A section.
#[derive(Debug)]
pub struct Section {
    size: u64,
    protection: PageProtection,
    /// The memfd, or the mapped file.
    memory: OwnedFd,
    /// It maps a file.
    file: bool,
    /// `SEC_RESERVE`: the shared bitmap of committed pages.
    commits: Option<OwnedFd>,
}

impl Object for Section {
    fn kind(&self) -> ObjectKind {
        ObjectKind::Section
    }

    fn mapping(&self) -> GenericMapping {
        section::MAPPING
    }

    fn describe(&self) -> String {
        let backing = match (self.file, self.commits.is_some()) {
            (true, _) => "file",
            (false, true) => "memory, SEC_RESERVE",
            (false, false) => "memory",
        };
        format!("{} bytes, {:?}, {backing}", self.size, self.protection)
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

fn err(code: Win32Error, message: impl Into<String>) -> WireError {
    WireError::new(code, message)
}

/// A section over the file a client sent, with the checks of
/// `CreateFileMapping(hFile, …)`: the file's open mode must allow the
/// protection (read for `PAGE_READONLY` and `PAGE_WRITECOPY`, read and write
/// for `PAGE_READWRITE`); size 0 means the file's size, and an empty file
/// then is `ERROR_FILE_INVALID`; a larger size grows a file mapped
/// read-write, and is `ERROR_NOT_ENOUGH_MEMORY` otherwise.
fn file_section(
    os: &mut dyn Resources,
    file: OwnedFd,
    size: u64,
    protection: PageProtection,
) -> Result<Section, WireError> {
    let bad = |e: std::io::Error| err(Win32Error::ERROR_INVALID_HANDLE, format!("the file: {e}"));
    let mode = os.open_mode(&file).map_err(bad)?;
    let readable = matches!(mode, OpenMode::ReadOnly | OpenMode::ReadWrite);
    let writable = mode == OpenMode::ReadWrite;
    let needs_write = protection == PageProtection::ReadWrite;
    if !readable || (needs_write && !writable) {
        let opened = match mode {
            OpenMode::PathOnly => "with no access",
            OpenMode::WriteOnly => "write-only",
            OpenMode::ReadOnly | OpenMode::ReadWrite => "read-only",
        };
        return Err(err(
            Win32Error::ERROR_ACCESS_DENIED,
            format!("the file was opened {opened}, which does not allow {protection:?} pages"),
        ));
    }
    let Some(current) = os.regular_file_size(&file).map_err(bad)? else {
        return Err(err(Win32Error::ERROR_INVALID_HANDLE, "only a regular file can be mapped"));
    };
    let size = if size == 0 { current } else { size };
    if size == 0 {
        return Err(err(Win32Error::ERROR_FILE_INVALID, "the file is empty and no size was given"));
    }
    if size > current {
        if !needs_write {
            return Err(err(
                Win32Error::ERROR_NOT_ENOUGH_MEMORY,
                format!("{size} bytes asked of a {current}-byte file that a {protection:?} section may not grow"),
            ));
        }
        os.grow(&file, size)
            .map_err(|e| err(Win32Error::ERROR_DISK_FULL, format!("cannot grow the file to {size} bytes: {e}")))?;
    }
    Ok(Section { size, protection, memory: file, file: true, commits: None })
}

impl Core {
    pub(super) fn section_create(&mut self, cx: &Cx, req: &p::CreateSection) -> Result<p::SectionOpened, WireError> {
        let section = if req.file && req.reserve {
            return Err(err(Win32Error::ERROR_INVALID_PARAMETER, "SEC_RESERVE applies only to sections of memory"));
        } else if req.file {
            let file = self
                .received
                .pop()
                .ok_or_else(|| err(Win32Error::ERROR_INVALID_HANDLE, "no file descriptor came with the request"))?;
            file_section(&mut *self.resources, file, req.size, req.protection)?
        } else {
            if req.size == 0 {
                return Err(err(Win32Error::ERROR_INVALID_PARAMETER, "a section backed by memory needs a size"));
            }
            let memory = self.resources.memory_file(req.size).map_err(|e| {
                err(Win32Error::ERROR_NOT_ENOUGH_MEMORY, format!("cannot make {} bytes: {e}", req.size))
            })?;
            let commits = if req.reserve {
                let pages = req.size.div_ceil(switchboard_sys::shm::allocation_granularity() as u64);
                let words = usize::try_from(pages.div_ceil(64)).map_err(|_| {
                    err(Win32Error::ERROR_NOT_ENOUGH_MEMORY, format!("{} bytes is too large to reserve", req.size))
                })?;
                let (_, fd) = self.resources.counter_page("switchboard-commits", words).map_err(|e| {
                    err(Win32Error::ERROR_NOT_ENOUGH_MEMORY, format!("cannot make the commit bitmap: {e}"))
                })?;
                Some(fd)
            } else {
                None
            };
            Section { size: req.size, protection: req.protection, memory, file: false, commits }
        };
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
            entry.access.contains(section::SECTION_MAP_WRITE) && section.protection == PageProtection::ReadWrite;
        let fd = if may_write {
            self.resources.duplicate(&section.memory)
        } else {
            self.resources.reopen_read_only(&section.memory)
        };
        let fd = fd.map_err(|e| err(Win32Error::ERROR_NO_SYSTEM_RESOURCES, e.to_string()))?;
        // The commit bitmap is as strong as the handle too: a holder that may
        // not write may not commit (nor, writing the bitmap, decommit).
        let commits = section
            .commits
            .as_ref()
            .map(|bits| if may_write { self.resources.duplicate(bits) } else { self.resources.reopen_read_only(bits) })
            .transpose()
            .map_err(|e| err(Win32Error::ERROR_NO_SYSTEM_RESOURCES, e.to_string()))?;
        let reply = p::SectionOpened {
            handle,
            access: entry.access,
            size: section.size,
            protection: section.protection,
            file: section.file,
            reserve: commits.is_some(),
            already_existed,
        };
        self.attach.push(fd);
        self.attach.extend(commits);
        Ok(reply)
    }
}
