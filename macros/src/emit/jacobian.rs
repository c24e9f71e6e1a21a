//! `{name}_jacobian`: the Jacobian of each differentiated parameter, J[(k, l)] = ∂Fₖ/∂Xₗ with
//! the entries of F and X numbered in nalgebra's column-major order. Part of `emit`.
//!
//! Planned here, at compile time, from the shapes: with fewer parameter entries than result
//! entries, one tangent sweep per parameter entry (the tangent program of that parameter alone,
//! seeded with a unit direction, gives a column); otherwise one adjoint sweep per result entry
//! (the adjoint program seeded with a unit result gives a row of every parameter's Jacobian).
//! Either way the forward values are computed once, before the sweeps.

use proc_macro2::{Ident, Literal, Span, TokenStream};
use quote::{ToTokens, format_ident, quote};

use super::companions::{generics, signature_inputs};
use super::{Emitter, Operand};
use crate::adjoint::AExpr;
use crate::ast;
use crate::ctxt::Ctxt;
use crate::ir::{Dim, Program, Shape, ValueId};
use crate::plan::{Config, Mode, Plan};
use crate::simplify;

/// The most entries a Jacobian may have: it lives on the stack.
const MAX_ENTRIES: usize = 1 << 20;

/// Parameters with at most this many entries get one tangent program per entry, with the unit
/// direction known at compile time (so entries that do not reach a value cost nothing there);
/// larger ones one tangent program swept in a loop.
const UNROLL: usize = 16;

