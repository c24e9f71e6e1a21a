//! Property tests of the derivative program in numbers: for thousands of generated functions,
//! the gradient the plan computes (run by [`run_plan`]) must equal the exact dual-number
//! derivative of the primal program, and its value the primal's value. Part of `interp`.
//!
//! Inputs are drawn per case from a seeded generator: entries in [−1, 1] shifted away from
//! zero, integer parameters 2, bool parameters at random, const generic sizes 3. A case whose
//! primal cannot be evaluated there (a singular matrix, a logarithm of a negative number, a
//! result that is not finite) is skipped and counted, never compared; the tests require most
//! cases to be compared.

use super::{Env, Function, Mat, Registry, Value, compile, gradient, planned_gradient};
use crate::ir::Dim;
use crate::types::Kind;

/// Why a case was not compared, or how it failed.
#[derive(Debug)]
pub enum Verdict {
    Agrees,
    /// Outside the domain of the primal at the drawn inputs, or not compilable as a function
    /// (const generic sizes the draw does not cover, a call of a function not given).
    Skipped(String),
    Disagrees(String),
}

/// A seeded splitmix64 for the inputs.
pub struct Draw(pub u64);

impl Draw {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in ±[0.2, 1]: away from the kinks of `abs` and the poles of `1/x`.
    fn entry(&mut self) -> f64 {
        let u = (self.next() >> 11) as f64 / (1_u64 << 53) as f64;
        let magnitude = 0.2 + 0.8 * u;
        if self.next() & 1 == 0 {
            magnitude
        } else {
            -magnitude
        }
    }
}

/// The size a dimension has in a run: its literal, or 3 for a const generic size.
fn size(d: Dim) -> usize {
    d.value().unwrap_or(3)
}

/// Compiles `attr`/`src`, draws inputs, and compares the planned gradient with the dual one.
pub fn check(attr: &str, src: &str, draw: &mut Draw) -> Verdict {
    check_with(&[], attr, src, draw)
}

/// [`check`] for a function that calls the functions `helpers` (each `(attr, src)`), which are
/// registered under their names.
pub fn check_with(helpers: &[(&str, &str)], attr: &str, src: &str, draw: &mut Draw) -> Verdict {
    let registry = match registry_of(helpers, true) {
        Ok(r) => r,
        Err(e) => return Verdict::Skipped(e),
    };
    let (func, prog) = match compile(attr, src) {
        Ok(compiled) => compiled,
        Err(e) => return Verdict::Skipped(format!("does not compile: {e}")),
    };
    // The module constants the generated functions read.
    let mut env = Env::with_functions(&registry)
        .float("C", 1.0)
        .float("EPS", 1e-3);
    for name in &func.env.consts {
        env = env.int(name, 3);
    }
    let inputs = draw_inputs(&func, &mut env, draw);
    let (value, reference) = match gradient(&prog, &inputs, &func.wrt, &env) {
        Ok(r) => r,
        Err(e) => return Verdict::Skipped(format!("the primal fails: {e}")),
    };
    let finite = |v: &Value<f64>| v.entries().is_ok_and(|e| e.iter().all(|x| x.is_finite()));
    if !finite(&value) || !reference.iter().all(finite) {
        return Verdict::Skipped("not finite at the drawn inputs".into());
    }
    // An overflow anywhere (an unused `(1000.0).exp()`) makes reverse mode multiply a zero
    // adjoint by an infinite derivative: a point outside the domain, not a wrong rule.
    let values = super::evaluate(&prog, &inputs, &env).unwrap_or_default();
    let numeric = |v: &Value<f64>| matches!(v, Value::Scalar(_) | Value::Matrix(_));
    if !values.iter().all(|v| !numeric(v) || finite(v)) {
        return Verdict::Skipped("an intermediate value is not finite".into());
    }
    // Near a singular matrix every derivative of its inverse is ill-conditioned, the exact
    // reference included: such draws say nothing about the rules.
    if let Some(why) = ill_conditioned(&prog, &values) {
        return Verdict::Skipped(why);
    }
    if let Some(why) = unverified(&prog, &func.wrt, crate::plan::Mode::Reverse) {
        return Verdict::Disagrees(why);
    }
    let planned = match planned_gradient(&prog, &inputs, &func.wrt, &env) {
        Ok(p) => p,
        Err(e) => {
            let plan = crate::plan::Plan::new(
                &prog,
                crate::plan::Config {
                    wrt: func.wrt.clone(),
                    ..crate::plan::Config::default()
                },
            );
            return Verdict::Disagrees(format!(
                "the derivative program fails: {e}\n{prog}\n{plan}"
            ));
        }
    };
    let verdict = match &planned.value {
        Some(planned_value) => compare(&value, &reference, planned_value, &planned.gradients),
        None => Verdict::Disagrees("the function's plan computes no value".into()),
    };
    match verdict {
        Verdict::Agrees => check_tangent(&func, &prog, &inputs, &env, draw),
        other => other,
    }
}

/// Whether a matrix the program inverts, solves with or takes the determinant of is nearly
/// singular at the drawn inputs: ‖A‖·‖A⁻¹‖ (Frobenius) above 10⁶.
fn ill_conditioned(prog: &crate::ir::Program, values: &[Value<f64>]) -> Option<String> {
    use crate::ir::Op;
    for node in &prog.nodes {
        // aᵖ at a = 0 has no derivative in p (ln 0): a point outside the domain.
        if matches!(node.op, Op::Powf)
            && let Some(Value::Scalar(a)) = values.get(node.args[0])
            && *a == 0.0
        {
            return Some(format!("`{}` has a zero base", node.text));
        }
        if !matches!(node.op, Op::Inverse(_) | Op::Solve(_) | Op::Determinant) {
            continue;
        }
        let Some(Value::Matrix(a)) = values.get(node.args[0]) else {
            continue;
        };
        let condition = a
            .inverse()
            .map(|inv| a.norm_squared().sqrt() * inv.norm_squared().sqrt());
        match condition {
            Ok(c) if c < 1e6 => {}
            _ => return Some(format!("`{}` is nearly singular", node.text)),
        }
    }
    None
}

