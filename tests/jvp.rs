//! Forward mode: every annotated function's `{name}_jvp` returns its value and its directional
//! derivative along one tangent per float parameter, checked against closed forms on random
//! inputs and directions — scalar and matrix results, control flow, generic sizes and scalars,
//! calls of scalar and matrix-valued helpers, and a hand-written pullback.

mod common;

use common::{Rng, SEEDS, assert_close, assert_close_scalar, assert_same_value};
use matgrad::gradient;
use matgrad::nalgebra::{Const, DimMin, Matrix3, RealField, SMatrix, SVector, Vector3, convert};

#[gradient]
fn ols(beta: &SVector<f64, 3>, x: &SMatrix<f64, 6, 3>, y: &SVector<f64, 6>) -> f64 {
    let r = y - x * beta;
    r.norm_squared()
}

#[test]
fn the_tangent_of_least_squares_is_two_r_dot_dr() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (beta, x, y): (SVector<f64, 3>, SMatrix<f64, 6, 3>, SVector<f64, 6>) =
            (rng.vector(), rng.matrix(), rng.vector());
        let (db, dx, dy): (SVector<f64, 3>, SMatrix<f64, 6, 3>, SVector<f64, 6>) =
            (rng.vector(), rng.matrix(), rng.vector());
        let (value, tangent) = ols_jvp(&beta, &x, &y, &db, &dx, &dy);
        assert_same_value(value, ols(&beta, &x, &y), "ols_jvp");
        // f = ‖r‖², r = y − Xβ: df = 2⟨r, dy − dX·β − X·dβ⟩.
        let r = y - x * beta;
        let expected = 2.0 * r.dot(&(dy - dx * beta - x * db));
        assert_close_scalar(tangent, expected, 1e-12);
    }
}

/// A matrix-valued function with a captured scalar.
#[gradient]
fn layer(w: &Matrix3<f64>, x: &Vector3<f64>, s: f64) -> Vector3<f64> {
    (w * x).map(|v| (v * s).tanh())
}

#[test]
fn the_tangent_of_a_layer_is_its_jacobian_times_the_direction() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (w, x, s): (Matrix3<f64>, Vector3<f64>, f64) =
            (rng.matrix(), rng.vector(), rng.scalar());
        let (dw, dx, ds): (Matrix3<f64>, Vector3<f64>, f64) =
            (rng.matrix(), rng.vector(), rng.scalar());
        let (value, tangent) = layer_jvp(&w, &x, s, &dw, &dx, ds);
        assert_close(&value, &layer(&w, &x, s), 1e-15);
        // h = tanh(s·Wx): dh = (1 − h²)∘(ds·Wx + s·(dW·x + W·dx)).
        let z = w * x;
        let h = (z * s).map(f64::tanh);
        let inner = z * ds + (dw * x + w * dx) * s;
        let expected = h.map(|v| 1.0 - v * v).component_mul(&inner);
        assert_close(&tangent, &expected, 1e-12);
    }
}

/// Branches, a loop, an inverse, a determinant and a solve.
#[gradient]
fn linear_algebra(a: &Matrix3<f64>, b: &Vector3<f64>, t: f64) -> f64 {
    let mut acc = a.determinant();
    for i in 0..3 {
        if b[i] > 0.0 {
            acc += b[i] * t;
        } else {
            acc -= (b[i] * t).exp();
        }
    }
    acc + a.try_inverse().unwrap().trace() + a.lu().solve(b).unwrap().sum()
}

