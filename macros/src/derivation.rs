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

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use proc_macro2::TokenStream;

use crate::adjoint::{AExpr, Adjoint, Step};
use crate::ir::{CallArg, Dim, Op, Program, Shape, ValueId};

/// A rendered expression and how tightly it binds, for parentheses.
#[derive(Clone)]
struct Math {
    text: String,
    prec: u8,
}

/// Binding strengths: a conditional (`a if c else b`), a sum, a signed term (a negated product,
/// `−2·x`), an entrywise product (∘ ⊘ ⊗, whose operands are parenthesized unless atoms, so they never mix
/// unclearly with ·), a product, a unary minus, an atom (names, calls, postfix ᵀ, powers).
const CONDITIONAL: u8 = 0;
const SUM: u8 = 1;
const SIGNED: u8 = 2;
const ENTRYWISE: u8 = 3;
const PRODUCT: u8 = 4;
const UNARY: u8 = 5;
const ATOM: u8 = 6;

/// Longest gradient expression shown inline; longer ones fall back to the adjoint program.
const MAX_INLINE: usize = 240;

/// Most nodes a gradient's expression tree may grow to while adjoints are substituted; a
/// larger one is no closed form a person would read, and the adjoint program is shown.
const MAX_TREE: usize = 4000;

impl Math {
    fn new(text: String, prec: u8) -> Self {
        Math { text, prec }
    }

    fn atom(text: impl Into<String>) -> Self {
        Math::new(text.into(), ATOM)
    }

    /// The text, parenthesized unless it binds at least as tightly as `prec`.
    fn at(&self, prec: u8) -> String {
        if self.prec >= prec {
            self.text.clone()
        } else {
            format!("({})", self.text)
        }
    }
}

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

/// Renders forward values: at the top level by name, in a nested body (a `map` closure, a
/// branch of an `if`) by expression, its parameters standing for what the enclosing body
/// passes in.
struct Values<'a> {
    prog: &'a Program,
    /// `None` at the top level; in a nested body, how each of its parameters reads.
    params: Option<Vec<Math>>,
}

impl<'a> Values<'a> {
    fn top(prog: &'a Program) -> Self {
        Values { prog, params: None }
    }

