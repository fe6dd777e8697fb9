//! File mappings (sections): named shared memory, backed by memory or by a
//! file.
//!
//! ```no_run
//! use switchboard::Connection;
//! use switchboard::section::{self, SectionOptions, ViewAccess};
//!
//! # fn main() -> switchboard::Result<()> {
//! let conn = Connection::connect()?;
//! let s = SectionOptions::new(1 << 20).create(&conn, "Local\\shared")?.object;
//! let view = s.map_view(ViewAccess::Write, 0, 0)?;
//! view.write_at(0, b"hello")?;
//! // another process:
//! let other = section::Section::open(&conn, "Local\\shared", section::FILE_MAP_READ)?;
//! let mut buf = [0u8; 5];
//! other.map_view(ViewAccess::Read, 0, 0)?.read_at(0, &mut buf)?;
//! # Ok(()) }
//! ```

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use switchboard_proto as p;
pub use switchboard_proto::PageProtection;
use switchboard_sys::shm::{CounterPage, View as RawView, ViewKind, allocation_granularity};

use crate::connection::Connection;
use crate::error::{Error, ErrorKind, Result, Win32Error};
use crate::event::{Created, parse_name};
use crate::handle::OwnedHandle;

use switchboard_types::AccessMask;
/// Access rights for sections ([`switchboard_types::access::section`]).
pub use switchboard_types::access::section as access;
pub use switchboard_types::access::section::{
    FILE_MAP_ALL_ACCESS, FILE_MAP_COPY, FILE_MAP_EXECUTE, FILE_MAP_READ, FILE_MAP_WRITE, SECTION_QUERY,
};

/// How a view maps the section (`FILE_MAP_*` of `MapViewOfFile`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ViewAccess {
    /// Read only (`FILE_MAP_READ`).
    Read,
    /// Read and write, shared with every other view (`FILE_MAP_WRITE`).
    Write,
    /// Copy on write: writes stay private to this view (`FILE_MAP_COPY`).
    Copy,
}

/// Options for `CreateFileMapping`, over memory or over a file.
#[derive(Clone, Debug)]
pub struct SectionOptions {
    size: u64,
    protection: PageProtection,
    reserve: bool,
    access: AccessMask,
    sddl: Option<String>,
}

impl SectionOptions {
    /// A read-write section of `size` bytes, handle with all access.
    pub fn new(size: u64) -> Self {
        Self { size, protection: PageProtection::ReadWrite, reserve: false, access: FILE_MAP_ALL_ACCESS, sddl: None }
    }

    /// The page protection (`PAGE_READONLY`, `PAGE_READWRITE`, `PAGE_WRITECOPY`).
    #[must_use]
    pub fn protection(mut self, protection: PageProtection) -> Self {
        self.protection = protection;
        self
    }

    /// `SEC_RESERVE`: the pages start reserved, and each is committed, for
    /// every view at once, by [`View::commit`] (`VirtualAlloc(MEM_COMMIT)`).
    /// Reading or writing a reserved page is `ERROR_NOACCESS`. Memory
    /// sections only (with a file: `ERROR_INVALID_PARAMETER`).
    #[must_use]
    pub fn reserve(mut self, reserve: bool) -> Self {
        self.reserve = reserve;
        self
    }

    /// The page protection these options ask for.
    pub fn page_protection(&self) -> PageProtection {
        self.protection
    }

    /// The access wanted on the handle.
    #[must_use]
    pub fn access(mut self, access: impl Into<AccessMask>) -> Self {
        self.access = access.into();
        self
    }

    /// A security descriptor in SDDL (default: creator and root only).
    #[must_use]
    pub fn security(mut self, sddl: impl Into<String>) -> Self {
        self.sddl = Some(sddl.into());
        self
    }

