//! The derivative program: what reverse mode computes, as data.
//!
//! `diff` builds an [`Adjoint`] from a primal [`Program`]: a list of [`Step`]s in execution
//! order, each adding an [`AExpr`] to the adjoint of one value or naming a shared value. `rules`
//! says what each operation contributes; `plan` decides how the steps are computed (what is
//! stored, re-associated, fused or updated in place); `emit` prints the decided program; the
//! test interpreter evaluates it. Every traversal of an [`AExpr`] goes through
//! [`AExpr::children`] and [`AExpr::map_children`], whose matches are exhaustive, so a new kind
//! of expression cannot be silently skipped by any pass.
//!
//! Textual form (what pass tests compare against):
//! ```text
//! g4 += (v4 * (2.0 * g5))
//! g3 += -g4
//! g0 += v1ᵀ · g3
//! ```

use std::fmt;

use proc_macro2::TokenStream;

use crate::ir::{At, Func, Program, Shape, ValueId};

/// An expression of the adjoint program. `Adj(v)` is the adjoint of value `v` (the gradient of
/// the result with respect to it), `Val(v)` the forward value. Operand kinds are explicit
/// (`Scale` is matrix × scalar, `Mul` scalar × scalar) so emission needs no shape lookups.
#[derive(Clone, Debug)]
pub enum AExpr {
    Adj(ValueId),
    Val(ValueId),
    /// A float literal such as `2.0`.
    Lit(String),
    /// An integer expression converted to the float type: `((n) as f64)`.
    Cast(TokenStream),
    Neg(Box<AExpr>),
    /// Scalar arithmetic.
    Add(Box<AExpr>, Box<AExpr>),
    Sub(Box<AExpr>, Box<AExpr>),
    Mul(Box<AExpr>, Box<AExpr>),
    Div(Box<AExpr>, Box<AExpr>),
    /// matrix × scalar.
    Scale(Box<AExpr>, Box<AExpr>),
    /// matrix ÷ scalar.
    DivBy(Box<AExpr>, Box<AExpr>),
    /// matrix · matrix.
    MatMul(Box<AExpr>, Box<AExpr>),
    Transpose(Box<AExpr>),
    /// Frobenius inner product ⟨A, B⟩.
    Dot(Box<AExpr>, Box<AExpr>),
    ComponentMul(Box<AExpr>, Box<AExpr>),
    ComponentDiv(Box<AExpr>, Box<AExpr>),
    /// s·I, n×n.
    Diag(Box<AExpr>, crate::ir::Dim),
    /// s·𝟙 of the given shape.
    Fill(Box<AExpr>, Shape),
    /// A matrix of the given shape, zero but for `s` at `(i, j)`.
    OneHot(Box<AExpr>, Shape, usize, usize),
    /// A float method without arguments: `a.cos()`, `a.signum()`.
    Method(&'static str, Box<AExpr>),
    /// A runtime helper: `sigmoid(a)`.
    Helper(Func, Box<AExpr>),
    Powi(Box<AExpr>, TokenStream),
    Powf(Box<AExpr>, Box<AExpr>),
    /// a/b for scalars, and 0 where b = 0: the scale of a norm's adjoint, ⟨A, dA⟩/‖A‖, whose
    /// subgradient at A = 0 is taken to be 0.
    DivOrZero(Box<AExpr>, Box<AExpr>),
    /// For scalars: `at_zero` where `test` = 0 and `elsewhere` everywhere else, only the one
    /// taken evaluated. `AtZero(test, at_zero, elsewhere)`: the slope of `powf` reuses the
    /// power away from a zero base, where it cannot.
    AtZero(Box<AExpr>, Box<AExpr>, Box<AExpr>),
    /// 1 where a ≥ b and 0 elsewhere, for scalars: which argument a `max` (or, swapped, a
    /// `min`) took, ties going to `a`.
    Step(Box<AExpr>, Box<AExpr>),
    /// The tangent of value `v` (its directional derivative) in a tangent program.
    Tan(ValueId),
    /// tr A.
    Trace(Box<AExpr>),
    /// Σ A, the sum of the entries.
    Sum(Box<AExpr>),
    /// A[(i, j)].
    Entry(Box<AExpr>, usize, usize),
    /// The adjoint of the matrix of the `Extremum` node `node` from its adjoint `scale`: zero
    /// but for `scale` (times the entry's sign for a magnitude) at the entry the value took.
    ExtremumAdjoint {
        node: ValueId,
        scale: Box<AExpr>,
    },
    /// The tangent of the `Extremum` node `node` from its matrix's tangent: that tangent's entry
    /// where the value was taken (times the entry's sign for a magnitude).
    ExtremumTangent {
        node: ValueId,
        tangent: Box<AExpr>,
    },
    /// A's entry at an index known at run time.
    EntryAt(Box<AExpr>, Box<At>),
    /// A matrix of the given shape, zero but for `s` at an index known at run time.
    OneHotAt(Box<AExpr>, Shape, Box<At>),
    /// L⁻¹·R (or L⁻ᵀ·R when `transpose`) for the lower-triangular value `l`.
    TriSolve {
        l: ValueId,
        rhs: Box<AExpr>,
        transpose: bool,
    },
    /// Φ(A): the lower triangle of A with its diagonal halved.
    Phi(Box<AExpr>),
    /// The symmetric matrix whose lower triangle is A's (what a Cholesky factorisation reads).
    SymFromLower(Box<AExpr>),
    /// The adjoint of `SymFromLower`: M's lower triangle plus its upper one transposed below the
    /// diagonal (Mᵢⱼ + Mⱼᵢ for i > j, Mᵢᵢ, zero above).
    SymLower(Box<AExpr>),
    /// The diagonal of A, as a column.
    DiagonalOf(Box<AExpr>),
    /// A matrix of the given shape, zero but for the column v on its diagonal.
    FromDiagonal(Box<AExpr>, Shape),
    /// a × b of 3-vectors.
    Cross(Box<AExpr>, Box<AExpr>),
    /// The block of the given shape of A whose top-left entry is (i, j).
    Block(Box<AExpr>, usize, usize, Shape),
    /// A matrix of the given shape, zero but for the block B at (i, j): `Embed(B, shape, i, j)`.
    Embed(Box<AExpr>, Shape, usize, usize),
    /// A⊗B.
    Kronecker(Box<AExpr>, Box<AExpr>),
    /// A⁻¹·R through the LU factors the forward solve of node `solve` kept.
    SolveForward {
        solve: ValueId,
        rhs: Box<AExpr>,
    },
    /// Σ_{r<k} Aʳ·dA·Aᵏ⁻¹⁻ʳ for `A` = the value `base`.
    PowerTangent {
        base: ValueId,
        tangent: Box<AExpr>,
        exponent: TokenStream,
    },
    /// The partial derivative of the closure of the `map` node with respect to its input
    /// `input` (0: the entry, k: the captured scalar k), entry by entry: a matrix the forward
    /// pass computes together with the map's value.
    Partial {
        node: ValueId,
        input: usize,
    },
    /// The tangents of the results of the `if` node, as a tuple: the taken branch's tangent
    /// program, from the tangents of its captures.
    BranchTangent {
        node: ValueId,
    },
    /// The tangent of a call's result, from the callee's `_jvp`.
    CallTangent {
        node: ValueId,
    },
    /// Entry `index`, of the given shape, of a tuple-valued expression.
    Item(Box<AExpr>, usize, Shape),
    /// The adjoint of argument `input` of the `map` node `node`: the closure's derivative
    /// applied entry by entry (a matrix for the mapped matrix, a sum for a captured scalar).
    MapAdj {
        node: ValueId,
        input: usize,
    },
    /// In a second-order program, the tangent of `MapAdj { node, input }`: the closure's adjoint
    /// program differentiated along the tangents of the map's arguments and of its adjoint Z̄
    /// (`zbar`, whose tangent is `dzbar`, `None` where zero), entry by entry.
    MapAdjTan {
        node: ValueId,
        input: usize,
        zbar: Box<AExpr>,
        dzbar: Option<Box<AExpr>>,
    },
    /// In a second-order program, the tangent of `BranchAdjoint { node, captures }`, a tuple: the
    /// taken branch's adjoint program differentiated along the tangents of the captures and of
    /// the adjoints of the `if`'s results (`zbars`, whose tangents are `dzbars`).
    BranchAdjTan {
        node: ValueId,
        captures: Vec<usize>,
        zbars: Vec<AExpr>,
        dzbars: Vec<Option<AExpr>>,
    },
    /// In a second-order program, the tangent of `CallAdjoint { node }`, a tuple: the callee's
    /// `_vjp_jvp`, seeded with the call's adjoint `seed` and its tangent `dseed` (`None` where
    /// zero), the arguments' tangents given.
    CallAdjTan {
        node: ValueId,
        seed: Box<AExpr>,
        dseed: Option<Box<AExpr>>,
    },
    /// In a second-order program, the tangent of `PowerAdjoint { base, adjoint, exponent }`
    /// along the base's tangent (when `moving`) and the adjoint's (`dadjoint`, `None` where
    /// zero).
    PowerAdjointTangent {
        base: ValueId,
        moving: bool,
        adjoint: Box<AExpr>,
        dadjoint: Option<Box<AExpr>>,
        exponent: TokenStream,
    },
    /// The adjoint map of a factor of the Kronecker product `node` = A⊗B applied to an explicit
    /// Z̄ (`zbar`) and other factor (`factor`: B for Ā when `left`, A for B̄): the bilinear map
    /// whose tangent a second-order program takes in each argument.
    KroneckerAdjointOf {
        node: ValueId,
        left: bool,
        zbar: Box<AExpr>,
        factor: Box<AExpr>,
    },
    /// A value the adjoint program computed once and shares (`let` in the reverse pass).
    Shared(usize),
    /// In a second-order program, the tangent of the adjoint of value `v` (`dg` of `g`).
    AdjTan(ValueId),
    /// In a second-order program, the tangent of the shared value `k`.
    SharedTan(usize),
    /// ∂ det A / ∂A for `A` = the value `matrix` whose determinant is the value `det`:
    /// det·A⁻ᵀ, or the cofactor matrix when A is singular.
    DeterminantGradient {
        matrix: ValueId,
        det: ValueId,
    },
    /// A⁻ᵀ·G through the LU factors the forward solve of node `solve` kept.
    SolveTransposed {
        solve: ValueId,
        rhs: Box<AExpr>,
    },
    /// The adjoint of a factor of the Kronecker product `node` = A⊗B, from the node's adjoint Z̄:
    /// Āᵢⱼ = ⟨Z̄₍ᵢⱼ₎, B⟩ (`left`) or B̄ = Σᵢⱼ Aᵢⱼ·Z̄₍ᵢⱼ₎.
    KroneckerAdjoint {
        node: ValueId,
        left: bool,
    },
    /// The adjoint the caller hands in for result `j` of the program: 1 for a function's value,
    /// the adjoint of what an `if` assigns for a branch.
    Seed(usize),
    /// The adjoints of the captured values `captures` (parameter indices of the branches) of the
    /// `if` node `node`, as a tuple: both branches differentiated, the taken one run.
    BranchAdjoint {
        node: ValueId,
        captures: Vec<usize>,
    },
    /// The gradients of the value arguments of the call `node`, as a tuple, from the callee's
    /// `_vjp` seeded with the call's adjoint.
    CallAdjoint {
        node: ValueId,
    },
    /// Entry `index` of the tuple shared as `tuple`, of the given shape.
    Field {
        tuple: usize,
        index: usize,
        shape: Shape,
    },
    /// A product of consecutive factors of the trace chain `node`, formed in its forward pass.
    Window {
        node: ValueId,
        window: crate::fuse::Window,
    },
    /// Σ_{r<k} (Aʳ)ᵀ·G·(Aᵏ⁻¹⁻ʳ)ᵀ for `A` = the value `base`.
    PowerAdjoint {
        base: ValueId,
        adjoint: Box<AExpr>,
        exponent: TokenStream,
    },
}

impl AExpr {
    /// The sub-expressions of this expression, in order.
    pub fn children(&self) -> Vec<&AExpr> {
        match self {
            AExpr::Neg(a)
            | AExpr::Transpose(a)
            | AExpr::Diag(a, _)
            | AExpr::Fill(a, _)
            | AExpr::OneHot(a, ..)
            | AExpr::Method(_, a)
            | AExpr::Helper(_, a)
            | AExpr::Powi(a, _)
            | AExpr::SolveTransposed { rhs: a, .. }
            | AExpr::PowerAdjoint { adjoint: a, .. }
            | AExpr::Trace(a)
            | AExpr::Sum(a)
            | AExpr::Entry(a, ..)
            | AExpr::Block(a, ..)
            | AExpr::Embed(a, ..)
            | AExpr::DiagonalOf(a)
            | AExpr::TriSolve { rhs: a, .. }
            | AExpr::Phi(a)
            | AExpr::SymFromLower(a)
            | AExpr::SymLower(a)
            | AExpr::FromDiagonal(a, _)
            | AExpr::EntryAt(a, _)
            | AExpr::OneHotAt(a, ..)
            | AExpr::ExtremumAdjoint { scale: a, .. }
            | AExpr::ExtremumTangent { tangent: a, .. }
            | AExpr::SolveForward { rhs: a, .. }
            | AExpr::PowerTangent { tangent: a, .. }
            | AExpr::Item(a, ..) => vec![a],
            AExpr::Add(a, b)
            | AExpr::Sub(a, b)
            | AExpr::Mul(a, b)
            | AExpr::Div(a, b)
            | AExpr::Scale(a, b)
            | AExpr::DivBy(a, b)
            | AExpr::MatMul(a, b)
            | AExpr::Dot(a, b)
            | AExpr::ComponentMul(a, b)
            | AExpr::ComponentDiv(a, b)
            | AExpr::Powf(a, b)
            | AExpr::DivOrZero(a, b)
            | AExpr::Step(a, b)
            | AExpr::Cross(a, b)
            | AExpr::Kronecker(a, b) => vec![a, b],
            AExpr::AtZero(t, a, b) => vec![t, a, b],
            AExpr::MapAdjTan { zbar, dzbar, .. } => {
                let mut out: Vec<&AExpr> = vec![zbar];
                out.extend(dzbar.as_deref());
                out
            }
            AExpr::BranchAdjTan { zbars, dzbars, .. } => {
                zbars.iter().chain(dzbars.iter().flatten()).collect()
            }
            AExpr::CallAdjTan { seed, dseed, .. } => {
                let mut out: Vec<&AExpr> = vec![seed];
                out.extend(dseed.as_deref());
                out
            }
            AExpr::KroneckerAdjointOf { zbar, factor, .. } => vec![zbar, factor],
            AExpr::PowerAdjointTangent {
                adjoint, dadjoint, ..
            } => {
                let mut out: Vec<&AExpr> = vec![adjoint];
                out.extend(dadjoint.as_deref());
                out
            }
            AExpr::Adj(_)
            | AExpr::Val(_)
            | AExpr::Lit(_)
            | AExpr::Cast(_)
            | AExpr::MapAdj { .. }
            | AExpr::Shared(_)
            | AExpr::AdjTan(_)
            | AExpr::SharedTan(_)
            | AExpr::DeterminantGradient { .. }
            | AExpr::KroneckerAdjoint { .. }
            | AExpr::Seed(_)
            | AExpr::BranchAdjoint { .. }
            | AExpr::CallAdjoint { .. }
            | AExpr::Field { .. }
            | AExpr::Window { .. }
            | AExpr::Tan(_)
            | AExpr::Partial { .. }
            | AExpr::BranchTangent { .. }
            | AExpr::CallTangent { .. } => Vec::new(),
        }
    }

