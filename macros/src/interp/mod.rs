//! A reference interpreter of the primal IR, the oracle the derivative program is checked
//! against.
//!
//! It runs a shaped, fused [`Program`] (what `shape` and `fuse` hand to `diff`) on concrete
//! numbers of any [`Num`] type: on `f64` it gives the function's value, on [`Dual`] numbers one
//! exact directional derivative per run, so [`gradient`] and [`jacobian`] seed one input entry
//! at a time and read the tangents of the result. It shares nothing with `diff`, `rules`,
//! `simplify` or `emit`: every operation is evaluated from its definition (a trace chain is the
//! trace of the product of its factors, an inverse comes from an LU factorisation in the scalar
//! type), so the two can only agree by both being right.
//!
//! Errors (a singular matrix, an index out of range, a constant it cannot read) are `Err`
//! values naming the node, never panics.

mod constants;
mod derivative;
mod mat;
mod num;
mod property;
mod tests;

use std::collections::BTreeMap;

use proc_macro2::TokenStream;

use crate::ctxt::Ctxt;
use crate::ir::{Build, CallArg, CallSite, Compare, Dim, Finish, Func, Node, Op, Program, Shape};
use crate::types::Kind;
use crate::{args, ast, fuse, lower, shape, text};

pub use constants::Constants;
pub use derivative::{Tangents, planned_gradient, run_plan, run_second, run_tangent};
pub use mat::Mat;
pub use num::{Dual, HyperDual, Num};

/// A value of the program.
#[derive(Clone, Debug, PartialEq)]
pub enum Value<S> {
    Scalar(S),
    Matrix(Mat<S>),
    Bool(bool),
    /// The results of an `if`, read by `extract`.
    Tuple(Vec<Value<S>>),
    /// The place of an integer or bool parameter among the inputs: its value is read from the
    /// [`Constants`] by name.
    Constant,
}

impl<S: Num> Value<S> {
    fn describe(&self) -> String {
        match self {
            Value::Scalar(_) => "a scalar".into(),
            Value::Matrix(m) => format!("a {}×{} matrix", m.rows, m.cols),
            Value::Bool(_) => "a boolean".into(),
            Value::Tuple(_) => "the results of an `if`".into(),
            Value::Constant => "an integer or bool parameter".into(),
        }
    }

    fn scalar(&self) -> Result<S, String> {
        match self {
            Value::Scalar(s) => Ok(*s),
            other => Err(format!("expected a scalar, found {}", other.describe())),
        }
    }

    fn matrix(&self) -> Result<&Mat<S>, String> {
        match self {
            Value::Matrix(m) => Ok(m),
            other => Err(format!("expected a matrix, found {}", other.describe())),
        }
    }

    fn boolean(&self) -> Result<bool, String> {
        match self {
            Value::Bool(b) => Ok(*b),
            other => Err(format!("expected a condition, found {}", other.describe())),
        }
    }

    /// The entries in vec order (column-major); a scalar has one.
    pub fn entries(&self) -> Result<Vec<S>, String> {
        match self {
            Value::Scalar(s) => Ok(vec![*s]),
            Value::Matrix(m) => Ok(m.data.clone()),
            other => Err(format!("{} has no entries", other.describe())),
        }
    }
}

impl Value<f64> {
    /// The same value on dual numbers, with tangent 1 at entry `seed` (vec order) and 0 elsewhere.
    pub fn lift(&self, seed: Option<usize>) -> Value<Dual> {
        self.lift_with(&|k, re| Dual::new(re, if seed == Some(k) { 1.0 } else { 0.0 }))
    }

    /// The same value on another scalar type, entry k (vec order) becoming `entry(k, x)`; the
    /// items of a tuple become constants.
    pub fn lift_with<S: Num>(&self, entry: &dyn Fn(usize, f64) -> S) -> Value<S> {
        match self {
            Value::Scalar(s) => Value::Scalar(entry(0, *s)),
            Value::Matrix(m) => Value::Matrix(Mat {
                rows: m.rows,
                cols: m.cols,
                data: m
                    .data
                    .iter()
                    .enumerate()
                    .map(|(k, &x)| entry(k, x))
                    .collect(),
            }),
            Value::Bool(b) => Value::Bool(*b),
            Value::Tuple(items) => Value::Tuple(
                items
                    .iter()
                    .map(|v| v.lift_with(&|_, x| S::constant(x)))
                    .collect(),
            ),
            Value::Constant => Value::Constant,
        }
    }
}

/// A function that programs may call, with the constants it always sees (its const generic
/// sizes, for a path such as `layer::<4>`).
pub struct Function {
    pub func: ast::Func,
    pub prog: Program,
    pub constants: Constants,
}

/// Callable functions by the text of the path calls name them with (`layer`, `nets::layer::<4>`).
pub type Registry = BTreeMap<String, Function>;

