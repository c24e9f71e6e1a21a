//! The rendering of adjoint expressions in the notation: one arm per expression kind, the
//! adjoints of `map`, Kronecker, `if` and call nodes written as the rules that produce them,
//! and det(A)·A⁻ᵀ divided by det(A) written as A⁻ᵀ (the gradient of ln det A).
//!
//! Used by both the closed forms and the adjoint-program listing.

use proc_macro2::TokenStream;

use crate::adjoint::AExpr;
use crate::fuse::Window;
use crate::ir::{Op, ValueId};

use super::Deriver;
use super::algebra::lit;
use super::constants::exponent;
use super::notation::{
    ATOM, ENTRYWISE, Exponent, Math, PRODUCT, SUM, UNARY, call, difference, entrywise, factors,
    infix, inverse, negate, number, power, superscript, transpose,
};

impl Deriver<'_> {
    /// The adjoint of node `node` as a `map` or Kronecker adjoint reads it.
    fn node_adjoint(&self, node: ValueId) -> Math {
        if !self.listing
            && let Some(e) = self.closed(node)
        {
            return self.render(&e);
        }
        Math::atom(format!("ḡ{node}"))
    }

    /// `argmax(A)` (or `argmin`, `argamax`, `argamin`) of the `Extremum` node `node`.
    fn taken(&self, node: ValueId) -> String {
        let op = &self.prog.nodes[node];
        let name = match op.op {
            Op::Extremum(e) => e.method(),
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
            | Op::Call(..) => "extremum",
        };
        format!("arg{name}({})", self.value(op.args[0]).text)
    }

    #[allow(
        clippy::too_many_lines,
        reason = "one arm per kind of expression, each a line or two of notation"
    )]
    pub(super) fn render(&self, e: &AExpr) -> Math {
        let r = |x: &AExpr| self.render(x);
        match e {
            AExpr::Adj(v) => Math::atom(format!("ḡ{v}")),
            AExpr::Val(v) => self.value(*v),
            AExpr::Lit(s) => number(s),
            AExpr::Cast(t) => exponent(t).math(),
            AExpr::Neg(a) => negate(&r(a)),
            AExpr::Add(a, b) => infix(&r(a), " + ", &r(b), SUM),
            AExpr::Sub(a, b) => difference(&r(a), &r(b)),
            AExpr::Mul(a, b) | AExpr::MatMul(a, b) => infix(&r(a), "·", &r(b), PRODUCT),
            AExpr::Scale(a, s) => self.scaled(a, s),
            // A division by a norm reads as one; its value 0 at the kink is in the docs.
            AExpr::Div(a, b) | AExpr::DivBy(a, b) | AExpr::DivOrZero(a, b) => {
                Math::new(format!("{}/{}", r(a).at(PRODUCT), r(b).at(ATOM)), PRODUCT)
            }
            AExpr::Transpose(a) => transpose(&r(a)),
            AExpr::Dot(a, b) => Math::atom(format!("⟨{}, {}⟩", r(a).text, r(b).text)),
            AExpr::ComponentMul(a, b) => entrywise(&r(a), " ∘ ", &r(b)),
            AExpr::ComponentDiv(a, b) => entrywise(&r(a), " ⊘ ", &r(b)),
            AExpr::Diag(s, _) => self.constant_matrix(s, "I"),
            AExpr::Fill(s, _) => self.constant_matrix(s, "𝟙"),
            AExpr::OneHot(s, _, i, j) => self.constant_matrix(s, &format!("e₍{i},{j}₎")),
            AExpr::Method(m, a) => call(m, &r(a)),
            AExpr::Helper(f, a) => call(f.name(), &r(a)),
            AExpr::Powi(a, n) => power(&r(a), &exponent(n)),
            AExpr::Powf(a, p) => power(&r(a), &Exponent::Text(r(p))),
            // The textbook form, valid everywhere; the other only saves work away from zero.
            AExpr::AtZero(_, everywhere, _) => r(everywhere),
            AExpr::Step(a, b) => Math::atom(format!("[{} ≥ {}]", r(a).text, r(b).text)),
            // Tangent expressions appear in forward-mode programs, not in gradients' derivations;
            // they render plainly for completeness.
            AExpr::Tan(v) => Math::new(format!("d{}", self.value(*v).at(ATOM)), ATOM),
            AExpr::Trace(a) => call("tr", &r(a)),
            AExpr::Sum(a) => call("Σ", &r(a)),
            AExpr::Entry(a, i, j) => Math::new(format!("{}[({i}, {j})]", r(a).at(ATOM)), ATOM),
            AExpr::DiagonalOf(a) => call("diag", &r(a)),
            AExpr::TriSolve { l, rhs, transpose } => {
                let factor = self.value(*l);
                let inverse = if *transpose { "⁻ᵀ" } else { "⁻¹" };
                infix(
                    &Math::atom(format!("{}{inverse}", factor.at(ATOM))),
                    "·",
                    &r(rhs),
                    PRODUCT,
                )
            }
            AExpr::Phi(a) => call("Φ", &r(a)),
            AExpr::SymFromLower(a) => call("sym", &r(a)),
            AExpr::SymLower(a) => call("symᵀ", &r(a)),
            AExpr::EntryAt(a, at) => Math::new(format!("{}{at}", r(a).at(ATOM)), ATOM),
            AExpr::OneHotAt(s, _, at) => {
                let unit = format!("onehot({})", crate::text::tokens(&at.tokens()));
                infix(&r(s), "·", &Math::atom(unit), PRODUCT)
            }
            AExpr::ExtremumAdjoint { node, scale } => {
                let at = format!("onehot({})", self.taken(*node));
                infix(&r(scale), "·", &Math::atom(at), PRODUCT)
            }
            AExpr::ExtremumTangent { node, tangent } => Math::new(
                format!("{}[{}]", r(tangent).at(ATOM), self.taken(*node)),
                ATOM,
            ),
            AExpr::FromDiagonal(v, _) => call("Diag", &r(v)),
            AExpr::Cross(a, b) => infix(&r(a), " × ", &r(b), PRODUCT),
            // The r×c block of A at (i, j); B placed at (i, j) in a zero matrix of a shape.
            AExpr::Block(a, i, j, shape) => {
                Math::atom(format!("block({}; ({i}, {j}); {shape})", r(a).text))
            }
            AExpr::Embed(b, shape, i, j) => {
                Math::atom(format!("embed({}; ({i}, {j}); {shape})", r(b).text))
            }
            AExpr::Kronecker(a, b) => entrywise(&r(a), " ⊗ ", &r(b)),
            AExpr::Item(a, k, _) => Math::new(format!("{}.{k}", r(a).at(ATOM)), ATOM),
            AExpr::SolveForward { solve, rhs } => self.solve_forward(*solve, rhs),
            AExpr::PowerTangent {
                base,
                tangent,
                exponent,
            } => self.power_tangent(*base, tangent, exponent),
            AExpr::Partial { node, input } => Math::new(
                format!("∂{}/∂input {input}", self.prog.nodes[*node].text),
                ATOM,
            ),
            AExpr::BranchTangent { node } | AExpr::CallTangent { node } => Math::new(
                format!("the tangent of {}", self.prog.nodes[*node].text),
                ATOM,
            ),
            AExpr::MapAdj { node, input } => self.map_adjoint(*node, *input),
            // Second-order programs have no derivation text; this renders plainly.
            AExpr::MapAdjTan { node, input, .. } => Math::new(
                format!("d(∂{}/∂input {input})", self.prog.nodes[*node].text),
                ATOM,
            ),
            AExpr::Shared(k) => Math::atom(format!("t{k}")),
            AExpr::AdjTan(v) => Math::atom(format!("dḡ{v}")),
            AExpr::SharedTan(k) => Math::atom(format!("dt{k}")),
            AExpr::Seed(_) => Math::atom("1"),
            AExpr::BranchAdjoint { node, .. } => self.branch_adjoint(*node),
            AExpr::KroneckerAdjointOf { node, .. } => Math::new(
                format!(
                    "the adjoint map of {} at a tangent",
                    self.prog.nodes[*node].text
                ),
                ATOM,
            ),
            AExpr::PowerAdjointTangent { base, .. } => Math::new(
                format!(
                    "the tangent of the adjoint of {}",
                    self.prog.nodes[*base].text
                ),
                ATOM,
            ),
            AExpr::CallAdjTan { node, .. } | AExpr::BranchAdjTan { node, .. } => Math::new(
                format!(
                    "the tangent of the adjoint of {}",
                    self.prog.nodes[*node].text
                ),
                ATOM,
            ),
            AExpr::Field { tuple, index, .. } => Math::atom(format!("t{tuple}.{index}")),
            AExpr::CallAdjoint { node } => self.call_adjoint(*node),
            AExpr::Window { node, window } => self.window(*node, window),
            AExpr::DeterminantGradient { matrix, det } => self.determinant_gradient(*matrix, *det),
            AExpr::SolveTransposed { solve, rhs } => self.solve_transposed(*solve, rhs),
            AExpr::KroneckerAdjoint { node, left } => self.kronecker_adjoint(*node, *left),
            AExpr::PowerAdjoint {
                base,
                adjoint,
                exponent: k,
            } => self.power_adjoint(*base, adjoint, k),
        }
    }

    /// s·I, s·𝟙 or s·e₍ᵢⱼ₎ (the matrix `name` scaled by `s`), the 1 of a literal 1 unwritten.
    fn constant_matrix(&self, s: &AExpr, name: &str) -> Math {
        if lit(s) == Some(1.0) {
            return Math::atom(name);
        }
        Math::new(format!("{}·{name}", self.render(s).at(PRODUCT)), PRODUCT)
    }

    /// A⁻¹·x, the tangent through a solve.
    fn solve_forward(&self, solve: ValueId, rhs: &AExpr) -> Math {
        let a = self.value(self.prog.nodes[solve].args[0]);
        Math::new(
            format!("{}⁻¹·{}", a.at(ATOM), self.render(rhs).at(PRODUCT)),
            PRODUCT,
        )
    }

    /// The tangent of a matrix power: Σ_(r<k) Aʳ·dA·A^(k−1−r).
    fn power_tangent(&self, base: ValueId, tangent: &AExpr, exponent: &TokenStream) -> Math {
        let a = self.value(base).at(ATOM);
        let k = crate::text::tokens(exponent);
        Math::new(
            format!(
                "Σ_(r<{k}) {a}ʳ·{}·{a}^({k}−1−r)",
                self.render(tangent).at(PRODUCT)
            ),
            SUM,
        )
    }

    /// The gradients through a call of f, `∂f(…; ḡn)`.
    fn call_adjoint(&self, node: ValueId) -> Math {
        let call = self.values.definition(node).text;
        let open = call.strip_suffix(')').unwrap_or(&call);
        Math::atom(format!("∂{open}; ḡ{node})"))
    }

    /// The factors `window` of the trace chain `node`, as a product.
    fn window(&self, node: ValueId, window: &Window) -> Math {
        let n = &self.prog.nodes[node];
        let Op::TraceChain(t) = &n.op else {
            return Math::atom(n.text.clone());
        };
        let product = factors(&n.args, t, window.start, window.len, |a| self.value(a));
        Math::new(product, PRODUCT)
    }

    /// det·A⁻ᵀ, or A⁻ᵀ where the enclosing scaling divides it by det (`scaled`).
    fn determinant_gradient(&self, matrix: ValueId, det: ValueId) -> Math {
        if self.cancelled.get() == Some(det) {
            return transpose(&inverse(&self.value(matrix)));
        }
        Math::new(
            format!(
                "{}·{}",
                self.value(det).at(PRODUCT),
                transpose(&inverse(&self.value(matrix))).text
            ),
            PRODUCT,
        )
    }

    /// A⁻ᵀ·G, the adjoint of the right-hand side of a solve.
    fn solve_transposed(&self, solve: ValueId, rhs: &AExpr) -> Math {
        let a = self.value(self.prog.nodes[solve].args[0]);
        Math::new(
            format!(
                "{}·{}",
                transpose(&inverse(&a)).text,
                self.render(rhs).at(PRODUCT)
            ),
            PRODUCT,
        )
    }

    /// The adjoint of the left (`[⟨Ḡᵢⱼ, B⟩]ᵢⱼ`) or right (`Σᵢⱼ Aᵢⱼ·Ḡᵢⱼ`) factor of A ⊗ B.
    fn kronecker_adjoint(&self, node: ValueId, left: bool) -> Math {
        let g = self.node_adjoint(node).at(ATOM);
        let args = &self.prog.nodes[node].args;
        if left {
            let b = self.value(args[1]).text;
            Math::atom(format!("[⟨{g}₍ᵢⱼ₎, {b}⟩]ᵢⱼ"))
        } else {
            let a = self.value(args[0]).at(ATOM);
            Math::new(format!("Σᵢⱼ {a}ᵢⱼ·{g}₍ᵢⱼ₎"), SUM)
        }
    }

    /// The adjoint of a matrix power: Σ_(r<k) (Aʳ)ᵀ·Ḡ·(A^(k−1−r))ᵀ.
    fn power_adjoint(&self, base: ValueId, adjoint: &AExpr, k: &TokenStream) -> Math {
        let a = self.value(base).at(ATOM);
        let rest = match exponent(k) {
            Exponent::Literal(k) => format!("{a}{}⁻ʳ", superscript(k - 1)),
            Exponent::Text(k) => format!("{a}^({}−1−r)", k.text),
        };
        // An identity between the factors (the adjoint of a trace) multiplies nothing.
        let g = match adjoint {
            AExpr::Diag(s, _) if lit(s) == Some(1.0) => String::new(),
            g => format!("{}·", self.render(g).at(PRODUCT)),
        };
        Math::new(
            format!("Σ_(r<{}) ({a}ʳ)ᵀ·{g}({rest})ᵀ", exponent(k).math().text),
            SUM,
        )
    }

    /// `s·A`, and `x·A/b` for s = x/b. A product with det(A)·A⁻ᵀ as a factor scaled by
    /// x/det(A) is the product with A⁻ᵀ scaled by x (the derivative of ln det A).
    fn scaled(&self, m: &AExpr, s: &AExpr) -> Math {
        if let AExpr::Div(x, d) = s
            && let AExpr::Val(det) = **d
            && determinant_factor(m, det)
        {
            self.cancelled.set(Some(det));
            let product = self.render(m);
            self.cancelled.set(None);
            return match lit(x) {
                Some(1.0) => product,
                _ => infix(&self.render(x), "·", &product, PRODUCT),
            };
        }
        if let AExpr::Div(x, d) | AExpr::DivOrZero(x, d) = s {
            let numerator = match lit(x) {
                Some(1.0) => self.render(m),
                _ => infix(&self.render(x), "·", &self.render(m), PRODUCT),
            };
            let b = self.render(d).at(ATOM);
            return Math::new(format!("{}/{b}", numerator.at(PRODUCT)), PRODUCT);
        }
        infix(&self.render(s), "·", &self.render(m), PRODUCT)
    }

    /// Z̄ ∘ f′(A) for the mapped matrix; Σ Z̄ ∘ ∂f/∂s for a captured scalar.
    fn map_adjoint(&self, node: ValueId, input: usize) -> Math {
        let n = &self.prog.nodes[node];
        let g = self.node_adjoint(node);
        let a = self.value(n.args[0]);
        let f = self.values.closure(node);
        // A seed of ones (the adjoint of a sum) multiplies nothing.
        let weight = if g.text == "𝟙" {
            String::new()
        } else {
            format!("{} ∘ ", g.at(UNARY))
        };
        if input == 0 {
            Math::new(
                format!("{weight}{f}′({})", a.text),
                if weight.is_empty() { ATOM } else { ENTRYWISE },
            )
        } else {
            let s = self.value(n.args[input]).at(ATOM);
            Math::atom(format!("Σ({weight}∂{f}/∂{s})"))
        }
    }

    /// The adjoints of the values an `if` reads, through the branch its condition selects,
    /// seeded with the adjoints of its results.
    fn branch_adjoint(&self, node: ValueId) -> Math {
        let condition = self.value(self.prog.nodes[node].args[0]).text;
        let seeds: Vec<String> = self
            .prog
            .nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| matches!(n.op, Op::Extract(_)) && n.args == [node])
            .map(|(e, _)| {
                if self.adj.nonzero[e] {
                    format!("ḡ{e}")
                } else {
                    "0".to_string()
                }
            })
            .collect();
        Math::atom(format!("∂if({condition}; {})", seeds.join(", ")))
    }
}

