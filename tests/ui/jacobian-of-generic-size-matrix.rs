use matgrad::jacobian;
use matgrad::nalgebra::SMatrix;

// The Jacobian of an N×M parameter has N·M columns, which stable Rust cannot name.
#[jacobian]
fn total<const N: usize, const M: usize>(x: &SMatrix<f64, N, M>) -> f64 {
    x.sum()
}

fn main() {}
