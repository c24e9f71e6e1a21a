//! The verifier: checks the invariants every later stage relies on, between passes.
//!
//! For the primal IR, in every nested body: each node's arguments come before it; each
//! parameter index has at most one node (a second one would receive part of a parameter's
//! gradient that nobody reads); a branch's two sides hand back the same number of results of
//! the same shapes, and each `extract` names one of them with its shape. For a [`Plan`], in
//! every nested body: every contribution has its target's shape; every adjoint, shared value
//! and forward value the reverse pass reads is defined before it is read, on the path that
//! reads it (nested bodies see only their own values and their captures); every in-place
//! update updates a declared adjoint; and no adjoint is declared twice.
//!
//! `expand` runs it after `shape` (the primal IR) and after `plan` (each plan) in debug builds
//! and tests, as cranelift runs its verifier; a violation is a bug of the macro, reported as an
//! internal error instead of generated code that would be silently wrong.

use crate::adjoint::AExpr;
use crate::ir::{Op, Program, Shape, ValueId};
use crate::plan::{Forward, Plan, Reverse, Role};
use crate::simplify;

/// Whether the verifier runs: in debug builds of the macro and in its tests.
pub fn enabled() -> bool {
    cfg!(any(test, debug_assertions))
}

/// The violations of the primal IR's invariants in `prog` and every body nested in it.
pub fn program(prog: &Program) -> Vec<String> {
    let mut errors = Vec::new();
    check_program(prog, "", None, &mut errors);
    errors
}

/// `params`: how many parameters the body has, when it is nested (a closure's entry and
/// captures, a branch's captures).
fn check_program(prog: &Program, path: &str, params: Option<usize>, errors: &mut Vec<String>) {
    let mut seen: Vec<usize> = Vec::new();
    for (id, node) in prog.nodes.iter().enumerate() {
        if let Some(&a) = node.args.iter().find(|&&a| a >= id) {
            errors.push(format!("{path}v{id} reads v{a}, which is not before it"));
        }
        match &node.op {
            Op::Param(k) => {
                if seen.contains(k) {
                    errors.push(format!("{path}v{id} is a second node of parameter {k}"));
                }
                seen.push(*k);
                if params.is_some_and(|n| *k >= n) {
                    errors.push(format!(
                        "{path}v{id} reads parameter {k} of a body with fewer"
                    ));
                }
            }
            Op::Map(sub) => {
                let inner = format!("{path}v{id}.map/");
                check_program(sub, &inner, Some(node.args.len()), errors);
            }
            Op::Branch {
                then, otherwise, ..
            } => {
                check_branch(prog, id, then, otherwise, path, errors);
            }
            Op::Extract(k) => {
                let branch = node.args[0];
                if let Op::Branch { then, .. } = &prog.nodes[branch].op {
                    match then.outputs.get(*k) {
                        Some(&out) if then.shape(out) != node.shape => errors.push(format!(
                            "{path}v{id} extracts result {k} as {}, but it is {}",
                            node.shape,
                            then.shape(out)
                        )),
                        None => errors.push(format!(
                            "{path}v{id} extracts result {k} of v{branch}, which has fewer"
                        )),
                        Some(_) => {}
                    }
                } else {
                    errors.push(format!("{path}v{id} extracts from v{branch}, not an `if`"));
                }
            }
            Op::Const(..)
            | Op::Add
            | Op::Accumulate(_)
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
            | Op::Unary(..)
            | Op::Powi(..)
            | Op::Powf
            | Op::Max
            | Op::Min
            | Op::Index(..)
            | Op::SetEntry(..)
            | Op::View { .. }
            | Op::SetView { .. }
            | Op::DiagonalOf
            | Op::Cholesky(_)
            | Op::TriSolve { .. }
            | Op::DiagonalProduct
            | Op::IdentityOf
            | Op::IndexAt(_)
            | Op::Field(..)
            | Op::Extremum(_)
            | Op::Cross
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
            | Op::Call(..) => {}
        }
    }
}

fn check_branch(
    prog: &Program,
    id: ValueId,
    then: &Program,
    otherwise: &Program,
    path: &str,
    errors: &mut Vec<String>,
) {
    let captures = prog.nodes[id].args.len() - 1;
    check_program(then, &format!("{path}v{id}.then/"), Some(captures), errors);
    check_program(
        otherwise,
        &format!("{path}v{id}.else/"),
        Some(captures),
        errors,
    );
    if then.outputs.len() != otherwise.outputs.len() {
        errors.push(format!(
            "{path}v{id}: the branches hand back {} and {} results",
            then.outputs.len(),
            otherwise.outputs.len()
        ));
        return;
    }
    for (k, (&a, &b)) in then.outputs.iter().zip(&otherwise.outputs).enumerate() {
        if then.shape(a) != otherwise.shape(b) {
            errors.push(format!(
                "{path}v{id}: result {k} is {} in one branch and {} in the other",
                then.shape(a),
                otherwise.shape(b)
            ));
        }
    }
}

