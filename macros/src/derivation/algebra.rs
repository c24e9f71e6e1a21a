//! Exact algebraic simplification of adjoint expressions, bottom-up: constants folded, zeros
//! dropped, signs and scalar factors pulled to the front, `x/x` and `x − x` cancelled,
//! `(Aᵀ)ᵀ` = `A` and `(A·B)ᵀ` = `Bᵀ·Aᵀ`, repeated scalar factors written as powers.
//!
//! Only identities that hold for every value are applied (a division assumes its divisor is
//! non-zero, as the program does), so the simplified tree evaluates to what the program
//! computes.
//!
//! Before: `−(x·2)·(r/r)`. After: `−2·x`.

use crate::adjoint::AExpr;
use crate::ir::{Dim, Program, Shape};

use super::constants::{exponent, parse_number};
use super::notation::Exponent;

/// The value of a literal, or of a cast integer literal such as `((2) as f64)`.
pub(super) fn lit(e: &AExpr) -> Option<f64> {
    match e {
        AExpr::Lit(s) => parse_number(s),
        AExpr::Cast(t) => match exponent(t) {
            Exponent::Literal(k) => Some(k as f64),
            Exponent::Text(_) => None,
        },
        AExpr::Adj(_)
        | AExpr::Val(_)
        | AExpr::Neg(_)
        | AExpr::Add(..)
        | AExpr::Sub(..)
        | AExpr::Mul(..)
        | AExpr::Div(..)
        | AExpr::Scale(..)
        | AExpr::DivBy(..)
        | AExpr::MatMul(..)
        | AExpr::Transpose(_)
        | AExpr::Dot(..)
        | AExpr::ComponentMul(..)
        | AExpr::ComponentDiv(..)
        | AExpr::Diag(..)
        | AExpr::Fill(..)
        | AExpr::OneHot(..)
        | AExpr::Embed(..)
        | AExpr::Method(..)
        | AExpr::Helper(..)
        | AExpr::Powi(..)
        | AExpr::Powf(..)
        | AExpr::DivOrZero(..)
        | AExpr::AtZero(..)
        | AExpr::Step(..)
        | AExpr::Tan(_)
        | AExpr::Trace(_)
        | AExpr::Sum(_)
        | AExpr::Entry(..)
        | AExpr::Block(..)
        | AExpr::DiagonalOf(..)
        | AExpr::TriSolve { .. }
        | AExpr::Phi(..)
        | AExpr::SymFromLower(..)
        | AExpr::SymLower(..)
        | AExpr::EntryAt(..)
        | AExpr::OneHotAt(..)
        | AExpr::ExtremumAdjoint { .. }
        | AExpr::ExtremumTangent { .. }
        | AExpr::FromDiagonal(..)
        | AExpr::Cross(..)
        | AExpr::Kronecker(..)
        | AExpr::SolveForward { .. }
        | AExpr::PowerTangent { .. }
        | AExpr::Partial { .. }
        | AExpr::BranchTangent { .. }
        | AExpr::CallTangent { .. }
        | AExpr::Item(..)
        | AExpr::MapAdj { .. }
        | AExpr::MapAdjTan { .. }
        | AExpr::Shared(_)
        | AExpr::AdjTan(_)
        | AExpr::SharedTan(_)
        | AExpr::DeterminantGradient { .. }
        | AExpr::SolveTransposed { .. }
        | AExpr::KroneckerAdjoint { .. }
        | AExpr::KroneckerAdjointOf { .. }
        | AExpr::Seed(_)
        | AExpr::BranchAdjoint { .. }
        | AExpr::BranchAdjTan { .. }
        | AExpr::CallAdjoint { .. }
        | AExpr::CallAdjTan { .. }
        | AExpr::Field { .. }
        | AExpr::Window { .. }
        | AExpr::PowerAdjoint { .. }
        | AExpr::PowerAdjointTangent { .. } => None,
    }
}

/// Simplifies bottom-up with exact identities: constants folded, signs and scalar factors
/// pulled to the front, `x/x` and `x − x` cancelled, `(Aᵀ)ᵀ` = `A`, repeated scalar factors
/// written as powers.
pub(super) fn simplify(prog: &Program, e: &AExpr) -> AExpr {
    let e = e.map_children(&mut |x| simplify(prog, x));
    rewrite(prog, e)
}

fn zero() -> AExpr {
    AExpr::Lit("0".into())
}

fn is_zero(e: &AExpr) -> bool {
    lit(e) == Some(0.0)
}

