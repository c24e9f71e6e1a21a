//! Five reference residuals, each with its Jacobian computed four ways, which
//! `benches/jacobians.rs` times side by side and `tests/alloc.rs` checks for allocations:
//!
//! - the function itself, with `#[jacobian(wrt(…))]` on it, so the macro writes
//!   `{name}_jacobian`;
//! - `{name}_hand`, the closed-form Jacobian written as an expert would (subexpressions shared,
//!   each `exp`, `sin` and `cos` computed once, columns written directly);
//! - `{name}_generic`, the function over any `RealField`, which [`Residual::dual`] runs through
//!   `num_dual::jacobian` (one pass on `DualSVec64<n>`, all n directions at once) and
//!   [`Residual::central`] through central differences on `f64`.
//!
//! The residuals: an exponential-decay curve fit (3 parameters, 50 residuals), NIST's Rat43
//! (4 parameters, 15 residuals, the certified data), a pinhole reprojection (2 residuals, with
//! respect to a rotation matrix, a translation and a point), the end effector of a 3-link planar
//! arm (2 residuals of 3 joint angles) and F = A·X·B in X (6 residuals of 20 entries).
//! [`check_all`] asserts that every method's value and Jacobian match the hand-written ones
//! before anything is timed.
//!
//! This file is a module, not a bench target (Cargo would make a bench of a `benches/*.rs`
//! file): `jacobians.rs` declares it with `mod jacobian_reference;` and `tests/alloc.rs`
//! includes it with `#[path]`.

use matgrad::jacobian;
use matgrad::nalgebra::{
    self as na, Matrix2x3, Matrix3, Matrix3x2, Matrix3x4, RealField, SMatrix, SVector, Vector2,
    Vector3, Vector4,
};
use num_dual::DualSVec64;

/// An `f64` constant (a datum) in the scalar type of a generic twin.
fn lift<T: RealField + Copy>(v: f64) -> T {
    na::convert(v)
}

// ---- the four methods -----------------------------------------------------------------------

/// A value and its Jacobians as one flat list of numbers, for comparing methods.
pub trait Flat {
    /// Every entry, in a fixed order.
    fn entries(&self) -> Vec<f64>;
}

impl<const R: usize, const C: usize> Flat for SMatrix<f64, R, C> {
    fn entries(&self) -> Vec<f64> {
        self.as_slice().to_vec()
    }
}

impl<A: Flat, B: Flat, C: Flat> Flat for (A, B, C) {
    fn entries(&self) -> Vec<f64> {
        let mut all = self.0.entries();
        all.extend(self.1.entries());
        all.extend(self.2.entries());
        all
    }
}

/// One reference residual at one input point, in every form the benchmark compares.
///
/// The impls mark every method `#[inline(never)]`: each is then compiled once, as a caller in
/// another crate would see it, and the timing loop around it cannot change its code generation.
pub trait Residual {
    /// The residual's name in the table.
    const NAME: &'static str;
    /// The number of differentiated scalars.
    const INPUTS: usize;
    /// The number of residuals.
    const OUTPUTS: usize;
    /// The residual vector (or matrix).
    type Value: Flat;
    /// The Jacobian, or a tuple of one per differentiated parameter.
    type Jacobian: Flat;

    /// The `#[jacobian]` function itself.
    fn primal(&self) -> Self::Value;
    /// The macro's `{name}_jacobian`.
    fn generated(&self) -> (Self::Value, Self::Jacobian);
    /// The expert's closed form.
    fn hand(&self) -> (Self::Value, Self::Jacobian);
    /// `num_dual::jacobian` over the generic twin.
    fn dual(&self) -> (Self::Value, Self::Jacobian);
    /// Central differences on the generic twin over `f64`.
    fn central(&self) -> (Self::Value, Self::Jacobian);
}

/// The value and Jacobian of `f` at `x` by central differences, with the step
/// h = ∛ε·max(1, |x|) for each entry x: two evaluations per entry.
pub fn central_differences<const M: usize, const N: usize>(
    f: impl Fn(&SVector<f64, N>) -> SVector<f64, M>,
    x: &SVector<f64, N>,
) -> (SVector<f64, M>, SMatrix<f64, M, N>) {
    let cbrt_eps = f64::EPSILON.cbrt();
    let mut at = *x;
    let mut j = SMatrix::<f64, M, N>::zeros();
    for l in 0..N {
        let h = cbrt_eps * x[l].abs().max(1.0);
        at[l] = x[l] + h;
        let up = f(&at);
        at[l] = x[l] - h;
        let down = f(&at);
        at[l] = x[l];
        j.set_column(l, &((up - down) / (2.0 * h)));
    }
    (f(x), j)
}