/// Whether `m` is a product (of matrices, transposes, signs and scalings) with the gradient of
/// the determinant `det` as one factor, so that dividing `m` by `det` divides that factor.
fn determinant_factor(m: &AExpr, det: ValueId) -> bool {
    match m {
        AExpr::DeterminantGradient { det: d, .. } => *d == det,
        AExpr::Transpose(a) | AExpr::Neg(a) | AExpr::Scale(a, _) => determinant_factor(a, det),
        AExpr::MatMul(a, b) => determinant_factor(a, det) != determinant_factor(b, det),
        AExpr::Adj(_)
        | AExpr::Val(_)
        | AExpr::Lit(_)
        | AExpr::Cast(_)
        | AExpr::Add(..)
        | AExpr::Sub(..)
        | AExpr::Mul(..)
        | AExpr::Div(..)
        | AExpr::DivBy(..)
        | AExpr::Dot(..)
        | AExpr::ComponentMul(..)
        | AExpr::ComponentDiv(..)
        | AExpr::Diag(..)
        | AExpr::Fill(..)
        | AExpr::OneHot(..)
        | AExpr::Embed(..)
        | AExpr::Method(..)
        | AExpr::Helper(..)
        | AExpr::Powi(..)
        | AExpr::Powf(..)
        | AExpr::DivOrZero(..)
        | AExpr::AtZero(..)
        | AExpr::Step(..)
        | AExpr::Tan(_)
        | AExpr::Trace(_)
        | AExpr::Sum(_)
        | AExpr::Entry(..)
        | AExpr::Block(..)
        | AExpr::DiagonalOf(..)
        | AExpr::TriSolve { .. }
        | AExpr::Phi(..)
        | AExpr::SymFromLower(..)
        | AExpr::SymLower(..)
        | AExpr::EntryAt(..)
        | AExpr::OneHotAt(..)
        | AExpr::ExtremumAdjoint { .. }
        | AExpr::ExtremumTangent { .. }
        | AExpr::FromDiagonal(..)
        | AExpr::Cross(..)
        | AExpr::Kronecker(..)
        | AExpr::SolveForward { .. }
        | AExpr::PowerTangent { .. }
        | AExpr::Partial { .. }
        | AExpr::BranchTangent { .. }
        | AExpr::CallTangent { .. }
        | AExpr::Item(..)
        | AExpr::MapAdj { .. }
        | AExpr::MapAdjTan { .. }
        | AExpr::Shared(_)
        | AExpr::AdjTan(_)
        | AExpr::SharedTan(_)
        | AExpr::SolveTransposed { .. }
        | AExpr::KroneckerAdjoint { .. }
        | AExpr::KroneckerAdjointOf { .. }
        | AExpr::Seed(_)
        | AExpr::BranchAdjoint { .. }
        | AExpr::BranchAdjTan { .. }
        | AExpr::CallAdjoint { .. }
        | AExpr::CallAdjTan { .. }
        | AExpr::Field { .. }
        | AExpr::Window { .. }
        | AExpr::PowerAdjoint { .. }
        | AExpr::PowerAdjointTangent { .. } => false,
    }
}
