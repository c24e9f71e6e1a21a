//! Forward values in matrix notation: a named value by its name, any other by the expression
//! that computes it, and the definitions (`name = expression`) of every named value a
//! derivation reads, transitively, in program order.
//!
//! Inside a nested body (a `map` closure, a branch of an `if`), a parameter reads as what the
//! enclosing body passes in, so a closure reads `(v ↦ tanh(v·s))` and the result of an `if`
//! reads `a if c else b`.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use proc_macro2::TokenStream;

use crate::ir::{CallArg, CallSite, Dim, Op, Program, Shape, ValueId};

use super::constants::{constant, constants, exponent};
use super::notation::{
    ATOM, CONDITIONAL, Exponent, Math, PRODUCT, SUM, UNARY, call, difference, entrywise, factors,
    infix, inverse, is_name_char, negate, plain, power, transpose,
};

/// Renders forward values: at the top level by name, in a nested body (a `map` closure, a
/// branch of an `if`) by expression, its parameters standing for what the enclosing body
/// passes in.
pub(super) struct Values<'a> {
    prog: &'a Program,
    /// `None` at the top level; in a nested body, how each of its parameters reads.
    params: Option<Vec<Math>>,
}

impl<'a> Values<'a> {
    pub(super) fn top(prog: &'a Program) -> Self {
        Values { prog, params: None }
    }

    /// A forward value: its name if it has one, else its expression.
    pub(super) fn value(&self, v: ValueId) -> Math {
        let node = &self.prog.nodes[v];
        match (&self.params, &node.op, &node.name) {
            (Some(params), Op::Param(k), _) => params
                .get(*k)
                .cloned()
                .unwrap_or_else(|| Math::atom(plain(&node.text))),
            (None, Op::Param(_), _) => Math::atom(plain(&node.text)),
            (None, _, Some(name)) => Math::atom(plain(name)),
            _ => self.definition(v),
        }
    }

