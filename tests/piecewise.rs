//! Piecewise scalar functions: `max`, `min`, `clamp` (methods and `f64::max`/`f64::min`),
//! against their closed forms on both sides of every kink. At a tie, the derivative follows the
//! first argument (`a.max(b)` with a = b differentiates as `a`). And a matrix reduced to one of
//! its entries, `m.max()`, `m.min()`, `m.amax()`, `m.amin()`: the derivative is that entry's
//! (times its sign for a magnitude), the first in column-major order at a tie.

#![allow(
    clippy::float_cmp,
    reason = "values and piecewise-constant derivatives are compared exactly"
)]

mod common;

use common::{Rng, SEEDS, assert_close};
use matgrad::nalgebra::{Matrix2, Matrix2x3, RealField, SMatrix, SVector, Vector3};
use matgrad::{gradient, hessian};

/// A hinge loss, a capped norm and a clamped entry.
#[gradient]
fn hinge(w: &SVector<f64, 3>, x: &SVector<f64, 3>, y: f64) -> f64 {
    let margin = 1.0 - y * w.dot(x);
    margin.max(0.0) + f64::min(w.norm(), 2.0) * 0.1 + w[0].clamp(-0.5, 0.5)
}

#[test]
fn hinge_capped_norm_and_clamp_match_their_closed_forms() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (w, x): (SVector<f64, 3>, SVector<f64, 3>) = (rng.vector(), rng.vector());
        for y in [1.0, -1.0, 3.0] {
            let (value, (gw, gx, gy)) = hinge_grad(&w, &x, y);
            assert_eq!(value, hinge(&w, &x, y));
            let active = 1.0 - y * w.dot(&x) > 0.0;
            let on = if active { 1.0 } else { 0.0 };
            let capped = if w.norm() < 2.0 { 0.1 / w.norm() } else { 0.0 };
            let clamp = if w[0].abs() < 0.5 { 1.0 } else { 0.0 };
            let expected_w = -on * y * x + capped * w + SVector::<f64, 3>::new(clamp, 0.0, 0.0);
            assert_close(&gw, &expected_w, 1e-14);
            assert_close(&gx, &(-on * y * w), 1e-14);
            assert!((gy - -on * w.dot(&x)).abs() < 1e-14);
        }
    }
}

/// A rectifier over a generic scalar, through a `map`.
#[gradient]
#[allow(
    clippy::redundant_closure_for_method_calls,
    reason = "a closure over the generic scalar is what is tested"
)]
fn relu_sum<T: RealField + Copy>(v: &Vector3<T>) -> T {
    v.map(|a| a.max(T::zero())).sum()
}

#[test]
fn relu_passes_the_gradient_where_it_is_positive() {
    let v = Vector3::new(1.5, -2.0, 0.25);
    let (value, g) = relu_sum_grad(&v);
    assert_eq!(value, relu_sum(&v));
    assert_eq!(g, Vector3::new(1.0, 0.0, 1.0));
    let (_, g32) = relu_sum_grad(&v.cast::<f32>());
    assert_eq!(g32, Vector3::new(1.0f32, 0.0, 1.0));
}

/// `min` of two values that both depend on the parameters, and a tie.
#[gradient]
fn smaller(a: f64, b: f64) -> f64 {
    (a * a).min(b * 3.0) + a.max(b)
}

#[test]
fn min_and_max_follow_the_argument_they_take_and_the_first_at_a_tie() {
    // a² < 3b: the min is a² (∂a = 2a); a < b: the max is b.
    let (value, (ga, gb)) = smaller_grad(0.5, 1.0);
    assert_eq!(value, smaller(0.5, 1.0));
    assert_eq!((ga, gb), (1.0, 1.0));
    // a² > 3b and a > b.
    let (_, (ga, gb)) = smaller_grad(2.0, 0.5);
    assert_eq!((ga, gb), (1.0, 3.0));
    // A tie: max(1, 1) differentiates as its first argument.
    let (_, (ga, gb)) = smaller_grad(1.0, 1.0);
    assert_eq!((ga, gb), (2.0 + 1.0, 0.0));
}

/// f = max(W·x) + amin(W)² − min(W) + 2·amax(W): each term's gradient is one entry.
#[hessian(wrt(w))]
fn extremes(w: &Matrix2x3<f64>, x: &Vector3<f64>) -> f64 {
    (w * x).max() + w.amin().powi(2) - w.min() + 2.0 * w.amax()
}

/// The column-major index of the entry `pick` prefers, the first at a tie.
fn first_best(m: &[f64], better: impl Fn(f64, f64) -> bool) -> usize {
    let mut k = 0;
    for i in 1..m.len() {
        if better(m[i], m[k]) {
            k = i;
        }
    }
    k
}

#[test]
fn a_matrix_reduced_to_an_entry_differentiates_as_that_entry() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (w, x): (Matrix2x3<f64>, Vector3<f64>) = (rng.matrix(), rng.vector());
        let (value, grad, h) = extremes_hessian(&w, &x);
        assert_eq!(value, extremes(&w, &x));
        let z = w * x;
        let row = first_best(z.as_slice(), |a, b| a > b);
        let entries = w.as_slice();
        let lo = first_best(entries, |a, b| a < b);
        let small = first_best(entries, |a, b| a.abs() < b.abs());
        let big = first_best(entries, |a, b| a.abs() > b.abs());
        let mut expected = Matrix2x3::zeros();
        // ∂ max(Wx)/∂W = e_row·xᵀ.
        for j in 0..3 {
            expected[(row, j)] += x[j];
        }
        expected[small] += 2.0 * entries[small];
        expected[lo] -= 1.0;
        expected[big] += 2.0 * entries[big].signum();
        assert_close(&grad, &expected, 1e-15);
        // Only amin(W)² curves: H = 2 at its entry.
        let mut hessian = SMatrix::<f64, 6, 6>::zeros();
        hessian[(small, small)] = 2.0;
        assert_eq!(h, hessian);
    }
}

#[gradient]
fn largest_magnitude(m: &Matrix2<f64>) -> f64 {
    m.amax()
}

#[test]
fn at_a_tie_the_first_entry_in_column_major_order_takes_the_derivative() {
    // |−3| = |3|: entry (1, 0) comes first in column-major order.
    let m = Matrix2::new(1.0, 3.0, -3.0, 2.0);
    let (value, g) = largest_magnitude_grad(&m);
    assert_eq!(value, largest_magnitude(&m));
    assert_eq!(value, 3.0);
    assert_eq!(g, Matrix2::new(0.0, 0.0, -1.0, 0.0));
}
