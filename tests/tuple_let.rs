//! Tuple bindings: `let (a, b) = (x, y);` (every value on the right is computed before any name
//! is bound, as in Rust), `_` elements, tuple type annotations, and `x.sin_cos()`; each gradient
//! against its closed form.

#![allow(
    clippy::float_cmp,
    reason = "the companion's value is the function's own value, exactly"
)]

mod common;

use common::{Rng, SEEDS, assert_close, assert_close_scalar};
use matgrad::gradient;
use matgrad::nalgebra::{Matrix2, Vector2};

/// A point rotated by `theta`, scored by a quadratic in its coordinates.
#[gradient]
fn rotated(theta: f64, p: &Vector2<f64>) -> f64 {
    let (s, c) = theta.sin_cos();
    let x = c * p[0] - s * p[1];
    let y = s * p[0] + c * p[1];
    0.5 * x * x + 3.0 * y
}

#[test]
fn sin_cos_gives_the_gradient_of_a_rotation() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (theta, p) = (rng.scalar(), rng.vector::<2>());
        let (value, (g_theta, g_p)) = rotated_grad(theta, &p);
        assert_eq!(value, rotated(theta, &p));
        let (s, c) = theta.sin_cos();
        let x = c * p[0] - s * p[1];
        let y = s * p[0] + c * p[1];
        // dx/dθ = -y and dy/dθ = x.
        assert_close_scalar(g_theta, x * -y + 3.0 * x, 1e-12);
        let expected = Vector2::new(x * c + 3.0 * s, -x * s + 3.0 * c);
        assert_close(&g_p, &expected, 1e-12);
    }
}

/// A swap: `b` is bound to the old `a`, not to the new one.
#[gradient]
fn swapped(a: f64, b: f64) -> f64 {
    let (a, b) = (b, a);
    a * a * a + 2.0 * b
}

#[test]
fn a_tuple_let_computes_every_value_before_binding() {
    for (a, b) in [(0.5, -1.25), (2.0, 3.0), (-0.75, 0.1)] {
        let (value, (ga, gb)) = swapped_grad(a, b);
        assert_eq!(value, swapped(a, b));
        assert_close_scalar(ga, 2.0, 1e-15);
        assert_close_scalar(gb, 3.0 * b * b, 1e-15);
    }
}

/// A recurrence stepped through a loop with a tuple `let`, a typed tuple and an ignored element.
#[gradient]
fn recurrence(t: f64, m: &Matrix2<f64>) -> f64 {
    let (n, g): (f64, Matrix2<f64>) = (m.norm_squared(), m * m.transpose());
    let mut a = t;
    let mut b = n;
    for _ in 0..4 {
        let (next_a, next_b, _) = (b, a + t * b, a * b);
        a = next_a;
        b = next_b;
    }
    a + b + g.trace()
}

#[test]
fn a_tuple_let_in_a_loop_matches_the_unrolled_recurrence() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (t, m) = (rng.scalar(), rng.matrix::<2, 2>());
        let (value, (g_t, g_m)) = recurrence_grad(t, &m);
        assert_eq!(value, recurrence(t, &m));
        // (a, b) ← (b, a + t b) is linear in (a, b): after k steps (a, b) = P_k a₀ + Q_k b₀ in
        // terms of polynomials in t, differentiated here alongside.
        let n = m.norm_squared();
        let (mut a, mut b, mut da, mut db) = (t, n, 1.0, 0.0);
        let (mut an, mut bn) = (0.0, 1.0);
        for _ in 0..4 {
            (a, b, da, db) = (b, a + t * b, db, da + b + t * db);
            (an, bn) = (bn, an + t * bn);
        }
        assert_close_scalar(g_t, da + db, 1e-12);
        // trace(m mᵀ) = ‖m‖², so ∂/∂m is 2m from the trace and 2m (∂(a+b)/∂n) from n.
        assert_close(&g_m, &((2.0 + 2.0 * (an + bn)) * m), 1e-12);
    }
}
