use matgrad::gradient;
use matgrad::nalgebra::DMatrix;

#[gradient]
fn loss(a: &DMatrix<f64>) -> f64 {
    a.sum()
}

fn main() {}
