//! Four reference losses, each with its Hessian computed five ways, which `benches/hessians.rs`
//! times side by side:
//!
//! - the function itself, with `#[hessian(wrt(…))]` on it, so the macro writes `{name}_grad`,
//!   `{name}_hessian` and `{name}_hvp`;
//! - `{name}_hand`, the closed-form value, gradient and Hessian written as an expert would
//!   (Xᵀdiag(s)X by scaling rows, Σ⁻¹ and det Σ from one LU factorization, 2·(BBᵀ⊗AᵀA) block
//!   by block, Rosenbrock's tridiagonal formula);
//! - `{name}_generic`, the function over any `RealField`, which [`Loss::dual`] runs through
//!   `num_dual::hessian` (one pass on `Dual2SVec64<n>`: value, gradient and Hessian at once);
//! - [`central_hessian`], central differences of the generated gradient (2n gradient calls, and
//!   one more for the value and gradient at the point).
//!
//! The losses: the negative log-likelihood of logistic regression with a ridge term (20 weights,
//! 60 samples, swept in a loop with `softplus`), a Gaussian negative log-likelihood in its mean
//! (6 entries, Σ a constant SPD matrix inverted in the body), the matrix fit ‖AXB − C‖² in X
//! (3×4, 12 entries), Rosenbrock's function in 10 dimensions (a loop), and a tanh layer's
//! squared error ‖tanh(W·x) − y‖² in its 8×8 weights (64 entries, a `map`).
//! [`check_all`] asserts that every method's value, gradient and Hessian match the hand-written
//! ones, that the generated Hessian is exactly symmetric and that the generated H·v is the hand
//! H times v, before anything is timed.
//!
//! This file is a module, not a bench target (Cargo would make a bench of a `benches/*.rs`
//! file): `hessians.rs` declares it with `mod hessian_reference;`.

use matgrad::nalgebra::{self as na, RealField, SMatrix, SVector};
use matgrad::{hessian, softplus};
use num_dual::Dual2SVec64;

#[allow(
    clippy::duplicate_mod,
    reason = "tests/alloc.rs loads both references, each with these kernels"
)]
#[path = "../reference/spd.rs"]
mod spd;

/// An `f64` constant (a datum) in the scalar type of a generic twin.
fn lift<T: RealField + Copy>(v: f64) -> T {
    na::convert(v)
}

// ---- the methods ----------------------------------------------------------------------------

/// A gradient or a Hessian as one flat list of numbers, for comparing methods.
pub trait Flat {
    /// Every entry, column-major.
    fn entries(&self) -> Vec<f64>;
}

impl<const R: usize, const C: usize> Flat for SMatrix<f64, R, C> {
    fn entries(&self) -> Vec<f64> {
        self.as_slice().to_vec()
    }
}

/// One reference loss at one input point, in every form the benchmark compares.
///
/// The impls mark every method `#[inline(never)]`: each is then compiled once, as a caller in
/// another crate would see it, and the timing loop around it cannot change its code generation.
pub trait Loss {
    /// The loss's name in the table.
    const NAME: &'static str;
    /// The number of differentiated scalars, n: the Hessian is n×n.
    const INPUTS: usize;
    /// The differentiated parameter, and so the gradient, the direction v and H·v.
    type Point: Flat;
    /// The n×n Hessian.
    type Hessian: Flat;

    /// The `#[hessian]` function itself (checked, not timed).
    fn primal(&self) -> f64;
    /// The macro's `{name}_grad`.
    fn grad(&self) -> (f64, Self::Point);
    /// The macro's `{name}_hessian`.
    fn generated(&self) -> (f64, Self::Point, Self::Hessian);
    /// The macro's `{name}_hvp` in the fixed direction [`Loss::direction`].
    fn hvp(&self) -> (f64, Self::Point, Self::Point);
    /// The expert's closed form.
    fn hand(&self) -> (f64, Self::Point, Self::Hessian);
    /// `num_dual::hessian` over the generic twin.
    fn dual(&self) -> (f64, Self::Point, Self::Hessian);
    /// Central differences of the generated gradient.
    fn central(&self) -> (f64, Self::Point, Self::Hessian);
    /// The direction v of [`Loss::hvp`].
    fn direction(&self) -> &Self::Point;
}

