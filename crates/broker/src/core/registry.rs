//! The registry: the broker owns the hives and hands out keys as handles.
//!
//! `HKEY_LOCAL_MACHINE` is the realm's machine hive: in the system realm it
//! is machine-wide (everyone may read, root may write, unless a key's own
//! DACL says otherwise); in a user realm it is that user's own.
//! `HKEY_CURRENT_USER` is the calling user's hive, also reachable as
//! `HKEY_USERS\S-1-22-1-<uid>`. Hives open at first use from the realm's
//! registry directory and stay open. Each key may carry a security
//! descriptor; a key without one takes its nearest ancestor's, and the
//! hive's default above that. In the system realm each user's hive has a
//! quota (`Config::registry_user_quota`), the machine hive none.

use std::any::Any;
use std::collections::HashMap;
use std::time::UNIX_EPOCH;

use switchboard_proto as p;
use switchboard_proto::WireError;
use switchboard_registry::path::fold_name;
use switchboard_registry::{Hive, KeyOptions, KeyPath, Quota, RegError};
use switchboard_types::access::key::{
    self, KEY_CREATE_SUB_KEY, KEY_ENUMERATE_SUB_KEYS, KEY_NOTIFY, KEY_QUERY_VALUE, KEY_READ, KEY_SET_VALUE,
};
use switchboard_types::access::standard::{DELETE, READ_CONTROL, WRITE_DAC, WRITE_OWNER};
use switchboard_types::access::{AccessMask, GenericMapping};
use switchboard_types::registry::RootKey;
use switchboard_types::security::{SecurityDescriptor, Sid, Token};
use switchboard_types::{Handle, ObjectKind, Win32Error};

use super::objects::{Entry, Object, ObjectId, downcast};
use super::resources::HiveFiles;
use super::sync::SyncObject;
use super::{ClientId, Core, Cx};

/// `REG_NOTIFY_CHANGE_NAME`: a subkey was added or deleted.
pub const REG_NOTIFY_CHANGE_NAME: u32 = 0x1;
/// `REG_NOTIFY_CHANGE_SECURITY`: the key's descriptor changed.
pub const REG_NOTIFY_CHANGE_SECURITY: u32 = 0x8;
/// `REG_NOTIFY_CHANGE_LAST_SET`: a value was set or deleted.
pub const REG_NOTIFY_CHANGE_LAST_SET: u32 = 0x4;
/// The filter bits Windows defines (name, attributes, last set, security).
const REG_NOTIFY_FILTERS: u32 = 0xF;
/// `REG_NOTIFY_THREAD_AGNOSTIC`: accepted, and meaningless here (no thread owns a watch).
const REG_NOTIFY_THREAD_AGNOSTIC: u32 = 0x1000_0000;

/// Which hive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HiveId {
    /// `HKEY_LOCAL_MACHINE`.
    Machine,
    /// One user's `HKEY_CURRENT_USER`.
    User(u32),
}

/// The broker's hives.
#[derive(Debug)]
pub struct Registry {
    /// The hive files; `None`: in memory only (tests of the core).
    files: Option<Box<dyn HiveFiles>>,
    /// Whether this is the system realm (its machine hive is machine-wide).
    system: bool,
    /// The realm's owner (owner of a user realm's machine hive).
    owner: u32,
    /// The quota of a user's hive in the system realm, in bytes.
    user_quota: Option<u64>,
    hives: HashMap<HiveId, Hive>,
    /// Pending `RegNotifyChangeKeyValue` watches, each fired once.
    watches: Vec<Watch>,
}

/// One pending notification.
#[derive(Debug)]
struct Watch {
    /// The key object watched (its last handle closing fires the watch).
    key: ObjectId,
    /// Where the key is (two places for `HKEY_CLASSES_ROOT`).
    places: Vec<(HiveId, KeyPath)>,
    subtree: bool,
    filter: u32,
    /// The event to set; the watch holds a reference to it.
    event: ObjectId,
    /// Who asked (each client may have [`MAX_WATCHES_PER_CLIENT`]).
    client: ClientId,
}

/// Pending `RegNotifyChangeKeyValue` watches one client may have: each
/// holds an event and is looked at on every change, so they are bounded.
pub const MAX_WATCHES_PER_CLIENT: usize = 1024;

impl Registry {
    /// Hives in `files`, opened at first use.
    pub fn new(files: Option<Box<dyn HiveFiles>>, system: bool, owner: u32, user_quota: Option<u64>) -> Self {
        Self { files, system, owner, user_quota, hives: HashMap::new(), watches: Vec::new() }
    }

