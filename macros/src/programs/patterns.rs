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
//!
//! [`neutralize`] rewrites a program into an equivalent one without these shapes: a batch run
//! with it tells which failures the known bugs explain.

use std::collections::BTreeSet;

use super::{Block, Cond, Expr, Mix, Program, Stmt};

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

/// Rewrites `p` so that it computes the same function without the known bug patterns: an arm
/// that reads a variable another arm assigns first assigns it to itself (`t = t;`), and a
/// call on loop counters only gets a zero term that reads a parameter (`(i as f64 + x[0] *
/// 0.0).sin()`). A failure that this makes pass is one of the known bugs.
pub(super) fn neutralize(p: &mut Program) {
    for f in p.callees.iter_mut().chain(std::iter::once(&mut p.main)) {
        // Every function has a vector parameter: `x` in programs, `u` in the functions they call.
        let anchor = if f.params.iter().any(|q| q.name == "x") {
            "x"
        } else {
            "u"
        };
        for s in &mut f.body {
            fix_stmt(s, anchor);
        }
        fix_expr(&mut f.tail, anchor);
    }
}

fn fix_stmt(s: &mut Stmt, anchor: &str) {
    match s {
        Stmt::Let { init: e, .. } | Stmt::Assign { value: e, .. } => fix_expr(e, anchor),
        Stmt::If { arms, otherwise } => {
            for (c, body) in arms.iter_mut() {
                fix_cond(c, anchor);
                for s in body.iter_mut() {
                    fix_stmt(s, anchor);
                }
            }
            otherwise
                .iter_mut()
                .flatten()
                .for_each(|s| fix_stmt(s, anchor));
            let mut fx: Vec<Effects> = arms.iter().map(|(_, b)| effects(b, None)).collect();
            if let Some(body) = otherwise {
                fx.push(effects(body, None));
            }
            let names = conflicts(&fx);
            for (k, (_, body)) in arms.iter_mut().enumerate() {
                reassign(body, &names[k]);
            }
            if let Some(body) = otherwise {
                reassign(body, &names[arms.len()]);
            }
        }
        Stmt::For { body, .. } | Stmt::Block(body) | Stmt::Data { body, .. } => {
            for s in body.iter_mut() {
                fix_stmt(s, anchor);
            }
        }
    }
}

fn fix_cond(c: &mut Cond, anchor: &str) {
    match c {
        Cond::Cmp(_, a, b) => {
            fix_expr(a, anchor);
            fix_expr(b, anchor);
        }
        Cond::IntCmp(..) | Cond::Flag(_) => {}
        Cond::Not(a) => fix_cond(a, anchor),
        Cond::And(a, b) | Cond::Or(a, b) => {
            fix_cond(a, anchor);
            fix_cond(b, anchor);
        }
    }
}

fn fix_block(b: &mut Block, anchor: &str) {
    b.stmts.iter_mut().for_each(|s| fix_stmt(s, anchor));
    fix_expr(&mut b.tail, anchor);
}

fn fix_expr(e: &mut Expr, anchor: &str) {
    if counter_call(e) {
        let (Expr::Method(_, r, None) | Expr::Powi(r, _) | Expr::Powf(r, _) | Expr::Helper(_, r)) =
            e
        else {
            unreachable!("a counter call has a receiver")
        };
        let entry = Expr::Index(
            Box::new(Expr::Var(anchor.into(), true)),
            super::Idx::Lit(0),
            None,
        );
        let zero = Expr::Bin('*', Mix::Same, Box::new(entry), Box::new(Expr::Lit(0.0)));
        let old = std::mem::replace(&mut **r, Expr::Lit(0.0));
        **r = Expr::Bin('+', Mix::Same, Box::new(old), Box::new(zero));
    }
    match e {
        Expr::Var(..)
        | Expr::Deref(_)
        | Expr::Zeros(_)
        | Expr::Lit(_)
        | Expr::Typed(_)
        | Expr::Cast(_) => {}
        Expr::Bin(_, _, a, b) | Expr::Solve(a, b) | Expr::Powf(a, b) | Expr::Map(a, b, _) => {
            fix_expr(a, anchor);
            fix_expr(b, anchor);
        }
        Expr::Neg(a)
        | Expr::Inverse(a)
        | Expr::Index(a, ..)
        | Expr::Powi(a, _)
        | Expr::Pow(a, _)
        | Expr::Helper(_, a) => fix_expr(a, anchor),
        Expr::Method(_, a, arg) => {
            fix_expr(a, anchor);
            if let Some(arg) = arg {
                fix_expr(arg, anchor);
            }
        }
        Expr::Call(_, args) => args.iter_mut().for_each(|(a, _)| fix_expr(a, anchor)),
        Expr::If(c, a, b) => {
            fix_cond(c, anchor);
            fix_block(a, anchor);
            fix_block(b, anchor);
            let names = conflicts(&[block_effects(a), block_effects(b)]);
            reassign(&mut a.stmts, &names[0]);
            reassign(&mut b.stmts, &names[1]);
        }
        Expr::Block(b) => fix_block(b, anchor),
    }
}

