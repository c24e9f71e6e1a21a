//! `#[hessian]`: Hessians and Hessian-vector products against closed forms — a quadratic form
//! (A + Aᵀ), a least-squares matrix fit ‖AXB − C‖² (2·BBᵀ⊗AᵀA), a Gaussian negative
//! log-likelihood in its mean (Σ⁻¹), logistic regression (Xᵀdiag(p∘(1 − p))X + λI, in a loop and
//! with a map), ln det X, tr(AXBXᵀ), log-sum-exp (diag(p) − ppᵀ), Huber, Rosenbrock, powers,
//! entries and edge cases — and against num-dual's second-order dual numbers on functions that
//! chain every scalar rule, closures, branches, calls, matrix powers and Kronecker products;
//! every H symmetric to the last bit.

#![allow(
    clippy::float_cmp,
    reason = "the values must be those of the functions, bit for bit"
)]

mod common;

use common::{Rng, SEEDS, assert_close, assert_same_value};
use matgrad::nalgebra::{
    ComplexField, Matrix2, Matrix3, RealField, SMatrix, SVector, Vector3, Vector4,
};
use matgrad::{hessian, sigmoid, softplus};

/// Asserts that H equals its transpose bit for bit.
#[track_caller]
fn assert_symmetric<const N: usize>(h: &SMatrix<f64, N, N>) {
    for i in 0..N {
        for j in 0..N {
            assert_eq!(
                h[(i, j)].to_bits(),
                h[(j, i)].to_bits(),
                "H[({i}, {j})] ≠ H[({j}, {i})]"
            );
        }
    }
}

// ---- a quadratic form: H = A + Aᵀ ------------------------------------------------------------

#[hessian(wrt(x))]
fn quadratic(x: &Vector4<f64>, a: &SMatrix<f64, 4, 4>) -> f64 {
    x.dot(&(a * x))
}

#[test]
fn the_hessian_of_a_quadratic_form_is_a_plus_a_transpose() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (x, a, v): (Vector4<f64>, SMatrix<f64, 4, 4>, Vector4<f64>) =
            (rng.vector(), rng.matrix(), rng.vector());
        let (value, grad, h) = quadratic_hessian(&x, &a);
        assert_eq!(value, quadratic(&x, &a));
        assert_close(&grad, &((a + a.transpose()) * x), 1e-14);
        assert_close(&h, &(a + a.transpose()), 1e-15);
        assert_symmetric(&h);
        let (value, g, hv) = quadratic_hvp(&x, &a, &v);
        assert_eq!(value, quadratic(&x, &a));
        assert_close(&g, &grad, 1e-15);
        assert_close(&hv, &((a + a.transpose()) * v), 1e-14);
    }
}

// ---- ‖AXB − C‖² in X: H = 2·(BBᵀ ⊗ AᵀA) --------------------------------------------------------

#[hessian(wrt(x))]
fn matrix_fit(
    a: &SMatrix<f64, 4, 3>,
    x: &SMatrix<f64, 3, 2>,
    b: &SMatrix<f64, 2, 5>,
    c: &SMatrix<f64, 4, 5>,
) -> f64 {
    (a * x * b - c).norm_squared()
}

#[test]
fn the_hessian_of_a_matrix_fit_is_a_kronecker_product() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (a, x, b, c): (
            SMatrix<f64, 4, 3>,
            SMatrix<f64, 3, 2>,
            SMatrix<f64, 2, 5>,
            SMatrix<f64, 4, 5>,
        ) = (rng.matrix(), rng.matrix(), rng.matrix(), rng.matrix());
        let (value, grad, h) = matrix_fit_hessian(&a, &x, &b, &c);
        assert_eq!(value, matrix_fit(&a, &x, &b, &c));
        let r = a * x * b - c;
        assert_close(&grad, &(2.0 * a.transpose() * r * b.transpose()), 1e-13);
        let expected = 2.0 * (b * b.transpose()).kronecker(&(a.transpose() * a));
        assert_close(&h, &expected, 1e-13);
        assert_symmetric(&h);
        let v: SMatrix<f64, 3, 2> = rng.matrix();
        let (_, _, hv) = matrix_fit_hvp(&a, &x, &b, &c, &v);
        // H·vec(V) = vec(2·AᵀA·V·BBᵀ).
        assert_close(
            &hv,
            &(2.0 * a.transpose() * a * v * b * b.transpose()),
            1e-13,
        );
    }
}

// ---- a Gaussian negative log-likelihood in its mean: H = Σ⁻¹ -----------------------------------

#[hessian(wrt(mu))]
fn gaussian_nll(mu: &Vector3<f64>, x: &Vector3<f64>, sigma: &Matrix3<f64>) -> f64 {
    let r = x - mu;
    let precision = sigma.try_inverse().unwrap();
    0.5 * r.dot(&(precision * r)) + 0.5 * sigma.determinant().ln()
}

#[test]
fn the_hessian_of_a_gaussian_nll_in_its_mean_is_the_precision() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (mu, x): (Vector3<f64>, Vector3<f64>) = (rng.vector(), rng.vector());
        let l: Matrix3<f64> = rng.well_conditioned();
        let sigma = l * l.transpose();
        let (value, grad, h) = gaussian_nll_hessian(&mu, &x, &sigma);
        assert_eq!(value, gaussian_nll(&mu, &x, &sigma));
        let precision = sigma.try_inverse().unwrap();
        assert_close(&grad, &(-precision * (x - mu)), 1e-12);
        assert_close(&h, &(0.5 * (precision + precision.transpose())), 1e-12);
        assert_symmetric(&h);
    }
}

// ---- logistic regression: H = Xᵀdiag(p∘(1 − p))X + λI, 20 weights (swept in a loop) -------------

const SAMPLES: usize = 30;
const WEIGHTS: usize = 20;

#[hessian(wrt(w))]
fn logistic_nll(
    w: &SVector<f64, 20>,
    x: &SMatrix<f64, 30, 20>,
    y: &SVector<f64, 30>,
    lambda: f64,
) -> f64 {
    let z = x * w;
    let mut nll = 0.5 * lambda * w.norm_squared();
    for i in 0..30 {
        nll += softplus(z[i]) - y[i] * z[i];
    }
    nll
}

