//! SDDL (Security Descriptor Definition Language) parsing and formatting.
//!
//! Only the subset Switchboard can enforce is accepted: owner, group and a
//! DACL of plain allow/deny ACEs naming SIDs from [`Sid`]. Anything else is
//! rejected with a position and a reason rather than silently dropped,
//! because a dropped deny ACE would widen access.
//!
//! The parser works on byte offsets and rejects non-ASCII input up front;
//! every slice still goes through `str::get` so that no input can panic it.

use crate::access::{file, key, standard};
use crate::security::{AccessMask, Ace, AceFlags, AceKind, SddlError, SecurityDescriptor, Sid};

/// Two-letter access right codes, in the order they are tried.
const RIGHT_CODES: [(&str, AccessMask); 16] = [
    ("GA", standard::GENERIC_ALL),
    ("GR", standard::GENERIC_READ),
    ("GW", standard::GENERIC_WRITE),
    ("GX", standard::GENERIC_EXECUTE),
    ("RC", standard::READ_CONTROL),
    ("SD", standard::DELETE),
    ("WD", standard::WRITE_DAC),
    ("WO", standard::WRITE_OWNER),
    ("FA", file::FILE_ALL_ACCESS),
    ("FR", file::FILE_GENERIC_READ),
    ("FW", file::FILE_GENERIC_WRITE),
    ("FX", file::FILE_GENERIC_EXECUTE),
    ("KA", key::KEY_ALL_ACCESS),
    ("KR", key::KEY_READ),
    ("KW", key::KEY_WRITE),
    ("KX", key::KEY_EXECUTE),
];

/// The generic codes, in the order `to_sddl` writes them.
const GENERIC_CODES: [(&str, AccessMask); 4] = [
    ("GA", AccessMask::GENERIC_ALL),
    ("GR", AccessMask::GENERIC_READ),
    ("GW", AccessMask::GENERIC_WRITE),
    ("GX", AccessMask::GENERIC_EXECUTE),
];

const FLAG_CODES: [(&str, AceFlags); 5] = [
    ("OI", AceFlags::OBJECT_INHERIT),
    ("CI", AceFlags::CONTAINER_INHERIT),
    ("NP", AceFlags::NO_PROPAGATE_INHERIT),
    ("IO", AceFlags::INHERIT_ONLY),
    ("ID", AceFlags::INHERITED),
];

/// The SIDs that have an alias; [`Sid::alias`] is the single source of the spellings.
const ALIASED_SIDS: [Sid; 5] = [Sid::World, Sid::CreatorOwner, Sid::OwnerRights, Sid::LocalSystem, Sid::Administrators];

const NO_ACCESS_CONTROL: &str = "NO_ACCESS_CONTROL";

fn error(position: usize, message: impl Into<String>) -> SddlError {
    SddlError { position, message: message.into() }
}

/// Moves an error found in a substring to its place in the whole input.
fn shifted(by: usize) -> impl Fn(SddlError) -> SddlError {
    move |e| SddlError { position: e.position + by, ..e }
}

/// Parses a SID alias or `S-1-…` string; positions are relative to `text`.
pub(crate) fn parse_sid(text: &str) -> Result<Sid, SddlError> {
    if let Some(sid) = ALIASED_SIDS.iter().find(|sid| sid.alias() == Some(text)) {
        return Ok(sid.clone());
    }
    let prefix = "S-1-";
    let rest = match (text.get(..prefix.len()), text.get(prefix.len()..)) {
        (Some(head), Some(rest)) if head.eq_ignore_ascii_case(prefix) => rest,
        _ => {
            return Err(error(0, format!("unknown SID {text:?}: expected WD, CO, OW, SY, BA or an S-1-… string")));
        }
    };
    // Longest supported form is S-1-5-32-544 / S-1-22-1-<id>: three numbers after "S-1-".
    let mut numbers = [0_u32; 3];
    let mut count = 0;
    let mut offset = prefix.len();
    for part in rest.split('-') {
        let Some(slot) = numbers.get_mut(count) else {
            return Err(error(offset, format!("SID {text:?} has more parts than any supported SID")));
        };
        *slot = parse_number(part, 10).map_err(|m| error(offset, format!("SID part {m}")))?;
        count += 1;
        offset += part.len() + 1;
    }
    match numbers.get(..count).unwrap_or_default() {
        [1, 0] => Ok(Sid::World),
        [3, 0] => Ok(Sid::CreatorOwner),
        [3, 4] => Ok(Sid::OwnerRights),
        [5, 18] => Ok(Sid::LocalSystem),
        [5, 32, 544] => Ok(Sid::Administrators),
        [22, 1, uid] => Ok(Sid::UnixUser(*uid)),
        [22, 2, gid] => Ok(Sid::UnixGroup(*gid)),
        _ => Err(error(0, format!("SID {text} is not one Switchboard can meet on Linux"))),
    }
}

