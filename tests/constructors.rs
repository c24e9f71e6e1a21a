//! Matrices built in the body — `new(…)` from entries (row by row, as nalgebra takes them),
//! `zeros()`, `identity()`, `from_element(s)`, `repeat(s)`, entries assigned and updated — in
//! gradients, Jacobians and Hessians, and the 1-norm and a matrix's `abs()`, against closed forms.

#![allow(
    clippy::float_cmp,
    reason = "the values must be those of the functions, bit for bit"
)]

mod common;

use common::{Rng, SEEDS, assert_close};
use matgrad::nalgebra::{Matrix2, Matrix2x3, Matrix3, SMatrix, Vector2, Vector3};
use matgrad::{gradient, hessian, jacobian};

/// v = (x₀x₁, sin x₂): f = ‖v‖² = x₀²x₁² + sin²x₂.
#[gradient]
fn from_entries(x: &Vector3<f64>) -> f64 {
    let v = Vector2::new(x[0] * x[1], x[2].sin());
    v.norm_squared()
}

/// M = [[a, b], [c, d]] row by row: f = ⟨W, M⟩ = w₀₀a + w₀₁b + w₁₀c + w₁₁d.
#[gradient]
fn row_by_row(p: &SMatrix<f64, 4, 1>, w: &Matrix2<f64>) -> f64 {
    let m = Matrix2::new(p[0], p[1], p[2], p[3]);
    m.component_mul(w).sum()
}

/// f = tr((s·I + A)²) + Σ(s·𝟙 ∘ B) + ‖A + 0‖² − ½Σ(s·𝟙₂ₓ₃) + ⟨s²·I, A⟩:
/// ∂f/∂s = 2·tr(s·I + A) + ΣB − 3 + 2s·tr A.
#[gradient(wrt(s))]
fn constant_shapes(s: f64, a: &Matrix3<f64>, b: &Matrix2x3<f64>) -> f64 {
    let shifted = Matrix3::identity() * s + a;
    let diagonal = Matrix3::from_diagonal_element(s * s);
    let filled = SMatrix::<f64, 2, 3>::from_element(s);
    let zero = Matrix3::zeros();
    (shifted * shifted).trace() + filled.component_mul(b).sum() + (a + zero).norm_squared()
        - Matrix2x3::repeat(s).sum() * 0.5
        + diagonal.dot(a)
}

#[test]
fn gradients_through_built_matrices() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let x: Vector3<f64> = rng.vector();
        let (value, grad) = from_entries_grad(&x);
        assert_eq!(value, from_entries(&x));
        let expected = Vector3::new(
            2.0 * x[0] * x[1] * x[1],
            2.0 * x[0] * x[0] * x[1],
            2.0 * x[2].sin() * x[2].cos(),
        );
        assert_close(&grad, &expected, 1e-14);

        let (p, w): (SMatrix<f64, 4, 1>, Matrix2<f64>) = (rng.matrix(), rng.matrix());
        let (value, (dp, dw)) = row_by_row_grad(&p, &w);
        assert_eq!(value, row_by_row(&p, &w));
        // Row by row: p = (a, b, c, d) is M's (0,0), (0,1), (1,0), (1,1).
        assert_close(
            &dp,
            &SMatrix::<f64, 4, 1>::new(w[(0, 0)], w[(0, 1)], w[(1, 0)], w[(1, 1)]),
            0.0,
        );
        assert_close(&dw, &Matrix2::new(p[0], p[1], p[2], p[3]), 0.0);

        let (s, a, b): (f64, Matrix3<f64>, Matrix2x3<f64>) =
            (rng.scalar(), rng.matrix(), rng.matrix());
        let (value, ds) = constant_shapes_grad(s, &a, &b);
        assert_eq!(value, constant_shapes(s, &a, &b));
        let expected =
            2.0 * (Matrix3::identity() * s + a).trace() + b.sum() - 3.0 + 2.0 * s * a.trace();
        assert!((ds - expected).abs() < 1e-13, "{ds} vs {expected}");
    }
}

/// The pinhole projection (p₀/p₂, p₁/p₂) of P = R·X + t, in X.
#[jacobian(wrt(x))]
fn project(r: &Matrix3<f64>, t: &Vector3<f64>, x: &Vector3<f64>) -> Vector2<f64> {
    let p = r * x + t;
    Vector2::new(p[0] / p[2], p[1] / p[2])
}