/// What a run reads besides its inputs: constants by name, and the functions it may call.
#[derive(Default)]
pub struct Env<'r> {
    pub constants: Constants,
    pub functions: Option<&'r Registry>,
    /// How many calls deep the run is; registered functions that call each other in a cycle
    /// stop at [`MAX_CALL_DEPTH`] with an error instead of overflowing the stack.
    depth: usize,
}

/// The deepest chain of calls a run follows.
pub const MAX_CALL_DEPTH: usize = 64;

impl Env<'_> {
    /// The value of a size: a literal, or a const generic parameter given in `constants`.
    pub fn size(&self, d: Dim) -> Result<usize, String> {
        match d {
            Dim::Lit(n) => Ok(n),
            Dim::Sym(_) => self
                .constants
                .ints
                .get(&d.to_string())
                .and_then(|&n| usize::try_from(n).ok())
                .ok_or_else(|| format!("no value for the size `{d}`")),
        }
    }
}

impl<'r> Env<'r> {
    pub fn with_functions(functions: &'r Registry) -> Self {
        Env {
            functions: Some(functions),
            ..Env::default()
        }
    }

    /// The environment of a call one level deeper, with the callee's constants; an error past
    /// [`MAX_CALL_DEPTH`].
    fn callee(&self, constants: Constants) -> Result<Env<'r>, String> {
        if self.depth >= MAX_CALL_DEPTH {
            return Err(format!("more than {MAX_CALL_DEPTH} calls deep"));
        }
        Ok(Env {
            constants,
            functions: self.functions,
            depth: self.depth + 1,
        })
    }

    /// Gives the integer parameter (or const generic size) `name` its value.
    #[must_use]
    pub fn int(mut self, name: &str, value: i64) -> Self {
        self.constants.ints.insert(name.to_string(), value);
        self
    }

    /// Gives the named float constant `name` (a `const` of the enclosing module) its value.
    #[must_use]
    pub fn float(mut self, name: &str, value: f64) -> Self {
        self.constants.floats.insert(name.to_string(), value);
        self
    }

    /// Gives the bool parameter `name` its value.
    #[must_use]
    pub fn flag(mut self, name: &str, value: bool) -> Self {
        self.constants.bools.insert(name.to_string(), value);
        self
    }
}

/// Runs the stages of `expand` up to `fuse` on the `fn` in `src`, with `attr` the arguments of
/// `#[gradient(…)]`: the program `diff` would differentiate, or every error joined.
pub fn compile(attr: &str, src: &str) -> Result<(ast::Func, Program), String> {
    compile_with(attr, src, true)
}

/// [`compile`], fusing trace chains or not (`#[hessian]` does not).
pub fn compile_with(attr: &str, src: &str, traces: bool) -> Result<(ast::Func, Program), String> {
    let item: syn::ItemFn = syn::parse_str(src).map_err(|e| format!("not a function: {e}"))?;
    let attr: TokenStream = attr.parse().map_err(|e| format!("attribute tokens: {e}"))?;
    let cx = Ctxt::new();
    let args = args::parse(&cx, args::Attribute::Gradient, attr);
    let compiled = ast::from_syn(&cx, &item, &args).map(|func| {
        let mut prog = lower::lower(&cx, &func, &item);
        let shapes: Vec<Shape> = func
            .params
            .iter()
            .map(|p| p.kind.shape().unwrap_or(Shape::Poison))
            .collect();
        shape::infer(&cx, &mut prog, &shapes, func.float);
        shape::check_output(&cx, &prog, &func);
        (func, prog)
    });
    let errors: Vec<String> = cx.finish().iter().map(ToString::to_string).collect();
    match compiled {
        Some((func, mut prog)) if errors.is_empty() => {
            fuse::fuse(&mut prog, traces);
            Ok((func, prog))
        }
        _ => Err(errors.join("; ")),
    }
}

/// Runs `prog` on `inputs`, indexed as `Op::Param` indexes them (the entries of integer and
/// bool parameters are [`Value::Constant`]); returns its output, or a tuple of a branch's
/// results.
pub fn run<S: Num>(prog: &Program, inputs: &[Value<S>], env: &Env) -> Result<Value<S>, String> {
    let values = evaluate(prog, inputs, env)?;
    let read = |id: usize| {
        values
            .get(id)
            .cloned()
            .ok_or_else(|| format!("the result v{id} is not a node of the program"))
    };
    match prog.output {
        Some(out) => read(out),
        None => Ok(Value::Tuple(
            prog.outputs
                .iter()
                .map(|&o| read(o))
                .collect::<Result<_, _>>()?,
        )),
    }
}

