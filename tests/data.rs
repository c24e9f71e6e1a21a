//! Loops over data: `for x in xs.iter()` and `for (x, y) in xs.iter().zip(ys.iter())` over
//! slices (and arrays) of fixed-size samples, accumulating with `+=` and `-=` into scalars and
//! matrices. Gradients, Jacobians, Hessians and tangents against closed forms and num-dual's
//! dual numbers (run on the same functions, generic over the scalar).

#![allow(
    clippy::float_cmp,
    reason = "the values must be those of the functions, bit for bit"
)]

mod common;

use common::{Rng, SEEDS, assert_close, assert_close_scalar};
use matgrad::nalgebra::{RealField, SMatrix, SVector, Vector2};
use matgrad::{gradient, hessian, jacobian, sigmoid, softplus};

/// Every sample of `xs` in the scalar type `T`.
fn lift<T: RealField + Copy, const R: usize, const C: usize>(
    xs: &[SMatrix<f64, R, C>],
) -> Vec<SMatrix<T, R, C>> {
    xs.iter()
        .map(|x| x.map(|v| T::from_f64(v).expect("f64 converts")))
        .collect()
}

fn lift_scalars<T: RealField + Copy>(ys: &[f64]) -> Vec<T> {
    ys.iter()
        .map(|&v| T::from_f64(v).expect("f64 converts"))
        .collect()
}

fn samples<const N: usize>(rng: &mut Rng, n: usize) -> Vec<SVector<f64, N>> {
    (0..n).map(|_| rng.vector()).collect()
}

// ---- least squares: ∇ = −Σ xᵢ (yᵢ − xᵢ·β) ------------------------------------------------------

/// ½ Σ (yᵢ − xᵢ·β)² over the samples.
#[gradient(wrt(beta))]
fn least_squares(beta: &SVector<f64, 3>, xs: &[SVector<f64, 3>], ys: &[f64]) -> f64 {
    let mut loss = 0.0;
    for (x, y) in xs.iter().zip(ys.iter()) {
        let r = y - x.dot(beta);
        loss += 0.5 * r * r;
    }
    loss
}

#[test]
fn least_squares_over_a_slice_against_its_closed_form() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let xs: Vec<SVector<f64, 3>> = samples(&mut rng, 17);
        let ys: Vec<f64> = (0..17).map(|_| rng.scalar()).collect();
        let beta: SVector<f64, 3> = rng.vector();
        let (value, g) = least_squares_grad(&beta, &xs, &ys);
        assert_eq!(value, least_squares(&beta, &xs, &ys));
        let mut expected = SVector::<f64, 3>::zeros();
        for (x, y) in xs.iter().zip(&ys) {
            expected -= x * (y - x.dot(&beta));
        }
        assert_close(&g, &expected, 1e-13);
        // The tangent along d is ⟨∇, d⟩.
        let d: SVector<f64, 3> = rng.vector();
        let (value, t) = least_squares_jvp(&beta, &xs, &ys, &d);
        assert_eq!(value, least_squares(&beta, &xs, &ys));
        assert_close_scalar(t, expected.dot(&d), 1e-13);
        // No samples: the loss and its gradient are zero.
        let (value, g) = least_squares_grad(&beta, &[], &[]);
        assert_eq!(value, 0.0);
        assert_eq!(g, SVector::<f64, 3>::zeros());
    }
}

// ---- logistic regression: H = Σ pᵢ(1 − pᵢ) xᵢxᵢᵀ + λI -------------------------------------------

/// The ridge-penalised negative log-likelihood of logistic regression, labels in {0, 1}.
#[hessian(wrt(w))]
fn logistic<T: RealField + Copy>(w: &SVector<T, 4>, xs: &[SVector<T, 4>], labels: &[T], lambda: T) -> T {
    let mut nll = T::zero();
    for (x, y) in xs.iter().zip(labels.iter()) {
        let z = x.dot(w);
        nll += softplus(z) - *y * z;
    }
    nll + lambda * w.norm_squared() / (T::one() + T::one())
}