/// The value, gradient and Hessian at `x` by central differences of the gradient `grad`, with
/// the step h = ∛ε·max(1, |x|) for each entry x: column l of H is (∇f(x + h·eₗ) −
/// ∇f(x − h·eₗ))/2h, so 2n gradient calls, and one more for the value and gradient at x.
pub fn central_hessian<const R: usize, const C: usize, const N: usize>(
    grad: impl Fn(&SMatrix<f64, R, C>) -> (f64, SMatrix<f64, R, C>),
    x: &SMatrix<f64, R, C>,
) -> (f64, SMatrix<f64, R, C>, SMatrix<f64, N, N>) {
    const { assert!(R * C == N, "H is n×n for the n = R·C entries of X") };
    let cbrt_eps = f64::EPSILON.cbrt();
    let mut at = *x;
    let mut h = SMatrix::<f64, N, N>::zeros();
    for l in 0..N {
        let step = cbrt_eps * x[l].abs().max(1.0);
        at[l] = x[l] + step;
        let up = grad(&at).1;
        at[l] = x[l] - step;
        let down = grad(&at).1;
        at[l] = x[l];
        let scale = 0.5 / step;
        for k in 0..N {
            h[(k, l)] = (up[k] - down[k]) * scale;
        }
    }
    let (value, g) = grad(x);
    (value, g, h)
}

/// A matrix from its column-major entries.
fn reshape<T: RealField + Copy, const R: usize, const C: usize, const N: usize>(
    v: &SVector<T, N>,
    offset: usize,
) -> SMatrix<T, R, C> {
    SMatrix::from_fn(|i, j| v[offset + i + R * j])
}

// ---- inputs ---------------------------------------------------------------------------------

/// The splitmix64 generator: the same data on every machine.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform on [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1_u64 << 53) as f64
    }

    /// Uniform on [−1, 1).
    fn symmetric(&mut self) -> f64 {
        2.0 * self.unit() - 1.0
    }

    /// A matrix of entries uniform on [−1, 1).
    fn matrix<const R: usize, const C: usize>(&mut self) -> SMatrix<f64, R, C> {
        SMatrix::from_fn(|_, _| self.symmetric())
    }
}

// ---- logistic: Σᵢ softplus(zᵢ) − yᵢzᵢ + ½λ‖w‖², z = Xw, 20 weights, 60 samples ---------------

/// The number of samples of the logistic regression.
pub const SAMPLES: usize = 60;
/// The number of weights of the logistic regression.
pub const WEIGHTS: usize = 20;
type Weights = SVector<f64, WEIGHTS>;
type Design = SMatrix<f64, SAMPLES, WEIGHTS>;
type Labels = SVector<f64, SAMPLES>;

/// The negative log-likelihood of the labels y under logistic regression with weights w, plus a
/// ridge term ½λ‖w‖².
#[hessian(wrt(w))]
pub fn logistic(
    w: &SVector<f64, 20>,
    x: &SMatrix<f64, 60, 20>,
    y: &SVector<f64, 60>,
    lambda: f64,
) -> f64 {
    let z = x * w;
    let mut nll = 0.5 * lambda * w.norm_squared();
    for i in 0..60 {
        nll += softplus(z[i]) - y[i] * z[i];
    }
    nll
}

/// With p = σ(Xw) and s = p∘(1 − p): ∇f = Xᵀ(p − y) + λw and H = Xᵀdiag(s)X + λI, the latter
/// as Xᵀ times X with its rows scaled by s (one 20×60×20 product, no n×n temporaries).
#[must_use]
pub fn logistic_hand(
    w: &Weights,
    x: &Design,
    y: &Labels,
    lambda: f64,
) -> (f64, Weights, SMatrix<f64, WEIGHTS, WEIGHTS>) {
    let z = x * w;
    let mut value = 0.5 * lambda * w.norm_squared();
    let mut residual = Labels::zeros();
    let mut scaled = *x;
    for i in 0..SAMPLES {
        let zi = z[i];
        value += softplus(zi) - y[i] * zi;
        let p = matgrad::sigmoid(zi);
        residual[i] = p - y[i];
        scaled.row_mut(i).scale_mut(p * (1.0 - p));
    }
    let mut grad = *w;
    grad.gemv_tr(1.0, x, &residual, lambda);
    let mut h = x.tr_mul(&scaled);
    for k in 0..WEIGHTS {
        h[(k, k)] += lambda;
    }
    (value, grad, h)
}

