use matgrad::gradient;
use matgrad::nalgebra::{SMatrix, SVector};

#[gradient]
fn loss(a: &SMatrix<f64, 3, 3>, b: &SVector<f64, 3>) -> f64 {
    a.component_div(b).sum()
}

fn main() {}
