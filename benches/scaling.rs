//! Generated gradients against hand-written ones as the matrices grow: least squares up to X
//! 2000×50, a two-layer tanh network up to W₁ 512×512, a Gaussian negative log-likelihood up to
//! Σ 32×32, written with an inverse and a determinant and again through a Cholesky factor. Three
//! methods per case:
//!
//! - **generated**: `{name}_grad` from `#[gradient]` on the loss at that size;
//! - **expert**: the hand-written gradient of `reference/mod.rs` (generic over the sizes), written
//!   as an expert would (`gemv`, `tr_mul`, one Cholesky of the SPD Σ);
//! - **operator**: a hand-written gradient that spells the closed form with nalgebra's `*`
//!   operators as it reads (`Xᵀ` materialised, Σ⁻¹ and det Σ each computed on their own, the
//!   outer product multiplied out), the code a careful non-specialist writes.
//!
//! ```text
//! cargo bench --bench scaling                # the timing and the stack tables
//! cargo bench --bench scaling -- --quick     # fewer, shorter rounds
//! cargo bench --bench scaling -- mlp2        # only the cases whose names contain this
//! cargo test --bench scaling                 # the gradient checks alone, untimed
//! ```
//!
//! Fixed-size matrices live on the stack, and at these sizes they outgrow the main thread's
//! 8 MiB: everything runs on a thread with a [`RUN_STACK`] stack. The second table is the stack
//! each method needs, found by bisection over thread stack sizes. A stack overflow aborts the
//! process, so each probe runs in a child process (this binary again, with
//! `--probe-stack CASE METHOD BYTES`) that calls the method once on a thread of that stack size;
//! the smallest size at which the child exits cleanly is the method's need.

#[allow(
    dead_code,
    reason = "shared with the gradients benchmark, which uses every loss and form"
)]
mod reference;
mod timing;

use std::fmt::Write as _;
use std::hint::black_box;
use std::process::{Command, ExitCode, Stdio};
use std::time::Duration;

use matgrad::gradient;
use matgrad::nalgebra::{Const, DimMin, SMatrix, SVector};
use reference::{Params, SplitMix64};
use timing::{Settings, calibrate, format_ns, median};

/// The stack of the thread every case runs on: far more than the largest case needs (see the
/// stack table), reserved but only touched as used.
const RUN_STACK: usize = 1 << 30;

/// The bisection stops when the bracket is one page wide.
const PAGE: usize = 4096;

/// The methods, in table order; a stack probe of method [`NOTHING`] calls nothing, which gives
/// the floor every thread needs.
const METHODS: [&str; 3] = ["generated", "expert", "operator"];
const GENERATED: usize = 0;
const EXPERT: usize = 1;
const OPERATOR: usize = 2;
const NOTHING: usize = 3;

// ---- the losses at the sizes the reference module does not have ----------------------------

/// Least squares, ‖y − Xβ‖², X 200×20.
#[gradient(wrt(beta))]
fn ols_200x20(beta: &SVector<f64, 20>, x: &SMatrix<f64, 200, 20>, y: &SVector<f64, 200>) -> f64 {
    let r = y - x * beta;
    r.norm_squared()
}

/// Least squares, ‖y − Xβ‖², X 2000×50.
#[gradient(wrt(beta))]
fn ols_2000x50(beta: &SVector<f64, 50>, x: &SMatrix<f64, 2000, 50>, y: &SVector<f64, 2000>) -> f64 {
    let r = y - x * beta;
    r.norm_squared()
}

/// ½‖W₂ tanh(W₁x + b₁) + b₂ − y‖², W₁ 128×128, W₂ 10×128.
#[gradient(wrt(w1, b1, w2, b2))]
fn mlp2_128(
    w1: &SMatrix<f64, 128, 128>,
    b1: &SVector<f64, 128>,
    w2: &SMatrix<f64, 10, 128>,
    b2: &SVector<f64, 10>,
    x: &SVector<f64, 128>,
    y: &SVector<f64, 10>,
) -> f64 {
    let h = (w1 * x + b1).map(f64::tanh);
    0.5 * (w2 * h + b2 - y).norm_squared()
}

