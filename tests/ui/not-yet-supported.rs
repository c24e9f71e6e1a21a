use matgrad::gradient;
use matgrad::nalgebra::{Matrix2, Vector3};

#[gradient]
fn views_and_cholesky(m: &Matrix2<f64>) -> f64 {
    m.rows(0, 1).sum() + m.symmetric_eigen().eigenvalues.sum()
}

#[gradient]
fn vector_methods(v: &Vector3<f64>, w: &Vector3<f64>) -> f64 {
    v.dot(w) + v.scale(2.0).sum()
}

fn main() {}
