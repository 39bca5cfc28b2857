//! Rejects functions that cannot run in another process, each error spanned on
//! the offending token.

use syn::spanned::Spanned;
use syn::visit::Visit;
use syn::{FnArg, GenericParam, ReturnType, Type};

use crate::parse::{Errors, Model};

pub fn validate(model: Model) -> Result<Model, syn::Error> {
    let attr = model.kind.attr();
    let sig = &model.func.sig;
    let mut errors = Errors::default();
    let mut error = |span: proc_macro2::Span, message: String| {
        errors.push(syn::Error::new(span, message));
    };
    if let Some(token) = &sig.asyncness {
        error(
            token.span(),
            format!(
                "{attr} cannot be applied to an async fn; make it a plain fn and block inside it"
            ),
        );
    }
    if let Some(token) = &sig.unsafety {
        error(
            token.span(),
            format!(
                "{attr} cannot be applied to an unsafe fn; make it safe and use `unsafe` inside it"
            ),
        );
    }
    for param in &sig.generics.params {
        let message = match param {
            GenericParam::Lifetime(_) => format!(
                "{attr} functions cannot have lifetime parameters; use an owned type such as String"
            ),
            _ => format!(
                "{attr} functions cannot be generic; use concrete types, which the child must know when it starts"
            ),
        };
        error(param.span(), message);
    }
    for input in &sig.inputs {
        match input {
            FnArg::Receiver(receiver) => error(
                receiver.self_token.span(),
                format!(
                    "{attr} cannot be applied to a method; make it a free fn that takes the value as a parameter"
                ),
            ),
            FnArg::Typed(typed) => check_type(&typed.ty, attr, "parameters", &mut error),
        }
    }
    if let ReturnType::Type(_, ty) = &sig.output {
        check_type(ty, attr, "return types", &mut error);
    }
    errors.finish(model)
}

/// Reports the first reference or `impl Trait` inside a parameter or return type.
fn check_type(
    ty: &Type,
    attr: &str,
    what: &str,
    error: &mut impl FnMut(proc_macro2::Span, String),
) {
    let mut finder = Borrowed::default();
    finder.visit_type(ty);
    match finder.found {
        Some(Found::Reference(span)) => error(
            span,
            format!("{attr} {what} cannot borrow; use an owned type such as String"),
        ),
        Some(Found::ImplTrait(span)) => error(
            span,
            format!("{attr} {what} cannot be `impl Trait`; use a concrete type"),
        ),
        None => {}
    }
}

enum Found {
    Reference(proc_macro2::Span),
    ImplTrait(proc_macro2::Span),
}

#[derive(Default)]
struct Borrowed {
    found: Option<Found>,
}

impl Visit<'_> for Borrowed {
    fn visit_type_reference(&mut self, r: &syn::TypeReference) {
        self.found
            .get_or_insert(Found::Reference(r.and_token.span()));
    }

    fn visit_lifetime(&mut self, l: &syn::Lifetime) {
        self.found.get_or_insert(Found::Reference(l.span()));
    }

    fn visit_type_impl_trait(&mut self, i: &syn::TypeImplTrait) {
        self.found
            .get_or_insert(Found::ImplTrait(i.impl_token.span()));
    }
}
