//! Shape inference: gives every value of a [`Program`] its [`Shape`] before any code exists.
//!
//! Walks the nodes in order. A mismatch is reported on the smallest offending expression,
//! naming both shapes and the rule that was broken; the node is then poisoned so nothing that
//! depends on it reports again. When this pass reports nothing, every rule in `rules` can rely
//! on its operands having the shapes its identity assumes. Runs after `lower`, before `diff`.

use crate::ctxt::Ctxt;
use crate::ir::{Build, Dim, Func, Node, Op, Program, Shape, ValueId};
use crate::types::Float;

/// Infers the shapes of `prog`, whose parameter `k` has shape `params[k]`.
pub fn infer(cx: &Ctxt, prog: &mut Program, params: &[Shape], float: Float) {
    for id in 0..prog.nodes.len() {
        // `m.abs()` of a matrix is nalgebra's entrywise absolute value: a map of `abs`.
        if let Op::Unary(Func::Abs) = prog.nodes[id].op
            && prog.shape(prog.nodes[id].args[0]).is_matrix()
        {
            let loc = prog.nodes[id].loc;
            let mut sub = Program::default();
            let v = sub.push(Op::Param(0), Vec::new(), loc, "v".into());
            sub.output = Some(sub.push(Op::Unary(Func::Abs), vec![v], loc, "|v|".into()));
            prog.nodes[id].op = Op::Map(Box::new(sub));
        }
        let shape = node_shape(cx, prog, id, params, float);
        prog.nodes[id].shape = shape;
        // `v[i]` reads row i of a column vector and column i of a row vector.
        if let Op::Index(i, usize::MAX) = prog.nodes[id].op
            && let Shape::Matrix(rows, _) = prog.shape(prog.nodes[id].args[0])
            && shape != Shape::Poison
        {
            prog.nodes[id].op = if rows == Dim::Lit(1) {
                Op::Index(0, i)
            } else {
                Op::Index(i, 0)
            };
        }
        if let Op::SetEntry(i, usize::MAX) = prog.nodes[id].op
            && let Shape::Matrix(rows, _) = prog.shape(prog.nodes[id].args[0])
            && shape != Shape::Poison
        {
            prog.nodes[id].op = if rows == Dim::Lit(1) {
                Op::SetEntry(0, i)
            } else {
                Op::SetEntry(i, 0)
            };
        }
    }
    for a in &prog.annotations {
        let actual = prog.shape(a.value);
        if actual != Shape::Poison && actual != a.shape {
            cx.push(a.loc.error(format!(
                "`let {}: {}` declares {}, but the value is {}",
                a.name,
                a.ty,
                describe(a.shape),
                describe(actual)
            )));
        }
    }
}

/// Checks that the program's result has the function's return shape.
pub fn check_output(cx: &Ctxt, prog: &Program, func: &crate::ast::Func) {
    let Some(out) = prog.output else { return };
    let node = &prog.nodes[out];
    let Some(expected) = func.ret.shape() else {
        return;
    };
    if node.shape == Shape::Poison || node.shape == expected {
        return;
    }
    let message = if expected.is_scalar() {
        format!(
            "the function returns `{}`, but its body evaluates to a {} matrix; \
             reduce it to a scalar, e.g. with `.sum()`, `.norm_squared()` or `[(0, 0)]`",
            func.float, node.shape
        )
    } else {
        format!(
            "the function returns a {expected} matrix, but its body evaluates to {}",
            node.shape
        )
    };
    cx.push(node.loc.error(message));
}

/// `max` and `min` compare scalars; a matrix is taken entry by entry with `.map`.
fn piecewise(prog: &Program, node: &Node) -> Result<Shape, String> {
    let name = if matches!(node.op, Op::Max) {
        "max"
    } else {
        "min"
    };
    let shape = |k: usize| prog.shape(node.args[k]);
    match (0..2).find(|&k| shape(k).is_matrix()) {
        Some(k) => Err(format!(
            "`{name}` is supported on scalars, but `{}` is {}; for a matrix take it entry by \
             entry with `.map(|v| v.{name}(…))`",
            operand(prog, node, k),
            shape(k)
        )),
        None => Ok(Shape::Scalar),
    }
}