/// Parses an unsigned 32-bit number; the error message starts with the offending text.
fn parse_number(digits: &str, radix: u32) -> Result<u32, String> {
    // Checked by hand because `from_str_radix` would also accept a leading '+'.
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        let kind = if radix == 16 { "hexadecimal" } else { "decimal" };
        return Err(format!("{digits:?} is not a {kind} number"));
    }
    u32::from_str_radix(digits, radix).map_err(|_| format!("{digits:?} does not fit in 32 bits"))
}

/// Splits `text` into two-character codes with their offsets; an odd tail
/// comes out as a one-character code so it gets reported.
fn two_letter_codes(text: &str) -> impl Iterator<Item = (usize, &str)> {
    (0..text.len()).step_by(2).map(move |i| (i, text.get(i..(i + 2).min(text.len())).unwrap_or_default()))
}

fn parse_flags(text: &str) -> Result<AceFlags, SddlError> {
    let mut flags = AceFlags::default();
    for (position, code) in two_letter_codes(text) {
        let Some((_, flag)) = FLAG_CODES.iter().find(|(c, _)| *c == code) else {
            return Err(error(position, format!("unknown ACE flag {code:?}: expected OI, CI, NP, IO or ID")));
        };
        flags |= *flag;
    }
    Ok(flags)
}

fn parse_rights(text: &str) -> Result<AccessMask, SddlError> {
    // Windows accepts an empty rights field and reads it as no rights.
    if text.is_empty() {
        return Ok(AccessMask::default());
    }
    if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        return parse_number(hex, 16).map(AccessMask).map_err(|m| error(2, format!("access mask {m}")));
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return parse_number(text, 10).map(AccessMask).map_err(|m| error(0, format!("access mask {m}")));
    }
    let mut mask = AccessMask::default();
    for (position, code) in two_letter_codes(text) {
        let Some((_, bits)) = RIGHT_CODES.iter().find(|(c, _)| *c == code) else {
            return Err(error(
                position,
                format!("unknown access right {code:?}: expected 0x… or codes such as GA, GR, RC, FA"),
            ));
        };
        mask |= *bits;
    }
    Ok(mask)
}

/// Parses the inside of `( … )`; positions are relative to `body`.
fn parse_ace_body(body: &str) -> Result<Ace, SddlError> {
    let mut fields = [(0_usize, ""); 6];
    let mut count = 0;
    let mut offset = 0;
    for part in body.split(';') {
        if let Some(slot) = fields.get_mut(count) {
            *slot = (offset, part);
        }
        count += 1;
        offset += part.len() + 1;
    }
    if count != 6 {
        return Err(error(0, format!("an ACE has 6 fields separated by ';', found {count}")));
    }
    let [(_, kind), (flags_at, flags), (rights_at, rights), guid, inherit_guid, (sid_at, sid)] = fields;
    let kind = match kind {
        "A" => AceKind::Allow,
        "D" => AceKind::Deny,
        other => {
            return Err(error(0, format!("ACE type {other:?} is not supported: use A (allow) or D (deny)")));
        }
    };
    let flags = parse_flags(flags).map_err(shifted(flags_at))?;
    let mask = parse_rights(rights).map_err(shifted(rights_at))?;
    for (at, text) in [guid, inherit_guid] {
        if !text.is_empty() {
            return Err(error(at, "object ACEs are not supported: the GUID fields must be empty"));
        }
    }
    let sid = parse_sid(sid).map_err(shifted(sid_at))?;
    Ok(Ace { kind, flags, mask, sid })
}

/// The parsed `D:` component.
struct Dacl {
    aces: Option<Vec<Ace>>,
    protected: bool,
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn rest(&self) -> &'a str {
        self.text.get(self.pos..).unwrap_or_default()
    }

    fn peek(&self, ahead: usize) -> Option<u8> {
        self.text.as_bytes().get(self.pos + ahead).copied()
    }

    fn skip_whitespace(&mut self) {
        while self.peek(0).is_some_and(|b| b.is_ascii_whitespace()) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, word: &str) -> bool {
        let found = self.rest().starts_with(word);
        if found {
            self.pos += word.len();
        }
        found
    }

    /// Reads the next `X:` tag, or `None` at the end of input.
    fn next_tag(&mut self) -> Result<Option<u8>, SddlError> {
        self.skip_whitespace();
        let Some(tag) = self.peek(0) else {
            return Ok(None);
        };
        if self.peek(1) != Some(b':') {
            return Err(error(self.pos, "expected a component such as \"O:\", \"G:\" or \"D:\""));
        }
        self.pos += 2;
        Ok(Some(tag))
    }

    /// Reads a SID value, which SDDL does not delimit: it ends at whitespace,
    /// at a '(' or just before the next `X:` tag.
    fn sid_value(&mut self) -> Result<Sid, SddlError> {
        let start = self.pos;
        while let Some(b) = self.peek(0) {
            if b.is_ascii_whitespace() || b == b'(' || self.peek(1) == Some(b':') {
                break;
            }
            self.pos += 1;
        }
        if self.pos == start {
            return Err(error(start, "missing SID"));
        }
        let text = self.text.get(start..self.pos).unwrap_or_default();
        parse_sid(text).map_err(shifted(start))
    }

    fn dacl(&mut self) -> Result<Dacl, SddlError> {
        let mut protected = false;
        let mut null = false;
        // Auto-inheritance is not modelled, but AI and AR are accepted so
        // that SDDL copied from Windows still parses.
        loop {
            if self.eat(NO_ACCESS_CONTROL) {
                null = true;
            } else if self.eat("P") {
                protected = true;
            } else if !(self.eat("AI") || self.eat("AR")) {
                break;
            }
        }
        let mut aces = Vec::new();
        loop {
            self.skip_whitespace();
            if self.peek(0) != Some(b'(') {
                break;
            }
            if null {
                return Err(error(self.pos, "a NO_ACCESS_CONTROL DACL cannot also have ACEs"));
            }
            aces.push(self.ace()?);
        }
        Ok(Dacl { aces: (!null).then_some(aces), protected })
    }

    fn ace(&mut self) -> Result<Ace, SddlError> {
        let open = self.pos;
        let body_start = open + 1;
        let body_rest = self.text.get(body_start..).unwrap_or_default();
        let Some(length) = body_rest.find(')') else {
            return Err(error(open, "unterminated ACE: missing ')'"));
        };
        self.pos = body_start + length + 1;
        let body = body_rest.get(..length).unwrap_or_default();
        parse_ace_body(body).map_err(shifted(body_start))
    }
}

