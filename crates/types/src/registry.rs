//! The registry's vocabulary: the predefined keys, value types and their
//! bytes as `RegSetValueExW` stores them. (The store itself is the
//! `switchboard-registry` crate, in the broker.)

/// The predefined keys (`HKEY_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum RootKey {
    /// `HKEY_LOCAL_MACHINE`.
    LocalMachine,
    /// `HKEY_CURRENT_USER`.
    CurrentUser,
    /// `HKEY_CLASSES_ROOT`.
    ClassesRoot,
    /// `HKEY_USERS`.
    Users,
    /// `HKEY_CURRENT_CONFIG`.
    CurrentConfig,
}

impl RootKey {
    /// Every predefined key.
    pub const ALL: [Self; 5] =
        [Self::LocalMachine, Self::CurrentUser, Self::ClassesRoot, Self::Users, Self::CurrentConfig];

    /// The full name, as `.reg` files spell it.
    pub fn name(self) -> &'static str {
        match self {
            Self::LocalMachine => "HKEY_LOCAL_MACHINE",
            Self::CurrentUser => "HKEY_CURRENT_USER",
            Self::ClassesRoot => "HKEY_CLASSES_ROOT",
            Self::Users => "HKEY_USERS",
            Self::CurrentConfig => "HKEY_CURRENT_CONFIG",
        }
    }

    /// The short name (`HKLM`, `HKCU`, `HKCR`, `HKU`, `HKCC`).
    pub fn short_name(self) -> &'static str {
        match self {
            Self::LocalMachine => "HKLM",
            Self::CurrentUser => "HKCU",
            Self::ClassesRoot => "HKCR",
            Self::Users => "HKU",
            Self::CurrentConfig => "HKCC",
        }
    }

    /// Parses a full or short name, in any case.
    pub fn parse(text: &str) -> Option<Self> {
        let upper = text.to_ascii_uppercase();
        Self::ALL.into_iter().find(|r| upper == r.name() || upper == r.short_name())
    }
}

/// `REG_NONE`.
pub const REG_NONE: u32 = 0;
/// `REG_SZ`: a UTF-16LE string with its terminating NUL.
pub const REG_SZ: u32 = 1;
/// `REG_EXPAND_SZ`: like `REG_SZ`, holding `%VARIABLES%`.
pub const REG_EXPAND_SZ: u32 = 2;
/// `REG_BINARY`.
pub const REG_BINARY: u32 = 3;
/// `REG_DWORD`: 4 bytes, little-endian.
pub const REG_DWORD: u32 = 4;
/// `REG_DWORD_BIG_ENDIAN`.
pub const REG_DWORD_BIG_ENDIAN: u32 = 5;
/// `REG_LINK`.
pub const REG_LINK: u32 = 6;
/// `REG_MULTI_SZ`: UTF-16LE strings, each NUL-terminated, then one more NUL.
pub const REG_MULTI_SZ: u32 = 7;
/// `REG_QWORD`: 8 bytes, little-endian.
pub const REG_QWORD: u32 = 11;

/// The largest value's data (Windows' standard-format limit: 1 MB).
pub const MAX_VALUE_DATA: usize = 1 << 20;

/// A value as stored: its type and its bytes, exactly as given. A type the
/// registry does not know is kept as it is.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RawValue {
    /// `REG_*`.
    pub kind: u32,
    /// The bytes.
    pub data: Vec<u8>,
}

/// A value read the way its type says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegValue {
    /// `REG_NONE`, with whatever bytes it holds.
    None(Vec<u8>),
    /// `REG_SZ`.
    Sz(String),
    /// `REG_EXPAND_SZ`.
    ExpandSz(String),
    /// `REG_BINARY`.
    Binary(Vec<u8>),
    /// `REG_DWORD`.
    Dword(u32),
    /// `REG_DWORD_BIG_ENDIAN`.
    DwordBigEndian(u32),
    /// `REG_MULTI_SZ`.
    MultiSz(Vec<String>),
    /// `REG_QWORD`.
    Qword(u64),
    /// Any other type, or bytes that do not fit their type (a `REG_DWORD` of
    /// 3 bytes): kept raw.
    Other(RawValue),
}

fn utf16z(text: &str) -> Vec<u8> {
    text.encode_utf16().chain(std::iter::once(0)).flat_map(u16::to_le_bytes).collect()
}

fn units(bytes: &[u8]) -> Option<Vec<u16>> {
    bytes.len().is_multiple_of(2).then(|| bytes.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect())
}

/// A string from UTF-16LE bytes, up to the first NUL (as `RegGetValue`
/// reads it); `None` if the bytes are not whole, valid UTF-16.
fn string(bytes: &[u8]) -> Option<String> {
    let units = units(bytes)?;
    let end = units.iter().position(|&u| u == 0).unwrap_or(units.len());
    String::from_utf16(&units[..end]).ok()
}

impl RegValue {
    /// The type and bytes to store.
    pub fn to_raw(&self) -> RawValue {
        let (kind, data) = match self {
            Self::None(b) => (REG_NONE, b.clone()),
            Self::Sz(s) => (REG_SZ, utf16z(s)),
            Self::ExpandSz(s) => (REG_EXPAND_SZ, utf16z(s)),
            Self::Binary(b) => (REG_BINARY, b.clone()),
            Self::Dword(v) => (REG_DWORD, v.to_le_bytes().to_vec()),
            Self::DwordBigEndian(v) => (REG_DWORD_BIG_ENDIAN, v.to_be_bytes().to_vec()),
            Self::MultiSz(list) => {
                let mut data: Vec<u8> = list.iter().flat_map(|s| utf16z(s)).collect();
                data.extend_from_slice(&[0, 0]);
                (REG_MULTI_SZ, data)
            }
            Self::Qword(v) => (REG_QWORD, v.to_le_bytes().to_vec()),
            Self::Other(raw) => return raw.clone(),
        };
        RawValue { kind, data }
    }

