//! Adjoint program → Rust.
//!
//! Writes the forward pass as one `let` per live value (in program order), then the reverse pass
//! as one statement per contribution (the first contribution to an adjoint declares it, later
//! ones accumulate in place). Everything is nalgebra on stack matrices: no allocation, no
//! `unsafe`. Locals are `__mg_`-prefixed idents with mixed-site hygiene, so they cannot collide
//! with user names; operations carry the user's spans so a residual type error lands on the
//! user's expression. `companions` wraps these passes into `{name}_grad` and `{name}_vjp`;
//! `nested` emits branches, closures, calls and fused forms. Runs after `diff`, last.
//!
//! Before: `g0 += v1ᵀ · g3`
//! After: `let __mg_g0: SMatrix<f64, 5, 1> = x.tr_mul(&__mg_g3);`

use proc_macro2::{Ident, Literal, Span, TokenStream};
use quote::{quote, quote_spanned};

use crate::adjoint::AExpr;
use crate::ir::{Build, Dim, Op, Program, Shape, ValueId};
use crate::plan::{Forward, Kernel, Mode, Plan, Reverse, Role, Update};
use crate::simplify;

mod companions;
mod hessian;
mod jacobian;
mod nested;

pub use companions::{
    custom, float_params, function, generics, grad_through_vjp, jvp, jvp_through_vjp,
    signature_inputs, tangent_ident, vjp,
};
pub use hessian::{
    HessianPlans, closed_hessian, hessian, hvp, refused_vjp_jvp, unit_count, vjp_jvp,
};
pub use jacobian::{check_jacobian_sizes, entries_tokens, jacobian, jacobian_plans};

/// How generated code refers to a value.
#[derive(Clone)]
struct Operand {
    /// An expression usable as a method receiver or scalar operand: `__v3`, `x`, `(a * b)`.
    place: TokenStream,
    /// A `&`-expression for matrix arguments: `&__v3`, `x` for a `&`-parameter.
    borrow: TokenStream,
    /// Whether `place` is a freshly computed temporary, which operators may consume.
    temp: bool,
}

impl Operand {
    fn scalar(tokens: TokenStream) -> Self {
        Operand {
            place: tokens.clone(),
            borrow: tokens,
            temp: false,
        }
    }

