//! The only place that knows the order of the stages:
//! `args` → `ast` → `lower` → `shape` → `fuse` → `plan` (which runs `diff` with `rules`, and
//! `simplify`) → `verify` → `emit`, or `fallback` on errors.

use proc_macro2::TokenStream;
use quote::quote;

use crate::args::Attribute;
use crate::ctxt::Ctxt;
use crate::ir::Shape;
use crate::plan::{Config, Mode, Plan};
use crate::types::Kind;
use crate::{args, ast, emit, fallback, fuse, lower, shape, verify};

/// Expands `#[gradient(args)] item`.
pub fn gradient(args: TokenStream, input: TokenStream) -> TokenStream {
    expand(Attribute::Gradient, args, input)
}

/// Expands `#[jacobian(args)] item`.
pub fn jacobian(args: TokenStream, input: TokenStream) -> TokenStream {
    expand(Attribute::Jacobian, args, input)
}

/// Expands `#[attribute(args)] item`; errors name the attribute that was written.
fn expand(attribute: Attribute, args: TokenStream, input: TokenStream) -> TokenStream {
    let out = stages(attribute, args, input);
    match attribute {
        Attribute::Gradient => out,
        Attribute::Jacobian => fallback::reword(out, attribute.name()),
    }
}

#[allow(
    clippy::needless_pass_by_value,
    reason = "the entry point owns its input, which the error path re-emits"
)]
fn stages(attribute: Attribute, args: TokenStream, input: TokenStream) -> TokenStream {
    let item: syn::ItemFn = match syn::parse2(input.clone()) {
        Ok(item) => item,
        Err(_) => {
            let error = syn::Error::new_spanned(
                &input,
                "`#[gradient]` goes on a free function, such as `fn loss(x: &SVector<f64, 3>) -> f64 { … }`",
            )
            .to_compile_error();
            return quote!(#input #error);
        }
    };
    let cx = Ctxt::new();
    let args = args::parse(&cx, attribute, args);
    let Some(func) = ast::from_syn(&cx, &item, &args) else {
        return fallback::emit(&item, None, &cx.finish());
    };
    if let Some(pullback) = &args.pullback {
        if cx.has_errors() {
            return fallback::emit(&item, Some(&func), &cx.finish());
        }
        let generated = emit::custom(&item, &func, pullback);
        return quote!(#item #generated);
    }
    let mut prog = lower::lower(&cx, &func, &item);
    let shapes: Vec<Shape> = func
        .params
        .iter()
        .map(|p| p.kind.shape().unwrap_or(Shape::Poison))
        .collect();
    shape::infer(&cx, &mut prog, &shapes, func.float);
    shape::check_output(&cx, &prog, &func);
    if attribute == Attribute::Jacobian {
        emit::check_jacobian_sizes(&cx, &func);
    }
    if cx.has_errors() {
        return fallback::emit(&item, Some(&func), &cx.finish());
    }
    fuse::fuse(&mut prog);
    let planned = |wrt: Vec<usize>| {
        Plan::new(
            &prog,
            Config {
                wrt,
                ..Config::default()
            },
        )
    };
    let vjp_plan = planned(emit::float_params(&func));
    let jvp_plan = Plan::new(
        &prog,
        Config {
            wrt: emit::float_params(&func),
            mode: Mode::Forward,
            ..Config::default()
        },
    );
    let scalar = matches!(func.ret, Kind::Scalar(_));
    let grad_plan = (scalar && attribute == Attribute::Gradient).then(|| planned(func.wrt.clone()));
    let jacobian_plans =
        (attribute == Attribute::Jacobian).then(|| emit::jacobian_plans(&func, &prog));
    if verify::enabled() {
        let mut errors = verify::program(&prog);
        errors.extend(verify::plan(&vjp_plan));
        errors.extend(verify::plan(&jvp_plan));
        errors.extend(grad_plan.iter().flat_map(verify::plan));
        errors.extend(
            jacobian_plans
                .iter()
                .flat_map(|p| p.plans().flat_map(verify::plan)),
        );
        if let Some(first) = errors.first() {
            let message = format!(
                "invariant: the derivative program of `{}` fails verification ({first}); \
                 this is a bug in matgrad",
                func.name
            );
            cx.push(syn::Error::new_spanned(&item.sig.ident, message));
            return fallback::emit(&item, Some(&func), &cx.finish());
        }
    }
    let vjp = emit::vjp(&item, &func, &vjp_plan);
    let jvp = emit::jvp(&item, &func, &jvp_plan);
    let grad = grad_plan.map(|plan| emit::function(&item, &func, &plan));
    let jacobian = jacobian_plans.map(|plans| emit::jacobian(&item, &func, &plans));
    quote!(#item #grad #jacobian #vjp #jvp)
}
