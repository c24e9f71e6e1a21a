use matgrad::gradient;
use matgrad::nalgebra::SVector;

#[gradient]
fn loss(x: &SVector<f64, 3>) {
    let _ = x.norm_squared();
}

fn main() {}