/// Every node's value, in order.
fn evaluate<S: Num>(
    prog: &Program,
    inputs: &[Value<S>],
    env: &Env,
) -> Result<Vec<Value<S>>, String> {
    let mut values: Vec<Value<S>> = Vec::with_capacity(prog.nodes.len());
    for (id, node) in prog.nodes.iter().enumerate() {
        let args = node
            .args
            .iter()
            .map(|&a| {
                values
                    .get(a)
                    .ok_or_else(|| format!("v{id} reads v{a} before it exists"))
            })
            .collect::<Result<Vec<&Value<S>>, String>>()?;
        let value = node_value(node, &args, inputs, env)
            .map_err(|e| format!("v{id} `{}`: {e}", node.text))?;
        values.push(value);
    }
    Ok(values)
}

/// The value of one node from the values of its arguments: one arm per operation.
#[allow(
    clippy::too_many_lines,
    reason = "one arm per operation, as in the rule table"
)]
fn node_value<S: Num>(
    node: &Node,
    args: &[&Value<S>],
    inputs: &[Value<S>],
    env: &Env,
) -> Result<Value<S>, String> {
    let arg = |k: usize| args.get(k).copied().ok_or(format!("no argument {k}"));
    let matrix = |k: usize| arg(k)?.matrix();
    let scalar = |k: usize| arg(k)?.scalar();
    let constants = &env.constants;
    match &node.op {
        Op::Param(k) => param(inputs, *k),
        Op::Const(tokens) => Ok(Value::Scalar(S::constant(constants.float(tokens)?))),
        Op::Add => arithmetic('+', arg(0)?, arg(1)?),
        Op::Sub => arithmetic('-', arg(0)?, arg(1)?),
        Op::Accumulate(minus) => minus
            .iter()
            .enumerate()
            .try_fold(arg(0)?.clone(), |acc, (k, &m)| {
                arithmetic(if m { '-' } else { '+' }, &acc, arg(k + 1)?)
            }),
        Op::Mul => arithmetic('*', arg(0)?, arg(1)?),
        Op::Div => arithmetic('/', arg(0)?, arg(1)?),
        Op::Neg => negate(arg(0)?),
        Op::Transpose => Ok(Value::Matrix(matrix(0)?.transpose())),
        Op::Trace => Ok(Value::Scalar(matrix(0)?.trace()?)),
        Op::Sum => Ok(Value::Scalar(matrix(0)?.sum())),
        Op::Mean => mean(matrix(0)?),
        Op::Dot => Ok(Value::Scalar(matrix(0)?.dot(matrix(1)?)?)),
        Op::Norm => Ok(Value::Scalar(matrix(0)?.norm_squared().sqrt())),
        Op::NormSquared => Ok(Value::Scalar(matrix(0)?.norm_squared())),
        Op::ComponentMul => Ok(Value::Matrix(matrix(0)?.component_mul(matrix(1)?)?)),
        Op::ComponentDiv => Ok(Value::Matrix(matrix(0)?.component_div(matrix(1)?)?)),
        Op::Map(sub) => map(sub, args, env),
        Op::Unary(f) => Ok(Value::Scalar(unary(*f, scalar(0)?))),
        Op::Powi(n) => Ok(Value::Scalar(scalar(0)?.powi(exponent(constants, n)?))),
        Op::Powf => Ok(Value::Scalar(scalar(0)?.powf(scalar(1)?))),
        // Ties go to the first argument, as the rules assume.
        Op::Max => {
            let (a, b) = (scalar(0)?, scalar(1)?);
            Ok(Value::Scalar(if a.re() >= b.re() { a } else { b }))
        }
        Op::Min => {
            let (a, b) = (scalar(0)?, scalar(1)?);
            Ok(Value::Scalar(if b.re() >= a.re() { a } else { b }))
        }
        Op::Index(i, j) => index(matrix(0)?, *i, *j),
        Op::SetEntry(i, j) => {
            let mut m = matrix(0)?.clone();
            let (i, j) = match *j {
                usize::MAX if m.cols == 1 => (*i, 0),
                usize::MAX => (0, *i),
                j => (*i, j),
            };
            if i >= m.rows || j >= m.cols {
                return Err(format!(
                    "entry ({i}, {j}) of a {}×{} matrix",
                    m.rows, m.cols
                ));
            }
            m.data[i + m.rows * j] = scalar(1)?;
            Ok(Value::Matrix(m))
        }
        Op::DiagonalOf
        | Op::Cholesky(_)
        | Op::TriSolve { .. }
        | Op::DiagonalProduct
        | Op::IdentityOf
        | Op::IndexAt(_)
        | Op::Field(..)
        | Op::Extremum(_)
        | Op::Cross
        | Op::View { .. }
        | Op::SetView { .. } => parts(&node.op, args, env),
        Op::Inverse(finish) => Ok(Value::Matrix(opened(matrix(0)?.inverse(), finish)?)),
        Op::Determinant => Ok(Value::Scalar(matrix(0)?.determinant()?)),
        Op::Solve(finish) => Ok(Value::Matrix(opened(matrix(0)?.solve(matrix(1)?), finish)?)),
        Op::Kronecker => Ok(Value::Matrix(matrix(0)?.kronecker(matrix(1)?))),
        Op::Build { kind, rows, cols } => {
            let (r, c) = (env.size(*rows)?, env.size(*cols)?);
            let mut entries = Vec::new();
            for k in 0..args.len() {
                entries.push(scalar(k)?);
            }
            Ok(Value::Matrix(match kind {
                Build::Entries if entries.len() == r * c => {
                    Mat::from_fn(r, c, |i, j| entries[i + r * j])
                }
                Build::Entries => return Err(format!("{} entries for {r}×{c}", entries.len())),
                Build::Fill => Mat::from_fn(r, c, |_, _| entries[0]),
                Build::Diagonal => {
                    Mat::from_fn(r, c, |i, j| if i == j { entries[0] } else { S::zero() })
                }
            }))
        }
        Op::MatrixPower(k) => Ok(Value::Matrix(matrix(0)?.pow(power(constants, k)?)?)),
        Op::TraceChain(flags) => trace_chain(args, flags),
        Op::Compare(c) => Ok(Value::Bool(compare(*c, scalar(0)?, scalar(1)?))),
        Op::Not => Ok(Value::Bool(!arg(0)?.boolean()?)),
        Op::And => Ok(Value::Bool(arg(0)?.boolean()? && arg(1)?.boolean()?)),
        Op::Or => Ok(Value::Bool(arg(0)?.boolean()? || arg(1)?.boolean()?)),
        Op::BoolConst(tokens) => Ok(Value::Bool(constants.boolean(tokens)?)),
        Op::Branch {
            over: Some(over),
            then,
            ..
        } => data_loop(over, then, args, env),
        Op::Branch {
            then, otherwise, ..
        } => branch(then, otherwise, args, env),
        Op::Extract(k) => extract(arg(0)?, *k),
        Op::Call(site) => call(site, args, env),
    }
}

