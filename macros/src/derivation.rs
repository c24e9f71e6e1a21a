//! The derivation, in matrix notation, for the doc comment of `{name}_grad`.
//!
//! Each differentiated parameter's gradient is the sum of the contributions `diff` made to it,
//! with every adjoint replaced by its own contributions until only forward values remain; a
//! few algebraic simplifications (constants folded, signs and scalar factors pulled to the
//! front) then make it read like a textbook line. Values bound by `let` keep their names and are
//! defined under the gradients. When an expression grows past what a person would read, the
//! derivation shows the adjoint program line by line instead. Runs after `diff`, for `emit`.
//!
//! Before: `let r = y - x * beta; r.norm_squared()`, with respect to `beta`.
//! After: `∇beta = −2·xᵀ·r`, where `r = y − x·beta`.

use crate::adjoint::{AExpr, Adjoint, Step};
use crate::ir::{Dim, Op, Program, Shape, ValueId};

/// A rendered expression and how tightly it binds, for parentheses.
struct Math {
    text: String,
    prec: u8,
}

/// Binding strengths: a sum (and a negated product), an entrywise product (∘ ⊘ ⊗, whose
/// operands are parenthesized unless atoms, so they never mix unclearly with ·), a product, a
/// unary minus, an atom (names, calls, postfix ᵀ).
const SUM: u8 = 1;
const ENTRYWISE: u8 = 2;
const PRODUCT: u8 = 3;
const UNARY: u8 = 4;
const ATOM: u8 = 5;

/// Longest gradient expression shown inline; longer ones fall back to the adjoint program.
const MAX_INLINE: usize = 240;

impl Math {
    fn new(text: String, prec: u8) -> Self {
        Math { text, prec }
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

/// The markdown lines of the derivation: one per gradient, then the definitions they use.
pub fn derivation(prog: &Program, adj: &Adjoint, params: &[(usize, String)]) -> Vec<String> {
    let d = Deriver { prog, adj };
    let mut lines = Vec::new();
    let mut used = vec![false; prog.nodes.len()];
    for (index, name) in params {
        let gradient = prog
            .param_node(*index)
            .filter(|&p| adj.nonzero[p])
            .map(|p| simplify(d.adjoint(p, 0)));
        let text = match &gradient {
            None => "0".to_string(),
            Some(expr) => d.render(expr).text,
        };
        if text.len() > MAX_INLINE {
            return d.program(params);
        }
        if let Some(expr) = &gradient {
            d.mark_used(expr, &mut used);
        }
        lines.push(format!("∇{name} = {text}"));
    }
    let definitions: Vec<String> = d.definitions(&used);
    if !definitions.is_empty() {
        lines.push(String::new());
        lines.push("where".to_string());
        lines.extend(definitions);
    }
    lines
}

struct Deriver<'a> {
    prog: &'a Program,
    adj: &'a Adjoint,
}

impl Deriver<'_> {
    /// The adjoint of `v` as an expression of forward values.
    fn adjoint(&self, v: ValueId, depth: usize) -> AExpr {
        if Some(v) == self.prog.output {
            return AExpr::Lit("1".into());
        }
        let mut sum: Option<AExpr> = None;
        for step in &self.adj.steps {
            if let Step::Add { target, expr } = step
                && *target == v
            {
                let term = self.substitute(expr, depth + 1);
                sum = Some(match sum {
                    None => term,
                    Some(acc) => AExpr::Add(Box::new(acc), Box::new(term)),
                });
            }
        }
        sum.unwrap_or_else(|| AExpr::Lit("0".into()))
    }

