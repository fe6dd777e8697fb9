//! NT-style security for Switchboard's named objects.
//!
//! Windows guards every named kernel object with a security descriptor and
//! decides each open with `AccessCheck`. Switchboard reproduces that on Linux:
//! callers are identified by their Unix credentials (a [`Token`]), objects
//! carry a [`SecurityDescriptor`], and [`SecurityDescriptor::access_check`]
//! follows the Windows DACL-walking rules so that programs written against
//! Windows semantics get the answers they expect.
//!
//! SDDL parsing and formatting live in the private `sddl` module; the public
//! entry points are [`SecurityDescriptor::parse_sddl`],
//! [`SecurityDescriptor::to_sddl`] and [`Sid::parse`].

#![warn(missing_docs)]

use std::fmt;
use std::ops::{BitOr, BitOrAssign};

pub use crate::access::{AccessMask, GenericMapping};
use crate::sddl;

/// A security identifier, limited to the ones Switchboard can meet on Linux.
///
/// Windows equivalent: `SID`. Unix users and groups use the `S-1-22-…`
/// authority the way Samba maps them, so the strings agree with what Windows
/// clients of a Samba server see.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Sid {
    /// Everyone, `S-1-1-0`, SDDL `WD`.
    World,
    /// Creator Owner, `S-1-3-0`, SDDL `CO`: a placeholder in inheritable ACEs that no token holds.
    CreatorOwner,
    /// Owner Rights, `S-1-3-4`, SDDL `OW`: whoever currently owns the object.
    OwnerRights,
    /// Local System, `S-1-5-18`, SDDL `SY`: held by uid 0.
    LocalSystem,
    /// Builtin Administrators, `S-1-5-32-544`, SDDL `BA`: held by uid 0 (root).
    Administrators,
    /// A Unix user, `S-1-22-1-<uid>`.
    UnixUser(u32),
    /// A Unix group, `S-1-22-2-<gid>`.
    UnixGroup(u32),
}

impl Sid {
    /// Parses a two-letter SDDL alias (`WD`, `CO`, `OW`, `SY`, `BA`, upper
    /// case as in SDDL) or an `S-1-…` string (the `S` in either case).
    /// SIDs that Switchboard cannot meet on Linux are rejected.
    ///
    /// Windows equivalent: `ConvertStringSidToSid`.
    pub fn parse(s: &str) -> Result<Sid, SddlError> {
        sddl::parse_sid(s)
    }

    /// The two-letter SDDL alias, if the SID has one.
    pub fn alias(&self) -> Option<&'static str> {
        match self {
            Sid::World => Some("WD"),
            Sid::CreatorOwner => Some("CO"),
            Sid::OwnerRights => Some("OW"),
            Sid::LocalSystem => Some("SY"),
            Sid::Administrators => Some("BA"),
            Sid::UnixUser(_) | Sid::UnixGroup(_) => None,
        }
    }
}

impl fmt::Display for Sid {
    /// The `S-1-…` form. Windows equivalent: `ConvertSidToStringSid`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Sid::World => f.write_str("S-1-1-0"),
            Sid::CreatorOwner => f.write_str("S-1-3-0"),
            Sid::OwnerRights => f.write_str("S-1-3-4"),
            Sid::LocalSystem => f.write_str("S-1-5-18"),
            Sid::Administrators => f.write_str("S-1-5-32-544"),
            Sid::UnixUser(uid) => write!(f, "S-1-22-1-{uid}"),
            Sid::UnixGroup(gid) => write!(f, "S-1-22-2-{gid}"),
        }
    }
}

/// Who is asking: a Unix credential as seen through `SO_PEERCRED`, plus
/// the supplementary groups.
///
/// Windows equivalent: an access token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    /// The effective user id.
    pub uid: u32,
    /// The primary group id.
    pub gid: u32,
    /// Supplementary group ids.
    pub groups: Vec<u32>,
}

impl Token {
    /// Whether this token holds `sid`, given the object's `owner` (needed for
    /// [`Sid::OwnerRights`]).
    ///
    /// Root holds [`Sid::Administrators`] and [`Sid::LocalSystem`] because on
    /// Linux it is the only identity with that kind of power.
    /// [`Sid::CreatorOwner`] is never held: Windows replaces it when an ACE is
    /// inherited, so an ACE that still names it must not grant anything.
    pub fn matches(&self, sid: &Sid, owner: &Sid) -> bool {
        match sid {
            Sid::World => true,
            Sid::UnixUser(uid) => self.uid == *uid,
            Sid::UnixGroup(gid) => self.gid == *gid || self.groups.contains(gid),
            Sid::Administrators | Sid::LocalSystem => self.uid == 0,
            Sid::OwnerRights => *owner == self.user_sid(),
            Sid::CreatorOwner => false,
        }
    }