/// A matrix from its column-major entries.
fn reshape<T: RealField + Copy, const R: usize, const C: usize, const N: usize>(
    v: &SVector<T, N>,
    offset: usize,
) -> SMatrix<T, R, C> {
    SMatrix::from_fn(|i, j| v[offset + i + R * j])
}

/// Columns `offset..offset + C` of `j`.
fn columns<const M: usize, const N: usize, const C: usize>(
    j: &SMatrix<f64, M, N>,
    offset: usize,
) -> SMatrix<f64, M, C> {
    j.fixed_columns::<C>(offset).into_owned()
}

// ---- inputs ---------------------------------------------------------------------------------

/// The splitmix64 generator: the same noise on every machine.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform on [−1, 1).
    fn symmetric(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (2.0 / (1_u64 << 53) as f64) - 1.0
    }

    /// A matrix of entries uniform on [−1, 1).
    fn matrix<const R: usize, const C: usize>(&mut self) -> SMatrix<f64, R, C> {
        SMatrix::from_fn(|_, _| self.symmetric())
    }
}

// ---- decay: r = y − (a·e^(−b·t) + c), 3 parameters, 50 residuals ----------------------------

/// The number of samples of the decay curve.
pub const DECAY_SAMPLES: usize = 50;
type Samples = SVector<f64, DECAY_SAMPLES>;

/// Residuals of the exponential-decay model a·e^(−b·t) + c at p = (a, b, c).
#[jacobian(wrt(p))]
pub fn decay(p: &Vector3<f64>, t: &SVector<f64, 50>, y: &SVector<f64, 50>) -> SVector<f64, 50> {
    let a = p[0];
    let b = p[1];
    let c = p[2];
    y - t.map(|tk| a * (-b * tk).exp() + c)
}

/// With eₖ = e^(−b·tₖ): rₖ = yₖ − a·eₖ − c, ∂r/∂a = −e, ∂r/∂b = a·t∘e, ∂r/∂c = −1.
#[must_use]
pub fn decay_hand(p: &Vector3<f64>, t: &Samples, y: &Samples) -> (Samples, SMatrix<f64, 50, 3>) {
    let (a, b, c) = (p[0], p[1], p[2]);
    let mut r = Samples::zeros();
    let mut j = SMatrix::<f64, DECAY_SAMPLES, 3>::zeros();
    for k in 0..DECAY_SAMPLES {
        let e = (-b * t[k]).exp();
        r[k] = y[k] - a * e - c;
        j[(k, 0)] = -e;
        j[(k, 1)] = a * t[k] * e;
    }
    j.column_mut(2).fill(-1.0);
    (r, j)
}

/// [`decay`] over any real field, the data staying `f64`.
pub fn decay_generic<T: RealField + Copy>(
    p: &SVector<T, 3>,
    t: &Samples,
    y: &Samples,
) -> SVector<T, DECAY_SAMPLES> {
    let (a, b, c) = (p[0], p[1], p[2]);
    SVector::from_fn(|k, _| lift::<T>(y[k]) - (a * (-b * lift(t[k])).exp() + c))
}

/// The inputs of [`decay`]: t = 0, 0.1, …, 4.9, y the curve with a = 3, b = 1.3, c = 0.5 plus
/// noise, p a perturbation of the truth.
pub struct Decay {
    pub p: Vector3<f64>,
    pub t: Samples,
    pub y: Samples,
}

impl Decay {
    fn new(rng: &mut SplitMix64) -> Self {
        let t = Samples::from_fn(|k, _| 0.1 * k as f64);
        let y = t.map(|tk| 3.0 * (-1.3 * tk).exp() + 0.5 + 0.02 * rng.symmetric());
        Decay {
            p: Vector3::new(2.5, 1.1, 0.6),
            t,
            y,
        }
    }
}

impl Residual for Decay {
    const NAME: &'static str = "decay";
    const INPUTS: usize = 3;
    const OUTPUTS: usize = DECAY_SAMPLES;
    type Value = Samples;
    type Jacobian = SMatrix<f64, DECAY_SAMPLES, 3>;

