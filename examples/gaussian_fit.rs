//! The mean and covariance of a 3-D Gaussian fitted by maximum likelihood on a generated
//! gradient, checked against the closed-form estimates.
//!
//! The data are synthetic: N = 2000 samples x = μ* + L*z, z ~ N(0, I₃), where L* is the Cholesky
//! factor of a correlated covariance Σ*. The model keeps Σ positive definite by construction,
//! Σ = L Lᵀ + εI with L lower triangular, and minimises the average negative log-likelihood
//!
//! ```text
//! f(μ, L) = (1/N) Σᵢ −ln p(xᵢ) = ½ ln det Σ + ½ tr(Σ⁻¹ S) + (3/2) ln 2π,
//! S = (1/N) Σᵢ (xᵢ − μ)(xᵢ − μ)ᵀ = C − x̄μᵀ − μx̄ᵀ + μμᵀ,
//! ```
//!
//! which depends on the data only through the sufficient statistics C = (1/N) Σᵢ xᵢxᵢᵀ and the
//! sample mean x̄, so one call of `average_nll_grad` (written by `#[gradient]` at compile time)
//! gives the value and both gradients for the whole data set. The stationary point is the
//! maximum-likelihood estimate in closed form: μ̂ = x̄ and Σ̂ = (1/N) Σᵢ (xᵢ − x̄)(xᵢ − x̄)ᵀ. The
//! program computes those directly from the samples and exits with status 1 if the fit does not
//! reproduce them.
//!
//! ```text
//! cargo run --release --example gaussian_fit
//! ```

use std::process;

use matgrad::gradient;
use matgrad::nalgebra::{Matrix3, Vector3};

/// The number of samples.
const SAMPLES: usize = 2000;
/// ε in Σ = L Lᵀ + εI. It keeps Σ positive definite even when L is singular, and leaves the
/// optimum where it was as long as ε is below the smallest eigenvalue of the sample covariance.
const JITTER: f64 = 1e-3;
/// (3/2) ln 2π, the constant of a 3-D Gaussian's negative log-likelihood.
const HALF_D_LN_TAU: f64 = 2.756_815_599_614_018;

/// The average negative log-likelihood of the samples, from their sufficient statistics
/// `c` = (1/N) Σᵢ xᵢxᵢᵀ and `xbar` = (1/N) Σᵢ xᵢ.
///
/// `lower` masks `l` to its lower triangle (so the upper entries get zero gradient and L stays
/// triangular) and `eye` is the identity; like `c` and `xbar` they are constants, outside
/// `wrt`.
#[gradient(wrt(mu, l))]
fn average_nll(
    mu: &Vector3<f64>,
    l: &Matrix3<f64>,
    c: &Matrix3<f64>,
    xbar: &Vector3<f64>,
    lower: &Matrix3<f64>,
    eye: &Matrix3<f64>,
) -> f64 {
    let lt = l.component_mul(lower);
    let sigma = lt * lt.transpose() + JITTER * eye;
    let scatter = c - xbar * mu.transpose() - mu * xbar.transpose() + mu * mu.transpose();
    0.5 * sigma.determinant().ln()
        + 0.5 * sigma.lu().solve(&scatter).unwrap().trace()
        + HALF_D_LN_TAU
}

/// Stop when the gradient (μ and L together) is this small.
const GRADIENT_TOLERANCE: f64 = 1e-11;
const MAX_ITERATIONS: usize = 100_000;
const PRINT_EVERY: usize = 25;
/// The smallest decrease of f, relative to |f|, that the line search relies on measuring; far
/// above f64 rounding (about 1e-16) so rounding cannot steer it.
const RESOLUTION: f64 = 1e-10;
/// A line search that needs a step below this has stalled.
const MIN_STEP: f64 = 1e-14;
/// How far the fitted μ and Σ may land from the closed-form estimates, entry by entry.
const AGREEMENT_TOLERANCE: f64 = 1e-6;