/// ½‖W₂ tanh(W₁x + b₁) + b₂ − y‖², W₁ 512×512, W₂ 10×512.
#[gradient(wrt(w1, b1, w2, b2))]
fn mlp2_512(
    w1: &SMatrix<f64, 512, 512>,
    b1: &SVector<f64, 512>,
    w2: &SMatrix<f64, 10, 512>,
    b2: &SVector<f64, 10>,
    x: &SVector<f64, 512>,
    y: &SVector<f64, 10>,
) -> f64 {
    let h = (w1 * x + b1).map(f64::tanh);
    0.5 * (w2 * h + b2 - y).norm_squared()
}

/// ½ ln det Σ + ½ rᵀΣ⁻¹r, r = x − μ, Σ 16×16.
#[gradient(wrt(mu, sigma))]
fn gaussian_nll_16(
    mu: &SVector<f64, 16>,
    sigma: &SMatrix<f64, 16, 16>,
    x: &SVector<f64, 16>,
) -> f64 {
    let r = x - mu;
    let inv = sigma.try_inverse().unwrap();
    0.5 * sigma.determinant().ln() + 0.5 * r.dot(&(inv * r))
}

/// ½ ln det Σ + ½ rᵀΣ⁻¹r, r = x − μ, Σ 32×32.
#[gradient(wrt(mu, sigma))]
fn gaussian_nll_32(
    mu: &SVector<f64, 32>,
    sigma: &SMatrix<f64, 32, 32>,
    x: &SVector<f64, 32>,
) -> f64 {
    let r = x - mu;
    let inv = sigma.try_inverse().unwrap();
    0.5 * sigma.determinant().ln() + 0.5 * r.dot(&(inv * r))
}

/// [`gaussian_nll_16`] through a Cholesky factor, as an expert writes the loss itself.
#[gradient(wrt(mu, sigma))]
fn gaussian_nll_chol_16(
    mu: &SVector<f64, 16>,
    sigma: &SMatrix<f64, 16, 16>,
    x: &SVector<f64, 16>,
) -> f64 {
    let r = x - mu;
    let c = sigma.cholesky().unwrap();
    0.5 * c.ln_determinant() + 0.5 * r.dot(&c.solve(&r))
}

/// [`gaussian_nll_32`] through a Cholesky factor.
#[gradient(wrt(mu, sigma))]
fn gaussian_nll_chol_32(
    mu: &SVector<f64, 32>,
    sigma: &SMatrix<f64, 32, 32>,
    x: &SVector<f64, 32>,
) -> f64 {
    let r = x - mu;
    let c = sigma.cholesky().unwrap();
    0.5 * c.ln_determinant() + 0.5 * r.dot(&c.solve(&r))
}

// ---- the operator baselines -----------------------------------------------------------------

/// ∇β = −2Xᵀr as it reads: `Xᵀ` materialised, then multiplied.
fn ols_operator<const N: usize, const P: usize>(
    beta: &SVector<f64, P>,
    x: &SMatrix<f64, N, P>,
    y: &SVector<f64, N>,
) -> (f64, SVector<f64, P>) {
    let r = y - x * beta;
    (r.norm_squared(), x.transpose() * r * -2.0)
}

/// Backpropagation as it reads: `W₂ᵀ` materialised, tanh′ mapped into a vector of its own.
fn mlp2_operator<const I: usize, const H: usize, const O: usize>(
    w1: &SMatrix<f64, H, I>,
    b1: &SVector<f64, H>,
    w2: &SMatrix<f64, O, H>,
    b2: &SVector<f64, O>,
    x: &SVector<f64, I>,
    y: &SVector<f64, O>,
) -> (f64, reference::Mlp2GradOf<I, H, O>) {
    let h = (w1 * x + b1).map(f64::tanh);
    let o = w2 * h + b2 - y;
    let g_w2 = o * h.transpose();
    let g_b1 = (w2.transpose() * o).component_mul(&h.map(|h| 1.0 - h * h));
    let g_w1 = g_b1 * x.transpose();
    (0.5 * o.norm_squared(), (g_w1, g_b1, g_w2, o))
}

