use matgrad::jacobian;
use matgrad::nalgebra::Vector3;

#[jacobian(wrt(z))]
fn scaled(x: &Vector3<f64>, s: f64) -> Vector3<f64> {
    x * s
}

fn main() {
    let _ = scaled_jacobian(&Vector3::zeros(), 1.0);
}
