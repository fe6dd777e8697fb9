//! Access-check behaviour tests; SDDL syntax tests live in `sddl.rs`.

use super::*;
use crate::access::event::{
    self, EVENT_ALL_ACCESS as EVENT_ALL, EVENT_MODIFY_STATE as MODIFY, EVENT_QUERY_STATE as QUERY,
};

const RC: AccessMask = AccessMask::READ_CONTROL;
const WD: AccessMask = AccessMask::WRITE_DAC;
const MAX: AccessMask = AccessMask::MAXIMUM_ALLOWED;
const OWNER_UID: u32 = 500;

fn event() -> GenericMapping {
    event::MAPPING
}

fn user(uid: u32) -> Token {
    Token { uid, gid: uid, groups: vec![] }
}

fn sd(sddl: &str) -> SecurityDescriptor {
    SecurityDescriptor::parse_sddl(sddl, &Sid::UnixUser(OWNER_UID)).unwrap_or_else(|e| panic!("{sddl:?}: {e}"))
}

fn check(sddl: &str, token: &Token, desired: AccessMask) -> Result<AccessMask, Denied> {
    sd(sddl).access_check(token, desired, &event())
}

fn denied(missing: AccessMask, decided_by: Decider) -> Result<AccessMask, Denied> {
    Err(Denied { missing, decided_by })
}

#[test]
fn access_mask_displays_as_padded_hex() {
    assert_eq!(AccessMask(2).to_string(), "0x00000002");
    assert_eq!(AccessMask::GENERIC_READ.to_string(), "0x80000000");
}

#[test]
fn access_mask_set_operations() {
    let m = RC | QUERY;
    assert!(m.contains(QUERY) && m.contains(AccessMask(0)) && !m.contains(RC | MODIFY));
    assert!(m.intersects(RC | MODIFY) && !m.intersects(MODIFY));
    assert_eq!(m.difference(RC), QUERY);
    assert_eq!(m & (RC | MODIFY), RC);
    assert_eq!((!m) & m, AccessMask::default());
    assert!(AccessMask::default().is_empty());
    let mut n = QUERY;
    n |= MODIFY;
    assert_eq!(n.bits(), 3);
    assert_eq!(QUERY.union(MODIFY), n);
}

#[test]
fn generic_mapping_replaces_generic_bits_and_keeps_the_rest() {
    let m = event();
    assert_eq!(m.map(AccessMask::GENERIC_READ), RC | QUERY);
    assert_eq!(m.map(AccessMask::GENERIC_WRITE | AccessMask::GENERIC_EXECUTE), RC | MODIFY | AccessMask::SYNCHRONIZE);
    assert_eq!(m.map(AccessMask::GENERIC_ALL | MAX), EVENT_ALL | MAX);
    assert_eq!(m.map(AccessMask::DELETE), AccessMask::DELETE);
}

#[test]
fn world_matches_everyone_and_creator_owner_no_one() {
    let owner = Sid::UnixUser(0);
    for token in [user(0), user(1000)] {
        assert!(token.matches(&Sid::World, &owner));
        assert!(!token.matches(&Sid::CreatorOwner, &owner));
    }
}

#[test]
fn root_matches_builtin_administrators() {
    let owner = Sid::UnixUser(1);
    assert!(user(0).matches(&Sid::Administrators, &owner));
    assert!(user(0).matches(&Sid::LocalSystem, &owner));
    assert!(!user(1000).matches(&Sid::Administrators, &owner));
    assert!(!user(1000).matches(&Sid::LocalSystem, &owner));
    assert_eq!(check("D:(A;;GA;;;BA)", &user(0), EVENT_ALL), Ok(EVENT_ALL));
    assert!(check("D:(A;;GA;;;BA)", &user(1000), QUERY).is_err());
}

