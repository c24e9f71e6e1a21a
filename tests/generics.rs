//! Generic functions: const generic sizes and a generic scalar type, compiled for several
//! instantiations and checked against central differences and closed forms.

#[macro_use]
mod common;

use common::{Rng, SEEDS, TOL, assert_close};
use matgrad::gradient;
use matgrad::nalgebra::{Const, DimMin, RealField, SMatrix, SVector, convert};

/// Least squares for any sizes.
#[gradient(wrt(beta))]
fn ols<const N: usize, const K: usize>(
    beta: &SVector<f64, K>,
    x: &SMatrix<f64, N, K>,
    y: &SVector<f64, N>,
) -> f64 {
    let r = y - x * beta;
    r.norm_squared()
}

/// A quadratic form and a trace over a generic scalar type.
#[gradient]
fn quadratic<T: RealField + Copy>(a: &SMatrix<T, 3, 3>, x: &SVector<T, 3>) -> T {
    let half: T = convert(0.5);
    x.dot(&(a * x)) * half + a.trace()
}

/// Both at once, with a map and a scalar function.
#[gradient(wrt(w))]
#[allow(
    clippy::redundant_closure_for_method_calls,
    reason = "a closure over the generic scalar is what is tested"
)]
fn layer<T: RealField + Copy, const M: usize, const N: usize>(
    w: &SMatrix<T, M, N>,
    x: &SVector<T, N>,
) -> T {
    (w * x).map(|v| v.tanh()).norm_squared()
}

/// An inverse alone needs no bound, in the function or in its gradient.
#[gradient]
fn inverse_sum<const N: usize>(a: &SMatrix<f64, N, N>) -> f64 {
    a.try_inverse().unwrap().sum()
}

/// A determinant of a generic size needs the bound nalgebra asks for.
#[gradient]
fn log_det<const N: usize>(a: &SMatrix<f64, N, N>) -> f64
where
    Const<N>: DimMin<Const<N>, Output = Const<N>>,
{
    a.determinant().ln() + a.try_inverse().unwrap().sum()
}

/// A fixed-size solve, determinant and power inside a function generic over a size whose
/// `DimMin` bound rustc would otherwise apply to the fixed sizes too.
#[gradient]
fn fixed_solve_in_a_generic_function<const N: usize>(
    x: &SVector<f64, N>,
    a: &SMatrix<f64, 3, 3>,
    b: &SVector<f64, 3>,
) -> f64
where
    Const<N>: DimMin<Const<N>, Output = Const<N>>,
{
    a.lu().solve(b).unwrap().sum() * x.sum() + a.determinant() + a.pow(2).trace()
}

#[test]
fn fixed_solve_in_a_generic_function_matches_the_closed_form() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (x, a, b): (SVector<f64, 4>, SMatrix<f64, 3, 3>, SVector<f64, 3>) =
            (rng.vector(), rng.well_conditioned(), rng.vector());
        let (value, (gx, ga, gb)) = fixed_solve_in_a_generic_function_grad(&x, &a, &b);
        common::assert_same_value(
            value,
            fixed_solve_in_a_generic_function(&x, &a, &b),
            "value",
        );
        // f = 𝟙ᵀA⁻¹b·Σx + det A + tr A²: ∇x = (𝟙ᵀA⁻¹b)·𝟙, ∇b = Σx·A⁻ᵀ𝟙,
        // ∇A = −Σx·A⁻ᵀ𝟙·(A⁻¹b)ᵀ + det A·A⁻ᵀ + 2Aᵀ.
        let inv = a.try_inverse().unwrap();
        let (z, ones, sx) = (inv * b, SVector::<f64, 3>::repeat(1.0), x.sum());
        let w = inv.transpose() * ones;
        assert_close(&gx, &SVector::<f64, 4>::repeat(z.sum()), 1e-11);
        assert_close(&gb, &(w * sx), 1e-11);
        let expected =
            -sx * w * z.transpose() + a.determinant() * inv.transpose() + 2.0 * a.transpose();
        assert_close(&ga, &expected, 1e-11);
    }
}

/// A const generic size read as a number: the mean by hand.
#[gradient]
fn mean_of<const N: usize>(x: &SVector<f64, N>) -> f64 {
    x.sum() / (N as f64) + x[0] * (N as f64)
}