/// The tangent program along a random direction of every float parameter, against the
/// dual-number derivative of the primal along the same direction.
fn check_tangent(
    func: &crate::ast::Func,
    prog: &crate::ir::Program,
    inputs: &[Value<f64>],
    env: &Env,
    draw: &mut Draw,
) -> Verdict {
    let floats: Vec<usize> = (0..func.params.len())
        .filter(|&k| func.params[k].kind.float().is_some())
        .collect();
    let tangents: Vec<Value<f64>> = inputs
        .iter()
        .map(|v| match v {
            Value::Scalar(_) => Value::Scalar(draw.entry()),
            Value::Matrix(m) => Value::Matrix(m.map(|_| draw.entry())),
            Value::Bool(_) | Value::Tuple(_) | Value::Constant => Value::Constant,
        })
        .collect();
    let duals: Vec<Value<super::Dual>> = inputs
        .iter()
        .zip(&tangents)
        .map(|(v, t)| lift_along(v, t))
        .collect();
    let exact = match super::run(prog, &duals, env) {
        Ok(v) => v,
        Err(e) => return Verdict::Skipped(format!("the dual primal fails: {e}")),
    };
    let plan = crate::plan::Plan::new(
        prog,
        crate::plan::Config {
            wrt: floats,
            mode: crate::plan::Mode::Forward,
            ..crate::plan::Config::default()
        },
    );
    if let Some(why) = first_violation(&plan) {
        return Verdict::Disagrees(why);
    }
    let planned = match super::run_tangent(&plan, inputs, &super::Tangents(&tangents), env) {
        Ok(out) => out.tangent,
        Err(e) => return Verdict::Disagrees(format!("the tangent program fails: {e}\n{plan}")),
    };
    let (Ok(exact), Some(Ok(planned))) = (exact.entries(), planned.map(|p| p.entries())) else {
        return Verdict::Disagrees("a tangent has no entries".into());
    };
    let exact: Vec<f64> = exact.iter().map(|d| d.eps).collect();
    if close(&exact, &planned, 1e-8) {
        Verdict::Agrees
    } else {
        Verdict::Disagrees(format!("tangent: planned {planned:?}, exact {exact:?}"))
    }
}

/// A value on dual numbers whose tangent is `tangent`.
fn lift_along(value: &Value<f64>, tangent: &Value<f64>) -> Value<super::Dual> {
    match (value, tangent) {
        (Value::Scalar(x), Value::Scalar(t)) => Value::Scalar(super::Dual::new(*x, *t)),
        (Value::Matrix(m), Value::Matrix(t)) => Value::Matrix(Mat {
            rows: m.rows,
            cols: m.cols,
            data: m
                .data
                .iter()
                .zip(&t.data)
                .map(|(&x, &d)| super::Dual::new(x, d))
                .collect(),
        }),
        _ => value.lift(None),
    }
}

/// The second-order program of a scalar function in its first differentiated parameter X: the
/// Hessian-vector product H·v it computes (run by `run_second`) must equal, entry l by entry,
/// the ε₁ε₂ part of the primal run on hyper-dual numbers with X carrying v along ε₁ and the
/// unit direction of entry l along ε₂. Programs with constructs not yet differentiated twice are
/// skipped.
pub fn check_second(helpers: &[(&str, &str)], attr: &str, src: &str, draw: &mut Draw) -> Verdict {
    let registry = match registry_of(helpers, false) {
        Ok(r) => r,
        Err(e) => return Verdict::Skipped(e),
    };
    let (func, prog) = match super::compile_with(attr, src, false) {
        Ok(compiled) => compiled,
        Err(e) => return Verdict::Skipped(format!("does not compile: {e}")),
    };
    let Some(&k) = func.wrt.first() else {
        return Verdict::Skipped("no differentiated parameter".into());
    };
    if !matches!(func.ret, Kind::Scalar(_)) || prog.output.is_none() {
        return Verdict::Skipped("not a scalar function".into());
    }
    let mut env = Env::with_functions(&registry)
        .float("C", 1.0)
        .float("EPS", 1e-3);
    for name in &func.env.consts {
        env = env.int(name, 3);
    }
    let inputs = draw_inputs(&func, &mut env, draw);
    let config = |mode| crate::plan::Config {
        wrt: vec![k],
        mode,
        all_products: true,
        ..crate::plan::Config::default()
    };
    let grad = crate::plan::Plan::new(&prog, config(crate::plan::Mode::Reverse));
    let tangent = crate::plan::Plan::new(&prog, config(crate::plan::Mode::Forward));
    let second = match crate::second::tangent_of_reverse(&grad, &tangent, &[k], Vec::new()) {
        Ok(second) if crate::second::reads_computed(&grad, &tangent, &second) => second,
        Ok(_) => return Verdict::Skipped("reads a value the gradient does not form".into()),
        Err(construct) => return Verdict::Skipped(format!("not yet twice: {construct}")),
    };
    let direction = match &inputs[k] {
        Value::Scalar(_) => Value::Scalar(draw.entry()),
        Value::Matrix(m) => Value::Matrix(m.map(|_| draw.entry())),
        Value::Bool(_) | Value::Tuple(_) | Value::Constant => {
            return Verdict::Skipped("a parameter without entries".into());
        }
    };
    let (Ok(x), Ok(v)) = (inputs[k].entries(), direction.entries()) else {
        return Verdict::Skipped("a parameter without entries".into());
    };
    let (exact, gradient, value) = match hyper_reference(&prog, &inputs, k, &x, &v, &env) {
        Ok(reference) => reference,
        Err(skipped) => return skipped,
    };
    if let Ok(values) = super::evaluate(&prog, &inputs, &env) {
        // As for the gradient: an overflow anywhere is a point outside the domain.
        let finite = |v: &Value<f64>| v.entries().is_ok_and(|e| e.iter().all(|x| x.is_finite()));
        let numeric = |v: &Value<f64>| matches!(v, Value::Scalar(_) | Value::Matrix(_));
        if !values.iter().all(|v| !numeric(v) || finite(v)) {
            return Verdict::Skipped("an intermediate value is not finite".into());
        }
        if ill_conditioned(&prog, &values).is_some() {
            return Verdict::Skipped("ill-conditioned".into());
        }
    }
    let planned = match super::run_second(&grad, &tangent, &second, &inputs, k, direction, &env) {
        Ok(out) => out,
        Err(e) if e.contains("not yet twice") => return Verdict::Skipped(e),
        // A singular matrix inside a branch, which the check of the top-level values above
        // does not see: the function itself fails there, so the point is outside its domain.
        Err(e) if e.contains("is singular") => return Verdict::Skipped(e),
        Err(e) => {
            return Verdict::Disagrees(format!(
                "the second-order program fails: {e}\n{prog}\n{grad}"
            ));
        }
    };
    let (Ok(hv), Ok(g), Ok(f)) = (
        planned.hv.entries(),
        planned.gradient.entries(),
        planned.value.entries(),
    ) else {
        return Verdict::Disagrees("H·v, the gradient or the value has no entries".into());
    };
    if !close(&[value], &f, 1e-12) || !close(&gradient, &g, 1e-8) {
        return Verdict::Disagrees(format!(
            "value {f:?} and gradient {g:?}, exact {value} and {gradient:?}"
        ));
    }
    if close(&exact, &hv, 1e-8) {
        Verdict::Agrees
    } else {
        Verdict::Disagrees(format!(
            "H·v: planned {hv:?}, exact {exact:?}\n{prog}\n{grad}"
        ))
    }
}