    /// The expression that computes `v`, in matrix notation.
    pub(super) fn definition(&self, v: ValueId) -> Math {
        let node = &self.prog.nodes[v];
        let arg = |k: usize| self.value(node.args[k]);
        match &node.op {
            Op::Param(_) => self.value(v),
            Op::Branch { .. }
            | Op::Build { .. }
            | Op::SetEntry(..)
            | Op::View { .. }
            | Op::SetView { .. } => Math::atom(node.text.clone()),
            Op::Extract(k) => self.branch_result(node.args[0], *k),
            Op::Call(site) => self.call_text(&node.args, site),
            Op::Const(t) | Op::BoolConst(t) => constant(t),
            Op::Add => infix(&arg(0), " + ", &arg(1), SUM),
            Op::Accumulate(minus) => minus.iter().enumerate().fold(arg(0), |acc, (k, &m)| {
                if m {
                    difference(&acc, &arg(k + 1))
                } else {
                    infix(&acc, " + ", &arg(k + 1), SUM)
                }
            }),
            Op::Sub => difference(&arg(0), &arg(1)),
            Op::Mul if node.args[0] == node.args[1] && self.is_scalar(node.args[0]) => {
                power(&arg(0), &Exponent::Literal(2))
            }
            // Scalars go in front: 2·b.
            Op::Mul if self.is_scalar(node.args[1]) && !self.is_scalar(node.args[0]) => {
                infix(&arg(1), "·", &arg(0), PRODUCT)
            }
            Op::Mul => infix(&arg(0), "·", &arg(1), PRODUCT),
            Op::Div => Math::new(
                format!("{}/{}", arg(0).at(PRODUCT), arg(1).at(ATOM)),
                PRODUCT,
            ),
            Op::Neg => negate(&arg(0)),
            Op::Transpose => transpose(&arg(0)),
            Op::Trace => call("tr", &arg(0)),
            Op::Sum => call("Σ", &arg(0)),
            Op::Mean => call("mean", &arg(0)),
            Op::Dot => Math::atom(format!("⟨{}, {}⟩", arg(0).text, arg(1).text)),
            Op::Norm => Math::atom(format!("‖{}‖", arg(0).text)),
            Op::NormSquared => Math::atom(format!("‖{}‖²", arg(0).text)),
            Op::ComponentMul => entrywise(&arg(0), " ∘ ", &arg(1)),
            Op::ComponentDiv => entrywise(&arg(0), " ⊘ ", &arg(1)),
            Op::Map(_) => self.map_text(v, &arg(0)),
            Op::Unary(f) => call(f.name(), &arg(0)),
            Op::Powi(n) | Op::MatrixPower(n) => power(&arg(0), &exponent(n)),
            Op::Powf => power(&arg(0), &Exponent::Text(arg(1))),
            Op::Max => call(
                "max",
                &Math::atom(format!("{}, {}", arg(0).text, arg(1).text)),
            ),
            Op::Min => call(
                "min",
                &Math::atom(format!("{}, {}", arg(0).text, arg(1).text)),
            ),
            Op::Index(i, j) => self.index(node.args[0], *i, *j),
            Op::DiagonalOf => call("diag", &arg(0)),
            Op::Cholesky(_) => call("chol", &arg(0)),
            Op::IdentityOf => Math::atom("I".to_owned()),
            // A loop over data's sample is named as the loop names it.
            Op::Field(tokens, _) => Math::atom(
                node.name
                    .clone()
                    .unwrap_or_else(|| crate::text::tokens(tokens)),
            ),
            Op::DiagonalProduct => call("Πdiag", &arg(0)),
            Op::TriSolve { transpose } => {
                let inverse = if *transpose { "⁻ᵀ" } else { "⁻¹" };
                infix(
                    &Math::atom(format!("{}{inverse}", arg(0).at(ATOM))),
                    "·",
                    &arg(1),
                    PRODUCT,
                )
            }
            Op::IndexAt(at) => Math::new(format!("{}{at}", arg(0).at(ATOM)), ATOM),
            Op::Extremum(e) => call(e.method(), &arg(0)),
            Op::Cross => infix(&arg(0), " × ", &arg(1), PRODUCT),
            Op::Inverse(_) => inverse(&arg(0)),
            Op::Determinant => call("det", &arg(0)),
            Op::Solve(_) => Math::new(
                format!("{}·{}", inverse(&arg(0)).text, arg(1).at(PRODUCT)),
                PRODUCT,
            ),
            Op::Kronecker => entrywise(&arg(0), " ⊗ ", &arg(1)),
            Op::TraceChain(t) => Math::atom(format!(
                "tr({})",
                factors(&node.args, t, 0, node.args.len(), |a| self.value(a))
            )),
            Op::Compare(c) => Math::new(
                format!("{} {} {}", arg(0).at(SUM), c.symbol(), arg(1).at(SUM)),
                SUM,
            ),
            Op::Not => Math::new(format!("¬{}", arg(0).at(ATOM)), UNARY),
            Op::And => Math::new(format!("{} ∧ {}", arg(0).at(ATOM), arg(1).at(ATOM)), SUM),
            Op::Or => Math::new(format!("{} ∨ {}", arg(0).at(ATOM), arg(1).at(ATOM)), SUM),
        }
    }

    /// `f(a, b)` for a call of `site` with the values `args`, its constant arguments as written.
    fn call_text(&self, args: &[ValueId], site: &CallSite) -> Math {
        let text = |t: &TokenStream| crate::text::tokens(t);
        let mut values = args.iter();
        let args: Vec<String> = site
            .args
            .iter()
            .map(|a| match a {
                CallArg::Value { .. } => values
                    .next()
                    .map_or_else(String::new, |&v| self.value(v).text),
                CallArg::Constant(t) => text(t),
            })
            .collect();
        Math::atom(format!("{}({})", text(&site.path), args.join(", ")))
    }

    /// `a.map(f)` for the `map` node `v` over `a`, a closure written without its parentheses.
    fn map_text(&self, v: ValueId, a: &Math) -> Math {
        let f = self.closure(v);
        let f = match f.strip_prefix('(').and_then(|f| f.strip_suffix(')')) {
            Some(inner) if f.contains('↦') => inner.to_string(),
            _ => f,
        };
        Math::atom(format!("{}.map({f})", a.at(ATOM)))
    }

    fn is_scalar(&self, v: ValueId) -> bool {
        self.prog.shape(v) == Shape::Scalar
    }

    /// `v[i]` of a vector, `m[(i, j)]` of a matrix.
    fn index(&self, m: ValueId, i: usize, j: usize) -> Math {
        let a = self.value(m).at(ATOM);
        match (self.prog.shape(m), i, j) {
            (Shape::Matrix(_, Dim::Lit(1)), i, 0) | (_, i, usize::MAX) => {
                Math::atom(format!("{a}[{i}]"))
            }
            (Shape::Matrix(Dim::Lit(1), _), 0, j) => Math::atom(format!("{a}[{j}]")),
            _ => Math::atom(format!("{a}[({i}, {j})]")),
        }
    }