/// "3×4", or "a scalar".
fn describe(shape: Shape) -> String {
    shape.to_string()
}

fn node_shape(cx: &Ctxt, prog: &mut Program, id: ValueId, params: &[Shape], float: Float) -> Shape {
    if prog.nodes[id]
        .args
        .iter()
        .any(|&a| prog.nodes[a].shape == Shape::Poison)
    {
        return Shape::Poison;
    }
    if matches!(prog.nodes[id].op, Op::Map(_)) {
        return map(cx, prog, id, float);
    }
    if matches!(prog.nodes[id].op, Op::Branch { .. }) {
        return branch(cx, prog, id, float);
    }
    if let Some(message) = misused_condition(prog, id) {
        cx.push(prog.nodes[id].loc.error(message));
        return Shape::Poison;
    }
    let node = &prog.nodes[id];
    let arg = |k: usize| prog.nodes[node.args[k]].shape;
    let result = match &node.op {
        Op::Param(k) => Ok(params.get(*k).copied().unwrap_or(Shape::Poison)),
        // A trace chain is made by `fuse`, after this pass; it is a scalar like a constant.
        Op::Const(_) | Op::TraceChain(_) => Ok(Shape::Scalar),
        Op::Add | Op::Sub => same_shape(
            prog,
            node,
            if matches!(node.op, Op::Add) { "+" } else { "-" },
        ),
        Op::Accumulate(_) => accumulated(prog, node),
        Op::Mul => product(prog, node),
        Op::Div => quotient(prog, node),
        Op::Neg => Ok(arg(0)),
        Op::Transpose => match arg(0) {
            Shape::Matrix(r, c) => Ok(Shape::Matrix(c, r)),
            Shape::Scalar | Shape::Bool | Shape::Tuple | Shape::Poison => {
                Err(needs_matrix(prog, node, "transpose"))
            }
        },
        Op::Trace => square(prog, node, "trace").map(|()| Shape::Scalar),
        Op::Sum | Op::Mean | Op::Norm | Op::NormSquared => {
            if arg(0).is_matrix() {
                Ok(Shape::Scalar)
            } else {
                Err(needs_matrix(prog, node, method_name(&node.op)))
            }
        }
        Op::Dot | Op::ComponentMul | Op::ComponentDiv => elementwise(prog, node),
        Op::Map(_) => Ok(Shape::Poison),
        Op::Unary(f) => scalar_only(prog, node, f.name(), f.is_helper()),
        Op::Powi(_) => scalar_only(prog, node, "powi", false),
        Op::Max | Op::Min => piecewise(prog, node),
        Op::Powf => {
            if arg(1).is_matrix() {
                Err(format!(
                    "the exponent of `powf` must be a scalar, but `{}` is {}",
                    operand(prog, node, 1),
                    arg(1)
                ))
            } else {
                scalar_only(prog, node, "powf", false)
            }
        }
        Op::Index(i, j) => index(prog, node, *i, *j),
        Op::SetEntry(i, j) => set_entry(prog, node, *i, *j),
        Op::View { .. } | Op::SetView { .. } => blocks(prog, node),
        Op::DiagonalOf | Op::Extremum(_) => reduction(prog, node),
        Op::Cholesky(_) | Op::IdentityOf | Op::DiagonalProduct | Op::TriSolve { .. } => {
            factorisation(prog, node)
        }
        Op::IndexAt(at) => index_at(prog, node, at),
        Op::Field(_, shape) => Ok(*shape),
        Op::Cross => cross(prog, node),
        Op::Inverse(_) => square(prog, node, "try_inverse").map(|()| arg(0)),
        Op::Determinant => square(prog, node, "determinant").map(|()| Shape::Scalar),
        Op::MatrixPower(_) => square(prog, node, "pow").map(|()| arg(0)),
        Op::Solve(_) => solve(prog, node),
        Op::Kronecker => kronecker(prog, node),
        Op::Build { kind, rows, cols } => build(prog, node, *kind, *rows, *cols),
        Op::Compare(c) => {
            if arg(0).is_scalar() && arg(1).is_scalar() {
                Ok(Shape::Bool)
            } else {
                Err(mismatch(
                    prog,
                    node,
                    &format!("`{}` compares two scalars", c.symbol()),
                ))
            }
        }
        Op::Not | Op::And | Op::Or | Op::BoolConst(_) => Ok(Shape::Bool),
        Op::Branch { .. } => Ok(Shape::Tuple),
        Op::Call(site) => Ok(site.result),
        Op::Extract(k) => Ok(extracted(&prog.nodes[node.args[0]].op, *k)),
    };
    match result {
        Ok(shape) => shape,
        Err(message) => {
            cx.push(node.loc.error(message));
            Shape::Poison
        }
    }
}

