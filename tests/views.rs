//! Blocks of matrices — `row(i)`, `column(j)`, `fixed_rows::<R>(i)`, `fixed_columns::<C>(j)`,
//! `fixed_view::<R, C>(i, j)` read, `set_row` and `set_column` written — diagonals, cross
//! products and entries at indices known only at run time, in gradients, Jacobians and
//! Hessians, against closed forms and num-dual's dual numbers.

#![allow(
    clippy::float_cmp,
    reason = "the values must be those of the functions, bit for bit"
)]

mod common;

use common::{Rng, SEEDS, assert_close};
use matgrad::nalgebra::{
    ComplexField, Matrix2, Matrix3, RealField, RowVector4, SMatrix, SVector, Vector3, Vector4,
};
use matgrad::{gradient, hessian, jacobian};

/// Every view and both writes: f = ⟨W₁,:, xᵀ⟩ + ‖W:,₂‖² + det W[1..3, 1..3] + ‖M·x‖²
/// + ΣW[1..3, :] + Σ sin W[:, 1..4], M = W with row 0 doubled and column 3 set to W:,₂ − y.
#[hessian(wrt(w))]
fn views(w: &SMatrix<f64, 3, 4>, x: &Vector4<f64>, y: &Vector3<f64>) -> f64 {
    let r = w.row(1);
    let c = w.column(2);
    let b = w.fixed_view::<2, 2>(1, 1);
    let mut m = *w;
    m.set_row(0, &(r * 2.0));
    m.set_column(3, &(c - y));
    r.dot(&x.transpose())
        + c.norm_squared()
        + b.determinant()
        + (m * x).norm_squared()
        + w.fixed_rows::<2>(1).sum()
        + w.fixed_columns::<3>(1).map(f64::sin).sum()
}

fn views_generic<T: RealField + Copy>(w: &SVector<T, 12>, x: &Vector4<f64>, y: &Vector3<f64>) -> T {
    let lift = |v: f64| T::from_f64(v).expect("f64 converts");
    let w = SMatrix::<T, 3, 4>::from_column_slice(w.as_slice());
    let (x, y) = (x.map(lift), y.map(lift));
    let r = w.row(1).into_owned();
    let c = w.column(2).into_owned();
    let b = w.fixed_view::<2, 2>(1, 1).into_owned();
    let mut m = w;
    m.set_row(0, &(r * lift(2.0)));
    m.set_column(3, &(c - y));
    r.dot(&x.transpose())
        + c.norm_squared()
        + b.determinant()
        + (m * x).norm_squared()
        + w.fixed_rows::<2>(1).sum()
        + w.fixed_columns::<3>(1).map(ComplexField::sin).sum()
}

fn flat(w: &SMatrix<f64, 3, 4>) -> SVector<f64, 12> {
    SVector::<f64, 12>::from_column_slice(w.as_slice())
}

#[test]
fn gradients_and_hessians_through_views_against_dual_numbers() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (w, x, y): (SMatrix<f64, 3, 4>, Vector4<f64>, Vector3<f64>) =
            (rng.matrix(), rng.vector(), rng.vector());
        let (value, grad) = views_grad(&w, &x, &y);
        assert_eq!(value, views(&w, &x, &y));
        let (_, g, h) = num_dual::hessian(|w| views_generic(&w, &x, &y), &flat(&w));
        assert_close(&flat(&grad), &g, 1e-12);
        let (value, grad, hessian) = views_hessian(&w, &x, &y);
        assert_eq!(value, views(&w, &x, &y));
        assert_close(&flat(&grad), &g, 1e-12);
        assert_close(&hessian, &h, 1e-11);
        let v: SMatrix<f64, 3, 4> = rng.matrix();
        let (_, _, hv) = views_hvp(&w, &x, &y, &v);
        assert_close(&flat(&hv), &(h * flat(&v)), 1e-11);
    }
}

/// ‖W:,₀‖² in closed form: ∂/∂W = 2·W:,₀ in column 0, zero elsewhere; and the same for a row.
#[gradient]
fn first_column(w: &Matrix3<f64>) -> f64 {
    w.column(0).norm_squared()
}

#[gradient]
fn last_row(w: &Matrix3<f64>) -> f64 {
    w.row(2).norm_squared()
}

