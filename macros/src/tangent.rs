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

/// The tangent program of `prog` with the parameters `seeded` carrying tangents. With `unit`,
/// the one seeded parameter's tangent is the unit direction along that entry, substituted at
/// compile time: a value whose tangent is then structurally zero carries none.
pub fn tangents(prog: &Program, seeded: &[usize], unit: Option<usize>) -> Tangent {
    let n = prog.nodes.len();
    let live = live(prog);
    let mut active = vec![false; n];
    let mut steps = Vec::new();
    // Tangents known at compile time (a unit seed read by an index is 1): later rules read
    // the literal, so a factor of 1 disappears.
    let mut constant: Vec<Option<AExpr>> = vec![None; n];
    for (id, node) in prog.nodes.iter().enumerate() {
        let carries = !matches!(node.shape, Shape::Bool);
        active[id] = carries
            && match node.op {
                Op::Param(k) => seeded.contains(&k),
                // A constant, whatever its argument: only its size is read.
                Op::IdentityOf => false,
                // The condition of an `if` decides which branch runs; it carries no tangent.
                Op::Branch { .. } => node.args[1..].iter().any(|&a| active[a]),
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
                | Op::Extract(..)
                | Op::Call(..) => node.args.iter().any(|&a| active[a]),
            };
        if !active[id] || matches!(node.op, Op::Param(_)) {
            continue;
        }
        let expr = rules::tangent(prog, &active, id);
        let expr = match (expr, unit) {
            (Some(e), Some(l)) => seed_unit(prog, &e, l, &constant).filter(|e| !is_zero(e)),
            (e, None) => e,
            (None, Some(_)) => None,
        };
        if let Some(lit @ AExpr::Lit(_)) = &expr {
            constant[id] = Some(lit.clone());
        }
        match expr {
            Some(e) if live[id] => steps.push((id, e)),
            Some(_) => {}
            None => active[id] = false,
        }
    }
    Tangent { steps, active }
}

/// Which values the result depends on.
fn live(prog: &Program) -> Vec<bool> {
    let n = prog.nodes.len();
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
    live
}

/// `e` with the seeded parameter's tangent replaced by the unit direction along entry `l`
/// (1 for a scalar), reduced: `None` when what is left is structurally zero.
///
/// Before: `d5 = d0[(1, 0)]·v3` with d0 = e₀. After: zero, so v5 carries no tangent.
fn seed_unit(prog: &Program, e: &AExpr, l: usize, constant: &[Option<AExpr>]) -> Option<AExpr> {
    let reduced = reduce(&substitute(prog, e, l, constant));
    (!is_zero(&reduced)).then_some(reduced)
}

fn substitute(prog: &Program, e: &AExpr, l: usize, constant: &[Option<AExpr>]) -> AExpr {
    match e {
        AExpr::Tan(v) if constant[*v].is_some() => {
            constant[*v].clone().unwrap_or_else(|| e.clone())
        }
        AExpr::Tan(v) if matches!(prog.nodes[*v].op, Op::Param(_)) => match prog.shape(*v) {
            Shape::Matrix(r, c) => match (r.value(), c.value()) {
                (Some(r), _) => AExpr::OneHot(AExpr::lit("1.0"), prog.shape(*v), l % r, l / r),
                // A row vector of a generic length: entry l is column l.
                (None, Some(1)) => AExpr::OneHot(AExpr::lit("1.0"), prog.shape(*v), l, 0),
                _ => AExpr::OneHot(AExpr::lit("1.0"), prog.shape(*v), 0, l),
            },
            Shape::Scalar | Shape::Bool | Shape::Tuple | Shape::Poison => AExpr::Lit("1.0".into()),
        },
        other => other.map_children(&mut |x| substitute(prog, x, l, constant)),
    }
}

/// A structural zero: the literal 0, or a constant or one-hot matrix of zeros.
fn is_zero(e: &AExpr) -> bool {
    match e {
        AExpr::Lit(s) => s.parse::<f64>().is_ok_and(|v| v == 0.0),
        AExpr::Fill(s, _) | AExpr::OneHot(s, ..) | AExpr::Diag(s, _) | AExpr::Embed(s, ..) => {
            is_zero(s)
        }
        AExpr::Adj(..)
        | AExpr::Val(..)
        | AExpr::Cast(..)
        | AExpr::Neg(..)
        | AExpr::Add(..)
        | AExpr::Sub(..)
        | AExpr::Mul(..)
        | AExpr::Div(..)
        | AExpr::Scale(..)
        | AExpr::DivBy(..)
        | AExpr::MatMul(..)
        | AExpr::Transpose(..)
        | AExpr::Dot(..)
        | AExpr::ComponentMul(..)
        | AExpr::ComponentDiv(..)
        | AExpr::Method(..)
        | AExpr::Helper(..)
        | AExpr::Powi(..)
        | AExpr::Powf(..)
        | AExpr::DivOrZero(..)
        | AExpr::AtZero(..)
        | AExpr::Step(..)
        | AExpr::Tan(..)
        | AExpr::Trace(..)
        | AExpr::Sum(..)
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
        | AExpr::Shared(..)
        | AExpr::AdjTan(_)
        | AExpr::SharedTan(_)
        | AExpr::DeterminantGradient { .. }
        | AExpr::SolveTransposed { .. }
        | AExpr::KroneckerAdjoint { .. }
        | AExpr::KroneckerAdjointOf { .. }
        | AExpr::Seed(..)
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

#[allow(
    clippy::float_cmp,
    reason = "only a literal written as exactly 1 is a unit factor"
)]
fn is_one(e: &AExpr) -> bool {
    matches!(e, AExpr::Lit(s) if s.parse::<f64>().is_ok_and(|v| v == 1.0))
}