#[test]
fn group_sid_matches_supplementary_groups() {
    let owner = Sid::UnixUser(1);
    let token = Token { uid: 1000, gid: 100, groups: vec![27, 44] };
    assert!(token.matches(&Sid::UnixGroup(100), &owner));
    assert!(token.matches(&Sid::UnixGroup(44), &owner));
    assert!(!token.matches(&Sid::UnixGroup(1000), &owner));
    assert!(!token.matches(&Sid::UnixUser(100), &owner));
    assert_eq!(check("D:(A;;GR;;;S-1-22-2-27)", &token, QUERY), Ok(QUERY));
}

#[test]
fn owner_rights_matches_only_the_owner() {
    let owner = Sid::UnixUser(7);
    assert!(user(7).matches(&Sid::OwnerRights, &owner));
    assert!(!user(8).matches(&Sid::OwnerRights, &owner));
    assert!(!user(0).matches(&Sid::OwnerRights, &owner));
    assert_eq!(user(7).user_sid(), owner);
}

#[test]
fn null_dacl_grants_everything() {
    let null = "O:BAD:NO_ACCESS_CONTROL";
    assert_eq!(check(null, &user(1000), AccessMask::GENERIC_ALL), Ok(EVENT_ALL));
    assert_eq!(check(null, &user(1000), AccessMask(0x8000)), Ok(AccessMask(0x8000)));
    assert_eq!(check(null, &user(1000), MAX), Ok(EVENT_ALL));
    assert_eq!(check(null, &user(1000), MAX | AccessMask::DELETE), Ok(EVENT_ALL));
}

#[test]
fn nothing_requested_is_denied_even_under_a_null_dacl() {
    for sddl in ["D:NO_ACCESS_CONTROL", "D:(A;;GA;;;WD)"] {
        let result = check(sddl, &user(1000), AccessMask(0));
        assert_eq!(result, denied(AccessMask(0), Decider::NothingRequested));
    }
}

#[test]
fn empty_dacl_denies_all_but_owner_implicit_rights() {
    let owner = user(OWNER_UID);
    assert_eq!(check("D:", &owner, RC | WD), Ok(RC | WD));
    assert_eq!(check("D:", &owner, MAX), Ok(RC | WD));
    assert_eq!(check("D:", &owner, RC | QUERY), denied(QUERY, Decider::EmptyDacl));
    assert_eq!(check("D:", &user(1000), RC), denied(RC, Decider::EmptyDacl));
    assert_eq!(check("D:", &user(1000), MAX), denied(EVENT_ALL, Decider::EmptyDacl));
    // Root gets no special pass: only ACEs naming Administrators help it.
    assert_eq!(check("D:", &user(0), QUERY), denied(QUERY, Decider::EmptyDacl));
}

#[test]
fn deny_ace_before_allow_wins() {
    let sddl = "D:(D;;GW;;;WD)(A;;GA;;;WD)";
    assert_eq!(check(sddl, &user(1000), MODIFY), denied(MODIFY, Decider::Ace(0)));
    // GW maps to READ_CONTROL too, so the deny covers it as well.
    assert_eq!(check(sddl, &user(1000), RC), denied(RC, Decider::Ace(0)));
    assert_eq!(check(sddl, &user(1000), QUERY), Ok(QUERY));
}

#[test]
fn allow_before_deny_wins() {
    let sddl = "D:(A;;GA;;;WD)(D;;GW;;;WD)";
    assert_eq!(check(sddl, &user(1000), AccessMask::GENERIC_WRITE), Ok(RC | MODIFY));
}

#[test]
fn deny_only_blocks_rights_not_yet_granted() {
    let sddl = "D:(A;;0x1;;;WD)(D;;0x3;;;WD)(A;;0x2;;;WD)";
    assert_eq!(check(sddl, &user(1000), QUERY), Ok(QUERY));
    assert_eq!(check(sddl, &user(1000), QUERY | MODIFY), denied(MODIFY, Decider::Ace(1)));
}

