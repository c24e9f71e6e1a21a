//! y = a·e^(−b·t) + c fitted to noisy synthetic data by levenberg-marquardt, with the
//! Jacobian assembled from generated gradients, checked against the generating parameters.
//!
//! The data are N = 60 samples at t = 0, 0.1, …, 5.9 of the curve with a = 3, b = 1.3,
//! c = 0.5, plus Gaussian noise of standard deviation σ = 0.02. Each residual
//! rₖ(p) = a·e^(−b·tₖ) + c − yₖ is a scalar function of p = (a, b, c); `residual_grad`, written by
//! `#[gradient]`, gives its value and gradient, which is row k of the Jacobian. Stacking the
//! rows gives `(residuals, J)`, what a `#[jacobian]` function's `_jacobian` will return in one
//! call, and [`matgrad::levenberg_marquardt::LeastSquares`] hands it to the solver.
//!
//! The program first compares J with its closed form, ∂r/∂a = e^(−bt), ∂r/∂b = −a·t·e^(−bt),
//! ∂r/∂c = 1. After the fit it estimates each parameter's standard error from σ²(JᵀJ)⁻¹ and
//! exits with status 1 unless every parameter lies within four standard errors of the value
//! that generated the data.
//!
//! ```text
//! cargo run --release --example curve_fit_lm --features levenberg-marquardt
//! ```

use std::process;

use levenberg_marquardt::LevenbergMarquardt;
use matgrad::gradient;
use matgrad::levenberg_marquardt::LeastSquares;
use matgrad::nalgebra::{SMatrix, SVector, Vector3};

/// The number of samples.
const N: usize = 60;
/// The standard deviation of the noise.
const SIGMA: f64 = 0.02;
/// How many standard errors a fitted parameter may be from the generating one.
const MAX_STANDARD_ERRORS: f64 = 4.0;

type Samples = SVector<f64, N>;
type Jacobian = SMatrix<f64, N, 3>;

/// One residual, a·e^(−b·t) + c − y, as a function of p = (a, b, c).
#[gradient(wrt(p))]
fn residual(p: &Vector3<f64>, t: f64, y: f64) -> f64 {
    p[0] * (-p[1] * t).exp() + p[2] - y
}

/// All residuals and their Jacobian, row k the gradient of residual k.
fn residuals_and_jacobian(p: &Vector3<f64>, t: &Samples, y: &Samples) -> (Samples, Jacobian) {
    let mut r = Samples::zeros();
    let mut j = Jacobian::zeros();
    for k in 0..N {
        let (value, gradient) = residual_grad(p, t[k], y[k]);
        r[k] = value;
        j.set_row(k, &gradient.transpose());
    }
    (r, j)
}

fn main() {
    let truth = Vector3::new(3.0, 1.3, 0.5);
    let t = Samples::from_fn(|k, _| 0.1 * k as f64);
    let mut rng = SplitMix(0xC0FF_EE00);
    let y = t.map(|tk| truth[0] * (-truth[1] * tk).exp() + truth[2] + SIGMA * rng.normal());

    let start = Vector3::new(1.0, 0.5, 0.0);
    check_jacobian(&start, &t, &y);

    let problem = LeastSquares::new(|p: &Vector3<f64>| residuals_and_jacobian(p, &t, &y), &start);
    let (fit, report) = LevenbergMarquardt::new().minimize(problem);
    println!(
        "{:?} after {} residual evaluations ({} evaluations of the function), ½‖r‖² = {:.6}",
        report.termination,
        report.number_of_evaluations,
        fit.evaluations(),
        report.objective_function
    );
    if !report.termination.was_successful() {
        eprintln!("levenberg-marquardt did not converge");
        process::exit(1);
    }

    let found = fit.parameters();
    let (_, j) = residuals_and_jacobian(&found, &t, &y);
    let covariance = (j.transpose() * j)
        .try_inverse()
        .expect("J has full column rank")
        * SIGMA
        * SIGMA;
    let mut ok = true;
    for (i, name) in ["a", "b", "c"].iter().enumerate() {
        let error = covariance[(i, i)].sqrt();
        let off = (found[i] - truth[i]).abs() / error;
        println!(
            "{name} = {:.5} ± {error:.5}  (generated with {}, {off:.2} standard errors off)",
            found[i], truth[i]
        );
        ok &= off < MAX_STANDARD_ERRORS;
    }
    if !ok {
        eprintln!(
            "a fitted parameter is more than {MAX_STANDARD_ERRORS} standard errors from the truth"
        );
        process::exit(1);
    }
}

/// Exits with status 1 unless the residuals from the generated gradients are the function's
/// values and the Jacobian matches its closed form.
fn check_jacobian(p: &Vector3<f64>, t: &Samples, y: &Samples) {
    let (r, j) = residuals_and_jacobian(p, t, y);
    if (0..N).any(|k| r[k].to_bits() != residual(p, t[k], y[k]).to_bits()) {
        eprintln!("a generated value differs from the function's");
        process::exit(1);
    }
    let closed = Jacobian::from_fn(|k, l| {
        let e = (-p[1] * t[k]).exp();
        [e, -p[0] * t[k] * e, 1.0][l]
    });
    let gap = (j - closed).amax();
    println!("Jacobian against its closed form: largest difference {gap:.1e}");
    if gap > 1e-12 {
        eprintln!("the generated Jacobian differs from the closed form");
        process::exit(1);
    }
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
