//! Generates the registration and the typed [`Task`] constant for a valid model.
//!
//! `fn f(a: A) -> R { .. }` becomes `const f: Task<fn(A) -> R, (A,), R> = { .. }`
//! holding the user's fn unchanged, its registry entry and its dispatch shim.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, ReturnType, Visibility};

use crate::parse::Model;

pub fn expand(model: Model) -> TokenStream {
    let Model {
        krate, key, mut func, ..
    } = model;
    let name = func.sig.ident.clone();
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
    let args: Vec<_> = (0..types.len()).map(|i| format_ident!("__arg{i}")).collect();
    let ret = match &func.sig.output {
        ReturnType::Default => quote!(()),
        ReturnType::Type(_, ty) => quote!(#ty),
    };
    let ret_span = match &func.sig.output {
        ReturnType::Default => func.sig.ident.span(),
        ReturnType::Type(_, ty) => ty.span(),
    };
    let private = quote!(#krate::__private);
    let checks = types
        .iter()
        .map(|ty| quote_spanned!(ty.span()=> #private::assert_portable::<#ty>();))
        .chain(std::iter::once(
            quote_spanned!(ret_span=> #private::assert_portable::<#ret>();),
        ));
    let key = match key {
        Some(key) => quote!(#key),
        None => quote!(::core::concat!(::core::module_path!(), "::", ::core::stringify!(#name))),
    };
    let fn_type = quote!(fn(#(#types),*) -> #ret);
    let args_type = quote!((#(#types,)*));

    quote! {
        #(#outer_attrs)*
        #[allow(non_upper_case_globals)]
        #vis const #name: #private::Task<#fn_type, #args_type, #ret> = {
            #func

            const _: () = { #(#checks)* };

            #[doc(hidden)]
            fn __multiproc_run(input: &[u8]) -> #private::Outcome {
                #private::dispatch(input, |(#(#args,)*): #args_type| #name(#(#args),*))
            }

            #[#private::linkme::distributed_slice(#private::REGISTRY)]
            #[linkme(crate = #private::linkme)]
            #[doc(hidden)]
            static __MULTIPROC_ENTRY: #private::Entry = #private::Entry {
                key: #key,
                run: __multiproc_run,
            };

            #private::Task::__new(#key, #name as #fn_type)
        };
    }
}
