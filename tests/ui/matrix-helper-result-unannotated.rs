use matgrad::gradient;
use matgrad::nalgebra::{SMatrix, SVector};

#[gradient]
fn layer(w: &SMatrix<f64, 2, 2>, x: &SVector<f64, 2>) -> SVector<f64, 2> {
    w * x
}

#[gradient]
fn loss(w: &SMatrix<f64, 2, 2>, x: &SVector<f64, 2>) -> f64 {
    let h = layer(w, x);
    h.sum()
}

fn main() {}
