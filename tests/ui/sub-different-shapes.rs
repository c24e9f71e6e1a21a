use matgrad::gradient;
use matgrad::nalgebra::SVector;

#[gradient]
fn loss(x: &SVector<f64, 4>, y: &SVector<f64, 3>) -> f64 {
    let r = x - y;
    r.norm_squared()
}

fn main() {}