    /// Result `k` of the `if` node `branch`: both branches' values and the condition, each in
    /// terms of the values of this body.
    fn branch_result(&self, branch: ValueId, k: usize) -> Math {
        let node = &self.prog.nodes[branch];
        let Op::Branch {
            then,
            otherwise,
            over,
        } = &node.op
        else {
            return Math::atom(node.text.clone());
        };
        let captures: Vec<Math> = node.args[1..].iter().map(|&a| self.value(a)).collect();
        let side = |body: &Program| {
            let nested = Values {
                prog: body,
                params: Some(captures.clone()),
            };
            body.results().get(k).map(|&r| nested.value(r))
        };
        if let Some(over) = over.as_ref().filter(|o| o.range.is_some()) {
            // A loop kept as a loop: the variable after its last iteration.
            let name = then
                .outputs
                .get(k)
                .and_then(|&o| then.nodes[o].name.clone())
                .unwrap_or_else(|| format!("result {k}"));
            return Math::atom(format!("{name} after {} {{ … }}", over.text()));
        }
        if let Some(over) = over {
            return match side(then) {
                Some(a) => Math::new(format!("Σ {} {}", over.text(), a.at(SUM)), SUM),
                None => Math::atom(node.text.clone()),
            };
        }
        match (side(then), side(otherwise)) {
            (Some(a), Some(b)) => Math::new(
                format!(
                    "{} if {} else {}",
                    a.at(SUM),
                    self.value(node.args[0]).at(SUM),
                    b.at(SUM)
                ),
                CONDITIONAL,
            ),
            _ => Math::atom(node.text.clone()),
        }
    }

    /// The closure of the `map` node `node`: `sigmoid`, or `(v ↦ tanh(v·s))` with the values it
    /// captures in terms of this body.
    pub(super) fn closure(&self, node: ValueId) -> String {
        let n = &self.prog.nodes[node];
        let Op::Map(sub) = &n.op else {
            return "f".into();
        };
        let Some(out) = sub.output else {
            return "f".into();
        };
        let body = &sub.nodes[out];
        if let (Op::Unary(f), [arg]) = (&body.op, body.args.as_slice())
            && matches!(sub.nodes[*arg].op, Op::Param(0))
        {
            return f.name().to_string();
        }
        let var = sub
            .param_node(0)
            .map_or_else(|| "v".to_string(), |p| plain(&sub.nodes[p].text));
        let mut params = vec![Math::atom(var.clone())];
        params.extend(n.args[1..].iter().map(|&c| self.value(c)));
        let nested = Values {
            prog: sub,
            params: Some(params),
        };
        format!("({var} ↦ {})", nested.value(out).text)
    }

    /// `name = definition` for every named value the `lines` read, and the named values those
    /// definitions read, in program order.
    pub(super) fn definitions(&self, lines: &[String]) -> Vec<String> {
        let names: HashMap<String, ValueId> = self
            .prog
            .nodes
            .iter()
            .enumerate()
            .filter_map(|(v, n)| Some((plain(n.name.as_deref()?), v)))
            .collect();
        let mut used = BTreeSet::new();
        let mut queue = Vec::new();
        let mut mark = |text: &str, queue: &mut Vec<ValueId>| {
            for word in words(text) {
                if let Some(&v) = names.get(word)
                    && used.insert(v)
                {
                    queue.push(v);
                }
            }
        };
        for line in lines {
            mark(line, &mut queue);
        }
        let mut defined = BTreeMap::new();
        while let Some(v) = queue.pop() {
            let text = self.definition(v).text;
            mark(&text, &mut queue);
            defined.insert(v, text);
        }
        let mut out: Vec<String> = defined
            .iter()
            .filter_map(|(&v, text)| {
                Some(format!(
                    "{} = {text}",
                    plain(self.prog.nodes[v].name.as_ref()?)
                ))
            })
            .collect();
        // Constants of the enclosing code that the lines read, named as such.
        let mut known = BTreeSet::new();
        constants(self.prog, &mut known);
        let read: BTreeSet<&str> = lines
            .iter()
            .chain(defined.values())
            .flat_map(|l| words(l))
            .filter(|w| known.contains(*w) && !names.contains_key(*w))
            .collect();
        out.extend(read.into_iter().map(|c| format!("{c}: a constant")));
        out
    }
}

/// The words of a rendered text that can be names: runs of letters, digits (subscript digits
/// included, as in `m₁`) and underscores, with the notation's own marks (ᵀ, powers, ᵢⱼ) as
/// separators.
fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !is_name_char(c))
        .filter(|w| !w.is_empty())
}