    /// A forward value: its name if it has one, else its expression.
    fn value(&self, v: ValueId) -> Math {
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
    fn definition(&self, v: ValueId) -> Math {
        let node = &self.prog.nodes[v];
        let arg = |k: usize| self.value(node.args[k]);
        let text = |t: &TokenStream| crate::text::tokens(t);
        match &node.op {
            Op::Param(_) => self.value(v),
            Op::Branch { .. } => Math::atom(node.text.clone()),
            Op::Extract(k) => self.branch_result(node.args[0], *k),
            Op::Call(site) => {
                let mut values = node.args.iter();
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
            Op::Const(t) | Op::BoolConst(t) => constant(t),
            Op::Add => infix(&arg(0), " + ", &arg(1), SUM),
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
            Op::Map(_) => {
                let f = self.closure(v);
                let f = match f.strip_prefix('(').and_then(|f| f.strip_suffix(')')) {
                    Some(inner) if f.contains('↦') => inner.to_string(),
                    _ => f,
                };
                Math::atom(format!("{}.map({f})", arg(0).at(ATOM)))
            }
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
        let Op::Branch { then, otherwise } = &node.op else {
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
    fn closure(&self, node: ValueId) -> String {
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
    fn definitions(&self, lines: &[String]) -> Vec<String> {
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

/// A name as people write it: `loop` for the raw identifier `r#loop`.
fn plain(name: &str) -> String {
    name.strip_prefix("r#").unwrap_or(name).to_string()
}

/// A constant: a number, or the expression of constants it is (`EPS`, `n` for `(n as f64)`).
fn constant(t: &TokenStream) -> Math {
    let text = crate::text::tokens(t);
    if parse_number(&text).is_some() {
        return number(&text);
    }
    match syn::parse2::<syn::Expr>(t.clone()) {
        Ok(syn::Expr::Lit(_)) | Err(_) => Math::atom(text),
        Ok(e) => int_text(&e),
    }
}

/// The names of the constants (a module's `const`, a const generic size) the program and its
/// nested bodies read.
fn constants(prog: &Program, out: &mut BTreeSet<String>) {
    for node in &prog.nodes {
        if let Op::Const(t) | Op::Powi(t) | Op::MatrixPower(t) = &node.op
            && let Ok(e) = syn::parse2::<syn::Expr>(t.clone())
        {
            expr_names(&e, out);
        }
        for (_, body) in node.op.bodies() {
            constants(body, out);
        }
    }
}

fn expr_names(e: &syn::Expr, out: &mut BTreeSet<String>) {
    use syn::Expr;
    match e {
        Expr::Path(p) if p.path.segments.len() == 1 => {
            out.insert(plain(&p.path.segments[0].ident.to_string()));
        }
        Expr::Paren(p) => expr_names(&p.expr, out),
        Expr::Group(g) => expr_names(&g.expr, out),
        Expr::Cast(c) => expr_names(&c.expr, out),
        Expr::Unary(u) => expr_names(&u.expr, out),
        Expr::Binary(b) => {
            expr_names(&b.left, out);
            expr_names(&b.right, out);
        }
        Expr::Call(c) => c.args.iter().for_each(|a| expr_names(a, out)),
        Expr::MethodCall(m) => {
            expr_names(&m.receiver, out);
            m.args.iter().for_each(|a| expr_names(a, out));
        }
        _ => {}
    }
}

/// The words of a rendered text that can be names: runs of letters, digits (subscript digits
/// included, as in `m₁`) and underscores, with the notation's own marks (ᵀ, powers, ᵢⱼ) as
/// separators.
fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !is_name_char(c))
        .filter(|w| !w.is_empty())
}

fn is_name_char(c: char) -> bool {
    c == '_'
        || c.is_ascii_alphanumeric()
        || ('₀'..='₉').contains(&c)
        || (c.is_alphabetic() && !"ᵀʳᵢⱼᵏ".contains(c))
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
    /// A determinant whose gradient det·A⁻ᵀ is being rendered divided by det: as A⁻ᵀ.
    cancelled: Cell<Option<ValueId>>,
}

impl<'a> Deriver<'a> {
    fn new(prog: &'a Program, adj: &'a Adjoint, listing: bool) -> Self {
        Deriver {
            prog,
            adj,
            values: Values::top(prog),
            listing,
            budget: Cell::new(MAX_TREE),
            cancelled: Cell::new(None),
        }
    }

    /// The gradient with respect to parameter `param` (node `p`) as a closed form, with the
    /// node adjoints it reads; `None` when it is not one.
    fn closed_form(&self, param: usize, p: ValueId) -> Option<ClosedForm> {
        let expr = self.closed(p)?;
        let mut adjoints = BTreeMap::new();
        let mut pending = nodes_read(&expr);
        while let Some(node) = pending.pop() {
            if adjoints.contains_key(&node) {
                continue;
            }
            let e = self.closed(node)?;
            pending.extend(nodes_read(&e));
            adjoints.insert(node, e);
        }
        Some(ClosedForm {
            param,
            expr,
            adjoints: adjoints.into_iter().rev().collect(),
        })
    }

    /// The adjoint of `v`, simplified, if it is an expression of forward values only.
    fn closed(&self, v: ValueId) -> Option<AExpr> {
        self.budget.set(MAX_TREE);
        let e = simplify(self.prog, &self.adjoint(v, 0)?);
        is_closed(&e).then_some(e)
    }

    /// The adjoint of `v`, every adjoint it reads replaced by its own contributions.
    fn adjoint(&self, v: ValueId, depth: usize) -> Option<AExpr> {
        if Some(v) == self.prog.output {
            return Some(AExpr::Lit("1".into()));
        }
        let mut sum: Option<AExpr> = None;
        for step in &self.adj.steps {
            if let Step::Add { target, expr } = step
                && *target == v
            {
                let term = self.substitute(expr, depth + 1)?;
                sum = Some(match sum {
                    None => term,
                    Some(acc) => AExpr::Add(Box::new(acc), Box::new(term)),
                });
            }
        }
        Some(sum.unwrap_or_else(|| AExpr::Lit("0".into())))
    }

    /// Replaces every `Adj(u)` and shared value in `e` by what it stands for; `None` past the
    /// budget.
    fn substitute(&self, e: &AExpr, depth: usize) -> Option<AExpr> {
        let left = self.budget.get().checked_sub(1)?;
        self.budget.set(left);
        if depth > 64 {
            return None;
        }
        Some(match e {
            AExpr::Adj(u) => self.adjoint(*u, depth)?,
            AExpr::Shared(k) => self.substitute(self.shared(*k)?, depth)?,
            AExpr::Val(v) => self.expand(*v),
            AExpr::Seed(_) => AExpr::Lit("1".into()),
            // The rest recurse structurally; map and Kronecker adjoints read the adjoint of
            // their node by id, which `closed_form` substitutes on its own.
            other => {
                let mut complete = true;
                let out = other.map_children(&mut |x| {
                    self.substitute(x, depth).unwrap_or_else(|| {
                        complete = false;
                        AExpr::Lit("0".into())
                    })
                });
                complete.then_some(out)?
            }
        })
    }

    /// A forward value as an expression the simplifier can see into: literals, and the
    /// products, transposes and signs of unnamed values (`(xᵀ·a)ᵀ` can then become `aᵀ·x`).
    fn expand(&self, v: ValueId) -> AExpr {
        let node = &self.prog.nodes[v];
        let arg = |k: usize| Box::new(self.expand(node.args[k]));
        let matrix = |k: usize| self.prog.shape(node.args[k]).is_matrix();
        if node.name.is_some() {
            return AExpr::Val(v);
        }
        match &node.op {
            Op::Const(t) if parse_number(&crate::text::tokens(t)).is_some() => {
                let value = parse_number(&crate::text::tokens(t)).unwrap_or_default();
                AExpr::Lit(value.to_string())
            }
            Op::Div if matrix(0) => AExpr::DivBy(arg(0), arg(1)),
            Op::Div => AExpr::Div(arg(0), arg(1)),
            Op::Transpose => AExpr::Transpose(arg(0)),
            Op::Neg => AExpr::Neg(arg(0)),
            Op::Mul if matrix(0) && matrix(1) => AExpr::MatMul(arg(0), arg(1)),
            Op::Mul if matrix(0) => AExpr::Scale(arg(0), arg(1)),
            Op::Mul if matrix(1) => AExpr::Scale(arg(1), arg(0)),
            Op::Mul => AExpr::Mul(arg(0), arg(1)),
            _ => AExpr::Val(v),
        }
    }

    fn shared(&self, k: usize) -> Option<&AExpr> {
        self.adj.steps.iter().find_map(|s| match s {
            Step::Share { index, expr } if *index == k => Some(expr),
            _ => None,
        })
    }

    fn value(&self, v: ValueId) -> Math {
        self.values.value(v)
    }

    /// The adjoint of node `node` as a `map` or Kronecker adjoint reads it.
    fn node_adjoint(&self, node: ValueId) -> Math {
        if !self.listing
            && let Some(e) = self.closed(node)
        {
            return self.render(&e);
        }
        Math::atom(format!("ḡ{node}"))
    }

    #[allow(
        clippy::too_many_lines,
        reason = "one arm per kind of expression, as in the printer"
    )]
    fn render(&self, e: &AExpr) -> Math {
        let r = |x: &AExpr| self.render(x);
        match e {
            AExpr::Adj(v) => Math::atom(format!("ḡ{v}")),
            AExpr::Val(v) => self.value(*v),
            AExpr::Lit(s) => number(s),
            AExpr::Cast(t) => exponent(t).math(),
            AExpr::Neg(a) => negate(&r(a)),
            AExpr::Add(a, b) => infix(&r(a), " + ", &r(b), SUM),
            AExpr::Sub(a, b) => difference(&r(a), &r(b)),
            AExpr::Mul(a, b) | AExpr::MatMul(a, b) => infix(&r(a), "·", &r(b), PRODUCT),
            AExpr::Scale(a, s) => self.scaled(a, s),
            // A division by a norm reads as one; its value 0 at the kink is in the docs.
            AExpr::Div(a, b) | AExpr::DivBy(a, b) | AExpr::DivOrZero(a, b) => {
                Math::new(format!("{}/{}", r(a).at(PRODUCT), r(b).at(ATOM)), PRODUCT)
            }
            AExpr::Transpose(a) => transpose(&r(a)),
            AExpr::Dot(a, b) => Math::atom(format!("⟨{}, {}⟩", r(a).text, r(b).text)),
            AExpr::ComponentMul(a, b) => entrywise(&r(a), " ∘ ", &r(b)),
            AExpr::ComponentDiv(a, b) => entrywise(&r(a), " ⊘ ", &r(b)),
            AExpr::Diag(s, _) if lit(s) == Some(1.0) => Math::atom("I"),
            AExpr::Fill(s, _) if lit(s) == Some(1.0) => Math::atom("𝟙"),
            AExpr::Diag(s, _) => Math::new(format!("{}·I", r(s).at(PRODUCT)), PRODUCT),
            AExpr::Fill(s, _) => Math::new(format!("{}·𝟙", r(s).at(PRODUCT)), PRODUCT),
            AExpr::OneHot(s, _, i, j) if lit(s) == Some(1.0) => Math::atom(format!("e₍{i},{j}₎")),
            AExpr::OneHot(s, _, i, j) => {
                Math::new(format!("{}·e₍{i},{j}₎", r(s).at(PRODUCT)), PRODUCT)
            }
            AExpr::Method(m, a) => call(m, &r(a)),
            AExpr::Helper(f, a) => call(f.name(), &r(a)),
            AExpr::Powi(a, n) => power(&r(a), &exponent(n)),
            AExpr::Powf(a, p) => power(&r(a), &Exponent::Text(r(p))),
            AExpr::Step(a, b) => Math::atom(format!("[{} ≥ {}]", r(a).text, r(b).text)),
            // Tangent expressions appear in forward-mode programs, not in gradients' derivations;
            // they render plainly for completeness.
            AExpr::Tan(v) => Math::new(format!("d{}", self.value(*v).at(ATOM)), ATOM),
            AExpr::Trace(a) => call("tr", &r(a)),
            AExpr::Sum(a) => call("Σ", &r(a)),
            AExpr::Entry(a, i, j) => Math::new(format!("{}[({i}, {j})]", r(a).at(ATOM)), ATOM),
            AExpr::Kronecker(a, b) => entrywise(&r(a), " ⊗ ", &r(b)),
            AExpr::Item(a, k, _) => Math::new(format!("{}.{k}", r(a).at(ATOM)), ATOM),
            AExpr::SolveForward { solve, rhs } => {
                let a = self.value(self.prog.nodes[*solve].args[0]);
                Math::new(format!("{}⁻¹·{}", a.at(ATOM), r(rhs).at(PRODUCT)), PRODUCT)
            }
            AExpr::PowerTangent {
                base,
                tangent,
                exponent,
            } => {
                let a = self.value(*base).at(ATOM);
                let k = crate::text::tokens(exponent);
                Math::new(
                    format!("Σ_(r<{k}) {a}ʳ·{}·{a}^({k}−1−r)", r(tangent).at(PRODUCT)),
                    SUM,
                )
            }
            AExpr::Partial { node, input } => Math::new(
                format!("∂{}/∂input {input}", self.prog.nodes[*node].text),
                ATOM,
            ),
            AExpr::BranchTangent { node } | AExpr::CallTangent { node } => Math::new(
                format!("the tangent of {}", self.prog.nodes[*node].text),
                ATOM,
            ),
            AExpr::MapAdj { node, input } => self.map_adjoint(*node, *input),
            AExpr::Shared(k) => Math::atom(format!("t{k}")),
            AExpr::Seed(_) => Math::atom("1"),
            AExpr::BranchAdjoint { node, .. } => self.branch_adjoint(*node),
            AExpr::Field { tuple, index, .. } => Math::atom(format!("t{tuple}.{index}")),
            AExpr::CallAdjoint { node } => {
                let call = self.values.definition(*node).text;
                let open = call.strip_suffix(')').unwrap_or(&call);
                Math::atom(format!("∂{open}; ḡ{node})"))
            }
            AExpr::Window { node, window } => {
                let n = &self.prog.nodes[*node];
                let Op::TraceChain(t) = &n.op else {
                    return Math::atom(n.text.clone());
                };
                let product = factors(&n.args, t, window.start, window.len, |a| self.value(a));
                Math::new(product, PRODUCT)
            }
            AExpr::DeterminantGradient { matrix, det } if self.cancelled.get() == Some(*det) => {
                transpose(&inverse(&self.value(*matrix)))
            }
            AExpr::DeterminantGradient { matrix, det } => Math::new(
                format!(
                    "{}·{}",
                    self.value(*det).at(PRODUCT),
                    transpose(&inverse(&self.value(*matrix))).text
                ),
                PRODUCT,
            ),
            AExpr::SolveTransposed { solve, rhs } => {
                let a = self.value(self.prog.nodes[*solve].args[0]);
                Math::new(
                    format!("{}·{}", transpose(&inverse(&a)).text, r(rhs).at(PRODUCT)),
                    PRODUCT,
                )
            }
            AExpr::KroneckerAdjoint { node, left } => {
                let g = self.node_adjoint(*node).at(ATOM);
                let args = &self.prog.nodes[*node].args;
                if *left {
                    let b = self.value(args[1]).text;
                    Math::atom(format!("[⟨{g}₍ᵢⱼ₎, {b}⟩]ᵢⱼ"))
                } else {
                    let a = self.value(args[0]).at(ATOM);
                    Math::new(format!("Σᵢⱼ {a}ᵢⱼ·{g}₍ᵢⱼ₎"), SUM)
                }
            }
            AExpr::PowerAdjoint {
                base,
                adjoint,
                exponent: k,
            } => {
                let a = self.value(*base).at(ATOM);
                let rest = match exponent(k) {
                    Exponent::Literal(k) => format!("{a}{}⁻ʳ", superscript(k - 1)),
                    Exponent::Text(k) => format!("{a}^({}−1−r)", k.text),
                };
                // An identity between the factors (the adjoint of a trace) multiplies nothing.
                let g = match &**adjoint {
                    AExpr::Diag(s, _) if lit(s) == Some(1.0) => String::new(),
                    g => format!("{}·", r(g).at(PRODUCT)),
                };
                Math::new(
                    format!("Σ_(r<{}) ({a}ʳ)ᵀ·{g}({rest})ᵀ", exponent(k).math().text),
                    SUM,
                )
            }
        }
    }

    /// `s·A`, and `x·A/b` for s = x/b. A product with det(A)·A⁻ᵀ as a factor scaled by
    /// x/det(A) is the product with A⁻ᵀ scaled by x (the derivative of ln det A).
    fn scaled(&self, m: &AExpr, s: &AExpr) -> Math {
        if let AExpr::Div(x, d) = s
            && let AExpr::Val(det) = **d
            && determinant_factor(m, det)
        {
            self.cancelled.set(Some(det));
            let product = self.render(m);
            self.cancelled.set(None);
            return match lit(x) {
                Some(1.0) => product,
                _ => infix(&self.render(x), "·", &product, PRODUCT),
            };
        }
        if let AExpr::Div(x, d) | AExpr::DivOrZero(x, d) = s {
            let numerator = match lit(x) {
                Some(1.0) => self.render(m),
                _ => infix(&self.render(x), "·", &self.render(m), PRODUCT),
            };
            let b = self.render(d).at(ATOM);
            return Math::new(format!("{}/{b}", numerator.at(PRODUCT)), PRODUCT);
        }
        infix(&self.render(s), "·", &self.render(m), PRODUCT)
    }

    /// Z̄ ∘ f′(A) for the mapped matrix; Σ Z̄ ∘ ∂f/∂s for a captured scalar.
    fn map_adjoint(&self, node: ValueId, input: usize) -> Math {
        let n = &self.prog.nodes[node];
        let g = self.node_adjoint(node);
        let a = self.value(n.args[0]);
        let f = self.values.closure(node);
        // A seed of ones (the adjoint of a sum) multiplies nothing.
        let weight = if g.text == "𝟙" {
            String::new()
        } else {
            format!("{} ∘ ", g.at(UNARY))
        };
        if input == 0 {
            Math::new(
                format!("{weight}{f}′({})", a.text),
                if weight.is_empty() { ATOM } else { ENTRYWISE },
            )
        } else {
            let s = self.value(n.args[input]).at(ATOM);
            Math::atom(format!("Σ({weight}∂{f}/∂{s})"))
        }
    }

    /// The adjoints of the values an `if` reads, through the branch its condition selects,
    /// seeded with the adjoints of its results.
    fn branch_adjoint(&self, node: ValueId) -> Math {
        let condition = self.value(self.prog.nodes[node].args[0]).text;
        let seeds: Vec<String> = self
            .prog
            .nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| matches!(n.op, Op::Extract(_)) && n.args == [node])
            .map(|(e, _)| {
                if self.adj.nonzero[e] {
                    format!("ḡ{e}")
                } else {
                    "0".to_string()
                }
            })
            .collect();
        Math::atom(format!("∂if({condition}; {})", seeds.join(", ")))
    }

    /// The fallback: the adjoint program line by line, then the values it reads.
    fn program(&self, params: &[(usize, String)]) -> Derivation {
        let mut lines = Vec::new();
        for step in &self.adj.steps {
            match step {
                Step::Add { target, expr } => {
                    let node = &self.prog.nodes[*target];
                    let label = if node.name.is_some() || matches!(node.op, Op::Param(_)) {
                        format!(" ({})", self.value(*target).text)
                    } else {
                        String::new()
                    };
                    lines.push(format!("ḡ{target}{label} += {}", self.render(expr).text));
                }
                Step::Share { index, expr } => {
                    lines.push(format!("t{index} = {}", self.render(expr).text));
                }
            }
        }
        for (index, name) in params {
            match self
                .prog
                .param_node(*index)
                .filter(|&p| self.adj.nonzero[p])
            {
                Some(p) => lines.push(format!("∇{} = ḡ{p}", plain(name))),
                None => lines.push(format!("∇{} = 0", plain(name))),
            }
        }
        let definitions = self.values.definitions(&lines);
        let mut out = vec![LEGEND.to_string()];
        out.append(&mut lines);
        if !definitions.is_empty() {
            out.push(String::new());
            out.push("where".to_string());
            out.extend(definitions);
        }
        Derivation {
            lines: out,
            closed: Vec::new(),
        }
    }
}

/// The first line of the adjoint program.
const LEGEND: &str = "the adjoint program, where ḡn is the gradient of the result with respect \
     to value n, tk a value it shares (tk.i its entry i), ∂if(c; ḡ…) the gradients through the \
     branch the condition c takes, and ∂f(…; ḡ) those through a call of f:";

/// Whether `m` is a product (of matrices, transposes, signs and scalings) with the gradient of
/// the determinant `det` as one factor, so that dividing `m` by `det` divides that factor.
fn determinant_factor(m: &AExpr, det: ValueId) -> bool {
    match m {
        AExpr::DeterminantGradient { det: d, .. } => *d == det,
        AExpr::Transpose(a) | AExpr::Neg(a) | AExpr::Scale(a, _) => determinant_factor(a, det),
        AExpr::MatMul(a, b) => determinant_factor(a, det) != determinant_factor(b, det),
        _ => false,
    }
}

/// The map and Kronecker nodes whose adjoints `e` reads.
fn nodes_read(e: &AExpr) -> Vec<ValueId> {
    let mut out = Vec::new();
    collect_nodes(e, &mut out);
    out
}

fn collect_nodes(e: &AExpr, out: &mut Vec<ValueId>) {
    if let AExpr::MapAdj { node, .. } | AExpr::KroneckerAdjoint { node, .. } = e {
        out.push(*node);
    }
    for child in e.children() {
        collect_nodes(child, out);
    }
}

/// Whether `e` is an expression of forward values: no adjoint, shared value, or adjoint of an
/// `if` or a call is left in it.
fn is_closed(e: &AExpr) -> bool {
    let open = matches!(
        e,
        AExpr::Adj(_)
            | AExpr::Shared(_)
            | AExpr::Field { .. }
            | AExpr::Seed(_)
            | AExpr::BranchAdjoint { .. }
            | AExpr::CallAdjoint { .. }
    );
    !open && e.children().into_iter().all(is_closed)
}

/// An associative operator: `a + b + c`, `a·b·c`; a sum with a signed term is a difference.
fn infix(a: &Math, op: &str, b: &Math, prec: u8) -> Math {
    if op == " + "
        && b.prec >= SIGNED
        && let Some(rest) = b.text.strip_prefix('−')
    {
        return Math::new(format!("{} − {rest}", a.at(prec)), prec);
    }
    Math::new(format!("{}{op}{}", a.at(prec), b.at(prec)), prec)
}

/// `a − b`; subtracting a signed term adds its magnitude: a − (−b) = a + b.
fn difference(a: &Math, b: &Math) -> Math {
    if b.prec >= SIGNED
        && let Some(rest) = b.text.strip_prefix('−')
    {
        return Math::new(format!("{} + {rest}", a.at(SUM)), SUM);
    }
    Math::new(format!("{} − {}", a.at(SUM), b.at(PRODUCT)), SUM)
}

/// `a ∘ b`: operands are atoms or parenthesized.
fn entrywise(a: &Math, op: &str, b: &Math) -> Math {
    Math::new(format!("{}{op}{}", a.at(UNARY), b.at(UNARY)), ENTRYWISE)
}

/// `−x`; the negation of a negated atom, product or entrywise product is its operand, and a
/// negated product reads as a signed term, `−2·xᵀ·r`.
fn negate(a: &Math) -> Math {
    if a.prec >= SIGNED
        && let Some(rest) = a.text.strip_prefix('−')
    {
        let prec = match a.prec {
            UNARY => ATOM,
            SIGNED => PRODUCT,
            p => p,
        };
        return Math::new(rest.to_string(), prec);
    }
    match a.prec {
        UNARY.. => Math::new(format!("−{}", a.text), UNARY),
        ENTRYWISE.. => Math::new(format!("−{}", a.text), SIGNED),
        _ => Math::new(format!("−({})", a.text), UNARY),
    }
}

/// Whether a postfix mark or power after `text` would read as part of an exponent.
fn ends_in_superscript(text: &str) -> bool {
    text.ends_with(|c: char| "⁰¹²³⁴⁵⁶⁷⁸⁹ʳ".contains(c))
}

/// `Aᵀ`, with (Aᵀ)ᵀ = A and (A⁻¹)ᵀ = A⁻ᵀ.
fn transpose(a: &Math) -> Math {
    if a.prec == ATOM {
        if let Some(base) = a.text.strip_suffix("⁻ᵀ") {
            return Math::atom(format!("{base}⁻¹"));
        }
        if let Some(base) = a.text.strip_suffix("⁻¹") {
            return Math::atom(format!("{base}⁻ᵀ"));
        }
        if let Some(base) = a.text.strip_suffix('ᵀ') {
            return Math::atom(base);
        }
    }
    postfix(a, "ᵀ")
}

/// `A⁻¹`, with (A⁻¹)⁻¹ = A and (Aᵀ)⁻¹ = A⁻ᵀ.
fn inverse(a: &Math) -> Math {
    if a.prec == ATOM {
        if let Some(base) = a.text.strip_suffix("⁻¹") {
            return Math::atom(base);
        }
        if let Some(base) = a.text.strip_suffix("⁻ᵀ") {
            return Math::atom(format!("{base}ᵀ"));
        }
        if let Some(base) = a.text.strip_suffix('ᵀ') {
            return Math::atom(format!("{base}⁻ᵀ"));
        }
    }
    postfix(a, "⁻¹")
}

fn postfix(a: &Math, op: &str) -> Math {
    if ends_in_superscript(&a.text) {
        Math::atom(format!("({}){op}", a.text))
    } else {
        Math::atom(format!("{}{op}", a.at(ATOM)))
    }
}

fn call(f: &str, a: &Math) -> Math {
    Math::atom(format!("{f}({})", a.text))
}

/// The factors `start..start + len` (cyclically) of a trace chain, as a product.
fn factors(
    args: &[ValueId],
    transposed: &[bool],
    start: usize,
    len: usize,
    value: impl Fn(ValueId) -> Math,
) -> String {
    let k = args.len();
    (0..len)
        .map(|j| {
            let i = (start + j) % k;
            let f = value(args[i]);
            if transposed[i] {
                transpose(&f).at(PRODUCT)
            } else {
                f.at(PRODUCT)
            }
        })
        .collect::<Vec<_>>()
        .join("·")
}

/// An integer exponent (or size): a literal, or an expression of constants.
enum Exponent {
    Literal(i64),
    Text(Math),
}

impl Exponent {
    fn math(&self) -> Math {
        match self {
            Exponent::Literal(k) => number(&k.to_string()),
            Exponent::Text(m) => m.clone(),
        }
    }
}

/// The exponent the tokens `t` write: `((2) - 1)` is 1, `(N) - 1` reads `N − 1`.
fn exponent(t: &TokenStream) -> Exponent {
    match syn::parse2::<syn::Expr>(t.clone()) {
        Ok(e) => int_value(&e).map_or_else(|| Exponent::Text(int_text(&e)), Exponent::Literal),
        Err(_) => Exponent::Text(Math::atom(crate::text::tokens(t))),
    }
}

fn int_value(e: &syn::Expr) -> Option<i64> {
    use syn::{BinOp, Expr, UnOp};
    match e {
        Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Int(i),
            ..
        }) => i.base10_parse().ok(),
        Expr::Paren(p) => int_value(&p.expr),
        Expr::Group(g) => int_value(&g.expr),
        Expr::Cast(c) => int_value(&c.expr),
        Expr::Unary(u) if matches!(u.op, UnOp::Neg(_)) => int_value(&u.expr)?.checked_neg(),
        Expr::Binary(b) => {
            let (l, r) = (int_value(&b.left)?, int_value(&b.right)?);
            match b.op {
                BinOp::Add(_) => l.checked_add(r),
                BinOp::Sub(_) => l.checked_sub(r),
                BinOp::Mul(_) => l.checked_mul(r),
                _ => None,
            }
        }
        _ => None,
    }
}

/// An expression of constants in the notation: `N − 1`, `2·C`, `cos(25)`, without the
/// parentheses, casts and suffixes of Rust.
fn int_text(e: &syn::Expr) -> Math {
    use syn::{BinOp, Expr, UnOp};
    match e {
        Expr::Paren(p) => int_text(&p.expr),
        Expr::Group(g) => int_text(&g.expr),
        Expr::Cast(c) => int_text(&c.expr),
        Expr::Lit(syn::ExprLit { lit, .. }) => match lit {
            syn::Lit::Int(i) => i.base10_parse::<f64>().map_or_else(
                |_| Math::atom(crate::text::expr(e)),
                |v| number(&v.to_string()),
            ),
            syn::Lit::Float(f) => f.base10_parse::<f64>().map_or_else(
                |_| Math::atom(crate::text::expr(e)),
                |v| number(&v.to_string()),
            ),
            _ => Math::atom(crate::text::expr(e)),
        },
        Expr::Unary(u) if matches!(u.op, UnOp::Neg(_)) => negate(&int_text(&u.expr)),
        Expr::Unary(u) if matches!(u.op, UnOp::Deref(_)) => int_text(&u.expr),
        Expr::Path(p) if p.path.segments.last().is_some_and(|s| s.ident == "PI") => Math::atom("π"),
        Expr::Path(p) if p.path.segments.len() == 1 => {
            Math::atom(plain(&p.path.segments[0].ident.to_string()))
        }
        Expr::Binary(b) if matches!(b.op, BinOp::Add(_) | BinOp::Sub(_)) => {
            // A sum of terms and integers, the integers added up: n − 1 − 1 is n − 2.
            let mut terms = Vec::new();
            let mut constant = 0_i64;
            linear(e, true, &mut terms, &mut constant);
            let mut sum = match terms.first() {
                Some((true, t)) => t.clone(),
                Some((false, t)) => negate(t),
                None => Math::atom("0"),
            };
            for (positive, t) in terms.iter().skip(1) {
                sum = if *positive {
                    infix(&sum, " + ", t, SUM)
                } else {
                    difference(&sum, t)
                };
            }
            match constant {
                0 => sum,
                c if c > 0 => infix(&sum, " + ", &number(&c.to_string()), SUM),
                c => difference(&sum, &number(&c.unsigned_abs().to_string())),
            }
        }
        Expr::Binary(b) => {
            let (l, r) = (int_text(&b.left), int_text(&b.right));
            match b.op {
                BinOp::Mul(_) => infix(&l, "·", &r, PRODUCT),
                BinOp::Div(_) => Math::new(format!("{}/{}", l.at(PRODUCT), r.at(ATOM)), PRODUCT),
                _ => Math::atom(crate::text::expr(e)),
            }
        }
        Expr::Call(c) if c.args.len() == 1 => {
            let f = crate::text::expr(&c.func);
            let f = f.rsplit("::").next().unwrap_or(&f).to_string();
            call(&f, &int_text(&c.args[0]))
        }
        Expr::MethodCall(m) if m.args.is_empty() => {
            call(&m.method.to_string(), &int_text(&m.receiver))
        }
        Expr::MethodCall(m) if m.method == "powi" && m.args.len() == 1 => {
            let k = int_value(&m.args[0])
                .map_or_else(|| Exponent::Text(int_text(&m.args[0])), Exponent::Literal);
            power(&int_text(&m.receiver), &k)
        }
        Expr::MethodCall(m) if m.method == "powf" && m.args.len() == 1 => power(
            &int_text(&m.receiver),
            &Exponent::Text(int_text(&m.args[0])),
        ),
        _ => Math::atom(crate::text::expr(e)),
    }
}

/// The terms of a sum of integers (`positive` when added), its literals added up in `constant`.
fn linear(e: &syn::Expr, positive: bool, terms: &mut Vec<(bool, Math)>, constant: &mut i64) {
    use syn::{BinOp, Expr};
    match e {
        Expr::Paren(p) => linear(&p.expr, positive, terms, constant),
        Expr::Group(g) => linear(&g.expr, positive, terms, constant),
        Expr::Cast(c) => linear(&c.expr, positive, terms, constant),
        Expr::Binary(b) if matches!(b.op, BinOp::Add(_) | BinOp::Sub(_)) => {
            linear(&b.left, positive, terms, constant);
            let sign = matches!(b.op, BinOp::Add(_)) == positive;
            linear(&b.right, sign, terms, constant);
        }
        e => match int_value(e) {
            Some(k) if positive => *constant = constant.saturating_add(k),
            Some(k) => *constant = constant.saturating_sub(k),
            None => terms.push((positive, int_text(e))),
        },
    }
}

/// `a²`, `a⁻¹`, `a^(N − 1)`.
fn power(base: &Math, k: &Exponent) -> Math {
    let b = if ends_in_superscript(&base.text) || base.text.ends_with('ᵀ') {
        format!("({})", base.text)
    } else {
        base.at(ATOM)
    };
    match k {
        Exponent::Literal(1) => base.clone(),
        Exponent::Literal(k) => Math::atom(format!("{b}{}", superscript(*k))),
        Exponent::Text(m) if m.prec == ATOM && m.text.chars().all(is_name_char) => {
            Math::new(format!("{b}^{}", m.text), UNARY)
        }
        Exponent::Text(m) => Math::new(format!("{b}^({})", m.text), UNARY),
    }
}

fn superscript(k: i64) -> String {
    k.to_string()
        .chars()
        .map(|c| match c {
            '-' => '⁻',
            d => "⁰¹²³⁴⁵⁶⁷⁸⁹"
                .chars()
                .nth(d.to_digit(10).map_or(0, |d| d as usize))
                .unwrap_or(d),
        })
        .collect()
}

/// A numeric literal as people write it: `2`, `0.5`, `−1`.
fn number(s: &str) -> Math {
    let text = match parse_number(s) {
        Some(v) if v.fract() == 0.0 && v.abs() < 1e15 => format!("{}", v as i64),
        Some(v) => format!("{v}"),
        None => s.to_string(),
    };
    match text.strip_prefix('-') {
        Some(rest) => Math::new(format!("−{rest}"), UNARY),
        None => Math::atom(text),
    }
}

/// The value a Rust float literal writes: `2.0`, `4f64`, `1_000.0`.
fn parse_number(s: &str) -> Option<f64> {
    let digits = s
        .trim_end_matches("f64")
        .trim_end_matches("f32")
        .replace('_', "");
    digits.parse().ok()
}

/// The value of a literal, or of a cast integer literal such as `((2) as f64)`.
fn lit(e: &AExpr) -> Option<f64> {
    match e {
        AExpr::Lit(s) => parse_number(s),
        AExpr::Cast(t) => match exponent(t) {
            Exponent::Literal(k) => Some(k as f64),
            Exponent::Text(_) => None,
        },
        _ => None,
    }
}

/// Simplifies bottom-up with exact identities: constants folded, signs and scalar factors
/// pulled to the front, `x/x` and `x − x` cancelled, `(Aᵀ)ᵀ` = `A`, repeated scalar factors
/// written as powers.
fn simplify(prog: &Program, e: &AExpr) -> AExpr {
    let e = e.map_children(&mut |x| simplify(prog, x));
    rewrite(prog, e)
}

fn zero() -> AExpr {
    AExpr::Lit("0".into())
}

fn is_zero(e: &AExpr) -> bool {
    lit(e) == Some(0.0)
}

/// Whether two expressions are the same, operand for operand.
fn same(a: &AExpr, b: &AExpr) -> bool {
    a.to_string() == b.to_string()
}

/// Whether `e` is certainly a scalar.
fn is_scalar(prog: &Program, e: &AExpr) -> bool {
    match e {
        AExpr::Lit(_)
        | AExpr::Cast(_)
        | AExpr::Mul(..)
        | AExpr::Div(..)
        | AExpr::Dot(..)
        | AExpr::Method(..)
        | AExpr::Helper(..)
        | AExpr::Powi(..)
        | AExpr::Powf(..)
        | AExpr::Step(..)
        | AExpr::DivOrZero(..) => true,
        AExpr::Val(v) => prog.shape(*v) == Shape::Scalar,
        AExpr::Neg(a) => is_scalar(prog, a),
        AExpr::Add(a, b) | AExpr::Sub(a, b) => is_scalar(prog, a) && is_scalar(prog, b),
        AExpr::MapAdj { input, .. } => *input > 0,
        _ => false,
    }
}

/// One level of rewriting, on already simplified children.
fn rewrite(prog: &Program, e: AExpr) -> AExpr {
    use AExpr as E;
    match e {
        E::Neg(a) => match *a {
            E::Neg(x) => *x,
            x if is_zero(&x) => zero(),
            E::Sub(x, y) => E::Sub(y, x),
            x => E::Neg(Box::new(x)),
        },
        e @ (E::Add(..) | E::Sub(..)) => sum(prog, e),
        e @ (E::Mul(..) | E::Div(..)) => Product::of(prog, e),
        e @ (E::Scale(..) | E::DivBy(..) | E::SolveTransposed { .. } | E::MatMul(..)) => {
            matrix_product(prog, e)
        }
        E::Transpose(a) => transposed(prog, *a),
        e @ (E::Diag(..) | E::Fill(..) | E::OneHot(..)) => constant_matrix(e),
        E::ComponentMul(a, b) if is_zero(&a) || is_zero(&b) => zero(),
        E::Dot(a, b) if is_zero(&a) || is_zero(&b) => zero(),
        E::Powi(a, n) => match exponent(&n) {
            Exponent::Literal(1) => *a,
            Exponent::Literal(0) => E::Lit("1".into()),
            _ => E::Powi(a, n),
        },
        other => other,
    }
}

/// Sums: zeros dropped, x − x = 0, x + x = 2·x, signed terms subtracted.
fn sum(prog: &Program, e: AExpr) -> AExpr {
    use AExpr as E;
    let boxed = Box::new;
    match e {
        E::Add(a, b) if is_zero(&a) => *b,
        E::Add(a, b) if is_zero(&b) => *a,
        E::Add(a, b) if same(&a, &b) => {
            if is_scalar(prog, &a) {
                rewrite(prog, E::Mul(E::lit("2"), a))
            } else {
                rewrite(prog, E::Scale(a, E::lit("2")))
            }
        }
        E::Add(a, b) => match (*a, *b) {
            // (p − x) + x = p
            (E::Sub(p, x), y) if same(&x, &y) => *p,
            // (p + x) + x = p + 2·x
            (E::Add(p, x), y) if same(&x, &y) => {
                let twice = rewrite(prog, E::Add(x, boxed(y)));
                E::Add(p, boxed(twice))
            }
            (x, E::Neg(y)) => rewrite(prog, E::Sub(boxed(x), y)),
            (E::Neg(x), y) if same(&x, &y) => zero(),
            (x, y) if lit(&y).is_some_and(|v| v < 0.0) => {
                let v = -lit(&y).unwrap_or_default();
                rewrite(prog, E::Sub(boxed(x), E::lit(v)))
            }
            (x, y) => E::Add(boxed(x), boxed(y)),
        },
        E::Sub(a, b) if is_zero(&b) => *a,
        E::Sub(a, b) if is_zero(&a) => rewrite(prog, E::Neg(b)),
        E::Sub(a, b) if same(&a, &b) => zero(),
        E::Sub(a, b) => match (*a, *b) {
            (x, E::Neg(y)) => rewrite(prog, E::Add(boxed(x), y)),
            // (p + x) − x = p
            (E::Add(p, x), y) if same(&x, &y) => *p,
            (x, y) => E::Sub(boxed(x), boxed(y)),
        },
        other => other,
    }
}

/// Products with matrices: literal ones dropped, signs and scalar factors to the front.
#[allow(
    clippy::float_cmp,
    reason = "literals are compared exactly: only a written 1 is dropped"
)]
fn matrix_product(prog: &Program, e: AExpr) -> AExpr {
    use AExpr as E;
    let boxed = Box::new;
    match e {
        E::Scale(m, s) if is_zero(&m) || is_zero(&s) => zero(),
        E::Scale(m, s) => match (*m, *s) {
            (m, s) if lit(&s) == Some(1.0) => m,
            (E::Neg(m), s) => rewrite(prog, E::Neg(boxed(rewrite(prog, E::Scale(m, boxed(s)))))),
            (m, E::Neg(s)) => rewrite(prog, E::Neg(boxed(rewrite(prog, E::Scale(boxed(m), s))))),
            (E::Scale(m, t), s) => {
                let factor = rewrite(prog, E::Mul(boxed(s), t));
                rewrite(prog, E::Scale(m, boxed(factor)))
            }
            (E::Diag(t, n), s) => {
                rewrite(prog, E::Diag(boxed(rewrite(prog, E::Mul(boxed(s), t))), n))
            }
            (E::Fill(t, shape), s) => rewrite(
                prog,
                E::Fill(boxed(rewrite(prog, E::Mul(boxed(s), t))), shape),
            ),
            (E::OneHot(t, shape, i, j), s) => {
                let scaled = rewrite(prog, E::Mul(boxed(s), t));
                rewrite(prog, E::OneHot(boxed(scaled), shape, i, j))
            }
            (m, s) => E::Scale(boxed(m), boxed(s)),
        },
        E::DivBy(a, b) if lit(&b) == Some(1.0) => *a,
        E::DivBy(a, b) => match *a {
            E::Neg(x) => rewrite(prog, E::Neg(boxed(rewrite(prog, E::DivBy(x, b))))),
            x => E::DivBy(boxed(x), b),
        },
        // A⁻ᵀ·(s·G) = s·A⁻ᵀ·G, and so for signs.
        E::SolveTransposed { solve, rhs } => match *rhs {
            E::Neg(g) => rewrite(prog, E::Neg(boxed(E::SolveTransposed { solve, rhs: g }))),
            E::Scale(g, s) => {
                let solved = E::SolveTransposed { solve, rhs: g };
                rewrite(prog, E::Scale(boxed(solved), s))
            }
            g => E::SolveTransposed {
                solve,
                rhs: boxed(g),
            },
        },
        E::MatMul(a, b) if is_zero(&a) || is_zero(&b) => zero(),
        E::MatMul(a, b) if is_scalar(prog, &b) => rewrite(prog, E::Scale(a, b)),
        E::MatMul(a, b) if is_scalar(prog, &a) => rewrite(prog, E::Scale(b, a)),
        E::MatMul(a, b) => match (*a, *b) {
            (E::Diag(s, _), y) => rewrite(prog, E::Scale(boxed(y), s)),
            (x, E::Diag(s, _)) => rewrite(prog, E::Scale(boxed(x), s)),
            (E::Neg(x), y) => rewrite(prog, E::Neg(boxed(rewrite(prog, E::MatMul(x, boxed(y)))))),
            (x, E::Neg(y)) => rewrite(prog, E::Neg(boxed(rewrite(prog, E::MatMul(boxed(x), y))))),
            (E::Scale(x, s), y) => {
                let product = rewrite(prog, E::MatMul(x, boxed(y)));
                rewrite(prog, E::Scale(boxed(product), s))
            }
            (x, E::Scale(y, s)) => {
                let product = rewrite(prog, E::MatMul(boxed(x), y));
                rewrite(prog, E::Scale(boxed(product), s))
            }
            (x, y) => E::MatMul(boxed(x), boxed(y)),
        },
        other => other,
    }
}

