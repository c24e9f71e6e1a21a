//! The interpreter of a derivative program: runs a [`Plan`] — its forward statements, then its
//! reverse statements — on `f64` values, as the printed Rust would, and returns the gradients
//! it computes. Part of `interp`.
//!
//! Only what the plan computes exists: a forward value the plan skipped, an adjoint read before
//! it is declared, a shared value read before it is shared, are errors, so a planning mistake
//! shows up here as surely as a wrong rule. Nested bodies run their own child plans (the
//! derivative closure of a `map` once per entry, the adjoint program of the branch an `if`
//! took), and a call runs the callee's vector-Jacobian product, planned from the registry.
//! The property tests compare what this returns with dual-number derivatives of the primal.

use std::collections::BTreeMap;

use super::{Env, Mat, Value, node_value};
use crate::adjoint::AExpr;
use crate::ir::{Dim, Op, Program, Shape, ValueId};
use crate::plan::{Config, Forward, Kernel, Mode, Plan, Reverse, Role, Update};

/// What one run of a plan produced.
pub struct Outcome {
    /// The result of the body (a branch's results as a tuple); `None` for a derivative body,
    /// which computes only what its adjoint reads.
    pub value: Option<Value<f64>>,
    /// For each differentiated parameter, in the order of the plan's `wrt`, its gradient
    /// (reverse mode).
    pub gradients: Vec<Value<f64>>,
    /// The tangent of the result, or a tuple of a branch's results' tangents, zero where a
    /// result carries none (forward mode).
    pub tangent: Option<Value<f64>>,
}

/// The tangents a forward plan's seeded parameters carry, indexed like the inputs.
pub struct Tangents<'a>(pub &'a [Value<f64>]);

/// Runs a reverse plan on `inputs` (indexed like `Op::Param`), seeding result `j` with
/// `seeds[j]`; `given` is the value the caller hands a derivative closure (its result).
pub fn run_plan(
    plan: &Plan,
    inputs: &[Value<f64>],
    seeds: &[Value<f64>],
    given: Option<Value<f64>>,
    env: &Env,
) -> Result<Outcome, String> {
    run(plan, inputs, &Tangents(&[]), seeds, given, env)
}

/// Runs a forward plan on `inputs` with the seeded parameters carrying `tangents`.
pub fn run_tangent(
    plan: &Plan,
    inputs: &[Value<f64>],
    tangents: &Tangents,
    env: &Env,
) -> Result<Outcome, String> {
    run(plan, inputs, tangents, &[], None, env)
}

fn run(
    plan: &Plan,
    inputs: &[Value<f64>],
    tangent_inputs: &Tangents,
    seeds: &[Value<f64>],
    given: Option<Value<f64>>,
    env: &Env,
) -> Result<Outcome, String> {
    let mut state = State {
        plan,
        inputs,
        tangent_inputs: tangent_inputs.0,
        seeds,
        env,
        values: vec![None; plan.prog.nodes.len()],
        adjoints: vec![None; plan.prog.nodes.len()],
        tangents: vec![None; plan.prog.nodes.len()],
        shared: BTreeMap::new(),
        partials: BTreeMap::new(),
        adjoint_tangents: vec![None; plan.prog.nodes.len()],
        shared_tangents: BTreeMap::new(),
        tangent_plan: None,
    };
    if let (Some(id), Some(value)) = (plan.config.given, given) {
        state.values[id] = Some(value);
    }
    state.forward()?;
    state.reverse()?;
    for (v, e) in &plan.tangent {
        let d = state.eval(e).map_err(|err| format!("d{v}: {err}"))?;
        state.tangents[*v] = Some(d);
    }
    let tangent = match plan.config.mode {
        Mode::Reverse => None,
        Mode::Forward => {
            let of = |r: ValueId| -> Result<Value<f64>, String> {
                if plan.tangent_active[r] {
                    state.tangent(r)
                } else {
                    zeros_of(prog_shape(plan, r), &state)
                }
            };
            Some(match plan.prog.output {
                Some(out) => of(out)?,
                None => Value::Tuple(
                    plan.prog
                        .outputs
                        .iter()
                        .map(|&r| of(r))
                        .collect::<Result<_, _>>()?,
                ),
            })
        }
    };
    let prog = plan.prog;
    let wrt: &[usize] = match plan.config.mode {
        Mode::Reverse => &plan.config.wrt,
        Mode::Forward => &[],
    };
    let gradients = wrt
        .iter()
        .map(|&k| match prog.param_node(k) {
            Some(p) if plan.adj.nonzero[p] => state.eval(&plan.adjoint_operand(p)),
            _ => zeros_like(inputs.get(k).ok_or(format!("no input {k}"))?),
        })
        .collect::<Result<_, _>>()?;
    let results = prog.results();
    let value = match prog.output {
        _ if plan.config.adjoint_only => None,
        Some(out) => Some(state.value(out)?),
        None => Some(Value::Tuple(
            results
                .iter()
                .map(|&r| state.value(r))
                .collect::<Result<_, _>>()?,
        )),
    };
    Ok(Outcome {
        value,
        gradients,
        tangent,
    })
}

/// What a second-order program computes: the value, the gradient and H·v (of the first
/// parameter asked for), and the tangents of every asked-for parameter's gradient.
pub struct SecondOutcome {
    pub value: Value<f64>,
    pub gradient: Value<f64>,
    pub hv: Value<f64>,
    /// The tangent of the gradient of each parameter asked for, in order.
    pub tangents: Vec<Value<f64>>,
    /// The gradient of each parameter asked for, in order.
    pub gradients: Vec<Value<f64>>,
}

/// Runs a second-order program: the forward and reverse passes of `grad` (the gradient in the
/// parameter `k`), the tangent program `tangent` with the parameter's tangent `direction`, then
/// the tangent of the reverse pass, `second`, whose result is H·v.
pub fn run_second(
    grad: &Plan,
    tangent: &Plan,
    second: &crate::second::SecondOrder,
    inputs: &[Value<f64>],
    k: usize,
    direction: Value<f64>,
    env: &Env,
) -> Result<SecondOutcome, String> {
    let mut tangent_inputs: Vec<Value<f64>> = inputs
        .iter()
        .map(|v| match v {
            Value::Scalar(_) | Value::Matrix(_) => zeros_like(v),
            Value::Bool(_) | Value::Tuple(_) | Value::Constant => Ok(Value::Constant),
        })
        .collect::<Result<_, _>>()?;
    tangent_inputs[k] = direction;
    run_second_seeded(
        grad,
        tangent,
        second,
        inputs,
        &tangent_inputs,
        &[Value::Scalar(1.0)],
        &[k],
        env,
    )
}

