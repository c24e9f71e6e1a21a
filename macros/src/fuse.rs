//! Fusion: compound forms that are cheaper as one operation than as their parts.
//!
//! First, every value is computed once: an operation repeated on the same arguments, such as
//! `(w * x)` written twice, is read from its first occurrence. Then one fused form: the trace of a chain of matrix products, tr(F₀·F₁·…·Fₖ₋₁), whose inner
//! products have no other use. As separate nodes, reverse mode would form every prefix of the
//! chain and then multiply adjoints back through it. As one node, each factor's gradient is the
//! transpose of the product of the other factors in cyclic order (∂ tr(F·C)/∂F = Cᵀ), and those
//! cyclic products share sub-products: for tr(A·X·B·Xᵀ·C), both gradients of X use C·A. The
//! plan below picks how to form them with the fewest multiplications, and the value comes for
//! free as tr(Fᵢ·Cᵢ) = ⟨Fᵢᵀ, Cᵢ⟩. Runs after `shape`, before `diff`; `rules` and `emit` read
//! the same [`plan`].
//!
//! Before: `v5 = mul v0 v1; v6 = mul v5 v2; v7 = mul v6 v4; v8 = mul v7 v3; v9 = trace v8`
//! (v4 = transpose v1).
//! After: `v9 = trace_chain v0 v1 v2 v1ᵀ v3`, whose plan forms C·A once.

use crate::ir::{Dim, Op, Program, Shape, ValueId};

/// Computes each value once: a node with the same operation on the same arguments as an earlier
/// one (`(w * x)` written twice) is read as that one, and becomes unused; within each nested body
/// too. Only where it saves work: a matrix, or a scalar from a function or a reduction. Entry
/// reads, constants and transposes stay as written, since the planner does better with each use
/// of those on its own (a pinhole projection's Jacobian, which reads p₂ twice, measured 1.12× its
/// hand-written form with them merged and 1.03× without); nor `map` closures and branches (whose
/// bodies differ under one mnemonic), and calls.
fn common_subexpressions(prog: &mut Program) {
    let mut seen: std::collections::HashMap<(String, Vec<ValueId>), ValueId> =
        std::collections::HashMap::new();
    let mut same: Vec<ValueId> = (0..prog.nodes.len()).collect();
    for id in 0..prog.nodes.len() {
        let node = &mut prog.nodes[id];
        node.args.iter_mut().for_each(|a| *a = same[*a]);
        nested_subexpressions(&mut node.op);
        let worth = worth_merging(node);
        if !worth {
            continue;
        }
        let key = (node.op.mnemonic(), node.args.clone());
        match seen.get(&key) {
            Some(&first) => same[id] = first,
            None => {
                seen.insert(key, id);
            }
        }
    }
    if let Some(out) = prog.output.as_mut() {
        *out = same[*out];
    }
    prog.outputs.iter_mut().for_each(|o| *o = same[*o]);
    prog.annotations
        .iter_mut()
        .for_each(|a| a.value = same[a.value]);
}

/// Merges the common subexpressions of the programs nested in `op` (a closure's, a branch's).
fn nested_subexpressions(op: &mut Op) {
    match op {
        Op::Map(sub) => common_subexpressions(sub),
        Op::Branch {
            then,
            otherwise,
            over,
        } => {
            common_subexpressions(then);
            if over.is_some() {
                // A loop over data runs one body: the two programs stay the same.
                otherwise.clone_from(then);
            } else {
                common_subexpressions(otherwise);
            }
        }
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
        | Op::Extremum(..)
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
        | Op::Extract(..)
        | Op::Accumulate(..)
        | Op::Call(..) => {}
    }
}