/// The exact H·v, gradient and value of `prog` at `inputs` in its parameter `k` (entries `x`,
/// direction `v`): (H·v)ₗ is the ε₁ε₂ part of a run on hyper-dual numbers along (v, eₗ), (∇f)ₗ
/// its ε₂ part. A point where they are not finite is a skipped case.
fn hyper_reference(
    prog: &crate::ir::Program,
    inputs: &[Value<f64>],
    k: usize,
    x: &[f64],
    v: &[f64],
    env: &Env,
) -> Result<(Vec<f64>, Vec<f64>, f64), Verdict> {
    use super::HyperDual;
    let (mut exact, mut gradient, mut value) = (Vec::new(), Vec::new(), 0.0);
    for l in 0..x.len() {
        let lifted: Vec<Value<HyperDual>> = inputs
            .iter()
            .enumerate()
            .map(|(p, value)| {
                let entry = |i: usize, re: f64| {
                    if p == k {
                        HyperDual::new(re, v[i], f64::from(u8::from(i == l)), 0.0)
                    } else {
                        HyperDual::new(re, 0.0, 0.0, 0.0)
                    }
                };
                value.lift_with(&entry)
            })
            .collect();
        match super::run(prog, &lifted, env).map(|r| r.entries()) {
            Ok(Ok(r)) if r.len() == 1 && r[0].re.is_finite() && r[0].e12.is_finite() => {
                exact.push(r[0].e12);
                gradient.push(r[0].e2);
                value = r[0].re;
            }
            Ok(_) => return Err(Verdict::Skipped("not finite at the drawn inputs".into())),
            Err(e) => return Err(Verdict::Skipped(format!("the primal fails: {e}"))),
        }
    }
    Ok((exact, gradient, value))
}

/// The functions `helpers` (each `(attr, src)`), compiled and registered under their names.
fn registry_of(helpers: &[(&str, &str)], traces: bool) -> Result<Registry, String> {
    let mut registry = Registry::new();
    for (attr, src) in helpers {
        let (func, prog) = super::compile_with(attr, src, traces)
            .map_err(|e| format!("a helper does not compile: {e}"))?;
        let constants = super::Constants::default();
        registry.insert(
            func.name.to_string(),
            Function {
                func,
                prog,
                constants,
            },
        );
    }
    Ok(registry)
}

/// Inputs for `func`'s parameters: floats drawn, integer parameters 2 and bool parameters drawn
/// into `env`.
fn draw_inputs(func: &crate::ast::Func, env: &mut Env, draw: &mut Draw) -> Vec<Value<f64>> {
    let mut inputs = Vec::new();
    for param in &func.params {
        let name = param.name.to_string();
        inputs.push(match param.kind {
            Kind::Scalar(_) => Value::Scalar(draw.entry()),
            Kind::Matrix { rows, cols, .. } => {
                let (r, c) = (size(rows), size(cols));
                Value::Matrix(Mat::from_fn(r, c, |_, _| draw.entry()))
            }
            Kind::Int => {
                env.constants.ints.insert(name, 2);
                Value::Constant
            }
            Kind::Bool => {
                env.constants.bools.insert(name, draw.next() & 1 == 0);
                Value::Constant
            }
            Kind::Samples { shape, .. } => {
                let set = super::draw_samples(shape, 3, &mut || draw.entry());
                env.constants.samples.insert(name, set);
                Value::Constant
            }
            Kind::Integers => {
                let set = (0..3)
                    .map(|_| i64::try_from(draw.next() % 3).unwrap_or(0))
                    .collect();
                env.constants.integer_sets.insert(name, set);
                Value::Constant
            }
        });
    }
    inputs
}

