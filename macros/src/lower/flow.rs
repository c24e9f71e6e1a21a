//! Lowering of control flow: conditions, `if`/`else` as branch programs, and `for` loops over
//! literal ranges, unrolled. Part of `lower`.
//!
//! Before: `if a <= d { 0.5 * r * r } else { d * (a - 0.5 * d) }`
//! After: `v7 = if v6 …` with a `then` and an `else` program of the captured values, and
//! `v8 = extract 0 v7` for the value.

use quote::quote;
use syn::{BinOp, Expr};

use super::{Binding, Body, Lowerer, Tail, simple_binding};
use crate::ir::{Compare, Loc, Op, ValueId};
use crate::text;

impl Lowerer<'_> {
    /// `a < b`, `a >= b`, `c && d`, `c || d`: conditions, which are branched on and never
    /// differentiated.
    pub(super) fn condition(&mut self, e: &Expr, b: &syn::ExprBinary) -> Option<ValueId> {
        let op = match b.op {
            BinOp::Lt(_) => Op::Compare(Compare::Lt),
            BinOp::Le(_) => Op::Compare(Compare::Le),
            BinOp::Gt(_) => Op::Compare(Compare::Gt),
            BinOp::Ge(_) => Op::Compare(Compare::Ge),
            BinOp::Eq(_) => Op::Compare(Compare::Eq),
            BinOp::Ne(_) => Op::Compare(Compare::Ne),
            BinOp::And(_) => Op::And,
            _ => Op::Or,
        };
        // A comparison of integers (parameters, loop counters) is a constant condition.
        if let Op::Compare(_) = op
            && let (Some(l), Some(r)) = (self.try_integer(&b.left), self.try_integer(&b.right))
        {
            let symbol = &b.op;
            return self.push(Op::BoolConst(quote!((#l #symbol #r))), Vec::new(), e);
        }
        let left = self.expr(&b.left);
        let right = self.expr(&b.right);
        self.push(op, vec![left?, right?], e)
    }

    /// Ends a loop iteration or block: its `let`s go out of scope, restoring what they shadowed.
    pub(super) fn end_frame(&mut self) {
        for (name, previous, was_own) in self.frames.pop().unwrap_or_default().into_iter().rev() {
            if !was_own {
                self.own.remove(&name);
            }
            match previous {
                Some(binding) => self.scope.insert(name, binding),
                None => self.scope.remove(&name),
            };
        }
    }

    /// `for i in a..b { … }` with literal bounds: the body once per value of `i`, in order.
    pub(super) fn for_loop(&mut self, f: &syn::ExprForLoop) {
        const LIMIT: i64 = 1024;
        let Ok(counter) = simple_binding(&f.pat) else {
            self.cx
                .error_spanned_by(&f.pat, "the loop variable must be a plain name or `_`");
            return;
        };
        let counter = counter.map(ToString::to_string);
        let bound = |e: Option<&Expr>| -> Option<i64> {
            match e? {
                Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Int(int),
                    ..
                }) => int.base10_parse().ok(),
                _ => None,
            }
        };
        let Expr::Range(range) = &*f.expr else {
            self.cx.error_spanned_by(
                &f.expr,
                "`#[gradient]` loops run over a range with literal bounds, such as `0..4`",
            );
            return;
        };
        let (Some(start), Some(end)) = (bound(range.start.as_deref()), bound(range.end.as_deref()))
        else {
            self.cx.error_spanned_by(range, "the bounds of the loop must be integer literals, such as `0..4`, so it can be unrolled");
            return;
        };
        let end = if matches!(range.limits, syn::RangeLimits::Closed(_)) {
            end + 1
        } else {
            end
        };
        if end - start > LIMIT {
            self.cx.error_spanned_by(
                range,
                format!("`#[gradient]` unrolls loops of at most {LIMIT} iterations"),
            );
            return;
        }
        if let Some(label) = &f.label {
            self.cx
                .error_spanned_by(label, "loop labels are not supported");
        }
        for i in start..end {
            self.frames.push(Vec::new());
            if let Some(name) = &counter {
                self.bind(name, Binding::Known(i));
            }
            match self.statements(&f.body.stmts) {
                Tail::Value(_) => self.cx.error_spanned_by(
                    &f.body,
                    "the body of a `for` loop has no value; end its last statement with `;`",
                ),
                Tail::Unit | Tail::Poison => {}
            }
            self.end_frame();
            if self.cx.has_errors() {
                // One report of a mistake in the body, not one per iteration.
                break;
            }
        }
    }

    /// `if c { … } else { … }`. Both branches become programs of the outer values they read; their
    /// results are the `if`'s value (when `wants_value` and it has one) and every outer variable
    /// either branch assigns. Returns the value, or `Some(None)` for an `if` used as a statement.
    pub(super) fn if_expr(&mut self, e: &syn::ExprIf, wants_value: bool) -> Tail {
        let cond = self.expr(&e.cond);
        let view = self.visible();
        let mut then = Lowerer::new(self.cx, self.float, self.env, Some(&view), Body::Branch);
        then.refs.clone_from(&self.refs);
        let then_tail = then.statements(&e.then_branch.stmts);
        let mut otherwise = Lowerer::new(self.cx, self.float, self.env, Some(&view), Body::Branch);
        otherwise.refs.clone_from(&self.refs);
        otherwise.captures.clone_from(&then.captures);
        let else_tail = match &e.else_branch {
            Some((_, else_expr)) => match &**else_expr {
                Expr::Block(b) => otherwise.statements(&b.block.stmts),
                // `else if`: the inner `if` is the whole else branch.
                Expr::If(inner) => otherwise.if_expr(inner, wants_value),
                other => otherwise.expr(other).map_or(Tail::Poison, Tail::Value),
            },
            None => Tail::Unit,
        };
        then.captures.clone_from(&otherwise.captures);
        let value = match (&then_tail, &else_tail) {
            (Tail::Value(a), Tail::Value(b)) if wants_value => Some((*a, *b)),
            (Tail::Poison, _) | (_, Tail::Poison) => return Tail::Poison,
            (Tail::Value(_), Tail::Unit) if wants_value && e.else_branch.is_none() => {
                self.cx
                    .error_spanned_by(e, "an `if` with a value needs an `else` branch");
                return Tail::Poison;
            }
            _ => None,
        };
        let mut assigned = then.assigned.clone();
        assigned.extend(
            otherwise
                .assigned
                .iter()
                .filter(|n| !then.assigned.contains(n))
                .cloned(),
        );
        let loc = Loc::of(e);
        // Each branch hands back the value, then every assigned variable: its new value where the
        // branch assigned it, the value it came in with where not.
        let results = |branch: &mut Lowerer, v: Option<ValueId>| -> Option<Vec<ValueId>> {
            let mut out: Vec<ValueId> = v.into_iter().collect();
            for name in &assigned {
                // What the branch last assigned to the outer variable, or the value it came in
                // with: never a `let` of the same name inside the branch.
                let binding = match branch.outer_values.get(name) {
                    Some(b) => b.clone(),
                    None => branch.capture(name, loc)?,
                };
                match binding {
                    Binding::Value(id) => out.push(id),
                    Binding::Constant(_)
                    | Binding::Known(_)
                    | Binding::Flag(_)
                    | Binding::Poison => return None,
                }
            }
            Some(out)
        };
        let then_results = results(&mut then, value.map(|v| v.0));
        // Capture lists only grow, each from the other, so they agree on every index.
        otherwise.captures.clone_from(&then.captures);
        let else_results = results(&mut otherwise, value.map(|v| v.1));
        let names = otherwise.captures.clone();
        let (mut then_prog, mut else_prog) = (then.prog, otherwise.prog);
        self.prog.helpers.append(&mut then_prog.helpers);
        self.prog.helpers.append(&mut else_prog.helpers);
        let (Some(then_results), Some(else_results), Some(captures), Some(cond)) = (
            then_results,
            else_results,
            self.captured_values(&names, loc),
            cond,
        ) else {
            return Tail::Poison;
        };
        then_prog.outputs = then_results;
        else_prog.outputs = else_results;
        let mut args = vec![cond];
        args.extend(captures);
        let text = format!("if {} {{ … }}", text::expr(&e.cond));
        let branch = self.prog.push(
            Op::Branch {
                then: Box::new(then_prog),
                otherwise: Box::new(else_prog),
            },
            args,
            loc,
            text,
        );
        let extract = |l: &mut Self, k: usize, text: String| {
            l.prog.push(Op::Extract(k), vec![branch], loc, text)
        };
        let result = value.map(|_| extract(self, 0, format!("if {} {{ … }}", text::expr(&e.cond))));
        let first = usize::from(value.is_some());
        for (k, name) in assigned.iter().enumerate() {
            let v = extract(self, first + k, name.clone());
            self.name(v, name);
            // The variable lives outside the branch: an assignment, not a `let`.
            self.assign_binding(name, Binding::Value(v));
        }
        result.map_or(Tail::Unit, Tail::Value)
    }

    /// Rebinds an existing variable, as an assignment does, recording it for an enclosing branch.
    pub(super) fn assign_binding(&mut self, name: &str, binding: Binding) {
        self.refs.remove(name);
        if self.body == Body::Branch && !self.own.contains(name) {
            self.outer_values.insert(name.to_string(), binding.clone());
        }
        if !self.own.contains(name)
            && self.body == Body::Branch
            && !self.assigned.iter().any(|n| n == name)
        {
            self.assigned.push(name.to_string());
        }
        self.scope.insert(name.to_string(), binding);
    }
}