    /// Creates the named section, or opens it if the name exists (its size
    /// then stays what it was).
    ///
    /// # Windows equivalent
    ///
    /// `CreateFileMapping(INVALID_HANDLE_VALUE, …)`: size 0 is
    /// `ERROR_INVALID_PARAMETER`; a name held by another kind of object,
    /// `ERROR_INVALID_HANDLE`.
    pub fn create(&self, conn: &Connection, name: &str) -> Result<Created<Section>> {
        let op = "CreateFileMapping";
        let parsed = parse_name(op, name)?;
        let section = self.request(conn, Some(parsed), Some(name), None)?;
        let already_existed = section.1;
        Ok(Created { object: section.0, already_existed })
    }

    /// Creates an unnamed section.
    pub fn create_unnamed(&self, conn: &Connection) -> Result<Section> {
        self.request(conn, None, None, None).map(|(s, _)| s)
    }

    /// Creates a section that maps `file`, named `name` (or unnamed), or
    /// opens the existing section of that name.
    ///
    /// # Windows equivalent
    ///
    /// `CreateFileMapping(hFile, …)`. The file's open mode must allow the
    /// protection: read for `PAGE_READONLY` and `PAGE_WRITECOPY`, read and
    /// write for `PAGE_READWRITE` (else `ERROR_ACCESS_DENIED`; a write-only
    /// or `O_PATH` file allows nothing). Size 0 maps the whole file, and an
    /// empty file is then `ERROR_FILE_INVALID`; a size beyond the end grows
    /// a file mapped read-write (`ERROR_NOT_ENOUGH_MEMORY` for the others).
    /// The broker keeps the file open while the section lives; views write
    /// through to it.
    pub fn create_for_file(&self, conn: &Connection, file: impl AsFd, name: Option<&str>) -> Result<Created<Section>> {
        let op = "CreateFileMapping";
        let parsed = name.map(|n| parse_name(op, n)).transpose()?;
        let (object, already_existed) = self.request(conn, parsed, name, Some(file.as_fd()))?;
        Ok(Created { object, already_existed })
    }

    fn request(
        &self,
        conn: &Connection,
        name: Option<switchboard_types::ObjectName>,
        shown: Option<&str>,
        file: Option<BorrowedFd<'_>>,
    ) -> Result<(Section, bool)> {
        let op = "CreateFileMapping";
        let request = p::CreateSection {
            name,
            size: self.size,
            protection: self.protection,
            file: file.is_some(),
            reserve: self.reserve,
            access: self.access,
            security: p::Security { sddl: self.sddl.clone() },
        };
        let sent: Vec<BorrowedFd<'_>> = file.into_iter().collect();
        let (opened, fds) = conn.call_passing_fds(request, &sent, op, shown, Some(crate::DEFAULT_REQUEST_TIMEOUT))?;
        let existed = opened.already_existed;
        Ok((Section::from_reply(conn, opened, fds, shown, op)?, existed))
    }
}

/// A section handle. Views made from it stay valid after it closes.
#[derive(Debug)]
pub struct Section {
    handle: OwnedHandle,
    memory: OwnedFd,
    size: u64,
    protection: PageProtection,
    access: AccessMask,
    file: bool,
    /// `SEC_RESERVE`: which pages are committed, shared by every view.
    commits: Option<Arc<CounterPage>>,
}

/// What `NtQuerySection` reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SectionInfo {
    /// The size in bytes.
    pub size: u64,
    /// `SEC_RESERVE` (else `SEC_COMMIT`).
    pub reserve: bool,
    /// It maps a file (`SEC_FILE`).
    pub file: bool,
}

impl Section {
    fn from_reply(
        conn: &Connection,
        opened: p::SectionOpened,
        fds: Vec<OwnedFd>,
        name: Option<&str>,
        op: &'static str,
    ) -> Result<Self> {
        let protocol =
            |reason: String| Error::new(ErrorKind::Protocol, Win32Error::ERROR_INVALID_DATA, op, name, reason);
        let mut fds = fds.into_iter();
        let memory = fds.next().ok_or_else(|| protocol("the broker sent no section".into()))?;
        let commits = if opened.reserve {
            let fd = fds.next().ok_or_else(|| protocol("the broker sent no commit bitmap".into()))?;
            let words = usize::try_from(pages(opened.size).div_ceil(64))
                .map_err(|_| protocol(format!("a section of {} bytes", opened.size)))?;
            let may_write = opened.access.contains(FILE_MAP_WRITE) && opened.protection == PageProtection::ReadWrite;
            let bits = if may_write { CounterPage::map(&fd, words) } else { CounterPage::map_read_only(&fd, words) };
            Some(Arc::new(bits.map_err(|e| protocol(e.to_string()))?))
        } else {
            None
        };
        Ok(Self {
            handle: OwnedHandle::new(conn.clone(), opened.handle, name.map(str::to_owned)),
            memory,
            size: opened.size,
            protection: opened.protection,
            access: opened.access,
            file: opened.file,
            commits,
        })
    }