/// What the fit needs from the data, and the closed-form answer it should reach.
struct Statistics {
    /// C = (1/N) Σᵢ xᵢxᵢᵀ.
    second_moment: Matrix3<f64>,
    /// x̄ = (1/N) Σᵢ xᵢ, which is also the maximum-likelihood μ.
    mean: Vector3<f64>,
    /// (1/N) Σᵢ (xᵢ − x̄)(xᵢ − x̄)ᵀ, the maximum-likelihood Σ, from a second pass over the data.
    covariance: Matrix3<f64>,
}

/// The constant arguments of [`average_nll`] besides the statistics.
struct Constants {
    lower: Matrix3<f64>,
    eye: Matrix3<f64>,
}

fn main() {
    let mu_true = Vector3::new(1.0, -2.0, 0.5);
    let sigma_true = Matrix3::new(
        2.0, 0.8, -0.6, //
        0.8, 1.5, 0.4, //
        -0.6, 0.4, 1.0,
    );
    let Some(cholesky) = sigma_true.cholesky() else {
        eprintln!("error: the true covariance is not positive definite");
        process::exit(1);
    };
    let l_true = cholesky.l();

    let mut rng = SplitMix64(2024);
    let samples: Vec<Vector3<f64>> = (0..SAMPLES)
        .map(|_| {
            let z = Vector3::from_fn(|_, _| rng.normal());
            mu_true + l_true * z
        })
        .collect();
    let stats = statistics(&samples);
    let constants = Constants {
        lower: Matrix3::from_fn(|i, j| if i >= j { 1.0 } else { 0.0 }),
        eye: Matrix3::identity(),
    };

    // Start from μ = 0, Σ = I + εI.
    let mu0 = Vector3::zeros();
    let l0 = Matrix3::identity();

    // The generated gradient against central differences, once, before relying on it.
    let (_, g0) = average_nll_grad(
        &mu0,
        &l0,
        &stats.second_moment,
        &stats.mean,
        &constants.lower,
        &constants.eye,
    );
    let check = matgrad::check_gradient(
        |p: &(Vector3<f64>, Matrix3<f64>)| {
            average_nll(
                &p.0,
                &p.1,
                &stats.second_moment,
                &stats.mean,
                &constants.lower,
                &constants.eye,
            )
        },
        &(mu0, l0),
        &g0,
    );
    println!("gradient check at the start: {check}");
    if !check.passes(1e-7) {
        eprintln!("error: the generated gradient disagrees with finite differences");
        process::exit(1);
    }

    let fit = descend(mu0, l0, &stats, &constants);
    let lt = fit.l.component_mul(&constants.lower);
    let sigma_fit = lt * lt.transpose() + JITTER * constants.eye;

    println!();
    println!("{:<26}{}", "iterations", fit.iterations);
    println!("{:<26}{:.12}", "final average NLL", fit.value);
    println!("{:<26}{:.3e}", "final ‖∇f‖", fit.gradient_norm);
    println!();
    println!("{:<26}{}", "μ true", row(&mu_true));
    println!("{:<26}{}", "μ fitted", row(&fit.mu));
    println!("{:<26}{}", "μ closed form (mean)", row(&stats.mean));
    println!();
    print_matrix("Σ true", &sigma_true);
    print_matrix("Σ fitted (L Lᵀ + εI)", &sigma_fit);
    print_matrix("Σ closed form (1/N)", &stats.covariance);
    println!();

    let mu_diff = (fit.mu - stats.mean).amax();
    let sigma_diff = (sigma_fit - stats.covariance).amax();
    println!("max |μ_fit − μ̂| = {mu_diff:.3e} (tolerance {AGREEMENT_TOLERANCE:e})");
    println!("max |Σ_fit − Σ̂| = {sigma_diff:.3e} (tolerance {AGREEMENT_TOLERANCE:e})");
    println!(
        "informative: max |μ̂ − μ*| = {:.3e}, max |Σ̂ − Σ*| = {:.3e} (sampling error, N = {SAMPLES})",
        (stats.mean - mu_true).amax(),
        (stats.covariance - sigma_true).amax(),
    );
    if !fit.converged || mu_diff > AGREEMENT_TOLERANCE || sigma_diff > AGREEMENT_TOLERANCE {
        eprintln!("error: the fit did not reach the closed-form maximum-likelihood estimates");
        process::exit(1);
    }
}

