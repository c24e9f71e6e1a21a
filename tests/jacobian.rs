//! `#[jacobian]`: Jacobians of vector-, matrix- and scalar-valued functions against their closed
//! forms — affine maps, A·X·B (Bᵀ⊗A), the inverse (−X⁻ᵀ⊗X⁻¹), entrywise maps (diagonal),
//! softmax (diag(p) − ppᵀ), a curve-fit residual, a bearing u/‖u‖ (also of a projection Wx) and
//! a planar rotation residual — with the result's and the parameter's entries in column-major
//! order, computed by tangent sweeps or adjoint sweeps as the shapes decide.

mod common;

use common::{Rng, SEEDS, assert_close};
use matgrad::jacobian;
use matgrad::nalgebra::{
    Matrix2x3, Matrix3, Matrix3x4, RealField, SMatrix, SVector, Vector2, Vector3, Vector4, convert,
};

/// F = A·X·B: vec(F) = (Bᵀ⊗A)·vec(X), and likewise in A and B.
#[jacobian]
fn axb(a: &Matrix2x3<f64>, x: &Matrix3x4<f64>, b: &SMatrix<f64, 4, 2>) -> SMatrix<f64, 2, 2> {
    a * x * b
}

#[test]
fn the_jacobian_of_axb_is_a_kronecker_product() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (a, x, b): (Matrix2x3<f64>, Matrix3x4<f64>, SMatrix<f64, 4, 2>) =
            (rng.matrix(), rng.matrix(), rng.matrix());
        let (value, (ja, jx, jb)) = axb_jacobian(&a, &x, &b);
        assert_close(&value, &axb(&a, &x, &b), 1e-15);
        // d vec(AXB) = ((XB)ᵀ⊗I) d vec(A) + (Bᵀ⊗A) d vec(X) + (I⊗AX) d vec(B).
        let i2 = SMatrix::<f64, 2, 2>::identity();
        assert_close(&ja, &(x * b).transpose().kronecker(&i2), 1e-14);
        assert_close(&jx, &b.transpose().kronecker(&a), 1e-14);
        assert_close(&jb, &i2.kronecker(&(a * x)), 1e-14);
    }
}

/// An affine map of a vector, with fewer parameter entries than results (tangent sweeps).
#[jacobian(wrt(x))]
fn affine(w: &SMatrix<f64, 6, 3>, x: &Vector3<f64>, c: &SVector<f64, 6>) -> SVector<f64, 6> {
    w * x + c * 2.0
}

#[test]
fn the_jacobian_of_an_affine_map_is_its_matrix() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (w, x, c): (SMatrix<f64, 6, 3>, Vector3<f64>, SVector<f64, 6>) =
            (rng.matrix(), rng.vector(), rng.vector());
        let (value, j) = affine_jacobian(&w, &x, &c);
        assert_close(&value, &affine(&w, &x, &c), 1e-15);
        assert_close(&j, &w, 1e-15);
    }
}

/// The inverse: d vec(X⁻¹) = −(X⁻ᵀ⊗X⁻¹) d vec(X).
#[jacobian]
fn inverse(x: &Matrix3<f64>) -> Matrix3<f64> {
    x.try_inverse().unwrap()
}

#[test]
fn the_jacobian_of_the_inverse() {
    for seed in SEEDS {
        let x: Matrix3<f64> = Rng::new(seed).well_conditioned();
        let (value, j) = inverse_jacobian(&x);
        assert_close(&value, &inverse(&x), 1e-15);
        let inv = x.try_inverse().unwrap();
        assert_close(&j, &-inv.transpose().kronecker(&inv), 1e-12);
    }
}

/// An entrywise map and a captured scalar: a diagonal Jacobian in x, a column in s.
#[jacobian]
fn squash(x: &Vector4<f64>, s: f64) -> Vector4<f64> {
    x.map(|v| (v * s).tanh())
}

#[test]
fn the_jacobian_of_an_entrywise_map_is_diagonal() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (x, s): (Vector4<f64>, f64) = (rng.vector(), rng.scalar());
        let (value, (jx, js)) = squash_jacobian(&x, s);
        assert_close(&value, &squash(&x, s), 1e-15);
        let slope = value.map(|h| 1.0 - h * h);
        assert_close(&jx, &SMatrix::from_diagonal(&(slope * s)), 1e-14);
        assert_close(&js, &slope.component_mul(&x), 1e-14);
    }
}

/// Softmax, generic in the scalar: J = diag(p) − p·pᵀ.
#[jacobian]
#[allow(
    clippy::redundant_closure_for_method_calls,
    reason = "a closure over the generic scalar is what is tested"
)]
fn softmax<T: RealField + Copy>(z: &Vector4<T>) -> Vector4<T> {
    let m = z.map(|v| v.exp());
    let total = m.sum();
    m / total
}