#[test]
fn a_view_s_gradient_lies_in_its_block() {
    for seed in SEEDS {
        let w: Matrix3<f64> = Rng::new(seed).matrix();
        let (value, g) = first_column_grad(&w);
        assert_eq!(value, first_column(&w));
        let mut expected = Matrix3::zeros();
        expected.set_column(0, &(w.column(0) * 2.0));
        assert_eq!(g, expected);
        let (value, g) = last_row_grad(&w);
        assert_eq!(value, last_row(&w));
        let mut expected = Matrix3::zeros();
        expected.set_row(2, &(w.row(2) * 2.0));
        assert_eq!(g, expected);
    }
}

/// The residuals of a row-wise model: rᵢ = ⟨Wᵢ,:, x⟩ − yᵢ for rows 0 and 2, stacked by writing
/// rows of a 2×1 matrix: J with respect to W is 2×12 with xᵀ in the entries of rows 0 and 2.
#[jacobian(wrt(w))]
fn row_residuals(w: &SMatrix<f64, 3, 4>, x: &Vector4<f64>, y: &Vector3<f64>) -> SVector<f64, 2> {
    let mut r = SVector::<f64, 2>::zeros();
    r.set_row(0, &(w.row(0) * x - y.fixed_rows::<1>(0)));
    r.set_row(1, &(w.row(2) * x - y.fixed_rows::<1>(2)));
    r
}

#[test]
fn jacobians_through_rows() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (w, x, y): (SMatrix<f64, 3, 4>, Vector4<f64>, Vector3<f64>) =
            (rng.matrix(), rng.vector(), rng.vector());
        let (value, j) = row_residuals_jacobian(&w, &x, &y);
        assert_eq!(value, row_residuals(&w, &x, &y));
        let mut expected = SMatrix::<f64, 2, 12>::zeros();
        for k in 0..4 {
            // W[(i, k)] is entry i + 3k of vec(W).
            expected[(0, 3 * k)] = x[k];
            expected[(1, 2 + 3 * k)] = x[k];
        }
        assert_eq!(j, expected);
    }
}

/// Views of a const generic size: the first column and the first row of an N×N matrix.
#[gradient]
fn generic_edges<const N: usize>(m: &SMatrix<f64, N, N>, u: &RowVector4<f64>) -> f64 {
    let r: SMatrix<f64, 1, 4> = *u;
    m.column(0).norm_squared() + m.fixed_rows::<1>(0).sum() + r.sum()
}

#[test]
fn views_of_const_generic_sizes() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (m, u): (Matrix2<f64>, RowVector4<f64>) = (rng.matrix(), rng.row());
        let (value, (dm, du)) = generic_edges_grad(&m, &u);
        assert_eq!(value, generic_edges(&m, &u));
        let expected = Matrix2::new(2.0 * m[(0, 0)] + 1.0, 1.0, 2.0 * m[(1, 0)], 0.0);
        assert_close(&dm, &expected, 1e-15);
        assert_eq!(du, RowVector4::repeat(1.0));
    }
}

/// f = ⟨diag(A), d⟩ + ‖diag(A)‖²: ∂f/∂A = Diag(d + 2·diag(A)), and H = 2 on the diagonal
/// entries' own positions in vec(A), zero elsewhere.
#[hessian(wrt(a))]
fn diagonal_energy(a: &Matrix3<f64>, d: &Vector3<f64>) -> f64 {
    a.diagonal().dot(d) + a.diagonal().norm_squared()
}

#[test]
fn the_diagonal_in_closed_form() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (a, d): (Matrix3<f64>, Vector3<f64>) = (rng.matrix(), rng.vector());
        let (value, grad, h) = diagonal_energy_hessian(&a, &d);
        assert_eq!(value, diagonal_energy(&a, &d));
        assert_close(
            &grad,
            &Matrix3::from_diagonal(&(d + a.diagonal() * 2.0)),
            1e-15,
        );
        let mut expected = SMatrix::<f64, 9, 9>::zeros();
        for i in 0..3 {
            // A[(i, i)] is entry 4i of vec(A).
            expected[(4 * i, 4 * i)] = 2.0;
        }
        assert_eq!(h, expected);
    }
}

/// The torque τ = r × F of a force F = W·u on an arm r, in r and W.
#[jacobian(wrt(r, w))]
fn torque(r: &Vector3<f64>, w: &Matrix3<f64>, u: &Vector3<f64>) -> Vector3<f64> {
    r.cross(&(w * u))
}

/// f = ‖τ‖² + ⟨τ, k⟩ in r: H = 2·CᵀC with C the matrix of r ↦ r × F.
#[hessian(wrt(r))]
fn torque_energy(r: &Vector3<f64>, w: &Matrix3<f64>, u: &Vector3<f64>, k: &Vector3<f64>) -> f64 {
    let tau = r.cross(&(w * u));
    tau.norm_squared() + tau.dot(k)
}