/// Whether two expressions are the same, operand for operand: as they print, after the cheap
/// answers (different kinds of node, different leaves).
fn same(a: &AExpr, b: &AExpr) -> bool {
    if std::mem::discriminant(a) != std::mem::discriminant(b) {
        return false;
    }
    match (a, b) {
        (AExpr::Lit(x), AExpr::Lit(y)) => x == y,
        (AExpr::Val(x), AExpr::Val(y)) | (AExpr::Adj(x), AExpr::Adj(y)) => x == y,
        _ => a.to_string() == b.to_string(),
    }
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
        | AExpr::DivOrZero(..)
        | AExpr::AtZero(..) => true,
        AExpr::Val(v) => prog.shape(*v) == Shape::Scalar,
        AExpr::Neg(a) => is_scalar(prog, a),
        AExpr::Add(a, b) | AExpr::Sub(a, b) => is_scalar(prog, a) && is_scalar(prog, b),
        AExpr::MapAdj { input, .. } | AExpr::MapAdjTan { input, .. } => *input > 0,
        AExpr::Adj(_)
        | AExpr::Scale(..)
        | AExpr::DivBy(..)
        | AExpr::MatMul(..)
        | AExpr::Transpose(_)
        | AExpr::ComponentMul(..)
        | AExpr::ComponentDiv(..)
        | AExpr::Diag(..)
        | AExpr::Fill(..)
        | AExpr::OneHot(..)
        | AExpr::Embed(..)
        | AExpr::Tan(_)
        | AExpr::Trace(_)
        | AExpr::Sum(_)
        | AExpr::Entry(..)
        | AExpr::Block(..)
        | AExpr::DiagonalOf(..)
        | AExpr::TriSolve { .. }
        | AExpr::Phi(..)
        | AExpr::SymFromLower(..)
        | AExpr::SymLower(..)
        | AExpr::EntryAt(..)
        | AExpr::OneHotAt(..)
        | AExpr::ExtremumAdjoint { .. }
        | AExpr::ExtremumTangent { .. }
        | AExpr::FromDiagonal(..)
        | AExpr::Cross(..)
        | AExpr::Kronecker(..)
        | AExpr::SolveForward { .. }
        | AExpr::PowerTangent { .. }
        | AExpr::Partial { .. }
        | AExpr::BranchTangent { .. }
        | AExpr::CallTangent { .. }
        | AExpr::Item(..)
        | AExpr::Shared(_)
        | AExpr::AdjTan(_)
        | AExpr::SharedTan(_)
        | AExpr::DeterminantGradient { .. }
        | AExpr::SolveTransposed { .. }
        | AExpr::KroneckerAdjoint { .. }
        | AExpr::KroneckerAdjointOf { .. }
        | AExpr::Seed(_)
        | AExpr::BranchAdjoint { .. }
        | AExpr::BranchAdjTan { .. }
        | AExpr::CallAdjoint { .. }
        | AExpr::CallAdjTan { .. }
        | AExpr::Field { .. }
        | AExpr::Window { .. }
        | AExpr::PowerAdjoint { .. }
        | AExpr::PowerAdjointTangent { .. } => false,
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
            Exponent::Literal(_) | Exponent::Text(_) => E::Powi(a, n),
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
        E::Scale(m, s) => scale(prog, *m, *s),
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

/// s·M of a simplified non-zero M and s: a literal 1 dropped, signs out, scalings merged,
/// and the scalar of a constant matrix multiplied.
#[allow(
    clippy::float_cmp,
    reason = "literals are compared exactly: only a written 1 is dropped"
)]
fn scale(prog: &Program, m: AExpr, s: AExpr) -> AExpr {
    use AExpr as E;
    let boxed = Box::new;
    match (m, s) {
        (m, s) if lit(&s) == Some(1.0) => m,
        (E::Neg(m), s) => rewrite(prog, E::Neg(boxed(rewrite(prog, E::Scale(m, boxed(s)))))),
        (m, E::Neg(s)) => rewrite(prog, E::Neg(boxed(rewrite(prog, E::Scale(boxed(m), s))))),
        (E::Scale(m, t), s) => {
            let factor = rewrite(prog, E::Mul(boxed(s), t));
            rewrite(prog, E::Scale(m, boxed(factor)))
        }
        (E::Diag(t, n), s) => rewrite(prog, E::Diag(boxed(rewrite(prog, E::Mul(boxed(s), t))), n)),
        (E::Fill(t, shape), s) => rewrite(
            prog,
            E::Fill(boxed(rewrite(prog, E::Mul(boxed(s), t))), shape),
        ),
        (E::OneHot(t, shape, i, j), s) => {
            let scaled = rewrite(prog, E::Mul(boxed(s), t));
            rewrite(prog, E::OneHot(boxed(scaled), shape, i, j))
        }
        (m, s) => E::Scale(boxed(m), boxed(s)),
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
