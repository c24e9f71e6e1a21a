use matgrad::gradient;
use matgrad::nalgebra::SVector;

fn relu(v: f64) -> f64 {
    v.max(0.0)
}

#[gradient]
fn loss(x: &SVector<f64, 3>) -> f64 {
    relu(x.sum())
}

fn main() {}