    /// Reads stored bytes by their type; bytes that do not fit it come back
    /// as [`RegValue::Other`], unchanged.
    ///
    /// A typed value always gives back exactly the bytes it came from: bytes
    /// that a typed value would write differently (a `REG_MULTI_SZ` with an
    /// empty string inside, a `REG_SZ` with bytes after its NUL or without
    /// one) come back as [`RegValue::Other`], so that reading and writing
    /// through the typed API never changes data.
    pub fn from_raw(raw: &RawValue) -> Self {
        let typed = Self::decode(raw);
        if matches!(typed, Self::Other(_)) || typed.to_raw() == *raw { typed } else { Self::Other(raw.clone()) }
    }

    fn decode(raw: &RawValue) -> Self {
        let other = || Self::Other(raw.clone());
        let four = <[u8; 4]>::try_from(raw.data.as_slice()).ok();
        match raw.kind {
            REG_NONE => Self::None(raw.data.clone()),
            REG_SZ => string(&raw.data).map_or_else(other, Self::Sz),
            REG_EXPAND_SZ => string(&raw.data).map_or_else(other, Self::ExpandSz),
            REG_BINARY => Self::Binary(raw.data.clone()),
            REG_DWORD => four.map_or_else(other, |b| Self::Dword(u32::from_le_bytes(b))),
            REG_DWORD_BIG_ENDIAN => four.map_or_else(other, |b| Self::DwordBigEndian(u32::from_be_bytes(b))),
            REG_QWORD => <[u8; 8]>::try_from(raw.data.as_slice())
                .map_or_else(|_| other(), |b| Self::Qword(u64::from_le_bytes(b))),
            REG_MULTI_SZ => {
                let Some(units) = units(&raw.data) else { return other() };
                let mut list = Vec::new();
                for part in units.split(|&u| u == 0) {
                    if part.is_empty() {
                        // An empty string ends the list.
                        break;
                    }
                    let Ok(s) = String::from_utf16(part) else { return other() };
                    list.push(s);
                }
                Self::MultiSz(list)
            }
            _ => other(),
        }
    }
}

/// The name of a `REG_*` type, or its number.
pub fn type_name(kind: u32) -> String {
    match kind {
        REG_NONE => "REG_NONE".into(),
        REG_SZ => "REG_SZ".into(),
        REG_EXPAND_SZ => "REG_EXPAND_SZ".into(),
        REG_BINARY => "REG_BINARY".into(),
        REG_DWORD => "REG_DWORD".into(),
        REG_DWORD_BIG_ENDIAN => "REG_DWORD_BIG_ENDIAN".into(),
        REG_LINK => "REG_LINK".into(),
        REG_MULTI_SZ => "REG_MULTI_SZ".into(),
        8 => "REG_RESOURCE_LIST".into(),
        9 => "REG_FULL_RESOURCE_DESCRIPTOR".into(),
        10 => "REG_RESOURCE_REQUIREMENTS_LIST".into(),
        REG_QWORD => "REG_QWORD".into(),
        other => format!("0x{other:x}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_values_have_the_windows_bytes_and_come_back() {
        let cases = [
            (RegValue::Sz("hi".into()), vec![b'h', 0, b'i', 0, 0, 0]),
            (RegValue::Dword(0x0102_0304), vec![4, 3, 2, 1]),
            (RegValue::DwordBigEndian(0x0102_0304), vec![1, 2, 3, 4]),
            (RegValue::Qword(1), vec![1, 0, 0, 0, 0, 0, 0, 0]),
            (RegValue::MultiSz(vec!["a".into(), "b".into()]), vec![b'a', 0, 0, 0, b'b', 0, 0, 0, 0, 0]),
            (RegValue::MultiSz(vec![]), vec![0, 0]),
        ];
        for (value, bytes) in cases {
            let raw = value.to_raw();
            assert_eq!(raw.data, bytes, "{value:?}");
            assert_eq!(RegValue::from_raw(&raw), value);
        }
    }

    #[test]
    fn bytes_that_do_not_fit_their_type_are_kept_raw() {
        for raw in [
            RawValue { kind: REG_DWORD, data: vec![1, 2, 3] },
            RawValue { kind: REG_SZ, data: vec![1] },
            RawValue { kind: 0x1234, data: vec![9; 7] },
            RawValue { kind: REG_MULTI_SZ, data: vec![b'a', 0, 0, 0, b'b', 0, 0, 0] },
            RawValue { kind: REG_SZ, data: vec![b'a', 0, 0, 0, b'b', 0, 0, 0] },
            RawValue { kind: REG_SZ, data: vec![b'a', 0] },
            RawValue { kind: REG_SZ, data: vec![] },
        ] {
            assert_eq!(RegValue::from_raw(&raw), RegValue::Other(raw.clone()));
            assert_eq!(RegValue::from_raw(&raw).to_raw(), raw);
        }
        assert_eq!(type_name(REG_QWORD), "REG_QWORD");
        assert_eq!(type_name(0x1234), "0x1234");
    }
}