/// The violations of a plan's invariants, in it and every body nested in it.
pub fn plan(plan: &Plan) -> Vec<String> {
    let mut errors = Vec::new();
    check_plan(plan, "", &mut errors);
    errors
}

/// What the reverse pass of one body has defined so far.
struct Defined {
    /// Forward values bound: parameters, computed values, the given value, `if` results.
    values: Vec<bool>,
    /// Adjoints declared.
    adjoints: Vec<bool>,
    /// Shared values.
    shared: Vec<usize>,
}

fn check_plan(plan: &Plan, path: &str, errors: &mut Vec<String>) {
    let prog = plan.prog;
    let mut defined = Defined {
        values: forward_values(plan, path, errors),
        adjoints: vec![false; prog.nodes.len()],
        shared: Vec::new(),
    };
    for (id, e) in plan.inline_operand.iter().enumerate() {
        if let Some(e) = e {
            check_shape(plan, id, e, path, "inlined", errors);
        }
    }
    for step in &plan.reverse {
        match step {
            Reverse::Share { index, expr } => {
                check_reads(plan, &defined, expr, path, errors);
                check_kinds(plan, expr, path, errors);
                defined.shared.push(*index);
            }
            Reverse::Declare { target, expr, .. } => {
                check_reads(plan, &defined, expr, path, errors);
                check_shape(plan, *target, expr, path, "declared", errors);
                if defined.adjoints[*target] {
                    errors.push(format!("{path}g{target} is declared twice"));
                }
                defined.adjoints[*target] = true;
            }
            Reverse::Update { target, update } => {
                update.for_each_expr(&mut |e| {
                    check_reads(plan, &defined, e, path, errors);
                    check_kinds(plan, e, path, errors);
                });
                if !defined.adjoints[*target] {
                    errors.push(format!("{path}g{target} is updated before it is declared"));
                }
            }
        }
    }
    check_tangents(plan, &defined, path, errors);
    for ((id, role), child) in &plan.children {
        check_plan(child, &format!("{path}v{id}.{role:?}/"), errors);
    }
}

/// Checks the tangent program: every tangent read is a seeded parameter's or defined before it
/// is read (a nested body or call reads only the tangents of active values: the others are
/// zero), every value read is computed, and every tangent has its value's shape.
fn check_tangents(plan: &Plan, defined: &Defined, path: &str, errors: &mut Vec<String>) {
    let prog = plan.prog;
    let mut known: Vec<bool> = prog
        .nodes
        .iter()
        .map(|n| matches!(n.op, Op::Param(k) if plan.config.wrt.contains(&k)))
        .collect();
    let partials: Vec<(ValueId, usize)> = plan
        .forward
        .iter()
        .flat_map(|step| match step {
            Forward::MapPartials(id, inputs) => inputs.iter().map(|&k| (*id, k)).collect(),
            Forward::Value(..)
            | Forward::Factor(..)
            | Forward::FromFactor(..)
            | Forward::TraceDot(..)
            | Forward::Solve(..)
            | Forward::TraceChain(..)
            | Forward::Branch(..) => Vec::new(),
        })
        .collect();
    for (v, e) in &plan.tangent {
        for_each_partial(e, &mut |node, input| {
            if !partials.contains(&(node, input)) {
                errors.push(format!(
                    "{path}d{v} reads ∂{input} of v{node}, not computed"
                ));
            }
        });
        e.for_each_value(prog, &mut |u| {
            if !defined.values[u] {
                errors.push(format!("{path}d{v} reads v{u}, which is not computed"));
            }
        });
        e.for_each_tangent(prog, &mut |u| {
            if plan.tangent_active[u] && !known[u] {
                errors.push(format!("{path}d{v} reads d{u} before it is defined"));
            }
        });
        let (expected, actual) = (prog.shape(*v), simplify::shape(prog, &plan.adj, e));
        if expected != Shape::Tuple && actual != expected {
            errors.push(format!(
                "{path}d{v} is {expected}, but its value {e} is {actual}"
            ));
        }
        check_kinds(plan, e, path, errors);
        known[*v] = true;
    }
}