/// The text of argument `k` of `node`.
fn operand<'a>(prog: &'a Program, node: &Node, k: usize) -> &'a str {
    &prog.nodes[node.args[k]].text
}

/// The shape of result `k` of the `if` node `op`, or `Poison` when `op` is not an `if`.
fn extracted(op: &Op, k: usize) -> Shape {
    match op {
        Op::Branch { then, .. } => then
            .outputs
            .get(k)
            .map_or(Shape::Poison, |&o| then.shape(o)),
        Op::Param(..)
        | Op::Const(..)
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
        | Op::Map(..)
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
        | Op::Extract(..)
        | Op::Call(..) => Shape::Poison,
    }
}

fn method_name(op: &Op) -> &'static str {
    match op {
        Op::Sum => "sum",
        Op::Mean => "mean",
        Op::Norm => "norm",
        Op::NormSquared => "norm_squared",
        Op::Dot => "dot",
        Op::ComponentMul => "component_mul",
        Op::ComponentDiv => "component_div",
        Op::Param(..)
        | Op::Const(..)
        | Op::Add
        | Op::Accumulate(_)
        | Op::Sub
        | Op::Mul
        | Op::Div
        | Op::Neg
        | Op::Transpose
        | Op::Trace
        | Op::Map(..)
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
        | Op::Branch { .. }
        | Op::Extract(..)
        | Op::Call(..) => "this operation",
    }
}

fn needs_matrix(prog: &Program, node: &Node, what: &str) -> String {
    let arg = &prog.nodes[node.args[0]];
    if let Op::Call(site) = &arg.op {
        return format!(
            "`{what}` needs a matrix, but `{}` is taken to be a scalar: `#[gradient]` cannot see the signature of `{}`, \
             so annotate a matrix result, as in `let h: SVector<f64, 4> = {};`",
            arg.text,
            crate::text::tokens(&site.path),
            arg.text
        );
    }
    format!("`{what}` needs a matrix, but `{}` is a scalar", arg.text)
}

fn scalar_only(prog: &Program, node: &Node, name: &str, helper: bool) -> Result<Shape, String> {
    let a = prog.nodes[node.args[0]].shape;
    if a.is_scalar() {
        return Ok(Shape::Scalar);
    }
    let elementwise = if helper {
        format!(".map({name})")
    } else {
        format!(".map(|v| v.{name}(…))")
    };
    Err(format!(
        "`{name}` applies to scalars, but `{}` is {a}; use `{elementwise}` to apply it to every entry",
        operand(prog, node, 0)
    ))
}

fn mismatch(prog: &Program, node: &Node, rule: &str) -> String {
    let (a, b) = (node.args[0], node.args[1]);
    format!(
        "shape mismatch in `{}`: `{}` is {} and `{}` is {}; {rule}",
        node.text, prog.nodes[a].text, prog.nodes[a].shape, prog.nodes[b].text, prog.nodes[b].shape
    )
}