/// Aᵀ of a simplified A: (Aᵀ)ᵀ = A, (A·B)ᵀ = Bᵀ·Aᵀ, signs and scalars out.
fn transposed(prog: &Program, a: AExpr) -> AExpr {
    use AExpr as E;
    let boxed = Box::new;
    match a {
        E::Transpose(x) => *x,
        E::Lit(x) => E::Lit(x),
        // (A·B)ᵀ = Bᵀ·Aᵀ
        E::MatMul(x, y) => {
            let (y, x) = (
                rewrite(prog, E::Transpose(y)),
                rewrite(prog, E::Transpose(x)),
            );
            rewrite(prog, E::MatMul(boxed(y), boxed(x)))
        }
        E::Neg(x) => rewrite(prog, E::Neg(boxed(rewrite(prog, E::Transpose(x))))),
        E::Scale(x, s) => rewrite(prog, E::Scale(boxed(rewrite(prog, E::Transpose(x))), s)),
        E::Diag(s, n) => E::Diag(s, n),
        E::Fill(s, Shape::Matrix(r, c)) => E::Fill(s, Shape::Matrix(c, r)),
        x => E::Transpose(boxed(x)),
    }
}

/// The constant matrices s·I, s·𝟙 and s·e₍ᵢⱼ₎: signs leave them, a zero is zero, a 1×1 e₍₀₀₎
/// is its scalar.
fn constant_matrix(e: AExpr) -> AExpr {
    use AExpr as E;
    let boxed = Box::new;
    match e {
        E::Diag(s, n) => match *s {
            E::Neg(x) => E::Neg(boxed(E::Diag(x, n))),
            x if is_zero(&x) => zero(),
            x => E::Diag(boxed(x), n),
        },
        E::Fill(s, shape) => match *s {
            E::Neg(x) => E::Neg(boxed(E::Fill(x, shape))),
            x if is_zero(&x) => zero(),
            x => E::Fill(boxed(x), shape),
        },
        E::OneHot(s, shape, i, j) if !matches!(shape, Shape::Matrix(Dim::Lit(1), Dim::Lit(1))) => {
            match *s {
                E::Neg(x) => E::Neg(boxed(E::OneHot(x, shape, i, j))),
                x if is_zero(&x) => zero(),
                x => E::OneHot(boxed(x), shape, i, j),
            }
        }
        E::OneHot(s, Shape::Matrix(Dim::Lit(1), Dim::Lit(1)), ..) => *s,
        other => other,
    }
}

