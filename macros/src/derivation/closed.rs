//! The closed form of a gradient: the adjoint of a parameter with every adjoint and shared
//! value it reads replaced by its own contributions, until only forward values remain, then
//! simplified by `algebra`.
//!
//! A substitution that goes too deep or grows the tree past `MAX_TREE` nodes, or a result that
//! still reads the adjoint of an `if` or a call, is no closed form: the caller then shows the
//! adjoint program instead (`listing`).

use std::collections::BTreeMap;

use crate::adjoint::AExpr;
use crate::ir::{Op, ValueId};

use super::algebra::simplify;
use super::constants::parse_number;
use super::{ClosedForm, Deriver, MAX_TREE};

impl Deriver<'_> {
    /// The gradient with respect to parameter `param` (node `p`) as a closed form, with the
    /// node adjoints it reads; `None` when it is not one.
    pub(super) fn closed_form(&self, param: usize, p: ValueId) -> Option<ClosedForm> {
        let expr = self.closed(p)?;
        let mut adjoints = BTreeMap::new();
        let mut pending = nodes_read(&expr);
        while let Some(node) = pending.pop() {
            if adjoints.contains_key(&node) {
                continue;
            }
            let e = self.closed(node)?;
            pending.extend(nodes_read(&e));
            adjoints.insert(node, e);
        }
        Some(ClosedForm {
            param,
            expr,
            adjoints: adjoints.into_iter().rev().collect(),
        })
    }

    /// The adjoint of `v`, simplified, if it is an expression of forward values only.
    pub(super) fn closed(&self, v: ValueId) -> Option<AExpr> {
        self.budget.set(MAX_TREE);
        let e = simplify(self.prog, &self.adjoint(v, 0)?);
        is_closed(&e).then_some(e)
    }

    /// The adjoint of `v`, every adjoint it reads replaced by its own contributions.
    fn adjoint(&self, v: ValueId, depth: usize) -> Option<AExpr> {
        if Some(v) == self.prog.output {
            return Some(AExpr::Lit("1".into()));
        }
        let mut sum: Option<AExpr> = None;
        for expr in &self.contributions[v] {
            let term = self.substitute(expr, depth + 1)?;
            sum = Some(match sum {
                None => term,
                Some(acc) => AExpr::Add(Box::new(acc), Box::new(term)),
            });
        }
        Some(sum.unwrap_or_else(|| AExpr::Lit("0".into())))
    }

    /// Replaces every `Adj(u)` and shared value in `e` by what it stands for; `None` past the
    /// budget.
    fn substitute(&self, e: &AExpr, depth: usize) -> Option<AExpr> {
        let left = self.budget.get().checked_sub(1)?;
        self.budget.set(left);
        if depth > 64 {
            return None;
        }
        Some(match e {
            AExpr::Adj(u) => self.adjoint(*u, depth)?,
            AExpr::Shared(k) => self.substitute(self.shared(*k)?, depth)?,
            AExpr::Val(v) => self.expand(*v),
            AExpr::Seed(_) => AExpr::Lit("1".into()),
            // The rest recurse structurally; map and Kronecker adjoints read the adjoint of
            // their node by id, which `closed_form` substitutes on its own.
            other => {
                let mut complete = true;
                let out = other.map_children(&mut |x| {
                    self.substitute(x, depth).unwrap_or_else(|| {
                        complete = false;
                        AExpr::Lit("0".into())
                    })
                });
                complete.then_some(out)?
            }
        })
    }

    /// A forward value as an expression the simplifier can see into: literals, and the
    /// products, transposes and signs of unnamed values (`(xᵀ·a)ᵀ` can then become `aᵀ·x`).
    fn expand(&self, v: ValueId) -> AExpr {
        let node = &self.prog.nodes[v];
        let arg = |k: usize| Box::new(self.expand(node.args[k]));
        let matrix = |k: usize| self.prog.shape(node.args[k]).is_matrix();
        if node.name.is_some() {
            return AExpr::Val(v);
        }
        match &node.op {
            Op::Const(t) if parse_number(&crate::text::tokens(t)).is_some() => {
                let value = parse_number(&crate::text::tokens(t)).unwrap_or_default();
                AExpr::Lit(value.to_string())
            }
            Op::Div if matrix(0) => AExpr::DivBy(arg(0), arg(1)),
            Op::Div => AExpr::Div(arg(0), arg(1)),
            Op::Transpose => AExpr::Transpose(arg(0)),
            Op::Neg => AExpr::Neg(arg(0)),
            Op::Mul if matrix(0) && matrix(1) => AExpr::MatMul(arg(0), arg(1)),
            Op::Mul if matrix(0) => AExpr::Scale(arg(0), arg(1)),
            Op::Mul if matrix(1) => AExpr::Scale(arg(1), arg(0)),
            Op::Mul => AExpr::Mul(arg(0), arg(1)),
            Op::Param(_)
            | Op::Const(_)
            | Op::Add
            | Op::Accumulate(_)
            | Op::Sub
            | Op::Trace
            | Op::Sum
            | Op::Mean
            | Op::Dot
            | Op::Norm
            | Op::NormSquared
            | Op::ComponentMul
            | Op::ComponentDiv
            | Op::Map(_)
            | Op::Unary(_)
            | Op::Powi(_)
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
            | Op::Inverse(_)
            | Op::Determinant
            | Op::Solve(_)
            | Op::Kronecker
            | Op::Build { .. }
            | Op::MatrixPower(_)
            | Op::TraceChain(_)
            | Op::Compare(_)
            | Op::Not
            | Op::And
            | Op::Or
            | Op::BoolConst(_)
            | Op::Branch { .. }
            | Op::Extract(_)
            | Op::Call(_) => AExpr::Val(v),
        }
    }

    fn shared(&self, k: usize) -> Option<&AExpr> {
        self.shared.get(&k).copied()
    }
}

/// The map and Kronecker nodes whose adjoints `e` reads.
fn nodes_read(e: &AExpr) -> Vec<ValueId> {
    let mut out = Vec::new();
    collect_nodes(e, &mut out);
    out
}

fn collect_nodes(e: &AExpr, out: &mut Vec<ValueId>) {
    if let AExpr::MapAdj { node, .. } | AExpr::KroneckerAdjoint { node, .. } = e {
        out.push(*node);
    }
    for child in e.children() {
        collect_nodes(child, out);
    }
}

/// Whether `e` is an expression of forward values: no adjoint, shared value, or adjoint of an
/// `if` or a call is left in it.
fn is_closed(e: &AExpr) -> bool {
    let open = matches!(
        e,
        AExpr::Adj(_)
            | AExpr::Shared(_)
            | AExpr::AdjTan(_)
            | AExpr::SharedTan(_)
            | AExpr::Field { .. }
            | AExpr::Seed(_)
            | AExpr::BranchAdjoint { .. }
            | AExpr::BranchAdjTan { .. }
            | AExpr::CallAdjoint { .. }
            | AExpr::CallAdjTan { .. }
    );
    !open && e.children().into_iter().all(is_closed)
}
