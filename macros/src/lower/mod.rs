//! Function body → [`Program`].
//!
//! Walks the statements in order, keeping a scope from names to values, so `let` shadowing and
//! reassignment become plain SSA: every expression becomes one node whose arguments were made
//! before it. Whether an operation is a matrix product or a scaling is left to `shape`; this
//! stage decides only what the syntax means. Everything outside the supported language is
//! reported here with a spanned error that says what is supported. Runs after `ast`, before
//! `shape`. Control flow is lowered in `flow`, calls of every kind in `calls`.
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

mod calls;
mod flow;
use crate::ctxt::Ctxt;
use crate::ir::{Annotation, Func, Loc, Op, Program, Shape, ValueId};
use crate::text;
use crate::types::{self, Env, Float, Kind};
use flow::data_assignment;

/// What a name in scope stands for.
#[derive(Clone)]
enum Binding {
    Value(ValueId),
    /// An integer parameter: a compile-time-opaque constant, used as written.
    Constant(TokenStream),
    /// A loop counter: an integer known at compile time.
    Known(i64),
    /// The counter of a loop kept as a loop: an integer known at run time, its name in
    /// generated code.
    Counter(TokenStream),
    /// A boolean parameter, used as written in conditions.
    Flag(TokenStream),
    /// A slice or array of samples, read only by a loop over data: the expression that names it
    /// in generated code (`xs`, `self.xs`) and the shape of one sample, `None` for integers.
    Data(TokenStream, Option<Shape>),
    /// A value whose expression had an error; uses stay silent.
    Poison,
}

const METHODS: &str = "`.transpose()`, `.trace()`, `.sum()`, `.mean()`, `.dot(&y)`, `.norm()`, `.norm_squared()`, `.normalize()`, \
`.component_mul(&y)`, `.component_div(&y)`, `.map(|v| …)`, `.determinant()`, `.try_inverse().unwrap()`, \
`.lu().solve(&b).unwrap()`, `.kronecker(&y)`, `.pow(k)`, `.row(i)`, `.column(j)`, `.fixed_rows::<R>(i)`, \
`.fixed_columns::<C>(j)`, `.fixed_view::<R, C>(i, j)`, `.diagonal()`, `.cross(&b)`, `.max()`, `.min()`, `.amax()`, `.amin()`, `.cholesky().unwrap()` with `.l()`, \
`.solve(&b)`, `.inverse()`, `.determinant()`, `.ln_determinant()`, and on scalars `.exp()`, `.ln()`, `.ln_1p()`, `.sqrt()`, \
`.powi(n)`, `.powf(p)`, `.max(y)`, `.min(y)`, `.clamp(lo, hi)`, `.sin()`, `.cos()`, `.tanh()`, `.abs()`";

/// The field `self.x` that `e` reads, as `self.x` or `&self.x`.
fn self_field(e: &Expr) -> Option<&syn::ExprField> {
    match e {
        Expr::Reference(r) => self_field(&r.expr),
        Expr::Paren(p) => self_field(&p.expr),
        Expr::Field(f) if matches!(&*f.base, Expr::Path(p) if p.path.is_ident("self")) => Some(f),
        _ => None,
    }
}

/// What a simple pattern binds: `Ok(Some(x))` for `x` or `mut x`, `Ok(None)` for `_`, and the
/// pattern itself as the error for any other pattern.
fn simple_binding(pat: &Pat) -> Result<Option<&syn::Ident>, &Pat> {
    match pat {
        Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => Ok(Some(&p.ident)),
        Pat::Wild(_) => Ok(None),
        other => Err(other),
    }
}

/// The names a pattern binds, in order.
fn pattern_names<'p>(pat: &'p Pat, names: &mut Vec<&'p syn::Ident>) {
    match pat {
        Pat::Ident(p) => names.push(&p.ident),
        Pat::Tuple(t) => t.elems.iter().for_each(|p| pattern_names(p, names)),
        Pat::TupleStruct(t) => t.elems.iter().for_each(|p| pattern_names(p, names)),
        Pat::Struct(s) => s.fields.iter().for_each(|f| pattern_names(&f.pat, names)),
        Pat::Slice(s) => s.elems.iter().for_each(|p| pattern_names(p, names)),
        Pat::Type(t) => pattern_names(&t.pat, names),
        Pat::Reference(r) => pattern_names(&r.pat, names),
        Pat::Paren(p) => pattern_names(&p.pat, names),
        _ => {}
    }
}

const STATEMENTS: &str = "a `#[gradient]` body uses `let` bindings, assignments, blocks, `if`/`else` on conditions, \
`for` loops over literal ranges and over data (`for x in xs.iter()`), and a final expression or `return`";