/// [`logistic`] over any real field, the data staying `f64`; z = Xw by rows, so that no 60×20
/// matrix of dual numbers is ever built.
pub fn logistic_generic<T: RealField + Copy>(
    w: &SVector<T, WEIGHTS>,
    x: &Design,
    y: &Labels,
    lambda: f64,
) -> T {
    let one = T::one();
    let mut nll = lift::<T>(0.5 * lambda) * w.norm_squared();
    for i in 0..SAMPLES {
        let mut z = T::zero();
        for j in 0..WEIGHTS {
            z += lift::<T>(x[(i, j)]) * w[j];
        }
        nll += (one + z.exp()).ln() - lift::<T>(y[i]) * z;
    }
    nll
}

/// The inputs of [`logistic`]: features and weights uniform on [−1, 1), labels Bernoulli(½),
/// λ = 0.1, and a random direction.
pub struct Logistic {
    pub w: Weights,
    pub x: Design,
    pub y: Labels,
    pub lambda: f64,
    pub v: Weights,
}

impl Logistic {
    fn new(rng: &mut SplitMix64) -> Self {
        let x = rng.matrix();
        let y = Labels::from_fn(|_, _| f64::from(u8::from(rng.unit() < 0.5)));
        Logistic {
            w: rng.matrix(),
            x,
            y,
            lambda: 0.1,
            v: rng.matrix(),
        }
    }
}

impl Loss for Logistic {
    const NAME: &'static str = "logistic";
    const INPUTS: usize = WEIGHTS;
    type Point = Weights;
    type Hessian = SMatrix<f64, WEIGHTS, WEIGHTS>;

    fn primal(&self) -> f64 {
        logistic(&self.w, &self.x, &self.y, self.lambda)
    }
    #[inline(never)]
    fn grad(&self) -> (f64, Weights) {
        logistic_grad(&self.w, &self.x, &self.y, self.lambda)
    }
    #[inline(never)]
    fn generated(&self) -> (f64, Weights, Self::Hessian) {
        logistic_hessian(&self.w, &self.x, &self.y, self.lambda)
    }
    #[inline(never)]
    fn hvp(&self) -> (f64, Weights, Weights) {
        logistic_hvp(&self.w, &self.x, &self.y, self.lambda, &self.v)
    }
    #[inline(never)]
    fn hand(&self) -> (f64, Weights, Self::Hessian) {
        logistic_hand(&self.w, &self.x, &self.y, self.lambda)
    }
    #[inline(never)]
    fn dual(&self) -> (f64, Weights, Self::Hessian) {
        num_dual::hessian(
            |w: SVector<Dual2SVec64<WEIGHTS>, WEIGHTS>| {
                logistic_generic(&w, &self.x, &self.y, self.lambda)
            },
            &self.w,
        )
    }
    #[inline(never)]
    fn central(&self) -> (f64, Weights, Self::Hessian) {
        central_hessian(|w| logistic_grad(w, &self.x, &self.y, self.lambda), &self.w)
    }
    fn direction(&self) -> &Weights {
        &self.v
    }
}

// ---- gaussian: ½(x − μ)ᵀΣ⁻¹(x − μ) + ½ln det Σ in μ, 6 entries ------------------------------

/// The dimension of the Gaussian.
pub const DIM: usize = 6;
type Mean = SVector<f64, DIM>;
type Covariance = SMatrix<f64, DIM, DIM>;

/// The negative log-likelihood of x under N(μ, Σ) (without the constant ½n·ln 2π), as a
/// function of the mean; Σ is a constant SPD matrix, inverted in the body.
#[hessian(wrt(mu))]
pub fn gaussian(mu: &SVector<f64, 6>, x: &SVector<f64, 6>, sigma: &SMatrix<f64, 6, 6>) -> f64 {
    let r = x - mu;
    let precision = sigma.try_inverse().unwrap();
    0.5 * r.dot(&(precision * r)) + 0.5 * sigma.determinant().ln()
}

/// With r = x − μ: f = ½rᵀΣ⁻¹r + ½ln det Σ, ∇f = −Σ⁻¹r and H = Σ⁻¹. Σ is SPD, and an expert
/// factors it by Cholesky, Σ = L·Lᵀ: ½ln det Σ = Σᵢ ln Lᵢᵢ, w = L⁻¹r, ½rᵀΣ⁻¹r = ½‖w‖², and
/// Σ⁻¹ = L⁻ᵀL⁻¹, one triangle computed and mirrored.
///
/// # Panics
///
/// If Σ is not positive definite.
#[must_use]
pub fn gaussian_hand(mu: &Mean, x: &Mean, sigma: &Covariance) -> (f64, Mean, Covariance) {
    let l = spd::cholesky_lower(sigma);
    let li = spd::lower_inverse(&l);
    let r = x - mu;
    let w = spd::lower_mul(&li, &r);
    let mut precision = Covariance::zeros();
    for j in 0..DIM {
        for i in j..DIM {
            let v = li
                .column(i)
                .rows_range(i..)
                .dot(&li.column(j).rows_range(i..));
            precision[(i, j)] = v;
            precision[(j, i)] = v;
        }
    }
    let half_ln_det: f64 = (0..DIM).map(|i| l[(i, i)].ln()).sum();
    (
        half_ln_det + 0.5 * w.norm_squared(),
        -(precision * r),
        precision,
    )
}