/// A variable and what a loop over data adds to it: every term has the variable's shape.
fn accumulated(prog: &Program, node: &Node) -> Result<Shape, String> {
    let target = prog.shape(node.args[0]);
    for &term in &node.args[1..] {
        let shape = prog.shape(term);
        if shape != target && shape != Shape::Poison && target != Shape::Poison {
            return Err(format!(
                "this loop over data adds {shape} to `{}`, which is {target}; what a sample adds \
                 must have the variable's shape",
                prog.nodes[node.args[0]].text
            ));
        }
    }
    Ok(target)
}

fn same_shape(prog: &Program, node: &Node, symbol: &str) -> Result<Shape, String> {
    let (a, b) = (prog.shape(node.args[0]), prog.shape(node.args[1]));
    if a == b {
        return Ok(a);
    }
    if a.is_scalar() || b.is_scalar() {
        return Err(mismatch(
            prog,
            node,
            &format!(
                "`{symbol}` of a scalar and a matrix is not defined; both sides must be scalars or matrices of the same shape"
            ),
        ));
    }
    Err(mismatch(
        prog,
        node,
        &format!("`{symbol}` needs both sides to have the same shape"),
    ))
}

fn product(prog: &Program, node: &Node) -> Result<Shape, String> {
    match (prog.shape(node.args[0]), prog.shape(node.args[1])) {
        (Shape::Matrix(m, k), Shape::Matrix(k2, n)) => {
            if k == k2 {
                Ok(Shape::Matrix(m, n))
            } else {
                Err(mismatch(
                    prog,
                    node,
                    &format!(
                        "a product needs the left's {k} columns to match the right's {k2} rows"
                    ),
                ))
            }
        }
        (Shape::Scalar, other) | (other, Shape::Scalar) => Ok(other),
        _ => Ok(Shape::Poison),
    }
}

fn quotient(prog: &Program, node: &Node) -> Result<Shape, String> {
    match prog.shape(node.args[1]) {
        Shape::Scalar => Ok(prog.shape(node.args[0])),
        Shape::Matrix(..) | Shape::Bool | Shape::Tuple | Shape::Poison => Err(mismatch(
            prog,
            node,
            "`/` divides by a scalar; use `.component_div(&…)` to divide entry by entry",
        )),
    }
}

fn elementwise(prog: &Program, node: &Node) -> Result<Shape, String> {
    let name = method_name(&node.op);
    let (a, b) = (prog.shape(node.args[0]), prog.shape(node.args[1]));
    if !a.is_matrix() || !b.is_matrix() {
        return Err(mismatch(
            prog,
            node,
            &format!("`{name}` needs two matrices of the same shape"),
        ));
    }
    if a != b {
        return Err(mismatch(
            prog,
            node,
            &format!("`{name}` needs both operands to have the same shape"),
        ));
    }
    Ok(if matches!(node.op, Op::Dot) {
        Shape::Scalar
    } else {
        a
    })
}

fn index(prog: &Program, node: &Node, i: usize, j: usize) -> Result<Shape, String> {
    let a = prog.shape(node.args[0]);
    let Shape::Matrix(r, c) = a else {
        return Err(format!(
            "`{}` is a scalar and cannot be indexed",
            operand(prog, node, 0)
        ));
    };
    // `v[i]` on a row vector reads column `i`.
    let (i, j, written) = if j == usize::MAX {
        if c == Dim::Lit(1) {
            (i, 0, format!("[{i}]"))
        } else if r == Dim::Lit(1) {
            (0, i, format!("[{i}]"))
        } else {
            return Err(format!(
                "`{}` is {a}; index a matrix with a row and a column, as in `[({i}, 0)]`",
                operand(prog, node, 0)
            ));
        }
    } else {
        (i, j, format!("[({i}, {j})]"))
    };
    // Const generic sizes are checked by nalgebra at run time, like any index.
    if r.value().is_some_and(|r| i >= r) || c.value().is_some_and(|c| j >= c) {
        return Err(format!(
            "index `{written}` is out of range for `{}`, which is {a}",
            operand(prog, node, 0)
        ));
    }
    Ok(Shape::Scalar)
}

