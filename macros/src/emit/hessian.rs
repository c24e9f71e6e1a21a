//! `{name}_hvp` and `{name}_hessian`: the tangent of the adjoint program (see `second`). Part of
//! `emit`.
//!
//! `_hvp` runs the gradient's forward and reverse passes once, the tangent program along `v`,
//! and the tangent of the reverse pass, whose last value is H·v. `_hessian` runs the forward and
//! reverse passes once and the two tangent programs once per entry of the parameter, along the
//! unit direction of that entry (substituted at compile time for parameters of at most 16
//! entries, so that tangents it does not reach cost nothing); each gives a column of H, whose
//! lower triangle is then mirrored onto the upper one, so that H is symmetric to the last bit.

use proc_macro2::{Ident, Literal, Span, TokenStream};
use quote::{ToTokens, format_ident, quote};

use super::companions::{generics, param_operand, signature_inputs, tangent_ident, tangent_inputs};
use super::{Emitter, Operand};
use crate::adjoint::AExpr;
use crate::ast;
use crate::ir::Shape;
use crate::ir::{Dim, Op, ValueId};
use crate::plan::{Forward, Plan, Update};
use crate::second::{self, SecondOrder, TangentStep};
use crate::simplify;

/// Parameters with at most this many entries get one second-order program per entry, its unit
/// direction known at compile time; larger ones one program swept in a loop.
const UNROLL: usize = 16;

/// What `_hessian`'s loop over the unit directions eₗ of the parameter lets the tangent program
/// print more cheaply: A·eₗ is column l of A, ⟨a, eₗ⟩ entry l of a; and the tangent of a map's
/// adjoint, linear in the tangents dA and dZ̄ it reads, is Cₐ∘dA + Cz∘dZ̄ with coefficients the
/// loop computes once, before it (see [`Emitter::map_coefficients`]).
#[derive(Clone)]
pub(super) struct Sweep {
    /// The differentiated parameter.
    param: usize,
    /// The loop index l.
    index: TokenStream,
    /// Whether the parameter is a column vector (else A·eₗ is left to the product).
    vector: bool,
    /// The tangents (`false`) and adjoints' tangents (`true`) that are one-hot column vectors
    /// along every direction: zero but for the entry at a row known only in the loop (E·x,
    /// for E = eᵢeⱼᵀ and a vector x, is xⱼ at row i, and entrywise products, scalings and sums
    /// keep that). Each is a scalar local, with the tokens of its row.
    hot: std::collections::BTreeMap<(bool, ValueId), TokenStream>,
    /// Tangents that are a column of a matrix along every direction of a vector parameter
    /// (A·eₗ): bound as nalgebra's view of that column, not copied.
    views: std::collections::BTreeMap<ValueId, TokenStream>,
}

/// The first number of the shared values a sweep computes before its loop (see
/// [`Emitter::hoist_invariants`]), above any the adjoint program numbers.
pub(super) const HOISTED: usize = 1 << 20;

/// Whether `e` reads nothing that depends on the direction: values, adjoints, shared values
/// and map partials of the gradient, combined by scalar arithmetic and functions.
fn invariant(e: &AExpr) -> bool {
    match e {
        AExpr::Val(_)
        | AExpr::Adj(_)
        | AExpr::Lit(_)
        | AExpr::Cast(_)
        | AExpr::Shared(_)
        | AExpr::Partial { .. } => true,
        AExpr::Neg(_)
        | AExpr::Add(..)
        | AExpr::Sub(..)
        | AExpr::Mul(..)
        | AExpr::Div(..)
        | AExpr::Method(..)
        | AExpr::Helper(..)
        | AExpr::Powi(..)
        | AExpr::Powf(..)
        | AExpr::DivOrZero(..)
        | AExpr::AtZero(..)
        | AExpr::Step(..)
        | AExpr::Entry(..) => e.children().into_iter().all(invariant),
        // Tangents and seeds move with the direction; the rest are matrices or nested programs,
        // never hoisted.
        AExpr::Scale(..)
        | AExpr::DivBy(..)
        | AExpr::MatMul(..)
        | AExpr::Transpose(..)
        | AExpr::Dot(..)
        | AExpr::ComponentMul(..)
        | AExpr::ComponentDiv(..)
        | AExpr::Diag(..)
        | AExpr::Fill(..)
        | AExpr::OneHot(..)
        | AExpr::Tan(..)
        | AExpr::Trace(..)
        | AExpr::Sum(..)
        | AExpr::ExtremumAdjoint { .. }
        | AExpr::ExtremumTangent { .. }
        | AExpr::EntryAt(..)
        | AExpr::OneHotAt(..)
        | AExpr::TriSolve { .. }
        | AExpr::Phi(..)
        | AExpr::SymFromLower(..)
        | AExpr::SymLower(..)
        | AExpr::DiagonalOf(..)
        | AExpr::FromDiagonal(..)
        | AExpr::Cross(..)
        | AExpr::Block(..)
        | AExpr::Embed(..)
        | AExpr::Kronecker(..)
        | AExpr::SolveForward { .. }
        | AExpr::PowerTangent { .. }
        | AExpr::BranchTangent { .. }
        | AExpr::CallTangent { .. }
        | AExpr::Item(..)
        | AExpr::MapAdj { .. }
        | AExpr::MapAdjTan { .. }
        | AExpr::BranchAdjTan { .. }
        | AExpr::CallAdjTan { .. }
        | AExpr::PowerAdjointTangent { .. }
        | AExpr::KroneckerAdjointOf { .. }
        | AExpr::AdjTan(..)
        | AExpr::SharedTan(..)
        | AExpr::DeterminantGradient { .. }
        | AExpr::SolveTransposed { .. }
        | AExpr::KroneckerAdjoint { .. }
        | AExpr::Seed(..)
        | AExpr::BranchAdjoint { .. }
        | AExpr::CallAdjoint { .. }
        | AExpr::Field { .. }
        | AExpr::Window { .. }
        | AExpr::PowerAdjoint { .. } => false,
    }
}

/// Whether `e` calls a function or divides: worth computing once.
fn costly(e: &AExpr) -> bool {
    matches!(
        e,
        AExpr::Method(..)
            | AExpr::Helper(..)
            | AExpr::Powi(..)
            | AExpr::Powf(..)
            | AExpr::Div(..)
            | AExpr::DivOrZero(..)
    ) || e.children().into_iter().any(costly)
}

/// The plans of one `#[hessian]` function.
pub struct HessianPlans<'p> {
    /// The gradient (reverse mode, the one differentiated parameter).
    pub grad: Plan<'p>,
    /// The tangent program along a direction given at run time (`_hvp`, and `_hessian` of a
    /// large parameter), with its second-order program.
    pub along: (Plan<'p>, SecondOrder),
    /// For a parameter of at most [`UNROLL`] literal entries, the same along each unit direction.
    pub units: Option<Vec<(Plan<'p>, SecondOrder)>>,
    /// H in closed form, where the matrix calculus gives it (see [`closed_hessian`]).
    pub closed: Option<AExpr>,
}

/// f = ‖L·X·R − C‖² (or `+ C`, or without C), with L, R and C independent of X: F = L·X·R − C
/// is affine in X with Jacobian Rᵀ⊗L, so H = 2·JᵀJ = 2·(R·Rᵀ)⊗(Lᵀ·L), as the Kronecker product
/// P⊗Q with P = 2·R·Rᵀ (or 2·I) and Q = Lᵀ·L (or I). Only for literal sizes.
pub fn closed_hessian(prog: &crate::ir::Program, k: usize) -> Option<AExpr> {
    let out = prog.output?;
    let node = &prog.nodes[out];
    if !matches!(node.op, Op::NormSquared) {
        return None;
    }
    let depends = crate::tangent::tangents(prog, &[k], None).active;
    let r = node.args[0];
    let residual = &prog.nodes[r];
    let chain = match residual.op {
        Op::Sub | Op::Add if !depends[residual.args[1]] => residual.args[0],
        Op::Sub | Op::Add if !depends[residual.args[0]] => residual.args[1],
        Op::Param(..)
        | Op::Const(..)
        | Op::Add
        | Op::Sub
        | Op::Mul
        | Op::Div
        | Op::Neg
        | Op::Transpose
        | Op::Trace
        | Op::Sum
        | Op::Mean
        | Op::Dot
        | Op::Norm
        | Op::NormSquared
        | Op::ComponentMul
        | Op::ComponentDiv
        | Op::Map(..)
        | Op::Unary(..)
        | Op::Powi(..)
        | Op::Powf
        | Op::Max
        | Op::Min
        | Op::Index(..)
        | Op::IndexAt(..)
        | Op::Field(..)
        | Op::SetEntry(..)
        | Op::View { .. }
        | Op::SetView { .. }
        | Op::Extremum(..)
        | Op::DiagonalOf
        | Op::Cross
        | Op::Cholesky(..)
        | Op::TriSolve { .. }
        | Op::IdentityOf
        | Op::DiagonalProduct
        | Op::Inverse(..)
        | Op::Determinant
        | Op::Solve(..)
        | Op::Kronecker
        | Op::Build { .. }
        | Op::MatrixPower(..)
        | Op::TraceChain(..)
        | Op::Compare(..)
        | Op::Not
        | Op::And
        | Op::Or
        | Op::BoolConst(..)
        | Op::Branch { .. }
        | Op::Extract(..)
        | Op::Accumulate(..)
        | Op::Call(..) => r,
    };
    let (left, right) = super::jacobian::product_sides(prog, chain, k)?;
    let Shape::Matrix(Dim::Lit(rows), Dim::Lit(cols)) = prog.shape(prog.param_node(k)?) else {
        return None;
    };
    let two = AExpr::lit("2.0");
    let p = match right {
        Some(rt) => AExpr::Scale(
            Box::new(AExpr::MatMul(
                Box::new(rt.clone()),
                Box::new(AExpr::Transpose(Box::new(rt))),
            )),
            two,
        ),
        None => AExpr::Diag(two, Dim::Lit(cols)),
    };
    let q = match left {
        Some(l) => AExpr::MatMul(Box::new(AExpr::Transpose(Box::new(l.clone()))), Box::new(l)),
        None => AExpr::Diag(AExpr::lit("1.0"), Dim::Lit(rows)),
    };
    Some(AExpr::Kronecker(Box::new(p), Box::new(q)))
}

impl<'p> HessianPlans<'p> {
    /// Every plan, for the verifier.
    pub fn plans(&self) -> impl Iterator<Item = &Plan<'p>> {
        let units = self.units.iter().flatten().map(|(plan, _)| plan);
        [&self.grad, &self.along.0].into_iter().chain(units)
    }
}