    /// Opens a named section with `FILE_MAP_*` access.
    ///
    /// # Windows equivalent
    ///
    /// `OpenFileMapping`: a missing name is `ERROR_FILE_NOT_FOUND`; another
    /// kind of object, `ERROR_INVALID_HANDLE`.
    pub fn open(conn: &Connection, name: &str, access: impl Into<AccessMask>) -> Result<Section> {
        let access = access.into();
        let op = "OpenFileMapping";
        let parsed = parse_name(op, name)?;
        let (opened, fds) = conn.call_with_fds(
            p::OpenSection { name: parsed, access },
            op,
            Some(name),
            Some(crate::DEFAULT_REQUEST_TIMEOUT),
        )?;
        Self::from_reply(conn, opened, fds, Some(name), op)
    }

    fn error(&self, code: Win32Error, reason: impl Into<String>) -> Error {
        Error::new(ErrorKind::Refused, code, "MapViewOfFile", self.handle.name(), reason)
    }

    /// Maps `size` bytes from `offset` (`size` 0: to the end).
    ///
    /// # Windows equivalent
    ///
    /// `MapViewOfFile`. A read view needs `FILE_MAP_READ`, a write view
    /// `FILE_MAP_WRITE` on a `PAGE_READWRITE` section, a copy view
    /// `FILE_MAP_COPY` or `FILE_MAP_READ`; otherwise `ERROR_ACCESS_DENIED`.
    /// The offset must be a multiple of the allocation granularity (the page
    /// size here, 64 KiB on Windows): `ERROR_MAPPED_ALIGNMENT`.
    pub fn map_view(&self, access: ViewAccess, offset: u64, size: usize) -> Result<View> {
        let allowed = match access {
            ViewAccess::Read => self.access.intersects(FILE_MAP_READ),
            ViewAccess::Write => self.access.intersects(FILE_MAP_WRITE) && self.protection == PageProtection::ReadWrite,
            ViewAccess::Copy => self.access.intersects(FILE_MAP_COPY | FILE_MAP_READ),
        };
        if !allowed {
            return Err(self.error(
                Win32Error::ERROR_ACCESS_DENIED,
                format!(
                    "a {access:?} view needs more than this handle's access {} on a {:?} section",
                    self.access, self.protection
                ),
            ));
        }
        let granularity = switchboard_sys::shm::allocation_granularity() as u64;
        if !offset.is_multiple_of(granularity) {
            return Err(self
                .error(Win32Error::ERROR_MAPPED_ALIGNMENT, format!("the offset must be a multiple of {granularity}")));
        }
        if offset >= self.size {
            return Err(self.error(Win32Error::ERROR_ACCESS_DENIED, "the offset lies beyond the section"));
        }
        let left = self.size - offset;
        let len = if size == 0 { left } else { size as u64 };
        if len > left {
            return Err(self.error(
                Win32Error::ERROR_ACCESS_DENIED,
                format!("{len} bytes from {offset} run past the section's {} bytes", self.size),
            ));
        }
        let kind = match access {
            ViewAccess::Read => ViewKind::Read,
            ViewAccess::Write => ViewKind::Write,
            ViewAccess::Copy => ViewKind::Copy,
        };
        let len = usize::try_from(len)
            .map_err(|_| self.error(Win32Error::ERROR_NOT_ENOUGH_MEMORY, "the view is too large"))?;
        let name = self.handle.name().map(str::to_owned);
        let commits = self.commits.clone().map(|bits| (bits, page_index(offset)));
        RawView::map(&self.memory, offset, len, kind)
            .map(|raw| View { raw, name, commits })
            .map_err(|e| self.error(Win32Error::ERROR_ACCESS_DENIED, e.to_string()))
    }