/// ∇μ = −½(Σ⁻¹ + Σ⁻ᵀ)r and ∇Σ = ½Σ⁻ᵀ − ½Σ⁻ᵀrrᵀΣ⁻ᵀ as they read: the inverse and the
/// determinant each by their own LU, the products left to right.
///
/// # Panics
///
/// If Σ is singular.
fn gaussian_nll_operator<const N: usize>(
    mu: &SVector<f64, N>,
    sigma: &SMatrix<f64, N, N>,
    x: &SVector<f64, N>,
) -> (f64, (SVector<f64, N>, SMatrix<f64, N, N>))
where
    Const<N>: DimMin<Const<N>, Output = Const<N>>,
{
    let r = x - mu;
    let inv = sigma.try_inverse().unwrap();
    let value = 0.5 * sigma.determinant().ln() + 0.5 * r.dot(&(inv * r));
    let inv_t = inv.transpose();
    let g_mu = (inv + inv_t) * r * -0.5;
    let g_sigma = inv_t * 0.5 - inv_t * r * r.transpose() * inv_t * 0.5;
    (value, (g_mu, g_sigma))
}

/// The Cholesky form's gradient as it reads: G = ½Σ⁻¹ − ½ααᵀ with Σ⁻¹ and α = Σ⁻¹r from
/// nalgebra's factor, folded onto the lower triangle the factorisation reads (Gᵢᵢ on the
/// diagonal, Gᵢⱼ + Gⱼᵢ below it).
///
/// # Panics
///
/// If Σ is not positive definite.
fn gaussian_nll_chol_operator<const N: usize>(
    mu: &SVector<f64, N>,
    sigma: &SMatrix<f64, N, N>,
    x: &SVector<f64, N>,
) -> (f64, (SVector<f64, N>, SMatrix<f64, N, N>)) {
    let r = x - mu;
    let c = sigma.cholesky().unwrap();
    let alpha = c.solve(&r);
    let value = 0.5 * c.ln_determinant() + 0.5 * r.dot(&alpha);
    let g = (c.inverse() - alpha * alpha.transpose()) * 0.5;
    let mut g_sigma = g.lower_triangle() + g.transpose().lower_triangle();
    for i in 0..N {
        g_sigma[(i, i)] = g[(i, i)];
    }
    (value, (-alpha, g_sigma))
}

// ---- cases ----------------------------------------------------------------------------------

/// One loss at one size, with its inputs.
trait Family: Send + Sync {
    /// The loss's name.
    const NAME: &'static str;
    /// The differentiated parameters, and so the gradient's type.
    type Wrt: Params;
    /// The sizes, for the table.
    fn size(&self) -> String;
    /// The `#[gradient]` function itself, value only.
    fn primal(&self) -> f64;
    /// The macro's `{name}_grad`.
    fn generated(&self) -> (f64, Self::Wrt);
    /// The reference module's hand-written gradient.
    fn expert(&self) -> (f64, Self::Wrt);
    /// The closed form spelled with nalgebra's operators.
    fn operator(&self) -> (f64, Self::Wrt);
}

/// What the driver needs of a case, whatever its types.
trait Case: Send + Sync {
    /// The loss's name and sizes.
    fn label(&self) -> String;
    /// The number of differentiated scalars.
    fn inputs(&self) -> usize;
    /// Asserts that the primal value and the generated and operator gradients match the
    /// expert's.
    fn check(&self);
    /// Calls one method once.
    fn run_once(&self, method: usize);
    /// Times `n` calls of one method.
    fn time(&self, method: usize, n: u64) -> Duration;
}

impl<F: Family> Case for F {
    fn label(&self) -> String {
        format!("{} {}", F::NAME, self.size())
    }

    fn inputs(&self) -> usize {
        F::Wrt::LEN
    }

    fn check(&self) {
        let label = self.label();
        let expert = self.expert();
        reference::assert_close(&label, "primal", &(self.primal(), expert.1), &expert, 0.0);
        reference::assert_close(&label, "generated", &self.generated(), &expert, 1e-9);
        reference::assert_close(&label, "operator", &self.operator(), &expert, 1e-9);
    }

    fn run_once(&self, method: usize) {
        match method {
            GENERATED => drop(black_box(self.generated())),
            EXPERT => drop(black_box(self.expert())),
            OPERATOR => drop(black_box(self.operator())),
            _ => {}
        }
    }

    fn time(&self, method: usize, n: u64) -> Duration {
        match method {
            GENERATED => timing::time_batch(self, F::generated, n),
            EXPERT => timing::time_batch(self, F::expert, n),
            _ => timing::time_batch(self, F::operator, n),
        }
    }
}

/// The inputs of least squares with X N×P.
struct Ols<const N: usize, const P: usize> {
    beta: SVector<f64, P>,
    x: SMatrix<f64, N, P>,
    y: SVector<f64, N>,
}

