use matgrad::gradient;
use matgrad::nalgebra::SVector;

#[gradient(wrt(x))]
fn loss(x: &SVector<f64, 3>, norm: u8) -> f64 {
    match norm {
        1 => x.abs().sum(),
        _ => x.norm_squared(),
    }
}

fn main() {}
