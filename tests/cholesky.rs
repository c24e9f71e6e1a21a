//! Cholesky factorisations — `a.cholesky().unwrap()` and its `.l()`, `.solve(&b)`,
//! `.inverse()`, `.determinant()`, `.ln_determinant()` — in gradients, Jacobians and Hessians,
//! against closed forms and num-dual's dual numbers. The factorisation reads the lower triangle
//! of its matrix, as nalgebra's does, so a gradient with respect to that matrix is zero above the
//! diagonal and holds Mᵢⱼ + Mⱼᵢ below it for the symmetric gradient M.

#![allow(
    clippy::float_cmp,
    reason = "the values must be those of the functions, bit for bit"
)]

mod common;

use common::{Rng, SEEDS, assert_close, assert_close_scalar};
use matgrad::nalgebra::{
    ComplexField, Matrix2, Matrix3, RealField, SMatrix, SVector, Vector2, Vector3,
};
use matgrad::{gradient, hessian, jacobian};

/// A Gaussian negative log-likelihood through the Cholesky factor of Σ:
/// f = ½·rᵀΣ⁻¹r + ½·ln det Σ with r = x − μ.
#[gradient(wrt(mu, sigma))]
fn gaussian(mu: &Vector3<f64>, sigma: &Matrix3<f64>, x: &Vector3<f64>) -> f64 {
    let r = x - mu;
    let c = sigma.cholesky().unwrap();
    0.5 * c.solve(&r).dot(&r) + 0.5 * c.ln_determinant()
}

/// [`gaussian`] over any float type, as a generic function.
#[gradient(wrt(mu, sigma))]
fn gaussian_generic<T: RealField + Copy>(mu: &Vector3<T>, sigma: &Matrix3<T>, x: &Vector3<T>) -> T {
    let r = x - mu;
    let c = sigma.cholesky().unwrap();
    c.solve(&r).dot(&r) * T::from_f64(0.5).unwrap() + c.ln_determinant() * T::from_f64(0.5).unwrap()
}

#[test]
fn a_generic_factorisation_is_the_f64_one_and_works_in_f32() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (mu, x): (Vector3<f64>, Vector3<f64>) = (rng.vector(), rng.vector());
        let sigma = spd::<3>(&mut rng);
        let (value, (dmu, dsigma)) = gaussian_generic_grad(&mu, &sigma, &x);
        assert_eq!(value, gaussian_generic(&mu, &sigma, &x));
        let (value64, (dmu64, dsigma64)) = gaussian_grad(&mu, &sigma, &x);
        assert_close_scalar(value, value64, 1e-15);
        assert_close(&dmu, &dmu64, 1e-13);
        assert_close(&dsigma, &dsigma64, 1e-13);
        let (mu32, sigma32, x32) = (mu.cast::<f32>(), sigma.cast::<f32>(), x.cast::<f32>());
        let (value32, (dmu32, dsigma32)) = gaussian_generic_grad(&mu32, &sigma32, &x32);
        assert_eq!(value32, gaussian_generic(&mu32, &sigma32, &x32));
        assert!((f64::from(value32) - value).abs() < 1e-4 * (1.0 + value.abs()));
        assert!((dmu32.cast::<f64>() - dmu).norm() < 1e-3 * (1.0 + dmu.norm()));
        assert!((dsigma32.cast::<f64>() - dsigma).norm() < 1e-3 * (1.0 + dsigma.norm()));
    }
}

/// What the lower triangle of a matrix reads of a symmetric gradient M: Mᵢᵢ on the diagonal,
/// Mᵢⱼ + Mⱼᵢ below it, zero above.
fn lower_read<const N: usize>(m: &SMatrix<f64, N, N>) -> SMatrix<f64, N, N> {
    SMatrix::from_fn(|i, j| match i.cmp(&j) {
        std::cmp::Ordering::Greater => m[(i, j)] + m[(j, i)],
        std::cmp::Ordering::Equal => m[(i, i)],
        std::cmp::Ordering::Less => 0.0,
    })
}

fn spd<const N: usize>(rng: &mut Rng) -> SMatrix<f64, N, N> {
    let a: SMatrix<f64, N, N> = rng.matrix();
    a * a.transpose() + SMatrix::<f64, N, N>::identity()
}

