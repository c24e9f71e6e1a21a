//! The seven reference losses of design.md §6, each in five forms that `benches/gradients.rs`
//! times side by side and `tests/alloc.rs` checks for allocations:
//!
//! - the primal, with `#[gradient(wrt(…))]` on it, so the macro writes `{name}_grad`;
//! - `{name}_hand`, the closed-form gradient written as an expert would write it in nalgebra
//!   (intermediates reused, `tr_mul`, `gemv`, `ger`, `gemm` where they measured faster than the
//!   operators, one Cholesky factor for the SPD Σ, no needless temporaries); `ols_hand`,
//!   `mlp2_hand` and `gaussian_nll_hand` are generic over the sizes, for `benches/scaling.rs`;
//! - `{name}_generic`, the primal over any `RealField`, which [`dual`] runs on `num_dual::Dual64`
//!   (one forward pass per input direction) and [`finite_differences`] on `f64`.
//!
//! Every loss has a deterministic input generator ([`SplitMix64`]) and a [`Loss`] impl that ties
//! the forms together; [`check_all`] asserts that every method's gradient matches the
//! hand-written one before anything is timed.
//!
//! This file is a module, not a bench target (Cargo would make a bench of a `benches/*.rs`
//! file, hence `reference/mod.rs`): `gradients.rs` and `scaling.rs` declare it with
//! `mod reference;` and `tests/alloc.rs` includes it with `#[path]`.

use matgrad::gradient;
use matgrad::nalgebra::{self as na, RealField, SMatrix, SVector};
use num_dual::Dual64;

mod spd;
use spd::{cholesky_lower, lower_inverse, lower_mul};

/// An `f64` constant in the scalar type of a generic primal.
fn k<T: RealField + Copy>(v: f64) -> T {
    na::convert(v)
}

// ---- inputs ---------------------------------------------------------------------------------

/// The splitmix64 generator: tiny, fast, and the same numbers on every machine.
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform on [0, 1), with 53 random bits.
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1_u64 << 53) as f64)
    }

    /// Standard normal, by Box–Muller (one of the pair is enough here).
    pub fn normal(&mut self) -> f64 {
        let u = 1.0 - self.uniform(); // (0, 1], so ln u is finite
        let v = self.uniform();
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }

    /// A matrix of independent N(0, scale²) entries.
    pub fn matrix<const R: usize, const C: usize>(&mut self, scale: f64) -> SMatrix<f64, R, C> {
        SMatrix::from_fn(|_, _| scale * self.normal())
    }
}

// ---- the gradient as a flat vector of parameters --------------------------------------------

/// The differentiated parameters of a loss (a matrix or a tuple of matrices), seen as one flat
/// vector, so that dual numbers and finite differences can walk every input direction.
pub trait Params: Copy {
    /// The number of scalar inputs.
    const LEN: usize;
    /// The same parameters over `Dual64`.
    type Dual: Copy;
    /// Entry `i` of the flat vector.
    fn get(&self, i: usize) -> f64;
    /// Sets entry `i` of the flat vector.
    fn set(&mut self, i: usize, v: f64);
    /// The parameters as dual numbers with zero derivative parts.
    fn to_dual(&self) -> Self::Dual;
    /// Sets the derivative part of entry `i`.
    fn seed(d: &mut Self::Dual, i: usize, eps: f64);
    /// Builds parameters from `f(i)` for every flat index, in increasing order.
    fn build(f: &mut impl FnMut(usize) -> f64) -> Self;
}

impl<const R: usize, const C: usize> Params for SMatrix<f64, R, C> {
    const LEN: usize = R * C;
    type Dual = SMatrix<Dual64, R, C>;

    fn get(&self, i: usize) -> f64 {
        self[i]
    }

    fn set(&mut self, i: usize, v: f64) {
        self[i] = v;
    }

    fn to_dual(&self) -> Self::Dual {
        self.map(Dual64::from_re)
    }

    fn seed(d: &mut Self::Dual, i: usize, eps: f64) {
        d[i].eps = eps;
    }

    fn build(f: &mut impl FnMut(usize) -> f64) -> Self {
        let mut m = Self::zeros();
        for i in 0..R * C {
            m[i] = f(i);
        }
        m
    }
}

impl<A: Params, B: Params> Params for (A, B) {
    const LEN: usize = A::LEN + B::LEN;
    type Dual = (A::Dual, B::Dual);

    fn get(&self, i: usize) -> f64 {
        if i < A::LEN {
            self.0.get(i)
        } else {
            self.1.get(i - A::LEN)
        }
    }

    fn set(&mut self, i: usize, v: f64) {
        if i < A::LEN {
            self.0.set(i, v);
        } else {
            self.1.set(i - A::LEN, v);
        }
    }

    fn to_dual(&self) -> Self::Dual {
        (self.0.to_dual(), self.1.to_dual())
    }

    fn seed(d: &mut Self::Dual, i: usize, eps: f64) {
        if i < A::LEN {
            A::seed(&mut d.0, i, eps);
        } else {
            B::seed(&mut d.1, i - A::LEN, eps);
        }
    }

    fn build(f: &mut impl FnMut(usize) -> f64) -> Self {
        let a = A::build(f);
        let b = B::build(&mut |i| f(A::LEN + i));
        (a, b)
    }
}

impl<A: Params, B: Params, C: Params, D: Params> Params for (A, B, C, D) {
    const LEN: usize = A::LEN + B::LEN + C::LEN + D::LEN;
    type Dual = (A::Dual, B::Dual, C::Dual, D::Dual);

    // By index ranges, not through a nested pair: that would copy all four matrices per entry,
    // which at the scaling benchmark's sizes costs more than everything else together.
    fn get(&self, i: usize) -> f64 {
        let (ab, cd) = (A::LEN + B::LEN, A::LEN + B::LEN + C::LEN);
        if i < A::LEN {
            self.0.get(i)
        } else if i < ab {
            self.1.get(i - A::LEN)
        } else if i < cd {
            self.2.get(i - ab)
        } else {
            self.3.get(i - cd)
        }
    }

    fn set(&mut self, i: usize, v: f64) {
        let (ab, cd) = (A::LEN + B::LEN, A::LEN + B::LEN + C::LEN);
        if i < A::LEN {
            self.0.set(i, v);
        } else if i < ab {
            self.1.set(i - A::LEN, v);
        } else if i < cd {
            self.2.set(i - ab, v);
        } else {
            self.3.set(i - cd, v);
        }
    }

    fn to_dual(&self) -> Self::Dual {
        (
            self.0.to_dual(),
            self.1.to_dual(),
            self.2.to_dual(),
            self.3.to_dual(),
        )
    }