/// A matrix-valued function (a helper the generated programs call): its tangent program along a
/// random direction, and its adjoint program seeded with a random matrix S (whose gradients are
/// Jᵀ·vec(S)), against dual-number Jacobians of the primal.
pub fn check_matrix_valued(
    helpers: &[(&str, &str)],
    attr: &str,
    src: &str,
    draw: &mut Draw,
) -> Verdict {
    let registry = match registry_of(helpers, true) {
        Ok(r) => r,
        Err(e) => return Verdict::Skipped(e),
    };
    let (func, prog) = match compile(attr, src) {
        Ok(compiled) => compiled,
        Err(e) => return Verdict::Skipped(format!("does not compile: {e}")),
    };
    let mut env = Env::with_functions(&registry)
        .float("C", 1.0)
        .float("EPS", 1e-3);
    for name in &func.env.consts {
        env = env.int(name, 3);
    }
    let inputs = draw_inputs(&func, &mut env, draw);
    let floats: Vec<usize> = (0..func.params.len())
        .filter(|&k| func.params[k].kind.float().is_some())
        .collect();
    let (value, jacobians) = match super::jacobian(&prog, &inputs, &floats, &env) {
        Ok(r) => r,
        Err(e) => return Verdict::Skipped(format!("the primal fails: {e}")),
    };
    let values = super::evaluate(&prog, &inputs, &env).unwrap_or_default();
    let finite = |v: &Value<f64>| v.entries().is_ok_and(|e| e.iter().all(|x| x.is_finite()));
    let numeric = |v: &Value<f64>| matches!(v, Value::Scalar(_) | Value::Matrix(_));
    if !values.iter().all(|v| !numeric(v) || finite(v))
        || jacobians
            .iter()
            .any(|j| j.data.iter().any(|x| !x.is_finite()))
    {
        return Verdict::Skipped("not finite at the drawn inputs".into());
    }
    if let Some(why) = ill_conditioned(&prog, &values) {
        return Verdict::Skipped(why);
    }
    let Value::Matrix(out) = &value else {
        return Verdict::Skipped("a scalar function".into());
    };
    let seed = Mat::from_fn(out.rows, out.cols, |_, _| draw.entry());
    let plan = crate::plan::Plan::new(
        &prog,
        crate::plan::Config {
            wrt: floats.clone(),
            ..crate::plan::Config::default()
        },
    );
    if let Some(why) = first_violation(&plan) {
        return Verdict::Disagrees(why);
    }
    let planned = match super::run_plan(&plan, &inputs, &[Value::Matrix(seed.clone())], None, &env)
    {
        Ok(o) => o.gradients,
        Err(e) => return Verdict::Disagrees(format!("the adjoint program fails: {e}\n{plan}")),
    };
    for (k, (j, g)) in jacobians.iter().zip(&planned).enumerate() {
        // Jᵀ·vec(S): entry l is Σ_r J[(r, l)]·S_r.
        let expected: Vec<f64> = (0..j.cols)
            .map(|l| (0..j.rows).map(|r| j.at(r, l) * seed.data[r]).sum())
            .collect();
        let Ok(got) = g.entries() else {
            return Verdict::Disagrees(format!("gradient {k} has no entries"));
        };
        if !close(&expected, &got, 1e-8) {
            return Verdict::Disagrees(format!(
                "vector-Jacobian product {k}: planned {got:?}, exact {expected:?}"
            ));
        }
    }
    if let Some(why) = check_unit_sweeps(&prog, &inputs, &floats, &jacobians, &env) {
        return Verdict::Disagrees(why);
    }
    check_tangent(&func, &prog, &inputs, &env, draw)
}

/// The columns of each Jacobian as `#[jacobian]` computes them for a small parameter: the
/// tangent program planned with the unit direction of one entry substituted at compile time.
fn check_unit_sweeps(
    prog: &crate::ir::Program,
    inputs: &[Value<f64>],
    floats: &[usize],
    jacobians: &[Mat<f64>],
    env: &Env,
) -> Option<String> {
    for (&k, j) in floats.iter().zip(jacobians) {
        for l in 0..j.cols.min(16) {
            let plan = crate::plan::Plan::new(
                prog,
                crate::plan::Config {
                    wrt: vec![k],
                    mode: crate::plan::Mode::Forward,
                    unit: Some(l),
                    ..crate::plan::Config::default()
                },
            );
            if let Some(why) = first_violation(&plan) {
                return Some(why);
            }
            // The direction itself, for nested bodies that read it.
            let tangents: Vec<Value<f64>> = inputs
                .iter()
                .enumerate()
                .map(|(p, v)| match v {
                    Value::Scalar(_) => Value::Scalar(if p == k { 1.0 } else { 0.0 }),
                    Value::Matrix(m) => Value::Matrix(Mat::from_fn(m.rows, m.cols, |r, c| {
                        if p == k && r + m.rows * c == l {
                            1.0
                        } else {
                            0.0
                        }
                    })),
                    other => other.clone(),
                })
                .collect();
            let column = match super::run_tangent(&plan, inputs, &super::Tangents(&tangents), env) {
                Ok(o) => o.tangent.and_then(|t| t.entries().ok()),
                Err(e) => return Some(format!("unit sweep {l} of input {k} fails: {e}\n{plan}")),
            };
            let exact: Vec<f64> = (0..j.rows).map(|r| j.at(r, l)).collect();
            match column {
                Some(c) if close(&exact, &c, 1e-8) => {}
                other => {
                    return Some(format!(
                        "unit sweep {l} of input {k}: planned {other:?}, exact {exact:?}"
                    ));
                }
            }
        }
    }
    None
}

/// The first violation the verifier finds in the plan of `prog` for `wrt` in `mode`.
fn unverified(prog: &crate::ir::Program, wrt: &[usize], mode: crate::plan::Mode) -> Option<String> {
    let plan = crate::plan::Plan::new(
        prog,
        crate::plan::Config {
            wrt: wrt.to_vec(),
            mode,
            ..crate::plan::Config::default()
        },
    );
    first_violation(&plan)
}

