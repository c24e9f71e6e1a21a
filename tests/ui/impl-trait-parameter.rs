use matgrad::gradient;
use matgrad::nalgebra::SVector;

#[gradient]
fn loss(x: impl Into<SVector<f64, 3>>) -> f64 {
    x.into().norm_squared()
}

fn main() {}
