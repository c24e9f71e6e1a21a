use matgrad::gradient;
use matgrad::nalgebra::SVector;

#[gradient]
fn loss<const N: usize>(x: &SVector<f64, 3>) -> f64 {
    x.norm_squared()
}

fn main() {}