impl<const N: usize, const P: usize> Ols<N, P> {
    /// y = Xβ* + noise, β a perturbation of β*.
    fn new(rng: &mut SplitMix64) -> Self {
        let x = rng.matrix(1.0);
        let truth: SVector<f64, P> = rng.matrix(1.0);
        let y = x * truth + rng.matrix::<N, 1>(0.1);
        let beta = truth + rng.matrix::<P, 1>(0.3);
        Ols { beta, x, y }
    }
}

/// The inputs of the two-layer network with I inputs, H hidden units and O outputs.
struct Mlp2<const I: usize, const H: usize, const O: usize> {
    w1: SMatrix<f64, H, I>,
    b1: SVector<f64, H>,
    w2: SMatrix<f64, O, H>,
    b2: SVector<f64, O>,
    x: SVector<f64, I>,
    y: SVector<f64, O>,
}

impl<const I: usize, const H: usize, const O: usize> Mlp2<I, H, O> {
    /// Weights scaled by 1/√fan-in, so that the pre-activations are of order 1.
    fn new(rng: &mut SplitMix64) -> Self {
        Mlp2 {
            w1: rng.matrix(1.0 / (I as f64).sqrt()),
            b1: rng.matrix(0.1),
            w2: rng.matrix(1.0 / (H as f64).sqrt()),
            b2: rng.matrix(0.1),
            x: rng.matrix(1.0),
            y: rng.matrix(1.0),
        }
    }
}

/// The inputs of the Gaussian negative log-likelihood with Σ N×N.
struct GaussianNll<const N: usize> {
    mu: SVector<f64, N>,
    sigma: SMatrix<f64, N, N>,
    x: SVector<f64, N>,
}

impl<const N: usize> GaussianNll<N> {
    /// Σ = `MᵀM`/N + I with M of N(0, 1) entries: symmetric positive definite, eigenvalues
    /// between 1 and about 5 at every size.
    fn new(rng: &mut SplitMix64) -> Self {
        let m: SMatrix<f64, N, N> = rng.matrix(1.0);
        let sigma = m.tr_mul(&m) / N as f64 + SMatrix::<f64, N, N>::identity();
        GaussianNll {
            mu: rng.matrix(1.0),
            sigma,
            x: rng.matrix(1.0),
        }
    }
}

/// `Family` for `Ols<N, P>` with the generated gradient `$grad`.
macro_rules! ols_case {
    ($n:literal, $p:literal, $primal:path, $grad:path) => {
        impl Family for Ols<$n, $p> {
            const NAME: &'static str = "ols";
            type Wrt = SVector<f64, $p>;
            fn size(&self) -> String {
                format!("X {}×{}", $n, $p)
            }
            fn primal(&self) -> f64 {
                $primal(&self.beta, &self.x, &self.y)
            }
            #[inline(never)]
            fn generated(&self) -> (f64, Self::Wrt) {
                $grad(&self.beta, &self.x, &self.y)
            }
            #[inline(never)]
            fn expert(&self) -> (f64, Self::Wrt) {
                reference::ols_hand(&self.beta, &self.x, &self.y)
            }
            #[inline(never)]
            fn operator(&self) -> (f64, Self::Wrt) {
                ols_operator(&self.beta, &self.x, &self.y)
            }
        }
    };
}

/// `Family` for `Mlp2<I, H, O>` with the generated gradient `$grad`.
macro_rules! mlp2_case {
    ($i:literal, $h:literal, $o:literal, $primal:path, $grad:path) => {
        impl Family for Mlp2<$i, $h, $o> {
            const NAME: &'static str = "mlp2";
            type Wrt = reference::Mlp2GradOf<$i, $h, $o>;
            fn size(&self) -> String {
                format!("W₁ {}×{}, W₂ {}×{}", $h, $i, $o, $h)
            }
            fn primal(&self) -> f64 {
                $primal(&self.w1, &self.b1, &self.w2, &self.b2, &self.x, &self.y)
            }
            #[inline(never)]
            fn generated(&self) -> (f64, Self::Wrt) {
                $grad(&self.w1, &self.b1, &self.w2, &self.b2, &self.x, &self.y)
            }
            #[inline(never)]
            fn expert(&self) -> (f64, Self::Wrt) {
                reference::mlp2_hand(&self.w1, &self.b1, &self.w2, &self.b2, &self.x, &self.y)
            }
            #[inline(never)]
            fn operator(&self) -> (f64, Self::Wrt) {
                mlp2_operator(&self.w1, &self.b1, &self.w2, &self.b2, &self.x, &self.y)
            }
        }
    };
}