    /// Replaces every `Adj(u)` in `e` by the adjoint of `u`.
    fn substitute(&self, e: &AExpr, depth: usize) -> AExpr {
        if depth > 64 {
            return e.clone();
        }
        match e {
            AExpr::Adj(u) => self.adjoint(*u, depth),
            AExpr::Shared(k) => self
                .shared(*k)
                .map_or_else(|| e.clone(), |s| self.substitute(s, depth)),
            AExpr::Val(v) => self.expand(*v),
            AExpr::Seed(_) => AExpr::Lit("1".into()),
            // The rest recurse structurally; map, branch, call and Kronecker adjoints read the
            // adjoint of their node by id, which is substituted when they are rendered.
            other => other.map_children(&mut |x| self.substitute(x, depth)),
        }
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
            Op::Const(t) if crate::text::tokens(t).parse::<f64>().is_ok() => {
                AExpr::Lit(crate::text::tokens(t))
            }
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

    /// A forward value: its name if it has one, else its expression.
    fn value(&self, v: ValueId) -> Math {
        let node = &self.prog.nodes[v];
        if let Some(name) = &node.name {
            return Math::new(name.clone(), ATOM);
        }
        self.definition(v)
    }

    /// The expression that computes `v`, in matrix notation.
    fn definition(&self, v: ValueId) -> Math {
        let node = &self.prog.nodes[v];
        let arg = |k: usize| self.value(node.args[k]);
        let scalar = |k: usize| self.prog.shape(node.args[k]) == Shape::Scalar;
        match &node.op {
            Op::Param(_) | Op::Branch { .. } | Op::Extract(_) | Op::Call(_) => {
                Math::new(node.text.clone(), ATOM)
            }
            Op::Const(t) | Op::BoolConst(t) => Math::new(crate::text::tokens(t), ATOM),
            Op::Add => infix(&arg(0), " + ", &arg(1), SUM),
            Op::Sub => Math::new(format!("{} − {}", arg(0).at(SUM), arg(1).at(PRODUCT)), SUM),
            Op::Mul if scalar(0) || scalar(1) => infix(&arg(0), "·", &arg(1), PRODUCT),
            Op::Mul => infix(&arg(0), "·", &arg(1), PRODUCT),
            Op::Div => Math::new(
                format!("{}/{}", arg(0).at(PRODUCT), arg(1).at(ATOM)),
                PRODUCT,
            ),
            Op::Neg => negate(&arg(0)),
            Op::Transpose => postfix(&arg(0), "ᵀ"),
            Op::Trace => call("tr", &arg(0)),
            Op::Sum => call("Σ", &arg(0)),
            Op::Mean => call("mean", &arg(0)),
            Op::Dot => Math::new(format!("⟨{}, {}⟩", arg(0).text, arg(1).text), ATOM),
            Op::Norm => Math::new(format!("‖{}‖", arg(0).text), ATOM),
            Op::NormSquared => Math::new(format!("‖{}‖²", arg(0).text), ATOM),
            Op::ComponentMul => entrywise(&arg(0), " ∘ ", &arg(1)),
            Op::ComponentDiv => entrywise(&arg(0), " ⊘ ", &arg(1)),
            Op::Map(sub) => Math::new(
                format!("{}.map({})", arg(0).at(ATOM), closure_text(sub)),
                ATOM,
            ),
            Op::Unary(f) => call(f.name(), &arg(0)),
            Op::Powi(n) => Math::new(
                format!("{}^{}", arg(0).at(ATOM), crate::text::tokens(n)),
                ATOM,
            ),
            Op::Powf => Math::new(format!("{}^{}", arg(0).at(ATOM), arg(1).at(ATOM)), ATOM),
            Op::Index(i, j) => Math::new(format!("{}[({i}, {j})]", arg(0).at(ATOM)), ATOM),
            Op::Inverse(_) => postfix(&arg(0), "⁻¹"),
            Op::Determinant => call("det", &arg(0)),
            Op::Solve(_) => Math::new(
                format!("{}⁻¹·{}", arg(0).at(ATOM), arg(1).at(ATOM)),
                PRODUCT,
            ),
            Op::Kronecker => entrywise(&arg(0), " ⊗ ", &arg(1)),
            Op::MatrixPower(k) => Math::new(
                format!("{}^{}", arg(0).at(ATOM), crate::text::tokens(k)),
                ATOM,
            ),
            Op::TraceChain(t) => Math::new(
                format!("tr({})", self.factors(&node.args, t, 0, node.args.len())),
                ATOM,
            ),
            Op::Compare(c) => Math::new(
                format!("{} {} {}", arg(0).text, c.symbol(), arg(1).text),
                SUM,
            ),
            Op::Not => Math::new(format!("¬{}", arg(0).at(ATOM)), UNARY),
            Op::And => Math::new(format!("{} ∧ {}", arg(0).at(ATOM), arg(1).at(ATOM)), SUM),
            Op::Or => Math::new(format!("{} ∨ {}", arg(0).at(ATOM), arg(1).at(ATOM)), SUM),
        }
    }

    #[allow(
        clippy::too_many_lines,
        reason = "one arm per kind of expression, as in the printer"
    )]
    fn render(&self, e: &AExpr) -> Math {
        let r = |x: &AExpr| self.render(x);
        match e {
            AExpr::Adj(v) => Math::new(format!("ḡ{v}"), ATOM),
            AExpr::Val(v) => self.value(*v),
            AExpr::Lit(s) => Math::new(trim_number(s), ATOM),
            AExpr::Cast(t) => Math::new(crate::text::tokens(t), ATOM),
            AExpr::Neg(a) => negate(&r(a)),
            AExpr::Add(a, b) => infix(&r(a), " + ", &r(b), SUM),
            AExpr::Sub(a, b) => Math::new(format!("{} − {}", r(a).at(SUM), r(b).at(PRODUCT)), SUM),
            AExpr::Mul(a, b) | AExpr::MatMul(a, b) => infix(&r(a), "·", &r(b), PRODUCT),
            // Scalars go in front: s·A.
            AExpr::Scale(a, s) => infix(&r(s), "·", &r(a), PRODUCT),
            // A division by a norm reads as one; its value 0 at the kink is in the docs.
            AExpr::Div(a, b) | AExpr::DivBy(a, b) | AExpr::DivOrZero(a, b) => {
                Math::new(format!("{}/{}", r(a).at(PRODUCT), r(b).at(ATOM)), PRODUCT)
            }
            AExpr::Transpose(a) => postfix(&r(a), "ᵀ"),
            AExpr::Dot(a, b) => Math::new(format!("⟨{}, {}⟩", r(a).text, r(b).text), ATOM),
            AExpr::ComponentMul(a, b) => entrywise(&r(a), " ∘ ", &r(b)),
            AExpr::ComponentDiv(a, b) => entrywise(&r(a), " ⊘ ", &r(b)),
            AExpr::Diag(s, _) if lit(s) == Some(1.0) => Math::new("I".into(), ATOM),
            AExpr::Fill(s, _) if lit(s) == Some(1.0) => Math::new("𝟙".into(), ATOM),
            AExpr::Diag(s, _) => Math::new(format!("{}·I", r(s).at(PRODUCT)), PRODUCT),
            AExpr::Fill(s, _) => Math::new(format!("{}·𝟙", r(s).at(PRODUCT)), PRODUCT),
            AExpr::OneHot(s, _, i, j) => {
                Math::new(format!("{}·e₍{i},{j}₎", r(s).at(PRODUCT)), PRODUCT)
            }
            AExpr::Method(m, a) => call(m, &r(a)),
            AExpr::Helper(f, a) => call(f.name(), &r(a)),
            AExpr::Powi(a, n) => Math::new(
                format!("{}^({})", r(a).at(ATOM), crate::text::tokens(n)),
                ATOM,
            ),
            AExpr::Powf(a, p) => Math::new(format!("{}^{}", r(a).at(ATOM), r(p).at(ATOM)), ATOM),
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
            AExpr::Shared(k) => Math::new(format!("t{k}"), ATOM),
            AExpr::Seed(_) => Math::new("1".into(), ATOM),
            AExpr::BranchAdjoint { node, .. } => Math::new(
                format!(
                    "the adjoint of the branch taken by {}",
                    self.prog.nodes[*node].text
                ),
                ATOM,
            ),
            AExpr::Field { tuple, index, .. } => Math::new(format!("t{tuple}.{index}"), ATOM),
            AExpr::CallAdjoint { node } => Math::new(
                format!("the pullback of {}", self.prog.nodes[*node].text),
                ATOM,
            ),
            AExpr::Window { node, window } => {
                let n = &self.prog.nodes[*node];
                let Op::TraceChain(t) = &n.op else {
                    return Math::new("?".into(), ATOM);
                };
                Math::new(self.factors(&n.args, t, window.start, window.len), PRODUCT)
            }
            AExpr::DeterminantGradient { matrix, det } => {
                let a = self.value(*matrix);
                Math::new(
                    format!("{}·{}⁻ᵀ", self.value(*det).at(PRODUCT), a.at(ATOM)),
                    PRODUCT,
                )
            }
            AExpr::SolveTransposed { solve, rhs } => {
                let a = self.value(self.prog.nodes[*solve].args[0]);
                Math::new(format!("{}⁻ᵀ·{}", a.at(ATOM), r(rhs).at(PRODUCT)), PRODUCT)
            }
            AExpr::KroneckerAdjoint { node, left } => {
                let g = self.render(&simplify(self.adjoint(*node, 1)));
                let args = &self.prog.nodes[*node].args;
                let (name, other) = if *left {
                    ("⟨blocks of Z̄, B⟩", args[1])
                } else {
                    ("Σ Aᵢⱼ·blocks of Z̄", args[0])
                };
                Math::new(
                    format!("{name}(Z̄ = {}, {})", g.text, self.value(other).text),
                    ATOM,
                )
            }
            AExpr::PowerAdjoint {
                base,
                adjoint,
                exponent,
            } => {
                let a = self.value(*base).at(ATOM);
                let k = crate::text::tokens(exponent);
                Math::new(
                    format!(
                        "Σ_(r<{k}) ({a}ʳ)ᵀ·{}·({a}^({k}−1−r))ᵀ",
                        r(adjoint).at(PRODUCT)
                    ),
                    SUM,
                )
            }
        }
    }

    /// The factors `start..start + len` (cyclically) of a trace chain, as a product.
    fn factors(&self, args: &[ValueId], transposed: &[bool], start: usize, len: usize) -> String {
        let k = args.len();
        (0..len)
            .map(|j| {
                let i = (start + j) % k;
                let f = self.value(args[i]);
                if transposed[i] {
                    postfix(&f, "ᵀ").text
                } else {
                    f.at(PRODUCT)
                }
            })
            .collect::<Vec<_>>()
            .join("·")
    }

    /// Z̄ ∘ f′(A) for the mapped matrix; Σ Z̄ ∘ ∂f/∂s for a captured scalar.
    fn map_adjoint(&self, node: ValueId, input: usize) -> Math {
        let n = &self.prog.nodes[node];
        let g = self.render(&simplify(self.adjoint(node, 1)));
        let a = self.value(n.args[0]);
        let Op::Map(sub) = &n.op else {
            return Math::new("?".into(), ATOM);
        };
        let f = closure_text(sub);
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
            let s = self.value(n.args[input]).text;
            Math::new(format!("Σ({weight}∂{f}/∂{s})"), ATOM)
        }
    }

    fn mark_used(&self, e: &AExpr, used: &mut [bool]) {
        let text = self.render(e).text;
        for (v, node) in self.prog.nodes.iter().enumerate() {
            if let Some(name) = &node.name
                && contains_word(&text, name)
            {
                used[v] = true;
            }
        }
        // Definitions may name further values.
        let mut changed = true;
        while changed {
            changed = false;
            for v in 0..self.prog.nodes.len() {
                if !used[v] {
                    continue;
                }
                let text = self.definition(v).text;
                for (u, node) in self.prog.nodes.iter().enumerate() {
                    if !used[u]
                        && node
                            .name
                            .as_deref()
                            .is_some_and(|name| contains_word(&text, name))
                    {
                        used[u] = true;
                        changed = true;
                    }
                }
            }
        }
    }

    fn definitions(&self, used: &[bool]) -> Vec<String> {
        (0..self.prog.nodes.len())
            .filter(|&v| used[v])
            .filter_map(|v| {
                let name = self.prog.nodes[v].name.as_ref()?;
                Some(format!("{name} = {}", self.definition(v).text))
            })
            .collect()
    }

    /// The fallback: the adjoint program line by line.
    fn program(&self, params: &[(usize, String)]) -> Vec<String> {
        let mut lines = vec![
            "the adjoint program, where ḡn is the gradient of the result with respect to value n:"
                .to_string(),
        ];
        for step in &self.adj.steps {
            match step {
                Step::Add { target, expr } => {
                    let name = self.value(*target).text;
                    lines.push(format!("ḡ{target} ({name}) += {}", self.render(expr).text));
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
                Some(p) => lines.push(format!("∇{name} = ḡ{p}")),
                None => lines.push(format!("∇{name} = 0")),
            }
        }
        lines
    }
}

