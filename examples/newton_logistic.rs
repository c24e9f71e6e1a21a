//! Logistic regression fitted by Newton's method on a generated Hessian, and by Newton–CG on
//! generated Hessian-vector products, both checked against plain gradient descent.
//!
//! The data are synthetic and the same on every machine: N = 120 samples with 5 features (the
//! first a constant 1), labels drawn from a logistic model with known weights, kept as a slice
//! of samples and a slice of labels, as data usually arrive. The loss is the average negative
//! log-likelihood with a small ridge term, summed by a loop over the samples,
//!
//! ```text
//! f(w) = (1/N) Σᵢ [softplus(xᵢ·w) − yᵢ·xᵢ·w] + (λ/2)‖w‖²,
//! ∇f = Xᵀ(p − y)/N + λw,   H = Xᵀ diag(p∘(1 − p)) X / N + λI,   p = σ(Xw),
//! ```
//!
//! and `#[hessian]` writes `nll_hessian` (value, gradient and H) and `nll_hvp` (value, gradient
//! and H·v) at compile time from the function below: each runs the loop over the samples again,
//! summing each sample's part of the gradient and Hessian, with nothing stored per sample. Newton's step solves H·d = ∇f by Cholesky
//! and converges quadratically: the printed gradient norm roughly squares at every step.
//! Newton–CG solves the same system by conjugate gradients that only ever ask for H·v. The
//! program exits with status 1 unless both reach the minimiser that 20 000 steps of gradient
//! descent (on `nll_grad`) find, to 1e-8.
//!
//! ```text
//! cargo run --release --example newton_logistic
//! ```

use std::process;

use matgrad::nalgebra::{SMatrix, SVector};
use matgrad::{hessian, softplus};

const SAMPLES: usize = 120;
const FEATURES: usize = 5;
/// λ, the ridge weight: it keeps the problem strictly convex.
const RIDGE: f64 = 1e-2;

type Weights = SVector<f64, FEATURES>;
type Design = [Weights];
type Labels = [f64];

/// The average negative log-likelihood of the labels `ys` of the samples `xs` under weights
/// `w`, plus a ridge term.
#[hessian(wrt(w))]
fn nll(w: &SVector<f64, 5>, xs: &[SVector<f64, 5>], ys: &[f64]) -> f64 {
    let mut total = 0.0;
    for (x, y) in xs.iter().zip(ys.iter()) {
        let z = x.dot(w);
        total += softplus(z) - y * z;
    }
    total / xs.len() as f64 + 0.5 * RIDGE * w.norm_squared()
}

/// The splitmix64 generator: the same data everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform on [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1_u64 << 53) as f64
    }
}

/// Features uniform on [−2, 2) after a leading 1, labels Bernoulli(σ(x·w*)).
fn data() -> (Vec<Weights>, Vec<f64>) {
    let truth = Weights::from_column_slice(&[-0.5, 1.5, -2.0, 0.75, 0.25]);
    let mut rng = Rng(0x5eed_1091);
    let xs: Vec<Weights> = (0..SAMPLES)
        .map(|_| Weights::from_fn(|j, _| if j == 0 { 1.0 } else { 4.0 * rng.unit() - 2.0 }))
        .collect();
    let ys = xs
        .iter()
        .map(|x| {
            let p = 1.0 / (1.0 + (-x.dot(&truth)).exp());
            f64::from(u8::from(rng.unit() < p))
        })
        .collect();
    (xs, ys)
}

/// Newton's method: w ← w − H⁻¹∇f, H factored by Cholesky.
fn newton(x: &Design, y: &Labels) -> Weights {
    println!("Newton's method on nll_hessian");
    let mut w = Weights::zeros();
    for step in 0..20 {
        let (value, grad, h) = nll_hessian(&w, x, y);
        println!(
            "  step {step:2}: loss {value:.12}, ‖∇f‖ {:.3e}",
            grad.norm()
        );
        if grad.norm() < 1e-13 {
            break;
        }
        let Some(cholesky) = h.cholesky() else {
            eprintln!("the Hessian is not positive definite at step {step}");
            process::exit(1);
        };
        w -= cholesky.solve(&grad);
    }
    w
}

/// H·d = g by conjugate gradients, with H only through `nll_hvp`.
fn conjugate_gradients(w: &Weights, x: &Design, y: &Labels, g: &Weights) -> Weights {
    let mut d = Weights::zeros();
    let mut r = *g;
    let mut p = r;
    let mut rr = r.norm_squared();
    for _ in 0..FEATURES * 4 {
        if rr.sqrt() < 1e-14 {
            break;
        }
        let (_, _, hp) = nll_hvp(w, x, y, &p);
        let alpha = rr / p.dot(&hp);
        d += alpha * p;
        r -= alpha * hp;
        let next = r.norm_squared();
        p = r + (next / rr) * p;
        rr = next;
    }
    d
}

/// Newton–CG: each step's system solved matrix-free.
fn newton_cg(x: &Design, y: &Labels) -> Weights {
    println!("Newton–CG on nll_hvp");
    let mut w = Weights::zeros();
    for step in 0..20 {
        let (value, grad, _) = nll_hvp(&w, x, y, &Weights::zeros());
        println!(
            "  step {step:2}: loss {value:.12}, ‖∇f‖ {:.3e}",
            grad.norm()
        );
        if grad.norm() < 1e-13 {
            break;
        }
        w -= conjugate_gradients(&w, x, y, &grad);
    }
    w
}

/// Gradient descent with a fixed step, for reference.
fn gradient_descent(x: &Design, y: &Labels) -> Weights {
    let mut w = Weights::zeros();
    for _ in 0..20_000 {
        let (_, grad) = nll_grad(&w, x, y);
        w -= 1.0 * grad;
    }
    w
}

fn main() {
    let (x, y) = data();
    let by_newton = newton(&x, &y);
    // The generated Hessian against one assembled by hand, Xᵀ diag(p∘(1 − p)) X / N + λI.
    let (_, _, h) = nll_hessian(&by_newton, &x, &y);
    let mut expected = SMatrix::<f64, FEATURES, FEATURES>::identity() * RIDGE;
    for xi in &x {
        let p = 1.0 / (1.0 + (-xi.dot(&by_newton)).exp());
        expected += xi * xi.transpose() * (p * (1.0 - p) / SAMPLES as f64);
    }
    let h_error = (h - expected).amax();
    println!("largest difference of H from Xᵀ diag(p∘(1 − p)) X / N + λI: {h_error:.1e}");
    if h_error > 1e-12 {
        eprintln!("the generated Hessian is not the closed form");
        process::exit(1);
    }
    if nll_hessian(&by_newton, &x, &y).0.to_bits() != nll(&by_newton, &x, &y).to_bits() {
        eprintln!("nll_hessian's value is not nll's");
        process::exit(1);
    }
    let by_cg = newton_cg(&x, &y);
    let by_descent = gradient_descent(&x, &y);
    println!("weights (Newton):           {:?}", by_newton.as_slice());
    println!("weights (Newton–CG):        {:?}", by_cg.as_slice());
    println!("weights (gradient descent): {:?}", by_descent.as_slice());
    let (newton_error, cg_error) = ((by_newton - by_descent).amax(), (by_cg - by_descent).amax());
    println!(
        "largest difference from gradient descent: Newton {newton_error:.1e}, Newton–CG \
         {cg_error:.1e}"
    );
    if newton_error > 1e-8 || cg_error > 1e-8 {
        eprintln!("the fits disagree");
        process::exit(1);
    }
}