    fn seed(d: &mut Self::Dual, i: usize, eps: f64) {
        let (ab, cd) = (A::LEN + B::LEN, A::LEN + B::LEN + C::LEN);
        if i < A::LEN {
            A::seed(&mut d.0, i, eps);
        } else if i < ab {
            B::seed(&mut d.1, i - A::LEN, eps);
        } else if i < cd {
            C::seed(&mut d.2, i - ab, eps);
        } else {
            D::seed(&mut d.3, i - cd, eps);
        }
    }

    fn build(f: &mut impl FnMut(usize) -> f64) -> Self {
        let ((a, b), (c, d)) = <((A, B), (C, D))>::build(f);
        (a, b, c, d)
    }
}

/// One reference loss at one input point, in every form the benchmark compares.
///
/// The impls mark `primal`, `generated` and `hand` `#[inline(never)]`, as are [`dual`] and
/// [`finite_differences`]: each method is then compiled once, as a caller in another crate would
/// see it, and the timing loop around it cannot change its code generation.
pub trait Loss {
    /// The loss's name in design.md §6.
    const NAME: &'static str;
    /// The differentiated parameters, and so the gradient's type.
    type Wrt: Params;
    /// The constant (non-differentiated) inputs over `Dual64`.
    type DualConsts;

    /// The differentiated parameters at this point.
    fn wrt(&self) -> Self::Wrt;
    /// The `#[gradient]` function itself.
    fn primal(&self) -> f64;
    /// The macro's `{name}_grad`.
    fn generated(&self) -> (f64, Self::Wrt);
    /// The expert's closed form.
    fn hand(&self) -> (f64, Self::Wrt);
    /// The constant inputs converted to dual numbers, once per gradient.
    fn dual_consts(&self) -> Self::DualConsts;
    /// The generic primal on dual numbers.
    fn eval_dual(c: &Self::DualConsts, p: &<Self::Wrt as Params>::Dual) -> Dual64;
    /// The generic primal on `f64` at other parameters (for finite differences).
    fn eval_f64(&self, p: &Self::Wrt) -> f64;
}

/// The gradient by forward-mode dual numbers: one pass of the generic primal over `Dual64` per
/// input direction, with the derivative part of that one entry seeded to 1.
#[inline(never)]
pub fn dual<L: Loss>(loss: &L) -> (f64, L::Wrt) {
    let consts = loss.dual_consts();
    let mut p = loss.wrt().to_dual();
    let mut value = f64::NAN;
    let grad = L::Wrt::build(&mut |i| {
        L::Wrt::seed(&mut p, i, 1.0);
        let d = L::eval_dual(&consts, &p);
        L::Wrt::seed(&mut p, i, 0.0);
        value = d.re;
        d.eps
    });
    (value, grad)
}

/// The gradient by central finite differences on the generic primal over `f64`, with the step
/// h = ∛ε·max(1, |x|) for each entry x.
#[inline(never)]
pub fn finite_differences<L: Loss>(loss: &L) -> (f64, L::Wrt) {
    let mut p = loss.wrt();
    let value = loss.eval_f64(&p);
    let cbrt_eps = f64::EPSILON.cbrt();
    let grad = L::Wrt::build(&mut |i| {
        let x = p.get(i);
        let h = cbrt_eps * x.abs().max(1.0);
        p.set(i, x + h);
        let up = loss.eval_f64(&p);
        p.set(i, x - h);
        let down = loss.eval_f64(&p);
        p.set(i, x);
        (up - down) / (2.0 * h)
    });
    (value, grad)
}

// ---- ols: ‖y − Xβ‖², X 20×5 -----------------------------------------------------------------

/// Least squares, ‖y − Xβ‖².
#[gradient(wrt(beta))]
pub fn ols(beta: &SVector<f64, 5>, x: &SMatrix<f64, 20, 5>, y: &SVector<f64, 20>) -> f64 {
    let r = y - x * beta;
    r.norm_squared()
}

/// ∇β = −2Xᵀr with r = y − Xβ: two `gemv`s, the residual formed in place in a copy of y (generic
/// over the sizes, so the scaling benchmark times the same code at larger ones).
#[must_use]
pub fn ols_hand<const N: usize, const P: usize>(
    beta: &SVector<f64, P>,
    x: &SMatrix<f64, N, P>,
    y: &SVector<f64, N>,
) -> (f64, SVector<f64, P>) {
    let mut r = *y;
    r.gemv(-1.0, x, beta, 1.0);
    let mut g = SVector::<f64, P>::zeros();
    g.gemv_tr(-2.0, x, &r, 0.0);
    (r.norm_squared(), g)
}

/// [`ols`] over any real field.
pub fn ols_generic<T: RealField + Copy>(
    beta: &SVector<T, 5>,
    x: &SMatrix<T, 20, 5>,
    y: &SVector<T, 20>,
) -> T {
    let r = y - x * beta;
    r.norm_squared()
}

/// The inputs of [`ols`].
pub struct Ols {
    pub beta: SVector<f64, 5>,
    pub x: SMatrix<f64, 20, 5>,
    pub y: SVector<f64, 20>,
}

impl Ols {
    /// Well-scaled random inputs: y = Xβ* + noise, β a perturbation of β*.
    pub fn new(rng: &mut SplitMix64) -> Self {
        let x = rng.matrix(1.0);
        let truth: SVector<f64, 5> = rng.matrix(1.0);
        let y = x * truth + rng.matrix::<20, 1>(0.1);
        let beta = truth + rng.matrix::<5, 1>(0.3);
        Ols { beta, x, y }
    }
}

impl Loss for Ols {
    const NAME: &'static str = "ols";
    type Wrt = SVector<f64, 5>;
    type DualConsts = (SMatrix<Dual64, 20, 5>, SVector<Dual64, 20>);

    fn wrt(&self) -> Self::Wrt {
        self.beta
    }
    #[inline(never)]
    fn primal(&self) -> f64 {
        ols(&self.beta, &self.x, &self.y)
    }
    #[inline(never)]
    fn generated(&self) -> (f64, Self::Wrt) {
        ols_grad(&self.beta, &self.x, &self.y)
    }
    #[inline(never)]
    fn hand(&self) -> (f64, Self::Wrt) {
        ols_hand(&self.beta, &self.x, &self.y)
    }
    fn dual_consts(&self) -> Self::DualConsts {
        (self.x.to_dual(), self.y.to_dual())
    }
    fn eval_dual(c: &Self::DualConsts, p: &<Self::Wrt as Params>::Dual) -> Dual64 {
        ols_generic(p, &c.0, &c.1)
    }
    fn eval_f64(&self, p: &Self::Wrt) -> f64 {
        ols_generic(p, &self.x, &self.y)
    }
}