/// `m[(i, j)] = s`: the entry written must exist, and be given a scalar; the value keeps its
/// shape. The matrix is named as written on the left of `=`.
fn set_entry(prog: &Program, node: &Node, i: usize, j: usize) -> Result<Shape, String> {
    let target = node.text.split('[').next().unwrap_or_default().trim();
    let named = |message: String| {
        message.replace(
            &format!("`{}`", operand(prog, node, 0)),
            &format!("`{target}`"),
        )
    };
    index(prog, node, i, j).map_err(named)?;
    if prog.shape(node.args[1]).is_scalar() {
        Ok(prog.shape(node.args[0]))
    } else {
        Err(format!(
            "an entry of `{target}` is a scalar, and `{}` is {}",
            operand(prog, node, 1),
            prog.shape(node.args[1])
        ))
    }
}

/// `m.diagonal()` (a column) and `m.max()`, `m.min()`, `m.amax()`, `m.amin()` (a scalar) of a
/// matrix.
fn reduction(prog: &Program, node: &Node) -> Result<Shape, String> {
    let name = match (&node.op, prog.shape(node.args[0])) {
        (Op::DiagonalOf, s @ Shape::Matrix(..)) => {
            return Ok(crate::simplify::diagonal_shape(s));
        }
        (Op::Extremum(_), Shape::Matrix(..)) => return Ok(Shape::Scalar),
        (Op::Extremum(e), _) => e.method(),
        _ => "diagonal",
    };
    Err(needs_matrix(prog, node, name))
}

/// `v[k]` of a vector or `m[(i, j)]` of a matrix at an index known at run time: a scalar
/// (nalgebra checks the range at run time, as for the function itself).
fn index_at(prog: &Program, node: &Node, at: &crate::ir::At) -> Result<Shape, String> {
    match (prog.shape(node.args[0]), &at.col) {
        (Shape::Matrix(..), Some(_)) => Ok(Shape::Scalar),
        (Shape::Matrix(r, c), None) if r == Dim::Lit(1) || c == Dim::Lit(1) => Ok(Shape::Scalar),
        (a @ Shape::Matrix(..), None) => Err(format!(
            "`{}` is {a}; index a matrix with a row and a column, as in `[(i, 0)]`",
            operand(prog, node, 0)
        )),
        _ => Err(format!(
            "`{}` is a scalar and cannot be indexed",
            operand(prog, node, 0)
        )),
    }
}

/// A Cholesky factor (of a square matrix), the identity of its size, the product of its
/// diagonal, and triangular solves with it.
fn factorisation(prog: &Program, node: &Node) -> Result<Shape, String> {
    let arg = |k: usize| prog.shape(node.args[k]);
    match node.op {
        Op::DiagonalProduct => square(prog, node, "determinant").map(|()| Shape::Scalar),
        Op::TriSolve { .. } => match (arg(0), arg(1)) {
            (Shape::Matrix(n, _), Shape::Matrix(m, k)) if n == m => Ok(Shape::Matrix(n, k)),
            _ => Err(mismatch(
                prog,
                node,
                "`solve` needs a right-hand side with as many rows as the factor",
            )),
        },
        _ => square(prog, node, "cholesky").map(|()| arg(0)),
    }
}

/// `a.cross(&b)`: two 3-vectors, both columns or both rows.
fn cross(prog: &Program, node: &Node) -> Result<Shape, String> {
    let (a, b) = (prog.shape(node.args[0]), prog.shape(node.args[1]));
    let three = [Shape::matrix(3, 1), Shape::matrix(1, 3)];
    if a == b && three.contains(&a) {
        Ok(a)
    } else {
        Err(mismatch(
            prog,
            node,
            "`cross` takes two 3-vectors, both columns or both rows",
        ))
    }
}

