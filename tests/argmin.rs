//! The argmin adapter: one evaluation per point whatever argmin asks there, the values it
//! passes on, and real solver runs on generated and hand-written derivatives.
//!
//! Runs with `cargo test --features argmin`.

use std::sync::atomic::{AtomicUsize, Ordering};

use argmin::core::{CostFunction, Executor, Gradient, Hessian, Jacobian, Operator, State};
use argmin::solver::gaussnewton::GaussNewton;
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::newton::Newton;
use argmin::solver::quasinewton::LBFGS;
use matgrad::argmin::{Problem, from_solver, to_solver};
use matgrad::nalgebra::{Matrix2, SMatrix, SVector, Vector2};
use matgrad::{gradient, hessian, jacobian, softplus};

/// Ridge regression ‖y − Xβ‖² + λ‖β‖², minimised at `β* = (XᵀX + λI)⁻¹Xᵀy`.
#[gradient(wrt(beta))]
fn ridge(beta: &SVector<f64, 3>, x: &SMatrix<f64, 6, 3>, y: &SVector<f64, 6>, lambda: f64) -> f64 {
    let r = y - x * beta;
    r.norm_squared() + lambda * beta.norm_squared()
}

fn ridge_data() -> (SMatrix<f64, 6, 3>, SVector<f64, 6>) {
    let x =
        SMatrix::<f64, 6, 3>::from_fn(|i, j| ((i * 3 + j * 7) % 5) as f64 - 1.5 + 0.1 * i as f64);
    let y = SVector::<f64, 6>::from_fn(|i, _| (i as f64 * 0.7).sin() + 0.5);
    (x, y)
}

#[test]
fn cost_then_gradient_at_one_point_evaluates_once() {
    let (x, y) = ridge_data();
    let calls = AtomicUsize::new(0);
    let problem = Problem::gradient(|beta: &SVector<f64, 3>| {
        calls.fetch_add(1, Ordering::Relaxed);
        ridge_grad(beta, &x, &y, 0.5)
    });
    let p = SVector::<f64, 3>::new(0.2, -0.4, 1.0);
    let q = SVector::<f64, 3>::new(0.3, -0.4, 1.0);

    let cost = problem.cost(&to_solver(&p)).unwrap();
    let grad = problem.gradient(&to_solver(&p)).unwrap();
    assert_eq!(calls.load(Ordering::Relaxed), 1);
    let (_, expected) = ridge_grad(&p, &x, &y, 0.5);
    assert_eq!(cost.to_bits(), ridge(&p, &x, &y, 0.5).to_bits());
    assert_eq!(from_solver(&grad), expected);

    // A new point evaluates again, and the gradient there comes from that evaluation.
    problem.gradient(&to_solver(&q)).unwrap();
    problem.cost(&to_solver(&q)).unwrap();
    assert_eq!(calls.load(Ordering::Relaxed), 2);
    // Only the last point is kept.
    problem.cost(&to_solver(&p)).unwrap();
    assert_eq!(calls.load(Ordering::Relaxed), 3);
    assert_eq!(problem.evaluations(), 3);
}

#[test]
fn a_problem_is_send_and_sync_as_parallel_bulk_evaluation_needs() {
    fn send_and_sync<P: Send + Sync>(_: &P) {}
    let (x, y) = ridge_data();
    send_and_sync(&Problem::gradient(move |beta: &SVector<f64, 3>| {
        ridge_grad(beta, &x, &y, 0.5)
    }));
    send_and_sync(&Problem::hessian(curved));
    send_and_sync(&Problem::jacobian(decay));
}