#[test]
fn generic_read_is_mapped_before_check() {
    let read = AccessMask::GENERIC_READ;
    assert_eq!(check("D:(A;;0x20001;;;WD)", &user(1000), read), Ok(RC | QUERY));
    assert_eq!(check("D:(A;;0x1;;;WD)", &user(1000), read), denied(RC, Decider::NoGrantingAce));
}

#[test]
fn generic_ace_masks_are_mapped_before_check() {
    assert_eq!(check("D:(A;;GR;;;WD)", &user(1000), QUERY), Ok(QUERY));
    assert_eq!(check("D:(A;;GR;;;WD)", &user(1000), MODIFY), denied(MODIFY, Decider::NoGrantingAce));
    assert_eq!(check("D:(D;;GA;;;WD)(A;;0x3;;;WD)", &user(1000), QUERY), denied(QUERY, Decider::Ace(0)));
}

#[test]
fn inherit_only_aces_are_skipped() {
    assert_eq!(check("D:(A;OICIIO;GA;;;WD)", &user(1000), QUERY), denied(QUERY, Decider::NoGrantingAce));
    assert_eq!(check("D:(D;IO;GA;;;WD)(A;OI;GA;;;WD)", &user(1000), QUERY), Ok(QUERY));
}

#[test]
fn aces_for_other_sids_are_skipped() {
    let sddl = "D:(D;;GA;;;S-1-22-1-1)(D;;GA;;;S-1-22-2-5)(A;;GA;;;S-1-22-1-1000)";
    assert_eq!(check(sddl, &user(1000), EVENT_ALL), Ok(EVENT_ALL));
    assert_eq!(check(sddl, &user(1001), QUERY), denied(QUERY, Decider::NoGrantingAce));
}

#[test]
fn partial_grants_report_the_missing_rights() {
    let result = check("D:(A;;0x1;;;WD)(A;;SD;;;WD)", &user(1000), QUERY | MODIFY | AccessMask::DELETE);
    assert_eq!(result, denied(MODIFY, Decider::NoGrantingAce));
}

#[test]
fn maximum_allowed_collects_allowed_bits() {
    let sddl = "D:(A;;GR;;;WD)(A;;0x2;;;S-1-22-2-100)";
    let member = Token { uid: 1000, gid: 1000, groups: vec![100] };
    assert_eq!(check(sddl, &member, MAX), Ok(RC | QUERY | MODIFY));
    assert_eq!(check(sddl, &user(1000), MAX), Ok(RC | QUERY));
    assert_eq!(check(sddl, &user(OWNER_UID), MAX), Ok(RC | QUERY | WD));
}

#[test]
fn maximum_allowed_excludes_bits_denied_first() {
    let deny_first = "D:(D;;0x2;;;WD)(A;;GA;;;WD)";
    assert_eq!(check(deny_first, &user(1000), MAX), Ok(EVENT_ALL.difference(MODIFY)));
    assert_eq!(check("D:(A;;GA;;;WD)(D;;0x2;;;WD)", &user(1000), MAX), Ok(EVENT_ALL));
}

#[test]
fn maximum_allowed_must_cover_other_requested_bits() {
    let sddl = "D:(D;;0x2;;;WD)(A;;GA;;;WD)";
    assert_eq!(check(sddl, &user(1000), MAX | MODIFY), denied(MODIFY, Decider::Ace(0)));
    assert_eq!(check(sddl, &user(1000), MAX | QUERY), Ok(EVENT_ALL.difference(MODIFY)));
    assert_eq!(check("D:(A;;0x1;;;WD)", &user(1000), MAX | MODIFY), denied(MODIFY, Decider::NoGrantingAce));
}

#[test]
fn maximum_allowed_with_nothing_granted_is_denied() {
    assert_eq!(check("D:(A;;GA;;;BA)", &user(1000), MAX), denied(EVENT_ALL, Decider::NoGrantingAce));
    assert_eq!(check("D:(D;;GA;;;WD)(A;;GA;;;WD)", &user(1000), MAX), denied(EVENT_ALL, Decider::Ace(0)));
}