struct Lowerer<'a> {
    cx: &'a Ctxt,
    float: Float,
    /// The generic parameters annotations may name.
    env: &'a Env,
    prog: Program,
    scope: HashMap<String, Binding>,
    /// For a closure or a branch of an `if`: the names the enclosing code can see. A value used
    /// from there becomes a capture, a parameter of this program.
    outer: Option<&'a HashMap<String, Binding>>,
    /// Names of the captured outer values; capture `k` is the program's parameter
    /// `capture_offset + k`.
    captures: Vec<String>,
    /// The node of each capture, by index: a name captured again (after a `let` that shadowed it
    /// went out of scope, or as a branch result it passes through) reuses it, so the program has
    /// one parameter node per capture and its gradient is all in one place.
    capture_nodes: HashMap<usize, ValueId>,
    capture_offset: usize,
    /// What is being lowered, for what it may do (`return`, assign to outer variables).
    body: Body,
    /// Names declared by `let` in the current loop iteration or block, with what they shadowed
    /// and whether that was this program's own, so the locals end with it.
    frames: Vec<Vec<(String, Option<Binding>, bool)>>,
    /// Names this program declared with `let` (assignments to others reach outer variables).
    own: std::collections::HashSet<String>,
    /// How many block expressions deep the lowering is: `return` belongs only at depth 0.
    depth: usize,
    /// Outer variables a branch assigns to, in order of first assignment.
    assigned: Vec<String>,
    /// The latest value a branch assigned to each outer variable: a `let` of the same name
    /// later in the branch shadows it without changing it.
    outer_values: HashMap<String, Binding>,
    /// Names bound to parameters taken by reference: passed on to a call as the reference.
    refs: std::collections::HashSet<String>,
    /// In the body of a loop over data: what one sample adds to each outer variable the loop
    /// accumulates into, in order of the first `+=`/`-=`, with where that was written.
    accumulated: flow::Accumulated,
    /// How many loops over data this code is inside: names their sample variables apart.
    data_depth: usize,
    /// Whether a counted loop of many iterations may stay a loop: in the function and its
    /// branches, not in closures and loops over data (which unroll it).
    keep_loops: bool,
    /// Names bound to a Cholesky factorisation, here or in the code around a branch, closure or
    /// loop over data (where the factorisation arrives as a parameter).
    factors: std::collections::HashSet<String>,
}

/// The kinds of code a [`Lowerer`] reads.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Body {
    Function,
    Closure,
    Branch,
    /// The body of a loop over data: it may only add to outer variables.
    Data,
}

/// How a list of statements ends.
enum Tail {
    /// With the value of a final expression.
    Value(ValueId),
    /// With a statement: no value.
    Unit,
    /// With a final expression whose error was reported.
    Poison,
}