/// The tangent sweeps of one differentiated parameter.
pub enum Sweeps<'p> {
    /// One program, run once per entry with the unit direction built at run time.
    Loop(Box<Plan<'p>>),
    /// One program per entry, its unit direction substituted at compile time.
    Unrolled(Vec<Plan<'p>>),
}

/// How the parameters without a closed form are swept.
pub enum Sweeping<'p> {
    /// Every differentiated parameter has a closed form.
    Nothing,
    /// The tangent sweeps of each parameter (by parameter index).
    Forward(Vec<(usize, Sweeps<'p>)>),
    /// The adjoint program of the parameters, swept once per entry of the result.
    Reverse(Box<Plan<'p>>),
}

/// How a Jacobian is computed.
pub struct JacobianPlans<'p> {
    /// The forward pass the sweeps and closed forms share (unless the adjoint sweeps plan it).
    pub forward: Box<Plan<'p>>,
    /// Parameters whose Jacobian the matrix calculus gives directly, with it:
    /// vec(L·X·R) = (Rᵀ⊗L)·vec(X).
    pub closed: Vec<(usize, AExpr)>,
    pub sweeping: Sweeping<'p>,
}

impl<'p> JacobianPlans<'p> {
    /// Every plan, for the verifier.
    pub fn plans(&self) -> Box<dyn Iterator<Item = &Plan<'p>> + '_> {
        let swept: Box<dyn Iterator<Item = &Plan<'p>> + '_> = match &self.sweeping {
            Sweeping::Nothing => Box::new(std::iter::empty()),
            Sweeping::Forward(plans) => Box::new(plans.iter().flat_map(|(_, s)| match s {
                Sweeps::Loop(plan) => std::slice::from_ref(&**plan).iter(),
                Sweeps::Unrolled(plans) => plans.iter(),
            })),
            Sweeping::Reverse(plan) => Box::new(std::iter::once(&**plan)),
        };
        Box::new(std::iter::once(&*self.forward).chain(swept))
    }

    /// The plan whose forward pass the generated function runs.
    fn shared(&self) -> &Plan<'p> {
        match &self.sweeping {
            Sweeping::Reverse(plan) => plan,
            Sweeping::Nothing | Sweeping::Forward(_) => &self.forward,
        }
    }
}

/// F = L·X·R for the parameter `k`: the output a chain of matrix products in which `X` is one
/// factor and no other factor depends on it. Returns Rᵀ⊗L (I for a missing side), the Jacobian
/// of vec(F) with respect to vec(X).
fn linear_chain(prog: &Program, k: usize) -> Option<AExpr> {
    let (left, right) = product_sides(prog, prog.output?, k)?;
    let Shape::Matrix(r, c) = prog.shape(prog.param_node(k)?) else {
        return None;
    };
    let left = left.unwrap_or(AExpr::Diag(AExpr::lit("1.0"), r));
    let right = right.map_or(AExpr::Diag(AExpr::lit("1.0"), c), |rt| {
        AExpr::Transpose(Box::new(rt))
    });
    Some(AExpr::Kronecker(Box::new(right), Box::new(left)))
}

/// The value `v` as L·X·R: a chain of matrix products in which the parameter `k` is one factor
/// and no other factor depends on it. Returns the products (L, R) of the factors on each side,
/// `None` for a side without factors.
pub(super) fn product_sides(
    prog: &Program,
    v: ValueId,
    k: usize,
) -> Option<(Option<AExpr>, Option<AExpr>)> {
    let x = prog.param_node(k)?;
    let mut factors = Vec::new();
    flatten_products(prog, v, &mut factors);
    let at = factors.iter().position(|&f| f == x)?;
    if factors.len() < 2 || factors.iter().filter(|&&f| f == x).count() != 1 {
        return None;
    }
    // Every other factor must be constant with respect to X.
    let depends = crate::tangent::tangents(prog, &[k], None).active;
    if factors.iter().any(|&f| f != x && depends[f]) {
        return None;
    }
    let product = |fs: &[ValueId]| {
        fs.iter()
            .map(|&f| AExpr::Val(f))
            .reduce(|a, b| AExpr::MatMul(Box::new(a), Box::new(b)))
    };
    Some((product(&factors[..at]), product(&factors[at + 1..])))
}

/// The factors of the matrix product `v`, left to right.
fn flatten_products(prog: &Program, v: ValueId, out: &mut Vec<ValueId>) {
    let node = &prog.nodes[v];
    let matrices = node.args.iter().all(|&a| prog.shape(a).is_matrix());
    if matches!(node.op, crate::ir::Op::Mul) && matrices {
        flatten_products(prog, node.args[0], out);
        flatten_products(prog, node.args[1], out);
    } else {
        out.push(v);
    }
}

/// The number of entries of a value of `shape`, as a size in generated code, and an estimate
/// for the cost model; `None` when it is a product of const generic sizes, which stable Rust
/// cannot name as a type.
fn entries(shape: Shape) -> Option<(TokenStream, usize)> {
    match shape {
        Shape::Matrix(Dim::Lit(r), Dim::Lit(c)) => {
            Some((Literal::usize_unsuffixed(r * c).into_token_stream(), r * c))
        }
        Shape::Matrix(d, Dim::Lit(1)) | Shape::Matrix(Dim::Lit(1), d) => {
            Some((d.tokens(), d.estimate()))
        }
        Shape::Matrix(..) => None,
        Shape::Scalar | Shape::Bool | Shape::Tuple | Shape::Poison => Some((quote!(1), 1)),
    }
}

/// The number of entries of a value of `shape` in generated code (1 when it cannot be named,
/// which `check_jacobian_sizes` reports).
pub fn entries_tokens(shape: Option<Shape>) -> TokenStream {
    entries(shape.unwrap_or(Shape::Scalar)).map_or_else(|| quote!(1), |e| e.0)
}

/// Reports a result or differentiated parameter whose Jacobian cannot be a fixed-size matrix.
pub fn check_jacobian_sizes(cx: &Ctxt, func: &ast::Func) {
    let ret = func.ret.shape().unwrap_or(Shape::Poison);
    let Some((_, m)) = entries(ret) else {
        cx.error_spanned_by(
            &func.ret_ty,
            format!(
                "`{}` returns a {ret} matrix, whose number of entries is a product of const \
                 generic sizes, which stable Rust cannot name as the size of a Jacobian; return a \
                 vector (`SVector<T, N>`) or use literal sizes",
                func.name
            ),
        );
        return;
    };
    for &k in &func.wrt {
        let p = &func.params[k];
        let shape = p.kind.shape().unwrap_or(Shape::Poison);
        match entries(shape) {
            None => cx.error_spanned_by(
                &p.ty,
                format!(
                    "`{}` is {shape}, and its number of entries is a product of const generic \
                     sizes, which stable Rust cannot name as the size of a Jacobian; differentiate \
                     a vector (`SVector<T, N>`) or use literal sizes",
                    p.name
                ),
            ),
            Some((_, n)) if m.saturating_mul(n) > MAX_ENTRIES => cx.error_spanned_by(
                &p.ty,
                format!(
                    "the Jacobian of `{}` with respect to `{}` would have {m}×{n} entries, more \
                     than the {MAX_ENTRIES} a fixed-size matrix on the stack can hold",
                    func.name, p.name
                ),
            ),
            Some(_) => {}
        }
    }
}

/// Plans the Jacobian: closed forms where the matrix calculus gives them, and for the other
/// parameters tangent sweeps when they have fewer entries than the result, adjoint sweeps
/// otherwise.
pub fn jacobian_plans<'p>(func: &ast::Func, prog: &'p Program) -> JacobianPlans<'p> {
    let size = |shape: Option<Shape>| entries(shape.unwrap_or(Shape::Poison)).map_or(1, |e| e.1);
    let literal = |k: usize| func.params[k].kind.shape().is_some_and(shape_is_literal);
    let closed: Vec<(usize, AExpr)> = func
        .wrt
        .iter()
        .filter(|&&k| literal(k) && func.ret.shape().is_some_and(shape_is_literal))
        .filter_map(|&k| linear_chain(prog, k).map(|j| (k, j)))
        .collect();
    let rest: Vec<usize> = func
        .wrt
        .iter()
        .copied()
        .filter(|k| !closed.iter().any(|(c, _)| c == k))
        .collect();
    let m = size(func.ret.shape());
    let n: usize = rest
        .iter()
        .map(|&k| size(func.params[k].kind.shape()))
        .sum();
    let forward = Box::new(Plan::new(
        prog,
        Config {
            wrt: rest.clone(),
            mode: Mode::Forward,
            ..Config::default()
        },
    ));
    let sweeping = if rest.is_empty() {
        Sweeping::Nothing
    } else if n <= m {
        Sweeping::Forward(
            rest.iter()
                .map(|&k| {
                    let config = |unit| Config {
                        wrt: vec![k],
                        mode: Mode::Forward,
                        unit,
                        ..Config::default()
                    };
                    let shape = func.params[k].kind.shape().unwrap_or(Shape::Scalar);
                    let sweeps = match entries(shape) {
                        Some((_, n)) if n <= UNROLL && shape_is_literal(shape) => Sweeps::Unrolled(
                            (0..n).map(|l| Plan::new(prog, config(Some(l)))).collect(),
                        ),
                        _ => Sweeps::Loop(Box::new(Plan::new(prog, config(None)))),
                    };
                    (k, sweeps)
                })
                .collect(),
        )
    } else {
        Sweeping::Reverse(Box::new(Plan::new(
            prog,
            Config {
                wrt: rest,
                ..Config::default()
            },
        )))
    };
    JacobianPlans {
        forward,
        closed,
        sweeping,
    }
}

