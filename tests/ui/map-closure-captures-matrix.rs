use matgrad::gradient;
use matgrad::nalgebra::SVector;

#[gradient]
fn loss(x: &SVector<f64, 3>, y: &SVector<f64, 3>) -> f64 {
    x.map(|v| v * y).sum()
}

fn main() {}