// ---- single_layer: ½‖σ(Wx) − y‖², W 8×16 ----------------------------------------------------

/// A one-layer sigmoid network, ½‖σ(Wx) − y‖².
#[gradient(wrt(w))]
pub fn single_layer(w: &SMatrix<f64, 8, 16>, x: &SVector<f64, 16>, y: &SVector<f64, 8>) -> f64 {
    let s = (w * x).map(matgrad::sigmoid);
    0.5 * (s - y).norm_squared()
}

/// ∇W = ((s − y)∘s∘(1 − s))·xᵀ with s = σ(Wx).
#[must_use]
pub fn single_layer_hand(
    w: &SMatrix<f64, 8, 16>,
    x: &SVector<f64, 16>,
    y: &SVector<f64, 8>,
) -> (f64, SMatrix<f64, 8, 16>) {
    let s = (w * x).map(matgrad::sigmoid);
    let d = s - y;
    let delta = d.zip_map(&s, |d, s| d * s * (1.0 - s));
    let mut g = SMatrix::<f64, 8, 16>::zeros();
    g.ger(1.0, &delta, x, 0.0);
    (0.5 * d.norm_squared(), g)
}

/// [`single_layer`] over any real field.
pub fn single_layer_generic<T: RealField + Copy>(
    w: &SMatrix<T, 8, 16>,
    x: &SVector<T, 16>,
    y: &SVector<T, 8>,
) -> T {
    let s = (w * x).map(matgrad::sigmoid);
    k::<T>(0.5) * (s - y).norm_squared()
}

/// The inputs of [`single_layer`].
pub struct SingleLayer {
    pub w: SMatrix<f64, 8, 16>,
    pub x: SVector<f64, 16>,
    pub y: SVector<f64, 8>,
}

impl SingleLayer {
    /// Wx of order 1, binary targets.
    pub fn new(rng: &mut SplitMix64) -> Self {
        let w = rng.matrix(0.25);
        let x = rng.matrix(1.0);
        let y = SVector::from_fn(|_, _| if rng.uniform() < 0.5 { 0.0 } else { 1.0 });
        SingleLayer { w, x, y }
    }
}

impl Loss for SingleLayer {
    const NAME: &'static str = "single_layer";
    type Wrt = SMatrix<f64, 8, 16>;
    type DualConsts = (SVector<Dual64, 16>, SVector<Dual64, 8>);

    fn wrt(&self) -> Self::Wrt {
        self.w
    }
    #[inline(never)]
    fn primal(&self) -> f64 {
        single_layer(&self.w, &self.x, &self.y)
    }
    #[inline(never)]
    fn generated(&self) -> (f64, Self::Wrt) {
        single_layer_grad(&self.w, &self.x, &self.y)
    }
    #[inline(never)]
    fn hand(&self) -> (f64, Self::Wrt) {
        single_layer_hand(&self.w, &self.x, &self.y)
    }
    fn dual_consts(&self) -> Self::DualConsts {
        (self.x.to_dual(), self.y.to_dual())
    }
    fn eval_dual(c: &Self::DualConsts, p: &<Self::Wrt as Params>::Dual) -> Dual64 {
        single_layer_generic(p, &c.0, &c.1)
    }
    fn eval_f64(&self, p: &Self::Wrt) -> f64 {
        single_layer_generic(p, &self.x, &self.y)
    }
}

// ---- gaussian_nll: ½ ln det Σ + ½ rᵀΣ⁻¹r, r = x − μ, Σ 6×6 SPD -------------------------------

/// The negative log-likelihood of a Gaussian, without the constant: ½ ln det Σ + ½ rᵀΣ⁻¹r.
///
/// # Panics
///
/// If Σ is singular.
#[gradient(wrt(mu, sigma))]
pub fn gaussian_nll(mu: &SVector<f64, 6>, sigma: &SMatrix<f64, 6, 6>, x: &SVector<f64, 6>) -> f64 {
    let r = x - mu;
    let inv = sigma.try_inverse().unwrap();
    0.5 * sigma.determinant().ln() + 0.5 * r.dot(&(inv * r))
}

/// What both Gaussian experts compute first from Σ = L·Lᵀ: L⁻¹, w = L⁻¹r with r = x − μ,
/// α = Σ⁻¹r = L⁻ᵀw (over the triangle only) and ½ ln det Σ = Σᵢ ln Lᵢᵢ. Inlined into each: as
/// a call returning its matrices it made the expert ~13% slower (114 against 101 ns).
#[allow(
    clippy::inline_always,
    reason = "measured: the expert is ~13% slower with this a call"
)]
#[inline(always)]
fn spd_parts<const N: usize>(
    mu: &SVector<f64, N>,
    sigma: &SMatrix<f64, N, N>,
    x: &SVector<f64, N>,
) -> (SMatrix<f64, N, N>, SVector<f64, N>, SVector<f64, N>, f64) {
    let l = cholesky_lower(sigma);
    let li = lower_inverse(&l);
    let w = lower_mul(&li, &(x - mu));
    let alpha =
        SVector::<f64, N>::from_fn(|i, _| li.column(i).rows_range(i..).dot(&w.rows_range(i..)));
    let half_ln_det: f64 = (0..N).map(|i| l[(i, i)].ln()).sum();
    (li, w, alpha, half_ln_det)
}

/// Σ is symmetric positive definite, so the expert factors it by Cholesky, Σ = L·Lᵀ, once:
/// ½ ln det Σ = Σᵢ ln Lᵢᵢ, w = L⁻¹r, α = Σ⁻¹r = L⁻ᵀw, f = Σᵢ ln Lᵢᵢ + ½‖w‖², ∇μ = −α and
/// ∇Σ = ½Σ⁻¹ − ½ααᵀ with Σ⁻¹ = L⁻ᵀL⁻¹ (symmetric, so one triangle is computed and mirrored; for
/// a symmetric Σ this is the unstructured gradient the contract asks for).
///
/// Every loop runs down a column, so the inner loops read contiguous memory.
///
/// # Panics
///
/// If Σ is not positive definite.
#[must_use]
pub fn gaussian_nll_hand<const N: usize>(
    mu: &SVector<f64, N>,
    sigma: &SMatrix<f64, N, N>,
    x: &SVector<f64, N>,
) -> (f64, (SVector<f64, N>, SMatrix<f64, N, N>)) {
    let (li, w, alpha, half_ln_det) = spd_parts(mu, sigma, x);
    let mut g_sigma = SMatrix::<f64, N, N>::zeros();
    for j in 0..N {
        for i in j..N {
            // (Σ⁻¹)ᵢⱼ = Σₖ (L⁻¹)ₖᵢ(L⁻¹)ₖⱼ, and (L⁻¹)ₖᵢ = 0 for k < i.
            let inv_ij = li
                .column(i)
                .rows_range(i..)
                .dot(&li.column(j).rows_range(i..));
            let v = 0.5 * (inv_ij - alpha[i] * alpha[j]);
            g_sigma[(i, j)] = v;
            g_sigma[(j, i)] = v;
        }
    }
    (half_ln_det + 0.5 * w.norm_squared(), (-alpha, g_sigma))
}