/// Generates `{name}_jacobian`.
pub fn jacobian(item: &syn::ItemFn, func: &ast::Func, plans: &JacobianPlans) -> TokenStream {
    let forward = plans.shared();
    let float = Ident::new(&func.float.name(), Span::call_site());
    let emitter = |plan| Emitter::top(item, func, plan, &float);
    let base = emitter(forward);
    let (checks, values) = (base.helper_checks(), base.forward());
    let out = forward
        .prog
        .output
        .expect("invariant: a checked program has an output");
    let value = base.owned(out);
    let ret_shape = func.ret.shape().unwrap_or(Shape::Scalar);
    let (m, _) = entries(ret_shape).unwrap_or((quote!(1), 1));
    let j_ident = |k: usize| Ident::new(&format!("__mg_j{k}"), Span::mixed_site());
    let j_ty = |k: usize| {
        let shape = func.params[k].kind.shape().unwrap_or(Shape::Scalar);
        let (n, _) = entries(shape).unwrap_or((quote!(1), 1));
        quote!(::matgrad::__private::nalgebra::SMatrix<#float, #m, #n>)
    };
    let declarations: Vec<TokenStream> = func
        .wrt
        .iter()
        .map(|&k| {
            let (j, ty) = (j_ident(k), j_ty(k));
            match plans.closed.iter().find(|(c, _)| *c == k) {
                Some((_, closed)) => {
                    let fill = base.kronecker_into(closed, &j);
                    quote!(let mut #j: #ty = <#ty>::zeros(); #fill)
                }
                None => quote!(let mut #j: #ty = <#ty>::zeros();),
            }
        })
        .collect();
    let sweeps = match &plans.sweeping {
        Sweeping::Nothing => Vec::new(),
        Sweeping::Forward(plans) => plans
            .iter()
            .flat_map(|(k, sweeps)| match sweeps {
                Sweeps::Loop(plan) => vec![tangent_sweep(&emitter(plan), func, *k, &j_ident(*k))],
                Sweeps::Unrolled(plans) => plans
                    .iter()
                    .enumerate()
                    .map(|(l, plan)| unit_sweep(&emitter(plan), func, *k, l, &j_ident(*k)))
                    .collect(),
            })
            .collect(),
        Sweeping::Reverse(plan) => vec![adjoint_sweep(&emitter(plan), func, &j_ident)],
    };
    let js: Vec<Ident> = func.wrt.iter().map(|&k| j_ident(k)).collect();
    let (result_ty, result) = if js.len() == 1 {
        let ty = j_ty(func.wrt[0]);
        (ty, quote!(#(#js)*))
    } else {
        let tys: Vec<TokenStream> = func.wrt.iter().map(|&k| j_ty(k)).collect();
        (quote!((#(#tys),*)), quote!((#(#js),*)))
    };
    let vis = &item.vis;
    let name = format_ident!("{}_jacobian", func.name);
    let inputs = signature_inputs(func);
    let (generics, where_clause) = generics(item, func);
    let ret = &func.ret_ty;
    let doc = doc(func, plans);
    quote! {
        #[doc = #doc]
        #[allow(unused_variables, unused_mut, clippy::all, clippy::pedantic)]
        #[must_use]
        #[inline]
        #vis fn #name #generics (#(#inputs),*) -> (#ret, #result_ty) #where_clause {
            #(#checks)*
            #(#values)*
            #(#declarations)*
            #(#sweeps)*
            (#value, #result)
        }
    }
}

/// One column of `J` per entry l of parameter `k`: the tangent program seeded with eₗ.
fn tangent_sweep(e: &Emitter, func: &ast::Func, k: usize, j: &Ident) -> TokenStream {
    let shape = func.params[k].kind.shape().unwrap_or(Shape::Scalar);
    let unit = Ident::new(&format!("__mg_e{k}"), Span::mixed_site());
    let l = Ident::new("__mg_l", Span::mixed_site());
    let mut e_seeded = e.clone();
    e_seeded.tangents = (0..func.params.len())
        .map(|p| {
            if p == k {
                Operand::local(&unit, shape)
            } else {
                Operand::temp(quote!(::core::compile_error!(
                    "invariant: one parameter is seeded"
                )))
            }
        })
        .collect();
    let out = e
        .prog
        .output
        .expect("invariant: a checked program has an output");
    let (tangent, column) = column(&e_seeded, out, &quote!(#l), j);
    let one = e.lit(1.0);
    if shape.is_matrix() {
        let ty = e.ty(shape);
        quote! {
            for #l in 0..<#ty>::zeros().len() {
                let mut #unit: #ty = <#ty>::zeros();
                #unit[#l] = #one;
                #(#tangent)*
                #column
            }
        }
    } else {
        quote! {{
            let #l = 0;
            let #unit = #one;
            #(#tangent)*
            #column
        }}
    }
}

/// The tangent program of a sweep and the statement writing column `l` of `j` from the tangent
/// of the result `out`. A matrix result's tangent is written into the column entry by entry,
/// from the expression of its last step, rather than formed and then copied; a result without
/// a tangent leaves the column as the zeros it was declared with.
fn column(
    e: &Emitter,
    out: ValueId,
    l: &TokenStream,
    j: &Ident,
) -> (Vec<TokenStream>, TokenStream) {
    if !e.plan.tangent_active[out] {
        return (e.tangent(), TokenStream::new());
    }
    let shape = e.prog.shape(out);
    if !shape.is_matrix() {
        let d = e.owned_tangent(out);
        return (e.tangent(), quote!(#j[(0, #l)] = #d;));
    }
    let dest = |r: &Ident| quote!(#j[(#r, #l)]);
    if let Some(alias) = &e.plan.tangent_alias[out] {
        return (e.tangent(), e.write_entrywise(alias, shape, &dest));
    }
    let last = e
        .plan
        .tangent
        .iter()
        .find(|(v, _)| *v == out)
        .map(|(_, x)| x);
    let read_later = e.plan.tangent.iter().any(|(v, x)| {
        let mut reads = false;
        x.for_each_tangent(e.prog, &mut |t| reads |= t == out);
        *v != out && reads
    });
    match last {
        Some(x) if !read_later => (e.tangent_but(Some(out)), e.write_entrywise(x, shape, &dest)),
        Some(_) | None => {
            let d = e.tangent_operand(out).borrow;
            let copy = quote!({
                let __mg_dout = #d;
                for __mg_r in 0..__mg_dout.len() { #j[(__mg_r, #l)] = __mg_dout[__mg_r]; }
            });
            (e.tangent(), copy)
        }
    }
}

/// Column `l` of `J` for parameter `k`: its tangent program with the unit direction along entry
/// `l` substituted at compile time.
fn unit_sweep(e: &Emitter, func: &ast::Func, k: usize, l: usize, j: &Ident) -> TokenStream {
    let shape = func.params[k].kind.shape().unwrap_or(Shape::Scalar);
    let unit = Ident::new(&format!("__mg_e{k}"), Span::mixed_site());
    let mut seeded = e.clone();
    seeded.tangents = (0..func.params.len())
        .map(|p| {
            if p == k {
                Operand::local(&unit, shape)
            } else {
                Operand::temp(quote!(::core::compile_error!(
                    "invariant: one parameter is seeded"
                )))
            }
        })
        .collect();
    let out = e
        .prog
        .output
        .expect("invariant: a checked program has an output");
    let one = e.lit(1.0);
    let l_lit = Literal::usize_unsuffixed(l);
    let (tangent, column) = column(&seeded, out, &l_lit.to_token_stream(), j);
    // A nested body may read the direction itself (a `map` over the parameter).
    let direction = if shape.is_matrix() {
        let ty = e.ty(shape);
        quote!(let mut #unit: #ty = <#ty>::zeros(); #unit[#l_lit] = #one;)
    } else {
        quote!(let #unit = #one;)
    };
    quote!({
        #direction
        #(#tangent)*
        #column
    })
}

/// Whether every size of `shape` is a literal.
fn shape_is_literal(shape: Shape) -> bool {
    match shape {
        Shape::Matrix(r, c) => r.value().is_some() && c.value().is_some(),
        Shape::Scalar | Shape::Bool | Shape::Tuple | Shape::Poison => true,
    }
}

/// One row of every parameter's `J` per entry r of the result: the adjoint program seeded with eᵣ.
fn adjoint_sweep(e: &Emitter, func: &ast::Func, j: &dyn Fn(usize) -> Ident) -> TokenStream {
    let prog = e.prog;
    let out = prog
        .output
        .expect("invariant: a checked program has an output");
    let seed = Ident::new("__mg_seed", Span::mixed_site());
    let r = Ident::new("__mg_r", Span::mixed_site());
    let mut seeded = e.clone();
    seeded.seeds = vec![quote!(#seed)];
    let reverse = seeded.reverse();
    let rows: Vec<TokenStream> = func
        .wrt
        .iter()
        .map(|&k| {
            let j = j(k);
            let shape = func.params[k].kind.shape().unwrap_or(Shape::Scalar);
            match prog.param_node(k) {
                // Structurally zero: the row stays as the zeros it was declared with.
                Some(node) if !e.plan.adj.nonzero[node] => TokenStream::new(),
                None => TokenStream::new(),
                // Written entry by entry from the adjoint's expression, not formed and copied.
                Some(node) if shape.is_matrix() => {
                    let g = seeded.plan.adjoint_operand(node);
                    seeded.write_entrywise(&g, shape, &|c| quote!(#j[(#r, #c)]))
                }
                Some(node) => {
                    let g = seeded.adjoint_operand(node).place;
                    quote!(#j[(#r, 0)] = #g;)
                }
            }
        })
        .collect();
    let one = e.lit(1.0);
    let shape = prog.shape(out);
    if shape.is_matrix() {
        let ty = e.ty(shape);
        quote! {
            for #r in 0..<#ty>::zeros().len() {
                let mut #seed: #ty = <#ty>::zeros();
                #seed[#r] = #one;
                #(#reverse)*
                #(#rows)*
            }
        }
    } else {
        quote! {{
            let #r = 0;
            let #seed = #one;
            #(#reverse)*
            #(#rows)*
        }}
    }
}

fn doc(func: &ast::Func, plans: &JacobianPlans) -> String {
    let names: Vec<String> = func
        .wrt
        .iter()
        .map(|&k| format!("`{}`", func.params[k].name))
        .collect();
    let how = match &plans.sweeping {
        _ if !plans.closed.is_empty() => {
            "the closed form vec(L·X·R) = (Rᵀ⊗L)·vec(X) where the function is such a product, \
             and sweeps for the other parameters"
        }
        Sweeping::Nothing => "the closed form vec(L·X·R) = (Rᵀ⊗L)·vec(X)",
        Sweeping::Forward(_) => {
            "one tangent sweep per parameter entry, which costs less than one adjoint sweep per \
             result entry for these shapes"
        }
        Sweeping::Reverse(_) => {
            "one adjoint sweep per result entry, which costs less than one tangent sweep per \
             parameter entry for these shapes"
        }
    };
    format!(
        " Value and Jacobian of [`{name}`] with respect to {}, generated by `#[jacobian]`.\n\n \
         Returns `({name}(…), J)`, one `J` per differentiated parameter (a tuple for several): \
         `J[(k, l)]` is the derivative of entry k of the result with respect to entry l of the \
         parameter, both numbered in nalgebra's column-major order (that of `as_slice()`).\n\n \
         Computed by {how}; the forward values are computed once.",
        names.join(", "),
        name = func.name
    )
}

impl Emitter<'_> {
    /// Writes `e`, a matrix, into `dest` entry by entry (`dest(r)` is the place of entry `r`, in
    /// column-major order) without forming it: entrywise operations (negation, sums, `∘`, `⊘`,
    /// scaling) combine the entries of their operands, values already stored are read in place,
    /// and any other operand is formed once before the loop.
    pub(super) fn write_entrywise(
        &self,
        e: &AExpr,
        shape: Shape,
        dest: &dyn Fn(&Ident) -> TokenStream,
    ) -> TokenStream {
        self.write_entrywise_from(e, shape, dest, &quote!(0))
    }

    /// [`Self::write_entrywise`] for the entries from index `start` on.
    pub(super) fn write_entrywise_from(
        &self,
        e: &AExpr,
        shape: Shape,
        dest: &dyn Fn(&Ident) -> TokenStream,
        start: &TokenStream,
    ) -> TokenStream {
        let k = Ident::new("__mg_k", Span::mixed_site());
        let mut hoisted = Vec::new();
        let entry = self.entry(e, &quote!(#k), &mut hoisted);
        let ty = self.ty(shape);
        let place = dest(&k);
        quote!({
            #(#hoisted)*
            for #k in #start..<#ty>::zeros().len() { #place = #entry; }
        })
    }

    /// Entry `k` (a column-major index) of the matrix `e`; operands that are neither stored nor
    /// entrywise are bound in `hoisted` first.
    fn entry(&self, e: &AExpr, k: &TokenStream, hoisted: &mut Vec<TokenStream>) -> TokenStream {
        let binary = |a: &AExpr, b: &AExpr, op: TokenStream, hoisted: &mut Vec<TokenStream>| {
            let (a, b) = (self.entry(a, k, hoisted), self.entry(b, k, hoisted));
            quote!((#a #op #b))
        };
        let formed = |hoisted: &mut Vec<TokenStream>| {
            let h = hoist(&self.expr(e).place, hoisted);
            quote!(#h[#k])
        };
        let shape = |x: &AExpr| simplify::shape(self.prog, &self.plan.adj, x);
        let vector = |x: &AExpr| matches!(shape(x), Shape::Matrix(r, c) if r.value() == Some(1) || c.value() == Some(1));
        match e {
            AExpr::Neg(a) => {
                let a = self.entry(a, k, hoisted);
                quote!((-#a))
            }
            AExpr::Add(a, b) => binary(a, b, quote!(+), hoisted),
            AExpr::Sub(a, b) => binary(a, b, quote!(-), hoisted),
            AExpr::ComponentMul(a, b) => binary(a, b, quote!(*), hoisted),
            AExpr::ComponentDiv(a, b) => binary(a, b, quote!(/), hoisted),
            AExpr::Scale(m, s) | AExpr::DivBy(m, s) => {
                let op = if matches!(e, AExpr::Scale(..)) {
                    quote!(*)
                } else {
                    quote!(/)
                };
                let m = self.entry(m, k, hoisted);
                let s = hoist(&self.expr(s).place, hoisted);
                quote!((#m #op #s))
            }
            AExpr::Fill(s, _) => hoist(&self.expr(s).place, hoisted).into_token_stream(),
            // A vector and its transpose have their entries in the same order.
            AExpr::Transpose(a) if vector(a) => self.entry(a, k, hoisted),
            // The outer product u·vᵀ of an m-vector and an n-vector: entry k is u[k mod m]·v[k ÷ m].
            AExpr::MatMul(u, v) => match (shape(u), shape(v)) {
                (Shape::Matrix(Dim::Lit(m), Dim::Lit(1)), Shape::Matrix(Dim::Lit(1), _)) => {
                    let m = Literal::usize_unsuffixed(m);
                    let u = self.entry(u, &quote!((#k % #m)), hoisted);
                    let v = self.entry(v, &quote!((#k / #m)), hoisted);
                    quote!((#u * #v))
                }
                _ => formed(hoisted),
            },
            AExpr::Val(_) | AExpr::Adj(_) | AExpr::Tan(_) | AExpr::Partial { .. }
                if !self.expr(e).temp =>
            {
                let place = self.expr(e).place;
                quote!(#place[#k])
            }
            // Anything else is formed once: correct for every kind, entrywise or not.
            _ => formed(hoisted),
        }
    }

    /// Fills `j`, zeros as declared, with the closed form `P⊗Q` entry by entry: block (r, c) is
    /// P[(r, c)]·Q, written straight into J without forming the product first, and the blocks an
    /// identity factor makes zero (or the off-diagonal entries of an identity Q) left as they are.
    pub(super) fn kronecker_into(&self, e: &AExpr, j: &Ident) -> TokenStream {
        let AExpr::Kronecker(p, q) = e else {
            let value = self.expr(e).place;
            return quote!(#j = #value;);
        };
        let dims = |x: &AExpr| match simplify::shape(self.prog, &self.plan.adj, x) {
            Shape::Matrix(Dim::Lit(r), Dim::Lit(c)) => Some((r, c)),
            Shape::Matrix(..) | Shape::Scalar | Shape::Bool | Shape::Tuple | Shape::Poison => None,
        };
        let (Some((pr, pc)), Some((qr, qc))) = (dims(p), dims(q)) else {
            let value = self.expr(e).place;
            return quote!(#j = #value;);
        };
        let mut hoisted = Vec::new();
        let (i1, j1, i2, j2) = (
            Ident::new("__mg_pi", Span::mixed_site()),
            Ident::new("__mg_pj", Span::mixed_site()),
            Ident::new("__mg_qi", Span::mixed_site()),
            Ident::new("__mg_qj", Span::mixed_site()),
        );
        let (pr_lit, pc_lit, qr_lit, qc_lit) = (
            Literal::usize_unsuffixed(pr),
            Literal::usize_unsuffixed(pc),
            Literal::usize_unsuffixed(qr),
            Literal::usize_unsuffixed(qc),
        );
        let row = quote!(#i1 * #qr_lit + #i2);
        let col = quote!(#j1 * #qc_lit + #j2);
        let loops = match (&**p, &**q) {
            (AExpr::Diag(s, _), _) => {
                let s = hoist(&self.expr(s).place, &mut hoisted);
                let qe = self.entry2(q, &i2, &j2, &mut hoisted);
                quote!(for #i1 in 0..#pr_lit { let #j1 = #i1;
                    for #j2 in 0..#qc_lit { for #i2 in 0..#qr_lit {
                        #j[(#row, #col)] = #s * #qe;
                    } }
                })
            }
            (_, AExpr::Diag(s, _)) => {
                let s = hoist(&self.expr(s).place, &mut hoisted);
                let pe = self.entry2(p, &i1, &j1, &mut hoisted);
                quote!(for #j1 in 0..#pc_lit { for #i1 in 0..#pr_lit {
                    let __mg_s = #pe * #s;
                    for #i2 in 0..#qr_lit { let #j2 = #i2; #j[(#row, #col)] = __mg_s; }
                } })
            }
            _ => {
                let pe = self.entry2(p, &i1, &j1, &mut hoisted);
                let qe = self.entry2(q, &i2, &j2, &mut hoisted);
                quote!(for #j1 in 0..#pc_lit { for #i1 in 0..#pr_lit {
                    let __mg_s = #pe;
                    for #j2 in 0..#qc_lit { for #i2 in 0..#qr_lit {
                        #j[(#row, #col)] = __mg_s * #qe;
                    } }
                } })
            }
        };
        quote!({ #(#hoisted)* #loops })
    }

    /// Entry (i, j) of the matrix `e`: a stored value read in place (a transposed one with the
    /// indices swapped), anything else formed once in `hoisted`.
    fn entry2(
        &self,
        e: &AExpr,
        i: &Ident,
        j: &Ident,
        hoisted: &mut Vec<TokenStream>,
    ) -> TokenStream {
        if let AExpr::Transpose(inner) = e
            && matches!(**inner, AExpr::Val(_))
            && !self.expr(inner).temp
        {
            let place = self.expr(inner).place;
            return quote!(#place[(#j, #i)]);
        }
        let o = self.expr(e);
        let place = if matches!(e, AExpr::Val(_)) && !o.temp {
            o.place
        } else {
            hoist(&o.place, hoisted).into_token_stream()
        };
        quote!(#place[(#i, #j)])
    }
}

/// Binds `tokens` to a fresh local in `hoisted` and names it.
fn hoist(tokens: &TokenStream, hoisted: &mut Vec<TokenStream>) -> Ident {
    let h = Ident::new(&format!("__mg_h{}", hoisted.len()), Span::mixed_site());
    hoisted.push(quote!(let #h = #tokens;));
    h
}
