//! NDR20 marshalling of whole types: the [`Ndr`] trait that
//! `#[derive(Ndr)]` implements, the [`Codec`]s that field attributes select
//! (`[unique]`, `[ref]`, `[string]`), and the array shapes of C706 §14.3.3
//! (conformant, varying, conformant-varying).
//!
//! # The two phases
//!
//! NDR writes a constructed value in two parts: first its *flat* part
//! (every primitive and every embedded pointer's referent id, in field
//! order), then the *deferred* part: the referents of the embedded
//! pointers, in the same order, each referent's own flat part followed at
//! once by its own deferred part. A top-level parameter is written whole
//! (flat, then deferred) before the next one. Samba's `NDR_SCALARS` and
//! `NDR_BUFFERS` are the same two phases.
//!
//! Reading mirrors writing: [`Ndr::get_flat`] reads the flat part into a
//! [`Ndr::Flat`] (for a pointer: whether it is NULL), and
//! [`Ndr::get_deferred`] completes it into the value.
//!
//! ```
//! use switchboard_rpc_proto::marshal::{self, Ndr};
//! use switchboard_rpc_proto::DataRep;
//!
//! /// `typedef struct { long id; [string] wchar_t *name; } ITEM;`
//! #[derive(Ndr, Debug, PartialEq)]
//! struct Item {
//!     id: i32,
//!     #[ndr(string)]
//!     name: Option<String>,
//! }
//!
//! let items = [Item { id: 1, name: Some("ab".into()) }, Item { id: 2, name: None }];
//! let mut w = switchboard_rpc_proto::ndr::NdrWriter::new();
//! for item in &items {
//!     item.put_flat(&mut w);
//! }
//! for item in &items {
//!     item.put_deferred(&mut w);
//! }
//! let bytes = w.into_bytes();
//! // id 1, a referent id, id 2, NULL; then "ab": max 3, offset 0, length 3, a b NUL.
//! assert_eq!(bytes.len(), 16 + 12 + 6);
//! let mut r = switchboard_rpc_proto::ndr::NdrReader::new(&bytes, DataRep::NATIVE);
//! let flats = [Item::get_flat(&mut r).unwrap(), Item::get_flat(&mut r).unwrap()];
//! let back: Vec<Item> = flats.into_iter().map(|f| Item::get_deferred(f, &mut r).unwrap()).collect();
//! assert_eq!(back, items);
//! ```

use std::marker::PhantomData;

use crate::ndr::{NdrError, NdrReader, NdrWriter};
use crate::uuid::Uuid;

pub use switchboard_rpc_derive::Ndr;

