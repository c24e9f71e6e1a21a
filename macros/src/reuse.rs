//! Products of forward values that the reverse pass would compute more than once, computed once.
//!
//! Rules written one node at a time can each need the same product of two forward values: the
//! inverse's rule and the product's rule in rᵀ·(A⁻¹·r) both form A⁻ᵀ·r, one inside a `ger`, one
//! as the `gemm_tr` that accumulates it. After the reverse pass is planned, every product of two
//! forward values (each possibly transposed) that appears twice or more, in the contributions or
//! as the product an in-place kernel would form, becomes one shared value, `let t = A·B`, before
//! its first use; an in-place update of that product becomes `g += α·t`.

use crate::adjoint::{AExpr, Step};
use crate::ir::ValueId;
use crate::plan::{Kernel, Plan, Reverse, Update};

/// The first number of the products shared here, above any the adjoint program numbers and
/// below those a sweep hoists (`emit::hessian::HOISTED`).
pub const SHARED_PRODUCTS: usize = 1 << 19;

/// A product of two forward values, each transposed or not: (A, Aᵀ?, B, Bᵀ?).
type Key = (ValueId, bool, ValueId, bool);

/// A forward value, possibly transposed.
fn factor(e: &AExpr) -> Option<(ValueId, bool)> {
    if let AExpr::Val(v) = e {
        return Some((*v, false));
    }
    if let AExpr::Transpose(x) = e
        && let AExpr::Val(v) = **x
    {
        return Some((v, true));
    }
    None
}

/// The product `e` is, when it is one of two forward values.
fn key(e: &AExpr) -> Option<Key> {
    let AExpr::MatMul(a, b) = e else {
        return None;
    };
    let ((a, at), (b, bt)) = (factor(a)?, factor(b)?);
    Some((a, at, b, bt))
}

/// The product an in-place kernel forms from `a` and `b` (not an outer product: those are cheap).
fn kernel_key(kernel: Kernel, a: &AExpr, b: &AExpr) -> Option<Key> {
    let ((a, at), (b, bt)) = (factor(a)?, factor(b)?);
    match kernel {
        Kernel::GemmTr => Some((a, !at, b, bt)),
        Kernel::Gemm => Some((a, at, b, bt)),
        Kernel::Ger => None,
    }
}

fn product(k: Key) -> AExpr {
    let side = |v: ValueId, t: bool| {
        let v = Box::new(AExpr::Val(v));
        Box::new(if t { AExpr::Transpose(v) } else { *v })
    };
    AExpr::MatMul(side(k.0, k.1), side(k.2, k.3))
}

/// Counts the products of forward values in `e`, by key, with the statement first reading each.
fn count(e: &AExpr, at: usize, found: &mut Vec<(Key, usize, usize)>) {
    if let Some(k) = key(e) {
        note(k, at, found);
        return;
    }
    for child in e.children() {
        count(child, at, found);
    }
}

fn note(k: Key, at: usize, found: &mut Vec<(Key, usize, usize)>) {
    match found.iter_mut().find(|(key, ..)| *key == k) {
        Some((_, _, n)) => *n += 1,
        None => found.push((k, at, 1)),
    }
}

/// `e` with every product in `shared` read as its shared value.
fn replace(e: &AExpr, shared: &[(Key, usize)]) -> AExpr {
    if let Some(k) = key(e)
        && let Some((_, index)) = shared.iter().find(|(key, _)| *key == k)
    {
        return AExpr::Shared(*index);
    }
    e.map_children(&mut |c| replace(c, shared))
}

fn replace_update(update: &Update, shared: &[(Key, usize)]) -> Update {
    let r = |e: &AExpr| replace(e, shared);
    match update {
        Update::Product {
            kernel,
            negate,
            alpha,
            a,
            b,
        } => {
            if let Some(k) = kernel_key(*kernel, a, b)
                && let Some((_, index)) = shared.iter().find(|(key, _)| *key == k)
            {
                let t = AExpr::Shared(*index);
                let e = match alpha {
                    Some(alpha) => AExpr::Scale(Box::new(t), Box::new(r(alpha))),
                    None => t,
                };
                return if *negate {
                    Update::Sub(e)
                } else {
                    Update::Add(e)
                };
            }
            Update::Product {
                kernel: *kernel,
                negate: *negate,
                alpha: alpha.as_ref().map(r),
                a: r(a),
                b: r(b),
            }
        }
        Update::Add(e) => Update::Add(r(e)),
        Update::Sub(e) => Update::Sub(r(e)),
        Update::Entry(i, j, e) => Update::Entry(*i, *j, r(e)),
        Update::Block(i, j, e) => Update::Block(*i, *j, r(e)),
        Update::ToDiagonal(e) => Update::ToDiagonal(r(e)),
        Update::EntryAt(at, e) => Update::EntryAt(at.clone(), r(e)),
        Update::AtExtremum(node, e) => Update::AtExtremum(*node, r(e)),
        Update::Constant(e) => Update::Constant(r(e)),
        Update::Diagonal(e, n) => Update::Diagonal(r(e), *n),
    }
}

impl Plan<'_> {
    /// Shares every product of forward values the reverse pass reads more than once.
    pub(crate) fn share_products(&mut self) {
        let mut found = Vec::new();
        for (at, step) in self.reverse.iter().enumerate() {
            match step {
                Reverse::Share { expr, .. } | Reverse::Declare { expr, .. } => {
                    count(expr, at, &mut found);
                }
                Reverse::Update { update, .. } => {
                    if let Update::Product { kernel, a, b, .. } = update
                        && let Some(k) = kernel_key(*kernel, a, b)
                    {
                        note(k, at, &mut found);
                    }
                    update.for_each_expr(&mut |e| count(e, at, &mut found));
                }
            }
        }
        let repeated: Vec<(Key, usize)> = found
            .into_iter()
            .filter(|&(.., n)| n > 1)
            .map(|(k, at, _)| (k, at))
            .collect();
        if repeated.is_empty() {
            return;
        }
        let shared: Vec<(Key, usize)> = repeated
            .iter()
            .enumerate()
            .map(|(n, &(k, _))| (k, SHARED_PRODUCTS + n))
            .collect();
        let mut out = Vec::with_capacity(self.reverse.len() + shared.len());
        for (at, step) in self.reverse.iter().enumerate() {
            for (&(k, first), &(_, index)) in repeated.iter().zip(&shared) {
                if first == at {
                    out.push(Reverse::Share {
                        index,
                        expr: product(k),
                    });
                    // Where the shapes of shared values are looked up.
                    self.adj.steps.push(Step::Share {
                        index,
                        expr: product(k),
                    });
                }
            }
            out.push(match step {
                Reverse::Share { index, expr } => Reverse::Share {
                    index: *index,
                    expr: replace(expr, &shared),
                },
                Reverse::Declare {
                    target,
                    mutable,
                    expr,
                } => Reverse::Declare {
                    target: *target,
                    mutable: *mutable,
                    expr: replace(expr, &shared),
                },
                Reverse::Update { target, update } => Reverse::Update {
                    target: *target,
                    update: replace_update(update, &shared),
                },
            });
        }
        self.reverse = out;
    }
}