/// The emitters of one second-order program: `grad` prints the forward and reverse passes,
/// `tangent` the tangent program and its second-order steps.
fn emitters<'a>(
    item: &syn::ItemFn,
    func: &ast::Func,
    grad: &'a Plan<'a>,
    tangent: &'a Plan<'a>,
    float: &'a Ident,
    direction: &Operand,
) -> (Emitter<'a>, Emitter<'a>) {
    let k = func.wrt[0];
    let base = |plan: &'a Plan<'a>| Emitter::top(item, func, plan, float);
    let g = base(grad);
    let g = Emitter {
        seeds: vec![g.lit(1.0)],
        ..g
    };
    let mut t = base(tangent);
    t.tape_tangents = true;
    t.tangents = (0..func.params.len())
        .map(|p| {
            if p == k {
                direction.clone()
            } else {
                Operand::temp(quote!(::core::compile_error!(
                    "invariant: only the differentiated parameter has a tangent"
                )))
            }
        })
        .collect();
    (g, t)
}

/// The steps of the tangent program that `second` reads, directly or through other tangents:
/// a Hessian needs no tangent of the value.
fn read_tangents(t: &Emitter, second: &SecondOrder) -> Vec<TokenStream> {
    let prog = t.prog;
    let mut needed = vec![false; prog.nodes.len()];
    let mark = |e: &AExpr, needed: &mut [bool]| {
        e.for_each_tangent(prog, &mut |v| needed[v] = true);
    };
    for step in &second.steps {
        match step {
            TangentStep::Share { expr, .. }
            | TangentStep::Declare { expr, .. }
            | TangentStep::Add { expr, .. } => mark(expr, &mut needed),
        }
    }
    for r in second.results.iter().flatten() {
        mark(r, &mut needed);
    }
    for (v, e) in t.plan.tangent.iter().rev() {
        if needed[*v] {
            mark(t.plan.tangent_alias[*v].as_ref().unwrap_or(e), &mut needed);
        }
    }
    t.tangent_where(&|v| needed[v])
}

/// The partials of the `map` closures a tangent program reads, computed with the map's value
/// (again).
fn map_partials(t: &Emitter) -> Vec<TokenStream> {
    t.plan
        .forward
        .iter()
        .filter(|step| matches!(step, Forward::MapPartials(..)))
        .flat_map(|step| t.forward_step(step))
        .collect()
}

/// The tangent program of a second-order program: the map partials, then its steps.
fn tangent_program(t: &Emitter) -> Vec<TokenStream> {
    let mut out = map_partials(t);
    out.extend(t.tangent());
    out
}

/// The map partials and the steps of the tangent program that `second` reads.
fn tangents_read_by(t: &Emitter, second: &SecondOrder) -> Vec<TokenStream> {
    let mut out = map_partials(t);
    out.extend(read_tangents(t, second));
    out
}

