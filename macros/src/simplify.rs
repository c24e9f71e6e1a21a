//! Algebra on the adjoint program, so emitted code does the least work.
//!
//! Two things happen here. *Inlining*: an adjoint with a single contribution of a cheap,
//! structured form (another adjoint, a sign or scalar factor of one, s·I, s·𝟙, an outer product
//! u·vᵀ) is never stored in a matrix; its users see the expression instead. *Simplification*:
//! the expressions users then build are rewritten with the identities below: signs and scalar
//! factors move to the smallest operand, products with s·I become scalings, transposes of
//! products become products of transposes, and chains of products are re-associated in the
//! order of fewest multiplications (the matrix-chain order, from the shapes known at compile
//! time). Runs inside `emit`, after `diff`.
//!
//! Before: `g4 = r·(2·g5)` (one use), `g3 = −g4`, `g0 += xᵀ·g3`.
//! After: `g0 = −(xᵀ·r)·(2·g5)`: a 5-vector is scaled, not the 20-vector r.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use crate::adjoint::{AExpr, Adjoint, Step};
use crate::ir::{Dim, Op, Program, Shape, ValueId};

type B = Box<AExpr>;

/// The length of the diagonal of an r×c matrix: the smaller size (r when they are the same
/// const generic).
pub fn diagonal_length(r: Dim, c: Dim) -> Dim {
    match (r.value(), c.value()) {
        (Some(a), Some(b)) => Dim::Lit(a.min(b)),
        _ => r,
    }
}

/// The shape of the diagonal of a matrix of shape `s`, a column.
pub fn diagonal_shape(s: Shape) -> Shape {
    match s {
        Shape::Matrix(r, c) => Shape::Matrix(diagonal_length(r, c), Dim::Lit(1)),
        other => other,
    }
}

/// Whether `e` is a column (n×1): one side of an outer product, or the vector of a `gemv`.
pub fn is_column(prog: &Program, adj: &Adjoint, e: &AExpr) -> bool {
    matches!(
        shape(prog, adj, e),
        Shape::Matrix(_, crate::ir::Dim::Lit(1))
    )
}