/// The shape of a `View` or a `SetView`.
fn blocks(prog: &Program, node: &Node) -> Result<Shape, String> {
    match node.op {
        Op::View {
            row,
            col,
            rows,
            cols,
        } => view(prog, node, (row, col), (rows, cols)),
        Op::SetView {
            row,
            col,
            rows,
            cols,
        } => set_view(prog, node, (row, col), (rows, cols)),
        Op::Param(..)
        | Op::Const(..)
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
        | Op::Call(..) => Err("invariant: a view".to_owned()),
    }
}

/// A block at `at` of the size `size` (`None`: the whole extent) of the matrix `args[0]`: its
/// shape, when it lies inside the matrix (checked where the sizes are literals; nalgebra checks
/// const generic ones at run time, as for the original).
fn view(
    prog: &Program,
    node: &Node,
    at: (usize, usize),
    size: (Option<Dim>, Option<Dim>),
) -> Result<Shape, String> {
    let a = prog.shape(node.args[0]);
    let Shape::Matrix(r, c) = a else {
        return Err(format!(
            "`{}` is a scalar and has no rows, columns or blocks",
            operand(prog, node, 0)
        ));
    };
    let (rows, cols) = (size.0.unwrap_or(r), size.1.unwrap_or(c));
    let outside = |start: usize, len: Dim, whole: Dim| match (len.value(), whole.value()) {
        (Some(len), Some(whole)) => start + len > whole,
        _ => false,
    };
    if outside(at.0, rows, r) || outside(at.1, cols, c) {
        return Err(format!(
            "`{}` is out of range: the {rows}×{cols} block at ({}, {}) does not fit in `{}`, which is {a}",
            node.text,
            at.0,
            at.1,
            operand(prog, node, 0)
        ));
    }
    Ok(Shape::Matrix(rows, cols))
}

/// `m.set_row(i, &r)` / `m.set_column(j, &c)`: the block must fit, and be given a matrix of its
/// shape; the value keeps the matrix's shape.
fn set_view(
    prog: &Program,
    node: &Node,
    at: (usize, usize),
    size: (Option<Dim>, Option<Dim>),
) -> Result<Shape, String> {
    // The matrix is named as written before `.set_row(…)`.
    let target = node.text.split('.').next().unwrap_or_default().trim();
    let named = |message: String| {
        message.replace(
            &format!("`{}`", operand(prog, node, 0)),
            &format!("`{target}`"),
        )
    };
    let block = view(prog, node, at, size).map_err(named)?;
    let given = prog.shape(node.args[1]);
    if given == block {
        return Ok(prog.shape(node.args[0]));
    }
    let what = match size {
        (Some(_), None) => "row",
        (None, Some(_)) => "column",
        _ => "block",
    };
    Err(format!(
        "shape mismatch in `{}`: a {what} of `{target}` is {block}, but `{}` is {given}",
        node.text,
        operand(prog, node, 1)
    ))
}

fn square(prog: &Program, node: &Node, name: &str) -> Result<(), String> {
    match prog.shape(node.args[0]) {
        Shape::Matrix(r, c) if r == c => Ok(()),
        Shape::Matrix(..) => Err(format!(
            "`{name}` needs a square matrix, but `{}` is {}",
            operand(prog, node, 0),
            prog.shape(node.args[0])
        )),
        Shape::Scalar | Shape::Bool | Shape::Tuple | Shape::Poison => {
            Err(needs_matrix(prog, node, name))
        }
    }
}

fn solve(prog: &Program, node: &Node) -> Result<Shape, String> {
    square(prog, node, "lu().solve")?;
    match (prog.shape(node.args[0]), prog.shape(node.args[1])) {
        (Shape::Matrix(n, _), Shape::Matrix(m, k)) if n == m => Ok(Shape::Matrix(n, k)),
        (Shape::Matrix(n, _), Shape::Matrix(m, _)) => Err(mismatch(
            prog,
            node,
            &format!("a solve needs the right-hand side's {m} rows to match the matrix's {n} rows"),
        )),
        _ => Err(format!(
            "the right-hand side of a solve must be a matrix or vector, but `{}` is a scalar",
            operand(prog, node, 1)
        )),
    }
}

