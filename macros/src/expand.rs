//! Generates the registration and the typed [`Task`] constant for a valid model.
//!
//! `fn f(a: A) -> R { .. }` becomes `const f: Task<fn(A) -> R, (A,), R> = { .. }`
//! holding the user's fn unchanged, its registry entry and its dispatch shim.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, ReturnType, Visibility};

use crate::parse::Model;

pub fn expand(model: Model) -> TokenStream {
    let Model {
        krate,
        key,
        mut func,
        ..
    } = model;
    // Renamed so that the body's own uses of the name (recursion, `name.spawn`) reach the constant.
    let name = std::mem::replace(&mut func.sig.ident, format_ident!("__multiproc_fn"));
    let inner = &func.sig.ident;
    let vis = std::mem::replace(&mut func.vis, Visibility::Inherited);
    let (outer_attrs, inner_attrs): (Vec<_>, Vec<_>) = func
        .attrs
        .drain(..)
        .partition(|a| a.path().is_ident("doc") || a.path().is_ident("cfg"));
    let cfgs = outer_attrs.iter().filter(|a| a.path().is_ident("cfg"));
    func.attrs = cfgs.cloned().chain(inner_attrs).collect();

    let types: Vec<_> = func
        .sig
        .inputs
        .iter()
        .filter_map(|input| match input {
            FnArg::Typed(typed) => Some(&*typed.ty),
            FnArg::Receiver(_) => None,
        })
        .collect();
    let ret = match &func.sig.output {
        ReturnType::Default => quote!(()),
        ReturnType::Type(_, ty) => quote!(#ty),
    };
    let ret_span = match &func.sig.output {
        ReturnType::Default => name.span(),
        ReturnType::Type(_, ty) => ty.span(),
    };
    let private = quote!(#krate::__private);
    // Each argument is decoded, and the value encoded, by a call spanned on its
    // type, so that "not serializable" points at that type and nowhere else.
    // Located at the user's type but resolved at the call site, so that the
    // generated locals stay visible when the fn comes from a `macro_rules!`.
    let at = |span: Span| Span::call_site().located_at(span);
    let decode_args = types
        .iter()
        .map(|ty| quote_spanned!(at(ty.span())=> __args.next::<#ty>()?));
    let encode_value =
        quote_spanned!(at(ret_span)=> #private::encode_value::<#ret>(&__value, __out));
    let key = match key {
        Some(key) => quote!(#key),
        None => quote!(::core::concat!(
            ::core::module_path!(),
            "::",
            ::core::stringify!(#name)
        )),
    };
    let fn_type = quote!(fn(#(#types),*) -> #ret);
    let args_type = quote!((#(#types,)*));

    quote! {
        #(#outer_attrs)*
        #[allow(non_upper_case_globals)]
        #vis const #name: #private::Task<#fn_type, #args_type, #ret> = {
            #func

            #[doc(hidden)]
            fn __multiproc_call(
                __args: &mut #private::Args<'_>,
                __out: &mut ::std::vec::Vec<u8>,
            ) -> ::core::result::Result<(), ::std::string::String> {
                let __value = #inner(#(#decode_args),*);
                #encode_value
            }

            #[#private::linkme::distributed_slice(#private::REGISTRY)]
            #[linkme(crate = #private::linkme)]
            #[doc(hidden)]
            static __MULTIPROC_ENTRY: #private::Entry = #private::Entry {
                key: #key,
                call: __multiproc_call,
            };

            #private::Task::__new(#key, #inner as #fn_type)
        };
    }
}
