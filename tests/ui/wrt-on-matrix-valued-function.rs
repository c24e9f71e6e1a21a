use matgrad::gradient;
use matgrad::nalgebra::{Matrix3, Vector3};

#[gradient(wrt(x))]
fn layer(w: &Matrix3<f64>, x: &Vector3<f64>) -> Vector3<f64> {
    w * x
}

fn main() {}
