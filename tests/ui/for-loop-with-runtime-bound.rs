use matgrad::gradient;
use matgrad::nalgebra::SVector;

#[gradient]
fn loss(x: &SVector<f64, 3>, n: usize) -> f64 {
    let mut s = 0.0;
    for _ in 0..n {
        s += x.sum();
    }
    s
}

fn main() {}