/// Puts `name = name;` first in the arm for each name: there the name is the outer variable
/// whatever the arm declares later.
fn reassign(body: &mut Vec<Stmt>, names: &BTreeSet<String>) {
    for name in names.iter().rev() {
        body.insert(
            0,
            Stmt::Assign {
                name: name.clone(),
                op: "=",
                value: Expr::Var(name.clone(), false),
            },
        );
    }
}

/// What an arm reads, and which outer variables it assigns: an assignment counts when no `let`
/// of the arm has declared the name before it (in source order).
#[derive(Default)]
struct Effects {
    reads: BTreeSet<String>,
    writes: BTreeSet<String>,
}

fn effects(stmts: &[Stmt], tail: Option<&Expr>) -> Effects {
    let mut fx = Effects::default();
    let mut declared = BTreeSet::new();
    for s in stmts {
        walk_stmt(s, &mut fx, &mut declared);
    }
    if let Some(e) = tail {
        walk_expr(e, &mut fx, &mut declared);
    }
    fx
}

/// Adds the reads and outer assignments of `s`, those in blocks of its expressions included.
fn walk_stmt(s: &Stmt, fx: &mut Effects, declared: &mut BTreeSet<String>) {
    match s {
        Stmt::Let { name, init, .. } => {
            walk_expr(init, fx, declared);
            declared.insert(name.clone());
        }
        Stmt::Assign { name, value, .. } => {
            walk_expr(value, fx, declared);
            if !declared.contains(name) {
                fx.writes.insert(name.clone());
            }
        }
        Stmt::If { arms, otherwise } => {
            for (c, body) in arms {
                visit_cond(c, &mut |e| walk_expr(e, fx, declared));
                for s in body {
                    walk_stmt(s, fx, declared);
                }
            }
            for s in otherwise.iter().flatten() {
                walk_stmt(s, fx, declared);
            }
        }
        Stmt::For { body, .. } | Stmt::Block(body) | Stmt::Data { body, .. } => {
            for s in body {
                walk_stmt(s, fx, declared);
            }
        }
    }
}

/// Adds the reads of `e` and the outer assignments in the blocks inside it.
fn walk_expr(e: &Expr, fx: &mut Effects, declared: &mut BTreeSet<String>) {
    visit_expr(e, &mut |e| read(e, fx));
    let mut blocks: Vec<&Block> = Vec::new();
    collect_blocks(e, &mut blocks);
    for b in blocks {
        for s in &b.stmts {
            walk_stmt(s, fx, declared);
        }
    }
}

/// The blocks of the `if` and block expressions directly inside `e` (not inside their statements).
fn collect_blocks<'e>(e: &'e Expr, out: &mut Vec<&'e Block>) {
    match e {
        Expr::If(_, a, b) => {
            out.push(a);
            out.push(b);
            collect_blocks(&a.tail, out);
            collect_blocks(&b.tail, out);
        }
        Expr::Block(b) => {
            out.push(b);
            collect_blocks(&b.tail, out);
        }
        Expr::Var(..)
        | Expr::Deref(_)
        | Expr::Zeros(_)
        | Expr::Lit(_)
        | Expr::Typed(_)
        | Expr::Cast(_) => {}
        Expr::Bin(_, _, a, b) | Expr::Solve(a, b) | Expr::Powf(a, b) | Expr::Map(a, b, _) => {
            collect_blocks(a, out);
            collect_blocks(b, out);
        }
        Expr::Neg(a)
        | Expr::Inverse(a)
        | Expr::Index(a, ..)
        | Expr::Powi(a, _)
        | Expr::Pow(a, _)
        | Expr::Helper(_, a) => collect_blocks(a, out),
        Expr::Method(_, a, arg) => {
            collect_blocks(a, out);
            if let Some(arg) = arg {
                collect_blocks(arg, out);
            }
        }
        Expr::Call(_, args) => args.iter().for_each(|(a, _)| collect_blocks(a, out)),
    }
}

fn read(e: &Expr, fx: &mut Effects) {
    if let Expr::Var(name, _) | Expr::Deref(name) = e {
        fx.reads.insert(name.clone());
    }
}