/// [`gaussian`] over any real field: Σ⁻¹ and ln det Σ are constants, computed in `f64`.
///
/// # Panics
///
/// If Σ is singular.
pub fn gaussian_generic<T: RealField + Copy>(
    mu: &SVector<T, DIM>,
    x: &Mean,
    sigma: &Covariance,
) -> T {
    let r = x.map(lift::<T>) - mu;
    let precision = sigma.try_inverse().expect("Σ is invertible").map(lift::<T>);
    lift::<T>(0.5) * r.dot(&(precision * r)) + lift(0.5 * sigma.determinant().ln())
}

/// The inputs of [`gaussian`]: Σ = L·Lᵀ + I for a random L, random μ, x and direction.
pub struct Gaussian {
    pub mu: Mean,
    pub x: Mean,
    pub sigma: Covariance,
    pub v: Mean,
}

impl Gaussian {
    fn new(rng: &mut SplitMix64) -> Self {
        let l: Covariance = rng.matrix();
        Gaussian {
            mu: rng.matrix(),
            x: rng.matrix(),
            sigma: l * l.transpose() + Covariance::identity(),
            v: rng.matrix(),
        }
    }
}

impl Loss for Gaussian {
    const NAME: &'static str = "gaussian";
    const INPUTS: usize = DIM;
    type Point = Mean;
    type Hessian = Covariance;

    fn primal(&self) -> f64 {
        gaussian(&self.mu, &self.x, &self.sigma)
    }
    #[inline(never)]
    fn grad(&self) -> (f64, Mean) {
        gaussian_grad(&self.mu, &self.x, &self.sigma)
    }
    #[inline(never)]
    fn generated(&self) -> (f64, Mean, Covariance) {
        gaussian_hessian(&self.mu, &self.x, &self.sigma)
    }
    #[inline(never)]
    fn hvp(&self) -> (f64, Mean, Mean) {
        gaussian_hvp(&self.mu, &self.x, &self.sigma, &self.v)
    }
    #[inline(never)]
    fn hand(&self) -> (f64, Mean, Covariance) {
        gaussian_hand(&self.mu, &self.x, &self.sigma)
    }
    #[inline(never)]
    fn dual(&self) -> (f64, Mean, Covariance) {
        num_dual::hessian(
            |mu: SVector<Dual2SVec64<DIM>, DIM>| gaussian_generic(&mu, &self.x, &self.sigma),
            &self.mu,
        )
    }
    #[inline(never)]
    fn central(&self) -> (f64, Mean, Covariance) {
        central_hessian(|mu| gaussian_grad(mu, &self.x, &self.sigma), &self.mu)
    }
    fn direction(&self) -> &Mean {
        &self.v
    }
}

// ---- fit: ‖AXB − C‖² in X, A 5×3, X 3×4, B 4×6, C 5×6 ---------------------------------------

type FitA = SMatrix<f64, 5, 3>;
type FitX = SMatrix<f64, 3, 4>;
type FitB = SMatrix<f64, 4, 6>;
type FitC = SMatrix<f64, 5, 6>;
/// The number of entries of X in the matrix fit.
pub const FIT_ENTRIES: usize = 12;

/// A least-squares fit with X in the middle of a product.
#[hessian(wrt(x))]
pub fn fit(
    a: &SMatrix<f64, 5, 3>,
    x: &SMatrix<f64, 3, 4>,
    b: &SMatrix<f64, 4, 6>,
    c: &SMatrix<f64, 5, 6>,
) -> f64 {
    (a * x * b - c).norm_squared()
}