/// The value of an operation that reads part of a matrix (or two 3-vectors' cross product).
fn parts<S: Num>(op: &Op, args: &[&Value<S>], env: &Env) -> Result<Value<S>, String> {
    let matrix = |k: usize| args.get(k).ok_or(format!("no argument {k}"))?.matrix();
    match op {
        Op::DiagonalOf => Ok(Value::Matrix(matrix(0)?.diagonal())),
        Op::Cholesky(_) => Ok(Value::Matrix(matrix(0)?.cholesky()?)),
        Op::IdentityOf => Ok(Value::Matrix(Mat::identity(matrix(0)?.rows))),
        Op::DiagonalProduct => Ok(Value::Scalar(
            matrix(0)?
                .diagonal()
                .data
                .iter()
                .fold(S::one(), |p, &x| p * x),
        )),
        Op::TriSolve { transpose } => {
            Ok(Value::Matrix(matrix(0)?.tri_solve(matrix(1)?, *transpose)?))
        }
        Op::IndexAt(at) => {
            let m = matrix(0)?;
            let (i, j) = env.constants.index(at, m.rows, m.cols)?;
            Ok(Value::Scalar(m.get(i, j)?))
        }
        Op::Extremum(e) => {
            let m = matrix(0)?;
            let x = m.data[m.extremum_index(e.kind())];
            Ok(Value::Scalar(if e.magnitude() { x.abs() } else { x }))
        }
        Op::Cross => Ok(Value::Matrix(matrix(0)?.cross(matrix(1)?)?)),
        Op::View {
            row,
            col,
            rows,
            cols,
        } => {
            let m = matrix(0)?;
            let r = rows.map_or(Ok(m.rows), |d| env.size(d))?;
            let c = cols.map_or(Ok(m.cols), |d| env.size(d))?;
            Ok(Value::Matrix(m.block(*row, *col, r, c)?))
        }
        Op::SetView { row, col, .. } => {
            let mut m = matrix(0)?.clone();
            m.set_block(*row, *col, matrix(1)?)?;
            Ok(Value::Matrix(m))
        }
        Op::Field(tokens, _) => {
            let name = text::tokens(tokens);
            let value = env
                .constants
                .fields
                .get(&name)
                .ok_or_else(|| format!("no value for the constant `{name}`"))?;
            Ok(value.lift_with(&|_, v| S::constant(v)))
        }
        other => Err(format!("`{other:?}` does not read part of a matrix")),
    }
}