    /// The same expression with every direct sub-expression replaced by `f` of it.
    #[must_use]
    #[allow(
        clippy::too_many_lines,
        reason = "one arm per kind of expression, as in `children`"
    )]
    pub fn map_children(&self, f: &mut dyn FnMut(&AExpr) -> AExpr) -> AExpr {
        let mut x = |a: &AExpr| Box::new(f(a));
        match self {
            AExpr::Neg(a) => AExpr::Neg(x(a)),
            AExpr::Transpose(a) => AExpr::Transpose(x(a)),
            AExpr::Diag(a, n) => AExpr::Diag(x(a), *n),
            AExpr::Fill(a, s) => AExpr::Fill(x(a), *s),
            AExpr::OneHot(a, s, i, j) => AExpr::OneHot(x(a), *s, *i, *j),
            AExpr::Method(m, a) => AExpr::Method(m, x(a)),
            AExpr::Helper(h, a) => AExpr::Helper(*h, x(a)),
            AExpr::Powi(a, n) => AExpr::Powi(x(a), n.clone()),
            AExpr::SolveTransposed { solve, rhs } => AExpr::SolveTransposed {
                solve: *solve,
                rhs: x(rhs),
            },
            AExpr::PowerAdjoint {
                base,
                adjoint,
                exponent,
            } => AExpr::PowerAdjoint {
                base: *base,
                adjoint: x(adjoint),
                exponent: exponent.clone(),
            },
            AExpr::Add(a, b) => AExpr::Add(x(a), x(b)),
            AExpr::Sub(a, b) => AExpr::Sub(x(a), x(b)),
            AExpr::Mul(a, b) => AExpr::Mul(x(a), x(b)),
            AExpr::Div(a, b) => AExpr::Div(x(a), x(b)),
            AExpr::Scale(a, b) => AExpr::Scale(x(a), x(b)),
            AExpr::DivBy(a, b) => AExpr::DivBy(x(a), x(b)),
            AExpr::MatMul(a, b) => AExpr::MatMul(x(a), x(b)),
            AExpr::Dot(a, b) => AExpr::Dot(x(a), x(b)),
            AExpr::ComponentMul(a, b) => AExpr::ComponentMul(x(a), x(b)),
            AExpr::ComponentDiv(a, b) => AExpr::ComponentDiv(x(a), x(b)),
            AExpr::Powf(a, b) => AExpr::Powf(x(a), x(b)),
            AExpr::DivOrZero(a, b) => AExpr::DivOrZero(x(a), x(b)),
            AExpr::AtZero(t, a, b) => AExpr::AtZero(x(t), x(a), x(b)),
            AExpr::MapAdjTan {
                node,
                input,
                zbar,
                dzbar,
            } => AExpr::MapAdjTan {
                node: *node,
                input: *input,
                zbar: x(zbar),
                dzbar: dzbar.as_ref().map(|d| x(d)),
            },
            AExpr::PowerAdjointTangent {
                base,
                moving,
                adjoint,
                dadjoint,
                exponent,
            } => AExpr::PowerAdjointTangent {
                base: *base,
                moving: *moving,
                adjoint: x(adjoint),
                dadjoint: dadjoint.as_ref().map(|d| x(d)),
                exponent: exponent.clone(),
            },
            AExpr::KroneckerAdjointOf {
                node,
                left,
                zbar,
                factor,
            } => AExpr::KroneckerAdjointOf {
                node: *node,
                left: *left,
                zbar: x(zbar),
                factor: x(factor),
            },
            AExpr::CallAdjTan { node, seed, dseed } => AExpr::CallAdjTan {
                node: *node,
                seed: x(seed),
                dseed: dseed.as_ref().map(|d| x(d)),
            },
            AExpr::BranchAdjTan {
                node,
                captures,
                zbars,
                dzbars,
            } => AExpr::BranchAdjTan {
                node: *node,
                captures: captures.clone(),
                zbars: zbars.iter().map(|z| *x(z)).collect(),
                dzbars: dzbars.iter().map(|d| d.as_ref().map(|d| *x(d))).collect(),
            },
            AExpr::Step(a, b) => AExpr::Step(x(a), x(b)),
            AExpr::Kronecker(a, b) => AExpr::Kronecker(x(a), x(b)),
            AExpr::Trace(a) => AExpr::Trace(x(a)),
            AExpr::Sum(a) => AExpr::Sum(x(a)),
            AExpr::Entry(a, i, j) => AExpr::Entry(x(a), *i, *j),
            AExpr::Block(a, i, j, shape) => AExpr::Block(x(a), *i, *j, *shape),
            AExpr::DiagonalOf(a) => AExpr::DiagonalOf(x(a)),
            AExpr::TriSolve { l, rhs, transpose } => AExpr::TriSolve {
                l: *l,
                rhs: x(rhs),
                transpose: *transpose,
            },
            AExpr::Phi(a) => AExpr::Phi(x(a)),
            AExpr::SymFromLower(a) => AExpr::SymFromLower(x(a)),
            AExpr::SymLower(a) => AExpr::SymLower(x(a)),
            AExpr::EntryAt(a, at) => AExpr::EntryAt(x(a), at.clone()),
            AExpr::OneHotAt(a, shape, at) => AExpr::OneHotAt(x(a), *shape, at.clone()),
            AExpr::ExtremumAdjoint { node, scale } => AExpr::ExtremumAdjoint {
                node: *node,
                scale: x(scale),
            },
            AExpr::ExtremumTangent { node, tangent } => AExpr::ExtremumTangent {
                node: *node,
                tangent: x(tangent),
            },
            AExpr::FromDiagonal(a, shape) => AExpr::FromDiagonal(x(a), *shape),
            AExpr::Cross(a, b) => AExpr::Cross(x(a), x(b)),
            AExpr::Embed(a, shape, i, j) => AExpr::Embed(x(a), *shape, *i, *j),
            AExpr::Item(a, k, shape) => AExpr::Item(x(a), *k, *shape),
            AExpr::SolveForward { solve, rhs } => AExpr::SolveForward {
                solve: *solve,
                rhs: x(rhs),
            },
            AExpr::PowerTangent {
                base,
                tangent,
                exponent,
            } => AExpr::PowerTangent {
                base: *base,
                tangent: x(tangent),
                exponent: exponent.clone(),
            },
            AExpr::Adj(_)
            | AExpr::Val(_)
            | AExpr::Lit(_)
            | AExpr::Cast(_)
            | AExpr::MapAdj { .. }
            | AExpr::Shared(_)
            | AExpr::AdjTan(_)
            | AExpr::SharedTan(_)
            | AExpr::DeterminantGradient { .. }
            | AExpr::KroneckerAdjoint { .. }
            | AExpr::Seed(_)
            | AExpr::BranchAdjoint { .. }
            | AExpr::CallAdjoint { .. }
            | AExpr::Field { .. }
            | AExpr::Window { .. }
            | AExpr::Tan(_)
            | AExpr::Partial { .. }
            | AExpr::BranchTangent { .. }
            | AExpr::CallTangent { .. } => self.clone(),
        }
    }

    /// Calls `f` on every forward value the expression reads, its sub-expressions' included.
    pub fn for_each_value(&self, prog: &Program, f: &mut dyn FnMut(ValueId)) {
        match self {
            AExpr::Val(v) => f(*v),
            // These read the node's value and its arguments (a closure's entries, a branch's
            // captures, a call's arguments, a Kronecker product's factors, a chain's factors).
            AExpr::MapAdj { node, .. }
            | AExpr::TriSolve { l: node, .. }
            | AExpr::ExtremumAdjoint { node, .. }
            | AExpr::ExtremumTangent { node, .. }
            | AExpr::MapAdjTan { node, .. }
            | AExpr::KroneckerAdjoint { node, .. }
            | AExpr::KroneckerAdjointOf { node, .. }
            | AExpr::Window { node, .. }
            | AExpr::BranchAdjoint { node, .. }
            | AExpr::BranchAdjTan { node, .. }
            | AExpr::CallAdjoint { node }
            | AExpr::CallAdjTan { node, .. }
            | AExpr::Partial { node, .. }
            | AExpr::BranchTangent { node }
            | AExpr::CallTangent { node } => {
                f(*node);
                prog.nodes[*node].args.iter().for_each(|&a| f(a));
            }
            AExpr::DeterminantGradient { matrix, det } => {
                f(*matrix);
                f(*det);
            }
            AExpr::SolveTransposed { solve, .. } | AExpr::SolveForward { solve, .. } => f(*solve),
            AExpr::PowerAdjoint { base, .. }
            | AExpr::PowerTangent { base, .. }
            | AExpr::PowerAdjointTangent { base, .. } => f(*base),
            AExpr::Adj(_)
            | AExpr::Lit(_)
            | AExpr::Cast(_)
            | AExpr::Neg(_)
            | AExpr::Add(..)
            | AExpr::Sub(..)
            | AExpr::Mul(..)
            | AExpr::Div(..)
            | AExpr::Scale(..)
            | AExpr::DivBy(..)
            | AExpr::MatMul(..)
            | AExpr::Transpose(_)
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
            | AExpr::Shared(_)
            | AExpr::AdjTan(_)
            | AExpr::SharedTan(_)
            | AExpr::Seed(_)
            | AExpr::Field { .. }
            | AExpr::Tan(_)
            | AExpr::Trace(_)
            | AExpr::Sum(_)
            | AExpr::Entry(..)
            | AExpr::Block(..)
            | AExpr::DiagonalOf(..)
            | AExpr::Phi(..)
            | AExpr::SymFromLower(..)
            | AExpr::SymLower(..)
            | AExpr::EntryAt(..)
            | AExpr::OneHotAt(..)
            | AExpr::FromDiagonal(..)
            | AExpr::Cross(..)
            | AExpr::Kronecker(..)
            | AExpr::Item(..) => {}
        }
        for child in self.children() {
            child.for_each_value(prog, f);
        }
    }

    /// Calls `f` on every adjoint the expression reads, its sub-expressions' included: `Adj(v)`,
    /// and the node adjoints that map, Kronecker and call adjoints seed from.
    pub fn for_each_adjoint(&self, f: &mut dyn FnMut(ValueId)) {
        match self {
            AExpr::Adj(v)
            | AExpr::MapAdj { node: v, .. }
            | AExpr::KroneckerAdjoint { node: v, .. }
            | AExpr::CallAdjoint { node: v } => f(*v),
            // Their adjoints are their children (`zbar`, `seed`), visited below.
            AExpr::MapAdjTan { .. }
            | AExpr::KroneckerAdjointOf { .. }
            | AExpr::CallAdjTan { .. }
            | AExpr::Val(_)
            | AExpr::Lit(_)
            | AExpr::Cast(_)
            | AExpr::Neg(_)
            | AExpr::Add(..)
            | AExpr::Sub(..)
            | AExpr::Mul(..)
            | AExpr::Div(..)
            | AExpr::Scale(..)
            | AExpr::DivBy(..)
            | AExpr::MatMul(..)
            | AExpr::Transpose(_)
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
            | AExpr::Shared(_)
            | AExpr::AdjTan(_)
            | AExpr::SharedTan(_)
            | AExpr::DeterminantGradient { .. }
            | AExpr::SolveTransposed { .. }
            | AExpr::PowerAdjoint { .. }
            | AExpr::PowerAdjointTangent { .. }
            | AExpr::Seed(_)
            | AExpr::BranchAdjoint { .. }
            | AExpr::BranchAdjTan { .. }
            | AExpr::Field { .. }
            | AExpr::Window { .. }
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
            | AExpr::Item(..) => {}
        }
        for child in self.children() {
            child.for_each_adjoint(f);
        }
    }

    /// Calls `f` on every tangent the expression reads, its sub-expressions' included: `Tan(v)`,
    /// and the tangents of the arguments that map, branch and call tangents read.
    pub fn for_each_tangent(&self, prog: &Program, f: &mut dyn FnMut(ValueId)) {
        match self {
            AExpr::Tan(v) => f(*v),
            AExpr::PowerAdjointTangent { base, moving, .. } => {
                if *moving {
                    f(*base);
                }
            }
            AExpr::CallTangent { node }
            | AExpr::MapAdjTan { node, .. }
            | AExpr::CallAdjTan { node, .. } => {
                prog.nodes[*node].args.iter().for_each(|&a| f(a));
            }
            // The condition of an `if` has no tangent; its captures do.
            AExpr::BranchTangent { node } | AExpr::BranchAdjTan { node, .. } => {
                prog.nodes[*node].args[1..].iter().for_each(|&a| f(a));
            }
            AExpr::Adj(_)
            | AExpr::Val(_)
            | AExpr::Lit(_)
            | AExpr::Cast(_)
            | AExpr::Neg(_)
            | AExpr::Add(..)
            | AExpr::Sub(..)
            | AExpr::Mul(..)
            | AExpr::Div(..)
            | AExpr::Scale(..)
            | AExpr::DivBy(..)
            | AExpr::MatMul(..)
            | AExpr::Transpose(_)
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
            | AExpr::MapAdj { .. }
            | AExpr::Shared(_)
            | AExpr::AdjTan(_)
            | AExpr::SharedTan(_)
            | AExpr::DeterminantGradient { .. }
            | AExpr::SolveTransposed { .. }
            | AExpr::KroneckerAdjoint { .. }
            | AExpr::KroneckerAdjointOf { .. }
            | AExpr::Seed(_)
            | AExpr::BranchAdjoint { .. }
            | AExpr::CallAdjoint { .. }
            | AExpr::Field { .. }
            | AExpr::Window { .. }
            | AExpr::PowerAdjoint { .. }
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
            | AExpr::Item(..) => {}
        }
        for child in self.children() {
            child.for_each_tangent(prog, f);
        }
    }

    /// A boxed float literal, the shorthand the rule table uses.
    #[allow(
        clippy::unnecessary_box_returns,
        reason = "literals are operands of boxed trees"
    )]
    pub fn lit(value: impl fmt::Display) -> Box<AExpr> {
        Box::new(AExpr::Lit(value.to_string()))
    }
}