/// With R = AXB − C: ∇f = 2AᵀRBᵀ and H = 2·(BBᵀ ⊗ AᵀA): the 3×3 block at rows 3j, columns 3l
/// is 2(BBᵀ)ⱼₗ·AᵀA.
#[must_use]
pub fn fit_hand(
    a: &FitA,
    x: &FitX,
    b: &FitB,
    c: &FitC,
) -> (f64, FitX, SMatrix<f64, FIT_ENTRIES, FIT_ENTRIES>) {
    let r = a * (x * b) - c;
    let grad = 2.0 * a.tr_mul(&(r * b.transpose()));
    let ata = a.tr_mul(a);
    let bbt = b * b.transpose();
    let mut h = SMatrix::<f64, FIT_ENTRIES, FIT_ENTRIES>::zeros();
    for l in 0..4 {
        for j in 0..4 {
            h.fixed_view_mut::<3, 3>(3 * j, 3 * l)
                .copy_from(&(ata * (2.0 * bbt[(j, l)])));
        }
    }
    (r.norm_squared(), grad, h)
}

/// [`fit`] over any real field, of X's column-major entries.
pub fn fit_generic<T: RealField + Copy>(
    a: &FitA,
    x: &SVector<T, FIT_ENTRIES>,
    b: &FitB,
    c: &FitC,
) -> T {
    let x: SMatrix<T, 3, 4> = reshape(x, 0);
    (a.map(lift::<T>) * x * b.map(lift::<T>) - c.map(lift::<T>)).norm_squared()
}

/// The inputs of [`fit`].
pub struct Fit {
    pub a: FitA,
    pub x: FitX,
    pub b: FitB,
    pub c: FitC,
    pub v: FitX,
}

impl Fit {
    fn new(rng: &mut SplitMix64) -> Self {
        Fit {
            a: rng.matrix(),
            x: rng.matrix(),
            b: rng.matrix(),
            c: rng.matrix(),
            v: rng.matrix(),
        }
    }

    /// X's entries as a vector.
    fn flat_x(&self) -> SVector<f64, FIT_ENTRIES> {
        SVector::from_column_slice(self.x.as_slice())
    }
}

impl Loss for Fit {
    const NAME: &'static str = "fit";
    const INPUTS: usize = FIT_ENTRIES;
    type Point = FitX;
    type Hessian = SMatrix<f64, FIT_ENTRIES, FIT_ENTRIES>;

    fn primal(&self) -> f64 {
        fit(&self.a, &self.x, &self.b, &self.c)
    }
    #[inline(never)]
    fn grad(&self) -> (f64, FitX) {
        fit_grad(&self.a, &self.x, &self.b, &self.c)
    }
    #[inline(never)]
    fn generated(&self) -> (f64, FitX, Self::Hessian) {
        fit_hessian(&self.a, &self.x, &self.b, &self.c)
    }
    #[inline(never)]
    fn hvp(&self) -> (f64, FitX, FitX) {
        fit_hvp(&self.a, &self.x, &self.b, &self.c, &self.v)
    }
    #[inline(never)]
    fn hand(&self) -> (f64, FitX, Self::Hessian) {
        fit_hand(&self.a, &self.x, &self.b, &self.c)
    }
    #[inline(never)]
    fn dual(&self) -> (f64, FitX, Self::Hessian) {
        let (value, grad, h) = num_dual::hessian(
            |x: SVector<Dual2SVec64<FIT_ENTRIES>, FIT_ENTRIES>| {
                fit_generic(&self.a, &x, &self.b, &self.c)
            },
            &self.flat_x(),
        );
        (value, reshape(&grad, 0), h)
    }
    #[inline(never)]
    fn central(&self) -> (f64, FitX, Self::Hessian) {
        central_hessian(|x| fit_grad(&self.a, x, &self.b, &self.c), &self.x)
    }
    fn direction(&self) -> &FitX {
        &self.v
    }
}

// ---- layer: ‖tanh(W·x) − y‖² in W, W 8×8 (64 weights) ----------------------------------------

type LayerW = SMatrix<f64, 8, 8>;
type Layer8 = SVector<f64, 8>;
/// The number of weights of the tanh layer.
pub const LAYER_WEIGHTS: usize = 64;

/// A tanh layer's squared error in its weights.
#[hessian(wrt(w))]
pub fn layer(w: &SMatrix<f64, 8, 8>, x: &SVector<f64, 8>, y: &SVector<f64, 8>) -> f64 {
    ((w * x).map(f64::tanh) - y).norm_squared()
}