/// Whether computing `node` once instead of twice saves work: matrices, scalar functions and
/// reductions; not entry reads, constants and transposes, which cost nothing.
fn worth_merging(node: &crate::ir::Node) -> bool {
    match node.op {
        Op::Param(_)
        | Op::Map(_)
        | Op::Branch { .. }
        | Op::Call(_)
        | Op::Const(_)
        | Op::Index(..)
        | Op::IndexAt(_)
        | Op::Field(..)
        | Op::Extract(_)
        | Op::Accumulate(_)
        | Op::Transpose => false,
        Op::Unary(_)
        | Op::Powi(_)
        | Op::Powf
        | Op::Dot
        | Op::Norm
        | Op::NormSquared
        | Op::Trace
        | Op::Sum
        | Op::Mean
        | Op::Determinant
        | Op::DiagonalProduct
        | Op::Extremum(_) => true,
        // The rest are worth merging where they make a matrix.
        Op::Add
        | Op::Sub
        | Op::Mul
        | Op::Div
        | Op::Neg
        | Op::ComponentMul
        | Op::ComponentDiv
        | Op::Max
        | Op::Min
        | Op::SetEntry(..)
        | Op::View { .. }
        | Op::SetView { .. }
        | Op::DiagonalOf
        | Op::Cross
        | Op::Cholesky(..)
        | Op::TriSolve { .. }
        | Op::IdentityOf
        | Op::Inverse(..)
        | Op::Solve(..)
        | Op::Kronecker
        | Op::Build { .. }
        | Op::MatrixPower(..)
        | Op::TraceChain(..)
        | Op::Compare(..)
        | Op::Not
        | Op::And
        | Op::Or
        | Op::BoolConst(..) => node.shape.is_matrix(),
    }
}

/// Rewrites fusable forms in place; the nodes they replace become unused. Then re-associates
/// products of three matrices to the cheaper order (see [`reassociate`]). Without `traces`,
/// trace chains stay products and a trace (a second-order program differentiates those, not
/// the fused form).
pub fn fuse(prog: &mut Program, traces: bool) {
    common_subexpressions(prog);
    if traces {
        fuse_traces(prog);
    }
    reassociate(prog);
}

/// The trace of a chain of products as one operation.
fn fuse_traces(prog: &mut Program) {
    for id in 0..prog.nodes.len() {
        if !matches!(prog.nodes[id].op, Op::Trace) {
            continue;
        }
        let uses = uses(prog);
        let mut leaves = Vec::new();
        collect(prog, &uses, prog.nodes[id].args[0], true, &mut leaves);
        if leaves.len() < 3 {
            continue;
        }
        let (args, transposed): (Vec<ValueId>, Vec<bool>) = leaves.into_iter().unzip();
        prog.nodes[id].op = Op::TraceChain(transposed);
        prog.nodes[id].args = args;
    }
}

/// (A·B)·C ↔ A·(B·C), whichever multiplies fewer entries, where the inner product has no other
/// use and the factor that moves is computed before it (so arguments still come before their
/// users). With A m×k, B k×n and C n×p, (A·B)·C costs mkn + mnp and A·(B·C) knp + mkp: for
/// F = A·X·B with A 3×4, X 4×5 and B 5×2, 90 against 64. Only literal sizes are compared. The
/// value changes by rounding only, as the contract allows; each rewrite lowers the cost, so the
/// loop ends.
fn reassociate(prog: &mut Program) {
    let dims = |prog: &Program, v: ValueId| match prog.shape(v) {
        Shape::Matrix(Dim::Lit(r), Dim::Lit(c)) => Some((r, c)),
        Shape::Matrix(..) | Shape::Scalar | Shape::Bool | Shape::Tuple | Shape::Poison => None,
    };
    let product = |prog: &Program, v: ValueId| -> Option<(ValueId, ValueId)> {
        let node = &prog.nodes[v];
        let both = node.args.len() == 2 && node.args.iter().all(|&a| dims(prog, a).is_some());
        (matches!(node.op, Op::Mul) && both).then(|| (node.args[0], node.args[1]))
    };
    let mut changed = true;
    while changed {
        changed = false;
        let uses = uses(prog);
        for id in 0..prog.nodes.len() {
            let Some((l, r)) = product(prog, id) else {
                continue;
            };
            // (A·B)·C → A·(B·C), the inner node l becoming B·C.
            if let Some((a, b)) = product(prog, l)
                && uses[l] == 1
                && r < l
                && let (Some((m, k)), Some((_, n)), Some((_, q))) =
                    (dims(prog, a), dims(prog, b), dims(prog, r))
                && k * n * q + m * k * q < m * k * n + m * n * q
            {
                rewire(prog, l, b, r, Shape::matrix(k, q));
                prog.nodes[id].args = vec![a, l];
                changed = true;
                continue;
            }
            // A·(B·C) → (A·B)·C, the inner node r becoming A·B.
            if let Some((b, c)) = product(prog, r)
                && uses[r] == 1
                && l < r
                && let (Some((m, k)), Some((_, n)), Some((_, q))) =
                    (dims(prog, l), dims(prog, b), dims(prog, c))
                && m * k * n + m * n * q < k * n * q + m * k * q
            {
                rewire(prog, r, l, b, Shape::matrix(m, n));
                prog.nodes[id].args = vec![r, c];
                changed = true;
            }
        }
    }
}