/// A loop over data: the sums over the samples of the body's results.
fn data_loop<S: Num>(
    over: &crate::ir::Over,
    body: &Program,
    args: &[&Value<S>],
    env: &Env,
) -> Result<Value<S>, String> {
    if let Some(range) = &over.range {
        let inputs: Vec<Value<S>> = args[1..].iter().map(|&v| v.clone()).collect();
        let (finals, _) = run_range(range, body, inputs, env)?;
        return Ok(Value::Tuple(finals));
    }
    let zeros = body
        .outputs
        .iter()
        .map(|&o| zero_value(body.shape(o), env))
        .collect::<Result<_, _>>()?;
    let inputs: Vec<Value<S>> = args[1..].iter().map(|&v| v.clone()).collect();
    let sums = sum_over_samples(over, env, zeros, |env| {
        let values = evaluate(body, &inputs, env)?;
        body.results()
            .iter()
            .map(|&r| values.get(r).cloned().ok_or(format!("no result v{r}")))
            .collect()
    })?;
    Ok(Value::Tuple(sums))
}

/// `a + b` of two values of one shape.
pub fn add_values<S: Num>(a: &Value<S>, b: &Value<S>) -> Result<Value<S>, String> {
    arithmetic('+', a, b)
}

/// A loop kept as a loop, run: each iteration's program on the inputs with the carried ones
/// replaced by the results of the iteration before. Returns the final results and the inputs
/// of every iteration (the tape a reverse pass reads).
#[allow(clippy::type_complexity)]
pub fn run_range<S: Num>(
    range: &crate::ir::Range,
    body: &Program,
    mut inputs: Vec<Value<S>>,
    env: &Env,
) -> Result<(Vec<Value<S>>, Vec<Vec<Value<S>>>), String> {
    let mut tape = Vec::new();
    let end = i64::try_from(env.size(range.end)?).map_err(|e| e.to_string())?;
    for i in range.start..end {
        let env = iteration_env(range, i, env);
        tape.push(inputs.clone());
        let values = evaluate(body, &inputs, &env)?;
        for (k, &p) in range.carried.iter().enumerate() {
            let out = body.outputs.get(k).ok_or("a loop result")?;
            inputs[p] = values
                .get(*out)
                .cloned()
                .ok_or(format!("no result v{out}"))?;
        }
    }
    let finals = range.carried.iter().map(|&p| inputs[p].clone()).collect();
    Ok((finals, tape))
}

/// The environment of iteration `i` of a loop kept as a loop: its counter set.
pub fn iteration_env<'r>(range: &crate::ir::Range, i: i64, env: &Env<'r>) -> Env<'r> {
    let mut constants = env.constants.clone();
    constants.ints.insert(range.counter.to_string(), i);
    Env {
        constants,
        functions: env.functions,
        depth: env.depth,
    }
}

/// The zero of a value of `shape`.
fn zero_value<S: Num>(shape: Shape, env: &Env) -> Result<Value<S>, String> {
    match shape {
        Shape::Scalar => Ok(Value::Scalar(S::zero())),
        Shape::Matrix(r, c) => {
            let (r, c) = (env.size(r)?, env.size(c)?);
            Ok(Value::Matrix(Mat::from_fn(r, c, |_, _| S::zero())))
        }
        other => Err(format!("no zero of {other}")),
    }
}

