//! Reverse-mode differentiation: the adjoint program of a [`Program`].
//!
//! A value is *active* when it depends on a differentiated parameter and *live* when the result
//! depends on it; only values that are both get an adjoint. Walking the nodes from the last to
//! the first, each node with an adjoint hands its adjoint to its active arguments through the
//! node's rule (see `rules`), so every adjoint is complete before its node's rule reads it. The
//! result is a list of steps `target += expr` in execution order. Runs after `shape`, before
//! `emit`.
//!
//! Before: `v3 = mul v1 v0; v4 = sub v2 v3; v5 = norm_squared v4` with respect to `v0`.
//! After:
//! ```text
//! g4 += (v4 * (2.0 * g5))
//! g3 += -g4
//! g0 += v1ᵀ · g3
//! ```

use std::fmt;

use proc_macro2::TokenStream;

use crate::ir::{Func, Op, Program, Shape, ValueId};
use crate::rules;

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
    /// The adjoint of argument `input` of the `map` node `node`: the closure's derivative
    /// applied entry by entry (a matrix for the mapped matrix, a sum for a captured scalar).
    MapAdj {
        node: ValueId,
        input: usize,
    },
    /// A value the adjoint program computed once and shares (`let` in the reverse pass).
    Shared(usize),
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
    /// Calls `f` on every forward value the expression reads.
    pub fn for_each_value(&self, prog: &Program, f: &mut dyn FnMut(ValueId)) {
        match self {
            AExpr::Val(v) => f(*v),
            AExpr::MapAdj { node, .. }
            | AExpr::KroneckerAdjoint { node, .. }
            | AExpr::Window { node, .. }
            | AExpr::BranchAdjoint { node, .. }
            | AExpr::CallAdjoint { node } => {
                f(*node);
                prog.nodes[*node].args.iter().for_each(|&a| f(a));
            }
            AExpr::DeterminantGradient { matrix, det } => {
                f(*matrix);
                f(*det);
            }
            AExpr::SolveTransposed { solve, .. } => f(*solve),
            AExpr::PowerAdjoint { base, .. } => f(*base),
            _ => {}
        }
        for child in self.children() {
            child.for_each_value(prog, f);
        }
    }

    /// The sub-expressions of this expression.
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
            | AExpr::PowerAdjoint { adjoint: a, .. } => vec![a],
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
            | AExpr::Powf(a, b) => vec![a, b],
            _ => Vec::new(),
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
    /// How many contributions `target` receives.
    pub fn count(&self, target: ValueId) -> usize {
        self.steps
            .iter()
            .filter(|s| matches!(s, Step::Add { target: t, .. } if *t == target))
            .count()
    }
}

/// Differentiates `prog` with respect to its parameters with the indices `wrt`.
pub fn differentiate(prog: &Program, wrt: &[usize]) -> Adjoint {
    let n = prog.nodes.len();
    let mut active = vec![false; n];
    for (id, node) in prog.nodes.iter().enumerate() {
        active[id] = match node.op {
            Op::Param(k) => wrt.contains(&k),
            _ => node.args.iter().any(|&a| active[a]),
        };
    }
    let results = prog.results();
    let mut live = vec![false; n];
    for &out in &results {
        live[out] = true;
    }
    for id in (0..n).rev() {
        if live[id] {
            for &a in &prog.nodes[id].args {
                live[a] = true;
            }
        }
    }
    let mut nonzero = vec![false; n];
    let mut steps = Vec::new();
    // The seeds come first: an output may also feed another output, and so receive more.
    for (j, &out) in results.iter().enumerate() {
        if active[out] {
            nonzero[out] = true;
            steps.push(Step::Add {
                target: out,
                expr: AExpr::Seed(j),
            });
        }
    }
    let mut shared = 0;
    let cx = rules::Context {
        prog,
        live: &live,
        active: &active,
    };
    for id in (0..n).rev() {
        if !nonzero[id] {
            continue;
        }
        // A result of an `if` hands its adjoint to the `if`, whose rule reads it.
        if let Op::Extract(_) = prog.nodes[id].op {
            nonzero[prog.nodes[id].args[0]] = true;
            continue;
        }
        for step in rules::adjoints(&cx, id, &mut shared) {
            if let Step::Add { target, .. } = step {
                nonzero[target] = true;
            }
            steps.push(step);
        }
    }
    Adjoint {
        steps,
        nonzero,
        live,
        active,
    }
}

impl fmt::Display for AExpr {
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
            AExpr::MapAdj { node, input } => write!(f, "map'{input}(v{node}, g{node})"),
            AExpr::Shared(k) => write!(f, "t{k}"),
            AExpr::Seed(j) => write!(f, "seed{j}"),
            AExpr::BranchAdjoint { node, .. } => write!(f, "∂if(v{node})"),
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
