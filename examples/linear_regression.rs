//! Least squares fitted by gradient descent on a generated gradient, checked against the normal
//! equations.
//!
//! The data are synthetic: a 200×5 design matrix X (an intercept column and four correlated
//! features of different scales), a known coefficient vector β, and y = Xβ + noise. Gradient
//! descent on f(β) = ‖y − Xβ‖² / (2n) uses `loss_grad`, which `#[gradient]` wrote at compile time.
//! The minimiser is also the solution of the normal equations, β̂ = (XᵀX)⁻¹Xᵀy, so the two must
//! agree; the program exits with status 1 if they do not.
//!
//! ```text
//! cargo run --release --example linear_regression
//! ```

use std::process;

use matgrad::gradient;
use matgrad::nalgebra::{SMatrix, SVector};

/// The number of observations, n; the sizes in the signature below must be literals.
const SAMPLES: f64 = 200.0;

/// Half the mean squared residual, f(β) = ‖y − Xβ‖² / (2n).
///
/// Its gradient is ∇β = −Xᵀ(y − Xβ) / n, which vanishes exactly where β solves the normal
/// equations.
#[gradient(wrt(beta))]
fn loss(beta: &SVector<f64, 5>, x: &SMatrix<f64, 200, 5>, y: &SVector<f64, 200>) -> f64 {
    let r = y - x * beta;
    0.5 * r.norm_squared() / SAMPLES
}

/// Stop when the gradient is this small; the error in β is then at most this divided by the
/// smallest eigenvalue of the Hessian.
const GRADIENT_TOLERANCE: f64 = 1e-12;
const MAX_ITERATIONS: usize = 100_000;
const PRINT_EVERY: usize = 100;
/// How far the descent may land from the normal-equation solution.
const AGREEMENT_TOLERANCE: f64 = 1e-6;

fn main() {
    let mut rng = SplitMix64(42);
    let beta_true = SVector::<f64, 5>::new(1.5, -2.0, 0.75, 3.0, -0.5);
    let (x, y) = synthetic_data(&mut rng, &beta_true);

    // The generated gradient against central differences, once, before relying on it.
    let beta0 = SVector::<f64, 5>::zeros();
    let (_, g0) = loss_grad(&beta0, &x, &y);
    let check = matgrad::check_gradient(|b: &SVector<f64, 5>| loss(b, &x, &y), &beta0, &g0);
    println!("gradient check at β = 0: {check}");
    if !check.passes(1e-7) {
        eprintln!("error: the generated gradient disagrees with finite differences");
        process::exit(1);
    }

    let (beta, iterations) = descend(&x, &y);
    let beta_normal = normal_equations(&x, &y);

    println!();
    println!("{:<18}{iterations}", "iterations");
    println!("{:<18}{:.12e}", "final loss", loss(&beta, &x, &y));
    println!("{:<18}{}", "true β", row(&beta_true));
    println!("{:<18}{}", "gradient descent", row(&beta));
    println!("{:<18}{}", "normal equations", row(&beta_normal));
    let diff = (beta - beta_normal).amax();
    println!("max |β_gd − β_normal| = {diff:.3e} (tolerance {AGREEMENT_TOLERANCE:e})");
    if iterations == MAX_ITERATIONS || diff > AGREEMENT_TOLERANCE {
        eprintln!("error: gradient descent did not reach the normal-equation solution");
        process::exit(1);
    }
}

/// Gradient descent from β = 0 until ‖∇f‖ < [`GRADIENT_TOLERANCE`]; returns β and the number
/// of iterations taken.
fn descend(x: &SMatrix<f64, 200, 5>, y: &SVector<f64, 200>) -> (SVector<f64, 5>, usize) {
    // The Hessian of f is XᵀX / n, whose largest eigenvalue is at most its trace ‖X‖²_F / n;
    // a step of one over that bound never overshoots.
    let step = SAMPLES / x.norm_squared();
    let mut beta = SVector::<f64, 5>::zeros();
    println!("{:>9}  {:>20}  {:>10}", "iteration", "loss", "‖∇f‖");
    for iteration in 0..MAX_ITERATIONS {
        let (value, grad) = loss_grad(&beta, x, y);
        let done = grad.norm() < GRADIENT_TOLERANCE;
        if iteration % PRINT_EVERY == 0 || done {
            println!("{iteration:>9}  {value:>20.12e}  {:>10.3e}", grad.norm());
        }
        if done {
            return (beta, iteration);
        }
        beta -= step * grad;
    }
    (beta, MAX_ITERATIONS)
}

/// β̂ = (XᵀX)⁻¹Xᵀy, solved with a Cholesky factorisation of the Gram matrix instead of forming
/// the inverse.
fn normal_equations(x: &SMatrix<f64, 200, 5>, y: &SVector<f64, 200>) -> SVector<f64, 5> {
    let gram = x.tr_mul(x);
    let Some(cholesky) = gram.cholesky() else {
        eprintln!("error: XᵀX is not positive definite");
        process::exit(1);
    };
    cholesky.solve(&x.tr_mul(y))
}

/// X with an intercept column and four correlated features of different scales, and
/// y = Xβ + ε with ε ~ N(0, 0.1²).
fn synthetic_data(
    rng: &mut SplitMix64,
    beta: &SVector<f64, 5>,
) -> (SMatrix<f64, 200, 5>, SVector<f64, 200>) {
    let scales = [1.0, 0.5, 2.0, 1.5];
    let mut x = SMatrix::<f64, 200, 5>::zeros();
    for i in 0..200 {
        x[(i, 0)] = 1.0;
        let shared = rng.normal();
        for (j, scale) in scales.iter().enumerate() {
            x[(i, j + 1)] = scale * (0.6 * rng.normal() + 0.4 * shared);
        }
    }
    let noise = SVector::<f64, 200>::from_fn(|_, _| 0.1 * rng.normal());
    let y = x * beta + noise;
    (x, y)
}

/// A coefficient vector on one line.
fn row(v: &SVector<f64, 5>) -> String {
    let entries: Vec<String> = v.iter().map(|b| format!("{b:>+14.10}")).collect();
    entries.join(" ")
}

/// `SplitMix64` (Steele, Lea and Flood, 2014): a tiny deterministic generator, plenty for
/// synthetic data and no extra dependency.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform on (0, 1]: the top 53 bits, shifted away from zero so `ln` below is finite.
    fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) + 1) as f64 / (1_u64 << 53) as f64
    }

    /// A standard normal sample by the Box–Muller transform.
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}
