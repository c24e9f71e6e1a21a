use matgrad::gradient;
use matgrad::nalgebra::SVector;

#[gradient]
fn loss(x: &SVector<f64, 3>) -> f64 {
    let positive = x.sum() > 0.0;
    x.norm() * positive
}

fn main() {}
