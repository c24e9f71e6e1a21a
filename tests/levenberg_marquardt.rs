//! The levenberg-marquardt adapter: one evaluation per point, the residuals and Jacobian it
//! passes on, and a curve fit that recovers the generating parameters.
//!
//! Runs with `cargo test --features levenberg-marquardt`.

use std::cell::Cell;

use levenberg_marquardt::{LeastSquaresProblem, LevenbergMarquardt};
use matgrad::levenberg_marquardt::{LeastSquares, from_solver, to_solver};
use matgrad::nalgebra::{SMatrix, SVector, Vector3};

const SAMPLES: usize = 12;

/// The sample times and y = a·e^(−b·t) + c at them, without noise.
fn curve(a: f64, b: f64, c: f64) -> (SVector<f64, SAMPLES>, SVector<f64, SAMPLES>) {
    let t = SVector::<f64, SAMPLES>::from_fn(|i, _| 0.4 * i as f64);
    let y = t.map(|ti| a * (-b * ti).exp() + c);
    (t, y)
}

/// Residuals r = a·e^(−b·t) + c − y of p = (a, b, c), and `J[(k, l)] = ∂r_k/∂p_l` written out.
fn decay(
    p: &Vector3<f64>,
    t: &SVector<f64, SAMPLES>,
    y: &SVector<f64, SAMPLES>,
) -> (SVector<f64, SAMPLES>, SMatrix<f64, SAMPLES, 3>) {
    let e = t.map(|ti| (-p[1] * ti).exp());
    let residuals = p[0] * e + SVector::repeat(p[2]) - y;
    let jacobian = SMatrix::<f64, SAMPLES, 3>::from_fn(|k, l| match l {
        0 => e[k],
        1 => -p[0] * t[k] * e[k],
        _ => 1.0,
    });
    (residuals, jacobian)
}

#[test]
fn residuals_and_jacobian_come_from_one_evaluation() {
    let (t, y) = curve(2.0, 0.7, 0.5);
    let calls = Cell::new(0);
    let counted = |p: &Vector3<f64>| {
        calls.set(calls.get() + 1);
        decay(p, &t, &y)
    };
    let start = Vector3::new(1.0, 1.0, 0.0);
    let mut problem = LeastSquares::new(counted, &start);
    assert_eq!(calls.get(), 1);

    let p = Vector3::new(1.5, 0.4, 0.2);
    problem.set_params(&to_solver(&p));
    let residuals = problem.residuals().unwrap();
    let jacobian = problem.jacobian().unwrap();
    assert_eq!(calls.get(), 2);
    assert_eq!(problem.evaluations(), 2);
    let (r, j) = decay(&p, &t, &y);
    assert_eq!(from_solver(&residuals), r);
    assert_eq!(from_solver(&jacobian), j);
    assert_eq!(problem.parameters(), p);
    assert_eq!(from_solver(&problem.params()), p);
}

#[test]
fn exponential_decay_fit_recovers_the_generating_parameters() {
    let truth = Vector3::new(2.5, 0.8, -0.3);
    let (t, y) = curve(truth[0], truth[1], truth[2]);
    let calls = Cell::new(0);
    let counted = |p: &Vector3<f64>| {
        calls.set(calls.get() + 1);
        decay(p, &t, &y)
    };
    let problem = LeastSquares::new(counted, &Vector3::new(1.0, 0.3, 0.0));
    let (fit, report) = LevenbergMarquardt::new().minimize(problem);
    assert!(
        report.termination.was_successful(),
        "{:?}",
        report.termination
    );
    let found = fit.parameters();
    assert!((found - truth).norm() < 1e-8, "{found} vs {truth}");
    // The solver counts the residual vectors it asked for; the Jacobians it used came with
    // them, and the one extra evaluation is the starting point given to `new`.
    assert_eq!(calls.get(), fit.evaluations());
    let asked = report.number_of_evaluations;
    assert!(
        calls.get() <= asked + 1,
        "{} evaluations for {asked}",
        calls.get()
    );
}