#[test]
fn lbfgs_on_a_generated_gradient_reaches_the_closed_form_minimum() {
    let (x, y) = ridge_data();
    let lambda = 0.5;
    let problem = Problem::gradient(|beta: &SVector<f64, 3>| ridge_grad(beta, &x, &y, lambda));
    let solver = LBFGS::new(MoreThuenteLineSearch::new(), 5)
        .with_tolerance_grad(1e-12)
        .unwrap();
    let result = Executor::new(problem, solver)
        .configure(|state| state.param(to_solver(&SVector::zeros())).max_iters(100))
        .run()
        .unwrap();

    let best = from_solver(result.state().get_best_param().unwrap());
    let normal = x.transpose() * x + lambda * SMatrix::<f64, 3, 3>::identity();
    let exact = normal.try_inverse().unwrap() * x.transpose() * y;
    assert!((best - exact).norm() < 1e-8, "{best} vs {exact}");

    // argmin asked for a cost and a gradient at most points it visited: the cache answered
    // the second of each pair.
    let counts = &result.problem.counts;
    let asked = counts["cost_count"] + counts["gradient_count"];
    let evaluations = result.problem.problem.as_ref().unwrap().evaluations() as u64;
    assert!(
        evaluations < asked,
        "{evaluations} evaluations for {asked} requests"
    );
}

/// f(p) = exp(p₀) + p₀p₁² + p₁⁴, with its gradient and Hessian written out.
fn curved(p: &Vector2<f64>) -> (f64, Vector2<f64>, Matrix2<f64>) {
    let (a, b) = (p[0], p[1]);
    let value = a.exp() + a * b * b + b.powi(4);
    let gradient = Vector2::new(a.exp() + b * b, 2.0 * a * b + 4.0 * b.powi(3));
    let hessian = Matrix2::new(a.exp(), 2.0 * b, 2.0 * b, 2.0 * a + 12.0 * b * b);
    (value, gradient, hessian)
}

#[test]
fn hessian_problem_answers_cost_gradient_and_hessian_from_one_evaluation() {
    let calls = AtomicUsize::new(0);
    let problem = Problem::hessian(|p: &Vector2<f64>| {
        calls.fetch_add(1, Ordering::Relaxed);
        curved(p)
    });
    let p = Vector2::new(0.3, -1.2);
    let at = to_solver(&p);
    let hessian = problem.hessian(&at).unwrap();
    let gradient = problem.gradient(&at).unwrap();
    let cost = problem.cost(&at).unwrap();
    assert_eq!(calls.load(Ordering::Relaxed), 1);
    let (value, g, h) = curved(&p);
    assert_eq!(cost.to_bits(), value.to_bits());
    assert_eq!(from_solver(&gradient), g);
    assert_eq!(from_solver(&hessian), h);
}

#[test]
fn newton_on_a_hessian_problem_solves_a_quadratic() {
    // ½pᵀAp − bᵀp with A symmetric positive definite: one Newton step lands on A⁻¹b.
    let a = Matrix2::new(3.0, 1.0, 1.0, 2.0);
    let b = Vector2::new(1.0, -1.0);
    let problem =
        Problem::hessian(|p: &Vector2<f64>| (0.5 * p.dot(&(a * p)) - b.dot(p), a * p - b, a));
    let result = Executor::new(problem, Newton::<f64>::new())
        .configure(|state| state.param(to_solver(&Vector2::new(5.0, 5.0))).max_iters(3))
        .run()
        .unwrap();
    let best = from_solver(result.state().get_best_param().unwrap());
    let exact = a.try_inverse().unwrap() * b;
    assert!((best - exact).norm() < 1e-12, "{best} vs {exact}");
}

/// Logistic regression with a ridge term, written with a map: its Hessian is generated.
#[hessian(wrt(w))]
fn logistic(w: &SVector<f64, 3>, x: &SMatrix<f64, 8, 3>, y: &SVector<f64, 8>) -> f64 {
    let z = x * w;
    z.map(softplus).sum() - y.dot(&z) + 0.05 * w.norm_squared()
}

#[test]
fn newton_on_a_generated_hessian_converges_quadratically() {
    let x = SMatrix::<f64, 8, 3>::from_fn(|i, j| ((i * 5 + j * 3) % 7) as f64 * 0.3 - 0.9);
    let y = SVector::<f64, 8>::from_fn(|i, _| f64::from(u8::from(i % 3 != 0)));
    let problem = Problem::hessian(|w: &SVector<f64, 3>| logistic_hessian(w, &x, &y));
    let result = Executor::new(problem, Newton::<f64>::new())
        .configure(|state| {
            state
                .param(to_solver(&SVector::<f64, 3>::zeros()))
                .max_iters(8)
        })
        .run()
        .unwrap();
    let best = from_solver(result.state().get_best_param().unwrap());
    // At the minimiser the generated gradient vanishes (to rounding: Newton converged).
    let (value, gradient) = logistic_grad(&best, &x, &y);
    assert_eq!(value.to_bits(), logistic(&best, &x, &y).to_bits());
    assert!(
        gradient.norm() < 1e-12,
        "‖∇f‖ = {:e} at {best}",
        gradient.norm()
    );
}

