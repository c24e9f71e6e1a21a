use matgrad::gradient;
use matgrad::nalgebra::{SMatrix, SVector};

#[gradient]
fn loss<const N: usize, const M: usize>(a: &SMatrix<f64, N, M>, x: &SVector<f64, N>) -> f64 {
    (a * x).sum()
}

fn main() {}
