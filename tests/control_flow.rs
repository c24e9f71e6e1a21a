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

// ---- a variable one branch assigns and the other only reads ------------------------------------

/// `x` is assigned in the `then` branch and read by the `else` branch, which passes it through.
#[gradient]
#[allow(
    unused_variables,
    unused_assignments,
    reason = "`y` is written only to read `x`"
)]
fn pass_through(flag: bool, a: f64) -> f64 {
    let mut x = a * a;
    let mut y = a;
    if flag {
        x = a;
    } else {
        y = x;
    }
    x
}

/// As [`pass_through`], with the reading branch reading `x` twice and the result using both.
#[gradient]
fn pass_through_read_twice(flag: bool, a: f64) -> f64 {
    let mut x = a * a;
    let mut y = a;
    if flag {
        x = a;
    } else {
        y = x * x + x;
    }
    x + y
}

/// The reading branch holds a nested `if` that reads `x` on both sides.
#[gradient]
#[allow(
    clippy::collapsible_else_if,
    reason = "the nested `if` is the case under test"
)]
fn pass_through_nested(flag: bool, a: f64) -> f64 {
    let mut x = a * a;
    let mut y = a;
    if flag {
        x = a;
    } else {
        if a > 1.0 {
            y = x;
        } else {
            y = x * 3.0;
        }
    }
    x + y
}

/// A matrix assigned only in an `else if` and read by the first branch.
#[gradient]
#[allow(
    unused_variables,
    unused_assignments,
    reason = "`x6` is written only to read `x4`"
)]
fn pass_through_else_if(c: f64, flag: bool, e: &SMatrix<f64, 2, 2>) -> f64 {
    let mut x4 = e * 2.0;
    let mut x6 = e * 1.0;
    if c > 0.0 {
        x6 -= x4 * c;
    } else if flag {
        x4 = e * 3.0;
    }
    x4.sum()
}

/// As [`pass_through_else_if`], with the result reading both matrices.
#[gradient]
fn pass_through_else_if_both(c: f64, flag: bool, e: &SMatrix<f64, 2, 2>) -> f64 {
    let mut x4 = e * 2.0;
    let mut x6 = e * 1.0;
    if c > 0.0 {
        x6 -= x4 * c;
    } else if flag {
        x4 = e * 3.0;
    }
    x4.sum() + x6.sum()
}

/// The reading branch reads `x` in a loop whose `let` shadows it, and again after the loop.
#[gradient]
fn pass_through_loop(flag: bool, a: f64) -> f64 {
    let mut x = a * a;
    let mut y = a;
    if flag {
        x = a;
    } else {
        for _ in 0..2 {
            let x = y * 2.0;
            y += x;
        }
        y += x;
    }
    x + y
}

/// The reading branch reads `x` in a `map` closure and outside it.
#[gradient]
fn pass_through_closure(flag: bool, a: f64, m: &SMatrix<f64, 2, 2>) -> f64 {
    let mut x = a * a;
    let mut y = a;
    if flag {
        x = a;
    } else {
        y = m.map(|v| v * x).sum() + x;
    }
    x + y
}

#[test]
fn a_variable_read_by_the_other_branch_keeps_its_gradient() {
    for a in [0.5, 1.5, -0.75] {
        for flag in [false, true] {
            let same = common::assert_same_value;
            same(
                pass_through_grad(flag, a).0,
                pass_through(flag, a),
                "pass_through",
            );
            let f = pass_through_read_twice;
            same(
                pass_through_read_twice_grad(flag, a).0,
                f(flag, a),
                "read_twice",
            );
            same(
                pass_through_nested_grad(flag, a).0,
                pass_through_nested(flag, a),
                "nested",
            );
            same(
                pass_through_loop_grad(flag, a).0,
                pass_through_loop(flag, a),
                "loop",
            );
        }
        // f = a where the branch assigns, a² where it passes x through.
        assert_eq!(pass_through_grad(true, a), (a, 1.0));
        assert_eq!(pass_through_grad(false, a), (a * a, 2.0 * a));
        // x + y = 2a, or a² + (a⁴ + a²).
        assert_eq!(pass_through_read_twice_grad(true, a), (2.0 * a, 2.0));
        let (value, grad) = pass_through_read_twice_grad(false, a);
        assert!((value - (a.powi(4) + 2.0 * a * a)).abs() < 1e-12, "{value}");
        assert!((grad - (4.0 * a.powi(3) + 4.0 * a)).abs() < 1e-12, "{grad}");
        // x + y = 2a, or a² + a² (a > 1), or a² + 3a².
        assert_eq!(pass_through_nested_grad(true, a), (2.0 * a, 2.0));
        let k = if a > 1.0 { 2.0 } else { 4.0 };
        let (value, grad) = pass_through_nested_grad(false, a);
        assert!((value - k * a * a).abs() < 1e-12, "{value}");
        assert!((grad - 2.0 * k * a).abs() < 1e-12, "{grad}");
        // x + y = 2a, or a² + (9a + a²): each pass of the loop triples y.
        assert_eq!(pass_through_loop_grad(true, a), (2.0 * a, 2.0));
        let (value, grad) = pass_through_loop_grad(false, a);
        assert!((value - (9.0 * a + 2.0 * a * a)).abs() < 1e-12, "{value}");
        assert!((grad - (9.0 + 4.0 * a)).abs() < 1e-12, "{grad}");
    }
}