#[test]
fn the_jacobian_of_a_projection_built_from_its_coordinates() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (r, x): (Matrix3<f64>, Vector3<f64>) = (rng.matrix(), rng.vector());
        let t = Vector3::new(0.1, -0.2, 4.0);
        let (value, j) = project_jacobian(&r, &t, &x);
        assert_eq!(value, project(&r, &t, &x));
        let p = r * x + t;
        let zeta = 1.0 / p[2];
        let d = SMatrix::<f64, 2, 3>::new(
            zeta,
            0.0,
            -p[0] * zeta * zeta,
            0.0,
            zeta,
            -p[1] * zeta * zeta,
        );
        assert_close(&j, &(d * r), 1e-14);
    }
}

/// The end effector of a planar arm whose link lengths are an array literal read by index.
#[jacobian(wrt(q))]
fn arm(q: &Vector3<f64>) -> Vector2<f64> {
    let lengths = [1.0, 0.8, 0.5];
    let (a1, a2) = (q[0], q[0] + q[1]);
    let a3 = a2 + q[2];
    Vector2::new(
        lengths[0] * a1.cos() + lengths[1] * a2.cos() + lengths[2] * a3.cos(),
        lengths[0] * a1.sin() + lengths[1] * a2.sin() + lengths[2] * a3.sin(),
    )
}

#[test]
fn an_array_literal_read_by_index_in_a_jacobian() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let q: Vector3<f64> = rng.vector();
        let (value, j) = arm_jacobian(&q);
        assert_eq!(value, arm(&q));
        // Joint k moves every link from k on: ∂p/∂q_k = Σ_{m ≥ k} l_m (−sin a_m, cos a_m).
        let lengths = [1.0, 0.8, 0.5];
        let angles = [q[0], q[0] + q[1], q[0] + q[1] + q[2]];
        let expected = SMatrix::<f64, 2, 3>::from_fn(|i, k| {
            (k..3)
                .map(|m| {
                    let (s, c) = angles[m].sin_cos();
                    lengths[m] * if i == 0 { -s } else { c }
                })
                .sum()
        });
        assert_close(&j, &expected, 1e-14);
    }
}

/// f(x) = ‖(x₀², x₀x₁, x₁²)‖²: its Hessian through a built vector.
#[hessian]
fn monomials(x: &Vector2<f64>) -> f64 {
    Vector3::new(x[0] * x[0], x[0] * x[1], x[1] * x[1]).norm_squared()
}

#[test]
fn the_hessian_through_a_built_vector() {
    for seed in SEEDS {
        let x: Vector2<f64> = Rng::new(seed).vector();
        let (value, _, h) = monomials_hessian(&x);
        assert_eq!(value, monomials(&x));
        // f = x₀⁴ + x₀²x₁² + x₁⁴
        let (a, b) = (x[0], x[1]);
        let expected = Matrix2::new(
            12.0 * a * a + 2.0 * b * b,
            4.0 * a * b,
            4.0 * a * b,
            12.0 * b * b + 2.0 * a * a,
        );
        assert_close(&h, &expected, 1e-14);
    }
}

// ---- entries assigned: `m[(i, j)] = e`, `v[i] += e` on a `let mut` matrix ---------------------

/// A rotation built entry by entry: f = ⟨w, R(θ)·p⟩, ∂f/∂θ = ⟨w, R′(θ)·p⟩.
#[gradient(wrt(theta))]
fn rotated(theta: f64, p: &Vector2<f64>, w: &Vector2<f64>) -> f64 {
    let (s, c) = theta.sin_cos();
    let mut r = Matrix2::zeros();
    r[(0, 0)] = c;
    r[(0, 1)] = -s;
    r[(1, 0)] = s;
    r[(1, 1)] = c;
    (r * p).dot(w)
}

/// Entries updated in a loop: vᵢ = xᵢ² − 1, f = ⟨v, w⟩; ∂f/∂x = 2x∘w.
#[gradient(wrt(x))]
fn updated(x: &Vector3<f64>, w: &Vector3<f64>) -> f64 {
    let mut v = Vector3::zeros();
    for i in 0..3 {
        v[i] += x[i] * x[i];
        v[i] -= 1.0;
    }
    v.dot(w)
}