/// With h = tanh(Wx), r = h − y and s = 1 − h²: ∇W = (2r∘s)·xᵀ, and H is block diagonal by the
/// rows of W: H[(i + 8j, i + 8l)] = cᵢ·xⱼ·xₗ with cᵢ = 2(sᵢ² − 2rᵢhᵢsᵢ), zero across rows.
#[must_use]
pub fn layer_hand(
    w: &LayerW,
    x: &Layer8,
    y: &Layer8,
) -> (f64, LayerW, SMatrix<f64, LAYER_WEIGHTS, LAYER_WEIGHTS>) {
    let h = (w * x).map(f64::tanh);
    let r = h - y;
    let mut grad = LayerW::zeros();
    let mut c = Layer8::zeros();
    for i in 0..8 {
        let s = 1.0 - h[i] * h[i];
        let g = 2.0 * r[i] * s;
        for j in 0..8 {
            grad[(i, j)] = g * x[j];
        }
        c[i] = 2.0 * (s * s - 2.0 * r[i] * h[i] * s);
    }
    let mut hessian = SMatrix::<f64, LAYER_WEIGHTS, LAYER_WEIGHTS>::zeros();
    for l in 0..8 {
        for j in 0..8 {
            let xx = x[j] * x[l];
            for i in 0..8 {
                hessian[(i + 8 * j, i + 8 * l)] = c[i] * xx;
            }
        }
    }
    (r.norm_squared(), grad, hessian)
}

/// [`layer`] over any real field, of W's column-major entries.
pub fn layer_generic<T: RealField + Copy>(
    w: &SVector<T, LAYER_WEIGHTS>,
    x: &Layer8,
    y: &Layer8,
) -> T {
    let w: SMatrix<T, 8, 8> = reshape(w, 0);
    ((w * x.map(lift::<T>)).map(na::ComplexField::tanh) - y.map(lift::<T>)).norm_squared()
}

/// The inputs of [`layer`].
pub struct Layer {
    pub w: LayerW,
    pub x: Layer8,
    pub y: Layer8,
    pub v: LayerW,
}

impl Layer {
    fn new(rng: &mut SplitMix64) -> Self {
        Layer {
            w: rng.matrix::<8, 8>() * 0.5,
            x: rng.matrix(),
            y: rng.matrix(),
            v: rng.matrix(),
        }
    }
}

impl Loss for Layer {
    const NAME: &'static str = "layer";
    const INPUTS: usize = LAYER_WEIGHTS;
    type Point = LayerW;
    type Hessian = SMatrix<f64, LAYER_WEIGHTS, LAYER_WEIGHTS>;

    fn primal(&self) -> f64 {
        layer(&self.w, &self.x, &self.y)
    }
    #[inline(never)]
    fn grad(&self) -> (f64, LayerW) {
        layer_grad(&self.w, &self.x, &self.y)
    }
    #[inline(never)]
    fn generated(&self) -> (f64, LayerW, Self::Hessian) {
        layer_hessian(&self.w, &self.x, &self.y)
    }
    #[inline(never)]
    fn hvp(&self) -> (f64, LayerW, LayerW) {
        layer_hvp(&self.w, &self.x, &self.y, &self.v)
    }
    #[inline(never)]
    fn hand(&self) -> (f64, LayerW, Self::Hessian) {
        layer_hand(&self.w, &self.x, &self.y)
    }
    #[inline(never)]
    fn dual(&self) -> (f64, LayerW, Self::Hessian) {
        let flat = SVector::<f64, LAYER_WEIGHTS>::from_column_slice(self.w.as_slice());
        let (value, grad, h) = num_dual::hessian(
            |w: SVector<Dual2SVec64<LAYER_WEIGHTS>, LAYER_WEIGHTS>| {
                layer_generic(&w, &self.x, &self.y)
            },
            &flat,
        );
        (value, reshape(&grad, 0), h)
    }
    #[inline(never)]
    fn central(&self) -> (f64, LayerW, Self::Hessian) {
        central_hessian(|w| layer_grad(w, &self.x, &self.y), &self.w)
    }
    fn direction(&self) -> &LayerW {
        &self.v
    }
}

// ---- rosenbrock: Σᵢ 100(xᵢ₊₁ − xᵢ²)² + (1 − xᵢ)², 10 dimensions -------------------------------

/// The dimension of Rosenbrock's function.
pub const ROSENBROCK_DIM: usize = 10;
type Point10 = SVector<f64, ROSENBROCK_DIM>;

/// Rosenbrock's function, the chained form.
#[hessian]
pub fn rosenbrock(x: &SVector<f64, 10>) -> f64 {
    let mut f = 0.0;
    for i in 0..9 {
        f += 100.0 * (x[i + 1] - x[i] * x[i]).powi(2) + (1.0 - x[i]).powi(2);
    }
    f
}

