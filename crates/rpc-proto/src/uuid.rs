//! UUIDs as DCE/RPC writes them, and presentation syntax identifiers.

use std::fmt;

use crate::DataRep;

/// A UUID, held in its textual field order.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Uuid {
    /// `time_low`.
    pub d1: u32,
    /// `time_mid`.
    pub d2: u16,
    /// `time_hi_and_version`.
    pub d3: u16,
    /// The clock sequence and node, as bytes.
    pub d4: [u8; 8],
}

impl Uuid {
    /// Parses `8a885d04-1ceb-11c9-9fe8-08002b104860`.
    ///
    /// ```
    /// use switchboard_rpc_proto::uuid::Uuid;
    /// let u = Uuid::parse("8a885d04-1ceb-11c9-9fe8-08002b104860").unwrap();
    /// assert_eq!(u.to_string(), "8a885d04-1ceb-11c9-9fe8-08002b104860");
    /// assert!(Uuid::parse("8a885d04-1ceb-11c9-9fe8").is_none());
    /// assert!(Uuid::parse("8a885d04-1ceb-11c9-9fe8-08002b10486g").is_none());
    /// ```
    pub fn parse(text: &str) -> Option<Self> {
        let parts: Vec<&str> = text.split('-').collect();
        let lens = [8, 4, 4, 4, 12];
        if parts.len() != 5
            || parts.iter().zip(lens).any(|(p, n)| p.len() != n || !p.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            return None;
        }
        let d1 = u32::from_str_radix(parts[0], 16).ok()?;
        let d2 = u16::from_str_radix(parts[1], 16).ok()?;
        let d3 = u16::from_str_radix(parts[2], 16).ok()?;
        let tail = format!("{}{}", parts[3], parts[4]);
        let mut d4 = [0u8; 8];
        for (i, b) in d4.iter_mut().enumerate() {
            *b = u8::from_str_radix(&tail[i * 2..i * 2 + 2], 16).ok()?;
        }
        Some(Self { d1, d2, d3, d4 })
    }

    /// The 16 bytes on the wire: the first three fields in the sender's
    /// byte order, the last eight as they are.
    pub fn emit(&self, drep: DataRep, out: &mut Vec<u8>) {
        drep.put_u32(out, self.d1);
        drep.put_u16(out, self.d2);
        drep.put_u16(out, self.d3);
        out.extend_from_slice(&self.d4);
    }

    /// Reads 16 bytes written by [`Uuid::emit`] with `drep`.
    pub fn read(bytes: &[u8; 16], drep: DataRep) -> Self {
        let mut d4 = [0u8; 8];
        d4.copy_from_slice(&bytes[8..16]);
        Self {
            d1: drep.u32([bytes[0], bytes[1], bytes[2], bytes[3]]),
            d2: drep.u16([bytes[4], bytes[5]]),
            d3: drep.u16([bytes[6], bytes[7]]),
            d4,
        }
    }
}

impl fmt::Display for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = &self.d4;
        write!(
            f,
            "{:08x}-{:04x}-{:04x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
            self.d1, self.d2, self.d3, d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]
        )
    }
}

impl fmt::Debug for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Uuid({self})")
    }
}

/// A presentation syntax: an interface or a transfer syntax, with its
/// version (`p_syntax_id_t`: the major version in the low 16 bits).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SyntaxId {
    /// The UUID.
    pub uuid: Uuid,
    /// Major version.
    pub major: u16,
    /// Minor version.
    pub minor: u16,
}

impl SyntaxId {
    /// The NDR20 transfer syntax, `8a885d04-1ceb-11c9-9fe8-08002b104860` v2.0.
    pub fn ndr20() -> Self {
        Self {
            uuid: Uuid {
                d1: 0x8a88_5d04,
                d2: 0x1ceb,
                d3: 0x11c9,
                d4: [0x9f, 0xe8, 0x08, 0x00, 0x2b, 0x10, 0x48, 0x60],
            },
            major: 2,
            minor: 0,
        }
    }

    /// The NDR64 transfer syntax, `71710533-beba-4937-8319-b5dbef9ccc36` v1.0.
    pub fn ndr64() -> Self {
        Self {
            uuid: Uuid {
                d1: 0x7171_0533,
                d2: 0xbeba,
                d3: 0x4937,
                d4: [0x83, 0x19, 0xb5, 0xdb, 0xef, 0x9c, 0xcc, 0x36],
            },
            major: 1,
            minor: 0,
        }
    }

    /// The 20 bytes on the wire: the UUID, then the version as one
    /// `u_int32` (C706's `if_version`: the major version in the low 16
    /// bits), so that a big-endian sender's version reads right.
    pub fn emit(&self, drep: DataRep, out: &mut Vec<u8>) {
        self.uuid.emit(drep, out);
        drep.put_u32(out, u32::from(self.major) | u32::from(self.minor) << 16);
    }

    /// Reads 20 bytes.
    pub fn read(bytes: &[u8; 20], drep: DataRep) -> Self {
        let mut uuid = [0u8; 16];
        uuid.copy_from_slice(&bytes[..16]);
        let version = drep.u32([bytes[16], bytes[17], bytes[18], bytes[19]]);
        Self { uuid: Uuid::read(&uuid, drep), major: (version & 0xFFFF) as u16, minor: (version >> 16) as u16 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ndr20_is_written_as_windows_writes_it() {
        let mut out = Vec::new();
        SyntaxId::ndr20().emit(DataRep::NATIVE, &mut out);
        assert_eq!(
            out,
            [
                0x04, 0x5d, 0x88, 0x8a, 0xeb, 0x1c, 0xc9, 0x11, 0x9f, 0xe8, 0x08, 0x00, 0x2b, 0x10, 0x48, 0x60, 2, 0,
                0, 0
            ]
        );
        assert_eq!(SyntaxId::read(&out.try_into().unwrap(), DataRep::NATIVE), SyntaxId::ndr20());
        let mut big = Vec::new();
        SyntaxId::ndr20().emit(DataRep::BIG_ENDIAN, &mut big);
        assert_eq!(&big[..4], &[0x8a, 0x88, 0x5d, 0x04]);
        assert_eq!(&big[16..], &[0, 0, 0, 2], "the version is one big-endian u_int32, major in the low half");
        assert_eq!(SyntaxId::read(&big.try_into().unwrap(), DataRep::BIG_ENDIAN), SyntaxId::ndr20());
    }
}