/// One statement of the adjoint program.
#[derive(Clone, Debug)]
pub enum Step {
    /// `Adj(target) += expr`.
    Add { target: ValueId, expr: AExpr },
    /// `Shared(index) = expr`, read by later steps of the same rule.
    Share { index: usize, expr: AExpr },
}

/// The adjoint program of one [`Program`].
pub struct Adjoint {
    /// In execution order.
    pub steps: Vec<Step>,
    /// Whether each value's adjoint receives a contribution (the others stay zero).
    pub nonzero: Vec<bool>,
    /// Whether each value contributes to the result; the others are not computed at all.
    pub live: Vec<bool>,
    /// Whether each value depends on a differentiated parameter.
    pub active: Vec<bool>,
}

impl Adjoint {
    /// How many contributions each of the program's `len` values receives, in one pass over
    /// the steps.
    pub fn counts(&self, len: usize) -> Vec<usize> {
        let mut counts = vec![0; len];
        for step in &self.steps {
            if let Step::Add { target, .. } = step {
                counts[*target] += 1;
            }
        }
        counts
    }
}

impl fmt::Display for AExpr {
    #[allow(
        clippy::too_many_lines,
        reason = "one arm per kind of expression, each its notation"
    )]
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            AExpr::Adj(v) => write!(f, "g{v}"),
            AExpr::Val(v) => write!(f, "v{v}"),
            AExpr::Lit(s) => f.write_str(s),
            AExpr::Cast(t) => f.write_str(&crate::text::tokens(t)),
            AExpr::Neg(a) => write!(f, "-{a}"),
            AExpr::Add(a, b) => write!(f, "({a} + {b})"),
            AExpr::Sub(a, b) => write!(f, "({a} - {b})"),
            AExpr::Mul(a, b) | AExpr::Scale(a, b) => write!(f, "({a} * {b})"),
            AExpr::Div(a, b) | AExpr::DivBy(a, b) => write!(f, "({a} / {b})"),
            AExpr::MatMul(a, b) => write!(f, "{a} · {b}"),
            AExpr::Transpose(a) => write!(f, "{a}ᵀ"),
            AExpr::Dot(a, b) => write!(f, "⟨{a}, {b}⟩"),
            AExpr::ComponentMul(a, b) => write!(f, "({a} ∘ {b})"),
            AExpr::ComponentDiv(a, b) => write!(f, "({a} ⊘ {b})"),
            AExpr::Diag(s, n) => write!(f, "{s}·I{n}"),
            AExpr::Fill(s, shape) => write!(f, "{s}·𝟙{shape}"),
            AExpr::OneHot(s, shape, i, j) => write!(f, "{s}·e({i}, {j}) of {shape}"),
            AExpr::Method(m, a) => write!(f, "{a}.{m}()"),
            AExpr::Helper(h, a) => write!(f, "{}({a})", h.name()),
            AExpr::Powi(a, n) => write!(f, "{a}.powi({})", crate::text::tokens(n)),
            AExpr::Powf(a, p) => write!(f, "{a}.powf({p})"),
            AExpr::DivOrZero(a, b) => write!(f, "({a} / {b} or 0)"),
            AExpr::AtZero(t, a, b) => write!(f, "({a} if {t} = 0 else {b})"),
            AExpr::Step(a, b) => write!(f, "[{a} ≥ {b}]"),
            AExpr::Tan(v) => write!(f, "d{v}"),
            AExpr::Trace(a) => write!(f, "tr({a})"),
            AExpr::Sum(a) => write!(f, "Σ({a})"),
            AExpr::Entry(a, i, j) => write!(f, "{a}[({i}, {j})]"),
            AExpr::Block(a, i, j, shape) => write!(f, "{a}[{shape} at ({i}, {j})]"),
            AExpr::DiagonalOf(a) => write!(f, "diag({a})"),
            AExpr::TriSolve { l, rhs, transpose } => {
                let t = if *transpose { "ᵀ" } else { "" };
                write!(f, "v{l}⁻¹{t} · {rhs}")
            }
            AExpr::Phi(a) => write!(f, "Φ({a})"),
            AExpr::SymFromLower(a) => write!(f, "sym({a})"),
            AExpr::SymLower(a) => write!(f, "sym*({a})"),
            AExpr::EntryAt(a, at) => write!(f, "{a}{at}"),
            AExpr::OneHotAt(s, shape, at) => write!(f, "{s}·e{at} of {shape}"),
            AExpr::ExtremumAdjoint { node, scale } => write!(f, "{scale}·e(arg v{node})"),
            AExpr::ExtremumTangent { node, tangent } => write!(f, "{tangent}[arg v{node}]"),
            AExpr::FromDiagonal(v, shape) => write!(f, "Diag({v}) of {shape}"),
            AExpr::Cross(a, b) => write!(f, "({a} × {b})"),
            AExpr::Embed(b, shape, i, j) => write!(f, "{b} at ({i}, {j}) of {shape}"),
            AExpr::Kronecker(a, b) => write!(f, "({a} ⊗ {b})"),
            AExpr::Item(a, k, _) => write!(f, "{a}.{k}"),
            AExpr::SolveForward { solve, rhs } => write!(f, "lu(v{solve})⁻¹ · {rhs}"),
            AExpr::PowerTangent {
                base,
                tangent,
                exponent,
            } => write!(
                f,
                "pow_tangent(v{base}, {tangent}, {})",
                crate::text::tokens(exponent)
            ),
            AExpr::Partial { node, input } => write!(f, "∂{input}map(v{node})"),
            AExpr::BranchTangent { node } => write!(f, "∂if_tangent(v{node})"),
            AExpr::CallTangent { node } => write!(f, "jvp(v{node})"),
            AExpr::MapAdj { node, input } => write!(f, "map'{input}(v{node}, g{node})"),
            AExpr::MapAdjTan {
                node,
                input,
                zbar,
                dzbar,
            } => match dzbar {
                Some(d) => write!(f, "dmap'{input}(v{node}, {zbar}, {d})"),
                None => write!(f, "dmap'{input}(v{node}, {zbar}, 0)"),
            },
            AExpr::Shared(k) => write!(f, "t{k}"),
            AExpr::AdjTan(v) => write!(f, "dg{v}"),
            AExpr::SharedTan(k) => write!(f, "dt{k}"),
            AExpr::Seed(j) => write!(f, "seed{j}"),
            AExpr::BranchAdjoint { node, .. } => write!(f, "∂if(v{node})"),
            AExpr::BranchAdjTan { node, .. } => write!(f, "d∂if(v{node})"),
            AExpr::CallAdjTan { node, .. } => write!(f, "d∂call(v{node})"),
            AExpr::PowerAdjointTangent { base, .. } => write!(f, "d∂pow(v{base})"),
            AExpr::KroneckerAdjointOf {
                node,
                left,
                zbar,
                factor,
            } => write!(f, "kron'{}(v{node}; {zbar}, {factor})", u8::from(*left)),
            AExpr::CallAdjoint { node } => write!(f, "vjp(v{node})"),
            AExpr::Field { tuple, index, .. } => write!(f, "t{tuple}.{index}"),
            AExpr::Window { node, window } => write!(f, "w{node}[{}+{}]", window.start, window.len),
            AExpr::DeterminantGradient { matrix, .. } => write!(f, "∂det(v{matrix})"),
            AExpr::SolveTransposed { solve, rhs } => write!(f, "lu(v{solve})⁻ᵀ · {rhs}"),
            AExpr::KroneckerAdjoint { node, left: true } => write!(f, "kron_left(g{node})"),
            AExpr::KroneckerAdjoint { node, left: false } => write!(f, "kron_right(g{node})"),
            AExpr::PowerAdjoint {
                base,
                adjoint,
                exponent,
            } => {
                write!(
                    f,
                    "pow_adjoint(v{base}, {adjoint}, {})",
                    crate::text::tokens(exponent)
                )
            }
        }
    }
}

impl fmt::Display for Adjoint {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        for step in &self.steps {
            match step {
                Step::Add { target, expr } => writeln!(f, "g{target} += {expr}")?,
                Step::Share { index, expr } => writeln!(f, "t{index} = {expr}")?,
            }
        }
        Ok(())
    }
}
