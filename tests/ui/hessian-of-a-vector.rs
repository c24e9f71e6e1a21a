use matgrad::hessian;
use matgrad::nalgebra::Vector3;

// A Hessian is of a scalar: a vector-valued function has a Jacobian instead.
#[hessian]
fn bearing(x: &Vector3<f64>) -> Vector3<f64> {
    x.normalize()
}

fn main() {}