/// A product of scalars in normal form: coefficient · numerator factors / denominator factors.
struct Product {
    numerator: f64,
    denominator: f64,
    up: Vec<AExpr>,
    down: Vec<AExpr>,
}

impl Product {
    /// `e` (a `Mul` or `Div`) with its literals folded, its signs in front, common factors of
    /// numerator and denominator cancelled and repeated factors written as powers.
    fn of(prog: &Program, e: AExpr) -> AExpr {
        let mut p = Product {
            numerator: 1.0,
            denominator: 1.0,
            up: Vec::new(),
            down: Vec::new(),
        };
        p.factor(e, false);
        p.cancel();
        p.build(prog)
    }

    fn factor(&mut self, e: AExpr, below: bool) {
        match e {
            AExpr::Mul(a, b) => {
                self.factor(*a, below);
                self.factor(*b, below);
            }
            AExpr::Div(a, b) => {
                self.factor(*a, below);
                self.factor(*b, !below);
            }
            AExpr::Neg(a) => {
                self.numerator = -self.numerator;
                self.factor(*a, below);
            }
            // x² is x·x, so that x²·x is x³ and x²/x is x.
            AExpr::Powi(a, n) if matches!(exponent(&n), Exponent::Literal(1..=16)) => {
                let Exponent::Literal(k) = exponent(&n) else {
                    return;
                };
                for _ in 0..k {
                    self.factor((*a).clone(), below);
                }
            }
            e => match lit(&e) {
                Some(v) if !below => self.numerator *= v,
                Some(v) if v != 0.0 => self.denominator *= v,
                _ if below => self.down.push(e),
                _ => self.up.push(e),
            },
        }
    }