#[test]
fn the_hessian_of_logistic_regression() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let w: SVector<f64, WEIGHTS> = rng.vector();
        let x: SMatrix<f64, SAMPLES, WEIGHTS> = rng.matrix();
        let y = SVector::<f64, SAMPLES>::from_fn(|_, _| f64::from(u8::from(rng.unit() < 0.5)));
        let lambda = 0.3;
        let (value, grad, h) = logistic_nll_hessian(&w, &x, &y, lambda);
        assert_eq!(value, logistic_nll(&w, &x, &y, lambda));
        let p = (x * w).map(sigmoid);
        assert_close(&grad, &(x.transpose() * (p - y) + lambda * w), 1e-13);
        let weights = p.component_mul(&p.map(|pi| 1.0 - pi));
        let expected =
            x.transpose() * SMatrix::<f64, SAMPLES, SAMPLES>::from_diagonal(&weights) * x
                + lambda * SMatrix::<f64, WEIGHTS, WEIGHTS>::identity();
        assert_close(&h, &expected, 1e-13);
        assert_symmetric(&h);
        let v: SVector<f64, WEIGHTS> = rng.vector();
        let (_, _, hv) = logistic_nll_hvp(&w, &x, &y, lambda, &v);
        assert_close(&hv, &(expected * v), 1e-13);
    }
}

// ---- Rosenbrock in 6 dimensions ----------------------------------------------------------------

#[hessian]
fn rosenbrock(x: &SVector<f64, 6>) -> f64 {
    let mut f = 0.0;
    for i in 0..5 {
        f += 100.0 * (x[i + 1] - x[i] * x[i]).powi(2) + (1.0 - x[i]).powi(2);
    }
    f
}

#[test]
fn the_hessian_of_rosenbrock() {
    for seed in SEEDS {
        let x: SVector<f64, 6> = Rng::new(seed).vector();
        let (value, _, h) = rosenbrock_hessian(&x);
        assert_eq!(value, rosenbrock(&x));
        let mut expected = SMatrix::<f64, 6, 6>::zeros();
        for i in 0..5 {
            // 100(x₍ᵢ₊₁₎ − xᵢ²)² + (1 − xᵢ)²
            expected[(i, i)] += 1200.0 * x[i] * x[i] - 400.0 * x[i + 1] + 2.0;
            expected[(i, i + 1)] -= 400.0 * x[i];
            expected[(i + 1, i)] -= 400.0 * x[i];
            expected[(i + 1, i + 1)] += 200.0;
        }
        assert_close(&h, &expected, 1e-13);
        assert_symmetric(&h);
    }
}

// ---- a scalar parameter: H is 1×1, v and H·v scalars --------------------------------------------

#[hessian]
fn wave(t: f64) -> f64 {
    t.sin() * t.powi(3)
}

#[test]
fn a_scalar_parameter_has_a_one_by_one_hessian() {
    for seed in SEEDS {
        let t = Rng::new(seed).scalar();
        let (value, grad, h) = wave_hessian(t);
        assert_eq!(value, wave(t));
        let (s, c) = t.sin_cos();
        assert!((grad - (c * t.powi(3) + 3.0 * s * t * t)).abs() < 1e-14);
        let second = -s * t.powi(3) + 6.0 * c * t * t + 6.0 * s * t;
        assert!(
            (h[(0, 0)] - second).abs() < 1e-14,
            "{} vs {second}",
            h[(0, 0)]
        );
        let (_, _, hv) = wave_hvp(t, &0.5);
        assert!((hv - 0.5 * second).abs() < 1e-14);
    }
}

// ---- every scalar rule, against second-order dual numbers ---------------------------------------

#[hessian(wrt(x))]
fn chained(x: &Vector4<f64>, m: &SMatrix<f64, 4, 4>, k: &Vector4<f64>) -> f64 {
    let u = m * x;
    let q = x.norm_squared();
    let s = x.dot(&u);
    let e = x.component_div(&(u.component_mul(&u) + k)).sum();
    let a = u[0].exp() / (1.0 + u[1] * u[1]) + (s - q) * e;
    let b = (2.0 + u[2].tanh()).ln() * u[3].sin() + u[1].cos();
    let c = (1.5 + u[0] * u[0]).sqrt() + (2.0 + u[3]).powf(1.5) + sigmoid(u[2]);
    let d = (u.norm() + u.component_mul(&u).sum()) / (3.0 + q);
    a + b * c - d + softplus(u[1]) + u[2].powi(3)
}

fn chained_generic<T: RealField + Copy>(
    x: &SVector<T, 4>,
    m: &SMatrix<f64, 4, 4>,
    k: &Vector4<f64>,
) -> T {
    let lift = |v: f64| T::from_f64(v).expect("f64 converts");
    let u = m.map(lift) * x;
    let one = T::one();
    let q = x.norm_squared();
    let s = x.dot(&u);
    let e = x.component_div(&(u.component_mul(&u) + k.map(lift))).sum();
    let a = u[0].exp() / (one + u[1] * u[1]) + (s - q) * e;
    let b = (lift(2.0) + u[2].tanh()).ln() * u[3].sin() + u[1].cos();
    let sig = one / (one + (-u[2]).exp());
    let c = (lift(1.5) + u[0] * u[0]).sqrt() + (lift(2.0) + u[3]).powf(lift(1.5)) + sig;
    let d = (u.norm() + u.component_mul(&u).sum()) / (lift(3.0) + q);
    let soft = (one + u[1].exp()).ln();
    a + b * c - d + soft + u[2].powi(3)
}

#[test]
fn every_scalar_rule_against_second_order_dual_numbers() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let x: Vector4<f64> = rng.vector();
        let m: SMatrix<f64, 4, 4> = rng.matrix() * 0.5;
        let k: Vector4<f64> = rng.positive();
        let (value, grad, h) = chained_hessian(&x, &m, &k);
        assert_eq!(value, chained(&x, &m, &k));
        let (f, g, expected) = num_dual::hessian(|x| chained_generic(&x, &m, &k), &x);
        assert!((value - f).abs() < 1e-13 * f.abs().max(1.0));
        assert_close(&grad, &g, 1e-12);
        assert_close(&h, &expected, 1e-12);
        assert_symmetric(&h);
        let v: Vector4<f64> = rng.vector();
        let (_, _, hv) = chained_hvp(&x, &m, &k, &v);
        assert_close(&hv, &(expected * v), 1e-12);
    }
}

