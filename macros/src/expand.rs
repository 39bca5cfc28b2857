//! Generates the registration and the typed [`Task`] constant for a valid model.
//!
//! `fn f(a: A) -> R { .. }` becomes `const f: Task<fn(A) -> R, (A,), R> = { .. }`
//! holding the user's fn unchanged, its registry entry and its dispatch shim.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, Pat, ReturnType, Visibility};

use crate::parse::{ManagedModel, Model};

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
        // The line and column tell apart functions of one name in one
        // module, nested in different functions.
        None => quote!(::core::concat!(
            ::core::module_path!(),
            "::",
            ::core::stringify!(#name),
            "@",
            ::core::line!(),
            ":",
            ::core::column!()
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

/// `#[managed] impl T { pub fn m(&mut self, a: A) -> R { .. } }` keeps the
/// block and adds `TProxy` with `fn m(&self, a: A) -> Result<R>`, the
/// registration of `T` and one registered shim per method.
pub fn expand_managed(model: ManagedModel) -> TokenStream {
    let krate = &model.krate;
    let private = quote!(#krate::__private);
    let ty = &model.item.self_ty;
    let name = model.self_ident().expect("validated");
    let proxy = format_ident!("{}Proxy", name);
    let type_key = match &model.key {
        Some(key) => quote!(#key),
        None => quote!(::core::concat!(
            ::core::module_path!(),
            "::",
            ::core::stringify!(#name)
        )),
    };
    let at = |span: Span| Span::call_site().located_at(span);
    let mut proxy_methods = Vec::new();
    let mut registrations = Vec::new();
    for (n, method) in model.exposed().enumerate() {
        let method_name = &method.sig.ident;
        let key = quote!(::core::concat!(#type_key, "::", ::core::stringify!(#method_name)));
        let params: Vec<_> = method
            .sig
            .inputs
            .iter()
            .filter_map(|input| match input {
                FnArg::Typed(typed) => Some(typed),
                FnArg::Receiver(_) => None,
            })
            .enumerate()
            .map(|(i, typed)| {
                let ident = match &*typed.pat {
                    Pat::Ident(p) if p.subpat.is_none() => p.ident.clone(),
                    _ => format_ident!("__arg{}", i),
                };
                (ident, &*typed.ty)
            })
            .collect();
        let idents: Vec<_> = params.iter().map(|(ident, _)| ident).collect();
        let types: Vec<_> = params.iter().map(|(_, ty)| *ty).collect();
        let (ret, ret_span) = match &method.sig.output {
            ReturnType::Default => (quote!(()), method_name.span()),
            ReturnType::Type(_, ty) => (quote!(#ty), ty.span()),
        };
        let docs = method.attrs.iter().filter(|a| a.path().is_ident("doc"));
        // Spanned on each type, so that "not serializable" points at it.
        let encode_args = params.iter().map(|(ident, ty)| {
            quote_spanned!(at(ty.span())=> #private::encode_arg::<#ty>(&#ident, &mut __args)?;)
        });
        let call = quote_spanned!(at(ret_span)=> self.0.call_method::<#ret>(#key, &__args));
        proxy_methods.push(quote! {
            #(#docs)*
            #[doc = ""]
            #[doc = ::core::concat!("Runs [`", ::core::stringify!(#name), "::", ::core::stringify!(#method_name), "`] in the manager.")]
            pub fn #method_name(&self, #(#idents: #types),*) -> #krate::Result<#ret> {
                let mut __args = ::std::vec::Vec::new();
                #(#encode_args)*
                #call
            }
        });
        let decode_args = types
            .iter()
            .map(|ty| quote_spanned!(at(ty.span())=> __args.next::<#ty>()?));
        let encode_value =
            quote_spanned!(at(ret_span)=> #private::encode_value::<#ret>(&__value, __out));
        let shim = format_ident!("__multiproc_method_{}", n);
        let entry = format_ident!("__MULTIPROC_METHOD_{}", n);
        registrations.push(quote! {
            fn #shim(
                __object: &mut (dyn ::core::any::Any + ::core::marker::Send),
                __args: &mut #private::Args<'_>,
                __out: &mut ::std::vec::Vec<u8>,
            ) -> ::core::result::Result<(), ::std::string::String> {
                let __this = #private::downcast::<#ty>(__object)?;
                let __value = <#ty>::#method_name(__this, #(#decode_args),*);
                #encode_value
            }

            #[#private::linkme::distributed_slice(#private::MANAGED_METHODS)]
            #[linkme(crate = #private::linkme)]
            static #entry: #private::ManagedMethod = #private::ManagedMethod {
                key: #key,
                call: #shim,
            };
        });
    }
    let item = &model.item;
    let proxy_doc = format!(
        "A proxy to a [`{name}`] that lives in a manager, made by `#[multiproc::managed]`: each method runs there."
    );
    quote! {
        #item

        #[doc = #proxy_doc]
        pub struct #proxy(#private::ObjectRef);

        impl #proxy {
            #(#proxy_methods)*
        }

        impl ::core::clone::Clone for #proxy {
            fn clone(&self) -> Self {
                #proxy(::core::clone::Clone::clone(&self.0))
            }
        }

        impl ::core::fmt::Debug for #proxy {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                self.0.debug::<Self>(f)
            }
        }

        impl #private::serde::Serialize for #proxy {
            fn serialize<S: #private::serde::Serializer>(&self, s: S) -> ::core::result::Result<S::Ok, S::Error> {
                #private::serialize_proxy::<Self, S>(&self.0, s)
            }
        }

        impl<'de> #private::serde::Deserialize<'de> for #proxy {
            fn deserialize<D: #private::serde::Deserializer<'de>>(d: D) -> ::core::result::Result<Self, D::Error> {
                #private::deserialize_proxy::<Self, D>(d).map(#proxy)
            }
        }

        impl #private::Sealed for #proxy {}

        impl #krate::Proxy for #proxy {
            fn object(&self) -> &#private::ObjectRef {
                &self.0
            }

            fn from_object(object: #private::ObjectRef) -> Self {
                #proxy(object)
            }
        }

        impl #private::Sealed for #ty {}

        impl #krate::Managed for #ty {
            type Proxy = #proxy;
            const KEY: &'static str = #type_key;
        }

        const _: () = {
            #[#private::linkme::distributed_slice(#private::MANAGED_TYPES)]
            #[linkme(crate = #private::linkme)]
            static __MULTIPROC_TYPE: #private::ManagedType = #private::ManagedType {
                key: #type_key,
                create: #private::create_managed::<#ty>,
            };

            #(#registrations)*
        };
    }
}
