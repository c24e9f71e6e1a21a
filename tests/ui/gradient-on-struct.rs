use matgrad::gradient;
use matgrad::nalgebra::SVector;

#[gradient]
struct Loss {
    x: SVector<f64, 3>,
}

fn main() {}
