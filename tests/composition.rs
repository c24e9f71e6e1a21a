//! Composition: `#[gradient]` functions calling each other (the chain rule crosses each call
//! through the callee's generated `_vjp`), matrix-valued helpers, and hand-written derivatives
//! given with `pullback = …`.

#[macro_use]
mod common;

use common::{Rng, SEEDS, TOL, assert_close};
use matgrad::gradient;
use matgrad::nalgebra::{SMatrix, SVector};

/// A layer: a matrix-valued helper, which gets only `layer_vjp`.
#[gradient]
fn layer(w: &SMatrix<f64, 4, 3>, b: &SVector<f64, 4>, x: &SVector<f64, 3>) -> SVector<f64, 4> {
    (w * x + b).map(f64::tanh)
}

/// A scalar helper with an integer parameter.
#[gradient]
fn penalty(w: &SMatrix<f64, 4, 3>, power: i32) -> f64 {
    w.map(|v| v.powi(power)).sum()
}

/// A loss built from both helpers; the helpers' result shapes come from annotations.
#[gradient(wrt(w, b))]
fn loss(
    w: &SMatrix<f64, 4, 3>,
    b: &SVector<f64, 4>,
    x: &SVector<f64, 3>,
    y: &SVector<f64, 4>,
) -> f64 {
    let h: SVector<f64, 4> = layer(w, b, x);
    let reg = penalty(w, 2);
    0.5 * (h - y).norm_squared() + 0.01 * reg
}

/// The same helper twice, on different inputs, one of them computed.
#[gradient]
fn two_layers(w: &SMatrix<f64, 4, 3>, b: &SVector<f64, 4>, x: &SVector<f64, 3>) -> f64 {
    let h: SVector<f64, 4> = layer(w, b, x);
    let x2 = x * 2.0;
    let h2: SVector<f64, 4> = layer(w, &h, &x2);
    h2.sum()
}

/// A function the macro cannot see into: its derivative is written by hand.
#[gradient(pullback = log_cosh_pullback)]
fn log_cosh(x: f64) -> f64 {
    x.cosh().ln()
}

/// `(value, (∂/∂x,))`, scaled by the seed: d/dx ln cosh x = tanh x.
fn log_cosh_pullback(x: f64, seed: f64) -> (f64, (f64,)) {
    (x.cosh().ln(), (seed * x.tanh(),))
}

#[gradient]
fn smooth_l1(v: &SVector<f64, 3>) -> f64 {
    log_cosh(v[0]) + log_cosh(v[1]) + log_cosh(v[2])
}

#[test]
fn matrix_helpers_and_scalar_helpers_compose() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (w, b, x, y): (
            SMatrix<f64, 4, 3>,
            SVector<f64, 4>,
            SVector<f64, 3>,
            SVector<f64, 4>,
        ) = (rng.matrix(), rng.vector(), rng.vector(), rng.vector());
        assert_gradient!(TOL, loss, loss_grad, (w, b) => (&w, &b, &x, &y));
        // Closed form: with h = tanh(Wx + b), ∇b = (h − y)∘(1 − h²), ∇W = ∇b·xᵀ + 0.02·W.
        let h = (w * x + b).map(f64::tanh);
        let gb = (h - y).component_mul(&h.map(|v| 1.0 - v * v));
        let (_, (gw, gb_generated)) = loss_grad(&w, &b, &x, &y);
        assert_close(&gb_generated, &gb, 1e-12);
        assert_close(&gw, &(gb * x.transpose() + 0.02 * w), 1e-12);
    }
}

#[test]
fn a_helper_called_twice() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (w, b, x): (SMatrix<f64, 4, 3>, SVector<f64, 4>, SVector<f64, 3>) =
            (rng.matrix() * 0.5, rng.vector(), rng.vector());
        assert_gradient!(TOL, two_layers, two_layers_grad, (w, b, x) => (&w, &b, &x));
    }
}

#[test]
fn a_hand_written_pullback_is_used() {
    let (value, grad) = log_cosh_grad(0.7);
    assert!((value - 0.7_f64.cosh().ln()).abs() < 1e-15);
    assert!((grad - 0.7_f64.tanh()).abs() < 1e-15);
    let v = SVector::<f64, 3>::new(0.3, -1.2, 2.0);
    let (value, g) = smooth_l1_grad(&v);
    common::assert_same_value(value, smooth_l1(&v), "smooth_l1_grad");
    assert_close(&g, &v.map(f64::tanh), 1e-15);
}

#[test]
fn the_vjp_of_a_matrix_valued_function_is_a_vector_jacobian_product() {
    let mut rng = Rng::new(5);
    let (w, b, x, seed): (
        SMatrix<f64, 4, 3>,
        SVector<f64, 4>,
        SVector<f64, 3>,
        SVector<f64, 4>,
    ) = (rng.matrix(), rng.vector(), rng.vector(), rng.vector());
    let (value, (gw, gb, gx)) = layer_vjp(&w, &b, &x, seed);
    assert_close(&value, &layer(&w, &b, &x), 1e-15);
    // ⟨seed, tanh(Wx + b)⟩ against central differences.
    let f = |p: &(SMatrix<f64, 4, 3>, SVector<f64, 4>, SVector<f64, 3>)| {
        seed.dot(&layer(&p.0, &p.1, &p.2))
    };
    matgrad::check_gradient(f, &(w, b, x), &(gw, gb, gx)).assert_within(TOL);
}