    fn hive(&mut self, id: HiveId) -> Result<&mut Hive, WireError> {
        if !self.hives.contains_key(&id) {
            let mut hive = match &mut self.files {
                None => Hive::in_memory(),
                Some(files) => files.open(match id {
                    HiveId::Machine => None,
                    HiveId::User(uid) => Some(uid),
                })?,
            };
            if let (HiveId::User(uid), true, Some(bytes)) = (id, self.system, self.user_quota) {
                hive.set_quota(Some(Quota { bytes, holder: format!("uid {uid} (HKEY_USERS\\S-1-22-1-{uid})") }));
            }
            self.hives.insert(id, hive);
        }
        self.hives.get_mut(&id).ok_or_else(|| WireError::new(Win32Error::ERROR_BADDB, "the hive vanished"))
    }

    /// `HKEY_USERS`' subkeys: a SID per user hive, open or on disk.
    fn user_sids(&self) -> Vec<String> {
        let mut uids: Vec<u32> =
            self.hives.keys().filter_map(|h| if let HiveId::User(uid) = h { Some(*uid) } else { None }).collect();
        if let Some(files) = &self.files {
            uids.extend(files.users());
        }
        uids.sort_unstable();
        uids.dedup();
        uids.into_iter().map(|uid| format!("S-1-22-1-{uid}")).collect()
    }

    /// The hive's default security descriptor (for keys without their own).
    /// Its ACEs are container-inherit, so new keys take them.
    fn default_security(&self, id: HiveId) -> SecurityDescriptor {
        let owner_token = |uid| Token { uid, gid: uid, groups: Vec::new() };
        let sddl = match id {
            HiveId::Machine if self.system => "O:SYD:(A;CI;KA;;;SY)(A;CI;KR;;;WD)".to_owned(),
            HiveId::Machine => format!("O:S-1-22-1-{0}D:(A;CI;KA;;;S-1-22-1-{0})(A;CI;KA;;;BA)", self.owner),
            HiveId::User(uid) => format!("O:S-1-22-1-{uid}D:(A;CI;KA;;;S-1-22-1-{uid})(A;CI;KA;;;BA)"),
        };
        let fallback = match id {
            HiveId::Machine if self.system => 0,
            HiveId::Machine => self.owner,
            HiveId::User(uid) => uid,
        };
        SecurityDescriptor::parse_sddl(&sddl, &Sid::LocalSystem)
            .unwrap_or_else(|_| SecurityDescriptor::default_for(&owner_token(fallback)))
    }

    /// Whether a user's hive exists (open, or on disk).
    fn user_hive_exists(&self, uid: u32) -> bool {
        self.hives.contains_key(&HiveId::User(uid)) || self.files.as_ref().is_some_and(|f| f.has_user(uid))
    }

    /// `Software\Classes` in the user's hive and the machine's: `HKEY_CLASSES_ROOT` always exists.
    fn ensure_classes(&mut self, uid: u32) -> Result<(), WireError> {
        let classes = KeyPath::parse(CLASSES).map_err(wire)?;
        for hive in [HiveId::User(uid), HiveId::Machine] {
            let store = self.hive(hive)?;
            if store.open_key(&classes).is_err() {
                store.create_key(&classes, &KeyOptions::default()).map_err(wire)?;
            }
        }
        Ok(())
    }

    /// The descriptor that governs `path`: its own, its nearest ancestor's,
    /// or the hive's.
    fn security(&mut self, id: HiveId, path: &KeyPath) -> Result<SecurityDescriptor, WireError> {
        let fallback = self.default_security(id);
        let hive = self.hive(id)?;
        let mut at = Some(path.clone());
        while let Some(key) = at {
            if let Ok(info) = hive.info(&key)
                && let Some(sddl) = info.sddl
            {
                return SecurityDescriptor::parse_sddl(&sddl, &fallback.owner)
                    .map_err(|e| WireError::new(Win32Error::ERROR_BADDB, format!("{key}: a stored descriptor: {e}")));
            }
            at = key.parent();
        }
        Ok(fallback)
    }
}