    #[inline(never)]
    fn primal(&self) -> Samples {
        decay(&self.p, &self.t, &self.y)
    }
    #[inline(never)]
    fn generated(&self) -> (Samples, Self::Jacobian) {
        decay_jacobian(&self.p, &self.t, &self.y)
    }
    #[inline(never)]
    fn hand(&self) -> (Samples, Self::Jacobian) {
        decay_hand(&self.p, &self.t, &self.y)
    }
    #[inline(never)]
    fn dual(&self) -> (Samples, Self::Jacobian) {
        num_dual::jacobian(
            |p: SVector<DualSVec64<3>, 3>| decay_generic(&p, &self.t, &self.y),
            &self.p,
        )
    }
    #[inline(never)]
    fn central(&self) -> (Samples, Self::Jacobian) {
        central_differences(|p| decay_generic(p, &self.t, &self.y), &self.p)
    }
}

// ---- rat43: y − b₁ / (1 + exp(b₂ − b₃·x))^(1/b₄), 4 parameters, 15 residuals ----------------

/// The number of observations of NIST's Rat43.
pub const RAT43_SAMPLES: usize = 15;
type Observations = SVector<f64, RAT43_SAMPLES>;

/// Residuals of NIST's Rat43 model (Ratkowsky 1983, onion bulb dry weight) at b = (b₁…b₄).
#[jacobian(wrt(b))]
pub fn rat43(b: &Vector4<f64>, x: &SVector<f64, 15>, y: &SVector<f64, 15>) -> SVector<f64, 15> {
    let b1 = b[0];
    let b2 = b[1];
    let b3 = b[2];
    let b4 = b[3];
    y - x.map(|xk| b1 / (1.0 + (b2 - b3 * xk).exp()).powf(1.0 / b4))
}

/// With w = e^(b₂ − b₃x), s = 1 + w, L = ln s and f = b₁·e^(−L/b₄) (the model):
/// ∂r/∂b₁ = −f/b₁, ∂r/∂b₂ = f·w/(b₄s), ∂r/∂b₃ = −x·f·w/(b₄s), ∂r/∂b₄ = −f·L/b₄².
#[must_use]
pub fn rat43_hand(
    b: &Vector4<f64>,
    x: &Observations,
    y: &Observations,
) -> (Observations, SMatrix<f64, RAT43_SAMPLES, 4>) {
    let (b1, b2, b3, b4) = (b[0], b[1], b[2], b[3]);
    let inv_b4 = 1.0 / b4;
    let mut r = Observations::zeros();
    let mut j = SMatrix::<f64, RAT43_SAMPLES, 4>::zeros();
    for k in 0..RAT43_SAMPLES {
        let w = (b2 - b3 * x[k]).exp();
        let l = w.ln_1p();
        let q = (-l * inv_b4).exp();
        let f = b1 * q;
        let g = f * w * inv_b4 / (1.0 + w);
        r[k] = y[k] - f;
        j[(k, 0)] = -q;
        j[(k, 1)] = g;
        j[(k, 2)] = -x[k] * g;
        j[(k, 3)] = -f * l * inv_b4 * inv_b4;
    }
    (r, j)
}

/// [`rat43`] over any real field, the data staying `f64`.
pub fn rat43_generic<T: RealField + Copy>(
    b: &SVector<T, 4>,
    x: &Observations,
    y: &Observations,
) -> SVector<T, RAT43_SAMPLES> {
    let (b1, b2, b3, b4) = (b[0], b[1], b[2], b[3]);
    let one = T::one();
    SVector::from_fn(|k, _| {
        lift::<T>(y[k]) - b1 / (one + (b2 - b3 * lift(x[k])).exp()).powf(one / b4)
    })
}

/// The inputs of [`rat43`]: NIST's data, and b at NIST's second starting point.
pub struct Rat43 {
    pub b: Vector4<f64>,
    pub x: Observations,
    pub y: Observations,
}

impl Rat43 {
    fn new() -> Self {
        Rat43 {
            b: Vector4::new(700.0, 5.0, 0.75, 1.3),
            x: Observations::from_fn(|k, _| (k + 1) as f64),
            y: Observations::from_column_slice(&[
                16.08, 33.83, 65.80, 97.20, 191.55, 326.20, 386.87, 520.53, 590.03, 651.92, 724.93,
                699.56, 689.96, 637.56, 717.41,
            ]),
        }
    }
}

