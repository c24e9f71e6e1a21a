//! Function body → [`Program`].
//!
//! Walks the statements in order, keeping a scope from names to values, so `let` shadowing and
//! reassignment become plain SSA: every expression becomes one node whose arguments were made
//! before it. Whether an operation is a matrix product or a scaling is left to `shape`; this
//! stage decides only what the syntax means. Everything outside the supported language is
//! reported here with a spanned error that says what is supported. Runs after `ast`, before
//! `shape`.
//!
//! Before: `let r = y - x * beta; r.norm_squared()`
//! After:
//! ```text
//! v0 = param 0      (beta)
//! v1 = param 1      (x)
//! v2 = param 2      (y)
//! v3 = mul v1 v0
//! v4 = sub v2 v3
//! v5 = norm_squared v4
//! return v5
//! ```

use std::collections::HashMap;

use proc_macro2::TokenStream;
use quote::{ToTokens, quote};
use syn::{BinOp, Expr, Pat, Stmt, UnOp};

use crate::ast;
use crate::ctxt::Ctxt;
use crate::ir::{Annotation, Finish, Func, Loc, Op, Program, ValueId};
use crate::text;
use crate::types::{self, Float, Kind};

/// What a name in scope stands for.
#[derive(Clone)]
enum Binding {
    Value(ValueId),
    /// An integer or boolean parameter: a compile-time-opaque constant, used as written.
    Constant(TokenStream),
    /// A value whose expression had an error; uses stay silent.
    Poison,
}

const METHODS: &str = "`.transpose()`, `.trace()`, `.sum()`, `.mean()`, `.dot(&y)`, `.norm()`, `.norm_squared()`, \
`.component_mul(&y)`, `.component_div(&y)`, `.map(|v| …)`, `.determinant()`, `.try_inverse().unwrap()`, \
`.lu().solve(&b).unwrap()`, `.kronecker(&y)`, `.pow(k)`, and on scalars `.exp()`, `.ln()`, `.ln_1p()`, `.sqrt()`, \
`.powi(n)`, `.powf(p)`, `.sin()`, `.cos()`, `.tanh()`, `.abs()`";

const STATEMENTS: &str = "a `#[gradient]` body is straight-line code: `let` bindings, assignments, and a final expression or `return`";

struct Lowerer<'a> {
    cx: &'a Ctxt,
    float: Float,
    prog: Program,
    scope: HashMap<String, Binding>,
    /// For a closure body: the enclosing scope, whose scalars become captures.
    outer: Option<&'a HashMap<String, Binding>>,
    /// Outer values captured by a closure body; capture `k` is the program's parameter `k + 1`.
    captures: Vec<ValueId>,
}