#[test]
fn owner_implicit_rights_survive_deny_aces() {
    let owner = user(OWNER_UID);
    assert_eq!(check("D:(D;;GA;;;WD)", &owner, WD | RC), Ok(WD | RC));
    assert_eq!(check("D:(D;;GA;;;WD)", &owner, WD | QUERY), denied(QUERY, Decider::Ace(0)));
}

#[test]
fn owner_rights_ace_suppresses_implicit_owner_rights() {
    let sddl = "D:(A;;0x1;;;OW)";
    let owner = user(OWNER_UID);
    assert_eq!(check(sddl, &owner, RC), denied(RC, Decider::NoGrantingAce));
    assert_eq!(check(sddl, &owner, QUERY), Ok(QUERY));
    assert_eq!(check(sddl, &owner, MAX), Ok(QUERY));
    assert_eq!(check(sddl, &user(1000), QUERY), denied(QUERY, Decider::NoGrantingAce));
    assert_eq!(sd(sddl).explain(&owner, &event()).owner_implicit, AccessMask(0));
}

#[test]
fn inherit_only_owner_rights_ace_keeps_implicit_owner_rights() {
    let sddl = "D:(A;IO;0x1;;;OW)";
    let owner = user(OWNER_UID);
    assert_eq!(check(sddl, &owner, RC), Ok(RC));
    assert_eq!(check(sddl, &owner, QUERY), denied(QUERY, Decider::NoGrantingAce));
}

#[test]
fn default_for_grants_creator_and_root_only() {
    let creator = Token { uid: 1000, gid: 100, groups: vec![] };
    let sd = SecurityDescriptor::default_for(&creator);
    assert_eq!(sd.owner, Sid::UnixUser(1000));
    assert_eq!(sd.group, Some(Sid::UnixGroup(100)));
    assert_eq!(sd.to_sddl(), "O:S-1-22-1-1000G:S-1-22-2-100D:(A;;GA;;;S-1-22-1-1000)(A;;GA;;;BA)");
    let all = AccessMask::GENERIC_ALL;
    assert_eq!(sd.access_check(&creator, all, &event()), Ok(EVENT_ALL));
    assert_eq!(sd.access_check(&user(0), all, &event()), Ok(EVENT_ALL));
    let same_group = Token { uid: 1001, gid: 100, groups: vec![100] };
    assert_eq!(sd.access_check(&same_group, QUERY, &event()), denied(QUERY, Decider::NoGrantingAce));
}

#[test]
fn denied_reads_as_a_sentence() {
    let by_ace = Denied { missing: MODIFY, decided_by: Decider::Ace(1) };
    assert_eq!(by_ace.to_string(), "access 0x00000002 denied by ACE #1");
    let sddl = sd("D:(A;;0x1;;;WD)(D;;GW;;;WD)");
    assert_eq!(by_ace.describe(&sddl), "access 0x00000002 denied by ACE #1 (D;;GW;;;WD)");
    let none = Denied { missing: MODIFY, decided_by: Decider::NoGrantingAce };
    assert_eq!(none.to_string(), "no ACE grants 0x00000002");
    assert_eq!(none.describe(&sddl), "no ACE grants 0x00000002");
    let empty = Denied { missing: QUERY, decided_by: Decider::EmptyDacl };
    assert_eq!(empty.to_string(), "the DACL is empty, so nothing grants 0x00000001");
    let nothing = Denied { missing: AccessMask(0), decided_by: Decider::NothingRequested };
    assert_eq!(nothing.to_string(), "no access was requested");
}

