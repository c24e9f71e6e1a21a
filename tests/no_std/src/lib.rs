//! `#[gradient]` in a `#![no_std]` crate: matgrad without its `std` feature, nalgebra without
//! `std`, and `libm` for the scalar functions.
//!
//! Building this crate is the check. Besides the `no_std` attribute, it defines its own panic
//! handler: were `std` anywhere in the dependency graph, its panic handler would clash with
//! this one (E0152, "found duplicate lang item `panic_impl`"), so a successful build shows that
//! matgrad, nalgebra and the generated code need only `core`. [`gradients`] calls every
//! generated `_grad` so each is type-checked. The unit tests compare the gradients with closed
//! forms; they run under `std`'s test harness on the host, but matgrad and nalgebra stay built
//! without `std` (`sigmoid`, `softplus` and nalgebra's norms go through `libm`).
//!
//! As in any `no_std` crate, `x.exp()` on an `f64` needs a trait that provides it: here
//! nalgebra's `ComplexField`, imported from matgrad's re-export.

#![no_std]
// The closures are what is being checked (`map(|v| v.exp())` against `map(f64::exp)`), and the
// gradient functions are the test subjects, not an API.
#![allow(clippy::redundant_closure_for_method_calls, clippy::must_use_candidate)]

// Under `cfg(test)` the test harness links `std`, whose inherent float methods then take
// precedence over the trait's, leaving the import unused.
#[cfg_attr(test, allow(unused_imports))]
use matgrad::nalgebra::ComplexField;
use matgrad::nalgebra::{
    Const, DimMin, Matrix2, Matrix3, RealField, SMatrix, SVector, Vector2, Vector3, convert,
};
use matgrad::{gradient, sigmoid, softplus};

/// Least squares ‖y − Xβ‖²: products, a difference and a squared norm.
#[gradient]
pub fn ols(beta: &SVector<f64, 3>, x: &SMatrix<f64, 4, 3>, y: &SVector<f64, 4>) -> f64 {
    let r = y - x * beta;
    r.norm_squared()
}

/// One logistic layer ½‖σ(Wx) − y‖², with `sigmoid` as a function path.
#[gradient(wrt(w))]
pub fn logistic_layer(w: &SMatrix<f64, 2, 3>, x: &Vector3<f64>, y: &Vector2<f64>) -> f64 {
    let s = (w * x).map(sigmoid);
    0.5 * (s - y).norm_squared()
}

/// Closures over scalar methods: `exp`, `tanh`, `ln`, `sqrt`, `abs`, `ln_1p`, `sin`, `cos`,
/// `powi`, `powf` and the helpers.
#[gradient]
pub fn scalar_maps(a: &Matrix2<f64>, p: f64) -> f64 {
    let e = a.map(|v| v.exp()).sum();
    let t = a.map(|v| v.tanh()).sum();
    let l = a.map(|v| (v * v + 1.0).ln()).sum();
    let q = a.map(|v| (v * v + 2.0).sqrt()).sum();
    let b = a.map(|v| v.abs()).sum();
    let s = a.map(|v| v.sin() * v.cos()).sum();
    let h = a.map(|v| sigmoid(v) + softplus(v) + (v * v).ln_1p()).sum();
    let k = a.map(|v| v.powi(3)).sum();
    e + t + l + q + b + s + h + k + p.powf(1.5) + p.exp().ln()
}

/// A Gaussian negative log-likelihood ½ ln det Σ + ½ rᵀΣ⁻¹r: `determinant`, `ln` and
/// `try_inverse().unwrap()`.
///
/// # Panics
///
/// If `sigma` is singular (as does the generated `gaussian_nll_grad`).
#[gradient]
pub fn gaussian_nll(sigma: &Matrix3<f64>, x: &Vector3<f64>, mu: &Vector3<f64>) -> f64 {
    let r = x - mu;
    let inv = sigma.try_inverse().unwrap();
    0.5 * sigma.determinant().ln() + 0.5 * (r.transpose() * inv * r)[(0, 0)]
}

/// Function paths and constants: `f64::exp`, `f64::powi`, `matgrad::sigmoid`, `core`'s `PI`.
#[gradient]
pub fn paths(a: &Matrix2<f64>, s: f64) -> f64 {
    let e = a.map(f64::exp).sum() + a.map(matgrad::sigmoid).sum();
    e * core::f64::consts::PI + f64::powi(s, 2) + f64::ln(s) + matgrad::softplus(s)
}

