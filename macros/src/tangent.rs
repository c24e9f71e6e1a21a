//! Forward-mode differentiation: the tangent program of a [`Program`].
//!
//! Every float parameter in `seeded` carries a tangent (a direction dX); a value is *active*
//! when it depends on one. Walking the nodes in order, each active value gets its tangent from
//! its arguments' tangents through the node's tangent rule (`rules::tangent`, beside the adjoint
//! rule of the same operation), so every tangent is known before a later rule reads it.
//! Conditions have no tangent: an `if` differentiates the branch it takes. Runs after `fuse`;
//! `plan` simplifies and orders what it returns, `emit` prints it as the body of `{name}_jvp`.
//!
//! Before: `v3 = mul v1 v0; v4 = sub v2 v3; v5 = norm_squared v4`, seeded at `v0`.
//! After:
//! ```text
//! d3 = v1 · d0
//! d4 = -d3
//! d5 = (2.0 * ⟨v4, d4⟩)
//! ```

use std::fmt;

use crate::adjoint::AExpr;
use crate::ir::{Op, Program, Shape, ValueId};
use crate::rules;

/// The tangent program of one [`Program`].
pub struct Tangent {
    /// `d(v) = expr` for every active, live value but the parameters, in program order.
    pub steps: Vec<(ValueId, AExpr)>,
    /// Whether each value depends on a seeded parameter.
    pub active: Vec<bool>,
}

/// The tangent program of `prog` with the parameters `seeded` carrying tangents.
pub fn tangents(prog: &Program, seeded: &[usize]) -> Tangent {
    let n = prog.nodes.len();
    let mut active = vec![false; n];
    for (id, node) in prog.nodes.iter().enumerate() {
        let carries = !matches!(node.shape, Shape::Bool);
        active[id] = carries
            && match node.op {
                Op::Param(k) => seeded.contains(&k),
                // The condition of an `if` decides which branch runs; it carries no tangent.
                Op::Branch { .. } => node.args[1..].iter().any(|&a| active[a]),
                _ => node.args.iter().any(|&a| active[a]),
            };
    }
    let mut live = vec![false; n];
    for out in prog.results() {
        live[out] = true;
    }
    for id in (0..n).rev() {
        if live[id] {
            for &a in &prog.nodes[id].args {
                live[a] = true;
            }
        }
    }
    let steps = (0..n)
        .filter(|&id| active[id] && live[id] && !matches!(prog.nodes[id].op, Op::Param(_)))
        .filter_map(|id| rules::tangent(prog, &active, id).map(|e| (id, e)))
        .collect();
    Tangent { steps, active }
}

impl fmt::Display for Tangent {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        for (target, expr) in &self.steps {
            writeln!(f, "d{target} = {expr}")?;
        }
        Ok(())
    }
}
