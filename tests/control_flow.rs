//! `if`/`else` on conditions that need no derivative, and `for` loops over literal ranges,
//! against central differences and closed forms.

// The branch not taken gives exactly zero, which is compared exactly.
#![allow(clippy::float_cmp)]

#[macro_use]
mod common;

use common::{Rng, SEEDS, TOL, assert_close};
use matgrad::gradient;
use matgrad::nalgebra::{SMatrix, SVector};

/// The Huber loss of one residual: quadratic near zero, linear beyond `delta`.
#[gradient(wrt(r))]
fn huber(r: f64, delta: f64) -> f64 {
    let a = r.abs();
    if a <= delta {
        0.5 * r * r
    } else {
        delta * (a - 0.5 * delta)
    }
}

/// A hinge loss max(0, 1 − y·wᵀx) written with `if` as a statement assigning a variable.
#[gradient(wrt(w))]
fn hinge(w: &SVector<f64, 4>, x: &SVector<f64, 4>, y: f64) -> f64 {
    let margin = y * w.dot(x);
    let mut loss = 0.0;
    if margin < 1.0 {
        loss = 1.0 - margin;
    }
    loss
}

/// Branches that assign several variables, one of them in only one branch, with `else if`.
#[gradient]
fn piecewise(a: &SMatrix<f64, 2, 3>, s: f64) -> f64 {
    let t = a.sum();
    let mut u = a * 2.0;
    let mut v = s;
    if t > 1.0 {
        u = a.map(|e| e * e);
        v = s * t;
    } else if t < -1.0 {
        v = s.exp();
    } else {
        u *= s;
    }
    u.norm_squared() + v
}

/// A fixed number of steps of a recurrence, unrolled.
#[gradient(wrt(w, h0))]
fn recurrent(w: &SMatrix<f64, 3, 3>, h0: &SVector<f64, 3>, x: &SVector<f64, 3>) -> f64 {
    let mut h = *h0;
    for _ in 0..4 {
        h = (w * h + x).map(f64::tanh);
    }
    h.sum()
}

/// A loop counter as an index and as a number.
#[gradient]
fn weighted_entries(v: &SVector<f64, 5>) -> f64 {
    let mut total = 0.0;
    for i in 0..5 {
        let w = (i as f64) + 1.0;
        total += w * v[i] * v[i];
    }
    total
}

/// A branch inside a loop, on a condition computed in the loop.
#[gradient]
fn clipped_sum(v: &SVector<f64, 4>, limit: f64) -> f64 {
    let mut total = 0.0;
    for i in 0..4 {
        let x = v[i];
        if x > limit {
            total += limit;
        } else {
            total += x * x;
        }
    }
    total
}

/// A branch whose untaken side would fail: the inverse exists only when the condition holds.
#[gradient]
fn guarded_inverse(a: &SMatrix<f64, 2, 2>) -> f64 {
    let d = a.determinant();
    if d.abs() > 1e-12 {
        a.try_inverse().unwrap().sum()
    } else {
        0.0
    }
}

#[test]
fn huber_on_both_sides() {
    for r in [-3.0, -0.4, 0.2, 0.9, 2.5] {
        let (value, grad) = huber_grad(r, 1.0);
        common::assert_same_value(value, huber(r, 1.0), "huber_grad");
        // Closed form: r inside the band, δ·sign(r) outside.
        let expected = if r.abs() <= 1.0 {
            r
        } else {
            1.0_f64.copysign(r)
        };
        assert!(
            (grad - expected).abs() < 1e-12,
            "r = {r}: {grad} vs {expected}"
        );
    }
}

#[test]
fn hinge_active_and_inactive() {
    let w = SVector::<f64, 4>::new(0.5, -0.25, 0.1, 0.3);
    for (x, y) in [
        (SVector::<f64, 4>::new(1.0, 0.0, 2.0, -1.0), 1.0),
        (SVector::<f64, 4>::new(4.0, -3.0, 1.0, 2.0), 1.0),
    ] {
        let (value, grad) = hinge_grad(&w, &x, y);
        common::assert_same_value(value, hinge(&w, &x, y), "hinge_grad");
        let expected = if y * w.dot(&x) < 1.0 {
            -y * x
        } else {
            SVector::zeros()
        };
        assert_close(&grad, &expected, 1e-12);
    }
}

#[test]
fn piecewise_in_every_branch() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let base: SMatrix<f64, 2, 3> = rng.matrix();
        let s = 0.7;
        // Shift the sum into each of the three branches.
        for shift in [1.0, -1.0, 0.0] {
            let a = base.add_scalar(shift - base.sum() / 6.0 + 0.3 * shift);
            assert_gradient!(TOL, piecewise, piecewise_grad, (a, s) => (&a, s));
        }
    }
}

#[test]
fn recurrence_matches_finite_differences() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (w, h0, x): (SMatrix<f64, 3, 3>, _, _) =
            (rng.matrix() * 0.5, rng.vector(), rng.vector());
        assert_gradient!(TOL, recurrent, recurrent_grad, (w, h0) => (&w, &h0, &x));
    }
}

#[test]
fn loop_counter_indexes_and_weights() {
    let v = SVector::<f64, 5>::new(1.0, -2.0, 0.5, 3.0, -1.5);
    let (value, grad) = weighted_entries_grad(&v);
    common::assert_same_value(value, weighted_entries(&v), "weighted_entries_grad");
    let expected = SVector::<f64, 5>::from_fn(|i, _| 2.0 * (i as f64 + 1.0) * v[i]);
    assert_close(&grad, &expected, 1e-12);
}

#[test]
fn branch_in_a_loop() {
    let v = SVector::<f64, 4>::new(0.5, 2.0, -1.0, 1.5);
    let (value, (gv, gl)) = clipped_sum_grad(&v, 1.2);
    common::assert_same_value(value, clipped_sum(&v, 1.2), "clipped_sum_grad");
    assert_close(&gv, &SVector::<f64, 4>::new(1.0, 0.0, -2.0, 0.0), 1e-12);
    assert!((gl - 2.0).abs() < 1e-12, "{gl}");
}

#[test]
fn the_untaken_branch_is_not_run() {
    let singular = SMatrix::<f64, 2, 2>::new(1.0, 2.0, 2.0, 4.0);
    let (value, grad) = guarded_inverse_grad(&singular);
    assert_eq!(value, 0.0);
    assert_eq!(grad, SMatrix::<f64, 2, 2>::zeros());
    let a = SMatrix::<f64, 2, 2>::new(2.0, 1.0, 0.5, 3.0);
    assert_gradient!(TOL, guarded_inverse, guarded_inverse_grad, a => (&a));
}