/// Traces, powers, a Kronecker product, a mean, an LU solve and a norm.
///
/// # Panics
///
/// If `a` is singular (as does the generated `matrix_ops_grad`).
#[gradient]
pub fn matrix_ops(a: &Matrix2<f64>, b: &Matrix2<f64>, c: &Vector2<f64>) -> f64 {
    let k = a.kronecker(b);
    let z = a.lu().solve(c).unwrap();
    (a * b.transpose()).trace() + a.pow(3).mean() + k.norm() + z.dot(c) + b.component_mul(a).sum()
}

/// `f32` throughout, with scalar methods on a scalar parameter.
#[gradient]
pub fn single_precision(w: &SMatrix<f32, 2, 2>, x: &SVector<f32, 2>, s: f32) -> f32 {
    let h = (w * x).map(|v| v.tanh());
    h.norm() * s.abs().sqrt() + s.cos()
}

/// Generic sizes and a generic scalar: a product, a squared norm, a map and a constant through
/// `convert`, all through the `RealField` bound.
#[gradient(wrt(beta))]
pub fn generic_ols<T: RealField + Copy, const N: usize, const K: usize>(
    beta: &SVector<T, K>,
    x: &SMatrix<T, N, K>,
    y: &SVector<T, N>,
) -> T {
    let half: T = convert(0.5);
    let r = y - x * beta;
    r.norm_squared() * half + beta.map(|v| v.tanh()).sum()
}

/// A generic size under the `DimMin` bound an inverse and a solve need. Without `std`, rustc
/// cannot infer the right-hand side's sizes of `tr_mul` and `solve` under that bound, so the
/// generated code spells them out.
#[gradient]
pub fn generic_inverse<const N: usize>(a: &SMatrix<f64, N, N>, v: &SVector<f64, N>) -> f64
where
    Const<N>: DimMin<Const<N>, Output = Const<N>>,
{
    (a.try_inverse().unwrap() * v).norm_squared()
        + a.lu().solve::<Const<N>, Const<1>, _>(v).unwrap().sum()
}

/// Control flow: a branch on a computed value inside an unrolled loop.
#[gradient]
pub fn clipped(v: &SVector<f64, 4>, limit: f64) -> f64 {
    let mut total = 0.0;
    for i in 0..4 {
        let x = v[i];
        if x.abs() > limit {
            total += limit * x.exp();
        } else {
            total += x * x;
        }
    }
    total
}

/// The README's example.
#[gradient(wrt(w))]
pub fn layer(w: &SMatrix<f32, 4, 8>, x: &SVector<f32, 8>, y: &SVector<f32, 4>) -> f32 {
    let h = (w * x).map(|v| v.tanh());
    0.5 * (h - y).norm_squared()
}

/// `abs` needs no trait: `core` has it (and `signum`, its derivative) as inherent methods.
pub mod core_only {
    use matgrad::gradient;
    use matgrad::nalgebra::{Matrix2, Vector2};

    /// A sum of absolute values and a quadratic form.
    #[gradient]
    pub fn l1_quadratic(a: &Matrix2<f64>, x: &Vector2<f64>) -> f64 {
        a.map(|v| v.abs()).sum() + x.dot(&(a * x)) + x[0].abs()
    }
}

