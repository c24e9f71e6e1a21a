//! `#[gradient]` in a crate that depends on nalgebra 0.34 itself and selects matgrad's
//! `nalgebra_v0_34` feature.
//!
//! The functions below are written over this crate's own `nalgebra::SVector` and
//! `nalgebra::SMatrix`, never `matgrad::nalgebra`. That they compile, and that their gradients
//! go to functions typed with this crate's nalgebra, shows that generated code uses the selected
//! version: with another one, rustc would report two different versions of crate `nalgebra`.
//! The tests compare the gradients with closed forms, and minimise through matgrad's argmin and
//! levenberg-marquardt adapters, both on nalgebra 0.34, with this crate's own vectors.

#![allow(
    clippy::must_use_candidate,
    reason = "the gradient functions are test subjects, not an API"
)]

use matgrad::gradient;
use nalgebra::{SMatrix, SVector};

/// The quadratic ½·xᵀAx − bᵀx, whose gradient is ½(A + Aᵀ)x − b.
#[gradient(wrt(x))]
pub fn quadratic(x: &SVector<f64, 3>, a: &SMatrix<f64, 3, 3>, b: &SVector<f64, 3>) -> f64 {
    0.5 * x.dot(&(a * x)) - b.dot(x)
}

/// A least-squares fit ‖Wu − y‖² over a matrix, whose gradient is 2(Wu − y)uᵀ.
#[gradient(wrt(w))]
pub fn layer(w: &SMatrix<f64, 2, 3>, u: &SVector<f64, 3>, y: &SVector<f64, 2>) -> f64 {
    let r = w * u - y;
    r.norm_squared()
}

/// Takes this crate's own nalgebra vector: a gradient of another nalgebra's type would not
/// be accepted here.
pub fn own_norm(v: &nalgebra::SVector<f64, 3>) -> f64 {
    v.norm()
}

#[cfg(test)]
mod tests {
    use super::{layer_grad, own_norm, quadratic, quadratic_grad};
    use nalgebra::{SMatrix, SVector};

    #[test]
    fn quadratic_gradient_matches_closed_form() {
        let a = SMatrix::<f64, 3, 3>::new(4.0, 1.0, 0.5, -1.0, 3.0, 0.25, 2.0, 0.0, 5.0);
        let b = SVector::<f64, 3>::new(1.0, -2.0, 0.5);
        let x = SVector::<f64, 3>::new(0.3, -0.7, 1.1);
        let (value, grad) = quadratic_grad(&x, &a, &b);
        assert_eq!(value.to_bits(), quadratic(&x, &a, &b).to_bits());
        let expected = 0.5 * (a + a.transpose()) * x - b;
        assert!((grad - expected).norm() < 1e-12, "{grad} vs {expected}");
        assert!((own_norm(&grad) - expected.norm()).abs() < 1e-12);
    }

    #[test]
    fn matrix_gradient_matches_closed_form() {
        let w = SMatrix::<f64, 2, 3>::new(0.5, -1.0, 2.0, 1.5, 0.25, -0.75);
        let u = SVector::<f64, 3>::new(1.0, 2.0, -1.0);
        let y = SVector::<f64, 2>::new(0.5, -0.5);
        let (value, grad): (f64, SMatrix<f64, 2, 3>) = layer_grad(&w, &u, &y);
        let r = w * u - y;
        assert!((value - r.norm_squared()).abs() < 1e-12);
        let expected = 2.0 * r * u.transpose();
        assert!((grad - expected).norm() < 1e-12, "{grad} vs {expected}");
    }
}

/// Residuals of the curve y = a·e^(−b·t) at six times, differentiated by `#[jacobian]`.
#[matgrad::jacobian(wrt(p))]
pub fn decay(p: &SVector<f64, 2>, t: &SVector<f64, 6>, y: &SVector<f64, 6>) -> SVector<f64, 6> {
    let (a, b) = (p[0], p[1]);
    t.map(|ti| a * (-b * ti).exp()) - y
}

/// argmin and levenberg-marquardt, both on nalgebra 0.34, driven through matgrad's adapters with
/// this crate's own vectors: no conversion between nalgebra versions anywhere.
#[cfg(test)]
mod adapters {
    use super::{decay, decay_jacobian, quadratic, quadratic_grad};
    use argmin::core::{Executor, State};
    use argmin::solver::linesearch::MoreThuenteLineSearch;
    use argmin::solver::quasinewton::LBFGS;
    use levenberg_marquardt::LevenbergMarquardt;
    use matgrad::argmin::Problem;
    use matgrad::levenberg_marquardt::LeastSquares;
    use nalgebra::{SMatrix, SVector};

    #[test]
    fn lbfgs_minimises_a_generated_gradient_on_our_own_vectors() {
        let a = SMatrix::<f64, 3, 3>::new(4.0, 1.0, 0.0, 1.0, 3.0, 0.5, 0.0, 0.5, 2.0);
        let b = SVector::<f64, 3>::new(1.0, -2.0, 0.5);
        let problem = Problem::gradient(|x: &SVector<f64, 3>| quadratic_grad(x, &a, &b));
        // The solver's parameter is this crate's own nalgebra 0.34 vector.
        let start: SVector<f64, 3> = SVector::zeros();
        let result = Executor::new(problem, LBFGS::new(MoreThuenteLineSearch::new(), 5))
            .configure(|state| state.param(start).max_iters(100))
            .run()
            .unwrap();
        let best: SVector<f64, 3> = *result.state().get_best_param().unwrap();
        // A symmetric: the minimiser solves A·x = b.
        let exact = a.lu().solve(&b).unwrap();
        assert!((best - exact).norm() < 1e-8, "{best} vs {exact}");
        assert!(quadratic(&best, &a, &b) <= quadratic(&exact, &a, &b) + 1e-12);
    }

    #[test]
    fn levenberg_marquardt_fits_a_generated_jacobian_on_our_own_vectors() {
        let t = SVector::<f64, 6>::from_fn(|i, _| 0.5 * i as f64);
        let y = t.map(|ti| 3.0 * (-0.8 * ti).exp());
        let problem = LeastSquares::new(
            |p: &SVector<f64, 2>| decay_jacobian(p, &t, &y),
            &SVector::<f64, 2>::new(2.0, 0.5),
        );
        let (fit, report) = LevenbergMarquardt::new().minimize(problem);
        assert!(report.termination.was_successful());
        let p: SVector<f64, 2> = fit.parameters();
        assert!((p - SVector::<f64, 2>::new(3.0, 0.8)).norm() < 1e-9, "{p}");
        assert!(decay(&p, &t, &y).norm() < 1e-9);
    }
}
