//! Piecewise scalar functions: `max`, `min`, `clamp` (methods and `f64::max`/`f64::min`),
//! against their closed forms on both sides of every kink. At a tie, the derivative follows the
//! first argument (`a.max(b)` with a = b differentiates as `a`).

#![allow(
    clippy::float_cmp,
    reason = "values and piecewise-constant derivatives are compared exactly"
)]

mod common;

use common::{Rng, SEEDS, assert_close};
use matgrad::gradient;
use matgrad::nalgebra::{RealField, SVector, Vector3};

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