/// The shape of an adjoint expression.
#[allow(
    clippy::too_many_lines,
    reason = "one arm per kind of expression, the scalar ones listed together"
)]
pub fn shape(prog: &Program, adj: &Adjoint, e: &AExpr) -> Shape {
    match e {
        AExpr::Adj(v) | AExpr::Val(v) | AExpr::Tan(v) | AExpr::AdjTan(v) => prog.shape(*v),
        AExpr::Kronecker(a, b) => match (shape(prog, adj, a), shape(prog, adj, b)) {
            (
                Shape::Matrix(Dim::Lit(ra), Dim::Lit(ca)),
                Shape::Matrix(Dim::Lit(rb), Dim::Lit(cb)),
            ) => Shape::matrix(ra * rb, ca * cb),
            _ => Shape::Poison,
        },
        AExpr::Partial { node, .. } | AExpr::CallTangent { node } => prog.shape(*node),
        AExpr::Neg(a)
        | AExpr::Add(a, _)
        | AExpr::Sub(a, _)
        | AExpr::Scale(a, _)
        | AExpr::DivBy(a, _)
        | AExpr::ComponentMul(a, _)
        | AExpr::ComponentDiv(a, _)
        | AExpr::Cross(a, _)
        | AExpr::TriSolve { rhs: a, .. }
        | AExpr::Phi(a)
        | AExpr::SymFromLower(a)
        | AExpr::SymLower(a) => shape(prog, adj, a),
        AExpr::MatMul(a, b) => match (shape(prog, adj, a), shape(prog, adj, b)) {
            (Shape::Matrix(r, _), Shape::Matrix(_, c)) => Shape::Matrix(r, c),
            _ => Shape::Poison,
        },
        AExpr::Transpose(a) => match shape(prog, adj, a) {
            Shape::Matrix(r, c) => Shape::Matrix(c, r),
            other => other,
        },
        AExpr::Diag(_, n) => Shape::Matrix(*n, *n),
        AExpr::DiagonalOf(a) => diagonal_shape(shape(prog, adj, a)),
        AExpr::ExtremumAdjoint { node, .. } => prog.shape(prog.nodes[*node].args[0]),
        AExpr::Fill(_, s)
        | AExpr::FromDiagonal(_, s)
        | AExpr::OneHotAt(_, s, _)
        | AExpr::OneHot(_, s, ..)
        | AExpr::Item(_, _, s)
        | AExpr::Block(.., s)
        | AExpr::Embed(_, s, ..) => *s,
        AExpr::MapAdj { node, input } | AExpr::MapAdjTan { node, input, .. } => {
            if *input == 0 {
                prog.shape(prog.nodes[*node].args[0])
            } else {
                Shape::Scalar
            }
        }
        AExpr::Shared(k) | AExpr::SharedTan(k) => adj
            .steps
            .iter()
            .find_map(|s| match s {
                Step::Share { index, expr } if index == k => Some(shape(prog, adj, expr)),
                Step::Share { .. } | Step::Add { .. } => None,
            })
            .unwrap_or(Shape::Poison),
        AExpr::DeterminantGradient { matrix, .. } => prog.shape(*matrix),
        AExpr::SolveTransposed { rhs, .. } | AExpr::SolveForward { rhs, .. } => {
            shape(prog, adj, rhs)
        }
        AExpr::KroneckerAdjoint { node, left } | AExpr::KroneckerAdjointOf { node, left, .. } => {
            prog.shape(prog.nodes[*node].args[usize::from(!*left)])
        }
        AExpr::PowerAdjoint { base, .. }
        | AExpr::PowerTangent { base, .. }
        | AExpr::PowerAdjointTangent { base, .. } => prog.shape(*base),
        // A second-order program's seeds k + j (k results) are the tangents of seeds j.
        AExpr::Seed(j) => {
            let results = prog.results();
            results
                .get(*j % results.len().max(1))
                .map_or(Shape::Poison, |&r| prog.shape(r))
        }
        AExpr::BranchAdjoint { .. }
        | AExpr::BranchAdjTan { .. }
        | AExpr::CallAdjoint { .. }
        | AExpr::CallAdjTan { .. }
        | AExpr::BranchTangent { .. } => Shape::Tuple,
        AExpr::Field { shape, .. } => *shape,
        AExpr::Window { node, window } => {
            let Op::TraceChain(t) = &prog.nodes[*node].op else {
                return Shape::Poison;
            };
            let dims = crate::fuse::factor_shapes(prog, &prog.nodes[*node].args, t.as_slice());
            let k = dims.len();
            Shape::Matrix(
                dims[window.start % k].0,
                dims[(window.start + window.len - 1) % k].1,
            )
        }
        AExpr::Lit(_)
        | AExpr::Cast(_)
        | AExpr::Trace(_)
        | AExpr::Sum(_)
        | AExpr::Entry(..)
        | AExpr::Mul(..)
        | AExpr::Div(..)
        | AExpr::Dot(..)
        | AExpr::Method(..)
        | AExpr::Helper(..)
        | AExpr::Powi(..)
        | AExpr::Powf(..)
        | AExpr::DivOrZero(..)
        | AExpr::AtZero(..)
        | AExpr::ExtremumTangent { .. }
        | AExpr::EntryAt(..)
        | AExpr::Step(..) => Shape::Scalar,
    }
}

/// For each value, the expression its adjoint is inlined as, when it is not stored.
pub fn inlined(prog: &Program, adj: &Adjoint) -> Vec<Option<AExpr>> {
    let mut uses = vec![0usize; prog.nodes.len()];
    for step in &adj.steps {
        let (Step::Add { expr, .. } | Step::Share { expr, .. }) = step;
        count_adjoints(expr, &mut uses);
    }
    let mut inline: Vec<Option<AExpr>> = vec![None; prog.nodes.len()];
    let counts = adj.counts(prog.nodes.len());
    // Scalar adjoints stored with one contribution, by that contribution as written out.
    let mut stored_scalars: HashMap<String, ValueId> = HashMap::new();
    for step in &adj.steps {
        let Step::Add { target, expr } = step else {
            continue;
        };
        if counts[*target] != 1 {
            continue;
        }
        let expanded = simplify(prog, adj, expand(expr, &inline));
        if !prog.shape(*target).is_matrix() {
            // Not a parameter's, which the companions and the closures of maps read by name as
            // their results.
            if matches!(prog.nodes[*target].op, Op::Param(_)) {
                continue;
            }
            // A scalar that passes another's adjoint on unchanged (an operand of a sum, say)
            // is that adjoint, and one computed as an earlier one was (the same scaling of the
            // same adjoint, say) is the earlier one: no variable of its own. Adjoints are
            // complete before they are read and values never change, so the same expression
            // has the same value wherever it stands.
            if matches!(expanded, AExpr::Adj(_)) {
                inline[*target] = Some(expanded);
            } else {
                match stored_scalars.entry(expression_key(prog, &expanded)) {
                    Entry::Occupied(first) => inline[*target] = Some(AExpr::Adj(*first.get())),
                    Entry::Vacant(slot) => {
                        slot.insert(*target);
                    }
                }
            }
            continue;
        }
        let structured = matches!(expanded, AExpr::Adj(_) | AExpr::Diag(..) | AExpr::Fill(..));
        if structured || (uses[*target] <= 2 && cheap(prog, &expanded)) {
            inline[*target] = Some(expanded);
        }
    }
    inline
}