#[test]
fn a_gaussian_likelihood_through_cholesky_in_closed_form() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (mu, x): (Vector3<f64>, Vector3<f64>) = (rng.vector(), rng.vector());
        let sigma = spd::<3>(&mut rng);
        let (value, (dmu, dsigma)) = gaussian_grad(&mu, &sigma, &x);
        assert_eq!(value, gaussian(&mu, &sigma, &x));
        let inverse = sigma.try_inverse().unwrap();
        let r = x - mu;
        assert_close(&dmu, &(-(inverse * r)), 1e-13);
        let symmetric = (inverse - inverse * r * r.transpose() * inverse) * 0.5;
        assert_close(&dsigma, &lower_read(&symmetric), 1e-13);
    }
}

/// A kernel matrix K = s²·exp(−(xᵢ − xⱼ)²/2) + σ²·I built in the body from two
/// hyperparameters θ = (s, σ), and every method of its Cholesky factorisation.
#[hessian(wrt(theta))]
fn kernel_fit(theta: &Vector2<f64>, x: &Vector3<f64>, y: &Vector3<f64>) -> f64 {
    let mut k = Matrix3::identity() * theta[1] * theta[1];
    for i in 0..3 {
        for j in 0..3 {
            let d = x[i] - x[j];
            k[(i, j)] += theta[0] * theta[0] * (-0.5 * d * d).exp();
        }
    }
    let c = k.cholesky().expect("K is positive definite");
    0.5 * c.solve(y).dot(y)
        + c.ln_determinant()
        + 0.1 * c.inverse().trace()
        + 0.01 * c.determinant()
        + (c.l() * y).norm_squared() * 0.05
}

fn kernel_fit_generic<T: RealField + Copy>(
    theta: &SVector<T, 2>,
    x: &Vector3<f64>,
    y: &Vector3<f64>,
) -> T {
    let lift = |v: f64| T::from_f64(v).expect("f64 converts");
    let mut k = Matrix3::<T>::identity() * theta[1] * theta[1];
    for i in 0..3 {
        for j in 0..3 {
            let d = x[i] - x[j];
            k[(i, j)] += theta[0] * theta[0] * lift((-0.5 * d * d).exp());
        }
    }
    let y = y.map(lift);
    let c = k.cholesky().expect("K is positive definite");
    c.solve(&y).dot(&y) * lift(0.5)
        + c.ln_determinant()
        + c.inverse().trace() * lift(0.1)
        + c.determinant() * lift(0.01)
        + (c.l() * y).norm_squared() * lift(0.05)
}

#[test]
fn a_kernel_fit_s_hessian_against_dual_numbers() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let theta = Vector2::new(0.5 + rng.unit(), 0.5 + rng.unit());
        let (x, y): (Vector3<f64>, Vector3<f64>) = (rng.vector(), rng.vector());
        let (value, grad, h) = kernel_fit_hessian(&theta, &x, &y);
        assert_eq!(value, kernel_fit(&theta, &x, &y));
        let (f, g, expected) = num_dual::hessian(|t| kernel_fit_generic(&t, &x, &y), &theta);
        assert!((value - f).abs() < 1e-12 * f.abs().max(1.0));
        assert_close(&grad, &g, 1e-11);
        assert_close(&h, &expected, 1e-10);
        let v = Vector2::new(rng.scalar(), rng.scalar());
        let (_, _, hv) = kernel_fit_hvp(&theta, &x, &y, &v);
        assert_close(&hv, &(expected * v), 1e-10);
    }
}

/// The factor itself as a residual: J of vec(L) with respect to the lower-triangle entries.
#[jacobian(wrt(a))]
fn factor(a: &Matrix2<f64>) -> Matrix2<f64> {
    a.cholesky().unwrap().l()
}

fn factor_generic<T: RealField + Copy>(a: &SVector<T, 4>) -> SVector<T, 4> {
    let a = SMatrix::<T, 2, 2>::from_column_slice(a.as_slice());
    let l = a.cholesky().unwrap().l();
    SVector::<T, 4>::from_column_slice(l.as_slice())
}

#[test]
fn the_jacobian_of_the_factor_against_dual_numbers() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let mut a = spd::<2>(&mut rng);
        // The upper entry is not read: making it differ from the lower one changes nothing.
        a[(0, 1)] += 0.3;
        let (value, j) = factor_jacobian(&a);
        assert_eq!(value, factor(&a));
        let flat = SVector::<f64, 4>::from_column_slice(a.as_slice());
        let (_, expected) = num_dual::jacobian(|a| factor_generic(&a), &flat);
        assert_close(&j, &expected, 1e-13);
        // Column 2 of J is entry (0, 1) of A, above the diagonal.
        assert_eq!(j.column(2).norm(), 0.0);
        let _ = ComplexField::abs(0.0_f64);
    }
}
