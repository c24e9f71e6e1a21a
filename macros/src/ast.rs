//! `syn::ItemFn` → the signature facts every later stage needs.
//!
//! Checks what the macro can differentiate at the signature level (no `self`, no generics yet,
//! no `async`, a scalar return type, one float type throughout) and resolves `wrt(…)` against
//! the parameters. Runs after `args`; `lower` reads the result.

use proc_macro2::Span;
use syn::{FnArg, Ident, ItemFn, Pat, ReturnType, Type};

use crate::args::Args;
use crate::ctxt::Ctxt;
use crate::types::{self, Env, Float, Kind};

/// One parameter of the user's function.
pub struct Param {
    pub name: Ident,
    /// The type as written, without a leading `&`.
    pub ty: Type,
    pub by_ref: bool,
    pub kind: Kind,
}

/// The signature, checked.
pub struct Func {
    pub name: Ident,
    pub float: Float,
    pub params: Vec<Param>,
    /// Indices into `params` of the differentiated parameters, in the order of the gradients.
    /// Where a name in `wrt(…)` was reported as not a float parameter, the float parameter
    /// spelt most like it stands in, so the fallback's `{name}_grad` keeps the gradient types
    /// a caller expects.
    pub wrt: Vec<usize>,
    /// The generic parameters types may name.
    pub env: Env,
    /// What the function returns: a scalar (it gets `{name}_grad`) or a matrix (only
    /// `{name}_vjp`, for use inside other `#[gradient]` functions).
    pub ret: Kind,
    /// The return type as written.
    pub ret_ty: syn::Type,
    /// The attribute on the function, which decides its companions.
    pub attribute: crate::args::Attribute,
    /// Whether the function is a method taking `&self`: its companions are methods too, and
    /// its body reads fields as constants (`let x: &SMatrix<f64, 20, 3> = &self.x;`).
    pub method: bool,
}

/// Reads and checks the signature; `None` when something was reported.
pub fn from_syn(cx: &Ctxt, item: &ItemFn, args: &Args) -> Option<Func> {
    let sig = &item.sig;
    if let Some(token) = &sig.asyncness {
        cx.error_spanned_by(
            token,
            "`#[gradient]` cannot differentiate `async fn`; remove `async`",
        );
    }
    if let syn::Safety::Unsafe(token) = &sig.safety {
        cx.error_spanned_by(token, "`#[gradient]` cannot differentiate `unsafe fn`");
    }
    if let Some(variadic) = &sig.variadic {
        cx.error_spanned_by(
            variadic,
            "`#[gradient]` cannot differentiate variadic functions",
        );
    }
    let mut env = env(cx, &sig.generics);
    env.function = sig.ident.to_string();
    let params = params(cx, item, &env);
    let ret = return_float(cx, item, &env, args.attribute);
    let float = common_float(cx, params.as_deref(), ret.as_ref().map(|r| (r.0, r.1)))?;
    let (_, _, ret, ret_ty) = ret?;
    let params = params?;
    if args.wrt.is_some()
        && matches!(ret, Kind::Matrix { .. })
        && args.attribute == crate::args::Attribute::Gradient
    {
        let name = &sig.ident;
        cx.error_spanned_by(
            &args.wrt_tokens,
            format!(
                "`wrt` applies to functions that return a scalar, and `{name}` returns `{}`: a function that returns \
                 a vector or matrix gets only `{name}_vjp`, to call from other `#[gradient]` functions; for its Jacobian \
                 use `#[jacobian]`",
                crate::text::tokens(&ret_ty)
            ),
        );
    }
    // A bad `wrt` is reported, and the body is still checked: nothing but the fallback's stubs
    // reads `wrt` once an error is reported.
    let wrt = resolve_wrt(cx, &sig.ident, &params, args).unwrap_or_default();
    Some(Func {
        name: sig.ident.clone(),
        float,
        params,
        wrt,
        env,
        ret,
        ret_ty,
        attribute: args.attribute,
        method: item
            .sig
            .inputs
            .first()
            .is_some_and(|a| matches!(a, FnArg::Receiver(_))),
    })
}