impl Residual for Rat43 {
    const NAME: &'static str = "rat43";
    const INPUTS: usize = 4;
    const OUTPUTS: usize = RAT43_SAMPLES;
    type Value = Observations;
    type Jacobian = SMatrix<f64, RAT43_SAMPLES, 4>;

    #[inline(never)]
    fn primal(&self) -> Observations {
        rat43(&self.b, &self.x, &self.y)
    }
    #[inline(never)]
    fn generated(&self) -> (Observations, Self::Jacobian) {
        rat43_jacobian(&self.b, &self.x, &self.y)
    }
    #[inline(never)]
    fn hand(&self) -> (Observations, Self::Jacobian) {
        rat43_hand(&self.b, &self.x, &self.y)
    }
    #[inline(never)]
    fn dual(&self) -> (Observations, Self::Jacobian) {
        num_dual::jacobian(
            |b: SVector<DualSVec64<4>, 4>| rat43_generic(&b, &self.x, &self.y),
            &self.b,
        )
    }
    #[inline(never)]
    fn central(&self) -> (Observations, Self::Jacobian) {
        central_differences(|b| rat43_generic(b, &self.x, &self.y), &self.b)
    }
}

// ---- pinhole: (u, v) = normalized projection of R·X + t -------------------------------------

/// The pinhole projection (u, v) = (P₀/P₂, P₁/P₂) of P = R·X + t, in camera coordinates without
/// intrinsics.
#[jacobian(wrt(r, t, x))]
pub fn pinhole(r: &Matrix3<f64>, t: &Vector3<f64>, x: &Vector3<f64>) -> Vector2<f64> {
    let p = r * x + t;
    Vector2::new(p[0] / p[2], p[1] / p[2])
}

/// The Jacobians of [`pinhole`] in R (as 9 free entries), t and X.
pub type PinholeJacobian = (SMatrix<f64, 2, 9>, Matrix2x3<f64>, Matrix2x3<f64>);

/// With P = RX + t, ζ = 1/P₂ and (u, v) the projection, ∂(u, v)/∂P = D = ζ·[[1, 0, −u],
/// [0, 1, −v]]: the Jacobian in t is D, in X it is D·R (rows ζ(R₀ − uR₂) and ζ(R₁ − vR₂)), and
/// in R it is Xᵀ⊗D (column i + 3j is Xⱼ times column i of D).
#[must_use]
pub fn pinhole_hand(
    r: &Matrix3<f64>,
    t: &Vector3<f64>,
    x: &Vector3<f64>,
) -> (Vector2<f64>, PinholeJacobian) {
    let mut p = *t;
    p.gemv(1.0, r, x, 1.0);
    let zeta = 1.0 / p[2];
    let (u, v) = (p[0] * zeta, p[1] * zeta);
    let (du, dv) = (-u * zeta, -v * zeta);
    let jt = Matrix2x3::new(zeta, 0.0, du, 0.0, zeta, dv);
    let mut jx = Matrix2x3::zeros();
    let mut jr = SMatrix::<f64, 2, 9>::zeros();
    for c in 0..3 {
        jx[(0, c)] = zeta * r[(0, c)] + du * r[(2, c)];
        jx[(1, c)] = zeta * r[(1, c)] + dv * r[(2, c)];
        let xc = x[c];
        jr[(0, 3 * c)] = zeta * xc;
        jr[(1, 3 * c + 1)] = zeta * xc;
        jr[(0, 3 * c + 2)] = du * xc;
        jr[(1, 3 * c + 2)] = dv * xc;
    }
    (Vector2::new(u, v), (jr, jt, jx))
}

/// [`pinhole`] over any real field, of R, t and X stacked in one 15-vector (column-major R).
pub fn pinhole_generic<T: RealField + Copy>(v: &SVector<T, 15>) -> SVector<T, 2> {
    let r: SMatrix<T, 3, 3> = reshape(v, 0);
    let t: SVector<T, 3> = reshape(v, 9);
    let x: SVector<T, 3> = reshape(v, 12);
    let p = r * x + t;
    SVector::<T, 2>::new(p[0] / p[2], p[1] / p[2])
}

/// The inputs of [`pinhole`]: a rotation, a translation and a point in front of the camera.
pub struct Pinhole {
    pub r: Matrix3<f64>,
    pub t: Vector3<f64>,
    pub x: Vector3<f64>,
}

