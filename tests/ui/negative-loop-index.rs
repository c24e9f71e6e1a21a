use matgrad::gradient;
use matgrad::nalgebra::Matrix4;

#[gradient]
fn subdiagonal(m: &Matrix4<f64>) -> f64 {
    let mut total = 0.0;
    for k in 0..4 {
        total += m[(k, k - 1)];
    }
    total
}

fn main() {}