/// The first violation of the primal IR's or the plan's invariants, as a disagreement.
fn first_violation(plan: &crate::plan::Plan) -> Option<String> {
    let mut errors = crate::verify::program(plan.prog);
    errors.extend(crate::verify::plan(plan));
    errors
        .into_iter()
        .next()
        .map(|e| format!("the plan fails verification: {e}"))
}

/// Values to 1e-12 and gradients to 1e-8, relative to the largest entry of the reference.
fn compare(
    value: &Value<f64>,
    reference: &[Value<f64>],
    planned_value: &Value<f64>,
    planned: &[Value<f64>],
) -> Verdict {
    let (Ok(v), Ok(p)) = (value.entries(), planned_value.entries()) else {
        return Verdict::Disagrees("a value has no entries".into());
    };
    if !close(&v, &p, 1e-12) {
        return Verdict::Disagrees(format!("value {p:?}, primal {v:?}"));
    }
    for (k, (r, g)) in reference.iter().zip(planned).enumerate() {
        let (Ok(r), Ok(g)) = (r.entries(), g.entries()) else {
            return Verdict::Disagrees(format!("gradient {k} has no entries"));
        };
        if !close(&r, &g, 1e-8) {
            return Verdict::Disagrees(format!("gradient {k}: planned {g:?}, exact {r:?}"));
        }
    }
    Verdict::Agrees
}

