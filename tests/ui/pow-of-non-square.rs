use matgrad::gradient;
use matgrad::nalgebra::SMatrix;

#[gradient]
fn loss(a: &SMatrix<f64, 4, 2>) -> f64 {
    a.pow(3).trace()
}

fn main() {}
