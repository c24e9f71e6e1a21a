//! A function annotated with `twice` has a `_vjp_jvp`, whatever it calls: `outer` reaches `inner`
//! through `middle`; a function with no second derivative that nothing differentiates twice
//! (`hand`, through `via_hand`, differentiated once) is no error.
use matgrad::nalgebra::{Matrix3, Vector3};
use matgrad::{gradient, hessian};

#[gradient(twice)]
fn inner(x: &Vector3<f64>) -> f64 {
    x.norm_squared()
}

#[gradient(twice)]
fn middle(x: &Vector3<f64>) -> f64 {
    inner(x) * 2.0
}

#[hessian]
fn outer(x: &Vector3<f64>) -> f64 {
    middle(x).sin()
}

#[gradient(pullback = hand_pullback)]
fn hand(x: &Vector3<f64>) -> f64 {
    x.sum()
}

fn hand_pullback(x: &Vector3<f64>, seed: f64) -> (f64, (Vector3<f64>,)) {
    (x.sum(), (Vector3::repeat(seed),))
}

#[gradient]
fn via_hand(x: &Vector3<f64>) -> f64 {
    hand(x) * 3.0
}

fn main() {
    let x = Vector3::new(0.3, -0.2, 0.5);
    let (value, grad, h) = outer_hessian(&x);
    // f = sin u with u = 2‖x‖²: ∇f = 4·cos(u)·x, H = 4·cos(u)·I − 16·sin(u)·x·xᵀ.
    let u = 2.0 * x.norm_squared();
    let expected = Matrix3::identity() * (4.0 * u.cos()) - x * x.transpose() * (16.0 * u.sin());
    assert_eq!(value, u.sin());
    assert!((grad - x * (4.0 * u.cos())).amax() < 1e-14);
    assert!((h - expected).amax() < 1e-14, "{h} against {expected}");
    assert_eq!(via_hand_grad(&x).1, Vector3::repeat(3.0));
}