/// An expression written out with each constant as the literal it reads, so that two
/// expressions that read the same constant from different nodes (each literal is a node of its
/// own) compare equal.
fn expression_key(prog: &Program, e: &AExpr) -> String {
    fn constants_as_literals(prog: &Program, e: &AExpr) -> AExpr {
        if let AExpr::Val(v) = e
            && let Op::Const(tokens) = &prog.nodes[*v].op
        {
            return AExpr::Lit(tokens.to_string());
        }
        e.map_children(&mut |child| constants_as_literals(prog, child))
    }
    format!("{:?}", constants_as_literals(prog, e))
}

fn count_adjoints(e: &AExpr, uses: &mut [usize]) {
    e.for_each_adjoint(&mut |v| uses[v] += 1);
}

/// Cheap to recompute wherever it is used: signs, scalings and transposes of stored values,
/// and outer products of vectors.
fn cheap(prog: &Program, e: &AExpr) -> bool {
    match e {
        AExpr::Adj(_) | AExpr::Val(_) | AExpr::Diag(..) | AExpr::Fill(..) => true,
        AExpr::Neg(x) | AExpr::Transpose(x) => cheap(prog, x),
        AExpr::Scale(x, s) | AExpr::DivBy(x, s) => cheap(prog, x) && size(s) <= 8,
        AExpr::MatMul(u, v) => is_vector_leaf(prog, u) && is_vector_leaf(prog, v),
        AExpr::Lit(..)
        | AExpr::Cast(..)
        | AExpr::Add(..)
        | AExpr::Sub(..)
        | AExpr::Mul(..)
        | AExpr::Div(..)
        | AExpr::Dot(..)
        | AExpr::ComponentMul(..)
        | AExpr::ComponentDiv(..)
        | AExpr::OneHot(..)
        | AExpr::Embed(..)
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

/// A stored vector or its transpose.
fn is_vector_leaf(prog: &Program, e: &AExpr) -> bool {
    match e {
        AExpr::Transpose(x) => is_vector_leaf(prog, x),
        AExpr::Adj(v) | AExpr::Val(v) => prog.shape(*v).is_vector(),
        AExpr::Lit(..)
        | AExpr::Cast(..)
        | AExpr::Neg(..)
        | AExpr::Add(..)
        | AExpr::Sub(..)
        | AExpr::Mul(..)
        | AExpr::Div(..)
        | AExpr::Scale(..)
        | AExpr::DivBy(..)
        | AExpr::MatMul(..)
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

fn size(e: &AExpr) -> usize {
    1 + e.children().into_iter().map(size).sum::<usize>()
}

/// Replaces inlined adjoints by their expressions.
pub fn expand(e: &AExpr, inline: &[Option<AExpr>]) -> AExpr {
    match e {
        AExpr::Adj(v) => inline[*v].clone().unwrap_or(AExpr::Adj(*v)),
        other => other.map_children(&mut |a| expand(a, inline)),
    }
}

/// Where a sign or a scalar factor of a product is applied: to the operand or result with the
/// fewest entries, `(u·s)·vᵀ` rather than `(u·vᵀ)·s`. Run once on an expression about to be
/// emitted; `simplify` moves factors out, this moves them back in to the cheapest place.
pub fn sink(prog: &Program, adj: &Adjoint, e: AExpr) -> AExpr {
    let len = |x: &AExpr| shape(prog, adj, x).len();
    match e {
        AExpr::Scale(p, s) => match *p {
            AExpr::MatMul(a, b) => {
                let (la, lb, lz) = (len(&a), len(&b), len(&AExpr::MatMul(a.clone(), b.clone())));
                if la < lz && la <= lb {
                    AExpr::MatMul(Box::new(sink(prog, adj, AExpr::Scale(a, s))), b)
                } else if lb < lz {
                    AExpr::MatMul(a, Box::new(sink(prog, adj, AExpr::Scale(b, s))))
                } else {
                    AExpr::Scale(Box::new(AExpr::MatMul(a, b)), s)
                }
            }
            other => AExpr::Scale(Box::new(other), s),
        },
        AExpr::Neg(p) => match *p {
            AExpr::MatMul(a, b) => {
                let (la, lb, lz) = (len(&a), len(&b), len(&AExpr::MatMul(a.clone(), b.clone())));
                if la < lz && la <= lb {
                    AExpr::MatMul(Box::new(sink(prog, adj, AExpr::Neg(a))), b)
                } else if lb < lz {
                    AExpr::MatMul(a, Box::new(sink(prog, adj, AExpr::Neg(b))))
                } else {
                    AExpr::Neg(Box::new(AExpr::MatMul(a, b)))
                }
            }
            AExpr::Scale(x, s) => match sink(prog, adj, AExpr::Scale(x, s)) {
                // −(s·A) keeps its sign outside when the scaling stayed outside too.
                AExpr::Scale(x, s) => AExpr::Scale(x, Box::new(AExpr::Neg(s))),
                inner => AExpr::Neg(Box::new(inner)),
            },
            other => AExpr::Neg(Box::new(other)),
        },
        other => other,
    }
}

/// Rewrites `e` bottom-up with the identities of this module.
pub fn simplify(prog: &Program, adj: &Adjoint, e: AExpr) -> AExpr {
    let s = |a: B| Box::new(simplify(prog, adj, *a));
    let e = match e {
        AExpr::Neg(a) => AExpr::Neg(s(a)),
        AExpr::Transpose(a) => AExpr::Transpose(s(a)),
        AExpr::Scale(a, b) => AExpr::Scale(s(a), s(b)),
        AExpr::DivBy(a, b) => AExpr::DivBy(s(a), s(b)),
        AExpr::MatMul(a, b) => AExpr::MatMul(s(a), s(b)),
        AExpr::Dot(a, b) => AExpr::Dot(s(a), s(b)),
        AExpr::ComponentMul(a, b) => AExpr::ComponentMul(s(a), s(b)),
        AExpr::ComponentDiv(a, b) => AExpr::ComponentDiv(s(a), s(b)),
        other => other,
    };
    rewrite(prog, adj, e)
}

fn neg(e: AExpr) -> AExpr {
    match e {
        AExpr::Neg(x) => *x,
        x => AExpr::Neg(Box::new(x)),
    }
}

fn scale(e: AExpr, s: B) -> AExpr {
    match e {
        AExpr::Neg(x) => neg(scale(*x, s)),
        AExpr::Scale(x, t) => AExpr::Scale(x, Box::new(AExpr::Mul(t, s))),
        x => AExpr::Scale(Box::new(x), s),
    }
}

/// One level of rewriting, on simplified operands.
fn rewrite(prog: &Program, adj: &Adjoint, e: AExpr) -> AExpr {
    match e {
        AExpr::Neg(x) => neg(*x),
        AExpr::Scale(x, s) => scale(*x, s),
        // Transposes move to the leaves: (A·B)ᵀ = Bᵀ·Aᵀ, (s·I)ᵀ = s·I, (−A)ᵀ = −Aᵀ.
        AExpr::Transpose(x) => match *x {
            AExpr::Transpose(y) => *y,
            // The transpose of a stored transpose is the value it was taken of.
            AExpr::Val(v) if matches!(prog.nodes[v].op, Op::Transpose) => {
                AExpr::Val(prog.nodes[v].args[0])
            }
            AExpr::Diag(s, n) => AExpr::Diag(s, n),
            AExpr::Fill(s, Shape::Matrix(r, c)) => AExpr::Fill(s, Shape::Matrix(c, r)),
            AExpr::Neg(y) => neg(rewrite(prog, adj, AExpr::Transpose(y))),
            AExpr::Scale(y, s) => scale(rewrite(prog, adj, AExpr::Transpose(y)), s),
            AExpr::MatMul(a, b) => {
                let (bt, at) = (
                    rewrite(prog, adj, AExpr::Transpose(b)),
                    rewrite(prog, adj, AExpr::Transpose(a)),
                );
                rewrite(prog, adj, AExpr::MatMul(Box::new(bt), Box::new(at)))
            }
            y => AExpr::Transpose(Box::new(y)),
        },
        // Products with s·I are scalings; signs and scalar factors move out of products.
        AExpr::MatMul(a, b) => match (*a, *b) {
            (AExpr::Diag(s, _), y) | (y, AExpr::Diag(s, _)) => scale(y, s),
            (AExpr::Neg(x), y) => neg(rewrite(prog, adj, AExpr::MatMul(x, Box::new(y)))),
            (x, AExpr::Neg(y)) => neg(rewrite(prog, adj, AExpr::MatMul(Box::new(x), y))),
            (AExpr::Scale(x, s), y) => scale(rewrite(prog, adj, AExpr::MatMul(x, Box::new(y))), s),
            (x, AExpr::Scale(y, s)) => scale(rewrite(prog, adj, AExpr::MatMul(Box::new(x), y)), s),
            (x, y) => chain_order(prog, adj, AExpr::MatMul(Box::new(x), Box::new(y))),
        },
        // 𝟙∘A = A: the adjoint of a sum multiplies nothing.
        AExpr::ComponentMul(a, b) => match (*a, *b) {
            (AExpr::Fill(s, _), y) | (y, AExpr::Fill(s, _)) => scale(y, s),
            (x, y) => AExpr::ComponentMul(Box::new(x), Box::new(y)),
        },
        other => other,
    }
}

/// Re-associates a chain of products in the order of fewest scalar multiplications.
fn chain_order(prog: &Program, adj: &Adjoint, e: AExpr) -> AExpr {
    let mut factors = Vec::new();
    flatten(e, &mut factors);
    if factors.len() < 3 {
        return rebuild(prog, adj, factors);
    }
    let dims: Option<Vec<(usize, usize)>> = factors
        .iter()
        .map(|f| match shape(prog, adj, f) {
            Shape::Matrix(r, c) => Some((r.estimate(), c.estimate())),
            Shape::Scalar | Shape::Bool | Shape::Tuple | Shape::Poison => None,
        })
        .collect();
    let Some(dims) = dims else {
        return rebuild(prog, adj, factors);
    };
    let n = factors.len();
    // cost[i][j]: fewest multiplications for factors i..=j; split[i][j]: where to split them.
    let mut cost = vec![vec![0usize; n]; n];
    let mut split = vec![vec![0usize; n]; n];
    for len in 2..=n {
        for i in 0..=n - len {
            let j = i + len - 1;
            cost[i][j] = usize::MAX;
            for k in i..j {
                let c = cost[i][k] + cost[k + 1][j] + dims[i].0 * dims[k].1 * dims[j].1;
                if c < cost[i][j] {
                    cost[i][j] = c;
                    split[i][j] = k;
                }
            }
        }
    }
    let mut slots: Vec<Option<AExpr>> = factors.into_iter().map(Some).collect();
    build(prog, adj, &mut slots, &split, 0, n - 1)
}

fn flatten(e: AExpr, out: &mut Vec<AExpr>) {
    match e {
        AExpr::MatMul(a, b) => {
            flatten(*a, out);
            flatten(*b, out);
        }
        other => out.push(other),
    }
}

fn rebuild(prog: &Program, adj: &Adjoint, factors: Vec<AExpr>) -> AExpr {
    factors
        .into_iter()
        .reduce(|a, b| product(prog, adj, a, b))
        .expect("invariant: a product has factors")
}

fn build(
    prog: &Program,
    adj: &Adjoint,
    slots: &mut [Option<AExpr>],
    split: &[Vec<usize>],
    i: usize,
    j: usize,
) -> AExpr {
    if i == j {
        return slots[i]
            .take()
            .expect("invariant: each factor is used once");
    }
    let k = split[i][j];
    let left = build(prog, adj, slots, split, i, k);
    let right = build(prog, adj, slots, split, k + 1, j);
    product(prog, adj, left, right)
}

/// `A·B`, or the stored value that already is `A·B` (or `(B·A)ᵀ` for `Aᵀ·Bᵀ`). Products that
/// feed a trace are left alone: the forward pass may not form them.
fn product(prog: &Program, adj: &Adjoint, a: AExpr, b: AExpr) -> AExpr {
    let stored = |x: usize, y: usize| {
        (0..prog.nodes.len()).find(|&n| {
            let node = &prog.nodes[n];
            adj.live[n]
                && matches!(node.op, Op::Mul)
                && node.args == [x, y]
                && prog.shape(x).is_matrix()
                && prog.shape(y).is_matrix()
                && !prog
                    .nodes
                    .iter()
                    .any(|u| matches!(u.op, Op::Trace) && u.args == [n])
        })
    };
    match (&a, &b) {
        (AExpr::Val(x), AExpr::Val(y)) => {
            if let Some(n) = stored(*x, *y) {
                return AExpr::Val(n);
            }
        }
        (AExpr::Transpose(x), AExpr::Transpose(y)) => {
            if let (AExpr::Val(x), AExpr::Val(y)) = (&**x, &**y)
                && let Some(n) = stored(*y, *x)
            {
                return AExpr::Transpose(Box::new(AExpr::Val(n)));
            }
        }
        _ => {}
    }
    AExpr::MatMul(Box::new(a), Box::new(b))
}
