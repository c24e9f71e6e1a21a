use matgrad::gradient;
use matgrad::nalgebra::{SMatrix, SVector};

#[gradient]
fn loss(w: &SMatrix<f64, 3, 4>, x: &SVector<f64, 4>) -> f64 {
    let z: SVector<f64, 4> = w * x;
    z.sum()
}

fn main() {}