/// [`gaussian_nll`] over any real field.
///
/// # Panics
///
/// If Σ is singular.
pub fn gaussian_nll_generic<T: RealField + Copy>(
    mu: &SVector<T, 6>,
    sigma: &SMatrix<T, 6, 6>,
    x: &SVector<T, 6>,
) -> T {
    let r = x - mu;
    let inv = sigma.try_inverse().unwrap();
    k::<T>(0.5) * sigma.determinant().ln() + k::<T>(0.5) * r.dot(&(inv * r))
}

/// The inputs of [`gaussian_nll`].
pub struct GaussianNll {
    pub mu: SVector<f64, 6>,
    pub sigma: SMatrix<f64, 6, 6>,
    pub x: SVector<f64, 6>,
}

impl GaussianNll {
    /// Σ = `MᵀM` + 6I with M of N(0, 1) entries: symmetric positive definite, well conditioned.
    pub fn new(rng: &mut SplitMix64) -> Self {
        let m: SMatrix<f64, 6, 6> = rng.matrix(1.0);
        let sigma = m.tr_mul(&m) + SMatrix::<f64, 6, 6>::identity() * 6.0;
        GaussianNll {
            mu: rng.matrix(1.0),
            sigma,
            x: rng.matrix(1.0),
        }
    }
}

impl Loss for GaussianNll {
    const NAME: &'static str = "gaussian_nll";
    type Wrt = (SVector<f64, 6>, SMatrix<f64, 6, 6>);
    type DualConsts = SVector<Dual64, 6>;

    fn wrt(&self) -> Self::Wrt {
        (self.mu, self.sigma)
    }
    #[inline(never)]
    fn primal(&self) -> f64 {
        gaussian_nll(&self.mu, &self.sigma, &self.x)
    }
    #[inline(never)]
    fn generated(&self) -> (f64, Self::Wrt) {
        gaussian_nll_grad(&self.mu, &self.sigma, &self.x)
    }
    #[inline(never)]
    fn hand(&self) -> (f64, Self::Wrt) {
        gaussian_nll_hand(&self.mu, &self.sigma, &self.x)
    }
    fn dual_consts(&self) -> Self::DualConsts {
        self.x.to_dual()
    }
    fn eval_dual(c: &Self::DualConsts, p: &<Self::Wrt as Params>::Dual) -> Dual64 {
        gaussian_nll_generic(&p.0, &p.1, c)
    }
    fn eval_f64(&self, p: &Self::Wrt) -> f64 {
        gaussian_nll_generic(&p.0, &p.1, &self.x)
    }
}

// ---- gaussian_nll_chol: the same, written with the Cholesky factor of Σ ----------------------

/// [`gaussian_nll`] as one writes it knowing Σ is SPD: through `Σ.cholesky()`, whose factor gives
/// the log determinant and the solve. Like nalgebra's factorisation it reads Σ's lower triangle,
/// so its gradient in Σ is zero above the diagonal and twice the symmetric one below it.
///
/// # Panics
///
/// If Σ is not positive definite.
#[gradient(wrt(mu, sigma))]
pub fn gaussian_nll_chol(
    mu: &SVector<f64, 6>,
    sigma: &SMatrix<f64, 6, 6>,
    x: &SVector<f64, 6>,
) -> f64 {
    let r = x - mu;
    let c = sigma.cholesky().unwrap();
    0.5 * c.ln_determinant() + 0.5 * r.dot(&c.solve(&r))
}

/// The expert's gradient of [`gaussian_nll_chol`]: [`gaussian_nll_hand`]'s factorisation and
/// sweeps, the Σ gradient written to the lower triangle only (Gᵢᵢ on the diagonal, 2Gᵢⱼ below).
///
/// # Panics
///
/// If Σ is not positive definite.
#[must_use]
pub fn gaussian_nll_chol_hand<const N: usize>(
    mu: &SVector<f64, N>,
    sigma: &SMatrix<f64, N, N>,
    x: &SVector<f64, N>,
) -> (f64, (SVector<f64, N>, SMatrix<f64, N, N>)) {
    let (li, w, alpha, half_ln_det) = spd_parts(mu, sigma, x);
    let mut g_sigma = SMatrix::<f64, N, N>::zeros();
    for j in 0..N {
        for i in j..N {
            let inv_ij = li
                .column(i)
                .rows_range(i..)
                .dot(&li.column(j).rows_range(i..));
            let v = inv_ij - alpha[i] * alpha[j];
            g_sigma[(i, j)] = if i == j { 0.5 * v } else { v };
        }
    }
    (half_ln_det + 0.5 * w.norm_squared(), (-alpha, g_sigma))
}

/// [`gaussian_nll_chol`] over any real field.
///
/// # Panics
///
/// If Σ is not positive definite.
pub fn gaussian_nll_chol_generic<T: RealField + Copy>(
    mu: &SVector<T, 6>,
    sigma: &SMatrix<T, 6, 6>,
    x: &SVector<T, 6>,
) -> T {
    let r = x - mu;
    let c = sigma.cholesky().unwrap();
    k::<T>(0.5) * c.ln_determinant() + k::<T>(0.5) * r.dot(&c.solve(&r))
}

/// The inputs of [`gaussian_nll_chol`]: those of [`gaussian_nll`].
pub struct GaussianNllChol(pub GaussianNll);

impl Loss for GaussianNllChol {
    const NAME: &'static str = "gaussian_nll_chol";
    type Wrt = (SVector<f64, 6>, SMatrix<f64, 6, 6>);
    type DualConsts = SVector<Dual64, 6>;

    fn wrt(&self) -> Self::Wrt {
        (self.0.mu, self.0.sigma)
    }
    #[inline(never)]
    fn primal(&self) -> f64 {
        gaussian_nll_chol(&self.0.mu, &self.0.sigma, &self.0.x)
    }
    #[inline(never)]
    fn generated(&self) -> (f64, Self::Wrt) {
        gaussian_nll_chol_grad(&self.0.mu, &self.0.sigma, &self.0.x)
    }
    #[inline(never)]
    fn hand(&self) -> (f64, Self::Wrt) {
        gaussian_nll_chol_hand(&self.0.mu, &self.0.sigma, &self.0.x)
    }
    fn dual_consts(&self) -> Self::DualConsts {
        self.0.x.to_dual()
    }
    fn eval_dual(c: &Self::DualConsts, p: &<Self::Wrt as Params>::Dual) -> Dual64 {
        gaussian_nll_chol_generic(&p.0, &p.1, c)
    }
    fn eval_f64(&self, p: &Self::Wrt) -> f64 {
        gaussian_nll_chol_generic(&p.0, &p.1, &self.0.x)
    }
}

