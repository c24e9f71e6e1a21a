//! A Gaussian-process regression's hyperparameters fitted by Newton's method on a generated
//! Hessian: the kernel matrix is built in the loss, factored by Cholesky, and its log
//! determinant read from the factor.
//!
//! Twelve noisy samples of sin x on [−3, 3] (the same on every machine) and a squared-exponential
//! kernel with a noise term, in log-parameters θ = (ln s, ln ℓ, ln σ):
//!
//! ```text
//! K = s²·exp(−(xᵢ − xⱼ)²/(2ℓ²)) + σ²·I,   f(θ) = ½·yᵀK⁻¹y + ½·ln det K,
//! ```
//!
//! the negative log marginal likelihood up to a constant. `#[hessian]` writes `nll_hessian`
//! (value, gradient, 3×3 Hessian) at compile time; the adjoint of the factorisation goes
//! through the Cholesky factor, never through K⁻¹. Each step solves H·d = ∇f (a gradient step
//! where H is not positive definite) with a backtracking line search, printing the gradient
//! norm, which falls quadratically near the optimum. There the decrease a Newton step promises,
//! −∇f·d, drops below what f can resolve in f64 (its rounding is ~1e-15 of its value), and a
//! line search would only compare rounding errors: such a step is taken whole. The program exits with status 1 unless the
//! gradient vanishes to 1e-9 at a point where H is positive definite, and the generated
//! gradient there agrees with central differences of the loss.
//!
//! ```text
//! cargo run --release --example gp_fit
//! ```

use std::process;

use matgrad::hessian;
use matgrad::nalgebra::{SMatrix, SVector, Vector3};

const SAMPLES: usize = 12;

type Samples = SVector<f64, SAMPLES>;

/// The negative log marginal likelihood of `y` at inputs `x` under log-hyperparameters `theta`.
#[hessian(wrt(theta))]
fn nll(theta: &SVector<f64, 3>, x: &SVector<f64, 12>, y: &SVector<f64, 12>) -> f64 {
    let signal = (2.0 * theta[0]).exp();
    let scale = 0.5 * (-2.0 * theta[1]).exp();
    let noise = (2.0 * theta[2]).exp();
    let ones = SVector::<f64, 12>::repeat(1.0);
    let gaps = x * ones.transpose() - ones * x.transpose();
    let k = gaps.map(|d| signal * (-(d * d) * scale).exp())
        + SMatrix::<f64, 12, 12>::identity() * noise;
    let c = k
        .cholesky()
        .expect("the kernel matrix is positive definite");
    0.5 * c.solve(y).dot(y) + 0.5 * c.ln_determinant()
}

/// Inputs evenly spaced on [−3, 3] and noisy values of sin x, from a fixed linear congruential
/// stream.
fn data() -> (Samples, Samples) {
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut uniform = || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 11) as f64 / (1_u64 << 53) as f64
    };
    let x = Samples::from_fn(|i, _| -3.0 + 6.0 * i as f64 / (SAMPLES - 1) as f64);
    let y = x.map(|xi| xi.sin() + 0.2 * (uniform() - 0.5));
    (x, y)
}

fn main() {
    let (x, y) = data();
    let mut theta = Vector3::new(0.0, 0.0, -1.0);
    println!("step  nll               ‖∇f‖        s        ℓ        σ");
    let mut converged = false;
    for step in 0..50 {
        let (value, grad, h) = nll_hessian(&theta, &x, &y);
        println!(
            "{step:>4}  {value:<16.12}  {:<10.3e}  {:<7.4}  {:<7.4}  {:<7.4}",
            grad.norm(),
            theta[0].exp(),
            theta[1].exp(),
            theta[2].exp()
        );
        if grad.norm() < 1e-9 {
            converged = h.cholesky().is_some();
            break;
        }
        // Newton's direction where H is positive definite, else the steepest descent.
        let newton = h.cholesky().map(|c| -c.solve(&grad));
        let direction = newton.unwrap_or(-grad);
        let resolvable = -grad.dot(&direction) > 1e-12 * value.abs().max(1.0);
        let mut t = 1.0;
        while (newton.is_none() || resolvable)
            && t > 1e-12
            && nll(&(theta + direction * t), &x, &y) > value + 1e-4 * t * grad.dot(&direction)
        {
            t *= 0.5;
        }
        theta += direction * t;
    }
    if !converged {
        eprintln!("Newton's method did not reach a minimum with a positive definite Hessian");
        process::exit(1);
    }
    // The generated gradient against central differences of the loss (the gradient there is ~0,
    // so compare at a nearby point where it is not).
    let probe = theta + Vector3::new(0.1, -0.05, 0.08);
    let (_, grad, _) = nll_hessian(&probe, &x, &y);
    let step = 1e-6;
    let central = Vector3::from_fn(|i, _| {
        let mut e = Vector3::zeros();
        e[i] = step;
        (nll(&(probe + e), &x, &y) - nll(&(probe - e), &x, &y)) / (2.0 * step)
    });
    let error = (grad - central).norm() / grad.norm();
    println!("relative difference between the gradient and central differences: {error:.2e}");
    if error > 1e-6 {
        eprintln!("the generated gradient disagrees with central differences");
        process::exit(1);
    }
    println!(
        "fitted: signal s = {:.4}, length scale ℓ = {:.4}, noise σ = {:.4}",
        theta[0].exp(),
        theta[1].exp(),
        theta[2].exp()
    );
}
