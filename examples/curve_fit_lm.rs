//! y = a·e^(−b·t) + c fitted to noisy synthetic data by levenberg-marquardt, on the Jacobian
//! that `#[jacobian]` generates, checked against the generating parameters.
//!
//! The data are N = 60 samples at t = 0, 0.1, …, 5.9 of the curve with a = 3, b = 1.3,
//! c = 0.5, plus Gaussian noise of standard deviation σ = 0.02. The residuals
//! r(p) = a·e^(−b·t) + c − y are one vector function of p = (a, b, c); `residuals_jacobian`,
//! written by `#[jacobian(wrt(p))]`, returns them with their Jacobian J (N×3,
//! `J[(k, l)] = ∂rₖ/∂pₗ`) in one call, which is what [`matgrad::levenberg_marquardt::LeastSquares`]
//! hands to the solver. The program prints ½‖r‖² at every point the solver moves to.
//!
//! It first compares J with its closed form, ∂r/∂a = e^(−bt), ∂r/∂b = −a·t·e^(−bt),
//! ∂r/∂c = 1. After the fit it estimates each parameter's standard error from σ²(JᵀJ)⁻¹ and
//! exits with status 1 unless every parameter lies within four standard errors of the value
//! that generated the data.
//!
//! ```text
//! cargo run --release --example curve_fit_lm --features levenberg-marquardt
//! ```

use std::cell::Cell;
use std::process;

use levenberg_marquardt::LevenbergMarquardt;
use matgrad::jacobian;
use matgrad::levenberg_marquardt::LeastSquares;
use matgrad::nalgebra::{SMatrix, SVector, Vector3};

/// The number of samples.
const N: usize = 60;
/// The standard deviation of the noise.
const SIGMA: f64 = 0.02;
/// How many standard errors a fitted parameter may be from the generating one.
const MAX_STANDARD_ERRORS: f64 = 4.0;

type Samples = SVector<f64, N>;

/// The residuals a·e^(−b·t) + c − y of the model at p = (a, b, c).
#[jacobian(wrt(p))]
fn residuals(p: &Vector3<f64>, t: &SVector<f64, 60>, y: &SVector<f64, 60>) -> SVector<f64, 60> {
    let a = p[0];
    let b = p[1];
    let c = p[2];
    t.map(|tk| a * (-b * tk).exp() + c) - y
}

fn main() {
    let truth = Vector3::new(3.0, 1.3, 0.5);
    let t = Samples::from_fn(|k, _| 0.1 * k as f64);
    let mut rng = SplitMix(0xC0FF_EE00);
    let y = t.map(|tk| truth[0] * (-truth[1] * tk).exp() + truth[2] + SIGMA * rng.normal());

    let start = Vector3::new(1.0, 0.5, 0.0);
    check_jacobian(&start, &t, &y);

    // The solver calls the function once per point it moves to; each call reports its progress.
    let calls = Cell::new(0_usize);
    let traced = |p: &Vector3<f64>| {
        let (r, j) = residuals_jacobian(p, &t, &y);
        calls.set(calls.get() + 1);
        println!(
            "  point {:>2}: a = {:.6}, b = {:.6}, c = {:.6}, ½‖r‖² = {:.8}",
            calls.get(),
            p[0],
            p[1],
            p[2],
            0.5 * r.norm_squared()
        );
        (r, j)
    };
    println!(
        "levenberg-marquardt from a = {}, b = {}, c = {}:",
        start[0], start[1], start[2]
    );
    let (fit, report) = LevenbergMarquardt::new().minimize(LeastSquares::new(traced, &start));
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
    let (_, j) = residuals_jacobian(&found, &t, &y);
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

/// Exits with status 1 unless the generated residuals are the function's values and the
/// generated Jacobian matches its closed form.
fn check_jacobian(p: &Vector3<f64>, t: &Samples, y: &Samples) {
    let (r, j) = residuals_jacobian(p, t, y);
    let value_gap = (r - residuals(p, t, y)).amax();
    if value_gap > 1e-12 {
        eprintln!("the generated residuals differ from the function's by {value_gap:.1e}");
        process::exit(1);
    }
    let closed = SMatrix::<f64, N, 3>::from_fn(|k, l| {
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
