//! `#[derive(Ndr)]` and `#[interface]` for `switchboard-rpc-proto` (and,
//! re-exported, `switchboard-rpc`). The generated code calls
//! `switchboard_rpc_proto::marshal`; see that module for the wire rules and
//! the crate's documentation for the attributes.
//!
//! Each macro comes twice: `Ndr` and `interface` name
//! `::switchboard_rpc_proto` in what they generate, `NdrInRpc` and
//! `interface_in_rpc` (re-exported by `switchboard-rpc` as `Ndr` and
//! `interface`) name `::switchboard_rpc`, which re-exports the same items
//! under the same paths; so a crate needs only the one of the two it uses.
//!
//! Field attributes (`#[ndr(...)]`), as in IDL:
//! - `string` (a `[string] wchar_t*`; with `char`, a `[string] char*`) on
//!   `String` or `Option<String>`;
//! - `ref`, `unique`, `ptr`: the pointer kind (`Option<T>` is `[unique]`);
//! - `size_is = EXPR`, `length_is = EXPR` on `Vec<T>` (a conformant,
//!   varying or conformant-varying array; last in its structure unless it
//!   is behind a pointer) or `Option<Vec<T>>` (a pointer to one); `EXPR`
//!   names other fields (or parameters);
//! - `switch_is = EXPR` on a union field;
//! - `string, char, fixed = N` on `String`: a `[string] char name[N]` in place.
//!
//! Type attributes: `v1_enum` (a 32-bit enum; 16-bit otherwise),
//! `switch_type = TYPE` and `encapsulated` for unions; on a union's
//! variant, `case = VALUE`.
#![forbid(unsafe_code)]

use std::cell::Cell;

use proc_macro::TokenStream;
use proc_macro2::TokenStream as Tokens;
use quote::{format_ident, quote};
use syn::spanned::Spanned;
use syn::{Attribute, Data, DeriveInput, Error, Expr, Fields, GenericArgument, Ident, PathArguments, Type};

mod interface;

/// The crate the generated code names.
#[derive(Clone, Copy)]
enum Root {
    /// `::switchboard_rpc_proto`: the macros as that crate exports them.
    Proto,
    /// `::switchboard_rpc`: the macros as that crate re-exports them.
    Rpc,
}

thread_local! {
    /// The root of the expansion under way. Every generator names it, many
    /// small functions deep; one expansion runs start to end on one thread,
    /// and [`with_root`] sets it for exactly that long.
    static ROOT: Cell<Root> = const { Cell::new(Root::Proto) };
}

/// Runs one expansion with `root` as the crate its code names.
fn with_root<T>(root: Root, expand: impl FnOnce() -> T) -> T {
    let before = ROOT.replace(root);
    let out = expand();
    ROOT.set(before);
    out
}

/// The path of the crate the generated code names (see [`Root`]).
pub(crate) fn root() -> Tokens {
    match ROOT.get() {
        Root::Proto => quote!(::switchboard_rpc_proto),
        Root::Rpc => quote!(::switchboard_rpc),
    }
}

/// Implements `switchboard_rpc_proto::marshal::Ndr` for a structure (named
/// fields), a union (an enum whose variants carry `#[ndr(case = N)]`) or an
/// enumeration (an enum of unit variants with explicit discriminants).
#[proc_macro_derive(Ndr, attributes(ndr))]
pub fn derive_ndr(input: TokenStream) -> TokenStream {
    with_root(Root::Proto, || derive(input))
}

/// [`macro@Ndr`] naming `::switchboard_rpc`: `switchboard-rpc` re-exports it as `Ndr`.
#[doc(hidden)]
#[proc_macro_derive(NdrInRpc, attributes(ndr))]
pub fn derive_ndr_in_rpc(input: TokenStream) -> TokenStream {
    with_root(Root::Rpc, || derive(input))
}

fn derive(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as DeriveInput);
    expand(&input).unwrap_or_else(Error::into_compile_error).into()
}

/// Declares a DCE/RPC interface from a trait: generates the server side
/// (`<Trait>Server<T>`, a `switchboard_rpc_proto::server::Interface`) and
/// the client stubs (`<Trait>Client<C>`, over a
/// `switchboard_rpc_proto::client::Call`). Arguments: `uuid = "…"`,
/// `version = "MAJOR.MINOR"`. Operations are numbered in order (or by
/// `#[opnum(N)]`); `&mut T` parameters are `[out]` (with `#[ndr(in)]`,
/// `[in, out]`), the others `[in]`.
#[proc_macro_attribute]
pub fn interface(args: TokenStream, item: TokenStream) -> TokenStream {
    with_root(Root::Proto, || declare(args, item))
}

