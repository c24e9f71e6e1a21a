use matgrad::{gradient, hessian};
use matgrad::nalgebra::Vector3;

#[gradient]
fn inner(x: &Vector3<f64>) -> f64 {
    x.norm_squared()
}

// `middle` calls a function itself, so it has no `_vjp_jvp`: a `#[hessian]` function cannot call
// it yet, and the error names what is missing.
#[gradient]
fn middle(x: &Vector3<f64>) -> f64 {
    inner(x) * 2.0
}

#[hessian]
fn outer(x: &Vector3<f64>) -> f64 {
    middle(x).sin()
}

fn main() {}
