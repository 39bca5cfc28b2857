#![deny(missing_docs)]
//! Attribute macros of [multiproc](https://docs.rs/multiproc). Each one runs
//! parse → validate → expand; on error, `fallback` keeps the user's item.

mod expand;
mod fallback;
mod parse;
mod symbol;
mod validate;

use proc_macro::TokenStream;

use parse::Kind;

/// Registers a function so that it can run in a child process.
///
/// See the `multiproc` crate for the documentation and examples.
#[proc_macro_attribute]
pub fn process(args: TokenStream, item: TokenStream) -> TokenStream {
    entry(Kind::Process, args, item)
}

/// Registers a function so that a `Pool` can run it in its worker processes.
///
/// See the `multiproc` crate for the documentation and examples.
#[proc_macro_attribute]
pub fn pool_task(args: TokenStream, item: TokenStream) -> TokenStream {
    entry(Kind::PoolTask, args, item)
}

/// Makes a type's methods callable in a manager process through a generated
/// `<Type>Proxy`.
///
/// See the `multiproc` crate for the documentation and examples.
#[proc_macro_attribute]
pub fn managed(args: TokenStream, item: TokenStream) -> TokenStream {
    let original = proc_macro2::TokenStream::from(item.clone());
    parse::parse_managed(args.into(), item.into())
        .and_then(validate::validate_managed)
        .map_or_else(
            |errors| fallback::fallback(original, errors),
            expand::expand_managed,
        )
        .into()
}

fn entry(kind: Kind, args: TokenStream, item: TokenStream) -> TokenStream {
    let original = proc_macro2::TokenStream::from(item.clone());
    parse::parse(kind, args.into(), item.into())
        .and_then(validate::validate)
        .map_or_else(
            |errors| fallback::fallback(original, errors),
            expand::expand,
        )
        .into()
}
