use matgrad::gradient;
use matgrad::nalgebra::SVector;

#[gradient]
fn loss(x: &SVector<f64, 3>) -> f64 {
    let mut s = x.sum();
    loop {
        s = s / 2.0;
        break;
    }
    s
}

fn main() {}