#[test]
fn a_variable_read_by_the_other_branch_keeps_its_gradient_in_a_closure() {
    let m = SMatrix::<f64, 2, 2>::new(1.0, -2.0, 0.5, 3.0);
    let s = m.sum();
    for a in [0.5, -1.25] {
        for flag in [false, true] {
            let value = pass_through_closure_grad(flag, a, &m).0;
            common::assert_same_value(value, pass_through_closure(flag, a, &m), "closure");
        }
        let (value, (ga, gm)) = pass_through_closure_grad(true, a, &m);
        assert_eq!(value, 2.0 * a);
        assert_eq!(ga, 2.0);
        assert_eq!(gm, SMatrix::<f64, 2, 2>::zeros());
        // x + y = a² + a²·Σm + a².
        let (value, (ga, gm)) = pass_through_closure_grad(false, a, &m);
        assert!((value - a * a * (2.0 + s)).abs() < 1e-12, "{value}");
        assert!((ga - 2.0 * a * (2.0 + s)).abs() < 1e-12, "{ga}");
        assert_close(&gm, &SMatrix::<f64, 2, 2>::repeat(a * a), 1e-12);
    }
}

#[test]
fn a_matrix_assigned_in_an_else_if_keeps_its_gradient() {
    let e = SMatrix::<f64, 2, 2>::new(1.0, 2.0, 3.0, 4.0);
    let ones = SMatrix::<f64, 2, 2>::repeat(1.0);
    for (c, flag) in [(0.5, false), (0.5, true), (-0.5, false), (-0.5, true)] {
        let value = pass_through_else_if_grad(c, flag, &e).0;
        common::assert_same_value(value, pass_through_else_if(c, flag, &e), "else_if");
        let value = pass_through_else_if_both_grad(c, flag, &e).0;
        common::assert_same_value(value, pass_through_else_if_both(c, flag, &e), "both");
    }
    for flag in [false, true] {
        // c > 0: Σ2e, whatever the flag.
        let (value, (gc, ge)) = pass_through_else_if_grad(0.5, flag, &e);
        assert_eq!(value, 2.0 * e.sum());
        assert_eq!(gc, 0.0);
        assert_close(&ge, &(ones * 2.0), 1e-12);
        // c ≤ 0: Σ3e with the flag, Σ2e without.
        let k = if flag { 3.0 } else { 2.0 };
        let (value, (gc, ge)) = pass_through_else_if_grad(-0.5, flag, &e);
        assert_eq!(value, k * e.sum());
        assert_eq!(gc, 0.0);
        assert_close(&ge, &(ones * k), 1e-12);
    }
    for flag in [false, true] {
        // c > 0: Σ2e + Σ(e − 2ce), so ∇e = 3 − 2c and ∂c = −2Σe.
        let c = 0.5;
        let (value, (gc, ge)) = pass_through_else_if_both_grad(c, flag, &e);
        assert!((value - (3.0 - 2.0 * c) * e.sum()).abs() < 1e-12, "{value}");
        assert!((gc + 2.0 * e.sum()).abs() < 1e-12, "{gc}");
        assert_close(&ge, &(ones * (3.0 - 2.0 * c)), 1e-12);
        // c ≤ 0: Σ3e + Σe with the flag, Σ2e + Σe without.
        let k = if flag { 4.0 } else { 3.0 };
        let (value, (gc, ge)) = pass_through_else_if_both_grad(-0.5, flag, &e);
        assert_eq!(value, k * e.sum());
        assert_eq!(gc, 0.0);
        assert_close(&ge, &(ones * k), 1e-12);
    }
}

// ---- block statements ----------------------------------------------------------------------------

/// Block statements: their `let`s end with them, their assignments to outer variables outlast
/// them, in the body, nested, and inside a branch.
#[gradient]
fn block_scopes(a: f64, b: f64) -> f64 {
    let x = a * b;
    let mut y = a;
    {
        // Shadows the outer `x` until the block ends.
        let x = b * b;
        y += x;
        {
            y *= x;
        }
    }
    if a > 0.0 {
        {
            y += x;
        }
    }
    x + y
}

/// A block statement updating a matrix-dependent accumulator.
#[gradient]
fn block_accumulates(a: f64, v: &SVector<f64, 3>) -> f64 {
    let mut x = a;
    {
        let t = v.sum();
        x += a * a * t;
    }
    x * 2.0
}