/// [`macro@interface`] naming `::switchboard_rpc`: `switchboard-rpc` re-exports it as `interface`.
#[doc(hidden)]
#[proc_macro_attribute]
pub fn interface_in_rpc(args: TokenStream, item: TokenStream) -> TokenStream {
    with_root(Root::Rpc, || declare(args, item))
}

fn declare(args: TokenStream, item: TokenStream) -> TokenStream {
    let item = syn::parse_macro_input!(item as syn::ItemTrait);
    interface::expand(args.into(), item).unwrap_or_else(Error::into_compile_error).into()
}

/// What `#[ndr(...)]` says of a field, a parameter or a variant.
#[derive(Default)]
#[allow(clippy::struct_excessive_bools)] // one flag per IDL attribute
pub(crate) struct Attrs {
    pub string: bool,
    pub char: bool,
    pub reference: bool,
    pub size_is: Option<Expr>,
    pub length_is: Option<Expr>,
    pub switch_is: Option<Expr>,
    pub case: Option<Expr>,
    pub fixed: Option<Expr>,
    pub input: bool,
}

pub(crate) fn parse_attrs(attrs: &[Attribute]) -> syn::Result<Attrs> {
    let mut out = Attrs::default();
    for attr in attrs.iter().filter(|a| a.path().is_ident("ndr")) {
        attr.parse_nested_meta(|meta| {
            let p = &meta.path;
            if p.is_ident("string") {
                out.string = true;
            } else if p.is_ident("char") {
                out.char = true;
            } else if p.is_ident("ref") {
                out.reference = true;
            } else if p.is_ident("unique") || p.is_ident("ptr") {
                out.reference = false;
            } else if p.is_ident("in") {
                out.input = true;
            } else if p.is_ident("size_is") {
                out.size_is = Some(meta.value()?.parse()?);
            } else if p.is_ident("length_is") {
                out.length_is = Some(meta.value()?.parse()?);
            } else if p.is_ident("switch_is") {
                out.switch_is = Some(meta.value()?.parse()?);
            } else if p.is_ident("fixed") {
                out.fixed = Some(meta.value()?.parse()?);
            } else if p.is_ident("case") {
                out.case = Some(meta.value()?.parse()?);
            } else {
                return Err(meta.error("unknown ndr attribute"));
            }
            Ok(())
        })?;
    }
    Ok(out)
}

/// `T` when `ty` is `Wrapper<T>`.
pub(crate) fn unwrap<'a>(ty: &'a Type, wrapper: &str) -> Option<&'a Type> {
    let Type::Path(p) = ty else { return None };
    let last = p.path.segments.last()?;
    if last.ident != wrapper {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &last.arguments else { return None };
    match args.args.first()? {
        GenericArgument::Type(t) if args.args.len() == 1 => Some(t),
        _ => None,
    }
}

