//! Lowering of control flow: conditions, `if`/`else` as branch programs, and `for` loops over
//! literal ranges, unrolled. Part of `lower`.
//!
//! Before: `if a <= d { 0.5 * r * r } else { d * (a - 0.5 * d) }`
//! After: `v7 = if v6 …` with a `then` and an `else` program of the captured values, and
//! `v8 = extract 0 v7` for the value.

use proc_macro2::{Ident, Span, TokenStream};
use quote::quote;
use syn::{BinOp, Expr, Pat};

use super::{Binding, Body, Lowerer, Tail, simple_binding};
use crate::ir::{Compare, Dim, Loc, Op, Over, Program, Shape, ValueId};
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
        if !matches!(&*f.expr, Expr::Range(_)) {
            self.data_loop(f);
            return;
        }
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
            return;
        };
        // `0..N` with N a const generic parameter: a loop that can only stay a loop.
        if let (Some(0), Some(Expr::Path(p))) =
            (bound(range.start.as_deref()), range.end.as_deref())
            && matches!(range.limits, syn::RangeLimits::HalfOpen(_))
            && let Some(n) = p.path.get_ident()
            && self.env.consts.iter().any(|c| n == c)
        {
            self.symbolic_loop(f, counter.as_deref(), Dim::symbol(&n.to_string()));
            return;
        }
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
        if let Some(label) = &f.label {
            self.cx
                .error_spanned_by(label, "loop labels are not supported");
        }
        if self.keep_loops
            && end - start > KEEP_FROM
            && start >= 0
            && matches!(self.body, Body::Function | Body::Branch)
            && self.range_loop(
                f,
                counter.as_deref(),
                start,
                Dim::Lit(usize::try_from(end).unwrap_or(0)),
                false,
            )
        {
            return;
        }
        if end - start > LIMIT {
            self.cx.error_spanned_by(
                range,
                format!(
                    "this loop would be unrolled, and `#[gradient]` unrolls loops of at most \
                     {LIMIT} iterations (a loop of more stays a loop where its body reads the \
                     counter only as a number or a run-time index, outside `#[hessian]`)"
                ),
            );
            return;
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
        let mut then = self.branch_lowerer(&view);
        let then_tail = then.statements(&e.then_branch.stmts);
        let mut otherwise = self.branch_lowerer(&view);
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
                    | Binding::Counter(_)
                    | Binding::Known(_)
                    | Binding::Flag(_)
                    | Binding::Data(..)
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
                over: None,
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
            if self.assigns_past_data_loop(e, name) {
                continue;
            }
            let v = extract(self, first + k, name.clone());
            self.name(v, name);
            // The variable lives outside the branch: an assignment, not a `let`.
            self.assign_binding(name, Binding::Value(v));
        }
        result.map_or(Tail::Unit, Tail::Value)
    }

    /// A lowerer for a branch of an `if` in this code, seeing the names of `view`.
    fn branch_lowerer<'v>(
        &'v self,
        view: &'v std::collections::HashMap<String, Binding>,
    ) -> Lowerer<'v> {
        let mut branch = Lowerer::new(self.cx, self.float, self.env, Some(view), Body::Branch);
        branch.refs.clone_from(&self.refs);
        branch.factors.clone_from(&self.factors);
        branch.data_depth = self.data_depth;
        branch.keep_loops = self.keep_loops;
        branch
    }

    /// Reports an `if` inside a loop over data that assigns to `name` outside the loop.
    fn assigns_past_data_loop(&self, e: &syn::ExprIf, name: &str) -> bool {
        let outside = self.body == Body::Data && !self.own.contains(name);
        if outside {
            self.cx.error_spanned_by(
                e,
                format!(
                    "an `if` inside a loop over data cannot assign to `{name}`, which is outside \
                     the loop; add the `if`'s value instead, as in \
                     `{name} += if … {{ … }} else {{ 0.0 }};`"
                ),
            );
        }
        outside
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

/// Counted loops of more iterations than this stay loops (where their body allows it).
const KEEP_FROM: i64 = 64;

/// The error for an assignment to an outer variable, other than `+=`/`-=`, in a loop over data.
pub(super) fn data_assignment(name: &str) -> String {
    format!(
        "a loop over data only adds to the variables outside it, with `{name} += …` or \
         `{name} -= …`; any other assignment to `{name}` would carry a value from one sample to \
         the next, which is not supported"
    )
}

const DATA_LOOPS: &str = "a `for` loop runs over a range with literal bounds, such as `0..4`, \
or over data: slices or arrays of samples passed as parameters, as in `for x in xs.iter()` or \
`for (x, y) in xs.iter().zip(ys.iter())` with `xs: &[SVector<f64, 3>]` and `ys: &[f64]`";

/// The variables a loop over data accumulates into, each with the terms one sample adds to it
/// in order (a value, and whether it is subtracted) and where it was first added to.
pub(super) type Accumulated = Vec<(String, Vec<Term>, Loc)>;

/// A value added to a variable, or subtracted from it when the flag is set.
pub(super) type Term = (ValueId, bool);

/// What a simple sample pattern binds: `Ok(Some(x))` for `x` or `&x`, `Ok(None)` for `_`.
/// `pat` without the parentheses around it.
fn unparenthesized(pat: &Pat) -> &Pat {
    match pat {
        Pat::Paren(p) => unparenthesized(&p.pat),
        other => other,
    }
}

fn sample_binding(pat: &Pat) -> Result<Option<&syn::Ident>, &Pat> {
    match pat {
        Pat::Reference(r) => sample_binding(&r.pat),
        Pat::Paren(p) => sample_binding(&p.pat),
        other => simple_binding(other),
    }
}

impl Lowerer<'_> {
    /// `for x in xs.iter() { loss += …; }` and `for (x, y) in xs.iter().zip(ys.iter()) { … }`:
    /// one body, run once per sample, whose results are what a sample adds to each outer
    /// variable it accumulates into; the loop's node sums them (see [`Op::Branch`]).
    fn data_loop(&mut self, f: &syn::ExprForLoop) {
        if let Some(label) = &f.label {
            self.cx
                .error_spanned_by(label, "loop labels are not supported");
        }
        let Some(sources) = self.data_sources(&f.expr) else {
            return;
        };
        let names: Option<Vec<Option<&syn::Ident>>> = match (&*f.pat, sources.len()) {
            (pat, 1) => sample_binding(pat).ok().map(|b| vec![b]),
            (Pat::Tuple(t), n) if t.elems.len() == n => {
                t.elems.iter().map(|p| sample_binding(p).ok()).collect()
            }
            _ => None,
        };
        let Some(names) = names else {
            let example = if sources.len() == 1 {
                "`x` (or `&x`)"
            } else {
                "`(x, y)`, one name per data set"
            };
            self.cx.error_spanned_by(
                &f.pat,
                format!("the samples of a loop over data are bound to plain names: {example}"),
            );
            return;
        };
        let depth = self.data_depth + 1;
        let vars: Vec<Ident> = (0..sources.len())
            .map(|k| Ident::new(&format!("__mg_s{depth}_{k}"), Span::mixed_site()))
            .collect();
        let Some((prog, captures, accumulated)) = self.data_body(f, &names, &sources, &vars) else {
            return;
        };
        let loc = Loc::of(&f.expr);
        let cond = self
            .prog
            .push(Op::BoolConst(quote!(true)), Vec::new(), loc, "true".into());
        let over = Over {
            slices: sources
                .iter()
                .map(|(t, n, _)| (t.clone(), n.clone()))
                .collect(),
            vars,
            pattern: text::tokens(&f.pat),
            range: None,
        };
        let text = over.text();
        let mut args = vec![cond];
        args.extend(captures);
        let node = self.prog.push(
            Op::Branch {
                then: Box::new(prog.clone()),
                otherwise: Box::new(prog),
                over: Some(Box::new(over)),
            },
            args,
            loc,
            text,
        );
        // Result k of the loop is the sum over the samples of term k of the body.
        let mut k = 0;
        for (name, terms, at) in &accumulated {
            let mut sums = Vec::new();
            for &(_, minus) in terms {
                let sum = self
                    .prog
                    .push(Op::Extract(k), vec![node], loc, format!("Σ {name}"));
                sums.push((sum, minus));
                k += 1;
            }
            self.add_to(name, Some(sums), *at);
        }
    }

    /// The body of a loop over data as a program of the outer values it reads, with each sample
    /// bound to its name (read in place from `vars`) and one result per accumulated variable:
    /// what the sample adds to it. Also the captured values, and the accumulated variables with
    /// where each was first added to. `None` after an error.
    fn data_body(
        &mut self,
        f: &syn::ExprForLoop,
        names: &[Option<&syn::Ident>],
        sources: &[(TokenStream, String, Option<Shape>)],
        vars: &[Ident],
    ) -> Option<(Program, Vec<ValueId>, Accumulated)> {
        let view = self.visible();
        let mut body = Lowerer::new(self.cx, self.float, self.env, Some(&view), Body::Data);
        body.refs.clone_from(&self.refs);
        body.factors.clone_from(&self.factors);
        body.data_depth = self.data_depth + 1;
        for ((name, (_, _, shape)), var) in names.iter().zip(sources).zip(vars) {
            let Some(name) = name else { continue };
            // An integer sample is a constant of the body, as an integer parameter is.
            let Some(shape) = shape else {
                body.bind(&name.to_string(), Binding::Constant(quote!((*#var))));
                continue;
            };
            let sample = body.prog.push(
                Op::Field(quote!((*#var)), *shape),
                Vec::new(),
                Loc::of(name),
                name.to_string(),
            );
            body.name(sample, name);
            body.bind(&name.to_string(), Binding::Value(sample));
        }
        // `.iter()` yields references: a sample bound as `x` is one, and a call given `x` passes
        // it as such; bound as `&x` it is a value.
        let patterns: Vec<&Pat> = match &*f.pat {
            Pat::Tuple(t) if sources.len() > 1 => t.elems.iter().collect(),
            pat => vec![pat],
        };
        for (name, pat) in names.iter().zip(patterns) {
            let Some(name) = name else { continue };
            if matches!(unparenthesized(pat), Pat::Reference(_)) {
                body.refs.remove(&name.to_string());
            } else {
                body.refs.insert(name.to_string());
            }
        }
        let before = self.cx.count();
        if let Tail::Value(_) = body.statements(&f.body.stmts) {
            self.cx.error_spanned_by(
                &f.body,
                "the body of a `for` loop has no value; end its last statement with `;`",
            );
        }
        for (name, _, at) in &body.accumulated {
            if body.captures.contains(name) {
                self.cx.push(at.error(format!(
                    "this loop over data reads `{name}` and adds to it: each sample would see the \
                     sum so far, which a loop over data does not carry from one sample to the \
                     next; read `{name}` after the loop, or add to a new variable"
                )));
            }
        }
        self.prog.helpers.append(&mut body.prog.helpers);
        let accumulated = std::mem::take(&mut body.accumulated);
        if accumulated.is_empty() {
            if self.cx.count() == before {
                self.cx.error_spanned_by(
                    &f.body,
                    "this loop over data adds to nothing: accumulate what each sample contributes \
                     with `+=` or `-=` into a variable declared before the loop, as in `loss += …;`",
                );
            }
            return None;
        }
        let captures = self.captured_values(&body.captures, Loc::of(&f.expr));
        if self.cx.count() != before {
            for (name, _, at) in &accumulated {
                self.add_to(name, None, *at);
            }
            return None;
        }
        let mut prog = body.prog;
        prog.outputs = accumulated
            .iter()
            .flat_map(|a| a.1.iter().map(|t| t.0))
            .collect();
        Some((prog, captures?, accumulated))
    }

    /// `for i in start..end { … }` kept as a loop: the body lowered once, with `i` a run-time
    /// integer, as the program of one iteration whose results are the new values of the outer
    /// variables it assigns. `false` (nothing recorded) where the body needs `i` known at
    /// compile time (an entry assigned at `i`, a block at offset `i`), assigns nothing, or
    /// has any other error: the loop is then unrolled, which reports the errors.
    fn range_loop(
        &mut self,
        f: &syn::ExprForLoop,
        counter: Option<&str>,
        start: i64,
        end: Dim,
        report: bool,
    ) -> bool {
        let depth = self.data_depth + 1;
        let var = Ident::new(&format!("__mg_i{depth}"), Span::mixed_site());
        let quiet = crate::ctxt::Ctxt::new();
        // A loop that cannot be unrolled reports its body's errors; others are tried quietly.
        let scratch: &crate::ctxt::Ctxt = if report { self.cx } else { &quiet };
        let before = scratch.count();
        let view = self.visible();
        let mut body = Lowerer::new(scratch, self.float, self.env, Some(&view), Body::Branch);
        body.refs.clone_from(&self.refs);
        body.factors.clone_from(&self.factors);
        body.data_depth = depth;
        body.keep_loops = self.keep_loops;
        if let Some(name) = counter {
            body.bind(name, Binding::Counter(quote!((#var))));
        }
        let tail = body.statements(&f.body.stmts);
        let loc = Loc::of(f);
        if scratch.count() != before || !matches!(tail, Tail::Unit) || body.assigned.is_empty() {
            return false;
        }
        // Every variable the body assigns is carried: its value at the start of an iteration
        // is a parameter of the body, its value at the end a result.
        let assigned = body.assigned.clone();
        let mut outputs = Vec::new();
        let mut carried = Vec::new();
        for name in &assigned {
            let out = match body.outer_values.get(name) {
                Some(Binding::Value(v)) => *v,
                Some(
                    Binding::Constant(_)
                    | Binding::Counter(_)
                    | Binding::Known(_)
                    | Binding::Flag(_)
                    | Binding::Data(..)
                    | Binding::Poison,
                )
                | None => return false,
            };
            let Some(Binding::Value(param)) = body.capture(name, loc) else {
                return false;
            };
            let Op::Param(k) = body.prog.nodes[param].op else {
                return false;
            };
            outputs.push(out);
            carried.push(k);
        }
        if scratch.count() != before {
            return false;
        }
        let names = body.captures.clone();
        let mut prog = body.prog;
        self.prog.helpers.append(&mut prog.helpers);
        let Some(captures) = self.captured_values(&names, loc) else {
            return false;
        };
        prog.outputs = outputs;
        let cond = self
            .prog
            .push(Op::BoolConst(quote!(true)), Vec::new(), loc, "true".into());
        let over = Over {
            slices: Vec::new(),
            vars: Vec::new(),
            pattern: counter.unwrap_or("_").to_string(),
            range: Some(crate::ir::Range {
                start,
                end,
                counter: var,
                carried,
            }),
        };
        let text = over.text();
        let mut args = vec![cond];
        args.extend(captures);
        let node = self.prog.push(
            Op::Branch {
                then: Box::new(prog.clone()),
                otherwise: Box::new(prog),
                over: Some(Box::new(over)),
            },
            args,
            loc,
            text,
        );
        for (k, name) in assigned.iter().enumerate() {
            let v = self
                .prog
                .push(Op::Extract(k), vec![node], loc, name.clone());
            self.name(v, name);
            self.assign_binding(name, Binding::Value(v));
        }
        true
    }

    /// `for i in 0..N` with `N` a const generic parameter: it cannot be unrolled, so it stays a
    /// loop or is an error that says why.
    fn symbolic_loop(&mut self, f: &syn::ExprForLoop, counter: Option<&str>, n: Dim) {
        let refuse = |this: &Self, why: &str| {
            this.cx.error_spanned_by(
                &f.expr,
                format!(
                    "this loop runs `{n}` times, a const generic count, so it must stay a loop; \
                     {why}"
                ),
            );
        };
        if !matches!(self.body, Body::Function | Body::Branch) {
            refuse(
                self,
                "it can be neither in a closure nor in a loop over data",
            );
            return;
        }
        let before = self.cx.count();
        if !self.range_loop(f, counter, 0, n, true) && self.cx.count() == before {
            refuse(
                self,
                "its body must assign at least one variable declared before the loop, and \
                 end with a statement",
            );
        }
    }

    /// The data sets a loop runs over, with the expression naming each in generated code, its
    /// name, and the shape of a sample: `xs.iter()`, `xs`, `&xs`, and `a.zip(b)` of those.
    fn data_sources(&mut self, e: &Expr) -> Option<Vec<(TokenStream, String, Option<Shape>)>> {
        if let Expr::MethodCall(m) = e
            && m.method == "zip"
            && m.args.len() == 1
        {
            let mut sources = self.data_sources(&m.receiver)?;
            sources.push(self.data_source(&m.args[0])?);
            return Some(sources);
        }
        Some(vec![self.data_source(e)?])
    }

    fn data_source(&mut self, e: &Expr) -> Option<(TokenStream, String, Option<Shape>)> {
        let inner = match e {
            Expr::MethodCall(m) if m.method == "iter" && m.args.is_empty() => &*m.receiver,
            Expr::Reference(r) if r.mutability.is_none() => &*r.expr,
            Expr::Paren(p) => return self.data_source(&p.expr),
            other => other,
        };
        if let Expr::Path(p) = inner
            && let Some(name) = p.path.get_ident()
        {
            match self.lookup(&name.to_string(), Loc::of(inner)) {
                Some(Binding::Data(tokens, shape)) => {
                    return Some((tokens, name.to_string(), shape));
                }
                Some(Binding::Poison) => return None,
                Some(
                    Binding::Value(_)
                    | Binding::Constant(_)
                    | Binding::Counter(_)
                    | Binding::Known(_)
                    | Binding::Flag(_),
                )
                | None => {}
            }
        }
        self.cx.error_spanned_by(e, DATA_LOOPS);
        None
    }

    /// In a loop over data, `x += e` or `x -= e` to a variable outside it: records what the sample
    /// adds. Any other assignment to an outer variable is an error. Returns whether `left` was
    /// an outer variable (and so handled here).
    pub(super) fn accumulate(
        &mut self,
        left: &Expr,
        right: &Expr,
        op: Option<&(Op, &'static str)>,
    ) -> bool {
        let target = match left {
            Expr::Index(index) => &*index.expr,
            other => other,
        };
        let Expr::Path(path) = target else {
            return false;
        };
        let Some(name) = path.path.get_ident() else {
            return false;
        };
        let key = name.to_string();
        if self.own.contains(&key) || !self.outer.is_some_and(|o| o.contains_key(&key)) {
            return false;
        }
        let minus = match op {
            Some((Op::Add, _)) if !matches!(left, Expr::Index(_)) => false,
            Some((Op::Sub, _)) if !matches!(left, Expr::Index(_)) => true,
            _ => {
                self.cx.error_spanned_by(left, data_assignment(&key));
                return true;
            }
        };
        let loc = Loc {
            start: name.span(),
            end: Loc::of(right).end,
        };
        let amount = self.expr(right);
        self.add_to(&key, amount.map(|a| vec![(a, minus)]), loc);
        true
    }

    /// Adds the `terms` (`None` after an error) to the variable `name`, in order: in the body of
    /// a loop over data, to what the sample adds to it when it is an outer variable; elsewhere
    /// to its value, one term at a time as `name += …` would.
    fn add_to(&mut self, name: &str, terms: Option<Vec<Term>>, loc: Loc) {
        if self.body == Body::Data && !self.own.contains(name) {
            let Some(terms) = terms else { return };
            match self.accumulated.iter_mut().find(|a| a.0 == name) {
                Some(a) => a.1.extend(terms),
                None => self.accumulated.push((name.to_string(), terms, loc)),
            }
            return;
        }
        let ident = syn::Ident::new(name, loc.start);
        let left: Expr = syn::parse_quote!(#ident);
        let Some(old) = self.assignable(&left, &ident) else {
            return;
        };
        let binding = match (old, terms) {
            (Binding::Value(old), Some(terms)) => {
                let minus = terms.iter().map(|t| t.1).collect();
                let mut args = vec![old];
                args.extend(terms.iter().map(|t| t.0));
                let text = format!("{name} + Σ");
                Binding::Value(self.prog.push(Op::Accumulate(minus), args, loc, text))
            }
            (Binding::Poison | Binding::Value(_), _) => Binding::Poison,
            (
                Binding::Constant(_)
                | Binding::Counter(_)
                | Binding::Known(_)
                | Binding::Flag(_)
                | Binding::Data(..),
                _,
            ) => {
                self.cx.push(loc.error(format!(
                    "`{name}` is not a float variable and cannot be added to"
                )));
                Binding::Poison
            }
        };
        self.rebind(&ident, binding);
    }
}
