use matgrad::gradient;
use matgrad::nalgebra::{SMatrix, SVector};

// Two independent mistakes: both are reported in one compile.
#[gradient]
fn loss(w: &SMatrix<f64, 3, 4>, x: &SVector<f64, 4>, y: &SVector<f64, 2>) -> f64 {
    let a = w.transpose() * x;
    let b = y.dot(&y) + x.trace();
    a.sum() + b
}

fn main() {}
