use matgrad::hessian;
use matgrad::nalgebra::Matrix3;

// A matrix power is not yet differentiated twice: the error says what is.
#[hessian]
fn power_trace(x: &Matrix3<f64>) -> f64 {
    x.pow(3).trace()
}

fn main() {}
