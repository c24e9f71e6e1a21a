use matgrad::gradient;
use matgrad::nalgebra::SVector;

#[gradient(wrt(beta))]
fn loss(x: &SVector<f64, 3>, y: &SVector<f64, 3>) -> f64 {
    (x - y).norm_squared()
}

fn main() {}
