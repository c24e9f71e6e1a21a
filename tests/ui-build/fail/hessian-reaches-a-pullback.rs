use matgrad::nalgebra::Vector3;
use matgrad::{gradient, hessian};

#[gradient(pullback = hand_pullback)]
fn hand(x: &Vector3<f64>) -> f64 {
    x.sum()
}

fn hand_pullback(x: &Vector3<f64>, seed: f64) -> (f64, (Vector3<f64>,)) {
    (x.sum(), (Vector3::repeat(seed),))
}

#[gradient(twice)]
fn via_hand(x: &Vector3<f64>) -> f64 {
    hand(x) * 3.0
}

#[hessian]
fn outer(x: &Vector3<f64>) -> f64 {
    via_hand(x).sin()
}

fn main() {
    let _ = outer_hessian(&Vector3::new(0.3, -0.2, 0.5));
}