#[test]
fn a_const_generic_size_cast_to_a_float_is_a_number() {
    let x = SVector::<f64, 4>::new(1.0, -2.0, 0.5, 3.0);
    let (value, grad) = mean_of_grad(&x);
    common::assert_same_value(value, mean_of(&x), "mean_of_grad");
    // ∇ = 𝟙/N + N·e₀.
    let expected = SVector::<f64, 4>::new(0.25 + 4.0, 0.25, 0.25, 0.25);
    assert_close(&grad, &expected, 1e-15);
}

#[test]
fn ols_at_two_sizes_matches_the_closed_form() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (beta, x, y): (SVector<f64, 3>, SMatrix<f64, 7, 3>, SVector<f64, 7>) =
            (rng.vector(), rng.matrix(), rng.vector());
        let (value, grad) = ols_grad(&beta, &x, &y);
        common::assert_same_value(value, ols(&beta, &x, &y), "ols_grad");
        assert_close(&grad, &(-2.0 * x.transpose() * (y - x * beta)), 1e-12);
        let (beta, x, y): (SVector<f64, 2>, SMatrix<f64, 4, 2>, SVector<f64, 4>) =
            (rng.vector(), rng.matrix(), rng.vector());
        let (_, grad) = ols_grad(&beta, &x, &y);
        assert_close(&grad, &(-2.0 * x.transpose() * (y - x * beta)), 1e-12);
    }
}

#[test]
fn generic_scalar_in_f64_and_f32() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (a, x): (SMatrix<f64, 3, 3>, SVector<f64, 3>) = (rng.matrix(), rng.vector());
        let (value, (ga, gx)) = quadratic_grad(&a, &x);
        common::assert_same_value(value, quadratic(&a, &x), "quadratic_grad");
        assert_close(&gx, &(0.5 * (a + a.transpose()) * x), 1e-12);
        assert_close(
            &ga,
            &(0.5 * x * x.transpose() + SMatrix::<f64, 3, 3>::identity()),
            1e-12,
        );
        let (a32, x32) = (a.cast::<f32>(), x.cast::<f32>());
        let (_, (_, gx32)) = quadratic_grad(&a32, &x32);
        let expected = (0.5 * (a + a.transpose()) * x).cast::<f32>();
        assert!((gx32 - expected).norm() < 1e-5, "{gx32} vs {expected}");
    }
}

#[test]
fn generic_sizes_and_scalar_match_finite_differences() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (w, x): (SMatrix<f64, 4, 3>, SVector<f64, 3>) = (rng.matrix(), rng.vector());
        assert_gradient!(TOL, layer, layer_grad, w => (&w, &x));
        let (w, x): (SMatrix<f64, 2, 5>, SVector<f64, 5>) = (rng.matrix(), rng.vector());
        assert_gradient!(TOL, layer, layer_grad, w => (&w, &x));
    }
}

#[test]
fn determinant_and_inverse_of_a_generic_size() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let a: SMatrix<f64, 3, 3> = rng.well_conditioned();
        let a = if a.determinant() < 0.0 { -a } else { a };
        assert_gradient!(TOL, log_det, log_det_grad, a => (&a));
        let b: SMatrix<f64, 5, 5> = rng.well_conditioned();
        let b = if b.determinant() < 0.0 { -b } else { b };
        let (_, g) = log_det_grad(&b);
        let inv = b.try_inverse().unwrap();
        let ones = SMatrix::<f64, 5, 5>::repeat(1.0);
        // ∂ ln det B = B⁻ᵀ and ∂ Σ B⁻¹ = −B⁻ᵀ·𝟙·B⁻ᵀ.
        assert_close(
            &g,
            &(inv.transpose() - inv.transpose() * ones * inv.transpose()),
            1e-10,
        );
    }
}

#[test]
fn an_inverse_of_a_generic_size_without_a_bound() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let b: SMatrix<f64, 5, 5> = rng.well_conditioned();
        let (value, g) = inverse_sum_grad(&b);
        let inv = b.try_inverse().unwrap();
        assert!((value - inverse_sum(&b)).abs() <= 1e-12 * value.abs().max(1.0));
        // ∂ Σ B⁻¹ = −B⁻ᵀ·𝟙·B⁻ᵀ.
        let ones = SMatrix::<f64, 5, 5>::repeat(1.0);
        assert_close(&g, &(-(inv.transpose() * ones * inv.transpose())), 1e-10);
    }
}
