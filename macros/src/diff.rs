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

use crate::adjoint::{AExpr, Adjoint, Step};
use crate::ir::{Op, Program};
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
    Adjoint {
        steps,
        nonzero,
        live,
        active,
    }
}
