//! SDDL syntax tests: parsing, formatting, error positions and garbage input.

use super::*;

const FALLBACK: Sid = Sid::UnixUser(4242);

fn parse(text: &str) -> Result<SecurityDescriptor, SddlError> {
    SecurityDescriptor::parse_sddl(text, &FALLBACK)
}

fn ok(text: &str) -> SecurityDescriptor {
    parse(text).unwrap_or_else(|e| panic!("{text:?} should parse: {e}"))
}

fn fails_at(text: &str, position: usize, needle: &str) {
    let e = parse(text).expect_err(text);
    assert_eq!(e.position, position, "{text:?}: {e}");
    assert!(e.message.contains(needle), "{text:?}: {e} should mention {needle:?}");
}

fn ace(kind: AceKind, flags: AceFlags, mask: u32, sid: Sid) -> Ace {
    Ace { kind, flags, mask: AccessMask(mask), sid }
}

#[test]
fn parses_a_full_descriptor() {
    let sd = ok("O:BAG:SYD:P(A;OICI;GA;;;S-1-22-1-1000)(D;;0x2;;;WD)");
    assert_eq!(sd.owner, Sid::Administrators);
    assert_eq!(sd.group, Some(Sid::LocalSystem));
    assert!(sd.dacl_protected);
    let expected = vec![
        ace(AceKind::Allow, AceFlags::OI | AceFlags::CI, 0x1000_0000, Sid::UnixUser(1000)),
        ace(AceKind::Deny, AceFlags::default(), 0x2, Sid::World),
    ];
    assert_eq!(sd.dacl, Some(expected));
}

#[test]
fn components_may_come_in_any_order() {
    let a = ok("O:BAG:S-1-22-2-7D:(A;;GR;;;WD)");
    assert_eq!(ok("D:(A;;GR;;;WD)G:S-1-22-2-7O:BA"), a);
    assert_eq!(ok("G:S-1-22-2-7D:(A;;GR;;;WD)O:BA"), a);
}

#[test]
fn missing_owner_uses_the_fallback_and_missing_group_is_none() {
    let sd = ok("D:(A;;GA;;;WD)");
    assert_eq!(sd.owner, FALLBACK);
    assert_eq!(sd.group, None);
}

#[test]
fn missing_dacl_is_a_null_dacl_but_empty_dacl_is_empty() {
    assert_eq!(ok("O:BA").dacl, None);
    assert_eq!(ok("").dacl, None);
    assert_eq!(ok("O:BAD:").dacl, Some(vec![]));
}

#[test]
fn no_access_control_is_a_null_dacl() {
    let sd = ok("O:BAD:NO_ACCESS_CONTROL");
    assert_eq!(sd.dacl, None);
    assert!(!sd.dacl_protected);
    assert!(ok("D:PNO_ACCESS_CONTROL").dacl_protected);
    fails_at("D:NO_ACCESS_CONTROL(A;;GA;;;WD)", 19, "cannot also have ACEs");
}

#[test]
fn protected_flag_is_kept_and_auto_inherit_flags_are_ignored() {
    let sd = ok("D:PAIAR(A;;GA;;;WD)");
    assert!(sd.dacl_protected);
    assert_eq!(sd.dacl, ok("D:(A;;GA;;;WD)").dacl);
    assert!(!ok("D:AI(A;;GA;;;WD)").dacl_protected);
}

#[test]
fn whitespace_between_components_and_aces_is_ignored() {
    let tight = ok("O:BAG:SYD:P(A;;GA;;;WD)(D;;GW;;;BA)");
    assert_eq!(ok("  O:BA \n G:SY\tD:P (A;;GA;;;WD)  (D;;GW;;;BA)  "), tight);
}

#[test]
fn duplicate_components_are_rejected() {
    fails_at("O:BAO:SY", 4, "twice");
    fails_at("G:BA G:SY", 5, "twice");
    fails_at("D:D:", 2, "twice");
}