/// Residuals of the curve y = a·e^(−b·t) + c at eight times, differentiated by `#[jacobian]`.
#[jacobian(wrt(p))]
fn curve(p: &SVector<f64, 3>, t: &SVector<f64, 8>, y: &SVector<f64, 8>) -> SVector<f64, 8> {
    let (a, b, c) = (p[0], p[1], p[2]);
    t.map(|ti| a * (-b * ti).exp() + c) - y
}

#[test]
fn gauss_newton_on_a_generated_jacobian_recovers_the_curve() {
    // Data from a = 2, b = 0.7, c = 0.3 without noise: Gauss–Newton (which needs the Jacobian
    // as a dynamic matrix) lands on them.
    let t = SVector::<f64, 8>::from_fn(|i, _| 0.4 * i as f64);
    let y = t.map(|ti| 2.0 * (-0.7 * ti).exp() + 0.3);
    let problem = Problem::dynamic_jacobian(|p: &SVector<f64, 3>| curve_jacobian(p, &t, &y));
    let start = matgrad::argmin::nalgebra::DVector::from_column_slice(&[1.5, 0.5, 0.0]);
    let result = Executor::new(problem, GaussNewton::<f64>::new())
        .configure(|state| state.param(start).max_iters(30))
        .run()
        .unwrap();
    let best = result.state().get_best_param().unwrap();
    let fitted = SVector::<f64, 3>::from_column_slice(best.as_slice());
    assert!(
        (fitted - SVector::<f64, 3>::new(2.0, 0.7, 0.3)).norm() < 1e-10,
        "{fitted}"
    );
    let (residuals, _) = curve_jacobian(&fitted, &t, &y);
    assert_eq!(residuals, curve(&fitted, &t, &y));
}

/// Residuals of y = a·e^(−b·t) at three times, and their Jacobian written out.
fn decay(p: &Vector2<f64>) -> (SVector<f64, 3>, SMatrix<f64, 3, 2>) {
    let t = SVector::<f64, 3>::new(0.0, 1.0, 2.5);
    let y = SVector::<f64, 3>::new(2.0, 1.1, 0.4);
    let e = t.map(|ti| (-p[1] * ti).exp());
    let residuals = p[0] * e - y;
    let jacobian =
        SMatrix::<f64, 3, 2>::from_fn(|k, l| if l == 0 { e[k] } else { -p[0] * t[k] * e[k] });
    (residuals, jacobian)
}

#[test]
fn jacobian_problem_answers_operator_and_jacobian_from_one_evaluation() {
    let calls = AtomicUsize::new(0);
    let problem = Problem::jacobian(|p: &Vector2<f64>| {
        calls.fetch_add(1, Ordering::Relaxed);
        decay(p)
    });
    let p = Vector2::new(2.0, 0.6);
    let at = to_solver(&p);
    let residuals = problem.apply(&at).unwrap();
    let jacobian = problem.jacobian(&at).unwrap();
    assert_eq!(calls.load(Ordering::Relaxed), 1);
    let (r, j) = decay(&p);
    assert_eq!(from_solver(&residuals), r);
    assert_eq!(from_solver(&jacobian), j);
}

#[test]
fn conversions_keep_every_entry_in_place() {
    let m = SMatrix::<f64, 2, 3>::new(1.0, 2.0, 3.0, 4.0, 5.0, 6.0);
    let there = to_solver(&m);
    for i in 0..2 {
        for j in 0..3 {
            assert_eq!(there[(i, j)].to_bits(), m[(i, j)].to_bits());
        }
    }
    assert_eq!(from_solver(&there), m);
}