impl Pinhole {
    fn new() -> Self {
        let r = *na::Rotation3::from_euler_angles(0.1, -0.2, 0.3).matrix();
        Pinhole {
            r,
            t: Vector3::new(0.2, -0.1, 4.0),
            x: Vector3::new(0.5, -0.3, 1.2),
        }
    }

    /// R, t and X stacked, the input of [`pinhole_generic`].
    fn stacked(&self) -> SVector<f64, 15> {
        SVector::from_iterator(
            self.r
                .iter()
                .chain(self.t.iter())
                .chain(self.x.iter())
                .copied(),
        )
    }

    /// The stacked Jacobian split per parameter.
    fn split(j: &SMatrix<f64, 2, 15>) -> PinholeJacobian {
        (columns(j, 0), columns(j, 9), columns(j, 12))
    }
}

impl Residual for Pinhole {
    const NAME: &'static str = "pinhole";
    const INPUTS: usize = 15;
    const OUTPUTS: usize = 2;
    type Value = Vector2<f64>;
    type Jacobian = PinholeJacobian;

    #[inline(never)]
    fn primal(&self) -> Vector2<f64> {
        pinhole(&self.r, &self.t, &self.x)
    }
    #[inline(never)]
    fn generated(&self) -> (Vector2<f64>, PinholeJacobian) {
        pinhole_jacobian(&self.r, &self.t, &self.x)
    }
    #[inline(never)]
    fn hand(&self) -> (Vector2<f64>, PinholeJacobian) {
        pinhole_hand(&self.r, &self.t, &self.x)
    }
    #[inline(never)]
    fn dual(&self) -> (Vector2<f64>, PinholeJacobian) {
        let (value, j) = num_dual::jacobian(
            |v: SVector<DualSVec64<15>, 15>| pinhole_generic(&v),
            &self.stacked(),
        );
        (value, Self::split(&j))
    }
    #[inline(never)]
    fn central(&self) -> (Vector2<f64>, PinholeJacobian) {
        let (value, j) = central_differences(pinhole_generic, &self.stacked());
        (value, Self::split(&j))
    }
}

// ---- arm: the end effector of a 3-link planar arm -------------------------------------------

/// The end effector (x, y) of a planar arm with joint angles θ and link lengths l: link i
/// points at angle θ₀ + … + θᵢ.
#[jacobian(wrt(theta))]
pub fn arm(theta: &Vector3<f64>, l: &Vector3<f64>) -> Vector2<f64> {
    let a0 = theta[0];
    let a1 = a0 + theta[1];
    let a2 = a1 + theta[2];
    let x = l[0] * a0.cos() + l[1] * a1.cos() + l[2] * a2.cos();
    let y = l[0] * a0.sin() + l[1] * a1.sin() + l[2] * a2.sin();
    Vector2::new(x, y)
}

/// With pᵢ the position of the end effector relative to joint i, ∂(x, y)/∂θᵢ = (−pᵢ.y, pᵢ.x):
/// p₂ is link 2, p₁ = p₂ + link 1, p₀ = p₁ + link 0 = the end effector.
#[must_use]
pub fn arm_hand(theta: &Vector3<f64>, l: &Vector3<f64>) -> (Vector2<f64>, Matrix2x3<f64>) {
    let a0 = theta[0];
    let a1 = a0 + theta[1];
    let a2 = a1 + theta[2];
    let (s0, c0) = a0.sin_cos();
    let (s1, c1) = a1.sin_cos();
    let (s2, c2) = a2.sin_cos();
    let (x2, y2) = (l[2] * c2, l[2] * s2);
    let (x1, y1) = (x2 + l[1] * c1, y2 + l[1] * s1);
    let (x0, y0) = (x1 + l[0] * c0, y1 + l[0] * s0);
    (
        Vector2::new(x0, y0),
        Matrix2x3::new(-y0, -y1, -y2, x0, x1, x2),
    )
}

/// [`arm`] over any real field.
pub fn arm_generic<T: RealField + Copy>(theta: &SVector<T, 3>, l: &Vector3<f64>) -> SVector<T, 2> {
    let a0 = theta[0];
    let a1 = a0 + theta[1];
    let a2 = a1 + theta[2];
    let (l0, l1, l2) = (lift::<T>(l[0]), lift::<T>(l[1]), lift::<T>(l[2]));
    SVector::<T, 2>::new(
        l0 * a0.cos() + l1 * a1.cos() + l2 * a2.cos(),
        l0 * a0.sin() + l1 * a1.sin() + l2 * a2.sin(),
    )
}