// ---- powers: a differentiated exponent, and the slope at a zero base ---------------------------

/// f(x, p) = xᵖ of the two entries of `xp`.
#[hessian]
fn power(xp: &SVector<f64, 2>) -> f64 {
    xp[0].powf(xp[1])
}

#[hessian]
fn square_by_powf(x: f64) -> f64 {
    x.powf(2.0)
}

#[test]
fn the_hessian_of_a_power_in_base_and_exponent() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (x, p) = (rng.positive_scalar(), rng.scalar() * 2.0);
        let xp = SVector::<f64, 2>::new(x, p);
        let (value, _, h) = power_hessian(&xp);
        // With a differentiated exponent the power is computed as e^(p·ln x): equal up to
        // rounding.
        assert_same_value(value, power(&xp), "power_hessian");
        let (z, l) = (x.powf(p), x.ln());
        let expected = SMatrix::<f64, 2, 2>::new(
            p * (p - 1.0) * x.powf(p - 2.0),
            x.powf(p - 1.0) * (1.0 + p * l),
            x.powf(p - 1.0) * (1.0 + p * l),
            z * l * l,
        );
        assert_close(&h, &expected, 1e-13);
        assert_symmetric(&h);
    }
    // At x = 0 the slope is p·xᵖ⁻¹ itself, and its derivative p(p − 1)·xᵖ⁻²: 2 for p = 2.
    let (value, grad, h) = square_by_powf_hessian(0.0);
    assert_eq!((value, grad, h[(0, 0)]), (square_by_powf(0.0), 0.0, 2.0));
}

// ---- `map` closures: f″ entry by entry, captured scalars, and a map's adjoint with a tangent ----

/// Logistic regression written with a map: H = Xᵀdiag(σ′(Xw))X.
#[hessian(wrt(w))]
fn logistic_map(w: &Vector4<f64>, x: &SMatrix<f64, 7, 4>, y: &SVector<f64, 7>) -> f64 {
    let z = x * w;
    z.map(softplus).sum() - y.dot(&z)
}

/// A tanh layer's squared error in its weights W (3×4, 12 entries): the map's adjoint depends
/// on W too, so its tangent enters.
#[hessian(wrt(w))]
fn tanh_layer(w: &SMatrix<f64, 3, 4>, x: &Vector4<f64>, y: &Vector3<f64>) -> f64 {
    ((w * x).map(f64::tanh) - y).norm_squared()
}

/// A closure capturing differentiated scalars: f = Σ sin(s·vᵢ) + e^(t·vᵢ) with s = v₀, t = v₁v₂.
#[hessian]
fn captured(v: &Vector4<f64>) -> f64 {
    let s = v[0];
    let t = v[1] * v[2];
    v.map(|e| (s * e).sin() + (t * e).exp()).sum()
}

fn tanh_layer_generic<T: RealField + Copy>(
    w: &SVector<T, 12>,
    x: &Vector4<f64>,
    y: &Vector3<f64>,
) -> T {
    let lift = |v: f64| T::from_f64(v).expect("f64 converts");
    let w = SMatrix::<T, 3, 4>::from_column_slice(w.as_slice());
    let r = (w * x.map(lift)).map(ComplexField::tanh) - y.map(lift);
    r.norm_squared()
}

fn captured_generic<T: RealField + Copy>(v: &SVector<T, 4>) -> T {
    let (s, t) = (v[0], v[1] * v[2]);
    v.map(|e| (s * e).sin() + (t * e).exp()).sum()
}

#[test]
fn hessians_through_map_closures() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (w, x): (Vector4<f64>, SMatrix<f64, 7, 4>) = (rng.vector(), rng.matrix());
        let y = SVector::<f64, 7>::from_fn(|_, _| f64::from(u8::from(rng.unit() < 0.5)));
        let (value, _, h) = logistic_map_hessian(&w, &x, &y);
        assert_eq!(value, logistic_map(&w, &x, &y));
        let p = (x * w).map(sigmoid);
        let weights = p.component_mul(&p.map(|pi| 1.0 - pi));
        let expected = x.transpose() * SMatrix::<f64, 7, 7>::from_diagonal(&weights) * x;
        assert_close(&h, &expected, 1e-13);
        assert_symmetric(&h);

        let (w, x, y): (SMatrix<f64, 3, 4>, Vector4<f64>, Vector3<f64>) =
            (rng.matrix(), rng.vector(), rng.vector());
        let (value, grad, h) = tanh_layer_hessian(&w, &x, &y);
        assert_eq!(value, tanh_layer(&w, &x, &y));
        let flat = SVector::<f64, 12>::from_column_slice(w.as_slice());
        let (_, g, expected) = num_dual::hessian(|w| tanh_layer_generic(&w, &x, &y), &flat);
        assert_close(
            &SVector::<f64, 12>::from_column_slice(grad.as_slice()),
            &g,
            1e-13,
        );
        assert_close(&h, &expected, 1e-12);
        assert_symmetric(&h);
        let v: SMatrix<f64, 3, 4> = rng.matrix();
        let (_, _, hv) = tanh_layer_hvp(&w, &x, &y, &v);
        let flat_v = SVector::<f64, 12>::from_column_slice(v.as_slice());
        assert_close(
            &SVector::<f64, 12>::from_column_slice(hv.as_slice()),
            &(expected * flat_v),
            1e-12,
        );

        let v: Vector4<f64> = rng.vector();
        let (value, _, h) = captured_hessian(&v);
        assert_eq!(value, captured(&v));
        let (_, _, expected) = num_dual::hessian(|v| captured_generic(&v), &v);
        assert_close(&h, &expected, 1e-12);
        assert_symmetric(&h);
    }
}

// ---- parameters of more than 16 entries, swept in a loop ----------------------------------------