/// `Family` for `GaussianNll<N>` with the generated gradient `$grad`.
macro_rules! gaussian_nll_case {
    ($n:literal, $primal:path, $grad:path) => {
        impl Family for GaussianNll<$n> {
            const NAME: &'static str = "gaussian_nll";
            type Wrt = (SVector<f64, $n>, SMatrix<f64, $n, $n>);
            fn size(&self) -> String {
                format!("Σ {}×{}", $n, $n)
            }
            fn primal(&self) -> f64 {
                $primal(&self.mu, &self.sigma, &self.x)
            }
            #[inline(never)]
            fn generated(&self) -> (f64, Self::Wrt) {
                $grad(&self.mu, &self.sigma, &self.x)
            }
            #[inline(never)]
            fn expert(&self) -> (f64, Self::Wrt) {
                reference::gaussian_nll_hand(&self.mu, &self.sigma, &self.x)
            }
            #[inline(never)]
            fn operator(&self) -> (f64, Self::Wrt) {
                gaussian_nll_operator(&self.mu, &self.sigma, &self.x)
            }
        }
    };
}

/// The Gaussian NLL through a Cholesky factor: its inputs are those of [`GaussianNll`].
struct GaussianNllChol<const N: usize>(GaussianNll<N>);

/// `Family` for `GaussianNllChol<N>` with the generated gradient `$grad`.
macro_rules! gaussian_nll_chol_case {
    ($n:literal, $primal:path, $grad:path) => {
        impl Family for GaussianNllChol<$n> {
            const NAME: &'static str = "gaussian_nll_chol";
            type Wrt = (SVector<f64, $n>, SMatrix<f64, $n, $n>);
            fn size(&self) -> String {
                format!("Σ {}×{}", $n, $n)
            }
            fn primal(&self) -> f64 {
                $primal(&self.0.mu, &self.0.sigma, &self.0.x)
            }
            #[inline(never)]
            fn generated(&self) -> (f64, Self::Wrt) {
                $grad(&self.0.mu, &self.0.sigma, &self.0.x)
            }
            #[inline(never)]
            fn expert(&self) -> (f64, Self::Wrt) {
                reference::gaussian_nll_chol_hand(&self.0.mu, &self.0.sigma, &self.0.x)
            }
            #[inline(never)]
            fn operator(&self) -> (f64, Self::Wrt) {
                gaussian_nll_chol_operator(&self.0.mu, &self.0.sigma, &self.0.x)
            }
        }
    };
}

ols_case!(20, 5, reference::ols, reference::ols_grad);
ols_case!(200, 20, ols_200x20, ols_200x20_grad);
ols_case!(2000, 50, ols_2000x50, ols_2000x50_grad);
mlp2_case!(16, 32, 4, reference::mlp2, reference::mlp2_grad);
mlp2_case!(128, 128, 10, mlp2_128, mlp2_128_grad);
mlp2_case!(512, 512, 10, mlp2_512, mlp2_512_grad);
gaussian_nll_case!(6, reference::gaussian_nll, reference::gaussian_nll_grad);
gaussian_nll_case!(16, gaussian_nll_16, gaussian_nll_16_grad);
gaussian_nll_case!(32, gaussian_nll_32, gaussian_nll_32_grad);
gaussian_nll_chol_case!(
    6,
    reference::gaussian_nll_chol,
    reference::gaussian_nll_chol_grad
);
gaussian_nll_chol_case!(16, gaussian_nll_chol_16, gaussian_nll_chol_16_grad);
gaussian_nll_chol_case!(32, gaussian_nll_chol_32, gaussian_nll_chol_32_grad);

/// Builds one case's inputs from the generator.
type Maker = fn(&mut SplitMix64) -> Box<dyn Case>;

