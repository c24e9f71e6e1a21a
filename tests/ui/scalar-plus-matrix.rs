use matgrad::gradient;
use matgrad::nalgebra::SMatrix;

#[gradient]
fn loss(a: &SMatrix<f64, 2, 2>, s: f64) -> f64 {
    let b = s + a;
    b.sum()
}

fn main() {}
