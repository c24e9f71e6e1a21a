use matgrad::gradient;
use matgrad::nalgebra::Vector3;

// `max` compares two scalars; a matrix's entries are taken one by one with `.map`.
#[gradient]
fn relu_sum(v: &Vector3<f64>) -> f64 {
    v.max(0.0).sum()
}

fn main() {}