    /// The user's own SID, `UnixUser(uid)`. Windows equivalent: `TokenUser`.
    pub fn user_sid(&self) -> Sid {
        Sid::UnixUser(self.uid)
    }
}

/// Whether an ACE allows or denies.
///
/// Windows equivalent: `ACCESS_ALLOWED_ACE_TYPE` / `ACCESS_DENIED_ACE_TYPE`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AceKind {
    /// Grants the rights it names. SDDL `A`.
    Allow,
    /// Denies the rights it names. SDDL `D`.
    Deny,
}

/// ACE inheritance flags.
///
/// Windows equivalent: the `AceFlags` byte of `ACE_HEADER`. Displays as the
/// SDDL flag string (for example `OICI`); bits without an SDDL code are not shown.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct AceFlags(pub u8);

impl AceFlags {
    /// Inherited by child objects. Windows: `OBJECT_INHERIT_ACE`, SDDL `OI`.
    pub const OBJECT_INHERIT: Self = Self(0x01);
    /// Inherited by child containers. Windows: `CONTAINER_INHERIT_ACE`, SDDL `CI`.
    pub const CONTAINER_INHERIT: Self = Self(0x02);
    /// Inherited one level only. Windows: `NO_PROPAGATE_INHERIT_ACE`, SDDL `NP`.
    pub const NO_PROPAGATE_INHERIT: Self = Self(0x04);
    /// Applies only to children, never to this object. Windows: `INHERIT_ONLY_ACE`, SDDL `IO`.
    pub const INHERIT_ONLY: Self = Self(0x08);
    /// Was inherited from a parent. Windows: `INHERITED_ACE`, SDDL `ID`.
    pub const INHERITED: Self = Self(0x10);
    /// SDDL spelling of [`AceFlags::OBJECT_INHERIT`].
    pub const OI: Self = Self::OBJECT_INHERIT;
    /// SDDL spelling of [`AceFlags::CONTAINER_INHERIT`].
    pub const CI: Self = Self::CONTAINER_INHERIT;
    /// SDDL spelling of [`AceFlags::NO_PROPAGATE_INHERIT`].
    pub const NP: Self = Self::NO_PROPAGATE_INHERIT;
    /// SDDL spelling of [`AceFlags::INHERIT_ONLY`].
    pub const IO: Self = Self::INHERIT_ONLY;
    /// SDDL spelling of [`AceFlags::INHERITED`].
    pub const ID: Self = Self::INHERITED;

    /// The raw bits.
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// Whether every bit of `other` is set in `self`.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether no flag is set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The flags set in either.
    #[must_use]
    pub const fn union(self, o: Self) -> Self {
        Self(self.0 | o.0)
    }
}

impl BitOr for AceFlags {
    type Output = Self;
    fn bitor(self, rhs: Self) -> Self {
        self.union(rhs)
    }
}

impl BitOrAssign for AceFlags {
    fn bitor_assign(&mut self, rhs: Self) {
        *self = self.union(rhs);
    }
}

impl fmt::Display for AceFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&sddl::format_flags(*self))
    }
}

/// One access control entry.
///
/// Windows equivalent: `ACCESS_ALLOWED_ACE` / `ACCESS_DENIED_ACE`. Displays
/// as its SDDL ACE string, for example `(A;;GA;;;WD)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ace {
    /// Allow or deny.
    pub kind: AceKind,
    /// Inheritance flags.
    pub flags: AceFlags,
    /// The rights named, possibly including generic bits.
    pub mask: AccessMask,
    /// Whom the ACE is about.
    pub sid: Sid,
}

impl fmt::Display for Ace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&sddl::format_ace(self))
    }
}

/// A security descriptor without a SACL.
///
/// Windows equivalent: `SECURITY_DESCRIPTOR` (owner, group and DACL parts).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecurityDescriptor {
    /// The owner, who implicitly gets `READ_CONTROL | WRITE_DAC`.
    pub owner: Sid,
    /// The primary group; carried along for Windows compatibility, never consulted by access checks.
    pub group: Option<Sid>,
    /// `None` is a NULL DACL: everyone is granted everything (as on Windows).
    /// `Some(vec![])` is an empty DACL: nobody is granted anything, except
    /// the owner's implicit rights.
    pub dacl: Option<Vec<Ace>>,
    /// The DACL does not inherit from a parent. SDDL `D:P`; Windows: `SE_DACL_PROTECTED`.
    pub dacl_protected: bool,
}

