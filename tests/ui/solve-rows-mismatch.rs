use matgrad::gradient;
use matgrad::nalgebra::{Matrix3, SMatrix};

#[gradient]
fn loss(a: &Matrix3<f64>, b: &SMatrix<f64, 4, 2>) -> f64 {
    a.lu().solve(&b).unwrap().norm_squared()
}

fn main() {}
