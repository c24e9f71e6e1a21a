//! The only place that knows the order of the stages:
//! `args` → `ast` → `lower` → `shape` → `fuse` → `plan` (which runs `diff` with `rules`, and
//! `simplify`) → `verify` → `emit`, or `fallback` on errors.

use proc_macro2::TokenStream;
use quote::{ToTokens, quote};

use crate::args::Attribute;
use crate::ctxt::Ctxt;
use crate::ir::Shape;
use crate::plan::{Config, Mode, Plan};
use crate::types::Kind;
use crate::{args, ast, emit, fallback, fuse, lower, second, shape, verify};

/// Expands `#[gradient(args)] item`.
pub fn gradient(args: TokenStream, input: TokenStream) -> TokenStream {
    expand(Attribute::Gradient, args, input)
}

/// Expands `#[jacobian(args)] item`.
pub fn jacobian(args: TokenStream, input: TokenStream) -> TokenStream {
    expand(Attribute::Jacobian, args, input)
}

/// Expands `#[hessian(args)] item`.
pub fn hessian(args: TokenStream, input: TokenStream) -> TokenStream {
    expand(Attribute::Hessian, args, input)
}

/// Expands `#[attribute(args)] item`; errors name the attribute that was written.
fn expand(attribute: Attribute, args: TokenStream, input: TokenStream) -> TokenStream {
    let parsed = syn::parse2::<syn::ItemFn>(input.clone());
    let method = parsed.as_ref().ok().and_then(|item| {
        matches!(item.sig.inputs.first(), Some(syn::FnArg::Receiver(_)))
            .then(|| item.sig.ident.clone())
    });
    let out = match parsed {
        Ok(item) => stages(attribute, args, &item),
        Err(_) => {
            let error = syn::Error::new_spanned(
                &input,
                "`#[gradient]` goes on a free function, such as `fn loss(x: &SVector<f64, 3>) -> f64 { … }`",
            )
            .to_compile_error();
            let mut out = input;
            out.extend(error);
            out
        }
    };
    // In an `impl` block, the companions' docs name their siblings through `Self::`.
    let out = match method {
        Some(name) => method_docs(out, &name),
        None => out,
    };
    match attribute {
        Attribute::Gradient => out,
        Attribute::Jacobian | Attribute::Hessian => fallback::reword(out, attribute.name()),
    }
}

/// The expansion of a method, with a reference definition such as
/// ``[`loss_grad`]: Self::loss_grad`` (for the method and each companion) appended to every doc
/// attribute, so that the docs' links resolve inside the `impl` block.
fn method_docs(out: TokenStream, name: &syn::Ident) -> TokenStream {
    use proc_macro2::{Delimiter, Group, Literal, TokenTree};
    use std::fmt::Write as _;
    // The functions the expansion defines: the method and its companions.
    let trees: Vec<TokenTree> = out.clone().into_iter().collect();
    let mut definitions = String::new();
    for pair in trees.windows(2) {
        if let [TokenTree::Ident(keyword), TokenTree::Ident(defined)] = pair
            && keyword == "fn"
            && defined.to_string().starts_with(&name.to_string())
        {
            let _ = write!(definitions, "\n [`{defined}`]: Self::{defined}");
        }
    }
    out.into_iter()
        .map(|tree| match tree {
            TokenTree::Group(g) if g.delimiter() == Delimiter::Bracket => {
                let mut inner: Vec<TokenTree> = g.stream().into_iter().collect();
                let doc = matches!(
                    inner.as_slice(),
                    [TokenTree::Ident(i), TokenTree::Punct(p), TokenTree::Literal(_)]
                        if i == "doc" && p.as_char() == '='
                );
                if doc
                    && let Some(TokenTree::Literal(lit)) = inner.last()
                    && let Ok(text) = syn::parse_str::<syn::LitStr>(&lit.to_string())
                {
                    let mut literal = Literal::string(&format!("{}\n{definitions}", text.value()));
                    literal.set_span(lit.span());
                    inner.pop();
                    inner.push(TokenTree::Literal(literal));
                    let mut group = Group::new(Delimiter::Bracket, inner.into_iter().collect());
                    group.set_span(g.span());
                    TokenTree::Group(group)
                } else {
                    TokenTree::Group(g)
                }
            }
            other => other,
        })
        .collect()
}

