use matgrad::gradient;
use matgrad::nalgebra::SMatrix;

#[gradient]
fn loss(a: &SMatrix<f64, 12, 12>, b: &SMatrix<f64, 11, 11>) -> f64 {
    a.kronecker(&b).trace()
}

fn main() {}