/// Folds the zeros and ones a unit direction brings, bottom-up. Every tangent term is linear in
/// one tangent, so a zero factor removes the term; the zero that remains for a whole
/// expression is the literal 0, whatever the shape.
#[allow(
    clippy::too_many_lines,
    reason = "one match, whose last arm lists every kind it leaves as it is"
)]
fn reduce(e: &AExpr) -> AExpr {
    let zero = || AExpr::Lit("0.0".into());
    let e = e.map_children(&mut reduce);
    match e {
        AExpr::Entry(ref a, i, j) => match &**a {
            AExpr::OneHot(s, _, p, q) => {
                if (*p, *q) == (i, j) {
                    (**s).clone()
                } else {
                    zero()
                }
            }
            x if is_zero(x) => zero(),
            AExpr::Adj(..)
            | AExpr::Val(..)
            | AExpr::Lit(..)
            | AExpr::Cast(..)
            | AExpr::Neg(..)
            | AExpr::Add(..)
            | AExpr::Sub(..)
            | AExpr::Mul(..)
            | AExpr::Div(..)
            | AExpr::Scale(..)
            | AExpr::DivBy(..)
            | AExpr::MatMul(..)
            | AExpr::Transpose(..)
            | AExpr::Dot(..)
            | AExpr::ComponentMul(..)
            | AExpr::ComponentDiv(..)
            | AExpr::Diag(..)
            | AExpr::Fill(..)
            | AExpr::Method(..)
            | AExpr::Helper(..)
            | AExpr::Powi(..)
            | AExpr::Powf(..)
            | AExpr::DivOrZero(..)
            | AExpr::AtZero(..)
            | AExpr::Step(..)
            | AExpr::Tan(..)
            | AExpr::Trace(..)
            | AExpr::Sum(..)
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
            | AExpr::Shared(..)
            | AExpr::AdjTan(_)
            | AExpr::SharedTan(_)
            | AExpr::DeterminantGradient { .. }
            | AExpr::SolveTransposed { .. }
            | AExpr::KroneckerAdjoint { .. }
            | AExpr::KroneckerAdjointOf { .. }
            | AExpr::Seed(..)
            | AExpr::BranchAdjoint { .. }
            | AExpr::BranchAdjTan { .. }
            | AExpr::CallAdjoint { .. }
            | AExpr::CallAdjTan { .. }
            | AExpr::Field { .. }
            | AExpr::Window { .. }
            | AExpr::PowerAdjoint { .. }
            | AExpr::PowerAdjointTangent { .. } => e,
        },
        // A block of zeros, or a block embedded in zeros, is zero.
        AExpr::Block(ref a, ..) | AExpr::Embed(ref a, ..) if is_zero(a) => zero(),
        AExpr::Mul(a, b) | AExpr::Scale(a, b) | AExpr::MatMul(a, b)
            if is_zero(&a) || is_zero(&b) =>
        {
            let _ = (a, b);
            zero()
        }
        AExpr::Mul(a, b) if is_one(&a) => *b,
        AExpr::Mul(a, b) | AExpr::Scale(a, b) if is_one(&b) => *a,
        AExpr::Dot(a, b) | AExpr::ComponentMul(a, b) | AExpr::Kronecker(a, b)
            if is_zero(&a) || is_zero(&b) =>
        {
            zero()
        }
        AExpr::Add(a, b) if is_zero(&a) => *b,
        AExpr::Add(a, b) | AExpr::Sub(a, b) if is_zero(&b) => *a,
        AExpr::Sub(a, b) if is_zero(&a) => AExpr::Neg(b),
        AExpr::Neg(a)
        | AExpr::Transpose(a)
        | AExpr::Trace(a)
        | AExpr::Sum(a)
        | AExpr::Item(a, ..)
        | AExpr::SolveForward { rhs: a, .. }
        | AExpr::PowerTangent { tangent: a, .. }
            if is_zero(&a) =>
        {
            zero()
        }
        AExpr::Div(a, _)
        | AExpr::DivBy(a, _)
        | AExpr::DivOrZero(a, _)
        | AExpr::ComponentDiv(a, _)
            if is_zero(&a) =>
        {
            zero()
        }
        other => other,
    }
}

impl fmt::Display for Tangent {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        for (target, expr) in &self.steps {
            writeln!(f, "d{target} = {expr}")?;
        }
        Ok(())
    }
}