    /// x/x = 1 (where x ≠ 0, as the program assumes when it divides by x).
    fn cancel(&mut self) {
        let mut k = 0;
        while k < self.down.len() {
            match self.up.iter().position(|u| same(u, &self.down[k])) {
                Some(i) => {
                    self.up.remove(i);
                    self.down.remove(k);
                }
                None => k += 1,
            }
        }
    }

    #[allow(
        clippy::float_cmp,
        reason = "only a coefficient of exactly 1 is left unwritten"
    )]
    fn build(self, prog: &Program) -> AExpr {
        if self.numerator == 0.0 {
            return zero();
        }
        let (numerator, denominator) = (self.numerator.abs(), self.denominator.abs());
        let negative = (self.numerator < 0.0) != (self.denominator < 0.0);
        let ratio = numerator / denominator;
        // Keep 1/3 as a division rather than 0.333…, in lowest terms.
        let (numerator, denominator) = if format!("{ratio}").len() <= 8 {
            (ratio, 1.0)
        } else {
            lowest_terms(numerator, denominator)
        };
        let mut up = powers(prog, self.up);
        if numerator != 1.0 || up.is_empty() {
            up.insert(0, AExpr::Lit(format!("{numerator}")));
        }
        let mut down = powers(prog, self.down);
        if denominator != 1.0 {
            down.insert(0, AExpr::Lit(format!("{denominator}")));
        }
        let mut out = chain(up);
        if !down.is_empty() {
            out = AExpr::Div(Box::new(out), Box::new(chain(down)));
        }
        if negative {
            AExpr::Neg(Box::new(out))
        } else {
            out
        }
    }
}

