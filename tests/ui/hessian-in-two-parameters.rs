use matgrad::hessian;
use matgrad::nalgebra::Vector3;

// `#[hessian]` differentiates one parameter; without `wrt` this function has two.
#[hessian]
fn scaled_norm(x: &Vector3<f64>, s: f64) -> f64 {
    x.norm_squared() * s
}

fn main() {}
