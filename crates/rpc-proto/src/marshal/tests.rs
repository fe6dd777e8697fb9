use super::*;
use crate::DataRep;

fn bytes_of<T: Ndr>(v: &T) -> Vec<u8> {
    let mut w = NdrWriter::new();
    put(v, &mut w);
    w.into_bytes()
}

fn back<T: Ndr>(bytes: &[u8], drep: DataRep) -> Result<T, NdrError> {
    let mut r = NdrReader::new(bytes, drep);
    let v = get(&mut r)?;
    assert!(r.finished(), "{} bytes left", r.remaining());
    Ok(v)
}

/// `typedef struct { long id; [string] wchar_t *name; } ITEM;`
#[derive(Ndr, Debug, PartialEq, Clone)]
struct Item {
    id: i32,
    #[ndr(string)]
    name: Option<String>,
}

/// A conformant structure: its array's count is hoisted to the front.
#[derive(Ndr, Debug, PartialEq)]
struct Conformant {
    tag: u16,
    count: u32,
    #[ndr(size_is = count)]
    items: Vec<Item>,
}

/// `WINREG_STRING`: `[size_is(size/2), length_is(length/2)] uint16 *name`.
#[derive(Ndr, Debug, PartialEq)]
struct RegString {
    length: u16,
    size: u16,
    #[ndr(size_is = size / 2, length_is = length / 2)]
    name: Option<Vec<u16>>,
}

#[derive(Ndr, Debug, PartialEq, Clone, Copy)]
enum Color {
    Red = 1,
    Blue = 0x100,
}

#[derive(Ndr, Debug, PartialEq, Clone, Copy)]
#[ndr(v1_enum)]
enum Wide {
    One = 1,
}

#[derive(Ndr, Debug, PartialEq)]
struct Info100 {
    platform: u32,
    #[ndr(string)]
    name: Option<String>,
}

#[derive(Ndr, Debug, PartialEq)]
enum Info {
    #[ndr(case = 100)]
    L100(Option<Info100>),
    #[ndr(case = 7)]
    Hyper(u64),
    #[ndr(case = 0)]
    Empty,
}

#[derive(Ndr, Debug, PartialEq)]
struct Container {
    level: u32,
    #[ndr(switch_is = level)]
    info: Info,
    color: Color,
    wide: Wide,
    fixed: [u8; 3],
}

#[test]
fn embedded_pointers_are_deferred_after_the_whole_structure() {
    let v = Conformant {
        tag: 7,
        count: 2,
        items: vec![Item { id: 1, name: Some("ab".into()) }, Item { id: 2, name: None }],
    };
    let bytes = bytes_of(&v);
    let mut expect = NdrWriter::new();
    expect.u32(2); // the hoisted conformance
    expect.u16(7);
    expect.u32(2);
    expect.i32(1);
    expect.pointer(true);
    expect.i32(2);
    expect.u32(0);
    expect.wide_string("ab");
    assert_eq!(bytes, expect.into_bytes());
    assert_eq!(back::<Conformant>(&bytes, DataRep::NATIVE), Ok(v));
}

#[test]
fn a_count_that_disagrees_with_size_is_is_an_error_naming_the_field() {
    let v = Conformant { tag: 7, count: 3, items: vec![Item { id: 1, name: None }] };
    let e = back::<Conformant>(&bytes_of(&v), DataRep::NATIVE).unwrap_err();
    assert!(e.reason.contains("Conformant.items"), "{e}");
}

#[test]
fn conformant_varying_arrays_carry_size_and_length() {
    let units: Vec<u16> = "abc\0".encode_utf16().collect();
    let v = RegString { length: 8, size: 512, name: Some(units.clone()) };
    let bytes = bytes_of(&v);
    // length, size, referent id; then max 256, offset 0, actual 4, the units.
    assert_eq!(&bytes[..4], &[8, 0, 0, 2]);
    assert_eq!(&bytes[8..20], &[0, 1, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0]);
    assert_eq!(bytes.len(), 20 + 8);
    assert_eq!(back::<RegString>(&bytes, DataRep::NATIVE), Ok(v));
    let none = RegString { length: 0, size: 0, name: None };
    assert_eq!(back::<RegString>(&bytes_of(&none), DataRep::NATIVE), Ok(none));
}

#[test]
fn unions_enums_and_fixed_arrays_round_trip_and_check_switch_is() {
    let v = Container {
        level: 100,
        info: Info::L100(Some(Info100 { platform: 500, name: Some("SB".into()) })),
        color: Color::Blue,
        wide: Wide::One,
        fixed: [1, 2, 3],
    };
    let bytes = bytes_of(&v);
    assert_eq!(&bytes[..8], &[100, 0, 0, 0, 100, 0, 0, 0], "the level, then the union's own discriminant");
    assert_eq!(back::<Container>(&bytes, DataRep::NATIVE), Ok(v));

    let h = Container { level: 7, info: Info::Hyper(u64::MAX), color: Color::Red, wide: Wide::One, fixed: [0; 3] };
    let bytes = bytes_of(&h);
    assert_eq!(&bytes[8..16], &[0xFF; 8], "the hyper arm aligned to 8");
    assert_eq!(back::<Container>(&bytes, DataRep::NATIVE), Ok(h));

    let wrong = Container { level: 100, info: Info::Empty, color: Color::Red, wide: Wide::One, fixed: [0; 3] };
    let e = back::<Container>(&bytes_of(&wrong), DataRep::NATIVE).unwrap_err();
    assert!(e.reason.contains("switch_is"), "{e}");

    let mut w = NdrWriter::new();
    w.u32(0);
    w.u32(0);
    w.u16(3);
    let e = back::<Container>(&w.into_bytes(), DataRep::NATIVE).unwrap_err();
    assert!(e.reason.contains("Color: no value 3"), "{e}");
}