/// Calls every generated gradient, so each one is compiled and type-checked here; returns the
/// sum of the values and of every gradient entry.
#[must_use]
pub fn gradients() -> f64 {
    let x = SMatrix::<f64, 4, 3>::from_fn(|i, j| 1.0 / (1.0 + (i + 2 * j) as f64));
    let y = SVector::<f64, 4>::new(1.0, 2.0, 0.5, 3.0);
    let beta = SVector::<f64, 3>::new(0.1, 0.2, 0.3);
    let (v0, (g_beta, g_x, g_y)) = ols_grad(&beta, &x, &y);

    let w = SMatrix::<f64, 2, 3>::new(0.5, -1.0, 0.25, 1.5, 0.75, -0.5);
    let (v1, g_w) = logistic_layer_grad(&w, &Vector3::new(1.0, 2.0, -1.0), &Vector2::new(0.2, 0.9));

    let a = Matrix2::new(0.3, -0.7, 1.1, 0.4);
    let (v2, (g_a, g_p)) = scalar_maps_grad(&a, 2.0);

    let sigma = Matrix3::new(2.0, 0.3, 0.1, 0.3, 1.5, -0.2, 0.1, -0.2, 1.0);
    let (v3, (g_sigma, g_x3, g_mu)) = gaussian_nll_grad(
        &sigma,
        &Vector3::new(0.5, -0.5, 1.0),
        &Vector3::new(0.1, 0.2, 0.3),
    );

    let b = Matrix2::new(1.0, 0.5, -0.25, 2.0);
    let (v4, (g_a4, g_b4, g_c4)) = matrix_ops_grad(&a, &b, &Vector2::new(1.0, -1.0));

    let (v6, (g_a6, g_s6)) = paths_grad(&a, 1.5);
    let (v7, (g_a7, g_x7)) = core_only::l1_quadratic_grad(&a, &Vector2::new(-0.5, 2.0));

    let (v9, g_b9) = generic_ols_grad(&beta, &x, &y);
    let x23 = SMatrix::<f32, 2, 3>::new(1.0, 0.5, -1.0, 0.25, 2.0, 1.5);
    let (v10, g_b10) = generic_ols_grad(&beta.cast::<f32>(), &x23, &SVector::<f32, 2>::repeat(0.5));

    let (v11, (g_v11, g_l11)) = clipped_grad(&SVector::<f64, 4>::new(0.5, -2.0, 1.5, 0.1), 1.0);

    let w32 = SMatrix::<f32, 2, 2>::new(0.5, -0.25, 1.0, 0.75);
    let (v5, (g_w5, g_x5, g_s5)) =
        single_precision_grad(&w32, &SVector::<f32, 2>::new(1.0, 2.0), 0.5);
    let w8 = SMatrix::<f32, 4, 8>::from_fn(|i, j| 0.1 * (i as f32) - 0.05 * (j as f32));
    let (v8, g_w8) = layer_grad(&w8, &SVector::repeat(0.5), &SVector::repeat(0.25));

    v0 + g_beta.sum()
        + g_x.sum()
        + g_y.sum()
        + v1
        + g_w.sum()
        + v2
        + g_a.sum()
        + g_p
        + v3
        + g_sigma.sum()
        + g_x3.sum()
        + g_mu.sum()
        + v4
        + g_a4.sum()
        + g_b4.sum()
        + g_c4.sum()
        + v6
        + g_a6.sum()
        + g_s6
        + v7
        + g_a7.sum()
        + g_x7.sum()
        + v9
        + g_b9.sum()
        + v11
        + g_v11.sum()
        + g_l11
        + f64::from(v5 + g_w5.sum() + g_x5.sum() + g_s5 + v8 + g_w8.sum() + v10 + g_b10.sum())
}

