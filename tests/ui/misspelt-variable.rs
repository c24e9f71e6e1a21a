use matgrad::gradient;
use matgrad::nalgebra::SVector;

#[gradient]
fn loss(x: &SVector<f64, 3>, y: &SVector<f64, 3>) -> f64 {
    let residual = x - y;
    residal.norm_squared()
}

fn main() {}
