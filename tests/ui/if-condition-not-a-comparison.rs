use matgrad::gradient;
use matgrad::nalgebra::SVector;

#[gradient]
fn loss(x: &SVector<f64, 3>) -> f64 {
    if x.sum() { x.norm() } else { 0.0 }
}

fn main() {}
