use matgrad::gradient;
use matgrad::nalgebra::{Matrix2, Matrix2x3, Vector2, Vector3};

// `new` lists every entry: a 3-vector takes three.
#[gradient]
fn too_few(x: &Vector2<f64>) -> f64 {
    Vector3::new(x[0], x[1]).norm()
}

// The entries are scalars.
#[gradient]
fn vector_entry(x: &Vector2<f64>) -> f64 {
    Vector2::new(x, 1.0).norm()
}

// Only the constructors the macro reads.
#[gradient]
fn from_fn(x: &Vector2<f64>) -> f64 {
    Matrix2::from_fn(|i, j| x[i] * x[j]).sum()
}

// An identity is square.
#[gradient]
fn wide_identity(s: f64) -> f64 {
    (Matrix2x3::identity() * s).sum()
}

fn main() {}
