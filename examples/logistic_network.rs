//! A one-layer sigmoid network, f(W) = ½‖σ(Wx) − y‖², trained by gradient descent on a
//! generated gradient.
//!
//! The data are synthetic: inputs x ~ N(0, I₈) and three binary labels per input from a hidden
//! "teacher" W*, yₖ = 1 where (W*x)ₖ > 0. The student W (3×8) starts near zero and follows the
//! gradient of the loss summed over the training set; each sample's gradient comes from
//! `loss_grad`, which `#[gradient]` wrote at compile time. Before training the program checks
//! that gradient against the closed form ∇W = ((σ(Wx) − y)∘σ(Wx)∘(1 − σ(Wx)))·xᵀ, and after
//! training it exits with status 1 if the test accuracy is below [`MIN_TEST_ACCURACY`].
//!
//! ```text
//! cargo run --release --example logistic_network
//! ```

use std::process;

use matgrad::gradient;
use matgrad::nalgebra::{SMatrix, SVector};

/// One sample's loss, ½‖σ(Wx) − y‖², differentiated with respect to the weights only.
#[gradient(wrt(w))]
fn loss(w: &SMatrix<f64, 3, 8>, x: &SVector<f64, 8>, y: &SVector<f64, 3>) -> f64 {
    let s = (w * x).map(matgrad::sigmoid);
    0.5 * (s - y).norm_squared()
}

type Weights = SMatrix<f64, 3, 8>;
type Input = SVector<f64, 8>;
type Labels = SVector<f64, 3>;

const TRAIN: usize = 500;
const TEST: usize = 500;
const EPOCHS: usize = 300;
const PRINT_EVERY: usize = 25;
/// The step on the mean gradient. σ′ ≤ ¼ keeps every entry of a sample's gradient below
/// ¼·|xⱼ|, so a step well above 1 is stable here.
const LEARNING_RATE: f64 = 4.0;
const MOMENTUM: f64 = 0.9;
/// The fraction of test labels the trained network must get right.
const MIN_TEST_ACCURACY: f64 = 0.95;

fn main() {
    let mut rng = SplitMix64(7);
    let teacher = Weights::from_fn(|_, _| rng.normal());
    let train = dataset(&mut rng, &teacher, TRAIN);
    let test = dataset(&mut rng, &teacher, TEST);

    let mut w = Weights::from_fn(|_, _| 0.01 * rng.normal());
    check_against_closed_form(&w, &train[0]);

    // Heavy-ball momentum: v ← μv − η∇, W ← W + v.
    let mut velocity = Weights::zeros();
    println!(
        "{:>5}  {:>12}  {:>10}  {:>10}",
        "epoch", "mean loss", "train acc", "test acc"
    );
    for epoch in 0..=EPOCHS {
        let (mean_loss, mean_grad) = batch(&w, &train);
        if epoch % PRINT_EVERY == 0 {
            println!(
                "{epoch:>5}  {mean_loss:>12.6}  {:>10.4}  {:>10.4}",
                accuracy(&w, &train),
                accuracy(&w, &test)
            );
        }
        if epoch < EPOCHS {
            velocity = MOMENTUM * velocity - LEARNING_RATE * mean_grad;
            w += velocity;
        }
    }

    let (final_loss, _) = batch(&w, &train);
    let (train_accuracy, test_accuracy) = (accuracy(&w, &train), accuracy(&w, &test));
    println!();
    println!("final mean training loss  {final_loss:.6}");
    println!("final train accuracy      {train_accuracy:.4}");
    println!("final test accuracy       {test_accuracy:.4} (required ≥ {MIN_TEST_ACCURACY})");
    if test_accuracy < MIN_TEST_ACCURACY {
        eprintln!("error: the network did not learn the teacher");
        process::exit(1);
    }
}

/// The mean loss and mean gradient over `data`, one generated `loss_grad` call per sample.
fn batch(w: &Weights, data: &[(Input, Labels)]) -> (f64, Weights) {
    let mut total = 0.0;
    let mut grad = Weights::zeros();
    for (x, y) in data {
        let (value, g) = loss_grad(w, x, y);
        total += value;
        grad += g;
    }
    let n = data.len() as f64;
    (total / n, grad / n)
}

/// The fraction of labels predicted correctly, predicting 1 where σ(Wx) > ½, that is Wx > 0.
fn accuracy(w: &Weights, data: &[(Input, Labels)]) -> f64 {
    let correct: usize = data
        .iter()
        .map(|(x, y)| {
            let logits = w * x;
            logits
                .iter()
                .zip(y.iter())
                .filter(|&(&z, &label)| (z > 0.0) == (label > 0.5))
                .count()
        })
        .sum();
    correct as f64 / (data.len() * 3) as f64
}

/// Compares the generated gradient at one sample with the closed form
/// ∇W = ((σ(Wx) − y)∘σ(Wx)∘(1 − σ(Wx)))·xᵀ, and the value with the loss itself.
fn check_against_closed_form(w: &Weights, (x, y): &(Input, Labels)) {
    let (value, grad) = loss_grad(w, x, y);
    let s = (w * x).map(matgrad::sigmoid);
    let delta = (s - y).component_mul(&s.map(|v| v * (1.0 - v)));
    let closed_form = delta * x.transpose();
    let diff = (grad - closed_form).amax();
    let value_diff = (value - loss(w, x, y)).abs();
    println!(
        "gradient check: max |∇W_generated − ∇W_closed_form| = {diff:.3e} (largest entry {:.3e}), value difference {value_diff:e}",
        closed_form.amax()
    );
    if diff > 1e-12 || value_diff > 0.0 {
        eprintln!("error: the generated gradient disagrees with the closed form");
        process::exit(1);
    }
}

/// `n` samples x ~ N(0, I) labelled by the teacher: yₖ = 1 where (W*x)ₖ > 0, else 0.
fn dataset(rng: &mut SplitMix64, teacher: &Weights, n: usize) -> Vec<(Input, Labels)> {
    (0..n)
        .map(|_| {
            let x = Input::from_fn(|_, _| rng.normal());
            let y = (teacher * x).map(|z| if z > 0.0 { 1.0 } else { 0.0 });
            (x, y)
        })
        .collect()
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