#[test]
fn logistic_regression_over_samples_against_its_closed_form_hessian_and_dual_numbers() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let xs: Vec<SVector<f64, 4>> = samples(&mut rng, 23);
        let labels: Vec<f64> = (0..23).map(|_| f64::from(u8::from(rng.unit() < 0.5))).collect();
        let (w, lambda): (SVector<f64, 4>, f64) = (rng.vector(), rng.positive_scalar());
        let (value, grad, h) = logistic_hessian(&w, &xs, &labels, lambda);
        assert_eq!(value, logistic(&w, &xs, &labels, lambda));
        let mut expected_g = w * lambda;
        let mut expected_h = SMatrix::<f64, 4, 4>::identity() * lambda;
        for (x, y) in xs.iter().zip(&labels) {
            let p = sigmoid(x.dot(&w));
            expected_g += x * (p - y);
            expected_h += x * x.transpose() * (p * (1.0 - p));
        }
        assert_close(&grad, &expected_g, 1e-13);
        assert_close(&h, &expected_h, 1e-13);
        for i in 0..4 {
            for j in 0..4 {
                assert_eq!(h[(i, j)].to_bits(), h[(j, i)].to_bits());
            }
        }
        let v: SVector<f64, 4> = rng.vector();
        let (_, g, hv) = logistic_hvp(&w, &xs, &labels, lambda, &v);
        assert_close(&g, &expected_g, 1e-13);
        assert_close(&hv, &(expected_h * v), 1e-13);
        // The same function on second-order dual numbers.
        let (f, g, hd) = num_dual::hessian(
            |w| {
                let lam = num_dual::Dual2Vec::from_re(lambda);
                logistic(&w, &lift(&xs), &lift_scalars(&labels), lam)
            },
            &w,
        );
        assert_close_scalar(value, f, 1e-14);
        assert_close(&grad, &g, 1e-13);
        assert_close(&h, &hd, 1e-13);
    }
}

// ---- a Jacobian of summed residual features, a vector accumulator --------------------------------

/// Σ over samples of (e^{−a t}, t·e^{−b t}) · y: a vector accumulated in the loop.
#[jacobian(wrt(p))]
fn moments<T: RealField + Copy>(p: &Vector2<T>, ts: &[T], ys: &[T]) -> Vector2<T> {
    let mut m = Vector2::<T>::zeros();
    for (t, y) in ts.iter().zip(ys.iter()) {
        m += Vector2::new((-p[0] * *t).exp(), *t * (-p[1] * *t).exp()) * *y;
    }
    m
}

#[test]
fn a_vector_accumulated_over_samples_has_the_jacobian_of_dual_numbers() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let ts: Vec<f64> = (0..11).map(|_| rng.uniform(0.0, 3.0)).collect();
        let ys: Vec<f64> = (0..11).map(|_| rng.scalar()).collect();
        let p = Vector2::new(rng.uniform(0.2, 1.5), rng.uniform(0.2, 1.5));
        let (value, j) = moments_jacobian(&p, &ts, &ys);
        assert_eq!(value, moments(&p, &ts, &ys));
        // Closed form: ∂m₀/∂a = −Σ t e^{−a t} y, ∂m₁/∂b = −Σ t² e^{−b t} y; the others are zero.
        let mut expected = SMatrix::<f64, 2, 2>::zeros();
        for (t, y) in ts.iter().zip(&ys) {
            expected[(0, 0)] -= t * (-p[0] * t).exp() * y;
            expected[(1, 1)] -= t * t * (-p[1] * t).exp() * y;
        }
        assert_close(&j, &expected, 1e-13);
        let (_, jd) =
            num_dual::jacobian(|p| moments(&p, &lift_scalars(&ts), &lift_scalars(&ys)), &p);
        assert_close(&j, &jd, 1e-13);
        let d: Vector2<f64> = rng.vector();
        let (_, t) = moments_jvp(&p, &ts, &ys, &d);
        assert_close(&t, &(expected * d), 1e-13);
    }
}
