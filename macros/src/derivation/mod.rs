//! The derivation, in matrix notation, for the doc comment of `{name}_grad`.
//!
//! Each differentiated parameter's gradient is the sum of the contributions `diff` made to it,
//! with every adjoint replaced by its own contributions until only forward values remain; a
//! few exact algebraic simplifications (constants folded, signs and scalar factors pulled to
//! the front, `x/x` cancelled, repeated factors written as powers, `(Aᵀ)ᵀ` = `A`) then make it
//! read like a textbook line. The values a line names are defined under it, one version of a
//! variable per name (`m`, `m₁`, `m₂`, as `lower` names them), each by the expression that
//! computes that version; the result of an `if` is defined by both branches and its condition.
//!
//! A gradient is shown in closed form only when it is one: when it still reads the adjoint
//! of an `if`, of a call, or a value the adjoint program shares, or grows past what a person
//! would read, the derivation shows the adjoint program line by line instead, defining every
//! value and shared quantity it reads. The closed forms are exposed as expression trees, so
//! the tests evaluate exactly what is rendered. Runs after `diff`, for `emit`.
//!
//! Before: `let r = y - x * beta; r.norm_squared()`, with respect to `beta`.
//! After: `∇beta = −2·xᵀ·r`, where `r = y − x·beta`.
//!
//! The entry point and the choice between a closed form and the listing are here; the cases
//! live in submodules: `closed` (adjoints substituted), `algebra` (exact simplification),
//! `render` (adjoint expressions as text), `listing` (the adjoint program), `values` (forward
//! values and their definitions), `notation` (operators and precedence) and `constants`
//! (Rust constant expressions as notation).

use std::cell::Cell;
use std::collections::BTreeMap;

use crate::adjoint::{AExpr, Adjoint, Step};
use crate::ir::{Program, ValueId};

use notation::{Math, plain};
use values::Values;

mod algebra;
mod closed;
mod constants;
mod listing;
mod notation;
mod render;
mod values;

/// Longest gradient expression shown inline; longer ones fall back to the adjoint program.
const MAX_INLINE: usize = 240;

/// Most nodes a gradient's expression tree may grow to while adjoints are substituted; a
/// larger one is no closed form a person would read, and the adjoint program is shown.
const MAX_TREE: usize = 500;

/// What the doc comment shows, and the closed forms it shows as trees.
pub struct Derivation {
    /// The markdown lines: one per gradient, then the definitions they use; or the adjoint
    /// program with its definitions.
    pub lines: Vec<String>,
    /// One per gradient shown in closed form (none when the adjoint program is shown).
    #[cfg_attr(
        not(test),
        allow(dead_code, reason = "the tests evaluate the trees that are rendered")
    )]
    pub closed: Vec<ClosedForm>,
}

/// A gradient shown in closed form: the tree rendered on its line.
#[cfg_attr(
    not(test),
    allow(dead_code, reason = "the tests evaluate the trees that are rendered")
)]
pub struct ClosedForm {
    /// The parameter (its index among the function's parameters).
    pub param: usize,
    /// The gradient, an expression of forward values only.
    pub expr: AExpr,
    /// The adjoints of the `map` and Kronecker nodes the tree reads (through `MapAdj` and
    /// `KroneckerAdjoint`), each an expression of forward values, later nodes first: the order
    /// in which they can be evaluated.
    pub adjoints: Vec<(ValueId, AExpr)>,
}

/// The derivation of the gradients with respect to `params` (index, name).
pub fn derivation(prog: &Program, adj: &Adjoint, params: &[(usize, String)]) -> Derivation {
    let d = Deriver::new(prog, adj, false);
    let mut lines = Vec::new();
    let mut closed = Vec::new();
    for (index, name) in params {
        let Some(p) = prog.param_node(*index).filter(|&p| adj.nonzero[p]) else {
            lines.push(format!("∇{} = 0", plain(name)));
            continue;
        };
        let Some(form) = d.closed_form(*index, p) else {
            return Deriver::new(prog, adj, true).program(params);
        };
        let text = d.render(&form.expr).text;
        if text.chars().count() > MAX_INLINE {
            return Deriver::new(prog, adj, true).program(params);
        }
        lines.push(format!("∇{} = {text}", plain(name)));
        closed.push(form);
    }
    let definitions = Values::top(prog).definitions(&lines);
    if !definitions.is_empty() {
        lines.push(String::new());
        lines.push("where".to_string());
        lines.extend(definitions);
    }
    Derivation { lines, closed }
}

/// The adjoint of a value as an expression of forward values, and its rendering.
struct Deriver<'a> {
    prog: &'a Program,
    adj: &'a Adjoint,
    values: Values<'a>,
    /// Whether node adjoints read by a `map` or Kronecker adjoint are written as `ḡn` (the
    /// adjoint program) rather than substituted (a closed form).
    listing: bool,
    /// Substitutions left before a gradient's tree is too large to be a closed form.
    budget: Cell<usize>,
    /// The contributions to each value's adjoint, in program order, and each shared value, by
    /// number: what a substitution looks up.
    contributions: Vec<Vec<&'a AExpr>>,
    shared: BTreeMap<usize, &'a AExpr>,
    /// A determinant whose gradient det·A⁻ᵀ is being rendered divided by det: as A⁻ᵀ.
    cancelled: Cell<Option<ValueId>>,
}

impl<'a> Deriver<'a> {
    fn new(prog: &'a Program, adj: &'a Adjoint, listing: bool) -> Self {
        let mut contributions = vec![Vec::new(); prog.nodes.len()];
        let mut shared = BTreeMap::new();
        for step in &adj.steps {
            match step {
                Step::Add { target, expr } => contributions[*target].push(expr),
                Step::Share { index, expr } => {
                    shared.insert(*index, expr);
                }
            }
        }
        Deriver {
            contributions,
            shared,
            prog,
            adj,
            values: Values::top(prog),
            listing,
            budget: Cell::new(MAX_TREE),
            cancelled: Cell::new(None),
        }
    }

    fn value(&self, v: ValueId) -> Math {
        self.values.value(v)
    }
}
