use matgrad::gradient;
use matgrad::nalgebra::SMatrix;

#[gradient]
fn loss(a: &SMatrix<f64, 2, 3>, b: &SMatrix<f64, 2, 2>) -> f64 {
    a.component_mul(b).sum()
}

fn main() {}