/// Term i, with d = xᵢ₊₁ − xᵢ², adds −400xᵢd − 2(1 − xᵢ) and 200d to the gradient and to H the
/// 2×2 block [[1200xᵢ² − 400xᵢ₊₁ + 2, −400xᵢ], [−400xᵢ, 200]] at (i, i): H is tridiagonal.
#[must_use]
pub fn rosenbrock_hand(
    x: &Point10,
) -> (f64, Point10, SMatrix<f64, ROSENBROCK_DIM, ROSENBROCK_DIM>) {
    let mut value = 0.0;
    let mut grad = Point10::zeros();
    let mut h = SMatrix::<f64, ROSENBROCK_DIM, ROSENBROCK_DIM>::zeros();
    for i in 0..ROSENBROCK_DIM - 1 {
        let (xi, next) = (x[i], x[i + 1]);
        let d = next - xi * xi;
        let e = 1.0 - xi;
        value += 100.0 * d * d + e * e;
        grad[i] += -400.0 * xi * d - 2.0 * e;
        grad[i + 1] += 200.0 * d;
        h[(i, i)] += 1200.0 * xi * xi - 400.0 * next + 2.0;
        h[(i, i + 1)] = -400.0 * xi;
        h[(i + 1, i)] = -400.0 * xi;
        h[(i + 1, i + 1)] += 200.0;
    }
    (value, grad, h)
}

/// [`rosenbrock`] over any real field.
pub fn rosenbrock_generic<T: RealField + Copy>(x: &SVector<T, ROSENBROCK_DIM>) -> T {
    let one = T::one();
    let hundred = lift::<T>(100.0);
    let mut f = T::zero();
    for i in 0..ROSENBROCK_DIM - 1 {
        f += hundred * (x[i + 1] - x[i] * x[i]).powi(2) + (one - x[i]).powi(2);
    }
    f
}

/// The inputs of [`rosenbrock`]: a random point and direction.
pub struct Rosenbrock {
    pub x: Point10,
    pub v: Point10,
}

impl Rosenbrock {
    fn new(rng: &mut SplitMix64) -> Self {
        Rosenbrock {
            x: rng.matrix(),
            v: rng.matrix(),
        }
    }
}

impl Loss for Rosenbrock {
    const NAME: &'static str = "rosenbrock";
    const INPUTS: usize = ROSENBROCK_DIM;
    type Point = Point10;
    type Hessian = SMatrix<f64, ROSENBROCK_DIM, ROSENBROCK_DIM>;

    fn primal(&self) -> f64 {
        rosenbrock(&self.x)
    }
    #[inline(never)]
    fn grad(&self) -> (f64, Point10) {
        rosenbrock_grad(&self.x)
    }
    #[inline(never)]
    fn generated(&self) -> (f64, Point10, Self::Hessian) {
        rosenbrock_hessian(&self.x)
    }
    #[inline(never)]
    fn hvp(&self) -> (f64, Point10, Point10) {
        rosenbrock_hvp(&self.x, &self.v)
    }
    #[inline(never)]
    fn hand(&self) -> (f64, Point10, Self::Hessian) {
        rosenbrock_hand(&self.x)
    }
    #[inline(never)]
    fn dual(&self) -> (f64, Point10, Self::Hessian) {
        num_dual::hessian(
            |x: SVector<Dual2SVec64<ROSENBROCK_DIM>, ROSENBROCK_DIM>| rosenbrock_generic(&x),
            &self.x,
        )
    }
    #[inline(never)]
    fn central(&self) -> (f64, Point10, Self::Hessian) {
        central_hessian(rosenbrock_grad, &self.x)
    }
    fn direction(&self) -> &Point10 {
        &self.v
    }
}

// ---- all of them ----------------------------------------------------------------------------

/// The seed the random inputs are drawn from.
pub const SEED: u64 = 0x6865_7373_6961_6e73; // "hessians"

/// The five reference losses at their deterministic input points.
pub struct All {
    pub logistic: Logistic,
    pub gaussian: Gaussian,
    pub fit: Fit,
    pub rosenbrock: Rosenbrock,
    pub layer: Layer,
}

impl All {
    /// Every loss's inputs, from one generator seeded with [`SEED`].
    #[must_use]
    pub fn new() -> Self {
        let mut rng = SplitMix64(SEED);
        All {
            logistic: Logistic::new(&mut rng),
            gaussian: Gaussian::new(&mut rng),
            fit: Fit::new(&mut rng),
            rosenbrock: Rosenbrock::new(&mut rng),
            layer: Layer::new(&mut rng),
        }
    }
}

