//! Lowering of calls: methods (including the `Option`-returning linear algebra), scalar
//! functions, `map` closures, casts, indexing, and calls of other `#[gradient]` functions
//! through their `_vjp`. Part of `lower`.
//!
//! Before: `(w * x).map(|v| sigmoid(v))`
//! After: `v4 = map v3` with the closure's scalar program, `v1 = sigmoid v0`, nested in it.

use quote::{ToTokens, quote};
use syn::{BinOp, Expr, Pat, UnOp};

use super::{Binding, Body, Lowerer, METHODS};
use crate::ir::{
    At, Build, CallArg, CallSite, Extremum, Finish, Func, Loc, Op, Program, Shape, ValueId,
};
use crate::text;
use crate::types::{self, Kind};

impl Lowerer<'_> {
    pub(super) fn method(&mut self, e: &Expr, m: &syn::ExprMethodCall) -> Option<ValueId> {
        let name = m.method.to_string();
        if let Structured::Lowered(value) = self.structured_method(e, m) {
            return value;
        }
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
        if name == "lp_norm" {
            return self.lp_norm(e, m);
        }
        if name == "try_inverse" || name == "lu" || name == "solve" || name == "cholesky" {
            self.cx.error_spanned_by(
                e,
                format!("`.{name}(…)` is supported in the forms `a.try_inverse().unwrap()`, `a.lu().solve(&b).unwrap()` and `a.cholesky().unwrap()` (or `.expect(\"…\")`)"),
            );
            return None;
        }
        let arity = match name.as_str() {
            "dot" | "component_mul" | "component_div" | "powi" | "powf" | "map" | "kronecker"
            | "pow" | "max" | "min" | "cross" => 1,
            "clamp" => 2,
            _ => 0,
        };
        let known = arity >= 1 || is_known_method(&name);
        if !known {
            return self.unknown_method(&name, m);
        }
        if m.args.len() != arity {
            let wanted = match arity {
                0 => "no arguments",
                1 => "one argument",
                _ => "two arguments",
            };
            let message = format!("`.{name}(…)` takes {wanted}");
            if m.args.is_empty() {
                self.cx.error_spanned_by(&m.method, message);
            } else {
                self.cx.error_spanned_by(&m.args, message);
            }
            return None;
        }
        if name == "map" {
            return self.map(e, &m.receiver, &m.args[0]);
        }
        if name == "clamp" {
            return self.clamp(e, m);
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
            "clone" | "into_owned" | "clone_owned" => return a,
            "transpose" => Op::Transpose,
            "trace" => Op::Trace,
            "sum" => Op::Sum,
            "mean" => Op::Mean,
            "norm" | "magnitude" => Op::Norm,
            "norm_squared" | "magnitude_squared" => Op::NormSquared,
            "normalize" => {
                // u / ‖u‖, sharing the norm.
                let u = a?;
                let norm = self.push(Op::Norm, vec![u], e)?;
                return self.push(Op::Div, vec![u, norm], e);
            }
            "dot" => Op::Dot,
            "component_mul" => Op::ComponentMul,
            "component_div" => Op::ComponentDiv,
            "powf" => Op::Powf,
            "max" => Op::Max,
            "min" => Op::Min,
            "determinant" => Op::Determinant,
            "kronecker" => Op::Kronecker,
            "cross" => Op::Cross,
            "diagonal" => Op::DiagonalOf,
            other => Op::Unary(Func::from_name(other).expect("invariant: checked above")),
        };
        let mut args = vec![a];
        if arity == 1 {
            args.push(self.expr(&m.args[0]));
        }
        let args: Option<Vec<ValueId>> = args.into_iter().collect();
        self.push(op, args?, e)
    }

    /// `m.row(i)`, `m.column(j)`, `m.fixed_rows::<R>(i)`, `m.fixed_columns::<C>(j)` and
    /// `m.fixed_view::<R, C>(i, j)`: a block, copied out; `sizes` type arguments expected.
    fn view(&mut self, e: &Expr, m: &syn::ExprMethodCall, sizes: usize) -> Option<ValueId> {
        let name = m.method.to_string();
        let indices = if name == "fixed_view" { 2 } else { 1 };
        let spelling = match name.as_str() {
            "row" => "`.row(i)`",
            "column" => "`.column(j)`",
            "fixed_rows" => "`.fixed_rows::<R>(i)`",
            "fixed_columns" => "`.fixed_columns::<C>(j)`",
            _ => "`.fixed_view::<R, C>(i, j)`",
        };
        let given: Vec<&syn::GenericArgument> =
            m.turbofish.iter().flat_map(|t| t.args.iter()).collect();
        if given.len() != sizes {
            let what = match sizes {
                0 => "no type arguments".to_owned(),
                1 => "its size as one type argument".to_owned(),
                _ => "its size as two type arguments".to_owned(),
            };
            match &m.turbofish {
                Some(t) => self
                    .cx
                    .error_spanned_by(t, format!("{spelling} takes {what}")),
                None => self
                    .cx
                    .error_spanned_by(&m.method, format!("{spelling} takes {what}")),
            }
            return None;
        }
        let mut dims = Vec::new();
        for arg in given {
            match types::dim_arg(arg, self.env) {
                Ok(d) => dims.push(d),
                Err(err) => {
                    self.cx.push(err);
                    return None;
                }
            }
        }
        if m.args.len() != indices {
            let what = if indices == 1 {
                "one index"
            } else {
                "two indices"
            };
            self.cx
                .error_spanned_by(e, format!("{spelling} takes {what}"));
            return None;
        }
        let mut at = Vec::new();
        for arg in &m.args {
            match self.known(arg).map(usize::try_from) {
                Some(Ok(i)) => at.push(i),
                _ => {
                    self.cx.error_spanned_by(
                        arg,
                        format!(
                            "the index of {spelling} must be a non-negative integer literal, a \
                             loop counter, or `+ - *` of those"
                        ),
                    );
                    return None;
                }
            }
        }
        let a = self.expr(&m.receiver)?;
        let one = Some(crate::ir::Dim::Lit(1));
        let op = match name.as_str() {
            "row" => Op::View {
                row: at[0],
                col: 0,
                rows: one,
                cols: None,
            },
            "column" => Op::View {
                row: 0,
                col: at[0],
                rows: None,
                cols: one,
            },
            "fixed_rows" => Op::View {
                row: at[0],
                col: 0,
                rows: Some(dims[0]),
                cols: None,
            },
            "fixed_columns" => Op::View {
                row: 0,
                col: at[0],
                rows: None,
                cols: Some(dims[0]),
            },
            _ => Op::View {
                row: at[0],
                col: at[1],
                rows: Some(dims[0]),
                cols: Some(dims[1]),
            },
        };
        self.push(op, vec![a], e)
    }

    /// Views, reductions to an entry and the methods of a Cholesky factorisation, lowered by
    /// their own functions: `Some(result)` for those, `None` for any other method.
    fn structured_method(&mut self, e: &Expr, m: &syn::ExprMethodCall) -> Structured {
        let name = m.method.to_string();
        if let Some(sizes) = view_sizes(&name) {
            return Structured::Lowered(self.view(e, m, sizes));
        }
        if let Some(which) = extremum(&name).filter(|_| m.args.is_empty()) {
            // A matrix reduced to one of its entries (the scalar `a.max(b)` has an argument).
            let a = self.expr(&m.receiver);
            return Structured::Lowered(a.and_then(|a| self.push(Op::Extremum(which), vec![a], e)));
        }
        let factor = matches!(
            name.as_str(),
            "l" | "solve" | "inverse" | "determinant" | "ln_determinant"
        ) && m.args.len() == usize::from(name == "solve")
            && m.turbofish.is_none();
        if factor {
            Structured::Lowered(self.factor_method(e, m))
        } else {
            Structured::No
        }
    }

    /// The float `value` (`0.0`, `1.0`) as a constant of the function's scalar type.
    fn float_constant(&mut self, value: &str, e: &Expr) -> ValueId {
        let mut tokens: proc_macro2::TokenStream =
            value.parse().expect("invariant: a float literal");
        // In a function generic over its scalar, the number in that scalar.
        if self.float.is_generic() {
            let float = syn::Ident::new(&self.float.name(), proc_macro2::Span::call_site());
            tokens = quote!(::matgrad::__private::nalgebra::convert::<f64, #float>(#tokens));
        }
        self.prog
            .push(Op::Const(tokens), Vec::new(), Loc::of(e), value.to_owned())
    }

    /// `.l()`, `.solve(&b)`, `.inverse()`, `.determinant()` and `.ln_determinant()` of a
    /// Cholesky factorisation `c = a.cholesky().unwrap()`, through its factor L: L⁻ᵀ(L⁻¹b),
    /// L⁻ᵀ·L⁻¹, (Π Lᵢᵢ)² = exp(2 Σ ln Lᵢᵢ) and 2 Σ ln Lᵢᵢ. `.determinant()` of any other matrix is
    /// its determinant.
    fn factor_method(&mut self, e: &Expr, m: &syn::ExprMethodCall) -> Option<ValueId> {
        let name = m.method.to_string();
        let receiver = self.expr(&m.receiver)?;
        // A factorisation made outside a branch, closure or loop over data arrives as a
        // parameter of its program.
        let captured = matches!(self.prog.nodes[receiver].op, Op::Param(_))
            && matches!(&*m.receiver, Expr::Path(p)
                if p.path.get_ident().is_some_and(|n| self.factors.contains(&n.to_string())));
        if !captured && !matches!(self.prog.nodes[receiver].op, Op::Cholesky(_)) {
            if name == "determinant" {
                return self.push(Op::Determinant, vec![receiver], e);
            }
            self.cx.error_spanned_by(
                &m.method,
                format!(
                    "`.{name}(…)` is supported on a Cholesky factorisation, as in \
                     `a.cholesky().unwrap().{name}({})`",
                    if name == "solve" { "&b" } else { "" }
                ),
            );
            return None;
        }
        let solve = |this: &mut Self, b: ValueId| -> Option<ValueId> {
            let y = this.push(Op::TriSolve { transpose: false }, vec![receiver, b], e)?;
            this.push(Op::TriSolve { transpose: true }, vec![receiver, y], e)
        };
        match name.as_str() {
            "l" => Some(receiver),
            "solve" => {
                let b = self.expr(&m.args[0])?;
                solve(self, b)
            }
            "inverse" => {
                let identity = self.push(Op::IdentityOf, vec![receiver], e)?;
                solve(self, identity)
            }
            "ln_determinant" => {
                // Σ ln Lᵢᵢ², as nalgebra sums it.
                let diagonal = self.push(Op::DiagonalOf, vec![receiver], e)?;
                let mut sub = Program::default();
                let loc = Loc::of(e);
                let v = sub.push(Op::Param(0), Vec::new(), loc, "v".into());
                let square = sub.push(Op::Mul, vec![v, v], loc, "v * v".into());
                sub.output = Some(sub.push(Op::Unary(Func::Ln), vec![square], loc, "ln v²".into()));
                let logs = self.push(Op::Map(Box::new(sub)), vec![diagonal], e)?;
                self.push(Op::Sum, vec![logs], e)
            }
            _ => {
                // (Π Lᵢᵢ)², the product taken in order as nalgebra takes it.
                let product = self.push(Op::DiagonalProduct, vec![receiver], e)?;
                self.push(Op::Mul, vec![product, product], e)
            }
        }
    }

    /// Reports a method outside the language, with the supported spelling where there is one.
    fn unknown_method(&mut self, name: &str, m: &syn::ExprMethodCall) -> Option<ValueId> {
        // An error inside the receiver (say `.cholesky()` in `a.cholesky().unwrap().l()`) is
        // the one to report.
        self.expr(&m.receiver)?;
        let message = match not_yet(name) {
            Some(advice) => format!("`.{name}(…)` is not supported yet; {advice}"),
            None => format!(
                "`#[gradient]` does not know the method `{name}`; supported methods are {METHODS}"
            ),
        };
        self.cx.error_spanned_by(&m.method, message);
        None
    }

    /// `v.lp_norm(1)` = Σ|vᵢ| (a `map` of `abs`, summed) and `v.lp_norm(2)` = ‖v‖.
    fn lp_norm(&mut self, e: &Expr, m: &syn::ExprMethodCall) -> Option<ValueId> {
        let p = match m.args.first() {
            Some(arg) if m.args.len() == 1 => self.known(arg),
            _ => None,
        };
        match p {
            Some(1) => {
                let a = self.expr(&m.receiver)?;
                let mut sub = Program::default();
                let loc = Loc::of(e);
                let v = sub.push(Op::Param(0), Vec::new(), loc, "v".into());
                sub.output = Some(sub.push(Op::Unary(Func::Abs), vec![v], loc, "|v|".into()));
                let magnitudes = self.push(Op::Map(Box::new(sub)), vec![a], e)?;
                self.push(Op::Sum, vec![magnitudes], e)
            }
            Some(2) => {
                let a = self.expr(&m.receiver)?;
                self.push(Op::Norm, vec![a], e)
            }
            _ => {
                self.cx.error_spanned_by(
                    e,
                    "`lp_norm` is supported for p = 1 (Σ|vᵢ|) and p = 2 (the norm), written as \
                     an integer literal",
                );
                None
            }
        }
    }

    /// `x.clamp(lo, hi)` = min(max(x, lo), hi).
    fn clamp(&mut self, e: &Expr, m: &syn::ExprMethodCall) -> Option<ValueId> {
        let (x, lo, hi) = (
            self.expr(&m.receiver),
            self.expr(&m.args[0]),
            self.expr(&m.args[1]),
        );
        let above = self.push(Op::Max, vec![x?, lo?], e)?;
        self.push(Op::Min, vec![above, hi?], e)
    }

    /// `.unwrap()` / `.expect(…)` closing `a.try_inverse()` or `a.lu().solve(&b)`.
    pub(super) fn finish(&mut self, e: &Expr, m: &syn::ExprMethodCall) -> Option<ValueId> {
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
            ("cholesky", 0, receiver) => {
                let a = self.expr(receiver)?;
                self.push(Op::Cholesky(finish), vec![a], e)
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
    pub(super) fn unsupported_option(&mut self, e: &Expr, receiver: &Expr) -> Option<ValueId> {
        if let Expr::Path(path) = receiver
            && let Some(name) = path.path.get_ident()
            && matches!(self.scope.get(&name.to_string()), Some(Binding::Poison))
        {
            return None;
        }
        if let Expr::MethodCall(inner) = receiver
            && let Some(advice) = not_yet(&inner.method.to_string())
        {
            self.cx.error_spanned_by(
                &inner.method,
                format!("`.{}(…)` is not supported yet; {advice}", inner.method),
            );
            return None;
        }
        self.cx.error_spanned_by(
            e,
            "`.unwrap()` and `.expect(…)` are supported only in `a.try_inverse().unwrap()`, `a.lu().solve(&b).unwrap()` and `a.cholesky().unwrap()`",
        );
        None
    }

    /// `sigmoid(x)`, `matgrad::softplus(x)`, `f64::exp(x)`, `f64::powi(x, n)`.
    pub(super) fn call(&mut self, e: &Expr, c: &syn::ExprCall) -> Option<ValueId> {
        let Some(func) = callee(&c.func, self.float) else {
            return self.composed(e, c);
        };
        let expected = if matches!(func, Callee::Func(_)) {
            1
        } else {
            2
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
            Callee::Func(f) => {
                self.note_helper(&c.func, f);
                self.push(Op::Unary(f), vec![a?], e)
            }
            Callee::Powi => {
                let n = self.integer(&c.args[1]);
                self.push(Op::Powi(n?), vec![a?], e)
            }
            Callee::Powf => {
                let p = self.expr(&c.args[1]);
                self.push(Op::Powf, vec![a?, p?], e)
            }
            Callee::Max | Callee::Min => {
                let b = self.expr(&c.args[1]);
                let op = if matches!(func, Callee::Max) {
                    Op::Max
                } else {
                    Op::Min
                };
                self.push(op, vec![a?, b?], e)
            }
        }
    }

    /// A matrix built in the body: `Vector2::new(…)` from its entries (row by row, as nalgebra
    /// takes them), `Matrix3::zeros()`, `SMatrix::<f64, 2, 2>::identity()`, `from_element(s)`,
    /// `repeat(s)`. `None` when `c` is not a call of such a constructor.
    pub(super) fn constructor(&mut self, e: &Expr, c: &syn::ExprCall) -> Constructor {
        let Expr::Path(path) = &*c.func else {
            return Constructor::No;
        };
        let segments = &path.path.segments;
        if segments.len() < 2
            || !types::is_matrix_type_name(&segments[segments.len() - 2].ident.to_string())
        {
            return Constructor::No;
        }
        let method = segments[segments.len() - 1].ident.to_string();
        let ty = &segments[segments.len() - 2];
        let supported = "a matrix is built with `new(…)` (its entries row by row), `zeros()`, \
                         `identity()`, `from_diagonal_element(s)`, `from_element(s)` or \
                         `repeat(s)`";
        let Some((rows, cols)) = types::constructor_dims(ty, self.env) else {
            self.cx.error_spanned_by(
                &c.func,
                format!(
                    "`{}` is not a fixed-size matrix type whose sizes can be read here; write \
                     `Vector3::new(…)`, `Matrix2x3::zeros()` or `SMatrix::<f64, R, C>::zeros()`",
                    text::expr(&c.func)
                ),
            );
            return Constructor::Built(None);
        };
        let arity = |n: usize, this: &mut Self| {
            if c.args.len() == n {
                true
            } else {
                this.cx.error_spanned_by(
                    e,
                    format!(
                        "`{method}` takes {n} argument{}, and this call has {}",
                        if n == 1 { "" } else { "s" },
                        c.args.len()
                    ),
                );
                false
            }
        };
        let constant = |value: &str, this: &mut Self| this.float_constant(value, e);
        let (kind, args) = match method.as_str() {
            "new" => {
                let (Some(r), Some(k)) = (rows.value(), cols.value()) else {
                    self.cx.error_spanned_by(
                        e,
                        "`new` lists the entries of a matrix of literal sizes; for const \
                         generic sizes build it with `zeros()` or `from_element(s)`",
                    );
                    return Constructor::Built(None);
                };
                if !arity(r * k, self) {
                    return Constructor::Built(None);
                }
                let mut entries = Vec::new();
                for arg in &c.args {
                    entries.push(self.expr(arg));
                }
                let entries: Option<Vec<ValueId>> = entries.into_iter().collect();
                let Some(entries) = entries else {
                    return Constructor::Built(None);
                };
                // nalgebra's `new` reads the entries row by row; the IR keeps column-major.
                let args = (0..r * k).map(|n| entries[(n % r) * k + n / r]).collect();
                (Build::Entries, args)
            }
            "zeros" if arity(0, self) => (Build::Fill, vec![constant("0.0", self)]),
            "identity" | "from_diagonal_element" if rows != cols => {
                self.cx.error_spanned_by(
                    e,
                    format!("`{method}` of a {rows}×{cols} matrix: only square ones are supported"),
                );
                return Constructor::Built(None);
            }
            "identity" if arity(0, self) => (Build::Diagonal, vec![constant("1.0", self)]),
            "from_diagonal_element" if arity(1, self) => match self.expr(&c.args[0]) {
                Some(s) => (Build::Diagonal, vec![s]),
                None => return Constructor::Built(None),
            },
            "from_element" | "repeat" if arity(1, self) => match self.expr(&c.args[0]) {
                Some(s) => (Build::Fill, vec![s]),
                None => return Constructor::Built(None),
            },
            "zeros" | "identity" | "from_diagonal_element" | "from_element" | "repeat" => {
                return Constructor::Built(None);
            }
            _ => {
                self.cx.error_spanned_by(
                    &c.func,
                    format!("`{}` is not supported; {supported}", text::expr(&c.func)),
                );
                return Constructor::Built(None);
            }
        };
        Constructor::Built(self.push(Op::Build { kind, rows, cols }, args, e))
    }

    pub(super) fn composed(&mut self, e: &Expr, c: &syn::ExprCall) -> Option<ValueId> {
        let Expr::Path(path) = &*c.func else {
            self.cx.error_spanned_by(
                &c.func,
                "only functions named by a path can be called, as in `layer(&w, &x)`",
            );
            return None;
        };
        if path.qself.is_some()
            || path.path.segments.len() == 1 && path.path.segments[0].ident == self.env.function
        {
            self.cx.error_spanned_by(
                &c.func,
                format!(
                    "`{}` calls itself; `#[gradient]` cannot differentiate recursion",
                    self.env.function
                ),
            );
            return None;
        }
        let mut args = Vec::new();
        let mut values = Vec::new();
        let mut ok = true;
        for arg in &c.args {
            // Passed as a reference when written `&x`, or when `x` is a parameter taken by `&`.
            let (inner, by_ref) = match arg {
                Expr::Reference(r) if r.mutability.is_none() => (&*r.expr, true),
                Expr::Path(p)
                    if p.path
                        .get_ident()
                        .is_some_and(|n| self.refs.contains(&n.to_string())) =>
                {
                    (arg, true)
                }
                other => (other, false),
            };
            let constant = self.try_integer(inner).or_else(|| match inner {
                Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Bool(_),
                    ..
                }) => Some(inner.to_token_stream()),
                Expr::Path(p) => match p.path.get_ident().and_then(|n| {
                    self.scope
                        .get(&n.to_string())
                        .or_else(|| self.outer?.get(&n.to_string()))
                }) {
                    Some(Binding::Flag(t) | Binding::Data(t, _)) => Some(t.clone()),
                    Some(
                        Binding::Value(_)
                        | Binding::Constant(_)
                        | Binding::Counter(_)
                        | Binding::Known(_)
                        | Binding::Poison,
                    )
                    | None => None,
                },
                _ => None,
            });
            if let Some(tokens) = constant {
                args.push(CallArg::Constant(if by_ref {
                    quote!(&#tokens)
                } else {
                    tokens
                }));
                continue;
            }
            match self.expr(inner) {
                Some(v) => values.push(v),
                None => ok = false,
            }
            args.push(CallArg::Value { by_ref });
        }
        if !ok {
            return None;
        }
        let vjp = crate::ir::vjp_path(&path.path);
        let jvp = crate::ir::companion_path(&path.path, "jvp");
        let vjp_jvp = crate::ir::companion_path(&path.path, "vjp_jvp");
        let site = CallSite {
            path: path.path.to_token_stream(),
            vjp: vjp.to_token_stream(),
            jvp: jvp.to_token_stream(),
            vjp_jvp: vjp_jvp.to_token_stream(),
            args,
            result: Shape::Scalar,
        };
        self.push(Op::Call(Box::new(site)), values, e)
    }

    pub(super) fn cast(&mut self, e: &Expr, c: &syn::ExprCast) -> Option<ValueId> {
        match types::classify(&c.ty, self.env) {
            Ok(Kind::Scalar(_)) => {}
            Ok(
                Kind::Matrix { .. }
                | Kind::Int
                | Kind::Bool
                | Kind::Samples { .. }
                | Kind::Integers,
            )
            | Err(_) => {
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
        // A cast of a constant expression is a constant: `xs.len() as f64`.
        if matches!(&*c.expr, Expr::MethodCall(_) | Expr::Call(_))
            && !self.mentions_values(c.expr.to_token_stream())
        {
            let tokens = self.with_counters(e.to_token_stream());
            return self.push(Op::Const(quote!((#tokens))), Vec::new(), e);
        }
        self.expr(&c.expr)
    }

    pub(super) fn index(&mut self, e: &Expr, i: &syn::ExprIndex) -> Option<ValueId> {
        if let Some(at) = self.run_time_index(i) {
            let a = self.expr(&i.expr)?;
            return self.push(Op::IndexAt(at), vec![a], e);
        }
        let (row, col) = self.indices(e, i)?;
        let a = self.expr(&i.expr)?;
        self.push(Op::Index(row, col), vec![a], e)
    }

    /// The index of `v[k]` or `m[(i, j)]` when it is not known while lowering but is an
    /// integer expression of integer parameters (`v[label]`, `m[(k, k + 1)]`); `None` otherwise.
    pub(super) fn run_time_index(&self, i: &syn::ExprIndex) -> Option<At> {
        let integer = |e: &Expr| match e {
            Expr::Cast(c) if matches!(&*c.ty, syn::Type::Path(p) if p.path.is_ident("usize")) => {
                self.try_integer(&c.expr)
            }
            e => self.try_integer(e),
        };
        match &*i.index {
            Expr::Tuple(t) if t.elems.len() == 2 => {
                let (row, col) = (&t.elems[0], &t.elems[1]);
                if self.known(row).is_some() && self.known(col).is_some() {
                    return None;
                }
                Some(At {
                    row: integer(row)?,
                    col: Some(integer(col)?),
                })
            }
            index if self.known(index).is_none() => Some(At {
                row: integer(index)?,
                col: None,
            }),
            _ => None,
        }
    }

    /// The entry `i` names: `(row, column)`, the column `usize::MAX` for `v[i]` (which `shape`
    /// resolves); `None` after an error.
    pub(super) fn indices(&mut self, e: &Expr, i: &syn::ExprIndex) -> Option<(usize, usize)> {
        let pair = match &*i.index {
            Expr::Tuple(t) if t.elems.len() == 2 => Some((&t.elems[0], &t.elems[1])),
            _ => None,
        };
        let (row, col) = match pair {
            Some((row, col)) => (self.known(row), self.known(col)),
            None => (self.known(&i.index), Some(0)),
        };
        let (Some(row), Some(col)) = (row, col) else {
            self.cx.error_spanned_by(
                &i.index,
                "indices must be integer literals, loop counters, integer parameters, or \
                 `+ - *` of those, as in `m[(0, 1)]`, `v[i]`, `z[label]` or `m[(i + 1, 2 * i)]`",
            );
            return None;
        };
        let (Ok(row), Ok(col)) = (usize::try_from(row), usize::try_from(col)) else {
            let written = match pair {
                Some(_) => format!("[({row}, {col})]"),
                None => format!("[{row}]"),
            };
            self.cx.error_spanned_by(
                e,
                format!(
                    "index `{written}` is out of range for `{}`: it is negative",
                    text::expr(&i.expr)
                ),
            );
            return None;
        };
        // `v[i]`: whether `i` is a row or a column is decided by `shape`.
        let col = if pair.is_some() { col } else { usize::MAX };
        Some((row, col))
    }

    /// The value of an integer known while lowering: a literal, a loop counter, or `+ - *` and
    /// parentheses of those, as in `v[i + 1]` or `m[(2 * i, i - 1)]`. `None` for anything else
    /// (an integer parameter is known only at run time) and on overflow.
    pub(super) fn known(&self, e: &Expr) -> Option<i64> {
        match e {
            Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Int(int),
                ..
            }) => int.base10_parse().ok(),
            Expr::Paren(p) => self.known(&p.expr),
            Expr::Group(g) => self.known(&g.expr),
            Expr::Unary(u) if matches!(u.op, UnOp::Neg(_)) => self.known(&u.expr)?.checked_neg(),
            Expr::Binary(b) => {
                let (l, r) = (self.known(&b.left)?, self.known(&b.right)?);
                match b.op {
                    BinOp::Add(_) => l.checked_add(r),
                    BinOp::Sub(_) => l.checked_sub(r),
                    BinOp::Mul(_) => l.checked_mul(r),
                    _ => None,
                }
            }
            Expr::Path(p) => match p.path.get_ident().and_then(|n| {
                self.scope
                    .get(&n.to_string())
                    .or_else(|| self.outer?.get(&n.to_string()))
            }) {
                Some(Binding::Known(i)) => Some(*i),
                Some(
                    Binding::Value(_)
                    | Binding::Constant(_)
                    | Binding::Counter(_)
                    | Binding::Flag(_)
                    | Binding::Data(..)
                    | Binding::Poison,
                )
                | None => None,
            },
            _ => None,
        }
    }

    /// `m.map(|v| …)` or `m.map(f64::exp)`: the closure body becomes a scalar sub-program.
    pub(super) fn map(&mut self, e: &Expr, receiver: &Expr, f: &Expr) -> Option<ValueId> {
        let a = self.expr(receiver);
        let (sub, captures) = match f {
            Expr::Closure(closure) => self.closure(closure)?,
            Expr::Path(_) => {
                let Some(Callee::Func(func)) = callee(f, self.float) else {
                    self.cx.error_spanned_by(
                        f,
                        format!("`.map` takes a closure `|v| …` or one of `sigmoid`, `softplus`, `{}::exp`, `{0}::ln`, …", self.float),
                    );
                    return None;
                };
                self.note_helper(f, func);
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

    pub(super) fn closure(
        &mut self,
        closure: &syn::ExprClosure,
    ) -> Option<(Program, Vec<ValueId>)> {
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
        let view = self.visible();
        let mut inner = Lowerer::new(self.cx, self.float, self.env, Some(&view), Body::Closure);
        inner.refs.clone_from(&self.refs);
        inner.data_depth = self.data_depth;
        inner.factors.clone_from(&self.factors);
        let v = inner.prog.push(
            Op::Param(0),
            Vec::new(),
            Loc::of(&arg.ident),
            arg.ident.to_string(),
        );
        inner.bind(&arg.ident.to_string(), Binding::Value(v));
        let output = inner.expr(&closure.body);
        let (mut prog, names) = (inner.prog, inner.captures);
        self.prog.helpers.append(&mut prog.helpers);
        prog.output = Some(output?);
        let captures = self.captured_values(&names, Loc::of(closure))?;
        Some((prog, captures))
    }
}

/// The function a call names, if the macro knows its derivative.
/// The scalar function a path names: `sigmoid`, `matgrad::softplus`, `f64::exp`, `f32::max`, or
/// `T::tanh` in a function generic over its scalar `T`.
fn callee(func: &Expr, float: crate::types::Float) -> Option<Callee> {
    let Expr::Path(path) = func else { return None };
    let segments: Vec<String> = path
        .path
        .segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect();
    let last = segments.last()?.as_str();
    let first = segments.first()?.as_str();
    let float_fn = segments.len() == 2
        && (first == "f64" || first == "f32" || (float.is_generic() && first == float.name()));
    match Func::from_name(last) {
        Some(f) if f.is_helper() && (segments.len() == 1 || first == "matgrad") => {
            Some(Callee::Func(f))
        }
        Some(f) if !f.is_helper() && float_fn => Some(Callee::Func(f)),
        None if float_fn && last == "powi" => Some(Callee::Powi),
        None if float_fn && last == "powf" => Some(Callee::Powf),
        None if float_fn && last == "max" => Some(Callee::Max),
        None if float_fn && last == "min" => Some(Callee::Min),
        _ => None,
    }
}

enum Callee {
    Func(Func),
    Powi,
    Powf,
    Max,
    Min,
}

/// What to write instead of a nalgebra method `#[gradient]` does not support yet.
/// Whether a method is one of those `structured_method` lowers, and if so its value (`None`
/// after an error).
enum Structured {
    No,
    Lowered(Option<ValueId>),
}

/// The reduction a method without arguments named `name` is, if it is one.
fn extremum(name: &str) -> Option<Extremum> {
    match name {
        "max" => Some(Extremum::Max),
        "min" => Some(Extremum::Min),
        "amax" => Some(Extremum::AMax),
        "amin" => Some(Extremum::AMin),
        _ => None,
    }
}

/// How many sizes a view method takes as type arguments, for the view methods.
fn view_sizes(name: &str) -> Option<usize> {
    match name {
        "row" | "column" => Some(0),
        "fixed_rows" | "fixed_columns" => Some(1),
        "fixed_view" => Some(2),
        _ => None,
    }
}

fn not_yet(name: &str) -> Option<&'static str> {
    Some(match name {
        "rows" | "columns" | "view" => {
            "blocks of a size known at compile time are, as in `m.fixed_rows::<2>(i)`, \
             `m.fixed_columns::<2>(j)` and `m.fixed_view::<2, 3>(i, j)`"
        }
        "inverse" => "write `a.try_inverse().unwrap()`",
        "scale" => "write `m * s`",
        "component_mul_assign" | "scale_mut" | "transpose_mut" => {
            "write it as an expression, as in `m = m.component_mul(&b)`"
        }
        _ => return None,
    })
}

/// Methods without arguments that the language knows, besides the scalar functions.
fn is_known_method(name: &str) -> bool {
    matches!(
        name,
        "transpose"
            | "trace"
            | "sum"
            | "mean"
            | "norm"
            | "norm_squared"
            | "magnitude"
            | "magnitude_squared"
            | "normalize"
            | "clone"
            | "into_owned"
            | "clone_owned"
            | "diagonal"
            | "determinant"
    ) || Func::from_name(name).is_some_and(|f| !f.is_helper())
}

/// Whether a call is a matrix constructor, and if so its value (`None` after an error).
pub(super) enum Constructor {
    No,
    Built(Option<ValueId>),
}