/// The inputs of [`arm`].
pub struct Arm {
    pub theta: Vector3<f64>,
    pub l: Vector3<f64>,
}

impl Arm {
    fn new() -> Self {
        Arm {
            theta: Vector3::new(0.4, 0.7, -0.5),
            l: Vector3::new(1.0, 0.8, 0.5),
        }
    }
}

impl Residual for Arm {
    const NAME: &'static str = "arm";
    const INPUTS: usize = 3;
    const OUTPUTS: usize = 2;
    type Value = Vector2<f64>;
    type Jacobian = Matrix2x3<f64>;

    #[inline(never)]
    fn primal(&self) -> Vector2<f64> {
        arm(&self.theta, &self.l)
    }
    #[inline(never)]
    fn generated(&self) -> (Vector2<f64>, Matrix2x3<f64>) {
        arm_jacobian(&self.theta, &self.l)
    }
    #[inline(never)]
    fn hand(&self) -> (Vector2<f64>, Matrix2x3<f64>) {
        arm_hand(&self.theta, &self.l)
    }
    #[inline(never)]
    fn dual(&self) -> (Vector2<f64>, Matrix2x3<f64>) {
        num_dual::jacobian(
            |theta: SVector<DualSVec64<3>, 3>| arm_generic(&theta, &self.l),
            &self.theta,
        )
    }
    #[inline(never)]
    fn central(&self) -> (Vector2<f64>, Matrix2x3<f64>) {
        central_differences(|theta| arm_generic(theta, &self.l), &self.theta)
    }
}

// ---- axb: F = A·X·B in X, A 3×4, X 4×5, B 5×2 -----------------------------------------------

/// A product with X in the middle.
#[jacobian(wrt(x))]
pub fn axb(a: &Matrix3x4<f64>, x: &SMatrix<f64, 4, 5>, b: &SMatrix<f64, 5, 2>) -> Matrix3x2<f64> {
    a * x * b
}

/// vec(AXB) = (Bᵀ⊗A)·vec(X): the 3×4 block at rows 3c, columns 4j of J is B[(j, c)]·A. The
/// value is A·(X·B), the cheaper association.
#[must_use]
pub fn axb_hand(
    a: &Matrix3x4<f64>,
    x: &SMatrix<f64, 4, 5>,
    b: &SMatrix<f64, 5, 2>,
) -> (Matrix3x2<f64>, SMatrix<f64, 6, 20>) {
    let mut j = SMatrix::<f64, 6, 20>::zeros();
    for c in 0..2 {
        for col in 0..5 {
            j.fixed_view_mut::<3, 4>(3 * c, 4 * col)
                .copy_from(&(a * b[(col, c)]));
        }
    }
    (a * (x * b), j)
}

/// [`axb`] over any real field, of X's column-major entries, returning F's.
pub fn axb_generic<T: RealField + Copy>(
    a: &Matrix3x4<f64>,
    x: &SVector<T, 20>,
    b: &SMatrix<f64, 5, 2>,
) -> SVector<T, 6> {
    let x: SMatrix<T, 4, 5> = reshape(x, 0);
    let f = a.map(lift::<T>) * x * b.map(lift::<T>);
    SVector::from_column_slice(f.as_slice())
}

/// The inputs of [`axb`].
pub struct Axb {
    pub a: Matrix3x4<f64>,
    pub x: SMatrix<f64, 4, 5>,
    pub b: SMatrix<f64, 5, 2>,
}

impl Axb {
    fn new(rng: &mut SplitMix64) -> Self {
        Axb {
            a: rng.matrix(),
            x: rng.matrix(),
            b: rng.matrix(),
        }
    }

    /// F's entries as the matrix F.
    fn unflatten(value: &SVector<f64, 6>) -> Matrix3x2<f64> {
        reshape(value, 0)
    }

    /// X's entries as a vector.
    fn flat_x(&self) -> SVector<f64, 20> {
        SVector::from_column_slice(self.x.as_slice())
    }
}

impl Residual for Axb {
    const NAME: &'static str = "axb";
    const INPUTS: usize = 20;
    const OUTPUTS: usize = 6;
    type Value = Matrix3x2<f64>;
    type Jacobian = SMatrix<f64, 6, 20>;