/// The values the forward pass binds, checking that each statement reads only values bound
/// before it.
fn forward_values(plan: &Plan, path: &str, errors: &mut Vec<String>) -> Vec<bool> {
    let prog = plan.prog;
    let mut bound: Vec<bool> = prog
        .nodes
        .iter()
        .enumerate()
        .map(|(id, n)| {
            matches!(n.op, Op::Param(_) | Op::Field(..)) || plan.config.given == Some(id)
        })
        .collect();
    for step in &plan.forward {
        let (id, reads): (ValueId, Vec<ValueId>) = match step {
            Forward::Factor(a) => (*a, vec![*a]),
            Forward::TraceDot(id) => (*id, prog.nodes[prog.nodes[*id].args[0]].args.clone()),
            Forward::Value(id)
            | Forward::FromFactor(id)
            | Forward::Solve(id)
            | Forward::TraceChain(id, _)
            | Forward::Branch(id)
            | Forward::MapPartials(id, _) => (*id, prog.nodes[*id].args.clone()),
        };
        if let Some(a) = reads.iter().find(|&&a| !bound[a]) {
            errors.push(format!(
                "{path}the forward pass reads v{a} before it is computed"
            ));
        }
        match step {
            Forward::Factor(_) => {}
            Forward::Branch(id) => {
                bound[*id] = true;
                for (v, node) in prog.nodes.iter().enumerate() {
                    if matches!(node.op, Op::Extract(_)) && node.args == [*id] {
                        bound[v] = true;
                    }
                }
            }
            Forward::Value(..)
            | Forward::FromFactor(..)
            | Forward::TraceDot(..)
            | Forward::Solve(..)
            | Forward::TraceChain(..)
            | Forward::MapPartials(..) => bound[id] = true,
        }
    }
    bound
}

fn for_each_partial(e: &AExpr, f: &mut dyn FnMut(ValueId, usize)) {
    if let AExpr::Partial { node, input } = e {
        f(*node, *input);
    }
    for child in e.children() {
        for_each_partial(child, f);
    }
}

/// Checks that every adjoint, shared value and forward value `e` reads is defined.
fn check_reads(plan: &Plan, defined: &Defined, e: &AExpr, path: &str, errors: &mut Vec<String>) {
    e.for_each_value(plan.prog, &mut |v| {
        if !defined.values[v] {
            errors.push(format!(
                "{path}the reverse pass reads v{v}, which is not computed"
            ));
        }
    });
    e.for_each_adjoint(&mut |v| match &plan.inline_operand[v] {
        Some(inlined) => check_reads(plan, defined, inlined, path, errors),
        None if !defined.adjoints[v] => {
            errors.push(format!(
                "{path}the reverse pass reads g{v} before it is declared"
            ));
        }
        None => {}
    });
    check_shared(defined, e, path, errors);
    if let AExpr::MapAdj { node, input } = e
        && !plan
            .children
            .contains_key(&(*node, Role::MapAdjoint(*input)))
    {
        errors.push(format!(
            "{path}the derivative of map v{node} is not planned"
        ));
    }
}

fn check_shared(defined: &Defined, e: &AExpr, path: &str, errors: &mut Vec<String>) {
    if let AExpr::Shared(k) | AExpr::Field { tuple: k, .. } = e
        && !defined.shared.contains(k)
    {
        errors.push(format!(
            "{path}the reverse pass reads t{k} before it is shared"
        ));
    }
    for child in e.children() {
        check_shared(defined, child, path, errors);
    }
}

/// Checks that a contribution to the adjoint of `target` has `target`'s shape.
fn check_shape(
    plan: &Plan,
    target: ValueId,
    e: &AExpr,
    path: &str,
    what: &str,
    errors: &mut Vec<String>,
) {
    let expected = plan.prog.shape(target);
    let actual = simplify::shape(plan.prog, &plan.adj, e);
    let comparable = !matches!(expected, Shape::Tuple | Shape::Bool | Shape::Poison);
    if comparable && actual != expected {
        errors.push(format!(
            "{path}g{target} is {expected}, but its {what} value {e} is {actual}"
        ));
    }
    check_kinds(plan, e, path, errors);
}