#[test]
fn parse_rejects_sacl_with_reason() {
    let e = parse("O:BAD:(A;;GA;;;WD)S:(AU;SA;GA;;;WD)").expect_err("SACL");
    assert_eq!(e.position, 18);
    assert!(e.message.contains("SACL"), "{e}");
    assert!(e.message.contains("not supported"), "{e}");
}

#[test]
fn rights_accept_hex_decimal_and_codes() {
    let mask = |rights: &str| -> AccessMask {
        let sd = ok(&format!("D:(A;;{rights};;;WD)"));
        sd.dacl.and_then(|d| d.first().map(|a| a.mask)).expect("one ACE")
    };
    assert_eq!(mask("0x1F0003"), AccessMask(0x001F_0003));
    assert_eq!(mask("0X1f0003"), AccessMask(0x001F_0003));
    assert_eq!(mask("2031619"), AccessMask(0x001F_0003));
    assert_eq!(mask(""), AccessMask(0));
    assert_eq!(mask("GAGR"), AccessMask(0x9000_0000));
    assert_eq!(mask("RCSDWDWO"), AccessMask::STANDARD_RIGHTS_REQUIRED);
    assert_eq!(mask("FA"), AccessMask(0x001F_01FF));
    assert_eq!(mask("FRFWFX"), AccessMask(0x0012_0089 | 0x0012_0116 | 0x0012_00A0));
    assert_eq!(mask("KA"), AccessMask(0x000F_003F));
    assert_eq!(mask("KRKWKX"), AccessMask(0x0002_0019 | 0x0002_0006));
}

#[test]
fn bad_rights_are_rejected_where_they_occur() {
    fails_at("D:(A;;GAXX;;;WD)", 8, "unknown access right");
    fails_at("D:(A;;GAG;;;WD)", 8, "unknown access right");
    fails_at("D:(A;;ga;;;WD)", 6, "unknown access right");
    fails_at("D:(A;;0x;;;WD)", 8, "hexadecimal");
    fails_at("D:(A;;0x1G;;;WD)", 8, "hexadecimal");
    fails_at("D:(A;;0x+1;;;WD)", 8, "hexadecimal");
    fails_at("D:(A;;0x100000000;;;WD)", 8, "32 bits");
    fails_at("D:(A;;4294967296;;;WD)", 6, "32 bits");
}

#[test]
fn ace_flags_are_parsed_in_any_order() {
    let sd = ok("D:(A;IDIONPCIOI;GA;;;WD)");
    let flags = sd.dacl.and_then(|d| d.first().map(|a| a.flags)).expect("one ACE");
    assert_eq!(flags, AceFlags(0x1F));
    assert_eq!(flags.to_string(), "OICINPIOID");
    fails_at("D:(A;OIXX;GA;;;WD)", 7, "unknown ACE flag");
    fails_at("D:(A;SA;GA;;;WD)", 5, "unknown ACE flag");
}

#[test]
fn unsupported_ace_shapes_are_rejected() {
    fails_at("D:(AU;;GA;;;WD)", 3, "ACE type");
    fails_at("D:(OA;;GA;;;WD)", 3, "ACE type");
    fails_at("D:(A;;GA;;;)", 11, "unknown SID");
    fails_at("D:(A;;GA;;;WD;x)", 3, "6 fields");
    fails_at("D:(A;;GA;;WD)", 3, "6 fields");
    fails_at("D:(A;;GA;f0c1;;WD)", 9, "object ACEs");
    fails_at("D:(A;;GA;;f0c1;WD)", 10, "object ACEs");
    fails_at("D:(A;;GA;;;WD", 2, "unterminated");
}

#[test]
fn unsupported_or_malformed_sids_are_rejected() {
    fails_at("O:S-1-5-11", 2, "can meet on Linux");
    fails_at("O:AU", 2, "unknown SID");
    fails_at("O:wd", 2, "unknown SID");
    fails_at("O:S-1-22-1-x", 11, "decimal");
    fails_at("O:S-1-22-1-99999999999", 11, "32 bits");
    fails_at("O:S-1-22-1-5-6", 13, "more parts");
    fails_at("O:G:BA", 2, "missing SID");
    fails_at("D:(A;;GA;;;S-1-5-32-545)", 11, "can meet on Linux");
}

