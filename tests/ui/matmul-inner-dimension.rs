use matgrad::gradient;
use matgrad::nalgebra::{SMatrix, SVector};

#[gradient]
fn loss(w: &SMatrix<f64, 3, 4>, y: &SVector<f64, 3>) -> f64 {
    let z = w * y;
    z.sum()
}

fn main() {}