// ---- trace_quad: tr(AXBXᵀC), 4×4 ------------------------------------------------------------

/// The trace of a quadratic form in X, tr(AXBXᵀC).
#[gradient(wrt(x))]
pub fn trace_quad(
    a: &SMatrix<f64, 4, 4>,
    x: &SMatrix<f64, 4, 4>,
    b: &SMatrix<f64, 4, 4>,
    c: &SMatrix<f64, 4, 4>,
) -> f64 {
    (a * x * b * x.transpose() * c).trace()
}

/// With P = CA and M = PXB: f = ⟨M, X⟩ and ∇X = M + `PᵀXBᵀ` (five 4×4 products in all).
#[must_use]
pub fn trace_quad_hand(
    a: &SMatrix<f64, 4, 4>,
    x: &SMatrix<f64, 4, 4>,
    b: &SMatrix<f64, 4, 4>,
    c: &SMatrix<f64, 4, 4>,
) -> (f64, SMatrix<f64, 4, 4>) {
    let p = c * a;
    let m = p * (x * b);
    let value = m.dot(x);
    let n = p.tr_mul(x);
    let mut g = m;
    g.gemm(1.0, &n, &b.transpose(), 1.0);
    (value, g)
}

/// [`trace_quad`] over any real field.
pub fn trace_quad_generic<T: RealField + Copy>(
    a: &SMatrix<T, 4, 4>,
    x: &SMatrix<T, 4, 4>,
    b: &SMatrix<T, 4, 4>,
    c: &SMatrix<T, 4, 4>,
) -> T {
    (a * x * b * x.transpose() * c).trace()
}

/// The inputs of [`trace_quad`].
pub struct TraceQuad {
    pub a: SMatrix<f64, 4, 4>,
    pub x: SMatrix<f64, 4, 4>,
    pub b: SMatrix<f64, 4, 4>,
    pub c: SMatrix<f64, 4, 4>,
}

impl TraceQuad {
    /// N(0, 1) entries throughout.
    pub fn new(rng: &mut SplitMix64) -> Self {
        TraceQuad {
            a: rng.matrix(1.0),
            x: rng.matrix(1.0),
            b: rng.matrix(1.0),
            c: rng.matrix(1.0),
        }
    }
}

impl Loss for TraceQuad {
    const NAME: &'static str = "trace_quad";
    type Wrt = SMatrix<f64, 4, 4>;
    type DualConsts = (
        SMatrix<Dual64, 4, 4>,
        SMatrix<Dual64, 4, 4>,
        SMatrix<Dual64, 4, 4>,
    );

    fn wrt(&self) -> Self::Wrt {
        self.x
    }
    #[inline(never)]
    fn primal(&self) -> f64 {
        trace_quad(&self.a, &self.x, &self.b, &self.c)
    }
    #[inline(never)]
    fn generated(&self) -> (f64, Self::Wrt) {
        trace_quad_grad(&self.a, &self.x, &self.b, &self.c)
    }
    #[inline(never)]
    fn hand(&self) -> (f64, Self::Wrt) {
        trace_quad_hand(&self.a, &self.x, &self.b, &self.c)
    }
    fn dual_consts(&self) -> Self::DualConsts {
        (self.a.to_dual(), self.b.to_dual(), self.c.to_dual())
    }
    fn eval_dual(c: &Self::DualConsts, p: &<Self::Wrt as Params>::Dual) -> Dual64 {
        trace_quad_generic(&c.0, p, &c.1, &c.2)
    }
    fn eval_f64(&self, p: &Self::Wrt) -> f64 {
        trace_quad_generic(&self.a, p, &self.b, &self.c)
    }
}

// ---- frob_affine: ‖AXB + C‖²_F, A 5×4, X 4×3, B 3×6 -----------------------------------------

/// The squared Frobenius norm of an affine map of X, ‖AXB + C‖² (`norm_squared`).
#[gradient(wrt(x))]
pub fn frob_affine(
    a: &SMatrix<f64, 5, 4>,
    x: &SMatrix<f64, 4, 3>,
    b: &SMatrix<f64, 3, 6>,
    c: &SMatrix<f64, 5, 6>,
) -> f64 {
    (a * x * b + c).norm_squared()
}

/// With R = AXB + C: ∇X = 2Aᵀ(RBᵀ), in the cheaper of the two association orders.
#[must_use]
pub fn frob_affine_hand(
    a: &SMatrix<f64, 5, 4>,
    x: &SMatrix<f64, 4, 3>,
    b: &SMatrix<f64, 3, 6>,
    c: &SMatrix<f64, 5, 6>,
) -> (f64, SMatrix<f64, 4, 3>) {
    let mut r = *c;
    r.gemm(1.0, &(a * x), b, 1.0);
    let rb = r * b.transpose();
    let mut g = SMatrix::<f64, 4, 3>::zeros();
    g.gemm_tr(2.0, a, &rb, 0.0);
    (r.norm_squared(), g)
}

/// [`frob_affine`] over any real field.
pub fn frob_affine_generic<T: RealField + Copy>(
    a: &SMatrix<T, 5, 4>,
    x: &SMatrix<T, 4, 3>,
    b: &SMatrix<T, 3, 6>,
    c: &SMatrix<T, 5, 6>,
) -> T {
    (a * x * b + c).norm_squared()
}

/// The inputs of [`frob_affine`].
pub struct FrobAffine {
    pub a: SMatrix<f64, 5, 4>,
    pub x: SMatrix<f64, 4, 3>,
    pub b: SMatrix<f64, 3, 6>,
    pub c: SMatrix<f64, 5, 6>,
}

impl FrobAffine {
    /// N(0, 1) entries throughout.
    pub fn new(rng: &mut SplitMix64) -> Self {
        FrobAffine {
            a: rng.matrix(1.0),
            x: rng.matrix(1.0),
            b: rng.matrix(1.0),
            c: rng.matrix(1.0),
        }
    }
}

impl Loss for FrobAffine {
    const NAME: &'static str = "frob_affine";
    type Wrt = SMatrix<f64, 4, 3>;
    type DualConsts = (
        SMatrix<Dual64, 5, 4>,
        SMatrix<Dual64, 3, 6>,
        SMatrix<Dual64, 5, 6>,
    );