#[test]
fn sid_parse_accepts_aliases_and_numeric_forms() {
    let cases = [
        ("WD", Sid::World),
        ("S-1-1-0", Sid::World),
        ("CO", Sid::CreatorOwner),
        ("S-1-3-0", Sid::CreatorOwner),
        ("OW", Sid::OwnerRights),
        ("s-1-3-4", Sid::OwnerRights),
        ("SY", Sid::LocalSystem),
        ("S-1-5-18", Sid::LocalSystem),
        ("BA", Sid::Administrators),
        ("S-1-5-32-544", Sid::Administrators),
        ("S-1-22-1-1000", Sid::UnixUser(1000)),
        ("s-1-22-2-0", Sid::UnixGroup(0)),
        ("S-1-22-1-4294967295", Sid::UnixUser(u32::MAX)),
    ];
    for (text, sid) in cases {
        assert_eq!(Sid::parse(text), Ok(sid.clone()), "{text}");
        assert_eq!(Sid::parse(&sid.to_string()), Ok(sid.clone()), "{sid}");
    }
    for bad in ["", "S-1", "S-1-", "S-2-1-0", "S-1-1-0-", "S-1--1-0", "S-1-22-3-5", "é", "S-1-é"] {
        assert!(Sid::parse(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn sid_display_and_alias() {
    assert_eq!(Sid::UnixUser(1000).to_string(), "S-1-22-1-1000");
    assert_eq!(Sid::UnixGroup(27).to_string(), "S-1-22-2-27");
    assert_eq!(Sid::Administrators.to_string(), "S-1-5-32-544");
    assert_eq!(Sid::OwnerRights.alias(), Some("OW"));
    assert_eq!(Sid::UnixUser(1).alias(), None);
}

#[test]
fn to_sddl_uses_aliases_and_generic_codes() {
    let sd = SecurityDescriptor {
        owner: Sid::Administrators,
        group: Some(Sid::UnixGroup(5)),
        dacl: Some(vec![
            ace(AceKind::Allow, AceFlags::OI | AceFlags::IO, 0xB000_0000, Sid::World),
            ace(AceKind::Deny, AceFlags::default(), 0x001F_0003, Sid::UnixUser(9)),
            ace(AceKind::Allow, AceFlags::default(), 0x1000_0001, Sid::OwnerRights),
            ace(AceKind::Allow, AceFlags::default(), 0, Sid::CreatorOwner),
        ]),
        dacl_protected: true,
    };
    assert_eq!(
        sd.to_sddl(),
        "O:BAG:S-1-22-2-5D:P(A;OIIO;GAGRGX;;;WD)(D;;0x1f0003;;;S-1-22-1-9)\
         (A;;0x10000001;;;OW)(A;;0x0;;;CO)"
    );
    let null = SecurityDescriptor { dacl: None, group: None, dacl_protected: false, ..sd };
    assert_eq!(null.to_sddl(), "O:BAD:NO_ACCESS_CONTROL");
}

#[test]
fn sddl_round_trips() {
    let samples = [
        "O:BAG:SYD:P(A;OICI;GA;;;S-1-22-1-1000)(D;;0x2;;;WD)",
        "O:S-1-22-1-0D:",
        "O:COG:OWD:PNO_ACCESS_CONTROL",
        "O:BAD:NO_ACCESS_CONTROL",
        "O:SYD:(A;IDNP;FA;;;S-1-22-2-100)(D;IO;KR;;;BA)(A;;RCWD;;;OW)(A;;;;;WD)",
        "D:AI(A;;GRGWGXGA;;;WD)",
    ];
    for text in samples {
        let sd = ok(text);
        let formatted = sd.to_sddl();
        assert_eq!(ok(&formatted), sd, "{text} -> {formatted}");
        assert_eq!(ok(&formatted).to_sddl(), formatted);
    }
    let default = SecurityDescriptor::default_for(&crate::security::Token { uid: 7, gid: 8, groups: vec![9] });
    assert_eq!(ok(&default.to_sddl()), default);
}

#[test]
fn sddl_error_displays_position_and_message() {
    let e = parse("O:XX").expect_err("bad owner");
    assert!(e.to_string().starts_with("invalid SDDL at byte 2: unknown SID"), "{e}");
    let boxed: Box<dyn std::error::Error> = Box::new(e);
    assert!(boxed.to_string().contains("byte 2"));
}

#[test]
fn non_ascii_input_is_rejected_with_its_position() {
    fails_at("O:BAD:(A;;GA;;;WD)é", 18, "non-ASCII");
}

/// Deterministic xorshift64 so the garbage tests need no dependency and
/// every failure reproduces.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % u64::try_from(n).expect("small")).expect("small")
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const FRAGMENTS: &[&str] = &[
    "O:",
    "G:",
    "D:",
    "S:",
    "X:",
    ":",
    "(",
    ")",
    ";",
    ";;",
    "A",
    "D",
    "P",
    "AI",
    "AR",
    "NO_ACCESS_CONTROL",
    "OI",
    "CI",
    "NP",
    "IO",
    "ID",
    "GA",
    "GR",
    "GW",
    "GX",
    "FA",
    "KR",
    "RC",
    "0x",
    "0X",
    "1F",
    "ffffffff",
    "123",
    "4294967296",
    "WD",
    "BA",
    "SY",
    "CO",
    "OW",
    "S-1-",
    "s-1-",
    "22-",
    "1-",
    "2-",
    "5-32-544",
    "-",
    "0",
    " ",
    "\t",
    "é",
    "\u{0}",
    "\u{1F600}",
    "x",
];

fn assert_round_trips_if_accepted(text: &str) {
    if let Ok(sd) = parse(text) {
        let formatted = sd.to_sddl();
        assert_eq!(parse(&formatted).as_ref(), Ok(&sd), "{text:?} -> {formatted:?}");
    }
    let _ = Sid::parse(text);
}

#[test]
fn parser_never_panics_on_garbage() {
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    for _ in 0..20_000 {
        let mut text = String::new();
        for _ in 0..rng.below(24) {
            text.push_str(rng.pick(FRAGMENTS));
        }
        assert_round_trips_if_accepted(&text);
    }
    for _ in 0..5_000 {
        let bytes: Vec<u8> = (0..rng.below(40)).map(|_| rng.next().to_le_bytes()[0]).collect();
        assert_round_trips_if_accepted(&String::from_utf8_lossy(&bytes));
    }
}

#[test]
fn mutated_valid_sddl_never_panics_and_round_trips_when_accepted() {
    let seeds = [
        "O:BAG:SYD:P(A;OICI;GA;;;S-1-22-1-1000)(D;;0x2;;;WD)",
        "D:AI(A;ID;FA;;;S-1-22-2-5)(D;IO;KRWO;;;BA)",
        "O:S-1-5-18 D:NO_ACCESS_CONTROL G:OW",
    ];
    let mut rng = XorShift(0xDEAD_BEEF_CAFE_F00D);
    let mut accepted = 0;
    for _ in 0..20_000 {
        let mut text = seeds[rng.below(seeds.len())].as_bytes().to_vec();
        for _ in 0..=rng.below(3) {
            let at = rng.below(text.len() + 1);
            let byte = b"():;ADOGSPIX0x1- \xC3"[rng.below(18)];
            match rng.below(3) {
                0 => text.insert(at, byte),
                1 if at < text.len() => drop(text.remove(at)),
                _ if at < text.len() => text[at] = byte,
                _ => {}
            }
        }
        let text = String::from_utf8_lossy(&text).into_owned();
        accepted += usize::from(parse(&text).is_ok());
        assert_round_trips_if_accepted(&text);
    }
    // Keeps the test honest: mutations must not all be rejected early.
    assert!(accepted > 200, "only {accepted} mutants parsed");
}
