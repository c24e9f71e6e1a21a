use matgrad::gradient;
use matgrad::nalgebra::SVector;

#[gradient]
fn loss(x: &mut SVector<f64, 3>) -> f64 {
    x.norm_squared()
}

fn main() {}