/// Σ over the samples of a loop over data of `each`, run in an environment where the loop's
/// variables hold the sample; the sum starts from `zeros`, one per result.
pub fn sum_over_samples<'r, S: Num>(
    over: &crate::ir::Over,
    env: &Env<'r>,
    zeros: Vec<Value<S>>,
    mut each: impl FnMut(&Env<'r>) -> Result<Vec<Value<S>>, String>,
) -> Result<Vec<Value<S>>, String> {
    /// A data set of floats or matrices, or of integers.
    enum Set<'s> {
        Values(&'s [Value<f64>]),
        Integers(&'s [i64]),
    }
    let sets = over
        .slices
        .iter()
        .map(|(_, name)| {
            let constants = &env.constants;
            match (
                constants.samples.get(name),
                constants.integer_sets.get(name),
            ) {
                (Some(values), _) => Ok(Set::Values(values)),
                (None, Some(ints)) => Ok(Set::Integers(ints)),
                (None, None) => Err(format!("no samples for the data set `{name}`")),
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    let count = sets
        .iter()
        .map(|s| match s {
            Set::Values(v) => v.len(),
            Set::Integers(v) => v.len(),
        })
        .min()
        .unwrap_or(0);
    let mut sums = zeros;
    for i in 0..count {
        let mut sample = Env {
            constants: env.constants.clone(),
            functions: env.functions,
            depth: env.depth,
        };
        for (var, set) in over.vars.iter().zip(&sets) {
            match set {
                Set::Values(values) => {
                    let name = text::tokens(&quote::quote!((*#var)));
                    sample.constants.fields.insert(name, values[i].clone());
                }
                Set::Integers(ints) => {
                    sample.constants.ints.insert(var.to_string(), ints[i]);
                }
            }
        }
        let parts = each(&sample)?;
        if parts.len() != sums.len() {
            return Err(format!(
                "a sample gives {} results for {} sums",
                parts.len(),
                sums.len()
            ));
        }
        sums = sums
            .iter()
            .zip(&parts)
            .map(|(s, p)| arithmetic('+', s, p))
            .collect::<Result<_, _>>()?;
    }
    Ok(sums)
}

/// Input `k`, checked: a matrix whose entries do not fill its shape would break every index.
fn param<S: Num>(inputs: &[Value<S>], k: usize) -> Result<Value<S>, String> {
    match inputs.get(k) {
        Some(Value::Matrix(m)) if !m.is_consistent() => Err(format!(
            "input {k} has {} entries for a {}×{} matrix",
            m.data.len(),
            m.rows,
            m.cols
        )),
        Some(v) => Ok(v.clone()),
        None => Err(format!("no input {k}")),
    }
}

/// `+ − × ÷` of two scalars, two matrices, or a matrix and a scalar (scaling).
fn arithmetic<S: Num>(symbol: char, a: &Value<S>, b: &Value<S>) -> Result<Value<S>, String> {
    let what = symbol.to_string();
    Ok(match (symbol, a, b) {
        ('+', Value::Scalar(x), Value::Scalar(y)) => Value::Scalar(*x + *y),
        ('-', Value::Scalar(x), Value::Scalar(y)) => Value::Scalar(*x - *y),
        ('*', Value::Scalar(x), Value::Scalar(y)) => Value::Scalar(*x * *y),
        ('/', Value::Scalar(x), Value::Scalar(y)) => Value::Scalar(*x / *y),
        ('+', Value::Matrix(x), Value::Matrix(y)) => Value::Matrix(x.zip(y, &what, |p, q| p + q)?),
        ('-', Value::Matrix(x), Value::Matrix(y)) => Value::Matrix(x.zip(y, &what, |p, q| p - q)?),
        ('*', Value::Matrix(x), Value::Matrix(y)) => Value::Matrix(x.matmul(y)?),
        ('*', Value::Matrix(m), Value::Scalar(s)) | ('*', Value::Scalar(s), Value::Matrix(m)) => {
            Value::Matrix(m.map(|v| v * *s))
        }
        ('/', Value::Matrix(m), Value::Scalar(s)) => Value::Matrix(m.map(|v| v / *s)),
        _ => {
            return Err(format!(
                "`{symbol}` of {} and {}",
                a.describe(),
                b.describe()
            ));
        }
    })
}

fn negate<S: Num>(a: &Value<S>) -> Result<Value<S>, String> {
    match a {
        Value::Scalar(s) => Ok(Value::Scalar(-*s)),
        Value::Matrix(m) => Ok(Value::Matrix(m.map(|v| -v))),
        other => Err(format!("`-` of {}", other.describe())),
    }
}

/// The mean of the entries, as nalgebra's `mean`: the sum over the count.
fn mean<S: Num>(m: &Mat<S>) -> Result<Value<S>, String> {
    if m.data.is_empty() {
        return Err("the mean of an empty matrix".into());
    }
    Ok(Value::Scalar(m.sum() / S::constant(m.data.len() as f64)))
}

fn unary<S: Num>(f: Func, x: S) -> S {
    match f {
        Func::Exp => x.exp(),
        Func::Ln => x.ln(),
        Func::Ln1p => x.ln_1p(),
        Func::Sqrt => x.sqrt(),
        Func::Sin => x.sin(),
        Func::Cos => x.cos(),
        Func::Tanh => x.tanh(),
        Func::Abs => x.abs(),
        Func::Sigmoid => x.sigmoid(),
        Func::Softplus => x.softplus(),
    }
}

/// The `i32` exponent of `powi`.
fn exponent(constants: &Constants, tokens: &TokenStream) -> Result<i32, String> {
    let n = constants.int(tokens)?;
    i32::try_from(n).map_err(|_| format!("the exponent {n} of `powi` is not an `i32`"))
}

/// The `u32` exponent of a matrix power.
fn power(constants: &Constants, tokens: &TokenStream) -> Result<u32, String> {
    let k = constants.int(tokens)?;
    u32::try_from(k).map_err(|_| format!("the exponent {k} of `pow` is not a `u32`"))
}

/// `m[(i, j)]`, or `v[i]` on a vector whose index `shape` left unresolved.
fn index<S: Num>(m: &Mat<S>, i: usize, j: usize) -> Result<Value<S>, String> {
    let (i, j) = match j {
        usize::MAX if m.cols == 1 => (i, 0),
        usize::MAX if m.rows == 1 => (0, i),
        usize::MAX => {
            return Err(format!(
                "`[{i}]` on a {}×{} matrix, which is not a vector",
                m.rows, m.cols
            ));
        }
        j => (i, j),
    };
    Ok(Value::Scalar(m.get(i, j)?))
}

/// The error of a failed `.unwrap()` or `.expect(…)`, saying which.
fn opened<T>(result: Result<T, String>, finish: &Finish) -> Result<T, String> {
    result.map_err(|e| match finish {
        Finish::Unwrap => format!("{e}, so `.unwrap()` fails"),
        Finish::Expect(message) => format!("{e}, so `.expect({})` fails", text::tokens(message)),
    })
}

/// tr(F₀·F₁·…), each factor transposed where its flag says.
fn trace_chain<S: Num>(args: &[&Value<S>], transposed: &[bool]) -> Result<Value<S>, String> {
    if args.len() != transposed.len() || args.is_empty() {
        return Err(format!(
            "a trace chain of {} factors with {} flags",
            args.len(),
            transposed.len()
        ));
    }
    let mut product: Option<Mat<S>> = None;
    for (factor, &t) in args.iter().zip(transposed) {
        let m = factor.matrix()?;
        let m = if t { m.transpose() } else { m.clone() };
        product = Some(match product {
            None => m,
            Some(p) => p.matmul(&m)?,
        });
    }
    let product = product.ok_or("an empty trace chain")?;
    Ok(Value::Scalar(product.trace()?))
}

#[allow(
    clippy::float_cmp,
    reason = "the program's own comparison is exact, and so is this one"
)]
fn compare<S: Num>(c: Compare, a: S, b: S) -> bool {
    let (a, b) = (a.re(), b.re());
    match c {
        Compare::Lt => a < b,
        Compare::Le => a <= b,
        Compare::Gt => a > b,
        Compare::Ge => a >= b,
        Compare::Eq => a == b,
        Compare::Ne => a != b,
    }
}

/// `map`: the scalar program once per entry, with the entry as parameter 0 and the captured
/// scalars `args[1..]` as parameters 1….
fn map<S: Num>(sub: &Program, args: &[&Value<S>], env: &Env) -> Result<Value<S>, String> {
    let (matrix, captures) = args.split_first().ok_or("`map` of nothing")?;
    let m = matrix.matrix()?;
    let mut inputs: Vec<Value<S>> = vec![Value::Constant];
    inputs.extend(captures.iter().map(|&v| v.clone()));
    let mut data = Vec::with_capacity(m.data.len());
    for &entry in &m.data {
        inputs[0] = Value::Scalar(entry);
        data.push(run(sub, &inputs, env)?.scalar()?);
    }
    Ok(Value::Matrix(Mat::from_column_major(m.rows, m.cols, data)?))
}

/// `if`: the branch the condition `args[0]` takes, run on the captured values `args[1..]`.
fn branch<S: Num>(
    then: &Program,
    otherwise: &Program,
    args: &[&Value<S>],
    env: &Env,
) -> Result<Value<S>, String> {
    let (condition, captures) = args.split_first().ok_or("`if` without a condition")?;
    let taken = if condition.boolean()? {
        then
    } else {
        otherwise
    };
    let inputs: Vec<Value<S>> = captures.iter().map(|&v| v.clone()).collect();
    let values = evaluate(taken, &inputs, env)?;
    let results = taken
        .results()
        .iter()
        .map(|&r| values.get(r).cloned().ok_or(format!("no result v{r}")))
        .collect::<Result<_, _>>()?;
    Ok(Value::Tuple(results))
}

fn extract<S: Num>(tuple: &Value<S>, k: usize) -> Result<Value<S>, String> {
    match tuple {
        Value::Tuple(items) => items
            .get(k)
            .cloned()
            .ok_or_else(|| format!("result {k} of an `if` with {}", items.len())),
        other => Err(format!("`extract` of {}", other.describe())),
    }
}

/// A call: the callee's program on the call's values, with the constants the call passes bound
/// to the callee's integer and bool parameters.
fn call<S: Num>(site: &CallSite, args: &[&Value<S>], env: &Env) -> Result<Value<S>, String> {
    let path = text::tokens(&site.path);
    let function = env
        .functions
        .and_then(|r| r.get(&path))
        .ok_or_else(|| format!("no function `{path}` to call"))?;
    let args: Vec<Value<S>> = args.iter().map(|&v| v.clone()).collect();
    let (inputs, constants) = call_inputs(site, function, &args, env)?;
    run(&function.prog, &inputs, &env.callee(constants)?)
}

/// The callee's inputs for a call with the value arguments `args`, and its constants with
/// those the call passes bound to its integer and bool parameters.
fn call_inputs<S: Num>(
    site: &CallSite,
    function: &Function,
    args: &[Value<S>],
    env: &Env,
) -> Result<(Vec<Value<S>>, Constants), String> {
    let path = text::tokens(&site.path);
    let params = &function.func.params;
    if site.args.len() != params.len() {
        return Err(format!(
            "`{path}` takes {} arguments, the call passes {}",
            params.len(),
            site.args.len()
        ));
    }
    let mut constants = function.constants.clone();
    let mut values = args.iter();
    let mut inputs = Vec::with_capacity(params.len());
    for (arg, param) in site.args.iter().zip(params) {
        inputs.push(match arg {
            CallArg::Value { .. } => values.next().ok_or("fewer values than arguments")?.clone(),
            CallArg::Constant(tokens) => {
                bind(&mut constants, param, tokens, &env.constants)?;
                Value::Constant
            }
        });
    }
    Ok((inputs, constants))
}

/// Binds the callee's integer or bool parameter to the constant the caller passes.
fn bind(
    into: &mut Constants,
    param: &ast::Param,
    tokens: &TokenStream,
    from: &Constants,
) -> Result<(), String> {
    let name = param.name.to_string();
    match param.kind {
        Kind::Int => drop(into.ints.insert(name, from.int(tokens)?)),
        Kind::Bool => drop(into.bools.insert(name, from.boolean(tokens)?)),
        Kind::Samples { .. } => {
            let set = from
                .samples
                .get(&text::tokens(tokens))
                .ok_or_else(|| format!("no samples for `{}`", text::tokens(tokens)))?;
            drop(into.samples.insert(name, set.clone()));
        }
        Kind::Integers => {
            let set = from
                .integer_sets
                .get(&text::tokens(tokens))
                .ok_or_else(|| format!("no integers for `{}`", text::tokens(tokens)))?;
            drop(into.integer_sets.insert(name, set.clone()));
        }
        Kind::Scalar(_) | Kind::Matrix { .. } => {
            return Err(format!(
                "the float parameter `{name}` is passed the constant `{}`",
                text::tokens(tokens)
            ));
        }
    }
    Ok(())
}

/// The value of `prog` and, for each parameter in `wrt`, its Jacobian: for a result of M entries
/// and a parameter of n entries, the M × n matrix `J[(k, l)] = ∂F_k/∂X_l`, both in vec order. One
/// dual run per entry of each parameter.
pub fn jacobian(
    prog: &Program,
    inputs: &[Value<f64>],
    wrt: &[usize],
    env: &Env,
) -> Result<(Value<f64>, Vec<Mat<f64>>), String> {
    let value = run(prog, inputs, env)?;
    let m = value.entries()?.len();
    let duals: Vec<Value<Dual>> = inputs.iter().map(|v| v.lift(None)).collect();
    let mut jacobians = Vec::with_capacity(wrt.len());
    for &p in wrt {
        let input = inputs.get(p).ok_or_else(|| format!("no input {p}"))?;
        let n = input.entries()?.len();
        let mut columns = Vec::with_capacity(m * n);
        for l in 0..n {
            let mut seeded = duals.clone();
            seeded[p] = input.lift(Some(l));
            let tangents = run(prog, &seeded, env)?.entries()?;
            columns.extend(tangents.iter().map(|d| d.eps));
        }
        jacobians.push(Mat::from_column_major(m, n, columns)?);
    }
    Ok((value, jacobians))
}

/// The value of a scalar `prog` and its gradient with respect to each parameter in `wrt`,
/// shaped like the parameter.
pub fn gradient(
    prog: &Program,
    inputs: &[Value<f64>],
    wrt: &[usize],
    env: &Env,
) -> Result<(Value<f64>, Vec<Value<f64>>), String> {
    let (value, jacobians) = jacobian(prog, inputs, wrt, env)?;
    if !matches!(value, Value::Scalar(_)) {
        return Err(format!(
            "a gradient needs a scalar result, not {}; use `jacobian`",
            value.describe()
        ));
    }
    let gradients = wrt
        .iter()
        .zip(jacobians)
        .map(|(&p, j)| match &inputs[p] {
            Value::Matrix(x) => Mat::from_column_major(x.rows, x.cols, j.data).map(Value::Matrix),
            Value::Scalar(_) | Value::Bool(_) | Value::Tuple(_) | Value::Constant => j
                .data
                .first()
                .copied()
                .map(Value::Scalar)
                .ok_or_else(|| "no entry".into()),
        })
        .collect::<Result<_, String>>()?;
    Ok((value, gradients))
}

/// `count` samples of `shape` (a const generic size taken as 3), entries from `entry`.
pub fn draw_samples(shape: Shape, count: usize, entry: &mut dyn FnMut() -> f64) -> Vec<Value<f64>> {
    let size = |d: Dim| d.value().unwrap_or(3);
    (0..count)
        .map(|_| match shape {
            Shape::Matrix(r, c) => {
                let (r, c) = (size(r), size(c));
                let data = (0..r * c).map(|_| entry()).collect();
                Value::Matrix(Mat::from_column_major(r, c, data).expect("the entries fill it"))
            }
            Shape::Scalar | Shape::Bool | Shape::Tuple | Shape::Poison => Value::Scalar(entry()),
        })
        .collect()
}