#[test]
fn the_jacobian_of_softmax() {
    for seed in SEEDS {
        let z: Vector4<f64> = Rng::new(seed).vector();
        let (p, j) = softmax_jacobian(&z);
        assert_close(&p, &softmax(&z), 1e-15);
        let expected = SMatrix::from_diagonal(&p) - p * p.transpose();
        assert_close(&j, &expected, 1e-14);
        let (p32, j32) = softmax_jacobian(&z.cast::<f32>());
        assert!((p32.cast::<f64>() - p).norm() < 1e-6);
        assert!((j32.cast::<f64>() - expected).norm() < 1e-5);
    }
}

/// A curve-fit residual r = y − (a·e^(−b·t) + c), with more residuals than parameters.
#[jacobian(wrt(p))]
fn decay(p: &Vector3<f64>, t: &SVector<f64, 12>, y: &SVector<f64, 12>) -> SVector<f64, 12> {
    let a = p[0];
    let b = p[1];
    let c = p[2];
    let half: f64 = convert(0.5);
    y - t.map(|ti| a * (-b * ti).exp() + c * half * 2.0)
}

#[test]
fn the_jacobian_of_a_curve_fit_residual() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (p, y): (Vector3<f64>, SVector<f64, 12>) = (rng.vector(), rng.vector());
        let t = SVector::<f64, 12>::from_fn(|i, _| i as f64 * 0.25);
        let (r, j) = decay_jacobian(&p, &t, &y);
        assert_close(&r, &decay(&p, &t, &y), 1e-15);
        let e = t.map(|ti| (-p[1] * ti).exp());
        let mut expected = SMatrix::<f64, 12, 3>::zeros();
        for k in 0..12 {
            expected[(k, 0)] = -e[k];
            expected[(k, 1)] = p[0] * t[k] * e[k];
            expected[(k, 2)] = -1.0;
        }
        assert_close(&j, &expected, 1e-14);
    }
}

/// A scalar result: the Jacobian is the gradient as a row (adjoint sweeps for the vector, a
/// tangent sweep for the scalar parameter).
#[jacobian]
fn quadratic(a: &Matrix3<f64>, x: &Vector3<f64>, s: f64) -> f64 {
    x.dot(&(a * x)) * s
}

#[test]
fn the_jacobian_of_a_scalar_is_its_gradient_as_a_row() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (a, x, s): (Matrix3<f64>, Vector3<f64>, f64) =
            (rng.matrix(), rng.vector(), rng.scalar());
        let (value, (ja, jx, js)) = quadratic_jacobian(&a, &x, s);
        assert!((value - quadratic(&a, &x, s)).abs() < 1e-14);
        let ga = x * x.transpose() * s;
        assert_close(
            &ja,
            &SMatrix::<f64, 1, 9>::from_row_slice(ga.as_slice()),
            1e-14,
        );
        assert_close(&jx, &((a + a.transpose()) * x * s).transpose(), 1e-14);
        assert!((js[(0, 0)] - x.dot(&(a * x))).abs() < 1e-14);
    }
}

/// Calls: a matrix-valued `#[jacobian]` helper used by another.
#[jacobian]
fn layer(w: &Matrix3<f64>, x: &Vector3<f64>) -> Vector3<f64> {
    (w * x).map(f64::tanh)
}

#[jacobian(wrt(x))]
fn two_layers(w: &Matrix3<f64>, x: &Vector3<f64>) -> Vector3<f64> {
    let h: Vector3<f64> = layer(w, x);
    let out: Vector3<f64> = layer(w, &h);
    out
}

#[test]
fn the_jacobian_of_a_composition_is_the_product_of_jacobians() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (w, x): (Matrix3<f64>, Vector3<f64>) = (rng.matrix(), rng.vector());
        let (h, (_, jh)) = layer_jacobian(&w, &x);
        let (_, (_, jo)) = layer_jacobian(&w, &h);
        let (value, j) = two_layers_jacobian(&w, &x);
        assert_close(&value, &two_layers(&w, &x), 1e-15);
        assert_close(&j, &(jo * jh), 1e-14);
    }
}

/// A bearing: the Jacobian of u/‖u‖ is (I − nnᵀ)/‖u‖ with n = u/‖u‖.
#[jacobian]
fn bearing(u: &Vector3<f64>) -> Vector3<f64> {
    u.normalize()
}

#[test]
fn the_jacobian_of_a_bearing_projects_out_the_direction() {
    for seed in SEEDS {
        let u: Vector3<f64> = Rng::new(seed).away_from_zero();
        let (value, j) = bearing_jacobian(&u);
        assert_close(&value, &bearing(&u), 1e-15);
        let n = u / u.norm();
        assert_close(
            &j,
            &((Matrix3::identity() - n * n.transpose()) / u.norm()),
            1e-14,
        );
    }
}

/// The bearing of a projection, n = Wx/‖Wx‖ with W 2×3: six entries of W against two results,
/// so adjoint sweeps, each writing the outer product (P·eᵣ)·xᵀ into its row. With
/// P = (I − nnᵀ)/‖Wx‖: `J_W` = P·(xᵀ⊗I₂) (column i + 2j is xⱼ times column i of P), `J_x` = P·W.
#[jacobian]
fn projected_bearing(w: &Matrix2x3<f64>, x: &Vector3<f64>) -> Vector2<f64> {
    (w * x).normalize()
}