/// An associative operator: `a + b + c`, `a·b·c`.
fn infix(a: &Math, op: &str, b: &Math, prec: u8) -> Math {
    Math::new(format!("{}{op}{}", a.at(prec), b.at(prec)), prec)
}

/// `a ∘ b`: operands are atoms or parenthesized.
fn entrywise(a: &Math, op: &str, b: &Math) -> Math {
    Math::new(format!("{}{op}{}", a.at(UNARY), b.at(UNARY)), ENTRYWISE)
}

/// `−x`: a negated product reads as a signed term, `−2·xᵀ·r`, so it binds like a sum.
fn negate(a: &Math) -> Math {
    if a.prec >= UNARY {
        Math::new(format!("−{}", a.text), UNARY)
    } else {
        Math::new(format!("−{}", a.at(ENTRYWISE)), SUM)
    }
}

fn postfix(a: &Math, op: &str) -> Math {
    Math::new(format!("{}{op}", a.at(ATOM)), ATOM)
}

fn call(f: &str, a: &Math) -> Math {
    Math::new(format!("{f}({})", a.text), ATOM)
}

fn closure_text(sub: &Program) -> String {
    let Some(out) = sub.output else {
        return "f".into();
    };
    let node = &sub.nodes[out];
    match (&node.op, node.args.as_slice()) {
        (Op::Unary(f), [arg]) if matches!(sub.nodes[*arg].op, Op::Param(0)) => f.name().to_string(),
        _ => {
            let param = sub
                .param_node(0)
                .map_or("v", |p| sub.nodes[p].text.as_str());
            format!("({param} ↦ {})", node.text)
        }
    }
}

