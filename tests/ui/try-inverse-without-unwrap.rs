use matgrad::gradient;
use matgrad::nalgebra::{Matrix3, Vector3};

#[gradient]
fn loss(a: &Matrix3<f64>, b: &Vector3<f64>) -> f64 {
    let inverse = a.try_inverse();
    (inverse * b).norm_squared()
}

fn main() {}