#[test]
fn explain_lists_each_applicable_ace() {
    let sddl = sd("D:(D;;0x2;;;WD)(A;;GA;;;WD)(A;IO;GA;;;WD)(A;;GA;;;S-1-22-1-9)(A;;0x1;;;WD)");
    let step = |index: usize, granted: u32, denied: u32| ExplainStep {
        ace_index: index,
        ace: sddl.dacl.as_ref().expect("dacl")[index].clone(),
        granted: AccessMask(granted),
        denied: AccessMask(denied),
    };
    let stranger = sddl.explain(&user(1000), &event());
    assert_eq!(
        stranger,
        Explanation {
            granted: AccessMask(0x001F_0001),
            null_dacl: false,
            owner_implicit: AccessMask(0),
            steps: vec![step(0, 0, 0x2), step(1, 0x001F_0001, 0), step(4, 0, 0)],
        }
    );
    let owner = sddl.explain(&user(OWNER_UID), &event());
    assert_eq!(owner.owner_implicit, RC | WD);
    assert_eq!(owner.steps[1], step(1, 0x0019_0001, 0));
    assert_eq!(owner.granted, AccessMask(0x001F_0001));
}

#[test]
fn explain_reports_a_null_dacl() {
    let explanation = sd("O:BAD:NO_ACCESS_CONTROL").explain(&user(1000), &event());
    assert!(explanation.null_dacl);
    assert_eq!(explanation.granted, EVENT_ALL);
    assert!(explanation.steps.is_empty());
}

/// A random DACL over a handful of SIDs and rights, so that every kind of
/// interaction (deny before allow, IO, owner rights) turns up.
fn random_descriptor(seed: &mut u64) -> SecurityDescriptor {
    let mut next = || {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        *seed
    };
    let sids =
        [Sid::World, Sid::OwnerRights, Sid::UnixUser(1), Sid::UnixUser(2), Sid::UnixGroup(3), Sid::Administrators];
    let masks = [0x1, 0x2, 0x3, 0x2_0000, 0x4_0000, 0x8000_0000, 0x4000_0000, 0x1000_0000, 0x0200_0000];
    let pick = |n: u64, len: usize| usize::try_from(n % u64::try_from(len).expect("len")).expect("index");
    let count = pick(next(), 6);
    let aces = (0..count)
        .map(|_| Ace {
            kind: if next() % 3 == 0 { AceKind::Deny } else { AceKind::Allow },
            flags: if next() % 5 == 0 { AceFlags::IO } else { AceFlags::default() },
            mask: AccessMask(masks[pick(next(), masks.len())] | masks[pick(next(), masks.len())]),
            sid: sids[pick(next(), sids.len())].clone(),
        })
        .collect();
    SecurityDescriptor { owner: Sid::UnixUser(1), group: None, dacl: Some(aces), dacl_protected: false }
}

#[test]
fn access_check_agrees_with_explain_on_random_dacls() {
    let tokens = [user(1), Token { uid: 2, gid: 9, groups: vec![3] }, user(0), user(4)];
    let requests = [QUERY, MODIFY, RC, WD, QUERY | MODIFY, RC | WD | QUERY, AccessMask::GENERIC_READ, EVENT_ALL];
    let mut seed = 0x1234_5678_9ABC_DEF1_u64;
    for _ in 0..3_000 {
        let sd = random_descriptor(&mut seed);
        assert_eq!(SecurityDescriptor::parse_sddl(&sd.to_sddl(), &Sid::World).as_ref(), Ok(&sd));
        for token in &tokens {
            let most = sd.explain(token, &event()).granted;
            let maximum = sd.access_check(token, MAX, &event());
            assert_eq!(maximum.clone().unwrap_or_default(), most, "{} for {token:?}", sd.to_sddl());
            assert_eq!(maximum.is_ok(), !most.is_empty());
            for desired in requests {
                let wanted = event().map(desired);
                let result = sd.access_check(token, desired, &event());
                assert_eq!(result.is_ok(), most.contains(wanted), "{} {desired} {token:?}", sd.to_sddl());
                if let Ok(granted) = result {
                    assert_eq!(granted, wanted);
                }
            }
        }
    }
}
