//! Reverse-mode differentiation: the adjoint program of a [`Program`].
//!
//! A value is *active* when it depends on a differentiated parameter and *live* when the result
//! depends on it; only values that are both get an adjoint. Walking the nodes from the last to
//! the first, each node with an adjoint hands its adjoint to its active arguments through the
//! node's rule (see `rules`), so every adjoint is complete before its node's rule reads it. The
//! result is an [`Adjoint`] (see `adjoint`): steps `target += expr` in execution order. Runs after
//! `fuse`, before `plan`.
//!
//! Before: `v3 = mul v1 v0; v4 = sub v2 v3; v5 = norm_squared v4` with respect to `v0`.
//! After:
//! ```text
//! g4 += (v4 * (2.0 * g5))
//! g3 += -g4
//! g0 += v1ᵀ · g3
//! ```

use std::collections::HashMap;

use crate::adjoint::{AExpr, Adjoint, Step};
use crate::ir::{Op, Program, ValueId};
use crate::rules;

/// Differentiates `prog` with respect to its parameters with the indices `wrt`.
#[allow(
    clippy::too_many_lines,
    reason = "the operations that start no activity are listed one by one"
)]
pub fn differentiate(prog: &Program, wrt: &[usize]) -> Adjoint {
    let n = prog.nodes.len();
    let mut active = vec![false; n];
    for (id, node) in prog.nodes.iter().enumerate() {
        active[id] = match node.op {
            Op::Param(k) => wrt.contains(&k),
            // A constant, whatever its argument: only its size is read.
            Op::IdentityOf => false,
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
            | Op::Call(..) => node.args.iter().any(|&a| active[a]),
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
    reuse_forward_solves(prog, &live, &mut steps);
    Adjoint {
        steps,
        nonzero,
        live,
        active,
    }
}

/// Back-substitutions of the reverse pass that the forward pass already did, read instead.
///
/// Z = L⁻¹B hands B the adjoint L⁻ᵀZ̄ (and Z = L⁻ᵀB hands it L⁻¹Z̄), one shared value of the
/// rule. When Z̄ is one contribution, a forward value C times scalar factors (s·C), and the
/// forward pass solved C by the same factor the same way (Y = L⁻ᵀC), that value is s·Y, with no
/// solve. In rᵀ(LLᵀ)⁻¹r, written `r.dot(&c.solve(&r))` with `c` a Cholesky factor, the
/// two back-solves of the reverse pass are both the forward solves scaled by the adjoint of
/// the dot: w = L⁻¹r, α = L⁻ᵀw, and the adjoints L⁻¹(½r) = ½w, L⁻ᵀ(½w) = ½α.
fn reuse_forward_solves(prog: &Program, live: &[bool], steps: &mut [Step]) {
    let solves: HashMap<(ValueId, ValueId, bool), ValueId> = prog
        .nodes
        .iter()
        .enumerate()
        .filter_map(|(n, node)| {
            let Op::TriSolve { transpose } = node.op else {
                return None;
            };
            live[n].then_some(((node.args[0], node.args[1], transpose), n))
        })
        .collect();
    if solves.is_empty() {
        return;
    }
    // The shared values rewritten so far, as what they now are.
    let mut rewritten: HashMap<usize, AExpr> = HashMap::new();
    for k in 0..steps.len() {
        let Step::Share { index, expr } = &steps[k] else {
            continue;
        };
        let AExpr::TriSolve { l, rhs, transpose } = expr else {
            continue;
        };
        let AExpr::Adj(z) = **rhs else {
            continue;
        };
        let mut contributions = steps[..k].iter().filter_map(|step| match step {
            Step::Add { target, expr } if *target == z => Some(expr),
            Step::Add { .. } | Step::Share { .. } => None,
        });
        let (Some(only), None) = (contributions.next(), contributions.next()) else {
            continue;
        };
        let Some(value) = solved_forward(only, (*l, *transpose), &solves, &rewritten) else {
            continue;
        };
        let index = *index;
        rewritten.insert(index, value.clone());
        steps[k] = Step::Share { index, expr: value };
    }
}

/// L⁻¹·e (L⁻ᵀ·e when `transpose`) for the factor `l`, when `e` is a forward value times scalar
/// factors (s·C, as the rules of a dot or a squared norm hand it on) and `solves` has the
/// forward solve of C by `l` the same way (Y): then s·Y, else `None`. The shared values in
/// `shared` are read as what they are.
fn solved_forward(
    e: &AExpr,
    (l, transpose): (ValueId, bool),
    solves: &HashMap<(ValueId, ValueId, bool), ValueId>,
    shared: &HashMap<usize, AExpr>,
) -> Option<AExpr> {
    let inner = |x: &AExpr| solved_forward(x, (l, transpose), solves, shared).map(Box::new);
    match e {
        AExpr::Val(c) => solves.get(&(l, *c, transpose)).map(|&y| AExpr::Val(y)),
        AExpr::Scale(x, s) => Some(AExpr::Scale(inner(x)?, s.clone())),
        AExpr::Shared(t) => solved_forward(shared.get(t)?, (l, transpose), solves, shared),
        // The rest are not a multiple of one forward value.
        AExpr::Adj { .. }
        | AExpr::Lit { .. }
        | AExpr::Cast { .. }
        | AExpr::Neg { .. }
        | AExpr::Add { .. }
        | AExpr::Sub { .. }
        | AExpr::Mul { .. }
        | AExpr::Div { .. }
        | AExpr::DivBy { .. }
        | AExpr::MatMul { .. }
        | AExpr::Transpose { .. }
        | AExpr::Dot { .. }
        | AExpr::ComponentMul { .. }
        | AExpr::ComponentDiv { .. }
        | AExpr::Diag { .. }
        | AExpr::Fill { .. }
        | AExpr::OneHot { .. }
        | AExpr::Method { .. }
        | AExpr::Helper { .. }
        | AExpr::Powi { .. }
        | AExpr::Powf { .. }
        | AExpr::DivOrZero { .. }
        | AExpr::AtZero { .. }
        | AExpr::Step { .. }
        | AExpr::Tan { .. }
        | AExpr::Trace { .. }
        | AExpr::Sum { .. }
        | AExpr::Entry { .. }
        | AExpr::ExtremumAdjoint { .. }
        | AExpr::ExtremumTangent { .. }
        | AExpr::EntryAt { .. }
        | AExpr::OneHotAt { .. }
        | AExpr::TriSolve { .. }
        | AExpr::Phi { .. }
        | AExpr::SymFromLower { .. }
        | AExpr::SymLower { .. }
        | AExpr::DiagonalOf { .. }
        | AExpr::FromDiagonal { .. }
        | AExpr::Cross { .. }
        | AExpr::Block { .. }
        | AExpr::Embed { .. }
        | AExpr::Kronecker { .. }
        | AExpr::SolveForward { .. }
        | AExpr::PowerTangent { .. }
        | AExpr::Partial { .. }
        | AExpr::BranchTangent { .. }
        | AExpr::CallTangent { .. }
        | AExpr::Item { .. }
        | AExpr::MapAdj { .. }
        | AExpr::MapAdjTan { .. }
        | AExpr::BranchAdjTan { .. }
        | AExpr::CallAdjTan { .. }
        | AExpr::PowerAdjointTangent { .. }
        | AExpr::KroneckerAdjointOf { .. }
        | AExpr::AdjTan { .. }
        | AExpr::SharedTan { .. }
        | AExpr::DeterminantGradient { .. }
        | AExpr::SolveTransposed { .. }
        | AExpr::KroneckerAdjoint { .. }
        | AExpr::Seed { .. }
        | AExpr::BranchAdjoint { .. }
        | AExpr::CallAdjoint { .. }
        | AExpr::Field { .. }
        | AExpr::Window { .. }
        | AExpr::PowerAdjoint { .. } => None,
    }
}