/// Why an access check failed.
///
/// Windows equivalent: `AccessCheck` returning `ERROR_ACCESS_DENIED`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Denied {
    /// The mapped rights that were not granted (for a deny ACE: the undecided
    /// rights it named).
    pub missing: AccessMask,
    /// What settled the outcome.
    pub decided_by: Decider,
}

/// What settled a denied access check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decider {
    /// The deny ACE at this index into the DACL.
    Ace(usize),
    /// The ACEs ran out before every requested right was granted.
    NoGrantingAce,
    /// Nothing was requested; Windows refuses that too (`OpenMutex(0, …)` fails with `ERROR_ACCESS_DENIED`).
    NothingRequested,
    /// The DACL is empty, so only the owner's implicit rights could be granted.
    EmptyDacl,
}

impl Denied {
    /// The [`Display`](fmt::Display) sentence followed by the deciding ACE in
    /// SDDL, looked up in `sd` (the descriptor that was checked), for example
    /// `access 0x00000002 denied by ACE #1 (D;;GW;;;WD)`.
    pub fn describe(&self, sd: &SecurityDescriptor) -> String {
        let ace = match self.decided_by {
            Decider::Ace(index) => sd.dacl.as_ref().and_then(|aces| aces.get(index)),
            _ => None,
        };
        match ace {
            Some(ace) => format!("{self} {ace}"),
            None => self.to_string(),
        }
    }
}

impl fmt::Display for Denied {
    /// ACE numbers are zero-based, the same index as in [`Decider::Ace`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.decided_by {
            Decider::Ace(index) => write!(f, "access {} denied by ACE #{index}", self.missing),
            Decider::NoGrantingAce => write!(f, "no ACE grants {}", self.missing),
            Decider::NothingRequested => f.write_str("no access was requested"),
            Decider::EmptyDacl => {
                write!(f, "the DACL is empty, so nothing grants {}", self.missing)
            }
        }
    }
}

impl std::error::Error for Denied {}

/// The answer to "why may this token do what?", from [`SecurityDescriptor::explain`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Explanation {
    /// The maximum rights granted (what `MAXIMUM_ALLOWED` would yield).
    pub granted: AccessMask,
    /// The DACL is NULL, so everything is granted.
    pub null_dacl: bool,
    /// Rights granted because the token owns the object.
    pub owner_implicit: AccessMask,
    /// One step per ACE that applied to the token, in DACL order.
    pub steps: Vec<ExplainStep>,
}

/// What one applicable ACE contributed during [`SecurityDescriptor::explain`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExplainStep {
    /// Index into the DACL.
    pub ace_index: usize,
    /// The ACE as written (generic bits not mapped).
    pub ace: Ace,
    /// Mapped rights this ACE granted that nothing before it had decided.
    pub granted: AccessMask,
    /// Mapped rights this ACE denied that nothing before it had decided.
    pub denied: AccessMask,
}

/// A malformed SDDL or SID string.
///
/// Windows equivalent: `ConvertStringSecurityDescriptorToSecurityDescriptor`
/// failing with `ERROR_INVALID_PARAMETER`, but with a position and reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SddlError {
    /// Byte offset into the input where the problem is.
    pub position: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for SddlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid SDDL at byte {}: {}", self.position, self.message)
    }
}

impl std::error::Error for SddlError {}

/// The result of walking a DACL the `MAXIMUM_ALLOWED` way.
struct MaximumWalk {
    allowed: AccessMask,
    steps: Vec<ExplainStep>,
    first_relevant_deny: Option<usize>,
}

impl SecurityDescriptor {
    /// Switchboard's default for a new object: owned by the creator, primary
    /// group the creator's primary group, and a DACL granting `GENERIC_ALL`
    /// to the creator and to Administrators (root), nobody else.
    ///
    /// Windows builds the default from the creator's token default DACL,
    /// which likewise names the creator and `SYSTEM`/Administrators.
    pub fn default_for(token: &Token) -> Self {
        let allow_all =
            |sid| Ace { kind: AceKind::Allow, flags: AceFlags::default(), mask: AccessMask::GENERIC_ALL, sid };
        Self {
            owner: token.user_sid(),
            group: Some(Sid::UnixGroup(token.gid)),
            dacl: Some(vec![allow_all(token.user_sid()), allow_all(Sid::Administrators)]),
            dacl_protected: false,
        }
    }

