use matgrad::nalgebra::Vector3;
use matgrad::{gradient, hessian};

// `inner` has no `twice`, so it is differentiated once; `middle` has it, and passes the call on.
#[gradient]
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

fn main() {
    let _ = outer_hvp(&Vector3::new(0.3, -0.2, 0.5), &Vector3::new(1.0, 0.0, 0.0));
}