/// Every case, in table order.
const CASES: [Maker; 12] = [
    |rng| Box::new(Ols::<20, 5>::new(rng)),
    |rng| Box::new(Ols::<200, 20>::new(rng)),
    |rng| Box::new(Ols::<2000, 50>::new(rng)),
    |rng| Box::new(Mlp2::<16, 32, 4>::new(rng)),
    |rng| Box::new(Mlp2::<128, 128, 10>::new(rng)),
    |rng| Box::new(Mlp2::<512, 512, 10>::new(rng)),
    |rng| Box::new(GaussianNll::<6>::new(rng)),
    |rng| Box::new(GaussianNll::<16>::new(rng)),
    |rng| Box::new(GaussianNll::<32>::new(rng)),
    |rng| Box::new(GaussianNllChol(GaussianNll::<6>::new(rng))),
    |rng| Box::new(GaussianNllChol(GaussianNll::<16>::new(rng))),
    |rng| Box::new(GaussianNllChol(GaussianNll::<32>::new(rng))),
];

/// Case `index` with its deterministic inputs (the same in a probing child as in the parent).
fn make_case(index: usize) -> Box<dyn Case> {
    let mut rng = SplitMix64(reference::SEED ^ index as u64);
    CASES[index](&mut rng)
}

/// Runs `f` on a thread with a stack of `bytes`, and returns whether it finished (it returns
/// at all only if the thread did not overflow its stack, which aborts the process).
fn on_stack<R: Send>(bytes: usize, f: impl FnOnce() -> R + Send) -> std::thread::Result<R> {
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .stack_size(bytes)
            .spawn_scoped(scope, f)
            .expect("invariant: the system can start a thread")
            .join()
    })
}

// ---- timing ---------------------------------------------------------------------------------

/// One row of the timing table.
struct Row {
    label: String,
    inputs: usize,
    /// Median ns per call of each method.
    ns: [f64; 3],
    gen_over_expert: f64,
    gen_over_operator: f64,
}

/// Times the three methods of one case in interleaved rounds, in an order rotated from round to
/// round, as the gradients benchmark does.
fn bench(case: &dyn Case, settings: &Settings) -> Row {
    let timers: [timing::Timer<dyn Case>; 3] = [
        |c, n| c.time(GENERATED, n),
        |c, n| c.time(EXPERT, n),
        |c, n| c.time(OPERATOR, n),
    ];
    let batch: [u64; 3] = std::array::from_fn(|m| calibrate(case, timers[m], settings.batch));
    let mut per_call = vec![[0.0_f64; 3]; settings.rounds];
    for (round, times) in per_call.iter_mut().enumerate() {
        for k in 0..METHODS.len() {
            let m = (k + round) % METHODS.len();
            let elapsed = timers[m](case, batch[m]);
            times[m] = elapsed.as_secs_f64() * 1e9 / batch[m] as f64;
        }
    }
    let column =
        |f: &dyn Fn(&[f64; 3]) -> f64| median(&mut per_call.iter().map(f).collect::<Vec<_>>());
    Row {
        label: case.label(),
        inputs: case.inputs(),
        ns: std::array::from_fn(|m| column(&|t| t[m])),
        gen_over_expert: column(&|t| t[GENERATED] / t[EXPERT]),
        gen_over_operator: column(&|t| t[GENERATED] / t[OPERATOR]),
    }
}

fn timing_table(rows: &[Row]) -> String {
    let mut out = String::from(
        "| case | inputs | generated | expert | operator | gen/expert | gen/operator |\n\
         |---|--:|--:|--:|--:|--:|--:|\n",
    );
    for row in rows {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {:.2} | {:.2} |",
            row.label,
            row.inputs,
            format_ns(row.ns[GENERATED]),
            format_ns(row.ns[EXPERT]),
            format_ns(row.ns[OPERATOR]),
            row.gen_over_expert,
            row.gen_over_operator,
        );
    }
    out
}

// ---- stack ----------------------------------------------------------------------------------

