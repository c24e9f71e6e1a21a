use matgrad::gradient;
use matgrad::nalgebra::{Matrix2, Vector3};

// The entry written must exist.
#[gradient]
fn out_of_range(x: &Vector3<f64>) -> f64 {
    let mut v = Vector3::zeros();
    v[3] = x[0];
    v.sum()
}

// An entry holds a scalar.
#[gradient]
fn vector_into_entry(x: &Vector3<f64>) -> f64 {
    let mut m = Matrix2::zeros();
    m[(0, 1)] = x;
    m.sum()
}

// An entry at a run-time index can be read, not assigned.
#[gradient]
fn assigned_at_run_time(x: &Vector3<f64>, k: usize) -> f64 {
    let mut v = *x;
    v[k] = 0.0;
    v.sum() + x[k]
}

fn main() {}