    /// Parses SDDL such as `O:BAG:BAD:P(A;;GA;;;SY)(A;OICI;0x1f0003;;;S-1-22-1-1000)`.
    ///
    /// Windows equivalent: `ConvertStringSecurityDescriptorToSecurityDescriptor`.
    ///
    /// * `O:`, `G:` and `D:` may come in any order, each at most once, with
    ///   whitespace between components and between ACEs.
    /// * A missing `O:` takes `owner_if_missing`; a missing `G:` gives `None`.
    /// * A missing `D:` gives a NULL DACL (everyone granted everything), as
    ///   a Windows descriptor without a DACL does; write `D:` for an empty one.
    /// * `D:` flags: `P` is kept, `AI` and `AR` are accepted and ignored,
    ///   `NO_ACCESS_CONTROL` is a NULL DACL.
    /// * ACEs are `(type;flags;rights;;;sid)`: type `A` or `D`; flags from
    ///   `OI CI NP IO ID`; rights as `0x` hex, decimal, or two-letter codes
    ///   (`GA GR GW GX RC SD WD WO FA FR FW FX KA KR KW KX`); the two object
    ///   GUID fields must be empty.
    /// * A SACL (`S:`) is rejected: Switchboard has no auditing or labels.
    pub fn parse_sddl(s: &str, owner_if_missing: &Sid) -> Result<Self, SddlError> {
        sddl::parse_descriptor(s, owner_if_missing)
    }

    /// Formats as SDDL, `O:<sid>G:<sid>D:<flags>(ACE)…`, using two-letter
    /// SID aliases where they exist and generic right codes when a mask is
    /// made only of generic bits (`0x…` lower-case hex otherwise).
    /// [`SecurityDescriptor::parse_sddl`] reads the result back unchanged.
    ///
    /// Windows equivalent: `ConvertSecurityDescriptorToStringSecurityDescriptor`.
    pub fn to_sddl(&self) -> String {
        sddl::format_descriptor(self)
    }

    /// Decides whether `token` may have `desired` access.
    ///
    /// Windows equivalent: `AccessCheck`. Generic bits, in `desired` and in
    /// the ACEs, are mapped through `mapping` first. A NULL DACL grants
    /// everything. The owner is implicitly granted `READ_CONTROL |
    /// WRITE_DAC` unless an applicable Owner Rights ACE is present. ACEs are
    /// walked in order, skipping inherit-only ones and those the token does
    /// not hold: a deny ACE naming any still-undecided right denies, an allow
    /// ACE grants what it names.
    ///
    /// With `MAXIMUM_ALLOWED`, the result is every right some ACE allowed
    /// before any ACE denied it, and it must be non-empty and cover any other
    /// requested rights. Otherwise `Ok` holds exactly the mapped `desired`.
    pub fn access_check(
        &self,
        token: &Token,
        desired: AccessMask,
        mapping: &GenericMapping,
    ) -> Result<AccessMask, Denied> {
        let mapped = mapping.map(desired);
        let maximum = mapped.contains(AccessMask::MAXIMUM_ALLOWED);
        let wanted = mapped.difference(AccessMask::MAXIMUM_ALLOWED);
        // Checked before the DACL because Windows refuses an empty request
        // even when the DACL is NULL.
        if wanted.is_empty() && !maximum {
            return Err(Denied { missing: AccessMask::default(), decided_by: Decider::NothingRequested });
        }
        let Some(dacl) = &self.dacl else {
            return Ok(if maximum { wanted | mapping.all } else { wanted });
        };
        if maximum {
            self.check_maximum(dacl, token, wanted, mapping)
        } else {
            self.check_specific(dacl, token, wanted, mapping)
        }
    }

    /// Explains the maximum rights `token` gets and which ACEs decided them,
    /// for diagnostics ("why may user U do what?").
    ///
    /// `granted` equals what `access_check` with `MAXIMUM_ALLOWED` grants
    /// (empty where that check is denied).
    pub fn explain(&self, token: &Token, mapping: &GenericMapping) -> Explanation {
        let owner_implicit = self.owner_implicit(token);
        match &self.dacl {
            None => Explanation { granted: mapping.all, null_dacl: true, owner_implicit, steps: Vec::new() },
            Some(dacl) => {
                let walk = self.walk_maximum(dacl, token, AccessMask::default(), mapping);
                Explanation { granted: walk.allowed, null_dacl: false, owner_implicit, steps: walk.steps }
            }
        }
    }