/// nalgebra's static dimensions stop at 127.
const STATIC_LIMIT: usize = 127;

/// A matrix built from scalars: every argument a scalar, one per entry for `Entries`.
fn build(prog: &Program, node: &Node, kind: Build, rows: Dim, cols: Dim) -> Result<Shape, String> {
    if let Some(k) = (0..node.args.len()).find(|&k| !prog.shape(node.args[k]).is_scalar()) {
        return Err(format!(
            "`{}` builds a matrix from scalars, and `{}` is {}",
            node.text,
            operand(prog, node, k),
            prog.shape(node.args[k])
        ));
    }
    let expected = match (kind, rows.value(), cols.value()) {
        (Build::Entries, Some(r), Some(c)) => r * c,
        (Build::Entries, ..) => node.args.len(),
        (Build::Fill | Build::Diagonal, ..) => 1,
    };
    if node.args.len() != expected {
        return Err(format!(
            "`{}` builds a {rows}×{cols} matrix, which takes {expected} entries, not {}",
            node.text,
            node.args.len()
        ));
    }
    Ok(Shape::Matrix(rows, cols))
}

fn kronecker(prog: &Program, node: &Node) -> Result<Shape, String> {
    let (Shape::Matrix(ra, ca), Shape::Matrix(rb, cb)) =
        (prog.shape(node.args[0]), prog.shape(node.args[1]))
    else {
        return Err(mismatch(prog, node, "`kronecker` needs two matrices"));
    };
    let (Some(ra), Some(ca), Some(rb), Some(cb)) = (ra.value(), ca.value(), rb.value(), cb.value())
    else {
        return Err(format!(
            "`{}` multiplies sizes that are const generic parameters (`{}` is {ra}×{ca}, `{}` is {rb}×{cb}); \
             nalgebra cannot name the product of two const parameters on stable Rust, so the Kronecker product needs literal sizes",
            node.text,
            operand(prog, node, 0),
            operand(prog, node, 1)
        ));
    };
    let (r, c) = (ra * rb, ca * cb);
    if r > STATIC_LIMIT || c > STATIC_LIMIT {
        return Err(format!(
            "`{}` would be {r}×{c}: `{}` is {ra}×{ca} and `{}` is {rb}×{cb}, and nalgebra's fixed-size matrices have at most {STATIC_LIMIT} rows and columns",
            node.text,
            operand(prog, node, 0),
            operand(prog, node, 1)
        ));
    }
    Ok(Shape::matrix(r, c))
}

/// A boolean used where a number belongs, or a number where a condition belongs.
fn misused_condition(prog: &Program, id: ValueId) -> Option<String> {
    let node = &prog.nodes[id];
    let logical = matches!(node.op, Op::Not | Op::And | Op::Or);
    for &a in &node.args {
        let arg = &prog.nodes[a];
        match arg.shape {
            Shape::Bool if !logical => {
                let name = arg.name.as_deref().unwrap_or(&arg.text);
                return Some(format!(
                    "`{name}` is a condition; conditions decide an `if` and cannot be used as numbers"
                ));
            }
            Shape::Scalar | Shape::Matrix(..) if logical => {
                return Some(format!(
                    "`{}` is a number, not a condition: compare it, as in `{0} > 0.0`",
                    arg.text
                ));
            }
            Shape::Scalar | Shape::Matrix(..) | Shape::Bool | Shape::Tuple | Shape::Poison => {}
        }
    }
    None
}