/// The descriptor a new key gets from its parent's (as Windows builds it):
/// the parent's container-inherit ACEs, marked inherited (a
/// no-propagate one stops there); without any, the creator's default.
fn inherited(parent: &SecurityDescriptor, creator: &Token) -> SecurityDescriptor {
    use switchboard_types::security::AceFlags;
    let aces: Vec<_> = parent
        .dacl
        .iter()
        .flatten()
        .filter(|ace| ace.flags.contains(AceFlags::CONTAINER_INHERIT))
        .map(|ace| {
            let mut ace = ace.clone();
            let mut bits = (ace.flags.0 & !AceFlags::INHERIT_ONLY.0) | AceFlags::INHERITED.0;
            if ace.flags.contains(AceFlags::NO_PROPAGATE_INHERIT) {
                bits &=
                    !(AceFlags::CONTAINER_INHERIT.0 | AceFlags::OBJECT_INHERIT.0 | AceFlags::NO_PROPAGATE_INHERIT.0);
            }
            ace.flags = AceFlags(bits);
            ace
        })
        .collect();
    if aces.is_empty() {
        return SecurityDescriptor::default_for(creator);
    }
    SecurityDescriptor { owner: creator.user_sid(), group: None, dacl: Some(aces), dacl_protected: false }
}

/// A descriptor's owner must be its setter, unless the setter is root
/// (Windows: `ERROR_INVALID_OWNER` without the restore privilege).
fn check_owner(sd: &SecurityDescriptor, token: &Token) -> Result<(), WireError> {
    if token.uid == 0 || sd.owner == token.user_sid() {
        Ok(())
    } else {
        Err(err(Win32Error::ERROR_INVALID_OWNER, format!("only root may make {} the owner", sd.owner)))
    }
}

fn wire(e: RegError) -> WireError {
    WireError::new(e.code, e.message)
}

/// Where `HKEY_CLASSES_ROOT` lives in each hive.
const CLASSES: &str = r"Software\Classes";

/// An open key: where it is. A key of `HKEY_CLASSES_ROOT` is in two places
/// at once, the user's `Software\Classes` (first: it wins) and the
/// machine's.
#[derive(Debug, Clone)]
pub struct KeyObject {
    root: RootKey,
    /// The path below `root`, as named.
    path: KeyPath,
    /// (hive, path in it): one, or two for `HKEY_CLASSES_ROOT`.
    places: Vec<(HiveId, KeyPath)>,
    /// For an open handle: each place's key serial when it was opened
    /// (`None`: it did not exist). A key deleted and made again is not it.
    serials: Vec<Option<u64>>,
}

impl KeyObject {
    fn full_name(&self) -> String {
        if self.path.is_root() { self.root.name().to_owned() } else { format!("{}\\{}", self.root.name(), self.path) }
    }

    /// The key one level or more below.
    fn below(&self, rest: &KeyPath) -> Result<Self, WireError> {
        let join = |base: &KeyPath| -> Result<KeyPath, WireError> {
            let mut at = base.clone();
            for part in rest.parts() {
                at = at.child(part).map_err(wire)?;
            }
            Ok(at)
        };
        let places = self.places.iter().map(|(h, p)| Ok((*h, join(p)?))).collect::<Result<_, WireError>>()?;
        Ok(Self { root: self.root, path: join(&self.path)?, places, serials: Vec::new() })
    }
}

impl Object for KeyObject {
    fn kind(&self) -> ObjectKind {
        ObjectKind::Key
    }

    fn mapping(&self) -> GenericMapping {
        key::MAPPING
    }

