use matgrad::gradient;
use matgrad::nalgebra::SVector;

#[gradient]
fn loss(x: &SVector<f64, 3>) -> f64 {
    let first = unsafe { *x.get_unchecked(0) };
    first * x.norm_squared()
}

fn main() {}