#[test]
fn big_endian_structures_are_read_right() {
    // Item { id: 0x01020304, name: "A" } written big-endian by hand.
    let bytes = [1, 2, 3, 4, 0, 2, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0x41, 0, 0];
    assert_eq!(back::<Item>(&bytes, DataRep::BIG_ENDIAN), Ok(Item { id: 0x0102_0304, name: Some("A".into()) }));
}

/// An encapsulated union: a structure of the discriminant and the arm,
/// aligned as a whole to its largest member.
#[derive(Ndr, Debug, PartialEq)]
#[ndr(encapsulated, switch_type = u16)]
enum Value {
    #[ndr(case = 1)]
    Small(u8),
    #[ndr(case = 2)]
    Big(u64),
}

/// `[length_is(n)] long a[8]` (varying) and `[string] char name[16]`.
#[derive(Ndr, Debug, PartialEq)]
struct Varying {
    n: u32,
    #[ndr(length_is = n)]
    a: Vec<i32>,
    #[ndr(string, char, fixed = 16)]
    name: String,
    #[ndr(string, char)]
    note: Option<String>,
}

#[test]
fn encapsulated_unions_align_as_a_structure() {
    let mut w = NdrWriter::new();
    w.u8(9);
    Value::Small(7).put_flat(&mut w);
    let bytes = w.into_bytes();
    assert_eq!(bytes, [9, 0, 0, 0, 0, 0, 0, 0, 1, 0, 7], "aligned to 8 (the hyper arm), then u16 1, then the byte");
    let mut r = NdrReader::new(&bytes, DataRep::NATIVE);
    r.u8().unwrap();
    let flat = Value::get_flat(&mut r).unwrap();
    assert_eq!(Value::get_deferred(flat, &mut r), Ok(Value::Small(7)));
    assert_eq!(back::<Value>(&bytes_of(&Value::Big(u64::MAX - 3)), DataRep::NATIVE), Ok(Value::Big(u64::MAX - 3)));
    let mut w = NdrWriter::new();
    w.u16(3);
    let e = back::<Value>(&w.into_bytes(), DataRep::NATIVE).unwrap_err();
    assert!(e.reason.contains("no union arm 3"), "{e}");
}

#[test]
fn varying_arrays_and_char_strings_round_trip() {
    let v = Varying { n: 3, a: vec![-1, 2, 3], name: "switch".into(), note: Some("böard".into()) };
    let bytes = bytes_of(&v);
    // n, then the varying array (offset 0, length 3, no maximum), then the
    // char[16] string (offset 0, length 7, "switch\0").
    assert_eq!(&bytes[..12], &[3, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0]);
    assert_eq!(&bytes[24..36], &[0, 0, 0, 0, 7, 0, 0, 0, b's', b'w', b'i', b't']);
    assert_eq!(back::<Varying>(&bytes, DataRep::NATIVE), Ok(v));
    // A name longer than its array is cut to fit, NUL included.
    let long = Varying { n: 0, a: vec![], name: "x".repeat(40), note: None };
    let back_long = back::<Varying>(&bytes_of(&long), DataRep::NATIVE).unwrap();
    assert_eq!(back_long.name.len(), 15);
}

/// A recursive type: a list.
#[derive(Ndr, Debug, PartialEq)]
struct Node {
    value: u32,
    next: Option<Box<Node>>,
}

#[test]
fn recursive_types_round_trip_and_deep_nesting_is_an_error_not_a_crash() {
    let list = Node { value: 1, next: Some(Box::new(Node { value: 2, next: None })) };
    assert_eq!(back::<Node>(&bytes_of(&list), DataRep::NATIVE), Ok(list));
    // A million nested nodes, as a peer could send them: refused at depth 200.
    let mut w = NdrWriter::new();
    for i in 0..1_000_000u32 {
        w.u32(i);
        w.pointer(true);
    }
    let e = back::<Node>(&w.into_bytes(), DataRep::NATIVE).unwrap_err();
    assert!(e.reason.contains("nested deeper than 200"), "{e}");
}

/// A structure ending with a conformant structure: the inner conformance
/// is hoisted to the front of the outer one.
#[derive(Ndr, Debug, PartialEq)]
struct Outer {
    flags: u16,
    inner: Conformant,
}

#[test]
fn a_nested_conformant_structure_has_its_conformance_at_the_outermost_front() {
    let v = Outer { flags: 9, inner: Conformant { tag: 7, count: 1, items: vec![Item { id: 5, name: None }] } };
    let bytes = bytes_of(&v);
    let mut expect = NdrWriter::new();
    expect.u32(1); // the inner array's conformance, first of all
    expect.u16(9);
    expect.align(4); // the inner structure aligns as its largest member
    expect.u16(7);
    expect.u32(1);
    expect.i32(5);
    expect.u32(0);
    assert_eq!(bytes, expect.into_bytes());
    assert_eq!(back::<Outer>(&bytes, DataRep::NATIVE), Ok(v));
    const { assert!(<Outer as Ndr>::CONFORMANT && <Conformant as Ndr>::CONFORMANT && !<Item as Ndr>::CONFORMANT) };
}