#[test]
fn block_statements_scope_their_lets_and_keep_their_assignments() {
    for (a, b) in [(0.5, 1.5), (-0.75, 0.25), (1.25, -2.0)] {
        let (value, (ga, gb)) = block_scopes_grad(a, b);
        common::assert_same_value(value, block_scopes(a, b), "block_scopes_grad");
        // ab + (a + b²)·b², plus ab again where a > 0.
        let k = if a > 0.0 { 2.0 } else { 1.0 };
        let expected = k * a * b + a * b * b + b.powi(4);
        assert!((value - expected).abs() < 1e-12, "{value} vs {expected}");
        assert!((ga - (k * b + b * b)).abs() < 1e-12, "{ga}");
        let expected = k * a + 2.0 * a * b + 4.0 * b.powi(3);
        assert!((gb - expected).abs() < 1e-12, "{gb} vs {expected}");
    }
    let v = SVector::<f64, 3>::new(1.0, -0.5, 2.0);
    let s = v.sum();
    for a in [0.5, -1.5] {
        let (value, (ga, gv)) = block_accumulates_grad(a, &v);
        common::assert_same_value(value, block_accumulates(a, &v), "block_accumulates_grad");
        // 2(a + a²Σv).
        assert!((ga - 2.0 * (1.0 + 2.0 * a * s)).abs() < 1e-12, "{ga}");
        assert_close(&gv, &SVector::<f64, 3>::repeat(2.0 * a * a), 1e-12);
    }
}

// ---- index arithmetic on loop counters -------------------------------------------------------

/// A first-difference penalty Σ (v[i+1] − v[i])².
#[gradient]
fn first_differences(v: &SVector<f64, 5>) -> f64 {
    let mut total = 0.0;
    for i in 0..4 {
        let d = v[i + 1] - v[i];
        total += d * d;
    }
    total
}

/// The sub-diagonal sum, plus each sub-diagonal entry times the super-diagonal one across.
#[gradient]
fn subdiagonal(m: &SMatrix<f64, 4, 4>) -> f64 {
    let mut total = 0.0;
    for k in 1..4 {
        total += m[(k, k - 1)] + m[(k, k - 1)] * m[(k - 1, k)];
    }
    total
}

/// Rows picked by products and parenthesised sums of the counter.
#[gradient]
fn strided(m: &SMatrix<f64, 6, 3>) -> f64 {
    let mut total = 0.0;
    for i in 0..3 {
        total += m[(2 * i, i)] * m[(2 * i, i)] + m[((i + 1) * 2 - 1, i)];
    }
    total
}

#[test]
fn index_arithmetic_first_differences() {
    let v = SVector::<f64, 5>::new(1.0, -2.0, 0.5, 3.0, -1.5);
    let (value, grad) = first_differences_grad(&v);
    common::assert_same_value(value, first_differences(&v), "first_differences_grad");
    let d = |i: usize| v[i + 1] - v[i];
    let expected_value: f64 = (0..4).map(|i| d(i) * d(i)).sum();
    assert!((value - expected_value).abs() < 1e-12, "{value}");
    // ∂/∂v[j] = 2(v[j] − v[j−1]) − 2(v[j+1] − v[j]), each term where it exists.
    let expected = SVector::<f64, 5>::from_fn(|j, _| {
        let left = if j >= 1 { 2.0 * d(j - 1) } else { 0.0 };
        let right = if j <= 3 { 2.0 * d(j) } else { 0.0 };
        left - right
    });
    assert_close(&grad, &expected, 1e-12);
}

#[test]
fn index_arithmetic_subdiagonal() {
    let m = SMatrix::<f64, 4, 4>::from_fn(|i, j| (i as f64) - 0.5 * (j as f64) + 0.25);
    let (value, grad) = subdiagonal_grad(&m);
    common::assert_same_value(value, subdiagonal(&m), "subdiagonal_grad");
    let expected = SMatrix::<f64, 4, 4>::from_fn(|i, j| {
        if i == j + 1 {
            1.0 + m[(j, i)]
        } else if j == i + 1 {
            m[(j, i)]
        } else {
            0.0
        }
    });
    assert_close(&grad, &expected, 1e-12);
}

#[test]
fn index_arithmetic_strided() {
    let m = SMatrix::<f64, 6, 3>::from_fn(|i, j| 0.5 * (i as f64) - (j as f64) + 0.125);
    let (value, grad) = strided_grad(&m);
    common::assert_same_value(value, strided(&m), "strided_grad");
    // 2m at (2i, i), 1 at (2i + 1, i).
    let expected = SMatrix::<f64, 6, 3>::from_fn(|r, c| {
        if r == 2 * c {
            2.0 * m[(r, c)]
        } else if r == 2 * c + 1 {
            1.0
        } else {
            0.0
        }
    });
    assert_close(&grad, &expected, 1e-12);
}

/// A function of the loop counter alone is a constant of each iteration.
#[gradient]
fn counter_weights(x: &SVector<f64, 3>) -> f64 {
    let mut s = 0.0;
    for i in 0..3 {
        s += x[i] * (i as f64 + 0.5).sin() + (i as f64 + 1.0).ln();
    }
    s
}

#[test]
fn calls_of_loop_counters_are_constants_of_each_iteration() {
    let x = SVector::<f64, 3>::new(0.3, -0.2, 0.9);
    let (value, grad) = counter_weights_grad(&x);
    common::assert_same_value(value, counter_weights(&x), "counter_weights_grad");
    let expected = SVector::<f64, 3>::from_fn(|i, _| (i as f64 + 0.5).sin());
    assert_close(&grad, &expected, 1e-15);
}
