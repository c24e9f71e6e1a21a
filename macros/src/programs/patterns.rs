//! Recognises, in a generated program, the shapes of code that trigger the macro bugs found so
//! far, so that a batch can tell a failure of a known kind from a new one. A tag is a claim
//! about the source only; whether the program fails is what its test says.
//!
//! - `branch-read`: an `if` whose one arm assigns a variable from outside that another arm only
//!   reads (`if c { let u = t; } else { t = t * 3.0; }`): the reading arm passes no gradient
//!   through the variable.
//! - `counter-call`: a call or method on an expression made of loop counters and literals
//!   only (`(i as f64).sin()`): it is kept as written in the unrolled derivative code, where
//!   the counter no longer exists, and does not compile.

use std::collections::BTreeSet;

use super::{Block, Cond, Expr, Program, Stmt};

/// The tags of the known bug patterns that `p` contains.
pub(super) fn tags(p: &Program) -> Vec<&'static str> {
    let mut tags = Vec::new();
    let functions = || p.callees.iter().chain(std::iter::once(&p.main));
    if functions().any(|f| f.body.iter().any(stmt_branch_read) || expr_branch_read(&f.tail)) {
        tags.push("branch-read");
    }
    if functions().any(|f| {
        let mut found = false;
        for s in &f.body {
            visit_stmt(s, &mut |e| found |= counter_call(e));
        }
        visit_expr(&f.tail, &mut |e| found |= counter_call(e));
        found
    }) {
        tags.push("counter-call");
    }
    tags
}

/// What an arm reads and what it assigns.
#[derive(Default)]
struct Effects {
    reads: BTreeSet<String>,
    writes: BTreeSet<String>,
}

fn effects(stmts: &[Stmt], tail: Option<&Expr>) -> Effects {
    let mut fx = Effects::default();
    for s in stmts {
        stmt_effects(s, &mut fx);
    }
    if let Some(e) = tail {
        visit_expr(e, &mut |e| read(e, &mut fx));
    }
    fx
}

fn read(e: &Expr, fx: &mut Effects) {
    if let Expr::Var(name, _) = e {
        fx.reads.insert(name.clone());
    }
}

fn stmt_effects(s: &Stmt, fx: &mut Effects) {
    if let Stmt::Assign { name, .. } = s {
        fx.writes.insert(name.clone());
    }
    let mut reads = Effects::default();
    visit_stmt(s, &mut |e| read(e, &mut reads));
    fx.reads.extend(reads.reads);
    match s {
        Stmt::If { arms, otherwise } => {
            for (_, body) in arms {
                for s in body {
                    stmt_effects_writes(s, fx);
                }
            }
            for s in otherwise.iter().flatten() {
                stmt_effects_writes(s, fx);
            }
        }
        Stmt::For { body, .. } | Stmt::Block(body) => {
            for s in body {
                stmt_effects_writes(s, fx);
            }
        }
        Stmt::Let { .. } | Stmt::Assign { .. } => {}
    }
}

/// The assignments of nested statements (their reads are already counted).
fn stmt_effects_writes(s: &Stmt, fx: &mut Effects) {
    let mut inner = Effects::default();
    stmt_effects(s, &mut inner);
    fx.writes.extend(inner.writes);
}

/// Whether some arm assigns a name that another arm reads without assigning.
fn arms_conflict(arms: &[Effects]) -> bool {
    arms.iter().enumerate().any(|(a, x)| {
        x.writes.iter().any(|v| {
            arms.iter()
                .enumerate()
                .any(|(b, y)| a != b && y.reads.contains(v) && !y.writes.contains(v))
        })
    })
}

fn stmt_branch_read(s: &Stmt) -> bool {
    let nested = match s {
        Stmt::If { arms, otherwise } => {
            let mut fx: Vec<Effects> = arms.iter().map(|(_, b)| effects(b, None)).collect();
            if let Some(body) = otherwise {
                fx.push(effects(body, None));
            }
            if arms_conflict(&fx) {
                return true;
            }
            arms.iter().any(|(_, b)| b.iter().any(stmt_branch_read))
                || otherwise.iter().flatten().any(stmt_branch_read)
        }
        Stmt::For { body, .. } | Stmt::Block(body) => body.iter().any(stmt_branch_read),
        Stmt::Let { .. } | Stmt::Assign { .. } => false,
    };
    let mut found = nested;
    visit_stmt_shallow(s, &mut |e| found |= expr_branch_read(e));
    found
}