/// A tanh layer of 20 weights, ‖tanh(Wx) − y‖²: swept in a loop, its H is block diagonal by the
/// rows of W, H[(i + 4j, i + 4l)] = cᵢ·xⱼ·xₗ with cᵢ = 2(sᵢ² − 2rᵢhᵢsᵢ), h = tanh(Wx), r = h − y,
/// s = 1 − h²; every column one-hot through the layer, written to both triangles.
#[hessian(wrt(w))]
fn sparse_layer(w: &SMatrix<f64, 4, 5>, x: &SVector<f64, 5>, y: &Vector4<f64>) -> f64 {
    ((w * x).map(f64::tanh) - y).norm_squared()
}

/// Entrywise products on either side of a one-hot tangent, a sum of two one-hot terms and a
/// softplus map: ½‖(Wx)∘v‖² + Σ softplus(v∘(Wx)) + ⟨Wx, Wx∘v⟩.
#[hessian(wrt(w))]
fn sparse_products(w: &SMatrix<f64, 4, 5>, x: &SVector<f64, 5>, v: &Vector4<f64>) -> f64 {
    let z = w * x;
    0.5 * z.component_mul(v).norm_squared()
        + v.component_mul(&z).map(softplus).sum()
        + z.dot(&z.component_mul(v))
}

fn sparse_products_generic<T: RealField + Copy>(
    w: &SVector<T, 20>,
    x: &SVector<f64, 5>,
    v: &Vector4<f64>,
) -> T {
    let lift = |a: f64| T::from_f64(a).expect("f64 converts");
    let w = SMatrix::<T, 4, 5>::from_column_slice(w.as_slice());
    let z = w * x.map(lift);
    let v = v.map(lift);
    let softplus = |t: T| {
        let positive = if t > T::zero() { t } else { T::zero() };
        positive + (-t.abs()).exp().ln_1p()
    };
    z.component_mul(&v).norm_squared() * lift(0.5)
        + v.component_mul(&z).map(softplus).sum()
        + z.dot(&z.component_mul(&v))
}

#[test]
fn one_hot_sweeps_against_the_block_diagonal_closed_form_and_dual_numbers() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (w, x, y): (SMatrix<f64, 4, 5>, SVector<f64, 5>, Vector4<f64>) =
            (rng.matrix(), rng.vector(), rng.vector());
        let (value, _, h) = sparse_layer_hessian(&w, &x, &y);
        assert_eq!(value, sparse_layer(&w, &x, &y));
        let hh = (w * x).map(f64::tanh);
        let mut expected = SMatrix::<f64, 20, 20>::zeros();
        for i in 0..4 {
            let (r, s) = (hh[i] - y[i], 1.0 - hh[i] * hh[i]);
            let c = 2.0 * (s * s - 2.0 * r * hh[i] * s);
            for j in 0..5 {
                for l in 0..5 {
                    expected[(i + 4 * j, i + 4 * l)] = c * x[j] * x[l];
                }
            }
        }
        assert_close(&h, &expected, 1e-13);
        assert_symmetric(&h);

        let v: Vector4<f64> = rng.vector();
        let (value, g, h) = sparse_products_hessian(&w, &x, &v);
        assert_eq!(value, sparse_products(&w, &x, &v));
        let flat = SVector::<f64, 20>::from_column_slice(w.as_slice());
        let (_, gd, hd) = num_dual::hessian(|w| sparse_products_generic(&w, &x, &v), &flat);
        assert_close(
            &SVector::<f64, 20>::from_column_slice(g.as_slice()),
            &gd,
            1e-13,
        );
        assert_close(&h, &hd, 1e-12);
        assert_symmetric(&h);
    }
}

/// W is 5×4 (20 entries, swept at run time): the products with its unit directions from each
/// side and transposed (E·x, Eᵀ·u, A·E, D·Eᵀ), a map whose closure captures nothing
/// (its second order read from coefficients computed once), one whose captured scalar depends
/// on W (computed entry by entry), and an inner product with W.
#[hessian(wrt(w))]
fn wide_layer(
    w: &SMatrix<f64, 5, 4>,
    x: &Vector4<f64>,
    u: &SVector<f64, 5>,
    a: &Matrix3<f64>,
    b: &SMatrix<f64, 3, 5>,
    c: &SMatrix<f64, 5, 4>,
    d: &SMatrix<f64, 3, 4>,
) -> f64 {
    let h = (w * x).map(f64::tanh);
    let s = 0.3 * w[(1, 2)];
    let k = (w.transpose() * u).map(|v| (s * v).sin());
    let m = a * b * w;
    let n = b * w * w.transpose() * u;
    let q = d * w.transpose();
    (h - u).norm_squared()
        + k.sum()
        + m.map(softplus).sum()
        + n.norm_squared() * 0.1
        + w.dot(c) * h[0]
        + q.map(f64::sin).sum()
}

fn wide_layer_generic<T: RealField + Copy>(
    w: &SVector<T, 20>,
    x: &Vector4<f64>,
    u: &SVector<f64, 5>,
    a: &Matrix3<f64>,
    b: &SMatrix<f64, 3, 5>,
    c: &SMatrix<f64, 5, 4>,
    d: &SMatrix<f64, 3, 4>,
) -> T {
    let lift = |v: f64| T::from_f64(v).expect("f64 converts");
    let w = SMatrix::<T, 5, 4>::from_column_slice(w.as_slice());
    let (x, u, a, b, c) = (
        x.map(lift),
        u.map(lift),
        a.map(lift),
        b.map(lift),
        c.map(lift),
    );
    let q = d.map(lift) * w.transpose();
    let h = (w * x).map(ComplexField::tanh);
    let s = lift(0.3) * w[(1, 2)];
    let k = (w.transpose() * u).map(|v| (s * v).sin());
    let m = a * b * w;
    let n = b * w * w.transpose() * u;
    let one = T::one();
    (h - u).norm_squared()
        + k.sum()
        + m.map(|v| (one + v.exp()).ln()).sum()
        + n.norm_squared() * lift(0.1)
        + w.dot(&c) * h[0]
        + q.map(ComplexField::sin).sum()
}

