//! Prints a generated [`Function`] as Rust source, in one of two dialects: as a user writes it
//! under `#[gradient]` (in `f64`, `f32` or a generic `T`), or as the generic twin
//! `{name}_ref<T: RealField + Copy>` that dual numbers run. Both print the same tree, so they
//! compute the same thing; the twin differs only where Rust's generics need it (literals through
//! `lit::<T>(…)`, a scalar times a matrix written as the matrix times the scalar, closures
//! instead of `f64::exp`).
//!
//! Operators are printed with the fewest parentheses Rust's precedence needs.

use std::fmt::Write as _;

use super::{Block, Cond, Dim, Expr, Float, Function, Idx, Mix, ParamKind, Sample, Shape, Stmt};

/// Precedence of what an expression prints as: operands of a weaker kind get parentheses.
const SUM: u8 = 1;
const PRODUCT: u8 = 2;
const UNARY: u8 = 3;
const POSTFIX: u8 = 4;
const ATOM: u8 = 5;

pub(super) struct Printer {
    /// The twin: generic `T`, run on dual numbers.
    reference: bool,
    float: Float,
}

impl Printer {
    pub(super) fn user(float: Float) -> Self {
        Printer {
            reference: false,
            float,
        }
    }

    pub(super) fn reference() -> Self {
        Printer {
            reference: true,
            float: Float::Generic,
        }
    }

    fn generic(&self) -> bool {
        self.reference || self.float == Float::Generic
    }

