//! L2-regularised logistic regression fitted by argmin's L-BFGS on a generated gradient,
//! checked against Newton's method on the closed-form gradient and Hessian.
//!
//! The data are synthetic: N = 400 inputs xᵢ = (1, z₁, z₂, z₃) with z ~ N(0, I₃), and labels
//! yᵢ ∈ {0, 1} drawn with probability σ(xᵢ·w*) for a hidden w*. The loss is the negative
//! log-likelihood plus a ridge term,
//!
//! ```text
//! f(w) = Σᵢ softplus(xᵢ·w) − yᵢ·(xᵢ·w) + (λ/2)‖w‖²,
//! ```
//!
//! strictly convex, so its minimiser is unique. `nll_grad`, written by `#[gradient]`, gives
//! the value and gradient in one call; [`matgrad::argmin::Problem`] hands both to argmin, whose
//! separate cost and gradient requests at a point share that call. A small observer prints
//! argmin's progress. The reference is Newton's method on ∇f = Xᵀ(σ(Xw) − y) + λw and
//! ∇²f = Xᵀ diag(σ′(Xw)) X + λI, written out by hand below; the program exits with status 1 if
//! L-BFGS does not land on the same weights.
//!
//! ```text
//! cargo run --release --example argmin_lbfgs --features argmin
//! ```

use std::process;

use argmin::core::observers::{Observe, ObserverMode};
use argmin::core::{Error, Executor, KV, State};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::quasinewton::LBFGS;
use matgrad::argmin::{Problem, from_solver, to_solver};
use matgrad::nalgebra::{SMatrix, SVector};
use matgrad::{gradient, sigmoid};

/// The number of samples.
const N: usize = 400;
/// The ridge weight λ.
const LAMBDA: f64 = 1.0;
/// How close L-BFGS must come to Newton's answer.
const TOLERANCE: f64 = 1e-6;

type Inputs = SMatrix<f64, N, 4>;
type Labels = SVector<f64, N>;
type Weights = SVector<f64, 4>;

/// The regularised negative log-likelihood of logistic regression.
#[gradient(wrt(w))]
fn nll(w: &SVector<f64, 4>, x: &SMatrix<f64, 400, 4>, y: &SVector<f64, 400>, lambda: f64) -> f64 {
    let z = x * w;
    z.map(matgrad::softplus).sum() - y.dot(&z) + 0.5 * lambda * w.norm_squared()
}

fn main() {
    let (x, y) = data(&Weights::new(-0.5, 2.0, -1.0, 0.75));
    let x = Box::new(x);

    let problem = Problem::gradient(|w: &Weights| nll_grad(w, &x, &y, LAMBDA));
    let solver = LBFGS::new(MoreThuenteLineSearch::new(), 7)
        .with_tolerance_grad(1e-10)
        .expect("a positive tolerance");
    let result = Executor::new(problem, solver)
        .configure(|state| state.param(to_solver(&Weights::zeros())).max_iters(100))
        .add_observer(Progress, ObserverMode::Always)
        .run()
        .unwrap_or_else(|e| {
            eprintln!("L-BFGS failed: {e}");
            process::exit(1);
        });

    let state = result.state();
    let fitted = from_solver(state.get_best_param().expect("L-BFGS keeps its best point"));
    let counts = &result.problem.counts;
    let evaluations = result
        .problem
        .problem
        .as_ref()
        .map_or(0, Problem::evaluations);
    println!(
        "stopped after {} iterations ({:?}): {} cost and {} gradient requests, {evaluations} evaluations",
        state.get_iter(),
        state.get_termination_reason(),
        counts["cost_count"],
        counts["gradient_count"],
    );

    let reference = newton(&x, &y);
    let gap = (fitted - reference).norm();
    println!(
        "L-BFGS  w = {:.6?}, f(w) = {:.10}",
        fitted.as_slice(),
        nll(&fitted, &x, &y, LAMBDA)
    );
    println!(
        "Newton  w = {:.6?}, f(w) = {:.10}",
        reference.as_slice(),
        nll(&reference, &x, &y, LAMBDA)
    );
    println!("‖difference‖ = {gap:.2e}");
    if gap > TOLERANCE {
        eprintln!("L-BFGS did not reach the minimiser (tolerance {TOLERANCE:e})");
        process::exit(1);
    }
}

/// Prints the iteration, the cost and the best cost so far.
struct Progress;

impl<I: State<Float = f64>> Observe<I> for Progress {
    fn observe_iter(&mut self, state: &I, _: &KV) -> Result<(), Error> {
        println!(
            "iter {:>3}  cost {:.10}  best {:.10}",
            state.get_iter(),
            state.get_cost(),
            state.get_best_cost()
        );
        Ok(())
    }
}

/// Newton's method on the hand-written gradient and Hessian, to machine precision.
fn newton(x: &Inputs, y: &Labels) -> Weights {
    let mut w = Weights::zeros();
    for _ in 0..50 {
        let p = (x * w).map(sigmoid);
        let gradient = x.transpose() * (p - y) + LAMBDA * w;
        let curvature = p.map(|s| s * (1.0 - s));
        let mut hessian = LAMBDA * SMatrix::<f64, 4, 4>::identity();
        for i in 0..N {
            let row = x.row(i);
            hessian += curvature[i] * row.transpose() * row;
        }
        let step = hessian
            .cholesky()
            .expect("the Hessian is positive definite")
            .solve(&gradient);
        w -= step;
        if step.norm() < 1e-14 {
            break;
        }
    }
    w
}

/// Inputs with an intercept column and labels drawn from the logistic model with weights `truth`.
fn data(truth: &Weights) -> (Inputs, Labels) {
    let mut rng = SplitMix(0x5EED_1234);
    let mut x = Inputs::zeros();
    let mut y = Labels::zeros();
    for i in 0..N {
        x[(i, 0)] = 1.0;
        for j in 1..4 {
            x[(i, j)] = rng.normal();
        }
        let p = sigmoid(x.row(i).transpose().dot(truth));
        y[i] = if rng.uniform() < p { 1.0 } else { 0.0 };
    }
    (x, y)
}

/// The `SplitMix64` generator: deterministic synthetic data without another dependency.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let a = (self.0 ^ (self.0 >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        let b = (a ^ (a >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        b ^ (b >> 31)
    }

    /// Uniform on (0, 1].
    fn uniform(&mut self) -> f64 {
        ((self.next() >> 11) + 1) as f64 * (1.0 / 9_007_199_254_740_992.0)
    }

    /// Standard normal, by Box–Muller.
    fn normal(&mut self) -> f64 {
        let radius = (-2.0 * self.uniform().ln()).sqrt();
        radius * (std::f64::consts::TAU * self.uniform()).cos()
    }
}
