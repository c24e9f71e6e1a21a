//! Loops over data: `for x in xs.iter()` and `for (x, y) in xs.iter().zip(ys.iter())` over
//! slices (and arrays) of fixed-size samples, accumulating with `+=` and `-=` into scalars and
//! matrices. Gradients, Jacobians, Hessians and tangents against closed forms and num-dual's
//! dual numbers (run on the same functions, generic over the scalar).

#![allow(
    clippy::float_cmp,
    reason = "the values must be those of the functions, bit for bit"
)]
#![allow(
    clippy::explicit_iter_loop,
    reason = "the loops are spelt as users spell them, `for x in xs.iter()` among them"
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
fn logistic<T: RealField + Copy>(
    w: &SVector<T, 4>,
    xs: &[SVector<T, 4>],
    labels: &[T],
    lambda: T,
) -> T {
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
        let labels: Vec<f64> = (0..23)
            .map(|_| f64::from(u8::from(rng.unit() < 0.5)))
            .collect();
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

// ---- arrays, `-=`, several accumulators, `&x` and `_` patterns ----------------------------------

/// A softmax-weighted mean of the samples minus their count times w₀: Σ eʷˣ·x / Σ eʷˣ − n·w₀.
#[gradient(wrt(w))]
fn weighted_mean(w: f64, xs: &[f64; 6]) -> f64 {
    let mut numerator = 0.0;
    let mut denominator = 0.0;
    let mut count = 0.0;
    for &x in xs.iter() {
        let e = (w * x).exp();
        numerator += e * x;
        denominator += e;
    }
    for _ in xs {
        count -= 1.0;
    }
    numerator / denominator + count * w
}

#[test]
fn several_accumulators_over_an_array_against_their_closed_form() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let xs: [f64; 6] = std::array::from_fn(|_| rng.scalar());
        let w = rng.scalar();
        let (value, g) = weighted_mean_grad(w, &xs);
        assert_eq!(value, weighted_mean(w, &xs));
        // d/dw of E[x] under p ∝ eʷˣ is Var[x]; the count term gives −n.
        let z: f64 = xs.iter().map(|x| (w * x).exp()).sum();
        let mean: f64 = xs.iter().map(|x| (w * x).exp() * x).sum::<f64>() / z;
        let var: f64 = xs
            .iter()
            .map(|x| (w * x).exp() * (x - mean).powi(2))
            .sum::<f64>()
            / z;
        assert_close_scalar(g, var - 6.0, 1e-13);
    }
}

// ---- const generic sizes and f32 -----------------------------------------------------------------

/// ½ Σ ‖A·x − y‖² over pairs of samples, in any dimension D.
#[gradient(wrt(a))]
fn regression<const D: usize>(
    a: &SMatrix<f32, D, D>,
    xs: &[SVector<f32, D>],
    ys: &[SVector<f32, D>],
) -> f32 {
    let mut loss = 0.0;
    for (x, y) in xs.iter().zip(ys) {
        loss += 0.5 * (a * x - y).norm_squared();
    }
    loss
}

#[test]
fn const_generic_samples_in_f32_against_the_closed_form() {
    let mut rng = Rng::new(SEEDS[1]);
    let xs: Vec<SVector<f32, 3>> = (0..9).map(|_| rng.vector::<3>().cast()).collect();
    let ys: Vec<SVector<f32, 3>> = (0..9).map(|_| rng.vector::<3>().cast()).collect();
    let a: SMatrix<f32, 3, 3> = rng.matrix::<3, 3>().cast();
    let (value, g) = regression_grad(&a, &xs, &ys);
    assert_eq!(value, regression(&a, &xs, &ys));
    let mut expected = SMatrix::<f32, 3, 3>::zeros();
    for (x, y) in xs.iter().zip(&ys) {
        expected += (a * x - y) * x.transpose();
    }
    assert!((g - expected).norm() <= 1e-5 * expected.norm().max(1.0));
}

// ---- what a body may hold: counted loops, `if` values, calls, closures, Cholesky -----------------