/// w has 18 entries: X·eₗ, eₗᵀ·A, Aᵀ·eₗ and ⟨p, eₗ⟩ without products.
#[hessian(wrt(w))]
fn long_vector(
    w: &SVector<f64, 18>,
    x: &SMatrix<f64, 6, 18>,
    a: &SMatrix<f64, 18, 3>,
    p: &SVector<f64, 18>,
) -> f64 {
    let z = x * w;
    let r = w.transpose() * a;
    let t = a.transpose() * w;
    z.map(f64::cos).sum() + (r * t).sum().powi(2) * 0.01 + w.dot(p) * z[1]
}

fn long_vector_generic<T: RealField + Copy>(
    w: &SVector<T, 18>,
    x: &SMatrix<f64, 6, 18>,
    a: &SMatrix<f64, 18, 3>,
    p: &SVector<f64, 18>,
) -> T {
    let lift = |v: f64| T::from_f64(v).expect("f64 converts");
    let (x, a, p) = (x.map(lift), a.map(lift), p.map(lift));
    let z = x * w;
    let r = w.transpose() * a;
    let t = a.transpose() * w;
    z.map(ComplexField::cos).sum() + (r * t).sum().powi(2) * lift(0.01) + w.dot(&p) * z[1]
}

/// The stack of the thread that checks them: second-order dual numbers in 20 variables carry
/// 231 floats each, more than a test thread's stack holds in a debug build.
const STACK: usize = 1 << 27;

#[test]
fn hessians_of_parameters_swept_in_a_loop_against_dual_numbers() {
    std::thread::Builder::new()
        .stack_size(STACK)
        .spawn(check_swept_hessians)
        .expect("the checking thread starts")
        .join()
        .expect("the swept Hessians agree with dual numbers");
}

fn check_swept_hessians() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let w: SMatrix<f64, 5, 4> = rng.matrix() * 0.5;
        let (x, u, a, b, c, d) = (
            rng.vector(),
            rng.vector(),
            rng.matrix(),
            rng.matrix(),
            rng.matrix(),
            rng.matrix(),
        );
        let (value, grad, h) = wide_layer_hessian(&w, &x, &u, &a, &b, &c, &d);
        assert_eq!(value, wide_layer(&w, &x, &u, &a, &b, &c, &d));
        let flat = SVector::<f64, 20>::from_column_slice(w.as_slice());
        let (_, g, expected) =
            num_dual::hessian(|w| wide_layer_generic(&w, &x, &u, &a, &b, &c, &d), &flat);
        assert_close(
            &SVector::<f64, 20>::from_column_slice(grad.as_slice()),
            &g,
            1e-12,
        );
        assert_close(&h, &expected, 1e-12);
        assert_symmetric(&h);
        let v: SMatrix<f64, 5, 4> = rng.matrix();
        let (_, _, hv) = wide_layer_hvp(&w, &x, &u, &a, &b, &c, &d, &v);
        assert_close(
            &SVector::<f64, 20>::from_column_slice(hv.as_slice()),
            &(expected * SVector::<f64, 20>::from_column_slice(v.as_slice())),
            1e-12,
        );

        let (w, x, a, p): (
            SVector<f64, 18>,
            SMatrix<f64, 6, 18>,
            SMatrix<f64, 18, 3>,
            _,
        ) = (rng.vector(), rng.matrix(), rng.matrix(), rng.vector());
        let (value, grad, h) = long_vector_hessian(&w, &x, &a, &p);
        assert_eq!(value, long_vector(&w, &x, &a, &p));
        let (_, g, expected) = num_dual::hessian(|w| long_vector_generic(&w, &x, &a, &p), &w);
        assert_close(&grad, &g, 1e-12);
        assert_close(&h, &expected, 1e-12);
        assert_symmetric(&h);
    }
}

// ---- generic scalars and const generic sizes -------------------------------------------------

/// ½xᵀAx + Σ cos xᵢ over any float type and size: H = ½(A + Aᵀ) − diag(cos x).
#[hessian(wrt(x))]
#[allow(
    clippy::redundant_closure_for_method_calls,
    reason = "a closure over the generic scalar is what is tested"
)]
fn generic_energy<T: RealField + Copy, const N: usize>(
    x: &SVector<T, N>,
    a: &SMatrix<T, N, N>,
) -> T {
    let half: T = matgrad::nalgebra::convert(0.5);
    x.dot(&(a * x)) * half + x.map(|v| v.cos()).sum()
}

#[test]
fn hessians_over_generic_scalars_and_sizes() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (x, a): (SVector<f64, 5>, SMatrix<f64, 5, 5>) = (rng.vector(), rng.matrix());
        let (value, _, h) = generic_energy_hessian(&x, &a);
        assert_eq!(value, generic_energy(&x, &a));
        let expected =
            (a + a.transpose()) * 0.5 - SMatrix::<f64, 5, 5>::from_diagonal(&x.map(f64::cos));
        assert_close(&h, &expected, 1e-14);
        assert_symmetric(&h);
        let (x32, a32) = (x.map(|v| v as f32), a.map(|v| v as f32));
        let (_, _, h32) = generic_energy_hessian(&x32, &a32);
        let h32: SMatrix<f64, 5, 5> = h32.map(f64::from);
        assert_close(&h32, &expected, 1e-5);
    }
}

// ---- ln det X and traces of products ----------------------------------------------------------

/// f = ln det X: ∇f = X⁻ᵀ and H·vec(V) = vec(−X⁻ᵀ·Vᵀ·X⁻ᵀ).
#[hessian]
fn log_det(x: &Matrix3<f64>) -> f64 {
    x.determinant().abs().ln()
}

/// f = tr(A·X·B·Xᵀ): H·vec(V) = vec(Aᵀ·V·Bᵀ + A·V·B).
#[hessian(wrt(x))]
fn trace_quadratic(a: &Matrix3<f64>, x: &SMatrix<f64, 3, 2>, b: &SMatrix<f64, 2, 2>) -> f64 {
    (a * x * b * x.transpose()).trace()
}

