use matgrad::gradient;
use matgrad::nalgebra::{Matrix2, Vector2, Vector3};

#[gradient]
fn constructor(m: &Matrix2<f64>) -> f64 {
    let v = Vector2::new(m[(0, 0)], m[(1, 1)]);
    v.norm()
}

#[gradient]
fn constant_matrix(m: &Matrix2<f64>) -> f64 {
    let z = Matrix2::zeros();
    (m + z).sum()
}

#[gradient]
fn views_and_cholesky(m: &Matrix2<f64>) -> f64 {
    m.row(0).sum() + m.cholesky().unwrap().l().sum() + m.lp_norm(1)
}

#[gradient]
fn vector_methods(v: &Vector3<f64>, w: &Vector3<f64>) -> f64 {
    v.cross(w).sum() + v.amax()
}

fn main() {}