/// The codec type of a value of type `ty` that is not an array.
/// `embedded`: in a structure or an array (a `[ref]` pointer then has a
/// referent id), rather than a top-level parameter.
pub(crate) fn codec(ty: &Type, a: &Attrs, embedded: bool) -> Tokens {
    let root = crate::root();
    let m = quote!(#root::marshal);
    if let (true, Some(n)) = (a.string, &a.fixed) {
        // `[string] char name[N]`: in place, never a pointer.
        quote!(#m::AVStr<{ #n }>)
    } else if a.string {
        let base = if a.char { quote!(#m::AStr) } else { quote!(#m::WStr) };
        if unwrap(ty, "Option").is_some() {
            quote!(#m::Unique<#base>)
        } else if embedded {
            quote!(#m::Ref<#base>)
        } else {
            base
        }
    } else if a.reference && embedded && unwrap(ty, "Option").is_none() {
        quote!(#m::Ref<#m::Plain>)
    } else {
        quote!(#m::Plain)
    }
}

/// How an array is held.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Holder {
    /// In place, last in a structure (conformance hoisted), or a top-level parameter.
    Inline,
    /// Behind a `[unique]` pointer (`Option<Vec<T>>`).
    Unique,
    /// Behind an embedded `[ref]` pointer.
    Ref,
}

/// An array field or parameter.
pub(crate) struct Array<'a> {
    pub holder: Holder,
    pub elem: &'a Type,
    pub elem_codec: Tokens,
    pub varying: bool,
}

pub(crate) fn array<'a>(ty: &'a Type, a: &Attrs, embedded: bool) -> syn::Result<Option<Array<'a>>> {
    if a.size_is.is_none() && a.length_is.is_none() {
        return Ok(None);
    }
    let (holder, vec) = match unwrap(ty, "Option") {
        Some(inner) => (Holder::Unique, inner),
        None if a.reference && embedded => (Holder::Ref, ty),
        None => (Holder::Inline, ty),
    };
    let Some(elem) = unwrap(vec, "Vec") else {
        return Err(Error::new(ty.span(), "size_is/length_is need a Vec<T> or an Option<Vec<T>>"));
    };
    let elem_attrs = Attrs { string: a.string, char: a.char, ..Attrs::default() };
    Ok(Some(Array { holder, elem, elem_codec: codec(elem, &elem_attrs, true), varying: a.length_is.is_some() }))
}

/// The expression of a count, its fields or parameters bound as locals.
pub(crate) fn count(e: &Expr) -> Tokens {
    let root = crate::root();
    quote!(#root::marshal::Count::count(&(#e)))
}

fn expand(input: &DeriveInput) -> syn::Result<Tokens> {
    if !input.generics.params.is_empty() {
        return Err(Error::new(input.generics.span(), "#[derive(Ndr)] takes no generic types"));
    }
    match &input.data {
        Data::Struct(s) => match &s.fields {
            Fields::Named(named) => structure(input, &named.named.iter().collect::<Vec<_>>()),
            _ => Err(Error::new(input.ident.span(), "#[derive(Ndr)] needs named fields")),
        },
        Data::Enum(e) => {
            let is_union = e
                .variants
                .iter()
                .any(|v| !v.fields.is_empty() || parse_attrs(&v.attrs).is_ok_and(|a| a.case.is_some()));
            if is_union { union(input, e) } else { enumeration(input, e) }
        }
        Data::Union(_) => Err(Error::new(input.ident.span(), "use an enum for an NDR union")),
    }
}

fn type_flag(attrs: &[Attribute], name: &str) -> syn::Result<bool> {
    let mut found = false;
    for attr in attrs.iter().filter(|a| a.path().is_ident("ndr")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident(name) {
                found = true;
            } else if meta.input.peek(syn::Token![=]) {
                let _: Tokens = meta.value()?.parse()?;
            }
            Ok(())
        })?;
    }
    Ok(found)
}

fn switch_type(attrs: &[Attribute]) -> syn::Result<Type> {
    let mut ty: Type = syn::parse_quote!(u32);
    for attr in attrs.iter().filter(|a| a.path().is_ident("ndr")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("switch_type") {
                ty = meta.value()?.parse()?;
            } else if meta.input.peek(syn::Token![=]) {
                let _: Tokens = meta.value()?.parse()?;
            }
            Ok(())
        })?;
    }
    Ok(ty)
}

/// The generated code of a structure, field by field.
#[derive(Default)]
struct Parts {
    align: Vec<Tokens>,
    flat_fields: Vec<Tokens>,
    put_flat: Vec<Tokens>,
    put_deferred: Vec<Tokens>,
    get_flat: Vec<Tokens>,
    get_deferred: Vec<Tokens>,
    checks: Vec<Tokens>,
    hoist_put: Tokens,
    hoist_get: Tokens,
    /// The structure ends with a conformant array in place.
    own_conformance: bool,
}

/// An array field: in place (its conformance hoisted) or behind a pointer.
fn array_field(
    p: &mut Parts,
    f: &Ident,
    field: &syn::Field,
    attrs: &Attrs,
    arr: &Array<'_>,
    what: &str,
    last: bool,
) -> syn::Result<()> {
    let root = crate::root();
    let m = quote!(#root::marshal);
    let (elem, codec_ty) = (arr.elem, &arr.elem_codec);
    let varying = arr.varying;
    let ec = quote!(<#codec_ty as #m::Codec<#elem>>);
    let len = if arr.holder == Holder::Inline { quote!(#f) } else { quote!(__v) };
    let max = attrs.size_is.as_ref().map_or_else(|| quote!(u32::try_from(#len.len()).unwrap_or(u32::MAX)), count);
    match arr.holder {
        Holder::Inline => {
            if attrs.size_is.is_some() {
                if !last {
                    return Err(Error::new(
                        field.span(),
                        "a conformant array in place must be the structure's last field (else make it a pointer: Option<Vec<T>>)",
                    ));
                }
                p.hoist_put = quote!(__w.align(4); __w.u32(#max););
                p.hoist_get = quote!(__r.align(4)?; let __max = __r.u32()?;);
                p.own_conformance = true;
            }
            let conf = if attrs.size_is.is_some() {
                quote!(#m::Conformance::Hoisted(__max))
            } else {
                quote!(#m::Conformance::Fixed(u32::MAX))
            };
            p.align.push(quote!(#m::max_align(#ec::ALIGN, if #varying { 4 } else { 1 })));
            p.flat_fields.push(quote!(#f: Vec<#ec::Flat>));
            p.put_flat.push(quote!(#m::put_array_flat::<#elem, #codec_ty>(__w, #f, None, #varying);));
            p.put_deferred.push(quote!(#m::put_array_deferred::<#elem, #codec_ty>(__w, #f);));
            p.get_flat.push(quote!(let #f = #m::get_array_flat::<#elem, #codec_ty>(__r, #conf, #varying).map_err(|e| e.within(#what))?;));
            p.get_deferred.push(
                quote!(let #f = #m::get_array_deferred::<#elem, #codec_ty>(__r, #f).map_err(|e| e.within(#what))?;),
            );
            p.checks.push(array_check(attrs, &quote!(#f.len()), what));
        }
        Holder::Unique | Holder::Ref => {
            let unique = arr.holder == Holder::Unique;
            p.align.push(quote!(4));
            p.flat_fields.push(quote!(#f: bool));
            let (present, value) =
                if unique { (quote!(#f.is_some()), quote!(#f)) } else { (quote!(true), quote!(Some(#f))) };
            p.put_flat.push(quote!(__w.pointer(#present);));
            p.put_deferred.push(quote!(
                if let Some(__v) = #value {
                    #m::put_array_flat::<#elem, #codec_ty>(__w, __v, Some(#max), #varying);
                    #m::put_array_deferred::<#elem, #codec_ty>(__w, __v);
                }
            ));
            let null_check = if unique {
                Tokens::new()
            } else {
                quote!(if !#f { return Err(__r.error(concat!(#what, ": a NULL [ref] pointer"))); })
            };
            p.get_flat.push(quote!(let #f = __r.pointer()?.is_some(); #null_check));
            let read = quote!({
                let __flats = #m::get_array_flat::<#elem, #codec_ty>(__r, #m::Conformance::Inline, #varying).map_err(|e| e.within(#what))?;
                Some(#m::get_array_deferred::<#elem, #codec_ty>(__r, __flats).map_err(|e| e.within(#what))?)
            });
            if unique {
                p.get_deferred.push(quote!(let #f = if #f #read else { None };));
                let check = array_check(attrs, &quote!(__v.len()), what);
                p.checks.push(quote!(if let Some(__v) = &#f { #check }));
            } else {
                p.get_deferred.push(quote!(let #f = (#read).unwrap_or_default();));
                p.checks.push(array_check(attrs, &quote!(#f.len()), what));
            }
        }
    }
    Ok(())
}

/// A field that is not an array: its codec's calls; for the last field
/// without attributes, the hoisting of a conformant structure's
/// conformance (the returned `<T as Ndr>`).
fn plain_field(p: &mut Parts, f: &Ident, ty: &Type, attrs: &Attrs, what: &str, last: bool) -> Option<Tokens> {
    let root = crate::root();
    let m = quote!(#root::marshal);
    let mut nested = None;
    let codec_ty = codec(ty, attrs, true);
    let tc = quote!(<#codec_ty as #m::Codec<#ty>>);
    let plain_last = last && !attrs.string && !attrs.reference;
    p.align.push(quote!(#tc::ALIGN));
    p.flat_fields.push(quote!(#f: #tc::Flat));
    p.put_deferred.push(quote!(#tc::put_deferred(#f, __w);));
    p.get_deferred.push(quote!(let #f = #tc::get_deferred(#f, __r).map_err(|e| e.within(#what))?;));
    if plain_last {
        let tn = quote!(<#ty as #m::Ndr>);
        nested = Some(tn.clone());
        p.put_flat.push(quote!(if #tn::CONFORMANT { #tn::put_flat_hoisted(#f, __w) } else { #tc::put_flat(#f, __w) }));
        p.get_flat.push(quote!(
            let #f = if #tn::CONFORMANT { #tn::get_flat_hoisted(__r, __max) } else { #tc::get_flat(__r) }
                .map_err(|e| e.within(#what))?;
        ));
        p.hoist_put = quote!(if #tn::CONFORMANT { #tn::put_conformance(#f, __w); });
        p.hoist_get = quote!(let __max = if #tn::CONFORMANT { #tn::get_conformance(__r)? } else { 0 };);
    } else {
        p.put_flat.push(quote!(#tc::put_flat(#f, __w);));
        p.get_flat.push(quote!(let #f = #tc::get_flat(__r).map_err(|e| e.within(#what))?;));
    }
    if let Some(e) = &attrs.switch_is {
        let expected = count(e);
        p.checks.push(quote!(#m::check_switch(__r, #what, #m::Switched::switch(&#f), #expected)?;));
    }
    nested
}

fn structure(input: &DeriveInput, fields: &[&syn::Field]) -> syn::Result<Tokens> {
    let root = crate::root();
    let m = quote!(#root::marshal);
    let (name, vis) = (&input.ident, &input.vis);
    let flat_name = format_ident!("__{}NdrFlat", name);
    let names: Vec<&Ident> = fields.iter().filter_map(|f| f.ident.as_ref()).collect();
    let mut p = Parts::default();
    // A structure ending with a conformant structure is conformant too:
    // the inner one's conformance is hoisted to the front of this one.
    let mut nested = Tokens::new();
    for (i, field) in fields.iter().enumerate() {
        let (f, ty) = (&names[i], &field.ty);
        let attrs = parse_attrs(&field.attrs)?;
        let what = format!("{name}.{f}");
        if let Some(arr) = array(ty, &attrs, true)? {
            array_field(&mut p, f, field, &attrs, &arr, &what, i + 1 == fields.len())?;
            continue;
        }
        if let Some(tn) = plain_field(&mut p, f, ty, &attrs, &what, i + 1 == fields.len()) {
            nested = tn;
        }
    }
    let (flat_fields, put_flat, put_deferred) = (p.flat_fields, p.put_flat, p.put_deferred);
    let (get_flat, get_deferred, checks, hoist_put, hoist_get) =
        (p.get_flat, p.get_deferred, p.checks, p.hoist_put, p.hoist_get);
    let align = p.align.into_iter().fold(quote!(1), |acc, a| quote!(#m::max_align(#acc, #a)));
    // Conformant: ends with a conformant array (hoisted here), or with a
    // structure that is conformant itself.
    let conformant = if p.own_conformance {
        quote!(true)
    } else if nested.is_empty() {
        quote!(false)
    } else {
        quote!(#nested::CONFORMANT)
    };
    let hoisted_align = quote!(if #conformant { 4 } else { 1 });
    let hoist_get = if hoist_get.is_empty() { quote!(let __max = 0u32;) } else { hoist_get };
    Ok(quote! {
        #[doc(hidden)]
        #[allow(non_camel_case_types, dead_code)]
        #vis struct #flat_name { #(#flat_fields,)* }

        #[automatically_derived]
        #[allow(unused_variables, unused_mut, clippy::all, clippy::pedantic)]
        impl #m::Ndr for #name {
            const ALIGN: usize = #m::max_align(#align, #hoisted_align);
            const CONFORMANT: bool = #conformant;
            type Flat = #flat_name;
            fn put_flat(&self, __w: &mut #root::ndr::NdrWriter) {
                if <Self as #m::Ndr>::CONFORMANT {
                    #m::Ndr::put_conformance(self, __w);
                }
                #m::Ndr::put_flat_hoisted(self, __w);
            }
            fn put_conformance(&self, __w: &mut #root::ndr::NdrWriter) {
                let Self { #(#names,)* } = self;
                #hoist_put
            }
            fn put_flat_hoisted(&self, __w: &mut #root::ndr::NdrWriter) {
                let Self { #(#names,)* } = self;
                __w.align(<Self as #m::Ndr>::ALIGN);
                #(#put_flat)*
            }
            fn put_deferred(&self, __w: &mut #root::ndr::NdrWriter) {
                let Self { #(#names,)* } = self;
                #(#put_deferred)*
            }
            fn get_flat(__r: &mut #root::ndr::NdrReader<'_>) -> Result<#flat_name, #root::ndr::NdrError> {
                let __max = if <Self as #m::Ndr>::CONFORMANT { <Self as #m::Ndr>::get_conformance(__r)? } else { 0 };
                <Self as #m::Ndr>::get_flat_hoisted(__r, __max)
            }
            fn get_conformance(__r: &mut #root::ndr::NdrReader<'_>) -> Result<u32, #root::ndr::NdrError> {
                #hoist_get
                Ok(__max)
            }
            fn get_flat_hoisted(__r: &mut #root::ndr::NdrReader<'_>, __max: u32) -> Result<#flat_name, #root::ndr::NdrError> {
                __r.align(<Self as #m::Ndr>::ALIGN)?;
                #(#get_flat)*
                Ok(#flat_name { #(#names,)* })
            }
            fn get_deferred(__flat: #flat_name, __r: &mut #root::ndr::NdrReader<'_>) -> Result<Self, #root::ndr::NdrError> {
                let #flat_name { #(#names,)* } = __flat;
                #(#get_deferred)*
                #(#checks)*
                Ok(Self { #(#names,)* })
            }
        }
    })
}

/// The check of a decoded array's length against its `length_is` (when
/// varying) or `size_is`.
pub(crate) fn array_check(a: &Attrs, len: &Tokens, what: &str) -> Tokens {
    let root = crate::root();
    let m = quote!(#root::marshal);
    match (&a.length_is, &a.size_is) {
        (Some(e), _) | (None, Some(e)) => {
            let n = count(e);
            quote!(#m::check_count(__r, #what, #len, #n)?;)
        }
        (None, None) => Tokens::new(),
    }
}

fn union(input: &DeriveInput, e: &syn::DataEnum) -> syn::Result<Tokens> {
    let root = crate::root();
    let m = quote!(#root::marshal);
    let (name, vis) = (&input.ident, &input.vis);
    let flat_name = format_ident!("__{}NdrFlat", name);
    let st = switch_type(&input.attrs)?;
    let encapsulated = type_flag(&input.attrs, "encapsulated")?;
    let (mut arms_align, mut flat_variants, mut put_flat, mut put_deferred) = (vec![], vec![], vec![], vec![]);
    let (mut get_flat, mut get_deferred, mut switch) = (vec![], vec![], vec![]);
    for v in &e.variants {
        let vn = &v.ident;
        let va = parse_attrs(&v.attrs)?;
        let Some(case) = va.case else {
            return Err(Error::new(v.span(), "every arm of a union needs #[ndr(case = VALUE)]"));
        };
        let case_count = count(&case);
        switch.push(if let Fields::Unit = &v.fields {
            quote!(Self::#vn => #case_count,)
        } else {
            quote!(Self::#vn(..) => #case_count,)
        });
        let put_case = quote!(let __d: #st = #case; <#st as #m::Ndr>::put_flat(&__d, __w););
        match &v.fields {
            Fields::Unit => {
                flat_variants.push(quote!(#vn));
                put_flat.push(quote!(Self::#vn => { #put_case }));
                put_deferred.push(quote!(Self::#vn => {}));
                get_flat.push(quote!(__d if __d == #case_count => #flat_name::#vn,));
                get_deferred.push(quote!(#flat_name::#vn => Self::#vn,));
            }
            Fields::Unnamed(u) if u.unnamed.len() == 1 => {
                let field = &u.unnamed[0];
                let ty = &field.ty;
                let c = codec(ty, &parse_attrs(&field.attrs)?, true);
                let tc = quote!(<#c as #m::Codec<#ty>>);
                arms_align.push(quote!(#tc::ALIGN));
                flat_variants.push(quote!(#vn(#tc::Flat)));
                put_flat.push(quote!(Self::#vn(__v) => { #put_case #tc::put_flat(__v, __w); }));
                put_deferred.push(quote!(Self::#vn(__v) => #tc::put_deferred(__v, __w),));
                get_flat.push(quote!(__d if __d == #case_count => #flat_name::#vn(#tc::get_flat(__r)?),));
                get_deferred.push(quote!(#flat_name::#vn(__f) => Self::#vn(#tc::get_deferred(__f, __r)?),));
            }
            _ => return Err(Error::new(v.span(), "a union arm holds one unnamed field or none")),
        }
    }
    let arms = arms_align.into_iter().fold(quote!(1), |acc, a| quote!(#m::max_align(#acc, #a)));
    let what = name.to_string();
    let outer_align = if encapsulated { quote!(__w.align(<Self as #m::Ndr>::ALIGN);) } else { Tokens::new() };
    let outer_align_get = if encapsulated { quote!(__r.align(<Self as #m::Ndr>::ALIGN)?;) } else { Tokens::new() };
    Ok(quote! {
        #[doc(hidden)]
        #[allow(non_camel_case_types, dead_code)]
        #vis enum #flat_name { #(#flat_variants,)* }

        #[automatically_derived]
        #[allow(unused_variables, clippy::all, clippy::pedantic)]
        impl #m::Switched for #name {
            fn switch(&self) -> u32 {
                match self { #(#switch)* }
            }
        }

        #[automatically_derived]
        #[allow(unused_variables, clippy::all, clippy::pedantic)]
        impl #m::Ndr for #name {
            const ALIGN: usize = #m::max_align(<#st as #m::Ndr>::ALIGN, #arms);
            type Flat = #flat_name;
            fn put_flat(&self, __w: &mut #root::ndr::NdrWriter) {
                // C706 14.3.8: the discriminant aligned as its type, the arm
                // as its own (an encapsulated union first aligns as a whole;
                // aligning the arm to the largest of all is Microsoft's
                // opt-in ms_union, not done here).
                #outer_align
                match self { #(#put_flat)* }
            }
            fn put_deferred(&self, __w: &mut #root::ndr::NdrWriter) {
                match self { #(#put_deferred)* }
            }
            fn get_flat(__r: &mut #root::ndr::NdrReader<'_>) -> Result<#flat_name, #root::ndr::NdrError> {
                #outer_align_get
                let __d = <#st as #m::Ndr>::get_flat(__r)?;
                let __d = #m::Count::count(&__d);
                Ok(match __d {
                    #(#get_flat)*
                    __d => return Err(__r.error(format!("{}: no union arm {}", #what, __d))),
                })
            }
            fn get_deferred(__flat: #flat_name, __r: &mut #root::ndr::NdrReader<'_>) -> Result<Self, #root::ndr::NdrError> {
                Ok(match __flat { #(#get_deferred)* })
            }
        }
    })
}

fn enumeration(input: &DeriveInput, e: &syn::DataEnum) -> syn::Result<Tokens> {
    let root = crate::root();
    let m = quote!(#root::marshal);
    let name = &input.ident;
    let wire: Type = if type_flag(&input.attrs, "v1_enum")? { syn::parse_quote!(u32) } else { syn::parse_quote!(u16) };
    let (mut put, mut get) = (vec![], vec![]);
    for v in &e.variants {
        let vn = &v.ident;
        let Some((_, d)) = &v.discriminant else {
            return Err(Error::new(v.span(), "an NDR enum's variants need explicit values (A = 1)"));
        };
        put.push(quote!(Self::#vn => { let __v: #wire = #d; __v }));
        get.push(quote!(__v if __v == { let __d: #wire = #d; __d } => Self::#vn,));
    }
    let what = name.to_string();
    Ok(quote! {
        #[automatically_derived]
        #[allow(clippy::all, clippy::pedantic)]
        impl #m::Ndr for #name {
            const ALIGN: usize = <#wire as #m::Ndr>::ALIGN;
            type Flat = #name;
            fn put_flat(&self, __w: &mut #root::ndr::NdrWriter) {
                let __v: #wire = match self { #(#put)* };
                <#wire as #m::Ndr>::put_flat(&__v, __w);
            }
            fn get_flat(__r: &mut #root::ndr::NdrReader<'_>) -> Result<#name, #root::ndr::NdrError> {
                let __v = <#wire as #m::Ndr>::get_flat(__r)?;
                Ok(match __v {
                    #(#get)*
                    __v => return Err(__r.error(format!("{}: no value {}", #what, __v))),
                })
            }
            fn get_deferred(__flat: #name, _: &mut #root::ndr::NdrReader<'_>) -> Result<#name, #root::ndr::NdrError> {
                Ok(__flat)
            }
        }
    })
}