/// The type and const parameters of the signature. Lifetimes have nothing to bind here (a
/// reference parameter needs none), so they are reported.
fn env(cx: &Ctxt, generics: &syn::Generics) -> Env {
    let mut env = Env::default();
    for param in &generics.params {
        match param {
            syn::GenericParam::Type(t) => env.types.push(t.ident.to_string()),
            syn::GenericParam::Const(c) => {
                if crate::text::tokens(&c.ty) == "usize" {
                    env.consts.push(c.ident.to_string());
                } else {
                    cx.error_spanned_by(&c.ty, "const generic sizes are `usize`: write `const N: usize`");
                }
            }
            syn::GenericParam::Lifetime(l) => cx.error_spanned_by(
                l,
                "`#[gradient]` functions take no lifetime parameters; references in parameters need none",
            ),
        }
    }
    env
}

fn params(cx: &Ctxt, item: &ItemFn, env: &Env) -> Option<Vec<Param>> {
    let mut out = Vec::new();
    let mut ok = true;
    for input in &item.sig.inputs {
        match input {
            // `&self`: its fields are read as constants in the body.
            FnArg::Receiver(receiver)
                if matches!(receiver.kind, syn::ReceiverKind::Reference(_, None, None)) => {}
            FnArg::Receiver(receiver) => {
                cx.error_spanned_by(
                    receiver,
                    "a method is differentiated when it takes `&self` (its fields are constants); \
                     `self` by value and `&mut self` are not supported",
                );
                ok = false;
            }
            FnArg::Typed(pat_type) => match param(pat_type, env) {
                Ok(p) => out.push(p),
                Err(e) => {
                    cx.push(e);
                    ok = false;
                }
            },
        }
    }
    ok.then_some(out)
}

fn param(pat_type: &syn::PatType, env: &Env) -> Result<Param, syn::Error> {
    let name = match &*pat_type.pat {
        Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => p.ident.clone(),
        other => {
            return Err(syn::Error::new_spanned(
                other,
                "`#[gradient]` parameters must be plain names such as `x: &SMatrix<f64, 3, 3>`",
            ));
        }
    };
    if let Type::ImplTrait(_) = &*pat_type.ty {
        return Err(syn::Error::new_spanned(
            &pat_type.ty,
            "`impl Trait` parameters are not supported; write a concrete type such as `&SMatrix<f64, 3, 3>`",
        ));
    }
    let (ty, by_ref) = types::strip_ref(&pat_type.ty)?;
    let kind = types::classify(ty, env)?;
    Ok(Param {
        name,
        ty: ty.clone(),
        by_ref,
        kind,
    })
}

/// The float the function returns; reports a missing or non-scalar return type.
/// The float the function returns, where, its kind and type; reports a missing return type.
fn return_float(
    cx: &Ctxt,
    item: &ItemFn,
    env: &Env,
    attribute: crate::args::Attribute,
) -> Option<(Float, Span, Kind, syn::Type)> {
    let message = match attribute {
        crate::args::Attribute::Gradient => {
            "`#[gradient]` differentiates functions that return a scalar: add `-> f64` (or `-> f32`)"
        }
        crate::args::Attribute::Hessian => {
            "`#[hessian]` differentiates functions that return a scalar twice: add `-> f64` (or \
             `-> f32`)"
        }
        crate::args::Attribute::Jacobian => {
            "`#[jacobian]` differentiates functions that return a float scalar, vector or matrix: \
             add `-> f64`, `-> SVector<f64, N>` or `-> SMatrix<f64, R, C>`"
        }
    };
    match &item.sig.output {
        ReturnType::Default => {
            cx.error_spanned_by(&item.sig.ident, message);
            None
        }
        ReturnType::Type(_, ty) => match types::classify(ty, env) {
            Ok(kind @ (Kind::Scalar(float) | Kind::Matrix { float, .. })) => Some((
                float,
                syn::spanned::Spanned::span(&**ty),
                kind,
                (**ty).clone(),
            )),
            Ok(Kind::Int | Kind::Bool | Kind::Samples { .. } | Kind::Integers) | Err(_) => {
                cx.error_spanned_by(
                    ty,
                    format!(
                        "`#[gradient]` differentiates functions that return a float scalar or a fixed-size float matrix, not `{}`",
                        crate::text::tokens(ty)
                    ),
                );
                None
            }
        },
    }
}