/// [`run_second`] with every input's tangent given, and the seed and (second) its tangent.
#[allow(
    clippy::too_many_arguments,
    reason = "the two plans, their program, and the inputs, tangents and seeds of one run"
)]
fn run_second_seeded(
    grad: &Plan,
    tangent: &Plan,
    second: &crate::second::SecondOrder,
    inputs: &[Value<f64>],
    tangent_inputs: &[Value<f64>],
    seeds: &[Value<f64>],
    params: &[usize],
    env: &Env,
) -> Result<SecondOutcome, String> {
    let prog = grad.prog;
    let mut state = State {
        plan: grad,
        inputs,
        tangent_inputs,
        seeds,
        env,
        values: vec![None; prog.nodes.len()],
        adjoints: vec![None; prog.nodes.len()],
        tangents: vec![None; prog.nodes.len()],
        shared: BTreeMap::new(),
        partials: BTreeMap::new(),
        adjoint_tangents: vec![None; prog.nodes.len()],
        shared_tangents: BTreeMap::new(),
        tangent_plan: Some(tangent),
    };
    state.forward()?;
    state.reverse()?;
    for step in &tangent.forward {
        if let Forward::MapPartials(id, partials) = step {
            state.map_partials_of(tangent, *id, partials)?;
        }
    }
    for (v, e) in &tangent.tangent {
        let d = state.eval(e).map_err(|err| format!("d{v}: {err}"))?;
        state.tangents[*v] = Some(d);
    }
    for step in &second.steps {
        match step {
            crate::second::TangentStep::Share { index, expr } => {
                let d = state
                    .eval(expr)
                    .map_err(|err| format!("dt{index}: {err}"))?;
                state.shared_tangents.insert(*index, d);
            }
            crate::second::TangentStep::Declare { target, expr } => {
                if state.adjoint_tangents[*target].is_some() {
                    return Err(format!("dg{target} is declared twice"));
                }
                let d = state
                    .eval(expr)
                    .map_err(|err| format!("dg{target}: {err}"))?;
                state.adjoint_tangents[*target] = Some(d);
            }
            crate::second::TangentStep::Add { target, expr } => {
                let current = state.adjoint_tangents[*target]
                    .take()
                    .ok_or_else(|| format!("dg{target} is updated before it is declared"))?;
                let d = state
                    .eval(expr)
                    .map_err(|err| format!("dg{target}: {err}"))?;
                state.adjoint_tangents[*target] = Some(super::arithmetic('+', &current, &d)?);
            }
        }
    }
    let gradients = params
        .iter()
        .map(|&p| match prog.param_node(p) {
            Some(n) if grad.adj.nonzero[n] => state.eval(&grad.adjoint_operand(n)),
            _ => zeros_like(&inputs[p]),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let gradient = gradients.first().cloned().ok_or("no parameter")?;
    let tangents = params
        .iter()
        .zip(&second.results)
        .map(|(&p, r)| match r {
            Some(r) => state.eval(r),
            None => zeros_like(&inputs[p]),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let value = match prog.output {
        Some(out) => state.value(out)?,
        None => Value::Constant,
    };
    Ok(SecondOutcome {
        value,
        gradient,
        hv: tangents.first().cloned().ok_or("no parameter")?,
        tangents,
        gradients,
    })
}

/// What each iteration of a loop kept as a loop starts from: its inputs and their tangents.
type IterationInputs = (Vec<Value<f64>>, Vec<Value<f64>>);

/// Runs the loop kept as a loop `range` (one iteration is `then`) forwards from `values` and
/// their `tangents`, each iteration's tangent program `plan` on the values and tangents the one
/// before left; keeps on `tape` what each iteration starts from, and returns the tangents after
/// the last.
fn range_tangents(
    range: &crate::ir::Range,
    then: &Program,
    plan: &Plan,
    mut values: Vec<Value<f64>>,
    mut tangents: Vec<Value<f64>>,
    env: &Env,
    mut tape: Option<&mut Vec<IterationInputs>>,
) -> Result<Vec<Value<f64>>, String> {
    let end = i64::try_from(env.size(range.end)?).map_err(|e| e.to_string())?;
    for i in range.start..end {
        let env = super::iteration_env(range, i, env);
        let out = run_tangent(plan, &values, &Tangents(&tangents), &env)?;
        let results = super::evaluate(then, &values, &env)?;
        let Some(Value::Tuple(items)) = out.tangent else {
            return Err("the tangents of a loop's iteration".into());
        };
        if let Some(tape) = tape.as_deref_mut() {
            tape.push((values.clone(), tangents.clone()));
        }
        for (k, &p) in range.carried.iter().enumerate() {
            let o = then.outputs[k];
            values[p] = results.get(o).cloned().ok_or(format!("no result v{o}"))?;
            tangents[p] = items.get(k).cloned().ok_or("a result's tangent")?;
        }
    }
    Ok(tangents)
}

/// Plans and runs the gradient of a function's program with respect to `wrt`.
pub fn planned_gradient(
    prog: &Program,
    inputs: &[Value<f64>],
    wrt: &[usize],
    env: &Env,
) -> Result<Outcome, String> {
    let plan = Plan::new(
        prog,
        Config {
            wrt: wrt.to_vec(),
            ..Config::default()
        },
    );
    run_plan(&plan, inputs, &[Value::Scalar(1.0)], None, env)
}

fn prog_shape(plan: &Plan, v: ValueId) -> Shape {
    plan.prog.shape(v)
}

/// The value at `inputs` of a gradient the derivation shows in closed form: `expr`, an
/// adjoint expression of forward values only, with `adjoints` the closed forms of the `map` and
/// Kronecker node adjoints it reads, later nodes first. Forward values come from the primal
/// interpreter; a `map` adjoint runs the derivative closure the plan for `wrt` has, seeded with
/// the node's closed-form adjoint. Nothing of the adjoint program itself is run.
#[cfg_attr(
    not(test),
    allow(dead_code, reason = "the derivation's tests evaluate closed forms")
)]
pub fn closed_form(
    prog: &Program,
    wrt: &[usize],
    inputs: &[Value<f64>],
    env: &Env,
    expr: &AExpr,
    adjoints: &[(ValueId, AExpr)],
) -> Result<Value<f64>, String> {
    let mut plan = Plan::new(
        prog,
        Config {
            wrt: wrt.to_vec(),
            ..Config::default()
        },
    );
    // A node adjoint is read as the closed form given for it, not as the plan inlines it.
    for (node, _) in adjoints {
        plan.inline_operand[*node] = None;
    }
    let values = super::evaluate(prog, inputs, env)?;
    let seeds = [Value::Scalar(1.0)];
    let mut state = State {
        plan: &plan,
        inputs,
        tangent_inputs: &[],
        seeds: &seeds,
        env,
        values: values.into_iter().map(Some).collect(),
        adjoints: vec![None; prog.nodes.len()],
        tangents: vec![None; prog.nodes.len()],
        shared: BTreeMap::new(),
        partials: BTreeMap::new(),
        adjoint_tangents: vec![None; plan.prog.nodes.len()],
        shared_tangents: BTreeMap::new(),
        tangent_plan: None,
    };
    for (node, e) in adjoints {
        let value = state
            .eval(e)
            .map_err(|e| format!("the adjoint of v{node}: {e}"))?;
        state.adjoints[*node] = Some(value);
    }
    state.eval(expr)
}

struct State<'a, 'p> {
    plan: &'a Plan<'p>,
    inputs: &'a [Value<f64>],
    tangent_inputs: &'a [Value<f64>],
    seeds: &'a [Value<f64>],
    env: &'a Env<'a>,
    values: Vec<Option<Value<f64>>>,
    adjoints: Vec<Option<Value<f64>>>,
    tangents: Vec<Option<Value<f64>>>,
    shared: BTreeMap<usize, Value<f64>>,
    /// The partials of `map` closures the forward pass computed, by node and input.
    partials: BTreeMap<(ValueId, usize), Value<f64>>,
    /// In a second-order program: the tangents of adjoints and of shared values, and the plan
    /// of the tangent program.
    adjoint_tangents: Vec<Option<Value<f64>>>,
    shared_tangents: BTreeMap<usize, Value<f64>>,
    tangent_plan: Option<&'a Plan<'p>>,
}

impl State<'_, '_> {
    fn value(&self, v: ValueId) -> Result<Value<f64>, String> {
        self.values[v]
            .clone()
            .ok_or_else(|| format!("v{v} is read but the plan does not compute it"))
    }

    /// The values read in place: the parameters, and the constants generated code reads where
    /// it uses them (`self.x`, a loop's sample).
    fn read_inputs(&mut self) -> Result<(), String> {
        let prog = self.plan.prog;
        for (id, node) in prog.nodes.iter().enumerate() {
            match node.op {
                Op::Param(k) => self.values[id] = Some(super::param(self.inputs, k)?),
                // Read in place, as generated code reads `self.x` or a loop's sample.
                Op::Field(..) => {
                    self.values[id] = Some(node_value(node, &[], self.inputs, self.env)?);
                }
                Op::Const(..)
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
                | Op::SetEntry(..)
                | Op::View { .. }
                | Op::SetView { .. }
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
                | Op::Call(..) => {}
            }
        }
        Ok(())
    }

    fn forward(&mut self) -> Result<(), String> {
        let prog = self.plan.prog;
        self.read_inputs()?;
        for step in &self.plan.forward {
            let id = match step {
                // The factorisation is the matrix's own; inverse and determinant recompute it.
                Forward::Factor(a) => {
                    self.value(*a)?;
                    continue;
                }
                Forward::Value(id)
                | Forward::FromFactor(id)
                | Forward::Solve(id)
                | Forward::TraceChain(id, _)
                | Forward::Branch(id) => *id,
                Forward::MapPartials(id, inputs) => {
                    self.map_partials(*id, inputs)?;
                    continue;
                }
                Forward::TraceDot(id) => {
                    // tr(A·B) from the product's operands: the product itself is not formed.
                    let product = &prog.nodes[prog.nodes[*id].args[0]];
                    let (a, b) = (self.value(product.args[0])?, self.value(product.args[1])?);
                    let value = a.matrix()?.matmul(b.matrix()?)?.trace()?;
                    self.values[*id] = Some(Value::Scalar(value));
                    continue;
                }
            };
            let node = &prog.nodes[id];
            let args = node
                .args
                .iter()
                .map(|&a| self.value(a))
                .collect::<Result<Vec<_>, _>>()?;
            let refs: Vec<&Value<f64>> = args.iter().collect();
            let value = node_value(node, &refs, self.inputs, self.env)
                .map_err(|e| format!("forward v{id}: {e}"))?;
            if let (Forward::Branch(_), Value::Tuple(items)) = (step, &value) {
                for (v, n) in prog.nodes.iter().enumerate() {
                    if let (Op::Extract(k), [b]) = (&n.op, n.args.as_slice())
                        && *b == id
                    {
                        self.values[v] = items.get(*k).cloned();
                    }
                }
            }
            self.values[id] = Some(value);
        }
        Ok(())
    }

    fn reverse(&mut self) -> Result<(), String> {
        for step in &self.plan.reverse {
            match step {
                Reverse::Share { index, expr } => {
                    let value = self.eval(expr)?;
                    self.shared.insert(*index, value);
                }
                Reverse::Declare { target, expr, .. } => {
                    if self.adjoints[*target].is_some() {
                        return Err(format!("g{target} is declared twice"));
                    }
                    self.adjoints[*target] = Some(self.eval(expr)?);
                }
                Reverse::Update { target, update } => {
                    let current = self.adjoints[*target]
                        .take()
                        .ok_or_else(|| format!("g{target} is updated before it is declared"))?;
                    self.adjoints[*target] = Some(self.update(&current, *target, update)?);
                }
            }
        }
        Ok(())
    }

    fn update(&self, g: &Value<f64>, target: ValueId, u: &Update) -> Result<Value<f64>, String> {
        let shape = self.plan.prog.shape(target);
        let add = |x: Value<f64>| super::arithmetic('+', g, &x);
        match u {
            Update::Add(e) => add(self.eval(e)?),
            Update::Sub(e) => super::arithmetic('-', g, &self.eval(e)?),
            Update::Entry(i, j, s) => add(one_hot(self.eval(s)?.scalar()?, shape, *i, *j, self)?),
            Update::Block(i, j, b) => add(embed(self.eval(b)?.matrix()?, shape, *i, *j, self)?),
            Update::ToDiagonal(v) => add(from_diagonal(self.eval(v)?.matrix()?, shape, self)?),
            Update::EntryAt(at, s) => {
                add(self.eval(&AExpr::OneHotAt(Box::new(s.clone()), shape, at.clone()))?)
            }
            Update::AtExtremum(node, s) => add(self.eval(&AExpr::ExtremumAdjoint {
                node: *node,
                scale: Box::new(s.clone()),
            })?),
            Update::Constant(s) => add(fill(self.eval(s)?.scalar()?, shape, self)?),
            Update::Diagonal(s, n) => {
                let n = self.dim(*n)?;
                let s = self.eval(s)?.scalar()?;
                add(Value::Matrix(Mat::identity(n).map(|v| v * s)))
            }
            Update::Product {
                kernel,
                negate,
                alpha,
                a,
                b,
            } => {
                let alpha = match alpha {
                    Some(s) => self.eval(s)?.scalar()?,
                    None => 1.0,
                };
                let alpha = if *negate { -alpha } else { alpha };
                let (a, b) = (self.eval(a)?, self.eval(b)?);
                let (a, b) = (a.matrix()?, b.matrix()?);
                let product = match kernel {
                    // g += α·u·vᵀ
                    Kernel::Ger => a.matmul(&b.transpose())?,
                    // g += α·Aᵀ·B
                    Kernel::GemmTr => a.transpose().matmul(b)?,
                    Kernel::Gemm => a.matmul(b)?,
                };
                add(Value::Matrix(product.map(|v| v * alpha)))
            }
        }
    }

    /// The matrix of the `Extremum` node `node`, the index of the entry its value took, and
    /// the sign that entry contributes with (its signum for a magnitude, else 1).
    fn extremum(&self, node: ValueId) -> Result<(Mat<f64>, usize, f64), String> {
        let n = &self.plan.prog.nodes[node];
        let Op::Extremum(e) = n.op else {
            return Err(format!("v{node} is not a reduction to an entry"));
        };
        let a = self.value(n.args[0])?.matrix()?.clone();
        let k = a.extremum_index(e.kind());
        let sign = if e.magnitude() {
            a.data[k].signum()
        } else {
            1.0
        };
        Ok((a, k, sign))
    }

    fn dim(&self, d: Dim) -> Result<usize, String> {
        match d {
            Dim::Lit(n) => Ok(n),
            Dim::Sym(_) => {
                let name = d.to_string();
                let n = self
                    .env
                    .constants
                    .ints
                    .get(&name)
                    .ok_or_else(|| format!("no value for the size `{name}`"))?;
                usize::try_from(*n).map_err(|_| format!("the size `{name}` is {n}"))
            }
        }
    }

    fn tangent(&self, v: ValueId) -> Result<Value<f64>, String> {
        if let Op::Param(k) = self.plan.prog.nodes[v].op {
            return self
                .tangent_inputs
                .get(k)
                .cloned()
                .ok_or_else(|| format!("no tangent for parameter {k}"));
        }
        self.tangents[v]
            .clone()
            .ok_or_else(|| format!("d{v} is read before it is defined"))
    }

    /// The tangent of `v` where it carries one, zero where it does not.
    fn tangent_or_zero(&self, v: ValueId) -> Result<Value<f64>, String> {
        if self.tangent_plan.unwrap_or(self.plan).tangent_active[v] {
            self.tangent(v)
        } else {
            zeros_like(&self.value(v)?)
        }
    }

    fn adjoint(&self, v: ValueId) -> Result<Value<f64>, String> {
        self.adjoints[v]
            .clone()
            .ok_or_else(|| format!("g{v} is read before it is declared"))
    }

    /// The value of an adjoint expression.
    #[allow(
        clippy::too_many_lines,
        reason = "one arm per kind of adjoint expression, as in the printer"
    )]
    fn eval(&self, e: &AExpr) -> Result<Value<f64>, String> {
        let ev = |x: &AExpr| self.eval(x);
        let scalar = |x: &AExpr| self.eval(x)?.scalar();
        Ok(match e {
            AExpr::Adj(v) => self.adjoint(*v)?,
            AExpr::Val(v) => self.value(*v)?,
            AExpr::Lit(s) => Value::Scalar(s.parse().map_err(|_| format!("literal `{s}`"))?),
            AExpr::Cast(t) => Value::Scalar(self.env.constants.int(t)? as f64),
            AExpr::Neg(a) => super::negate(&ev(a)?)?,
            AExpr::Add(a, b) => super::arithmetic('+', &ev(a)?, &ev(b)?)?,
            AExpr::Sub(a, b) => super::arithmetic('-', &ev(a)?, &ev(b)?)?,
            AExpr::Mul(a, b) | AExpr::Scale(a, b) | AExpr::MatMul(a, b) => {
                super::arithmetic('*', &ev(a)?, &ev(b)?)?
            }
            AExpr::Div(a, b) | AExpr::DivBy(a, b) => super::arithmetic('/', &ev(a)?, &ev(b)?)?,
            AExpr::Transpose(a) => Value::Matrix(ev(a)?.matrix()?.transpose()),
            AExpr::Dot(a, b) => Value::Scalar(ev(a)?.matrix()?.dot(ev(b)?.matrix()?)?),
            AExpr::ComponentMul(a, b) => {
                Value::Matrix(ev(a)?.matrix()?.component_mul(ev(b)?.matrix()?)?)
            }
            AExpr::ComponentDiv(a, b) => {
                Value::Matrix(ev(a)?.matrix()?.component_div(ev(b)?.matrix()?)?)
            }
            AExpr::Diag(s, n) => {
                let s = scalar(s)?;
                Value::Matrix(Mat::identity(self.dim(*n)?).map(|v| v * s))
            }
            AExpr::Fill(s, shape) => fill(scalar(s)?, *shape, self)?,
            AExpr::OneHot(s, shape, i, j) => one_hot(scalar(s)?, *shape, *i, *j, self)?,
            AExpr::Method(name, a) => Value::Scalar(method(name, scalar(a)?)?),
            AExpr::Helper(f, a) => Value::Scalar(super::unary(*f, scalar(a)?)),
            AExpr::Powi(a, n) => {
                let n = i32::try_from(self.env.constants.int(n)?).map_err(|e| e.to_string())?;
                Value::Scalar(scalar(a)?.powi(n))
            }
            AExpr::Powf(a, p) => Value::Scalar(scalar(a)?.powf(scalar(p)?)),
            AExpr::Step(a, b) => Value::Scalar(if scalar(a)? >= scalar(b)? { 1.0 } else { 0.0 }),
            AExpr::Tan(v) => self.tangent(*v)?,
            AExpr::Trace(a) => Value::Scalar(ev(a)?.matrix()?.trace()?),
            AExpr::Sum(a) => Value::Scalar(ev(a)?.matrix()?.sum()),
            AExpr::Entry(a, i, j) => Value::Scalar(ev(a)?.matrix()?.get(*i, *j)?),
            AExpr::Block(a, i, j, shape) => {
                let (r, c) = matrix_size(*shape, self)?;
                Value::Matrix(ev(a)?.matrix()?.block(*i, *j, r, c)?)
            }
            AExpr::Embed(b, shape, i, j) => embed(ev(b)?.matrix()?, *shape, *i, *j, self)?,
            AExpr::DiagonalOf(a) => Value::Matrix(ev(a)?.matrix()?.diagonal()),
            AExpr::TriSolve { l, rhs, transpose } => {
                let l = self.value(*l)?;
                Value::Matrix(l.matrix()?.tri_solve(ev(rhs)?.matrix()?, *transpose)?)
            }
            AExpr::Phi(a) => Value::Matrix(ev(a)?.matrix()?.lower(0.5)),
            AExpr::SymFromLower(a) => Value::Matrix(ev(a)?.matrix()?.sym_from_lower()),
            AExpr::SymLower(a) => Value::Matrix(ev(a)?.matrix()?.sym_lower()),
            AExpr::EntryAt(a, at) => {
                let m = ev(a)?;
                let m = m.matrix()?;
                let (i, j) = self.env.constants.index(at, m.rows, m.cols)?;
                Value::Scalar(m.get(i, j)?)
            }
            AExpr::OneHotAt(s, shape, at) => {
                let (r, c) = matrix_size(*shape, self)?;
                let (i, j) = self.env.constants.index(at, r, c)?;
                one_hot(scalar(s)?, *shape, i, j, self)?
            }
            AExpr::ExtremumAdjoint { node, scale } => {
                let (a, k, sign) = self.extremum(*node)?;
                let s = scalar(scale)? * sign;
                Value::Matrix(Mat::from_fn(a.rows, a.cols, |i, j| {
                    if i + a.rows * j == k { s } else { 0.0 }
                }))
            }
            AExpr::ExtremumTangent { node, tangent } => {
                let (_, k, sign) = self.extremum(*node)?;
                let t = ev(tangent)?;
                Value::Scalar(t.matrix()?.data.get(k).ok_or("no entry taken")? * sign)
            }
            AExpr::FromDiagonal(v, shape) => from_diagonal(ev(v)?.matrix()?, *shape, self)?,
            AExpr::Cross(a, b) => Value::Matrix(ev(a)?.matrix()?.cross(ev(b)?.matrix()?)?),
            AExpr::Kronecker(a, b) => Value::Matrix(ev(a)?.matrix()?.kronecker(ev(b)?.matrix()?)),
            AExpr::Item(a, k, _) => match ev(a)? {
                Value::Tuple(items) => items
                    .get(*k)
                    .cloned()
                    .ok_or_else(|| format!("item {k} of a tuple of {}", items.len()))?,
                other => return Err(format!("item {k} of {other:?}")),
            },
            AExpr::SolveForward { solve, rhs } => {
                let a = self.value(self.plan.prog.nodes[*solve].args[0])?;
                Value::Matrix(a.matrix()?.solve(ev(rhs)?.matrix()?)?)
            }
            AExpr::PowerTangent {
                base,
                tangent,
                exponent,
            } => {
                let a = self.value(*base)?;
                let k =
                    u32::try_from(self.env.constants.int(exponent)?).map_err(|e| e.to_string())?;
                Value::Matrix(power_tangent(a.matrix()?, ev(tangent)?.matrix()?, k)?)
            }
            AExpr::Partial { node, input } => self
                .partials
                .get(&(*node, *input))
                .cloned()
                .ok_or_else(|| format!("∂{input} of map v{node} is not computed"))?,
            AExpr::BranchTangent { node } => self.branch_tangent(*node)?,
            AExpr::CallTangent { node } => self.call_tangent(*node)?,
            AExpr::AtZero(t, a, b) => {
                if scalar(t)? == 0.0 {
                    self.eval(a)?
                } else {
                    self.eval(b)?
                }
            }
            AExpr::DivOrZero(a, b) => {
                let d = scalar(b)?;
                Value::Scalar(if d == 0.0 { 0.0 } else { scalar(a)? / d })
            }
            AExpr::MapAdj { node, input } => self.map_adjoint(*node, *input)?,
            AExpr::MapAdjTan {
                node,
                input,
                zbar,
                dzbar,
            } => self.map_adjoint_tangent(*node, *input, zbar, dzbar.as_deref())?,
            AExpr::BranchAdjTan {
                node,
                captures,
                zbars,
                dzbars,
            } => self.branch_adjoint_tangent(*node, captures, zbars, dzbars)?,
            AExpr::CallAdjTan { node, seed, dseed } => {
                self.call_adjoint_tangent(*node, seed, dseed.as_deref())?
            }
            AExpr::Shared(k) => self
                .shared
                .get(k)
                .cloned()
                .ok_or_else(|| format!("t{k} is read before it is shared"))?,
            AExpr::AdjTan(v) => self.adjoint_tangents[*v]
                .clone()
                .ok_or_else(|| format!("dg{v} is read before it is declared"))?,
            AExpr::SharedTan(k) => self
                .shared_tangents
                .get(k)
                .cloned()
                .ok_or_else(|| format!("dt{k} is read before it is shared"))?,
            AExpr::DeterminantGradient { matrix, det } => {
                determinant_gradient(self.value(*matrix)?.matrix()?, self.value(*det)?.scalar()?)?
            }
            AExpr::SolveTransposed { solve, rhs } => {
                let a = self.value(self.plan.prog.nodes[*solve].args[0])?;
                Value::Matrix(a.matrix()?.transpose().solve(ev(rhs)?.matrix()?)?)
            }
            AExpr::KroneckerAdjoint { node, left } => self.kronecker_adjoint(*node, *left)?,
            AExpr::KroneckerAdjointOf {
                node,
                left,
                zbar,
                factor,
            } => self.kronecker_adjoint_of(*node, *left, zbar, factor)?,
            AExpr::Seed(j) => self
                .seeds
                .get(*j)
                .cloned()
                .ok_or_else(|| format!("no seed {j}"))?,
            AExpr::BranchAdjoint { node, captures } => self.branch_adjoint(*node, captures)?,
            AExpr::CallAdjoint { node } => self.call_adjoint(*node)?,
            AExpr::Field { tuple, index, .. } => match self.shared.get(tuple) {
                Some(Value::Tuple(items)) => items
                    .get(*index)
                    .cloned()
                    .ok_or_else(|| format!("t{tuple}.{index} does not exist"))?,
                Some(Value::Scalar(_) | Value::Matrix(_) | Value::Bool(_) | Value::Constant)
                | None => return Err(format!("t{tuple} is not a shared tuple")),
            },
            AExpr::Window { node, window } => self.window(*node, window.start, window.len)?,
            AExpr::PowerAdjoint {
                base,
                adjoint,
                exponent,
            } => {
                let a = self.value(*base)?;
                let k =
                    u32::try_from(self.env.constants.int(exponent)?).map_err(|e| e.to_string())?;
                Value::Matrix(power_adjoint(a.matrix()?, ev(adjoint)?.matrix()?, k)?)
            }
            AExpr::PowerAdjointTangent {
                base,
                moving,
                adjoint,
                dadjoint,
                exponent,
            } => {
                let a = self.value(*base)?.matrix()?.clone();
                let zeros = a.map(|_| 0.0);
                let da = if *moving {
                    self.tangent(*base)?.matrix()?.clone()
                } else {
                    zeros.clone()
                };
                let g = ev(adjoint)?.matrix()?.clone();
                let dg = match dadjoint {
                    Some(d) => ev(d)?.matrix()?.clone(),
                    None => zeros,
                };
                let k =
                    u32::try_from(self.env.constants.int(exponent)?).map_err(|e| e.to_string())?;
                Value::Matrix(power_adjoint_tangent(&a, &da, &g, &dg, k)?)
            }
        })
    }

    /// Z̄∘f′(A) for the entry (input 0), or Σ Z̄∘∂f/∂s for a captured scalar, by running the
    /// derivative closure's plan once per entry.
    fn map_adjoint(&self, node: ValueId, input: usize) -> Result<Value<f64>, String> {
        let prog = self.plan.prog;
        let args = &prog.nodes[node].args;
        let child = self.plan.child(node, Role::MapAdjoint(input));
        let a = self.value(args[0])?;
        let z = self.value(node)?;
        let g = self.eval(&self.plan.adjoint_operand(node))?;
        let (a, z) = (a.matrix()?, z.matrix()?);
        let g = match g {
            Value::Matrix(m) => m,
            Value::Scalar(s) => Mat::from_fn(a.rows, a.cols, |_, _| s),
            other => return Err(format!("the adjoint of map v{node} is {other:?}")),
        };
        let mut inputs = vec![Value::Scalar(0.0)];
        for &c in &args[1..] {
            inputs.push(self.value(c)?);
        }
        let mut entries = Vec::with_capacity(a.data.len());
        for k in 0..a.data.len() {
            inputs[0] = Value::Scalar(a.data[k]);
            let seeds = [Value::Scalar(g.data[k])];
            let out = run_plan(
                child,
                &inputs,
                &seeds,
                Some(Value::Scalar(z.data[k])),
                self.env,
            )?;
            entries.push(out.gradients.first().ok_or("no gradient")?.scalar()?);
        }
        if input == 0 {
            Ok(Value::Matrix(Mat::from_column_major(
                a.rows, a.cols, entries,
            )?))
        } else {
            Ok(Value::Scalar(entries.iter().sum()))
        }
    }

    /// The tangent of `MapAdj { node, input }`: the closure's second-order program run entry by
    /// entry, seeded with the entries of Z̄ and dZ̄, the entry's and the captures' tangents given.
    fn map_adjoint_tangent(
        &self,
        node: ValueId,
        input: usize,
        zbar: &AExpr,
        dzbar: Option<&AExpr>,
    ) -> Result<Value<f64>, String> {
        let prog = self.plan.prog;
        let args = &prog.nodes[node].args;
        let Op::Map(sub) = &prog.nodes[node].op else {
            return Err(format!("v{node} is not a map"));
        };
        let tangent_plan = self.tangent_plan.ok_or("no tangent program")?;
        let moving = crate::second::moving_inputs(prog, tangent_plan, node);
        let (adjoint, tangent) = crate::second::body_plans(sub, input, &moving);
        let body = crate::second::body_second(&adjoint, &tangent, input, dzbar.is_some())
            .map_err(ToOwned::to_owned)?;
        let a = self.value(args[0])?.matrix()?.clone();
        let entrywise = |v: Value<f64>| -> Result<Mat<f64>, String> {
            match v {
                Value::Matrix(m) => Ok(m),
                Value::Scalar(s) => Ok(Mat::from_fn(a.rows, a.cols, |_, _| s)),
                other => Err(format!("an adjoint of map v{node} is {other:?}")),
            }
        };
        let g = entrywise(self.eval(zbar)?)?;
        let dg = match dzbar {
            Some(d) => Some(entrywise(self.eval(d)?)?),
            None => None,
        };
        let da = if moving.contains(&0) {
            Some(self.tangent(args[0])?.matrix()?.clone())
        } else {
            None
        };
        let mut inputs = vec![Value::Scalar(0.0)];
        let mut tangent_inputs = vec![Value::Scalar(0.0)];
        for (k, &c) in args.iter().enumerate().skip(1) {
            inputs.push(self.value(c)?);
            tangent_inputs.push(if moving.contains(&k) {
                self.tangent(c)?
            } else {
                Value::Scalar(0.0)
            });
        }
        let mut entries = Vec::with_capacity(a.data.len());
        for e in 0..a.data.len() {
            inputs[0] = Value::Scalar(a.data[e]);
            tangent_inputs[0] = Value::Scalar(da.as_ref().map_or(0.0, |d| d.data[e]));
            let seeds = [
                Value::Scalar(g.data[e]),
                Value::Scalar(dg.as_ref().map_or(0.0, |d| d.data[e])),
            ];
            let out = run_second_seeded(
                &adjoint,
                &tangent,
                &body,
                &inputs,
                &tangent_inputs,
                &seeds,
                &[input],
                self.env,
            )?;
            entries.push(out.hv.scalar()?);
        }
        if input == 0 {
            Ok(Value::Matrix(Mat::from_column_major(
                a.rows, a.cols, entries,
            )?))
        } else {
            Ok(Value::Scalar(entries.iter().sum()))
        }
    }

    /// The tangent of `BranchAdjoint { node, captures }`: the taken branch's second-order
    /// program, seeded with the adjoints of the `if`'s results and their tangents.
    fn branch_adjoint_tangent(
        &self,
        node: ValueId,
        captures: &[usize],
        zbars: &[AExpr],
        dzbars: &[Option<AExpr>],
    ) -> Result<Value<f64>, String> {
        if let Some(range) = crate::second::range_of(self.plan.prog, node) {
            return self.range_adjoint_tangent(node, range, captures, zbars, dzbars);
        }
        let prog = self.plan.prog;
        let args = &prog.nodes[node].args;
        let tangent_plan = self.tangent_plan.ok_or("no tangent program")?;
        let moving = crate::second::moving_captures(prog, tangent_plan, node);
        let seeded: Vec<bool> = dzbars.iter().map(Option::is_some).collect();
        let taken = self.value(args[0])?.boolean()?;
        let (adjoint, tangent, second) =
            crate::second::branch_side(prog, node, taken, captures, &moving, &seeded)
                .map_err(ToOwned::to_owned)?;
        let mut seeds = zbars
            .iter()
            .map(|z| self.eval(z))
            .collect::<Result<Vec<_>, _>>()?;
        for (d, z) in dzbars.iter().zip(seeds.clone()) {
            seeds.push(match d {
                Some(d) => self.eval(d)?,
                None => zeros_like(&z)?,
            });
        }
        let mut inputs = Vec::new();
        let mut tangent_inputs = Vec::new();
        for (k, &a) in args[1..].iter().enumerate() {
            let value = self.value(a)?;
            tangent_inputs.push(if moving.contains(&k) {
                self.tangent(a)?
            } else {
                match value {
                    Value::Scalar(_) | Value::Matrix(_) => zeros_like(&value)?,
                    Value::Bool(_) | Value::Tuple(_) | Value::Constant => Value::Constant,
                }
            });
            inputs.push(value);
        }
        if let Op::Branch {
            over: Some(over), ..
        } = &prog.nodes[node].op
        {
            let zeros = captures
                .iter()
                .map(|&k| zeros_of(prog.shape(args[k + 1]), self))
                .collect::<Result<_, _>>()?;
            let sums = super::sum_over_samples(over, self.env, zeros, |env| {
                let out = run_second_seeded(
                    &adjoint,
                    &tangent,
                    &second,
                    &inputs,
                    &tangent_inputs,
                    &seeds,
                    captures,
                    env,
                )?;
                Ok(out.tangents)
            })?;
            return Ok(Value::Tuple(sums));
        }
        let out = run_second_seeded(
            &adjoint,
            &tangent,
            &second,
            &inputs,
            &tangent_inputs,
            &seeds,
            captures,
            self.env,
        )?;
        Ok(Value::Tuple(out.tangents))
    }

    /// The adjoints of the captures `captures` of the `if` node, from the adjoint program of
    /// the branch taken, seeded with the adjoints of the `if`'s results.
    fn branch_adjoint(&self, node: ValueId, captures: &[usize]) -> Result<Value<f64>, String> {
        let prog = self.plan.prog;
        let args = &prog.nodes[node].args;
        let Op::Branch { then, .. } = &prog.nodes[node].op else {
            return Err(format!("v{node} is not an `if`"));
        };
        let taken = self.value(args[0])?.boolean()?;
        let child = self.plan.child(node, Role::BranchAdjoint(taken));
        let mut seeds = Vec::new();
        for (k, &o) in then.outputs.iter().enumerate() {
            let extract = prog
                .nodes
                .iter()
                .position(|n| matches!(n.op, Op::Extract(j) if j == k) && n.args == [node]);
            seeds.push(match extract {
                Some(e) if self.plan.adj.nonzero[e] => self.eval(&self.plan.adjoint_operand(e))?,
                _ => zeros_of(then.shape(o), self)?,
            });
        }
        let inputs = args[1..]
            .iter()
            .map(|&a| self.value(a))
            .collect::<Result<Vec<_>, _>>()?;
        if let Op::Branch {
            over: Some(over), ..
        } = &prog.nodes[node].op
            && let Some(range) = &over.range
        {
            return self.range_adjoint(node, range, child, captures, inputs, seeds);
        }
        if let Op::Branch {
            over: Some(over), ..
        } = &prog.nodes[node].op
        {
            let zeros = captures
                .iter()
                .map(|&k| zeros_of(prog.shape(args[k + 1]), self))
                .collect::<Result<_, _>>()?;
            let sums = super::sum_over_samples(over, self.env, zeros, |env| {
                Ok(run_plan(child, &inputs, &seeds, None, env)?.gradients)
            })?;
            return Ok(Value::Tuple(sums));
        }
        let out = run_plan(child, &inputs, &seeds, None, self.env)?;
        Ok(Value::Tuple(out.gradients))
    }

    /// The tangents of the adjoints of the captures of a loop kept as a loop: its iterations'
    /// tangent programs run forwards, keeping the values and tangents each iteration starts
    /// from, then their second-order programs run backwards, seeded with the adjoints of the
    /// iteration's results and their tangents, which the carried parameters' adjoints and
    /// tangents replace for the iteration before; the other captures' tangents summed.
    fn range_adjoint_tangent(
        &self,
        node: ValueId,
        range: &crate::ir::Range,
        captures: &[usize],
        zbars: &[AExpr],
        dzbars: &[Option<AExpr>],
    ) -> Result<Value<f64>, String> {
        let prog = self.plan.prog;
        let Op::Branch { then, .. } = &prog.nodes[node].op else {
            return Err(format!("v{node} is not a loop"));
        };
        let args = &prog.nodes[node].args;
        let tangent_plan = self.tangent_plan.ok_or("no tangent program")?;
        let moving = crate::second::moving_captures(prog, tangent_plan, node);
        let (adjoint, tangent, second) =
            crate::second::range_body(prog, node, captures, &moving).map_err(ToOwned::to_owned)?;
        let wrt = adjoint.config.wrt.clone();
        let (mut values, mut tangents) = (Vec::new(), Vec::new());
        for (k, &a) in args[1..].iter().enumerate() {
            let value = self.value(a)?;
            tangents.push(if moving.contains(&k) {
                self.tangent(a)?
            } else {
                match value {
                    Value::Scalar(_) | Value::Matrix(_) => zeros_like(&value)?,
                    Value::Bool(_) | Value::Tuple(_) | Value::Constant => Value::Constant,
                }
            });
            values.push(value);
        }
        let mut tape = Vec::new();
        range_tangents(
            range,
            then,
            &tangent,
            values,
            tangents,
            self.env,
            Some(&mut tape),
        )?;
        let mut z = zbars
            .iter()
            .map(|e| self.eval(e))
            .collect::<Result<Vec<_>, _>>()?;
        let mut dz = dzbars
            .iter()
            .zip(&z)
            .map(|(d, z)| match d {
                Some(d) => self.eval(d),
                None => zeros_like(z),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut sums: Vec<Value<f64>> = captures
            .iter()
            .map(|&c| zeros_of(prog.shape(args[c + 1]), self))
            .collect::<Result<_, _>>()?;
        let at = |p: usize| {
            wrt.iter()
                .position(|&w| w == p)
                .ok_or(format!("p{p} is not planned"))
        };
        for step in (0..tape.len()).rev() {
            let i = range.start + i64::try_from(step).map_err(|e| e.to_string())?;
            let env = super::iteration_env(range, i, self.env);
            let seeds = [z.clone(), dz.clone()].concat();
            let (inputs, tangent_inputs) = &tape[step];
            let out = run_second_seeded(
                &adjoint,
                &tangent,
                &second,
                inputs,
                tangent_inputs,
                &seeds,
                &wrt,
                &env,
            )?;
            for (s, &c) in sums.iter_mut().zip(captures) {
                if !range.carried.contains(&c) {
                    *s = super::add_values(s, &out.tangents[at(c)?])?;
                }
            }
            z = range
                .carried
                .iter()
                .map(|&p| Ok(out.gradients[at(p)?].clone()))
                .collect::<Result<_, String>>()?;
            dz = range
                .carried
                .iter()
                .map(|&p| Ok(out.tangents[at(p)?].clone()))
                .collect::<Result<_, String>>()?;
        }
        for (s, &c) in sums.iter_mut().zip(captures) {
            if let Some(k) = range.carried.iter().position(|&p| p == c) {
                *s = dz[k].clone();
            }
        }
        Ok(Value::Tuple(sums))
    }

    /// The adjoints of the captures of a loop kept as a loop: its iterations' adjoint programs
    /// run backwards on the inputs each iteration had, the carried parameters' adjoints seeding
    /// the iteration before, the other captures' summed.
    fn range_adjoint(
        &self,
        node: ValueId,
        range: &crate::ir::Range,
        child: &Plan,
        captures: &[usize],
        inputs: Vec<Value<f64>>,
        seeds: Vec<Value<f64>>,
    ) -> Result<Value<f64>, String> {
        let prog = self.plan.prog;
        let Op::Branch { then, .. } = &prog.nodes[node].op else {
            return Err(format!("v{node} is not a loop"));
        };
        let (_, tape) = super::run_range(range, then, inputs, self.env)?;
        let wrt = &child.config.wrt;
        let at = |p: usize| wrt.iter().position(|&w| w == p);
        let args = &prog.nodes[node].args;
        let mut z = seeds;
        let mut sums: Vec<Value<f64>> = captures
            .iter()
            .map(|&c| zeros_of(prog.shape(args[c + 1]), self))
            .collect::<Result<_, _>>()?;
        for step in (0..tape.len()).rev() {
            let i = range.start + i64::try_from(step).map_err(|e| e.to_string())?;
            let env = super::iteration_env(range, i, self.env);
            let out = run_plan(child, &tape[step], &z, None, &env)?;
            let gradient = |p: usize| -> Result<Value<f64>, String> {
                match at(p) {
                    Some(j) => out
                        .gradients
                        .get(j)
                        .cloned()
                        .ok_or(format!("no gradient {j}")),
                    None => zeros_of(prog.shape(args[p + 1]), self),
                }
            };
            for (s, &c) in sums.iter_mut().zip(captures) {
                if !range.carried.contains(&c) {
                    *s = super::add_values(s, &gradient(c)?)?;
                }
            }
            z = range
                .carried
                .iter()
                .map(|&p| gradient(p))
                .collect::<Result<_, _>>()?;
        }
        for (s, &c) in sums.iter_mut().zip(captures) {
            if let Some(k) = range.carried.iter().position(|&p| p == c) {
                *s = z[k].clone();
            }
        }
        Ok(Value::Tuple(sums))
    }

    /// The gradients of a call's value arguments: the callee's vector-Jacobian product, seeded
    /// with the call's adjoint.
    fn call_adjoint(&self, node: ValueId) -> Result<Value<f64>, String> {
        let prog = self.plan.prog;
        let Op::Call(site) = &prog.nodes[node].op else {
            return Err(format!("v{node} is not a call"));
        };
        let path = crate::text::tokens(&site.path);
        let function = self
            .env
            .functions
            .and_then(|r| r.get(&path))
            .ok_or_else(|| format!("no function `{path}` to call"))?;
        let seed = self.eval(&self.plan.adjoint_operand(node))?;
        let args = prog.nodes[node]
            .args
            .iter()
            .map(|&a| self.value(a))
            .collect::<Result<Vec<_>, _>>()?;
        let (inputs, constants) = super::call_inputs(site, function, &args, self.env)?;
        let floats: Vec<usize> = (0..function.func.params.len())
            .filter(|&k| function.func.params[k].kind.float().is_some())
            .collect();
        let plan = Plan::new(
            &function.prog,
            Config {
                wrt: floats,
                ..Config::default()
            },
        );
        let callee = self.env.callee(constants)?;
        let out = run_plan(&plan, &inputs, &[seed], None, &callee)?;
        Ok(Value::Tuple(out.gradients))
    }

    /// The tangent of `CallAdjoint { node }`: the callee's second-order program (what its
    /// `_vjp_jvp` runs), seeded with the call's adjoint and its tangent, the arguments' tangents
    /// given; the tangents of the callee's gradients, as a tuple.
    fn call_adjoint_tangent(
        &self,
        node: ValueId,
        seed: &AExpr,
        dseed: Option<&AExpr>,
    ) -> Result<Value<f64>, String> {
        let prog = self.plan.prog;
        let Op::Call(site) = &prog.nodes[node].op else {
            return Err(format!("v{node} is not a call"));
        };
        let path = crate::text::tokens(&site.path);
        let function = self
            .env
            .functions
            .and_then(|r| r.get(&path))
            .ok_or_else(|| format!("no function `{path}` to call"))?;
        let seed = self.eval(seed)?;
        let dseed = match dseed {
            Some(d) => self.eval(d)?,
            None => zeros_like(&seed)?,
        };
        let values = &prog.nodes[node].args;
        let args = values
            .iter()
            .map(|&a| self.value(a))
            .collect::<Result<Vec<_>, _>>()?;
        let tangents = values
            .iter()
            .map(|&a| self.tangent_or_zero(a))
            .collect::<Result<Vec<_>, _>>()?;
        let (inputs, constants) = super::call_inputs(site, function, &args, self.env)?;
        let (tangent_inputs, _) = super::call_inputs(site, function, &tangents, self.env)?;
        let floats: Vec<usize> = (0..function.func.params.len())
            .filter(|&k| function.func.params[k].kind.float().is_some())
            .collect();
        let grad = Plan::new(
            &function.prog,
            Config {
                wrt: floats.clone(),
                all_products: true,
                ..Config::default()
            },
        );
        let tangent = Plan::new(
            &function.prog,
            Config {
                wrt: floats.clone(),
                mode: Mode::Forward,
                ..Config::default()
            },
        );
        let second =
            crate::second::tangent_of_reverse(&grad, &tangent, &floats, vec![Some(AExpr::Seed(1))])
                .map_err(|e| format!("not yet twice: {e}"))?;
        let callee = self.env.callee(constants)?;
        let out = run_second_seeded(
            &grad,
            &tangent,
            &second,
            &inputs,
            &tangent_inputs,
            &[seed, dseed],
            &floats,
            &callee,
        )?;
        Ok(Value::Tuple(out.tangents))
    }

    /// The value of a `map` and the partials of its closure with respect to `inputs`: the
    /// closure's planned adjoint program, seeded with 1, once per entry.
    fn map_partials(&mut self, node: ValueId, inputs: &[usize]) -> Result<(), String> {
        self.map_partials_of(self.plan, node, inputs)
    }

    /// [`State::map_partials`] with the closure planned in `plan` (a second-order program's
    /// tangent plan, beside the gradient this state runs).
    fn map_partials_of(
        &mut self,
        plan: &Plan,
        node: ValueId,
        inputs: &[usize],
    ) -> Result<(), String> {
        let args = self.plan.prog.nodes[node].args.clone();
        let child = plan.child(node, Role::MapPartials);
        let a = self.value(args[0])?;
        let a = a.matrix()?.clone();
        let mut closure_inputs = vec![Value::Scalar(0.0)];
        for &c in &args[1..] {
            closure_inputs.push(self.value(c)?);
        }
        let mut value = Vec::with_capacity(a.data.len());
        let mut partials = vec![Vec::with_capacity(a.data.len()); inputs.len()];
        for &x in &a.data {
            closure_inputs[0] = Value::Scalar(x);
            let out = run_plan(
                child,
                &closure_inputs,
                &[Value::Scalar(1.0)],
                None,
                self.env,
            )?;
            value.push(out.value.ok_or("no value")?.scalar()?);
            for (p, g) in partials.iter_mut().zip(&out.gradients) {
                p.push(g.scalar()?);
            }
        }
        self.values[node] = Some(Value::Matrix(Mat::from_column_major(
            a.rows, a.cols, value,
        )?));
        for (&k, data) in inputs.iter().zip(partials) {
            let m = Mat::from_column_major(a.rows, a.cols, data)?;
            self.partials.insert((node, k), Value::Matrix(m));
        }
        Ok(())
    }

    /// The tangents of an `if`'s results: the taken branch's tangent plan.
    fn branch_tangent(&self, node: ValueId) -> Result<Value<f64>, String> {
        let args = &self.plan.prog.nodes[node].args;
        let taken = self.value(args[0])?.boolean()?;
        // In a second-order program the tangent program is planned apart from the gradient.
        let child = self
            .tangent_plan
            .unwrap_or(self.plan)
            .child(node, Role::BranchTangent(taken));
        let inputs = args[1..]
            .iter()
            .map(|&a| self.value(a))
            .collect::<Result<Vec<_>, _>>()?;
        let tangents = args[1..]
            .iter()
            .map(|&a| self.tangent_or_zero(a))
            .collect::<Result<Vec<_>, _>>()?;
        if let Op::Branch {
            over: Some(over),
            then,
            ..
        } = &self.plan.prog.nodes[node].op
            && let Some(range) = &over.range
        {
            let tangents = range_tangents(range, then, child, inputs, tangents, self.env, None)?;
            let finals = range.carried.iter().map(|&p| tangents[p].clone()).collect();
            return Ok(Value::Tuple(finals));
        }
        if let Op::Branch {
            over: Some(over),
            then,
            ..
        } = &self.plan.prog.nodes[node].op
        {
            let zeros = then
                .outputs
                .iter()
                .map(|&o| zeros_of(then.shape(o), self))
                .collect::<Result<_, _>>()?;
            let sums = super::sum_over_samples(over, self.env, zeros, |env| {
                match run_tangent(child, &inputs, &Tangents(&tangents), env)?.tangent {
                    Some(Value::Tuple(items)) => Ok(items),
                    other => Err(format!("the tangents of a loop's body are {other:?}")),
                }
            })?;
            return Ok(Value::Tuple(sums));
        }
        let out = run_tangent(child, &inputs, &Tangents(&tangents), self.env)?;
        out.tangent.ok_or_else(|| "no tangent".into())
    }

    /// The tangent of a call's result: the callee's tangent plan, every value argument seeded.
    fn call_tangent(&self, node: ValueId) -> Result<Value<f64>, String> {
        let prog = self.plan.prog;
        let Op::Call(site) = &prog.nodes[node].op else {
            return Err(format!("v{node} is not a call"));
        };
        let path = crate::text::tokens(&site.path);
        let function = self
            .env
            .functions
            .and_then(|r| r.get(&path))
            .ok_or_else(|| format!("no function `{path}` to call"))?;
        let args = prog.nodes[node]
            .args
            .iter()
            .map(|&a| self.value(a))
            .collect::<Result<Vec<_>, _>>()?;
        let arg_tangents = prog.nodes[node]
            .args
            .iter()
            .map(|&a| self.tangent_or_zero(a))
            .collect::<Result<Vec<_>, _>>()?;
        let (inputs, constants) = super::call_inputs(site, function, &args, self.env)?;
        // The callee's tangents sit where its inputs do: one per value argument, in order.
        let mut given = arg_tangents.into_iter();
        let tangents: Vec<Value<f64>> = inputs
            .iter()
            .map(|v| match v {
                Value::Constant => Value::Constant,
                Value::Scalar(_) | Value::Matrix(_) | Value::Bool(_) | Value::Tuple(_) => {
                    given.next().unwrap_or(Value::Constant)
                }
            })
            .collect();
        let floats: Vec<usize> = (0..function.func.params.len())
            .filter(|&k| function.func.params[k].kind.float().is_some())
            .collect();
        let plan = Plan::new(
            &function.prog,
            Config {
                wrt: floats,
                mode: Mode::Forward,
                ..Config::default()
            },
        );
        let callee = self.env.callee(constants)?;
        let out = run_tangent(&plan, &inputs, &Tangents(&tangents), &callee)?;
        out.tangent.ok_or_else(|| "no tangent".into())
    }

    /// Āᵢⱼ = ⟨Z̄₍ᵢⱼ₎, B⟩ (`left`) or B̄ = Σᵢⱼ Aᵢⱼ·Z̄₍ᵢⱼ₎ for Z = A⊗B.
    fn kronecker_adjoint(&self, node: ValueId, left: bool) -> Result<Value<f64>, String> {
        let args = &self.plan.prog.nodes[node].args;
        let g = self.eval(&self.plan.adjoint_operand(node))?;
        let (a, b) = (self.value(args[0])?, self.value(args[1])?);
        kronecker_adjoint(left, g.matrix()?, a.matrix()?, b.matrix()?)
    }

    /// The same map at an explicit adjoint and other factor (its tangent's terms).
    fn kronecker_adjoint_of(
        &self,
        node: ValueId,
        left: bool,
        zbar: &AExpr,
        factor: &AExpr,
    ) -> Result<Value<f64>, String> {
        let args = &self.plan.prog.nodes[node].args;
        let (g, factor) = (self.eval(zbar)?, self.eval(factor)?);
        let (a, b) = if left {
            (self.value(args[0])?, factor)
        } else {
            (factor, self.value(args[1])?)
        };
        kronecker_adjoint(left, g.matrix()?, a.matrix()?, b.matrix()?)
    }
}

/// Āᵢⱼ = ⟨Z̄₍ᵢⱼ₎, B⟩ (`left`) or B̄ = Σᵢⱼ Aᵢⱼ·Z̄₍ᵢⱼ₎, for Z = A⊗B.
fn kronecker_adjoint(
    left: bool,
    g: &Mat<f64>,
    a: &Mat<f64>,
    b: &Mat<f64>,
) -> Result<Value<f64>, String> {
    {
        let block = |i: usize, j: usize| {
            Mat::from_fn(b.rows, b.cols, |p, q| g.at(i * b.rows + p, j * b.cols + q))
        };
        if left {
            let mut out = Mat::from_fn(a.rows, a.cols, |_, _| 0.0);
            for j in 0..a.cols {
                for i in 0..a.rows {
                    out.data[i + a.rows * j] = block(i, j).dot(b)?;
                }
            }
            Ok(Value::Matrix(out))
        } else {
            let mut out = Mat::from_fn(b.rows, b.cols, |_, _| 0.0);
            for j in 0..a.cols {
                for i in 0..a.rows {
                    let blk = block(i, j);
                    let aij = a.at(i, j);
                    out = out.zip(&blk, "+", |x, y| x + aij * y)?;
                }
            }
            Ok(Value::Matrix(out))
        }
    }
}

impl State<'_, '_> {
    /// The product of the factors `start..start + len` (cyclically) of a trace chain.
    fn window(&self, node: ValueId, start: usize, len: usize) -> Result<Value<f64>, String> {
        let n = &self.plan.prog.nodes[node];
        let Op::TraceChain(transposed) = &n.op else {
            return Err(format!("v{node} is not a trace chain"));
        };
        let k = n.args.len();
        let mut product: Option<Mat<f64>> = None;
        for j in 0..len {
            let i = (start + j) % k;
            let f = self.value(n.args[i])?;
            let f = f.matrix()?;
            let f = if transposed[i] {
                f.transpose()
            } else {
                f.clone()
            };
            product = Some(match product {
                None => f,
                Some(p) => p.matmul(&f)?,
            });
        }
        product
            .map(Value::Matrix)
            .ok_or_else(|| "an empty window".into())
    }
}

fn method(name: &str, x: f64) -> Result<f64, String> {
    Ok(match name {
        "cos" => x.cos(),
        "sin" => x.sin(),
        "ln" => x.ln(),
        "exp" => x.exp(),
        "sqrt" => x.sqrt(),
        "tanh" => x.tanh(),
        "abs" => x.abs(),
        "signum" => x.signum(),
        other => return Err(format!("no method `{other}` in the interpreter")),
    })
}

fn matrix_size(shape: Shape, state: &State) -> Result<(usize, usize), String> {
    match shape {
        Shape::Matrix(r, c) => Ok((state.dim(r)?, state.dim(c)?)),
        other => Err(format!("expected a matrix shape, found {other}")),
    }
}

fn fill(s: f64, shape: Shape, state: &State) -> Result<Value<f64>, String> {
    let (r, c) = matrix_size(shape, state)?;
    Ok(Value::Matrix(Mat::from_fn(r, c, |_, _| s)))
}

fn one_hot(s: f64, shape: Shape, i: usize, j: usize, state: &State) -> Result<Value<f64>, String> {
    let (r, c) = matrix_size(shape, state)?;
    if i >= r || j >= c {
        return Err(format!("entry ({i}, {j}) of a {r}×{c} matrix"));
    }
    Ok(Value::Matrix(Mat::from_fn(r, c, |p, q| {
        if (p, q) == (i, j) { s } else { 0.0 }
    })))
}

/// The matrix of the given shape, zero but for the block `b` at (i, j).
fn embed(
    b: &Mat<f64>,
    shape: Shape,
    i: usize,
    j: usize,
    state: &State,
) -> Result<Value<f64>, String> {
    let (r, c) = matrix_size(shape, state)?;
    let mut m = Mat::from_fn(r, c, |_, _| 0.0);
    m.set_block(i, j, b)?;
    Ok(Value::Matrix(m))
}

/// The matrix of the given shape, zero but for the column `v` on its diagonal.
fn from_diagonal(v: &Mat<f64>, shape: Shape, state: &State) -> Result<Value<f64>, String> {
    let (r, c) = matrix_size(shape, state)?;
    if v.data.len() != r.min(c) {
        return Err(format!(
            "a diagonal of {} entries for a {r}×{c} matrix",
            v.data.len()
        ));
    }
    Ok(Value::Matrix(Mat::from_fn(r, c, |p, q| {
        if p == q { v.data[p] } else { 0.0 }
    })))
}

fn zeros_of(shape: Shape, state: &State) -> Result<Value<f64>, String> {
    match shape {
        Shape::Scalar => Ok(Value::Scalar(0.0)),
        other => fill(0.0, other, state),
    }
}

fn zeros_like(v: &Value<f64>) -> Result<Value<f64>, String> {
    match v {
        Value::Scalar(_) => Ok(Value::Scalar(0.0)),
        Value::Matrix(m) => Ok(Value::Matrix(m.map(|_| 0.0))),
        other => Err(format!("no zero of {other:?}")),
    }
}

/// ∂ det A/∂A: det·A⁻ᵀ, or the cofactor matrix when A is singular.
fn determinant_gradient(a: &Mat<f64>, det: f64) -> Result<Value<f64>, String> {
    if det != 0.0
        && let Ok(inverse) = a.inverse()
    {
        return Ok(Value::Matrix(inverse.transpose().map(|v| v * det)));
    }
    let mut out = a.map(|_| 0.0);
    for j in 0..a.cols {
        for i in 0..a.rows {
            let mut replaced = a.clone();
            for c in 0..a.cols {
                replaced.data[i + a.rows * c] = if c == j { 1.0 } else { 0.0 };
            }
            out.data[i + a.rows * j] = replaced.determinant()?;
        }
    }
    Ok(Value::Matrix(out))
}

/// Σ_{r<k} Aʳ·dA·Aᵏ⁻¹⁻ʳ.
fn power_tangent(a: &Mat<f64>, da: &Mat<f64>, k: u32) -> Result<Mat<f64>, String> {
    let mut out = da.map(|_| 0.0);
    for r in 0..k {
        let term = a.pow(r)?.matmul(da)?.matmul(&a.pow(k - 1 - r)?)?;
        out = out.zip(&term, "+", |x, y| x + y)?;
    }
    Ok(out)
}

/// The differential of Σ_{r<k} (Aʳ)ᵀ·G·(Aᵏ⁻¹⁻ʳ)ᵀ along dA and dG, term by term:
/// d(Aʳ)ᵀ·G·(Aᵏ⁻¹⁻ʳ)ᵀ + (Aʳ)ᵀ·dG·(Aᵏ⁻¹⁻ʳ)ᵀ + (Aʳ)ᵀ·G·d(Aᵏ⁻¹⁻ʳ)ᵀ.
fn power_adjoint_tangent(
    a: &Mat<f64>,
    da: &Mat<f64>,
    g: &Mat<f64>,
    dg: &Mat<f64>,
    k: u32,
) -> Result<Mat<f64>, String> {
    let mut out = g.map(|_| 0.0);
    let add = |x: Mat<f64>, y: &Mat<f64>| x.zip(y, "+", |p, q| p + q);
    for r in 0..k {
        let (left, right) = (a.pow(r)?.transpose(), a.pow(k - 1 - r)?.transpose());
        let (dleft, dright) = (
            power_tangent(a, da, r)?.transpose(),
            power_tangent(a, da, k - 1 - r)?.transpose(),
        );
        out = add(out, &dleft.matmul(g)?.matmul(&right)?)?;
        out = add(out, &left.matmul(dg)?.matmul(&right)?)?;
        out = add(out, &left.matmul(g)?.matmul(&dright)?)?;
    }
    Ok(out)
}

/// Σ_{r<k} (Aʳ)ᵀ·G·(Aᵏ⁻¹⁻ʳ)ᵀ.
fn power_adjoint(a: &Mat<f64>, g: &Mat<f64>, k: u32) -> Result<Mat<f64>, String> {
    let mut out = g.map(|_| 0.0);
    for r in 0..k {
        let left = a.pow(r)?.transpose();
        let right = a.pow(k - 1 - r)?.transpose();
        out = out.zip(&left.matmul(g)?.matmul(&right)?, "+", |x, y| x + y)?;
    }
    Ok(out)
}

#[cfg(test)]
#[path = "closed_forms.rs"]
mod closed_forms;