#[test]
fn hessians_of_log_det_and_a_trace() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let x: Matrix3<f64> = rng.well_conditioned();
        let (value, grad, h) = log_det_hessian(&x);
        assert_eq!(value, log_det(&x));
        let inv_t = x.try_inverse().unwrap().transpose();
        assert_close(&grad, &inv_t, 1e-13);
        for l in 0..9 {
            let mut v = Matrix3::zeros();
            v[l] = 1.0;
            let column = -inv_t * v.transpose() * inv_t;
            let expected = SVector::<f64, 9>::from_column_slice(column.as_slice());
            assert_close(&SVector::<f64, 9>::from(h.column(l)), &expected, 1e-12);
        }
        assert_symmetric(&h);

        let (a, x, b): (Matrix3<f64>, SMatrix<f64, 3, 2>, SMatrix<f64, 2, 2>) =
            (rng.matrix(), rng.matrix(), rng.matrix());
        let (value, _, h) = trace_quadratic_hessian(&a, &x, &b);
        assert_same_value(
            value,
            trace_quadratic(&a, &x, &b),
            "trace_quadratic_hessian",
        );
        for l in 0..6 {
            let mut v = SMatrix::<f64, 3, 2>::zeros();
            v[l] = 1.0;
            let column = a.transpose() * v * b.transpose() + a * v * b;
            let expected = SVector::<f64, 6>::from_column_slice(column.as_slice());
            assert_close(&SVector::<f64, 6>::from(h.column(l)), &expected, 1e-13);
        }
        assert_symmetric(&h);
    }
}

// ---- `if` on differentiated values: each piece differentiated twice ---------------------------

/// The Huber loss of r = Ax − b with δ = 1, an `if` per residual: H = Aᵀ·diag(|rᵢ| ≤ 1)·A.
#[hessian(wrt(x))]
fn huber(x: &Vector3<f64>, a: &SMatrix<f64, 5, 3>, b: &SVector<f64, 5>) -> f64 {
    let r = a * x - b;
    let mut total = 0.0;
    for i in 0..5 {
        if r[i].abs() <= 1.0 {
            total += 0.5 * r[i] * r[i];
        } else {
            total += r[i].abs() - 0.5;
        }
    }
    total
}

/// Two smooth pieces, each nonlinear: e^(x₁)·‖x‖² where x₀ > 0, sin(x₀x₁) + x₂³ elsewhere.
#[hessian]
fn two_pieces(x: &Vector3<f64>) -> f64 {
    let mut y = x[2] * x[2];
    let value = if x[0] > 0.0 {
        y *= x[2];
        x.norm_squared() * x[1].exp()
    } else {
        (x[0] * x[1]).sin()
    };
    value + y
}

fn two_pieces_generic<T: RealField + Copy>(x: &SVector<T, 3>) -> T {
    let mut y = x[2] * x[2];
    let value = if x[0] > T::zero() {
        y *= x[2];
        x.norm_squared() * x[1].exp()
    } else {
        (x[0] * x[1]).sin()
    };
    value + y
}

#[test]
fn hessians_through_branches() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (x, a): (Vector3<f64>, SMatrix<f64, 5, 3>) = (rng.vector(), rng.matrix());
        let b: SVector<f64, 5> = rng.vector::<5>() * 2.0;
        let (value, _, h) = huber_hessian(&x, &a, &b);
        assert_eq!(value, huber(&x, &a, &b));
        let r = a * x - b;
        let inside = r.map(|ri| f64::from(u8::from(ri.abs() <= 1.0)));
        let expected = a.transpose() * SMatrix::<f64, 5, 5>::from_diagonal(&inside) * a;
        assert_close(&h, &expected, 1e-14);
        assert_symmetric(&h);

        for sign in [1.0, -1.0] {
            let mut x: Vector3<f64> = rng.vector();
            x[0] = sign * x[0].abs().max(0.1);
            let (value, grad, h) = two_pieces_hessian(&x);
            assert_eq!(value, two_pieces(&x));
            let (_, g, expected) = num_dual::hessian(|x| two_pieces_generic(&x), &x);
            assert_close(&grad, &g, 1e-13);
            assert_close(&h, &expected, 1e-12);
            assert_symmetric(&h);
            let v: Vector3<f64> = rng.vector();
            let (_, _, hv) = two_pieces_hvp(&x, &v);
            assert_close(&hv, &(expected * v), 1e-12);
        }
    }
}

// ---- composition: calls of other annotated functions, differentiated twice ---------------------

/// A scalar helper, annotated with `#[gradient]`.
#[matgrad::gradient(twice)]
fn soft_norm(v: &Vector3<f64>, s: f64) -> f64 {
    (v.norm_squared() + s * s).sqrt()
}

/// A vector-valued helper, annotated with `#[jacobian]`.
#[matgrad::jacobian(twice)]
fn squash(w: &Matrix3<f64>, v: &Vector3<f64>) -> Vector3<f64> {
    (w * v).map(f64::tanh)
}

/// Calls both, the second twice (a two-layer network) and the first with a scalar it computes.
#[hessian(wrt(x))]
fn composed(x: &Vector3<f64>, w: &Matrix3<f64>) -> f64 {
    let h: Vector3<f64> = squash(w, x);
    let y: Vector3<f64> = squash(w, &h);
    soft_norm(&y, x[0] * x[1]) + soft_norm(x, 0.5)
}

fn composed_generic<T: RealField + Copy>(x: &SVector<T, 3>, w: &Matrix3<f64>) -> T {
    let w = w.map(|v| T::from_f64(v).expect("f64 converts"));
    let squash = |v: &SVector<T, 3>| (w * v).map(ComplexField::tanh);
    let soft = |v: &SVector<T, 3>, s: T| (v.norm_squared() + s * s).sqrt();
    let y = squash(&squash(x));
    let half = T::from_f64(0.5).expect("f64 converts");
    soft(&y, x[0] * x[1]) + soft(x, half)
}

#[test]
fn hessians_through_calls() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (x, w): (Vector3<f64>, Matrix3<f64>) = (rng.vector(), rng.matrix());
        let (value, grad, h) = composed_hessian(&x, &w);
        assert_eq!(value, composed(&x, &w));
        let (_, g, expected) = num_dual::hessian(|x| composed_generic(&x, &w), &x);
        assert_close(&grad, &g, 1e-13);
        assert_close(&h, &expected, 1e-12);
        assert_symmetric(&h);
        let v: Vector3<f64> = rng.vector();
        let (_, _, hv) = composed_hvp(&x, &w, &v);
        assert_close(&hv, &(expected * v), 1e-12);
    }
}

