//! Rejects functions that cannot run in another process, each error spanned on
//! the offending token.

use syn::spanned::Spanned;
use syn::visit::Visit;
use syn::{FnArg, GenericParam, ReturnType, Type};

use crate::parse::{Errors, Kind, ManagedModel, Model};

pub fn validate(model: Model) -> Result<Model, syn::Error> {
    let mut errors = Errors::default();
    check_signature(&model.func.sig, model.kind, &mut errors);
    errors.finish(model)
}

pub fn validate_managed(model: ManagedModel) -> Result<ManagedModel, syn::Error> {
    let attr = Kind::Managed.attr();
    let item = &model.item;
    let mut errors = Errors::default();
    if let Some((path, _)) = &item.trait_ {
        errors.push(syn::Error::new(
            path.span(),
            format!("{attr} must be on an inherent impl block, not a trait impl; write `impl Type {{ .. }}`"),
        ));
    }
    if let Some(param) = item.generics.params.first() {
        errors.push(syn::Error::new(
            param.span(),
            format!("{attr} types cannot be generic; use a concrete type, which the manager must know when it starts"),
        ));
    }
    if item.generics.params.is_empty() && model.self_ident().is_none() {
        errors.push(syn::Error::new(
            item.self_ty.span(),
            format!("{attr} needs a named type without parameters, as in `impl Counter {{ .. }}`"),
        ));
    }
    if item.trait_.is_none() && model.exposed().next().is_none() {
        errors.push(syn::Error::new(
            item.self_ty.span(),
            format!("{attr} found no `pub fn` taking `&self` or `&mut self`; make the methods the proxy should have `pub`"),
        ));
    }
    for method in model.exposed() {
        if let Some(receiver) = method.sig.receiver()
            && !matches!(receiver.kind, syn::ReceiverKind::Reference(..))
        {
            errors.push(syn::Error::new(
                receiver.self_token.span(),
                format!("{attr} methods cannot take `self` by value, since the object stays in the manager; take `&self` or `&mut self`"),
            ));
        }
        check_signature(&method.sig, Kind::Managed, &mut errors);
    }
    errors.finish(model)
}

/// Rejects what cannot cross between processes in one signature.
fn check_signature(sig: &syn::Signature, kind: Kind, errors: &mut Errors) {
    let attr = kind.attr();
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
    if let syn::Safety::Unsafe(token) = &sig.safety {
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
                "{attr} functions cannot be generic; use concrete types, which the other process must know when it starts"
            ),
        };
        error(param.span(), message);
    }
    for input in &sig.inputs {
        match input {
            FnArg::Receiver(_) if matches!(kind, Kind::Managed) => {}
            FnArg::Receiver(receiver) => error(
                receiver.self_token.span(),
                format!(
                    "{attr} cannot be applied to a method; make it a free fn that takes the value as a parameter"
                ),
            ),
            FnArg::Typed(typed) => check_type(&typed.ty, attr, "parameters", &mut error),
        }
    }
    if !matches!(kind, Kind::Managed)
        && let Some(extra) = sig.inputs.iter().nth(MAX_PARAMETERS)
    {
        error(
            extra.span(),
            format!(
                "{attr} functions take at most {MAX_PARAMETERS} parameters; pass the rest together as one struct or tuple"
            ),
        );
    }
    if let ReturnType::Type(_, ty) = &sig.output {
        check_type(ty, attr, "return types", &mut error);
    }
}

/// The most parameters a `#[process]` or `#[pool_task]` function may have:
/// `Task::spawn` is defined for each arity up to this one.
const MAX_PARAMETERS: usize = 12;

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