/// A squared hinge on a polynomial score, used through a call.
#[gradient]
fn hinge(score: f64, label: f64) -> f64 {
    let margin = 1.0 - label * score;
    if margin > 0.0 { margin * margin } else { 0.0 }
}

/// Σ hinge(Σₖ wₖ xₖᵏ⁺¹, y) + a log-barrier of a Cholesky factor, in the generic form num-dual runs.
#[hessian(wrt(w))]
fn polynomial_svm<T: RealField + Copy>(
    w: &SVector<T, 3>,
    s: &SMatrix<T, 2, 2>,
    xs: &[SVector<T, 3>],
    labels: &[T],
) -> T {
    let two = T::one() + T::one();
    let factor = (s * s.transpose() + SMatrix::<T, 2, 2>::identity() * w.norm_squared())
        .cholesky()
        .unwrap();
    let mut loss = T::zero();
    for (x, y) in xs.iter().zip(labels.iter()) {
        let mut score = T::zero();
        for k in 0..3 {
            score += w[k] * x[k].powi(k as i32 + 1);
        }
        let margin = T::one() - *y * score;
        loss += if margin > T::zero() {
            margin * margin
        } else {
            T::zero()
        };
        let w0 = w[0];
        loss += x.map(|v| (v * w0).tanh()).sum() / two;
        loss -= factor.solve(&x.fixed_rows::<2>(0)).norm_squared();
    }
    loss + factor.ln_determinant()
}

/// The same over f64 with the hinge through a call of another `#[gradient]` function.
#[gradient(wrt(w))]
fn polynomial_svm_called(w: &SVector<f64, 3>, xs: &[SVector<f64, 3>], labels: &[f64]) -> f64 {
    let mut loss = 0.0;
    for (x, y) in xs.iter().zip(labels.iter()) {
        let mut score = 0.0;
        for k in 0..3 {
            score += w[k] * x[k].powi(k as i32 + 1);
        }
        loss += hinge(score, *y);
    }
    loss
}

/// `polynomial_svm_called` written out by hand, for dual numbers.
fn svm_reference<T: RealField + Copy>(w: &SVector<T, 3>, xs: &[SVector<T, 3>], labels: &[T]) -> T {
    let mut loss = T::zero();
    for (x, &y) in xs.iter().zip(labels) {
        let score = w[0] * x[0] + w[1] * x[1].powi(2) + w[2] * x[2].powi(3);
        let margin = T::one() - y * score;
        if margin > T::zero() {
            loss += margin * margin;
        }
    }
    loss
}

#[test]
fn bodies_with_loops_branches_calls_closures_and_factorisations_against_dual_numbers() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let xs: Vec<SVector<f64, 3>> = samples(&mut rng, 13);
        let labels: Vec<f64> = (0..13)
            .map(|_| if rng.unit() < 0.5 { -1.0 } else { 1.0 })
            .collect();
        let (w, s): (SVector<f64, 3>, SMatrix<f64, 2, 2>) = (rng.vector(), rng.matrix());
        let (value, grad, h) = polynomial_svm_hessian(&w, &s, &xs, &labels);
        // Three additions per sample, one by one, as the function makes them: the same value.
        assert_eq!(value, polynomial_svm(&w, &s, &xs, &labels));
        let (f, g, hd) = num_dual::hessian(
            |w| {
                let s = s.map(num_dual::Dual2Vec::from_re);
                polynomial_svm(&w, &s, &lift(&xs), &lift_scalars(&labels))
            },
            &w,
        );
        assert_close_scalar(value, f, 1e-14);
        assert_close(&grad, &g, 1e-12);
        assert_close(&h, &hd, 1e-12);
        let (value, grad) = polynomial_svm_called_grad(&w, &xs, &labels);
        assert_eq!(value, polynomial_svm_called(&w, &xs, &labels));
        let (_, expected) = num_dual::gradient(
            |w| svm_reference(&w, &lift(&xs), &lift_scalars(&labels)),
            &w,
        );
        assert_close(&grad, &expected, 1e-12);
    }
}