/// A `#[jacobian]` function that calls: `squash` twice.
#[matgrad::jacobian(twice)]
fn two_layers(w: &Matrix3<f64>, v: &Vector3<f64>) -> Vector3<f64> {
    let h: Vector3<f64> = squash(w, v);
    let y: Vector3<f64> = squash(w, &h);
    y
}

/// Calls `two_layers` (so three levels down to `squash`) and `soft_norm` in both pieces of an
/// `if`.
#[matgrad::gradient(twice)]
fn scored(x: &Vector3<f64>, w: &Matrix3<f64>) -> f64 {
    let y: Vector3<f64> = two_layers(w, x);
    if x[0] > 0.0 {
        soft_norm(&y, x[1])
    } else {
        2.0 * soft_norm(&y, 0.5)
    }
}

/// A const generic function that calls another.
#[matgrad::gradient(twice)]
fn log_energy<const N: usize>(v: &SVector<f64, N>) -> f64 {
    cosh_sum(v).ln()
}

#[matgrad::gradient(twice)]
fn cosh_sum<const N: usize>(v: &SVector<f64, N>) -> f64 {
    v.map(|a| a.exp() + (-a).exp()).sum()
}

#[hessian(wrt(x))]
fn deep(x: &Vector3<f64>, w: &Matrix3<f64>) -> f64 {
    let half = x * 0.5;
    scored(x, w) * scored(&half, w) + log_energy(x)
}

fn deep_generic<T: RealField + Copy>(x: &SVector<T, 3>, w: &Matrix3<f64>) -> T {
    let w = w.map(|v| T::from_f64(v).expect("f64 converts"));
    let c = |v: f64| T::from_f64(v).expect("f64 converts");
    let squash = |v: &SVector<T, 3>| (w * v).map(ComplexField::tanh);
    let soft = |v: &SVector<T, 3>, s: T| (v.norm_squared() + s * s).sqrt();
    let scored = |x: &SVector<T, 3>| {
        let y = squash(&squash(x));
        if x[0] > T::zero() {
            soft(&y, x[1])
        } else {
            c(2.0) * soft(&y, c(0.5))
        }
    };
    let half = x * c(0.5);
    scored(x) * scored(&half) + x.map(|a| a.exp() + (-a).exp()).sum().ln()
}

#[test]
fn hessians_through_functions_that_call() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (mut x, w): (Vector3<f64>, Matrix3<f64>) = (rng.vector(), rng.matrix());
        // Both pieces of the `if` in `scored`.
        for sign in [1.0, -1.0] {
            x[0] = sign * x[0].abs();
            let (value, grad, h) = deep_hessian(&x, &w);
            assert_eq!(value, deep(&x, &w));
            let (_, g, expected) = num_dual::hessian(|x| deep_generic(&x, &w), &x);
            assert_close(&grad, &g, 1e-12);
            assert_close(&h, &expected, 1e-11);
            assert_symmetric(&h);
            let v: Vector3<f64> = rng.vector();
            let (_, _, hv) = deep_hvp(&x, &w, &v);
            assert_close(&hv, &(expected * v), 1e-11);
        }
    }
}

// ---- closed forms: ‖L·X·R − C‖² has H = 2·(R·Rᵀ)⊗(Lᵀ·L) ---------------------------------------

/// ‖C − X·B‖²: L = I, H = 2·(B·Bᵀ)⊗I.
#[hessian(wrt(x))]
fn right_fit(x: &SMatrix<f64, 3, 4>, b: &SMatrix<f64, 4, 2>, c: &SMatrix<f64, 3, 2>) -> f64 {
    (c - x * b).norm_squared()
}

/// ‖A·X‖² with X 5×5 (25 entries): R = I, H = 2·I⊗(AᵀA).
#[hessian(wrt(x))]
fn left_fit(a: &SMatrix<f64, 3, 5>, x: &SMatrix<f64, 5, 5>) -> f64 {
    (a * x).norm_squared()
}

#[test]
fn closed_form_hessians_of_matrix_fits() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (x, b, c): (SMatrix<f64, 3, 4>, SMatrix<f64, 4, 2>, SMatrix<f64, 3, 2>) =
            (rng.matrix(), rng.matrix(), rng.matrix());
        let (value, grad, h) = right_fit_hessian(&x, &b, &c);
        assert_eq!(value, right_fit(&x, &b, &c));
        assert_close(&grad, &(-2.0 * (c - x * b) * b.transpose()), 1e-13);
        let expected = 2.0 * (b * b.transpose()).kronecker(&SMatrix::<f64, 3, 3>::identity());
        assert_close(&h, &expected, 1e-14);
        assert_symmetric(&h);
        let v: SMatrix<f64, 3, 4> = rng.matrix();
        let (_, _, hv) = right_fit_hvp(&x, &b, &c, &v);
        assert_close(&hv, &(2.0 * v * b * b.transpose()), 1e-13);

        let (a, x): (SMatrix<f64, 3, 5>, SMatrix<f64, 5, 5>) = (rng.matrix(), rng.matrix());
        let (value, _, h) = left_fit_hessian(&a, &x);
        assert_eq!(value, left_fit(&a, &x));
        let expected = 2.0 * SMatrix::<f64, 5, 5>::identity().kronecker(&(a.transpose() * a));
        assert_close(&h, &expected, 1e-14);
        assert_symmetric(&h);
    }
}

// ---- edge cases: no dependence, linear, a scalar parameter among matrices, f32 ----------------

/// Does not depend on x at all: zero gradient and Hessian.
#[hessian(wrt(x))]
#[allow(unused_variables, reason = "x is deliberately unread")]
fn constant_in_x(x: &Vector3<f64>, c: &Vector3<f64>) -> f64 {
    c.norm_squared()
}

/// Linear in x: a gradient, and a zero Hessian.
#[hessian(wrt(x))]
fn linear_in_x(x: &Vector3<f64>, c: &Vector3<f64>) -> f64 {
    c.dot(x) * 3.0
}

/// A scalar parameter among matrices: ∂²/∂s² of s²·‖A‖² + e^s·tr A = 2‖A‖² + e^s·tr A.
#[hessian(wrt(s))]
fn scalar_among_matrices(a: &Matrix3<f64>, s: f64) -> f64 {
    a.norm_squared() * s * s + s.exp() * a.trace()
}

