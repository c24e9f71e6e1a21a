use matgrad::gradient;
use matgrad::nalgebra::SMatrix;

#[gradient]
fn loss<const N: usize>(a: &SMatrix<f64, N, N>, b: &SMatrix<f64, 2, 2>) -> f64 {
    a.kronecker(b).sum()
}

fn main() {}