/// Makes node `v` the product `a·b` of the given shape; it no longer stands for what its
/// source text or local said.
fn rewire(prog: &mut Program, v: ValueId, a: ValueId, b: ValueId, shape: Shape) {
    let operand = |u: ValueId| {
        let text = &prog.nodes[u].text;
        if text.contains(' ') {
            format!("({text})")
        } else {
            text.clone()
        }
    };
    let text = format!("{} * {}", operand(a), operand(b));
    let node = &mut prog.nodes[v];
    node.args = vec![a, b];
    node.shape = shape;
    node.text = text;
    node.name = None;
}

fn uses(prog: &Program) -> Vec<usize> {
    let mut uses = vec![0; prog.nodes.len()];
    for node in &prog.nodes {
        node.args.iter().for_each(|&a| uses[a] += 1);
    }
    if let Some(out) = prog.output {
        uses[out] += 1;
    }
    uses
}

/// The factors of the product `v`: `(value, transposed)`, descending into products and
/// transposes that nothing else uses. `root` is the traced product itself.
fn collect(prog: &Program, uses: &[usize], v: ValueId, root: bool, out: &mut Vec<(ValueId, bool)>) {
    let node = &prog.nodes[v];
    let private = root || uses[v] == 1;
    let matrices = node.args.iter().all(|&a| prog.shape(a).is_matrix());
    match node.op {
        Op::Mul if private && matrices => {
            collect(prog, uses, node.args[0], false, out);
            collect(prog, uses, node.args[1], false, out);
        }
        Op::Transpose if private => out.push((node.args[0], true)),
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
        | Op::Call(..) => out.push((v, false)),
    }
}

/// A product of the cyclic window of `len` factors starting at `start`, formed as the product
/// of its first `split` factors and the rest (`split` is 0 for a single factor).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Window {
    pub start: usize,
    pub len: usize,
    pub split: usize,
}

impl Window {
    pub fn left(self) -> Window {
        Window {
            start: self.start,
            len: self.split,
            split: 0,
        }
    }

    pub fn right(self, k: usize) -> Window {
        Window {
            start: (self.start + self.split) % k,
            len: self.len - self.split,
            split: 0,
        }
    }
}

/// How a trace chain is evaluated and differentiated.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Every multi-factor window to form, each after the windows it is made of.
    pub windows: Vec<Window>,
    /// For each factor position: the window of the other factors in cyclic order, when needed.
    pub complements: Vec<Option<Window>>,
    /// The position whose complement gives the value: tr(Fᵢ·Cᵢ).
    pub value_at: usize,
}

/// Shapes of the factors (transposes applied).
pub fn factor_shapes(prog: &Program, args: &[ValueId], transposed: &[bool]) -> Vec<(Dim, Dim)> {
    args.iter()
        .zip(transposed)
        .map(|(&a, &t)| match prog.shape(a) {
            Shape::Matrix(r, c) if t => (c, r),
            Shape::Matrix(r, c) => (r, c),
            Shape::Scalar | Shape::Bool | Shape::Tuple | Shape::Poison => {
                (Dim::Lit(1), Dim::Lit(1))
            }
        })
        .collect()
}

/// Factor sizes for the cost model (const generic sizes estimated).
pub fn estimates(dims: &[(Dim, Dim)]) -> Vec<(usize, usize)> {
    dims.iter()
        .map(|(r, c)| (r.estimate(), c.estimate()))
        .collect()
}