/// In f32: the quadratic form.
#[hessian(wrt(x))]
fn quadratic_f32(x: &SVector<f32, 3>, a: &SMatrix<f32, 3, 3>) -> f32 {
    x.dot(&(a * x))
}

#[test]
fn hessians_at_the_edges() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (x, c): (Vector3<f64>, Vector3<f64>) = (rng.vector(), rng.vector());
        let (value, grad, h) = constant_in_x_hessian(&x, &c);
        assert_eq!(value, constant_in_x(&x, &c));
        assert_eq!((grad, h), (Vector3::zeros(), Matrix3::zeros()));
        let (_, _, hv) = constant_in_x_hvp(&x, &c, &x);
        assert_eq!(hv, Vector3::zeros());

        let (value, grad, h) = linear_in_x_hessian(&x, &c);
        assert_eq!(value, linear_in_x(&x, &c));
        assert_close(&grad, &(c * 3.0), 1e-15);
        assert_eq!(h, Matrix3::zeros());

        let (a, s): (Matrix3<f64>, f64) = (rng.matrix(), rng.scalar());
        let (value, grad, h) = scalar_among_matrices_hessian(&a, s);
        assert_eq!(value, scalar_among_matrices(&a, s));
        let expected_grad = 2.0 * s * a.norm_squared() + s.exp() * a.trace();
        assert!((grad - expected_grad).abs() < 1e-13);
        let expected = 2.0 * a.norm_squared() + s.exp() * a.trace();
        assert!(
            (h[(0, 0)] - expected).abs() < 1e-13,
            "{} vs {expected}",
            h[(0, 0)]
        );
        let (_, _, hv) = scalar_among_matrices_hvp(&a, s, &2.0);
        assert!((hv - 2.0 * expected).abs() < 1e-12);

        let x32 = rng.vector::<3>().map(|v| v as f32);
        let a32 = rng.matrix::<3, 3>().map(|v| v as f32);
        let (value, _, h) = quadratic_f32_hessian(&x32, &a32);
        assert_eq!(value, quadratic_f32(&x32, &a32));
        assert_eq!(h, a32 + a32.transpose());
    }
}

// ---- matrix powers ---------------------------------------------------------------------------

/// tr(X³) + ⟨X², C⟩ in X: through the adjoint of a matrix power, differentiated twice.
#[hessian(wrt(x))]
fn powers(x: &Matrix3<f64>, c: &Matrix3<f64>) -> f64 {
    x.pow(3).trace() + x.pow(2).component_mul(c).sum()
}

fn powers_generic<T: RealField + Copy>(x: &SVector<T, 9>, c: &Matrix3<f64>) -> T {
    let x = SMatrix::<T, 3, 3>::from_column_slice(x.as_slice());
    let c = c.map(|v| T::from_f64(v).expect("f64 converts"));
    (x * x * x).trace() + (x * x).component_mul(&c).sum()
}

#[test]
fn hessians_through_matrix_powers() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (x, c): (Matrix3<f64>, Matrix3<f64>) = (rng.matrix(), rng.matrix());
        let (value, _, h) = powers_hessian(&x, &c);
        assert_eq!(value, powers(&x, &c));
        let flat = SVector::<f64, 9>::from_column_slice(x.as_slice());
        let (_, _, expected) = num_dual::hessian(|x| powers_generic(&x, &c), &flat);
        assert_close(&h, &expected, 1e-12);
        assert_symmetric(&h);
    }
}

// ---- Kronecker products of two differentiated factors ----------------------------------------

/// ⟨X⊗X, C⟩ + tr((X⊗B)·(X⊗B)ᵀ) in X (2×2).
#[hessian(wrt(x))]
fn kronecker_square(x: &Matrix2<f64>, b: &Matrix2<f64>, c: &SMatrix<f64, 4, 4>) -> f64 {
    x.kronecker(x).component_mul(c).sum() + x.kronecker(b).norm_squared()
}

fn kronecker_square_generic<T: RealField + Copy>(
    x: &SVector<T, 4>,
    b: &Matrix2<f64>,
    c: &SMatrix<f64, 4, 4>,
) -> T {
    let lift = |v: f64| T::from_f64(v).expect("f64 converts");
    let x = SMatrix::<T, 2, 2>::from_column_slice(x.as_slice());
    x.kronecker(&x).component_mul(&c.map(lift)).sum() + x.kronecker(&b.map(lift)).norm_squared()
}

#[test]
fn hessians_through_kronecker_products() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (x, b, c): (Matrix2<f64>, Matrix2<f64>, SMatrix<f64, 4, 4>) =
            (rng.matrix(), rng.matrix(), rng.matrix());
        let (value, _, h) = kronecker_square_hessian(&x, &b, &c);
        assert_eq!(value, kronecker_square(&x, &b, &c));
        let flat = SVector::<f64, 4>::from_column_slice(x.as_slice());
        let (_, _, expected) = num_dual::hessian(|x| kronecker_square_generic(&x, &b, &c), &flat);
        assert_close(&h, &expected, 1e-12);
        assert_symmetric(&h);
    }
}

// ---- softmax: the Hessian of log-sum-exp is diag(p) − p·pᵀ ---------------------------------------

/// ln Σᵢ e^(xᵢ): ∇ = p = softmax(x), H = diag(p) − p·pᵀ.
#[hessian]
fn log_sum_exp(x: &SVector<f64, 5>) -> f64 {
    x.map(f64::exp).sum().ln()
}

#[test]
fn the_hessian_of_log_sum_exp_is_the_softmax_covariance() {
    for seed in SEEDS {
        let x: SVector<f64, 5> = Rng::new(seed).vector();
        let (value, grad, h) = log_sum_exp_hessian(&x);
        assert_eq!(value, log_sum_exp(&x));
        let e = x.map(f64::exp);
        let p = e / e.sum();
        assert_close(&grad, &p, 1e-15);
        let expected = SMatrix::<f64, 5, 5>::from_diagonal(&p) - p * p.transpose();
        assert_close(&h, &expected, 1e-15);
        assert_symmetric(&h);
    }
}