fn trim_number(s: &str) -> String {
    match s.parse::<f64>() {
        Ok(v) if v.fract() == 0.0 && v.abs() < 1e15 => format!("{}", v as i64),
        Ok(v) => format!("{v}"),
        Err(_) => s.to_string(),
    }
}

fn contains_word(text: &str, word: &str) -> bool {
    text.match_indices(word).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + word.len()..].chars().next();
        let ident =
            |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '′');
        !ident(before) && !ident(after)
    })
}

fn lit(e: &AExpr) -> Option<f64> {
    match e {
        AExpr::Lit(s) => s.parse().ok(),
        _ => None,
    }
}

/// Folds constants and moves signs and scalar factors to the front, bottom-up.
fn simplify(e: AExpr) -> AExpr {
    use AExpr as E;
    let s = |x: Box<AExpr>| Box::new(simplify(*x));
    let e = match e {
        E::Neg(a) => E::Neg(s(a)),
        E::Add(a, b) => E::Add(s(a), s(b)),
        E::Sub(a, b) => E::Sub(s(a), s(b)),
        E::Mul(a, b) => E::Mul(s(a), s(b)),
        E::Div(a, b) => E::Div(s(a), s(b)),
        E::Scale(a, b) => E::Scale(s(a), s(b)),
        E::DivBy(a, b) => E::DivBy(s(a), s(b)),
        E::MatMul(a, b) => E::MatMul(s(a), s(b)),
        E::Transpose(a) => E::Transpose(s(a)),
        E::ComponentMul(a, b) => E::ComponentMul(s(a), s(b)),
        E::Diag(x, n) => E::Diag(s(x), n),
        E::Fill(x, shape) => E::Fill(s(x), shape),
        E::OneHot(x, shape, i, j) => E::OneHot(s(x), shape, i, j),
        other => other,
    };
    rewrite(e)
}