/// An `if`: a condition, and two branches whose results agree in shape.
fn branch(cx: &Ctxt, prog: &mut Program, id: ValueId, float: Float) -> Shape {
    let node = &prog.nodes[id];
    let cond = &prog.nodes[node.args[0]];
    if cond.shape != Shape::Bool {
        cx.push(cond.loc.error(format!(
            "the condition of `if` must be a comparison such as `a < b` or a boolean, but `{}` is {}",
            cond.text, cond.shape
        )));
        return Shape::Poison;
    }
    let params: Vec<Shape> = node.args[1..].iter().map(|&a| prog.shape(a)).collect();
    let loc = node.loc;
    let Op::Branch {
        then,
        otherwise,
        over,
    } = &mut prog.nodes[id].op
    else {
        return Shape::Poison;
    };
    let before = cx.count();
    infer(cx, then, &params, float);
    if over.is_some() {
        // A loop over data runs one body, checked once.
        otherwise.clone_from(then);
    } else {
        infer(cx, otherwise, &params, float);
    }
    if cx.count() != before {
        return Shape::Poison;
    }
    // A loop kept as a loop: each result replaces a parameter, of the same shape.
    if let Some(range) = over.as_ref().and_then(|o| o.range.as_ref()) {
        for (&out, &p) in then.outputs.iter().zip(&range.carried) {
            let (new, old) = (
                then.shape(out),
                params.get(p).copied().unwrap_or(Shape::Poison),
            );
            if new != old && new != Shape::Poison && old != Shape::Poison {
                let what = then.nodes[out]
                    .name
                    .clone()
                    .map_or_else(|| "a variable".to_string(), |n| format!("`{n}`"));
                cx.push(loc.error(format!(
                    "this loop changes the shape of {what}: it is {old} before an iteration and \
                     {new} after it"
                )));
                return Shape::Poison;
            }
        }
    }
    for (&a, &b) in then.outputs.iter().zip(&otherwise.outputs) {
        let (sa, sb) = (then.shape(a), otherwise.shape(b));
        if sa != sb {
            let what = then.nodes[a]
                .name
                .clone()
                .map_or_else(|| "its value".to_string(), |n| format!("`{n}`"));
            cx.push(loc.error(format!(
                "the branches of this `if` give {what} different shapes: {sa} and {sb}"
            )));
            return Shape::Poison;
        }
    }
    Shape::Tuple
}

/// A `map`: the matrix, scalar captures, and a scalar closure body.
fn map(cx: &Ctxt, prog: &mut Program, id: ValueId, float: Float) -> Shape {
    let node = &prog.nodes[id];
    let a = prog.shape(node.args[0]);
    if !a.is_matrix() {
        cx.push(node.loc.error(format!(
            "`map` needs a matrix, but `{}` is a scalar; call the function directly",
            operand(prog, node, 0)
        )));
        return Shape::Poison;
    }
    let mut params = vec![Shape::Scalar];
    let mut ok = true;
    let Op::Map(sub) = &node.op else {
        return Shape::Poison;
    };
    for (k, &capture) in node.args[1..].iter().enumerate() {
        let shape = prog.shape(capture);
        if shape.is_matrix() {
            // Point at the use inside the closure, the parameter node of the capture.
            let loc = sub.param_node(k + 1).map_or(node.loc, |p| sub.nodes[p].loc);
            cx.push(loc.error(format!(
                "the closure in `map` may use scalars from outside, but `{0}` is a {shape} matrix; \
                 bind the entries it needs to scalars before the `map`, as in `let s = {0}[0];`",
                prog.nodes[capture].text
            )));
            ok = false;
            // Its uses inside the closure stay silent.
            params.push(Shape::Poison);
            continue;
        }
        params.push(Shape::Scalar);
    }
    if let Op::Map(sub) = &mut prog.nodes[id].op {
        let before = cx.count();
        infer(cx, sub, &params, float);
        let out = sub.output.map(|out| &sub.nodes[out]);
        if let Some(out) = out.filter(|out| out.shape.is_matrix()) {
            cx.push(out.loc.error(format!(
                "the closure in `map` must return a scalar, but this is {}",
                out.shape
            )));
        }
        ok &= cx.count() == before && out.is_some_and(|out| out.shape.is_scalar());
    }
    if ok { a } else { Shape::Poison }
}
