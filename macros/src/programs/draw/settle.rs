//! Literal types: where Rust cannot infer the float type of an expression made only of
//! literals, the leftmost literal gets a suffix. Part of `draw`.

use crate::programs::{Block, Cond, Expr, Stmt};
fn typed(e: &Expr) -> bool {
    match e {
        Expr::Lit(_) => false,
        Expr::Bin(_, _, a, b) => typed(a) || typed(b),
        Expr::Neg(a) => typed(a),
        Expr::If(_, a, b) => typed(&a.tail) || typed(&b.tail),
        Expr::Block(b) => typed(&b.tail),
        Expr::Var(..)
        | Expr::Deref(_)
        | Expr::Zeros(_)
        | Expr::Typed(_)
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
        | Expr::Call(..) => true,
    }
}

/// Gives an untyped expression a type by suffixing its leftmost literal.
///
/// Before: `let t0 = 0.5 * 0.2;` (then `t0.exp()` is a call on an ambiguous `{float}`)
/// After: `let t0 = 0.5_f64 * 0.2;`
fn settle_value(e: &mut Expr) {
    if typed(e) {
        return;
    }
    match e {
        Expr::Lit(v) => *e = Expr::Typed(*v),
        Expr::Bin(_, _, a, _) | Expr::Neg(a) => settle_value(a),
        Expr::If(_, a, _) => settle_value(&mut a.tail),
        Expr::Block(b) => settle_value(&mut b.tail),
        Expr::Var(..)
        | Expr::Deref(_)
        | Expr::Zeros(_)
        | Expr::Typed(_)
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
        | Expr::Call(..) => {}
    }
}

/// Settles every place where Rust needs the type of a value: method receivers, arguments of
/// generic functions, closure bodies and `let` initialisers.
pub(super) fn settle(e: &mut Expr) {
    match e {
        Expr::Var(..)
        | Expr::Deref(_)
        | Expr::Zeros(_)
        | Expr::Lit(_)
        | Expr::Typed(_)
        | Expr::Cast(_) => {}
        Expr::Bin(_, _, a, b) | Expr::Solve(a, b) => {
            settle(a);
            settle(b);
        }
        Expr::Neg(a) | Expr::Inverse(a) | Expr::Index(a, ..) => settle(a),
        Expr::Method(_, a, arg) => {
            settle(a);
            settle_value(a);
            if let Some(arg) = arg {
                settle(arg);
            }
        }
        Expr::Powi(a, _) | Expr::Pow(a, _) | Expr::Helper(_, a) => {
            settle(a);
            settle_value(a);
        }
        Expr::Powf(a, p) => {
            settle(a);
            settle_value(a);
            settle(p);
        }
        Expr::Map(a, body, _) => {
            settle(a);
            settle(body);
            settle_value(body);
        }
        Expr::Call(_, args) => args.iter_mut().for_each(|(a, _)| settle(a)),
        Expr::If(c, a, b) => {
            settle_cond(c);
            settle_block(a);
            settle_block(b);
        }
        Expr::Block(b) => settle_block(b),
    }
}

fn settle_block(b: &mut Block) {
    b.stmts.iter_mut().for_each(settle_stmt);
    settle(&mut b.tail);
}

fn settle_cond(c: &mut Cond) {
    match c {
        Cond::Cmp(_, a, b) => {
            settle(a);
            settle(b);
            if !typed(a) && !typed(b) {
                settle_value(a);
            }
        }
        Cond::IntCmp(..) | Cond::Flag(_) => {}
        Cond::Not(a) => settle_cond(a),
        Cond::And(a, b) | Cond::Or(a, b) => {
            settle_cond(a);
            settle_cond(b);
        }
    }
}

pub(super) fn settle_stmt(s: &mut Stmt) {
    match s {
        Stmt::Let { init, .. } => {
            settle(init);
            settle_value(init);
        }
        Stmt::Assign { value, .. } => settle(value),
        Stmt::If { arms, otherwise } => {
            for (c, body) in arms {
                settle_cond(c);
                body.iter_mut().for_each(settle_stmt);
            }
            otherwise.iter_mut().flatten().for_each(settle_stmt);
        }
        Stmt::For { body, .. } | Stmt::Block(body) | Stmt::Data { body, .. } => {
            body.iter_mut().for_each(settle_stmt);
        }
    }
}