impl Default for All {
    fn default() -> Self {
        Self::new()
    }
}

/// ‖a − b‖∞ / ‖b‖∞.
fn relative_error(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len(), "the two lists have different lengths");
    let diff = a
        .iter()
        .zip(b)
        .fold(0.0_f64, |m, (x, y)| m.max((x - y).abs()));
    let scale = b.iter().fold(0.0_f64, |m, y| m.max(y.abs()));
    diff / scale.max(f64::MIN_POSITIVE)
}

/// Asserts that a list of numbers matches the hand-written one to `tolerance`.
fn assert_entries(loss: &str, method: &str, what: &str, got: &[f64], hand: &[f64], tolerance: f64) {
    let error = relative_error(got, hand);
    assert!(
        error <= tolerance,
        "{loss}: {method} {what} differs from the hand-written one by {error:.3e} \
         (relative, ∞-norm; allowed {tolerance:.0e})"
    );
}

/// Asserts that a method's value, gradient and Hessian match the hand-written ones.
fn assert_close<P: Flat, H: Flat>(
    loss: &str,
    method: &str,
    (value, grad, h): &(f64, P, H),
    (hand_value, hand_grad, hand_h): &(f64, P, H),
    tolerance: f64,
) {
    assert_entries(loss, method, "value", &[*value], &[*hand_value], 1e-12);
    let grad_tolerance = tolerance.min(1e-12);
    assert_entries(
        loss,
        method,
        "gradient",
        &grad.entries(),
        &hand_grad.entries(),
        grad_tolerance,
    );
    assert_entries(
        loss,
        method,
        "Hessian",
        &h.entries(),
        &hand_h.entries(),
        tolerance,
    );
}

/// Checks one loss: the generated, dual-number and finite-difference Hessians against the
/// hand-written one, the generated H's exact symmetry, the generated gradient, and the
/// generated H·v against the hand-written H times v.
pub fn check<L: Loss>(loss: &L) {
    let n = L::INPUTS;
    let hand = loss.hand();
    assert_entries(
        L::NAME,
        "the function",
        "value",
        &[loss.primal()],
        &[hand.0],
        1e-12,
    );
    let generated = loss.generated();
    assert_close(L::NAME, "generated", &generated, &hand, 1e-10);
    let h = generated.2.entries();
    assert_eq!(h.len(), n * n, "{}: H is not n×n", L::NAME);
    for i in 0..n {
        for j in 0..i {
            assert!(
                h[i + n * j].to_bits() == h[j + n * i].to_bits(),
                "{}: the generated H[({i}, {j})] ≠ H[({j}, {i})]",
                L::NAME
            );
        }
    }
    assert_close(L::NAME, "num-dual", &loss.dual(), &hand, 1e-10);
    assert_close(L::NAME, "central differences", &loss.central(), &hand, 1e-6);

    let (value, grad) = loss.grad();
    let hand_grad = hand.1.entries();
    assert_entries(L::NAME, "grad", "value", &[value], &[hand.0], 1e-12);
    assert_entries(
        L::NAME,
        "grad",
        "gradient",
        &grad.entries(),
        &hand_grad,
        1e-12,
    );

    let (value, grad, hv) = loss.hvp();
    assert_entries(L::NAME, "hvp", "value", &[value], &[hand.0], 1e-12);
    assert_entries(
        L::NAME,
        "hvp",
        "gradient",
        &grad.entries(),
        &hand_grad,
        1e-12,
    );
    let v = loss.direction().entries();
    let hand_h = hand.2.entries();
    let hand_hv: Vec<f64> = (0..n)
        .map(|i| (0..n).map(|j| hand_h[i + n * j] * v[j]).sum())
        .collect();
    assert_entries(L::NAME, "hvp", "H·v", &hv.entries(), &hand_hv, 1e-10);
}

/// Asserts that every method's Hessian matches the hand-written one on every reference loss
/// (relative 1e-10 for the generated and the dual-number Hessian and the generated H·v, 1e-6
/// for central differences), and that every generated Hessian is exactly symmetric.
///
/// # Panics
///
/// On the first mismatch, naming the loss and the method.
pub fn check_all() {
    let all = All::new();
    check(&all.logistic);
    check(&all.gaussian);
    check(&all.fit);
    check(&all.rosenbrock);
    check(&all.layer);
}