fn ensure_unset<T>(slot: Option<&T>, position: usize, tag: char) -> Result<(), SddlError> {
    match slot {
        Some(_) => Err(error(position, format!("component \"{tag}:\" appears twice"))),
        None => Ok(()),
    }
}

/// Parses a whole security descriptor; see [`SecurityDescriptor::parse_sddl`].
pub(crate) fn parse_descriptor(text: &str, owner_if_missing: &Sid) -> Result<SecurityDescriptor, SddlError> {
    if let Some(position) = text.bytes().position(|b| !b.is_ascii()) {
        return Err(error(position, "non-ASCII character: SDDL is plain ASCII"));
    }
    let mut parser = Parser { text, pos: 0 };
    let mut owner = None;
    let mut group = None;
    let mut dacl = None;
    while let Some(tag) = parser.next_tag()? {
        let at = parser.pos - 2;
        match tag {
            b'O' => {
                ensure_unset(owner.as_ref(), at, 'O')?;
                owner = Some(parser.sid_value()?);
            }
            b'G' => {
                ensure_unset(group.as_ref(), at, 'G')?;
                group = Some(parser.sid_value()?);
            }
            b'D' => {
                ensure_unset(dacl.as_ref(), at, 'D')?;
                dacl = Some(parser.dacl()?);
            }
            b'S' => {
                return Err(error(
                    at,
                    "SACL component \"S:\" is not supported: Switchboard has no auditing or integrity labels",
                ));
            }
            other => {
                let shown = char::from(other).escape_default();
                return Err(error(at, format!("unknown component \"{shown}:\": expected O:, G: or D:")));
            }
        }
    }
    let (dacl, dacl_protected) = dacl.map_or((None, false), |d| (d.aces, d.protected));
    Ok(SecurityDescriptor { owner: owner.unwrap_or_else(|| owner_if_missing.clone()), group, dacl, dacl_protected })
}

fn sid_to_sddl(sid: &Sid) -> String {
    sid.alias().map_or_else(|| sid.to_string(), str::to_owned)
}

pub(crate) fn format_flags(flags: AceFlags) -> String {
    FLAG_CODES.iter().filter(|(_, flag)| flags.contains(*flag)).map(|(code, _)| *code).collect()
}

fn format_rights(mask: AccessMask) -> String {
    let generic_only = GENERIC_CODES.iter().fold(mask, |rest, (_, bit)| rest.difference(*bit));
    if mask.is_empty() || !generic_only.is_empty() {
        return format!("{:#x}", mask.bits());
    }
    GENERIC_CODES.iter().filter(|(_, bit)| mask.contains(*bit)).map(|(code, _)| *code).collect()
}

pub(crate) fn format_ace(ace: &Ace) -> String {
    let kind = match ace.kind {
        AceKind::Allow => "A",
        AceKind::Deny => "D",
    };
    format!("({kind};{};{};;;{})", format_flags(ace.flags), format_rights(ace.mask), sid_to_sddl(&ace.sid))
}

/// Formats a descriptor; see [`SecurityDescriptor::to_sddl`].
pub(crate) fn format_descriptor(sd: &SecurityDescriptor) -> String {
    let mut out = format!("O:{}", sid_to_sddl(&sd.owner));
    if let Some(group) = &sd.group {
        out.push_str("G:");
        out.push_str(&sid_to_sddl(group));
    }
    out.push_str("D:");
    if sd.dacl_protected {
        out.push('P');
    }
    match &sd.dacl {
        None => out.push_str(NO_ACCESS_CONTROL),
        Some(aces) => out.extend(aces.iter().map(format_ace)),
    }
    out
}

#[cfg(test)]
mod tests;