/// The statements of a second-order program (after the tangent program).
fn second_steps(t: &Emitter, second: &SecondOrder) -> Vec<TokenStream> {
    // The entries written so far of each adjoint's tangent declared as one entry (a one-hot
    // contribution), the others still zero: a one-hot update of an entry not yet written is
    // an assignment, not an addition to zero.
    let mut written: std::collections::HashMap<ValueId, std::collections::HashSet<(usize, usize)>> =
        std::collections::HashMap::new();
    second
        .steps
        .iter()
        .map(|step| match step {
            TangentStep::Share { index, expr } => {
                let d = t.ident("dt", *index);
                let value = t.expr(expr).place;
                quote!(let #d = #value;)
            }
            TangentStep::Declare { target, expr } => {
                if let Some(hot) = t.hot_local(true, *target) {
                    let float = t.float;
                    let value = t.hot(expr).map_or_else(
                        || quote!(::core::compile_error!("invariant: a one-hot tangent")),
                        |(_, s)| s,
                    );
                    return quote!(let mut #hot: #float = #value;);
                }
                let d = t.ident("dg", *target);
                let ty = t.ty(t.prog.shape(*target));
                let value = t.first_value(expr);
                if let AExpr::OneHot(_, _, i, j) = expr {
                    written.insert(*target, std::iter::once((*i, *j)).collect());
                }
                quote!(let mut #d: #ty = #value;)
            }
            // In place as the reverse pass adds: a one-hot contribution (the tangent of an
            // entry read's adjoint) to its entry, a negated one by `-=`.
            // Products are added as products: nalgebra's in-place `gemm_tr` into a vector was
            // measured slower here than `tr_mul` and `+=` (and a product with a sweep's unit
            // direction is no product, see `unit_product`).
            TangentStep::Add { target, expr } => {
                if let Some(hot) = t.hot_local(true, *target) {
                    let value = t.hot(expr).map_or_else(
                        || quote!(::core::compile_error!("invariant: a one-hot tangent")),
                        |(_, s)| s,
                    );
                    return quote!(#hot += #value;);
                }
                let d = t.ident("dg", *target);
                let update = t.plan.update(*target, expr.clone());
                if let (Update::Entry(i, j, x), Some(entries)) = (&update, written.get_mut(target))
                    && entries.insert((*i, *j))
                {
                    let x = t.expr(x).place;
                    return quote!(#d[(#i, #j)] = #x;);
                }
                written.remove(target);
                match update {
                    Update::Product { .. } => {
                        let value = t.expr(expr);
                        let value = value.arith();
                        quote!(#d += #value;)
                    }
                    update => t.update_of(&d, *target, &update),
                }
            }
        })
        .collect()
}

/// The value, the gradient and the statements computing them: the forward and reverse passes.
fn gradient_parts(g: &Emitter, func: &ast::Func) -> (TokenStream, TokenStream, Vec<TokenStream>) {
    let prog = g.prog;
    let k = func.wrt[0];
    let out = prog
        .output
        .expect("invariant: a checked program has an output");
    let value = g.operand(out).place;
    let shape = func.params[k].kind.shape().unwrap_or(Shape::Scalar);
    let gradient = match prog.param_node(k) {
        Some(node) if g.plan.adj.nonzero[node] => owned_operand(&g.adjoint_operand(node), shape),
        Some(_) | None => g.zeros(shape),
    };
    let mut body = g.helper_checks();
    body.extend(g.forward());
    body.extend(g.reverse());
    (value, gradient, body)
}

/// An operand by value: a matrix copied out of wherever it lives.
fn owned_operand(o: &Operand, shape: Shape) -> TokenStream {
    if shape.is_matrix() && !o.temp {
        let b = &o.borrow;
        quote!((*#b))
    } else {
        o.place.clone()
    }
}

/// Generates `{name}_hvp(params…, v) -> (value, gradient, H·v)`.
pub fn hvp(item: &syn::ItemFn, func: &ast::Func, plans: &HessianPlans) -> TokenStream {
    let float = Ident::new(&func.float.name(), Span::call_site());
    let v = Ident::new("v", Span::mixed_site());
    let (tangent, second) = &plans.along;
    let k = func.wrt[0];
    let p = &func.params[k];
    let shape = p.kind.shape().unwrap_or(Shape::Scalar);
    let direction = if shape.is_matrix() {
        Operand {
            place: quote!(#v),
            borrow: quote!(#v),
            temp: false,
        }
    } else {
        Operand::local(&v, shape)
    };
    let (g, t) = emitters(item, func, &plans.grad, tangent, &float, &direction);
    let (value, gradient, body) = gradient_parts(&g, func);
    let tangent_steps = tangents_read_by(&t, second);
    let steps = second_steps(&t, second);
    let hv = match &second.results[0] {
        Some(r) => owned_operand(&t.expr(r), shape),
        None => t.zeros(shape),
    };
    // The direction arrives by reference; the tangent program reads it as a local.
    let ty = &p.ty;
    let bind = if shape.is_matrix() {
        quote!(let #v: &#ty = #v;)
    } else {
        quote!(let #v: #ty = *#v;)
    };
    let vis = &item.vis;
    let name = format_ident!("{}_hvp", func.name);
    let inputs = signature_inputs(func);
    let (generics, where_clause) = generics(item, func);
    let doc = format!(
        " The Hessian-vector product of [`{0}`] with respect to `{1}`, generated by `#[hessian]`: \
         `({0}(…), ∇{1}, H·v)` with H = ∂²{0}/∂{1}² and `v` shaped like `{1}`; H·v is shaped \
         like `{1}` too.\n\n Computed forward over reverse, as the directional derivative of the \
         gradient along `v`: about the cost of a few gradients, whatever the size of `{1}`.",
        func.name, p.name
    );
    let order = order_ident();
    quote! {
        #[doc = #doc]
        #[allow(unused_variables, unused_mut, clippy::all, clippy::pedantic)]
        #[must_use]
        #[inline]
        #vis fn #name #generics (#(#inputs,)* #v: &#ty) -> (#float, #ty, #ty) #where_clause {
            let #order = ();
            #bind
            #(#body)*
            #(#tangent_steps)*
            #(#steps)*
            (#value, #gradient, #hv)
        }
    }
}

/// Generates `{name}_hessian(params…) -> (value, gradient, H)`.
pub fn hessian(item: &syn::ItemFn, func: &ast::Func, plans: &HessianPlans) -> TokenStream {
    let float = Ident::new(&func.float.name(), Span::call_site());
    let e = Ident::new("__mg_e", Span::mixed_site());
    let h = Ident::new("__mg_h", Span::mixed_site());
    let k = func.wrt[0];
    let p = &func.params[k];
    let shape = p.kind.shape().unwrap_or(Shape::Scalar);
    let n = super::entries_tokens(Some(shape));
    let h_ty = quote!(::matgrad::__private::nalgebra::SMatrix<#float, #n, #n>);
    let direction = Operand::local(&e, shape);
    let (g, _) = emitters(item, func, &plans.grad, &plans.along.0, &float, &direction);
    let (value, gradient, body) = gradient_parts(&g, func);
    // The statements of one column: the direction, the tangent program, its second order.
    let sweep = |tangent: &Plan, second: &SecondOrder, l: &TokenStream| {
        let (_, t) = emitters(item, func, &plans.grad, tangent, &float, &direction);
        let (dir, tangent, steps) = (
            unit_direction(&t, shape, l),
            tangents_read_by(&t, second),
            second_steps(&t, second),
        );
        let column = write_column(&t, second, shape, l);
        quote!(#dir #(#tangent)* #(#steps)* #column)
    };
    let mut mirrored = true;
    let sweeps: Vec<TokenStream> = match (&plans.closed, &plans.units) {
        (Some(closed), _) => vec![g.kronecker_into(closed, &h)],
        (None, Some(units)) => units
            .iter()
            .enumerate()
            .map(|(l, (tangent, second))| {
                let body = sweep(
                    tangent,
                    second,
                    &Literal::usize_unsuffixed(l).to_token_stream(),
                );
                quote!({ #body })
            })
            .collect(),
        (None, None) => {
            let (_, t) = emitters(item, func, &plans.grad, &plans.along.0, &float, &direction);
            let (sweep, both) = swept_loop(t, &plans.along.1, k, shape, &n);
            mirrored = !both;
            vec![sweep]
        }
    };
    // A sweep that writes each nonzero entry to both triangles leaves nothing to mirror.
    let mirror = mirrored.then(|| {
        quote! {
            for __mg_c in 0..#n {
                for __mg_r in (__mg_c + 1)..#n {
                    #h[(__mg_c, __mg_r)] = #h[(__mg_r, __mg_c)];
                }
            }
        }
    });
    let vis = &item.vis;
    let name = format_ident!("{}_hessian", func.name);
    let inputs = signature_inputs(func);
    let (generics, where_clause) = generics(item, func);
    let ty = &p.ty;
    let doc = format!(
        " The Hessian of [`{0}`] with respect to `{1}`, generated by `#[hessian]`: \
         `({0}(…), ∇{1}, H)` with `H[(k, l)]` = ∂²{0}/∂{1}ₖ∂{1}ₗ, the entries of `{1}` numbered \
         in nalgebra's column-major order (that of `as_slice()`).\n\n Column l is the \
         directional derivative of the gradient along entry l (forward over reverse, the forward \
         and reverse passes run once); the lower triangle is then mirrored onto the upper, so \
         that H is exactly symmetric.",
        func.name, p.name
    );
    let order = order_ident();
    quote! {
        #[doc = #doc]
        #[allow(unused_variables, unused_mut, clippy::all, clippy::pedantic)]
        #[must_use]
        #[inline]
        #vis fn #name #generics (#(#inputs),*) -> (#float, #ty, #h_ty) #where_clause {
            let #order = ();
            #(#body)*
            let mut #h: #h_ty = <#h_ty>::zeros();
            #(#sweeps)*
            #mirror
            (#value, #gradient, #h)
        }
    }
}

/// The unit direction eₗ of a parameter shaped `shape`, as `__mg_e`.
fn unit_direction(t: &Emitter, shape: Shape, l: &TokenStream) -> TokenStream {
    let e = Ident::new("__mg_e", Span::mixed_site());
    let one = t.lit(1.0);
    if shape.is_matrix() {
        let ty = t.ty(shape);
        quote!(let mut #e: #ty = <#ty>::zeros(); #e[#l] = #one;)
    } else {
        quote!(let #e = #one;)
    }
}

/// Column `l` of H (`__mg_h`) from the tangent of the gradient along eₗ: only its lower
/// triangle and diagonal, which the mirror copies from.
fn write_column(t: &Emitter, second: &SecondOrder, shape: Shape, l: &TokenStream) -> TokenStream {
    let h = Ident::new("__mg_h", Span::mixed_site());
    match &second.results[0] {
        None => TokenStream::new(),
        Some(r) if shape.is_matrix() => {
            t.write_entrywise_from(r, shape, &|r| quote!(#h[(#r, #l)]), l)
        }
        Some(r) => {
            let d = t.expr(r).place;
            quote!(#h[(0, #l)] = #d;)
        }
    }
}

/// The columns of H from one second-order program swept in a loop over the `n` unit directions
/// of parameter `k`: what does not depend on the direction (the map partials, the coefficients
/// of map adjoints' tangents, costly scalars) is computed once, before the loop.
fn swept_loop(
    t: Emitter,
    second: &SecondOrder,
    k: usize,
    shape: Shape,
    n: &TokenStream,
) -> (TokenStream, bool) {
    let index = quote!(__mg_l);
    let mut t = Emitter {
        sweep: Some(Sweep {
            param: k,
            index: index.clone(),
            vector: matches!(shape, Shape::Matrix(_, c) if c.value() == Some(1)),
            hot: std::collections::BTreeMap::new(),
            views: std::collections::BTreeMap::new(),
        }),
        ..t
    };
    let partials = map_partials(&t);
    let coefficients = t.map_coefficients(second);
    let (second, invariants) = t.hoist_invariants(second);
    let hot = t.one_hot_values(&second);
    let views = t.column_views();
    if let Some(sweep) = &mut t.sweep {
        sweep.hot = hot;
        sweep.views = views;
    }
    let (dir, tangent, steps) = (
        unit_direction(&t, shape, &index),
        read_tangents(&t, &second),
        second_steps(&t, &second),
    );
    let (column, both) = match t.sparse_column(&second, shape, &index) {
        Some(column) => (column, true),
        None => (write_column(&t, &second, shape, &index), false),
    };
    let sweep = quote! {
        #(#partials)*
        #(#coefficients)*
        #(#invariants)*
        for #index in 0..#n { #dir #(#tangent)* #(#steps)* #column }
    };
    (sweep, both)
}

/// The map adjoints' tangents of the entries of maps in `e` (node, Z̄, whether dZ̄ is nonzero),
/// each once.
fn map_adjoint_tangents(e: &AExpr, found: &mut Vec<(ValueId, AExpr, bool)>) {
    if let AExpr::MapAdjTan {
        node,
        input: 0,
        zbar,
        dzbar,
    } = e
        && !found.iter().any(|(n, ..)| n == node)
    {
        found.push((*node, (**zbar).clone(), dzbar.is_some()));
    }
    e.children()
        .into_iter()
        .for_each(|c| map_adjoint_tangents(c, found));
}

/// The unit directions `_hessian` substitutes at compile time, if any: `Some(n)` for a
/// parameter of `n` ≤ 16 literal entries.
pub fn unit_count(func: &ast::Func) -> Option<usize> {
    let shape = func.params[func.wrt[0]].kind.shape()?;
    match shape {
        Shape::Matrix(r, c) => Some(r.value()? * c.value()?).filter(|&n| n <= UNROLL),
        Shape::Scalar => Some(1),
        Shape::Bool | Shape::Tuple | Shape::Poison => None,
    }
}

impl Emitter<'_> {
    /// The column view a tangent is bound to, if it is one (see [`Sweep::views`]).
    pub(super) fn column_view(&self, v: ValueId) -> Option<&TokenStream> {
        self.sweep.as_ref()?.views.get(&v)
    }

    /// The scalar local of a one-hot tangent (`adjoint` false) or adjoint's tangent, if it is
    /// one.
    pub(super) fn hot_local(&self, adjoint: bool, v: ValueId) -> Option<Ident> {
        self.sweep.as_ref()?.hot.get(&(adjoint, v))?;
        let name = if adjoint { "dgh" } else { "dh" };
        Some(self.ident(name, v))
    }

    /// A one-hot tangent or adjoint's tangent as the dense vector it stands for, for an
    /// operation that reads it whole.
    pub(super) fn hot_dense(&self, adjoint: bool, v: ValueId) -> Option<Operand> {
        let row = self.sweep.as_ref()?.hot.get(&(adjoint, v))?;
        let local = self.hot_local(adjoint, v)?;
        let ty = self.ty(self.prog.shape(v));
        Some(Operand::temp(quote!({
            let mut __mg_m = <#ty>::zeros();
            __mg_m[#row] = #local;
            __mg_m
        })))
    }

    /// `e` as a one-hot column vector, when it is one: the tokens of its row and of its one
    /// entry (see [`Sweep::hot`]).
    #[allow(
        clippy::too_many_lines,
        reason = "one arm per kind of expression, as in the rule table"
    )]
    pub(super) fn hot(&self, e: &AExpr) -> Option<(TokenStream, TokenStream)> {
        let sweep = self.sweep.as_ref()?;
        let same = |a: &TokenStream, b: &TokenStream| a.to_string() == b.to_string();
        let entry = |x: &AExpr, row: &TokenStream| {
            let x = self.expr(x).place;
            quote!(#x[#row])
        };
        match e {
            AExpr::Tan(v) => match &self.plan.tangent_alias[*v] {
                Some(alias) => self.hot(alias),
                None => {
                    let row = sweep.hot.get(&(false, *v))?.clone();
                    let local = self.hot_local(false, *v)?;
                    Some((row, quote!(#local)))
                }
            },
            AExpr::AdjTan(v) => {
                let row = sweep.hot.get(&(true, *v))?.clone();
                let local = self.hot_local(true, *v)?;
                Some((row, quote!(#local)))
            }
            // E·b with E = eᵢeⱼᵀ: bⱼ at row i; Eᵀ·b: bᵢ at row j.
            AExpr::MatMul(a, b) if !sweep.vector => self.hot_unit_product(a, b),
            AExpr::ComponentMul(a, b) => {
                if let Some((row, s)) = self.hot(a) {
                    let other = entry(b, &row);
                    Some((row, quote!((#s * #other))))
                } else {
                    let (row, s) = self.hot(b)?;
                    let other = entry(a, &row);
                    Some((row, quote!((#other * #s))))
                }
            }
            AExpr::Scale(a, k) => {
                let (row, s) = self.hot(a)?;
                let k = self.expr(k).place;
                Some((row, quote!((#s * #k))))
            }
            AExpr::DivBy(a, k) => {
                let (row, s) = self.hot(a)?;
                let k = self.expr(k).place;
                Some((row, quote!((#s / #k))))
            }
            AExpr::Neg(a) => {
                let (row, s) = self.hot(a)?;
                Some((row, quote!((-#s))))
            }
            AExpr::Add(a, b) | AExpr::Sub(a, b) => {
                let ((ra, sa), (rb, sb)) = (self.hot(a)?, self.hot(b)?);
                if !same(&ra, &rb) {
                    return None;
                }
                let op = if matches!(e, AExpr::Add(..)) {
                    quote!(+)
                } else {
                    quote!(-)
                };
                Some((ra, quote!((#sa #op #sb))))
            }
            // Cₐ∘dA + C_z∘dZ̄ with both one-hot at one row.
            AExpr::MapAdjTan {
                node,
                input: 0,
                dzbar,
                ..
            } if self.coefficients_apply(*node) => self.hot_map_adjoint(*node, dzbar.as_deref()),
            // Anything else is taken to be dense.
            AExpr::Adj(..)
            | AExpr::Val(..)
            | AExpr::Lit(..)
            | AExpr::Cast(..)
            | AExpr::Mul(..)
            | AExpr::Div(..)
            | AExpr::MatMul(..)
            | AExpr::Transpose(..)
            | AExpr::Dot(..)
            | AExpr::ComponentDiv(..)
            | AExpr::Diag(..)
            | AExpr::Fill(..)
            | AExpr::OneHot(..)
            | AExpr::Method(..)
            | AExpr::Helper(..)
            | AExpr::Powi(..)
            | AExpr::Powf(..)
            | AExpr::DivOrZero(..)
            | AExpr::AtZero(..)
            | AExpr::Step(..)
            | AExpr::Trace(..)
            | AExpr::Sum(..)
            | AExpr::Entry(..)
            | AExpr::ExtremumAdjoint { .. }
            | AExpr::ExtremumTangent { .. }
            | AExpr::EntryAt(..)
            | AExpr::OneHotAt(..)
            | AExpr::TriSolve { .. }
            | AExpr::Phi(..)
            | AExpr::SymFromLower(..)
            | AExpr::SymLower(..)
            | AExpr::DiagonalOf(..)
            | AExpr::FromDiagonal(..)
            | AExpr::Cross(..)
            | AExpr::Block(..)
            | AExpr::Embed(..)
            | AExpr::Kronecker(..)
            | AExpr::SolveForward { .. }
            | AExpr::PowerTangent { .. }
            | AExpr::Partial { .. }
            | AExpr::BranchTangent { .. }
            | AExpr::CallTangent { .. }
            | AExpr::Item(..)
            | AExpr::MapAdj { .. }
            | AExpr::MapAdjTan { .. }
            | AExpr::BranchAdjTan { .. }
            | AExpr::CallAdjTan { .. }
            | AExpr::PowerAdjointTangent { .. }
            | AExpr::KroneckerAdjointOf { .. }
            | AExpr::Shared(..)
            | AExpr::SharedTan(..)
            | AExpr::DeterminantGradient { .. }
            | AExpr::SolveTransposed { .. }
            | AExpr::KroneckerAdjoint { .. }
            | AExpr::Seed(..)
            | AExpr::BranchAdjoint { .. }
            | AExpr::CallAdjoint { .. }
            | AExpr::Field { .. }
            | AExpr::Window { .. }
            | AExpr::PowerAdjoint { .. } => None,
        }
    }

    /// E·b (`transposed` false) or Eᵀ·b for the unit direction E = eᵢeⱼᵀ of a matrix
    /// parameter and a vector b: bⱼ at row i, or bᵢ at row j.
    fn hot_unit_product(&self, a: &AExpr, b: &AExpr) -> Option<(TokenStream, TokenStream)> {
        let sweep = self.sweep.as_ref()?;
        let transposed = self.unit_side(a)?;
        let Shape::Matrix(r, c) = self.prog.shape(self.prog.param_node(sweep.param)?) else {
            return None;
        };
        let vector = |rows: Dim| {
            simplify::shape(self.prog, &self.plan.adj, b) == Shape::Matrix(rows, Dim::Lit(1))
        };
        let l = &sweep.index;
        let rt = r.tokens();
        let (i, j) = (quote!((#l % #rt)), quote!((#l / #rt)));
        let b = self.expr(b).place;
        if transposed && vector(r) {
            Some((j, quote!(#b[#i])))
        } else if !transposed && vector(c) {
            Some((i, quote!(#b[#j])))
        } else {
            None
        }
    }

    /// Cₐ∘dA + `C_z`∘dZ̄ of the map `node` (see [`Self::map_adjoint_tangent`]) with dA and dZ̄
    /// one-hot at the same row.
    fn hot_map_adjoint(
        &self,
        node: ValueId,
        dzbar: Option<&AExpr>,
    ) -> Option<(TokenStream, TokenStream)> {
        let moving = second::moving_inputs(self.prog, self.plan, node).contains(&0);
        let da = if moving {
            let (row, s) = self.hot(&AExpr::Tan(self.prog.nodes[node].args[0]))?;
            let ca = self.ident("ca", node);
            Some((row.clone(), quote!((#ca[#row] * #s))))
        } else {
            None
        };
        let dz = match dzbar {
            Some(d) => {
                let (row, s) = self.hot(d)?;
                let cz = self.ident("cz", node);
                Some((row.clone(), quote!((#cz[#row] * #s))))
            }
            None => None,
        };
        match (da, dz) {
            (Some((ra, a)), Some((rz, z))) if ra.to_string() == rz.to_string() => {
                Some((ra, quote!((#a + #z))))
            }
            (Some(t), None) | (None, Some(t)) => Some(t),
            _ => None,
        }
    }

    /// The tangents A·eₗ of a sweep over a vector parameter, each with the view of column l
    /// of A that it is.
    fn column_views(&self) -> std::collections::BTreeMap<ValueId, TokenStream> {
        let mut views = std::collections::BTreeMap::new();
        let Some(sweep) = self.sweep.as_ref().filter(|s| s.vector) else {
            return views;
        };
        for (v, e) in &self.plan.tangent {
            if self.plan.tangent_alias[*v].is_some() {
                continue;
            }
            if let AExpr::MatMul(a, b) = e
                && self.unit_side(b) == Some(false)
                && !matches!(**a, AExpr::Transpose(_))
            {
                let a = self.expr(a).place;
                let l = &sweep.index;
                views.insert(*v, quote!(#a.column(#l)));
            }
        }
        views
    }

    /// Which tangents and adjoints' tangents of a swept program are one-hot, with their rows:
    /// grown to a fixed point, an adjoint's tangent counting only when every contribution to
    /// it is one-hot at the same row.
    fn one_hot_values(
        &self,
        second: &SecondOrder,
    ) -> std::collections::BTreeMap<(bool, ValueId), TokenStream> {
        let mut table = std::collections::BTreeMap::new();
        if !matches!(self.sweep, Some(Sweep { vector: false, .. })) {
            return table;
        }
        loop {
            let mut probe = self.clone();
            if let Some(sweep) = &mut probe.sweep {
                sweep.hot.clone_from(&table);
            }
            let mut next = std::collections::BTreeMap::new();
            for (v, e) in &self.plan.tangent {
                if self.plan.tangent_alias[*v].is_some() || !self.prog.shape(*v).is_matrix() {
                    continue;
                }
                if let Some((row, _)) = probe.hot(e) {
                    next.insert((false, *v), row);
                }
            }
            let mut rows: std::collections::BTreeMap<ValueId, Option<String>> =
                std::collections::BTreeMap::new();
            let mut tokens: std::collections::BTreeMap<ValueId, TokenStream> =
                std::collections::BTreeMap::new();
            for step in &second.steps {
                let (TangentStep::Declare { target, expr } | TangentStep::Add { target, expr }) =
                    step
                else {
                    continue;
                };
                if !self.prog.shape(*target).is_matrix() {
                    rows.insert(*target, None);
                    continue;
                }
                let row = probe.hot(expr);
                let entry = rows
                    .entry(*target)
                    .or_insert_with(|| row.as_ref().map(|(r, _)| r.to_string()));
                match (&row, entry.as_ref()) {
                    (Some((r, _)), Some(seen)) if r.to_string() == *seen => {
                        tokens.insert(*target, r.clone());
                    }
                    _ => *entry = None,
                }
            }
            for (target, row) in rows {
                if row.is_some()
                    && let Some(r) = tokens.get(&target)
                {
                    next.insert((true, target), r.clone());
                }
            }
            let same = next.len() == table.len()
                && next
                    .iter()
                    .zip(&table)
                    .all(|((ka, ra), (kb, rb))| ka == kb && ra.to_string() == rb.to_string());
            if same {
                return table;
            }
            table = next;
        }
    }

    /// Column `l` of H written entry by entry to both triangles, when the tangent of the
    /// gradient is u·wᵀ with u one-hot at row i and w a vector: entry i + r·m is u's entry times
    /// wₘ; so H needs no mirroring. `None` where the tangent is not of that form.
    fn sparse_column(
        &self,
        second: &SecondOrder,
        shape: Shape,
        l: &TokenStream,
    ) -> Option<TokenStream> {
        self.sweep.as_ref()?;
        let Shape::Matrix(r, c) = shape else {
            return None;
        };
        let mut result = second.results.first()?.clone()?;
        // Through the adjoint's tangent of the parameter to the one contribution it has.
        if let AExpr::AdjTan(v) = &result {
            let mut contributions = second.steps.iter().filter_map(|s| match s {
                TangentStep::Declare { target, expr } | TangentStep::Add { target, expr }
                    if target == v =>
                {
                    Some(expr)
                }
                TangentStep::Share { .. }
                | TangentStep::Declare { .. }
                | TangentStep::Add { .. } => None,
            });
            let first = contributions.next()?.clone();
            if contributions.next().is_some() {
                return None;
            }
            result = first;
        }
        let AExpr::MatMul(u, wt) = &result else {
            return None;
        };
        let AExpr::Transpose(w) = &**wt else {
            return None;
        };
        if simplify::shape(self.prog, &self.plan.adj, w) != Shape::Matrix(c, Dim::Lit(1)) {
            return None;
        }
        let (row, s) = self.hot(u)?;
        let w = self.expr(w).place;
        let (rt, ct) = (r.tokens(), c.tokens());
        let h = Ident::new("__mg_h", Span::mixed_site());
        Some(quote!({
            let __mg_s = #s;
            for __mg_m in 0..#ct {
                let __mg_k = #row + #rt * __mg_m;
                if __mg_k >= #l {
                    let __mg_v = __mg_s * #w[__mg_m];
                    #h[(__mg_k, #l)] = __mg_v;
                    #h[(#l, __mg_k)] = __mg_v;
                }
            }
        }))
    }

    /// Whether `e` is the swept parameter's tangent, the unit direction eₗ.
    fn is_unit(&self, e: &AExpr) -> bool {
        let Some(sweep) = &self.sweep else {
            return false;
        };
        matches!(e, AExpr::Tan(v) if self.plan.tangent_alias[*v].is_none()
            && matches!(self.prog.nodes[*v].op, Op::Param(p) if p == sweep.param))
    }

    /// A product with the unit direction without the product. For a column vector: A·eₗ is
    /// column l of A, Aᵀ·eₗ row l of A transposed, eₗᵀ·B row l of B. For an r×c matrix, whose
    /// eₗ is E = eᵢ·eⱼᵀ with i = l mod r, j = l div r: A·E has column i of A at column j,
    /// E·B row j of B at row i, Eᵀ·B row i of B at row j, A·Eᵀ column j of A at column i; every
    /// other entry zero.
    pub(super) fn unit_product(&self, a: &AExpr, b: &AExpr) -> Option<Operand> {
        let sweep = self.sweep.as_ref()?;
        let l = &sweep.index;
        let (a_unit, b_unit) = (self.unit_side(a), self.unit_side(b));
        if sweep.vector {
            return match (a_unit, b_unit) {
                (_, Some(false)) => Some(Operand::temp(match a {
                    AExpr::Transpose(at) => {
                        let at = self.expr(at).place;
                        quote!(#at.row(#l).transpose())
                    }
                    a => {
                        let a = self.expr(a).place;
                        quote!(#a.column(#l).into_owned())
                    }
                })),
                (Some(true), _) => {
                    let b = self.expr(b).place;
                    Some(Operand::temp(quote!(#b.row(#l).into_owned())))
                }
                _ => None,
            };
        }
        let Shape::Matrix(r, _) = self.prog.shape(self.prog.param_node(sweep.param)?) else {
            return None;
        };
        let r = r.tokens();
        let (i, j) = (quote!((#l % #r)), quote!((#l / #r)));
        let shape = simplify::shape(
            self.prog,
            &self.plan.adj,
            &AExpr::MatMul(Box::new(a.clone()), Box::new(b.clone())),
        );
        let ty = self.ty(shape);
        let (write, at, read, from) = match (a_unit, b_unit) {
            (_, Some(false)) => (quote!(set_column), &j, quote!(column(#i)), a),
            (_, Some(true)) => (quote!(set_column), &i, quote!(column(#j)), a),
            (Some(false), _) => (quote!(set_row), &i, quote!(row(#j)), b),
            (Some(true), _) => (quote!(set_row), &j, quote!(row(#i)), b),
            (None, None) => return None,
        };
        let from = self.expr(from).place;
        Some(Operand::temp(quote!({
            let mut __mg_m = <#ty>::zeros();
            __mg_m.#write(#at, &#from.#read);
            __mg_m
        })))
    }

    /// `Some(false)` for the unit direction, `Some(true)` for its transpose (or the tangent of
    /// the parameter's transpose), else `None`.
    fn unit_side(&self, e: &AExpr) -> Option<bool> {
        match e {
            AExpr::Transpose(x) if self.is_unit(x) => Some(true),
            AExpr::Tan(v)
                if matches!(self.prog.nodes[*v].op, Op::Transpose)
                    && self.is_unit(&AExpr::Tan(self.prog.nodes[*v].args[0])) =>
            {
                Some(true)
            }
            e if self.is_unit(e) => Some(false),
            _ => None,
        }
    }

    /// ⟨a, eₗ⟩ as entry l of a (in column-major order, for a matrix too).
    pub(super) fn unit_dot(&self, a: &AExpr, b: &AExpr) -> Option<Operand> {
        let l = &self.sweep.as_ref()?.index;
        let other = if self.is_unit(b) {
            a
        } else if self.is_unit(a) {
            b
        } else {
            return None;
        };
        let other = self.expr(other).place;
        Some(Operand::scalar(quote!(#other[#l])))
    }

    /// The map adjoints' tangents of a swept second-order program that read their coefficients
    /// (a map whose closure captures nothing that moves): for each, `Cₐ` = the tangent with
    /// dA = 𝟙, dZ̄ = 0 and `Cz` = with dA = 0, dZ̄ = 𝟙, computed once before the loop.
    fn map_coefficients(&self, second: &SecondOrder) -> Vec<TokenStream> {
        let mut found: Vec<(ValueId, AExpr, bool)> = Vec::new();
        for step in &second.steps {
            match step {
                TangentStep::Share { expr, .. }
                | TangentStep::Declare { expr, .. }
                | TangentStep::Add { expr, .. } => map_adjoint_tangents(expr, &mut found),
            }
        }
        let one = self.lit(1.0);
        let zero = self.lit(0.0);
        found
            .into_iter()
            .filter(|(node, ..)| self.coefficients_apply(*node))
            .map(|(node, zbar, has_dzbar)| {
                let moving = second::moving_inputs(self.prog, self.plan, node).contains(&0);
                let (ca, cz) = (self.ident("ca", node), self.ident("cz", node));
                let along = |dx: &TokenStream, dz: &TokenStream| {
                    let dzbar = has_dzbar.then(TokenStream::new);
                    self.map_adjoint_tangent_with(node, 0, &zbar, dzbar, Some((dx, dz)))
                };
                let first = moving.then(|| {
                    let value = along(&one, &zero);
                    quote!(let #ca = #value;)
                });
                let second = has_dzbar.then(|| {
                    let value = along(&zero, &one);
                    quote!(let #cz = #value;)
                });
                quote!(#first #second)
            })
            .collect()
    }

    /// The second-order program of a sweep with its scalar subexpressions that do not depend on
    /// the direction (f″ of an entry, adjoints times constants) computed once before the loop,
    /// as shared values numbered from [`HOISTED`]; and those `let`s.
    fn hoist_invariants(&self, second: &SecondOrder) -> (SecondOrder, Vec<TokenStream>) {
        let mut hoisted: Vec<AExpr> = Vec::new();
        let mut lift = |e: &AExpr| self.hoist(e, &mut hoisted);
        let steps = second
            .steps
            .iter()
            .map(|step| match step {
                TangentStep::Share { index, expr } => TangentStep::Share {
                    index: *index,
                    expr: lift(expr),
                },
                TangentStep::Declare { target, expr } => TangentStep::Declare {
                    target: *target,
                    expr: lift(expr),
                },
                TangentStep::Add { target, expr } => TangentStep::Add {
                    target: *target,
                    expr: lift(expr),
                },
            })
            .collect();
        let float = self.float;
        let lets = hoisted
            .iter()
            .enumerate()
            .map(|(k, e)| {
                let name = self.ident("t", HOISTED + k);
                let value = self.expr(e).place;
                quote!(let #name: #float = #value;)
            })
            .collect();
        let second = SecondOrder {
            steps,
            results: second.results.clone(),
        };
        (second, lets)
    }

    /// `e` with its largest costly scalar subexpressions free of the direction replaced by
    /// shared values, appended to `hoisted`.
    fn hoist(&self, e: &AExpr, hoisted: &mut Vec<AExpr>) -> AExpr {
        if invariant(e)
            && costly(e)
            && simplify::shape(self.prog, &self.plan.adj, e) == Shape::Scalar
        {
            hoisted.push(e.clone());
            return AExpr::Shared(HOISTED + hoisted.len() - 1);
        }
        if matches!(
            e,
            AExpr::Neg(_)
                | AExpr::Add(..)
                | AExpr::Sub(..)
                | AExpr::Mul(..)
                | AExpr::Div(..)
                | AExpr::Scale(..)
                | AExpr::DivBy(..)
                | AExpr::ComponentMul(..)
                | AExpr::ComponentDiv(..)
                | AExpr::MatMul(..)
                | AExpr::Transpose(_)
                | AExpr::OneHot(..)
                | AExpr::Embed(..)
                | AExpr::Fill(..)
                | AExpr::Diag(..)
        ) {
            let mapped = e.map_children(&mut |c| self.hoist(c, hoisted));
            // a·(b·c) with a and b free of the direction: (a·b)·c, a·b computed once.
            if let AExpr::Mul(a, bc) = &mapped
                && let AExpr::Mul(b, c) = &**bc
                && invariant(a)
                && invariant(b)
                && !invariant(c)
                && simplify::shape(self.prog, &self.plan.adj, a) == Shape::Scalar
                && simplify::shape(self.prog, &self.plan.adj, b) == Shape::Scalar
            {
                hoisted.push(AExpr::Mul(a.clone(), b.clone()));
                let ab = AExpr::Shared(HOISTED + hoisted.len() - 1);
                return AExpr::Mul(Box::new(ab), c.clone());
            }
            mapped
        } else {
            e.clone()
        }
    }

    /// Whether the tangent of the adjoint of map `node` is read from coefficients: in a sweep,
    /// when no captured input of the closure moves.
    fn coefficients_apply(&self, node: ValueId) -> bool {
        self.sweep.is_some()
            && second::moving_inputs(self.prog, self.plan, node)
                .iter()
                .all(|&k| k == 0)
    }

    /// The tangent of `MapAdj { node, input }`: per entry, the closure's forward pass, its
    /// tangent program along the entry's and the captures' tangents, its adjoint program seeded
    /// with the entry of Z̄ (`zbar`), and that program's tangent seeded with the entry of dZ̄
    /// (`dzbar`); summed over the entries for a captured scalar.
    pub(super) fn map_adjoint_tangent(
        &self,
        node: ValueId,
        input: usize,
        zbar: &AExpr,
        dzbar: Option<&AExpr>,
    ) -> TokenStream {
        if input == 0 && self.coefficients_apply(node) {
            // Cₐ∘dA + C_z∘dZ̄, the coefficients computed before the sweep.
            let moving = second::moving_inputs(self.prog, self.plan, node).contains(&0);
            let da = moving.then(|| {
                let (ca, da) = (
                    self.ident("ca", node),
                    self.tangent_operand(self.prog.nodes[node].args[0]).borrow,
                );
                quote!(#ca.component_mul(#da))
            });
            let dz = dzbar.map(|d| {
                let (cz, d) = (self.ident("cz", node), self.expr(d).borrow);
                quote!(#cz.component_mul(#d))
            });
            return match (da, dz) {
                (Some(a), Some(z)) => quote!((#a + #z)),
                (Some(t), None) | (None, Some(t)) => t,
                (None, None) => self.zeros(self.prog.shape(self.prog.nodes[node].args[0])),
            };
        }
        let d = dzbar.map(|d| self.expr(d).place);
        self.map_adjoint_tangent_with(node, input, zbar, d, None)
    }

    /// The tangent of `MapAdj { node, input }` (see [`Self::map_adjoint_tangent`]) with dZ̄ the
    /// matrix `dzbar` (`None` where zero); with `units = Some((dx, dz))`, along the constant
    /// tangents dx of every entry of A and dz of every entry of Z̄ instead (`dzbar` then only
    /// says whether dZ̄ is zero).
    fn map_adjoint_tangent_with(
        &self,
        node: ValueId,
        input: usize,
        zbar: &AExpr,
        dzbar: Option<TokenStream>,
        units: Option<(&TokenStream, &TokenStream)>,
    ) -> TokenStream {
        let prog = self.prog;
        let args = &prog.nodes[node].args;
        let Op::Map(sub) = &prog.nodes[node].op else {
            return quote!(::core::compile_error!(
                "invariant: a closure adjoint of a map"
            ));
        };
        let moving = second::moving_inputs(prog, self.plan, node);
        let (adjoint, tangent) = second::body_plans(sub, input, &moving);
        let Ok(body) = second::body_second(&adjoint, &tangent, input, dzbar.is_some()) else {
            return quote!(::core::compile_error!(
                "invariant: a closure checked twice-differentiable"
            ));
        };
        let prefix = format!("{}m{node}s_", self.prefix);
        let ident = |name: &str| Ident::new(&format!("__mg_{prefix}{name}"), Span::mixed_site());
        let (x, dx, zb, dzb) = (ident("x"), ident("dx"), ident("zbar"), ident("dzbar"));
        let (i, j) = (ident("i"), ident("j"));
        let mut params = vec![Operand::scalar(quote!(#x))];
        params.extend(args[1..].iter().map(|&a| self.operand(a)));
        let mut g = self.child(&adjoint, prefix.clone(), params.clone());
        g.seeds = vec![quote!(#zb)];
        let mut t = self.child(&tangent, prefix, params);
        t.seeds = vec![quote!(#zb), quote!(#dzb)];
        t.tangents = (0..args.len())
            .map(|k| {
                if !moving.contains(&k) {
                    Operand::temp(quote!(::core::compile_error!("invariant: a moving input")))
                } else if k == 0 {
                    Operand::scalar(quote!(#dx))
                } else {
                    self.tangent_operand(args[k])
                }
            })
            .collect();
        let (forward, tangents, reverse, steps) = (
            g.forward(),
            t.tangent(),
            g.reverse(),
            second_steps(&t, &body),
        );
        let result = match &body.results[0] {
            Some(r) => t.expr(r).place,
            None => self.lit(0.0),
        };
        let float = self.float;
        let a = self.operand(args[0]).place;
        let read_dx = moving.contains(&0).then(|| match units {
            Some((unit, _)) => quote!(let #dx: #float = #unit;),
            None => {
                let da = self.tangent_operand(args[0]).place;
                quote!(let #dx: #float = #da[(#i, #j)];)
            }
        });
        let zbar = self.expr(zbar).place;
        let (read_dzbar, bind_dzbar) = match (dzbar, units) {
            (Some(_), Some((_, unit))) => (quote!(let #dzb: #float = #unit;), TokenStream::new()),
            (Some(d), None) => (
                quote!(let #dzb: #float = __mg_dzbar_all[(#i, #j)];),
                quote!(let __mg_dzbar_all = #d;),
            ),
            (None, _) => (TokenStream::new(), TokenStream::new()),
        };
        let ty = self.ty(prog.shape(args[0]));
        let entries = quote!({
            let __mg_zbar_all = #zbar;
            #bind_dzbar
            <#ty>::from_fn(|#i, #j| -> #float {
                let #x: #float = #a[(#i, #j)];
                #read_dx
                let #zb: #float = __mg_zbar_all[(#i, #j)];
                #read_dzbar
                #(#forward)*
                #(#tangents)*
                #(#reverse)*
                #(#steps)*
                #result
            })
        });
        if input == 0 {
            entries
        } else {
            quote!(#entries.sum())
        }
    }

    /// The tangent of `BranchAdjoint { node, captures }`: in the branch taken, its forward pass,
    /// its tangent program along the captures' tangents, its adjoint program seeded with the
    /// adjoints of the `if`'s results (`zbars`), and that program's tangent seeded with theirs
    /// (`dzbars`); a tuple, one entry per capture.
    pub(super) fn branch_adjoint_tangent(
        &self,
        node: ValueId,
        captures: &[usize],
        zbars: &[AExpr],
        dzbars: &[Option<AExpr>],
    ) -> TokenStream {
        if let Some(range) = second::range_of(self.prog, node) {
            return self.range_adjoint_tangent(node, range, captures, zbars, dzbars);
        }
        let prog = self.prog;
        let args = &prog.nodes[node].args;
        let moving = second::moving_captures(prog, self.plan, node);
        let seeded: Vec<bool> = dzbars.iter().map(Option::is_some).collect();
        let mut seeds: Vec<TokenStream> = zbars.iter().map(|z| self.expr(z).place).collect();
        seeds.extend(dzbars.iter().zip(zbars).map(|(d, z)| match d {
            Some(d) => self.expr(d).place,
            None => self.zeros(simplify::shape(prog, &self.plan.adj, z)),
        }));
        let side = |then: bool| -> TokenStream {
            let Ok((adjoint, tangent, second)) =
                second::branch_side(prog, node, then, captures, &moving, &seeded)
            else {
                return quote!(::core::compile_error!(
                    "invariant: a branch checked twice-differentiable"
                ));
            };
            let prefix = format!("{}b{node}{}s_", self.prefix, if then { "t" } else { "e" });
            let params: Vec<Operand> = args[1..].iter().map(|&a| self.operand(a)).collect();
            let mut g = self.child(&adjoint, prefix.clone(), params.clone());
            g.seeds = seeds[..zbars.len()].to_vec();
            let mut t = self.child(&tangent, prefix, params);
            t.seeds.clone_from(&seeds);
            t.tangents = (0..args.len() - 1)
                .map(|k| {
                    if moving.contains(&k) {
                        self.tangent_operand(args[k + 1])
                    } else {
                        Operand::temp(quote!(::core::compile_error!(
                            "invariant: a moving capture"
                        )))
                    }
                })
                .collect();
            let (forward, tangents, reverse, steps) = (
                g.forward(),
                tangent_program(&t),
                g.reverse(),
                second_steps(&t, &second),
            );
            let results: Vec<TokenStream> = captures
                .iter()
                .zip(&second.results)
                .map(|(&k, r)| {
                    let shape = prog.shape(args[k + 1]);
                    match r {
                        Some(r) => owned_operand(&t.expr(r), shape),
                        None => self.zeros(shape),
                    }
                })
                .collect();
            quote!({ #(#forward)* #(#tangents)* #(#reverse)* #(#steps)* (#(#results,)*) })
        };
        if let Some(over) = self.over(node) {
            let shapes: Vec<Shape> = captures.iter().map(|&k| prog.shape(args[k + 1])).collect();
            return self.data_sum(over, &shapes, &side(true));
        }
        let cond = self.operand(args[0]).place;
        let (t, o) = (side(true), side(false));
        quote!(if #cond #t else #o)
    }

    /// The seeds of a body's results and their tangents (zero where they have none).
    fn seeds_and_tangents(
        &self,
        zbars: &[AExpr],
        dzbars: &[Option<AExpr>],
        shapes: &[Shape],
    ) -> (Vec<TokenStream>, Vec<TokenStream>) {
        let seeds = zbars.iter().map(|e| self.expr(e).place).collect();
        let dseeds = dzbars
            .iter()
            .zip(shapes)
            .map(|(d, &s)| match d {
                Some(d) => self.expr(d).place,
                None => self.zeros(s),
            })
            .collect();
        (seeds, dseeds)
    }

    /// The values and tangents one iteration of the loop kept as a loop `node` starts from, in
    /// its second-order program run backwards: the carried parameters' from the tape of values
    /// and the tangent tape (which the loop's tangent returned after its results), the others'
    /// from outside (`moving` those with tangents).
    fn iteration_inputs(
        &self,
        node: ValueId,
        range: &crate::ir::Range,
        moving: &[usize],
        shapes: &[Shape],
    ) -> (Vec<Operand>, Vec<Operand>) {
        let args = &self.prog.nodes[node].args;
        let count = shapes.len();
        let i = &range.counter;
        let (start, _) = range.bounds();
        let entry = |tape: TokenStream, shape: Shape| {
            if shape.is_matrix() {
                Operand {
                    place: quote!(#tape[#i - #start]),
                    borrow: quote!(&#tape[#i - #start]),
                    temp: false,
                }
            } else {
                Operand::scalar(quote!(#tape[#i - #start]))
            }
        };
        let mut params: Vec<Operand> = args[1..].iter().map(|&a| self.operand(a)).collect();
        let mut tangents: Vec<Operand> = (0..args.len() - 1)
            .map(|k| {
                if moving.contains(&k) {
                    self.tangent_operand(args[k + 1])
                } else {
                    Operand::temp(quote!(::core::compile_error!(
                        "invariant: a moving capture"
                    )))
                }
            })
            .collect();
        let dloop = self.plan.tangent_active[node].then(|| self.tangent_operand(node).place);
        for (k, &p) in range.carried.iter().enumerate() {
            let tape = self.tape_ident(node, k);
            params[p] = entry(quote!(#tape), shapes[k]);
            tangents[p] = match &dloop {
                Some(d) => {
                    let j = syn::Index::from(count + k);
                    entry(quote!(#d.#j), shapes[k])
                }
                None => Operand::temp(self.zeros(shapes[k])),
            };
        }
        (params, tangents)
    }

    /// The tangents of the adjoints of the captures `captures` of a loop kept as a loop: the loop
    /// run backwards as for the adjoints, each iteration's second-order program (its forward
    /// pass on the values the tape kept, its tangent program on the tangents the tangent tape
    /// kept, its reverse pass and that pass's tangent) seeded with the adjoints of its results
    /// and their tangents, which the carried parameters' adjoints and tangents replace for the
    /// iteration before; the other captures' tangents summed.
    fn range_adjoint_tangent(
        &self,
        node: ValueId,
        range: &crate::ir::Range,
        captures: &[usize],
        zbars: &[AExpr],
        dzbars: &[Option<AExpr>],
    ) -> TokenStream {
        let prog = self.prog;
        let args = &prog.nodes[node].args;
        let Op::Branch { then, .. } = &prog.nodes[node].op else {
            return quote!(::core::compile_error!("invariant: a loop"));
        };
        let moving = second::moving_captures(prog, self.plan, node);
        let Ok((adjoint, tangent, second)) = second::range_body(prog, node, captures, &moving)
        else {
            return quote!(::core::compile_error!(
                "invariant: a loop checked twice-differentiable"
            ));
        };
        let count = then.outputs.len();
        let shapes: Vec<Shape> = then.outputs.iter().map(|&o| then.shape(o)).collect();
        let tys: Vec<TokenStream> = shapes.iter().map(|&s| self.ty(s)).collect();
        let i = &range.counter;
        let (start, end) = range.bounds();
        let (params, tangents) = self.iteration_inputs(node, range, &moving, &shapes);
        let (z, dz, acc) = (
            Ident::new("__mg_z", Span::mixed_site()),
            Ident::new("__mg_dz", Span::mixed_site()),
            Ident::new("__mg_dacc", Span::mixed_site()),
        );
        let fields = |name: &Ident| tuple_fields(name, count);
        let prefix = format!("{}b{node}t_", self.prefix);
        let mut g = self.child(&adjoint, prefix.clone(), params.clone());
        g.seeds = fields(&z);
        let mut t = self.child(&tangent, prefix, params);
        t.seeds = [fields(&z), fields(&dz)].concat();
        t.tangents = tangents;
        let (forward, tangent_steps, reverse, steps) = (
            g.forward(),
            tangent_program(&t),
            g.reverse(),
            second_steps(&t, &second),
        );
        let shape_of = |p: usize| prog.shape(args[p + 1]);
        let wrt = &adjoint.config.wrt;
        let adjoint_of = |p: usize| match adjoint.prog.param_node(p) {
            Some(n) if adjoint.adj.nonzero[n] => g.adjoint_operand(n).place,
            _ => self.zeros(shape_of(p)),
        };
        let tangent_of = |p: usize| {
            let r = wrt
                .iter()
                .position(|&w| w == p)
                .and_then(|j| second.results.get(j).cloned().flatten());
            match r {
                Some(r) => owned_operand(&t.expr(&r), shape_of(p)),
                None => self.zeros(shape_of(p)),
            }
        };
        let carried_adjoints: Vec<TokenStream> =
            range.carried.iter().map(|&p| adjoint_of(p)).collect();
        let carried_tangents: Vec<TokenStream> =
            range.carried.iter().map(|&p| tangent_of(p)).collect();
        let (others, sums, results) = super::nested::summed_captures(range, captures, &dz, &acc);
        let parts: Vec<TokenStream> = others.iter().map(|&c| tangent_of(c)).collect();
        let other_tys: Vec<TokenStream> = others.iter().map(|&c| self.ty(shape_of(c))).collect();
        let zeros: Vec<TokenStream> = others.iter().map(|&c| self.zeros(shape_of(c))).collect();
        let (seeds, dseeds) = self.seeds_and_tangents(zbars, dzbars, &shapes);
        quote!({
            let mut #z: (#(#tys,)*) = (#(#seeds,)*);
            let mut #dz: (#(#tys,)*) = (#(#dseeds,)*);
            let mut #acc: (#(#other_tys,)*) = (#(#zeros,)*);
            for #i in (#start..#end).rev() {
                let (__mg_next, __mg_dnext, __mg_part):
                    ((#(#tys,)*), (#(#tys,)*), (#(#other_tys,)*)) = {
                    #(#forward)*
                    #(#tangent_steps)*
                    #(#reverse)*
                    #(#steps)*
                    ((#(#carried_adjoints,)*), (#(#carried_tangents,)*), (#(#parts,)*))
                };
                #z = __mg_next;
                #dz = __mg_dnext;
                #(#sums)*
            }
            (#(#results,)*)
        })
    }

    /// The tangent of `CallAdjoint { node }`: the callee's `_vjp_jvp`, seeded with the call's
    /// adjoint `seed` and its tangent `dseed`, the value arguments' tangents given (zero where
    /// they have none).
    pub(super) fn call_adjoint_tangent(
        &self,
        node: ValueId,
        seed: &AExpr,
        dseed: Option<&AExpr>,
    ) -> TokenStream {
        let Op::Call(site) = &self.prog.nodes[node].op else {
            return quote!(::core::compile_error!(
                "invariant: a call adjoint of a call"
            ));
        };
        let shape = self.prog.shape(node);
        let args = self.call_args(node, site);
        let seed = owned_operand(&self.expr(seed), shape);
        let dseed = match dseed {
            Some(d) => owned_operand(&self.expr(d), shape),
            None => self.zeros(shape),
        };
        let by_ref = site.args.iter().filter_map(|a| match a {
            crate::ir::CallArg::Value { by_ref } => Some(*by_ref),
            crate::ir::CallArg::Constant(_) => None,
        });
        let tangents: Vec<TokenStream> = self.prog.nodes[node]
            .args
            .iter()
            .zip(by_ref)
            .map(|(&a, by_ref)| {
                let shape = self.prog.shape(a);
                match (self.plan.tangent_active[a], by_ref) {
                    (true, true) => self.tangent_operand(a).borrow,
                    (true, false) => self.owned_tangent(a),
                    (false, true) => {
                        let zeros = self.zeros(shape);
                        quote!(&#zeros)
                    }
                    (false, false) => self.zeros(shape),
                }
            })
            .collect();
        let vjp_jvp = &site.vjp_jvp;
        let order = order_ident();
        quote!(#vjp_jvp(#(#args,)* #seed, #(#tangents,)* #dseed, #order).2)
    }
}

/// `name.0`, `name.1`, … for a tuple of `count` entries.
fn tuple_fields(name: &Ident, count: usize) -> Vec<TokenStream> {
    (0..count)
        .map(|k| {
            let k = syn::Index::from(k);
            quote!(#name.#k)
        })
        .collect()
}

/// Generates `{name}_vjp_jvp(params…, seed, tangents…, dseed) -> (value, (gradients…),
/// (their tangents…))`: the tangent of `{name}_vjp` along the parameters' tangents and the
/// seed's, through which a `#[hessian]` function differentiates a call of this one twice.
pub fn vjp_jvp(
    item: &syn::ItemFn,
    func: &ast::Func,
    grad: &Plan,
    tangent: &Plan,
    second: &SecondOrder,
) -> TokenStream {
    let float = Ident::new(&func.float.name(), Span::call_site());
    let (seed, dseed) = vjp_jvp_seeds();
    let mut g = Emitter::top(item, func, grad, &float);
    g.seeds = vec![quote!(#seed)];
    let mut t = Emitter::top(item, func, tangent, &float);
    t.tape_tangents = true;
    t.seeds = vec![quote!(#seed), quote!(#dseed)];
    t.tangents = func
        .params
        .iter()
        .map(|p| {
            param_operand(&ast::Param {
                name: tangent_ident(&p.name),
                ty: p.ty.clone(),
                by_ref: p.by_ref,
                kind: p.kind,
            })
        })
        .collect();
    let prog = grad.prog;
    let out = prog
        .output
        .expect("invariant: a checked program has an output");
    let value = g.owned(out);
    let floats = super::float_params(func);
    let shape = |k: usize| func.params[k].kind.shape().unwrap_or(Shape::Scalar);
    let grads: Vec<TokenStream> = floats
        .iter()
        .map(|&k| match prog.param_node(k) {
            Some(node) if grad.adj.nonzero[node] => {
                owned_operand(&g.adjoint_operand(node), shape(k))
            }
            _ => g.zeros(shape(k)),
        })
        .collect();
    let tangents: Vec<TokenStream> = floats
        .iter()
        .zip(&second.results)
        .map(|(&k, r)| match r {
            Some(r) => owned_operand(&t.expr(r), shape(k)),
            None => g.zeros(shape(k)),
        })
        .collect();
    let (checks, forward, tangent_steps, reverse, steps) = (
        g.helper_checks(),
        g.forward(),
        tangent_program(&t),
        g.reverse(),
        second_steps(&t, second),
    );
    let signature = vjp_jvp_signature(item, func);
    quote! {
        #signature {
            #(#checks)*
            #(#forward)*
            #(#tangent_steps)*
            #(#reverse)*
            #(#steps)*
            (#value, (#(#grads,)*), (#(#tangents,)*))
        }
    }
}

/// The witness every `_vjp_jvp` takes last and hands on to the `_vjp_jvp` of each function it
/// calls: `()` from `_hessian` and `_hvp`. Generic in it, a `_vjp_jvp` is compiled only when a
/// `#[hessian]` function reaches it, so one that refuses (see [`refused_vjp_jvp`]) is an error
/// there and nowhere else.
fn order_ident() -> Ident {
    Ident::new("order", Span::mixed_site())
}

/// `{vis} fn {name}_vjp_jvp<…, Order>(params…, seed, tangents…, seed_tangent, order: Order)
/// -> (value, (gradients…), (their tangents…))`, with its attributes and docs.
fn vjp_jvp_signature(item: &syn::ItemFn, func: &ast::Func) -> TokenStream {
    let (seed, dseed) = vjp_jvp_seeds();
    let vis = &item.vis;
    let name = format_ident!("{}_vjp_jvp", func.name);
    let inputs = signature_inputs(func);
    let d_inputs = tangent_inputs(func);
    let witness = Ident::new("MatgradOrder", Span::mixed_site());
    let mut with_witness = item.sig.generics.clone();
    with_witness
        .params
        .push(syn::parse_quote!(#witness: ::core::marker::Copy));
    let (_, where_clause) = generics(item, func);
    let (generics, _, _) = with_witness.split_for_impl();
    let ret = &func.ret_ty;
    let tys: Vec<&syn::Type> = super::float_params(func)
        .iter()
        .map(|&k| &func.params[k].ty)
        .collect();
    let order = order_ident();
    let doc = format!(
        " The tangent of [`{0}_vjp`] along the tangents of the float parameters and of the seed: \
         `({0}(…), gradients, their tangents)`, the second derivatives a `#[hessian]` function \
         differentiates a call of `{0}` with.",
        func.name
    );
    quote! {
        #[doc = #doc]
        #[doc(hidden)]
        #[allow(unused_variables, unused_mut, clippy::all, clippy::pedantic)]
        #[must_use]
        #[inline]
        #vis fn #name #generics (
            #(#inputs,)* #seed: #ret, #(#d_inputs,)* #dseed: #ret, #order: #witness
        ) -> (#ret, (#(#tys,)*), (#(#tys,)*)) #where_clause
    }
}

/// The names of `_vjp_jvp`'s seed and its tangent (not `dseed`: that is the tangent parameter of
/// a user's parameter named `seed`).
fn vjp_jvp_seeds() -> (Ident, Ident) {
    (
        Ident::new("seed", Span::mixed_site()),
        Ident::new("seed_tangent", Span::mixed_site()),
    )
}

/// A `{name}_vjp_jvp` for a function with no second derivative (`why` says why not): it
/// type-checks, so the functions that call this one keep theirs, but compiling it — which only a
/// `#[hessian]` function reaching it does — stops with `why` and the name of the function
/// (`cargo build` reports it; `cargo check` does not compile that far).
pub fn refused_vjp_jvp(item: &syn::ItemFn, func: &ast::Func, why: &str) -> TokenStream {
    let signature = vjp_jvp_signature(item, func);
    let message = format!(
        "a `#[hessian]` function cannot call `{}`, directly or through another function: {why}",
        func.name
    );
    let span = item.sig.ident.span();
    // A panic in a constant of the generated code: const evaluation turns it into the compile
    // error, at the build that instantiates the function; it never runs (the macro itself
    // does not panic here).
    let refuse = quote::quote_spanned!(span=> ::core::panic!(#message));
    quote! {
        #signature {
            struct Refused<Order>(Order);
            impl<Order> Refused<Order> {
                const SECOND_DERIVATIVE: () = #refuse;
            }
            let () = Refused::<MatgradOrder>::SECOND_DERIVATIVE;
            ::core::unreachable!()
        }
    }
}