    fn wrt(&self) -> Self::Wrt {
        self.x
    }
    #[inline(never)]
    fn primal(&self) -> f64 {
        frob_affine(&self.a, &self.x, &self.b, &self.c)
    }
    #[inline(never)]
    fn generated(&self) -> (f64, Self::Wrt) {
        frob_affine_grad(&self.a, &self.x, &self.b, &self.c)
    }
    #[inline(never)]
    fn hand(&self) -> (f64, Self::Wrt) {
        frob_affine_hand(&self.a, &self.x, &self.b, &self.c)
    }
    fn dual_consts(&self) -> Self::DualConsts {
        (self.a.to_dual(), self.b.to_dual(), self.c.to_dual())
    }
    fn eval_dual(c: &Self::DualConsts, p: &<Self::Wrt as Params>::Dual) -> Dual64 {
        frob_affine_generic(&c.0, p, &c.1, &c.2)
    }
    fn eval_f64(&self, p: &Self::Wrt) -> f64 {
        frob_affine_generic(&self.a, p, &self.b, &self.c)
    }
}

// ---- mlp2: ½‖W₂ tanh(W₁x + b₁) + b₂ − y‖², W₁ 32×16, W₂ 4×32 ---------------------------------

/// A two-layer tanh network with a squared-error loss.
#[gradient(wrt(w1, b1, w2, b2))]
pub fn mlp2(
    w1: &SMatrix<f64, 32, 16>,
    b1: &SVector<f64, 32>,
    w2: &SMatrix<f64, 4, 32>,
    b2: &SVector<f64, 4>,
    x: &SVector<f64, 16>,
    y: &SVector<f64, 4>,
) -> f64 {
    let h = (w1 * x + b1).map(f64::tanh);
    0.5 * (w2 * h + b2 - y).norm_squared()
}

/// The gradient of [`mlp2`] for each differentiated parameter, in `wrt` order.
pub type Mlp2Grad = Mlp2GradOf<16, 32, 4>;

/// The gradient of a two-layer network with `I` inputs, `H` hidden units and `O` outputs:
/// (∇W₁, ∇b₁, ∇W₂, ∇b₂).
pub type Mlp2GradOf<const I: usize, const H: usize, const O: usize> = (
    SMatrix<f64, H, I>,
    SVector<f64, H>,
    SMatrix<f64, O, H>,
    SVector<f64, O>,
);

/// The largest outer product (in entries) that [`mlp2_hand`] forms with `ger`; between 512
/// entries (where `ger` wins) and 16384 (where it loses) nothing was measured.
const OUTER_BY_GER_MAX: usize = 1024;

/// Backpropagation: o = W₂h + b₂ − y, ∇b₂ = o, ∇W₂ = ohᵀ, ∇b₁ = (W₂ᵀo)∘(1 − h²), ∇W₁ = ∇b₁xᵀ
/// (generic over the sizes, so the scaling benchmark times the same code at larger ones).
#[must_use]
pub fn mlp2_hand<const I: usize, const H: usize, const O: usize>(
    w1: &SMatrix<f64, H, I>,
    b1: &SVector<f64, H>,
    w2: &SMatrix<f64, O, H>,
    b2: &SVector<f64, O>,
    x: &SVector<f64, I>,
    y: &SVector<f64, O>,
) -> (f64, Mlp2GradOf<I, H, O>) {
    // nalgebra's operators beat `gemv` here (measured at 32×16: `gemv` with β = 1 into a copy of
    // b₁ was ~40% slower than `w₁·x + b₁`), so the expert writes the plain forms, with `tr_mul`
    // for W₂ᵀo and tanh′ fused into the same pass.
    let h = (w1 * x + b1).map(f64::tanh);
    let o = w2 * h + b2 - y;
    let g_w2 = o * h.transpose();
    let g_b1 = w2.tr_mul(&o).zip_map(&h, |g, h| g * (1.0 - h * h));
    // The outer product ∇b₁xᵀ by `ger` into zeros was ~25% faster than `∇b₁ * xᵀ` at 32×16 and
    // ~10% slower at 128×128 and 512×512 (measured); the size is known at compile time, so
    // the branch costs nothing.
    let g_w1 = if H * I <= OUTER_BY_GER_MAX {
        let mut g = SMatrix::<f64, H, I>::zeros();
        g.ger(1.0, &g_b1, x, 0.0);
        g
    } else {
        g_b1 * x.transpose()
    };
    (0.5 * o.norm_squared(), (g_w1, g_b1, g_w2, o))
}

/// [`mlp2`] over any real field.
pub fn mlp2_generic<T: RealField + Copy>(
    w1: &SMatrix<T, 32, 16>,
    b1: &SVector<T, 32>,
    w2: &SMatrix<T, 4, 32>,
    b2: &SVector<T, 4>,
    x: &SVector<T, 16>,
    y: &SVector<T, 4>,
) -> T {
    let h = (w1 * x + b1).map(na::ComplexField::tanh);
    k::<T>(0.5) * (w2 * h + b2 - y).norm_squared()
}

/// The inputs of [`mlp2`].
pub struct Mlp2 {
    pub w1: SMatrix<f64, 32, 16>,
    pub b1: SVector<f64, 32>,
    pub w2: SMatrix<f64, 4, 32>,
    pub b2: SVector<f64, 4>,
    pub x: SVector<f64, 16>,
    pub y: SVector<f64, 4>,
}

impl Mlp2 {
    /// Xavier-like scales, so that the hidden pre-activations are of order 1.
    pub fn new(rng: &mut SplitMix64) -> Self {
        Mlp2 {
            w1: rng.matrix(0.25),
            b1: rng.matrix(0.1),
            w2: rng.matrix(1.0 / 32.0_f64.sqrt()),
            b2: rng.matrix(0.1),
            x: rng.matrix(1.0),
            y: rng.matrix(1.0),
        }
    }
}

impl Loss for Mlp2 {
    const NAME: &'static str = "mlp2";
    type Wrt = Mlp2Grad;
    type DualConsts = (SVector<Dual64, 16>, SVector<Dual64, 4>);

