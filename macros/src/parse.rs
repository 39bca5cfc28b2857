//! Builds the model of an annotated item, keeping the user's tokens.

use proc_macro2::TokenStream;
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::{
    Ident, ImplItem, ImplItemFn, ItemFn, ItemImpl, LitStr, Meta, Path, Token, Type, TypePath,
    Visibility,
};

use crate::symbol;

/// Which attribute is being expanded; it names itself in messages.
#[derive(Clone, Copy)]
pub enum Kind {
    Process,
    PoolTask,
    Managed,
}

impl Kind {
    pub fn attr(self) -> &'static str {
        match self {
            Kind::Process => "`#[process]`",
            Kind::PoolTask => "`#[pool_task]`",
            Kind::Managed => "`#[managed]`",
        }
    }
}

/// An annotated function and the attribute's arguments.
pub struct Model {
    pub kind: Kind,
    pub krate: Path,
    pub key: Option<LitStr>,
    pub func: ItemFn,
}

/// An annotated `impl` block and the attribute's arguments.
pub struct ManagedModel {
    pub krate: Path,
    pub key: Option<LitStr>,
    pub item: ItemImpl,
}

impl ManagedModel {
    /// The methods the proxy gets: the `pub` ones that take `self` in some form.
    pub fn exposed(&self) -> impl Iterator<Item = &ImplItemFn> {
        self.item.items.iter().filter_map(|item| match item {
            ImplItem::Fn(f)
                if matches!(f.vis, Visibility::Public(_)) && f.sig.receiver().is_some() =>
            {
                Some(f)
            }
            _ => None,
        })
    }

    /// The type's name, if the block is on a plain named type.
    pub fn self_ident(&self) -> Option<&Ident> {
        match &*self.item.self_ty {
            Type::Path(TypePath {
                qself: None, path, ..
            }) => path
                .segments
                .last()
                .filter(|s| s.arguments.is_none())
                .map(|s| &s.ident),
            _ => None,
        }
    }
}

/// Collects every error of one expansion, so the user sees them all at once.
#[derive(Default)]
pub struct Errors(Option<syn::Error>);

impl Errors {
    pub fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(error),
            None => self.0 = Some(error),
        }
    }

    pub fn finish<T>(self, value: T) -> Result<T, syn::Error> {
        self.0.map_or(Ok(value), Err)
    }
}

/// The `crate` and `key` arguments of an attribute.
fn parse_args(kind: Kind, args: TokenStream, errors: &mut Errors) -> (Path, Option<LitStr>) {
    let mut krate = None;
    let mut key = None;
    match Punctuated::<Meta, Token![,]>::parse_terminated.parse2(args) {
        Ok(metas) => {
            for meta in metas {
                parse_arg(kind, &meta, &mut krate, &mut key, errors);
            }
        }
        Err(e) => errors.push(e),
    }
    (krate.unwrap_or_else(|| syn::parse_quote!(::multiproc)), key)
}

/// Parses `item` as a `T`, or reports that `attr` belongs on a `what`.
fn parse_item<T: syn::parse::Parse>(
    kind: Kind,
    item: TokenStream,
    remedy: &str,
    errors: &mut Errors,
) -> Option<T> {
    match syn::parse2::<T>(item.clone()) {
        Ok(parsed) => Some(parsed),
        Err(_) => {
            let span = syn::parse2::<syn::Item>(item)
                .map_or_else(|e| e.span(), |item| first_token_span(&item));
            errors.push(syn::Error::new(
                span,
                format!("{} can only be applied to {remedy}", kind.attr()),
            ));
            None
        }
    }
}

pub fn parse(kind: Kind, args: TokenStream, item: TokenStream) -> Result<Model, syn::Error> {
    let mut errors = Errors::default();
    let (krate, key) = parse_args(kind, args, &mut errors);
    let func = parse_item::<ItemFn>(
        kind,
        item,
        "a fn; move this code into a free fn",
        &mut errors,
    );
    let model = func.map(|func| Model {
        kind,
        krate,
        key,
        func,
    });
    errors
        .finish(())
        .map(|()| model.expect("an item that failed to parse was reported"))
}

pub fn parse_managed(args: TokenStream, item: TokenStream) -> Result<ManagedModel, syn::Error> {
    let mut errors = Errors::default();
    let (krate, key) = parse_args(Kind::Managed, args, &mut errors);
    let item = parse_item::<ItemImpl>(
        Kind::Managed,
        item,
        "an `impl` block; put the methods that should run in the manager in `impl Type { .. }`",
        &mut errors,
    );
    let model = item.map(|item| ManagedModel { krate, key, item });
    errors
        .finish(())
        .map(|()| model.expect("an item that failed to parse was reported"))
}

fn first_token_span(item: &syn::Item) -> proc_macro2::Span {
    use quote::ToTokens;
    item.to_token_stream()
        .into_iter()
        .find(|t| !matches!(t, proc_macro2::TokenTree::Punct(p) if p.as_char() == '#'))
        .map_or_else(proc_macro2::Span::call_site, |t| t.span())
}

fn parse_arg(
    kind: Kind,
    meta: &Meta,
    krate: &mut Option<Path>,
    key: &mut Option<LitStr>,
    errors: &mut Errors,
) {
    let path = meta.path();
    let name = path.get_ident().map(Ident::to_string).unwrap_or_default();
    let value = match meta {
        Meta::NameValue(nv) => Some(&nv.value),
        _ => None,
    };
    let result = match (name.as_str(), value) {
        (symbol::CRATE, Some(value)) => set(kind, path, krate, syn::parse2(quote::quote!(#value))),
        (symbol::KEY, Some(value)) => set(kind, path, key, syn::parse2(quote::quote!(#value))),
        (symbol::CRATE | symbol::KEY, None) => Err(syn::Error::new_spanned(
            meta,
            format!(
                "`{name}` in {} needs a value, as in `{name} = ...`",
                kind.attr()
            ),
        )),
        _ => Err(syn::Error::new_spanned(
            path,
            format!(
                "unknown {} argument `{}`; expected {}",
                kind.attr(),
                quote::quote!(#path).to_string().replace(' ', ""),
                symbol::ALL
                    .iter()
                    .map(|s| format!("`{s}`"))
                    .collect::<Vec<_>>()
                    .join(" or ")
            ),
        )),
    };
    if let Err(e) = result {
        errors.push(e);
    }
}

fn set<T>(kind: Kind, path: &Path, slot: &mut Option<T>, value: syn::Result<T>) -> syn::Result<()> {
    if slot.is_some() {
        let name = quote::quote!(#path);
        return Err(syn::Error::new_spanned(
            path,
            format!(
                "duplicate {} argument `{name}`; remove one of them",
                kind.attr()
            ),
        ));
    }
    *slot = Some(value?);
    Ok(())
}