/// Plans the chain with factor shapes `dims`, needing the complements of `needed` positions.
pub fn plan(dims: &[(usize, usize)], needed: &[bool]) -> Plan {
    let k = dims.len();
    let mut positions: Vec<usize> = (0..k).filter(|&i| needed[i]).collect();
    if positions.is_empty() {
        positions.push(0);
    }
    // Every way to form each needed complement; pick the combination with the fewest
    // multiplications, counting a window formed the same way twice only once.
    let options: Vec<Vec<Vec<Window>>> = positions
        .iter()
        .map(|&i| trees(k, (i + 1) % k, k - 1))
        .collect();
    let combinations: usize = options.iter().map(Vec::len).product();
    let best = if combinations <= 256 {
        let mut best: Option<(usize, Vec<usize>)> = None;
        let mut choice = vec![0; options.len()];
        loop {
            let mut set: Vec<Window> = choice
                .iter()
                .enumerate()
                .flat_map(|(o, &c)| options[o][c].clone())
                .collect();
            set.sort();
            set.dedup();
            let cost: usize = set.iter().map(|w| cost(dims, *w)).sum();
            if best.as_ref().is_none_or(|(b, _)| cost < *b) {
                best = Some((cost, choice.clone()));
            }
            if !advance(&mut choice, &options) {
                break;
            }
        }
        best.map(|(_, c)| c).unwrap_or_default()
    } else {
        // Too many to try: greedily, each complement in the order that adds the fewest
        // multiplications to the windows already chosen, so later ones reuse earlier ones.
        let mut chosen: Vec<(usize, usize)> = Vec::new();
        options
            .iter()
            .map(|o| {
                let added = |c: usize| -> usize {
                    o[c].iter()
                        .filter(|w| !chosen.contains(&(w.start, w.len)))
                        .map(|w| cost(dims, *w))
                        .sum()
                };
                let c = (0..o.len()).min_by_key(|&c| added(c)).unwrap_or(0);
                chosen.extend(o[c].iter().map(|w| (w.start, w.len)));
                c
            })
            .collect()
    };
    let mut windows: Vec<Window> = best
        .iter()
        .enumerate()
        .flat_map(|(o, &c)| options[o][c].clone())
        .collect();
    windows.sort_by_key(|w| (w.len, w.start, w.split));
    // One product per span of factors, however the plan split it.
    windows.dedup_by_key(|w| (w.len, w.start));
    let mut complements = vec![None; k];
    for (o, &c) in best.iter().enumerate() {
        complements[positions[o]] = options[o][c].last().copied();
    }
    let value_at = *positions
        .iter()
        .min_by_key(|&&i| dims[i].0 * dims[i].1)
        .unwrap_or(&0);
    Plan {
        windows,
        complements,
        value_at,
    }
}

fn advance(choice: &mut [usize], options: &[Vec<Vec<Window>>]) -> bool {
    for (c, o) in choice.iter_mut().zip(options) {
        *c += 1;
        if *c < o.len() {
            return true;
        }
        *c = 0;
    }
    false
}

/// Multiplications to form `w` from its two parts.
fn cost(dims: &[(usize, usize)], w: Window) -> usize {
    let k = dims.len();
    let first = dims[w.start % k];
    let mid = dims[(w.start + w.split - 1) % k];
    let last = dims[(w.start + w.len - 1) % k];
    first.0 * mid.1 * last.1
}

/// Every binary tree forming the window (`start`, `len`), as its multi-factor windows with the
/// root last.
fn trees(k: usize, start: usize, len: usize) -> Vec<Vec<Window>> {
    if len == 1 {
        return vec![Vec::new()];
    }
    let mut out = Vec::new();
    for split in 1..len {
        let left = trees(k, start, split);
        let right = trees(k, (start + split) % k, len - split);
        for l in &left {
            for r in &right {
                let mut t: Vec<Window> = l.iter().chain(r).copied().collect();
                t.push(Window { start, len, split });
                out.push(t);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_trace_of_axbxtc_shares_c_times_a() {
        // tr(A·X·B·Xᵀ·C), 4×4 each, both X positions needed: five products, C·A shared.
        let dims = [(4, 4); 5];
        let plan = plan(&dims, &[false, true, false, true, false]);
        assert_eq!(plan.windows.len(), 5, "{plan:?}");
        assert!(
            plan.windows.iter().any(|w| w.start == 4 && w.len == 2),
            "C·A: {plan:?}"
        );
    }

    #[test]
    fn a_constant_chain_still_has_its_value() {
        let plan = plan(&[(2, 3), (3, 4), (4, 2)], &[false, false, false]);
        assert!(plan.complements[0].is_some());
        assert_eq!(plan.value_at, 0);
    }
}
