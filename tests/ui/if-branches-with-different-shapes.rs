use matgrad::gradient;
use matgrad::nalgebra::{SMatrix, SVector};

#[gradient]
fn loss(a: &SMatrix<f64, 3, 2>, x: &SVector<f64, 2>) -> f64 {
    let y = if x.sum() > 0.0 { a * x } else { a.transpose() * a * x };
    y.sum()
}

fn main() {}
