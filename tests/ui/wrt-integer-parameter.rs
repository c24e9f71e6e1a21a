use matgrad::gradient;
use matgrad::nalgebra::SVector;

#[gradient(wrt(n))]
fn loss(x: &SVector<f64, 3>, n: i32) -> f64 {
    x.norm_squared().powi(n)
}

fn main() {}