#[test]
fn the_jacobian_of_a_projected_bearing_in_a_wide_matrix() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (w, x): (Matrix2x3<f64>, Vector3<f64>) = (rng.matrix(), rng.away_from_zero());
        let (value, (j_w, j_x)) = projected_bearing_jacobian(&w, &x);
        assert_close(&value, &projected_bearing(&w, &x), 1e-15);
        let p = w * x;
        let n = p / p.norm();
        let proj = (SMatrix::<f64, 2, 2>::identity() - n * n.transpose()) / p.norm();
        let expected_w = SMatrix::<f64, 2, 6>::from_fn(|r, c| proj[(r, c % 2)] * x[c / 2]);
        assert_close(&j_w, &expected_w, 1e-13);
        assert_close(&j_x, &(proj * w), 1e-13);
    }
}

/// Results whose tangent is a difference, a quotient and a transpose of tangents, written into
/// the Jacobian entry by entry. f(s) = u·sin s − v·cos s: f′ = u·cos s + v·sin s.
#[jacobian(wrt(s))]
fn swing(s: f64, u: &Vector4<f64>, v: &Vector4<f64>) -> Vector4<f64> {
    u * s.sin() - v * s.cos()
}

/// g(s) = (u·s) ⊘ (v·eˢ) = (u ⊘ v)·s·e⁻ˢ: g′ = (u ⊘ v)·(1 − s)·e⁻ˢ.
#[jacobian(wrt(s))]
fn damped_ratio(s: f64, u: &Vector4<f64>, v: &Vector4<f64>) -> Vector4<f64> {
    (u * s).component_div(&(v * s.exp()))
}

/// X + s·Xᵀ in X (25 entries, swept in a loop): J = I + s·K, K the commutation matrix with
/// K·vec(X) = vec(Xᵀ).
#[jacobian(wrt(x))]
fn skewed(x: &SMatrix<f64, 5, 5>, s: f64) -> SMatrix<f64, 5, 5> {
    x + x.transpose() * s
}

/// Xᵀ in X: J = K.
#[jacobian]
fn flipped(x: &SMatrix<f64, 5, 5>) -> SMatrix<f64, 5, 5> {
    x.transpose()
}

#[test]
fn jacobians_of_differences_quotients_and_transposes() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (s, u, v): (f64, Vector4<f64>, Vector4<f64>) =
            (rng.scalar(), rng.vector(), rng.away_from_zero());
        let (value, j) = swing_jacobian(s, &u, &v);
        assert_close(&value, &swing(s, &u, &v), 1e-15);
        assert_close(&j, &(u * s.cos() + v * s.sin()), 1e-14);

        let (value, j) = damped_ratio_jacobian(s, &u, &v);
        assert_close(&value, &damped_ratio(s, &u, &v), 1e-15);
        let slope = u.component_div(&v) * ((1.0 - s) * (-s).exp());
        assert_close(&j, &slope, 1e-12);

        let x: SMatrix<f64, 5, 5> = rng.matrix();
        let (value, j) = skewed_jacobian(&x, s);
        assert_close(&value, &skewed(&x, s), 1e-15);
        let expected = SMatrix::<f64, 25, 25>::from_fn(|k, l| {
            let (i, jj) = (l % 5, l / 5);
            f64::from(u8::from(k == l)) + s * f64::from(u8::from(k == jj + 5 * i))
        });
        assert_close(&j, &expected, 1e-15);

        let (value, j) = flipped_jacobian(&x);
        assert_close(&value, &flipped(&x), 0.0);
        let commutation =
            SMatrix::<f64, 25, 25>::from_fn(|k, l| f64::from(u8::from(k == l / 5 + 5 * (l % 5))));
        assert_close(&j, &commutation, 0.0);
    }
}

/// A planar rotation residual, R(θ)p + t − q written with `sin_cos` and p⊥ = (−p₂, p₁).
#[jacobian(wrt(theta, t))]
fn rotated_residual(
    theta: f64,
    p: &Vector2<f64>,
    p_perp: &Vector2<f64>,
    t: &Vector2<f64>,
    q: &Vector2<f64>,
) -> Vector2<f64> {
    let (s, c) = theta.sin_cos();
    p * c + p_perp * s + t - q
}

#[test]
fn the_jacobian_of_a_rotation_residual_is_the_rotated_perpendicular() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (theta, p, t, q): (f64, Vector2<f64>, Vector2<f64>, Vector2<f64>) =
            (rng.scalar(), rng.vector(), rng.vector(), rng.vector());
        let p_perp = Vector2::new(-p[1], p[0]);
        let (value, (j_theta, j_t)) = rotated_residual_jacobian(theta, &p, &p_perp, &t, &q);
        assert_close(&value, &rotated_residual(theta, &p, &p_perp, &t, &q), 1e-15);
        let (s, c) = theta.sin_cos();
        // d/dθ (R(θ)p) = R(θ + π/2)p = −s·p + c·p⊥.
        assert_close(&j_theta, &(-s * p + c * p_perp), 1e-15);
        assert_close(&j_t, &SMatrix::<f64, 2, 2>::identity(), 1e-15);
    }
}