/// For each arm, the outer names another arm assigns and this one reads without assigning.
fn conflicts(arms: &[Effects]) -> Vec<BTreeSet<String>> {
    arms.iter()
        .enumerate()
        .map(|(b, y)| {
            arms.iter()
                .enumerate()
                .filter(|&(a, _)| a != b)
                .flat_map(|(_, x)| x.writes.iter())
                .filter(|v| y.reads.contains(*v) && !y.writes.contains(*v))
                .cloned()
                .collect()
        })
        .collect()
}

fn stmt_branch_read(s: &Stmt) -> bool {
    let mut found = false;
    visit_every_stmt(s, &mut |s| {
        if let Stmt::If { arms, otherwise } = s {
            let mut fx: Vec<Effects> = arms.iter().map(|(_, b)| effects(b, None)).collect();
            if let Some(body) = otherwise {
                fx.push(effects(body, None));
            }
            found |= conflicts(&fx).iter().any(|names| !names.is_empty());
        }
    });
    visit_stmt(s, &mut |e| found |= expr_if_conflict(e));
    found
}

/// Calls `f` on `s` and on every statement inside it, in blocks of its expressions too.
fn visit_every_stmt(s: &Stmt, f: &mut dyn FnMut(&Stmt)) {
    f(s);
    let mut blocks = Vec::new();
    match s {
        Stmt::Let { init: e, .. } | Stmt::Assign { value: e, .. } => collect_blocks(e, &mut blocks),
        Stmt::If { arms, otherwise } => {
            for (c, body) in arms {
                cond_blocks(c, &mut blocks);
                for s in body {
                    visit_every_stmt(s, f);
                }
            }
            for s in otherwise.iter().flatten() {
                visit_every_stmt(s, f);
            }
        }
        Stmt::For { body, .. } | Stmt::Block(body) | Stmt::Data { body, .. } => {
            for s in body {
                visit_every_stmt(s, f);
            }
        }
    }
    for s in blocks.iter().flat_map(|b| &b.stmts) {
        visit_every_stmt(s, f);
    }
}

fn cond_blocks<'e>(c: &'e Cond, out: &mut Vec<&'e Block>) {
    match c {
        Cond::Cmp(_, a, b) => {
            collect_blocks(a, out);
            collect_blocks(b, out);
        }
        Cond::IntCmp(..) | Cond::Flag(_) => {}
        Cond::Not(a) => cond_blocks(a, out),
        Cond::And(a, b) | Cond::Or(a, b) => {
            cond_blocks(a, out);
            cond_blocks(b, out);
        }
    }
}

fn expr_branch_read(e: &Expr) -> bool {
    let mut found = false;
    visit_expr(e, &mut |e| found |= expr_if_conflict(e));
    found
}

/// Whether `e` is an `if` expression whose arms conflict (its nested statements are visited
/// on their own).
fn expr_if_conflict(e: &Expr) -> bool {
    match e {
        Expr::If(_, a, b) => conflicts(&[block_effects(a), block_effects(b)])
            .iter()
            .any(|names| !names.is_empty()),
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
        | Expr::Block(_) => false,
    }
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
        Expr::Var(..) | Expr::Deref(_) => vars = true,
        Expr::Cast(name) if matches!(name.as_str(), "i" | "j" | "l") => counters = true,
        Expr::Lit(_)
        | Expr::Zeros(_)
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
        | Expr::Block(_) => {}
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
        Stmt::For { body, .. } | Stmt::Block(body) | Stmt::Data { body, .. } => {
            for s in body {
                visit_stmt(s, f);
            }
        }
        Stmt::Let { .. } | Stmt::Assign { .. } => {}
    }
}

/// Calls `f` on the expressions of `s` itself (conditions included), not of nested statements.
fn visit_stmt_shallow(s: &Stmt, f: &mut dyn FnMut(&Expr)) {
    match s {
        Stmt::Let { init: e, .. } | Stmt::Assign { value: e, .. } => visit_expr(e, f),
        Stmt::If { arms, .. } => arms.iter().for_each(|(c, _)| visit_cond(c, f)),
        Stmt::For { .. } | Stmt::Block(_) | Stmt::Data { .. } => {}
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
        Expr::Var(..)
        | Expr::Deref(_)
        | Expr::Zeros(_)
        | Expr::Lit(_)
        | Expr::Typed(_)
        | Expr::Cast(_) => {}
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

#[test]
fn neutralized_programs_show_no_known_pattern() {
    let mut tagged = 0;
    for k in 0..200 {
        let mut p = super::draw::program(3, k);
        tagged += usize::from(!tags(&p).is_empty());
        neutralize(&mut p);
        assert_eq!(
            tags(&p),
            Vec::<&str>::new(),
            "program {k} after the rewrite"
        );
    }
    assert!(
        tagged > 0,
        "the seed should show the patterns before the rewrite"
    );
}