    fn wrt(&self) -> Self::Wrt {
        (self.w1, self.b1, self.w2, self.b2)
    }
    #[inline(never)]
    fn primal(&self) -> f64 {
        mlp2(&self.w1, &self.b1, &self.w2, &self.b2, &self.x, &self.y)
    }
    #[inline(never)]
    fn generated(&self) -> (f64, Self::Wrt) {
        mlp2_grad(&self.w1, &self.b1, &self.w2, &self.b2, &self.x, &self.y)
    }
    #[inline(never)]
    fn hand(&self) -> (f64, Self::Wrt) {
        mlp2_hand(&self.w1, &self.b1, &self.w2, &self.b2, &self.x, &self.y)
    }
    fn dual_consts(&self) -> Self::DualConsts {
        (self.x.to_dual(), self.y.to_dual())
    }
    fn eval_dual(c: &Self::DualConsts, p: &<Self::Wrt as Params>::Dual) -> Dual64 {
        mlp2_generic(&p.0, &p.1, &p.2, &p.3, &c.0, &c.1)
    }
    fn eval_f64(&self, p: &Self::Wrt) -> f64 {
        mlp2_generic(&p.0, &p.1, &p.2, &p.3, &self.x, &self.y)
    }
}

// ---- softmax_ce: −ln softmax(Wx)ₖ, W 10×20 --------------------------------------------------

/// Softmax cross-entropy with a one-hot target y: −⟨y, z⟩ + ln Σ exp(z), z = Wx.
///
/// The macro has no `max`, so this is the plain log-sum-exp; the inputs keep z of order 1.
#[gradient(wrt(w))]
pub fn softmax_ce(w: &SMatrix<f64, 10, 20>, x: &SVector<f64, 20>, y: &SVector<f64, 10>) -> f64 {
    let z = w * x;
    z.map(f64::exp).sum().ln() - y.dot(&z)
}

/// With z = Wx (formed once) and p = softmax(z): ∇W = (p − y)xᵀ, by one `ger`.
///
/// The loss as written is the plain log-sum-exp, which the inputs keep in range, so the expert
/// computes exactly that: the shift by max z that a production version adds for overflow cost
/// ~20% here (measured) and is not part of the function being differentiated.
#[must_use]
pub fn softmax_ce_hand(
    w: &SMatrix<f64, 10, 20>,
    x: &SVector<f64, 20>,
    y: &SVector<f64, 10>,
) -> (f64, SMatrix<f64, 10, 20>) {
    let z = w * x;
    let mut e = z.map(f64::exp);
    let s = e.sum();
    let value = s.ln() - y.dot(&z);
    let inv_s = 1.0 / s;
    e.zip_apply(y, |e, y| *e = *e * inv_s - y);
    let mut g = SMatrix::<f64, 10, 20>::zeros();
    g.ger(1.0, &e, x, 0.0);
    (value, g)
}

/// [`softmax_ce`] over any real field.
pub fn softmax_ce_generic<T: RealField + Copy>(
    w: &SMatrix<T, 10, 20>,
    x: &SVector<T, 20>,
    y: &SVector<T, 10>,
) -> T {
    let z = w * x;
    z.map(na::ComplexField::exp).sum().ln() - y.dot(&z)
}

/// The inputs of [`softmax_ce`].
pub struct SoftmaxCe {
    pub w: SMatrix<f64, 10, 20>,
    pub x: SVector<f64, 20>,
    pub y: SVector<f64, 10>,
}

impl SoftmaxCe {
    /// Logits of order 1 and the one-hot target of class 3.
    pub fn new(rng: &mut SplitMix64) -> Self {
        let mut y = SVector::<f64, 10>::zeros();
        y[3] = 1.0;
        SoftmaxCe {
            w: rng.matrix(0.2),
            x: rng.matrix(1.0),
            y,
        }
    }
}

impl Loss for SoftmaxCe {
    const NAME: &'static str = "softmax_ce";
    type Wrt = SMatrix<f64, 10, 20>;
    type DualConsts = (SVector<Dual64, 20>, SVector<Dual64, 10>);

    fn wrt(&self) -> Self::Wrt {
        self.w
    }
    #[inline(never)]
    fn primal(&self) -> f64 {
        softmax_ce(&self.w, &self.x, &self.y)
    }
    #[inline(never)]
    fn generated(&self) -> (f64, Self::Wrt) {
        softmax_ce_grad(&self.w, &self.x, &self.y)
    }
    #[inline(never)]
    fn hand(&self) -> (f64, Self::Wrt) {
        softmax_ce_hand(&self.w, &self.x, &self.y)
    }
    fn dual_consts(&self) -> Self::DualConsts {
        (self.x.to_dual(), self.y.to_dual())
    }
    fn eval_dual(c: &Self::DualConsts, p: &<Self::Wrt as Params>::Dual) -> Dual64 {
        softmax_ce_generic(p, &c.0, &c.1)
    }
    fn eval_f64(&self, p: &Self::Wrt) -> f64 {
        softmax_ce_generic(p, &self.x, &self.y)
    }
}

// ---- logistic regression over a slice of samples ---------------------------------------------

/// λ of [`logistic_data`].
const LOGISTIC_RIDGE: f64 = 1e-2;

/// The mean logistic negative log-likelihood of labelled samples kept as slices, as data usually
/// arrive, plus a ridge term: a loop over data.
#[gradient(wrt(w))]
pub fn logistic_data(w: &SVector<f64, 8>, xs: &[SVector<f64, 8>], ys: &[f64]) -> f64 {
    let mut total = 0.0;
    for (x, y) in xs.iter().zip(ys.iter()) {
        let z = x.dot(w);
        total += matgrad::softplus(z) - y * z;
    }
    total / xs.len() as f64 + 0.5 * LOGISTIC_RIDGE * w.norm_squared()
}

/// The expert's gradient of [`logistic_data`]: one pass over the samples, each score used for
/// the value and for σ(z) − y, the gradient accumulated by `axpy`; (1/N)Σ(σ(zᵢ) − yᵢ)xᵢ + λw.
pub fn logistic_data_hand(
    w: &SVector<f64, 8>,
    xs: &[SVector<f64, 8>],
    ys: &[f64],
) -> (f64, SVector<f64, 8>) {
    let mut total = 0.0;
    let mut g = SVector::<f64, 8>::zeros();
    for (x, &y) in xs.iter().zip(ys) {
        let z = x.dot(w);
        total += matgrad::softplus(z) - y * z;
        g.axpy(matgrad::sigmoid(z) - y, x, 1.0);
    }
    let inv_n = 1.0 / xs.len() as f64;
    let value = total / xs.len() as f64 + 0.5 * LOGISTIC_RIDGE * w.norm_squared();
    g.axpy(LOGISTIC_RIDGE, w, inv_n);
    (value, g)
}