/// What a `no_std` program would need of its own; absent under `cfg(test)`, where the test
/// harness brings `std` and its handler.
#[cfg(not(test))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    loop {
        core::hint::spin_loop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generic_inverse_gradient_is_the_closed_form() {
        let a = Matrix3::new(3.0, 0.5, 0.2, 0.1, 2.0, 0.3, 0.4, 0.2, 1.5);
        let v = Vector3::new(1.0, -0.5, 0.25);
        let (_, (ga, gv)) = generic_inverse_grad(&a, &v);
        let inv = a.try_inverse().unwrap();
        let (u, ones) = (inv * v, SVector::<f64, 3>::repeat(1.0));
        // ∂‖A⁻¹v‖² = −2A⁻ᵀu·uᵀ... with u = A⁻¹v: ∇A = −2A⁻ᵀu uᵀ, ∇v = 2A⁻ᵀu; and for 𝟙ᵀA⁻¹v:
        // ∇A = −A⁻ᵀ𝟙 (A⁻¹v)ᵀ, ∇v = A⁻ᵀ𝟙.
        let expected_a =
            -2.0 * inv.transpose() * u * u.transpose() - inv.transpose() * ones * u.transpose();
        let expected_v = 2.0 * inv.transpose() * u + inv.transpose() * ones;
        assert!((ga - expected_a).norm() < 1e-10);
        assert!((gv - expected_v).norm() < 1e-10);
    }

    #[test]
    fn ols_gradient_is_the_closed_form() {
        let x = SMatrix::<f64, 4, 3>::from_fn(|i, j| 1.0 / (1.0 + (i + 2 * j) as f64));
        let y = SVector::<f64, 4>::new(1.0, 2.0, 0.5, 3.0);
        let beta = SVector::<f64, 3>::new(0.1, 0.2, 0.3);
        let (value, (g_beta, g_x, g_y)) = ols_grad(&beta, &x, &y);
        let r = y - x * beta;
        assert!((value - r.norm_squared()).abs() < 1e-12);
        assert!((g_beta + 2.0 * x.transpose() * r).norm() < 1e-12);
        assert!((g_x + 2.0 * r * beta.transpose()).norm() < 1e-12);
        assert!((g_y - 2.0 * r).norm() < 1e-12);
    }

    #[test]
    fn logistic_layer_gradient_is_the_closed_form() {
        let w = SMatrix::<f64, 2, 3>::new(0.5, -1.0, 0.25, 1.5, 0.75, -0.5);
        let (x, y) = (Vector3::new(1.0, 2.0, -1.0), Vector2::new(0.2, 0.9));
        let (value, g_w) = logistic_layer_grad(&w, &x, &y);
        let s = (w * x).map(sigmoid);
        assert!((value - logistic_layer(&w, &x, &y)).abs() < 1e-12);
        let expected = (s - y).component_mul(&s.map(|v| v * (1.0 - v))) * x.transpose();
        assert!((g_w - expected).norm() < 1e-12);
    }

    #[test]
    fn scalar_gradients_are_the_closed_forms() {
        let a = Matrix2::new(0.3, -0.7, 1.1, 0.4);
        let p = 2.0;
        let (value, (g_a, g_p)) = scalar_maps_grad(&a, p);
        assert!((value - scalar_maps(&a, p)).abs() < 1e-12);
        let derivative = |v: f64| {
            let t = v.tanh();
            let s = sigmoid(v);
            v.exp()
                + (1.0 - t * t)
                + 2.0 * v / (v * v + 1.0)
                + v / (v * v + 2.0).sqrt()
                + v.signum()
                + (v.cos() * v.cos() - v.sin() * v.sin())
                + s * (1.0 - s)
                + s
                + 2.0 * v / (1.0 + v * v)
                + 3.0 * v * v
        };
        assert!((g_a - a.map(derivative)).norm() < 1e-12);
        assert!((g_p - (1.5 * p.sqrt() + 1.0)).abs() < 1e-12);
    }

    #[test]
    fn gaussian_nll_gradient_is_the_closed_form() {
        let sigma = Matrix3::new(2.0, 0.3, 0.1, 0.3, 1.5, -0.2, 0.1, -0.2, 1.0);
        let (x, mu) = (Vector3::new(0.5, -0.5, 1.0), Vector3::new(0.1, 0.2, 0.3));
        let (value, (g_sigma, g_x, g_mu)) = gaussian_nll_grad(&sigma, &x, &mu);
        assert!((value - gaussian_nll(&sigma, &x, &mu)).abs() < 1e-12);
        let inv = sigma.try_inverse().unwrap();
        let (r, inv_t) = (x - mu, inv.transpose());
        // ∇Σ = ½Σ⁻ᵀ − ½Σ⁻ᵀrrᵀΣ⁻ᵀ, ∇x = ½(Σ⁻¹ + Σ⁻ᵀ)r = −∇μ.
        let expected = 0.5 * inv_t - 0.5 * inv_t * r * r.transpose() * inv_t;
        assert!((g_sigma - expected).norm() < 1e-12);
        assert!((g_x - 0.5 * (inv + inv_t) * r).norm() < 1e-12);
        assert!((g_x + g_mu).norm() < 1e-12);
    }

    #[test]
    fn core_only_gradient_is_the_closed_form() {
        let a = Matrix2::new(0.3, -0.7, 1.1, 0.4);
        let x = Vector2::new(-0.5, 2.0);
        let (value, (g_a, g_x)) = core_only::l1_quadratic_grad(&a, &x);
        assert!((value - core_only::l1_quadratic(&a, &x)).abs() < 1e-12);
        assert!((g_a - (a.map(f64::signum) + x * x.transpose())).norm() < 1e-12);
        let expected = (a + a.transpose()) * x + Vector2::new(x[0].signum(), 0.0);
        assert!((g_x - expected).norm() < 1e-12);
    }

    #[test]
    fn generic_ols_gradient_is_the_closed_form() {
        let x = SMatrix::<f64, 4, 3>::from_fn(|i, j| 1.0 / (1.0 + (i + 2 * j) as f64));
        let y = SVector::<f64, 4>::new(1.0, 2.0, 0.5, 3.0);
        let beta = SVector::<f64, 3>::new(0.1, 0.2, 0.3);
        let (value, g_beta) = generic_ols_grad(&beta, &x, &y);
        assert!((value - generic_ols(&beta, &x, &y)).abs() < 1e-12);
        // ∇β = −xᵀ(y − xβ) + (1 − tanh²β).
        let expected = -x.transpose() * (y - x * beta) + beta.map(|v| 1.0 - v.tanh() * v.tanh());
        assert!((g_beta - expected).norm() < 1e-12);
    }

    #[test]
    fn clipped_gradient_is_the_closed_form() {
        let v = SVector::<f64, 4>::new(0.5, -2.0, 1.5, 0.1);
        let (value, (g_v, g_limit)) = clipped_grad(&v, 1.0);
        assert!((value - clipped(&v, 1.0)).abs() < 1e-12);
        let expected = SVector::<f64, 4>::new(1.0, (-2.0_f64).exp(), 1.5_f64.exp(), 0.2);
        assert!((g_v - expected).norm() < 1e-12);
        assert!((g_limit - ((-2.0_f64).exp() + 1.5_f64.exp())).abs() < 1e-12);
    }

    #[test]
    fn every_gradient_is_finite() {
        assert!(gradients().is_finite());
    }
}
