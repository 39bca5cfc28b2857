//! What an expansion that failed emits: the errors, and the user's item as
//! written, so that the rest of the crate still compiles and IDEs keep working.

use proc_macro2::TokenStream;

pub fn fallback(original: TokenStream, errors: syn::Error) -> TokenStream {
    let errors = errors.to_compile_error();
    quote::quote! {
        #errors
        #original
    }
}