    fn local(ident: &Ident, shape: Shape) -> Self {
        if shape.is_matrix() {
            Operand {
                place: quote!(#ident),
                borrow: quote!(&#ident),
                temp: false,
            }
        } else {
            Operand::scalar(quote!(#ident))
        }
    }

    #[allow(
        clippy::needless_pass_by_value,
        reason = "called with freshly quoted temporaries"
    )]
    fn temp(tokens: TokenStream) -> Self {
        Operand {
            place: quote!((#tokens)),
            borrow: quote!(&(#tokens)),
            temp: true,
        }
    }

    /// The operand of an arithmetic operator: temporaries by value, everything else by reference.
    fn arith(&self) -> &TokenStream {
        if self.temp { &self.place } else { &self.borrow }
    }
}

/// Emits one program: the function body or a `map` closure.
/// Prints one planned body: the function's, a branch's, or a `map` closure's.
#[derive(Clone)]
struct Emitter<'a> {
    plan: &'a Plan<'a>,
    prog: &'a Program,
    float: &'a Ident,
    /// `""` for the function, `"m3_"` for the closure of the `map` node 3.
    prefix: String,
    /// How each parameter index is referred to.
    params: Vec<Operand>,
    /// How each parameter's tangent is referred to, in a tangent program (else empty).
    tangents: Vec<Operand>,
    /// The name under which the caller has the planned body's given value (a `map` closure's
    /// result, which its derivative closure reads instead of recomputing).
    given: Option<Ident>,
    /// The adjoint handed in for each result: `1.0` for a function's value.
    seeds: Vec<TokenStream>,
    /// Whether the float type is a type parameter, whose constants go through `convert`.
    generic: bool,
    /// Whether the function has generic parameters: then every size a call would otherwise
    /// infer is spelled out, since rustc prefers the function's own `where` bounds (such as
    /// `Const<N>: DimMin<Const<N>>`) when it infers a size and would take `N` for a literal.
    explicit_sizes: bool,
    /// In `_hessian`'s loop over the unit directions of the parameter (else `None`).
    sweep: Option<hessian::Sweep>,
    /// Whether a loop kept as a loop keeps the tangents of what it carries at the start of each
    /// iteration, for a second-order program that runs it backwards (a tangent program of
    /// `_hvp`, `_hessian` or `_vjp_jvp`).
    tape_tangents: bool,
}

impl Emitter<'_> {
    fn ident(&self, kind: &str, id: ValueId) -> Ident {
        Ident::new(
            &format!("__mg_{}{kind}{id}", self.prefix),
            Span::mixed_site(),
        )
    }

    fn value_ident(&self, id: ValueId) -> Ident {
        self.ident("v", id)
    }

    fn adj_ident(&self, id: ValueId) -> Ident {
        self.ident("g", id)
    }

    /// The tangent of `id`: a parameter's tangent as the caller passed it, or a local.
    fn tangent_operand(&self, id: ValueId) -> Operand {
        if let Some(alias) = &self.plan.tangent_alias[id] {
            return self.expr(alias);
        }
        if let Some(dense) = self.hot_dense(false, id) {
            return dense;
        }
        match self.prog.nodes[id].op {
            Op::Param(k) => self.tangents.get(k).cloned().unwrap_or_else(|| {
                Operand::temp(quote!(::core::compile_error!(
                    "invariant: a tangent for every seeded parameter"
                )))
            }),
            Op::Const(..)
            | Op::Add
            | Op::Accumulate(_)
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
            | Op::SetEntry(..)
            | Op::View { .. }
            | Op::SetView { .. }
            | Op::DiagonalOf
            | Op::Cholesky(_)
            | Op::TriSolve { .. }
            | Op::DiagonalProduct
            | Op::IdentityOf
            | Op::IndexAt(_)
            | Op::Field(..)
            | Op::Extremum(_)
            | Op::Cross
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
            | Op::Call(..) => Operand::local(&self.ident("d", id), self.prog.shape(id)),
        }
    }

    /// The tangent of `id` by value: a matrix is copied out of wherever it lives.
    fn owned_tangent(&self, id: ValueId) -> TokenStream {
        if self.column_view(id).is_some() && self.plan.tangent_alias[id].is_none() {
            let d = self.ident("d", id);
            return quote!(#d.into_owned());
        }
        let o = self.tangent_operand(id);
        if self.prog.shape(id).is_matrix() {
            let b = o.borrow;
            quote!((*#b))
        } else {
            o.place
        }
    }

    /// The tangent program: `let d = …;` for every planned step, in program order.
    fn tangent(&self) -> Vec<TokenStream> {
        self.tangent_but(None)
    }

    /// The tangent program without the step of `skip`, whose tangent the caller writes itself.
    fn tangent_but(&self, skip: Option<ValueId>) -> Vec<TokenStream> {
        self.tangent_where(&|v| Some(v) != skip)
    }

    /// The steps of the tangent program whose value `keep` accepts.
    fn tangent_where(&self, keep: &dyn Fn(ValueId) -> bool) -> Vec<TokenStream> {
        self.plan
            .tangent
            .iter()
            .filter(|(v, _)| self.plan.tangent_alias[*v].is_none() && keep(*v))
            .map(|(v, e)| {
                let d = self.ident("d", *v);
                let span = self.prog.nodes[*v].loc.start;
                if let Some(view) = self.column_view(*v) {
                    return quote_spanned!(span=> let #d = #view;);
                }
                if let Some(hot) = self.hot_local(false, *v) {
                    let float = self.float;
                    let value = self.hot(e).map_or_else(
                        || quote!(::core::compile_error!("invariant: a one-hot tangent")),
                        |(_, s)| s,
                    );
                    return quote_spanned!(span=> let #hot: #float = #value;);
                }
                let value = match e {
                    AExpr::Tan(u) => self.owned_tangent(*u),
                    other => self.expr(other).place,
                };
                match self.prog.shape(*v) {
                    Shape::Tuple => quote_spanned!(span=> let #d = #value;),
                    shape => {
                        let ty = self.ty(shape);
                        quote_spanned!(span=> let #d: #ty = #value;)
                    }
                }
            })
            .collect()
    }

    fn matrix_ty(&self, rows: Dim, cols: Dim) -> TokenStream {
        let float = self.float;
        let (rows, cols) = (rows.tokens(), cols.tokens());
        quote!(::matgrad::__private::nalgebra::SMatrix<#float, #rows, #cols>)
    }

    fn ty(&self, shape: Shape) -> TokenStream {
        match shape {
            Shape::Matrix(r, c) => self.matrix_ty(r, c),
            Shape::Bool => quote!(bool),
            Shape::Scalar | Shape::Tuple | Shape::Poison => {
                let float = self.float;
                quote!(#float)
            }
        }
    }

    /// `SMatrix::<f64, R, C>` in expression position.
    fn matrix_path(&self, shape: Shape) -> TokenStream {
        let (r, c) = match shape {
            Shape::Matrix(r, c) => (r.tokens(), c.tokens()),
            Shape::Scalar | Shape::Bool | Shape::Tuple | Shape::Poison => (quote!(1), quote!(1)),
        };
        let float = self.float;
        quote!(::matgrad::__private::nalgebra::SMatrix::<#float, #r, #c>)
    }

    /// For each way the body named `sigmoid` or `softplus`: a check that it is matgrad's, whose
    /// derivative the rules know. Two different functions are two different types, so a local
    /// function of the same name fails to compile here instead of being differentiated wrongly.
    fn helper_checks(&self) -> Vec<TokenStream> {
        let float = self.float;
        self.prog
            .helpers
            .iter()
            .map(|(path, f)| {
                let name = Ident::new(f.name(), Span::call_site());
                let span = path.clone().into_iter().next().map_or_else(Span::call_site, |t| t.span());
                quote_spanned!(span=> ::matgrad::__private::same_function(#path, ::matgrad::__private::#name::<#float>);)
            })
            .collect()
    }

    /// A float constant of the function's float type: `2.0`, or `convert::<f64, T>(2.0)` for a
    /// type parameter `T`, which no literal can name.
    fn lit(&self, value: f64) -> TokenStream {
        let lit = Literal::f64_unsuffixed(value);
        if self.generic {
            self.convert(&quote!(#lit))
        } else {
            quote!(#lit)
        }
    }

    fn convert(&self, value: &TokenStream) -> TokenStream {
        let float = self.float;
        quote!(::matgrad::__private::nalgebra::convert::<f64, #float>(#value))
    }

    fn zeros(&self, shape: Shape) -> TokenStream {
        if shape.is_matrix() {
            let path = self.matrix_path(shape);
            quote!(#path::zeros())
        } else {
            self.lit(0.0)
        }
    }

    /// Whether forward value `v` is a matrix of this body's own (bound by a `let` of the forward
    /// pass) that nothing but its one consumer reads, so the consumer may take it by value.
    fn consumable(&self, v: ValueId) -> bool {
        self.plan.config.mode == Mode::Reverse
            && self.sweep.is_none()
            && !self.tape_tangents
            && self.plan.reads().get(v) == Some(&1)
            && self.prog.shape(v).is_matrix()
            && self.plan.config.given != Some(v)
            && self.literal_const(v).is_none()
            && self.plan.bound_by_let(v)
            && !matches!(
                self.prog.nodes[v].op,
                Op::Param(_) | Op::Field(..) | Op::Extract(_) | Op::Const(_)
            )
    }

    /// A scalar constant written as a plain float literal (`0.5`, `1e-3`), as the literal typed
    /// by a suffix (`0.5f64`): read where it is used rather than bound to a `let` of its own,
    /// which would only add a statement for the compiler to check.
    fn literal_const(&self, id: ValueId) -> Option<TokenStream> {
        let node = &self.prog.nodes[id];
        let Op::Const(tokens) = &node.op else {
            return None;
        };
        if self.generic || node.shape != Shape::Scalar {
            return None;
        }
        let mut trees = tokens.clone().into_iter();
        let (Some(proc_macro2::TokenTree::Literal(lit)), None) = (trees.next(), trees.next())
        else {
            return None;
        };
        let text = lit.to_string();
        let float = text.contains(['.', 'e', 'E'])
            && text
                .chars()
                .all(|c| c.is_ascii_digit() || matches!(c, '.' | '_' | 'e' | 'E' | '-' | '+'));
        if !float {
            return None;
        }
        // `1.` takes no suffix as it is.
        let digits = if text.ends_with('.') {
            format!("{text}0")
        } else {
            text
        };
        let mut typed: Literal = format!("{digits}{}", self.float).parse().ok()?;
        typed.set_span(lit.span());
        Some(quote!(#typed))
    }

    fn operand(&self, id: ValueId) -> Operand {
        if let Some(name) = &self.given
            && self.plan.config.given == Some(id)
        {
            return Operand::local(name, self.prog.shape(id));
        }
        if let Some(literal) = self.literal_const(id) {
            return Operand::scalar(literal);
        }
        match &self.prog.nodes[id].op {
            Op::Param(k) => self.params[*k].clone(),
            // Read in place: `self.x`, `&self.x`.
            // A scalar (a sample of floats) is read by value.
            Op::Field(tokens, Shape::Scalar) => Operand::scalar(quote!((#tokens))),
            Op::Field(tokens, _) => Operand {
                place: quote!((#tokens)),
                borrow: quote!(&(#tokens)),
                temp: false,
            },
            Op::Extract(k) => Operand::local(
                &self.result_ident(self.prog.nodes[id].args[0], *k),
                self.prog.shape(id),
            ),
            Op::Const(..)
            | Op::Add
            | Op::Accumulate(_)
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
            | Op::SetEntry(..)
            | Op::View { .. }
            | Op::SetView { .. }
            | Op::DiagonalOf
            | Op::Cholesky(_)
            | Op::TriSolve { .. }
            | Op::DiagonalProduct
            | Op::IdentityOf
            | Op::IndexAt(_)
            | Op::Extremum(_)
            | Op::Cross
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
            | Op::Call(..) => Operand::local(&self.value_ident(id), self.prog.shape(id)),
        }
    }

    /// Which values the forward pass computes: every live one, or in a derivative closure only
    /// those the adjoint reads (and what they need), less the value the caller gives.
    /// The forward pass, one statement per planned step.
    fn forward(&self) -> Vec<TokenStream> {
        self.plan
            .forward
            .iter()
            .flat_map(|step| self.forward_step(step))
            .collect()
    }

    #[allow(
        clippy::too_many_lines,
        reason = "one arm per kind of forward step, the factor's with every operation listed"
    )]
    fn forward_step(&self, step: &Forward) -> Vec<TokenStream> {
        let id = match step {
            Forward::Value(id)
            | Forward::Factor(id)
            | Forward::FromFactor(id)
            | Forward::TraceDot(id)
            | Forward::Solve(id)
            | Forward::Branch(id)
            | Forward::TraceChain(id, _)
            | Forward::MapPartials(id, _) => *id,
        };
        let node = &self.prog.nodes[id];
        if matches!(step, Forward::Value(_)) && self.literal_const(id).is_some() {
            return Vec::new();
        }
        let (v, ty) = (self.value_ident(id), self.ty(node.shape));
        let stmt = match step {
            Forward::Branch(id) => self.branch_forward(*id),
            Forward::MapPartials(id, inputs) => self.map_partials(*id, inputs),
            Forward::TraceChain(id, plan) => return self.trace_chain(*id, plan),
            Forward::Factor(a) => {
                // Cholesky when the matrix turns out symmetric positive definite, else LU.
                let f = self.ident("f", *a);
                let m = self.operand(*a).borrow;
                quote_spanned!(node.loc.start=> let #f = ::matgrad::__private::Inverted::new(#m);)
            }
            Forward::FromFactor(id) => {
                let lu = self.ident("f", node.args[0]);
                let value = match &node.op {
                    Op::Inverse(finish) => {
                        let finish = finish.tokens();
                        quote!(#lu.try_inverse()#finish)
                    }
                    Op::Param(..)
                    | Op::Const(..)
                    | Op::Add
                    | Op::Accumulate(_)
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
                    | Op::SetEntry(..)
                    | Op::View { .. }
                    | Op::SetView { .. }
                    | Op::DiagonalOf
                    | Op::Cholesky(_)
                    | Op::TriSolve { .. }
                    | Op::DiagonalProduct
                    | Op::IdentityOf
                    | Op::IndexAt(_)
                    | Op::Field(..)
                    | Op::Extremum(_)
                    | Op::Cross
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
                    | Op::Call(..) => quote!(#lu.determinant()),
                };
                let _ = id;
                quote_spanned!(node.loc.start=> let #v: #ty = #value;)
            }
            Forward::TraceDot(_) => {
                let product = &self.prog.nodes[node.args[0]];
                let (a, b) = (
                    self.operand(product.args[0]).place,
                    self.operand(product.args[1]).borrow,
                );
                quote_spanned!(node.loc.start=> let #v: #ty = #a.tr_dot(#b);)
            }
            Forward::Solve(_) => {
                // The factors are kept for the adjoint, which solves with Aᵀ through them.
                let Op::Solve(finish) = &node.op else {
                    return vec![quote!(::core::compile_error!("invariant: a planned solve"))];
                };
                let lu = self.ident("lu", id);
                let (a, b) = (
                    self.operand(node.args[0]).place,
                    self.operand(node.args[1]).borrow,
                );
                let sizes = self.rhs_sizes(self.prog.shape(node.args[1]));
                let finish = finish.tokens();
                return vec![
                    quote_spanned!(node.loc.start=> let #lu = #a.lu();),
                    quote_spanned!(node.loc.start=> let #v: #ty = #lu.solve #sizes (#b)#finish;),
                ];
            }
            Forward::Value(_) => {
                let expr = self.forward_expr(id);
                quote_spanned!(node.loc.start=> let #v: #ty = #expr;)
            }
        };
        vec![stmt]
    }

    #[allow(
        clippy::too_many_lines,
        reason = "one arm per operation, as in the rule table"
    )]
    fn forward_expr(&self, id: ValueId) -> TokenStream {
        let node = &self.prog.nodes[id];
        let span = node.loc.start;
        let arg = |k: usize| self.operand(node.args[k]);
        let shape = |k: usize| self.prog.shape(node.args[k]);
        match &node.op {
            Op::Param(_) => arg(0).place,
            Op::Const(tokens) => tokens.clone(),
            Op::Accumulate(minus) => {
                // Added up by the loop over data its terms come from, term by term.
                if let Some(total) = self.loop_total(id) {
                    return quote_spanned!(span=> #total);
                }
                let mut sum = arg(0).arith().clone();
                for (k, &m) in minus.iter().enumerate() {
                    let term = arg(k + 1);
                    let term = term.arith();
                    sum = if m {
                        quote_spanned!(span=> (#sum - #term))
                    } else {
                        quote_spanned!(span=> (#sum + #term))
                    };
                }
                sum
            }
            Op::Add | Op::Sub | Op::Mul | Op::Div => {
                let moved = |k: usize| {
                    let (a, o) = (node.args[k], self.operand(node.args[k]));
                    if matches!(node.op, Op::Add | Op::Sub) && self.consumable(a) {
                        o.place
                    } else {
                        o.arith().clone()
                    }
                };
                let (a, b) = (moved(0), moved(1));
                match node.op {
                    Op::Add => quote_spanned!(span=> #a + #b),
                    Op::Sub => quote_spanned!(span=> #a - #b),
                    Op::Div => quote_spanned!(span=> #a / #b),
                    // The matrix goes on the left so a float literal takes the matrix's scalar type.
                    _ if shape(0).is_scalar() && shape(1).is_matrix() => {
                        quote_spanned!(span=> #b * #a)
                    }
                    Op::Param(..)
                    | Op::Const(..)
                    | Op::Mul
                    | Op::Accumulate(_)
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
                    | Op::SetEntry(..)
                    | Op::View { .. }
                    | Op::SetView { .. }
                    | Op::DiagonalOf
                    | Op::Cholesky(_)
                    | Op::TriSolve { .. }
                    | Op::DiagonalProduct
                    | Op::IdentityOf
                    | Op::IndexAt(_)
                    | Op::Field(..)
                    | Op::Extremum(_)
                    | Op::Cross
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
                    | Op::Call(..) => quote_spanned!(span=> #a * #b),
                }
            }
            Op::Neg => {
                let a = arg(0);
                let a = a.arith();
                quote_spanned!(span=> -#a)
            }
            Op::Transpose | Op::Trace | Op::Sum | Op::Mean | Op::Norm | Op::NormSquared => {
                let method = Ident::new(method_name(&node.op), span);
                let a = arg(0).place;
                quote_spanned!(span=> #a.#method())
            }
            Op::Dot | Op::ComponentMul | Op::ComponentDiv => {
                let method = Ident::new(method_name(&node.op), span);
                let (a, b) = (arg(0).place, arg(1).borrow);
                quote_spanned!(span=> #a.#method(#b))
            }
            Op::Map(_) => {
                let closure = self.map_emitter(id, Role::MapForward).forward_closure();
                let a = arg(0).place;
                quote_spanned!(span=> #a.map(#closure))
            }
            Op::Unary(f) => {
                let a = arg(0).place;
                let name = Ident::new(f.name(), span);
                if f.is_helper() {
                    quote_spanned!(span=> ::matgrad::__private::#name(#a))
                } else {
                    quote_spanned!(span=> #a.#name())
                }
            }
            Op::Powi(n) => {
                let a = arg(0).place;
                quote_spanned!(span=> #a.powi(#n))
            }
            // With an exponent that varies, aᵖ = e^(p·ln a) for a > 0: ln a is what the
            // derivative in p needs anyway, so the power costs one exponential instead of a
            // second `powf` (which computes its own logarithm). Elsewhere, `powf` as written.
            Op::Powf if varies(self.prog, node.args[1]) => {
                let (a, p) = (arg(0).place, arg(1).place);
                let zero = self.lit(0.0);
                quote_spanned!(span=> {
                    let __mg_base = #a;
                    let __mg_log = __mg_base.ln();
                    if __mg_base > #zero { (#p * __mg_log).exp() } else { __mg_base.powf(#p) }
                })
            }
            Op::Powf => {
                let (a, p) = (arg(0).place, arg(1).place);
                quote_spanned!(span=> #a.powf(#p))
            }
            Op::Max | Op::Min => {
                let (a, b) = (arg(0).place, arg(1).place);
                let method = Ident::new(
                    if matches!(node.op, Op::Max) {
                        "max"
                    } else {
                        "min"
                    },
                    span,
                );
                quote_spanned!(span=> #a.#method(#b))
            }
            Op::Index(i, j) => {
                let a = arg(0).place;
                quote_spanned!(span=> #a[(#i, #j)])
            }
            Op::SetEntry(i, j) => {
                let (a, s) = (self.owned(node.args[0]), arg(1).place);
                quote_spanned!(span=> { let mut __mg_set = #a; __mg_set[(#i, #j)] = #s; __mg_set })
            }
            Op::DiagonalOf => {
                let a = arg(0).place;
                quote_spanned!(span=> #a.diagonal())
            }
            Op::Cholesky(finish) => {
                // nalgebra's factorisation, bit for bit, built where it is kept.
                let (a, finish) = (arg(0).borrow, finish.tokens());
                quote_spanned!(span=> ::matgrad::__private::cholesky_factor(#a)#finish)
            }
            Op::TriSolve { transpose } => tri_solve(&arg(0).borrow, &arg(1).borrow, *transpose),
            Op::IdentityOf => {
                let ty = self.ty(node.shape);
                quote_spanned!(span=> <#ty>::identity())
            }
            Op::Field(tokens, _) => quote_spanned!(span=> (#tokens)),
            Op::DiagonalProduct => {
                let (a, one) = (arg(0).place, self.lit(1.0));
                quote_spanned!(span=> #a.diagonal().iter().fold(#one, |__mg_p, __mg_x| __mg_p * *__mg_x))
            }
            Op::IndexAt(at) => {
                let (a, at) = (arg(0).place, at.tokens());
                quote_spanned!(span=> #a[#at])
            }
            Op::Extremum(e) => {
                let (a, method) = (arg(0).place, Ident::new(e.method(), span));
                quote_spanned!(span=> #a.#method())
            }
            Op::Cross => {
                let (a, b) = (arg(0).place, arg(1).borrow);
                quote_spanned!(span=> #a.cross(#b))
            }
            Op::View { row, col, .. } | Op::SetView { row, col, .. } => {
                self.view_value(node, (*row, *col))
            }
            Op::Inverse(finish) => {
                let a = arg(0).place;
                let finish = finish.tokens();
                quote_spanned!(span=> #a.try_inverse()#finish)
            }
            Op::Determinant => {
                let a = arg(0).place;
                quote_spanned!(span=> #a.determinant())
            }
            Op::Kronecker => {
                let (a, b) = (arg(0).place, arg(1).borrow);
                quote_spanned!(span=> #a.kronecker(#b))
            }
            Op::Build { kind, .. } => {
                let ty = self.ty(self.prog.shape(id));
                match kind {
                    Build::Entries => {
                        let entries = (0..node.args.len()).map(|k| arg(k).place);
                        quote_spanned!(span=> <#ty>::from_column_slice(&[#(#entries),*]))
                    }
                    Build::Fill => {
                        let s = arg(0).place;
                        quote_spanned!(span=> <#ty>::from_element(#s))
                    }
                    Build::Diagonal => {
                        let s = arg(0).place;
                        quote_spanned!(span=> <#ty>::from_diagonal_element(#s))
                    }
                }
            }
            Op::MatrixPower(k) => {
                let a = arg(0).place;
                quote_spanned!(span=> #a.pow(#k))
            }
            Op::Compare(c) => {
                let (a, b) = (arg(0).place, arg(1).place);
                let op: TokenStream = c
                    .symbol()
                    .parse()
                    .expect("invariant: a comparison operator");
                quote_spanned!(span=> #a #op #b)
            }
            Op::Not => {
                let a = arg(0).place;
                quote_spanned!(span=> !#a)
            }
            Op::And | Op::Or => {
                let (a, b) = (arg(0).place, arg(1).place);
                if matches!(node.op, Op::And) {
                    quote_spanned!(span=> #a && #b)
                } else {
                    quote_spanned!(span=> #a || #b)
                }
            }
            Op::BoolConst(t) => t.clone(),
            Op::Call(site) => {
                let path = &site.path;
                let args = self.call_args(id, site);
                quote_spanned!(span=> #path(#(#args),*))
            }
            // Emitted by `forward`: a solve keeps its factors, a trace chain its windows, an `if`
            // binds all its results at once.
            Op::Solve(_) | Op::TraceChain(_) | Op::Branch { .. } | Op::Extract(_) => quote!(
                ::core::compile_error!("invariant: solve is emitted with its factors")
            ),
        }
    }

    /// The reverse pass: every step of the adjoint program, seeds first.
    /// The reverse pass, one statement per planned step.
    fn reverse(&self) -> Vec<TokenStream> {
        self.plan
            .reverse
            .iter()
            .map(|step| match step {
                Reverse::Share { index, expr } => {
                    let t = self.ident("t", *index);
                    let value = self.expr(expr).place;
                    quote!(let #t = #value;)
                }
                Reverse::Declare {
                    target,
                    mutable,
                    expr,
                } => {
                    let span = self.prog.nodes[*target].loc.start;
                    let g = self.adj_ident(*target);
                    let ty = self.ty(self.prog.shape(*target));
                    let value = self.first_value(expr);
                    let mutability = mutable.then(|| quote!(mut));
                    quote_spanned!(span=> let #mutability #g: #ty = #value;)
                }
                Reverse::Update { target, update } => self.update(*target, update),
            })
            .collect()
    }

    /// The adjoint of `id`: its variable, or the expression it is inlined as.
    fn adjoint_operand(&self, id: ValueId) -> Operand {
        match self.plan.adjoint_operand(id) {
            AExpr::Adj(u) => Operand::local(&self.adj_ident(u), self.prog.shape(u)),
            other => Operand::temp(self.first_value(&other)),
        }
    }

    /// The expression that declares an adjoint.
    fn first_value(&self, e: &AExpr) -> TokenStream {
        if let AExpr::Embed(b, shape, i, j) = e {
            let path = self.matrix_path(*shape);
            let sizes = block_sizes(simplify::shape(self.prog, &self.plan.adj, b));
            let b = self.expr(b).borrow;
            return quote!({
                let mut __mg_m = #path::zeros();
                __mg_m.fixed_view_mut::<#sizes>(#i, #j).copy_from(#b);
                __mg_m
            });
        }
        if let AExpr::OneHot(s, shape, i, j) = e {
            let path = self.matrix_path(*shape);
            let s = self.expr(s).place;
            return quote!({
                let mut __mg_m = #path::zeros();
                __mg_m[(#i, #j)] = #s;
                __mg_m
            });
        }
        if let Some(product) = self.scaled_product(e) {
            return product;
        }
        self.expr(e).place
    }

    /// A signed or scaled product ±α·Aᵀ·B or ±α·A·B (not an outer product) as nalgebra's kernel
    /// into zeros with α folded in (`gemv_tr`/`gemm_tr`, `gemv`/`gemm`), rather than the
    /// product followed by a pass that scales or negates it.
    fn scaled_product(&self, e: &AExpr) -> Option<TokenStream> {
        let Ok(Update::Product {
            kernel,
            negate,
            alpha,
            a,
            b,
        }) = self.plan.product_update(e.clone())
        else {
            return None;
        };
        // An outer product in any spelling (inner dimension 1) is better left to `outer`.
        let inner = match (kernel, simplify::shape(self.prog, &self.plan.adj, &a)) {
            (Kernel::GemmTr, Shape::Matrix(k, _)) | (Kernel::Gemm, Shape::Matrix(_, k)) => k,
            // `ger` is the outer product itself; a product has matrix operands.
            (Kernel::Ger, _) | (_, Shape::Scalar | Shape::Bool | Shape::Tuple | Shape::Poison) => {
                Dim::Lit(1)
            }
        };
        if inner == Dim::Lit(1) || (!negate && alpha.is_none()) {
            return None;
        }
        let column = simplify::is_column(self.prog, &self.plan.adj, &b);
        let name = match (kernel, column) {
            (Kernel::GemmTr, true) => "gemv_tr",
            (Kernel::GemmTr, false) => "gemm_tr",
            (Kernel::Gemm | Kernel::Ger, true) => "gemv",
            (Kernel::Gemm | Kernel::Ger, false) => "gemm",
        };
        let kernel = Ident::new(name, Span::call_site());
        let path = self.matrix_path(simplify::shape(self.prog, &self.plan.adj, e));
        let sign = negate.then(|| quote!(-));
        let alpha = alpha.map_or_else(|| self.lit(1.0), |s| self.expr(&s).place);
        let (a, b) = (self.expr(&a).borrow, self.expr(&b).borrow);
        let zero = self.lit(0.0);
        Some(quote!({
            let mut __mg_p = #path::zeros();
            __mg_p.#kernel(#sign #alpha, #a, #b, #zero);
            __mg_p
        }))
    }

    /// A planned in-place update of the adjoint of `target`.
    fn update(&self, target: ValueId, update: &Update) -> TokenStream {
        self.update_of(&self.adj_ident(target), target, update)
    }

    /// `g += …` into the variable `g` shaped like value `target`, in the form `update` says.
    fn update_of(&self, g: &Ident, target: ValueId, update: &Update) -> TokenStream {
        let matrix = self.prog.shape(target).is_matrix();
        let operand = |x: &AExpr| {
            let x = self.expr(x);
            if matrix { x.arith().clone() } else { x.place }
        };
        match update {
            Update::Add(x) => {
                let x = operand(x);
                quote!(#g += #x;)
            }
            Update::Sub(x) => {
                let x = operand(x);
                quote!(#g -= #x;)
            }
            Update::Entry(i, j, s) => {
                let s = self.expr(s).place;
                quote!(#g[(#i, #j)] += #s;)
            }
            Update::AtExtremum(node, s) => {
                let (k, value) = self.extremum_entry(*node, s);
                quote!({
                    #k
                    #g[__mg_k] += #value;
                })
            }
            Update::EntryAt(at, s) => {
                let (s, at) = (self.expr(s).place, at.tokens());
                quote!(#g[#at] += #s;)
            }
            Update::ToDiagonal(v) => {
                let v = operand(v);
                quote!({
                    let __mg_diagonal = #g.diagonal() + #v;
                    #g.set_diagonal(&__mg_diagonal);
                })
            }
            Update::Block(i, j, b) => {
                let sizes = block_sizes(simplify::shape(self.prog, &self.plan.adj, b));
                let b = operand(b);
                quote!({
                    let mut __mg_block = #g.fixed_view_mut::<#sizes>(#i, #j);
                    __mg_block += #b;
                })
            }
            Update::Constant(s) => {
                let s = self.expr(s).place;
                quote!(#g.add_scalar_mut(#s);)
            }
            Update::Diagonal(s, n) => {
                let s = self.expr(s).place;
                let n_tokens = n.tokens();
                quote!({
                    let __mg_s = #s;
                    for __mg_i in 0..#n_tokens {
                        #g[(__mg_i, __mg_i)] += __mg_s;
                    }
                })
            }
            Update::Product {
                kernel,
                negate,
                alpha,
                a,
                b,
            } => {
                let sign = negate.then(|| quote!(-));
                let alpha = alpha
                    .as_ref()
                    .map_or_else(|| self.lit(1.0), |s| self.expr(s).place);
                let (a, b) = (self.expr(a).borrow, self.expr(b).borrow);
                let one = self.lit(1.0);
                let kernel = Ident::new(
                    match kernel {
                        Kernel::Ger => "ger",
                        Kernel::GemmTr => "gemm_tr",
                        Kernel::Gemm => "gemm",
                    },
                    Span::call_site(),
                );
                quote!(#g.#kernel(#sign #alpha, #a, #b, #one);)
            }
        }
    }

    #[allow(
        clippy::too_many_lines,
        reason = "one arm per kind of adjoint expression"
    )]
    fn expr(&self, e: &AExpr) -> Operand {
        let float = self.float;
        match e {
            AExpr::Adj(id) => Operand::local(&self.adj_ident(*id), self.prog.shape(*id)),
            AExpr::Val(id) => self.operand(*id),
            AExpr::Lit(s) => Operand::scalar(self.lit(s.parse().unwrap_or(f64::NAN))),
            AExpr::Cast(t) if self.generic => {
                let convert = self.convert(&quote!(((#t) as f64)));
                Operand::scalar(convert)
            }
            AExpr::Cast(t) => Operand::scalar(quote!(((#t) as #float))),
            AExpr::Neg(x) => {
                let x = self.expr(x);
                let x = x.arith();
                Operand::temp(quote!(-#x))
            }
            AExpr::Add(a, b) => self.binary(a, b, quote!(+)),
            // A with one of its blocks zeroed (A − A's block embedded where it was) is a copy
            // of A with the block filled with zeros, not a matrix of zeros subtracted.
            AExpr::Sub(a, b) => match zeroed_block(a, b) {
                Some((i, j, shape)) => {
                    let a = self.expr(a).place;
                    let sizes = block_sizes(shape);
                    let zero = self.lit(0.0);
                    Operand::temp(quote!({
                        let mut __mg_kept = #a.clone_owned();
                        __mg_kept.fixed_view_mut::<#sizes>(#i, #j).fill(#zero);
                        __mg_kept
                    }))
                }
                None => self.binary(a, b, quote!(-)),
            },
            AExpr::Mul(a, b) | AExpr::Scale(a, b) => self.binary(a, b, quote!(*)),
            AExpr::Div(a, b) | AExpr::DivBy(a, b) => self.binary(a, b, quote!(/)),
            AExpr::MatMul(a, b) => self.matmul(a, b),
            AExpr::Transpose(x) => {
                let x = self.expr(x).place;
                Operand::temp(quote!(#x.transpose()))
            }
            AExpr::Dot(a, b) => self
                .unit_dot(a, b)
                .unwrap_or_else(|| self.method2(a, b, "dot")),
            AExpr::ComponentMul(a, b) => self.method2(a, b, "component_mul"),
            AExpr::ComponentDiv(a, b) => self.method2(a, b, "component_div"),
            AExpr::Diag(s, n) => {
                let path = self.matrix_path(Shape::Matrix(*n, *n));
                let s = self.expr(s).place;
                Operand::temp(quote!(#path::from_diagonal_element(#s)))
            }
            AExpr::Fill(s, shape) => {
                let path = self.matrix_path(*shape);
                let s = self.expr(s).place;
                Operand::temp(quote!(#path::repeat(#s)))
            }
            AExpr::OneHot(..) | AExpr::Embed(..) => Operand::temp(self.first_value(e)),
            AExpr::Method(name, x) => {
                let name = Ident::new(name, Span::call_site());
                let x = self.expr(x).place;
                Operand::temp(quote!(#x.#name()))
            }
            AExpr::Helper(f, x) => {
                let name = Ident::new(f.name(), Span::call_site());
                let x = self.expr(x).place;
                Operand::temp(quote!(::matgrad::__private::#name(#x)))
            }
            AExpr::Powi(x, n) => {
                let x = self.expr(x).place;
                Operand::temp(quote!(#x.powi(#n)))
            }
            AExpr::Tan(v) => self.tangent_operand(*v),
            AExpr::Trace(a) => {
                let a = self.expr(a).place;
                Operand::temp(quote!(#a.trace()))
            }
            AExpr::Sum(a) => {
                let a = self.expr(a).place;
                Operand::temp(quote!(#a.sum()))
            }
            AExpr::Entry(a, i, j) => {
                let a = self.expr(a).place;
                Operand::temp(quote!(#a[(#i, #j)]))
            }
            AExpr::Block(a, i, j, shape) => {
                let a = self.expr(a).place;
                let sizes = block_sizes(*shape);
                Operand::temp(quote!(#a.fixed_view::<#sizes>(#i, #j).into_owned()))
            }
            AExpr::Kronecker(a, b) => self.method2(a, b, "kronecker"),
            AExpr::Cross(a, b) => self.method2(a, b, "cross"),
            AExpr::DiagonalOf(a) => {
                let a = self.expr(a).place;
                Operand::temp(quote!(#a.diagonal()))
            }
            AExpr::TriSolve { l, rhs, transpose } => {
                let (l, rhs) = (self.operand(*l).borrow, self.expr(rhs).borrow);
                Operand::temp(tri_solve(&l, &rhs, *transpose))
            }
            AExpr::Phi(a) => {
                let (a, half) = (self.expr(a).place, self.lit(0.5));
                Operand::temp(quote!({
                    let mut __mg_m = #a.lower_triangle();
                    let __mg_d = __mg_m.diagonal() * #half;
                    __mg_m.set_diagonal(&__mg_d);
                    __mg_m
                }))
            }
            AExpr::SymFromLower(a) => {
                let a = self.expr(a).place;
                Operand::temp(quote!({
                    let mut __mg_m = #a.clone_owned();
                    __mg_m.fill_upper_triangle_with_lower_triangle();
                    __mg_m
                }))
            }
            AExpr::SymLower(a) => {
                if let Some((l, g)) = murray(a) {
                    // The whole pullback of a Cholesky factorisation, as its steps run backwards.
                    let (l, g) = (self.operand(l).borrow, self.expr(g).place);
                    return Operand::temp(quote!(::matgrad::__private::cholesky_adjoint(#l, #g)));
                }
                let a = self.expr(a).place;
                Operand::temp(quote!({
                    let __mg_a = #a;
                    let mut __mg_m = __mg_a.lower_triangle() + __mg_a.transpose().lower_triangle();
                    __mg_m.set_diagonal(&__mg_a.diagonal());
                    __mg_m
                }))
            }
            AExpr::EntryAt(a, at) => {
                let (a, at) = (self.expr(a).place, at.tokens());
                Operand::temp(quote!(#a[#at]))
            }
            AExpr::OneHotAt(s, shape, at) => {
                let path = self.matrix_path(*shape);
                let (s, at) = (self.expr(s).place, at.tokens());
                Operand::temp(quote!({
                    let mut __mg_m = #path::zeros();
                    __mg_m[#at] = #s;
                    __mg_m
                }))
            }
            AExpr::ExtremumAdjoint { node, scale } => {
                let path = self.matrix_path(self.prog.shape(self.prog.nodes[*node].args[0]));
                let (k, value) = self.extremum_entry(*node, scale);
                Operand::temp(quote!({
                    #k
                    let mut __mg_m = #path::zeros();
                    __mg_m[__mg_k] = #value;
                    __mg_m
                }))
            }
            AExpr::ExtremumTangent { node, tangent } => {
                let t = self.expr(tangent).place;
                let (k, sign) = self.extremum_sign(*node);
                Operand::temp(quote!({ #k #t[__mg_k] #sign }))
            }
            AExpr::FromDiagonal(v, shape) => {
                let path = self.matrix_path(*shape);
                let v = self.expr(v).borrow;
                Operand::temp(quote!({
                    let mut __mg_m = #path::zeros();
                    __mg_m.set_diagonal(#v);
                    __mg_m
                }))
            }
            AExpr::Item(a, k, shape) => {
                let a = self.expr(a).place;
                let k = syn::Index::from(*k);
                if shape.is_matrix() {
                    Operand {
                        place: quote!(#a.#k),
                        borrow: quote!(&#a.#k),
                        temp: false,
                    }
                } else {
                    Operand::scalar(quote!(#a.#k))
                }
            }
            AExpr::SolveForward { solve, rhs } => {
                let shapes = [
                    self.prog.shape(self.prog.nodes[*solve].args[0]),
                    simplify::shape(self.prog, &self.plan.adj, rhs),
                ];
                let sizes = self.helper_sizes(&shapes, true);
                let lu = self.ident("lu", *solve);
                let rhs = self.expr(rhs).borrow;
                Operand::temp(quote!(::matgrad::__private::lu_solve #sizes (&#lu, #rhs)))
            }
            AExpr::PowerTangent {
                base,
                tangent,
                exponent,
            } => {
                let sizes = self.helper_sizes(&[self.prog.shape(*base)], false);
                let (a, d) = (self.operand(*base).borrow, self.expr(tangent).borrow);
                Operand::temp(
                    quote!(::matgrad::__private::power_tangent #sizes (#a, #d, #exponent)),
                )
            }
            AExpr::Partial { node, input } => {
                Operand::local(&self.partial_ident(*node, *input), self.prog.shape(*node))
            }
            AExpr::BranchTangent { node } => Operand::temp(self.branch_tangent(*node)),
            AExpr::CallTangent { node } => Operand::temp(self.call_tangent(*node)),
            AExpr::Step(a, b) => {
                let (a, b) = (self.expr(a).place, self.expr(b).place);
                let (one, zero) = (self.lit(1.0), self.lit(0.0));
                Operand::temp(quote!(if #a >= #b { #one } else { #zero }))
            }
            AExpr::AtZero(t, a, b) => {
                let (t, a, b) = (self.expr(t).place, self.expr(a).place, self.expr(b).place);
                let zero = self.lit(0.0);
                Operand::temp(quote!(if #t == #zero { #a } else { #b }))
            }
            AExpr::DivOrZero(a, b) => {
                let (a, b) = (self.expr(a).place, self.expr(b).place);
                let zero = self.lit(0.0);
                Operand::temp(quote!({
                    let __mg_d = #b;
                    if __mg_d == #zero { #zero } else { #a / __mg_d }
                }))
            }
            AExpr::Powf(x, p) => {
                let (x, p) = (self.expr(x).place, self.expr(p).place);
                Operand::temp(quote!(#x.powf(#p)))
            }
            AExpr::MapAdj { node, input } => Operand::temp(self.map_adjoint(*node, *input)),
            AExpr::MapAdjTan {
                node,
                input,
                zbar,
                dzbar,
            } => Operand::temp(self.map_adjoint_tangent(*node, *input, zbar, dzbar.as_deref())),
            AExpr::BranchAdjTan {
                node,
                captures,
                zbars,
                dzbars,
            } => Operand::temp(self.branch_adjoint_tangent(*node, captures, zbars, dzbars)),
            AExpr::CallAdjTan { node, seed, dseed } => {
                Operand::temp(self.call_adjoint_tangent(*node, seed, dseed.as_deref()))
            }
            AExpr::Window { node, window } => {
                let w = self.window_ident(*node, *window);
                Operand {
                    place: quote!(#w),
                    borrow: quote!(&#w),
                    temp: false,
                }
            }
            AExpr::Seed(j) => match self.seeds.get(*j) {
                // A name or literal needs no parentheses.
                Some(seed) if seed.clone().into_iter().count() == 1 => Operand {
                    place: seed.clone(),
                    borrow: quote!(&#seed),
                    temp: false,
                },
                Some(seed) => Operand::temp(seed.clone()),
                None => Operand::temp(quote!(::core::compile_error!(
                    "invariant: a seed for every result"
                ))),
            },
            AExpr::CallAdjoint { node } => {
                let Op::Call(site) = &self.prog.nodes[*node].op else {
                    return Operand::temp(quote!(::core::compile_error!(
                        "invariant: a call adjoint of a call"
                    )));
                };
                let vjp = &site.vjp;
                let args = self.call_args(*node, site);
                let seed = self.adjoint_operand(*node).place;
                Operand::temp(quote!(#vjp(#(#args,)* #seed).1))
            }
            AExpr::BranchAdjoint { node, captures } => {
                Operand::temp(self.branch_adjoint(*node, captures))
            }
            AExpr::Field { tuple, index, .. } => {
                let t = self.ident("t", *tuple);
                let index = syn::Index::from(*index);
                Operand {
                    place: quote!(#t.#index),
                    borrow: quote!(&#t.#index),
                    temp: false,
                }
            }
            AExpr::AdjTan(v) => self
                .hot_dense(true, *v)
                .unwrap_or_else(|| Operand::local(&self.ident("dg", *v), self.prog.shape(*v))),
            AExpr::Shared(k) | AExpr::SharedTan(k) => {
                let kind = if matches!(e, AExpr::Shared(_)) {
                    "t"
                } else {
                    "dt"
                };
                let t = self.ident(kind, *k);
                if self.sweep.is_some() && matches!(e, AExpr::Shared(k) if *k >= hessian::HOISTED) {
                    return Operand::scalar(quote!(#t));
                }
                Operand {
                    place: quote!(#t),
                    borrow: quote!(&#t),
                    temp: false,
                }
            }
            AExpr::DeterminantGradient { matrix, det } => {
                let sizes = self.helper_sizes(&[self.prog.shape(*matrix)], false);
                let (a, det) = (self.operand(*matrix).borrow, self.operand(*det).place);
                Operand::temp(quote!(::matgrad::__private::determinant_gradient #sizes (#a, #det)))
            }
            AExpr::SolveTransposed { solve, rhs } => {
                let shapes = [
                    self.prog.shape(self.prog.nodes[*solve].args[0]),
                    simplify::shape(self.prog, &self.plan.adj, rhs),
                ];
                let sizes = self.helper_sizes(&shapes, true);
                let lu = self.ident("lu", *solve);
                let rhs = self.expr(rhs).borrow;
                Operand::temp(quote!(::matgrad::__private::lu_solve_transposed #sizes (&#lu, #rhs)))
            }
            AExpr::KroneckerAdjoint { node, left } => {
                Operand::temp(self.kronecker_adjoint(*node, *left))
            }
            AExpr::KroneckerAdjointOf {
                node,
                left,
                zbar,
                factor,
            } => {
                let (g, other) = (self.expr(zbar).borrow, self.expr(factor).borrow);
                Operand::temp(self.kronecker_adjoint_of(*node, *left, &g, &other))
            }
            AExpr::PowerAdjointTangent {
                base,
                moving,
                adjoint,
                dadjoint,
                exponent,
            } => {
                let shape = self.prog.shape(*base);
                let sizes = self.helper_sizes(&[shape], false);
                let a = self.operand(*base).borrow;
                let da = if *moving {
                    self.tangent_operand(*base).borrow
                } else {
                    let zeros = self.zeros(shape);
                    quote!(&#zeros)
                };
                let g = self.expr(adjoint).borrow;
                let dg = match dadjoint {
                    Some(d) => self.expr(d).borrow,
                    None => {
                        let zeros = self.zeros(shape);
                        quote!(&#zeros)
                    }
                };
                Operand::temp(quote!(
                    ::matgrad::__private::power_adjoint_tangent #sizes (#a, #da, #g, #dg, #exponent)
                ))
            }
            AExpr::PowerAdjoint {
                base,
                adjoint,
                exponent,
            } => {
                let sizes = self.helper_sizes(&[self.prog.shape(*base)], false);
                let (a, g) = (self.operand(*base).borrow, self.expr(adjoint).borrow);
                Operand::temp(
                    quote!(::matgrad::__private::power_adjoint #sizes (#a, #g, #exponent)),
                )
            }
        }
    }

    #[allow(
        clippy::needless_pass_by_value,
        reason = "called with a freshly quoted operator"
    )]
    fn binary(&self, a: &AExpr, b: &AExpr, op: TokenStream) -> Operand {
        let (a, b) = (self.expr(a), self.expr(b));
        let (a, b) = (a.arith(), b.arith());
        Operand::temp(quote!(#a #op #b))
    }

    fn method2(&self, a: &AExpr, b: &AExpr, name: &str) -> Operand {
        let name = Ident::new(name, Span::call_site());
        let (a, b) = (self.expr(a).place, self.expr(b).borrow);
        Operand::temp(quote!(#a.#name(#b)))
    }

    /// The turbofish of a runtime helper generic over `<T, N>` (`columns`: `<T, N, K>`), from the
    /// square matrix's shape and the right-hand side's, when sizes must be spelled out.
    fn helper_sizes(&self, shapes: &[Shape], columns: bool) -> TokenStream {
        let float = self.float;
        match shapes {
            [Shape::Matrix(n, _), rest @ ..] if self.explicit_sizes => {
                let n = n.tokens();
                match rest {
                    [Shape::Matrix(_, k)] if columns => {
                        let k = k.tokens();
                        quote!(::<#float, #n, #k>)
                    }
                    _ => quote!(::<#float, #n>),
                }
            }
            _ => TokenStream::new(),
        }
    }

    /// The right-hand side's sizes for `tr_mul` and `solve` when one is a const generic
    /// parameter (under a `DimMin` bound without `std`, rustc cannot infer them), or when the
    /// function is generic at all (see `explicit_sizes`).
    fn rhs_sizes(&self, shape: Shape) -> TokenStream {
        match shape {
            Shape::Matrix(r, c)
                if self.explicit_sizes || r.value().is_none() || c.value().is_none() =>
            {
                let (r, c) = (r.tokens(), c.tokens());
                quote!(::<::matgrad::__private::nalgebra::Const<#r>, ::matgrad::__private::nalgebra::Const<#c>, _>)
            }
            Shape::Matrix(..) | Shape::Scalar | Shape::Bool | Shape::Tuple | Shape::Poison => {
                TokenStream::new()
            }
        }
    }

    /// `Aᵀ·B` as `A.tr_mul(&B)`, which reads A by columns instead of building its transpose.
    fn matmul(&self, a: &AExpr, b: &AExpr) -> Operand {
        if let Some(product) = self.unit_product(a, b) {
            return product;
        }
        let column = |x: &AExpr| simplify::is_column(self.prog, &self.plan.adj, x);
        if let AExpr::Transpose(v) = b
            && column(a)
            && column(v)
        {
            let (u, v) = (self.expr(a).borrow, self.expr(v).borrow);
            return Operand::temp(quote!(::matgrad::__private::outer(#u, #v)));
        }
        if let AExpr::Transpose(at) = a {
            let sizes = self.rhs_sizes(simplify::shape(self.prog, &self.plan.adj, b));
            let (at, b) = (self.expr(at).place, self.expr(b).borrow);
            return Operand::temp(quote!(#at.tr_mul #sizes (#b)));
        }
        let (a, b) = (self.expr(a), self.expr(b));
        let (a, b) = (a.arith(), b.arith());
        Operand::temp(quote!(#a * #b))
    }
}

impl Emitter<'_> {
    /// `let __mg_k = …;`, the index of the entry the `Extremum` node `node` took, and `* sign`
    /// of that entry for a magnitude (else nothing).
    fn extremum_sign(&self, node: ValueId) -> (TokenStream, TokenStream) {
        let n = &self.prog.nodes[node];
        let Op::Extremum(e) = n.op else {
            let error = quote!(::core::compile_error!("invariant: an extremum"));
            return (error.clone(), error);
        };
        let a = self.operand(n.args[0]).borrow;
        let kind = e.kind();
        let k = quote!(
            let __mg_a = #a;
            let __mg_k = ::matgrad::__private::extremum_index(__mg_a, #kind);
        );
        let sign = e.magnitude().then(|| quote!(*__mg_a[__mg_k].signum()));
        (k, sign.unwrap_or_default())
    }

    /// The index statements of [`Self::extremum_sign`] and `scale` times the sign.
    fn extremum_entry(&self, node: ValueId, scale: &AExpr) -> (TokenStream, TokenStream) {
        let (k, sign) = self.extremum_sign(node);
        let s = self.expr(scale).place;
        (k, quote!((#s) #sign))
    }

    /// The value of a `View` (the block copied out) or a `SetView` (a copy of the matrix with
    /// the block written) whose block's top-left entry is `at`.
    fn view_value(&self, node: &crate::ir::Node, (row, col): (usize, usize)) -> TokenStream {
        let span = node.loc.start;
        if matches!(node.op, Op::View { .. }) {
            let a = self.operand(node.args[0]).place;
            let sizes = block_sizes(node.shape);
            return quote_spanned!(span=> #a.fixed_view::<#sizes>(#row, #col).into_owned());
        }
        let (a, b) = (self.owned(node.args[0]), self.operand(node.args[1]).borrow);
        let sizes = block_sizes(self.prog.shape(node.args[1]));
        quote_spanned!(span=> {
            let mut __mg_set = #a;
            __mg_set.fixed_view_mut::<#sizes>(#row, #col).copy_from(#b);
            __mg_set
        })
    }
}

/// `Some((i, j, shape))` when `b` is the block of `a` of that shape at (i, j), embedded where
/// it was: then a − b is a with the block zeroed.
fn zeroed_block(a: &AExpr, b: &AExpr) -> Option<(usize, usize, Shape)> {
    let AExpr::Embed(inner, _, i, j) = b else {
        return None;
    };
    let AExpr::Block(x, p, q, shape) = &**inner else {
        return None;
    };
    ((p, q) == (i, j) && x.to_string() == a.to_string()).then_some((*i, *j, *shape))
}

/// The factor L and the adjoint Ḡ of `L⁻ᵀ·(L⁻ᵀ·Φ(Lᵀ·Ḡ)ᵀ)ᵀ`, the pullback of a Cholesky
/// factorisation before its fold onto the lower triangle (see `rules`), when `e` is that.
fn murray(e: &AExpr) -> Option<(ValueId, &AExpr)> {
    let AExpr::TriSolve {
        l,
        rhs,
        transpose: true,
    } = e
    else {
        return None;
    };
    let AExpr::Transpose(inner) = &**rhs else {
        return None;
    };
    let AExpr::TriSolve {
        l: l2,
        rhs,
        transpose: true,
    } = &**inner
    else {
        return None;
    };
    let AExpr::Transpose(phi) = &**rhs else {
        return None;
    };
    let AExpr::Phi(product) = &**phi else {
        return None;
    };
    let AExpr::MatMul(lt, g) = &**product else {
        return None;
    };
    let AExpr::Transpose(factor) = &**lt else {
        return None;
    };
    (matches!(**factor, AExpr::Val(v) if v == *l) && l2 == l).then_some((*l, &**g))
}

/// L⁻¹·B (L⁻ᵀ·B when `transpose`) for a Cholesky factor L, whose positive diagonal makes the
/// triangular solve succeed.
fn tri_solve(l: &TokenStream, b: &TokenStream, transpose: bool) -> TokenStream {
    // nalgebra's substitutions, bit for bit, without its generic views (a third of the time of
    // a 6×6 Gaussian NLL's gradient went to them).
    if transpose {
        quote!(::matgrad::__private::tr_solve_lower(#l, #b).expect("a Cholesky factor is invertible"))
    } else {
        quote!(::matgrad::__private::solve_lower(#l, #b).expect("a Cholesky factor is invertible"))
    }
}

/// `R, C` of a block of shape R×C, as `fixed_view::<R, C>` takes them.
fn block_sizes(shape: Shape) -> TokenStream {
    match shape {
        Shape::Matrix(r, c) => {
            let (r, c) = (r.tokens(), c.tokens());
            quote!(#r, #c)
        }
        Shape::Scalar | Shape::Bool | Shape::Tuple | Shape::Poison => {
            quote!(::core::compile_error!("invariant: a block is a matrix"))
        }
    }
}

/// Whether value `v` depends on a parameter of the program (is not a constant).
fn varies(prog: &Program, v: ValueId) -> bool {
    let mut depends = vec![false; v + 1];
    for (id, node) in prog.nodes.iter().enumerate().take(v + 1) {
        depends[id] = matches!(node.op, Op::Param(_)) || node.args.iter().any(|&a| depends[a]);
    }
    depends[v]
}

fn method_name(op: &Op) -> &'static str {
    match op {
        Op::Transpose => "transpose",
        Op::Trace => "trace",
        Op::Sum => "sum",
        Op::Mean => "mean",
        Op::Norm => "norm",
        Op::NormSquared => "norm_squared",
        Op::Dot => "dot",
        Op::ComponentMul => "component_mul",
        Op::ComponentDiv => "component_div",
        Op::Param(..)
        | Op::Const(..)
        | Op::Add
        | Op::Accumulate(_)
        | Op::Sub
        | Op::Mul
        | Op::Div
        | Op::Neg
        | Op::Map(..)
        | Op::Unary(..)
        | Op::Powi(..)
        | Op::Powf
        | Op::Max
        | Op::Min
        | Op::Index(..)
        | Op::SetEntry(..)
        | Op::View { .. }
        | Op::SetView { .. }
        | Op::DiagonalOf
        | Op::Cholesky(_)
        | Op::TriSolve { .. }
        | Op::DiagonalProduct
        | Op::IdentityOf
        | Op::IndexAt(_)
        | Op::Field(..)
        | Op::Extremum(_)
        | Op::Cross
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
        | Op::Call(..) => "unknown",
    }
}