// ---- loops over data inside branches and other loops over data -----------------------------------

/// ln Σᵢ Σⱼ exp(−‖w∘(xᵢ − yⱼ)‖²), the pairs summed only when `pairs` is set.
#[gradient(wrt(w))]
fn kernel_sum<T: RealField + Copy>(
    w: &SVector<T, 2>,
    xs: &[SVector<T, 2>],
    ys: &[SVector<T, 2>],
    pairs: bool,
) -> T {
    let mut k = w.norm_squared();
    if pairs {
        for x in xs.iter() {
            for y in ys.iter() {
                k += (-(x - y).component_mul(w).norm_squared()).exp();
            }
        }
    }
    k.ln()
}

#[test]
fn nested_loops_over_data_and_loops_in_branches_against_dual_numbers() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let xs: Vec<SVector<f64, 2>> = samples(&mut rng, 5);
        let ys: Vec<SVector<f64, 2>> = samples(&mut rng, 4);
        let w: SVector<f64, 2> = rng.vector();
        for pairs in [true, false] {
            let (value, g) = kernel_sum_grad(&w, &xs, &ys, pairs);
            assert_eq!(value, kernel_sum(&w, &xs, &ys, pairs));
            let (_, expected) =
                num_dual::gradient(|w| kernel_sum(&w, &lift(&xs), &lift(&ys), pairs), &w);
            assert_close(&g, &expected, 1e-13);
        }
    }
}

// ---- a parameter of more than 16 entries: the Hessian swept in a loop ----------------------------

/// A tanh network of 20 weights summed over samples.
#[hessian(wrt(w))]
fn wide<T: RealField + Copy>(
    w: &SMatrix<T, 4, 5>,
    xs: &[SVector<T, 5>],
    ys: &[SVector<T, 4>],
) -> T {
    let mut loss = T::zero();
    for (x, y) in xs.iter().zip(ys.iter()) {
        loss += ((w * x).map(T::tanh) - y).norm_squared();
    }
    loss
}

#[test]
fn a_swept_hessian_over_samples_against_dual_numbers() {
    let mut rng = Rng::new(SEEDS[2]);
    let xs: Vec<SVector<f64, 5>> = samples(&mut rng, 7);
    let ys: Vec<SVector<f64, 4>> = samples(&mut rng, 7);
    let w: SMatrix<f64, 4, 5> = rng.matrix();
    let (value, grad, h) = wide_hessian(&w, &xs, &ys);
    assert_eq!(value, wide(&w, &xs, &ys));
    let flat = SVector::<f64, 20>::from_column_slice(w.as_slice());
    let (_, g, expected) = num_dual::hessian(
        |v| {
            let w = SMatrix::<_, 4, 5>::from_column_slice(v.as_slice());
            wide(&w, &lift(&xs), &lift(&ys))
        },
        &flat,
    );
    assert_close(
        &SVector::<f64, 20>::from_column_slice(grad.as_slice()),
        &g,
        1e-12,
    );
    assert_close(&h, &expected, 1e-12);
    for i in 0..20 {
        for j in 0..20 {
            assert_eq!(h[(i, j)].to_bits(), h[(j, i)].to_bits());
        }
    }
}

// ---- a method reading its data set from a field -------------------------------------------------

struct Fit {
    xs: Vec<SVector<f64, 3>>,
    ys: Vec<f64>,
}

impl Fit {
    /// Σ (yᵢ − tanh(xᵢ·β))².
    #[gradient(wrt(beta))]
    fn loss(&self, beta: &SVector<f64, 3>) -> f64 {
        let xs: &[SVector<f64, 3>] = &self.xs;
        let ys: &[f64] = &self.ys;
        let mut loss = 0.0;
        for (x, y) in xs.iter().zip(ys.iter()) {
            loss += (y - x.dot(beta).tanh()).powi(2);
        }
        loss
    }
}

