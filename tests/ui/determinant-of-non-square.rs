use matgrad::gradient;
use matgrad::nalgebra::SMatrix;

#[gradient]
fn loss(a: &SMatrix<f64, 3, 2>) -> f64 {
    a.determinant().ln()
}

fn main() {}