/// A type with an NDR20 representation.
///
/// Implemented for the integers, `f32`/`f64`, `bool` (one octet), [`Uuid`],
/// [`ContextHandle`], fixed arrays `[T; N]`, `Box<T>` (the same as `T`) and
/// `Option<T>` (a `[unique]` pointer to `T`), and by `#[derive(Ndr)]`.
pub trait Ndr: Sized {
    /// The alignment of the flat part (1, 2, 4 or 8).
    const ALIGN: usize;
    /// What [`Ndr::get_flat`] reads: the value itself for a type without
    /// pointers.
    type Flat;
    /// Writes the flat part.
    fn put_flat(&self, w: &mut NdrWriter);
    /// Writes the deferred part (the referents of embedded pointers).
    fn put_deferred(&self, w: &mut NdrWriter) {
        let _ = w;
    }
    /// Reads the flat part.
    fn get_flat(r: &mut NdrReader<'_>) -> Result<Self::Flat, NdrError>;
    /// Reads the deferred part, completing the value.
    fn get_deferred(flat: Self::Flat, r: &mut NdrReader<'_>) -> Result<Self, NdrError>;

    /// Whether this is a conformant structure: one that ends with a
    /// conformant array (or with another conformant structure). Its
    /// conformance comes first, hoisted to the front of the outermost
    /// structure that ends with it (C706 14.3.7.1).
    const CONFORMANT: bool = false;
    /// Writes the hoisted conformance (conformant structures only).
    fn put_conformance(&self, w: &mut NdrWriter) {
        let _ = w;
    }
    /// Writes the flat part but the hoisted conformance.
    fn put_flat_hoisted(&self, w: &mut NdrWriter) {
        self.put_flat(w);
    }
    /// Reads the hoisted conformance (conformant structures only).
    fn get_conformance(r: &mut NdrReader<'_>) -> Result<u32, NdrError> {
        let _ = r;
        Ok(0)
    }
    /// Reads the flat part whose conformance `max` was read already.
    fn get_flat_hoisted(r: &mut NdrReader<'_>, max: u32) -> Result<Self::Flat, NdrError> {
        let _ = max;
        Self::get_flat(r)
    }
}

/// Writes `v` whole, as a top-level parameter: flat part, then referents.
pub fn put<T: Ndr>(v: &T, w: &mut NdrWriter) {
    v.put_flat(w);
    v.put_deferred(w);
}

/// Reads a value written by [`put`].
pub fn get<T: Ndr>(r: &mut NdrReader<'_>) -> Result<T, NdrError> {
    let flat = T::get_flat(r)?;
    T::get_deferred(flat, r)
}

/// How a field or parameter of type `T` is written: what an attribute
/// selects (`[unique]`, `[ref]`, `[string]`), [`Plain`] when there is none.
pub trait Codec<T> {
    /// The alignment of the flat part.
    const ALIGN: usize;
    /// What the flat part reads into.
    type Flat;
    /// Writes the flat part of `v`.
    fn put_flat(v: &T, w: &mut NdrWriter);
    /// Writes the deferred part of `v`.
    fn put_deferred(v: &T, w: &mut NdrWriter);
    /// Reads the flat part.
    fn get_flat(r: &mut NdrReader<'_>) -> Result<Self::Flat, NdrError>;
    /// Completes the value.
    fn get_deferred(flat: Self::Flat, r: &mut NdrReader<'_>) -> Result<T, NdrError>;
}

/// The type's own representation ([`Ndr`]).
#[derive(Debug)]
pub struct Plain;

impl<T: Ndr> Codec<T> for Plain {
    const ALIGN: usize = T::ALIGN;
    type Flat = T::Flat;
    fn put_flat(v: &T, w: &mut NdrWriter) {
        v.put_flat(w);
    }
    fn put_deferred(v: &T, w: &mut NdrWriter) {
        v.put_deferred(w);
    }
    fn get_flat(r: &mut NdrReader<'_>) -> Result<T::Flat, NdrError> {
        T::get_flat(r)
    }
    fn get_deferred(flat: T::Flat, r: &mut NdrReader<'_>) -> Result<T, NdrError> {
        T::get_deferred(flat, r)
    }
}

/// A `[unique]` (or `[ptr]`, without aliasing) embedded pointer to what
/// `C` writes: a referent id (0 for NULL), the referent deferred.
#[derive(Debug)]
pub struct Unique<C>(PhantomData<C>);

impl<T, C: Codec<T>> Codec<Option<T>> for Unique<C> {
    const ALIGN: usize = 4;
    type Flat = bool;
    fn put_flat(v: &Option<T>, w: &mut NdrWriter) {
        w.pointer(v.is_some());
    }
    fn put_deferred(v: &Option<T>, w: &mut NdrWriter) {
        if let Some(v) = v {
            C::put_flat(v, w);
            C::put_deferred(v, w);
        }
    }
    fn get_flat(r: &mut NdrReader<'_>) -> Result<bool, NdrError> {
        Ok(r.pointer()?.is_some())
    }
    fn get_deferred(present: bool, r: &mut NdrReader<'_>) -> Result<Option<T>, NdrError> {
        if !present {
            return Ok(None);
        }
        r.enter()?;
        let flat = C::get_flat(r)?;
        let value = C::get_deferred(flat, r)?;
        r.leave();
        Ok(Some(value))
    }
}

/// An embedded `[ref]` pointer: a referent id that is never 0, the
/// referent deferred. (A top-level `[ref]` parameter has no id: it is
/// written as its referent.)
#[derive(Debug)]
pub struct Ref<C>(PhantomData<C>);

impl<T, C: Codec<T>> Codec<T> for Ref<C> {
    const ALIGN: usize = 4;
    type Flat = ();
    fn put_flat(_: &T, w: &mut NdrWriter) {
        w.pointer(true);
    }
    fn put_deferred(v: &T, w: &mut NdrWriter) {
        C::put_flat(v, w);
        C::put_deferred(v, w);
    }
    fn get_flat(r: &mut NdrReader<'_>) -> Result<(), NdrError> {
        match r.pointer()? {
            Some(_) => Ok(()),
            None => Err(r.error("a NULL [ref] pointer")),
        }
    }
    fn get_deferred((): (), r: &mut NdrReader<'_>) -> Result<T, NdrError> {
        r.enter()?;
        let flat = C::get_flat(r)?;
        let value = C::get_deferred(flat, r)?;
        r.leave();
        Ok(value)
    }
}

/// A `[string] wchar_t` string (the referent): maximum count, offset 0,
/// actual count, the UTF-16 units and their NUL.
#[derive(Debug)]
pub struct WStr;

impl Codec<String> for WStr {
    const ALIGN: usize = 4;
    type Flat = String;
    fn put_flat(v: &String, w: &mut NdrWriter) {
        w.wide_string(v);
    }
    fn put_deferred(_: &String, _: &mut NdrWriter) {}
    fn get_flat(r: &mut NdrReader<'_>) -> Result<String, NdrError> {
        r.wide_string()
    }
    fn get_deferred(flat: String, _: &mut NdrReader<'_>) -> Result<String, NdrError> {
        Ok(flat)
    }
}

/// A `[string] char` string (the referent), UTF-8 on both sides: maximum
/// count, offset 0, actual count, the bytes and their NUL.
#[derive(Debug)]
pub struct AStr;

impl Codec<String> for AStr {
    const ALIGN: usize = 4;
    type Flat = String;
    fn put_flat(v: &String, w: &mut NdrWriter) {
        w.u32(u32::try_from(v.len() + 1).unwrap_or(u32::MAX));
        put_char_string(w, v);
    }
    fn put_deferred(_: &String, _: &mut NdrWriter) {}
    fn get_flat(r: &mut NdrReader<'_>) -> Result<String, NdrError> {
        let max = r.u32()?;
        get_char_string(r, usize::try_from(max).unwrap_or(usize::MAX))
    }
    fn get_deferred(flat: String, _: &mut NdrReader<'_>) -> Result<String, NdrError> {
        Ok(flat)
    }
}

/// A `[string] char name[N]` in place: a varying string (offset 0, actual
/// count, the bytes and their NUL) of at most `N` bytes, NUL included.
#[derive(Debug)]
pub struct AVStr<const N: usize>;

impl<const N: usize> Codec<String> for AVStr<N> {
    const ALIGN: usize = 4;
    type Flat = String;
    fn put_flat(v: &String, w: &mut NdrWriter) {
        // Cut to N - 1 bytes (on a character boundary) so the NUL fits.
        let mut end = v.len().min(N.saturating_sub(1));
        while !v.is_char_boundary(end) {
            end -= 1;
        }
        put_char_string(w, &v[..end]);
    }
    fn put_deferred(_: &String, _: &mut NdrWriter) {}
    fn get_flat(r: &mut NdrReader<'_>) -> Result<String, NdrError> {
        get_char_string(r, N)
    }
    fn get_deferred(flat: String, _: &mut NdrReader<'_>) -> Result<String, NdrError> {
        Ok(flat)
    }
}

/// The varying part of a `[string] char` string: offset 0, the actual
/// count, the bytes and their NUL.
fn put_char_string(w: &mut NdrWriter, text: &str) {
    w.u32(0);
    w.u32(u32::try_from(text.len() + 1).unwrap_or(u32::MAX));
    w.bytes(text.as_bytes());
    w.u8(0);
}

/// Reads what [`put_char_string`] writes, of at most `max` bytes, NUL
/// included; UTF-8 only.
fn get_char_string(r: &mut NdrReader<'_>, max: usize) -> Result<String, NdrError> {
    let (offset, actual) = (r.u32()?, r.u32()?);
    let n = usize::try_from(actual).unwrap_or(usize::MAX);
    if offset != 0 || n > max {
        return Err(r.error(format!("a char string of max {max}, offset {offset}, length {actual}")));
    }
    let bytes = r.bytes(n)?;
    let text = match bytes.split_last() {
        Some((0, text)) => text,
        None => &[][..],
        Some(_) => return Err(r.error("a [string] without its terminating NUL")),
    };
    String::from_utf8(text.to_vec()).map_err(|_| r.error("a char string that is not UTF-8"))
}

macro_rules! primitive {
    ($($t:ty, $align:expr, $put:ident, $get:ident, $conv:expr, $back:expr;)*) => {$(
        impl Ndr for $t {
            const ALIGN: usize = $align;
            type Flat = $t;
            fn put_flat(&self, w: &mut NdrWriter) {
                #[allow(clippy::redundant_closure_call)]
                w.$put(($conv)(*self));
            }
            fn get_flat(r: &mut NdrReader<'_>) -> Result<$t, NdrError> {
                #[allow(clippy::redundant_closure_call)]
                r.$get().map($back)
            }
            fn get_deferred(flat: $t, _: &mut NdrReader<'_>) -> Result<$t, NdrError> {
                Ok(flat)
            }
        }
    )*};
}

primitive! {
    u8, 1, u8, u8, |v| v, |v| v;
    i8, 1, u8, u8, i8::cast_unsigned, u8::cast_signed;
    u16, 2, u16, u16, |v| v, |v| v;
    i16, 2, u16, u16, i16::cast_unsigned, u16::cast_signed;
    u32, 4, u32, u32, |v| v, |v| v;
    i32, 4, u32, u32, i32::cast_unsigned, u32::cast_signed;
    u64, 8, u64, u64, |v| v, |v| v;
    i64, 8, u64, u64, i64::cast_unsigned, u64::cast_signed;
    f32, 4, u32, u32, f32::to_bits, f32::from_bits;
    f64, 8, u64, u64, f64::to_bits, f64::from_bits;
    bool, 1, u8, u8, u8::from, |v| v != 0;
}

impl Ndr for Uuid {
    const ALIGN: usize = 4;
    type Flat = Uuid;
    fn put_flat(&self, w: &mut NdrWriter) {
        w.u32(self.d1);
        w.u16(self.d2);
        w.u16(self.d3);
        w.bytes(&self.d4);
    }
    fn get_flat(r: &mut NdrReader<'_>) -> Result<Uuid, NdrError> {
        let (d1, d2, d3) = (r.u32()?, r.u16()?, r.u16()?);
        let mut d4 = [0u8; 8];
        d4.copy_from_slice(r.bytes(8)?);
        Ok(Uuid { d1, d2, d3, d4 })
    }
    fn get_deferred(flat: Uuid, _: &mut NdrReader<'_>) -> Result<Uuid, NdrError> {
        Ok(flat)
    }
}

/// A context handle (`[context_handle] void *`): 20 bytes the server
/// hands out and the client gives back. All zero is the NULL handle.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ContextHandle {
    /// Attributes (0).
    pub attributes: u32,
    /// The handle's identity.
    pub uuid: Uuid,
}

impl ContextHandle {
    /// Whether this is the NULL handle (a closed one).
    pub fn is_null(&self) -> bool {
        *self == Self::default()
    }
}

impl Ndr for ContextHandle {
    const ALIGN: usize = 4;
    type Flat = ContextHandle;
    fn put_flat(&self, w: &mut NdrWriter) {
        w.u32(self.attributes);
        self.uuid.put_flat(w);
    }
    fn get_flat(r: &mut NdrReader<'_>) -> Result<ContextHandle, NdrError> {
        Ok(ContextHandle { attributes: r.u32()?, uuid: Uuid::get_flat(r)? })
    }
    fn get_deferred(flat: ContextHandle, _: &mut NdrReader<'_>) -> Result<ContextHandle, NdrError> {
        Ok(flat)
    }
}

impl<T: Ndr> Ndr for Box<T> {
    const ALIGN: usize = T::ALIGN;
    const CONFORMANT: bool = T::CONFORMANT;
    type Flat = T::Flat;
    fn put_conformance(&self, w: &mut NdrWriter) {
        (**self).put_conformance(w);
    }
    fn put_flat_hoisted(&self, w: &mut NdrWriter) {
        (**self).put_flat_hoisted(w);
    }
    fn get_conformance(r: &mut NdrReader<'_>) -> Result<u32, NdrError> {
        T::get_conformance(r)
    }
    fn get_flat_hoisted(r: &mut NdrReader<'_>, max: u32) -> Result<T::Flat, NdrError> {
        T::get_flat_hoisted(r, max)
    }
    fn put_flat(&self, w: &mut NdrWriter) {
        (**self).put_flat(w);
    }
    fn put_deferred(&self, w: &mut NdrWriter) {
        (**self).put_deferred(w);
    }
    fn get_flat(r: &mut NdrReader<'_>) -> Result<T::Flat, NdrError> {
        T::get_flat(r)
    }
    fn get_deferred(flat: T::Flat, r: &mut NdrReader<'_>) -> Result<Self, NdrError> {
        T::get_deferred(flat, r).map(Box::new)
    }
}

/// `Option<T>` is a `[unique]` pointer to `T`.
impl<T: Ndr> Ndr for Option<T> {
    const ALIGN: usize = 4;
    type Flat = bool;
    fn put_flat(&self, w: &mut NdrWriter) {
        <Unique<Plain> as Codec<Self>>::put_flat(self, w);
    }
    fn put_deferred(&self, w: &mut NdrWriter) {
        <Unique<Plain> as Codec<Self>>::put_deferred(self, w);
    }
    fn get_flat(r: &mut NdrReader<'_>) -> Result<bool, NdrError> {
        <Unique<Plain> as Codec<Self>>::get_flat(r)
    }
    fn get_deferred(flat: bool, r: &mut NdrReader<'_>) -> Result<Self, NdrError> {
        <Unique<Plain> as Codec<Self>>::get_deferred(flat, r)
    }
}

/// A fixed array `T a[N]`: the elements' flat parts, then their referents.
impl<T: Ndr, const N: usize> Ndr for [T; N] {
    const ALIGN: usize = T::ALIGN;
    type Flat = Vec<T::Flat>;
    fn put_flat(&self, w: &mut NdrWriter) {
        for v in self {
            v.put_flat(w);
        }
    }
    fn put_deferred(&self, w: &mut NdrWriter) {
        for v in self {
            v.put_deferred(w);
        }
    }
    fn get_flat(r: &mut NdrReader<'_>) -> Result<Vec<T::Flat>, NdrError> {
        (0..N).map(|_| T::get_flat(r)).collect()
    }
    fn get_deferred(flat: Vec<T::Flat>, r: &mut NdrReader<'_>) -> Result<Self, NdrError> {
        let values: Vec<T> = flat.into_iter().map(|f| T::get_deferred(f, r)).collect::<Result<_, _>>()?;
        values.try_into().map_err(|_| r.error("a fixed array of the wrong length"))
    }
}

/// The larger of two alignments (for a structure's, in a `const`).
pub const fn max_align(a: usize, b: usize) -> usize {
    if a > b { a } else { b }
}

/// An integer used as a count or a union discriminant (`size_is`,
/// `length_is`, `switch_is`): its value, saturated into `u32`.
pub trait Count {
    /// The value as a count (negative values count as 0).
    fn count(&self) -> u32;
}

macro_rules! count {
    ($($t:ty),*) => {$(
        impl Count for $t {
            fn count(&self) -> u32 {
                u32::try_from(*self).unwrap_or(if *self > 0 as $t { u32::MAX } else { 0 })
            }
        }
    )*};
}
count!(u8, u16, u32, u64, usize, i8, i16, i32, i64);

impl<T: Count> Count for &T {
    fn count(&self) -> u32 {
        (**self).count()
    }
}

/// Where an array's maximum count comes from when reading it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Conformance {
    /// Read just before the array (a pointer's referent, a parameter).
    Inline,
    /// Already read at the start of the enclosing structure.
    Hoisted(u32),
    /// No conformance: a varying array of at most this many elements.
    Fixed(u32),
}

/// Writes an array's flat part: its maximum count when `max` is given (a
/// conformant array not hoisted), its offset (0) and actual count when it
/// is `varying`, then the elements' flat parts.
pub fn put_array_flat<T, C: Codec<T>>(w: &mut NdrWriter, items: &[T], max: Option<u32>, varying: bool) {
    let len = u32::try_from(items.len()).unwrap_or(u32::MAX);
    if let Some(max) = max {
        w.u32(max.max(len));
    }
    if varying {
        w.u32(0);
        w.u32(len);
    }
    if !items.is_empty() {
        w.align(C::ALIGN);
    }
    for v in items {
        C::put_flat(v, w);
    }
}

/// Writes the elements' deferred parts.
pub fn put_array_deferred<T, C: Codec<T>>(w: &mut NdrWriter, items: &[T]) {
    for v in items {
        C::put_deferred(v, w);
    }
}

/// Reads an array's flat part (see [`put_array_flat`]). Counts are checked
/// against the bytes left, so a forged count allocates nothing.
pub fn get_array_flat<T, C: Codec<T>>(
    r: &mut NdrReader<'_>,
    conformance: Conformance,
    varying: bool,
) -> Result<Vec<C::Flat>, NdrError> {
    let max = match conformance {
        Conformance::Inline => r.u32()?,
        Conformance::Hoisted(n) | Conformance::Fixed(n) => n,
    };
    let n = if varying {
        let (offset, actual) = (r.u32()?, r.u32()?);
        if offset != 0 || actual > max {
            return Err(r.error(format!("a varying array of max {max}, offset {offset}, length {actual}")));
        }
        actual
    } else {
        max
    };
    let n = usize::try_from(n).unwrap_or(usize::MAX);
    if n > r.remaining() {
        return Err(r.error(format!("an array of {n} elements with {} bytes left", r.remaining())));
    }
    if n > 0 {
        r.align(C::ALIGN)?;
    }
    // Reserve no more than a few thousand up front: an element's flat form
    // may be far larger than its bytes on the wire.
    let mut flats = Vec::with_capacity(n.min(4096));
    for _ in 0..n {
        flats.push(C::get_flat(r)?);
    }
    Ok(flats)
}

/// Completes the elements read by [`get_array_flat`].
pub fn get_array_deferred<T, C: Codec<T>>(r: &mut NdrReader<'_>, flats: Vec<C::Flat>) -> Result<Vec<T>, NdrError> {
    flats.into_iter().map(|f| C::get_deferred(f, r)).collect()
}

/// Checks a decoded array's length against its `size_is`/`length_is`.
pub fn check_count(r: &NdrReader<'_>, what: &str, len: usize, expected: u32) -> Result<(), NdrError> {
    if u32::try_from(len).ok() == Some(expected) {
        Ok(())
    } else {
        Err(r.error(format!("{what}: {len} elements where the count says {expected}")))
    }
}

/// A union: which arm a value is (its discriminant), checked against the
/// `switch_is` of the field that holds it.
pub trait Switched {
    /// The discriminant of the arm.
    fn switch(&self) -> u32;
}

/// Checks a union's discriminant against its `switch_is`.
pub fn check_switch(r: &NdrReader<'_>, what: &str, found: u32, expected: u32) -> Result<(), NdrError> {
    if found == expected {
        Ok(())
    } else {
        Err(r.error(format!("{what}: union arm {found} where switch_is says {expected}")))
    }
}

#[cfg(test)]
mod tests;