fn expr_branch_read(e: &Expr) -> bool {
    let mut found = false;
    visit_expr(e, &mut |e| {
        if let Expr::If(_, a, b) = e {
            let fx = [block_effects(a), block_effects(b)];
            found |= arms_conflict(&fx) || a.stmts.iter().any(stmt_branch_read);
            found |= b.stmts.iter().any(stmt_branch_read);
        }
    });
    found
}

fn block_effects(b: &Block) -> Effects {
    effects(&b.stmts, Some(&b.tail))
}

/// A call or method whose receiver reads no variable but a loop counter.
fn counter_call(e: &Expr) -> bool {
    let (Expr::Method(_, receiver, None)
    | Expr::Powi(receiver, _)
    | Expr::Powf(receiver, _)
    | Expr::Helper(_, receiver)) = e
    else {
        return false;
    };
    let (mut vars, mut counters) = (false, false);
    visit_expr(receiver, &mut |e| match e {
        Expr::Var(..) => vars = true,
        Expr::Cast(name) if matches!(name.as_str(), "i" | "j" | "l") => counters = true,
        _ => {}
    });
    counters && !vars
}

// ---- traversals ---------------------------------------------------------------------------

/// Calls `f` on every expression of `s`, nested statements included.
fn visit_stmt(s: &Stmt, f: &mut dyn FnMut(&Expr)) {
    visit_stmt_shallow(s, f);
    match s {
        Stmt::If { arms, otherwise } => {
            for s in arms.iter().flat_map(|(_, body)| body) {
                visit_stmt(s, f);
            }
            otherwise.iter().flatten().for_each(|s| visit_stmt(s, f));
        }
        Stmt::For { body, .. } | Stmt::Block(body) => body.iter().for_each(|s| visit_stmt(s, f)),
        Stmt::Let { .. } | Stmt::Assign { .. } => {}
    }
}

/// Calls `f` on the expressions of `s` itself (conditions included), not of nested statements.
fn visit_stmt_shallow(s: &Stmt, f: &mut dyn FnMut(&Expr)) {
    match s {
        Stmt::Let { init: e, .. } | Stmt::Assign { value: e, .. } => visit_expr(e, f),
        Stmt::If { arms, .. } => arms.iter().for_each(|(c, _)| visit_cond(c, f)),
        Stmt::For { .. } | Stmt::Block(_) => {}
    }
}

fn visit_cond(c: &Cond, f: &mut dyn FnMut(&Expr)) {
    match c {
        Cond::Cmp(_, a, b) => {
            visit_expr(a, f);
            visit_expr(b, f);
        }
        Cond::IntCmp(..) | Cond::Flag(_) => {}
        Cond::Not(a) => visit_cond(a, f),
        Cond::And(a, b) | Cond::Or(a, b) => {
            visit_cond(a, f);
            visit_cond(b, f);
        }
    }
}

/// Calls `f` on `e` and every expression inside it, statements of blocks included.
fn visit_expr(e: &Expr, f: &mut dyn FnMut(&Expr)) {
    f(e);
    match e {
        Expr::Var(..) | Expr::Lit(_) | Expr::Typed(_) | Expr::Cast(_) => {}
        Expr::Bin(_, _, a, b) | Expr::Solve(a, b) | Expr::Powf(a, b) | Expr::Map(a, b, _) => {
            visit_expr(a, f);
            visit_expr(b, f);
        }
        Expr::Neg(a)
        | Expr::Inverse(a)
        | Expr::Index(a, ..)
        | Expr::Powi(a, _)
        | Expr::Pow(a, _)
        | Expr::Helper(_, a) => visit_expr(a, f),
        Expr::Method(_, a, arg) => {
            visit_expr(a, f);
            if let Some(arg) = arg {
                visit_expr(arg, f);
            }
        }
        Expr::Call(_, args) => args.iter().for_each(|(a, _)| visit_expr(a, f)),
        Expr::If(c, a, b) => {
            visit_cond(c, f);
            for block in [a, b] {
                block.stmts.iter().for_each(|s| visit_stmt(s, f));
                visit_expr(&block.tail, f);
            }
        }
        Expr::Block(b) => {
            b.stmts.iter().for_each(|s| visit_stmt(s, f));
            visit_expr(&b.tail, f);
        }
    }
}