/// One level of rewriting, on already simplified children.
#[allow(
    clippy::float_cmp,
    reason = "literals are compared exactly: only a written 1 is dropped"
)]
fn rewrite(e: AExpr) -> AExpr {
    use AExpr as E;
    match e {
        E::Neg(a) => match *a {
            E::Neg(x) => *x,
            E::Lit(v) if v.parse::<f64>().is_ok_and(|v| v == 0.0) => E::Lit(v),
            x => E::Neg(Box::new(x)),
        },
        E::Mul(a, b) => match (lit(&a), lit(&b)) {
            (Some(x), Some(y)) => E::Lit(format!("{}", x * y)),
            (Some(1.0), _) => *b,
            (_, Some(1.0)) => *a,
            _ => match (*a, *b) {
                (E::Neg(x), y) | (y, E::Neg(x)) => {
                    rewrite(E::Neg(Box::new(rewrite(E::Mul(x, Box::new(y))))))
                }
                // Keep literal factors in front: 2·(3·x) → 6·x.
                (E::Lit(x), E::Mul(y, z)) if lit(&y).is_some() => {
                    rewrite(E::Mul(Box::new(rewrite(E::Mul(Box::new(E::Lit(x)), y))), z))
                }
                (x, E::Lit(y)) => E::Mul(Box::new(E::Lit(y)), Box::new(x)),
                (x, y) => E::Mul(Box::new(x), Box::new(y)),
            },
        },
        E::Div(a, b) if lit(&b) == Some(1.0) => *a,
        E::Scale(m, s) => match (*m, *s) {
            (m, s) if lit(&s) == Some(1.0) => m,
            (E::Neg(m), s) => rewrite(E::Neg(Box::new(rewrite(E::Scale(m, Box::new(s)))))),
            (m, E::Neg(s)) => rewrite(E::Neg(Box::new(rewrite(E::Scale(Box::new(m), s))))),
            (E::Scale(m, t), s) => rewrite(E::Scale(m, Box::new(rewrite(E::Mul(Box::new(s), t))))),
            (m, s) => E::Scale(Box::new(m), Box::new(s)),
        },
        E::MatMul(a, b) if lit(&b) == Some(1.0) => *a,
        E::MatMul(a, b) if lit(&a) == Some(1.0) => *b,
        E::MatMul(a, b) => match (*a, *b) {
            (E::Diag(s, _), y) => rewrite(E::Scale(Box::new(y), s)),
            (x, E::Diag(s, _)) => rewrite(E::Scale(Box::new(x), s)),
            (E::Neg(x), y) => rewrite(E::Neg(Box::new(rewrite(E::MatMul(x, Box::new(y)))))),
            (x, E::Neg(y)) => rewrite(E::Neg(Box::new(rewrite(E::MatMul(Box::new(x), y))))),
            (E::Scale(x, s), y) => {
                rewrite(E::Scale(Box::new(rewrite(E::MatMul(x, Box::new(y)))), s))
            }
            (x, E::Scale(y, s)) => {
                rewrite(E::Scale(Box::new(rewrite(E::MatMul(Box::new(x), y))), s))
            }
            (x, y) => E::MatMul(Box::new(x), Box::new(y)),
        },
        E::Transpose(a) => match *a {
            E::Transpose(x) => *x,
            E::Lit(x) => E::Lit(x),
            // (A·B)ᵀ = Bᵀ·Aᵀ
            E::MatMul(x, y) => rewrite(E::MatMul(
                Box::new(rewrite(E::Transpose(y))),
                Box::new(rewrite(E::Transpose(x))),
            )),
            E::Neg(x) => rewrite(E::Neg(Box::new(rewrite(E::Transpose(x))))),
            E::Scale(x, s) => rewrite(E::Scale(Box::new(rewrite(E::Transpose(x))), s)),
            x => E::Transpose(Box::new(x)),
        },
        E::OneHot(s, Shape::Matrix(Dim::Lit(1), Dim::Lit(1)), ..) => *s,
        E::Add(a, b) if a.to_string() == b.to_string() => {
            rewrite(E::Mul(Box::new(E::Lit("2".into())), a))
        }
        other => other,
    }
}
