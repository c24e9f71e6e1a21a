use matgrad::gradient;
use matgrad::nalgebra::SVector;

#[gradient]
fn loss(x: &SVector<f64, 3>, y: &SVector<f64, 5>) -> f64 {
    x.dot(y)
}

fn main() {}