#[test]
fn the_tangent_through_branches_and_linear_algebra() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (a, b, t): (Matrix3<f64>, Vector3<f64>, f64) =
            (rng.well_conditioned(), rng.vector(), rng.scalar());
        let (da, db, dt): (Matrix3<f64>, Vector3<f64>, f64) =
            (rng.matrix(), rng.vector(), rng.scalar());
        let (value, tangent) = linear_algebra_jvp(&a, &b, t, &da, &db, dt);
        assert_same_value(value, linear_algebra(&a, &b, t), "linear_algebra_jvp");
        // d det A = det A·tr(A⁻¹dA); d tr A⁻¹ = −tr(A⁻¹dA A⁻¹); d 𝟙ᵀA⁻¹b = 𝟙ᵀA⁻¹(db − dA·A⁻¹b);
        // each loop step adds d(bᵢt) or −exp(bᵢt)·d(bᵢt).
        let inv = a.try_inverse().unwrap();
        let z = inv * b;
        let mut expected = a.determinant() * (inv * da).trace() - (inv * da * inv).trace()
            + (inv * (db - da * z)).sum();
        for i in 0..3 {
            let d = db[i] * t + b[i] * dt;
            expected += if b[i] > 0.0 { d } else { -(b[i] * t).exp() * d };
        }
        assert_close_scalar(tangent, expected, 1e-10);
    }
}

/// Generic over a size and the scalar.
#[gradient]
fn quadratic<T: RealField + Copy, const N: usize>(a: &SMatrix<T, N, N>, x: &SVector<T, N>) -> T
where
    Const<N>: DimMin<Const<N>, Output = Const<N>>,
{
    let half: T = convert(0.5);
    x.dot(&(a * x)) * half
}

#[test]
fn the_tangent_of_a_generic_quadratic_form() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (a, x): (SMatrix<f64, 4, 4>, SVector<f64, 4>) = (rng.matrix(), rng.vector());
        let (da, dx): (SMatrix<f64, 4, 4>, SVector<f64, 4>) = (rng.matrix(), rng.vector());
        let (value, tangent) = quadratic_jvp(&a, &x, &da, &dx);
        assert_same_value(value, quadratic(&a, &x), "quadratic_jvp");
        // f = ½xᵀAx: df = ½(dxᵀAx + xᵀdA x + xᵀA dx).
        let expected = 0.5 * (dx.dot(&(a * x)) + x.dot(&(da * x)) + x.dot(&(a * dx)));
        assert_close_scalar(tangent, expected, 1e-12);
        let (_, t32) = quadratic_jvp(&a.cast::<f32>(), &x.cast::<f32>(), &da.cast(), &dx.cast());
        assert!((f64::from(t32) - expected).abs() < 1e-4 * expected.abs().max(1.0));
    }
}

/// A scalar helper with a hand-written derivative.
#[gradient(pullback = log_cosh_pullback)]
fn log_cosh(x: f64) -> f64 {
    x.cosh().ln()
}

fn log_cosh_pullback(x: f64, seed: f64) -> (f64, (f64,)) {
    (x.cosh().ln(), (seed * x.tanh(),))
}

/// Calls a matrix-valued helper (through its `_jvp`) and a scalar one (through its `_vjp`).
#[gradient]
fn composed(w: &Matrix3<f64>, x: &Vector3<f64>, s: f64) -> f64 {
    let h: Vector3<f64> = layer(w, x, s);
    log_cosh(h.sum()) + log_cosh(s)
}

#[test]
fn the_tangent_through_calls() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (w, x, s): (Matrix3<f64>, Vector3<f64>, f64) =
            (rng.matrix(), rng.vector(), rng.scalar());
        let (dw, dx, ds): (Matrix3<f64>, Vector3<f64>, f64) =
            (rng.matrix(), rng.vector(), rng.scalar());
        let (value, tangent) = composed_jvp(&w, &x, s, &dw, &dx, ds);
        assert_same_value(value, composed(&w, &x, s), "composed_jvp");
        let (_, dh) = layer_jvp(&w, &x, s, &dw, &dx, ds);
        let h = layer(&w, &x, s);
        let expected = h.sum().tanh() * dh.sum() + s.tanh() * ds;
        assert_close_scalar(tangent, expected, 1e-12);
        // The pullback's own `_jvp`: d ln cosh x = tanh x·dx.
        let (_, d) = log_cosh_jvp(s, ds);
        assert_close_scalar(d, s.tanh() * ds, 1e-15);
    }
}
