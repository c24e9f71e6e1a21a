use matgrad::gradient;
use matgrad::nalgebra::SVector;

#[gradient]
fn roughness(v: &SVector<f64, 5>) -> f64 {
    let mut total = 0.0;
    for i in 0..5 {
        let d = v[i + 1] - v[i];
        total += d * d;
    }
    total
}

fn main() {}
