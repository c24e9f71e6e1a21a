use matgrad::hessian;
use matgrad::nalgebra::Vector3;

// Closures are not yet differentiated twice: the error says what is.
#[hessian]
fn log_sum_exp(x: &Vector3<f64>) -> f64 {
    x.map(|v| v.exp()).sum().ln()
}

fn main() {}