fn close(a: &[f64], b: &[f64], tol: f64) -> bool {
    let scale = a.iter().fold(1.0_f64, |m, x| m.max(x.abs()));
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() <= tol * scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tally of verdicts, with the first disagreements kept for the failure message.
    #[derive(Default)]
    struct Tally {
        agree: usize,
        skipped: usize,
        failures: Vec<String>,
    }

    impl Tally {
        fn add(&mut self, attr: &str, src: &str, verdict: Verdict) {
            match verdict {
                Verdict::Agrees => self.agree += 1,
                Verdict::Skipped(why) => {
                    self.skipped += 1;
                    // `MATGRAD_SKIPS=1` lists why cases were skipped, to keep the count honest.
                    if std::env::var_os("MATGRAD_SKIPS").is_some() {
                        eprintln!("skipped: {}", why.lines().next().unwrap_or(""));
                    }
                }
                Verdict::Disagrees(why) => {
                    self.failures
                        .push(format!("#[gradient({attr})] {src}\n  {why}"));
                }
            }
        }

        fn assert_clean(&self, min_compared: usize) {
            assert!(
                self.failures.is_empty(),
                "{} of {} compared cases disagree with dual numbers:\n{}",
                self.failures.len(),
                self.failures.len() + self.agree,
                self.failures.join("\n\n")
            );
            assert!(
                self.agree >= min_compared,
                "only {} cases compared ({} skipped)",
                self.agree,
                self.skipped
            );
        }
    }

    #[test]
    fn hand_written_programs_agree_with_dual_numbers() {
        let cases = [
            (
                "",
                "fn f(beta: &SVector<f64, 3>, x: &SMatrix<f64, 5, 3>, y: &SVector<f64, 5>) -> f64 { let r = y - x * beta; r.norm_squared() }",
            ),
            (
                "",
                "fn f(a: &Matrix3<f64>, x: &Matrix3<f64>, b: &Matrix3<f64>, c: &Matrix3<f64>) -> f64 { (a * x * b * x.transpose() * c).trace() }",
            ),
            (
                "",
                "fn f(w: &SMatrix<f64, 4, 3>, x: &Vector3<f64>, s: f64) -> f64 { (w * x).map(|v| (v * s).tanh()).sum() }",
            ),
            (
                "",
                "fn f(a: &Matrix3<f64>, b: &Vector3<f64>) -> f64 { let m = a * a.transpose() + a; a.lu().solve(b).unwrap().norm() + m.determinant() }",
            ),
            (
                "",
                "fn f(a: &Matrix2<f64>, b: &Matrix2<f64>) -> f64 { a.kronecker(b).pow(2).trace() }",
            ),
            (
                "",
                "fn f(flag: bool, a: f64) -> f64 { let mut x = a * a; let mut y = a; if flag { x = a; } else { y = x; } x + y }",
            ),
            (
                "",
                "fn f(x: &Vector3<f64>, s: f64) -> f64 { let mut t = s; for i in 0..3 { if x[i] > 0.0 { t = t * x[i]; } else { t = t - x[i].exp(); } } t }",
            ),
            (
                "wrt(a)",
                "fn f(a: &Matrix3<f64>, c: f64) -> f64 { let i = a.try_inverse().unwrap(); (i * c).sum() + a.determinant().abs().ln() }",
            ),
            // The inverse's rule and the product's both form A⁻ᵀ·r (shared once), one of them
            // subtracted in place.
            (
                "",
                "fn f(a: &Matrix4<f64>, r: &Vector4<f64>) -> f64 { r.dot(&(a.try_inverse().unwrap() * r)) - (a.transpose().try_inverse().unwrap() * r).sum() }",
            ),
            // A sum's adjoint s·𝟙 meets an entrywise product: s must not be lost.
            (
                "",
                "fn f(a: &Matrix3<f64>, b: &Matrix3<f64>, s: f64) -> f64 { a.component_mul(b).sum() * s }",
            ),
            // Outer products accumulated into an adjoint that already holds a value (`ger`).
            (
                "",
                "fn f(w: &Matrix3<f64>, x: &Vector3<f64>, y: &Vector3<f64>) -> f64 { (w * x).map(|v| v.tanh()).sum() + (w * y).norm_squared() }",
            ),
            // Piecewise functions on both sides of their kinks.
            (
                "",
                "fn f(w: &Vector3<f64>, x: &Vector3<f64>, s: f64) -> f64 { (1.0 - s * w.dot(x)).max(0.0) + f64::min(w.norm(), s.abs()) + w[0].clamp(-0.3, 0.3) + (w * s).map(|v| v.max(-0.1)).sum() }",
            ),
            // A solve with only one of its operands differentiated, each way.
            (
                "wrt(a)",
                "fn f(a: &Matrix3<f64>, b: &Vector3<f64>) -> f64 { a.lu().solve(b).unwrap().norm_squared() }",
            ),
            (
                "wrt(b)",
                "fn f(a: &Matrix3<f64>, b: &Vector3<f64>) -> f64 { a.lu().solve(b).unwrap().norm_squared() }",
            ),
            // An array literal of values, read by index.
            (
                "",
                "fn f(w: &Vector3<f64>, s: f64) -> f64 { let l = [w[0] * s, w[1].sin(), 0.5]; l[0] * l[1] + l[2] * w[2] + l[1] }",
            ),
            // In a branch, the adjoint of an inverse times a vector reads the stored product
            // −A⁻ᵀ·ḡ·(A⁻¹·b)ᵀ: the branch's reverse pass must compute it.
            (
                "wrt(a)",
                "fn f(a: &Matrix3<f64>, b: &Vector3<f64>, s: f64) -> f64 { let mut t = *b; if s > 0.0 { t += (a + a.transpose() * 0.5).try_inverse().unwrap() * b.map(|v| 0.3); } t.norm_squared() }",
            ),
        ];
        let mut tally = Tally::default();
        for (k, (attr, src)) in cases.iter().enumerate() {
            for seed in 0..4 {
                let mut draw = Draw(seed * 97 + k as u64);
                tally.add(attr, src, check(attr, src, &mut draw));
            }
        }
        tally.assert_clean(52);
    }

    /// Blocks read (`row`, `column`, `fixed_rows`, `fixed_columns`, `fixed_view`) and written
    /// (`set_row`, `set_column`) at offsets other than 0, diagonals and cross products (of
    /// columns and of rows), entries at run-time indices, the entries `max`, `min`, `amax`,
    /// `amin` take, and Cholesky factorisations (of matrices whose upper triangle differs from
    /// the lower, which the factorisation does not read), through
    /// products, maps and branches: gradients and tangents against dual numbers, H·v against
    /// hyper-dual numbers.
    #[test]
    fn views_agree_with_dual_numbers() {
        let cases = [
            "fn f(w: &SMatrix<f64, 3, 4>, x: &Vector4<f64>) -> f64 { (w.row(1) * x)[0].tanh() + w.column(2).map(|v| v.sin()).sum() * w[(2, 3)] }",
            "fn f(w: &SMatrix<f64, 3, 4>, x: &Vector4<f64>) -> f64 { let b = w.fixed_view::<2, 3>(1, 1); (b * b.transpose()).determinant() + w.fixed_rows::<2>(1).norm_squared() * x[1] }",
            "fn f(w: &SMatrix<f64, 3, 4>, y: &Vector3<f64>) -> f64 { let mut m = *w * 0.5; m.set_row(2, &(w.row(1) * w[(0, 0)])); m.set_column(1, &(w.column(3) - y)); (m * m.transpose()).trace() + m.fixed_columns::<2>(2).map(|v| v.exp()).sum() }",
            "fn f(w: &SMatrix<f64, 3, 4>, x: &Vector3<f64>) -> f64 { let d = (w * w.transpose()).diagonal(); let c = w.column(1).cross(&(x + d)); c.norm_squared() + w.diagonal().map(|v| v.tanh()).dot(&c) + (w.fixed_view::<1, 3>(2, 1).cross(&x.transpose()) * w.column(0))[0] }",
            "fn f(w: &SMatrix<f64, 3, 4>, x: &Vector4<f64>) -> f64 { let h = (w * x).map(|v| v.tanh()); h.max() * w.amax() + (w * 2.0 - w.transpose().transpose()).min().powi(2) + (h - w.column(3)).amin() * w[(1, 1)] }",
            "fn f(w: &SMatrix<f64, 3, 4>, k: usize) -> f64 { let z = w * w.row(1).transpose(); z.map(|v| v.exp()).sum().ln() - z[k] + w[(k - 1, k + 1)].powi(3) * w[(0, k)] }",
            "fn f(w: &SMatrix<f64, 3, 4>, x: &Vector3<f64>) -> f64 { let a = w * w.transpose() + w.fixed_view::<3, 3>(0, 1) * 0.2 + Matrix3::identity() * 2.0; let c = a.cholesky().unwrap(); c.solve(&x).dot(&x) + c.ln_determinant() + (c.l() * x).map(|v| v.sin()).sum() }",
            "fn f(w: &SMatrix<f64, 3, 4>, x: &Vector3<f64>) -> f64 { let a = w * w.transpose() + Matrix3::identity(); let c = a.cholesky().expect(\"positive definite\"); c.inverse().trace() * c.determinant().sqrt() + c.l()[(2, 1)] * x[0] }",
            "fn f(w: &SMatrix<f64, 3, 4>, s: f64) -> f64 { let mut m = w.fixed_view::<3, 3>(0, 1) * s; if s > 0.0 { m.set_column(0, &(w.column(0) * 2.0)); } else { m.set_row(1, &w.fixed_view::<1, 3>(2, 0)); } m.try_inverse().unwrap().sum() + (w.fixed_columns::<1>(3).transpose() * m.column(2))[0] }",
        ];
        let mut first = Tally::default();
        let mut second = Tally::default();
        for (k, src) in cases.iter().enumerate() {
            if let Err(e) = crate::interp::compile_with("", src, false) {
                panic!("{src}\ndoes not compile: {e}");
            }
            for seed in 0..6 {
                let mut draw = Draw(seed * 131 + k as u64);
                first.add("", src, check("", src, &mut draw));
                let mut draw = Draw(seed * 137 + k as u64);
                let attr = "wrt(w)";
                second.add(attr, src, check_second(&[], attr, src, &mut draw));
            }
        }
        first.assert_clean(20);
        second.assert_clean(20);
    }

    /// Loops over data (`for x in xs.iter()`, `for (x, y) in xs.iter().zip(ys.iter())`) summing
    /// into scalars and matrices with `+=` and `-=`, with counted loops, closures, branches,
    /// Cholesky factors and other loops over data inside them and around them: gradients and
    /// tangents against dual numbers, H·v against hyper-dual numbers, over drawn samples.
    #[test]
    fn loops_over_data_agree_with_dual_numbers() {
        let cases = [
            "fn f(w: &Vector3<f64>, xs: &[Vector3<f64>], ys: &[f64]) -> f64 { let mut loss = 0.0; for (x, y) in xs.iter().zip(ys.iter()) { let z = x.dot(w); loss += softplus(z) - *y * z; } loss / xs.len() as f64 + w.norm_squared() }",
            "fn f(w: &SMatrix<f64, 2, 3>, xs: &[Vector3<f64>]) -> f64 { let mut s = Matrix2::zeros(); let mut t = w[(0, 0)]; for x in xs.iter() { let h = (w * x).map(|v| v.tanh()); s += h * h.transpose(); t -= h.sum() * x[1]; } s.determinant() + t * t }",
            "fn f(w: &Vector3<f64>, s: f64, xs: &[Vector3<f64>; 3]) -> f64 { let mut a = w.norm(); for &x in xs.iter() { let mut p = 0.0; for i in 0..3 { p += (x[i] * w[i] * s).sin(); } a += if p > 0.0 { p * p } else { -p * s }; a -= (w - x).norm_squared().max(0.5); } a }",
            "fn f(w: &Vector2<f64>, xs: &[Vector2<f64>], ys: &[Vector2<f64>]) -> f64 { let mut k = 0.0; for x in xs.iter() { for y in ys.iter() { k += (-(x - y).component_mul(w).norm_squared()).exp(); } } k.ln() }",
            "fn f(w: &Vector2<f64>, flag: bool, ts: &[f64]) -> f64 { let mut v = w.sum(); if flag { for t in ts.iter() { v += (w[0] * *t).exp() * w[1]; } } else { v = v * v; } v }",
            "fn f(l: &Matrix2<f64>, xs: &[Vector2<f64>]) -> f64 { let a = l * l.transpose() + Matrix2::identity(); let c = a.cholesky().unwrap(); let mut q = 0.0; for x in xs.iter() { q += c.solve(x).dot(x); } q + c.ln_determinant() }",
            "fn f(w: &SMatrix<f64, 3, 2>, xs: &[Vector2<f64>], labels: &[usize]) -> f64 { let mut loss = 0.0; for (x, &k) in xs.iter().zip(labels.iter()) { let z = w * x; let m = z.max(); loss += m + z.map(|v| (v - m).exp()).sum().ln() - z[k]; } loss / xs.len() as f64 }",
            "fn f(m: &SMatrix<f64, 2, 2>, xs: &[SMatrix<f64, 2, 2>], cs: &[f64]) -> f64 { let mut g = SMatrix::<f64, 2, 2>::zeros(); for (x, c) in xs.iter().zip(cs) { g += (m * x).map(|v| v.tanh()) * *c; g -= x.transpose() * m[(1, 0)]; } g.norm_squared() }",
        ];
        let mut first = Tally::default();
        let mut second = Tally::default();
        for (k, src) in cases.iter().enumerate() {
            if let Err(e) = crate::interp::compile_with("", src, false) {
                panic!("{src}\ndoes not compile: {e}");
            }
            for seed in 0..6 {
                let mut draw = Draw(seed * 139 + k as u64);
                first.add("", src, check("", src, &mut draw));
                let mut draw = Draw(seed * 149 + k as u64);
                let attr = match k {
                    5 => "wrt(l)",
                    7 => "wrt(m)",
                    _ => "wrt(w)",
                };
                second.add(attr, src, check_second(&[], attr, src, &mut draw));
            }
        }
        first.assert_clean(42);
        second.assert_clean(42);
    }

    /// Counted loops of more than 64 iterations, kept as loops: carried scalars and matrices,
    /// the counter as a number and as a run-time index, an `if` and a loop over data inside,
    /// a variable only overwritten: gradients and tangents against dual numbers.
    #[test]
    fn loops_kept_as_loops_agree_with_dual_numbers() {
        let cases = [
            "fn f(a: &Matrix2<f64>, v: &Vector2<f64>) -> f64 { let mut x = *v; let mut s = 0.0; for i in 0..70 { x = (a * x).map(|t| t.tanh()) + v * 0.1; s += x.dot(v) * (i as f64) * 0.01; } s + x.norm() }",
            "fn f(w: &Vector3<f64>, xs: &[Vector3<f64>]) -> f64 { let mut m = w * 0.5; let mut last = 0.0; for _ in 0..80 { let mut t = 0.0; for x in xs.iter() { t += (x.dot(&m)).tanh(); } if t > 0.0 { m = m * 0.99 + w * (0.01 * t); } else { m = m * 0.98; } last = t; } last + m.norm_squared() }",
            "fn f(w: &Vector3<f64>, s: f64) -> f64 { let mut acc = 0.0; let mut v = *w; for k in 1..100 { v = v.map(|t| (t * s).sin()) * 0.9 + w * 0.1; acc += v[2] / (k as f64); } acc * s }",
            "fn f<const N: usize>(w: &Vector2<f64>, xs: &SMatrix<f64, 2, N>) -> f64 { let mut h = *w; for t in 0..N { h = (h * 0.5 + Vector2::new(xs[(0, t)], xs[(1, t)]) * w[0]).map(|v| v.tanh()); } h.norm_squared() }",
        ];
        let mut tally = Tally::default();
        for (k, src) in cases.iter().enumerate() {
            if let Err(e) = crate::interp::compile_with("", src, false) {
                panic!("{src}\ndoes not compile: {e}");
            }
            for seed in 0..6 {
                let mut draw = Draw(seed * 151 + k as u64);
                tally.add("", src, check("", src, &mut draw));
                let mut draw = Draw(seed * 151 + k as u64);
                tally.add("", src, check_second(&[], "", src, &mut draw));
            }
        }
        tally.assert_clean(40);
    }

    #[test]
    fn hessian_vector_products_agree_with_hyper_dual_numbers() {
        // The scalar functions of the fuzz corpus and the deep generated programs, in their
        // first differentiated parameter: those without constructs not yet differentiated twice.
        let mut tally = Tally::default();
        let mut rng = crate::fuzz::Rng(0x0d0e_5eed);
        for case in 0..1500 {
            let c = crate::fuzz::generate(&mut rng, 0);
            if c.valid {
                let mut draw = Draw(case);
                tally.add(
                    &c.attr,
                    &c.item,
                    check_second(&[], &c.attr, &c.item, &mut draw),
                );
            }
        }
        for index in 0..400 {
            let (callees, (attr, src)) = crate::programs::sources(0x5eed_d00d, index);
            let helpers: Vec<(&str, &str)> = callees
                .iter()
                .map(|(a, s)| (a.as_str(), s.as_str()))
                .collect();
            let mut draw = Draw(index as u64);
            tally.add(&attr, &src, check_second(&helpers, &attr, &src, &mut draw));
        }
        eprintln!(
            "second order: {} compared, {} skipped",
            tally.agree, tally.skipped
        );
        tally.assert_clean(1100);
    }

    #[test]
    fn calls_agree_with_dual_numbers() {
        let helpers = [
            (
                "",
                "fn inner(a: &Matrix3<f64>, x: &Vector3<f64>, s: f64) -> f64 { (a * x).map(|v| (v * s).tanh()).sum() }",
            ),
            (
                "",
                "fn layer(w: &Matrix3<f64>, x: &Vector3<f64>) -> Vector3<f64> { (w * x).map(|v| v.tanh()) }",
            ),
        ];
        let cases = [
            (
                "",
                "fn f(a: &Matrix3<f64>, x: &Vector3<f64>, s: f64) -> f64 { inner(a, x, s) * s + inner(a, x, 0.5) }",
            ),
            (
                "wrt(x)",
                "fn f(a: &Matrix3<f64>, x: &Vector3<f64>, s: f64) -> f64 { inner(a, x, s) }",
            ),
            (
                "wrt(a)",
                "fn f(a: &Matrix3<f64>, x: &Vector3<f64>, s: f64) -> f64 { inner(a, x, s) }",
            ),
            (
                "",
                "fn f(w: &Matrix3<f64>, x: &Vector3<f64>) -> f64 { let h: Vector3<f64> = layer(w, x); let y: Vector3<f64> = layer(w, &h); y.norm_squared() }",
            ),
        ];
        let mut tally = Tally::default();
        for (k, (attr, src)) in cases.iter().enumerate() {
            for seed in 0..4 {
                let mut draw = Draw(seed * 31 + k as u64);
                tally.add(attr, src, check_with(&helpers, attr, src, &mut draw));
            }
        }
        tally.assert_clean(16);
    }

    #[test]
    fn deep_generated_programs_agree_with_dual_numbers() {
        // The deep programs of `crate::programs` (5–25 statements, branches assigning outer
        // variables, loops, closures, calls, every operation), not the ones the sample compiles.
        let mut tally = Tally::default();
        for index in 0..400 {
            let (callees, (attr, src)) = crate::programs::sources(0x5eed_d00d, index);
            let helpers: Vec<(&str, &str)> = callees
                .iter()
                .map(|(a, s)| (a.as_str(), s.as_str()))
                .collect();
            let mut draw = Draw(index as u64);
            tally.add(&attr, &src, check_with(&helpers, &attr, &src, &mut draw));
        }
        tally.assert_clean(380);
    }

    #[test]
    fn matrix_valued_functions_agree_with_dual_numbers() {
        // The helpers the deep programs call return vectors and matrices: their adjoint
        // programs (seeded with a random matrix) and tangent programs, against dual Jacobians.
        let mut tally = Tally::default();
        for index in 0..600 {
            let (callees, _) = crate::programs::sources(0x0ba5_e11e, index);
            let all: Vec<(&str, &str)> = callees
                .iter()
                .map(|(a, s)| (a.as_str(), s.as_str()))
                .collect();
            for (k, (attr, src)) in all.iter().enumerate() {
                let mut draw = Draw((index * 7 + k) as u64);
                tally.add(
                    attr,
                    src,
                    check_matrix_valued(&all[..k], attr, src, &mut draw),
                );
            }
        }
        tally.assert_clean(120);
    }

    #[test]
    fn a_wrong_rule_is_caught() {
        // The planned gradient of a product is checked entry by entry: transposing one factor
        // of a non-symmetric product changes the gradient, and `compare` must see it.
        let value = Value::Scalar(1.0);
        let exact = [Value::Matrix(Mat::from_fn(2, 2, |i, j| (i + 2 * j) as f64))];
        let transposed = [Value::Matrix(Mat::from_fn(2, 2, |i, j| (j + 2 * i) as f64))];
        assert!(matches!(
            compare(&value, &exact, &value, &transposed),
            Verdict::Disagrees(_)
        ));
        assert!(matches!(
            compare(&value, &exact, &value, &exact),
            Verdict::Agrees
        ));
    }

    #[test]
    fn generated_functions_agree_with_dual_numbers() {
        let mut rng = crate::fuzz::Rng(0x0d0e_5eed);
        let mut tally = Tally::default();
        for case in 0..1500 {
            let c = crate::fuzz::generate(&mut rng, 0);
            if !c.valid {
                continue;
            }
            let mut draw = Draw(case);
            let verdict = check(&c.attr, &c.item, &mut draw);
            tally.add(&c.attr, &c.item, verdict);
        }
        tally.assert_clean(600);
    }
}