/// Where the descent stopped.
struct Fit {
    mu: Vector3<f64>,
    l: Matrix3<f64>,
    value: f64,
    gradient_norm: f64,
    iterations: usize,
    /// Whether ‖∇f‖ fell below [`GRADIENT_TOLERANCE`] (rather than running out of iterations or
    /// of step size).
    converged: bool,
}

/// Gradient descent on (μ, L) with a backtracking (Armijo) line search: each step starts from
/// twice the last accepted step and halves until the objective falls by at least half the
/// first-order prediction. Once that decrease is below what f64 can resolve in f, the last
/// accepted step is kept. Stops when ‖∇f‖ < [`GRADIENT_TOLERANCE`].
fn descend(
    mut mu: Vector3<f64>,
    mut l: Matrix3<f64>,
    stats: &Statistics,
    constants: &Constants,
) -> Fit {
    let (c, xbar) = (&stats.second_moment, &stats.mean);
    let (lower, eye) = (&constants.lower, &constants.eye);
    let mut step = 1.0;
    println!();
    println!(
        "{:>9}  {:>18}  {:>10}  {:>9}",
        "iteration", "average NLL", "‖∇f‖", "step"
    );
    let mut iteration = 0;
    loop {
        let (value, (g_mu, g_l)) = average_nll_grad(&mu, &l, c, xbar, lower, eye);
        let squared = g_mu.norm_squared() + g_l.norm_squared();
        let gradient_norm = squared.sqrt();
        let converged = gradient_norm < GRADIENT_TOLERANCE;
        let stop = converged || iteration == MAX_ITERATIONS || step < MIN_STEP;
        if iteration % PRINT_EVERY == 0 || stop {
            println!("{iteration:>9}  {value:>18.12}  {gradient_norm:>10.3e}  {step:>9.3e}");
        }
        if stop {
            return Fit {
                mu,
                l,
                value,
                gradient_norm,
                iterations: iteration,
                converged,
            };
        }
        if 0.5 * step * squared < RESOLUTION * value.abs() {
            // The decrease the line search would ask for is too small to measure in f64, so
            // keep the last step it accepted (an increase would be measurable again and bring
            // the search back).
            (mu, l) = (mu - step * g_mu, l - step * g_l);
        } else {
            step *= 2.0;
            while step >= MIN_STEP {
                let (mu_next, l_next) = (mu - step * g_mu, l - step * g_l);
                let next = average_nll(&mu_next, &l_next, c, xbar, lower, eye);
                // An acceptance test, so a NaN (a step too far for Σ) fails it and shrinks the
                // step.
                if next <= value - 0.5 * step * squared {
                    (mu, l) = (mu_next, l_next);
                    break;
                }
                step *= 0.5;
            }
        }
        iteration += 1;
    }
}

/// C, x̄ and the 1/N sample covariance, the latter from a separate pass over the samples (not
/// C − x̄x̄ᵀ) so the comparison does not share arithmetic with the objective.
fn statistics(samples: &[Vector3<f64>]) -> Statistics {
    let n = samples.len() as f64;
    let mean = samples.iter().sum::<Vector3<f64>>() / n;
    let second_moment = samples
        .iter()
        .map(|x| x * x.transpose())
        .sum::<Matrix3<f64>>()
        / n;
    let covariance = samples
        .iter()
        .map(|x| (x - mean) * (x - mean).transpose())
        .sum::<Matrix3<f64>>()
        / n;
    Statistics {
        second_moment,
        mean,
        covariance,
    }
}

/// A vector on one line.
fn row(v: &Vector3<f64>) -> String {
    let entries: Vec<String> = v.iter().map(|x| format!("{x:>+14.10}")).collect();
    entries.join(" ")
}

/// A labelled 3×3 matrix, one row per line.
fn print_matrix(label: &str, m: &Matrix3<f64>) {
    for i in 0..3 {
        let name = if i == 0 { label } else { "" };
        println!("{name:<26}{}", row(&m.row(i).transpose()));
    }
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