/// [`logistic_data`] over any real field.
pub fn logistic_data_generic<T: RealField + Copy>(
    w: &SVector<T, 8>,
    xs: &[SVector<T, 8>],
    ys: &[T],
) -> T {
    let mut total = T::zero();
    for (x, &y) in xs.iter().zip(ys) {
        let z = x.dot(w);
        // softplus(z) = max(z, 0) + ln(1 + e^{−|z|})
        let positive = if z > T::zero() { z } else { T::zero() };
        total += positive + (-z.abs()).exp().ln_1p() - y * z;
    }
    let n: T = k(xs.len() as f64);
    total / n + k::<T>(0.5 * LOGISTIC_RIDGE) * w.norm_squared()
}

/// The inputs of [`logistic_data`]: 200 samples of 8 features, labels from a logistic model.
pub struct LogisticData {
    pub w: SVector<f64, 8>,
    pub xs: Vec<SVector<f64, 8>>,
    pub ys: Vec<f64>,
}

impl LogisticData {
    pub fn new(rng: &mut SplitMix64) -> Self {
        let truth: SVector<f64, 8> = rng.matrix(1.0);
        let xs: Vec<SVector<f64, 8>> = (0..200).map(|_| rng.matrix(1.0)).collect();
        let ys = xs
            .iter()
            .map(|x| f64::from(u8::from(rng.uniform() < matgrad::sigmoid(x.dot(&truth)))))
            .collect();
        LogisticData {
            w: rng.matrix(0.3),
            xs,
            ys,
        }
    }
}

impl Loss for LogisticData {
    const NAME: &'static str = "logistic_data";
    type Wrt = SVector<f64, 8>;
    type DualConsts = (Vec<SVector<Dual64, 8>>, Vec<Dual64>);

    fn wrt(&self) -> Self::Wrt {
        self.w
    }
    #[inline(never)]
    fn primal(&self) -> f64 {
        logistic_data(&self.w, &self.xs, &self.ys)
    }
    #[inline(never)]
    fn generated(&self) -> (f64, Self::Wrt) {
        logistic_data_grad(&self.w, &self.xs, &self.ys)
    }
    #[inline(never)]
    fn hand(&self) -> (f64, Self::Wrt) {
        logistic_data_hand(&self.w, &self.xs, &self.ys)
    }
    fn dual_consts(&self) -> Self::DualConsts {
        (
            self.xs.iter().map(|x| x.map(Dual64::from_re)).collect(),
            self.ys.iter().map(|&y| Dual64::from_re(y)).collect(),
        )
    }
    fn eval_dual(c: &Self::DualConsts, p: &<Self::Wrt as Params>::Dual) -> Dual64 {
        logistic_data_generic(p, &c.0, &c.1)
    }
    fn eval_f64(&self, p: &Self::Wrt) -> f64 {
        logistic_data_generic(p, &self.xs, &self.ys)
    }
}

// ---- all of them ----------------------------------------------------------------------------

/// The seed every benchmark and test draws its inputs from.
pub const SEED: u64 = 0x6d61_7467_7261_6421; // "matgrad!"

/// The seven reference losses at their deterministic input points.
pub struct All {
    pub ols: Ols,
    pub single_layer: SingleLayer,
    pub gaussian_nll: GaussianNll,
    pub gaussian_nll_chol: GaussianNllChol,
    pub trace_quad: TraceQuad,
    pub frob_affine: FrobAffine,
    pub mlp2: Mlp2,
    pub softmax_ce: SoftmaxCe,
    pub logistic_data: LogisticData,
}

impl All {
    /// Draws every loss's inputs from one generator seeded with [`SEED`].
    #[must_use]
    pub fn new() -> Self {
        let mut rng = SplitMix64(SEED);
        let ols = Ols::new(&mut rng);
        let single_layer = SingleLayer::new(&mut rng);
        let gaussian_nll = GaussianNll::new(&mut rng);
        // The same point: the two spellings of one loss.
        let gaussian_nll_chol = GaussianNllChol(GaussianNll {
            mu: gaussian_nll.mu,
            sigma: gaussian_nll.sigma,
            x: gaussian_nll.x,
        });
        All {
            ols,
            single_layer,
            gaussian_nll,
            gaussian_nll_chol,
            trace_quad: TraceQuad::new(&mut rng),
            frob_affine: FrobAffine::new(&mut rng),
            mlp2: Mlp2::new(&mut rng),
            softmax_ce: SoftmaxCe::new(&mut rng),
            logistic_data: LogisticData::new(&mut rng),
        }
    }
}

impl Default for All {
    fn default() -> Self {
        Self::new()
    }
}

/// ‖a − b‖∞ / ‖b‖∞ over the flat parameter vectors.
fn relative_error<P: Params>(a: &P, b: &P) -> f64 {
    let (mut diff, mut scale) = (0.0_f64, 0.0_f64);
    for i in 0..P::LEN {
        diff = diff.max((a.get(i) - b.get(i)).abs());
        scale = scale.max(b.get(i).abs());
    }
    diff / scale.max(f64::MIN_POSITIVE)
}

/// Asserts that a method's value and gradient match the hand-written ones.
pub fn assert_close<P: Params>(
    loss: &str,
    method: &str,
    (value, grad): &(f64, P),
    (hand_value, hand_grad): &(f64, P),
    tolerance: f64,
) {
    let value_error = (value - hand_value).abs() / hand_value.abs().max(1.0);
    assert!(
        value_error <= 1e-12,
        "{loss}: {method} value {value} differs from the hand-written {hand_value}"
    );
    let error = relative_error(grad, hand_grad);
    assert!(
        error <= tolerance,
        "{loss}: {method} gradient differs from the hand-written one by {error:.3e} \
         (relative, ∞-norm; allowed {tolerance:.0e})"
    );
}

/// Checks one loss: the primal value, then the generated, dual and finite-difference gradients
/// against the hand-written one.
pub fn check<L: Loss>(loss: &L) {
    let hand = loss.hand();
    assert_close(L::NAME, "primal", &(loss.primal(), hand.1), &hand, 0.0);
    assert_close(L::NAME, "generated", &loss.generated(), &hand, 1e-9);
    assert_close(L::NAME, "num-dual", &dual(loss), &hand, 1e-9);
    assert_close(
        L::NAME,
        "finite differences",
        &finite_differences(loss),
        &hand,
        1e-5,
    );
}

/// Asserts that every method's gradient matches the hand-written one on every reference loss
/// (relative 1e-9 for the generated and the dual-number gradient, 1e-5 for finite differences).
///
/// # Panics
///
/// On the first mismatch, naming the loss and the method.
pub fn check_all() {
    let all = All::new();
    check(&all.ols);
    check(&all.single_layer);
    check(&all.gaussian_nll);
    check(&all.gaussian_nll_chol);
    check(&all.trace_quad);
    check(&all.frob_affine);
    check(&all.mlp2);
    check(&all.softmax_ce);
    check(&all.logistic_data);
}