/// Lowers the body of `item`; errors are recorded in `cx`.
pub fn lower(cx: &Ctxt, func: &ast::Func, item: &syn::ItemFn) -> Program {
    let mut l = Lowerer {
        cx,
        float: func.float,
        prog: Program::default(),
        scope: HashMap::new(),
        outer: None,
        captures: Vec::new(),
    };
    for (index, param) in func.params.iter().enumerate() {
        let name = &param.name;
        let binding = if param.kind.float().is_some() {
            Binding::Value(l.prog.push(
                Op::Param(index),
                Vec::new(),
                Loc::of(name),
                name.to_string(),
            ))
        } else if param.by_ref {
            Binding::Constant(quote!((*#name)))
        } else {
            Binding::Constant(name.to_token_stream())
        };
        l.scope.insert(name.to_string(), binding);
    }
    let output = l.block(&item.block.stmts, Loc::of(&item.block));
    l.prog.output = output;
    l.prog
}

impl Lowerer<'_> {
    /// Lowers statements; returns the value of the final expression or `return`.
    fn block(&mut self, stmts: &[Stmt], loc: Loc) -> Option<ValueId> {
        for (i, stmt) in stmts.iter().enumerate() {
            let last = i + 1 == stmts.len();
            match stmt {
                Stmt::Local(local) => self.local(local),
                Stmt::Expr(Expr::Return(ret), _) => {
                    if !last {
                        self.cx.error_spanned_by(ret, "`return` is supported only as the last statement of the body");
                    }
                    let Some(value) = &ret.expr else {
                        self.cx.error_spanned_by(ret, "`return` needs the scalar value of the function");
                        return None;
                    };
                    return self.expr(value);
                }
                Stmt::Expr(Expr::Assign(assign), _) => self.assign(&assign.left, &assign.right, None),
                Stmt::Expr(Expr::Binary(b), _) if compound(&b.op).is_some() => {
                    self.assign(&b.left, &b.right, compound(&b.op));
                }
                Stmt::Expr(e, None) if last => return self.expr(e),
                Stmt::Expr(e, _) => self.unsupported_statement(e),
                Stmt::Item(item) => self.cx.error_spanned_by(
                    item,
                    format!("items inside a `#[gradient]` function are not supported; {STATEMENTS}"),
                ),
                Stmt::Macro(m) => self.cx.error_spanned_by(
                    m,
                    format!("macros such as `{}!` are not supported inside a `#[gradient]` function; {STATEMENTS}", text::tokens(&m.mac.path)),
                ),
            }
        }
        self.cx.push(loc.error(
            "the body must end with the scalar value of the function (an expression or `return`)",
        ));
        None
    }

    fn unsupported_statement(&self, e: &Expr) {
        if control_flow(e).is_some() {
            self.unsupported_expr(e, "");
        } else {
            self.cx.error_spanned_by(
                e,
                format!("this statement has no effect on the result; {STATEMENTS}"),
            );
        }
    }

    fn local(&mut self, local: &syn::Local) {
        let (pat, ty) = match &local.pat {
            Pat::Type(t) => (&*t.pat, Some(&*t.ty)),
            other => (other, None),
        };
        let name = match pat {
            Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => &p.ident,
            other => {
                self.cx.error_spanned_by(
                    other,
                    "only `let name = …;` bindings are supported (no tuple or struct patterns)",
                );
                return;
            }
        };
        let Some(init) = &local.init else {
            self.cx.error_spanned_by(
                local,
                format!("`let {name};` needs a value: write `let {name} = …;`"),
            );
            self.scope.insert(name.to_string(), Binding::Poison);
            return;
        };
        if let Some((else_token, _)) = &init.diverge {
            self.cx
                .error_spanned_by(else_token, "`let … else` is not supported");
        }
        let binding = match self.expr(&init.expr) {
            Some(value) => {
                if let Some(ty) = ty {
                    self.annotate(value, name, ty);
                }
                self.name(value, name);
                Binding::Value(value)
            }
            None => Binding::Poison,
        };
        self.scope.insert(name.to_string(), binding);
    }

    fn annotate(&mut self, value: ValueId, name: &syn::Ident, ty: &syn::Type) {
        match types::classify(ty).map(Kind::shape) {
            Ok(Some(shape)) => self.prog.annotations.push(Annotation {
                value,
                shape,
                name: name.to_string(),
                ty: text::tokens(ty),
                loc: Loc::of(ty),
            }),
            Ok(None) => self.cx.error_spanned_by(
                ty,
                "a value in a `#[gradient]` body is a float scalar or a float matrix",
            ),
            Err(e) => self.cx.push(e),
        }
    }

    /// `x = e` and `x += e`: rebinds `x`, as a new `let` would.
    fn assign(&mut self, left: &Expr, right: &Expr, op: Option<(Op, &'static str)>) {
        let Expr::Path(path) = left else {
            self.cx.error_spanned_by(
                left,
                "only plain names can be assigned to, as in `x = …` or `x += …`",
            );
            return;
        };
        let Some(name) = path.path.get_ident() else {
            self.cx.error_spanned_by(
                left,
                "only plain names can be assigned to, as in `x = …` or `x += …`",
            );
            return;
        };
        let key = name.to_string();
        let Some(old) = self.scope.get(&key).cloned() else {
            self.cx.error_spanned_by(
                left,
                format!("cannot find a local named `{name}` to assign to"),
            );
            return;
        };
        let binding = match (op, old) {
            (None, _) => self.expr(right).map_or(Binding::Poison, Binding::Value),
            (Some((op, symbol)), Binding::Value(old)) => match self.expr(right) {
                Some(rhs) => {
                    let text = format!("{name} {symbol} {}", text::expr(right));
                    let loc = Loc {
                        start: name.span(),
                        end: Loc::of(right).end,
                    };
                    Binding::Value(self.prog.push(op, vec![old, rhs], loc, text))
                }
                None => Binding::Poison,
            },
            (Some(_), Binding::Constant(_)) => {
                self.cx.error_spanned_by(
                    left,
                    format!("`{name}` is an integer parameter and cannot be updated"),
                );
                Binding::Poison
            }
            (Some(_), Binding::Poison) => Binding::Poison,
        };
        if let Binding::Value(value) = binding {
            self.name(value, name);
        }
        self.scope.insert(key, binding);
    }

    /// Names a value after the local it is bound to, unless it has a name already (a parameter,
    /// or an alias `let b = a;`). A name bound again is primed: `z`, `z′`, `z″`.
    fn name(&mut self, value: ValueId, name: &syn::Ident) {
        if self.prog.nodes[value].name.is_some()
            || matches!(self.prog.nodes[value].op, Op::Param(_))
        {
            return;
        }
        let mut candidate = name.to_string();
        let taken = |n: &crate::ir::Node, c: &str| {
            n.name.as_deref() == Some(c) || (matches!(n.op, Op::Param(_)) && n.text == c)
        };
        while self.prog.nodes.iter().any(|n| taken(n, &candidate)) {
            candidate.push('′');
        }
        self.prog.nodes[value].name = Some(candidate);
    }

    #[allow(
        clippy::unnecessary_wraps,
        reason = "lowering functions end in `self.push(…)` and return `Option`"
    )]
    fn push(&mut self, op: Op, args: Vec<ValueId>, e: &Expr) -> Option<ValueId> {
        Some(self.prog.push(op, args, Loc::of(e), text::expr(e)))
    }

    /// Lowers an expression whose value is a float scalar or matrix.
    fn expr(&mut self, e: &Expr) -> Option<ValueId> {
        match e {
            Expr::Paren(p) => self.expr(&p.expr),
            Expr::Group(g) => self.expr(&g.expr),
            Expr::Reference(r) if r.mutability.is_none() => self.expr(&r.expr),
            Expr::Lit(lit) => self.literal(e, &lit.lit),
            Expr::Path(path) => self.path(e, path),
            Expr::Unary(u) => match u.op {
                UnOp::Neg(_) => {
                    let a = self.expr(&u.expr)?;
                    self.push(Op::Neg, vec![a], e)
                }
                UnOp::Deref(_) => self.expr(&u.expr),
                _ => self.unsupported_expr(e, "`!`"),
            },
            Expr::Binary(b) => self.binary(e, b),
            Expr::MethodCall(m) => self.method(e, m),
            Expr::Call(c) => self.call(e, c),
            Expr::Cast(c) => self.cast(e, c),
            Expr::Index(i) => self.index(e, i),
            Expr::Block(b) if b.label.is_none() => {
                let saved = self.scope.clone();
                let value = self.block(&b.block.stmts, Loc::of(&b.block));
                self.scope = saved;
                value
            }
            Expr::ForLoop(_) | Expr::While(_) | Expr::Loop(_) | Expr::If(_) | Expr::Match(_) => {
                self.unsupported_expr(e, "")
            }
            Expr::Closure(_) => self.unsupported_expr(e, "closures outside `.map(…)`"),
            Expr::Macro(m) => self.unsupported_expr(
                e,
                &format!("macros such as `{}!`", text::tokens(&m.mac.path)),
            ),
            Expr::Unsafe(_) => self.unsupported_expr(e, "`unsafe` blocks"),
            Expr::Async(_) | Expr::Await(_) => self.unsupported_expr(e, "`async` code"),
            _ => {
                self.cx.error_spanned_by(
                    e,
                    "unsupported expression; a `#[gradient]` body uses `+ - * /`, unary `-`, parentheses, float literals and constants, \
                     names of parameters and locals, indexing with literals, and the supported methods",
                );
                None
            }
        }
    }

    /// Reports `e` as outside the language. Control flow is reported on its keyword, named from
    /// the syntax; other constructs are named by `what`.
    fn unsupported_expr(&self, e: &Expr, what: &str) -> Option<ValueId> {
        let (tokens, what) = control_flow(e).unwrap_or_else(|| (e.to_token_stream(), what));
        self.cx.error_spanned_by(
            tokens,
            format!("`#[gradient]` cannot differentiate through {what}; {STATEMENTS}"),
        );
        None
    }

    fn literal(&mut self, e: &Expr, lit: &syn::Lit) -> Option<ValueId> {
        match lit {
            syn::Lit::Float(_) => self.push(Op::Const(e.to_token_stream()), Vec::new(), e),
            // `2f64` is a float literal that syn reads as an integer with a suffix.
            syn::Lit::Int(int) if matches!(int.suffix(), "f64" | "f32") => {
                self.push(Op::Const(e.to_token_stream()), Vec::new(), e)
            }
            syn::Lit::Int(int) => {
                self.cx.error_spanned_by(
                    e,
                    format!(
                        "integer literal `{int}` where a float is expected; write `{}.0`",
                        int.base10_digits()
                    ),
                );
                None
            }
            _ => {
                self.cx.error_spanned_by(
                    e,
                    "only float literals such as `2.0` can appear in a `#[gradient]` body",
                );
                None
            }
        }
    }

    fn path(&mut self, e: &Expr, path: &syn::ExprPath) -> Option<ValueId> {
        let Some(name) = path.path.get_ident() else {
            // A constant such as `std::f64::consts::PI` or `f64::EPSILON`.
            return self.push(Op::Const(e.to_token_stream()), Vec::new(), e);
        };
        match self.lookup(&name.to_string(), e) {
            Some(Binding::Value(v)) => Some(v),
            Some(Binding::Poison) => None,
            Some(Binding::Constant(_)) => {
                self.cx.error_spanned_by(
                    e,
                    format!("`{name}` is an integer or boolean parameter; convert it with `{name} as {}` to use it as a float", self.float),
                );
                None
            }
            // Not a parameter or local: a `const` item of the enclosing module.
            None => self.push(Op::Const(e.to_token_stream()), Vec::new(), e),
        }
    }

    /// Looks a name up; a closure body captures names of the enclosing scope on first use.
    fn lookup(&mut self, name: &str, e: &Expr) -> Option<Binding> {
        if let Some(b) = self.scope.get(name) {
            return Some(b.clone());
        }
        let outer = self.outer?.get(name)?.clone();
        let binding = match outer {
            Binding::Value(v) => {
                self.captures.push(v);
                let param = self.prog.push(
                    Op::Param(self.captures.len()),
                    Vec::new(),
                    Loc::of(e),
                    name.to_string(),
                );
                Binding::Value(param)
            }
            other => other,
        };
        self.scope.insert(name.to_string(), binding.clone());
        Some(binding)
    }

    fn binary(&mut self, e: &Expr, b: &syn::ExprBinary) -> Option<ValueId> {
        let op = match b.op {
            BinOp::Add(_) => Op::Add,
            BinOp::Sub(_) => Op::Sub,
            BinOp::Mul(_) => Op::Mul,
            BinOp::Div(_) => Op::Div,
            BinOp::Lt(_)
            | BinOp::Le(_)
            | BinOp::Gt(_)
            | BinOp::Ge(_)
            | BinOp::Eq(_)
            | BinOp::Ne(_) => {
                return self.unsupported_expr(e, "comparisons");
            }
            _ => {
                self.cx.error_spanned_by(
                    e,
                    format!("the operator `{}` is not supported; a `#[gradient]` body uses `+`, `-`, `*` and `/`", text::tokens(&b.op)),
                );
                return None;
            }
        };
        let left = self.expr(&b.left);
        let right = self.expr(&b.right);
        self.push(op, vec![left?, right?], e)
    }

    fn method(&mut self, e: &Expr, m: &syn::ExprMethodCall) -> Option<ValueId> {
        let name = m.method.to_string();
        if let Some(turbofish) = &m.turbofish {
            self.cx.error_spanned_by(
                turbofish,
                "type arguments on method calls are not supported",
            );
            return None;
        }
        if name == "unwrap" || name == "expect" {
            return self.finish(e, m);
        }
        if name == "try_inverse" || name == "lu" || name == "solve" {
            self.cx.error_spanned_by(
                e,
                format!("`.{name}(…)` is supported in the forms `a.try_inverse().unwrap()` and `a.lu().solve(&b).unwrap()` (or `.expect(\"…\")`)"),
            );
            return None;
        }
        let arity = match name.as_str() {
            "dot" | "component_mul" | "component_div" | "powi" | "powf" | "map" | "kronecker"
            | "pow" => 1,
            _ => 0,
        };
        let known = matches!(
            name.as_str(),
            "transpose"
                | "trace"
                | "sum"
                | "mean"
                | "norm"
                | "norm_squared"
                | "clone"
                | "into_owned"
                | "determinant"
        ) || arity == 1
            || Func::from_name(&name).is_some_and(|f| !f.is_helper());
        if !known {
            self.cx.error_spanned_by(
                &m.method,
                format!("`#[gradient]` does not know the method `{name}`; supported methods are {METHODS}"),
            );
            return None;
        }
        if m.args.len() != arity {
            let wanted = if arity == 0 {
                "no arguments".to_string()
            } else {
                "one argument".to_string()
            };
            self.cx
                .error_spanned_by(&m.args, format!("`.{name}(…)` takes {wanted}"));
            return None;
        }
        if name == "map" {
            return self.map(e, &m.receiver, &m.args[0]);
        }
        if name == "powi" || name == "pow" {
            let a = self.expr(&m.receiver)?;
            let n = self.integer(&m.args[0])?;
            let op = if name == "pow" {
                Op::MatrixPower(n)
            } else {
                Op::Powi(n)
            };
            return self.push(op, vec![a], e);
        }
        let a = self.expr(&m.receiver);
        let op = match name.as_str() {
            "clone" | "into_owned" => return a,
            "transpose" => Op::Transpose,
            "trace" => Op::Trace,
            "sum" => Op::Sum,
            "mean" => Op::Mean,
            "norm" => Op::Norm,
            "norm_squared" => Op::NormSquared,
            "dot" => Op::Dot,
            "component_mul" => Op::ComponentMul,
            "component_div" => Op::ComponentDiv,
            "powf" => Op::Powf,
            "determinant" => Op::Determinant,
            "kronecker" => Op::Kronecker,
            other => Op::Unary(Func::from_name(other).expect("invariant: checked above")),
        };
        let mut args = vec![a];
        if arity == 1 {
            args.push(self.expr(&m.args[0]));
        }
        let args: Option<Vec<ValueId>> = args.into_iter().collect();
        self.push(op, args?, e)
    }

    /// `.unwrap()` / `.expect(…)` closing `a.try_inverse()` or `a.lu().solve(&b)`.
    fn finish(&mut self, e: &Expr, m: &syn::ExprMethodCall) -> Option<ValueId> {
        let finish = if m.method == "unwrap" && m.args.is_empty() {
            Finish::Unwrap
        } else if m.method == "expect" && m.args.len() == 1 {
            Finish::Expect(m.args.to_token_stream())
        } else {
            self.cx.error_spanned_by(
                e,
                "`.unwrap()` takes no arguments and `.expect(…)` takes one",
            );
            return None;
        };
        let Expr::MethodCall(inner) = &*m.receiver else {
            return self.unsupported_option(e, &m.receiver);
        };
        match (
            inner.method.to_string().as_str(),
            inner.args.len(),
            &*inner.receiver,
        ) {
            ("try_inverse", 0, receiver) => {
                let a = self.expr(receiver)?;
                self.push(Op::Inverse(finish), vec![a], e)
            }
            ("solve", 1, Expr::MethodCall(lu)) if lu.method == "lu" && lu.args.is_empty() => {
                let a = self.expr(&lu.receiver);
                let b = self.expr(&inner.args[0]);
                self.push(Op::Solve(finish), vec![a?, b?], e)
            }
            _ => self.unsupported_option(e, &m.receiver),
        }
    }

    /// Reports `.unwrap()` on something other than `try_inverse()` or `solve(…)`, unless the
    /// receiver is a value whose own error was already reported (`let inv = a.try_inverse();`).
    fn unsupported_option(&mut self, e: &Expr, receiver: &Expr) -> Option<ValueId> {
        if let Expr::Path(path) = receiver
            && let Some(name) = path.path.get_ident()
            && matches!(self.scope.get(&name.to_string()), Some(Binding::Poison))
        {
            return None;
        }
        self.cx.error_spanned_by(
            e,
            "`.unwrap()` and `.expect(…)` are supported only in `a.try_inverse().unwrap()` and `a.lu().solve(&b).unwrap()`",
        );
        None
    }

    /// `sigmoid(x)`, `matgrad::softplus(x)`, `f64::exp(x)`, `f64::powi(x, n)`.
    fn call(&mut self, e: &Expr, c: &syn::ExprCall) -> Option<ValueId> {
        let Some(func) = callee(&c.func) else {
            self.cx.error_spanned_by(
                &c.func,
                format!(
                    "`#[gradient]` cannot call `{}`; it knows `sigmoid`, `softplus` and `{f}::exp`, `{f}::ln`, `{f}::ln_1p`, `{f}::sqrt`, `{f}::sin`, `{f}::cos`, `{f}::tanh`, `{f}::abs`, `{f}::powi`, `{f}::powf`",
                    text::expr(&c.func),
                    f = self.float
                ),
            );
            return None;
        };
        let expected = if matches!(func, Callee::Powi | Callee::Powf) {
            2
        } else {
            1
        };
        if c.args.len() != expected {
            self.cx.error_spanned_by(
                e,
                format!("`{}` takes {expected} argument(s)", text::expr(&c.func)),
            );
            return None;
        }
        let a = self.expr(&c.args[0]);
        match func {
            Callee::Func(f) => self.push(Op::Unary(f), vec![a?], e),
            Callee::Powi => {
                let n = self.integer(&c.args[1]);
                self.push(Op::Powi(n?), vec![a?], e)
            }
            Callee::Powf => {
                let p = self.expr(&c.args[1]);
                self.push(Op::Powf, vec![a?, p?], e)
            }
        }
    }

    fn cast(&mut self, e: &Expr, c: &syn::ExprCast) -> Option<ValueId> {
        match types::classify(&c.ty) {
            Ok(Kind::Scalar(_)) => {}
            _ => {
                self.cx.error_spanned_by(
                    &c.ty,
                    format!("only casts to `{}` are supported here", self.float),
                );
                return None;
            }
        }
        if let Some(int) = self.try_integer(&c.expr) {
            let ty = &c.ty;
            return self.push(Op::Const(quote!((#int as #ty))), Vec::new(), e);
        }
        self.expr(&c.expr)
    }

    fn index(&mut self, e: &Expr, i: &syn::ExprIndex) -> Option<ValueId> {
        let literal = |e: &Expr| match e {
            Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Int(int),
                ..
            }) => int.base10_parse::<usize>().ok(),
            _ => None,
        };
        let (row, col) = match &*i.index {
            Expr::Tuple(t) if t.elems.len() == 2 => (literal(&t.elems[0]), literal(&t.elems[1])),
            other => (literal(other), Some(usize::MAX)),
        };
        let (Some(row), Some(col)) = (row, col) else {
            self.cx.error_spanned_by(
                &i.index,
                "indices must be integer literals, as in `m[(0, 1)]` or `v[2]`",
            );
            return None;
        };
        let a = self.expr(&i.expr)?;
        self.push(Op::Index(row, col), vec![a], e)
    }

    /// `m.map(|v| …)` or `m.map(f64::exp)`: the closure body becomes a scalar sub-program.
    fn map(&mut self, e: &Expr, receiver: &Expr, f: &Expr) -> Option<ValueId> {
        let a = self.expr(receiver);
        let (sub, captures) = match f {
            Expr::Closure(closure) => self.closure(closure)?,
            Expr::Path(_) => {
                let Some(Callee::Func(func)) = callee(f) else {
                    self.cx.error_spanned_by(
                        f,
                        format!("`.map` takes a closure `|v| …` or one of `sigmoid`, `softplus`, `{}::exp`, `{0}::ln`, …", self.float),
                    );
                    return None;
                };
                let mut sub = Program::default();
                let loc = Loc::of(f);
                let v = sub.push(Op::Param(0), Vec::new(), loc, "v".into());
                sub.output =
                    Some(sub.push(Op::Unary(func), vec![v], loc, format!("{}(v)", func.name())));
                (sub, Vec::new())
            }
            other => {
                self.cx.error_spanned_by(other, "`.map` takes a closure such as `|v| v.exp()` or a function path such as `f64::exp`");
                return None;
            }
        };
        let mut args = vec![a?];
        args.extend(captures);
        self.push(Op::Map(Box::new(sub)), args, e)
    }

    fn closure(&mut self, closure: &syn::ExprClosure) -> Option<(Program, Vec<ValueId>)> {
        if closure.inputs.len() != 1 {
            self.cx.error_spanned_by(
                closure,
                "the closure passed to `.map` takes exactly one argument, the entry",
            );
            return None;
        }
        let pat = match &closure.inputs[0] {
            Pat::Type(t) => &*t.pat,
            other => other,
        };
        let Pat::Ident(arg) = pat else {
            self.cx.error_spanned_by(
                pat,
                "the closure argument must be a plain name, as in `|v| v.exp()`",
            );
            return None;
        };
        let mut inner = Lowerer {
            cx: self.cx,
            float: self.float,
            prog: Program::default(),
            scope: HashMap::new(),
            outer: Some(&self.scope),
            captures: Vec::new(),
        };
        let v = inner.prog.push(
            Op::Param(0),
            Vec::new(),
            Loc::of(&arg.ident),
            arg.ident.to_string(),
        );
        inner.scope.insert(arg.ident.to_string(), Binding::Value(v));
        let output = inner.expr(&closure.body)?;
        inner.prog.output = Some(output);
        Some((inner.prog, inner.captures))
    }

    /// An integer expression used as written: a literal, an integer parameter, or `+ - *` of those.
    fn integer(&self, e: &Expr) -> Option<TokenStream> {
        let int = self.try_integer(e);
        if int.is_none() {
            self.cx.error_spanned_by(
                e,
                "expected an integer: a literal such as `2` or an integer parameter",
            );
        }
        int
    }

    fn try_integer(&self, e: &Expr) -> Option<TokenStream> {
        match e {
            Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Int(_),
                ..
            }) => Some(e.to_token_stream()),
            Expr::Paren(p) => self.try_integer(&p.expr).map(|t| quote!((#t))),
            // `*n` for an integer parameter taken by reference, whose binding already reads `(*n)`.
            Expr::Unary(u) if matches!(u.op, UnOp::Deref(_)) => self.try_integer(&u.expr),
            Expr::Unary(u) if matches!(u.op, UnOp::Neg(_)) => {
                self.try_integer(&u.expr).map(|t| quote!(-#t))
            }
            Expr::Binary(b) if matches!(b.op, BinOp::Add(_) | BinOp::Sub(_) | BinOp::Mul(_)) => {
                let (l, r, op) = (
                    self.try_integer(&b.left)?,
                    self.try_integer(&b.right)?,
                    &b.op,
                );
                Some(quote!((#l #op #r)))
            }
            Expr::Path(p) => {
                let name = p.path.get_ident()?.to_string();
                let binding = self.scope.get(&name).or_else(|| self.outer?.get(&name))?;
                match binding {
                    Binding::Constant(tokens) => Some(tokens.clone()),
                    _ => None,
                }
            }
            _ => None,
        }
    }
}

/// The keyword and name of a control-flow expression.
fn control_flow(e: &Expr) -> Option<(TokenStream, &'static str)> {
    Some(match e {
        Expr::ForLoop(f) => (f.for_token.to_token_stream(), "`for` loops"),
        Expr::While(w) => (w.while_token.to_token_stream(), "`while` loops"),
        Expr::Loop(l) => (l.loop_token.to_token_stream(), "`loop`"),
        Expr::If(i) => (i.if_token.to_token_stream(), "`if`"),
        Expr::Match(m) => (m.match_token.to_token_stream(), "`match`"),
        _ => return None,
    })
}

/// The function a call names, if the macro knows its derivative.
fn callee(func: &Expr) -> Option<Callee> {
    let Expr::Path(path) = func else { return None };
    let segments: Vec<String> = path
        .path
        .segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect();
    let last = segments.last()?.as_str();
    let first = segments.first()?.as_str();
    let float_fn = segments.len() == 2 && (first == "f64" || first == "f32");
    match Func::from_name(last) {
        Some(f) if f.is_helper() && (segments.len() == 1 || first == "matgrad") => {
            Some(Callee::Func(f))
        }
        Some(f) if !f.is_helper() && float_fn => Some(Callee::Func(f)),
        None if float_fn && last == "powi" => Some(Callee::Powi),
        None if float_fn && last == "powf" => Some(Callee::Powf),
        _ => None,
    }
}

enum Callee {
    Func(Func),
    Powi,
    Powf,
}

fn compound(op: &BinOp) -> Option<(Op, &'static str)> {
    match op {
        BinOp::AddAssign(_) => Some((Op::Add, "+")),
        BinOp::SubAssign(_) => Some((Op::Sub, "-")),
        BinOp::MulAssign(_) => Some((Op::Mul, "*")),
        BinOp::DivAssign(_) => Some((Op::Div, "/")),
        _ => None,
    }
}