#[allow(
    clippy::needless_pass_by_value,
    reason = "the entry point owns its input, which the error path re-emits"
)]
fn stages(attribute: Attribute, args: TokenStream, item: &syn::ItemFn) -> TokenStream {
    let cx = Ctxt::new();
    let args = args::parse(&cx, attribute, args);
    let Some(func) = ast::from_syn(&cx, item, &args) else {
        return fallback::emit(item, None, &cx.finish());
    };
    if let Some(pullback) = &args.pullback {
        if cx.has_errors() {
            return fallback::emit(item, Some(&func), &cx.finish());
        }
        return with_pullback(item, &func, pullback);
    }
    let mut prog = lower::lower(&cx, &func, item);
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
    if attribute == Attribute::Hessian {
        check_hessian(&cx, item, &func);
    }
    if cx.has_errors() {
        return fallback::emit(item, Some(&func), &cx.finish());
    }
    let vjp_jvp = second_order_companion(item, &func, &prog, args.twice);
    fuse::fuse(&mut prog, attribute != Attribute::Hessian);
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
    let scalar = matches!(func.ret, Kind::Scalar(_));
    let (jvp_through_vjp, grad_through_vjp) = through_vjp(&func);
    let jvp_plan = (!jvp_through_vjp).then(|| {
        Plan::new(
            &prog,
            Config {
                wrt: emit::float_params(&func),
                mode: Mode::Forward,
                ..Config::default()
            },
        )
    });
    let grad_plan = (scalar && attribute == Attribute::Gradient && !grad_through_vjp)
        .then(|| planned(func.wrt.clone()));
    let hessian_plans = match (attribute == Attribute::Hessian).then(|| hessian_plans(&prog, &func))
    {
        Some(Err(construct)) => {
            cx.push(not_twice(item, &func, construct));
            return fallback::emit(item, Some(&func), &cx.finish());
        }
        Some(Ok(plans)) => Some(plans),
        None => None,
    };
    let jacobian_plans =
        (attribute == Attribute::Jacobian).then(|| emit::jacobian_plans(&func, &prog));
    if verify::enabled() {
        let plans = std::iter::once(&vjp_plan)
            .chain(jvp_plan.iter())
            .chain(grad_plan.iter())
            .chain(hessian_plans.iter().flat_map(emit::HessianPlans::plans))
            .chain(jacobian_plans.iter().flat_map(|p| p.plans()));
        if let Some(error) = verification_error(item, &func, &prog, plans) {
            cx.push(error);
            return fallback::emit(item, Some(&func), &cx.finish());
        }
    }
    let vjp = emit::vjp(item, &func, &vjp_plan);
    let (grad, jvp) = grad_and_jvp(
        item,
        &func,
        &vjp_plan,
        jvp_plan.as_ref(),
        grad_plan.as_ref(),
    );
    let jacobian = jacobian_plans.map(|plans| emit::jacobian(item, &func, &plans));
    let hessian = hessian_plans.map(|plans| hessian_companions(item, &func, &plans));
    // `_vjp_jvp` first: a call of a function with no `_vjp` fails to resolve in every companion
    // at the same span, and rustc keeps the last of those errors, which should name `_vjp`.
    quote!(#item #vjp_jvp #grad #jacobian #hessian #vjp #jvp)
}

/// The function and its companions where its derivative is the hand-written `pullback`.
fn with_pullback(item: &syn::ItemFn, func: &ast::Func, pullback: &syn::Path) -> TokenStream {
    let generated = emit::custom(item, func, pullback);
    let refused = emit::refused_vjp_jvp(
        item,
        func,
        &format!(
            "the derivative of `{}` is the hand-written `{}`, which gives no second derivative \
             (`#[gradient]` without `pullback = …` derives both from the body)",
            func.name,
            pullback.to_token_stream()
        ),
    );
    quote!(#item #generated #refused)
}

/// Whether `_jvp`, and whether `_grad`, go through `_vjp` instead of repeating its program (each
/// a third of the code to check and build): for a scalar free function, `_jvp` is ⟨∇f, d⟩ of
/// `_vjp` with seed 1; for one under `#[gradient]` differentiated in every float parameter,
/// `_grad` is that `_vjp`.
fn through_vjp(func: &ast::Func) -> (bool, bool) {
    let jvp = matches!(func.ret, Kind::Scalar(_)) && !func.method;
    let grad = jvp && func.attribute == Attribute::Gradient && func.wrt == emit::float_params(func);
    (jvp, grad)
}

/// `{name}_grad` (of a `#[gradient]` function returning a scalar) and `{name}_jvp`: from their
/// own plans, or without one through `{name}_vjp`.
fn grad_and_jvp(
    item: &syn::ItemFn,
    func: &ast::Func,
    vjp_plan: &Plan,
    jvp_plan: Option<&Plan>,
    grad_plan: Option<&Plan>,
) -> (Option<TokenStream>, TokenStream) {
    let scalar_gradient =
        matches!(func.ret, Kind::Scalar(_)) && func.attribute == Attribute::Gradient;
    let grad = match grad_plan {
        Some(plan) => Some(emit::function(item, func, plan)),
        None => scalar_gradient.then(|| emit::grad_through_vjp(item, func, vjp_plan)),
    };
    let jvp = match jvp_plan {
        Some(plan) => emit::jvp(item, func, plan),
        None => emit::jvp_through_vjp(item, func),
    };
    (grad, jvp)
}

/// The first way `prog` or one of its `plans` fails verification, as an error that calls it a bug.
fn verification_error<'p>(
    item: &syn::ItemFn,
    func: &ast::Func,
    prog: &crate::ir::Program,
    plans: impl Iterator<Item = &'p Plan<'p>>,
) -> Option<syn::Error> {
    let mut errors = verify::program(prog);
    errors.extend(plans.flat_map(verify::plan));
    let first = errors.first()?;
    let message = format!(
        "invariant: the derivative program of `{}` fails verification ({first}); this is a bug \
         in matgrad",
        func.name
    );
    Some(syn::Error::new_spanned(&item.sig.ident, message))
}

/// `{name}_vjp_jvp` of a `#[hessian]` function or one annotated with `twice`, from the program
/// before fusion (second derivatives read products a trace chain would not form); for any other,
/// one that refuses and says to add `twice`.
fn second_order_companion(
    item: &syn::ItemFn,
    func: &ast::Func,
    prog: &crate::ir::Program,
    twice: bool,
) -> TokenStream {
    if twice || func.attribute == Attribute::Hessian {
        let mut unfused = prog.clone();
        fuse::fuse(&mut unfused, false);
        return vjp_jvp(item, func, &unfused);
    }
    emit::refused_vjp_jvp(
        item,
        func,
        &format!(
            "`{0}` is differentiated once: add `twice` to its attribute, `#[{1}(twice)]`, for \
             its second derivatives",
            func.name,
            func.attribute.name()
        ),
    )
}

/// `{name}_vjp_jvp`, through which a `#[hessian]` function differentiates a call of this one
/// twice (and through which this one's own `_vjp_jvp` reaches its callees'): where the body is
/// not differentiable twice, one that refuses, so that only a `#[hessian]` function reaching it
/// is an error.
fn vjp_jvp(item: &syn::ItemFn, func: &ast::Func, prog: &crate::ir::Program) -> TokenStream {
    let floats = emit::float_params(func);
    let grad = Plan::new(
        prog,
        Config {
            wrt: floats.clone(),
            all_products: true,
            ..Config::default()
        },
    );
    let tangent = Plan::new(
        prog,
        Config {
            wrt: floats.clone(),
            mode: Mode::Forward,
            ..Config::default()
        },
    );
    let seeds = vec![Some(crate::adjoint::AExpr::Seed(1))];
    match second::tangent_of_reverse(&grad, &tangent, &floats, seeds) {
        Ok(second) if second::reads_computed(&grad, &tangent, &second) => {
            emit::vjp_jvp(item, func, &grad, &tangent, &second)
        }
        Ok(_) => emit::refused_vjp_jvp(
            item,
            func,
            &format!(
                "`{}` uses a product that its gradient reads only through a trace, which matgrad \
                 does not yet differentiate twice",
                func.name
            ),
        ),
        Err(construct) => emit::refused_vjp_jvp(
            item,
            func,
            &format!(
                "`{}` uses {construct}, which matgrad does not yet differentiate twice",
                func.name
            ),
        ),
    }
}

/// `{name}_grad`, `{name}_hessian` and `{name}_hvp` of a `#[hessian]` function.
fn hessian_companions(
    item: &syn::ItemFn,
    func: &ast::Func,
    plans: &emit::HessianPlans,
) -> TokenStream {
    let grad = emit::function(item, func, &plans.grad);
    let hessian = emit::hessian(item, func, plans);
    let hvp = emit::hvp(item, func, plans);
    quote!(#grad #hessian #hvp)
}

/// The error for a function with a construct not yet differentiated twice.
fn not_twice(item: &syn::ItemFn, func: &ast::Func, construct: second::Unsupported) -> syn::Error {
    syn::Error::new_spanned(
        &item.sig.ident,
        format!(
            "`#[hessian]` cannot yet differentiate {construct} twice, and `{}` uses them; second \
             derivatives are supported for straight-line code, counted loops, `if`, `map` \
             closures, calls of annotated functions and every scalar and matrix \
             operation; the first derivatives (`{}_grad`, `#[jacobian]`) cover all of it",
            func.name, func.name
        ),
    )
}

/// `#[hessian]` differentiates a scalar function in exactly one parameter.
fn check_hessian(cx: &Ctxt, item: &syn::ItemFn, func: &ast::Func) {
    if !matches!(func.ret, Kind::Scalar(_)) {
        cx.error_spanned_by(
            &func.ret_ty,
            format!(
                "`#[hessian]` needs a function returning a float scalar, and `{}` returns {}; \
                 for the derivatives of a vector or matrix use `#[jacobian]`",
                func.name,
                match func.ret.shape() {
                    Some(shape @ Shape::Matrix(..)) => format!("a {shape} matrix"),
                    Some(Shape::Scalar | Shape::Bool | Shape::Tuple | Shape::Poison) | None => {
                        "no float".to_owned()
                    }
                }
            ),
        );
    }
    if func.wrt.len() != 1 {
        let names: Vec<String> = func
            .wrt
            .iter()
            .map(|&k| format!("`{}`", func.params[k].name))
            .collect();
        let message = if names.is_empty() {
            format!(
                "`#[hessian]` differentiates one float parameter, and `{}` has none",
                func.name
            )
        } else {
            format!(
                "`#[hessian]` differentiates exactly one parameter, and `{}` would differentiate \
                 {}; name one with `wrt(…)` (several parameters can be stacked into one vector)",
                func.name,
                names.join(", ")
            )
        };
        cx.error_spanned_by(&item.sig.ident, message);
    }
}

/// The gradient, the tangent programs and their second-order programs of a `#[hessian]`
/// function, or the construct that cannot yet be differentiated twice.
fn hessian_plans<'p>(
    prog: &'p crate::ir::Program,
    func: &ast::Func,
) -> Result<emit::HessianPlans<'p>, second::Unsupported> {
    let k = func.wrt[0];
    let grad = Plan::new(
        prog,
        Config {
            wrt: vec![k],
            all_products: true,
            ..Config::default()
        },
    );
    let tangent = |unit| {
        Plan::new(
            prog,
            Config {
                wrt: vec![k],
                mode: Mode::Forward,
                unit,
                ..Config::default()
            },
        )
    };
    let program = |plan: Plan<'p>| -> Result<(Plan<'p>, second::SecondOrder), second::Unsupported> {
        let second = second::tangent_of_reverse(&grad, &plan, &[k], Vec::new())?;
        if !second::reads_computed(&grad, &plan, &second) {
            return Err("`map` closures or products read only through a trace");
        }
        Ok((plan, second))
    };
    let along = program(tangent(None))?;
    let units = match emit::unit_count(func) {
        Some(n) => Some(
            (0..n)
                .map(|l| program(tangent(Some(l))))
                .collect::<Result<Vec<_>, _>>()?,
        ),
        None => None,
    };
    let closed = emit::closed_hessian(prog, k);
    Ok(emit::HessianPlans {
        grad,
        along,
        units,
        closed,
    })
}