    /// The section's size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The section's page protection.
    pub fn protection(&self) -> PageProtection {
        self.protection
    }

    /// Whether it maps a file (else memory).
    pub fn maps_file(&self) -> bool {
        self.file
    }

    /// The section's size and attributes.
    ///
    /// # Windows equivalent
    ///
    /// `NtQuerySection(SectionBasicInformation)`: the handle needs
    /// `SECTION_QUERY` (else `ERROR_ACCESS_DENIED`, for `STATUS_ACCESS_DENIED`).
    pub fn query(&self) -> Result<SectionInfo> {
        if !self.access.intersects(SECTION_QUERY) {
            return Err(Error::new(
                ErrorKind::Refused,
                Win32Error::ERROR_ACCESS_DENIED,
                "NtQuerySection",
                self.handle.name(),
                format!("the handle's access {} lacks SECTION_QUERY", self.access),
            ));
        }
        Ok(SectionInfo { size: self.size, reserve: self.commits.is_some(), file: self.file })
    }

    /// Closes the handle now, reporting the outcome (views stay mapped).
    pub fn close(self) -> Result<()> {
        self.handle.close()
    }

    /// The access granted to this handle.
    pub fn access(&self) -> AccessMask {
        self.access
    }

    /// The handle.
    pub fn handle(&self) -> &OwnedHandle {
        &self.handle
    }
}

/// A mapped view. Its bytes are shared with every other shared view of the
/// section, in this process or another, so they are copied in and out
/// rather than lent as Rust slices. Unmapped on drop (`UnmapViewOfFile`).
#[derive(Debug)]
pub struct View {
    raw: RawView,
    /// The section's name, for errors.
    name: Option<String>,
    /// `SEC_RESERVE`: the section's commit bitmap and this view's first page.
    commits: Option<(Arc<CounterPage>, usize)>,
}

/// A page's state, as `VirtualQuery` reports it (views are always `MEM_MAPPED`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageState {
    /// `MEM_COMMIT`.
    Committed,
    /// `MEM_RESERVE`.
    Reserved,
}

/// A run of pages of one state in a view (`MEMORY_BASIC_INFORMATION`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Region {
    /// Where the run starts, from the start of the view (page-aligned).
    pub offset: usize,
    /// Its length in bytes: whole pages, to the end of the run or the view.
    pub size: usize,
    /// The pages' state.
    pub state: PageState,
}

/// The page size.
fn page() -> u64 {
    allocation_granularity() as u64
}

/// How many pages `bytes` spans.
fn pages(bytes: u64) -> u64 {
    bytes.div_ceil(page())
}

/// The page holding byte `offset` of the section.
fn page_index(offset: u64) -> usize {
    usize::try_from(offset / page()).unwrap_or(usize::MAX)
}

impl View {
    /// The view's length in bytes.
    pub fn len(&self) -> usize {
        self.raw.len()
    }

    /// Whether the view is empty (never).
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    fn is_committed(&self, page_in_view: usize) -> bool {
        let Some((bits, first)) = &self.commits else { return true };
        let page = first + page_in_view;
        bits.counter(page / 64).load(Ordering::SeqCst) & (1 << (page % 64)) != 0
    }

    /// `ERROR_NOACCESS` unless every page of the range is committed (the
    /// access violation a reserved page gives on Windows).
    fn check_committed(&self, op: &'static str, offset: usize, len: usize) -> Result<()> {
        if self.commits.is_none() || len == 0 {
            return Ok(());
        }
        let size = page() as usize;
        let last = offset.saturating_add(len - 1).min(self.len().saturating_sub(1)) / size;
        match (offset / size..=last).find(|&p| !self.is_committed(p)) {
            None => Ok(()),
            Some(p) => Err(Error::new(
                ErrorKind::Refused,
                Win32Error::ERROR_NOACCESS,
                op,
                self.name.as_deref(),
                format!("page {p} of the view (offset {}) is reserved, not committed", p * size),
            )),
        }
    }

