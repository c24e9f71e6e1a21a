use matgrad::hessian;
use matgrad::nalgebra::Vector3;

// A branch on a differentiated value is not yet differentiated twice: the error says what is.
#[hessian]
fn piecewise(x: &Vector3<f64>) -> f64 {
    if x[0] > 0.0 {
        x.norm_squared()
    } else {
        x.sum() * x[1]
    }
}

fn main() {}