/// Lowers the body of `item`; errors are recorded in `cx`.
pub fn lower(cx: &Ctxt, func: &ast::Func, item: &syn::ItemFn) -> Program {
    let mut l = Lowerer::new(cx, func.float, &func.env, None, Body::Function);
    l.keep_loops = true;
    for (index, param) in func.params.iter().enumerate() {
        let name = &param.name;
        let binding = if param.kind.float().is_some() {
            Binding::Value(l.prog.push(
                Op::Param(index),
                Vec::new(),
                Loc::of(name),
                name.to_string(),
            ))
        } else {
            let tokens = if param.by_ref {
                quote!((*#name))
            } else {
                name.to_token_stream()
            };
            if param.kind == Kind::Bool {
                Binding::Flag(tokens)
            } else if let Kind::Samples { shape, .. } = param.kind {
                Binding::Data(name.to_token_stream(), Some(shape))
            } else if param.kind == Kind::Integers {
                Binding::Data(name.to_token_stream(), None)
            } else {
                Binding::Constant(tokens)
            }
        };
        if param.by_ref && param.kind.float().is_some() {
            l.refs.insert(name.to_string());
        }
        l.scope.insert(name.to_string(), binding);
    }
    let output = l.block(&item.block.stmts, Loc::of(&item.block));
    l.prog.output = output;
    // Every lowering in the pass tests and the fuzz corpus is checked for what the reverse pass
    // of a branch or closure relies on.
    #[cfg(test)]
    assert_one_node_per_param(&l.prog);
    l.prog
}

/// Asserts that `prog` and every program nested in it (branches, `map` closures) have at most one
/// node of each `Param(k)`: the reverse pass of a nested program reads the gradient of a
/// parameter from its node, so a second node of the same parameter would lose its gradient.
#[cfg(test)]
pub(crate) fn assert_one_node_per_param(prog: &Program) {
    let mut seen = std::collections::HashSet::new();
    for (id, node) in prog.nodes.iter().enumerate() {
        match &node.op {
            Op::Param(k) => assert!(
                seen.insert(*k),
                "`param {k}` has a second node v{id} in\n{prog}"
            ),
            Op::Map(sub) => assert_one_node_per_param(sub),
            Op::Branch {
                then, otherwise, ..
            } => {
                assert_one_node_per_param(then);
                assert_one_node_per_param(otherwise);
            }
            _ => {}
        }
    }
}

impl<'a> Lowerer<'a> {
    fn new(
        cx: &'a Ctxt,
        float: Float,
        env: &'a Env,
        outer: Option<&'a HashMap<String, Binding>>,
        body: Body,
    ) -> Self {
        Lowerer {
            cx,
            float,
            env,
            prog: Program::default(),
            scope: HashMap::new(),
            outer,
            captures: Vec::new(),
            capture_nodes: HashMap::new(),
            capture_offset: usize::from(body == Body::Closure),
            body,
            frames: Vec::new(),
            own: std::collections::HashSet::new(),
            assigned: Vec::new(),
            depth: 0,
            outer_values: HashMap::new(),
            refs: std::collections::HashSet::new(),
            accumulated: Vec::new(),
            data_depth: 0,
            keep_loops: false,
            factors: std::collections::HashSet::new(),
        }
    }

    /// Every name this code can see, for a closure or branch inside it.
    fn visible(&self) -> HashMap<String, Binding> {
        let mut names = self.outer.cloned().unwrap_or_default();
        names.extend(self.scope.iter().map(|(k, v)| (k.clone(), v.clone())));
        names
    }
}

impl Lowerer<'_> {
    /// Lowers a function body or block expression; returns its value.
    fn block(&mut self, stmts: &[Stmt], loc: Loc) -> Option<ValueId> {
        match self.statements(stmts) {
            Tail::Value(v) => Some(v),
            Tail::Poison => None,
            Tail::Unit => {
                self.cx.push(loc.error("the body must end with the scalar value of the function (an expression or `return`)"));
                None
            }
        }
    }

    /// Lowers statements in order; says how they end.
    fn statements(&mut self, stmts: &[Stmt]) -> Tail {
        for (i, stmt) in stmts.iter().enumerate() {
            let last = i + 1 == stmts.len();
            match stmt {
                Stmt::Local(local) => self.local(local),
                Stmt::Expr(Expr::Return(ret), _) => {
                    if !last || self.body != Body::Function || self.depth > 0 {
                        self.cx.error_spanned_by(ret, "`return` is supported only as the last statement of the function body");
                    }
                    let Some(value) = &ret.expr else {
                        self.cx.error_spanned_by(ret, "`return` needs the scalar value of the function");
                        return Tail::Poison;
                    };
                    return self.expr(value).map_or(Tail::Poison, Tail::Value);
                }
                Stmt::Expr(Expr::Assign(assign), _) => self.assign(&assign.left, &assign.right, None),
                Stmt::Expr(Expr::Binary(b), _) if compound(&b.op).is_some() => {
                    self.assign(&b.left, &b.right, compound(&b.op));
                }
                Stmt::Expr(Expr::MethodCall(m), _)
                    if m.method == "set_row" || m.method == "set_column" =>
                {
                    self.set_view(m);
                }
                Stmt::Expr(Expr::ForLoop(f), _) => self.for_loop(f),
                Stmt::Expr(Expr::Block(b), semi) if b.label.is_none() => {
                    match self.block_statement(&b.block.stmts) {
                        Tail::Value(v) if last && semi.is_none() => return Tail::Value(v),
                        Tail::Poison if last && semi.is_none() => return Tail::Poison,
                        _ => {}
                    }
                }
                Stmt::Expr(Expr::If(e), semi) => match self.if_expr(e, last && semi.is_none()) {
                    Tail::Value(v) if last && semi.is_none() => return Tail::Value(v),
                    Tail::Poison if last && semi.is_none() => return Tail::Poison,
                    _ => {}
                },
                Stmt::Expr(e, None) if last => return self.expr(e).map_or(Tail::Poison, Tail::Value),
                Stmt::Expr(e, _) => self.unsupported_statement(e),
                Stmt::Item(item) => self.cx.error_spanned_by(
                    item,
                    format!("items inside a `#[gradient]` function are not supported; {STATEMENTS}"),
                ),
                Stmt::Macro(m) => self.cx.error_spanned_by(
                    m,
                    format!(
                        "macros such as `{}!` are not supported inside a `#[gradient]` function; {STATEMENTS}",
                        text::tokens(&m.mac.path)
                    ),
                ),
            }
        }
        Tail::Unit
    }

    /// `{ … }`: its `let`s end with it; its assignments to variables outside it outlast it.
    fn block_statement(&mut self, stmts: &[Stmt]) -> Tail {
        self.frames.push(Vec::new());
        self.depth += 1;
        let tail = self.statements(stmts);
        self.depth -= 1;
        self.end_frame();
        tail
    }

    /// Binds `name`, remembering what it shadowed when inside a loop iteration.
    fn bind(&mut self, name: &str, binding: Binding) {
        self.refs.remove(name);
        let previous = self.scope.insert(name.to_string(), binding);
        let was_own = !self.own.insert(name.to_string());
        if let Some(frame) = self.frames.last_mut() {
            frame.push((name.to_string(), previous, was_own));
        }
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
        if let Pat::Tuple(tuple) = pat {
            return self.tuple_local(local, tuple, ty);
        }
        let Ok(Some(name)) = simple_binding(pat) else {
            self.cx.error_spanned_by(
                pat,
                "only `let name = …;` and `let (a, b) = (x, y);` bindings are supported (no struct, slice or nested patterns)",
            );
            self.poison_pattern(pat);
            return;
        };
        let Some(init) = &local.init else {
            self.cx.error_spanned_by(
                local,
                format!("`let {name};` needs a value: write `let {name} = …;`"),
            );
            self.bind(&name.to_string(), Binding::Poison);
            return;
        };
        if let Some((else_token, _)) = &init.diverge {
            self.cx
                .error_spanned_by(else_token, "`let … else` is not supported");
        }
        if let Some(field) = self_field(&init.expr) {
            self.field_local(name, ty, field);
            return;
        }
        let value = self.expr(&init.expr);
        self.bind_local(value, name, ty);
    }

    /// `let x: &SMatrix<f64, 20, 3> = &self.x;` (or a float, integer or `bool` field by value)
    /// in a method: the field is a constant of the annotated type, read in place.
    fn field_local(&mut self, name: &syn::Ident, ty: Option<&syn::Type>, field: &syn::ExprField) {
        let key = name.to_string();
        let Some(ty) = ty else {
            self.cx.error_spanned_by(
                field,
                format!(
                    "a field of `self` is read with its type written, as in \
                     `let {name}: &SMatrix<f64, 20, 3> = &self.{};`",
                    field.member.to_token_stream()
                ),
            );
            self.bind(&key, Binding::Poison);
            return;
        };
        let inner = match ty {
            syn::Type::Reference(r) => &*r.elem,
            other => other,
        };
        let tokens = field.to_token_stream();
        let binding = match crate::types::classify(inner, self.env) {
            Ok(Kind::Int) => Binding::Constant(quote!((#tokens))),
            Ok(Kind::Bool) => Binding::Flag(quote!((#tokens))),
            Ok(Kind::Samples { shape, .. }) => Binding::Data(tokens, Some(shape)),
            Ok(Kind::Integers) => Binding::Data(tokens, None),
            Ok(kind) => match kind.shape() {
                Some(shape) => {
                    let value = self.prog.push(
                        Op::Field(tokens, shape),
                        Vec::new(),
                        Loc::of(field),
                        text::expr(&Expr::Field(field.clone())),
                    );
                    self.name(value, name);
                    Binding::Value(value)
                }
                None => Binding::Poison,
            },
            Err(e) => {
                self.cx.push(e);
                Binding::Poison
            }
        };
        self.bind(&key, binding);
    }

    /// Binds every name in a pattern that was reported, so that its uses stay quiet.
    fn poison_pattern(&mut self, pat: &Pat) {
        let mut names = Vec::new();
        pattern_names(pat, &mut names);
        for name in names {
            self.bind(&name.to_string(), Binding::Poison);
        }
    }

    /// Binds the value of a `let`, checking it against its type annotation when it has one.
    fn bind_local(&mut self, value: Option<ValueId>, name: &syn::Ident, ty: Option<&syn::Type>) {
        let binding = match value {
            Some(value) => {
                if let Some(ty) = ty {
                    self.annotate(value, name, ty);
                    // A call's result shape comes from its annotation: the macro cannot see the
                    // callee's signature.
                    let declared = self
                        .prog
                        .annotations
                        .last()
                        .filter(|a| a.value == value)
                        .map(|a| a.shape);
                    if let (Op::Call(site), Some(shape)) =
                        (&mut self.prog.nodes[value].op, declared)
                    {
                        site.result = shape;
                    }
                }
                self.name(value, name);
                if matches!(self.prog.nodes[value].op, Op::Cholesky(_)) {
                    self.factors.insert(name.to_string());
                } else {
                    self.factors.remove(&name.to_string());
                }
                Binding::Value(value)
            }
            None => Binding::Poison,
        };
        self.bind(&name.to_string(), binding);
    }

    /// `let (a, b) = (x, y);` and `let (s, c) = x.sin_cos();`: every value on the right is
    /// computed before any name is bound, so `let (a, b) = (b, a);` swaps.
    fn tuple_local(&mut self, local: &syn::Local, tuple: &syn::PatTuple, ty: Option<&syn::Type>) {
        const FORMS: &str =
            "a tuple `let` is written `let (a, b) = (x, y);` or `let (s, c) = x.sin_cos();`";
        let mut names = Vec::new();
        let mut valid = true;
        for elem in &tuple.elems {
            match simple_binding(elem) {
                Ok(name) => names.push(name),
                Err(_) => {
                    self.cx.error_spanned_by(
                        elem,
                        format!("each element of a tuple pattern is a name or `_`; {FORMS}"),
                    );
                    self.poison_pattern(elem);
                    valid = false;
                }
            }
        }
        let types: Vec<Option<&syn::Type>> = match ty {
            None => vec![None; names.len()],
            Some(syn::Type::Tuple(t)) if t.elems.len() == names.len() => {
                t.elems.iter().map(Some).collect()
            }
            Some(other) => {
                self.cx.error_spanned_by(
                    other,
                    format!(
                        "the pattern binds {} names, so its type is a tuple of {} types, as in `(f64, f64)`",
                        names.len(),
                        names.len()
                    ),
                );
                valid = false;
                vec![None; names.len()]
            }
        };
        let values = match &local.init {
            Some(init) if valid => {
                if let Some((else_token, _)) = &init.diverge {
                    self.cx
                        .error_spanned_by(else_token, "`let … else` is not supported");
                }
                self.tuple_values(&init.expr, names.len(), FORMS)
            }
            Some(_) => None,
            None => {
                self.cx
                    .error_spanned_by(local, format!("a tuple `let` needs a value; {FORMS}"));
                None
            }
        };
        let values = values.unwrap_or_else(|| vec![None; names.len()]);
        for ((name, value), ty) in names.into_iter().zip(values).zip(types) {
            if let Some(name) = name {
                self.bind_local(value, name, ty);
            }
        }
    }

    /// The values on the right of a tuple `let` with `count` names, or `None` after an error.
    fn tuple_values(
        &mut self,
        e: &Expr,
        count: usize,
        forms: &str,
    ) -> Option<Vec<Option<ValueId>>> {
        match e {
            Expr::Paren(p) => self.tuple_values(&p.expr, count, forms),
            Expr::Tuple(t) if t.elems.len() == count => {
                Some(t.elems.iter().map(|elem| self.expr(elem)).collect())
            }
            Expr::Tuple(t) => {
                self.cx.error_spanned_by(
                    e,
                    format!(
                        "this tuple has {} values but the pattern binds {count} names",
                        t.elems.len()
                    ),
                );
                None
            }
            Expr::MethodCall(m) if m.method == "sin_cos" => {
                if count != 2 {
                    self.cx.error_spanned_by(
                        e,
                        format!(
                            "`.sin_cos()` gives two values but the pattern binds {count} names"
                        ),
                    );
                    return None;
                }
                if m.turbofish.is_some() || !m.args.is_empty() {
                    self.cx
                        .error_spanned_by(&m.method, "`.sin_cos()` takes no arguments");
                    return None;
                }
                let Some(x) = self.expr(&m.receiver) else {
                    return Some(vec![None, None]);
                };
                let sin = self.push(Op::Unary(Func::Sin), vec![x], e);
                let cos = self.push(Op::Unary(Func::Cos), vec![x], e);
                Some(vec![sin, cos])
            }
            other => {
                self.cx.error_spanned_by(other, forms.to_string());
                None
            }
        }
    }

    fn annotate(&mut self, value: ValueId, name: &syn::Ident, ty: &syn::Type) {
        match types::classify(ty, self.env).map(Kind::shape) {
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
        if self.body == Body::Data && self.accumulate(left, right, op.as_ref()) {
            return;
        }
        if let Expr::Index(index) = left {
            self.assign_entry(left, index, right, op);
            return;
        }
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
        let Some(old) = self.assignable(left, name) else {
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
            (Some(_), Binding::Data(..)) => {
                self.cx.error_spanned_by(
                    left,
                    format!("`{name}` is a data set and cannot be updated"),
                );
                Binding::Poison
            }
            (
                Some(_),
                Binding::Constant(_) | Binding::Counter(_) | Binding::Known(_) | Binding::Flag(_),
            ) => {
                self.cx.error_spanned_by(
                    left,
                    format!("`{name}` is an integer and cannot be updated"),
                );
                Binding::Poison
            }
            (Some(_), Binding::Poison) => Binding::Poison,
        };
        self.rebind(name, binding);
    }

    /// The binding of `name` that `left` assigns to, after checking the assignment may be
    /// made here (and recording it for an enclosing branch); `None` after an error.
    fn assignable(&mut self, left: &Expr, name: &syn::Ident) -> Option<Binding> {
        let key = name.to_string();
        let Some(old) = self.lookup(&key, Loc::of(left)) else {
            self.cx.error_spanned_by(
                left,
                format!("cannot find a local named `{name}` to assign to"),
            );
            return None;
        };
        if !self.own.contains(&key) && self.body != Body::Function {
            if self.body == Body::Data {
                self.cx.error_spanned_by(left, data_assignment(&key));
                return None;
            }
            if self.body == Body::Closure {
                self.cx.error_spanned_by(
                    left,
                    format!("the closure in `map` cannot assign to `{name}`, which is outside it"),
                );
                return None;
            }
            if !self.assigned.contains(&key) {
                self.assigned.push(key);
            }
        }
        Some(old)
    }

    /// Binds `name` to `binding` where the name lives, as an assignment does.
    fn rebind(&mut self, name: &syn::Ident, binding: Binding) {
        let key = name.to_string();
        if let Binding::Value(value) = binding {
            self.name(value, name);
        }
        // An assignment rebinds the name where it lives: it outlasts the loop iteration.
        self.refs.remove(&key);
        if self.body == Body::Branch && !self.own.contains(&key) {
            self.outer_values.insert(key.clone(), binding.clone());
        }
        self.scope.insert(key, binding);
    }

    /// `m[(i, j)] = e` and `m[(i, j)] += e` (or `v[i] …`) on a local matrix `m`: rebinds `m` to
    /// the matrix with that entry replaced, as `m = …` would.
    fn assign_entry(
        &mut self,
        left: &Expr,
        index: &syn::ExprIndex,
        right: &Expr,
        op: Option<(Op, &'static str)>,
    ) {
        let Expr::Path(path) = &*index.expr else {
            self.cx.error_spanned_by(
                &index.expr,
                "only entries of a local matrix can be assigned to, as in `m[(0, 1)] = …`",
            );
            return;
        };
        let Some(name) = path.path.get_ident().cloned() else {
            self.cx.error_spanned_by(
                &index.expr,
                "only entries of a local matrix can be assigned to, as in `m[(0, 1)] = …`",
            );
            return;
        };
        if self.assignable(left, &name).is_none() {
            return;
        }
        if self.run_time_index(index).is_some() {
            self.cx.error_spanned_by(
                &index.index,
                "an entry can be assigned at indices known at compile time (literals, and the \
                 counters of loops of literal bounds); at a run-time index (an integer \
                 parameter, or the counter of a loop over a const generic count) it can only be \
                 read",
            );
            return;
        }
        // The entry's new value, and the indices: read as `m[(i, j)]` would be.
        let value = match op {
            None => self.expr(right),
            Some((op, symbol)) => match (self.index(left, index), self.expr(right)) {
                (Some(old), Some(rhs)) => {
                    let text = format!("{} {symbol} {}", text::expr(left), text::expr(right));
                    Some(self.prog.push(op, vec![old, rhs], Loc::of(left), text))
                }
                _ => None,
            },
        };
        let (Some((i, j)), Some(matrix)) = (self.indices(left, index), self.expr(&index.expr))
        else {
            return;
        };
        let Some(value) = value else {
            self.rebind(&name, Binding::Poison);
            return;
        };
        let text = format!("{} = {}", text::expr(left), text::expr(right));
        let set = self
            .prog
            .push(Op::SetEntry(i, j), vec![matrix, value], Loc::of(left), text);
        self.rebind(&name, Binding::Value(set));
    }

    /// `m.set_row(i, &r)` and `m.set_column(j, &c)` on a local matrix `m`: rebinds `m` to the
    /// matrix with that row or column replaced, as `m = …` would.
    fn set_view(&mut self, m: &syn::ExprMethodCall) {
        let row = m.method == "set_row";
        let spelling = if row {
            "`m.set_row(i, &r)`"
        } else {
            "`m.set_column(j, &c)`"
        };
        let target = match &*m.receiver {
            Expr::Path(path) => path.path.get_ident().cloned(),
            _ => None,
        };
        let Some(name) = target else {
            self.cx.error_spanned_by(
                &m.receiver,
                format!("only a local matrix can be written to, as in {spelling}"),
            );
            return;
        };
        if m.args.len() != 2 {
            self.cx
                .error_spanned_by(&m.method, format!("{spelling} takes an index and a value"));
            return;
        }
        let whole = Expr::MethodCall(m.clone());
        if self.assignable(&whole, &name).is_none() {
            return;
        }
        let Some(Ok(index)) = self.known(&m.args[0]).map(usize::try_from) else {
            self.cx.error_spanned_by(
                &m.args[0],
                format!(
                    "the index of {spelling} must be a non-negative integer literal, a loop \
                     counter, or `+ - *` of those"
                ),
            );
            return;
        };
        let (matrix, value) = (self.expr(&m.receiver), self.expr(&m.args[1]));
        let (Some(matrix), Some(value)) = (matrix, value) else {
            self.rebind(&name, Binding::Poison);
            return;
        };
        let one = Some(crate::ir::Dim::Lit(1));
        let op = if row {
            Op::SetView {
                row: index,
                col: 0,
                rows: one,
                cols: None,
            }
        } else {
            Op::SetView {
                row: 0,
                col: index,
                rows: None,
                cols: one,
            }
        };
        let text = text::expr(&whole);
        let set = self
            .prog
            .push(op, vec![matrix, value], Loc::of(&whole), text);
        self.rebind(&name, Binding::Value(set));
    }

    /// Names a value after the local it is bound to, unless it has a name already (a parameter,
    /// or an alias `let b = a;`). A name bound again gets the next free subscript: `z`, `z₁`,
    /// `z₂`, so every version of a variable has a name of its own.
    fn name(&mut self, value: ValueId, name: &impl ToString) {
        if self.prog.nodes[value].name.is_some()
            || matches!(self.prog.nodes[value].op, Op::Param(_))
        {
            return;
        }
        let base = name.to_string();
        // The versions so far: `z` is version 0, `z₁` version 1, …; the next is one past the
        // last, so naming k versions reads every name once per version, not once per subscript.
        let subscripted = |n: &str| -> Option<usize> {
            let digits = n.strip_prefix(base.as_str())?;
            if digits.is_empty() {
                return Some(0);
            }
            digits.chars().try_fold(0_usize, |k, c| {
                let d = (c as u32).checked_sub('₀' as u32).filter(|d| *d < 10)?;
                k.checked_mul(10)?.checked_add(d as usize)
            })
        };
        let last = self
            .prog
            .nodes
            .iter()
            .filter_map(|n| match n.op {
                Op::Param(_) => Some(n.text.as_str()),
                Op::Const(..)
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
                | Op::Map(..)
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
                | Op::Branch { .. }
                | Op::Extract(..)
                | Op::Accumulate(..)
                | Op::Call(..) => n.name.as_deref(),
            })
            .filter_map(subscripted)
            .max();
        let candidate = match last {
            None => base,
            Some(k) => {
                let digits: String = (k + 1)
                    .to_string()
                    .chars()
                    .filter_map(|d| char::from_u32('₀' as u32 + d.to_digit(10)?))
                    .collect();
                format!("{base}{digits}")
            }
        };
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
        if let Expr::Call(c) = e
            && let calls::Constructor::Built(built) = self.constructor(e, c)
        {
            return built;
        }
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
                UnOp::Not(_) => {
                    let a = self.expr(&u.expr)?;
                    self.push(Op::Not, vec![a], e)
                }
                _ => self.unsupported_expr(e, "this operator"),
            },
            Expr::Binary(b) => self.binary(e, b),
            // A call that reads no value of the function is a constant, evaluated as written:
            // `convert(0.5)`, `T::one()`, `T::from_f64(2.0).unwrap()`.
            Expr::MethodCall(_) | Expr::Call(_) if !self.mentions_values(e.to_token_stream()) => {
                if self.reports_misspelling(e) {
                    return None;
                }
                // Loop counters do not exist in the unrolled code: their values are written in.
                let tokens = self.with_counters(e.to_token_stream());
                self.push(Op::Const(tokens), Vec::new(), e)
            }
            Expr::MethodCall(m) => self.method(e, m),
            Expr::Call(c) => self.call(e, c),
            Expr::Cast(c) => self.cast(e, c),
            Expr::Index(i) => self.index(e, i),
            // `[a, b, c]`: read by index, it acts as the column vector of its entries.
            Expr::Array(array) if !array.elems.is_empty() => {
                let entries: Option<Vec<ValueId>> =
                    array.elems.iter().map(|x| self.expr(x)).collect();
                let rows = crate::ir::Dim::Lit(array.elems.len());
                let kind = crate::ir::Build::Entries;
                let op = Op::Build {
                    kind,
                    rows,
                    cols: crate::ir::Dim::Lit(1),
                };
                self.push(op, entries?, e)
            }
            Expr::Block(b) if b.label.is_none() => {
                match self.block_statement(&b.block.stmts) {
                    Tail::Value(v) => Some(v),
                    Tail::Poison => None,
                    Tail::Unit => {
                        self.cx.push(Loc::of(&b.block).error(
                            "this block has no value: end it with an expression, without `;`",
                        ));
                        None
                    }
                }
            }
            Expr::If(i) => match self.if_expr(i, true) {
                Tail::Value(value) => Some(value),
                Tail::Poison => None,
                Tail::Unit => {
                    self.cx.error_spanned_by(
                        e,
                        "this `if` has no value: give both branches a final expression",
                    );
                    None
                }
            },
            Expr::ForLoop(_) | Expr::While(_) | Expr::Loop(_) | Expr::Match(_) => {
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
            syn::Lit::Bool(_) => self.push(Op::BoolConst(e.to_token_stream()), Vec::new(), e),
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
        match self.lookup(&name.to_string(), Loc::of(e)) {
            Some(Binding::Value(v)) => Some(v),
            Some(Binding::Poison) => None,
            Some(Binding::Constant(_) | Binding::Counter(_) | Binding::Known(_)) => {
                self.cx.error_spanned_by(
                    e,
                    format!("`{name}` is an integer; convert it with `{name} as {}` to use it as a float", self.float),
                );
                None
            }
            Some(Binding::Flag(tokens)) => self.push(Op::BoolConst(tokens), Vec::new(), e),
            Some(Binding::Data(..)) => {
                self.cx.error_spanned_by(
                    e,
                    format!(
                        "`{name}` is a data set: read its samples in a loop over data, as in \
                         `for x in {name}.iter() {{ loss += …; }}`"
                    ),
                );
                None
            }
            None if self.reports_misspelling(e) => None,
            // Not a parameter or local: a `const` item of the enclosing module.
            None => self.push(Op::Const(e.to_token_stream()), Vec::new(), e),
        }
    }

    /// `tokens` with every loop counter in scope replaced by its value in this iteration:
    /// `(i as f64).sin()` in iteration 2 is `((2) as f64).sin()`. Names after `.` or `::`
    /// (methods, fields, path segments) are not variables and stay.
    fn with_counters(&self, tokens: TokenStream) -> TokenStream {
        use proc_macro2::{Group, Literal, TokenTree};
        let mut out = Vec::new();
        let mut after_path = false;
        for tree in tokens {
            let next = match &tree {
                TokenTree::Group(g) => {
                    let mut group = Group::new(g.delimiter(), self.with_counters(g.stream()));
                    group.set_span(g.span());
                    TokenTree::Group(group)
                }
                TokenTree::Ident(ident) if !after_path => {
                    let known = self
                        .scope
                        .get(&ident.to_string())
                        .or_else(|| self.outer.and_then(|o| o.get(&ident.to_string())));
                    match known {
                        Some(Binding::Known(v)) => {
                            let mut literal = Literal::i64_unsuffixed(*v);
                            literal.set_span(ident.span());
                            let stream: TokenStream = TokenTree::Literal(literal).into();
                            TokenTree::Group(Group::new(
                                proc_macro2::Delimiter::Parenthesis,
                                stream,
                            ))
                        }
                        // The counter of a loop kept as a loop, by its name in generated code.
                        Some(Binding::Counter(counter)) => TokenTree::Group(Group::new(
                            proc_macro2::Delimiter::None,
                            counter.clone(),
                        )),
                        Some(
                            Binding::Value(_)
                            | Binding::Constant(_)
                            | Binding::Flag(_)
                            | Binding::Data(..)
                            | Binding::Poison,
                        )
                        | None => tree.clone(),
                    }
                }
                other => other.clone(),
            };
            after_path =
                matches!(&tree, TokenTree::Punct(p) if p.as_char() == '.' || p.as_char() == ':');
            out.push(next);
        }
        out.into_iter().collect()
    }

    /// Reports a name in `e` that is not a parameter or local but is spelt almost like one: a
    /// misspelling, which would otherwise be reported by rustc twice, in the function and in its
    /// generated companion, where the locals it resembles have other names. Reported here, the
    /// function is emitted without its body and this is the one error. A constant from outside
    /// the function is written in `UPPER_CASE` and is never taken for a misspelling.
    fn reports_misspelling(&self, e: &Expr) -> bool {
        let mut names = Vec::new();
        bare_names(e, &mut names);
        let mut reported = false;
        for name in names {
            let written = name.to_string();
            if self.scope.contains_key(&written)
                || self.outer.is_some_and(|o| o.contains_key(&written))
                || !written.chars().any(char::is_lowercase)
            {
                continue;
            }
            let limit = written.chars().count().max(3) / 3;
            let closest = self
                .scope
                .keys()
                .chain(self.outer.into_iter().flat_map(HashMap::keys))
                .map(|known| (ast::edit_distance(&written, known), known))
                .filter(|&(distance, _)| distance <= limit)
                .min();
            if let Some((_, known)) = closest {
                self.cx.error_spanned_by(
                    name,
                    format!(
                        "cannot find `{written}` among the parameters and locals of `{}`; did you mean `{known}`? \
                         (a constant from outside the function is named in `UPPER_CASE`)",
                        self.env.function
                    ),
                );
                reported = true;
            }
        }
        reported
    }

    /// Whether `tokens` name a parameter or local of the function (a value to differentiate).
    fn mentions_values(&self, tokens: TokenStream) -> bool {
        tokens.into_iter().any(|tree| match tree {
            proc_macro2::TokenTree::Ident(ident) => {
                let name = ident.to_string();
                let binding = self
                    .scope
                    .get(&name)
                    .or_else(|| self.outer.and_then(|o| o.get(&name)));
                matches!(binding, Some(Binding::Value(_) | Binding::Poison))
            }
            proc_macro2::TokenTree::Group(group) => self.mentions_values(group.stream()),
            _ => false,
        })
    }

    /// Looks a name up; a closure or branch captures names of the enclosing code on first use.
    fn lookup(&mut self, name: &str, loc: Loc) -> Option<Binding> {
        if let Some(b) = self.scope.get(name) {
            return Some(b.clone());
        }
        let binding = self.capture(name, loc)?;
        self.scope.insert(name.to_string(), binding.clone());
        Some(binding)
    }

    /// Remembers how the body named one of matgrad's helpers, for the check that it is one.
    fn note_helper(&mut self, path: &Expr, f: Func) {
        if f.is_helper() {
            self.prog.helpers.push((path.to_token_stream(), f));
        }
    }

    /// The outer value of `name` as a parameter of this program, whatever the scope says.
    fn capture(&mut self, name: &str, loc: Loc) -> Option<Binding> {
        match self.outer?.get(name)? {
            Binding::Value(_) => {}
            other => return Some(other.clone()),
        }
        let k = match self.captures.iter().position(|c| c == name) {
            Some(k) => k,
            None => {
                self.captures.push(name.to_string());
                self.captures.len() - 1
            }
        };
        if let Some(&param) = self.capture_nodes.get(&k) {
            return Some(Binding::Value(param));
        }
        let param = self.prog.push(
            Op::Param(self.capture_offset + k),
            Vec::new(),
            loc,
            name.to_string(),
        );
        self.capture_nodes.insert(k, param);
        Some(Binding::Value(param))
    }

    /// The values, in this program, of the names a closure or branch captured.
    fn captured_values(&mut self, names: &[String], loc: Loc) -> Option<Vec<ValueId>> {
        names
            .iter()
            .map(|n| match self.lookup(n, loc) {
                Some(Binding::Value(v)) => Some(v),
                Some(
                    Binding::Constant(_)
                    | Binding::Counter(_)
                    | Binding::Known(_)
                    | Binding::Flag(_)
                    | Binding::Data(..)
                    | Binding::Poison,
                )
                | None => None,
            })
            .collect()
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
            | BinOp::Ne(_)
            | BinOp::And(_)
            | BinOp::Or(_) => return self.condition(e, b),
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

    pub(super) fn try_integer(&self, e: &Expr) -> Option<TokenStream> {
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
            // `k as i32`: an integer converted to another integer type.
            Expr::Cast(c)
                if matches!(
                    text::tokens(&c.ty).as_str(),
                    "i8" | "i16" | "i32" | "i64" | "isize" | "u8" | "u16" | "u32" | "u64" | "usize"
                ) =>
            {
                let (t, ty) = (self.try_integer(&c.expr)?, &c.ty);
                Some(quote!((#t as #ty)))
            }
            // A const generic size is an integer known to the compiler: `N as f64` is a cast.
            Expr::Path(p)
                if p.path
                    .get_ident()
                    .is_some_and(|i| self.env.consts.iter().any(|c| i == c)) =>
            {
                Some(e.to_token_stream())
            }
            Expr::Path(p) => {
                let name = p.path.get_ident()?.to_string();
                let binding = self.scope.get(&name).or_else(|| self.outer?.get(&name))?;
                match binding {
                    Binding::Constant(tokens) | Binding::Counter(tokens) => Some(tokens.clone()),
                    Binding::Known(i) => {
                        let literal = proc_macro2::Literal::i64_unsuffixed(*i);
                        Some(quote!(#literal))
                    }
                    Binding::Value(_) | Binding::Flag(_) | Binding::Data(..) | Binding::Poison => {
                        None
                    }
                }
            }
            _ => None,
        }
    }
}

/// The single names `e` reads as values (not paths, methods or called functions), in order.
fn bare_names<'e>(e: &'e Expr, out: &mut Vec<&'e syn::Ident>) {
    match e {
        Expr::Path(p) if p.qself.is_none() => out.extend(p.path.get_ident()),
        Expr::MethodCall(m) => {
            bare_names(&m.receiver, out);
            m.args.iter().for_each(|a| bare_names(a, out));
        }
        Expr::Call(c) => c.args.iter().for_each(|a| bare_names(a, out)),
        Expr::Binary(b) => {
            bare_names(&b.left, out);
            bare_names(&b.right, out);
        }
        Expr::Unary(u) => bare_names(&u.expr, out),
        Expr::Paren(p) => bare_names(&p.expr, out),
        Expr::Group(g) => bare_names(&g.expr, out),
        Expr::Reference(r) => bare_names(&r.expr, out),
        Expr::Cast(c) => bare_names(&c.expr, out),
        Expr::Field(f) => bare_names(&f.base, out),
        Expr::Index(i) => {
            bare_names(&i.expr, out);
            bare_names(&i.index, out);
        }
        Expr::Tuple(t) => t.elems.iter().for_each(|a| bare_names(a, out)),
        Expr::Array(a) => a.elems.iter().for_each(|a| bare_names(a, out)),
        _ => {}
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

fn compound(op: &BinOp) -> Option<(Op, &'static str)> {
    match op {
        BinOp::AddAssign(_) => Some((Op::Add, "+")),
        BinOp::SubAssign(_) => Some((Op::Sub, "-")),
        BinOp::MulAssign(_) => Some((Op::Mul, "*")),
        BinOp::DivAssign(_) => Some((Op::Div, "/")),
        _ => None,
    }
}