fn torque_energy_generic<T: RealField + Copy>(
    r: &SVector<T, 3>,
    w: &Matrix3<f64>,
    u: &Vector3<f64>,
    k: &Vector3<f64>,
) -> T {
    let lift = |v: f64| T::from_f64(v).expect("f64 converts");
    let tau = r.cross(&(w * u).map(lift));
    tau.norm_squared() + tau.dot(&k.map(lift))
}

/// The matrix of the linear map r ↦ r × f: r × f = (r₁f₂ − r₂f₁, r₂f₀ − r₀f₂, r₀f₁ − r₁f₀).
fn cross_matrix(f: &Vector3<f64>) -> Matrix3<f64> {
    Matrix3::new(0.0, f[2], -f[1], -f[2], 0.0, f[0], f[1], -f[0], 0.0)
}

#[test]
fn cross_products_against_closed_forms_and_dual_numbers() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (r, w, u, k): (Vector3<f64>, Matrix3<f64>, Vector3<f64>, Vector3<f64>) =
            (rng.vector(), rng.matrix(), rng.vector(), rng.vector());
        let (value, (jr, jw)) = torque_jacobian(&r, &w, &u);
        assert_eq!(value, torque(&r, &w, &u));
        let f = w * u;
        assert_close(&jr, &cross_matrix(&f), 1e-15);
        // In W: dτ = r × (dW·u) = −(dW·u) × r, and vec(dW·u) = (uᵀ ⊗ I)·vec(dW).
        let r_cross = -cross_matrix(&r);
        let expected_w = r_cross * u.transpose().kronecker(&Matrix3::identity());
        assert_close(&jw, &expected_w, 1e-14);

        let (value, grad, h) = torque_energy_hessian(&r, &w, &u, &k);
        assert_eq!(value, torque_energy(&r, &w, &u, &k));
        let (_, g, expected) = num_dual::hessian(|r| torque_energy_generic(&r, &w, &u, &k), &r);
        assert_close(&grad, &g, 1e-13);
        assert_close(&h, &expected, 1e-13);
        let c = cross_matrix(&f);
        assert_close(&h, &(c.transpose() * c * 2.0), 1e-13);
    }
}

/// The cross-entropy of class `label` under softmax(z): ∇ = p − e₍label₎, H = diag(p) − ppᵀ.
#[hessian(wrt(z))]
fn cross_entropy(z: &SVector<f64, 5>, label: usize) -> f64 {
    z.map(f64::exp).sum().ln() - z[label]
}

/// Entries of a matrix at run-time indices from integer parameters, by value and by reference.
#[allow(
    clippy::trivially_copy_pass_by_ref,
    reason = "an integer parameter taken by reference is what is tested"
)]
#[gradient(wrt(m))]
fn entries_at(m: &Matrix3<f64>, i: usize, j: &usize) -> f64 {
    m[(i, *j)] * m[(*j, i)] + m[(i + 1, 0)].sin()
}

#[test]
fn entries_at_run_time_indices() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let z: SVector<f64, 5> = rng.vector();
        let e = z.map(f64::exp);
        let p = e / e.sum();
        for label in 0..5 {
            let (value, grad, h) = cross_entropy_hessian(&z, label);
            assert_eq!(value, cross_entropy(&z, label));
            let mut expected = p;
            expected[label] -= 1.0;
            assert_close(&grad, &expected, 1e-15);
            let curvature = SMatrix::<f64, 5, 5>::from_diagonal(&p) - p * p.transpose();
            assert_close(&h, &curvature, 1e-15);
        }
        let m: Matrix3<f64> = rng.matrix();
        for (i, j) in [(0, 2), (1, 1), (1, 0)] {
            let (value, g) = entries_at_grad(&m, i, &j);
            assert_eq!(value, entries_at(&m, i, &j));
            let mut expected = Matrix3::zeros();
            expected[(i, j)] += m[(j, i)];
            expected[(j, i)] += m[(i, j)];
            expected[(i + 1, 0)] += m[(i + 1, 0)].cos();
            assert_close(&g, &expected, 1e-15);
        }
    }
}

#[test]
#[should_panic(expected = "out of bounds")]
fn an_index_out_of_range_panics_as_the_function_does() {
    let z = SVector::<f64, 5>::zeros();
    let _ = cross_entropy_grad(&z, 5);
}