/// Checks the operand kinds of every sub-expression of `e`: `Mul` and `Div` of scalars,
/// `Scale` and `DivBy` of a matrix by a scalar, `MatMul` of matrices whose inner sizes agree,
/// `Add`, `Sub`, `Dot` and the entrywise products of equal shapes. The printer writes each
/// kind as a different Rust expression, so a wrong kind is a program that does not compile or
/// computes something else.
fn check_kinds(plan: &Plan, e: &AExpr, path: &str, errors: &mut Vec<String>) {
    let shape = |x: &AExpr| simplify::shape(plan.prog, &plan.adj, x);
    let known = |s: Shape| !matches!(s, Shape::Tuple | Shape::Bool | Shape::Poison);
    let wrong = match e {
        AExpr::Mul(a, b) | AExpr::Div(a, b) => {
            let (a, b) = (shape(a), shape(b));
            known(a) && known(b) && (a.is_matrix() || b.is_matrix())
        }
        AExpr::Scale(m, s) | AExpr::DivBy(m, s) => {
            let (m, s) = (shape(m), shape(s));
            known(m) && known(s) && (!m.is_matrix() || s.is_matrix())
        }
        AExpr::MatMul(a, b) => match (shape(a), shape(b)) {
            (Shape::Matrix(_, k), Shape::Matrix(l, _)) => k != l,
            (a, b) => known(a) && known(b),
        },
        AExpr::Add(a, b)
        | AExpr::Sub(a, b)
        | AExpr::Dot(a, b)
        | AExpr::ComponentMul(a, b)
        | AExpr::ComponentDiv(a, b) => {
            let (a, b) = (shape(a), shape(b));
            known(a) && known(b) && a != b
        }
        AExpr::Adj(..)
        | AExpr::Val(..)
        | AExpr::Lit(..)
        | AExpr::Cast(..)
        | AExpr::Neg(..)
        | AExpr::Transpose(..)
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
        | AExpr::Tan(..)
        | AExpr::Trace(..)
        | AExpr::Sum(..)
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
        | AExpr::Shared(..)
        | AExpr::AdjTan(_)
        | AExpr::SharedTan(_)
        | AExpr::DeterminantGradient { .. }
        | AExpr::SolveTransposed { .. }
        | AExpr::KroneckerAdjoint { .. }
        | AExpr::KroneckerAdjointOf { .. }
        | AExpr::Seed(..)
        | AExpr::BranchAdjoint { .. }
        | AExpr::BranchAdjTan { .. }
        | AExpr::CallAdjoint { .. }
        | AExpr::CallAdjTan { .. }
        | AExpr::Field { .. }
        | AExpr::Window { .. }
        | AExpr::PowerAdjoint { .. }
        | AExpr::PowerAdjointTangent { .. } => false,
    };
    if wrong {
        errors.push(format!("{path}operands of the wrong kinds in {e}"));
    }
    for child in e.children() {
        check_kinds(plan, child, path, errors);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{Loc, Node};

    fn node(op: Op, args: Vec<ValueId>, shape: Shape) -> Node {
        Node {
            op,
            args,
            shape,
            loc: Loc::of(&quote::quote!(x)),
            text: String::new(),
            name: None,
        }
    }

    #[test]
    fn a_second_node_of_a_parameter_is_reported() {
        let mut prog = Program::default();
        prog.nodes.push(node(Op::Param(0), vec![], Shape::Scalar));
        prog.nodes.push(node(Op::Param(0), vec![], Shape::Scalar));
        prog.nodes.push(node(Op::Add, vec![0, 1], Shape::Scalar));
        prog.output = Some(2);
        let errors = program(&prog);
        assert_eq!(errors, ["v1 is a second node of parameter 0"]);
    }

    #[test]
    fn an_argument_after_its_user_is_reported() {
        let mut prog = Program::default();
        prog.nodes.push(node(Op::Param(0), vec![], Shape::Scalar));
        prog.nodes.push(node(Op::Neg, vec![2], Shape::Scalar));
        prog.nodes.push(node(Op::Neg, vec![0], Shape::Scalar));
        prog.output = Some(1);
        assert_eq!(program(&prog), ["v1 reads v2, which is not before it"]);
    }

    #[test]
    fn branches_with_different_results_are_reported() {
        let mut then = Program::default();
        then.nodes.push(node(Op::Param(0), vec![], Shape::Scalar));
        then.outputs = vec![0, 0];
        let mut otherwise = Program::default();
        otherwise
            .nodes
            .push(node(Op::Param(0), vec![], Shape::Scalar));
        otherwise.outputs = vec![0];
        let mut prog = Program::default();
        prog.nodes.push(node(
            Op::BoolConst(quote::quote!(true)),
            vec![],
            Shape::Bool,
        ));
        prog.nodes.push(node(Op::Param(0), vec![], Shape::Scalar));
        let branch = Op::Branch {
            then: Box::new(then),
            otherwise: Box::new(otherwise),
            over: None,
        };
        prog.nodes.push(node(branch, vec![0, 1], Shape::Tuple));
        prog.nodes
            .push(node(Op::Extract(0), vec![2], Shape::Scalar));
        prog.output = Some(3);
        assert_eq!(
            program(&prog),
            ["v2: the branches hand back 2 and 1 results"]
        );
    }
}