    fn float_name(&self) -> &'static str {
        match self.float {
            _ if self.generic() => "T",
            Float::F32 => "f32",
            Float::F64 | Float::Generic => "f64",
        }
    }

    /// The function with its attribute (user) or as `{name}_ref` (twin).
    pub(super) fn function(&self, f: &Function) -> String {
        let name = if self.reference {
            format!("{}_ref", f.name)
        } else {
            f.name.clone()
        };
        self.function_as(f, "", &name)
    }

    /// The attribute a function of its kind takes (with `twice`, for the second derivatives a
    /// `#[hessian]` caller needs).
    pub(super) fn attribute(f: &Function, twice: bool) -> String {
        let twice = if twice { "twice" } else { "" };
        match (&f.wrt, f.ret) {
            (Some(names), _) if twice.is_empty() => {
                format!("#[gradient(wrt({}))]", names.join(", "))
            }
            (Some(names), _) => format!("#[gradient(wrt({}), {twice})]", names.join(", ")),
            // A matrix-valued function gets its Jacobian, which its test checks.
            (None, Shape::Mat(..)) if twice.is_empty() => "#[jacobian]".to_string(),
            (None, Shape::Mat(..)) => format!("#[jacobian({twice})]"),
            (None, Shape::Scalar) if twice.is_empty() => "#[gradient]".to_string(),
            (None, Shape::Scalar) => format!("#[gradient({twice})]"),
        }
    }

    /// The function under `attribute` (or the one its kind takes, where empty) and `name`.
    pub(super) fn function_as(&self, f: &Function, attribute: &str, name: &str) -> String {
        let mut out = String::new();
        if !attribute.is_empty() {
            out.push_str(attribute);
            out.push('\n');
        } else if !self.reference {
            out.push_str(&Self::attribute(f, false));
            out.push('\n');
        }
        let mut generics = Vec::new();
        if self.generic() {
            generics.push("T: RealField + Copy".to_string());
        }
        if f.generic_n {
            generics.push("const N: usize".to_string());
        }
        let generics = if generics.is_empty() {
            String::new()
        } else {
            format!("<{}>", generics.join(", "))
        };
        let params: Vec<String> = f.params.iter().map(|p| self.param(p)).collect();
        let _ = writeln!(
            out,
            "fn {name}{generics}({}) -> {} {{",
            params.join(", "),
            self.ty(f.ret)
        );
        for s in &f.body {
            self.stmt(&mut out, s, 1);
        }
        let tail = self.owned(&f.tail, 1);
        if f.early_return {
            let _ = writeln!(out, "    return {tail};");
        } else {
            let _ = writeln!(out, "    {tail}");
        }
        out.push_str("}\n");
        out
    }

    fn param(&self, p: &super::Param) -> String {
        let ty = match p.kind {
            ParamKind::Float(Shape::Scalar) => self.float_name().to_string(),
            ParamKind::Float(shape) => format!("&{}", self.ty(shape)),
            ParamKind::Dominant(n) => format!("&{}", self.ty(Shape::Mat(Dim::Lit(n), Dim::Lit(n)))),
            ParamKind::Int => "i32".to_string(),
            ParamKind::Bool => "bool".to_string(),
            ParamKind::Samples(shape) => format!("&[{}]", self.ty(shape)),
        };
        format!("{}: {ty}", p.name)
    }

    /// The type of a value of this shape.
    pub(super) fn ty(&self, shape: Shape) -> String {
        let f = self.float_name();
        let dim = |d: Dim| match d {
            Dim::Lit(n) => n.to_string(),
            Dim::N => "N".to_string(),
        };
        match shape {
            Shape::Scalar => f.to_string(),
            Shape::Mat(r, Dim::Lit(1)) => format!("SVector<{f}, {}>", dim(r)),
            Shape::Mat(Dim::Lit(1), c) => format!("RowSVector<{f}, {}>", dim(c)),
            Shape::Mat(Dim::Lit(3), Dim::Lit(3)) => format!("Matrix3<{f}>"),
            Shape::Mat(r, c) => format!("SMatrix<{f}, {}, {}>", dim(r), dim(c)),
        }
    }

    fn stmt(&self, out: &mut String, s: &Stmt, depth: usize) {
        let pad = "    ".repeat(depth);
        match s {
            Stmt::Let {
                name,
                mutable,
                ty,
                init,
            } => {
                let m = if *mutable { "mut " } else { "" };
                let ty = ty.map(|t| format!(": {}", self.ty(t))).unwrap_or_default();
                let _ = writeln!(out, "{pad}let {m}{name}{ty} = {};", self.owned(init, depth));
            }
            Stmt::Assign { name, op, value } => {
                let value = if *op == "=" {
                    self.owned(value, depth)
                } else {
                    self.expr(value, depth).0
                };
                let _ = writeln!(out, "{pad}{name} {op} {value};");
            }
            Stmt::If { arms, otherwise } => {
                for (k, (cond, body)) in arms.iter().enumerate() {
                    let lead = if k == 0 { pad.clone() } else { " else ".into() };
                    let _ = writeln!(out, "{lead}if {} {{", self.cond(cond, depth));
                    for s in body {
                        self.stmt(out, s, depth + 1);
                    }
                    out.push_str(&pad);
                    out.push('}');
                }
                if let Some(body) = otherwise {
                    out.push_str(" else {\n");
                    for s in body {
                        self.stmt(out, s, depth + 1);
                    }
                    out.push_str(&pad);
                    out.push('}');
                }
                out.push('\n');
            }
            Stmt::For { var, end, body } => {
                let _ = writeln!(out, "{pad}for {var} in 0..{end} {{");
                for s in body {
                    self.stmt(out, s, depth + 1);
                }
                let _ = writeln!(out, "{pad}}}");
            }
            Stmt::Block(body) => {
                let _ = writeln!(out, "{pad}{{");
                for s in body {
                    self.stmt(out, s, depth + 1);
                }
                let _ = writeln!(out, "{pad}}}");
            }
            Stmt::Data {
                samples,
                bare_zip,
                body,
            } => {
                let bind = |s: &Sample| {
                    if s.by_value {
                        format!("&{}", s.name)
                    } else {
                        s.name.clone()
                    }
                };
                let (pattern, source) = match &samples[..] {
                    [a, b] => {
                        let other = if *bare_zip {
                            b.set.clone()
                        } else {
                            format!("{}.iter()", b.set)
                        };
                        (
                            format!("({}, {})", bind(a), bind(b)),
                            format!("{}.iter().zip({other})", a.set),
                        )
                    }
                    _ => {
                        let a = &samples[0];
                        (bind(a), format!("{}.iter()", a.set))
                    }
                };
                let _ = writeln!(out, "{pad}for {pattern} in {source} {{");
                for s in body {
                    self.stmt(out, s, depth + 1);
                }
                let _ = writeln!(out, "{pad}}}");
            }
        }
    }

    /// An expression where an owned value is needed: a matrix parameter is dereferenced.
    fn owned(&self, e: &Expr, depth: usize) -> String {
        match e {
            Expr::Var(name, true) => format!("*{name}"),
            Expr::Var(..)
            | Expr::Deref(_)
            | Expr::Zeros(_)
            | Expr::Lit(_)
            | Expr::Typed(_)
            | Expr::Bin(..)
            | Expr::Neg(_)
            | Expr::Method(..)
            | Expr::Powi(..)
            | Expr::Powf(..)
            | Expr::Pow(..)
            | Expr::Helper(..)
            | Expr::Map(..)
            | Expr::Inverse(_)
            | Expr::Solve(..)
            | Expr::Index(..)
            | Expr::Cast(_)
            | Expr::Call(..)
            | Expr::If(..)
            | Expr::Block(_) => self.expr(e, depth).0,
        }
    }

    /// `e` with parentheses unless it binds at least as tightly as `min`.
    fn wrap(&self, e: &Expr, min: u8, depth: usize) -> String {
        let (text, prec) = self.expr(e, depth);
        if prec >= min {
            text
        } else {
            format!("({text})")
        }
    }

    /// A matrix argument passed by reference.
    fn by_ref(&self, e: &Expr, depth: usize) -> String {
        match e {
            Expr::Var(name, true) => name.clone(),
            Expr::Var(..)
            | Expr::Deref(_)
            | Expr::Zeros(_)
            | Expr::Lit(_)
            | Expr::Typed(_)
            | Expr::Bin(..)
            | Expr::Neg(_)
            | Expr::Method(..)
            | Expr::Powi(..)
            | Expr::Powf(..)
            | Expr::Pow(..)
            | Expr::Helper(..)
            | Expr::Map(..)
            | Expr::Inverse(_)
            | Expr::Solve(..)
            | Expr::Index(..)
            | Expr::Cast(_)
            | Expr::Call(..)
            | Expr::If(..)
            | Expr::Block(_) => format!("&{}", self.wrap(e, UNARY, depth)),
        }
    }

    fn lit(&self, v: f64) -> (String, u8) {
        let text = format!("{v:?}");
        if self.reference {
            (format!("lit::<T>({text})"), ATOM)
        } else if self.float == Float::Generic {
            (format!("convert::<f64, T>({text})"), ATOM)
        } else if v < 0.0 {
            (text, UNARY)
        } else {
            (text, ATOM)
        }
    }

    /// The text of an expression and its precedence.
    fn expr(&self, e: &Expr, depth: usize) -> (String, u8) {
        match e {
            Expr::Var(name, _) => (name.clone(), ATOM),
            Expr::Deref(name) => (format!("*{name}"), UNARY),
            Expr::Zeros(shape) => {
                let (r, c) = match shape {
                    Shape::Mat(r, c) => (*r, *c),
                    Shape::Scalar => unreachable!("zeros of a matrix only"),
                };
                let dim = |d: Dim| match d {
                    Dim::Lit(n) => n.to_string(),
                    Dim::N => "N".to_string(),
                };
                let f = self.float_name();
                let text = format!("SMatrix::<{f}, {}, {}>::zeros()", dim(r), dim(c));
                (text, POSTFIX)
            }
            Expr::Typed(v) if !self.generic() => {
                let prec = if *v < 0.0 { UNARY } else { ATOM };
                (format!("{v:?}_{}", self.float_name()), prec)
            }
            Expr::Lit(v) | Expr::Typed(v) => self.lit(*v),
            Expr::Bin(op, mix, l, r) => {
                let prec = if matches!(op, '+' | '-') {
                    SUM
                } else {
                    PRODUCT
                };
                let (l, r) = if *mix == Mix::ScalarLeft && self.generic() {
                    (r, l)
                } else {
                    (l, r)
                };
                let text = format!(
                    "{} {op} {}",
                    self.wrap(l, prec, depth),
                    self.wrap(r, prec + 1, depth)
                );
                (text, prec)
            }
            Expr::Neg(a) => (format!("-{}", self.wrap(a, UNARY + 1, depth)), UNARY),
            Expr::Method(..)
            | Expr::Powi(..)
            | Expr::Powf(..)
            | Expr::Pow(..)
            | Expr::Helper(..)
            | Expr::Map(..)
            | Expr::Inverse(_)
            | Expr::Solve(..)
            | Expr::Index(..) => self.postfix(e, depth),
            Expr::Cast(name) => {
                if self.reference {
                    (format!("lit::<T>({name} as f64)"), ATOM)
                } else {
                    (format!("({name} as {})", self.float_name()), ATOM)
                }
            }
            Expr::Call(name, args) => {
                let args: Vec<String> = args
                    .iter()
                    .map(|(a, matrix)| {
                        if *matrix {
                            self.by_ref(a, depth)
                        } else {
                            self.expr(a, depth).0
                        }
                    })
                    .collect();
                let suffix = if self.reference { "_ref" } else { "" };
                (format!("{name}{suffix}({})", args.join(", ")), ATOM)
            }
            Expr::If(c, a, b) => {
                let text = format!(
                    "if {} {} else {}",
                    self.cond(c, depth),
                    self.block(a, depth),
                    self.block(b, depth)
                );
                (text, 0)
            }
            Expr::Block(b) => (self.block(b, depth), 0),
        }
    }

    /// Method calls, calls of the runtime's scalar functions, and indexing.
    fn postfix(&self, e: &Expr, depth: usize) -> (String, u8) {
        match e {
            Expr::Method(name, recv, arg) => {
                let recv = self.wrap(recv, POSTFIX, depth);
                let arg = arg
                    .as_ref()
                    .map(|a| self.by_ref(a, depth))
                    .unwrap_or_default();
                (format!("{recv}.{name}({arg})"), POSTFIX)
            }
            Expr::Powi(recv, k) => (
                format!("{}.powi({k})", self.wrap(recv, POSTFIX, depth)),
                POSTFIX,
            ),
            Expr::Powf(recv, p) => (
                format!(
                    "{}.powf({})",
                    self.wrap(recv, POSTFIX, depth),
                    self.expr(p, depth).0
                ),
                POSTFIX,
            ),
            Expr::Pow(recv, k) => (
                format!("{}.pow({k})", self.wrap(recv, POSTFIX, depth)),
                POSTFIX,
            ),
            Expr::Helper(name, a) => (format!("matgrad::{name}({})", self.expr(a, depth).0), ATOM),
            Expr::Map(recv, body, path) => {
                let recv = self.wrap(recv, POSTFIX, depth);
                let f = match path {
                    Some(f) if !self.generic() => format!("{}::{f}", self.float_name()),
                    _ => format!("|v| {}", self.expr(body, depth).0),
                };
                (format!("{recv}.map({f})"), POSTFIX)
            }
            Expr::Inverse(a) => (
                format!("{}.try_inverse().unwrap()", self.wrap(a, POSTFIX, depth)),
                POSTFIX,
            ),
            Expr::Solve(a, b) => (
                format!(
                    "{}.lu().solve({}).unwrap()",
                    self.wrap(a, POSTFIX, depth),
                    self.by_ref(b, depth)
                ),
                POSTFIX,
            ),
            Expr::Index(a, i, j) => {
                let idx = |i: &Idx| match i {
                    Idx::Lit(n) => n.to_string(),
                    Idx::Counter(c) => c.clone(),
                };
                let index = match j {
                    Some(j) => format!("({}, {})", idx(i), idx(j)),
                    None => idx(i),
                };
                (
                    format!("{}[{index}]", self.wrap(a, POSTFIX, depth)),
                    POSTFIX,
                )
            }
            Expr::Var(..)
            | Expr::Deref(_)
            | Expr::Zeros(_)
            | Expr::Lit(_)
            | Expr::Typed(_)
            | Expr::Bin(..)
            | Expr::Neg(_)
            | Expr::Cast(_)
            | Expr::Call(..)
            | Expr::If(..)
            | Expr::Block(_) => unreachable!("only postfix forms are printed here"),
        }
    }

    fn block(&self, b: &Block, depth: usize) -> String {
        let mut out = String::from("{\n");
        for s in &b.stmts {
            self.stmt(&mut out, s, depth + 1);
        }
        let pad = "    ".repeat(depth);
        let _ = write!(out, "{pad}    {}\n{pad}}}", self.owned(&b.tail, depth + 1));
        out
    }

    fn cond(&self, c: &Cond, depth: usize) -> String {
        let operand = |c: &Cond| match c {
            Cond::And(..) | Cond::Or(..) => format!("({})", self.cond(c, depth)),
            Cond::Cmp(..) | Cond::IntCmp(..) | Cond::Flag(_) | Cond::Not(_) => self.cond(c, depth),
        };
        match c {
            Cond::Cmp(op, a, b) => format!(
                "{} {op} {}",
                self.wrap(a, SUM, depth),
                self.wrap(b, SUM, depth)
            ),
            Cond::IntCmp(name, op, k) => format!("{name} {op} {k}"),
            Cond::Flag(name) => name.clone(),
            Cond::Not(inner) => match &**inner {
                Cond::Flag(name) => format!("!{name}"),
                other => format!("!({})", self.cond(other, depth)),
            },
            Cond::And(a, b) => format!("{} && {}", operand(a), operand(b)),
            Cond::Or(a, b) => format!("{} || {}", operand(a), operand(b)),
        }
    }
}