    #[inline(never)]
    fn primal(&self) -> Matrix3x2<f64> {
        axb(&self.a, &self.x, &self.b)
    }
    #[inline(never)]
    fn generated(&self) -> (Matrix3x2<f64>, Self::Jacobian) {
        axb_jacobian(&self.a, &self.x, &self.b)
    }
    #[inline(never)]
    fn hand(&self) -> (Matrix3x2<f64>, Self::Jacobian) {
        axb_hand(&self.a, &self.x, &self.b)
    }
    #[inline(never)]
    fn dual(&self) -> (Matrix3x2<f64>, Self::Jacobian) {
        let (value, j) = num_dual::jacobian(
            |x: SVector<DualSVec64<20>, 20>| axb_generic(&self.a, &x, &self.b),
            &self.flat_x(),
        );
        (Self::unflatten(&value), j)
    }
    #[inline(never)]
    fn central(&self) -> (Matrix3x2<f64>, Self::Jacobian) {
        let (value, j) = central_differences(|x| axb_generic(&self.a, x, &self.b), &self.flat_x());
        (Self::unflatten(&value), j)
    }
}

// ---- all of them ----------------------------------------------------------------------------

/// The seed the random inputs (the decay curve's noise, A, X and B) are drawn from.
pub const SEED: u64 = 0x6a61_636f_6269_616e; // "jacobian"

/// The five reference residuals at their deterministic input points.
pub struct All {
    pub decay: Decay,
    pub rat43: Rat43,
    pub pinhole: Pinhole,
    pub arm: Arm,
    pub axb: Axb,
}

impl All {
    /// Every residual's inputs, the random ones from one generator seeded with [`SEED`].
    #[must_use]
    pub fn new() -> Self {
        let mut rng = SplitMix64(SEED);
        All {
            decay: Decay::new(&mut rng),
            rat43: Rat43::new(),
            pinhole: Pinhole::new(),
            arm: Arm::new(),
            axb: Axb::new(&mut rng),
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
    let diff = a
        .iter()
        .zip(b)
        .fold(0.0_f64, |m, (x, y)| m.max((x - y).abs()));
    let scale = b.iter().fold(0.0_f64, |m, y| m.max(y.abs()));
    diff / scale.max(f64::MIN_POSITIVE)
}

/// Asserts that a method's value and Jacobian match the hand-written ones.
fn assert_close<V: Flat, J: Flat>(
    residual: &str,
    method: &str,
    (value, jacobian): &(V, J),
    (hand_value, hand_jacobian): &(V, J),
    tolerance: f64,
) {
    let value_error = relative_error(&value.entries(), &hand_value.entries());
    assert!(
        value_error <= 1e-12,
        "{residual}: {method} value differs from the hand-written one by {value_error:.3e} \
         (relative, ∞-norm)"
    );
    let error = relative_error(&jacobian.entries(), &hand_jacobian.entries());
    assert!(
        error <= tolerance,
        "{residual}: {method} Jacobian differs from the hand-written one by {error:.3e} \
         (relative, ∞-norm; allowed {tolerance:.0e})"
    );
}

/// Checks one residual: the primal value, then the generated, dual-number and
/// finite-difference Jacobians against the hand-written one.
pub fn check<R: Residual>(residual: &R) {
    let hand = residual.hand();
    let primal = residual.primal();
    let value_error = relative_error(&primal.entries(), &hand.0.entries());
    assert!(
        value_error <= 1e-12,
        "{}: the function's value differs from the hand-written one by {value_error:.3e}",
        R::NAME
    );
    assert_close(R::NAME, "generated", &residual.generated(), &hand, 1e-12);
    assert_close(R::NAME, "num-dual", &residual.dual(), &hand, 1e-12);
    assert_close(
        R::NAME,
        "central differences",
        &residual.central(),
        &hand,
        1e-6,
    );
}

/// Asserts that every method's Jacobian matches the hand-written one on every reference
/// residual (relative 1e-12 for the generated and the dual-number Jacobian, 1e-6 for central
/// differences).
///
/// # Panics
///
/// On the first mismatch, naming the residual and the method.
pub fn check_all() {
    let all = All::new();
    check(&all.decay);
    check(&all.rat43);
    check(&all.pinhole);
    check(&all.arm);
    check(&all.axb);
}