#[test]
fn a_method_reads_its_samples_from_a_field() {
    let mut rng = Rng::new(SEEDS[3]);
    let fit = Fit {
        xs: samples(&mut rng, 8),
        ys: (0..8).map(|_| rng.scalar()).collect(),
    };
    let beta: SVector<f64, 3> = rng.vector();
    let (value, g) = fit.loss_grad(&beta);
    assert_eq!(value, fit.loss(&beta));
    let mut expected = SVector::<f64, 3>::zeros();
    for (x, y) in fit.xs.iter().zip(&fit.ys) {
        let t = x.dot(&beta).tanh();
        expected -= x * (2.0 * (y - t) * (1.0 - t * t));
    }
    assert_close(&g, &expected, 1e-13);
}

// ---- integer labels read alongside the samples ---------------------------------------------------

/// The mean softmax cross-entropy of class labels: (1/N) Σ [ln Σⱼ e^{(Wx)ⱼ} − (Wx)_label].
#[hessian(wrt(w))]
fn cross_entropy(w: &SMatrix<f64, 3, 2>, xs: &[SVector<f64, 2>], labels: &[usize]) -> f64 {
    let mut total = 0.0;
    for (x, &label) in xs.iter().zip(labels.iter()) {
        let z = w * x;
        let m = z.max();
        total += m + z.map(|v| (v - m).exp()).sum().ln() - z[label];
    }
    total / xs.len() as f64
}

#[test]
fn class_labels_index_the_scores_of_each_sample() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let xs: Vec<SVector<f64, 2>> = samples(&mut rng, 9);
        let labels: Vec<usize> = (0..9).map(|_| rng.index(3)).collect();
        let w: SMatrix<f64, 3, 2> = rng.matrix();
        let (value, g, h) = cross_entropy_hessian(&w, &xs, &labels);
        assert_eq!(value, cross_entropy(&w, &xs, &labels));
        // ∇W = (1/N) Σ (p − e_label) xᵀ; H = (1/N) Σ (x xᵀ) ⊗ (diag p − p pᵀ) in vec order.
        let mut expected_g = SMatrix::<f64, 3, 2>::zeros();
        let mut expected_h = SMatrix::<f64, 6, 6>::zeros();
        for (x, &label) in xs.iter().zip(&labels) {
            let z = w * x;
            let e = z.map(|v| (v - z.max()).exp());
            let p = e / e.sum();
            let mut residual = p;
            residual[label] -= 1.0;
            expected_g += residual * x.transpose() / 9.0;
            let softmax = SMatrix::<f64, 3, 3>::from_diagonal(&p) - p * p.transpose();
            expected_h += (x * x.transpose()).kronecker(&softmax) / 9.0;
        }
        assert_close(&g, &expected_g, 1e-13);
        assert_close(&h, &expected_h, 1e-13);
    }
}

// ---- the value, bit for bit: a variable that does not start at zero, several terms per sample ----

/// A penalty first, then two terms and a subtraction per sample, into a scalar and a matrix.
#[gradient(wrt(w))]
fn penalised(w: &Vector2<f64>, xs: &[SVector<f64, 2>], ys: &[f64]) -> f64 {
    let mut loss = 0.3 * w.norm_squared();
    let mut scatter = SMatrix::<f64, 2, 2>::identity() * w[0];
    for (x, y) in xs.iter().zip(ys.iter()) {
        let r = x.dot(w) - y;
        loss += r * r;
        loss -= 0.1 * r;
        scatter += x * x.transpose() * r;
        loss += (r * w[1]).tanh();
    }
    loss + scatter.determinant()
}

#[test]
fn the_value_of_a_loop_over_data_is_the_functions_to_the_last_bit() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let xs: Vec<SVector<f64, 2>> = samples(&mut rng, 31);
        let ys: Vec<f64> = (0..31).map(|_| rng.scalar()).collect();
        let w: Vector2<f64> = rng.vector();
        let (value, g) = penalised_grad(&w, &xs, &ys);
        assert_eq!(value.to_bits(), penalised(&w, &xs, &ys).to_bits());
        let (_, expected) = num_dual::gradient(
            |w| penalised_generic(&w, &lift(&xs), &lift_scalars(&ys)),
            &w,
        );
        assert_close(&g, &expected, 1e-12);
    }
}

