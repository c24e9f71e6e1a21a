//! Rust constant expressions read as notation: literals, a module's `const`, a const generic
//! size, and the integer exponents of `powi` and matrix powers, with parentheses, casts and
//! suffixes dropped and integer arithmetic folded.
//!
//! Also collects the names of the constants a program reads, so that the definitions under a
//! derivation can say which names are constants.
//!
//! Before: `((N) - 1 - 1) as f64`. After: `N − 2`.

use std::collections::BTreeSet;

use proc_macro2::TokenStream;

use crate::ir::{Op, Program};

use super::notation::{
    ATOM, Exponent, Math, PRODUCT, SUM, call, difference, infix, negate, number, plain, power,
};

/// A constant: a number, or the expression of constants it is (`EPS`, `n` for `(n as f64)`).
pub(super) fn constant(t: &TokenStream) -> Math {
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
pub(super) fn constants(prog: &Program, out: &mut BTreeSet<String>) {
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

/// The exponent the tokens `t` write: `((2) - 1)` is 1, `(N) - 1` reads `N − 1`.
pub(super) fn exponent(t: &TokenStream) -> Exponent {
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
        Expr::Binary(b) if matches!(b.op, BinOp::Add(_) | BinOp::Sub(_)) => sum_text(e),
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

/// A sum of terms and integers, the integers added up: n − 1 − 1 is n − 2.
fn sum_text(e: &syn::Expr) -> Math {
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

/// The value a Rust float literal writes: `2.0`, `4f64`, `1_000.0`.
pub(super) fn parse_number(s: &str) -> Option<f64> {
    let digits = s
        .trim_end_matches("f64")
        .trim_end_matches("f32")
        .replace('_', "");
    digits.parse().ok()
}