    /// The rights ownership grants before any ACE is read.
    fn owner_implicit(&self, token: &Token) -> AccessMask {
        if token.user_sid() != self.owner {
            return AccessMask::default();
        }
        // An Owner Rights ACE lets an administrator restrict what owners may
        // do to their own objects; that is its whole purpose on Windows.
        let overridden = self
            .dacl
            .iter()
            .flatten()
            .any(|ace| ace.sid == Sid::OwnerRights && !ace.flags.contains(AceFlags::INHERIT_ONLY));
        if overridden { AccessMask::default() } else { AccessMask::READ_CONTROL | AccessMask::WRITE_DAC }
    }

    /// The ACEs that take part in a check, with their masks mapped.
    fn applicable<'a>(
        &'a self,
        dacl: &'a [Ace],
        token: &'a Token,
        mapping: &'a GenericMapping,
    ) -> impl Iterator<Item = (usize, &'a Ace, AccessMask)> {
        dacl.iter()
            .enumerate()
            .filter(|(_, ace)| !ace.flags.contains(AceFlags::INHERIT_ONLY) && token.matches(&ace.sid, &self.owner))
            .map(|(index, ace)| {
                // MAXIMUM_ALLOWED is a request, not a right; an ACE naming it
                // must not make it show up in a granted mask.
                let mask = mapping.map(ace.mask).difference(AccessMask::MAXIMUM_ALLOWED);
                (index, ace, mask)
            })
    }

    fn check_specific(
        &self,
        dacl: &[Ace],
        token: &Token,
        wanted: AccessMask,
        mapping: &GenericMapping,
    ) -> Result<AccessMask, Denied> {
        let mut granted = self.owner_implicit(token) & wanted;
        for (index, ace, mask) in self.applicable(dacl, token, mapping) {
            if granted.contains(wanted) {
                break;
            }
            let named = mask & wanted.difference(granted);
            match ace.kind {
                AceKind::Deny if !named.is_empty() => {
                    return Err(Denied { missing: named, decided_by: Decider::Ace(index) });
                }
                AceKind::Deny => {}
                AceKind::Allow => granted |= named,
            }
        }
        if granted.contains(wanted) {
            return Ok(wanted);
        }
        Err(Denied {
            missing: wanted.difference(granted),
            decided_by: if dacl.is_empty() { Decider::EmptyDacl } else { Decider::NoGrantingAce },
        })
    }

    fn check_maximum(
        &self,
        dacl: &[Ace],
        token: &Token,
        wanted: AccessMask,
        mapping: &GenericMapping,
    ) -> Result<AccessMask, Denied> {
        let walk = self.walk_maximum(dacl, token, wanted, mapping);
        let missing = wanted.difference(walk.allowed);
        if missing.is_empty() && !walk.allowed.is_empty() {
            return Ok(walk.allowed);
        }
        let fallback = if dacl.is_empty() { Decider::EmptyDacl } else { Decider::NoGrantingAce };
        Err(Denied {
            // Asking only for MAXIMUM_ALLOWED and getting nothing means every
            // right of the type was missing.
            missing: if missing.is_empty() { mapping.all } else { missing },
            decided_by: walk.first_relevant_deny.map_or(fallback, Decider::Ace),
        })
    }

    /// Walks the whole DACL, letting each right be decided by the first ACE
    /// that names it. `wanted` only selects which deny ACE gets the blame.
    fn walk_maximum(&self, dacl: &[Ace], token: &Token, wanted: AccessMask, mapping: &GenericMapping) -> MaximumWalk {
        let implicit = self.owner_implicit(token);
        let blame_for = if wanted.is_empty() { !AccessMask::default() } else { wanted };
        let mut walk = MaximumWalk { allowed: implicit, steps: Vec::new(), first_relevant_deny: None };
        let mut denied = AccessMask::default();
        for (index, ace, mask) in self.applicable(dacl, token, mapping) {
            let fresh = mask.difference(walk.allowed | denied);
            let (granted_here, denied_here) = match ace.kind {
                AceKind::Allow => (fresh, AccessMask::default()),
                AceKind::Deny => (AccessMask::default(), fresh),
            };
            walk.allowed |= granted_here;
            denied |= denied_here;
            if walk.first_relevant_deny.is_none() && denied_here.intersects(blame_for) {
                walk.first_relevant_deny = Some(index);
            }
            walk.steps.push(ExplainStep {
                ace_index: index,
                ace: ace.clone(),
                granted: granted_here,
                denied: denied_here,
            });
        }
        walk
    }
}

#[cfg(test)]
mod tests;