/// `penalised` over any scalar, for dual numbers.
fn penalised_generic<T: RealField + Copy>(w: &Vector2<T>, xs: &[SVector<T, 2>], ys: &[T]) -> T {
    let c = |v: f64| T::from_f64(v).expect("f64 converts");
    let mut loss = w.norm_squared() * c(0.3);
    let mut scatter = SMatrix::<T, 2, 2>::identity() * w[0];
    for (x, &y) in xs.iter().zip(ys) {
        let r = x.dot(w) - y;
        loss += r * r - r * c(0.1) + (r * w[1]).tanh();
        scatter += x * x.transpose() * r;
    }
    loss + scatter.determinant()
}

// ---- a log-likelihood subtracted: the first term a sample adds is a `-=` ----------------------

/// The negative log-likelihood of a Poisson regression (up to ln k!), the log-likelihood of each
/// sample subtracted.
#[gradient(wrt(w))]
fn poisson(w: &SVector<f64, 3>, xs: &[SVector<f64, 3>], counts: &[f64]) -> f64 {
    let mut nll = 0.0;
    for (x, k) in xs.iter().zip(counts.iter()) {
        let eta = x.dot(w);
        nll -= k * eta - eta.exp();
    }
    nll
}

#[test]
fn a_subtracted_log_likelihood_against_its_closed_form() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let xs: Vec<SVector<f64, 3>> = samples(&mut rng, 15);
        let counts: Vec<f64> = (0..15).map(|_| rng.index(6) as f64).collect();
        let w: SVector<f64, 3> = rng.vector::<3>() * 0.5;
        let (value, g) = poisson_grad(&w, &xs, &counts);
        assert_eq!(value, poisson(&w, &xs, &counts));
        // ∇ = Σ (e^{x·w} − k) x
        let mut expected = SVector::<f64, 3>::zeros();
        for (x, k) in xs.iter().zip(&counts) {
            expected += x * (x.dot(&w).exp() - k);
        }
        assert_close(&g, &expected, 1e-13);
        let d: SVector<f64, 3> = rng.vector();
        let (_, t) = poisson_jvp(&w, &xs, &counts, &d);
        assert_close_scalar(t, expected.dot(&d), 1e-13);
    }
}

/// A quadratic form of one sample through a matrix of another, called on both as `.iter()` gives
/// them: references, passed on as such.
#[gradient]
fn weighted_square(u: &SVector<f64, 2>, a: &SMatrix<f64, 2, 2>, v: &SVector<f64, 2>) -> f64 {
    u.dot(&(a * v))
}

#[gradient(wrt(v))]
fn samples_passed_to_a_call(
    v: &SVector<f64, 2>,
    us: &[SVector<f64, 2>],
    as_: &[SMatrix<f64, 2, 2>],
) -> f64 {
    let mut total = 0.0;
    for (u, a) in us.iter().zip(as_.iter()) {
        total += weighted_square(u, a, v);
    }
    total
}

#[test]
fn samples_passed_by_reference_to_a_call_against_the_closed_form() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let us: Vec<SVector<f64, 2>> = samples(&mut rng, 7);
        let as_: Vec<SMatrix<f64, 2, 2>> = (0..7).map(|_| rng.matrix()).collect();
        let v: SVector<f64, 2> = rng.vector();
        let (value, grad) = samples_passed_to_a_call_grad(&v, &us, &as_);
        assert_eq!(value, samples_passed_to_a_call(&v, &us, &as_));
        // f = Σ uᵢᵀAᵢv ⇒ ∇v = Σ Aᵢᵀuᵢ.
        let expected = us
            .iter()
            .zip(&as_)
            .fold(SVector::<f64, 2>::zeros(), |g, (u, a)| {
                g + a.transpose() * u
            });
        assert_close(&grad, &expected, 1e-12);
    }
}
