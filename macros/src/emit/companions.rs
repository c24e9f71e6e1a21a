//! The functions `#[gradient]` adds beside the user's: `{name}_grad`, `{name}_vjp`, and for
//! `pullback = f` the two built on `f`; their signatures, generics and doc comments. Part of
//! `emit`.

use proc_macro2::{Ident, Span, TokenStream};
use quote::{format_ident, quote};

use super::{Emitter, Operand};
use crate::adjoint::Adjoint;
use crate::ast;
use crate::ir::{Program, Shape};
use crate::plan::Plan;
use crate::types::Kind;

impl<'a> Emitter<'a> {
    /// The emitter of a companion function's body: the function's parameters as written, no
    /// tangents, no seeds.
    pub(super) fn top(
        item: &syn::ItemFn,
        func: &ast::Func,
        plan: &'a Plan<'a>,
        float: &'a Ident,
    ) -> Self {
        Emitter {
            plan,
            prog: plan.prog,
            float,
            prefix: String::new(),
            params: func.params.iter().map(param_operand).collect(),
            tangents: Vec::new(),
            given: None,
            seeds: Vec::new(),
            generic: func.float.is_generic(),
            explicit_sizes: !item.sig.generics.params.is_empty(),
            sweep: None,
            tape_tangents: false,
        }
    }
}

/// Generates `{name}_grad` for a checked function.
pub fn function(item: &syn::ItemFn, func: &ast::Func, plan: &Plan) -> TokenStream {
    let prog = plan.prog;
    let float = Ident::new(&func.float.name(), Span::call_site());
    let e = Emitter::top(item, func, plan, &float);
    let e = Emitter {
        seeds: vec![e.lit(1.0)],
        ..e
    };
    let checks = e.helper_checks();
    let forward = e.forward();
    let reverse = e.reverse();
    let out = prog
        .output
        .expect("invariant: a checked program has an output");
    let value = e.operand(out).place;
    let (lets, grads) = returned(&e, func, &func.wrt);
    let grad = one_or_tuple(&grads);
    let body = quote! {
        #(#checks)*
        #(#forward)*
        #(#reverse)*
        #(#lets)*
        (#value, #grad)
    };
    grad_fn(item, func, plan, &float, &body)
}

/// `{name}_grad` with its doc and attributes around `body`, which returns `(value, gradients)`
/// in the order of `wrt`.
fn grad_fn(
    item: &syn::ItemFn,
    func: &ast::Func,
    plan: &Plan,
    float: &Ident,
    body: &TokenStream,
) -> TokenStream {
    let tys: Vec<TokenStream> = func
        .wrt
        .iter()
        .map(|&k| quote::ToTokens::to_token_stream(&func.params[k].ty))
        .collect();
    let grad_ty = one_or_tuple(&tys);
    let (vis, inputs) = (&item.vis, signature_inputs(func));
    let grad_name = format_ident!("{}_grad", func.name);
    let (generics, where_clause) = generics(item, func);
    let doc = doc(func, plan.prog, &plan.adj);
    quote! {
        #[doc = #doc]
        #[allow(unused_variables, clippy::all, clippy::pedantic)]
        #[must_use]
        #[inline]
        #vis fn #grad_name #generics (#(#inputs),*) -> (#float, #grad_ty) #where_clause {
            #body
        }
    }
}