/// The one float type of the function: every float parameter and the return type must agree.
fn common_float(cx: &Ctxt, params: Option<&[Param]>, ret: Option<(Float, Span)>) -> Option<Float> {
    let mut first: Option<(Float, String)> = ret.map(|(f, _)| (f, "the return type".to_string()));
    let mut ok = ret.is_some();
    for p in params.into_iter().flatten() {
        let Some(float) = p.kind.float() else {
            continue;
        };
        match &first {
            None => first = Some((float, format!("`{}`", p.name))),
            Some((expected, what)) if *expected != float => {
                cx.error_spanned_by(
                    &p.ty,
                    format!(
                        "mixed float types: `{}` is `{float}` but {what} is `{expected}`; all float parameters and the return type must share one of `f64` or `f32`",
                        p.name
                    ),
                );
                ok = false;
            }
            Some(_) => {}
        }
    }
    if ok { first.map(|(f, _)| f) } else { None }
}

fn resolve_wrt(cx: &Ctxt, fn_name: &Ident, params: &[Param], args: &Args) -> Option<Vec<usize>> {
    let Some(names) = &args.wrt else {
        let all: Vec<usize> = (0..params.len())
            .filter(|&i| params[i].kind.float().is_some())
            .collect();
        if all.is_empty() {
            cx.error_spanned_by(
                fn_name,
                format!("`{fn_name}` has no float parameter to differentiate"),
            );
            return None;
        }
        return Some(all);
    };
    let mut out = Vec::new();
    let mut ok = true;
    for name in names {
        match params.iter().position(|p| p.name == *name) {
            None => {
                ok = false;
                let list: Vec<String> = params.iter().map(|p| format!("`{}`", p.name)).collect();
                cx.error_spanned_by(
                    name,
                    format!(
                        "`wrt` names `{name}`, which is not a parameter of `{fn_name}`; its parameters are {}",
                        if list.is_empty() { "none".to_string() } else { list.join(", ") }
                    ),
                );
            }
            Some(i) if params[i].kind.float().is_none() => {
                ok = false;
                cx.error_spanned_by(
                    name,
                    format!(
                        "`{name}` is `{}`, which has no gradient; `wrt` takes float parameters (`f64`/`f32` scalars and matrices)",
                        crate::text::tokens(&params[i].ty)
                    ),
                );
            }
            Some(i) => out.push(i),
        }
    }
    if names.is_empty() {
        cx.error_spanned_by(
            fn_name,
            "`wrt()` is empty; name at least one parameter to differentiate",
        );
        return None;
    }
    if !ok {
        // The errors stop the expansion, but the stub `{name}_grad` still needs the gradient
        // types the caller expects: each name that did not resolve stands for the float
        // parameter spelt most like it, which is what a misspelling meant.
        out.clear();
        for name in names {
            let stand_in = params
                .iter()
                .enumerate()
                .filter(|(i, p)| p.kind.float().is_some() && !out.contains(i))
                .min_by_key(|(_, p)| edit_distance(&name.to_string(), &p.name.to_string()));
            out.extend(stand_in.map(|(i, _)| i));
        }
    }
    Some(out)
}

/// The Levenshtein distance between two names: how many characters to insert, delete or
/// replace to turn one into the other.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let replace = diagonal + usize::from(ca != cb);
            diagonal = row[j + 1];
            row[j + 1] = replace.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}