/// Whether a child process runs `method` of case `index` on a thread of `bytes` without
/// overflowing its stack.
fn fits(index: usize, method: usize, bytes: usize) -> bool {
    let exe = std::env::current_exe().expect("invariant: the running binary has a path");
    Command::new(exe)
        .args([
            "--probe-stack".to_owned(),
            index.to_string(),
            method.to_string(),
            bytes.to_string(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The smallest thread stack, to a page, on which `method` of case `index` runs, or `None` if
/// even [`RUN_STACK`] is too small.
fn stack_needed(index: usize, method: usize) -> Option<usize> {
    if !fits(index, method, RUN_STACK) {
        return None;
    }
    // Invariant: `hi` fits; `lo` does not, or is 0.
    let (mut lo, mut hi) = (0, RUN_STACK);
    while hi - lo > PAGE {
        let mid = lo + (hi - lo) / 2;
        if fits(index, method, mid) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    Some(hi)
}

/// The child's side of [`fits`]: builds the case on a large stack, then calls the method once
/// on a thread of `bytes`.
fn probe(args: &[String]) -> ExitCode {
    let parsed: Vec<usize> = args.iter().filter_map(|a| a.parse().ok()).collect();
    let &[index, method, bytes] = parsed.as_slice() else {
        eprintln!("usage: scaling --probe-stack CASE METHOD BYTES");
        return ExitCode::FAILURE;
    };
    if index >= CASES.len() {
        eprintln!("no case {index}");
        return ExitCode::FAILURE;
    }
    let Ok(case) = on_stack(RUN_STACK, || make_case(index)) else {
        return ExitCode::FAILURE;
    };
    match on_stack(bytes, || case.run_once(method)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) => ExitCode::FAILURE,
    }
}

fn format_bytes(bytes: usize) -> String {
    if bytes >= 1 << 20 {
        format!("{:.1} MiB", bytes as f64 / f64::from(1 << 20))
    } else {
        format!("{} KiB", bytes >> 10)
    }
}

/// The stack table; a cell no larger than `floor` (what a thread that calls nothing needs) reads
/// "minimum".
fn stack_table(cases: &[(usize, Box<dyn Case>)], floor: Option<usize>) -> String {
    let mut out = String::from(
        "| case | generated | expert | operator |\n\
         |---|--:|--:|--:|\n",
    );
    for (index, case) in cases {
        let label = case.label();
        let _ = write!(out, "| {label} |");
        for method in [GENERATED, EXPERT, OPERATOR] {
            let cell = match stack_needed(*index, method) {
                None => format!("> {}", format_bytes(RUN_STACK)),
                Some(bytes) if floor.is_some_and(|f| bytes <= f) => "minimum".to_owned(),
                Some(bytes) => format_bytes(bytes),
            };
            let _ = write!(out, " {cell} |");
        }
        out.push('\n');
        eprintln!("  probed {label}");
    }
    out
}

// ---- driver ---------------------------------------------------------------------------------

/// Checks every case, then (under `cargo bench`) times them and probes their stacks.
fn run(settings: &Settings) {
    let cases: Vec<(usize, Box<dyn Case>)> = (0..CASES.len())
        .map(|i| (i, make_case(i)))
        .filter(|(_, case)| settings.wants(&case.label()))
        .collect();
    for (_, case) in &cases {
        case.check();
    }
    println!("All generated and operator gradients agree with the expert ones.");
    if !settings.timing {
        println!("Not timing: run `cargo bench` (which passes `--bench`) for the tables.");
        return;
    }
    let mut rows = Vec::new();
    for (_, case) in &cases {
        let row = bench(&**case, settings);
        eprintln!("  measured {}", row.label);
        rows.push(row);
    }
    let floor = stack_needed(0, NOTHING);
    let stacks = stack_table(&cases, floor);

    println!("\n# matgrad scaling benchmark\n");
    println!("- date: {}", timing::utc_now());
    println!("- rustc: {}", timing::rustc_version());
    println!("- cpu: {}", timing::cpu_model());
    println!(
        "- {} rounds, batches of ~{} ms per method, methods in rotated order each round\n",
        settings.rounds,
        settings.batch.as_millis()
    );
    print!("{}", timing_table(&rows));
    println!(
        "\nTimes are medians per call; ratios are medians of per-round ratios. `inputs` is the \
         number of differentiated scalars.\n"
    );
    println!(
        "Stack each method needs: the smallest thread stack (to 4 KiB) on which one call runs.\n"
    );
    print!("{stacks}");
    let floor = floor.map_or_else(|| "?".to_owned(), format_bytes);
    println!(
        "\n\"minimum\": no more than a thread that calls nothing needs ({floor} requested; the \
         platform rounds smaller requests up to its minimum thread stack, which includes the \
         thread-local storage)."
    );
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().is_some_and(|a| a == "--probe-stack") {
        return probe(&args[1..]);
    }
    let settings = Settings::from_args();
    match on_stack(RUN_STACK, || run(&settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) => ExitCode::FAILURE,
    }
}