/// The gradients of the float parameters `params` a companion returns: `let`s to run before its
/// result is built, and the items of its tuple of gradients.
///
/// A gradient that is a variable or zeros is returned as it is. Of those computed by an
/// expression (an outer product, a scaled copy), all but the largest are computed first, each
/// into a variable, smallest first; the largest is computed last, in the tuple itself, straight
/// into the caller's result, with nothing left to keep alive past it. In the order of the
/// tuple, the two-layer network's ∇W₁ = ∇b₁xᵀ (32×16) came before ∇W₂ = ∇b₂hᵀ (4×32), which
/// kept h and ∇b₂ alive, spilled, across it: 1.06 of a hand-written gradient's time, and 1.00
/// with ∇W₂ first.
fn returned(
    e: &Emitter,
    func: &ast::Func,
    params: &[usize],
) -> (Vec<TokenStream>, Vec<TokenStream>) {
    let prog = e.prog;
    let mut items: Vec<TokenStream> = Vec::with_capacity(params.len());
    // (position in the tuple, shape) of each gradient computed by an expression.
    let mut computed: Vec<(usize, Shape)> = Vec::new();
    for (position, &k) in params.iter().enumerate() {
        let shape = func.params[k]
            .kind
            .shape()
            .expect("invariant: the differentiated parameters are floats, which have shapes");
        match prog.param_node(k) {
            Some(node) if e.plan.adj.nonzero[node] => {
                let operand = e.adjoint_operand(node);
                if operand.temp {
                    computed.push((position, shape));
                }
                items.push(operand.place);
            }
            _ => items.push(e.zeros(shape)),
        }
    }
    // Stable: of equal sizes, the later in the tuple is the one computed in it.
    computed.sort_by_key(|&(_, shape)| shape.len());
    computed.pop();
    let lets = computed
        .into_iter()
        .map(|(position, shape)| {
            let name = Ident::new(&format!("__mg_grad{position}"), Span::mixed_site());
            let value = std::mem::replace(&mut items[position], quote!(#name));
            let ty = e.ty(shape);
            quote!(let #name: #ty = #value;)
        })
        .collect();
    (lets, items)
}

/// One item as it is, several as a tuple: how a `_grad` returns one or several gradients.
fn one_or_tuple(items: &[TokenStream]) -> TokenStream {
    if let [one] = items {
        one.clone()
    } else {
        quote!((#(#items),*))
    }
}

/// `{name}_jvp` of a scalar free function through its `{name}_vjp` with seed 1: the directional
/// derivative is ⟨∇f, d⟩ summed over the float parameters, so the reverse program is written
/// once (inlined, the seed 1 folds away).
pub fn jvp_through_vjp(item: &syn::ItemFn, func: &ast::Func) -> TokenStream {
    let name = &func.name;
    let vjp = syn::Path::from(format_ident!("{}_vjp", name));
    custom_jvp(
        item,
        func,
        &vjp,
        &format!("generated from [`{name}_vjp`] with seed 1"),
    )
}

/// `{name}_grad` of a scalar free function differentiated in every float parameter, through its
/// `{name}_vjp` with seed 1: the gradient is that vector-Jacobian product.
pub fn grad_through_vjp(item: &syn::ItemFn, func: &ast::Func, plan: &Plan) -> TokenStream {
    let name = &func.name;
    let vjp = syn::Path::from(format_ident!("{}_vjp", name));
    let float = Ident::new(&func.float.name(), Span::call_site());
    let one = Emitter::top(item, func, plan, &float).lit(1.0);
    let names: Vec<&Ident> = func.params.iter().map(|p| &p.name).collect();
    let fields: Vec<TokenStream> = (0..func.wrt.len())
        .map(|k| {
            let k = syn::Index::from(k);
            quote!(__mg_grads.#k)
        })
        .collect();
    let grad = one_or_tuple(&fields);
    let body = quote! {
        let (__mg_value, __mg_grads) = #vjp(#(#names,)* #one);
        (__mg_value, #grad)
    };
    grad_fn(item, func, plan, &float, &body)
}

/// The float parameters, in order: what a `_vjp` differentiates.
pub fn float_params(func: &ast::Func) -> Vec<usize> {
    (0..func.params.len())
        .filter(|&k| func.params[k].kind.float().is_some())
        .collect()
}

/// The name of a `_vjp`'s seed parameter: `seed` in the docs, and hygienic, so a parameter of
/// the user's with the same name is a different variable.
fn seed_ident() -> Ident {
    Ident::new("seed", Span::mixed_site())
}

/// The signature of `{name}_vjp`: the function's parameters and a seed of its result's type, to
/// `(value, (gradient of every float parameter, …))`.
fn vjp_signature(item: &syn::ItemFn, func: &ast::Func) -> TokenStream {
    let vis = &item.vis;
    let name = format_ident!("{}_vjp", func.name);
    let inputs = signature_inputs(func);
    let (generics, where_clause) = generics(item, func);
    let ret = &func.ret_ty;
    let tys: Vec<&syn::Type> = float_params(func)
        .iter()
        .map(|&k| &func.params[k].ty)
        .collect();
    let seed = seed_ident();
    let doc = format!(
        " The vector-Jacobian product of [`{0}`], generated by `#[gradient]`: its value, and the gradient \
         of ⟨seed, {0}(…)⟩ with respect to each float parameter, in order. Other `#[gradient]` \
         functions call it to differentiate through `{0}`.",
        func.name
    );
    quote! {
        #[doc = #doc]
        #[allow(unused_variables, clippy::all, clippy::pedantic)]
        #[must_use]
        #[inline]
        #vis fn #name #generics (#(#inputs,)* #seed: #ret) -> (#ret, (#(#tys,)*)) #where_clause
    }
}

/// Generates `{name}_vjp` from the program: the adjoint program of every float parameter,
/// seeded with the caller's adjoint of the result.
pub fn vjp(item: &syn::ItemFn, func: &ast::Func, plan: &Plan) -> TokenStream {
    let prog = plan.prog;
    let float = Ident::new(&func.float.name(), Span::call_site());
    let all = float_params(func);
    let seed = seed_ident();
    let e = Emitter {
        seeds: vec![quote!(#seed)],
        ..Emitter::top(item, func, plan, &float)
    };
    let (checks, forward, reverse) = (e.helper_checks(), e.forward(), e.reverse());
    let out = prog
        .output
        .expect("invariant: a checked program has an output");
    let value = e.owned(out);
    let (lets, grads) = returned(&e, func, &all);
    let signature = vjp_signature(item, func);
    quote! {
        #signature {
            #(#checks)*
            #(#forward)*
            #(#reverse)*
            #(#lets)*
            (#value, (#(#grads,)*))
        }
    }
}

/// The name of the tangent parameter of `_jvp` for the parameter `name`: `dname` in the docs,
/// and hygienic, so a parameter of the user's spelled the same stays a different variable.
pub fn tangent_ident(name: &Ident) -> Ident {
    Ident::new(
        &format!("d{}", name.to_string().trim_start_matches("r#")),
        Span::mixed_site(),
    )
}

/// Generates `{name}_jvp` from the plan of the tangent program: the value, and its directional
/// derivative along one tangent per float parameter.
pub fn jvp(item: &syn::ItemFn, func: &ast::Func, plan: &Plan) -> TokenStream {
    let prog = plan.prog;
    let float = Ident::new(&func.float.name(), Span::call_site());
    let tangents = func
        .params
        .iter()
        .map(|p| {
            let d = tangent_ident(&p.name);
            param_operand(&ast::Param {
                name: d,
                ty: p.ty.clone(),
                by_ref: p.by_ref,
                kind: p.kind,
            })
        })
        .collect();
    let e = Emitter {
        tangents,
        ..Emitter::top(item, func, plan, &float)
    };
    let (checks, forward, tangent) = (e.helper_checks(), e.forward(), e.tangent());
    let out = prog
        .output
        .expect("invariant: a checked program has an output");
    let value = e.owned(out);
    let d_out = if plan.tangent_active[out] {
        e.owned_tangent(out)
    } else {
        e.zeros(prog.shape(out))
    };
    let vis = &item.vis;
    let name = format_ident!("{}_jvp", func.name);
    let inputs = signature_inputs(func);
    let d_inputs = tangent_inputs(func);
    let (generics, where_clause) = generics(item, func);
    let ret = &func.ret_ty;
    let names: Vec<String> = float_params(func)
        .iter()
        .map(|&k| format!("`{}`", tangent_ident(&func.params[k].name)))
        .collect();
    let doc = format!(
        " The Jacobian-vector product of [`{0}`], generated by matgrad: its value, and its \
         directional derivative Σₓ ∂{0}/∂x · dx along the tangents {1}, one for each float \
         parameter in order, each shaped like its parameter. Other matgrad functions call it to \
         differentiate through `{0}` in forward mode.",
        func.name,
        names.join(", ")
    );
    quote! {
        #[doc = #doc]
        #[allow(unused_variables, clippy::all, clippy::pedantic)]
        #[must_use]
        #[inline]
        #vis fn #name #generics (#(#inputs,)* #(#d_inputs,)*) -> (#ret, #ret) #where_clause {
            #(#checks)*
            #(#forward)*
            #(#tangent)*
            (#value, #d_out)
        }
    }
}

/// `pullback = f`: the companions call the user's `f(parameters…, seed)`, which returns
/// `(value, (gradient of every float parameter, …))`, instead of differentiating the body.
pub fn custom(item: &syn::ItemFn, func: &ast::Func, pullback: &syn::Path) -> TokenStream {
    let names: Vec<&Ident> = func.params.iter().map(|p| &p.name).collect();
    let seed = seed_ident();
    let signature = vjp_signature(item, func);
    let vjp = quote! {
        #signature {
            #pullback(#(#names,)* #seed)
        }
    };
    let jvp = custom_jvp(
        item,
        func,
        pullback,
        &format!(
            "from its hand-written pullback `{}`",
            crate::text::tokens(pullback)
        ),
    );
    let Kind::Scalar(_) = func.ret else {
        return quote!(#vjp #jvp);
    };
    let float = Ident::new(&func.float.name(), Span::call_site());
    let one = if func.float.is_generic() {
        quote!(::matgrad::__private::nalgebra::convert::<f64, #float>(1.0))
    } else {
        quote!(1.0)
    };
    let all = float_params(func);
    let picked: Vec<syn::Index> = func
        .wrt
        .iter()
        .map(|k| syn::Index::from(all.iter().position(|a| a == k).unwrap_or(0)))
        .collect();
    let tys: Vec<&syn::Type> = func.wrt.iter().map(|&k| &func.params[k].ty).collect();
    let (grad_ty, grad) = if picked.len() == 1 {
        (quote!(#(#tys)*), quote!(#(__mg_grads.#picked)*))
    } else {
        (quote!((#(#tys),*)), quote!((#(__mg_grads.#picked),*)))
    };
    let (vis, inputs) = (&item.vis, signature_inputs(func));
    let grad_name = format_ident!("{}_grad", func.name);
    let (generics, where_clause) = generics(item, func);
    let doc = format!(
        " Value and gradient of [`{}`], from its hand-written pullback `{}`.",
        func.name,
        crate::text::tokens(pullback)
    );
    quote! {
        #vjp
        #jvp
        #[doc = #doc]
        #[allow(unused_variables, clippy::all, clippy::pedantic)]
        #[must_use]
        #[inline]
        #vis fn #grad_name #generics (#(#inputs),*) -> (#float, #grad_ty) #where_clause {
            let (__mg_value, __mg_grads) = #pullback(#(#names,)* #one);
            (__mg_value, #grad)
        }
    }
}

/// `{name}_jvp` from a hand-written pullback: the directional derivative is ⟨∇f, d⟩ summed over
/// the float parameters. A scalar function needs one pullback (seed 1); a matrix-valued one
/// needs one per entry of its result (seed eₖ gives the k-th entry's gradient).
fn custom_jvp(
    item: &syn::ItemFn,
    func: &ast::Func,
    pullback: &syn::Path,
    from: &str,
) -> TokenStream {
    let names: Vec<&Ident> = func.params.iter().map(|p| &p.name).collect();
    let float = Ident::new(&func.float.name(), Span::call_site());
    let constant = |v: f64| {
        let lit = proc_macro2::Literal::f64_unsuffixed(v);
        if func.float.is_generic() {
            quote!(::matgrad::__private::nalgebra::convert::<f64, #float>(#lit))
        } else {
            quote!(#lit)
        }
    };
    let (zero, one) = (constant(0.0), constant(1.0));
    // ⟨g.i, d_i⟩ for every float parameter i.
    let terms: Vec<TokenStream> = float_params(func)
        .iter()
        .enumerate()
        .map(|(i, &k)| {
            let p = &func.params[k];
            let (d, i) = (tangent_ident(&p.name), syn::Index::from(i));
            match (p.kind, p.by_ref) {
                (Kind::Matrix { .. }, true) => quote!(__mg_g.#i.dot(#d)),
                (Kind::Matrix { .. }, false) => quote!(__mg_g.#i.dot(&#d)),
                (_, true) => quote!(__mg_g.#i * *#d),
                (_, false) => quote!(__mg_g.#i * #d),
            }
        })
        .collect();
    let derivative = quote!(#zero #(+ #terms)*);
    let ret = &func.ret_ty;
    let body = match func.ret {
        Kind::Matrix { .. } => quote! {
            let mut __mg_seed = <#ret>::zeros();
            let mut __mg_tangent = <#ret>::zeros();
            let mut __mg_value = <#ret>::zeros();
            for __mg_k in 0..__mg_seed.len() {
                __mg_seed[__mg_k] = #one;
                let (__mg_v, __mg_g) = #pullback(#(#names,)* __mg_seed);
                __mg_seed[__mg_k] = #zero;
                __mg_value = __mg_v;
                __mg_tangent[__mg_k] = #derivative;
            }
            (__mg_value, __mg_tangent)
        },
        Kind::Scalar(_) | Kind::Int | Kind::Bool | Kind::Samples { .. } | Kind::Integers => {
            quote! {
                let (__mg_value, __mg_g) = #pullback(#(#names,)* #one);
                (__mg_value, #derivative)
            }
        }
    };
    let vis = &item.vis;
    let name = format_ident!("{}_jvp", func.name);
    let inputs = signature_inputs(func);
    let d_inputs = tangent_inputs(func);
    let (generics, where_clause) = generics(item, func);
    let doc = format!(
        " The Jacobian-vector product of [`{}`], {from}: the value, and Σₓ ⟨∇ₓ, dx⟩ over the \
         float parameters.",
        func.name,
    );
    quote! {
        #[doc = #doc]
        #[allow(unused_variables, clippy::all, clippy::pedantic)]
        #[must_use]
        #[inline]
        #vis fn #name #generics (#(#inputs,)* #(#d_inputs,)*) -> (#ret, #ret) #where_clause {
            #body
        }
    }
}

/// The tangent parameters of `{name}_jvp`: one per float parameter, passed like it.
pub(super) fn tangent_inputs(func: &ast::Func) -> Vec<TokenStream> {
    float_params(func)
        .iter()
        .map(|&k| {
            let p = &func.params[k];
            let (d, ty) = (tangent_ident(&p.name), &p.ty);
            if p.by_ref {
                quote!(#d: &#ty)
            } else {
                quote!(#d: #ty)
            }
        })
        .collect()
}

/// The generic parameters and where clause of the user's function, for `{name}_grad`. A type
/// parameter that is the float type must also be `Copy`: the generated code reuses values.
pub fn generics(item: &syn::ItemFn, func: &ast::Func) -> (TokenStream, TokenStream) {
    let generics = &item.sig.generics;
    let (params, _, where_clause) = generics.split_for_impl();
    let mut predicates: Vec<TokenStream> = where_clause
        .map(|w| w.predicates.iter().map(|p| quote!(#p)).collect())
        .unwrap_or_default();
    if func.float.is_generic() {
        let float = Ident::new(&func.float.name(), Span::call_site());
        predicates.push(quote!(#float: ::core::marker::Copy));
    }
    let where_clause = if predicates.is_empty() {
        TokenStream::new()
    } else {
        quote!(where #(#predicates),*)
    };
    (quote!(#params), where_clause)
}

/// The parameters as the user wrote them, minus `mut`.
pub fn signature_inputs(func: &ast::Func) -> Vec<TokenStream> {
    let receiver = func.method.then(|| quote!(&self));
    receiver
        .into_iter()
        .chain(func.params.iter().map(|p| {
            let (name, ty) = (&p.name, &p.ty);
            if p.by_ref {
                quote!(#name: &#ty)
            } else {
                quote!(#name: #ty)
            }
        }))
        .collect()
}

fn doc(func: &ast::Func, prog: &Program, adj: &Adjoint) -> String {
    let names: Vec<String> = func
        .wrt
        .iter()
        .map(|&k| format!("`{}`", func.params[k].name))
        .collect();
    let params: Vec<(usize, String)> = func
        .wrt
        .iter()
        .map(|&k| (k, func.params[k].name.to_string()))
        .collect();
    let derivation = crate::derivation::derivation(prog, adj, &params).lines;
    format!(
        " Value and gradient of [`{name}`] with respect to {}, generated by `#[gradient]`.\n\n \
         Returns `({name}(…), gradients)`. Each gradient has its parameter's shape, and its entry `(i, j)` \
         is the partial derivative of `{name}` with respect to entry `(i, j)` of that parameter.\n\n \
         # Derivation\n\n ```text\n{}\n ```",
        names.join(", "),
        derivation
            .iter()
            .map(|line| format!(" {line}"))
            .collect::<Vec<_>>()
            .join("\n"),
        name = func.name
    )
}

pub(super) fn param_operand(p: &ast::Param) -> Operand {
    let name = &p.name;
    match (p.kind.shape(), p.by_ref) {
        (Some(Shape::Matrix(..)), true) => Operand {
            place: quote!(#name),
            borrow: quote!(#name),
            temp: false,
        },
        (Some(Shape::Matrix(..)), false) => Operand {
            place: quote!(#name),
            borrow: quote!(&#name),
            temp: false,
        },
        (_, true) => Operand::scalar(quote!((*#name))),
        (_, false) => Operand::scalar(quote!(#name)),
    }
}