/// A parameter-derived matrix with one entry overwritten: the overwritten entry of A gets no
/// gradient, s gets that entry's weight.
#[gradient]
fn overwritten(a: &Matrix3<f64>, s: f64, w: &Matrix3<f64>) -> f64 {
    let mut m = a * 2.0;
    m[(1, 2)] = s * s;
    m.component_mul(w).sum()
}

/// Its Hessian in s: ∂²f/∂s² = 2·w₁₂.
#[hessian(wrt(s))]
fn overwritten_twice(a: &Matrix3<f64>, s: f64, w: &Matrix3<f64>) -> f64 {
    let mut m = a * s;
    m[(1, 2)] = s * s;
    m.component_mul(w).sum()
}

#[test]
fn gradients_through_assigned_entries() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (theta, p, w): (f64, Vector2<f64>, Vector2<f64>) =
            (rng.scalar(), rng.vector(), rng.vector());
        let (value, d) = rotated_grad(theta, &p, &w);
        assert_eq!(value, rotated(theta, &p, &w));
        let (s, c) = theta.sin_cos();
        let slope = Matrix2::new(-s, -c, c, -s);
        assert!((d - (slope * p).dot(&w)).abs() < 1e-14);

        let (x, w): (Vector3<f64>, Vector3<f64>) = (rng.vector(), rng.vector());
        let (value, dx) = updated_grad(&x, &w);
        assert_eq!(value, updated(&x, &w));
        assert_close(&dx, &(2.0 * x.component_mul(&w)), 1e-15);

        let (a, s, w): (Matrix3<f64>, f64, Matrix3<f64>) =
            (rng.matrix(), rng.scalar(), rng.matrix());
        let (value, (da, ds, _)) = overwritten_grad(&a, s, &w);
        assert_eq!(value, overwritten(&a, s, &w));
        let mut expected = w * 2.0;
        expected[(1, 2)] = 0.0;
        assert_close(&da, &expected, 1e-15);
        assert!((ds - 2.0 * s * w[(1, 2)]).abs() < 1e-15);

        // The tangent: ⟨2·dA (its (1, 2) entry dropped), W⟩ + 2s·ds·w₁₂.
        let (da, ds, dw): (Matrix3<f64>, f64, Matrix3<f64>) =
            (rng.matrix(), rng.scalar(), rng.matrix());
        let (_, tangent) = overwritten_jvp(&a, s, &w, &da, ds, &dw);
        let mut m = a * 2.0;
        m[(1, 2)] = s * s;
        let mut dm = da * 2.0;
        dm[(1, 2)] = 2.0 * s * ds;
        let expected = dm.component_mul(&w).sum() + m.component_mul(&dw).sum();
        assert!(
            (tangent - expected).abs() < 1e-14,
            "{tangent} vs {expected}"
        );

        let (value, _, h) = overwritten_twice_hessian(&a, s, &w);
        assert_eq!(value, overwritten_twice(&a, s, &w));
        assert!((h[(0, 0)] - 2.0 * w[(1, 2)]).abs() < 1e-14);
    }
}

// ---- the 1-norm and a matrix's entrywise absolute value ----------------------------------------

/// f = ‖v‖₁ + ‖v‖₂ + Σ|M|∘W: ∂f/∂v = sign(v) + v/‖v‖, ∂f/∂M = sign(M)∘W.
#[gradient(wrt(v, m))]
fn norms(v: &Vector3<f64>, m: &Matrix2<f64>, w: &Matrix2<f64>) -> f64 {
    v.lp_norm(1) + v.lp_norm(2) + m.abs().component_mul(w).sum()
}

#[test]
fn gradients_of_the_one_norm_and_an_absolute_value() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (v, m, w): (Vector3<f64>, Matrix2<f64>, Matrix2<f64>) =
            (rng.away_from_zero(), rng.away_from_zero(), rng.matrix());
        let (value, (dv, dm)) = norms_grad(&v, &m, &w);
        assert_eq!(value, norms(&v, &m, &w));
        assert_close(&dv, &(v.map(f64::signum) + v / v.norm()), 1e-15);
        assert_close(&dm, &m.map(f64::signum).component_mul(&w), 0.0);
    }
}