    /// Commits the pages holding `offset..offset + len`, for every view of
    /// the section in every process (`VirtualAlloc(MEM_COMMIT)` on a view of
    /// a `SEC_RESERVE` section). Committing committed pages, or pages of a
    /// section that is not `SEC_RESERVE`, changes nothing.
    pub fn commit(&self, offset: usize, len: usize) -> Result<()> {
        if offset.checked_add(len).is_none_or(|end| end > self.len()) || len == 0 {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                Win32Error::ERROR_INVALID_PARAMETER,
                "VirtualAlloc",
                self.name.as_deref(),
                format!("bytes {offset}..+{len} are not inside the view of {} bytes", self.len()),
            ));
        }
        let Some((bits, first)) = &self.commits else { return Ok(()) };
        if !bits.is_writable() {
            return Err(Error::new(
                ErrorKind::Refused,
                Win32Error::ERROR_ACCESS_DENIED,
                "VirtualAlloc",
                self.name.as_deref(),
                "the section was opened without FILE_MAP_WRITE: its pages are committed through a writable handle",
            ));
        }
        let size = page() as usize;
        for p in offset / size..=(offset + len - 1) / size {
            let page = first + p;
            bits.counter(page / 64).fetch_or(1 << (page % 64), Ordering::SeqCst);
        }
        Ok(())
    }

    /// Decommitting pages of a mapped view is refused, as on Windows
    /// (`VirtualFree(MEM_DECOMMIT)`: `ERROR_INVALID_PARAMETER`).
    pub fn decommit(&self, offset: usize, len: usize) -> Result<()> {
        Err(Error::new(
            ErrorKind::InvalidArgument,
            Win32Error::ERROR_INVALID_PARAMETER,
            "VirtualFree",
            self.name.as_deref(),
            format!("bytes {offset}..+{len} belong to a mapped view, whose pages cannot be decommitted"),
        ))
    }

    /// The run of same-state pages holding byte `offset` (`VirtualQuery`).
    pub fn query(&self, offset: usize) -> Result<Region> {
        let size = page() as usize;
        let view_pages = self.len().div_ceil(size);
        let first = offset / size;
        if first >= view_pages {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                Win32Error::ERROR_INVALID_PARAMETER,
                "VirtualQuery",
                self.name.as_deref(),
                format!("offset {offset} lies beyond the view of {} bytes", self.len()),
            ));
        }
        let committed = self.is_committed(first);
        let end = (first..view_pages).find(|&p| self.is_committed(p) != committed).unwrap_or(view_pages);
        let state = if committed { PageState::Committed } else { PageState::Reserved };
        Ok(Region { offset: first * size, size: (end - first) * size, state })
    }

    /// Copies bytes out of the view.
    pub fn read_at(&self, offset: usize, buf: &mut [u8]) -> Result<()> {
        self.check_committed("read view", offset, buf.len())?;
        self.raw.read_at(offset, buf).map_err(|e| {
            Error::new(
                ErrorKind::InvalidArgument,
                Win32Error::ERROR_INVALID_PARAMETER,
                "read view",
                self.name.as_deref(),
                e.to_string(),
            )
        })
    }

    /// Copies bytes into the view (read views refuse: `ERROR_ACCESS_DENIED`).
    pub fn write_at(&self, offset: usize, data: &[u8]) -> Result<()> {
        self.check_committed("write view", offset, data.len())?;
        self.raw.write_at(offset, data).map_err(|e| {
            let code = if self.raw.is_writable() {
                Win32Error::ERROR_INVALID_PARAMETER
            } else {
                Win32Error::ERROR_ACCESS_DENIED
            };
            Error::new(ErrorKind::InvalidArgument, code, "write view", self.name.as_deref(), e.to_string())
        })
    }

    /// The first byte, for code that manages concurrent access itself (for
    /// example atomics placed in the section).
    pub fn as_ptr(&self) -> *mut u8 {
        self.raw.as_ptr()
    }
}
