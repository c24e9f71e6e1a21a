use matgrad::gradient;
use matgrad::nalgebra::SVector;

#[gradient(respect(x))]
fn loss(x: &SVector<f64, 3>) -> f64 {
    x.norm_squared()
}

fn main() {}
