use matgrad::gradient;
use matgrad::nalgebra::SVector;

#[gradient]
fn loss(x: &SVector<f64, 3>) -> f64 {
    x.camax()
}

fn main() {}
