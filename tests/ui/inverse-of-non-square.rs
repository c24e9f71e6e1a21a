use matgrad::gradient;
use matgrad::nalgebra::SMatrix;

#[gradient]
fn loss(a: &SMatrix<f64, 2, 3>) -> f64 {
    a.try_inverse().unwrap().sum()
}

fn main() {}