    fn describe(&self) -> String {
        self.full_name()
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

fn err(code: Win32Error, message: impl Into<String>) -> WireError {
    WireError::new(code, message)
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn utf16_len(s: &str) -> usize {
    s.encode_utf16().count()
}

/// The key to write to: the first place that exists (for
/// `HKEY_CLASSES_ROOT`, the user's copy if there is one), else the last
/// (the machine's, where Windows puts new classes keys).
fn write_place(registry: &mut Registry, key: &KeyObject) -> Result<(HiveId, KeyPath), WireError> {
    if key.places.is_empty() {
        return Err(err(Win32Error::ERROR_ACCESS_DENIED, "HKEY_USERS itself holds only the users' hives"));
    }
    for (hive, path) in &key.places {
        if registry.hive(*hive)?.open_key(path).is_ok() {
            return Ok((*hive, path.clone()));
        }
    }
    key.places.last().cloned().ok_or_else(|| err(Win32Error::ERROR_BADKEY, "a key with no place"))
}

fn exists(registry: &mut Registry, key: &KeyObject) -> Result<bool, WireError> {
    if key.places.is_empty() {
        return Ok(true);
    }
    for (hive, path) in &key.places {
        if registry.hive(*hive)?.open_key(path).is_ok() {
            return Ok(true);
        }
    }
    Ok(false)
}

impl Core {
    fn token(&self, cx: &Cx) -> Result<Token, WireError> {
        Ok(self.client(cx.client)?.token.clone())
    }

    /// The key a base plus a relative path names.
    fn resolve_key(
        &mut self,
        cx: &Cx,
        base: p::RegBase,
        rest: &str,
        needed: AccessMask,
    ) -> Result<KeyObject, WireError> {
        let rest = KeyPath::parse(rest).map_err(wire)?;
        let uid = self.token(cx)?.uid;
        let start = |root, places| KeyObject { root, path: KeyPath::root(), places, serials: Vec::new() };
        let base = match base {
            p::RegBase::Root(RootKey::LocalMachine) => {
                start(RootKey::LocalMachine, vec![(HiveId::Machine, KeyPath::root())])
            }
            p::RegBase::Root(RootKey::CurrentUser) => {
                start(RootKey::CurrentUser, vec![(HiveId::User(uid), KeyPath::root())])
            }
            p::RegBase::Root(RootKey::ClassesRoot) => {
                self.registry.ensure_classes(uid)?;
                let classes = KeyPath::parse(CLASSES).map_err(wire)?;
                start(RootKey::ClassesRoot, vec![(HiveId::User(uid), classes.clone()), (HiveId::Machine, classes)])
            }
            p::RegBase::Root(RootKey::Users) => {
                // HKEY_USERS\S-1-22-1-<uid>\… is that user's hive.
                let Some((first, tail)) = rest.parts().split_first() else {
                    // HKEY_USERS itself: a key of no place, whose subkeys are the users' hives.
                    return Ok(start(RootKey::Users, Vec::new()));
                };
                // A SID, any case, in its one canonical spelling; and only a
                // hive that exists (or the caller's own) is opened.
                let user: u32 = first
                    .to_ascii_uppercase()
                    .strip_prefix("S-1-22-1-")
                    .filter(|u| {
                        !u.is_empty() && u.bytes().all(|b| b.is_ascii_digit()) && (u == &"0" || !u.starts_with('0'))
                    })
                    .and_then(|u| u.parse().ok())
                    .filter(|&u| u == uid || self.registry.user_hive_exists(u))
                    .ok_or_else(|| err(Win32Error::ERROR_FILE_NOT_FOUND, format!("no user hive {first}")))?;
                let tail = KeyPath::parse(&tail.join("\\")).map_err(wire)?;
                let at = KeyObject {
                    root: RootKey::Users,
                    path: KeyPath::root().child(first).map_err(wire)?,
                    places: vec![(HiveId::User(user), KeyPath::root())],
                    serials: Vec::new(),
                };
                return at.below(&tail);
            }
            p::RegBase::Root(other) => {
                return Err(err(Win32Error::ERROR_NOT_SUPPORTED, format!("{} is not served yet", other.name())));
            }
            p::RegBase::Key(handle) => {
                let key = self.key_handle(cx, handle, needed)?.clone();
                if key.places.is_empty() {
                    // Below HKEY_USERS itself: a user's SID comes first.
                    return self.resolve_key(cx, p::RegBase::Root(RootKey::Users), &rest.to_string(), needed);
                }
                key
            }
        };
        base.below(&rest)
    }

    /// The key a handle names, if the handle has `needed` access.
    fn key_handle(&self, cx: &Cx, handle: Handle, needed: AccessMask) -> Result<&KeyObject, WireError> {
        let (id, _) = self.lookup(cx, handle, AccessMask(0))?;
        if self.store.get(id).and_then(|e| downcast::<KeyObject>(e.object.as_ref())).is_none() {
            return Err(err(Win32Error::ERROR_INVALID_HANDLE, format!("handle {handle} is not a registry key")));
        }
        let (id, _) = self.lookup(cx, handle, needed)?;
        self.store
            .get(id)
            .and_then(|e| downcast::<KeyObject>(e.object.as_ref()))
            .ok_or_else(|| err(Win32Error::ERROR_INVALID_HANDLE, "not a key"))
    }

    /// The key of a handle that must still exist (`ERROR_KEY_DELETED` if
    /// it was deleted since).
    fn live_key(&mut self, cx: &Cx, handle: Handle, needed: AccessMask) -> Result<KeyObject, WireError> {
        let key = self.key_handle(cx, handle, needed)?.clone();
        let mut alive = key.places.is_empty();
        for ((hive, path), serial) in key.places.iter().zip(&key.serials) {
            if let Some(serial) = serial {
                alive |= self.registry.hive(*hive)?.info(path).is_ok_and(|i| i.serial == *serial);
            }
        }
        if !alive || !exists(&mut self.registry, &key)? {
            return Err(err(Win32Error::ERROR_KEY_DELETED, format!("{} was deleted", key.full_name())));
        }
        Ok(key)
    }

    /// Checks `desired` against the descriptor of the key's first existing
    /// place (or of `place` when given); the access granted.
    fn key_access(&mut self, cx: &Cx, key: &KeyObject, desired: AccessMask) -> Result<AccessMask, WireError> {
        if key.places.is_empty() {
            // HKEY_USERS itself may be read (its subkeys listed), nothing more.
            let wanted = key::MAPPING.map(desired).difference(AccessMask::MAXIMUM_ALLOWED);
            return if KEY_READ.contains(wanted) {
                Ok(KEY_READ)
            } else {
                Err(err(Win32Error::ERROR_ACCESS_DENIED, "HKEY_USERS itself can only be read"))
            };
        }
        let (hive, path) = write_place(&mut self.registry, key)?;
        let sd = self.registry.security(hive, &path)?;
        sd.access_check(&self.token(cx)?, desired, &key::MAPPING)
            .map_err(|denied| err(Win32Error::ERROR_ACCESS_DENIED, format!("{}: {denied}", key.full_name())))
    }

    fn key_entry(&mut self, cx: &Cx, mut key: KeyObject, granted: AccessMask) -> Result<Handle, WireError> {
        let mut serials = Vec::with_capacity(key.places.len());
        for (hive, path) in &key.places {
            serials.push(self.registry.hive(*hive)?.info(path).ok().map(|i| i.serial));
        }
        key.serials = serials;
        let security = match write_place(&mut self.registry, &key) {
            Ok((hive, path)) => self.registry.security(hive, &path)?,
            Err(_) => self.registry.default_security(HiveId::Machine),
        };
        let id = self.store.insert(Entry { object: Box::new(key), path: None, security, handles: 0 });
        self.add_handle(cx, id, granted)
    }

    pub(super) fn reg_create(&mut self, cx: &Cx, req: p::RegCreateKey) -> Result<p::RegKeyCreated, WireError> {
        let key = self.resolve_key(cx, req.base, &req.path, KEY_CREATE_SUB_KEY)?;
        if exists(&mut self.registry, &key)? {
            let granted = self.key_access(cx, &key, req.access)?;
            let handle = self.key_entry(cx, key, granted)?;
            return Ok(p::RegKeyCreated { handle, created: false });
        }
        // Where to create it: a classes key goes to the user's copy when its
        // parent is a key of the user's own (not the classes root, which both
        // have), else to the machine's, as Windows does.
        let classes_depth = KeyPath::parse(CLASSES).map_err(wire)?.parts().len();
        let merged = key.places.len() > 1;
        let (hive, path) = key
            .places
            .iter()
            .find(|(h, p)| {
                (!merged || p.parts().len() > classes_depth + 1)
                    && p.parent()
                        .is_some_and(|parent| self.registry.hive(*h).is_ok_and(|hv| hv.open_key(&parent).is_ok()))
            })
            .or(key.places.last())
            .cloned()
            .ok_or_else(|| err(Win32Error::ERROR_BADKEY, "a key with no place"))?;
        // The nearest existing key above must let the caller create below it.
        let mut above = path.parent();
        while let Some(at) = &above {
            if self.registry.hive(hive)?.open_key(at).is_ok() {
                break;
            }
            above = at.parent();
        }
        let above = above.unwrap_or_default();
        let sd = self.registry.security(hive, &above)?;
        let token = self.token(cx)?;
        sd.access_check(&token, KEY_CREATE_SUB_KEY, &key::MAPPING)
            .map_err(|denied| err(Win32Error::ERROR_ACCESS_DENIED, format!("{}: {denied}", key.full_name())))?;
        // The new key's own descriptor: the one given, or what it inherits
        // from the key above (as Windows assigns it at creation).
        let sd = match &req.security.sddl {
            Some(text) => {
                let sd = SecurityDescriptor::parse_sddl(text, &token.user_sid())
                    .map_err(|e| err(Win32Error::ERROR_INVALID_PARAMETER, format!("security descriptor: {e}")))?;
                check_owner(&sd, &token)?;
                sd
            }
            None => inherited(&sd, &token),
        };
        let sddl = Some(sd.to_sddl());
        let options = KeyOptions { volatile: req.volatile, sddl, class: req.class };
        self.registry.hive(hive)?.create_key(&path, &options).map_err(wire)?;
        self.registry_changed(hive, &above, REG_NOTIFY_CHANGE_NAME);
        // The creator gets what it asked for.
        let granted = key::MAPPING.map(req.access).difference(AccessMask::MAXIMUM_ALLOWED);
        let granted =
            if req.access.contains(AccessMask::MAXIMUM_ALLOWED) { granted.union(key::MAPPING.all) } else { granted };
        let handle = self.key_entry(cx, key, granted)?;
        Ok(p::RegKeyCreated { handle, created: true })
    }

    pub(super) fn reg_open(&mut self, cx: &Cx, req: &p::RegOpenKey) -> Result<Handle, WireError> {
        let key = self.resolve_key(cx, req.base, &req.path, AccessMask(0))?;
        if !exists(&mut self.registry, &key)? {
            return Err(err(Win32Error::ERROR_FILE_NOT_FOUND, format!("no key {}", key.full_name())));
        }
        let granted = self.key_access(cx, &key, req.access)?;
        self.key_entry(cx, key, granted)
    }

    /// Where a change to `key` goes. For a key of `HKEY_CLASSES_ROOT` the
    /// place may not be the one the handle was checked against when it was
    /// opened (the user's copy came or went since), so `needed` is checked
    /// against the descriptor of the place actually written.
    fn target(&mut self, cx: &Cx, key: &KeyObject, needed: AccessMask) -> Result<(HiveId, KeyPath), WireError> {
        let (hive, path) = write_place(&mut self.registry, key)?;
        if key.places.len() > 1 {
            let sd = self.registry.security(hive, &path)?;
            sd.access_check(&self.token(cx)?, needed, &key::MAPPING)
                .map_err(|denied| err(Win32Error::ERROR_ACCESS_DENIED, format!("{}: {denied}", key.full_name())))?;
        }
        Ok((hive, path))
    }

    pub(super) fn reg_set(&mut self, cx: &Cx, req: p::RegSetValue) -> Result<(), WireError> {
        let limit = switchboard_types::registry::MAX_VALUE_DATA;
        if req.value.data.len() > limit {
            return Err(err(
                Win32Error::ERROR_INVALID_PARAMETER,
                format!("{} bytes of data; a value holds at most {limit}", req.value.data.len()),
            ));
        }
        let key = self.live_key(cx, req.key, KEY_SET_VALUE)?;
        let (hive, path) = self.target(cx, &key, KEY_SET_VALUE)?;
        self.registry.hive(hive)?.set_value(&path, &req.name, req.value).map_err(wire)?;
        self.registry_changed(hive, &path, REG_NOTIFY_CHANGE_LAST_SET);
        Ok(())
    }

    pub(super) fn reg_query(
        &mut self,
        cx: &Cx,
        req: &p::RegQueryValue,
    ) -> Result<switchboard_types::registry::RawValue, WireError> {
        let key = self.live_key(cx, req.key, KEY_QUERY_VALUE)?;
        for (hive, path) in &key.places {
            if let Ok(value) = self.registry.hive(*hive)?.value(path, &req.name) {
                return Ok(value);
            }
        }
        Err(err(Win32Error::ERROR_FILE_NOT_FOUND, format!("no value {:?} in {}", req.name, key.full_name())))
    }

    pub(super) fn reg_delete_value(&mut self, cx: &Cx, req: &p::RegDeleteValue) -> Result<(), WireError> {
        let key = self.live_key(cx, req.key, KEY_SET_VALUE)?;
        let (hive, path) = self.target(cx, &key, KEY_SET_VALUE)?;
        self.registry.hive(hive)?.delete_value(&path, &req.name).map_err(wire)?;
        self.registry_changed(hive, &path, REG_NOTIFY_CHANGE_LAST_SET);
        Ok(())
    }

    /// Every value, the first place's winning for a name in both.
    fn merged_values(&mut self, key: &KeyObject) -> Result<Vec<p::RegNamedValue>, WireError> {
        let mut out: Vec<p::RegNamedValue> = Vec::new();
        for (hive, path) in &key.places {
            let Ok(values) = self.registry.hive(*hive)?.values(path) else { continue };
            for (name, value) in values {
                if !out.iter().any(|v| fold_name(&v.name) == fold_name(&name)) {
                    out.push(p::RegNamedValue { name, value });
                }
            }
        }
        Ok(out)
    }

    /// Every subkey name, once, ordered ignoring case.
    fn merged_subkeys(&mut self, key: &KeyObject) -> Result<Vec<String>, WireError> {
        if key.places.is_empty() {
            return Ok(self.registry.user_sids());
        }
        let mut out: Vec<String> = Vec::new();
        for (hive, path) in &key.places {
            let Ok(names) = self.registry.hive(*hive)?.subkeys(path) else { continue };
            for name in names {
                if !out.iter().any(|n| fold_name(n) == fold_name(&name)) {
                    out.push(name);
                }
            }
        }
        out.sort_by_key(|n| fold_name(n));
        Ok(out)
    }

    pub(super) fn reg_values(&mut self, cx: &Cx, key: Handle) -> Result<Vec<p::RegNamedValue>, WireError> {
        let key = self.live_key(cx, key, KEY_QUERY_VALUE)?;
        self.merged_values(&key)
    }

    pub(super) fn reg_subkeys(&mut self, cx: &Cx, key: Handle) -> Result<Vec<String>, WireError> {
        let key = self.live_key(cx, key, KEY_ENUMERATE_SUB_KEYS)?;
        self.merged_subkeys(&key)
    }

    pub(super) fn reg_info(&mut self, cx: &Cx, key: Handle) -> Result<p::RegKeyInfo, WireError> {
        let key = self.live_key(cx, key, KEY_QUERY_VALUE)?;
        let (class, last_write, volatile) = match write_place(&mut self.registry, &key) {
            Ok((hive, path)) => {
                let info = self.registry.hive(hive)?.info(&path).map_err(wire)?;
                (info.class, info.last_write, info.volatile)
            }
            Err(_) => (String::new(), UNIX_EPOCH, true),
        };
        let values = self.merged_values(&key)?;
        let subkeys = self.merged_subkeys(&key)?;
        Ok(p::RegKeyInfo {
            path: key.full_name(),
            class,
            subkeys: count(subkeys.len()),
            max_subkey_name: count(subkeys.iter().map(|n| utf16_len(n)).max().unwrap_or(0)),
            values: count(values.len()),
            max_value_name: count(values.iter().map(|v| utf16_len(&v.name)).max().unwrap_or(0)),
            max_value_data: count(values.iter().map(|v| v.value.data.len()).max().unwrap_or(0)),
            last_write_unix_ns: last_write
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)),
            volatile,
        })
    }

    pub(super) fn reg_delete(&mut self, cx: &Cx, req: &p::RegDeleteKey) -> Result<(), WireError> {
        let key = self.resolve_key(cx, req.base, &req.path, AccessMask(0))?;
        if !exists(&mut self.registry, &key)? {
            return Err(err(Win32Error::ERROR_FILE_NOT_FOUND, format!("no key {}", key.full_name())));
        }
        let keep_self = req.tree && req.path.trim_matches('\\').is_empty();
        let needed = if req.tree { DELETE | KEY_ENUMERATE_SUB_KEYS | KEY_QUERY_VALUE } else { DELETE };
        self.key_access(cx, &key, needed)?;
        let (hive, path) = write_place(&mut self.registry, &key)?;
        if req.tree {
            // As Windows opens each subkey for DELETE: one refusal anywhere
            // deletes nothing.
            let token = self.token(cx)?;
            let mut pending = vec![path.clone()];
            while let Some(at) = pending.pop() {
                let names = self.registry.hive(hive)?.subkeys(&at).map_err(wire)?;
                for name in names {
                    let child = at.child(&name).map_err(wire)?;
                    let sd = self.registry.security(hive, &child)?;
                    sd.access_check(&token, DELETE, &key::MAPPING).map_err(|denied| {
                        err(Win32Error::ERROR_ACCESS_DENIED, format!("{} below {}: {denied}", child, key.full_name()))
                    })?;
                    pending.push(child);
                }
            }
        }
        let store = self.registry.hive(hive)?;
        let deleted = if req.tree { store.delete_tree(&path, keep_self) } else { store.delete_key(&path) };
        deleted.map_err(wire)?;
        if keep_self || path.is_root() {
            // Emptied and kept: what was below is gone, the key itself changed.
            self.fire_watches(|w| w.places.iter().any(|(h, p)| *h == hive && p.is_within(&path) && *p != path));
            self.registry_changed(hive, &path, REG_NOTIFY_CHANGE_NAME | REG_NOTIFY_CHANGE_LAST_SET);
        } else {
            self.registry_deleted(hive, &path);
        }
        Ok(())
    }

    pub(super) fn reg_get_security(&mut self, cx: &Cx, req: p::RegGetSecurity) -> Result<String, WireError> {
        let key = self.live_key(cx, req.key, READ_CONTROL)?;
        let (hive, path) = write_place(&mut self.registry, &key)?;
        Ok(self.registry.security(hive, &path)?.to_sddl())
    }

    pub(super) fn reg_set_security(&mut self, cx: &Cx, req: &p::RegSetSecurity) -> Result<(), WireError> {
        let key = self.live_key(cx, req.key, WRITE_DAC)?;
        let token = self.token(cx)?;
        let sd = SecurityDescriptor::parse_sddl(&req.sddl, &token.user_sid())
            .map_err(|e| err(Win32Error::ERROR_INVALID_PARAMETER, format!("security descriptor: {e}")))?;
        let (hive, path) = self.target(cx, &key, WRITE_DAC)?;
        if sd.owner != self.registry.security(hive, &path)?.owner {
            // A new owner needs WRITE_OWNER, and may only be the caller (root may name anyone).
            self.key_handle(cx, req.key, WRITE_OWNER)?;
            check_owner(&sd, &token)?;
        }
        self.registry.hive(hive)?.set_security(&path, Some(sd.to_sddl())).map_err(wire)?;
        self.registry_changed(hive, &path, REG_NOTIFY_CHANGE_SECURITY);
        Ok(())
    }

    pub(super) fn reg_notify_change(&mut self, cx: &Cx, req: p::RegNotify) -> Result<(), WireError> {
        let key = self.live_key(cx, req.key, KEY_NOTIFY)?;
        let (key_id, _) = self.lookup(cx, req.key, KEY_NOTIFY)?;
        let filter = req.filter & !REG_NOTIFY_THREAD_AGNOSTIC;
        if filter == 0 || filter & !REG_NOTIFY_FILTERS != 0 {
            return Err(err(Win32Error::ERROR_INVALID_PARAMETER, format!("0x{:x} is not a notify filter", req.filter)));
        }
        let (event, _) = self.lookup(cx, req.event, AccessMask(0))?;
        let is_event = self.store.get(event).is_some_and(|e| {
            e.object.kind() == ObjectKind::Event && downcast::<SyncObject>(e.object.as_ref()).is_some()
        });
        if !is_event {
            return Err(err(Win32Error::ERROR_INVALID_HANDLE, format!("handle {} is not an event", req.event)));
        }
        let pending = self.registry.watches.iter().filter(|w| w.client == cx.client).count();
        if pending >= MAX_WATCHES_PER_CLIENT {
            return Err(err(
                Win32Error::ERROR_NOT_ENOUGH_QUOTA,
                format!("RegNotifyChangeKeyValue: the process already has {pending} pending notifications, its limit"),
            ));
        }
        if let Some(e) = self.store.get_mut(event) {
            e.handles += 1;
        }
        let watch = Watch { key: key_id, places: key.places, subtree: req.subtree, filter, event, client: cx.client };
        self.registry.watches.push(watch);
        Ok(())
    }

    /// Fires (once) the watches `hit` selects: sets their events.
    fn fire_watches(&mut self, hit: impl Fn(&Watch) -> bool) {
        let (fired, kept): (Vec<Watch>, Vec<Watch>) =
            std::mem::take(&mut self.registry.watches).into_iter().partition(|w| hit(w));
        self.registry.watches = kept;
        for watch in fired {
            // Lets go of the watch's reference once the event is set.
            self.signal_event(watch.event);
        }
    }

    /// A change of `kind` (`REG_NOTIFY_CHANGE_*`) at `at`: fires the
    /// watches on that key, and the subtree watches above it.
    fn registry_changed(&mut self, hive: HiveId, at: &KeyPath, kind: u32) {
        self.fire_watches(|w| {
            w.filter & kind != 0
                && w.places
                    .iter()
                    .any(|(h, p)| *h == hive && at.is_within(p) && (w.subtree || at.parts().len() == p.parts().len()))
        });
    }

    /// `deleted` and everything below it are gone: their watches fire
    /// whatever their filter, and the parent's subkeys changed.
    fn registry_deleted(&mut self, hive: HiveId, deleted: &KeyPath) {
        self.fire_watches(|w| w.places.iter().any(|(h, p)| *h == hive && p.is_within(deleted)));
        if let Some(parent) = deleted.parent() {
            self.registry_changed(hive, &parent, REG_NOTIFY_CHANGE_NAME);
        }
    }

    /// The last handle to a key object closed: its watches fire, as on Windows.
    pub(super) fn registry_key_closed(&mut self, key: ObjectId) {
        if self.registry.watches.iter().any(|w| w.key == key) {
            self.fire_watches(|w| w.key == key);
        }
    }
}