/// p/q in lowest terms when both are integers.
#[allow(
    clippy::cast_sign_loss,
    clippy::cast_possible_truncation,
    reason = "the cast numbers are whole and below 1e15; the sign is kept apart"
)]
fn lowest_terms(p: f64, q: f64) -> (f64, f64) {
    let whole = |x: f64| x.fract() == 0.0 && x.abs() < 1e15;
    if !whole(p) || !whole(q) {
        return (p, q);
    }
    let (mut a, mut b) = (p.abs() as u64, q.abs() as u64);
    while b != 0 {
        (a, b) = (b, a % b);
    }
    if a <= 1 {
        (p, q)
    } else {
        (p / a as f64, q / a as f64)
    }
}

/// Equal scalar factors gathered into powers, in order of first appearance: x·y·x → x²·y.
fn powers(prog: &Program, factors: Vec<AExpr>) -> Vec<AExpr> {
    let mut grouped: Vec<(AExpr, i64)> = Vec::new();
    for f in factors {
        match grouped
            .iter_mut()
            .find(|(g, _)| is_scalar(prog, g) && same(g, &f))
        {
            Some((_, count)) => *count += 1,
            None => grouped.push((f, 1)),
        }
    }
    grouped
        .into_iter()
        .map(|(f, count)| match count {
            1 => f,
            k => AExpr::Powi(Box::new(f), k.to_string().parse().unwrap_or_default()),
        })
        .collect()
}

fn chain(factors: Vec<AExpr>) -> AExpr {
    factors
        .into_iter()
        .reduce(|a, b| AExpr::Mul(Box::new(a), Box::new(b)))
        .unwrap_or_else(|| AExpr::Lit("1".into()))
}
