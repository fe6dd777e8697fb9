//! `#[interface]`: a trait as a DCE/RPC interface.

use proc_macro2::TokenStream as Tokens;
use quote::{format_ident, quote};
use syn::spanned::Spanned;
use syn::{Error, FnArg, ItemTrait, LitInt, LitStr, Pat, ReturnType, TraitItem, Type};

use crate::{Attrs, Holder, array, array_check, codec, count, parse_attrs};

struct Param {
    name: syn::Ident,
    /// The value's type (for `&mut T`, `T`).
    ty: Type,
    attrs: Attrs,
    input: bool,
    output: bool,
}

struct Operation {
    name: syn::Ident,
    opnum: u16,
    params: Vec<Param>,
    ret: Option<Type>,
}

fn parse_uuid(lit: &LitStr) -> syn::Result<Tokens> {
    let root = crate::root();
    let text = lit.value();
    let hex: String = text.chars().filter(|c| *c != '-').collect();
    let shape: Vec<usize> = text.split('-').map(str::len).collect();
    if shape != [8, 4, 4, 4, 12] || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(Error::new(lit.span(), "a UUID: 8-4-4-4-12 hexadecimal digits"));
    }
    let n = |a: usize, b: usize| u64::from_str_radix(&hex[a..b], 16).unwrap_or(0);
    let (d1, d2, d3) = (n(0, 8) as u32, n(8, 12) as u16, n(12, 16) as u16);
    let d4: Vec<u8> = (0..8).map(|i| n(16 + 2 * i, 18 + 2 * i) as u8).collect();
    Ok(quote!(#root::uuid::Uuid { d1: #d1, d2: #d2, d3: #d3, d4: [#(#d4),*] }))
}

fn operations(item: &mut ItemTrait) -> syn::Result<Vec<Operation>> {
    let mut ops = Vec::new();
    let mut next: u16 = 0;
    for it in &mut item.items {
        let TraitItem::Fn(f) = it else { continue };
        let mut opnum = next;
        let mut err = None;
        f.attrs.retain(|a| {
            if a.path().is_ident("opnum") {
                match a.parse_args::<LitInt>().and_then(|l| l.base10_parse::<u16>()) {
                    Ok(n) => opnum = n,
                    Err(e) => err = Some(e),
                }
                false
            } else {
                true
            }
        });
        if let Some(e) = err {
            return Err(e);
        }
        next = opnum.wrapping_add(1);
        let mut params = Vec::new();
        for arg in &mut f.sig.inputs {
            let FnArg::Typed(pt) = arg else { continue };
            let attrs = parse_attrs(&pt.attrs)?;
            pt.attrs.retain(|a| !a.path().is_ident("ndr"));
            let Pat::Ident(pi) = &*pt.pat else {
                return Err(Error::new(pt.pat.span(), "an operation's parameters are plain names"));
            };
            let (ty, output) = match &*pt.ty {
                Type::Reference(r) if r.mutability.is_some() => ((*r.elem).clone(), true),
                Type::Reference(r) => {
                    return Err(Error::new(r.span(), "[in] parameters are taken by value; [out] ones as &mut T"));
                }
                t => (t.clone(), false),
            };
            let input = !output || attrs.input;
            params.push(Param { name: pi.ident.clone(), ty, attrs, input, output });
        }
        let ret = match &f.sig.output {
            ReturnType::Default => None,
            ReturnType::Type(_, t) => Some((**t).clone()),
        };
        ops.push(Operation { name: f.sig.ident.clone(), opnum, params, ret });
    }
    Ok(ops)
}

/// Reads parameter `p` (a top-level one) into a local of its name.
fn read_param(p: &Param) -> syn::Result<Tokens> {
    let root = crate::root();
    let m = quote!(#root::marshal);
    let (name, ty) = (&p.name, &p.ty);
    if let Some(arr) = array(ty, &p.attrs, false)? {
        let (elem, c, varying) = (arr.elem, &arr.elem_codec, arr.varying);
        let read = quote!({
            let __flats = #m::get_array_flat::<#elem, #c>(__r, #m::Conformance::Inline, #varying)?;
            #m::get_array_deferred::<#elem, #c>(__r, __flats)?
        });
        return Ok(match arr.holder {
            Holder::Inline | Holder::Ref => quote!(let #name: #ty = #read;),
            Holder::Unique => quote!(let #name: #ty = if __r.pointer()?.is_some() { Some(#read) } else { None };),
        });
    }
    let c = codec(ty, &p.attrs, false);
    let tc = quote!(<#c as #m::Codec<#ty>>);
    Ok(quote!(let #name: #ty = { let __f = #tc::get_flat(__r)?; #tc::get_deferred(__f, __r)? };))
}

/// Writes parameter `p` (its value is `value`, a reference) to `__w`.
fn write_param(p: &Param, value: &Tokens) -> syn::Result<Tokens> {
    let root = crate::root();
    let m = quote!(#root::marshal);
    let ty = &p.ty;
    if let Some(arr) = array(ty, &p.attrs, false)? {
        let (elem, c, varying) = (arr.elem, &arr.elem_codec, arr.varying);
        let max = p.attrs.size_is.as_ref().map_or_else(|| quote!(u32::try_from(__v.len()).unwrap_or(u32::MAX)), count);
        let write = quote!(
            #m::put_array_flat::<#elem, #c>(__w, __v, Some(#max), #varying);
            #m::put_array_deferred::<#elem, #c>(__w, __v);
        );
        return Ok(match arr.holder {
            Holder::Inline | Holder::Ref => quote!({ let __v: &#ty = #value; #write }),
            Holder::Unique => quote!({
                let __o: &#ty = #value;
                __w.pointer(__o.is_some());
                if let Some(__v) = __o { #write }
            }),
        });
    }
    let c = codec(ty, &p.attrs, false);
    let tc = quote!(<#c as #m::Codec<#ty>>);
    Ok(quote!({ let __v: &#ty = #value; #tc::put_flat(__v, __w); #tc::put_deferred(__v, __w); }))
}

fn check_param(p: &Param) -> syn::Result<Tokens> {
    let name = &p.name;
    let what = format!("parameter {name}");
    Ok(match array(&p.ty, &p.attrs, false)? {
        None => Tokens::new(),
        Some(arr) if arr.holder == Holder::Unique => {
            let check = array_check(&p.attrs, &quote!(__v.len()), &what);
            quote!(if let Some(__v) = &#name { #check })
        }
        Some(_) => array_check(&p.attrs, &quote!(#name.len()), &what),
    })
}

/// The server's dispatch arm of one operation: read the `[in]`s, call,
/// write the `[out]`s and the result.
fn server_arm(op: &Operation) -> syn::Result<Tokens> {
    let root = crate::root();
    let m = quote!(#root::marshal);
    let (name, opnum) = (&op.name, op.opnum);
    // The server: read the [in]s, call, write the [out]s and the result.
    let reads = op.params.iter().filter(|p| p.input).map(read_param).collect::<syn::Result<Vec<_>>>()?;
    let in_checks = op.params.iter().filter(|p| p.input).map(check_param).collect::<syn::Result<Vec<_>>>()?;
    let defaults = op.params.iter().filter(|p| p.output && !p.input).map(|p| {
        let (n, ty) = (&p.name, &p.ty);
        quote!(let #n: #ty = ::core::default::Default::default();)
    });
    let args = op.params.iter().map(|p| {
        let n = &p.name;
        if p.output { quote!(&mut #n) } else { quote!(#n) }
    });
    let outs: Vec<&Param> = op.params.iter().filter(|p| p.output).collect();
    let writes = outs.iter().map(|p| {
        let n = &p.name;
        write_param(p, &quote!(&#n))
    });
    let writes = writes.collect::<syn::Result<Vec<_>>>()?;
    let ret_write = op.ret.as_ref().map(|_| quote!(#m::put(&__ret, __w);));
    let mutable = op.params.iter().filter(|p| p.output).map(|p| {
        let n = &p.name;
        quote!(let mut #n = #n;)
    });
    Ok(quote! {
        #opnum => {
            #(#reads)*
            if !__r.finished() {
                return Err(__r.error(concat!(stringify!(#name), ": bytes left after the last [in] parameter")));
            }
            #(#in_checks)*
            #(#defaults)*
            #(#mutable)*
            let __ret = self.0.#name(#(#args),*);
            let mut __out = #root::ndr::NdrWriter::referents_after(__r.last_referent());
            let __w = &mut __out;
            #(#writes)*
            #ret_write
            Ok(Ok(__out.into_bytes()))
        }
    })
}

/// The client stub of one operation: write the `[in]`s, call, read the
/// `[out]`s and the result.
fn client_stub(op: &Operation) -> syn::Result<Tokens> {
    let root = crate::root();
    let m = quote!(#root::marshal);
    let (name, opnum) = (&op.name, op.opnum);
    let outs: Vec<&Param> = op.params.iter().filter(|p| p.output).collect();
    // The client: write the [in]s, call, read the [out]s and the result.
    let sig_params = op.params.iter().map(|p| {
        let (n, ty) = (&p.name, &p.ty);
        if p.output { quote!(#n: &mut #ty) } else { quote!(#n: #ty) }
    });
    let in_writes = op
        .params
        .iter()
        .filter(|p| p.input)
        .map(|p| {
            let n = &p.name;
            if p.output { write_param(p, &quote!(&*#n)) } else { write_param(p, &quote!(&#n)) }
        })
        .collect::<syn::Result<Vec<_>>>()?;
    let dests = outs.iter().map(|p| {
        let (n, d) = (&p.name, format_ident!("__dest_{}", p.name));
        quote!(let #d = #n;)
    });
    let out_reads = outs.iter().map(|p| read_param(p)).collect::<syn::Result<Vec<_>>>()?;
    let out_checks = outs.iter().map(|p| check_param(p)).collect::<syn::Result<Vec<_>>>()?;
    let stores = outs.iter().map(|p| {
        let (n, d) = (&p.name, format_ident!("__dest_{}", p.name));
        quote!(*#d = #n;)
    });
    let ret_ty = op.ret.clone().unwrap_or_else(|| syn::parse_quote!(()));
    let ret_read = op.ret.as_ref().map_or_else(|| quote!(let __ret = ();), |t| quote!(let __ret: #t = #m::get(__r)?;));
    let outs_names: Vec<&syn::Ident> = outs.iter().map(|p| &p.name).collect();
    let doc = format!("Calls `{name}` (operation {opnum}).");
    Ok(quote! {
        #[doc = #doc]
        #[allow(clippy::too_many_arguments, unused_variables, unused_mut)]
        pub fn #name(&mut self, #(#sig_params),*) -> ::core::result::Result<#ret_ty, #root::client::Error> {
            let mut __out = #root::ndr::NdrWriter::new();
            {
                let __w = &mut __out;
                #(#in_writes)*
            }
            let __reply = #root::client::Call::call(&mut self.rpc, #opnum, __out.into_bytes())?;
            #(#dests)*
            let __read = |__r: &mut #root::ndr::NdrReader<'_>| -> ::core::result::Result<_, #root::ndr::NdrError> {
                #(#out_reads)*
                #(#out_checks)*
                #ret_read
                if !__r.finished() {
                    return Err(__r.error("bytes left after the result"));
                }
                Ok((#(#outs_names,)* __ret))
            };
            let mut __reader = #root::ndr::NdrReader::new(&__reply.stub, __reply.drep);
            let (#(#outs_names,)* __ret) = __read(&mut __reader)
                .map_err(|e| #root::client::Error::Reply { opnum: #opnum, error: e })?;
            #(#stores)*
            Ok(__ret)
        }
    })
}

pub fn expand(args: Tokens, mut item: ItemTrait) -> syn::Result<Tokens> {
    let root = crate::root();
    let (mut uuid, mut version) = (None, None);
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("uuid") {
            uuid = Some(parse_uuid(&meta.value()?.parse()?)?);
        } else if meta.path.is_ident("version") {
            let lit: LitStr = meta.value()?.parse()?;
            let text = lit.value();
            let parsed = text.split_once('.').and_then(|(a, b)| Some((a.parse::<u16>().ok()?, b.parse::<u16>().ok()?)));
            version = Some(parsed.ok_or_else(|| Error::new(lit.span(), "a version: \"MAJOR.MINOR\""))?);
        } else {
            return Err(meta.error("expected uuid = \"…\" or version = \"MAJOR.MINOR\""));
        }
        Ok(())
    });
    syn::parse::Parser::parse2(parser, args)?;
    let Some(uuid) = uuid else { return Err(Error::new(item.ident.span(), "#[interface] needs uuid = \"…\"")) };
    let (major, minor) = version.unwrap_or((1, 0));
    let ops = operations(&mut item)?;

    let (tr, vis) = (&item.ident, &item.vis);
    let server = format_ident!("{}Server", tr);
    let client = format_ident!("{}Client", tr);
    let syntax = quote!(#root::uuid::SyntaxId { uuid: #uuid, major: #major, minor: #minor });

    let mut arms = Vec::new();
    let mut stubs = Vec::new();
    for op in &ops {
        arms.push(server_arm(op)?);
        stubs.push(client_stub(op)?);
    }
    Ok(quote! {
        #item

        /// The server side of the interface: wraps an implementation of
        /// the trait as a `server::Interface` of the RPC crate.
        #[derive(Debug)]
        #vis struct #server<T>(pub T);

        impl<T> #server<T> {
            /// The interface's UUID and version.
            pub fn syntax() -> #root::uuid::SyntaxId {
                #syntax
            }
        }

        #[allow(unused_variables, unused_mut, clippy::all, clippy::pedantic)]
        impl<T: #tr + Send> #root::server::Interface for #server<T> {
            fn syntax(&self) -> #root::uuid::SyntaxId {
                #syntax
            }

            fn call(&mut self, opnum: u16, stub: &[u8], drep: #root::DataRep) -> ::core::result::Result<Vec<u8>, u32> {
                let mut __reader = #root::ndr::NdrReader::new(stub, drep);
                let __r = &mut __reader;
                let mut __run = || -> ::core::result::Result<::core::result::Result<Vec<u8>, u32>, #root::ndr::NdrError> {
                    match opnum {
                        #(#arms)*
                        _ => Ok(Err(#root::pdu::NCA_S_OP_RNG_ERROR)),
                    }
                };
                __run().unwrap_or(Err(#root::pdu::RPC_X_BAD_STUB_DATA))
            }
        }

        /// The client stubs of the interface, over any bound connection.
        #[derive(Debug)]
        #vis struct #client<C> {
            /// The connection the calls go over.
            pub rpc: C,
        }

        #[allow(clippy::all, clippy::pedantic)]
        impl<C: #root::client::Call> #client<C> {
            /// Stubs over `rpc` (bound to this interface).
            pub fn new(rpc: C) -> Self {
                Self { rpc }
            }

            /// The interface's UUID and version.
            pub fn syntax() -> #root::uuid::SyntaxId {
                #syntax
            }

            #(#stubs)*
        }
    })
}
